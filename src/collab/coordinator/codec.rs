//! The snapshot codec: the replicated state in our own little-endian
//! format (`WFS2`: `WFS1` plus the committed stage approvals; Raft checksums the bytes). The volatile journal and
//! the bug setting are not encoded.

use super::task::{
    DeadLetter, FailReason, Outcome, RejectReason, TaskId, TaskKind, TaskSpec, TaskStatus,
    Workflow, WorkflowId,
};
use super::WorkflowState;
use crate::collab::bug::CoordBug;
use crate::collab::config::Priority;
use crate::ids::NodeId;
use crate::raft::{ByteReader, ByteWriter};
use crate::time::SimTime;

impl TaskStatus {
    /// From the encoded byte.
    pub(super) fn from_u8(v: u8) -> Result<Self, String> {
        Ok(match v {
            0 => TaskStatus::Pending,
            1 => TaskStatus::Assigned,
            2 => TaskStatus::Done,
            3 => TaskStatus::DeadLetter,
            4 => TaskStatus::Skipped,
            5 => TaskStatus::Cancelled,
            t => return Err(format!("bad task status {t}")),
        })
    }
}

impl TaskKind {
    /// From the encoded byte.
    pub(super) fn from_u8(v: u8) -> Result<Self, String> {
        Ok(match v {
            0 => TaskKind::Single,
            1 => TaskKind::Batch,
            2 => TaskKind::Entry,
            3 => TaskKind::Judge,
            t => return Err(format!("bad task kind {t}")),
        })
    }
}

impl FailReason {
    /// From the encoded byte.
    pub(super) fn from_u8(v: u8) -> Result<Self, String> {
        Ok(match v {
            0 => FailReason::Timeout,
            1 => FailReason::AgentLost,
            2 => FailReason::Transient,
            3 => FailReason::Unacked,
            4 => FailReason::NoEntries,
            5 => FailReason::Refused,
            6 => FailReason::NoAgent,
            t => return Err(format!("bad fail reason {t}")),
        })
    }
}

impl RejectReason {
    /// From the encoded byte.
    pub(super) fn from_u8(v: u8) -> Result<Self, String> {
        Ok(match v {
            0 => RejectReason::Stale,
            1 => RejectReason::Duplicate,
            2 => RejectReason::Late,
            3 => RejectReason::Invalid,
            t => return Err(format!("bad reject reason {t}")),
        })
    }
}

impl Outcome {
    /// Snapshot encoding.
    pub(super) fn encode(&self, w: &mut ByteWriter) {
        w.u32(self.agent.0);
        w.u64(self.started_at.0);
        w.u64(self.duration_us);
        w.u64(self.tokens);
        w.u8(u8::from(self.correct));
        w.u64(self.relevance.to_bits());
        w.u64(self.innovation.to_bits());
        w.u64(self.feasibility.to_bits());
    }
    /// Inverse of `encode`.
    pub(super) fn decode(r: &mut ByteReader<'_>) -> Result<Self, String> {
        Ok(Outcome {
            agent: NodeId(r.u32()?),
            started_at: SimTime(r.u64()?),
            duration_us: r.u64()?,
            tokens: r.u64()?,
            correct: r.u8()? != 0,
            relevance: f64::from_bits(r.u64()?),
            innovation: f64::from_bits(r.u64()?),
            feasibility: f64::from_bits(r.u64()?),
        })
    }
}

impl TaskSpec {
    /// Snapshot encoding.
    pub(super) fn encode(&self, w: &mut ByteWriter) {
        w.u32(u32::from(self.stage) | u32::from(self.skill) << 16);
        w.u8(self.priority as u8);
        w.u8(self.kind as u8);
        w.u32(self.size_milli);
        w.u8(self.max_attempts);
        w.u8(u8::from(self.gated));
        w.u32(self.deps.len() as u32);
        for &x in &self.deps {
            w.u32(x.0);
        }
        w.u32(self.judge.map_or(u32::MAX, |j| j.0));
        match self.branch {
            None => w.u8(0),
            Some((t, a, b)) => {
                w.u8(1);
                w.u32(u32::from(t));
                w.u32(a.0);
                w.u32(b.0);
            }
        }
    }
    /// Inverse of `encode`.
    pub(super) fn decode(r: &mut ByteReader<'_>) -> Result<Self, String> {
        let ss = r.u32()?;
        let priority = Priority::from_u8(r.u8()?);
        let kind = TaskKind::from_u8(r.u8()?)?;
        let size_milli = r.u32()?;
        let max_attempts = r.u8()?;
        let gated = r.u8()? != 0;
        let n = r.u32()? as usize;
        let mut deps = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            deps.push(TaskId(r.u32()?));
        }
        let judge = match r.u32()? {
            u32::MAX => None,
            j => Some(TaskId(j)),
        };
        let branch = match r.u8()? {
            0 => None,
            _ => Some((r.u32()? as u16, TaskId(r.u32()?), TaskId(r.u32()?))),
        };
        Ok(TaskSpec {
            stage: (ss & 0xffff) as u16,
            skill: (ss >> 16) as u16,
            priority,
            kind,
            size_milli,
            max_attempts,
            gated,
            deps,
            judge,
            branch,
        })
    }
}

/// The snapshot bytes of `s` (format `WFS2`, little-endian; the
/// journal and the bug setting are not included).
pub(super) fn encode(s: &WorkflowState) -> Vec<u8> {
    let mut w = ByteWriter::with_capacity(64 + s.tasks.len() * 96);
    w.bytes(b"WFS2");
    w.u32(s.workflows.len() as u32);
    for wf in &s.workflows {
        w.u64(wf.arrived_at.0);
        w.u64(wf.submitted_at.0);
        w.u32(wf.first_task.0);
        w.u32(wf.tasks);
        w.u32(wf.open);
        w.u64(wf.done_at.map_or(u64::MAX, |t| t.0));
    }
    w.u32(s.tasks.len() as u32);
    for t in &s.tasks {
        w.u32(t.workflow.0);
        t.spec.encode(&mut w);
        w.u8(t.status as u8);
        w.u64(t.version);
        w.u32(t.attempts);
        w.u32(t.agent.map_or(u32::MAX, |a| a.0));
        w.u64(t.assigned_at.0);
        // coord-snapshot-drops-results: a decided race's competitors
        // are compacted away ("the race keeps the winner's copy").
        let compacted = s.bug == Some(CoordBug::SnapshotDropsResults)
            && t.spec.kind == TaskKind::Entry
            && t.spec
                .judge
                .is_some_and(|j| s.tasks[j.index()].status == TaskStatus::Done);
        match &t.result {
            _ if compacted => w.u8(0),
            None => w.u8(0),
            Some(o) => {
                w.u8(1);
                o.encode(&mut w);
            }
        }
        w.u8(u8::from(t.approved));
        w.u64(t.approval_due.map_or(u64::MAX, |d| d.0));
        w.u32(t.unmet);
        w.u32(t.done_deps);
        w.u32(t.redrives);
        w.u64(t.started_at.map_or(u64::MAX, |d| d.0));
        w.u32(t.winner.map_or(u32::MAX, |x| x.0));
        w.u64(t.finished_at.0);
    }
    w.u32(s.dead_letters.len() as u32);
    for d in &s.dead_letters {
        w.u32(d.task.0);
        w.u8(d.reason as u8);
        w.u64(d.at.0);
        w.u32(d.attempts);
    }
    let c = &s.counters;
    for v in [
        c.stale_rejected,
        c.duplicate_rejected,
        c.late_rejected,
        c.invalid_rejected,
        c.requeued,
        c.dead_lettered,
        c.redriven,
        c.arbitrations,
        s.open_tasks,
    ] {
        w.u64(v);
    }
    w.u32(s.approved_stages.len() as u32);
    for &a in &s.approved_stages {
        w.u32(u32::from(a));
    }
    w.into_inner()
}

/// The state encoded in `bytes` (an empty journal, no bug).
pub(super) fn decode(bytes: &[u8]) -> Result<WorkflowState, String> {
    let mut r = ByteReader::new(bytes);
    if r.take(4)? != b"WFS2" {
        return Err("not a workflow state snapshot (bad magic)".into());
    }
    let opt = |v: u64| (v != u64::MAX).then_some(SimTime(v));
    let mut s = WorkflowState::default();
    let n = r.u32()?;
    for _ in 0..n {
        s.workflows.push(Workflow {
            arrived_at: SimTime(r.u64()?),
            submitted_at: SimTime(r.u64()?),
            first_task: TaskId(r.u32()?),
            tasks: r.u32()?,
            open: r.u32()?,
            done_at: opt(r.u64()?),
        });
    }
    let n = r.u32()?;
    for _ in 0..n {
        let workflow = WorkflowId(r.u32()?);
        let spec = TaskSpec::decode(&mut r)?;
        let id = TaskId(s.tasks.len() as u32);
        if spec.deps.iter().any(|&d| d >= id) {
            return Err(format!("task {id} depends on a later task"));
        }
        s.push_task(workflow, spec);
        let t = s.tasks.last_mut().expect("just pushed");
        t.status = TaskStatus::from_u8(r.u8()?)?;
        t.version = r.u64()?;
        t.attempts = r.u32()?;
        t.agent = match r.u32()? {
            u32::MAX => None,
            a => Some(NodeId(a)),
        };
        t.assigned_at = SimTime(r.u64()?);
        t.result = match r.u8()? {
            0 => None,
            _ => Some(Outcome::decode(&mut r)?),
        };
        t.approved = r.u8()? != 0;
        t.approval_due = opt(r.u64()?);
        t.unmet = r.u32()?;
        t.done_deps = r.u32()?;
        t.redrives = r.u32()?;
        t.started_at = opt(r.u64()?);
        t.winner = match r.u32()? {
            u32::MAX => None,
            x => Some(TaskId(x)),
        };
        t.finished_at = SimTime(r.u64()?);
    }
    // Judges precede their entries, so entries lists were rebuilt above
    // only if the judge came first; rebuild them all to be safe.
    for t in &mut s.tasks {
        t.entries.clear();
    }
    for i in 0..s.tasks.len() {
        if let Some(j) = s.tasks[i].spec.judge {
            let j = j.index();
            if j >= s.tasks.len() {
                return Err(format!("task {i} names judge {j} out of range"));
            }
            s.tasks[j].entries.push(TaskId(i as u32));
        }
    }
    let n = r.u32()?;
    for _ in 0..n {
        s.dead_letters.push(DeadLetter {
            task: TaskId(r.u32()?),
            reason: FailReason::from_u8(r.u8()?)?,
            at: SimTime(r.u64()?),
            attempts: r.u32()?,
        });
    }
    let c = &mut s.counters;
    c.stale_rejected = r.u64()?;
    c.duplicate_rejected = r.u64()?;
    c.late_rejected = r.u64()?;
    c.invalid_rejected = r.u64()?;
    c.requeued = r.u64()?;
    c.dead_lettered = r.u64()?;
    c.redriven = r.u64()?;
    c.arbitrations = r.u64()?;
    s.open_tasks = r.u64()?;
    let n = r.u32()?;
    for _ in 0..n {
        let stage = u16::try_from(r.u32()?).map_err(|_| "approved stage out of range")?;
        if s.approved_stages.last().is_some_and(|&l| l >= stage) {
            return Err("approved stages out of order".into());
        }
        s.approved_stages.push(stage);
    }
    r.finish()?;
    Ok(s)
}
