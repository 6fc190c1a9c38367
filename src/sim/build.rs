//! Building a world: check the configuration, build every node's first
//! process, derive the random streams from the seed and queue the boot,
//! scripted-fault and first nemesis events. Split from `world.rs` (the
//! loop and effect application) so the loop file is one concept.

use super::clock::{draw_rate, Clock};
use super::crash_points::ProtocolFaults;
use super::disk::Disk;
use super::queue::EventQueue;
use super::trace::{KindDigests, TraceHasher};
use super::world::{BuildError, Event, Factory, NodeStatus, Slot, World, WorldConfig};
use crate::fault::FaultLog;
use crate::ids::NodeId;
use crate::net::Network;
use crate::process::Process;
use crate::rng::{SimRng, Stream};
use crate::time::{SimDuration, SimTime};

impl<P: Process> World<P> {
    /// A world with `addresses` processes built by `factory` (addresses
    /// `0..cfg.cluster` are the cluster). Nothing runs until [`World::run`].
    pub fn new(
        cfg: WorldConfig,
        addresses: u32,
        mut factory: Factory<P>,
    ) -> Result<Self, BuildError> {
        assert!(cfg.cluster <= addresses, "cluster larger than the world");
        let [lo, hi] = cfg.clocks.drift_ppm;
        assert!(
            lo <= hi && lo > -1_000_000,
            "clock drift range [{lo}, {hi}] ppm is empty or stops the clock"
        );
        let [jlo, jhi] = cfg.clocks.timer_jitter;
        assert!(jlo <= jhi, "timer jitter range [{jlo}, {jhi}] is empty");
        for f in &cfg.faults {
            f.assert_well_formed(addresses);
        }
        if let Some(n) = &cfg.nemesis {
            n.assert_well_formed();
        }
        let mut slots = Vec::with_capacity(addresses as usize);
        for i in 0..addresses {
            let id = NodeId(i);
            let process =
                factory(id, &[]).map_err(|reason| BuildError::Process { node: id, reason })?;
            slots.push(Slot {
                process: Some(process),
                status: NodeStatus::Up,
                incarnation: 0,
                rng: SimRng::for_node(cfg.seed, i),
                disk: Disk::default(),
                timers: Vec::new(),
                next_gen: 0,
                clock: Clock {
                    rate_ppm: Clock::TRUE_RATE,
                    base_true: SimTime::ZERO,
                    base_local: SimTime::ZERO,
                },
                clock_rng: SimRng::stream(cfg.seed, Stream::Clock(i)),
                base_rate_ppm: Clock::TRUE_RATE,
                backlog: Vec::new(),
                syncing: false,
                waiting: Vec::new(),
                crashes: 0,
                restarts: 0,
                crashing: false,
            });
        }
        if cfg.clocks.drifts() {
            for slot in &mut slots {
                let rate = draw_rate(&cfg.clocks, &mut slot.clock_rng);
                slot.base_rate_ppm = rate;
                slot.clock.set_rate(SimTime::ZERO, rate);
            }
        }
        let mut queue = EventQueue::new();
        let mut boot_rng = SimRng::stream(cfg.seed, Stream::Boot);
        for i in 0..addresses {
            let at = if cfg.start_jitter.0 > 0 && i < cfg.cluster {
                SimTime(boot_rng.range_inclusive(0, cfg.start_jitter.0))
            } else {
                SimTime::ZERO
            };
            queue.push(at, Event::Start(NodeId(i)));
        }
        for (i, f) in cfg.faults.iter().enumerate() {
            queue.push(f.at, Event::Scripted(i));
        }
        let mut fault_rng = SimRng::stream(cfg.seed, Stream::Faults);
        if let Some(n) = &cfg.nemesis {
            let first =
                SimDuration::from_micros(fault_rng.exponential(n.mean_interval.0 as f64) as u64);
            if n.until.is_none_or(|u| SimTime::ZERO + first <= u) {
                queue.push(SimTime::ZERO + first, Event::Nemesis);
            }
        }
        let cfg_seed = cfg.seed;
        Ok(World {
            end: SimTime::ZERO + cfg.duration,
            net: Network::new(cfg.net.clone(), addresses as usize),
            net_rng: SimRng::stream(cfg.seed, Stream::Network),
            fault_rng,
            disk_rng: SimRng::stream(cfg.seed, Stream::Disk),
            cfg,
            now: SimTime::ZERO,
            queue,
            slots,
            factory,
            trace: TraceHasher::new(),
            kind_digests: KindDigests::default(),
            tracer: None,
            effects: Vec::with_capacity(64),
            applied: FaultLog::default(),
            events: 0,
            stopped_early: false,
            settling: Vec::new(),
            max_events: u64::MAX,
            event_cap_hit: false,
            max_pending: u64::MAX,
            pending_cap_hit: false,
            progress: None,
            agents: 0,
            protocol: ProtocolFaults::default(),
            crash_rng: SimRng::stream(cfg_seed, Stream::CrashPoints),
            message_rng: SimRng::stream(cfg_seed, Stream::Messages),
        })
    }
}
