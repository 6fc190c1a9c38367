//! Log replication (§3.5): the leader's appends (pipelined, with probing
//! and fast backtracking, §5.3), the follower's consistency check, and
//! commitment (§3.6.2, Figure 8).

use super::config::Bug;
use super::messages::{AppendEntries, AppendEntriesResp, Entry, Msg, Record};
use super::node::{Ctx, RaftNode, RaftRole, TIMER_HEARTBEAT};
use super::progress::{ProgressState, SNAPSHOT_RETRY_TICKS, STALL_TICKS};
use super::StateMachine;
use crate::ids::{LogIndex, NodeId, Term};
use crate::process::CrashPoint;

impl<S: StateMachine> RaftNode<S> {
    pub(super) fn append_local(&mut self, ctx: &mut Ctx<'_, '_, S>, entry: Entry<S::Command>) {
        assert_eq!(self.role, RaftRole::Leader);
        assert!(entry.term() >= self.log.last_term() || !self.config.bugs.is_empty());
        let first = LogIndex(self.log.last_index().0 + 1);
        ctx.persist(Record::Entries {
            first,
            entries: vec![entry.clone()],
        });
        self.unsynced = true;
        self.log.push(entry);
    }

    pub(super) fn broadcast_append(&mut self, ctx: &mut Ctx<'_, '_, S>) {
        for p in 0..self.config.nodes {
            if p != self.id.0 {
                self.send_append(ctx, NodeId(p), false);
            }
        }
    }

    /// Send what `peer` needs next: entries (pipelined or a probe), a
    /// snapshot, or, when `heartbeat` and nothing else is due, an empty
    /// append that asserts leadership.
    pub(super) fn send_append(&mut self, ctx: &mut Ctx<'_, '_, S>, peer: NodeId, heartbeat: bool) {
        let p = peer.index();
        // Bounded: at most max_inflight_appends batches per call.
        for _ in 0..self.config.max_inflight_appends {
            let pr = &self.progress[p];
            match pr.state {
                ProgressState::Snapshot => {
                    if heartbeat {
                        self.send_heartbeat(ctx, peer);
                    }
                    return;
                }
                ProgressState::Probe => {
                    if pr.probe_sent && !heartbeat {
                        return;
                    }
                }
                ProgressState::Replicate => {
                    let full = pr.inflight.len() >= self.config.max_inflight_appends;
                    if full || pr.next_index > self.log.last_index() {
                        if heartbeat {
                            self.send_heartbeat(ctx, peer);
                        }
                        return;
                    }
                }
            }
            let next = self.progress[p].next_index;
            if next <= self.log.snapshot_index() {
                self.send_snapshot(ctx, peer);
                return;
            }
            let prev = LogIndex(next.0 - 1);
            let prev_term = self
                .log
                .term_at(prev)
                .expect("prev is live or the snapshot point");
            let entries = self
                .log
                .entries_from(next, self.config.max_entries_per_append)
                .to_vec();
            let n = entries.len() as u64;
            let pr = &mut self.progress[p];
            match pr.state {
                ProgressState::Replicate => {
                    pr.inflight.push_back(prev.0 + n);
                    pr.next_index = LogIndex(prev.0 + n + 1);
                }
                _ => pr.probe_sent = true,
            }
            let msg = Msg::AppendEntries(AppendEntries {
                term: self.current_term,
                prev_log_index: prev,
                prev_log_term: prev_term,
                entries,
                leader_commit: self.commit_index,
            });
            self.send(ctx, peer, msg);
            if self.progress[p].state != ProgressState::Replicate {
                return;
            }
        }
    }

    /// An empty append at the follower's known match point (or the snapshot
    /// point if that is compacted): it never fails on a healthy follower
    /// even when pipelined appends are reordered.
    fn send_heartbeat(&mut self, ctx: &mut Ctx<'_, '_, S>, peer: NodeId) {
        let prev = self.progress[peer.index()]
            .match_index
            .max(self.log.snapshot_index())
            .min(self.log.last_index());
        let prev_term = self
            .log
            .term_at(prev)
            .expect("prev is live or the snapshot point");
        let msg = Msg::AppendEntries(AppendEntries {
            term: self.current_term,
            prev_log_index: prev,
            prev_log_term: prev_term,
            entries: Vec::new(),
            leader_commit: self.commit_index,
        });
        self.send(ctx, peer, msg);
    }

    pub(super) fn on_heartbeat_tick(&mut self, ctx: &mut Ctx<'_, '_, S>) {
        if self.role != RaftRole::Leader {
            return;
        }
        ctx.set_timer(TIMER_HEARTBEAT, self.config.heartbeat);
        // A one-node cluster commits here, after its appends were synced by
        // the previous step (see `maybe_commit`).
        self.maybe_commit(ctx);
        for p in 0..self.config.nodes {
            if p == self.id.0 {
                continue;
            }
            let pr = &mut self.progress[p as usize];
            let acked = std::mem::take(&mut pr.acked_since_tick);
            match pr.state {
                ProgressState::Replicate if !pr.inflight.is_empty() && !acked => {
                    pr.stalled_ticks += 1;
                    if pr.stalled_ticks >= STALL_TICKS {
                        // Appends were lost: resend from the match point.
                        pr.become_probe();
                    }
                }
                ProgressState::Snapshot => {
                    pr.stalled_ticks += 1;
                    if pr.stalled_ticks >= SNAPSHOT_RETRY_TICKS {
                        pr.become_probe();
                    }
                }
                _ => pr.stalled_ticks = 0,
            }
            self.send_append(ctx, NodeId(p), true);
        }
    }

    /// Advance the commit index to the highest index stored on a majority,
    /// if that entry is from the current term (§3.6.2, Figure 8).
    pub(super) fn maybe_commit(&mut self, ctx: &mut Ctx<'_, '_, S>) {
        if self.role != RaftRole::Leader {
            return;
        }
        self.match_scratch.clear();
        for (p, pr) in self.progress.iter().enumerate() {
            // The leader's own entries: every message it sent was preceded by
            // a sync, and any majority of two or more includes a follower
            // whose ack proves the leader synced that far. A one-node cluster
            // only commits from the heartbeat tick, after its sync.
            let m = if p == self.id.index() {
                self.log.last_index()
            } else {
                pr.match_index
            };
            self.match_scratch.push(m.0);
        }
        self.match_scratch.sort_unstable_by(|a, b| b.cmp(a));
        let candidate = if self.config.bugs.contains(Bug::QuorumMode) {
            LogIndex(mode_of_sorted(&self.match_scratch))
        } else {
            LogIndex(self.match_scratch[self.config.quorum() - 1])
        };
        if candidate <= self.commit_index {
            return;
        }
        let current = self.log.term_at(candidate) == Some(self.current_term);
        if current || self.config.bugs.contains(Bug::CommitPreviousTerm) {
            self.commit_index = candidate;
            self.apply_committed(ctx);
            ctx.crash_point(CrashPoint::CommitAdvanced);
        }
    }

    pub(super) fn handle_append_entries(
        &mut self,
        ctx: &mut Ctx<'_, '_, S>,
        from: NodeId,
        m: AppendEntries<S::Command>,
    ) {
        let AppendEntries {
            term,
            prev_log_index,
            prev_log_term,
            mut entries,
            leader_commit,
        } = m;
        let reject = |node: &Self, conflict_index: LogIndex, conflict_term: Option<Term>| {
            Msg::AppendEntriesResp(AppendEntriesResp {
                term: node.current_term,
                success: false,
                match_index: LogIndex(0),
                reject_index: prev_log_index,
                conflict_index,
                conflict_term,
            })
        };
        if term < self.current_term {
            let msg = reject(self, LogIndex(0), None);
            self.send(ctx, from, msg);
            return;
        }
        if self.role == RaftRole::Leader && !self.config.bugs.is_empty() {
            return;
        }
        self.follow(ctx, from);
        if self.config.bugs.contains(Bug::CommitPastMatch) {
            let unverified = leader_commit.min(self.log.last_index());
            if unverified > self.commit_index {
                self.commit_index = unverified;
                self.apply_committed(ctx);
            }
        }

        let mut prev = prev_log_index;
        let mut prev_term = prev_log_term;
        let snap = self.log.snapshot_index();
        if prev < snap {
            // Our prefix up to `snap` is committed, hence equal to the
            // leader's: drop what it covers.
            let covered = (snap.0 - prev.0) as usize;
            if covered >= entries.len() {
                let msg = self.append_ok(snap);
                self.send(ctx, from, msg);
                return;
            }
            entries.drain(..covered);
            prev = snap;
            prev_term = self.log.snapshot_term();
        }
        let last = self.log.last_index();
        if prev > last {
            let msg = reject(self, LogIndex(last.0 + 1), None);
            self.send(ctx, from, msg);
            return;
        }
        let ours = self
            .log
            .term_at(prev)
            .expect("prev is live or the snapshot point");
        if ours != prev_term && !self.config.bugs.contains(Bug::SkipLogCheck) {
            let first = self.log.first_index_of_term_run(prev);
            let msg = reject(self, first, Some(ours));
            self.send(ctx, from, msg);
            return;
        }

        let n = entries.len() as u64;
        // Skip the entries we already hold; the first conflicting or new one
        // starts what we store (§3.5: never truncate a matching suffix, a
        // delayed append must not undo a later one).
        let mut skip = 0usize;
        while skip < entries.len() {
            let index = LogIndex(prev.0 + 1 + skip as u64);
            match self.log.term_at(index) {
                Some(t) if t == entries[skip].term() => skip += 1,
                Some(_) if index <= self.commit_index => {
                    // A committed entry conflicts: impossible unless a bug
                    // is injected; keep ours so checkers can see the split.
                    assert!(
                        !self.config.bugs.is_empty(),
                        "conflict at committed {index}"
                    );
                    skip += 1;
                }
                _ => break,
            }
        }
        if skip < entries.len() {
            let first = LogIndex(prev.0 + 1 + skip as u64);
            if first <= self.log.last_index() {
                ctx.persist(Record::TruncateFrom(first));
                self.log.truncate_from(first);
            }
            let new: Vec<_> = entries.drain(skip..).collect();
            if self.config.bugs.is_empty() {
                assert!(
                    new[0].term() >= self.log.last_term(),
                    "log terms must not decrease"
                );
            }
            ctx.persist(Record::Entries {
                first,
                entries: new.clone(),
            });
            self.unsynced = true;
            for e in new {
                self.log.push(e);
            }
        } else if self.config.bugs.contains(Bug::StaleAppendTruncate)
            && n > 0
            && LogIndex(prev.0 + n) < self.log.last_index()
        {
            // Bug: whatever follows the append's entries is dropped, matching
            // or not (a heartbeat, with none, leaves the log alone).
            let after = LogIndex(prev.0 + n + 1);
            ctx.persist(Record::TruncateFrom(after));
            self.unsynced = true;
            self.log.truncate_from(after);
        }
        let matched = LogIndex(prev.0 + n);
        let new_commit = leader_commit.min(matched);
        if new_commit > self.commit_index {
            self.commit_index = new_commit;
            self.apply_committed(ctx);
        }
        let msg = self.append_ok(matched);
        if self.config.bugs.contains(Bug::AckBeforeFsync) {
            // Bug: the ack leaves before the entries' sync (issued when the
            // handler ends), so a crash in between loses acked entries.
            ctx.send(from, msg);
            ctx.crash_point(CrashPoint::AppendAcked);
            return;
        }
        self.send(ctx, from, msg);
        ctx.crash_point(CrashPoint::AppendAcked);
    }

    fn append_ok(&self, matched: LogIndex) -> Msg<S::Command, S::Output> {
        Msg::AppendEntriesResp(AppendEntriesResp {
            term: self.current_term,
            success: true,
            match_index: matched,
            reject_index: LogIndex(0),
            conflict_index: LogIndex(0),
            conflict_term: None,
        })
    }

    pub(super) fn handle_append_resp(
        &mut self,
        ctx: &mut Ctx<'_, '_, S>,
        from: NodeId,
        m: AppendEntriesResp,
    ) {
        let AppendEntriesResp {
            term,
            success,
            match_index,
            reject_index,
            conflict_index,
            conflict_term,
        } = m;
        if self.role != RaftRole::Leader || term != self.current_term {
            return;
        }
        let last = self.log.last_index();
        if success && match_index > last {
            // An ack for entries this leader never had: only a second
            // leader of the same term (a planted bug; election safety
            // reports it) can cause one. Ignored rather than trusted, so a
            // buggy run ends in a checker verdict, not a panic.
            return;
        }
        let pr = &mut self.progress[from.index()];
        pr.recent_active = true;
        if success {
            let advanced = match_index > pr.match_index;
            if advanced {
                pr.match_index = match_index;
                pr.acked_since_tick = true;
                pr.stalled_ticks = 0;
            }
            while pr.inflight.front().is_some_and(|&i| i <= match_index.0) {
                pr.inflight.pop_front();
            }
            match pr.state {
                ProgressState::Probe => pr.become_replicate(),
                ProgressState::Snapshot => pr.become_replicate(),
                ProgressState::Replicate => {
                    if pr.next_index <= pr.match_index {
                        pr.next_index = LogIndex(pr.match_index.0 + 1);
                    }
                }
            }
            debug_assert!(
                pr.match_index <= last,
                "acks beyond the log are dropped above"
            );
            if advanced && ctx.crash_points_enabled() {
                // Numbered for `crash_at` rules with `k`: this ack makes
                // `nth` followers hold `match_index`.
                let me = self.id.index();
                let nth = self
                    .progress
                    .iter()
                    .enumerate()
                    .filter(|&(p, pr)| p != me && pr.match_index >= match_index)
                    .count() as u32;
                ctx.crash_point_nth(CrashPoint::AckReceived, nth);
            }
            self.maybe_commit(ctx);
            if self.role == RaftRole::Leader {
                self.send_append(ctx, from, false);
            }
            return;
        }
        // A rejection. Stale ones (for an older point than we now know
        // matches, or not our current probe) are ignored.
        let stale = match pr.state {
            ProgressState::Replicate => reject_index <= pr.match_index,
            ProgressState::Probe => reject_index.0 + 1 != pr.next_index.0,
            ProgressState::Snapshot => true,
        };
        if stale {
            return;
        }
        // Fast backtracking (§5.3): jump over the whole conflicting term.
        let hinted = match conflict_term.and_then(|t| self.log.last_index_of_term(t)) {
            Some(i) => LogIndex(i.0 + 1),
            None => conflict_index,
        };
        if self.config.bugs.contains(Bug::LeaderTruncatesTail)
            && hinted > self.commit_index
            && hinted <= last
        {
            ctx.persist(Record::TruncateFrom(hinted));
            self.log.truncate_from(hinted);
        }
        let pr = &mut self.progress[from.index()];
        let next = hinted.min(reject_index).max(LogIndex(pr.match_index.0 + 1));
        pr.become_probe();
        pr.next_index = next;
        self.send_append(ctx, from, false);
    }
}

/// [`Bug::QuorumMode`]: the most frequent value of a slice sorted in
/// descending order, ties to the higher value.
fn mode_of_sorted(sorted_desc: &[u64]) -> u64 {
    let (mut best, mut best_count) = (0, 0);
    let mut i = 0;
    while i < sorted_desc.len() {
        let v = sorted_desc[i];
        let run = sorted_desc[i..].iter().take_while(|&&x| x == v).count();
        if run > best_count {
            (best, best_count) = (v, run);
        }
        i += run;
    }
    best
}
