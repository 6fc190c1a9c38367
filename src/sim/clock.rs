//! Per-node clocks: the drift and timer-jitter model a scenario asks for,
//! and the clock that maps true simulated time to a node's local time.

use crate::rng::SimRng;
use crate::time::{SimDuration, SimTime};

/// Imperfect clocks, as real machines have them. Each node draws a drift
/// once per life (uniform in `drift_ppm`, from its own `clock/<i>` stream)
/// that scales its local clock and its timers; every timer fires late by
/// a uniform draw in `timer_jitter` (true time). The default is perfect:
/// no draws, so traces of scenarios without a `clocks` block are the same
/// as before the model existed. Without jitter, simulated timers fire at
/// the exact microsecond, so nodes whose timers were armed together stay
/// in lockstep, which real clocks never do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClockModel {
    /// Drift range in parts per million, inclusive (`[-100, 100]` is a
    /// typical quartz oscillator); `[0, 0]` draws nothing.
    pub drift_ppm: [i64; 2],
    /// Extra timer delay range, inclusive; `[0, 0]` draws nothing.
    pub timer_jitter: [SimDuration; 2],
}

impl ClockModel {
    pub(super) fn drifts(&self) -> bool {
        self.drift_ppm != [0, 0]
    }
    pub(super) fn jitters(&self) -> bool {
        self.timer_jitter[1] > SimDuration::ZERO
    }
}

/// Per-node clock: local = base_local + (true - base_true) * rate.
#[derive(Clone, Copy, Debug)]
pub(super) struct Clock {
    pub(super) rate_ppm: u64,
    pub(super) base_true: SimTime,
    pub(super) base_local: SimTime,
}

impl Clock {
    pub(super) const TRUE_RATE: u64 = 1_000_000;

    pub(super) fn local(&self, now: SimTime) -> SimTime {
        if self.rate_ppm == Self::TRUE_RATE {
            return SimTime(self.base_local.0 + (now.0 - self.base_true.0));
        }
        let elapsed = (now.0 - self.base_true.0) as u128 * self.rate_ppm as u128 / 1_000_000;
        SimTime(self.base_local.0 + elapsed as u64)
    }

    /// Real time for a local-clock span: a fast clock fires timers early.
    /// A span that is not zero never maps to zero: on a fast clock a 1 µs
    /// timer would otherwise fire in the same true microsecond, see the
    /// same local time, re-arm for 1 µs and loop forever (an agent's result
    /// retry under an `agent_clock` nemesis did, 240 M events at one
    /// instant).
    pub(super) fn real(&self, local: SimDuration) -> SimDuration {
        if self.rate_ppm == Self::TRUE_RATE {
            return local;
        }
        let real = (local.0 as u128 * 1_000_000 / self.rate_ppm as u128) as u64;
        SimDuration(if local.0 > 0 { real.max(1) } else { 0 })
    }

    pub(super) fn set_rate(&mut self, now: SimTime, rate_ppm: u64) {
        self.base_local = self.local(now);
        self.base_true = now;
        self.rate_ppm = rate_ppm.max(1);
    }
}

/// A drift draw: the clock rate in ppm of true time.
pub(super) fn draw_rate(model: &ClockModel, rng: &mut SimRng) -> u64 {
    let [lo, hi] = model.drift_ppm;
    let span = (hi - lo) as u64;
    let drift = lo + rng.range_inclusive(0, span) as i64;
    (Clock::TRUE_RATE as i64 + drift) as u64
}
