//! The coordinator's side of a request: consistency levels, Unavailable, digest reads, read
//! repair.
//!
//! Cassandra (StorageProxy / AbstractReadExecutor): a read at level L sends one full data request
//! and L - 1 digest requests to the closest live replicas; when the digests disagree it re-reads
//! full data from every replica it asked, resolves the newest, and with `read_repair = BLOCKING`
//! (the default since 4.0) writes it back to the stale replicas before answering. A write goes to
//! every live replica. Before either is sent, `assureSufficientLiveNodes` refuses it with
//! UnavailableException when the failure detector knows too few replicas are alive.
//! Dynamo (paper §4.5) instead asks all N replicas and answers with the first R; that is what a
//! read does when no `read_consistency` is set.
//!
//! Sources: https://cassandra.apache.org/doc/latest/operating/read_repair.html (blocking read
//! repair, "monotonic quorum reads", only the replicas involved are repaired); the drivers'
//! UnavailableException ("the coordinator knows there is not enough replica alive ... the request
//! is not sent to the nodes at all", with alive/required counts, as in `Note::Unavailable`).

use super::{Held, LCtx, Leaderless};
use crate::policy::{ClientReq, FailReason, Note, OpRef, OpResult};
use crate::scenario::schema::Consistency;
use crate::types::{Key, NodeId, OpKind, Version};
use std::sync::Arc;
use xxhash_rust::xxh3::xxh3_64;

/// Sweeps per request timeout: a request is given up between 1 and 1.25 timeouts after it began.
const REAPS_PER_TIMEOUT: u64 = 4;

/// Request ids with this bit set name a hint being replayed, not a pending request.
pub(super) const HINT_BIT: u64 = 1 << 63;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Phase {
    /// Waiting for the level's replies (data and digests).
    Collect,
    /// The digests disagreed: full data requested from every replica asked.
    FullRead,
    /// Waiting for the stale replicas to acknowledge the repair (blocking read repair).
    Repair,
    /// A cart update: the merged cart is being written.
    CartWrite,
}

/// A request this node coordinates. Node sets are bit masks (validation caps clusters at 64).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Pending {
    pub(super) op: OpRef,
    pub(super) kind: OpKind,
    pub(super) key: Key,
    pub(super) needed: u16,
    pub(super) replies: u16,
    /// Writes: the write itself. Reads: the winning cell seen so far.
    pub(super) best: Held,
    /// The value the client's write writes (version-vector carts add it as an item).
    pub(super) value: Option<crate::types::ValueId>,
    pub(super) session: u64,
    pub(super) guarantees: crate::policy::Guarantees,
    pub(super) has_best: bool,
    pub(super) asked: u64,
    pub(super) answered: u64,
    /// Reads: replicas that sent full data, and those whose data equals `best`.
    pub(super) data_from: u64,
    pub(super) at_best: u64,
    /// Reads: digest of the first reply, and whether any later one differed.
    pub(super) digest: Option<u64>,
    pub(super) mismatch: bool,
    /// Some replies are digests (Cassandra reads); Dynamo reads skip the hashing.
    pub(super) digests: bool,
    pub(super) phase: Phase,
    pub(super) repairing: u64,
    /// The client has its answer; the read goes on collecting replies to repair in the background.
    pub(super) client_answered: bool,
    pub(super) background: bool,
    pub(super) generation: u32,
    /// Local clock reading when the request began.
    pub(super) started_us: u64,
}

/// What a digest request returns: a hash of the replica's cell.
pub(super) fn digest((value, version): Held) -> u64 {
    let mut bytes = [0u8; 24];
    bytes[..8].copy_from_slice(&value.map_or(u64::MAX, |v| v.0).to_le_bytes());
    bytes[8..16].copy_from_slice(&version.0.to_le_bytes());
    bytes[16..].copy_from_slice(&version.1.to_le_bytes());
    xxh3_64(&bytes)
}

pub(super) fn bit(n: NodeId) -> u64 {
    1u64 << n.0
}

impl Leaderless {
    pub(super) fn reap_interval_us(&self) -> u64 {
        (self.config.request_timeout_us / REAPS_PER_TIMEOUT).max(1)
    }

    pub(super) fn start_request(&mut self, ctx: &mut LCtx<'_>, req: ClientReq, needed: u16) -> u64 {
        // 31-bit generations keep HINT_BIT free.
        self.next_generation = self.next_generation.wrapping_add(1) & 0x7fff_ffff;
        let slot = self.free.pop().unwrap_or_else(|| {
            self.pending.push(None);
            (self.pending.len() - 1) as u32
        });
        // Built straight into its slot (no copy of the whole struct through the stack).
        self.pending[slot as usize] = Some(Pending {
            op: req.op,
            kind: req.kind,
            key: req.key,
            needed,
            replies: 0,
            best: (None, Version::default()),
            value: req.value,
            session: req.session,
            guarantees: req.guarantees,
            has_best: false,
            asked: 0,
            answered: 0,
            data_from: 0,
            at_best: 0,
            digest: None,
            mismatch: false,
            digests: false,
            phase: Phase::Collect,
            repairing: 0,
            client_answered: false,
            background: false,
            generation: self.next_generation,
            started_us: ctx.local_now_us,
        });
        self.in_progress += 1;
        (self.next_generation as u64) << 32 | slot as u64
    }

    pub(super) fn pending_mut(&mut self, req: u64) -> Option<&mut Pending> {
        let slot = (req & 0xffff_ffff) as usize;
        let p = self.pending.get_mut(slot)?.as_mut()?;
        (p.generation == (req >> 32) as u32).then_some(p)
    }

    pub(super) fn finish(&mut self, req: u64) {
        let slot = (req & 0xffff_ffff) as u32;
        self.pending[slot as usize] = None;
        if !self.carts.collecting.is_empty() {
            self.forget_cart_read(req);
        }
        self.free.push(slot);
        self.in_progress -= 1;
    }

    /// Out of line: only version-vector runs collect carts, and inlining the map removal made
    /// every `finish` save and restore more registers.
    #[cold]
    #[inline(never)]
    fn forget_cart_read(&mut self, req: u64) {
        self.carts.collecting.remove(&req);
    }

    /// Gives up on every request older than the timeout. Like Cassandra, which expires its
    /// outstanding request callbacks from a periodic task instead of arming a timer per request,
    /// this costs one timer per sweep, not one per request.
    pub(super) fn reap(&mut self, ctx: &mut LCtx<'_>) {
        for slot in 0..self.pending.len() {
            let Some(p) = self.pending[slot] else {
                continue;
            };
            if ctx.local_now_us.saturating_sub(p.started_us) < self.config.request_timeout_us {
                continue;
            }
            self.finish((p.generation as u64) << 32 | slot as u64);
            if p.client_answered {
                continue; // a background repair that some replica never answered
            }
            if p.kind != OpKind::Read {
                // Cassandra also writes a hint for a replica that timed out (StorageProxy).
                self.hint_unanswered(ctx, &p);
            }
            // Not rolled back: the write may exist on some replicas, so the outcome is unknown.
            ctx.reply(p.op, OpResult::Unknown(FailReason::Timeout));
        }
    }

    fn hint_unanswered(&mut self, ctx: &mut LCtx<'_>, p: &Pending) {
        for n in 0..self.nodes {
            let node = NodeId(n);
            if p.asked & !p.answered & bit(node) != 0 && self.may_hint(ctx, node) {
                self.keep_hint(ctx, node, p.key, p.best.0, p.best.1);
            }
        }
    }

    pub(super) fn unavailable(ctx: &mut LCtx<'_>, req: ClientReq, alive: u16, needed: u16) {
        let key = req.key;
        ctx.note(Note::Unavailable { key, alive, needed });
        ctx.reply(req.op, OpResult::Failed(FailReason::Unavailable));
    }

    /// Where a write goes: (node, the replica it stands in for). With a sloppy quorum the first
    /// N healthy nodes of the preference list take it; otherwise the live replicas.
    fn write_targets(&self, key: Key, out: &mut Vec<(NodeId, Option<NodeId>)>) {
        out.clear();
        let ring = &self.config.ring;
        if !self.config.sloppy_quorum {
            let live = ring.replicas(key).iter().filter(|&&r| self.is_alive(r));
            out.extend(live.map(|&r| (r, None)));
            return;
        }
        let rf = ring.replication_factor();
        let mut pref = Vec::new();
        ring.preference_list(key, &mut pref);
        let mut down = pref[..rf].iter().filter(|&&r| !self.is_alive(r));
        for (i, &n) in pref.iter().enumerate() {
            if out.len() == rf {
                break;
            }
            if !self.is_alive(n) {
                continue;
            }
            let stands_in = if i < rf { None } else { down.next().copied() };
            out.push((n, stands_in));
        }
    }

    pub(super) fn coordinate_write(&mut self, ctx: &mut LCtx<'_>, req: ClientReq) {
        let tie = if req.kind == OpKind::Delete {
            u64::MAX
        } else {
            req.value.map_or(0, |v| v.0)
        };
        let mut version = Version(ctx.local_now_us, tie);
        if req.guarantees.any()
            && let Some(floor) = self.session_floor(&req)
            && version.0 <= floor.0
        {
            // Later than what the session wrote or read, whatever this node's clock says.
            version = Version(floor.0 + 1, tie);
        }
        let needed = self.config.needed(&req);
        let any = self.config.level(&req) == Some(Consistency::Any);
        // A reused buffer: no allocation per write on the hot path.
        let mut targets = std::mem::take(&mut self.scratch_targets);
        self.write_targets(req.key, &mut targets);
        let alive = targets.len() as u16;
        if alive < needed && !(any && self.config.hinted_handoff) {
            self.scratch_targets = targets;
            return Self::unavailable(ctx, req, alive, needed);
        }
        let id = self.start_request(ctx, req, needed);
        if let Some(p) = self.pending_mut(id) {
            p.best = (req.value, version);
            // All at once, before any is asked: an ack from this node itself reads no `asked`.
            p.asked = targets.iter().fold(0, |m, &(r, _)| m | bit(r));
        }
        let hinted = self.config.hinted_handoff
            && self.hint_down_replicas(ctx, req.key, (req.value, version), &targets);
        if any && alive == 0 && hinted {
            // Cassandra: with ANY a stored hint is enough (and the only case where one counts).
            self.finish(id);
            self.scratch_targets = targets;
            return ctx.reply(req.op, OpResult::Written(version));
        }
        for &(r, hint_for) in &targets {
            if r == self.me {
                self.store(ctx, req.key, req.value, version);
                self.on_write_ack(ctx, r, id);
            } else {
                let (key, value) = (req.key, req.value);
                let msg = super::QuorumMsg::WriteReq {
                    req: id,
                    key,
                    value,
                    version,
                    hint_for,
                };
                ctx.send(r, msg);
            }
        }
        self.scratch_targets = targets;
    }

    /// Stores hints for the key's replicas the coordinator knows are down and no stand-in covers.
    fn hint_down_replicas(
        &mut self,
        ctx: &mut LCtx<'_>,
        key: Key,
        cell: Held,
        targets: &[(NodeId, Option<NodeId>)],
    ) -> bool {
        let ring = Arc::clone(&self.config.ring);
        let mut hinted = false;
        for &r in ring.replicas(key) {
            let covered = targets.iter().any(|&(n, s)| n == r || s == Some(r));
            if !covered && self.may_hint(ctx, r) {
                self.keep_hint(ctx, r, key, cell.0, cell.1);
                hinted = true;
            }
        }
        hinted
    }

    pub(super) fn on_write_ack(&mut self, ctx: &mut LCtx<'_>, from: NodeId, req: u64) {
        let Some(p) = self.pending_mut(req) else {
            return;
        };
        if p.answered & bit(from) != 0 {
            return; // a duplicated ack is still one replica
        }
        p.answered |= bit(from);
        p.replies += 1;
        if p.replies == p.needed {
            self.write_done(ctx, req);
        }
    }

    /// The write's level is reached: answer the client. Out of line so that the many acks that
    /// only count (or come late) run a small function.
    #[inline(never)]
    fn write_done(&mut self, ctx: &mut LCtx<'_>, req: u64) {
        let Some(&mut p) = self.pending_mut(req) else {
            return;
        };
        if p.guarantees.any() {
            self.session_wrote(&p);
        }
        self.finish(req);
        ctx.reply(p.op, OpResult::Written(p.best.1));
    }
}
