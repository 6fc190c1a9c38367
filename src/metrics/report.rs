//! The run report (`report.json`). Top-level keys are a contract scripts
//! rely on: `seed`, `scenario`, `trace_hash`, `events`, `sim_time_ms`,
//! `wall_ms`, `network`, `faults`, `checks`; protocol sections are added
//! beside them (`heartbeat`, and for Raft `elections`, `safety`, ...);
//! in code they are the typed sections of [`crate::metrics::sections`].

use crate::check::names::CheckName;
use crate::fault::AppliedFault;
pub use crate::metrics::faults::fault_json;
use crate::metrics::faults::{FaultLogSummary, FaultRecord};
use crate::metrics::sections::{
    CollabSection, HeartbeatSection, Leadership, NetworkSection, RaftSection,
};
use crate::net::{DropCause, NetCounters};
use crate::scenario::{FaultKind, FaultSpec, NodeRef, ScenarioSpec, TargetSpec};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One failed check.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckFailure {
    /// Which check (`safety`, `linearizability`, `expect.min_availability`, ...).
    pub check: String,
    /// What was seen, precisely enough to debug from.
    pub message: String,
}

/// Outcome of every checker that ran.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Checks {
    /// True when no check failed.
    pub ok: bool,
    /// Names of the checks that ran.
    pub ran: Vec<String>,
    /// The failures, if any.
    pub failures: Vec<CheckFailure>,
    /// Checks that could not be judged in this run, with the reason (a
    /// liveness window the run ended inside, faults still active at the
    /// end): never silently passed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_judged: Vec<NotJudged>,
}

/// A check that did not judge this run, and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NotJudged {
    /// Which check (`liveness.leader`, ...).
    pub check: String,
    /// Why it could not judge.
    pub reason: String,
}

impl Checks {
    /// Record that `check` ran, failing with `failure` if given.
    pub fn record(&mut self, check: CheckName, failure: Option<String>) {
        self.ran.push(check.name().to_string());
        if let Some(message) = failure {
            self.failures.push(CheckFailure {
                check: check.name().to_string(),
                message,
            });
        }
        self.ok = self.failures.is_empty();
    }

    /// Record that `check` could not judge this run, and why.
    pub fn not_judged(&mut self, check: CheckName, reason: String) {
        self.not_judged.push(NotJudged {
            check: check.name().to_string(),
            reason,
        });
    }
}

/// A finished run. In `report.json` the protocol section's fields sit at
/// the top level after `checks`, in key order (see [`Report::sections_json`]);
/// the typed sections here are how the code reads them.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// The seed the run used.
    pub seed: u64,
    /// The full scenario as run (seed and overrides applied).
    pub scenario: ScenarioSpec,
    /// BLAKE3 over every dispatched event, hex.
    pub trace_hash: String,
    /// Events dispatched.
    pub events: u64,
    /// Virtual time reached, ms.
    pub sim_time_ms: f64,
    /// Wall-clock time of the run, ms (filled in by the CLI; 0 otherwise).
    pub wall_ms: f64,
    /// Events per wall-clock second (0 when wall time is unknown).
    pub events_per_s: f64,
    /// Network counters (`None`, `null` in the file, when the run never
    /// finished: a sweep seed that panicked).
    pub network: Option<NetworkSection>,
    /// Faults applied, in order, with targets resolved (the first
    /// records of the fault log, up to its cap).
    pub faults: Vec<FaultRecord>,
    /// Totals of a truncated fault log (the `fault_log` key; `None`, and
    /// no key, when `faults` lists every record).
    pub fault_log: Option<FaultLogSummary>,
    /// Checker verdicts.
    pub checks: Checks,
    /// A KV run's section.
    pub raft: Option<RaftSection>,
    /// A collaboration run's section.
    pub collab: Option<CollabSection>,
    /// A heartbeat mesh's section.
    pub heartbeat: Option<HeartbeatSection>,
    /// Top-level keys this version does not type (a sweep's `swarm`, or a
    /// section a newer or older version wrote), kept as read so that
    /// loading and writing a report loses none of them. Inside the typed
    /// sections only the network counters and fault records keep unknown
    /// keys; elsewhere an unknown key is dropped and a missing one takes
    /// its default (a missing liveness verdict reads as `not_judged`,
    /// never as a pass), and a section whose known keys have the wrong
    /// type is kept here whole instead.
    pub other: Map<String, Value>,
}

/// The file layout of a report: the fixed fields, then every section key
/// (typed sections and `other`, merged) flattened in key order.
#[derive(Serialize)]
struct WireOut<'a> {
    seed: u64,
    scenario: &'a ScenarioSpec,
    trace_hash: &'a str,
    events: u64,
    sim_time_ms: f64,
    wall_ms: f64,
    events_per_s: f64,
    network: &'a Option<NetworkSection>,
    faults: &'a [FaultRecord],
    checks: &'a Checks,
    #[serde(flatten)]
    sections: Map<String, Value>,
}

/// [`WireOut`], read.
#[derive(Deserialize)]
struct WireIn {
    seed: u64,
    scenario: ScenarioSpec,
    trace_hash: String,
    events: u64,
    sim_time_ms: f64,
    wall_ms: f64,
    events_per_s: f64,
    network: Option<NetworkSection>,
    faults: Vec<FaultRecord>,
    checks: Checks,
    #[serde(flatten)]
    sections: Map<String, Value>,
}

impl Serialize for Report {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        WireOut {
            seed: self.seed,
            scenario: &self.scenario,
            trace_hash: &self.trace_hash,
            events: self.events,
            sim_time_ms: self.sim_time_ms,
            wall_ms: self.wall_ms,
            events_per_s: self.events_per_s,
            network: &self.network,
            faults: &self.faults,
            checks: &self.checks,
            sections: self.sections_json(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Report {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = WireIn::deserialize(d)?;
        let mut other = w.sections;
        // The section keys tell the run kind; a run has one kind.
        let fault_log = other
            .get("fault_log")
            .and_then(|v| serde_json::from_value(v.clone()).ok());
        if fault_log.is_some() {
            other.remove("fault_log");
        }
        let (mut raft, mut collab, mut heartbeat) = (None, None, None);
        if other.contains_key("collab") {
            collab = take_section::<CollabSection>(&mut other);
        } else if let Some(h) = other.get("heartbeat") {
            heartbeat = serde_json::from_value(h.clone()).ok();
            if heartbeat.is_some() {
                other.remove("heartbeat");
            }
        } else if other.contains_key("raft") {
            raft = take_section::<RaftSection>(&mut other);
        }
        Ok(Report {
            seed: w.seed,
            scenario: w.scenario,
            trace_hash: w.trace_hash,
            events: w.events,
            sim_time_ms: w.sim_time_ms,
            wall_ms: w.wall_ms,
            events_per_s: w.events_per_s,
            network: w.network,
            faults: w.faults,
            fault_log,
            checks: w.checks,
            raft,
            collab,
            heartbeat,
            other,
        })
    }
}

/// Take the keys of section `T` (the keys its default writes) out of
/// `keys` and read them as a `T`. A section that does not read (a report
/// from a version with another shape) stays in `keys`, as JSON: replay
/// needs only the fixed fields.
fn take_section<T: Serialize + serde::de::DeserializeOwned + Default>(
    keys: &mut Map<String, Value>,
) -> Option<T> {
    let Ok(Value::Object(fields)) = serde_json::to_value(T::default()) else {
        unreachable!("a section serializes to an object");
    };
    let mut mine = Map::new();
    for k in fields.keys() {
        if let Some(v) = keys.get(k) {
            mine.insert(k.clone(), v.clone());
        }
    }
    let section = serde_json::from_value(Value::Object(mine)).ok()?;
    for k in fields.keys() {
        keys.remove(k);
    }
    Some(section)
}

impl Report {
    /// Every section key as written to `report.json` (typed sections and
    /// [`Report::other`] merged, in key order). For scripts' view of the
    /// file, and tests that pin its contract; code reads the typed fields.
    pub fn sections_json(&self) -> Map<String, Value> {
        let mut m = self.other.clone();
        let mut put = |v: serde_json::Result<Value>| match v {
            Ok(Value::Object(fields)) => m.extend(fields),
            _ => unreachable!("a section serializes to an object"),
        };
        if let Some(r) = &self.raft {
            put(serde_json::to_value(r));
        }
        if let Some(c) = &self.collab {
            put(serde_json::to_value(c));
        }
        if let Some(f) = &self.fault_log {
            m.insert(
                "fault_log".into(),
                serde_json::to_value(f).expect("a section serializes"),
            );
        }
        if let Some(h) = &self.heartbeat {
            m.insert(
                "heartbeat".into(),
                serde_json::to_value(h).expect("a section serializes"),
            );
        }
        m
    }

    /// One top-level section key as written to `report.json` (`Null` when
    /// absent): the file's view, for tests that pin its contract.
    pub fn section(&self, key: &str) -> Value {
        self.sections_json().remove(key).unwrap_or(Value::Null)
    }

    /// Elections, downtime and role times, of a KV or collaboration run.
    pub fn leadership(&self) -> Option<&Leadership> {
        self.raft
            .as_ref()
            .map(|r| &r.leadership)
            .or(self.collab.as_ref().map(|c| &c.leadership))
    }

    /// The run's one-line summary (`raft` or `collab`), with its label.
    pub fn summary(&self) -> Option<(&'static str, &str)> {
        if let Some(r) = &self.raft {
            return Some(("raft", &r.summary.summary));
        }
        self.collab
            .as_ref()
            .and_then(CollabSection::summary)
            .map(|s| ("collab", s))
    }

    /// Exit code for this report: 0 if every check held, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        if self.checks.ok {
            0
        } else {
            1
        }
    }
}

/// Network counters as the report's typed `network` section.
pub fn network_section(c: &NetCounters) -> NetworkSection {
    NetworkSection {
        bytes_delivered: c.bytes_delivered,
        bytes_sent: c.bytes_sent,
        delivered: c.delivered,
        dropped: c.dropped_total(),
        dropped_by_cause: DropCause::ALL
            .iter()
            .map(|&cause| (cause.name().to_string(), c.dropped[cause as usize]))
            .collect(),
        duplicated: c.duplicated,
        messages_by_type: c
            .by_type()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        sent: c.sent,
        other: Default::default(),
    }
}

/// Rewrite applied faults as scripted scenario faults: restarts, resumes,
/// heals and restores become explicit entries. Skipped faults are left out.
/// Addresses from `servers` on are agents (`"agent:N"`).
pub fn scripted_faults(applied: &[AppliedFault], servers: u32) -> Vec<FaultSpec> {
    let mut out: Vec<FaultSpec> = Vec::new();
    let target = |n: crate::ids::NodeId| match n.0.checked_sub(servers) {
        Some(i) => TargetSpec::Agent(i),
        None => TargetSpec::Index(n.0),
    };
    let member = |n: &crate::ids::NodeId| match n.0.checked_sub(servers) {
        Some(i) => NodeRef::Agent(i),
        None => NodeRef::Server(n.0),
    };
    for f in applied.iter().filter(|f| f.skipped.is_none()) {
        let at = f.at.as_millis_f64();
        let node = |i: usize| f.nodes.get(i).map(|&n| target(n));
        match f.kind {
            "crash" | "restart" => {
                let kind = if f.kind == "crash" {
                    FaultKind::Crash
                } else {
                    FaultKind::Restart
                };
                for n in &f.nodes {
                    let mut s = FaultSpec::new(at, kind);
                    s.node = Some(target(*n));
                    out.push(s);
                }
            }
            "pause" => {
                // The matching resume tells how long the pause lasted.
                let end = applied
                    .iter()
                    .find(|r| r.kind == "resume" && r.at >= f.at && r.nodes == f.nodes[..1])
                    .map_or(0.0, |r| r.at.as_millis_f64());
                let mut s = FaultSpec::new(at, FaultKind::Pause);
                s.node = node(0);
                s.for_ms = Some((end - at).max(0.001));
                out.push(s);
            }
            "clock" => {
                let mut s = FaultSpec::new(at, FaultKind::Clock);
                s.node = node(0);
                s.rate = f.rate_ppm.map(|r| r as f64 / 1e6);
                out.push(s);
            }
            "partition" => {
                let mut s = FaultSpec::new(at, FaultKind::Partition);
                s.groups = Some(
                    f.groups
                        .iter()
                        .map(|g| g.iter().map(member).collect())
                        .collect(),
                );
                out.push(s);
            }
            "isolate" => {
                let mut s = FaultSpec::new(at, FaultKind::Isolate);
                s.node = node(0);
                out.push(s);
            }
            "link" => {
                let mut s = FaultSpec::new(at, FaultKind::Link);
                s.from = node(0);
                s.to = node(1);
                s.both_ways = Some(f.both_ways);
                s.drop = f.drop;
                s.extra_latency_ms = f
                    .extra_latency
                    .map(|d| d.as_millis_f64())
                    .filter(|d| *d > 0.0);
                out.push(s);
            }
            "link_restore" => {
                let mut s = FaultSpec::new(at, FaultKind::Link);
                s.from = node(0);
                s.to = node(1);
                s.both_ways = Some(f.both_ways);
                s.drop = Some(0.0);
                out.push(s);
            }
            "heal" => out.push(FaultSpec::new(at, FaultKind::Heal)),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod typed_tests {
    use super::Report;
    use std::path::{Path, PathBuf};

    /// Every `report.json` under `dir`.
    fn reports(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).expect("reports/ is readable") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                reports(&p, out);
            } else if p.file_name().is_some_and(|n| n == "report.json") {
                out.push(p);
            }
        }
    }

    /// The file form of a report (as `agentsim run` writes it).
    fn write(r: &Report) -> String {
        let mut text = serde_json::to_string_pretty(r).expect("report serializes");
        text.push('\n');
        text
    }

    /// Every checked-in report loads into its typed section (nothing left
    /// untyped) and writes back byte for byte: the typed sections keep the
    /// file format, key order included.
    #[test]
    fn checked_in_reports_load_typed_and_write_back_identically() {
        let mut files = Vec::new();
        reports(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("reports"),
            &mut files,
        );
        assert!(files.len() >= 10, "found {} reports", files.len());
        for f in files {
            let text = std::fs::read_to_string(&f).expect("readable");
            let r: Report = serde_json::from_str(&text).expect("a report");
            assert!(
                r.raft.is_some() || r.collab.is_some(),
                "{}: no typed section",
                f.display()
            );
            assert!(
                r.other.is_empty(),
                "{}: untyped {:?}",
                f.display(),
                r.other.keys()
            );
            assert!(
                write(&r) == text,
                "{}: not written back identically",
                f.display()
            );
        }
    }

    /// A report with a section this version does not know, or a known
    /// section of another shape, still loads (replay needs only the fixed
    /// fields), keeps what it cannot type in `other`, and writes it back.
    #[test]
    fn unknown_or_foreign_sections_are_kept_not_rejected() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("reports/partitions/partial-none/report.json");
        let text = std::fs::read_to_string(path).expect("readable");
        let mut v: serde_json::Value = serde_json::from_str(&text).expect("json");
        v["future_section"] = serde_json::json!({"x": 1});
        let r: Report = serde_json::from_value(v.clone()).expect("loads");
        assert!(r.raft.is_some());
        assert_eq!(r.other.keys().collect::<Vec<_>>(), ["future_section"]);
        assert_eq!(serde_json::to_value(&r).expect("writes"), v);

        // `client_ops` as a string: the Raft section does not read, so its
        // keys stay JSON, untouched.
        v["client_ops"] = serde_json::json!("broken");
        let r: Report = serde_json::from_value(v.clone()).expect("still loads");
        assert!(r.raft.is_none());
        assert!(r.other.contains_key("client_ops") && r.other.contains_key("elections"));
        assert_eq!(serde_json::to_value(&r).expect("writes"), v);
    }

    /// The `network` key reads into its typed section (the numbers sweeps
    /// and the summary line use are fields, not string lookups); a key
    /// another version wrote is kept, and a panicked seed's `null` stays
    /// `null` rather than turning into zero counters.
    #[test]
    fn network_is_typed_keeps_foreign_keys_and_null() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("reports/partitions/partial-none/report.json");
        let text = std::fs::read_to_string(path).expect("readable");
        let mut v: serde_json::Value = serde_json::from_str(&text).expect("json");
        let r: Report = serde_json::from_value(v.clone()).expect("a report");
        let n = r.network.as_ref().expect("network");
        assert_eq!(Some(n.sent), v["network"]["sent"].as_u64());
        assert_eq!(Some(n.dropped), v["network"]["dropped"].as_u64());
        assert!(n.sent > 0 && n.messages_by_type.values().sum::<u64>() == n.sent);

        v["network"]["future_counter"] = serde_json::json!(3);
        let r: Report = serde_json::from_value(v.clone()).expect("loads");
        assert_eq!(serde_json::to_value(&r).expect("writes"), v);

        v["network"] = serde_json::Value::Null;
        let r: Report = serde_json::from_value(v.clone()).expect("loads");
        assert!(r.network.is_none());
        assert_eq!(serde_json::to_value(&r).expect("writes"), v);
    }

    /// A failure file as a sweep writes it (a report plus the `swarm`
    /// draw) from a run whose fault log was truncated: the `fault_log`
    /// totals and the fault records load into their types (what `shrink`
    /// reads), the draw stays JSON, and the file writes back unchanged.
    /// The JSON here is spelled by hand in the format reports have had.
    #[test]
    fn a_failure_file_with_a_truncated_fault_log_loads_typed() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("reports/cp-vs-ap/collab-partition-cp/report.json");
        let text = std::fs::read_to_string(path).expect("readable");
        let mut v: serde_json::Value = serde_json::from_str(&text).expect("json");
        v["swarm"] = serde_json::json!({"kinds": ["crash"], "rate_per_s": 0.5});
        v["fault_log"] = serde_json::json!({
            "truncated": true, "total": 12, "listed": 4, "cap": 4,
            "first_unlisted_ms": 2500.5,
            "counts": {"crash": {"applied": 7, "skipped": 1}, "heal": {"applied": 4, "skipped": 0}},
            "note": "the fault log is truncated"
        });
        let r: Report = serde_json::from_value(v.clone()).expect("loads");
        let log = r.fault_log.as_ref().expect("typed fault_log");
        assert_eq!((log.listed, log.total, log.cap), (4, 12, 4));
        assert_eq!(log.first_unlisted_ms, Some(2500.5));
        assert_eq!(log.counts["crash"].applied, 7);
        assert_eq!(r.other.keys().collect::<Vec<_>>(), ["swarm"]);
        // Every fault record reads into its fields.
        let faults = v["faults"].as_array().expect("faults");
        assert!(!faults.is_empty());
        for (f, j) in r.faults.iter().zip(faults) {
            assert_eq!(Some(f.at_ms), j["at_ms"].as_f64());
            assert_eq!(Some(f.kind.as_str()), j["kind"].as_str());
            assert!(f.other.is_empty(), "{f:?}");
        }
        assert!(r.faults.iter().any(|f| !f.groups.is_empty()), "a partition");
        assert_eq!(serde_json::to_value(&r).expect("writes"), v);
    }

    /// The write-back check above fails when a typed field is lost or
    /// changed: a report whose Raft section was altered after loading does
    /// not write back the file it came from.
    #[test]
    fn write_back_check_catches_a_changed_section() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("reports/partitions/partial-none/report.json");
        let text = std::fs::read_to_string(path).expect("readable");
        let mut r: Report = serde_json::from_str(&text).expect("a report");
        r.raft.as_mut().expect("raft").leadership.max_term += 1;
        assert!(write(&r) != text);
    }
}
