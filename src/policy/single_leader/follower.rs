//! A follower's side: checking that a batch continues its log, truncating a divergent suffix,
//! keeping the key-value state derived from the log, and learning new epochs.
//!
//! The check is Raft's log matching on (index, epoch); Kafka reaches the same result with
//! leader epochs: since KIP-101 a follower truncates to the end offset the leader reports for
//! the follower's latest epoch instead of to its own high watermark, which could both lose
//! committed entries and leave replicas diverged; KIP-279 repeats the question until both agree.
//! Here one `Conflict` reply carries the follower's epoch and where it began, so the leader
//! skips a whole divergent epoch in one round trip.

use super::{ClusterState, Entry, LeaderMsg, Reply, SCtx, SingleLeader};
use crate::policy::Note;
use crate::storage::events::LogEvent;
use crate::types::{Key, NodeId, Version};
use std::collections::BTreeMap;

/// Most out-of-order entries a follower buffers while it waits for a gap to be filled.
const MAX_BUFFERED: usize = 4096;

/// One `Append` message's content.
pub(super) struct Batch {
    pub epoch: u64,
    pub log_start: u64,
    pub prev_index: u64,
    pub prev_epoch: u64,
    pub hw: u64,
    pub last: u64,
    pub entries: Vec<Entry>,
}

#[derive(Clone, Debug, Default)]
pub(super) struct Following {
    /// The leader, and its epoch, whose log `verified` refers to.
    pub source: Option<(NodeId, u64)>,
    /// Our log equals the source's up to here.
    pub verified: u64,
    /// Entries that arrived ahead of a gap, keyed by the index of the entry before each in
    /// the leader's log (with compaction, not always index - 1), with that entry's epoch.
    pub buffered: BTreeMap<u64, (Entry, u64)>,
    /// The leader's high watermark, as far as we hold it.
    pub hw: u64,
}

/// What a batch did to the log.
#[derive(Default)]
struct Change {
    removed: Vec<Entry>,
    appended: Vec<Entry>,
}

impl SingleLeader {
    pub(super) fn on_append(&mut self, ctx: &mut SCtx<'_>, from: NodeId, b: Batch) {
        let fencing = self.config.fencing;
        if b.epoch < self.epoch && fencing {
            // Fencing: that leader's epoch is over (Kafka answers FENCED_LEADER_EPOCH).
            let reply = Reply::Stale {
                epoch: self.epoch,
                leader: self.leader,
            };
            return ctx.send(
                from,
                LeaderMsg::AppendReply {
                    epoch: b.epoch,
                    reply,
                },
            );
        }
        if self.lead.is_some() {
            // A leader follows nobody; without fencing it does not even look at epochs, so a
            // deposed leader cut off from the controller goes on leading.
            if !(fencing && b.epoch > self.epoch) {
                return;
            }
            self.adopt_epoch(ctx, b.epoch, Some(from));
        } else if b.epoch > self.epoch {
            self.adopt_epoch(ctx, b.epoch, Some(from));
        } else if b.epoch == self.epoch && self.leader.is_none() {
            self.leader = Some(from);
        }
        let epoch = b.epoch;
        let reply = self.follow_batch(ctx, from, b);
        ctx.send(from, LeaderMsg::AppendReply { epoch, reply });
    }

    fn follow_batch(&mut self, ctx: &mut SCtx<'_>, from: NodeId, b: Batch) -> Reply {
        let source = Some((from, b.epoch));
        if self.follow.source != source {
            self.follow.source = source;
            self.follow.verified = 0;
            self.follow.buffered.clear();
        }
        let last = self.log.last_index();
        if b.prev_index > last && b.prev_index < b.log_start {
            self.start_over_at(ctx, last + 1, b.log_start, b.prev_epoch);
        } else if b.prev_index > last {
            self.buffer(&b);
            return Reply::Conflict {
                index: last + 1,
                epoch: 0,
            };
        }
        let mine = self.epoch_at(b.prev_index);
        if mine != b.prev_epoch {
            return Reply::Conflict {
                index: self.start_of_epoch(mine),
                epoch: mine,
            };
        }
        let mut change = Change::default();
        let end = self.accept(ctx, &b.entries, b.prev_index, &mut change);
        if end >= b.last {
            self.drop_older_tail(end, b.epoch, &mut change);
        }
        self.follow.verified = self.follow.verified.max(end);
        self.drain_buffer(ctx, &mut change);
        self.apply_change(ctx, change, from, b.epoch);
        self.follow.hw = b.hw.min(self.follow.verified);
        Reply::Matched(self.follow.verified)
    }

    /// Appends entries that continue the log after a matching prefix, replacing a suffix that
    /// differs. Returns the last index now known to equal the leader's log.
    ///
    /// The batch holds every record the leader has after `prev_index`; a gap between two of
    /// them is a stretch the leader compacted away. Whatever we hold in such a gap is either the
    /// same records (superseded by a later one we are about to get) or a divergent suffix, so
    /// before appending after a gap we drop what we hold past the last verified index.
    fn accept(
        &mut self,
        ctx: &mut SCtx<'_>,
        entries: &[Entry],
        prev_index: u64,
        change: &mut Change,
    ) -> u64 {
        let mut end = prev_index;
        for e in entries {
            if e.index <= end {
                break; // not in increasing order: never sent by a leader
            }
            let last = self.log.last_index();
            if e.index <= last && self.epoch_at(e.index) == e.epoch {
                end = e.index;
                continue; // the same entry (same index and epoch)
            }
            if last > end {
                change.removed.extend(self.log.truncate_after(end));
            }
            self.append_entry(ctx, *e);
            change.appended.push(*e);
            end = e.index;
        }
        end
    }

    /// We hold the leader's whole log (as of when it sent the batch) up to `end`. Entries of
    /// older epochs after that are not in its log and never will be (it only appends its own
    /// epoch's): a deposed leader's tail. Kafka truncates them the same way, to the end offset
    /// the leader reports for the follower's epoch.
    fn drop_older_tail(&mut self, end: u64, epoch: u64, change: &mut Change) {
        let last = self.log.last_index();
        if end >= last || self.epoch_at(end + 1) >= epoch {
            return;
        }
        change.removed.extend(self.log.truncate_after(end));
    }

    /// The leader no longer holds `wanted` (retention deleted it): empty the log and start at
    /// the leader's log start (Kafka's OFFSET_OUT_OF_RANGE → `truncateFullyAndStartAt`).
    fn start_over_at(&mut self, ctx: &mut SCtx<'_>, wanted: u64, log_start: u64, prev_epoch: u64) {
        let removed = self.log.reset_at(log_start, prev_epoch);
        self.follow.buffered.clear();
        self.follow.verified = 0;
        let mut keys: Vec<Key> = removed.iter().map(|e| e.key).collect();
        keys.sort_unstable();
        keys.dedup();
        self.rebuild_kv();
        for key in keys {
            ctx.applied(key, None, Version::default());
        }
        self.log_note(ctx, LogEvent::OffsetOutOfRange { wanted, log_start });
        self.note_segments(ctx);
    }

    fn buffer(&mut self, b: &Batch) {
        let (mut prev_index, mut prev_epoch) = (b.prev_index, b.prev_epoch);
        for e in &b.entries {
            if self.follow.buffered.len() >= MAX_BUFFERED {
                break;
            }
            self.follow.buffered.insert(prev_index, (*e, prev_epoch));
            (prev_index, prev_epoch) = (e.index, e.epoch);
        }
    }

    /// Appends buffered entries that now continue the log. An entry whose predecessor has the
    /// same index and epoch as ours continues a log equal to ours (log matching).
    fn drain_buffer(&mut self, ctx: &mut SCtx<'_>, change: &mut Change) {
        loop {
            let last = self.log.last_index();
            let Some((e, prev_epoch)) = self.follow.buffered.remove(&last) else {
                break;
            };
            if prev_epoch != self.last_epoch() {
                break;
            }
            self.append_entry(ctx, e);
            change.appended.push(e);
            self.follow.verified = e.index;
        }
        let last = self.log.last_index();
        self.follow.buffered.retain(|prev, _| *prev >= last);
    }

    /// Brings the key-value state in line with the log and reports every changed value.
    fn apply_change(&mut self, ctx: &mut SCtx<'_>, change: Change, from: NodeId, epoch: u64) {
        if change.removed.is_empty() {
            for e in change.appended {
                self.kv.put(e.key, e.value, e.version());
                ctx.applied(e.key, e.value, e.version());
            }
            return;
        }
        let mut keys: Vec<Key> = change
            .removed
            .iter()
            .chain(&change.appended)
            .map(|e| e.key)
            .collect();
        keys.sort_unstable();
        keys.dedup();
        self.rebuild_kv();
        self.note_segments(ctx);
        for key in keys {
            match self.kv.get(key) {
                Some(c) => ctx.applied(key, c.value, c.version),
                None => ctx.applied(key, None, Version::default()),
            }
        }
        let (first, last) = (change.removed[0], change.removed[change.removed.len() - 1]);
        let epochs = if first.epoch == last.epoch {
            format!("epoch {}", first.epoch)
        } else {
            format!("epochs {}..{}", first.epoch, last.epoch)
        };
        ctx.note(Note::Text(format!(
            "{} truncated entries {}..{} ({epochs}) to follow {from} in epoch {epoch}",
            self.me, first.index, last.index
        )));
    }

    /// A newer leader epoch has begun: stop leading (if we were) and follow `leader`.
    pub(super) fn adopt_epoch(&mut self, ctx: &mut SCtx<'_>, epoch: u64, leader: Option<NodeId>) {
        if epoch <= self.epoch {
            return;
        }
        self.epoch = epoch;
        self.step_down(ctx);
        self.leader = leader;
    }

    /// The controller's word (Kafka's LeaderAndIsr). It counts even without fencing: it is how a
    /// deposed leader learns, once it can hear the controller again.
    pub(super) fn on_cluster_state(&mut self, ctx: &mut SCtx<'_>, from: NodeId, st: ClusterState) {
        if st.controller_epoch < self.controller_epoch {
            return; // from before the controller restarted (Kafka's stale controller epoch)
        }
        self.controller_epoch = st.controller_epoch;
        self.controller_contact_us = ctx.local_now_us;
        self.adopt_epoch(ctx, st.epoch, st.leader);
        if st.epoch == self.epoch {
            self.follow_controller(ctx, st);
        }
        let reply = LeaderMsg::Heartbeat {
            last_index: self.log.last_index(),
            last_epoch: self.last_epoch(),
        };
        ctx.send(from, reply);
    }

    fn follow_controller(&mut self, ctx: &mut SCtx<'_>, st: ClusterState) {
        if st.leader != Some(self.me) {
            self.step_down(ctx);
            self.leader = st.leader;
            return;
        }
        let Some(lead) = self.lead.as_mut() else {
            return self.become_leader(ctx, st.isr, st.isr_version);
        };
        if lead.fenced {
            lead.fenced = false;
            ctx.note(Note::Text(format!(
                "{} hears from the controller again and resumes leading epoch {}",
                self.me, self.epoch
            )));
        }
        self.isr_confirmed(ctx, st.isr, st.isr_version);
    }
}
