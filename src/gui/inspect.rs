//! Inspectors: what every node stores (with disagreements between replicas marked), and the
//! client operations in progress.

use super::palette;
use super::worker::Frame;
use crate::types::{Key, ValueId, Version};
use eframe::egui::{self, RichText, Ui};
use std::collections::BTreeMap;

#[derive(Default)]
pub struct InspectState {
    pub only_divergent: bool,
}

const MAX_ROWS: usize = 300;

/// `rows[key][node]`: what each node holds for each key.
type Rows = BTreeMap<Key, Vec<Option<(Option<ValueId>, Version)>>>;

fn rows(f: &Frame) -> Rows {
    let n = f.stored.len();
    let mut rows: Rows = BTreeMap::new();
    for (node, values) in f.stored.iter().enumerate() {
        for v in values {
            rows.entry(v.key).or_insert_with(|| vec![None; n])[node] = Some((v.value, v.version));
        }
    }
    rows
}

fn newest(cells: &[Option<(Option<ValueId>, Version)>]) -> Option<Version> {
    cells.iter().flatten().map(|(_, ver)| *ver).max()
}

pub fn inspect_ui(ui: &mut Ui, f: &Frame, st: &mut InspectState) {
    egui::CollapsingHeader::new(format!("Client operations in progress ({})", f.ops.len()))
        .default_open(true)
        .show(ui, |ui| {
            if f.ops.is_empty() {
                ui.weak("none");
                return;
            }
            let rows = f.ops.len().min(MAX_ROWS) + 1;
            egui::ScrollArea::both()
                .id_salt("ops")
                .max_height(ui.available_height() * 0.3)
                .show_rows(ui, row_height(ui), rows, |ui, range| ops_ui(ui, f, range));
        });
    egui::CollapsingHeader::new("Stored values per node")
        .default_open(true)
        .show(ui, |ui| store_ui(ui, f, st));
}

/// The height of one monospace grid row.
fn row_height(ui: &Ui) -> f32 {
    ui.text_style_height(&egui::TextStyle::Monospace) + ui.spacing().item_spacing.y
}

/// Rows `range` of the operations table (row 0 is the header); only those in view are built.
fn ops_ui(ui: &mut Ui, f: &Frame, range: std::ops::Range<usize>) {
    let grid = egui::Grid::new("ops").striped(true).start_row(range.start);
    grid.show(ui, |ui| {
        for i in range {
            let Some(o) = i.checked_sub(1).and_then(|r| f.ops.get(r)) else {
                for h in ["op", "client", "request", "node", "waiting"] {
                    ui.strong(h);
                }
                ui.end_row();
                continue;
            };
            ui.monospace(o.id.to_string());
            ui.monospace(o.process.to_string());
            let what = match o.value {
                Some(v) => format!("{} k{} = {v}", o.kind.as_str(), o.key),
                None => format!("{} k{}", o.kind.as_str(), o.key),
            };
            ui.monospace(what);
            ui.monospace(o.node.to_string());
            ui.monospace(super::cluster::fmt_ms(
                f.now.since(o.invoked) as f64 / 1000.0,
            ));
            ui.end_row();
        }
    });
}

fn store_ui(ui: &mut Ui, f: &Frame, st: &mut InspectState) {
    let rows = rows(f);
    let divergent = |cells: &[Option<(Option<ValueId>, Version)>]| {
        let mut held = cells.iter().flatten();
        let first = held.next();
        held.any(|c| Some(c) != first)
    };
    let n_div = rows.values().filter(|c| divergent(c)).count();
    ui.horizontal_wrapped(|ui| {
        ui.checkbox(&mut st.only_divergent, "only keys where replicas differ");
        ui.label(format!("{} keys, {n_div} differ", rows.len()));
    });
    ui.weak("≠ marks a copy older than the newest one; — means the node holds no copy.");
    let shown: Vec<_> = rows
        .iter()
        .filter(|(_, c)| !st.only_divergent || divergent(c))
        .take(MAX_ROWS)
        .collect();
    // Only the rows in view are laid out: with thousands of keys, building every row each frame
    // cost more than the rest of the window together.
    // A solid scroll bar that is always there: with more nodes than fit, the last columns are
    // off to the right, and a hidden bar made a key held only there look held nowhere.
    ui.spacing_mut().scroll = egui::style::ScrollStyle::solid();
    let col_width = column_width(ui, f.stored.len() + 1);
    egui::ScrollArea::both()
        .id_salt("store")
        .auto_shrink([false, false])
        .scroll_bar_visibility(egui::scroll_area::ScrollBarVisibility::AlwaysVisible)
        .show_rows(ui, row_height(ui), shown.len() + 1, |ui, range| {
            egui::Grid::new("store")
                .striped(true)
                .min_col_width(col_width)
                .start_row(range.start)
                .show(ui, |ui| {
                    for i in range {
                        match i.checked_sub(1) {
                            None => header_row_ui(ui, f.stored.len()),
                            Some(r) => row_ui(ui, shown[r].0, shown[r].1),
                        }
                        ui.end_row();
                    }
                });
        });
}

/// Columns as narrow as needed for every one to fit the panel (a value like "v1234" is five
/// characters), and no wider than eight characters.
fn column_width(ui: &Ui, columns: usize) -> f32 {
    let font = egui::TextStyle::Monospace.resolve(ui.style());
    let glyph = ui.ctx().fonts_mut(|fonts| fonts.glyph_width(&font, '0'));
    let bar = ui.spacing().scroll.bar_width + ui.spacing().scroll.bar_outer_margin;
    let per_column = (ui.available_width() - bar) / columns as f32 - ui.spacing().item_spacing.x;
    per_column.clamp(glyph * 5.0, glyph * 8.0)
}

fn header_row_ui(ui: &mut Ui, nodes: usize) {
    ui.strong("key");
    for i in 0..nodes {
        ui.strong(format!("n{}", i + 1));
    }
}

fn row_ui(ui: &mut Ui, key: &Key, cells: &[Option<(Option<ValueId>, Version)>]) {
    ui.monospace(format!("k{key}"));
    let top = newest(cells);
    for cell in cells {
        cell_ui(ui, *cell, top);
    }
}

fn cell_ui(ui: &mut Ui, cell: Option<(Option<ValueId>, Version)>, newest: Option<Version>) {
    match cell {
        None => {
            ui.weak("—");
        }
        Some((value, version)) => {
            let text = super::text::value(value).replace("nothing", "∅");
            if Some(version) < newest {
                ui.label(
                    RichText::new(format!("≠ {text}"))
                        .monospace()
                        .strong()
                        .color(palette::VERMILLION),
                )
                .on_hover_text(format!("older copy (version {}.{})", version.0, version.1));
            } else {
                ui.monospace(text);
            }
        }
    }
}
