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

use super::history::{EventType, HistValue, HistoryEvent, OpFn};
use super::store::{KvCommand, KvOutput};
use crate::ids::{NodeId, TimerId};
use crate::process::{Context, Process};
use crate::raft::{ClientRequest, ClientResponse, ClientResult, Msg, Record};
use crate::time::{SimDuration, SimTime};
use std::collections::BTreeMap;

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

/// Write and cas values are `index * VALUE_STRIDE + counter`, so each value
/// names the client that wrote it (unique for the first `VALUE_STRIDE - 1`
/// fresh values of a client; past that they may repeat another client's,
/// which keeps the history correct but less informative).
pub const VALUE_STRIDE: i64 = 1_000_000;

/// How many recently seen values per key a client remembers as cas
/// candidates (a bound, so memory does not grow with the run).
const SEEN_PER_KEY: usize = 8;

/// Consecutive redirects to a hinted leader that use the short fixed
/// backoff; after that the client backs off exponentially even with a hint
/// (two servers pointing at each other must not make it spin).
fn max_fast_redirects(servers: u32) -> u32 {
    servers.saturating_mul(2)
}

/// How a client behaves. Durations are on the client's local clock.
#[derive(Clone, Debug, PartialEq)]
pub struct ClientConfig {
    /// Client number: the history's `process`, and the prefix of its
    /// write values.
    pub index: u32,
    /// Cluster size: the servers are `NodeId(0..servers)`.
    pub servers: u32,
    /// Mean of the exponential gap between one invocation and the next
    /// (the next waits for the previous to complete).
    pub think: SimDuration,
    /// Relative weights of read, write and cas (normalised; must be
    /// non-negative with a positive sum).
    pub mix: [f64; 3],
    /// Keys are drawn uniformly from `0..keys`.
    pub keys: u32,
    /// Give up on an operation (record info) this long after invoking it.
    pub timeout: SimDuration,
    /// Resend to another server if no answer came this long after a send.
    pub retry_after: SimDuration,
    /// Backoff after a redirect with a hint; base of the exponential
    /// backoff without one.
    pub backoff_min: SimDuration,
    /// Cap of the exponential backoff.
    pub backoff_max: SimDuration,
    /// No new operation is invoked at or after this time.
    pub stop_at: SimTime,
    /// Record history events (see [`KvClient::step_events`]); off, the
    /// client records nothing.
    pub record_history: bool,
}

impl ClientConfig {
    /// The preconditions [`KvClient::new`] asserts, as an error: scenario
    /// validation calls this too, so a validated scenario never builds a
    /// client that panics.
    pub fn check(&self) -> Result<(), String> {
        if self.servers == 0 {
            return Err("a client needs at least one server".into());
        }
        if self.keys == 0 {
            return Err("a client needs at least one key".into());
        }
        if !self.mix.iter().all(|w| w.is_finite() && *w >= 0.0) {
            return Err(format!(
                "mix weights must be finite and non-negative: {:?}",
                self.mix
            ));
        }
        if self.mix.iter().sum::<f64>() <= 0.0 {
            return Err("mix weights must not all be zero".into());
        }
        if self.backoff_min > self.backoff_max {
            return Err(format!(
                "backoff_min {} exceeds backoff_max {}",
                self.backoff_min, self.backoff_max
            ));
        }
        if self.retry_after == SimDuration::ZERO {
            return Err("retry_after must be positive (the timeout rounds to 0 µs)".into());
        }
        Ok(())
    }

    /// Defaults for client `index` of a `servers`-node cluster: 10 ms think
    /// time, mix 50/30/20 read/write/cas over 3 keys, 1 s timeout, resend
    /// after 100 ms, backoff 5..200 ms, and no stop time.
    pub fn new(index: u32, servers: u32) -> Self {
        ClientConfig {
            index,
            servers,
            think: SimDuration::from_millis(10),
            mix: [0.5, 0.3, 0.2],
            keys: 3,
            timeout: SimDuration::from_millis(1000),
            retry_after: SimDuration::from_millis(100),
            backoff_min: SimDuration::from_millis(5),
            backoff_max: SimDuration::from_millis(200),
            stop_at: SimTime(u64::MAX),
            record_history: true,
        }
    }
}

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

/// What the outstanding operation is waiting for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Waiting {
    /// A request is in flight to `target`; `RETRY_TIMER` means "no answer".
    Reply,
    /// A redirect said to try `target`; `RETRY_TIMER` ends the backoff.
    Backoff,
}

/// The one operation in flight.
#[derive(Clone, Copy, Debug)]
struct Outstanding {
    seq: u64,
    cmd: KvCommand,
    invoked_at: SimTime,
    target: NodeId,
    waiting: Waiting,
    /// Consecutive `NotLeader` answers for this operation.
    redirects: u32,
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
    fn begin_step(&mut self) {
        self.step_events.clear();
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

    /// Send the outstanding request to its target and wait `retry_after`.
    fn send_request(&mut self, ctx: &mut Ctx<'_>) {
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

    fn on_reply(
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

    fn redirect(&mut self, ctx: &mut Ctx<'_>, from: NodeId, hint: Option<NodeId>) {
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
    fn jittered_backoff(&self, ctx: &mut Ctx<'_>, attempt: u32) -> SimDuration {
        let doublings = attempt.saturating_sub(1).min(32);
        let cap = self
            .cfg
            .backoff_min
            .as_micros()
            .saturating_mul(1u64 << doublings)
            .min(self.cfg.backoff_max.as_micros());
        SimDuration(ctx.rng().range_inclusive(0, cap))
    }

    fn on_retry_timer(&mut self, ctx: &mut Ctx<'_>) {
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

    fn on_timeout_timer(&mut self, ctx: &mut Ctx<'_>) {
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

    // ------------------------------------------------------------------
    // Drawing operations.
    // ------------------------------------------------------------------

    fn draw_command(&mut self, ctx: &mut Ctx<'_>) -> KvCommand {
        let u = ctx.rng().unit();
        let key = ctx.rng().index(self.cfg.keys as usize) as i64;
        if u < self.cut[0] {
            KvCommand::Read { key }
        } else if u < self.cut[1] {
            let value = self.fresh_value();
            self.remember(key, value);
            KvCommand::Write { key, value }
        } else {
            let expected = match self.seen.get(&key) {
                Some(vs) if !vs.is_empty() => vs[ctx.rng().index(vs.len())],
                _ => ctx.rng().range_inclusive(0, 9) as i64,
            };
            let new = self.fresh_value();
            KvCommand::Cas { key, expected, new }
        }
    }

    fn fresh_value(&mut self) -> i64 {
        self.values_drawn += 1;
        i64::from(self.cfg.index) * VALUE_STRIDE + self.values_drawn
    }

    fn remember(&mut self, key: i64, value: i64) {
        let vs = self.seen.entry(key).or_default();
        if vs.contains(&value) {
            return;
        }
        if vs.len() == SEEN_PER_KEY {
            vs.remove(0);
        }
        vs.push(value);
    }

    /// A uniformly random server, other than `avoid` when there is a choice.
    fn random_server(&self, ctx: &mut Ctx<'_>, avoid: Option<NodeId>) -> NodeId {
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

    fn record(&mut self, kind: EventType, f: OpFn, key: i64, value: HistValue, time: SimTime) {
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
fn describe(cmd: &KvCommand) -> (OpFn, i64, HistValue) {
    match *cmd {
        KvCommand::Read { key } => (OpFn::Read, key, HistValue::None),
        KvCommand::Write { key, value } => (OpFn::Write, key, HistValue::Int(value)),
        KvCommand::Cas { key, expected, new } => (OpFn::Cas, key, HistValue::Pair(expected, new)),
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

#[cfg(test)]
mod tests {
    //! Transcripts: the test plays kernel and servers, delivering answers and
    //! firing timers by hand, and reads the client's effects.

    use super::*;
    use crate::check::linearizability::{check, Verdict};
    use crate::kv::history::{latencies, to_lin_ops};
    use crate::kv::KvStore;
    use crate::process::Effect;
    use crate::raft::StateMachine;
    use crate::rng::SimRng;

    const ME: NodeId = NodeId(10);

    struct Harness {
        client: KvClient,
        rng: SimRng,
        now: SimTime,
        /// Armed timers and their deadlines, as the kernel would keep them.
        timers: BTreeMap<TimerId, SimTime>,
        /// Every history event, collected after each step as the runner
        /// does.
        history: Vec<HistoryEvent>,
    }

    /// What one handler call did.
    #[derive(Debug, Default)]
    struct Step {
        sends: Vec<(NodeId, u64, KvCommand)>,
        set: Vec<(TimerId, SimDuration)>,
        cancelled: Vec<TimerId>,
    }

    impl Step {
        fn only_send(&self) -> (NodeId, u64, KvCommand) {
            assert_eq!(self.sends.len(), 1, "expected one send: {self:?}");
            self.sends[0]
        }
        fn timer(&self, id: TimerId) -> Option<SimDuration> {
            self.set
                .iter()
                .rev()
                .find(|(t, _)| *t == id)
                .map(|(_, d)| *d)
        }
    }

    fn cfg() -> ClientConfig {
        ClientConfig {
            index: 3,
            servers: 3,
            think: SimDuration::from_millis(10),
            mix: [1.0, 1.0, 1.0],
            keys: 2,
            timeout: SimDuration::from_millis(500),
            retry_after: SimDuration::from_millis(100),
            backoff_min: SimDuration::from_millis(5),
            backoff_max: SimDuration::from_millis(40),
            stop_at: SimTime(u64::MAX),
            record_history: true,
        }
    }

    impl Harness {
        fn new(cfg: ClientConfig) -> Self {
            Harness {
                client: KvClient::new(ME, cfg),
                rng: SimRng::derive(7, "client-test"),
                now: SimTime::ZERO,
                timers: BTreeMap::new(),
                history: Vec::new(),
            }
        }

        fn step(&mut self, f: impl FnOnce(&mut KvClient, &mut Ctx<'_>)) -> Step {
            let mut effects = Vec::new();
            let mut ctx = Context::new(ME, self.now, &mut self.rng, &mut effects);
            f(&mut self.client, &mut ctx);
            self.history.extend_from_slice(self.client.step_events());
            assert_eq!(self.client.recorded(), self.history.len() as u64);
            let mut step = Step::default();
            for e in effects {
                match e {
                    Effect::Send {
                        to,
                        msg: Msg::ClientRequest(ClientRequest { client, seq, cmd }),
                    } => {
                        assert_eq!(client, ME, "requests carry the client's session id");
                        step.sends.push((to, seq, cmd));
                    }
                    Effect::SetTimer { id, after } => {
                        self.timers.insert(id, self.now + after);
                        step.set.push((id, after));
                    }
                    Effect::CancelTimer { id } => {
                        self.timers.remove(&id);
                        step.cancelled.push(id);
                    }
                    other => panic!("a client only sends requests and uses timers: {other:?}"),
                }
            }
            step
        }

        fn start(&mut self) -> Step {
            self.step(|c, ctx| c.on_start(ctx))
        }

        /// Advance to timer `id`'s deadline and fire it.
        fn fire(&mut self, id: TimerId) -> Step {
            let at = self.timers.remove(&id).expect("timer armed");
            self.now = at;
            self.step(|c, ctx| c.on_timer(ctx, id))
        }

        fn reply(&mut self, from: NodeId, seq: u64, result: ClientResult<KvOutput>) -> Step {
            self.step(|c, ctx| {
                c.on_message(
                    ctx,
                    from,
                    Msg::ClientResponse(ClientResponse { seq, result }),
                )
            })
        }

        fn advance(&mut self, d: SimDuration) {
            self.now += d;
        }

        /// Start and fire the think timer: the first request.
        fn first_request(&mut self) -> (NodeId, u64, KvCommand) {
            self.start();
            self.fire(THINK_TIMER).only_send()
        }

        fn last_event(&self) -> HistoryEvent {
            *self.history.last().expect("an event")
        }
    }

    fn ok(o: KvOutput) -> ClientResult<KvOutput> {
        ClientResult::Ok(o)
    }

    /// The output a correct server gives for `cmd` on an empty store.
    fn output_for(cmd: KvCommand) -> KvOutput {
        KvStore::new().apply(&cmd)
    }

    /// On start the client only arms the think timer; when it fires, the
    /// first request (seq 1) goes to one of the servers, with the operation
    /// timeout and the resend timer armed, and the invocation is recorded at
    /// that instant.
    #[test]
    fn first_op_is_sent_to_a_server_after_think_time() {
        let mut h = Harness::new(cfg());
        let s = h.start();
        assert!(s.sends.is_empty());
        assert!(s.timer(THINK_TIMER).is_some());
        let s = h.fire(THINK_TIMER);
        let (to, seq, _) = s.only_send();
        assert!(to.0 < 3, "sent to a server: {to}");
        assert_eq!(seq, 1);
        assert_eq!(
            s.timer(OP_TIMEOUT_TIMER),
            Some(SimDuration::from_millis(500))
        );
        assert_eq!(s.timer(RETRY_TIMER), Some(SimDuration::from_millis(100)));
        let e = h.last_event();
        assert_eq!((e.process, e.kind, e.time), (3, EventType::Invoke, h.now));
        assert_eq!(h.client.stats().invoked, 1);
    }

    /// `NotLeader` with a hint: after the short backoff the same request
    /// (same seq, same command) goes to the hinted leader, and the next
    /// operation starts there too.
    #[test]
    fn not_leader_with_hint_retries_to_hint_with_same_seq() {
        let mut h = Harness::new(cfg());
        let (to, seq, cmd) = h.first_request();
        let hint = NodeId((to.0 + 1) % 3);
        let s = h.reply(
            to,
            seq,
            ClientResult::NotLeader {
                leader_hint: Some(hint),
            },
        );
        assert!(s.sends.is_empty(), "waits out the backoff first");
        assert_eq!(s.timer(RETRY_TIMER), Some(SimDuration::from_millis(5)));
        assert_eq!(h.fire(RETRY_TIMER).only_send(), (hint, seq, cmd));
        assert_eq!(h.client.stats().redirects, 1);
        h.reply(hint, seq, ok(output_for(cmd)));
        let (next_to, next_seq, _) = h.fire(THINK_TIMER).only_send();
        assert_eq!((next_to, next_seq), (hint, seq + 1));
    }

    /// `NotLeader` without a hint: the client tries another server after a
    /// jittered backoff no longer than the exponential cap, keeping the seq;
    /// repeated refusals never wait longer than `backoff_max`.
    #[test]
    fn not_leader_without_hint_backs_off_to_another_server() {
        let mut h = Harness::new(cfg());
        let (mut to, seq, cmd) = h.first_request();
        for attempt in 1..=8u32 {
            let s = h.reply(to, seq, ClientResult::NotLeader { leader_hint: None });
            let delay = s.timer(RETRY_TIMER).expect("backoff armed");
            let cap = (5_000u64 << (attempt - 1)).min(40_000);
            assert!(delay.as_micros() <= cap, "attempt {attempt}: {delay}");
            let (next, next_seq, next_cmd) = h.fire(RETRY_TIMER).only_send();
            assert_ne!(next, to, "tries another server");
            assert_eq!((next_seq, next_cmd), (seq, cmd));
            to = next;
        }
        assert_eq!(h.client.stats().redirects, 8);
    }

    /// Silence for `retry_after`: the same request is resent to another
    /// server.
    #[test]
    fn no_answer_resends_same_seq_to_another_server() {
        let mut h = Harness::new(cfg());
        let (to, seq, cmd) = h.first_request();
        let s = h.fire(RETRY_TIMER);
        let (next, next_seq, next_cmd) = s.only_send();
        assert_ne!(next, to);
        assert_eq!((next_seq, next_cmd), (seq, cmd));
        assert_eq!(s.timer(RETRY_TIMER), Some(SimDuration::from_millis(100)));
        assert_eq!(h.client.stats().retries, 1);
    }

    /// No answer before `timeout`: the operation is recorded as info (its
    /// effect is unknown), and the next operation uses a new seq.
    #[test]
    fn timeout_records_info_and_next_op_uses_new_seq() {
        let mut h = Harness::new(cfg());
        let (_, seq, cmd) = h.first_request();
        let invoked = h.now;
        h.timers.remove(&RETRY_TIMER); // The network swallows everything.
        let s = h.fire(OP_TIMEOUT_TIMER);
        assert!(s.sends.is_empty());
        assert!(s.cancelled.contains(&RETRY_TIMER));
        assert_eq!(h.now, invoked + SimDuration::from_millis(500));
        let e = h.last_event();
        assert_eq!(e.kind, EventType::Info);
        assert_eq!((e.f, e.key, e.value), describe(&cmd));
        assert_eq!(h.client.stats().info, 1);
        let (_, next_seq, _) = h.fire(THINK_TIMER).only_send();
        assert!(next_seq > seq);
        assert!(latencies(&h.history).is_empty(), "info has no latency");
    }

    /// A cas whose compare did not match is a definite fail, recorded with
    /// its `(expected, new)` pair, and its latency is kept.
    #[test]
    fn cas_fail_records_fail() {
        let mut h = Harness::new(ClientConfig {
            mix: [0.0, 0.0, 1.0],
            ..cfg()
        });
        let (to, seq, cmd) = h.first_request();
        let KvCommand::Cas { key, expected, new } = cmd else {
            panic!("mix is all cas: {cmd:?}");
        };
        assert_ne!(new, expected);
        assert_eq!(
            new,
            3 * VALUE_STRIDE + 1,
            "fresh values are prefixed by the client"
        );
        h.advance(SimDuration::from_millis(3));
        let s = h.reply(to, seq, ok(KvOutput::CasFail(Some(42))));
        assert!(s.cancelled.contains(&OP_TIMEOUT_TIMER));
        let e = h.last_event();
        assert_eq!(e.kind, EventType::Fail);
        assert_eq!(
            (e.f, e.key, e.value),
            (OpFn::Cas, key, HistValue::Pair(expected, new))
        );
        assert_eq!(h.client.stats().fail, 1);
        assert_eq!(latencies(&h.history), vec![SimDuration::from_millis(3)]);
        // 42 is now a cas candidate for that key.
        assert!(h.client.seen[&key].contains(&42));
    }

    /// An ok read is recorded with the value read (None when absent); an ok
    /// write with its value.
    #[test]
    fn ok_answers_record_values() {
        let mut h = Harness::new(ClientConfig {
            mix: [1.0, 0.0, 0.0],
            ..cfg()
        });
        let (to, seq, _) = h.first_request();
        h.reply(to, seq, ok(KvOutput::ReadOk(Some(17))));
        assert_eq!(h.last_event().value, HistValue::Int(17));
        let (to, seq, _) = h.fire(THINK_TIMER).only_send();
        h.reply(to, seq, ok(KvOutput::ReadOk(None)));
        assert_eq!(
            (h.last_event().kind, h.last_event().value),
            (EventType::Ok, HistValue::None)
        );

        let mut h = Harness::new(ClientConfig {
            mix: [0.0, 1.0, 0.0],
            ..cfg()
        });
        let (to, seq, cmd) = h.first_request();
        h.reply(to, seq, ok(KvOutput::WriteOk));
        let KvCommand::Write { value, .. } = cmd else {
            panic!("mix is all writes: {cmd:?}");
        };
        assert_eq!(
            (h.last_event().kind, h.last_event().value),
            (EventType::Ok, HistValue::Int(value))
        );
        assert_eq!(h.client.stats().ok, 1);
    }

    /// A late answer for an earlier seq (a duplicate of a completed or
    /// timed-out request) changes nothing: no effects, no history event.
    #[test]
    fn stale_response_with_wrong_seq_is_ignored() {
        let mut h = Harness::new(ClientConfig {
            mix: [1.0, 0.0, 0.0],
            ..cfg()
        });
        let (to, seq, _) = h.first_request();
        h.reply(to, seq, ok(KvOutput::ReadOk(Some(1))));
        let (to2, seq2, _) = h.fire(THINK_TIMER).only_send();
        let before = h.history.len();
        let s = h.reply(to, seq, ok(KvOutput::ReadOk(Some(99))));
        assert!(s.sends.is_empty() && s.set.is_empty() && s.cancelled.is_empty());
        assert_eq!(h.history.len(), before);
        assert_eq!(h.client.outstanding_seq(), Some(seq2));
        // A redirect from a server the client already left is ignored too.
        h.fire(RETRY_TIMER);
        let s = h.reply(to2, seq2, ClientResult::NotLeader { leader_hint: None });
        assert!(s.set.is_empty());
        assert_eq!(h.client.stats().stale_responses, 2);
        assert_eq!(h.client.stats().redirects, 0);
    }

    /// Timers that outlived their purpose do nothing: a think timer while an
    /// operation is outstanding, a timeout armed for an earlier operation,
    /// a resend timer with nothing outstanding.
    #[test]
    fn stale_timers_are_ignored() {
        let mut h = Harness::new(cfg());
        let (to, seq, cmd) = h.first_request();
        assert!(h
            .step(|c, ctx| c.on_timer(ctx, THINK_TIMER))
            .sends
            .is_empty());
        h.reply(to, seq, ok(output_for(cmd)));
        assert!(h
            .step(|c, ctx| c.on_timer(ctx, RETRY_TIMER))
            .sends
            .is_empty());
        h.fire(THINK_TIMER).only_send();
        let s = h.step(|c, ctx| c.on_timer(ctx, OP_TIMEOUT_TIMER));
        assert!(s.sends.is_empty() && s.set.is_empty());
        assert_eq!(h.client.stats().info, 0);
    }

    /// No operation is invoked at or after `stop_at`: a think time that
    /// would end there is not even armed, and a think timer firing there
    /// does nothing. The client then reports itself finished.
    #[test]
    fn no_new_op_at_or_after_stop_at() {
        let mut h = Harness::new(ClientConfig {
            stop_at: SimTime::ZERO,
            ..cfg()
        });
        let s = h.start();
        assert!(s.set.is_empty());
        assert!(h.client.is_finished());

        let mut h = Harness::new(ClientConfig {
            stop_at: SimTime(1),
            think: SimDuration::ZERO,
            ..cfg()
        });
        let (to, seq, cmd) = h.first_request();
        h.advance(SimDuration::from_millis(1));
        let s = h.reply(to, seq, ok(output_for(cmd)));
        assert!(s.timer(THINK_TIMER).is_none());
        assert!(h.client.is_finished());
        let s = h.step(|c, ctx| c.on_timer(ctx, THINK_TIMER));
        assert!(s.sends.is_empty());
        assert_eq!(h.client.stats().invoked, 1);
    }

    /// End to end against a perfect single leader (server 1, others
    /// redirect to it), answering after 1 ms from a real KvStore: the client
    /// keeps one operation in flight, its history pairs up, and the checker
    /// finds it linearizable. The same seed gives the same history.
    #[test]
    fn closed_loop_against_a_correct_server_is_linearizable() {
        fn run(seed: u64) -> Vec<HistoryEvent> {
            let mut h = Harness::new(ClientConfig {
                keys: 2,
                stop_at: SimTime(2_000_000),
                ..cfg()
            });
            h.rng = SimRng::derive(seed, "client-test");
            let mut store = KvStore::new();
            let leader = NodeId(1);
            // In-flight messages to the servers: (arrival, to, seq, cmd).
            let mut inflight: Vec<(SimTime, NodeId, u64, KvCommand)> = Vec::new();
            let mut applied: BTreeMap<u64, KvOutput> = BTreeMap::new();
            let push = |inflight: &mut Vec<_>, now: SimTime, s: Step| {
                for (to, seq, cmd) in s.sends {
                    inflight.push((now + SimDuration::from_millis(1), to, seq, cmd));
                }
            };
            let s = h.start();
            push(&mut inflight, h.now, s);
            for _ in 0..10_000 {
                let next_msg = inflight.iter().map(|m| m.0).min();
                let next_timer = h
                    .timers
                    .iter()
                    .min_by_key(|(_, t)| **t)
                    .map(|(id, t)| (*id, *t));
                let s = match (next_msg, next_timer) {
                    (Some(tm), Some((_, tt))) if tm <= tt => None,
                    (Some(_), None) => None,
                    (_, Some((id, _))) => Some(h.fire(id)),
                    (None, None) => break,
                };
                let s = match s {
                    Some(s) => s,
                    None => {
                        let i = (0..inflight.len())
                            .min_by_key(|&i| inflight[i].0)
                            .expect("one");
                        let (at, to, seq, cmd) = inflight.remove(i);
                        h.now = at;
                        let result = if to == leader {
                            let out = *applied.entry(seq).or_insert_with(|| store.apply(&cmd));
                            ClientResult::Ok(out)
                        } else {
                            ClientResult::NotLeader {
                                leader_hint: Some(leader),
                            }
                        };
                        h.reply(to, seq, result)
                    }
                };
                push(&mut inflight, h.now, s);
            }
            assert!(h.client.is_finished());
            std::mem::take(&mut h.history)
        }
        let hist = run(1);
        let stats = crate::kv::history::summary(&hist);
        assert!(stats.invoked > 50, "{stats:?}");
        assert_eq!(stats.open + stats.info, 0);
        assert!(stats.ok > 0 && stats.fail > 0, "{stats:?}");
        let ops = to_lin_ops(&hist);
        assert_eq!(ops.len() as u64, stats.invoked);
        assert_eq!(
            check(&ops).expect("well-formed").verdict,
            Verdict::Linearizable
        );
        assert_eq!(hist, run(1), "same seed, same history");
        assert_ne!(hist, run(2));
    }
}
