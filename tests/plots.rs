//! Plots, report pages, OpenMetrics and Chrome-trace exports, driven
//! through the binary like a user would: every shipped scenario gets a page
//! whose charts are well-formed SVG with the expected titles, axes and
//! series; the page is self-contained; `plot` re-runs a report to the same
//! trace hash; exports parse; and a checked-in report regenerates byte for
//! byte.

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn agentsim(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_agentsim"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run agentsim")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Assert the exit code is one of `codes`; return stdout.
fn expect_code(o: &Output, codes: &[i32]) -> String {
    let code = o.status.code().unwrap_or(-1);
    assert!(
        codes.contains(&code),
        "exit {code}\nstdout:\n{}\nstderr:\n{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    text(&o.stdout)
}

fn scenario_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut all = Vec::new();
    list_files(dir, &mut all);
    out.extend(
        all.into_iter()
            .filter(|p| p.extension().is_some_and(|x| x == "json")),
    );
}

/// Check `svg` is well-formed XML with an `<svg>` root.
fn assert_well_formed(svg: &str, what: &str) {
    let mut r = quick_xml::Reader::from_str(svg);
    let mut depth = 0i32;
    let mut root = None;
    loop {
        match r.read_event() {
            Ok(quick_xml::events::Event::Start(e)) => {
                if root.is_none() {
                    root = Some(String::from_utf8_lossy(e.name().as_ref()).into_owned());
                }
                depth += 1;
            }
            Ok(quick_xml::events::Event::End(_)) => depth -= 1,
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!("{what}: not well-formed XML: {e}"),
        }
    }
    assert_eq!(depth, 0, "{what}: unbalanced tags");
    assert_eq!(root.as_deref(), Some("svg"), "{what}: root is not <svg>");
}

/// The inline `<svg>...</svg>` blocks of a page.
fn inline_svgs(html: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find("<svg") {
        let end = rest[i..].find("</svg>").expect("closed svg") + i + "</svg>".len();
        out.push(&rest[i..end]);
        rest = &rest[end..];
    }
    out
}

/// The page loads nothing from elsewhere and runs no scripts.
fn assert_self_contained(html: &str) {
    for bad in [
        "src=\"http",
        "href=\"http",
        "src='http",
        "href='http",
        "<script",
        "<link",
        "@import",
        "url(",
    ] {
        assert!(!html.contains(bad), "page contains {bad:?}");
    }
}

fn read_json(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// A duration that keeps every scripted fault but caps long runs (the
/// Figure 16 and one-hour scenarios) at a few seconds of virtual time.
fn short_duration(spec: &Value) -> f64 {
    let d = spec["duration_ms"].as_f64().unwrap();
    let last_fault = spec["faults"]
        .as_array()
        .map(|fs| {
            fs.iter()
                .map(|f| f["at_ms"].as_f64().unwrap_or(0.0))
                .fold(0.0, f64::max)
        })
        .unwrap_or(0.0);
    d.min((last_fault + 2_000.0).max(8_000.0))
}

/// Every shipped scenario, shortened, gets a report page with a summary
/// row, a replay command, and charts that are well-formed SVG carrying
/// their titles, axis names and series names.
#[test]
fn every_shipped_scenario_gets_a_page_with_charts() {
    let tmp = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    scenario_files(&Path::new(ROOT).join("scenarios"), &mut files);
    assert!(files.len() >= 20, "found {} scenarios", files.len());
    for (i, f) in files.iter().enumerate() {
        let spec = read_json(f);
        let name = spec["name"].as_str().unwrap().to_string();
        let out = tmp.path().join(format!("r{i}"));
        let dur = short_duration(&spec).to_string();
        let o = agentsim(
            &[
                "report",
                f.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
                "--duration-ms",
                &dur,
            ],
            tmp.path(),
        );
        // Bug scenarios fail their checks on purpose (exit 1).
        expect_code(&o, &[0, 1]);
        let html = std::fs::read_to_string(out.join("index.html")).unwrap();
        assert_self_contained(&html);
        assert!(html.contains("<td><a href=\"#"), "{name}: summary row");
        assert!(html.contains(&name), "{name}: named on its page");
        let report_json = out.join(&name).join("report.json");
        assert!(report_json.exists(), "{name}: report.json beside the page");
        assert!(html.contains(&format!("agentsim replay {}", report_json.display())));
        let svgs = inline_svgs(&html);
        assert!(!svgs.is_empty(), "{name}: no charts");
        for s in &svgs {
            assert_well_formed(s, &name);
        }
        assert!(
            html.contains(&format!("{name}: messages sent")),
            "{name}: message diagram"
        );
        assert!(
            html.contains("virtual time (ms)"),
            "{name}: diagram time axis"
        );
        if spec["cluster"]["process"] == "raft" {
            for want in [
                "leadership timeline",
                "follower",
                "leader",
                "candidate",
                "crashed",
                "paused",
                "virtual time (s)",
            ] {
                assert!(html.contains(want), "{name}: timeline lacks {want:?}");
            }
        }
        if spec.get("workload").is_some() && spec["workload"]["check_linearizability"] != false {
            for want in [
                "client latency over time",
                "latency (ms)",
                "throughput over time",
                "ok ops/s",
                "Client latency CDF",
                "Client latency histogram",
                "p50",
                "p99",
            ] {
                assert!(html.contains(want), "{name}: latency charts lack {want:?}");
            }
        }
    }
}

/// `plot` re-runs a report, confirms the trace hash, and writes every chart
/// as SVG (default) or PNG; several reports are overlaid in the CDFs.
#[test]
fn plot_reruns_reports_and_writes_svg_and_png() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let quick = format!("{ROOT}/scenarios/quickstart.json");
    let none = format!("{ROOT}/scenarios/partial/none.json");
    expect_code(&agentsim(&["run", &quick, "--out", "a"], d), &[0]);
    expect_code(&agentsim(&["run", &none, "--out", "b"], d), &[0]);
    let o = agentsim(
        &[
            "plot",
            "a/report.json",
            "b",
            "--out",
            "svg",
            "--window",
            "4990..5300",
        ],
        d,
    );
    let stdout = expect_code(&o, &[0]);
    assert_eq!(stdout.matches("trace hash matches").count(), 2, "{stdout}");
    for (file, wants) in [
        (
            "svg/quickstart/latency_over_time.svg",
            &[
                "quickstart: client latency over time",
                "virtual time (s)",
                "latency (ms)",
                "ok (",
                "fail (",
                "info (",
                "fault window",
                "crash n3",
                "partition 0,1|2,3,4",
            ][..],
        ),
        (
            "svg/quickstart/throughput.svg",
            &["throughput over time", "ok ops/s", "fault window"][..],
        ),
        (
            "svg/quickstart/timeline.svg",
            &["leadership timeline", "n0", "n4", "leader", "t1"][..],
        ),
        (
            "svg/quickstart/messages.svg",
            &[
                "messages sent 4990-5300 ms",
                "address",
                "append_entries",
                "crash n3",
                "c0",
            ][..],
        ),
        (
            "svg/latency_cdf.svg",
            &[
                "Client latency CDF",
                "cumulative %",
                "quickstart (n=",
                "partial-none (n=",
                "p50",
                "p99",
            ][..],
        ),
        (
            "svg/latency_histogram.svg",
            &["Client latency histogram", "quickstart", "partial-none"][..],
        ),
        (
            "svg/downtime_cdf.svg",
            &[
                "Leader-loss downtime CDF",
                "time without leader (ms)",
                "quickstart (n=",
            ][..],
        ),
    ] {
        let svg = std::fs::read_to_string(d.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_well_formed(&svg, file);
        for w in wants {
            assert!(svg.contains(w), "{file} lacks {w:?}");
        }
    }
    expect_code(
        &agentsim(
            &["plot", "a/report.json", "--out", "png", "--format", "png"],
            d,
        ),
        &[0],
    );
    for f in [
        "quickstart/latency_over_time.png",
        "quickstart/timeline.png",
        "quickstart/messages.png",
        "latency_cdf.png",
    ] {
        let b = std::fs::read(d.join("png").join(f)).unwrap();
        assert_eq!(&b[..8], b"\x89PNG\r\n\x1a\n", "{f}: PNG signature");
        assert!(
            b.len() > 10_000,
            "{f}: suspiciously small ({} bytes)",
            b.len()
        );
    }
    // The same inputs draw the same bytes.
    expect_code(
        &agentsim(
            &[
                "plot",
                "a/report.json",
                "b",
                "--out",
                "svg2",
                "--window",
                "4990..5300",
            ],
            d,
        ),
        &[0],
    );
    for f in [
        "quickstart/messages.svg",
        "latency_cdf.svg",
        "quickstart/latency_over_time.svg",
    ] {
        assert_eq!(
            std::fs::read(d.join("svg").join(f)).unwrap(),
            std::fs::read(d.join("svg2").join(f)).unwrap(),
            "{f} differs between two identical plot runs"
        );
    }
}

/// A tampered report (wrong trace hash) still plots, but `plot` says the
/// re-run diverged and exits 1.
#[test]
fn plot_reports_a_diverged_rerun() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let none = format!("{ROOT}/scenarios/partial/none.json");
    expect_code(&agentsim(&["run", &none, "--out", "a"], d), &[0]);
    let mut r = read_json(&d.join("a/report.json"));
    r["trace_hash"] = Value::String("0".repeat(64));
    std::fs::write(d.join("a/report.json"), r.to_string()).unwrap();
    let o = agentsim(&["plot", "a/report.json", "--out", "p"], d);
    expect_code(&o, &[1]);
    assert!(text(&o.stderr).contains("DIVERGED"), "{}", text(&o.stderr));
    assert!(d.join("p/partial-none/timeline.svg").exists());
}

/// `run --metrics` writes OpenMetrics text: every family has `# TYPE` and
/// `# HELP` before its samples, every sample line is `name{labels} value`,
/// histogram buckets are cumulative and end at `+Inf` = `_count`, and the
/// file ends with `# EOF`.
#[test]
fn run_metrics_are_openmetrics_text() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let quick = format!("{ROOT}/scenarios/quickstart.json");
    expect_code(
        &agentsim(&["run", &quick, "--out", "a", "--metrics", "m.txt"], d),
        &[0],
    );
    let t = std::fs::read_to_string(d.join("m.txt")).unwrap();
    assert!(t.ends_with("# EOF\n"));
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut helped = Vec::new();
    let mut buckets: BTreeMap<String, Vec<(String, f64)>> = BTreeMap::new();
    let mut counts: BTreeMap<String, f64> = BTreeMap::new();
    for line in t.lines().filter(|l| *l != "# EOF") {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(
                ["counter", "gauge", "histogram", "summary"].contains(&kind),
                "{line}"
            );
            assert!(
                types.insert(name.into(), kind.into()).is_none(),
                "family {name} declared twice"
            );
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            helped.push(rest.split_once(' ').unwrap().0.to_string());
            continue;
        }
        if let Some(rest) = line.strip_prefix("# UNIT ") {
            let (name, unit) = rest.split_once(' ').unwrap();
            assert!(types.contains_key(name), "# UNIT before # TYPE: {line}");
            assert!(name.ends_with(&format!("_{unit}")), "unit not last: {line}");
            continue;
        }
        assert!(!line.starts_with('#'), "unknown comment {line}");
        let (name, rest) = line.split_once('{').expect("labels");
        let (labels, value) = rest.rsplit_once("} ").expect("value");
        let v: f64 = value.parse().unwrap_or_else(|_| panic!("value of {line}"));
        assert!(
            labels.contains("scenario=\"quickstart\"") && labels.contains("seed=\"1\""),
            "{line}"
        );
        let family = types
            .keys()
            .filter(|f| name == f.as_str() || name.starts_with(&format!("{f}_")))
            .max_by_key(|f| f.len())
            .unwrap_or_else(|| panic!("sample {name} before its # TYPE"))
            .clone();
        assert!(helped.contains(&family), "{family} has no # HELP");
        match types[&family].as_str() {
            "counter" => assert_eq!(name, format!("{family}_total")),
            "histogram" => {
                if name.ends_with("_bucket") {
                    let le = labels.split("le=\"").nth(1).unwrap().trim_end_matches('"');
                    buckets.entry(family).or_default().push((le.to_string(), v));
                } else if name.ends_with("_count") {
                    counts.insert(family, v);
                }
            }
            _ => {}
        }
    }
    for f in [
        "agentsim_events",
        "agentsim_messages_dropped",
        "agentsim_client_ops",
        "agentsim_raft_elections",
        "agentsim_client_latency_seconds",
        "agentsim_leader_loss_downtime_seconds",
        "agentsim_commit_latency_seconds",
    ] {
        assert!(types.contains_key(f), "no family {f}");
    }
    for (f, bs) in &buckets {
        assert!(
            bs.windows(2).all(|w| w[0].1 <= w[1].1),
            "{f}: buckets not cumulative"
        );
        let last = bs.last().unwrap();
        assert_eq!(last.0, "+Inf", "{f}: last bucket");
        assert_eq!(Some(&last.1), counts.get(f), "{f}: +Inf bucket != _count");
    }
    assert_eq!(counts["agentsim_leader_loss_downtime_seconds"], 3.0);
}

/// The Python interpreter to run the test-only OpenMetrics validator with,
/// if it has `prometheus_client` (`.ci/run` installs it with pip); `None`
/// (with a SKIP line) otherwise.
fn python_with_prometheus_client() -> Option<String> {
    let py = std::env::var("AGENTSIM_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = Command::new(&py)
        .args(["-c", "import prometheus_client.openmetrics.parser"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!(
            "SKIP: {py} cannot import prometheus_client; `pip install prometheus_client` \
             (or run .ci/run, which installs it) to validate the OpenMetrics files"
        );
    }
    ok.then_some(py)
}

/// Run tests/openmetrics/check.py on `files` (in `d`); exit code and output.
fn openmetrics_check(py: &str, d: &Path, files: &[&str]) -> (i32, String) {
    let o = Command::new(py)
        .arg(format!("{ROOT}/tests/openmetrics/check.py"))
        .args(files)
        .current_dir(d)
        .output()
        .expect("run python");
    (
        o.status.code().unwrap_or(-1),
        text(&o.stdout) + &text(&o.stderr),
    )
}

/// The `--metrics` files of a KV run, a workflow run and a sweep pass an
/// independent OpenMetrics parser (prometheus_client's) and the project's
/// conventions (`# UNIT` with the unit last, one family per quantity with
/// labels, one label vocabulary, the same type for a name in run and sweep
/// files); the checker rejects a file without `# EOF`, a `by_type` family
/// and a name whose type differs between files.
#[test]
fn metrics_files_pass_an_independent_openmetrics_parser() {
    let Some(py) = python_with_prometheus_client() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let quick = format!("{ROOT}/scenarios/quickstart.json");
    let collab = format!("{ROOT}/scenarios/collab/pipeline.json");
    let run = |args: &[&str]| expect_code(&agentsim(args, d), &[0]);
    run(&["run", &quick, "--out", "a", "--metrics", "run.om"]);
    run(&["run", &collab, "--out", "c", "--metrics", "collab.om"]);
    run(&[
        "sweep",
        &quick,
        "--seeds",
        "0..3",
        "--out",
        "s",
        "--metrics",
        "sweep.om",
    ]);
    let (code, out) = openmetrics_check(&py, d, &["run.om", "collab.om", "sweep.om"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("run.om: 17 families"), "{out}");
    let collab_text = std::fs::read_to_string(d.join("collab.om")).unwrap();
    for want in [
        "agentsim_workflows_completed_total{",
        "agentsim_workflow_tokens_spent_total{",
        "agentsim_workflow_tasks{scenario=\"collab-pipeline\",seed=\"7\",state=\"done\"}",
        "# UNIT agentsim_agent_busy_seconds seconds",
    ] {
        assert!(collab_text.contains(want), "{want}");
    }
    let run_text = std::fs::read_to_string(d.join("run.om")).unwrap();
    for want in [
        "# UNIT agentsim_network_sent_bytes bytes",
        "agentsim_network_sent_bytes_total{",
        "# UNIT agentsim_client_latency_seconds seconds",
        "agentsim_messages_sent_total{scenario=\"quickstart\",seed=\"1\",type=\"append_entries\"}",
    ] {
        assert!(run_text.contains(want), "{want}");
    }
    let sweep_text = std::fs::read_to_string(d.join("sweep.om")).unwrap();
    assert!(sweep_text.contains("# TYPE agentsim_commit_latency_seconds histogram"));
    assert!(run_text.contains("# TYPE agentsim_commit_latency_seconds histogram"));

    // Broken inputs the checker must reject.
    std::fs::write(d.join("noeof.om"), run_text.replace("# EOF\n", "")).unwrap();
    let by_type = run_text.replace("agentsim_messages_sent", "agentsim_messages_by_type");
    std::fs::write(d.join("bytype.om"), by_type).unwrap();
    let gauge = run_text
        .replace(
            "# TYPE agentsim_events counter",
            "# TYPE agentsim_events gauge",
        )
        .replace("agentsim_events_total{", "agentsim_events{");
    std::fs::write(d.join("gauge.om"), gauge).unwrap();
    for (files, why) in [
        (&["noeof.om"][..], "Missing # EOF"),
        (&["bytype.om"][..], "a by_<label> family"),
        (
            &["run.om", "gauge.om"][..],
            "agentsim_events: gauge in gauge.om but counter",
        ),
    ] {
        let (code, out) = openmetrics_check(&py, d, files);
        assert_eq!(code, 1, "{files:?} accepted: {out}");
        assert!(out.contains(why), "{files:?}: {out}");
    }
}

/// `run --chrome-trace` writes trace-event JSON: metadata naming a track
/// per node, role spans (`X`), timer and fault instants (`i`), and one
/// `s`/`f` flow pair per delivered message.
#[test]
fn run_chrome_trace_is_trace_event_json() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let quick = format!("{ROOT}/scenarios/quickstart.json");
    expect_code(
        &agentsim(
            &[
                "run",
                &quick,
                "--out",
                "a",
                "--chrome-trace",
                "t.json",
                "--trace",
                "t.jsonl",
            ],
            d,
        ),
        &[0],
    );
    let doc = read_json(&d.join("t.json"));
    let evs = doc["traceEvents"].as_array().unwrap();
    let mut phases: BTreeMap<String, usize> = BTreeMap::new();
    let mut flows: BTreeMap<u64, (usize, usize)> = BTreeMap::new();
    for e in evs {
        let ph = e["ph"].as_str().unwrap().to_string();
        if ph != "M" {
            assert!(e["ts"].is_u64(), "ts of {e}");
        }
        match ph.as_str() {
            "s" => flows.entry(e["id"].as_u64().unwrap()).or_default().0 += 1,
            "f" => flows.entry(e["id"].as_u64().unwrap()).or_default().1 += 1,
            "X" => assert!(e["dur"].is_u64()),
            _ => {}
        }
        *phases.entry(ph).or_default() += 1;
    }
    for p in ["M", "X", "i", "s", "f"] {
        assert!(phases.contains_key(p), "no {p} events: {phases:?}");
    }
    assert!(flows.values().all(|&(s, f)| s == 1 && f == 1));
    let delivered = std::fs::read_to_string(d.join("t.jsonl"))
        .unwrap()
        .lines()
        .filter(|l| l.contains("\"kind\":\"deliver\""))
        .count();
    assert_eq!(flows.len(), delivered, "one flow per delivery");
    let names: Vec<&str> = evs
        .iter()
        .filter(|e| e["name"] == "thread_name")
        .map(|e| e["args"]["name"].as_str().unwrap())
        .collect();
    for n in ["faults", "n0", "n4", "c0"] {
        assert!(names.contains(&n), "no track {n}: {names:?}");
    }
    assert!(evs
        .iter()
        .any(|e| e["cat"] == "fault" && e["name"] == "crash n3"));
}

/// What a trace-event document leaves undone: tracks (tids) with events
/// but no `thread_name`, and flow endpoints (`s`/`f`) that no slice (`X`)
/// of their track encloses, so the viewer cannot bind them (a dangling
/// arrow).
fn unnamed_tracks_and_dangling_flows(doc: &Value) -> (Vec<u64>, usize, usize) {
    let evs = doc["traceEvents"].as_array().unwrap();
    let mut named = std::collections::BTreeSet::new();
    let mut used = std::collections::BTreeSet::new();
    let mut slices: BTreeMap<u64, Vec<(u64, u64)>> = BTreeMap::new();
    for e in evs {
        let tid = e["tid"].as_u64().unwrap();
        match e["ph"].as_str().unwrap() {
            "M" if e["name"] == "thread_name" => {
                named.insert(tid);
            }
            "M" => {}
            ph => {
                used.insert(tid);
                if ph == "X" {
                    let ts = e["ts"].as_u64().unwrap();
                    slices
                        .entry(tid)
                        .or_default()
                        .push((ts, ts + e["dur"].as_u64().unwrap()));
                }
            }
        }
    }
    let flows: Vec<&Value> = evs
        .iter()
        .filter(|e| e["ph"] == "s" || e["ph"] == "f")
        .collect();
    let dangling = flows
        .iter()
        .filter(|e| {
            let (tid, ts) = (e["tid"].as_u64().unwrap(), e["ts"].as_u64().unwrap());
            !slices
                .get(&tid)
                .is_some_and(|s| s.iter().any(|&(a, b)| a <= ts && ts <= b))
        })
        .count();
    (
        used.difference(&named).copied().collect(),
        dangling,
        flows.len(),
    )
}

/// The Chrome trace names every track (the run as `process_name`; servers,
/// clients and a workflow run's agents as `thread_name`), binds every flow
/// arrow to a slice at both ends (before: 6,829 of 45,642 endpoints of the
/// collab pipeline run dangled, on unnamed agent tracks with no slice), and
/// draws faults as spans lasting from the fault to its undo, not instants.
/// Removing the agents' slices makes the check find dangling arrows again.
#[test]
fn chrome_trace_names_every_track_and_binds_every_flow() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let quick = format!("{ROOT}/scenarios/quickstart.json");
    let collab = format!("{ROOT}/scenarios/collab/pipeline.json");
    expect_code(
        &agentsim(
            &["run", &quick, "--out", "q", "--chrome-trace", "q.json"],
            d,
        ),
        &[0],
    );
    expect_code(
        &agentsim(
            &["run", &collab, "--out", "c", "--chrome-trace", "c.json"],
            d,
        ),
        &[0],
    );
    for f in ["q.json", "c.json"] {
        let doc = read_json(&d.join(f));
        let (unnamed, dangling, flows) = unnamed_tracks_and_dangling_flows(&doc);
        assert!(flows > 1000, "{f}: {flows} flow endpoints");
        assert_eq!((unnamed, dangling), (vec![], 0), "{f}");
        let evs = doc["traceEvents"].as_array().unwrap();
        assert!(evs.iter().any(|e| e["name"] == "process_name"), "{f}");
        assert!(
            !evs.iter().any(|e| e["cat"] == "fault" && e["ph"] != "X"),
            "{f}: faults are spans"
        );
    }
    // quickstart crashes n3 at 5 s and restarts it at 7 s (see its faults).
    let q = read_json(&d.join("q.json"));
    let report = read_json(&d.join("q/report.json"));
    let at = |kind: &str| {
        report["faults"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["kind"] == kind)
            .and_then(|f| f["at_ms"].as_f64())
            .unwrap()
    };
    let crash = q["traceEvents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["cat"] == "fault" && e["name"] == "crash n3")
        .expect("crash span");
    let dur_ms = crash["dur"].as_u64().unwrap() as f64 / 1000.0;
    assert!(
        (dur_ms - (at("restart") - at("crash"))).abs() < 0.01,
        "{crash}"
    );
    let mut c = read_json(&d.join("c.json"));
    let names: Vec<String> = c["traceEvents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["name"] == "thread_name")
        .map(|e| e["args"]["name"].as_str().unwrap().to_string())
        .collect();
    for n in ["n0", "a3 researcher", "a30 writer"] {
        assert!(names.iter().any(|x| x == n), "no track {n}: {names:?}");
    }
    // Broken on purpose: without the agents' slices, arrows dangle.
    c["traceEvents"]
        .as_array_mut()
        .unwrap()
        .retain(|e| e["name"] != "agent");
    let (_, dangling, _) = unnamed_tracks_and_dangling_flows(&c);
    assert!(dangling > 1000, "{dangling}");
}

/// Re-run the `reports/README.md` command that starts with
/// `agentsim report <sources>` in a scratch copy of the scenarios it
/// reads, and check that `reports/<out>/` comes out byte for byte as
/// checked in (no timestamps or wall-clock numbers).
fn regenerates_identically(sources: &str, out: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let readme = std::fs::read_to_string(Path::new(ROOT).join("reports/README.md")).unwrap();
    let cmd = readme
        .lines()
        .find(|l| l.contains(&format!("agentsim report {sources}")))
        .expect("README gives the command");
    let args = shell_words(cmd.split_once("agentsim ").unwrap().1);
    for a in args.iter().filter(|a| a.starts_with("scenarios/")) {
        let src = Path::new(ROOT).join(a);
        let dst = d.join(a);
        if src.is_dir() {
            std::fs::create_dir_all(&dst).unwrap();
            for e in std::fs::read_dir(&src).unwrap() {
                let p = e.unwrap().path();
                std::fs::copy(&p, dst.join(p.file_name().unwrap())).unwrap();
            }
        } else {
            std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
            std::fs::copy(&src, &dst).unwrap();
        }
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    expect_code(&agentsim(&args, d), &[0]);
    let want_dir = Path::new(ROOT).join("reports").join(out);
    let mut want = Vec::new();
    list_files(&want_dir, &mut want);
    let got_base = d.join("reports").join(out);
    let mut got = Vec::new();
    list_files(&got_base, &mut got);
    let rel = |base: &Path, v: &[PathBuf]| -> Vec<PathBuf> {
        v.iter()
            .map(|p| p.strip_prefix(base).unwrap().to_path_buf())
            .collect()
    };
    assert_eq!(rel(&want_dir, &want), rel(&got_base, &got), "same files");
    for f in rel(&want_dir, &want) {
        let a = std::fs::read(want_dir.join(&f)).unwrap();
        let b = std::fs::read(got_base.join(&f)).unwrap();
        assert!(
            a == b,
            "reports/{out}/{} differs from a fresh run",
            f.display()
        );
    }
}

/// The checked-in `reports/figures/` (the charts README.md shows) redraw
/// byte for byte with the `agentsim plot` command in `reports/README.md`,
/// from the checked-in reports it names.
#[test]
fn checked_in_readme_figures_redraw_identically() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let readme = std::fs::read_to_string(Path::new(ROOT).join("reports/README.md")).unwrap();
    let cmd = readme
        .lines()
        .find(|l| l.starts_with("agentsim plot reports/"))
        .expect("README gives the command");
    let args = shell_words(cmd.split_once("agentsim ").unwrap().1);
    for a in args.iter().filter(|a| a.ends_with("report.json")) {
        let dst = d.join(a);
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        std::fs::copy(Path::new(ROOT).join(a), &dst).unwrap();
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    expect_code(&agentsim(&args, d), &[0]);
    let (want_dir, got_dir) = (
        Path::new(ROOT).join("reports/figures"),
        d.join("reports/figures"),
    );
    let (mut want, mut got) = (Vec::new(), Vec::new());
    list_files(&want_dir, &mut want);
    list_files(&got_dir, &mut got);
    let rel = |base: &Path, v: &[PathBuf]| -> Vec<PathBuf> {
        v.iter()
            .map(|p| p.strip_prefix(base).unwrap().to_path_buf())
            .collect()
    };
    assert_eq!(rel(&want_dir, &want), rel(&got_dir, &got), "same files");
    assert!(want.len() >= 8, "{want:?}");
    for f in rel(&want_dir, &want) {
        let a = std::fs::read(want_dir.join(&f)).unwrap();
        let b = std::fs::read(got_dir.join(&f)).unwrap();
        assert!(
            a == b,
            "reports/figures/{} differs from a fresh redraw",
            f.display()
        );
    }
}

/// The checked-in `reports/partitions/` regenerates byte for byte with the
/// command in `reports/README.md`.
#[test]
fn checked_in_partitions_report_regenerates_identically() {
    regenerates_identically("scenarios/partial", "partitions");
}

/// The checked-in CP-vs-AP and collaboration-modes reports regenerate
/// byte for byte: collaboration runs (Raft and AP coordinators, agents,
/// all four modes) are deterministic down to the plotted pixels.
#[test]
fn checked_in_collab_reports_regenerate_identically() {
    regenerates_identically("scenarios/collab/partition-cp.json", "cp-vs-ap");
    regenerates_identically("scenarios/collab/pipeline.json", "collab-modes");
}

fn list_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    for p in v {
        if p.is_dir() {
            list_files(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// Split a one-line shell command with double-quoted words (enough for the
/// README's commands). A trailing backquote (Markdown) ends the command.
fn shell_words(s: &str) -> Vec<String> {
    let s = s.split('`').next().unwrap();
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in s.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            ' ' if !quoted => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            _ => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(cur);
    }
    out
}

/// A report over the four collaboration modes draws an agent Gantt chart
/// per run and a mode comparison (makespan, tokens per task, correct
/// results) with one bar per mode.
#[test]
fn collab_report_has_gantt_and_mode_comparison() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r");
    let mut args = vec!["report".to_string()];
    for m in ["pipeline", "competitive", "division", "hybrid"] {
        args.push(format!("{ROOT}/scenarios/collab/{m}.json"));
    }
    args.extend([
        "--duration-ms".into(),
        "20000".into(),
        "--out".into(),
        out.to_str().unwrap().into(),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = agentsim(&args, dir.path());
    expect_code(&o, &[0]);
    let modes = std::fs::read_to_string(out.join("modes.svg")).unwrap();
    assert_well_formed(&modes, "modes.svg");
    for want in [
        "makespan (s)",
        "tokens committed per completed task",
        "tokens spent per completed task",
        "correct results (fraction)",
        "pipeline",
        "competitive",
        "division",
        "hybrid",
    ] {
        assert!(modes.contains(want), "modes.svg lacks {want:?}");
    }
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    for m in ["pipeline", "competitive", "division", "hybrid"] {
        assert!(
            html.contains(&format!("collab-{m}: agent Gantt chart")),
            "{m}: gantt"
        );
    }
}

/// One collaboration scenario of the quality-vs-tokens check: whether its
/// runs hold races (so its report has competitor points and a chart).
struct QualityCase {
    /// File stem under `scenarios/collab/`.
    file: &'static str,
    /// `collab.mode` and the mode named in the chart title.
    mode: &'static str,
    /// Races happen in the first 10 s (competitive always; hybrid routes
    /// complex and critical tasks to races; pipeline never).
    races: bool,
}

const QUALITY_CASES: [QualityCase; 3] = [
    QualityCase {
        file: "competitive",
        mode: "competitive",
        races: true,
    },
    QualityCase {
        file: "hybrid",
        mode: "hybrid",
        races: true,
    },
    QualityCase {
        file: "pipeline",
        mode: "pipeline",
        races: false,
    },
];

/// Re-derive, without the report's competitor list, every race entry with
/// a committed result as `task -> (race, agent)`: the task kinds
/// and race ids come from expanding the report's scenario through the
/// library (workflows are submitted in order, so task ids are the
/// concatenation of each workflow's expansion), and which entries
/// committed comes from the agent Gantt rows (one per committed non-race
/// result; the run is short enough that the list is complete).
fn committed_entries(r: &agentsim::metrics::Report) -> BTreeMap<u64, (u64, u64)> {
    use agentsim::collab::coordinator::TaskKind;
    let c = &r.section("collab");
    let gantt = c["gantt"].as_array().unwrap();
    assert_eq!(
        gantt.len() as u64,
        c["gantt_total"].as_u64().unwrap(),
        "precondition: the Gantt list is complete (shorten the run)"
    );
    let w = r.scenario.workflow.as_ref().unwrap();
    let cfg = agentsim::runner::collab::collab_config(w, r.scenario.cluster.nodes, r.seed);
    let mut kinds = Vec::new();
    for wf in 0..c["workflows"]["submitted"].as_u64().unwrap() as usize {
        let base = kinds.len() as u64;
        for t in agentsim::collab::modes::expand(&cfg, wf) {
            kinds.push((t.kind, t.judge.map(|j| base + u64::from(j))));
        }
    }
    let mut out = BTreeMap::new();
    for g in gantt {
        let task = g["task"].as_u64().unwrap();
        let (kind, judge) = kinds[task as usize];
        assert_ne!(kind, TaskKind::Judge, "a race has no Gantt row");
        if kind == TaskKind::Entry {
            out.insert(task, (judge.unwrap(), g["agent"].as_u64().unwrap()));
        }
    }
    out
}

/// The `<figure id="...">` block named `id` in `section`, if any.
fn figure<'a>(section: &'a str, id: &str) -> Option<&'a str> {
    let start = section.find(&format!("<figure id=\"{id}\">"))?;
    let end = section[start..].find("</figure>")? + start;
    Some(&section[start..end])
}

/// Competitive and hybrid runs get a quality-vs-tokens chart beside the
/// agent Gantt chart, in `report` and in `plot`; pipeline runs do not. The
/// report lists exactly the race entries with a committed result (counted
/// independently from the scenario's expansion and the Gantt rows), with
/// the arbiter's utility and one winner per decided race; the chart draws
/// one marker per entry (winners as triangles), names the mode and the
/// arbiter weights, and its equal-utility line passes through the median
/// winner's utility.
#[test]
fn quality_vs_tokens_plots_every_committed_race_entry() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let mut args = vec!["report".to_string()];
    for c in &QUALITY_CASES {
        args.push(format!("{ROOT}/scenarios/collab/{}.json", c.file));
    }
    args.extend(["--duration-ms", "10000", "--out", "r"].map(String::from));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    expect_code(&agentsim(&args, d), &[0]);
    let html = std::fs::read_to_string(d.join("r/index.html")).unwrap();
    for case in &QUALITY_CASES {
        let label = format!("collab-{}", case.file);
        let path = d.join("r").join(&label).join("report.json");
        let r: agentsim::metrics::Report =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let c = &r.section("collab");
        assert_eq!(c["mode"], case.mode);
        let points = c["competitors"].as_array().expect("collab.competitors");
        let total = c["competitors_total"].as_u64().unwrap();
        let want = committed_entries(&r);
        assert_eq!(total, want.len() as u64, "{label}: competitors_total");
        assert_eq!(points.len(), want.len(), "{label}: not truncated");
        assert_eq!(case.races, !want.is_empty(), "{label}: races or not");
        let a = &r.scenario.workflow.as_ref().unwrap().arbiter;
        let mut winners: BTreeMap<u64, u64> = BTreeMap::new();
        let mut last = None;
        let mut tokens = 0;
        for p in points {
            let task = p["task"].as_u64().unwrap();
            assert!(last < Some(task), "{label}: task id order");
            last = Some(task);
            let (race, agent) = want[&task];
            assert_eq!(p["race"], race, "{label}: race of task {task}");
            assert_eq!(p["agent"], agent, "{label}: agent of task {task}");
            let (s, t) = (p["score"].as_f64().unwrap(), p["tokens"].as_u64().unwrap());
            assert!((0.0..=1.0).contains(&s), "{label}: score {s}");
            let u = s - a.cost_per_1k_tokens * t as f64 / 1000.0;
            assert!((p["utility"].as_f64().unwrap() - u).abs() < 1e-9);
            assert!(p["correct"].is_boolean());
            tokens += t;
            if p["winner"] == true {
                assert!(
                    winners.insert(race, task).is_none(),
                    "{label}: two winners in race {race}"
                );
            }
        }
        assert_eq!(
            winners.len() as u64,
            c["arbiter"]["decisions"].as_u64().unwrap(),
            "{label}: one winner per arbiter decision"
        );
        for ex in c["arbiter"]["examples"].as_array().unwrap() {
            let race = ex["race"].as_u64().unwrap();
            assert_eq!(Some(&ex["winner"].as_u64().unwrap()), winners.get(&race));
        }
        if case.races {
            assert_eq!(
                c["per_mode"]["competitive"]["tokens"], tokens,
                "{label}: entry tokens add up"
            );
        }
        // The run's section of the page, and its chart.
        let start = html.find(&format!("<h2 id=\"{label}\">")).unwrap();
        let section = &html[start..];
        let section = &section[..section[1..]
            .find("<h2 id=")
            .map_or(section.len(), |i| i + 1)];
        // Figure ids carry the run's anchor: unique across runs.
        let Some(fig) = figure(section, &format!("{label}-quality_vs_tokens")) else {
            assert!(!case.races, "{label}: no quality-vs-tokens chart");
            assert!(!section.contains("quality vs tokens"), "{label}");
            continue;
        };
        assert!(case.races, "{label}: chart without races");
        let svg = &fig[fig.find("<svg").unwrap()..fig.find("</svg>").unwrap() + 6];
        assert_well_formed(svg, &label);
        let won = winners.len();
        let lost = points.len() - won;
        for want in [
            format!(
                "{label}: quality vs tokens, {} mode, weights rel/inn/feas 0.4/0.3/0.3",
                case.mode
            ),
            "tokens used by the entry".into(),
            "weighted score (arbiter weights)".into(),
            format!("won its race ({won})"),
            format!("lost its race ({lost})"),
        ] {
            assert!(svg.contains(&want), "{label}: chart lacks {want:?}");
        }
        // One marker per entry plus one in the legend: circles for losers,
        // triangles (polygons) for winners.
        assert_eq!(svg.matches("<circle").count(), lost + 1, "{label}: losers");
        assert_eq!(svg.matches("<polygon").count(), won + 1, "{label}: winners");
        let mut u: Vec<f64> = points
            .iter()
            .filter(|p| p["winner"] == true)
            .map(|p| p["utility"].as_f64().unwrap())
            .collect();
        u.sort_by(f64::total_cmp);
        let median = u[(u.len() - 1) / 2];
        assert!(
            svg.contains(&format!("= {median:.3} (median winner)")),
            "{label}: equal-utility line through the median winner"
        );
        // Next to the Gantt chart, before the message diagram.
        let at = |id: &str| {
            section
                .find(&format!("<figure id=\"{label}-{id}\">"))
                .unwrap()
        };
        assert!(at("gantt") < at("quality_vs_tokens"));
        assert!(at("quality_vs_tokens") < at("messages"));
    }
    // `plot` draws it from a report that has races, and not otherwise.
    expect_code(
        &agentsim(
            &[
                "plot",
                "r/collab-competitive/report.json",
                "r/collab-pipeline/report.json",
                "--out",
                "p",
            ],
            d,
        ),
        &[0],
    );
    let svg =
        std::fs::read_to_string(d.join("p/collab-competitive/quality_vs_tokens.svg")).unwrap();
    assert_well_formed(&svg, "quality_vs_tokens.svg");
    assert!(svg.contains("quality vs tokens, competitive mode"));
    assert!(d.join("p/collab-pipeline/gantt.svg").exists());
    assert!(!d.join("p/collab-pipeline/quality_vs_tokens.svg").exists());
}

/// A full competitive run has more race entries than the report keeps:
/// the list holds the first 2000 by task id, `competitors_total` counts
/// them all, and the chart's title says how many of how many it draws.
#[test]
fn quality_vs_tokens_says_when_the_list_is_capped() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let comp = format!("{ROOT}/scenarios/collab/competitive.json");
    expect_code(&agentsim(&["run", &comp, "--out", "a"], d), &[0]);
    let r = read_json(&d.join("a/report.json"));
    let points = r["collab"]["competitors"].as_array().unwrap();
    let total = r["collab"]["competitors_total"].as_u64().unwrap();
    assert_eq!(points.len(), 2000);
    assert!(total > 2000, "{total} entries: the cap is not exercised");
    let tasks: Vec<u64> = points.iter().map(|p| p["task"].as_u64().unwrap()).collect();
    assert!(tasks.windows(2).all(|w| w[0] < w[1]), "task id order");
    expect_code(&agentsim(&["plot", "a/report.json", "--out", "p"], d), &[0]);
    let svg =
        std::fs::read_to_string(d.join("p/collab-competitive/quality_vs_tokens.svg")).unwrap();
    assert!(
        svg.contains(&format!("(first 2000 of {total} entries)")),
        "title names the cap"
    );
    let markers = svg.matches("<circle").count() + svg.matches("<polygon").count();
    assert_eq!(
        markers,
        2000 + 2,
        "one marker per kept point, two in the legend"
    );
}

/// A failing run's report names the operation the linearizability checker
/// could not place (`linearizability.violation`: client, key, op, times,
/// window) and its latency chart marks it and shades the window; a passing
/// run has neither.
#[test]
fn failing_run_marks_the_violating_operation_on_the_latency_chart() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let bad = format!("{ROOT}/scenarios/bugs/stale-read.json");
    let good = format!("{ROOT}/scenarios/quickstart.json");
    expect_code(&agentsim(&["run", &bad, "--out", "bad"], d), &[1]);
    expect_code(&agentsim(&["run", &good, "--out", "good"], d), &[0]);
    let r = read_json(&d.join("bad/report.json"));
    let v = &r["linearizability"]["violation"];
    assert_eq!(r["linearizability"]["ok"], false, "{v}");
    assert_eq!(v["f"], "read", "{v}");
    let (invoke, complete) = (
        v["invoke_ms"].as_f64().unwrap(),
        v["complete_ms"].as_f64().unwrap(),
    );
    let (from, to) = (
        v["window_ms"][0].as_f64().unwrap(),
        v["window_ms"][1].as_f64().unwrap(),
    );
    assert!(
        from <= invoke && invoke <= complete && complete == to,
        "{v}"
    );
    let who = format!(
        "by p{} at [{invoke:.3}ms, {complete:.3}ms]",
        v["process"].as_u64().unwrap()
    );
    let explanation = r["linearizability"]["explanation"].as_str().unwrap();
    assert!(explanation.contains(&who), "{who} not in {explanation}");
    let passing = read_json(&d.join("good/report.json"));
    assert!(passing["linearizability"].get("violation").is_none());

    expect_code(
        &agentsim(&["plot", "bad/report.json", "good", "--out", "p"], d),
        &[0],
    );
    let svg = std::fs::read_to_string(d.join("p/bug-stale-read/latency_over_time.svg")).unwrap();
    assert_well_formed(&svg, "bad latency chart");
    let label = format!(
        "not linearizable: read -&gt; {} by p{} on key {}",
        v["value"], v["process"], v["key"]
    );
    assert!(
        svg.contains(&label) || svg.contains(&label.replace("&gt;", ">")),
        "{label}"
    );
    assert!(svg.contains("no place for it in"), "window legend");
    let svg = std::fs::read_to_string(d.join("p/quickstart/latency_over_time.svg")).unwrap();
    assert!(!svg.contains("not linearizable") && !svg.contains("no place for it"));
}

/// The title of the SVG chart `file`.
fn svg_title(svg: &str) -> String {
    let at = svg.find("agent Gantt chart").expect("a Gantt title");
    let end = svg[at..].find('<').unwrap();
    svg[at..at + end]
        .trim()
        .replace("&lt;", "<")
        .replace("&gt;", ">")
}

/// The Gantt chart says when it shows only the first executions ("first
/// 500 of 800": the pipeline run commits 800, the report lists 500) and
/// `plot --gantt-window FROM..TO` draws those overlapping a window instead,
/// saying how many do; a window over the whole run finds all 800.
#[test]
fn gantt_chart_says_it_is_capped_and_offers_a_window() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let collab = format!("{ROOT}/scenarios/collab/pipeline.json");
    expect_code(&agentsim(&["run", &collab, "--out", "c"], d), &[0]);
    let r = read_json(&d.join("c/report.json"));
    assert_eq!(
        (
            r["collab"]["gantt_total"].as_u64(),
            r["collab"]["gantt"].as_array().map(Vec::len)
        ),
        (Some(800), Some(500))
    );
    let gantt = |extra: &[&str], out: &str| {
        let mut args = vec!["plot", "c/report.json", "--out", out];
        args.extend_from_slice(extra);
        expect_code(&agentsim(&args, d), &[0]);
        let svg = std::fs::read_to_string(d.join(out).join("collab-pipeline/gantt.svg")).unwrap();
        assert_well_formed(&svg, out);
        // Whether the time axis starts at 0 (a "0" tick label).
        let from_zero = svg
            .split("</text>")
            .filter_map(|t| t.rsplit_once('>'))
            .any(|(_, label)| label.trim() == "0");
        (svg_title(&svg), from_zero)
    };
    assert_eq!(
        gantt(&[], "p"),
        (
            "agent Gantt chart (first 500 of 800 task executions; plot --gantt-window for others)"
                .to_string(),
            true
        )
    );
    // The report's 500 end at 73 s; the window after them has others, and
    // the axis spans the window only (no 0 s tick).
    let (late, late_from_zero) = gantt(&["--gantt-window", "80000..200000"], "late");
    assert!(!late_from_zero, "the windowed chart zooms to the window");
    let n: u64 = late
        .strip_prefix("agent Gantt chart (")
        .and_then(|t| t.split(' ').next())
        .and_then(|k| k.parse().ok())
        .unwrap_or_else(|| panic!("{late}"));
    assert!(n > 0 && n < 300, "{late}");
    assert!(
        late.ends_with(" in the window, of 800 task executions; window 80000-200000 ms)"),
        "{late}"
    );
    let (all, _) = gantt(&["--gantt-window", "0..200000"], "all");
    assert!(all.contains("first 500 of 800 in the window"), "{all}");
}
