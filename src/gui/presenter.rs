//! Presenter mode, for teaching from a projector: everything bigger (zoom at least
//! [`PRESENTER_ZOOM`]), a high-contrast theme (pure background, thicker strokes), the editing
//! panel hidden, and a speaker-notes window with the scenario's description and the next
//! scheduled fault. Toggled by the top bar's "Present" button, F5, or `--presenter`.

use super::worker::Frame;
use crate::engine::Fault;
use eframe::egui::{self, Align2, Color32, Context, Rect, RichText, Stroke, Style, Theme, vec2};
use std::sync::Arc;

/// The zoom presenter mode raises the window to (or keeps, if already bigger).
pub const PRESENTER_ZOOM: f32 = 1.6;

/// What presenter mode changed, to put back when it ends.
struct Saved {
    zoom: f32,
    dark: Arc<Style>,
    light: Arc<Style>,
}

#[derive(Default)]
pub struct PresenterState {
    pub on: bool,
    pub notes_open: bool,
    /// The notes are in a window of their own (for the laptop's screen while the projector
    /// shows the app), not inside the app's window.
    pub notes_apart: bool,
    /// The in-app notes show in full; folded, they are one button in a corner of the central
    /// view, since at presenter zoom the open notes cover a third of the window.
    pub notes_expanded: bool,
    saved: Option<Saved>,
    /// Frames drawn since presenter mode began (a new zoom takes effect one frame late).
    frames_on: u32,
}

impl PresenterState {
    /// Enters or leaves presenter mode; `base_zoom` is the user's own zoom, which presenter
    /// mode raises and leaving restores.
    pub fn toggle(&mut self, ctx: &Context, base_zoom: f32) {
        if self.on {
            self.leave(ctx);
        } else {
            self.enter(ctx, base_zoom);
        }
    }

    /// Presenter mode is on and its zoom has taken effect, so sizes computed now fit it.
    pub fn settled(&self) -> bool {
        self.on && self.frames_on >= 2
    }

    pub fn enter(&mut self, ctx: &Context, base_zoom: f32) {
        if self.on {
            return;
        }
        self.saved = Some(Saved {
            // Not `ctx.zoom_factor()`: a zoom set earlier in this frame is not in effect yet.
            zoom: base_zoom,
            dark: ctx.style_of(Theme::Dark),
            light: ctx.style_of(Theme::Light),
        });
        ctx.set_zoom_factor(base_zoom.max(PRESENTER_ZOOM));
        ctx.style_mut_of(Theme::Dark, |s| high_contrast(s, true));
        ctx.style_mut_of(Theme::Light, |s| high_contrast(s, false));
        self.on = true;
        self.notes_open = true;
        self.notes_expanded = false;
        self.frames_on = 0;
        // The app turns pause-on-anomaly on while presenter mode is on (CapsimApp::ui_root).
    }

    pub fn leave(&mut self, ctx: &Context) {
        if let Some(s) = self.saved.take() {
            ctx.set_zoom_factor(s.zoom);
            ctx.set_style_of(Theme::Dark, (*s.dark).clone());
            ctx.set_style_of(Theme::Light, (*s.light).clone());
        }
        self.on = false;
        self.notes_open = false;
    }
}

/// Pure black or white behind everything, text in the opposite colour, and thicker lines.
fn high_contrast(style: &mut Style, dark: bool) {
    let (bg, fg) = if dark {
        (Color32::BLACK, Color32::WHITE)
    } else {
        (Color32::WHITE, Color32::BLACK)
    };
    let v = &mut style.visuals;
    v.panel_fill = bg;
    v.window_fill = bg;
    v.extreme_bg_color = bg;
    v.override_text_color = Some(fg);
    v.window_stroke = Stroke::new(2.0, fg);
    v.widgets.noninteractive.fg_stroke = Stroke::new(1.5, fg);
    v.widgets.noninteractive.bg_stroke.width = 1.5;
    for w in [
        &mut v.widgets.inactive,
        &mut v.widgets.hovered,
        &mut v.widgets.active,
        &mut v.widgets.open,
    ] {
        w.fg_stroke.width = w.fg_stroke.width.max(2.0);
        w.bg_stroke = Stroke::new(w.bg_stroke.width.max(1.5), fg.gamma_multiply(0.6));
    }
    v.selection.stroke.width = 2.0;
}

/// The next scheduled fault after the current time, as "at 1200 ms: crash n2".
pub fn next_fault(f: &Frame) -> Option<String> {
    let now_ms = f.now.0 as f64 / 1000.0;
    f.scenario
        .faults
        .iter()
        .filter(|s| s.at_ms > now_ms)
        .min_by(|a, b| a.at_ms.total_cmp(&b.at_ms))
        .map(|s| {
            let what = super::text::fault(&Fault::from_spec(&s.fault));
            let lasting = s.for_ms.map(|d| format!(" for {d} ms")).unwrap_or_default();
            format!("at {} ms: {what}{lasting}", s.at_ms)
        })
}

/// The speaker-notes window (open while presenting; closing it keeps presenter mode on), in the
/// bottom-right corner of `central` (the cluster or diagram view): over the side panel it hid
/// most of the Plots, Inspect and Storage tabs. It starts folded to a button, so the students
/// see the whole view until the lecturer opens the notes.
pub fn notes_ui(ctx: &Context, f: &Frame, state: &mut PresenterState, central: Rect) {
    if !state.on {
        return;
    }
    state.frames_on = state.frames_on.saturating_add(1);
    if !state.settled() {
        ctx.request_repaint();
        return;
    }
    if state.notes_apart {
        return notes_viewport_ui(ctx, f, state);
    }
    if !state.notes_open {
        return;
    }
    let corner = central.right_bottom() - vec2(8.0, 8.0);
    if !state.notes_expanded {
        egui::Area::new(egui::Id::unique("speaker-notes-folded"))
            .pivot(Align2::RIGHT_BOTTOM)
            .fixed_pos(corner)
            .show(ctx, |ui| {
                egui::Frame::popup(ui.style()).show(ui, |ui| {
                    let open = ui
                        .button("▲ Speaker notes")
                        .on_hover_text("The lesson's description and the next scheduled fault");
                    state.notes_expanded |= open.clicked();
                });
            });
        return;
    }
    let mut open = state.notes_open;
    let mut apart = false;
    egui::Window::new("Speaker notes")
        .open(&mut open)
        .collapsible(false)
        .default_width(300.0)
        .max_width(320.0)
        .pivot(Align2::RIGHT_BOTTOM)
        .fixed_pos(corner)
        .constrain_to(ctx.content_rect())
        .show(ctx, |ui| {
            notes_body_ui(ui, f, 90.0);
            ui.separator();
            ui.horizontal(|ui| {
                apart = ui
                    .button("Own window ↗")
                    .on_hover_text(
                        "Moves the notes to a window of their own, e.g. for the laptop's screen",
                    )
                    .clicked();
                if ui
                    .button("▼ Fold")
                    .on_hover_text("Fold the notes to a button")
                    .clicked()
                {
                    state.notes_expanded = false;
                }
            });
        });
    state.notes_open = open;
    state.notes_apart = apart;
}

/// The notes in a native window of their own. Closing it brings them back into the app. Where
/// the platform has no second window (egui embeds viewports), it is an in-app window.
fn notes_viewport_ui(ctx: &Context, f: &Frame, state: &mut PresenterState) {
    let builder = egui::ViewportBuilder::default()
        .with_title("capsim — speaker notes")
        .with_inner_size([460.0, 360.0]);
    let id = egui::ViewportId::from_hash_of("capsim-speaker-notes");
    let back = ctx.show_viewport_immediate(id, builder, |ui, class| {
        if class == egui::ViewportClass::EmbeddedWindow {
            notes_body_ui(ui, f, 200.0);
            return ui.button("Back into the app").clicked();
        }
        let mut back = false;
        egui::CentralPanel::default().show(ui, |ui| {
            notes_body_ui(ui, f, 220.0);
            ui.separator();
            back = ui.button("Back into the app").clicked();
        });
        back || ui.ctx().input(|i| i.viewport().close_requested())
    });
    if back {
        state.notes_apart = false;
    }
}

/// Title, description, the time now and the next scheduled fault.
fn notes_body_ui(ui: &mut egui::Ui, f: &Frame, description_height: f32) {
    ui.label(RichText::new(&f.scenario.title).strong());
    egui::ScrollArea::vertical()
        .max_height(description_height)
        .show(ui, |ui| {
            let text = f.scenario.description.trim();
            ui.label(if text.is_empty() {
                "(this scenario has no description)"
            } else {
                text
            });
        });
    ui.separator();
    ui.label(format!("now: {:.1} ms", f.now.0 as f64 / 1000.0));
    match next_fault(f) {
        Some(next) => ui.label(RichText::new(format!("next fault {next}")).strong()),
        None => ui.label("no more scheduled faults"),
    };
}
