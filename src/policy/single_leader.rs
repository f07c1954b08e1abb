//! Single-leader log shipping (PostgreSQL streaming replication / Kafka style).
//!
//! All writes go through the leader, which appends them to its log, applies them, and ships the
//! log to every follower. `Async` acks the client at once; `Sync` acks once every follower has
//! applied the entry (PostgreSQL `synchronous_commit = remote_apply` with all standbys
//! synchronous). Followers apply entries strictly in log order and acknowledge their applied
//! index; the leader re-sends what a follower has not acknowledged every `resend_interval`, which
//! stands in for TCP retransmission over the lossy network. The log (and the state derived from
//! it) is durable; follower positions, pending acks and out-of-order buffers are volatile.

use super::{ClientReq, Cluster, Ctx, Message, NodeView, OpResult, Policy, StoredValue};
use crate::scenario::schema::{ReadFrom, Replication};
use crate::storage::kv::VersionedKv;
use crate::storage::log::Log;
use crate::types::{Key, NodeId, OpKind, ValueId, Version};
use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq)]
pub struct SingleLeaderConfig {
    pub leader: NodeId,
    pub replication: Replication,
    pub read_from: ReadFrom,
    pub resend_interval_us: u64,
    pub max_batch: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    pub index: u64,
    pub key: Key,
    pub value: Option<ValueId>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeaderMsg {
    /// Consecutive entries starting at `entries[0].index`.
    Append { entries: Vec<Entry> },
    /// The follower has applied every entry up to `applied`.
    AppendAck { applied: u64 },
}

pub const KINDS: &[&str] = &["append", "append_ack"];

impl Message for LeaderMsg {
    fn kind(&self) -> u8 {
        match self {
            LeaderMsg::Append { .. } => 0,
            LeaderMsg::AppendAck { .. } => 1,
        }
    }
    fn size_bytes(&self) -> u32 {
        match self {
            LeaderMsg::Append { entries } => 32 + 24 * entries.len() as u32,
            LeaderMsg::AppendAck { .. } => 32,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaderTimer {
    Resend,
}

/// Most out-of-order entries a follower buffers while it waits for a gap to be filled.
const MAX_BUFFERED: usize = 4096;

#[derive(Clone, Debug)]
pub struct SingleLeader {
    me: NodeId,
    nodes: u16,
    config: SingleLeaderConfig,
    // Durable.
    log: Log<Entry>,
    kv: VersionedKv,
    // Volatile.
    /// Leader: highest index each follower has acknowledged.
    acked: Vec<u64>,
    /// Leader, sync mode: writes waiting for every follower, by log index.
    waiting: BTreeMap<u64, super::OpRef>,
    /// Follower: entries that arrived ahead of a gap.
    buffered: BTreeMap<u64, Entry>,
}

type SCtx<'a> = Ctx<'a, LeaderMsg, LeaderTimer>;

impl SingleLeader {
    fn is_leader(&self) -> bool {
        self.me == self.config.leader
    }

    fn applied_index(&self) -> u64 {
        self.log.last_index()
    }

    fn apply(&mut self, ctx: &mut SCtx<'_>, e: Entry) {
        let index = self.log.append(e);
        debug_assert_eq!(index, e.index, "entries are applied in log order");
        let version = Version(e.index, 0);
        self.kv.put(e.key, e.value, version);
        ctx.applied(e.key, e.value, version);
    }

    fn lead_write(&mut self, ctx: &mut SCtx<'_>, req: ClientReq) {
        let e = Entry {
            index: self.log.last_index() + 1,
            key: req.key,
            value: req.value,
        };
        self.apply(ctx, e);
        // Ship at once to every follower; one that missed earlier entries buffers this one until
        // the periodic resend fills the gap.
        for f in self.followers() {
            ctx.send(f, LeaderMsg::Append { entries: vec![e] });
        }
        match self.config.replication {
            Replication::Async => ctx.reply(req.op, OpResult::Written(Version(e.index, 0))),
            Replication::Sync if self.nodes == 1 => {
                ctx.reply(req.op, OpResult::Written(Version(e.index, 0)))
            }
            Replication::Sync => {
                self.waiting.insert(e.index, req.op);
            }
        }
    }

    fn followers(&self) -> impl Iterator<Item = NodeId> + use<> {
        let me = self.me;
        (0..self.nodes).map(NodeId).filter(move |n| *n != me)
    }

    /// Sends every follower the entries it has not acknowledged yet.
    fn resend(&mut self, ctx: &mut SCtx<'_>) {
        for f in self.followers() {
            let from = self.acked[f.index()] + 1;
            let entries = self.log.slice_from(from, self.config.max_batch as usize);
            if !entries.is_empty() {
                ctx.send(
                    f,
                    LeaderMsg::Append {
                        entries: entries.to_vec(),
                    },
                );
            }
        }
    }

    fn on_append(&mut self, ctx: &mut SCtx<'_>, from: NodeId, entries: Vec<Entry>) {
        for e in entries {
            if e.index > self.applied_index() && self.buffered.len() < MAX_BUFFERED {
                self.buffered.insert(e.index, e);
            }
        }
        while let Some(e) = self.buffered.remove(&(self.applied_index() + 1)) {
            self.apply(ctx, e);
        }
        let applied = self.applied_index();
        self.buffered.retain(|i, _| *i > applied);
        ctx.send(from, LeaderMsg::AppendAck { applied });
    }

    fn on_ack(&mut self, ctx: &mut SCtx<'_>, from: NodeId, applied: u64) {
        let a = &mut self.acked[from.index()];
        *a = (*a).max(applied);
        let everyone = self
            .followers()
            .map(|f| self.acked[f.index()])
            .min()
            .unwrap_or(u64::MAX);
        while let Some(entry) = self.waiting.first_entry() {
            if *entry.key() > everyone {
                break;
            }
            let (index, op) = entry.remove_entry();
            ctx.reply(op, OpResult::Written(Version(index, 0)));
        }
    }

    fn read(&self, ctx: &mut SCtx<'_>, req: ClientReq) {
        let value = self.kv.get(req.key).and_then(|c| c.value);
        ctx.reply(req.op, OpResult::Read(value));
    }
}

impl Policy for SingleLeader {
    type Msg = LeaderMsg;
    type Timer = LeaderTimer;
    type Config = SingleLeaderConfig;
    const KINDS: &'static [&'static str] = KINDS;

    fn new(me: NodeId, cluster: &Cluster, config: &SingleLeaderConfig) -> Self {
        SingleLeader {
            me,
            nodes: cluster.nodes,
            config: config.clone(),
            log: Log::default(),
            kv: VersionedKv::default(),
            acked: vec![0; cluster.nodes as usize],
            waiting: BTreeMap::new(),
            buffered: BTreeMap::new(),
        }
    }

    fn on_start(&mut self, ctx: &mut SCtx<'_>) {
        if self.is_leader() {
            ctx.set_timer(self.config.resend_interval_us, LeaderTimer::Resend);
        }
    }

    fn on_client(&mut self, ctx: &mut SCtx<'_>, req: ClientReq) {
        let leader = self.config.leader;
        match (req.kind, self.is_leader(), self.config.read_from) {
            (OpKind::Read, _, ReadFrom::AnyReplica) | (OpKind::Read, true, ReadFrom::Leader) => {
                self.read(ctx, req)
            }
            (_, true, _) => self.lead_write(ctx, req),
            (_, false, _) => ctx.reply(req.op, OpResult::Redirect(leader)),
        }
    }

    fn on_message(&mut self, ctx: &mut SCtx<'_>, from: NodeId, msg: LeaderMsg) {
        match msg {
            LeaderMsg::Append { entries } if !self.is_leader() => {
                self.on_append(ctx, from, entries)
            }
            LeaderMsg::AppendAck { applied } if self.is_leader() => self.on_ack(ctx, from, applied),
            _ => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut SCtx<'_>, timer: LeaderTimer) {
        let LeaderTimer::Resend = timer;
        if self.is_leader() {
            self.resend(ctx);
            ctx.set_timer(self.config.resend_interval_us, LeaderTimer::Resend);
        }
    }

    fn on_crash(&mut self) {
        self.acked.iter_mut().for_each(|a| *a = 0);
        self.waiting.clear();
        self.buffered.clear();
    }

    fn reconfigure(&mut self, config: &SingleLeaderConfig) {
        self.config = config.clone();
    }

    fn replicas_of(&self, _key: Key, out: &mut Vec<NodeId>) {
        out.extend((0..self.nodes).map(NodeId));
    }

    fn leader_hint(&self) -> Option<NodeId> {
        Some(self.config.leader)
    }

    fn view(&self) -> NodeView {
        let mut details = vec![("keys stored", self.kv.len().to_string())];
        if self.is_leader() {
            details.push(("waiting for followers", self.waiting.len().to_string()));
        } else {
            details.push(("buffered out of order", self.buffered.len().to_string()));
        }
        NodeView {
            role: if self.is_leader() {
                "leader"
            } else {
                "follower"
            },
            term: None,
            log_len: Some(self.log.last_index()),
            commit_index: Some(self.applied_index()),
            details,
        }
    }

    fn stored(&self, out: &mut Vec<StoredValue>) {
        self.kv.stored(out);
    }
}

impl crate::engine::FromScenario for SingleLeader {
    fn config_from(s: &crate::scenario::Scenario) -> SingleLeaderConfig {
        let crate::scenario::schema::PolicySpec::SingleLeader(l) = &s.policy else {
            unreachable!("the simulator picks the policy type from the scenario")
        };
        SingleLeaderConfig {
            leader: NodeId::parse(&l.leader).unwrap_or(NodeId(0)),
            replication: l.replication,
            read_from: l.read_from,
            resend_interval_us: crate::types::ms_to_us(l.resend_interval_ms).max(1),
            max_batch: l.max_batch,
        }
    }
}
