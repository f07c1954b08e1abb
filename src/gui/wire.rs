//! The recent message traffic for the space-time diagram: a bounded ring of the trace events it
//! draws (sends, deliveries, drops, client invokes and completions, faults).
//!
//! The frame's `events` (the engine's last few hundred) cover only a few milliseconds of a busy
//! run, too short for a readable diagram; this ring keeps the last [`WIRE_CAPACITY`] records.
//! Each record carries a sequence number so a rewind to a checkpoint can drop exactly the records
//! made after it (the replay makes them again), even when several share a timestamp.

use crate::trace::{FaultEvent, Stamped, TraceEvent};
use std::collections::VecDeque;

/// Most records kept (the oldest are dropped first): memory stays bounded on long runs.
pub const WIRE_CAPACITY: usize = 16_384;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct WireLog {
    /// `(sequence number, event)`, oldest first.
    ring: VecDeque<(u64, Stamped)>,
    /// The sequence number the next record gets (= records ever made in this history).
    next_seq: u64,
}

impl WireLog {
    /// Keeps `e` if the diagram draws it.
    pub fn observe(&mut self, e: &Stamped) {
        let keep = match &e.event {
            TraceEvent::Send { .. }
            | TraceEvent::Deliver { .. }
            | TraceEvent::Drop { .. }
            | TraceEvent::Invoke { .. }
            | TraceEvent::Complete { .. }
            | TraceEvent::Redirect { .. } => true,
            TraceEvent::Fault(f) => matches!(
                f,
                FaultEvent::Crash(_)
                    | FaultEvent::Restart(_)
                    | FaultEvent::Pause(_)
                    | FaultEvent::Resume(_)
                    | FaultEvent::WipeDisk(_)
                    | FaultEvent::Block { .. }
                    | FaultEvent::Unblock { .. }
                    | FaultEvent::HealAll
            ),
            TraceEvent::Timer { .. } | TraceEvent::Note { .. } => false,
        };
        if !keep {
            return;
        }
        if self.ring.len() == WIRE_CAPACITY {
            self.ring.pop_front();
        }
        self.ring.push_back((self.next_seq, e.clone()));
        self.next_seq += 1;
    }

    /// The sequence number the next record will get (a checkpoint remembers it).
    pub fn seq(&self) -> u64 {
        self.next_seq
    }

    /// Forgets the records made at or after `seq` (a rewind to a checkpoint that had made `seq`).
    pub fn truncate(&mut self, seq: u64) {
        while self.ring.back().is_some_and(|(s, _)| *s >= seq) {
            self.ring.pop_back();
        }
        if seq > self.next_seq {
            // Ahead of what this log saw: the records in between are unknown.
            self.ring.clear();
        }
        self.next_seq = seq;
    }

    /// The records, oldest first.
    pub fn events(&self) -> impl DoubleEndedIterator<Item = &Stamped> + ExactSizeIterator {
        self.ring.iter().map(|(_, e)| e)
    }

    pub fn len(&self) -> usize {
        self.ring.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ring.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{NodeId, SimTime};

    fn send(t: u64, msg: u64) -> Stamped {
        Stamped {
            at: SimTime(t),
            event: TraceEvent::Send {
                from: NodeId(0),
                to: NodeId(1),
                kind: 0,
                msg,
                arrive: SimTime(t + 10),
            },
        }
    }

    #[test]
    fn ring_is_bounded_and_truncation_drops_only_later_records() {
        let mut w = WireLog::default();
        for i in 0..(WIRE_CAPACITY as u64 + 10) {
            w.observe(&send(i, i));
        }
        assert_eq!(w.len(), WIRE_CAPACITY);
        assert_eq!(w.seq(), WIRE_CAPACITY as u64 + 10);
        w.truncate(WIRE_CAPACITY as u64);
        assert_eq!(w.len(), WIRE_CAPACITY - 10);
        assert_eq!(w.seq(), WIRE_CAPACITY as u64);
        w.observe(&Stamped {
            at: SimTime(1),
            event: TraceEvent::Timer { node: NodeId(0) },
        });
        assert_eq!(w.seq(), WIRE_CAPACITY as u64, "timers are not kept");
        w.truncate(w.seq() + 5);
        assert!(w.is_empty(), "jumping ahead forgets the unknown records");
    }
}
