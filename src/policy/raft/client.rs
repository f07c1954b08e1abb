//! Client requests. A follower that knows the leader redirects the client there (etcd forwards
//! proposals to `r.lead`); a node that knows no leader keeps the request until one is known
//! or `request_timeout` passes (etcd's server waits, then says "request timed out"); the leader
//! appends writes to its log and answers once they are committed and applied.
//!
//! Reads (`read_mode`): `Log` appends the read like a write; `ReadIndex` is etcd's
//! `ReadOnlySafe` (`sendMsgReadIndexResponse`: record the commit index, confirm leadership with
//! a heartbeat round acknowledged by a majority, answer once applied ≥ read index; postponed
//! until the leader has committed an entry of its own term); `Lease` is `ReadOnlyLeaseBased`
//! with an explicit lease as in TiKV: after a majority acknowledged a round sent at local time
//! t, the leader answers locally until t + lease on its own clock. raft-rs `read_only.rs` warns
//! that this "can be affected by clock drift": a clock that runs slow or is stepped back keeps
//! the lease past the moment the others may elect a new leader.

use super::{Command, MAX_PENDING, Pending, PendingRead, RCtx, Raft, RaftTimer, Role};
use crate::policy::{ClientReq, FailReason, OpRef, OpResult};
use crate::scenario::schema::ReadMode;
use crate::types::OpKind;

impl Raft {
    /// `fresh` is false when a request kept earlier is handled again (its timeout is running).
    pub(super) fn on_client_request(&mut self, ctx: &mut RCtx<'_>, req: ClientReq, fresh: bool) {
        if self.answer_while_rebuilding(ctx, &req) {
            return;
        }
        if self.role == Role::Leader {
            return self.lead_request(ctx, req, fresh);
        }
        match self.leader {
            Some(leader) if leader != self.me => ctx.reply(req.op, OpResult::Redirect(leader)),
            _ => {
                if self.admit(ctx, req.op, fresh) {
                    self.held.push(req);
                }
            }
        }
    }

    /// Whether there is room to keep one more request; arms its timeout when it is new.
    fn admit(&mut self, ctx: &mut RCtx<'_>, op: OpRef, fresh: bool) -> bool {
        if fresh && self.pending_requests() >= MAX_PENDING {
            ctx.reply(op, OpResult::Failed(FailReason::Unavailable));
            return false;
        }
        if fresh {
            ctx.set_timer(
                self.config.request_timeout_us,
                RaftTimer::RequestTimeout { op },
            );
        }
        true
    }

    fn lead_request(&mut self, ctx: &mut RCtx<'_>, req: ClientReq, fresh: bool) {
        match (req.kind, self.config.read_mode) {
            (OpKind::Read, ReadMode::Lease) if self.lease_valid(ctx) => {
                let value = self.kv.get(req.key).and_then(|c| c.value);
                ctx.reply(req.op, OpResult::Read(value));
            }
            (OpKind::Read, ReadMode::ReadIndex | ReadMode::Lease) => {
                self.read_index(ctx, req, fresh)
            }
            (OpKind::Read, ReadMode::Log) | (OpKind::Write | OpKind::Delete, _) => {
                self.propose(ctx, req, fresh)
            }
        }
    }

    /// etcd `stepLeader`, MsgProp: append to our log, replicate, answer once applied.
    fn propose(&mut self, ctx: &mut RCtx<'_>, req: ClientReq, fresh: bool) {
        if !self.admit(ctx, req.op, fresh) {
            return;
        }
        let cmd = match req.kind {
            OpKind::Read => Command::Read { key: req.key },
            OpKind::Write | OpKind::Delete => Command::Put {
                key: req.key,
                value: req.value,
            },
        };
        let term = self.term;
        let index = self.append_new(ctx.now.0, term, cmd);
        let pending = Pending {
            op: req.op,
            term,
            kind: req.kind,
            key: req.key,
        };
        self.pending.insert(index, pending);
        self.bcast_append(ctx);
        if self.maybe_commit() {
            self.on_leader_commit(ctx);
        }
    }

    /// The lease holds while this term has a committed entry (so our state machine has every
    /// earlier commit) and our clock has not passed the lease end.
    fn lease_valid(&self, ctx: &RCtx<'_>) -> bool {
        self.committed_in_term() && ctx.local_now_us < self.reads.lease_until_local
    }

    /// etcd `committedEntryInCurrentTerm`.
    fn committed_in_term(&self) -> bool {
        self.term_at(self.commit) == Some(self.term)
    }

    fn read_index(&mut self, ctx: &mut RCtx<'_>, req: ClientReq, fresh: bool) {
        if !self.admit(ctx, req.op, fresh) {
            return;
        }
        let mut read = PendingRead {
            op: req.op,
            key: req.key,
            round: None,
            index: self.commit,
        };
        if self.committed_in_term() {
            read.round = Some(self.bcast_heartbeat(ctx));
        }
        self.reads.waiting.push(read);
        self.release_reads(ctx);
    }

    /// etcd `releasePendingReadIndexMessages`: reads that arrived before the term's first commit
    /// get their read index and one heartbeat round now.
    pub(super) fn release_reads_after_first_commit(&mut self, ctx: &mut RCtx<'_>) {
        if !self.committed_in_term() || self.reads.waiting.iter().all(|r| r.round.is_some()) {
            return;
        }
        let round = self.bcast_heartbeat(ctx);
        let commit = self.commit;
        for r in self.reads.waiting.iter_mut().filter(|r| r.round.is_none()) {
            r.round = Some(round);
            r.index = commit;
        }
        self.release_reads(ctx);
    }

    /// etcd `readOnly.recvAck` + `advance`: the highest round a majority has acknowledged (the
    /// leader acknowledges its own rounds) confirms every read waiting on it or an earlier one,
    /// and renews the lease from the time that round was sent.
    pub(super) fn advance_reads(&mut self, ctx: &mut RCtx<'_>) {
        let me = self.me.index();
        let mut acked: Vec<u64> = (0..self.nodes as usize)
            .map(|i| {
                if i == me {
                    self.reads.round
                } else {
                    self.progress[i].acked_round
                }
            })
            .collect();
        acked.sort_unstable_by(|a, b| b.cmp(a));
        let confirmed = acked[self.quorum() - 1];
        if confirmed <= self.reads.confirmed {
            return;
        }
        self.reads.confirmed = confirmed;
        let mut sent_at = None;
        while let Some(&(round, at)) = self.reads.sent.front() {
            if round > confirmed {
                break;
            }
            sent_at = Some(at);
            self.reads.sent.pop_front();
        }
        if let Some(at) = sent_at {
            let until = at.saturating_add(self.config.lease_us);
            self.reads.lease_until_local = self.reads.lease_until_local.max(until);
        }
        self.release_reads(ctx);
    }

    /// Answers every confirmed read whose read index has been applied.
    pub(super) fn release_reads(&mut self, ctx: &mut RCtx<'_>) {
        let (confirmed, applied) = (self.reads.confirmed, self.applied);
        let ready = |r: &PendingRead| r.round.is_some_and(|x| x <= confirmed) && r.index <= applied;
        if !self.reads.waiting.iter().any(ready) {
            return;
        }
        let waiting = std::mem::take(&mut self.reads.waiting);
        for r in waiting {
            if ready(&r) {
                let value = self.kv.get(r.key).and_then(|c| c.value);
                ctx.reply(r.op, OpResult::Read(value));
            } else {
                self.reads.waiting.push(r);
            }
        }
    }

    /// A leader that steps down can no longer confirm its read index: those reads fail (a read
    /// changes nothing, so the client may simply retry elsewhere).
    pub(super) fn fail_leader_reads(&mut self, ctx: &mut RCtx<'_>) {
        for r in std::mem::take(&mut self.reads.waiting) {
            ctx.reply(r.op, OpResult::Failed(FailReason::NotLeader));
        }
    }

    /// A kept request ran out of time. Never forwarded anywhere: it definitely failed. In the
    /// log but not applied: a write may still commit later, so its outcome is unknown.
    pub(super) fn on_request_timeout(&mut self, ctx: &mut RCtx<'_>, op: OpRef) {
        if let Some(i) = self.held.iter().position(|r| r.op == op) {
            self.held.remove(i);
            return ctx.reply(op, OpResult::Failed(FailReason::Unavailable));
        }
        if let Some(i) = self.reads.waiting.iter().position(|r| r.op == op) {
            self.reads.waiting.remove(i);
            return ctx.reply(op, OpResult::Failed(FailReason::Timeout));
        }
        let found = self
            .pending
            .iter()
            .find(|(_, p)| p.op == op)
            .map(|(i, _)| *i);
        if let Some(p) = found.and_then(|i| self.pending.remove(&i)) {
            let result = if p.kind.is_update() {
                OpResult::Unknown(FailReason::Timeout)
            } else {
                OpResult::Failed(FailReason::Timeout)
            };
            ctx.reply(op, result);
        }
    }

    #[cfg(test)]
    pub(super) fn lease_until_local(&self) -> u64 {
        self.reads.lease_until_local
    }

    #[cfg(test)]
    pub(super) fn held_count(&self) -> usize {
        self.held.len()
    }
}
