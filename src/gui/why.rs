//! "Why stale?": the explanation of one anomaly (see `check::explain`). The worker builds a
//! [`Why`] by re-running the session from a checkpoint before the missed update; the UI shows it
//! in a window, hidden behind "Reveal why" when presenter mode's auto-pause opened it, so the
//! lecturer can ask the room first. The highlight it carries is data: the cluster view (and any
//! other view) outlines the messages and nodes it names.

use super::session::Session;
use super::worker::Command;
use crate::check::explain::{
    Explainer, Explanation, MAX_RERUN_STEPS, Rerun, UpdateStory, explain_update,
};
use crate::check::stale::StaleRead;
use crate::check::violations::ViolationKind;
use crate::sim::Sim;
use crate::trace::Stamped;
use crate::types::SimTime;
use crate::types::ValueId;
use eframe::egui::{self, RichText, Ui};

/// An explanation on show (or why there is none).
#[derive(Clone, Debug)]
pub struct Why {
    /// Changes with every new explanation, so the UI knows to open its window.
    pub serial: u64,
    /// One line naming the anomaly (shown even before "Reveal why").
    pub title: String,
    /// When the anomaly happened.
    pub at: Option<SimTime>,
    pub explanation: Option<Explanation>,
    /// Why there is no explanation, when there is none.
    pub missing: Option<String>,
    /// Opened by the auto-pause: the explanation stays hidden until revealed.
    pub hidden: bool,
    /// The history checks' findings, for "Check history".
    pub findings: Vec<Finding>,
    /// Where the copies of the first lost write went.
    pub story: Option<UpdateStory>,
}

/// One kind of anomaly the history checks found, with its first example.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    /// The violation kind in words ("linearizability", "read your writes", ...).
    pub kind: String,
    pub example: String,
    /// The example's read, when the stale-read checker also recorded it (it explains in a click).
    pub stale_op: Option<u64>,
    /// Where to watch the example unfold (`Analysis::example_at_us`).
    pub at: Option<SimTime>,
}

fn title(r: &StaleRead) -> String {
    format!(
        "stale read: client {} read k{} and got {}",
        r.process,
        r.key,
        super::text::value(r.returned)
    )
}

/// Explains the stale read with operation id `op` (the worker calls this).
pub fn explain_op(s: &Session, op: u64, serial: u64) -> Why {
    let Some(r) = s.sim.metrics().stale.records.iter().find(|r| r.op == op) else {
        return Why {
            serial,
            title: format!("operation {op} is not a stale read this run knows"),
            at: None,
            explanation: None,
            missing: Some("Only reads the stale-read checker recorded can be explained.".into()),
            hidden: false,
            findings: Vec::new(),
            story: None,
        };
    };
    let explanation = explain(s, r);
    Why {
        serial,
        title: title(r),
        at: Some(SimTime(r.invoke_us)),
        missing: explanation
            .is_none()
            .then(|| "The re-run did not reach the read's completion.".into()),
        explanation,
        hidden: false,
        findings: Vec::new(),
        story: None,
    }
}

/// What the auto-pause shows: the newest stale read, hidden; or the invariant that broke.
pub fn at_anomaly(s: &Session, last_serial: u64) -> Why {
    let serial = last_serial + 1;
    let now = s.sim.now();
    if let Some(r) = s.sim.metrics().stale.records.last()
        && r.invoke_us <= now.0
        && explains_now(s, r)
    {
        let mut why = explain_op(s, r.op, serial);
        why.hidden = true;
        return why;
    }
    let v = s.sim.report(0.0).violations;
    let kinds: Vec<&str> = crate::check::violations::ViolationKind::ALL
        .iter()
        .filter(|k| v.get(**k) > 0)
        .map(|k| k.name())
        .collect();
    Why {
        serial,
        title: format!("protocol invariant broken ({})", kinds.join(", ")),
        at: Some(now),
        explanation: None,
        missing: Some("Only stale reads have a step-by-step explanation yet.".into()),
        hidden: true,
        findings: Vec::new(),
        story: None,
    }
}

/// Runs the history checks on the run so far (lost writes, resurrected values, session
/// guarantees, linearizability) and follows the copies of the first lost write.
pub fn check_history(s: &Session, serial: u64) -> Why {
    let analysis = s.sim.analysis();
    let stale = &s.sim.metrics().stale.records;
    let stale_op = |kind: ViolationKind| {
        if kind == ViolationKind::Linearizability {
            return counterexample_stale_read(analysis.counterexample.as_ref()?, stale);
        }
        let read = match kind {
            ViolationKind::Resurrected => analysis
                .resurrected
                .subject
                .map(|(key, value, at)| (key, None, value, at)),
            _ => analysis
                .sessions
                .reads
                .get(&kind)
                .map(|&(key, process, at)| (key, Some(process), None, at)),
        };
        let (key, process, value, at) = read?;
        stale
            .iter()
            .find(|r| {
                r.key == key
                    && r.invoke_us == at
                    && process.is_none_or(|p| p == r.process)
                    && value.is_none_or(|v| Some(v) == r.returned)
            })
            .map(|r| r.op)
    };
    let findings: Vec<Finding> = analysis
        .examples()
        .into_iter()
        .map(|(k, example)| Finding {
            kind: k.name().replace('_', " "),
            example,
            stale_op: stale_op(k),
            at: analysis.example_at_us(k).map(SimTime),
        })
        .collect();
    let story = analysis.lost_writes.subject.map(|(key, value, acked_us)| {
        let from = invoked_before(s, value, acked_us);
        let mut fork = ForkRun(s.fork_before(from));
        explain_update(&mut fork, key, value, s.sim.now())
    });
    let title = match findings.len() {
        0 => "the history checks found nothing wrong so far".to_string(),
        n => format!("the history checks found {n} kind(s) of anomaly"),
    };
    Why {
        serial,
        title,
        at: Some(s.sim.now()),
        explanation: None,
        missing: None,
        hidden: false,
        findings,
        story,
    }
}

/// A read of a non-linearizable counterexample that the stale-read checker also recorded: most
/// counterexamples are a read that missed a completed write, which then explains step by step.
fn counterexample_stale_read(
    c: &crate::check::linearizability::Counterexample,
    stale: &[crate::check::stale::StaleRead],
) -> Option<u64> {
    c.ops
        .iter()
        .filter(|op| op.f == crate::types::OpKind::Read)
        .find_map(|op| {
            stale
                .iter()
                .find(|r| r.key == c.key && r.invoke_us == op.start_us && r.process == op.process)
        })
        .map(|r| r.op)
}

/// When the write of `value` was invoked (from the history kept in memory), else the start.
fn invoked_before(s: &Session, value: Option<ValueId>, acked_us: u64) -> SimTime {
    let invoked = s.sim.history().iter().find(|e| {
        e.kind == crate::check::history::EventType::Invoke && value.is_some() && e.value == value
    });
    SimTime(invoked.map_or(0, |e| e.time_us.min(acked_us)))
}

/// A fork of the session as an explanation's re-run: interventions re-applied on the way.
struct ForkRun(Session);

impl Rerun for ForkRun {
    fn sim(&mut self) -> &mut Sim {
        &mut self.0.sim
    }
    fn step_traced(&mut self) -> Option<Vec<Stamped>> {
        if self.0.tap.is_none() {
            self.0.tap = Some(Vec::new());
        }
        self.0
            .step_one()
            .then(|| self.0.tap.replace(Vec::new()).unwrap_or_default())
    }
}

/// Whether the newest stale read is the one that completed just now.
fn explains_now(s: &Session, r: &StaleRead) -> bool {
    s.sim
        .recent_events()
        .iter()
        .rev()
        .take(64)
        .any(|e| matches!(e.event, crate::trace::TraceEvent::Complete { op, .. } if op == r.op))
}

/// Re-runs a copy of the session from the checkpoint before the missed update (and the read)
/// to the read's completion, interventions included.
pub fn explain(s: &Session, r: &StaleRead) -> Option<Explanation> {
    let from = SimTime(r.missed_invoke_us.min(r.invoke_us));
    let mut fork = s.fork_before(from);
    let mut ex = Explainer::start(&mut fork.sim, r);
    fork.tap = Some(Vec::new());
    for _ in 0..MAX_RERUN_STEPS {
        if !fork.step_one() {
            break;
        }
        let events = fork.tap.replace(Vec::new()).unwrap_or_default();
        if ex.absorb(&fork.sim, &events) {
            return Some(ex.finish(&mut fork.sim));
        }
    }
    None
}

/// The window's state in the UI.
#[derive(Default)]
pub struct WhyState {
    pub open: bool,
    seen_serial: u64,
    revealed_serial: u64,
}

/// The "Why?" panel, under the cluster view (so it hides none of the nodes it outlines).
/// Opens when a new explanation arrives. Call it after the side panels, before the central one.
pub fn why_ui(ui: &mut Ui, f: &super::worker::Frame, st: &mut WhyState, out: &mut Vec<Command>) {
    let Some(why) = &f.why else {
        st.open = false;
        return;
    };
    if why.serial != st.seen_serial {
        st.seen_serial = why.serial;
        st.open = true;
    }
    if !st.open {
        return;
    }
    // Under a third of the window, so the cluster view keeps room at 1024×768.
    let height = (ui.available_height() * 0.3).clamp(120.0, 220.0);
    // The hidden state is one line high; revealing it gets a panel (and a remembered size) of
    // its own, so the explanation does not open squeezed into that line.
    let hidden = why.hidden && st.revealed_serial != why.serial;
    egui::Panel::bottom(if hidden { "why-hidden" } else { "why" })
        .resizable(true)
        .default_size(height)
        .min_size(90.0)
        .show(ui, |ui| {
            ui.add_space(4.0);
            ui.horizontal(|ui| {
                ui.heading("Why?");
                ui.label(RichText::new(capitalise(&why.title)).strong().color(super::palette::PURPLE));
                ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                    if ui.button("✖ Close").on_hover_text("Close the explanation").clicked() {
                        st.open = false;
                        out.push(Command::CloseExplanation);
                    }
                    let done = why.explanation.as_ref().and_then(|e| e.read.completed);
                    if let Some(done) = done
                        && ui
                            .button("Go to the read")
                            .on_hover_text("Seek to the moment the read completed: the outlined messages and nodes are the ones named here")
                            .clicked()
                    {
                        out.push(Command::Seek(done));
                    }
                });
            });
            body_ui(ui, why, st, out);
        });
}

fn body_ui(ui: &mut Ui, why: &Why, st: &mut WhyState, out: &mut Vec<Command>) {
    let hidden = why.hidden && st.revealed_serial != why.serial;
    if hidden {
        ui.horizontal_wrapped(|ui| {
            ui.label("What went wrong? Ask the room, then");
            if ui.button("Reveal why").clicked() {
                st.revealed_serial = why.serial;
            }
        });
        return;
    }
    if let Some(m) = &why.missing {
        ui.weak(m);
    }
    // Lines from `bullets` on are one replica each.
    let (lines, bold, bullets) = match (&why.explanation, &why.story) {
        (Some(e), _) => (e.sentences(), 0, 3),
        (None, story) => {
            let n = why.findings.len();
            (findings_lines(why, story.as_ref()), n + 1, n + 2)
        }
    };
    if lines.is_empty() {
        return;
    }
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            for (i, line) in lines.iter().enumerate() {
                let text = if i == bold {
                    RichText::new(line).strong()
                } else {
                    RichText::new(line)
                };
                let finding = why
                    .explanation
                    .is_none()
                    .then(|| why.findings.get(i))
                    .flatten();
                if let Some(finding) = finding {
                    ui.horizontal_wrapped(|ui| {
                        ui.label(text);
                        finding_buttons_ui(ui, finding, out);
                    });
                } else if i >= bullets {
                    ui.horizontal_wrapped(|ui| {
                        ui.label("–");
                        ui.label(text);
                    });
                } else {
                    ui.label(text);
                }
            }
        });
}

/// "Go to": seek to where the example starts, to step through it; "Why this read?": a finding
/// whose read the stale-read checker recorded explains step by step in one click.
fn finding_buttons_ui(ui: &mut Ui, finding: &Finding, out: &mut Vec<Command>) {
    if let Some(at) = finding.at
        && ui
            .small_button(format!("Go to {:.1} ms", at.as_ms()))
            .on_hover_text("Seek to where this example starts, then step through it")
            .clicked()
    {
        out.push(Command::Seek(at));
    }
    if let Some(op) = finding.stale_op
        && ui
            .small_button("Why this read?")
            .on_hover_text("It is also a stale read: explain it step by step")
            .clicked()
    {
        out.push(Command::Explain(op));
    }
}

/// The history checks' findings, then the lost write's story.
fn findings_lines(why: &Why, story: Option<&UpdateStory>) -> Vec<String> {
    let mut out: Vec<String> = why
        .findings
        .iter()
        .map(|f| format!("{}: {}.", capitalise(&f.kind), f.example))
        .collect();
    if let Some(story) = story {
        out.push("Where the lost write's copies went:".into());
        out.extend(story.sentences());
    }
    out
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map_or_else(String::new, |f| f.to_uppercase().chain(c).collect())
}

/// Outlines what the explanation names in the cluster view: its nodes (a ring), the links its
/// missed update travelled (or failed to), and its messages still in flight (a halo).
pub fn draw_highlight(
    p: &egui::Painter,
    centers: &[egui::Pos2],
    node_r: f32,
    f: &super::worker::Frame,
) {
    let Some(h) = f.highlight() else { return };
    let color = super::palette::PURPLE;
    let at = |n: crate::types::NodeId| centers.get(n.index()).copied();
    for &(a, b) in &h.links {
        if let (Some(pa), Some(pb)) = (at(a), at(b))
            && a != b
        {
            let dir = (pb - pa).normalized();
            let lane = egui::vec2(-dir.y, dir.x) * 5.0;
            let (s, e) = (pa + dir * node_r + lane, pb - dir * node_r + lane);
            p.line_segment([s, e], egui::Stroke::new(6.0, color.gamma_multiply(0.45)));
            p.circle_filled(e, 4.5, color);
        }
    }
    for &n in &h.nodes {
        if let Some(c) = at(n) {
            p.circle_stroke(c, node_r + 10.0, egui::Stroke::new(2.5, color));
        }
    }
    for m in f
        .messages
        .iter()
        .filter(|m| h.messages.binary_search(&m.id).is_ok())
    {
        let (Some(a), Some(b)) = (at(m.from), at(m.to)) else {
            continue;
        };
        let span = m.arrives.since(m.sent).max(1) as f32;
        let t = (f.now.since(m.sent) as f32 / span).clamp(0.0, 1.0);
        let dir = (b - a).normalized();
        let lane = egui::vec2(-dir.y, dir.x) * 5.0;
        let (s, e) = (a + dir * node_r, b - dir * node_r);
        p.circle_stroke(s + (e - s) * t + lane, 9.0, egui::Stroke::new(2.5, color));
    }
}
