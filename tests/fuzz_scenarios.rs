//! Fuzzing the scenario loader and a capped run (issue #13): valid scenario
//! JSON is mutated (a number made extreme or scaled, a value of the wrong type, a
//! key deleted or duplicated, deep nesting, truncation) and the binary must
//! never panic, never hang past a budget, exit 0, 1 or 2, and write nothing
//! when it exits 2. The default test runs a few hundred cases; the
//! `#[ignore]`d one runs 10,000 (`cargo test --release --test
//! fuzz_scenarios -- --ignored`).

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{Map, Value};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
/// Wall-clock budget of one command: far above any capped run here.
const BUDGET: Duration = Duration::from_secs(60);
/// Runs longer than this (simulated ms) are cut with `--duration-ms`.
const CAP_MS: f64 = 1500.0;

/// Shipped scenarios, shortened to about a second of simulated time (fault
/// and approval times scaled with the duration) so a case runs quickly.
fn bases() -> Vec<Value> {
    [
        "scenarios/quickstart.json",
        "scenarios/bugs/stale-read.json",
        "scenarios/collab/pipeline.json",
        "scenarios/collab/partition-ap.json",
        "scenarios/partial/both.json",
        "scenarios/heartbeat-1h.json",
    ]
    .iter()
    .map(|p| {
        let text = std::fs::read_to_string(Path::new(ROOT).join(p)).unwrap();
        let mut v: Value = serde_json::from_str(&text).unwrap();
        let d = v["duration_ms"].as_f64().unwrap();
        let scale = (1000.0 / d).min(1.0);
        v["duration_ms"] = Value::from(d * scale);
        if let Some(fs) = v.pointer_mut("/faults").and_then(Value::as_array_mut) {
            for f in fs {
                for k in ["at_ms", "for_ms", "every_ms", "restart_after_ms"] {
                    if let Some(t) = f.get_mut(k) {
                        *t = Value::from(t.as_f64().unwrap() * scale);
                    }
                }
            }
        }
        if let Some(a) = v
            .pointer_mut("/workflow/approvals")
            .and_then(Value::as_array_mut)
        {
            for ap in a {
                let t = ap["at_ms"].as_f64().unwrap();
                ap["at_ms"] = Value::from(t * scale);
            }
        }
        if let Some(w) = v
            .pointer_mut("/workflow/arrivals")
            .and_then(Value::as_object_mut)
        {
            w.insert("workflows".into(), Value::from(5));
        }
        v
    })
    .collect()
}

/// Paths (as key/index steps) of every value in `v`.
fn paths(v: &Value, here: &mut Vec<Value>, out: &mut Vec<Vec<Value>>) {
    out.push(here.clone());
    match v {
        Value::Object(m) => {
            for (k, c) in m {
                here.push(Value::from(k.as_str()));
                paths(c, here, out);
                here.pop();
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                here.push(Value::from(i));
                paths(c, here, out);
                here.pop();
            }
        }
        _ => {}
    }
}

fn at<'a>(v: &'a mut Value, path: &[Value]) -> &'a mut Value {
    path.iter().fold(v, |v, step| match step {
        Value::String(k) => &mut v[k.as_str()],
        Value::Number(i) => &mut v[i.as_u64().unwrap() as usize],
        _ => unreachable!(),
    })
}

/// Numbers that have broken simulators before.
const EXTREMES: [&str; 14] = [
    "0",
    "-1",
    "1e-7",
    "0.0004",
    "0.0005",
    "1e30",
    "1e308",
    "-1e308",
    "18446744073709551615",
    "18446744073709551616",
    "4294967296",
    "2.5",
    "1e9",
    "604800001",
];

/// Serialize `v` as JSON, writing the first key of the object at `dup`
/// twice (serde_json cannot produce a duplicate key).
fn to_text(v: &Value, dup: Option<&[Value]>, here: &mut Vec<Value>, out: &mut String) {
    match v {
        Value::Object(m) => {
            out.push('{');
            let mut first = true;
            let mut emit = |k: &String, c: &Value, out: &mut String, here: &mut Vec<Value>| {
                if !first {
                    out.push(',');
                }
                first = false;
                out.push_str(&Value::from(k.as_str()).to_string());
                out.push(':');
                here.push(Value::from(k.as_str()));
                to_text(c, dup, here, out);
                here.pop();
            };
            if dup == Some(&here[..]) {
                if let Some((k, c)) = m.iter().next() {
                    emit(k, c, out, here);
                }
            }
            for (k, c) in m {
                emit(k, c, out, here);
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, c) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                here.push(Value::from(i));
                to_text(c, dup, here, out);
                here.pop();
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// One mutated scenario text from a base and a list of (choice, kind).
fn mutate(base: &Value, muts: &[(u64, u8)]) -> String {
    let mut v = base.clone();
    let mut dup = None;
    let mut truncate = None;
    for &(r, kind) in muts {
        let mut ps = Vec::new();
        paths(&v, &mut Vec::new(), &mut ps);
        let path = ps[(r % ps.len() as u64) as usize].clone();
        let r2 = r / 7919;
        match kind % 8 {
            6 | 7 => {
                // A plausible change: scale a number (often still valid).
                let slot = at(&mut v, &path);
                if let Some(x) = slot.as_f64() {
                    let f = [0.5, 2.0, 10.0, 0.1, 3.0][(r2 % 5) as usize];
                    *slot = if slot.is_u64() {
                        Value::from((x * f).round() as u64)
                    } else {
                        Value::from(x * f)
                    };
                }
            }
            0 => {
                let n: Value = serde_json::from_str(EXTREMES[(r2 % 14) as usize]).unwrap();
                *at(&mut v, &path) = n;
            }
            1 => {
                let wrong = [
                    Value::from("text"),
                    Value::Bool(true),
                    Value::Null,
                    Value::Array(vec![Value::from(1), Value::from("x")]),
                    Value::Object(Map::new()),
                    Value::from(-3),
                ];
                *at(&mut v, &path) = wrong[(r2 % 6) as usize].clone();
            }
            2 => {
                if let Some((last, parent)) = path.split_last() {
                    match (at(&mut v, parent), last) {
                        (Value::Object(m), Value::String(k)) => {
                            m.remove(k);
                        }
                        (Value::Array(a), Value::Number(i)) => {
                            a.remove(i.as_u64().unwrap() as usize);
                        }
                        _ => {}
                    }
                }
            }
            3 => {
                // Duplicate the first key of the object at this path.
                if at(&mut v, &path).is_object() {
                    dup = Some(path);
                }
            }
            4 => {
                let depth = 50 + (r2 % 2000) as usize;
                let mut nested = Value::from(1);
                for _ in 0..depth {
                    nested = Value::Array(vec![nested]);
                }
                *at(&mut v, &path) = nested;
            }
            _ => truncate = Some(r2),
        }
    }
    let mut text = String::new();
    to_text(&v, dup.as_deref(), &mut Vec::new(), &mut text);
    if let Some(r) = truncate {
        let mut cut = (r % text.len() as u64) as usize;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    text
}

/// Run agentsim with `args` in `cwd`, killing it past [`BUDGET`].
fn agentsim(args: &[&str], cwd: &Path) -> Result<(i32, String), String> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_agentsim"))
        .args(args)
        .current_dir(cwd)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    #[allow(clippy::disallowed_methods)]
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            use std::io::Read;
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            return match status.code() {
                Some(c @ 0..=2) if !err.contains("panicked") => Ok((c, err)),
                c => Err(format!("exit {c:?}: {err}")),
            };
        }
        if start.elapsed() > BUDGET {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("no answer within {BUDGET:?}"));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// What a case came to: refused by validate, or run with this exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    Refused,
    Ran(i32),
}

/// One case: validate, then (if valid) a capped run; the property.
fn check_case(text: &str) -> Result<Outcome, String> {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("s.json"), text).unwrap();
    let (code, err) = agentsim(&["validate", "s.json"], d)?;
    if code == 2 {
        if files_in(d) != ["s.json"] {
            return Err(format!("validate exit 2 wrote {:?}", files_in(d)));
        }
        if !err.contains("s.json") {
            return Err(format!("the error does not name the file: {err}"));
        }
        return Ok(Outcome::Refused);
    }
    if code != 0 {
        return Err(format!("validate exit {code}: {err}"));
    }
    let duration = serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| v["duration_ms"].as_f64());
    let cap = format!("{CAP_MS}");
    let mut args = vec!["run", "s.json", "--out", "o"];
    if duration.is_none_or(|d| d > CAP_MS) {
        args.extend(["--duration-ms", &cap]);
    }
    let (code, err) = agentsim(&args, d)?;
    if code == 2 && files_in(d) != ["s.json"] {
        return Err(format!("run exit 2 wrote {:?}: {err}", files_in(d)));
    }
    if code != 2 && !d.join("o/report.json").exists() {
        return Err(format!("run exit {code} without a report: {err}"));
    }
    Ok(Outcome::Ran(code))
}

fn fuzz(cases: u32) {
    let bases = bases();
    let mut runner = TestRunner::new_with_rng(
        Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    );
    let strategy = (
        0..bases.len(),
        prop::collection::vec((any::<u64>(), any::<u8>()), 1..4),
    );
    let tally = std::cell::RefCell::new(std::collections::BTreeMap::<Outcome, u32>::new());
    let result = runner.run(&strategy, |(b, muts)| {
        let text = mutate(&bases[b], &muts);
        let outcome = check_case(&text).map_err(|e| {
            TestCaseError::fail(format!(
                "{e}\n--- scenario ---\n{}",
                &text[..text.len().min(4000)]
            ))
        })?;
        *tally.borrow_mut().entry(outcome).or_default() += 1;
        Ok(())
    });
    eprintln!("fuzz: {cases} cases: {:?}", tally.borrow());
    if let Err(e) = result {
        panic!("{e}");
    }
    // The mutations must leave some scenarios valid, or the run half of
    // the property was never exercised.
    let ran: u32 = tally
        .borrow()
        .iter()
        .filter(|(o, _)| matches!(o, Outcome::Ran(_)))
        .map(|(_, n)| n)
        .sum();
    assert!(ran * 20 >= cases, "only {ran} of {cases} cases ran");
}

/// A few hundred mutated scenarios: validate and a capped run never panic
/// or hang, exit 0/1/2, and exit 2 writes nothing.
#[test]
fn mutated_scenarios_never_panic_hang_or_litter() {
    fuzz(300);
}

/// The long version: 10,000 cases (minutes; run with `-- --ignored`).
#[test]
#[ignore]
fn mutated_scenarios_never_panic_hang_or_litter_10k() {
    fuzz(10_000);
}

/// The unmutated bases are valid scenarios (so the fuzz cases start from
/// something that runs).
#[test]
fn fuzz_bases_are_valid() {
    for b in bases() {
        let mut text = String::new();
        to_text(&b, None, &mut Vec::new(), &mut text);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("s.json"), &text).unwrap();
        let (code, err) = agentsim(&["validate", "s.json"], dir.path()).unwrap();
        assert_eq!(code, 0, "{err}");
    }
}
