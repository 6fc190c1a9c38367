//! Fault application: scripted faults, their undos, target resolution, and
//! the wait for a settled cluster that `stable` faults ask for. The random
//! generator that draws faults is in [`super::nemesis`].

use super::clock::draw_rate;
use super::world::{Event, NodeStatus, World};
use crate::fault::{AgentPlacement, AppliedFault, FaultAction, FaultSkip, Target};
use crate::ids::NodeId;
use crate::net::LinkFault;
use crate::process::{Process, Role};
use crate::time::{SimDuration, SimTime};

#[derive(Debug)]
pub(super) enum Undo {
    Restart(NodeId),
    Resume(NodeId),
    ClockReset(NodeId),
    EndPartition(u64),
    Unisolate(NodeId, u64),
    Unlink {
        from: NodeId,
        to: NodeId,
        both_ways: bool,
        gen: u64,
    },
    /// The end of a `crash_at` or `message` rule's window.
    Disarm(u64),
}

/// A `stable` fault waiting to fire: since when the cluster has been
/// settled (None: not settled now), and a generation that invalidates the
/// `Settled` event queued for an earlier settled stretch.
#[derive(Clone, Copy, Debug)]
pub(super) struct Settling {
    pub(super) fault: usize,
    pub(super) since: Option<SimTime>,
    pub(super) gen: u64,
}

impl<P: Process> World<P> {
    /// Is the cluster settled: every up server follows one up leader (the
    /// leader itself included) with equal commit indexes, and no server is
    /// paused? Crashed servers are left out.
    pub(super) fn settled(&self) -> bool {
        let mut common: Option<(NodeId, u64)> = None;
        for slot in &self.slots[..self.cfg.cluster as usize] {
            match slot.status {
                NodeStatus::Crashed => continue,
                NodeStatus::Paused => return false,
                NodeStatus::Up => {}
            }
            let Some(s) = slot.process.as_ref().and_then(|p| p.stability()) else {
                return false;
            };
            match common {
                None => common = Some(s),
                Some(c) if c != s => return false,
                Some(_) => {}
            }
        }
        common.is_some_and(|(leader, _)| {
            let slot = &self.slots[leader.index()];
            slot.status == NodeStatus::Up
                && slot
                    .process
                    .as_ref()
                    .is_some_and(|p| p.role() == Role::Leader)
        })
    }

    /// Track settled stretches for waiting `stable` faults: a stretch
    /// that begins queues a `Settled` check at its would-be end; one that
    /// breaks bumps the generation so that check is void.
    pub(super) fn check_settled(&mut self) {
        let settled = self.settled();
        for k in 0..self.settling.len() {
            let w = self.settling[k];
            match (settled, w.since) {
                (true, None) => {
                    let stable = self.cfg.faults[w.fault].stable.expect("stable fault");
                    self.settling[k].since = Some(self.now);
                    self.queue
                        .push(self.now + stable, Event::Settled(w.fault, w.gen));
                }
                (false, Some(_)) => {
                    self.settling[k].since = None;
                    self.settling[k].gen += 1;
                }
                _ => {}
            }
        }
    }

    pub(super) fn log(&mut self, f: AppliedFault) {
        self.applied.push(f);
    }

    pub(super) fn live(&self, id: NodeId) -> bool {
        self.slots[id.index()].status != NodeStatus::Crashed
    }

    pub(super) fn leader(&self) -> Option<NodeId> {
        (0..self.cfg.cluster)
            .map(NodeId)
            .filter(|&n| self.slots[n.index()].status == NodeStatus::Up)
            .filter_map(|n| self.node(n).map(|p| (n, p)))
            .filter(|(_, p)| p.role() == Role::Leader)
            .max_by_key(|(n, p)| (p.term(), std::cmp::Reverse(*n)))
            .map(|(n, _)| n)
    }

    pub(super) fn pick(&mut self, candidates: Vec<NodeId>) -> Option<NodeId> {
        if candidates.is_empty() {
            None
        } else {
            let i = self.fault_rng.index(candidates.len());
            Some(candidates[i])
        }
    }

    pub(super) fn nodes_with(&self, status: NodeStatus) -> Vec<NodeId> {
        (0..self.cfg.cluster)
            .map(NodeId)
            .filter(|n| self.slots[n.index()].status == status)
            .collect()
    }

    /// Agents whose status is `status` (every agent if None).
    pub(super) fn agents_with(&self, status: Option<NodeStatus>) -> Vec<NodeId> {
        (self.cfg.cluster..self.cfg.cluster + self.agents)
            .map(NodeId)
            .filter(|n| status.is_none_or(|s| self.slots[n.index()].status == s))
            .collect()
    }

    /// The groups of a partition with every agent they do not name placed
    /// by `placement` (see [`AgentPlacement`]). Draws nothing, so a
    /// placement never shifts the fault stream.
    pub(super) fn place_agents(
        &self,
        groups: &[Vec<NodeId>],
        placement: AgentPlacement,
    ) -> Vec<Vec<NodeId>> {
        let mut out = groups.to_vec();
        let named: Vec<NodeId> = groups.iter().flatten().copied().collect();
        let free: Vec<NodeId> = self
            .agents_with(None)
            .into_iter()
            .filter(|a| !named.contains(a))
            .collect();
        if out.is_empty() || free.is_empty() {
            return out;
        }
        let cluster = self.cfg.cluster;
        let servers = |g: &Vec<NodeId>| g.iter().filter(|n| n.0 < cluster).count();
        let leader = self.leader();
        let leader_group = leader.and_then(|l| groups.iter().position(|g| g.contains(&l)));
        match placement {
            AgentPlacement::WithLeader | AgentPlacement::WithMinority => {
                let target = if placement == AgentPlacement::WithLeader {
                    leader_group.unwrap_or_else(|| {
                        // No leader: the largest group (the first on a tie).
                        (0..out.len())
                            .max_by_key(|&i| (servers(&out[i]), std::cmp::Reverse(i)))
                            .unwrap_or(0)
                    })
                } else {
                    (0..out.len())
                        .min_by_key(|&i| (servers(&out[i]), Some(i) == leader_group, i))
                        .unwrap_or(0)
                };
                out[target].extend(free);
            }
            AgentPlacement::Proportional => {
                // Each agent goes to the group furthest below its share
                // (servers in it / all servers), so agents of one profile,
                // which have consecutive indexes, spread over the sides.
                let weights: Vec<usize> = out.iter().map(servers).collect();
                let total: usize = weights.iter().sum::<usize>().max(1);
                let mut given = vec![0usize; out.len()];
                for (k, a) in free.into_iter().enumerate() {
                    let placed = k + 1;
                    let g = (0..out.len())
                        .max_by_key(|&i| {
                            // deficit_i = placed * w_i / total - given_i, compared
                            // as integers scaled by `total`.
                            let want = (placed * weights[i]) as i64;
                            let have = (given[i] * total) as i64;
                            (want - have, std::cmp::Reverse(i))
                        })
                        .unwrap_or(0);
                    given[g] += 1;
                    out[g].push(a);
                }
            }
        }
        for g in &mut out {
            g.sort();
        }
        out
    }

    /// Resolve a target to concrete nodes. `pool` is the status a random
    /// pick is drawn from (Up for crash/pause, Crashed for restart).
    pub(super) fn resolve(
        &mut self,
        t: Target,
        pool: Option<NodeStatus>,
    ) -> Result<Vec<NodeId>, FaultSkip> {
        let candidates = |w: &Self| match pool {
            Some(s) => w.nodes_with(s),
            None => (0..w.cfg.cluster).map(NodeId).collect(),
        };
        match t {
            Target::Node(n) => Ok(vec![n]),
            Target::Leader => self.leader().map(|n| vec![n]).ok_or(FaultSkip::NoLeader),
            Target::Follower => {
                let leader = self.leader();
                let c: Vec<NodeId> = self
                    .nodes_with(NodeStatus::Up)
                    .into_iter()
                    .filter(|n| Some(*n) != leader)
                    .collect();
                self.pick(c)
                    .map(|n| vec![n])
                    .ok_or(FaultSkip::NoLiveFollower)
            }
            Target::Random => {
                let c = candidates(self);
                self.pick(c)
                    .map(|n| vec![n])
                    .ok_or(FaultSkip::NoEligibleNode)
            }
            Target::Minority => {
                let mut c = candidates(self);
                let max = ((self.cfg.cluster as usize).saturating_sub(1) / 2).min(c.len());
                if max == 0 {
                    return Err(FaultSkip::NoMinority);
                }
                let k = 1 + self.fault_rng.index(max);
                self.fault_rng.shuffle(&mut c);
                c.truncate(k);
                c.sort();
                Ok(c)
            }
            Target::AnyAgent => {
                let c = self.agents_with(pool);
                self.pick(c)
                    .map(|n| vec![n])
                    .ok_or(FaultSkip::NoEligibleAgent)
            }
            Target::Agents(k) => {
                let mut c = self.agents_with(pool);
                if c.is_empty() || k == 0 {
                    return Err(FaultSkip::NoEligibleAgent);
                }
                self.fault_rng.shuffle(&mut c);
                c.truncate(k as usize);
                c.sort();
                Ok(c)
            }
        }
    }

    pub(super) fn apply_action(&mut self, action: &FaultAction, source: &'static str) {
        let mut rec = AppliedFault::new(self.now, action.kind(), source);
        let res: Result<(), FaultSkip> = (|| {
            match action {
                FaultAction::Crash {
                    node,
                    restart_after,
                } => {
                    let nodes = self.resolve(*node, Some(NodeStatus::Up))?;
                    rec.nodes = nodes.clone();
                    rec.lasts = *restart_after;
                    for n in nodes {
                        self.crash(n);
                        if let Some(d) = restart_after {
                            self.queue
                                .push(self.now + *d, Event::Undo(Undo::Restart(n), "undo"));
                        }
                    }
                }
                FaultAction::Restart { node } => {
                    let nodes = self.resolve(*node, Some(NodeStatus::Crashed))?;
                    rec.nodes = nodes.clone();
                    for n in nodes {
                        self.restart(n)?;
                    }
                }
                FaultAction::Pause { node, duration } => {
                    let nodes = self.resolve(*node, Some(NodeStatus::Up))?;
                    rec.nodes = nodes.clone();
                    rec.lasts = Some(*duration);
                    for n in nodes {
                        self.pause(n, *duration, "undo");
                    }
                }
                FaultAction::Clock {
                    node,
                    rate_ppm,
                    duration,
                } => {
                    let nodes = self.resolve(*node, None)?;
                    rec.nodes = nodes.clone();
                    rec.rate_ppm = Some(*rate_ppm);
                    rec.lasts = *duration;
                    for n in nodes {
                        self.slots[n.index()].clock.set_rate(self.now, *rate_ppm);
                        if let Some(d) = duration {
                            self.queue
                                .push(self.now + *d, Event::Undo(Undo::ClockReset(n), "undo"));
                        }
                    }
                }
                FaultAction::Partition {
                    groups,
                    agents,
                    duration,
                } => {
                    let groups = match agents {
                        Some(p) => self.place_agents(groups, *p),
                        None => groups.clone(),
                    };
                    let gen = self.net.partition(&groups);
                    rec.groups = groups;
                    rec.lasts = *duration;
                    if let Some(d) = duration {
                        self.queue
                            .push(self.now + *d, Event::Undo(Undo::EndPartition(gen), "undo"));
                    }
                }
                FaultAction::Isolate { node, duration } => {
                    let nodes = self.resolve(*node, None)?;
                    rec.nodes = nodes.clone();
                    rec.lasts = *duration;
                    for n in nodes {
                        let gen = self.net.isolate(n, self.cfg.cluster);
                        if let Some(d) = duration {
                            self.queue
                                .push(self.now + *d, Event::Undo(Undo::Unisolate(n, gen), "undo"));
                        }
                    }
                }
                FaultAction::Link {
                    from,
                    to,
                    both_ways,
                    drop,
                    extra_latency,
                    duration,
                } => {
                    let from = self.resolve(*from, None)?[0];
                    let to = self.resolve(*to, None)?[0];
                    if from == to {
                        return Err(FaultSkip::SelfLink { from, to });
                    }
                    rec.nodes = vec![from, to];
                    rec.drop = Some(*drop);
                    rec.extra_latency = Some(*extra_latency);
                    rec.both_ways = *both_ways;
                    rec.lasts = *duration;
                    let gen = self.cut(from, to, *both_ways, *drop, *extra_latency);
                    if let Some(d) = duration {
                        self.queue.push(
                            self.now + *d,
                            Event::Undo(
                                Undo::Unlink {
                                    from,
                                    to,
                                    both_ways: *both_ways,
                                    gen,
                                },
                                "undo",
                            ),
                        );
                    }
                }
                FaultAction::Heal => self.net.heal(),
                FaultAction::CrashAt { rule, duration } => {
                    rec.point = Some(rule.point.name());
                    rec.nodes = rule.node.into_iter().collect();
                    let id = self.arm_crash_rule(rule.clone());
                    if let Some(d) = duration {
                        self.queue
                            .push(self.now + *d, Event::Undo(Undo::Disarm(id), "undo"));
                    }
                }
                FaultAction::Message { rule, duration } => {
                    let id = self.arm_message_rule(rule.clone());
                    if let Some(d) = duration {
                        self.queue
                            .push(self.now + *d, Event::Undo(Undo::Disarm(id), "undo"));
                    }
                }
            }
            Ok(())
        })();
        if let Err(why) = res {
            rec.skipped = Some(why.to_string());
        }
        self.log(rec);
    }

    pub(super) fn cut(
        &mut self,
        from: NodeId,
        to: NodeId,
        both_ways: bool,
        drop: f64,
        extra_latency: SimDuration,
    ) -> u64 {
        let f = LinkFault {
            drop,
            extra_latency,
        };
        let gen = self.net.set_link_fault(from, to, f);
        if both_ways {
            self.net.set_link_fault_in(to, from, f, gen);
        }
        gen
    }

    pub(super) fn crash(&mut self, n: NodeId) {
        let slot = &mut self.slots[n.index()];
        if slot.status == NodeStatus::Crashed {
            return;
        }
        slot.status = NodeStatus::Crashed;
        slot.process = None;
        slot.incarnation += 1;
        slot.timers.clear();
        slot.backlog.clear();
        slot.syncing = false;
        slot.waiting.clear();
        slot.disk.lose_pending();
        slot.crashes += 1;
    }

    pub(super) fn restart(&mut self, n: NodeId) -> Result<(), FaultSkip> {
        if self.live(n) {
            return Err(FaultSkip::NotCrashed(n));
        }
        let records = self.slots[n.index()].disk.durable();
        let p = (self.factory)(n, records)
            .map_err(|reason| FaultSkip::RecoveryFailed { node: n, reason })?;
        let clocks = self.cfg.clocks;
        let now = self.now;
        let slot = &mut self.slots[n.index()];
        if clocks.drifts() {
            // A new life, a new drift (a restart may land on other hardware
            // or a re-disciplined clock); an active clock fault keeps its
            // rate until its undo restores the new base.
            let faulted = slot.clock.rate_ppm != slot.base_rate_ppm;
            slot.base_rate_ppm = draw_rate(&clocks, &mut slot.clock_rng);
            if !faulted {
                slot.clock.set_rate(now, slot.base_rate_ppm);
            }
        }
        slot.process = Some(p);
        slot.status = NodeStatus::Up;
        slot.restarts += 1;
        self.start_node(n);
        Ok(())
    }

    pub(super) fn pause(&mut self, n: NodeId, d: SimDuration, source: &'static str) {
        let slot = &mut self.slots[n.index()];
        if slot.status == NodeStatus::Up {
            slot.status = NodeStatus::Paused;
            self.queue
                .push(self.now + d, Event::Undo(Undo::Resume(n), source));
        }
    }

    pub(super) fn undo(&mut self, u: Undo, source: &'static str) {
        let mut rec;
        match u {
            Undo::Restart(n) => {
                rec = AppliedFault::new(self.now, "restart", source);
                rec.nodes = vec![n];
                if let Err(e) = self.restart(n) {
                    rec.skipped = Some(e.to_string());
                }
            }
            Undo::Resume(n) => {
                rec = AppliedFault::new(self.now, "resume", source);
                rec.nodes = vec![n];
                let slot = &mut self.slots[n.index()];
                if slot.status == NodeStatus::Paused {
                    slot.status = NodeStatus::Up;
                    // Everything that waited runs now, in the order it arrived.
                    for ev in std::mem::take(&mut slot.backlog) {
                        self.queue.push(self.now, ev);
                    }
                } else {
                    rec.skipped = Some(FaultSkip::NotPaused(n).to_string());
                }
            }
            Undo::ClockReset(n) => {
                rec = AppliedFault::new(self.now, "clock", source);
                rec.nodes = vec![n];
                let base = self.slots[n.index()].base_rate_ppm;
                rec.rate_ppm = Some(base);
                self.slots[n.index()].clock.set_rate(self.now, base);
            }
            Undo::EndPartition(gen) => {
                rec = AppliedFault::new(self.now, "heal", source);
                self.net.end_partition(gen);
            }
            Undo::Unisolate(n, gen) => {
                rec = AppliedFault::new(self.now, "heal", source);
                rec.nodes = vec![n];
                self.net.end_isolation(n, self.cfg.cluster, gen);
            }
            Undo::Unlink {
                from,
                to,
                both_ways,
                gen,
            } => {
                rec = AppliedFault::new(self.now, "link_restore", source);
                rec.nodes = vec![from, to];
                rec.both_ways = both_ways;
                self.net.end_link_fault(from, to, gen);
                if both_ways {
                    self.net.end_link_fault(to, from, gen);
                }
            }
            Undo::Disarm(id) => {
                rec = AppliedFault::new(self.now, "disarm", source);
                self.disarm(id);
            }
        }
        rec.undoes = true;
        self.log(rec);
    }

    pub(super) fn down_count(&self) -> u32 {
        (0..self.cfg.cluster)
            .filter(|&i| self.slots[i as usize].status != NodeStatus::Up)
            .count() as u32
    }
}
