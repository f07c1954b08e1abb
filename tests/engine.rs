//! Engine behaviour under node faults and clock skew, and the message accounting, observed
//! through the trace, the stored values and the report.

mod common;

use capsim::Sim;
use capsim::check::history::EventType;
use capsim::engine::Fault;
use capsim::engine::node::NodeStatus;
use capsim::policy::FailReason;
use capsim::trace::{DropReason, Stamped, TraceEvent};
use capsim::types::{NodeId, SimTime};
use common::*;

/// Five nodes, every key on all five (R = W = 3): every pair of nodes talks all the time.
const BUSY: &str = r#"(
    seed: 5,
    nodes: (count: 5),
    network: (latency: Exponential(mean_ms: 5.0)),
    policy: Leaderless((replication_factor: 5, read_quorum: 3, write_quorum: 3,
                        request_timeout_ms: 100.0)),
    workload: (load: ClosedLoop(clients: 10, think_time_ms: 5.0), keys: Uniform(count: 20),
               timeout_ms: 100.0),
    run: (duration_ms: 2500.0, drain_ms: 1000.0),
)"#;

/// Applies each (time, fault) in order through the API, runs to the end, returns the trace.
fn drive(sim: &mut Sim, faults: Vec<(f64, Fault)>) -> Vec<Stamped> {
    for (t, f) in faults {
        sim.run_until(ms(t));
        sim.apply(f);
    }
    sim.run_to_end();
    sim.drain_trace()
}

fn detail(sim: &Sim, node: NodeId, label: &str) -> String {
    let info = &sim.nodes_info()[node.index()];
    let (_, v) = info
        .protocol
        .details
        .iter()
        .find(|(l, _)| *l == label)
        .unwrap();
    v.clone()
}

fn between(t: SimTime, a: f64, b: f64) -> bool {
    ms(a) < t && t < ms(b)
}

fn assert_accounted(sim: &Sim) {
    let r = sim.report(0.0);
    assert!(sim.is_done());
    assert_eq!(r.messages_sent, r.messages_delivered + r.messages_dropped);
}

#[test]
fn a_crashed_node_drops_what_reaches_it_and_loses_its_coordination() {
    let mut sim = Sim::new(&scenario(BUSY), &recording());
    sim.run_until(ms(1000.0));
    let stored = sim.stored(n(2));
    let coordinated: Vec<u64> = sim
        .ops_in_progress()
        .iter()
        .filter(|o| o.node == n(2))
        .map(|o| o.id)
        .collect();
    assert!(!coordinated.is_empty() && !stored.is_empty());
    sim.apply(Fault::Crash(n(2)));
    assert_eq!(sim.nodes_info()[1].status, NodeStatus::Crashed);
    assert_eq!(
        detail(&sim, n(2), "coordinating"),
        "0",
        "volatile state lost"
    );
    assert_eq!(sim.stored(n(2)), stored, "replica data is durable");
    sim.run_until(ms(1500.0));
    assert_eq!(sim.stored(n(2)), stored, "a crashed node applies nothing");
    let trace = drive(&mut sim, vec![(1500.0, Fault::Restart(n(2)))]);
    let crashed = |t| between(t, 1000.0, 1500.0);
    let dropped: Vec<_> = drops(&trace).into_iter().filter(|d| d.2 == n(2)).collect();
    assert!(!dropped.is_empty());
    for (t, _, to, reason) in drops(&trace) {
        assert_eq!((to, reason), (n(2), DropReason::Crashed));
        assert!(crashed(t), "dropped at {t}");
    }
    assert!(
        !deliveries(&trace)
            .iter()
            .any(|d| d.2 == n(2) && crashed(d.0))
    );
    assert!(!sends(&trace).iter().any(|s| s.1 == n(2) && crashed(s.0)));
    // Its clients' operations can only end by the client's own timeout.
    let ops = traced_ops(&trace);
    for id in coordinated {
        let op = ops[&id];
        let (at, _) = op.completed.expect("completed");
        assert_eq!(
            (at, op.reason),
            (
                op.invoked.saturating_add(100_000),
                Some(FailReason::Timeout)
            )
        );
    }
    assert_accounted(&sim);
}

const FOLLOWER_READS: &str = r#"(
    seed: 9,
    nodes: (count: 3),
    network: (latency: Exponential(mean_ms: 5.0)),
    policy: SingleLeader((leader: "n1", replication: Async, read_from: AnyReplica)),
    workload: (load: ClosedLoop(clients: 6, think_time_ms: 2.0), keys: Uniform(count: 30),
               timeout_ms: 200.0),
    run: (duration_ms: 3000.0, drain_ms: 2000.0),
)"#;

#[test]
fn a_follower_keeps_its_log_across_a_crash_and_catches_up() {
    let mut sim = Sim::new(&scenario(FOLLOWER_READS), &recording());
    sim.run_until(ms(1000.0));
    let stored = sim.stored(n(2));
    let log_len = sim.nodes_info()[1].protocol.log_len;
    assert!(stored.len() > 10 && log_len > Some(10));
    sim.apply(Fault::Crash(n(2)));
    sim.run_until(ms(1800.0));
    assert_eq!(sim.stored(n(2)), stored);
    sim.apply(Fault::Restart(n(2)));
    assert_eq!(
        sim.stored(n(2)),
        stored,
        "stored values survive the restart"
    );
    assert_eq!(sim.nodes_info()[1].protocol.log_len, log_len);
    assert!(sim.stored(n(1)).len() >= stored.len());
    sim.run_to_end();
    assert_eq!(
        sim.stored(n(2)),
        sim.stored(n(1)),
        "caught up after the restart"
    );
    assert_eq!(sim.report(0.0).divergent_keys_at_end, 0);
}

#[test]
fn a_paused_node_keeps_its_messages_and_handles_them_on_resume() {
    let mut sim = Sim::new(&scenario(BUSY), &recording());
    let trace = drive(
        &mut sim,
        vec![(1000.0, Fault::Pause(n(2))), (1060.0, Fault::Resume(n(2)))],
    );
    let paused = |t| between(t, 1000.0, 1060.0);
    assert!(drops(&trace).is_empty(), "nothing is lost");
    assert!(
        !deliveries(&trace)
            .iter()
            .any(|d| d.2 == n(2) && paused(d.0))
    );
    assert!(!sends(&trace).iter().any(|s| s.1 == n(2) && paused(s.0)));
    // Everything that reached n2 while it was paused is delivered at the resume, in order.
    let waited: Vec<u64> = sends(&trace)
        .iter()
        .filter(|s| s.2 == n(2) && paused(s.4))
        .map(|s| s.3)
        .collect();
    assert!(!waited.is_empty());
    let mut at_resume = Vec::new();
    for s in &trace {
        if let TraceEvent::Deliver { to, msg, sent, .. } = s.event
            && waited.contains(&msg)
        {
            assert_eq!((s.at, to), (ms(1060.0), n(2)));
            assert!(sent < ms(1060.0));
            at_resume.push(msg);
        }
    }
    let mut by_arrival: Vec<_> = sends(&trace)
        .into_iter()
        .filter(|s| waited.contains(&s.3))
        .collect();
    by_arrival.sort_by_key(|s| (s.4, s.3));
    assert_eq!(
        at_resume,
        by_arrival.iter().map(|s| s.3).collect::<Vec<_>>()
    );
    // Requests that arrived during the pause are answered after it.
    let ops = traced_ops(&trace);
    let late_ok = ops
        .values()
        .filter(|o| o.node == n(2) && paused(o.invoked))
        .any(|o| {
            o.completed
                .is_some_and(|(t, e)| e == EventType::Ok && t >= ms(1060.0))
        });
    assert!(late_ok);
    let done_while_paused = ops.values().any(|o| {
        o.node == n(2)
            && o.completed
                .is_some_and(|(t, e)| e == EventType::Ok && paused(t))
    });
    assert!(!done_while_paused);
    assert_accounted(&sim);
}

#[test]
fn crashing_a_paused_node_drops_its_backlog() {
    let mut sim = Sim::new(&scenario(BUSY), &recording());
    let trace = drive(
        &mut sim,
        vec![
            (1000.0, Fault::Pause(n(3))),
            (1050.0, Fault::Crash(n(3))),
            (1200.0, Fault::Restart(n(3))),
        ],
    );
    let backlog: Vec<_> = drops(&trace)
        .into_iter()
        .filter(|d| d.0 == ms(1050.0))
        .collect();
    assert!(
        !backlog.is_empty(),
        "the waiting messages are dropped at the crash"
    );
    assert!(
        backlog
            .iter()
            .all(|d| d.2 == n(3) && d.3 == DropReason::Crashed)
    );
    assert_accounted(&sim);
}

/// Three nodes, each key on all three, R = W = 2: without skew no read can be stale.
const SKEW: &str = r#"(
    seed: 21,
    nodes: (count: 3 CLOCKS),
    network: (latency: Exponential(mean_ms: 5.0)),
    policy: Leaderless((replication_factor: 3, read_quorum: 2, write_quorum: 2,
                        request_timeout_ms: 200.0)),
    workload: (load: ClosedLoop(clients: 9, think_time_ms: 5.0), keys: Uniform(count: 5),
               timeout_ms: 200.0),
    run: (duration_ms: 3000.0),
)"#;

#[test]
fn a_clock_behind_makes_acknowledged_writes_lose() {
    let plain = scenario(&SKEW.replace(" CLOCKS", ""));
    let (sim, _) = run_recorded(&plain);
    assert_eq!(sim.report(0.0).stale_reads, 0);
    let skewed =
        scenario(&SKEW.replace(" CLOCKS", r#", clocks: [(node: "n1", skew_ms: -1000.0)]"#));
    let (sim, trace) = run_recorded(&skewed);
    assert!(sim.report(0.0).stale_reads > 0);
    assert_eq!(sim.nodes_info()[0].skew_us, -1_000_000);
    // Every missed write was stamped by n1's slow clock.
    let ops = traced_ops(&trace);
    for r in &sim.metrics().stale.records {
        assert_eq!(ops[&r.missed_op].node, n(1), "{r:?}");
    }
    // The same skew applied mid-run as a fault.
    let mut sim = Sim::new(&plain, &recording());
    drive(
        &mut sim,
        vec![(
            500.0,
            Fault::ClockSkew {
                node: n(1),
                skew_us: -1_000_000,
            },
        )],
    );
    assert!(sim.report(0.0).stale_reads > 0);
    let local = sim.nodes_info()[0].local_time_us;
    assert_eq!(local, sim.now().as_us() - 1_000_000);
}

#[test]
fn every_sent_message_is_delivered_or_dropped_even_with_duplicates() {
    let text = BUSY.replace(
        "latency: Exponential(mean_ms: 5.0)",
        "latency: Exponential(mean_ms: 5.0), loss: 0.05, duplicate: 0.1",
    );
    let (sim, trace) = run_recorded(&scenario(&text));
    let r = sim.report(0.0);
    // A copy is sent right after its original, on the same link, with the next id.
    let copies = sends(&trace)
        .windows(2)
        .filter(|w| (w[0].0, w[0].1, w[0].2, w[0].3 + 1) == (w[1].0, w[1].1, w[1].2, w[1].3))
        .count();
    assert!(copies > 0, "the network duplicated some messages");
    assert_eq!(r.messages_sent, r.messages_delivered + r.messages_dropped);
    // No faults here: every drop is a loss at send time, so each message has one of the two.
    let sent = (sends(&trace).len() + drops(&trace).len()) as u64;
    assert_eq!(
        sent, r.messages_sent,
        "one send or send-time drop per message"
    );
    assert_eq!(deliveries(&trace).len() as u64, r.messages_delivered);
    assert_eq!(drops(&trace).len() as u64, r.messages_dropped);
    // Each message id has exactly one fate.
    let mut fates: Vec<u64> = deliveries(&trace).iter().map(|d| d.3).collect();
    fates.extend(trace.iter().filter_map(|s| match s.event {
        TraceEvent::Drop { msg, .. } => Some(msg),
        _ => None,
    }));
    fates.sort();
    let n = fates.len();
    fates.dedup();
    assert_eq!(
        fates.len(),
        n,
        "no message id is delivered or dropped twice"
    );
    assert_eq!(n as u64, r.messages_sent);
}

#[test]
fn time_passes_only_through_events() {
    let mut sim = Sim::new(&scenario(BUSY), &Default::default());
    let mut last = SimTime::ZERO;
    while sim.step() {
        assert!(sim.now() >= last);
        last = sim.now();
    }
    assert!(sim.is_done() && !sim.step());
    assert_eq!(sim.now(), last);
}

#[test]
fn messages_are_sent_delivered_dropped_or_on_the_wire_at_every_moment() {
    let text = BUSY.replace(
        "latency: Exponential(mean_ms: 5.0)",
        "latency: Exponential(mean_ms: 5.0), loss: 0.05, duplicate: 0.1",
    );
    let mut sim = Sim::new(&scenario(&text), &Default::default());
    let mut checks = 0;
    while !sim.is_done() {
        if checks == 3 {
            sim.apply(Fault::Partition(vec![vec![n(1)]]));
        }
        if checks == 6 {
            sim.apply(Fault::Crash(n(4)));
        }
        sim.run_for(500);
        let r = sim.report(0.0);
        let wire = sim.messages().len() as u64;
        assert_eq!(
            r.messages_sent,
            r.messages_delivered + r.messages_dropped + wire
        );
        checks += 1;
    }
    assert!(checks > 10);
}
