//! Hybrid mode: a task analyzer estimates each task's complexity (its
//! size; critical tasks count as complex) and routes it: complex or
//! critical work competes (quality matters), small independent work is
//! batched (division: cheap, capability-matched), the rest runs as a
//! pipeline step. Failed agents are handled for every mode by the
//! dispatcher (breaker open or lost → in-flight work re-assigned).

use crate::collab::config::{CollabConfig, Priority};
use crate::collab::coordinator::TaskKind;

/// The mode a task of this size and priority runs in.
pub fn route(cfg: &CollabConfig, size: f64, priority: Priority, independent: bool) -> TaskKind {
    let complexity = size * if priority >= Priority::High { 1.5 } else { 1.0 };
    if priority == Priority::Critical || complexity >= cfg.competitive_above {
        TaskKind::Judge
    } else if independent && complexity <= cfg.division_below {
        TaskKind::Batch
    } else {
        TaskKind::Single
    }
}
