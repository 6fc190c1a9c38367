//! The fault part of a report: `faults` (one [`FaultRecord`] per applied or
//! skipped fault, in order) and, when the run logged more records than the
//! cap lets the report list, `fault_log` ([`FaultLogSummary`]). Both are
//! file formats scripts and `shrink` read back, so the keys and their
//! order are the ones the report has always had.

use crate::fault::{AppliedFault, FaultLog};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// One applied (or skipped) fault as the report lists it: the scenario
/// fault it amounts to (so a nemesis run can be rewritten as a scripted
/// one), plus where it came from and whether it was skipped.
///
/// Fields are declared in key order: a report writes them directly, and
/// the file has always had its keys sorted. Optional keys are absent, not
/// `null`, when they do not apply.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FaultRecord {
    /// When, ms of virtual time.
    pub at_ms: f64,
    /// A link fault in both directions (absent when one way).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub both_ways: bool,
    /// A link fault's loss probability.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drop: Option<f64>,
    /// A link fault's extra latency, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_latency_ms: Option<f64>,
    /// A partition's groups, node ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<Vec<u32>>,
    /// Scenario kind name (`crash`, `restart`, `resume`, `heal`, ...).
    pub kind: String,
    /// Concrete nodes affected (for `link`: `[from, to]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<u32>,
    /// The crash point of a `crash_at` crash or rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub point: Option<String>,
    /// A clock fault's rate (1.0 = true time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    /// Why it was skipped, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// `scripted`, `nemesis` or `undo`.
    #[serde(default)]
    pub source: String,
    /// Keys another version wrote, kept so a report loads and writes back.
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

impl FaultRecord {
    /// The report's record of an applied fault.
    pub fn of(f: &AppliedFault) -> FaultRecord {
        FaultRecord {
            at_ms: f.at.as_millis_f64(),
            both_ways: f.both_ways,
            drop: f.drop,
            extra_latency_ms: f.extra_latency.map(|d| d.as_millis_f64()),
            groups: f
                .groups
                .iter()
                .map(|g| g.iter().map(|n| n.0).collect())
                .collect(),
            kind: f.kind.to_string(),
            nodes: f.nodes.iter().map(|n| n.0).collect(),
            point: f.point.map(str::to_string),
            rate: f.rate_ppm.map(|r| r as f64 / 1e6),
            skipped: f.skipped.clone(),
            source: f.source.to_string(),
            other: BTreeMap::new(),
        }
    }

    /// True when the fault was skipped (changed nothing).
    pub fn is_skipped(&self) -> bool {
        self.skipped.is_some()
    }
}

/// An applied fault as JSON (the `fault` of a `--trace` line): the same
/// object the report lists.
pub fn fault_json(f: &AppliedFault) -> Value {
    serde_json::to_value(FaultRecord::of(f)).expect("a fault record serializes")
}

/// Records of one fault kind in a truncated log.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FaultCount {
    /// Records that changed something.
    pub applied: u64,
    /// Records that were skipped.
    pub skipped: u64,
}

/// The report's `fault_log` key, present only when the log was truncated
/// (so reports of runs under the cap are as before): totals, counts per
/// kind and the note that `faults` lists only the first records.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FaultLogSummary {
    /// Always true (the key is absent otherwise).
    pub truncated: bool,
    /// Fault records the run logged.
    pub total: u64,
    /// Records `faults` lists (the first ones).
    pub listed: u64,
    /// The fault-log cap.
    pub cap: u64,
    /// When the first record not listed happened, ms.
    pub first_unlisted_ms: Option<f64>,
    /// Every record, listed or not, per kind.
    pub counts: BTreeMap<String, FaultCount>,
    /// What the truncation means, for a reader of the file.
    pub note: String,
}

impl FaultLogSummary {
    /// The summary of `log`, if it was truncated.
    pub fn of(log: &FaultLog) -> Option<FaultLogSummary> {
        let note = log.note()?;
        Some(FaultLogSummary {
            truncated: true,
            total: log.total(),
            listed: log.kept().len() as u64,
            cap: log.cap() as u64,
            first_unlisted_ms: log.first_dropped_at().map(|t| t.as_millis_f64()),
            counts: log
                .counts()
                .iter()
                .map(|(k, c)| {
                    (
                        k.to_string(),
                        FaultCount {
                            applied: c.applied,
                            skipped: c.skipped,
                        },
                    )
                })
                .collect(),
            note,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::NodeId;
    use crate::time::{SimDuration, SimTime};

    /// A record writes the keys the report always had, sorted, optional
    /// ones absent (not `null`) when they do not apply, and reads back.
    #[test]
    fn fault_record_keeps_the_file_format() {
        let mut f = AppliedFault::new(SimTime(1_500), "link", "nemesis");
        f.nodes = vec![NodeId(1), NodeId(2)];
        f.both_ways = true;
        f.drop = Some(0.5);
        f.extra_latency = Some(SimDuration::from_millis_f64(3.0));
        let text = serde_json::to_string(&FaultRecord::of(&f)).unwrap();
        assert_eq!(
            text,
            r#"{"at_ms":1.5,"both_ways":true,"drop":0.5,"extra_latency_ms":3.0,"kind":"link","nodes":[1,2],"source":"nemesis"}"#
        );
        let back: FaultRecord = serde_json::from_str(&text).unwrap();
        assert_eq!(back, FaultRecord::of(&f));

        let mut c = AppliedFault::new(SimTime(2_000), "clock", "scripted");
        c.nodes = vec![NodeId(0)];
        c.rate_ppm = Some(2_000_000);
        c.skipped = Some("node down".into());
        assert_eq!(
            serde_json::to_string(&FaultRecord::of(&c)).unwrap(),
            r#"{"at_ms":2.0,"kind":"clock","nodes":[0],"rate":2.0,"skipped":"node down","source":"scripted"}"#
        );
    }

    /// A key this version does not know is kept and written back (after
    /// the known ones: only a foreign file's key order can change).
    #[test]
    fn fault_record_keeps_unknown_keys() {
        let text = r#"{"at_ms":1.0,"future":7,"kind":"crash","nodes":[0],"source":"nemesis"}"#;
        let r: FaultRecord = serde_json::from_str(text).unwrap();
        assert_eq!(r.other["future"], 7);
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"at_ms":1.0,"kind":"crash","nodes":[0],"source":"nemesis","future":7}"#
        );
    }
}
