//! The event log: recent trace events as sentences, newest first, stale reads marked.

use super::palette;
use super::text::{self, OpIndex, Tone};
use super::worker::{Command, Frame};
use crate::trace::TraceEvent;
use eframe::egui::{self, RichText, Ui};
use std::collections::BTreeSet;

pub struct LogState {
    pub show_messages: bool,
    pub show_ops: bool,
    pub show_timers: bool,
}

impl Default for LogState {
    fn default() -> Self {
        LogState {
            show_messages: true,
            show_ops: true,
            show_timers: false,
        }
    }
}

/// Most lines drawn (the rest are scrolled off anyway).
const MAX_LINES: usize = 400;

pub fn log_ui(ui: &mut Ui, f: &Frame, st: &mut LogState, out: &mut Vec<Command>) {
    ui.horizontal_wrapped(|ui| {
        ui.checkbox(&mut st.show_messages, "messages");
        ui.checkbox(&mut st.show_ops, "client ops");
        ui.checkbox(&mut st.show_timers, "timers");
        if ui
            .button("Check history")
            .on_hover_text("Look for lost writes, resurrected values, session-guarantee and linearizability violations so far, and explain them")
            .clicked()
        {
            out.push(Command::CheckHistory);
        }
    });
    if !f.status.is_empty() {
        ui.label(RichText::new(&f.status).strong());
    }
    let ops = OpIndex::build(&f.events).with_faults(&f.faults);
    let stale: BTreeSet<u64> = f.stale_recent.iter().map(|r| r.op).collect();
    let lines: Vec<_> = f
        .events
        .iter()
        .rev()
        .filter(|e| wanted(&e.event, st))
        .take(MAX_LINES)
        .collect();
    if lines.is_empty() {
        ui.weak("No events yet: press ▶ Play or Step ▶.");
    }
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            for e in lines {
                let (line, tone) = text::event(&e.event, f.kinds, &ops, |op| stale.contains(&op));
                let color = match tone {
                    Tone::Plain => ui.visuals().text_color(),
                    Tone::Good => ui.visuals().text_color(),
                    Tone::Bad => palette::VERMILLION,
                    Tone::Stale => palette::PURPLE,
                    Tone::Fault => palette::ORANGE,
                    Tone::Note => palette::GREEN,
                };
                let mut text = RichText::new(format!("{:>10.3}  {line}", e.at.as_ms()))
                    .monospace()
                    .color(color);
                if matches!(tone, Tone::Stale | Tone::Fault | Tone::Note) {
                    text = text.strong();
                }
                match e.event {
                    TraceEvent::Complete { op, .. } if stale.contains(&op) => {
                        // One click from the stale read to its explanation.
                        let resp = ui
                            .add(egui::Label::new(text).sense(egui::Sense::click()))
                            .on_hover_text("Why was this read stale? Click to explain");
                        if resp.clicked() {
                            out.push(Command::Explain(op));
                        }
                    }
                    _ => {
                        ui.label(text);
                    }
                }
            }
        });
}

fn wanted(e: &TraceEvent, st: &LogState) -> bool {
    match e {
        TraceEvent::Send { .. } | TraceEvent::Deliver { .. } | TraceEvent::Drop { .. } => {
            st.show_messages
        }
        TraceEvent::Invoke { .. } | TraceEvent::Complete { .. } | TraceEvent::Redirect { .. } => {
            st.show_ops
        }
        TraceEvent::Timer { .. } => st.show_timers,
        TraceEvent::Fault(_) | TraceEvent::Note { .. } => true,
    }
}
