//! Compare mode (issue #8, the CAP demo) driven through the real UI with egui_kittest: open it
//! from the top bar, run both sides to the end, and check that the numbers it shows are those of
//! `capsim run` of each side with B forced to A's seed and faults.
#![cfg(feature = "gui")]

mod gui_common;

use capsim::compare::match_faults;
use capsim::engine::Fault;
use capsim::gui::compare_panels::{Row, rows};
use capsim::gui::{CapsimApp, Prefs};
use capsim::scenario::schema::PolicySpec;
use capsim::types::{NodeId, SimTime};
use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use gui_common::{WAIT, click, harness_of, load, seek, set_time, temp_dir};
use std::time::{Duration, Instant};

const CP: &str = "scenarios/cap-cp-raft.ron";
const AP: &str = "scenarios/cap-ap-one.ron";

/// The app on the scenario file at `a` (side A of a comparison).
fn harness(a: &str) -> Harness<'static, CapsimApp> {
    harness_of(CapsimApp::new(
        &egui::Context::default(),
        load(a),
        Prefs::default(),
    ))
}

/// Opens the "Compare…" window and starts comparing with the file at `path`.
fn compare_with(h: &mut Harness<'_, CapsimApp>, path: &str) {
    click(h, "Compare…");
    h.get_by_label("side B path").focus();
    h.run_steps(1);
    h.get_by_label("side B path").type_text(path);
    h.run_steps(2);
    click(h, "Compare with this file");
}

/// Draws frames until both compare workers have handled everything (and the main one too).
fn settle_both_sides(h: &mut Harness<'_, CapsimApp>) {
    let start = Instant::now();
    loop {
        h.run_steps(1);
        let app = h.state_mut();
        if app.compare.idle() && app.wait_for_worker(Duration::from_millis(1)) {
            break;
        }
        assert!(start.elapsed() < WAIT, "the compare workers did not answer");
        std::thread::sleep(Duration::from_millis(5));
    }
    h.run_steps(3); // draw the latest frames
}

/// The table as compare mode draws it now.
fn shown_rows(h: &mut Harness<'_, CapsimApp>) -> Vec<Row> {
    let run = h
        .state_mut()
        .compare
        .run
        .as_mut()
        .expect("compare mode is on");
    let [a, b] = &mut run.sides;
    rows(&a.frame().report, &b.frame().report)
}

fn row<'a>(rows: &'a [Row], name: &str) -> &'a Row {
    rows.iter().find(|r| r.name == name).unwrap()
}

/// `capsim run --json FILE --seed SEED` from the binary, parsed.
fn cli_json(file: &str, seed: u64) -> serde_json::Value {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_capsim"))
        .args(["run", "--json", file, "--seed", &seed.to_string()])
        .output()
        .expect("running the capsim binary");
    serde_json::from_slice(&out.stdout).expect("capsim run --json prints JSON")
}

#[test]
fn compare_mode_shows_each_sides_numbers_as_a_separate_run_gives_them() {
    let mut h = harness(CP);
    h.key_press(egui::Key::Space); // the main view plays (slowly); compare mode pauses it
    h.run_steps(1);
    assert!(h.state_mut().wait_for_worker(WAIT));
    assert!(h.state_mut().frame().playing);
    compare_with(&mut h, AP);
    assert!(h.state().compare.run.is_some(), "compare mode started");
    assert!(h.state_mut().wait_for_worker(WAIT));
    assert!(
        !h.state_mut().frame().playing,
        "the hidden main view was paused"
    );
    h.get_by_label("A: Raft, ReadIndex reads (CP)");
    h.get_by_label("B: Leaderless N=5 R=One W=One (AP)");
    click(&mut h, "Run to end ⏭");
    settle_both_sides(&mut h);

    let m = match_faults(&load(CP), &load(AP)).unwrap();
    let expected = [capsim::sim::run(&m.a), capsim::sim::run(&m.b)];
    let shown = shown_rows(&mut h);
    assert_eq!(shown, rows(&expected[0], &expected[1]));
    // The table really is on screen with those numbers.
    for name in ["availability", "stale reads", "failed", "unknown"] {
        let r = row(&shown, name);
        for text in [&r.a, &r.b, &r.diff] {
            assert!(
                h.query_all_by_label(text).next().is_some(),
                "{name}: {text} is not shown"
            );
        }
    }
    // The CLI binary agrees (B's file already has A's partition; the seed is forced).
    for (file, report) in [(CP, &expected[0]), (AP, &expected[1])] {
        let json = cli_json(file, m.a.seed);
        assert_eq!(json["availability"].as_f64(), Some(report.availability));
        assert_eq!(json["stale_reads"].as_u64(), Some(report.stale_reads));
        assert_eq!(json["failed"].as_u64(), Some(report.failed));
        assert_eq!(json["unknown"].as_u64(), Some(report.unknown));
    }
    // The CAP demo's claim: the CP side refuses or times out but is never stale; the AP side
    // answers more often and pays with stale reads.
    let [cp, ap] = &expected;
    assert!(cp.failed + cp.unknown > 0 && cp.stale_reads == 0);
    assert!(ap.availability > cp.availability && ap.stale_reads > 0);
}

#[test]
fn a_users_interventions_are_applied_to_both_sides() {
    let mut h = harness(CP);
    // Waits for the worker, so the click aims at where n4 is drawn at 1.2 s.
    seek(&mut h, 1200.0);
    click(&mut h, "n4");
    click(&mut h, "Pause n4");
    assert!(h.state_mut().wait_for_worker(WAIT));
    compare_with(&mut h, AP);
    set_time(&mut h, 1300.0);
    settle_both_sides(&mut h);
    let run = h.state_mut().compare.run.as_mut().unwrap();
    for side in &mut run.sides {
        let f = side.frame();
        assert_eq!(
            f.now,
            SimTime::from_ms(1300.0),
            "side {} is time-locked",
            side.name
        );
        assert!(
            f.faults
                .iter()
                .any(|(t, fault)| *t == SimTime::from_ms(1200.0)
                    && *fault == Fault::Pause(NodeId(3))),
            "side {} did not get the pause: {:?}",
            side.name,
            f.faults
        );
    }
}

#[test]
fn a_side_b_without_the_faulted_nodes_is_an_error_in_the_window() {
    let dir = temp_dir("compare");
    let small = dir.join("three-nodes.ron");
    let mut b = load(AP);
    b.nodes.count = 3;
    b.faults.clear();
    if let PolicySpec::Leaderless(p) = &mut b.policy {
        p.replication_factor = 3;
    }
    let text = capsim::scenario::load::to_string(&b);
    std::fs::write(&small, text).unwrap();

    let mut h = harness(CP);
    compare_with(&mut h, small.to_str().unwrap());
    assert!(h.state().compare.run.is_none(), "no comparison was started");
    let msg = h.state().compare.message().unwrap_or_default().to_string();
    assert!(msg.contains("n4"), "{msg}");
    let shown = h
        .query_all_by_label_contains("side B with side A's faults")
        .count();
    assert_eq!(shown, 1, "the error is shown in the compare window");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn comparing_with_the_unedited_policy_shows_no_difference() {
    let mut h = harness(AP);
    click(&mut h, "Compare…");
    click(&mut h, "Compare with the edited policy");
    click(&mut h, "Run to end ⏭");
    settle_both_sides(&mut h);
    let shown = shown_rows(&mut h);
    assert_eq!(
        row(&shown, "ops").a,
        capsim::sim::run(&load(AP)).ops.to_string()
    );
    for r in &shown {
        assert_eq!(r.a, r.b, "{}: the same scenario on both sides", r.name);
        assert!(!r.diff.starts_with(['+', '−']), "{}: {}", r.name, r.diff);
    }
}

#[test]
fn the_edited_policy_is_side_b_without_being_applied() {
    let lesson = "scenarios/quorum-partition.ron";
    let mut h = harness(lesson);
    click(&mut h, "Policy");
    for field in ["read quorum R", "write quorum W"] {
        h.get_by_role_and_label(egui::accesskit::Role::SpinButton, field)
            .set_value_accesskit(1.0);
        h.run_steps(2);
    }
    click(&mut h, "Compare…");
    click(&mut h, "Compare with the edited policy");
    h.get_by_label("B: Leaderless N=3 R=1 W=1 (AP)");
    click(&mut h, "Run to end ⏭");
    settle_both_sides(&mut h);

    let a = load(lesson);
    let mut b = a.clone();
    match &mut b.policy {
        PolicySpec::Leaderless(p) => (p.read_quorum, p.write_quorum) = (1, 1),
        other => panic!("the lesson is leaderless, not {other:?}"),
    }
    let expected = rows(&capsim::sim::run(&a), &capsim::sim::run(&b));
    assert_eq!(shown_rows(&mut h), expected);
    // The main view's run was not restarted with the edit.
    assert_eq!(*h.state_mut().frame().scenario, a);
}

#[test]
fn the_compare_flag_rejects_a_bad_side_b_before_opening_a_window() {
    let run = |b: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_capsim"))
            .args(["--scenario", CP, "--compare", b, "--screenshot"])
            .arg(std::env::temp_dir().join("capsim-never-written.png"))
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .output()
            .expect("running the capsim binary")
    };
    let missing = run("scenarios/no-such-file.ron");
    assert_eq!(missing.status.code(), Some(2));
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(
        err.contains("--compare") && err.contains("no-such-file"),
        "{err}"
    );

    let small = std::env::temp_dir().join(format!("capsim-cmp-flag-{}.ron", std::process::id()));
    std::fs::write(&small, "(nodes: (count: 3))").unwrap();
    let out = run(small.to_str().unwrap());
    let _ = std::fs::remove_file(&small);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("side B with side A's faults") && err.contains("n4"),
        "{err}"
    );
}

#[test]
fn play_and_pause_keep_both_sides_at_the_same_simulated_time() {
    let mut h = harness(CP);
    compare_with(&mut h, AP);
    h.get_by_label("speed").set_value_accesskit(7.0);
    h.run_steps(1);
    click(&mut h, "▶ Play");
    let start = Instant::now();
    loop {
        h.run_steps(1);
        let run = h.state_mut().compare.run.as_mut().unwrap();
        if run
            .sides
            .iter_mut()
            .all(|s| s.frame().now >= SimTime::from_ms(500.0))
        {
            break;
        }
        assert!(start.elapsed() < WAIT, "playing did not move both sides on");
        std::thread::sleep(Duration::from_millis(5));
    }
    click(&mut h, "⏸ Pause");
    settle_both_sides(&mut h);
    let run = h.state_mut().compare.run.as_mut().unwrap();
    let [a, b] = &mut run.sides;
    let (ta, tb) = (a.frame().now, b.frame().now);
    assert_eq!(ta, tb, "time-locked");
    assert!(ta < SimTime::from_ms(8000.0), "paused before the end");
    h.run_steps(10);
    settle_both_sides(&mut h);
    let run = h.state_mut().compare.run.as_mut().unwrap();
    assert_eq!(run.sides[0].frame().now, ta, "paused means paused");
}
