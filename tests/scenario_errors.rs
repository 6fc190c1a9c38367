//! Bad input is reported, not crashed on: every class of mistake in a
//! scenario file names the file, the field path and the line/column, and the
//! CLI exits 2 without leaving a report (or a temp file) behind.
//!
//! The library-level tests are data-driven through [`check`]; the CLI-level
//! tests run the built binary on files in a temporary folder.

use agentsim::scenario::{InputError, Scenario};
use std::path::Path;
use std::process::{Command, Output};

// ---------------------------------------------------------------------------
// Library level: Scenario::from_str
// ---------------------------------------------------------------------------

/// The first four lines of most cases: a valid heartbeat scenario that the
/// case continues from line 5 on (see [`with`]).
const HEAD: &str = r#"{
  "name": "t",
  "duration_ms": 1000,
  "cluster": { "nodes": 3, "process": "heartbeat" },
"#;

/// `HEAD` followed by `tail` (starting on line 5) and the closing brace.
fn with(tail: &str) -> String {
    format!("{HEAD}{tail}\n}}\n")
}

/// Parse `text` as scenario file `name.json` and assert that it is rejected
/// with an error on field `path` whose message contains `message`, located
/// on line `line` (1-based) at a column that exists on that line.
fn check(name: &str, text: &str, path: &str, message: &str, line: usize) -> InputError {
    let file = format!("{name}.json");
    let errors = match Scenario::from_str(&file, text) {
        Ok(_) => panic!("{name}: accepted, expected an error on `{path}`\n{text}"),
        Err(e) => e.0,
    };
    let Some(e) = errors.iter().find(|e| e.path == path) else {
        panic!("{name}: no error on `{path}`; got:\n{errors:#?}");
    };
    assert_eq!(e.file, file, "{name}: error names the file");
    assert!(
        e.message.contains(message),
        "{name}: message {:?} does not contain {message:?}",
        e.message
    );
    let Some((l, c)) = e.position else {
        panic!("{name}: no position in {e:?}");
    };
    assert_eq!(l, line, "{name}: wrong line in {e}\n{text}");
    let line_len = text.lines().nth(l - 1).map_or(0, |s| s.chars().count());
    assert!(
        (1..=line_len + 1).contains(&c),
        "{name}: column {c} is outside line {l} (length {line_len})"
    );
    // The rendered form is what users see: file:line:col: field `path`: message.
    let shown = e.to_string();
    let prefix = format!("{file}:{l}:{c}: ");
    assert!(shown.starts_with(&prefix), "{name}: {shown:?}");
    if !path.is_empty() {
        assert!(
            shown.contains(&format!("field `{path}`")),
            "{name}: {shown:?}"
        );
    }
    e.clone()
}

/// The text `HEAD` stands for is itself accepted, so every failure below is
/// caused by the case's own lines.
#[test]
fn base_scenario_is_valid() {
    Scenario::from_str("ok.json", &with(r#"  "seed": 3"#)).expect("valid");
    let quickstart = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/quickstart.json");
    Scenario::load(Path::new(quickstart)).expect("quickstart is valid");
}

/// A JSON syntax error (missing comma) is reported at the offending line.
#[test]
fn malformed_json_names_line_and_column() {
    let text = "{\n  \"name\": \"t\",\n  \"duration_ms\": 1000\n  \"cluster\": {}\n}";
    let e = Scenario::from_str("bad.json", text).unwrap_err().0;
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].position.map(|p| p.0), Some(4));
    assert!(e[0].message.contains("expected `,`"), "{:?}", e[0]);
    assert!(e[0].to_string().starts_with("bad.json:4:"), "{}", e[0]);
}

/// An empty file is a parse error with a position, not a panic.
#[test]
fn empty_file_is_an_eof_error() {
    for text in ["", "   \n"] {
        let e = Scenario::from_str("empty.json", text).unwrap_err().0;
        assert!(e[0].message.contains("EOF"), "{:?}", e[0]);
        let (line, col) = e[0].position.expect("position");
        assert!(line >= 1 && col >= 1, "1-based position, got {line}:{col}");
    }
}

/// Text after the closing brace is rejected at the first stray character.
#[test]
fn trailing_garbage_after_json_is_rejected() {
    let text = format!("{}xyz\n", with(r#"  "seed": 1"#));
    check("trailing", &text, "", "trailing characters", 7);
}

/// A top-level value that is not an object fails on its first element.
#[test]
fn non_object_top_level_is_a_type_error() {
    let e = Scenario::from_str("arr.json", "[1, 2]").unwrap_err().0;
    assert!(e[0].message.contains("invalid type"), "{:?}", e[0]);
}

/// Misspelled keys are not silently ignored (`deny_unknown_fields`), at any
/// depth, and the message lists what was expected.
#[test]
fn unknown_fields_are_rejected_at_every_level() {
    check(
        "top",
        &with(r#"  "sede": 1"#),
        "sede",
        "unknown field `sede`",
        5,
    );
    let text = "{\n  \"name\": \"t\",\n  \"duration_ms\": 1000,\n  \"cluster\": {\n    \"nodes\": 3,\n    \"process\": \"heartbeat\",\n    \"colour\": 1\n  }\n}";
    check(
        "cluster",
        text,
        "cluster.colour",
        "expected one of `nodes`",
        7,
    );
    check(
        "fault",
        &with(r#"  "faults": [ { "at_ms": 1, "kind": "heal", "at": 2 } ]"#),
        "faults[0].at",
        "unknown field `at`",
        5,
    );
    check(
        "dist",
        &with(r#"  "network": { "latency_ms": { "dist": "fixed", "value": 1, "max": 2 } }"#),
        "network.latency_ms",
        "unknown field `max`",
        5,
    );
}

/// A value of the wrong JSON type names the field and the expected type.
#[test]
fn wrong_types_name_the_expected_type() {
    let text = "{\n  \"name\": \"t\",\n  \"duration_ms\": \"ten\",\n  \"cluster\": { \"nodes\": 3, \"process\": \"heartbeat\" }\n}";
    check("str", text, "duration_ms", "expected f64", 3);
    let text = "{\n  \"name\": \"t\",\n  \"duration_ms\": 10,\n  \"cluster\": { \"nodes\": 3.5, \"process\": \"heartbeat\" }\n}";
    check("float", text, "cluster.nodes", "expected u32", 4);
    let text = "{\n  \"name\": \"t\",\n  \"duration_ms\": 10,\n  \"cluster\": { \"nodes\": -3, \"process\": \"heartbeat\" }\n}";
    check("neg", text, "cluster.nodes", "expected u32", 4);
    check(
        "bool",
        &with(r#"  "network": { "reorder": "yes" }"#),
        "network.reorder",
        "expected a boolean",
        5,
    );
    check(
        "pair",
        "{\n  \"name\": \"t\",\n  \"duration_ms\": 10,\n  \"cluster\": { \"nodes\": 3, \"process\": \"raft\",\n    \"raft\": { \"election_timeout_ms\": [150] } }\n}",
        "cluster.raft.election_timeout_ms",
        "",
        5,
    );
}

/// A required field that is missing is named in the message.
#[test]
fn missing_required_field_is_named() {
    let text =
        "{\n  \"name\": \"t\",\n  \"cluster\": { \"nodes\": 3, \"process\": \"heartbeat\" }\n}";
    let e = Scenario::from_str("m.json", text).unwrap_err().0;
    assert!(
        e[0].message.contains("missing field `duration_ms`"),
        "{e:?}"
    );
    assert!(e[0].position.is_some());
}

/// Unknown enum names (process, fault kind, distribution, nemesis kind) list
/// the known ones.
#[test]
fn unknown_names_list_the_known_ones() {
    check(
        "dist",
        &with(r#"  "network": { "latency_ms": { "dist": "gaussian", "mean": 1 } }"#),
        "network.latency_ms.dist",
        "expected one of `fixed`, `uniform`, `normal`",
        5,
    );
    check(
        "kind",
        &with(r#"  "faults": [ { "at_ms": 1, "kind": "explode" } ]"#),
        "faults[0].kind",
        "unknown variant `explode`",
        5,
    );
    let text = "{\n  \"name\": \"t\",\n  \"duration_ms\": 10,\n  \"cluster\": { \"nodes\": 3, \"process\": \"paxos\" }\n}";
    check(
        "process",
        text,
        "cluster.process",
        "unknown variant `paxos`",
        4,
    );
    check(
        "nemesis",
        &with(
            r#"  "nemesis": { "mean_interval_ms": 5, "kinds": ["meteor"], "duration_ms": [1, 2] }"#,
        ),
        "nemesis.kinds[0]",
        "unknown variant `meteor`",
        5,
    );
    check(
        "target",
        &with(r#"  "faults": [ { "at_ms": 1, "kind": "crash", "node": "everyone" } ]"#),
        "faults[0].node",
        r#""leader", "follower", "random", "minority""#,
        5,
    );
    check(
        "bug",
        &with(r#"  "bug": "nonsense""#),
        "bug",
        "unknown bug \"nonsense\"; known: commit-previous-term",
        5,
    );
}

/// Probabilities must lie in [0, 1], wherever they appear.
#[test]
fn probabilities_outside_unit_interval_are_rejected() {
    let cases = [
        (r#"  "network": { "drop": 1.5 }"#, "network.drop"),
        (r#"  "network": { "duplicate": -0.1 }"#, "network.duplicate"),
        (
            r#"  "network": { "links": [ { "from": 0, "to": 1, "drop": 2 } ] }"#,
            "network.links[0].drop",
        ),
        (
            r#"  "faults": [ { "at_ms": 1, "kind": "link", "from": 0, "to": 1, "drop": 1.01 } ]"#,
            "faults[0].drop",
        ),
        (
            r#"  "expect": { "min_delivery_ratio": 7 }"#,
            "expect.min_delivery_ratio",
        ),
    ];
    for (i, (tail, path)) in cases.into_iter().enumerate() {
        check(
            &format!("prob{i}"),
            &with(tail),
            path,
            "probability in [0, 1]",
            5,
        );
    }
}

/// A node index must be below `cluster.nodes`, in links, faults and groups.
#[test]
fn node_index_at_or_above_cluster_size_is_rejected() {
    let cases = [
        (
            r#"  "network": { "links": [ { "from": 0, "to": 3 } ] }"#,
            "network.links[0].to",
        ),
        (
            r#"  "faults": [ { "at_ms": 1, "kind": "crash", "node": 3 } ]"#,
            "faults[0].node",
        ),
        (
            r#"  "faults": [ { "at_ms": 1, "kind": "link", "from": 9, "to": 0 } ]"#,
            "faults[0].from",
        ),
        (
            r#"  "faults": [ { "at_ms": 1, "kind": "partition", "groups": [[0, 1], [2, 3]] } ]"#,
            "faults[0].groups[1][1]",
        ),
    ];
    for (i, (tail, path)) in cases.into_iter().enumerate() {
        check(
            &format!("idx{i}"),
            &with(tail),
            path,
            "out of range: the cluster has 3 nodes (0..=2)",
            5,
        );
    }
    check(
        "negative",
        &with(r#"  "faults": [ { "at_ms": 1, "kind": "crash", "node": -1 } ]"#),
        "faults[0].node",
        "node index -1 is negative",
        5,
    );
}

/// A cluster needs at least one node and at most 1000.
#[test]
fn zero_or_too_many_nodes_are_rejected() {
    let text = "{\n  \"name\": \"t\",\n  \"duration_ms\": 10,\n  \"cluster\": { \"nodes\": 0, \"process\": \"heartbeat\" }\n}";
    check("zero", text, "cluster.nodes", "must be at least 1", 4);
    let text = "{\n  \"name\": \"t\",\n  \"duration_ms\": 10,\n  \"cluster\": { \"nodes\": 1001, \"process\": \"heartbeat\" }\n}";
    check("many", text, "cluster.nodes", "at most 1000 nodes", 4);
}

/// A huge node count is reported as such even when a partition fault asks
/// validation to check group coverage (which must not try to allocate per
/// node).
#[test]
fn huge_node_count_with_partition_is_an_error_not_an_abort() {
    let text = "{\n  \"name\": \"t\",\n  \"duration_ms\": 10,\n  \"cluster\": { \"nodes\": 4000000000, \"process\": \"heartbeat\" },\n  \"faults\": [ { \"at_ms\": 1, \"kind\": \"partition\", \"groups\": [[0], [1]] } ]\n}";
    let e = check("huge", text, "cluster.nodes", "at most 1000 nodes", 4);
    assert!(e.message.len() < 200, "short message: {}", e.message);
}

/// Durations must be > 0 (run length, intervals) or ≥ 0 (offsets, latencies).
#[test]
fn zero_and_negative_durations_are_rejected() {
    let text = "{\n  \"name\": \"t\",\n  \"duration_ms\": 0,\n  \"cluster\": { \"nodes\": 3, \"process\": \"heartbeat\" }\n}";
    check("zero", text, "duration_ms", "finite number > 0, got 0", 3);
    let text = "{\n  \"name\": \"t\",\n  \"duration_ms\": -5,\n  \"cluster\": { \"nodes\": 3, \"process\": \"heartbeat\" }\n}";
    check("neg", text, "duration_ms", "finite number > 0, got -5", 3);
    let cases = [
        (
            r#"  "faults": [ { "at_ms": -1, "kind": "heal" } ]"#,
            "faults[0].at_ms",
            "≥ 0",
        ),
        (
            r#"  "faults": [ { "at_ms": 1, "kind": "pause", "node": 0, "for_ms": 0 } ]"#,
            "faults[0].for_ms",
            "> 0",
        ),
        (
            r#"  "faults": [ { "at_ms": 1, "kind": "heal", "every_ms": -10 } ]"#,
            "faults[0].every_ms",
            "> 0",
        ),
        (
            r#"  "faults": [ { "at_ms": 1, "kind": "crash", "node": 0, "restart_after_ms": -1 } ]"#,
            "faults[0].restart_after_ms",
            "≥ 0",
        ),
        (
            r#"  "network": { "latency_ms": { "dist": "fixed", "value": -1 } }"#,
            "network.latency_ms.value",
            "≥ 0",
        ),
        (
            r#"  "network": { "latency_ms": { "dist": "exponential", "mean": 0 } }"#,
            "network.latency_ms.mean",
            "> 0",
        ),
        (
            r#"  "disk": { "sync_ms": { "dist": "pareto", "scale": 1, "shape": 0 } }"#,
            "disk.sync_ms.shape",
            "> 0",
        ),
        (
            r#"  "nemesis": { "mean_interval_ms": 0, "kinds": ["crash"], "duration_ms": [1, 2] }"#,
            "nemesis.mean_interval_ms",
            "> 0",
        ),
        (
            r#"  "cluster": { "nodes": 3, "process": "heartbeat", "heartbeat": { "interval_ms": 0 } }"#,
            "cluster.heartbeat.interval_ms",
            "> 0",
        ),
    ];
    for (i, (tail, path, msg)) in cases.into_iter().enumerate() {
        let text = if tail.contains("\"cluster\"") {
            format!("{{\n  \"name\": \"t\",\n  \"duration_ms\": 1000,\n  \"seed\": 0,\n{tail}\n}}")
        } else {
            with(tail)
        };
        check(&format!("dur{i}"), &text, path, msg, 5);
    }
}

/// Ranges written as min/max pairs must have min ≤ max.
#[test]
fn min_greater_than_max_is_rejected() {
    check(
        "uniform",
        &with(r#"  "network": { "latency_ms": { "dist": "uniform", "min": 5, "max": 1 } }"#),
        "network.latency_ms",
        "min 5 is greater than max 1",
        5,
    );
    check(
        "nemesis",
        &with(
            r#"  "nemesis": { "mean_interval_ms": 5, "kinds": ["pause"], "duration_ms": [9, 3] }"#,
        ),
        "nemesis.duration_ms",
        "min 9 is greater than max 3",
        5,
    );
    let text = "{\n  \"name\": \"t\",\n  \"duration_ms\": 10,\n  \"cluster\": { \"nodes\": 3, \"process\": \"raft\",\n    \"raft\": { \"election_timeout_ms\": [300, 150] } }\n}";
    check(
        "election",
        text,
        "cluster.raft.election_timeout_ms",
        "min 300 is greater than max 150",
        5,
    );
}

/// Partition groups must not overlap, must cover every node, must be at
/// least two and none may be empty.
#[test]
fn overlapping_or_incomplete_partition_groups_are_rejected() {
    let part = |groups: &str| {
        with(&format!(
            r#"  "faults": [ {{ "at_ms": 1, "kind": "partition", "groups": {groups} }} ]"#
        ))
    };
    check(
        "overlap",
        &part("[[0, 1], [1, 2]]"),
        "faults[0].groups[1][0]",
        "node 1 is in more than one group (also group 0)",
        5,
    );
    check(
        "incomplete",
        &part("[[0], [1]]"),
        "faults[0].groups",
        "groups must cover every node; missing: 2",
        5,
    );
    check(
        "one",
        &part("[[0, 1, 2]]"),
        "faults[0].groups",
        "at least two groups",
        5,
    );
    check(
        "empty",
        &part("[[0, 1, 2], []]"),
        "faults[0].groups[1]",
        "must not be empty",
        5,
    );
    check(
        "missing",
        &with(r#"  "faults": [ { "at_ms": 1, "kind": "partition" } ]"#),
        "faults[0].groups",
        "a `partition` fault needs `groups`",
        5,
    );
}

/// A fault may fire at the last instant of the run but not after it.
#[test]
fn faults_after_duration_are_rejected() {
    check(
        "after",
        &with(r#"  "faults": [ { "at_ms": 1000.5, "kind": "heal" } ]"#),
        "faults[0].at_ms",
        "after the end of the run (duration_ms 1000)",
        5,
    );
    Scenario::from_str(
        "edge.json",
        &with(r#"  "faults": [ { "at_ms": 1000, "kind": "heal" } ]"#),
    )
    .expect("a fault exactly at duration_ms is allowed");
}

/// Each fault kind takes only its own fields and requires the ones it needs.
#[test]
fn fault_fields_must_match_the_kind() {
    let f = |fault: &str| with(&format!(r#"  "faults": [ {fault} ]"#));
    check(
        "groups-on-crash",
        &f(r#"{ "at_ms": 1, "kind": "crash", "node": 0, "groups": [[0], [1, 2]] }"#),
        "faults[0].groups",
        "field `groups` does not apply to a `crash` fault (it takes: node, restart_after_ms)",
        5,
    );
    check(
        "pause-without-for",
        &f(r#"{ "at_ms": 1, "kind": "pause", "node": 0 }"#),
        "faults[0].for_ms",
        "a `pause` fault needs `for_ms`",
        5,
    );
    check(
        "minority-on-link",
        &f(r#"{ "at_ms": 1, "kind": "link", "from": "minority", "to": 1 }"#),
        "faults[0].from",
        "\"minority\" is only valid for crash and pause",
        5,
    );
    check(
        "minority-on-isolate",
        &f(r#"{ "at_ms": 1, "kind": "isolate", "node": "minority" }"#),
        "faults[0].node",
        "only valid for crash and pause",
        5,
    );
    check(
        "heal-with-node",
        &f(r#"{ "at_ms": 1, "kind": "heal", "node": 0 }"#),
        "faults[0].node",
        "(it takes: no extra fields)",
        5,
    );
    check(
        "crash-without-node",
        &f(r#"{ "at_ms": 1, "kind": "crash" }"#),
        "faults[0].node",
        "a `crash` fault needs `node`",
        5,
    );
    check(
        "link-without-to",
        &f(r#"{ "at_ms": 1, "kind": "link", "from": 0 }"#),
        "faults[0].to",
        "a `link` fault needs `to`",
        5,
    );
    check(
        "self-link",
        &f(r#"{ "at_ms": 1, "kind": "link", "from": 2, "to": 2 }"#),
        "faults[0].to",
        "two different nodes",
        5,
    );
    check(
        "clock-without-rate",
        &f(r#"{ "at_ms": 1, "kind": "clock", "node": 0 }"#),
        "faults[0].rate",
        "a `clock` fault needs `rate`",
        5,
    );
    check(
        "clock-rate-range",
        &f(r#"{ "at_ms": 1, "kind": "clock", "node": 0, "rate": 20 }"#),
        "faults[0].rate",
        "clock rate must be in [0.1, 10], got 20",
        5,
    );
    check(
        "jitter-without-every",
        &f(r#"{ "at_ms": 1, "kind": "heal", "jitter_ms": 5 }"#),
        "faults[0].jitter_ms",
        "only applies to repeating faults",
        5,
    );
    check(
        "rate-on-pause",
        &f(r#"{ "at_ms": 1, "kind": "pause", "node": 0, "for_ms": 5, "rate": 2 }"#),
        "faults[0].rate",
        "does not apply to a `pause` fault",
        5,
    );
}

/// Settings that belong to another process, and workloads or expectations
/// that need Raft, are rejected on a heartbeat cluster.
#[test]
fn settings_for_the_wrong_process_are_rejected() {
    check(
        "workload",
        &with(r#"  "workload": { "clients": 1, "rate_per_s": 10 }"#),
        "workload",
        "needs \"process\": \"raft\"",
        5,
    );
    check(
        "expect",
        &with(r#"  "expect": { "min_availability": 0.9 }"#),
        "expect.min_availability",
        "needs a client `workload`",
        5,
    );
    check(
        "expect-leader",
        &with(r#"  "expect": { "leader_within_ms_after_heal": 100 }"#),
        "expect.leader_within_ms_after_heal",
        "needs \"process\": \"raft\"",
        5,
    );
    check(
        "bug",
        &with(r#"  "bug": "forget-vote""#),
        "bug",
        "only for \"process\": \"raft\"",
        5,
    );
    let text = "{\n  \"name\": \"t\",\n  \"duration_ms\": 10,\n  \"cluster\": { \"nodes\": 3, \"process\": \"heartbeat\",\n    \"raft\": {} }\n}";
    check(
        "raft",
        text,
        "cluster.raft",
        "need \"process\": \"raft\"",
        5,
    );
}

/// A coordinator bug (`coord-*`) needs a `workflow` block: on a heartbeat
/// cluster and on a Raft cluster without one it is rejected at `bug`; an
/// unknown name lists the coordinator bugs too.
#[test]
fn coordinator_bugs_need_a_workflow() {
    check(
        "coord-heartbeat",
        &with(r#"  "bug": "coord-ignore-deps""#),
        "bug",
        "is a coordinator bug: it needs a `workflow` block",
        5,
    );
    let raft = "{\n  \"name\": \"t\",\n  \"duration_ms\": 10,\n  \"cluster\": { \"nodes\": 3, \"process\": \"raft\" },\n  \"bug\": \"coord-double-result\"\n}";
    check(
        "coord-raft",
        raft,
        "bug",
        "\"coord-double-result\" is a coordinator bug: it needs a `workflow` block",
        5,
    );
    check(
        "coord-unknown",
        &with(r#"  "bug": "coord-nonsense""#),
        "bug",
        "double-vote, coord-accept-stale, coord-double-result",
        5,
    );
    // The same Raft cluster takes a Raft bug.
    let ok = raft.replace("coord-double-result", "double-vote");
    assert!(Scenario::from_str("raft-bug.json", &ok).is_ok(), "{ok}");
}

/// The name becomes a folder name, so it must be one.
#[test]
fn unusable_names_are_rejected() {
    let text = "{\n  \"name\": \"../x\",\n  \"duration_ms\": 10,\n  \"cluster\": { \"nodes\": 3, \"process\": \"heartbeat\" }\n}";
    check("dots", text, "name", "usable as a folder name", 2);
    let text = "{\n  \"name\": \" \",\n  \"duration_ms\": 10,\n  \"cluster\": { \"nodes\": 3, \"process\": \"heartbeat\" }\n}";
    check("blank", text, "name", "must not be empty", 2);
}

/// Every problem in a file is reported in one go, in a stable order, each
/// on its own line of the rendered error.
#[test]
fn all_problems_are_reported_together() {
    let text = with(
        r#"  "network": { "drop": 2, "duplicate": 3 },
  "faults": [ { "at_ms": 5000, "kind": "pause", "node": 7 } ]"#,
    );
    let errors = Scenario::from_str("many.json", &text).unwrap_err();
    let paths: Vec<&str> = errors.0.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "network.drop",
            "network.duplicate",
            "faults[0].at_ms",
            "faults[0].node",
            "faults[0].for_ms"
        ]
    );
    let shown = errors.to_string();
    assert_eq!(shown.lines().count(), 5);
    assert!(shown.lines().all(|l| l.starts_with("error: many.json:")));
}

// ---------------------------------------------------------------------------
// CLI level: the built binary
// ---------------------------------------------------------------------------

fn agentsim(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_agentsim"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run agentsim")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Assert exit code 2 and no panic text.
fn assert_bad_input(o: &Output) -> String {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "exit code; stderr:\n{err}");
    assert!(!err.contains("panicked"), "panic:\n{err}");
    assert!(!err.contains("RUST_BACKTRACE"), "panic:\n{err}");
    err
}

/// Names of every file under `dir` (recursively), so leftovers show.
fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p.display().to_string());
            }
        }
    }
    out
}

/// A valid one-second heartbeat scenario written into `dir`.
fn small_scenario(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("small.json");
    std::fs::write(&path, with(r#"  "seed": 1"#)).unwrap();
    path
}

const QUICKSTART: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/quickstart.json");

/// `agentsim run` on each class of bad file exits 2, names file, field and
/// `line:col`, and writes nothing into `--out`.
#[test]
fn run_on_bad_file_exits_2_and_writes_nothing() {
    let cases: [(&str, String, &str, &str); 5] = [
        ("unknown", with(r#"  "sede": 1"#), "field `sede`", ":5:"),
        (
            "prob",
            with(r#"  "network": { "drop": 1.5 }"#),
            "field `network.drop`",
            ":5:",
        ),
        (
            "after",
            with(r#"  "faults": [ { "at_ms": 2000, "kind": "heal" } ]"#),
            "field `faults[0].at_ms`",
            ":5:",
        ),
        (
            "groups",
            with(r#"  "faults": [ { "at_ms": 1, "kind": "partition", "groups": [[0], [0, 1]] } ]"#),
            "field `faults[0].groups",
            ":5:",
        ),
        (
            "syntax",
            "{\n  \"name\": \"t\",\n  \"duration_ms\": 10\n  \"cluster\": {}\n}".to_string(),
            "expected `,`",
            ":4:",
        ),
    ];
    for (name, text, field, line) in cases {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(format!("{name}.json"));
        std::fs::write(&file, text).unwrap();
        let out = dir.path().join("out");
        let o = agentsim(
            &[
                "run",
                file.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
                "--trace",
                out.join("trace.jsonl").to_str().unwrap(),
            ],
            dir.path(),
        );
        let err = assert_bad_input(&o);
        let shown = format!("{}{line}", file.display());
        assert!(err.contains(&shown), "{name}: {shown:?} not in:\n{err}");
        assert!(err.contains(field), "{name}: {field:?} not in:\n{err}");
        assert!(
            files_under(&out).is_empty(),
            "{name}: left {:?}",
            files_under(&out)
        );
    }
}

/// When the report cannot be put in place (its name is taken by a folder),
/// the run fails with exit 2 and no temp file is left beside it.
#[test]
fn failed_report_write_leaves_no_temp_file() {
    let dir = tempfile::tempdir().unwrap();
    let small = small_scenario(dir.path());
    let out = dir.path().join("out");
    std::fs::create_dir_all(out.join("report.json").join("occupied")).unwrap();
    let o = agentsim(
        &[
            "run",
            small.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        dir.path(),
    );
    let err = assert_bad_input(&o);
    assert!(err.contains("cannot write the report"), "{err}");
    assert!(out.join("report.json").join("occupied").is_dir());
    let left = files_under(&out);
    assert!(left.is_empty(), "temp files left: {left:?}");
}

/// When the trace cannot be put in place, the run fails with exit 2 and
/// neither a temp trace nor a report is left behind.
#[test]
fn failed_trace_commit_leaves_no_temp_file_or_report() {
    let dir = tempfile::tempdir().unwrap();
    let small = small_scenario(dir.path());
    let out = dir.path().join("out");
    let trace = dir.path().join("trace.jsonl");
    std::fs::create_dir_all(trace.join("occupied")).unwrap();
    let o = agentsim(
        &[
            "run",
            small.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--trace",
            trace.to_str().unwrap(),
        ],
        dir.path(),
    );
    let err = assert_bad_input(&o);
    assert!(err.contains("trace.jsonl"), "{err}");
    assert!(!out.join("report.json").exists());
    let tmp: Vec<String> = files_under(dir.path())
        .into_iter()
        .filter(|f| f.ends_with(".tmp"))
        .collect();
    assert!(tmp.is_empty(), "temp files left: {tmp:?}");
}

/// Bad command-line values and usage mistakes exit 2 with a message.
#[test]
fn bad_cli_arguments_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let out = out.to_str().unwrap();
    let cases: [(&[&str], &str); 8] = [
        (
            &["run", QUICKSTART, "--duration-ms", "0", "--out", out],
            "--duration-ms must be a number > 0",
        ),
        (
            &["run", QUICKSTART, "--duration-ms=-5", "--out", out],
            "--duration-ms must be a number > 0",
        ),
        (
            &["run", QUICKSTART, "--duration-ms", "nan", "--out", out],
            "--duration-ms must be a number > 0",
        ),
        (
            &["run", QUICKSTART, "--bug", "nonsense", "--out", out],
            "not a known bug; known: commit-previous-term",
        ),
        (
            &["run", "missing.json", "--out", out],
            "missing.json: cannot read",
        ),
        (&["frobnicate"], "unrecognized subcommand"),
        (
            &["run", QUICKSTART, "--frob"],
            "unexpected argument '--frob'",
        ),
        (&["validate"], "required arguments were not provided"),
    ];
    for (args, msg) in cases {
        let o = agentsim(args, dir.path());
        let err = assert_bad_input(&o);
        assert!(err.contains(msg), "{args:?}: {msg:?} not in:\n{err}");
    }
    assert!(files_under(dir.path()).is_empty(), "nothing written");
}

/// An override that makes a valid scenario invalid (faults after the
/// shortened run) is bad input too, and says that the override caused it.
#[test]
fn override_that_invalidates_scenario_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let o = agentsim(
        &["run", QUICKSTART, "--duration-ms", "1000", "--out", "out"],
        dir.path(),
    );
    let err = assert_bad_input(&o);
    assert!(
        err.contains("after applying command-line overrides"),
        "{err}"
    );
    assert!(err.contains("field `faults[0].at_ms`"), "{err}");
    assert!(files_under(dir.path()).is_empty());
}

/// `--bug coord-...` on a scenario without a workflow is bad input after
/// the override (exit 2, field `bug`, nothing written); `--bug` accepts
/// the name itself, and an unknown one lists the coordinator bugs.
#[test]
fn coordinator_bug_override_without_workflow_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let o = agentsim(
        &[
            "run",
            QUICKSTART,
            "--bug",
            "coord-arbiter-first",
            "--out",
            "out",
        ],
        dir.path(),
    );
    let err = assert_bad_input(&o);
    assert!(
        err.contains("after applying command-line overrides"),
        "{err}"
    );
    assert!(
        err.contains("field `bug`") && err.contains("needs a `workflow` block"),
        "{err}"
    );
    let o = agentsim(
        &["run", QUICKSTART, "--bug", "coord-frob", "--out", "out"],
        dir.path(),
    );
    let err = assert_bad_input(&o);
    assert!(err.contains("coord-snapshot-drops-results"), "{err}");
    assert!(files_under(dir.path()).is_empty());
}

/// `agentsim replay` on a truncated or malformed report is bad input, named
/// with file and position; on a report whose scenario is invalid, too.
#[test]
fn replay_of_malformed_report_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let truncated = dir.path().join("truncated.json");
    std::fs::write(
        &truncated,
        "{\n  \"seed\": 1,\n  \"scenario\": {\n    \"name\": \"q",
    )
    .unwrap();
    let err = assert_bad_input(&agentsim(
        &["replay", truncated.to_str().unwrap()],
        dir.path(),
    ));
    assert!(
        err.contains(&format!("{}:4:", truncated.display())),
        "{err}"
    );
    assert!(err.contains("EOF"), "{err}");

    let no_hash = dir.path().join("nohash.json");
    let scenario = std::fs::read_to_string(QUICKSTART).unwrap();
    std::fs::write(
        &no_hash,
        format!("{{\"seed\": 1, \"scenario\": {scenario}}}"),
    )
    .unwrap();
    let err = assert_bad_input(&agentsim(
        &["replay", no_hash.to_str().unwrap()],
        dir.path(),
    ));
    assert!(err.contains("missing field `trace_hash`"), "{err}");

    let invalid = dir.path().join("invalid.json");
    let bad = scenario.replace("\"nodes\": 5", "\"nodes\": 0");
    std::fs::write(
        &invalid,
        format!("{{\"seed\": 1, \"trace_hash\": \"00\", \"checks\": {{\"ok\": true, \"ran\": [], \"failures\": []}}, \"scenario\": {bad}}}"),
    )
    .unwrap();
    let err = assert_bad_input(&agentsim(
        &["replay", invalid.to_str().unwrap()],
        dir.path(),
    ));
    assert!(err.contains("embedded scenario is invalid"), "{err}");
    assert!(err.contains("cluster.nodes"), "{err}");

    let err = assert_bad_input(&agentsim(&["replay", "nope.json"], dir.path()));
    assert!(err.contains("nope.json: cannot read"), "{err}");
}

/// `agentsim validate` exits 0 on good files and 2 when any file is bad,
/// still reporting the good ones and every error of the bad ones.
#[test]
fn validate_reports_good_and_bad_files() {
    let dir = tempfile::tempdir().unwrap();
    let o = agentsim(&["validate", QUICKSTART], dir.path());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("ok: ") && stdout.contains("(quickstart)"),
        "{stdout}"
    );

    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, with(r#"  "network": { "drop": 2, "duplicate": 3 }"#)).unwrap();
    let o = agentsim(&["validate", QUICKSTART, bad.to_str().unwrap()], dir.path());
    let err = assert_bad_input(&o);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("(quickstart)"),
        "good file still listed: {stdout}"
    );
    assert!(err.contains(&format!("{}:5:", bad.display())), "{err}");
    assert!(err.contains("field `network.drop`"), "{err}");
    assert!(err.contains("field `network.duplicate`"), "{err}");
    assert!(err.contains("1 of 2 scenario files are invalid"), "{err}");
}

/// `agentsim schema` prints one JSON Schema naming the top-level type and
/// its main properties, and closes objects to unknown fields.
#[test]
fn schema_prints_valid_json_schema() {
    let dir = tempfile::tempdir().unwrap();
    let o = agentsim(&["schema"], dir.path());
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("schema is JSON");
    assert_eq!(v["title"], "ScenarioSpec");
    let props = v["properties"].as_object().expect("properties");
    for key in [
        "name",
        "duration_ms",
        "cluster",
        "network",
        "faults",
        "nemesis",
    ] {
        assert!(props.contains_key(key), "missing property {key}");
    }
    let required: Vec<&str> = v["required"]
        .as_array()
        .expect("required")
        .iter()
        .filter_map(|x| x.as_str())
        .collect();
    assert!(required.contains(&"cluster") && required.contains(&"duration_ms"));
    assert_eq!(v["additionalProperties"], false);
    assert!(v["$defs"]["FaultSpec"].is_object());
}
