//! Explanations of stale reads in small hand-built runs: every claim is checked against what the
//! scenario's shape forces (which side of a partition wrote, which answered).

use super::*;
use crate::check::stale::StaleRead;
use crate::engine::Options;
use crate::trace::DropReason;

/// Three replicas of one key, R=W=1, n1 cut off from n2 and n3 for the whole run: a write
/// acknowledged on one side is invisible to a read answered on the other.
const SPLIT: &str = r#"(
    title: "split",
    seed: 5,
    nodes: (count: 3),
    network: (latency: Constant(2.0)),
    policy: Leaderless((replication_factor: 3, read_quorum: 1, write_quorum: 1, request_timeout_ms: 100.0)),
    workload: (
        load: ClosedLoop(clients: 6, think_time_ms: 5.0),
        keys: Uniform(count: 1),
        timeout_ms: 100.0,
    ),
    faults: [ (at_ms: 0.0, fault: Partition([["n1"], ["n2", "n3"]])) ],
    run: (duration_ms: 400.0),
)"#;

fn first_stale(text: &str) -> (Sim, StaleRead) {
    let s = crate::scenario::from_str("test", text).expect("scenario");
    let start = Sim::new(&s, &Options::default());
    let mut run = start.clone();
    run.run_to_end();
    let stale = run
        .metrics()
        .stale
        .records
        .first()
        .cloned()
        .expect("a stale read");
    (start, stale)
}

fn side(n: NodeId) -> bool {
    n == NodeId(0)
}

#[test]
fn quorum_one_across_a_partition_names_the_write_the_replica_and_the_drop() {
    let (start, stale) = first_stale(SPLIT);
    let e = explain_stale_read(&start, &stale).expect("explained");
    assert_eq!(e.missed.op, stale.missed_op);
    assert_eq!(e.missed.value, stale.missed_value);
    assert!(e.missed.acked.0 < stale.invoke_us + 1);
    let reader = e.read.coordinator.expect("coordinator");
    let writer = e.missed.coordinator.expect("write coordinator");
    // Only the two sides exist: the read was answered on the other side from the write.
    assert_ne!(side(reader), side(writer));
    // R=1 and every node is a replica: the coordinator answers itself, alone.
    assert_eq!(e.answered.len(), 1);
    assert_eq!(e.answered[0].node, reader);
    assert_eq!(e.answered[0].held, stale.returned);
    // The writer's own copy is applied by the ack; the reader's is not.
    assert!(e.missed.held_at_ack.contains(&writer));
    assert!(!e.missed.held_at_ack.contains(&reader));
    let w = e.replicas.iter().find(|w| w.node == reader).unwrap();
    assert_eq!(w.applied, None);
    // The write's replication request to the reader was refused by the partition at send.
    let c = w
        .carriers
        .iter()
        .find(|c| c.from == writer)
        .expect("a carrier");
    assert!(matches!(
        c.fate,
        Fate::Dropped {
            reason: DropReason::Partition,
            ..
        }
    ));
    assert!(w.cut_from.contains(&writer));
    assert!(e.highlight.messages.contains(&c.id));
    assert!(e.highlight.nodes.contains(&reader) && e.highlight.nodes.contains(&writer));
    let text = e.sentences().join("\n");
    let v = stale.missed_value.unwrap().to_string();
    assert!(text.contains(&format!("missed {v}")), "{text}");
    assert!(text.contains(&format!("only {reader}")), "{text}");
    assert!(
        text.contains("dropped") && text.contains("partition"),
        "{text}"
    );
}

/// Every answering replica of every explained read lacked the missed update when it answered.
fn check_consistent(text: &str, reads: usize) {
    let s = crate::scenario::from_str("test", text).expect("scenario");
    let start = Sim::new(&s, &Options::default());
    let mut run = start.clone();
    run.run_to_end();
    let records = &run.metrics().stale.records;
    assert!(!records.is_empty());
    for stale in records.iter().take(reads) {
        let e = explain_stale_read(&start, stale).expect("explained");
        assert_eq!(e.read.op, stale.op);
        assert!(!e.answered.is_empty());
        for a in &e.answered {
            assert_ne!(a.held, stale.missed_value, "{:?}", e);
            let w = e.replicas.iter().find(|w| w.node == a.node);
            assert!(w.is_none_or(|w| w.applied.is_none()), "{:?}", e);
        }
    }
}

#[test]
fn async_follower_reads_are_explained_by_the_follower_that_answered() {
    let text = include_str!("../../../scenarios/async-follower-stale.ron");
    check_consistent(text, 3);
}

#[test]
fn raft_lease_reads_are_explained_by_the_deposed_leader() {
    let text = include_str!("../../../scenarios/raft-lease-stale.ron");
    check_consistent(text, 2);
}

#[test]
fn a_lost_write_under_clock_skew_reached_replicas_that_did_not_keep_it() {
    let text = include_str!("../../../scenarios/lww-clock-skew.ron");
    let s = crate::scenario::from_str("test", text).expect("scenario");
    let start = Sim::new(&s, &Options::default());
    let mut run = start.clone();
    run.run_to_end();
    let lost = run.analysis().lost_writes;
    let (key, value, acked_us) = lost.subject.expect("a lost write");
    let story = explain_update(&mut start.clone(), key, value, run.now());
    assert_eq!(story.acked, Some(SimTime(acked_us)));
    // Lost: no live replica ends with it...
    assert!(
        story
            .replicas
            .iter()
            .all(|r| r.held_at_end != value || r.crashed)
    );
    // ...although it was acknowledged: some replica received it, and every one that applied
    // it replaced it later (last-writer-wins by skewed clocks).
    let received = story.replicas.iter().any(|r| {
        r.applied.is_some()
            || r.carriers
                .iter()
                .any(|c| matches!(c.fate, Fate::Delivered { .. }))
    });
    assert!(received, "{story:?}");
    let applied = story.replicas.iter().filter(|r| r.applied.is_some());
    assert!(
        applied
            .clone()
            .all(|r| r.replaced.is_some_and(|(_, v)| v != value))
    );
    let text = story.sentences().join("\n");
    assert!(
        text.contains(&format!("k{key}={}", value.unwrap())),
        "{text}"
    );
    assert!(text.contains("did not apply"), "{text}");
    // Leaderless replicas apply on arrival: the reason is the conflict rule, not a commit.
    assert!(text.contains("(last write wins)"), "{text}");
    assert!(!text.contains("never committed"), "{text}");
}

#[test]
fn a_resurrected_value_is_explained_as_a_read_that_missed_the_delete() {
    let text = include_str!("../../../scenarios/tombstone-resurrection.ron");
    let s = crate::scenario::from_str("test", text).expect("scenario");
    let start = Sim::new(&s, &Options::default());
    let mut run = start.clone();
    run.run_to_end();
    let (key, value, read_us) = run.analysis().resurrected.subject.expect("a resurrection");
    let stale = run
        .metrics()
        .stale
        .records
        .iter()
        .find(|r| r.key == key && r.returned == value && r.invoke_us == read_us)
        .expect("every resurrected read is a stale read");
    let e = explain_stale_read(&start, stale).expect("explained");
    let text = e.sentences().join("\n");
    if stale.missed_value.is_none() {
        assert!(text.contains("It missed the delete"), "{text}");
    }
    // Some replica that answered still held the deleted value: it never applied the delete.
    let source = e
        .answered
        .iter()
        .find(|a| a.held == value)
        .unwrap_or_else(|| panic!("{text}"));
    let w = e.replicas.iter().find(|w| w.node == source.node).unwrap();
    assert_eq!(w.applied, None, "{text}");
}

/// First write wins: the missed update reached the replicas that answered, and they kept the
/// value they had. The explanation says so, not "not committed yet" (the log policies' reason).
#[test]
fn a_write_rejected_by_first_write_wins_is_explained_by_the_conflict_rule() {
    let text = include_str!("../../../scenarios/fww-lost-updates.ron");
    let (start, stale) = first_stale(text);
    let e = explain_stale_read(&start, &stale).expect("explained");
    assert!(
        e.kept_on_receipt
            .is_some_and(|k| k.contains("first write wins"))
    );
    let delivered_unapplied = |w: &&Whereabouts| {
        w.applied.is_none()
            && w.carriers
                .last()
                .is_some_and(|c| matches!(c.fate, Fate::Delivered { .. }))
    };
    let rejected: Vec<&Whereabouts> = e.replicas.iter().filter(delivered_unapplied).collect();
    assert!(!rejected.is_empty(), "{e:?}");
    let text = e.sentences().join("\n");
    assert!(text.contains("kept its own value"), "{text}");
    assert!(!text.contains("not committed"), "{text}");
}

/// Log-based policies keep the generic reason: a received entry waits for its commit.
#[test]
fn a_log_policy_explanation_names_no_conflict_rule() {
    let text = include_str!("../../../scenarios/async-follower-stale.ron");
    let (start, stale) = first_stale(text);
    let e = explain_stale_read(&start, &stale).expect("explained");
    assert_eq!(e.kept_on_receipt, None);
}

/// The coordinator of a write rejected by its own conflict rule is not said to be waiting for a
/// message: it wrote (or refused) its copy itself.
#[test]
fn a_coordinator_that_kept_its_own_value_is_not_waiting_for_a_message() {
    let text = include_str!("../../../scenarios/fww-lost-updates.ron");
    let (start, stale) = first_stale(text);
    let e = explain_stale_read(&start, &stale).expect("explained");
    let coordinator = e.missed.coordinator.expect("write coordinator");
    let w = e.replicas.iter().find(|w| w.node == coordinator);
    let w = w.expect("every node replicates the key (N = 3 of 3)");
    assert!(w.applied.is_none() && w.carriers.is_empty(), "{w:?}");
    let line = whereabouts_line(&e, coordinator);
    assert!(
        line.contains(&format!(
            "it coordinated v{}",
            stale.missed_value.unwrap().0
        )),
        "{line}"
    );
    assert!(!line.contains("no message"), "{line}");
}

fn whereabouts_line(e: &Explanation, node: NodeId) -> String {
    let w = e.replicas.iter().find(|w| w.node == node).expect("replica");
    text::whereabouts(e, w)
}
