//! When the leader answers a write: acks=0/1, semi-sync, sync, acks=all and the ISR.

use super::*;

#[test]
fn acks_1_answers_at_once_and_followers_apply_in_order() {
    let mut net = Net::new(3, config(Replication::Async));
    let w = net.write(N1, 5, 10);
    assert_eq!(net.result(w), Some(OpResult::Written(Version(1, 1))));
    assert_eq!(net.value(N2, 5), None, "not shipped yet");
    net.deliver();
    assert_eq!(net.value(N2, 5), Some(ValueId(10)));
    assert_eq!(net.value(N3, 5), Some(ValueId(10)));
}

#[test]
fn acks_0_answers_before_the_leader_appends() {
    let mut net = Net::new(3, config(Replication::NoAck));
    let w = net.write(N1, 1, 1);
    assert!(written(net.result(w)));
    let reply = net.last_effects.iter().position(|e| *e == "reply");
    let applied = net.last_effects.iter().position(|e| *e == "applied");
    assert!(reply < applied, "{:?}", net.last_effects);
}

#[test]
fn acks_0_client_is_told_ok_even_when_a_fenced_leader_drops_the_write() {
    let mut net = Net::new(4, with_controller(Replication::NoAck));
    net.deliver();
    net.cut_both(N1, N4);
    net.advance_ms(400); // past fence_timeout (300 ms)
    net.tick(N1);
    assert!(net.noted("n1 fenced itself: no word from the controller for 400 ms"));
    let before = net.log_len(N1);
    let w = net.write(N1, 1, 1);
    assert!(written(net.result(w)), "acks=0 never hears of the failure");
    assert_eq!(net.log_len(N1), before, "the write went nowhere");
}

#[test]
fn semi_sync_waits_for_exactly_one_follower() {
    let mut net = Net::new(3, config(Replication::SemiSync));
    net.deliver(); // initial probes
    net.cut.push((N1, N3)); // n3 never hears of the write
    let w = net.write(N1, 1, 1);
    assert_eq!(net.result(w), None, "no follower has it yet");
    net.deliver();
    assert!(written(net.result(w)), "n2 alone is enough");
    assert_eq!(net.value(N3, 1), None);
}

#[test]
fn sync_waits_for_every_follower() {
    let mut net = Net::new(3, config(Replication::Sync));
    net.deliver();
    net.cut.push((N1, N3));
    let w = net.write(N1, 1, 1);
    net.deliver();
    assert_eq!(net.result(w), None, "n3 has not applied it");
    net.cut.clear();
    net.tick(N1); // resend
    net.deliver();
    assert!(written(net.result(w)));
}

/// Three in-sync nodes, acks=all, n2 and n3 silent for longer than the lag time.
fn lagging_followers(min_isr: u16) -> (Net, OpRef) {
    let mut net = Net::new(
        3,
        SingleLeaderConfig {
            min_insync_replicas: min_isr,
            ..config(Replication::InSync)
        },
    );
    net.deliver();
    let w = net.write(N1, 1, 1);
    net.lose_all();
    (net, w)
}

#[test]
fn acks_all_waits_for_the_whole_isr() {
    let (mut net, w) = lagging_followers(2);
    net.advance_ms(100); // within replica_lag_max (200 ms): still in sync
    net.tick(N1);
    net.lose_all();
    assert_eq!(net.result(w), None);
    assert!(!net.noted("ISR"));
}

#[test]
fn acks_all_write_found_short_after_append_is_info() {
    // Kafka: NotEnoughReplicasAfterAppend. The write is in the leader's log; the ISR shrank
    // below min.insync.replicas while it waited.
    let (mut net, w) = lagging_followers(2);
    net.advance_ms(250);
    net.tick(N1);
    assert!(net.noted("the ISR is now {n1}"), "{:?}", net.notes);
    assert_eq!(
        net.result(w),
        Some(OpResult::Unknown(FailReason::NotEnoughReplicas))
    );
}

#[test]
fn acks_all_refuses_writes_up_front_when_only_the_leader_is_in_sync() {
    // Kafka: NotEnoughReplicas, raised before the append.
    let (mut net, _) = lagging_followers(2);
    net.advance_ms(250);
    net.tick(N1);
    net.lose_all();
    let before = net.log_len(N1);
    let w = net.write(N1, 2, 2);
    assert_eq!(
        net.result(w),
        Some(OpResult::Failed(FailReason::NotEnoughReplicas))
    );
    assert_eq!(net.log_len(N1), before, "refused before the append");
}

#[test]
fn acks_all_with_min_isr_1_goes_on_alone() {
    let (mut net, w) = lagging_followers(1);
    net.advance_ms(250);
    net.tick(N1);
    assert!(
        written(net.result(w)),
        "the ISR is {{n1}} and that is enough"
    );
}

#[test]
fn isr_shrinks_after_the_lag_time_and_expands_after_catching_up() {
    let mut net = Net::new(3, config(Replication::InSync));
    net.deliver();
    net.cut.push((N1, N3));
    let w1 = net.write(N1, 1, 1);
    net.deliver();
    assert_eq!(net.result(w1), None, "n3 is in the ISR and lacks it");
    net.advance_ms(150);
    net.tick(N1);
    net.deliver();
    assert!(!net.noted("ISR"), "150 ms is within the lag time");
    net.advance_ms(100);
    net.tick(N1);
    net.deliver();
    assert!(net.noted("n1: the ISR is now {n1,n2} ({n3} did not catch up for 200 ms)"));
    assert!(written(net.result(w1)), "answered once n3 left the ISR");
    net.cut.clear();
    net.tick(N1); // the resend reaches n3
    net.deliver();
    assert!(net.noted("n1: the ISR is now {n1,n2,n3} (n3 caught up)"));
    assert_eq!(net.value(N3, 1), Some(ValueId(1)));
}

#[test]
fn an_idle_follower_holding_the_whole_log_stays_in_sync() {
    // KAFKA-7152: a follower with the leader's log end is never out of sync, however long ago
    // it last acknowledged anything.
    let mut net = Net::new(3, config(Replication::InSync));
    net.write(N1, 1, 1);
    net.deliver();
    net.advance_ms(5_000);
    net.tick(N1);
    let w = net.write(N1, 1, 2);
    net.deliver();
    assert!(written(net.result(w)));
    assert!(!net.noted("ISR"));
}

#[test]
fn with_a_controller_an_isr_shrink_counts_only_once_recorded() {
    // KIP-497: until the controller has recorded the smaller ISR, the leader still waits for the
    // members it wants to drop; a clean election may pick any of them meanwhile.
    let config = SingleLeaderConfig {
        min_insync_replicas: 2,
        ..with_controller(Replication::InSync)
    };
    let mut net = Net::new(4, config);
    net.deliver();
    net.cut.push((N1, N2));
    net.cut.push((N1, N3));
    let w = net.write(N1, 1, 1);
    net.advance_ms(250);
    net.tick(N1);
    assert!(net.noted("n1 asks the controller to make the ISR {n1}: {n2,n3} did not catch up"));
    assert_eq!(
        net.result(w),
        None,
        "not recorded yet: n2 and n3 still count"
    );
    net.deliver();
    assert!(net.noted("controller n4: the ISR of epoch 1 is now {n1}"));
    assert_eq!(
        net.result(w),
        Some(OpResult::Unknown(FailReason::NotEnoughReplicas))
    );
}
