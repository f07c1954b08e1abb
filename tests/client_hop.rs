//! `workload.client_latency`: the client-to-node hop costs one draw each way, a redirect a round
//! trip more, and leaving it out changes nothing.

mod common;

use capsim::check::history::EventType;
use capsim::trace::TraceEvent;
use common::*;

/// A single-leader cluster whose clients talk to every node: reads from the leader's own data,
/// writes acknowledged at once (async), so without a hop a request takes no time at all.
fn cluster(client_latency: &str) -> String {
    format!(
        r#"(
    seed: 5,
    nodes: (count: 3),
    policy: SingleLeader((leader: "n1", replication: Async, read_from: Leader)),
    workload: (
        load: ClosedLoop(clients: 6, think_time_ms: 1.0),
        target: RoundRobin,
        timeout_ms: 100.0,
        {client_latency}
    ),
    run: (duration_ms: 500.0),
)"#
    )
}

/// Each ok operation's latency, and whether it was redirected first.
fn latencies(text: &str) -> Vec<(f64, bool)> {
    let (_, trace) = run_recorded(&scenario(text));
    let redirected: std::collections::BTreeSet<u64> = trace
        .iter()
        .filter_map(|s| match s.event {
            TraceEvent::Redirect { op, .. } => Some(op),
            _ => None,
        })
        .collect();
    traced_ops(&trace)
        .into_iter()
        .filter_map(|(id, op)| match op.completed {
            Some((at, EventType::Ok)) => {
                Some((at.as_ms() - op.invoked.as_ms(), redirected.contains(&id)))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn a_constant_hop_costs_a_round_trip_and_a_redirect_two() {
    let ops = latencies(&cluster("client_latency: Constant(1.5),"));
    let direct: Vec<f64> = ops.iter().filter(|(_, r)| !r).map(|(l, _)| *l).collect();
    let redirected: Vec<f64> = ops.iter().filter(|(_, r)| *r).map(|(l, _)| *l).collect();
    assert!(direct.len() > 50 && redirected.len() > 50, "both kinds ran");
    // The leader answers from its own state at once: only the hops take time.
    assert!(direct.iter().all(|l| (l - 3.0).abs() < 1e-9), "{direct:?}");
    assert!(
        redirected.iter().all(|l| (l - 6.0).abs() < 1e-9),
        "{redirected:?}"
    );
}

#[test]
fn without_a_hop_clients_sit_on_their_node() {
    let ops = latencies(&cluster(""));
    assert!(ops.len() > 100);
    assert!(ops.iter().all(|(l, _)| *l == 0.0), "no hop, no time");
}

#[test]
fn a_random_hop_is_deterministic_and_drawn_from_its_own_stream() {
    let text = cluster("client_latency: Exponential(mean_ms: 2.0),");
    let hash = |t: &str| {
        let mut sim = capsim::Sim::new(&scenario(t), &Default::default());
        sim.run_to_end();
        sim.report(0.0).trace_hash
    };
    assert_eq!(hash(&text), hash(&text), "same scenario, same trace");
    let ops = latencies(&text);
    let mean = |redirected: bool| {
        let l: Vec<f64> = ops
            .iter()
            .filter(|o| o.1 == redirected)
            .map(|o| o.0)
            .collect();
        assert!(l.len() > 50, "enough operations of each kind");
        l.iter().sum::<f64>() / l.len() as f64
    };
    // Two hops of mean 2 ms each, or four with a redirect; within 25% (hundreds of operations).
    assert!((3.0..5.0).contains(&mean(false)), "direct {}", mean(false));
    assert!(
        (6.0..10.0).contains(&mean(true)),
        "redirected {}",
        mean(true)
    );
    assert_ne!(hash(&text), hash(&cluster("")));
    // Its own stream: the n-th operation still reads or writes the same key as without a hop.
    let picks = |t: &str| -> Vec<(capsim::types::OpKind, u32)> {
        let (_, trace) = run_recorded(&scenario(t));
        let ops = trace.iter().filter_map(|s| match s.event {
            TraceEvent::Invoke { f, key, .. } => Some((f, key)),
            _ => None,
        });
        ops.collect()
    };
    let (with, without) = (picks(&text), picks(&cluster("")));
    let n = with.len().min(without.len());
    assert!(n > 100);
    assert_eq!(with[..n], without[..n]);
}

#[test]
fn a_negative_hop_is_a_clear_error() {
    let text = cluster("client_latency: Constant(-1.0),");
    let err = capsim::scenario::from_str("t.ron", &text).expect_err("negative latency");
    assert!(err.to_string().contains("workload.client_latency"), "{err}");
}
