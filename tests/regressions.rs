//! Regression tests for engine bugs found by the sweeps.

use capsim::Sim;
use capsim::engine::Options;

fn run(text: &str) -> Sim {
    let s = capsim::scenario::from_str("regression.ron", text).expect("valid scenario");
    let mut sim = Sim::new(&s, &Options::default());
    sim.run_to_end();
    sim
}

/// A client with no think time whose leader answers at once used to start its next operation
/// from inside the reply, recursing until the stack overflowed.
#[test]
fn instant_replies_with_no_think_time_do_not_recurse() {
    let sim = run(r#"(
        nodes: (count: 3),
        policy: SingleLeader((leader: "n1", replication: Async, read_from: Leader)),
        workload: (load: ClosedLoop(clients: 1, think_time_ms: 0.0), target: Node("n1")),
        run: (duration_ms: 100.0),
    )"#);
    let r = sim.report(0.0);
    // Every operation completes at once and the client asks again 1 µs later, so simulated
    // time advances: 100 ms hold about 100,000 operations, not an unbounded number at t=0.
    assert!((90_000..=100_001).contains(&r.ops), "{} ops", r.ops);
    assert_eq!(r.ok, r.ops);
}

/// The drain used to stop as soon as no message was in flight, before periodic resends had
/// brought a follower back: the run ended with divergent keys it would have repaired.
#[test]
fn the_drain_waits_for_periodic_repair_to_converge_the_replicas() {
    let sim = run(r#"(
        nodes: (count: 3),
        network: (latency: Constant(1.0)),
        policy: SingleLeader((leader: "n1", replication: Async, read_from: Leader, resend_interval_ms: 50.0)),
        workload: (load: ClosedLoop(clients: 2, think_time_ms: 1.0), target: Node("n1"), mix: (read: 0.0, write: 1.0)),
        faults: [(at_ms: 100.0, fault: CutLink(a: "n1", b: "n3"), for_ms: 399.0)],
        run: (duration_ms: 500.0, drain_ms: 2000.0),
    )"#);
    let r = sim.report(0.0);
    assert!(r.max_divergent_keys > 0, "the cut made n3 fall behind");
    assert_eq!(
        r.divergent_keys_at_end, 0,
        "the resend after the heal caught n3 up"
    );
}
