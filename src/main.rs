//! The `agentsim` binary: parse arguments, hand over to the library.
use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = agentsim::cli::Cli::parse();
    agentsim::cli::main(cli)
}
