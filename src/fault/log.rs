//! The run's applied-fault log, bounded: the first `cap` records (default
//! [`DEFAULT_FAULT_LOG_CAP`]), counts per kind over the whole run, and a
//! short window of the newest records for readers that follow the log
//! event by event (the history's nemesis entries). Validation caps
//! scripted faults and the nemesis rate, and the event cap ends storms,
//! but a week-long run with a fault every millisecond would still log
//! ~6 x 10^8 records; this keeps the log's memory fixed whatever the run.
//!
//! Readers that need the whole run get running state instead of the list:
//! [`FaultLog::applied`] and [`FaultLog::last_applied_at`] are all the
//! liveness judge needs (when the last fault ended), and
//! [`FaultLog::first_dropped_at`] tells `shrink` how far the kept records
//! describe the run.

use super::AppliedFault;
use crate::time::SimTime;
use std::collections::{BTreeMap, VecDeque};

/// Records kept by default. No shipped scenario comes near it (the most
/// fault-heavy, `scenarios/fig16/25-50.json`, logs 2,107), so reports of
/// normal runs hold every fault.
pub const DEFAULT_FAULT_LOG_CAP: usize = 10_000;

/// Newest records kept past the cap, for readers that follow the log
/// after every event: one event logs one fault record, so any reader that
/// looks after each event is never more than this far behind.
pub const FAULT_LOG_RECENT: usize = 64;

/// Records of one fault kind over the whole run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KindCount {
    /// Records that changed something.
    pub applied: u64,
    /// Records that were skipped (no leader, `max_down` reached, ...).
    pub skipped: u64,
}

/// The bounded fault log of a run (see the module docs).
#[derive(Clone, Debug)]
pub struct FaultLog {
    cap: usize,
    kept: Vec<AppliedFault>,
    /// The newest records not in `kept`, at most [`FAULT_LOG_RECENT`].
    recent: VecDeque<AppliedFault>,
    total: u64,
    counts: BTreeMap<&'static str, KindCount>,
    applied: u64,
    last_applied_at: Option<SimTime>,
    first_dropped_at: Option<SimTime>,
}

impl Default for FaultLog {
    fn default() -> Self {
        FaultLog::new(DEFAULT_FAULT_LOG_CAP)
    }
}

impl FaultLog {
    /// An empty log that keeps the first `cap` records.
    pub fn new(cap: usize) -> Self {
        FaultLog {
            cap,
            kept: Vec::new(),
            recent: VecDeque::new(),
            total: 0,
            counts: BTreeMap::new(),
            applied: 0,
            last_applied_at: None,
            first_dropped_at: None,
        }
    }

    /// Append a record (records come in time order).
    pub fn push(&mut self, f: AppliedFault) {
        if let Some(last) = self.last() {
            assert!(f.at >= last.at, "fault log out of time order");
        }
        self.total += 1;
        let c = self.counts.entry(f.kind).or_default();
        if f.skipped.is_some() {
            c.skipped += 1;
        } else {
            c.applied += 1;
            self.applied += 1;
            self.last_applied_at = Some(f.at);
        }
        if self.kept.len() < self.cap {
            self.kept.push(f);
            return;
        }
        self.first_dropped_at.get_or_insert(f.at);
        if self.recent.len() == FAULT_LOG_RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back(f);
    }

    /// The records kept: the first [`FaultLog::cap`] of the run, in order.
    pub fn kept(&self) -> &[AppliedFault] {
        &self.kept
    }

    /// How many records are kept at most.
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Records logged over the whole run.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// True if some records were not kept.
    pub fn truncated(&self) -> bool {
        self.total > self.kept.len() as u64
    }

    /// The newest record, kept or not.
    pub fn last(&self) -> Option<&AppliedFault> {
        self.recent.back().or(self.kept.last())
    }

    /// Records per fault kind over the whole run.
    pub fn counts(&self) -> &BTreeMap<&'static str, KindCount> {
        &self.counts
    }

    /// Records that were not skipped, over the whole run.
    pub fn applied(&self) -> u64 {
        self.applied
    }

    /// When the newest record that was not skipped happened.
    pub fn last_applied_at(&self) -> Option<SimTime> {
        self.last_applied_at
    }

    /// When the first record that was not kept happened (None: nothing
    /// dropped). The kept records describe every fault before this time.
    pub fn first_dropped_at(&self) -> Option<SimTime> {
        self.first_dropped_at
    }

    /// Records number `seen..total` (numbered from 0 in log order), for a
    /// reader that follows the log. Panics if some of them are gone: a
    /// reader must look at least every [`FAULT_LOG_RECENT`] records.
    pub fn since(&self, seen: u64) -> impl Iterator<Item = &AppliedFault> {
        let kept = self.kept.len() as u64;
        let oldest_recent = self.total - self.recent.len() as u64;
        let start = seen.max(kept);
        assert!(
            start >= oldest_recent || start >= self.total,
            "fault log reader fell behind: record {start} is no longer held (oldest held past the cap: {oldest_recent})"
        );
        let from_kept = &self.kept[seen.min(kept) as usize..];
        let skip = start.saturating_sub(oldest_recent) as usize;
        from_kept.iter().chain(self.recent.iter().skip(skip))
    }

    /// The report's note on a truncated log, if it is truncated.
    pub fn note(&self) -> Option<String> {
        self.truncated().then(|| {
            format!(
                "the fault log is truncated: the run logged {} fault records and `faults` lists the first {} (the fault-log cap); the faults from {} ms on are counted per kind in `fault_log.counts` but not listed",
                self.total,
                self.kept.len(),
                self.first_dropped_at.map_or(0.0, |t| t.as_millis_f64())
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(ms: u64, kind: &'static str, skipped: bool) -> AppliedFault {
        let mut f = AppliedFault::new(SimTime(ms * 1000), kind, "nemesis");
        if skipped {
            f.skipped = Some("no leader".into());
        }
        f
    }

    /// Past the cap the log keeps the first records, counts every one,
    /// and still hands each new record to a reader that follows it.
    #[test]
    fn keeps_the_first_records_and_counts_all() {
        let mut log = FaultLog::new(3);
        let mut seen = 0;
        let mut followed = Vec::new();
        for i in 0..1000u64 {
            log.push(rec(
                i,
                if i % 2 == 0 { "crash" } else { "restart" },
                i % 10 == 9,
            ));
            followed.extend(log.since(seen).map(|f| f.at));
            seen = log.total();
        }
        assert_eq!(log.kept().len(), 3);
        assert_eq!(log.total(), 1000);
        assert!(log.truncated());
        assert_eq!(log.kept()[2].at, SimTime(2000));
        assert_eq!(log.first_dropped_at(), Some(SimTime(3000)));
        assert_eq!(
            log.counts()["crash"],
            KindCount {
                applied: 500,
                skipped: 0
            }
        );
        assert_eq!(
            log.counts()["restart"],
            KindCount {
                applied: 400,
                skipped: 100
            }
        );
        assert_eq!(log.applied(), 900);
        assert_eq!(log.last_applied_at(), Some(SimTime(998_000)));
        assert_eq!(log.last().unwrap().at, SimTime(999_000));
        assert_eq!(
            followed,
            (0..1000).map(|i| SimTime(i * 1000)).collect::<Vec<_>>()
        );
        assert!(log.note().unwrap().contains("logged 1000 fault records"));
        assert!(log.recent.len() <= FAULT_LOG_RECENT);
    }

    /// A reader that falls more than the recent window behind is told so,
    /// instead of silently missing records.
    #[test]
    #[should_panic(expected = "fell behind")]
    fn a_reader_too_far_behind_panics() {
        let mut log = FaultLog::new(2);
        for i in 0..200 {
            log.push(rec(i, "crash", false));
        }
        let _ = log.since(5).count();
    }

    /// Under the cap nothing is dropped and there is no note.
    #[test]
    fn under_the_cap_is_the_whole_log() {
        let mut log = FaultLog::new(10);
        for i in 0..10 {
            log.push(rec(i, "pause", false));
        }
        assert!(!log.truncated());
        assert_eq!(log.note(), None);
        assert_eq!(log.since(4).count(), 6);
        assert_eq!(log.since(10).count(), 0);
    }
}
