//! Plots over simulated time, each with a cursor at the current time.

use super::palette;
use super::worker::{Command, Frame};
use eframe::egui::{self, Ui};
use egui_plot::{AxisHints, GridInput, GridMark, Legend, Line, Plot, PlotPoints, VLine};

/// Points of one series, skipping gaps (NaN: nothing to measure in that interval).
fn points(t: &[f64], y: &[f64]) -> PlotPoints<'static> {
    t.iter()
        .zip(y)
        .filter(|(_, y)| y.is_finite())
        .map(|(t, y)| [*t, *y])
        .collect()
}

/// Tick labels short enough for a narrow axis: 950, 4.2k, 1.5M.
fn compact(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if a >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else if a >= 10.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// About four evenly spaced y marks at 1, 2 or 5 times a power of ten: egui_plot's default
/// powers-of-ten marks leave a short plot with no labels between 0 and the top.
fn nice_marks(input: GridInput) -> Vec<GridMark> {
    let (lo, hi) = input.bounds;
    let raw = ((hi - lo) / 4.0).max(1e-9);
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude);
    let first = (lo / step).ceil() * step;
    (0..12)
        .map(|i| first + i as f64 * step)
        .take_while(|v| *v <= hi)
        .map(|value| GridMark {
            value,
            step_size: step,
        })
        .collect()
}

struct Curve<'a> {
    name: String,
    y: &'a [f64],
    color: egui::Color32,
}

/// Draws one plot; returns the time (ms) under a click, if the plot was clicked.
fn plot_ui(
    ui: &mut Ui,
    id: &str,
    title: &str,
    unit: &str,
    f: &Frame,
    curves: Vec<Curve<'_>>,
) -> Option<f64> {
    // The latest value in the title: readable from the back of a lecture hall.
    let latest: Vec<String> = curves
        .iter()
        .filter_map(|c| c.y.iter().rev().find(|v| v.is_finite()).map(|v| (c, v)))
        .map(|(c, v)| {
            if curves.len() > 1 {
                format!("{} {}", c.name, compact(*v))
            } else {
                compact(*v)
            }
        })
        .collect();
    // Wrapped: with nine replicas' values under presenter zoom the line is wider than the side
    // panel, and an unwrapped line pushed the panel's content out of its left edge.
    ui.horizontal_wrapped(|ui| {
        ui.label(egui::RichText::new(title).strong());
        if !latest.is_empty() {
            ui.label(format!("now: {} {unit}", latest.join(", ")));
        }
    });
    let t = &f.series.t_ms;
    let now = f.now.as_ms();
    let height = 110.0;
    let mut plot = Plot::new(id)
        .height(height)
        .include_x(0.0)
        .include_x(f.horizon.as_ms())
        .include_y(0.0)
        // Every series is non-negative; without a top the all-zero plot spans -5k..5k.
        .include_y(1.0)
        .allow_scroll(false)
        .allow_drag(false)
        .allow_zoom(false)
        .link_axis(egui::Id::unique("capsim-time"), [true, false])
        .x_axis_formatter(|m, _| format!("{:.1} s", m.value / 1000.0))
        .y_grid_spacer(nice_marks)
        .custom_y_axes(vec![
            // Small plots: allow tick labels closer together than egui_plot's default.
            AxisHints::new_y()
                .label(unit.to_string())
                .min_thickness(44.0)
                .label_spacing(10.0..=16.0)
                .formatter(|m, _| compact(m.value)),
        ]);
    if curves.len() > 1 {
        plot = plot.legend(Legend::default().follow_insertion_order(true));
    }
    let shown = plot.show(ui, |p| {
        for c in curves {
            p.line(Line::new(c.name, points(t, c.y)).color(c.color));
        }
        p.vline(VLine::new("", now).color(palette::GREY).width(1.5));
        p.pointer_coordinate()
    });
    let clicked = shown.response.clicked();
    shown.inner.filter(|_| clicked).map(|p| p.x)
}

/// The stale read nearest a click on the stale-reads plot (within two sample intervals).
fn stale_near(f: &Frame, t_ms: f64) -> Option<u64> {
    let reach = 2.0 * f.series.interval_ms.max(1.0);
    f.stale_ms
        .iter()
        .zip(&f.stale_ops)
        .map(|(ms, op)| ((ms - t_ms).abs(), *op))
        .filter(|(d, _)| *d <= reach)
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, op)| op)
}

fn one<'a>(name: &str, y: &'a [f64], color: egui::Color32) -> Vec<Curve<'a>> {
    vec![Curve {
        name: name.to_string(),
        y,
        color,
    }]
}

pub fn plots_ui(ui: &mut Ui, f: &Frame, out: &mut Vec<Command>) {
    let s = &f.series;
    if s.is_empty() {
        ui.weak("Plots fill in as the simulation runs.");
        return;
    }
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            let lag = s.lag_ms.iter().enumerate();
            let lag = lag.map(|(i, y)| Curve {
                name: format!("n{}", i + 1),
                y,
                color: palette::cycle(i),
            });
            let _ = plot_ui(
                ui,
                "lag",
                "Replication lag per replica",
                "ms",
                f,
                lag.collect(),
            );
            let per = format!("per {:.0} ms", s.interval_ms);
            let stale = one("stale", &s.stale, palette::PURPLE);
            ui.weak("Click near a spike to see why those reads were stale.");
            if let Some(op) =
                plot_ui(ui, "stale", "Stale reads", &per, f, stale).and_then(|t| stale_near(f, t))
            {
                out.push(Command::Explain(op));
            }
            let avail = one("availability", &s.availability, palette::GREEN);
            let _ = plot_ui(ui, "avail", "Availability (ok / completed)", "", f, avail);
            let mut lat = one("p50", &s.p50_ms, palette::BLUE);
            lat.extend(one("p99", &s.p99_ms, palette::VERMILLION));
            let _ = plot_ui(ui, "lat", "Latency of successful operations", "ms", f, lat);
            let tput = one("throughput", &s.throughput, palette::BLUE);
            let _ = plot_ui(ui, "tput", "Throughput (ok operations)", "ops/s", f, tput);
            let inflight = one("in flight", &s.in_flight, palette::ORANGE);
            let _ = plot_ui(ui, "inflight", "Messages in flight", "", f, inflight);
            let div = one("divergent", &s.divergent, palette::VERMILLION);
            let _ = plot_ui(
                ui,
                "div",
                "Divergent keys (replicas disagree)",
                "keys",
                f,
                div,
            );
            if s.len() >= super::series::MAX_SAMPLES {
                ui.weak("Plots stop here: the sample limit was reached.");
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marks(lo: f64, hi: f64) -> Vec<f64> {
        let input = GridInput {
            bounds: (lo, hi),
            base_step_size: 0.0,
        };
        nice_marks(input).into_iter().map(|m| m.value).collect()
    }

    #[test]
    fn nice_marks_are_few_round_and_inside_the_bounds() {
        assert_eq!(marks(0.0, 45.0), vec![0.0, 20.0, 40.0]);
        assert_eq!(marks(-2.0, 470.0), vec![0.0, 200.0, 400.0]);
        assert_eq!(marks(0.0, 1.0), vec![0.0, 0.5, 1.0]);
        for (lo, hi) in [(0.0, 7.3), (3.0, 4100.0), (0.0, 1e-3)] {
            let m = marks(lo, hi);
            assert!((2..=6).contains(&m.len()), "{lo}..{hi}: {m:?}");
            assert!(m.iter().all(|v| (lo..=hi).contains(v)));
        }
        assert_eq!(compact(4200.0), "4.2k");
        assert_eq!(compact(6.0), "6");
    }
}
