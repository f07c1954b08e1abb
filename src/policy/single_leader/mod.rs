//! Single-leader log shipping (PostgreSQL streaming replication / Kafka style), with leader
//! epochs, an in-sync replica set, failover decided by one controller, and fencing.
//!
//! All writes go through the leader, which appends them to its log (each entry carries the
//! leader epoch it was written in), applies them, and ships the log to every follower. When the
//! leader acknowledges a write depends on `replication` (see `schema::Replication` and
//! docs/policies.md): at once (acks=0/1), after one follower (semi-sync), after every follower
//! (PostgreSQL `remote_apply`), or after every member of the in-sync replica set (Kafka
//! `acks=all` with `min.insync.replicas`). Followers check that each batch continues their log
//! (`prev_index`, `prev_epoch`) and truncate a divergent suffix, as Kafka followers do with
//! leader epochs (KIP-101 / KIP-279) and Raft followers with terms; the key-value state is
//! derived from the log, so truncation rebuilds it.
//!
//! With a `controller` node (Kafka's controller; it stores no data), the controller tells every
//! node the current leader epoch, leader and ISR, hears back from each, and elects a new leader
//! (bumping the epoch) when the leader stays silent, or when `policy.leader` is set. It picks an
//! in-sync replica, or with `unclean_election` any live one. The leader changes the ISR only
//! through the controller (Kafka's AlterPartition / ZooKeeper ISR writes), so a clean election
//! never picks a replica that lacks an `acks=all` write. A leader that has not heard from the
//! controller for `fence_timeout_ms` fences itself, and every node refuses messages from an
//! older epoch; `fencing: false` switches both off, to show the split brain they prevent.
//!
//! Durable: the log and the state derived from it, the highest leader and controller epochs
//! seen (Kafka's leader-epoch checkpoint), and the controller's decisions (its metadata log).
//! Volatile: who leads, follower positions, pending acks, out-of-order buffers, liveness.
//!
//! Sources (each rule cites its own where it is implemented):
//! - Kafka configuration: `acks`, `min.insync.replicas`, `replica.lag.time.max.ms`,
//!   `unclean.leader.election.enable` (<https://kafka.apache.org/documentation/#configuration>).
//! - Kafka `core/src/main/scala/kafka/cluster/Partition.scala`: ISR shrink and expansion, high
//!   watermark, NotEnoughReplicas before the append and NotEnoughReplicasAfterAppend after it.
//! - KIP-101 and KIP-279 (truncation by leader epoch), KIP-497 (ISR changes through the
//!   controller), KAFKA-7152 (a follower with the whole log is in sync), KAFKA-6082 and the
//!   controller epoch (fencing a stale controller).
//! - PostgreSQL `synchronous_commit` and `synchronous_standby_names`
//!   (<https://www.postgresql.org/docs/current/runtime-config-wal.html>,
//!   <https://www.postgresql.org/docs/current/runtime-config-replication.html>).

mod controller;
mod follower;
mod leader;
mod storage;
#[cfg(test)]
mod tests;

use super::{ClientReq, Cluster, Ctx, Message, NodeView, Note, OpResult, Policy, StoredValue};
use crate::scenario::schema::{ReadFrom, Replication};
use crate::storage::kv::VersionedKv;
use crate::storage::segment::SegmentedLog;
use crate::types::{Key, NodeId, OpKind, ValueId, Version};
use controller::Controller;
use follower::Following;
use leader::Leading;
use std::fmt;
pub use storage::LogConfig;

#[derive(Clone, Debug, PartialEq)]
pub struct SingleLeaderConfig {
    pub leader: NodeId,
    pub replication: Replication,
    pub read_from: ReadFrom,
    pub resend_interval_us: u64,
    pub max_batch: u32,
    pub min_insync_replicas: u16,
    pub replica_lag_max_us: u64,
    pub controller: Option<NodeId>,
    pub auto_failover: bool,
    pub leader_timeout_us: u64,
    pub heartbeat_interval_us: u64,
    pub fence_timeout_us: u64,
    pub unclean_election: bool,
    pub fencing: bool,
    /// Kafka-style log storage (segments, cleaner, flush lag); `None`: plain, always flushed.
    pub log: Option<LogConfig>,
}

impl SingleLeaderConfig {
    /// A fixed leader `leader` and otherwise the scenario defaults (for tests and examples).
    pub fn with_leader(leader: NodeId, replication: Replication) -> SingleLeaderConfig {
        SingleLeaderConfig {
            leader,
            replication,
            read_from: ReadFrom::Leader,
            resend_interval_us: 20_000,
            max_batch: 64,
            min_insync_replicas: 1,
            replica_lag_max_us: 200_000,
            controller: None,
            auto_failover: true,
            leader_timeout_us: 500_000,
            heartbeat_interval_us: 50_000,
            fence_timeout_us: 300_000,
            unclean_election: false,
            fencing: true,
            log: None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    pub index: u64,
    /// The leader epoch the entry was written in.
    pub epoch: u64,
    pub key: Key,
    pub value: Option<ValueId>,
}

impl Entry {
    /// Versions order by epoch first: after a failover, a new leader may reuse an index that a
    /// deposed leader had also written, and its entry is the newer one.
    pub fn version(&self) -> Version {
        Version(self.epoch, self.index)
    }
}

/// A set of nodes (scenarios have at most 64).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeSet(pub u64);

impl NodeSet {
    pub fn contains(self, n: NodeId) -> bool {
        n.0 < 64 && (self.0 >> n.0) & 1 == 1
    }
    pub fn with(self, n: NodeId) -> NodeSet {
        NodeSet(self.0 | 1u64.checked_shl(n.0 as u32).unwrap_or(0))
    }
    pub fn without(self, n: NodeId) -> NodeSet {
        NodeSet(self.0 & !1u64.checked_shl(n.0 as u32).unwrap_or(0))
    }
    pub fn union(self, other: NodeSet) -> NodeSet {
        NodeSet(self.0 | other.0)
    }
    pub fn len(self) -> u16 {
        self.0.count_ones() as u16
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    pub fn iter(self) -> impl Iterator<Item = NodeId> {
        (0..64u16).map(NodeId).filter(move |n| self.contains(*n))
    }
}

impl fmt::Display for NodeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<String> = self.iter().map(|n| n.to_string()).collect();
        write!(f, "{{{}}}", names.join(","))
    }
}

/// What the controller tells every node (Kafka's LeaderAndIsr request / metadata update).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClusterState {
    /// Bumped each time the controller restarts; nodes ignore an older controller's word.
    pub controller_epoch: u64,
    pub epoch: u64,
    /// `None`: no replica may lead (no in-sync replica is up and unclean election is off).
    pub leader: Option<NodeId>,
    pub isr: NodeSet,
    /// Bumped on every ISR change (Kafka's partition epoch), so a delayed message carrying an
    /// older ISR of the same leader epoch is recognised as older.
    pub isr_version: u64,
}

/// A follower's answer to an `Append`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply {
    /// My log is the same as yours up to this index.
    Matched(u64),
    /// Your batch does not continue my log. `epoch == 0`: my log ends before `index`;
    /// otherwise my entry at your `prev_index` has `epoch`, first used at `index` in my log
    /// (the hint lets the leader skip a whole divergent epoch in one round trip).
    Conflict { index: u64, epoch: u64 },
    /// Fencing: your epoch is over; `epoch` is led by `leader`.
    Stale { epoch: u64, leader: Option<NodeId> },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeaderMsg {
    /// Leader → follower: `entries` continue the leader's log after (`prev_index`,
    /// `prev_epoch`); `hw` is the leader's high watermark, `last` its log end and `log_start`
    /// the first offset it still holds (retention moves it). Compaction leaves gaps: the
    /// entries are every record the leader holds after `prev_index`, not always consecutive.
    Append {
        epoch: u64,
        log_start: u64,
        prev_index: u64,
        prev_epoch: u64,
        hw: u64,
        last: u64,
        entries: Vec<Entry>,
    },
    /// Follower → leader, answering an `Append` of leader epoch `epoch`.
    AppendReply { epoch: u64, reply: Reply },
    /// Controller → node: the current leader and ISR; also the controller's heartbeat.
    LeaderAndIsr(ClusterState),
    /// Node → controller, answering `LeaderAndIsr`: alive, and where its log ends.
    Heartbeat { last_index: u64, last_epoch: u64 },
    /// Leader → controller: please make `isr` the in-sync replica set of `epoch`.
    AlterIsr { epoch: u64, isr: NodeSet },
}

pub const KINDS: &[&str] = &[
    "append",
    "append_ack",
    "leader_and_isr",
    "heartbeat",
    "alter_isr",
];

impl Message for LeaderMsg {
    fn kind(&self) -> u8 {
        match self {
            LeaderMsg::Append { .. } => 0,
            LeaderMsg::AppendReply { .. } => 1,
            LeaderMsg::LeaderAndIsr(_) => 2,
            LeaderMsg::Heartbeat { .. } => 3,
            LeaderMsg::AlterIsr { .. } => 4,
        }
    }
    fn size_bytes(&self) -> u32 {
        match self {
            LeaderMsg::Append { entries, .. } => 48 + 32 * entries.len() as u32,
            _ => 40,
        }
    }
    fn carries(&self, key: Key, value: Option<ValueId>) -> bool {
        match self {
            LeaderMsg::Append { entries, .. } => {
                entries.iter().any(|e| e.key == key && e.value == value)
            }
            _ => false,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaderTimer {
    /// Every node that stores data, every `resend_interval`: a leader re-sends, checks its ISR
    /// and its contact with the controller.
    Tick,
    /// The controller, every `heartbeat_interval`.
    ControllerTick,
    /// With a `log`: the cleaner looks at this node's log (compaction or retention).
    Cleaner,
    /// The cleaning pass in progress is done.
    CleanerDone,
    /// With `flush_interval_ms`: write the log to disk.
    Flush,
}

#[derive(Clone, Debug)]
pub struct SingleLeader {
    me: NodeId,
    nodes: u16,
    config: SingleLeaderConfig,
    // Durable.
    log: SegmentedLog<Entry>,
    kv: VersionedKv,
    /// The highest leader epoch this node has seen (0 before the first start).
    epoch: u64,
    /// The highest controller epoch this node has heard from.
    controller_epoch: u64,
    // Volatile.
    /// Who this node believes leads `epoch`.
    leader: Option<NodeId>,
    /// Set while this node leads.
    lead: Option<Box<Leading>>,
    follow: Following,
    /// Local clock reading when the controller was last heard from.
    controller_contact_us: u64,
    /// Set on the controller node only.
    ctl: Option<Box<Controller>>,
    /// A cleaning pass in progress, up to this offset.
    cleaning_until: Option<u64>,
    /// Records a crash took before they were flushed (reported when the node starts again).
    lost_in_crash: Vec<Entry>,
    /// The segment count last reported in a `Note::Log`.
    reported_segments: u64,
}

type SCtx<'a> = Ctx<'a, LeaderMsg, LeaderTimer>;

impl SingleLeader {
    /// The nodes that store data: all but the controller.
    fn brokers(&self) -> NodeSet {
        let all = NodeSet(if self.nodes >= 64 {
            u64::MAX
        } else {
            (1u64 << self.nodes) - 1
        });
        match self.config.controller {
            Some(c) => all.without(c),
            None => all,
        }
    }

    fn followers(&self) -> NodeSet {
        self.brokers().without(self.me)
    }

    /// The epoch of the entry at `index` (0 for index 0, the empty prefix), known from the
    /// log's leader-epoch cache even where compaction removed the entry.
    fn epoch_at(&self, index: u64) -> u64 {
        self.log.epoch_at(index)
    }

    fn last_epoch(&self) -> u64 {
        self.epoch_at(self.log.last_index())
    }

    /// The last index whose entry has an epoch of at most `epoch` (Kafka's end offset for a
    /// leader epoch).
    fn end_of_epoch(&self, epoch: u64) -> u64 {
        self.log.end_of_epoch(epoch)
    }

    /// The first index whose entry has epoch `epoch` or later.
    fn start_of_epoch(&self, epoch: u64) -> u64 {
        self.log.start_of_epoch(epoch)
    }

    fn is_leading(&self) -> bool {
        self.lead.as_ref().is_some_and(|l| !l.fenced)
    }

    fn read(&self, ctx: &mut SCtx<'_>, req: ClientReq) {
        let value = self.kv.get(req.key).and_then(|c| c.value);
        ctx.reply(req.op, OpResult::Read(value));
    }

    /// Without a controller the leader is whatever the configuration names: an operator tells
    /// every node at once, and each change starts a new epoch (see `reconfigure`).
    fn follow_configured_leader(&mut self, ctx: &mut SCtx<'_>) {
        if self.config.controller.is_some() {
            return;
        }
        let wanted = self.config.leader;
        if self.lead.is_some() && wanted != self.me {
            self.step_down(ctx);
        }
        self.leader = Some(wanted);
        if wanted == self.me && self.lead.is_none() {
            let all = self.brokers();
            self.become_leader(ctx, all, 0);
        }
    }

    fn on_client_at_controller(&self, ctx: &mut SCtx<'_>, req: ClientReq, ctl: &Controller) {
        // The controller stores nothing; it knows who leads.
        let result = match ctl.leader {
            Some(l) => OpResult::Redirect(l),
            None => OpResult::Failed(super::FailReason::Unavailable),
        };
        ctx.reply(req.op, result);
    }
}

impl Policy for SingleLeader {
    type Msg = LeaderMsg;
    type Timer = LeaderTimer;
    type Config = SingleLeaderConfig;
    const KINDS: &'static [&'static str] = KINDS;

    fn new(me: NodeId, cluster: &Cluster, config: &SingleLeaderConfig) -> Self {
        let is_controller = config.controller == Some(me);
        SingleLeader {
            me,
            nodes: cluster.nodes,
            config: config.clone(),
            log: SegmentedLog::new(config.log.as_ref().map(|l| l.layout).unwrap_or_default()),
            kv: VersionedKv::default(),
            epoch: 0,
            controller_epoch: 0,
            leader: None,
            lead: None,
            follow: Following::default(),
            controller_contact_us: 0,
            ctl: is_controller.then(|| Box::new(Controller::new(cluster.nodes))),
            cleaning_until: None,
            lost_in_crash: Vec::new(),
            reported_segments: 1,
        }
    }

    fn on_start(&mut self, ctx: &mut SCtx<'_>) {
        if self.ctl.is_some() {
            return self.controller_start(ctx);
        }
        ctx.set_timer(self.config.resend_interval_us, LeaderTimer::Tick);
        self.start_storage_timers(ctx);
        self.controller_contact_us = ctx.local_now_us;
        let fresh = self.epoch == 0;
        if fresh {
            // Epoch 1 is the configured leader's, as if the controller had said so before the
            // run began (Kafka's initial partition assignment).
            self.epoch = 1;
        }
        if self.config.controller.is_none() || fresh {
            self.leader = Some(self.config.leader);
            if self.config.leader == self.me {
                let all = self.brokers();
                self.become_leader(ctx, all, 0);
            }
        }
        // A restarted node under a controller waits for its word on who leads.
    }

    fn on_client(&mut self, ctx: &mut SCtx<'_>, req: ClientReq) {
        if let Some(ctl) = &self.ctl {
            return self.on_client_at_controller(ctx, req, ctl);
        }
        let any_replica = self.config.read_from == ReadFrom::AnyReplica;
        match req.kind {
            OpKind::Read if any_replica || self.is_leading() => self.read(ctx, req),
            _ if self.is_leading() => self.lead_write(ctx, req),
            _ if self.lead.is_some() => self.refuse_while_fenced(ctx, req),
            _ => {
                let result = match self.leader {
                    Some(l) if l != self.me => OpResult::Redirect(l),
                    _ => OpResult::Failed(super::FailReason::Unavailable),
                };
                ctx.reply(req.op, result);
            }
        }
    }

    fn on_message(&mut self, ctx: &mut SCtx<'_>, from: NodeId, msg: LeaderMsg) {
        if self.ctl.is_some() {
            return self.controller_message(ctx, from, msg);
        }
        match msg {
            LeaderMsg::Append {
                epoch,
                log_start,
                prev_index,
                prev_epoch,
                hw,
                last,
                entries,
            } => {
                let batch = follower::Batch {
                    epoch,
                    log_start,
                    prev_index,
                    prev_epoch,
                    hw,
                    last,
                    entries,
                };
                self.on_append(ctx, from, batch)
            }
            LeaderMsg::AppendReply { epoch, reply } => self.on_reply(ctx, from, epoch, reply),
            LeaderMsg::LeaderAndIsr(state) => self.on_cluster_state(ctx, from, state),
            LeaderMsg::Heartbeat { .. } | LeaderMsg::AlterIsr { .. } => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut SCtx<'_>, timer: LeaderTimer) {
        match timer {
            LeaderTimer::ControllerTick => self.controller_tick(ctx),
            LeaderTimer::Tick => {
                self.follow_configured_leader(ctx);
                if self.lead.is_some() {
                    self.leader_tick(ctx);
                }
                ctx.set_timer(self.config.resend_interval_us, LeaderTimer::Tick);
            }
            LeaderTimer::Cleaner => self.on_cleaner_timer(ctx),
            LeaderTimer::CleanerDone => self.finish_cleaning(ctx),
            LeaderTimer::Flush => self.on_flush_timer(ctx),
        }
    }

    fn on_crash(&mut self) {
        self.lose_unflushed();
        self.leader = None;
        self.lead = None;
        self.follow = Following::default();
        if let Some(ctl) = &mut self.ctl {
            ctl.forget_volatile();
        }
    }

    fn reconfigure(&mut self, config: &SingleLeaderConfig) {
        let old_leader = self.config.leader;
        // The controller is chosen for the whole run (`on_set` says so if someone tries).
        let controller = self.config.controller;
        self.config = config.clone();
        self.config.controller = controller;
        if let Some(log) = &config.log {
            self.log.set_layout(log.layout);
        }
        if controller.is_none() && config.leader != old_leader && self.epoch > 0 {
            // Every node, running or not, is told at once: the new leader's epoch begins.
            self.epoch += 1;
        }
    }

    fn on_set(&mut self, ctx: &mut SCtx<'_>, path: &str) {
        match path {
            "policy.leader" if self.ctl.is_some() => {
                let target = self.config.leader;
                self.manual_failover(ctx, target);
            }
            "policy.leader" => self.follow_configured_leader(ctx),
            "policy.controller" if self.me == NodeId(0) => ctx.note(Note::Text(
                "policy.controller cannot change during a run; the controller stays where it was"
                    .into(),
            )),
            _ => {}
        }
    }

    fn replicas_of(&self, _key: Key, out: &mut Vec<NodeId>) {
        out.extend(self.brokers().iter());
    }

    fn leader_hint(&self) -> Option<NodeId> {
        if let Some(ctl) = &self.ctl {
            return ctl.leader;
        }
        match self.leader {
            Some(l) if l == self.me => self.is_leading().then_some(l),
            other => other,
        }
    }

    fn view(&self) -> NodeView {
        if let Some(ctl) = &self.ctl {
            return ctl.view();
        }
        let mut details = vec![("keys stored", self.kv.len().to_string())];
        if self.config.log.is_some() {
            self.describe_log(&mut details);
        }
        let (role, commit) = match &self.lead {
            Some(l) => {
                l.describe(&mut details);
                (if l.fenced { "fenced leader" } else { "leader" }, l.hw)
            }
            None => {
                let leader = self.leader.map_or("unknown".into(), |l| l.to_string());
                details.push(("follows", leader));
                let buffered = self.follow.buffered.len().to_string();
                details.push(("buffered out of order", buffered));
                ("follower", self.follow.hw)
            }
        };
        NodeView {
            role,
            term: Some(self.epoch),
            log_len: Some(self.log.last_index()),
            commit_index: Some(commit),
            details,
            storage: Some(self.storage_view(commit)),
        }
    }

    fn stored(&self, out: &mut Vec<StoredValue>) {
        self.kv.stored(out);
    }
}

impl SingleLeader {
    /// The log for the Storage tab: its segments (with the gaps compaction left), its newest
    /// records, the high watermark and, with a flush lag, how far it is on disk.
    fn storage_view(&self, committed: u64) -> crate::storage::view::StorageView {
        let mut v = self.log.storage_view(committed);
        if self.config.log.is_none() {
            v.flushed = None;
        }
        v
    }
}

impl crate::engine::FromScenario for SingleLeader {
    fn config_from(s: &crate::scenario::Scenario) -> SingleLeaderConfig {
        let crate::scenario::schema::PolicySpec::SingleLeader(l) = &s.policy else {
            unreachable!("the simulator picks the policy type from the scenario")
        };
        let us = crate::types::ms_to_us;
        // Validation has checked the names; a name beyond the cluster never reaches an index.
        let node = |name: &str| NodeId::parse(name).filter(|n| n.0 < s.nodes.count);
        SingleLeaderConfig {
            leader: node(&l.leader).unwrap_or(NodeId(0)),
            replication: l.replication,
            read_from: l.read_from,
            resend_interval_us: us(l.resend_interval_ms).max(1),
            max_batch: l.max_batch,
            min_insync_replicas: l.min_insync_replicas,
            replica_lag_max_us: us(l.replica_lag_max_ms).max(1),
            controller: l.controller.as_deref().and_then(node),
            auto_failover: l.auto_failover,
            leader_timeout_us: us(l.leader_timeout_ms).max(1),
            heartbeat_interval_us: us(l.heartbeat_interval_ms).max(1),
            fence_timeout_us: us(l.fence_timeout_ms).max(1),
            unclean_election: l.unclean_election,
            fencing: l.fencing,
            log: l.log.as_ref().map(LogConfig::from_spec),
        }
    }
}
