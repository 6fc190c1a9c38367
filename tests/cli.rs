//! The happy path of the `agentsim` binary, read like a session at the
//! terminal: run the quickstart scenario, look at what it wrote, replay it,
//! tamper with it, list the shipped scenarios.

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

const QUICKSTART: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/quickstart.json");

fn agentsim(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_agentsim"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run agentsim")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Assert exit 0 and return stdout.
fn ok(o: &Output) -> String {
    assert_eq!(
        o.status.code(),
        Some(0),
        "stdout:\n{}\nstderr:\n{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    text(&o.stdout)
}

fn read_json(path: &Path) -> Value {
    let s = std::fs::read_to_string(path).expect("read report");
    serde_json::from_str(&s).expect("report is JSON")
}

/// Run quickstart into `dir/<sub>` with extra args; return the report.
fn run_quickstart(dir: &Path, sub: &str, extra: &[&str]) -> (Output, Value) {
    let out = dir.join(sub);
    let mut args = vec!["run", QUICKSTART, "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    let o = agentsim(&args, dir);
    ok(&o);
    let report = read_json(&out.join("report.json"));
    (o, report)
}

/// `agentsim run` exits 0, writes report.json with every top-level section,
/// and the summary points at the report and the replay command.
#[test]
fn run_writes_report_with_all_sections() {
    let dir = tempfile::tempdir().unwrap();
    let (o, report) = run_quickstart(dir.path(), "q", &[]);
    for key in [
        "seed",
        "scenario",
        "trace_hash",
        "events",
        "sim_time_ms",
        "wall_ms",
        "network",
        "faults",
        "checks",
    ] {
        assert!(report.get(key).is_some(), "report lacks `{key}`");
    }
    assert_eq!(report["seed"], 1, "the scenario's own seed");
    assert_eq!(report["scenario"]["name"], "quickstart");
    assert_eq!(report["sim_time_ms"].as_f64(), Some(20000.0));
    assert!(report["events"].as_u64().unwrap() > 0);
    let hash = report["trace_hash"].as_str().unwrap();
    assert_eq!(hash.len(), 64, "hex BLAKE3: {hash}");
    assert!(hash.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(report["checks"]["ok"], true);
    assert!(report["faults"].as_array().is_some_and(|f| !f.is_empty()));

    let stdout = text(&o.stdout);
    assert!(
        stdout.contains("agentsim run: quickstart (seed 1)"),
        "{stdout}"
    );
    assert!(stdout.contains(hash), "summary shows the hash: {stdout}");
    assert!(stdout.contains("agentsim replay"), "{stdout}");
    // Only report.json: no temp files beside it.
    let names: Vec<_> = std::fs::read_dir(dir.path().join("q"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["report.json"]);
}

/// `--json` prints the report itself on stdout, and it matches the file
/// (same trace hash: the run is deterministic).
#[test]
fn json_flag_prints_parseable_report_with_same_hash() {
    let dir = tempfile::tempdir().unwrap();
    let (o, report) = run_quickstart(dir.path(), "j", &["--json"]);
    let printed: Value = serde_json::from_slice(&o.stdout).expect("stdout is one JSON value");
    assert_eq!(printed["trace_hash"], report["trace_hash"]);
    assert_eq!(printed["events"], report["events"]);

    let (_, again) = run_quickstart(dir.path(), "j2", &[]);
    assert_eq!(
        again["trace_hash"], report["trace_hash"],
        "same seed, same hash"
    );
}

/// `--seed` overrides the scenario's seed: the report records it and the
/// trace hash changes.
#[test]
fn seed_flag_changes_trace_hash() {
    let dir = tempfile::tempdir().unwrap();
    let (_, base) = run_quickstart(dir.path(), "s1", &[]);
    let (_, seven) = run_quickstart(dir.path(), "s7", &["--seed", "7"]);
    assert_eq!(seven["seed"], 7);
    assert_eq!(seven["scenario"]["seed"], 7, "the embedded scenario too");
    assert_ne!(seven["trace_hash"], base["trace_hash"]);
}

/// `--trace FILE` writes one JSON object per line, in non-decreasing
/// virtual time: a line per event the report counts (and per node start).
#[test]
fn trace_flag_writes_json_lines_in_time_order() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("trace.jsonl");
    let (_, report) = run_quickstart(dir.path(), "t", &["--trace", trace.to_str().unwrap()]);
    let body = std::fs::read_to_string(&trace).expect("trace written");
    let mut last = 0u64;
    let mut lines = 0u64;
    for (i, line) in body.lines().enumerate() {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("line {i}: {e}"));
        assert!(v.is_object(), "line {i} is an object");
        assert!(v["kind"].is_string(), "line {i} has a kind: {line}");
        let t = v["time_us"].as_u64().expect("time_us");
        assert!(t >= last, "line {i}: time went back from {last} to {t}");
        last = t;
        lines += 1;
    }
    assert!(lines > 0);
    // One line per dispatched event, plus the `start` line a restart
    // produces inside its fault event.
    let restarts = report["faults"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "restart" && f.get("skipped").is_none())
        .count() as u64;
    assert!(restarts > 0, "quickstart restarts node 1");
    assert_eq!(Some(lines - restarts), report["events"].as_u64());
    assert!(last <= 20_000_000, "no event after the end of the run");
}

/// `agentsim replay` re-runs a report and confirms the hash (exit 0);
/// a report whose hash was edited makes replay exit 1 saying DIVERGED.
#[test]
fn replay_confirms_hash_and_detects_divergence() {
    let dir = tempfile::tempdir().unwrap();
    let (_, mut report) = run_quickstart(dir.path(), "r", &["--seed", "3"]);
    let path = dir.path().join("r/report.json");

    let o = agentsim(&["replay", path.to_str().unwrap()], dir.path());
    ok(&o);
    let err = text(&o.stderr);
    assert!(err.contains("replay ok: trace hash matches"), "{err}");
    assert!(err.contains(report["trace_hash"].as_str().unwrap()));

    let o = agentsim(&["replay", "--json", path.to_str().unwrap()], dir.path());
    let replayed: Value = serde_json::from_slice(&o.stdout).expect("--json prints JSON");
    assert_eq!(replayed["seed"], 3, "replay uses the recorded seed");
    assert_eq!(replayed["trace_hash"], report["trace_hash"]);

    report["trace_hash"] = Value::from("0".repeat(64));
    let tampered = dir.path().join("tampered.json");
    std::fs::write(&tampered, serde_json::to_string_pretty(&report).unwrap()).unwrap();
    let o = agentsim(&["replay", tampered.to_str().unwrap()], dir.path());
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(err.contains("DIVERGED"), "{err}");
    assert!(
        err.contains(&"0".repeat(64)),
        "names the recorded hash: {err}"
    );
}

/// `agentsim scenarios` lists the shipped scenarios with their descriptions.
#[test]
fn scenarios_lists_quickstart_with_description() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let stdout = ok(&agentsim(&["scenarios", "--long"], root));
    let text = std::fs::read_to_string(root.join(QUICKSTART)).unwrap();
    let desc = serde_json::from_str::<serde_json::Value>(&text).unwrap()["description"]
        .as_str()
        .unwrap()
        .to_string();
    // --long wraps the description under its column: rejoin the lines.
    let lines: Vec<&str> = stdout.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.contains("quickstart.json"))
        .unwrap_or_else(|| panic!("quickstart not listed:\n{stdout}"));
    let mut words: Vec<&str> = lines[at].split_whitespace().skip(1).collect();
    for l in &lines[at + 1..] {
        if !l.starts_with(' ') {
            break;
        }
        words.extend(l.split_whitespace());
    }
    assert!(!desc.is_empty() && words.join(" ") == desc, "{words:?}");
    assert!(
        !stdout.contains("(invalid"),
        "every shipped scenario is valid:\n{stdout}"
    );
}

/// `agentsim scenarios` fits the terminal width: `COLUMNS` when set, 100
/// when stdout is not a terminal (as here); descriptions that do not fit
/// end in `…` (the longest shipped one is over 1,400 characters), and
/// `--long` shows them whole, wrapped to the width.
#[test]
fn scenarios_wraps_to_the_terminal_width() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let listing = |columns: Option<&str>, long: bool| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_agentsim"));
        c.arg("scenarios").current_dir(root).env_remove("COLUMNS");
        if long {
            c.arg("--long");
        }
        if let Some(w) = columns {
            c.env("COLUMNS", w);
        }
        ok(&c.output().expect("run agentsim"))
    };
    let widest = |s: &str| s.lines().map(|l| l.chars().count()).max().unwrap_or(0);
    let plain = listing(None, false);
    assert!(widest(&plain) <= 100 && widest(&plain) > 90, "{plain}");
    assert!(plain.lines().any(|l| l.ends_with('…')), "{plain}");
    let narrow = listing(Some("80"), false);
    assert!(widest(&narrow) <= 80, "{narrow}");
    assert_eq!(plain.lines().count(), narrow.lines().count());
    let long = listing(Some("80"), true);
    assert!(widest(&long) <= 80, "{long}");
    assert!(!long.contains('…'));
    assert!(long.lines().count() > 2 * plain.lines().count(), "wrapped");
    let words = |s: &str| s.split_whitespace().count();
    assert!(
        words(&long) > 3 * words(&plain),
        "--long shows whole descriptions"
    );
}

/// `agentsim scenarios --dir` lists another folder, and marks invalid files
/// instead of failing.
#[test]
fn scenarios_marks_invalid_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(QUICKSTART, dir.path().join("a.json")).unwrap();
    std::fs::write(dir.path().join("b.json"), "{").unwrap();
    let stdout = ok(&agentsim(
        &["scenarios", "--dir", dir.path().to_str().unwrap()],
        dir.path(),
    ));
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(lines[0].contains("a.json") && lines[0].contains("leader crashes"));
    assert!(lines[1].contains("b.json") && lines[1].contains("agentsim validate"));
}

/// Every complete scenario shown in `docs/scenario-format.md` is valid, and
/// the annotated heartbeat example runs with its expectation met.
#[test]
fn documented_examples_are_valid() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("docs/scenario-format.md")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut full = Vec::new();
    for (i, block) in doc.split("```json\n").skip(1).enumerate() {
        let body = block.split("```").next().unwrap();
        if body.trim_start().starts_with('{') && body.contains("\"name\"") {
            let path = dir.path().join(format!("example{i}.json"));
            std::fs::write(&path, body).unwrap();
            full.push(path);
        }
    }
    assert!(full.len() >= 2, "the doc shows full examples");
    let mut args = vec!["validate"];
    args.extend(full.iter().map(|p| p.to_str().unwrap()));
    ok(&agentsim(&args, dir.path()));

    let heartbeat = full
        .iter()
        .find(|p| {
            std::fs::read_to_string(p)
                .unwrap()
                .contains("\"heartbeat\"")
        })
        .expect("a heartbeat example");
    let out = dir.path().join("out");
    ok(&agentsim(
        &[
            "run",
            heartbeat.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        dir.path(),
    ));
    let report = read_json(&out.join("report.json"));
    let ran = report["checks"]["ran"].as_array().unwrap();
    assert!(
        ran.iter().any(|c| c == "expect.min_delivery_ratio"),
        "{ran:?}"
    );
}

/// `agentsim run` on each coordinator bug's scenario exits 1, prints
/// `checks FAILED` with the one workflow check that caught it, and still
/// writes the report; `--bug coord-arbiter-first` on a correct shipped
/// competitive scenario is caught the same way.
#[test]
fn coordinator_bug_runs_exit_1_naming_the_failed_check() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("bugs/coord-accept-stale.json", None, "workflow.versions"),
        (
            "bugs/coord-double-result.json",
            None,
            "workflow.exactly_once",
        ),
        ("bugs/coord-arbiter-first.json", None, "workflow.arbiter"),
        ("bugs/coord-ignore-deps.json", None, "workflow.dag_order"),
        (
            "bugs/coord-drop-dead-letter.json",
            None,
            "workflow.dead_letters_reported",
        ),
        (
            "bugs/coord-snapshot-drops-results.json",
            None,
            "workflow.no_lost_results",
        ),
        (
            "bugs/coord-approval-local-clock.json",
            None,
            "workflow.approval_gates",
        ),
        ("bugs/coord-forget-retry.json", None, "liveness.workflows"),
        (
            "collab/competitive.json",
            Some("coord-arbiter-first"),
            "workflow.arbiter",
        ),
    ];
    for (i, (file, bug, check)) in cases.into_iter().enumerate() {
        let scenario = root.join("scenarios").join(file);
        let out = dir.path().join(format!("r{i}"));
        let mut args = vec![
            "run",
            scenario.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ];
        if let Some(b) = bug {
            args.extend(["--bug", b]);
        }
        let o = agentsim(&args, dir.path());
        let stdout = text(&o.stdout);
        assert_eq!(
            o.status.code(),
            Some(1),
            "{file}: stdout:\n{stdout}\nstderr:\n{}",
            text(&o.stderr)
        );
        assert!(stdout.contains("checks      FAILED"), "{file}: {stdout}");
        let failed: Vec<&str> = stdout
            .lines()
            .filter(|l| l.starts_with("    ") && l.contains(": "))
            .collect();
        assert_eq!(failed.len(), 1, "{file}: one failed check: {stdout}");
        assert!(
            failed[0].trim_start().starts_with(&format!("{check}: ")),
            "{file}: {stdout}"
        );
        let report = read_json(&out.join("report.json"));
        assert_eq!(report["checks"]["ok"], false, "{file}");
        assert_eq!(report["checks"]["failures"][0]["check"], check, "{file}");
    }
}

/// `replay` binds the verdict, not only the hash (issue #10 item 8): a
/// failing stale-read report laundered by switching
/// `check_linearizability` off and rewriting `checks` to the very checks
/// such a run produces replays as DIVERGED (exit 1), not "ok"; so does a
/// report whose `checks` alone were rewritten to ok. The untouched report
/// replays with its failing verdict (exit 1, "checks match").
#[test]
fn replay_detects_laundered_verdicts() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/bugs/stale-read.json"
    );
    let out = dir.path().join("r");
    let o = agentsim(
        &["run", scenario, "--out", out.to_str().unwrap()],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let path = out.join("report.json");
    let report = read_json(&path);
    assert_eq!(report["checks"]["ok"], false);

    let o = agentsim(&["replay", path.to_str().unwrap()], dir.path());
    assert_eq!(o.status.code(), Some(1), "the failing verdict stands");
    let err = text(&o.stderr);
    assert!(err.contains("checks match (FAILED)"), "{err}");

    // What an honest run of the weakened scenario reports as its checks.
    let mut weak = report["scenario"].clone();
    weak["workload"]["check_linearizability"] = Value::from(false);
    let weak_path = dir.path().join("weak.json");
    std::fs::write(&weak_path, weak.to_string()).unwrap();
    let o = agentsim(
        &[
            "run",
            weak_path.to_str().unwrap(),
            "--out",
            dir.path().join("w").to_str().unwrap(),
        ],
        dir.path(),
    );
    ok(&o);
    let weak_checks = read_json(&dir.path().join("w/report.json"))["checks"].clone();
    assert_eq!(weak_checks["ok"], true);

    let mut laundered = report.clone();
    laundered["scenario"]["workload"]["check_linearizability"] = Value::from(false);
    laundered["checks"] = weak_checks;
    let p = dir.path().join("laundered.json");
    std::fs::write(&p, serde_json::to_string_pretty(&laundered).unwrap()).unwrap();
    let o = agentsim(&["replay", p.to_str().unwrap()], dir.path());
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("DIVERGED"), "{err}");
    assert!(!err.contains("replay ok"), "{err}");

    let mut rewritten = report.clone();
    rewritten["checks"] =
        serde_json::json!({"ok": true, "ran": report["checks"]["ran"], "failures": []});
    let p = dir.path().join("rewritten.json");
    std::fs::write(&p, serde_json::to_string_pretty(&rewritten).unwrap()).unwrap();
    let o = agentsim(&["replay", p.to_str().unwrap()], dir.path());
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("replay DIVERGED") && err.contains("recorded checks"),
        "{err}"
    );
}

/// Output files are written through a symlink (the link stays a link) and
/// streamed into a FIFO (it stays a FIFO); a closed stdout (`| head`) is a
/// quiet exit, a full one (`/dev/full`) exit 2 (issue #13 items 6, 7).
#[test]
fn outputs_respect_symlinks_fifos_and_closed_pipes() {
    use std::os::unix::fs::FileTypeExt;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::os::unix::fs::symlink("target.jsonl", d.join("link")).unwrap();
    let fifo = d.join("fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(fifo).unwrap())
    };
    let o = agentsim(
        &[
            "run",
            QUICKSTART,
            "--out",
            "o",
            "--history",
            "link",
            "--trace",
            "fifo",
        ],
        d,
    );
    ok(&o);
    let streamed = reader.join().unwrap();
    assert!(streamed.len() > 1000, "the trace went into the FIFO");
    assert!(std::fs::symlink_metadata(d.join("link"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(std::fs::metadata(d.join("target.jsonl")).unwrap().len() > 100);
    assert!(std::fs::symlink_metadata(&fifo)
        .unwrap()
        .file_type()
        .is_fifo());
    let leftovers: Vec<_> = std::fs::read_dir(d)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // A closed pipe: `agentsim schema | head -c1`.
    let mut child = Command::new(env!("CARGO_BIN_EXE_agentsim"))
        .arg("schema")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(!text(&o.stderr).contains("panicked"), "{}", text(&o.stderr));

    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_agentsim"))
        .arg("schema")
        .stdout(full)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("No space left on device"),
        "{}",
        text(&o.stderr)
    );
}

/// A sweep whose stderr is not a terminal (a batch job's log) prints a
/// plain progress line with the failures so far (issue #13 item 16); the
/// period is shortened to every seed with AGENTSIM_LOG_EVERY_S=0.
#[test]
fn sweep_logs_progress_lines_when_not_on_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/bad_inputs/heartbeat-no-checks.json"
    );
    let o = Command::new(env!("CARGO_BIN_EXE_agentsim"))
        .args([
            "sweep", scenario, "--seeds", "0..3", "--jobs", "1", "--out", "s",
        ])
        .env("AGENTSIM_LOG_EVERY_S", "0")
        .current_dir(dir.path())
        .output()
        .unwrap();
    ok(&o);
    let err = text(&o.stderr);
    assert!(err.contains("sweep: 3/3 seeds done, 0 failed"), "{err}");
}

/// `plot`/`report` labels and folders are unique: two reports of the same
/// scenario name and seed, and names that differ only where a folder name
/// would flatten them (`a b` / `a_b`), never share a folder (item 9).
#[test]
fn plot_labels_and_folders_are_unique() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let scenario = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/bad_inputs/heartbeat-no-checks.json"
    );
    for (sub, drop) in [("one", "0.0"), ("two", "0.2")] {
        let mut s: Value =
            serde_json::from_str(&std::fs::read_to_string(scenario).unwrap()).unwrap();
        s["network"] = serde_json::json!({"drop": drop.parse::<f64>().unwrap()});
        let p = d.join(format!("{sub}.json"));
        std::fs::write(&p, s.to_string()).unwrap();
        ok(&agentsim(&["run", p.to_str().unwrap(), "--out", sub], d));
    }
    let o = agentsim(
        &["plot", "one/report.json", "two/report.json", "--out", "p"],
        d,
    );
    ok(&o);
    let mut folders: Vec<String> = std::fs::read_dir(d.join("p"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    folders.sort();
    assert_eq!(folders.len(), 2, "{folders:?}");
    assert_ne!(folders[0], folders[1]);
}

/// `run --chrome-trace --window` keeps only that slice of the run (issue
/// #13 item 15: a long run's full trace need not fit in memory): every
/// message in the file was sent inside the window, and the file is far
/// smaller than the whole run's.
#[test]
fn chrome_trace_window_bounds_what_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let count = |f: &str| -> (usize, Vec<u64>) {
        let v = read_json(&d.join(f));
        let ev = v["traceEvents"].as_array().unwrap();
        let sends = ev
            .iter()
            .filter(|e| e["cat"] == "msg" && e["ph"] == "s")
            .map(|e| e["ts"].as_u64().unwrap())
            .collect();
        (ev.len(), sends)
    };
    ok(&agentsim(
        &[
            "run",
            QUICKSTART,
            "--out",
            "a",
            "--chrome-trace",
            "all.json",
        ],
        d,
    ));
    ok(&agentsim(
        &[
            "run",
            QUICKSTART,
            "--out",
            "b",
            "--chrome-trace",
            "w.json",
            "--window",
            "5000..5100",
        ],
        d,
    ));
    let (all, _) = count("all.json");
    let (some, sends) = count("w.json");
    assert!(!sends.is_empty());
    assert!(
        sends.iter().all(|&t| (5_000_000..=5_100_000).contains(&t)),
        "{sends:?}"
    );
    assert!(some * 20 < all, "window {some} events vs whole run {all}");
}
