//! Linearizability checker for a key-value history.
//!
//! The store is a map of independent registers (`i64` keys and values, every
//! key initially absent). Clients record one [`Op`] per request: what they
//! asked ([`OpKind`]), what came back ([`Outcome`]) and when
//! (`invoke`/`complete`, virtual time). [`check`] answers whether some total
//! order of the operations respects real time and the register semantics.
//!
//! How it works:
//! - **Per key.** Linearizability is compositional (Herlihy & Wing, 1990): a
//!   history of independent registers is linearizable iff each key's
//!   sub-history is. Keys are checked one by one, in key order.
//! - **Just-in-time linearization** (Wing & Gong 1993, Lowe 2017, as in
//!   Porcupine): the call and return events of a key sit in a linked list
//!   sorted by time. The search walks it, linearizing any pending call whose
//!   effect fits the current register value; reaching a return whose
//!   operation is not yet linearized is a dead end, so it backtracks. A cache
//!   of visited `(linearized set, value)` states keeps it from redoing work.
//!   Reads and failed cas operations that fit the current value are taken
//!   without branching (an exchange argument shows this loses no solution),
//!   which keeps many concurrent reads from multiplying the search.
//! - **Unknown outcomes.** An [`Outcome::Info`] operation returns at +∞ and
//!   may also never take effect: the search succeeds as soon as every
//!   completed operation is linearized.
//! - **Bounded.** At most [`CheckConfig::max_states`] states per key; past
//!   that the key is reported as [`Verdict::Unknown`], never as a violation.
//! - **Explained.** A violation names the operation that could not be placed
//!   (the one whose completion the search could never get past), the values
//!   the register could hold when it had to take effect and who wrote them,
//!   and the tail of the longest linearizable prefix.
//!
//! - **Streaming.** [`check`] is the batch check of a whole history;
//!   [`StreamChecker`] (module [`stream`]) takes operations as a run
//!   produces them and, per key, collapses every checked prefix into the
//!   set of states it can leave (value plus the unknown-outcome operations
//!   still able to take effect), so memory stays bounded by the operations
//!   in doubt. Both give the same verdicts (tested against each other and
//!   against a brute-force reference); runs use the streaming one.
//!
//! **Real-time order at equal times.** Operations are placed in time by
//! stamps `(µs, seq)`: `a` precedes `b` iff `a`'s completion stamp is less
//! than `b`'s invocation stamp. A run numbers its history events in the
//! kernel's dispatch order, so a client's completion and its next
//! invocation in the same microsecond (common: the next operation is due
//! already) stay ordered, as do different clients' events. Equal stamps
//! (hand-built histories that leave every seq 0) count as concurrent. An
//! earlier version compared times only, which let a client's read be
//! ordered before its own earlier write and passed real stale reads.

mod explain;
pub mod generate;
mod search;
pub mod stream;

pub use stream::{check_streaming, StreamChecker};

use std::collections::BTreeMap;
use std::fmt;

use crate::time::SimTime;

/// What an operation asked the store to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKind {
    /// Read the key's value.
    Read,
    /// Set the key to this value.
    Write(i64),
    /// Compare-and-set: if the key holds `expected`, set it to `new`.
    Cas {
        /// The value the key must hold for the swap to happen.
        expected: i64,
        /// The value written when it does.
        new: i64,
    },
}

/// What the client learnt about an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It took effect (a cas: the compare matched and the swap happened).
    Ok,
    /// It definitely did not take effect. A failed cas is still an
    /// operation: its compare saw a value other than `expected`.
    Fail,
    /// Unknown (timeout): it may take effect at any time after its
    /// invocation, or never.
    Info,
}

/// One client operation on one key.
///
/// Build with [`Op::read`], [`Op::write`] or [`Op::cas`], then place it in
/// time with [`Op::between`] (completed, ok), [`Op::failed_between`] or
/// [`Op::info_at`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Op {
    /// The client that issued it (only used in explanations).
    pub process: u64,
    /// The key it touched.
    pub key: i64,
    /// What it asked for.
    pub kind: OpKind,
    /// For an ok read: the value returned (`None` = key absent). Ignored for
    /// every other operation.
    pub read: Option<i64>,
    /// What the client learnt.
    pub outcome: Outcome,
    /// When the client sent it.
    pub invoke: SimTime,
    /// When the client got the answer; `None` for [`Outcome::Info`] (any
    /// value given for an info operation is ignored: it never completes).
    pub complete: Option<SimTime>,
    /// Order of the invocation among events of the same microsecond: the
    /// invocation happens at the stamp `(invoke, invoke_seq)`. The runner
    /// gives every history event its position in the run's history (the
    /// kernel's dispatch order), so stamps are distinct; hand-built
    /// histories may leave both seqs 0, and equal stamps are concurrent.
    pub invoke_seq: u64,
    /// Order of the completion among events of the same microsecond (see
    /// `invoke_seq`); ignored for info operations.
    pub complete_seq: u64,
}

impl Op {
    fn new(process: u64, key: i64, kind: OpKind, read: Option<i64>) -> Op {
        Op {
            process,
            key,
            kind,
            read,
            outcome: Outcome::Ok,
            invoke: SimTime::ZERO,
            complete: Some(SimTime::ZERO),
            invoke_seq: 0,
            complete_seq: 0,
        }
    }

    /// Order the invocation and completion within their microseconds (see
    /// [`Op::invoke_seq`]): `a` precedes `b` in real time iff `a`'s
    /// completion stamp `(complete, complete_seq)` is less than `b`'s
    /// invocation stamp `(invoke, invoke_seq)`.
    pub fn seqs(mut self, invoke_seq: u64, complete_seq: u64) -> Op {
        self.invoke_seq = invoke_seq;
        self.complete_seq = complete_seq;
        self
    }

    /// The invocation's place in real time: `(µs, seq)` packed so that
    /// integer order is stamp order.
    pub fn invoke_stamp(&self) -> u128 {
        stamp(self.invoke, self.invoke_seq)
    }

    /// The completion's place in real time (see [`Op::invoke_stamp`]);
    /// `None` for info operations, which never complete.
    pub fn complete_stamp(&self) -> Option<u128> {
        match self.outcome {
            Outcome::Info => None,
            _ => self.complete.map(|c| stamp(c, self.complete_seq)),
        }
    }

    /// A read by `process` of `key` that returned `observed` (`None` = absent).
    pub fn read(process: u64, key: i64, observed: Option<i64>) -> Op {
        Op::new(process, key, OpKind::Read, observed)
    }

    /// A write of `value` to `key` by `process`.
    pub fn write(process: u64, key: i64, value: i64) -> Op {
        Op::new(process, key, OpKind::Write(value), None)
    }

    /// A compare-and-set of `key` from `expected` to `new` by `process`.
    pub fn cas(process: u64, key: i64, expected: i64, new: i64) -> Op {
        Op::new(process, key, OpKind::Cas { expected, new }, None)
    }

    /// Completed with [`Outcome::Ok`], invoked and completed at these
    /// microseconds of virtual time.
    pub fn between(mut self, invoke_us: u64, complete_us: u64) -> Op {
        self.outcome = Outcome::Ok;
        self.invoke = SimTime(invoke_us);
        self.complete = Some(SimTime(complete_us));
        self
    }

    /// Completed with [`Outcome::Fail`] at these microseconds.
    pub fn failed_between(self, invoke_us: u64, complete_us: u64) -> Op {
        let mut op = self.between(invoke_us, complete_us);
        op.outcome = Outcome::Fail;
        op
    }

    /// Invoked at `invoke_us`, outcome unknown ([`Outcome::Info`]).
    pub fn info_at(mut self, invoke_us: u64) -> Op {
        self.outcome = Outcome::Info;
        self.invoke = SimTime(invoke_us);
        self.complete = None;
        self
    }
}

/// `(time, seq)` as one integer whose order is the lexicographic order.
fn stamp(time: SimTime, seq: u64) -> u128 {
    (u128::from(time.as_micros()) << 64) | u128::from(seq)
}

/// A history the checker cannot interpret.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HistoryError {
    /// An ok or failed operation has no completion time.
    #[error(
        "operation #{index} is {outcome:?} but has no completion time; give it one or mark it Info"
    )]
    MissingCompletion {
        /// Position in the history slice.
        index: usize,
        /// Its outcome.
        outcome: Outcome,
    },
    /// An operation completes before it is invoked.
    #[error("operation #{index} completes at {complete} before its invocation at {invoke}")]
    CompletesBeforeInvoke {
        /// Position in the history slice.
        index: usize,
        /// Its invocation time.
        invoke: SimTime,
        /// Its completion time.
        complete: SimTime,
    },
}

/// Limits on the search.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckConfig {
    /// Most distinct search states explored for one key before giving up
    /// with [`Verdict::Unknown`]. Each state costs a few machine words of
    /// memory plus one per 64 concurrent or unknown-outcome operations.
    pub max_states: u64,
}

impl Default for CheckConfig {
    fn default() -> Self {
        CheckConfig {
            max_states: 10_000_000,
        }
    }
}

/// The checker's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every key's history is linearizable.
    Linearizable,
    /// At least one key's history is not linearizable.
    NotLinearizable,
    /// No violation was found, but at least one key hit the search bound.
    Unknown,
}

/// Why a key's history is not linearizable, in data (the prose is in
/// [`LinResult::explanation`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The key.
    pub key: i64,
    /// Index (into the checked slice) of the operation that could not be
    /// placed: no order of the operations before its completion lets it take
    /// effect.
    pub op: usize,
    /// The values the register could hold when that operation was tried,
    /// each with the index of the operation that wrote it (`None`: the
    /// initial absent value).
    pub possible_values: Vec<(Option<i64>, Option<usize>)>,
    /// Length of the longest linearizable prefix the search built for this key.
    pub longest_prefix: usize,
    /// Indices of the last operations of that prefix, in linearization order.
    pub prefix_tail: Vec<usize>,
    /// A copy of the operation that could not be placed (`op` indexes the
    /// checked slice; a report or a chart needs the operation itself).
    pub blamed: Op,
    /// The stretch of real time the checker searched for a place for it:
    /// from the earliest invocation among the completed operations it was
    /// checked with (the key's operations since its last quiescent point in
    /// the streaming check, the whole key in the batch check) to its own
    /// completion. No order of those operations lets it take effect there.
    pub window: (SimTime, SimTime),
}

/// Result of [`check`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinResult {
    /// The answer.
    pub verdict: Verdict,
    /// Operations that took part in the search (fail and info reads and
    /// failed writes are dropped: they cannot have changed anything).
    pub ops: usize,
    /// Operations dropped before the search.
    pub ops_dropped: usize,
    /// Distinct keys checked.
    pub keys_checked: usize,
    /// Search states explored, summed over keys.
    pub states_explored: u64,
    /// Every key found not linearizable, in key order; the first is explained.
    pub violations: Vec<Violation>,
    /// Keys whose search hit [`CheckConfig::max_states`], in key order.
    pub unknown_keys: Vec<i64>,
    /// Human-readable reason for a violation or an unknown verdict.
    pub explanation: Option<String>,
}

impl LinResult {
    /// `Some(true)` linearizable, `Some(false)` violation, `None` unknown.
    pub fn ok(&self) -> Option<bool> {
        match self.verdict {
            Verdict::Linearizable => Some(true),
            Verdict::NotLinearizable => Some(false),
            Verdict::Unknown => None,
        }
    }
}

impl fmt::Display for LinResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?}: {} ops ({} dropped) over {} keys, {} states explored",
            self.verdict, self.ops, self.ops_dropped, self.keys_checked, self.states_explored
        )?;
        if let Some(e) = &self.explanation {
            write!(f, "\n{e}")?;
        }
        Ok(())
    }
}

/// Check a history with the default [`CheckConfig`].
pub fn check(ops: &[Op]) -> Result<LinResult, HistoryError> {
    check_with(ops, &CheckConfig::default())
}

/// Check a history: is there a total order of its operations, consistent
/// with real time, in which every read, write and cas behaves as on a single
/// register per key?
pub fn check_with(ops: &[Op], config: &CheckConfig) -> Result<LinResult, HistoryError> {
    validate(ops)?;
    let (per_key, dropped) = split_by_key(ops);
    let mut result = LinResult {
        verdict: Verdict::Linearizable,
        ops: ops.len() - dropped,
        ops_dropped: dropped,
        keys_checked: per_key.len(),
        states_explored: 0,
        violations: Vec::new(),
        unknown_keys: Vec::new(),
        explanation: None,
    };
    for (key, key_ops) in &per_key {
        let (outcome, states) =
            search::search(key_ops, None, config.max_states, &mut search::NoObserver);
        result.states_explored += states;
        match outcome {
            search::Outcome::Linearizable => {}
            search::Outcome::Unknown => result.unknown_keys.push(*key),
            search::Outcome::Violation { blamed } => {
                let violation =
                    explain::violation(*key, ops, key_ops, None, blamed, config.max_states);
                if result.violations.is_empty() {
                    result.explanation = Some(explain::describe(ops, key_ops, &violation));
                }
                result.violations.push(violation);
            }
        }
    }
    if !result.violations.is_empty() {
        result.verdict = Verdict::NotLinearizable;
    } else if !result.unknown_keys.is_empty() {
        result.verdict = Verdict::Unknown;
        result.explanation = Some(format!(
            "no violation found, but the search gave up after {} states on key(s) {:?}; \
             raise CheckConfig::max_states or shorten the history",
            config.max_states, result.unknown_keys
        ));
    }
    Ok(result)
}

fn validate(ops: &[Op]) -> Result<(), HistoryError> {
    for (index, op) in ops.iter().enumerate() {
        if op.outcome == Outcome::Info {
            continue;
        }
        let complete = op.complete.ok_or(HistoryError::MissingCompletion {
            index,
            outcome: op.outcome,
        })?;
        if stamp(complete, op.complete_seq) < op.invoke_stamp() {
            return Err(HistoryError::CompletesBeforeInvoke {
                index,
                invoke: op.invoke,
                complete,
            });
        }
    }
    Ok(())
}

/// Group the operations that can matter by key, and count the others.
///
/// Within a key, completed operations come first in invocation order, then
/// info operations: the search's bitset then looks like "a run of ones, a
/// short ragged window, zeros" plus a small info tail, which it stores
/// compactly.
fn split_by_key(ops: &[Op]) -> (BTreeMap<i64, Vec<search::KeyOp>>, usize) {
    let mut per_key: BTreeMap<i64, Vec<search::KeyOp>> = BTreeMap::new();
    let mut dropped = 0;
    for (index, op) in ops.iter().enumerate() {
        match search::KeyOp::from_op(index, op) {
            Some(k) => per_key.entry(op.key).or_default().push(k),
            None => dropped += 1,
        }
    }
    for key_ops in per_key.values_mut() {
        key_ops.sort_by_key(|k| (k.complete.is_none(), k.invoke, k.index));
    }
    (per_key, dropped)
}

#[cfg(test)]
mod tests;
