//! Terms, votes and roles: Raft §5.1 (terms), §5.2 (leader election), §5.4.1 (election
//! restriction), and the thesis's check-quorum and "ignore disruptive RequestVotes" rules
//! (§6.2, §4.2.3) as etcd implements them with `CheckQuorum`. Follows etcd-io/raft `raft.go`:
//! `Step` (term handling and votes), `poll`, `stepCandidate`, `becomeFollower`,
//! `becomeCandidate`, `becomeLeader`, `reset`.

use super::{Command, Progress, RCtx, Raft, RaftMsg, RaftTimer, Role};
use crate::policy::Note;
use crate::types::NodeId;

impl Raft {
    /// etcd `Step`: first the message's term (a newer term makes us a follower; an older one is
    /// answered with ours so a stale leader or candidate learns it), then the message itself.
    pub(super) fn step(&mut self, ctx: &mut RCtx<'_>, from: NodeId, msg: RaftMsg) {
        let term = msg.term();
        if term > self.term {
            if matches!(msg, RaftMsg::RequestVote { .. }) && self.in_lease(ctx) {
                let heard_ms = ctx
                    .local_now_us
                    .saturating_sub(self.clock.last_contact_local)
                    / 1000;
                ctx.note(Note::Text(format!(
                    "{} ignored {from}'s vote request for term {term}: it heard from leader {} \
                     {heard_ms} ms ago",
                    self.me,
                    self.leader.map_or("?".into(), |l| l.to_string()),
                )));
                return;
            }
            let from_leader = matches!(msg, RaftMsg::Append { .. } | RaftMsg::Heartbeat { .. });
            self.become_follower(ctx, term, from_leader.then_some(from));
        } else if term < self.term {
            self.answer_stale(ctx, from, &msg);
            return;
        }
        match msg {
            RaftMsg::RequestVote {
                last_index,
                last_term,
                ..
            } => self.on_request_vote(ctx, from, last_index, last_term),
            RaftMsg::Vote { granted, .. } => self.on_vote(ctx, from, granted),
            RaftMsg::Append {
                prev_index,
                prev_term,
                entries,
                commit,
                ..
            } => {
                if self.accept_leader(ctx, from) {
                    self.handle_append(ctx, from, prev_index, prev_term, entries, commit);
                }
            }
            RaftMsg::Heartbeat { commit, round, .. } => {
                if self.accept_leader(ctx, from) {
                    self.handle_heartbeat(ctx, from, commit, round);
                }
            }
            RaftMsg::AppendResp { index, reject, .. } if self.role == Role::Leader => {
                self.on_append_resp(ctx, from, index, reject)
            }
            RaftMsg::HeartbeatResp { round, .. } if self.role == Role::Leader => {
                self.on_heartbeat_resp(ctx, from, round)
            }
            RaftMsg::InstallSnapshot {
                snap,
                offset,
                len,
                commit,
                ..
            } => {
                if self.accept_leader(ctx, from) {
                    self.handle_install_snapshot(ctx, from, snap, offset, len, commit);
                }
            }
            RaftMsg::SnapshotResp {
                index, received, ..
            } if self.role == Role::Leader => self.on_snapshot_resp(ctx, from, index, received),
            RaftMsg::AppendResp { .. }
            | RaftMsg::HeartbeatResp { .. }
            | RaftMsg::SnapshotResp { .. } => {}
        }
    }

    /// Paper, Figure 2: "Reply false if term < currentTerm". The reply carries our term, which
    /// makes a deposed leader step down (etcd does this for appends when `CheckQuorum` is on).
    fn answer_stale(&mut self, ctx: &mut RCtx<'_>, from: NodeId, msg: &RaftMsg) {
        let term = self.term;
        match msg {
            RaftMsg::Append { .. }
            | RaftMsg::Heartbeat { .. }
            | RaftMsg::InstallSnapshot { .. } => ctx.send(
                from,
                RaftMsg::AppendResp {
                    term,
                    index: 0,
                    reject: None,
                },
            ),
            RaftMsg::RequestVote { .. } => ctx.send(
                from,
                RaftMsg::Vote {
                    term,
                    granted: false,
                },
            ),
            _ => {}
        }
    }

    /// etcd's `inLease`: with check-quorum, a node that heard from a leader less than the minimum
    /// election timeout ago ignores vote requests (thesis §4.2.3). This is what keeps a leader's
    /// lease safe: no majority votes for a new leader while the old lease can still be running.
    fn in_lease(&self, ctx: &RCtx<'_>) -> bool {
        let since = ctx
            .local_now_us
            .saturating_sub(self.clock.last_contact_local);
        self.config.check_quorum
            && self.leader.is_some()
            && since < self.config.election_timeout_min_us
    }

    /// An append or heartbeat for our term: its sender is the leader (at most one per term).
    /// Returns false when we lead this term ourselves, which election safety rules out.
    fn accept_leader(&mut self, ctx: &mut RCtx<'_>, from: NodeId) -> bool {
        match self.role {
            Role::Leader => {
                debug_assert!(false, "two leaders in term {}", self.term);
                false
            }
            // TestCandidateFallback: a candidate that hears from a leader of its term concedes.
            Role::Candidate => {
                self.become_follower(ctx, self.term, Some(from));
                true
            }
            Role::Follower => {
                self.clock.last_contact_local = ctx.local_now_us;
                if self.leader != Some(from) {
                    self.set_leader(ctx, Some(from));
                }
                true
            }
        }
    }

    /// etcd `Step`, case MsgVote: vote for at most one candidate per term, first come first
    /// served, and only for a candidate whose log is at least as up to date as ours (§5.4.1).
    fn on_request_vote(
        &mut self,
        ctx: &mut RCtx<'_>,
        from: NodeId,
        last_index: u64,
        last_term: u64,
    ) {
        let (me, term) = (self.me, self.term);
        if self.wiped_and_rebuilding() {
            ctx.note(Note::Text(format!(
                "{me} refused its vote to {from} in term {term}: its disk was wiped, so it no \
                 longer knows whom it voted for or what it acknowledged"
            )));
            return ctx.send(
                from,
                RaftMsg::Vote {
                    term,
                    granted: false,
                },
            );
        }
        let can_vote =
            self.voted_for == Some(from) || (self.voted_for.is_none() && self.leader.is_none());
        let (my_index, my_term) = (self.last_index(), self.last_term());
        let up_to_date = last_term > my_term || (last_term == my_term && last_index >= my_index);
        let granted = can_vote && up_to_date;
        let text = if granted {
            self.voted_for = Some(from);
            self.clock.last_contact_local = ctx.local_now_us;
            format!("{me} voted for {from} in term {term}")
        } else if !can_vote {
            let why = match self.voted_for {
                Some(v) => format!("already voted for {v}"),
                None => format!("already follows leader {}", self.leader.unwrap_or(me)),
            };
            format!("{me} refused its vote to {from} in term {term}: {why}")
        } else {
            format!(
                "{me} refused its vote to {from} in term {term}: its log (last entry {my_index} \
                 of term {my_term}) is more up to date than the candidate's ({last_index} of \
                 term {last_term})"
            )
        };
        ctx.note(Note::Text(text));
        ctx.send(from, RaftMsg::Vote { term, granted });
    }

    /// etcd `poll` + `stepCandidate`: a majority of grants wins, a majority of refusals loses.
    fn on_vote(&mut self, ctx: &mut RCtx<'_>, from: NodeId, granted: bool) {
        if self.role != Role::Candidate {
            return;
        }
        self.votes[from.index()] = Some(granted);
        let yes = self.votes.iter().filter(|v| **v == Some(true)).count();
        let no = self.votes.iter().filter(|v| **v == Some(false)).count();
        if yes >= self.quorum() {
            self.become_leader(ctx);
        } else if no >= self.quorum() {
            ctx.note(Note::Text(format!(
                "{} lost the election for term {}: {no} of {} nodes refused",
                self.me, self.term, self.nodes
            )));
            self.become_follower(ctx, self.term, None);
        }
    }

    /// etcd `reset`: a new term forgets the vote; every role change forgets the leader, the
    /// tally and leader state, and draws a new randomised election timeout.
    fn reset(&mut self, ctx: &mut RCtx<'_>, term: u64) {
        if term != self.term {
            self.term = term;
            self.voted_for = None;
        }
        self.leader = None;
        self.votes.fill(None);
        self.reads = Default::default();
        self.clock.timeout_us = self.draw_election_timeout(ctx);
        self.clock.last_contact_local = ctx.local_now_us;
    }

    pub(super) fn become_follower(
        &mut self,
        ctx: &mut RCtx<'_>,
        term: u64,
        leader: Option<NodeId>,
    ) {
        if self.role == Role::Leader {
            ctx.note(Note::SteppedDown { term: self.term });
            // Writes stay pending: their entries may still commit (then we answer Written) or
            // be overwritten (then Failed); only a timeout leaves their outcome unknown.
            self.fail_leader_reads(ctx);
        }
        self.reset(ctx, term);
        self.role = Role::Follower;
        self.arm_election(ctx);
        self.set_leader(ctx, leader);
    }

    /// etcd `becomeCandidate` + `campaign`: a new term, a vote for ourselves, RequestVote to all.
    pub(super) fn campaign(&mut self, ctx: &mut RCtx<'_>) {
        if self.role == Role::Leader {
            return; // etcd `hup`: "ignoring MsgHup because already leader"
        }
        let silent_ms = ctx
            .local_now_us
            .saturating_sub(self.clock.last_contact_local)
            / 1000;
        let term = self.term + 1;
        self.reset(ctx, term);
        self.role = Role::Candidate;
        self.voted_for = Some(self.me);
        self.votes[self.me.index()] = Some(true);
        ctx.note(Note::Text(format!(
            "{} heard from no leader for {silent_ms} ms and starts an election for term {term}",
            self.me
        )));
        self.arm_election(ctx);
        if self.quorum() == 1 {
            return self.become_leader(ctx);
        }
        let (last_index, last_term) = (self.last_index(), self.last_term());
        for peer in self.others() {
            let msg = RaftMsg::RequestVote {
                term,
                last_index,
                last_term,
            };
            ctx.send(peer, msg);
        }
    }

    /// etcd `becomeLeader`: every follower is probed from our last index, and an empty entry of
    /// the new term is appended so that the leader can commit (and learn the commit index).
    fn become_leader(&mut self, ctx: &mut RCtx<'_>) {
        let term = self.term;
        self.reset(ctx, term);
        self.role = Role::Leader;
        self.leader = Some(self.me);
        let next = self.last_index() + 1;
        self.outgoing.fill(None);
        self.abandon_snapshot_rebuild();
        self.progress.fill(Progress {
            next,
            probing: true,
            ..Progress::default()
        });
        self.append_new(ctx.now.0, term, Command::Noop);
        ctx.note(Note::BecameLeader { term });
        ctx.set_timer(self.config.heartbeat_us, RaftTimer::Heartbeat { term });
        if self.config.check_quorum {
            let every = self.config.election_timeout_min_us;
            ctx.set_timer(every, RaftTimer::CheckQuorum { term });
        }
        self.bcast_append(ctx);
        if self.maybe_commit() {
            self.on_leader_commit(ctx);
        }
        for req in std::mem::take(&mut self.held) {
            self.on_client_request(ctx, req, false);
        }
    }

    /// Records the leader; requests kept while none was known now go to it.
    fn set_leader(&mut self, ctx: &mut RCtx<'_>, leader: Option<NodeId>) {
        self.leader = leader;
        if leader.is_some() {
            for req in std::mem::take(&mut self.held) {
                self.on_client_request(ctx, req, false);
            }
        }
    }

    /// etcd `tickHeartbeat` with CheckQuorum: a leader that has not heard from a majority during
    /// the last election timeout steps down, so a leader cut off in a minority stops accepting
    /// requests it can never commit.
    pub(super) fn on_check_quorum(&mut self, ctx: &mut RCtx<'_>, term: u64) {
        if self.role != Role::Leader || term != self.term {
            return;
        }
        let me = self.me.index();
        let active = (0..self.nodes as usize)
            .filter(|&i| i == me || self.progress[i].recent_active)
            .count();
        if active >= self.quorum() {
            self.progress
                .iter_mut()
                .for_each(|p| p.recent_active = false);
            self.clock.last_contact_local = ctx.local_now_us;
            ctx.set_timer(
                self.config.election_timeout_min_us,
                RaftTimer::CheckQuorum { term },
            );
            return;
        }
        ctx.note(Note::Text(format!(
            "{} heard from only {active} of {} nodes during an election timeout and steps down",
            self.me, self.nodes
        )));
        self.become_follower(ctx, term, None);
    }

    /// A uniform draw from [min, max] (etcd draws from [electionTimeout, 2*electionTimeout)).
    pub(super) fn draw_election_timeout(&self, ctx: &mut RCtx<'_>) -> u64 {
        let (min, max) = (
            self.config.election_timeout_min_us,
            self.config.election_timeout_max_us,
        );
        ctx.rng.between(min, max.max(min)).max(1)
    }

    /// Makes sure a timer fires no later than the election deadline.
    pub(super) fn arm_election(&mut self, ctx: &mut RCtx<'_>) {
        let deadline = self.clock.last_contact_local + self.clock.timeout_us;
        if self.clock.armed.is_some_and(|(_, at)| at <= deadline) {
            return;
        }
        let after = deadline.saturating_sub(ctx.local_now_us).max(1);
        self.clock.generation += 1;
        let generation = self.clock.generation;
        self.clock.armed = Some((generation, ctx.local_now_us + after));
        ctx.set_timer(after, RaftTimer::Election { generation });
    }

    /// The election timer: campaign if nothing was heard for the whole timeout, else wait the
    /// rest. A leader lets the chain stop; stepping down arms it again.
    pub(super) fn on_election_timer(&mut self, ctx: &mut RCtx<'_>, generation: u64) {
        if self.clock.armed.is_none_or(|(g, _)| g != generation) {
            return;
        }
        self.clock.armed = None;
        if self.role == Role::Leader {
            return;
        }
        // A clock stepped backwards: count from now rather than waiting out the step.
        if ctx.local_now_us < self.clock.last_contact_local {
            self.clock.last_contact_local = ctx.local_now_us;
        }
        let silent = ctx.local_now_us - self.clock.last_contact_local;
        if silent >= self.clock.timeout_us && self.wiped_and_rebuilding() {
            // A wiped node waits for a leader to rebuild from; it never campaigns meanwhile.
            self.clock.last_contact_local = ctx.local_now_us;
            self.arm_election(ctx);
        } else if silent >= self.clock.timeout_us {
            self.campaign(ctx);
        } else {
            self.arm_election(ctx);
        }
    }
}
