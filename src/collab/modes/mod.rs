//! The four collaboration modes: how a workflow's stages become tasks
//! ([`expand`]) and the per-mode rules the dispatcher applies. The
//! dispatcher keeps the scheduling (what is ready, who is eligible, what
//! is in flight); every mode-specific decision is a function here.
//!
//! - [`pipeline`]: stages in DAG order (topological order, cycles named)
//!   and the one-agent-per-step choice ([`pipeline::rank`]).
//! - [`competitive`]: k competitors per stage, never two on one agent
//!   ([`competitive::rivals`]), and the arbiter's rule: when to decide a
//!   race and who wins ([`competitive::race_step`], [`competitive::pick`]).
//! - [`division`]: batch assignment by capability: the batch's columns,
//!   its cost matrix, and the solve (Hungarian or greedy).
//! - [`hybrid`]: the task analyzer that routes each task to a mode.

pub mod competitive;
pub mod division;
pub mod hybrid;
pub mod pipeline;

use super::config::{CollabConfig, Mode, Priority};
use super::coordinator::{TaskId, TaskKind, TaskSpec};

/// The tasks of workflow `wf` (local indices), in an order where every
/// task comes after its dependencies.
pub fn expand(cfg: &CollabConfig, wf: usize) -> Vec<TaskSpec> {
    let arrival = &cfg.arrivals[wf];
    let order = pipeline::topological_order(&cfg.stages).expect("validated: no cycle");
    let mut head = vec![TaskId(u32::MAX); cfg.stages.len()];
    let mut out: Vec<TaskSpec> = Vec::new();
    let mut branches = Vec::new();
    for &s in &order {
        let st = &cfg.stages[s];
        let size = st.size * arrival.sizes.get(s).copied().unwrap_or(1.0);
        let priority = if arrival.critical {
            Priority::Critical
        } else {
            st.priority
        };
        let deps: Vec<TaskId> = st.after.iter().map(|&d| head[d]).collect();
        let kind = match cfg.mode {
            Mode::Pipeline => TaskKind::Single,
            Mode::Division => TaskKind::Batch,
            Mode::Competitive => TaskKind::Judge,
            Mode::Hybrid => hybrid::route(cfg, size, priority, st.after.is_empty()),
        };
        let base = TaskSpec {
            stage: s as u16,
            skill: st.skill,
            priority,
            kind,
            size_milli: (size * 1000.0).round().clamp(1.0, u32::MAX as f64) as u32,
            max_attempts: cfg.task_attempts.min(255) as u8,
            gated: st.interrupt_before,
            deps,
            judge: None,
            branch: None,
        };
        let id = TaskId(out.len() as u32);
        head[s] = id;
        if st.branch.is_some() {
            branches.push((s, id));
        }
        if kind == TaskKind::Judge {
            let k = priority.competitors(cfg.arbiter.k);
            out.push(TaskSpec {
                gated: false,
                ..base.clone()
            });
            for _ in 0..k {
                out.push(TaskSpec {
                    kind: TaskKind::Entry,
                    judge: Some(id),
                    ..base.clone()
                });
            }
        } else {
            out.push(base);
        }
    }
    for (s, id) in branches {
        let b = cfg.stages[s].branch.expect("branch");
        let t = (b.threshold * 1000.0).round().clamp(0.0, 1000.0) as u16;
        out[id.index()].branch = Some((t, head[b.above], head[b.below]));
    }
    out
}
