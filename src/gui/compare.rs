//! Compare mode (issue #8, "the CAP demo"): two configurations side by side on the same seed and
//! the same faults, time-locked, with their numbers and one plot.
//!
//! Each side runs in its own worker thread (the same `worker::Worker` the main view uses), so the
//! UI thread never simulates. Time-locking is done here: play, seek and "run to end" send the same
//! `Seek` to both workers, and playing only moves the shared target on once both have caught up.
//! Side A is the running scenario with the user's interventions written in as scheduled faults;
//! side B takes A's seed and faults (`crate::compare::match_faults`), so each side's numbers are
//! exactly those of `capsim run` of its matched scenario.

use super::dialog::{Answer, FileDialog, Purpose};
use super::worker::{Command, Frame, WorkerHandle};
use super::{cluster, compare_panels, palette};
use crate::compare::{Matched, match_faults, policy_label};
use crate::scenario::Scenario;
use crate::types::SimTime;
use eframe::egui::{self, RichText, Ui};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One side of the comparison: a worker thread running its scenario.
pub struct Side {
    /// "A" or "B".
    pub name: &'static str,
    /// Policy and key settings, e.g. "Raft, ReadIndex reads (CP)".
    pub label: String,
    worker: WorkerHandle,
}

impl Side {
    fn spawn(name: &'static str, scenario: Scenario, ctx: &egui::Context) -> Side {
        let label = policy_label(&scenario);
        let repaint_ctx = ctx.clone();
        let worker = WorkerHandle::spawn(scenario, Box::new(move || repaint_ctx.request_repaint()));
        Side {
            name,
            label,
            worker,
        }
    }

    fn send(&mut self, cmd: Command) {
        self.worker.send(cmd);
    }

    /// The latest frame this side's worker published.
    pub fn frame(&mut self) -> Arc<Frame> {
        self.worker.frame()
    }

    /// Whether the worker has handled every command and finished its seek.
    fn idle(&mut self) -> bool {
        self.worker.idle()
    }
}

/// A running comparison.
pub struct CompareRun {
    pub sides: [Side; 2],
    /// What had to change to make the sides comparable (shown above the views).
    pub notes: Vec<String>,
    /// What both sides share: the seed and the faults.
    shared: String,
    playing: bool,
    /// The simulated time both sides are driven to.
    target: SimTime,
    /// Simulated microseconds per real second, as a power of ten (as in the time line).
    speed_log10: f64,
    last_tick: Option<Instant>,
}

impl CompareRun {
    fn new(m: Matched, ctx: &egui::Context) -> CompareRun {
        let shared = format!(
            "Same seed ({}) and same faults on both sides: {} scheduled, {} random.",
            m.a.seed,
            m.a.faults.len(),
            m.a.random_faults.len()
        );
        CompareRun {
            shared,
            sides: [Side::spawn("A", m.a, ctx), Side::spawn("B", m.b, ctx)],
            notes: m.notes,
            playing: false,
            target: SimTime::ZERO,
            speed_log10: 5.0,
            last_tick: None,
        }
    }

    /// Drives both sides to `t` (a rewind or a jump forward).
    pub fn seek(&mut self, t: SimTime) {
        self.target = t;
        for s in &mut self.sides {
            s.send(Command::Seek(t));
        }
    }

    /// Both sides to their end.
    pub fn run_to_end(&mut self) {
        self.playing = false;
        self.seek(SimTime::MAX);
    }

    /// Both workers have handled everything sent and neither is still seeking.
    pub fn idle(&mut self) -> bool {
        let [a, b] = &mut self.sides;
        a.idle() && b.idle()
    }

    /// The later of the two sides' ends (or planned ends while running).
    fn horizon(&mut self) -> SimTime {
        let [a, b] = &mut self.sides;
        a.frame().horizon.max(b.frame().horizon)
    }

    fn both_done(&mut self) -> bool {
        self.sides
            .iter_mut()
            .all(|s| s.frame().phase == crate::engine::Phase::Done)
    }

    /// While playing: move the shared target on by speed × real time, once both sides are there.
    fn tick(&mut self, ctx: &egui::Context) {
        if !self.playing {
            self.last_tick = None;
            return;
        }
        let now = Instant::now();
        let dt = self
            .last_tick
            .map_or(0.0, |t| now.duration_since(t).as_secs_f64().min(0.25));
        self.last_tick = Some(now);
        ctx.request_repaint_after(Duration::from_millis(16));
        if !self.idle() {
            return; // the slower side sets the pace
        }
        if self.both_done() {
            self.playing = false;
            return;
        }
        let step = (10f64.powf(self.speed_log10) * dt) as u64;
        let t = self.target.saturating_add(step);
        self.seek(t);
    }
}

/// Compare mode's state in the app: the setup window and, once started, the running comparison.
#[derive(Default)]
pub struct CompareView {
    /// The "Compare…" window is open.
    pub setup_open: bool,
    /// Side B's scenario file.
    pub path: String,
    message: Option<String>,
    dialog: FileDialog,
    pub run: Option<CompareRun>,
}

impl CompareView {
    /// Starts comparing the running scenario (with the session's interventions) against `b`.
    pub fn start(&mut self, ctx: &egui::Context, f: &Frame, b: &Scenario) -> Result<(), String> {
        let (a, skipped) = super::editor::scenario_with_interventions(f);
        let mut m = match_faults(&a, b).map_err(|e| e.to_string())?;
        if skipped > 0 {
            m.notes.push(format!(
                "{skipped} of your actions have no scenario form and are left out"
            ));
        }
        self.run = Some(CompareRun::new(m, ctx));
        self.setup_open = false;
        self.message = None;
        Ok(())
    }

    /// The setup window's last error (a file that does not load, faults B cannot take).
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }

    /// Whether compare mode has the window (the main view's keys then go to it).
    pub fn is_on(&self) -> bool {
        self.run.is_some()
    }

    /// Whether both sides have caught up (always true when not comparing).
    pub fn idle(&mut self) -> bool {
        self.run.as_mut().is_none_or(CompareRun::idle)
    }

    /// Draws compare mode; true when it takes the window (the normal panels are then skipped).
    /// `edited` is the Policy tab's draft (`None` until the tab was opened: then it is the open
    /// scenario itself).
    pub fn show(&mut self, ui: &mut Ui, f: &Frame, edited: Option<&Scenario>) -> bool {
        self.setup_window(ui.ctx(), f, edited.unwrap_or(&f.scenario));
        let Some(run) = &mut self.run else {
            return false;
        };
        keys(ui.ctx(), run);
        run.tick(ui.ctx());
        let mut close = false;
        egui::CentralPanel::default_margins().show(ui, |ui| {
            close = compare_ui(ui, run);
        });
        if close {
            self.run = None;
        }
        true
    }

    /// The "Compare…" window: choose side B (a file, or the policy editor's draft).
    fn setup_window(&mut self, ctx: &egui::Context, f: &Frame, edited: &Scenario) {
        let mut open = self.setup_open;
        let mut chosen: Option<Result<Scenario, String>> = None;
        egui::Window::new("Compare two configurations")
            .open(&mut open)
            .collapsible(false)
            .default_width(440.0)
            .show(ctx, |ui| chosen = self.setup_ui(ui, edited));
        self.setup_open = open;
        if let Some(answer) = self.dialog.poll() {
            match answer {
                Answer::Chosen(_, path) => {
                    self.path = path.display().to_string();
                    chosen = Some(read(&self.path));
                }
                Answer::Nothing(p) => self.message = Some(super::dialog::nothing_chosen(p)),
            }
        }
        match chosen {
            Some(Ok(b)) => {
                if let Err(e) = self.start(ctx, f, &b) {
                    self.message = Some(e);
                    self.setup_open = true;
                }
            }
            Some(Err(e)) => self.message = Some(e),
            None => {}
        }
    }

    fn setup_ui(&mut self, ui: &mut Ui, edited: &Scenario) -> Option<Result<Scenario, String>> {
        ui.label(
            "Side A is the scenario running now, with your interventions. Side B runs on A's \
             seed and A's faults (its own schedule is replaced); its network, policy and \
             workload are its own.",
        );
        ui.separator();
        let mut chosen = None;
        ui.horizontal(|ui| {
            ui.label("side B file");
            ui.add(egui::TextEdit::singleline(&mut self.path).desired_width(240.0))
                .accessible_name("side B path");
        });
        ui.horizontal_wrapped(|ui| {
            if ui.button("Compare with this file").clicked() {
                chosen = Some(read(self.path.trim()));
            }
            let idle = !self.dialog.is_open();
            if ui.add_enabled(idle, egui::Button::new("Browse…")).clicked() {
                self.dialog.open(Purpose::Open, Some("scenarios".into()));
            }
            if !idle {
                ui.spinner();
                ui.ctx().request_repaint_after(Duration::from_millis(100));
            }
        });
        let tip = "Side B is the open scenario with the Policy tab's changes, applied or not \
                   (without changes both sides are the same)";
        if ui
            .button("Compare with the edited policy")
            .on_hover_text(tip)
            .clicked()
        {
            chosen = Some(Ok(edited.clone()));
        }
        if let Some(msg) = &self.message {
            ui.label(RichText::new(msg).color(palette::VERMILLION));
        }
        chosen
    }
}

/// Space plays or pauses both sides, Home goes back to the start (the main view's keys).
fn keys(ctx: &egui::Context, run: &mut CompareRun) {
    if ctx.egui_wants_keyboard_input() {
        return;
    }
    let pressed = |k| ctx.input_mut(|i| i.consume_key(egui::Modifiers::NONE, k));
    if pressed(egui::Key::Space) {
        run.playing = !run.playing;
    }
    if pressed(egui::Key::Home) {
        run.playing = false;
        run.seek(SimTime::ZERO);
    }
}

fn read(path: &str) -> Result<Scenario, String> {
    if path.is_empty() {
        return Err("type the path of side B's scenario file first".into());
    }
    crate::io::read_scenario(std::path::Path::new(path)).map_err(|e| e.to_string())
}

/// The whole compare view; true when the user closed it.
fn compare_ui(ui: &mut Ui, run: &mut CompareRun) -> bool {
    let close = controls_ui(ui, run);
    ui.weak(&run.shared);
    for note in &run.notes {
        ui.label(RichText::new(format!("Note: {note}")).color(palette::ORANGE));
    }
    let [a, b] = &mut run.sides;
    let frames = [a.frame(), b.frame()];
    let views_h = (ui.available_height() * 0.42).clamp(170.0, 300.0);
    ui.columns(2, |cols| {
        for (i, col) in cols.iter_mut().enumerate() {
            let side = &run.sides[i];
            side_header_ui(col, side, &frames[i]);
            let w = col.available_width();
            cluster::compact_cluster_ui(col, &frames[i], egui::vec2(w, views_h));
        }
    });
    ui.separator();
    compare_panels::numbers_and_plot_ui(ui, &frames);
    close
}

fn side_header_ui(ui: &mut Ui, side: &Side, f: &Frame) {
    let color = compare_panels::side_color(side.name);
    ui.horizontal_wrapped(|ui| {
        ui.label(
            RichText::new(format!("{}: {}", side.name, side.label))
                .strong()
                .size(16.0)
                .color(color),
        );
    });
    ui.weak(&f.scenario.title);
}

/// Play / pause, start, run to end, speed and the shared time; true when "Close" was clicked.
fn controls_ui(ui: &mut Ui, run: &mut CompareRun) -> bool {
    let mut close = false;
    let horizon_ms = run.horizon().as_ms();
    let [a, b] = &mut run.sides;
    let (ta, tb) = (a.frame().now, b.frame().now);
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new("Compare").strong().size(16.0));
        let play = if run.playing { "⏸ Pause" } else { "▶ Play" };
        if ui
            .button(play)
            .on_hover_text("Plays both sides, time-locked")
            .clicked()
        {
            run.playing = !run.playing;
        }
        if ui.button("⏮ Start").clicked() {
            run.playing = false;
            run.seek(SimTime::ZERO);
        }
        if ui.button("Run to end ⏭").clicked() {
            run.run_to_end();
        }
        ui.add(
            egui::Slider::new(&mut run.speed_log10, 3.0..=7.0)
                .show_value(false)
                .text("speed"),
        );
        let mut t_ms = ta.min(tb).as_ms();
        let slider = egui::Slider::new(&mut t_ms, 0.0..=horizon_ms.max(1.0))
            .show_value(false)
            .text("time");
        if ui.add(slider).changed() {
            run.playing = false;
            run.seek(SimTime::from_ms(t_ms));
        }
        ui.monospace(time_text(ta, tb));
        if ui.button("✖ Close compare").clicked() {
            close = true;
        }
    });
    close
}

/// "t = 4.20 s", or both times while one side has ended earlier than the other.
fn time_text(a: SimTime, b: SimTime) -> String {
    if a == b {
        format!("t = {:.2} s", a.as_ms() / 1000.0)
    } else {
        format!(
            "t = A {:.2} s · B {:.2} s",
            a.as_ms() / 1000.0,
            b.as_ms() / 1000.0
        )
    }
}
