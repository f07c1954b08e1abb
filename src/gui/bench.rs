//! `capsim --bench-frames N`: how long the UI takes to draw one frame.
//!
//! It measures the UI thread's work for a frame without a window: `CapsimApp::ui_root` (layout,
//! the cluster view with every message in flight, the side tab) plus egui's tessellation of the
//! result into triangles. What it leaves out is uploading those triangles and rasterising them,
//! which a GPU does. The simulation runs on its own thread as in the app; the bench first seeks
//! to `--until-ms`, then draws N frames paused and N frames playing in slow motion (so every
//! frame has new message positions and a new `Frame` from the worker).

use super::app::{CapsimApp, Prefs, Tab};
use super::worker::{Command, Speed};
use crate::scenario::Scenario;
use crate::types::SimTime;
use eframe::egui;
use std::time::{Duration, Instant};

/// What to measure.
pub struct BenchFrames {
    pub scenario: Scenario,
    pub until_ms: f64,
    pub frames: usize,
    pub size: [f32; 2],
    pub tab: Tab,
    /// The central view (`--view`): the cluster or the space-time diagram.
    pub view: super::app::View,
}

/// Frame times of one phase, in milliseconds, plus the fewest and most messages in flight seen.
pub struct Phase {
    pub name: &'static str,
    pub times_ms: Vec<f64>,
    pub messages: (usize, usize),
}

/// Frames drawn before measuring (font atlas, first layouts).
const WARM_UP: usize = 20;

pub fn run(b: BenchFrames) -> Result<Vec<Phase>, String> {
    let ctx = egui::Context::default();
    let prefs = Prefs {
        tab: b.tab,
        view: b.view,
        ..Prefs::default()
    };
    let mut app = CapsimApp::new(&ctx, b.scenario, prefs);
    app.send(Command::Seek(SimTime::from_ms(b.until_ms)));
    if !app.wait_for_worker(Duration::from_secs(600)) {
        return Err("the simulation did not reach --until-ms in 10 minutes".into());
    }
    let mut clock = FrameClock::new(b.size);
    for _ in 0..WARM_UP {
        clock.draw(&ctx, &mut app);
    }
    let paused = measure(&ctx, &mut app, &mut clock, "paused", b.frames);
    // 1 ms of simulated time per real second: the picture moves but the run stays where it is.
    app.send(Command::SetSpeed(Speed::SimUsPerSec(1_000.0)));
    app.send(Command::Play);
    let playing = measure(&ctx, &mut app, &mut clock, "playing", b.frames);
    app.send(Command::Pause);
    Ok(vec![paused, playing])
}

fn measure(
    ctx: &egui::Context,
    app: &mut CapsimApp,
    clock: &mut FrameClock,
    name: &'static str,
    frames: usize,
) -> Phase {
    let mut times_ms = Vec::with_capacity(frames);
    let mut messages = (usize::MAX, 0);
    for _ in 0..frames {
        let n = app.frame().messages.len();
        messages = (messages.0.min(n), messages.1.max(n));
        times_ms.push(clock.draw(ctx, app));
    }
    Phase {
        name,
        times_ms,
        messages,
    }
}

/// Feeds egui the input of a window of a fixed size at 60 frames per second.
struct FrameClock {
    size: [f32; 2],
    time_s: f64,
}

impl FrameClock {
    fn new(size: [f32; 2]) -> FrameClock {
        FrameClock { size, time_s: 0.0 }
    }

    /// Draws one frame; returns the milliseconds it took (UI code plus tessellation).
    fn draw(&mut self, ctx: &egui::Context, app: &mut CapsimApp) -> f64 {
        self.time_s += 1.0 / 60.0;
        let input = egui::RawInput {
            screen_rect: Some(egui::Rect::from_min_size(
                egui::Pos2::ZERO,
                egui::vec2(self.size[0], self.size[1]),
            )),
            time: Some(self.time_s),
            predicted_dt: 1.0 / 60.0,
            ..Default::default()
        };
        let start = Instant::now();
        let mut out = ctx.run_ui(input, |ui| app.ui_root(ui));
        let shapes = std::mem::take(&mut out.shapes);
        let primitives = ctx.tessellate(shapes, out.pixels_per_point);
        let took = start.elapsed().as_secs_f64() * 1000.0;
        std::hint::black_box(primitives);
        out.drop_without_applying_deltas();
        took
    }
}

/// min / median / p99 / max of a phase, one line.
pub fn summary(p: &Phase) -> String {
    let mut t = p.times_ms.clone();
    t.sort_by(f64::total_cmp);
    let at = |q: f64| t[((t.len() - 1) as f64 * q).round() as usize];
    format!(
        "{:8} {} frames, {}..{} messages in flight: min {:.2} ms, median {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        p.name,
        t.len(),
        p.messages.0,
        p.messages.1,
        t[0],
        at(0.5),
        at(0.99),
        t[t.len() - 1]
    )
}
