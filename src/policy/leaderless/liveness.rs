//! The failure detector and hinted handoff.
//!
//! Failure detector: every node sends every other node a heartbeat each `gossip_interval`, and
//! any message counts as a sign of life; a peer not heard from for `convict_after` is convicted.
//! Cassandra's gossiper feeds heartbeats to a phi-accrual detector (`phi_convict_threshold`),
//! which adapts the timeout to the observed heartbeat intervals; a fixed timeout is the simplest
//! honest stand-in and keeps the same consequence: a coordinator refuses requests (Unavailable)
//! from what it *believes*, which lags reality by up to `convict_after` in both directions.
//!
//! Hinted handoff (Cassandra docs, "Hints"): the coordinator stores a hint for a replica it knows
//! is down, or that did not answer a write in time, and replays it when the replica comes back.
//! Hints are made only while the replica has been down less than `max_hint_window`, and they
//! expire after `gc_grace` (they would otherwise resurrect purged data). A hint counts toward the
//! consistency level only for ANY. Dynamo's sloppy quorum (paper §4.6) instead sends the write to
//! the next healthy node on the ring, which keeps it "in a separate local database" with a hint
//! naming the intended replica, and delivers it when that replica recovers.
//!
//! Sources: https://cassandra.apache.org/doc/latest/operating/hints.html; DataStax "About hinted
//! handoff writes" (a hint is stored when a replica is known down ahead of time or does not
//! respond; none when the consistency level cannot be met; hints only guarantee a write at ANY;
//! `max_hint_window_in_ms` defaults to 3 hours).

use super::coordinator::HINT_BIT;
use super::{LCtx, Leaderless, QuorumMsg};
use crate::policy::Note;
use crate::types::{Key, NodeId, ValueId, Version};

/// Most hints one node keeps; later ones are dropped (Cassandra caps hint storage too).
pub const MAX_HINTS: usize = 100_000;

#[derive(Clone, Debug)]
pub(super) struct Detector {
    /// Local clock reading of the last message from each node.
    last_heard_us: Vec<u64>,
    /// When each node was last heard before it was convicted; `None` while believed alive.
    down_since_us: Vec<Option<u64>>,
}

impl Detector {
    pub(super) fn new(nodes: u16) -> Detector {
        Detector {
            last_heard_us: vec![0; nodes as usize],
            down_since_us: vec![None; nodes as usize],
        }
    }

    /// A (re)started node believes everyone is alive until it learns otherwise.
    pub(super) fn restart(&mut self, now_us: u64) {
        self.last_heard_us.iter_mut().for_each(|t| *t = now_us);
        self.down_since_us.iter_mut().for_each(|d| *d = None);
    }

    pub(super) fn alive(&self, n: NodeId) -> bool {
        self.down_since_us
            .get(n.index())
            .is_none_or(|d| d.is_none())
    }

    pub(super) fn down_list(&self) -> String {
        let down: Vec<String> = (0..self.down_since_us.len())
            .filter(|&i| self.down_since_us[i].is_some())
            .map(|i| NodeId(i as u16).to_string())
            .collect();
        if down.is_empty() {
            "none".into()
        } else {
            down.join(" ")
        }
    }
}

/// A write kept for a node that could not take it (durable, like Cassandra's hints files).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Hint {
    id: u64,
    for_node: NodeId,
    key: Key,
    value: Option<ValueId>,
    version: Version,
    created_us: u64,
    /// When it was last replayed (resent if no ack within a request timeout).
    pub(super) sent_us: Option<u64>,
}

impl Leaderless {
    /// What the coordinator believes; itself is always alive, and without a failure detector
    /// it believes every node is.
    pub(super) fn is_alive(&self, n: NodeId) -> bool {
        n == self.me || !self.config.failure_detector || self.detector.alive(n)
    }

    pub(super) fn heard_from(&mut self, ctx: &mut LCtx<'_>, from: NodeId) {
        let i = from.index();
        self.detector.last_heard_us[i] = ctx.local_now_us;
        if self.detector.down_since_us[i].take().is_some() {
            ctx.note(Note::PeerUp { peer: from });
            self.replay_hints(ctx);
        }
    }

    pub(super) fn gossip_tick(&mut self, ctx: &mut LCtx<'_>) {
        if self.config.failure_detector {
            for n in 0..self.nodes {
                let peer = NodeId(n);
                if peer == self.me {
                    continue;
                }
                ctx.send(peer, QuorumMsg::Gossip);
                let last = self.detector.last_heard_us[n as usize];
                let silent = ctx.local_now_us.saturating_sub(last);
                if self.detector.alive(peer) && silent >= self.config.convict_after_us {
                    self.detector.down_since_us[n as usize] = Some(last);
                    ctx.note(Note::PeerDown { peer });
                }
            }
        }
        self.replay_hints(ctx);
    }

    /// May the coordinator still make hints for `n`? Not after it has been down for longer
    /// than `max_hint_window`.
    pub(super) fn may_hint(&self, ctx: &LCtx<'_>, n: NodeId) -> bool {
        let down_for = |since: u64| ctx.local_now_us.saturating_sub(since);
        self.config.hinted_handoff
            && n != self.me
            && self.detector.down_since_us[n.index()]
                .is_none_or(|since| down_for(since) < self.config.max_hint_window_us)
    }

    pub(super) fn keep_hint(
        &mut self,
        ctx: &mut LCtx<'_>,
        for_node: NodeId,
        key: Key,
        value: Option<ValueId>,
        version: Version,
    ) {
        if self.hints.len() >= MAX_HINTS {
            return;
        }
        self.next_hint_id += 1;
        self.hints.push(Hint {
            id: self.next_hint_id,
            for_node,
            key,
            value,
            version,
            created_us: ctx.local_now_us,
            sent_us: None,
        });
        ctx.note(Note::HintStored { for_node, key });
    }

    /// Sends every hint whose node is believed alive and that is not already on its way; drops
    /// hints older than `gc_grace`.
    fn replay_hints(&mut self, ctx: &mut LCtx<'_>) {
        let now = ctx.local_now_us;
        if let Some(grace) = self.config.gc_grace_us {
            self.hints
                .retain(|h| now.saturating_sub(h.created_us) < grace);
        }
        let resend_after = self.config.request_timeout_us;
        for i in 0..self.hints.len() {
            let h = self.hints[i];
            let in_flight = h
                .sent_us
                .is_some_and(|t| now.saturating_sub(t) < resend_after);
            if in_flight || !self.is_alive(h.for_node) {
                continue;
            }
            self.hints[i].sent_us = Some(now);
            ctx.note(Note::HintReplayed {
                to: h.for_node,
                key: h.key,
            });
            let msg = QuorumMsg::Repair {
                req: HINT_BIT | h.id,
                key: h.key,
                value: h.value,
                version: h.version,
            };
            ctx.send(h.for_node, msg);
        }
    }

    pub(super) fn on_hint_ack(&mut self, id: u64) {
        self.hints.retain(|h| h.id != id);
    }
}
