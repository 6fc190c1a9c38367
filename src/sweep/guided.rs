//! Coverage-guided sweeps (`agentsim sweep --guided`): the pure part.
//!
//! A guided sweep runs in generations of [`GENERATION`] runs. Each
//! generation mixes fresh seeds (at least [`FRESH_SHARE`] of it; the seeds
//! of `--seeds` in order, with the swarm draw of a default sweep when
//! `--nemesis` is on) with mutants of kept runs. A run whose abstract-state
//! coverage ([`super::coverage`]) adds a state or a pair the sweep had not
//! seen is kept in the corpus as a *concrete* scenario: its nemesis draws
//! rewritten as scripted faults, its seed fixed. A mutant is a kept
//! scenario with 1 to [`MAX_OPS`] edits to its fault schedule ([`Op`]), so
//! it is itself a plain scenario file that `agentsim run` replays and
//! `agentsim shrink` shrinks. Which kept scenario gets mutated is drawn
//! by its rarity: runs that reached states few other runs reached get
//! most of the mutants (AFL's rare-edge energy, on abstract states).
//!
//! Determinism: candidates of a generation are drawn from one stream
//! (`sweep/guided` under the first seed) before any of them runs; the runs
//! may finish in any order on any number of threads, and their results are
//! folded in candidate order. So the corpus, the coverage and the summary
//! depend on `--seeds` (and the scenario, `--nemesis`, `--bug`) only.

use super::coverage::{Coverage, CoverageSink};
use super::swarm::SwarmDraw;
use super::{seed_scenario, SeedBudget, SeedResult};
use crate::metrics::Report;
use crate::rng::SimRng;
use crate::runner::{self, HistoryOutput, RunOptions};
use crate::scenario::{dist, FaultKind, FaultSpec, NodeRef, Scenario, ScenarioSpec, TargetSpec};
use serde::Serialize;

/// Runs per generation (fixed, so results never depend on `--jobs`).
pub const GENERATION: usize = 32;

/// Least share of fresh random seeds in each generation.
pub const FRESH_SHARE: f64 = 0.3;

/// Most faults a kept scenario holds (mutants that would exceed it lose
/// random faults): a bound on every scenario the loop writes.
pub const MAX_FAULTS: usize = 128;

/// Most edits in one mutant (1 to this many, uniform).
pub const MAX_OPS: usize = 5;

/// Chance that a mutant gets a new seed instead of its parent's.
pub const RESEED: f64 = 0.9;

/// Power of a kept run's rarity in its chance of being mutated (see
/// `Guided::refresh_weights`). Measured with `--seeds 0..256` on
/// nemesis-10s (states reached): 8,304 with the earlier weight
/// (states added when kept + 1)², and with rarity to the power 1, 2, 3,
/// 4, 6: 8,163, 9,685, 10,011, 10,210, 11,211 (docs/guided.md).
pub const RARITY_POWER: f64 = 4.0;

/// How a guided run's scenario came about.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "from", rename_all = "snake_case")]
pub enum Origin {
    /// A fresh seed of `--seeds`, as a default sweep runs it.
    Fresh,
    /// A mutant of the kept run `parent`.
    Mutant {
        /// Index of the run it was made from.
        parent: u64,
        /// The edits, in order (`shift fault 3 by -12.5 ms`, ...).
        ops: Vec<String>,
    },
}

impl Origin {
    /// The `from` tag it is written with (`fresh`, `mutant`).
    pub fn tag(&self) -> &'static str {
        match self {
            Origin::Fresh => "fresh",
            Origin::Mutant { .. } => "mutant",
        }
    }
}

/// A run the loop decided to make.
#[derive(Clone, Debug)]
pub struct Candidate {
    /// 0-based index of the run in the sweep.
    pub index: u64,
    /// Where its scenario came from.
    pub origin: Origin,
    /// The scenario (seed included), validated.
    pub scenario: Scenario,
    /// The swarm draw (fresh runs with `--nemesis`).
    pub swarm: Option<SwarmDraw>,
}

/// What one guided run gave.
#[derive(Debug)]
pub struct GuidedRun {
    /// The run's index.
    pub index: u64,
    /// Where its scenario came from.
    pub origin: Origin,
    /// Its result line (seed, hash, failures, statistics).
    pub result: SeedResult,
    /// What it covered.
    pub coverage: Coverage,
    /// The run as a concrete scenario: nemesis draws scripted.
    pub concrete: ScenarioSpec,
    /// The scenario exactly as it ran (for a failure's scenario file).
    pub ran: ScenarioSpec,
    /// The report of a failing run (its `scenario` is [`Self::ran`]).
    pub failure_report: Option<Report>,
}

/// A run kept for adding coverage.
#[derive(Clone, Debug)]
pub struct CorpusEntry {
    /// The run's index.
    pub run: u64,
    /// Its concrete scenario.
    pub spec: ScenarioSpec,
    /// States and pairs it added when it was kept.
    pub new_states: u64,
    /// See `new_states`.
    pub new_pairs: u64,
    /// The abstract states it reached, as ids into the loop's hit counts
    /// (for its rarity score).
    states: Vec<u32>,
}

/// Coverage after one generation.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Growth {
    /// Runs so far.
    pub runs: u64,
    /// Distinct abstract states so far.
    pub states: u64,
    /// Distinct (state, event kind) pairs so far.
    pub pairs: u64,
    /// Failing runs so far.
    pub failed: u64,
}

/// The guided loop's state.
pub struct Guided {
    base: Scenario,
    swarm: bool,
    first_seed: u64,
    runs: u64,
    rng: SimRng,
    next_index: u64,
    next_fresh: u64,
    /// Kept runs, in the order they were kept.
    pub corpus: Vec<CorpusEntry>,
    /// Everything covered so far.
    pub total: Coverage,
    /// Coverage after each generation.
    pub growth: Vec<Growth>,
    /// Failing runs so far.
    pub failed: u64,
    /// Fresh and mutant runs so far.
    pub fresh_runs: u64,
    /// See `fresh_runs`.
    pub mutant_runs: u64,
    /// Failing fresh and mutant runs.
    pub fresh_failed: u64,
    /// See `fresh_failed`.
    pub mutant_failed: u64,
    /// States first reached by fresh runs and by mutants.
    pub fresh_new_states: u64,
    /// See `fresh_new_states`.
    pub mutant_new_states: u64,
    /// Each abstract state reached so far, numbered in the order first
    /// reached (an id into `hits`).
    ids: std::collections::BTreeMap<super::coverage::StateKey, u32>,
    /// How many runs reached each state, by id.
    hits: Vec<u32>,
    /// Each corpus entry's chance weight, refreshed before a generation's
    /// mutants are drawn.
    weights: Vec<f64>,
}

impl Guided {
    /// A guided sweep of `runs` runs over `base` (validated, overrides
    /// applied); fresh runs take seeds `first_seed, first_seed + 1, ...`.
    pub fn new(base: Scenario, first_seed: u64, runs: u64, swarm: bool) -> Guided {
        Guided {
            base,
            swarm,
            first_seed,
            runs,
            rng: SimRng::stream(first_seed, crate::rng::Stream::Guided),
            next_index: 0,
            next_fresh: first_seed,
            corpus: Vec::new(),
            total: Coverage::default(),
            growth: Vec::new(),
            failed: 0,
            fresh_runs: 0,
            mutant_runs: 0,
            fresh_failed: 0,
            mutant_failed: 0,
            fresh_new_states: 0,
            mutant_new_states: 0,
            ids: std::collections::BTreeMap::new(),
            hits: Vec::new(),
            weights: Vec::new(),
        }
    }

    /// Runs not yet handed out.
    pub fn remaining(&self) -> u64 {
        self.runs - self.next_index
    }

    /// The next generation's candidates (empty when the budget is spent).
    pub fn next_generation(&mut self) -> Vec<Candidate> {
        let n = (self.remaining() as usize).min(GENERATION);
        let fresh = if self.corpus.is_empty() {
            n
        } else {
            ((n as f64 * FRESH_SHARE).ceil() as usize).min(n)
        };
        self.refresh_weights();
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let index = self.next_index;
            self.next_index += 1;
            let mutant = (i >= fresh).then(|| self.mutant()).flatten();
            out.push(match mutant {
                Some((scenario, origin)) => Candidate {
                    index,
                    origin,
                    scenario,
                    swarm: None,
                },
                None => {
                    let seed = self.next_fresh;
                    self.next_fresh += 1;
                    let (scenario, swarm) = seed_scenario(&self.base, seed, self.swarm);
                    Candidate {
                        index,
                        origin: Origin::Fresh,
                        scenario,
                        swarm,
                    }
                }
            });
        }
        out
    }

    /// A valid mutant of a kept run, or none after a few invalid tries
    /// (then the slot takes a fresh seed).
    fn mutant(&mut self) -> Option<(Scenario, Origin)> {
        for _ in 0..8 {
            let parent = self.pick_parent();
            let mut spec = self.corpus[parent].spec.clone();
            let mut ops = Vec::new();
            let n_ops = 1 + self.rng.index(MAX_OPS);
            for _ in 0..n_ops {
                let other = self.rng.index(self.corpus.len());
                let donor = self.corpus[other].spec.clone();
                ops.push(mutate(&mut self.rng, &mut spec, &donor));
            }
            if self.rng.chance(RESEED) {
                // A new seed: same schedule, other network and timer
                // draws. With the parent's seed a mutant repeats the
                // parent's run up to the first edit, covering nothing new
                // there (measured on the selftest, 128 runs, uniform parents: 0.3
                // reached 15 % fewer states than 0.9).
                spec.seed = self.rng.next_u64() >> 11;
                ops.push(format!("reseed {}", spec.seed));
            }
            while spec.faults.len() > MAX_FAULTS {
                let i = self.rng.index(spec.faults.len());
                spec.faults.remove(i);
            }
            spec.faults.sort_by(|a, b| a.at_ms.total_cmp(&b.at_ms));
            if let Ok(s) = Scenario::from_spec(spec) {
                let origin = Origin::Mutant {
                    parent: self.corpus[parent].run,
                    ops,
                };
                return Some((s, origin));
            }
        }
        None
    }

    /// Each corpus entry's weight for [`Self::pick_parent`]: its rarity
    /// (the sum over the states it reached of 1 / the number of runs that
    /// reached the state), plus one, to the power [`RARITY_POWER`].
    /// Rarity is recomputed each generation from the current hit counts,
    /// so an entry whose states later runs also reach loses energy: the
    /// loop spends its mutants where few runs have been.
    fn refresh_weights(&mut self) {
        let hits = &self.hits;
        self.weights = self
            .corpus
            .iter()
            .map(|c| {
                let rare: f64 = c
                    .states
                    .iter()
                    .map(|&i| 1.0 / f64::from(hits[i as usize]))
                    .sum();
                libm::pow(rare + 1.0, RARITY_POWER)
            })
            .collect();
    }

    /// A kept run, with a chance growing with its weight.
    fn pick_parent(&mut self) -> usize {
        let n = self.corpus.len();
        let total: f64 = self.weights.iter().sum();
        let mut x = self.rng.unit() * total;
        for (i, w) in self.weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        n - 1
    }

    /// Fold a generation's runs in, in candidate order: coverage, corpus,
    /// counts. `runs` must be the last [`Self::next_generation`]'s, in its
    /// order.
    pub fn absorb(&mut self, runs: &[GuidedRun]) {
        for r in runs {
            let (states, pairs) = self.total.merge(&r.coverage);
            let mut ids = Vec::with_capacity(r.coverage.states.len());
            for s in &r.coverage.states {
                let next = self.hits.len() as u32;
                let id = *self.ids.entry(*s).or_insert(next);
                if id == next {
                    self.hits.push(0);
                }
                self.hits[id as usize] += 1;
                ids.push(id);
            }
            let fresh = r.origin == Origin::Fresh;
            self.fresh_runs += u64::from(fresh);
            self.mutant_runs += u64::from(!fresh);
            if fresh {
                self.fresh_new_states += states;
            } else {
                self.mutant_new_states += states;
            }
            if !r.result.ok() {
                self.failed += 1;
                self.fresh_failed += u64::from(fresh);
                self.mutant_failed += u64::from(!fresh);
            }
            if states + pairs > 0 {
                self.corpus.push(CorpusEntry {
                    run: r.index,
                    spec: r.concrete.clone(),
                    new_states: states,
                    new_pairs: pairs,
                    states: ids,
                });
            }
        }
        self.growth.push(Growth {
            runs: self.fresh_runs + self.mutant_runs,
            states: self.total.states.len() as u64,
            pairs: self.total.pairs.len() as u64,
            failed: self.failed,
        });
    }

    /// The first seed of `--seeds` (the loop's stream is keyed by it).
    pub fn first_seed(&self) -> u64 {
        self.first_seed
    }
}

/// Run one candidate with coverage collection.
pub fn run_candidate(c: &Candidate, budget: Option<SeedBudget>) -> GuidedRun {
    let (result, coverage, report) = run_with_coverage(&c.scenario, c.swarm.clone(), budget);
    let concrete = concrete(&c.scenario.spec, &report);
    let failure_report = (!result.ok()).then(|| {
        let mut report = report;
        if let Some(d) = &c.swarm {
            report.other.insert("swarm".into(), serde_json::json!(d));
        }
        report
    });
    GuidedRun {
        index: c.index,
        origin: c.origin.clone(),
        result,
        coverage,
        concrete,
        ran: c.scenario.spec.clone(),
        failure_report,
    }
}

/// Run `scenario` as a sweep runs a seed, collecting coverage: its result
/// line, its coverage and its report. `budget` is the sweep's per-seed
/// budget (`--seed-budget-events`, `--seed-budget-mib`; a run over it is a
/// `budget` failure), `None` for none.
pub fn run_with_coverage(
    scenario: &Scenario,
    swarm: Option<SwarmDraw>,
    budget: Option<SeedBudget>,
) -> (SeedResult, Coverage, Report) {
    let sink: CoverageSink = Coverage::sink();
    let opts = RunOptions {
        budget,
        history: HistoryOutput::Discard,
        coverage: Some(sink.clone()),
        ..Default::default()
    };
    let out = runner::run(scenario, &opts);
    drop(opts);
    let coverage = std::mem::take(&mut *sink.borrow_mut());
    let report = out.report;
    let result = SeedResult::of_run(
        scenario.spec.seed,
        &report,
        out.latency.as_ref(),
        out.collab.as_ref(),
        swarm,
    );
    (result, coverage, report)
}

/// A run's scenario with its nemesis draws written as scripted faults
/// (the scenario's own scripted faults stay), so mutations edit a fixed
/// schedule instead of a distribution.
pub fn concrete(spec: &ScenarioSpec, report: &Report) -> ScenarioSpec {
    let mut s = spec.clone();
    if s.nemesis.is_some() {
        s.nemesis = None;
        s.faults.extend(
            crate::shrink::scripted_from_report(report, spec.duration_ms, spec.cluster.nodes)
                .into_iter()
                .take(MAX_FAULTS),
        );
        s.faults.sort_by(|a, b| a.at_ms.total_cmp(&b.at_ms));
        s.faults.truncate(MAX_FAULTS);
    }
    s
}

/// The time scales of a scenario that mutations draw from, ms.
struct Scale {
    nodes: u32,
    duration: f64,
    emin: f64,
    emax: f64,
    latency: f64,
}

impl Scale {
    fn of(spec: &ScenarioSpec) -> Scale {
        let raft = spec.cluster.raft.clone().unwrap_or_default();
        let m = dist(&spec.network.latency_ms).mean();
        Scale {
            nodes: spec.cluster.nodes,
            duration: spec.duration_ms,
            emin: raft.election_timeout_ms[0],
            emax: raft.election_timeout_ms[1],
            latency: if m.is_finite() { m.max(0.01) } else { 1.0 },
        }
    }
}

/// The mutation operators.
#[derive(Clone, Copy, Debug)]
pub enum Op {
    /// Move one fault earlier or later (within two election timeouts).
    Shift,
    /// Point one fault at another node (or at the leader / a follower).
    Retarget,
    /// Make one fault shorter, towards a bounce (restart within 2 ms).
    Shorten,
    /// Add one protocol-shaped fault (bounce, leader crash, leader link
    /// cut, isolation, pause, partition).
    Insert,
    /// Remove one fault.
    Delete,
    /// Drop the messages of one link for about one message latency: the
    /// closest the scenario format comes to dropping one message.
    DropMessages,
    /// Delay the messages sent on one link during about one latency by an
    /// election timeout or two: holds a message past a term change (a
    /// duplicate of one message cannot be scripted).
    DelayMessages,
    /// Faults of this schedule before a time, of another kept one after.
    Splice,
}

const OPS: [Op; 8] = [
    Op::Shift,
    Op::Retarget,
    Op::Shorten,
    Op::Insert,
    Op::Delete,
    Op::DropMessages,
    Op::DelayMessages,
    Op::Splice,
];

fn round(v: f64) -> f64 {
    libm::round(v * 1000.0) / 1000.0
}

fn uniform(rng: &mut SimRng, lo: f64, hi: f64) -> f64 {
    round(lo + rng.unit() * (hi - lo))
}

/// Apply one random operator to `spec` (`donor` is another kept
/// scenario, for splicing); returns what it did.
pub fn mutate(rng: &mut SimRng, spec: &mut ScenarioSpec, donor: &ScenarioSpec) -> String {
    let sc = Scale::of(spec);
    let mut op = OPS[rng.index(OPS.len())];
    let editable = !spec.faults.is_empty();
    if !editable && !matches!(op, Op::Insert | Op::DropMessages | Op::DelayMessages) {
        op = Op::Insert;
    }
    if matches!(op, Op::Splice) && donor.cluster.nodes != spec.cluster.nodes {
        op = Op::Insert;
    }
    match op {
        Op::Shift => {
            let i = rng.index(spec.faults.len());
            let d = uniform(rng, -2.0 * sc.emax, 2.0 * sc.emax);
            let f = &mut spec.faults[i];
            f.at_ms = round((f.at_ms + d).clamp(0.0, sc.duration));
            format!("shift fault {i} by {d} ms")
        }
        Op::Retarget => {
            let i = rng.index(spec.faults.len());
            retarget(rng, &mut spec.faults[i], &sc);
            format!("retarget fault {i}")
        }
        Op::Shorten => {
            let i = rng.index(spec.faults.len());
            shorten(rng, &mut spec.faults, i, &sc);
            format!("shorten fault {i}")
        }
        Op::Insert => {
            let f = new_fault(rng, &sc, spec);
            let what = format!("insert {:?} at {} ms", f.kind, f.at_ms).to_lowercase();
            spec.faults.push(f);
            what
        }
        Op::Delete => {
            let i = rng.index(spec.faults.len());
            spec.faults.remove(i);
            format!("delete fault {i}")
        }
        Op::DropMessages | Op::DelayMessages => {
            let at = fault_time(rng, &sc, spec);
            let mut f = FaultSpec::new(at, FaultKind::Link);
            let (a, b) = two_nodes(rng, sc.nodes);
            f.from = Some(TargetSpec::Index(a));
            f.to = Some(TargetSpec::Index(b));
            f.for_ms = Some(uniform(rng, 0.5 * sc.latency, 1.5 * sc.latency).max(0.01));
            let what = if matches!(op, Op::DropMessages) {
                f.drop = Some(1.0);
                format!("drop {a}->{b} at {at} ms")
            } else {
                f.drop = Some(0.0);
                f.extra_latency_ms = Some(uniform(rng, sc.emin, 2.0 * sc.emax).max(0.01));
                format!("delay {a}->{b} at {at} ms")
            };
            spec.faults.push(f);
            what
        }
        Op::Splice => {
            let t = uniform(rng, 0.0, sc.duration);
            spec.faults.retain(|f| f.at_ms < t);
            spec.faults
                .extend(donor.faults.iter().filter(|f| f.at_ms >= t).cloned());
            format!("splice at {t} ms")
        }
    }
}

/// Two different node indexes (the same one twice in a 1-node cluster).
fn two_nodes(rng: &mut SimRng, nodes: u32) -> (u32, u32) {
    let a = rng.index(nodes as usize) as u32;
    if nodes < 2 {
        return (a, a);
    }
    let b = (a + 1 + rng.index(nodes as usize - 1) as u32) % nodes;
    (a, b)
}

/// Half the time near an existing fault (within an election timeout),
/// else anywhere in the run.
fn fault_time(rng: &mut SimRng, sc: &Scale, spec: &ScenarioSpec) -> f64 {
    if !spec.faults.is_empty() && rng.chance(0.5) {
        let near = spec.faults[rng.index(spec.faults.len())].at_ms;
        round((near + uniform(rng, -sc.emax, sc.emax)).clamp(0.0, sc.duration))
    } else {
        uniform(rng, 0.0, sc.duration)
    }
}

/// A random split of the nodes into two non-empty groups.
fn split(rng: &mut SimRng, nodes: u32) -> Vec<Vec<NodeRef>> {
    let mut ids: Vec<u32> = (0..nodes).collect();
    rng.shuffle(&mut ids);
    let k = 1 + rng.index((nodes as usize - 1).max(1));
    let (a, b) = ids.split_at(k.min(ids.len()));
    let (mut a, mut b) = (a.to_vec(), b.to_vec());
    a.sort_unstable();
    b.sort_unstable();
    [a, b]
        .into_iter()
        .map(|g| g.into_iter().map(NodeRef::Server).collect())
        .collect()
}

/// A new protocol-shaped fault.
fn new_fault(rng: &mut SimRng, sc: &Scale, spec: &ScenarioSpec) -> FaultSpec {
    let at = fault_time(rng, sc, spec);
    let node = TargetSpec::Index(rng.index(sc.nodes as usize) as u32);
    match rng.index(6) {
        0 => {
            let mut f = FaultSpec::new(at, FaultKind::Crash);
            f.node = Some(node);
            f.restart_after_ms = Some(uniform(rng, 0.0, 2.0));
            f
        }
        1 => {
            let mut f = FaultSpec::new(at, FaultKind::Crash);
            f.node = Some(TargetSpec::Leader);
            f.restart_after_ms = Some(uniform(rng, 0.0, sc.emin));
            f
        }
        2 => {
            let mut f = FaultSpec::new(at, FaultKind::Link);
            f.from = Some(TargetSpec::Leader);
            f.to = Some(TargetSpec::Follower);
            f.drop = Some(1.0);
            f.for_ms = Some(uniform(rng, sc.latency.min(sc.emin), sc.emin).max(0.01));
            f
        }
        3 => {
            let mut f = FaultSpec::new(at, FaultKind::Isolate);
            f.node = Some(node);
            f.for_ms = Some(uniform(rng, sc.emin, 4.0 * sc.emax).max(0.01));
            f
        }
        4 => {
            let mut f = FaultSpec::new(at, FaultKind::Pause);
            f.node = Some(node);
            f.for_ms = Some(uniform(rng, sc.latency, 2.0 * sc.emax).max(0.01));
            f
        }
        _ if sc.nodes >= 2 => {
            let mut f = FaultSpec::new(at, FaultKind::Partition);
            f.groups = Some(split(rng, sc.nodes));
            f.for_ms = Some(uniform(rng, sc.emin, 4.0 * sc.emax).max(0.01));
            f
        }
        _ => {
            let mut f = FaultSpec::new(at, FaultKind::Pause);
            f.node = Some(node);
            f.for_ms = Some(uniform(rng, sc.latency, 2.0 * sc.emax).max(0.01));
            f
        }
    }
}

/// Point a fault at other nodes.
fn retarget(rng: &mut SimRng, f: &mut FaultSpec, sc: &Scale) {
    let index = |rng: &mut SimRng| TargetSpec::Index(rng.index(sc.nodes as usize) as u32);
    match f.kind {
        FaultKind::Crash | FaultKind::Pause | FaultKind::Isolate => {
            f.node = Some(match rng.index(5) {
                0 => TargetSpec::Leader,
                1 => TargetSpec::Follower,
                _ => index(rng),
            });
        }
        FaultKind::Restart | FaultKind::Clock => f.node = Some(index(rng)),
        FaultKind::Link => {
            if rng.chance(0.3) {
                f.from = Some(TargetSpec::Leader);
                f.to = Some(TargetSpec::Follower);
            } else {
                let (a, b) = two_nodes(rng, sc.nodes);
                f.from = Some(TargetSpec::Index(a));
                f.to = Some(TargetSpec::Index(b));
            }
        }
        FaultKind::Partition if sc.nodes >= 2 => f.groups = Some(split(rng, sc.nodes)),
        // Protocol-event rules (crash points, message rules) keep their
        // target: the rule, not the node, is what a mutation would change.
        FaultKind::Partition | FaultKind::Heal | FaultKind::CrashAt | FaultKind::Message => {}
    }
}

/// Shorten fault `i` of `faults` towards a bounce.
fn shorten(rng: &mut SimRng, faults: &mut [FaultSpec], i: usize, sc: &Scale) {
    let f = faults[i].clone();
    if let Some(every) = f.every_ms {
        // A repeating fault: fire more often.
        faults[i].every_ms = Some(round((every * uniform(rng, 0.3, 1.0)).max(1.0)));
        return;
    }
    match f.kind {
        FaultKind::Crash => {
            let quick = uniform(rng, 0.0, 2.0);
            if f.restart_after_ms.is_some() {
                faults[i].restart_after_ms = Some(quick);
            } else if let Some(j) = (i + 1..faults.len())
                .find(|&j| faults[j].kind == FaultKind::Restart && faults[j].node == f.node)
            {
                faults[j].at_ms = round(f.at_ms + quick);
            } else {
                faults[i].restart_after_ms = Some(quick);
            }
        }
        FaultKind::Restart => {
            if let Some(j) = (0..i)
                .rev()
                .find(|&j| faults[j].kind == FaultKind::Crash && faults[j].node == f.node)
            {
                faults[i].at_ms = round(faults[j].at_ms + uniform(rng, 0.0, 2.0));
            }
        }
        _ => {
            let d = match f.for_ms {
                Some(d) => d * uniform(rng, 0.05, 0.5),
                None => uniform(rng, sc.latency, sc.emin),
            };
            if f.kind != FaultKind::Heal {
                faults[i].for_ms = Some(round(d).max(0.01));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn selftest() -> Scenario {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/sweep/selftest.json");
        Scenario::load(std::path::Path::new(path)).expect("selftest loads")
    }

    /// `Origin::tag` is the `from` key the file writes (the printed
    /// summary quotes it): a tag renamed in one place only fails here.
    #[test]
    fn origin_tag_is_the_written_from_key() {
        let mutant = Origin::Mutant {
            parent: 3,
            ops: vec!["delete fault 1".into()],
        };
        for o in [Origin::Fresh, mutant] {
            let v = serde_json::to_value(&o).expect("origin serializes");
            assert_eq!(v["from"].as_str(), Some(o.tag()));
        }
        assert_ne!(Origin::Fresh.tag(), "mutant");
    }

    /// A kept run that reached states few runs reached is picked as a
    /// parent more often than one whose states every run reaches, even
    /// when both added as many new states when kept (the earlier weight,
    /// (states added + 1)², would pick them equally often).
    #[test]
    fn rare_coverage_gets_more_mutants() {
        let (s, _) = seed_scenario(&selftest(), 0, true);
        let mut g = Guided::new(selftest(), 0, 64, true);
        // States 0 and 1 reached by 8 runs each, state 2 by one run.
        g.hits = vec![8, 8, 1];
        for states in [vec![0, 1], vec![2]] {
            g.corpus.push(CorpusEntry {
                run: g.corpus.len() as u64,
                spec: s.spec.clone(),
                new_states: 1,
                new_pairs: 0,
                states,
            });
        }
        g.refresh_weights();
        let mut picks = [0u32; 2];
        for _ in 0..1000 {
            picks[g.pick_parent()] += 1;
        }
        // Weights (2/8 + 1)^4 = 2.4 and (1 + 1)^4 = 16: 13 % and 87 %.
        assert!(picks[1] > 800 && picks[0] > 50, "{picks:?}");
    }

    /// Every mutant the operators make from a concrete schedule is a valid
    /// scenario (the loop would otherwise waste its slot on a fresh seed).
    #[test]
    fn mutants_stay_valid() {
        let base = selftest();
        let (s, _) = seed_scenario(&base, 3, true);
        let mut spec = s.spec.clone();
        spec.nemesis = None;
        let mut rng = SimRng::derive(1, "test");
        let donor = spec.clone();
        for _ in 0..500 {
            let before = spec.clone();
            let what = mutate(&mut rng, &mut spec, &donor);
            spec.faults.sort_by(|a, b| a.at_ms.total_cmp(&b.at_ms));
            spec.faults.truncate(MAX_FAULTS);
            if let Err(e) = Scenario::from_spec(spec.clone()) {
                panic!("{what} made an invalid scenario: {e}\nfrom {before:?}");
            }
        }
        assert!(!spec.faults.is_empty());
    }
}
