//! Collaboration numbers in sweeps, driven through the binary: a workflow
//! sweep's result lines carry each seed's workflow latency histogram and
//! counts, `sweep.json` merges them (the merged histogram holds exactly
//! the seeds' completed workflows), shards merge to the same summary, a
//! result file written before the field existed still resumes, and Raft
//! sweeps have no `collab` key at all.

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn agentsim(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_agentsim"))
        .args(args)
        .current_dir(cwd)
        .env_remove("AGENTSIM_SHARD_INDEX")
        .env_remove("JOB_COMPLETION_INDEX")
        .env_remove("SLURM_ARRAY_TASK_ID")
        .output()
        .expect("run agentsim")
}

fn expect(o: &Output, code: i32) -> String {
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(
        o.status.code(),
        Some(code),
        "stdout:\n{out}\nstderr:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

fn read_json(p: &Path) -> Value {
    let s = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&s).expect("JSON")
}

/// `sweep.json` without its wall-clock `timing`.
fn deterministic(dir: &Path) -> Value {
    let mut v = read_json(&dir.join("sweep.json"));
    v.as_object_mut().unwrap().remove("timing");
    v
}

/// The result lines (header skipped).
fn lines(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("results.jsonl"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Decode a sparse histogram (deltas; `-delta, count` for count > 1) into
/// `(value_us, count)` pairs.
fn decode(flat: &Value) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut it = flat.as_array().unwrap().iter().map(|x| x.as_i64().unwrap());
    let mut prev = 0u64;
    while let Some(x) = it.next() {
        let (d, c) = if x > 0 {
            (x as u64, 1)
        } else {
            (x.unsigned_abs(), it.next().unwrap() as u64)
        };
        prev += d;
        out.push((prev, c));
    }
    out
}

const WORKFLOW: &str = "scenarios/collab/agent-faults.json";
const SEEDS: &[&str] = &["--seeds", "0..8", "--nemesis"];

fn collab_sweep(cwd: &Path, extra: &[&str]) -> String {
    let scen = format!("{ROOT}/{WORKFLOW}");
    let mut args = vec!["sweep", scen.as_str()];
    args.extend_from_slice(SEEDS);
    args.extend_from_slice(extra);
    expect(&agentsim(&args, cwd), 0)
}

/// The merged numbers are the seeds' numbers folded: histogram count =
/// completed workflows, max = the largest seed's max, totals = sums; the
/// per-seed p99 distribution covers the seeds that completed a workflow;
/// the printed summary has the collaboration line.
#[test]
fn workflow_sweep_merges_the_seeds_numbers() {
    let tmp = tempfile::tempdir().unwrap();
    let out = collab_sweep(tmp.path(), &["--jobs", "2", "--out", "s"]);
    let dir = tmp.path().join("s");
    let st = &deterministic(&dir)["stats"];
    let c = &st["collab"];
    let per_seed: Vec<Value> = lines(&dir)
        .into_iter()
        .map(|l| l["stats"]["collab"].clone())
        .collect();
    assert_eq!(per_seed.len(), 8);
    assert_eq!(c["seeds"], 8);
    let sum = |k: &str| per_seed.iter().map(|s| s[k].as_u64().unwrap()).sum::<u64>();
    let (mut samples, mut max_us, mut with_completed) = (0, 0, 0);
    for s in &per_seed {
        let h = decode(&s["workflow_latency_us"]);
        let n: u64 = h.iter().map(|x| x.1).sum();
        assert_eq!(n, s["workflows_completed"].as_u64().unwrap(), "{s}");
        samples += n;
        max_us = max_us.max(h.last().map_or(0, |x| x.0));
        with_completed += u64::from(n > 0);
    }
    let completed = sum("workflows_completed");
    assert!(completed > 100, "{completed}");
    let lat = &c["workflow_latency_ms"];
    assert_eq!(lat["count"].as_u64().unwrap(), samples);
    assert_eq!(c["workflows"]["completed"].as_u64().unwrap(), completed);
    assert_eq!(lat["max"].as_f64().unwrap(), max_us as f64 / 1000.0);
    let q: Vec<f64> = ["p50", "p90", "p99", "max"]
        .iter()
        .map(|k| lat[*k].as_f64().unwrap())
        .collect();
    assert!(q.windows(2).all(|w| w[0] <= w[1]) && q[0] > 0.0, "{lat}");
    let p99s = &c["workflow_p99_ms_per_seed"];
    assert_eq!(p99s["seeds"].as_u64().unwrap(), with_completed);
    assert!(p99s["max"]["value"].as_f64().unwrap() <= q[3], "{p99s}");
    assert!(p99s["min"]["value"].as_f64().unwrap() <= p99s["p50"].as_f64().unwrap());
    let scheduled = sum("workflows_scheduled");
    assert_eq!(
        c["workflows"]["completed_fraction"].as_f64().unwrap(),
        completed as f64 / scheduled as f64
    );
    for (k, field) in [
        ("dead_letters", "dead_letters"),
        ("breaker_trips", "breaker_trips"),
        ("duplicate_executions", "duplicates"),
        ("conflicting_results", "conflicts"),
        ("failovers", "failovers"),
    ] {
        assert_eq!(c[k]["total"].as_u64().unwrap(), sum(field), "{k}");
        let max = per_seed.iter().map(|s| s[field].as_u64().unwrap()).max();
        assert_eq!(c[k]["max"]["value"].as_u64(), max, "{k}");
    }
    assert_eq!(
        c["tokens"]["spent"]["total"].as_u64().unwrap(),
        sum("tokens_spent")
    );
    assert_eq!(
        c["tokens"]["committed"]["total"].as_u64().unwrap(),
        sum("tokens_committed")
    );
    assert!(
        out.contains(&format!(
            "collab      {completed}/{scheduled} workflows completed"
        )),
        "{out}"
    );
}

/// Two shards merged give the single sweep's `sweep.json`, collaboration
/// numbers included, and `merge` prints the collaboration line.
#[test]
fn sharded_workflow_sweep_merges_to_the_single_summary() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    collab_sweep(d, &["--jobs", "1", "--out", "one"]);
    collab_sweep(d, &["--jobs", "1", "--shard", "0/2", "--out", "a"]);
    collab_sweep(d, &["--jobs", "1", "--shard", "1/2", "--out", "b"]);
    let out = expect(&agentsim(&["merge", "b", "a", "--out", "m"], d), 0);
    assert!(out.contains("collab      "), "{out}");
    let want = deterministic(&d.join("one"));
    assert!(want["stats"]["collab"]["workflow_latency_ms"]["count"].as_u64() > Some(0));
    assert_eq!(deterministic(&d.join("m")), want);
    // Each shard alone counts only its own seeds.
    let a = deterministic(&d.join("a"));
    assert_eq!(a["stats"]["collab"]["seeds"], 4);
}

/// Result lines written before the field existed (no `stats.collab`)
/// still resume: the sweep finishes, and the collaboration numbers say
/// how many seeds they cover.
#[test]
fn old_result_lines_without_collab_still_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    collab_sweep(d, &["--jobs", "1", "--out", "full"]);
    let text = std::fs::read_to_string(d.join("full/results.jsonl")).unwrap();
    let mut kept: Vec<String> = text.lines().take(4).map(String::from).collect();
    for l in kept.iter_mut().skip(1).take(2) {
        let mut v: Value = serde_json::from_str(l).unwrap();
        v["stats"]
            .as_object_mut()
            .unwrap()
            .remove("collab")
            .unwrap();
        *l = serde_json::to_string(&v).unwrap();
    }
    std::fs::create_dir(d.join("old")).unwrap();
    std::fs::write(d.join("old/results.jsonl"), kept.join("\n") + "\n").unwrap();
    collab_sweep(d, &["--jobs", "1", "--out", "old", "--resume"]);
    let st = &deterministic(&d.join("old"))["stats"];
    assert_eq!(st["seeds"], 8);
    assert_eq!(st["collab"]["seeds"], 6, "two lines had no numbers");
    let full = &deterministic(&d.join("full"))["stats"];
    // The same seeds ran: every non-collab statistic agrees.
    assert_eq!(st["events"], full["events"]);
    assert!(
        st["collab"]["workflows"]["completed"].as_u64()
            < full["collab"]["workflows"]["completed"].as_u64()
    );
}

/// A Raft sweep's result lines and summary have no `collab` key (absent,
/// not null), so they stay as before the field existed.
#[test]
fn raft_sweeps_have_no_collab_key() {
    let tmp = tempfile::tempdir().unwrap();
    let scen = format!("{ROOT}/scenarios/sweep/nemesis-10s.json");
    let o = agentsim(
        &[
            "sweep",
            &scen,
            "--seeds",
            "0..4",
            "--nemesis",
            "--duration-ms",
            "2000",
            "--jobs",
            "1",
            "--out",
            "r",
        ],
        tmp.path(),
    );
    let out = expect(&o, 0);
    assert!(!out.contains("collab"), "{out}");
    let dir = tmp.path().join("r");
    let text = std::fs::read_to_string(dir.join("results.jsonl")).unwrap();
    assert!(!text.contains("collab"), "{text}");
    assert_eq!(lines(&dir).len(), 4);
    let st = &deterministic(&dir)["stats"];
    assert!(st.get("collab").is_none(), "{st}");
}
