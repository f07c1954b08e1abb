//! The real UI driven through egui_kittest: clicks and keys go through the same widgets a user
//! touches, and each test checks the engine state the worker thread ends up with.
//!
//! These tests need no display: kittest runs egui headless. Only `renders_the_cluster_view`
//! needs a GPU adapter (software Vulkan is fine); without one it says so and skips, unless
//! CAPSIM_REQUIRE_DISPLAY=1 makes that a failure.
#![cfg(feature = "gui")]

mod gui_common;

use capsim::engine::Fault;
use capsim::engine::node::NodeStatus;
use capsim::gui::session::sim_options;
use capsim::gui::{CapsimApp, Prefs};
use capsim::scenario::schema::PolicySpec;
use capsim::sim::Sim;
use capsim::types::{NodeId, SimTime};
use eframe::egui;
use egui_kittest::kittest::Queryable;
use gui_common::{
    SIZE, WAIT, click, click_below, engine, gpu_renderer, harness, harness_of, harness_sized,
    lesson, load, seek, set_time, temp_dir, type_below,
};
use std::time::{Duration, Instant};

#[test]
fn step_button_and_arrow_key_process_exactly_one_event_each() {
    let mut h = harness(Prefs::default());
    click(&mut h, "Step ▶");
    click(&mut h, "Step ▶");
    h.key_press(egui::Key::ArrowRight);
    let sim = engine(&mut h);
    let mut expected = Sim::new(&lesson(), &sim_options());
    for _ in 0..3 {
        expected.step();
    }
    assert_eq!(sim.trace_hash(), expected.trace_hash());
    assert_eq!(sim.now(), expected.now());
    // ← undoes one.
    h.key_press(egui::Key::ArrowLeft);
    let back = engine(&mut h);
    let mut two = Sim::new(&lesson(), &sim_options());
    two.step();
    two.step();
    assert_eq!(back.trace_hash(), two.trace_hash());
}

#[test]
fn space_plays_and_pauses() {
    let mut h = harness(Prefs::default());
    click(&mut h, "max");
    h.key_press(egui::Key::Space);
    h.run_steps(1);
    let start = Instant::now();
    while h.state_mut().frame().now < SimTime::from_ms(100.0) {
        assert!(
            start.elapsed() < WAIT,
            "playing did not advance the simulation"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    h.key_press(egui::Key::Space);
    let paused = engine(&mut h);
    assert!(!h.state_mut().frame().playing);
    std::thread::sleep(Duration::from_millis(50));
    let later = engine(&mut h);
    assert!(paused.now() >= SimTime::from_ms(100.0));
    assert_eq!(
        paused.trace_hash(),
        later.trace_hash(),
        "paused means no events"
    );
}

#[test]
fn clicking_a_node_crashes_and_restarts_it() {
    let mut h = harness(Prefs::default());
    click(&mut h, "n2");
    click(&mut h, "Crash n2");
    let sim = engine(&mut h);
    assert_eq!(sim.nodes_info()[1].status, NodeStatus::Crashed);
    assert_eq!(
        sim.applied_faults().last().map(|f| &f.1),
        Some(&Fault::Crash(NodeId(1)))
    );
    click(&mut h, "n2");
    click(&mut h, "Restart n2");
    assert_eq!(engine(&mut h).nodes_info()[1].status, NodeStatus::Up);
}

#[test]
fn clicking_a_node_wipes_its_disk() {
    let mut h = harness(Prefs::default());
    click(&mut h, "n3");
    click(&mut h, "Wipe n3's disk");
    let sim = engine(&mut h);
    assert_eq!(sim.nodes_info()[2].status, NodeStatus::Crashed);
    assert_eq!(
        sim.applied_faults().last().map(|f| &f.1),
        Some(&Fault::WipeDisk(NodeId(2)))
    );
    click(&mut h, "n3");
    click(&mut h, "Restart n3");
    assert_eq!(engine(&mut h).nodes_info()[2].status, NodeStatus::Up);
}

#[test]
fn clicking_a_link_cuts_and_heals_it() {
    let mut h = harness(Prefs::default());
    click(&mut h, "link n1–n3");
    click(&mut h, "Cut both ways");
    let sim = engine(&mut h);
    assert_eq!(
        sim.blocked_links(),
        vec![(NodeId(0), NodeId(2)), (NodeId(2), NodeId(0))]
    );
    let cut = sim.cuts()[0].0;
    click(&mut h, "link n1–n3");
    click(&mut h, &format!("Heal this link (cut #{cut})"));
    assert!(engine(&mut h).blocked_links().is_empty());
    click(&mut h, "link n2–n4");
    click(&mut h, "Cut n4 → n2 only");
    assert_eq!(engine(&mut h).blocked_links(), vec![(NodeId(3), NodeId(1))]);
}

#[test]
fn partition_tool_cuts_a_group_off_and_heal_all_undoes_it() {
    let mut h = harness(Prefs::default());
    click(&mut h, "✂ Partition tool");
    click(&mut h, "n1");
    click(&mut h, "n2");
    click(&mut h, "Partition group | rest");
    let sim = engine(&mut h);
    // n1,n2 against n3,n4,n5: 2 x 3 pairs, both ways.
    assert_eq!(sim.blocked_links().len(), 12);
    assert!(!sim.blocked_links().contains(&(NodeId(0), NodeId(1))));
    click(&mut h, "Heal all");
    assert!(engine(&mut h).blocked_links().is_empty());
}

#[test]
fn seeking_back_with_the_scrubber_replays_clicked_faults() {
    let mut h = harness(Prefs::default());
    // Waits for the worker: the nodes move once the first messages fill the legend, and a
    // click aimed at the previous frame's n3 missed it.
    seek(&mut h, 1500.0);
    click(&mut h, "n3");
    click(&mut h, "Crash n3");
    set_time(&mut h, 3000.0);
    let forward = engine(&mut h);
    assert_eq!(forward.now(), SimTime::from_ms(3000.0));
    set_time(&mut h, 1000.0);
    let back = engine(&mut h);
    assert_eq!(back.now(), SimTime::from_ms(1000.0));
    assert_eq!(
        back.nodes_info()[2].status,
        NodeStatus::Up,
        "before the crash"
    );
    set_time(&mut h, 3000.0);
    let again = engine(&mut h);
    assert_eq!(again.nodes_info()[2].status, NodeStatus::Crashed);
    assert_eq!(again.trace_hash(), forward.trace_hash());
}

#[test]
fn editing_the_read_quorum_validates_and_restarts_the_run() {
    let mut h = harness(Prefs::default());
    set_time(&mut h, 2500.0);
    click(&mut h, "Policy");
    h.get_by_role_and_label(egui::accesskit::Role::SpinButton, "read quorum R")
        .set_value_accesskit(9.0);
    h.run_steps(2);
    assert!(
        h.query_by_label_contains("read_quorum").is_some(),
        "R > N is reported"
    );
    h.get_by_role_and_label(egui::accesskit::Role::SpinButton, "read quorum R")
        .set_value_accesskit(1.0);
    h.run_steps(2);
    // Below the lesson's description, which can push it out of the panel.
    click_below(&mut h, "Apply (restart from t = 0)");
    let sim = engine(&mut h);
    let PolicySpec::Leaderless(p) = &sim.scenario().policy else {
        panic!("the lesson is leaderless");
    };
    assert_eq!((p.read_quorum, p.write_quorum), (1, 2));
    assert_eq!(sim.now(), SimTime::ZERO, "the run restarted");
    assert!(
        h.state_mut().frame().series.is_empty(),
        "the plots restarted too"
    );
    assert_eq!(sim.scenario().seed, lesson().seed);
}

#[test]
fn renders_the_cluster_view() {
    let Some(renderer) = gpu_renderer("renders_the_cluster_view") else {
        return;
    };
    let app = CapsimApp::new(&egui::Context::default(), lesson(), Prefs::default());
    let mut h = harness_sized(app, SIZE, Some(renderer));
    // Faults clicked at t = 0, before any event: the picture depends on the GUI, not on how the
    // policies behave (which other work changes), yet shows cut links and every node status.
    click(&mut h, "✂ Partition tool");
    click(&mut h, "n1");
    click(&mut h, "n2");
    click(&mut h, "Partition group | rest");
    click(&mut h, "n4");
    click(&mut h, "Pause n4");
    click(&mut h, "n5");
    click(&mut h, "Crash n5");
    click(&mut h, "link n3–n4");
    click(&mut h, "Cut n3 → n4 only");
    engine(&mut h);
    h.remove_cursor();
    h.run_steps(3);
    let image = h.render().expect("render");
    assert_eq!((image.width(), image.height()), (1280, 800));
    let first = image.get_pixel(0, 0);
    let distinct = image.pixels().filter(|p| *p != first).count();
    assert!(distinct > 1280 * 800 / 20, "the window is not blank");
    h.snapshot("cluster_faults_at_0");
}

#[test]
fn every_symbol_the_ui_uses_has_a_glyph() {
    // Every non-ASCII character in src/gui (kept in sync by the check below).
    let symbols = "µ·×–—…←→↔↗↛∅−≠⏭⏮⏸▲▶▼◀◆☀★✂✔✖🌙";
    let mut sources = String::new();
    for entry in std::fs::read_dir("src/gui").unwrap() {
        sources += &std::fs::read_to_string(entry.unwrap().path()).unwrap();
    }
    for c in sources.chars().filter(|c| !c.is_ascii()) {
        assert!(symbols.contains(c), "add {c:?} to this test's list");
    }
    let h = harness(Prefs::default());
    for family in [egui::FontFamily::Proportional, egui::FontFamily::Monospace] {
        let font = egui::FontId::new(14.0, family);
        for c in symbols.chars() {
            let ok = h.ctx.fonts_mut(|f| f.has_glyph(&font, c));
            assert!(ok, "no glyph for {c:?} in {:?}", font.family);
        }
    }
}

#[test]
fn policy_tab_saves_interventions_and_opens_files() {
    let dir = temp_dir("save");
    let path = dir.join("saved.ron");
    let mut h = harness(Prefs::default());
    seek(&mut h, 1200.0);
    click(&mut h, "n4");
    click(&mut h, "Pause n4");
    engine(&mut h);
    click(&mut h, "Policy");
    type_below(&mut h, "scenario path", path.to_str().unwrap());
    click_below(&mut h, "Save");
    let saved = capsim::io::read_scenario(&path).expect("the saved file loads and validates");
    let last = saved.faults.last().expect("the pause was saved");
    assert_eq!(last.at_ms, 1200.0);
    assert_eq!(Fault::from_spec(&last.fault), Fault::Pause(NodeId(3)));
    assert_eq!(saved.faults.len(), lesson().faults.len() + 1);

    // Opening it starts over from t = 0 and the saved pause now happens on its own.
    click_below(&mut h, "Open");
    set_time(&mut h, 1300.0);
    let sim = engine(&mut h);
    assert_eq!(sim.nodes_info()[3].status, NodeStatus::Paused);
    assert_eq!(sim.scenario().faults.len(), saved.faults.len());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn projector_controls_zoom_and_switch_theme() {
    let mut h = harness(Prefs::default());
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Plus);
    h.run_steps(2);
    click(&mut h, "A+");
    assert!(h.ctx.zoom_factor() > 1.15, "Ctrl + and A+ both zoom in");
    assert_eq!(
        h.state().prefs.zoom,
        h.ctx.zoom_factor(),
        "the zoom is remembered"
    );
    click(&mut h, "☀ Light");
    assert!(!h.state().prefs.dark);
    assert_eq!(h.ctx.theme(), egui::Theme::Light);
    click(&mut h, "🌙 Dark");
    assert_eq!(h.ctx.theme(), egui::Theme::Dark);
}

#[test]
fn event_log_marks_stale_reads() {
    let scenario = load("scenarios/quorum-partition-one.ron");
    let app = CapsimApp::new(&egui::Context::default(), scenario, Prefs::default());
    let mut h = harness_of(app);
    h.get_by_label("time").set_value_accesskit(4000.0);
    let sim = engine(&mut h);
    let recent = h.state_mut().frame().stale_recent.clone();
    assert!(
        sim.metrics().stale.count > 0,
        "R=W=1 under a partition reads stale data"
    );
    let lines: Vec<String> = h
        .query_all_by_label_contains("(stale!)")
        .filter_map(|n| n.value())
        .collect();
    assert!(!lines.is_empty());
    // Each marked read is one the stale-read checker recorded, with the value it returned.
    for text in lines {
        let recorded = recent.iter().any(|r| {
            let value = r.returned.map_or("nothing".into(), |v| v.to_string());
            text.contains(&format!(
                "client {} read k{} → {value} (stale!)",
                r.process, r.key
            ))
        });
        assert!(recorded, "{text}");
    }
}
