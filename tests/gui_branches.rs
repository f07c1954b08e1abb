//! What-if branches driven through the real UI (egui_kittest): rewinding and changing something
//! keeps the old future as a branch; a branch saved as a scenario replays to the branch's trace
//! hash; switching between branches brings each one's history back exactly.
//!
//! With a GPU adapter (software Vulkan is fine) `renders_the_branch_list` also draws the list;
//! CAPSIM_SCREENSHOT_DIR=assets writes the README's pictures there.
#![cfg(feature = "gui")]

mod gui_common;

use capsim::engine::{Fault, Options};
use capsim::gui::{CapsimApp, Prefs};
use capsim::scenario::schema::FaultSpec;
use capsim::sim::Sim;
use capsim::types::{NodeId, SimTime};
use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use gui_common::{
    click, click_below, engine, gpu_renderer, harness, harness_sized, lesson, save_screenshot,
    set_time, temp_dir, type_below,
};

/// Moves the time line to `ms` and waits for the worker's snapshot there.
fn seek(h: &mut Harness<'_, CapsimApp>, ms: f64) {
    set_time(h, ms);
    engine(h);
}

fn cut_n1_n3() -> Fault {
    Fault::CutLink {
        a: NodeId(0),
        b: NodeId(2),
        one_way: false,
    }
}

/// Runs to 3 s, rewinds to 1.5 s and cuts n1–n3 (branch 2), then at 1.8 s plus three events
/// sets R = 1 from now (branch 3). Leaves the Policy tab open.
fn make_branches(h: &mut Harness<'_, CapsimApp>) {
    seek(h, 3000.0);
    seek(h, 1500.0);
    click(h, "link n1–n3");
    click(h, "Cut both ways");
    engine(h);
    seek(h, 1800.0);
    for _ in 0..3 {
        click(h, "Step ▶"); // lands between events that share a microsecond, perhaps
    }
    click(h, "Policy");
    h.get_by_role_and_label(egui::accesskit::Role::SpinButton, "read quorum R")
        .set_value_accesskit(1.0);
    h.run_steps(2);
    click_below(h, "Apply from now (new branch)");
    engine(h);
}

fn names(h: &mut Harness<'_, CapsimApp>) -> Vec<String> {
    let f = h.state_mut().frame();
    f.branches.iter().map(|b| b.name.clone()).collect()
}

#[test]
fn a_saved_branch_replays_to_the_branch_trace_hash() {
    let dir = temp_dir("branches");
    let path = dir.join("branch.ron");
    let mut h = harness(Prefs::default());
    make_branches(&mut h);
    let names = names(&mut h);
    assert_eq!(names.len(), 3, "{names:?}");
    assert_eq!(names[0], "main");
    assert!(names[1].contains("cut link n1 ↔ n3 at 1.50 s"), "{names:?}");
    assert!(names[2].contains("read_quorum = 1"), "{names:?}");
    assert_eq!(h.state_mut().frame().current_branch, 2);

    seek(&mut h, 2600.0);
    let branch = engine(&mut h);
    assert_eq!(branch.now(), SimTime::from_ms(2600.0));
    type_below(&mut h, "branch file", path.to_str().unwrap());
    click_below(&mut h, "save branch 3");

    let saved = capsim::io::read_scenario(&path).expect("the saved branch loads and validates");
    let added = &saved.faults[lesson().faults.len()..];
    assert_eq!(added.len(), 2, "{added:?}");
    assert!(added.iter().all(|f| f.after_same_time));
    assert_eq!(added[0].at_ms, 1500.0);
    assert_eq!(Fault::from_spec(&added[0].fault), cut_n1_n3());
    assert!((1800.0..1900.0).contains(&added[1].at_ms), "{added:?}");
    assert!(matches!(&added[1].fault, FaultSpec::Set(p, _) if p.ends_with("read_quorum")));

    let mut replay = Sim::new(&saved, &Options::default());
    replay.run_until(branch.now());
    assert_eq!(replay.trace_hash(), branch.trace_hash());
    assert_eq!(replay.metrics().ops, branch.metrics().ops);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn switching_branches_restores_each_ones_history() {
    let mut h = harness(Prefs::default());
    make_branches(&mut h);
    seek(&mut h, 2600.0);
    let third = engine(&mut h);
    let at = third.now();

    click_below(&mut h, "switch to branch 1");
    let main = engine(&mut h);
    let mut plain = Sim::new(&lesson(), &Options::default());
    plain.run_until(at);
    assert_eq!((main.now(), main.trace_hash()), (at, plain.trace_hash()));
    let cut = |sim: &Sim| sim.applied_faults().iter().any(|(_, f)| *f == cut_n1_n3());
    assert!(!cut(&main), "main never cut the link");

    click_below(&mut h, "switch to branch 2");
    let second = engine(&mut h);
    let mut by_hand = Sim::new(&lesson(), &Options::default());
    by_hand.run_until(SimTime::from_ms(1500.0));
    by_hand.apply(cut_n1_n3());
    by_hand.run_until(at);
    assert_eq!(second.trace_hash(), by_hand.trace_hash());
    assert!(cut(&second));

    click_below(&mut h, "switch to branch 3");
    let again = engine(&mut h);
    assert_eq!((again.now(), again.trace_hash()), (at, third.trace_hash()));
    assert_eq!(h.state_mut().frame().current_branch, 2);
}

#[test]
fn branches_can_be_renamed_and_deleted() {
    let mut h = harness(Prefs::default());
    make_branches(&mut h);
    click_below(&mut h, "rename branch 2");
    h.get_by_label("branch name").focus();
    h.run_steps(1);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.get_by_label("branch name").type_text("cut only");
    h.run_steps(2);
    click(&mut h, "ok");
    engine(&mut h);
    assert_eq!(names(&mut h)[1], "cut only");
    click_below(&mut h, "delete branch 1");
    engine(&mut h);
    let left = names(&mut h);
    assert_eq!(left.len(), 2, "{left:?}");
    assert_eq!(left[0], "cut only");
    assert_eq!(h.state_mut().frame().current_branch, 1);
}

#[test]
fn renders_the_branch_list() {
    for size in [[1280.0, 800.0], [1024.0, 768.0]] {
        let Some(renderer) = gpu_renderer("renders_the_branch_list") else {
            return;
        };
        let app = CapsimApp::new(&egui::Context::default(), lesson(), Prefs::default());
        let mut h = harness_sized(app, size, Some(renderer));
        make_branches(&mut h);
        seek(&mut h, 4000.0);
        h.get_by_label("switch to branch 1").scroll_to_me();
        h.remove_cursor();
        h.run_steps(30);
        let image = h.render().expect("render");
        assert_eq!(
            (image.width(), image.height()),
            (size[0] as u32, size[1] as u32)
        );
        let first = image.get_pixel(0, 0);
        assert!(image.pixels().filter(|p| *p != first).count() > 1000);
        save_screenshot(&image, &format!("branches-{}x{}.png", size[0], size[1]));
        // The "Apply from now" notes, with a change that cannot be made mid-run.
        h.get_by_role_and_label(egui::accesskit::Role::SpinButton, "nodes")
            .set_value_accesskit(6.0);
        h.get_by_role_and_label(egui::accesskit::Role::SpinButton, "read quorum R")
            .set_value_accesskit(2.0);
        h.run_steps(2);
        h.get_by_label("Apply from now (new branch)").scroll_to_me();
        h.run_steps(30);
        assert!(
            h.query_by_label_contains("cannot be changed during a run")
                .is_some()
        );
        let image = h.render().expect("render");
        save_screenshot(
            &image,
            &format!("branches-apply-{}x{}.png", size[0], size[1]),
        );
    }
}
