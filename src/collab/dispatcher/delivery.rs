//! Talking to agents: assignments sent at least once (resent with backoff
//! until acknowledged, the same message id each time so the agent drops
//! copies), the in-flight attempts the leader tracks, results and their
//! acknowledgements, and the breaker fed by each attempt's end.

use super::{Dispatcher, InFlight};
use crate::collab::config::Priority;
use crate::collab::coordinator::{CollabCommand, FailReason, TaskId, TaskStatus, WorkflowState};
use crate::collab::messages::{backoff, message_id, Assignment, Envelope, Payload};
use crate::ids::NodeId;
use crate::rng::SimRng;
use crate::time::{SimDuration, SimTime};

impl Dispatcher {
    pub(super) fn envelope(
        &mut self,
        now: SimTime,
        to: NodeId,
        payload: Payload,
        corr: u64,
        prio: Priority,
    ) -> Envelope {
        self.counter += 1;
        let id = message_id(self.id, self.epoch, self.counter);
        Envelope::to_one(id, self.id, to, payload, now, corr, prio)
    }

    pub(super) fn agent_index(&self, a: NodeId) -> Option<usize> {
        a.0.checked_sub(self.cfg.servers)
            .map(|i| i as usize)
            .filter(|&i| i < self.agents.len())
    }
    /// Start tracking a committed attempt and send its assignment.
    pub(super) fn track(
        &mut self,
        sm: &WorkflowState,
        task: TaskId,
        agent: NodeId,
        attempt: u32,
        version: u64,
        now: SimTime,
    ) {
        let t = sm.task(task).expect("task");
        let size = f64::from(t.spec.size_milli) / 1000.0;
        let mean = self
            .cfg
            .agent(agent)
            .map_or(1000.0, |p| p.latency.mean().min(600_000.0));
        let slots = f64::from(self.cfg.agent_slots.max(1));
        let timeout = SimDuration::from_millis_f64(mean * size * 3.0 * slots + 2000.0);
        if let Some(i) = self.agent_index(agent) {
            self.agents[i].load += 1;
        }
        self.inflight.insert(
            task,
            InFlight {
                agent,
                attempt,
                version,
                deadline: now + timeout,
                msg_id: 0,
                acked: false,
                tries: 0,
                next_send: now,
                given_up: false,
            },
        );
        self.send_assignment(sm, task, now, None);
    }

    pub(super) fn send_assignment(
        &mut self,
        sm: &WorkflowState,
        task: TaskId,
        now: SimTime,
        rng: Option<&mut SimRng>,
    ) {
        let Some(f) = self.inflight.get(&task).cloned() else {
            return;
        };
        let t = sm.task(task).expect("task");
        let inputs: Vec<f64> = t
            .spec
            .deps
            .iter()
            .filter_map(|&d| sm.task(d).and_then(|x| x.result))
            .map(|o| {
                if o.correct {
                    o.quality()
                } else {
                    0.5 * o.quality()
                }
            })
            .collect();
        let input_quality = if inputs.is_empty() {
            1.0
        } else {
            inputs.iter().sum::<f64>() / inputs.len() as f64
        };
        let a = Assignment {
            task,
            attempt: f.attempt,
            version: f.version,
            skill: t.spec.skill,
            size: f64::from(t.spec.size_milli) / 1000.0,
            input_quality,
        };
        let msg_id = if f.tries == 0 {
            let env = self.envelope(
                now,
                f.agent,
                Payload::TaskAssignment(a),
                u64::from(task),
                t.spec.priority,
            );
            let id = env.message_id;
            self.outbox.push((f.agent, env));
            self.stats.assignments_sent += 1;
            id
        } else {
            // A resend keeps the message id so the agent can drop it.
            let env = Envelope {
                message_id: f.msg_id,
                sender: self.id,
                receivers: vec![f.agent],
                payload: Payload::TaskAssignment(a),
                timestamp: now,
                correlation_id: u64::from(task),
                priority: t.spec.priority,
            };
            self.outbox.push((f.agent, env));
            self.stats.assignment_resends += 1;
            f.msg_id
        };
        let tries = f.tries + 1;
        let wait = match rng {
            Some(r) => backoff(tries, self.cfg.backoff_min, self.cfg.backoff_max, r),
            None => {
                let exp = (tries - 1).min(20);
                SimDuration::from_micros(
                    (self.cfg.backoff_min.as_micros() << exp).min(self.cfg.backoff_max.as_micros()),
                )
            }
        };
        let f = self.inflight.get_mut(&task).expect("tracked");
        f.msg_id = msg_id;
        f.tries = tries;
        f.next_send = now + wait;
    }

    /// Stop tracking `task`'s attempt; `ok`: Some(success) feeds the
    /// agent's breaker.
    pub(super) fn untrack(&mut self, task: TaskId, ok: Option<bool>, now: SimTime) {
        let Some(f) = self.inflight.remove(&task) else {
            return;
        };
        let Some(i) = self.agent_index(f.agent) else {
            return;
        };
        let a = &mut self.agents[i];
        a.load = a.load.saturating_sub(1);
        self.dirty = true;
        match ok {
            Some(true) => a.breaker.on_success(),
            Some(false) if a.breaker.on_failure(now) => {
                self.stats.breaker_trips += 1;
                self.take_work_from(f.agent, now);
            }
            _ => {}
        }
    }

    /// The team is re-formed without `agent`: its in-flight attempts go
    /// back to pending (and to other agents).
    pub(super) fn take_work_from(&mut self, agent: NodeId, now: SimTime) {
        let tasks: Vec<(TaskId, u64)> = self
            .inflight
            .iter()
            .filter(|(_, f)| f.agent == agent && !f.given_up)
            .map(|(t, f)| (*t, f.version))
            .collect();
        for (task, version) in tasks {
            self.inflight.get_mut(&task).expect("task").given_up = true;
            self.stats.reassignments += 1;
            self.proposals.push(CollabCommand::Fail {
                task,
                version,
                reason: FailReason::AgentLost,
                at: now,
            });
        }
    }

    pub(super) fn ack_results(&mut self, task: TaskId, now: SimTime) {
        if let Some(list) = self.result_acks.remove(&task) {
            for (agent, of) in list {
                let env = self.envelope(
                    now,
                    agent,
                    Payload::Ack { of },
                    u64::from(task),
                    Priority::Normal,
                );
                self.outbox.push((agent, env));
            }
        }
    }
    /// An envelope from an agent.
    pub fn on_envelope(&mut self, sm: &WorkflowState, now: SimTime, from: NodeId, env: Envelope) {
        let Some(i) = self.agent_index(from) else {
            return;
        };
        let a = &mut self.agents[i];
        a.last_heard = now;
        if a.lost {
            a.lost = false;
            self.dirty = true;
        }
        match env.payload {
            Payload::Ack { of } => {
                if let Some(f) = self.inflight.get_mut(&TaskId(env.correlation_id as u32)) {
                    if f.msg_id == of {
                        f.acked = true;
                    }
                }
            }
            Payload::Refused { of, task } => {
                let Some(f) = self.inflight.get_mut(&task) else {
                    return;
                };
                if f.msg_id == of && !f.given_up {
                    f.given_up = true;
                    let version = f.version;
                    self.proposals.push(CollabCommand::Fail {
                        task,
                        version,
                        reason: FailReason::Refused,
                        at: now,
                    });
                }
            }
            Payload::TaskResult {
                task,
                attempt,
                version,
                failed,
                outcome,
            } => {
                if !self.dedupe.first_time(env.message_id) {
                    self.stats.duplicates_discarded += 1;
                    // Re-ack once committed; the result is already proposed.
                    if sm.task(task).is_some_and(|t| t.status.is_final()) {
                        self.result_acks
                            .entry(task)
                            .or_default()
                            .push((from, env.message_id));
                        self.ack_results(task, now);
                    }
                    return;
                }
                self.stats.results_received += 1;
                self.result_acks
                    .entry(task)
                    .or_default()
                    .push((from, env.message_id));
                let Some(t) = sm.task(task) else {
                    self.ack_results(task, now);
                    return;
                };
                if t.status == TaskStatus::Done && t.result.is_some_and(|r| r.agent == from) {
                    // Already committed (a re-send after failover): ack.
                    self.ack_results(task, now);
                    return;
                }
                // Everything else goes through the log, where a stale or
                // late result is rejected and counted.
                if failed {
                    if let Some(f) = self.inflight.get_mut(&task) {
                        f.given_up = true;
                    }
                    self.proposals.push(CollabCommand::Fail {
                        task,
                        version,
                        reason: FailReason::Transient,
                        at: now,
                    });
                } else {
                    self.proposals.push(CollabCommand::Result {
                        task,
                        version,
                        attempt,
                        outcome,
                        at: now,
                    });
                }
            }
            _ => {}
        }
    }
}
