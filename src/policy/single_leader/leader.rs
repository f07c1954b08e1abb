//! The leader's side: taking writes, shipping the log, counting acknowledgements, keeping the
//! in-sync replica set (ISR), and fencing itself when the controller falls silent.
//!
//! The ISR rules follow Kafka's `Partition` (core/src/main/scala/kafka/cluster/Partition.scala):
//! a follower is out of sync when it has not caught up with the leader's log end for
//! `replica.lag.time.max.ms` (`getOutOfSyncReplicas`; one that holds the whole log never is,
//! KAFKA-7152); it rejoins once it holds the high watermark and has reached the leader's epoch
//! (`maybeExpandIsr`). The high watermark is the smallest log end over the ISR; with `acks=all`
//! a write is answered once the high watermark passes it, `ok` if the ISR still has
//! `min.insync.replicas` members and NOT_ENOUGH_REPLICAS_AFTER_APPEND (here `info`) if it shrank
//! below (`checkEnoughReplicasReachOffset`); a write arriving while the ISR is already too small
//! is refused before it is appended (`appendRecordsToLeader`, NOT_ENOUGH_REPLICAS, here `fail`).
//! ISR changes take effect only once the controller has recorded them (`updateIsr` writes
//! ZooKeeper first; KIP-497's AlterPartition asks the controller), and until then the high
//! watermark counts both the old and the proposed members (KIP-497's "maximal ISR").

use super::{Entry, LeaderMsg, NodeSet, Reply, SCtx, SingleLeader};
use crate::policy::{ClientReq, FailReason, Note, OpRef, OpResult};
use crate::scenario::schema::Replication;
use crate::types::{NodeId, Version};
use std::collections::BTreeMap;

/// What a leader knows about one follower.
#[derive(Clone, Debug, Default)]
pub(super) struct Peer {
    /// The follower's log is known to equal ours up to here; `None` while probing for the point
    /// where they part (just after an election, or after a conflict).
    pub matched: Option<u64>,
    /// Where the next probe starts.
    pub probe: u64,
    /// Highest index sent to it.
    pub sent_upto: u64,
    /// Local time when it last held our whole log (Kafka's `lastCaughtUpTimeMs`).
    pub caught_up_us: u64,
    /// Local time of its previous acknowledgement, and our log end then.
    pub last_ack_us: u64,
    pub end_at_last_ack: u64,
}

#[derive(Clone, Debug)]
pub(super) struct Leading {
    pub epoch: u64,
    /// The first index written in this epoch.
    pub epoch_start: u64,
    pub peers: Vec<Peer>,
    /// The ISR as the controller has recorded it (always includes the leader).
    pub isr: NodeSet,
    pub isr_version: u64,
    /// A change asked of the controller and not yet confirmed.
    pub pending_isr: Option<NodeSet>,
    /// Writes waiting for followers, by log index.
    pub waiting: BTreeMap<u64, OpRef>,
    /// High watermark: every ISR member holds the log up to here.
    pub hw: u64,
    /// No word from the controller for `fence_timeout`: neither acknowledging nor serving.
    pub fenced: bool,
}

impl Leading {
    pub fn describe(&self, details: &mut Vec<(&'static str, String)>) {
        details.push(("in-sync replicas", self.isr.to_string()));
        if let Some(p) = self.pending_isr {
            details.push(("ISR change asked", p.to_string()));
        }
        details.push(("waiting for followers", self.waiting.len().to_string()));
    }
}

impl SingleLeader {
    pub(super) fn become_leader(&mut self, ctx: &mut SCtx<'_>, isr: NodeSet, isr_version: u64) {
        let now = ctx.local_now_us;
        let last = self.log.last_index();
        let isr = isr.with(self.me);
        let peers = (0..self.nodes)
            .map(|i| Peer {
                matched: None,
                probe: last + 1,
                sent_upto: last,
                // Kafka's makeLeader: ISR members count as caught up now, others never were.
                caught_up_us: if isr.contains(NodeId(i)) { now } else { 0 },
                last_ack_us: now,
                end_at_last_ack: last,
            })
            .collect();
        self.lead = Some(Box::new(Leading {
            epoch: self.epoch,
            epoch_start: last + 1,
            peers,
            isr,
            isr_version,
            pending_isr: None,
            waiting: BTreeMap::new(),
            hw: self.follow.hw.min(last),
            fenced: false,
        }));
        self.leader = Some(self.me);
        self.controller_contact_us = now;
        ctx.note(Note::BecameLeader { term: self.epoch });
        for f in self.followers().iter() {
            self.send_from(ctx, f, last + 1);
        }
    }

    /// Stops leading; writes still waiting may or may not survive, so their clients hear `info`.
    pub(super) fn step_down(&mut self, ctx: &mut SCtx<'_>) {
        let Some(lead) = self.lead.take() else {
            return;
        };
        for op in lead.waiting.into_values() {
            ctx.reply(op, OpResult::Unknown(FailReason::NotLeader));
        }
        if self.leader == Some(self.me) {
            self.leader = None;
        }
        ctx.note(Note::SteppedDown { term: lead.epoch });
    }

    pub(super) fn lead_write(&mut self, ctx: &mut SCtx<'_>, req: ClientReq) {
        let mode = self.config.replication;
        let Some(lead) = self.lead.as_ref() else {
            return;
        };
        if mode == Replication::InSync && lead.isr.len() < self.config.min_insync_replicas {
            // Kafka refuses before appending (NotEnoughReplicasException): definitely not applied.
            let result = OpResult::Failed(FailReason::NotEnoughReplicas);
            return ctx.reply(req.op, result);
        }
        self.refresh_caught_up(ctx.local_now_us);
        let e = Entry {
            index: self.log.last_index() + 1,
            epoch: self.epoch,
            key: req.key,
            value: req.value,
        };
        if mode == Replication::NoAck {
            // acks=0: the producer counts the write as sent before the leader has it.
            ctx.reply(req.op, OpResult::Written(e.version()));
        }
        self.append_entry(ctx, e);
        self.kv.put(e.key, e.value, e.version());
        ctx.applied(e.key, e.value, e.version());
        self.ship(ctx, e);
        match mode {
            Replication::NoAck => {}
            Replication::Async => ctx.reply(req.op, OpResult::Written(e.version())),
            Replication::SemiSync | Replication::Sync | Replication::InSync => {
                if let Some(lead) = self.lead.as_mut() {
                    lead.waiting.insert(e.index, req.op);
                }
                self.advance(ctx);
            }
        }
    }

    /// A fenced leader neither acknowledges nor serves. Under acks=0 the client cannot tell:
    /// it is told "ok" and the write is dropped.
    pub(super) fn refuse_while_fenced(&mut self, ctx: &mut SCtx<'_>, req: ClientReq) {
        let result = if req.kind.is_update() && self.config.replication == Replication::NoAck {
            OpResult::Written(Version::default())
        } else {
            OpResult::Failed(FailReason::Unavailable)
        };
        ctx.reply(req.op, result);
    }

    /// Sends a new entry at once to every follower whose position we know; the others get it
    /// when their probe settles.
    fn ship(&mut self, ctx: &mut SCtx<'_>, e: Entry) {
        let prev_epoch = self.epoch_at(e.index - 1);
        let log_start = self.log.first_index();
        let followers = self.followers();
        let Some(lead) = self.lead.as_mut() else {
            return;
        };
        for f in followers.iter() {
            let peer = &mut lead.peers[f.index()];
            if peer.matched.is_none() {
                continue;
            }
            peer.sent_upto = peer.sent_upto.max(e.index);
            let msg = LeaderMsg::Append {
                epoch: lead.epoch,
                log_start,
                prev_index: e.index - 1,
                prev_epoch,
                hw: lead.hw,
                last: e.index,
                entries: vec![e],
            };
            ctx.send(f, msg);
        }
    }

    /// Sends `to` up to `max_batch` entries from `from` (none: a probe). Offsets before the log
    /// start are gone (retention): the follower is sent the log start instead, and learns from
    /// `log_start` that it must start again there.
    pub(super) fn send_from(&mut self, ctx: &mut SCtx<'_>, to: NodeId, from: u64) {
        let last = self.log.last_index();
        let log_start = self.log.first_index();
        let from = from.clamp(log_start.max(1), last + 1);
        let entries = self.log.read_from(from, self.config.max_batch as usize);
        let upto = entries.last().map_or(from - 1, |e| e.index);
        let prev_epoch = self.epoch_at(from - 1);
        let Some(lead) = self.lead.as_mut() else {
            return;
        };
        let peer = &mut lead.peers[to.index()];
        peer.sent_upto = peer.sent_upto.max(upto);
        let msg = LeaderMsg::Append {
            epoch: lead.epoch,
            log_start,
            prev_index: from - 1,
            prev_epoch,
            hw: lead.hw,
            last,
            entries,
        };
        ctx.send(to, msg);
    }

    pub(super) fn leader_tick(&mut self, ctx: &mut SCtx<'_>) {
        let now = ctx.local_now_us;
        let Some(lead) = self.lead.as_ref() else {
            return;
        };
        if lead.fenced {
            return;
        }
        let silent_us = now.saturating_sub(self.controller_contact_us);
        if self.config.controller.is_some()
            && self.config.fencing
            && silent_us > self.config.fence_timeout_us
        {
            return self.fence(ctx, silent_us);
        }
        self.refresh_caught_up(now);
        self.maybe_shrink_isr(ctx, now);
        self.resend(ctx);
    }

    /// Re-sends what each follower has not acknowledged (standing in for TCP retransmission
    /// over the lossy network), probes followers whose position is unknown, and repeats an
    /// unanswered ISR change.
    fn resend(&mut self, ctx: &mut SCtx<'_>) {
        let last = self.log.last_index();
        for f in self.followers().iter() {
            let Some(lead) = self.lead.as_ref() else {
                return;
            };
            let peer = &lead.peers[f.index()];
            match peer.matched {
                Some(m) if m < last => self.send_from(ctx, f, m + 1),
                Some(_) => {}
                None => self.send_from(ctx, f, peer.probe),
            }
        }
        if let (Some(lead), Some(c)) = (self.lead.as_ref(), self.config.controller)
            && let Some(isr) = lead.pending_isr
        {
            let epoch = lead.epoch;
            ctx.send(c, LeaderMsg::AlterIsr { epoch, isr });
        }
    }

    fn fence(&mut self, ctx: &mut SCtx<'_>, silent_us: u64) {
        let Some(lead) = self.lead.as_mut() else {
            return;
        };
        lead.fenced = true;
        for op in std::mem::take(&mut lead.waiting).into_values() {
            ctx.reply(op, OpResult::Unknown(FailReason::Unavailable));
        }
        ctx.note(Note::Text(format!(
            "{} fenced itself: no word from the controller for {} ms",
            self.me,
            silent_us / 1000
        )));
    }

    /// A follower that holds our whole log is caught up now (Kafka keeps fetching while idle;
    /// we do not ship while idle, so we refresh it here instead).
    fn refresh_caught_up(&mut self, now: u64) {
        let last = self.log.last_index();
        if let Some(lead) = self.lead.as_mut() {
            for p in &mut lead.peers {
                if p.matched.is_some_and(|m| m >= last) {
                    p.caught_up_us = now;
                }
            }
        }
    }

    fn maybe_shrink_isr(&mut self, ctx: &mut SCtx<'_>, now: u64) {
        let last = self.log.last_index();
        let lag = self.config.replica_lag_max_us;
        let Some(lead) = self.lead.as_ref() else {
            return;
        };
        if lead.pending_isr.is_some() {
            return;
        }
        let lagging = lead.isr.without(self.me).iter().filter(|f| {
            let p = &lead.peers[f.index()];
            p.matched.unwrap_or(0) < last && now.saturating_sub(p.caught_up_us) > lag
        });
        let out = lagging.fold(NodeSet::default(), NodeSet::with);
        if out.is_empty() {
            return;
        }
        let new = NodeSet(lead.isr.0 & !out.0);
        let why = format!(
            "{out} did not catch up for {} ms",
            self.config.replica_lag_max_us / 1000
        );
        self.propose_isr(ctx, new, &why);
    }

    fn maybe_expand_isr(&mut self, ctx: &mut SCtx<'_>, f: NodeId, matched: u64) {
        let Some(lead) = self.lead.as_ref() else {
            return;
        };
        let rejoins = matched >= lead.hw && matched + 1 >= lead.epoch_start;
        if lead.isr.contains(f) || lead.pending_isr.is_some() || !rejoins {
            return;
        }
        let new = lead.isr.with(f);
        self.propose_isr(ctx, new, &format!("{f} caught up"));
    }

    /// Asks the controller to record a new ISR; without a controller, adopts it at once.
    fn propose_isr(&mut self, ctx: &mut SCtx<'_>, new: NodeSet, why: &str) {
        let me = self.me;
        let Some(lead) = self.lead.as_mut() else {
            return;
        };
        match self.config.controller {
            Some(c) => {
                lead.pending_isr = Some(new);
                let epoch = lead.epoch;
                ctx.send(c, LeaderMsg::AlterIsr { epoch, isr: new });
                ctx.note(Note::Text(format!(
                    "{me} asks the controller to make the ISR {new}: {why}"
                )));
            }
            None => {
                lead.isr = new;
                ctx.note(Note::Text(format!("{me}: the ISR is now {new} ({why})")));
                self.advance(ctx);
            }
        }
    }

    /// The controller's word on our ISR (same epoch; `version` orders its changes).
    pub(super) fn isr_confirmed(&mut self, ctx: &mut SCtx<'_>, isr: NodeSet, version: u64) {
        let me = self.me;
        let Some(lead) = self.lead.as_mut() else {
            return;
        };
        if version < lead.isr_version {
            return;
        }
        lead.isr_version = version;
        lead.isr = isr.with(me);
        if lead.pending_isr == Some(lead.isr) {
            lead.pending_isr = None;
        }
        self.advance(ctx);
    }

    pub(super) fn on_reply(&mut self, ctx: &mut SCtx<'_>, from: NodeId, epoch: u64, reply: Reply) {
        if let Reply::Stale {
            epoch: newer,
            leader,
        } = reply
        {
            if self.config.fencing && newer > self.epoch {
                ctx.note(Note::Text(format!(
                    "{} learned from {from} that epoch {newer} has begun",
                    self.me
                )));
                self.adopt_epoch(ctx, newer, leader);
            }
            return;
        }
        let Some(lead) = self.lead.as_ref() else {
            return;
        };
        if epoch != lead.epoch || lead.fenced {
            return; // an answer to an earlier leadership of ours
        }
        match reply {
            Reply::Matched(m) => self.on_matched(ctx, from, m),
            Reply::Conflict { index, epoch } => self.on_conflict(ctx, from, index, epoch),
            Reply::Stale { .. } => {}
        }
    }

    fn on_matched(&mut self, ctx: &mut SCtx<'_>, from: NodeId, matched: u64) {
        let now = ctx.local_now_us;
        let last = self.log.last_index();
        let m = matched.min(last);
        let Some(lead) = self.lead.as_mut() else {
            return;
        };
        let p = &mut lead.peers[from.index()];
        let was_probing = p.matched.is_none();
        p.matched = Some(p.matched.map_or(m, |old| old.max(m)));
        // Kafka's Replica.updateFetchState: caught up if it reached our log end, or the end we
        // had at its previous acknowledgement.
        if m >= last {
            p.caught_up_us = now;
        } else if m >= p.end_at_last_ack {
            p.caught_up_us = p.caught_up_us.max(p.last_ack_us);
        }
        p.last_ack_us = now;
        p.end_at_last_ack = last;
        let send_more = m < last && (was_probing || m >= p.sent_upto);
        self.maybe_expand_isr(ctx, from, m);
        self.advance(ctx);
        if send_more && self.lead.is_some() {
            // It holds all we sent: catch it up without waiting for the next tick.
            self.send_from(ctx, from, m + 1);
        }
    }

    /// The follower's log parts from ours before the batch we sent: probe further back, using
    /// its hint to skip a whole divergent epoch (KIP-279's OffsetsForLeaderEpoch in one step).
    fn on_conflict(&mut self, ctx: &mut SCtx<'_>, from: NodeId, index: u64, epoch: u64) {
        let last = self.log.last_index();
        // Raft's conflict-term rule: if we have entries of the follower's epoch, our logs agree
        // up to our last one of them (log matching); otherwise skip its whole epoch. Either way
        // the probe lands before the rejected batch's prev_index, so each probe moves back.
        let end = self.end_of_epoch(epoch);
        let next = if epoch != 0 && self.epoch_at(end) == epoch {
            end + 1
        } else {
            index
        };
        let next = next.clamp(1, last + 1);
        let Some(lead) = self.lead.as_mut() else {
            return;
        };
        let p = &mut lead.peers[from.index()];
        if let Some(m) = p.matched
            && epoch == 0
            && index > m
        {
            return; // a gap behind reordered messages; the next resend from m + 1 fills it
        }
        p.probe = if p.matched.is_none() {
            p.probe.min(next)
        } else {
            next
        };
        p.matched = None;
        let probe = p.probe;
        self.send_from(ctx, from, probe);
    }

    /// Recomputes the high watermark and answers the writes it now covers.
    pub(super) fn advance(&mut self, ctx: &mut SCtx<'_>) {
        let last = self.log.last_index();
        let me = self.me;
        let followers = self.followers();
        let mode = self.config.replication;
        let min_isr = self.config.min_insync_replicas;
        let Some(lead) = self.lead.as_mut() else {
            return;
        };
        let matched = |n: NodeId| {
            if n == me {
                last
            } else {
                lead.peers[n.index()].matched.unwrap_or(0).min(last)
            }
        };
        let maximal_isr = lead.isr.union(lead.pending_isr.unwrap_or_default());
        let hw = maximal_isr.iter().map(matched).min().unwrap_or(last);
        lead.hw = lead.hw.max(hw);
        let commit = match mode {
            Replication::NoAck | Replication::Async => last,
            Replication::SemiSync if followers.is_empty() => last,
            Replication::SemiSync => followers.iter().map(matched).max().unwrap_or(last),
            Replication::Sync => followers.iter().map(matched).min().unwrap_or(last),
            Replication::InSync => lead.hw,
        };
        let short = mode == Replication::InSync && lead.isr.len() < min_isr;
        while let Some(entry) = lead.waiting.first_entry() {
            if *entry.key() > commit {
                break;
            }
            let (index, op) = entry.remove_entry();
            let result = if short {
                // Kafka's NotEnoughReplicasAfterAppend: in the log, but the ISR shrank below
                // min.insync.replicas while the write waited; it may or may not survive.
                OpResult::Unknown(FailReason::NotEnoughReplicas)
            } else {
                OpResult::Written(Version(lead.epoch, index))
            };
            ctx.reply(op, result);
        }
    }
}
