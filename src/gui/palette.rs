//! Colours and shapes that survive a projector and colour-blind viewers: the Okabe–Ito palette,
//! and every colour paired with a shape or a label so that nothing is told by colour alone.

use eframe::egui::{Color32, Painter, Pos2, Shape, Stroke, pos2, vec2};

/// Okabe & Ito (2008), "Color Universal Design": distinguishable with every common colour-vision
/// deficiency.
pub const ORANGE: Color32 = Color32::from_rgb(230, 159, 0);
pub const SKY_BLUE: Color32 = Color32::from_rgb(86, 180, 233);
pub const GREEN: Color32 = Color32::from_rgb(0, 158, 115);
pub const YELLOW: Color32 = Color32::from_rgb(240, 228, 66);
pub const BLUE: Color32 = Color32::from_rgb(0, 114, 178);
pub const VERMILLION: Color32 = Color32::from_rgb(213, 94, 0);
pub const PURPLE: Color32 = Color32::from_rgb(204, 121, 167);
pub const GREY: Color32 = Color32::from_rgb(128, 128, 128);

/// Series and message-kind colours, in order (yellow last: it is hard to see on white).
pub const CYCLE: [Color32; 7] = [BLUE, ORANGE, GREEN, VERMILLION, PURPLE, SKY_BLUE, YELLOW];

pub fn cycle(i: usize) -> Color32 {
    CYCLE[i % CYCLE.len()]
}

/// The marker shape for message kind `i` (paired with its colour in the legend).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Glyph {
    Circle,
    Square,
    Triangle,
    Diamond,
    Cross,
}

const GLYPHS: [Glyph; 5] = [
    Glyph::Circle,
    Glyph::Square,
    Glyph::Triangle,
    Glyph::Diamond,
    Glyph::Cross,
];

pub fn glyph(i: usize) -> Glyph {
    GLYPHS[i % GLYPHS.len()]
}

/// Draws a glyph of half-size `r` centred at `c`, with a thin outline so it stands out on links.
pub fn draw_glyph(p: &Painter, g: Glyph, c: Pos2, r: f32, fill: Color32, outline: Color32) {
    let stroke = Stroke::new(1.0, outline);
    match g {
        Glyph::Circle => {
            p.circle(c, r, fill, stroke);
        }
        Glyph::Square => {
            let rect = eframe::egui::Rect::from_center_size(c, vec2(1.8 * r, 1.8 * r));
            p.rect(rect, 0.0, fill, stroke, eframe::egui::StrokeKind::Middle);
        }
        Glyph::Triangle => {
            let pts = vec![
                pos2(c.x, c.y - 1.2 * r),
                pos2(c.x + 1.1 * r, c.y + 0.8 * r),
                pos2(c.x - 1.1 * r, c.y + 0.8 * r),
            ];
            p.add(Shape::convex_polygon(pts, fill, stroke));
        }
        Glyph::Diamond => {
            let pts = vec![
                pos2(c.x, c.y - 1.3 * r),
                pos2(c.x + 1.3 * r, c.y),
                pos2(c.x, c.y + 1.3 * r),
                pos2(c.x - 1.3 * r, c.y),
            ];
            p.add(Shape::convex_polygon(pts, fill, stroke));
        }
        Glyph::Cross => {
            let w = Stroke::new(r * 0.9, fill);
            p.line_segment([c + vec2(-r, -r), c + vec2(r, r)], w);
            p.line_segment([c + vec2(-r, r), c + vec2(r, -r)], w);
        }
    }
}
