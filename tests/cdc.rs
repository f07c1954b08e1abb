//! Change data capture vs dual writes (issue 6), and CDC's initial snapshot.

mod common;

use capsim::engine::{Engine, Options};
use capsim::policy::event_log::EventLog;
use capsim::types::NodeId;

fn run(text: &str) -> Engine<EventLog> {
    let mut e = Engine::new(&common::scenario(text), &Options::default());
    e.run_to_end();
    e
}

fn dual_writes(latency: &str, faults: &str) -> String {
    format!(
        r#"(
    nodes: (count: 3),
    network: (latency: {latency}),
    policy: EventLog((domain: Reviews, poll_interval_ms: 30.0, dual_write_index: Some("n2"),
        dual_write_delay_ms: 5.0)),
    workload: (load: ClosedLoop(clients: 6, think_time_ms: 2.0), mix: (read: 0.1, write: 0.9),
        keys: Uniform(count: 10), target: Node("n1")),
    faults: [{faults}],
    run: (duration_ms: 2000.0, drain_ms: 1000.0),
)"#
    )
}

const CRASH: &str = r#"(at_ms: 1000.0, fault: Crash("n1"), for_ms: Some(200.0))"#;

#[test]
fn cdc_converges_while_dual_writes_diverge_under_a_crash() {
    // Constant latency: no reordering, so only the crash between the two writes can diverge.
    let e = run(&dual_writes("Constant(2.0)", CRASH));
    let r = e.report(0.0).event_log;
    assert!(
        r.dual_writes_lost.unwrap() > 0,
        "the crash lost index writes"
    );
    assert!(r.dual_write_divergent_items.unwrap() > 0, "{r:?}");
    assert_eq!(r.cdc_divergent_items, Some(0), "{r:?}");
    let db = e.policy(NodeId(0)).writer().unwrap().state().clone();
    let cdc = e.policy(NodeId(2)).projection().unwrap().model().clone();
    assert_eq!(cdc, db, "the CDC-derived read model equals the database");
    let index = e.stored(NodeId(1));
    let differing = index
        .iter()
        .filter(|s| db.get(&s.key).and_then(|a| a.last_value) != s.value)
        .count();
    assert_eq!(differing as u64, r.dual_write_divergent_items.unwrap());
}

#[test]
fn without_a_crash_or_reordering_dual_writes_agree() {
    let r = run(&dual_writes("Constant(2.0)", "")).report(0.0).event_log;
    assert_eq!(r.dual_write_divergent_items, Some(0));
    assert_eq!(r.dual_writes_lost, Some(0));
}

#[test]
fn racing_index_writes_diverge_without_any_crash() {
    // Random latency lets two index writes for one item overtake each other.
    let r = run(&dual_writes("Exponential(mean_ms: 5.0)", ""))
        .report(0.0)
        .event_log;
    assert_eq!(r.dual_writes_lost, Some(0));
    assert!(r.dual_write_divergent_items.unwrap() > 0, "{r:?}");
    assert_eq!(r.cdc_divergent_items, Some(0));
}

/// n3 joins late (down from the start, up at 1.2 s) and starts from n1's consistent snapshot.
const JOIN: &str = r#"(
    nodes: (count: 3),
    network: (latency: Exponential(mean_ms: 5.0)),
    policy: EventLog((domain: Bank, poll_interval_ms: 20.0, fetch_max: 16,
        projections: [(node: "n3", rebuild: Some(InitialSnapshot))])),
    workload: (load: ClosedLoop(clients: 4, think_time_ms: 5.0), mix: (read: 0.2, write: 0.8),
        keys: Uniform(count: 6), target: Node("n1")),
    faults: [(at_ms: 0.0, fault: Crash("n3")), (at_ms: 1200.0, fault: Restart("n3"))],
    run: (duration_ms: 2500.0, drain_ms: 1000.0),
)"#;

#[test]
fn a_new_consumer_from_an_initial_snapshot_misses_nothing_and_applies_nothing_twice() {
    let e = run(JOIN);
    let writer = e.policy(NodeId(0)).writer().unwrap();
    let n3 = e.policy(NodeId(2)).projection().unwrap();
    let (source, replayed) = n3.last_rebuild().expect("n3 joined");
    assert_eq!(source, "the write side's snapshot");
    let log_end = writer.log().last().unwrap().offset;
    // The snapshot covered what came before 1.2 s: only the tail was replayed.
    assert!(replayed < log_end / 2, "replayed {replayed} of {log_end}");
    // `events` counts every event folded into an aggregate: a missed change would make it
    // smaller, a change applied twice (snapshot and log) larger, and the balances would differ.
    assert_eq!(n3.model(), writer.state());
    assert_eq!(n3.next_offset(), log_end + 1);
    assert_eq!(e.report(0.0).event_log.cdc_divergent_items, Some(0));
}

#[test]
fn cdc_runs_are_deterministic() {
    for text in [
        dual_writes("Exponential(mean_ms: 5.0)", CRASH),
        JOIN.to_string(),
    ] {
        let once = || {
            let e = run(&text);
            (e.trace_hash(), e.report(0.0).event_log)
        };
        assert_eq!(once(), once());
    }
}

#[test]
fn divergence_over_time_shows_cdc_recovering_and_dual_writes_not() {
    let e = run(&dual_writes("Constant(2.0)", CRASH));
    let series = e.metrics().event_log.series();
    assert!(series.len() > 10);
    assert!(series.windows(2).all(|w| w[0].t_us <= w[1].t_us));
    let last = series.last().unwrap();
    assert_eq!(last.cdc_divergent, 0);
    assert!(last.dual_write_divergent > 0);
    assert!(
        series.iter().any(|p| p.cdc_divergent > 0),
        "CDC lagged at times"
    );
    let report = e.report(0.0).event_log;
    assert_eq!(
        series.iter().map(|p| p.dual_write_divergent).max(),
        report.dual_write_divergent_items_max
    );
}
