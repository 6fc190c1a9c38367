//! Turning a failed search into a short, human-readable reason.
//!
//! The checking pass only remembers which operation it got stuck on last
//! (cheap). When a key fails, the same deterministic search is replayed with
//! an observer that collects, for that operation, the register values it was
//! tried against and the longest prefix built before its return: violations
//! are rare, so paying twice for them keeps the common path lean.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::search::{self, Frame, KeyOp, Observer};
use super::{Op, OpKind, Outcome, Violation};
use crate::time::SimTime;

/// How many linearized ops of the longest prefix to keep.
const PREFIX_TAIL: usize = 5;
/// How many possible values, writers and concurrent ops to print.
const LIST_MAX: usize = 6;
/// How many writers of the needed value to print.
const WRITERS_MAX: usize = 3;

struct Explainer {
    watch: u32,
    /// Value → the op (key-local index) that wrote it, first seen.
    values: BTreeMap<Option<i64>, Option<u32>>,
    longest: usize,
    tail: Vec<u32>,
}

impl Observer for Explainer {
    fn refused(&mut self, op: u32, state: Option<i64>, writer: Option<u32>) {
        if op == self.watch {
            self.values.entry(state).or_insert(writer);
        }
    }

    fn stuck(&mut self, op: u32, state: Option<i64>, writer: Option<u32>, stack: &[Frame]) {
        if op == self.watch {
            self.values.entry(state).or_insert(writer);
            if stack.len() > self.longest || self.tail.is_empty() {
                self.longest = stack.len();
                let from = stack.len().saturating_sub(PREFIX_TAIL);
                self.tail = stack[from..].iter().map(|f| f.op).collect();
            }
        }
    }
}

/// Replay the search of `key_ops` watching `blamed` and describe what it saw.
pub(super) fn violation(
    key: i64,
    ops: &[Op],
    key_ops: &[KeyOp],
    initial: Option<i64>,
    blamed: usize,
    max_states: u64,
) -> Violation {
    let mut ex = Explainer {
        watch: blamed as u32,
        values: BTreeMap::new(),
        longest: 0,
        tail: Vec::new(),
    };
    let (outcome, _) = search::search(key_ops, initial, max_states, &mut ex);
    assert_eq!(
        outcome,
        search::Outcome::Violation { blamed },
        "the explanation replay must retrace the checking search"
    );
    let global = |i: u32| key_ops[i as usize].index;
    let blamed_op = ops[key_ops[blamed].index].clone();
    Violation {
        window: search_window(ops, key_ops, &blamed_op),
        blamed: blamed_op,
        key,
        op: key_ops[blamed].index,
        possible_values: ex.values.iter().map(|(v, w)| (*v, w.map(global))).collect(),
        longest_prefix: ex.longest,
        prefix_tail: ex.tail.iter().map(|&i| global(i)).collect(),
    }
}

/// From the earliest invocation among the completed operations searched
/// with `blamed` to `blamed`'s completion (see [`Violation::window`]).
/// Unknown-outcome operations are left out: the streaming check moves the
/// carried ones to time zero, and they bound nothing.
pub(super) fn search_window(ops: &[Op], key_ops: &[KeyOp], blamed: &Op) -> (SimTime, SimTime) {
    let from = key_ops
        .iter()
        .filter(|k| k.complete.is_some())
        .map(|k| ops[k.index].invoke)
        .fold(blamed.invoke, SimTime::min);
    (from, blamed.complete.unwrap_or(blamed.invoke))
}

fn value(v: Option<i64>) -> String {
    v.map_or_else(|| "absent".to_string(), |v| v.to_string())
}

/// One line for an op: what, who, when, how it ended.
pub(super) fn op_line(op: &Op) -> String {
    let what = match (op.kind, op.outcome) {
        (OpKind::Read, Outcome::Ok) => format!("read returning {}", value(op.read)),
        (OpKind::Read, _) => "read".to_string(),
        (OpKind::Write(v), _) => format!("write {v}"),
        (OpKind::Cas { expected, new }, _) => format!("cas {expected}->{new}"),
    };
    let when = match (op.outcome, op.complete) {
        (Outcome::Info, _) | (_, None) => format!("[{}, never completed]", op.invoke),
        (_, Some(c)) => format!("[{}, {}]", op.invoke, c),
    };
    let how = match op.outcome {
        Outcome::Ok => "ok",
        Outcome::Fail => "failed",
        Outcome::Info => "outcome unknown",
    };
    format!("{what} by p{} at {when} ({how})", op.process)
}

/// The problem with `op` in one sentence, given the values it could meet.
fn complaint(op: &Op) -> String {
    match (op.kind, op.outcome) {
        (OpKind::Read, _) => format!("it returned {}", value(op.read)),
        (OpKind::Cas { expected, .. }, Outcome::Fail) => {
            format!("it failed, so the key must have held something other than {expected}")
        }
        (OpKind::Cas { expected, .. }, _) => {
            format!("it succeeded, so the key must have held {expected}")
        }
        (OpKind::Write(_), _) => "no order lets it complete in time".to_string(),
    }
}

/// The value `op` needed to see, if it needed a specific one.
fn needed(op: &Op) -> Option<Option<i64>> {
    match (op.kind, op.outcome) {
        (OpKind::Read, _) => Some(op.read),
        (OpKind::Cas { expected, .. }, Outcome::Ok | Outcome::Info) => Some(Some(expected)),
        _ => None,
    }
}

/// The full explanation of `v` in the context of the whole history.
pub(super) fn describe(ops: &[Op], key_ops: &[KeyOp], v: &Violation) -> String {
    let blamed = &ops[v.op];
    let mut s = String::new();
    let _ = writeln!(s, "key {} is not linearizable.", v.key);
    let _ = writeln!(s, "  cannot place: {}", op_line(blamed));
    let _ = writeln!(
        s,
        "  {}, but the only values the key could hold when it had to take effect were:",
        complaint(blamed)
    );
    for (val, writer) in v.possible_values.iter().take(LIST_MAX) {
        let by = writer.map_or_else(|| "initial value".to_string(), |w| op_line(&ops[w]));
        let _ = writeln!(s, "    - {} ({by})", value(*val));
    }
    if v.possible_values.len() > LIST_MAX {
        let _ = writeln!(s, "    - ... {} more", v.possible_values.len() - LIST_MAX);
    }
    match needed(blamed) {
        Some(Some(want)) => writers_story(&mut s, ops, key_ops, v, want),
        Some(None) => {
            let _ = writeln!(
                s,
                "  (absent is only the initial value: nothing deletes a key)"
            );
        }
        None => {}
    }
    let _ = writeln!(
        s,
        "  longest linearizable prefix before it: {} ops, ending with:",
        v.longest_prefix
    );
    for i in &v.prefix_tail {
        let _ = writeln!(s, "    - {}", op_line(&ops[*i]));
    }
    let concurrent: Vec<usize> = key_ops
        .iter()
        .filter(|k| k.index != v.op && overlaps(&ops[k.index], blamed))
        .map(|k| k.index)
        .collect();
    if !concurrent.is_empty() {
        let _ = writeln!(s, "  concurrent with it:");
        for i in concurrent.iter().take(LIST_MAX) {
            let _ = writeln!(s, "    - {}", op_line(&ops[*i]));
        }
    }
    s.truncate(s.trim_end().len());
    s
}

fn overlaps(a: &Op, b: &Op) -> bool {
    let a_before_b = a.complete_stamp().is_some_and(|c| c < b.invoke_stamp());
    let b_before_a = b.complete_stamp().is_some_and(|c| c < a.invoke_stamp());
    !a_before_b && !b_before_a
}

/// Who wrote the value `want` that the blamed op needed: the latest writers
/// that could have come before it, or the first that came too late.
fn writers_story(s: &mut String, ops: &[Op], key_ops: &[KeyOp], v: &Violation, want: i64) {
    let blamed = &ops[v.op];
    let deadline = blamed.complete_stamp();
    let mut writers: Vec<usize> = key_ops
        .iter()
        .filter(|k| match k.effect {
            search::Effect::Write(x) | search::Effect::Cas { new: x, .. } => x == want,
            _ => false,
        })
        .map(|k| k.index)
        .collect();
    writers.sort_by_key(|&i| (ops[i].invoke_stamp(), i));
    let could_precede =
        writers.partition_point(|&i| deadline.is_none_or(|d| ops[i].invoke_stamp() <= d));
    let (before, after) = writers.split_at(could_precede);
    if before.is_empty() {
        match after.first() {
            None => {
                let _ = writeln!(s, "  no operation on key {} ever wrote {want}", v.key);
            }
            Some(&first) => {
                let _ = writeln!(
                    s,
                    "  {want} was only written later, first by: {}",
                    op_line(&ops[first])
                );
            }
        }
        return;
    }
    let shown = &before[before.len().saturating_sub(WRITERS_MAX)..];
    let _ = writeln!(
        s,
        "  {want} was written by {} op(s) invoked before it completed; the latest:",
        before.len()
    );
    for w in shown {
        let _ = writeln!(s, "    - {}", op_line(&ops[*w]));
    }
}
