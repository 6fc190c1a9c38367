//! Workflow liveness (`liveness.workflows`): once the faults have ended,
//! every workflow completes or is dead-lettered, within a window.
//!
//! The rule, exactly:
//! - **Faults end** at `settled`, as for `liveness.leader` (the last
//!   applied fault event, see [`crate::check::liveness`]); the same end
//!   state must hold (no partition, pause or clock fault in force, a
//!   majority of servers up), and also at least one agent per skill the
//!   stages need must be alive and up at the end. Otherwise the check is
//!   *not judged*, with the reason.
//! - Workflow `i`, arriving at `a_i`, has until `max(settled, a_i, g) +
//!   window`, where `g` is the last scripted approval (a gated workflow
//!   cannot finish before its gates open).
//! - It is **resolved** when no task of it can make progress any more:
//!   every task is final, or dead-lettered with no re-drive left, or
//!   blocked behind such a dead letter (the same rule as `stop_when_done`).
//!   A completed workflow must have completed (true simulated time, first
//!   server to apply it) by its deadline. A workflow resolved by a dead
//!   letter passes: the dead letter carries its reason.
//! - A workflow unresolved at the end fails if its deadline has passed,
//!   naming its blocking task (the first task not final whose
//!   dependencies are, with the coordinator's reason); if its deadline is
//!   after the end it is not judged (counted in the report).
//!
//! It reads the final state and the observer's true times only: no
//! per-event state of its own.

use crate::check::liveness::{EndState, LivenessTracker};
use crate::check::names::{CheckName, LivenessCheck};
use crate::collab::coordinator::{TaskId, TaskStatus, WorkflowState};
use crate::collab::{CollabConfig, Mode};
use crate::metrics::collab::TrueTimes;
use crate::metrics::sections::{LivenessDetail, LivenessVerdict, LivenessWindow};
use crate::metrics::Checks;
use crate::time::{SimDuration, SimTime};

/// What the judge needs about the run besides the final state.
#[derive(Clone, Debug)]
pub struct WorkflowRun<'a> {
    /// The servers' end state (as for the other liveness checks).
    pub end: EndState,
    /// When the faults ended.
    pub settled: SimTime,
    /// The window.
    pub window: SimDuration,
    /// Scheduled arrivals, by workflow.
    pub arrivals: &'a [SimTime],
    /// The last scripted approval (`SimTime::ZERO` if none): a gated
    /// workflow cannot finish before its gates open.
    pub gates: SimTime,
    /// Skills a stage needs that no live agent has at the end.
    pub missing_skills: Vec<String>,
    /// Re-drives a dead letter gets.
    pub redrives: u32,
}

/// Tasks of workflow `wf` that can still make progress: the
/// `WorkflowState::live_tasks` rule restricted to one workflow.
fn live_in(sm: &WorkflowState, wf: usize, stuck: &[bool]) -> bool {
    let w = &sm.workflows()[wf];
    let first = w.first_task.index();
    let tasks = &sm.tasks()[first..first + w.tasks as usize];
    let mut blocked = vec![false; tasks.len()];
    for (k, t) in tasks.iter().enumerate() {
        let dep_blocked = t
            .spec
            .deps
            .iter()
            .any(|&d| blocked[d.index() - first] || stuck[d.index()]);
        match t.status {
            TaskStatus::DeadLetter if !stuck[first + k] => return true,
            TaskStatus::Pending | TaskStatus::Assigned if !dep_blocked => return true,
            TaskStatus::Pending => blocked[k] = true,
            _ => {}
        }
    }
    false
}

/// The task holding workflow `wf` up: the first not final whose
/// dependencies are all final, with the coordinator's reason.
fn blocking(sm: &WorkflowState, wf: usize) -> String {
    let w = &sm.workflows()[wf];
    let first = w.first_task.0;
    for id in (first..first + w.tasks).map(TaskId) {
        let t = &sm.tasks()[id.index()];
        if t.status.is_final() {
            continue;
        }
        let deps_final = t
            .spec
            .deps
            .iter()
            .all(|&d| sm.tasks()[d.index()].status.is_final());
        if deps_final || t.status == TaskStatus::DeadLetter {
            return format!("task {id} ({}): {}", t.status.name(), sm.pending_reason(id));
        }
    }
    "no open task (the workflow's completion was never applied)".into()
}

/// Judge `liveness.workflows` and record it in `checks`; returns the
/// report's `liveness.workflows` entry.
pub fn judge(
    run: &WorkflowRun<'_>,
    sm: &WorkflowState,
    times: &TrueTimes,
    checks: &mut Checks,
) -> LivenessWindow {
    let check = CheckName::Liveness(LivenessCheck::Workflow);
    let ms = |t: SimTime| t.as_millis_f64();
    let window_ms = run.window.as_millis_f64();
    let mut blocked = LivenessTracker::unjudgeable(&run.end);
    if blocked.is_none() && !run.missing_skills.is_empty() {
        blocked = Some(format!(
            "no live agent at the end has skill(s) {}",
            run.missing_skills.join(", ")
        ));
    }
    if let Some(why) = blocked {
        checks.not_judged(check, why.clone());
        return LivenessWindow {
            window_ms,
            verdict: LivenessVerdict::NotJudged,
            detail: LivenessDetail::Text(why),
            ..LivenessWindow::default()
        };
    }
    let end = run.end.end;
    let stuck = sm.stuck_dead_letters(run.redrives);
    let (mut judged, mut open_windows) = (0u64, 0u64);
    let mut failures: Vec<String> = Vec::new();
    for (i, &arrival) in run.arrivals.iter().enumerate() {
        if arrival > end {
            continue;
        }
        let start = run.settled.max(arrival).max(run.gates);
        let deadline = start + run.window;
        let submitted = i < sm.workflows().len();
        let resolved = submitted && !live_in(sm, i, &stuck);
        if resolved {
            judged += 1;
            let done = sm.workflows()[i].done_at.is_some();
            if let Some(t) = times.workflow_done(i).filter(|&t| done && t > deadline) {
                failures.push(format!(
                    "workflow {i} completed only at {} ms, {} ms after {} ms (window {window_ms} ms)",
                    ms(t),
                    ms(t) - ms(start),
                    ms(start)
                ));
            }
        } else if deadline <= end {
            judged += 1;
            let why = if submitted {
                blocking(sm, i)
            } else {
                "never submitted".into()
            };
            failures.push(format!(
                "workflow {i} (arrived {} ms) still open at the end ({} ms), {} ms past its deadline {} ms: blocked on {why}",
                ms(arrival),
                ms(end),
                ms(end) - ms(deadline),
                ms(deadline)
            ));
        } else {
            open_windows += 1;
        }
    }
    let head = format!(
        "faults ended at {} ms; window {window_ms} ms",
        ms(run.settled)
    );
    let (verdict, detail) = if let Some(first) = failures.first() {
        let more = if failures.len() > 1 {
            format!(" (and {} more)", failures.len() - 1)
        } else {
            String::new()
        };
        let m = format!("{head}: {first}{more}");
        checks.record(check, Some(m.clone()));
        (LivenessVerdict::Failed, m)
    } else if judged == 0 {
        let m = format!(
            "{head}: the run ended at {} ms before any workflow's window closed ({open_windows} still inside theirs)",
            ms(end)
        );
        checks.not_judged(check, m.clone());
        (LivenessVerdict::NotJudged, m)
    } else {
        checks.record(check, None);
        (
            LivenessVerdict::Held,
            format!("{judged} workflow(s) resolved in time"),
        )
    };
    LivenessWindow {
        window_ms,
        verdict,
        detail: LivenessDetail::Text(detail),
        judged: Some(judged),
        inside_window_at_end: Some(open_windows),
        failed: Some(failures.len() as u64),
    }
}

/// The default window, derived from the scenario's own timeouts and
/// generous: 10 s plus twice the agent timeout, plus for every stage
/// `task_attempts` times (the longest attempt deadline the dispatcher can
/// give, by its formula 3 x mean latency x size x `agent_slots` + 2 s
/// with the slowest agent, the largest stage and a size draw up to 3x,
/// plus the breaker's open time), plus the arbiter's deadline per stage
/// in races and ten human delays.
pub fn default_window(cfg: &CollabConfig) -> SimDuration {
    let slowest = cfg
        .agents
        .iter()
        .map(|a| a.latency.mean().min(600_000.0))
        .fold(0.0, f64::max);
    let largest = cfg.stages.iter().map(|s| s.size).fold(1.0, f64::max) * 3.0;
    let attempt_ms = slowest * largest * 3.0 * f64::from(cfg.agent_slots.max(1)) + 2000.0;
    let stages = cfg.stages.len().max(1) as f64;
    let attempts = stages * f64::from(cfg.task_attempts.max(1));
    // Every failed attempt may trip a breaker and bench the agent.
    let mut ms = 10_000.0
        + 2.0 * cfg.agent_timeout.as_millis_f64()
        + attempts * (attempt_ms + cfg.breaker_open.as_millis_f64());
    if matches!(cfg.mode, Mode::Competitive | Mode::Hybrid) {
        ms += stages * cfg.arbiter.deadline.as_millis_f64();
    }
    if let Some(d) = &cfg.human_delay {
        ms += 10.0 * d.mean().min(600_000.0);
    }
    SimDuration::from_millis_f64(ms)
}
