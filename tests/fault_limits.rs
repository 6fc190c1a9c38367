//! Fault schedules stay within what a report's fault log can hold: at
//! most `MAX_SCRIPTED_FAULTS` scripted faults, no repetition or nemesis
//! interval below `MIN_FAULT_INTERVAL_MS` (bad-input files for the
//! intervals are in `tests/bad_inputs/`; the count is built here, since
//! such a file would be megabytes).

use agentsim::scenario::validate::{MAX_SCRIPTED_FAULTS, MIN_FAULT_INTERVAL_MS};
use agentsim::scenario::Scenario;
use serde_json::json;

fn with_faults(n: usize) -> String {
    let faults: Vec<_> = (0..n)
        .map(|_| json!({"at_ms": 10, "kind": "heal"}))
        .collect();
    json!({
        "name": "many", "duration_ms": 1000,
        "cluster": {"nodes": 3, "process": "heartbeat"},
        "faults": faults
    })
    .to_string()
}

#[test]
fn scripted_faults_are_capped_naming_the_field() {
    assert!(Scenario::from_str("ok.json", &with_faults(MAX_SCRIPTED_FAULTS)).is_ok());
    let err = match Scenario::from_str("many.json", &with_faults(MAX_SCRIPTED_FAULTS + 1)) {
        Ok(_) => panic!("accepted {} faults", MAX_SCRIPTED_FAULTS + 1),
        Err(e) => e,
    };
    assert!(
        err.0.iter().any(|e| e.path == "faults"
            && e.message
                .contains(&format!("at most {MAX_SCRIPTED_FAULTS} scripted faults"))),
        "{err}"
    );
}

#[test]
fn repetition_at_the_limit_is_accepted() {
    let text = json!({
        "name": "bounce", "duration_ms": 1000,
        "cluster": {"nodes": 3, "process": "heartbeat"},
        "faults": [{"at_ms": 10, "kind": "crash", "node": 0, "restart_after_ms": 0.5,
            "every_ms": MIN_FAULT_INTERVAL_MS}],
        "nemesis": {"mean_interval_ms": MIN_FAULT_INTERVAL_MS, "kinds": ["pause"], "duration_ms": [1, 2]}
    })
    .to_string();
    assert!(Scenario::from_str("bounce.json", &text).is_ok());
}
