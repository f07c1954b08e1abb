//! The event trace: every delivery, drop, timer, client operation, fault and protocol note.
//!
//! `trace_hash` is XXH3-64 (seed 0) over the canonical binary encoding of each event in order:
//! its time, a word with its tag in the top byte and its small fields below, then its wide fields,
//! all as little-endian u64 words, then any variable-length
//! field (a note's text, a `Set`'s path and value, a block's node lists) as a length word and its
//! bytes packed into zero-padded words (see [`TraceEvent::encode`]).
//! It is cheap enough to stay on in every run, and it is how determinism is checked.

pub mod jsonl;

use crate::check::history::EventType;
use crate::policy::FailReason;
use crate::types::{Key, NodeId, OpKind, SimTime, ValueId};
use std::collections::VecDeque;
use xxhash_rust::xxh3::Xxh3;

/// Why a message was not delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// Random loss on the link.
    Loss,
    /// A partition or cut link between sender and receiver.
    Partition,
    /// The receiver was crashed when the message arrived.
    Crashed,
}

impl DropReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::Loss => "loss",
            DropReason::Partition => "partition",
            DropReason::Crashed => "crashed",
        }
    }
}

/// A fault or parameter change as it happened (resolved to node ids).
#[derive(Clone, Debug, PartialEq)]
pub enum FaultEvent {
    Crash(NodeId),
    /// The node's disk was wiped (after its crash).
    WipeDisk(NodeId),
    Restart(NodeId),
    Pause(NodeId),
    Resume(NodeId),
    /// Messages from every node in `from` to every node in `to` are blocked (cut id for healing).
    Block {
        cut: u32,
        from: Vec<NodeId>,
        to: Vec<NodeId>,
    },
    /// One cut removed (an automatic end of a timed fault).
    Unblock {
        cut: u32,
    },
    HealAll,
    ClockSkew {
        node: NodeId,
        skew_us: i64,
    },
    ClockDrift {
        node: NodeId,
        drift_ppm: i64,
    },
    LossBurst {
        loss_ppm: u32,
    },
    LossBurstEnd,
    Set {
        path: String,
        value: String,
    },
}

/// One event of the trace.
#[derive(Clone, Debug, PartialEq)]
pub enum TraceEvent {
    /// A message put on the wire, with its (already drawn) arrival time.
    Send {
        from: NodeId,
        to: NodeId,
        kind: u8,
        msg: u64,
        arrive: SimTime,
    },
    Deliver {
        from: NodeId,
        to: NodeId,
        kind: u8,
        msg: u64,
        sent: SimTime,
    },
    /// A message lost: at send time (loss, partition) or on arrival (partition, crashed receiver).
    Drop {
        from: NodeId,
        to: NodeId,
        kind: u8,
        msg: u64,
        sent: SimTime,
        reason: DropReason,
    },
    Timer {
        node: NodeId,
    },
    Invoke {
        op: u64,
        process: u64,
        node: NodeId,
        f: OpKind,
        key: Key,
        value: Option<ValueId>,
    },
    Complete {
        op: u64,
        process: u64,
        outcome: EventType,
        value: Option<ValueId>,
        reason: Option<FailReason>,
    },
    Redirect {
        op: u64,
        to: NodeId,
    },
    Fault(FaultEvent),
    Note {
        node: NodeId,
        text: String,
    },
}

/// A trace event with its time.
#[derive(Clone, Debug, PartialEq)]
pub struct Stamped {
    pub at: SimTime,
    pub event: TraceEvent,
}

fn opt(v: Option<ValueId>) -> u64 {
    v.map_or(u64::MAX, |v| v.0)
}

impl TraceEvent {
    /// Appends the canonical encoding to `out` as little-endian u64 words: the time, then a word
    /// with the tag in its top byte and the small fields below it, then the wide fields, then (for
    /// events that carry text or node lists) a length word and the bytes packed into words.
    /// Changing this changes every trace hash. Inlined so that each call site, which knows its
    /// variant, writes its few words directly.
    #[inline(always)]
    pub fn encode(&self, at: SimTime, out: &mut Vec<u64>) {
        let (words, n) = self.fixed_words(at);
        out.extend_from_slice(&words[..n]);
        if matches!(
            self,
            TraceEvent::Note { .. }
                | TraceEvent::Fault(FaultEvent::Set { .. } | FaultEvent::Block { .. })
        ) {
            self.encode_variable(out);
        }
    }

    #[cold]
    fn encode_variable(&self, out: &mut Vec<u64>) {
        match self {
            TraceEvent::Note { text, .. } => push_bytes(out, text.as_bytes()),
            TraceEvent::Fault(FaultEvent::Set { path, value }) => {
                push_bytes(out, path.as_bytes());
                push_bytes(out, value.as_bytes());
            }
            // Each list separately, so ([n1, n2], [n3]) and ([n1], [n2, n3]) encode differently.
            TraceEvent::Fault(FaultEvent::Block { from, to, .. }) => {
                for list in [from, to] {
                    let nodes: Vec<u8> = list.iter().flat_map(|n| n.0.to_le_bytes()).collect();
                    push_bytes(out, &nodes);
                }
            }
            _ => {}
        }
    }

    /// The fixed-size part of the encoding (already little-endian) and its length in words.
    #[inline(always)]
    fn fixed_words(&self, at: SimTime) -> ([u64; 8], usize) {
        let (w, n) = match self {
            TraceEvent::Send {
                from,
                to,
                kind,
                msg,
                arrive,
            } => fill(send_words(at, *from, *to, *kind, *msg, *arrive)),
            TraceEvent::Deliver {
                from,
                to,
                kind,
                msg,
                sent,
            } => fill(deliver_words(at, *from, *to, *kind, *msg, *sent)),
            TraceEvent::Drop {
                from,
                to,
                kind,
                msg,
                sent,
                reason,
            } => {
                let low = link(*from, *to, *kind) | (*reason as u64) << 48;
                fill([at.0, tag(3, low), *msg, sent.0])
            }
            TraceEvent::Timer { node } => fill([at.0, tag(4, node.0 as u64)]),
            TraceEvent::Invoke {
                op,
                process,
                node,
                f,
                key,
                value,
            } => fill(invoke_words(at, *op, *process, *node, *f, *key, *value)),
            TraceEvent::Complete {
                op,
                process,
                outcome,
                value,
                reason,
            } => fill(complete_words(at, *op, *process, *outcome, *value, *reason)),
            TraceEvent::Redirect { op, to } => fill([at.0, tag(7, to.0 as u64), *op]),
            TraceEvent::Fault(f) => {
                let [sub, value] = fault_words(f);
                fill([at.0, tag(8, sub), value])
            }
            TraceEvent::Note { node, .. } => fill([at.0, tag(9, node.0 as u64)]),
        };
        (w.map(u64::to_le), n)
    }
}

/// A word with the event's tag in its top byte and small fields below.
#[inline(always)]
fn tag(t: u64, low: u64) -> u64 {
    t << 56 | low
}

#[inline(always)]
fn link(from: NodeId, to: NodeId, kind: u8) -> u64 {
    (from.0 as u64) << 32 | (to.0 as u64) << 8 | kind as u64
}

// The encodings of the frequent events, shared by `TraceEvent::encode` and the tracer's direct
// emitters (which hash them without building a `TraceEvent` unless it is kept).

#[inline(always)]
fn send_words(
    at: SimTime,
    from: NodeId,
    to: NodeId,
    kind: u8,
    msg: u64,
    arrive: SimTime,
) -> [u64; 4] {
    [at.0, tag(1, link(from, to, kind)), msg, arrive.0]
}

#[inline(always)]
fn deliver_words(
    at: SimTime,
    from: NodeId,
    to: NodeId,
    kind: u8,
    msg: u64,
    sent: SimTime,
) -> [u64; 4] {
    [at.0, tag(2, link(from, to, kind)), msg, sent.0]
}

#[inline(always)]
fn invoke_words(
    at: SimTime,
    op: u64,
    process: u64,
    node: NodeId,
    f: OpKind,
    key: Key,
    value: Option<ValueId>,
) -> [u64; 6] {
    let low = (f as u64) << 16 | node.0 as u64;
    [at.0, tag(5, low), op, process, key as u64, opt(value)]
}

#[inline(always)]
fn complete_words(
    at: SimTime,
    op: u64,
    process: u64,
    outcome: EventType,
    value: Option<ValueId>,
    reason: Option<FailReason>,
) -> [u64; 5] {
    let r = reason.map_or(0xff, |r| r as u64);
    let low = (outcome as u64) << 8 | r;
    [at.0, tag(6, low), op, process, opt(value)]
}

/// A fault's sub-tag (with its node, if any) and its value.
fn fault_words(f: &FaultEvent) -> [u64; 2] {
    match f {
        FaultEvent::Crash(n) => [1, n.0 as u64],
        FaultEvent::Restart(n) => [2, n.0 as u64],
        FaultEvent::Pause(n) => [3, n.0 as u64],
        FaultEvent::Resume(n) => [4, n.0 as u64],
        FaultEvent::Block { cut, .. } => [5, *cut as u64],
        FaultEvent::Unblock { cut } => [6, *cut as u64],
        FaultEvent::HealAll => [7, 0],
        FaultEvent::ClockSkew { node, skew_us } => [8 | (node.0 as u64) << 8, *skew_us as u64],
        FaultEvent::ClockDrift { node, drift_ppm } => [9 | (node.0 as u64) << 8, *drift_ppm as u64],
        FaultEvent::LossBurst { loss_ppm } => [10, *loss_ppm as u64],
        FaultEvent::LossBurstEnd => [11, 0],
        FaultEvent::Set { .. } => [12, 0],
        FaultEvent::WipeDisk(n) => [13, n.0 as u64],
    }
}

/// A length word, then the bytes in little-endian words (zero-padded).
fn push_bytes(out: &mut Vec<u64>, bytes: &[u8]) {
    out.push((bytes.len() as u64).to_le());
    for chunk in bytes.chunks(8) {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        out.push(u64::from_le_bytes(word).to_le());
    }
}

/// Pads a fixed part to 8 words, remembering its length.
#[inline(always)]
fn fill<const N: usize>(src: [u64; N]) -> ([u64; 8], usize) {
    let mut w = [0u64; 8];
    w[..N].copy_from_slice(&src);
    (w, N)
}

/// Words of encoded events collected before they are fed to the hasher in one call
/// (xxh3's per-call overhead dominated when it was fed one small event at a time).
const HASH_BATCH: usize = 1024;

/// Hashes every event; optionally records them (for export) and keeps the most recent (for viewers).
#[derive(Clone)]
pub struct Tracer {
    hasher: Xxh3,
    /// Encoded events not yet hashed; already little-endian, so their bytes are the same on
    /// every platform.
    pending: Vec<u64>,
    events: u64,
    record: bool,
    recorded: Vec<Stamped>,
    recent_cap: usize,
    recent: VecDeque<Stamped>,
}

impl std::fmt::Debug for Tracer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Tracer {{ events: {}, hash: {:016x} }}",
            self.events,
            self.hash()
        )
    }
}

impl Tracer {
    pub fn new(record: bool, recent_cap: usize) -> Tracer {
        Tracer {
            hasher: Xxh3::new(),
            pending: Vec::with_capacity(HASH_BATCH + 256),
            events: 0,
            record,
            recorded: Vec::new(),
            recent_cap,
            recent: VecDeque::with_capacity(recent_cap),
        }
    }

    /// Hashes (and, if asked, keeps) one event. Inlined: with the variant known at the call
    /// site, encoding is a few stores and nothing is built or dropped for the common case.
    #[inline(always)]
    pub fn emit(&mut self, at: SimTime, event: TraceEvent) {
        event.encode(at, &mut self.pending);
        if self.pending.len() >= HASH_BATCH {
            self.flush();
        }
        self.events += 1;
        if self.record || self.recent_cap > 0 {
            return self.keep(Stamped { at, event });
        }
        match event {
            TraceEvent::Note { .. } | TraceEvent::Fault(_) => drop(event),
            // The other variants own no heap data, so there is nothing to drop; forgetting them
            // spares a call to the enum's out-of-line drop glue on every event (2% of a run).
            plain => std::mem::forget(plain),
        }
    }

    /// Hashes one event's fixed words (time first).
    #[inline(always)]
    fn hash_words<const N: usize>(&mut self, words: [u64; N]) {
        self.pending.extend_from_slice(&words.map(u64::to_le));
        if self.pending.len() >= HASH_BATCH {
            self.flush();
        }
        self.events += 1;
    }

    /// Whether events are kept beyond the hash (recording or a recent-events window).
    #[inline(always)]
    fn keeps(&self) -> bool {
        self.record || self.recent_cap > 0
    }

    /// `emit(at, TraceEvent::Send { .. })`, without building the event unless it is kept.
    #[inline]
    pub fn send(
        &mut self,
        at: SimTime,
        from: NodeId,
        to: NodeId,
        kind: u8,
        msg: u64,
        arrive: SimTime,
    ) {
        self.hash_words(send_words(at, from, to, kind, msg, arrive));
        if self.keeps() {
            let event = TraceEvent::Send {
                from,
                to,
                kind,
                msg,
                arrive,
            };
            self.keep(Stamped { at, event });
        }
    }

    /// `emit(at, TraceEvent::Deliver { .. })`, without building the event unless it is kept.
    #[inline]
    pub fn deliver(
        &mut self,
        at: SimTime,
        from: NodeId,
        to: NodeId,
        kind: u8,
        msg: u64,
        sent: SimTime,
    ) {
        self.hash_words(deliver_words(at, from, to, kind, msg, sent));
        if self.keeps() {
            let event = TraceEvent::Deliver {
                from,
                to,
                kind,
                msg,
                sent,
            };
            self.keep(Stamped { at, event });
        }
    }

    #[inline(never)]
    fn flush(&mut self) {
        self.hasher.update(bytemuck::cast_slice(&self.pending));
        self.pending.clear();
    }

    #[inline(never)]
    fn keep(&mut self, s: Stamped) {
        if self.recent_cap > 0 {
            if self.recent.len() == self.recent_cap {
                self.recent.pop_front();
            }
            self.recent.push_back(s.clone());
        }
        if self.record {
            self.recorded.push(s);
        }
    }

    /// XXH3-64 of every event so far (batching does not change it: xxh3 streams).
    pub fn hash(&self) -> u64 {
        let mut h = self.hasher.clone();
        h.update(bytemuck::cast_slice(&self.pending));
        h.digest()
    }
    pub fn events(&self) -> u64 {
        self.events
    }
    /// Takes the recorded events so far (the caller streams them to a file).
    pub fn drain(&mut self) -> Vec<Stamped> {
        std::mem::take(&mut self.recorded)
    }
    pub fn recent(&self) -> &VecDeque<Stamped> {
        &self.recent
    }
    pub fn set_recording(&mut self, record: bool) {
        self.record = record;
    }
    pub fn set_recent_cap(&mut self, cap: usize) {
        self.recent_cap = cap;
        while self.recent.len() > cap {
            self.recent.pop_front();
        }
    }
}

/// `trace_hash` as printed: 16 lowercase hex digits.
pub fn format_hash(h: u64) -> String {
    format!("{h:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(events: &[TraceEvent]) -> u64 {
        let mut t = Tracer::new(false, 0);
        for e in events {
            t.emit(SimTime(5), e.clone());
        }
        t.hash()
    }

    fn block(from: &[u16], to: &[u16]) -> TraceEvent {
        TraceEvent::Fault(FaultEvent::Block {
            cut: 1,
            from: from.iter().map(|n| NodeId(*n)).collect(),
            to: to.iter().map(|n| NodeId(*n)).collect(),
        })
    }

    fn set(path: &str, value: &str) -> TraceEvent {
        TraceEvent::Fault(FaultEvent::Set {
            path: path.into(),
            value: value.into(),
        })
    }

    fn note(text: &str) -> TraceEvent {
        TraceEvent::Note {
            node: NodeId(0),
            text: text.into(),
        }
    }

    #[test]
    fn variable_length_fields_are_delimited_in_the_hash() {
        assert_ne!(hash(&[block(&[0, 1], &[2])]), hash(&[block(&[0], &[1, 2])]));
        assert_ne!(hash(&[set("ab", "c")]), hash(&[set("a", "bc")]));
        assert_ne!(hash(&[note("ab"), note("")]), hash(&[note("a"), note("b")]));
    }

    #[test]
    fn every_field_reaches_the_hash() {
        let send = |msg, arrive| TraceEvent::Send {
            from: NodeId(1),
            to: NodeId(2),
            kind: 3,
            msg,
            arrive: SimTime(arrive),
        };
        assert_ne!(hash(&[send(1, 10)]), hash(&[send(2, 10)]));
        assert_ne!(hash(&[send(1, 10)]), hash(&[send(1, 11)]));
        let drop = |reason, sent| TraceEvent::Drop {
            from: NodeId(1),
            to: NodeId(2),
            kind: 0,
            msg: 1,
            sent: SimTime(sent),
            reason,
        };
        assert_ne!(
            hash(&[drop(DropReason::Loss, 5)]),
            hash(&[drop(DropReason::Crashed, 5)])
        );
        assert_ne!(
            hash(&[drop(DropReason::Loss, 5)]),
            hash(&[drop(DropReason::Loss, 6)])
        );
        assert_eq!(hash(&[send(1, 10)]), hash(&[send(1, 10)]));
        let mut t = Tracer::new(true, 2);
        for i in 0..3 {
            t.emit(SimTime(i), TraceEvent::Timer { node: NodeId(0) });
        }
        assert_eq!((t.events(), t.recent().len(), t.drain().len()), (3, 2, 3));
        assert!(t.drain().is_empty(), "drain takes what was recorded");
    }

    #[test]
    fn direct_emitters_hash_like_emit() {
        let (a, b, at) = (NodeId(1), NodeId(4), SimTime(77));
        let mut direct = Tracer::new(false, 1);
        direct.send(at, a, b, 2, 9, SimTime(80));
        direct.deliver(SimTime(80), a, b, 2, 9, at);
        let mut plain = Tracer::new(false, 0);
        let send = TraceEvent::Send {
            from: a,
            to: b,
            kind: 2,
            msg: 9,
            arrive: SimTime(80),
        };
        plain.emit(at, send);
        let deliver = TraceEvent::Deliver {
            from: a,
            to: b,
            kind: 2,
            msg: 9,
            sent: at,
        };
        plain.emit(SimTime(80), deliver.clone());
        assert_eq!(
            (direct.hash(), direct.events()),
            (plain.hash(), plain.events())
        );
        let kept = direct.recent().back().map(|s| (s.at, s.event.clone()));
        assert_eq!(kept, Some((SimTime(80), deliver)));
    }
}
