//! Elections: terms, votes, roles, timeouts (Raft §5.1, §5.2, §5.4.1).

use super::*;

/// (cluster size, votes received as (from, granted), the role that results)
type ElectionCase = (u16, &'static [(u16, bool)], Role);

/// TestLeaderElectionInOneRoundRPC: win with a majority of grants, lose with a majority of
/// refusals, otherwise stay candidate.
#[test]
fn leader_election_in_one_round() {
    use Role::*;
    let cases: &[ElectionCase] = &[
        (1, &[], Leader),
        (3, &[(1, true), (2, true)], Leader),
        (3, &[(1, true)], Leader),
        (5, &[(1, true), (2, true), (3, true), (4, true)], Leader),
        (5, &[(1, true), (2, true), (3, true)], Leader),
        (5, &[(1, true), (2, true)], Leader),
        (3, &[(1, false), (2, false)], Follower),
        (
            5,
            &[(1, false), (2, false), (3, false), (4, false)],
            Follower,
        ),
        (
            5,
            &[(1, true), (2, false), (3, false), (4, false)],
            Follower,
        ),
        (3, &[], Candidate),
        (5, &[(1, true)], Candidate),
        (5, &[(1, false), (2, false)], Candidate),
        (5, &[], Candidate),
    ];
    for (i, (size, votes, want)) in cases.iter().enumerate() {
        let mut r = node(0, *size);
        run(&mut r, 0, |r, ctx| r.campaign(ctx));
        for &(from, granted) in *votes {
            recv(&mut r, 1, from, RaftMsg::Vote { term: 1, granted });
        }
        assert_eq!(r.role, *want, "case {i}");
        assert_eq!(r.term, 1, "case {i}");
    }
}

/// TestFollowerVote: at most one vote per term, first come first served.
#[test]
fn follower_votes_once_per_term() {
    for (voted, candidate, granted) in [
        (None, 1, true),
        (None, 2, true),
        (Some(1), 1, true),
        (Some(2), 2, true),
        (Some(1), 2, false),
        (Some(2), 1, false),
    ] {
        let mut r = node(0, 3);
        r.term = 1;
        r.voted_for = voted.map(NodeId);
        let e = recv(
            &mut r,
            0,
            candidate,
            RaftMsg::RequestVote {
                term: 1,
                last_index: 0,
                last_term: 0,
            },
        );
        assert_eq!(
            sent(&e),
            vec![(NodeId(candidate), RaftMsg::Vote { term: 1, granted })]
        );
        let text = texts(&e);
        assert!(
            text.contains(if granted { "voted for" } else { "refused" }),
            "{text}"
        );
    }
}

/// TestVoter: a vote is refused when the voter's log is more up to date (§5.4.1).
#[test]
fn voter_refuses_candidates_with_older_logs() {
    let cases: &[(&[u64], u64, u64, bool)] = &[
        // same last term
        (&[1], 1, 1, true),
        (&[1], 1, 2, true),
        (&[1, 1], 1, 1, false),
        // candidate has a higher last term
        (&[1], 2, 1, true),
        (&[1], 2, 2, true),
        (&[1, 1], 2, 1, true),
        // voter has a higher last term
        (&[2], 1, 1, false),
        (&[2], 1, 2, false),
        (&[2, 2], 1, 1, false),
        (&[1, 1], 1, 1, false),
    ];
    for (i, (terms, last_term, last_index, granted)) in cases.iter().enumerate() {
        let mut r = with_log(node(0, 2), terms);
        let e = recv(
            &mut r,
            0,
            1,
            RaftMsg::RequestVote {
                term: 3,
                last_index: *last_index,
                last_term: *last_term,
            },
        );
        let want = RaftMsg::Vote {
            term: 3,
            granted: *granted,
        };
        assert_eq!(sent(&e), vec![(NodeId(1), want)], "case {i}");
        if !granted {
            assert!(texts(&e).contains("more up to date"), "case {i}");
        }
    }
}

/// TestCandidateFallback / TestCandidateConcede: a candidate that hears from a leader of its
/// term or a later one becomes its follower.
#[test]
fn candidate_concedes_to_a_leader() {
    for term in [1, 2] {
        let mut r = node(0, 3);
        run(&mut r, 0, |r, ctx| r.campaign(ctx));
        assert_eq!(r.role, Role::Candidate);
        let hb = RaftMsg::Heartbeat {
            term,
            commit: 0,
            round: 1,
        };
        recv(&mut r, 1, 1, hb);
        assert_eq!(
            (r.role, r.term, r.leader),
            (Role::Follower, term, Some(NodeId(1)))
        );
    }
}

/// testUpdateTermFromMessage: a newer term in any message makes a node a follower of that term;
/// a leader says it stepped down.
#[test]
fn newer_term_makes_any_role_a_follower() {
    for role in [Role::Follower, Role::Candidate, Role::Leader] {
        let mut r = match role {
            Role::Leader => leader(3, &config()),
            _ => node(0, 3),
        };
        if role == Role::Candidate {
            run(&mut r, 0, |r, ctx| r.campaign(ctx));
        }
        let e = recv(
            &mut r,
            10,
            1,
            RaftMsg::Append {
                term: 5,
                prev_index: 0,
                prev_term: 0,
                entries: vec![],
                commit: 0,
            },
        );
        assert_eq!((r.term, r.role), (5, Role::Follower), "{role:?}");
        let stepped = notes(&e).contains(&Note::SteppedDown { term: 1 });
        assert_eq!(stepped, role == Role::Leader, "{role:?}");
    }
}

/// TestRejectStaleTermMessage, answered as in the paper: the sender learns our newer term.
#[test]
fn stale_term_messages_are_refused_with_our_term() {
    let mut r = node(0, 3);
    r.term = 4;
    let e = recv(
        &mut r,
        0,
        1,
        RaftMsg::Append {
            term: 3,
            prev_index: 0,
            prev_term: 0,
            entries: vec![Entry {
                index: 1,
                term: 3,
                cmd: Command::Noop,
            }],
            commit: 1,
        },
    );
    assert_eq!(r.log.last_index(), 0, "nothing appended");
    assert_eq!(r.leader, None);
    let reply = RaftMsg::AppendResp {
        term: 4,
        index: 0,
        reject: None,
    };
    assert_eq!(sent(&e), vec![(NodeId(1), reply)]);
    // A deposed leader that gets this answer steps down.
    let mut old = leader(3, &config());
    let e = recv(
        &mut old,
        10,
        1,
        RaftMsg::AppendResp {
            term: 4,
            index: 0,
            reject: None,
        },
    );
    assert_eq!((old.role, old.term), (Role::Follower, 4));
    assert!(notes(&e).contains(&Note::SteppedDown { term: 1 }));
}

/// TestVoteRequest: a candidate asks every other node, with its last log index and term.
#[test]
fn vote_request_carries_the_last_log_position() {
    let mut r = with_log(node(0, 3), &[1, 2]);
    r.term = 2;
    let e = run(&mut r, 0, |r, ctx| r.campaign(ctx));
    let want = RaftMsg::RequestVote {
        term: 3,
        last_index: 2,
        last_term: 2,
    };
    assert_eq!(sent(&e), vec![(NodeId(1), want.clone()), (NodeId(2), want)]);
    assert_eq!(r.voted_for, Some(NodeId(0)));
}

/// testNonleaderElectionTimeoutRandomized: timeouts are drawn from [min, max], and a node
/// campaigns only once the whole timeout has passed without hearing from a leader.
#[test]
fn election_timeouts_are_randomised_and_respected() {
    let cfg = config();
    let mut seen = std::collections::BTreeSet::new();
    for seed in 0..200 {
        let mut r = node(0, 3);
        let e = run_seeded(&mut r, 0, seed, |r, ctx| r.on_start(ctx));
        let [Effect::SetTimer { after_us, .. }] = e.as_slice() else {
            panic!("one timer expected: {e:?}")
        };
        assert!((cfg.election_timeout_min_us..=cfg.election_timeout_max_us).contains(after_us));
        seen.insert(*after_us / 10_000);
    }
    assert!(seen.len() >= 10, "draws spread over the range: {seen:?}");

    // A heartbeat half-way through postpones the election.
    let mut r = node(0, 3);
    let e = run(&mut r, 0, |r, ctx| r.on_start(ctx));
    let Some(Effect::SetTimer { after_us, timer }) = e.first().cloned() else {
        panic!()
    };
    let hb = RaftMsg::Heartbeat {
        term: 1,
        commit: 0,
        round: 1,
    };
    recv(&mut r, after_us / 2, 1, hb);
    let e = run(&mut r, after_us, |r, ctx| r.on_timer(ctx, timer));
    assert_eq!(r.role, Role::Follower);
    assert!(sent(&e).is_empty());
    let Some(Effect::SetTimer {
        after_us: rest,
        timer,
    }) = e.first().cloned()
    else {
        panic!("re-armed for the rest: {e:?}")
    };
    assert_eq!(after_us + rest, after_us / 2 + r.clock.timeout_us);
    let e = run(&mut r, after_us + rest, |r, ctx| r.on_timer(ctx, timer));
    assert_eq!((r.role, r.term), (Role::Candidate, 2));
    assert_eq!(sent(&e).len(), 2, "RequestVote to both others");
    assert!(texts(&e).contains("starts an election for term 2"));
}

/// A split vote: three nodes campaign at once, each keeps its own vote, nobody wins; the next
/// election, in a higher term, elects a leader.
#[test]
fn split_vote_leads_to_reelection_in_a_higher_term() {
    let mut net = Net::new(3);
    for i in 0..3 {
        net.call(i, |r, ctx| r.campaign(ctx));
    }
    net.act(0, |_, _| {});
    assert!(net.leaders().is_empty(), "a split vote elects nobody");
    assert!(net.nodes.iter().all(|r| r.term == 1));
    let refusals = net
        .notes
        .iter()
        .filter(|(_, n)| matches!(n, Note::Text(t) if t.contains("already voted for")))
        .count();
    assert_eq!(refusals, 6, "each node refused the other two");
    net.campaign(1);
    assert_eq!(net.leaders(), vec![(1, 2)]);
}

/// Crash and restart keep the durable state: term, vote, log and the applied state machine.
#[test]
fn crash_keeps_term_vote_and_log() {
    let mut r = leader(3, &config());
    let e = client(&mut r, 10, write(1, 4, 40));
    for (to, m) in sent(&e) {
        recv(&mut r, 20, to.0, accept(&m));
    }
    assert_eq!((r.commit, r.applied), (2, 2));
    client(&mut r, 30, write(2, 5, 50)); // in the log, not committed
    let (term, vote, log) = (r.term, r.voted_for, r.log.clone());
    r.on_crash();
    assert_eq!((r.term, r.voted_for, &r.log), (term, vote, &log));
    assert_eq!((r.role, r.leader, r.commit), (Role::Follower, None, 2));
    assert!(r.pending.is_empty());
    assert_eq!(r.kv.get(4).and_then(|c| c.value), Some(ValueId(40)));
    // It still may not vote for anybody else in the term it voted in.
    let e = recv(
        &mut r,
        40,
        2,
        RaftMsg::RequestVote {
            term,
            last_index: 9,
            last_term: 9,
        },
    );
    assert_eq!(
        sent(&e),
        vec![(
            NodeId(2),
            RaftMsg::Vote {
                term,
                granted: false
            }
        )]
    );
}

/// Check-quorum: a leader that heard from no majority during an election timeout steps down.
#[test]
fn check_quorum_steps_down_a_cut_off_leader() {
    let mut r = leader(5, &config());
    r.progress.iter_mut().for_each(|p| p.recent_active = false);
    r.progress[1].recent_active = true;
    r.progress[2].recent_active = true;
    let e = run(&mut r, 150_000, |r, ctx| r.on_check_quorum(ctx, 1));
    assert_eq!(
        r.role,
        Role::Leader,
        "itself plus two of five is a majority"
    );
    assert!(e.iter().any(|e| matches!(e, Effect::SetTimer { .. })));
    r.progress[1].recent_active = true;
    let e = run(&mut r, 300_000, |r, ctx| r.on_check_quorum(ctx, 1));
    assert_eq!((r.role, r.leader), (Role::Follower, None));
    assert!(notes(&e).contains(&Note::SteppedDown { term: 1 }));
    assert!(texts(&e).contains("heard from only 2 of 5"));
}

/// etcd `inLease`: a follower that heard from its leader within the minimum election timeout
/// ignores a vote request (and keeps its term); later it votes.
#[test]
fn follower_in_lease_ignores_vote_requests() {
    let mut r = node(0, 3);
    let hb = RaftMsg::Heartbeat {
        term: 1,
        commit: 0,
        round: 1,
    };
    recv(&mut r, 1_000, 1, hb);
    let ask = RaftMsg::RequestVote {
        term: 2,
        last_index: 0,
        last_term: 0,
    };
    let e = recv(&mut r, 100_000, 2, ask.clone());
    assert!(sent(&e).is_empty());
    assert_eq!(r.term, 1);
    assert!(texts(&e).contains("ignored n3's vote request"));
    let e = recv(&mut r, 200_000, 2, ask);
    assert_eq!(r.term, 2);
    assert_eq!(
        sent(&e),
        vec![(
            NodeId(2),
            RaftMsg::Vote {
                term: 2,
                granted: true
            }
        )]
    );
}
