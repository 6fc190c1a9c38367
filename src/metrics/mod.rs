//! Metrics and the run report.

pub mod collab;
pub mod collab_tables;
pub mod faults;
pub mod hist;
pub mod openmetrics;
pub mod raft;
pub mod report;
pub mod sections;

pub use faults::{FaultLogSummary, FaultRecord};
pub use report::{CheckFailure, Checks, NotJudged, Report};
pub use sections::{CollabSection, HeartbeatSection, Leadership, RaftSection};
