//! The streaming check: the same verdict as [`check`](super::check), with
//! memory bounded by the operations still in doubt instead of the whole
//! history.
//!
//! Operations arrive as the run produces them: [`StreamChecker::invoke`]
//! when a client sends one, [`StreamChecker::complete`] with the whole
//! [`Op`] once its outcome is known (ok, fail, or info when the client gave
//! up). Per key the checker keeps:
//! - a **window**: the operations completed since the last collapse;
//! - **configurations**: every state the collapsed prefix can have left the
//!   register in, as `(value, info ops already used up)`;
//! - the **carried info ops**: operations with unknown outcome from
//!   collapsed windows. Each may still take effect at any later time, or
//!   never, so they stay available to every later window.
//!
//! **Collapse.** When an operation is invoked on a key with nothing in
//! flight on it, and its stamp is later than everything in the window,
//! every completed operation of the window precedes it and everything
//! after it in real time. The window is then replaced by the set of states
//! it can end in: for each configuration, `search::explore` runs the
//! window (plus the carried info ops not yet used up in that configuration)
//! from the configuration's value and lists every end. The union of the
//! ends, minus dominated ones (same value, a superset of info ops used up),
//! becomes the new configurations; an info op used up in every end leaves
//! the carried list. No end at all is a violation. The history after the
//! collapse point is linearizable from some configuration iff the whole
//! history is (real time puts every window op before every later op, and
//! the register's state plus the still-available info ops is all the
//! future can depend on), so verdicts equal the batch check's.
//!
//! **At the end** ([`StreamChecker::finish`]) the last window of each key
//! is searched from each configuration for one linearization, as the batch
//! check does.
//!
//! **Bounds.** Memory per key is the current window, the configurations and
//! the carried info ops. A window grows only while the key always has an
//! operation in flight; a window whose exploration hits
//! [`CheckConfig::max_states`] gives the key up: its verdict is `Unknown`
//! (undecided, never linearizable) and it holds nothing more. Retrying at a
//! later quiescent point would search a larger window from the same
//! configurations, again up to the bound, which on a busy key made a run
//! hang on one bounded search after another; so each key costs at most one
//! bounded search.
//! Info ops accumulate for the run (they never complete), one small record
//! each.
//!
//! A violation is explained from the failed window (the configuration's
//! value stands in for the initial value); its operation indices are the
//! operations' completion ordinals in the stream (0 = first completed).

use std::collections::BTreeMap;

use super::search::{self, KeyOp};
use super::{explain, CheckConfig, LinResult, Op, Outcome, Verdict, Violation};
use crate::time::SimTime;

/// One possible state after a key's collapsed prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Config {
    value: Option<i64>,
    /// Bit `i`: carried info op `i` has already taken effect.
    used: Vec<u64>,
}

impl Config {
    fn used(&self, i: usize) -> bool {
        self.used
            .get(i / 64)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    /// `self` leaves at least the futures `other` leaves.
    fn dominates(&self, other: &Config) -> bool {
        self.value == other.value
            && (0..self.used.len().max(other.used.len())).all(|w| {
                let a = self.used.get(w).copied().unwrap_or(0);
                let b = other.used.get(w).copied().unwrap_or(0);
                a & !b == 0
            })
    }
}

/// What a search of one key's window from one configuration sees.
#[derive(Default)]
struct SearchInput {
    ops: Vec<Op>,
    key_ops: Vec<KeyOp>,
    ordinals: Vec<u64>,
    info_pos: Vec<Option<usize>>,
}

/// An operation the key keeps, with its completion ordinal.
#[derive(Clone, Debug)]
struct Held {
    ordinal: u64,
    op: Op,
}

#[derive(Clone, Debug)]
struct KeyStream {
    /// Operations invoked on the key and not yet completed.
    in_flight: u64,
    window: Vec<Held>,
    /// Largest stamp in the window (completions; invocations of info ops).
    window_last: u128,
    carried: Vec<Held>,
    configs: Vec<Config>,
    /// The key failed (or was given up on): later operations are ignored.
    done: bool,
    /// An op that can matter reached this key (the batch check counts
    /// only such keys).
    touched: bool,
    unknown: bool,
    violation: Option<(Violation, String)>,
}

impl KeyStream {
    fn new() -> KeyStream {
        KeyStream {
            in_flight: 0,
            window: Vec::new(),
            window_last: 0,
            carried: Vec::new(),
            configs: vec![Config {
                value: None,
                used: Vec::new(),
            }],
            done: false,
            touched: false,
            unknown: false,
            violation: None,
        }
    }

    /// The ops a search from `config` sees: carried info ops still
    /// available, then the window; completed ops first (in invocation
    /// order), then info ops (see `split_by_key`). `KeyOp::index` points
    /// into the returned `Op` list; `ordinals` and `info_pos` are indexed
    /// like it (`info_pos`: the op's place in the next carried list, for
    /// info ops).
    fn search_input(&self, config: &Config) -> SearchInput {
        let mut input = SearchInput::default();
        for (i, h) in self.carried.iter().enumerate() {
            if !config.used(i) {
                // Invoked before everything in the window.
                let mut op = h.op.clone();
                op.invoke = SimTime::ZERO;
                op.invoke_seq = 0;
                input.ops.push(op);
                input.ordinals.push(h.ordinal);
                input.info_pos.push(Some(i));
            }
        }
        let mut info_rank = self.carried.len();
        for h in &self.window {
            input.ops.push(h.op.clone());
            input.ordinals.push(h.ordinal);
            if h.op.outcome == Outcome::Info {
                input.info_pos.push(Some(info_rank));
                info_rank += 1;
            } else {
                input.info_pos.push(None);
            }
        }
        input.key_ops = input
            .ops
            .iter()
            .enumerate()
            .filter_map(|(i, op)| KeyOp::from_op(i, op))
            .collect();
        input
            .key_ops
            .sort_by_key(|k| (k.complete.is_none(), k.invoke, k.index));
        input
    }

    /// Replace the window by the states it can end in. Returns the states
    /// explored, or `None` (window kept) if a search hit the bound.
    fn collapse(&mut self, key: i64, max_states: u64) -> Option<u64> {
        let mut states = 0;
        // Info ops of the next carried list: old carried, then the window's.
        let mut info: Vec<Held> = self.carried.clone();
        info.extend(
            self.window
                .iter()
                .filter(|h| h.op.outcome == Outcome::Info)
                .cloned(),
        );
        let mut ends: Vec<Config> = Vec::new();
        for config in &self.configs {
            let input = self.search_input(config);
            let found = search::explore(&input.key_ops, config.value, max_states);
            states += found.states;
            if found.bounded {
                return None;
            }
            let info_ops: Vec<&KeyOp> = input
                .key_ops
                .iter()
                .filter(|k| k.complete.is_none())
                .collect();
            for (value, bits) in found.ends {
                let mut used = vec![0u64; info.len().div_ceil(64)];
                for i in (0..self.carried.len()).filter(|&i| config.used(i)) {
                    used[i / 64] |= 1 << (i % 64);
                }
                for (b, k) in info_ops.iter().enumerate() {
                    if bits[b / 64] & (1 << (b % 64)) != 0 {
                        let pos = input.info_pos[k.index].expect("an info op");
                        used[pos / 64] |= 1 << (pos % 64);
                    }
                }
                let end = Config { value, used };
                if !ends.iter().any(|e| e.dominates(&end)) {
                    ends.retain(|e| !end.dominates(e));
                    ends.push(end);
                }
            }
        }
        if ends.is_empty() {
            self.fail(key, max_states);
            return Some(states);
        }
        // Info ops used up in every end leave the carried list.
        let keep: Vec<usize> = (0..info.len())
            .filter(|&i| !ends.iter().all(|e| e.used(i)))
            .collect();
        self.carried = keep.iter().map(|&i| info[i].clone()).collect();
        self.configs = ends
            .into_iter()
            .map(|e| {
                let mut used = vec![0u64; keep.len().div_ceil(64)];
                for (j, &i) in keep.iter().enumerate() {
                    if e.used(i) {
                        used[j / 64] |= 1 << (j % 64);
                    }
                }
                Config {
                    value: e.value,
                    used,
                }
            })
            .collect();
        self.configs.dedup();
        self.window.clear();
        self.window_last = 0;
        Some(states)
    }

    /// Stop checking this key: its verdict is undecided. Later operations
    /// on it are ignored and nothing is held for it.
    fn give_up(&mut self) {
        self.unknown = true;
        self.done = true;
        self.window = Vec::new();
        self.carried = Vec::new();
        self.configs = Vec::new();
    }

    /// Check the last window: some configuration must admit a
    /// linearization.
    fn finish(&mut self, key: i64, max_states: u64) -> u64 {
        if self.done || self.window.is_empty() {
            return 0;
        }
        let mut states = 0;
        let mut unknown = false;
        for config in &self.configs {
            let input = self.search_input(config);
            let (outcome, n) = search::search(
                &input.key_ops,
                config.value,
                max_states,
                &mut search::NoObserver,
            );
            states += n;
            match outcome {
                search::Outcome::Linearizable => return states,
                search::Outcome::Unknown => unknown = true,
                search::Outcome::Violation { .. } => {}
            }
        }
        if unknown {
            self.unknown = true;
            self.done = true;
        } else {
            self.fail(key, max_states);
        }
        states
    }

    /// Record the violation of the current window, explained from the
    /// first configuration the search fails from.
    fn fail(&mut self, key: i64, max_states: u64) {
        self.done = true;
        for config in &self.configs {
            let SearchInput {
                ops,
                key_ops,
                ordinals,
                ..
            } = self.search_input(config);
            let (outcome, _) =
                search::search(&key_ops, config.value, max_states, &mut search::NoObserver);
            let search::Outcome::Violation { blamed } = outcome else {
                continue;
            };
            let local = explain::violation(key, &ops, &key_ops, config.value, blamed, max_states);
            let mut text = explain::describe(&ops, &key_ops, &local);
            if config.value.is_some() || !self.carried.is_empty() {
                // Only the window since the last collapse is at hand: say
                // so where the batch wording would claim the whole history.
                text = text
                    .replace(
                        "(initial value)",
                        "(left by the earlier, already checked operations)",
                    )
                    .replace(
                        &format!("no operation on key {key} ever wrote"),
                        "no operation since the last quiescent point wrote",
                    );
                text.push_str(
                    "\n  (streaming check: operations before the key's last quiescent point \
                     were checked and collapsed into the values they can leave)",
                );
            }
            let global = |i: usize| ordinals[i] as usize;
            let v = Violation {
                key,
                op: global(local.op),
                possible_values: local
                    .possible_values
                    .iter()
                    .map(|(v, w)| (*v, w.map(global)))
                    .collect(),
                longest_prefix: local.longest_prefix,
                prefix_tail: local.prefix_tail.iter().map(|&i| global(i)).collect(),
                blamed: local.blamed,
                window: local.window,
            };
            self.violation = Some((v, text));
            break;
        }
        if self.violation.is_none() {
            // The exhaustive and the first-solution search disagree, or
            // the replay hit the bound: still a violation (the exhaustive
            // search is exact), without the detail. The last completed op
            // of the window stands in for the blamed one.
            let last = self
                .window
                .iter()
                .rev()
                .find(|h| h.op.outcome != Outcome::Info);
            let (op, blamed) = match last.or(self.window.last()) {
                Some(h) => (h.ordinal as usize, h.op.clone()),
                None => (0, Op::read(0, key, None)),
            };
            let from = self
                .window
                .iter()
                .filter(|h| h.op.outcome != Outcome::Info)
                .map(|h| h.op.invoke)
                .fold(blamed.invoke, SimTime::min);
            let window = (from, blamed.complete.unwrap_or(blamed.invoke));
            self.violation = Some((
                Violation {
                    key,
                    op,
                    possible_values: Vec::new(),
                    longest_prefix: 0,
                    prefix_tail: Vec::new(),
                    blamed,
                    window,
                },
                format!("key {key} is not linearizable (no explanation available)"),
            ));
        }
        self.window = Vec::new();
        self.carried = Vec::new();
        self.configs = Vec::new();
    }
}

/// The streaming linearizability checker (see the module doc).
#[derive(Clone, Debug)]
pub struct StreamChecker {
    config: CheckConfig,
    keys: BTreeMap<i64, KeyStream>,
    ops: usize,
    ops_dropped: usize,
    states: u64,
    completed: u64,
    collapses: u64,
    peak_window: usize,
}

impl StreamChecker {
    /// A checker with these limits ([`CheckConfig::max_states`] bounds each
    /// window's search).
    pub fn new(config: CheckConfig) -> StreamChecker {
        StreamChecker {
            config,
            keys: BTreeMap::new(),
            ops: 0,
            ops_dropped: 0,
            states: 0,
            completed: 0,
            collapses: 0,
            peak_window: 0,
        }
    }

    /// An operation on `key` was invoked at stamp `(time, seq)`. Stamps
    /// must not decrease from one call to the next (invocations and
    /// completions together).
    pub fn invoke(&mut self, key: i64, time: SimTime, seq: u64) {
        let max_states = self.config.max_states;
        let k = self.keys.entry(key).or_insert_with(KeyStream::new);
        let stamp = (u128::from(time.as_micros()) << 64) | u128::from(seq);
        if !k.done && k.in_flight == 0 && !k.window.is_empty() && stamp > k.window_last {
            if let Some(n) = k.collapse(key, max_states) {
                self.states += n;
                self.collapses += 1;
            } else {
                // The window's search hit the bound. A later quiescent
                // point would search a larger window from the same
                // configurations, each attempt up to the bound again (a
                // busy key made runs hang retrying): give the key up now,
                // as undecided (never as linearizable), and drop what it
                // holds.
                self.states += max_states;
                k.give_up();
            }
        }
        k.in_flight += 1;
    }

    /// An operation's outcome is known: `op` is the whole operation (an
    /// info op for one that timed out or never completed). Each completion
    /// must follow its own [`StreamChecker::invoke`].
    pub fn complete(&mut self, op: Op) {
        let k = self.keys.entry(op.key).or_insert_with(KeyStream::new);
        assert!(
            k.in_flight > 0,
            "completion of an op never invoked on key {}",
            op.key
        );
        k.in_flight -= 1;
        let ordinal = self.completed;
        self.completed += 1;
        if KeyOp::from_op(0, &op).is_none() {
            self.ops_dropped += 1;
            return;
        }
        self.ops += 1;
        k.touched = true;
        if k.done {
            return;
        }
        let last = op.complete_stamp().unwrap_or_else(|| op.invoke_stamp());
        k.window_last = k.window_last.max(last);
        k.window.push(Held { ordinal, op });
        self.peak_window = self.peak_window.max(k.window.len());
    }

    /// Operations held right now (windows plus carried info ops), for
    /// memory accounting.
    pub fn held_ops(&self) -> usize {
        self.keys
            .values()
            .map(|k| k.window.len() + k.carried.len())
            .sum()
    }

    /// The largest window any key has held.
    pub fn peak_window(&self) -> usize {
        self.peak_window
    }

    /// Windows collapsed so far.
    pub fn collapses(&self) -> u64 {
        self.collapses
    }

    /// Check what is left and give the verdict. Operations still in flight
    /// must have been completed (as info) first.
    pub fn finish(mut self) -> LinResult {
        let max_states = self.config.max_states;
        let mut result = LinResult {
            verdict: Verdict::Linearizable,
            ops: self.ops,
            ops_dropped: self.ops_dropped,
            keys_checked: 0,
            states_explored: 0,
            violations: Vec::new(),
            unknown_keys: Vec::new(),
            explanation: None,
        };
        for (key, k) in &mut self.keys {
            self.states += k.finish(*key, max_states);
        }
        result.states_explored = self.states;
        // Keys with an op that can matter, as the batch check counts them.
        result.keys_checked = self.keys.values().filter(|k| k.touched).count();
        for (key, k) in &mut self.keys {
            if let Some((v, text)) = k.violation.take() {
                if result.violations.is_empty() {
                    result.explanation = Some(text);
                }
                result.violations.push(v);
            } else if k.unknown {
                result.unknown_keys.push(*key);
            }
        }
        if !result.violations.is_empty() {
            result.verdict = Verdict::NotLinearizable;
        } else if !result.unknown_keys.is_empty() {
            result.verdict = Verdict::Unknown;
            result.explanation = Some(format!(
                "no violation found, but the search gave up after {max_states} states on key(s) {:?}; \
                 raise CheckConfig::max_states or shorten the history",
                result.unknown_keys
            ));
        }
        result
    }
}

/// Run a finished history through the streaming checker: invocations and
/// completions in stamp order (an invocation before a completion at an
/// equal stamp; an info op completes right after its invocation). For tests and for comparing with [`check`](super::check).
pub fn check_streaming(ops: &[Op], config: &CheckConfig) -> Result<LinResult, super::HistoryError> {
    super::validate(ops)?;
    // (stamp, 0 = invoke / 1 = complete, op index)
    let mut events: Vec<(u128, u8, usize)> = Vec::with_capacity(2 * ops.len());
    for (i, op) in ops.iter().enumerate() {
        events.push((op.invoke_stamp(), 0, i));
        // An info op is known to be info right away (a run learns it at
        // the timeout; either way it stays pending for ever).
        let done = op.complete_stamp().unwrap_or(op.invoke_stamp());
        events.push((done, 1, i));
    }
    events.sort_unstable();
    let mut checker = StreamChecker::new(*config);
    for (_, what, i) in events {
        let op = &ops[i];
        if what == 0 {
            checker.invoke(op.key, op.invoke, op.invoke_seq);
        } else {
            checker.complete(op.clone());
        }
    }
    Ok(checker.finish())
}
