use super::*;

fn net(n: usize, reorder: bool, drop: f64, duplicate: f64) -> Network {
    Network::new(
        NetConfig {
            default: LinkParams {
                latency: Dist::Uniform {
                    min: 5.0,
                    max: 10.0,
                },
                drop,
                duplicate,
            },
            reorder,
            links: BTreeMap::new(),
        },
        n,
    )
}

fn reach(net: &Network, n: u32) -> Vec<(u32, u32)> {
    let mut v = Vec::new();
    for a in 0..n {
        for b in 0..n {
            if a != b && net.connected(NodeId(a), NodeId(b)) {
                v.push((a, b));
            }
        }
    }
    v
}

/// A symmetric partition blocks exactly the links between groups.
#[test]
fn partition_blocks_exactly_cross_group_links() {
    let mut n = net(5, true, 0.0, 0.0);
    n.partition(&[
        vec![NodeId(0), NodeId(1)],
        vec![NodeId(2), NodeId(3), NodeId(4)],
    ]);
    let r = reach(&n, 5);
    for a in 0..5u32 {
        for b in 0..5u32 {
            if a == b {
                continue;
            }
            let same = (a < 2) == (b < 2);
            assert_eq!(r.contains(&(a, b)), same, "{a}->{b}");
        }
    }
    n.heal();
    assert_eq!(reach(&n, 5).len(), 20);
}

/// A one-way cut blocks one direction only; a partial partition (A↮B)
/// leaves both reaching C.
#[test]
fn one_way_cut_is_one_way_and_partial_partition_keeps_third_party() {
    let mut n = net(3, true, 0.0, 0.0);
    let cut = LinkFault {
        drop: 1.0,
        extra_latency: SimDuration::ZERO,
    };
    n.set_link_fault(NodeId(0), NodeId(1), cut);
    assert!(!n.connected(NodeId(0), NodeId(1)));
    assert!(n.connected(NodeId(1), NodeId(0)));
    n.set_link_fault(NodeId(1), NodeId(0), cut);
    assert!(!n.connected(NodeId(1), NodeId(0)));
    for (a, b) in [(0, 2), (2, 0), (1, 2), (2, 1)] {
        assert!(n.connected(NodeId(a), NodeId(b)));
    }
}

/// Without reordering, deliveries on one link never overtake each other.
#[test]
fn fifo_holds_when_reorder_is_false() {
    let mut n = net(2, false, 0.0, 0.2);
    let mut rng = SimRng::derive(1, "t");
    let mut last = SimTime::ZERO;
    for i in 0..10_000u64 {
        match n.route(SimTime(i * 100), NodeId(0), NodeId(1), "m", 10, &mut rng) {
            Route::Deliver { at, dup } => {
                assert!(at >= last);
                last = at;
                if let Some(d) = dup {
                    assert!(d >= last);
                    last = d;
                }
            }
            Route::Dropped(c) => panic!("unexpected drop {c:?}"),
        }
    }
    // With reordering on, the same sends do overtake each other.
    let mut n = net(2, true, 0.0, 0.0);
    let mut overtakes = 0;
    let mut last = SimTime::ZERO;
    for i in 0..10_000u64 {
        if let Route::Deliver { at, .. } =
            n.route(SimTime(i * 100), NodeId(0), NodeId(1), "m", 10, &mut rng)
        {
            if at < last {
                overtakes += 1;
            }
            last = last.max(at);
        }
    }
    assert!(overtakes > 100, "only {overtakes} overtakes");
}

/// Observed drop and duplicate rates match their probabilities within
/// 5 standard deviations over 100k messages.
#[test]
fn drop_and_duplicate_rates_match_probabilities() {
    let (p_drop, p_dup, trials) = (0.1, 0.05, 100_000u64);
    let mut n = net(2, true, p_drop, p_dup);
    let mut rng = SimRng::derive(2, "t");
    for i in 0..trials {
        n.route(SimTime(i), NodeId(0), NodeId(1), "m", 10, &mut rng);
    }
    let c = &n.counters;
    let drops = c.dropped[DropCause::Random as usize] as f64;
    let sd = (trials as f64 * p_drop * (1.0 - p_drop)).sqrt();
    assert!(
        (drops - trials as f64 * p_drop).abs() < 5.0 * sd,
        "drops {drops}"
    );
    let delivered = trials as f64 - drops;
    let sd = (delivered * p_dup * (1.0 - p_dup)).sqrt();
    let dups = c.duplicated as f64;
    assert!((dups - delivered * p_dup).abs() < 5.0 * sd, "dups {dups}");
    assert_eq!(c.sent, trials);
}
