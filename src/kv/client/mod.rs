//! The KV workload client: a closed-loop process that invokes one operation
//! at a time against the Raft cluster and records a Jepsen-style history.
//!
//! Life of an operation:
//! 1. **Think.** After start, and after each completion, the client waits an
//!    exponentially distributed think time, then invokes (unless `stop_at`
//!    has come).
//! 2. **Invoke.** It draws a read, write or cas on a random key, gives it
//!    the next sequence number, records the invocation and sends it to the
//!    last known leader (initially a random server).
//! 3. **Find the leader.** `NotLeader { leader_hint: Some(l) }` resends to
//!    `l` after `backoff_min`; `NotLeader { None }` resends to another random
//!    server after an exponential backoff with full jitter, capped at
//!    `backoff_max`. No answer within `retry_after` resends to another
//!    server. Every resend reuses the sequence number, so the servers'
//!    session table applies the operation at most once.
//! 4. **Complete.** The first `Ok` answer for the outstanding sequence
//!    number completes the operation (`CasFail` is a definite *fail*). If
//!    `timeout` passes first, the outcome is unknown: the client records
//!    *info* and moves on with a new sequence number.
//!
//! The client persists nothing: a restarted client starts a new, empty
//! history (and its sequence numbers restart, which the servers' sessions
//! would ignore as old; the kernel does not restart clients).
//!
//! Files, one concept each: this one holds the process (its state, the
//! invoke/complete loop and the `Process` handlers); `config` the
//! client's settings; `session` the outstanding operation and how it finds
//! the leader (resends, redirects, backoff, the deadline); `workload` what
//! the client invokes (the operation mix, fresh values, cas candidates);
//! `tap` the history events it records for whoever collects them.

mod config;
mod session;
mod tap;
#[cfg(test)]
mod tests;
mod workload;

pub use config::ClientConfig;
pub use workload::VALUE_STRIDE;

use super::history::{EventType, HistValue, HistoryEvent};
use super::store::{KvCommand, KvOutput};
use crate::ids::{NodeId, TimerId};
use crate::process::{Context, Process};
use crate::raft::{ClientResponse, Msg, Record};
use crate::time::{SimDuration, SimTime};
use session::{Outstanding, Waiting};
use std::collections::BTreeMap;
use tap::describe;

/// The message type the client speaks (the Raft world's).
pub type KvMsg = Msg<KvCommand, KvOutput>;
/// The client's durable record type (unused: it persists nothing).
pub type KvRecord = Record<KvCommand>;
type Ctx<'a> = Context<'a, KvMsg, KvRecord>;

/// Timer: the think time before the next invocation.
pub const THINK_TIMER: TimerId = TimerId(1);
/// Timer: the whole operation's deadline (fires → info).
pub const OP_TIMEOUT_TIMER: TimerId = TimerId(2);
/// Timer: resend the outstanding request (no answer yet, or a backoff after
/// a redirect has elapsed).
pub const RETRY_TIMER: TimerId = TimerId(3);

/// What the client has counted so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// Operations invoked.
    pub invoked: u64,
    /// Completed ok.
    pub ok: u64,
    /// Completed fail (a cas whose compare did not match).
    pub fail: u64,
    /// Timed out with an unknown outcome.
    pub info: u64,
    /// Resends because no answer came within `retry_after`.
    pub retries: u64,
    /// `NotLeader` answers that sent the request elsewhere.
    pub redirects: u64,
    /// Answers ignored because they were for an earlier request (late
    /// duplicates) or came from a server the client had already left.
    pub stale_responses: u64,
}

/// The closed-loop KV client process.
#[derive(Clone, Debug)]
pub struct KvClient {
    id: NodeId,
    cfg: ClientConfig,
    /// Cumulative normalised read/write weights (cas is the rest).
    cut: [f64; 2],
    /// Sequence number of the next invocation; strictly increasing, so the
    /// servers' sessions never mistake a new operation for an old one.
    next_seq: u64,
    /// Fresh write/cas values handed out so far.
    values_drawn: i64,
    op: Option<Outstanding>,
    /// Last server that answered `Ok` (or was named by a hint).
    leader: Option<NodeId>,
    /// Recently seen values per key, oldest first (cas candidates).
    seen: BTreeMap<i64, Vec<i64>>,
    /// Set once `stop_at` has stopped the loop.
    finished: bool,
    /// When the previous operation was invoked (pacing starts from there).
    last_invoke: Option<SimTime>,
    /// History events recorded by the latest handler call only: the
    /// runner's observer collects them after every event, so the client
    /// holds at most a couple, however long the run.
    step_events: Vec<HistoryEvent>,
    /// History events recorded over the client's life.
    recorded: u64,
    stats: ClientStats,
}

impl KvClient {
    /// A client at network address `id`.
    ///
    /// Panics on a config no validated scenario produces: no servers, no
    /// keys, a mix that is negative or sums to zero, `backoff_min` above
    /// `backoff_max`, or a zero `retry_after` (which would resend forever
    /// without time passing).
    pub fn new(id: NodeId, cfg: ClientConfig) -> Self {
        if let Err(e) = cfg.check() {
            panic!("invalid client config: {e}");
        }
        let total: f64 = cfg.mix.iter().sum();
        let cut = [cfg.mix[0] / total, (cfg.mix[0] + cfg.mix[1]) / total];
        KvClient {
            id,
            cfg,
            cut,
            next_seq: 1,
            values_drawn: 0,
            op: None,
            leader: None,
            seen: BTreeMap::new(),
            finished: false,
            last_invoke: None,
            step_events: Vec::new(),
            recorded: 0,
            stats: ClientStats::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.cfg
    }

    /// Counters.
    pub fn stats(&self) -> &ClientStats {
        &self.stats
    }

    /// Sequence number of the outstanding operation, if any.
    pub fn outstanding_seq(&self) -> Option<u64> {
        self.op.map(|o| o.seq)
    }

    /// True once the client has stopped invoking (`stop_at` reached) and has
    /// nothing outstanding.
    pub fn is_finished(&self) -> bool {
        self.finished && self.op.is_none()
    }

    // ------------------------------------------------------------------
    // The loop.
    // ------------------------------------------------------------------

    /// Wait before the next invocation, unless that would be at or after
    /// `stop_at`. Gaps are paced from the previous *invocation*, so a client
    /// offers `1 / think` operations per second as long as operations take
    /// less than the gap; a slower operation delays the next one (closed
    /// loop: never more than one outstanding).
    fn schedule_next(&mut self, ctx: &mut Ctx<'_>) {
        assert!(self.op.is_none(), "thinking with an operation outstanding");
        let mean = self.cfg.think.as_micros() as f64;
        let gap = SimDuration(ctx.rng().exponential(mean).round() as u64);
        let now = ctx.now();
        let at = self
            .last_invoke
            .map_or(now + gap, |last| (last + gap).max(now));
        if at >= self.cfg.stop_at {
            self.finished = true;
            return;
        }
        ctx.set_timer(THINK_TIMER, at.saturating_since(now));
    }

    fn invoke(&mut self, ctx: &mut Ctx<'_>) {
        assert!(self.op.is_none(), "closed loop: one operation at a time");
        self.last_invoke = Some(ctx.now());
        let cmd = self.draw_command(ctx);
        let seq = self.next_seq;
        self.next_seq += 1;
        let target = match self.leader {
            Some(l) => l,
            None => self.random_server(ctx, None),
        };
        let now = ctx.now();
        let (f, key, value) = describe(&cmd);
        self.record(EventType::Invoke, f, key, value, now);
        self.stats.invoked += 1;
        self.op = Some(Outstanding {
            seq,
            cmd,
            invoked_at: now,
            target,
            waiting: Waiting::Reply,
            redirects: 0,
        });
        ctx.set_timer(OP_TIMEOUT_TIMER, self.cfg.timeout);
        self.send_request(ctx);
    }
    fn complete(&mut self, ctx: &mut Ctx<'_>, op: Outstanding, out: KvOutput) {
        let (f, key, invoke_value) = describe(&op.cmd);
        let (kind, value) = match (op.cmd, out) {
            (KvCommand::Read { .. }, KvOutput::ReadOk(v)) => {
                if let Some(v) = v {
                    self.remember(key, v);
                }
                (EventType::Ok, v.map_or(HistValue::None, HistValue::Int))
            }
            (KvCommand::Write { .. }, KvOutput::WriteOk) => (EventType::Ok, invoke_value),
            (KvCommand::Cas { new, .. }, KvOutput::CasOk) => {
                self.remember(key, new);
                (EventType::Ok, invoke_value)
            }
            (KvCommand::Cas { .. }, KvOutput::CasFail(current)) => {
                if let Some(v) = current {
                    self.remember(key, v);
                }
                (EventType::Fail, invoke_value)
            }
            // An output that does not fit the command: the servers answered
            // something else under this seq. Claim nothing about it.
            _ => (EventType::Info, invoke_value),
        };
        let now = ctx.now();
        self.record(kind, f, key, value, now);
        match kind {
            EventType::Ok => self.stats.ok += 1,
            EventType::Fail => self.stats.fail += 1,
            _ => self.stats.info += 1,
        }
        ctx.cancel_timer(OP_TIMEOUT_TIMER);
        self.end_op(ctx);
    }

    fn end_op(&mut self, ctx: &mut Ctx<'_>) {
        self.op = None;
        ctx.cancel_timer(RETRY_TIMER);
        self.schedule_next(ctx);
    }
}

impl Process for KvClient {
    type Msg = KvMsg;
    type Record = KvRecord;

    fn on_start(&mut self, ctx: &mut Ctx<'_>) {
        self.begin_step();
        if self.op.is_none() && !self.finished {
            self.schedule_next(ctx);
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_>, from: NodeId, msg: KvMsg) {
        self.begin_step();
        // Anything but an answer (a confused peer's RPC) is not for us.
        if let Msg::ClientResponse(ClientResponse { seq, result }) = msg {
            self.on_reply(ctx, from, seq, result);
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_>, id: TimerId) {
        self.begin_step();
        match id {
            THINK_TIMER => {
                if self.op.is_some() || self.finished {
                    return; // Stale.
                }
                if ctx.now() >= self.cfg.stop_at {
                    self.finished = true;
                    return;
                }
                self.invoke(ctx);
            }
            OP_TIMEOUT_TIMER => self.on_timeout_timer(ctx),
            RETRY_TIMER => self.on_retry_timer(ctx),
            _ => {}
        }
    }
}
