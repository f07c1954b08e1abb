//! The coordinator's side of a read: data and digest replies, the full re-read after a digest
//! mismatch, blocking and background read repair (see `coordinator.rs` for the sources).

use super::coordinator::{HINT_BIT, Pending, Phase, bit, digest};
use super::{Held, LCtx, Leaderless, QuorumMsg, wins};
use crate::policy::{ClientReq, Note, OpResult};
use crate::types::{Key, NodeId, OpKind};
use std::sync::Arc;

impl Leaderless {
    pub(super) fn coordinate_read(&mut self, ctx: &mut LCtx<'_>, req: ClientReq) {
        let needed = self.config.needed(&req);
        // Cassandra's former `read_repair_chance`: this read asks every replica and repairs the
        // stale ones after answering. Drawn only when set, so other runs keep their random draws.
        let chance = self.config.read_repair_chance;
        let background = chance > 0.0 && ctx.rng.chance(chance);
        let ring = Arc::clone(&self.config.ring);
        let replicas = ring.replicas(req.key);
        if self.config.level(&req).is_none() {
            // Dynamo: a data request to every replica; the first R replies answer. With a
            // failure detector, too few live replicas refuse it up front, as for a level.
            if self.config.failure_detector {
                let alive = replicas.iter().filter(|&&r| self.is_alive(r)).count() as u16;
                if alive < needed {
                    return Self::unavailable(ctx, req, alive, needed);
                }
            }
            let id = self.start_request(ctx, req, needed);
            self.set_asked(id, replicas, background);
            for &r in replicas {
                self.ask(ctx, id, r, req.key, true);
            }
            return;
        }
        // Cassandra: the closest live replicas (the coordinator itself first), as many as needed.
        let mut live: Vec<NodeId> = Vec::with_capacity(replicas.len());
        if replicas.contains(&self.me) {
            live.push(self.me);
        }
        let others = replicas
            .iter()
            .filter(|&&r| r != self.me && self.is_alive(r));
        live.extend(others);
        if (live.len() as u16) < needed {
            return Self::unavailable(ctx, req, live.len() as u16, needed);
        }
        let id = self.start_request(ctx, req, needed);
        if let Some(p) = self.pending_mut(id) {
            p.digests = needed > 1 && !background;
        }
        let count = if background {
            live.len()
        } else {
            needed as usize
        };
        self.set_asked(id, &live[..count], background);
        for (i, &r) in live[..count].iter().enumerate() {
            self.ask(ctx, id, r, req.key, i == 0 || background);
        }
    }

    /// Records whom the read asks before asking (the coordinator's own reply may come at once).
    fn set_asked(&mut self, id: u64, targets: &[NodeId], background: bool) {
        if let Some(p) = self.pending_mut(id) {
            p.background = background;
            p.asked = targets.iter().fold(0, |m, &n| m | bit(n));
        }
    }

    /// Sends a data (or digest) request to `r`, answering it at once when `r` is this node.
    /// Inlined: a read calls it once per replica, and it is mostly one `send`.
    #[inline]
    fn ask(&mut self, ctx: &mut LCtx<'_>, id: u64, r: NodeId, key: Key, data: bool) {
        if r == self.me {
            let held = self.local_read(key);
            if data {
                self.on_data(ctx, r, id, held);
            } else {
                self.on_digest(ctx, r, id, digest(held));
            }
        } else if data {
            ctx.send(r, QuorumMsg::ReadReq { req: id, key });
        } else {
            ctx.send(r, QuorumMsg::DigestReq { req: id, key });
        }
    }

    /// The read `req` still waiting for `from`'s reply, edited in place: a late or duplicated
    /// reply finds none. (Copying the whole `Pending` out and back per reply cost more than the
    /// reply's own bookkeeping.)
    fn read_awaiting(&mut self, req: u64, from: NodeId) -> Option<&mut Pending> {
        let p = self.pending_mut(req)?;
        (p.kind == OpKind::Read && p.answered & bit(from) == 0).then_some(p)
    }

    fn put_back(&mut self, req: u64, p: Pending) {
        if let Some(slot) = self.pending_mut(req) {
            *slot = p;
        }
    }

    fn note_digest(p: &mut Pending, d: u64) {
        match p.digest {
            None => p.digest = Some(d),
            Some(x) if x != d => p.mismatch = true,
            Some(_) => {}
        }
    }

    pub(super) fn on_data(&mut self, ctx: &mut LCtx<'_>, from: NodeId, req: u64, held: Held) {
        let conflict = self.config.conflict;
        let Some(p) = self.read_awaiting(req, from) else {
            return;
        };
        let b = bit(from);
        p.answered |= b;
        p.data_from |= b;
        p.replies += 1;
        if !p.has_best || wins(conflict, held, p.best) {
            p.best = held;
            p.has_best = true;
            p.at_best = b;
        } else if held == p.best {
            p.at_best |= b;
        }
        if p.digests {
            Self::note_digest(p, digest(held));
        }
        self.progress(ctx, req);
    }

    pub(super) fn on_digest(&mut self, ctx: &mut LCtx<'_>, from: NodeId, req: u64, d: u64) {
        let Some(p) = self.read_awaiting(req, from) else {
            return;
        };
        p.answered |= bit(from);
        p.replies += 1;
        Self::note_digest(p, d);
        self.progress(ctx, req);
    }

    /// After a reply was counted: go on waiting, or take the read's next step.
    fn progress(&mut self, ctx: &mut LCtx<'_>, req: u64) {
        let Some(p) = self.pending_mut(req) else {
            return;
        };
        match p.phase {
            Phase::Collect if p.client_answered => {
                if p.answered == p.asked {
                    let p = *p;
                    self.finish(req);
                    self.repair_stale(ctx, req, &p);
                }
            }
            Phase::Collect | Phase::FullRead if p.replies < p.needed => {}
            Phase::Collect if p.mismatch && p.answered & !p.data_from != 0 => {
                let p = *p;
                self.full_read(ctx, req, p)
            }
            Phase::Collect | Phase::FullRead => {
                let p = *p;
                self.resolve(ctx, req, &p)
            }
            Phase::Repair | Phase::CartWrite => {}
        }
    }

    /// The digests disagreed: read full data from every replica asked (Cassandra's
    /// DigestMismatchException path).
    fn full_read(&mut self, ctx: &mut LCtx<'_>, req: u64, mut p: Pending) {
        p.phase = Phase::FullRead;
        p.needed = p.asked.count_ones() as u16;
        p.replies = 0;
        p.answered = 0;
        p.data_from = 0;
        p.at_best = 0;
        p.has_best = false;
        let (asked, key) = (p.asked, p.key);
        self.put_back(req, p);
        for n in 0..self.nodes {
            if asked & bit(NodeId(n)) != 0 {
                self.ask(ctx, req, NodeId(n), key, true);
            }
        }
    }

    /// Enough replies: repair the stale replicas first when read repair blocks, then answer.
    fn resolve(&mut self, ctx: &mut LCtx<'_>, req: u64, p: &Pending) {
        let stale = p.data_from & !p.at_best;
        if !self.config.read_repair || stale == 0 || p.background {
            return self.answer(ctx, req, p);
        }
        let mut p = *p;
        p.phase = Phase::Repair;
        p.repairing = stale & !bit(self.me);
        self.put_back(req, p);
        self.repair_stale(ctx, req, &p);
        if p.repairing == 0 {
            self.answer(ctx, req, &p);
        }
    }

    /// Writes the newest value to every replica whose data was older.
    fn repair_stale(&mut self, ctx: &mut LCtx<'_>, req: u64, p: &Pending) {
        let (key, (value, version)) = (p.key, p.best);
        for n in 0..self.nodes {
            let to = NodeId(n);
            if p.data_from & !p.at_best & bit(to) == 0 {
                continue;
            }
            ctx.note(Note::ReadRepair { to, key });
            if to == self.me {
                self.store(ctx, key, value, version);
            } else {
                let msg = QuorumMsg::Repair {
                    req,
                    key,
                    value,
                    version,
                };
                ctx.send(to, msg);
            }
        }
    }

    fn answer(&mut self, ctx: &mut LCtx<'_>, req: u64, p: &Pending) {
        let (value, _) = self.session_read(ctx, p);
        ctx.reply(p.op, OpResult::Read(value));
        if p.background && p.answered != p.asked {
            let mut p = *p;
            p.client_answered = true;
            p.phase = Phase::Collect;
            self.put_back(req, p);
            return;
        }
        self.finish(req);
        if p.background {
            self.repair_stale(ctx, req, p);
        }
    }

    pub(super) fn on_repair_ack(&mut self, ctx: &mut LCtx<'_>, from: NodeId, req: u64) {
        if req & HINT_BIT != 0 {
            return self.on_hint_ack(req & !HINT_BIT);
        }
        let Some(mut p) = self.pending_mut(req).copied() else {
            return;
        };
        if p.phase != Phase::Repair {
            return;
        }
        p.repairing &= !bit(from);
        if p.repairing == 0 {
            self.answer(ctx, req, &p);
        } else {
            self.put_back(req, p);
        }
    }
}
