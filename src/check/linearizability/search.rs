//! The per-key search: Wing & Gong / Lowe just-in-time linearization with a
//! cache of visited states.

// A membership-only cache with a fixed hasher: never iterated, so its
// order cannot leak into results.
#[allow(clippy::disallowed_types)]
use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

use super::{Op, OpKind, Outcome as ClientOutcome};

/// What an operation does to the register, once chosen to take effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Effect {
    /// Observes exactly this value.
    Read(Option<i64>),
    /// Sets the value.
    Write(i64),
    /// Needs `Some(expected)`, then sets `new` (an ok cas, or an info cas:
    /// an info cas whose compare fails changes nothing, which is the same as
    /// never taking effect, so only the matching case is worth trying).
    Cas { expected: i64, new: i64 },
    /// A failed cas: needs anything but `Some(expected)`, changes nothing.
    CasFail { expected: i64 },
}

impl Effect {
    /// The register value after this effect, or `None` if it cannot apply.
    #[inline]
    pub(super) fn step(self, state: Option<i64>) -> Option<Option<i64>> {
        match self {
            Effect::Read(v) => (state == v).then_some(state),
            Effect::Write(v) => Some(Some(v)),
            Effect::Cas { expected, new } => (state == Some(expected)).then_some(Some(new)),
            Effect::CasFail { expected } => (state != Some(expected)).then_some(state),
        }
    }

    /// Whether the op only observes the value (a read, a failed cas).
    ///
    /// Such an op, once it fits the current value, is linearized *now*
    /// without trying alternatives: if any linearization exists from this
    /// node, so does one with it first. Moving it forward keeps the value
    /// every later op sees (it changes nothing), and it cannot have to
    /// follow an op not yet linearized (that op's return would precede its
    /// call in the event list and the search would be stuck there instead).
    /// This collapses the interleavings of concurrent reads, the main cost
    /// under high concurrency.
    #[inline]
    pub(super) fn observes_only(self) -> bool {
        matches!(self, Effect::Read(_) | Effect::CasFail { .. })
    }

    /// Whether taking effect replaces the value (so the op is its writer).
    pub(super) fn writes(self) -> bool {
        matches!(self, Effect::Write(_) | Effect::Cas { .. })
    }
}

/// One operation of one key, as the search sees it.
#[derive(Clone, Copy, Debug)]
pub(super) struct KeyOp {
    /// Index into the caller's history slice.
    pub index: usize,
    pub effect: Effect,
    /// Invocation stamp (see [`Op::invoke_stamp`]).
    pub invoke: u128,
    /// Completion stamp; `None`: unknown outcome, returns at +∞ and may
    /// never take effect.
    pub complete: Option<u128>,
}

impl KeyOp {
    /// The search's view of `op`, or `None` if it cannot have changed or
    /// observed anything (failed reads and writes, info reads).
    pub(super) fn from_op(index: usize, op: &Op) -> Option<KeyOp> {
        let effect = match (op.kind, op.outcome) {
            (OpKind::Read, ClientOutcome::Ok) => Effect::Read(op.read),
            (OpKind::Read, _) | (OpKind::Write(_), ClientOutcome::Fail) => return None,
            (OpKind::Write(v), _) => Effect::Write(v),
            (OpKind::Cas { expected, .. }, ClientOutcome::Fail) => Effect::CasFail { expected },
            (OpKind::Cas { expected, new }, _) => Effect::Cas { expected, new },
        };
        if op.outcome != ClientOutcome::Info {
            op.complete?;
        }
        Some(KeyOp {
            index,
            effect,
            invoke: op.invoke_stamp(),
            complete: op.complete_stamp(),
        })
    }
}

/// How a key's search ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Outcome {
    Linearizable,
    /// `blamed` (an index into the key's ops) is the operation whose return
    /// was the furthest the search ever got stuck at.
    Violation {
        blamed: usize,
    },
    Unknown,
}

/// One linearization step on the search stack.
#[derive(Clone, Copy, Debug)]
pub(super) struct Frame {
    /// The op linearized (index into the key's ops).
    pub op: u32,
    prev_state: Option<i64>,
    prev_writer: Option<u32>,
    /// The op only observed the value (see [`Effect::observes_only`]): its
    /// node has no other branch worth trying.
    forced: bool,
}

/// Hooks for the explanation pass; the checking pass uses [`NoObserver`]
/// and monomorphization removes the calls.
pub(super) trait Observer {
    /// `op` was tried at register value `state` (written by `writer`) and
    /// its effect could not apply.
    fn refused(&mut self, _op: u32, _state: Option<i64>, _writer: Option<u32>) {}
    /// The search reached the return of `op` without having linearized it,
    /// with `stack` linearized so far.
    fn stuck(&mut self, _op: u32, _state: Option<i64>, _writer: Option<u32>, _stack: &[Frame]) {}
}

/// Observes nothing.
pub(super) struct NoObserver;
impl Observer for NoObserver {}

const NIL: u32 = u32::MAX;
const HEAD: u32 = 0;

/// The call/return events of a key as a doubly linked list sorted by time,
/// with entry 0 a sentinel head. Entry ids (1..) are ranks in time order.
struct Events {
    next: Vec<u32>,
    prev: Vec<u32>,
    /// Per entry: the op, and whether this is its call.
    op: Vec<u32>,
    is_call: Vec<bool>,
    /// Per op: its call and return entries.
    call: Vec<u32>,
    ret: Vec<u32>,
}

impl Events {
    fn new(ops: &[KeyOp]) -> Events {
        // Calls sort before returns at the same stamp: equal stamps overlap.
        let mut ev: Vec<(u128, bool, u32)> = Vec::with_capacity(2 * ops.len());
        for (i, op) in ops.iter().enumerate() {
            ev.push((op.invoke, false, i as u32));
            ev.push((op.complete.unwrap_or(u128::MAX), true, i as u32));
        }
        ev.sort_unstable();
        let len = ev.len();
        let mut e = Events {
            next: (1..=len as u32 + 1).collect(),
            prev: (0..=len as u32).map(|i| i.wrapping_sub(1)).collect(),
            op: vec![0; len + 1],
            is_call: vec![false; len + 1],
            call: vec![0; ops.len()],
            ret: vec![0; ops.len()],
        };
        e.next[len] = NIL;
        for (rank, &(_, is_return, op)) in ev.iter().enumerate() {
            let entry = rank as u32 + 1;
            e.op[entry as usize] = op;
            e.is_call[entry as usize] = !is_return;
            if is_return {
                e.ret[op as usize] = entry;
            } else {
                e.call[op as usize] = entry;
            }
        }
        e
    }

    #[inline]
    fn unlink(&mut self, entry: u32) {
        let (p, n) = (self.prev[entry as usize], self.next[entry as usize]);
        self.next[p as usize] = n;
        if n != NIL {
            self.prev[n as usize] = p;
        }
    }

    /// Undo [`Events::unlink`]; must be called in reverse order of unlinks.
    #[inline]
    fn relink(&mut self, entry: u32) {
        let (p, n) = (self.prev[entry as usize], self.next[entry as usize]);
        self.next[p as usize] = entry;
        if n != NIL {
            self.prev[n as usize] = entry;
        }
    }

    fn lift(&mut self, op: u32) {
        self.unlink(self.call[op as usize]);
        self.unlink(self.ret[op as usize]);
    }

    fn unlift(&mut self, op: u32) {
        self.relink(self.ret[op as usize]);
        self.relink(self.call[op as usize]);
    }
}

/// The set of linearized ops, stored so that its cache key is short.
///
/// Completed ops (indices `0..completed`, in invocation order) are mostly a
/// run of linearized ops followed by a short ragged window; info ops come
/// after and are few. The key is `[value tag, value, ones, window.., info..]`
/// where `ones` counts leading all-ones words: canonical, so equal sets give
/// equal keys.
struct OpSet {
    completed: usize,
    words: Vec<u64>,
    /// Words of the completed part; the rest hold info ops.
    completed_words: usize,
    /// Leading words of the completed part that are all ones (exact).
    ones: usize,
    /// Upper bound on one past the last non-zero completed word.
    hi: usize,
}

impl OpSet {
    fn new(ops: &[KeyOp]) -> OpSet {
        let completed = ops.iter().take_while(|o| o.complete.is_some()).count();
        assert!(
            ops[completed..].iter().all(|o| o.complete.is_none()),
            "completed ops must precede info ops"
        );
        let completed_words = completed.div_ceil(64);
        let info_words = (ops.len() - completed).div_ceil(64);
        OpSet {
            completed,
            words: vec![0; completed_words + info_words],
            completed_words,
            ones: 0,
            hi: 0,
        }
    }

    #[inline]
    fn word_bit(&self, op: u32) -> (usize, u64) {
        let op = op as usize;
        if op < self.completed {
            (op / 64, 1 << (op % 64))
        } else {
            let i = op - self.completed;
            (self.completed_words + i / 64, 1 << (i % 64))
        }
    }

    #[inline]
    fn insert(&mut self, op: u32) {
        let (w, b) = self.word_bit(op);
        debug_assert!(self.words[w] & b == 0, "op {op} linearized twice");
        self.words[w] |= b;
        if w < self.completed_words {
            self.hi = self.hi.max(w + 1);
            while self.ones < self.completed_words && self.words[self.ones] == u64::MAX {
                self.ones += 1;
            }
        }
    }

    #[inline]
    fn remove(&mut self, op: u32) {
        let (w, b) = self.word_bit(op);
        debug_assert!(self.words[w] & b != 0, "op {op} not linearized");
        self.words[w] &= !b;
        if w < self.ones {
            self.ones = w;
        }
    }

    fn encode(&mut self, state: Option<i64>, out: &mut Vec<u64>) {
        while self.hi > 0 && self.words[self.hi - 1] == 0 {
            self.hi -= 1;
        }
        out.clear();
        out.push(state.is_some() as u64);
        out.push(state.unwrap_or(0) as u64);
        out.push(self.ones as u64);
        out.extend_from_slice(&self.words[self.ones..self.hi.max(self.ones)]);
        out.extend_from_slice(&self.words[self.completed_words..]);
    }
}

/// A fixed, fast hasher for the state cache (FxHash mixing with a
/// splitmix64 finalizer). The cache is only looked up, never iterated, so
/// the hasher affects speed only, never results.
#[derive(Default)]
struct StateHasher(u64);

impl Hasher for StateHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut buf = [0u8; 8];
            buf[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(buf));
        }
    }

    #[inline]
    fn write_u64(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(5) ^ x).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    #[inline]
    fn finish(&self) -> u64 {
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

#[allow(clippy::disallowed_types)]
type StateCache = HashSet<Box<[u64]>, BuildHasherDefault<StateHasher>>;

/// Search for a linearization of one key's ops (completed ops first, then
/// info ops; see [`OpSet`]). Returns the outcome and the number of distinct
/// states explored.
///
/// The register starts at `initial` (`None`: absent, the start of a run;
/// the streaming check starts a window at a value the collapsed prefix
/// left).
pub(super) fn search<O: Observer>(
    ops: &[KeyOp],
    initial: Option<i64>,
    max_states: u64,
    obs: &mut O,
) -> (Outcome, u64) {
    if ops.is_empty() {
        return (Outcome::Linearizable, 0);
    }
    assert!(
        ops.len() < (u32::MAX / 2) as usize,
        "too many ops on one key"
    );
    let mut events = Events::new(ops);
    let mut set = OpSet::new(ops);
    // The loop needs only the effects: a dense array keeps it in cache
    // (a KeyOp with its stamps is several times larger).
    let effects: Vec<Effect> = ops.iter().map(|o| o.effect).collect();
    let mut cache = StateCache::default();
    let mut scratch = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    // Beside each frame: whether the op before it was an info op (see
    // `constrained`).
    let mut was_constrained: Vec<bool> = Vec::new();
    let mut state: Option<i64> = initial;
    let mut writer: Option<u32> = None;
    // The last op linearized was an info op, so the next must not be a
    // plain write: the rule [`explore`] documents (dropping an info op
    // whose value is overwritten before anyone sees it changes no other
    // op's view), which keeps the search from trying every subset of the
    // info writes nobody read.
    let mut constrained = false;
    // The furthest (latest) return the search got stuck at, and its op.
    let mut furthest: (u32, u32) = (0, 0);
    let mut entry = events.next[HEAD as usize];
    loop {
        if entry == NIL {
            // The list is empty: everything, info ops included, linearized.
            return (Outcome::Linearizable, cache.len() as u64);
        }
        let op = events.op[entry as usize];
        if events.is_call[entry as usize] {
            let effect = effects[op as usize];
            if constrained && matches!(effect, Effect::Write(_)) {
                entry = events.next[entry as usize];
                continue;
            }
            let Some(next_state) = effect.step(state) else {
                obs.refused(op, state, writer);
                entry = events.next[entry as usize];
                continue;
            };
            let is_info = op as usize >= set.completed;
            set.insert(op);
            set.encode(next_state, &mut scratch);
            scratch[0] |= u64::from(is_info) << 1;
            if !cache.contains(scratch.as_slice()) {
                if cache.len() as u64 >= max_states {
                    return (Outcome::Unknown, cache.len() as u64);
                }
                cache.insert(scratch.as_slice().into());
                stack.push(Frame {
                    op,
                    prev_state: state,
                    prev_writer: writer,
                    forced: effect.observes_only(),
                });
                was_constrained.push(constrained);
                constrained = is_info;
                state = next_state;
                if effect.writes() {
                    writer = Some(op);
                }
                events.lift(op);
                entry = events.next[HEAD as usize];
                continue;
            }
            set.remove(op);
            if !effect.observes_only() {
                entry = events.next[entry as usize];
                continue;
            }
            // An observe-only op fits but what follows it is known to fail:
            // by the exchange argument the whole node fails.
        } else {
            if op as usize >= set.completed {
                // Info returns sort last: every completed op is linearized,
                // and the remaining info ops may simply never take effect.
                return (Outcome::Linearizable, cache.len() as u64);
            }
            obs.stuck(op, state, writer, &stack);
            if entry > furthest.0 {
                furthest = (entry, op);
            }
        }
        // Dead end: backtrack to the latest node with a branch left to try.
        let frame = loop {
            let Some(frame) = stack.pop() else {
                assert!(furthest.0 > 0, "a failed search got stuck somewhere");
                let blamed = furthest.1 as usize;
                return (Outcome::Violation { blamed }, cache.len() as u64);
            };
            set.remove(frame.op);
            state = frame.prev_state;
            writer = frame.prev_writer;
            constrained = was_constrained.pop().expect("one flag per frame");
            events.unlift(frame.op);
            if !frame.forced {
                break frame;
            }
        };
        entry = events.next[events.call[frame.op as usize] as usize];
    }
}

/// What [`explore`] found: every way a window of ops can end.
#[derive(Clone, Debug, Default)]
pub(super) struct Ends {
    /// Each end: the register value, and which info ops (bit `i` = the
    /// `i`-th info op, in the order they follow the completed ops) have
    /// taken effect. Up to dominance (see [`explore`]), every end some
    /// linearization reaches is here.
    pub ends: Vec<(Option<i64>, Vec<u64>)>,
    /// Distinct search states explored.
    pub states: u64,
    /// The search hit `max_states` and stopped: `ends` is incomplete.
    pub bounded: bool,
}

/// Every state a window can end in: search like [`search`], but instead of
/// stopping at the first linearization, record the end of each one (once
/// every completed op is linearized) and keep going.
///
/// Two rules keep this from enumerating every subset of the info ops, which
/// may take effect or not at any time:
/// - **An info op is followed by an op that sees its value.** After an info
///   op takes effect, the next op linearized must not be a plain write (it
///   would overwrite the value before anyone saw it). Dropping such an info
///   op from a linearization leaves every other op's view unchanged, so a
///   linearization obeying the rule exists whenever any does, with a
///   subset of the info ops used up.
/// - **No info op at the end.** Once every completed op is placed, the end
///   is recorded and no further info op is tried: one applied after the
///   window can as well be applied first thing in the next window, where
///   it is still available.
///
/// So the ends are complete up to dominance: for every end `(v, A)` some
/// linearization reaches, an end `(v, B)` with `B ⊆ A` is listed (fewer
/// info ops used up leaves more possible futures).
pub(super) fn explore(ops: &[KeyOp], initial: Option<i64>, max_states: u64) -> Ends {
    let mut out = Ends::default();
    assert!(
        ops.len() < (u32::MAX / 2) as usize,
        "too many ops on one key"
    );
    let mut events = Events::new(ops);
    let mut set = OpSet::new(ops);
    let completed = set.completed;
    let effects: Vec<Effect> = ops.iter().map(|o| o.effect).collect();
    let mut cache = StateCache::default();
    let mut scratch = Vec::new();
    // Frames of the search; `constrained` says the last op linearized was
    // an info op, so the next must not be a plain write.
    let mut stack: Vec<(Frame, bool)> = Vec::new();
    let mut state: Option<i64> = initial;
    let mut constrained = false;
    let mut placed = 0usize;
    let mut entry = events.next[HEAD as usize];
    loop {
        let at_end = placed == completed;
        if at_end && !constrained {
            out.ends
                .push((state, set.words[set.completed_words..].to_vec()));
        }
        let dead_end = if at_end {
            true
        } else if entry == NIL || !events.is_call[entry as usize] {
            // A completed op's return with the op not yet linearized (info
            // returns sort last and are never reached before `at_end`).
            true
        } else {
            let op = events.op[entry as usize];
            let effect = effects[op as usize];
            // Info ops follow the completed ones (see `OpSet`).
            let is_info = op as usize >= completed;
            let allowed = !(constrained && matches!(effect, Effect::Write(_)));
            let next_state = if allowed { effect.step(state) } else { None };
            match next_state {
                None => {
                    entry = events.next[entry as usize];
                    continue;
                }
                Some(next_state) => {
                    set.insert(op);
                    set.encode(next_state, &mut scratch);
                    scratch[0] |= u64::from(is_info) << 1;
                    if !cache.contains(scratch.as_slice()) {
                        if cache.len() as u64 >= max_states {
                            out.states = cache.len() as u64;
                            out.bounded = true;
                            return out;
                        }
                        cache.insert(scratch.as_slice().into());
                        stack.push((
                            Frame {
                                op,
                                prev_state: state,
                                prev_writer: None,
                                forced: effect.observes_only(),
                            },
                            constrained,
                        ));
                        state = next_state;
                        constrained = is_info;
                        if !is_info {
                            placed += 1;
                        }
                        events.lift(op);
                        entry = events.next[HEAD as usize];
                        continue;
                    }
                    set.remove(op);
                    if !effect.observes_only() {
                        entry = events.next[entry as usize];
                        continue;
                    }
                    // As in `search`: an observe-only op that fits leads to
                    // a state already explored, which covers this node.
                    true
                }
            }
        };
        debug_assert!(dead_end);
        let frame = loop {
            let Some((frame, was_constrained)) = stack.pop() else {
                out.states = cache.len() as u64;
                return out;
            };
            set.remove(frame.op);
            state = frame.prev_state;
            constrained = was_constrained;
            if (frame.op as usize) < completed {
                placed -= 1;
            }
            events.unlift(frame.op);
            if !frame.forced {
                break frame;
            }
        };
        entry = events.next[events.call[frame.op as usize] as usize];
    }
}
