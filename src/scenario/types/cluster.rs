//! The cluster: which process the servers run, and its settings.

use super::yes;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Which process the cluster nodes run, and its settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClusterSpec {
    /// Number of server nodes (1..=1000).
    #[schemars(range(min = 1, max = 1000))]
    pub nodes: u32,
    /// The process every server runs.
    pub process: ProcessKind,
    /// Cluster nodes boot at a random time in `[0, start_jitter_ms]`
    /// (default 0: all at once).
    #[serde(default, skip_serializing_if = "is_zero")]
    #[schemars(range(min = 0))]
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
    #[schemars(extend("exclusiveMinimum" = 0))]
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
    #[schemars(extend("items" = {"type": "number", "exclusiveMinimum": 0}))]
    pub election_timeout_ms: [f64; 2],
    /// Leader heartbeat interval in ms (50).
    #[serde(default = "default_heartbeat_ms")]
    #[schemars(extend("exclusiveMinimum" = 0))]
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
    #[schemars(range(min = 1))]
    pub max_entries_per_append: u32,
    /// Most AppendEntries in flight per follower (8).
    #[serde(default = "default_inflight")]
    #[schemars(range(min = 1))]
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
