//! Metrics and the run report.

pub mod collab;
pub mod hist;
pub mod openmetrics;
pub mod raft;
pub mod report;
pub mod sections;

pub use report::{CheckFailure, Checks, NotJudged, Report};
pub use sections::{CollabSection, HeartbeatSection, Leadership, RaftSection};
