//! The heartbeat mesh: kernel exercise and performance baseline.

use super::{delivery_ratio, Byproducts, Finished, RunKind, RunOptions};
use crate::check::names::{CheckName, LivenessCheck};
use crate::heartbeat::HeartbeatNode;
use crate::ids::NodeId;
use crate::metrics::{HeartbeatSection, Report};
use crate::scenario::Scenario;
use crate::sim::World;
use crate::time::SimDuration;

/// A mesh of heartbeat nodes pinging each other; watched by nothing.
pub(super) struct HeartbeatKind {
    nodes: u32,
    interval: SimDuration,
}

impl RunKind for HeartbeatKind {
    type Process = HeartbeatNode;
    type Observer = ();

    fn new(scenario: &Scenario) -> Self {
        let spec = &scenario.spec;
        HeartbeatKind {
            nodes: spec.cluster.nodes,
            interval: SimDuration::from_millis_f64(
                spec.cluster
                    .heartbeat
                    .as_ref()
                    .map_or(50.0, |h| h.interval_ms),
            ),
        }
    }

    fn world(&self, scenario: &Scenario) -> World<HeartbeatNode> {
        let (nodes, interval) = (self.nodes, self.interval);
        World::new(
            scenario.world_config(scenario.spec.seed),
            nodes,
            Box::new(move |_id, records| Ok(HeartbeatNode::recover(nodes, interval, records))),
        )
        .expect("heartbeat nodes always build")
    }

    fn observer(&self, _: &Scenario, _: &RunOptions) {}

    fn finish(self, run: Finished<'_, HeartbeatNode>, (): (), report: &mut Report) -> Byproducts {
        let world = run.world;
        let mut pings = 0;
        let mut acks = 0;
        let mut stale = 0;
        let mut rtt_sum = 0;
        let mut rtt_max = 0;
        let mut epochs = Vec::new();
        for i in 0..self.nodes {
            match world.node(NodeId(i)) {
                Some(n) => {
                    pings += n.pings_sent;
                    acks += n.acks_received;
                    stale += n.stale_acks;
                    rtt_sum += n.rtt_sum_us;
                    rtt_max = rtt_max.max(n.rtt_max_us);
                    epochs.push(n.epoch);
                }
                None => epochs.push(0),
            }
        }
        let counters = &world.network().counters;
        let delivery_ratio = delivery_ratio(counters.delivered, counters.sent);
        // A ping mesh has no leader and no clients: there is no progress
        // condition to hold it to (delivery is `expect.min_delivery_ratio`).
        report.checks.not_judged(
            CheckName::Liveness(LivenessCheck::Mesh),
            "a heartbeat mesh has no leader and no client workload; set expect.min_delivery_ratio to judge delivery".into(),
        );
        report.heartbeat = Some(HeartbeatSection {
            pings_sent: pings,
            acks_received: acks,
            stale_acks: stale,
            rtt_ms_mean: if acks > 0 {
                rtt_sum as f64 / acks as f64 / 1000.0
            } else {
                0.0
            },
            rtt_ms_max: rtt_max as f64 / 1000.0,
            delivery_ratio,
            epochs,
            note: "ping/ack counters are per incarnation: a crash resets them".into(),
        });
        Byproducts::default()
    }
}
