//! Event sourcing and CQRS (issue 6): commands become events or are rejected, state is a fold of
//! the events, mistakes are compensated, read models lag and catch up, projections rebuild.

mod common;

use capsim::engine::{Engine, Options};
use capsim::policy::event_log::EventLog;
use capsim::policy::event_log::domain::{Aggregate, EventBody, StoredEvent, aggregate_at};
use capsim::types::{Key, NodeId, SimTime};
use std::collections::BTreeMap;

fn engine(text: &str) -> Engine<EventLog> {
    Engine::new(&common::scenario(text), &Options::default())
}

fn log(e: &Engine<EventLog>) -> Vec<StoredEvent> {
    e.policy(NodeId(0))
        .writer()
        .expect("n1 writes")
        .log()
        .iter()
        .copied()
        .collect()
}

fn writer_state(e: &Engine<EventLog>) -> BTreeMap<Key, Aggregate> {
    e.policy(NodeId(0))
        .writer()
        .expect("n1 writes")
        .state()
        .clone()
}

fn model(e: &Engine<EventLog>, node: u16) -> BTreeMap<Key, Aggregate> {
    e.policy(NodeId(node))
        .projection()
        .expect("a projection")
        .model()
        .clone()
}

/// Folds every key's events from scratch.
fn fold(log: &[StoredEvent]) -> BTreeMap<Key, Aggregate> {
    let last = log.last().map_or(0, |e| e.offset);
    let keys: std::collections::BTreeSet<Key> = log.iter().map(|e| e.key).collect();
    keys.into_iter()
        .filter_map(|k| aggregate_at(log, k, last).map(|a| (k, a)))
        .collect()
}

const BANK: &str = r#"(
    nodes: (count: 3),
    policy: EventLog((domain: Bank, poll_interval_ms: 30.0,
        mistakes: [(at_ms: 800.0, account: 1, amount: 400)], review_delay_ms: 300.0)),
    workload: (load: ClosedLoop(clients: 4, think_time_ms: 5.0), mix: (read: 0.4, write: 0.6),
        keys: Uniform(count: 4), client_nodes: ["n2", "n3"]),
    run: (duration_ms: 2000.0, drain_ms: 1000.0),
)"#;

#[test]
fn the_balance_is_the_fold_of_the_accounts_events() {
    let mut e = engine(BANK);
    e.run_to_end();
    let log = log(&e);
    assert!(log.len() > 50, "the workload appended events");
    assert_eq!(fold(&log), writer_state(&e));
    for (key, agg) in writer_state(&e) {
        let expected: i64 = log
            .iter()
            .filter(|ev| ev.key == key)
            .map(|ev| match ev.body {
                EventBody::Deposited(a) | EventBody::Compensated { amount: a, .. } => a as i64,
                EventBody::Withdrew(a) | EventBody::MistakenDebit(a) => -(a as i64),
                _ => 0,
            })
            .sum();
        assert_eq!(agg.balance, expected, "account {key}");
    }
}

#[test]
fn no_client_withdrawal_ever_overdraws_and_overdrafts_are_rejected() {
    let mut e = engine(BANK);
    e.run_to_end();
    let report = e.report(0.0);
    assert!(report.event_log.commands_rejected.unwrap() > 0);
    assert_eq!(report.failed, report.event_log.commands_rejected.unwrap());
    let log = log(&e);
    for ev in &log {
        if let EventBody::Withdrew(a) = ev.body {
            let before = aggregate_at(&log, ev.key, ev.offset - 1).map_or(0, |x| x.balance);
            assert!(
                before >= a as i64,
                "event {} overdrew: {before} < {a}",
                ev.offset
            );
        }
    }
}

#[test]
fn a_compensating_event_undoes_a_mistake_and_history_keeps_both() {
    let mut e = engine(BANK);
    e.run_to_end();
    let log = log(&e);
    let mistake = log
        .iter()
        .find(|ev| matches!(ev.body, EventBody::MistakenDebit(400)))
        .expect("the mistake is in the log");
    let fix = log
        .iter()
        .find(|ev| {
            ev.body
                == EventBody::Compensated {
                    amount: 400,
                    of_offset: mistake.offset,
                }
        })
        .expect("the compensation is in the log");
    assert_eq!((mistake.key, fix.key), (1, 1));
    assert!(fix.offset > mistake.offset);
    assert!(
        fix.appended_at.0 - mistake.appended_at.0 >= 300_000,
        "after the review delay"
    );
    // Time travel: the balance as of each event number.
    let balance = |upto: u64| aggregate_at(&log, 1, upto).map_or(0, |a| a.balance);
    assert_eq!(balance(mistake.offset), balance(mistake.offset - 1) - 400);
    assert_eq!(balance(fix.offset), balance(fix.offset - 1) + 400);
    assert_eq!(e.report(0.0).event_log.compensating_events, Some(1));
}

const CQRS: &str = r#"(
    nodes: (count: 3),
    policy: EventLog((domain: Reviews, poll_interval_ms: 20.0,
        projections: [(node: "n3", poll_interval_ms: Some(400.0))])),
    workload: (load: ClosedLoop(clients: 4, think_time_ms: 5.0), mix: (read: 0.5, write: 0.5),
        keys: Uniform(count: 8), client_nodes: ["n2", "n3"]),
    run: (duration_ms: 2000.0, drain_ms: 1000.0),
)"#;

#[test]
fn a_read_model_lags_the_write_side_then_catches_up() {
    let mut e = engine(CQRS);
    let mut seen_behind = false;
    for ms in (100..2000).step_by(50) {
        e.run_until(SimTime::from_ms(ms as f64));
        let end = log(&e).last().map_or(0, |x| x.offset);
        let n3 = e.policy(NodeId(2)).projection().unwrap().next_offset() - 1;
        assert!(n3 <= end);
        seen_behind |= n3 < end;
    }
    assert!(seen_behind, "the slow projection fell behind at some point");
    e.run_to_end();
    let r = e.report(0.0);
    assert_eq!(model(&e, 1), writer_state(&e));
    assert_eq!(model(&e, 2), writer_state(&e));
    assert!(
        r.stale_reads > 0,
        "queries on the lagging read model were stale"
    );
    let lag = r.event_log.read_model_lag_ms_max.unwrap();
    // n3 fetches every 400 ms: an event waits at most one interval plus a round trip.
    assert!(lag > 0.0 && lag < 400.0 + 500.0, "lag {lag}");
    assert_eq!(r.event_log.cdc_divergent_items, Some(0));
}

#[test]
fn the_average_rating_projection_matches_a_fold_of_the_reviews() {
    let mut e = engine(CQRS);
    e.run_to_end();
    let log = log(&e);
    for (key, agg) in model(&e, 1) {
        let ratings: Vec<u64> = log
            .iter()
            .filter_map(|ev| match ev.body {
                EventBody::Reviewed(r) if ev.key == key => Some(r as u64),
                _ => None,
            })
            .collect();
        let avg = ratings.iter().sum::<u64>() as f64 / ratings.len() as f64;
        assert_eq!(agg.average_rating(), Some(avg));
    }
}

const REBUILD: &str = r#"(
    nodes: (count: 3),
    policy: EventLog((domain: Cart, poll_interval_ms: 20.0, snapshot_every: 50,
        projections: [(node: "n2", rebuild: Some(FromSnapshot)), (node: "n3", rebuild: Some(FromScratch))])),
    workload: (load: ClosedLoop(clients: 4, think_time_ms: 5.0), mix: (read: 0.3, write: 0.7),
        keys: Uniform(count: 6), client_nodes: ["n1"]),
    faults: [
        (at_ms: 1500.0, fault: Crash("n2"), for_ms: Some(100.0)),
        (at_ms: 1500.0, fault: Crash("n3"), for_ms: Some(100.0)),
    ],
    run: (duration_ms: 2500.0, drain_ms: 1000.0),
)"#;

#[test]
fn snapshot_plus_tail_rebuilds_the_same_state_as_a_full_replay_with_fewer_entries() {
    let mut e = engine(REBUILD);
    e.run_to_end();
    let from_snapshot = e
        .policy(NodeId(1))
        .projection()
        .unwrap()
        .last_rebuild()
        .unwrap();
    let from_scratch = e
        .policy(NodeId(2))
        .projection()
        .unwrap()
        .last_rebuild()
        .unwrap();
    assert_eq!(from_snapshot.0, "its own snapshot");
    assert_eq!(from_scratch.0, "scratch");
    assert!(
        from_snapshot.1 < from_scratch.1,
        "snapshot + tail replayed {} events, scratch {}",
        from_snapshot.1,
        from_scratch.1
    );
    assert_eq!(model(&e, 1), writer_state(&e));
    assert_eq!(model(&e, 2), writer_state(&e));
    let r = e.report(0.0);
    assert_eq!(r.event_log.rebuilds, Some(2));
    assert!(r.event_log.snapshots_taken.unwrap() > 0);
    assert_eq!(
        r.event_log.entries_replayed,
        Some(from_snapshot.1 + from_scratch.1)
    );
    assert!(r.event_log.rebuild_ms.unwrap() > 0.0);
}

#[test]
fn event_log_runs_are_deterministic() {
    for text in [BANK, CQRS, REBUILD] {
        let run = || {
            let mut e = engine(text);
            e.run_to_end();
            (e.trace_hash(), e.report(0.0).event_log)
        };
        assert_eq!(run(), run());
    }
}

#[test]
fn a_poll_interval_set_mid_run_slows_the_read_model() {
    let with_set = CQRS.replace(
        "run: (",
        r#"faults: [(at_ms: 1000.0, fault: Set("policy.poll_interval_ms", 900.0))], run: ("#,
    );
    let lag = |text: &str| {
        let mut e = engine(text);
        e.run_to_end();
        e.report(0.0).event_log.read_model_lag_ms_max.unwrap()
    };
    // Before: n3 (400 ms) bounds the lag; after the set, n2 polls every 900 ms too.
    assert!(lag(&with_set) > 800.0, "{}", lag(&with_set));
    assert!(lag(CQRS) < 800.0);
}

#[test]
fn impossible_event_log_settings_are_reported_with_their_field() {
    let bad = [
        (r#"writer: "n9""#, "policy.writer"),
        (r#"dual_write_index: Some("n1")"#, "policy.dual_write_index"),
        ("poll_interval_ms: 0.0", "policy.poll_interval_ms"),
        ("fetch_max: 0", "policy.fetch_max"),
        (
            r#"projections: [(node: "n1")]"#,
            "policy.projections[0].node",
        ),
        (
            "erasures: [(at_ms: -1.0, user: 1, method: Tombstone)]",
            "policy.erasures[0].at_ms",
        ),
    ];
    for (field, path) in bad {
        let text = format!("(nodes: (count: 3), policy: EventLog(({field})))");
        let err = capsim::scenario::from_str("bad.ron", &text)
            .unwrap_err()
            .to_string();
        assert!(err.contains(path), "{field}: {err}");
    }
}

#[test]
fn event_log_fields_appear_only_where_they_apply() {
    let fields = [
        "read_model_lag_ms_max",
        "events_appended",
        "cdc_divergent_items",
    ];
    let event_log = capsim::sim::run(&common::scenario(CQRS)).to_json();
    let leaderless = capsim::sim::run(&common::scenario("(run: (duration_ms: 200.0))")).to_json();
    for f in fields {
        assert!(event_log.get(f).is_some(), "{f} in an event-log run");
        assert!(
            leaderless.get(f).is_none(),
            "{f} left out of a leaderless run"
        );
    }
    // Not applicable here: no dual-write index, no erasure, no rebuild.
    for f in [
        "dual_write_divergent_items",
        "erased_after_ms",
        "rebuild_ms",
    ] {
        assert!(event_log.get(f).is_none(), "{f}");
    }
    // `expect` may name them, and a claim on a field the run does not report fails.
    let text = CQRS.replace(
        "run: (",
        r#"expect: {"read_model_lag_ms_max": ">0", "erased_after_ms": ">=0"}, run: ("#,
    );
    let s = common::scenario(&text);
    let outcomes = capsim::check::expect::evaluate(&s.expect, &capsim::sim::run(&s));
    let passed = |f: &str| outcomes.iter().find(|o| o.field == f).unwrap().passed;
    assert!(passed("read_model_lag_ms_max"));
    assert!(!passed("erased_after_ms"));
}
