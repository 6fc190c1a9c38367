//! Metrics and the run report.

pub mod report;

pub use report::{CheckFailure, Checks, Report};
