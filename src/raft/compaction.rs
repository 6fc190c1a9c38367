//! Log compaction (§5): taking a snapshot every `snapshot_every` applied
//! entries, rewriting the disk to it, and sending and installing snapshots
//! (InstallSnapshot, §5.3). The encoding itself is in [`super::snapshot`].

use super::messages::{InstallSnapshot, InstallSnapshotResp, Msg, Record, SnapshotMeta};
use super::node::{Ctx, RaftNode, RaftRole};
use super::progress::ProgressState;
use super::snapshot::{self, Sessions};
use super::StateMachine;
use crate::ids::{LogIndex, NodeId};
use crate::process::CrashPoint;
use std::rc::Rc;

/// The latest snapshot held in memory (to send to lagging followers).
#[derive(Clone, Debug)]
pub(super) struct SnapshotData {
    pub(super) meta: SnapshotMeta,
    pub(super) data: Rc<[u8]>,
    pub(super) checksum: u64,
}

impl<S: StateMachine> RaftNode<S> {
    pub(super) fn maybe_snapshot(&mut self, ctx: &mut Ctx<'_, '_, S>) {
        let every = self.config.snapshot_every;
        if every == 0 || self.last_applied.0 - self.log.snapshot_index().0 < every {
            return;
        }
        let meta = SnapshotMeta {
            last_index: self.last_applied,
            last_term: self
                .log
                .term_at(self.last_applied)
                .expect("applied entry is live"),
        };
        let data = snapshot::encode(meta, &self.sm, &self.sessions);
        let checksum = snapshot::checksum(&data);
        self.log.compact_to(meta.last_index);
        self.snapshot = Some(SnapshotData {
            meta,
            data,
            checksum,
        });
        self.rewrite_disk(ctx);
    }

    /// Compact the disk to (hard state, snapshot, live entries), so disk use
    /// stays bounded by the snapshot interval.
    fn rewrite_disk(&mut self, ctx: &mut Ctx<'_, '_, S>) {
        let snap = self.snapshot.as_ref().expect("rewrite after a snapshot");
        let mut records = Vec::with_capacity(3);
        records.push(self.hard_state_record());
        records.push(Record::Snapshot {
            meta: snap.meta,
            data: Rc::clone(&snap.data),
            checksum: snap.checksum,
        });
        if !self.log.entries().is_empty() {
            records.push(Record::Entries {
                first: LogIndex(self.log.snapshot_index().0 + 1),
                entries: self.log.entries().to_vec(),
            });
        }
        ctx.rewrite(records);
        self.unsynced = true;
    }

    /// Replace state machine, sessions and log prefix with a snapshot.
    pub(super) fn install(&mut self, snap: SnapshotData, mut sm: S, sessions: Sessions<S::Output>) {
        self.log
            .install_snapshot(snap.meta.last_index, snap.meta.last_term);
        self.sm.hand_over(&mut sm);
        self.sm = sm;
        self.sessions = sessions;
        self.commit_index = self.commit_index.max(snap.meta.last_index);
        self.last_applied = snap.meta.last_index;
        self.snapshot = Some(snap);
    }

    pub(super) fn send_snapshot(&mut self, ctx: &mut Ctx<'_, '_, S>, peer: NodeId) {
        let snap = self
            .snapshot
            .clone()
            .expect("a compacted log always has a snapshot");
        let pr = &mut self.progress[peer.index()];
        pr.state = ProgressState::Snapshot;
        pr.inflight.clear();
        pr.stalled_ticks = 0;
        let msg = Msg::InstallSnapshot(InstallSnapshot {
            term: self.current_term,
            meta: snap.meta,
            data: snap.data,
            checksum: snap.checksum,
        });
        self.send(ctx, peer, msg);
    }

    pub(super) fn handle_install_snapshot(
        &mut self,
        ctx: &mut Ctx<'_, '_, S>,
        from: NodeId,
        m: InstallSnapshot,
    ) {
        let InstallSnapshot {
            term,
            meta,
            data,
            checksum,
        } = m;
        let resp = |node: &Self, success: bool, last_index: LogIndex| {
            Msg::InstallSnapshotResp(InstallSnapshotResp {
                term: node.current_term,
                success,
                last_index,
            })
        };
        if term < self.current_term {
            let msg = resp(self, false, LogIndex(0));
            self.send(ctx, from, msg);
            return;
        }
        if self.role == RaftRole::Leader && !self.config.bugs.is_empty() {
            return;
        }
        self.follow(ctx, from);
        if snapshot::checksum(&data) != checksum {
            // Corrupted in flight: never applied.
            let msg = resp(self, false, LogIndex(0));
            self.send(ctx, from, msg);
            return;
        }
        if meta.last_index <= self.commit_index {
            // We already have (and committed) all of it.
            let msg = resp(self, true, self.commit_index);
            self.send(ctx, from, msg);
            return;
        }
        let (inner, sm, sessions) = match snapshot::decode::<S>(&data) {
            Ok(x) if x.0 == meta => x,
            _ => {
                let msg = resp(self, false, LogIndex(0));
                self.send(ctx, from, msg);
                return;
            }
        };
        debug_assert_eq!(inner, meta);
        self.install(
            SnapshotData {
                meta,
                data,
                checksum,
            },
            sm,
            sessions,
        );
        self.rewrite_disk(ctx);
        self.crash_point_synced(ctx, CrashPoint::SnapshotInstalled);
        let msg = resp(self, true, meta.last_index);
        self.send(ctx, from, msg);
    }

    pub(super) fn handle_install_snapshot_resp(
        &mut self,
        ctx: &mut Ctx<'_, '_, S>,
        from: NodeId,
        m: InstallSnapshotResp,
    ) {
        let InstallSnapshotResp {
            term,
            success,
            last_index,
        } = m;
        if self.role != RaftRole::Leader || term != self.current_term {
            return;
        }
        let pr = &mut self.progress[from.index()];
        pr.recent_active = true;
        if pr.state != ProgressState::Snapshot {
            return;
        }
        if success {
            if last_index > pr.match_index {
                pr.match_index = last_index;
                pr.acked_since_tick = true;
            }
            pr.become_replicate();
            self.maybe_commit(ctx);
            if self.role == RaftRole::Leader {
                self.send_append(ctx, from, false);
            }
        } else {
            // Rejected: wait for the next heartbeat tick to try again rather
            // than loop on a snapshot that keeps failing.
            pr.become_probe();
            pr.probe_sent = true;
        }
    }
}
