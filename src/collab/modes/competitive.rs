//! Competitive mode: k agents solve the same task; when all have answered
//! or the deadline passed, the arbiter picks the entry with the highest
//! utility = weighted score (relevance, innovation, feasibility) minus the
//! token cost (`cost_per_1k_tokens` per 1000 tokens: cost efficiency).
//! Ties go to the lower task id. The rule is stated here once; the
//! workflow checker recomputes it independently.

use crate::collab::bug::CoordBug;
use crate::collab::config::{ArbiterConfig, CollabConfig};
use crate::collab::coordinator::{Outcome, Task, TaskId, TaskStatus, WorkflowState};
use crate::ids::NodeId;
use crate::time::SimTime;

/// The arbiter's utility of one outcome.
pub fn utility(a: &ArbiterConfig, o: &Outcome) -> f64 {
    o.score(&a.weights) - a.cost_per_1k_tokens * o.tokens as f64 / 1000.0
}

impl CollabConfig {
    /// The arbiter's utility of an outcome: weighted quality minus token
    /// cost. The arbiter picks the maximum; ties go to the lower task id.
    /// (Defined here, with the rule, so `config` stays a leaf module.)
    pub fn utility(&self, o: &Outcome) -> f64 {
        utility(&self.arbiter, o)
    }
}

/// The winner among `(task, outcome)` candidates: the maximum utility,
/// ties to the lower task id. `None` if there is no candidate.
pub fn pick(a: &ArbiterConfig, candidates: &[(TaskId, Outcome)]) -> Option<TaskId> {
    let mut best: Option<(TaskId, f64)> = None;
    for &(t, ref o) in candidates {
        let u = utility(a, o);
        match best {
            Some((bt, bu)) if u < bu || (u == bu && t > bt) => {}
            _ => best = Some((t, u)),
        }
    }
    best.map(|b| b.0)
}

/// Why the winner won, in one sentence (for the report).
pub fn explain(a: &ArbiterConfig, winner: TaskId, candidates: &[(TaskId, Outcome)]) -> String {
    let Some(w) = candidates.iter().find(|c| c.0 == winner) else {
        return format!("winner {winner} is not among the candidates");
    };
    let uw = utility(a, &w.1);
    let runner_up = candidates
        .iter()
        .filter(|c| c.0 != winner)
        .map(|c| (c.0, utility(a, &c.1)))
        .fold(None, |acc: Option<(TaskId, f64)>, x| match acc {
            Some(b) if b.1 >= x.1 => Some(b),
            _ => Some(x),
        });
    let mut s = format!(
        "task {winner} (agent {}) utility {uw:.3} = score {:.3} - {:.3} token cost ({} tokens) among {} entr{}",
        w.1.agent.0,
        w.1.score(&a.weights),
        a.cost_per_1k_tokens * w.1.tokens as f64 / 1000.0,
        w.1.tokens,
        candidates.len(),
        if candidates.len() == 1 { "y" } else { "ies" }
    );
    if let Some((t, u)) = runner_up {
        s.push_str(&format!(
            "; runner-up task {t} utility {u:.3} (margin {:.3})",
            uw - u
        ));
    }
    s
}

/// What the arbiter does with an undecided race right now.
#[derive(Clone, Debug, PartialEq)]
pub enum RaceStep {
    /// Competitors are still running and the deadline has not passed.
    Wait,
    /// Decide: `winner` among the entries `considered` (those done).
    Decide {
        /// The winning entry.
        winner: TaskId,
        /// Every entry that had a result, in entry order.
        considered: Vec<TaskId>,
    },
    /// No competitor answered and none can any more: the race failed.
    NoEntries,
}

/// The race rule for `judge` (pending, dependencies met): decide once
/// every competitor has answered, or at the deadline (measured from its
/// first competitor's assignment) if at least one has; fail the race when
/// none answered and none can (an entry dead-lettered with re-drives left
/// still can). With [`CoordBug::ArbiterFirst`] the first answer in wins
/// instead of the best.
pub fn race_step(cfg: &CollabConfig, sm: &WorkflowState, judge: &Task, now: SimTime) -> RaceStep {
    let mut done = Vec::new();
    let mut open = 0;
    for &e in &judge.entries {
        let t = &sm.tasks()[e.index()];
        match t.status {
            TaskStatus::Done => done.push((e, t.result.expect("done has a result"))),
            TaskStatus::Pending | TaskStatus::Assigned => open += 1,
            TaskStatus::DeadLetter if t.redrives < cfg.redrives => open += 1,
            _ => {}
        }
    }
    let deadline = judge
        .started_at
        .is_some_and(|s| now >= s + cfg.arbiter.deadline);
    if !done.is_empty() && (open == 0 || deadline) {
        let winner = match cfg.bug {
            // The bug: the first answer in wins, whatever its utility.
            Some(CoordBug::ArbiterFirst) => done
                .iter()
                .min_by_key(|(e, o)| (o.started_at.0 + o.duration_us, *e))
                .map(|c| c.0),
            _ => pick(&cfg.arbiter, &done),
        }
        .expect("a candidate");
        RaceStep::Decide {
            winner,
            considered: done.iter().map(|c| c.0).collect(),
        }
    } else if done.is_empty() && open == 0 {
        RaceStep::NoEntries
    } else {
        RaceStep::Wait
    }
}

/// Agents a competitor must not be given: those holding (or having
/// answered, or proposed for) another entry of its race, so the k
/// answers come from k different agents. `proposed` is the leader's
/// not-yet-committed choice for an entry. Empty for a task in no race.
pub fn rivals(
    sm: &WorkflowState,
    entry: TaskId,
    t: &Task,
    proposed: impl Fn(TaskId) -> Option<NodeId>,
) -> Vec<NodeId> {
    match t.spec.judge {
        Some(j) => sm.tasks()[j.index()]
            .entries
            .iter()
            .filter(|&&e| e != entry)
            .filter_map(|&e| {
                let s = &sm.tasks()[e.index()];
                s.agent
                    .or(s.result.map(|r| r.agent))
                    .or_else(|| proposed(e))
            })
            .collect(),
        None => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::NodeId;
    use crate::time::{SimDuration, SimTime};

    fn o(score: f64, tokens: u64) -> Outcome {
        Outcome {
            agent: NodeId(9),
            started_at: SimTime(0),
            duration_us: 1,
            tokens,
            correct: true,
            relevance: score,
            innovation: score,
            feasibility: score,
        }
    }

    /// Cost efficiency matters: a slightly better but much costlier entry
    /// loses; equal utilities go to the lower id.
    #[test]
    fn arbiter_weighs_score_against_tokens() {
        let a = ArbiterConfig {
            weights: [0.4, 0.3, 0.3],
            k: 3,
            deadline: SimDuration::from_millis(1),
            cost_per_1k_tokens: 0.02,
        };
        let c = [
            (TaskId(5), o(0.80, 1000)),
            (TaskId(6), o(0.82, 5000)),
            (TaskId(7), o(0.80, 1000)),
        ];
        assert_eq!(pick(&a, &c), Some(TaskId(5)));
        assert!(explain(&a, TaskId(5), &c).contains("runner-up task 7"));
        assert_eq!(pick(&a, &[]), None);
    }

    /// The race rule as a transcript on the real state machine: a race of
    /// two competitors waits while one is still running, decides at the
    /// deadline over the answers it has, and fails (no entries) once every
    /// competitor has failed for good. Cost efficiency decides between
    /// two answers; the `ArbiterFirst` bug takes the first one in instead.
    #[test]
    fn race_rule_waits_decides_at_deadline_and_fails_with_no_entries() {
        use crate::collab::coordinator::{CollabCommand, FailReason, TaskKind, TaskSpec};
        use crate::collab::Priority;
        use crate::raft::StateMachine;
        let s = crate::scenario::Scenario::load(std::path::Path::new(
            "scenarios/collab/competitive.json",
        ))
        .expect("shipped scenario");
        let w = s.spec.workflow.as_ref().expect("workflow");
        let mut cfg = crate::scenario::convert::collab_config(w, s.spec.cluster.nodes, 1);
        cfg.redrives = 0;
        let spec = |kind, judge| TaskSpec {
            stage: 0,
            skill: 0,
            priority: Priority::Normal,
            kind,
            size_milli: 1000,
            max_attempts: 1,
            gated: false,
            deps: vec![],
            judge,
            branch: None,
        };
        // A judge (task 0) over two competing entries (tasks 1 and 2).
        let race = || {
            let mut sm = WorkflowState::default();
            sm.apply(&CollabCommand::Submit {
                workflow: crate::collab::WorkflowId(0),
                arrived_at: SimTime(0),
                at: SimTime(0),
                tasks: vec![
                    spec(TaskKind::Judge, None),
                    spec(TaskKind::Entry, Some(TaskId(0))),
                    spec(TaskKind::Entry, Some(TaskId(0))),
                ],
            });
            sm
        };
        let mut sm = race();
        let assign = |sm: &mut WorkflowState, t: u32, agent: u32| {
            let version = sm.task(TaskId(t)).unwrap().version;
            sm.apply(&CollabCommand::Assign {
                task: TaskId(t),
                version,
                agent: NodeId(agent),
                at: SimTime(0),
            });
        };
        let answer = |sm: &mut WorkflowState, t: u32, agent: u32, score: f64, tokens: u64| {
            let version = sm.task(TaskId(t)).unwrap().version;
            sm.apply(&CollabCommand::Result {
                task: TaskId(t),
                version,
                attempt: 1,
                outcome: Outcome {
                    agent: NodeId(agent),
                    started_at: SimTime(u64::from(t)),
                    ..o(score, tokens)
                },
                at: SimTime(10),
            });
        };
        assign(&mut sm, 1, 9);
        assign(&mut sm, 2, 10);
        // Entry 2 (slower start) answers better and cheaper than entry 1.
        answer(&mut sm, 2, 10, 0.9, 500);
        let judge = |sm: &WorkflowState| sm.task(TaskId(0)).unwrap().clone();
        let early = SimTime(1);
        let late = SimTime(cfg.arbiter.deadline.as_micros() + 1);
        assert_eq!(race_step(&cfg, &sm, &judge(&sm), early), RaceStep::Wait);
        assert_eq!(
            race_step(&cfg, &sm, &judge(&sm), late),
            RaceStep::Decide {
                winner: TaskId(2),
                considered: vec![TaskId(2)]
            }
        );
        answer(&mut sm, 1, 9, 0.5, 5000);
        let both = vec![TaskId(1), TaskId(2)];
        assert_eq!(
            race_step(&cfg, &sm, &judge(&sm), early),
            RaceStep::Decide {
                winner: TaskId(2),
                considered: both.clone()
            }
        );
        cfg.bug = Some(CoordBug::ArbiterFirst);
        assert_eq!(
            race_step(&cfg, &sm, &judge(&sm), early),
            RaceStep::Decide {
                winner: TaskId(1),
                considered: both
            }
        );
        cfg.bug = None;
        // A second race whose competitors both fail for good.
        let mut sm2 = race();
        for t in [1, 2] {
            assign(&mut sm2, t, 8 + t);
            let version = sm2.task(TaskId(t)).unwrap().version;
            sm2.apply(&CollabCommand::Fail {
                task: TaskId(t),
                version,
                reason: FailReason::Timeout,
                at: SimTime(5),
            });
        }
        assert_eq!(
            race_step(&cfg, &sm2, &judge(&sm2), late),
            RaceStep::NoEntries
        );
        // Competitors of one race exclude each other's agents.
        let mut sm3 = WorkflowState::default();
        sm3.apply(&CollabCommand::Submit {
            workflow: crate::collab::WorkflowId(0),
            arrived_at: SimTime(0),
            at: SimTime(0),
            tasks: vec![
                spec(TaskKind::Judge, None),
                spec(TaskKind::Entry, Some(TaskId(0))),
                spec(TaskKind::Entry, Some(TaskId(0))),
                spec(TaskKind::Entry, Some(TaskId(0))),
            ],
        });
        assign(&mut sm3, 1, 9);
        let t3 = sm3.task(TaskId(3)).unwrap().clone();
        let proposed = |e: TaskId| (e == TaskId(2)).then_some(NodeId(12));
        assert_eq!(
            rivals(&sm3, TaskId(3), &t3, proposed),
            vec![NodeId(9), NodeId(12)]
        );
    }
}
