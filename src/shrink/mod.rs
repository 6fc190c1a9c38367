//! Shrinking a failing scenario to a smaller one that fails the same way.
//!
//! The search works on the scenario, not on opaque seeds, so the result is
//! readable: nemesis draws are first rewritten as scripted faults, then
//! faults are removed by delta debugging (halves, quarters, ..., one by
//! one), nodes are removed, the run is cut just after the failure, the
//! network is made fixed-latency, lossless and FIFO, clients and keys are
//! reduced. A simplification is kept only if the run still fails with the
//! same kind of violation (the failing check, and for safety the violated
//! property). Other seeds are tried only as a last resort, for
//! simplifications that do not fail under the original seed.
//!
//! Every candidate is a validated scenario; every run is deterministic, so
//! the minimal scenario replays exactly with `agentsim run`.

use crate::check::names::CheckName;
use crate::metrics::report::scripted_faults;
use crate::metrics::Report;
use crate::runner::{self, RunOptions};
use crate::scenario::{DistSpec, FaultSpec, NodeRef, Scenario, ScenarioSpec, TargetSpec};
use serde_json::Value;

/// What a failure looks like, for "fails the same way".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailureKind {
    /// The failing check (`safety`, `linearizability`, `expect.…`).
    pub check: String,
    /// For safety: the violated property (`election_safety`, ...).
    pub property: Option<String>,
}

impl std::fmt::Display for FailureKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.property {
            Some(p) => write!(f, "{} ({p})", self.check),
            None => write!(f, "{}", self.check),
        }
    }
}

/// The failure kind of a report, if it failed.
pub fn failure_kind(r: &Report) -> Option<FailureKind> {
    let first = r.checks.failures.first()?;
    let property = match first.check.as_str() {
        // A collaboration run's safety section names no property.
        s if s == CheckName::Safety.name() => r
            .raft
            .as_ref()
            .and_then(|s| s.safety.violations.first())
            .map(|v| v.property.clone()),
        // A violation and a search that gave up are different failures.
        s if s == CheckName::Linearizability.name() => Some(
            match r.raft.as_ref().and_then(|l| l.linearizability.ok) {
                Some(false) => "violation",
                _ => "undecided",
            }
            .to_string(),
        ),
        _ => None,
    };
    Some(FailureKind {
        check: first.check.clone(),
        property,
    })
}

/// Limits of a shrink.
#[derive(Clone, Debug)]
pub struct ShrinkOptions {
    /// Most scenario runs in total.
    pub max_runs: usize,
    /// Other seeds to try, as a last resort, for a simplification that
    /// passes under the original seed.
    pub fallback_seeds: u64,
    /// Fault records each run's report lists (None: the default cap);
    /// tests set a small cap to shrink from a truncated log.
    pub fault_log_cap: Option<usize>,
    /// Most fault records one re-run may list to script a nemesis whose
    /// log was truncated (default: the scripted-fault limit of a
    /// scenario, so the scripted result stays valid).
    pub max_fault_records: usize,
}

impl Default for ShrinkOptions {
    fn default() -> Self {
        ShrinkOptions {
            max_runs: 400,
            fallback_seeds: 8,
            fault_log_cap: None,
            max_fault_records: crate::scenario::validate::MAX_SCRIPTED_FAULTS,
        }
    }
}

/// The outcome of a shrink.
#[derive(Clone, Debug)]
pub struct Shrunk {
    /// The smallest failing scenario found (seed included).
    pub scenario: Scenario,
    /// How it fails.
    pub kind: FailureKind,
    /// The failing report of the minimal scenario.
    pub report: Report,
    /// What was removed or simplified, in order.
    pub steps: Vec<String>,
    /// Scenario runs spent.
    pub runs: usize,
}

/// Why shrinking could not start.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ShrinkError {
    /// The input does not fail: there is nothing to shrink.
    #[error("the scenario passes every check (seed {0}): nothing to shrink")]
    Passes(u64),
}

struct Search {
    opts: ShrinkOptions,
    kind: FailureKind,
    best: ScenarioSpec,
    report: Report,
    steps: Vec<String>,
    runs: usize,
}

impl Search {
    fn run_options(&self) -> RunOptions {
        RunOptions {
            fault_log_cap: self.opts.fault_log_cap,
            ..RunOptions::default()
        }
    }

    /// Run `spec` and report whether it fails the same way.
    fn fails(&mut self, spec: &ScenarioSpec) -> Option<Report> {
        if self.runs >= self.opts.max_runs {
            return None;
        }
        let scenario = Scenario::from_spec(spec.clone()).ok()?;
        self.runs += 1;
        let r = runner::run(&scenario, &self.run_options()).report;
        (failure_kind(&r).as_ref() == Some(&self.kind)).then_some(r)
    }

    /// Keep `spec` if it still fails; say what changed.
    fn try_keep(&mut self, spec: ScenarioSpec, what: impl Into<String>) -> bool {
        if spec == self.best {
            return false;
        }
        match self.fails(&spec) {
            Some(r) => {
                self.best = spec;
                self.report = r;
                self.steps.push(what.into());
                true
            }
            None => false,
        }
    }
}

/// Shrink a failing scenario (seed included in `scenario.spec.seed`).
pub fn shrink(scenario: &Scenario, opts: &ShrinkOptions) -> Result<Shrunk, ShrinkError> {
    let first_opts = RunOptions {
        fault_log_cap: opts.fault_log_cap,
        ..RunOptions::default()
    };
    let first = runner::run(scenario, &first_opts).report;
    let kind = failure_kind(&first).ok_or(ShrinkError::Passes(scenario.spec.seed))?;
    let mut s = Search {
        opts: opts.clone(),
        kind,
        best: scenario.spec.clone(),
        report: first,
        steps: Vec::new(),
        runs: 1,
    };
    script_nemesis(&mut s);
    cut_duration(&mut s);
    ddmin_faults(&mut s);
    fewer_nodes(&mut s);
    simpler_network(&mut s);
    smaller_workload(&mut s);
    cut_duration(&mut s);
    ddmin_faults(&mut s);
    Ok(Shrunk {
        scenario: Scenario { spec: s.best },
        kind: s.kind,
        report: s.report,
        steps: s.steps,
        runs: s.runs,
    })
}

/// Records a truncated fault log did not list: (listed, logged). None:
/// the report lists every fault.
fn truncated_log(r: &Report) -> Option<(u64, u64)> {
    let log = r.other.get("fault_log")?;
    Some((log["listed"].as_u64()?, log["total"].as_u64()?))
}

/// Replace the nemesis by the faults it drew in the failing run.
///
/// A report whose fault log was truncated (more records than the cap)
/// lists only the first draws, and a run cut at the last listed one is a
/// different run. So the failing run is repeated once with a cap that
/// holds every record (the report says how many), if that many could be
/// scripted at all (`max_fault_records`, the scenario's scripted-fault
/// limit); otherwise the nemesis stays, said in the steps, and the other
/// simplifications still apply.
fn script_nemesis(s: &mut Search) {
    if s.best.nemesis.is_none() {
        return;
    }
    let mut report = s.report.clone();
    let mut whole = String::new();
    if let Some((listed, total)) = truncated_log(&report) {
        if total > s.opts.max_fault_records as u64 {
            s.steps.push(format!(
                "kept the nemesis: it logged {total} fault records (the report lists {listed}), more than a scenario may script ({})",
                s.opts.max_fault_records
            ));
            return;
        }
        let Ok(scenario) = Scenario::from_spec(s.best.clone()) else {
            return;
        };
        let opts = RunOptions {
            fault_log_cap: Some(total as usize),
            ..RunOptions::default()
        };
        s.runs += 1;
        report = runner::run(&scenario, &opts).report;
        whole = format!(" (re-run listing all {total}; the report listed {listed})");
    }
    let drawn = scripted_from_report(&report, s.best.duration_ms, s.best.cluster.nodes);
    let mut spec = s.best.clone();
    spec.nemesis = None;
    let n = drawn.len();
    spec.faults.extend(drawn);
    spec.faults.sort_by(|a, b| a.at_ms.total_cmp(&b.at_ms));
    if !s.try_keep(
        spec,
        format!("replaced the nemesis by the {n} faults it drew{whole}"),
    ) {
        s.steps
            .push("kept the nemesis: its draws, scripted, did not fail the same way".into());
    }
}

/// The report's applied nemesis faults as scripted faults, for a run of
/// `duration_ms` (a pause whose resume is not listed lasts to its end) on
/// a cluster of `servers` (addresses above are agents).
pub(crate) fn scripted_from_report(r: &Report, duration_ms: f64, servers: u32) -> Vec<FaultSpec> {
    use crate::fault::AppliedFault;
    use crate::time::{SimDuration, SimTime};
    // The report carries applied faults as JSON; rebuild the core records
    // of those the nemesis drew (and their undos) and script them.
    let mut applied = Vec::new();
    for f in &r.faults {
        let source = f["source"].as_str().unwrap_or_default();
        if source != "nemesis" {
            continue;
        }
        let kind: &'static str = match f["kind"].as_str().unwrap_or_default() {
            "crash" => "crash",
            "restart" => "restart",
            "pause" => "pause",
            "resume" => "resume",
            "clock" => "clock",
            "partition" => "partition",
            "link" => "link",
            "link_restore" => "link_restore",
            "heal" => "heal",
            _ => continue,
        };
        let mut a = AppliedFault::new(
            SimTime((f["at_ms"].as_f64().unwrap_or(0.0) * 1000.0).round() as u64),
            kind,
            "nemesis",
        );
        a.nodes = node_ids(&f["nodes"]);
        a.groups = f["groups"]
            .as_array()
            .map_or_else(Vec::new, |g| g.iter().map(node_ids).collect());
        a.drop = f["drop"].as_f64();
        a.extra_latency = f["extra_latency_ms"]
            .as_f64()
            .map(SimDuration::from_millis_f64);
        a.rate_ppm = f["rate"].as_f64().map(|r| (r * 1e6).round() as u64);
        a.both_ways = f["both_ways"].as_bool().unwrap_or(false);
        if f.get("skipped").is_some() {
            a.skipped = Some("skipped".into());
        }
        applied.push(a);
    }
    // A pause still in force where the listed records end (its resume came
    // later, or never) lasts to the end of the run.
    let end = SimTime((duration_ms * 1000.0).round() as u64);
    let open: Vec<AppliedFault> = applied
        .iter()
        .enumerate()
        .filter(|(_, p)| p.kind == "pause" && p.skipped.is_none() && !p.nodes.is_empty())
        .filter(|(i, p)| {
            !applied[i + 1..]
                .iter()
                .any(|r| r.kind == "resume" && r.nodes == p.nodes[..1])
        })
        .map(|(_, p)| {
            let mut r = AppliedFault::new(end.max(p.at), "resume", "nemesis");
            r.nodes = p.nodes[..1].to_vec();
            r
        })
        .collect();
    applied.extend(open);
    scripted_faults(&applied, servers)
}

fn node_ids(v: &Value) -> Vec<crate::ids::NodeId> {
    v.as_array().map_or_else(Vec::new, |a| {
        a.iter()
            .filter_map(|x| x.as_u64())
            .map(|x| crate::ids::NodeId(x as u32))
            .collect()
    })
}

/// Cut the run shortly after the failure (safety stops at the violation;
/// other checks are judged at the end, so halve while it still fails).
fn cut_duration(s: &mut Search) {
    let stop = s.report.sim_time_ms;
    if stop + 1.0 < s.best.duration_ms {
        let mut spec = s.best.clone();
        spec.duration_ms = (stop + 1.0).ceil();
        spec.faults.retain(|f| f.at_ms <= spec.duration_ms);
        let d = spec.duration_ms;
        s.try_keep(
            spec,
            format!("cut the run to {d} ms, just after the violation"),
        );
    }
    loop {
        let mut spec = s.best.clone();
        spec.duration_ms = (spec.duration_ms / 2.0).ceil();
        if spec.duration_ms < 50.0 {
            break;
        }
        spec.faults.retain(|f| f.at_ms <= spec.duration_ms);
        let d = spec.duration_ms;
        if !s.try_keep(spec, format!("halved the run to {d} ms")) {
            break;
        }
    }
}

/// Delta debugging over the fault list: remove chunks of decreasing size.
fn ddmin_faults(s: &mut Search) {
    let mut chunk = s.best.faults.len().div_ceil(2).max(1);
    while !s.best.faults.is_empty() {
        let mut removed_any = false;
        let mut start = 0;
        while start < s.best.faults.len() {
            let mut spec = s.best.clone();
            let end = (start + chunk).min(spec.faults.len());
            let gone: Vec<String> = spec.faults[start..end].iter().map(describe_fault).collect();
            spec.faults.drain(start..end);
            if s.try_keep(spec, format!("removed {}", gone.join(", "))) {
                removed_any = true;
            } else {
                start = end;
            }
        }
        if chunk == 1 && !removed_any {
            break;
        }
        if !removed_any {
            chunk = chunk.div_ceil(2);
        }
    }
}

fn describe_fault(f: &FaultSpec) -> String {
    let kind = serde_json::to_value(f.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let node = f
        .node
        .map(|t| format!(" node {}", target_name(t)))
        .unwrap_or_default();
    format!("{kind}{node} at {} ms", f.at_ms)
}

fn target_name(t: TargetSpec) -> String {
    serde_json::to_value(t)
        .map(|v| v.to_string())
        .unwrap_or_default()
}

/// Drop the highest-numbered nodes while the failure survives (faults
/// that name a removed node are dropped or narrowed).
fn fewer_nodes(s: &mut Search) {
    while s.best.cluster.nodes > 1 {
        let n = s.best.cluster.nodes - 1;
        let spec = without_node(&s.best, n);
        let seeds_ok = s.try_keep(spec.clone(), format!("removed node {n} ({} nodes left)", n));
        if !seeds_ok && !try_other_seeds(s, spec, &format!("removed node {n} ({n} nodes left)")) {
            break;
        }
    }
}

/// The scenario with node `n` (the highest) removed.
fn without_node(spec: &ScenarioSpec, n: u32) -> ScenarioSpec {
    let mut spec = spec.clone();
    spec.cluster.nodes = n;
    let fits = |t: Option<TargetSpec>| !matches!(t, Some(TargetSpec::Index(i)) if i >= n);
    spec.faults
        .retain(|f| fits(f.node) && fits(f.from) && fits(f.to));
    for f in &mut spec.faults {
        if let Some(groups) = &mut f.groups {
            for g in groups.iter_mut() {
                g.retain(|&x| !matches!(x, NodeRef::Server(i) if i >= n));
            }
            groups.retain(|g| !g.is_empty());
        }
    }
    spec.faults
        .retain(|f| f.groups.as_ref().is_none_or(|g| g.len() >= 2));
    spec.network.links.retain(|l| l.from < n && l.to < n);
    if let Some(nm) = &mut spec.nemesis {
        nm.max_down = nm.max_down.map(|m| m.min(n));
    }
    spec
}

/// Last resort: the simplification with a few other seeds.
fn try_other_seeds(s: &mut Search, spec: ScenarioSpec, what: &str) -> bool {
    for seed in 0..s.opts.fallback_seeds {
        if seed == spec.seed {
            continue;
        }
        let mut candidate = spec.clone();
        candidate.seed = seed;
        if s.try_keep(
            candidate,
            format!("{what}, with seed {seed} (the original seed no longer failed)"),
        ) {
            return true;
        }
    }
    false
}

fn simpler_network(s: &mut Search) {
    let mean = crate::scenario::dist(&s.best.network.latency_ms).mean();
    if !matches!(s.best.network.latency_ms, DistSpec::Fixed { .. }) && mean.is_finite() {
        let mut spec = s.best.clone();
        let v = (mean * 1000.0).round() / 1000.0;
        spec.network.latency_ms = DistSpec::Fixed { value: v };
        s.try_keep(spec, format!("made latency fixed at {v} ms"));
    }
    for (what, f) in [
        (
            "made the network lossless",
            (|n: &mut crate::scenario::NetworkSpec| n.drop = 0.0) as fn(&mut _),
        ),
        ("removed duplication", |n| n.duplicate = 0.0),
        ("made links FIFO", |n| n.reorder = false),
        ("removed per-link overrides", |n| n.links.clear()),
    ] {
        let mut spec = s.best.clone();
        f(&mut spec.network);
        s.try_keep(spec, what);
    }
    if !matches!(s.best.disk.sync_ms, DistSpec::Fixed { .. }) {
        let mut spec = s.best.clone();
        let v = crate::scenario::dist(&spec.disk.sync_ms).mean();
        spec.disk.sync_ms = DistSpec::Fixed {
            value: (v * 1000.0).round() / 1000.0,
        };
        s.try_keep(spec, "made disk sync latency fixed");
    }
}

fn smaller_workload(s: &mut Search) {
    loop {
        let Some(w) = &s.best.workload else { return };
        if w.clients <= 1 {
            break;
        }
        let mut spec = s.best.clone();
        let w = spec.workload.as_mut().expect("checked");
        w.clients = w.clients.div_ceil(2).max(1).min(w.clients - 1);
        let c = w.clients;
        if !s.try_keep(spec, format!("reduced clients to {c}")) {
            break;
        }
    }
    loop {
        let Some(w) = &s.best.workload else { return };
        if w.keys <= 1 {
            break;
        }
        let mut spec = s.best.clone();
        let w = spec.workload.as_mut().expect("checked");
        w.keys = (w.keys / 2).max(1);
        let k = w.keys;
        if !s.try_keep(spec, format!("reduced keys to {k}")) {
            break;
        }
    }
}

/// A scenario's size, for comparing shrinks: (faults, nodes, duration ms).
pub fn size(spec: &ScenarioSpec) -> (usize, u32, f64) {
    (spec.faults.len(), spec.cluster.nodes, spec.duration_ms)
}
