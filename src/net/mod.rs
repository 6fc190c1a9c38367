//! The simulated network: per-link latency, loss, duplication and ordering,
//! partitions and link faults, and the counters reports show.
//!
//! Decisions are made when a message is sent: a message sent across a cut is
//! dropped; a message already in flight when a partition starts still
//! arrives (like a packet already on the wire). Partitions apply to cluster
//! nodes; clients and agents outside every group reach everyone.

use crate::dist::{Dist, DurationSampler};
use crate::ids::NodeId;
use crate::rng::SimRng;
use crate::time::{SimDuration, SimTime};
use std::collections::BTreeMap;

/// Behaviour of one directed link.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkParams {
    /// One-way delay, in milliseconds.
    pub latency: Dist,
    /// Probability a message is lost.
    pub drop: f64,
    /// Probability a delivered message is delivered twice.
    pub duplicate: f64,
}

impl Default for LinkParams {
    fn default() -> Self {
        LinkParams {
            latency: Dist::Fixed(1.0),
            drop: 0.0,
            duplicate: 0.0,
        }
    }
}

/// Static network configuration (validated scenario values).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct NetConfig {
    /// Parameters of every link without an override.
    pub default: LinkParams,
    /// `false` means FIFO per directed link.
    pub reorder: bool,
    /// Per directed link `(from, to)` overrides.
    pub links: BTreeMap<(u32, u32), LinkParams>,
}

/// A fault on one directed link (`link` fault kind).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinkFault {
    /// Extra loss probability (1.0 cuts the link).
    pub drop: f64,
    /// Extra one-way delay.
    pub extra_latency: SimDuration,
}

/// Why a message was not delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum DropCause {
    /// Sender and receiver are in different partition groups.
    Partition,
    /// A link fault cut or thinned the link.
    LinkFault,
    /// Random loss from the link's `drop` probability.
    Random,
    /// The receiver was crashed when the message arrived.
    NodeDown,
}

impl DropCause {
    /// All causes, in report order.
    pub const ALL: [DropCause; 4] = [
        DropCause::Partition,
        DropCause::LinkFault,
        DropCause::Random,
        DropCause::NodeDown,
    ];

    /// Name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            DropCause::Partition => "partition",
            DropCause::LinkFault => "link_fault",
            DropCause::Random => "random",
            DropCause::NodeDown => "node_down",
        }
    }
}

/// Message counters for the report.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NetCounters {
    /// Messages handed to the network.
    pub sent: u64,
    /// Messages delivered to a live receiver (duplicates included).
    pub delivered: u64,
    /// Messages lost, by cause (indexed like [`DropCause::ALL`]).
    pub dropped: [u64; 4],
    /// Extra copies created by duplication.
    pub duplicated: u64,
    /// Bytes handed to the network.
    pub bytes_sent: u64,
    /// Bytes delivered.
    pub bytes_delivered: u64,
    by_type: Vec<(&'static str, u64)>,
}

impl NetCounters {
    /// Total drops over all causes.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.iter().sum()
    }

    /// Count of messages sent per message type, sorted by type name.
    pub fn by_type(&self) -> Vec<(&'static str, u64)> {
        let mut v = self.by_type.clone();
        v.sort();
        v
    }

    #[inline]
    fn count_type(&mut self, kind: &'static str) {
        // Few distinct kinds: a linear scan with a pointer fast path beats a
        // map, and lookup order never affects output (sorted on read).
        // Pointers first (no string compare on the way to the entry),
        // then names (the same kind at another address).
        for e in self.by_type.iter_mut() {
            if std::ptr::eq(e.0, kind) {
                e.1 += 1;
                return;
            }
        }
        self.count_type_by_name(kind);
    }

    #[cold]
    #[inline(never)]
    fn count_type_by_name(&mut self, kind: &'static str) {
        for e in self.by_type.iter_mut() {
            if e.0 == kind {
                e.1 += 1;
                return;
            }
        }
        self.by_type.push((kind, 1));
    }

    /// Record a drop (the world calls this for receivers found down).
    pub fn record_drop(&mut self, cause: DropCause) {
        self.dropped[cause as usize] += 1;
    }
}

/// What the network decided for one message.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Route {
    /// Lost.
    Dropped(DropCause),
    /// Delivered at `at`, and a second copy at `dup` if duplicated.
    Deliver { at: SimTime, dup: Option<SimTime> },
}

const UNGROUPED: u32 = u32::MAX;
/// Above this many addresses the FIFO table is a map (a dense table would
/// be addresses² entries).
const DENSE_FIFO_MAX: usize = 256;

/// The network state of one run.
#[derive(Debug)]
pub struct Network {
    cfg: NetConfig,
    /// The latency draw of `cfg.default` and of each `cfg.links` entry,
    /// prepared once ([`DurationSampler`]: the same draws, in integers).
    default_latency: DurationSampler,
    links: BTreeMap<(u32, u32), (LinkParams, DurationSampler)>,
    addresses: usize,
    /// Partition group of each address (`UNGROUPED` reaches everyone).
    group: Vec<u32>,
    /// Active link faults by directed link, with the generation of the
    /// fault that installed them (so an undo removes only its own fault).
    faults: BTreeMap<(u32, u32), (LinkFault, u64)>,
    /// Generation of the active partition (0 = none).
    partition_gen: u64,
    next_gen: u64,
    /// Last scheduled delivery per directed link, for FIFO: a dense table
    /// for small worlds, a map for large ones (empty when `reorder`).
    last_delivery: Vec<SimTime>,
    last_delivery_sparse: BTreeMap<(u32, u32), SimTime>,
    /// The send time of the last routed message: sends come in time
    /// order, or the FIFO clamp would order a link by a clock that ran
    /// backwards.
    last_send: SimTime,
    /// Counters for the report.
    pub counters: NetCounters,
}

impl Network {
    /// A healed network over `addresses` nodes.
    pub fn new(cfg: NetConfig, addresses: usize) -> Self {
        let fifo = if cfg.reorder || addresses > DENSE_FIFO_MAX {
            Vec::new()
        } else {
            vec![SimTime::ZERO; addresses * addresses]
        };
        Network {
            default_latency: DurationSampler::new(&cfg.default.latency),
            links: cfg
                .links
                .iter()
                .map(|(k, p)| (*k, (p.clone(), DurationSampler::new(&p.latency))))
                .collect(),
            cfg,
            addresses,
            group: vec![UNGROUPED; addresses],
            faults: BTreeMap::new(),
            partition_gen: 0,
            next_gen: 1,
            last_delivery: fifo,
            last_delivery_sparse: BTreeMap::new(),
            last_send: SimTime::ZERO,
            counters: NetCounters::default(),
        }
    }

    /// The configuration this network was built with.
    pub fn config(&self) -> &NetConfig {
        &self.cfg
    }

    fn gen(&mut self) -> u64 {
        self.next_gen += 1;
        self.next_gen
    }

    /// Split nodes into groups; nodes in different groups cannot talk. Nodes
    /// not listed keep reaching everyone. Returns the partition's generation.
    pub fn partition(&mut self, groups: &[Vec<NodeId>]) -> u64 {
        self.group.fill(UNGROUPED);
        for (g, members) in groups.iter().enumerate() {
            for n in members {
                assert!(
                    n.index() < self.addresses,
                    "partition names {n}, but the network has {} addresses",
                    self.addresses
                );
                assert!(
                    self.group[n.index()] == UNGROUPED,
                    "{n} is in two partition groups"
                );
                self.group[n.index()] = g as u32;
            }
        }
        self.partition_gen = self.gen();
        self.partition_gen
    }

    /// End partition `gen`, unless a later partition or a heal replaced it.
    pub fn end_partition(&mut self, gen: u64) {
        if self.partition_gen == gen {
            self.group.fill(UNGROUPED);
            self.partition_gen = 0;
        }
    }

    /// Cut or degrade the directed link `from → to`; returns the fault's
    /// generation.
    pub fn set_link_fault(&mut self, from: NodeId, to: NodeId, fault: LinkFault) -> u64 {
        assert_probability(fault.drop);
        let gen = self.gen();
        self.faults.insert((from.0, to.0), (fault, gen));
        gen
    }

    /// Like [`Network::set_link_fault`], joining an existing generation
    /// (the reverse direction of a two-way cut).
    pub fn set_link_fault_in(&mut self, from: NodeId, to: NodeId, fault: LinkFault, gen: u64) {
        assert_probability(fault.drop);
        self.faults.insert((from.0, to.0), (fault, gen));
    }

    /// Remove the fault on `from → to` if it is still the one from `gen`.
    pub fn end_link_fault(&mut self, from: NodeId, to: NodeId, gen: u64) {
        if self
            .faults
            .get(&(from.0, to.0))
            .is_some_and(|(_, g)| *g == gen)
        {
            self.faults.remove(&(from.0, to.0));
        }
    }

    /// Cut every link between `node` and every other cluster node, both
    /// ways; returns the generation shared by those cuts.
    pub fn isolate(&mut self, node: NodeId, cluster: u32) -> u64 {
        let cut = LinkFault {
            drop: 1.0,
            extra_latency: SimDuration::ZERO,
        };
        let gen = self.gen();
        for other in 0..cluster {
            if other != node.0 {
                self.faults.insert((node.0, other), (cut, gen));
                self.faults.insert((other, node.0), (cut, gen));
            }
        }
        gen
    }

    /// Undo isolation `gen` of `node` (links re-cut since then stay cut).
    pub fn end_isolation(&mut self, node: NodeId, cluster: u32, gen: u64) {
        for other in (0..cluster).filter(|&o| o != node.0).map(NodeId) {
            self.end_link_fault(node, other, gen);
            self.end_link_fault(other, node, gen);
        }
    }

    /// Remove every partition and link fault.
    pub fn heal(&mut self) {
        self.group.fill(UNGROUPED);
        self.partition_gen = 0;
        self.faults.clear();
    }

    /// True while a partition or any link fault (cut or degraded) is in
    /// force: the liveness check judges only a network free of faults.
    pub fn faults_active(&self) -> bool {
        self.partition_gen != 0 || !self.faults.is_empty()
    }

    /// True unless a partition puts `from` and `to` in different groups.
    #[inline]
    fn same_side(&self, from: NodeId, to: NodeId) -> bool {
        let (gf, gt) = (self.group[from.index()], self.group[to.index()]);
        gf == UNGROUPED || gt == UNGROUPED || gf == gt
    }

    /// True if `from` can currently reach `to` at all (ignores random loss).
    pub fn connected(&self, from: NodeId, to: NodeId) -> bool {
        if !self.same_side(from, to) {
            return false;
        }
        !matches!(self.faults.get(&(from.0, to.0)), Some((f, _)) if f.drop >= 1.0)
    }

    /// Decide the fate of one message sent at `now`. Always inlined into
    /// the kernel's send: out of line, its arguments went through the
    /// stack and its answer came back through memory.
    #[inline(always)]
    pub fn route(
        &mut self,
        now: SimTime,
        from: NodeId,
        to: NodeId,
        kind: &'static str,
        bytes: usize,
        rng: &mut SimRng,
    ) -> Route {
        assert!(
            now >= self.last_send,
            "network asked to route at {now} after a send at {}: time ran backwards",
            self.last_send
        );
        self.last_send = now;
        self.counters.sent += 1;
        self.counters.bytes_sent += bytes as u64;
        self.counters.count_type(kind);
        if self.partition_gen != 0 && !self.same_side(from, to) {
            self.counters.record_drop(DropCause::Partition);
            return Route::Dropped(DropCause::Partition);
        }
        let mut extra = SimDuration::ZERO;
        if !self.faults.is_empty() {
            if let Some((f, _)) = self.faults.get(&(from.0, to.0)) {
                if rng.chance(f.drop) {
                    self.counters.record_drop(DropCause::LinkFault);
                    return Route::Dropped(DropCause::LinkFault);
                }
                extra = f.extra_latency;
            }
        }
        let (params, latency) = match self.links.is_empty() {
            true => None,
            false => self.links.get(&(from.0, to.0)).map(|(p, l)| (p, l)),
        }
        .unwrap_or((&self.cfg.default, &self.default_latency));
        if rng.chance(params.drop) {
            self.counters.record_drop(DropCause::Random);
            return Route::Dropped(DropCause::Random);
        }
        let at = now + latency.sample(rng) + extra;
        let dup = if rng.chance(params.duplicate) {
            self.counters.duplicated += 1;
            Some(now + latency.sample(rng) + extra)
        } else {
            None
        };
        let (at, dup) = if self.cfg.reorder {
            (at, dup)
        } else {
            // FIFO: never deliver before the previous message on this link;
            // equal times keep send order because the queue breaks ties by
            // insertion sequence.
            let slot = if self.last_delivery.is_empty() {
                self.last_delivery_sparse.entry((from.0, to.0)).or_default()
            } else {
                &mut self.last_delivery[from.index() * self.addresses + to.index()]
            };
            let at = fifo_clamp(slot, now, at);
            let dup = dup.map(|d| fifo_clamp(slot, now, d));
            (at, dup)
        };
        Route::Deliver { at, dup }
    }

    /// Count a delivery to a live receiver.
    #[inline]
    pub fn delivered(&mut self, bytes: usize) {
        self.counters.delivered += 1;
        self.counters.bytes_delivered += bytes as u64;
    }
}

/// Panic unless `p` is a probability (NaN included: it would make every
/// `chance` draw false without saying so).
fn assert_probability(p: f64) {
    assert!(
        (0.0..=1.0).contains(&p),
        "link fault drop {p} is not a probability"
    );
}

/// FIFO on one link: a message drawn to arrive at `at` (sent at `now`)
/// arrives no earlier than the link's previous one, and the link's last
/// delivery moves forward. A delivery is never before its send.
#[inline]
fn fifo_clamp(last: &mut SimTime, now: SimTime, at: SimTime) -> SimTime {
    assert!(at >= now, "delivery at {at} before its send at {now}");
    let clamped = at.max(*last);
    debug_assert!(clamped >= *last && clamped >= at);
    *last = clamped;
    clamped
}

#[cfg(test)]
mod tests;
