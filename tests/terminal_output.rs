//! What reaches the terminal is safe to show, and a terminal that went
//! away does not turn into a crash: file names with ANSI escapes or
//! newlines are printed escaped, and a closed standard error (a closed
//! pipe, `2>&-`) keeps the command's exit code instead of a panic (101).

use std::path::Path;
use std::process::{Command, Output, Stdio};

const QUICKSTART: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/quickstart.json");
/// A file name that would turn the terminal red and forge a second line.
const HOSTILE: &str = "a\u{1b}[31mb\nc.json";
/// The same name as the CLI must show it.
const SHOWN: &str = "a\\u{1b}[31mb\\nc.json";

fn agentsim(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_agentsim"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run agentsim")
}

fn said(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stderr),
        String::from_utf8_lossy(&o.stdout)
    )
}

/// No escape byte and no line that starts inside the hostile name.
fn assert_clean(o: &Output) {
    let s = said(o);
    assert!(!s.contains('\u{1b}'), "raw ESC reached the terminal: {s:?}");
    assert!(
        !s.lines().any(|l| l.starts_with("c.json")),
        "a newline in the name split the message: {s:?}"
    );
    assert!(!s.contains("panicked"), "{s}");
}

/// A missing file with a hostile name: `validate`, `run`, `replay`,
/// `shrink` and `sweep` name it escaped, exit 2.
#[test]
fn hostile_path_of_a_missing_file_is_escaped() {
    let dir = tempfile::tempdir().unwrap();
    for cmd in [
        vec!["validate", HOSTILE],
        vec!["run", HOSTILE],
        vec!["replay", HOSTILE],
        vec!["shrink", HOSTILE],
        vec!["sweep", HOSTILE, "--seeds", "0..2"],
    ] {
        let o = agentsim(&cmd, dir.path());
        assert_eq!(o.status.code(), Some(2), "{cmd:?}: {}", said(&o));
        assert!(said(&o).contains(SHOWN), "{cmd:?}: {:?}", said(&o));
        assert_clean(&o);
    }
}

/// Existing files with hostile names, valid and invalid: `validate` and
/// `scenarios` print the names escaped.
#[test]
fn hostile_path_of_an_existing_file_is_escaped() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(QUICKSTART, dir.path().join(HOSTILE)).unwrap();
    let o = agentsim(&["validate", HOSTILE], dir.path());
    assert_eq!(o.status.code(), Some(0), "{}", said(&o));
    assert!(said(&o).contains(&format!("ok: {SHOWN}")), "{}", said(&o));
    assert_clean(&o);

    let o = agentsim(&["scenarios", "--dir", "."], dir.path());
    assert_eq!(o.status.code(), Some(0), "{}", said(&o));
    assert!(said(&o).contains(SHOWN), "{}", said(&o));
    assert_clean(&o);

    std::fs::write(dir.path().join(HOSTILE), "{ not json").unwrap();
    let o = agentsim(&["validate", HOSTILE], dir.path());
    assert_eq!(o.status.code(), Some(2), "{}", said(&o));
    assert!(said(&o).contains(&format!("{SHOWN}:1:3")), "{}", said(&o));
    assert_clean(&o);

    // An output path too: checked before the run, named escaped.
    let out = format!("{HOSTILE}/x");
    let o = agentsim(&["run", QUICKSTART, "--out", &out], dir.path());
    assert_eq!(o.status.code(), Some(2), "{}", said(&o));
    assert!(said(&o).contains(SHOWN), "{}", said(&o));
    assert_clean(&o);
}

/// Run `args` with standard error a pipe whose reader is already gone
/// (every write fails with EPIPE); stdout discarded. Returns the exit code.
/// The pipe is a FIFO opened read-write, then write-only, then the
/// read-write end closed: no reader is left, with no race.
fn with_stderr_to_closed_pipe(args: &[&str], cwd: &Path) -> Option<i32> {
    let fifo = cwd.join("closed.fifo");
    let _ = std::fs::remove_file(&fifo);
    let quoted: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
    let script = format!(
        "mkfifo '{f}' && exec 3<>'{f}' 4>'{f}' 3<&- && exec '{bin}' {args} 2>&4 >/dev/null",
        f = fifo.display(),
        bin = env!("CARGO_BIN_EXE_agentsim"),
        args = quoted.join(" ")
    );
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(cwd)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .code()
}

/// With standard error a closed pipe, commands that print errors and
/// warnings keep their exit codes (before the fix: 101, a panic in
/// `eprintln!`).
#[test]
fn closed_stderr_keeps_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let bad = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad_inputs/wrong-type.json");
    let bad = bad.to_str().unwrap();
    let cases: [(&[&str], i32); 5] = [
        (&["validate", "missing.json"], 2),
        (&["validate", bad], 2),
        (&["run", bad], 2),
        (&["sweep", QUICKSTART, "--seeds", "0..2", "--jobs", "0"], 2),
        (&["validate", QUICKSTART], 0),
    ];
    for (args, code) in cases {
        assert_eq!(
            with_stderr_to_closed_pipe(args, dir.path()),
            Some(code),
            "agentsim {args:?}"
        );
    }
    // A warning on a run that succeeds (no check ran) goes to stderr too.
    let hb =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad_inputs/heartbeat-no-checks.json");
    assert_eq!(
        with_stderr_to_closed_pipe(&["run", hb.to_str().unwrap(), "--out", "o"], dir.path()),
        Some(0)
    );
    // `2>&-`: the descriptor closed outright.
    let o = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "{} validate missing.json 2>&-",
            env!("CARGO_BIN_EXE_agentsim")
        ))
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}

/// Output paths a finished `run` and `sweep` print (the report, the replay
/// command, the sweep summary) are escaped: a newline in `--out` cannot
/// forge a line (before: printed with `Path::display`, the ESC escaped by
/// the print macro but the newline kept).
#[test]
fn hostile_output_paths_of_a_run_and_a_sweep_are_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let o = agentsim(&["run", QUICKSTART, "--out", HOSTILE], dir.path());
    assert!(o.status.success(), "{}", said(&o));
    assert!(dir.path().join(HOSTILE).join("report.json").is_file());
    assert!(
        said(&o).contains(&format!("agentsim replay {SHOWN}/report.json")),
        "{}",
        said(&o)
    );
    assert_clean(&o);

    let out = format!("{HOSTILE}.sweep");
    let o = agentsim(
        &["sweep", QUICKSTART, "--seeds", "0..2", "--out", &out],
        dir.path(),
    );
    assert!(o.status.success(), "{}", said(&o));
    assert!(
        said(&o).contains(&format!("{SHOWN}.sweep/")),
        "{}",
        said(&o)
    );
    assert_clean(&o);
}
