//! The typed protocol sections of a report. In `report.json` their fields
//! sit at the top level beside `seed`, `checks`, ... (the file format
//! predates the types and scripts rely on it); here each run kind has one
//! struct: [`RaftSection`] (KV clusters), [`CollabSection`] (collaboration
//! runs, CP or AP) and [`HeartbeatSection`]; the shared `network` key is
//! [`NetworkSection`]. Fields the readers of a
//! report (plots, sweeps, shrinking, OpenMetrics) use are typed, as are the
//! role timeline ([`RoleTimeline`]) and the `collab` tables
//! ([`crate::metrics::collab_tables`]), the latency summaries
//! ([`LatencySummary`], [`SampleSummary`], [`ElectionAfterLoss`]) and the
//! liveness findings ([`LivenessSection`]).
//!
//! Sections are written through `serde_json::Value`, so keys come out
//! sorted whatever the field order; the summary and liveness structs also
//! declare their fields in key order, so that writing one directly gives
//! the bytes the file has. Each field keeps
//! the JSON type it always had: counts are integers, times floats, and an
//! optional key that some runs lack is `skip_serializing_if` absent.
//!
//! Every struct is `#[serde(default)]`: a report written by an older
//! version that lacks a field still loads (replay needs only the seed, the
//! scenario and the trace hash).

pub use crate::metrics::hist::LatencySummary;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// The network counters of a run (the report's `network` key). Fields are
/// in key order, as the file has them; keys this version does not know
/// are kept in `other` so a report loads and writes back unchanged.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkSection {
    /// Bytes of the messages delivered.
    pub bytes_delivered: u64,
    /// Bytes of the messages sent.
    pub bytes_sent: u64,
    /// Messages delivered.
    pub delivered: u64,
    /// Messages dropped, for any cause.
    pub dropped: u64,
    /// Messages dropped, by cause (`loss`, `partition`, ...).
    pub dropped_by_cause: BTreeMap<String, u64>,
    /// Extra copies the network made.
    pub duplicated: u64,
    /// Messages sent, by message type.
    pub messages_by_type: BTreeMap<String, u64>,
    /// Messages sent.
    pub sent: u64,
    /// Keys another version wrote.
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// One election won.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Election {
    /// The term it was won in.
    pub term: u64,
    /// The winner's node id.
    pub winner: u32,
    /// When, ms of virtual time.
    pub time_ms: f64,
}

/// Leadership numbers shared by KV and collaboration runs (a CP
/// coordinator is a Raft leader; under AP, "leader" means "coordinating").
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Leadership {
    /// Elections won, in order.
    pub elections: Vec<Election>,
    /// Highest term seen.
    pub max_term: u64,
    /// Time with no leader known to a majority after a leader was lost
    /// (`samples`, ms, and their summary).
    pub leader_loss_downtime_ms: SampleSummary,
    /// Time from a leader loss to the next election (the Raft paper's
    /// Figure 16 measure).
    pub election_after_leader_loss_ms: ElectionAfterLoss,
    /// Time each node spent in each role, by node id.
    pub role_time_ms: Vec<RoleTime>,
    /// Role changes over time (or a note that the file omits them;
    /// `None`, `null` in the file, when a report has neither).
    pub role_timeline: Option<RoleTimeline>,
    /// Messages sent, by type (a copy of the network counters'; `None`,
    /// `null` in the file, when the run has no network counters).
    pub messages_by_type: Option<BTreeMap<String, u64>>,
}

/// Exact summary of a short list of durations, with the samples
/// themselves (the leader-loss downtimes and elections after a loss: few
/// enough per run to keep every one, and plots draw their CDFs). Fields in
/// key order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SampleSummary {
    /// Samples.
    pub count: u64,
    /// Largest sample, ms (0 when empty).
    pub max: f64,
    /// Mean, ms (0 when empty).
    pub mean: f64,
    /// Median (nearest rank), ms.
    pub p50: f64,
    /// 90th percentile (nearest rank), ms.
    pub p90: f64,
    /// 99th percentile (nearest rank), ms.
    pub p99: f64,
    /// Every sample, ms, in the order they happened.
    pub samples: Vec<f64>,
}

impl SampleSummary {
    /// The summary of `us` (µs durations, in the order they happened).
    pub fn of_us(us: &[u64]) -> SampleSummary {
        let samples: Vec<f64> = us.iter().map(|&u| u as f64 / 1000.0).collect();
        let mut v = samples.clone();
        v.sort_by(f64::total_cmp);
        let q = |p: f64| -> f64 {
            if v.is_empty() {
                0.0
            } else {
                v[((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1]
            }
        };
        SampleSummary {
            count: v.len() as u64,
            mean: if v.is_empty() {
                0.0
            } else {
                v.iter().sum::<f64>() / v.len() as f64
            },
            p50: q(0.5),
            p90: q(0.9),
            p99: q(0.99),
            max: v.last().copied().unwrap_or(0.0),
            samples,
        }
    }
}

/// Election after leader loss (the report's
/// `election_after_leader_loss_ms`): one sample per loss that ended in an
/// election, their summary as in [`SampleSummary`], and how the losses
/// ended. Its own fields rather than a flattened [`SampleSummary`], to keep
/// them in key order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ElectionAfterLoss {
    /// Samples (losses followed by an election).
    pub count: u64,
    /// Leader losses seen: sampled, recovered and unfinished.
    pub losses: u64,
    /// Longest, ms (0 when empty).
    pub max: f64,
    /// Mean, ms (0 when empty).
    pub mean: f64,
    /// Median (nearest rank), ms.
    pub p50: f64,
    /// 90th percentile (nearest rank), ms.
    pub p90: f64,
    /// 99th percentile (nearest rank), ms.
    pub p99: f64,
    /// Losses that ended with the same leader back (no election, no sample).
    pub recovered: u64,
    /// Every sample, ms, in the order they happened.
    pub samples: Vec<f64>,
    /// Losses still open at the end of the run (0 or 1).
    pub unfinished: u64,
}

impl ElectionAfterLoss {
    /// The summary of `us` (µs, in the order they happened) and the
    /// losses' outcomes.
    pub fn new(us: &[u64], recovered: u64, unfinished: u64) -> ElectionAfterLoss {
        let s = SampleSummary::of_us(us);
        ElectionAfterLoss {
            count: s.count,
            losses: s.count + recovered + unfinished,
            max: s.max,
            mean: s.mean,
            p50: s.p50,
            p90: s.p90,
            p99: s.p99,
            recovered,
            samples: s.samples,
            unfinished,
        }
    }
}

/// Time one node spent in each role, ms (one entry of `role_time_ms`).
/// Fields in key order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RoleTime {
    /// As candidate (or pre-candidate).
    pub candidate: f64,
    /// Crashed.
    pub down: f64,
    /// As follower.
    pub follower: f64,
    /// As leader (for AP servers, coordinating).
    pub leader: f64,
    /// Paused.
    pub paused: f64,
}

/// The report's `liveness` key: what the liveness judge found after the
/// last fault healed (`check::liveness`, `check::workflow_liveness`).
/// Which keys a run has depends on its kind (a KV run: `leader` and, with
/// a workload, `progress`; a CP collaboration run: `leader` and
/// `workflows`; an AP one: `not_judged` and `workflows`); absent keys are
/// `None` and stay absent. Fields in key order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LivenessSection {
    /// When the last fault ended, ms (the windows start there).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub faults_ended_ms: Option<f64>,
    /// `liveness.leader`: a leader known to a majority within the window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leader: Option<LivenessWindow>,
    /// Why nothing (or not the leader) was judged: checkers skipped, or
    /// an AP coordinator with no leader to wait for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_judged: Option<String>,
    /// `liveness.progress`: a client operation completed within the window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress: Option<LivenessWindow>,
    /// `liveness.workflows`: every workflow resolved within its window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflows: Option<LivenessWindow>,
}

impl LivenessSection {
    /// Nothing judged, and why (`{"not_judged": why}` in the file).
    pub fn not_judged(why: &str) -> LivenessSection {
        LivenessSection {
            not_judged: Some(why.to_string()),
            ..LivenessSection::default()
        }
    }
}

/// One liveness condition's verdict. The workflow check adds its counts
/// (absent for the other checks, and when it could not judge at all).
/// Fields in key order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LivenessWindow {
    /// Held: when, ms (leader, progress) or what held (workflows);
    /// otherwise why it failed or was not judged.
    pub detail: LivenessDetail,
    /// Workflows that missed their window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<u64>,
    /// Workflows whose window was still open at the end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inside_window_at_end: Option<u64>,
    /// Workflows judged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub judged: Option<u64>,
    /// The verdict.
    pub verdict: LivenessVerdict,
    /// The window after the last fault, ms.
    pub window_ms: f64,
}

/// A liveness verdict (`held`, `failed`, `not_judged` in the file).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LivenessVerdict {
    /// The condition came within the window.
    Held,
    /// It did not.
    Failed,
    /// The run could not show it either way (faults active at the end, the
    /// run ended inside the window, checkers skipped).
    #[default]
    NotJudged,
}

/// A verdict's detail: a time, ms, or words.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum LivenessDetail {
    /// When the condition came, ms of virtual time.
    AtMs(f64),
    /// Why it failed or was not judged, or what held.
    Text(String),
}

impl Default for LivenessDetail {
    fn default() -> Self {
        LivenessDetail::Text(String::new())
    }
}

/// One role change of the timeline: `[time_ms, node, role, term]` in the
/// file (an array, to keep a long timeline small).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RoleChange(
    /// When, ms of virtual time.
    pub f64,
    /// The node.
    pub u32,
    /// Its new role: `follower`, `pre_candidate`, `candidate`, `leader`,
    /// `crashed` or `paused` (for AP servers, `leader` = coordinating).
    pub String,
    /// Its term then.
    pub u64,
);

impl RoleChange {
    /// When, ms of virtual time.
    pub fn time_ms(&self) -> f64 {
        self.0
    }
    /// The node.
    pub fn node(&self) -> u32 {
        self.1
    }
    /// The new role.
    pub fn role(&self) -> &str {
        &self.2
    }
    /// The term.
    pub fn term(&self) -> u64 {
        self.3
    }
}

/// The report's `role_timeline`: the first role changes of the run (the
/// rest counted in `dropped`), or, in a report `agentsim report` slimmed,
/// a note that it was left out.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RoleTimeline {
    /// The changes, in order.
    Changes {
        /// The first changes, up to the timeline's cap.
        changes: Vec<RoleChange>,
        /// Changes not kept because the timeline was full.
        dropped: u64,
    },
    /// Left out of the file, and why.
    Omitted {
        /// Why, and how to get it back.
        omitted: String,
    },
}

impl RoleTimeline {
    /// The changes (none when omitted).
    pub fn changes(&self) -> &[RoleChange] {
        match self {
            RoleTimeline::Changes { changes, .. } => changes,
            RoleTimeline::Omitted { .. } => &[],
        }
    }

    /// Changes dropped for the cap (0 when omitted).
    pub fn dropped(&self) -> u64 {
        match self {
            RoleTimeline::Changes { dropped, .. } => *dropped,
            RoleTimeline::Omitted { .. } => 0,
        }
    }
}

/// Client operations by outcome.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClientOps {
    /// Operations invoked.
    pub invoked: u64,
    /// Completed with a definite success.
    pub ok: u64,
    /// Completed with a definite failure.
    pub fail: u64,
    /// Outcome unknown (timed out).
    pub info: u64,
    /// Still open at the end.
    pub open: u64,
}

/// The linearizability checker's verdict.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LinearizabilitySection {
    /// `Some(true)` linearizable, `Some(false)` a violation, `None`
    /// undecided or not checked.
    pub ok: Option<bool>,
    /// Operations checked.
    pub ops: u64,
    /// Keys checked (absent when not checked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keys: Option<u64>,
    /// States the search explored (absent when not checked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub states: Option<u64>,
    /// Why it failed or was not decided, or why it did not run.
    pub explanation: Option<String>,
    /// The operation the checker could not place, in data (only on a
    /// failing run): plots mark it on the latency chart.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub violation: Option<BlamedOp>,
}

/// The operation a linearizability violation blames and the window of real
/// time in which no order of the operations checked with it let it take
/// effect (see `check::linearizability::Violation`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BlamedOp {
    /// The key.
    pub key: i64,
    /// The client that issued it (`p<N>` in the explanation and the
    /// history's client number).
    pub process: u64,
    /// `read`, `write` or `cas`.
    pub f: String,
    /// A read's returned value (`None`: absent), a write's value, a cas's
    /// new value.
    pub value: Option<i64>,
    /// A cas's expected value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<i64>,
    /// `ok`, `fail` or `info`.
    pub outcome: String,
    /// When the client sent it, ms of virtual time.
    pub invoke_ms: f64,
    /// When the client got the answer, ms (`None`: never).
    pub complete_ms: Option<f64>,
    /// The window the checker searched, `[from, to]` ms: from the earliest
    /// invocation among the operations checked with it (since the key's
    /// last quiescent point) to its completion.
    pub window_ms: [f64; 2],
}

impl BlamedOp {
    /// The report's view of the checker's violation.
    pub fn from_violation(v: &crate::check::linearizability::Violation) -> BlamedOp {
        use crate::check::linearizability::{OpKind, Outcome};
        let op = &v.blamed;
        let (f, value, expected) = match op.kind {
            OpKind::Read => ("read", op.read, None),
            OpKind::Write(x) => ("write", Some(x), None),
            OpKind::Cas { expected, new } => ("cas", Some(new), Some(expected)),
        };
        let (outcome, complete_ms) = match op.outcome {
            Outcome::Ok => ("ok", op.complete),
            Outcome::Fail => ("fail", op.complete),
            Outcome::Info => ("info", None),
        };
        BlamedOp {
            key: v.key,
            process: op.process,
            f: f.into(),
            value: if f == "read" && op.outcome != Outcome::Ok {
                None
            } else {
                value
            },
            expected,
            outcome: outcome.into(),
            invoke_ms: op.invoke.as_millis_f64(),
            complete_ms: complete_ms.map(|c| c.as_millis_f64()),
            window_ms: [v.window.0.as_millis_f64(), v.window.1.as_millis_f64()],
        }
    }
}

/// One Raft safety violation.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Violation {
    /// The property violated (a `RaftProperty` name).
    pub property: String,
    /// When it was seen, ms of virtual time.
    pub time_ms: f64,
    /// What was seen.
    pub message: String,
}

/// The Raft safety checker of a KV run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RaftSafetySection {
    /// No violation seen.
    pub ok: bool,
    /// Server states observed.
    pub observations: u64,
    /// Violations, in order.
    pub violations: Vec<Violation>,
}

/// The `raft` key of a KV run: the line `agentsim run` prints and the
/// planted bug, if any.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RaftSummary {
    /// One line of the run's headline numbers.
    pub summary: String,
    /// The bug variant the run switched on.
    pub bug: Option<String>,
}

/// A KV run on a Raft cluster.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RaftSection {
    /// Elections, downtime, role times.
    #[serde(flatten)]
    pub leadership: Leadership,
    /// Share of 10 ms slots in which a write would have committed within
    /// the client timeout (`None` without a workload).
    pub availability: Option<f64>,
    /// Bytes sent (a copy of the network counters').
    pub bytes: u64,
    /// Client operation latency summary, ms.
    pub client_latency_ms: LatencySummary,
    /// Client operations by outcome.
    pub client_ops: ClientOps,
    /// Leader append → commit latency summary, ms.
    pub commit_latency_ms: LatencySummary,
    /// The linearizability verdict.
    pub linearizability: LinearizabilitySection,
    /// The liveness judge's findings.
    pub liveness: LivenessSection,
    /// Summary line and bug (the `raft` key).
    #[serde(rename = "raft")]
    pub summary: RaftSummary,
    /// The Raft safety checker.
    pub safety: RaftSafetySection,
    /// Successful client operations per simulated second.
    pub throughput_ops_per_s: f64,
}

/// The checkers of a collaboration run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CollabSafetySection {
    /// No Raft safety violation (always true under AP: no Raft).
    pub ok: bool,
    /// Server states the Raft checker observed.
    pub observations: u64,
    /// Workflow-state changes the workflow checker observed.
    pub workflow_changes_observed: u64,
    /// Journal gaps it saw (a server skipping entries).
    pub journal_gaps: u64,
}

/// A collaboration run (coordinator servers, CP or AP, plus agents).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CollabSection {
    /// Elections, downtime, role (coordinating) times.
    #[serde(flatten)]
    pub leadership: Leadership,
    /// The `collab` tables: workflows, tasks, tokens, quality, the
    /// coordinator, `consistency_metrics`, the Gantt rows, `summary`.
    pub collab: crate::metrics::collab_tables::CollabTables,
    /// The liveness judge's findings.
    pub liveness: LivenessSection,
    /// The checkers' counters.
    pub safety: CollabSafetySection,
}

impl CollabSection {
    /// The one-line summary `agentsim run` prints.
    pub fn summary(&self) -> Option<&str> {
        self.collab.summary.as_deref()
    }
}

/// The heartbeat mesh (the `heartbeat` key).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HeartbeatSection {
    /// Pings sent (per incarnation: a crash resets them).
    pub pings_sent: u64,
    /// Acks received.
    pub acks_received: u64,
    /// Acks for a ping of an earlier epoch.
    pub stale_acks: u64,
    /// Mean round trip, ms.
    pub rtt_ms_mean: f64,
    /// Longest round trip, ms.
    pub rtt_ms_max: f64,
    /// Delivered over sent messages.
    pub delivery_ratio: f64,
    /// Each node's epoch at the end (0 when down).
    pub epochs: Vec<u64>,
    /// What the counters mean.
    pub note: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Report;
    use serde_json::json;
    use std::path::Path;

    /// A checked-in report, as text, as JSON and loaded.
    fn load(rel: &str) -> (String, Value, Report) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
        let text = std::fs::read_to_string(path).expect("readable");
        let v: Value = serde_json::from_str(&text).expect("json");
        let r: Report = serde_json::from_str(&text).expect("a report");
        (text, v, r)
    }

    /// `typed`, written on its own, is byte for byte the file's `want`:
    /// every key read into a field (none dropped, none added), integers
    /// still integers, floats still floats, and keys in file order.
    fn same_bytes<T: Serialize>(what: &str, typed: &T, want: &Value) {
        let got = serde_json::to_string_pretty(typed).expect("serializes");
        let want = serde_json::to_string_pretty(want).expect("serializes");
        assert!(got == want, "{what}:\n got  {got}\n want {want}");
    }

    /// The leadership summaries, role times and liveness of a KV run, a
    /// CP and an AP collaboration run (reports written before these were
    /// types) read into their structs and write back the file's bytes,
    /// each on its own and the whole report.
    #[test]
    fn latency_summaries_and_liveness_round_trip_from_old_reports() {
        for rel in [
            "reports/partitions/partial-none/report.json",
            "reports/cp-vs-ap/collab-partition-cp/report.json",
            "reports/cp-vs-ap/collab-partition-ap/report.json",
        ] {
            let (text, v, r) = load(rel);
            let lead = r.leadership().expect("leadership");
            let key = |k: &str| format!("{rel}: {k}");
            let ld = &lead.leader_loss_downtime_ms;
            same_bytes(&key("downtime"), ld, &v["leader_loss_downtime_ms"]);
            let e = &lead.election_after_leader_loss_ms;
            same_bytes(&key("election"), e, &v["election_after_leader_loss_ms"]);
            same_bytes(&key("role_time_ms"), &lead.role_time_ms, &v["role_time_ms"]);
            same_bytes(
                &key("by type"),
                &lead.messages_by_type,
                &v["messages_by_type"],
            );
            assert_eq!(e.samples.len() as u64, e.count, "{rel}");
            assert_eq!(e.losses, e.count + e.recovered + e.unfinished, "{rel}");
            let liveness = match (&r.raft, &r.collab) {
                (Some(k), _) => {
                    same_bytes(
                        &key("client"),
                        &k.client_latency_ms,
                        &v["client_latency_ms"],
                    );
                    same_bytes(
                        &key("commit"),
                        &k.commit_latency_ms,
                        &v["commit_latency_ms"],
                    );
                    assert!(k.client_latency_ms.count > 0 && k.client_latency_ms.p999 > 0.0);
                    &k.liveness
                }
                (None, Some(c)) => {
                    let t = &c.collab;
                    let (vt, vw) = (&v["collab"]["task_latency_ms"], &v["collab"]["workflows"]);
                    same_bytes(&key("tasks"), &t.task_latency_ms, vt);
                    same_bytes(
                        &key("workflows"),
                        &t.workflows.latency_ms,
                        &vw["latency_ms"],
                    );
                    assert!(!t.per_mode.is_empty());
                    for (m, table) in &t.per_mode {
                        let want = &v["collab"]["per_mode"][m]["latency_ms"];
                        same_bytes(&key(m), &table.latency_ms, want);
                    }
                    assert!(t.workflows.latency_ms.count > 0, "{rel}");
                    &c.liveness
                }
                (None, None) => panic!("{rel}: no typed section"),
            };
            same_bytes(&key("liveness"), liveness, &v["liveness"]);
            assert!(liveness.workflows.is_some() == r.collab.is_some(), "{rel}");
            let mut back = serde_json::to_string_pretty(&r).expect("writes");
            back.push('\n');
            assert!(back == text, "{rel}: not written back identically");
        }
    }

    /// What the liveness section says, read as fields: a KV run's leader
    /// and progress held at a time, an AP run's leader not judged (with
    /// why) and its workflows judged with counts.
    #[test]
    fn liveness_reads_verdicts_and_details() {
        let (_, _, kv) = load("reports/partitions/partial-none/report.json");
        let l = &kv.raft.expect("raft").liveness;
        let leader = l.leader.as_ref().expect("leader judged");
        assert_eq!(leader.verdict, LivenessVerdict::Held);
        assert!(
            matches!(leader.detail, LivenessDetail::AtMs(t) if t >= l.faults_ended_ms.unwrap())
        );
        assert!(l.progress.is_some() && l.workflows.is_none() && l.not_judged.is_none());

        let (_, _, ap) = load("reports/cp-vs-ap/collab-partition-ap/report.json");
        let l = &ap.collab.expect("collab").liveness;
        assert!(l.leader.is_none() && l.faults_ended_ms.is_none());
        assert!(l
            .not_judged
            .as_deref()
            .is_some_and(|w| w.contains("AP coordinator")));
        let w = l.workflows.as_ref().expect("workflows");
        assert!(w.judged.is_some() && w.failed.is_some() && w.inside_window_at_end.is_some());
    }

    /// The round trip above catches a changed shape. A latency summary
    /// whose `count` became a float no longer reads (the section falls back
    /// to untyped JSON, which the checked-in-reports test rejects); a float
    /// written as an integer reads but writes back `.0`; an unknown verdict
    /// does not read.
    #[test]
    fn a_summary_or_verdict_of_another_shape_is_caught() {
        let (_, v, _) = load("reports/partitions/partial-none/report.json");
        let mut bad = v.clone();
        bad["client_latency_ms"]["count"] = json!(3.5);
        let r: Report = serde_json::from_value(bad.clone()).expect("still loads");
        assert!(r.raft.is_none() && r.other.contains_key("client_latency_ms"));
        assert_eq!(serde_json::to_value(&r).expect("writes"), bad);

        let mut int = v.clone();
        int["leader_loss_downtime_ms"]["max"] = json!(7);
        let r: Report = serde_json::from_value(int.clone()).expect("loads");
        let ld = &r
            .raft
            .as_ref()
            .expect("typed")
            .leadership
            .leader_loss_downtime_ms;
        assert_eq!(ld.max, 7.0);
        let back = serde_json::to_string(&r).expect("writes");
        assert!(back != serde_json::to_string(&int).expect("writes"));

        let mut verdict = v;
        verdict["liveness"]["leader"]["verdict"] = json!("maybe");
        let r: Report = serde_json::from_value(verdict).expect("still loads");
        assert!(r.raft.is_none() && r.other.contains_key("liveness"));
    }
}
