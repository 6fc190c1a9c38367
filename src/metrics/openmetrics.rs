//! Counters and histograms of one or more runs in the OpenMetrics text
//! format (`run --metrics FILE`, `sweep --metrics FILE`), readable by
//! Prometheus and friends: `# TYPE`, `# UNIT` (for families with a unit)
//! and `# HELP` per family, then its samples; counters as `_total`;
//! histograms as cumulative `_bucket{le=...}` plus `_sum` and `_count`;
//! `# EOF` last.
//!
//! Conventions (docs/metrics.md lists every family): the unit is the last
//! word of a family name (`agentsim_network_sent_bytes`, counter samples
//! `..._bytes_total`); one family per quantity, broken down by labels
//! (`type`, `cause`, `outcome`, `kind`/`state`, `check`) rather than by
//! extra families; a name means the same type in run and sweep files.
//! Every run sample carries `scenario` and `seed` labels (a sweep's carry
//! `scenario`), so the output of many runs can be concatenated into one
//! family list. Times are in seconds, as OpenMetrics recommends. Nothing
//! wall-clock is exported, so the file is a deterministic function of the
//! run.

use crate::kv::history::{EventType, HistoryEvent};
use crate::metrics::collab_tables::CollabTables;
use crate::metrics::hist::LatencyHist;
use crate::metrics::Report;
use crate::sweep::SweepStats;
use std::collections::BTreeMap;
use std::fmt::Write;

/// Histogram bucket upper bounds, seconds (`+Inf` is added).
pub const BUCKETS_S: [f64; 17] = [
    0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0,
    120.0,
];

/// One run to export: its report and, if recorded, its client history.
pub struct MetricsInput<'a> {
    /// The report.
    pub report: &'a Report,
    /// Client history (for the client latency histogram).
    pub history: Option<&'a [HistoryEvent]>,
    /// The run's full client latency histogram (used when no history
    /// was kept).
    pub client_latency: Option<&'a LatencyHist>,
    /// The run's full commit latency histogram (Raft runs).
    pub commit_latency: Option<&'a LatencyHist>,
}

/// Help of the histograms a run and a sweep both export (same name, same
/// type, same meaning).
pub const CLIENT_LATENCY_HELP: &str =
    "Client operation latency (ok and fail completions), virtual seconds.";
/// See [`CLIENT_LATENCY_HELP`].
pub const COMMIT_LATENCY_HELP: &str = "Leader append to commit, virtual seconds.";
/// See [`CLIENT_LATENCY_HELP`].
pub const DOWNTIME_HELP: &str = "Intervals without a leader known to a majority, virtual seconds.";

#[derive(Default)]
struct Family {
    kind: &'static str,
    help: &'static str,
    lines: Vec<String>,
}

/// The unit a family name ends with, for its `# UNIT` line (OpenMetrics:
/// if a family has a unit, its name ends with `_<unit>`).
fn unit_of(name: &str) -> Option<&'static str> {
    ["seconds", "bytes", "ratio"]
        .into_iter()
        .find(|u| name.ends_with(&format!("_{u}")))
}

#[derive(Default)]
struct Families {
    order: Vec<&'static str>,
    by_name: BTreeMap<&'static str, Family>,
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn labels(base: &[(&str, String)], extra: &[(&str, String)]) -> String {
    let all: Vec<String> = base
        .iter()
        .chain(extra)
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect();
    format!("{{{}}}", all.join(","))
}

fn num(v: f64) -> String {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

impl Families {
    fn family(
        &mut self,
        name: &'static str,
        kind: &'static str,
        help: &'static str,
    ) -> &mut Family {
        if !self.by_name.contains_key(name) {
            self.order.push(name);
        }
        self.by_name.entry(name).or_insert_with(|| Family {
            kind,
            help,
            lines: Vec::new(),
        })
    }

    fn counter(&mut self, name: &'static str, help: &'static str, l: &str, v: f64) {
        let f = self.family(name, "counter", help);
        f.lines.push(format!("{name}_total{l} {}", num(v)));
    }

    fn gauge(&mut self, name: &'static str, help: &'static str, l: &str, v: f64) {
        let f = self.family(name, "gauge", help);
        f.lines.push(format!("{name}{l} {}", num(v)));
    }

    fn histogram(
        &mut self,
        name: &'static str,
        help: &'static str,
        base: &[(&str, String)],
        samples_s: &[f64],
    ) {
        let f = self.family(name, "histogram", help);
        for &le in &BUCKETS_S {
            let c = samples_s.iter().filter(|&&s| s <= le).count();
            let l = labels(base, &[("le", num(le))]);
            f.lines.push(format!("{name}_bucket{l} {c}"));
        }
        let l = labels(base, &[("le", "+Inf".into())]);
        f.lines
            .push(format!("{name}_bucket{l} {}", samples_s.len()));
        let l = labels(base, &[]);
        f.lines
            .push(format!("{name}_sum{l} {}", num(samples_s.iter().sum())));
        f.lines.push(format!("{name}_count{l} {}", samples_s.len()));
    }

    /// A histogram from sparse `(value µs, count)` pairs.
    fn histogram_sparse(
        &mut self,
        name: &'static str,
        help: &'static str,
        base: &[(&str, String)],
        pairs: &[(u64, u64)],
    ) {
        let f = self.family(name, "histogram", help);
        let total: u64 = pairs.iter().map(|p| p.1).sum();
        for &le in &BUCKETS_S {
            let c: u64 = pairs
                .iter()
                .filter(|p| p.0 as f64 / 1e6 <= le)
                .map(|p| p.1)
                .sum();
            let l = labels(base, &[("le", num(le))]);
            f.lines.push(format!("{name}_bucket{l} {c}"));
        }
        let l = labels(base, &[("le", "+Inf".into())]);
        f.lines.push(format!("{name}_bucket{l} {total}"));
        let l = labels(base, &[]);
        let sum: f64 = pairs.iter().map(|p| p.0 as f64 / 1e6 * p.1 as f64).sum();
        f.lines.push(format!("{name}_sum{l} {}", num(sum)));
        f.lines.push(format!("{name}_count{l} {total}"));
    }

    fn text(&self) -> String {
        let mut out = String::new();
        for name in &self.order {
            let f = &self.by_name[name];
            let _ = writeln!(out, "# TYPE {name} {}", f.kind);
            if let Some(u) = unit_of(name) {
                let _ = writeln!(out, "# UNIT {name} {u}");
            }
            let _ = writeln!(out, "# HELP {name} {}", f.help);
            for l in &f.lines {
                out.push_str(l);
                out.push('\n');
            }
        }
        out.push_str("# EOF\n");
        out
    }
}

/// Client operation latencies (ok and fail completions), seconds.
pub fn client_latencies_s(history: &[HistoryEvent]) -> Vec<f64> {
    let mut open: BTreeMap<u32, u64> = BTreeMap::new();
    let mut out = Vec::new();
    for e in history {
        match e.kind {
            EventType::Invoke => {
                open.insert(e.process, e.time.0);
            }
            EventType::Ok | EventType::Fail => {
                if let Some(t) = open.remove(&e.process) {
                    out.push(e.time.0.saturating_sub(t) as f64 / 1e6);
                }
            }
            EventType::Info => {
                open.remove(&e.process);
            }
        }
    }
    out
}

fn add_run(fam: &mut Families, input: &MetricsInput<'_>) {
    let r = input.report;
    let base = vec![
        ("scenario", r.scenario.name.clone()),
        ("seed", r.seed.to_string()),
    ];
    let l = labels(&base, &[]);
    fam.counter(
        "agentsim_events",
        "Events dispatched by the simulation kernel.",
        &l,
        r.events as f64,
    );
    fam.gauge(
        "agentsim_sim_time_seconds",
        "Virtual time the run reached.",
        &l,
        r.sim_time_ms / 1000.0,
    );
    fam.gauge(
        "agentsim_checks_ok",
        "1 if every check held, 0 otherwise.",
        &l,
        if r.checks.ok { 1.0 } else { 0.0 },
    );
    let n = r.network.clone().unwrap_or_default();
    // Sent messages by type (the types sum to the total); a report without
    // the breakdown gives one sample with `type="all"`.
    let sent_help = "Messages put on the simulated network, by message type.";
    if n.messages_by_type.is_empty() {
        let l = labels(&base, &[("type", "all".into())]);
        fam.counter("agentsim_messages_sent", sent_help, &l, n.sent as f64);
    } else {
        for (t, v) in &n.messages_by_type {
            let l = labels(&base, &[("type", t.clone())]);
            fam.counter("agentsim_messages_sent", sent_help, &l, *v as f64);
        }
    }
    for (name, v, help) in [
        (
            "agentsim_messages_delivered",
            n.delivered,
            "Messages delivered.",
        ),
        (
            "agentsim_messages_duplicated",
            n.duplicated,
            "Extra copies made by the network.",
        ),
        (
            "agentsim_network_sent_bytes",
            n.bytes_sent,
            "Bytes put on the simulated network.",
        ),
    ] {
        fam.counter(name, help, &l, v as f64);
    }
    for (cause, v) in &n.dropped_by_cause {
        let l = labels(&base, &[("cause", cause.clone())]);
        fam.counter(
            "agentsim_messages_dropped",
            "Messages dropped, by cause.",
            &l,
            *v as f64,
        );
    }
    let mut faults: BTreeMap<String, u64> = BTreeMap::new();
    for x in &r.faults {
        let kind = x.kind.as_str();
        let state = if x.is_skipped() { "skipped" } else { "applied" };
        *faults.entry(format!("{kind}\u{0}{state}")).or_default() += 1;
    }
    for (k, c) in faults {
        let (kind, state) = k.split_once('\u{0}').unwrap_or((&k, ""));
        let l = labels(&base, &[("kind", kind.into()), ("state", state.into())]);
        fam.counter(
            "agentsim_faults",
            "Faults, by kind and whether applied or skipped.",
            &l,
            c as f64,
        );
    }
    let lead = r.leadership();
    let raft = r.raft.as_ref();
    if let Some(e) = lead.map(|l| &l.elections) {
        fam.counter(
            "agentsim_raft_elections",
            "Raft elections won.",
            &l,
            e.len() as f64,
        );
    }
    if let Some(t) = lead.map(|l| l.max_term as f64) {
        fam.gauge("agentsim_raft_max_term", "Highest Raft term seen.", &l, t);
    }
    if let Some(a) = raft.and_then(|r| r.availability) {
        fam.gauge(
            "agentsim_availability_ratio",
            "Share of 10 ms slots in which a write would have committed within the client timeout.",
            &l,
            a,
        );
    }
    if let Some(ops) = raft.map(|r| r.client_ops) {
        fam.counter(
            "agentsim_client_ops_invoked",
            "Client operations invoked.",
            &l,
            ops.invoked as f64,
        );
        for (o, n) in [("ok", ops.ok), ("fail", ops.fail), ("info", ops.info)] {
            let l = labels(&base, &[("outcome", o.into())]);
            fam.counter(
                "agentsim_client_ops",
                "Client operations completed, by outcome.",
                &l,
                n as f64,
            );
        }
    }
    if let Some(h) = input.history {
        fam.histogram(
            "agentsim_client_latency_seconds",
            CLIENT_LATENCY_HELP,
            &base,
            &client_latencies_s(h),
        );
    } else if let Some(h) = input.client_latency.filter(|_| raft.is_some()) {
        fam.histogram_sparse(
            "agentsim_client_latency_seconds",
            CLIENT_LATENCY_HELP,
            &base,
            &h.to_sparse(),
        );
    }
    if let Some(s) = lead.map(|l| &l.leader_loss_downtime_ms.samples) {
        let v: Vec<f64> = s.iter().map(|m| m / 1000.0).collect();
        fam.histogram(
            "agentsim_leader_loss_downtime_seconds",
            DOWNTIME_HELP,
            &base,
            &v,
        );
    }
    if let Some(c) = r.collab.as_ref().map(|c| &c.collab) {
        add_collab(fam, &base, c);
    }
    // A histogram, as in a sweep's file (the report's section has only
    // quantiles; the run's full histogram has every recorded value).
    if let Some(h) = input.commit_latency.filter(|_| raft.is_some()) {
        fam.histogram_sparse(
            "agentsim_commit_latency_seconds",
            COMMIT_LATENCY_HELP,
            &base,
            &h.to_sparse(),
        );
    }
}

/// Collaboration families of a workflow run, from the report's `collab`
/// section (docs/metrics.md). Counters and gauges only: the report keeps
/// workflow latencies as quantiles, not as histograms.
fn add_collab(fam: &mut Families, base: &[(&str, String)], c: &CollabTables) {
    let l = labels(base, &[]);
    for (name, help, v) in [
        (
            "agentsim_workflows_submitted",
            "Workflows submitted.",
            c.workflows.submitted as f64,
        ),
        (
            "agentsim_workflows_completed",
            "Workflows completed.",
            c.workflows.completed as f64,
        ),
        (
            "agentsim_workflow_dead_letters",
            "Messages the coordinator gave up delivering (dead letters).",
            c.dead_letters.count as f64,
        ),
        (
            "agentsim_workflow_breaker_trips",
            "Circuit breaker trips.",
            c.breaker_trips as f64,
        ),
        (
            "agentsim_workflow_tokens_spent",
            "Tokens spent by every attempt, committed or not.",
            c.tokens.spent as f64,
        ),
        (
            "agentsim_workflow_tokens_committed",
            "Tokens of the attempts whose results were committed.",
            c.tokens.committed as f64,
        ),
        (
            "agentsim_agent_executions",
            "Task executions agents started.",
            c.agents.executed as f64,
        ),
        (
            "agentsim_agent_transient_failures",
            "Task executions that failed transiently.",
            c.agents.transient_failures as f64,
        ),
        (
            "agentsim_agent_busy_seconds",
            "Virtual time agents spent executing tasks, summed over agents.",
            c.agents.busy_ms / 1000.0,
        ),
    ] {
        fam.counter(name, help, &l, v);
    }
    // Each table's counters in key order (the order the file has).
    let r = &c.retries;
    let rj = &c.rejected;
    let d = &c.duplicates_discarded;
    for (values, label, name, help) in [
        (
            vec![
                ("assignment_resends", r.assignment_resends),
                ("requeued_attempts", r.requeued_attempts),
                ("result_resends", r.result_resends),
                ("results_abandoned", r.results_abandoned),
            ],
            "kind",
            "agentsim_workflow_retries",
            "Resends and requeues, by kind.",
        ),
        (
            vec![
                ("duplicate", rj.duplicate),
                ("late", rj.late),
                ("stale", rj.stale),
            ],
            "cause",
            "agentsim_workflow_rejected",
            "Commands the coordinator rejected, by cause.",
        ),
        (
            vec![("agents", d.agents), ("coordinator", d.coordinator)],
            "kind",
            "agentsim_workflow_duplicates_discarded",
            "Duplicate messages discarded, by where (agents, coordinator).",
        ),
    ] {
        for (k, v) in values {
            let l = labels(base, &[(label, k.to_string())]);
            fam.counter(name, help, &l, v as f64);
        }
    }
    for (k, v) in &c.tasks.by_status {
        let l = labels(base, &[("state", k.clone())]);
        fam.gauge(
            "agentsim_workflow_tasks",
            "Tasks at the end of the run, by state.",
            &l,
            *v as f64,
        );
    }
    fam.gauge(
        "agentsim_workflow_makespan_seconds",
        "First workflow arrival to last workflow done, virtual seconds.",
        &l,
        c.makespan_ms / 1000.0,
    );
}

/// The OpenMetrics text for `runs`.
pub fn encode(runs: &[MetricsInput<'_>]) -> String {
    let mut fam = Families::default();
    for r in runs {
        add_run(&mut fam, r);
    }
    fam.text()
}

/// Histograms of a sweep, already merged over seeds: `(name, help,
/// sparse (value µs, count) pairs)`.
pub type SweepHistogram<'a> = (&'static str, &'static str, &'a [(u64, u64)]);

/// OpenMetrics text for a whole sweep: seed and failure counters (by
/// kind), event and operation totals from `sweep.json`'s statistics, and
/// the merged latency histograms. Labelled with the scenario name.
pub fn encode_sweep(
    scenario: &str,
    seeds_run: u64,
    stats: &SweepStats,
    histograms: &[SweepHistogram<'_>],
) -> String {
    let mut fam = Families::default();
    let base = [("scenario", scenario.to_string())];
    let l = labels(&base, &[]);
    fam.counter("agentsim_sweep_seeds", "Seeds run.", &l, seeds_run as f64);
    for (kind, n) in &stats.failures_by_kind {
        let lk = labels(&base, &[("check", kind.clone())]);
        fam.counter(
            "agentsim_sweep_failed_seeds",
            "Seeds that failed a check, by the first failing check.",
            &lk,
            *n as f64,
        );
    }
    // The same names (and types) as a run's file, summed over seeds.
    fam.counter(
        "agentsim_events",
        "Events dispatched by the simulation kernel.",
        &l,
        stats.events as f64,
    );
    let ops = &stats.client_ops;
    fam.counter(
        "agentsim_client_ops_invoked",
        "Client operations invoked.",
        &l,
        ops.invoked as f64,
    );
    for (t, n) in [("ok", ops.ok), ("fail", ops.fail), ("info", ops.info)] {
        let lt = labels(&base, &[("outcome", t.to_string())]);
        fam.counter(
            "agentsim_client_ops",
            "Client operations completed, by outcome.",
            &lt,
            n as f64,
        );
    }
    for (name, help, pairs) in histograms {
        fam.histogram_sparse(name, help, &base, pairs);
    }
    fam.text()
}
