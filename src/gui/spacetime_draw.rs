//! Drawing the space-time diagram built by [`super::spacetime::build`]: lanes, axis, spans, arrows,
//! client marks, and the hover / click / zoom handling.

use super::spacetime::{
    Arrow, Diagram, Fate, MAX_SPAN_MS, MIN_SPAN_MS, SpaceTimeState, SpanKind, build, window,
};
use crate::check::history::EventType;
use crate::gui::palette;
use crate::gui::worker::Frame;
use crate::types::{NodeId, SimTime};
use eframe::egui::{
    self, Color32, Pos2, Rect, RichText, Sense, Stroke, Ui, WidgetInfo, pos2, vec2,
};

/// Where the diagram's parts go on screen: the drawing and the pointer's hit test both place
/// arrows with it (public so that UI tests can point at a real arrow).
pub struct Geometry {
    rect: Rect,
    plot: Rect,
    from: SimTime,
    until: SimTime,
    lane_h: f32,
}

impl Geometry {
    /// The layout of `d` drawn in `rect` (the diagram's whole area, axis and lane names included).
    pub fn new(rect: Rect, d: &Diagram) -> Geometry {
        let plot = Rect::from_min_max(rect.min + vec2(46.0, 26.0), rect.max - vec2(14.0, 8.0));
        Geometry {
            rect,
            plot,
            from: d.from,
            until: d.until,
            lane_h: plot.height() / d.nodes.max(1) as f32,
        }
    }

    fn x(&self, t: SimTime) -> f32 {
        let span = self.until.0.saturating_sub(self.from.0).max(1) as f64;
        let frac = t.0.saturating_sub(self.from.0) as f64 / span;
        self.plot.left() + (frac.min(1.0) as f32) * self.plot.width()
    }

    fn y(&self, n: NodeId) -> f32 {
        self.plot.top() + (n.index() as f32 + 0.5) * self.lane_h
    }

    /// The arrow's two ends on screen, at the current time `now`.
    pub fn ends(&self, a: &Arrow, now: SimTime) -> (Pos2, Pos2) {
        let start = pos2(self.x(a.sent), self.y(a.from));
        let (y0, y1) = (self.y(a.from), self.y(a.to));
        let end = match a.fate {
            Fate::Delivered => pos2(self.x(a.end), y1),
            // Cut short towards the receiver where it was lost (as in the SVG export).
            Fate::Dropped => pos2(self.x(a.end).max(start.x + 6.0), y0 + (y1 - y0) * 0.4),
            Fate::InFlight => {
                let total = a.end.since(a.sent).max(1) as f32;
                let done = (now.since(a.sent) as f32 / total).clamp(0.0, 1.0);
                pos2(self.x(now), y0 + (y1 - y0) * done)
            }
        };
        (start, end)
    }
}

/// The accessible name of the diagram's area.
pub const DIAGRAM_LABEL: &str = "space-time diagram";

/// The diagram panel: a header (window, zoom, counts) above the lanes.
pub fn spacetime_ui(ui: &mut Ui, f: &Frame, state: &mut SpaceTimeState) {
    let (from, until) = window(f.now, state.span_ms);
    let d = build(f, from, until);
    header_ui(ui, f, state, &d);
    let size = ui.available_size_before_wrap().max(vec2(200.0, 120.0));
    let (rect, resp) = ui.allocate_exact_size(size, Sense::click());
    // Named for screen readers (and for UI tests, which find the diagram's area by this label).
    resp.widget_info(|| WidgetInfo::labeled(egui::Role::Canvas, true, DIAGRAM_LABEL));
    let g = Geometry::new(rect, &d);
    let p = ui.painter_at(rect);
    p.rect_filled(rect, 4.0, ui.visuals().extreme_bg_color);
    draw_spans(&p, &g, &d);
    draw_axis(&p, ui, &g);
    draw_lanes(ui, &p, &g, d.nodes);
    let hovered = resp
        .hover_pos()
        .and_then(|pos| nearest_arrow(&g, &d, f.now, pos));
    draw_arrows(&p, &g, &d, f.now, state, hovered);
    draw_marks(&p, &g, &d);
    if f.now >= from {
        let x = g.x(f.now);
        let c = ui.visuals().strong_text_color();
        p.line_segment(
            [pos2(x, g.plot.top() - 4.0), pos2(x, g.plot.bottom())],
            Stroke::new(1.5, c),
        );
    }
    if resp.hovered() {
        let scroll = ui.input(|i| i.smooth_scroll_delta.y + 200.0 * (i.zoom_delta() - 1.0));
        if scroll != 0.0 {
            state.span_ms =
                (state.span_ms * (-scroll as f64 * 0.004).exp()).clamp(MIN_SPAN_MS, MAX_SPAN_MS);
        }
    }
    if resp.clicked() {
        state.selected = hovered.map(|i| d.arrows[i].id);
    }
    if let Some(i) = hovered {
        resp.on_hover_text_at_pointer(describe(f, &d.arrows[i]));
    }
}

fn header_ui(ui: &mut Ui, f: &Frame, state: &mut SpaceTimeState, d: &Diagram) {
    ui.horizontal_wrapped(|ui| {
        if ui
            .button("−")
            .on_hover_text("Zoom out (mouse wheel)")
            .clicked()
        {
            state.span_ms = (state.span_ms * 2.0).min(MAX_SPAN_MS);
        }
        if ui
            .button("+")
            .on_hover_text("Zoom in (mouse wheel)")
            .clicked()
        {
            state.span_ms = (state.span_ms / 2.0).max(MIN_SPAN_MS);
        }
        let mut caption = format!(
            "{}–{} ms: {} messages sent",
            ms(d.from),
            ms(d.until),
            d.messages()
        );
        if d.left_out > 0 {
            caption += &format!(" ({} not drawn)", d.left_out);
        }
        if d.truncated {
            caption += " (older traffic not kept)";
        }
        ui.label(caption);
        ui.add_space(8.0);
        let mut used: Vec<usize> = d.arrows.iter().map(|a| a.kind).collect();
        used.sort_unstable();
        used.dedup();
        for k in used {
            let name = f.kinds.get(k).copied().unwrap_or("message");
            let legend = RichText::new(format!("— {name}")).color(palette::cycle(k));
            ui.add(egui::Label::new(legend).wrap_mode(egui::TextWrapMode::Extend));
        }
    });
    // Always one line, so that selecting does not move the lanes (and the arrows) under the
    // pointer that just clicked.
    match state
        .selected
        .and_then(|id| d.arrows.iter().find(|a| a.id == id))
    {
        Some(a) => ui.label(RichText::new(format!("selected: {}", describe(f, a))).strong()),
        None => ui.weak("Hover an arrow to name its message, click it to select it."),
    };
}

fn ms(t: SimTime) -> String {
    let v = t.0 as f64 / 1000.0;
    if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// "Write n1 → n3, sent 812.4 ms, delivered 815.0 ms (msg #4411)".
pub fn describe(f: &Frame, a: &Arrow) -> String {
    let kind = f.kinds.get(a.kind).copied().unwrap_or("message");
    let end = match a.fate {
        Fate::Delivered => format!("delivered {:.3} ms", a.end.0 as f64 / 1000.0),
        Fate::Dropped => format!("dropped {:.3} ms", a.end.0 as f64 / 1000.0),
        Fate::InFlight => format!("in flight, arrives {:.3} ms", a.end.0 as f64 / 1000.0),
    };
    format!(
        "{kind} {} → {}, sent {:.3} ms, {end} (msg #{})",
        a.from,
        a.to,
        a.sent.0 as f64 / 1000.0,
        a.id
    )
}

fn draw_spans(p: &egui::Painter, g: &Geometry, d: &Diagram) {
    for s in &d.spans {
        let (x0, x1) = (
            g.x(s.from.max(d.from)),
            g.x(s.until).max(g.x(s.from.max(d.from)) + 2.0),
        );
        let (rect, color, label) = match (s.node, s.kind) {
            (Some(n), kind) => {
                let y = g.y(n);
                let h = (g.lane_h * 0.7).min(40.0);
                let (c, l) = match kind {
                    SpanKind::Paused => (palette::SKY_BLUE, "paused"),
                    _ => (palette::VERMILLION, "crashed"),
                };
                (
                    Rect::from_x_y_ranges(x0..=x1, (y - h / 2.0)..=(y + h / 2.0)),
                    c,
                    l,
                )
            }
            (None, _) => (
                Rect::from_x_y_ranges(x0..=x1, g.plot.top()..=g.plot.bottom()),
                palette::PURPLE,
                "✂ partition",
            ),
        };
        p.rect_filled(rect, 0.0, color.gamma_multiply(0.16));
        p.rect_stroke(
            rect,
            0.0,
            Stroke::new(1.0, color.gamma_multiply(0.6)),
            egui::StrokeKind::Inside,
        );
        p.text(
            rect.left_top() + vec2(3.0, 1.0),
            egui::Align2::LEFT_TOP,
            label,
            egui::FontId::proportional(11.0),
            color,
        );
    }
}

/// A round step (1, 2 or 5 times a power of ten) giving four to eight ticks over `span_ms`.
fn tick_step_ms(span_ms: f64) -> f64 {
    // At most eight ticks: labels stay apart even in presenter mode's narrow diagram.
    let raw = span_ms / 8.0;
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag)
}

fn draw_axis(p: &egui::Painter, ui: &Ui, g: &Geometry) {
    let (from_ms, until_ms) = (g.from.0 as f64 / 1000.0, g.until.0 as f64 / 1000.0);
    let step = tick_step_ms((until_ms - from_ms).max(0.001));
    let mut t = (from_ms / step).ceil() * step;
    let weak = ui.visuals().weak_text_color();
    let grid = ui.visuals().widgets.noninteractive.bg_stroke.color;
    while t <= until_ms + 1e-9 {
        let x = g.x(SimTime::from_ms(t));
        p.line_segment(
            [pos2(x, g.plot.top() - 4.0), pos2(x, g.plot.bottom())],
            Stroke::new(1.0, grid),
        );
        let label = if step >= 1.0 {
            format!("{t:.0}")
        } else {
            format!("{t:.1}")
        };
        p.text(
            pos2(x, g.rect.top() + 3.0),
            egui::Align2::CENTER_TOP,
            label,
            egui::FontId::proportional(12.0),
            weak,
        );
        t += step;
    }
    p.text(
        pos2(g.rect.left() + 6.0, g.rect.top() + 3.0),
        egui::Align2::LEFT_TOP,
        "ms",
        egui::FontId::proportional(12.0),
        weak,
    );
}

fn draw_lanes(ui: &mut Ui, p: &egui::Painter, g: &Geometry, nodes: usize) {
    let stroke = Stroke::new(1.5, ui.visuals().text_color().gamma_multiply(0.7));
    for i in 0..nodes {
        let n = NodeId(i as u16);
        let y = g.y(n);
        p.line_segment([pos2(g.plot.left(), y), pos2(g.plot.right(), y)], stroke);
        // A real label (not painted text) so that screen readers and tests find the lanes.
        let at = Rect::from_min_max(
            pos2(g.rect.left() + 4.0, y - 10.0),
            pos2(g.plot.left() - 4.0, y + 10.0),
        );
        ui.put(
            at,
            egui::Label::new(RichText::new(n.to_string()).strong()).selectable(false),
        );
    }
}

fn draw_arrows(
    p: &egui::Painter,
    g: &Geometry,
    d: &Diagram,
    now: SimTime,
    state: &SpaceTimeState,
    hovered: Option<usize>,
) {
    for (i, a) in d.arrows.iter().enumerate() {
        let (s, e) = g.ends(a, now);
        let color = palette::cycle(a.kind);
        let thick =
            state.highlight.contains(&a.id) || state.selected == Some(a.id) || hovered == Some(i);
        let stroke = Stroke::new(if thick { 3.5 } else { 1.3 }, color);
        match a.fate {
            Fate::Delivered => {
                p.line_segment([s, e], stroke);
                arrow_head(p, s, e, color, if thick { 9.0 } else { 6.0 });
            }
            Fate::Dropped => {
                p.add(egui::Shape::dashed_line(&[s, e], stroke, 4.0, 3.0));
                let r = 4.0;
                let x = Stroke::new(2.0, palette::VERMILLION);
                p.line_segment([e + vec2(-r, -r), e + vec2(r, r)], x);
                p.line_segment([e + vec2(-r, r), e + vec2(r, -r)], x);
            }
            Fate::InFlight => {
                // Faded rather than dashed: a busy run has thousands in flight, and dashes
                // cost a shape each.
                let faded = Stroke::new(stroke.width, color.gamma_multiply(0.55));
                p.line_segment([s, e], faded);
                p.circle_filled(e, 2.5, color);
            }
        }
    }
}

fn arrow_head(p: &egui::Painter, s: Pos2, e: Pos2, color: Color32, len: f32) {
    let dir = (e - s).normalized();
    if !dir.x.is_finite() {
        return;
    }
    let side = vec2(-dir.y, dir.x) * len * 0.45;
    let back = e - dir * len;
    p.add(egui::Shape::convex_polygon(
        vec![e, back + side, back - side],
        color,
        Stroke::NONE,
    ));
}

fn draw_marks(p: &egui::Painter, g: &Geometry, d: &Diagram) {
    for m in &d.marks {
        let c = pos2(g.x(m.at), g.y(m.node));
        match m.outcome {
            None => {
                p.circle_stroke(c, 4.0, Stroke::new(1.5, palette::GREY));
            }
            Some(outcome) => {
                let fill = match outcome {
                    EventType::Ok => palette::GREEN,
                    EventType::Fail => palette::VERMILLION,
                    _ => palette::YELLOW,
                };
                let r = Rect::from_center_size(c, vec2(7.0, 7.0));
                p.rect_filled(r, 0.0, fill);
            }
        }
    }
}

/// The arrow nearest the pointer, if one passes within a few points of it.
fn nearest_arrow(g: &Geometry, d: &Diagram, now: SimTime, pos: Pos2) -> Option<usize> {
    let mut best = None;
    let mut best_dist = 6.0f32;
    for (i, a) in d.arrows.iter().enumerate() {
        let (s, e) = g.ends(a, now);
        let dist = distance_to_segment(pos, s, e);
        if dist < best_dist {
            (best, best_dist) = (Some(i), dist);
        }
    }
    best
}

fn distance_to_segment(p: Pos2, a: Pos2, b: Pos2) -> f32 {
    let ab = b - a;
    let len2 = ab.length_sq();
    let t = if len2 > 0.0 {
        ((p - a).dot(ab) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    (a + ab * t - p).length()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_four_to_eight() {
        for span in [0.7, 3.0, 200.0, 1_234.0, 50_000.0] {
            let step = tick_step_ms(span);
            let n = span / step;
            assert!((3.0..=8.0).contains(&n), "{span} ms / {step} = {n} ticks");
            let mantissa = step / 10f64.powf(step.log10().floor());
            assert!(
                [1.0, 2.0, 5.0].iter().any(|m| (m - mantissa).abs() < 1e-9),
                "{step}"
            );
        }
    }

    #[test]
    fn distance_to_a_segment_is_measured_to_its_nearest_point() {
        let (a, b) = (pos2(0.0, 0.0), pos2(10.0, 0.0));
        assert_eq!(distance_to_segment(pos2(5.0, 3.0), a, b), 3.0);
        assert_eq!(distance_to_segment(pos2(14.0, 3.0), a, b), 5.0);
    }

    #[test]
    fn the_pointer_picks_the_arrow_under_it_and_in_flight_arrows_stop_at_now() {
        let ms = SimTime::from_ms;
        let arrow = |id, fate, end| Arrow {
            id,
            from: NodeId(0),
            to: NodeId(1),
            kind: 0,
            sent: ms(10.0),
            end,
            fate,
        };
        let d = Diagram {
            from: ms(0.0),
            until: ms(100.0),
            nodes: 2,
            arrows: vec![
                arrow(7, Fate::Delivered, ms(30.0)),
                arrow(8, Fate::InFlight, ms(200.0)),
            ],
            ..Diagram::default()
        };
        let g = Geometry::new(Rect::from_min_size(pos2(0.0, 0.0), vec2(1060.0, 434.0)), &d);
        let (s, e) = g.ends(&d.arrows[0], ms(100.0));
        assert_eq!((s.y, e.y), (g.y(NodeId(0)), g.y(NodeId(1))));
        assert_eq!(nearest_arrow(&g, &d, ms(100.0), s + (e - s) * 0.5), Some(0));
        assert_eq!(nearest_arrow(&g, &d, ms(100.0), s + vec2(-40.0, 0.0)), None);
        // Sent at 10 ms, due at 200 ms, now 100 ms: drawn to the right edge, under half way down.
        let (_, tip) = g.ends(&d.arrows[1], ms(100.0));
        assert_eq!(tip.x, g.plot.right());
        let frac = (tip.y - g.y(NodeId(0))) / (g.y(NodeId(1)) - g.y(NodeId(0)));
        assert!((frac - 90.0 / 190.0).abs() < 1e-3, "{frac}");
    }
}
