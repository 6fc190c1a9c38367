//! The heartbeat mesh: kernel exercise and performance baseline.

use super::{base_report, install_tracer, RunOptions, RunOutput};
use crate::heartbeat::HeartbeatNode;
use crate::ids::NodeId;
use crate::metrics::Checks;
use crate::scenario::Scenario;
use crate::sim::World;
use crate::time::SimDuration;
use serde_json::json;

pub(super) fn run(scenario: &Scenario, opts: &RunOptions) -> RunOutput {
    let spec = &scenario.spec;
    let nodes = spec.cluster.nodes;
    let interval = SimDuration::from_millis_f64(
        spec.cluster
            .heartbeat
            .as_ref()
            .map_or(50.0, |h| h.interval_ms),
    );
    let cfg = scenario.world_config(spec.seed);
    let mut world = World::new(
        cfg,
        nodes,
        Box::new(move |_id, records| Ok(HeartbeatNode::recover(nodes, interval, records))),
    )
    .expect("heartbeat nodes always build");
    if let Some(sink) = &opts.trace {
        install_tracer(&mut world, sink.clone());
    }
    world.run(&mut ());

    let mut pings = 0;
    let mut acks = 0;
    let mut stale = 0;
    let mut rtt_sum = 0;
    let mut rtt_max = 0;
    let mut epochs = Vec::new();
    for i in 0..nodes {
        let id = NodeId(i);
        match world.node(id) {
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
    let delivery_ratio = if counters.sent == 0 {
        1.0
    } else {
        counters.delivered as f64 / counters.sent as f64
    };
    let mut checks = Checks {
        ok: true,
        ..Default::default()
    };
    if let Some(min) = spec.expect.as_ref().and_then(|e| e.min_delivery_ratio) {
        let failure = (delivery_ratio < min).then(|| {
            format!(
                "delivered {} of {} messages ({:.4}), expected at least {min}",
                counters.delivered, counters.sent, delivery_ratio
            )
        });
        checks.record("expect.min_delivery_ratio", failure);
    }
    let mut report = base_report(scenario, &world, checks);
    report.extra.insert(
        "heartbeat".into(),
        json!({
            "pings_sent": pings,
            "acks_received": acks,
            "stale_acks": stale,
            "rtt_ms_mean": if acks > 0 { rtt_sum as f64 / acks as f64 / 1000.0 } else { 0.0 },
            "rtt_ms_max": rtt_max as f64 / 1000.0,
            "delivery_ratio": delivery_ratio,
            "epochs": epochs,
            "note": "ping/ack counters are per incarnation: a crash resets them",
        }),
    );
    RunOutput {
        report,
        history: None,
        latency: None,
    }
}
