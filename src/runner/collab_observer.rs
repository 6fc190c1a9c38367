//! The observer of a collaboration run: Raft safety and the workflow
//! checker after each server step, coordinator activity, convergence
//! windows after scripted partitions, the counters of every server life,
//! and the stop-when-done rule.

use crate::check::convergence::copies_differ;
use crate::check::liveness::LivenessTracker;
use crate::check::raft_safety::RaftSafety;
use crate::check::workflow::WorkflowChecker;
use crate::collab::agent::AgentStats;
use crate::collab::ap::{ApServer, ApStats};
use crate::collab::coordinator::{Counters, WorkflowState};
use crate::collab::dispatcher::DispatchStats;
use crate::collab::CollabNode;
use crate::ids::NodeId;
use crate::metrics::collab::{server_ref, up_servers, Activity, PartitionWindows, TrueTimes};
use crate::metrics::raft::RaftMetrics;
use crate::sim::{DispatchKind, Dispatched, NodeStatus, Observer, World};
use crate::time::{SimDuration, SimTime};

/// Watches every event: Raft safety and the workflow checker after each
/// server step, coordinator activity (failovers, stalls), convergence after
/// scripted partitions, counters.
pub(super) struct CollabObserver {
    pub(super) safety: RaftSafety,
    pub(super) metrics: RaftMetrics,
    pub(super) checker: WorkflowChecker,
    pub(super) servers: u32,
    pub(super) check: bool,
    pub(super) ap: bool,
    pub(super) activity: Activity,
    pub(super) last_stats: Vec<DispatchStats>,
    /// Restarts seen per server (a restart comes as a fault event).
    pub(super) restarts: Vec<u32>,
    pub(super) retired: DispatchStats,
    pub(super) last_ap: Vec<ApStats>,
    /// AP: each copy's own counters (commands it applied), per life.
    pub(super) last_counters: Vec<Counters>,
    pub(super) retired_counters: Counters,
    /// AP: when a server last applied a command of its own.
    pub(super) last_write_at: SimTime,
    /// When the last fault (or fault undo) happened.
    pub(super) last_fault_at: SimTime,
    pub(super) next_window_check: SimTime,
    pub(super) retired_ap: ApStats,
    pub(super) windows: PartitionWindows,
    pub(super) stop_when_done: bool,
    pub(super) arrivals: usize,
    pub(super) redrives: u32,
    pub(super) next_done_check: SimTime,
    /// No "done" before this time: scripted faults are over by then (see
    /// `scripted_faults_end` in `collab.rs`).
    pub(super) quiet_from: SimTime,
    pub(super) done: bool,
    pub(super) liveness: LivenessTracker,
    /// True simulated times of completions (every reported duration).
    pub(super) times: TrueTimes,
    /// Every agent life's counters (a crash loses the process).
    pub(super) agents: AgentLives,
}

/// Agent counters over every life: an agent keeps nothing across a crash,
/// so the observer copies each agent's counters after its events and
/// retires them when the world restarts it (as it does for servers).
#[derive(Default)]
pub(super) struct AgentLives {
    /// Restarts seen, per agent.
    restarts: Vec<u32>,
    /// The current life's counters as last seen, per agent.
    last: Vec<AgentStats>,
    /// Ended lives, summed.
    retired: AgentStats,
    /// Completed executions of the current life already counted, per agent.
    seen: Vec<usize>,
    /// Executions per task, every life of every agent.
    executions: Vec<u32>,
}

impl AgentLives {
    /// Nothing seen yet, for `agents` agents.
    pub(super) fn new(agents: usize) -> Self {
        AgentLives {
            restarts: vec![0; agents],
            last: vec![AgentStats::default(); agents],
            retired: AgentStats::default(),
            seen: vec![0; agents],
            executions: Vec::new(),
        }
    }

    /// Look at agent `i` (address `servers + i`) after an event.
    fn observe(&mut self, world: &World<CollabNode>, servers: u32, i: usize) {
        let id = NodeId(servers + i as u32);
        let restarts = world.node_counters(id).restarts;
        if restarts != self.restarts[i] {
            self.restarts[i] = restarts;
            let last = std::mem::take(&mut self.last[i]);
            self.retired.add(&last);
            self.seen[i] = 0;
        }
        let Some(a) = world.node(id).and_then(CollabNode::agent) else {
            return;
        };
        self.last[i] = a.stats();
        let done = a.completed_tasks();
        for t in done.get(self.seen[i]..).unwrap_or(&[]) {
            if self.executions.len() <= t.index() {
                self.executions.resize(t.index() + 1, 0);
            }
            self.executions[t.index()] += 1;
        }
        self.seen[i] = done.len();
    }

    /// Counters summed over every agent and life.
    pub(super) fn total(&self) -> AgentStats {
        let mut s = self.retired;
        for l in &self.last {
            s.add(l);
        }
        s
    }

    /// How many times agents executed each of `tasks` tasks (every life).
    pub(super) fn executions(&self, tasks: usize) -> Vec<u32> {
        let mut v = self.executions.clone();
        v.resize(tasks.max(v.len()), 0);
        v.truncate(tasks);
        v
    }
}

impl CollabObserver {
    /// Server `n` is a new process (boot or restart): retire the old
    /// life's counters and reseed the checkers' view of it.
    fn new_life(&mut self, world: &World<CollabNode>, n: usize) {
        let id = NodeId(n as u32);
        self.restarts[n] = world.node_counters(id).restarts;
        let last = std::mem::take(&mut self.last_stats[n]);
        self.retired.add(&last);
        let last = std::mem::take(&mut self.last_ap[n]);
        self.retired_ap.add(&last);
        let last = std::mem::take(&mut self.last_counters[n]);
        self.retired_counters.add(&last);
        let Some(s) = world.node(id).and_then(server_ref) else {
            return;
        };
        if self.check && s.raft.is_some() {
            self.safety.node_restarted(id);
        }
        self.checker.server_started(n, s.sm);
        self.times.reseed(n, s.sm, world.now());
        self.last_stats[n] = s.stats;
    }

    /// Agent `i`'s running job, for the true start and end of every
    /// execution ([`TrueTimes::observe_agent`]): the report's task spans
    /// are in true time, not on the agent's clock.
    fn agent_work(&mut self, world: &World<CollabNode>, i: usize) {
        let id = NodeId(self.servers + i as u32);
        let running = world
            .node(id)
            .and_then(CollabNode::agent)
            .and_then(|a| a.running_job());
        self.times.observe_agent(i, id.0, running, world.now());
    }

    /// AP: every copy must be done (another side may still hold work),
    /// every partition healed and converged, and every copy the same.
    fn all_done(&self, world: &World<CollabNode>) -> bool {
        let mut up = up_servers(world, self.servers).filter_map(CollabNode::ap_server);
        up.all(|s| {
            done(s.state(), self.arrivals, self.redrives)
                && !self.agent_may_return(world, s.state())
        }) && self.windows.all_converged()
            && copies_differ(&ap_copies(world, self.servers)).is_none()
    }

    /// A task dead-lettered for want of a live agent (see
    /// [`WorkflowState::skills_awaiting_agents`]) can still come back: an
    /// agent with its skill is up or paused in the world (the coordinator
    /// declared it lost, but it has not failed for good), so the run is
    /// not done. The world's truth decides when to stop the run, never
    /// what the coordinator does.
    fn agent_may_return(&self, world: &World<CollabNode>, sm: &WorkflowState) -> bool {
        let skills = sm.skills_awaiting_agents(self.redrives);
        if skills.is_empty() {
            return false;
        }
        (self.servers..world.addresses()).any(|a| {
            let id = NodeId(a);
            world.status(id) != NodeStatus::Crashed
                && world
                    .node(id)
                    .and_then(CollabNode::agent)
                    .is_some_and(|ag| {
                        !ag.is_dead() && ag.profile().skills.iter().any(|k| skills.contains(k))
                    })
        })
    }
}

/// AP: (id, server) of every up server.
pub(super) fn ap_copies(world: &World<CollabNode>, servers: u32) -> Vec<(u32, &ApServer)> {
    (0..servers)
        .filter(|&i| world.status(NodeId(i)) == NodeStatus::Up)
        .filter_map(|i| {
            world
                .node(NodeId(i))
                .and_then(CollabNode::ap_server)
                .map(|s| (i, s))
        })
        .collect()
}

/// Every workflow submitted and no task can make progress.
fn done(sm: &WorkflowState, arrivals: usize, redrives: u32) -> bool {
    sm.workflows().len() == arrivals && sm.live_tasks(redrives) == 0
}

impl Observer<CollabNode> for CollabObserver {
    fn after_event(&mut self, world: &World<CollabNode>, ev: &Dispatched) {
        if self.ap {
            let range = match ev.node {
                Some(n) if ev.kind != DispatchKind::Fault => n.0..(n.0 + 1).min(self.servers),
                _ => 0..self.servers,
            };
            for i in range {
                let id = NodeId(i);
                let active = world
                    .node(id)
                    .and_then(CollabNode::ap_server)
                    .is_some_and(ApServer::is_active);
                let status = world.status(id);
                self.metrics
                    .observe_coordinator(i as usize, status, active, world.now());
            }
        } else {
            self.metrics.observe(
                world,
                ev.node,
                ev.kind == DispatchKind::Fault,
                CollabNode::raft,
            );
        }
        if ev.kind == DispatchKind::Fault {
            self.activity.refresh(world);
        }
        if ev.kind == DispatchKind::Fault {
            self.last_fault_at = world.now();
        }
        // Every event (a no-op unless the fault log grew).
        self.liveness.faults(world.fault_log());
        if !self.ap {
            self.liveness
                .leader(world.now(), self.metrics.leader_known());
        }
        // Convergence is looked at on faults and at most every 5 ms
        // otherwise: a scan reads every copy's vectors.
        if !self.windows.is_empty()
            && (ev.kind == DispatchKind::Fault
                || (ev.node.is_some_and(|n| n.0 < self.servers)
                    && world.now() >= self.next_window_check))
        {
            self.next_window_check = world.now() + SimDuration::from_millis(5);
            self.windows.track(world);
        }
        if ev.kind == DispatchKind::Fault {
            // A restart runs inside the fault event that restarts the node
            // (one fault may restart several), not as a `Start`.
            for i in 0..self.servers as usize {
                if world.node_counters(NodeId(i as u32)).restarts != self.restarts[i] {
                    self.new_life(world, i);
                }
            }
            // Agents too (a resume also runs an agent's held events here).
            for i in 0..self.agents.last.len() {
                self.agents.observe(world, self.servers, i);
                self.agent_work(world, i);
            }
        } else if let Some(a) = ev.node.filter(|n| n.0 >= self.servers) {
            let i = (a.0 - self.servers) as usize;
            self.agents.observe(world, self.servers, i);
            self.agent_work(world, i);
        }
        let Some(id) = ev.node.filter(|n| n.0 < self.servers) else {
            return;
        };
        let n = id.index();
        let Some(node) = world.node(id) else {
            return;
        };
        let Some(s) = server_ref(node) else {
            return;
        };
        if ev.kind == DispatchKind::Start {
            self.new_life(world, n);
        }
        self.last_stats[n] = s.stats;
        if let Some(a) = node.ap_server() {
            if a.ap_stats().writes != self.last_ap[n].writes {
                self.last_write_at = world.now();
            }
            self.last_ap[n] = a.ap_stats();
            self.last_counters[n] = a.state().counters();
        }
        self.times.observe(n, s.sm, world.now());
        if self.check {
            if let Some(r) = s.raft {
                self.safety.observe(world.now(), r);
            }
            self.checker.now = world.now();
            self.checker.observe(n, s.sm);
        }
        if s.active != self.activity.is_active(n) {
            self.activity.refresh(world);
        }
        if self.stop_when_done && (self.ap || s.active) && world.now() >= self.next_done_check {
            self.next_done_check = world.now() + SimDuration::from_millis(250);
            self.done = world.now() >= self.quiet_from
                && if self.ap {
                    self.all_done(world)
                } else {
                    done(s.sm, self.arrivals, self.redrives) && !self.agent_may_return(world, s.sm)
                };
        }
    }
    fn stop_requested(&self) -> bool {
        self.done || self.safety.failed()
    }
}
