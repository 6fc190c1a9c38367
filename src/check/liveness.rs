//! Liveness, judged on every run (the second phase of TigerBeetle's
//! simulator): once the last fault has ended and a majority of servers is
//! up and connected, the cluster must elect a leader, and clients must
//! complete operations again, each within a window.
//!
//! The rule, exactly:
//! - **Faults end** at `settled`, the time of the last applied fault event
//!   of the run (crash, restart, pause, resume, partition, heal, isolate,
//!   link cut or restore, clock skew or reset; scripted, undo or nemesis; a
//!   skipped fault changes nothing and does not count). Nothing changes
//!   after it, so the state at the end of the run is the state from
//!   `settled` on. With no fault at all, `settled` is 0.
//! - **Judged only if nothing is still broken** at the end: no partition or
//!   link fault in force, no paused server, no clock running at a skewed
//!   rate, and a majority of servers up. Crashed servers (a minority) are
//!   allowed: a crash that is never undone is an end state a cluster must
//!   live with. Otherwise every liveness check is *not judged*, with the
//!   reason, in `checks.not_judged`.
//! - **`liveness.leader`**: a leader is known to a majority (see
//!   `metrics::raft`) at some `t` with `t - settled <= window`. The default
//!   window (10 election timeouts) is for a cluster with a spare voter and
//!   a lossless network; it is widened for the cluster the run ends with
//!   (see [`adapt_leader_window`]): x3 when only a bare majority is up, and
//!   divided by the chance that one round of vote requests and replies
//!   gets through the network's loss. An explicit
//!   `expect.leader_within_ms_after_heal` is taken as written.
//! - **`liveness.progress`**: some client operation completes (`ok` or a
//!   definite `fail`) at some `t` with `t - settled <= window`.
//! - A run that ends (or stops early) before `settled + window` without the
//!   condition met is *not judged*: it could still have been met. For
//!   progress the window must also close before clients stop issuing
//!   operations (`end - client timeout`).
//! - A run stopped by the event cap is `liveness.event_storm` and nothing
//!   else about liveness is judged.
//!
//! The tracker is streaming: `settled` only moves forward, so it keeps the
//! first leader and the first completion since the latest `settled`, in
//! O(servers) memory however long the run.

use crate::check::names::{CheckName, LivenessCheck};
use crate::fault::FaultLog;
use crate::metrics::sections::{LivenessDetail, LivenessSection, LivenessVerdict, LivenessWindow};
use crate::metrics::Checks;
use crate::time::{SimDuration, SimTime};

/// Events per simulated ms behind the default event cap.
pub const DEFAULT_EVENTS_PER_MS: u64 = 2_000;
/// The default event cap is never below this (short runs).
pub const MIN_DEFAULT_MAX_EVENTS: u64 = 1_000_000;
/// The default event cap is never above this (long runs): about ten
/// minutes of wall time at this simulator's speed.
pub const MAX_DEFAULT_MAX_EVENTS: u64 = 1_000_000_000;

/// The event cap of a run: `limits.max_events`, else
/// `DEFAULT_EVENTS_PER_MS` per simulated ms clamped to
/// `[MIN_DEFAULT_MAX_EVENTS, MAX_DEFAULT_MAX_EVENTS]`.
pub fn max_events(explicit: Option<u64>, duration_ms: f64) -> u64 {
    explicit.unwrap_or_else(|| {
        let per_ms = (duration_ms.max(0.0) * DEFAULT_EVENTS_PER_MS as f64).min(u64::MAX as f64);
        (per_ms as u64).clamp(MIN_DEFAULT_MAX_EVENTS, MAX_DEFAULT_MAX_EVENTS)
    })
}

/// The `liveness.event_storm` failure message.
pub fn event_storm_message(events: u64, cap: u64, at: SimTime, duration: SimDuration) -> String {
    format!(
        "the run dispatched {events} events by {at} (of {duration} simulated) and hit the event cap {cap} (`limits.max_events`): a runaway run, stopped"
    )
}

/// Default `liveness.leader` window: 10 x the maximum election timeout.
pub fn default_leader_window(election_timeout_max_ms: f64) -> SimDuration {
    SimDuration::from_millis_f64(10.0 * election_timeout_max_ms)
}

/// How much longer than the default window a cluster with only a bare
/// majority up gets to elect a leader. Measured on the self-test's Raft
/// settings (election timeouts 20-40 ms, no pre-vote), the leader crashed
/// and restarted 1 ms later every 250 ms for 5 s: with a spare voter (5
/// nodes, 1 down, 10 % loss; 60 seeds, 1,175 elections) the time from
/// leader loss to a new leader never exceeded 7.1 election timeouts (284
/// ms); with a bare majority it has a long tail, because every live server
/// must vote for the winner, including ones whose logs are behind and
/// which, without pre-vote, keep raising the term: 3 nodes, 1 down, 8 %
/// loss, 400 seeds: p99 7.3, max 20.6 timeouts (824 ms) over 7,683
/// elections; 5 nodes, 2 down, 10 % loss, 400 seeds: p99 11.7, max 35.6
/// timeouts (1,424 ms) over 7,144 elections, 1.6 % of them over the
/// 400 ms default window. Three times the window, with the loss factor,
/// gives those two 1,418 ms and 1,829 ms.
pub const BARE_MAJORITY_FACTOR: f64 = 3.0;

/// The widest the leader window is stretched for loss (a network losing
/// nearly every message cannot elect in any useful window).
pub const MAX_LOSS_FACTOR: f64 = 20.0;

/// The default `liveness.leader` window widened for the cluster at the end
/// of the run (`s`): x[`BARE_MAJORITY_FACTOR`] when only a bare majority of
/// servers is up, and divided by `(1 - loss)^(2 (q - 1))`, the chance that
/// a candidate's requests to the `q - 1` other voters of a quorum `q` and
/// their replies all get through (at most [`MAX_LOSS_FACTOR`]). Returns the
/// window and, when it was widened, why (for the verdict's text).
pub fn adapt_leader_window(w: SimDuration, s: &EndState) -> (SimDuration, Option<String>) {
    let quorum = s.servers / 2 + 1;
    let mut factor = 1.0;
    let mut why = Vec::new();
    if s.up == quorum && s.servers > 1 {
        factor *= BARE_MAJORITY_FACTOR;
        why.push(format!(
            "x{BARE_MAJORITY_FACTOR} with only {} of {} servers up",
            s.up, s.servers
        ));
    }
    let loss = s.loss.clamp(0.0, 1.0);
    if loss > 0.0 && quorum > 1 {
        let through = (1.0 - loss).powi(2 * (quorum as i32 - 1));
        let stretch = (1.0 / through.max(f64::MIN_POSITIVE)).min(MAX_LOSS_FACTOR);
        factor *= stretch;
        why.push(format!(
            "x{stretch:.2} for {:.1} % message loss",
            loss * 100.0
        ));
    }
    if why.is_empty() {
        return (w, None);
    }
    let widened = SimDuration::from_millis_f64(w.as_millis_f64() * factor);
    (
        widened,
        Some(format!("default window {} ms {}", ms_d(w), why.join(", "))),
    )
}

/// Default `liveness.progress` window: 5 s + 10 x the client timeout.
pub fn default_progress_window(client_timeout_ms: f64) -> SimDuration {
    SimDuration::from_millis_f64(5000.0 + 10.0 * client_timeout_ms)
}

/// Follows faults, the known leader and client completions during a run.
#[derive(Clone, Debug, Default)]
pub struct LivenessTracker {
    /// Applied (not skipped) faults folded in so far.
    seen: u64,
    settled: SimTime,
    leader_at: Option<SimTime>,
    progress_at: Option<SimTime>,
}

/// The state of the cluster at the end of a run, as the judge needs it.
#[derive(Clone, Copy, Debug)]
pub struct EndState {
    /// When the run stopped.
    pub end: SimTime,
    /// Servers up (neither crashed nor paused).
    pub up: u32,
    /// Servers paused.
    pub paused: u32,
    /// Servers in the cluster.
    pub servers: u32,
    /// A partition or link fault is in force.
    pub network_faults: bool,
    /// Servers whose clock runs at a clock fault's rate (a drifting clock,
    /// `clocks.drift_ppm`, is not a fault).
    pub skewed: u32,
    /// The run was stopped by the event cap.
    pub event_storm: bool,
    /// The highest message loss probability the scenario sets on any link
    /// between servers (faults aside: a fault still in force stops the
    /// judging anyway).
    pub loss: f64,
}

/// What to judge and within which windows.
#[derive(Clone, Copy, Debug)]
pub struct Windows {
    /// `liveness.leader` window, if the run has a Raft leader to elect.
    pub leader: Option<SimDuration>,
    /// The leader window is the default one, to be widened for the cluster
    /// the run ends with ([`adapt_leader_window`]); `false` for a window the
    /// scenario states.
    pub leader_adapts: bool,
    /// `liveness.progress` window and the time clients stop issuing
    /// operations, if there is a client workload.
    pub progress: Option<(SimDuration, SimTime)>,
}

impl LivenessTracker {
    /// A tracker with nothing settled before time 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// Fold in the faults applied since the last call. Only the log's
    /// running state is read (how many faults were applied, when the
    /// latest was), never its records, so a truncated log judges the same.
    pub fn faults(&mut self, log: &FaultLog) {
        if log.applied() > self.seen {
            let at = log.last_applied_at().expect("an applied fault has a time");
            self.settled = self.settled.max(at);
            self.leader_at = None;
            self.progress_at = None;
            self.seen = log.applied();
        }
    }

    /// Whether a leader is known to a majority now (call after `faults`).
    pub fn leader(&mut self, now: SimTime, known: bool) {
        if known && self.leader_at.is_none() {
            self.leader_at = Some(now);
        }
    }

    /// A client operation completed now.
    pub fn progress(&mut self, now: SimTime) {
        if self.progress_at.is_none() {
            self.progress_at = Some(now);
        }
    }

    /// When the last fault ended.
    pub fn settled(&self) -> SimTime {
        self.settled
    }

    /// Why liveness cannot be judged at the end, if it cannot (shared
    /// with `check::workflow_liveness`).
    pub fn unjudgeable(s: &EndState) -> Option<String> {
        if s.event_storm {
            return Some("the run was stopped by the event cap".into());
        }
        let mut active = Vec::new();
        if s.network_faults {
            active.push("a partition or link fault".to_string());
        }
        if s.paused > 0 {
            active.push(format!("{} paused server(s)", s.paused));
        }
        if s.skewed > 0 {
            active.push(format!("{} skewed clock(s)", s.skewed));
        }
        if s.up * 2 <= s.servers {
            active.push(format!(
                "only {} of {} servers up (no majority)",
                s.up, s.servers
            ));
        }
        (!active.is_empty()).then(|| {
            format!(
                "faults still active at the end ({} ms): {}",
                ms(s.end),
                active.join(", ")
            )
        })
    }

    /// Judge one condition: first seen at `at`, window `w`, verdict horizon
    /// `horizon` (after it the run could not have shown the condition).
    fn judge_one(
        &self,
        what: &str,
        at: Option<SimTime>,
        w: SimDuration,
        why: Option<&str>,
        horizon: SimTime,
        end: SimTime,
    ) -> Verdict {
        let deadline = SimTime(self.settled.0.saturating_add(w.0));
        let head = format!(
            "faults ended at {} ms; window {} ms (until {} ms{})",
            ms(self.settled),
            ms_d(w),
            ms(deadline),
            why.map(|y| format!("; {y}")).unwrap_or_default()
        );
        match at {
            Some(t) if t <= deadline => Verdict::Held(t),
            Some(t) => Verdict::Failed(format!(
                "{head}: {what} only at {} ms ({} ms after the faults ended)",
                ms(t),
                ms_d(t.saturating_since(self.settled))
            )),
            None if deadline <= horizon => Verdict::Failed(format!(
                "{head}: no {what} by the end of the run at {} ms",
                ms(end)
            )),
            None => {
                Verdict::NotJudged(format!(
                "{head}: the run ended at {} ms{}, before the window closed, with no {what} yet",
                ms(end),
                if horizon < end {
                    format!(" (clients stopped issuing operations at {} ms)", ms(horizon))
                } else {
                    String::new()
                }
            ))
            }
        }
    }

    /// Record `liveness.leader` and `liveness.progress` (those `windows`
    /// asks for) in `checks`; returns the report's `liveness` section.
    pub fn judge(&self, s: &EndState, windows: &Windows, checks: &mut Checks) -> LivenessSection {
        let blocked = Self::unjudgeable(s);
        let mut section = LivenessSection {
            faults_ended_ms: Some(ms(self.settled)),
            ..LivenessSection::default()
        };
        let mut one = |check: LivenessCheck,
                       what: &str,
                       at: Option<SimTime>,
                       (w, widened): (SimDuration, Option<String>),
                       horizon| {
            let check = CheckName::Liveness(check);
            let verdict = match &blocked {
                Some(why) => Verdict::NotJudged(why.clone()),
                None => self.judge_one(what, at, w, widened.as_deref(), horizon, s.end),
            };
            let (verdict, detail) = match verdict {
                Verdict::Held(t) => {
                    checks.record(check, None);
                    (LivenessVerdict::Held, LivenessDetail::AtMs(ms(t)))
                }
                Verdict::Failed(m) => {
                    checks.record(check, Some(m.clone()));
                    (LivenessVerdict::Failed, LivenessDetail::Text(m))
                }
                Verdict::NotJudged(m) => {
                    checks.not_judged(check, m.clone());
                    (LivenessVerdict::NotJudged, LivenessDetail::Text(m))
                }
            };
            Some(LivenessWindow {
                window_ms: ms_d(w),
                verdict,
                detail,
                ..LivenessWindow::default()
            })
        };
        if let Some(w) = windows.leader {
            // Widened only when judged: a blocked verdict keeps the
            // window the run would have been judged against with no faults.
            let w = if windows.leader_adapts && blocked.is_none() {
                adapt_leader_window(w, s)
            } else {
                (w, None)
            };
            section.leader = one(
                LivenessCheck::Leader,
                "leader known to a majority",
                self.leader_at,
                w,
                s.end,
            );
        }
        if let Some((w, stop)) = windows.progress {
            section.progress = one(
                LivenessCheck::Progress,
                "client operation completed",
                self.progress_at,
                (w, None),
                stop.min(s.end),
            );
        }
        section
    }
}

enum Verdict {
    Held(SimTime),
    Failed(String),
    NotJudged(String),
}

fn ms(t: SimTime) -> f64 {
    t.as_millis_f64()
}

fn ms_d(d: SimDuration) -> f64 {
    d.as_millis_f64()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::AppliedFault;
    use crate::ids::NodeId;

    fn state(end_ms: u64) -> EndState {
        EndState {
            end: SimTime::ZERO + SimDuration::from_millis(end_ms),
            up: 5,
            paused: 0,
            servers: 5,
            network_faults: false,
            skewed: 0,
            event_storm: false,
            loss: 0.0,
        }
    }

    fn at(ms: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_millis(ms)
    }

    fn leader_only(w_ms: u64) -> Windows {
        Windows {
            leader: Some(SimDuration::from_millis(w_ms)),
            leader_adapts: true,
            progress: None,
        }
    }

    /// A leader seen within the window after the last fault holds; one
    /// seen before that fault does not count.
    #[test]
    fn leader_after_last_fault_within_window_holds() {
        let mut t = LivenessTracker::new();
        t.leader(at(10), true);
        let mut log = FaultLog::default();
        let mut crash = AppliedFault::new(at(1000), "crash", "scripted");
        crash.nodes = vec![NodeId(0)];
        log.push(crash);
        t.faults(&log);
        let mut c = Checks::default();
        t.judge(&state(5000), &leader_only(1000), &mut c);
        assert_eq!(c.failures[0].check, "liveness.leader");
        assert!(c.failures[0].message.contains("faults ended at 1000 ms"));
        t.leader(at(1500), true);
        let mut c = Checks::default();
        t.judge(&state(5000), &leader_only(1000), &mut c);
        assert!(c.failures.is_empty() && c.ran == ["liveness.leader"]);
    }

    /// A run that ends inside the window without a leader is not judged;
    /// a skewed clock at the end is not judged either.
    #[test]
    fn unfinished_window_and_active_faults_are_not_judged() {
        let t = LivenessTracker::new();
        let mut c = Checks::default();
        t.judge(&state(500), &leader_only(1000), &mut c);
        assert!(c.failures.is_empty() && c.ran.is_empty());
        assert_eq!(c.not_judged[0].check, "liveness.leader");
        let mut c = Checks::default();
        let skewed = EndState {
            skewed: 1,
            ..state(5000)
        };
        t.judge(&skewed, &leader_only(1000), &mut c);
        assert!(c.not_judged[0].reason.contains("skewed clock"));
    }

    /// A tracker whose faults ended at `settled_ms`.
    fn settled_at(settled_ms: u64) -> LivenessTracker {
        let mut t = LivenessTracker::new();
        let mut log = FaultLog::default();
        let mut crash = AppliedFault::new(at(settled_ms), "crash", "scripted");
        crash.nodes = vec![NodeId(4)];
        log.push(crash);
        t.faults(&log);
        t
    }

    /// With only a bare majority up, the default window is three times
    /// longer; a window the scenario states is not widened; a cluster
    /// that never elects still fails once the widened window has passed.
    #[test]
    fn bare_majority_widens_the_default_window_only() {
        let bare = EndState {
            up: 3,
            ..state(5000)
        };
        let mut t = settled_at(1000);
        t.leader(at(1900), true);
        let mut c = Checks::default();
        let section = t.judge(&bare, &leader_only(400), &mut c);
        assert!(
            c.failures.is_empty() && c.ran == ["liveness.leader"],
            "{c:?}"
        );
        assert_eq!(section.leader.map(|l| l.window_ms), Some(1200.0));
        let stated = Windows {
            leader_adapts: false,
            ..leader_only(400)
        };
        let mut c = Checks::default();
        t.judge(&bare, &stated, &mut c);
        assert_eq!(c.failures[0].check, "liveness.leader");
        let never = settled_at(1000);
        let mut c = Checks::default();
        never.judge(&bare, &leader_only(400), &mut c);
        assert_eq!(c.failures[0].check, "liveness.leader");
        assert!(
            c.failures[0]
                .message
                .contains("x3 with only 3 of 5 servers up"),
            "{}",
            c.failures[0].message
        );
        // A spare voter: the window stays 400 ms.
        let spare = EndState {
            up: 4,
            ..state(5000)
        };
        assert_eq!(
            adapt_leader_window(SimDuration::from_millis(400), &spare),
            (SimDuration::from_millis(400), None)
        );
    }

    /// Loss stretches the window by the chance that one round of votes
    /// gets through: 10 % loss on 5 servers (2 votes, 4 messages) is
    /// 1 / 0.9^4; loss 1 is capped.
    #[test]
    fn loss_stretches_the_default_window() {
        let lossy = EndState {
            loss: 0.1,
            ..state(5000)
        };
        let (w, why) = adapt_leader_window(SimDuration::from_millis(400), &lossy);
        let expect = 400.0 / 0.9f64.powi(4);
        assert!((w.as_millis_f64() - expect).abs() < 0.01, "{w:?}");
        assert!(why.unwrap().contains("10.0 % message loss"));
        let dead = EndState {
            loss: 1.0,
            up: 3,
            ..state(5000)
        };
        let (w, _) = adapt_leader_window(SimDuration::from_millis(400), &dead);
        assert_eq!(w, SimDuration::from_millis(400 * 3 * 20));
    }

    /// The default cap scales with the duration, within its bounds.
    #[test]
    fn default_event_cap_is_clamped() {
        assert_eq!(max_events(Some(7), 1e9), 7);
        assert_eq!(max_events(None, 1.0), MIN_DEFAULT_MAX_EVENTS);
        assert_eq!(max_events(None, 10_000.0), 20_000_000);
        assert_eq!(max_events(None, 1e12), MAX_DEFAULT_MAX_EVENTS);
    }
}
