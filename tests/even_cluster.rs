//! An even cluster end to end (`scenarios/raft/six-nodes.json`): a
//! majority of 6 is 4, so a 3 | 3 partition leaves both sides without a
//! leader until it heals (a majority computed as (n + 1) / 2 = 3 would let
//! each side elect one). The unit-level counterparts for 4 and 6 nodes are
//! in `src/raft/tests.rs` (`*_needs_*_for_a_majority`).

use agentsim::runner::{self, RunOptions};
use agentsim::scenario::Scenario;
use std::path::Path;

/// No election is won while the 3 | 3 partition lasts (4–7 s); the leader
/// that was cut off steps down (check-quorum) and one is elected only after
/// the heal. All checks hold.
#[test]
fn six_nodes_elect_no_leader_while_split_three_three() {
    let s = Scenario::load(Path::new("scenarios/raft/six-nodes.json")).expect("valid");
    assert_eq!(s.spec.cluster.nodes, 6);
    let r = runner::run(&s, &RunOptions::default()).report;
    assert!(r.checks.ok, "{:?}", r.checks.failures);
    let times: Vec<f64> = r
        .section("elections")
        .as_array()
        .expect("elections")
        .iter()
        .map(|e| e["time_ms"].as_f64().expect("time"))
        .collect();
    assert!(
        !times.iter().any(|t| (4000.0..7000.0).contains(t)),
        "an election was won during the 3 | 3 split: {times:?}"
    );
    assert!(
        times.iter().any(|t| (7000.0..10_000.0).contains(t)),
        "no leader after the heal: {times:?}"
    );
    let longest = r.section("leader_loss_downtime_ms")["max"]
        .as_f64()
        .expect("downtime");
    assert!(longest >= 2900.0, "the split left no leader: {longest} ms");
}
