//! The time line: play / pause / step controls, the speed, and a scrubber with markers for
//! faults, protocol notes, failures and stale reads.

use super::palette;
use super::worker::{Command, Frame, Speed};
use crate::engine::Phase;
use crate::types::SimTime;
use eframe::egui::{self, Rect, Sense, Stroke, Ui, pos2, vec2};

pub struct TimelineState {
    /// log10 of simulated µs per real second.
    pub speed_log10: f64,
    pub max_speed: bool,
}

impl Default for TimelineState {
    fn default() -> Self {
        TimelineState {
            speed_log10: 5.0,
            max_speed: false,
        }
    }
}

impl TimelineState {
    pub fn speed(&self) -> Speed {
        if self.max_speed {
            Speed::Max
        } else {
            Speed::SimUsPerSec(10f64.powf(self.speed_log10))
        }
    }
}

pub const SHORTCUTS: &[(&str, &str)] = &[
    ("Space", "play / pause"),
    ("→", "step one event"),
    ("←", "step back one event"),
    ("N", "run to the next notable event"),
    ("Home", "back to t = 0"),
    ("[  ]", "slower / faster"),
    ("Ctrl + / Ctrl −", "bigger / smaller UI (Ctrl 0 resets)"),
    ("F1", "this help"),
    ("F5", "presenter mode on / off"),
];

fn rate_text(us_per_s: f64) -> String {
    if us_per_s >= 1e6 {
        format!("{:.3} s/s", us_per_s / 1e6)
    } else if us_per_s >= 1e3 {
        format!("{:.1} ms/s", us_per_s / 1e3)
    } else {
        format!("{us_per_s:.0} µs/s")
    }
}

pub fn timeline_ui(ui: &mut Ui, f: &Frame, st: &mut TimelineState, out: &mut Vec<Command>) {
    ui.add_space(4.0);
    ui.horizontal_wrapped(|ui| {
        controls_ui(ui, f, out);
        ui.separator();
        speed_ui(ui, st, out);
        ui.separator();
        let mut pause = f.pause_on_anomaly;
        if ui
            .checkbox(&mut pause, "pause on anomaly")
            .on_hover_text("Stop playing at the event that produced a stale read or broke an invariant; the explanation waits behind \"Reveal why\"")
            .changed()
        {
            out.push(Command::SetPauseOnAnomaly(pause));
        }
        ui.separator();
        let phase = match f.phase {
            Phase::Running => "running",
            Phase::Finishing => "finishing",
            Phase::Draining { .. } => "draining",
            Phase::Done => "done",
        };
        ui.monospace(format!("t = {:.3} ms", f.now.as_ms()))
            .on_hover_text("Simulated time");
        ui.weak(format!("{} events · {phase}", f.steps));
        if f.busy {
            ui.spinner();
            ui.weak("seeking…");
        }
    });
    scrubber_ui(ui, f, out);
    ui.add_space(2.0);
}

fn controls_ui(ui: &mut Ui, f: &Frame, out: &mut Vec<Command>) {
    if ui
        .button("⏮")
        .on_hover_text("Back to t = 0 (Home)")
        .clicked()
    {
        out.push(Command::Seek(SimTime::ZERO));
    }
    if ui
        .add_enabled(f.steps > 0, egui::Button::new("◀ Back"))
        .on_hover_text("Step back one event (←)")
        .clicked()
    {
        out.push(Command::StepBack);
    }
    let play = if f.playing { "⏸ Pause" } else { "▶ Play" };
    if ui
        .button(play)
        .on_hover_text("Play / pause (Space)")
        .clicked()
    {
        out.push(Command::TogglePlay);
    }
    if ui
        .button("Step ▶")
        .on_hover_text("Process one event (→)")
        .clicked()
    {
        out.push(Command::StepEvent);
    }
    if ui
        .button("Next notable ⏭")
        .on_hover_text("Run to the next fault, failure, stale read or protocol note (N)")
        .clicked()
    {
        out.push(Command::StepInteresting);
    }
}

fn speed_ui(ui: &mut Ui, st: &mut TimelineState, out: &mut Vec<Command>) {
    ui.label("Speed");
    let before = st.speed();
    ui.add_enabled(
        !st.max_speed,
        egui::Slider::new(&mut st.speed_log10, 0.0..=7.0)
            .show_value(false)
            .text(""),
    )
    .on_hover_text("Simulated time per real second: slow motion on the left");
    ui.checkbox(&mut st.max_speed, "max");
    ui.weak(match st.speed() {
        Speed::Max => "fastest".to_string(),
        Speed::SimUsPerSec(r) => rate_text(r),
    });
    if st.speed() != before {
        out.push(Command::SetSpeed(st.speed()));
    }
}

fn scrubber_ui(ui: &mut Ui, f: &Frame, out: &mut Vec<Command>) {
    let end_ms = f.horizon.as_ms().max(f.now.as_ms()).max(1.0);
    let width = ui.available_width();
    let (strip, strip_resp) = ui.allocate_exact_size(vec2(width, 16.0), Sense::click());
    let mut t_ms = f.now.as_ms();
    let resp = ui
        .scope(|ui| {
            ui.spacing_mut().slider_width = width - 8.0;
            ui.add(
                egui::Slider::new(&mut t_ms, 0.0..=end_ms)
                    .show_value(false)
                    .text(""),
            )
            .accessible_name("time")
            .on_hover_text(
                "Drag to seek; markers: ▼ fault, ◆ protocol note, | failures, ▲ stale read",
            )
        })
        .inner;
    if resp.changed() {
        out.push(Command::Seek(SimTime::from_ms(t_ms)));
    }
    // The slider's handle travels over its rect minus half a handle at each end.
    let track = resp.rect.shrink2(vec2(resp.rect.height() / 2.0, 0.0));
    let x = |ms: f64| track.left() + (ms / end_ms).clamp(0.0, 1.0) as f32 * track.width();
    markers(ui, strip, f, &x);
    stale_marker_click(&strip_resp, f, &x, out);
}

/// A click on (or next to) a ▲ stale-read marker asks for that read's explanation.
fn stale_marker_click(
    resp: &egui::Response,
    f: &Frame,
    x: &dyn Fn(f64) -> f32,
    out: &mut Vec<Command>,
) {
    let Some(pos) = resp.hover_pos() else { return };
    let nearest = f
        .stale_ms
        .iter()
        .zip(&f.stale_ops)
        .map(|(ms, op)| ((x(*ms) - pos.x).abs(), *op))
        .filter(|(d, _)| *d <= 6.0)
        .min_by(|a, b| a.0.total_cmp(&b.0));
    let Some((_, op)) = nearest else { return };
    let resp = resp.clone().on_hover_text("Stale read: click to see why");
    if resp.clicked() {
        out.push(Command::Explain(op));
    }
}

fn markers(ui: &Ui, strip: Rect, f: &Frame, x: &dyn Fn(f64) -> f32) {
    let p = ui.painter_at(strip.expand2(vec2(0.0, 30.0)));
    let y = strip.bottom() - 4.0;
    // Failures: intervals where availability dropped below 1.
    let s = &f.series;
    for (i, a) in s.availability.iter().enumerate() {
        if *a < 1.0 {
            let px = x(s.t_ms[i]);
            p.line_segment(
                [pos2(px, y - 6.0), pos2(px, y + 2.0)],
                Stroke::new(1.0, palette::VERMILLION.gamma_multiply(0.6)),
            );
        }
    }
    for ms in &f.stale_ms {
        let c = pos2(x(*ms), strip.top() + 5.0);
        palette::draw_glyph(
            &p,
            palette::Glyph::Triangle,
            c,
            3.5,
            palette::PURPLE,
            palette::PURPLE,
        );
    }
    for n in &f.notes {
        let c = pos2(x(n.at.as_ms()), y - 2.0);
        palette::draw_glyph(
            &p,
            palette::Glyph::Diamond,
            c,
            4.0,
            palette::GREEN,
            palette::GREEN,
        );
    }
    for (at, _) in &f.faults {
        let px = x(at.as_ms());
        let tip = pos2(px, y + 3.0);
        let pts = vec![
            tip,
            pos2(px - 5.0, tip.y - 9.0),
            pos2(px + 5.0, tip.y - 9.0),
        ];
        p.add(egui::Shape::convex_polygon(
            pts,
            palette::ORANGE,
            Stroke::NONE,
        ));
    }
}
