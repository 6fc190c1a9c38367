//! Applying committed entries with exactly-once client sessions (§6.3),
//! client requests, and proposals of an embedding process.

use super::config::Bug;
use super::messages::{ClientRequest, ClientResponse, ClientResult, Entry, Msg, Payload};
use super::node::{Ctx, RaftNode, RaftRole};
use super::snapshot::Session;
use super::{Command, StateMachine};
use crate::ids::{LogIndex, NodeId};
use crate::process::CrashPoint;

impl<S: StateMachine> RaftNode<S> {
    pub(super) fn apply_committed(&mut self, ctx: &mut Ctx<'_, '_, S>) {
        assert!(self.commit_index <= self.log.last_index() || !self.config.bugs.is_empty());
        while self.last_applied < self.commit_index {
            let index = LogIndex(self.last_applied.0 + 1);
            let Some(entry) = self.log.entry(index) else {
                // Only reachable with an injected bug that truncated a
                // committed entry; stop rather than apply a hole.
                break;
            };
            self.last_applied = index;
            self.applied_this_step
                .push((index, entry.term(), entry.digest()));
            let Payload::Command { client, seq, cmd } = entry.payload() else {
                continue;
            };
            let (client, seq) = (*client, *seq);
            // Exactly-once (§6.3): a request at or below the session's last
            // seq was applied before; answer the last one from the table.
            let output = match self.sessions.get(&client) {
                Some(s) if seq < s.seq => None,
                Some(s) if seq == s.seq => Some(s.output.clone()),
                _ => {
                    let out = self.sm.apply(cmd);
                    self.sessions.insert(
                        client,
                        Session {
                            seq,
                            output: out.clone(),
                        },
                    );
                    Some(out)
                }
            };
            // A command this node proposed itself (`propose`) has no one
            // to answer: the proposer reads the state machine instead.
            if let (RaftRole::Leader, Some(out), false) = (self.role, output, client == self.id) {
                let msg = Msg::ClientResponse(ClientResponse {
                    seq,
                    result: ClientResult::Ok(out),
                });
                self.send(ctx, client, msg);
            }
        }
        self.maybe_snapshot(ctx);
    }

    /// Leader only: append `cmd` to the log as if client `client` had sent
    /// request `seq`, without any reply message. For a process that embeds
    /// the node and proposes commands of its own (the collaboration
    /// coordinator proposes with `client` = its own id and a `seq` that
    /// grows across its terms, so the session table never mistakes a new
    /// proposal for a retry). Call it from inside one of the embedding
    /// process's handlers, with the context the node's handlers use; the
    /// appended entry is synced before any message that depends on it.
    ///
    /// Returns `Err(leader_hint)` if this node is not the leader. A `seq` at
    /// or below the session's last applied one is ignored (`Ok`), as for a
    /// client retry.
    pub fn propose(
        &mut self,
        ctx: &mut Ctx<'_, '_, S>,
        client: NodeId,
        seq: u64,
        cmd: S::Command,
    ) -> Result<(), Option<NodeId>> {
        if self.role != RaftRole::Leader {
            return Err(self.leader);
        }
        if self.sessions.get(&client).is_some_and(|s| seq <= s.seq) {
            return Ok(());
        }
        let term = self.current_term;
        self.append_local(ctx, Entry::command(term, client, seq, cmd));
        self.broadcast_append(ctx);
        self.flush(ctx);
        Ok(())
    }

    pub(super) fn handle_client_request(
        &mut self,
        ctx: &mut Ctx<'_, '_, S>,
        from: NodeId,
        m: ClientRequest<S::Command>,
    ) {
        let ClientRequest { client, seq, cmd } = m;
        if self.role != RaftRole::Leader {
            let leader_hint = self.leader;
            self.send(
                ctx,
                from,
                Msg::ClientResponse(ClientResponse {
                    seq,
                    result: ClientResult::NotLeader { leader_hint },
                }),
            );
            return;
        }
        if self.config.bugs.contains(Bug::StaleRead) && cmd.is_read_only() {
            // Bug: answer from local state, which a deposed leader may not
            // know is stale.
            let out = self.sm.apply(&cmd);
            self.send(
                ctx,
                from,
                Msg::ClientResponse(ClientResponse {
                    seq,
                    result: ClientResult::Ok(out),
                }),
            );
            return;
        }
        match self.sessions.get(&client) {
            Some(s) if seq == s.seq => {
                let out = s.output.clone();
                self.send(
                    ctx,
                    from,
                    Msg::ClientResponse(ClientResponse {
                        seq,
                        result: ClientResult::Ok(out),
                    }),
                );
                return;
            }
            // Older than the session's last request: the client has moved on.
            Some(s) if seq < s.seq => return,
            _ => {}
        }
        // Reads go through the log too: linearizable without leases or
        // ReadIndex, at the cost of a log entry per read (§6.4's simplest
        // correct option). Duplicates of an in-flight request may be
        // appended twice; the session table applies them once.
        let term = self.current_term;
        self.append_local(ctx, Entry::command(term, client, seq, cmd));
        self.crash_point_synced(ctx, CrashPoint::EntryAppended);
        self.broadcast_append(ctx);
    }
}
