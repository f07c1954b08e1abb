//! The space-time diagram (the lanes-and-arrows view of ShiViz or Maelstrom), in the app: one
//! horizontal lane per node, time left to right in a window ending at the current time, one arrow
//! per message sent in the window. Delivered messages end at the receiver, dropped ones in a ×
//! where they were lost, messages still in flight at "now". Client invokes and completions are
//! marks on the coordinator's lane; crashes, pauses and partitions are shaded spans.
//!
//! It follows the time line (scrubbing moves the window), the mouse wheel zooms it, hovering an
//! arrow names it and a click selects it. Colours per message kind are the cluster view's.
//! `build` turns a frame into the diagram (pure, tested); `spacetime_ui` draws it.

pub use super::spacetime_draw::{DIAGRAM_LABEL, Geometry, describe, spacetime_ui};

use super::wire::WireLog;
use super::worker::Frame;
use crate::check::history::EventType;
use crate::engine::node::NodeStatus;
use crate::engine::view::NodeInfo;
use crate::trace::{FaultEvent, TraceEvent};
use crate::types::{NodeId, SimTime};
use std::collections::BTreeMap;

/// The window's length at first: short enough that a busy lesson (a few messages per
/// millisecond) still shows separate arrows. The wheel and the − / + buttons change it.
pub const DEFAULT_SPAN_MS: f64 = 50.0;
pub(crate) const MIN_SPAN_MS: f64 = 0.5;
pub(crate) const MAX_SPAN_MS: f64 = 60_000.0;
/// Most arrows drawn; the caption counts the rest.
pub const MAX_ARROWS: usize = 3_000;

pub struct SpaceTimeState {
    pub span_ms: f64,
    /// The clicked message.
    pub selected: Option<u64>,
    /// Messages drawn thicker (the why-stale helper fills it with a stale read's messages).
    pub highlight: Vec<u64>,
}

impl Default for SpaceTimeState {
    fn default() -> Self {
        SpaceTimeState {
            span_ms: DEFAULT_SPAN_MS,
            selected: None,
            highlight: Vec::new(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    Delivered,
    Dropped,
    InFlight,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Arrow {
    pub id: u64,
    pub from: NodeId,
    pub to: NodeId,
    /// Index into the frame's message kinds.
    pub kind: usize,
    pub sent: SimTime,
    /// Delivery or drop time; the planned arrival while in flight.
    pub end: SimTime,
    pub fate: Fate,
}

/// A client operation's invoke (`outcome: None`) or completion on its coordinator's lane.
#[derive(Clone, Debug, PartialEq)]
pub struct OpMark {
    pub at: SimTime,
    pub node: NodeId,
    pub op: u64,
    pub outcome: Option<EventType>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpanKind {
    Crashed,
    Paused,
    Cut,
}

/// A fault lasting from `from` to `until`, on one lane or (a cut) across the diagram.
#[derive(Clone, Debug, PartialEq)]
pub struct Span {
    pub from: SimTime,
    pub until: SimTime,
    pub node: Option<NodeId>,
    pub kind: SpanKind,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Diagram {
    pub from: SimTime,
    pub until: SimTime,
    pub nodes: usize,
    pub arrows: Vec<Arrow>,
    pub marks: Vec<OpMark>,
    pub spans: Vec<Span>,
    /// Messages sent in the window but not drawn (over [`MAX_ARROWS`]).
    pub left_out: usize,
    /// The kept traffic starts after the window does (older records were dropped).
    pub truncated: bool,
}

impl Diagram {
    /// Messages sent in the window (drawn or not).
    pub fn messages(&self) -> usize {
        self.arrows.len() + self.left_out
    }
}

/// The window `[now − span, now]`.
pub fn window(now: SimTime, span_ms: f64) -> (SimTime, SimTime) {
    let span = SimTime::from_ms(span_ms.clamp(MIN_SPAN_MS, MAX_SPAN_MS)).0;
    (SimTime(now.0.saturating_sub(span)), now)
}

/// Open fault spans while reading the traffic in order.
#[derive(Default)]
struct Open {
    crashed: BTreeMap<NodeId, SimTime>,
    paused: BTreeMap<NodeId, SimTime>,
    cuts: BTreeMap<u32, SimTime>,
}

/// The diagram of `f`'s kept traffic within `[from, until]`.
pub fn build(f: &Frame, from: SimTime, until: SimTime) -> Diagram {
    let now = State {
        nodes: &f.nodes,
        cuts: &f.cuts,
    };
    build_from(&f.wire, now, from, until)
}

/// What is in force at the window's end (for faults that began before the kept traffic).
#[derive(Clone, Copy)]
pub struct State<'a> {
    pub nodes: &'a [NodeInfo],
    pub cuts: &'a [(u32, Vec<(NodeId, NodeId)>)],
}

/// The diagram of `wire` within `[from, until]`; `now` is the state at `until`.
pub fn build_from(wire: &WireLog, now: State<'_>, from: SimTime, until: SimTime) -> Diagram {
    let mut d = Diagram {
        from,
        until,
        nodes: now.nodes.len(),
        truncated: wire.events().next().is_some_and(|e| e.at > from),
        ..Diagram::default()
    };
    let mut index: BTreeMap<u64, usize> = BTreeMap::new();
    let mut coordinator: BTreeMap<u64, NodeId> = BTreeMap::new();
    let mut open = Open::default();
    for e in wire.events().take_while(|e| e.at <= until) {
        match &e.event {
            TraceEvent::Send {
                from: src,
                to,
                kind,
                msg,
                arrive,
            } if e.at >= from => {
                let a = arrow(*msg, *src, *to, *kind, e.at, *arrive, Fate::InFlight);
                add_arrow(&mut d, &mut index, a);
            }
            TraceEvent::Deliver { msg, .. } | TraceEvent::Drop { msg, .. }
                if index.contains_key(msg) =>
            {
                let a = &mut d.arrows[index[msg]];
                a.end = e.at;
                a.fate = match e.event {
                    TraceEvent::Drop { .. } => Fate::Dropped,
                    _ => Fate::Delivered,
                };
            }
            // Lost at send time (no `Send` before it).
            TraceEvent::Drop {
                from: src,
                to,
                kind,
                msg,
                sent,
                ..
            } if *sent == e.at && e.at >= from => {
                let a = arrow(*msg, *src, *to, *kind, e.at, e.at, Fate::Dropped);
                add_arrow(&mut d, &mut index, a);
            }
            TraceEvent::Invoke { op, node, .. } => {
                coordinator.insert(*op, *node);
                mark(&mut d, e.at, *node, *op, None);
            }
            TraceEvent::Redirect { op, to } => {
                coordinator.insert(*op, *to);
            }
            TraceEvent::Complete { op, outcome, .. } => {
                if let Some(node) = coordinator.remove(op) {
                    mark(&mut d, e.at, node, *op, Some(*outcome));
                }
            }
            TraceEvent::Fault(fault) => open_or_close(&mut d, &mut open, e.at, fault),
            _ => {}
        }
    }
    close_open_spans(&mut d, open, now);
    d.spans.retain(|s| s.until >= from);
    d
}

fn arrow(
    id: u64,
    from: NodeId,
    to: NodeId,
    kind: u8,
    sent: SimTime,
    end: SimTime,
    fate: Fate,
) -> Arrow {
    Arrow {
        id,
        from,
        to,
        kind: kind as usize,
        sent,
        end,
        fate,
    }
}

fn add_arrow(d: &mut Diagram, index: &mut BTreeMap<u64, usize>, a: Arrow) {
    if d.arrows.len() < MAX_ARROWS {
        index.insert(a.id, d.arrows.len());
        d.arrows.push(a);
    } else {
        d.left_out += 1;
    }
}

fn mark(d: &mut Diagram, at: SimTime, node: NodeId, op: u64, outcome: Option<EventType>) {
    if at >= d.from {
        d.marks.push(OpMark {
            at,
            node,
            op,
            outcome,
        });
    }
}

fn open_or_close(d: &mut Diagram, open: &mut Open, at: SimTime, fault: &FaultEvent) {
    let mut close = |start: Option<SimTime>, node, kind| {
        if let Some(from) = start {
            d.spans.push(Span {
                from,
                until: at,
                node,
                kind,
            });
        }
    };
    match fault {
        FaultEvent::Crash(n) | FaultEvent::WipeDisk(n) => {
            open.crashed.entry(*n).or_insert(at);
        }
        FaultEvent::Restart(n) => close(open.crashed.remove(n), Some(*n), SpanKind::Crashed),
        FaultEvent::Pause(n) => {
            open.paused.entry(*n).or_insert(at);
        }
        FaultEvent::Resume(n) => close(open.paused.remove(n), Some(*n), SpanKind::Paused),
        FaultEvent::Block { cut, .. } => {
            open.cuts.insert(*cut, at);
        }
        FaultEvent::Unblock { cut } => close(open.cuts.remove(cut), None, SpanKind::Cut),
        FaultEvent::HealAll => {
            for (_, start) in std::mem::take(&mut open.cuts) {
                close(Some(start), None, SpanKind::Cut);
            }
        }
        _ => {}
    }
}

/// Faults still in force at the window's end; those that began before the kept traffic start
/// at the window's start.
fn close_open_spans(d: &mut Diagram, open: Open, f: State<'_>) {
    let (from, until) = (d.from, d.until);
    let mut push = |start: SimTime, node, kind| {
        d.spans.push(Span {
            from: start,
            until,
            node,
            kind,
        })
    };
    for n in f.nodes {
        let (map, kind) = match n.status {
            NodeStatus::Crashed => (&open.crashed, SpanKind::Crashed),
            NodeStatus::Paused => (&open.paused, SpanKind::Paused),
            _ => continue,
        };
        push(map.get(&n.id).copied().unwrap_or(from), Some(n.id), kind);
    }
    for (cut, _) in f.cuts {
        push(
            open.cuts.get(cut).copied().unwrap_or(from),
            None,
            SpanKind::Cut,
        );
    }
}
