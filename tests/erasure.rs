//! Erasure under an immutable log (issue 6): tombstones + compaction leave lingering copies for a
//! while; crypto-shredding makes the log's copies unreadable at once.

mod common;

use capsim::engine::{Engine, Options};
use capsim::policy::event_log::EventLog;
use capsim::policy::event_log::domain::EventBody;
use capsim::types::{NodeId, SimTime};

const TOMBSTONED: u32 = 3;
const SHREDDED: u32 = 4;

const ERASE: &str = r#"(
    nodes: (count: 3),
    policy: EventLog((domain: SongPlays, poll_interval_ms: 50.0, snapshot_every: 30,
        projections: [(node: "n3", poll_interval_ms: Some(700.0))],
        erasures: [(at_ms: 1000.0, user: 3, method: Tombstone),
                   (at_ms: 1000.0, user: 4, method: CryptoShred)],
        compaction_interval_ms: 400.0, min_compaction_lag_ms: 800.0,
        delete_retention_ms: 600.0, segment_entries: 40)),
    workload: (load: ClosedLoop(clients: 4, think_time_ms: 10.0), mix: (read: 0.4, write: 0.6),
        keys: Uniform(count: 6), client_nodes: ["n2", "n3"]),
    run: (duration_ms: 4000.0, drain_ms: 1500.0),
)"#;

fn engine() -> Engine<EventLog> {
    Engine::new(&common::scenario(ERASE), &Options::default())
}

fn log_records(e: &Engine<EventLog>, user: u32) -> usize {
    let w = e.policy(NodeId(0)).writer().unwrap();
    w.log()
        .iter()
        .filter(|r| r.key == user && r.body != EventBody::Erased)
        .count()
}

#[test]
fn lingering_copies_of_a_tombstoned_user_go_to_zero() {
    let mut e = engine();
    e.run_until(SimTime::from_ms(1001.0));
    let lingering = e.metrics().event_log.lingering_copies(TOMBSTONED);
    let records = log_records(&e, TOMBSTONED) as u64;
    assert!(records > 5, "user 3 played songs before the request");
    // The log's records, both read models and at least one snapshot still hold user 3.
    assert!(
        lingering > records,
        "{lingering} copies, {records} in the log"
    );
    e.run_to_end();
    let r = e.report(0.0).event_log;
    assert_eq!(r.lingering_copies_at_end, Some(0));
    assert!(r.lingering_copies_max.unwrap() >= lingering);
    // The records appended just before the request may only go after min_compaction_lag_ms.
    assert!(r.erased_after_ms.unwrap() >= 800.0, "{r:?}");
    assert_eq!(log_records(&e, TOMBSTONED), 0);
    assert!(r.records_removed.unwrap() >= records, "{r:?}");
    assert_eq!(
        r.tombstones_purged,
        Some(1),
        "the tombstone itself went after its retention"
    );
    for n in [1, 2] {
        let p = e.policy(NodeId(n)).projection().unwrap();
        assert!(!p.model().contains_key(&TOMBSTONED));
    }
}

#[test]
fn crypto_shredding_makes_the_logged_events_unreadable_at_once() {
    let mut e = engine();
    e.run_until(SimTime::from_ms(1000.5));
    // The ciphertext is still in the log, but nobody can read it any more...
    assert!(log_records(&e, SHREDDED) > 5);
    let readable = e.metrics().event_log.lingering_copies(SHREDDED);
    // ...so what remains readable is at most what the two projections derived in plaintext:
    // a read model and a snapshot each.
    assert!(
        readable <= 4,
        "{readable} readable copies right after shredding"
    );
    assert!(e.metrics().event_log.lingering_copies(TOMBSTONED) > readable);
    e.run_to_end();
    let r = e.report(0.0).event_log;
    let crypto = r.crypto_erased_after_ms.unwrap();
    // Each projection drops its plaintext at its next fetch: within n3's poll interval plus a
    // round trip, long before compaction could have removed a tombstoned user's records.
    assert!((0.0..=700.0 + 200.0).contains(&crypto), "{crypto}");
    assert!(crypto < r.erased_after_ms.unwrap());
    assert!(
        log_records(&e, SHREDDED) > 0,
        "shredding leaves the ciphertext in place"
    );
    for n in [1, 2] {
        assert!(
            !e.policy(NodeId(n))
                .projection()
                .unwrap()
                .model()
                .contains_key(&SHREDDED)
        );
    }
}

#[test]
fn commands_for_an_erased_user_are_refused() {
    let mut e = engine();
    e.run_to_end();
    let w = e.policy(NodeId(0)).writer().unwrap();
    let tomb = w
        .log()
        .iter()
        .find(|r| r.body == EventBody::Erased)
        .map(|r| r.offset);
    // The tombstone was purged; no record of either user was appended after the request.
    assert_eq!(tomb, None);
    assert!(
        w.log()
            .iter()
            .filter(|r| r.key == TOMBSTONED || r.key == SHREDDED)
            .all(|r| r.appended_at <= SimTime::from_ms(1000.0))
    );
    assert!(e.report(0.0).event_log.commands_rejected.unwrap() > 0);
}

#[test]
fn erasure_runs_are_deterministic() {
    let once = || {
        let mut e = engine();
        e.run_to_end();
        (e.trace_hash(), e.report(0.0).event_log)
    };
    assert_eq!(once(), once());
}

#[test]
fn lingering_copies_over_time_fall_to_zero_when_the_erasure_completes() {
    let mut e = engine();
    e.run_to_end();
    let series = e.metrics().event_log.series();
    let r = e.report(0.0).event_log;
    let peak = series.iter().map(|p| p.lingering_copies).max().unwrap();
    assert!(peak > 0);
    assert_eq!(series.last().unwrap().lingering_copies, 0);
    // The last time the count fell to 0 is when the slower (tombstone) erasure completed.
    let done = series
        .windows(2)
        .rev()
        .find(|w| w[0].lingering_copies > 0 && w[1].lingering_copies == 0)
        .map(|w| w[1].t_us)
        .unwrap();
    let requested_us = 1_000_000.0;
    let after_ms = (done as f64 - requested_us) / 1000.0;
    assert_eq!(Some(after_ms), r.erased_after_ms);
}

/// `ERASE` plus a log replica n4 cut off from 0.9 s to `heal_ms`, run to the end.
fn with_replica(heal_ms: f64) -> Engine<EventLog> {
    let mut e = replica_cut_off_until(heal_ms);
    e.run_to_end();
    e
}

/// `ERASE` plus a log replica n4 (polling every 100 ms) cut off from 0.9 s to `heal_ms`.
fn replica_cut_off_until(heal_ms: f64) -> Engine<EventLog> {
    let text = ERASE
        .replace("nodes: (count: 3)", "nodes: (count: 4)")
        .replace(
            "erasures:",
            r#"log_replicas: [(node: "n4", poll_interval_ms: Some(100.0))], erasures:"#,
        )
        .replace(
            "run: (",
            &format!(
                r#"faults: [(at_ms: 900.0, fault: Partition([["n4"]]), for_ms: Some({}))], run: ("#,
                heal_ms - 900.0
            ),
        );
    Engine::new(&common::scenario(&text), &Options::default())
}

fn replica_records(e: &Engine<EventLog>, user: u32) -> usize {
    let r = e.policy(NodeId(3)).log_replica().unwrap();
    r.log()
        .iter()
        .filter(|x| x.key == user && x.body != EventBody::Erased)
        .count()
}

#[test]
fn a_lagging_log_replica_keeps_erased_records_until_it_catches_up_and_cleans() {
    // Back at 1.5 s: the writer still holds the tombstone, so the replica gets it and cleans.
    let e = with_replica(1500.0);
    let r = e.report(0.0).event_log;
    assert_eq!(replica_records(&e, TOMBSTONED), 0);
    assert_eq!(r.lingering_copies_at_end, Some(0), "{r:?}");
}

#[test]
fn a_replica_away_longer_than_delete_retention_misses_the_tombstone_for_good() {
    // Back at 5 s: the writer has compacted user 3's records and purged the tombstone (it keeps
    // it 600 ms after its cleaner first saw it), so the replica never learns of the erasure.
    let e = with_replica(5000.0);
    let writer = e.policy(NodeId(0)).writer().unwrap();
    assert!(writer.log().iter().all(|x| x.key != TOMBSTONED));
    assert!(replica_records(&e, TOMBSTONED) > 0);
    let r = e.report(0.0).event_log;
    assert!(r.lingering_copies_at_end.unwrap() > 0);
    assert_eq!(r.erased_after_ms, Some(-1.0));
}

#[test]
fn a_log_replica_counts_for_replication_lag_and_ends_with_the_writers_state() {
    let n4 = NodeId(3);
    let mut e = replica_cut_off_until(2000.0);
    // Cut off at 0.9 s, the workload's writes since then wait for it: over a second by 1.95 s.
    e.run_until(SimTime::from_ms(1950.0));
    assert!(e.node_info(n4).lag_us > 1_000_000, "{:?}", e.node_info(n4));
    // Back at 2 s, it catches up within a few 100 ms polls.
    e.run_until(SimTime::from_ms(2600.0));
    assert!(e.node_info(n4).lag_us < 500_000, "{:?}", e.node_info(n4));
    e.run_to_end();
    let writer: std::collections::BTreeMap<_, _> = e
        .policy(NodeId(0))
        .writer()
        .unwrap()
        .state()
        .iter()
        .map(|(k, a)| (*k, a.last_value))
        .collect();
    let replica = e.policy(n4).log_replica().unwrap().values();
    assert_eq!(&writer, replica, "the copy answers what the writer does");
    assert!(
        !replica.contains_key(&SHREDDED),
        "the shredded user is gone"
    );
    assert_eq!(e.report(0.0).divergent_keys_at_end, 0);
}
