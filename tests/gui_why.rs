//! "Why stale?" through the real UI (egui_kittest, headless): one click from a stale read in the
//! event log to its explanation, and presenter mode's pause on the first anomaly.
#![cfg(feature = "gui")]

mod gui_common;

use capsim::check::explain::explain_stale_read;
use capsim::engine::Options;
use capsim::gui::session::sim_options;
use capsim::gui::{CapsimApp, Prefs};
use capsim::scenario::Scenario;
use capsim::sim::Sim;
use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use gui_common::{WAIT, click_at, harness_of, load, seek, settle};
use std::time::{Duration, Instant};

/// This file's lesson: the quorum lesson with R = W = 1, so the partition gives stale reads.
fn lesson() -> Scenario {
    load("scenarios/quorum-partition-one.ron")
}

fn harness() -> Harness<'static, CapsimApp> {
    harness_of(CapsimApp::new(
        &egui::Context::default(),
        lesson(),
        Prefs::default(),
    ))
}

fn labels_containing(h: &Harness<'_, CapsimApp>, text: &str) -> Vec<String> {
    h.query_all_by_label_contains(text)
        .filter_map(|n| n.value())
        .collect()
}

#[test]
fn clicking_a_stale_read_in_the_event_log_explains_it() {
    let mut h = harness();
    seek(&mut h, 2600.0);
    let row = labels_containing(&h, "(stale!)")
        .into_iter()
        .next()
        .expect("a stale read in the log");
    // Stale rows are far down the log: scroll to it (and let the animation end) first.
    h.get_by_label_contains(&row).scroll_to_me();
    h.run_steps(30);
    h.get_by_label_contains(&row).click();
    settle(&mut h);
    let f = h.state_mut().frame();
    let why = f.why.clone().expect("the click asked for an explanation");
    let e = why.explanation.clone().expect("explained");
    // The explanation is about the clicked row's read...
    let clicked = format!("client {} read k{} →", e.read.process, e.read.key);
    assert!(row.contains(&clicked), "{row} vs {clicked}");
    let r = f
        .stale_recent
        .iter()
        .find(|r| r.op == e.read.op)
        .expect("a recorded stale read");
    assert_eq!(e.missed.op, r.missed_op);
    // ...names the write it missed and the replica that answered...
    let missed = r.missed_value.expect("a write").to_string();
    assert!(!labels_containing(&h, &format!("It missed {missed},")).is_empty());
    let answer = e.answered.first().expect("an answer").node;
    assert!(!labels_containing(&h, &format!("only {answer} (held")).is_empty());
    // ...and agrees with a plain re-run from t = 0 (the GUI's comes from a checkpoint).
    let plain = explain_stale_read(&Sim::new(&lesson(), &Options::default()), r).unwrap();
    assert_eq!(plain.missed, e.missed);
    assert_eq!(plain.answered, e.answered);
    assert_eq!(plain.replicas, e.replicas);
    // The views outline what it names.
    let hl = f.highlight().expect("a highlight");
    assert!(hl.nodes.contains(&answer));
    // Closing it clears the highlight.
    h.get_by_label("✖ Close").click();
    settle(&mut h);
    assert!(h.state_mut().frame().why.is_none());
}

/// Waits (drawing frames) until the worker has stopped playing.
fn wait_paused(h: &mut Harness<'_, CapsimApp>) {
    let start = Instant::now();
    loop {
        h.run_steps(1);
        let f = h.state_mut().frame();
        if f.acked >= h.state().sent() && !f.playing && f.why.is_some() {
            break;
        }
        assert!(start.elapsed() < WAIT, "playing never paused");
        std::thread::sleep(Duration::from_millis(10));
    }
    h.run_steps(3);
}

#[test]
fn pause_on_anomaly_stops_at_the_first_stale_read_with_the_reason_hidden() {
    let mut h = harness();
    h.get_by_label("pause on anomaly").click();
    h.get_by_label("max").click();
    h.run_steps(2);
    h.get_by_label("▶ Play").click();
    wait_paused(&mut h);
    let sim = h.state_mut().snapshot(WAIT).expect("snapshot");
    assert_eq!(sim.metrics().stale.count, 1, "paused at the first anomaly");
    // Exactly at the event that produced it: a fresh run stepped until its first stale read
    // is at the same point.
    let mut fresh = Sim::new(&lesson(), &sim_options());
    while fresh.metrics().stale.count == 0 {
        assert!(fresh.step());
    }
    assert_eq!(sim.trace_hash(), fresh.trace_hash());
    assert_eq!(sim.now(), fresh.now());
    // The panel is open, its reason hidden until revealed.
    assert!(h.query_by_label("Reveal why").is_some());
    assert!(labels_containing(&h, "It missed").is_empty());
    h.get_by_label("Reveal why").click();
    h.run_steps(3);
    assert!(!labels_containing(&h, "It missed").is_empty());
    let f = h.state_mut().frame();
    let e = f.why.as_ref().and_then(|w| w.explanation.as_ref()).unwrap();
    assert_eq!(e.read.op, fresh.metrics().stale.records[0].op);
}

/// Presenter mode turns pause-on-anomaly on (the lecturer asks the room before revealing why)
/// and off again when it ends.
#[test]
fn presenter_mode_pauses_at_the_first_anomaly() {
    let mut h = harness();
    h.get_by_label("Present").click();
    settle(&mut h);
    assert!(h.state_mut().frame().pause_on_anomaly);
    h.get_by_label("max").click();
    h.run_steps(2);
    h.get_by_label("▶ Play").click();
    wait_paused(&mut h);
    let sim = h.state_mut().snapshot(WAIT).expect("snapshot");
    assert_eq!(sim.metrics().stale.count, 1, "paused at the first anomaly");
    assert!(h.query_by_label("Reveal why").is_some());
    h.key_press(egui::Key::F5);
    settle(&mut h);
    assert!(
        !h.state_mut().frame().pause_on_anomaly,
        "off with presenter mode"
    );
}

#[test]
fn check_history_follows_the_copies_of_a_lost_write() {
    let scenario = load("scenarios/lww-clock-skew.ron");
    let app = CapsimApp::new(
        &egui::Context::default(),
        scenario.clone(),
        Prefs::default(),
    );
    let mut h = harness_of(app);
    let end = scenario.run.duration_ms.unwrap() + scenario.run.drain_ms + 1.0;
    seek(&mut h, end);
    h.get_by_label("Check history").click();
    settle(&mut h);
    let f = h.state_mut().frame();
    let why = f.why.clone().expect("the checks ran");
    // The same finding as the run's own post-run checks.
    let sim = h.state_mut().snapshot(WAIT).expect("snapshot");
    let lost = sim.analysis().lost_writes;
    assert!(lost.count > 0, "this lesson loses writes");
    assert!(
        why.findings
            .iter()
            .any(|f| f.kind == "lost write" && Some(&f.example) == lost.example.as_ref())
    );
    let story = why.story.as_ref().expect("the lost write followed");
    let (key, value, _) = lost.subject.unwrap();
    assert_eq!((story.key, story.value), (key, value));
    let v = value.unwrap().to_string();
    assert!(!labels_containing(&h, &format!("The write k{key}={v}")).is_empty());
    assert!(f.highlight().is_some());
    // A finding that is also a stale read (here read-your-writes: the session's own write was
    // acknowledged before the read) explains in one more click.
    let op = why
        .findings
        .iter()
        .find(|f| f.kind == "read your writes")
        .expect("this lesson breaks read-your-writes")
        .stale_op
        .expect("that read is a recorded stale read");
    // One button per finding whose read is a recorded stale read, in the findings' order.
    let nth = why
        .findings
        .iter()
        .filter(|f| f.stale_op.is_some())
        .position(|f| f.kind == "read your writes")
        .unwrap();
    h.get_all_by_label("Why this read?")
        .nth(nth)
        .unwrap()
        .click();
    settle(&mut h);
    let f = h.state_mut().frame();
    let e = f.why.as_ref().and_then(|w| w.explanation.clone());
    assert_eq!(e.expect("explained").read.op, op);
}

#[test]
fn clicking_a_stale_marker_on_the_time_line_explains_that_read() {
    let mut h = harness();
    seek(&mut h, 2600.0);
    let f = h.state_mut().frame();
    let (ms, op) = (
        *f.stale_ms.last().expect("a stale read"),
        *f.stale_ops.last().unwrap(),
    );
    // The markers sit in a strip just above the scrubber, on the scrubber's time axis.
    let slider = h.get_by_label("time").rect();
    let end_ms = f.horizon.as_ms().max(f.now.as_ms());
    let (left, width) = (
        slider.left() + slider.height() / 2.0,
        slider.width() - slider.height(),
    );
    let x = left + (ms / end_ms) as f32 * width;
    let pos = egui::pos2(x, slider.top() - 11.0);
    click_at(&mut h, pos);
    settle(&mut h);
    let f = h.state_mut().frame();
    let e = f
        .why
        .as_ref()
        .and_then(|w| w.explanation.clone())
        .expect("explained");
    // The marker nearest the click: this read, or one drawn within the same few pixels.
    let px_ms = end_ms / width as f64;
    let r = f.stale_recent.iter().find(|r| r.op == e.read.op).unwrap();
    assert!(
        (r.invoke_us as f64 / 1000.0 - ms).abs() <= 6.0 * px_ms,
        "{op} vs {}",
        r.op
    );
}

#[test]
fn clicking_the_stale_reads_plot_explains_a_read_near_the_click() {
    let mut h = harness();
    seek(&mut h, 5000.0);
    h.get_by_label("Plots").click();
    h.run_steps(3);
    // The stale-reads plot sits right under its hint; click about a quarter along its time
    // axis (0 to the run's planned end, about 11 s), inside the partition (2 s to 5 s).
    let hint = h
        .get_by_label("Click near a spike to see why those reads were stale.")
        .rect();
    let pos = egui::pos2(
        hint.left() + 0.3 * (h.ctx.content_rect().right() - hint.left()),
        hint.bottom() + 60.0,
    );
    click_at(&mut h, pos);
    settle(&mut h);
    settle(&mut h);
    let f = h.state_mut().frame();
    let e = f
        .why
        .as_ref()
        .and_then(|w| w.explanation.clone())
        .expect("explained");
    assert!(f.stale_ops.contains(&e.read.op));
    assert!(e.read.invoked.as_ms() > 1000.0 && e.read.invoked.as_ms() < 5000.0);
}

/// A non-linearizable history's counterexample usually holds a read that missed a completed
/// write: Check history links it to that stale read's step-by-step explanation.
#[test]
fn a_linearizability_counterexample_links_to_its_stale_read() {
    let mut s = capsim::gui::session::Session::new(lesson());
    s.advance_to(capsim::types::SimTime::from_ms(4000.0), None);
    let why = capsim::gui::why::check_history(&s, 1);
    let finding = why
        .findings
        .iter()
        .find(|f| f.kind == "linearizability")
        .expect("R=W=1 under a partition is not linearizable");
    let op = finding
        .stale_op
        .unwrap_or_else(|| panic!("no stale read in the counterexample: {}", finding.example));
    let stale = &s.sim.metrics().stale.records;
    let read = stale
        .iter()
        .find(|r| r.op == op)
        .expect("a recorded stale read");
    let analysis = s.sim.analysis();
    let c = analysis.counterexample.expect("a counterexample");
    assert_eq!(read.key, c.key, "the read is on the counterexample's key");
    assert!(
        c.ops
            .iter()
            .any(|o| o.start_us == read.invoke_us && o.process == read.process),
        "the read is one of the counterexample's operations"
    );
}

/// The default lesson has no stale read but a non-linearizable history: Check history's "Go to"
/// takes the viewer to the counterexample's first read, to step through it from there.
#[test]
fn check_history_goes_to_where_a_counterexample_starts() {
    let scenario = load("scenarios/quorum-partition.ron");
    let mut h = harness_of(CapsimApp::new(
        &egui::Context::default(),
        scenario,
        Prefs::default(),
    ));
    seek(&mut h, 6000.0);
    h.get_by_label("Check history").click();
    settle(&mut h);
    let why = h.state_mut().frame().why.clone().expect("the checks ran");
    let finding = why
        .findings
        .iter()
        .find(|f| f.kind == "linearizability")
        .expect("the default lesson is not linearizable");
    let at = finding.at.expect("a counterexample has a moment");
    let sim = h.state_mut().snapshot(WAIT).expect("snapshot");
    let c = sim.analysis().counterexample.expect("a counterexample");
    assert!(
        c.ops
            .iter()
            .any(|op| op.start_us == at.0 && op.f == capsim::types::OpKind::Read),
        "{at:?} is a read of the counterexample"
    );
    h.get_by_label(&format!("Go to {:.1} ms", at.as_ms()))
        .click();
    settle(&mut h);
    assert_eq!(h.state_mut().frame().now, at, "the viewer went there");
}
