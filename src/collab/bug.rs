//! Deliberately wrong coordinator variants (`"bug": "coord-..."`).
//!
//! Each one is a mistake an implementer of the coordinator could make in
//! the state machine ([`WorkflowState`](super::WorkflowState)) or the
//! dispatcher, and each exists to prove that one workflow check catches it
//! end to end (`scenarios/bugs/coord-*.json`, `tests/bugs_caught.rs`).
//! None is ever on by default; with no bug the code paths are the correct
//! ones, unchanged.
//!
//! The bug reaches the code deterministically: the runner puts it in
//! [`CollabConfig::bug`](super::CollabConfig::bug) (read by the dispatcher)
//! and builds every server's state machine with
//! [`WorkflowState::with_bug`](super::WorkflowState::with_bug); a state
//! restored from a snapshot inherits it from the state it replaces.

use std::fmt;

/// A deliberately wrong coordinator variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CoordBug {
    /// The state machine applies an agent's result to a task in flight
    /// without comparing the version (and attempt) the result names with
    /// the task's, and derives the new version from the result's
    /// (`version + 1`). A late result of a superseded attempt overwrites
    /// the newer attempt and the version goes back (caught by
    /// `workflow.versions`).
    AcceptStale,
    /// The state machine matches a result to its attempt by attempt number
    /// and agent only, without looking at the task's status or version:
    /// a second copy of a committed result (an agent answering a re-sent
    /// assignment after a failover) is applied again (caught by
    /// `workflow.exactly_once`).
    DoubleResult,
    /// The dispatcher's arbiter picks the competitor that finished first
    /// instead of the argmax of its utility rule (caught by
    /// `workflow.arbiter`).
    ArbiterFirst,
    /// A task with several dependencies becomes ready when the first of
    /// them is done, not when all are final (an OR-join where the DAG
    /// says AND; caught by `workflow.dag_order`).
    IgnoreDeps,
    /// A task that runs out of attempts is marked dead-lettered but never
    /// appended to the dead-letter queue, so nobody is told (caught by
    /// `workflow.dead_letters_reported`).
    DropDeadLetter,
    /// Snapshots leave out the results of competitors whose race is
    /// already decided (an over-eager compaction: "the race keeps the
    /// winner's copy"). A server that restores such a snapshot has lost
    /// committed results (caught by `workflow.no_lost_results`).
    SnapshotDropsResults,
    /// AP coordinator only: when two copies of a workflow are concurrent
    /// (both sides wrote during a partition), each server keeps its own
    /// copy and its own version vector ("ours wins") instead of taking the
    /// later writer's and joining the vectors. The sides never agree
    /// (caught by `workflow.converged`).
    ApKeepLocal,
    /// The dispatcher approves a gated stage when its own clock reads the
    /// scripted approval's `at_ms` (the approval is not taken as an event
    /// of the world): a server whose clock runs fast assigns gated tasks
    /// before they are approved (caught by `workflow.approval_gates`).
    ApprovalLocalClock,
    /// The dispatcher forgets a task that went back to pending after a
    /// failed attempt (it never re-queues a retry): the task waits until a
    /// failover rebuilds the queue, and its workflow stalls (caught by
    /// `liveness.workflows`, which names the blocking task).
    ForgetRetry,
}

impl CoordBug {
    /// Every coordinator bug, in a stable order.
    pub const ALL: [CoordBug; 9] = [
        CoordBug::AcceptStale,
        CoordBug::DoubleResult,
        CoordBug::ArbiterFirst,
        CoordBug::IgnoreDeps,
        CoordBug::DropDeadLetter,
        CoordBug::SnapshotDropsResults,
        CoordBug::ApKeepLocal,
        CoordBug::ApprovalLocalClock,
        CoordBug::ForgetRetry,
    ];

    /// The kebab-case name used in scenarios and on the command line
    /// (always starts with `coord-`).
    pub const fn name(self) -> &'static str {
        match self {
            CoordBug::AcceptStale => "coord-accept-stale",
            CoordBug::DoubleResult => "coord-double-result",
            CoordBug::ArbiterFirst => "coord-arbiter-first",
            CoordBug::IgnoreDeps => "coord-ignore-deps",
            CoordBug::DropDeadLetter => "coord-drop-dead-letter",
            CoordBug::SnapshotDropsResults => "coord-snapshot-drops-results",
            CoordBug::ApKeepLocal => "coord-ap-keep-local",
            CoordBug::ApprovalLocalClock => "coord-approval-local-clock",
            CoordBug::ForgetRetry => "coord-forget-retry",
        }
    }

    /// Parse a kebab-case name; `None` if unknown (a Raft bug name is not
    /// a coordinator bug).
    pub fn from_name(name: &str) -> Option<CoordBug> {
        CoordBug::ALL.iter().copied().find(|b| b.name() == name)
    }
}

impl fmt::Display for CoordBug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every name round-trips, carries the common prefix, and Raft bug
    /// names are not coordinator bugs.
    #[test]
    fn coord_bug_names_round_trip_with_prefix() {
        for b in CoordBug::ALL {
            assert_eq!(CoordBug::from_name(b.name()), Some(b));
            assert!(b.name().starts_with("coord-"), "{b}");
        }
        assert_eq!(CoordBug::from_name("double-vote"), None);
        assert_eq!(CoordBug::from_name("coord-"), None);
    }
}
