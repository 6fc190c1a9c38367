//! The fault types' well-formedness assertions: each fires on a broken
//! fault and stays quiet on a good one.

use super::*;

fn at(action: FaultAction) -> ScheduledFault {
    ScheduledFault {
        at: SimTime::ZERO,
        action,
        every: None,
        jitter: SimDuration::ZERO,
        stable: None,
    }
}

fn link(drop: f64, from: u32, to: u32) -> FaultAction {
    FaultAction::Link {
        from: Target::Node(NodeId(from)),
        to: Target::Node(NodeId(to)),
        both_ways: false,
        drop,
        extra_latency: SimDuration::ZERO,
        duration: Some(SimDuration::from_millis(10)),
    }
}

fn nemesis() -> NemesisConfig {
    NemesisConfig {
        mean_interval: SimDuration::from_millis(100),
        kinds: vec![NemesisKind::Crash],
        duration_min: SimDuration::from_millis(10),
        duration_max: SimDuration::from_millis(20),
        max_down: 1,
        until: None,
    }
}

/// Good faults of every kind pass.
#[test]
fn well_formed_faults_pass() {
    let window = Some(SimDuration::from_millis(5));
    let n = Target::Node(NodeId(1));
    for action in [
        FaultAction::Crash {
            node: n,
            restart_after: Some(SimDuration::ZERO),
        },
        FaultAction::Restart {
            node: Target::Leader,
        },
        FaultAction::Pause {
            node: n,
            duration: SimDuration::from_millis(5),
        },
        FaultAction::Clock {
            node: n,
            rate_ppm: 2_000_000,
            duration: window,
        },
        FaultAction::Partition {
            agents: None,
            groups: vec![vec![NodeId(0)], vec![NodeId(1), NodeId(2)]],
            duration: window,
        },
        FaultAction::Isolate {
            node: n,
            duration: None,
        },
        link(0.5, 0, 2),
        FaultAction::Heal,
    ] {
        at(action).assert_well_formed(3);
    }
    let mut repeating = at(FaultAction::Heal);
    repeating.every = Some(SimDuration::from_millis(100));
    repeating.jitter = SimDuration::from_millis(3);
    repeating.stable = Some(SimDuration::from_millis(50));
    repeating.assert_well_formed(3);
    nemesis().assert_well_formed();
}

#[test]
#[should_panic(expected = "fault window ends when it starts")]
fn pause_of_zero_is_refused() {
    at(FaultAction::Pause {
        node: Target::Node(NodeId(0)),
        duration: SimDuration::ZERO,
    })
    .assert_well_formed(3);
}

#[test]
#[should_panic(expected = "fault window ends when it starts")]
fn partition_window_of_zero_is_refused() {
    at(FaultAction::Partition {
        agents: None,
        groups: vec![vec![NodeId(0)], vec![NodeId(1)]],
        duration: Some(SimDuration::ZERO),
    })
    .assert_well_formed(3);
}

#[test]
#[should_panic(expected = "is in two partition groups")]
fn overlapping_partition_groups_are_refused() {
    at(FaultAction::Partition {
        agents: None,
        groups: vec![vec![NodeId(0), NodeId(1)], vec![NodeId(1), NodeId(2)]],
        duration: None,
    })
    .assert_well_formed(3);
}

#[test]
#[should_panic(expected = "but the world has 3 addresses")]
fn target_outside_the_world_is_refused() {
    at(FaultAction::Crash {
        node: Target::Node(NodeId(3)),
        restart_after: None,
    })
    .assert_well_formed(3);
}

#[test]
#[should_panic(expected = "is not a probability")]
fn link_drop_above_one_is_refused() {
    at(link(1.5, 0, 1)).assert_well_formed(3);
}

#[test]
#[should_panic(expected = "joins two different nodes")]
fn link_to_itself_is_refused() {
    at(link(0.5, 1, 1)).assert_well_formed(3);
}

#[test]
#[should_panic(expected = "rate 0 stops the clock")]
fn stopped_clock_is_refused() {
    at(FaultAction::Clock {
        node: Target::Leader,
        rate_ppm: 0,
        duration: None,
    })
    .assert_well_formed(3);
}

#[test]
#[should_panic(expected = "needs a positive period")]
fn zero_period_is_refused() {
    let mut f = at(FaultAction::Heal);
    f.every = Some(SimDuration::ZERO);
    f.assert_well_formed(3);
}

#[test]
#[should_panic(expected = "is not a positive range")]
fn inverted_nemesis_durations_are_refused() {
    let mut n = nemesis();
    n.duration_min = SimDuration::from_millis(30);
    n.assert_well_formed();
}

#[test]
#[should_panic(expected = "mean interval must be positive")]
fn zero_nemesis_interval_is_refused() {
    let mut n = nemesis();
    n.mean_interval = SimDuration::ZERO;
    n.assert_well_formed();
}

#[test]
#[should_panic(expected = "no fault kinds")]
fn nemesis_without_kinds_is_refused() {
    let mut n = nemesis();
    n.kinds.clear();
    n.assert_well_formed();
}
