//! The event trace: every delivery, drop, timer, client operation, fault and protocol note.
//!
//! `trace_hash` is XXH3-64 (seed 0) over the canonical binary encoding of each event in order:
//! its time and tag followed by its fields as little-endian u64 words, then any variable-length
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
    /// Appends the canonical encoding to `out` as little-endian u64 words: the time, the tag and
    /// fixed fields, then (for events that carry text or node lists) a length word and the bytes
    /// packed into words. Changing this changes every trace hash.
    pub fn encode(&self, at: SimTime, out: &mut Vec<u64>) {
        let mut buf = [0u64; 9];
        buf[0] = at.0;
        let words = 1 + self.words((&mut buf[1..]).try_into().unwrap_or(&mut [0; 8]));
        out.extend(buf[..words].iter().map(|w| w.to_le()));
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

    /// The fixed-size part of the encoding: tag first, then fields.
    fn words(&self, w: &mut [u64; 8]) -> usize {
        let link = |from: NodeId, to: NodeId, kind: u8| {
            (from.0 as u64) << 32 | (to.0 as u64) << 8 | kind as u64
        };
        match self {
            TraceEvent::Send {
                from,
                to,
                kind,
                msg,
                arrive,
            } => fill(w, &[1, link(*from, *to, *kind), *msg, arrive.0]),
            TraceEvent::Deliver {
                from,
                to,
                kind,
                msg,
                sent,
            } => fill(w, &[2, link(*from, *to, *kind), *msg, sent.0]),
            TraceEvent::Drop {
                from,
                to,
                kind,
                msg,
                sent,
                reason,
            } => fill(
                w,
                &[3, link(*from, *to, *kind), *msg, sent.0, *reason as u64],
            ),
            TraceEvent::Timer { node } => fill(w, &[4, node.0 as u64]),
            TraceEvent::Invoke {
                op,
                process,
                node,
                f,
                key,
                value,
            } => fill(
                w,
                &[
                    5,
                    *op,
                    *process,
                    node.0 as u64,
                    *f as u64,
                    *key as u64,
                    opt(*value),
                ],
            ),
            TraceEvent::Complete {
                op,
                process,
                outcome,
                value,
                reason,
            } => {
                let r = reason.map_or(u64::MAX, |r| r as u64);
                fill(w, &[6, *op, *process, *outcome as u64, opt(*value), r])
            }
            TraceEvent::Redirect { op, to } => fill(w, &[7, *op, to.0 as u64]),
            TraceEvent::Fault(f) => fill(w, &fault_words(f)),
            TraceEvent::Note { node, .. } => fill(w, &[9, node.0 as u64]),
        }
    }
}

fn fault_words(f: &FaultEvent) -> [u64; 3] {
    match f {
        FaultEvent::Crash(n) => [8, 1, n.0 as u64],
        FaultEvent::Restart(n) => [8, 2, n.0 as u64],
        FaultEvent::Pause(n) => [8, 3, n.0 as u64],
        FaultEvent::Resume(n) => [8, 4, n.0 as u64],
        FaultEvent::Block { cut, .. } => [8, 5, *cut as u64],
        FaultEvent::Unblock { cut } => [8, 6, *cut as u64],
        FaultEvent::HealAll => [8, 7, 0],
        FaultEvent::ClockSkew { node, skew_us } => [8, 8 | (node.0 as u64) << 8, *skew_us as u64],
        FaultEvent::ClockDrift { node, drift_ppm } => {
            [8, 9 | (node.0 as u64) << 8, *drift_ppm as u64]
        }
        FaultEvent::LossBurst { loss_ppm } => [8, 10, *loss_ppm as u64],
        FaultEvent::LossBurstEnd => [8, 11, 0],
        FaultEvent::Set { .. } => [8, 12, 0],
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

fn fill(w: &mut [u64; 8], src: &[u64]) -> usize {
    w[..src.len()].copy_from_slice(src);
    src.len()
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

    #[inline]
    pub fn emit(&mut self, at: SimTime, event: TraceEvent) {
        event.encode(at, &mut self.pending);
        if self.pending.len() >= HASH_BATCH {
            self.hasher.update(bytemuck::cast_slice(&self.pending));
            self.pending.clear();
        }
        self.events += 1;
        if self.record || self.recent_cap > 0 {
            self.keep(Stamped { at, event });
        }
    }

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
}
