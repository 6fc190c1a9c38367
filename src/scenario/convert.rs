//! Scenario to core configuration: the Raft, client and collaboration
//! settings a run builds its processes from. Validation calls the same
//! functions, so what it checks is what runs.

use crate::collab::ap::ApConfig;
use crate::collab::{
    AgentProfile, ArbiterConfig, Arrival, AssignAlgo, BranchDef, CollabConfig, Mode, Priority,
    StageDef,
};
use crate::kv::client::ClientConfig;
use crate::raft::{Bug, BugSet, RaftConfig};
use crate::rng::SimRng;
use crate::scenario::{
    self, AssignAlgoSpec, ConsistencySpec, ModeSpec, PrioritySpec, RaftSpec, WorkflowSpec,
    WorkloadSpec,
};
use crate::time::{SimDuration, SimTime};

/// Raft configuration from the scenario.
pub fn raft_config(nodes: u32, spec: &RaftSpec, bug: Option<&str>) -> RaftConfig {
    let ms = SimDuration::from_millis_f64;
    RaftConfig {
        nodes,
        election_timeout_min: ms(spec.election_timeout_ms[0]),
        election_timeout_max: ms(spec.election_timeout_ms[1]),
        heartbeat: ms(spec.heartbeat_ms),
        pre_vote: spec.pre_vote,
        check_quorum: spec.check_quorum,
        snapshot_every: spec.snapshot_every,
        max_entries_per_append: spec.max_entries_per_append as usize,
        max_inflight_appends: spec.max_inflight_appends as usize,
        step_down_on_lost_election: spec.step_down_on_lost_election,
        bugs: bug
            .and_then(Bug::from_name)
            .map_or(BugSet::NONE, BugSet::only),
    }
}

/// Client configuration from the scenario's workload (`end`: the run's
/// end). Validation checks the result with [`ClientConfig::check`].
pub fn client_config(nodes: u32, w: &WorkloadSpec, end: SimTime) -> ClientConfig {
    let timeout = SimDuration::from_millis_f64(w.timeout_ms);
    ClientConfig {
        index: 0,
        servers: nodes,
        think: SimDuration::from_millis_f64(w.clients as f64 * 1000.0 / w.rate_per_s),
        mix: [w.mix.read, w.mix.write, w.mix.cas],
        keys: w.keys,
        timeout,
        retry_after: SimDuration::from_millis(100).min(timeout),
        backoff_min: SimDuration::from_millis(5),
        backoff_max: SimDuration::from_millis(200),
        stop_at: SimTime(end.0.saturating_sub(timeout.0)),
        // Always: the history tap streams events into the latency
        // histogram too; clients keep only the latest handler's events.
        record_history: true,
    }
}

/// Build the core configuration from a validated scenario.
pub fn collab_config(spec: &WorkflowSpec, servers: u32, seed: u64) -> CollabConfig {
    let ms = SimDuration::from_millis_f64;
    let mut skills: Vec<String> = Vec::new();
    for g in &spec.agents {
        for s in &g.skills {
            if !skills.contains(s) {
                skills.push(s.clone());
            }
        }
    }
    let skill = |s: &str| skills.iter().position(|x| x == s).expect("validated skill") as u16;
    let mut agents = Vec::new();
    for g in &spec.agents {
        let fail_count = g.fail_count.unwrap_or(g.count);
        for i in 0..g.count {
            agents.push(AgentProfile {
                group: g.name.clone(),
                skills: g.skills.iter().map(|s| skill(s)).collect(),
                accuracy: g.accuracy,
                latency: scenario::dist(&g.latency_ms),
                tokens: scenario::dist(&g.tokens),
                availability: g.availability,
                fail_at: g
                    .fail_at_ms
                    .filter(|_| i < fail_count)
                    .map(|t| SimTime::ZERO + ms(t)),
            });
        }
    }
    let stage = |id: &str| {
        spec.stages
            .iter()
            .position(|s| s.id == id)
            .expect("validated stage")
    };
    let mut stages: Vec<StageDef> = spec
        .stages
        .iter()
        .map(|s| StageDef {
            id: s.id.clone(),
            skill: skill(&s.skill),
            after: s.after.iter().map(|a| stage(a)).collect(),
            priority: match s.priority {
                PrioritySpec::Low => Priority::Low,
                PrioritySpec::Normal => Priority::Normal,
                PrioritySpec::High => Priority::High,
                PrioritySpec::Critical => Priority::Critical,
            },
            size: s.size,
            interrupt_before: s.interrupt_before,
            branch: s.branch.as_ref().map(|b| BranchDef {
                threshold: b.threshold,
                above: stage(&b.above),
                below: stage(&b.below),
            }),
        })
        .collect();
    // A branch target runs after the branching stage.
    for i in 0..stages.len() {
        if let Some(b) = stages[i].branch {
            for t in [b.above, b.below] {
                if !stages[t].after.contains(&i) {
                    stages[t].after.push(i);
                }
            }
        }
    }
    let mut rng = SimRng::stream(seed, crate::rng::Stream::Workflow);
    let size = spec.arrivals.size.as_ref().map(scenario::dist);
    let mut at = 0.0f64;
    let mut arrivals = Vec::with_capacity(spec.arrivals.workflows as usize);
    for i in 0..spec.arrivals.workflows {
        if i > 0 {
            at += rng.exponential(1000.0 / spec.arrivals.rate_per_s);
        }
        let sizes = stages
            .iter()
            .map(|_| size.as_ref().map_or(1.0, |d| d.sample(&mut rng).max(0.01)))
            .collect();
        let critical = rng.chance(spec.arrivals.critical_fraction);
        arrivals.push(Arrival {
            at: SimTime::ZERO + ms(at),
            sizes,
            critical,
        });
    }
    let w = &spec.arbiter.weights;
    CollabConfig {
        servers,
        mode: match spec.mode {
            ModeSpec::Pipeline => Mode::Pipeline,
            ModeSpec::Competitive => Mode::Competitive,
            ModeSpec::Division => Mode::Division,
            ModeSpec::Hybrid => Mode::Hybrid,
        },
        agents,
        stages,
        arrivals,
        send_attempts: spec.retry.max_attempts,
        backoff_min: ms(spec.retry.backoff_ms[0]),
        backoff_max: ms(spec.retry.backoff_ms[1]),
        task_attempts: spec.retry.task_attempts,
        redrives: spec.retry.redrives,
        breaker_failures: spec.breaker.failures,
        breaker_open: ms(spec.breaker.open_ms),
        arbiter: ArbiterConfig {
            weights: [w.relevance, w.innovation, w.feasibility],
            k: spec.arbiter.k,
            deadline: ms(spec.arbiter.deadline_ms),
            cost_per_1k_tokens: spec.arbiter.cost_per_1k_tokens,
        },
        assign: match spec.division.algorithm {
            AssignAlgoSpec::Hungarian => AssignAlgo::Hungarian,
            AssignAlgoSpec::Greedy => AssignAlgo::Greedy,
        },
        batch: spec.division.batch as usize,
        competitive_above: spec.hybrid.competitive_above,
        division_below: spec.hybrid.division_below,
        approvals: spec
            .approvals
            .iter()
            .map(|a| (SimTime::ZERO + ms(a.at_ms), stage(&a.stage)))
            .collect(),
        human_delay: spec.human_delay_ms.as_ref().map(scenario::dist),
        heartbeat: ms(spec.agent_heartbeat_ms),
        agent_timeout: ms(spec.agent_timeout_ms),
        tick: ms(spec.tick_ms),
        agent_slots: spec.agent_slots,
        inbox_cap: spec
            .agent_inbox
            .unwrap_or_else(|| (2 * spec.agent_slots).max(16)) as usize,
        skills,
        ap: (spec.consistency == ConsistencySpec::Ap).then(|| {
            let a = spec.ap.clone().unwrap_or_default();
            ApConfig {
                gossip: ms(a.gossip_ms),
                suspect: ms(a.suspect_ms),
            }
        }),
        bug: None,
    }
}
