//! Configuration validation and what a node reports about it.

use super::*;

/// A heartbeat must be positive and shorter than the election timeout
/// (else followers time out between heartbeats); each half of the rule
/// rejects on its own.
#[test]
fn config_rejects_a_zero_or_too_slow_heartbeat() {
    let with = |ms: u64| RaftConfig {
        heartbeat: SimDuration::from_millis(ms),
        ..RaftConfig::default()
    };
    for ms in [0, 150, 200] {
        assert!(with(ms).validate().is_err(), "heartbeat {ms} ms");
    }
    assert!(with(149).validate().is_ok());
}

/// A node reports the configuration it was built with (embedders read it).
#[test]
fn node_reports_its_configuration() {
    let cfg = RaftConfig {
        nodes: 5,
        snapshot_every: 7,
        ..RaftConfig::default()
    };
    let c = Cluster::with(cfg.clone());
    assert_eq!(c.node(4).config(), &cfg);
}
