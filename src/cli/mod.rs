//! The command-line interface. `main.rs` parses arguments and calls
//! [`main`]; every subcommand lives in its own file. Exit codes: 0 ran and
//! every check held, 1 ran and a check failed (or a replay diverged), 2 bad
//! input or usage, or an output that could not be written (a full disk,
//! an unwritable path). A closed standard output (`| head`) is not an
//! error: output stops quietly and the exit code is the run's.

/// `println!` for the CLI: a closed pipe (`| head`) makes further output a
/// no-op instead of a panic; any other write error (a full disk) is
/// reported once and turns the exit code into 2.
macro_rules! outln {
    ($($t:tt)*) => {
        $crate::cli::print_line(format_args!($($t)*))
    };
}

/// `eprintln!` for the CLI: a closed or failing standard error (`2>&-`,
/// a closed pipe) loses the message instead of panicking, so the exit
/// code stays the command's. Control characters in the text are escaped
/// (see [`crate::escape`]).
macro_rules! errln {
    ($($t:tt)*) => {
        $crate::cli::print_err(format_args!($($t)*), true)
    };
}

mod guided;
mod merge;
mod output;
mod plot;
mod replay;
mod report;
mod run;
mod scenarios;
mod shrink;
mod sweep;
mod sweep_files;

use clap::{Parser, Subcommand};
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

pub use output::write_atomic;

/// agentsim: deterministic simulation of Raft clusters and multi-agent
/// workflows under faults.
#[derive(Parser, Debug)]
#[command(name = "agentsim", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a scenario and write its report.
    Run(run::RunArgs),
    /// Re-run the scenario and seed recorded in a report and confirm the
    /// trace hash matches.
    Replay(replay::ReplayArgs),
    /// Shrink a failing scenario, report or sweep failure to a minimal
    /// scenario that fails the same way.
    Shrink(shrink::ShrinkArgs),
    /// Run a scenario over a range of seeds in parallel; write sweep.json,
    /// per-seed results and a replayable file per failing seed.
    Sweep(sweep::SweepArgs),
    /// Combine the output folders of sweep shards into one sweep.json.
    Merge(merge::MergeArgs),
    /// Draw charts from reports (re-running each to get per-op and
    /// per-message detail).
    Plot(plot::PlotArgs),
    /// Run (or read) a set of scenarios and write a self-contained HTML
    /// report with a summary table and every chart.
    Report(report::ReportArgs),
    /// Check scenario files without running them.
    Validate {
        /// Scenario files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Print the JSON Schema of the scenario format.
    Schema,
    /// List the shipped scenarios with their descriptions.
    Scenarios {
        /// Folder to list (default: `scenarios/`).
        #[arg(long, default_value = "scenarios")]
        dir: PathBuf,
        /// Show whole descriptions (wrapped), not one line each cut to the
        /// terminal width (`COLUMNS`, else the terminal's size, else 100).
        #[arg(long)]
        long: bool,
    },
}

static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);
static STDOUT_FAILED: AtomicBool = AtomicBool::new(false);

/// Write one line to standard output (see `outln!`), control characters
/// escaped.
pub(crate) fn print_line(args: std::fmt::Arguments<'_>) {
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let text = args.to_string();
    let mut o = io::stdout().lock();
    let r = o
        .write_all(crate::escape::printable_text(&text).as_bytes())
        .and_then(|()| o.write_all(b"\n"));
    if let Err(e) = r {
        stdout_error(&e);
    }
}

/// Write to standard error (see `errln!`): escaped and ending in a newline
/// if `line`, else as is (the progress line's own `\r` and erase codes).
/// Errors are ignored: there is nowhere left to report them, and the exit
/// code already says how the command went.
pub(crate) fn print_err(args: std::fmt::Arguments<'_>, line: bool) {
    let text = args.to_string();
    let mut e = io::stderr().lock();
    let _ = if line {
        e.write_all(crate::escape::printable_text(&text).as_bytes())
            .and_then(|()| e.write_all(b"\n"))
    } else {
        e.write_all(text.as_bytes())
    };
    let _ = e.flush();
}

fn stdout_error(e: &io::Error) {
    // Either way nothing more is written: the reader is gone or the
    // device is full.
    STDOUT_CLOSED.store(true, Ordering::Relaxed);
    if e.kind() != io::ErrorKind::BrokenPipe && !STDOUT_FAILED.swap(true, Ordering::Relaxed) {
        errln!("error: writing to standard output failed: {e}");
    }
}

/// Error that ends a command: bad input (exit 2) with a message.
#[derive(Debug)]
pub struct UsageError(pub String);

impl<E: std::fmt::Display> From<E> for UsageError {
    fn from(e: E) -> Self {
        UsageError(e.to_string())
    }
}

/// Run the CLI with parsed arguments.
pub fn main(cli: Cli) -> ExitCode {
    let result = match cli.command {
        Command::Run(a) => run::run(a),
        Command::Replay(a) => replay::replay(a),
        Command::Shrink(a) => shrink::shrink(a),
        Command::Sweep(a) => sweep::sweep(a),
        Command::Merge(a) => merge::merge(a),
        Command::Plot(a) => plot::plot(a),
        Command::Report(a) => report::report(a),
        Command::Validate { files } => scenarios::validate(&files),
        Command::Schema => {
            let schema = crate::scenario::json_schema();
            outln!(
                "{}",
                serde_json::to_string_pretty(&schema).expect("schema prints")
            );
            Ok(0)
        }
        Command::Scenarios { dir, long } => scenarios::list(&dir, long),
    };
    if !STDOUT_CLOSED.load(Ordering::Relaxed) {
        if let Err(e) = io::stdout().lock().flush() {
            stdout_error(&e);
        }
    }
    if STDOUT_FAILED.load(Ordering::Relaxed) {
        // Output was lost (ENOSPC, EIO): the caller must not trust it.
        if let Err(UsageError(msg)) = &result {
            errln!("{msg}");
        }
        return ExitCode::from(2);
    }
    match result {
        Ok(code) => ExitCode::from(code),
        Err(UsageError(msg)) => {
            errln!("{msg}");
            ExitCode::from(2)
        }
    }
}
