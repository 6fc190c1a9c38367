//! The client-side record of a KV run: a Jepsen-style history of invoke and
//! completion events.
//!
//! Every operation a client starts produces one [`EventType::Invoke`] event
//! and at most one completion ([`EventType::Ok`], [`EventType::Fail`] or
//! [`EventType::Info`]). Values follow Jepsen's conventions: a read invokes
//! with [`HistValue::None`] and completes with the value seen; a write
//! carries its value; a cas carries `(expected, new)`. The JSON Lines
//! encoding is described in `docs/history-format.md` and done outside this
//! module (no serde in `kv/`).
//!
//! [`to_lin_ops`] turns a history into the linearizability checker's
//! [`Op`]s; [`merge`] interleaves per-client histories by time.

use crate::check::linearizability::{Op, StreamChecker};
use crate::time::{SimDuration, SimTime};
use std::collections::BTreeMap;

/// What an event says about its operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventType {
    /// The client sent the operation.
    Invoke,
    /// It took effect (a cas: the compare matched and the swap happened).
    Ok,
    /// It definitely did not take effect (a cas whose compare did not match).
    Fail,
    /// Unknown: it may have taken effect, or not (the client timed out).
    Info,
}

impl EventType {
    /// The lower-case name used in the JSON encoding.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Invoke => "invoke",
            EventType::Ok => "ok",
            EventType::Fail => "fail",
            EventType::Info => "info",
        }
    }
}

/// Which operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OpFn {
    /// Read a key.
    Read,
    /// Write a key.
    Write,
    /// Compare-and-set a key.
    Cas,
}

impl OpFn {
    /// The lower-case name used in the JSON encoding.
    pub fn as_str(self) -> &'static str {
        match self {
            OpFn::Read => "read",
            OpFn::Write => "write",
            OpFn::Cas => "cas",
        }
    }
}

/// The value an event carries (Jepsen's `:value`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HistValue {
    /// No value: a read's invocation, or a read that found the key absent.
    None,
    /// A write's value, or a value read.
    Int(i64),
    /// A cas's `(expected, new)`.
    Pair(i64, i64),
}

/// One line of a history.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HistoryEvent {
    /// The client number (not its network address).
    pub process: u32,
    /// Invocation or which kind of completion.
    pub kind: EventType,
    /// The operation.
    pub f: OpFn,
    /// The key it touches.
    pub key: i64,
    /// The value (see [`HistValue`] for the conventions).
    pub value: HistValue,
    /// Virtual time of the event, as seen by the client.
    pub time: SimTime,
    /// The event's position in the run's history (0, 1, 2, ...): the order
    /// in which the kernel dispatched the client handlers that recorded
    /// them. It orders events of the same microsecond, so a completion and
    /// the next invocation at one instant keep their real-time order. A
    /// client records 0; the runner numbers events as it collects them.
    pub seq: u64,
}

/// One history from many: all events sorted by `(time, seq)`. The sort is
/// stable, and remaining ties (hand-made events that all have seq 0) are
/// broken by process number and then by the order the events had in their
/// input history, so the result is the same on every run.
pub fn merge(histories: Vec<Vec<HistoryEvent>>) -> Vec<HistoryEvent> {
    let mut all: Vec<HistoryEvent> = histories.into_iter().flatten().collect();
    // `sort_by_key` is stable: equal keys keep input order.
    all.sort_by_key(|e| (e.time, e.seq, e.process));
    all
}

/// Build the checker's operations from a history, pairing each invocation
/// with the next completion of the same process.
///
/// - An invocation with no completion (the run ended, or the process invoked
///   again first) becomes [`Outcome::Info`](crate::check::linearizability::Outcome::Info).
/// - A completion with no open invocation is ignored.
/// - The operation's function, key and (for writes and cas) value are taken
///   from the invocation; an ok read takes its observed value from the
///   completion. An invocation whose value does not fit its function (a write
///   without an `Int`, a cas without a `Pair`) is malformed and skipped.
///
/// Operations come out in invocation order.
pub fn to_lin_ops(events: &[HistoryEvent]) -> Vec<Op> {
    // Slot per invocation, filled when its completion is seen.
    let mut slots: Vec<(HistoryEvent, Option<HistoryEvent>)> = Vec::new();
    let mut open: BTreeMap<u32, usize> = BTreeMap::new();
    for e in events {
        match e.kind {
            EventType::Invoke => {
                // A still-open earlier invocation stays without completion.
                open.insert(e.process, slots.len());
                slots.push((*e, None));
            }
            EventType::Ok | EventType::Fail | EventType::Info => {
                if let Some(slot) = open.remove(&e.process) {
                    slots[slot].1 = Some(*e);
                }
            }
        }
    }
    slots
        .iter()
        .filter_map(|(inv, done)| lin_op(inv, done.as_ref()))
        .collect()
}

/// [`to_lin_ops`] one event at a time, feeding a [`StreamChecker`]: the
/// same pairing rules, so the streaming check sees the operations the batch
/// check would (an invocation still open when its process invokes again,
/// or at [`OpPairing::finish`], becomes info). Holds one open invocation
/// per process.
#[derive(Clone, Debug, Default)]
pub struct OpPairing {
    /// Per process: its open invocation, and whether it is well-formed
    /// (told to the checker).
    open: BTreeMap<u32, (HistoryEvent, bool)>,
}

impl OpPairing {
    /// Take the next event of the history (events in history order).
    pub fn push(&mut self, e: &HistoryEvent, checker: &mut StreamChecker) {
        match e.kind {
            EventType::Invoke => {
                if let Some((inv, true)) = self.open.remove(&e.process) {
                    checker.complete(lin_op(&inv, None).expect("well-formed"));
                }
                let well_formed = lin_op(e, None).is_some();
                if well_formed {
                    checker.invoke(e.key, e.time, e.seq);
                }
                self.open.insert(e.process, (*e, well_formed));
            }
            EventType::Ok | EventType::Fail | EventType::Info => {
                if let Some((inv, true)) = self.open.remove(&e.process) {
                    checker.complete(lin_op(&inv, Some(e)).expect("well-formed"));
                }
            }
        }
    }

    /// The history ended: open invocations become info operations.
    pub fn finish(self, checker: &mut StreamChecker) {
        for (inv, well_formed) in self.open.into_values() {
            if well_formed {
                checker.complete(lin_op(&inv, None).expect("well-formed"));
            }
        }
    }
}

fn lin_op(inv: &HistoryEvent, done: Option<&HistoryEvent>) -> Option<Op> {
    let p = u64::from(inv.process);
    let op = match (inv.f, inv.value) {
        (OpFn::Read, _) => {
            let observed = match done.map(|d| d.value) {
                Some(HistValue::Int(v)) => Some(v),
                _ => None,
            };
            Op::read(p, inv.key, observed)
        }
        (OpFn::Write, HistValue::Int(v)) => Op::write(p, inv.key, v),
        (OpFn::Cas, HistValue::Pair(expected, new)) => Op::cas(p, inv.key, expected, new),
        _ => return None,
    };
    let invoke = inv.time.as_micros();
    Some(match done {
        Some(d) if d.kind == EventType::Ok => {
            op.between(invoke, d.time.as_micros()).seqs(inv.seq, d.seq)
        }
        Some(d) if d.kind == EventType::Fail => op
            .failed_between(invoke, d.time.as_micros())
            .seqs(inv.seq, d.seq),
        _ => op.info_at(invoke).seqs(inv.seq, 0),
    })
}

/// Invocation-to-completion time of every operation that completed with ok
/// or fail, in invocation order (info operations have no known latency).
pub fn latencies(events: &[HistoryEvent]) -> Vec<SimDuration> {
    let mut open: BTreeMap<u32, SimTime> = BTreeMap::new();
    let mut out = Vec::new();
    for e in events {
        match e.kind {
            EventType::Invoke => {
                open.insert(e.process, e.time);
            }
            EventType::Ok | EventType::Fail => {
                if let Some(t) = open.remove(&e.process) {
                    out.push(e.time.saturating_since(t));
                }
            }
            EventType::Info => {
                open.remove(&e.process);
            }
        }
    }
    out
}

/// Event counts of a history.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HistorySummary {
    /// Invocations.
    pub invoked: u64,
    /// Ok completions.
    pub ok: u64,
    /// Fail completions.
    pub fail: u64,
    /// Info completions.
    pub info: u64,
    /// Invocations with no completion (still open at the end of the run).
    pub open: u64,
}

/// Count the events of a history.
pub fn summary(events: &[HistoryEvent]) -> HistorySummary {
    let mut s = HistorySummary::default();
    for e in events {
        match e.kind {
            EventType::Invoke => s.invoked += 1,
            EventType::Ok => s.ok += 1,
            EventType::Fail => s.fail += 1,
            EventType::Info => s.info += 1,
        }
    }
    s.open = s.invoked.saturating_sub(s.ok + s.fail + s.info);
    s
}

/// One nemesis operation for the history file: a fault the kernel applied
/// (its fault log, converted by the runner: `kv/` does not depend on
/// `fault/`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NemesisOp {
    /// When it was applied.
    pub time: SimTime,
    /// The fault log's kind (`crash`, `restart`, `pause`, `resume`,
    /// `partition`, `heal`, `link`, `isolate`, `clock`, ...): Jepsen's `:f`.
    pub f: String,
    /// Nodes it affected (for a link: `[from, to]`).
    pub nodes: Vec<u32>,
    /// The groups of a partition (empty otherwise).
    pub groups: Vec<Vec<u32>>,
}

/// Writes the history file (docs/history-format.md): Jepsen operation
/// maps as JSON Lines, with Jepsen's process rules and a running `index`
/// over every line, client and nemesis. It holds one process number per
/// client, nothing that grows with the run.
///
/// A client whose operation ended `info` may still have it in flight, so
/// Jepsen retires that process: the client's next operation gets process
/// `p + clients` (Jepsen's `process + concurrency`), so numbers never
/// repeat and `process % clients` is still the client. The checker's input
/// is untouched by this: it pairs by client ([`HistoryEvent::process`]).
#[derive(Clone, Debug)]
pub struct HistoryEncoder {
    clients: u32,
    process: Vec<u64>,
    index: u64,
}

impl HistoryEncoder {
    /// An encoder for `clients` clients (numbered 0..clients).
    pub fn new(clients: u32) -> Self {
        HistoryEncoder {
            clients,
            process: (0..u64::from(clients)).collect(),
            index: 0,
        }
    }

    /// The line of one client event (no trailing newline).
    pub fn client_line(&mut self, e: &HistoryEvent) -> String {
        let slot = &mut self.process[e.process as usize];
        let process = *slot;
        if e.kind == EventType::Info {
            *slot += u64::from(self.clients);
        }
        let value = match e.value {
            HistValue::None => "null".to_string(),
            HistValue::Int(v) => v.to_string(),
            HistValue::Pair(a, b) => format!("[{a},{b}]"),
        };
        let line = format!(
            r#"{{"index":{},"time":{},"process":{process},"type":"{}","f":"{}","key":{},"value":{value}}}"#,
            self.index,
            e.time.0 * 1000,
            e.kind.as_str(),
            e.f.as_str(),
            e.key,
        );
        self.index += 1;
        line
    }

    /// The line of one nemesis operation: process `"nemesis"`, type
    /// `"info"` (Jepsen's nemesis operations have no invoke/ok pairs), `f`
    /// the fault kind, `value` the affected nodes (a partition: its groups).
    pub fn nemesis_line(&mut self, op: &NemesisOp) -> String {
        let list = |v: &[u32]| {
            let items: Vec<String> = v.iter().map(u32::to_string).collect();
            format!("[{}]", items.join(","))
        };
        let value = if op.groups.is_empty() {
            list(&op.nodes)
        } else {
            let groups: Vec<String> = op.groups.iter().map(|g| list(g)).collect();
            format!("[{}]", groups.join(","))
        };
        // Fault kinds are fixed lower-case words; keep the line valid JSON
        // whatever they are.
        let f: String =
            op.f.chars()
                .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
                .collect();
        let line = format!(
            r#"{{"index":{},"time":{},"process":"nemesis","type":"info","f":"{f}","value":{value}}}"#,
            self.index,
            op.time.0 * 1000,
        );
        self.index += 1;
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::linearizability::{check, Verdict};

    fn ev(
        process: u32,
        kind: EventType,
        f: OpFn,
        key: i64,
        value: HistValue,
        t: u64,
    ) -> HistoryEvent {
        HistoryEvent {
            process,
            kind,
            f,
            key,
            value,
            time: SimTime(t),
            seq: 0,
        }
    }

    use EventType::{Fail, Info, Invoke, Ok as Done};
    use HistValue::{Int, Pair};

    /// A small two-client history pairs invokes with completions per process:
    /// ok, fail and info completions map to the matching outcomes, a read
    /// takes its value from the completion, and an invoke left open at the
    /// end becomes Info.
    #[test]
    fn to_lin_ops_pairs_invokes_with_completions_per_process() {
        let h = vec![
            ev(0, Invoke, OpFn::Write, 1, Int(7), 10),
            ev(1, Invoke, OpFn::Read, 1, HistValue::None, 12),
            ev(0, Done, OpFn::Write, 1, Int(7), 20),
            ev(1, Done, OpFn::Read, 1, Int(7), 25),
            ev(0, Invoke, OpFn::Cas, 1, Pair(3, 9), 30),
            ev(1, Invoke, OpFn::Read, 2, HistValue::None, 31),
            ev(0, Fail, OpFn::Cas, 1, Pair(3, 9), 40),
            ev(1, Done, OpFn::Read, 2, HistValue::None, 41),
            ev(0, Invoke, OpFn::Write, 2, Int(5), 50),
            ev(0, Info, OpFn::Write, 2, Int(5), 90),
            ev(1, Invoke, OpFn::Cas, 1, Pair(7, 8), 95),
        ];
        let ops = to_lin_ops(&h);
        assert_eq!(
            ops,
            vec![
                Op::write(0, 1, 7).between(10, 20),
                Op::read(1, 1, Some(7)).between(12, 25),
                Op::cas(0, 1, 3, 9).failed_between(30, 40),
                Op::read(1, 2, None).between(31, 41),
                Op::write(0, 2, 5).info_at(50),
                Op::cas(1, 1, 7, 8).info_at(95),
            ]
        );
        let report = check(&ops).expect("well-formed");
        assert_eq!(report.verdict, Verdict::Linearizable);
    }

    /// The example in `docs/history-format.md` (times here in µs) pairs up as
    /// the document says and is linearizable, and the encoder writes exactly
    /// the document's lines (process retirement, nemesis entry, index).
    #[test]
    fn documented_example_pairs_up_and_is_linearizable() {
        let h = vec![
            ev(0, Invoke, OpFn::Write, 0, Int(1), 1_000),
            ev(1, Invoke, OpFn::Read, 0, HistValue::None, 1_200),
            ev(0, Done, OpFn::Write, 0, Int(1), 3_000),
            ev(1, Done, OpFn::Read, 0, Int(1), 3_100),
            ev(0, Invoke, OpFn::Cas, 0, Pair(5, 2), 9_000),
            ev(1, Invoke, OpFn::Write, 1, Int(1_000_001), 9_500),
            ev(0, Fail, OpFn::Cas, 0, Pair(5, 2), 11_000),
            ev(1, Info, OpFn::Write, 1, Int(1_000_001), 1_009_500),
            ev(1, Invoke, OpFn::Read, 1, HistValue::None, 1_010_000),
        ];
        let ops = to_lin_ops(&h);
        assert_eq!(
            ops,
            vec![
                Op::write(0, 0, 1).between(1_000, 3_000),
                Op::read(1, 0, Some(1)).between(1_200, 3_100),
                Op::cas(0, 0, 5, 2).failed_between(9_000, 11_000),
                Op::write(1, 1, 1_000_001).info_at(9_500),
                Op::read(1, 1, None).info_at(1_010_000),
            ]
        );
        assert_eq!(
            check(&ops).expect("well-formed").verdict,
            Verdict::Linearizable
        );
        let mut enc = HistoryEncoder::new(2);
        let mut lines: Vec<String> = Vec::new();
        for (i, e) in h.iter().enumerate() {
            if i == 4 {
                lines.push(enc.nemesis_line(&NemesisOp {
                    time: SimTime(5_000),
                    f: "partition".to_string(),
                    nodes: vec![],
                    groups: vec![vec![0, 1], vec![2, 3, 4]],
                }));
            }
            lines.push(enc.client_line(e));
        }
        let doc = include_str!("../../docs/history-format.md");
        let example = doc
            .split("## Example")
            .nth(1)
            .and_then(|s| s.split("```json\n").nth(1))
            .and_then(|s| s.split("```").next())
            .expect("the example block");
        assert_eq!(example.lines().collect::<Vec<_>>(), lines);
    }

    /// A stale read (it returns a value overwritten before it was invoked)
    /// survives the conversion and the checker rejects it.
    #[test]
    fn stale_read_history_is_not_linearizable() {
        let h = vec![
            ev(0, Invoke, OpFn::Write, 0, Int(1), 0),
            ev(0, Done, OpFn::Write, 0, Int(1), 10),
            ev(0, Invoke, OpFn::Write, 0, Int(2), 20),
            ev(0, Done, OpFn::Write, 0, Int(2), 30),
            ev(1, Invoke, OpFn::Read, 0, HistValue::None, 40),
            ev(1, Done, OpFn::Read, 0, Int(1), 50),
        ];
        let ops = to_lin_ops(&h);
        assert_eq!(
            check(&ops).expect("well-formed").verdict,
            Verdict::NotLinearizable
        );
    }

    /// An invoke followed by another invoke of the same process leaves the
    /// first without completion (Info); a completion with nothing open is
    /// ignored; a malformed invoke (write without a value) is skipped.
    #[test]
    fn to_lin_ops_tolerates_unpaired_events() {
        let h = vec![
            ev(0, Done, OpFn::Read, 1, Int(1), 1),
            ev(0, Invoke, OpFn::Write, 1, Int(4), 2),
            ev(0, Invoke, OpFn::Read, 1, HistValue::None, 3),
            ev(0, Done, OpFn::Read, 1, Int(4), 4),
            ev(0, Invoke, OpFn::Write, 1, HistValue::None, 5),
        ];
        assert_eq!(
            to_lin_ops(&h),
            vec![
                Op::write(0, 1, 4).info_at(2),
                Op::read(0, 1, Some(4)).between(3, 4),
            ]
        );
    }

    /// `merge` sorts by time; ties go by process number, then by the order
    /// within the input history.
    #[test]
    fn merge_sorts_by_time_then_process_then_input_order() {
        let a = vec![
            ev(2, Invoke, OpFn::Write, 0, Int(1), 5),
            ev(2, Done, OpFn::Write, 0, Int(1), 9),
        ];
        let b = vec![
            ev(1, Invoke, OpFn::Read, 0, HistValue::None, 5),
            ev(1, Done, OpFn::Read, 0, Int(1), 9),
            ev(1, Invoke, OpFn::Read, 0, HistValue::None, 9),
        ];
        let c = vec![ev(0, Invoke, OpFn::Read, 0, HistValue::None, 7)];
        let m = merge(vec![a, b, c]);
        let order: Vec<(u64, u32, EventType)> =
            m.iter().map(|e| (e.time.0, e.process, e.kind)).collect();
        assert_eq!(
            order,
            vec![
                (5, 1, Invoke),
                (5, 2, Invoke),
                (7, 0, Invoke),
                (9, 1, Done),
                (9, 1, Invoke),
                (9, 2, Done),
            ]
        );
        assert!(m.windows(2).all(|w| w[0].time <= w[1].time));
    }

    /// `latencies` measures ok and fail operations only; `summary` counts
    /// events and open invocations.
    #[test]
    fn latencies_and_summary_count_completed_operations() {
        let h = vec![
            ev(0, Invoke, OpFn::Write, 1, Int(7), 10),
            ev(1, Invoke, OpFn::Cas, 1, Pair(1, 2), 11),
            ev(0, Done, OpFn::Write, 1, Int(7), 20),
            ev(1, Fail, OpFn::Cas, 1, Pair(1, 2), 41),
            ev(0, Invoke, OpFn::Read, 1, HistValue::None, 50),
            ev(0, Info, OpFn::Read, 1, HistValue::None, 60),
            ev(1, Invoke, OpFn::Read, 1, HistValue::None, 70),
        ];
        assert_eq!(latencies(&h), vec![SimDuration(10), SimDuration(30)]);
        assert_eq!(
            summary(&h),
            HistorySummary {
                invoked: 4,
                ok: 1,
                fail: 1,
                info: 1,
                open: 1,
            }
        );
    }
}
