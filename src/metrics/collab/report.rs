//! Assembly of the report's `collab` section: its tables, the run data
//! sweeps and the Chrome trace take (every execution, uncapped), the
//! Gantt window and the printed summary line.

use super::*;

/// The one line `agentsim run` prints for the `collab` section.
pub fn summary_line(c: &CollabTables) -> String {
    let m = c.consistency_metrics.clone().unwrap_or_default();
    let mut line = format!(
        "{}/{}: {}/{} workflows, makespan {:.1} s, workflow p50 {:.2} s, {:.0} k tokens, {:.1}% correct",
        c.mode,
        c.consistency,
        c.workflows.completed,
        c.workflows.scheduled,
        c.makespan_ms / 1000.0,
        c.workflows.latency_ms.p50 / 1000.0,
        c.tokens.spent as f64 / 1000.0,
        c.quality.correct_fraction * 100.0,
    );
    line.push_str(&format!(
        ", {} failover(s), {} dead letter(s), {} duplicate execution(s)",
        c.coordinator.failovers, c.dead_letters.count, m.duplicate_executions
    ));
    if let Some(n) = m.conflicting_results.filter(|&n| n > 0) {
        line.push_str(&format!(", {n} conflicting result(s)"));
    }
    line
}

/// Workflow checks an AP coordinator does not promise, and why.
pub const AP_WAIVED: [(WorkflowProperty, &str); 2] = [
    (
        WorkflowProperty::ExactlyOnce,
        "two sides of a partition each commit a result for the same task; counted in conflicting_results",
    ),
    (
        WorkflowProperty::NoLostResults,
        "last-writer-wins drops the losing side's results at the merge; counted in results_lost",
    ),
];

/// The numbers that tell CP and AP apart: how many coordinators ran at
/// once, work done twice, results that conflicted or were lost, and per
/// scripted partition the tasks completed during it and the time from its
/// heal until every server reflected every write made before the heal.
/// `ap` is the AP gossip counters summed over every server life;
/// `executions` the times agents executed each task.
pub fn consistency_metrics(
    cfg: &CollabConfig,
    activity: &Activity,
    windows: &PartitionWindows,
    c: &WorkflowChecker,
    ap: ApStats,
    executions: &[u32],
    checked: bool,
) -> ConsistencyMetrics {
    let duplicates: u64 = executions
        .iter()
        .map(|&c| u64::from(c.saturating_sub(1)))
        .sum();
    let repeated = executions.iter().filter(|&&c| c > 1).count();
    let partitions = windows
        .windows
        .iter()
        .map(|w| PartitionWindow {
            start_ms: ms(w.start),
            heal_ms: ms(w.heal),
            tasks_completed_during: checked.then(|| c.first_done_between(w.start, w.heal)),
            converged_ms_after_heal: w.converged.map(|t| ms(t) - ms(w.heal)),
        })
        .collect();
    ConsistencyMetrics {
        model: if cfg.ap.is_some() { "ap" } else { "cp" }.into(),
        max_coordinators_at_once: activity.max_active as u64,
        duplicate_executions: duplicates,
        tasks_executed_more_than_once: repeated as u64,
        conflicting_results: checked.then_some(c.conflicts),
        results_lost: checked.then_some(c.lost_results),
        partitions,
        ap: cfg.ap.map(|a| ApMetrics {
            gossip_ms: a.gossip.as_millis_f64(),
            suspect_ms: a.suspect.as_millis_f64(),
            syncs_sent: ap.syncs_sent,
            records_sent: ap.records_sent,
            adopted: ap.adopted,
            concurrent_versions: ap.concurrent,
            overwritten_by_merge: ap.overwritten,
            local_writes: ap.writes,
            rejected_writes: ap.rejected,
            activations: ap.activations,
            waived_checks: AP_WAIVED
                .iter()
                .map(|(k, why)| (CheckName::Workflow(*k).name().to_string(), why.to_string()))
                .collect(),
        }),
    }
}

fn ms(t: SimTime) -> f64 {
    t.as_millis_f64()
}

#[derive(Default)]
struct ModeNumbers {
    tasks: u64,
    done: u64,
    tokens: u64,
    latency: LatencyHist,
    score_sum: f64,
    correct: u64,
}

/// What a workflow run yields for sweeps and exports besides its report:
/// the full workflow latency histogram behind `collab.workflows.latency_ms`
/// (sweeps merge it across seeds) and every committed task execution,
/// uncapped (the report's `gantt` lists the first 500; the Chrome trace
/// draws them all).
#[derive(Clone, Debug, Default)]
pub struct CollabRunData {
    /// Submission to completion of each completed workflow, true time.
    pub workflow_latency: LatencyHist,
    /// Every committed execution, in task order.
    pub executions: Vec<Execution>,
}

/// One task execution whose result the final state committed (the rows
/// of the report's `gantt`, with their workflow, attempt and outcome).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Execution {
    /// The workflow the task belongs to.
    pub workflow: u32,
    /// The task (global id).
    pub task: u32,
    /// Attempts started for the task (since its last re-drive); the
    /// committed one is the latest.
    pub attempt: u32,
    /// The agent's address.
    pub agent: u32,
    /// Start, true time, µs (when the agent started it; as the Gantt
    /// chart draws it).
    pub start_us: u64,
    /// How long it ran, true time, µs (to the result).
    pub duration_us: u64,
    /// Tokens it spent.
    pub tokens: u64,
    /// Whether its answer was right.
    pub correct: bool,
}

/// The run data of a finished workflow run (see [`CollabRunData`]).
pub fn run_data(sm: &WorkflowState, times: &TrueTimes, stop: SimTime) -> CollabRunData {
    let executions = sm
        .tasks()
        .iter()
        .enumerate()
        .filter(|(_, t)| t.spec.kind != TaskKind::Judge)
        .filter_map(|(i, t)| {
            t.result.map(|o| {
                let (start, end) = true_span(times, i, &o);
                Execution {
                    workflow: t.workflow.0,
                    task: i as u32,
                    attempt: t.attempts,
                    agent: o.agent.0,
                    start_us: start.0,
                    duration_us: end.saturating_since(start).as_micros(),
                    tokens: o.tokens,
                    correct: o.correct,
                }
            })
        })
        .collect();
    CollabRunData {
        workflow_latency: workflow_latency(sm, times, stop),
        executions,
    }
}

/// The true (start, end) of task `task`'s committed execution `o`: as the
/// observer saw the agent start and finish it. The outcome's own stamps
/// (`started_at`, `duration_us`) are the agent's clock, which a `clock`
/// fault or drift bends; they are the fallback only for an execution the
/// observer never saw end (not expected: a committed result was produced).
fn true_span(times: &TrueTimes, task: usize, o: &crate::collab::Outcome) -> (SimTime, SimTime) {
    times
        .execution(o.agent.0, task as u32, o.started_at)
        .unwrap_or((o.started_at, SimTime(o.started_at.0 + o.duration_us)))
}

/// A Gantt row's `(start_ms, end_ms)` of a true span: the end is written
/// as start plus duration (the file's rounding since the first version).
fn span_ms((start, end): (SimTime, SimTime)) -> (f64, f64) {
    let s = ms(start);
    (
        s,
        s + end.saturating_since(start).as_micros() as f64 / 1000.0,
    )
}

/// Workflow latency, true time: from each workflow's start to the first
/// time a server saw it done (`stop` if none did), completed ones only.
fn workflow_latency(sm: &WorkflowState, times: &TrueTimes, stop: SimTime) -> LatencyHist {
    let mut h = LatencyHist::new();
    for (i, w) in sm.workflows().iter().enumerate() {
        if w.done_at.is_some() {
            let done = times.workflow_done(i).unwrap_or(stop);
            let start = times.workflow_start(i, w.arrived_at);
            h.record_us(done.saturating_since(start).as_micros());
        }
    }
    h
}

/// The Gantt rows of the task executions overlapping `window_ms` (the
/// first `GANTT_CAP` of them, in task order, as `collab_tables` lists
/// them) and how many overlap it: `RunOptions::gantt_window_ms`.
pub fn gantt_window(
    sm: &WorkflowState,
    times: &TrueTimes,
    window_ms: (f64, f64),
) -> (Vec<GanttRow>, u64) {
    let mut rows = Vec::new();
    let mut in_window = 0u64;
    for (i, t) in sm.tasks().iter().enumerate() {
        let Some(o) = t.result.filter(|_| t.spec.kind != TaskKind::Judge) else {
            continue;
        };
        let (start, end) = span_ms(true_span(times, i, &o));
        if end < window_ms.0 || start > window_ms.1 {
            continue;
        }
        in_window += 1;
        if rows.len() < GANTT_CAP {
            rows.push(GanttRow {
                agent: o.agent.0,
                task: i as u64,
                start_ms: start,
                end_ms: end,
            });
        }
    }
    (rows, in_window)
}

/// The report's `collab` tables (without `consistency_metrics` and
/// `summary`, which the runner adds): `sm` is the final word on the
/// workflows, `ap_counters` the AP copies' own counters summed (CP reads
/// `sm`'s).
#[allow(clippy::too_many_arguments)]
pub fn collab_tables(
    cfg: &CollabConfig,
    sm: &WorkflowState,
    activity: &Activity,
    ap_counters: Counters,
    d: &DispatchStats,
    a: &AgentStats,
    dead_agents: u64,
    stop: SimTime,
    times: &TrueTimes,
) -> CollabTables {
    let tasks = sm.tasks();
    let mut by_status: BTreeMap<&str, u64> = BTreeMap::new();
    let mut latency = LatencyHist::new();
    let mut per_mode: BTreeMap<&str, ModeNumbers> = BTreeMap::new();
    let mut tokens_committed = 0u64;
    let (mut score_sum, mut correct, mut results) = (0.0, 0u64, 0u64);
    let mut gantt = Vec::new();
    let mut gantt_total = 0u64;
    let weights = cfg.arbiter.weights;
    for (i, t) in tasks.iter().enumerate() {
        *by_status.entry(t.status.name()).or_default() += 1;
        let m = per_mode.entry(t.spec.kind.mode_name()).or_default();
        if t.spec.kind != TaskKind::Entry {
            m.tasks += 1;
        }
        // The unit of work delivered: a pipeline/division task or a race.
        if t.status == TaskStatus::Done && t.spec.kind != TaskKind::Entry {
            let o = t.result.expect("done has a result");
            let wf = &sm.workflows()[t.workflow.index()];
            let start = times.workflow_start(t.workflow.index(), wf.arrived_at);
            let end = times.task_done(i).unwrap_or(stop);
            let us = end.saturating_since(start).as_micros();
            latency.record_us(us);
            m.latency.record_us(us);
            m.done += 1;
            let s = o.score(&weights);
            m.score_sum += s;
            score_sum += s;
            results += 1;
            if o.correct {
                correct += 1;
                m.correct += 1;
            }
        }
        // Tokens of committed attempts (a race's own result is a copy).
        if let (Some(o), false) = (t.result, t.spec.kind == TaskKind::Judge) {
            tokens_committed = tokens_committed.saturating_add(o.tokens);
            m.tokens = m.tokens.saturating_add(o.tokens);
            gantt_total += 1;
            if gantt.len() < GANTT_CAP {
                let (start_ms, end_ms) = span_ms(true_span(times, i, &o));
                gantt.push(GanttRow {
                    agent: o.agent.0,
                    task: i as u64,
                    start_ms,
                    end_ms,
                });
            }
        }
    }
    let wfs = sm.workflows();
    // Durations in true simulated time (see `TrueTimes`): a workflow done
    // in the final state is done at the true time it was first seen done.
    let done_at = |i: usize, w: &crate::collab::coordinator::Workflow| {
        w.done_at.map(|_| times.workflow_done(i).unwrap_or(stop))
    };
    let first = wfs.first().map(|w| times.workflow_start(0, w.arrived_at));
    let last_done = wfs
        .iter()
        .enumerate()
        .filter_map(|(i, w)| done_at(i, w))
        .max();
    let makespan = match (first, last_done) {
        (Some(f), Some(l)) => ms(l) - ms(f),
        _ => 0.0,
    };
    let wf_latency = workflow_latency(sm, times, stop);
    let completed_wfs = wfs.iter().filter(|w| w.done_at.is_some()).count();
    // Stall: time a workflow was open with no active coordinator.
    let mut stalls: Vec<(usize, f64)> = Vec::new();
    for (i, w) in wfs.iter().enumerate() {
        let end = done_at(i, w).unwrap_or(stop);
        let s: u64 = activity
            .gaps
            .iter()
            .map(|&(g0, g1)| {
                let lo = g0.max(w.arrived_at);
                let hi = g1.min(end);
                hi.saturating_since(lo).as_micros()
            })
            .sum();
        if s > 0 {
            stalls.push((i, s as f64 / 1000.0));
        }
    }
    let stall_total: f64 = stalls.iter().map(|s| s.1).sum();
    let stall_max = stalls.iter().map(|s| s.1).fold(0.0, f64::max);
    let dead_at = times.dead_letter_times(sm);
    let dead: Vec<DeadLetterRow> = sm
        .dead_letters()
        .iter()
        .zip(dead_at)
        .take(LIST_CAP)
        .map(|(dl, at)| {
            let t = &tasks[dl.task.index()];
            DeadLetterRow {
                task: dl.task.0,
                workflow: t.workflow.0,
                stage: cfg.stages[t.spec.stage as usize].id.clone(),
                reason: dl.reason.name().into(),
                attempts: dl.attempts,
                at_ms: at.map(ms),
                status_now: t.status.name().into(),
            }
        })
        .collect();
    let pending: Vec<PendingTask> = tasks
        .iter()
        .enumerate()
        .filter(|(_, t)| !t.status.is_final())
        .take(LIST_CAP)
        .map(|(i, t)| PendingTask {
            task: i as u64,
            workflow: t.workflow.0,
            status: t.status.name().into(),
            reason: sm.pending_reason(TaskId(i as u32)),
        })
        .collect();
    let open = tasks.iter().filter(|t| !t.status.is_final()).count();
    let dead_total = sm.dead_letters().len();
    let races: Vec<RaceDecision> = tasks
        .iter()
        .enumerate()
        .filter(|(_, t)| t.winner.is_some())
        .take(LIST_CAP)
        .map(|(i, t)| {
            let cands: Vec<(TaskId, crate::collab::Outcome)> = t
                .entries
                .iter()
                .filter_map(|&e| tasks[e.index()].result.map(|o| (e, o)))
                .collect();
            let w = t.winner.expect("winner");
            RaceDecision {
                race: i as u64,
                winner: w.0,
                why: competitive::explain(&cfg.arbiter, w, &cands),
            }
        })
        .collect();
    let per_done = |x: f64, done: u64| if done > 0 { x / done as f64 } else { 0.0 };
    let modes: BTreeMap<String, ModeTable> = per_mode
        .iter()
        .filter(|(_, m)| m.tasks > 0)
        .map(|(name, m)| {
            (
                name.to_string(),
                ModeTable {
                    tasks: m.tasks,
                    completed: m.done,
                    tokens: m.tokens,
                    tokens_per_completed: per_done(m.tokens as f64, m.done),
                    latency_ms: m.latency.summary(),
                    mean_score: per_done(m.score_sum, m.done),
                    correct_fraction: per_done(m.correct as f64, m.done),
                },
            )
        })
        .collect();
    let c = if cfg.ap.is_some() {
        // Each AP copy counts only the commands it applied itself.
        ap_counters
    } else {
        sm.counters()
    };
    let (competitors, competitors_total) = competitors_list(&cfg.arbiter, tasks);
    let failovers = activity.activations.len().saturating_sub(1);
    let per = |x: f64, n: u64| if n > 0 { x / n as f64 } else { 0.0 };
    CollabTables {
        mode: cfg.mode.name().into(),
        consistency: if cfg.ap.is_some() { "ap" } else { "cp" }.into(),
        agents: AgentsTable {
            count: cfg.agents.len() as u64,
            dead: dead_agents,
            lost_detected: d.agents_lost,
            executed: a.executed,
            transient_failures: a.transient_failures,
            busy_ms: a.busy_us as f64 / 1000.0,
            overtakes: a.overtakes,
            refused: a.refused,
        },
        workflows: WorkflowsTable {
            scheduled: cfg.arrivals.len() as u64,
            submitted: wfs.len() as u64,
            completed: completed_wfs as u64,
            latency_ms: wf_latency.summary(),
        },
        tasks: TasksTable {
            total: tasks.len() as u64,
            by_status: by_status.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            open_at_end: open as u64,
        },
        makespan_ms: makespan,
        task_latency_ms: latency.summary(),
        tokens: tokens_table(tokens_committed, a.tokens, results),
        quality: QualityTable {
            mean_score: per(score_sum, results),
            correct_fraction: per(correct as f64, results),
            results,
        },
        retries: RetriesTable {
            assignment_resends: d.assignment_resends,
            result_resends: a.result_resends,
            results_abandoned: a.results_abandoned,
            requeued_attempts: c.requeued,
        },
        duplicates_discarded: DuplicatesTable {
            agents: a.duplicates_discarded,
            coordinator: d.duplicates_discarded,
        },
        rejected: RejectedTable {
            stale: c.stale_rejected,
            duplicate: c.duplicate_rejected,
            late: c.late_rejected,
        },
        dead_letters: DeadLettersTable {
            count: c.dead_lettered,
            redriven: c.redriven,
            still_dead: by_status.get("dead_letter").copied().unwrap_or(0),
            unacked_assignments: d.unacked,
            list: dead,
            list_total: dead_total as u64,
            list_capped: dead_total > LIST_CAP,
        },
        breaker_trips: d.breaker_trips,
        reassignments: d.reassignments,
        coordinator: CoordinatorTable {
            failovers: failovers as u64,
            activations: activity
                .activations
                .iter()
                .map(|&(node, term, at)| Activation {
                    node,
                    term,
                    at_ms: ms(at),
                })
                .collect(),
            resent_after_failover: d.resent_after_failover,
            proposals: d.proposals,
        },
        stall_ms: StallTable {
            total: stall_total,
            max: stall_max,
            workflows_stalled: stalls.len() as u64,
            per_workflow: stalls
                .iter()
                .take(LIST_CAP)
                .map(|&(w, s)| WorkflowStall {
                    workflow: w as u64,
                    stall_ms: s,
                })
                .collect(),
        },
        per_mode: modes,
        division: DivisionTable {
            algorithm: match cfg.assign {
                AssignAlgo::Hungarian => "hungarian",
                AssignAlgo::Greedy => "greedy",
            }
            .into(),
            batches: d.batches,
            tasks: d.batch_tasks,
            total_cost: d.batch_cost_milli as f64 / 1000.0,
            mean_cost: per(d.batch_cost_milli as f64 / 1000.0, d.batch_tasks),
        },
        arbiter: ArbiterTable {
            decisions: c.arbitrations,
            examples: races,
        },
        competitors,
        competitors_total,
        pending_at_end: pending,
        pending_at_end_total: open as u64,
        pending_at_end_capped: open > LIST_CAP,
        list_cap: LIST_CAP as u64,
        gantt,
        gantt_total,
        gantt_window_ms: None,
        gantt_in_window: None,
        consistency_metrics: None,
        summary: None,
        other: BTreeMap::new(),
    }
}

/// The `tokens` section. Totals add with saturation; a total that reached
/// `u64::MAX` is marked `"saturated": true` (the key is absent otherwise).
fn tokens_table(committed: u64, spent: u64, results: u64) -> TokensTable {
    let saturated = committed == u64::MAX || spent == u64::MAX;
    TokensTable {
        committed,
        spent,
        per_completed_task: if results > 0 {
            committed as f64 / results as f64
        } else {
            0.0
        },
        saturated: saturated.then_some(true),
        note: saturated.then(|| "a token total reached 2^64-1 and stopped there (saturating addition): the true total is larger".into()),
    }
}

/// Points of the competitor list (the quality-vs-tokens plot).
const COMPETITOR_CAP: usize = 2000;

/// Every race entry with a committed result, in task id order, as the
/// arbiter saw it: tokens, weighted score, utility (its rule's value) and
/// whether it won its race. Returns the first [`COMPETITOR_CAP`] points and
/// the total, so a truncated list is visible. Reads the final state only.
fn competitors_list(
    a: &ArbiterConfig,
    tasks: &[crate::collab::coordinator::Task],
) -> (Vec<Competitor>, u64) {
    let mut points = Vec::new();
    let mut total = 0u64;
    for (i, t) in tasks.iter().enumerate() {
        let (TaskKind::Entry, Some(o), Some(race)) = (t.spec.kind, t.result, t.spec.judge) else {
            continue;
        };
        total += 1;
        if points.len() < COMPETITOR_CAP {
            let winner = tasks[race.index()].winner == Some(TaskId(i as u32));
            points.push(Competitor {
                race: race.0,
                task: i as u64,
                agent: o.agent.0,
                tokens: o.tokens,
                score: o.score(&a.weights),
                utility: competitive::utility(a, &o),
                correct: o.correct,
                winner,
            });
        }
    }
    (points, total)
}
