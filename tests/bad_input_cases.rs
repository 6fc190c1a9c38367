//! Hostile and odd inputs, as data: `tests/bad_inputs/cases.tsv` lists a
//! file, the command run on it, the exit code and a fragment of what the
//! command must say. Every case runs in a fresh folder holding only `afile`
//! (a regular file) and `adir/` (a folder); a case that exits 2 must leave
//! that folder as it found it (nothing written, no temp file).

use std::path::{Path, PathBuf};
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn listing(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p.clone());
            }
            out.push(p);
        }
    }
    out.sort();
    out
}

/// Every case in `cases.tsv` exits with its code, says its fragment, and
/// writes nothing when it exits 2.
#[test]
fn bad_inputs_exit_with_their_code_and_message() {
    let dir = Path::new(ROOT).join("tests/bad_inputs");
    let table = std::fs::read_to_string(dir.join("cases.tsv")).unwrap();
    let mut failures = Vec::new();
    let mut n = 0;
    for (i, line) in table.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(
            cols.len(),
            4,
            "cases.tsv:{}: four tab-separated columns",
            i + 1
        );
        let (file, args, code, fragment) = (cols[0], cols[1], cols[2], cols[3]);
        let code: i32 = code.parse().unwrap();
        let path = if file.starts_with('/') {
            PathBuf::from(file)
        } else {
            dir.join(file)
        };
        let work = tempfile::tempdir().unwrap();
        std::fs::write(work.path().join("afile"), "x").unwrap();
        std::fs::create_dir(work.path().join("adir")).unwrap();
        let before = listing(work.path());
        let argv: Vec<String> = args
            .split(' ')
            .map(|a| a.replace("{file}", &path.display().to_string()))
            .collect();
        let o = Command::new(env!("CARGO_BIN_EXE_agentsim"))
            .args(&argv)
            .current_dir(work.path())
            .output()
            .unwrap();
        n += 1;
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stderr),
            String::from_utf8_lossy(&o.stdout)
        );
        let mut wrong = Vec::new();
        if o.status.code() != Some(code) {
            wrong.push(format!("exit {:?}, expected {code}", o.status.code()));
        }
        if !said.contains(fragment) {
            wrong.push(format!("output lacks {fragment:?}"));
        }
        if said.contains("panicked") {
            wrong.push("panicked".into());
        }
        if code == 2 && listing(work.path()) != before {
            wrong.push(format!("wrote files: {:?}", listing(work.path())));
        }
        if !wrong.is_empty() {
            failures.push(format!(
                "cases.tsv:{}: agentsim {args} on {file}: {}\n{said}",
                i + 1,
                wrong.join("; ")
            ));
        }
    }
    assert!(n >= 40, "only {n} cases");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
