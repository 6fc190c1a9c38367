//! The dispatcher's per-agent circuit breaker: closed → open after
//! `failures` consecutive failures → half-open after `open_for` (one probe
//! assignment allowed) → closed on the probe's success, open again on its
//! failure.

use crate::time::{SimDuration, SimTime};

/// Breaker state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakerState {
    /// Normal: assignments flow.
    Closed,
    /// Tripped: no assignments until `until`.
    Open {
        /// When a probe may be tried.
        until: SimTime,
    },
    /// One probe in flight (or allowed).
    HalfOpen {
        /// A probe was handed out.
        probing: bool,
    },
}

/// One agent's breaker.
#[derive(Clone, Debug)]
pub struct Breaker {
    state: BreakerState,
    consecutive: u32,
    failures: u32,
    open_for: SimDuration,
    trips: u64,
}

impl Breaker {
    /// Closed, tripping after `failures` consecutive failures.
    pub fn new(failures: u32, open_for: SimDuration) -> Self {
        Breaker {
            state: BreakerState::Closed,
            consecutive: 0,
            failures: failures.max(1),
            open_for,
            trips: 0,
        }
    }
    /// Current state (an expired open state reads as half-open).
    pub fn state(&self, now: SimTime) -> BreakerState {
        match self.state {
            BreakerState::Open { until } if now >= until => {
                BreakerState::HalfOpen { probing: false }
            }
            s => s,
        }
    }
    /// Times it tripped.
    pub fn trips(&self) -> u64 {
        self.trips
    }
    /// May an assignment go to this agent now?
    pub fn allows(&self, now: SimTime) -> bool {
        match self.state(now) {
            BreakerState::Closed => true,
            BreakerState::Open { .. } => false,
            BreakerState::HalfOpen { probing } => !probing,
        }
    }
    /// An assignment was handed out (in half-open: the probe).
    pub fn on_assign(&mut self, now: SimTime) {
        if let BreakerState::HalfOpen { .. } = self.state(now) {
            self.state = BreakerState::HalfOpen { probing: true };
        }
    }
    /// A success: close.
    pub fn on_success(&mut self) {
        self.consecutive = 0;
        self.state = BreakerState::Closed;
    }
    /// A failure; true if this tripped the breaker (closed or half-open →
    /// open).
    pub fn on_failure(&mut self, now: SimTime) -> bool {
        self.consecutive += 1;
        let trip = match self.state(now) {
            BreakerState::Closed => self.consecutive >= self.failures,
            BreakerState::HalfOpen { .. } => true,
            BreakerState::Open { .. } => false,
        };
        if trip {
            self.state = BreakerState::Open {
                until: now + self.open_for,
            };
            self.trips += 1;
        }
        trip
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Closed → open after N failures → half-open after `open_ms` with one
    /// probe → open again on a failed probe → closed on a good one.
    #[test]
    fn breaker_cycle() {
        let t = |ms: u64| SimTime(ms * 1000);
        let mut b = Breaker::new(2, SimDuration::from_millis(100));
        assert!(!b.on_failure(t(0)));
        assert!(b.allows(t(0)));
        assert!(b.on_failure(t(1)));
        assert!(!b.allows(t(50)));
        assert!(b.allows(t(101)));
        b.on_assign(t(101));
        assert!(!b.allows(t(102)), "one probe at a time");
        assert!(b.on_failure(t(110)), "a failed probe re-opens");
        assert!(!b.allows(t(150)));
        b.on_assign(t(211));
        b.on_success();
        assert_eq!(b.state(t(212)), BreakerState::Closed);
        assert_eq!(b.trips(), 2);
    }
}
