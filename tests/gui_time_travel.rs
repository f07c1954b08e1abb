//! Time travel in the Storage tab, driven through egui_kittest: load an account's history in
//! the bank lesson and walk its balance event by event, through the mistake and its
//! compensating event.
#![cfg(feature = "gui")]

mod gui_common;

use capsim::gui::app::Tab;
use capsim::gui::{CapsimApp, Command, Prefs};
use capsim::policy::event_log::domain::aggregate_at;
use capsim::sim::Sim;
use capsim::types::{NodeId, SimTime};
use eframe::egui;
use egui_kittest::kittest::Queryable;
use egui_kittest::wgpu::WgpuTestRenderer;
use gui_common::{SIZE, WAIT, harness_sized, load, save_screenshot, screenshot_dir};

fn bank() -> capsim::scenario::Scenario {
    load("scenarios/bank-compensating-event.ron")
}

#[test]
fn the_slider_shows_an_account_as_of_any_event() {
    let prefs = Prefs {
        tab: Tab::Storage,
        ..Prefs::default()
    };
    let mut app = CapsimApp::new(&egui::Context::default(), bank(), prefs);
    app.send(Command::Seek(SimTime::from_ms(2500.0)));
    assert!(app.wait_for_worker(WAIT));
    let shot_dir = screenshot_dir();
    let renderer = shot_dir.is_some().then(WgpuTestRenderer::new);
    let mut h = harness_sized(app, SIZE, renderer);
    h.get_by_role_and_label(egui::accesskit::Role::SpinButton, "account")
        .set_value_accesskit(2.0);
    h.run_steps(2);
    h.get_by_label("Load history").click();
    h.run_steps(3);
    // The newest step is selected: account 2 after its compensating event, as the write side
    // folds it.
    let sim = h.state_mut().snapshot(WAIT).expect("snapshot");
    let Sim::EventLog(e) = sim.as_ref() else {
        panic!("the bank lesson is event-sourced");
    };
    let log: Vec<_> = e
        .policy(NodeId(0))
        .writer()
        .unwrap()
        .log()
        .iter()
        .copied()
        .collect();
    let mine: Vec<_> = log.iter().filter(|x| x.key == 2).collect();
    let last = mine.last().expect("account 2 has events").offset;
    let balance = |upto| aggregate_at(&log, 2, upto).unwrap().balance;
    let shown = format!("account 2 after event #{last}: balance {}", balance(last));
    assert!(h.query_by_label(&shown).is_some(), "missing {shown:?}");
    // Back to just after the mistaken debit: 500 less than just before it.
    let mistake = mine
        .iter()
        .position(|x| x.body.name() == "mistaken debit")
        .expect("the lesson's mistake is in account 2's history");
    h.get_by_role_and_label(egui::accesskit::Role::Slider, "as of")
        .set_value_accesskit(mistake as f64);
    h.run_steps(2);
    let at = mine[mistake].offset;
    let before = mine[mistake - 1].offset;
    assert_eq!(balance(at), balance(before) - 500);
    let shown = format!("account 2 after event #{at}: balance {}", balance(at));
    assert!(h.query_by_label(&shown).is_some(), "missing {shown:?}");
    // For the README: CAPSIM_SCREENSHOT_DIR=assets renders the window (software wgpu).
    if shot_dir.is_some() {
        h.remove_cursor();
        h.run_steps(3);
        let image = h.render().expect("render");
        save_screenshot(&image, "screenshot-time-travel.png");
    }
}
