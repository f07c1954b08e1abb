//! Helpers shared by the GUI tests (tests/gui_*.rs): the app in an egui_kittest harness, waiting
//! for its worker thread, clicks by label or position, and the optional GPU renderer.
//! Only the GUI test files (all `#![cfg(feature = "gui")]`) declare this module.
#![allow(dead_code)] // each test binary uses a different subset

use capsim::gui::{CapsimApp, Prefs};
use capsim::scenario::Scenario;
use capsim::sim::Sim;
use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use egui_kittest::wgpu::WgpuTestRenderer;
use std::time::Duration;

/// How long a test waits for a worker thread to answer before failing. A bound, not a timing
/// assertion: generous because the tests share the machine with each other and with builds.
pub const WAIT: Duration = Duration::from_secs(60);

/// The window size the tests draw the app at.
pub const SIZE: [f32; 2] = [1280.0, 800.0];

/// A scenario file, relative to the crate root (where `cargo test` runs).
pub fn load(path: &str) -> Scenario {
    capsim::io::read_scenario(std::path::Path::new(path)).unwrap()
}

/// The default lesson: a quorum store whose network splits at 2 s.
pub fn lesson() -> Scenario {
    load("scenarios/quorum-partition.ron")
}

/// The default lesson in the app, with its first frames drawn.
pub fn harness(prefs: Prefs) -> Harness<'static, CapsimApp> {
    harness_of(CapsimApp::new(&egui::Context::default(), lesson(), prefs))
}

/// `app` in a harness of [`SIZE`], with its first frames drawn.
pub fn harness_of(app: CapsimApp) -> Harness<'static, CapsimApp> {
    harness_sized(app, SIZE, None)
}

/// `app` in a harness of `size`, drawn by `renderer` if given, with its first frames drawn.
pub fn harness_sized(
    app: CapsimApp,
    size: [f32; 2],
    renderer: Option<WgpuTestRenderer>,
) -> Harness<'static, CapsimApp> {
    let mut b = Harness::builder().with_size(size);
    if let Some(r) = renderer {
        b = b.renderer(r);
    }
    let mut h = b.build_ui_state(|ui, app: &mut CapsimApp| app.ui_root(ui), app);
    h.run_steps(2);
    h
}

/// A wgpu renderer for a test that draws pixels. Without a GPU adapter (software Vulkan is
/// fine) it says that `test` is skipped and returns `None`, unless CAPSIM_REQUIRE_DISPLAY=1
/// makes that a failure.
pub fn gpu_renderer(test: &str) -> Option<WgpuTestRenderer> {
    match std::panic::catch_unwind(WgpuTestRenderer::new) {
        Ok(renderer) => Some(renderer),
        Err(_) => {
            if std::env::var("CAPSIM_REQUIRE_DISPLAY").is_ok_and(|v| v == "1") {
                panic!("no GPU adapter (CAPSIM_REQUIRE_DISPLAY=1)");
            }
            eprintln!("skipping {test}: no GPU adapter for wgpu");
            None
        }
    }
}

/// Where CAPSIM_SCREENSHOT_DIR asks pictures to be written (the README's come from there).
pub fn screenshot_dir() -> Option<String> {
    std::env::var("CAPSIM_SCREENSHOT_DIR").ok()
}

/// Saves `image` as `name` in CAPSIM_SCREENSHOT_DIR, if that is set.
pub fn save_screenshot(image: &image::RgbaImage, name: &str) {
    if let Some(dir) = screenshot_dir() {
        image.save(std::path::Path::new(&dir).join(name)).unwrap();
    }
}

/// A directory of its own for one test's files (the tests of a file run in parallel in one
/// process; each removes its directory at the end).
pub fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("capsim-gui-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Lets the worker handle what the UI sent, then returns its simulation.
pub fn engine(h: &mut Harness<'_, CapsimApp>) -> Box<Sim> {
    h.run_steps(1);
    let app = h.state_mut();
    assert!(app.wait_for_worker(WAIT), "the worker did not answer");
    let sim = app.snapshot(WAIT).expect("snapshot");
    h.run_steps(2); // draw the new frame
    sim
}

/// Lets the worker handle what the UI sent, then draws its newest frame.
pub fn settle(h: &mut Harness<'_, CapsimApp>) {
    h.run_steps(1);
    assert!(
        h.state_mut().wait_for_worker(WAIT),
        "the worker did not answer"
    );
    h.run_steps(3);
}

/// Moves the time line to `ms` and waits for the worker to get there.
pub fn seek(h: &mut Harness<'_, CapsimApp>, ms: f64) {
    h.get_by_label("time").set_value_accesskit(ms);
    settle(h);
}

/// Moves the time line to `ms` and draws two frames, without waiting for the worker.
pub fn set_time(h: &mut Harness<'_, CapsimApp>, ms: f64) {
    h.get_by_label("time").set_value_accesskit(ms);
    h.run_steps(2);
}

pub fn click(h: &mut Harness<'_, CapsimApp>, label: &str) {
    h.get_by_label(label).click();
    h.run_steps(2);
}

/// Clicks a widget that may be scrolled out of view first.
pub fn click_below(h: &mut Harness<'_, CapsimApp>, label: &str) {
    h.get_by_label(label).scroll_to_me();
    h.run_steps(30); // let the scroll animation finish before clicking where the widget is
    click(h, label);
}

/// Types `text` into the (empty) text field labelled `label`, scrolling to it first.
pub fn type_below(h: &mut Harness<'_, CapsimApp>, label: &str, text: &str) {
    h.get_by_label(label).scroll_to_me();
    h.run_steps(30);
    h.get_by_label(label).focus();
    h.run_steps(1);
    h.get_by_label(label).type_text(text);
    h.run_steps(2);
}

/// A left click at `pos` by hand: move there, then press and release in separate frames (a
/// plot senses drags too, so a press and release in one frame would not be a click there).
pub fn click_at(h: &mut Harness<'_, CapsimApp>, pos: egui::Pos2) {
    h.event(egui::Event::PointerMoved(pos));
    h.run_steps(1);
    for pressed in [true, false] {
        h.event(egui::Event::PointerButton {
            pos,
            button: egui::PointerButton::Primary,
            pressed,
            modifiers: egui::Modifiers::default(),
        });
        h.run_steps(1);
    }
}
