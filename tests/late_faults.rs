//! `after_same_time` schedule entries: a fault saved from the app must replay exactly where the
//! app applied it, after every event at its microsecond. Checked through the trace hash (which
//! covers every event in order) against a run driven by hand like the app's session.

mod common;

use capsim::Sim;
use capsim::engine::{Fault, Options};
use capsim::scenario::Scenario;
use capsim::scenario::schema::{FaultSpec, ScheduledFault, SetValue};
use capsim::types::{NodeId, SimTime};
use common::{ms, shipped};

/// A time at which several events happen in the same microsecond, found by stepping; the first
/// such time after `after`.
fn crowded_instant(s: &Scenario, after: SimTime) -> SimTime {
    let mut sim = Sim::new(s, &Options::default());
    while sim.step() {
        if sim.now() > after && sim.next_event_time() == Some(sim.now()) {
            return sim.now();
        }
    }
    panic!("no two events share a microsecond after {after:?}");
}

/// Applies `faults` by hand at `at` (after every event at or before it), runs to `until`.
fn by_hand(s: &Scenario, at: SimTime, faults: &[Fault], until: SimTime) -> u64 {
    let mut sim = Sim::new(s, &Options::default());
    sim.run_until(at);
    for f in faults {
        sim.apply(f.clone());
    }
    sim.run_until(until);
    sim.trace_hash()
}

fn scheduled(s: &Scenario, at: SimTime, faults: &[Fault], late: bool, until: SimTime) -> u64 {
    let mut s = s.clone();
    for f in faults {
        s.faults.push(ScheduledFault {
            at_ms: at.as_ms(),
            fault: f.to_spec().expect("a schedulable fault"),
            for_ms: None,
            after_same_time: late,
        });
    }
    let mut sim = Sim::new(&s, &Options::default());
    sim.run_until(until);
    sim.trace_hash()
}

fn cut_and_set() -> Vec<Fault> {
    vec![
        Fault::CutLink {
            a: NodeId(0),
            b: NodeId(2),
            one_way: false,
        },
        Fault::Set {
            path: "policy.read_quorum".into(),
            value: SetValue::Int(1),
        },
    ]
}

#[test]
fn a_late_entry_replays_a_click_at_a_crowded_instant() {
    let s = shipped("quorum-partition.ron");
    let at = crowded_instant(&s, ms(1200.0));
    let until = ms(4000.0);
    let hand = by_hand(&s, at, &cut_and_set(), until);
    assert_eq!(scheduled(&s, at, &cut_and_set(), true, until), hand);
    // The instant is crowded enough that order matters: an ordinary entry (applied before the
    // events queued for that microsecond) gives another history, so this test can fail.
    assert_ne!(scheduled(&s, at, &cut_and_set(), false, until), hand);
    // Stopping exactly at the fault's time includes it, as in the app.
    assert_eq!(
        scheduled(&s, at, &cut_and_set(), true, at),
        by_hand(&s, at, &cut_and_set(), at)
    );
}

#[test]
fn a_late_entry_matches_a_click_in_a_raft_run_too() {
    let s = shipped("raft-partition.ron");
    let at = crowded_instant(&s, ms(800.0));
    let faults = vec![Fault::Crash(NodeId(1)), Fault::Pause(NodeId(3))];
    let until = ms(3000.0);
    assert_eq!(
        scheduled(&s, at, &faults, true, until),
        by_hand(&s, at, &faults, until)
    );
}

#[test]
fn a_late_entry_between_events_applies_at_its_time() {
    // No event at 1234.567 ms: the clock moves there and the fault applies.
    let s = shipped("quorum-partition.ron");
    let at = SimTime(1_234_567);
    let until = ms(2500.0);
    assert_eq!(
        scheduled(&s, at, &cut_and_set(), true, until),
        by_hand(&s, at, &cut_and_set(), until)
    );
}

#[test]
fn heal_cut_removes_one_cut_by_number_and_zero_is_refused() {
    let mut s = shipped("quorum-partition.ron");
    let entry = |at_ms, fault| ScheduledFault {
        at_ms,
        fault,
        for_ms: None,
        after_same_time: false,
    };
    let cut = |a: &str, b: &str| FaultSpec::CutLink {
        a: a.into(),
        b: b.into(),
        one_way: false,
    };
    s.faults = vec![
        entry(100.0, cut("n1", "n2")),
        entry(200.0, cut("n3", "n4")),
        entry(300.0, FaultSpec::HealCut(1)),
    ];
    let mut sim = Sim::new(&s, &Options::default());
    sim.run_until(ms(400.0));
    let left: Vec<u32> = sim.cuts().iter().map(|c| c.0).collect();
    assert_eq!(left, vec![2], "cut 1 (n1-n2) healed, cut 2 stays");
    s.faults.push(entry(300.0, FaultSpec::HealCut(0)));
    let text = capsim::scenario::load::to_string(&s);
    let e = capsim::scenario::from_str("t", &text)
        .unwrap_err()
        .to_string();
    assert!(e.contains("numbered from 1"), "{e}");
}

#[test]
fn late_entries_are_written_only_when_set_and_read_back() {
    let mut s = shipped("quorum-partition.ron");
    let entry = |late| ScheduledFault {
        at_ms: 1500.25,
        fault: FaultSpec::Crash("n2".into()),
        for_ms: None,
        after_same_time: late,
    };
    s.faults = vec![entry(false), entry(true)];
    let text = capsim::scenario::load::to_string(&s);
    assert_eq!(text.matches("after_same_time").count(), 1, "{text}");
    let back = capsim::scenario::from_str("saved", &text).unwrap();
    assert_eq!(back.faults, s.faults);
}
