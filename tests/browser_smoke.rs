//! Browser smoke test of the HTML report: `agentsim report` on a passing
//! and a failing run, then the page loaded in headless Chromium. Checks
//! that every chart renders (a non-empty SVG box with something drawn in
//! it), that nothing logs to the console or fails to load, that element
//! ids are unique and in-page links resolve, and saves a screenshot under
//! `target/browser-smoke/`.
//!
//! Needs a Chromium (`chromium`, `chromium-browser`, `google-chrome`, or
//! the path in `AGENTSIM_CHROMIUM`); `.ci/run` installs Debian's. Without
//! one the test prints SKIP and passes.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const SMOKE_JS: &str = include_str!("browser/smoke.js");

/// The first Chromium found, or `None`.
fn find_browser() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("AGENTSIM_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    for name in [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ] {
        for dir in std::env::split_paths(&path) {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

/// Run `cmd`, killing it after `limit` (a hung browser must fail the test,
/// not the CI job). Output goes through files in `dir`: a page dump is
/// megabytes, more than a pipe holds while we wait.
fn run_with_limit(mut cmd: Command, dir: &Path, limit: Duration) -> (String, String) {
    let (out_path, err_path) = (dir.join("browser.out"), dir.join("browser.err"));
    let mut child = cmd
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .expect("start the browser");
    // Counted 100 ms naps, not a clock (clippy.toml keeps wall clocks out).
    let mut naps = 0;
    while child.try_wait().unwrap().is_none() {
        naps += 1;
        if naps > limit.as_millis() / 100 {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "browser did not finish within {limit:?}; stderr:\n{}",
                std::fs::read_to_string(&err_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let read = |p: &Path| String::from_utf8_lossy(&std::fs::read(p).unwrap()).into_owned();
    (read(&out_path), read(&err_path))
}

/// Headless Chromium with a private profile in `profile`.
fn chromium(browser: &Path, profile: &Path) -> Command {
    let mut c = Command::new(browser);
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--hide-scrollbars",
        "--enable-logging=stderr",
        "--v=0",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    c
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

#[test]
fn report_page_renders_in_a_browser() {
    let Some(browser) = find_browser() else {
        eprintln!(
            "SKIP report_page_renders_in_a_browser: no Chromium found (install Debian's \
             `chromium`, or set AGENTSIM_CHROMIUM to a Chromium binary)"
        );
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let profile = d.join("profile");
    // A browser that cannot start here (missing libraries) is a skip too.
    let version = chromium(&browser, &profile).arg("--version").output();
    match version {
        Ok(o) if o.status.success() => {
            eprintln!("browser: {}", String::from_utf8_lossy(&o.stdout).trim());
        }
        other => {
            eprintln!(
                "SKIP report_page_renders_in_a_browser: {} does not start: {other:?}",
                browser.display()
            );
            return;
        }
    }

    // A passing run, a failing one (a stale-read bug the linearizability
    // check catches, with its indented explanation) and a collaboration
    // run (Gantt chart).
    let out = Command::new(env!("CARGO_BIN_EXE_agentsim"))
        .current_dir(ROOT)
        .args([
            "report",
            "scenarios/quickstart.json",
            "scenarios/bugs/stale-read.json",
            "scenarios/collab/pipeline.json",
            "--duration-ms",
            "20000",
            "--out",
        ])
        .arg(d.join("r"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "a run fails: {stderr}");
    assert!(
        stderr.contains("1 of 3 run(s) failed")
            && stderr.contains("bug-stale-read (scenarios/bugs/stale-read.json): checks failed"),
        "report names the failing run: {stderr}"
    );
    let index = d.join("r/index.html");
    let html = std::fs::read_to_string(&index).unwrap();
    assert!(!html.contains("<script"), "the page itself runs no scripts");

    // A copy with the checking script, printed after load.
    let smoke = d.join("r/smoke.html");
    let with_script = html.replacen(
        "<head>\n",
        &format!("<head>\n<script>\n{SMOKE_JS}\n</script>\n"),
        1,
    );
    assert_ne!(with_script, html, "page has a <head>");
    std::fs::write(&smoke, with_script).unwrap();
    let mut c = chromium(&browser, &profile);
    c.arg("--dump-dom")
        .arg(format!("file://{}", smoke.display()));
    let (text, log) = run_with_limit(c, d, Duration::from_secs(180));
    let start = text
        .rfind("<pre id=\"agentsim-smoke-result\">")
        .unwrap_or_else(|| panic!("no result in the dumped page; browser log:\n{log}"));
    let body = &text[start..];
    let body = &body[body.find('>').unwrap() + 1..body.find("</pre>").unwrap()];
    let result: serde_json::Value = serde_json::from_str(&unescape(body)).unwrap();
    eprintln!("{}", serde_json::to_string_pretty(&result).unwrap());
    let problems = result["problems"].as_array().unwrap();
    assert!(problems.is_empty(), "problems on the page: {problems:#?}");
    let console: Vec<&str> = log.lines().filter(|l| l.contains(":CONSOLE")).collect();
    assert!(console.is_empty(), "console output: {console:#?}");
    let charts = result["charts"].as_array().unwrap();
    assert!(
        charts.len() >= 10,
        "expected the three runs' charts and the comparisons, got {}",
        charts.len()
    );
    assert_eq!(charts.len() as u64, result["figures"].as_u64().unwrap());
    for want in [
        "quickstart-timeline",
        "bug-stale-read-latency_over_time",
        "collab-pipeline-gantt",
    ] {
        assert!(
            charts.iter().any(|c| c["id"] == want),
            "chart #{want} rendered"
        );
    }
    assert!(
        result["failure_pre"].as_u64().unwrap() >= 1,
        "the failure explanation is pre-formatted"
    );

    // A screenshot of the page (the top 1280x4000 px) for a human to look at.
    let shots = Path::new(ROOT).join("target/browser-smoke");
    std::fs::create_dir_all(&shots).unwrap();
    let png = shots.join("report.png");
    let _ = std::fs::remove_file(&png);
    let mut c = chromium(&browser, &profile);
    c.args(["--window-size=1280,4000"])
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", index.display()));
    let (_, shot_log) = run_with_limit(c, d, Duration::from_secs(180));
    let size = std::fs::metadata(&png).map(|m| m.len()).unwrap_or(0);
    assert!(
        size > 10_000,
        "screenshot {} written ({size} bytes); browser log:\n{}",
        png.display(),
        shot_log
    );
    eprintln!("screenshot: {}", png.display());
}
