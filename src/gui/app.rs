//! The eframe app: lays out the panels, turns clicks and keys into commands for the worker, and
//! draws the latest frame.

use super::cluster::{self, ClusterState};
use super::compare::CompareView;
use super::editor::{self, EditorState};
use super::exports::{self, ExportsState};
use super::inspect::{self, InspectState};
use super::log::{self, LogState};
use super::presenter::{self, PresenterState};
use super::spacetime::{self, SpaceTimeState};
use super::timeline::{self, TimelineState};
use super::worker::{Command, Frame, WorkerHandle};
use super::{palette, plots, storage};
use crate::scenario::Scenario;
use crate::sim::Sim;
use eframe::egui::{self, Key, Modifiers, RichText, Ui};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Tab {
    Log,
    Plots,
    Inspect,
    Storage,
    Policy,
}

impl Tab {
    pub fn parse(name: &str) -> Option<Tab> {
        Some(match name {
            "log" => Tab::Log,
            "plots" => Tab::Plots,
            "inspect" => Tab::Inspect,
            "storage" => Tab::Storage,
            "policy" => Tab::Policy,
            _ => return None,
        })
    }
}

/// What the central panel shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum View {
    #[default]
    Cluster,
    SpaceTime,
}

impl View {
    pub fn parse(name: &str) -> Option<View> {
        Some(match name {
            "cluster" => View::Cluster,
            "spacetime" => View::SpaceTime,
            _ => return None,
        })
    }
}

/// Settings kept between sessions (eframe persistence).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Prefs {
    pub dark: bool,
    pub zoom: f32,
    pub tab: Tab,
    /// Scenario files opened or saved, newest first (the Policy tab's "Recent" list).
    #[serde(default)]
    pub recent: Vec<String>,
    /// The central view: the cluster or the space-time diagram.
    #[serde(default)]
    pub view: View,
}

impl Default for Prefs {
    fn default() -> Self {
        Prefs {
            dark: true,
            zoom: 1.0,
            tab: Tab::Log,
            recent: Vec::new(),
            view: View::Cluster,
        }
    }
}

pub struct CapsimApp {
    worker: WorkerHandle,
    pub prefs: Prefs,
    cluster: ClusterState,
    timeline: TimelineState,
    log: LogState,
    inspect: InspectState,
    storage: storage::StorageState,
    editor: EditorState,
    /// Compare mode (two configurations side by side); public for tests and `--compare`.
    pub compare: CompareView,
    /// The space-time diagram (its `highlight` is for the why-stale helper).
    pub spacetime: SpaceTimeState,
    pub presenter: PresenterState,
    pub exports: ExportsState,
    /// Presenter mode to switch to on the next frame (after the saved zoom is applied).
    presenter_pending: Option<bool>,
    /// Whether presenter mode was on last frame (entering it turns pause-on-anomaly on).
    presenter_was_on: bool,
    inspecting: bool,
    help_open: bool,
    applied_prefs: bool,
    why: super::why::WhyState,
}

impl CapsimApp {
    /// Starts the simulation thread for `scenario`; `ctx` is repainted whenever a frame arrives.
    pub fn new(ctx: &egui::Context, scenario: Scenario, prefs: Prefs) -> CapsimApp {
        let repaint_ctx = ctx.clone();
        let worker = WorkerHandle::spawn(scenario, Box::new(move || repaint_ctx.request_repaint()));
        CapsimApp {
            worker,
            prefs,
            cluster: ClusterState::default(),
            timeline: TimelineState::default(),
            log: LogState::default(),
            inspect: InspectState::default(),
            storage: storage::StorageState::default(),
            editor: EditorState::default(),
            compare: CompareView::default(),
            spacetime: SpaceTimeState::default(),
            presenter: PresenterState::default(),
            exports: ExportsState::default(),
            presenter_pending: None,
            presenter_was_on: false,
            inspecting: false,
            help_open: false,
            applied_prefs: false,
            why: Default::default(),
        }
    }

    /// Commands sent so far (the worker's frames count those it handled).
    pub fn sent(&self) -> u64 {
        self.worker.sent()
    }

    pub fn send(&mut self, cmd: Command) {
        self.worker.send(cmd);
    }

    /// The latest frame the worker published.
    pub fn frame(&mut self) -> Arc<Frame> {
        self.worker.frame()
    }

    /// Waits until the worker has handled every command sent so far (tests and screenshots).
    pub fn wait_for_worker(&mut self, timeout: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if self.worker.idle() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        false
    }

    /// A copy of the simulation as the worker has it now.
    pub fn snapshot(&mut self, timeout: Duration) -> Option<Box<Sim>> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        self.send(Command::Snapshot(tx));
        rx.recv_timeout(timeout).ok()
    }

    /// Turns presenter mode on or off from the next frame (`--presenter`, tests).
    /// Presenter mode pauses at each anomaly (the class is asked what went wrong before "Reveal
    /// why"); leaving it stops doing so. The timeline's checkbox still overrides either way.
    fn pause_on_anomaly_with_presenter(&mut self) {
        let on = self.presenter.on;
        if on != self.presenter_was_on {
            self.presenter_was_on = on;
            self.send(Command::SetPauseOnAnomaly(on));
        }
    }

    pub fn set_presenter(&mut self, on: bool) {
        self.presenter_pending = Some(on);
    }

    fn apply_prefs(&mut self, ctx: &egui::Context) {
        if !self.applied_prefs {
            self.applied_prefs = true;
            // Starting in presenter mode sets the zoom once, below. Two settings in one frame
            // would keep the first: egui compares a new zoom with the one in effect, not with
            // one still pending.
            if self.presenter_pending != Some(true) {
                ctx.set_zoom_factor(self.prefs.zoom);
            }
            ctx.set_fonts(fonts());
        }
        let theme = if self.prefs.dark {
            egui::ThemePreference::Dark
        } else {
            egui::ThemePreference::Light
        };
        ctx.set_theme(theme);
        if let Some(on) = self.presenter_pending.take()
            && on != self.presenter.on
        {
            self.presenter.toggle(ctx, self.prefs.zoom);
        }
        if !self.presenter.on {
            // Presenter mode's zoom is not the user's preference.
            self.prefs.zoom = ctx.zoom_factor();
        }
    }

    /// Keyboard shortcuts (see `timeline::SHORTCUTS`), taken before widgets see the keys.
    fn shortcuts(&mut self, ctx: &egui::Context) {
        if ctx.egui_wants_keyboard_input() {
            return;
        }
        let pressed = |k| ctx.input_mut(|i| i.consume_key(Modifiers::NONE, k));
        let mut cmds = Vec::new();
        if pressed(Key::Space) {
            cmds.push(Command::TogglePlay);
        }
        if pressed(Key::ArrowRight) {
            cmds.push(Command::StepEvent);
        }
        if pressed(Key::ArrowLeft) {
            cmds.push(Command::StepBack);
        }
        if pressed(Key::N) {
            cmds.push(Command::StepInteresting);
        }
        if pressed(Key::Home) {
            cmds.push(Command::Seek(crate::types::SimTime::ZERO));
        }
        let faster = pressed(Key::CloseBracket);
        let slower = pressed(Key::OpenBracket);
        if pressed(Key::F1) {
            self.help_open = !self.help_open;
        }
        if pressed(Key::F5) {
            self.presenter.toggle(ctx, self.prefs.zoom);
        }
        if faster || slower {
            let t = &mut self.timeline;
            t.speed_log10 = (t.speed_log10 + if faster { 0.5 } else { -0.5 }).clamp(0.0, 7.0);
            cmds.push(Command::SetSpeed(t.speed()));
        }
        for c in cmds {
            self.send(c);
        }
    }

    /// The whole window. eframe calls this through `App::ui`; tests call it through kittest.
    pub fn ui_root(&mut self, ui: &mut Ui) {
        let ctx = ui.ctx().clone();
        self.apply_prefs(&ctx);
        if !self.compare.is_on() {
            self.shortcuts(&ctx);
        }
        let f = self.frame();
        let mut out = Vec::new();
        egui::Panel::top("top").show(ui, |ui| self.top_bar_ui(ui, &f));
        self.pause_on_anomaly_with_presenter();
        if self.compare.show(ui, &f, self.editor.draft()) {
            if f.playing {
                self.send(Command::Pause); // the hidden main view need not run meanwhile
            }
            self.help_ui(&ctx);
            return;
        }
        egui::Panel::bottom("timeline").show(ui, |ui| {
            timeline::timeline_ui(ui, &f, &mut self.timeline, &mut out)
        });
        let side_width = (ui.available_width() * 0.36).clamp(300.0, 460.0);
        // Presenter mode's side panel is its own, so it opens at the width that suits its zoom.
        let side = if self.presenter.settled() {
            "side-present"
        } else {
            "side"
        };
        let mut side_panel = egui::Panel::right(side)
            .resizable(true)
            .default_size(side_width)
            .min_size(280.0);
        if self.presenter.settled() {
            // The log's long lines would widen it past half of a zoomed-in window.
            side_panel = side_panel.max_size((ui.available_width() * 0.42).max(280.0));
        }
        side_panel.show(ui, |ui| self.side_ui(ui, &f, &mut out));
        super::why::why_ui(ui, &f, &mut self.why, &mut out);
        let central = egui::CentralPanel::default_margins().show(ui, |ui| {
            ui.horizontal(|ui| {
                ui.selectable_value(&mut self.prefs.view, View::Cluster, "Cluster");
                ui.selectable_value(&mut self.prefs.view, View::SpaceTime, "Space-time")
                    .on_hover_text("Lanes and arrows: every message of the last moments");
            });
            report_strip_ui(ui, &f);
            match self.prefs.view {
                View::Cluster => cluster::cluster_ui(ui, &f, &mut self.cluster, &mut out),
                View::SpaceTime => {
                    // The explanation on show outlines its messages here as in the cluster.
                    self.spacetime.highlight = f
                        .highlight()
                        .map(|h| h.messages.clone())
                        .unwrap_or_default();
                    spacetime::spacetime_ui(ui, &f, &mut self.spacetime)
                }
            }
        });
        self.help_ui(&ctx);
        presenter::notes_ui(&ctx, &f, &mut self.presenter, central.response.rect);
        let window = spacetime::window(f.now, self.spacetime.span_ms);
        exports::exports_ui(&ctx, &f, &mut self.exports, window);
        for c in out {
            self.send(c);
        }
    }

    fn top_bar_ui(&mut self, ui: &mut Ui, f: &Frame) {
        ui.horizontal(|ui| {
            ui.label(RichText::new("capsim").strong().size(18.0));
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                if ui
                    .button("Help")
                    .on_hover_text("Keyboard shortcuts (F1)")
                    .clicked()
                {
                    self.help_open = !self.help_open;
                }
                if ui
                    .button("Compare…")
                    .on_hover_text("Run a second configuration side by side, same seed and faults")
                    .clicked()
                {
                    self.compare.setup_open = true;
                }
                if ui
                    .selectable_label(self.presenter.on, "Present")
                    .on_hover_text("Presenter mode: big, high contrast, speaker notes (F5)")
                    .clicked()
                {
                    self.presenter.toggle(ui.ctx(), self.prefs.zoom);
                }
                if ui
                    .button("Export")
                    .on_hover_text("PNG, SVG, CSV and JSONL files for slides")
                    .clicked()
                {
                    self.exports.open = !self.exports.open;
                }
                let theme = if self.prefs.dark {
                    "☀ Light"
                } else {
                    "🌙 Dark"
                };
                if ui
                    .button(theme)
                    .on_hover_text("Switch light / dark theme")
                    .clicked()
                {
                    self.prefs.dark = !self.prefs.dark;
                }
                if ui.button("A+").on_hover_text("Bigger (Ctrl +)").clicked() {
                    ui.ctx()
                        .set_zoom_factor((ui.ctx().zoom_factor() + 0.1).min(3.0));
                }
                if ui.button("A−").on_hover_text("Smaller (Ctrl −)").clicked() {
                    ui.ctx()
                        .set_zoom_factor((ui.ctx().zoom_factor() - 0.1).max(0.5));
                }
                // The title takes what the buttons leave, cut short with "…" (full on hover):
                // a long lesson title under presenter zoom ran under the buttons.
                ui.with_layout(egui::Layout::left_to_right(egui::Align::Center), |ui| {
                    title_ui(ui, f);
                });
            });
        });
    }

    fn side_ui(&mut self, ui: &mut Ui, f: &Frame, out: &mut Vec<Command>) {
        if self.presenter.on && self.prefs.tab == Tab::Policy {
            self.prefs.tab = Tab::Log; // no editing while presenting
        }
        let presenting = self.presenter.on;
        ui.horizontal(|ui| {
            for (tab, name) in [
                (Tab::Log, "Event log"),
                (Tab::Plots, "Plots"),
                (Tab::Inspect, "Inspect"),
                (Tab::Storage, "Storage"),
                (Tab::Policy, "Policy"),
            ] {
                if presenting && tab == Tab::Policy {
                    continue;
                }
                ui.selectable_value(&mut self.prefs.tab, tab, name);
            }
        });
        ui.separator();
        let want_inspect = self.prefs.tab == Tab::Inspect;
        if want_inspect != self.inspecting {
            self.inspecting = want_inspect;
            out.push(Command::SetInspect(want_inspect));
        }
        match self.prefs.tab {
            Tab::Log => log::log_ui(ui, f, &mut self.log, out),
            Tab::Plots => plots::plots_ui(ui, f, out),
            Tab::Inspect => inspect::inspect_ui(ui, f, &mut self.inspect),
            Tab::Storage => {
                storage::storage_ui(ui, f, &mut self.storage);
                self.load_time_travel(f.steps);
            }
            Tab::Policy => editor::editor_ui(ui, f, &mut self.editor, &mut self.prefs.recent, out),
        }
    }

    /// Loads the history the time-travel panel asked for, from a copy of the simulation.
    fn load_time_travel(&mut self, sim_steps: u64) {
        let Some(key) = self.storage.travel.request.take() else {
            return;
        };
        if let Some(steps) = self
            .snapshot(Duration::from_secs(5))
            .and_then(|sim| sim.time_travel(key))
        {
            self.storage.travel.set(key, sim_steps, steps);
        }
    }

    fn help_ui(&mut self, ctx: &egui::Context) {
        let mut open = self.help_open;
        egui::Window::new("Help")
            .open(&mut open)
            .collapsible(false)
            .show(ctx, |ui| {
                ui.label("Click a node to crash, restart, pause or resume it.");
                ui.label("Click the dot in the middle of a link to cut or heal it.");
                ui.label("The ✂ Partition tool cuts a group of nodes off from the rest.");
                ui.separator();
                egui::Grid::new("keys").show(ui, |ui| {
                    for (k, what) in timeline::SHORTCUTS {
                        ui.monospace(*k);
                        ui.label(*what);
                        ui.end_row();
                    }
                });
            });
        self.help_open = open;
    }
}

/// egui's fonts, with the monospace font (which has arrows and maths symbols: → ↔ ≠ −) as a
/// fallback for proportional text.
pub fn fonts() -> egui::FontDefinitions {
    let mut defs = egui::FontDefinitions::default();
    if let Some(family) = defs.families.get_mut(&egui::FontFamily::Proportional) {
        family.insert(1, "Hack".to_owned());
    }
    defs
}

/// The run's headline numbers so far.
fn report_strip_ui(ui: &mut Ui, f: &Frame) {
    let r = &f.settled();
    ui.horizontal_wrapped(|ui| {
        let item = |ui: &mut Ui, label: &str, value: String, color: Option<egui::Color32>| {
            // One widget per item, so wrapping never separates a label from its value.
            let mut job = egui::text::LayoutJob::default();
            let style = ui.style().clone();
            let weak = RichText::new(format!("{label} ")).weak();
            weak.append_to(
                &mut job,
                &style,
                egui::FontSelection::Default,
                egui::Align::Center,
            );
            let mut t = RichText::new(value).strong().monospace();
            if let Some(c) = color {
                t = t.color(c);
            }
            t.append_to(
                &mut job,
                &style,
                egui::FontSelection::Default,
                egui::Align::Center,
            );
            ui.add(egui::Label::new(job).wrap_mode(egui::TextWrapMode::Extend));
            ui.add_space(4.0);
        };
        let bad = |on: bool| on.then_some(palette::VERMILLION);
        item(ui, "ops", r.ops.to_string(), None);
        item(ui, "ok", r.ok.to_string(), None);
        item(ui, "failed", r.failed.to_string(), bad(r.failed > 0));
        item(ui, "unknown", r.unknown.to_string(), bad(r.unknown > 0));
        item(ui, "in progress", f.ops.len().to_string(), None);
        item(
            ui,
            "availability",
            format!("{:.3}", r.availability),
            bad(r.availability < 0.999),
        );
        let stale_color = (r.stale_reads > 0).then_some(palette::PURPLE);
        item(ui, "stale reads", r.stale_reads.to_string(), stale_color);
        item(
            ui,
            "max lag",
            cluster::fmt_ms(r.max_replication_lag_ms),
            None,
        );
        item(
            ui,
            "divergent keys",
            r.divergent_keys_at_end.to_string(),
            None,
        );
    });
}

/// The scenario's title and seed in the space left of the top bar's buttons.
fn title_ui(ui: &mut Ui, f: &Frame) {
    let seed = format!("seed {}", f.scenario.seed);
    let seed_width = 70.0;
    let title_width = (ui.available_width() - seed_width).max(40.0);
    let title = &f.scenario.title;
    ui.allocate_ui(egui::vec2(title_width, ui.available_height()), |ui| {
        let label = egui::Label::new(RichText::new(title).size(16.0)).truncate();
        ui.add(label).on_hover_text(title);
    });
    ui.weak(seed);
}
