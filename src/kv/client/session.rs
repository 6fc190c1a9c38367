//! The session with the cluster: the one outstanding operation and how it
//! reaches the leader. Every resend reuses the operation's sequence
//! number, so the servers' session table applies it at most once.

use super::tap::describe;
use super::{Ctx, KvClient, RETRY_TIMER};
use crate::ids::NodeId;
use crate::kv::history::EventType;
use crate::kv::store::{KvCommand, KvOutput};
use crate::raft::{ClientRequest, ClientResult, Msg};
use crate::time::{SimDuration, SimTime};

/// Consecutive redirects to a hinted leader that use the short fixed
/// backoff; after that the client backs off exponentially even with a hint
/// (two servers pointing at each other must not make it spin).
fn max_fast_redirects(servers: u32) -> u32 {
    servers.saturating_mul(2)
}

/// What the outstanding operation is waiting for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Waiting {
    /// A request is in flight to `target`; `RETRY_TIMER` means "no answer".
    Reply,
    /// A redirect said to try `target`; `RETRY_TIMER` ends the backoff.
    Backoff,
}

/// The one operation in flight.
#[derive(Clone, Copy, Debug)]
pub(super) struct Outstanding {
    pub(super) seq: u64,
    pub(super) cmd: KvCommand,
    pub(super) invoked_at: SimTime,
    pub(super) target: NodeId,
    pub(super) waiting: Waiting,
    /// Consecutive `NotLeader` answers for this operation.
    pub(super) redirects: u32,
}

impl KvClient {
    /// Send the outstanding request to its target and wait `retry_after`.
    pub(super) fn send_request(&mut self, ctx: &mut Ctx<'_>) {
        let op = self.op.as_mut().expect("sending with nothing outstanding");
        op.waiting = Waiting::Reply;
        let msg = Msg::ClientRequest(ClientRequest {
            client: self.id,
            seq: op.seq,
            cmd: op.cmd,
        });
        ctx.send(op.target, msg);
        ctx.set_timer(RETRY_TIMER, self.cfg.retry_after);
    }

    pub(super) fn on_reply(
        &mut self,
        ctx: &mut Ctx<'_>,
        from: NodeId,
        seq: u64,
        result: ClientResult<KvOutput>,
    ) {
        let Some(op) = self.op else {
            self.stats.stale_responses += 1;
            return;
        };
        if seq != op.seq {
            // A late answer to an earlier request (already completed or
            // given up on): its outcome is already in the history.
            self.stats.stale_responses += 1;
            return;
        }
        match result {
            ClientResult::Ok(out) => {
                self.leader = Some(from);
                self.complete(ctx, op, out);
            }
            ClientResult::NotLeader { leader_hint } => {
                if from != op.target {
                    // A server we already moved away from; the current
                    // target's answer (or silence) decides.
                    self.stats.stale_responses += 1;
                    return;
                }
                self.redirect(ctx, from, leader_hint);
            }
        }
    }

    pub(super) fn redirect(&mut self, ctx: &mut Ctx<'_>, from: NodeId, hint: Option<NodeId>) {
        self.stats.redirects += 1;
        let mut op = self.op.expect("redirect with nothing outstanding");
        op.redirects = op.redirects.saturating_add(1);
        // A hint outside the cluster or pointing back at the sender is no
        // hint at all.
        let hint = hint.filter(|l| l.0 < self.cfg.servers && *l != from);
        let delay = match hint {
            Some(l) => {
                self.leader = Some(l);
                op.target = l;
                if op.redirects <= max_fast_redirects(self.cfg.servers) {
                    self.cfg.backoff_min
                } else {
                    self.jittered_backoff(ctx, op.redirects)
                }
            }
            None => {
                self.leader = None;
                op.target = self.random_server(ctx, Some(from));
                self.jittered_backoff(ctx, op.redirects)
            }
        };
        op.waiting = Waiting::Backoff;
        self.op = Some(op);
        ctx.set_timer(RETRY_TIMER, delay);
    }

    /// "Full jitter": uniform in `[0, min(backoff_max, backoff_min · 2^(n-1))]`.
    pub(super) fn jittered_backoff(&self, ctx: &mut Ctx<'_>, attempt: u32) -> SimDuration {
        let doublings = attempt.saturating_sub(1).min(32);
        let cap = self
            .cfg
            .backoff_min
            .as_micros()
            .saturating_mul(1u64 << doublings)
            .min(self.cfg.backoff_max.as_micros());
        SimDuration(ctx.rng().range_inclusive(0, cap))
    }

    pub(super) fn on_retry_timer(&mut self, ctx: &mut Ctx<'_>) {
        let Some(mut op) = self.op else {
            return; // Stale: the operation already ended.
        };
        if op.waiting == Waiting::Reply {
            // No answer: suspect the target, try someone else.
            self.stats.retries += 1;
            self.leader = None;
            op.target = self.random_server(ctx, Some(op.target));
            self.op = Some(op);
        }
        self.send_request(ctx);
    }

    pub(super) fn on_timeout_timer(&mut self, ctx: &mut Ctx<'_>) {
        let Some(op) = self.op else {
            return; // Stale.
        };
        if ctx.now() < op.invoked_at + self.cfg.timeout {
            return; // Stale: armed for an earlier operation.
        }
        let (f, key, value) = describe(&op.cmd);
        self.record(EventType::Info, f, key, value, ctx.now());
        self.stats.info += 1;
        self.leader = None;
        self.end_op(ctx);
    }
    /// A uniformly random server, other than `avoid` when there is a choice.
    pub(super) fn random_server(&self, ctx: &mut Ctx<'_>, avoid: Option<NodeId>) -> NodeId {
        let n = self.cfg.servers;
        match avoid {
            Some(a) if n > 1 && a.0 < n => {
                // Draw among the n-1 others and skip over `a`.
                let i = ctx.rng().range_inclusive(0, u64::from(n) - 2) as u32;
                NodeId(if i >= a.0 { i + 1 } else { i })
            }
            _ => NodeId(ctx.rng().range_inclusive(0, u64::from(n) - 1) as u32),
        }
    }
}
