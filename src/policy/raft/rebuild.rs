//! Rebuilding a node's state (after a wiped disk, or while a snapshot it needs arrives): when
//! it starts and ends, what it costs (bytes received, entries replayed), what the node answers
//! clients meanwhile, and what the inspector shows. See `snapshot.rs` for the mechanism.

use super::{RCtx, Raft};
use crate::policy::{ClientReq, FailReason, Note, OpResult, RebuildHow};
use crate::types::{NodeId, OpKind};

/// A rebuild in progress and its costs so far.
#[derive(Clone, Copy, Debug)]
pub(super) struct Rebuild {
    /// Started by a wiped disk (else by a snapshot this node needs).
    pub(super) wiped: bool,
    /// Simulated time (µs) the rebuild started: the restart, or the first chunk.
    pub(super) started_us: Option<u64>,
    /// The leader's commit index when the rebuild started: done once applied reaches it.
    pub(super) target: Option<u64>,
    /// A snapshot was installed during the rebuild (else it replayed the whole log).
    pub(super) installed: bool,
    pub(super) bytes: u64,
    pub(super) entries: u64,
}

impl Rebuild {
    pub(super) fn after_wipe() -> Rebuild {
        Rebuild {
            wiped: true,
            started_us: None,
            target: None,
            installed: false,
            bytes: 0,
            entries: 0,
        }
    }

    /// A crash loses the leader's commit index we aimed for; the next leader message sets it.
    pub(super) fn on_crash(&mut self) {
        self.target = None;
    }
}

impl Raft {
    /// Elected while a snapshot was still arriving: a majority found our log up to date, so
    /// the snapshot is not needed (a wiped node never campaigns, so it never gets here).
    pub(super) fn abandon_snapshot_rebuild(&mut self) {
        self.incoming = None;
        if self.rebuild.is_some_and(|r| !r.wiped) {
            self.rebuild = None;
        }
    }

    /// The first chunk of a snapshot we need: unless already rebuilding, a rebuild starts now.
    pub(super) fn start_snapshot_rebuild(&mut self, ctx: &mut RCtx<'_>) {
        if self.rebuild.is_none() {
            self.rebuild = Some(Rebuild {
                wiped: false,
                started_us: Some(ctx.now.0),
                ..Rebuild::after_wipe()
            });
            ctx.note(Note::RebuildStarted { wiped: false });
        }
    }

    /// The node restarts after a wipe: the rebuild's clock starts now.
    pub(super) fn start_rebuild_after_wipe(&mut self, ctx: &mut RCtx<'_>) {
        if let Some(r) = &mut self.rebuild
            && r.started_us.is_none()
        {
            r.started_us = Some(ctx.now.0);
            ctx.note(Note::RebuildStarted { wiped: true });
        }
    }

    /// The first leader message of a rebuild says how far the node must catch up.
    pub(super) fn set_rebuild_target(&mut self, leader_commit: u64) {
        if let Some(r) = &mut self.rebuild
            && r.target.is_none()
        {
            r.target = Some(leader_commit);
        }
    }

    pub(super) fn count_rebuild_bytes(&mut self, bytes: u64) {
        if let Some(r) = &mut self.rebuild {
            r.bytes += bytes;
        }
    }

    pub(super) fn count_replayed_entry(&mut self) {
        if let Some(r) = &mut self.rebuild {
            r.entries += 1;
        }
    }

    /// Done once the state machine reached the target (set by the first leader message).
    pub(super) fn maybe_finish_rebuild(&mut self, ctx: &mut RCtx<'_>) {
        let Some(r) = self.rebuild else {
            return;
        };
        let (Some(target), Some(started)) = (r.target, r.started_us) else {
            return;
        };
        if self.applied < target || self.incoming.is_some() {
            return;
        }
        self.rebuild = None;
        let how = if r.installed {
            RebuildHow::SnapshotAndTail
        } else {
            RebuildHow::FullReplay
        };
        ctx.note(Note::RebuildFinished {
            how,
            took_us: ctx.now.0.saturating_sub(started),
            bytes: r.bytes,
            entries_replayed: r.entries,
        });
    }

    /// A rebuilding node serves nothing, or (if configured) reads from its stale state.
    /// Returns true when it answered.
    pub(super) fn answer_while_rebuilding(&self, ctx: &mut RCtx<'_>, req: &ClientReq) -> bool {
        if self.rebuild.is_none() {
            return false;
        }
        let stale = self.snap_config().is_some_and(|c| c.serve_stale);
        let result = if stale && req.kind == OpKind::Read {
            OpResult::Read(self.kv.get(req.key).and_then(|c| c.value))
        } else {
            OpResult::Failed(FailReason::Unavailable)
        };
        ctx.reply(req.op, result);
        true
    }

    /// Lines for the node inspector.
    pub(super) fn snapshot_details(&self, details: &mut Vec<(&'static str, String)>) {
        if let Some(s) = &self.snapshot {
            let text = format!("index {} (term {}, {} bytes)", s.index, s.term, s.bytes());
            details.push(("snapshot", text));
        }
        if self.compacted.0 > 0 {
            details.push(("log starts at", self.log.first_index().to_string()));
        }
        if let Some(inc) = self.incoming {
            let text = format!(
                "index {}: {} of {} bytes",
                inc.index, inc.received, inc.total
            );
            details.push(("receiving snapshot", text));
        }
        if let Some(r) = self.rebuild {
            let how = if r.wiped {
                "disk wiped"
            } else {
                "needs a snapshot"
            };
            let text = format!("{how}; {} bytes, {} entries so far", r.bytes, r.entries);
            details.push(("rebuilding", text));
        }
        let sending: Vec<String> = self
            .outgoing
            .iter()
            .enumerate()
            .filter_map(|(i, t)| t.as_ref().map(|t| (i, t)))
            .map(|(i, t)| format!("{}: {}/{}", NodeId(i as u16), t.acked, t.snap.bytes()))
            .collect();
        if !sending.is_empty() {
            details.push(("sending snapshot", sending.join(", ")));
        }
    }
}
