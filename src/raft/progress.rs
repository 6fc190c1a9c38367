//! What the leader tracks per follower: the match point, pipelining
//! state and liveness for check-quorum (§3.5, §10.2).

use crate::ids::LogIndex;
use std::collections::VecDeque;

/// Heartbeat ticks without any ack before a pipelined follower falls back to
/// probing (our retransmission timeout).
pub(super) const STALL_TICKS: u32 = 3;
/// Heartbeat ticks before an unanswered InstallSnapshot is sent again.
pub(super) const SNAPSHOT_RETRY_TICKS: u32 = 4;

/// What the leader knows about one follower's log (§3.5, §10.2).
#[derive(Clone, Debug)]
pub(super) struct Progress {
    /// Highest index known to match the leader's log.
    pub(super) match_index: LogIndex,
    /// Next index to send.
    pub(super) next_index: LogIndex,
    pub(super) state: ProgressState,
    /// Last index carried by each outstanding pipelined append, oldest
    /// first; at most `max_inflight_appends` long.
    pub(super) inflight: VecDeque<u64>,
    /// In `Probe`: a probe is outstanding (wait for its answer or a tick).
    pub(super) probe_sent: bool,
    /// Heard from this follower since the last check-quorum tick.
    pub(super) recent_active: bool,
    /// Heartbeat ticks without an ack while appends are outstanding (or
    /// since a snapshot was sent).
    pub(super) stalled_ticks: u32,
    /// An ack moved `match_index` since the last heartbeat tick.
    pub(super) acked_since_tick: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ProgressState {
    /// Finding the match point: one append at a time.
    Probe,
    /// Match point known: optimistic pipelining.
    Replicate,
    /// An InstallSnapshot is outstanding.
    Snapshot,
}

impl Progress {
    pub(super) fn new(next: LogIndex, cap: usize) -> Self {
        Progress {
            match_index: LogIndex(0),
            next_index: next,
            state: ProgressState::Probe,
            inflight: VecDeque::with_capacity(cap),
            probe_sent: false,
            recent_active: false,
            stalled_ticks: 0,
            acked_since_tick: false,
        }
    }

    pub(super) fn become_probe(&mut self) {
        self.state = ProgressState::Probe;
        self.next_index = LogIndex(self.match_index.0 + 1);
        self.inflight.clear();
        self.probe_sent = false;
        self.stalled_ticks = 0;
    }

    pub(super) fn become_replicate(&mut self) {
        self.state = ProgressState::Replicate;
        self.next_index = LogIndex(self.match_index.0 + 1);
        self.inflight.clear();
        self.probe_sent = false;
        self.stalled_ticks = 0;
    }
}
