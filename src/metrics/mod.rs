//! Metrics and the run report.

pub mod collab;
pub mod hist;
pub mod openmetrics;
pub mod raft;
pub mod report;

pub use report::{CheckFailure, Checks, NotJudged, Report};
