//! The swarm's protocol-shaped features (`sweep --nemesis` on Raft
//! key-value scenarios): every draw on every shipped Raft scenario gives a
//! valid scenario, each feature is on in about half the seeds, draws are
//! fixed by the seed, and a seed's features are what its scenario runs.

use agentsim::scenario::{ProcessKind, Scenario};
use agentsim::sweep::{seed_scenario, swarm};
use std::path::{Path, PathBuf};

fn shipped_scenarios(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            shipped_scenarios(&p, out);
        } else if p.extension().is_some_and(|e| e == "json") {
            out.push(p);
        }
    }
}

fn raft_kv_scenarios() -> Vec<(PathBuf, Scenario)> {
    let mut paths = Vec::new();
    shipped_scenarios(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios"),
        &mut paths,
    );
    paths
        .into_iter()
        .filter_map(|p| {
            let s = Scenario::load(&p).ok()?;
            (s.spec.cluster.process == ProcessKind::Raft && s.spec.workflow.is_none())
                .then_some((p, s))
        })
        .collect()
}

/// 200 seeds of every shipped Raft key-value scenario: each draw passes
/// validation (`seed_scenario` panics on an invalid one), and the
/// scenario it produces carries the draw (cluster size, append size,
/// timeouts, disk, the three repeating faults, one `crash_at` fault per
/// drawn crash point and the message rule).
#[test]
fn every_draw_on_every_raft_scenario_is_valid_and_applied() {
    let all = raft_kv_scenarios();
    assert!(all.len() >= 10, "found only {} Raft scenarios", all.len());
    for (path, base) in &all {
        for seed in 0..200 {
            let (s, d) = seed_scenario(base, seed, true);
            let d = d.expect("swarm mode draws");
            let f = &d.features;
            let raft = s.spec.cluster.raft.clone().unwrap_or_default();
            let ctx = format!("{} seed {seed}: {f:?}", path.display());
            assert_eq!(
                s.spec.cluster.nodes,
                f.nodes.unwrap_or(base.spec.cluster.nodes),
                "{ctx}"
            );
            assert!(d.max_down <= (s.spec.cluster.nodes - 1) / 2, "{ctx}");
            if let Some(m) = f.max_entries_per_append {
                assert_eq!(raft.max_entries_per_append, m, "{ctx}");
            }
            if f.timeout_ratio.is_some() {
                assert!(raft.heartbeat_ms < raft.election_timeout_ms[0], "{ctx}");
            }
            let added = [&f.bounce, &f.leader_crash, &f.leader_link_cut]
                .iter()
                .filter(|r| r.as_ref().is_some_and(|r| r.at_ms <= s.spec.duration_ms))
                .count();
            let protocol = f.crash_at.as_ref().map_or(0, |c| c.points.len())
                + usize::from(f.message.is_some())
                + usize::from(f.pattern.is_some());
            assert_eq!(
                s.spec.faults.len(),
                base.spec.faults.len() + added + protocol,
                "{ctx}"
            );
        }
    }
}

/// Outside the bundles, each feature (and the pattern) is on in 35-65 %
/// of the self-test scenario's seeds (cluster size too: it has 5 nodes
/// and no scripted faults); the bundles take about 15 % and 10 % of
/// 2,000 seeds; and the nemesis part of a draw does not depend on the
/// features.
#[test]
fn features_are_on_in_about_half_the_seeds() {
    let base = Scenario::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/sweep/selftest.json"),
    )
    .unwrap();
    let all = 2000u64;
    let mut n = 0u64;
    let mut on = [0u64; 10];
    let mut bundles = std::collections::BTreeMap::<String, u64>::new();
    for seed in 0..all {
        let d = swarm::draw_for(seed, &base.spec);
        let f = &d.features;
        let plain = swarm::draw(seed, 5, base.spec.nemesis.as_ref());
        assert_eq!(plain.kinds, d.kinds);
        assert_eq!(plain.mean_interval_ms, d.mean_interval_ms);
        if let Some(b) = &f.bundle {
            *bundles.entry(b.clone()).or_default() += 1;
            continue;
        }
        n += 1;
        let flags = [
            f.nodes.is_some(),
            f.max_entries_per_append.is_some(),
            f.timeout_ratio.is_some(),
            f.disk_sync_ms.is_some(),
            f.bounce.is_some(),
            f.leader_crash.is_some(),
            f.leader_link_cut.is_some(),
            f.crash_at.is_some(),
            f.message.is_some(),
            f.pattern.is_some(),
        ];
        for (c, b) in on.iter_mut().zip(flags) {
            *c += u64::from(b);
        }
        assert_eq!(swarm::draw_for(seed, &base.spec), d, "seed {seed} repeats");
        if let Some(r) = f.timeout_ratio {
            assert!((3.0..=30.0).contains(&r), "{r}");
        }
        if let Some(b) = &f.bounce {
            assert!(
                b.restart_after_ms.unwrap() <= 2.0 && b.every_ms >= 5.0,
                "{b:?}"
            );
        }
    }
    for (i, c) in on.iter().enumerate() {
        assert!(
            (n * 35 / 100..=n * 65 / 100).contains(c),
            "feature {i} on in {c} of {n} seeds"
        );
    }
    let share = |b: &str| bundles.get(b).copied().unwrap_or(0) as f64 / all as f64;
    assert!(
        (0.12..0.18).contains(&share("replication_crash")),
        "{bundles:?}"
    );
    assert!(
        (0.07..0.13).contains(&share("election_churn")),
        "{bundles:?}"
    );
}

/// Targeted mode forces its target's features on in every seed of the
/// self-test: one entry per append, crash points and a pattern (all five
/// targets, each in about its share of 2,000 seeds), and every targeted
/// draw gives a valid scenario that carries it.
#[test]
fn targeted_mode_forces_the_features_on() {
    use agentsim::sweep::swarm::Mode;
    let base = Scenario::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/sweep/selftest.json"),
    )
    .unwrap();
    let mut targets = std::collections::BTreeMap::<String, u64>::new();
    for seed in 0..2000 {
        let d = swarm::draw_mode(seed, &base.spec, Mode::Targeted).unwrap();
        let f = &d.features;
        assert_eq!(f.max_entries_per_append, Some(1), "seed {seed}: {f:?}");
        assert!(f.crash_at.is_some(), "seed {seed}: {f:?}");
        assert!(f.pattern.is_some(), "seed {seed}: {f:?}");
        *targets.entry(f.bundle.clone().unwrap()).or_default() += 1;
        if seed < 200 {
            let (s, d2) = seed_scenario(&base, seed, Mode::Targeted);
            assert_eq!(d2.as_ref(), Some(&d));
            assert_eq!(s.spec.cluster.raft.unwrap().max_entries_per_append, 1);
        }
    }
    let expect = [
        ("targeted/figure8", 0.27),
        ("targeted/ack_durability", 0.14),
        ("targeted/election_churn", 0.3),
        ("targeted/election_dup", 0.1),
        ("targeted/vote_durability", 0.19),
    ];
    for (t, share) in expect {
        let got = targets.get(t).copied().unwrap_or(0) as f64 / 2000.0;
        assert!((got - share).abs() < 0.04, "{t}: {got} ({targets:?})");
    }
    assert_eq!(
        swarm::draw_mode(7, &base.spec, Mode::Swarm),
        Some(swarm::draw_for(7, &base.spec))
    );
    assert_eq!(swarm::draw_mode(7, &base.spec, Mode::Off), None);
}

/// A draw with features survives the JSON round trip of a result line,
/// and a result line without `features` (written before they existed)
/// still reads.
#[test]
fn draws_round_trip_and_old_lines_read() {
    let base = Scenario::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/sweep/selftest.json"),
    )
    .unwrap();
    for seed in 0..50 {
        let d = swarm::draw_for(seed, &base.spec);
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(serde_json::from_str::<swarm::SwarmDraw>(&json).unwrap(), d);
    }
    let old = r#"{"kinds":["crash"],"mean_interval_ms":300.0,"duration_ms":[20.0,40.0],"max_down":1,"drop":0.0,"duplicate":0.0}"#;
    let d: swarm::SwarmDraw = serde_json::from_str(old).unwrap();
    assert!(d.features.is_empty());
}

/// A scenario whose nemesis stops early (a fault-free tail, so liveness
/// is judged) gets no repeating fault features; the others still apply.
#[test]
fn fault_free_tail_gets_no_repeating_faults() {
    let base = Scenario::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/sweep/nemesis-heal.json"),
    )
    .unwrap();
    assert!(base.spec.nemesis.as_ref().unwrap().until_ms.is_some());
    let mut other = 0;
    for seed in 0..200 {
        let f = swarm::draw_for(seed, &base.spec).features;
        assert!(f.bounce.is_none() && f.leader_crash.is_none() && f.leader_link_cut.is_none());
        other += u32::from(f.max_entries_per_append.is_some() || f.timeout_ratio.is_some());
        let (s, _) = seed_scenario(&base, seed, true);
        // Crash points and message rules end where the nemesis stops.
        let until = base.spec.nemesis.as_ref().unwrap().until_ms;
        let added = &s.spec.faults[base.spec.faults.len()..];
        assert!(added.iter().all(|x| x.for_ms == until), "{added:?}");
        let protocol = f.crash_at.as_ref().map_or(0, |c| c.points.len())
            + usize::from(f.message.is_some())
            + usize::from(f.pattern.is_some());
        assert_eq!(added.len(), protocol);
    }
    assert!(other > 100, "{other}");
}
