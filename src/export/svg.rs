//! A space-time diagram as SVG text (the lanes-and-arrows view of ShiViz or Maelstrom): one
//! horizontal lane per node, time running left to right, one arrow per delivered message from
//! the sender at send time to the receiver at delivery time, coloured by message kind. Dropped
//! messages end in an ×; crashes, restarts, partitions and heals are marks on the lanes.
//!
//! Built by hand as text (no SVG dependency) from the trace the engine records, bounded to a
//! time window and a number of arrows so that a long run still gives a file a browser can open.

use crate::trace::{FaultEvent, Stamped, TraceEvent};
use crate::types::{NodeId, SimTime};
use std::fmt::Write;

/// Most arrows (delivered plus dropped messages) drawn; the caption counts the rest.
pub const MAX_ARROWS: usize = 2000;

/// Colours for message kinds, by kind index (wrapping for policies with more kinds).
const PALETTE: [&str; 16] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf", "#393b79", "#e7ba52", "#637939", "#843c39", "#7b4173", "#3182bd",
];

const WIDTH: f64 = 1200.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 30.0;
const TOP: f64 = 60.0;
const LANE_GAP: f64 = 48.0;

struct Arrow {
    from: NodeId,
    to: NodeId,
    kind: u8,
    sent: SimTime,
    /// Delivery time, or drop time for a dropped message.
    end: SimTime,
    dropped: bool,
}

struct FaultMark {
    at: SimTime,
    /// `None`: the fault concerns every node (a heal).
    node: Option<NodeId>,
    label: &'static str,
}

/// Collects the drawable part of a trace within `[from, until]`.
pub struct SpaceTime {
    from: SimTime,
    until: SimTime,
    nodes: usize,
    kinds: &'static [&'static str],
    arrows: Vec<Arrow>,
    faults: Vec<FaultMark>,
    left_out: u64,
}

impl SpaceTime {
    pub fn new(
        from: SimTime,
        until: SimTime,
        nodes: usize,
        kinds: &'static [&'static str],
    ) -> Self {
        SpaceTime {
            from,
            until,
            nodes,
            kinds,
            arrows: Vec::new(),
            faults: Vec::new(),
            left_out: 0,
        }
    }

    /// Takes one trace event (in trace order); events outside the window are ignored.
    pub fn observe(&mut self, e: &Stamped) {
        if e.at < self.from || e.at > self.until {
            return;
        }
        let arrow = match &e.event {
            TraceEvent::Deliver {
                from,
                to,
                kind,
                sent,
                ..
            }
            | TraceEvent::Drop {
                from,
                to,
                kind,
                sent,
                ..
            } if *sent >= self.from => Arrow {
                from: *from,
                to: *to,
                kind: *kind,
                sent: *sent,
                end: e.at,
                dropped: matches!(e.event, TraceEvent::Drop { .. }),
            },
            TraceEvent::Fault(f) => {
                self.observe_fault(e.at, f);
                return;
            }
            _ => return,
        };
        if self.arrows.len() < MAX_ARROWS {
            self.arrows.push(arrow);
        } else {
            self.left_out += 1;
        }
    }

    fn observe_fault(&mut self, at: SimTime, f: &FaultEvent) {
        let mut mark =
            |node: Option<NodeId>, label| self.faults.push(FaultMark { at, node, label });
        match f {
            FaultEvent::Crash(n) => mark(Some(*n), "crash"),
            FaultEvent::Restart(n) => mark(Some(*n), "restart"),
            FaultEvent::Pause(n) => mark(Some(*n), "pause"),
            FaultEvent::Resume(n) => mark(Some(*n), "resume"),
            FaultEvent::WipeDisk(n) => mark(Some(*n), "wipe"),
            FaultEvent::Block { from, to, .. } => {
                let mut nodes: Vec<NodeId> = from.iter().chain(to).copied().collect();
                nodes.sort();
                nodes.dedup();
                nodes.into_iter().for_each(|n| mark(Some(n), "cut"));
            }
            FaultEvent::Unblock { .. } | FaultEvent::HealAll => mark(None, "heal"),
            _ => {}
        }
    }

    /// How many arrows were not drawn because of [`MAX_ARROWS`].
    pub fn left_out(&self) -> u64 {
        self.left_out
    }

    pub fn arrows(&self) -> usize {
        self.arrows.len()
    }

    fn x(&self, t: SimTime) -> f64 {
        let span = self.until.0.saturating_sub(self.from.0).max(1) as f64;
        LEFT + (t.0.saturating_sub(self.from.0) as f64 / span) * (WIDTH - LEFT - RIGHT)
    }

    fn y(&self, n: NodeId) -> f64 {
        TOP + n.index() as f64 * LANE_GAP
    }

    fn lanes_bottom(&self) -> f64 {
        TOP + (self.nodes.max(1) - 1) as f64 * LANE_GAP
    }

    /// The whole SVG document.
    pub fn render(&self, title: &str) -> String {
        let height = self.lanes_bottom() + 130.0;
        let mut s = String::new();
        let _ = writeln!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height:.0}" viewBox="0 0 {WIDTH} {height:.0}" font-family="sans-serif" font-size="12">"#
        );
        let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
        self.render_markers(&mut s);
        let _ = writeln!(
            s,
            r#"<text x="{LEFT}" y="20" font-size="15" font-weight="bold">{}</text>"#,
            escape(title)
        );
        self.render_axis(&mut s);
        self.render_lanes(&mut s);
        self.render_arrows(&mut s);
        self.render_faults(&mut s);
        self.render_legend(&mut s, height);
        s.push_str("</svg>\n");
        s
    }

    fn render_markers(&self, s: &mut String) {
        s.push_str("<defs>\n");
        for (i, _) in self.kinds.iter().enumerate() {
            let _ = writeln!(
                s,
                r#"<marker id="head-{i}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{}"/></marker>"#,
                colour(i)
            );
        }
        s.push_str("</defs>\n");
    }

    fn render_axis(&self, s: &mut String) {
        let y = TOP - 22.0;
        let span_ms = (self.until.0.saturating_sub(self.from.0)) as f64 / 1000.0;
        let _ = writeln!(s, "<g class=\"axis\" stroke=\"#999\">");
        for i in 0..=10 {
            let t = SimTime(self.from.0 + (span_ms * 1000.0 * i as f64 / 10.0) as u64);
            let x = self.x(t);
            let _ = writeln!(
                s,
                "<line x1=\"{x:.1}\" y1=\"{y:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke-dasharray=\"2,4\"/>",
                self.lanes_bottom() + 10.0
            );
            let _ = writeln!(
                s,
                "<text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\" stroke=\"none\" fill=\"#555\">{:.1}</text>",
                y - 4.0,
                t.0 as f64 / 1000.0
            );
        }
        let _ = writeln!(
            s,
            // At the far left: the first tick's label, centred on the lane start, reaches past it.
            "<text x=\"10\" y=\"{:.1}\" stroke=\"none\" fill=\"#555\">ms</text>",
            y - 4.0
        );
        s.push_str("</g>\n");
    }

    fn render_lanes(&self, s: &mut String) {
        for i in 0..self.nodes {
            let node = NodeId(i as u16);
            let y = self.y(node);
            let _ = writeln!(
                s,
                "<g class=\"lane\" id=\"lane-{node}\"><line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#333\" stroke-width=\"1.5\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" font-weight=\"bold\">{node}</text></g>",
                WIDTH - RIGHT,
                LEFT - 10.0,
                y + 4.0
            );
        }
    }

    fn render_arrows(&self, s: &mut String) {
        s.push_str("<g class=\"messages\" stroke-width=\"1.2\" fill=\"none\">\n");
        for a in &self.arrows {
            let k = a.kind as usize;
            let (x1, y1) = (self.x(a.sent), self.y(a.from));
            let (x2, y2) = if a.dropped {
                // A short arrow towards the receiver, cut off where the message was lost.
                let toward = y1 + (self.y(a.to) - y1) * 0.4;
                (self.x(a.end).max(x1 + 6.0), toward)
            } else {
                (self.x(a.end), self.y(a.to))
            };
            let kind = escape(self.kinds.get(k).copied().unwrap_or("message"));
            if a.dropped {
                let _ = writeln!(
                    s,
                    "<g class=\"drop\"><title>{kind} {} → {} dropped</title><line x1=\"{x1:.1}\" y1=\"{y1:.1}\" x2=\"{x2:.1}\" y2=\"{y2:.1}\" stroke=\"{c}\" stroke-dasharray=\"3,2\"/><path d=\"M{:.1},{:.1} l8,8 m0,-8 l-8,8\" stroke=\"{c}\" stroke-width=\"2\"/></g>",
                    a.from,
                    a.to,
                    x2 - 4.0,
                    y2 - 4.0,
                    c = colour(k)
                );
            } else {
                let _ = writeln!(
                    s,
                    "<line class=\"arrow\" x1=\"{x1:.1}\" y1=\"{y1:.1}\" x2=\"{x2:.1}\" y2=\"{y2:.1}\" stroke=\"{}\" marker-end=\"url(#head-{})\"><title>{kind} {} → {}</title></line>",
                    colour(k),
                    k.min(self.kinds.len().saturating_sub(1)),
                    a.from,
                    a.to
                );
            }
        }
        s.push_str("</g>\n");
    }

    fn render_faults(&self, s: &mut String) {
        s.push_str("<g class=\"faults\" font-size=\"10\" fill=\"#b00\">\n");
        for f in &self.faults {
            let x = self.x(f.at);
            match f.node {
                Some(n) => {
                    let y = self.y(n);
                    let _ = writeln!(
                        s,
                        "<g class=\"fault\"><rect x=\"{:.1}\" y=\"{:.1}\" width=\"8\" height=\"16\" fill=\"#b00\"/><text x=\"{:.1}\" y=\"{:.1}\">{}</text></g>",
                        x - 4.0,
                        y - 8.0,
                        x + 6.0,
                        y - 10.0,
                        f.label
                    );
                }
                None => {
                    let _ = writeln!(
                        s,
                        "<g class=\"fault\"><line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#090\" stroke-width=\"2\"/><text x=\"{:.1}\" y=\"{:.1}\" fill=\"#090\">{}</text></g>",
                        TOP - 12.0,
                        self.lanes_bottom() + 12.0,
                        x + 3.0,
                        self.lanes_bottom() + 22.0,
                        f.label
                    );
                }
            }
        }
        s.push_str("</g>\n");
    }

    fn render_legend(&self, s: &mut String, height: f64) {
        let mut used: Vec<usize> = self.arrows.iter().map(|a| a.kind as usize).collect();
        used.sort_unstable();
        used.dedup();
        let mut y = self.lanes_bottom() + 50.0;
        s.push_str("<g class=\"legend\">\n");
        let mut x = LEFT;
        for k in used {
            let name = escape(self.kinds.get(k).copied().unwrap_or("message"));
            // A second row when the first is full (policies with many message kinds).
            if x > WIDTH - 320.0 {
                (x, y) = (LEFT, y + 18.0);
            }
            let _ = writeln!(
                s,
                "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"14\" height=\"4\" fill=\"{}\"/><text x=\"{:.1}\" y=\"{y:.1}\">{name}</text>",
                y - 6.0,
                colour(k),
                x + 18.0
            );
            x += 30.0 + 7.0 * name.chars().count() as f64;
        }
        let _ = writeln!(
            s,
            "<text x=\"{x:.1}\" y=\"{y:.1}\" fill=\"#b00\">× dropped   ▮ crash/cut   | heal</text>"
        );
        let caption = format!(
            "{:.1}–{:.1} ms: {} messages drawn{}",
            self.from.0 as f64 / 1000.0,
            self.until.0 as f64 / 1000.0,
            self.arrows.len(),
            if self.left_out > 0 {
                format!(
                    ", {} more left out (at most {MAX_ARROWS} are drawn)",
                    self.left_out
                )
            } else {
                String::new()
            }
        );
        let _ = writeln!(
            s,
            "<text class=\"caption\" x=\"{LEFT}\" y=\"{:.1}\" fill=\"#555\">{}</text>",
            height - 20.0,
            escape(&caption)
        );
        s.push_str("</g>\n");
    }
}

fn colour(kind: usize) -> &'static str {
    PALETTE[kind % PALETTE.len()]
}

/// Escapes text for SVG content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}
