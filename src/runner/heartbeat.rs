//! The heartbeat mesh: kernel exercise and performance baseline.

use super::{
    base_report, delivery_expectation, delivery_ratio, event_storm_check, install_event_cap,
    install_tracer, RunOptions, RunOutput,
};
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
    let cap = install_event_cap(&mut world, scenario);
    super::install_progress(&mut world, opts);
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
    let delivery_ratio = delivery_ratio(counters.delivered, counters.sent);
    let mut checks = Checks {
        ok: true,
        ..Default::default()
    };
    event_storm_check(&world, cap, &mut checks);
    // A ping mesh has no leader and no clients: there is no progress
    // condition to hold it to (delivery is `expect.min_delivery_ratio`).
    checks.not_judged(
        "liveness",
        "a heartbeat mesh has no leader and no client workload; set expect.min_delivery_ratio to judge delivery".into(),
    );
    delivery_expectation(scenario, &world, &mut checks);
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
