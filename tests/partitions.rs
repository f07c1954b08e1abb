//! Partitions, one-way partitions, cut links and healing, observed through a running engine's
//! trace: messages between the cut sides are dropped (reason partition) and nothing else is.

mod common;

use capsim::Sim;
use capsim::engine::Fault;
use capsim::trace::{DropReason, FaultEvent, Stamped, TraceEvent};
use capsim::types::{NodeId, SimTime};
use common::*;

/// Five nodes, every key on all five (R = W = 3), so every pair of nodes talks all the time.
const BUSY: &str = r#"(
    seed: 3,
    nodes: (count: 5),
    network: (latency: Exponential(mean_ms: 5.0)),
    policy: Leaderless((replication_factor: 5, read_quorum: 3, write_quorum: 3,
                        request_timeout_ms: 100.0)),
    workload: (load: ClosedLoop(clients: 10, think_time_ms: 5.0), keys: Uniform(count: 20),
               timeout_ms: 100.0),
    run: (duration_ms: 3000.0, drain_ms: 1000.0),
)"#;

/// A time interval during which `blocked(from, to)` directions are cut.
struct Window {
    start: SimTime,
    end: SimTime,
    blocked: Box<dyn Fn(NodeId, NodeId) -> bool>,
}

fn window(start: f64, end: f64, blocked: impl Fn(NodeId, NodeId) -> bool + 'static) -> Window {
    Window {
        start: ms(start),
        end: ms(end),
        blocked: Box::new(blocked),
    }
}

impl Window {
    fn inside(&self, t: SimTime) -> bool {
        self.start < t && t < self.end
    }
    fn covers(&self, t: SimTime) -> bool {
        self.start <= t && t <= self.end
    }
}

/// Checks the trace against the cut windows: every drop is a partition drop of a cut direction
/// within a window, and no cut direction sends or delivers strictly inside one. Also checks the
/// test saw something: drops, cut directions delivering after the windows, others during them.
fn assert_cuts(trace: &[Stamped], windows: &[Window]) {
    let cut_at = |t, from, to, strict: bool| {
        windows
            .iter()
            .any(|w| (w.blocked)(from, to) && if strict { w.inside(t) } else { w.covers(t) })
    };
    let drops = drops(trace);
    assert!(!drops.is_empty(), "the cut dropped messages");
    for (t, from, to, reason) in &drops {
        assert_eq!(*reason, DropReason::Partition, "{from}->{to} at {t}");
        assert!(
            cut_at(*t, *from, *to, false),
            "unexpected drop {from}->{to} at {t}"
        );
    }
    for (t, from, to, ..) in sends(trace) {
        assert!(
            !cut_at(t, from, to, true),
            "sent across the cut {from}->{to} at {t}"
        );
    }
    let delivered = deliveries(trace);
    for (t, from, to, _) in &delivered {
        assert!(
            !cut_at(*t, *from, *to, true),
            "delivered across the cut {from}->{to} at {t}"
        );
    }
    let last_end = windows.iter().map(|w| w.end).max().unwrap();
    let ever_cut = |f, t| windows.iter().any(|w| (w.blocked)(f, t));
    assert!(
        delivered
            .iter()
            .any(|(t, f, to, _)| *t > last_end && ever_cut(*f, *to)),
        "cut directions deliver again after healing"
    );
    assert!(
        delivered
            .iter()
            .any(|(t, f, to, _)| windows[0].inside(*t) && !ever_cut(*f, *to)),
        "other directions keep delivering during the cut"
    );
}

/// Runs BUSY, applying each (time, fault) in order, and returns the finished sim and trace.
fn run_with(faults: Vec<(f64, Fault)>) -> (Sim, Vec<Stamped>) {
    let mut sim = Sim::new(&scenario(BUSY), &recording());
    for (t, f) in faults {
        sim.run_until(ms(t));
        sim.apply(f);
    }
    sim.run_to_end();
    let trace = sim.drain_trace();
    (sim, trace)
}

fn in_group(group: &'static [u16]) -> impl Fn(NodeId) -> bool {
    move |x| group.iter().any(|g| n(*g) == x)
}

#[test]
fn a_partition_drops_exactly_the_messages_between_its_sides() {
    let (sim, trace) = run_with(vec![
        (1000.0, Fault::Partition(vec![vec![n(1), n(2)]])),
        (2000.0, Fault::HealAll),
    ]);
    let small = in_group(&[1, 2]);
    assert_cuts(
        &trace,
        &[window(1000.0, 2000.0, move |a, b| small(a) != small(b))],
    );
    let r = sim.report(0.0);
    assert_eq!(r.messages_sent, r.messages_delivered + r.messages_dropped);
}

#[test]
fn a_partition_into_three_groups_cuts_every_pair_of_groups() {
    let (_, trace) = run_with(vec![
        (
            1000.0,
            Fault::Partition(vec![vec![n(1), n(2)], vec![n(3)], vec![n(4)]]),
        ),
        (2000.0, Fault::HealAll),
    ]);
    let group = |x: NodeId| [0, 0, 1, 2, 3][x.index()];
    assert_cuts(
        &trace,
        &[window(1000.0, 2000.0, move |a, b| group(a) != group(b))],
    );
    let block = trace.iter().find_map(|s| match &s.event {
        TraceEvent::Fault(FaultEvent::Block { from, to, .. }) => Some((from.clone(), to.clone())),
        _ => None,
    });
    let all: Vec<NodeId> = (1..=5).map(n).collect();
    assert_eq!(block, Some((all.clone(), all)), "each node listed once");
}

#[test]
fn a_one_way_partition_drops_one_direction_only() {
    let (_, trace) = run_with(vec![
        (
            1000.0,
            Fault::PartitionOneWay {
                from: vec![n(1)],
                to: vec![n(2), n(3)],
            },
        ),
        (2000.0, Fault::HealAll),
    ]);
    let to_side = in_group(&[2, 3]);
    assert_cuts(
        &trace,
        &[window(1000.0, 2000.0, move |a, b| a == n(1) && to_side(b))],
    );
    let back = deliveries(&trace)
        .iter()
        .filter(|(t, from, to, _)| {
            *to == n(1) && [n(2), n(3)].contains(from) && ms(1000.0) < *t && *t < ms(2000.0)
        })
        .count();
    assert!(back > 0, "n2 and n3 still reach n1");
}

#[test]
fn cut_links_cut_one_pair_in_one_or_both_directions() {
    let pair = |a, b| move |x, y| (x, y) == (n(a), n(b)) || (x, y) == (n(b), n(a));
    let (_, trace) = run_with(vec![
        (
            1000.0,
            Fault::CutLink {
                a: n(1),
                b: n(2),
                one_way: false,
            },
        ),
        (2000.0, Fault::HealAll),
    ]);
    assert_cuts(&trace, &[window(1000.0, 2000.0, pair(1, 2))]);
    let (_, trace) = run_with(vec![
        (
            1000.0,
            Fault::CutLink {
                a: n(4),
                b: n(5),
                one_way: true,
            },
        ),
        (2000.0, Fault::HealAll),
    ]);
    assert_cuts(
        &trace,
        &[window(1000.0, 2000.0, |x, y| (x, y) == (n(4), n(5)))],
    );
}

#[test]
fn a_timed_fault_undoes_only_itself() {
    // A timed cut of n1-n2, then an untimed partition isolating n1 that outlives it.
    let mut sim = Sim::new(&scenario(BUSY), &recording());
    sim.run_until(ms(1000.0));
    sim.apply_for(
        Fault::CutLink {
            a: n(1),
            b: n(2),
            one_way: false,
        },
        1_000_000,
    );
    sim.run_until(ms(1500.0));
    sim.apply(Fault::Partition(vec![vec![n(1)]]));
    sim.run_until(ms(2500.0));
    sim.apply(Fault::HealAll);
    sim.run_to_end();
    let trace = sim.drain_trace();
    let one = |x: NodeId, y: NodeId| (x == n(1)) != (y == n(1));
    assert_cuts(
        &trace,
        &[
            window(1000.0, 2000.0, |x, y| {
                [x, y] == [n(1), n(2)] || [x, y] == [n(2), n(1)]
            }),
            window(1500.0, 2500.0, one),
        ],
    );
    let faults: Vec<(SimTime, FaultEvent)> = trace
        .iter()
        .filter_map(|s| match &s.event {
            TraceEvent::Fault(f) => Some((s.at, f.clone())),
            _ => None,
        })
        .collect();
    let cut = match &faults[0] {
        (t, FaultEvent::Block { cut, .. }) if *t == ms(1000.0) => *cut,
        other => panic!("first fault is the cut: {other:?}"),
    };
    assert!(faults.contains(&(ms(2000.0), FaultEvent::Unblock { cut })));
    // Between 2000 and 2500 n1 is still isolated by the partition (checked by assert_cuts).
}

#[test]
fn a_scheduled_fault_with_for_ms_heals_itself() {
    let text = BUSY.replace(
        "run: (",
        r#"faults: [(at_ms: 1000.0, fault: Partition([["n1", "n2"]]), for_ms: 700.0)],
    run: ("#,
    );
    let (sim, trace) = run_recorded(&scenario(&text));
    let small = in_group(&[1, 2]);
    assert_cuts(
        &trace,
        &[window(1000.0, 1700.0, move |a, b| small(a) != small(b))],
    );
    assert!(sim.is_done());
}
