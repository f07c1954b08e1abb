//! Compare mode's numbers table (A, B and the difference) and its one plot: both sides'
//! availability and stale reads over simulated time.

use super::palette;
use super::worker::Frame;
use crate::check::report::Report;
use eframe::egui::{self, Color32, RichText, Ui};
use egui_plot::{
    AxisHints, GridInput, HPlacement, Legend, Line, LineStyle, Plot, PlotPoints, VLine,
    uniform_grid_spacer,
};
use std::sync::Arc;

/// Side A's colour and side B's, used for titles, table headers and curves.
pub fn side_color(name: &str) -> Color32 {
    if name == "A" {
        palette::SKY_BLUE
    } else {
        palette::ORANGE
    }
}

/// One row of the table, as drawn: name, A, B, B − A.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub name: &'static str,
    pub a: String,
    pub b: String,
    pub diff: String,
}

/// The table's rows for two reports (what `capsim run --json` calls these fields is in brackets
/// in `docs/gui.md`).
pub fn rows(a: &Report, b: &Report) -> Vec<Row> {
    let int = |name, x: u64, y: u64| Row {
        name,
        a: x.to_string(),
        b: y.to_string(),
        diff: signed(y as f64 - x as f64, 0, ""),
    };
    vec![
        int("ops", a.ops, b.ops),
        int("ok", a.ok, b.ok),
        Row {
            name: "availability",
            a: format!("{:.3}", a.availability),
            b: format!("{:.3}", b.availability),
            diff: signed(b.availability - a.availability, 3, ""),
        },
        int("stale reads", a.stale_reads, b.stale_reads),
        int("failed", a.failed, b.failed),
        int("unknown", a.unknown, b.unknown),
        Row {
            name: "max lag",
            a: super::cluster::fmt_ms(a.max_replication_lag_ms),
            b: super::cluster::fmt_ms(b.max_replication_lag_ms),
            diff: signed_ms(b.max_replication_lag_ms - a.max_replication_lag_ms),
        },
        int(
            "divergent keys",
            a.divergent_keys_at_end,
            b.divergent_keys_at_end,
        ),
    ]
}

/// "+12", "−0.250", "0": a difference with its sign (a true minus sign, readable from afar).
fn signed(d: f64, decimals: usize, unit: &str) -> String {
    let text = format!("{:.*}", decimals, d.abs());
    let zero = text.chars().all(|c| c == '0' || c == '.');
    if zero {
        return format!("{text}{unit}");
    }
    let sign = if d < 0.0 { "−" } else { "+" };
    format!("{sign}{text}{unit}")
}

/// A difference of durations in the units `cluster::fmt_ms` picks, with its sign.
fn signed_ms(d: f64) -> String {
    let text = super::cluster::fmt_ms(d.abs());
    match d {
        d if d > 0.0 => format!("+{text}"),
        d if d < 0.0 => format!("−{text}"),
        _ => text,
    }
}

/// The table in sentences, for the back of the lecture hall.
pub fn verdict(a: &Report, b: &Report) -> Vec<String> {
    let pct = |r: &Report| format!("{:.1}%", 100.0 * r.availability);
    let avail = if (a.availability - b.availability).abs() < 0.0005 {
        format!("A and B were equally available ({}).", pct(a))
    } else if b.availability > a.availability {
        format!(
            "B answered more often: availability {} against A's {}.",
            pct(b),
            pct(a)
        )
    } else {
        format!(
            "A answered more often: availability {} against B's {}.",
            pct(a),
            pct(b)
        )
    };
    let stale = match (a.stale_reads, b.stale_reads) {
        (0, 0) => "Neither side returned a stale read.".to_string(),
        (n, 0) => format!("Only A returned stale reads ({n})."),
        (0, n) => format!("Only B returned stale reads ({n})."),
        (x, y) => format!("Both returned stale reads (A {x}, B {y})."),
    };
    let refused = format!(
        "Failed or timed out: A {}, B {}.",
        a.failed + a.unknown,
        b.failed + b.unknown
    );
    vec![avail, stale, refused]
}

/// The table on the left, the plot filling the rest.
pub fn numbers_and_plot_ui(ui: &mut Ui, frames: &[Arc<Frame>; 2]) {
    let table_w = 330.0_f32.min(ui.available_width() * 0.4);
    ui.horizontal_top(|ui| {
        ui.vertical(|ui| {
            ui.set_width(table_w);
            let (a, b) = (&frames[0].settled(), &frames[1].settled());
            table_ui(ui, &rows(a, b));
            ui.add_space(8.0);
            let done = frames.iter().all(|f| f.phase == crate::engine::Phase::Done);
            ui.strong(if done { "At the end:" } else { "So far:" });
            for line in verdict(a, b) {
                ui.label(line);
            }
        });
        ui.separator();
        ui.vertical(|ui| plot_ui(ui, frames));
    });
}

fn table_ui(ui: &mut Ui, rows: &[Row]) {
    egui::Grid::new("compare-numbers")
        .striped(true)
        .num_columns(4)
        .min_col_width(60.0)
        .show(ui, |ui| {
            ui.strong("");
            ui.label(RichText::new("A").strong().color(side_color("A")));
            ui.label(RichText::new("B").strong().color(side_color("B")));
            ui.strong("B − A");
            ui.end_row();
            for r in rows {
                ui.label(r.name);
                ui.monospace(&r.a);
                ui.monospace(&r.b);
                ui.label(RichText::new(&r.diff).monospace().strong());
                ui.end_row();
            }
        });
}

/// Time grid steps (ms) giving about ten labelled marks whatever the run's length: egui_plot's
/// default powers of ten label only 0 s and 10 s on an 8 s run.
fn time_steps(input: GridInput) -> [f64; 3] {
    let (lo, hi) = input.bounds;
    let raw = ((hi - lo) / 10.0).max(1.0);
    let base = 10f64.powf(raw.log10().floor());
    let step = if raw <= 2.0 * base {
        2.0 * base
    } else if raw <= 5.0 * base {
        5.0 * base
    } else {
        10.0 * base
    };
    [step / 5.0, step, step * 5.0]
}

/// Points of one series, skipping gaps; `scale` maps it onto the plot's 0..1 axis.
fn points(t: &[f64], y: &[f64], scale: f64) -> PlotPoints<'static> {
    t.iter()
        .zip(y)
        .filter(|(_, y)| y.is_finite())
        .map(|(t, y)| [*t, *y * scale])
        .collect()
}

/// The stale-read count drawn at the top of the 0..1 axis: the larger peak rounded up to a
/// multiple of ten, so the left axis's tenths are whole (or half) counts on the right axis.
fn stale_scale(frames: &[Arc<Frame>; 2]) -> f64 {
    let peak = frames
        .iter()
        .flat_map(|f| f.series.stale.iter().copied())
        .filter(|v| v.is_finite())
        .fold(0.0_f64, f64::max);
    ((peak / 10.0).ceil() * 10.0).max(10.0)
}

/// "3", "2.5": a count on the right axis.
fn count_label(v: f64) -> String {
    if (v - v.round()).abs() < 1e-6 {
        format!("{:.0}", v.round())
    } else {
        format!("{v:.1}")
    }
}

/// Availability (solid, left axis 0..1) and stale reads per interval (dashed, right axis,
/// scaled so the larger side's peak is near the top) for both sides.
fn plot_ui(ui: &mut Ui, frames: &[Arc<Frame>; 2]) {
    let max_stale = stale_scale(frames);
    let interval = frames[0].series.interval_ms;
    ui.label(
        RichText::new(format!(
            "Availability (solid, left) and stale reads per {interval:.0} ms (dashed, right)"
        ))
        .strong(),
    );
    let horizon = frames[0].horizon.max(frames[1].horizon).as_ms();
    let now = frames[0].now.min(frames[1].now).as_ms();
    let height = ui.available_height().clamp(120.0, 320.0);
    Plot::new("compare-plot")
        .height(height)
        .include_x(0.0)
        .include_x(horizon)
        .include_y(0.0)
        .include_y(1.05)
        .allow_scroll(false)
        .allow_drag(false)
        .allow_zoom(false)
        .legend(Legend::default().follow_insertion_order(true))
        .x_axis_formatter(|m, _| format!("{:.1} s", m.value / 1000.0))
        .x_grid_spacer(uniform_grid_spacer(time_steps))
        .custom_y_axes(vec![
            AxisHints::new_y().label("availability").min_thickness(44.0),
            AxisHints::new_y()
                .label("stale reads")
                .placement(HPlacement::Right)
                .min_thickness(36.0)
                .formatter(move |m, _| count_label(m.value * max_stale)),
        ])
        .show(ui, |p| {
            for (f, name) in frames.iter().zip(["A", "B"]) {
                let s = &f.series;
                let color = side_color(name);
                p.line(
                    Line::new(
                        format!("{name} availability"),
                        points(&s.t_ms, &s.availability, 1.0),
                    )
                    .color(color)
                    .width(2.0),
                );
                p.line(
                    Line::new(
                        format!("{name} stale reads"),
                        points(&s.t_ms, &s.stale, 1.0 / max_stale),
                    )
                    .color(color)
                    .style(LineStyle::dashed_loose()),
                );
            }
            p.vline(VLine::new("", now).color(palette::GREY).width(1.5));
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_carry_a_sign_and_zero_has_none() {
        assert_eq!(signed(3.0, 0, ""), "+3");
        assert_eq!(signed(-0.25, 3, ""), "−0.250");
        assert_eq!(signed(0.0, 3, ""), "0.000");
        assert_eq!(signed(-0.0001, 3, ""), "0.000");
        assert_eq!(signed(12.5, 1, " kB"), "+12.5 kB");
        assert_eq!(count_label(0.1 * 30.0), "3");
        assert_eq!(count_label(0.05 * 10.0), "0.5");
        assert!(signed_ms(-1843.0).starts_with('−'));
        assert_eq!(signed_ms(0.0), super::super::cluster::fmt_ms(0.0));
    }

    #[test]
    fn rows_show_both_sides_and_b_minus_a() {
        let a = Report {
            ops: 100,
            ok: 80,
            availability: 0.8,
            stale_reads: 0,
            ..Report::default()
        };
        let b = Report {
            ops: 120,
            ok: 119,
            availability: 119.0 / 120.0,
            stale_reads: 7,
            ..Report::default()
        };
        let r = rows(&a, &b);
        let find = |n| r.iter().find(|r| r.name == n).unwrap();
        assert_eq!(find("ops").diff, "+20");
        assert_eq!(find("availability").a, "0.800");
        assert_eq!(find("availability").b, "0.992");
        assert_eq!(find("availability").diff, "+0.192");
        assert_eq!(find("stale reads").b, "7");
        assert_eq!(find("stale reads").diff, "+7");
        let v = verdict(&a, &b);
        assert_eq!(
            v[0],
            "B answered more often: availability 99.2% against A's 80.0%."
        );
        assert_eq!(v[1], "Only B returned stale reads (7).");
        assert_eq!(v[2], "Failed or timed out: A 0, B 0.");
    }
}
