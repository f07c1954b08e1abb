//! Snapshots, log compaction and rebuilds (the extended Raft paper §7 and its Figure 13;
//! Ongaro's dissertation, chapter 5, "Log compaction").
//!
//! - Each node snapshots its own state machine once `every_entries` entries were applied since
//!   its last snapshot, then discards its log up to and including the snapshot index (minus
//!   `retain_entries`, etcd's `SnapshotCatchUpEntries`), remembering the (index, term) of the
//!   last discarded entry so the AppendEntries consistency check still works at that boundary
//!   (the paper's "last included index / term", raft-rs `SnapshotMetadata`).
//! - A leader whose follower needs an entry it has discarded sends its latest snapshot instead
//!   (raft-rs `maybe_send_append` → `prepare_send_snapshot`, `MsgSnapshot`), in chunks as the
//!   paper's InstallSnapshot RPC does (Figure 13: offset, data, done): one chunk at a time, the
//!   next once the follower acknowledged it *and* the link is free again at
//!   `bandwidth_bytes_per_s`; an unacknowledged chunk is resent after an election timeout. Like
//!   raft-rs's `ProgressState::Snapshot`, no appends go to that follower meanwhile; its
//!   success answer after installing moves it back to probing from the snapshot index.
//! - The follower accepts chunks in order only; once every byte arrived it installs the
//!   snapshot: it keeps the log suffix after the snapshot if the entry at the snapshot index
//!   matches (Figure 13, step 6), else discards the whole log, and resets its state machine.
//! - A wiped node (the engine's `WipeDisk`) restarts empty. Raft's safety rests on a node never
//!   forgetting its vote or the entries it acknowledged, so a real cluster removes and re-adds
//!   such a member; we keep it simple and honest instead: until it has caught up with the
//!   leader's commit index as of its rebuild, it neither votes nor campaigns, and its rejections
//!   tell the leader (`RejectHint::wiped`) to forget the progress it knew. It rebuilds from the
//!   leader's snapshot plus the log tail, or, if the leader never compacted, by replaying the
//!   whole log from index 1.

use super::{ENTRY_BYTES, RCtx, Raft, RaftMsg, RaftTimer, Role};
use crate::policy::{FailReason, Note, OpResult};
use crate::scenario::schema::{RebuildServe, SnapshotSpec};
use crate::storage::kv::VersionedKv;
use crate::types::NodeId;
use std::sync::Arc;

#[derive(Clone, Debug, PartialEq)]
pub struct SnapshotConfig {
    pub every_entries: u64,
    pub retain_entries: u64,
    pub chunk_bytes: u64,
    pub bandwidth_bytes_per_s: f64,
    /// A rebuilding node answers reads from its (stale) state instead of failing them.
    pub serve_stale: bool,
}

impl SnapshotConfig {
    pub fn from_spec(s: &SnapshotSpec) -> SnapshotConfig {
        SnapshotConfig {
            every_entries: s.every_entries,
            retain_entries: s.retain_entries,
            chunk_bytes: s.chunk_bytes.max(1),
            bandwidth_bytes_per_s: s.bandwidth_bytes_per_s.max(1.0),
            serve_stale: s.while_rebuilding == RebuildServe::Stale,
        }
    }

    /// Microseconds the link needs for `bytes` (at least 1).
    fn pace_us(&self, bytes: u64) -> u64 {
        libm::ceil(bytes as f64 * 1e6 / self.bandwidth_bytes_per_s).max(1.0) as u64
    }
}

/// A snapshot of the state machine as of log index `index` (whose entry has term `term`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    pub index: u64,
    pub term: u64,
    pub kv: VersionedKv,
}

/// Fixed part of a snapshot (its metadata).
const SNAPSHOT_HEADER_BYTES: u64 = 64;

impl Snapshot {
    /// Size on disk and on the wire: a header plus one entry-sized cell per key.
    pub fn bytes(&self) -> u64 {
        SNAPSHOT_HEADER_BYTES + ENTRY_BYTES as u64 * self.kv.len() as u64
    }
}

/// The leader's side of one snapshot transfer.
#[derive(Clone, Debug)]
pub(super) struct Transfer {
    pub(super) snap: Arc<Snapshot>,
    /// Bytes the follower confirmed.
    pub(super) acked: u64,
    /// End of the last chunk sent.
    sent_end: u64,
    sent_at_local: u64,
    link_free_local: u64,
    /// Only the latest `SnapshotTick` counts.
    tick: u64,
}

/// The follower's side: the snapshot being received and how much of it has arrived in order.
#[derive(Clone, Copy, Debug)]
pub(super) struct Incoming {
    pub(super) index: u64,
    pub(super) received: u64,
    pub(super) total: u64,
}

impl Raft {
    pub(super) fn snap_config(&self) -> Option<&SnapshotConfig> {
        self.config.snapshot.as_ref()
    }

    /// A wiped node rebuilding does not vote or campaign (see the module notes).
    pub(super) fn wiped_and_rebuilding(&self) -> bool {
        self.rebuild.is_some_and(|r| r.wiped)
    }

    // ---- taking snapshots --------------------------------------------------------------

    /// Called after applying: snapshot once `every_entries` were applied since the last one.
    pub(super) fn maybe_snapshot(&mut self, ctx: &mut RCtx<'_>) {
        let Some(every) = self.snap_config().map(|c| c.every_entries) else {
            return;
        };
        let last = self.snapshot.as_ref().map_or(0, |s| s.index);
        if every == 0 || self.applied < last + every {
            return;
        }
        let Some(term) = self.term_at(self.applied) else {
            return;
        };
        let snap = Snapshot {
            index: self.applied,
            term,
            kv: self.kv.clone(),
        };
        let bytes = snap.bytes();
        ctx.note(Note::SnapshotTaken {
            index: snap.index,
            term,
            bytes,
        });
        self.snapshot = Some(Arc::new(snap));
        let retain = self.snap_config().map_or(0, |c| c.retain_entries);
        self.compact_through(ctx, self.applied.saturating_sub(retain));
    }

    /// Discards the log up to and including `index`, remembering that entry's term.
    fn compact_through(&mut self, ctx: &mut RCtx<'_>, index: u64) {
        let from = self.log.first_index();
        if index < from {
            return;
        }
        let Some(term) = self.term_at(index) else {
            return;
        };
        self.log.discard_through(index);
        self.compacted = (index, term);
        ctx.note(Note::LogCompacted {
            from,
            through: index,
        });
    }

    // ---- leader: sending a snapshot ----------------------------------------------------

    /// `send_append` found that `to` needs entries we discarded: start sending our snapshot.
    pub(super) fn start_transfer(&mut self, ctx: &mut RCtx<'_>, to: NodeId) -> bool {
        let Some(snap) = self.snapshot.clone() else {
            return false;
        };
        let pr = &mut self.progress[to.index()];
        pr.probing = true;
        pr.paused = false;
        ctx.note(Note::Text(format!(
            "{} needs entries from {} on, but {} discarded its log through {}: it sends its \
             snapshot at index {} ({} bytes) instead",
            to,
            pr.next,
            self.me,
            self.compacted.0,
            snap.index,
            snap.bytes()
        )));
        self.outgoing[to.index()] = Some(Transfer {
            snap,
            acked: 0,
            sent_end: 0,
            sent_at_local: 0,
            link_free_local: 0,
            tick: 0,
        });
        self.send_chunk(ctx, to);
        true
    }

    /// Sends the chunk after the acknowledged bytes and waits for the link to be free.
    fn send_chunk(&mut self, ctx: &mut RCtx<'_>, to: NodeId) {
        let Some(cfg) = self.config.snapshot.clone() else {
            return;
        };
        let (term, commit) = (self.term, self.commit);
        let Some(tr) = self.outgoing[to.index()].as_mut() else {
            return;
        };
        let total = tr.snap.bytes();
        let offset = tr.acked;
        let len = cfg.chunk_bytes.min(total - offset);
        let pace = cfg.pace_us(super::APPEND_HEADER_BYTES as u64 + len);
        tr.sent_end = offset + len;
        tr.sent_at_local = ctx.local_now_us;
        tr.link_free_local = ctx.local_now_us + pace;
        tr.tick += 1;
        let (tick, snap) = (tr.tick, tr.snap.clone());
        ctx.note(Note::SnapshotChunk {
            peer: to,
            sent: true,
            index: snap.index,
            offset,
            len,
            total,
        });
        let msg = RaftMsg::InstallSnapshot {
            term,
            snap,
            offset,
            len,
            commit,
        };
        ctx.send(to, msg);
        ctx.set_timer(pace, RaftTimer::SnapshotTick { to, term, tick });
    }

    /// The link is free again (or the chunk's retry time is up).
    pub(super) fn on_snapshot_tick(
        &mut self,
        ctx: &mut RCtx<'_>,
        to: NodeId,
        term: u64,
        tick: u64,
    ) {
        if self.role != Role::Leader || term != self.term {
            return;
        }
        let retry_us = self.config.election_timeout_min_us;
        let Some(tr) = self.outgoing[to.index()].as_mut() else {
            return;
        };
        if tr.tick != tick {
            return;
        }
        if tr.acked >= tr.sent_end {
            if tr.acked < tr.snap.bytes() {
                self.send_chunk(ctx, to);
            }
            return;
        }
        let waited = ctx.local_now_us.saturating_sub(tr.sent_at_local);
        if waited >= retry_us {
            // Lost on the way (or the answer was): resend from what the follower confirmed.
            self.send_chunk(ctx, to);
        } else {
            ctx.set_timer(
                retry_us - waited,
                RaftTimer::SnapshotTick { to, term, tick },
            );
        }
    }

    /// The follower holds the first `received` bytes of the snapshot at `index`.
    pub(super) fn on_snapshot_resp(
        &mut self,
        ctx: &mut RCtx<'_>,
        from: NodeId,
        index: u64,
        received: u64,
    ) {
        self.progress[from.index()].recent_active = true;
        let Some(tr) = self.outgoing[from.index()].as_mut() else {
            return;
        };
        if tr.snap.index != index {
            return;
        }
        if received < tr.acked || received > tr.sent_end {
            // The follower lost what it had (a restart) or answers an older transfer.
            tr.acked = received.min(tr.sent_end);
            tr.sent_end = tr.acked;
        } else {
            tr.acked = received;
        }
        let ready = tr.acked == tr.sent_end && ctx.local_now_us >= tr.link_free_local;
        if ready && tr.acked < tr.snap.bytes() {
            self.send_chunk(ctx, from);
        }
    }

    /// A success answer at or past the snapshot ends the transfer (raft-rs: Snapshot → Probe).
    pub(super) fn end_transfer_if_done(&mut self, from: NodeId, index: u64) {
        let slot = &mut self.outgoing[from.index()];
        if slot.as_ref().is_some_and(|t| index >= t.snap.index) {
            *slot = None;
        }
    }

    pub(super) fn transfer_active(&self, to: NodeId) -> bool {
        self.outgoing[to.index()].is_some()
    }

    // ---- bandwidth for appends ---------------------------------------------------------

    /// With a bandwidth limit: whether the link to `to` is still busy; if so a `Pace` timer
    /// resumes sending when it is free.
    pub(super) fn link_busy(&mut self, ctx: &mut RCtx<'_>, to: NodeId) -> bool {
        if self.config.snapshot.is_none() {
            return false;
        }
        let term = self.term;
        let pr = &mut self.progress[to.index()];
        if ctx.local_now_us >= pr.link_free_local {
            return false;
        }
        if !pr.pace_armed {
            pr.pace_armed = true;
            let after = pr.link_free_local - ctx.local_now_us;
            ctx.set_timer(after, RaftTimer::Pace { to, term });
        }
        true
    }

    /// An append of `bytes` went to `to`: the link is busy for `bytes / bandwidth`.
    pub(super) fn occupy_link(&mut self, ctx: &RCtx<'_>, to: NodeId, bytes: u64) {
        let Some(pace) = self.snap_config().map(|c| c.pace_us(bytes)) else {
            return;
        };
        let pr = &mut self.progress[to.index()];
        pr.link_free_local = pr.link_free_local.max(ctx.local_now_us) + pace;
    }

    pub(super) fn on_pace(&mut self, ctx: &mut RCtx<'_>, to: NodeId, term: u64) {
        self.progress[to.index()].pace_armed = false;
        if self.role == Role::Leader && term == self.term {
            while self.send_append(ctx, to, false) {}
        }
    }

    // ---- follower: receiving and installing --------------------------------------------

    /// One InstallSnapshot chunk from the leader (Figure 13's receiver rules, chunks in
    /// order only).
    pub(super) fn handle_install_snapshot(
        &mut self,
        ctx: &mut RCtx<'_>,
        from: NodeId,
        snap: Arc<Snapshot>,
        offset: u64,
        len: u64,
        commit: u64,
    ) {
        let (term, index) = (self.term, snap.index);
        if index <= self.commit {
            // raft-rs `restore` refuses a snapshot we already cover; tell the leader where we are.
            self.incoming = None;
            let commit = self.commit;
            return self.send_append_ok(ctx, from, commit);
        }
        let total = snap.bytes();
        let fresh = Incoming {
            index,
            received: 0,
            total,
        };
        if self.incoming.is_none_or(|i| i.index != index) {
            self.incoming = Some(fresh);
            self.start_snapshot_rebuild(ctx);
        }
        self.set_rebuild_target(commit.max(index));
        let mut inc = self.incoming.unwrap_or(fresh);
        if offset == inc.received {
            inc.received += len;
            self.count_rebuild_bytes(super::APPEND_HEADER_BYTES as u64 + len);
            ctx.note(Note::SnapshotChunk {
                peer: from,
                sent: false,
                index,
                offset,
                len,
                total,
            });
        }
        self.incoming = Some(inc);
        if inc.received < total {
            let received = inc.received;
            let msg = RaftMsg::SnapshotResp {
                term,
                index,
                received,
            };
            return ctx.send(from, msg);
        }
        self.install_snapshot(ctx, snap);
        self.send_append_ok(ctx, from, index);
    }

    fn send_append_ok(&self, ctx: &mut RCtx<'_>, to: NodeId, index: u64) {
        let term = self.term;
        let msg = RaftMsg::AppendResp {
            term,
            index,
            reject: None,
        };
        ctx.send(to, msg);
    }

    /// Every byte arrived: adopt the snapshot's state and log position.
    fn install_snapshot(&mut self, ctx: &mut RCtx<'_>, snap: Arc<Snapshot>) {
        let (index, term) = (snap.index, snap.term);
        self.incoming = None;
        if self.term_at(index) != Some(term) {
            // Figure 13 step 7: the log does not contain the snapshot's last entry: drop it all
            // (Figure 13 step 6 keeps the entries after it when it does).
            self.log.truncate_after(index);
        }
        let (from, last) = (self.log.first_index(), self.log.last_index());
        if self.log.discard_through(index) > 0 {
            let through = index.min(last);
            ctx.note(Note::LogCompacted { from, through });
        }
        // Requests whose entries the snapshot covers: we cannot tell whether they won.
        let later = self.pending.split_off(&(index + 1));
        for (_, p) in std::mem::replace(&mut self.pending, later) {
            ctx.reply(p.op, OpResult::Unknown(FailReason::NotLeader));
        }
        self.compacted = (index, term);
        self.kv = snap.kv.clone();
        let mut stored = Vec::new();
        self.kv.stored(&mut stored);
        for v in stored {
            ctx.applied(v.key, v.value, v.version);
        }
        self.applied = index;
        self.commit = self.commit.max(index);
        self.snapshot = Some(snap);
        if let Some(r) = &mut self.rebuild {
            r.installed = true;
        }
        ctx.note(Note::Text(format!(
            "{} installed the snapshot at index {index} (term {term}): its state machine now \
             holds {} keys",
            self.me,
            self.kv.len()
        )));
        self.maybe_finish_rebuild(ctx);
    }
}
