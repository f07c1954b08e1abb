//! Extra recording for explanations ("why was this read stale?"): which messages carried one
//! update of one key, which took part in reads of it, and every change of that key's replicas.
//! Off by default; when off, the engine pays one never-taken branch per send and per `Applied`.
//! The trace hash does not depend on it.

use super::Engine;
use crate::policy::{Message, Policy, ReadPart};
use crate::types::{Key, NodeId, SimTime, ValueId, Version};

/// Most messages and changes a watch keeps (a watch covers a few seconds of a lesson).
pub const MAX_WATCHED: usize = 100_000;

/// What a watched message has to do with the watched key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Watched {
    /// It carries the watched update.
    Carries,
    /// It asks for, or answers, a read of the watched key (answers are matched later).
    Read(ReadPart),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WatchedMsg {
    pub id: u64,
    pub from: NodeId,
    pub to: NodeId,
    pub sent: SimTime,
    pub what: Watched,
}

/// A replica's stored value of the watched key changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WatchedApply {
    pub at: SimTime,
    pub node: NodeId,
    pub value: Option<ValueId>,
    pub version: Version,
}

/// What to watch, and what was seen.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Watch {
    pub key: Key,
    /// The update whose copies are followed (`None`: a delete).
    pub value: Option<ValueId>,
    pub msgs: Vec<WatchedMsg>,
    pub applies: Vec<WatchedApply>,
}

impl Watch {
    pub fn new(key: Key, value: Option<ValueId>) -> Watch {
        Watch {
            key,
            value,
            ..Watch::default()
        }
    }

    fn on_send<M: Message>(&mut self, id: u64, from: NodeId, to: NodeId, at: SimTime, msg: &M) {
        let what = if msg.carries(self.key, self.value) {
            Watched::Carries
        } else {
            match msg.read_part() {
                Some(p @ ReadPart::Ask { key, .. }) if key == self.key => Watched::Read(p),
                Some(p @ ReadPart::Answer { .. }) => Watched::Read(p),
                _ => return,
            }
        };
        if self.msgs.len() < MAX_WATCHED {
            let sent = at;
            self.msgs.push(WatchedMsg {
                id,
                from,
                to,
                sent,
                what,
            });
        }
    }
}

impl<P: Policy> Engine<P> {
    /// Starts (or, with `None`, stops) watching; returns what the previous watch saw.
    pub fn set_watch(&mut self, watch: Option<Watch>) -> Option<Watch> {
        std::mem::replace(&mut self.watch, watch.map(Box::new)).map(|w| *w)
    }

    pub fn watch(&self) -> Option<&Watch> {
        self.watch.as_deref()
    }

    #[cold]
    #[inline(never)]
    pub(super) fn watch_send(&mut self, id: u64, from: NodeId, to: NodeId, msg: &P::Msg) {
        let now = self.now;
        if let Some(w) = self.watch.as_deref_mut() {
            w.on_send(id, from, to, now, msg);
        }
    }

    #[cold]
    #[inline(never)]
    pub(super) fn watch_applied(
        &mut self,
        node: NodeId,
        key: Key,
        value: Option<ValueId>,
        version: Version,
    ) {
        let at = self.now;
        if let Some(w) = self.watch.as_deref_mut()
            && w.key == key
            && w.applies.len() < MAX_WATCHED
        {
            w.applies.push(WatchedApply {
                at,
                node,
                value,
                version,
            });
        }
    }
}
