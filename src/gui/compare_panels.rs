//! Compare mode's numbers table (A, B and the difference) and its one plot: both sides'
//! availability and stale reads over simulated time.

use super::palette;
use super::worker::Frame;
use crate::check::report::Report;
use eframe::egui::{self, Color32, RichText, Ui};
use egui_plot::{AxisHints, HPlacement, Legend, Line, LineStyle, Plot, PlotPoints, VLine};
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
            diff: signed(
                b.max_replication_lag_ms - a.max_replication_lag_ms,
                1,
                " ms",
            ),
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

/// The table on the left, the plot filling the rest.
pub fn numbers_and_plot_ui(ui: &mut Ui, frames: &[Arc<Frame>; 2]) {
    let table_w = 330.0_f32.min(ui.available_width() * 0.4);
    ui.horizontal_top(|ui| {
        ui.vertical(|ui| {
            ui.set_width(table_w);
            table_ui(ui, &rows(&frames[0].report, &frames[1].report));
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

/// Points of one series, skipping gaps; `scale` maps it onto the plot's 0..1 axis.
fn points(t: &[f64], y: &[f64], scale: f64) -> PlotPoints<'static> {
    t.iter()
        .zip(y)
        .filter(|(_, y)| y.is_finite())
        .map(|(t, y)| [*t, *y * scale])
        .collect()
}

/// Availability (solid, left axis 0..1) and stale reads per interval (dashed, right axis,
/// scaled so the larger side's peak reaches the top) for both sides.
fn plot_ui(ui: &mut Ui, frames: &[Arc<Frame>; 2]) {
    let max_stale = frames
        .iter()
        .flat_map(|f| f.series.stale.iter().copied())
        .filter(|v| v.is_finite())
        .fold(1.0_f64, f64::max);
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
        .custom_y_axes(vec![
            AxisHints::new_y().label("availability").min_thickness(44.0),
            AxisHints::new_y()
                .label("stale reads")
                .placement(HPlacement::Right)
                .min_thickness(36.0)
                .formatter(move |m, _| format!("{:.0}", m.value * max_stale)),
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
        assert_eq!(signed(12.5, 1, " ms"), "+12.5 ms");
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
    }
}
