//! Whole runs of the single-leader policy with Kafka-style log storage: compaction with
//! followers copying a log with gaps, tombstone retention, time retention with a follower left
//! behind (offset out of range), flush lag lost in a power failure, and the settings' checks.
//! The cleaner's rules one by one are unit-tested in src/storage/segment_tests.rs.

mod common;

use capsim::Sim;
use capsim::check::report::Report;
use capsim::engine::Options;
use capsim::trace::TraceEvent;
use capsim::types::NodeId;
use common::*;

/// Three brokers, n1 leads; `log`, `policy` extras, `faults` and the workload spliced in.
fn text(log: &str, extra: &str, workload: &str, faults: &str, duration_ms: f64) -> String {
    format!(
        r#"(
    nodes: (count: 3),
    network: (latency: Exponential(mean_ms: 3.0)),
    policy: SingleLeader((leader: "n1", {extra} log: Some(({log})))),
    workload: ({workload}),
    faults: [{faults}],
    run: (duration_ms: {duration_ms}, drain_ms: 500.0),
)"#
    )
}

const KEYED: &str = "load: ClosedLoop(clients: 3, think_time_ms: 20.0), \
    mix: (read: 0.2, write: 0.6, delete: 0.2), keys: Uniform(count: 10), timeout_ms: 500.0";

fn run(text: &str) -> (Sim, Report) {
    let s = scenario(text);
    let mut sim = Sim::new(&s, &Options::default());
    sim.run_to_end();
    let report = sim.final_report(0.0);
    (sim, report)
}

fn log(report: &Report) -> capsim::check::report::LogReport {
    report.log.expect("a run with a log reports its log fields")
}

/// What a node's inspector says about one thing.
fn detail(sim: &Sim, node: u16, label: &str) -> String {
    let info = sim.nodes_info().swap_remove(node as usize);
    let found = info.protocol.details.iter().find(|(l, _)| *l == label);
    found.map(|(_, v)| v.clone()).unwrap_or_default()
}

#[test]
fn without_a_log_setting_no_log_fields_are_reported() {
    let s = scenario(&format!(
        r#"(policy: SingleLeader((leader: "n1")), workload: ({KEYED}),
            run: (duration_ms: 300.0, drain_ms: 100.0))"#
    ));
    let report = capsim::sim::run(&s);
    assert!(report.log.is_none());
    let json = report.to_json();
    assert!(json.get("compactions").is_none() && json.get("segments_after").is_none());
}

#[test]
fn a_follower_back_from_a_crash_copies_the_compacted_log_and_ends_with_the_same_state() {
    let compact = "segment_entries: 6, cleaner_interval_ms: 100.0, min_cleanable_dirty_ratio: 0.3";
    let crash = r#"(at_ms: 500.0, fault: Crash("n3"), for_ms: Some(1500.0))"#;
    let (sim, report) = run(&text(compact, "", KEYED, crash, 3000.0));
    let l = log(&report);
    assert!(l.compactions > 0 && l.records_removed > 0);
    assert!(l.segments_after < l.segments_before);
    assert_eq!(report.divergent_keys_at_end, 0);
    for node in [1, 2] {
        assert_eq!(
            sim.stored(NodeId(node)),
            sim.stored(NodeId(0)),
            "n{}",
            node + 1
        );
    }
    // The followers hold fewer records than offsets: gaps, not renumbering.
    let end = sim.nodes_info()[2].protocol.log_len.expect("a log length");
    let held: u64 = detail(&sim, 2, "records held").parse().expect("a count");
    assert!(held < end, "{held} records for offsets up to {end}");
}

#[test]
fn log_settings_can_change_during_a_run() {
    let compact = "segment_entries: 6, cleaner_interval_ms: 100.0";
    let never = r#"(at_ms: 0.0, fault: Set("policy.log.min_cleanable_dirty_ratio", 1.0)),"#;
    let (_, report) = run(&text(compact, "", KEYED, never, 1500.0));
    assert_eq!(log(&report).compactions, 0, "no dirty ratio is above 1");
    let (_, report) = run(&text(compact, "", KEYED, "", 1500.0));
    assert!(log(&report).compactions > 0);
}

#[test]
fn cleaning_takes_simulated_time_at_the_configured_throughput() {
    let slow = "segment_entries: 6, cleaner_interval_ms: 200.0, cleaner_bytes_per_ms: 10.0";
    let s = scenario(&text(slow, "", KEYED, "", 2000.0));
    let (_, trace) = run_recorded(&s);
    let notes: Vec<(u64, String)> = trace
        .iter()
        .filter_map(|e| match &e.event {
            TraceEvent::Note { node, text } if *node == NodeId(0) => Some((e.at.0, text.clone())),
            _ => None,
        })
        .collect();
    let started = notes
        .iter()
        .find(|(_, t)| t.contains("cleaner started"))
        .expect("n1's cleaner starts");
    let dropped = notes
        .iter()
        .find(|(at, t)| *at >= started.0 && t.contains("dropped"))
        .expect("and finishes");
    assert!(dropped.0 > started.0, "the pass takes time");
    let report = capsim::sim::run(&s);
    assert!(log(&report).cleaner_ms > 0.0);
}

/// 20 keys; n3 away from 1 s to 3 s; keys 0-4 deleted during 1-1.5 s, then only keys 5-19
/// written (keeping the cleaner busy), then keys 0-4 read from every replica.
fn missed_delete(delete_retention_ms: f64) -> Report {
    let log = format!(
        "segment_entries: 8, cleaner_interval_ms: 150.0, min_cleanable_dirty_ratio: 0.3, \
         delete_retention_ms: {delete_retention_ms}"
    );
    let workload = "load: ClosedLoop(clients: 3, think_time_ms: 40.0), \
        mix: (read: 0.2, write: 0.8, delete: 0.0), \
        keys: HotSet(count: 20, hot_fraction: 0.25, hot_probability: 0.25), timeout_ms: 500.0";
    let faults = r#"
        (at_ms: 1000.0, fault: Crash("n3"), for_ms: Some(2000.0)),
        (at_ms: 1000.0, fault: Set("workload.keys.hot_probability", 1.0)),
        (at_ms: 1000.0, fault: Set("workload.mix.delete", 0.8)),
        (at_ms: 1000.0, fault: Set("workload.mix.write", 0.0)),
        (at_ms: 1500.0, fault: Set("workload.keys.hot_probability", 0.0)),
        (at_ms: 1500.0, fault: Set("workload.mix.delete", 0.0)),
        (at_ms: 1500.0, fault: Set("workload.mix.write", 0.8)),
        (at_ms: 3000.0, fault: Set("workload.keys.hot_probability", 1.0)),
        (at_ms: 3000.0, fault: Set("workload.mix.write", 0.0)),"#;
    let extra = "replication: Async, read_from: AnyReplica,";
    run(&text(&log, extra, workload, faults, 4000.0)).1
}

#[test]
fn a_replica_away_longer_than_delete_retention_misses_the_delete() {
    let short = missed_delete(300.0);
    assert!(log(&short).tombstones_purged > 0);
    assert!(short.divergent_keys_at_end > 0);
    assert!(short.resurrected > 0);
    // Kept long enough, the tombstones are still there when n3 returns.
    let long = missed_delete(5000.0);
    assert_eq!(log(&long).tombstones_purged, 0);
    assert_eq!(long.divergent_keys_at_end, 0);
    assert_eq!(long.resurrected, 0);
}

#[test]
fn time_retention_deletes_segments_and_a_follower_left_behind_starts_at_the_log_start() {
    let delete =
        "segment_entries: 5, cleanup: Delete, retention_ms: 300.0, cleaner_interval_ms: 100.0";
    let crash = r#"(at_ms: 300.0, fault: Crash("n3"), for_ms: Some(1500.0))"#;
    let (sim, report) = run(&text(delete, "", KEYED, crash, 2500.0));
    let l = log(&report);
    assert!(l.segments_deleted > 0 && l.records_removed > 0);
    assert_eq!(l.compactions, 0, "a Delete log is never compacted");
    assert!(l.offset_out_of_range >= 1, "{l:?}");
    // n3's log starts where the leader's started when it came back, not at 1.
    let start: u64 = detail(&sim, 2, "log start offset")
        .parse()
        .expect("an offset");
    assert!(start > 1);
}

#[test]
fn records_not_flushed_are_lost_when_every_broker_loses_power() {
    // acks=all: every write is on all three brokers before it is acknowledged, but with a
    // flush only every 2 s the recent ones are only in memory when all three crash at once.
    let writes = "load: ClosedLoop(clients: 3, think_time_ms: 10.0), \
        mix: (read: 0.0, write: 1.0), keys: Uniform(count: 50), timeout_ms: 300.0";
    let power_cut = r#"
        (at_ms: 1500.0, fault: Crash("n1"), for_ms: Some(200.0)),
        (at_ms: 1500.0, fault: Crash("n2"), for_ms: Some(200.0)),
        (at_ms: 1500.0, fault: Crash("n3"), for_ms: Some(200.0)),"#;
    let lagging = "segment_entries: 20, flush_interval_ms: 1000.0, flush_entries: 100000";
    let (_, report) = run(&text(
        lagging,
        "replication: InSync,",
        writes,
        power_cut,
        2500.0,
    ));
    assert!(log(&report).unflushed_lost > 0);
    assert!(report.lost_writes > 0, "acknowledged writes are gone");
    let flushed = "segment_entries: 20";
    let (_, report) = run(&text(
        flushed,
        "replication: InSync,",
        writes,
        power_cut,
        2500.0,
    ));
    assert_eq!(log(&report).unflushed_lost, 0);
    assert_eq!(report.lost_writes, 0);
}

#[test]
fn log_settings_are_checked_with_their_field_path() {
    let cases = [
        (
            "cleanup: Compact, segment_entries: 5, retention_ms: Some(10.0)",
            "policy.log.retention_ms",
        ),
        (
            "segment_entries: 0, segment_bytes: 0",
            "policy.log.segment_entries",
        ),
        (
            "segment_entries: 5, min_cleanable_dirty_ratio: 1.5",
            "policy.log.min_cleanable_dirty_ratio",
        ),
        (
            "segment_entries: 5, cleaner_interval_ms: 0.0",
            "policy.log.cleaner_interval_ms",
        ),
        (
            "segment_entries: 5, flush_entries: Some(0)",
            "policy.log.flush_entries",
        ),
        (
            "segment_entries: 5, cleaner_bytes_per_ms: -1.0",
            "policy.log.cleaner_bytes_per_ms",
        ),
    ];
    for (log, path) in cases {
        let t = format!(r#"(policy: SingleLeader((leader: "n1", log: Some(({log})))))"#);
        let err = capsim::scenario::from_str("t.ron", &t)
            .expect_err(log)
            .to_string();
        assert!(err.contains(path), "{log}: {err}");
    }
}

#[test]
fn log_fields_can_be_expected() {
    let fields = capsim::check::report::expectable_fields();
    for f in [
        "compactions",
        "records_removed",
        "bytes_removed",
        "tombstones_purged",
        "segments_before",
        "segments_after",
    ] {
        assert!(fields.iter().any(|x| x == f), "{f}");
    }
}

#[test]
fn the_same_seed_gives_the_same_trace_with_a_log() {
    let s = shipped("log-compaction.ron");
    assert_eq!(
        capsim::sim::run(&s).trace_hash,
        capsim::sim::run(&s).trace_hash
    );
}
