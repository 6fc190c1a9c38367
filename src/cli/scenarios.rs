//! `agentsim validate` and `agentsim scenarios`.

use super::UsageError;
use crate::scenario::Scenario;
use std::io::IsTerminal;
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

/// Width of the listing when stdout is not a terminal and `COLUMNS` is
/// not set.
pub const DEFAULT_WIDTH: usize = 100;
/// Narrowest description column: below it, descriptions go on their own
/// lines under the path.
const MIN_DESCRIPTION: usize = 24;
/// Widest path column.
const PATH_MAX: usize = 44;

/// The width to lay the listing out in: `COLUMNS` when it is a positive
/// number; else, on a terminal, its size as `stty size` reports it (no
/// terminal-size crate is a dependency, and this is the CLI edge); else
/// [`DEFAULT_WIDTH`].
pub fn output_width() -> usize {
    if let Some(w) = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|&w| w > 0)
    {
        return w;
    }
    if std::io::stdout().is_terminal() {
        let size = std::process::Command::new("stty")
            .arg("size")
            .stdin(std::process::Stdio::inherit())
            .stderr(std::process::Stdio::null())
            .output();
        if let Some(w) = size.ok().and_then(|o| {
            let t = String::from_utf8_lossy(&o.stdout).into_owned();
            t.split_whitespace().nth(1)?.parse::<usize>().ok()
        }) {
            return w.max(1);
        }
    }
    DEFAULT_WIDTH
}

/// `text` cut to at most `max` characters, ending in `…` when cut.
fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.truncate(out.trim_end().len());
    out.push('…');
    out
}

/// `text` broken at spaces into lines of at most `max` characters (a word
/// longer than `max` gets a line of its own).
fn wrap(text: &str, max: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut cur = String::new();
    for word in text.split_whitespace() {
        let len = cur.chars().count();
        if len > 0 && len + 1 + word.chars().count() > max {
            lines.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(word);
    }
    if !cur.is_empty() || lines.is_empty() {
        lines.push(cur);
    }
    lines
}

/// Lay out `(path, description)` rows in `width` columns: the path, then
/// the description, truncated with `…` to fit the line, or with `long`
/// wrapped over as many lines as it takes, under its column. When the
/// terminal is too narrow for both columns, the description goes under the
/// path, indented by four.
pub fn layout(rows: &[(String, String)], width: usize, long: bool) -> Vec<String> {
    let longest = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0);
    let col = longest.min(PATH_MAX);
    let (indent, room, below) = if width > col + 1 + MIN_DESCRIPTION {
        (col + 1, width - col - 1, false)
    } else {
        (4, width.saturating_sub(4).max(MIN_DESCRIPTION), true)
    };
    let mut out = Vec::new();
    for (path, desc) in rows {
        let parts = if long {
            wrap(desc, room)
        } else {
            vec![truncate(desc, room)]
        };
        let path_len = path.chars().count();
        let mut first = true;
        if below || path_len > col {
            out.push(path.clone());
            first = false;
        }
        for part in parts {
            if first {
                out.push(format!("{path}{} {part}", " ".repeat(col - path_len)));
                first = false;
            } else {
                out.push(format!("{}{part}", " ".repeat(indent)));
            }
        }
    }
    out
}

/// List scenario files under `dir` with their descriptions, fitted to the
/// terminal width ([`output_width`]); `long` shows whole descriptions.
pub fn list(dir: &Path, long: bool) -> Result<u8, UsageError> {
    let mut files = Vec::new();
    collect(dir, &mut files)
        .map_err(|e| UsageError(format!("{}: cannot list: {e}", crate::escape::path(dir))))?;
    let rows: Vec<(String, String)> = files
        .iter()
        .map(|f| {
            let desc = match Scenario::load(f) {
                Ok(s) => crate::escape::printable(&s.spec.description).into_owned(),
                Err(_) => format!(
                    "(invalid: run `agentsim validate {}`)",
                    crate::escape::path(f)
                ),
            };
            (crate::escape::path(f), desc)
        })
        .collect();
    for line in layout(&rows, output_width(), long) {
        outln!("{line}");
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows() -> Vec<(String, String)> {
        vec![
            ("a.json".into(), "short".into()),
            (
                "bb/c.json".into(),
                "one two three four five six seven eight nine ten eleven twelve thirteen".into(),
            ),
        ]
    }

    /// Each line fits the width; a long description is cut with `…`, and
    /// `long` wraps it instead, losing no word.
    #[test]
    fn listing_fits_the_width_and_long_keeps_every_word() {
        let short = layout(&rows(), 40, false);
        assert_eq!(short.len(), 2, "{short:?}");
        assert!(short.iter().all(|l| l.chars().count() <= 40), "{short:?}");
        assert!(short[1].ends_with('…'), "{short:?}");
        assert_eq!(short[0], "a.json    short");
        let long = layout(&rows(), 40, true);
        assert!(
            long.len() > 2 && long.iter().all(|l| l.chars().count() <= 40),
            "{long:?}"
        );
        let words: Vec<&str> = long[1..]
            .iter()
            .flat_map(|l| l.split_whitespace())
            .collect();
        assert_eq!(words.join(" "), format!("bb/c.json {}", rows()[1].1));
        // Too narrow for two columns: the description goes under the path.
        let narrow = layout(&rows(), 20, false);
        assert_eq!(narrow[0], "a.json");
        assert!(narrow[1].starts_with("    short"), "{narrow:?}");
    }
}
