//! Snapshots at the message level: the receiver rules of InstallSnapshot (Raft Figure 13 and
//! the dissertation's chunked form) and the leader's switch from appends to the snapshot.

use super::*;
use crate::storage::kv::VersionedKv;
use std::sync::Arc;

fn snap_config(every: u64) -> RaftConfig {
    RaftConfig {
        snapshot: Some(SnapshotConfig {
            every_entries: every,
            retain_entries: 0,
            chunk_bytes: 40,
            bandwidth_bytes_per_s: 1e6,
            serve_stale: false,
        }),
        ..config()
    }
}

/// A snapshot at `index` of `term` holding key 7 = value 70 (88 bytes: 3 chunks of 40).
fn snapshot(index: u64, term: u64) -> Arc<Snapshot> {
    let mut kv = VersionedKv::default();
    kv.put(7, Some(ValueId(70)), Version(index, 0));
    Arc::new(Snapshot { index, term, kv })
}

/// Sends every chunk of `snap` in order from leader n1 (node 0) in `term`.
fn install(r: &mut Raft, term: u64, snap: &Arc<Snapshot>) -> Effects {
    let mut e = Vec::new();
    let mut offset = 0;
    while offset < snap.bytes() {
        let len = 40.min(snap.bytes() - offset);
        let msg = RaftMsg::InstallSnapshot {
            term,
            snap: snap.clone(),
            offset,
            len,
            commit: snap.index,
        };
        e = recv(r, 10, 0, msg);
        offset += len;
    }
    e
}

#[test]
fn install_keeps_the_log_after_a_matching_snapshot_entry() {
    // Figure 13 step 6: the follower holds entry 3 of term 1, as the snapshot says.
    let mut f = with_log(node_with(1, 3, &snap_config(0)), &[1, 1, 1, 1, 1]);
    f.term = 1;
    let e = install(&mut f, 1, &snapshot(3, 1));
    assert_eq!((f.log.first_index(), f.log.last_index()), (4, 5));
    assert_eq!((f.applied, f.compacted), (3, (3, 1)));
    assert_eq!(f.kv.get(7).and_then(|c| c.value), Some(ValueId(70)));
    let ok = RaftMsg::AppendResp {
        term: 1,
        index: 3,
        reject: None,
    };
    assert_eq!(sent(&e), vec![(NodeId(0), ok)]);
    assert!(!f.is_rebuilding(), "caught up with the leader's commit (3)");
}

#[test]
fn install_discards_a_log_that_conflicts_with_the_snapshot() {
    // Figure 13 step 7: entry 3 has term 1 here but term 2 in the snapshot.
    let mut f = with_log(node_with(1, 3, &snap_config(0)), &[1, 1, 1, 1, 1]);
    f.term = 2;
    install(&mut f, 2, &snapshot(3, 2));
    assert!(f.log.is_empty());
    assert_eq!(
        (f.log.first_index(), f.last_index(), f.last_term()),
        (4, 3, 2)
    );
    // Log matching at the boundary: an append after index 3 of term 2 is accepted.
    assert_eq!(f.term_at(3), Some(2));
    assert_eq!(f.term_at(2), None, "discarded");
}

#[test]
fn chunks_are_accepted_in_order_only() {
    let mut f = node_with(1, 3, &snap_config(0));
    let snap = snapshot(5, 1);
    let chunk = |offset| RaftMsg::InstallSnapshot {
        term: 1,
        snap: snap.clone(),
        offset,
        len: 40,
        commit: 5,
    };
    let resp = |received| RaftMsg::SnapshotResp {
        term: 1,
        index: 5,
        received,
    };
    // A middle chunk first (the first was lost): the follower asks from byte 0.
    assert_eq!(
        sent(&recv(&mut f, 1, 0, chunk(40))),
        vec![(NodeId(0), resp(0))]
    );
    assert_eq!(
        sent(&recv(&mut f, 2, 0, chunk(0))),
        vec![(NodeId(0), resp(40))]
    );
    // A duplicate is not counted twice.
    assert_eq!(
        sent(&recv(&mut f, 3, 0, chunk(0))),
        vec![(NodeId(0), resp(40))]
    );
    assert!(
        f.is_rebuilding() && f.applied == 0,
        "not installed before the last byte"
    );
}

#[test]
fn a_leader_sends_its_snapshot_to_a_follower_behind_its_compaction_point() {
    let mut l = leader(3, &snap_config(3));
    // Node 1 acknowledges everything; node 2 hears nothing. Writes 1 ms apart, so the link
    // (1 MB/s) is free again for each append.
    for i in 0..4 {
        let e = client(&mut l, 1000 * (i + 1), write(i, 1, i));
        for (to, m) in sent(&e) {
            if to == NodeId(1) && matches!(m, RaftMsg::Append { .. }) {
                recv(&mut l, 1000 * (i + 1) + 10, 1, accept(&m));
            }
        }
    }
    let snap = l
        .snapshot()
        .expect("snapshotted after 3 applied entries")
        .clone();
    assert!(l.compacted.0 >= 3 && l.log.first_index() == l.compacted.0 + 1);
    // The leader streamed appends to node 2 optimistically; node 2 (which holds entry 1 only)
    // rejects the latest: the leader falls back to index 2, which it has discarded.
    let last = l.last_index();
    let reject = RaftMsg::AppendResp {
        term: 1,
        index: last,
        reject: Some(RejectHint {
            index: 1,
            term: 1,
            wiped: false,
        }),
    };
    let e = recv(&mut l, 10_000, 2, reject);
    let to_2: Vec<RaftMsg> = sent(&e)
        .into_iter()
        .filter(|(to, _)| *to == NodeId(2))
        .map(|(_, m)| m)
        .collect();
    assert!(
        matches!(&to_2[..], [RaftMsg::InstallSnapshot { offset: 0, len: 40, snap: s, .. }] if **s == snap),
        "{to_2:?}"
    );
    // No appends go to node 2 while the transfer runs.
    let e = client(&mut l, 20_000, write(9, 1, 9));
    assert!(sent(&e).iter().all(|(to, _)| *to != NodeId(2)));
}
