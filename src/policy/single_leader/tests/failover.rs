//! Leader changes: log truncation, lost writes, fencing, the controller's elections.

use super::*;

/// n1 (epoch 1) wrote key 1 = v1 everywhere, then key 2 = v2 and key 1 = v3 only on itself and
/// n2. Then leadership moves to n3, which writes key 3 = v4.
fn diverged_then_failover_to_n3() -> Net {
    let mut net = Net::new(3, config(Replication::Async));
    net.deliver();
    net.write(N1, 1, 1);
    net.deliver();
    net.cut.push((N1, N3));
    net.write(N1, 2, 2);
    net.write(N1, 1, 3);
    net.deliver();
    assert_eq!(net.value(N2, 1), Some(ValueId(3)));
    net.cut.clear();
    net.set_leader(N3);
    net.write(N3, 3, 4);
    net.deliver();
    net
}

#[test]
fn followers_truncate_a_divergent_suffix_and_rebuild_their_state() {
    let net = diverged_then_failover_to_n3();
    assert!(net.noted("n3 became leader for epoch 2"));
    assert!(net.noted("n1 stepped down in epoch 1"));
    for n in [N1, N2] {
        let text = format!("{n} truncated entries 2..3 (epoch 1) to follow n3 in epoch 2");
        assert!(net.noted(&text), "{:?}", net.notes);
        assert_eq!(net.value(n, 1), Some(ValueId(1)), "key 1 rolled back to v1");
        assert_eq!(net.value(n, 2), None, "key 2 was never written in n3's log");
        assert_eq!(net.value(n, 3), Some(ValueId(4)));
        assert_eq!(net.log_len(n), 2);
    }
    // The metrics hear about every rolled-back value.
    assert!(
        net.applied
            .contains(&(N2, 1, Some(ValueId(1)), Version(1, 1)))
    );
    assert!(net.applied.contains(&(N2, 2, None, Version::default())));
    assert!(
        net.applied
            .contains(&(N2, 3, Some(ValueId(4)), Version(2, 2)))
    );
}

#[test]
fn acks_1_failover_loses_an_acknowledged_write() {
    let net = diverged_then_failover_to_n3();
    // n1 acknowledged key 2 = v2 (acks=1), and after the failover no replica has it.
    for n in [N1, N2, N3] {
        assert_eq!(net.value(n, 2), None);
    }
}

#[test]
fn a_non_leader_redirects_and_a_leaderless_node_refuses() {
    let mut net = Net::new(4, with_controller(Replication::Async));
    let w = net.write(N2, 1, 1);
    assert_eq!(net.result(w), Some(OpResult::Redirect(N1)));
    let w = net.write(N4, 1, 1);
    assert_eq!(
        net.result(w),
        Some(OpResult::Redirect(N1)),
        "the controller knows"
    );
    net.crash(N2);
    net.restart(N2);
    let w = net.write(N2, 1, 1);
    assert_eq!(
        net.result(w),
        Some(OpResult::Failed(FailReason::Unavailable)),
        "restarted under a controller: waits for its word"
    );
    assert_eq!(net.nodes[1].leader_hint(), None);
}

/// Four nodes with a controller; n1 is cut off from the controller (only), the controller
/// elects a new leader. `fence_timeout` is long here, so n1 does not fence itself.
fn deposed_n1(fencing: bool, replication: Replication) -> Net {
    deposed_n1_hearing_n2(fencing, replication, true)
}

/// `deposed_n1`; with `hears_n2` false, n2's messages to n1 are lost too.
fn deposed_n1_hearing_n2(fencing: bool, replication: Replication, hears_n2: bool) -> Net {
    let mut net = Net::new(
        4,
        SingleLeaderConfig {
            fencing,
            fence_timeout_us: 10_000_000,
            ..with_controller(replication)
        },
    );
    net.pass_ms(100);
    net.cut_both(N1, N4);
    if !hears_n2 {
        net.cut.push((N2, N1));
    }
    net.pass_ms(600);
    assert!(
        net.noted("controller n4 elected n2 for epoch 2 (no word from n1 for 5"),
        "{:?}",
        net.notes
    );
    net
}

#[test]
fn with_fencing_an_old_epoch_leader_is_refused_and_stops_acking() {
    let mut net = deposed_n1_hearing_n2(true, Replication::InSync, false);
    let w = net.write(N1, 1, 1); // n1 still believes it leads epoch 1
    net.deliver();
    assert!(net.noted("n1 learned from n"), "{:?}", net.notes);
    assert!(net.noted("n1 stepped down in epoch 1"));
    assert_eq!(
        net.result(w),
        Some(OpResult::Unknown(FailReason::NotLeader))
    );
    assert_eq!(net.value(N3, 1), None, "n3 refused the epoch-1 entry");
    let w = net.write(N1, 1, 2);
    assert_eq!(net.result(w), Some(OpResult::Redirect(N2)));
}

#[test]
fn without_fencing_followers_accept_both_leaders() {
    let mut net = deposed_n1(false, Replication::Async);
    let old = net.write(N1, 1, 1);
    let new = net.write(N2, 2, 2);
    assert!(
        written(net.result(old)) && written(net.result(new)),
        "two leaders ack"
    );
    net.deliver();
    // n3 took n1's entry and then n2's, truncating in between; n1 ignored epoch 2.
    assert!(net.nodes[0].lead.is_some(), "n1 still leads");
    assert!(net.noted("n3 truncated entries"), "{:?}", net.notes);
    assert_eq!(net.value(N1, 2), None, "n1 never took n2's write");
}

#[test]
fn a_leader_cut_off_from_the_controller_fences_itself_and_resumes_when_heard_again() {
    let mut net = Net::new(4, with_controller(Replication::InSync));
    net.deliver();
    net.cut_both(N1, N4);
    net.cut.push((N2, N1)); // n2's acks are lost: the write waits
    let w = net.write(N1, 1, 1);
    net.deliver();
    net.advance_ms(350);
    net.tick(N1);
    assert!(net.noted("n1 fenced itself: no word from the controller for 350 ms"));
    assert_eq!(
        net.result(w),
        Some(OpResult::Unknown(FailReason::Unavailable))
    );
    let r = net.client(N1, OpKind::Read, 1, None);
    assert_eq!(
        net.result(r),
        Some(OpResult::Failed(FailReason::Unavailable))
    );
    assert_eq!(net.nodes[0].leader_hint(), None);
    assert_eq!(net.nodes[0].view().role, "fenced leader");
    net.cut.clear();
    net.controller_tick(N4); // within leader_timeout: n1 still leads epoch 1
    net.deliver();
    assert!(net.noted("n1 hears from the controller again and resumes leading epoch 1"));
    assert_eq!(net.nodes[0].leader_hint(), Some(N1));
}

/// n3 fell out of the ISR; then n1 and n2 crash and the controller sees them gone.
fn only_an_out_of_sync_replica_left(unclean: bool) -> Net {
    let mut net = Net::new(
        4,
        SingleLeaderConfig {
            unclean_election: unclean,
            ..with_controller(Replication::InSync)
        },
    );
    net.pass_ms(100);
    net.cut_both(N1, N3);
    let w = net.write(N1, 1, 1);
    net.pass_ms(300);
    assert!(net.noted("controller n4: the ISR of epoch 1 is now {n1,n2}"));
    assert!(written(net.result(w)), "acknowledged once n3 left the ISR");
    net.crash(N1);
    net.crash(N2);
    net.pass_ms(600);
    net
}

#[test]
fn without_unclean_election_there_is_no_leader_until_an_in_sync_replica_returns() {
    let mut net = only_an_out_of_sync_replica_left(false);
    assert!(net.noted(
        "controller n4: no leader for epoch 2 (no member of the ISR {n1,n2} is reachable and \
         unclean_election is off)"
    ));
    let w = net.write(N3, 1, 2);
    assert_eq!(
        net.result(w),
        Some(OpResult::Failed(FailReason::Unavailable))
    );
    // n2 comes back; the controller elects it as soon as it answers.
    net.restart(N2);
    net.pass_ms(100);
    assert!(
        net.noted("controller n4 elected n2 for epoch 3"),
        "{:?}",
        net.notes
    );
    assert_eq!(net.value(N3, 1), Some(ValueId(1)), "n3 caught up from n2");
}

#[test]
fn unclean_election_elects_an_out_of_sync_replica_and_loses_acknowledged_writes() {
    let net = only_an_out_of_sync_replica_left(true);
    assert!(
        net.noted(
            "unclean: n3 was not in the ISR {n1,n2}; its log ends at 0 (epoch 0), the in-sync \
             replicas last reported logs up to 1)"
        ),
        "{:?}",
        net.notes
    );
    assert_eq!(net.nodes[2].leader_hint(), Some(N3));
    assert_eq!(net.value(N3, 1), None, "the acknowledged write is gone");
}

#[test]
fn a_restarted_controller_outranks_what_its_earlier_incarnation_said() {
    let mut net = Net::new(4, with_controller(Replication::Async));
    net.deliver();
    net.controller_tick(N4);
    let stale = net.wire.iter().find(|(_, to, _)| *to == N2).cloned();
    net.deliver();
    net.crash(N4);
    net.restart(N4);
    assert!(net.noted("controller n4 restarted with controller epoch 2"));
    net.deliver();
    assert_eq!(net.nodes[1].controller_epoch, 2);
    let (from, to, msg) = stale.expect("a LeaderAndIsr for n2");
    net.run(to, |p, ctx| p.on_message(ctx, from, msg));
    assert!(
        net.wire.is_empty(),
        "the old incarnation's word is ignored, not answered"
    );
}

#[test]
fn manual_failover_can_move_leadership_back_to_the_configured_leader() {
    let mut net = deposed_n1(true, Replication::InSync);
    net.cut.clear();
    net.pass_ms(300); // n1 hears of epoch 2, follows n2 and rejoins the ISR
    assert_eq!(net.nodes[0].leader_hint(), Some(N2));
    assert!(net.noted("controller n4: the ISR of epoch 2 is now {n1,n2,n3}"));
    // `policy.leader` still says n1; setting it again moves leadership back.
    net.run(N4, |p, ctx| p.on_set(ctx, "policy.leader"));
    net.deliver();
    assert!(
        net.noted("controller n4 elected n1 for epoch 3 (manual failover to n1; n1 was in sync)")
    );
    assert_eq!(net.nodes[1].leader_hint(), Some(N1));
}

#[test]
fn manual_failover_to_an_out_of_sync_replica_needs_unclean_election() {
    let mut net = only_an_out_of_sync_replica_left(false);
    net.run(N4, |p, ctx| p.manual_failover(ctx, N3));
    assert!(net.noted("refused to move leadership to n3: n3 is not in the ISR {n1,n2}"));
}

#[test]
fn node_sets_print_and_count() {
    let s = NodeSet::default().with(N1).with(N3);
    assert_eq!(s.to_string(), "{n1,n3}");
    assert_eq!(s.len(), 2);
    assert!(s.contains(N3) && !s.contains(N2));
    assert_eq!(s.without(N1).to_string(), "{n3}");
}
