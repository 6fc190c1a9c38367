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
    /// Arm a crash point rule (`crash_at`), optionally `for_ms`: a node
    /// that reaches the named protocol event crashes with its probability.
    CrashAt,
    /// Arm a message rule (`message`), optionally `for_ms`: messages of
    /// one kind are duplicated or held with its probability.
    Message,
}

/// A `crash_at` fault's rule: crash a node when it reaches a protocol
/// event (a crash point) with some probability.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CrashAtSpec {
    /// The crash point's name (`vote_granted`, `became_leader`, ...; see
    /// docs/scenario-format.md).
    #[schemars(schema_with = "crash_point_schema")]
    pub point: String,
    /// Chance that one report of the point crashes the node.
    #[schemars(range(min = 0, max = 1))]
    pub probability: f64,
    /// Restart the node after a uniform draw from `[min, max]` ms (absent:
    /// it stays down).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("items" = {"type": "number", "minimum": 0}))]
    pub restart_after_ms: Option<[f64; 2]>,
    /// Only this node (default: every cluster node).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<u32>,
    /// `ack_received` only: crash the leader only at the k-th
    /// acknowledgement of an index (the ack that makes k followers hold
    /// it; k = 1 is the first). Absent: every acknowledgement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub k: Option<u32>,
}

fn crash_point_schema(_: &mut SchemaGenerator) -> Schema {
    let names: Vec<&str> = crate::process::CrashPoint::ALL
        .iter()
        .map(|p| p.name())
        .collect();
    json_schema!({ "type": "string", "enum": names })
}

/// A `message` fault's rule: pick messages of one kind with some
/// probability and duplicate them or hold them back. Exactly one of
/// `duplicate_ms` and `delay_ms`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageSpec {
    /// The message kind (`request_vote_resp`, `append_entries`, ...).
    pub message_kind: String,
    /// Chance that one message of that kind is picked.
    #[schemars(range(min = 0, max = 1))]
    pub probability: f64,
    /// Deliver a second copy this much later (uniform in `[min, max]` ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("items" = {"type": "number", "minimum": 0}))]
    pub duplicate_ms: Option<[f64; 2]>,
    /// Hold the message back this much (uniform in `[min, max]` ms); later
    /// messages on its link may overtake it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("items" = {"type": "number", "minimum": 0}))]
    pub delay_ms: Option<[f64; 2]>,
    /// A protocol-shaped pattern instead of picking messages one by one
    /// (see [`MessagePatternSpec`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<MessagePatternSpec>,
    /// `align_timers` only: the lined-up timer fires within this many ms
    /// after the other node's (0 to 1; default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 1))]
    pub within_ms: Option<f64>,
}

/// A message pattern: what a `message` fault does besides duplicating or
/// holding single messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessagePatternSpec {
    /// `append_entries` with `delay_ms`: a picked replication round (a
    /// node's appends sent at one instant) reaches only a bare majority,
    /// the sender included; its other appends are held by `delay_ms`.
    BareMajority,
    /// `append_entries` or `request_vote`, neither `delay_ms` nor
    /// `duplicate_ms`: after a node handles a picked message, its
    /// election timer is moved to fire within `within_ms` after another
    /// server's, so the two time out together and split the vote.
    AlignTimers,
}

impl MessagePatternSpec {
    /// The name in scenario files.
    pub fn name(self) -> &'static str {
        match self {
            MessagePatternSpec::BareMajority => "bare_majority",
            MessagePatternSpec::AlignTimers => "align_timers",
        }
    }
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
    /// `"agent:N"`: agent N (0-based, counted over `workflow.agents`
    /// groups in order; address `cluster.nodes + N`).
    Agent(u32),
    /// `"agent:random"`: one random agent (for crash and pause: a live
    /// one; for restart: a crashed one).
    AnyAgent,
    /// `"agents:K"`: K distinct random live agents (crash, pause, clock).
    Agents(u32),
}

/// The string forms of the agent targets (`agent:N`, `agent:random`,
/// `agents:K`), or None for any other string.
fn agent_target(v: &str) -> Option<Result<TargetSpec, String>> {
    if v == "agent:random" {
        return Some(Ok(TargetSpec::AnyAgent));
    }
    let (rest, many) = if let Some(r) = v.strip_prefix("agents:") {
        (r, true)
    } else {
        (v.strip_prefix("agent:")?, false)
    };
    Some(match rest.parse::<u32>() {
        Ok(k) if many => Ok(TargetSpec::Agents(k)),
        Ok(i) => Ok(TargetSpec::Agent(i)),
        Err(_) => Err(format!(
            "`{v}` is not an agent reference: write \"agent:N\" (agent index N), \"agent:random\" or \"agents:K\""
        )),
    })
}

impl Serialize for TargetSpec {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            TargetSpec::Index(i) => s.serialize_u32(*i),
            TargetSpec::Leader => s.serialize_str("leader"),
            TargetSpec::Follower => s.serialize_str("follower"),
            TargetSpec::Random => s.serialize_str("random"),
            TargetSpec::Minority => s.serialize_str("minority"),
            TargetSpec::Agent(i) => s.serialize_str(&format!("agent:{i}")),
            TargetSpec::AnyAgent => s.serialize_str("agent:random"),
            TargetSpec::Agents(k) => s.serialize_str(&format!("agents:{k}")),
        }
    }
}

impl<'de> Deserialize<'de> for TargetSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = TargetSpec;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(r#"a node index, one of "leader", "follower", "random", "minority", or an agent: "agent:N", "agent:random", "agents:K""#)
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
                    _ => match agent_target(v) {
                        Some(r) => r.map_err(E::custom),
                        None => Err(E::invalid_value(serde::de::Unexpected::Str(v), &self)),
                    },
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
            "description": "A server index, a role resolved when the fault fires, or an agent: \"agent:N\" (agent N), \"agent:random\", \"agents:K\" (K random agents).",
            "oneOf": [
                { "type": "integer", "minimum": 0 },
                { "type": "string", "enum": ["leader", "follower", "random", "minority", "agent:random"] },
                { "type": "string", "pattern": "^agents?:[0-9]+$" }
            ]
        })
    }
}

/// A member of a partition group: a server index, or `"agent:N"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum NodeRef {
    /// Server index.
    Server(u32),
    /// Agent index (`"agent:N"`).
    Agent(u32),
}

impl Serialize for NodeRef {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            NodeRef::Server(i) => s.serialize_u32(*i),
            NodeRef::Agent(i) => s.serialize_str(&format!("agent:{i}")),
        }
    }
}

impl<'de> Deserialize<'de> for NodeRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = NodeRef;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(r#"a server index or "agent:N""#)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<NodeRef, E> {
                u32::try_from(v)
                    .map(NodeRef::Server)
                    .map_err(|_| E::custom(format!("node index {v} is too large")))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<NodeRef, E> {
                Err(E::custom(format!("node index {v} is negative")))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<NodeRef, E> {
                match agent_target(v) {
                    Some(Ok(TargetSpec::Agent(i))) => Ok(NodeRef::Agent(i)),
                    Some(Err(e)) => Err(E::custom(e)),
                    _ => Err(E::invalid_value(serde::de::Unexpected::Str(v), &self)),
                }
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for NodeRef {
    fn schema_name() -> Cow<'static, str> {
        "NodeRef".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A server index, or \"agent:N\" for agent N.",
            "oneOf": [
                { "type": "integer", "minimum": 0 },
                { "type": "string", "pattern": "^agent:[0-9]+$" }
            ]
        })
    }
}

/// Where a partition puts the agents its `groups` do not name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AgentPlacementSpec {
    /// All with the group that holds the leader when the split starts.
    WithLeader,
    /// All with the group of fewest servers (not the leader's, on a tie).
    WithMinority,
    /// Each with one group, in proportion to the groups' server counts,
    /// interleaved by agent index (so every skill lands on every side).
    Proportional,
}

impl FaultKind {
    /// Every kind, in declaration order.
    pub const ALL: [FaultKind; 10] = [
        FaultKind::Crash,
        FaultKind::Restart,
        FaultKind::Pause,
        FaultKind::Clock,
        FaultKind::Partition,
        FaultKind::Isolate,
        FaultKind::Link,
        FaultKind::Heal,
        FaultKind::CrashAt,
        FaultKind::Message,
    ];

    /// The name in scenario files (`"crash"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Crash => "crash",
            FaultKind::Restart => "restart",
            FaultKind::Pause => "pause",
            FaultKind::Clock => "clock",
            FaultKind::Partition => "partition",
            FaultKind::Isolate => "isolate",
            FaultKind::Link => "link",
            FaultKind::Heal => "heal",
            FaultKind::CrashAt => "crash_at",
            FaultKind::Message => "message",
        }
    }

    /// The kind-specific fields this kind accepts, besides the fields every
    /// fault has ([`FaultKind::COMMON_FIELDS`]). One table for validation
    /// (which names a field that does not belong) and the JSON Schema (one
    /// `oneOf` branch per kind), so the two cannot disagree.
    pub fn fields(self) -> &'static [&'static str] {
        match self {
            FaultKind::Crash => &["node", "restart_after_ms"],
            FaultKind::Restart => &["node"],
            FaultKind::Pause => &["node", "for_ms"],
            FaultKind::Clock => &["node", "rate", "for_ms"],
            FaultKind::Partition => &["groups", "agents", "for_ms"],
            FaultKind::Isolate => &["node", "for_ms"],
            FaultKind::Link => &[
                "from",
                "to",
                "both_ways",
                "drop",
                "extra_latency_ms",
                "for_ms",
            ],
            FaultKind::Heal => &[],
            FaultKind::CrashAt => &["crash_at", "for_ms"],
            FaultKind::Message => &["message", "for_ms"],
        }
    }

    /// The kind-specific fields this kind cannot do without.
    pub fn required_fields(self) -> &'static [&'static str] {
        match self {
            FaultKind::Crash | FaultKind::Restart | FaultKind::Isolate => &["node"],
            FaultKind::Pause => &["node", "for_ms"],
            FaultKind::Clock => &["node", "rate"],
            FaultKind::Partition => &["groups"],
            FaultKind::Link => &["from", "to"],
            FaultKind::Heal => &[],
            FaultKind::CrashAt => &["crash_at"],
            FaultKind::Message => &["message"],
        }
    }

    /// Fields every fault accepts, whatever its kind.
    pub const COMMON_FIELDS: [&'static str; 5] =
        ["at_ms", "kind", "every_ms", "jitter_ms", "stable_ms"];
}

/// Rewrite the derived schema of [`FaultSpec`] (one object with every
/// field) into one branch per kind: `kind` fixed by `const`, exactly the
/// fields [`FaultKind::fields`] lists, the required ones required, nothing
/// else allowed. `discriminator` names the tag for tools that use it
/// (OpenAPI-style; plain JSON Schema validators ignore it).
fn fault_shapes(schema: &mut Schema) {
    let Some(props) = schema
        .get("properties")
        .and_then(|p| p.as_object())
        .cloned()
    else {
        return;
    };
    let branches: Vec<serde_json::Value> = FaultKind::ALL
        .iter()
        .map(|&kind| {
            let mut p = serde_json::Map::new();
            for name in FaultKind::COMMON_FIELDS.iter().chain(kind.fields()) {
                if let Some(s) = props.get(*name) {
                    p.insert(name.to_string(), s.clone());
                }
            }
            p.insert(
                "kind".to_string(),
                serde_json::json!({ "const": kind.name() }),
            );
            let required: Vec<&str> = ["at_ms", "kind"]
                .into_iter()
                .chain(kind.required_fields().iter().copied())
                .collect();
            serde_json::json!({
                "title": kind.name(),
                "type": "object",
                "properties": p,
                "required": required,
                "additionalProperties": false,
            })
        })
        .collect();
    let description = schema.get("description").cloned();
    let mut out = serde_json::Map::new();
    if let Some(d) = description {
        out.insert("description".to_string(), d);
    }
    out.insert("type".to_string(), "object".into());
    out.insert(
        "discriminator".to_string(),
        serde_json::json!({ "propertyName": "kind" }),
    );
    out.insert("oneOf".to_string(), branches.into());
    *schema = Schema::from(out);
}

/// One scripted fault. Which fields apply depends on `kind` (validation
/// names any field that does not belong; the schema has one shape per
/// kind, see [`FaultKind::fields`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = fault_shapes)]
pub struct FaultSpec {
    /// When it first fires, in ms (≤ `duration_ms`).
    #[schemars(range(min = 0))]
    pub at_ms: f64,
    /// What it does.
    pub kind: FaultKind,
    /// Target of crash, restart, pause, clock, isolate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<TargetSpec>,
    /// Groups of a partition: every server in exactly one group; agents
    /// (`"agent:N"`) in at most one. Agents in no group reach every
    /// server, unless `agents` places them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<Vec<NodeRef>>>,
    /// Partition: where the agents `groups` does not name go (default:
    /// nowhere, they reach both sides).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agents: Option<AgentPlacementSpec>,
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
    #[schemars(range(min = 0, max = 1))]
    pub drop: Option<f64>,
    /// Extra one-way delay on the link, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub extra_latency_ms: Option<f64>,
    /// Duration of a pause (required), link cut, isolation, partition or
    /// clock skew, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub for_ms: Option<f64>,
    /// Restart a crashed node this long after the crash, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub restart_after_ms: Option<f64>,
    /// Clock rate for `clock` (1.0 = true time; 0.1..=10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.1, max = 10))]
    pub rate: Option<f64>,
    /// Repeat every this many ms, until the end of the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub every_ms: Option<f64>,
    /// Random extra delay in `[0, jitter_ms]` per repetition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub jitter_ms: Option<f64>,
    /// Repeating faults only: before each firing, wait until the cluster
    /// has been settled for this long (every up server follows one up
    /// leader, with equal commit indexes), then fire after a uniform
    /// draw in `[0, jitter_ms]`; the next occurrence starts waiting
    /// `every_ms` after the firing (the Figure 16 setup).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub stable_ms: Option<f64>,
    /// The rule of a `crash_at` fault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crash_at: Option<CrashAtSpec>,
    /// The rule of a `message` fault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<MessageSpec>,
}

impl FaultSpec {
    /// A fault with only `at_ms` and `kind` set.
    pub fn new(at_ms: f64, kind: FaultKind) -> Self {
        FaultSpec {
            at_ms,
            kind,
            node: None,
            groups: None,
            agents: None,
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
            crash_at: None,
            message: None,
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
    /// Crash a random live agent (in-flight work and inbox lost), restart
    /// it after the duration. Workflow scenarios only.
    AgentCrash,
    /// Pause a random live agent for the duration.
    AgentPause,
    /// Skew one agent's clock (0.5x–2x) for the duration.
    AgentClock,
    /// Cut the link between a random agent and a random server (one or
    /// both ways) for the duration.
    AgentLink,
    /// Split the servers in two random groups and put each agent on a
    /// random side, for the duration.
    AgentPartition,
}

impl NemesisKindSpec {
    /// True for the kinds that target agents (workflow scenarios only).
    pub fn targets_agents(self) -> bool {
        matches!(
            self,
            NemesisKindSpec::AgentCrash
                | NemesisKindSpec::AgentPause
                | NemesisKindSpec::AgentClock
                | NemesisKindSpec::AgentLink
                | NemesisKindSpec::AgentPartition
        )
    }
}

/// Random fault generator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NemesisSpec {
    /// Mean time between fault starts, ms (exponential).
    #[schemars(range(min = 1))]
    pub mean_interval_ms: f64,
    /// Kinds to draw from.
    #[schemars(length(min = 1))]
    pub kinds: Vec<NemesisKindSpec>,
    /// Each fault lasts a uniform draw from `[min, max]` ms.
    #[schemars(extend("items" = {"type": "number", "exclusiveMinimum": 0}))]
    pub duration_ms: [f64; 2],
    /// Never more than this many servers crashed or paused at once
    /// (default: a minority, `(nodes - 1) / 2`). Agent kinds have their
    /// own limit: at most half the agents (at least one) down at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_down: Option<u32>,
    /// Draw no new fault after this time, ms (default: until the end of the
    /// run). Faults drawn before it still end on schedule, so the run ends
    /// with a fault-free tail in which liveness is judged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub until_ms: Option<f64>,
}
