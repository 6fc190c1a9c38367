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

/// Sends must come in time order: a send earlier than the previous one
/// means the caller's clock ran backwards (the FIFO clamp would then
/// order a link by it).
#[test]
#[should_panic(expected = "time ran backwards")]
fn routing_back_in_time_is_refused() {
    let mut n = net(3, false, 0.0, 0.0);
    let mut rng = SimRng::derive(1, "t");
    n.route(SimTime(10_000), NodeId(0), NodeId(1), "m", 8, &mut rng);
    n.route(SimTime(5_000), NodeId(0), NodeId(1), "m", 8, &mut rng);
}

/// Routing in time order passes, and the FIFO clamp keeps every link's
/// deliveries in send order and never before the send.
#[test]
fn fifo_clamp_is_monotone_per_link() {
    let mut n = net(3, false, 0.0, 0.3);
    let mut rng = SimRng::derive(4, "t");
    let mut last = [[SimTime::ZERO; 3]; 3];
    for i in 0..2_000u64 {
        let now = SimTime(i * 300);
        let (a, b) = ((i % 3) as u32, ((i + 1) % 3) as u32);
        if let Route::Deliver { at, dup } = n.route(now, NodeId(a), NodeId(b), "m", 8, &mut rng) {
            for t in std::iter::once(at).chain(dup) {
                assert!(t >= now && t >= last[a as usize][b as usize]);
                last[a as usize][b as usize] = t;
            }
        }
    }
}

/// The clamp itself refuses a delivery before its send.
#[test]
#[should_panic(expected = "before its send")]
fn delivery_before_send_is_refused() {
    let mut last = SimTime::ZERO;
    fifo_clamp(&mut last, SimTime(100), SimTime(99));
}

#[test]
#[should_panic(expected = "is in two partition groups")]
fn node_in_two_partition_groups_is_refused() {
    let mut n = net(3, false, 0.0, 0.0);
    n.partition(&[vec![NodeId(0), NodeId(1)], vec![NodeId(1), NodeId(2)]]);
}

#[test]
#[should_panic(expected = "but the network has 3 addresses")]
fn partition_outside_the_network_is_refused() {
    let mut n = net(3, false, 0.0, 0.0);
    n.partition(&[vec![NodeId(0)], vec![NodeId(3)]]);
}

#[test]
#[should_panic(expected = "is not a probability")]
fn link_fault_drop_nan_is_refused() {
    let mut n = net(3, false, 0.0, 0.0);
    let fault = LinkFault {
        drop: f64::NAN,
        extra_latency: SimDuration::ZERO,
    };
    n.set_link_fault(NodeId(0), NodeId(1), fault);
}
