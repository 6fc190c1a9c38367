//! The JSON Schema of the scenario format (`agentsim schema`), checked with
//! an independent validator (the `jsonschema` crate): every shipped
//! scenario and every docs example passes it, and files that validation
//! refuses for a range or a fault shape are refused by the schema too, so
//! the schema check can fail.

use agentsim::scenario::{json_schema, FaultKind, Scenario};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

fn validator() -> jsonschema::Validator {
    jsonschema::validator_for(&json_schema()).expect("the schema is a valid JSON Schema")
}

/// Schema errors of `v`, as text (empty when it passes).
fn schema_errors(v: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    v.iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("readable dir")
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            json_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "json") {
            out.push(p);
        }
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every scenario under `scenarios/` and `docs/examples/` passes the
/// schema and loads (the two agree on the files we ship).
#[test]
fn every_shipped_scenario_passes_the_schema() {
    let v = validator();
    let mut files = Vec::new();
    json_files(&root().join("scenarios"), &mut files);
    json_files(&root().join("docs/examples"), &mut files);
    assert!(
        files.len() > 40,
        "found only {} scenario files",
        files.len()
    );
    for f in &files {
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap();
        let errors = schema_errors(&v, &doc);
        assert!(errors.is_empty(), "{}: {errors:#?}", f.display());
        Scenario::load(f).unwrap_or_else(|e| panic!("{e}"));
    }
}

/// The ```json blocks of docs/scenario-format.md: each whole scenario is
/// equal to a real file (under docs/examples/ or scenarios/), and each
/// single fault passes the fault schema.
#[test]
fn docs_examples_are_real_files_and_pass_the_schema() {
    let doc = std::fs::read_to_string(root().join("docs/scenario-format.md")).unwrap();
    let mut files = Vec::new();
    json_files(&root().join("scenarios"), &mut files);
    json_files(&root().join("docs/examples"), &mut files);
    let parsed: Vec<Value> = files
        .iter()
        .map(|f| serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap())
        .collect();
    let schema = json_schema();
    let fault_schema = json!({
        "$schema": schema["$schema"],
        "$defs": schema["$defs"],
        "$ref": "#/$defs/FaultSpec",
    });
    let faults = jsonschema::validator_for(&fault_schema).unwrap();
    let (mut whole, mut fault_blocks) = (0, 0);
    for block in doc.split("```json\n").skip(1) {
        let block = block.split("```").next().unwrap();
        let Ok(value) = serde_json::from_str::<Value>(block) else {
            continue; // several fragments in one block, or a bare field
        };
        if value.get("cluster").is_some() {
            whole += 1;
            assert!(
                parsed.contains(&value),
                "docs example {:?} is not a copy of any file under scenarios/ or docs/examples/",
                value["name"]
            );
        } else if value.get("kind").is_some() {
            fault_blocks += 1;
            let errors = schema_errors(&faults, &value);
            assert!(errors.is_empty(), "{value}: {errors:#?}");
        }
    }
    assert_eq!(whole, 3, "whole-scenario examples in the docs");
    assert!(fault_blocks >= 2, "fault examples in the docs");
}

fn base() -> Value {
    json!({
        "name": "t",
        "duration_ms": 1000,
        "cluster": { "nodes": 3, "process": "raft" },
        "workload": { "clients": 1, "rate_per_s": 10 },
        "faults": [ { "at_ms": 100, "kind": "crash", "node": 0 } ]
    })
}

/// Both the schema and validation refuse `doc`.
fn refused_by_both(v: &jsonschema::Validator, what: &str, doc: Value) {
    assert!(
        !schema_errors(v, &doc).is_empty(),
        "{what}: the schema accepts {doc}"
    );
    assert!(
        Scenario::from_str("t.json", &doc.to_string()).is_err(),
        "{what}: validation accepts {doc}"
    );
}

/// The base document passes both (so the refusals below are about the
/// one change each makes), and out-of-range numbers and wrong fault
/// shapes are refused by both.
#[test]
fn schema_refuses_out_of_range_numbers_and_wrong_fault_shapes() {
    let v = validator();
    assert!(schema_errors(&v, &base()).is_empty());
    Scenario::from_str("t.json", &base().to_string()).unwrap();
    let cases: Vec<(&str, &str, Value)> = vec![
        ("probability above 1", "/network", json!({ "drop": 1.5 })),
        ("zero nodes", "/cluster/nodes", json!(0)),
        ("1001 nodes", "/cluster/nodes", json!(1001)),
        (
            "zero duration (exclusive minimum)",
            "/duration_ms",
            json!(0),
        ),
        ("duration over 7 days", "/duration_ms", json!(7e8)),
        ("rate over 10^6/s", "/workload/rate_per_s", json!(2e6)),
        ("negative fault time", "/faults/0/at_ms", json!(-1)),
        (
            "negative election timeout",
            "/cluster/raft",
            json!({ "election_timeout_ms": [-1, 300] }),
        ),
        (
            "crash with partition groups",
            "/faults/0",
            json!({ "at_ms": 1, "kind": "crash", "node": 0, "groups": [[0], [1, 2]] }),
        ),
        (
            "pause without for_ms",
            "/faults/0",
            json!({ "at_ms": 1, "kind": "pause", "node": 0 }),
        ),
        (
            "link without to",
            "/faults/0",
            json!({ "at_ms": 1, "kind": "link", "from": 0 }),
        ),
        (
            "clock rate out of range",
            "/faults/0",
            json!({ "at_ms": 1, "kind": "clock", "node": 0, "rate": 20 }),
        ),
        (
            "unknown fault kind",
            "/faults/0",
            json!({ "at_ms": 1, "kind": "melt" }),
        ),
        (
            "unknown nemesis kind",
            "/nemesis",
            json!({ "mean_interval_ms": 100, "kinds": ["melt"], "duration_ms": [1, 2] }),
        ),
        (
            "empty nemesis kinds",
            "/nemesis",
            json!({ "mean_interval_ms": 100, "kinds": [], "duration_ms": [1, 2] }),
        ),
    ];
    for (what, pointer, value) in cases {
        let mut doc = base();
        set(&mut doc, pointer, value);
        refused_by_both(&v, what, doc);
    }
}

fn set(doc: &mut Value, pointer: &str, value: Value) {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let target = doc.pointer_mut(parent).unwrap();
    match target {
        Value::Array(a) => a[key.parse::<usize>().unwrap()] = value,
        Value::Object(o) => {
            o.insert(key.to_string(), value);
        }
        _ => panic!("{pointer}"),
    }
}

/// Per fault kind, the schema and validation agree on every field: a
/// kind-specific field of another kind is refused by both, and leaving
/// out a required one is refused by both.
#[test]
fn fault_shapes_agree_with_validation_for_every_kind() {
    let v = validator();
    let example = |name: &str| -> Value {
        match name {
            "node" | "from" => json!(0),
            "to" => json!(1),
            "groups" => json!([[0], [1, 2]]),
            "both_ways" => json!(true),
            "drop" => json!(0.5),
            "rate" => json!(2.0),
            "crash_at" => json!({ "point": "vote_granted", "probability": 0.1 }),
            "message" => json!({ "message_kind": "append_entries", "probability": 0.1,
                                 "delay_ms": [0, 3] }),
            _ => json!(10),
        }
    };
    let all = [
        "node",
        "groups",
        "from",
        "to",
        "both_ways",
        "drop",
        "extra_latency_ms",
        "for_ms",
        "restart_after_ms",
        "rate",
        "crash_at",
        "message",
    ];
    for kind in FaultKind::ALL {
        assert_eq!(serde_json::to_value(kind).unwrap(), json!(kind.name()));
        let mut fault = json!({ "at_ms": 1, "kind": kind.name() });
        for f in kind.required_fields() {
            fault[*f] = example(f);
        }
        let mut doc = base();
        set(&mut doc, "/faults/0", fault.clone());
        assert!(schema_errors(&v, &doc).is_empty(), "{fault}");
        Scenario::from_str("t.json", &doc.to_string()).unwrap_or_else(|e| panic!("{fault}: {e}"));
        for extra in all.iter().filter(|f| !kind.fields().contains(f)) {
            let mut bad = fault.clone();
            bad[*extra] = example(extra);
            let mut doc = base();
            set(&mut doc, "/faults/0", bad);
            refused_by_both(&v, &format!("{} with {extra}", kind.name()), doc);
        }
        for missing in kind.required_fields() {
            let mut bad = fault.clone();
            bad.as_object_mut().unwrap().remove(*missing);
            let mut doc = base();
            set(&mut doc, "/faults/0", bad);
            refused_by_both(&v, &format!("{} without {missing}", kind.name()), doc);
        }
    }
}

/// A top-level `"$schema"` key is allowed by the schema, accepted and
/// ignored by loading (not kept in what reports embed); any other unknown
/// key is still refused by both.
#[test]
fn dollar_schema_key_is_accepted_and_ignored() {
    let v = validator();
    let mut doc = base();
    doc["$schema"] = json!("./scenario.schema.json");
    assert!(schema_errors(&v, &doc).is_empty());
    let s = Scenario::from_str("t.json", &doc.to_string()).unwrap();
    let plain = Scenario::from_str("t.json", &base().to_string()).unwrap();
    assert_eq!(
        serde_json::to_value(&s.spec).unwrap(),
        serde_json::to_value(&plain.spec).unwrap()
    );
    let mut bad = base();
    bad["$schemas"] = json!("x");
    refused_by_both(&v, "unknown top-level key", bad);
}
