//! Collaboration metrics: coordinator activity (activations, failovers,
//! gaps with no coordinator), convergence windows after scripted
//! partitions (here); true times of task and workflow events (`times`);
//! the assembly of the report's `collab` section (`report`).

use crate::check::names::{CheckName, WorkflowProperty};
use crate::check::workflow::WorkflowChecker;
use crate::collab::agent::AgentStats;
use crate::collab::ap::{self as apmod, ApStats};
use crate::collab::coordinator::{Counters, TaskId, TaskKind, TaskStatus, WorkflowState};
use crate::collab::dispatcher::DispatchStats;
use crate::collab::modes::competitive;
use crate::collab::{ArbiterConfig, AssignAlgo, CollabConfig, CollabNode};
use crate::ids::NodeId;
use crate::metrics::collab_tables::{
    Activation, AgentsTable, ApMetrics, ArbiterTable, CollabTables, Competitor, ConsistencyMetrics,
    CoordinatorTable, DeadLetterRow, DeadLettersTable, DivisionTable, DuplicatesTable, GanttRow,
    ModeTable, PartitionWindow, PendingTask, QualityTable, RaceDecision, RejectedTable,
    RetriesTable, StallTable, TasksTable, TokensTable, WorkflowStall, WorkflowsTable,
};
use crate::metrics::hist::LatencyHist;
use crate::raft::RaftNode;
use crate::scenario;
use crate::sim::{NodeStatus, World};
use crate::time::{SimDuration, SimTime};
use std::collections::BTreeMap;

mod report;
mod times;

pub use report::*;
pub use times::TrueTimes;

/// Rows of the agent Gantt list in the report.
const GANTT_CAP: usize = 500;
/// Rows of other per-item lists in the report.
const LIST_CAP: usize = 50;

/// What the observer reads from a coordinator server, CP or AP.
pub struct ServerRef<'a> {
    /// The server's workflow state (its own copy under AP).
    pub sm: &'a WorkflowState,
    /// Whether it runs a dispatcher now.
    pub active: bool,
    /// Its dispatcher counters (this life).
    pub stats: DispatchStats,
    /// The Raft node (CP only).
    pub raft: Option<&'a RaftNode<WorkflowState>>,
}

/// The coordinator-server view of `n` (`None` for an agent).
pub fn server_ref(n: &CollabNode) -> Option<ServerRef<'_>> {
    match n {
        CollabNode::Server(c) => Some(ServerRef {
            sm: c.raft().state_machine(),
            active: c.is_active(),
            stats: c.stats(),
            raft: Some(c.raft()),
        }),
        CollabNode::ApServer(a) => Some(ServerRef {
            sm: a.state(),
            active: a.is_active(),
            stats: a.stats(),
            raft: None,
        }),
        CollabNode::Agent(_) => None,
    }
}

/// A scripted partition (or isolation, or link cut) and how long after
/// its heal every server reflected every write made before the heal.
#[derive(Clone, Debug)]
pub struct Window {
    /// When the cut began.
    pub start: SimTime,
    /// When it healed (or the run ended).
    pub heal: SimTime,
    /// CP: the highest commit index at the heal. AP: per workflow, the
    /// join of every server's version vector at the heal.
    frontier: Option<Frontier>,
    /// Which servers were up when the frontier was taken.
    up: Vec<bool>,
    /// When every up server had caught up with the frontier.
    pub converged: Option<SimTime>,
}

#[derive(Clone, Debug)]
enum Frontier {
    Cp(u64),
    Ap(Vec<Vec<u64>>),
}

/// Scripted faults that cut links, as `[start, heal)` windows. A cut
/// without `for_ms` lasts until the next `heal` fault or the end of the
/// run; repeating (`every_ms`) faults are left out (their times are
/// jittered).
pub fn partition_windows(spec: &scenario::ScenarioSpec) -> Vec<Window> {
    use scenario::FaultKind;
    let at = |x: f64| SimTime::ZERO + SimDuration::from_millis_f64(x);
    let end = at(spec.duration_ms);
    let heals: Vec<f64> = spec
        .faults
        .iter()
        .filter(|f| f.kind == FaultKind::Heal)
        .map(|f| f.at_ms)
        .collect();
    let mut w: Vec<Window> = spec
        .faults
        .iter()
        .filter(|f| {
            f.every_ms.is_none()
                && match f.kind {
                    FaultKind::Partition | FaultKind::Isolate => true,
                    // Only a cut link (not a lossy or slow one).
                    FaultKind::Link => f.drop.unwrap_or(1.0) >= 1.0 && f.extra_latency_ms.is_none(),
                    _ => false,
                }
        })
        .map(|f| {
            let heal = match f.for_ms {
                Some(d) => at(f.at_ms + d),
                None => heals
                    .iter()
                    .filter(|&&h| h >= f.at_ms)
                    .map(|&h| at(h))
                    .fold(end, SimTime::min),
            };
            Window {
                start: at(f.at_ms),
                heal: heal.min(end),
                frontier: None,
                up: Vec::new(),
                converged: None,
            }
        })
        .collect();
    w.sort_by_key(|w| (w.start, w.heal));
    w
}

/// The up coordinator servers of `world` (the first `servers` nodes).
pub fn up_servers(world: &World<CollabNode>, servers: u32) -> impl Iterator<Item = &CollabNode> {
    (0..servers).filter_map(move |i| {
        let id = NodeId(i);
        (world.status(id) == NodeStatus::Up)
            .then(|| world.node(id))
            .flatten()
    })
}

/// The convergence windows of a run: one per scripted cut, each noting
/// when every up server had caught up with what was written before its heal.
#[derive(Clone, Debug)]
pub struct PartitionWindows {
    /// The windows, by start time.
    pub windows: Vec<Window>,
    servers: u32,
    ap: bool,
}

impl PartitionWindows {
    /// The windows of `spec`'s scripted cuts, for `servers` coordinator
    /// servers (`ap`: AP copies, else Raft).
    pub fn new(spec: &scenario::ScenarioSpec, servers: u32, ap: bool) -> Self {
        PartitionWindows {
            windows: partition_windows(spec),
            servers,
            ap,
        }
    }

    /// True when the run has no scripted cut.
    pub fn is_empty(&self) -> bool {
        self.windows.is_empty()
    }

    /// True when every window has converged.
    pub fn all_converged(&self) -> bool {
        self.windows.iter().all(|w| w.converged.is_some())
    }

    /// At a heal: what every server must reach to count as converged.
    fn frontier(&self, world: &World<CollabNode>) -> Frontier {
        if self.ap {
            let mut f: Vec<Vec<u64>> = Vec::new();
            for s in up_servers(world, self.servers).filter_map(CollabNode::ap_server) {
                for (i, m) in s.meta().iter().enumerate() {
                    if f.len() <= i {
                        f.push(vec![0; m.vv.len()]);
                    }
                    for (a, b) in f[i].iter_mut().zip(&m.vv) {
                        *a = (*a).max(*b);
                    }
                }
            }
            Frontier::Ap(f)
        } else {
            Frontier::Cp(
                up_servers(world, self.servers)
                    .filter_map(CollabNode::raft)
                    .map(|r| r.commit_index().0)
                    .max()
                    .unwrap_or(0),
            )
        }
    }

    fn converged(&self, world: &World<CollabNode>, f: &Frontier) -> bool {
        match f {
            Frontier::Cp(c) => up_servers(world, self.servers)
                .filter_map(CollabNode::raft)
                .all(|r| r.last_applied().0 >= *c),
            Frontier::Ap(f) => up_servers(world, self.servers)
                .filter_map(CollabNode::ap_server)
                .all(|s| {
                    f.iter().enumerate().all(|(i, v)| {
                        s.meta().get(i).is_some_and(|m| {
                            matches!(
                                apmod::compare(&m.vv, v),
                                apmod::Order::Equal | apmod::Order::Dominates
                            )
                        })
                    })
                }),
        }
    }

    /// Look at every healed, not yet converged window.
    pub fn track(&mut self, world: &World<CollabNode>) {
        let now = world.now();
        if self
            .windows
            .iter()
            .all(|w| w.converged.is_some() || now < w.heal)
        {
            return;
        }
        let up: Vec<bool> = (0..self.servers)
            .map(|i| world.status(NodeId(i)) == NodeStatus::Up)
            .collect();
        for k in 0..self.windows.len() {
            let w = &self.windows[k];
            if w.converged.is_some() || now < w.heal {
                continue;
            }
            // A server that went down since the frontier was taken may
            // have taken writes nobody else saw with it (AP state is
            // volatile): measure against what the live servers hold.
            let lost = w.up.iter().zip(&up).any(|(&was, &is)| was && !is);
            if w.frontier.is_none() || lost {
                self.windows[k].frontier = Some(self.frontier(world));
                self.windows[k].up.clone_from(&up);
            }
            let f = self.windows[k].frontier.take().expect("frontier taken");
            if self.converged(world, &f) {
                self.windows[k].converged = Some(now);
            }
            self.windows[k].frontier = Some(f);
        }
    }
}

/// Which coordinator servers run a dispatcher, over the run: activations
/// (a failover is every activation after the first), the most at once, and
/// the intervals with none.
#[derive(Clone, Debug)]
pub struct Activity {
    active: Vec<bool>,
    /// Most servers coordinating at once.
    pub max_active: usize,
    /// (node, term, time) each time a dispatcher was built.
    pub activations: Vec<(u32, u64, SimTime)>,
    /// Intervals with no active coordinator.
    pub gaps: Vec<(SimTime, SimTime)>,
    gap_since: Option<SimTime>,
}

impl Activity {
    /// No server active yet; a gap open since time zero.
    pub fn new(servers: u32) -> Self {
        Activity {
            active: vec![false; servers as usize],
            max_active: 0,
            activations: Vec::new(),
            gaps: Vec::new(),
            gap_since: Some(SimTime::ZERO),
        }
    }

    /// Whether server `n` was active at the last refresh.
    pub fn is_active(&self, n: usize) -> bool {
        self.active[n]
    }

    /// Re-read every server's activity.
    pub fn refresh(&mut self, world: &World<CollabNode>) {
        let now = world.now();
        for i in 0..self.active.len() as u32 {
            let id = NodeId(i);
            let node = world.node(id);
            let a = world.status(id) == NodeStatus::Up
                && node.and_then(server_ref).is_some_and(|s| s.active);
            if a && !self.active[i as usize] {
                let term = node
                    .and_then(CollabNode::raft)
                    .map_or(0, |r| r.current_term().0);
                self.activations.push((i, term, now));
            }
            self.active[i as usize] = a;
        }
        let count = self.active.iter().filter(|&&a| a).count();
        self.max_active = self.max_active.max(count);
        match (count > 0, self.gap_since) {
            (true, Some(since)) => {
                self.gaps.push((since, now));
                self.gap_since = None;
            }
            (false, None) => self.gap_since = Some(now),
            _ => {}
        }
    }

    /// Close a gap still open when the run stopped.
    pub fn finish(&mut self, stop: SimTime) {
        if let Some(since) = self.gap_since.take() {
            self.gaps.push((since, stop));
        }
    }
}
