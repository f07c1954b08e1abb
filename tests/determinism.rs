//! Same scenario + same seed ⇒ the same trace, report and exported JSONL, however the run is
//! driven (to the end, in chunks, up to a time, or from a clone taken mid-run).

mod common;

use capsim::Sim;
use capsim::check::report::Report;
use capsim::engine::{Fault, Options};
use capsim::scenario::Scenario;
use capsim::trace::jsonl;
use common::*;

fn finished(s: &Scenario, options: &Options) -> Sim {
    let mut sim = Sim::new(s, options);
    sim.run_to_end();
    assert!(sim.is_done());
    sim
}

/// The report without the wall-clock fields (the only ones allowed to differ between runs).
fn report(sim: &Sim) -> Report {
    let mut r = sim.report(123.0);
    r.wall_ms = 0.0;
    r.ops_per_sec = 0.0;
    r
}

#[test]
fn every_shipped_scenario_runs_the_same_twice() {
    for (name, s) in shipped_scenarios() {
        let a = finished(&s, &Options::default());
        let b = finished(&s, &Options::default());
        assert!(a.metrics().ops > 0, "{name}: the workload ran");
        assert_eq!(a.trace_hash(), b.trace_hash(), "{name}");
        assert_eq!(report(&a), report(&b), "{name}");
    }
}

#[test]
fn a_different_seed_gives_a_different_trace() {
    for (name, mut s) in shipped_scenarios() {
        let a = finished(&s, &Options::default());
        s.seed += 1;
        let b = finished(&s, &Options::default());
        assert_ne!(a.trace_hash(), b.trace_hash(), "{name}");
        assert_ne!(report(&a), report(&b), "{name}");
    }
}

#[test]
fn recording_options_do_not_change_the_trace_hash() {
    let s = &shipped("bench-quorum.ron");
    let plain = finished(s, &Options::default());
    let everything = Options {
        record_trace: true,
        recent_events: 100,
        stream_history: true,
    };
    let recorded = finished(s, &everything);
    assert_eq!(plain.trace_hash(), recorded.trace_hash());
    assert_eq!(report(&plain), report(&recorded));
}

#[test]
fn a_clone_taken_mid_run_finishes_like_the_original() {
    for (name, s) in shipped_scenarios() {
        let whole = finished(&s, &Options::default());
        let mut original = Sim::new(&s, &Options::default());
        // Half-way through the simulated run (inside the partition for the lessons).
        original.run_until(ms(whole.now().as_ms() / 2.0));
        let mut copy = original.clone();
        assert_eq!(copy.trace_hash(), original.trace_hash());
        copy.run_to_end();
        original.run_to_end();
        assert_eq!(copy.trace_hash(), whole.trace_hash(), "{name}");
        assert_eq!(original.trace_hash(), whole.trace_hash(), "{name}");
        assert_eq!(report(&copy), report(&whole), "{name}");
        assert_eq!(report(&original), report(&whole), "{name}");
    }
}

#[test]
fn running_in_chunks_equals_running_to_the_end() {
    for (name, s) in shipped_scenarios() {
        let whole = finished(&s, &Options::default());
        let mut chunked = Sim::new(&s, &Options::default());
        let mut ran = 0;
        loop {
            let n = chunked.run_for(997);
            ran += n;
            if n < 997 {
                break;
            }
        }
        assert!(chunked.is_done(), "{name}");
        assert!(ran > 997, "{name}: several chunks");
        assert_eq!(chunked.run_for(10), 0, "{name}: nothing after the end");
        assert_eq!(chunked.trace_hash(), whole.trace_hash(), "{name}");
        assert_eq!(report(&chunked), report(&whole), "{name}");
        // Driven by time instead, in uneven steps.
        let mut by_time = Sim::new(&s, &Options::default());
        let mut t = 0.0;
        while !by_time.is_done() {
            t += 333.3;
            by_time.run_until(ms(t));
        }
        assert_eq!(by_time.trace_hash(), whole.trace_hash(), "{name}");
        assert_eq!(report(&by_time), report(&whole), "{name}");
    }
}

#[test]
fn exported_jsonl_is_identical_for_two_runs() {
    for (name, s) in shipped_scenarios() {
        let export = || {
            let (sim, trace) = run_recorded(&s);
            let lines: Vec<String> = trace
                .iter()
                .map(|e| jsonl::to_json(e, sim.message_kinds()).to_string())
                .collect();
            assert_eq!(
                lines.len() as u64,
                report(&sim).events,
                "{name}: every event"
            );
            lines
        };
        let (a, b) = (export(), export());
        assert!(a == b, "{name}: JSONL differs");
    }
}

#[test]
fn the_trace_hash_is_the_hash_of_the_recorded_events() {
    let s = &shipped("quorum-partition.ron");
    let (sim, trace) = run_recorded(s);
    // The documented definition: XXH3-64 over every event's encoding (little-endian words), in order.
    let mut words = Vec::new();
    for e in &trace {
        e.event.encode(e.at, &mut words);
    }
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(&bytes);
    assert_eq!(h.digest(), sim.trace_hash());
    assert_eq!(
        report(&sim).trace_hash,
        capsim::trace::format_hash(h.digest())
    );
}

#[test]
fn interventions_at_the_same_time_replay_identically() {
    let s = &shipped("quorum-partition.ron");
    let drive = |fault: Option<Fault>| {
        let mut sim = Sim::new(s, &Options::default());
        sim.run_until(ms(1500.0));
        if let Some(f) = fault {
            sim.apply(f);
        }
        sim.run_to_end();
        sim
    };
    let crash = || Some(Fault::Crash(n(3)));
    let (a, b, none) = (drive(crash()), drive(crash()), drive(None));
    assert_eq!(a.trace_hash(), b.trace_hash());
    assert_eq!(report(&a), report(&b));
    assert_ne!(
        a.trace_hash(),
        none.trace_hash(),
        "the crash is in the trace"
    );
    assert_eq!(a.applied_faults()[0], (ms(1500.0), Fault::Crash(n(3))));
}
