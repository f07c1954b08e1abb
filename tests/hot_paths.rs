//! The engine's fast paths keep the documented behaviour: client timeouts (kept in their own FIFO)
//! fire exactly `timeout_ms` after the invoke even when the timeout changes mid-run, and runs
//! driven in chunks, to a time or from a clone end the same.

mod common;

use capsim::Sim;
use capsim::check::history::EventType;
use capsim::engine::Options;
use capsim::policy::FailReason;
use capsim::trace::TraceEvent;
use capsim::types::SimTime;
use common::*;
use std::collections::BTreeMap;

/// Heavy loss and a coordinator that never gives up first: many operations end by the client's
/// own timeout, which is cut from 50 ms to 20 ms at 1 s (the new, shorter timeouts expire before
/// some older ones) and raised to 35 ms at 1.5 s.
const TIMEOUTS: &str = r#"(
    seed: 3,
    nodes: (count: 3),
    network: (latency: Exponential(mean_ms: 4.0), loss: 0.3),
    policy: Leaderless((replication_factor: 3, read_quorum: 3, write_quorum: 3,
                        request_timeout_ms: 10000.0)),
    workload: (load: ClosedLoop(clients: 8, think_time_ms: 1.0), keys: Uniform(count: 10),
               timeout_ms: 50.0),
    faults: [
        (at_ms: 1000.0, fault: Set("workload.timeout_ms", 20.0)),
        (at_ms: 1500.0, fault: Set("workload.timeout_ms", 35.0)),
    ],
    run: (duration_ms: 2000.0, drain_ms: 100.0),
)"#;

/// The client timeout in force at `t`.
fn timeout_at(t: SimTime) -> SimTime {
    if t < ms(1000.0) {
        ms(50.0)
    } else if t < ms(1500.0) {
        ms(20.0)
    } else {
        ms(35.0)
    }
}

#[test]
fn client_timeouts_fire_exactly_their_length_after_the_invoke() {
    let (_, trace) = run_recorded(&scenario(TIMEOUTS));
    let mut invoked = BTreeMap::new();
    let mut timed_out = [0usize; 3];
    for s in &trace {
        match &s.event {
            TraceEvent::Invoke { op, .. } => {
                invoked.insert(*op, s.at);
            }
            TraceEvent::Complete {
                op,
                outcome,
                reason: Some(FailReason::Timeout),
                ..
            } => {
                let start = invoked[op];
                assert_ne!(*outcome, EventType::Ok);
                assert_eq!(s.at.0 - start.0, timeout_at(start).0, "op {op}");
                let period = [ms(1000.0), ms(1500.0)].map(|t| usize::from(start >= t));
                timed_out[period.iter().sum::<usize>()] += 1;
            }
            _ => {}
        }
    }
    assert!(
        timed_out.iter().all(|n| *n > 10),
        "timeouts in every period: {timed_out:?}"
    );
}

#[test]
fn chunked_timed_and_cloned_runs_agree_with_the_timeout_changes() {
    let s = scenario(TIMEOUTS);
    let mut whole = Sim::new(&s, &Options::default());
    whole.run_to_end();
    let mut chunked = Sim::new(&s, &Options::default());
    while chunked.run_for(777) > 0 {}
    let mut timed = Sim::new(&s, &Options::default());
    timed.run_until(ms(1000.0));
    let mut copy = timed.clone();
    timed.run_until(ms(1499.0));
    timed.run_to_end();
    copy.run_to_end();
    for other in [&chunked, &timed, &copy] {
        assert_eq!(other.trace_hash(), whole.trace_hash());
        assert_eq!(other.now(), whole.now());
    }
}

/// Think time cut from 5 ms to 0 (so 1 µs: a reply and the next request never share an instant)
/// at 1 s, and raised to 2 ms at 1.5 s. Clean network, so every operation completes normally.
const THINK: &str = r#"(
    seed: 4,
    nodes: (count: 3),
    network: (latency: Exponential(mean_ms: 2.0)),
    policy: Leaderless((replication_factor: 3, read_quorum: 2, write_quorum: 2,
                        request_timeout_ms: 1000.0)),
    workload: (load: ClosedLoop(clients: 6, think_time_ms: 5.0), keys: Uniform(count: 10),
               timeout_ms: 1000.0),
    faults: [
        (at_ms: 1000.0, fault: Set("workload.load.think_time_ms", 0.0)),
        (at_ms: 1500.0, fault: Set("workload.load.think_time_ms", 2.0)),
    ],
    run: (duration_ms: 2000.0, drain_ms: 100.0),
)"#;

#[test]
fn a_client_asks_again_exactly_its_think_time_after_a_reply() {
    let think_at = |t: SimTime| {
        if t < ms(1000.0) {
            5_000
        } else if t < ms(1500.0) {
            1
        } else {
            2_000
        }
    };
    let (_, trace) = run_recorded(&scenario(THINK));
    let mut replied: BTreeMap<u64, SimTime> = BTreeMap::new();
    let mut gaps = [0usize; 3];
    for s in &trace {
        match &s.event {
            TraceEvent::Complete { process, .. } => {
                replied.insert(*process, s.at);
            }
            TraceEvent::Invoke { process, .. } => {
                if let Some(done) = replied.remove(process) {
                    assert_eq!(s.at.0 - done.0, think_at(done), "process {process}");
                    let period = [ms(1000.0), ms(1500.0)].map(|t| usize::from(done >= t));
                    gaps[period.iter().sum::<usize>()] += 1;
                }
            }
            _ => {}
        }
    }
    assert!(
        gaps.iter().all(|n| *n > 10),
        "requests in every period: {gaps:?}"
    );
    let s = scenario(THINK);
    let mut whole = Sim::new(&s, &Options::default());
    whole.run_to_end();
    let mut chunked = Sim::new(&s, &Options::default());
    while chunked.run_for(501) > 0 {}
    assert_eq!(chunked.trace_hash(), whole.trace_hash());
}
