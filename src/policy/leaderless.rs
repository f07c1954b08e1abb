//! Leaderless quorum replication (Dynamo / Cassandra style).
//!
//! The node a client talks to coordinates: it stamps a write with its own clock (so clock skew
//! matters), sends it to the key's N replicas on the ring, and answers once W have acknowledged.
//! A read asks all N replicas and answers with the newest of the first R replies.
//! Replicas keep a value only if it is newer (last write wins; ties: tombstone first, then the
//! larger value, as in Cassandra). Replica data is durable; coordinator state is volatile.

use super::ring::Ring;
use super::{
    ClientReq, Cluster, Ctx, FailReason, Message, NodeView, OpRef, OpResult, Policy, StoredValue,
};
use crate::storage::kv::VersionedKv;
use crate::types::{Key, NodeId, OpKind, ValueId, Version};
use std::sync::Arc;

#[derive(Clone, Debug, PartialEq)]
pub struct LeaderlessConfig {
    pub read_quorum: u16,
    pub write_quorum: u16,
    pub request_timeout_us: u64,
    pub ring: Arc<Ring>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QuorumMsg {
    WriteReq {
        req: u64,
        key: Key,
        value: Option<ValueId>,
        version: Version,
    },
    WriteAck {
        req: u64,
    },
    ReadReq {
        req: u64,
        key: Key,
    },
    ReadResp {
        req: u64,
        value: Option<ValueId>,
        version: Version,
    },
}

pub const KINDS: &[&str] = &["write_req", "write_ack", "read_req", "read_resp"];

impl Message for QuorumMsg {
    fn kind(&self) -> u8 {
        match self {
            QuorumMsg::WriteReq { .. } => 0,
            QuorumMsg::WriteAck { .. } => 1,
            QuorumMsg::ReadReq { .. } => 2,
            QuorumMsg::ReadResp { .. } => 3,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuorumTimer {
    /// Periodic sweep that gives up on requests older than the request timeout.
    Reap,
}

/// Sweeps per request timeout: a request is given up between 1 and 1.25 timeouts after it began.
const REAPS_PER_TIMEOUT: u64 = 4;

/// A request this node coordinates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Pending {
    op: OpRef,
    kind: OpKind,
    needed: u16,
    replies: u16,
    /// Newest value seen so far (reads) or the write's version (writes).
    best: Option<(Option<ValueId>, Version)>,
    generation: u32,
    /// Local clock reading when the request began.
    started_us: u64,
}

#[derive(Clone, Debug)]
pub struct Leaderless {
    me: NodeId,
    config: LeaderlessConfig,
    /// Durable replica data.
    kv: VersionedKv,
    /// Volatile coordinator state: a slab of pending requests (request id = generation << 32 | slot).
    pending: Vec<Option<Pending>>,
    free: Vec<u32>,
    next_generation: u32,
    in_progress: usize,
}

type LCtx<'a> = Ctx<'a, QuorumMsg, QuorumTimer>;

impl Leaderless {
    fn start_request(&mut self, ctx: &mut LCtx<'_>, req: ClientReq) -> u64 {
        self.next_generation = self.next_generation.wrapping_add(1);
        let needed = if req.kind == OpKind::Read {
            self.config.read_quorum
        } else {
            self.config.write_quorum
        };
        let p = Pending {
            op: req.op,
            kind: req.kind,
            needed,
            replies: 0,
            best: None,
            generation: self.next_generation,
            started_us: ctx.local_now_us,
        };
        let slot = match self.free.pop() {
            Some(s) => {
                self.pending[s as usize] = Some(p);
                s
            }
            None => {
                self.pending.push(Some(p));
                (self.pending.len() - 1) as u32
            }
        };
        self.in_progress += 1;
        (self.next_generation as u64) << 32 | slot as u64
    }

    /// Gives up on every request older than the timeout. Like Cassandra, which expires its
    /// outstanding request callbacks from a periodic task instead of arming a timer per request,
    /// this costs one timer per sweep, not one per request.
    fn reap(&mut self, ctx: &mut LCtx<'_>) {
        for slot in 0..self.pending.len() {
            let Some(p) = self.pending[slot] else {
                continue;
            };
            if ctx.local_now_us.saturating_sub(p.started_us) >= self.config.request_timeout_us {
                self.finish((p.generation as u64) << 32 | slot as u64);
                // Not rolled back: the write may exist on some replicas, so the outcome is unknown.
                ctx.reply(p.op, OpResult::Unknown(FailReason::Timeout));
            }
        }
    }

    fn reap_interval_us(&self) -> u64 {
        (self.config.request_timeout_us / REAPS_PER_TIMEOUT).max(1)
    }

    fn pending_mut(&mut self, req: u64) -> Option<&mut Pending> {
        let slot = (req & 0xffff_ffff) as usize;
        let p = self.pending.get_mut(slot)?.as_mut()?;
        (p.generation == (req >> 32) as u32).then_some(p)
    }

    fn finish(&mut self, req: u64) {
        let slot = (req & 0xffff_ffff) as u32;
        self.pending[slot as usize] = None;
        self.free.push(slot);
        self.in_progress -= 1;
    }

    /// Applies a replicated write locally; reports a change of stored value to the metrics.
    #[inline]
    fn store(&mut self, ctx: &mut LCtx<'_>, key: Key, value: Option<ValueId>, version: Version) {
        if self.kv.apply_if_newer(key, value, version) {
            ctx.applied(key, value, version);
        }
    }

    fn local_read(&self, key: Key) -> (Option<ValueId>, Version) {
        self.kv
            .get(key)
            .map_or((None, Version::default()), |c| (c.value, c.version))
    }

    /// Counts one reply; answers the client when the quorum is reached.
    #[inline]
    fn on_reply(&mut self, ctx: &mut LCtx<'_>, req: u64, read: Option<(Option<ValueId>, Version)>) {
        let Some(p) = self.pending_mut(req) else {
            return;
        };
        p.replies += 1;
        if let Some((value, version)) = read
            && p.best.is_none_or(|(_, v)| version > v)
        {
            p.best = Some((value, version));
        }
        if p.replies < p.needed {
            return;
        }
        let result = match (p.kind, p.best) {
            (OpKind::Read, best) => OpResult::Read(best.and_then(|(v, _)| v)),
            (_, best) => OpResult::Written(best.map_or(Version::default(), |(_, v)| v)),
        };
        let op = p.op;
        self.finish(req);
        ctx.reply(op, result);
    }

    fn coordinate_write(&mut self, ctx: &mut LCtx<'_>, req: ClientReq) {
        let tie = if req.kind == OpKind::Delete {
            u64::MAX
        } else {
            req.value.map_or(0, |v| v.0)
        };
        let version = Version(ctx.local_now_us, tie);
        let id = self.start_request(ctx, req);
        if let Some(p) = self.pending_mut(id) {
            p.best = Some((req.value, version));
        }
        let ring = Arc::clone(&self.config.ring);
        for &r in ring.replicas(req.key) {
            if r == self.me {
                self.store(ctx, req.key, req.value, version);
                self.on_reply(ctx, id, None);
            } else {
                ctx.send(
                    r,
                    QuorumMsg::WriteReq {
                        req: id,
                        key: req.key,
                        value: req.value,
                        version,
                    },
                );
            }
        }
    }

    fn coordinate_read(&mut self, ctx: &mut LCtx<'_>, req: ClientReq) {
        let id = self.start_request(ctx, req);
        let ring = Arc::clone(&self.config.ring);
        for &r in ring.replicas(req.key) {
            if r == self.me {
                let local = self.local_read(req.key);
                self.on_reply(ctx, id, Some(local));
            } else {
                ctx.send(
                    r,
                    QuorumMsg::ReadReq {
                        req: id,
                        key: req.key,
                    },
                );
            }
        }
    }
}

impl Policy for Leaderless {
    type Msg = QuorumMsg;
    type Timer = QuorumTimer;
    type Config = LeaderlessConfig;
    const KINDS: &'static [&'static str] = KINDS;

    fn new(me: NodeId, _cluster: &Cluster, config: &LeaderlessConfig) -> Self {
        Leaderless {
            me,
            config: config.clone(),
            kv: VersionedKv::default(),
            pending: Vec::new(),
            free: Vec::new(),
            next_generation: 0,
            in_progress: 0,
        }
    }

    fn on_start(&mut self, ctx: &mut LCtx<'_>) {
        ctx.set_timer(self.reap_interval_us(), QuorumTimer::Reap);
    }

    #[inline]
    fn on_client(&mut self, ctx: &mut LCtx<'_>, req: ClientReq) {
        match req.kind {
            OpKind::Read => self.coordinate_read(ctx, req),
            OpKind::Write | OpKind::Delete => self.coordinate_write(ctx, req),
        }
    }

    #[inline]
    fn on_message(&mut self, ctx: &mut LCtx<'_>, from: NodeId, msg: QuorumMsg) {
        match msg {
            QuorumMsg::WriteReq {
                req,
                key,
                value,
                version,
            } => {
                self.store(ctx, key, value, version);
                ctx.send(from, QuorumMsg::WriteAck { req });
            }
            QuorumMsg::ReadReq { req, key } => {
                let (value, version) = self.local_read(key);
                ctx.send(
                    from,
                    QuorumMsg::ReadResp {
                        req,
                        value,
                        version,
                    },
                );
            }
            QuorumMsg::WriteAck { req } => self.on_reply(ctx, req, None),
            QuorumMsg::ReadResp {
                req,
                value,
                version,
            } => self.on_reply(ctx, req, Some((value, version))),
        }
    }

    fn on_timer(&mut self, ctx: &mut LCtx<'_>, timer: QuorumTimer) {
        let QuorumTimer::Reap = timer;
        self.reap(ctx);
        ctx.set_timer(self.reap_interval_us(), QuorumTimer::Reap);
    }

    fn on_crash(&mut self) {
        self.pending.clear();
        self.free.clear();
        self.in_progress = 0;
    }

    fn reconfigure(&mut self, config: &LeaderlessConfig) {
        self.config = config.clone();
    }

    fn replicas_of(&self, key: Key, out: &mut Vec<NodeId>) {
        out.extend_from_slice(self.config.ring.replicas(key));
    }

    fn view(&self) -> NodeView {
        NodeView {
            role: "replica",
            details: vec![
                ("keys stored", self.kv.len().to_string()),
                ("coordinating", self.in_progress.to_string()),
            ],
            ..NodeView::default()
        }
    }

    fn stored(&self, out: &mut Vec<StoredValue>) {
        self.kv.stored(out);
    }
}

impl crate::engine::FromScenario for Leaderless {
    fn config_from(s: &crate::scenario::Scenario) -> LeaderlessConfig {
        let crate::scenario::schema::PolicySpec::Leaderless(l) = &s.policy else {
            unreachable!("the simulator picks the policy type from the scenario")
        };
        let keys = crate::scenario::validate::key_count(&s.workload.keys);
        LeaderlessConfig {
            read_quorum: l.read_quorum,
            write_quorum: l.write_quorum,
            request_timeout_us: crate::types::ms_to_us(l.request_timeout_ms),
            ring: Arc::new(Ring::new(
                s.nodes.count,
                l.vnodes,
                l.replication_factor,
                keys,
            )),
        }
    }
}
