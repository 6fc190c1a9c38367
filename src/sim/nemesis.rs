//! The nemesis: random faults drawn from the `faults` stream at
//! exponentially distributed intervals, each undone after a drawn duration.
//! The `agent_*` kinds hit agents (addresses declared by
//! `World::set_agents`): crash/restart, pause, clock skew, a cut
//! agent-server link, and a split with every agent on one side.

use super::faults::Undo;
use super::world::{Event, NodeStatus, World};
use crate::fault::{AppliedFault, FaultSkip, NemesisKind};
use crate::ids::NodeId;
use crate::process::Process;
use crate::time::SimDuration;

impl<P: Process> World<P> {
    pub(super) fn nemesis(&mut self) {
        let n = self
            .cfg
            .nemesis
            .clone()
            .expect("nemesis event without config");
        let kind = n.kinds[self.fault_rng.index(n.kinds.len())];
        let span = n.duration_max.0.saturating_sub(n.duration_min.0);
        let dur = SimDuration(n.duration_min.0 + self.fault_rng.range_inclusive(0, span));
        let mut rec = AppliedFault::new(self.now, kind.name(), "nemesis");
        let cluster = self.cfg.cluster;
        match kind {
            NemesisKind::Crash | NemesisKind::Pause => {
                if self.down_count() >= n.max_down {
                    rec.skipped = Some(FaultSkip::MaxDown(n.max_down).to_string());
                } else if let Some(v) = self.pick(self.nodes_with(NodeStatus::Up)) {
                    rec.nodes = vec![v];
                    self.nemesis_down(v, kind == NemesisKind::Crash, dur);
                } else {
                    rec.skipped = Some(FaultSkip::NoLiveNode.to_string());
                }
            }
            NemesisKind::Partition => {
                let mut all: Vec<NodeId> = (0..cluster).map(NodeId).collect();
                self.fault_rng.shuffle(&mut all);
                let k = 1 + self.fault_rng.index((cluster as usize / 2).max(1));
                let mut a = all[..k].to_vec();
                let mut b = all[k..].to_vec();
                a.sort();
                b.sort();
                let groups = vec![a, b];
                let gen = self.net.partition(&groups);
                rec.groups = groups;
                self.queue.push(
                    self.now + dur,
                    Event::Undo(Undo::EndPartition(gen), "nemesis"),
                );
            }
            NemesisKind::Link => {
                if cluster < 2 {
                    rec.skipped = Some(FaultSkip::TooFewNodes.to_string());
                } else {
                    let from = NodeId(self.fault_rng.index(cluster as usize) as u32);
                    let mut to = NodeId(self.fault_rng.index(cluster as usize - 1) as u32);
                    if to >= from {
                        to = NodeId(to.0 + 1);
                    }
                    let both_ways = self.fault_rng.chance(0.5);
                    rec.nodes = vec![from, to];
                    rec.drop = Some(1.0);
                    rec.both_ways = both_ways;
                    self.nemesis_cut(from, to, both_ways, dur);
                }
            }
            NemesisKind::Clock => {
                let v = NodeId(self.fault_rng.index(cluster as usize) as u32);
                // Rates between 0.5x and 2x true time.
                let rate = 500_000 + self.fault_rng.range_inclusive(0, 1_500_000);
                rec.nodes = vec![v];
                rec.rate_ppm = Some(rate);
                self.slots[v.index()].clock.set_rate(self.now, rate);
                self.queue
                    .push(self.now + dur, Event::Undo(Undo::ClockReset(v), "nemesis"));
            }
            NemesisKind::AgentCrash
            | NemesisKind::AgentPause
            | NemesisKind::AgentClock
            | NemesisKind::AgentLink
            | NemesisKind::AgentPartition => self.agent_nemesis(kind, dur, &mut rec),
        }
        // Every fault drawn (not skipped) is undone after `dur`.
        if rec.skipped.is_none() {
            rec.lasts = Some(dur);
        }
        self.log(rec);
        let gap =
            SimDuration::from_micros(self.fault_rng.exponential(n.mean_interval.0 as f64) as u64);
        let next = self.now + gap;
        if next <= self.end && n.until.is_none_or(|u| next <= u) {
            self.queue.push(next, Event::Nemesis);
        }
    }
}

impl<P: Process> World<P> {
    /// Take node or agent `v` down for `dur`: crashed and restarted at
    /// the end, or paused (the server and the agent kinds share this).
    fn nemesis_down(&mut self, v: NodeId, crash: bool, dur: SimDuration) {
        if crash {
            self.crash(v);
            self.queue
                .push(self.now + dur, Event::Undo(Undo::Restart(v), "nemesis"));
        } else {
            self.pause(v, dur, "nemesis");
        }
    }

    /// Cut the link `from → to` (both ways if asked) and queue its
    /// restore after `dur`: the nemesis's link fault, for servers and
    /// agents alike.
    fn nemesis_cut(&mut self, from: NodeId, to: NodeId, both_ways: bool, dur: SimDuration) {
        let gen = self.cut(from, to, both_ways, 1.0, SimDuration::ZERO);
        self.queue.push(
            self.now + dur,
            Event::Undo(
                Undo::Unlink {
                    from,
                    to,
                    both_ways,
                    gen,
                },
                "nemesis",
            ),
        );
    }

    /// Most agents the nemesis keeps crashed or paused at once: half of
    /// them, at least one. Some agent of most skills stays up, so the
    /// workflow can keep moving while the nemesis works.
    fn max_agents_down(&self) -> u32 {
        (self.agents / 2).max(1)
    }

    /// One nemesis fault on the agents (`kind` is an agent kind). With no
    /// agents in the world the draw is skipped (and logged as such).
    fn agent_nemesis(&mut self, kind: NemesisKind, dur: SimDuration, rec: &mut AppliedFault) {
        // Logged under the plain kind (`crash`, `pause`, ...) with agent
        // addresses, so a nemesis run rewrites as scripted faults.
        rec.kind = match kind {
            NemesisKind::AgentCrash => "crash",
            NemesisKind::AgentPause => "pause",
            NemesisKind::AgentClock => "clock",
            NemesisKind::AgentLink => "link",
            _ => "partition",
        };
        if self.agents == 0 {
            rec.skipped = Some(FaultSkip::NoEligibleAgent.to_string());
            return;
        }
        match kind {
            NemesisKind::AgentCrash | NemesisKind::AgentPause => {
                let down = self.agents as usize - self.agents_with(Some(NodeStatus::Up)).len();
                let max = self.max_agents_down();
                if down as u32 >= max {
                    rec.skipped = Some(FaultSkip::MaxAgentsDown(max).to_string());
                } else if let Some(v) = self.pick(self.agents_with(Some(NodeStatus::Up))) {
                    rec.nodes = vec![v];
                    self.nemesis_down(v, kind == NemesisKind::AgentCrash, dur);
                } else {
                    rec.skipped = Some(FaultSkip::NoEligibleAgent.to_string());
                }
            }
            NemesisKind::AgentClock => {
                let first = self.cfg.cluster;
                let v = NodeId(first + self.fault_rng.index(self.agents as usize) as u32);
                let rate = 500_000 + self.fault_rng.range_inclusive(0, 1_500_000);
                rec.nodes = vec![v];
                rec.rate_ppm = Some(rate);
                self.slots[v.index()].clock.set_rate(self.now, rate);
                self.queue
                    .push(self.now + dur, Event::Undo(Undo::ClockReset(v), "nemesis"));
            }
            NemesisKind::AgentLink => {
                let cluster = self.cfg.cluster;
                let agent = NodeId(cluster + self.fault_rng.index(self.agents as usize) as u32);
                let server = NodeId(self.fault_rng.index(cluster as usize) as u32);
                let (from, to) = if self.fault_rng.chance(0.5) {
                    (agent, server)
                } else {
                    (server, agent)
                };
                let both_ways = self.fault_rng.chance(0.5);
                rec.nodes = vec![from, to];
                rec.drop = Some(1.0);
                rec.both_ways = both_ways;
                self.nemesis_cut(from, to, both_ways, dur);
            }
            NemesisKind::AgentPartition => {
                let cluster = self.cfg.cluster;
                let mut all: Vec<NodeId> = (0..cluster).map(NodeId).collect();
                self.fault_rng.shuffle(&mut all);
                let k = 1 + self.fault_rng.index((cluster as usize / 2).max(1));
                let mut groups = vec![all[..k].to_vec(), all[k..].to_vec()];
                if groups[1].is_empty() {
                    // A one-server cluster: the agents still split in two.
                    groups.pop();
                }
                // Each agent on a random side, weighted by the sides'
                // server counts (a real split puts most clients with the
                // bigger side).
                for a in self.agents_with(None) {
                    let side = usize::from(
                        groups.len() > 1 && self.fault_rng.index(cluster as usize) >= k,
                    );
                    groups[side].push(a);
                }
                for g in &mut groups {
                    g.sort();
                }
                let gen = self.net.partition(&groups);
                rec.groups = groups;
                self.queue.push(
                    self.now + dur,
                    Event::Undo(Undo::EndPartition(gen), "nemesis"),
                );
            }
            _ => unreachable!("agent_nemesis called with {kind:?}"),
        }
    }
}
