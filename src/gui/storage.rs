//! The Storage tab: every node's log drawn along one offset axis, so a class can watch segments
//! roll, the cleaner open gaps, tombstones wait out their retention, a snapshot swallow the
//! prefix and a follower rebuild from it, step by step.

use super::palette;
use super::worker::Frame;
use crate::check::event_log::NEVER_ERASED_MS;
use crate::engine::node::NodeStatus;
use crate::engine::view::NodeInfo;
use crate::storage::view::{NO_KEY, RecordView, StorageView};
use crate::types::Key;
use eframe::egui::{self, Color32, Painter, Rect, RichText, Stroke, StrokeKind, Ui, pos2, vec2};

const ROW_HEIGHT: f32 = 30.0;
const LABEL_WIDTH: f32 = 120.0;
/// Below this many offsets on the axis every record gets its own cell; above, only segments.
const MAX_CELLS: u64 = 120;

/// Whether the axis spans the whole log or zooms to its newest offsets (where compaction's
/// gaps are wide enough to see).
#[derive(Default)]
pub struct StorageState {
    pub whole_log: bool,
    pub travel: super::time_travel::TimeTravelState,
}

/// The report fields the log lessons are about, shown above the picture when present.
const COST_FIELDS: [&str; 15] = [
    "compactions",
    "records_removed",
    "bytes_removed",
    "tombstones_purged",
    "segments_before",
    "segments_after",
    "snapshots_taken",
    "rebuilds",
    "rebuild_ms",
    "bytes_transferred",
    "entries_replayed",
    "read_model_lag_ms_max",
    "lingering_copies_max",
    "erased_after_ms",
    "crypto_erased_after_ms",
];

pub fn storage_ui(ui: &mut Ui, f: &Frame, st: &mut StorageState) {
    let logs: Vec<(&NodeInfo, &StorageView)> = f
        .nodes
        .iter()
        .filter_map(|n| n.protocol.storage.as_ref().map(|s| (n, s)))
        .collect();
    if logs.is_empty() {
        ui.label("This policy keeps no log: its replicas store values directly.");
        return;
    }
    costs_ui(ui, f);
    super::time_travel::time_travel_ui(ui, &f.scenario.policy, f.steps, &mut st.travel);
    legend_ui(ui);
    let mut axis = Axis::spanning(logs.iter().map(|(_, s)| *s));
    if !axis.cells() {
        ui.horizontal(|ui| {
            ui.selectable_value(
                &mut st.whole_log,
                false,
                format!("Newest {MAX_CELLS} offsets"),
            );
            ui.selectable_value(&mut st.whole_log, true, "Whole log");
        });
        if !st.whole_log {
            axis.lo = axis.hi - MAX_CELLS;
        }
    }
    ui.separator();
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            axis_ui(ui, &axis);
            for (node, log) in &logs {
                row_ui(ui, node, log, &axis);
            }
        });
}

/// The log costs so far, from the report (only the fields this run has).
fn costs_ui(ui: &mut Ui, f: &Frame) {
    let Ok(serde_json::Value::Object(report)) = serde_json::to_value(&f.report) else {
        return;
    };
    let present: Vec<(&str, String)> = COST_FIELDS
        .iter()
        .filter_map(|k| report.get(*k).map(|v| (*k, cost_text(k, v))))
        .collect();
    if present.is_empty() {
        return;
    }
    egui::Grid::new("log costs")
        .num_columns(4)
        .striped(true)
        .show(ui, |ui| {
            for (i, (name, value)) in present.iter().enumerate() {
                ui.label(name.replace('_', " "));
                ui.monospace(value);
                if i % 2 == 1 {
                    ui.end_row();
                }
            }
        });
}

/// A report value as the panel shows it. An erasure time of `NEVER_ERASED_MS` means a copy was
/// still readable when the report was made: at the end of a run that is "never", but mid-run
/// (where the panel shows it) the erasure is simply not done yet.
fn cost_text(field: &str, value: &serde_json::Value) -> String {
    let pending = field.ends_with("erased_after_ms") && value.as_f64() == Some(NEVER_ERASED_MS);
    if pending {
        "not yet".to_string()
    } else {
        value.to_string()
    }
}

fn legend_ui(ui: &mut Ui) {
    ui.horizontal_wrapped(|ui| {
        ui.label("Oldest offset on the left. Boxes are segments (the thick one is active);");
        ui.label(RichText::new("cells").color(palette::BLUE));
        ui.label("are records, coloured by key;");
        ui.label(RichText::new("× tombstone").color(palette::VERMILLION));
        ui.label("; a gap is a record the cleaner removed;");
        ui.label(RichText::new("green bar: committed").color(palette::GREEN));
        ui.label("; hatched: covered by a snapshot.");
    });
}

/// Maps offsets to x positions, shared by every row so that the same offset lines up.
struct Axis {
    lo: u64,
    hi: u64,
}

impl Axis {
    fn spanning<'a>(logs: impl Iterator<Item = &'a StorageView> + Clone) -> Axis {
        let hi = logs
            .clone()
            .map(|s| s.next_offset)
            .max()
            .unwrap_or(1)
            .max(2);
        let shown_from = |s: &StorageView| {
            let first_shown = s.segments.first().map_or(s.first_offset, |g| g.base_offset);
            s.snapshot.map_or(first_shown, |_| 1)
        };
        let lo = logs.map(shown_from).min().unwrap_or(1).clamp(1, hi - 1);
        Axis { lo, hi }
    }

    fn x(&self, rect: Rect, offset: u64) -> f32 {
        let o = offset.clamp(self.lo, self.hi);
        let frac = (o - self.lo) as f32 / (self.hi - self.lo) as f32;
        rect.left() + frac * rect.width()
    }

    fn cells(&self) -> bool {
        self.hi - self.lo <= MAX_CELLS
    }
}

/// The offsets at both ends of the bars, aligned with the bars' edges.
fn axis_ui(ui: &mut Ui, axis: &Axis) {
    let height = ui.text_style_height(&egui::TextStyle::Monospace);
    let (rect, _) =
        ui.allocate_exact_size(vec2(ui.available_width(), height), egui::Sense::hover());
    let bars_left = rect.left() + LABEL_WIDTH + ui.spacing().item_spacing.x;
    let font = egui::TextStyle::Monospace.resolve(ui.style());
    let ink = ui.visuals().text_color();
    let p = ui.painter();
    p.text(
        pos2(bars_left, rect.center().y),
        egui::Align2::LEFT_CENTER,
        format!("offset {}", axis.lo),
        font.clone(),
        ink,
    );
    p.text(
        pos2(rect.right(), rect.center().y),
        egui::Align2::RIGHT_CENTER,
        format!("{} (next)", axis.hi),
        font,
        ink,
    );
}

fn row_ui(ui: &mut Ui, node: &NodeInfo, log: &StorageView, axis: &Axis) {
    ui.horizontal(|ui| {
        let down = node.status != NodeStatus::Up;
        // The node on one line and its role under it, so a long role never hides the name.
        let role = node.protocol.role;
        let label = ui.allocate_ui_with_layout(
            vec2(LABEL_WIDTH, ROW_HEIGHT),
            egui::Layout::top_down(egui::Align::Min),
            |ui| {
                ui.spacing_mut().item_spacing.y = 0.0;
                ui.set_min_size(vec2(LABEL_WIDTH, ROW_HEIGHT));
                ui.label(RichText::new(node.id.to_string()).monospace().strong());
                ui.add(egui::Label::new(RichText::new(role).small().weak()).truncate());
            },
        );
        label.response.on_hover_text(summary(log));
        let width = ui.available_width().max(60.0);
        let (rect, _) = ui.allocate_exact_size(vec2(width, ROW_HEIGHT), egui::Sense::hover());
        let p = ui.painter_at(rect.expand(1.0));
        let ink = ui.visuals().text_color();
        draw_log(&p, rect, log, axis, ink);
        if down {
            p.rect_filled(rect, 0.0, ui.visuals().extreme_bg_color.gamma_multiply(0.6));
            p.text(
                rect.center(),
                egui::Align2::CENTER_CENTER,
                format!("{:?}", node.status).to_lowercase(),
                egui::FontId::proportional(14.0),
                ink,
            );
        }
    });
    rebuild_ui(ui, log);
}

fn draw_log(p: &Painter, rect: Rect, log: &StorageView, axis: &Axis, ink: Color32) {
    let body = Rect::from_min_max(rect.min, pos2(rect.max.x, rect.max.y - 6.0));
    if let Some(snap) = log.snapshot {
        draw_snapshot(
            p,
            body,
            axis.x(body, 1),
            axis.x(body, snap.last_index + 1),
            ink,
        );
    }
    for s in &log.segments {
        let r = Rect::from_x_y_ranges(
            axis.x(body, s.base_offset)..=axis.x(body, s.end_offset),
            body.y_range(),
        );
        let fill = if s.cleaned {
            palette::GREEN.gamma_multiply(0.15)
        } else {
            Color32::TRANSPARENT
        };
        let width = if s.active { 2.5 } else { 1.0 };
        p.rect(r, 2.0, fill, Stroke::new(width, ink), StrokeKind::Inside);
    }
    if axis.cells() {
        for r in log.records.iter().filter(|r| r.offset >= axis.lo) {
            draw_record(p, body, axis, r);
        }
    }
    draw_commit(p, rect, log, axis);
}

fn draw_snapshot(p: &Painter, body: Rect, x0: f32, x1: f32, ink: Color32) {
    let r = Rect::from_x_y_ranges(x0..=x1, body.y_range());
    p.rect_filled(r, 2.0, palette::GREY.gamma_multiply(0.25));
    let stroke = Stroke::new(1.0, palette::GREY);
    let mut x = r.left() - r.height();
    while x < r.right() {
        let a = pos2(x.max(r.left()), r.bottom() - (x.max(r.left()) - x));
        let end = (x + r.height()).min(r.right());
        p.line_segment([a, pos2(end, r.bottom() - (end - x))], stroke);
        x += 8.0;
    }
    if r.width() > 70.0 {
        let at = r.center();
        p.text(
            at,
            egui::Align2::CENTER_CENTER,
            "snapshot",
            egui::FontId::proportional(12.0),
            ink,
        );
    }
}

fn draw_record(p: &Painter, body: Rect, axis: &Axis, r: &RecordView) {
    let (x0, x1) = (axis.x(body, r.offset), axis.x(body, r.offset + 1));
    let cell = Rect::from_x_y_ranges(
        x0 + 0.5..=(x1 - 0.5).max(x0 + 1.0),
        body.shrink(4.0).y_range(),
    );
    if r.tombstone {
        let s = Stroke::new(2.0, palette::VERMILLION);
        p.line_segment([cell.left_top(), cell.right_bottom()], s);
        p.line_segment([cell.left_bottom(), cell.right_top()], s);
    } else {
        p.rect_filled(cell, 1.0, key_colour(r.key));
    }
}

/// A key's colour (grey for entries that write no key, like Raft's no-op).
fn key_colour(key: Key) -> Color32 {
    if key == NO_KEY {
        return palette::GREY;
    }
    palette::cycle(key as usize)
}

fn draw_commit(p: &Painter, rect: Rect, log: &StorageView, axis: &Axis) {
    let y = rect.bottom() - 2.5;
    let (start, end) = (
        axis.x(rect, log.first_offset),
        axis.x(rect, log.next_offset),
    );
    p.line_segment(
        [pos2(start, y), pos2(end, y)],
        Stroke::new(3.0, palette::GREY),
    );
    let committed = axis.x(rect, log.committed + 1).max(start);
    p.line_segment(
        [pos2(start, y), pos2(committed, y)],
        Stroke::new(3.0, palette::GREEN),
    );
    if let Some(flushed) = log.flushed {
        let x = axis.x(rect, flushed + 1);
        let s = Stroke::new(2.0, palette::ORANGE);
        p.line_segment([pos2(x, rect.top()), pos2(x, rect.bottom())], s);
    }
}

fn rebuild_ui(ui: &mut Ui, log: &StorageView) {
    let Some(r) = log.rebuild else {
        return;
    };
    ui.horizontal(|ui| {
        ui.add_space(LABEL_WIDTH);
        let frac = r.done as f32 / r.total.max(1) as f32;
        let text = format!(
            "rebuilding from {}: {} of {} {}",
            r.method, r.done, r.total, r.unit
        );
        ui.add(egui::ProgressBar::new(frac).text(text));
    });
}

fn summary(log: &StorageView) -> String {
    let records: u64 = log.segments.iter().map(|s| s.records).sum();
    let tombstones: u64 = log.segments.iter().map(|s| s.tombstones).sum();
    let mut s = format!(
        "offsets {}..{}, committed up to {}\n{} segments shown, {} records, {} tombstones",
        log.first_offset,
        log.next_offset,
        log.committed,
        log.segments.len(),
        records,
        tombstones
    );
    if let Some(snap) = log.snapshot {
        s += &format!(
            "\nsnapshot up to {} ({} bytes)",
            snap.last_index, snap.bytes
        );
    }
    if let Some(f) = log.flushed {
        s += &format!("\nflushed to disk up to {f}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_erasure_still_pending_reads_not_yet() {
        let never = json!(NEVER_ERASED_MS);
        assert_eq!(cost_text("erased_after_ms", &never), "not yet");
        assert_eq!(cost_text("crypto_erased_after_ms", &never), "not yet");
        assert_eq!(cost_text("crypto_erased_after_ms", &json!(203.5)), "203.5");
        // Only erasure times use the sentinel: another field's -1 stays a number.
        assert_eq!(cost_text("rebuild_ms", &never), "-1.0");
    }

    #[test]
    fn both_erasure_times_are_listed() {
        for field in ["erased_after_ms", "crypto_erased_after_ms"] {
            assert!(COST_FIELDS.contains(&field), "{field}");
        }
    }
}
