//! Replication / consistency policies as pure state machines (after stateright's `Actor` and
//! raft-rs's `Ready`): a policy node gets `(now, message | timer | client request)` and returns
//! effects that the engine applies. It never samples latency, reads a wall clock or draws a random
//! number except through the [`Ctx`] the engine hands it.

pub mod event_log;
pub mod leaderless;
mod note;
pub mod raft;
pub mod ring;
pub mod single_leader;

use crate::check::violations::ViolationKind;
use crate::engine::rng::SimRng;
use crate::types::{Key, NodeId, OpKind, SimTime, ValueId, Version};
use std::fmt::Debug;

pub use note::{Note, RebuildHow};

/// A client request as a policy node sees it. `op` is the engine's handle, echoed in the reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientReq {
    pub op: OpRef,
    pub kind: OpKind,
    pub key: Key,
    /// The value a write writes (unique per write); `None` for reads and deletes.
    pub value: Option<ValueId>,
    /// The client's session (its process id: a client that gets `info` starts a new one).
    pub session: u64,
    /// The session guarantees the client asks for (`workload.session`).
    pub guarantees: Guarantees,
    /// A consistency level for this operation (`workload.consistency_mix`), overriding the
    /// policy's default; policies without levels ignore it.
    pub level: Option<crate::scenario::schema::Consistency>,
}

/// Session guarantees a client asks for (Terry et al., "Session Guarantees for Weakly Consistent
/// Replicated Data", 1994), as bit flags. Policies that cannot honour them ignore them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Guarantees(pub u8);

impl Guarantees {
    pub const READ_YOUR_WRITES: u8 = 1;
    pub const MONOTONIC_READS: u8 = 2;
    pub const MONOTONIC_WRITES: u8 = 4;
    pub const WRITES_FOLLOW_READS: u8 = 8;

    pub fn has(self, flag: u8) -> bool {
        self.0 & flag != 0
    }

    pub fn any(self) -> bool {
        self.0 != 0
    }
}

/// The engine's handle on an operation in progress (slot + generation, so a late reply to a
/// finished operation can never be mistaken for a newer one).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OpRef(pub u64);

/// How a policy answers a client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpResult {
    /// A read's result: the value, or `None` when the key is absent or deleted.
    Read(Option<ValueId>),
    /// A write or delete took effect at this version.
    Written(Version),
    /// Definitely not applied (e.g. Unavailable, not enough replicas): `fail` in the history.
    Failed(FailReason),
    /// Outcome unknown (e.g. the coordinator timed out waiting for acks): `info` in the history.
    Unknown(FailReason),
    /// "I am not the leader; try this node." The client retries there within its timeout.
    Redirect(NodeId),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailReason {
    Timeout,
    Unavailable,
    NotLeader,
    NotEnoughReplicas,
    /// The command broke a business rule (e.g. an overdraft); nothing was appended.
    Rejected,
}

impl FailReason {
    pub fn as_str(self) -> &'static str {
        match self {
            FailReason::Timeout => "timeout",
            FailReason::Unavailable => "unavailable",
            FailReason::NotLeader => "not leader",
            FailReason::NotEnoughReplicas => "not enough replicas",
            FailReason::Rejected => "rejected",
        }
    }
}

/// What a policy node asks the engine to do.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect<M, T> {
    Send {
        to: NodeId,
        msg: M,
    },
    /// Fire `timer` after `after_us` microseconds of this node's *local* clock (drift applies).
    SetTimer {
        after_us: u64,
        timer: T,
    },
    Reply {
        op: OpRef,
        result: OpResult,
    },
    /// This node now holds `value` (None = deleted) for `key` at `version`. Feeds replication lag
    /// and divergence metrics; report every change of a replica's stored value.
    Applied {
        key: Key,
        value: Option<ValueId>,
        version: Version,
    },
    /// A plain-language note for the trace and event log ("n2 became leader for term 3").
    Note(Note),
    /// This node caught a protocol invariant broken (e.g. Raft's log matching: it holds an entry
    /// whose index and term match the leader's but whose command differs). The engine counts it
    /// under `violations.<kind>` in the report and notes it in the trace. Report only what the
    /// node can be sure of; election safety needs no report, because the engine checks it from
    /// `Note::BecameLeader` (two nodes leading the same term).
    Violation(ViolationKind),
}

/// Facts about the cluster every node knows from the start.
#[derive(Clone, Debug)]
pub struct Cluster {
    pub nodes: u16,
    pub seed: u64,
}

impl Cluster {
    pub fn node_ids(&self) -> impl Iterator<Item = NodeId> + '_ {
        (0..self.nodes).map(NodeId)
    }
}

/// The context a policy node works in for one step.
pub struct Ctx<'a, M, T> {
    pub now: SimTime,
    /// This node's local clock reading (skewed and drifting); timestamps come from here.
    pub local_now_us: u64,
    pub me: NodeId,
    pub rng: &'a mut SimRng,
    pub out: &'a mut Vec<Effect<M, T>>,
}

impl<M, T> Ctx<'_, M, T> {
    pub fn send(&mut self, to: NodeId, msg: M) {
        self.out.push(Effect::Send { to, msg });
    }
    pub fn set_timer(&mut self, after_us: u64, timer: T) {
        self.out.push(Effect::SetTimer { after_us, timer });
    }
    pub fn reply(&mut self, op: OpRef, result: OpResult) {
        self.out.push(Effect::Reply { op, result });
    }
    pub fn applied(&mut self, key: Key, value: Option<ValueId>, version: Version) {
        self.out.push(Effect::Applied {
            key,
            value,
            version,
        });
    }
    pub fn note(&mut self, note: Note) {
        self.out.push(Effect::Note(note));
    }
    /// Reports a broken protocol invariant (see [`Effect::Violation`]).
    pub fn violation(&mut self, kind: ViolationKind) {
        self.out.push(Effect::Violation(kind));
    }
}

/// Every message kind a policy uses has a stable name: the network's per-kind settings, the trace
/// and the GUI legend refer to it.
pub trait Message: Clone + Debug + Send + Sync + 'static {
    /// Index into the policy's `KINDS`.
    fn kind(&self) -> u8;
    /// Approximate size on the wire, for bandwidth and byte counts.
    fn size_bytes(&self) -> u32 {
        64
    }
    /// For explanations ("why was this read stale?"), never called on the engine's hot path:
    /// whether this message carries the update that wrote `value` to `key` (`None`: a delete of
    /// `key`), as a request, a repair, a log entry or a streamed cell. Default: it does not.
    fn carries(&self, _key: Key, _value: Option<ValueId>) -> bool {
        false
    }
    /// For explanations: this message asks a replica for a key on a read's behalf, or answers
    /// such a question (matched by the coordinator's request id). Policies whose reads are
    /// answered by one node without asking others keep the default.
    fn read_part(&self) -> Option<ReadPart> {
        None
    }
}

/// A message's part in a read that asks several replicas (see [`Message::read_part`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadPart {
    Ask { req: u64, key: Key },
    Answer { req: u64 },
}

/// A per-node replication state machine.
pub trait Policy: Clone + Debug + Send + Sync + 'static {
    type Msg: Message;
    type Timer: Clone + Debug + Send + Sync + 'static;
    type Config: Clone + Debug + Send + Sync + 'static;

    /// Names of the message kinds, indexed by `Message::kind`.
    const KINDS: &'static [&'static str];

    fn new(me: NodeId, cluster: &Cluster, config: &Self::Config) -> Self;
    /// Called once at time 0 and after every restart, to set initial timers.
    fn on_start(&mut self, ctx: &mut Ctx<'_, Self::Msg, Self::Timer>);
    fn on_client(&mut self, ctx: &mut Ctx<'_, Self::Msg, Self::Timer>, req: ClientReq);
    fn on_message(
        &mut self,
        ctx: &mut Ctx<'_, Self::Msg, Self::Timer>,
        from: NodeId,
        msg: Self::Msg,
    );
    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self::Msg, Self::Timer>, timer: Self::Timer);
    /// Lose every volatile field; keep what the real system keeps on disk.
    fn on_crash(&mut self);
    /// The node's disk was wiped while it was down: the engine has already replaced the state
    /// with a fresh `new` one; a policy that must behave differently after losing its disk
    /// (e.g. not vote until rebuilt) marks it here.
    fn on_wiped(&mut self) {}
    /// A parameter changed mid-run (`Set` fault or the GUI's policy editor).
    fn reconfigure(&mut self, config: &Self::Config);
    /// Called on every running node right after `reconfigure`, with the dotted path that was
    /// set. A policy that must *act* on a change (send a message, note it) does it here:
    /// e.g. `Set("policy.leader", "n2")` asks a controller to move leadership, even when the
    /// path already held that value (moving leadership back after an automatic failover).
    fn on_set(&mut self, _ctx: &mut Ctx<'_, Self::Msg, Self::Timer>, _path: &str) {}
    /// The nodes that should hold `key` (for lag and divergence metrics).
    fn replicas_of(&self, key: Key, out: &mut Vec<NodeId>);
    /// Which node this node believes leads (for clients that target the leader).
    fn leader_hint(&self) -> Option<NodeId> {
        None
    }
    /// A read-only summary for viewers.
    fn view(&self) -> NodeView;
    /// The stored value of every key this node holds (for inspectors and divergence checks).
    fn stored(&self, out: &mut Vec<StoredValue>);
}

/// What a viewer shows about one node's protocol state.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NodeView {
    pub role: &'static str,
    pub term: Option<u64>,
    pub log_len: Option<u64>,
    pub commit_index: Option<u64>,
    /// Further facts as (label, value), e.g. ("pending requests", "3").
    pub details: Vec<(&'static str, String)>,
    /// The node's log as the Storage tab draws it (policies with a log).
    pub storage: Option<crate::storage::view::StorageView>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoredValue {
    pub key: Key,
    pub value: Option<ValueId>,
    pub version: Version,
}
