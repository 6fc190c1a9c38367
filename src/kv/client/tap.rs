//! The history tap: the client records each invocation and completion as
//! a Jepsen-style [`HistoryEvent`] and holds only the latest handler's
//! events; the runner's observer collects them after every event.

use super::KvClient;
use crate::kv::history::{EventType, HistValue, HistoryEvent, OpFn};
use crate::kv::store::KvCommand;
use crate::time::SimTime;

impl KvClient {
    /// The history events recorded by the latest handler call (invocation
    /// or completion; at most two), in order, each with `seq` 0. The
    /// client keeps no history itself: whoever wants it collects these
    /// after every event the client handles (the runner does, numbering
    /// them in dispatch order), so its memory does not grow with the run.
    pub fn step_events(&self) -> &[HistoryEvent] {
        &self.step_events
    }

    /// How many history events the client has recorded in its life; with
    /// [`KvClient::step_events`] a collector can tell whether it missed
    /// any.
    pub fn recorded(&self) -> u64 {
        self.recorded
    }

    /// Forget the previous handler's events: called first by every handler.
    pub(super) fn begin_step(&mut self) {
        self.step_events.clear();
    }

    pub(super) fn record(
        &mut self,
        kind: EventType,
        f: OpFn,
        key: i64,
        value: HistValue,
        time: SimTime,
    ) {
        if !self.cfg.record_history {
            return;
        }
        debug_assert!(self.step_events.last().is_none_or(|e| e.time <= time));
        self.recorded += 1;
        self.step_events.push(HistoryEvent {
            process: self.cfg.index,
            kind,
            f,
            key,
            value,
            time,
            seq: 0,
        });
    }
}

/// The history's view of a command: function, key, invocation value.
pub(super) fn describe(cmd: &KvCommand) -> (OpFn, i64, HistValue) {
    match *cmd {
        KvCommand::Read { key } => (OpFn::Read, key, HistValue::None),
        KvCommand::Write { key, value } => (OpFn::Write, key, HistValue::Int(value)),
        KvCommand::Cas { key, expected, new } => (OpFn::Cas, key, HistValue::Pair(expected, new)),
    }
}
