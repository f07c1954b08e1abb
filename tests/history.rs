//! The operation history follows the Jepsen rules, and the report's counts agree with it.

mod common;

use capsim::Sim;
use capsim::check::history::{EventType, HistoryEvent, pair_operations};
use capsim::engine::Options;
use capsim::policy::FailReason;
use capsim::scenario::Scenario;
use capsim::trace::{Stamped, TraceEvent};
use capsim::types::OpKind;
use common::*;
use std::collections::{BTreeMap, BTreeSet};

/// Counts of what the history says, to compare with the report.
#[derive(Debug, Default, PartialEq)]
struct Tally {
    invoked: u64,
    reads: u64,
    writes: u64,
    deletes: u64,
    ok: u64,
    fail: u64,
    info: u64,
    open_at_end: u64,
    processes: u64,
}

/// Checks the Jepsen rules on a history and returns its tally.
fn check_rules(history: &[HistoryEvent]) -> Tally {
    let mut t = Tally::default();
    let mut open: BTreeMap<u64, HistoryEvent> = BTreeMap::new();
    let mut retired = BTreeSet::new();
    let mut values = BTreeSet::new();
    let mut last_time = 0;
    for e in history {
        assert!(e.time_us >= last_time, "in time order: {e:?}");
        last_time = e.time_us;
        assert!(
            !retired.contains(&e.process),
            "process reused after info: {e:?}"
        );
        if e.kind == EventType::Invoke {
            assert!(
                open.insert(e.process, *e).is_none(),
                "one op per process: {e:?}"
            );
            t.invoked += 1;
            match e.f {
                OpKind::Read => t.reads += 1,
                OpKind::Write => t.writes += 1,
                OpKind::Delete => t.deletes += 1,
            }
            match e.f {
                OpKind::Write => assert!(values.insert(e.value.expect("writes carry a value"))),
                _ => assert_eq!(e.value, None, "{e:?}"),
            }
            continue;
        }
        let inv = open
            .remove(&e.process)
            .expect("completes an open invocation");
        assert_eq!((e.f, e.key), (inv.f, inv.key), "{e:?}");
        if e.f != OpKind::Read {
            assert_eq!(e.value, inv.value, "an update completes with its own value");
        }
        match e.kind {
            EventType::Ok => t.ok += 1,
            EventType::Fail => t.fail += 1,
            EventType::Info => {
                assert_ne!(e.f, OpKind::Read, "a read that did not finish failed");
                t.info += 1;
                retired.insert(e.process);
            }
            EventType::Invoke => unreachable!(),
        }
    }
    t.open_at_end = open.len() as u64;
    t.processes = history
        .iter()
        .map(|e| e.process)
        .collect::<BTreeSet<_>>()
        .len() as u64;
    t
}

fn assert_report_matches(sim: &Sim, t: &Tally) {
    let r = sim.report(0.0);
    assert_eq!(
        (r.ops, r.reads, r.writes, r.deletes),
        (t.invoked, t.reads, t.writes, t.deletes)
    );
    assert_eq!((r.ok, r.failed), (t.ok, t.fail));
    assert_eq!(
        r.unknown,
        t.info + t.open_at_end,
        "pending ops count as unknown"
    );
    assert_eq!(r.ops, r.ok + r.failed + r.unknown);
    assert_eq!(r.availability, r.ok as f64 / r.ops as f64);
}

/// Timed-out updates end as info, timed-out reads as fail; returns how many of each.
fn timeouts(trace: &[Stamped]) -> (u64, u64) {
    let ops = traced_ops(trace);
    let (mut info, mut fail) = (0, 0);
    for op in ops.values() {
        if op.reason != Some(FailReason::Timeout) {
            continue;
        }
        let (_, outcome) = op.completed.unwrap();
        if op.f == OpKind::Read {
            assert_eq!(outcome, EventType::Fail);
            fail += 1;
        } else {
            assert_eq!(outcome, EventType::Info);
            info += 1;
        }
    }
    (info, fail)
}

fn run_all(s: &Scenario) -> (Sim, Vec<Stamped>, Vec<HistoryEvent>) {
    let options = Options {
        record_trace: true,
        stream_history: true,
        ..Options::default()
    };
    let mut sim = Sim::new(s, &options);
    let mut streamed = Vec::new();
    while sim.run_for(5_000) == 5_000 {
        streamed.extend(sim.drain_history_stream());
    }
    streamed.extend(sim.drain_history_stream());
    let trace = sim.drain_trace();
    (sim, trace, streamed)
}

#[test]
fn shipped_scenarios_follow_the_jepsen_rules() {
    for (name, s) in shipped_scenarios() {
        let (sim, trace, streamed) = run_all(&s);
        // The in-memory history is the stream's prefix (the benchmark keeps none).
        let kept = sim.history();
        assert_eq!(
            kept.len() as u64,
            s.run.history_limit.min(streamed.len() as u64)
        );
        assert!(streamed[..kept.len()] == *kept, "{name}: the same history");
        let t = check_rules(&streamed);
        assert_eq!(t.open_at_end, 0, "{name}: the run waits for every op");
        assert_report_matches(&sim, &t);
        let paired = pair_operations(&streamed);
        assert_eq!(paired.len() as u64, t.invoked);
        let (info, _) = timeouts(&trace);
        assert!(t.info >= info, "{name}");
    }
}

const PARTITION_WITH_DELETES: &str = r#"(
    seed: 4,
    nodes: (count: 5),
    network: (latency: Exponential(mean_ms: 5.0), loss: 0.02),
    policy: Leaderless((replication_factor: 3, read_quorum: 2, write_quorum: 2,
                        request_timeout_ms: 150.0)),
    workload: (load: ClosedLoop(clients: 10, think_time_ms: 5.0), keys: Uniform(count: 30),
               mix: (read: 0.5, write: 0.4, delete: 0.1), timeout_ms: 100.0),
    faults: [(at_ms: 1000.0, fault: Partition([["n1", "n2"]]), for_ms: 1500.0)],
    run: (duration_ms: 3000.0),
)"#;

#[test]
fn timeouts_end_updates_as_info_and_reads_as_fail() {
    let s = scenario(PARTITION_WITH_DELETES);
    let (sim, trace, _) = run_all(&s);
    let t = check_rules(sim.history());
    assert_report_matches(&sim, &t);
    let (info, fail) = timeouts(&trace);
    assert!(
        info > 0 && fail > 0,
        "the partition caused both: {info} {fail}"
    );
    assert!(t.deletes > 0);
    // Each info retired a process; its client went on under a fresh one.
    let clients = 10;
    assert_eq!(t.processes, clients + t.info);
}

#[test]
fn a_report_mid_run_counts_operations_in_progress_as_unknown() {
    let s = scenario(PARTITION_WITH_DELETES);
    let mut sim = Sim::new(&s, &Options::default());
    sim.run_until(ms(1700.0));
    let in_progress = sim.ops_in_progress().len() as u64;
    assert!(in_progress > 0);
    let r = sim.report(0.0);
    assert_eq!(r.unknown, sim.metrics().unknown + in_progress);
    assert_eq!(r.ops, r.ok + r.failed + r.unknown);
    assert_eq!(r.availability, r.ok as f64 / r.ops as f64);
    let t = check_rules(sim.history());
    assert_eq!(t.open_at_end, in_progress);
    assert_report_matches(&sim, &t);
}

#[test]
fn the_history_limit_caps_memory_but_not_the_counts() {
    let mut s = scenario(PARTITION_WITH_DELETES);
    s.run.history_limit = 100;
    let (sim, _, streamed) = run_all(&s);
    assert_eq!(sim.history().len(), 100);
    assert_eq!(&streamed[..100], sim.history(), "the prefix is kept");
    let t = check_rules(&streamed);
    assert_report_matches(&sim, &t);
}

#[test]
fn trace_and_history_tell_the_same_story() {
    let (sim, trace, _) = run_all(&scenario(PARTITION_WITH_DELETES));
    let completions: Vec<(u64, EventType)> = trace
        .iter()
        .filter_map(|s| match s.event {
            TraceEvent::Complete {
                process, outcome, ..
            } => Some((process, outcome)),
            _ => None,
        })
        .collect();
    let from_history: Vec<(u64, EventType)> = sim
        .history()
        .iter()
        .filter(|e| e.kind != EventType::Invoke)
        .map(|e| (e.process, e.kind))
        .collect();
    assert_eq!(completions, from_history);
}
