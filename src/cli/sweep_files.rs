//! The files of a sweep's output folder: reading `results.jsonl` back
//! (torn last line, header, the seeds done), creating and re-opening it,
//! the summary `sweep.json` and its atomic write, and what makes two
//! sweep headers differ. Split from `sweep.rs`, which runs the seeds.

use super::output::write_atomic;
use super::sweep::{failure_file, Plan, FAILURES, RESULTS, SUMMARY};
use super::UsageError;
use crate::sweep::{
    Aggregate, FailureEntry, SeedBudget, SeedRange, SeedResult, Shard, ShardInfo, SweepHeader,
    SweepSummary, SweepTiming,
};
use serde::Serialize;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::Path;

/// A results file read back: its header, the byte length of its good
/// prefix, and whether a torn last line follows it.
pub struct ResultsFile {
    pub header: SweepHeader,
    pub good_len: u64,
    pub torn: bool,
}

/// Read `path`, calling `each` on every complete result line. A last line
/// without its newline, or one that does not parse, is torn (an
/// interrupted write) and skipped; a bad line elsewhere is an error.
pub fn read_results(
    path: &Path,
    mut each: impl FnMut(&SweepHeader, SeedResult) -> Result<(), UsageError>,
) -> Result<ResultsFile, UsageError> {
    let file = crate::escape::path(path);
    let text =
        fs::read(path).map_err(|e| UsageError(format!("error: {file}: cannot read: {e}")))?;
    let mut header: Option<SweepHeader> = None;
    let mut at = 0usize;
    let mut line_no = 0usize;
    while at < text.len() {
        line_no += 1;
        let Some(nl) = text[at..].iter().position(|&b| b == b'\n') else {
            // No newline: the write of this line never finished.
            return finish(header, &file, at, true);
        };
        let line = &text[at..at + nl];
        let last = at + nl + 1 == text.len();
        if let Some(h) = &header {
            match serde_json::from_slice::<SeedResult>(line) {
                Ok(r) => each(h, r)?,
                Err(_) if last => return finish(header, &file, at, true),
                Err(_) => {
                    // Parse again to name the field (`stats.collab.
                    // tokens_spent`, ...) when the line got that far.
                    let mut de = serde_json::Deserializer::from_slice(line);
                    let e = serde_path_to_error::deserialize::<_, SeedResult>(&mut de)
                        .expect_err("the line failed to parse once");
                    let field = e.path().to_string();
                    let field = if field == "." || field.contains('?') {
                        String::new()
                    } else {
                        format!("field `{field}`: ")
                    };
                    return Err(UsageError(format!(
                        "error: {file}:{line_no}: damaged result line ({field}{}); only a torn last line can be repaired",
                        e.inner()
                    )));
                }
            }
        } else {
            let h = serde_json::from_slice::<SweepHeader>(line).map_err(|e| {
                UsageError(format!(
                    "error: {file}:1: not an agentsim sweep results file ({e})"
                ))
            })?;
            header = Some(h);
        }
        at += nl + 1;
    }
    finish(header, &file, at, false)
}

fn finish(
    header: Option<SweepHeader>,
    file: &str,
    good_len: usize,
    torn: bool,
) -> Result<ResultsFile, UsageError> {
    let header = header.ok_or_else(|| {
        UsageError(format!(
            "error: {file}: has no complete header line; remove the folder and start the sweep again"
        ))
    })?;
    Ok(ResultsFile {
        header,
        good_len: good_len as u64,
        torn,
    })
}

/// Which seeds of a range are done. Memory grows with the seeds done, not
/// with the range: `--seeds 0..4294967296` allocates nothing up front.
pub struct SeedSet {
    range: SeedRange,
    done: std::collections::BTreeSet<u64>,
}

impl SeedSet {
    pub fn new(range: SeedRange) -> Self {
        SeedSet {
            range,
            done: std::collections::BTreeSet::new(),
        }
    }
    /// Mark `seed`; false if it was already marked or is out of range.
    pub fn insert(&mut self, seed: u64) -> bool {
        self.range.contains(seed) && self.done.insert(seed)
    }
    pub fn contains(&self, seed: u64) -> bool {
        self.done.contains(&seed)
    }
    /// Seeds of `r` marked.
    pub fn count_in(&self, r: SeedRange) -> u64 {
        self.done.range(r.start..r.end).count() as u64
    }
}

/// Quote a path for a shell command line when it needs it.
pub(super) fn shell_quote(s: &str) -> String {
    if s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/._-+:,=@%".contains(&b))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The command that reproduces a failing seed written under `dir`.
pub fn replay_command(dir: &Path, seed: u64) -> String {
    let path = dir.join(failure_file(seed));
    format!(
        "agentsim replay {}",
        shell_quote(&path.display().to_string())
    )
}

/// The summary (`sweep.json`): deterministic fields, then `timing`.
pub fn summary(
    header: &SweepHeader,
    agg: &Aggregate,
    dir: &Path,
    timing: SweepTiming,
) -> SweepSummary {
    let failures: Vec<FailureEntry> = agg
        .failed_sorted()
        .iter()
        .map(|f| FailureEntry {
            seed: f.seed,
            kind: f.failures[0].check.clone(),
            message: f.failures[0].message.clone(),
            checks: f.failures.iter().map(|c| c.check.clone()).collect(),
            file: failure_file(f.seed),
            replay: replay_command(dir, f.seed),
        })
        .collect();
    SweepSummary {
        agentsim_sweep: header.agentsim_sweep,
        scenario: header.scenario.clone(),
        seeds: header.seeds.to_string(),
        shard: header.shard.map(|s| ShardInfo {
            index: s.index,
            count: s.count,
            seeds: header.own_seeds().to_string(),
        }),
        nemesis: header.nemesis,
        targeted: header.targeted,
        bug: header.scenario.bug.clone(),
        seeds_run: agg.seeds(),
        seeds_failed: failures.len() as u64,
        failures,
        stats: agg.stats(),
        timing,
    }
}

/// Write `sweep.json` into `dir`: `summary` pretty-printed through a
/// `Value`, so its keys are sorted at every level.
pub fn write_summary(dir: &Path, summary: &impl Serialize) -> Result<(), UsageError> {
    let path = dir.join(SUMMARY);
    let value = serde_json::to_value(summary).expect("summary serializes");
    let mut text = serde_json::to_string_pretty(&value).expect("summary serializes");
    text.push('\n');
    write_atomic(&path, text.as_bytes()).map_err(|e| {
        UsageError(format!(
            "error: {}: cannot write: {e}",
            crate::escape::path(&path)
        ))
    })
}

/// Remove what an earlier sweep left in `dir` (only files a sweep writes).
pub fn clear_outputs(dir: &Path) -> Result<(), UsageError> {
    let io = |p: &Path, e: std::io::Error| {
        UsageError(format!(
            "error: {}: cannot remove: {e}",
            crate::escape::path(p)
        ))
    };
    for name in [SUMMARY, RESULTS] {
        let p = dir.join(name);
        match fs::remove_file(&p) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(&p, e)),
            _ => {}
        }
    }
    let fdir = dir.join(FAILURES);
    if let Ok(entries) = fs::read_dir(&fdir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with("seed-") && name.ends_with(".json") {
                fs::remove_file(e.path()).map_err(|err| io(&e.path(), err))?;
            }
        }
    }
    Ok(())
}

/// Create `dir/results.jsonl` holding only `header`, durably.
pub fn create_results(dir: &Path, header: &SweepHeader) -> Result<File, UsageError> {
    let path = dir.join(RESULTS);
    let err = |e: std::io::Error| {
        UsageError(format!(
            "error: {}: cannot create: {e}",
            crate::escape::path(&path)
        ))
    };
    fs::create_dir_all(dir).map_err(err)?;
    let mut f = File::create(&path).map_err(err)?;
    let mut line = serde_json::to_string(header).expect("header serializes");
    line.push('\n');
    f.write_all(line.as_bytes()).map_err(err)?;
    f.sync_all().map_err(err)?;
    // Make the new directory entry durable too.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(f)
}

/// Open the results file for appending, resuming if asked and possible.
/// Returns the file and the aggregate and seed set of what it holds.
pub(super) fn open_results(
    p: &Plan,
    resume: bool,
    own: SeedRange,
) -> Result<(File, Aggregate, SeedSet), UsageError> {
    let path = p.dir.join(RESULTS);
    let mut agg = Aggregate::new();
    let mut done = SeedSet::new(own);
    if resume && path.exists() {
        let file = crate::escape::path(&path);
        let mut bad_seed = None;
        let rf = read_results(&path, |_, r| {
            if done.insert(r.seed) {
                agg.add(&r);
            } else {
                bad_seed.get_or_insert(r.seed);
            }
            Ok(())
        })?;
        if rf.header != p.header {
            return Err(UsageError(format!(
                "error: {}: holds a different sweep ({}); --resume needs the same scenario, --seeds, --shard, --nemesis, --bug and --duration-ms. Use another --out, or drop --resume to start over.",
                crate::escape::path(&p.dir),
                header_difference(&rf.header, &p.header)
            )));
        }
        if rf.torn {
            errln!("note: {file}: dropped a torn last line (an interrupted write); that seed runs again");
        }
        if let Some(seed) = bad_seed {
            return Err(UsageError(format!(
                "error: {file}: seed {seed} is outside this sweep's seeds {own} or listed twice; the file is damaged"
            )));
        }
        let f = OpenOptions::new()
            .write(true)
            .open(&path)
            .map_err(|e| UsageError(format!("error: {file}: cannot open: {e}")))?;
        // Drop a torn last line; new lines go after the good prefix.
        f.set_len(rf.good_len)
            .and_then(|_| f.sync_all())
            .map_err(|e| UsageError(format!("error: {file}: cannot repair: {e}")))?;
        let f = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(|e| UsageError(format!("error: {file}: cannot open: {e}")))?;
        return Ok((f, agg, done));
    }
    clear_outputs(&p.dir)?;
    Ok((create_results(&p.dir, &p.header)?, agg, done))
}

/// Name what differs between two headers.
pub fn header_difference(a: &SweepHeader, b: &SweepHeader) -> String {
    let mut d = Vec::new();
    if a.agentsim_sweep != b.agentsim_sweep {
        d.push(format!(
            "format {} vs {}",
            a.agentsim_sweep, b.agentsim_sweep
        ));
    }
    if a.scenario != b.scenario {
        d.push("the scenario differs".to_string());
    }
    if a.seeds != b.seeds {
        d.push(format!("seeds {} vs {}", a.seeds, b.seeds));
    }
    if a.shard != b.shard {
        let s = |x: Option<Shard>| x.map_or("none".to_string(), |s| s.to_string());
        d.push(format!("shard {} vs {}", s(a.shard), s(b.shard)));
    }
    if a.nemesis != b.nemesis {
        d.push(format!("nemesis {} vs {}", a.nemesis, b.nemesis));
    }
    if a.targeted != b.targeted {
        d.push(format!("targeted {} vs {}", a.targeted, b.targeted));
    }
    if a.budget != b.budget {
        let s = |x: Option<SeedBudget>| {
            let b = x.unwrap_or_default();
            format!("{} events/{} queued", b.events, b.pending_events)
        };
        d.push(format!("seed budget {} vs {}", s(a.budget), s(b.budget)));
    }
    d.join(", ")
}
