//! Scripted faults, their targets, and the random fault generator (nemesis).

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Cow;

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
