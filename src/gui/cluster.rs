//! The cluster view: nodes on a circle, links between them (cut ones drawn broken), messages in
//! flight moving along the links, and menus to crash, pause, cut and heal by clicking.

use super::cluster_layout::{Geometry, LAG_ROW_HALF};
use super::palette::{self, Glyph};
use super::worker::{Command, Frame};
use crate::engine::Fault;
use crate::engine::node::NodeStatus;
use crate::engine::view::NodeInfo;
use crate::types::NodeId;
use eframe::egui::{
    self, Align2, Color32, FontId, Painter, Pos2, Rect, Response, Sense, Shape, Stroke, Ui,
    WidgetInfo, pos2, vec2,
};
use std::collections::BTreeSet;

#[derive(Default)]
pub struct ClusterState {
    /// Clicking nodes picks a group to partition from the rest.
    pub partition_tool: bool,
    pub picked: BTreeSet<NodeId>,
}

pub fn cluster_ui(ui: &mut Ui, f: &Frame, st: &mut ClusterState, out: &mut Vec<Command>) {
    toolbar_ui(ui, f, st, out);
    let size = ui.available_size().max(vec2(200.0, 200.0));
    let (rect, _) = ui.allocate_exact_size(size, Sense::hover());
    let painter = ui.painter_at(rect);
    let (legend_right, legend_top) = legend(ui, &painter, rect, f);
    // Keep the legends clear of the nodes: the bottom lines below them, the message legend in
    // the top-left corner to their left.
    let mut layout_rect = rect;
    layout_rect.max.y = legend_top - 2.0;
    layout_rect.min.x = layout_rect.min.x.max(legend_right + 4.0);
    let geo = Geometry::new(layout_rect, f.nodes.len(), clocks_off(f));
    for a in 0..f.nodes.len() {
        for b in a + 1..f.nodes.len() {
            link_ui(
                ui,
                &painter,
                &geo,
                f,
                (NodeId(a as u16), NodeId(b as u16)),
                out,
            );
        }
    }
    super::why::draw_highlight(&painter, &geo.centers, geo.node_r, f);
    draw_messages(&painter, &geo, f);
    for info in &f.nodes {
        node_ui(ui, &painter, &geo, info, f, st, out);
    }
}

/// Whether some node's clock is off, so the nodes carry a clock label.
fn clocks_off(f: &Frame) -> bool {
    f.nodes.iter().any(|n| n.skew_us != 0 || n.drift_ppm != 0)
}

/// A small read-only cluster view (compare mode): links, messages in flight and nodes with their
/// labels; no tools, menus or legend.
pub fn compact_cluster_ui(ui: &mut Ui, f: &Frame, size: egui::Vec2) {
    let (rect, _) = ui.allocate_exact_size(size, Sense::hover());
    let geo = Geometry::new(rect, f.nodes.len(), clocks_off(f));
    let p = ui.painter_at(rect);
    let open = Stroke::new(1.5, ui.visuals().weak_text_color().gamma_multiply(0.6));
    let cut = Stroke::new(2.5, palette::VERMILLION);
    for a in 0..f.nodes.len() {
        for b in a + 1..f.nodes.len() {
            let (pa, pb) = (geo.centers[a], geo.centers[b]);
            match link_state(f, NodeId(a as u16), NodeId(b as u16)) {
                (false, false) => {
                    p.line_segment([pa, pb], open);
                }
                (true, true) => {
                    p.extend(Shape::dashed_line(&[pa, pb], cut, 6.0, 5.0));
                    draw_cut_mark(&p, pa, pb, 0.5, cut);
                }
                (true, false) => one_way(&p, pa, pb, cut),
                (false, true) => one_way(&p, pb, pa, cut),
            }
        }
    }
    draw_messages(&p, &geo, f);
    for info in &f.nodes {
        let leader = info.protocol.role == "leader";
        draw_node(
            ui,
            &p,
            geo.centers[info.id.index()],
            geo.node_r,
            info,
            leader,
            false,
        );
    }
}

fn toolbar_ui(ui: &mut Ui, f: &Frame, st: &mut ClusterState, out: &mut Vec<Command>) {
    ui.horizontal_wrapped(|ui| {
        ui.toggle_value(&mut st.partition_tool, "✂ Partition tool")
            .on_hover_text("Click nodes to pick a group, then cut it off from the rest");
        if st.partition_tool {
            let names: Vec<String> = st.picked.iter().map(|n| n.to_string()).collect();
            ui.label(if names.is_empty() {
                "click nodes to pick a group".to_string()
            } else {
                format!("group: {}", names.join(" "))
            });
            let valid = !st.picked.is_empty() && st.picked.len() < f.nodes.len();
            if ui
                .add_enabled(valid, egui::Button::new("Partition group | rest"))
                .clicked()
            {
                let group = st.picked.iter().copied().collect();
                out.push(Command::Apply(Fault::Partition(vec![group])));
                st.picked.clear();
                st.partition_tool = false;
            }
            if ui.button("Clear").clicked() {
                st.picked.clear();
            }
        } else {
            st.picked.clear();
        }
        let cuts = f.cuts.len();
        if ui
            .add_enabled(cuts > 0, egui::Button::new("Heal all"))
            .on_hover_text("Remove every partition and cut link")
            .clicked()
        {
            out.push(Command::Apply(Fault::HealAll));
        }
        ui.weak(format!(
            "{cuts} active cut{}",
            if cuts == 1 { "" } else { "s" }
        ));
    });
}

/// How one pair of nodes is connected.
fn link_state(f: &Frame, a: NodeId, b: NodeId) -> (bool, bool) {
    let ab = f.blocked.binary_search(&(a, b)).is_ok();
    let ba = f.blocked.binary_search(&(b, a)).is_ok();
    (ab, ba)
}

fn link_ui(
    ui: &mut Ui,
    p: &Painter,
    geo: &Geometry,
    f: &Frame,
    (a, b): (NodeId, NodeId),
    out: &mut Vec<Command>,
) {
    let (pa, pb) = (geo.centers[a.index()], geo.centers[b.index()]);
    let (ab, ba) = link_state(f, a, b);
    let visuals = ui.visuals();
    let open = Stroke::new(1.5, visuals.weak_text_color().gamma_multiply(0.6));
    let cut = Stroke::new(2.5, palette::VERMILLION);
    let mid = pa + (pb - pa) * 0.5;
    match (ab, ba) {
        (false, false) => {
            p.line_segment([pa, pb], open);
        }
        (true, true) => {
            p.extend(Shape::dashed_line(&[pa, pb], cut, 6.0, 5.0));
            draw_cut_mark(p, pa, pb, 0.5, cut);
        }
        (true, false) => one_way(p, pa, pb, cut),
        (false, true) => one_way(p, pb, pa, cut),
    }
    let handle = Rect::from_center_size(mid, vec2(16.0, 16.0));
    let resp = ui.interact(handle, ui.scope_id().with(("link", a, b)), Sense::click());
    let label = format!("link {a}–{b}");
    resp.widget_info(|| WidgetInfo::labeled(egui::Role::Button, true, &label));
    let fill = if resp.hovered() {
        visuals.strong_text_color()
    } else {
        visuals.weak_text_color()
    };
    p.circle(mid, 4.5, fill, Stroke::new(1.0, visuals.extreme_bg_color));
    let resp = resp.on_hover_text(format!(
        "{label}: {}. Click to cut or heal.",
        describe_link(a, b, ab, ba)
    ));
    egui::Popup::menu(&resp).show(|ui| link_menu_ui(ui, f, a, b, out));
}

fn describe_link(a: NodeId, b: NodeId, ab: bool, ba: bool) -> String {
    match (ab, ba) {
        (false, false) => "open".into(),
        (true, true) => "cut both ways".into(),
        (true, false) => format!("{a} → {b} cut, {b} → {a} open"),
        (false, true) => format!("{b} → {a} cut, {a} → {b} open"),
    }
}

/// A dashed line with a bar across it near `to`: messages from → to are blocked.
fn one_way(p: &Painter, from: Pos2, to: Pos2, stroke: Stroke) {
    p.extend(Shape::dashed_line(&[from, to], stroke, 6.0, 5.0));
    let dir = (to - from).normalized();
    let tip = from + (to - from) * 0.62;
    let side = vec2(-dir.y, dir.x) * 7.0;
    p.line_segment([tip - dir * 10.0 + side, tip], stroke);
    p.line_segment([tip - dir * 10.0 - side, tip], stroke);
    p.line_segment(
        [tip + side * 1.3, tip - side * 1.3],
        Stroke::new(3.0, stroke.color),
    );
}

fn draw_cut_mark(p: &Painter, a: Pos2, b: Pos2, at: f32, stroke: Stroke) {
    let dir = (b - a).normalized();
    let c = a + (b - a) * at;
    let side = vec2(-dir.y, dir.x) * 9.0;
    for off in [-4.0, 4.0] {
        let o = dir * off;
        p.line_segment([c + o + side, c + o - side], Stroke::new(3.0, stroke.color));
    }
}

fn link_menu_ui(ui: &mut Ui, f: &Frame, a: NodeId, b: NodeId, out: &mut Vec<Command>) {
    let (ab, ba) = link_state(f, a, b);
    ui.strong(format!("Link {a} – {b}"));
    ui.label(describe_link(a, b, ab, ba));
    ui.separator();
    let cut = |one_way, x, y| {
        Command::Apply(Fault::CutLink {
            a: x,
            b: y,
            one_way,
        })
    };
    if ui.button("Cut both ways").clicked() {
        out.push(cut(false, a, b));
    }
    if ui.button(format!("Cut {a} → {b} only")).clicked() {
        out.push(cut(true, a, b));
    }
    if ui.button(format!("Cut {b} → {a} only")).clicked() {
        out.push(cut(true, b, a));
    }
    // Healing removes whole cuts: a partition is one cut over many links.
    for (id, pairs) in &f.cuts {
        let covers = pairs.iter().any(|&p| p == (a, b) || p == (b, a));
        if !covers {
            continue;
        }
        let only_here = pairs
            .iter()
            .all(|&(x, y)| [a, b].contains(&x) && [a, b].contains(&y));
        let text = if only_here {
            format!("Heal this link (cut #{id})")
        } else {
            format!("Heal cut #{id} ({} blocked directions)", pairs.len())
        };
        if ui.button(text).clicked() {
            out.push(Command::Apply(Fault::Unblock(*id)));
        }
    }
}

/// Messages in flight, placed between sender and receiver by how far along their trip they are.
fn draw_messages(p: &Painter, geo: &Geometry, f: &Frame) {
    let outline = Color32::from_black_alpha(160);
    for m in &f.messages {
        if m.from == m.to
            || m.from.index() >= geo.centers.len()
            || m.to.index() >= geo.centers.len()
        {
            continue;
        }
        let span = m.arrives.since(m.sent).max(1) as f32;
        let t = (f.now.since(m.sent) as f32 / span).clamp(0.0, 1.0);
        let (a, b) = (geo.centers[m.from.index()], geo.centers[m.to.index()]);
        let dir = (b - a).normalized();
        // Each direction of a link gets its own lane so opposite messages do not overlap.
        let lane = vec2(-dir.y, dir.x) * 5.0;
        let start = a + dir * geo.node_r;
        let end = b - dir * geo.node_r;
        let pos = start + (end - start) * t + lane;
        let k = f.kinds.iter().position(|k| *k == m.kind).unwrap_or(0);
        palette::draw_glyph(p, palette::glyph(k), pos, 5.0, palette::cycle(k), outline);
    }
}

fn status_glyph(status: NodeStatus) -> &'static str {
    match status {
        NodeStatus::Up => "up",
        NodeStatus::Crashed => "✖ CRASHED",
        NodeStatus::Paused => "⏸ PAUSED",
    }
}

fn node_ui(
    ui: &mut Ui,
    p: &Painter,
    geo: &Geometry,
    info: &NodeInfo,
    f: &Frame,
    st: &mut ClusterState,
    out: &mut Vec<Command>,
) {
    let c = geo.centers[info.id.index()];
    let r = geo.node_r;
    let leader = info.protocol.role == "leader";
    let picked = st.picked.contains(&info.id);
    draw_node(ui, p, c, r, info, leader, picked);
    let rect = Rect::from_center_size(c, vec2(2.0 * r, 2.0 * r));
    let resp = ui.interact(rect, ui.scope_id().with(("node", info.id)), Sense::click());
    let name = info.id.to_string();
    resp.widget_info(|| WidgetInfo::labeled(egui::Role::Button, true, &name));
    let resp = resp.on_hover_ui(|ui| node_details_ui(ui, info));
    if st.partition_tool {
        if resp.clicked() && !st.picked.remove(&info.id) {
            st.picked.insert(info.id);
        }
    } else {
        node_menu(&resp, info, f, out);
    }
}

fn draw_node(ui: &Ui, p: &Painter, c: Pos2, r: f32, n: &NodeInfo, leader: bool, picked: bool) {
    let v = ui.visuals();
    let text = v.strong_text_color();
    let (fill, ink) = match n.status {
        NodeStatus::Up => (palette::BLUE, Color32::WHITE),
        // Opaque, so the links behind a crashed node do not show through it.
        NodeStatus::Crashed if v.dark_mode => (Color32::from_gray(60), v.text_color()),
        NodeStatus::Crashed => (Color32::from_gray(215), v.text_color()),
        NodeStatus::Paused => (palette::ORANGE, Color32::BLACK),
    };
    if picked {
        p.circle_stroke(c, r + 7.0, Stroke::new(3.0, palette::PURPLE));
    }
    if leader {
        p.circle_stroke(c, r + 3.5, Stroke::new(3.5, palette::YELLOW));
        // A thin outline keeps the yellow ring visible on the light theme too.
        p.circle_stroke(c, r + 5.8, Stroke::new(1.0, text));
    }
    p.circle(c, r, fill, Stroke::new(2.0, text));
    let name_font = FontId::proportional((r * 0.7).max(13.0));
    p.text(c, Align2::CENTER_CENTER, n.id.to_string(), name_font, ink);
    // A badge at the top right tells the status by shape as well as colour.
    let badge = match n.status {
        NodeStatus::Up => None,
        NodeStatus::Crashed => Some(("✖", palette::VERMILLION, Color32::WHITE)),
        NodeStatus::Paused => Some(("⏸", Color32::from_gray(40), Color32::WHITE)),
    };
    if let Some((symbol, bg, fg)) = badge {
        let at = c + vec2(0.72 * r, -0.72 * r);
        let br = (r * 0.45).max(9.0);
        p.circle(at, br, bg, Stroke::new(1.5, text));
        p.text(
            at,
            Align2::CENTER_CENTER,
            symbol,
            FontId::proportional(br * 1.2),
            fg,
        );
    }
    node_labels(ui, p, c + vec2(0.0, r + 4.0), n, leader);
}

/// Text with a backdrop in the panel colour, so it stays readable over links.
fn text_bg(
    ui: &Ui,
    p: &Painter,
    at: Pos2,
    align: Align2,
    text: String,
    font: FontId,
    color: Color32,
) {
    let galley = p.layout_no_wrap(text, font, color);
    let rect = align.anchor_size(at, galley.size());
    let bg = ui.visuals().panel_fill.gamma_multiply(0.85);
    p.rect_filled(rect.expand(1.5), 3.0, bg);
    p.galley(rect.min, galley, color);
}

/// Role, status, lag bar and clock skew under the node.
fn node_labels(ui: &Ui, p: &Painter, top: Pos2, n: &NodeInfo, leader: bool) {
    let v = ui.visuals();
    let font = FontId::proportional(12.5);
    let role = if leader {
        "★ leader".to_string()
    } else {
        n.protocol.role.to_string()
    };
    let status = status_glyph(n.status);
    let line1 = if n.status == NodeStatus::Up {
        role
    } else {
        format!("{role} · {status}")
    };
    let status_color = match n.status {
        NodeStatus::Up => v.text_color(),
        _ => palette::VERMILLION,
    };
    let mut y = top.y;
    text_bg(
        ui,
        p,
        pos2(top.x, y),
        Align2::CENTER_TOP,
        line1,
        font.clone(),
        status_color,
    );
    y += 16.0;
    lag_bar(ui, p, pos2(top.x, y), n.lag_us);
    y += 13.0;
    if n.skew_us != 0 || n.drift_ppm != 0 {
        let text = format!(
            "clock {:+.1} ms{}",
            n.skew_us as f64 / 1000.0,
            if n.drift_ppm != 0 {
                format!(" {:+} ppm", n.drift_ppm)
            } else {
                String::new()
            }
        );
        text_bg(
            ui,
            p,
            pos2(top.x, y),
            Align2::CENTER_TOP,
            text,
            font,
            palette::PURPLE,
        );
    }
}

/// Replication lag as a bar (log scale up to 2 s) with its value to its right, the two centred
/// under `top` (the layout reserves `LAG_ROW_HALF` either side).
fn lag_bar(ui: &Ui, p: &Painter, top: Pos2, lag_us: u64) {
    let v = ui.visuals();
    let lag_ms = lag_us as f64 / 1000.0;
    let frac = ((1.0 + lag_ms).ln() / (1.0 + 2000.0f64).ln()).clamp(0.0, 1.0) as f32;
    let width = 44.0;
    let left = top.x - LAG_ROW_HALF + 2.0;
    let bar = Rect::from_min_size(pos2(left, top.y + 3.0), vec2(width, 6.0));
    p.rect_filled(bar.expand(2.0), 3.0, v.panel_fill.gamma_multiply(0.85));
    p.rect_filled(bar, 2.0, v.extreme_bg_color);
    let mut filled = bar;
    filled.set_width(width * frac);
    p.rect_filled(filled, 2.0, palette::VERMILLION);
    let outline = Stroke::new(1.0, v.weak_text_color());
    p.rect_stroke(bar, 2.0, outline, egui::StrokeKind::Outside);
    let text = format!("lag {}", fmt_ms(lag_ms));
    let font = FontId::proportional(11.5);
    let at = pos2(bar.right() + 4.0, top.y);
    text_bg(ui, p, at, Align2::LEFT_TOP, text, font, v.text_color());
}

pub fn fmt_ms(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else if ms >= 10.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

fn node_details_ui(ui: &mut Ui, n: &NodeInfo) {
    ui.strong(format!(
        "{} — {} ({})",
        n.id,
        n.protocol.role,
        n.status.as_str()
    ));
    ui.label(format!(
        "replication lag {}",
        fmt_ms(n.lag_us as f64 / 1000.0)
    ));
    ui.label(format!(
        "local clock {:.3} ms (skew {:+.1} ms, drift {} ppm)",
        n.local_time_us as f64 / 1000.0,
        n.skew_us as f64 / 1000.0,
        n.drift_ppm
    ));
    if let Some(t) = n.protocol.term {
        ui.label(format!("term {t}"));
    }
    if let Some(l) = n.protocol.log_len {
        ui.label(format!("log length {l}"));
    }
    if let Some(c) = n.protocol.commit_index {
        ui.label(format!("commit index {c}"));
    }
    for (k, v) in &n.protocol.details {
        ui.label(format!("{k}: {v}"));
    }
    if n.inbox > 0 {
        ui.label(format!("{} items waiting in its inbox", n.inbox));
    }
    ui.weak("Click for crash / restart / pause / resume / wipe disk");
}

fn node_menu(resp: &Response, n: &NodeInfo, f: &Frame, out: &mut Vec<Command>) {
    egui::Popup::menu(resp).show(|ui| {
        let id = n.id;
        ui.strong(format!("{id} — {}", n.status.as_str()));
        ui.separator();
        let up = n.status == NodeStatus::Up;
        let actions = [
            (
                format!("Crash {id}"),
                n.status != NodeStatus::Crashed,
                Fault::Crash(id),
            ),
            (
                format!("Restart {id}"),
                n.status == NodeStatus::Crashed,
                Fault::Restart(id),
            ),
            (format!("Pause {id}"), up, Fault::Pause(id)),
            (
                format!("Resume {id}"),
                n.status == NodeStatus::Paused,
                Fault::Resume(id),
            ),
            // A crash that loses the disk too; the node rebuilds from the others on restart.
            (format!("Wipe {id}'s disk"), true, Fault::WipeDisk(id)),
        ];
        for (label, enabled, fault) in actions {
            if ui.add_enabled(enabled, egui::Button::new(label)).clicked() {
                out.push(Command::Apply(fault));
            }
        }
        if f.nodes.len() > 1 && ui.button(format!("Isolate {id} from the rest")).clicked() {
            out.push(Command::Apply(Fault::Partition(vec![vec![id]])));
        }
    });
}

/// Draws the legends; returns the right edge of the message legend in the top-left corner
/// (`rect.left()` when it is empty) and the top of the lines along the bottom.
fn legend(ui: &Ui, p: &Painter, rect: Rect, f: &Frame) -> (f32, f32) {
    let v = ui.visuals();
    let font = FontId::proportional(12.0);
    let mut y = rect.top() + 6.0;
    let x = rect.left() + 8.0;
    // Only the kinds this run has used: a policy may know many (16 for leaderless, most of
    // them for features a lesson leaves off).
    let used: Vec<(usize, &&str)> = f
        .kinds
        .iter()
        .enumerate()
        .filter(|(i, _)| f.kinds_sent & (1u64 << (*i as u64 & 63)) != 0)
        .collect();
    if !used.is_empty() {
        p.text(
            pos2(x, y),
            Align2::LEFT_TOP,
            "Messages",
            font.clone(),
            v.strong_text_color(),
        );
        y += 16.0;
    }
    let mut right = rect.left();
    for (i, kind) in used {
        let g: Glyph = palette::glyph(i);
        palette::draw_glyph(
            p,
            g,
            pos2(x + 6.0, y + 7.0),
            5.0,
            palette::cycle(i),
            Color32::BLACK,
        );
        let text = p.text(
            pos2(x + 16.0, y),
            Align2::LEFT_TOP,
            *kind,
            font.clone(),
            v.text_color(),
        );
        right = right.max(text.right());
        y += 16.0;
    }
    // Reserve the widest name of every kind the policy has, used yet or not, so the nodes do
    // not jump sideways when the first messages of a run fill the legend.
    for kind in f.kinds {
        let galley = p.layout_no_wrap(kind.to_string(), font.clone(), v.text_color());
        right = right.max(x + 16.0 + galley.size().x);
    }
    let inflight = f.messages.len();
    let inflight = format!(
        "{inflight} message{} in flight",
        if inflight == 1 { "" } else { "s" }
    );
    // All bottom left: the bottom-right corner is where presenter mode folds its notes.
    let lines = [
        inflight.as_str(),
        "grey ✖ crashed · orange ⏸ paused",
        "yellow ring ★ leader",
        "dashed ✂ cut · bar across: one way",
    ];
    let top = rect.bottom() - 6.0 - 15.0 * lines.len() as f32;
    for (i, l) in lines.into_iter().enumerate() {
        p.text(
            pos2(x, top + 15.0 * i as f32),
            Align2::LEFT_TOP,
            l,
            font.clone(),
            v.weak_text_color(),
        );
    }
    (right, top)
}
