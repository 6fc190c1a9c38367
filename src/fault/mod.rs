//! Fault schedules: scripted faults at virtual times, dynamic targets
//! resolved when a fault fires, and the random nemesis.
//!
//! These are validated core types; the kernel (`sim::faults`, `sim::nemesis`) applies them.
//! Every applied fault is logged as an [`AppliedFault`] with concrete node
//! ids, so a run (nemesis draws included) can be rewritten as a scripted
//! scenario.

mod log;

pub use log::{FaultLog, KindCount, DEFAULT_FAULT_LOG_CAP, FAULT_LOG_RECENT};

use crate::ids::{NodeId, TimerId};
use crate::process::CrashPoint;
use crate::time::{SimDuration, SimTime};

/// Which node a fault hits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// A fixed node index.
    Node(NodeId),
    /// Whoever reports itself leader when the fault fires (skipped if none).
    Leader,
    /// A random live node that is not the leader.
    Follower,
    /// A random node (for restart: a random crashed node).
    Random,
    /// A random minority of the cluster (crash and pause only).
    Minority,
    /// A random agent (an address past the cluster, see
    /// `WorldConfig::agents`); for restart, a random crashed one.
    AnyAgent,
    /// This many distinct random live agents (fewer if fewer are up).
    Agents(u32),
}

/// Where a partition puts the agents its groups do not name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AgentPlacement {
    /// With the group that holds the leader when the split starts (the
    /// largest group if there is no leader).
    WithLeader,
    /// With the group of fewest servers (not the leader's, on a tie).
    WithMinority,
    /// Each agent with one group, in proportion to the groups' server
    /// counts, interleaved by agent index.
    Proportional,
}

/// What a scripted fault does.
#[derive(Clone, Debug, PartialEq)]
pub enum FaultAction {
    /// Crash the target(s); restart after the delay if given.
    Crash {
        /// Who.
        node: Target,
        /// Restart this long after the crash.
        restart_after: Option<SimDuration>,
    },
    /// Restart a crashed node from its durable state.
    Restart {
        /// Who.
        node: Target,
    },
    /// Freeze the target(s): messages and timers wait until resume.
    Pause {
        /// Who.
        node: Target,
        /// For how long.
        duration: SimDuration,
    },
    /// Set the node's clock rate, in parts per million (1_000_000 = true time).
    Clock {
        /// Who.
        node: Target,
        /// Rate in ppm.
        rate_ppm: u64,
        /// Reset to 1.0 after this long, if given.
        duration: Option<SimDuration>,
    },
    /// Split the cluster into groups that cannot talk to each other.
    Partition {
        /// The groups (validated to cover each node exactly once).
        groups: Vec<Vec<NodeId>>,
        /// Where agents the groups do not name go (None: they reach
        /// every group).
        agents: Option<AgentPlacement>,
        /// Heal after this long, if given.
        duration: Option<SimDuration>,
    },
    /// Cut every link of one node, both ways.
    Isolate {
        /// Who.
        node: Target,
        /// Heal after this long, if given.
        duration: Option<SimDuration>,
    },
    /// Degrade or cut the link `from → to` (and back, if `both_ways`).
    Link {
        /// Sender side.
        from: Target,
        /// Receiver side.
        to: Target,
        /// Also the reverse direction.
        both_ways: bool,
        /// Loss probability on the link (1.0 = cut).
        drop: f64,
        /// Extra one-way delay.
        extra_latency: SimDuration,
        /// Undo after this long, if given.
        duration: Option<SimDuration>,
    },
    /// Remove every partition and link fault.
    Heal,
    /// Arm a crash point rule: from now on (for `duration`, if given) a
    /// node that reports the point crashes with the rule's probability.
    CrashAt {
        /// The rule.
        rule: CrashAtRule,
        /// Disarm after this long, if given.
        duration: Option<SimDuration>,
    },
    /// Arm a message rule: from now on (for `duration`, if given) each
    /// message of the rule's kind is duplicated or held with its
    /// probability.
    Message {
        /// The rule.
        rule: MessageRule,
        /// Disarm after this long, if given.
        duration: Option<SimDuration>,
    },
}

/// When the kernel crashes a node at a protocol event (scenario fault
/// kind `crash_at`).
#[derive(Clone, Debug, PartialEq)]
pub struct CrashAtRule {
    /// The protocol event.
    pub point: CrashPoint,
    /// Chance that one report of the point crashes the node.
    pub probability: f64,
    /// Only this node (default: every cluster node).
    pub node: Option<NodeId>,
    /// Restart after a uniform draw from this range (none: stays down).
    pub restart_after: Option<[SimDuration; 2]>,
    /// Only at the k-th report of the point for one thing (the process
    /// numbers them: for `ack_received`, the k-th follower to hold an
    /// index). None: every report.
    pub k: Option<u32>,
}

/// What a message rule does to a message it picks.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MessageFault {
    /// Deliver a second copy, a uniform draw from `[min, max]` after the first.
    Duplicate {
        /// Shortest gap.
        min: SimDuration,
        /// Longest gap.
        max: SimDuration,
    },
    /// Hold the message back by a uniform draw from `[min, max]`; later
    /// messages on its link are not held behind it, so it can arrive after
    /// them (two appends swap; a vote response lands in a later term).
    Delay {
        /// Shortest hold.
        min: SimDuration,
        /// Longest hold.
        max: SimDuration,
    },
    /// A picked round (one node's messages of the kind sent at one
    /// instant) reaches only a bare majority, the sender counted: its
    /// first sends pass, the rest are held by a uniform draw from
    /// `[min, max]`.
    BareMajority {
        /// Shortest hold.
        min: SimDuration,
        /// Longest hold.
        max: SimDuration,
    },
    /// After a node handles a picked message, its timer `timer` (if
    /// armed) is moved to fire a uniform draw from `[0, within]` after
    /// another live node's timer of that id: two election timers lined up.
    AlignTimers {
        /// The timer (the protocol's election timer).
        timer: TimerId,
        /// Most time between the two firings.
        within: SimDuration,
    },
}

/// A protocol-aware message fault (scenario fault kind `message`): it
/// picks messages by their kind name (`Message::kind`).
#[derive(Clone, Debug, PartialEq)]
pub struct MessageRule {
    /// The message kind it applies to (`"request_vote_resp"`).
    pub message: String,
    /// Chance that one message of that kind is picked.
    pub probability: f64,
    /// What happens to a picked message.
    pub fault: MessageFault,
}

impl FaultAction {
    /// The scenario `kind` name of this action.
    pub fn kind(&self) -> &'static str {
        match self {
            FaultAction::Crash { .. } => "crash",
            FaultAction::Restart { .. } => "restart",
            FaultAction::Pause { .. } => "pause",
            FaultAction::Clock { .. } => "clock",
            FaultAction::Partition { .. } => "partition",
            FaultAction::Isolate { .. } => "isolate",
            FaultAction::Link { .. } => "link",
            FaultAction::Heal => "heal",
            FaultAction::CrashAt { .. } => "crash_at",
            FaultAction::Message { .. } => "message",
        }
    }
}

/// One entry of a fault schedule.
#[derive(Clone, Debug, PartialEq)]
pub struct ScheduledFault {
    /// First firing time.
    pub at: SimTime,
    /// What it does.
    pub action: FaultAction,
    /// Fire again this often, if given.
    pub every: Option<SimDuration>,
    /// Random extra delay in `[0, jitter]` added to each repetition (with
    /// `stable`: the delay between the cluster settling and the firing).
    pub jitter: SimDuration,
    /// Before each firing, wait until the cluster has been settled (every
    /// up node follows one up leader, with equal commit indexes; see
    /// `Process::stability`) for this long, then fire after a uniform
    /// draw in `[0, jitter]`. The next occurrence starts waiting `every`
    /// after this firing. The Figure 16 experiment crashes a leader only
    /// once the cluster is stable.
    pub stable: Option<SimDuration>,
}

/// Kinds the nemesis may draw.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum NemesisKind {
    /// Crash a node, restart it later.
    Crash,
    /// Pause a node, resume it later.
    Pause,
    /// Split the cluster in two random groups, heal later.
    Partition,
    /// Cut one random directed link (or both ways), restore later.
    Link,
    /// Skew one node's clock, reset later.
    Clock,
    /// Crash an agent, restart it later.
    AgentCrash,
    /// Pause an agent, resume it later.
    AgentPause,
    /// Skew an agent's clock, reset later.
    AgentClock,
    /// Cut a link between an agent and a server, restore later.
    AgentLink,
    /// Split the servers in two and put each agent on a random side.
    AgentPartition,
}

impl NemesisKind {
    /// The scenario name.
    pub fn name(self) -> &'static str {
        match self {
            NemesisKind::Crash => "crash",
            NemesisKind::Pause => "pause",
            NemesisKind::Partition => "partition",
            NemesisKind::Link => "link",
            NemesisKind::Clock => "clock",
            NemesisKind::AgentCrash => "agent_crash",
            NemesisKind::AgentPause => "agent_pause",
            NemesisKind::AgentClock => "agent_clock",
            NemesisKind::AgentLink => "agent_link",
            NemesisKind::AgentPartition => "agent_partition",
        }
    }
}

/// A random fault generator driven by the `faults` stream.
#[derive(Clone, Debug, PartialEq)]
pub struct NemesisConfig {
    /// Mean time between fault starts (exponential).
    pub mean_interval: SimDuration,
    /// Kinds to draw from, uniformly.
    pub kinds: Vec<NemesisKind>,
    /// Each fault lasts a uniform draw from this range.
    pub duration_min: SimDuration,
    /// Upper end of the duration range.
    pub duration_max: SimDuration,
    /// Never more than this many nodes crashed or paused at once.
    pub max_down: u32,
    /// No fault is drawn after this time (none: until the end).
    pub until: Option<SimTime>,
}

/// A fault as it was applied, with targets resolved to node ids.
#[derive(Clone, Debug, PartialEq)]
pub struct AppliedFault {
    /// When.
    pub at: SimTime,
    /// Scenario kind name (`crash`, `restart`, `resume`, `heal`, ...).
    pub kind: &'static str,
    /// Concrete nodes affected (for `link`: `[from, to]`).
    pub nodes: Vec<NodeId>,
    /// For partitions: the groups.
    pub groups: Vec<Vec<NodeId>>,
    /// Link loss probability / clock rate, where relevant.
    pub drop: Option<f64>,
    /// Extra latency for link faults.
    pub extra_latency: Option<SimDuration>,
    /// Clock rate in ppm for clock faults.
    pub rate_ppm: Option<u64>,
    /// Both directions, for link faults.
    pub both_ways: bool,
    /// `scripted`, `nemesis`, or `undo` (an automatic restart/resume/heal).
    pub source: &'static str,
    /// Why it was skipped (no leader, `max_down` reached, ...), if it was.
    pub skipped: Option<String>,
    /// For a crash a `crash_at` rule caused (and for the arming of the
    /// rule): the crash point's name.
    pub point: Option<&'static str>,
    /// How long the fault lasts before the kernel undoes it (a nemesis
    /// draw's duration, a scripted `restart_after_ms`/`for_ms`); None when
    /// nothing undoes it. Not in the report: it lets a run's faults be
    /// rewritten as scripted ones that undo at the same times
    /// ([`crate::shrink::scripted_from_log`]).
    pub lasts: Option<SimDuration>,
    /// True for the kernel's automatic undo of an earlier fault (a
    /// restart, resume, heal, clock reset or disarm the fault's duration
    /// queued), which a rewrite as scripted faults leaves to `lasts`.
    pub undoes: bool,
}

impl AppliedFault {
    /// A record with only the basics set.
    pub fn new(at: SimTime, kind: &'static str, source: &'static str) -> Self {
        AppliedFault {
            at,
            kind,
            nodes: Vec::new(),
            groups: Vec::new(),
            drop: None,
            extra_latency: None,
            rate_ppm: None,
            both_ways: false,
            source,
            skipped: None,
            point: None,
            lasts: None,
            undoes: false,
        }
    }
}

/// Why a fault, an undo or a nemesis draw was skipped (recorded as text
/// in [`AppliedFault::skipped`], which reports print). Typed so the
/// kernel's fault code returns a reason, not a string; the texts are the
/// ones the fault log always showed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FaultSkip {
    /// A `leader` target with no leader.
    #[error("no leader")]
    NoLeader,
    /// A `follower` target with no live follower.
    #[error("no live follower")]
    NoLiveFollower,
    /// A `random` target with nobody eligible.
    #[error("no eligible node")]
    NoEligibleNode,
    /// A `minority` target in a cluster too small for one.
    #[error("no minority to pick")]
    NoMinority,
    /// A link fault whose two ends resolved to the same node.
    #[error("link {from} -> {to} is a self-link")]
    SelfLink {
        /// Resolved sender end.
        from: NodeId,
        /// Resolved receiver end (the same node).
        to: NodeId,
    },
    /// A restart of a node that is not crashed.
    #[error("{0} is not crashed")]
    NotCrashed(NodeId),
    /// A resume of a node that is not paused.
    #[error("{0} is not paused")]
    NotPaused(NodeId),
    /// The process refused to rebuild from its synced records (e.g. a
    /// corrupt snapshot); the node stays down.
    #[error("{node} recovery failed: {reason}")]
    RecoveryFailed {
        /// The node that stays down.
        node: NodeId,
        /// The process's own reason.
        reason: String,
    },
    /// The nemesis would exceed `max_down` crashed or paused nodes.
    #[error("max_down {0} reached")]
    MaxDown(u32),
    /// The nemesis found no live node to crash or pause.
    #[error("no live node")]
    NoLiveNode,
    /// An agent target in a world without agents, or none eligible.
    #[error("no eligible agent")]
    NoEligibleAgent,
    /// The nemesis would take down more than half the agents.
    #[error("agents max_down {0} reached")]
    MaxAgentsDown(u32),
    /// A nemesis link fault in a cluster of one.
    #[error("fewer than two nodes")]
    TooFewNodes,
}

fn assert_target(t: Target, addresses: u32, what: &str) {
    if let Target::Node(n) = t {
        assert!(
            n.0 < addresses,
            "{what} names {n}, but the world has {addresses} addresses"
        );
    }
}

fn assert_window(duration: Option<SimDuration>, what: &str) {
    // Validated scenarios refuse times below 1 µs, so a window that ends
    // when it starts is a construction bug (its undo would race the fault
    // in the same microsecond).
    assert!(
        duration.is_none_or(|d| d > SimDuration::ZERO),
        "{what} fault window ends when it starts (duration 0)"
    );
}

impl FaultAction {
    /// Panic unless the action is well-formed: node targets exist, a
    /// window (pause, clock, partition, isolation, link) ends after it
    /// starts, probabilities are probabilities, a partition's groups are
    /// disjoint, a clock runs. Scenario validation refuses all of these
    /// with a message; the kernel asserts them so a fault built in code
    /// (a library user, the shrinker, the swarm) cannot slip past.
    pub fn assert_well_formed(&self, addresses: u32) {
        let kind = self.kind();
        match self {
            FaultAction::Crash { node, .. } | FaultAction::Restart { node } => {
                // `restart_after` is a `SimDuration`: a restart is never
                // scheduled before its crash.
                assert_target(*node, addresses, kind);
            }
            FaultAction::Pause { node, duration } => {
                assert_target(*node, addresses, kind);
                assert_window(Some(*duration), kind);
            }
            FaultAction::Clock {
                node,
                rate_ppm,
                duration,
            } => {
                assert_target(*node, addresses, kind);
                assert_window(*duration, kind);
                assert!(*rate_ppm > 0, "a clock fault with rate 0 stops the clock");
            }
            FaultAction::Partition {
                groups, duration, ..
            } => {
                assert_window(*duration, kind);
                let mut seen = std::collections::BTreeSet::new();
                for n in groups.iter().flatten() {
                    assert!(
                        n.0 < addresses,
                        "partition names {n}, but the world has {addresses} addresses"
                    );
                    assert!(seen.insert(*n), "{n} is in two partition groups");
                }
            }
            FaultAction::Isolate { node, duration } => {
                assert_target(*node, addresses, kind);
                assert_window(*duration, kind);
            }
            FaultAction::Link {
                from,
                to,
                drop,
                duration,
                ..
            } => {
                assert_target(*from, addresses, kind);
                assert_target(*to, addresses, kind);
                assert_window(*duration, kind);
                assert!(
                    (0.0..=1.0).contains(drop),
                    "link fault drop {drop} is not a probability"
                );
                if let (Target::Node(a), Target::Node(b)) = (from, to) {
                    assert!(
                        a != b,
                        "a link fault joins two different nodes, got {a} twice"
                    );
                }
            }
            FaultAction::Heal => {}
            FaultAction::CrashAt { rule, duration } => {
                assert_window(*duration, kind);
                assert!(
                    (0.0..=1.0).contains(&rule.probability),
                    "crash_at probability {} is not a probability",
                    rule.probability
                );
                if let Some(n) = rule.node {
                    assert_target(Target::Node(n), addresses, kind);
                }
                if let Some([lo, hi]) = rule.restart_after {
                    assert!(lo <= hi, "crash_at restart range [{lo}, {hi}] is empty");
                }
            }
            FaultAction::Message { rule, duration } => {
                assert_window(*duration, kind);
                assert!(
                    (0.0..=1.0).contains(&rule.probability),
                    "message fault probability {} is not a probability",
                    rule.probability
                );
                if let MessageFault::Duplicate { min, max }
                | MessageFault::Delay { min, max }
                | MessageFault::BareMajority { min, max } = rule.fault
                {
                    assert!(min <= max, "message fault range [{min}, {max}] is empty");
                }
            }
        }
    }
}

impl ScheduledFault {
    /// Panic unless the schedule is well-formed: the action is (see
    /// [`FaultAction::assert_well_formed`]), a repeating fault has a
    /// positive period (a zero period would fire forever at one instant).
    /// (`jitter` on a one-shot fault is allowed here and ignored by the
    /// kernel; scenario validation refuses it as a likely mistake.)
    pub fn assert_well_formed(&self, addresses: u32) {
        self.action.assert_well_formed(addresses);
        assert!(
            self.every.is_none_or(|e| e > SimDuration::ZERO),
            "a repeating {} fault needs a positive period",
            self.action.kind()
        );
    }
}

impl NemesisConfig {
    /// Panic unless the nemesis can run: a positive mean interval (zero
    /// would draw faults forever at one instant), at least one kind, and a
    /// non-empty positive duration range (every fault window ends after it
    /// starts).
    pub fn assert_well_formed(&self) {
        assert!(
            self.mean_interval > SimDuration::ZERO,
            "nemesis mean interval must be positive"
        );
        assert!(!self.kinds.is_empty(), "nemesis with no fault kinds");
        assert!(
            SimDuration::ZERO < self.duration_min && self.duration_min <= self.duration_max,
            "nemesis duration range [{}, {}] is not a positive range",
            self.duration_min,
            self.duration_max
        );
    }
}

#[cfg(test)]
mod tests;
