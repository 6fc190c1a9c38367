//! Shrinking a failing scenario to a smaller one that fails the same way.
//!
//! The search works on the scenario, not on opaque seeds, so the result is
//! readable: nemesis draws are first rewritten as scripted faults (the
//! exact form), then shorter forms are tried (the scenario's own faults
//! alone, or with what the nemesis applied), faults are removed by delta
//! debugging (halves, quarters, ..., one by one), nodes are removed, the
//! run is cut just after the failure, the network is made fixed-latency,
//! lossless and FIFO, clients and keys are reduced, in rounds while they
//! make the scenario smaller. A simplification is kept only if the run
//! still fails with the same kind of violation (the failing check, and for
//! safety the violated property). Other seeds are tried only as a last
//! resort: for the shorter forms, for simplifications that do not fail
//! under the original seed, and for single removals once delta debugging
//! stalls.
//!
//! Every candidate is a validated scenario; every run is deterministic, so
//! the minimal scenario replays exactly with `agentsim run`.

use crate::check::names::CheckName;
use crate::fault::AppliedFault;
use crate::ids::NodeId;
use crate::metrics::report::scripted_faults;
use crate::metrics::Report;
use crate::runner::{self, RunOptions};
use crate::scenario::{
    DistSpec, FaultKind, FaultSpec, NodeRef, Scenario, ScenarioSpec, TargetSpec,
};

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
    /// Seeds to try for the compact form (the scenario's own faults, the
    /// nemesis left out) when the faults a run applied are more faults
    /// than it has (see [`shrink`]).
    pub compact_seeds: u64,
    /// Other seeds to try for each single-fault removal once delta
    /// debugging stalls (see [`shrink`]): removing an early fault of the
    /// exact form changes the rest of the run, so a removal that passes
    /// under one seed may fail the same way under another.
    pub removal_seeds: u64,
    /// Try the mixed form (the scenario's own faults plus what the
    /// nemesis applied) when the compact form fails under every seed
    /// (see [`shrink`]); tests switch it off to show what it adds.
    pub mixed_form: bool,
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
            compact_seeds: 32,
            removal_seeds: 4,
            mixed_form: true,
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

    /// Keep `spec` if it still fails; say what changed. Faults after the
    /// point where the failing run stopped never applied, so they go too
    /// (the run is the same without them).
    fn try_keep(&mut self, mut spec: ScenarioSpec, what: impl Into<String>) -> bool {
        if spec == self.best {
            return false;
        }
        match self.fails(&spec) {
            Some(mut r) => {
                if r.sim_time_ms < spec.duration_ms {
                    spec.faults.retain(|f| f.at_ms <= r.sim_time_ms);
                    r.scenario = spec.clone();
                }
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
        keep_faults: true,
        ..RunOptions::default()
    };
    let out = runner::run(scenario, &first_opts);
    let (first, log) = (out.report, out.faults.unwrap_or_default());
    let kind = failure_kind(&first).ok_or(ShrinkError::Passes(scenario.spec.seed))?;
    let mut s = Search {
        opts: opts.clone(),
        kind,
        best: scenario.spec.clone(),
        report: first,
        steps: Vec::new(),
        runs: 1,
    };
    let own = s.best.clone();
    let log = script_nemesis(&mut s, log);
    if !try_compact(&mut s, own.clone()) {
        try_mixed(&mut s, own, &log);
    }
    cut_duration(&mut s);
    ddmin_faults(&mut s);
    // A first, cheap try (the latest fault only), so the steps below keep
    // their runs; the rounds below try every fault.
    remove_under_other_seeds(&mut s, 1);
    fewer_nodes(&mut s);
    simpler_network(&mut s);
    smaller_workload(&mut s);
    cut_duration(&mut s);
    ddmin_faults(&mut s);
    // Each step changes the run the next one starts from (fewer nodes, a
    // simpler network, a shorter run, another seed), so a removal that
    // failed before may now succeed: repeat while a round makes the
    // scenario smaller and runs are left.
    loop {
        let before = size(&s.best);
        remove_under_other_seeds(&mut s, usize::MAX);
        fewer_nodes(&mut s);
        cut_duration(&mut s);
        ddmin_faults(&mut s);
        if size(&s.best) == before || s.runs >= s.opts.max_runs {
            break;
        }
    }
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
    let log = r.fault_log.as_ref()?;
    Some((log.listed, log.total))
}

/// A `crash_at` or `message` rule: its firings are drawn from streams of
/// their own at protocol events, so it is kept as written.
fn is_rule(f: &FaultSpec) -> bool {
    matches!(f.kind, FaultKind::CrashAt | FaultKind::Message)
}

/// Replace the nemesis and every other fault by the faults the failing
/// run applied, each on its concrete node and with the duration it
/// lasted, so the scripted scenario replays the same run
/// ([`scripted_from_log`]). The other faults go too because the nemesis
/// shares the `faults` stream with their drawn targets and jitter: with
/// the nemesis gone, a repeating fault on a `random` node would draw other
/// nodes.
///
/// A report whose fault log was truncated (more records than the cap)
/// lists only the first records, and a run cut at the last listed one is a
/// different run. So the failing run is repeated with a cap that holds
/// every record (the report says how many), if that many could be
/// scripted at all (`max_fault_records`, the scenario's scripted-fault
/// limit); otherwise the faults stay as they are, said in the steps, and
/// the other simplifications still apply.
///
/// Returns the fault log it scripted (the re-run's, if there was one).
fn script_nemesis(s: &mut Search, mut log: Vec<AppliedFault>) -> Vec<AppliedFault> {
    // Without a nemesis the scenario's own faults replay the run as they
    // are (their draws are the same), in fewer entries.
    if s.best.nemesis.is_none() {
        return log;
    }
    let mut whole = String::new();
    if let Some((listed, total)) = truncated_log(&s.report) {
        if total > s.opts.max_fault_records as u64 {
            s.steps.push(format!(
                "kept the nemesis: it logged {total} fault records (the report lists {listed}), more than a scenario may script ({})",
                s.opts.max_fault_records
            ));
            return log;
        }
        let Ok(scenario) = Scenario::from_spec(s.best.clone()) else {
            return log;
        };
        let opts = RunOptions {
            fault_log_cap: Some(total as usize),
            keep_faults: true,
            ..RunOptions::default()
        };
        s.runs += 1;
        log = runner::run(&scenario, &opts).faults.unwrap_or_default();
        whole = format!(" (re-run listing all {total}; the report listed {listed})");
    }
    let mut spec = s.best.clone();
    spec.faults = scripted_from_log(&s.best, &log);
    spec.nemesis = None;
    let n = spec.faults.iter().filter(|f| !is_rule(f)).count();
    let what = if s.best.nemesis.is_some() {
        "replaced the nemesis and the drawn faults"
    } else {
        "replaced the drawn faults"
    };
    if !s.try_keep(
        spec,
        format!("{what} by the {} they applied{whole}", fault_count(n)),
    ) {
        s.steps.push(
            "kept the drawn faults: applied as scripted, they did not fail the same way".into(),
        );
    }
    log
}

/// "1 fault", "2 faults": a fault count for messages.
pub fn fault_count(n: usize) -> String {
    if n == 1 {
        "1 fault".into()
    } else {
        format!("{n} faults")
    }
}

/// The compact form: the scenario's own faults (a repeating fault is one
/// entry), the nemesis left out. The faults a run applied replay it
/// exactly but are many (each firing of a repeating fault is one, and the
/// nemesis draws dozens); when they are more than the compact form has,
/// try the compact form, with the original seed and then others (without
/// the nemesis its run differs anyway, so another seed is as good a
/// sample), and keep the first that fails the same way. Returns whether
/// it kept the compact form.
fn try_compact(s: &mut Search, mut compact: ScenarioSpec) -> bool {
    if compact.nemesis.is_none() {
        return false;
    }
    compact.nemesis = None;
    let n = compact.faults.len();
    let what = format!(
        "kept the scenario's own {} and left out the nemesis",
        fault_count(n)
    );
    try_under_seeds(s, compact, &what)
}

/// The mixed form, tried when the compact form fails under none of its
/// seeds: the scenario's own faults as written (a repeating fault is one
/// entry) plus the faults the nemesis applied, each scripted on its
/// concrete nodes and lasting what it lasted. Some bugs need the
/// nemesis's partitions or link cuts, which no seed of the compact form
/// draws, while the exact form also spells out every firing of a
/// repeating fault (commit-past-match seed 5: 88 faults exact, 13 mixed).
/// Without the nemesis the repeating faults draw other targets and
/// jitter, so the run differs: tried with the original seed and then the
/// compact form's other seeds.
fn try_mixed(s: &mut Search, own: ScenarioSpec, log: &[AppliedFault]) -> bool {
    if own.nemesis.is_none() || !s.opts.mixed_form {
        return false;
    }
    let servers = own.cluster.nodes;
    let mut mixed = own;
    mixed.nemesis = None;
    let drawn = log
        .iter()
        .filter(|f| f.source == "nemesis" && !f.undoes && f.skipped.is_none())
        .flat_map(|f| applied_as_scripted(f, servers));
    mixed.faults.extend(drawn);
    mixed.faults.sort_by(|a, b| a.at_ms.total_cmp(&b.at_ms));
    let n = mixed.faults.len();
    // It changes the run (another sample of it), so it is worth a search
    // over seeds only where it is much shorter than the exact form: at
    // most two thirds of it (stale-read seed 1: 22 faults exact, and as
    // many mixed, since its repeating fault fired once).
    if n * 3 > s.best.faults.len() * 2 {
        return false;
    }
    let what = format!(
        "kept the scenario's own faults and scripted what the nemesis applied ({})",
        fault_count(n)
    );
    try_seeds(s, mixed, &what)
}

/// Keep `form` (fewer faults than the current best) under its own seed
/// or else the first of `compact_seeds` others that fails the same way.
fn try_under_seeds(s: &mut Search, form: ScenarioSpec, what: &str) -> bool {
    if form.faults.len() >= s.best.faults.len() {
        return false;
    }
    try_seeds(s, form, what)
}

/// Keep `form` under its own seed or else the first of `compact_seeds`
/// others that fails the same way.
fn try_seeds(s: &mut Search, form: ScenarioSpec, what: &str) -> bool {
    let original = form.seed;
    let seeds =
        std::iter::once(original).chain((0..s.opts.compact_seeds).filter(|&x| x != original));
    for seed in seeds {
        if s.runs >= s.opts.max_runs {
            return false;
        }
        let mut spec = form.clone();
        spec.seed = seed;
        let what = if seed == original {
            what.to_string()
        } else {
            format!("{what}, with seed {seed} (the original seed no longer failed)")
        };
        if s.try_keep(spec, what) {
            return true;
        }
    }
    false
}

/// The faults a run of `spec` applied (`log`, its fault records in
/// order), as scripted faults that replay the run: each applied fault on
/// its concrete nodes at its time, lasting what it lasted (its undo is
/// queued when it applies, as the nemesis queued it); `crash_at` and
/// `message` rules as written, in the place they were armed (their
/// firings come from streams of their own at protocol events, so the same
/// run fires them again). Left out: undos (the durations queue them),
/// skipped faults (they changed nothing) and the crashes a crash point
/// caused (the rule causes them again). Run without the nemesis, the
/// result draws nothing from the `faults` stream, which the nemesis and
/// drawn targets share, so it replays the run event for event. Its trace
/// hash differs only where the run had a skipped fault (a fault event the
/// scripted run does not have) or one record on several nodes (a
/// `minority` crash, scripted as one fault per node).
pub fn scripted_from_log(spec: &ScenarioSpec, log: &[AppliedFault]) -> Vec<FaultSpec> {
    let rules: Vec<&FaultSpec> = spec.faults.iter().filter(|f| is_rule(f)).collect();
    // A repeating rule is armed several times: keep such rules first, as
    // written, rather than match arming records to them.
    let repeating = rules.iter().any(|f| f.every_ms.is_some());
    let mut out: Vec<FaultSpec> = Vec::new();
    let mut pending: std::collections::VecDeque<FaultSpec> = if repeating {
        out.extend(rules.iter().map(|f| (*f).clone()));
        Default::default()
    } else {
        let mut r: Vec<FaultSpec> = rules.iter().map(|f| (*f).clone()).collect();
        r.sort_by(|a, b| a.at_ms.total_cmp(&b.at_ms));
        r.into()
    };
    let servers = spec.cluster.nodes;
    for f in log {
        if f.undoes || f.skipped.is_some() {
            continue;
        }
        if matches!(f.kind, "crash_at" | "message") {
            if let Some(r) = pending.pop_front() {
                out.push(r);
            }
            continue;
        }
        if f.point.is_none() {
            out.extend(applied_as_scripted(f, servers));
        }
    }
    out.extend(pending);
    out.sort_by(|a, b| a.at_ms.total_cmp(&b.at_ms));
    out
}

/// One applied fault as scripted faults (one per node where the scenario
/// names one node per fault).
fn applied_as_scripted(f: &AppliedFault, servers: u32) -> Vec<FaultSpec> {
    let at = f.at.as_millis_f64();
    let lasts = f.lasts.map(|d| d.as_millis_f64());
    let target = |n: NodeId| match n.0.checked_sub(servers) {
        Some(i) => TargetSpec::Agent(i),
        None => TargetSpec::Index(n.0),
    };
    let member = |n: &NodeId| match n.0.checked_sub(servers) {
        Some(i) => NodeRef::Agent(i),
        None => NodeRef::Server(n.0),
    };
    let per_node = |kind: FaultKind| -> Vec<FaultSpec> {
        f.nodes
            .iter()
            .map(|&n| {
                let mut s = FaultSpec::new(at, kind);
                s.node = Some(target(n));
                match kind {
                    FaultKind::Crash => s.restart_after_ms = lasts,
                    FaultKind::Clock => {
                        s.rate = f.rate_ppm.map(|r| r as f64 / 1e6);
                        s.for_ms = lasts;
                    }
                    FaultKind::Pause | FaultKind::Isolate => s.for_ms = lasts,
                    _ => {}
                }
                s
            })
            .collect()
    };
    match f.kind {
        "crash" => per_node(FaultKind::Crash),
        "restart" => per_node(FaultKind::Restart),
        "pause" => per_node(FaultKind::Pause),
        "clock" => per_node(FaultKind::Clock),
        "isolate" => per_node(FaultKind::Isolate),
        "partition" => {
            let mut s = FaultSpec::new(at, FaultKind::Partition);
            s.groups = Some(
                f.groups
                    .iter()
                    .map(|g| g.iter().map(member).collect())
                    .collect(),
            );
            s.for_ms = lasts;
            vec![s]
        }
        "link" if f.nodes.len() == 2 => {
            let mut s = FaultSpec::new(at, FaultKind::Link);
            s.from = Some(target(f.nodes[0]));
            s.to = Some(target(f.nodes[1]));
            s.both_ways = Some(f.both_ways);
            s.drop = f.drop;
            s.extra_latency_ms = f
                .extra_latency
                .map(|d| d.as_millis_f64())
                .filter(|d| *d > 0.0);
            s.for_ms = lasts;
            vec![s]
        }
        "heal" => vec![FaultSpec::new(at, FaultKind::Heal)],
        _ => Vec::new(),
    }
}

/// The report's applied nemesis faults as scripted faults, for a run of
/// `duration_ms` (a pause whose resume is not listed lasts to its end) on
/// a cluster of `servers` (addresses above are agents). Reads the report
/// alone, so it cannot tell how long each fault lasted nor keep the draws
/// of other faults: [`scripted_from_log`] replays a run exactly.
pub(crate) fn scripted_from_report(r: &Report, duration_ms: f64, servers: u32) -> Vec<FaultSpec> {
    use crate::fault::AppliedFault;
    use crate::time::{SimDuration, SimTime};
    // The report carries applied faults as JSON; rebuild the core records
    // of those the nemesis drew (and their undos) and script them.
    let mut applied = Vec::new();
    for f in &r.faults {
        if f.source != "nemesis" {
            continue;
        }
        let kind: &'static str = match f.kind.as_str() {
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
        let mut a = AppliedFault::new(SimTime((f.at_ms * 1000.0).round() as u64), kind, "nemesis");
        a.nodes = node_ids(&f.nodes);
        a.groups = f.groups.iter().map(|g| node_ids(g)).collect();
        a.drop = f.drop;
        a.extra_latency = f.extra_latency_ms.map(SimDuration::from_millis_f64);
        a.rate_ppm = f.rate.map(|r| (r * 1e6).round() as u64);
        a.both_ways = f.both_ways;
        if f.is_skipped() {
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

fn node_ids(v: &[u32]) -> Vec<crate::ids::NodeId> {
    v.iter().map(|&x| crate::ids::NodeId(x)).collect()
}

/// Cut the run shortly after the failure (safety stops at the violation;
/// other checks are judged at the end, so halve while it still fails).
/// Clients stop issuing requests one request timeout before the end, so
/// the cut keeps that much past the violation: a cut to just after it
/// stopped the clients earlier, the run differed before the violation,
/// and the cut almost never kept the failure.
fn cut_duration(s: &mut Search) {
    let stop = s.report.sim_time_ms;
    let clients_stop = s.best.workload.as_ref().map_or(0.0, |w| w.timeout_ms);
    let cut = (stop + clients_stop + 1.0).ceil();
    if cut < s.best.duration_ms {
        let mut spec = s.best.clone();
        spec.duration_ms = cut;
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

/// Delta debugging over the fault list: remove chunks of decreasing size,
/// the latest first. Removing a fault changes the run from its time on,
/// so a late fault's removal leaves most of the run as it was and is the
/// likelier to keep the failure; the run then often fails earlier, and
/// the faults after the new failure go at once.
fn ddmin_faults(s: &mut Search) {
    let mut chunk = s.best.faults.len().div_ceil(2).max(1);
    while !s.best.faults.is_empty() && s.runs < s.opts.max_runs {
        let mut removed_any = false;
        let mut end = s.best.faults.len();
        while end > 0 && s.runs < s.opts.max_runs {
            let mut spec = s.best.clone();
            let start = end.saturating_sub(chunk);
            let gone: Vec<String> = spec.faults[start..end].iter().map(describe_fault).collect();
            spec.faults.drain(start..end);
            let what = match gone.len() {
                0..=4 => format!("removed {}", gone.join(", ")),
                n => format!("removed {}, {} to {}", fault_count(n), gone[0], gone[n - 1]),
            };
            if s.try_keep(spec, what) {
                removed_any = true;
                end = start.min(s.best.faults.len());
            } else {
                end = start;
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

/// Last resort once delta debugging stalls: remove one fault (one of the
/// `latest` latest, the latest first) under each of `removal_seeds`
/// other seeds in turn, and start
/// over after each removal that fails the same way; then delta debugging
/// once more under the seed that stuck. The exact form's faults are each
/// needed under the original seed because removing any changes the rest
/// of the run (one shared network stream); under another seed the run
/// differs anyway, and a smaller set often still fails (skip-log-check
/// seed 0: 9 faults under its own seed, 5 after one such removal).
fn remove_under_other_seeds(s: &mut Search, latest: usize) {
    let mut removed = false;
    'again: while s.runs < s.opts.max_runs {
        let n = s.best.faults.len();
        for i in (n.saturating_sub(latest)..n).rev() {
            for k in 1..=s.opts.removal_seeds {
                let mut spec = s.best.clone();
                let gone = describe_fault(&spec.faults.remove(i));
                let old = spec.seed;
                spec.seed = old.wrapping_add(k);
                let what = format!(
                    "removed {gone}, with seed {} (seed {old} no longer failed)",
                    spec.seed
                );
                if s.try_keep(spec, what) {
                    removed = true;
                    continue 'again;
                }
            }
        }
        break;
    }
    if removed {
        ddmin_faults(s);
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
