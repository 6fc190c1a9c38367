//! Transcripts: the test plays kernel and servers, delivering answers and
//! firing timers by hand, and reads the client's effects.

use super::*;
use crate::check::linearizability::{check, Verdict};
use crate::kv::history::{latencies, to_lin_ops, OpFn};
use crate::kv::KvStore;
use crate::process::Effect;
use crate::raft::{ClientRequest, ClientResult, StateMachine};
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
