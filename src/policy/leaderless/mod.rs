//! Leaderless quorum replication (Dynamo / Cassandra style).
//!
//! The node a client talks to coordinates: it stamps a write with its own clock (so clock skew
//! matters), sends it to the key's N replicas on the ring, and answers once the write's level
//! (W, or a Cassandra consistency level) has acknowledged. Replicas keep a value only if it wins
//! the conflict rule (last write wins; ties: tombstone first, then the larger value, as in
//! Cassandra). Replica data and hints are durable; coordinator state and the failure detector's
//! view are volatile.
//!
//! - `coordinator.rs`: client requests, consistency levels, digest reads, read repair;
//! - `liveness.rs`: the gossip failure detector and hinted handoff;
//! - `repair.rs`: tombstone compaction (`gc_grace`) and Merkle-tree anti-entropy.

mod coordinator;
mod liveness;
mod msg;
mod read;
mod repair;
mod sessions;
pub mod siblings;

pub use msg::{CELL_BYTES, KINDS, QuorumMsg, QuorumTimer, WireCell};

use super::ring::Ring;
use super::{ClientReq, Cluster, Ctx, NodeView, Policy, StoredValue};
use crate::scenario::schema::{ConflictResolution, Consistency, SiblingMerge};
use crate::storage::kv::VersionedKv;
use crate::types::{Key, NodeId, OpKind, ValueId, Version, ms_to_us};
use coordinator::Pending;
use liveness::{Detector, Hint};
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Clone, Debug, PartialEq)]
pub struct LeaderlessConfig {
    pub read_quorum: u16,
    pub write_quorum: u16,
    pub read_level: Option<Consistency>,
    pub write_level: Option<Consistency>,
    pub request_timeout_us: u64,
    pub failure_detector: bool,
    pub gossip_interval_us: u64,
    pub convict_after_us: u64,
    pub hinted_handoff: bool,
    pub max_hint_window_us: u64,
    pub sloppy_quorum: bool,
    pub read_repair: bool,
    pub read_repair_chance: f64,
    pub gc_grace_us: Option<u64>,
    pub compaction_interval_us: u64,
    pub anti_entropy_interval_us: Option<u64>,
    pub merkle_ranges: u32,
    /// Keys are `0..keys` (the workload's key count); Merkle leaves split this range.
    pub keys: u32,
    pub conflict: ConflictResolution,
    pub sibling_merge: SiblingMerge,
    pub ring: Arc<Ring>,
}

impl LeaderlessConfig {
    /// A configuration with the given R and W and everything else off (Dynamo's basic quorums).
    pub fn basic(ring: Arc<Ring>, keys: u32, r: u16, w: u16) -> LeaderlessConfig {
        LeaderlessConfig {
            read_quorum: r,
            write_quorum: w,
            read_level: None,
            write_level: None,
            request_timeout_us: 1_000_000,
            failure_detector: false,
            gossip_interval_us: 100_000,
            convict_after_us: 500_000,
            hinted_handoff: false,
            max_hint_window_us: 10_000_000,
            sloppy_quorum: false,
            read_repair: false,
            read_repair_chance: 0.0,
            gc_grace_us: None,
            compaction_interval_us: 1_000_000,
            anti_entropy_interval_us: None,
            merkle_ranges: 16,
            keys,
            conflict: ConflictResolution::LastWriteWins,
            sibling_merge: SiblingMerge::Union,
            ring,
        }
    }

    fn rf(&self) -> u16 {
        self.ring.replication_factor() as u16
    }

    /// The request's consistency level: its own, else the scenario's for its kind.
    fn level(&self, req: &ClientReq) -> Option<Consistency> {
        match req.kind {
            OpKind::Read => req.level.or(self.read_level),
            _ => req.level.or(self.write_level),
        }
    }

    /// Replies a request waits for: its level's count, else R or W.
    fn needed(&self, req: &ClientReq) -> u16 {
        match (self.level(req), req.kind) {
            (Some(level), _) => level.needed(self.rf()),
            (None, OpKind::Read) => self.read_quorum,
            (None, _) => self.write_quorum,
        }
    }

    /// Gossip ticks drive the failure detector and hint replay.
    fn ticks(&self) -> bool {
        self.failure_detector || self.hinted_handoff || self.sloppy_quorum
    }
}

#[derive(Clone, Debug)]
pub struct Leaderless {
    me: NodeId,
    nodes: u16,
    config: LeaderlessConfig,
    /// Durable replica data.
    kv: VersionedKv,
    /// Durable: local clock reading when each tombstone was stored here (Cassandra's
    /// `localDeletionTime`), for purging after `gc_grace`.
    deleted_at: BTreeMap<Key, u64>,
    /// Durable: hints this node keeps for other nodes.
    hints: Vec<Hint>,
    next_hint_id: u64,
    /// Version-vector carts (with `conflict: VersionVectors`).
    carts: siblings::Carts,
    /// Volatile: what each client session wrote and read here (sticky sessions).
    sessions: sessions::Sessions,
    /// Volatile: which peers this node believes are alive.
    detector: Detector,
    /// Volatile coordinator state: a slab of pending requests (request id = generation << 32 | slot).
    pending: Vec<Option<Pending>>,
    free: Vec<u32>,
    next_generation: u32,
    in_progress: usize,
    /// Reused by every write for its target list.
    scratch_targets: Vec<(NodeId, Option<NodeId>)>,
}

type LCtx<'a> = Ctx<'a, QuorumMsg, QuorumTimer>;

/// The cell a replica holds for `key`, with absent keys as `(None, Version::default())`.
type Held = (Option<ValueId>, Version);

/// Does `incoming` beat `held` under the conflict rule? An absent cell loses to anything.
fn wins(conflict: ConflictResolution, incoming: Held, held: Held) -> bool {
    if held.1 == Version::default() {
        return incoming.1 != Version::default();
    }
    if incoming.1 == Version::default() {
        return false;
    }
    match conflict {
        // Carts keep their own siblings (siblings.rs); plain cells fall back to LWW.
        ConflictResolution::LastWriteWins | ConflictResolution::VersionVectors => {
            incoming.1 > held.1
        }
        ConflictResolution::FirstWriteWins => incoming.1 < held.1,
    }
}

impl Leaderless {
    /// Does `incoming` beat `held` under this node's conflict rule?
    fn wins(&self, incoming: Held, held: Held) -> bool {
        wins(self.config.conflict, incoming, held)
    }

    /// Applies a replicated write locally if it wins; reports a change to the metrics.
    #[inline]
    fn store(&mut self, ctx: &mut LCtx<'_>, key: Key, value: Option<ValueId>, version: Version) {
        if !self.wins((value, version), self.local_read(key)) {
            return;
        }
        self.kv.put(key, value, version);
        // Most runs never delete: no map work on the common write.
        if value.is_none() || !self.deleted_at.is_empty() {
            self.note_tombstone(key, value.is_none(), ctx.local_now_us);
        }
        ctx.applied(key, value, version);
    }

    /// Keeps `deleted_at` in step with a stored cell. Out of line: inlined, the map code made
    /// every `store` save and restore more registers.
    #[inline(never)]
    fn note_tombstone(&mut self, key: Key, deleted: bool, local_now_us: u64) {
        if deleted {
            self.deleted_at.insert(key, local_now_us);
        } else {
            self.deleted_at.remove(&key);
        }
    }

    fn local_read(&self, key: Key) -> Held {
        self.kv
            .get(key)
            .map_or((None, Version::default()), |c| (c.value, c.version))
    }

    fn on_replica_message(&mut self, ctx: &mut LCtx<'_>, from: NodeId, msg: QuorumMsg) {
        match msg {
            QuorumMsg::WriteReq {
                req,
                key,
                value,
                version,
                hint_for,
            } => {
                match hint_for {
                    Some(intended) => self.keep_hint(ctx, intended, key, value, version),
                    None => self.store(ctx, key, value, version),
                }
                ctx.send(from, QuorumMsg::WriteAck { req });
            }
            QuorumMsg::ReadReq { req, key } => {
                let (value, version) = self.local_read(key);
                let resp = QuorumMsg::ReadResp {
                    req,
                    value,
                    version,
                };
                ctx.send(from, resp);
            }
            QuorumMsg::DigestReq { req, key } => {
                let digest = coordinator::digest(self.local_read(key));
                ctx.send(from, QuorumMsg::DigestResp { req, digest });
            }
            QuorumMsg::Repair {
                req,
                key,
                value,
                version,
            } => {
                self.store(ctx, key, value, version);
                ctx.send(from, QuorumMsg::RepairAck { req });
            }
            QuorumMsg::CartRead { req, key } => {
                let siblings = self.cart_siblings(key);
                ctx.send(from, QuorumMsg::CartResp { req, siblings });
            }
            QuorumMsg::CartWrite { req, key, sibling } => {
                self.store_cart(ctx, key, &sibling);
                ctx.send(from, QuorumMsg::WriteAck { req });
            }
            QuorumMsg::TreeReq => self.send_tree(ctx, from),
            QuorumMsg::TreeResp { leaves } => self.compare_trees(ctx, from, &leaves),
            QuorumMsg::RangeData {
                ranges,
                cells,
                reply,
            } => self.receive_ranges(ctx, from, ranges, &cells, reply),
            _ => {}
        }
    }
}

impl Policy for Leaderless {
    type Msg = QuorumMsg;
    type Timer = QuorumTimer;
    type Config = LeaderlessConfig;
    const KINDS: &'static [&'static str] = KINDS;

    fn new(me: NodeId, cluster: &Cluster, config: &LeaderlessConfig) -> Self {
        Leaderless {
            me,
            nodes: cluster.nodes,
            config: config.clone(),
            kv: VersionedKv::default(),
            deleted_at: BTreeMap::new(),
            hints: Vec::new(),
            next_hint_id: 0,
            detector: Detector::new(cluster.nodes),
            carts: siblings::Carts::default(),
            sessions: BTreeMap::new(),
            pending: Vec::new(),
            free: Vec::new(),
            next_generation: 0,
            in_progress: 0,
            scratch_targets: Vec::new(),
        }
    }

    fn on_start(&mut self, ctx: &mut LCtx<'_>) {
        ctx.set_timer(self.reap_interval_us(), QuorumTimer::Reap);
        self.detector.restart(ctx.local_now_us);
        if self.config.ticks() {
            ctx.set_timer(self.config.gossip_interval_us, QuorumTimer::Gossip);
        }
        if self.config.gc_grace_us.is_some() {
            ctx.set_timer(self.config.compaction_interval_us, QuorumTimer::Compact);
        }
        if let Some(every) = self.config.anti_entropy_interval_us {
            ctx.set_timer(every, QuorumTimer::AntiEntropy);
        }
    }

    #[inline]
    fn on_client(&mut self, ctx: &mut LCtx<'_>, req: ClientReq) {
        if self.config.conflict == ConflictResolution::VersionVectors {
            return self.coordinate_cart(ctx, req);
        }
        match req.kind {
            OpKind::Read => self.coordinate_read(ctx, req),
            OpKind::Write | OpKind::Delete => self.coordinate_write(ctx, req),
        }
    }

    #[inline]
    fn on_message(&mut self, ctx: &mut LCtx<'_>, from: NodeId, msg: QuorumMsg) {
        if self.config.ticks() {
            self.heard_from(ctx, from);
        }
        match msg {
            QuorumMsg::WriteAck { req } => self.on_write_ack(ctx, from, req),
            QuorumMsg::ReadResp {
                req,
                value,
                version,
            } => self.on_data(ctx, from, req, (value, version)),
            QuorumMsg::DigestResp { req, digest } => self.on_digest(ctx, from, req, digest),
            QuorumMsg::RepairAck { req } => self.on_repair_ack(ctx, from, req),
            QuorumMsg::CartResp { req, siblings } => {
                self.on_cart_siblings(ctx, from, req, &siblings)
            }
            QuorumMsg::Gossip => {}
            other => self.on_replica_message(ctx, from, other),
        }
    }

    fn on_timer(&mut self, ctx: &mut LCtx<'_>, timer: QuorumTimer) {
        match timer {
            QuorumTimer::Reap => {
                self.reap(ctx);
                ctx.set_timer(self.reap_interval_us(), QuorumTimer::Reap);
            }
            QuorumTimer::Gossip => {
                self.gossip_tick(ctx);
                ctx.set_timer(self.config.gossip_interval_us, QuorumTimer::Gossip);
            }
            QuorumTimer::Compact => {
                self.compact(ctx);
                ctx.set_timer(self.config.compaction_interval_us, QuorumTimer::Compact);
            }
            QuorumTimer::AntiEntropy => {
                self.start_anti_entropy(ctx);
                if let Some(every) = self.config.anti_entropy_interval_us {
                    ctx.set_timer(every, QuorumTimer::AntiEntropy);
                }
            }
        }
    }

    fn on_crash(&mut self) {
        self.pending.clear();
        self.free.clear();
        self.in_progress = 0;
        self.carts.collecting.clear();
        self.sessions.clear();
        self.hints.iter_mut().for_each(|h| h.sent_us = None);
    }

    fn reconfigure(&mut self, config: &LeaderlessConfig) {
        self.config = config.clone();
    }

    fn replicas_of(&self, key: Key, out: &mut Vec<NodeId>) {
        out.extend_from_slice(self.config.ring.replicas(key));
    }

    fn view(&self) -> NodeView {
        let mut details = vec![
            ("keys stored", self.kv.len().to_string()),
            ("coordinating", self.in_progress.to_string()),
        ];
        if !self.hints.is_empty() {
            details.push(("hints", self.hints.len().to_string()));
        }
        if !self.deleted_at.is_empty() {
            details.push(("tombstones", self.deleted_at.len().to_string()));
        }
        if self.config.conflict == ConflictResolution::VersionVectors {
            let with = self.cart_sibling_count().to_string();
            details.push(("keys with siblings", with));
        }
        if self.config.failure_detector {
            details.push(("believed down", self.detector.down_list()));
        }
        NodeView {
            role: "replica",
            details,
            ..NodeView::default()
        }
    }

    fn stored(&self, out: &mut Vec<StoredValue>) {
        self.kv.stored(out);
        self.carts.stored(self.config.sibling_merge, out);
    }
}

impl crate::engine::FromScenario for Leaderless {
    fn config_from(s: &crate::scenario::Scenario) -> LeaderlessConfig {
        let crate::scenario::schema::PolicySpec::Leaderless(l) = &s.policy else {
            unreachable!("the simulator picks the policy type from the scenario")
        };
        let keys = crate::scenario::validate::key_count(&s.workload.keys);
        let ring = Arc::new(Ring::new(
            s.nodes.count,
            l.vnodes,
            l.replication_factor,
            keys,
        ));
        LeaderlessConfig {
            read_level: l.read_consistency,
            write_level: l.write_consistency,
            request_timeout_us: ms_to_us(l.request_timeout_ms),
            failure_detector: l.failure_detector,
            gossip_interval_us: ms_to_us(l.gossip_interval_ms).max(1),
            convict_after_us: ms_to_us(l.convict_after_ms),
            hinted_handoff: l.hinted_handoff,
            max_hint_window_us: ms_to_us(l.max_hint_window_ms),
            sloppy_quorum: l.sloppy_quorum,
            read_repair: l.read_repair,
            read_repair_chance: l.read_repair_chance,
            gc_grace_us: l.gc_grace_ms.map(ms_to_us),
            compaction_interval_us: ms_to_us(l.compaction_interval_ms).max(1),
            anti_entropy_interval_us: l.anti_entropy_interval_ms.map(|m| ms_to_us(m).max(1)),
            merkle_ranges: l.merkle_ranges,
            conflict: l.conflict,
            sibling_merge: l.sibling_merge,
            ..LeaderlessConfig::basic(ring, keys, l.read_quorum, l.write_quorum)
        }
    }
}
