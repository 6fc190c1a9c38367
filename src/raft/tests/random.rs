//! Randomized runs of the harness under faults: safety holds, and the
//! injected bugs are caught.

use super::*;

/// Safety under random reordering, loss, duplication, timer firings and
/// crashes (§3.6.3): at most one leader per term, and every index is
/// applied with the same entry on every node. Then, healed, the cluster
/// elects a leader and converges. A miniature of what the kernel's checkers
/// do, so protocol bugs show up here first.
#[test]
fn random_faults_preserve_safety() {
    for seed in 0..30 {
        random_run(seed, BugSet::NONE).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    }
}

/// The same runs with an injected bug (other than `StaleRead`, which only a
/// linearizability checker sees) break safety on some seed: the checks
/// above have teeth.
#[test]
fn random_faults_catch_injected_bugs() {
    for bug in [
        Bug::SkipLogCheck,
        Bug::CommitPreviousTerm,
        Bug::DoubleVote,
        Bug::ForgetVote,
    ] {
        let caught = (0..200).any(|seed| random_run(seed, BugSet::only(bug)).is_err());
        assert!(caught, "{bug} was never caught");
    }
}

fn random_run(seed: u64, bugs: BugSet) -> Result<(), String> {
    let mut cfg = RaftConfig {
        // Even sizes too: a majority of 4 or 6 is not (n + 1) / 2.
        nodes: [3, 4, 5, 6][seed as usize % 4],
        snapshot_every: 7,
        max_entries_per_append: 3,
        max_inflight_appends: 2,
        bugs,
        ..RaftConfig::default()
    };
    cfg.pre_vote = seed % 3 != 0;
    let n = cfg.nodes as usize;
    let mut c = Cluster::with(cfg);
    let mut rng = SimRng::derive(seed, "raft-random-test");
    let mut leaders: BTreeMap<Term, NodeId> = BTreeMap::new();
    let mut applied: BTreeMap<LogIndex, (Term, u64)> = BTreeMap::new();
    let mut seq = 0u64;
    let check = |c: &Cluster,
                 leaders: &mut BTreeMap<Term, NodeId>,
                 applied: &mut BTreeMap<LogIndex, (Term, u64)>,
                 i: usize|
     -> Result<(), String> {
        let Some(node) = c.nodes[i].as_ref() else {
            return Ok(());
        };
        if node.raft_role() == RaftRole::Leader {
            let l = *leaders.entry(node.current_term()).or_insert(node.id());
            if l != node.id() {
                return Err(format!(
                    "two leaders in {}: {l} and {}",
                    node.current_term(),
                    node.id()
                ));
            }
        }
        for &(index, term, digest) in node.applied_this_step() {
            let first = *applied.entry(index).or_insert((term, digest));
            if first != (term, digest) {
                return Err(format!(
                    "n{i} applied {index} as {term}/{digest:x}, others as {first:?}"
                ));
            }
        }
        Ok(())
    };
    for _ in 0..3_000 {
        let roll = rng.range_inclusive(0, 99);
        let i = rng.index(n);
        match roll {
            0..=59 if !c.queue.is_empty() => {
                let k = rng.index(c.queue.len());
                let (from, to, msg) = c.queue.remove(k).expect("in range");
                match rng.range_inclusive(0, 19) {
                    0 => continue,                                   // lost
                    1 => c.queue.push_back((from, to, msg.clone())), // duplicated
                    _ => {}
                }
                if c.nodes[to.index()].is_some() {
                    c.step(to.index(), |nd, ctx| nd.on_message(ctx, from, msg));
                    check(&c, &mut leaders, &mut applied, to.index())?;
                }
            }
            60..=79 => {
                if let Some(node) = c.nodes[i].as_ref() {
                    if node.raft_role() == RaftRole::Leader {
                        seq += 1;
                        c.request(i, seq, write(rng.range_inclusive(0, 4) as i64, seq as i64));
                    }
                }
            }
            80..=95 => {
                c.advance_ms(rng.range_inclusive(1, 60));
                let armed: Vec<TimerId> = c.timers[i].keys().copied().collect();
                if !armed.is_empty() && c.nodes[i].is_some() {
                    let id = armed[rng.index(armed.len())];
                    c.fire(i, id);
                    check(&c, &mut leaders, &mut applied, i)?;
                }
            }
            _ => {
                if c.nodes[i].is_some() {
                    c.crash(i);
                } else {
                    c.restart(i).map_err(|e| e.to_string())?;
                }
            }
        }
    }
    // Heal: everyone up, network reliable, time-ordered timers.
    for i in 0..n {
        if c.nodes[i].is_none() {
            c.restart(i).map_err(|e| e.to_string())?;
        }
    }
    c.deliver_all();
    for _ in 0..50 {
        if let Some(l) = (0..n).find(|&i| c.node(i).raft_role() == RaftRole::Leader) {
            for _ in 0..10 {
                if c.node(l).raft_role() != RaftRole::Leader {
                    break;
                }
                c.advance_ms(50);
                c.heartbeat(l);
                for j in 0..n {
                    check(&c, &mut leaders, &mut applied, j)?;
                }
            }
            if c.node(l).raft_role() == RaftRole::Leader {
                let commit = c.node(l).commit_index();
                for j in 0..n {
                    if c.node(j).commit_index() != commit {
                        return Err(format!("n{j} did not converge to {commit}"));
                    }
                }
                return Ok(());
            }
        }
        let i = rng.index(n);
        c.advance_ms(300);
        if c.timers[i].contains_key(&TIMER_ELECTION) {
            c.timeout(i);
        }
        c.deliver_all();
    }
    Err("no stable leader after healing".into())
}
