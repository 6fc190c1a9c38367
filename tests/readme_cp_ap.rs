//! README's CP-vs-AP table states what the checked-in
//! `reports/cp-vs-ap` runs measured (tests/plots.rs regenerates those
//! reports byte for byte, so the table is tied to the code through them).

use serde_json::Value;

fn report(model: &str) -> Value {
    let path = format!("reports/cp-vs-ap/collab-partition-{model}/report.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).expect("report parses")
}

/// The `[cp, ap]` cells of README's row whose label starts with `label`.
fn row(readme: &str, label: &str) -> [String; 2] {
    let table = &readme[readme
        .find("| | CP (Raft) | AP (LWW) |")
        .expect("CP/AP table")..];
    let line = table
        .lines()
        .find(|l| l.starts_with(&format!("| {label}")))
        .unwrap_or_else(|| panic!("no row {label:?}"));
    let cells: Vec<&str> = line.split('|').map(str::trim).collect();
    [cells[2].to_string(), cells[3].to_string()]
}

/// The numbers in a cell, in order (`122 / **0**` → [122, 0];
/// `1,173 k (+46 %)` → [1173, 46]).
fn numbers(cell: &str) -> Vec<f64> {
    cell.replace(',', "")
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .filter(|w| !w.is_empty() && *w != ".")
        .map(|w| w.parse().expect("number"))
        .collect()
}

#[test]
fn readme_cp_ap_table_matches_the_checked_in_reports() {
    let readme = std::fs::read_to_string("README.md").expect("README");
    for (i, model) in ["cp", "ap"].into_iter().enumerate() {
        let r = report(model);
        let c = &r["collab"];
        let m = &c["consistency_metrics"];
        let parts = m["partitions"].as_array().expect("partitions");
        let cell = |label: &str| numbers(&row(&readme, label)[i]);
        assert_eq!(
            cell("coordinators at once")[0],
            m["max_coordinators_at_once"].as_f64().unwrap(),
            "{model}"
        );
        let during: Vec<f64> = parts
            .iter()
            .map(|p| p["tasks_completed_during"].as_f64().unwrap())
            .collect();
        assert_eq!(cell("tasks completed during split"), during, "{model}");
        for (label, key) in [
            ("duplicate executions", "duplicate_executions"),
            ("tasks with conflicting results", "conflicting_results"),
            ("committed results lost", "results_lost"),
        ] {
            assert_eq!(cell(label)[0], m[key].as_f64().unwrap(), "{model}: {label}");
        }
        let spent_k = (c["tokens"]["spent"].as_f64().unwrap() / 1000.0).round();
        assert_eq!(cell("tokens spent")[0], spent_k, "{model}: tokens");
        let converged: Vec<f64> = parts
            .iter()
            .map(|p| p["converged_ms_after_heal"].as_f64().unwrap().round())
            .collect();
        let shown = cell("converged after heal");
        assert_eq!(shown, converged, "{model}");
    }
}
