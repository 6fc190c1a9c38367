//! Wiring: turn a validated scenario into a world of the right processes,
//! run it with its checkers, and build the report. Every kind of run has
//! one shape, the [`RunKind`] trait, driven by one generic [`run_kind`]
//! (build, tracer, run, base report); the kinds differ only in their
//! processes, their observer and the sections they add to the report. The
//! CLI, sweeps and tests all come through [`run`].

pub mod collab;
mod collab_observer;
mod heartbeat;
mod history_tap;
pub mod raft;

use crate::check::liveness::{self, EndState};
use crate::check::names::{CheckName, Expectation, LivenessCheck};
use crate::fault::AppliedFault;
use crate::metrics::faults::{fault_json, FaultLogSummary, FaultRecord};
use crate::metrics::report::network_section;
use crate::metrics::{Checks, Report};
use crate::process::{Message, Process};
use crate::scenario::{ProcessKind, Scenario};
use crate::sim::{NodeStatus, Observer, TraceEvent, World};
use serde_json::{json, Map};
use std::cell::RefCell;
use std::io::Write;
use std::rc::Rc;

/// A shared writer for the per-event trace (`--trace FILE`).
pub type TraceSink = Rc<RefCell<dyn Write>>;

/// A typed tap on the run's events: the kernel's trace record with the
/// message reduced to its type name (`TraceEvent<'_, &'static str>`), for
/// readers in this process (plots, the Chrome trace) that would otherwise
/// format a JSON line per event only to parse it back.
pub trait EventTap {
    /// One dispatched event, before its handler runs.
    fn event(&mut self, ev: &TraceEvent<'_, &'static str>);
}

/// A shared [`EventTap`] (`RunOptions::tap`).
pub type TapSink = Rc<RefCell<dyn EventTap>>;

/// A shared progress callback (virtual now, virtual end, events so far),
/// called every `sim::PROGRESS_EVERY` events; the CLI prints a progress
/// line from it on long runs.
pub type ProgressSink = Rc<RefCell<dyn FnMut(crate::time::SimTime, crate::time::SimTime, u64)>>;

/// Where a KV run's client history goes.
#[derive(Default, Clone)]
pub enum HistoryOutput {
    /// Kept in memory and returned in [`RunOutput::history`] (plots,
    /// reports, tests; memory grows with the run).
    #[default]
    Keep,
    /// Written as JSON lines (docs/history-format.md) to this writer while
    /// the run goes; nothing kept.
    Stream(TraceSink),
    /// Both: written while the run goes and kept (`run --history F
    /// --metrics M`, whose latency histogram reads the kept events).
    KeepAndStream(TraceSink),
    /// Not kept (the checker and the latency histogram still see it).
    Discard,
}

/// Options a run takes besides the scenario.
#[derive(Default, Clone)]
pub struct RunOptions {
    /// Override the scenario's seed.
    pub seed: Option<u64>,
    /// Override the scenario's duration, ms.
    pub duration_ms: Option<f64>,
    /// Switch on a bug variant (overrides the scenario's `bug`).
    pub bug: Option<String>,
    /// Write one JSON line per event here.
    pub trace: Option<TraceSink>,
    /// Hand every event, typed, to this tap (plots and the Chrome trace of
    /// a live run; nothing is formatted). May be set with `trace`.
    pub tap: Option<TapSink>,
    /// Run without the safety and linearizability checkers (metrics still
    /// gathered). Only for measuring what the checkers cost; a run without
    /// checkers reports `checks.ok` true without having checked anything,
    /// so the CLI never sets this.
    pub skip_checkers: bool,
    /// What to do with a KV run's client history.
    pub history: HistoryOutput,
    /// Called now and then during the run (see [`ProgressSink`]).
    pub progress: Option<ProgressSink>,
    /// Fault records the report lists (None: the default,
    /// [`crate::fault::DEFAULT_FAULT_LOG_CAP`]); tests set a small cap.
    pub fault_log_cap: Option<usize>,
    /// A sweep's per-seed budget: the run stops when it is exceeded and
    /// the report's first failure is `budget` (see [`crate::sweep::SeedBudget`]).
    pub budget: Option<crate::sweep::SeedBudget>,
    /// Workflow runs: list in the report's `collab.gantt` the task
    /// executions overlapping this window of virtual ms (the first 500 of
    /// them) instead of the run's first 500, and record the window as
    /// `collab.gantt_window_ms` (with `collab.gantt_in_window`, how many
    /// overlap it). `plot --gantt-window` sets it; the run itself is
    /// unchanged.
    pub gantt_window_ms: Option<(f64, f64)>,
    /// Collect abstract-state coverage here (Raft key-value runs; guided
    /// sweeps). Read-only: the run and its trace hash are unchanged.
    /// Ignored when `trace` or `tap` is set (the tracer slot is taken).
    pub coverage: Option<crate::sweep::coverage::CoverageSink>,
    /// Return the run's fault records in [`RunOutput::faults`] (shrinking
    /// rewrites them as scripted faults; they carry durations the report
    /// does not).
    pub keep_faults: bool,
}

/// The result of a run: the report plus by-products the CLI may write.
#[derive(Debug, Clone)]
pub struct RunOutput {
    /// The report.
    pub report: Report,
    /// Client history (Raft workloads), when recorded; encoded as JSON
    /// lines (docs/history-format.md) only if streamed.
    pub history: Option<Vec<crate::kv::history::HistoryEvent>>,
    /// Latency histograms behind the report's percentiles (Raft runs), so
    /// sweeps can merge them across seeds.
    pub latency: Option<LatencyHists>,
    /// Workflow runs: the workflow latency histogram and every committed
    /// task execution (sweeps merge the one, the Chrome trace draws the
    /// other).
    pub collab: Option<crate::metrics::collab::CollabRunData>,
    /// The fault records the report lists, when
    /// [`RunOptions::keep_faults`] asked for them.
    pub faults: Option<Vec<AppliedFault>>,
}

/// The full latency histograms of a Raft run.
#[derive(Debug, Clone)]
pub struct LatencyHists {
    /// Client operation latency (invoke → ok/fail).
    pub client: crate::metrics::hist::LatencyHist,
    /// Leader append → commit latency.
    pub commit: crate::metrics::hist::LatencyHist,
}

/// Apply overrides to a scenario, giving the scenario as it will run.
pub fn effective(scenario: &Scenario, opts: &RunOptions) -> Scenario {
    let mut spec = scenario.spec.clone();
    if let Some(s) = opts.seed {
        spec.seed = s;
    }
    if let Some(d) = opts.duration_ms {
        spec.duration_ms = d;
    }
    if opts.bug.is_some() {
        spec.bug = opts.bug.clone();
    }
    Scenario { spec }
}

/// Run a scenario to completion. The scenario must already have the
/// overrides of `opts` applied (see [`effective`]); `opts.trace` is used.
pub fn run(scenario: &Scenario, opts: &RunOptions) -> RunOutput {
    if scenario.spec.workflow.is_some() {
        return run_kind::<collab::CollabKind>(scenario, opts);
    }
    match scenario.spec.cluster.process {
        ProcessKind::Heartbeat => run_kind::<heartbeat::HeartbeatKind>(scenario, opts),
        ProcessKind::Raft => run_kind::<raft::RaftKind>(scenario, opts),
    }
}

/// One kind of run: which processes make up the world, what watches it,
/// and what it adds to the report at the end. The value is what the three
/// steps share, read from the scenario once (a collaboration run's config,
/// with arrivals drawn from the seed, is built once and handed to both the
/// world and the observer).
pub trait RunKind: Sized {
    /// The world's process type.
    type Process: Process;
    /// What watches every event (checkers, metrics).
    type Observer: Observer<Self::Process>;
    /// Read what the run needs from the (validated) scenario.
    fn new(scenario: &Scenario) -> Self;
    /// The world, its processes not yet started.
    fn world(&self, scenario: &Scenario) -> World<Self::Process>;
    /// The observer the run is watched by.
    fn observer(&self, scenario: &Scenario, opts: &RunOptions) -> Self::Observer;
    /// After the run: record this kind's checks in `report.checks` (the
    /// event-storm check is already there; the delivery expectation comes
    /// after) and add its report sections.
    fn finish(
        self,
        run: Finished<'_, Self::Process>,
        observer: Self::Observer,
        report: &mut Report,
    ) -> Byproducts;
}

/// What [`RunKind::finish`] reads besides its observer.
pub struct Finished<'a, P: Process> {
    /// The scenario as run.
    pub scenario: &'a Scenario,
    /// The run's options.
    pub opts: &'a RunOptions,
    /// The world where the run stopped.
    pub world: &'a World<P>,
}

/// What a run yields besides its report (see [`RunOutput`]).
#[derive(Default)]
pub struct Byproducts {
    /// Client history, when kept.
    pub history: Option<Vec<crate::kv::history::HistoryEvent>>,
    /// Latency histograms (Raft runs).
    pub latency: Option<LatencyHists>,
    /// Workflow latencies and executions (workflow runs).
    pub collab: Option<crate::metrics::collab::CollabRunData>,
}

/// Run one kind of world: build it, install the tracer, the event cap and
/// progress, run it under the kind's observer, then build the report: the
/// shared fields and the event-storm check, the kind's sections and
/// checks, and the delivery expectation (meaningful in every kind).
pub fn run_kind<K: RunKind>(scenario: &Scenario, opts: &RunOptions) -> RunOutput {
    let kind = K::new(scenario);
    let mut world = kind.world(scenario);
    if opts.trace.is_some() || opts.tap.is_some() {
        install_tracer(&mut world, opts.trace.clone(), opts.tap.clone());
    } else if let Some(c) = &opts.coverage {
        install_coverage_tap(&mut world, c.clone());
    }
    let mut observer = kind.observer(scenario, opts);
    let cap = install_event_cap(&mut world, scenario);
    if let Some(n) = opts.fault_log_cap {
        world.set_fault_log_cap(n);
    }
    if let Some(b) = &opts.budget {
        world.set_max_events(cap.min(b.events));
        world.set_max_pending(b.pending_events);
    }
    install_progress(&mut world, opts);
    world.run(&mut observer);

    let mut checks = Checks {
        ok: true,
        ..Default::default()
    };
    let over_budget = opts.budget.and_then(|b| b.exceeded(&world, cap));
    if over_budget.is_some() {
        // Cut short by the sweep, not by the scenario's own cap.
        checks.not_judged(
            CheckName::Liveness(LivenessCheck::EventStorm),
            "the run was stopped by the sweep's per-seed budget".into(),
        );
    } else {
        event_storm_check(&world, cap, &mut checks);
    }
    let mut report = base_report(scenario, &world, checks);
    let run = Finished {
        scenario,
        opts,
        world: &world,
    };
    let by = kind.finish(run, observer, &mut report);
    delivery_expectation(scenario, &world, &mut report.checks);
    if let Some(message) = over_budget {
        report.checks.ok = false;
        report.checks.failures.insert(
            0,
            crate::metrics::report::CheckFailure {
                check: crate::sweep::BUDGET_FAILURE.into(),
                message,
            },
        );
    }
    RunOutput {
        report,
        history: by.history,
        latency: by.latency,
        collab: by.collab,
        faults: opts.keep_faults.then(|| applied_faults(&world)),
    }
}

/// Install the tracer: JSON lines to `sink` and/or typed events to `tap`.
fn install_tracer<P: Process>(world: &mut World<P>, sink: Option<TraceSink>, tap: Option<TapSink>) {
    world.set_tracer(Box::new(move |ev: &TraceEvent<'_, P::Msg>| {
        if let Some(sink) = &sink {
            trace_line(sink, ev);
        }
        if let Some(tap) = &tap {
            let kind = ev.msg.map(Message::kind);
            tap.borrow_mut().event(&TraceEvent {
                time: ev.time,
                kind: ev.kind,
                node: ev.node,
                from: ev.from,
                sent: ev.sent,
                msg: kind.as_ref(),
                timer: ev.timer,
                fault: ev.fault,
            });
        }
    }));
}

/// Write one event as a JSON line (`--trace FILE`).
fn trace_line<M: Message>(sink: &TraceSink, ev: &TraceEvent<'_, M>) {
    let mut line = json!({
        "time_us": ev.time.0,
        "kind": ev.kind.name(),
    });
    let m = line.as_object_mut().expect("object");
    if let Some(n) = ev.node {
        m.insert("node".into(), json!(n.0));
    }
    if let Some(f) = ev.from {
        m.insert("from".into(), json!(f.0));
    }
    if let Some(t) = ev.sent {
        m.insert("sent_us".into(), json!(t.0));
    }
    if let Some(msg) = ev.msg {
        m.insert("msg".into(), json!(msg.kind()));
        m.insert("detail".into(), json!(format!("{msg:?}")));
    }
    if let Some(t) = ev.timer {
        m.insert("timer".into(), json!(t.0));
    }
    if let Some(f) = ev.fault {
        m.insert("fault".into(), fault_json(f));
    }
    // A failed write is detected when the CLI flushes the file.
    let _ = writeln!(sink.borrow_mut(), "{line}");
}

/// Install the tracer that tells coverage each event's message type or
/// timer (observers see only the dispatch kind). It only reads.
fn install_coverage_tap<P: Process>(
    world: &mut World<P>,
    sink: crate::sweep::coverage::CoverageSink,
) {
    world.set_tracer(Box::new(move |ev: &TraceEvent<'_, P::Msg>| {
        sink.borrow_mut()
            .note(ev.kind, ev.msg.map(|m| m.kind()), ev.timer.map(|t| t.0));
    }));
}

/// The report fields every process kind shares.
fn base_report<P: Process>(scenario: &Scenario, world: &World<P>, checks: Checks) -> Report {
    Report {
        seed: scenario.spec.seed,
        scenario: scenario.spec.clone(),
        trace_hash: crate::scenario::bind_verdict_settings(world.trace_hash(), &scenario.spec),
        events: world.events(),
        sim_time_ms: world.now().as_millis_f64(),
        wall_ms: 0.0,
        events_per_s: 0.0,
        network: Some(network_section(&world.network().counters)),
        faults: world.applied_faults().iter().map(FaultRecord::of).collect(),
        fault_log: FaultLogSummary::of(world.fault_log()),
        checks,
        raft: None,
        collab: None,
        heartbeat: None,
        other: Map::new(),
    }
}

/// Faults a run applied (for tests and shrinking).
pub fn applied_faults<P: Process>(world: &World<P>) -> Vec<AppliedFault> {
    world.applied_faults().to_vec()
}

/// Hand the run's progress callback, if any, to the world.
fn install_progress<P: Process>(world: &mut World<P>, opts: &RunOptions) {
    if let Some(p) = opts.progress.clone() {
        world.set_progress(Box::new(move |now, end, events| {
            (p.borrow_mut())(now, end, events)
        }));
    }
}

/// Install the run's event cap (`limits.max_events` or the default).
fn install_event_cap<P: Process>(world: &mut World<P>, scenario: &Scenario) -> u64 {
    let spec = &scenario.spec;
    let cap = liveness::max_events(
        spec.limits.as_ref().and_then(|l| l.max_events),
        spec.duration_ms,
    );
    world.set_max_events(cap);
    cap
}

/// The `liveness.event_storm` check: fails when the run hit its event cap.
/// Recorded first, so a sweep files the seed under this kind.
fn event_storm_check<P: Process>(world: &World<P>, cap: u64, checks: &mut Checks) {
    let failure = world.event_cap_hit().then(|| {
        liveness::event_storm_message(world.events(), cap, world.now(), world.config().duration)
    });
    checks.record(CheckName::Liveness(LivenessCheck::EventStorm), failure);
}

/// The end-of-run state of the `servers` cluster nodes, for the liveness
/// judge.
pub(crate) fn end_state<P: Process>(world: &World<P>, servers: u32) -> EndState {
    let status = |s| {
        (0..servers)
            .filter(|&i| world.status(crate::ids::NodeId(i)) == s)
            .count() as u32
    };
    EndState {
        end: world.now(),
        up: status(NodeStatus::Up),
        paused: status(NodeStatus::Paused),
        servers,
        network_faults: world.network().faults_active(),
        skewed: (0..servers)
            .filter(|&i| world.clock_faulted(crate::ids::NodeId(i)))
            .count() as u32,
        event_storm: world.event_cap_hit() || world.pending_cap_hit(),
        loss: base_loss(world.network().config(), servers),
    }
}

/// The highest loss probability the network's configuration sets on a link
/// between two of the `servers` cluster nodes (the default link's when no
/// override applies).
fn base_loss(cfg: &crate::net::NetConfig, servers: u32) -> f64 {
    cfg.links
        .iter()
        .filter(|(&(from, to), _)| from < servers && to < servers)
        .map(|(_, p)| p.drop)
        .fold(cfg.default.drop, f64::max)
}

/// `expect.min_delivery_ratio`, from the network counters: meaningful in
/// every run kind.
fn delivery_expectation<P: Process>(scenario: &Scenario, world: &World<P>, checks: &mut Checks) {
    let Some(min) = scenario
        .spec
        .expect
        .as_ref()
        .and_then(|e| e.min_delivery_ratio)
    else {
        return;
    };
    let c = &world.network().counters;
    let ratio = delivery_ratio(c.delivered, c.sent);
    let failure = (ratio < min).then(|| {
        format!(
            "delivered {} of {} messages ({ratio:.4}), expected at least {min}",
            c.delivered, c.sent
        )
    });
    checks.record(CheckName::Expect(Expectation::MinDeliveryRatio), failure);
}

/// Delivered over sent (1 when nothing was sent).
pub(crate) fn delivery_ratio(delivered: u64, sent: u64) -> f64 {
    if sent == 0 {
        1.0
    } else {
        delivered as f64 / sent as f64
    }
}
