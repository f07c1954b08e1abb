//! A follower copying a leader log with gaps (compaction) and one the leader's retention left
//! behind.

use super::*;
use crate::policy::single_leader::follower::Batch;
use crate::storage::segment::SegmentedLog;

fn entry(index: u64, epoch: u64, key: Key) -> Entry {
    Entry {
        index,
        epoch,
        key,
        value: Some(ValueId(index)),
    }
}

fn follower_with(net: &mut Net, entries: &[Entry], epoch: u64) {
    let node = &mut net.nodes[N2.index()];
    node.log = SegmentedLog::default();
    for e in entries {
        node.log.append(*e, 0);
    }
    node.rebuild_kv();
    node.epoch = epoch;
    net.wire.clear();
}

fn offsets(net: &Net, id: NodeId) -> Vec<u64> {
    net.nodes[id.index()].log.iter().map(|e| e.index).collect()
}

fn reply_to_leader(net: &Net) -> Option<Reply> {
    net.wire.iter().find_map(|(from, to, m)| match m {
        LeaderMsg::AppendReply { reply, .. } if *from == N2 && *to == N1 => Some(*reply),
        _ => None,
    })
}

#[test]
fn a_follower_drops_a_divergent_suffix_hidden_in_the_leaders_compaction_gap() {
    let mut net = Net::new(3, config(Replication::Async));
    // n2 holds 1..2 of epoch 1 and 3..5 written by a deposed leader in epoch 2.
    let mine = [
        entry(1, 1, 1),
        entry(2, 1, 2),
        entry(3, 2, 3),
        entry(4, 2, 4),
        entry(5, 2, 5),
    ];
    follower_with(&mut net, &mine, 2);
    // The epoch-3 leader holds 1, 2 and then 7, 8: its own 3..6 were compacted away.
    let batch = Batch {
        epoch: 3,
        log_start: 1,
        prev_index: 2,
        prev_epoch: 1,
        hw: 8,
        last: 8,
        entries: vec![entry(7, 3, 1), entry(8, 3, 6)],
    };
    net.run(N2, |p, ctx| p.on_append(ctx, N1, batch));
    assert_eq!(
        offsets(&net, N2),
        vec![1, 2, 7, 8],
        "3..5 are gone, 6 is a gap"
    );
    assert_eq!(reply_to_leader(&net), Some(Reply::Matched(8)));
    assert_eq!(
        net.value(N2, 3),
        None,
        "the deposed leader's write to key 3 is undone"
    );
    assert_eq!(net.value(N2, 1), Some(ValueId(7)));
    assert_eq!(net.nodes[N2.index()].epoch_at(8), 3);
}

#[test]
fn a_follower_keeps_what_it_shares_with_the_leader_across_a_gap() {
    let mut net = Net::new(3, config(Replication::Async));
    let mine = [entry(1, 1, 1), entry(2, 1, 1), entry(3, 1, 2)];
    follower_with(&mut net, &mine, 1);
    // The leader compacted 1 and 2 (key 1 is rewritten at 4); its batch from 0 holds 3 and 4.
    let batch = Batch {
        epoch: 1,
        log_start: 1,
        prev_index: 0,
        prev_epoch: 0,
        hw: 4,
        last: 4,
        entries: vec![entry(3, 1, 2), entry(4, 1, 1)],
    };
    net.run(N2, |p, ctx| p.on_append(ctx, N1, batch));
    // 3 is the same entry (same index and epoch); before it, n2 keeps its own records.
    assert_eq!(offsets(&net, N2), vec![1, 2, 3, 4]);
    assert_eq!(net.value(N2, 1), Some(ValueId(4)));
}

#[test]
fn a_follower_the_leader_no_longer_has_records_for_starts_over_at_the_log_start() {
    let mut net = Net::new(3, config(Replication::Async));
    follower_with(&mut net, &[entry(1, 1, 1), entry(2, 1, 2)], 1);
    // Retention deleted the leader's 1..9: it sends from its log start, 10.
    let batch = Batch {
        epoch: 1,
        log_start: 10,
        prev_index: 9,
        prev_epoch: 1,
        hw: 11,
        last: 11,
        entries: vec![entry(10, 1, 3), entry(11, 1, 4)],
    };
    net.run(N2, |p, ctx| p.on_append(ctx, N1, batch));
    assert_eq!(offsets(&net, N2), vec![10, 11]);
    assert_eq!(net.nodes[N2.index()].log.first_index(), 10);
    assert_eq!(reply_to_leader(&net), Some(Reply::Matched(11)));
    assert_eq!(
        net.value(N2, 1),
        None,
        "what only the deleted records held is gone"
    );
    assert!(net.noted("offset out of range"));
}
