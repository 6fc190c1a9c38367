//! Faults tied to protocol events: `crash_at` crash points and `message`
//! rules. A crash point fires as a logged scripted crash naming the point
//! (so the fault log, replay and shrink see it like any crash); a run with
//! them is deterministic; and they reach schedules random faults do not:
//! the Figure 8 bug (`commit-previous-term`) and a counted duplicate vote
//! (`dup-vote-count`) fail under them while the correct build passes.

use agentsim::metrics::Report;
use agentsim::runner::{self, RunOptions};
use agentsim::scenario::Scenario;

/// A 3-node KV cluster with tight timeouts (the sweep self-test's
/// settings and random nemesis), `faults` as given, an optional planted
/// bug.
fn scenario(seed: u64, faults: &str, bug: Option<&str>, max_entries: u32) -> Scenario {
    scenario_n(3, seed, faults, bug, max_entries)
}

/// [`scenario`] with `nodes` servers.
fn scenario_n(
    nodes: u32,
    seed: u64,
    faults: &str,
    bug: Option<&str>,
    max_entries: u32,
) -> Scenario {
    let bug = bug.map_or(String::new(), |b| format!(r#""bug": "{b}","#));
    let text = format!(
        r#"{{
  "name": "crash-points", "seed": {seed}, "duration_ms": 5000, {bug}
  "cluster": {{ "nodes": {nodes}, "process": "raft", "start_jitter_ms": 5,
               "raft": {{ "election_timeout_ms": [20, 40], "heartbeat_ms": 7, "pre_vote": false,
                         "check_quorum": false, "max_entries_per_append": {max_entries} }} }},
  "network": {{ "latency_ms": {{ "dist": "uniform", "min": 1, "max": 6 }}, "reorder": true }},
  "disk": {{ "sync_ms": {{ "dist": "uniform", "min": 0.2, "max": 1 }} }},
  "workload": {{ "clients": 4, "rate_per_s": 400, "keys": 3, "timeout_ms": 300 }},
  "nemesis": {{ "mean_interval_ms": 300, "kinds": ["crash", "pause", "partition", "link"],
               "duration_ms": [20, 600] }},
  "faults": [{faults}]
}}"#
    );
    Scenario::from_str("<inline>", &text).expect("valid scenario")
}

fn run(s: &Scenario) -> Report {
    runner::run(s, &RunOptions::default()).report
}

/// Leaders lost right after they append (before replicating) and right
/// after they commit (the Figure 8 schedule: two leaders keep an
/// unreplicated entry each, the third commits an old one and is lost
/// before replicating its own).
const FIGURE8_POINTS: &str = r#"
  { "at_ms": 0, "kind": "crash_at",
    "crash_at": { "point": "entry_appended", "probability": 0.5, "restart_after_ms": [0, 2] } },
  { "at_ms": 0, "kind": "crash_at",
    "crash_at": { "point": "commit_advanced", "probability": 0.5, "restart_after_ms": [0, 2] } }"#;

/// Each firing is a scripted `crash` in the fault log with the point's
/// name, followed by the restart its range drew; the rule's arming is
/// logged too; the same seed gives the same trace (replay works).
#[test]
fn crash_point_firings_are_logged_as_scripted_crashes_and_replay() {
    let s = scenario(1, FIGURE8_POINTS, None, 1);
    let r = run(&s);
    let fired: Vec<_> = r
        .faults
        .iter()
        .filter(|f| f.kind == "crash" && f.point.is_some())
        .collect();
    assert!(!fired.is_empty(), "no crash point fired: {:?}", r.faults);
    for f in &fired {
        assert_eq!(f.source, "scripted");
        let point = f.point.as_deref().unwrap();
        assert!(point == "entry_appended" || point == "commit_advanced");
    }
    let armed = r.faults.iter().filter(|f| f.kind == "crash_at").count();
    assert_eq!(armed, 2, "both rules are logged when armed");
    let restarts = r
        .faults
        .iter()
        .filter(|f| f.kind == "restart" && f.source == "undo")
        .count();
    assert!(
        restarts >= fired.len() - 1,
        "every crash restarts within 2 ms"
    );
    assert!(r.checks.failures.is_empty(), "{:?}", r.checks.failures);
    assert_eq!(run(&s).trace_hash, r.trace_hash, "deterministic");
}

/// A rule at probability 0 draws and changes nothing but its own log
/// entry: the run is the same as without it apart from that fault event.
#[test]
fn a_rule_that_never_fires_crashes_nothing() {
    let never = r#"{ "at_ms": 0, "kind": "crash_at",
        "crash_at": { "point": "vote_granted", "probability": 0.0 } }"#;
    let r = run(&scenario(2, never, None, 64));
    let by_point = r
        .faults
        .iter()
        .filter(|f| f.point.is_some() && f.kind != "crash_at")
        .count();
    assert_eq!(by_point, 0, "{:?}", r.faults);
    assert!(r.checks.failures.is_empty(), "{:?}", r.checks.failures);
}

/// Figure 8 (§5.4.2, thesis §3.6.2) under crash points: with one entry
/// per append, `commit-previous-term` fails a safety check in some of 40
/// seeds, and the correct build passes every one of them.
#[test]
fn crash_points_find_commit_previous_term() {
    let mut found = 0;
    for seed in 0..40 {
        let bad = run(&scenario(
            seed,
            FIGURE8_POINTS,
            Some("commit-previous-term"),
            1,
        ));
        if bad.checks.failures.iter().any(|f| f.check == "safety") {
            found += 1;
        }
        let good = run(&scenario(seed, FIGURE8_POINTS, None, 1));
        assert!(
            good.checks.failures.is_empty(),
            "seed {seed}: {:?}",
            good.checks.failures
        );
    }
    assert!(found > 0, "commit-previous-term not found in 40 seeds");
}

/// A duplicated vote grant (§3.4): on five servers `dup-vote-count`
/// counts one grant twice and elects a leader without a majority in some
/// seed; the correct build, which counts
/// voters, passes the same seeds.
#[test]
fn duplicated_vote_responses_find_dup_vote_count() {
    let dup = r#"
      { "at_ms": 0, "kind": "message",
        "message": { "message_kind": "request_vote_resp", "probability": 0.5, "duplicate_ms": [0, 3] } },
      { "at_ms": 0, "kind": "crash_at",
        "crash_at": { "point": "became_leader", "probability": 0.5, "restart_after_ms": [0, 2] } }"#;
    let mut found = 0;
    for seed in 0..30 {
        let bad = run(&scenario_n(5, seed, dup, Some("dup-vote-count"), 64));
        if !bad.checks.failures.is_empty() {
            found += 1;
        }
        let good = run(&scenario_n(5, seed, dup, None, 64));
        assert!(
            good.checks.failures.is_empty(),
            "seed {seed}: {:?}",
            good.checks.failures
        );
    }
    assert!(found > 0, "dup-vote-count not found in 30 seeds");
}

/// Failing seeds of `bug` in `seeds` under `faults` on `nodes` servers
/// with one entry per append; panics if the correct build fails any.
fn found(nodes: u32, seeds: std::ops::Range<u64>, faults: &str, bug: &str) -> usize {
    let mut found = 0;
    for seed in seeds {
        let bad = run(&scenario_n(nodes, seed, faults, Some(bug), 1));
        if !bad.checks.failures.is_empty() {
            found += 1;
        }
        let good = run(&scenario_n(nodes, seed, faults, None, 1));
        assert!(
            good.checks.failures.is_empty(),
            "seed {seed}: correct build fails: {:?}",
            good.checks.failures
        );
    }
    found
}

const BARE_MAJORITY: &str = r#"
  { "at_ms": 0, "kind": "message",
    "message": { "message_kind": "append_entries", "probability": 1.0,
                 "pattern": "bare_majority", "delay_ms": [5, 20] } }"#;

/// A `bare_majority` round (§3.5, a commit that rests on exactly a
/// majority): on five servers every picked round of appends reaches the
/// sender and two followers in time; each held append is logged, a round
/// never holds appends to more than two followers (5 − 3), full
/// broadcasts hold exactly two, never the sender's own, and the cluster
/// still commits and passes.
#[test]
fn bare_majority_round_reaches_exactly_a_majority() {
    let r = run(&scenario_n(5, 4, BARE_MAJORITY, None, 1));
    let mut rounds: std::collections::BTreeMap<(String, u64), Vec<u64>> = Default::default();
    for f in r.faults.iter().filter(|f| f.kind == "bare_majority") {
        assert_eq!(f.source, "scripted");
        let (from, to) = (u64::from(f.nodes[0]), u64::from(f.nodes[1]));
        assert_ne!(from, to, "{f:?}");
        rounds
            .entry((f.at_ms.to_string(), from))
            .or_default()
            .push(to);
    }
    assert!(!rounds.is_empty(), "no round was held back: {:?}", r.faults);
    let mut full = 0;
    for (round, held) in &rounds {
        let distinct: std::collections::BTreeSet<u64> = held.iter().copied().collect();
        assert!(distinct.len() <= 2, "round {round:?} held {held:?}");
        full += usize::from(distinct.len() == 2);
    }
    assert!(full > 0, "no full broadcast reached exactly a majority");
    assert!(r.checks.failures.is_empty(), "{:?}", r.checks.failures);
    let ops = &r.raft.as_ref().unwrap().client_ops;
    assert!(ops.ok > 0, "nothing committed under bare majorities");
}

/// With bare-majority rounds a follower crashed right after it acks
/// (`append_acked`) is more often one of the only two copies of an entry:
/// `ack-before-fsync` (etcd-io/etcd #14370) fails in more seeds than
/// under the crash point alone, and the correct build passes every seed.
#[test]
fn bare_majority_rounds_help_find_ack_before_fsync() {
    let acked = r#"
  { "at_ms": 0, "kind": "crash_at",
    "crash_at": { "point": "append_acked", "probability": 0.3, "restart_after_ms": [0, 2] } }"#;
    let with = found(
        5,
        0..20,
        &format!("{BARE_MAJORITY},{acked}"),
        "ack-before-fsync",
    );
    let without = found(5, 0..20, acked, "ack-before-fsync");
    assert!(
        with > without,
        "with bare majorities {with}, without {without}"
    );
}

const ALIGN: &str = r#"
  { "at_ms": 0, "kind": "message",
    "message": { "message_kind": "append_entries", "probability": 0.3,
                 "pattern": "align_timers", "within_ms": 0.5 } }"#;

/// Lined-up election timers (§3.4, split votes): each move is logged
/// with the moved node and the node it was lined up with (two different
/// servers), in every seed, and the correct build passes. (That the move
/// matters is shown by the bug it helps find, below.)
#[test]
fn align_timers_lines_up_two_election_timers() {
    let crashes = r#"
  { "at_ms": 100, "kind": "crash", "node": "leader", "restart_after_ms": 10,
    "every_ms": 100, "jitter_ms": 50 }"#;
    for seed in 0..10 {
        let r = run(&scenario_n(3, seed, &format!("{ALIGN},{crashes}"), None, 1));
        let moves: Vec<_> = r
            .faults
            .iter()
            .filter(|f| f.kind == "align_timers")
            .collect();
        assert!(!moves.is_empty(), "seed {seed}: no timer lined up");
        for m in moves {
            let n = &m.nodes;
            assert_eq!(n.len(), 2);
            assert_ne!(n[0], n[1], "{m:?}");
        }
        assert!(r.checks.failures.is_empty(), "{:?}", r.checks.failures);
    }
}

/// Lined-up timers find `stale-term-vote` (akka-raft #46): with vote
/// responses held past the next timeout and the leader crashed now and
/// then, a candidate of a split vote counts a grant of its previous term;
/// more seeds fail with the timers lined up than without.
#[test]
fn align_timers_help_find_stale_term_vote() {
    let rest = r#"
  { "at_ms": 0, "kind": "message",
    "message": { "message_kind": "request_vote_resp", "probability": 0.5, "delay_ms": [5, 40] } },
  { "at_ms": 100, "kind": "crash", "node": "leader", "restart_after_ms": 10,
    "every_ms": 100, "jitter_ms": 50 }"#;
    let with = found(3, 0..40, &format!("{ALIGN},{rest}"), "stale-term-vote");
    let without = found(3, 0..40, rest, "stale-term-vote");
    assert!(with > without, "lined up {with}, not {without}");
}

/// The k-th acknowledgement crash point: `ack_received` with `k = 1` on
/// three servers crashes the leader when its entry has just reached a
/// majority, before it commits it. With leaders also lost right after
/// appending, Figure 8 (`commit-previous-term`, §3.6.2) fails in more
/// seeds than with the append crashes alone; every firing is logged as a
/// crash at `ack_received`.
#[test]
fn kth_ack_crash_point_finds_commit_previous_term() {
    let appended = r#"
  { "at_ms": 0, "kind": "crash_at",
    "crash_at": { "point": "entry_appended", "probability": 0.5, "restart_after_ms": [0, 2] } }"#;
    let kth = r#"
  { "at_ms": 0, "kind": "crash_at",
    "crash_at": { "point": "ack_received", "probability": 0.5, "k": 1, "restart_after_ms": [0, 2] } }"#;
    let faults = format!("{appended},{kth}");
    let r = run(&scenario_n(3, 1, &faults, None, 1));
    assert!(
        r.faults
            .iter()
            .any(|f| f.kind == "crash" && f.point.as_deref() == Some("ack_received")),
        "no crash at the first ack: {:?}",
        r.faults
    );
    let with = found(3, 0..40, &faults, "commit-previous-term");
    let without = found(3, 0..40, appended, "commit-previous-term");
    assert!(
        with > without,
        "with the k-th ack {with}, without {without}"
    );
}
