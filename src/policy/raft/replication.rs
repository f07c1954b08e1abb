//! Log replication (Raft §5.3, §5.4.2) as etcd-io/raft does it: `maybeSendAppend` with Probe
//! and Replicate progress, `handleAppendEntries` + `raftLog.maybeAppend` (the prevLogIndex /
//! prevLogTerm check, conflict truncation, commit = min(leaderCommit, last new entry)),
//! `findConflictByTerm` rejection hints, `MaybeDecrTo` / `MaybeUpdate`, `maybeCommit` (only
//! entries of the current term are committed by counting replicas), heartbeats that carry
//! `min(match, commit)`, and applying committed entries in log order.

use super::{Command, Entry, MAX_ROUNDS, RCtx, Raft, RaftMsg, RaftTimer, RejectHint, Role};
use crate::policy::{FailReason, Note, OpResult};
use crate::types::{NodeId, OpKind, Version};

impl Raft {
    /// etcd `maybeSendAppend`. In Probe one append is in flight at a time; in Replicate appends
    /// stream and `next` advances optimistically. Returns whether a message was sent.
    pub(super) fn send_append(
        &mut self,
        ctx: &mut RCtx<'_>,
        to: NodeId,
        send_if_empty: bool,
    ) -> bool {
        let pr = self.progress[to.index()];
        if (pr.probing && pr.paused) || self.transfer_active(to) {
            return false;
        }
        let prev_index = pr.next - 1;
        if prev_index < self.compacted.0 {
            // The entries `to` needs are gone: send the snapshot instead (Raft §7).
            return self.start_transfer(ctx, to);
        }
        let Some(prev_term) = self.term_at(prev_index) else {
            // `next` ran past our log (it cannot with an uncompacted log); start over.
            self.progress[to.index()].next = self.last_index() + 1;
            return false;
        };
        let entries = self.log.read_from(pr.next, self.config.max_batch as usize);
        if entries.is_empty() && !send_if_empty {
            return false;
        }
        if !entries.is_empty() && self.link_busy(ctx, to) {
            return false;
        }
        let pr = &mut self.progress[to.index()];
        if pr.probing {
            pr.paused = true;
        } else {
            pr.next += entries.len() as u64;
        }
        let msg = RaftMsg::Append {
            term: self.term,
            prev_index,
            prev_term,
            entries,
            commit: self.commit,
        };
        if let RaftMsg::Append { entries, .. } = &msg
            && !entries.is_empty()
        {
            self.occupy_link(ctx, to, crate::policy::Message::size_bytes(&msg) as u64);
        }
        ctx.send(to, msg);
        true
    }

    /// etcd `bcastAppend`.
    pub(super) fn bcast_append(&mut self, ctx: &mut RCtx<'_>) {
        for peer in self.others() {
            self.send_append(ctx, peer, true);
        }
    }

    /// etcd `handleAppendEntries` (TestFollowerCheckMsgApp, TestFollowerAppendEntries).
    pub(super) fn handle_append(
        &mut self,
        ctx: &mut RCtx<'_>,
        from: NodeId,
        prev_index: u64,
        prev_term: u64,
        entries: Vec<Entry>,
        leader_commit: u64,
    ) {
        let term = self.term;
        self.set_rebuild_target(leader_commit);
        if !entries.is_empty() {
            let bytes = super::APPEND_HEADER_BYTES + super::ENTRY_BYTES * entries.len() as u32;
            self.count_rebuild_bytes(bytes as u64);
        }
        if prev_index < self.commit {
            // A stale or duplicated append: everything up to our commit index matches.
            let index = self.commit;
            return ctx.send(
                from,
                RaftMsg::AppendResp {
                    term,
                    index,
                    reject: None,
                },
            );
        }
        if self.term_at(prev_index) != Some(prev_term) {
            let probe = prev_index.min(self.last_index());
            let mut hint = self.find_conflict_by_term(probe, prev_term);
            hint.wiped = self.wiped_and_rebuilding();
            let msg = RaftMsg::AppendResp {
                term,
                index: prev_index,
                reject: Some(hint),
            };
            return ctx.send(from, msg);
        }
        let last_new = prev_index + entries.len() as u64;
        if !self.append_after(ctx, from, prev_index, &entries) {
            return;
        }
        // The leader's log matches ours again (a new leader that still has the entries we
        // need): a half-received snapshot is no longer needed.
        self.incoming = None;
        // Paper, Figure 2: commitIndex = min(leaderCommit, index of last new entry).
        self.commit_to(ctx, leader_commit.min(last_new));
        ctx.send(
            from,
            RaftMsg::AppendResp {
                term,
                index: last_new,
                reject: None,
            },
        );
    }

    /// Appends `entries` after `prev_index`: entries we already hold are kept, and at the first
    /// entry whose term differs ours and everything after it are deleted (§5.3). Returns false
    /// if that would delete a committed entry, which Raft's safety rules out.
    fn append_after(
        &mut self,
        ctx: &mut RCtx<'_>,
        from: NodeId,
        prev_index: u64,
        entries: &[Entry],
    ) -> bool {
        let first_new = entries
            .iter()
            .enumerate()
            .position(|(i, e)| self.term_at(prev_index + 1 + i as u64) != Some(e.term));
        let Some(skip) = first_new else {
            return true;
        };
        let at = prev_index + 1 + skip as u64;
        if at <= self.last_index() {
            if at <= self.commit {
                debug_assert!(false, "a conflict at committed index {at}");
                return false;
            }
            self.note_overwritten(ctx, from, at);
            self.fail_pending_from(ctx, at);
            self.log.truncate_after(at - 1);
        }
        for e in &entries[skip..] {
            debug_assert_eq!(e.index, self.last_index() + 1, "entries arrive in order");
            self.log.append(*e, ctx.now.0);
        }
        self.log.flush();
        true
    }

    /// Makes visible which uncommitted entries a new leader's log replaced.
    fn note_overwritten(&self, ctx: &mut RCtx<'_>, leader: NodeId, from: u64) {
        let gone = self.log.read_from(from, usize::MAX);
        let (first_term, last_term) = (gone[0].term, gone[gone.len() - 1].term);
        let terms = if first_term == last_term {
            format!("term {first_term}")
        } else {
            format!("terms {first_term}-{last_term}")
        };
        let lost: Vec<String> = gone
            .iter()
            .filter_map(|e| match e.cmd {
                Command::Put { key, value } => Some(match value {
                    Some(v) => format!("k{key}={v}"),
                    None => format!("delete k{key}"),
                }),
                _ => None,
            })
            .collect();
        let shown = lost.iter().take(8).cloned().collect::<Vec<_>>().join(", ");
        let more = lost.len().saturating_sub(8);
        let writes = match (lost.len(), more) {
            (0, _) => "no writes".to_string(),
            (_, 0) => format!("writes {shown}"),
            _ => format!("writes {shown} and {more} more"),
        };
        ctx.note(Note::Text(format!(
            "{} overwrote uncommitted entries {from}..{} ({terms}; {writes}) with leader \
             {leader}'s log for term {}",
            self.me,
            self.last_index(),
            self.term
        )));
    }

    /// etcd `findConflictByTerm`: the largest index at or below `index` whose term is at most
    /// `term`, so one probe skips a whole divergent tail of higher-term entries.
    /// Terms before the compacted prefix are unknown: the search stops there.
    pub(super) fn find_conflict_by_term(&self, index: u64, term: u64) -> RejectHint {
        let mut i = index;
        while i >= self.compacted.0 && i > 0 {
            match self.term_at(i) {
                Some(t) if t <= term => {
                    return RejectHint {
                        index: i,
                        term: t,
                        wiped: false,
                    };
                }
                _ => i -= 1,
            }
        }
        RejectHint {
            index: 0,
            term: 0,
            wiped: false,
        }
    }

    /// etcd `handleHeartbeat`: the heartbeat's commit index is at most what we are known to
    /// hold, so it is safe to adopt; the round is echoed for read-index confirmation.
    pub(super) fn handle_heartbeat(
        &mut self,
        ctx: &mut RCtx<'_>,
        from: NodeId,
        commit: u64,
        round: u64,
    ) {
        self.commit_to(ctx, commit.min(self.last_index()));
        let term = self.term;
        ctx.send(from, RaftMsg::HeartbeatResp { term, round });
    }

    pub(super) fn commit_to(&mut self, ctx: &mut RCtx<'_>, index: u64) {
        if index > self.commit {
            self.commit = index;
            self.apply_committed(ctx);
        }
    }

    /// Applies committed entries in log order; reports every stored-value change and answers
    /// the client requests whose entries these are (on any node that still has them pending).
    pub(super) fn apply_committed(&mut self, ctx: &mut RCtx<'_>) {
        while self.applied < self.commit {
            let index = self.applied + 1;
            let Some(entry) = self.log.get(index).copied() else {
                break;
            };
            self.applied = index;
            self.count_replayed_entry();
            let version = Version(index, 0);
            if let Command::Put { key, value } = entry.cmd {
                self.kv.put(key, value, version);
                ctx.applied(key, value, version);
            }
            let Some(p) = self.pending.remove(&index) else {
                continue;
            };
            let result = if p.term != entry.term {
                // Another leader's entry took this slot: ours was never committed, anywhere.
                OpResult::Failed(FailReason::NotLeader)
            } else if p.kind == OpKind::Read {
                OpResult::Read(self.kv.get(p.key).and_then(|c| c.value))
            } else {
                OpResult::Written(version)
            };
            ctx.reply(p.op, result);
        }
        self.maybe_snapshot(ctx);
        self.maybe_finish_rebuild(ctx);
    }

    /// Requests whose entries (at `from` and after) are being overwritten definitely did not
    /// take effect: an entry removed from a log was never committed (Leader Completeness).
    pub(super) fn fail_pending_from(&mut self, ctx: &mut RCtx<'_>, from: u64) {
        for (_, p) in self.pending.split_off(&from) {
            ctx.reply(p.op, OpResult::Failed(FailReason::NotLeader));
        }
    }

    /// etcd `stepLeader`, MsgAppResp.
    pub(super) fn on_append_resp(
        &mut self,
        ctx: &mut RCtx<'_>,
        from: NodeId,
        index: u64,
        reject: Option<RejectHint>,
    ) {
        let i = from.index();
        self.progress[i].recent_active = true;
        if reject.is_none() {
            self.end_transfer_if_done(from, index);
        }
        if let Some(hint) = reject {
            if self.decrease_next(from, index, hint) {
                self.send_append(ctx, from, true);
            } else {
                self.bump_commit(ctx, from);
            }
            return;
        }
        let pr = &mut self.progress[i];
        let updated = index > pr.matched;
        if updated {
            pr.matched = index;
        }
        pr.next = pr.next.max(index + 1);
        pr.paused = false;
        if !(updated || (pr.matched == index && pr.probing)) {
            return;
        }
        if pr.probing {
            // BecomeReplicate: the logs match up to `matched`; stream from there.
            pr.probing = false;
            pr.next = pr.matched + 1;
        }
        if self.maybe_commit() {
            self.on_leader_commit(ctx);
        }
        while self.send_append(ctx, from, false) {}
    }

    /// A stale rejection means the follower dropped an append (it overtook the entries it
    /// follows on the network), and with it maybe the newest commit index: resend that at once
    /// in a heartbeat, whose commit (at most `matched`) the follower can always accept. etcd
    /// tracks the commit it sent (`Progress.CanBumpCommit`) for the same reason.
    fn bump_commit(&mut self, ctx: &mut RCtx<'_>, to: NodeId) {
        let commit = self.progress[to.index()].matched.min(self.commit);
        let (term, round) = (self.term, self.reads.round);
        ctx.send(
            to,
            RaftMsg::Heartbeat {
                term,
                commit,
                round,
            },
        );
    }

    /// etcd `Progress.MaybeDecrTo`, with the leader-side `findConflictByTerm` on the hint.
    fn decrease_next(&mut self, from: NodeId, rejected: u64, hint: RejectHint) -> bool {
        let probe = if hint.term > 0 {
            self.find_conflict_by_term(hint.index, hint.term).index
        } else {
            hint.index
        };
        let pr = &mut self.progress[from.index()];
        if hint.wiped && pr.matched > hint.index {
            // The follower lost entries it had acknowledged (its disk was wiped): start over
            // from what it holds now.
            pr.matched = hint.index;
            pr.probing = true;
            pr.paused = false;
            pr.next = hint.index + 1;
            return true;
        }
        if !pr.probing {
            if rejected <= pr.matched {
                return false; // stale: that prefix is already known to match
            }
            pr.probing = true;
            pr.paused = false;
            pr.next = pr.matched + 1;
            return true;
        }
        if pr.next - 1 != rejected {
            return false; // stale: a probe we have since moved on from
        }
        pr.next = rejected.min(probe + 1).max(pr.matched + 1);
        pr.paused = false;
        true
    }

    /// etcd `maybeCommit`: the highest index a majority holds, but only if it is from the
    /// current term (TestLeaderOnlyCommitsLogFromCurrentTerm, Raft §5.4.2 / Figure 8).
    pub(super) fn maybe_commit(&mut self) -> bool {
        let me = self.me.index();
        let last = self.last_index();
        let mut matched: Vec<u64> = (0..self.nodes as usize)
            .map(|i| {
                if i == me {
                    last
                } else {
                    self.progress[i].matched
                }
            })
            .collect();
        matched.sort_unstable_by(|a, b| b.cmp(a));
        let index = matched[self.quorum() - 1];
        if index > self.commit && self.term_at(index) == Some(self.term) {
            self.commit = index;
            return true;
        }
        false
    }

    /// After the leader's commit index moved: apply, release reads that waited for the term's
    /// first commit, and tell the followers (etcd `bcastAppend` after `maybeCommit`).
    pub(super) fn on_leader_commit(&mut self, ctx: &mut RCtx<'_>) {
        self.apply_committed(ctx);
        self.release_reads_after_first_commit(ctx);
        self.release_reads(ctx);
        self.bcast_append(ctx);
    }

    pub(super) fn on_heartbeat_timer(&mut self, ctx: &mut RCtx<'_>, term: u64) {
        if self.role != Role::Leader || term != self.term {
            return;
        }
        self.bcast_heartbeat(ctx);
        ctx.set_timer(self.config.heartbeat_us, RaftTimer::Heartbeat { term });
    }

    /// etcd `bcastHeartbeatWithCtx`: one numbered round; its acknowledgements by a majority
    /// confirm leadership for reads (and renew the lease). Returns the round.
    pub(super) fn bcast_heartbeat(&mut self, ctx: &mut RCtx<'_>) -> u64 {
        self.reads.round += 1;
        let round = self.reads.round;
        if self.reads.sent.len() == MAX_ROUNDS {
            self.reads.sent.pop_front();
        }
        self.reads.sent.push_back((round, ctx.local_now_us));
        let term = self.term;
        for peer in self.others() {
            let commit = self.progress[peer.index()].matched.min(self.commit);
            ctx.send(
                peer,
                RaftMsg::Heartbeat {
                    term,
                    commit,
                    round,
                },
            );
        }
        self.advance_reads(ctx);
        round
    }

    /// etcd `stepLeader`, MsgHeartbeatResp: resume a paused probe or a lagging follower, and
    /// count the acknowledged round.
    pub(super) fn on_heartbeat_resp(&mut self, ctx: &mut RCtx<'_>, from: NodeId, round: u64) {
        let last = self.last_index();
        let pr = &mut self.progress[from.index()];
        pr.recent_active = true;
        pr.paused = false;
        pr.acked_round = pr.acked_round.max(round);
        if pr.matched < last || pr.probing {
            self.send_append(ctx, from, true);
        }
        self.advance_reads(ctx);
    }
}
