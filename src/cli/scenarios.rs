//! `agentsim validate` and `agentsim scenarios`.

use super::UsageError;
use crate::scenario::Scenario;
use std::path::{Path, PathBuf};

/// Validate each file; exit 2 if any is invalid.
pub fn validate(files: &[PathBuf]) -> Result<u8, UsageError> {
    let mut bad = 0;
    for f in files {
        match Scenario::load(f) {
            Ok(s) => outln!("ok: {} ({})", crate::escape::path(f), s.spec.name),
            Err(e) => {
                errln!("{e}");
                bad += 1;
            }
        }
    }
    if bad > 0 {
        Err(UsageError(format!(
            "{bad} of {} scenario files are invalid",
            files.len()
        )))
    } else {
        Ok(0)
    }
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.path());
    for e in entries {
        let p = e.path();
        if p.is_dir() {
            collect(&p, out)?;
        } else if p.extension().is_some_and(|x| x == "json") {
            out.push(p);
        }
    }
    Ok(())
}

/// List scenario files under `dir` with their descriptions.
pub fn list(dir: &Path) -> Result<u8, UsageError> {
    let mut files = Vec::new();
    collect(dir, &mut files)
        .map_err(|e| UsageError(format!("{}: cannot list: {e}", crate::escape::path(dir))))?;
    for f in files {
        match Scenario::load(&f) {
            Ok(s) => outln!("{:<44} {}", crate::escape::path(&f), s.spec.description),
            Err(_) => outln!(
                "{:<44} (invalid: run `agentsim validate {}`)",
                crate::escape::path(&f),
                crate::escape::path(&f)
            ),
        }
    }
    Ok(0)
}
