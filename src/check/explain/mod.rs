//! "Why was this read stale?": an explanation of one anomaly, built by re-running the
//! (deterministic) simulation from a copy taken before the update the read missed, with extra
//! recording switched on (`engine::watch`), up to the read's completion.
//!
//! The explanation names the read (who asked, through which node, what came back), the
//! acknowledged update it missed, which replicas answered and what each held then, and for every
//! replica of the key where the missed update was at that moment: applied, received but not yet
//! applied, in flight, dropped (loss, partition, crashed receiver), or never sent. It also lists
//! the messages and nodes to highlight in the cluster view and the space-time diagram.

mod build;
mod fates;
pub mod text;
mod update;

use crate::engine::watch::Watch;
use crate::sim::Sim;
use crate::trace::{DropReason, Stamped};
use crate::types::{Key, NodeId, SimTime, ValueId};

pub use build::Explainer;
pub use update::{ReplicaStory, UpdateStory, explain_update};

/// Most events a re-run may take before giving up (the read is then not explained).
pub const MAX_RERUN_STEPS: u64 = 5_000_000;

/// Which checker found the anomaly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnomalyKind {
    StaleRead,
}

/// The read being explained.
#[derive(Clone, Debug, PartialEq)]
pub struct ReadFacts {
    pub op: u64,
    pub process: u64,
    pub key: Key,
    /// The node the client's request ended at (after redirects).
    pub coordinator: Option<NodeId>,
    pub invoked: SimTime,
    pub completed: Option<SimTime>,
    pub returned: Option<ValueId>,
    /// When the returned value's write was acknowledged, when the history still holds it.
    pub returned_written: Option<SimTime>,
}

/// The acknowledged update the read should have seen.
#[derive(Clone, Debug, PartialEq)]
pub struct MissedUpdate {
    pub op: u64,
    /// `None`: a delete.
    pub value: Option<ValueId>,
    pub coordinator: Option<NodeId>,
    pub invoked: SimTime,
    pub acked: SimTime,
    /// Replicas that had applied it when it was acknowledged.
    pub held_at_ack: Vec<NodeId>,
}

/// A replica that answered the read, and what it held when it did.
#[derive(Clone, Debug, PartialEq)]
pub struct Answer {
    pub node: NodeId,
    pub at: SimTime,
    pub held: Option<ValueId>,
}

/// What became of one message that carried the missed update, as of the read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// Still on the wire (`arrives`, if known).
    InFlight {
        arrives: Option<SimTime>,
    },
    Delivered {
        at: SimTime,
    },
    Dropped {
        at: SimTime,
        reason: DropReason,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CarrierMsg {
    pub id: u64,
    pub from: NodeId,
    pub to: NodeId,
    pub sent: SimTime,
    pub fate: Fate,
}

/// Where the missed update was, for one replica of the key, when the read looked.
#[derive(Clone, Debug, PartialEq)]
pub struct Whereabouts {
    pub node: NodeId,
    /// The moment that matters: when it answered, or when the read completed.
    pub at: SimTime,
    /// When it applied the update, if it had by then.
    pub applied: Option<SimTime>,
    /// The messages that carried the update to it, sent by then.
    pub carriers: Vec<CarrierMsg>,
    pub crashed: bool,
    pub paused: bool,
    /// Links into this node from the update's holders that were cut at the read's completion.
    pub cut_from: Vec<NodeId>,
}

/// What a viewer highlights (data, not drawing: the cluster view and the space-time diagram
/// read it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Highlight {
    pub messages: Vec<u64>,
    pub nodes: Vec<NodeId>,
    /// Sender → receiver of the copies of the missed update that had not been applied.
    pub links: Vec<(NodeId, NodeId)>,
    /// The read's and the missed update's operation ids.
    pub ops: Vec<u64>,
    /// The stretch of time the explanation covers.
    pub from: SimTime,
    pub until: SimTime,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Explanation {
    pub kind: AnomalyKind,
    pub read: ReadFacts,
    pub missed: MissedUpdate,
    pub answered: Vec<Answer>,
    /// Every replica of the key, in node order.
    pub replicas: Vec<Whereabouts>,
    /// The policy's rule that let it happen ("R=1, W=1 of N=3").
    pub rule: Option<String>,
    /// Why a replica that received the update still holds something else, when its policy
    /// applies a write as soon as it arrives (leaderless replicas: the conflict rule kept the
    /// value it had). `None`: received-but-unapplied means not yet committed or applied.
    pub kept_on_receipt: Option<&'static str>,
    pub highlight: Highlight,
}

impl Explanation {
    /// The explanation as plain-language sentences (headline first).
    pub fn sentences(&self) -> Vec<String> {
        text::sentences(self)
    }
}

/// Explains a stale read by re-running `from` (a copy of the simulation taken at or before the
/// missed update was invoked, with no interventions pending) until the read completes.
/// `None` when the read does not complete within [`MAX_RERUN_STEPS`] events.
pub fn explain_stale_read(
    from: &Sim,
    stale: &crate::check::stale::StaleRead,
) -> Option<Explanation> {
    let mut sim = from.clone();
    let mut ex = Explainer::start(&mut sim, stale);
    for _ in 0..MAX_RERUN_STEPS {
        if !sim.step() {
            break;
        }
        let events = sim.drain_trace();
        if ex.absorb(&sim, &events) {
            return Some(ex.finish(&mut sim));
        }
    }
    None
}

/// A re-run an explanation drives: a bare `Sim`, or a viewer's session that also re-applies
/// the user's interventions.
pub trait Rerun {
    fn sim(&mut self) -> &mut Sim;
    /// Processes one event; the trace events it produced, or `None` at the end of the run.
    fn step_traced(&mut self) -> Option<Vec<Stamped>>;
}

impl Rerun for Sim {
    fn sim(&mut self) -> &mut Sim {
        self
    }
    fn step_traced(&mut self) -> Option<Vec<Stamped>> {
        Sim::step(self).then(|| self.drain_trace())
    }
}

/// A watch for the update a stale read missed.
pub fn watch_for(stale: &crate::check::stale::StaleRead) -> Watch {
    Watch::new(stale.key, stale.missed_value)
}

/// Trace events an explainer needs (the rest are skipped cheaply).
fn relevant(e: &Stamped) -> bool {
    use crate::trace::TraceEvent as T;
    matches!(
        e.event,
        T::Send { .. }
            | T::Deliver { .. }
            | T::Drop { .. }
            | T::Invoke { .. }
            | T::Complete { .. }
            | T::Redirect { .. }
    )
}

#[cfg(test)]
mod tests;
