//! The scenario file format: serde types with `deny_unknown_fields`, and
//! the JSON Schema derived from them (`agentsim schema`), so the two cannot
//! drift. Values here are unvalidated; see `validate.rs`.

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Cow;

/// A whole scenario file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScenarioSpec {
    /// Short name; the default output folder is `out/<name>/`.
    pub name: String,
    /// One or two sentences on what the scenario shows.
    #[serde(default)]
    pub description: String,
    /// The seed every random stream is derived from (`--seed` overrides it).
    #[serde(default)]
    pub seed: u64,
    /// Virtual run time in milliseconds (> 0).
    pub duration_ms: f64,
    /// The cluster of server nodes.
    pub cluster: ClusterSpec,
    /// Network defaults and per-link overrides.
    #[serde(default)]
    pub network: NetworkSpec,
    /// Disk model.
    #[serde(default)]
    pub disk: DiskSpec,
    /// Scripted faults, in any order.
    #[serde(default)]
    pub faults: Vec<FaultSpec>,
    /// Random faults drawn from the seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nemesis: Option<NemesisSpec>,
    /// Imperfect clocks: per-node drift and timer jitter (default: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clocks: Option<ClocksSpec>,
    /// Client workload against a Raft cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<WorkloadSpec>,
    /// Assertions checked at the end of the run (exit 1 when one fails).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<ExpectSpec>,
    /// Switch on one deliberately wrong protocol variant (see `--bug`): a
    /// Raft bug (`commit-previous-term`, `forget-vote`, `skip-log-check`,
    /// `stale-read`, `double-vote`; needs `"process": "raft"`) or a
    /// coordinator bug (`coord-accept-stale`, `coord-double-result`,
    /// `coord-arbiter-first`, `coord-ignore-deps`, `coord-drop-dead-letter`,
    /// `coord-snapshot-drops-results`, `coord-ap-keep-local` (AP only);
    /// needs a `workflow`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bug: Option<String>,
    /// Multi-agent collaboration on a Raft-replicated coordinator (needs
    /// `"process": "raft"`; replaces the KV workload).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow: Option<WorkflowSpec>,
    /// Bounds on the run itself (the event cap).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<LimitsSpec>,
}

/// Bounds that end a runaway run as a failure instead of a hang.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitsSpec {
    /// Most events one run may dispatch (> 0). Reaching it stops the run
    /// and fails it as `liveness.event_storm`. Default: 2,000 events per
    /// simulated ms of `duration_ms`, at least 1,000,000 and at most
    /// 1,000,000,000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_events: Option<u64>,
}

/// Per-node clock drift and timer jitter. Each node draws its drift once
/// per life from its own stream; every timer fires late by a jitter draw.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClocksSpec {
    /// Drift range `[min, max]` in parts per million, each within
    /// [-1000, 1000] (e.g. `[-100, 100]`; default `[0, 0]`).
    #[serde(default)]
    pub drift_ppm: [f64; 2],
    /// Extra delay of every timer, `[min, max]` in microseconds of true
    /// time, at most the minimum election timeout (default `[0, 0]`).
    #[serde(default)]
    pub timer_jitter_us: [f64; 2],
}

/// Which process the cluster nodes run, and its settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClusterSpec {
    /// Number of server nodes (1..=1000).
    pub nodes: u32,
    /// The process every server runs.
    pub process: ProcessKind,
    /// Cluster nodes boot at a random time in `[0, start_jitter_ms]`
    /// (default 0: all at once).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub start_jitter_ms: f64,
    /// Settings of the heartbeat process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat: Option<HeartbeatSpec>,
    /// Settings of the Raft process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raft: Option<RaftSpec>,
}

/// Built-in processes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProcessKind {
    /// Every node pings every other node; exercises the kernel.
    Heartbeat,
    /// Raft servers under a replicated key-value store.
    Raft,
}

/// Heartbeat process settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HeartbeatSpec {
    /// Ping interval in milliseconds (default 50).
    #[serde(default = "default_heartbeat_ms")]
    pub interval_ms: f64,
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

fn default_heartbeat_ms() -> f64 {
    50.0
}

/// Raft settings (defaults in parentheses).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RaftSpec {
    /// Election timeout range `[min, max]` in ms, inclusive ([150, 300]).
    #[serde(default = "default_election")]
    pub election_timeout_ms: [f64; 2],
    /// Leader heartbeat interval in ms (50).
    #[serde(default = "default_heartbeat_ms")]
    pub heartbeat_ms: f64,
    /// Pre-vote phase before elections, thesis §9.6 (true).
    #[serde(default = "yes")]
    pub pre_vote: bool,
    /// Leaders step down without a live majority; followers are sticky (true).
    #[serde(default = "yes")]
    pub check_quorum: bool,
    /// Snapshot every this many applied entries; 0 never (1000).
    #[serde(default = "default_snapshot_every")]
    pub snapshot_every: u64,
    /// Most entries in one AppendEntries (64).
    #[serde(default = "default_max_entries")]
    pub max_entries_per_append: u32,
    /// Most AppendEntries in flight per follower (8).
    #[serde(default = "default_inflight")]
    pub max_inflight_appends: u32,
    /// A (pre-)candidate rejected by a majority steps down to follower
    /// and draws a fresh timeout, as etcd/raft and raft-rs do (true).
    /// `false` keeps the Figure 2-literal rule (wait out the campaign's
    /// timeout), which livelocks tied candidates when timers are exact.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub step_down_on_lost_election: bool,
}

impl Default for RaftSpec {
    fn default() -> Self {
        RaftSpec {
            election_timeout_ms: default_election(),
            heartbeat_ms: default_heartbeat_ms(),
            pre_vote: true,
            check_quorum: true,
            snapshot_every: default_snapshot_every(),
            max_entries_per_append: default_max_entries(),
            max_inflight_appends: default_inflight(),
            step_down_on_lost_election: true,
        }
    }
}

fn default_election() -> [f64; 2] {
    [150.0, 300.0]
}
fn yes() -> bool {
    true
}
fn is_true(v: &bool) -> bool {
    *v
}
fn default_snapshot_every() -> u64 {
    1000
}
fn default_max_entries() -> u32 {
    64
}
fn default_inflight() -> u32 {
    8
}

/// A latency (or other non-negative quantity) distribution, in milliseconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "dist", rename_all = "snake_case", deny_unknown_fields)]
pub enum DistSpec {
    /// Always `value`.
    Fixed {
        /// The value.
        value: f64,
    },
    /// Uniform in `[min, max]`.
    Uniform {
        /// Lower bound.
        min: f64,
        /// Upper bound.
        max: f64,
    },
    /// Normal, truncated at 0.
    Normal {
        /// Mean.
        mean: f64,
        /// Standard deviation.
        stddev: f64,
    },
    /// Exponential.
    Exponential {
        /// Mean.
        mean: f64,
    },
    /// Log-normal: `median * exp(sigma * z)`.
    Lognormal {
        /// Median.
        median: f64,
        /// Shape (standard deviation of the log).
        sigma: f64,
    },
    /// Pareto: heavy tailed, never below `scale`.
    Pareto {
        /// Minimum value.
        scale: f64,
        /// Tail index (larger is lighter).
        shape: f64,
    },
}

/// Network defaults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NetworkSpec {
    /// One-way latency (default fixed 1 ms).
    #[serde(default = "default_latency")]
    pub latency_ms: DistSpec,
    /// Loss probability per message (0).
    #[serde(default)]
    pub drop: f64,
    /// Duplication probability per delivered message (0).
    #[serde(default)]
    pub duplicate: f64,
    /// Allow messages on one link to overtake each other (true). `false`
    /// makes every directed link FIFO.
    #[serde(default = "yes")]
    pub reorder: bool,
    /// Per directed link overrides.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<LinkSpec>,
}

impl Default for NetworkSpec {
    fn default() -> Self {
        NetworkSpec {
            latency_ms: default_latency(),
            drop: 0.0,
            duplicate: 0.0,
            reorder: true,
            links: Vec::new(),
        }
    }
}

fn default_latency() -> DistSpec {
    DistSpec::Fixed { value: 1.0 }
}

/// Override for one directed link (fields left out keep the defaults).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkSpec {
    /// Sender node index.
    pub from: u32,
    /// Receiver node index.
    pub to: u32,
    /// Also override the reverse direction.
    #[serde(default)]
    pub both_ways: bool,
    /// Latency on this link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<DistSpec>,
    /// Loss probability on this link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drop: Option<f64>,
    /// Duplication probability on this link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicate: Option<f64>,
}

/// Disk model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DiskSpec {
    /// Latency of one fsync (default fixed 0).
    #[serde(default = "default_sync")]
    pub sync_ms: DistSpec,
}

impl Default for DiskSpec {
    fn default() -> Self {
        DiskSpec {
            sync_ms: default_sync(),
        }
    }
}

fn default_sync() -> DistSpec {
    DistSpec::Fixed { value: 0.0 }
}

/// Fault kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// Crash `node` (volatile state lost); `restart_after_ms` optional.
    Crash,
    /// Restart crashed `node` from its synced state.
    Restart,
    /// Freeze `node` for `for_ms`: its messages and timers wait.
    Pause,
    /// Run `node`'s clock at `rate` (1.05 = 5% fast), optionally `for_ms`.
    Clock,
    /// Split the cluster into `groups`, optionally `for_ms`.
    Partition,
    /// Cut every link of `node`, optionally `for_ms`.
    Isolate,
    /// Cut or degrade `from` → `to` (`both_ways` for both directions).
    Link,
    /// Remove every partition and link fault.
    Heal,
}

/// A node reference: an index, or a role resolved when the fault fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetSpec {
    /// Node index.
    Index(u32),
    /// `"leader"`.
    Leader,
    /// `"follower"`.
    Follower,
    /// `"random"`.
    Random,
    /// `"minority"` (crash and pause only).
    Minority,
}

impl Serialize for TargetSpec {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            TargetSpec::Index(i) => s.serialize_u32(*i),
            TargetSpec::Leader => s.serialize_str("leader"),
            TargetSpec::Follower => s.serialize_str("follower"),
            TargetSpec::Random => s.serialize_str("random"),
            TargetSpec::Minority => s.serialize_str("minority"),
        }
    }
}

impl<'de> Deserialize<'de> for TargetSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = TargetSpec;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(r#"a node index or one of "leader", "follower", "random", "minority""#)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<TargetSpec, E> {
                u32::try_from(v)
                    .map(TargetSpec::Index)
                    .map_err(|_| E::custom(format!("node index {v} is too large")))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<TargetSpec, E> {
                Err(E::custom(format!("node index {v} is negative")))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<TargetSpec, E> {
                match v {
                    "leader" => Ok(TargetSpec::Leader),
                    "follower" => Ok(TargetSpec::Follower),
                    "random" => Ok(TargetSpec::Random),
                    "minority" => Ok(TargetSpec::Minority),
                    _ => Err(E::invalid_value(serde::de::Unexpected::Str(v), &self)),
                }
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for TargetSpec {
    fn schema_name() -> Cow<'static, str> {
        "Target".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A node index, or a role resolved when the fault fires.",
            "oneOf": [
                { "type": "integer", "minimum": 0 },
                { "type": "string", "enum": ["leader", "follower", "random", "minority"] }
            ]
        })
    }
}

/// One scripted fault. Which fields apply depends on `kind` (validation
/// names any field that does not belong).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// When it first fires, in ms (≤ `duration_ms`).
    pub at_ms: f64,
    /// What it does.
    pub kind: FaultKind,
    /// Target of crash, restart, pause, clock, isolate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<TargetSpec>,
    /// Groups of a partition: every node in exactly one group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<Vec<u32>>>,
    /// Sender side of a link fault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<TargetSpec>,
    /// Receiver side of a link fault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<TargetSpec>,
    /// Link fault in both directions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub both_ways: Option<bool>,
    /// Link loss probability (1.0 = cut; default 1.0 unless
    /// `extra_latency_ms` is given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drop: Option<f64>,
    /// Extra one-way delay on the link, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_latency_ms: Option<f64>,
    /// Duration of a pause (required), link cut, isolation, partition or
    /// clock skew, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub for_ms: Option<f64>,
    /// Restart a crashed node this long after the crash, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_after_ms: Option<f64>,
    /// Clock rate for `clock` (1.0 = true time; 0.1..=10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    /// Repeat every this many ms, until the end of the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every_ms: Option<f64>,
    /// Random extra delay in `[0, jitter_ms]` per repetition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter_ms: Option<f64>,
    /// Repeating faults only: before each firing, wait until the cluster
    /// has been settled for this long (every up server follows one up
    /// leader, with equal commit indexes), then fire after a uniform
    /// draw in `[0, jitter_ms]`; the next occurrence starts waiting
    /// `every_ms` after the firing (the Figure 16 setup).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stable_ms: Option<f64>,
}

impl FaultSpec {
    /// A fault with only `at_ms` and `kind` set.
    pub fn new(at_ms: f64, kind: FaultKind) -> Self {
        FaultSpec {
            at_ms,
            kind,
            node: None,
            groups: None,
            from: None,
            to: None,
            both_ways: None,
            drop: None,
            extra_latency_ms: None,
            for_ms: None,
            restart_after_ms: None,
            rate: None,
            every_ms: None,
            jitter_ms: None,
            stable_ms: None,
        }
    }
}

/// Kinds the nemesis draws from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NemesisKindSpec {
    /// Crash a random live node, restart it after the duration.
    Crash,
    /// Pause a random live node for the duration.
    Pause,
    /// Split the cluster in two random groups for the duration.
    Partition,
    /// Cut one random link (one or both ways) for the duration.
    Link,
    /// Skew one node's clock (0.5x–2x) for the duration.
    Clock,
}

/// Random fault generator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NemesisSpec {
    /// Mean time between fault starts, ms (exponential).
    pub mean_interval_ms: f64,
    /// Kinds to draw from.
    pub kinds: Vec<NemesisKindSpec>,
    /// Each fault lasts a uniform draw from `[min, max]` ms.
    pub duration_ms: [f64; 2],
    /// Never more than this many nodes crashed or paused at once (default:
    /// a minority, `(nodes - 1) / 2`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_down: Option<u32>,
    /// Draw no new fault after this time, ms (default: until the end of the
    /// run). Faults drawn before it still end on schedule, so the run ends
    /// with a fault-free tail in which liveness is judged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until_ms: Option<f64>,
}

/// Client workload (Raft clusters).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkloadSpec {
    /// Number of clients (each a closed loop: one outstanding operation).
    pub clients: u32,
    /// Target total operation rate across clients, per second.
    pub rate_per_s: f64,
    /// Operation mix (weights, normalised).
    #[serde(default)]
    pub mix: MixSpec,
    /// Number of distinct keys (keys are 0..keys).
    #[serde(default = "default_keys")]
    pub keys: u32,
    /// Client gives up on an operation after this long (outcome unknown).
    #[serde(default = "default_timeout")]
    pub timeout_ms: f64,
    /// Record the history and check linearizability (true). Switch off for
    /// very long runs to keep memory flat.
    #[serde(default = "yes")]
    pub check_linearizability: bool,
}

fn default_keys() -> u32 {
    8
}
fn default_timeout() -> f64 {
    1000.0
}

/// Operation mix weights.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MixSpec {
    /// Weight of reads (0.5).
    #[serde(default)]
    pub read: f64,
    /// Weight of writes (0.4).
    #[serde(default)]
    pub write: f64,
    /// Weight of compare-and-sets (0.1).
    #[serde(default)]
    pub cas: f64,
}

impl Default for MixSpec {
    fn default() -> Self {
        MixSpec {
            read: 0.5,
            write: 0.4,
            cas: 0.1,
        }
    }
}

/// End-of-run assertions. Each is checked in every run kind that accepts
/// it; validation rejects a field where it has no meaning.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectSpec {
    /// Fraction of sent messages that must be delivered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_delivery_ratio: Option<f64>,
    /// Window of the `liveness.leader` check: once the last fault has
    /// ended (and a majority is up and connected), a leader must be known
    /// to a majority within this many ms (default: 10 x the maximum
    /// election timeout). Raft clusters only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader_within_ms_after_heal: Option<f64>,
    /// Window of the `liveness.progress` check: once the last fault has
    /// ended, some client operation must complete within this many ms
    /// (default: 5000 + 10 x `workload.timeout_ms`). Needs a `workload`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress_within_ms_after_heal: Option<f64>,
    /// At most this many elections after the last fault ended (Raft
    /// clusters, Raft coordinators).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_elections_after_heal: Option<u64>,
    /// Minimum availability (0..=1). Needs a `workload`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_availability: Option<f64>,
}

/// Collaboration mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ModeSpec {
    /// Stages in DAG order, one agent each.
    Pipeline,
    /// k agents per stage; an arbiter picks the winner.
    Competitive,
    /// Ready tasks assigned in batches by capability.
    Division,
    /// A task analyzer routes each task to one of the other modes.
    Hybrid,
}

/// Coordinator consistency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum ConsistencySpec {
    /// One Raft-replicated coordinator (the leader).
    #[default]
    Cp,
    /// Every server coordinates from its local copy; copies are gossiped
    /// and merged by last-writer-wins (see `ap`).
    Ap,
}

/// Settings of the AP coordinator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApSpec {
    /// Gossip period between servers, ms (100).
    #[serde(default = "default_gossip")]
    pub gossip_ms: f64,
    /// A server silent this long is considered down, ms (500). The
    /// lowest-id server a server considers up coordinates.
    #[serde(default = "default_suspect")]
    pub suspect_ms: f64,
}

impl Default for ApSpec {
    fn default() -> Self {
        ApSpec {
            gossip_ms: default_gossip(),
            suspect_ms: default_suspect(),
        }
    }
}

fn default_gossip() -> f64 {
    100.0
}
fn default_suspect() -> f64 {
    500.0
}

/// Task priority.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum PrioritySpec {
    /// Background.
    Low,
    /// Default.
    #[default]
    Normal,
    /// Prefers accurate agents.
    High,
    /// Overtakes queued work; most accurate agents; more competitors.
    Critical,
}

/// A group of identical agents.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentGroupSpec {
    /// Group name.
    pub name: String,
    /// Number of agents (1).
    #[serde(default = "one")]
    pub count: u32,
    /// Skills offered.
    pub skills: Vec<String>,
    /// Probability a result is correct (0.9).
    #[serde(default = "default_accuracy")]
    pub accuracy: f64,
    /// Time for a size-1 task, ms.
    pub latency_ms: DistSpec,
    /// Tokens for a size-1 task (fixed 1000).
    #[serde(default = "default_tokens")]
    pub tokens: DistSpec,
    /// Probability a task runs without a transient failure (1).
    #[serde(default = "one_f")]
    pub availability: f64,
    /// Hard failure: agents of this group die at this time, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_at_ms: Option<f64>,
    /// How many of the group die at `fail_at_ms` (all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_count: Option<u32>,
}

fn one() -> u32 {
    1
}
fn one_f() -> f64 {
    1.0
}
fn default_accuracy() -> f64 {
    0.9
}
fn default_tokens() -> DistSpec {
    DistSpec::Fixed { value: 1000.0 }
}

/// A conditional edge.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BranchSpec {
    /// Quality (mean score, correct results only) at or above which `above` runs.
    pub threshold: f64,
    /// Stage taken on a good outcome.
    pub above: String,
    /// Stage taken otherwise.
    pub below: String,
}

/// One stage of the workflow.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StageSpec {
    /// Unique stage name.
    pub id: String,
    /// Skill needed.
    pub skill: String,
    /// Stages that must finish first.
    #[serde(default)]
    pub after: Vec<String>,
    /// Priority (normal).
    #[serde(default)]
    pub priority: PrioritySpec,
    /// Relative size (1).
    #[serde(default = "one_f")]
    pub size: f64,
    /// Wait for an approval before starting (false).
    #[serde(default)]
    pub interrupt_before: bool,
    /// Route the outcome to one of two stages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<BranchSpec>,
}

/// Workflow arrivals.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ArrivalsSpec {
    /// Number of workflows.
    pub workflows: u32,
    /// Arrival rate (Poisson), per second.
    pub rate_per_s: f64,
    /// Per-task size multiplier (fixed 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<DistSpec>,
    /// Fraction of workflows whose tasks are all critical (0).
    #[serde(default)]
    pub critical_fraction: f64,
}

/// Resend policy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetrySpec {
    /// Sends of one message before giving up (3).
    #[serde(default = "three")]
    pub max_attempts: u32,
    /// Backoff `[min, max]`, ms ([100, 2000]).
    #[serde(default = "default_backoff")]
    pub backoff_ms: [f64; 2],
    /// Attempts of one task before it is dead-lettered (3).
    #[serde(default = "three")]
    pub task_attempts: u32,
    /// Times a dead-lettered task is re-driven (1).
    #[serde(default = "one")]
    pub redrives: u32,
}

impl Default for RetrySpec {
    fn default() -> Self {
        RetrySpec {
            max_attempts: 3,
            backoff_ms: default_backoff(),
            task_attempts: 3,
            redrives: 1,
        }
    }
}

fn three() -> u32 {
    3
}
fn default_backoff() -> [f64; 2] {
    [100.0, 2000.0]
}

/// Circuit breaker per agent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BreakerSpec {
    /// Consecutive failures that open it (5).
    #[serde(default = "five")]
    pub failures: u32,
    /// Time open before a half-open probe, ms (5000).
    #[serde(default = "default_open")]
    pub open_ms: f64,
}

impl Default for BreakerSpec {
    fn default() -> Self {
        BreakerSpec {
            failures: 5,
            open_ms: 5000.0,
        }
    }
}

fn five() -> u32 {
    5
}
fn default_open() -> f64 {
    5000.0
}

/// Arbiter weights.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WeightsSpec {
    /// (0.4)
    #[serde(default = "w_rel")]
    pub relevance: f64,
    /// (0.3)
    #[serde(default = "w_other")]
    pub innovation: f64,
    /// (0.3)
    #[serde(default = "w_other")]
    pub feasibility: f64,
}

impl Default for WeightsSpec {
    fn default() -> Self {
        WeightsSpec {
            relevance: 0.4,
            innovation: 0.3,
            feasibility: 0.3,
        }
    }
}

fn w_rel() -> f64 {
    0.4
}
fn w_other() -> f64 {
    0.3
}

/// Competitive-mode arbiter.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ArbiterSpec {
    /// Score weights.
    #[serde(default)]
    pub weights: WeightsSpec,
    /// Competitors at normal priority (3).
    #[serde(default = "three")]
    pub k: u32,
    /// Decide this long after the first competitor started, ms (3000).
    #[serde(default = "default_deadline")]
    pub deadline_ms: f64,
    /// Utility lost per 1000 tokens (0.02).
    #[serde(default = "default_cost")]
    pub cost_per_1k_tokens: f64,
}

impl Default for ArbiterSpec {
    fn default() -> Self {
        ArbiterSpec {
            weights: WeightsSpec::default(),
            k: 3,
            deadline_ms: default_deadline(),
            cost_per_1k_tokens: default_cost(),
        }
    }
}

fn default_deadline() -> f64 {
    3000.0
}
fn default_cost() -> f64 {
    0.02
}

/// Division-mode assignment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum AssignAlgoSpec {
    /// Optimal assignment.
    #[default]
    Hungarian,
    /// Cheapest pair first (baseline).
    Greedy,
}

/// Division-mode settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DivisionSpec {
    /// Algorithm (hungarian).
    #[serde(default)]
    pub algorithm: AssignAlgoSpec,
    /// Most tasks per batch (32).
    #[serde(default = "default_batch")]
    pub batch: u32,
}

impl Default for DivisionSpec {
    fn default() -> Self {
        DivisionSpec {
            algorithm: AssignAlgoSpec::Hungarian,
            batch: 32,
        }
    }
}

fn default_batch() -> u32 {
    32
}

/// Hybrid-mode analyzer thresholds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HybridSpec {
    /// Complexity at or above which a task competes (1.5).
    #[serde(default = "default_comp")]
    pub competitive_above: f64,
    /// Independent tasks at or below this complexity are batched (0.8).
    #[serde(default = "default_div")]
    pub division_below: f64,
}

impl Default for HybridSpec {
    fn default() -> Self {
        HybridSpec {
            competitive_above: default_comp(),
            division_below: default_div(),
        }
    }
}

fn default_comp() -> f64 {
    1.5
}
fn default_div() -> f64 {
    0.8
}

/// A scripted approval: from `at_ms` on, stage `stage` is approved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalSpec {
    /// When, ms.
    pub at_ms: f64,
    /// Stage id.
    pub stage: String,
}

/// The collaboration workload.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkflowSpec {
    /// Mode.
    pub mode: ModeSpec,
    /// Coordinator consistency (cp).
    #[serde(default)]
    pub consistency: ConsistencySpec,
    /// AP coordinator settings (used with `"consistency": "ap"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ap: Option<ApSpec>,
    /// Agent groups.
    pub agents: Vec<AgentGroupSpec>,
    /// The workflow's stages (a DAG).
    pub stages: Vec<StageSpec>,
    /// How many workflows arrive, how fast.
    pub arrivals: ArrivalsSpec,
    /// Resends and dead letters.
    #[serde(default)]
    pub retry: RetrySpec,
    /// Per-agent circuit breaker.
    #[serde(default)]
    pub breaker: BreakerSpec,
    /// Competitive arbiter.
    #[serde(default)]
    pub arbiter: ArbiterSpec,
    /// Division settings.
    #[serde(default)]
    pub division: DivisionSpec,
    /// Hybrid analyzer.
    #[serde(default)]
    pub hybrid: HybridSpec,
    /// Scripted approvals.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approvals: Vec<ApprovalSpec>,
    /// Modelled human approval delay, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub human_delay_ms: Option<DistSpec>,
    /// Agent heartbeat period, ms (1000).
    #[serde(default = "default_agent_hb")]
    pub agent_heartbeat_ms: f64,
    /// Agent declared lost after this silence, ms (3500).
    #[serde(default = "default_agent_timeout")]
    pub agent_timeout_ms: f64,
    /// Tasks an agent holds at once, running + queued (2).
    #[serde(default = "two")]
    pub agent_slots: u32,
    /// Dispatcher tick, ms (50).
    #[serde(default = "default_tick")]
    pub tick_ms: f64,
    /// End the run once no task can make progress (true).
    #[serde(default = "yes")]
    pub stop_when_done: bool,
}

fn default_agent_hb() -> f64 {
    1000.0
}
fn default_agent_timeout() -> f64 {
    3500.0
}
fn two() -> u32 {
    2
}
fn default_tick() -> f64 {
    50.0
}
