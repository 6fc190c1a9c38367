//! Transcript tests of the state machine: commands in, state and
//! journal out.

use super::*;
use crate::collab::config::Priority;
use crate::ids::NodeId;
use crate::time::SimTime;

fn spec(deps: Vec<u32>) -> TaskSpec {
    TaskSpec {
        stage: 0,
        skill: 0,
        priority: Priority::Normal,
        kind: TaskKind::Single,
        size_milli: 1000,
        max_attempts: 2,
        gated: false,
        deps: deps.into_iter().map(TaskId).collect(),
        judge: None,
        branch: None,
    }
}

fn outcome(agent: u32, q: f64) -> Outcome {
    Outcome {
        agent: NodeId(agent),
        started_at: SimTime(5),
        duration_us: 100,
        tokens: 1000,
        correct: true,
        relevance: q,
        innovation: q,
        feasibility: q,
    }
}

fn submit(s: &mut WorkflowState, tasks: Vec<TaskSpec>) {
    let workflow = WorkflowId(s.workflows().len() as u32);
    let out = s.apply(&CollabCommand::Submit {
        workflow,
        arrived_at: SimTime(0),
        at: SimTime(1),
        tasks,
    });
    assert_eq!(out, CollabOutput::Applied);
}

fn assign(s: &mut WorkflowState, task: u32, agent: u32) -> CollabOutput {
    let task = TaskId(task);
    let version = s.task(task).unwrap().version;
    s.apply(&CollabCommand::Assign {
        task,
        version,
        agent: NodeId(agent),
        at: SimTime(2),
    })
}

fn result(s: &mut WorkflowState, task: u32, version: u64, agent: u32) -> CollabOutput {
    let task = TaskId(task);
    let attempt = s.task(task).unwrap().attempts;
    s.apply(&CollabCommand::Result {
        task,
        version,
        attempt,
        outcome: outcome(agent, 0.8),
        at: SimTime(3),
    })
}

/// A reader following a server's journal notices when the state is
/// replaced by a snapshot from further ahead, whatever its cursor was
/// (a follower that had applied nothing since its restart included),
/// and keeps reading a state that only grew.
#[test]
fn journal_readers_notice_a_snapshot_install() {
    let mut ahead = WorkflowState::default();
    submit(&mut ahead, vec![spec(vec![]), spec(vec![0])]);
    assign(&mut ahead, 0, 10);
    let fresh = WorkflowState::default();
    let mut behind = WorkflowState::default();
    submit(&mut behind, vec![spec(vec![]), spec(vec![0])]);
    for replaced in [&fresh, &behind] {
        let mut installed = WorkflowState::restore(&ahead.snapshot()).expect("restore");
        assert_eq!(installed, ahead);
        replaced.hand_over(&mut installed);
        let cursor = replaced.journal_seq();
        assert!(installed.changes_since(cursor).is_none(), "cursor {cursor}");
    }
    // Growing normally keeps the cursor valid and returns exactly the
    // new changes.
    let cursor = behind.journal_seq();
    assign(&mut behind, 0, 10);
    let new: Vec<&Change> = behind
        .changes_since(cursor)
        .expect("valid")
        .map(|c| &c.1)
        .collect();
    assert!(
        matches!(
            new[..],
            [Change::Assigned {
                task: TaskId(0),
                ..
            }]
        ),
        "{new:?}"
    );
}

/// A result is committed once: a second one for the same task is
/// rejected as a duplicate, and a result from a superseded attempt (old
/// version, late agent) is rejected as stale, both counted.
#[test]
fn results_commit_exactly_once_and_stale_versions_are_rejected() {
    let mut s = WorkflowState::default();
    submit(&mut s, vec![spec(vec![]), spec(vec![0])]);
    assert_eq!(
        assign(&mut s, 1, 10),
        CollabOutput::Rejected(RejectReason::Invalid)
    );
    assert_eq!(assign(&mut s, 0, 10), CollabOutput::Applied);
    let v1 = s.task(TaskId(0)).unwrap().version;
    // The attempt fails (timeout): the task goes back to pending.
    s.apply(&CollabCommand::Fail {
        task: TaskId(0),
        version: v1,
        reason: FailReason::Timeout,
        at: SimTime(4),
    });
    assert_eq!(assign(&mut s, 0, 11), CollabOutput::Applied);
    let v2 = s.task(TaskId(0)).unwrap().version;
    // The first agent's late result names the old version: stale.
    let late = s.apply(&CollabCommand::Result {
        task: TaskId(0),
        version: v1,
        attempt: 1,
        outcome: outcome(10, 0.9),
        at: SimTime(5),
    });
    assert_eq!(late, CollabOutput::Rejected(RejectReason::Stale));
    assert_eq!(result(&mut s, 0, v2, 11), CollabOutput::Applied);
    assert_eq!(
        result(&mut s, 0, v2, 11),
        CollabOutput::Rejected(RejectReason::Duplicate)
    );
    assert_eq!(s.task(TaskId(0)).unwrap().result.unwrap().agent, NodeId(11));
    assert_eq!(s.counters().stale_rejected, 1);
    assert_eq!(s.counters().duplicate_rejected, 1);
    // The dependent became ready only now.
    assert!(s.task(TaskId(1)).unwrap().is_ready());
}

/// After `max_attempts` failures a task is dead-lettered (listed, with
/// its reason), its dependents wait, and a re-drive makes it ready.
#[test]
fn dead_letter_and_redrive() {
    let mut s = WorkflowState::default();
    submit(&mut s, vec![spec(vec![]), spec(vec![0])]);
    for agent in [10, 11] {
        assign(&mut s, 0, agent);
        let version = s.task(TaskId(0)).unwrap().version;
        s.apply(&CollabCommand::Fail {
            task: TaskId(0),
            version,
            reason: FailReason::Transient,
            at: SimTime(4),
        });
    }
    assert_eq!(s.task(TaskId(0)).unwrap().status, TaskStatus::DeadLetter);
    assert_eq!(s.dead_letters().len(), 1);
    assert!(
        s.pending_reason(TaskId(1)).contains("dead-lettered"),
        "{}",
        s.pending_reason(TaskId(1))
    );
    assert_eq!(s.live_tasks(0), 0);
    assert_eq!(s.live_tasks(1), 2, "re-drivable: both can still finish");
    let version = s.task(TaskId(0)).unwrap().version;
    s.apply(&CollabCommand::Redrive {
        task: TaskId(0),
        version,
        at: SimTime(6),
    });
    assert!(s.task(TaskId(0)).unwrap().is_ready());
}

/// A conditional edge takes one route: the other is skipped, and a join
/// below both still runs (one of its inputs is done).
#[test]
fn branch_skips_the_route_not_taken() {
    let mut s = WorkflowState::default();
    let mut head = spec(vec![]);
    head.branch = Some((500, TaskId(1), TaskId(2)));
    submit(
        &mut s,
        vec![head, spec(vec![0]), spec(vec![0]), spec(vec![1, 2])],
    );
    assign(&mut s, 0, 10);
    let v = s.task(TaskId(0)).unwrap().version;
    result(&mut s, 0, v, 10); // quality 0.8 ≥ 0.5: take "above" (1)
    assert_eq!(s.task(TaskId(2)).unwrap().status, TaskStatus::Skipped);
    assert!(s.task(TaskId(1)).unwrap().is_ready());
    assign(&mut s, 1, 10);
    let v = s.task(TaskId(1)).unwrap().version;
    result(&mut s, 1, v, 10);
    assert!(s.task(TaskId(3)).unwrap().is_ready());
}

/// Snapshot and restore give an equal state, derived lists included.
#[test]
fn snapshot_roundtrip() {
    let mut s = WorkflowState::default();
    let mut judge = spec(vec![]);
    judge.kind = TaskKind::Judge;
    let mut e = spec(vec![]);
    e.kind = TaskKind::Entry;
    e.judge = Some(TaskId(0));
    e.gated = true;
    submit(&mut s, vec![judge, e.clone(), e, spec(vec![0])]);
    s.apply(&CollabCommand::Approve {
        task: TaskId(1),
        at: SimTime(3),
    });
    assign(&mut s, 1, 12);
    let bytes = s.snapshot();
    let r = WorkflowState::restore(&bytes).unwrap();
    assert_eq!(r, s);
    assert_eq!(
        r.task(TaskId(0)).unwrap().entries,
        vec![TaskId(1), TaskId(2)]
    );
    assert_eq!(r.task(TaskId(0)).unwrap().dependents, vec![TaskId(3)]);
    assert!(WorkflowState::restore(&bytes[..bytes.len() - 1]).is_err());
}

/// An arbitration that did not see every done competitor is stale; one
/// that did commits the winner's result as the race's and cancels the
/// competitor still running.
#[test]
fn arbitration_must_see_every_done_entry() {
    let mut s = WorkflowState::default();
    let mut judge = spec(vec![]);
    judge.kind = TaskKind::Judge;
    let mut e = spec(vec![]);
    e.kind = TaskKind::Entry;
    e.judge = Some(TaskId(0));
    submit(&mut s, vec![judge, e.clone(), e.clone(), e]);
    for (t, a) in [(1, 10), (2, 11), (3, 12)] {
        assign(&mut s, t, a);
    }
    let v = s.task(TaskId(1)).unwrap().version;
    result(&mut s, 1, v, 10);
    let v = s.task(TaskId(2)).unwrap().version;
    result(&mut s, 2, v, 11);
    let jv = s.task(TaskId(0)).unwrap().version;
    let stale = s.apply(&CollabCommand::Arbitrate {
        judge: TaskId(0),
        version: jv,
        winner: TaskId(1),
        considered: vec![TaskId(1)],
        at: SimTime(9),
    });
    assert_eq!(stale, CollabOutput::Rejected(RejectReason::Stale));
    let ok = s.apply(&CollabCommand::Arbitrate {
        judge: TaskId(0),
        version: jv,
        winner: TaskId(2),
        considered: vec![TaskId(1), TaskId(2)],
        at: SimTime(9),
    });
    assert_eq!(ok, CollabOutput::Applied);
    assert_eq!(s.task(TaskId(0)).unwrap().result.unwrap().agent, NodeId(11));
    assert_eq!(s.task(TaskId(3)).unwrap().status, TaskStatus::Cancelled);
    assert_eq!(s.open_tasks(), 0);
    assert!(s.workflows()[0].done_at.is_some());
}

/// The state machine's own invariants, on hand-made broken transitions:
/// each is reported as itself, and the planted bug meant to break one
/// (so the workflow checker can catch it from outside) silences only that
/// one.
#[test]
fn invariants_name_each_broken_transition() {
    use super::invariants::{check, Before, Broken};
    let mut s = WorkflowState::default();
    submit(&mut s, vec![spec(vec![])]);
    assert_eq!(assign(&mut s, 0, 10), CollabOutput::Applied);
    let v = s.task(TaskId(0)).unwrap().version;
    assert_eq!(result(&mut s, 0, v, 10), CollabOutput::Applied);
    let done = s.task(TaskId(0)).unwrap().clone();
    let was_done = Before::of(&done);
    assert_eq!(check(was_done, &done, false, None), Ok(()));

    let mut older = done.clone();
    older.version -= 1;
    assert_eq!(
        check(was_done, &older, false, None),
        Err(Broken::VersionWentBack)
    );
    assert_eq!(
        check(was_done, &older, false, Some(CoordBug::AcceptStale)),
        Ok(())
    );

    let mut reassigned = done.clone();
    reassigned.version += 1;
    reassigned.status = TaskStatus::Assigned;
    assert_eq!(
        check(was_done, &reassigned, false, None),
        Err(Broken::FinalChanged)
    );
    let mut second = done.clone();
    second.version += 1;
    second.result = Some(outcome(11, 0.3));
    assert_eq!(
        check(was_done, &second, false, None),
        Err(Broken::FinalChanged)
    );
    assert_eq!(
        check(was_done, &second, false, Some(CoordBug::DoubleResult)),
        Ok(())
    );

    let mut pending = done.clone();
    pending.status = TaskStatus::Pending;
    pending.result = None;
    let was_pending = Before::of(&pending);
    let mut no_agent = pending.clone();
    no_agent.version += 1;
    no_agent.status = TaskStatus::Assigned;
    no_agent.agent = None;
    assert_eq!(
        check(was_pending, &no_agent, false, None),
        Err(Broken::AssignedWithoutAgent)
    );
    let mut empty = pending.clone();
    empty.version += 1;
    empty.status = TaskStatus::Done;
    assert_eq!(
        check(was_pending, &empty, false, None),
        Err(Broken::DoneWithoutResult)
    );
    assert_eq!(
        check(
            was_pending,
            &empty,
            false,
            Some(CoordBug::SnapshotDropsResults)
        ),
        Ok(())
    );
    let mut bumped = pending.clone();
    bumped.version += 1;
    assert_eq!(
        check(was_pending, &bumped, true, None),
        Err(Broken::RejectedButChanged)
    );
}

/// The assertion is live in `apply`: a state corrupted behind the state
/// machine's back (a done task without its result) stops the run at the
/// next command about that task, even a rejected one.
#[test]
#[should_panic(expected = "coordinator invariant DoneWithoutResult broken by `approve` on task 0")]
fn apply_asserts_invariants_on_a_corrupted_state() {
    let mut s = WorkflowState::default();
    submit(&mut s, vec![spec(vec![])]);
    s.tasks[0].status = TaskStatus::Done;
    s.apply(&CollabCommand::Approve {
        task: TaskId(0),
        at: SimTime(9),
    });
}

/// A normal life (assign, fail, re-assign, stale result, result, a second
/// result) keeps every invariant: `apply` checks them after each command.
#[test]
fn a_correct_life_keeps_the_invariants() {
    let mut s = WorkflowState::default();
    submit(&mut s, vec![spec(vec![]), spec(vec![0])]);
    assert_eq!(assign(&mut s, 0, 10), CollabOutput::Applied);
    let v = s.task(TaskId(0)).unwrap().version;
    assert_eq!(result(&mut s, 0, v, 10), CollabOutput::Applied);
    assert_eq!(
        result(&mut s, 0, v + 1, 10),
        CollabOutput::Rejected(RejectReason::Duplicate)
    );
    assert_eq!(
        assign(&mut s, 0, 11),
        CollabOutput::Rejected(RejectReason::Invalid)
    );
}
