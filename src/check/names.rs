//! The names of every check a run records, as enums: one place to see
//! what can be judged, and no string typed twice. `name()` gives the
//! string the report (`checks.ran`, `checks.failures[].check`) and the
//! checkers' violations carry; those strings are a file-format contract
//! (sweeps file failing seeds under them) and never change.

use std::fmt;

/// The Raft safety properties (Raft paper, Figure 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum RaftProperty {
    /// At most one leader per term.
    ElectionSafety,
    /// A leader never overwrites or deletes its log entries.
    LeaderAppendOnly,
    /// Same index and term, same log up to there.
    LogMatching,
    /// A committed entry is in every later leader's log.
    LeaderCompleteness,
    /// No two servers apply different commands at one index.
    StateMachineSafety,
}

impl RaftProperty {
    /// The name in reports.
    pub const fn name(self) -> &'static str {
        match self {
            RaftProperty::ElectionSafety => "election_safety",
            RaftProperty::LeaderAppendOnly => "leader_append_only",
            RaftProperty::LogMatching => "log_matching",
            RaftProperty::LeaderCompleteness => "leader_completeness",
            RaftProperty::StateMachineSafety => "state_machine_safety",
        }
    }
}

/// The workflow checker's properties, and AP convergence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum WorkflowProperty {
    /// Each task's result committed once.
    ExactlyOnce,
    /// A task runs only after its dependencies are done.
    DagOrder,
    /// Task versions only grow.
    Versions,
    /// The arbiter picks by its rule.
    Arbiter,
    /// A committed result is never lost.
    NoLostResults,
    /// Every dead letter is reported.
    DeadLettersReported,
    /// No gated task is assigned before its approval, and no scripted
    /// approval takes effect before its (true) time.
    ApprovalGates,
    /// AP: the copies agree once the run is quiet.
    Converged,
}

impl WorkflowProperty {
    /// The workflow checker's properties, in the order a run records
    /// them (after `workflow.converged`).
    pub const CHECKED: [WorkflowProperty; 7] = [
        WorkflowProperty::ExactlyOnce,
        WorkflowProperty::DagOrder,
        WorkflowProperty::Versions,
        WorkflowProperty::Arbiter,
        WorkflowProperty::NoLostResults,
        WorkflowProperty::DeadLettersReported,
        WorkflowProperty::ApprovalGates,
    ];

    /// The property's own name (the checker's violations carry it).
    pub const fn name(self) -> &'static str {
        match self {
            WorkflowProperty::ExactlyOnce => "exactly_once",
            WorkflowProperty::DagOrder => "dag_order",
            WorkflowProperty::Versions => "versions",
            WorkflowProperty::Arbiter => "arbiter",
            WorkflowProperty::NoLostResults => "no_lost_results",
            WorkflowProperty::DeadLettersReported => "dead_letters_reported",
            WorkflowProperty::ApprovalGates => "approval_gates",
            WorkflowProperty::Converged => "converged",
        }
    }
}

/// Liveness checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LivenessCheck {
    /// The run hit its event cap.
    EventStorm,
    /// A leader known to a majority after the last heal.
    Leader,
    /// Client operations complete after the last heal.
    Progress,
    /// Every workflow completes or is dead-lettered within a window
    /// once the faults end (`check::workflow_liveness`).
    Workflow,
    /// The heartbeat mesh's (never judged: no progress condition).
    Mesh,
}

/// Scenario expectations (`expect.*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Expectation {
    /// `expect.min_availability`.
    MinAvailability,
    /// `expect.max_elections_after_heal`.
    MaxElectionsAfterHeal,
    /// `expect.min_delivery_ratio`.
    MinDeliveryRatio,
    /// `expect.min_completed_fraction` (workflow runs).
    MinCompletedFraction,
    /// `expect.workflow_p99_ms` (workflow runs).
    WorkflowP99,
    /// `expect.max_tokens_spent` (workflow runs).
    MaxTokensSpent,
    /// `expect.max_dead_letters` (workflow runs).
    MaxDeadLetters,
}

/// Any check a run records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum CheckName {
    /// Raft safety (the first violated [`RaftProperty`]).
    Safety,
    /// Linearizability of the client history.
    Linearizability,
    /// A liveness check.
    Liveness(LivenessCheck),
    /// A workflow property.
    Workflow(WorkflowProperty),
    /// A scenario expectation.
    Expect(Expectation),
}

impl CheckName {
    /// The name in reports (`checks.ran`, `checks.failures[].check`).
    pub const fn name(self) -> &'static str {
        use CheckName::*;
        match self {
            Safety => "safety",
            Linearizability => "linearizability",
            Liveness(LivenessCheck::EventStorm) => "liveness.event_storm",
            Liveness(LivenessCheck::Leader) => "liveness.leader",
            Liveness(LivenessCheck::Progress) => "liveness.progress",
            Liveness(LivenessCheck::Workflow) => "liveness.workflows",
            Liveness(LivenessCheck::Mesh) => "liveness",
            Workflow(WorkflowProperty::ExactlyOnce) => "workflow.exactly_once",
            Workflow(WorkflowProperty::DagOrder) => "workflow.dag_order",
            Workflow(WorkflowProperty::Versions) => "workflow.versions",
            Workflow(WorkflowProperty::Arbiter) => "workflow.arbiter",
            Workflow(WorkflowProperty::NoLostResults) => "workflow.no_lost_results",
            Workflow(WorkflowProperty::DeadLettersReported) => "workflow.dead_letters_reported",
            Workflow(WorkflowProperty::ApprovalGates) => "workflow.approval_gates",
            Workflow(WorkflowProperty::Converged) => "workflow.converged",
            Expect(Expectation::MinAvailability) => "expect.min_availability",
            Expect(Expectation::MaxElectionsAfterHeal) => "expect.max_elections_after_heal",
            Expect(Expectation::MinDeliveryRatio) => "expect.min_delivery_ratio",
            Expect(Expectation::MinCompletedFraction) => "expect.min_completed_fraction",
            Expect(Expectation::WorkflowP99) => "expect.workflow_p99_ms",
            Expect(Expectation::MaxTokensSpent) => "expect.max_tokens_spent",
            Expect(Expectation::MaxDeadLetters) => "expect.max_dead_letters",
        }
    }
}

impl fmt::Display for CheckName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A workflow check's name is `workflow.` and the property's own name
    /// (the checker's violations carry the bare one): a mismatch would
    /// make `WorkflowChecker::failure` find nothing and pass the check.
    #[test]
    fn workflow_check_names_extend_the_property_names() {
        let mut all = WorkflowProperty::CHECKED.to_vec();
        all.push(WorkflowProperty::Converged);
        for p in all {
            assert_eq!(
                CheckName::Workflow(p).name(),
                format!("workflow.{}", p.name())
            );
        }
        // And the check catches a mismatch.
        assert_ne!(
            CheckName::Workflow(WorkflowProperty::DagOrder).name(),
            format!("workflow.{}", WorkflowProperty::Versions.name())
        );
    }
}
