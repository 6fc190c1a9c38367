//! Snapshots and recovery: InstallSnapshot, corrupt snapshots, restarts
//! from the synced records (§3.8, §5).

use super::*;

fn snapshot_config(nodes: u32) -> RaftConfig {
    RaftConfig {
        nodes,
        snapshot_every: 5,
        ..RaftConfig::default()
    }
}

/// Build a 3-node cluster where n2 was isolated while the others applied
/// and compacted 20 writes (§5.1).
fn cluster_with_lagging_follower() -> Cluster {
    let mut c = Cluster::with(snapshot_config(3));
    c.elect(0);
    c.heartbeat(0);
    c.isolate(2);
    for seq in 1..=20 {
        c.request(0, seq, write(seq as i64, seq as i64 * 10));
        c.deliver_all();
    }
    c.heartbeat(0);
    assert!(c.node(0).snapshot_last_index() >= LogIndex(15));
    assert!(c.node(1).snapshot_last_index() >= LogIndex(15));
    assert_eq!(c.node(2).last_log_index(), LogIndex(1));
    c
}

/// A follower behind the compacted prefix catches up by InstallSnapshot
/// and then by appends (§5.3); it can restart from its compacted disk.
#[test]
fn lagging_follower_catches_up_by_install_snapshot() {
    let mut c = cluster_with_lagging_follower();
    c.heal();
    c.heartbeat(0);
    c.heartbeat(0);
    assert_eq!(c.delivered.get("install_snapshot"), Some(&1));
    assert!(c.node(2).snapshot_last_index() >= LogIndex(15));
    assert_eq!(c.node(2).commit_index(), c.node(0).commit_index());
    assert_eq!(c.node(2).state_machine(), c.node(0).state_machine());
    assert_eq!(
        c.node(2).sessions(),
        c.node(0).sessions(),
        "sessions travel in snapshots"
    );
    assert_eq!(c.log_of(2), c.log_of(0));
    // Disks stay compact: one rewrite holds hard state, snapshot, entries.
    assert!(
        c.disks[0].durable.len() <= 3 + 5,
        "{}",
        c.disks[0].durable.len()
    );
    let state = c.node(2).state_machine().clone();
    c.crash(2);
    c.restart(2).unwrap();
    assert_eq!(c.node(2).last_log_index(), c.node(0).last_log_index());
    assert_eq!(c.node(2).last_applied(), c.node(2).snapshot_last_index());
    c.heartbeat(0);
    assert_eq!(c.node(2).state_machine(), &state);
}

/// A snapshot whose bytes do not match its checksum is never applied: on
/// recovery it is an error, and over the network it is rejected.
#[test]
fn corrupt_snapshot_is_rejected_on_recover_and_install() {
    let mut c = cluster_with_lagging_follower();
    // On recovery.
    let mut records = c.disks[1].durable.clone();
    let mut corrupted = false;
    for r in &mut records {
        if let Record::Snapshot { data, .. } = r {
            let mut bytes = data.to_vec();
            let last = bytes.len() - 1;
            bytes[last] ^= 0x40;
            *data = Rc::from(bytes);
            corrupted = true;
        }
    }
    assert!(corrupted);
    let err = Node::recover(N1, c.cfg.clone(), &records).unwrap_err();
    assert!(matches!(err, RecoverError::CorruptSnapshot { .. }), "{err}");

    // In flight.
    c.heal();
    c.fire(0, TIMER_HEARTBEAT);
    assert!(c.deliver_until(|c| c
        .queue
        .iter()
        .any(|(_, _, m)| matches!(m, Msg::InstallSnapshot(_)))));
    for (_, _, m) in c.queue.iter_mut() {
        if let Msg::InstallSnapshot(InstallSnapshot { data, .. }) = m {
            let mut bytes = data.to_vec();
            bytes[10] ^= 1;
            *data = Rc::from(bytes);
        }
    }
    assert!(c.deliver_until(|c| c
        .queue
        .iter()
        .any(|(_, _, m)| matches!(m, Msg::InstallSnapshotResp(_)))));
    assert!(c.queue.iter().any(|(_, _, m)| matches!(
        m,
        Msg::InstallSnapshotResp(InstallSnapshotResp { success: false, .. })
    )));
    assert_eq!(c.node(2).snapshot_last_index(), LogIndex(0));
    assert!(c.node(2).state_machine().is_empty());
    // The leader retries later with good bytes.
    for _ in 0..6 {
        c.heartbeat(0);
    }
    assert_eq!(c.node(2).state_machine(), c.node(0).state_machine());
}

/// Crash and recovery: a restarted follower rebuilds its log from synced
/// records, re-applies after learning the commit index, and the cluster
/// keeps going (§3.8).
#[test]
fn restarted_follower_recovers_log_and_state() {
    let mut c = Cluster::new(3);
    c.elect(0);
    for seq in 1..=10 {
        c.request(0, seq, write(seq as i64, 1));
    }
    c.deliver_all();
    c.heartbeat(0);
    let log = c.log_of(1);
    c.crash(1);
    c.restart(1).unwrap();
    assert_eq!(c.log_of(1), log);
    assert_eq!(c.node(1).current_term(), Term(1));
    assert_eq!(
        c.node(1).last_applied(),
        LogIndex(0),
        "applied state is volatile"
    );
    c.heartbeat(0);
    assert_eq!(c.node(1).last_applied(), LogIndex(11));
    assert_eq!(c.node(1).state_machine(), c.node(0).state_machine());
}

/// An InstallSnapshot from an older term (a deposed leader's, §3.3) is
/// refused with the receiver's term and changes nothing; only a current
/// leader may replace a follower's state.
#[test]
fn install_snapshot_from_an_older_term_is_refused() {
    let mut c = cluster_with_lagging_follower();
    c.heal();
    c.fire(0, TIMER_HEARTBEAT);
    let to_n2 = |(_, t, m): &(NodeId, NodeId, M)| *t == N2 && matches!(m, Msg::InstallSnapshot(_));
    assert!(c.deliver_until(|c| c.queue.iter().any(to_n2)));
    let pos = c.queue.iter().position(to_n2).expect("queued");
    let snapshot = c.queue.remove(pos).expect("queued");
    c.queue.clear();
    // n2 moves on to term 9 (a vote request of a later election).
    c.advance_ms(1_000);
    let (last_log_index, last_log_term) = (c.node(2).last_log_index(), c.node(2).last_log_term());
    c.queue.push_back((
        N1,
        N2,
        Msg::RequestVote(RequestVote {
            term: Term(9),
            last_log_index,
            last_log_term,
        }),
    ));
    assert!(c.deliver_one());
    assert_eq!(c.node(2).current_term(), Term(9));
    c.queue.clear();
    // The term-1 leader's snapshot arrives late.
    c.queue.push_back(snapshot);
    assert!(c.deliver_one());
    assert_eq!(c.node(2).snapshot_last_index(), LogIndex(0));
    assert!(c.node(2).state_machine().is_empty());
    assert_eq!(c.node(2).current_term(), Term(9));
    assert!(
        c.queue.iter().any(|(f, t, m)| *f == N2
            && *t == N0
            && matches!(
                m,
                Msg::InstallSnapshotResp(InstallSnapshotResp {
                    success: false,
                    term: Term(9),
                    ..
                })
            )),
        "{:?}",
        c.queue
    );
}

/// Recovery reads an Entries record that starts inside the snapshot (a
/// write made before the snapshot that compacted it, §5.1) by skipping the
/// covered entries and keeping the rest at their own indexes: the log
/// rebuilt equals the one the node had.
#[test]
fn recovery_skips_entries_a_snapshot_already_covers() {
    let mut c = cluster_with_lagging_follower();
    c.request(0, 21, write(21, 210));
    c.deliver_all();
    c.heartbeat(0);
    let records = c.disks[0].durable.clone();
    let snap = c.node(0).snapshot_last_index();
    let pos = records
        .iter()
        .position(|r| matches!(r, Record::Entries { first, .. } if *first == LogIndex(snap.0 + 1)))
        .expect("an Entries record right after the snapshot");
    // The same record, as if written before the snapshot: two covered
    // entries (content unlike any live entry: they must be skipped) ahead
    // of the live ones.
    let mut moved = records.clone();
    if let Record::Entries { first, entries } = &mut moved[pos] {
        let filler = Entry::noop(Term(0));
        entries.insert(0, filler.clone());
        entries.insert(0, filler);
        *first = LogIndex(first.0 - 2);
    }
    let original = Node::recover(N0, c.cfg.clone(), &records).expect("recovers");
    let rebuilt = Node::recover(N0, c.cfg.clone(), &moved).expect("recovers");
    assert!(
        original.last_log_index() > snap,
        "live entries after the snapshot"
    );
    assert_eq!(
        rebuilt.log_entries().collect::<Vec<_>>(),
        original.log_entries().collect::<Vec<_>>()
    );
    assert_eq!(rebuilt.snapshot_last_index(), snap);
}
