//! The typed protocol sections of a report. In `report.json` their fields
//! sit at the top level beside `seed`, `checks`, ... (the file format
//! predates the types and scripts rely on it); here each run kind has one
//! struct: [`RaftSection`] (KV clusters), [`CollabSection`] (collaboration
//! runs, CP or AP) and [`HeartbeatSection`]; the shared `network` key is
//! [`NetworkSection`]. Fields the readers of a
//! report (plots, sweeps, shrinking, OpenMetrics) use are typed, as are the
//! role timeline ([`RoleTimeline`]) and the `collab` tables
//! ([`crate::metrics::collab_tables`]); latency summaries and the liveness
//! findings, which readers only pass through, stay JSON values.
//!
//! Every struct is `#[serde(default)]`: a report written by an older
//! version that lacks a field still loads (replay needs only the seed, the
//! scenario and the trace hash).

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
    pub leader_loss_downtime_ms: Value,
    /// Time from a leader loss to the next election (the Raft paper's
    /// Figure 16 measure).
    pub election_after_leader_loss_ms: Value,
    /// Time each node spent in each role.
    pub role_time_ms: Value,
    /// Role changes over time (or a note that the file omits them;
    /// `None`, `null` in the file, when a report has neither).
    pub role_timeline: Option<RoleTimeline>,
    /// Messages sent, by type (a copy of the network counters').
    pub messages_by_type: Value,
}

impl Leadership {
    /// The leader-loss downtime samples, ms (empty when absent).
    pub fn downtime_samples_ms(&self) -> Vec<f64> {
        self.leader_loss_downtime_ms
            .get("samples")
            .and_then(Value::as_array)
            .map(|s| s.iter().filter_map(Value::as_f64).collect())
            .unwrap_or_default()
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
    pub client_latency_ms: Value,
    /// Client operations by outcome.
    pub client_ops: ClientOps,
    /// Leader append → commit latency summary, ms.
    pub commit_latency_ms: Value,
    /// The linearizability verdict.
    pub linearizability: LinearizabilitySection,
    /// The liveness judge's findings.
    pub liveness: Value,
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
    pub liveness: Value,
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
