//! Log replication, commit and apply (Raft §5.3, §5.4.2).

use super::*;

/// TestLeaderAcknowledgeCommit: an entry commits once the leader that created it has it on a
/// majority: in 3 nodes the leader plus one follower, in 5 the leader plus two.
#[test]
fn leader_acknowledge_commit() {
    let cases: &[(u16, &[u16], bool)] = &[
        (1, &[], true),
        (3, &[], false),
        (3, &[1], true),
        (3, &[1, 2], true),
        (5, &[], false),
        (5, &[1], false),
        (5, &[1, 2], true),
        (5, &[1, 2, 3], true),
        (5, &[1, 2, 3, 4], true),
    ];
    for (i, (size, acceptors, committed)) in cases.iter().enumerate() {
        let mut r = leader(*size, &config());
        let li = r.log.last_index();
        let e = client(&mut r, 10, write(1, 3, 30));
        let mut acks = Vec::new();
        for (to, m) in sent(&e) {
            if acceptors.contains(&to.0) {
                acks.extend(recv(&mut r, 20, to.0, accept(&m)));
            }
        }
        assert_eq!(r.commit > li, *committed, "case {i}");
        let answered = replies(&e)
            .into_iter()
            .chain(replies(&acks))
            .collect::<Vec<_>>();
        let want = committed.then_some((OpRef(1), OpResult::Written(Version(li + 1, 0))));
        assert_eq!(answered.first().copied(), want, "case {i}");
    }
}

/// TestLeaderCommitEntry: after committing, the leader tells the followers its new commit
/// index, and a follower applies what it learns is committed, reporting the stored value.
#[test]
fn leader_commit_reaches_followers() {
    let mut r = leader(3, &config());
    let e = client(&mut r, 10, write(1, 3, 30));
    let appends = sent(&e);
    let e = recv(&mut r, 20, 1, accept(&appends[0].1));
    let bcast = sent(&e);
    assert_eq!(bcast.len(), 2);
    for (_, m) in &bcast {
        assert!(matches!(m, RaftMsg::Append { commit: 2, .. }), "{m:?}");
    }
    let mut f = with_log(node(2, 3), &[1]); // it holds the no-op
    recv(&mut f, 30, 0, appends[1].1.clone());
    assert_eq!(f.commit, 1, "commit = min(leader commit, last new entry)");
    let e = recv(&mut f, 40, 0, bcast[1].1.clone());
    assert_eq!(f.commit, 2);
    assert!(e.contains(&Effect::Applied {
        key: 3,
        value: Some(ValueId(30)),
        version: Version(2, 0)
    }));
}

/// TestLeaderOnlyCommitsLogFromCurrentTerm: replicas of earlier-term entries are not counted.
#[test]
fn leader_only_commits_entries_of_its_term() {
    for (index, want) in [(1, 0), (2, 0), (3, 3)] {
        let mut r = with_log(node(0, 2), &[1, 2]);
        r.term = 2;
        run(&mut r, 0, |r, ctx| r.campaign(ctx));
        recv(
            &mut r,
            1,
            1,
            RaftMsg::Vote {
                term: 3,
                granted: true,
            },
        );
        assert_eq!(r.role, Role::Leader);
        client(&mut r, 2, write(1, 0, 1));
        let ack = RaftMsg::AppendResp {
            term: 3,
            index,
            reject: None,
        };
        recv(&mut r, 3, 1, ack);
        assert_eq!(r.commit, want, "ack of index {index}");
    }
}

/// TestFollowerCheckMsgApp: the prevLogIndex/prevLogTerm check, with etcd's rejection hints.
#[test]
fn follower_checks_prev_log_index_and_term() {
    let cases = [
        // match with committed entries
        (0, 0, 1, None),
        (1, 1, 1, None),
        // match with an uncommitted entry
        (2, 2, 2, None),
        // mismatch with an existing entry
        (
            1,
            2,
            2,
            Some(RejectHint {
                index: 1,
                term: 1,
                wiped: false,
            }),
        ),
        // no such entry
        (
            3,
            3,
            3,
            Some(RejectHint {
                index: 2,
                term: 2,
                wiped: false,
            }),
        ),
    ];
    for (i, (prev_term, prev_index, index, reject)) in cases.into_iter().enumerate() {
        let mut r = with_log(node(0, 3), &[1, 2]);
        r.commit = 1;
        r.applied = 1;
        r.term = 2;
        let e = recv(
            &mut r,
            0,
            1,
            RaftMsg::Append {
                term: 2,
                prev_index,
                prev_term,
                entries: vec![],
                commit: 0,
            },
        );
        let want = RaftMsg::AppendResp {
            term: 2,
            index,
            reject,
        };
        assert_eq!(sent(&e), vec![(NodeId(1), want)], "case {i}");
    }
}

/// TestFollowerAppendEntries: conflicting entries and everything after them are replaced;
/// entries already present are kept.
#[test]
fn follower_replaces_conflicting_entries() {
    let cases: &[(u64, u64, &[u64], &[u64])] = &[
        (2, 2, &[3], &[1, 2, 3]),
        (1, 1, &[3, 4], &[1, 3, 4]),
        (0, 0, &[1], &[1, 2]),
        (0, 0, &[3], &[3]),
    ];
    for (i, (prev_index, prev_term, new, want)) in cases.iter().enumerate() {
        let mut r = with_log(node(0, 3), &[1, 2]);
        r.term = 2;
        let entries = new
            .iter()
            .zip(prev_index + 1..)
            .map(|(&term, index)| Entry {
                index,
                term,
                cmd: Command::Noop,
            })
            .collect();
        let e = recv(
            &mut r,
            0,
            1,
            RaftMsg::Append {
                term: 4,
                prev_index: *prev_index,
                prev_term: *prev_term,
                entries,
                commit: 0,
            },
        );
        assert_eq!(log_terms(&r), *want, "case {i}");
        let overwrote = texts(&e).contains("overwrote uncommitted entries");
        assert_eq!(overwrote, i != 0 && i != 2, "case {i}");
    }
}

/// A deposed leader's uncommitted write is overwritten by the new leader's log, visibly, and
/// its client is told it failed (an entry that leaves a log was never committed).
#[test]
fn deposed_leader_write_is_overwritten_and_fails() {
    let mut r = leader(3, &config());
    client(&mut r, 10, write(7, 4, 44));
    assert_eq!(log_terms(&r), vec![1, 1]);
    let e = recv(
        &mut r,
        20,
        2,
        RaftMsg::Append {
            term: 2,
            prev_index: 1,
            prev_term: 1,
            entries: vec![Entry {
                index: 2,
                term: 2,
                cmd: Command::Noop,
            }],
            commit: 2,
        },
    );
    assert!(notes(&e).contains(&Note::SteppedDown { term: 1 }));
    let text = texts(&e);
    assert!(
        text.contains("n1 overwrote uncommitted entries 2..2 (term 1; writes k4=v44)"),
        "{text}"
    );
    assert_eq!(log_terms(&r), vec![1, 2]);
    assert_eq!(r.commit, 2);
    assert_eq!(
        replies(&e),
        vec![(OpRef(7), OpResult::Failed(FailReason::NotLeader))]
    );
}

/// A deposed leader's write that the new leader did keep commits later: the old leader answers
/// `Written` when it applies it, instead of guessing.
#[test]
fn deposed_leader_write_that_survives_is_acknowledged() {
    let mut r = leader(3, &config());
    client(&mut r, 10, write(7, 4, 44));
    let e = recv(
        &mut r,
        20,
        2,
        RaftMsg::Append {
            term: 2,
            prev_index: 2,
            prev_term: 1,
            entries: vec![Entry {
                index: 3,
                term: 2,
                cmd: Command::Noop,
            }],
            commit: 3,
        },
    );
    assert_eq!(r.role, Role::Follower);
    assert_eq!(
        replies(&e),
        vec![(OpRef(7), OpResult::Written(Version(2, 0)))]
    );
}

/// TestLeaderSyncFollowerLog (Figure 7): whatever a follower's log looks like, the leader's
/// probes find the last matching entry and make the follower's log equal to its own.
#[test]
fn leader_brings_divergent_follower_logs_into_line() {
    let lead_terms = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6];
    let followers: &[&[u64]] = &[
        &[1, 1, 1, 4, 4, 5, 5, 6, 6],
        &[1, 1, 1, 4],
        &[1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6],
        &[1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7],
        &[1, 1, 1, 4, 4, 4, 4],
        &[1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3],
    ];
    for (i, terms) in followers.iter().enumerate() {
        let mut net = Net::new(3);
        net.nodes[0] = with_log(node(0, 3), &lead_terms);
        net.nodes[0].term = 7;
        net.nodes[1] = with_log(node(1, 3), terms);
        net.nodes[1].term = 7;
        net.nodes[2] = with_log(node(2, 3), &lead_terms);
        net.nodes[2].term = 7;
        net.campaign(0);
        assert_eq!(net.leaders(), vec![(0, 8)], "case {i}");
        net.client(0, write(1, 0, 1));
        assert_eq!(
            log_terms(&net.nodes[1]),
            log_terms(&net.nodes[0]),
            "case {i}"
        );
        assert_eq!(net.nodes[1].commit, net.nodes[0].commit, "case {i}");
    }
}

/// A leader cut off in a minority cannot commit; the majority elects a new leader that does;
/// after the heal the old leader's entries are overwritten and every log matches.
#[test]
fn minority_cannot_commit_and_logs_converge_after_heal() {
    let mut net = Net::new(5);
    net.campaign(0);
    net.client(0, write(1, 1, 10));
    assert_eq!(net.reply_to(1), Some(OpResult::Written(Version(2, 0))));
    net.cut = vec![0, 1];
    net.client(0, write(2, 1, 20));
    assert_eq!(net.reply_to(2), None, "two of five cannot commit");
    assert_eq!(net.nodes[0].commit, 2);
    net.now_us += 1_000_000; // long past n3's lease with n1
    net.campaign(2);
    assert!(net.leaders().contains(&(2, 2)));
    net.client(2, write(3, 1, 30));
    // Index 3 is n3's no-op for term 2.
    assert_eq!(net.reply_to(3), Some(OpResult::Written(Version(4, 0))));
    net.cut.clear();
    net.heartbeat(2);
    net.client(2, write(4, 2, 40));
    assert_eq!(net.leaders(), vec![(2, 2)]);
    assert_eq!(
        net.reply_to(2),
        Some(OpResult::Failed(FailReason::NotLeader))
    );
    let want = log_terms(&net.nodes[2]);
    for r in &net.nodes {
        assert_eq!(log_terms(r), want, "{}", r.me);
        assert_eq!(
            r.kv.get(1).and_then(|c| c.value),
            Some(ValueId(30)),
            "{}",
            r.me
        );
    }
    assert!(net.notes.iter().any(|(n, note)| *n == NodeId(0)
        && matches!(note, Note::Text(t) if t.contains("overwrote uncommitted entries 3..3"))));
}

/// Appends that overtake each other on the network (or arrive twice) change nothing that
/// matches, and a stale rejection makes the leader resend its commit index.
#[test]
fn reordered_and_duplicated_appends_are_harmless() {
    let mut r = leader(3, &config());
    let first = sent(&client(&mut r, 10, write(1, 1, 10)))[0].1.clone();
    let second = sent(&client(&mut r, 20, write(2, 2, 20)))[0].1.clone();
    let mut f = with_log(node(1, 3), &[1]); // it holds the no-op
    let e = recv(&mut f, 30, 0, second.clone());
    assert!(matches!(
        sent(&e)[0].1,
        RaftMsg::AppendResp {
            reject: Some(_),
            ..
        }
    ));
    let reject = sent(&e)[0].1.clone();
    for m in [&first, &second, &first] {
        let e = recv(&mut f, 40, 0, m.clone());
        recv(&mut r, 50, 1, sent(&e)[0].1.clone());
    }
    assert_eq!(log_terms(&f), vec![1, 1, 1]);
    assert_eq!(r.commit, 3);
    let e = recv(&mut r, 60, 1, reject);
    let [(to, RaftMsg::Heartbeat { commit: 3, .. })] = sent(&e)[..] else {
        panic!("a stale rejection resends the commit index: {e:?}")
    };
    assert_eq!(to, NodeId(1));
}
