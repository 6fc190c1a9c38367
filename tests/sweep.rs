//! `agentsim sweep` and `agentsim merge`, driven through the binary: the
//! summary does not depend on `--jobs`, on sharding, or on being killed and
//! resumed; failing seeds leave files that `agentsim replay` reproduces;
//! bad input exits 2 and writes nothing.
//!
//! Each sweep here is a few dozen short seeds, so the file runs in seconds.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn scenario(rel: &str) -> String {
    format!("{ROOT}/scenarios/{rel}")
}

/// The 10 s sweep scenario cut to 2 s: about 3 ms of work per seed.
fn short_nemesis() -> Vec<String> {
    vec![
        scenario("sweep/nemesis-10s.json"),
        "--duration-ms".into(),
        "2000".into(),
    ]
}

fn agentsim(args: &[&str], cwd: &Path, env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_agentsim"));
    c.args(args).current_dir(cwd);
    for var in [
        "AGENTSIM_SHARD_INDEX",
        "AGENTSIM_SHARDS",
        "JOB_COMPLETION_INDEX",
        "SLURM_ARRAY_TASK_ID",
        "SLURM_ARRAY_TASK_MIN",
        "SLURM_ARRAY_TASK_COUNT",
    ] {
        c.env_remove(var);
    }
    c.envs(env.iter().copied());
    c.output().expect("run agentsim")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn code(o: &Output) -> Option<i32> {
    o.status.code()
}

fn show(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        text(&o.stdout),
        text(&o.stderr)
    )
}

/// `agentsim sweep SCENARIO... extra` in `cwd`; asserts the exit code.
fn sweep(cwd: &Path, scen: &[String], extra: &[&str], want: i32) -> Output {
    let mut args: Vec<&str> = vec!["sweep"];
    args.extend(scen.iter().map(String::as_str));
    args.extend_from_slice(extra);
    let o = agentsim(&args, cwd, &[]);
    assert_eq!(code(&o), Some(want), "{}", show(&o));
    o
}

fn read_json(path: &Path) -> Value {
    let s = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&s).expect("JSON")
}

/// `sweep.json` without its wall-clock `timing` section.
fn deterministic(dir: &Path) -> Value {
    let mut v = read_json(&dir.join("sweep.json"));
    let timing = v.as_object_mut().unwrap().remove("timing");
    assert!(timing.is_some(), "sweep.json has a timing section");
    v
}

fn result_lines(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("results.jsonl"))
        .map(|s| s.matches('\n').count().saturating_sub(1))
        .unwrap_or(0)
}

/// One seed range, swarm nemesis, 1 job and 2 jobs: the same sweep.json
/// (timing apart), every seed counted once, and the shape of the summary.
#[test]
fn summary_does_not_depend_on_jobs() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let args = ["--seeds", "0..24", "--nemesis", "--out", "s"];
    sweep(
        a.path(),
        &short_nemesis(),
        &[&args[..], &["--jobs", "1"]].concat(),
        0,
    );
    sweep(
        b.path(),
        &short_nemesis(),
        &[&args[..], &["--jobs", "2"]].concat(),
        0,
    );
    let one = deterministic(&a.path().join("s"));
    assert_eq!(one, deterministic(&b.path().join("s")));
    assert_eq!(one["seeds_run"], 24);
    assert_eq!(one["seeds"], "0..24");
    assert_eq!(one["nemesis"], true);
    assert_eq!(one["failures"], Value::Array(vec![]));
    let st = &one["stats"];
    assert_eq!(st["seeds"], 24);
    assert!(st["client_latency_ms"]["count"].as_u64().unwrap() > 1000);
    assert!(st["commit_latency_ms"]["p99"].as_f64().unwrap() > 0.0);
    assert!(st["availability"]["mean"].as_f64().is_some());
    assert!(st["max_term"]["max"]["value"].as_u64().unwrap() >= 1);
    assert!(st["leader_loss_downtime_ms"]["intervals"]["count"].is_u64());
    assert_eq!(result_lines(&a.path().join("s")), 24);
    // Swarm draws differ per seed and are recorded with each result.
    let lines = std::fs::read_to_string(a.path().join("s/results.jsonl")).unwrap();
    let draws: std::collections::BTreeSet<String> = lines
        .lines()
        .skip(1)
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["swarm"].to_string())
        .collect();
    assert!(
        draws.len() > 20,
        "each seed draws its own faults: {draws:?}"
    );
}

/// Three shards (by `--shard I/N`, by Kubernetes' JOB_COMPLETION_INDEX and
/// by Slurm's 1-based SLURM_ARRAY_TASK_ID) merged equal one machine's
/// sweep, failure files and replay commands included (a bug makes seeds
/// fail). Merging two shards only is refused, naming the missing one.
#[test]
fn merged_shards_equal_a_single_run() {
    let (single, sharded) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let scen = vec![
        scenario("bugs/stale-read.json"),
        "--duration-ms".into(),
        "4000".into(),
    ];
    let common = ["--seeds", "10..22", "--bug", "stale-read", "--jobs", "2"];
    sweep(
        single.path(),
        &scen,
        &[&common[..], &["--out", "m"]].concat(),
        1,
    );
    let sh = sharded.path();
    sweep(
        sh,
        &scen,
        &[&common[..], &["--shard", "0/3", "--out", "a"]].concat(),
        1,
    );
    let mut args: Vec<&str> = vec!["sweep"];
    args.extend(scen.iter().map(String::as_str));
    args.extend_from_slice(&common);
    let k8s = agentsim(
        &[
            &args[..],
            &["--shard", "env", "--shards", "3", "--out", "b"],
        ]
        .concat(),
        sh,
        &[("JOB_COMPLETION_INDEX", "1")],
    );
    assert!(matches!(code(&k8s), Some(0 | 1)), "{}", show(&k8s));
    let slurm = agentsim(
        &[&args[..], &["--shard", "env", "--out", "c"]].concat(),
        sh,
        &[
            ("SLURM_ARRAY_TASK_ID", "3"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "3"),
        ],
    );
    assert!(matches!(code(&slurm), Some(0 | 1)), "{}", show(&slurm));
    assert_eq!(read_json(&sh.join("c/sweep.json"))["shard"]["index"], 2);

    let partial = agentsim(&["merge", "a", "c", "--out", "p"], sh, &[]);
    assert_eq!(code(&partial), Some(2), "{}", show(&partial));
    assert!(
        text(&partial.stderr).contains("shard 1/3"),
        "{}",
        show(&partial)
    );
    assert!(!sh.join("p").exists(), "a refused merge writes nothing");

    let merged = agentsim(&["merge", "c", "a", "b", "--out", "m"], sh, &[]);
    assert_eq!(code(&merged), Some(1), "{}", show(&merged));
    let want = deterministic(&single.path().join("m"));
    assert_eq!(deterministic(&sh.join("m")), want);
    let failures = want["failures"].as_array().unwrap();
    assert!(!failures.is_empty(), "stale-read fails some seeds: {want}");
    for f in failures {
        let file = f["file"].as_str().unwrap();
        assert_eq!(
            std::fs::read(single.path().join("m").join(file)).unwrap(),
            std::fs::read(sh.join("m").join(file)).unwrap(),
            "{file} is the same either way"
        );
    }
}

/// Kill a sweep after some results are on disk, tear its last line the
/// way an interrupted write would, resume it: the summary equals that of
/// a sweep that was never interrupted, and every seed is counted once.
#[test]
#[allow(clippy::disallowed_methods)] // a wall-clock deadline for polling the child
fn killed_sweep_resumes_to_the_same_summary() {
    let (killed, clean) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let range = ["--seeds", "0..600", "--out", "s"];
    let mut args: Vec<String> = vec!["sweep".into()];
    args.extend(short_nemesis());
    args.extend(range.iter().map(|s| s.to_string()));
    args.extend(["--jobs".into(), "1".into()]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_agentsim"))
        .args(&args)
        .current_dir(killed.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn sweep");
    let dir = killed.path().join("s");
    let deadline = Instant::now() + Duration::from_secs(20);
    while result_lines(&dir) < 40 {
        assert!(Instant::now() < deadline, "no results after 20 s");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let done = result_lines(&dir);
    assert!(done < 600, "killed before the end ({done} seeds done)");
    assert!(
        !dir.join("sweep.json").exists(),
        "no summary from a killed sweep"
    );
    // A torn write: half a line, no newline.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.join("results.jsonl"))
        .unwrap();
    std::io::Write::write_all(&mut f, b"{\"seed\":599,\"trace_ha").unwrap();
    drop(f);

    let scen = short_nemesis();
    let o = sweep(
        killed.path(),
        &scen,
        &[&range[..], &["--resume", "--jobs", "2"]].concat(),
        0,
    );
    assert!(text(&o.stderr).contains("torn last line"), "{}", show(&o));
    sweep(
        clean.path(),
        &scen,
        &[&range[..], &["--jobs", "2"]].concat(),
        0,
    );
    let resumed = deterministic(&dir);
    assert_eq!(resumed, deterministic(&clean.path().join("s")));
    assert_eq!(resumed["seeds_run"], 600);
    assert_eq!(
        result_lines(&dir),
        600,
        "every seed once, the torn line gone"
    );
    let timing = &read_json(&dir.join("sweep.json"))["timing"];
    assert_eq!(timing["seeds_resumed"].as_u64(), Some(done as u64));

    // Resuming with different options is refused and changes nothing.
    let before = std::fs::read(dir.join("results.jsonl")).unwrap();
    let o = sweep(
        killed.path(),
        &scen,
        &["--seeds", "0..700", "--out", "s", "--resume"],
        2,
    );
    assert!(text(&o.stderr).contains("different sweep"), "{}", show(&o));
    assert_eq!(std::fs::read(dir.join("results.jsonl")).unwrap(), before);
}

fn failure_files(dir: &Path) -> Vec<(Value, PathBuf)> {
    let summary = read_json(&dir.join("sweep.json"));
    summary["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f.clone(), dir.join(f["file"].as_str().unwrap())))
        .collect()
}

/// Assert `agentsim replay FILE` re-runs the failure: the trace hash
/// matches, and it exits 1 because the same check fails again.
fn assert_replays(cwd: &Path, entry: &Value, file: &Path) {
    let cmd = entry["replay"].as_str().unwrap();
    let path = cmd
        .strip_prefix("agentsim replay ")
        .expect("a replay command");
    assert_eq!(cwd.join(path), file);
    let o = agentsim(&["replay", path], cwd, &[]);
    assert_eq!(code(&o), Some(1), "{}", show(&o));
    let err = text(&o.stderr);
    assert!(
        err.contains("replay ok: trace hash matches"),
        "{}",
        show(&o)
    );
    let kind = entry["kind"].as_str().unwrap();
    assert!(text(&o.stdout).contains(kind), "{}", show(&o));
}

/// `--bug stale-read` over a few seeds: exit 1, each failing seed listed
/// with kind `linearizability`, its report in failures/, and its replay
/// command reproducing it.
#[test]
fn failing_seeds_leave_replayable_files() {
    let tmp = tempfile::tempdir().unwrap();
    let scen = vec![scenario("bugs/stale-read.json")];
    sweep(
        tmp.path(),
        &scen,
        &["--seeds", "0..4", "--bug", "stale-read", "--out", "s"],
        1,
    );
    let failures = failure_files(&tmp.path().join("s"));
    assert!(!failures.is_empty());
    for (entry, file) in &failures {
        assert_eq!(entry["kind"], "linearizability", "{entry}");
        let report = read_json(file);
        assert_eq!(report["seed"], entry["seed"]);
        assert_eq!(report["scenario"]["seed"], entry["seed"]);
        assert_eq!(report["scenario"]["bug"], "stale-read");
        assert_eq!(report["checks"]["ok"], false);
        assert_replays(tmp.path(), entry, file);
    }
}

/// Swarm testing finds the double-vote bug; the failure file carries the
/// seed's drawn nemesis and rates (in `swarm` and baked into `scenario`),
/// so it replays with nothing else.
#[test]
fn swarm_failures_record_their_draw_and_replay() {
    let tmp = tempfile::tempdir().unwrap();
    let scen = vec![scenario("bugs/double-vote.json")];
    let args = [
        "--seeds",
        "0..3",
        "--nemesis",
        "--bug",
        "double-vote",
        "--out",
        "s",
    ];
    sweep(tmp.path(), &scen, &args, 1);
    let failures = failure_files(&tmp.path().join("s"));
    assert!(!failures.is_empty());
    for (entry, file) in &failures {
        assert_eq!(entry["kind"], "safety", "{entry}");
        let report = read_json(file);
        let draw = &report["swarm"];
        assert_eq!(report["scenario"]["nemesis"]["kinds"], draw["kinds"]);
        assert_eq!(
            report["scenario"]["nemesis"]["mean_interval_ms"],
            draw["mean_interval_ms"]
        );
        assert_eq!(report["scenario"]["network"]["drop"], draw["drop"]);
        assert_eq!(
            report["scenario"]["network"]["duplicate"],
            draw["duplicate"]
        );
        assert_replays(tmp.path(), entry, file);
    }
}

/// Bad input exits 2 with a message naming the problem and writes nothing.
#[test]
fn bad_arguments_exit_2_and_write_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let scen = scenario("sweep/nemesis-10s.json");
    let bad_json = tmp.path().join("bad.json");
    std::fs::write(&bad_json, "{\"name\": \"x\", \"duration_ms\": -1}").unwrap();
    let bad = bad_json.to_str().unwrap();
    type Case<'a> = (Vec<&'a str>, &'a [(&'a str, &'a str)], &'a str);
    let cases: Vec<Case> = vec![
        (vec!["--seeds", "5..2"], &[], "range is empty"),
        (vec!["--seeds", "5..5"], &[], "range is empty"),
        (vec!["--seeds", "x"], &[], "A..B"),
        (
            vec!["--seeds", "0..4", "--shard", "3/2"],
            &[],
            "out of range",
        ),
        (vec!["--seeds", "0..4", "--shard", "1"], &[], "I/N"),
        (
            vec!["--seeds", "0..4", "--bug", "no-such-bug"],
            &[],
            "not a known bug",
        ),
        (vec!["--seeds", "0..4", "--jobs", "0"], &[], "--jobs"),
        (
            vec!["--seeds", "0..4", "--duration-ms=-5"],
            &[],
            "--duration-ms",
        ),
        (
            vec!["--seeds", "0..4", "--shard", "env"],
            &[],
            "JOB_COMPLETION_INDEX",
        ),
        (
            vec!["--seeds", "0..4", "--shard", "env"],
            &[("JOB_COMPLETION_INDEX", "1")],
            "--shards N",
        ),
        (
            vec!["--seeds", "0..4", "--shard", "env", "--shards", "2"],
            &[("JOB_COMPLETION_INDEX", "2")],
            "out of range",
        ),
        (vec!["--seeds", "0..4", "--shards", "2"], &[], "--shard env"),
    ];
    for (extra, env, want) in cases {
        let mut args = vec!["sweep", scen.as_str(), "--out", "o"];
        args.extend(extra.iter().copied());
        let o = agentsim(&args, tmp.path(), env);
        assert_eq!(code(&o), Some(2), "{args:?}\n{}", show(&o));
        assert!(
            text(&o.stderr).contains(want),
            "{args:?}: want {want:?}\n{}",
            show(&o)
        );
        assert!(!tmp.path().join("o").exists(), "{args:?} wrote output");
    }
    for (file, want) in [
        (bad, "missing field `cluster`"),
        ("missing.json", "cannot read"),
    ] {
        let o = agentsim(
            &["sweep", file, "--seeds", "0..4", "--out", "o"],
            tmp.path(),
            &[],
        );
        assert_eq!(code(&o), Some(2), "{}", show(&o));
        assert!(text(&o.stderr).contains(want), "{}", show(&o));
        assert!(!tmp.path().join("o").exists());
    }
    let o = agentsim(&["merge", "nowhere", "--out", "o"], tmp.path(), &[]);
    assert_eq!(code(&o), Some(2), "{}", show(&o));
    assert!(
        text(&o.stderr).contains("not the output folder"),
        "{}",
        show(&o)
    );
    assert!(!tmp.path().join("o").exists());
}

/// `--metrics FILE` writes the sweep's counters and merged histograms as
/// OpenMetrics text: every family typed, cumulative buckets whose `+Inf`
/// bucket equals `_count`, the seed counter equal to the seeds run, `# EOF`
/// last.
#[test]
fn sweep_metrics_are_openmetrics() {
    let dir = tempfile::tempdir().unwrap();
    let metrics = dir.path().join("m.txt");
    let out = agentsim(
        &[
            "sweep",
            &scenario("raft/nemesis.json"),
            "--duration-ms",
            "3000",
            "--seeds",
            "0..4",
            "--out",
            "s",
            "--metrics",
            metrics.to_str().unwrap(),
        ],
        dir.path(),
        &[],
    );
    assert_eq!(code(&out), Some(0), "{}", show(&out));
    let text = std::fs::read_to_string(&metrics).unwrap();
    assert!(text.ends_with("# EOF\n"));
    assert!(
        text.contains("agentsim_sweep_seeds_total{scenario=\"nemesis\"} 4"),
        "{text}"
    );
    for fam in [
        "agentsim_client_latency_seconds",
        "agentsim_commit_latency_seconds",
    ] {
        assert!(text.contains(&format!("# TYPE {fam} histogram")), "{fam}");
        let buckets: Vec<u64> = text
            .lines()
            .filter(|l| l.starts_with(&format!("{fam}_bucket")))
            .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
            .collect();
        assert!(
            buckets.windows(2).all(|w| w[0] <= w[1]),
            "{fam}: cumulative"
        );
        let count: u64 = text
            .lines()
            .find(|l| l.starts_with(&format!("{fam}_count")))
            .and_then(|l| l.rsplit(' ').next())
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(*buckets.last().unwrap(), count);
        assert!(count > 0, "{fam} has samples");
    }
}
