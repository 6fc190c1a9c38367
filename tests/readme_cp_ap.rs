//! README's CP-vs-AP table states what the checked-in
//! `reports/cp-vs-ap` runs measured (tests/plots.rs regenerates those
//! reports byte for byte, so the table is tied to the code through them).

use serde_json::Value;

fn report(run: &str) -> Value {
    let path = format!("reports/cp-vs-ap/collab-partition-{run}/report.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).expect("report parses")
}

/// The `[cp, ap]` cells of README's row whose label starts with `label`.
fn row(readme: &str, label: &str) -> [String; 2] {
    row_in(readme, "| | CP (Raft) | AP (LWW) |", label)
}

/// The `[cp, ap]` cells of the row starting with `label` in the table
/// whose header line is `header`.
fn row_in(readme: &str, header: &str, label: &str) -> [String; 2] {
    let table = &readme[readme.find(header).expect("CP/AP table")..];
    let table = &table[..table.find("\n\n").unwrap_or(table.len())];
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

/// Per partition in the report's fault log, per group: how many tasks of
/// the final committed state (`collab.gantt`) were run by an agent of
/// that group, started and finished inside the split.
fn kept_by_side(r: &Value) -> Vec<Vec<f64>> {
    let faults = r["faults"].as_array().expect("faults");
    let gantt = r["collab"]["gantt"].as_array().expect("gantt");
    assert_eq!(
        r["collab"]["gantt_total"].as_u64(),
        Some(gantt.len() as u64),
        "the gantt list is complete"
    );
    let heals: Vec<f64> = faults
        .iter()
        .filter(|f| f["kind"] == "heal")
        .map(|f| f["at_ms"].as_f64().unwrap())
        .collect();
    faults
        .iter()
        .filter(|f| f["kind"] == "partition")
        .zip(heals)
        .map(|(p, heal)| {
            let start = p["at_ms"].as_f64().unwrap();
            p["groups"]
                .as_array()
                .unwrap()
                .iter()
                .map(|g| {
                    let members: Vec<u64> = g
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|n| n.as_u64().unwrap())
                        .collect();
                    gantt
                        .iter()
                        .filter(|b| members.contains(&b["agent"].as_u64().unwrap()))
                        .filter(|b| {
                            start <= b["start_ms"].as_f64().unwrap()
                                && b["end_ms"].as_f64().unwrap() <= heal
                        })
                        .count() as f64
                })
                .collect()
        })
        .collect()
}

/// README's second CP/AP table (agents placed inside the split with
/// `"agents": "proportional"`) states what `partition-{cp,ap}-split`
/// measured; in CP the minority side's agents keep nothing during the
/// split (issue #15: their results cannot reach the leader).
#[test]
fn readme_agents_in_split_table_matches_the_checked_in_reports() {
    let readme = std::fs::read_to_string("README.md").expect("README");
    let header = "| agents inside the split | CP (Raft) | AP (LWW) |";
    for (i, run) in ["cp-split", "ap-split"].into_iter().enumerate() {
        let r = report(run);
        let c = &r["collab"];
        let m = &c["consistency_metrics"];
        let parts = m["partitions"].as_array().expect("partitions");
        let cell = |label: &str| numbers(&row_in(&readme, header, label)[i]);
        assert_eq!(
            cell("coordinators at once")[0],
            m["max_coordinators_at_once"].as_f64().unwrap(),
            "{run}"
        );
        let during: Vec<f64> = parts
            .iter()
            .map(|p| p["tasks_completed_during"].as_f64().unwrap())
            .collect();
        assert_eq!(cell("tasks completed during split"), during, "{run}");
        let sides = kept_by_side(&r);
        assert_eq!(cell("split 1: kept results"), sides[0], "{run}");
        assert_eq!(cell("split 2: kept results"), sides[1], "{run}");
        if run == "cp-split" {
            assert_eq!(
                sides[0][0], 0.0,
                "CP: the minority side's agents keep nothing"
            );
            assert!(sides[0][1] > 0.0, "CP: the leader's side keeps working");
        }
        for (label, key) in [
            ("duplicate executions", "duplicate_executions"),
            ("tasks with conflicting results", "conflicting_results"),
            ("committed results lost", "results_lost"),
        ] {
            assert_eq!(cell(label)[0], m[key].as_f64().unwrap(), "{run}: {label}");
        }
        assert_eq!(
            cell("dead letters")[0],
            c["dead_letters"]["count"].as_f64().unwrap(),
            "{run}"
        );
        assert_eq!(
            c["dead_letters"]["still_dead"].as_f64(),
            Some(0.0),
            "{run}: all re-driven"
        );
        let spent_k = (c["tokens"]["spent"].as_f64().unwrap() / 1000.0).round();
        assert_eq!(cell("tokens spent")[0], spent_k, "{run}: tokens");
        let converged: Vec<f64> = parts
            .iter()
            .map(|p| p["converged_ms_after_heal"].as_f64().unwrap().round())
            .collect();
        assert_eq!(cell("converged after heal"), converged, "{run}");
        let lat = &c["workflows"]["latency_ms"];
        let shown = cell("workflow latency");
        for (k, key) in ["p50", "p99"].into_iter().enumerate() {
            let s = lat[key].as_f64().unwrap() / 1000.0;
            let digits = if s < 10.0 { 100.0 } else { 10.0 };
            assert_eq!(
                shown[k],
                (s * digits).round() / digits,
                "{run}: latency {key}"
            );
        }
    }
}
