//! The GUI's time line without a window: seeking back and replaying must reproduce exactly the
//! history a straight run with the same interventions produces (checked through the trace hash,
//! which covers every event in order).
#![cfg(feature = "gui")]

use capsim::engine::Fault;
use capsim::gui::session::{Session, sim_options};
use capsim::scenario::Scenario;
use capsim::sim::Sim;
use capsim::types::{NodeId, SimTime};

fn lesson() -> Scenario {
    capsim::scenario::from_str("lesson", capsim::cli::DEFAULT_LESSON).unwrap()
}

fn ms(t: f64) -> SimTime {
    SimTime::from_ms(t)
}

#[test]
fn seeking_back_and_forward_replays_the_same_history() {
    let mut s = Session::new(lesson());
    s.advance_to(ms(1500.0), None);
    s.intervene(Fault::Crash(NodeId(1)));
    s.advance_to(ms(3000.0), None);
    let (hash, steps) = (s.sim.trace_hash(), s.steps);

    s.seek(ms(1000.0));
    assert_eq!(s.now(), ms(1000.0));
    assert_eq!(
        s.sim.nodes_info()[1].status.as_str(),
        "up",
        "the crash is in the future"
    );
    s.seek(ms(3000.0));
    assert_eq!(s.sim.nodes_info()[1].status.as_str(), "crashed");
    assert_eq!((s.sim.trace_hash(), s.steps), (hash, steps));

    // A fresh engine driven the same way by hand agrees too.
    let mut sim = Sim::new(&lesson(), &sim_options());
    sim.run_until(ms(1500.0));
    sim.apply(Fault::Crash(NodeId(1)));
    sim.run_until(ms(3000.0));
    assert_eq!(sim.trace_hash(), hash);
}

#[test]
fn an_intervention_between_events_at_the_same_time_replays_exactly() {
    let mut s = Session::new(lesson());
    for _ in 0..40 {
        s.step_one();
    }
    s.intervene(Fault::CutLink {
        a: NodeId(0),
        b: NodeId(1),
        one_way: false,
    });
    for _ in 0..400 {
        s.step_one();
    }
    // The intervention landed at the end of its instant (after the events sharing its time).
    assert!(s.steps >= 440);
    let (hash, now, steps) = (s.sim.trace_hash(), s.now(), s.steps);
    s.seek(SimTime::ZERO);
    // Seeking to a time runs every event at that time (the clients' first requests at t=0).
    assert_eq!(s.now(), SimTime::ZERO);
    assert!(s.steps < 40);
    assert!(s.sim.blocked_links().is_empty());
    s.seek(now);
    assert_eq!(s.steps, steps);
    assert_eq!(s.sim.trace_hash(), hash);
}

#[test]
fn step_back_undoes_exactly_one_event() {
    let mut s = Session::new(lesson());
    for _ in 0..25 {
        s.step_one();
    }
    s.step_back();
    assert_eq!(s.steps, 24);
    let mut sim = Sim::new(&lesson(), &sim_options());
    for _ in 0..24 {
        sim.step();
    }
    assert_eq!(s.sim.trace_hash(), sim.trace_hash());
    assert_eq!(s.now(), sim.now());
}

#[test]
fn a_new_intervention_before_later_ones_keeps_them_by_time() {
    let mut s = Session::new(lesson());
    s.advance_to(ms(2500.0), None);
    s.intervene(Fault::Crash(NodeId(3)));
    s.seek(ms(500.0));
    s.intervene(Fault::Pause(NodeId(4)));
    s.advance_to(ms(3000.0), None);
    let kinds: Vec<_> = s.interventions.iter().map(|iv| iv.fault.clone()).collect();
    assert_eq!(
        kinds,
        vec![Fault::Pause(NodeId(4)), Fault::Crash(NodeId(3))]
    );
    let info = s.sim.nodes_info();
    assert_eq!(
        info[3].status.as_str(),
        "crashed",
        "the later crash was re-applied"
    );
    assert_eq!(info[4].status.as_str(), "paused");
}

#[test]
fn plots_are_sampled_and_rewound_with_the_run() {
    let mut s = Session::new(lesson());
    s.advance_to(ms(4000.0), None);
    let n = s.series.len();
    assert!(n > 10);
    assert!(s.series.t_ms.windows(2).all(|w| w[0] < w[1]));
    assert!(*s.series.t_ms.last().unwrap() <= 4000.0);
    // The partition (2 s to 5 s) makes operations fail: availability dips below 1 after 2 s.
    let dip = s.series.t_ms.iter().zip(&s.series.availability);
    assert!(dip.clone().any(|(t, a)| *t > 2000.0 && *a < 1.0));
    assert!(
        dip.filter(|(t, _)| **t < 1900.0)
            .all(|(_, a)| a.is_nan() || *a == 1.0)
    );
    let before = s.series.clone();
    s.seek(ms(1000.0));
    assert!(s.series.len() < n);
    s.seek(ms(4000.0));
    assert_eq!(s.series.t_ms, before.t_ms);
    assert_eq!(s.series.in_flight, before.in_flight);
}

#[test]
fn step_interesting_stops_at_the_scheduled_partition() {
    let mut s = Session::new(lesson());
    s.advance_to(ms(1990.0), None);
    // Nothing fails before the partition at 2 s in this lesson, so the first stop is the fault.
    let why = s.step_interesting(std::time::Instant::now() + std::time::Duration::from_secs(20));
    assert!(why.starts_with("fault: partition"), "{why}");
    assert_eq!(s.now(), ms(2000.0));
}

#[test]
fn a_forward_seek_through_a_kept_checkpoint_lands_on_the_straight_run() {
    let mut s = Session::new(lesson());
    s.advance_to(ms(7000.0), None);
    let checkpoints = s.checkpoint_count();
    assert!(
        checkpoints > 4,
        "the lesson should leave several checkpoints"
    );
    s.seek(ms(500.0));
    assert_eq!(s.now(), ms(500.0));
    assert_eq!(
        s.checkpoint_count(),
        checkpoints,
        "a rewind keeps the checkpoints ahead of it"
    );
    s.seek(ms(5500.0));
    s.seek(ms(3000.0));
    s.seek(ms(6000.0));

    let mut straight = Session::new(lesson());
    straight.advance_to(ms(6000.0), None);
    assert_eq!(s.now(), straight.now());
    assert_eq!(
        (s.sim.trace_hash(), s.steps),
        (straight.sim.trace_hash(), straight.steps)
    );
    assert_eq!(s.series.t_ms, straight.series.t_ms);
    assert_eq!(s.series.in_flight, straight.series.in_flight);
    assert_eq!(s.notes, straight.notes);
}
