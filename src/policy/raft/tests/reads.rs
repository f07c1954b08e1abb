//! Client requests and the three read modes.

use super::*;

fn cfg(mode: ReadMode) -> RaftConfig {
    RaftConfig {
        read_mode: mode,
        ..config()
    }
}

/// Sets key 1 to value 10 through the log and returns the leader.
fn leader_with_value(mode: ReadMode) -> Raft {
    let mut r = leader(3, &cfg(mode));
    let e = client(&mut r, 10, write(1, 1, 10));
    recv(&mut r, 20, 1, accept(&sent(&e)[0].1));
    assert_eq!(r.applied, 2);
    r
}

/// etcd ReadOnlySafe: the read waits for a heartbeat round acknowledged by a majority.
#[test]
fn read_index_waits_for_a_majority_heartbeat() {
    let mut r = leader_with_value(ReadMode::ReadIndex);
    let e = client(&mut r, 30, read(5, 1));
    assert!(replies(&e).is_empty());
    let beats = sent(&e);
    assert_eq!(beats.len(), 2);
    let RaftMsg::Heartbeat { round, .. } = beats[0].1 else {
        panic!("{beats:?}")
    };
    let e = recv(&mut r, 40, 2, RaftMsg::HeartbeatResp { term: 1, round });
    assert_eq!(
        replies(&e),
        vec![(OpRef(5), OpResult::Read(Some(ValueId(10))))]
    );
}

/// etcd postpones read-index requests until the leader committed an entry of its own term.
#[test]
fn read_index_waits_for_the_first_commit_of_the_term() {
    let mut r = node(0, 3);
    run(&mut r, 0, |r, ctx| r.campaign(ctx));
    let e = recv(
        &mut r,
        1,
        1,
        RaftMsg::Vote {
            term: 1,
            granted: true,
        },
    );
    let noop = sent(&e)[0].1.clone();
    let e = client(&mut r, 2, read(5, 1));
    assert!(
        sent(&e).is_empty(),
        "no round before the term's first commit"
    );
    let e = recv(&mut r, 3, 1, accept(&noop));
    let round = sent(&e)
        .iter()
        .find_map(|(_, m)| match m {
            RaftMsg::Heartbeat { round, .. } => Some(*round),
            _ => None,
        })
        .expect("a round once the no-op commits");
    let e = recv(&mut r, 4, 1, RaftMsg::HeartbeatResp { term: 1, round });
    assert_eq!(replies(&e), vec![(OpRef(5), OpResult::Read(None))]);
}

/// `Log` reads are appended and answered when applied.
#[test]
fn log_reads_go_through_the_log() {
    let mut r = leader_with_value(ReadMode::Log);
    let e = client(&mut r, 30, read(5, 1));
    assert!(replies(&e).is_empty());
    let RaftMsg::Append { entries, .. } = &sent(&e)[0].1 else {
        panic!()
    };
    assert_eq!(entries[0].cmd, Command::Read { key: 1 });
    let e = recv(&mut r, 40, 1, accept(&sent(&e)[0].1));
    assert_eq!(
        replies(&e),
        vec![(OpRef(5), OpResult::Read(Some(ValueId(10))))]
    );
}

/// A lease read is answered locally while the leader's clock is before the lease end (from
/// the send time of a majority-acknowledged round), and falls back to a read index after.
#[test]
fn lease_reads_are_local_until_the_lease_ends() {
    let mut r = leader_with_value(ReadMode::Lease);
    let e = run(&mut r, 1_000, |r, ctx| {
        r.on_timer(ctx, RaftTimer::Heartbeat { term: 1 })
    });
    let RaftMsg::Heartbeat { round, .. } = sent(&e)[0].1 else {
        panic!()
    };
    recv(&mut r, 5_000, 1, RaftMsg::HeartbeatResp { term: 1, round });
    assert_eq!(r.lease_until_local(), 1_000 + config().lease_us);
    let e = client(&mut r, 100_000, read(5, 1));
    assert_eq!(
        replies(&e),
        vec![(OpRef(5), OpResult::Read(Some(ValueId(10))))]
    );
    assert!(sent(&e).is_empty(), "no messages for a lease read");
    let e = client(&mut r, 121_000, read(6, 1));
    assert!(replies(&e).is_empty(), "the lease has run out");
    assert!(
        sent(&e)
            .iter()
            .all(|(_, m)| matches!(m, RaftMsg::Heartbeat { .. }))
    );
}

/// A follower redirects to the leader it knows; without one it keeps the request, redirects
/// it once a leader is heard from, or fails it when the request timeout passes.
#[test]
fn followers_redirect_or_keep_client_requests() {
    let mut f = node(1, 3);
    let e = client(&mut f, 0, write(1, 0, 1));
    assert!(replies(&e).is_empty());
    assert_eq!(f.held_count(), 1);
    assert!(e.contains(&Effect::SetTimer {
        after_us: config().request_timeout_us,
        timer: RaftTimer::RequestTimeout { op: OpRef(1) }
    }));
    client(&mut f, 1, write(2, 0, 2));
    let e = run(&mut f, 2, |r, ctx| {
        r.on_timer(ctx, RaftTimer::RequestTimeout { op: OpRef(2) })
    });
    assert_eq!(
        replies(&e),
        vec![(OpRef(2), OpResult::Failed(FailReason::Unavailable))]
    );
    let hb = RaftMsg::Heartbeat {
        term: 1,
        commit: 0,
        round: 1,
    };
    let e = recv(&mut f, 3, 2, hb);
    assert_eq!(replies(&e), vec![(OpRef(1), OpResult::Redirect(NodeId(2)))]);
    let e = client(&mut f, 4, read(3, 0));
    assert_eq!(replies(&e), vec![(OpRef(3), OpResult::Redirect(NodeId(2)))]);
}

/// A leader that steps down fails its unconfirmed reads but keeps writes pending; a write whose
/// request timeout passes before it commits has an unknown outcome.
#[test]
fn stepping_down_fails_reads_and_times_out_writes_as_unknown() {
    let mut r = leader_with_value(ReadMode::ReadIndex);
    client(&mut r, 30, read(5, 1));
    client(&mut r, 31, write(6, 1, 60));
    let hb = RaftMsg::Heartbeat {
        term: 2,
        commit: 0,
        round: 1,
    };
    let e = recv(&mut r, 40, 2, hb);
    assert_eq!(
        replies(&e),
        vec![(OpRef(5), OpResult::Failed(FailReason::NotLeader))]
    );
    let e = run(&mut r, 50, |r, ctx| {
        r.on_timer(ctx, RaftTimer::RequestTimeout { op: OpRef(6) })
    });
    assert_eq!(
        replies(&e),
        vec![(OpRef(6), OpResult::Unknown(FailReason::Timeout))]
    );
}
