//! The leaderless policy's semantics, driven by hand on a synchronous network (harness.rs), and
//! mirroring Cassandra's and Dynamo's documented behaviour where they have one.

#[path = "../common/mod.rs"]
mod common;
mod harness;
mod lessons;
mod siblings;

use capsim::policy::leaderless::QuorumTimer;
use capsim::policy::{FailReason, Note, OpResult};
use capsim::scenario::schema::{ConflictResolution, Consistency};
use capsim::types::{NodeId, ValueId};
use harness::{Net, config};

const KEY: u32 = 3;

fn levels(read: Consistency, write: Consistency) -> capsim::policy::leaderless::LeaderlessConfig {
    let mut c = config(3, 3, 10);
    c.read_level = Some(read);
    c.write_level = Some(write);
    c.failure_detector = true;
    c
}

/// Lets every node's failure detector notice who is down (silence longer than convict_after).
fn convict(net: &mut Net) {
    net.advance_ms(600);
    net.tick(QuorumTimer::Gossip);
}

fn written(r: Option<OpResult>) -> bool {
    matches!(r, Some(OpResult::Written(_)))
}

#[test]
fn quorum_succeeds_with_one_of_three_down_and_is_unavailable_with_two() {
    // Cassandra's docs: with RF 3, QUORUM (2) tolerates one replica down, not two.
    let mut net = Net::new(3, &levels(Consistency::Quorum, Consistency::Quorum));
    net.crash(2);
    convict(&mut net);
    assert!(written(net.write(0, KEY, 11)));
    assert_eq!(net.read(0, KEY), Some(OpResult::Read(Some(ValueId(11)))));
    net.crash(1);
    convict(&mut net);
    let unavailable = Some(OpResult::Failed(FailReason::Unavailable));
    assert_eq!(net.write(0, KEY, 12), unavailable);
    assert_eq!(net.read(0, KEY), unavailable);
    // Nothing was written: the coordinator's own replica still holds the old value.
    assert_eq!(net.stored(0, KEY), Some(11));
    let notes = net.count_notes(|n| {
        matches!(
            n,
            Note::Unavailable {
                alive: 1,
                needed: 2,
                ..
            }
        )
    });
    assert_eq!(notes, 2);
}

#[test]
fn one_and_all_need_one_and_every_replica() {
    let mut net = Net::new(3, &levels(Consistency::One, Consistency::All));
    net.crash(2);
    convict(&mut net);
    assert_eq!(
        net.write(0, KEY, 5),
        Some(OpResult::Failed(FailReason::Unavailable))
    );
    let mut c = levels(Consistency::One, Consistency::Two);
    c.failure_detector = true;
    let mut net = Net::new(3, &c);
    net.crash(1);
    net.crash(2);
    convict(&mut net);
    assert_eq!(
        net.read(0, KEY),
        Some(OpResult::Read(None)),
        "ONE reads alone"
    );
    assert!(!written(net.write(0, KEY, 6)), "TWO needs two");
}

#[test]
fn a_replica_dying_unnoticed_times_out_as_unknown_and_is_not_rolled_back() {
    let mut net = Net::new(3, &levels(Consistency::All, Consistency::All));
    net.crash(2); // the detector has not noticed yet
    assert_eq!(net.write(0, KEY, 7), None, "waits for the dead replica");
    net.advance_ms(1300);
    net.tick(QuorumTimer::Reap);
    let last = net.replies.last().map(|(_, r)| *r);
    assert_eq!(last, Some(OpResult::Unknown(FailReason::Timeout)));
    assert_eq!(
        net.stored(0, KEY),
        Some(7),
        "the write stays where it landed"
    );
    assert_eq!(net.stored(1, KEY), Some(7));
}

#[test]
fn a_level_read_sends_one_data_request_and_digests_for_the_rest() {
    let mut c = levels(Consistency::All, Consistency::One);
    c.ring = std::sync::Arc::new(capsim::policy::ring::Ring::new(5, 8, 3, 10));
    let mut net = Net::new(5, &c);
    let replicas = net.replicas(KEY);
    let outsider = (0..5u16).find(|n| !replicas.contains(&NodeId(*n))).unwrap();
    net.sent.clear();
    net.read(outsider, KEY);
    let asked: Vec<_> = net.sent.iter().filter(|k| k.ends_with("_req")).collect();
    assert_eq!(asked.iter().filter(|k| **k == &"read_req").count(), 1);
    assert_eq!(asked.iter().filter(|k| **k == &"digest_req").count(), 2);
}

/// n3 misses a write while it is down (no failure detector: the write is simply lost to it).
fn stale_third_replica(read_repair: bool) -> Net {
    let mut c = levels(Consistency::All, Consistency::One);
    c.failure_detector = false;
    c.read_repair = read_repair;
    let mut net = Net::new(3, &c);
    net.crash(2);
    assert!(written(net.write(0, KEY, 21)));
    net.restart(2);
    net.deliver();
    assert_eq!(net.stored(2, KEY), None);
    net
}

#[test]
fn blocking_read_repair_fixes_the_stale_replica_before_answering() {
    let mut net = stale_third_replica(true);
    net.sent.clear();
    assert_eq!(net.read(0, KEY), Some(OpResult::Read(Some(ValueId(21)))));
    assert_eq!(net.stored(2, KEY), Some(21));
    assert!(net.sent.contains(&"digest_req") && net.sent.contains(&"read_req"));
    assert!(net.sent.contains(&"repair"));
    let repairs = net.count_notes(|n| matches!(n, Note::ReadRepair { to: NodeId(2), .. }));
    assert_eq!(repairs, 1);
}

#[test]
fn without_read_repair_the_read_is_right_but_the_replica_stays_stale() {
    let mut net = stale_third_replica(false);
    assert_eq!(net.read(0, KEY), Some(OpResult::Read(Some(ValueId(21)))));
    assert_eq!(net.stored(2, KEY), None);
}

#[test]
fn background_read_repair_repairs_every_replica_after_answering() {
    let mut net = stale_third_replica(false);
    for node in &mut net.nodes {
        let mut c = levels(Consistency::One, Consistency::One);
        c.failure_detector = false;
        c.read_repair_chance = 1.0;
        capsim::policy::Policy::reconfigure(node, &c);
    }
    assert_eq!(net.read(0, KEY), Some(OpResult::Read(Some(ValueId(21)))));
    assert_eq!(net.stored(2, KEY), Some(21));
}

#[test]
fn any_accepts_a_hint_when_every_replica_is_down_and_the_hint_is_replayed() {
    let mut c = config(4, 3, 10);
    c.write_level = Some(Consistency::Any);
    c.failure_detector = true;
    c.hinted_handoff = true;
    let mut net = Net::new(4, &c);
    let replicas = net.replicas(KEY);
    let coordinator = (0..4u16).find(|n| !replicas.contains(&NodeId(*n))).unwrap();
    for r in &replicas {
        net.crash(r.0);
    }
    convict(&mut net);
    assert!(
        written(net.write(coordinator, KEY, 31)),
        "a hint satisfies ANY"
    );
    assert_eq!(net.count_notes(|n| matches!(n, Note::HintStored { .. })), 3);
    for r in &replicas {
        net.restart(r.0);
    }
    net.advance_ms(100);
    net.tick(QuorumTimer::Gossip);
    net.tick(QuorumTimer::Gossip);
    for r in &replicas {
        assert_eq!(net.stored(r.0, KEY), Some(31), "{r} got its hint");
    }
    assert!(net.count_notes(|n| matches!(n, Note::HintReplayed { .. })) >= 3);
}

#[test]
fn a_hint_does_not_count_toward_one() {
    // Cassandra: only ANY may be satisfied by a hint; ONE with every replica down is Unavailable.
    let mut c = config(4, 3, 10);
    c.write_level = Some(Consistency::One);
    c.failure_detector = true;
    c.hinted_handoff = true;
    let mut net = Net::new(4, &c);
    let replicas = net.replicas(KEY);
    let coordinator = (0..4u16).find(|n| !replicas.contains(&NodeId(*n))).unwrap();
    for r in &replicas {
        net.crash(r.0);
    }
    convict(&mut net);
    assert_eq!(
        net.write(coordinator, KEY, 41),
        Some(OpResult::Failed(FailReason::Unavailable))
    );
    assert_eq!(net.count_notes(|n| matches!(n, Note::HintStored { .. })), 0);
    net.restart(replicas[0].0);
    net.advance_ms(1);
    net.tick(QuorumTimer::Gossip);
    assert!(
        written(net.write(coordinator, KEY, 42)),
        "one live replica is enough"
    );
    assert_eq!(net.count_notes(|n| matches!(n, Note::HintStored { .. })), 2);
}

#[test]
fn no_hints_for_a_node_down_longer_than_the_hint_window() {
    let mut c = levels(Consistency::One, Consistency::One);
    c.hinted_handoff = true;
    c.max_hint_window_us = 1_000_000;
    let mut net = Net::new(3, &c);
    net.crash(2);
    convict(&mut net);
    assert!(written(net.write(0, KEY, 51)));
    assert_eq!(net.count_notes(|n| matches!(n, Note::HintStored { .. })), 1);
    net.advance_ms(2000);
    assert!(written(net.write(0, KEY, 52)));
    assert_eq!(net.count_notes(|n| matches!(n, Note::HintStored { .. })), 1);
}

#[test]
fn sloppy_quorum_writes_to_a_stand_in_that_hands_the_write_over() {
    let mut c = config(5, 3, 10);
    c.write_level = Some(Consistency::Quorum);
    c.read_level = Some(Consistency::Quorum);
    c.failure_detector = true;
    c.sloppy_quorum = true;
    let mut net = Net::new(5, &c);
    let replicas = net.replicas(KEY);
    let outsiders: Vec<u16> = (0..5u16)
        .filter(|n| !replicas.contains(&NodeId(*n)))
        .collect();
    net.crash(replicas[1].0);
    net.crash(replicas[2].0);
    convict(&mut net);
    assert!(
        written(net.write(replicas[0].0, KEY, 61)),
        "two healthy nodes took it"
    );
    let stand_in = outsiders[0];
    assert_eq!(
        net.stored(stand_in, KEY),
        None,
        "kept aside as a hint, not as data"
    );
    net.restart(replicas[1].0);
    net.restart(replicas[2].0);
    net.advance_ms(100);
    net.tick(QuorumTimer::Gossip);
    net.tick(QuorumTimer::Gossip);
    assert_eq!(net.stored(replicas[1].0, KEY), Some(61));
}

fn tombstones(gc_grace_ms: u64) -> Net {
    let mut c = levels(Consistency::One, Consistency::One);
    c.failure_detector = false;
    c.gc_grace_us = Some(gc_grace_ms * 1000);
    c.anti_entropy_interval_us = Some(1_000_000);
    Net::new(3, &c)
}

#[test]
fn a_tombstone_is_kept_for_gc_grace_then_purged() {
    let mut net = tombstones(1000);
    assert!(written(net.write(0, KEY, 71)));
    assert!(written(net.delete(0, KEY)));
    net.advance_ms(500);
    net.tick(QuorumTimer::Compact);
    assert!(net.cell(0, KEY).is_some(), "still a tombstone");
    assert_eq!(net.stored(0, KEY), None);
    net.advance_ms(600);
    net.tick(QuorumTimer::Compact);
    assert!(net.cell(0, KEY).is_none(), "purged");
    assert_eq!(
        net.count_notes(|n| matches!(n, Note::TombstonePurged { .. })),
        3
    );
}

#[test]
fn ties_go_to_the_tombstone_then_to_the_larger_value() {
    let mut net = tombstones(1000);
    net.advance_ms(1);
    net.request(0, capsim::types::OpKind::Write, KEY, Some(5));
    net.request(1, capsim::types::OpKind::Write, KEY, Some(9));
    net.request(2, capsim::types::OpKind::Write, KEY, Some(7));
    assert!((0..3).all(|n| net.stored(n, KEY) == Some(9)));
    net.advance_ms(1);
    net.request(0, capsim::types::OpKind::Write, KEY, Some(99));
    net.request(1, capsim::types::OpKind::Delete, KEY, None);
    assert!((0..3).all(|n| net.cell(n, KEY).is_some() && net.stored(n, KEY).is_none()));
}

/// n3 misses a delete; repair runs `repair_after_ms` after it.
fn zombie(repair_after_ms: u64) -> Net {
    let mut net = tombstones(1000);
    assert!(written(net.write(0, KEY, 81)));
    net.crash(2);
    assert!(written(net.delete(0, KEY)));
    net.restart(2);
    net.advance_ms(repair_after_ms);
    net.tick(QuorumTimer::Compact);
    net.tick(QuorumTimer::AntiEntropy);
    net.advance_ms(2000);
    net.tick(QuorumTimer::Compact);
    net.tick(QuorumTimer::AntiEntropy);
    net
}

#[test]
fn repair_after_gc_grace_brings_the_deleted_value_back() {
    let net = zombie(1500);
    assert!(net.count_notes(|n| matches!(n, Note::RangeMismatch { .. })) >= 1);
    for n in 0..3 {
        assert_eq!(net.stored(n, KEY), Some(81), "n{} holds the zombie", n + 1);
    }
}

#[test]
fn repair_within_gc_grace_spreads_the_tombstone_instead() {
    let net = zombie(500);
    for n in 0..3 {
        assert_eq!(net.stored(n, KEY), None);
        assert!(net.cell(n, KEY).is_none(), "purged everywhere in the end");
    }
}

#[test]
fn anti_entropy_streams_only_the_ranges_that_differ() {
    let mut c = levels(Consistency::One, Consistency::One);
    c.failure_detector = false;
    c.keys = 64;
    c.merkle_ranges = 16;
    c.ring = std::sync::Arc::new(capsim::policy::ring::Ring::new(3, 8, 3, 64));
    let mut net = Net::new(3, &c);
    for k in 0..64 {
        assert!(written(net.write(0, k, 100 + k as u64)));
    }
    net.tick(QuorumTimer::AntiEntropy);
    assert_eq!(
        net.count_notes(|n| matches!(n, Note::RangeMismatch { .. })),
        0
    );
    net.crash(2);
    assert!(written(net.write(0, 5, 1)));
    net.restart(2);
    net.tick(QuorumTimer::AntiEntropy);
    // n1-n3 and n2-n3 differ in key 5's range (keys 4..8): 4 cells each way.
    let streamed: Vec<(u32, u64)> = net
        .notes
        .iter()
        .filter_map(|(_, n)| match n {
            Note::RangeStreamed { keys, bytes, .. } => Some((*keys, *bytes)),
            _ => None,
        })
        .collect();
    assert_eq!(streamed, vec![(4, 24 + 4 * 28); 4]);
    assert_eq!(net.stored(2, 5), Some(1));
}

#[test]
fn first_write_wins_keeps_the_earliest_timestamp() {
    let mut c = levels(Consistency::One, Consistency::All);
    c.conflict = ConflictResolution::FirstWriteWins;
    let mut net = Net::new(3, &c);
    assert!(written(net.write(0, KEY, 1)));
    assert!(written(net.write(1, KEY, 2)));
    assert_eq!(net.read(2, KEY), Some(OpResult::Read(Some(ValueId(1)))));
}

/// A write acknowledged by one replica (W=1) through a coordinator that holds no replica, then a
/// read (R=1) that only reaches replicas the write missed.
fn stale_own_write(guarantees: u8) -> (Net, Option<OpResult>) {
    let mut c = config(5, 3, 10);
    c.read_quorum = 1;
    c.write_quorum = 1;
    c.ring = std::sync::Arc::new(capsim::policy::ring::Ring::new(5, 8, 3, 10));
    let mut net = Net::new(5, &c);
    net.guarantees = capsim::policy::Guarantees(guarantees);
    let r = net.replicas(KEY);
    let outsider = (0..5u16).find(|n| !r.contains(&NodeId(*n))).unwrap();
    net.down[r[1].index()] = true;
    net.down[r[2].index()] = true;
    assert!(written(net.write(outsider, KEY, 91)));
    net.down[r[1].index()] = false;
    net.down[r[2].index()] = false;
    net.down[r[0].index()] = true;
    let read = net.read(outsider, KEY);
    (net, read)
}

#[test]
fn read_your_writes_serves_the_sessions_own_write_over_a_stale_replica() {
    let (_, without) = stale_own_write(0);
    assert_eq!(without, Some(OpResult::Read(None)), "R=1 alone is stale");
    let ryw = capsim::policy::Guarantees::READ_YOUR_WRITES;
    let (net, with) = stale_own_write(ryw);
    assert_eq!(with, Some(OpResult::Read(Some(ValueId(91)))));
    assert_eq!(
        net.count_notes(|n| matches!(n, Note::SessionServed { .. })),
        1
    );
}

#[test]
fn monotonic_writes_stamp_a_sessions_write_after_its_previous_one_despite_the_clock() {
    let mut c = levels(Consistency::One, Consistency::All);
    c.failure_detector = false;
    let mut net = Net::new(3, &c);
    net.guarantees = capsim::policy::Guarantees(capsim::policy::Guarantees::MONOTONIC_WRITES);
    assert!(written(net.write(0, KEY, 1)));
    net.now_us -= 500; // the clock steps back, as a skewed coordinator's would
    assert!(written(net.request(
        0,
        capsim::types::OpKind::Write,
        KEY,
        Some(2)
    )));
    assert_eq!(net.stored(1, KEY), Some(2), "the later write wins");
}

#[test]
fn dynamo_quorums_are_refused_up_front_too_once_a_detector_knows() {
    let mut c = config(3, 3, 10);
    c.failure_detector = true; // R = W = 2, no levels
    let mut net = Net::new(3, &c);
    net.crash(1);
    net.crash(2);
    convict(&mut net);
    let unavailable = Some(OpResult::Failed(FailReason::Unavailable));
    assert_eq!(net.read(0, KEY), unavailable);
    assert_eq!(net.write(0, KEY, 3), unavailable);
}
