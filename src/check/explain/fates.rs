//! What became of the messages a watch picked: their arrival times and fates, from the trace.

use super::{CarrierMsg, Fate};
use crate::engine::watch::{Watch, Watched};
use crate::trace::{Stamped, TraceEvent};
use crate::types::{NodeId, SimTime};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Clone, Debug, Default)]
pub(super) struct Fates {
    arrivals: BTreeMap<u64, SimTime>,
    fates: BTreeMap<u64, Fate>,
    seen: usize,
    watched: BTreeSet<u64>,
}

impl Fates {
    /// Learns the ids the watch picked since the last call (before their trace events).
    pub(super) fn follow(&mut self, watch: Option<&Watch>) {
        if let Some(w) = watch {
            for m in &w.msgs[self.seen.min(w.msgs.len())..] {
                self.watched.insert(m.id);
            }
            self.seen = w.msgs.len();
        }
    }

    pub(super) fn on_event(&mut self, e: &Stamped) {
        match e.event {
            TraceEvent::Send { msg, arrive, .. } if self.watched.contains(&msg) => {
                self.arrivals.insert(msg, arrive);
            }
            TraceEvent::Deliver { msg, .. } if self.watched.contains(&msg) => {
                self.fates.insert(msg, Fate::Delivered { at: e.at });
            }
            TraceEvent::Drop { msg, reason, .. } if self.watched.contains(&msg) => {
                self.fates.insert(msg, Fate::Dropped { at: e.at, reason });
            }
            _ => {}
        }
    }

    /// When a message was delivered, if it was.
    pub(super) fn delivered(&self, id: u64) -> Option<SimTime> {
        match self.fates.get(&id) {
            Some(Fate::Delivered { at }) => Some(*at),
            _ => None,
        }
    }

    /// A message's fate as of `at`.
    pub(super) fn fate_at(&self, id: u64, at: SimTime) -> Fate {
        match self.fates.get(&id) {
            Some(Fate::Delivered { at: t }) if *t <= at => Fate::Delivered { at: *t },
            Some(Fate::Dropped { at: t, reason }) if *t <= at => Fate::Dropped {
                at: *t,
                reason: *reason,
            },
            _ => Fate::InFlight {
                arrives: self.arrivals.get(&id).copied(),
            },
        }
    }

    /// The messages that carried the watched update to `node`, sent by `at`, as of `at`.
    pub(super) fn carriers(&self, watch: &Watch, node: NodeId, at: SimTime) -> Vec<CarrierMsg> {
        watch
            .msgs
            .iter()
            .filter(|m| m.what == Watched::Carries && m.to == node && m.sent <= at)
            .map(|m| CarrierMsg {
                id: m.id,
                from: m.from,
                to: m.to,
                sent: m.sent,
                fate: self.fate_at(m.id, at),
            })
            .collect()
    }
}
