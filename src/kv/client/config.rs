//! The client's settings: one closed-loop client's think time, operation
//! mix, key space and retry timings, and the checks a config must pass.

use crate::time::{SimDuration, SimTime};

/// How a client behaves. Durations are on the client's local clock.
#[derive(Clone, Debug, PartialEq)]
pub struct ClientConfig {
    /// Client number: the history's `process`, and the prefix of its
    /// write values.
    pub index: u32,
    /// Cluster size: the servers are `NodeId(0..servers)`.
    pub servers: u32,
    /// Mean of the exponential gap between one invocation and the next
    /// (the next waits for the previous to complete).
    pub think: SimDuration,
    /// Relative weights of read, write and cas (normalised; must be
    /// non-negative with a positive sum).
    pub mix: [f64; 3],
    /// Keys are drawn uniformly from `0..keys`.
    pub keys: u32,
    /// Give up on an operation (record info) this long after invoking it.
    pub timeout: SimDuration,
    /// Resend to another server if no answer came this long after a send.
    pub retry_after: SimDuration,
    /// Backoff after a redirect with a hint; base of the exponential
    /// backoff without one.
    pub backoff_min: SimDuration,
    /// Cap of the exponential backoff.
    pub backoff_max: SimDuration,
    /// No new operation is invoked at or after this time.
    pub stop_at: SimTime,
    /// Record history events (see [`KvClient::step_events`](super::KvClient::step_events)); off, the
    /// client records nothing.
    pub record_history: bool,
}

impl ClientConfig {
    /// The preconditions [`KvClient::new`](super::KvClient::new) asserts, as an error: scenario
    /// validation calls this too, so a validated scenario never builds a
    /// client that panics.
    pub fn check(&self) -> Result<(), String> {
        if self.servers == 0 {
            return Err("a client needs at least one server".into());
        }
        if self.keys == 0 {
            return Err("a client needs at least one key".into());
        }
        if !self.mix.iter().all(|w| w.is_finite() && *w >= 0.0) {
            return Err(format!(
                "mix weights must be finite and non-negative: {:?}",
                self.mix
            ));
        }
        if self.mix.iter().sum::<f64>() <= 0.0 {
            return Err("mix weights must not all be zero".into());
        }
        if self.backoff_min > self.backoff_max {
            return Err(format!(
                "backoff_min {} exceeds backoff_max {}",
                self.backoff_min, self.backoff_max
            ));
        }
        if self.retry_after == SimDuration::ZERO {
            return Err("retry_after must be positive (the timeout rounds to 0 µs)".into());
        }
        Ok(())
    }

    /// Defaults for client `index` of a `servers`-node cluster: 10 ms think
    /// time, mix 50/30/20 read/write/cas over 3 keys, 1 s timeout, resend
    /// after 100 ms, backoff 5..200 ms, and no stop time.
    pub fn new(index: u32, servers: u32) -> Self {
        ClientConfig {
            index,
            servers,
            think: SimDuration::from_millis(10),
            mix: [0.5, 0.3, 0.2],
            keys: 3,
            timeout: SimDuration::from_millis(1000),
            retry_after: SimDuration::from_millis(100),
            backoff_min: SimDuration::from_millis(5),
            backoff_max: SimDuration::from_millis(200),
            stop_at: SimTime(u64::MAX),
            record_history: true,
        }
    }
}
