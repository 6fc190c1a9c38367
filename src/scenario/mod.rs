//! Scenario files: loading with errors that name the file, the field and
//! the position; validation; conversion into the kernel's core types.

pub mod convert;
pub mod locate;
pub mod types;
pub mod validate;

pub use types::*;

use crate::dist::Dist;
use crate::fault::{
    AgentPlacement, FaultAction, NemesisConfig, NemesisKind, ScheduledFault, Target,
};
use crate::ids::NodeId;
use crate::net::{LinkParams, NetConfig};
use crate::sim::{ClockModel, WorldConfig};
use crate::time::{SimDuration, SimTime};
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

/// One problem with a scenario (or report) file.
#[derive(Clone, Debug, PartialEq)]
pub struct InputError {
    /// The file (or `<arg>` for command-line values).
    pub file: String,
    /// Field path, like `faults[2].node` (empty for whole-file problems).
    pub path: String,
    /// 1-based line and column, where known.
    pub position: Option<(usize, usize)>,
    /// What is wrong and, where it helps, what would be right.
    pub message: String,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some((l, c)) = self.position {
            write!(f, ":{l}:{c}")?;
        }
        if !self.path.is_empty() {
            write!(f, ": field `{}`", self.path)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// All problems found in one input.
#[derive(Clone, Debug, PartialEq)]
pub struct InputErrors(pub Vec<InputError>);

impl fmt::Display for InputErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "error: {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for InputErrors {}

impl InputErrors {
    /// A single error.
    pub fn one(file: &str, path: &str, message: impl Into<String>) -> Self {
        InputErrors(vec![InputError {
            file: file.to_string(),
            path: path.to_string(),
            position: None,
            message: message.into(),
        }])
    }
}

/// Deserialize `text` as `T`, with the field path and position of the first
/// problem on failure.
pub fn parse_json<T: serde::de::DeserializeOwned>(
    file: &str,
    text: &str,
) -> Result<T, InputErrors> {
    let mut de = serde_json::Deserializer::from_str(text);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        // serde_path_to_error marks an unknown position with `?`.
        let path = e.path().to_string();
        let path = path.trim_end_matches('?').trim_end_matches('.').to_string();
        let inner = e.inner();
        let position = (inner.line() > 0).then(|| (inner.line(), inner.column().max(1)));
        // serde_json appends " at line L column C"; we print it ourselves.
        let mut message = inner.to_string();
        if let Some(cut) = message.rfind(" at line ") {
            message.truncate(cut);
        }
        InputErrors(vec![InputError {
            file: file.to_string(),
            path: if path == "." { String::new() } else { path },
            position,
            message,
        }])
    })?;
    de.end().map_err(|e| {
        InputErrors(vec![InputError {
            file: file.to_string(),
            path: String::new(),
            position: Some((e.line(), e.column())),
            message: "trailing characters after the JSON value".to_string(),
        }])
    })?;
    Ok(value)
}

/// Largest scenario file read, in bytes (16 MiB): `validate /dev/zero`
/// stops there instead of reading forever.
pub const MAX_SCENARIO_BYTES: u64 = 16 << 20;

/// Largest report file read (`replay`, `plot`, `report`, `shrink`), in
/// bytes (256 MiB).
pub const MAX_REPORT_BYTES: u64 = 256 << 20;

/// Read a UTF-8 input file of at most `limit` bytes; the error names the
/// file and says what is wrong.
pub fn read_input(path: &Path, limit: u64) -> Result<String, InputErrors> {
    use std::io::Read;
    let file = crate::escape::path(path);
    let f = std::fs::File::open(path)
        .map_err(|e| InputErrors::one(&file, "", format!("cannot read: {e}")))?;
    let mut bytes = Vec::new();
    f.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| InputErrors::one(&file, "", format!("cannot read: {e}")))?;
    if bytes.len() as u64 > limit {
        return Err(InputErrors::one(
            &file,
            "",
            format!("is larger than the {} MiB input limit", limit >> 20),
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        InputErrors::one(
            &file,
            "",
            format!(
                "is not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
        )
    })
}

/// Refuse a JSON array where the format has an object with named fields
/// (`"cluster": [5, "raft"]`): serde's derives accept such positional
/// structs, which nobody writes on purpose and which break silently when a
/// field is added. `raw` is the file as plain JSON, `spec` what it parsed
/// to; an array in `raw` where `spec` serializes to an object is refused.
/// `prefix` is the path of the scenario inside the file (`scenario` in a
/// report).
pub fn reject_positional(
    file: &str,
    raw: &serde_json::Value,
    spec: &ScenarioSpec,
    text: &str,
    prefix: &str,
) -> Result<(), InputErrors> {
    let Ok(shape) = serde_json::to_value(spec) else {
        return Ok(());
    };
    let mut found = Vec::new();
    positional(raw, &shape, prefix, &mut found);
    if found.is_empty() {
        return Ok(());
    }
    Err(InputErrors(
        found
            .into_iter()
            .map(|path| InputError {
                file: file.to_string(),
                position: locate::locate(text, &path),
                message: "is an array, but this field is an object with named fields: write {\"field\": value, ...}".to_string(),
                path,
            })
            .collect(),
    ))
}

fn positional(
    raw: &serde_json::Value,
    shape: &serde_json::Value,
    path: &str,
    found: &mut Vec<String>,
) {
    use serde_json::Value;
    match (raw, shape) {
        (Value::Array(_), Value::Object(_)) => found.push(path.to_string()),
        (Value::Object(r), Value::Object(s)) => {
            for (k, rv) in r {
                if let Some(sv) = s.get(k) {
                    let here = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    positional(rv, sv, &here, found);
                }
            }
        }
        (Value::Array(r), Value::Array(s)) => {
            for (i, (rv, sv)) in r.iter().zip(s).enumerate() {
                positional(rv, sv, &format!("{path}[{i}]"), found);
            }
        }
        _ => {}
    }
}

/// A scenario that passed validation. Conversions to core types below
/// cannot fail.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    /// The scenario as written (embedded verbatim in reports).
    pub spec: ScenarioSpec,
}

impl Scenario {
    /// Parse and validate scenario JSON; `file` names it in errors.
    pub fn from_str(file: &str, text: &str) -> Result<Scenario, InputErrors> {
        let spec: ScenarioSpec = parse_json(file, text)?;
        if let Ok(raw) = serde_json::from_str::<serde_json::Value>(text) {
            reject_positional(file, &raw, &spec, text, "")?;
        }
        Scenario::from_spec_located(file, spec, Some(text))
    }

    /// Read, parse and validate a scenario file (at most
    /// [`MAX_SCENARIO_BYTES`]).
    pub fn load(path: &Path) -> Result<Scenario, InputErrors> {
        let file = crate::escape::path(path);
        let text = read_input(path, MAX_SCENARIO_BYTES)?;
        Scenario::from_str(&file, &text)
    }

    /// Validate a spec built in code (errors carry no positions).
    pub fn from_spec(spec: ScenarioSpec) -> Result<Scenario, InputErrors> {
        Scenario::from_spec_located("<scenario>", spec, None)
    }

    /// Validate a spec that came from `file` and was changed since
    /// (command-line overrides): errors name the file, without positions.
    pub fn from_spec_in(file: &str, spec: ScenarioSpec) -> Result<Scenario, InputErrors> {
        Scenario::from_spec_located(file, spec, None)
    }

    fn from_spec_located(
        file: &str,
        spec: ScenarioSpec,
        text: Option<&str>,
    ) -> Result<Scenario, InputErrors> {
        let problems = validate::validate(&spec);
        if problems.0.is_empty() {
            return Ok(Scenario { spec });
        }
        Err(InputErrors(
            problems
                .0
                .into_iter()
                .map(|(path, message)| InputError {
                    file: file.to_string(),
                    position: text.and_then(|t| locate::locate(t, &path)),
                    path,
                    message,
                })
                .collect(),
        ))
    }

    /// The run length.
    pub fn duration(&self) -> SimDuration {
        SimDuration::from_millis_f64(self.spec.duration_ms)
    }

    /// Kernel configuration for this scenario under `seed`.
    pub fn world_config(&self, seed: u64) -> WorldConfig {
        let s = &self.spec;
        WorldConfig {
            seed,
            duration: self.duration(),
            cluster: s.cluster.nodes,
            net: net_config(&s.network),
            disk_sync: dist(&s.disk.sync_ms),
            faults: s.faults.iter().map(|f| fault(f, s.cluster.nodes)).collect(),
            nemesis: s.nemesis.as_ref().map(|n| nemesis(n, s.cluster.nodes)),
            start_jitter: ms(s.cluster.start_jitter_ms),
            clocks: s
                .clocks
                .as_ref()
                .map_or_else(ClockModel::default, |c| ClockModel {
                    drift_ppm: [c.drift_ppm[0].round() as i64, c.drift_ppm[1].round() as i64],
                    timer_jitter: [
                        SimDuration::from_micros(c.timer_jitter_us[0].round() as u64),
                        SimDuration::from_micros(c.timer_jitter_us[1].round() as u64),
                    ],
                }),
        }
    }
}

/// Core distribution from its spec.
pub fn dist(d: &DistSpec) -> Dist {
    match *d {
        DistSpec::Fixed { value } => Dist::Fixed(value),
        DistSpec::Uniform { min, max } => Dist::Uniform { min, max },
        DistSpec::Normal { mean, stddev } => Dist::Normal { mean, stddev },
        DistSpec::Exponential { mean } => Dist::Exponential { mean },
        DistSpec::Lognormal { median, sigma } => Dist::LogNormal { median, sigma },
        DistSpec::Pareto { scale, shape } => Dist::Pareto { scale, shape },
    }
}

fn ms(v: f64) -> SimDuration {
    SimDuration::from_millis_f64(v)
}

fn net_config(n: &NetworkSpec) -> NetConfig {
    let default = LinkParams {
        latency: dist(&n.latency_ms),
        drop: n.drop,
        duplicate: n.duplicate,
    };
    let mut links = BTreeMap::new();
    for l in &n.links {
        let params = LinkParams {
            latency: l
                .latency_ms
                .as_ref()
                .map_or_else(|| default.latency.clone(), dist),
            drop: l.drop.unwrap_or(default.drop),
            duplicate: l.duplicate.unwrap_or(default.duplicate),
        };
        links.insert((l.from, l.to), params.clone());
        if l.both_ways {
            links.insert((l.to, l.from), params);
        }
    }
    NetConfig {
        default,
        reorder: n.reorder,
        links,
    }
}

/// Core target of a scenario target; agent N is address `servers + N`.
fn target(t: Option<TargetSpec>, servers: u32) -> Target {
    match t.expect("validated: target present") {
        TargetSpec::Index(i) => Target::Node(NodeId(i)),
        TargetSpec::Leader => Target::Leader,
        TargetSpec::Follower => Target::Follower,
        TargetSpec::Random => Target::Random,
        TargetSpec::Minority => Target::Minority,
        TargetSpec::Agent(i) => Target::Node(NodeId(servers + i)),
        TargetSpec::AnyAgent => Target::AnyAgent,
        TargetSpec::Agents(k) => Target::Agents(k),
    }
}

/// Address of a partition group member; agent N is `servers + N`.
fn member(n: NodeRef, servers: u32) -> NodeId {
    match n {
        NodeRef::Server(i) => NodeId(i),
        NodeRef::Agent(i) => NodeId(servers + i),
    }
}

fn fault(f: &FaultSpec, servers: u32) -> ScheduledFault {
    let target = |t| target(t, servers);
    let action = match f.kind {
        FaultKind::Crash => FaultAction::Crash {
            node: target(f.node),
            restart_after: f.restart_after_ms.map(ms),
        },
        FaultKind::Restart => FaultAction::Restart {
            node: target(f.node),
        },
        FaultKind::Pause => FaultAction::Pause {
            node: target(f.node),
            duration: ms(f.for_ms.unwrap_or(0.0)),
        },
        FaultKind::Clock => FaultAction::Clock {
            node: target(f.node),
            rate_ppm: (f.rate.unwrap_or(1.0) * 1e6).round() as u64,
            duration: f.for_ms.map(ms),
        },
        FaultKind::Partition => FaultAction::Partition {
            groups: f
                .groups
                .as_ref()
                .map(|g| {
                    g.iter()
                        .map(|g| g.iter().map(|&n| member(n, servers)).collect())
                        .collect()
                })
                .unwrap_or_default(),
            agents: f.agents.map(|a| match a {
                AgentPlacementSpec::WithLeader => AgentPlacement::WithLeader,
                AgentPlacementSpec::WithMinority => AgentPlacement::WithMinority,
                AgentPlacementSpec::Proportional => AgentPlacement::Proportional,
            }),
            duration: f.for_ms.map(ms),
        },
        FaultKind::Isolate => FaultAction::Isolate {
            node: target(f.node),
            duration: f.for_ms.map(ms),
        },
        FaultKind::Link => FaultAction::Link {
            from: target(f.from),
            to: target(f.to),
            both_ways: f.both_ways.unwrap_or(false),
            drop: f.drop.unwrap_or(if f.extra_latency_ms.is_some() {
                0.0
            } else {
                1.0
            }),
            extra_latency: ms(f.extra_latency_ms.unwrap_or(0.0)),
            duration: f.for_ms.map(ms),
        },
        FaultKind::Heal => FaultAction::Heal,
        FaultKind::CrashAt => {
            let c = f.crash_at.as_ref().expect("validated: crash_at present");
            FaultAction::CrashAt {
                rule: crate::fault::CrashAtRule {
                    point: crate::process::CrashPoint::from_name(&c.point)
                        .expect("validated: known crash point"),
                    probability: c.probability,
                    node: c.node.map(NodeId),
                    restart_after: c.restart_after_ms.map(|[lo, hi]| [ms(lo), ms(hi)]),
                    k: c.k,
                },
                duration: f.for_ms.map(ms),
            }
        }
        FaultKind::Message => {
            let m = f.message.as_ref().expect("validated: message present");
            let fault = match (m.pattern, m.duplicate_ms, m.delay_ms) {
                (Some(MessagePatternSpec::AlignTimers), _, _) => {
                    crate::fault::MessageFault::AlignTimers {
                        timer: crate::raft::TIMER_ELECTION,
                        within: ms(m.within_ms.unwrap_or(1.0)),
                    }
                }
                (Some(MessagePatternSpec::BareMajority), _, r) => {
                    let [lo, hi] = r.expect("validated: bare_majority has delay_ms");
                    crate::fault::MessageFault::BareMajority {
                        min: ms(lo),
                        max: ms(hi),
                    }
                }
                (None, Some([lo, hi]), _) => crate::fault::MessageFault::Duplicate {
                    min: ms(lo),
                    max: ms(hi),
                },
                (None, None, r) => {
                    let [lo, hi] = r.expect("validated: duplicate_ms or delay_ms");
                    crate::fault::MessageFault::Delay {
                        min: ms(lo),
                        max: ms(hi),
                    }
                }
            };
            FaultAction::Message {
                rule: crate::fault::MessageRule {
                    message: m.message_kind.clone(),
                    probability: m.probability,
                    fault,
                },
                duration: f.for_ms.map(ms),
            }
        }
    };
    ScheduledFault {
        at: SimTime::ZERO + ms(f.at_ms),
        action,
        every: f.every_ms.map(ms),
        jitter: ms(f.jitter_ms.unwrap_or(0.0)),
        stable: f.stable_ms.map(ms),
    }
}

fn nemesis(n: &NemesisSpec, nodes: u32) -> NemesisConfig {
    NemesisConfig {
        mean_interval: ms(n.mean_interval_ms),
        kinds: n
            .kinds
            .iter()
            .map(|k| match k {
                NemesisKindSpec::Crash => NemesisKind::Crash,
                NemesisKindSpec::Pause => NemesisKind::Pause,
                NemesisKindSpec::Partition => NemesisKind::Partition,
                NemesisKindSpec::Link => NemesisKind::Link,
                NemesisKindSpec::Clock => NemesisKind::Clock,
                NemesisKindSpec::AgentCrash => NemesisKind::AgentCrash,
                NemesisKindSpec::AgentPause => NemesisKind::AgentPause,
                NemesisKindSpec::AgentClock => NemesisKind::AgentClock,
                NemesisKindSpec::AgentLink => NemesisKind::AgentLink,
                NemesisKindSpec::AgentPartition => NemesisKind::AgentPartition,
            })
            .collect(),
        duration_min: ms(n.duration_ms[0]),
        duration_max: ms(n.duration_ms[1]),
        max_down: n.max_down.unwrap_or(nodes.saturating_sub(1) / 2),
        until: n.until_ms.map(|u| SimTime::ZERO + ms(u)),
    }
}

/// The JSON Schema of the scenario format: derived from the types (ranges
/// from their `#[schemars(...)]` attributes, one shape per fault kind),
/// then every `*_ms` number bounded by [`validate::MAX_TIME_MS`] and every
/// `*_per_s` rate by [`validate::MAX_RATE_PER_S`], by the same naming rule
/// validation applies.
pub fn json_schema() -> serde_json::Value {
    let mut v =
        serde_json::to_value(schemars::schema_for!(ScenarioSpec)).expect("schema serializes");
    unit_bounds(&mut v);
    v
}

/// Add the `maximum` of time (`*_ms`) and rate (`*_per_s`) properties,
/// numbers and pairs of numbers alike, wherever a `properties` map names
/// them.
fn unit_bounds(v: &mut serde_json::Value) {
    use serde_json::Value;
    fn numeric(s: &Value) -> bool {
        match s.get("type") {
            Some(Value::String(t)) => t == "number" || t == "integer",
            Some(Value::Array(ts)) => ts.iter().any(|t| t == "number" || t == "integer"),
            _ => false,
        }
    }
    fn bound(s: &mut Value, max: f64) {
        if numeric(s) {
            if let Some(o) = s.as_object_mut() {
                o.entry("maximum").or_insert(max.into());
            }
        } else if let Some(items) = s.get_mut("items") {
            bound(items, max);
        }
    }
    match v {
        Value::Object(o) => {
            if let Some(Value::Object(props)) = o.get_mut("properties") {
                for (k, s) in props.iter_mut() {
                    if k.ends_with("_ms") || k.contains("_ms_") {
                        bound(s, validate::MAX_TIME_MS);
                    } else if k.ends_with("_per_s") {
                        bound(s, validate::MAX_RATE_PER_S);
                    }
                }
            }
            for child in o.values_mut() {
                unit_bounds(child);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(unit_bounds),
        _ => {}
    }
}

/// The settings that decide a run's verdict without changing any event:
/// whether the linearizability checker runs, and the expectations. `None`
/// when they are the defaults (every checker on, no `expect`), so the trace
/// hash of such a run is the plain event hash.
pub fn verdict_settings(spec: &ScenarioSpec) -> Option<serde_json::Value> {
    let lin_off = spec
        .workload
        .as_ref()
        .is_some_and(|w| !w.check_linearizability);
    if !lin_off && spec.expect.is_none() {
        return None;
    }
    Some(serde_json::json!({
        "check_linearizability": !lin_off,
        "expect": spec.expect,
    }))
}

/// The trace hash a report records: the BLAKE3 event hash, bound to the
/// run's [`verdict_settings`] when they differ from the defaults. Editing a
/// report's checker switch or expectations then changes the hash its
/// replay produces, so `replay` reports a divergence instead of confirming
/// a verdict the recorded run never had. (This binds against editing, it is
/// not a signature: anyone can run the weakened scenario and get an honest
/// report of it, whose `checks.ran` shows what was not checked.)
pub fn bind_verdict_settings(event_hash: String, spec: &ScenarioSpec) -> String {
    match verdict_settings(spec) {
        None => event_hash,
        Some(v) => {
            let mut h = blake3::Hasher::new();
            h.update(b"agentsim verdict settings v1\0");
            h.update(event_hash.as_bytes());
            h.update(b"\0");
            h.update(v.to_string().as_bytes());
            h.finalize().to_hex().to_string()
        }
    }
}
