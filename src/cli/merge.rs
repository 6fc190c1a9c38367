//! `agentsim merge`: combine the output folders of sweep shards into one
//! folder whose `sweep.json` equals that of a single-machine sweep.
//!
//! Two passes: the first reads every shard's `results.jsonl`, checks that
//! they belong to one sweep and together hold each seed exactly once, and
//! folds the aggregate; only then does the second write anything (merged
//! `results.jsonl`, the failure files, `sweep.json`).

use super::output::write_atomic;
use super::sweep::{
    clear_outputs, create_results, failure_file, header_difference, read_results, summary,
    write_summary, SeedSet, RESULTS, SUMMARY,
};
use super::UsageError;
use crate::sweep::{Aggregate, Shard, SweepHeader, SweepTiming};
use clap::Args;
use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Arguments of `agentsim merge`.
#[derive(Args, Debug)]
pub struct MergeArgs {
    /// Output folders of `agentsim sweep --shard`, one per shard.
    #[arg(required = true, value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// Where to write the merged sweep (default: out/<scenario name>/sweep/).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (fs::canonicalize(a), fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

pub fn merge(a: MergeArgs) -> Result<u8, UsageError> {
    let mut header: Option<SweepHeader> = None;
    let mut set: Option<SeedSet> = None;
    let mut agg = Aggregate::new();
    let mut shards: BTreeMap<u32, &Path> = BTreeMap::new();
    let mut count: Option<u32> = None;
    let mut good_lens = Vec::new();
    for (i, dir) in a.dirs.iter().enumerate() {
        if a.dirs[..i].iter().any(|d| same_dir(d, dir)) {
            return Err(UsageError(format!(
                "error: {} is given twice",
                dir.display()
            )));
        }
        let path = dir.join(RESULTS);
        if !path.exists() {
            return Err(UsageError(format!(
                "error: {}: no {RESULTS}: not the output folder of `agentsim sweep`",
                dir.display()
            )));
        }
        let file = crate::escape::path(&path);
        let rf = read_results(&path, |h, r| {
            let whole = SweepHeader {
                shard: None,
                ..h.clone()
            };
            let expected = header.get_or_insert_with(|| whole.clone());
            if *expected != whole {
                return Err(UsageError(format!(
                    "error: {}: belongs to a different sweep than {} ({})",
                    dir.display(),
                    a.dirs[0].display(),
                    header_difference(&whole, expected)
                )));
            }
            let seen = set.get_or_insert_with(|| SeedSet::new(whole.seeds));
            if !h.own_seeds().contains(r.seed) || !seen.insert(r.seed) {
                return Err(UsageError(format!(
                    "error: {file}: seed {} is outside its shard's seeds {} or appears twice across the folders",
                    r.seed,
                    h.own_seeds()
                )));
            }
            if !r.ok() && !dir.join(failure_file(r.seed)).exists() {
                return Err(UsageError(format!(
                    "error: {}: seed {} failed but {} is missing",
                    dir.display(),
                    r.seed,
                    failure_file(r.seed)
                )));
            }
            agg.add(&r);
            Ok(())
        })?;
        // A folder with no results yet still has to belong to this sweep.
        let whole = SweepHeader {
            shard: None,
            ..rf.header.clone()
        };
        let expected = header.get_or_insert_with(|| whole.clone());
        if *expected != whole {
            return Err(UsageError(format!(
                "error: {}: belongs to a different sweep than {} ({})",
                dir.display(),
                a.dirs[0].display(),
                header_difference(&whole, expected)
            )));
        }
        set.get_or_insert_with(|| SeedSet::new(whole.seeds));
        if let Some(s) = rf.header.shard {
            if *count.get_or_insert(s.count) != s.count {
                return Err(UsageError(format!(
                    "error: {}: is shard {s}, but an earlier folder is one of {} shards",
                    dir.display(),
                    count.unwrap_or(0)
                )));
            }
            if let Some(other) = shards.insert(s.index, dir) {
                return Err(UsageError(format!(
                    "error: {} and {} are both shard {s}",
                    other.display(),
                    dir.display()
                )));
            }
        }
        good_lens.push(rf.good_len);
    }
    let header = header.expect("at least one folder");
    let set = set.expect("at least one folder");
    if agg.seeds() != header.seeds.len() {
        return Err(UsageError(incomplete(&header, &set, count, &shards)));
    }
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| Path::new("out").join(&header.scenario.name).join("sweep"));
    if let Some(d) = a.dirs.iter().find(|d| same_dir(d, &out)) {
        return Err(UsageError(format!(
            "error: --out {} is one of the shard folders ({}); merge into a new folder",
            out.display(),
            d.display()
        )));
    }

    // Second pass: everything checked; write.
    let io = |p: &Path, e: std::io::Error| UsageError(format!("error: {}: {e}", p.display()));
    clear_outputs(&out)?;
    let mut results = create_results(&out, &header)?;
    for (dir, len) in a.dirs.iter().zip(&good_lens) {
        let path = dir.join(RESULTS);
        let bytes = fs::read(&path).map_err(|e| io(&path, e))?;
        let body = &bytes[..*len as usize];
        let first = body
            .iter()
            .position(|&b| b == b'\n')
            .map_or(body.len(), |i| i + 1);
        results
            .write_all(&body[first..])
            .map_err(|e| io(&out.join(RESULTS), e))?;
        for f in agg.failed().iter().filter(|f| {
            // Each failure file comes from the folder whose shard owns it.
            dir.join(failure_file(f.seed)).exists()
        }) {
            let src = dir.join(failure_file(f.seed));
            let dst = out.join(failure_file(f.seed));
            if dst.exists() {
                continue;
            }
            let text = fs::read(&src).map_err(|e| io(&src, e))?;
            write_atomic(&dst, &text).map_err(|e| io(&dst, e))?;
        }
    }
    results.sync_all().map_err(|e| io(&out.join(RESULTS), e))?;
    let timing = SweepTiming {
        note: crate::sweep::summary::TIMING_NOTE.into(),
        merged_from: Some(a.dirs.len() as u64),
        seed_wall_ms_total: agg.wall_us() as f64 / 1000.0,
        events_per_core_s: if agg.wall_us() > 0 {
            agg.events() as f64 * 1e6 / agg.wall_us() as f64
        } else {
            0.0
        },
        ..SweepTiming::default()
    };
    let summary = summary(&header, &agg, &out, timing);
    write_summary(&out, &summary)?;
    outln!(
        "agentsim merge: {} ({} folders, seeds {}): {} seeds, {} failed",
        header.scenario.name,
        a.dirs.len(),
        header.seeds,
        agg.seeds(),
        agg.failed().len()
    );
    if let Some(line) = super::sweep::collab_line(&summary.stats) {
        outln!("  collab      {line}");
    }
    for f in summary.failures.iter().take(10) {
        outln!(
            "  FAILED      seed {}: {}\n              {}",
            f.seed,
            f.kind,
            f.replay
        );
    }
    outln!("  summary     {}", out.join(SUMMARY).display());
    Ok(u8::from(!agg.failed().is_empty()))
}

/// Say which shards are missing or incomplete.
fn incomplete(
    header: &SweepHeader,
    set: &SeedSet,
    count: Option<u32>,
    shards: &BTreeMap<u32, &Path>,
) -> String {
    let mut msg = format!(
        "error: the folders hold {} of the {} seeds {}; merge needs every shard complete:",
        set.count_in(header.seeds),
        header.seeds.len(),
        header.seeds
    );
    let Some(n) = count else {
        msg.push_str(
            " the sweep is not sharded and did not finish: `agentsim sweep --resume` it first",
        );
        return msg;
    };
    for index in 0..n {
        let s = Shard { index, count: n };
        let r = header.seeds.shard(s);
        let have = set.count_in(r);
        if have == r.len() {
            continue;
        }
        match shards.get(&index) {
            None => msg.push_str(&format!("\n  shard {s} (seeds {r}): no folder given")),
            Some(d) => msg.push_str(&format!(
                "\n  shard {s} (seeds {r}): {have} of {} seeds in {}; finish it with `agentsim sweep ... --shard {s} --out {} --resume`",
                r.len(),
                d.display(),
                d.display()
            )),
        }
    }
    msg
}
