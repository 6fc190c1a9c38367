//! The nemesis: random faults drawn from the `faults` stream at
//! exponentially distributed intervals, each undone after a drawn duration.

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
                    if kind == NemesisKind::Crash {
                        self.crash(v);
                        self.queue
                            .push(self.now + dur, Event::Undo(Undo::Restart(v), "nemesis"));
                    } else {
                        self.pause(v, dur, "nemesis");
                    }
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
