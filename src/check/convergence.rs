//! AP convergence: eventual consistency judged two ways. Every partition
//! that healed long enough before the end converged (each copy caught up
//! with every write made before the heal), and once the run is quiescent
//! (no write and no fault for a margin, every pair of up servers
//! connected) every up copy holds the same workflows. A run cut off
//! mid-work or right after a heal is not judged.

use crate::collab::ap::ApServer;
use crate::collab::coordinator::WorkflowState;
use crate::time::{SimDuration, SimTime};

/// How long after a heal, or after the last write or fault, gossip is
/// given to bring every copy to the same state: twenty gossip rounds,
/// at least 2 s.
pub fn margin(gossip: SimDuration) -> SimDuration {
    SimDuration::from_micros(20 * gossip.as_micros()).max(SimDuration::from_millis(2000))
}

/// What the convergence verdict reads from a finished AP run.
pub struct EndOfRun {
    /// When the run stopped.
    pub stop: SimTime,
    /// See [`margin`].
    pub margin: SimDuration,
    /// (heal, converged) of each scripted partition window.
    pub windows: Vec<(SimTime, bool)>,
    /// The later of the last write any server made and the last fault.
    pub quiet_since: SimTime,
    /// Every pair of up servers could reach each other at the end.
    pub connected: bool,
}

/// The `workflow.converged` failure, if any: a window that healed a
/// margin before the end and never converged, else (when quiescent) the
/// first difference `differ` finds between the up copies.
pub fn verdict(end: &EndOfRun, differ: impl FnOnce() -> Option<String>) -> Option<String> {
    let ms = |t: SimTime| t.as_millis_f64();
    let stuck = end
        .windows
        .iter()
        .find(|&&(heal, converged)| !converged && heal + end.margin <= end.stop)
        .map(|&(heal, _)| {
            format!(
                "the partition healed at {} ms, and {} ms later the copies still had not caught up with each other",
                ms(heal),
                ms(end.stop) - ms(heal)
            )
        });
    if stuck.is_some() {
        return stuck;
    }
    let quiescent = end.connected && end.quiet_since + end.margin <= end.stop;
    quiescent.then(differ).flatten().map(|d| {
        format!(
            "{} ms without writes or faults, all servers connected, yet the copies differ: {d}",
            ms(end.stop) - ms(end.quiet_since)
        )
    })
}

/// AP: the first difference between two up servers' copies, in words.
/// `copies` are (server id, server), one per up server.
pub fn copies_differ(copies: &[(u32, &ApServer)]) -> Option<String> {
    let (a, pa) = *copies.first()?;
    let sa = pa.state();
    for &(b, pb) in &copies[1..] {
        let sb = pb.state();
        if sa.workflows().len() != sb.workflows().len() {
            return Some(format!(
                "server {a} holds {} workflows, server {b} holds {}",
                sa.workflows().len(),
                sb.workflows().len()
            ));
        }
        let task = sa.tasks().iter().zip(sb.tasks()).position(|(x, y)| x != y);
        let wf = match task {
            Some(i) => sa.tasks()[i].workflow.index(),
            None => match sa
                .workflows()
                .iter()
                .zip(sb.workflows())
                .position(|(x, y)| x != y)
            {
                Some(w) => w,
                None => {
                    // Dead letters are kept in merge order: compare sets.
                    let key = |s: &WorkflowState| {
                        let mut v: Vec<(u32, u64, u32)> = s
                            .dead_letters()
                            .iter()
                            .map(|d| (d.task.0, d.at.0, d.attempts))
                            .collect();
                        v.sort_unstable();
                        v
                    };
                    if key(sa) != key(sb) {
                        return Some(format!(
                            "servers {a} and {b} hold different dead-letter queues ({} vs {} entries)",
                            sa.dead_letters().len(),
                            sb.dead_letters().len()
                        ));
                    }
                    continue;
                }
            },
        };
        let meta = |p: &ApServer| {
            p.meta().get(wf).map_or("no metadata".into(), |m| {
                format!("vector {:?}, last write {:?}", m.vv, m.stamp)
            })
        };
        let what = match task {
            Some(i) => {
                let (x, y) = (&sa.tasks()[i], &sb.tasks()[i]);
                format!(
                    "task {i}: {} v{} by {:?} at {} vs {} v{} by {:?} at {}",
                    x.status.name(),
                    x.version,
                    x.result.map(|o| o.agent.0),
                    x.finished_at,
                    y.status.name(),
                    y.version,
                    y.result.map(|o| o.agent.0),
                    y.finished_at
                )
            }
            None => "the workflow record".into(),
        };
        return Some(format!(
            "servers {a} and {b} hold different copies of workflow {wf} ({what}; server {a}: {}; server {b}: {})",
            meta(pa),
            meta(pb)
        ));
    }
    None
}
