//! Raft consensus as a pure state machine (Ongaro & Ousterhout, "In Search of an Understandable
//! Consensus Algorithm", and Ongaro's thesis), following etcd-io/raft `raft.go` closely and
//! tikv/raft-rs `src/raft.rs` where they agree. Like raft-rs's `RawNode`/`Ready`, a node never
//! does anything itself: every message, timer, reply and note is an [`Effect`](super::Effect)
//! the engine applies.
//!
//! - `election.rs`: terms, votes, roles, randomised election timeouts, check-quorum.
//! - `replication.rs`: AppendEntries with the prevLogIndex/prevLogTerm check and conflict
//!   truncation, heartbeats, majority commit of current-term entries, applying in log order.
//! - `client.rs`: client requests (redirects, pending writes) and the three read modes.
//! - `snapshot.rs`: snapshots and log compaction (Raft §7), chunked InstallSnapshot at a
//!   configured bandwidth, and rebuilding a node whose disk was wiped.
//! - `rebuild.rs`: a rebuild's bookkeeping (start, end, bytes, entries replayed) and what a
//!   rebuilding node answers clients.
//!
//! Durable (kept by `on_crash`; Raft persists before it answers, and our state is in memory, so
//! keeping these fields is the persistence): current term, vote, log, and the state machine with
//! its applied index (etcd's backend keeps its "consistent index" the same way). Volatile: role,
//! known leader, commit index (restarts at the applied index, which is known to be committed),
//! leader progress, votes, read rounds, the lease and every pending client request.
//! Snapshots (when configured): the latest snapshot and the last discarded (index, term) are
//! durable; a snapshot being received is volatile (lost on a crash; the leader resends it).
//! A wiped disk loses everything (the engine builds a fresh node and calls `on_wiped`).

mod client;
mod election;
mod rebuild;
mod replication;
mod snapshot;
#[cfg(test)]
mod tests;

use super::{ClientReq, Cluster, Ctx, Message, NodeView, OpRef, Policy, StoredValue};
use crate::scenario::schema::ReadMode;
use crate::storage::kv::VersionedKv;
use crate::storage::segment::{LogLayout, LogRecord, SegmentedLog};
use crate::types::{Key, NodeId, OpKind, ValueId};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

pub use snapshot::{Snapshot, SnapshotConfig};

#[derive(Clone, Debug, PartialEq)]
pub struct RaftConfig {
    pub election_timeout_min_us: u64,
    pub election_timeout_max_us: u64,
    pub heartbeat_us: u64,
    pub read_mode: ReadMode,
    pub lease_us: u64,
    pub check_quorum: bool,
    pub max_batch: u32,
    pub request_timeout_us: u64,
    /// Snapshots, compaction and transfer bandwidth; `None` keeps the whole log forever.
    pub snapshot: Option<SnapshotConfig>,
}

impl Default for RaftConfig {
    fn default() -> Self {
        RaftConfig {
            election_timeout_min_us: 150_000,
            election_timeout_max_us: 300_000,
            heartbeat_us: 50_000,
            read_mode: ReadMode::ReadIndex,
            lease_us: 120_000,
            check_quorum: true,
            max_batch: 64,
            request_timeout_us: 1_000_000,
            snapshot: None,
        }
    }
}

/// What an entry asks the state machine to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// The empty entry a new leader appends to commit its term (Raft §5.4.2, §8).
    Noop,
    /// A write (`Some`) or a delete (`None`).
    Put { key: Key, value: Option<ValueId> },
    /// A read ordered through the log (`read_mode: Log`); changes nothing.
    Read { key: Key },
}

/// One log entry. It knows its own index, as raft-rs's `eraftpb::Entry` does, so the shared
/// segmented log (`storage::segment`) can hold it like any other record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    pub index: u64,
    pub term: u64,
    pub cmd: Command,
}

impl LogRecord for Entry {
    fn offset(&self) -> u64 {
        self.index
    }

    fn key(&self) -> Key {
        match self.cmd {
            Command::Put { key, .. } | Command::Read { key } => key,
            Command::Noop => crate::storage::view::NO_KEY,
        }
    }

    fn is_tombstone(&self) -> bool {
        matches!(self.cmd, Command::Put { value: None, .. })
    }

    fn epoch(&self) -> u64 {
        self.term
    }
}

/// Why a follower refused an append, and where its log might match (etcd's `RejectHint` and
/// `LogTerm`): the largest index at or below the probe whose term is at most the probe's term.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RejectHint {
    pub index: u64,
    pub term: u64,
    /// The follower lost its disk and is rebuilding: entries it acknowledged before are gone,
    /// so the leader must forget what it knew to match (a real cluster removes and re-adds
    /// such a member; see `snapshot.rs`).
    pub wiped: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RaftMsg {
    RequestVote {
        term: u64,
        last_index: u64,
        last_term: u64,
    },
    Vote {
        term: u64,
        granted: bool,
    },
    /// AppendEntries: `entries` follow `prev_index`, whose entry has term `prev_term`.
    Append {
        term: u64,
        prev_index: u64,
        prev_term: u64,
        entries: Vec<Entry>,
        commit: u64,
    },
    /// Success: the follower's log matches the leader's up to `index`. Rejection: the probe at
    /// `index` (the append's `prev_index`) did not match.
    AppendResp {
        term: u64,
        index: u64,
        reject: Option<RejectHint>,
    },
    /// Carries the commit index (at most what the follower is known to hold) and the read round
    /// it confirms (etcd's heartbeat `Context`).
    Heartbeat {
        term: u64,
        commit: u64,
        round: u64,
    },
    HeartbeatResp {
        term: u64,
        round: u64,
    },
    /// One chunk of the leader's snapshot (the Raft paper's chunked InstallSnapshot RPC, §7
    /// and Figure 13; raft-rs `MsgSnapshot`, sent by `prepare_send_snapshot`): bytes `offset..offset + len` of
    /// `snap.bytes()`. The chunk's wire size is `len` plus a header, so bandwidth, loss and
    /// partitions apply to it; the state itself travels shared (`Arc`) and is only used once
    /// every byte arrived in order.
    InstallSnapshot {
        term: u64,
        snap: Arc<Snapshot>,
        offset: u64,
        len: u64,
        commit: u64,
    },
    /// The follower holds the first `received` bytes of the snapshot at `index`.
    SnapshotResp {
        term: u64,
        index: u64,
        received: u64,
    },
}

pub const KINDS: &[&str] = &[
    "request_vote",
    "vote",
    "append",
    "append_resp",
    "heartbeat",
    "heartbeat_resp",
    "install_snapshot",
    "snapshot_resp",
];

impl RaftMsg {
    pub fn term(&self) -> u64 {
        match self {
            RaftMsg::RequestVote { term, .. }
            | RaftMsg::Vote { term, .. }
            | RaftMsg::Append { term, .. }
            | RaftMsg::AppendResp { term, .. }
            | RaftMsg::Heartbeat { term, .. }
            | RaftMsg::HeartbeatResp { term, .. }
            | RaftMsg::InstallSnapshot { term, .. }
            | RaftMsg::SnapshotResp { term, .. } => *term,
        }
    }
}

impl Message for RaftMsg {
    fn kind(&self) -> u8 {
        match self {
            RaftMsg::RequestVote { .. } => 0,
            RaftMsg::Vote { .. } => 1,
            RaftMsg::Append { .. } => 2,
            RaftMsg::AppendResp { .. } => 3,
            RaftMsg::Heartbeat { .. } => 4,
            RaftMsg::HeartbeatResp { .. } => 5,
            RaftMsg::InstallSnapshot { .. } => 6,
            RaftMsg::SnapshotResp { .. } => 7,
        }
    }
    fn size_bytes(&self) -> u32 {
        match self {
            RaftMsg::Append { entries, .. } => {
                APPEND_HEADER_BYTES + ENTRY_BYTES * entries.len() as u32
            }
            RaftMsg::InstallSnapshot { len, .. } => {
                (APPEND_HEADER_BYTES as u64 + len).min(u32::MAX as u64) as u32
            }
            RaftMsg::RequestVote { .. } | RaftMsg::AppendResp { .. } => 40,
            RaftMsg::SnapshotResp { .. } => 40,
            RaftMsg::Heartbeat { .. } => 40,
            RaftMsg::Vote { .. } | RaftMsg::HeartbeatResp { .. } => 32,
        }
    }
    fn carries(&self, key: Key, value: Option<ValueId>) -> bool {
        let put = Command::Put { key, value };
        match self {
            RaftMsg::Append { entries, .. } => entries.iter().any(|e| e.cmd == put),
            _ => false,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RaftTimer {
    /// The election timeout chain; only the latest `generation` counts.
    Election { generation: u64 },
    /// The leader's heartbeat tick for `term`.
    Heartbeat { term: u64 },
    /// The leader's check-quorum tick for `term`.
    CheckQuorum { term: u64 },
    /// A client request this node has kept for `request_timeout`.
    RequestTimeout { op: OpRef },
    /// The link to `to` is free again after a snapshot chunk (or the chunk's retry time is up);
    /// only the transfer's latest `tick` counts.
    SnapshotTick { to: NodeId, term: u64, tick: u64 },
    /// The link to `to` is free again after an append (bandwidth pacing).
    Pace { to: NodeId, term: u64 },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Follower,
    Candidate,
    Leader,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Follower => "follower",
            Role::Candidate => "candidate",
            Role::Leader => "leader",
        }
    }
}

/// The leader's view of one follower (etcd `tracker.Progress`, with only Probe and Replicate).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Progress {
    /// Highest index known to match the leader's log.
    matched: u64,
    /// Next index to send.
    next: u64,
    /// Probe: one append at a time until the follower's log is found to match; Replicate
    /// (false): stream appends optimistically.
    probing: bool,
    /// Probe only: an append is in flight; wait for an answer or a heartbeat response.
    paused: bool,
    /// Heard from since the last check-quorum tick.
    recent_active: bool,
    /// Highest heartbeat round acknowledged in this term.
    acked_round: u64,
    /// With a bandwidth limit: when (local) the link to this follower is free again.
    link_free_local: u64,
    /// A `Pace` timer is armed for this follower.
    pace_armed: bool,
}

/// When to start an election: measured on the node's own clock (`ctx.local_now_us`), so drift
/// and skew apply, as they do to the ticks of a real node.
#[derive(Clone, Copy, Debug, Default)]
struct ElectionClock {
    /// Last time (local) this node heard from a leader, granted a vote, or started a term.
    last_contact_local: u64,
    /// This term's randomised election timeout (etcd `randomizedElectionTimeout`).
    timeout_us: u64,
    /// The armed timer: its generation and when (local) it fires.
    armed: Option<(u64, u64)>,
    generation: u64,
}

/// A read the leader answers once a heartbeat round started after it has been acknowledged by a
/// majority (etcd `readOnly`), and the state machine has applied its read index.
#[derive(Clone, Copy, Debug)]
struct PendingRead {
    op: OpRef,
    key: Key,
    /// `None` while the leader has not yet committed an entry of its term (etcd parks such reads
    /// in `pendingReadIndexMessages`).
    round: Option<u64>,
    index: u64,
}

#[derive(Clone, Debug, Default)]
struct LeaderReads {
    /// Last heartbeat round started in this term.
    round: u64,
    /// Rounds not yet confirmed, with the local time they were sent (for the lease).
    sent: VecDeque<(u64, u64)>,
    /// Highest round a majority (the leader included) has acknowledged.
    confirmed: u64,
    /// Reads may be answered locally while `local_now_us` is below this (`Lease` mode).
    lease_until_local: u64,
    waiting: Vec<PendingRead>,
}

/// A client request whose entry is in the log at some index, waiting to be applied.
#[derive(Clone, Copy, Debug)]
struct Pending {
    op: OpRef,
    /// The entry's term: if a different entry is applied at that index, ours was overwritten.
    term: u64,
    kind: OpKind,
    key: Key,
}

/// Most client requests one node keeps waiting (etcd answers "too many requests" beyond its own
/// limit); later ones fail at once.
const MAX_PENDING: usize = 10_000;
/// Most unconfirmed read rounds remembered.
const MAX_ROUNDS: usize = 4096;
/// Wire size of one log entry (and of one key's cell in a snapshot, so that the bytes of a
/// full log replay and of a snapshot compare honestly).
pub const ENTRY_BYTES: u32 = 24;

/// How a node's Raft log is kept on disk: segments of 64 entries, each entry `ENTRY_BYTES` on
/// the wire plus the shared record overhead.
const RAFT_LOG_LAYOUT: LogLayout = LogLayout {
    segment_entries: 64,
    segment_bytes: 0,
    value_bytes: ENTRY_BYTES,
};
/// Wire size of an AppendEntries or InstallSnapshot header.
pub const APPEND_HEADER_BYTES: u32 = 48;

#[derive(Clone, Debug)]
pub struct Raft {
    me: NodeId,
    nodes: u16,
    config: RaftConfig,
    // Durable.
    term: u64,
    voted_for: Option<NodeId>,
    log: SegmentedLog<Entry>,
    kv: VersionedKv,
    applied: u64,
    /// The latest snapshot (taken here or installed from a leader).
    snapshot: Option<Arc<Snapshot>>,
    /// (index, term) of the last discarded log entry: (0, 0) while nothing was discarded.
    compacted: (u64, u64),
    /// Set while this node rebuilds its state; survives a crash (a real node would record it
    /// on disk) so a half-rebuilt node still does not vote.
    rebuild: Option<rebuild::Rebuild>,
    // Volatile.
    role: Role,
    leader: Option<NodeId>,
    commit: u64,
    clock: ElectionClock,
    votes: Vec<Option<bool>>,
    progress: Vec<Progress>,
    reads: LeaderReads,
    pending: BTreeMap<u64, Pending>,
    /// Requests waiting for a leader to become known.
    held: Vec<ClientReq>,
    /// Leader: the snapshot transfer to each follower, if any.
    outgoing: Vec<Option<snapshot::Transfer>>,
    /// Follower: the snapshot being received.
    incoming: Option<snapshot::Incoming>,
}

type RCtx<'a> = Ctx<'a, RaftMsg, RaftTimer>;

impl Raft {
    pub fn term(&self) -> u64 {
        self.term
    }
    pub fn role(&self) -> Role {
        self.role
    }
    pub fn voted_for(&self) -> Option<NodeId> {
        self.voted_for
    }
    pub fn leader(&self) -> Option<NodeId> {
        self.leader
    }
    pub fn log(&self) -> &SegmentedLog<Entry> {
        &self.log
    }
    pub fn commit_index(&self) -> u64 {
        self.commit
    }
    pub fn applied_index(&self) -> u64 {
        self.applied
    }

    fn quorum(&self) -> usize {
        self.nodes as usize / 2 + 1
    }

    fn others(&self) -> impl Iterator<Item = NodeId> + use<> {
        let me = self.me;
        (0..self.nodes).map(NodeId).filter(move |n| *n != me)
    }

    fn last_index(&self) -> u64 {
        self.log.last_index()
    }

    /// Appends a new entry of this node's at the end of its log and returns its index. Raft
    /// persists an entry before it answers anyone about it, so the log is flushed at once.
    fn append_new(&mut self, now_us: u64, term: u64, cmd: Command) -> u64 {
        let index = self.log.last_index() + 1;
        self.log.append(Entry { index, term, cmd }, now_us);
        self.log.flush();
        index
    }

    fn last_term(&self) -> u64 {
        self.log.last().map_or(self.compacted.1, |e| e.term)
    }

    /// The term of the entry at `index` (0 for index 0; the remembered term for the last
    /// discarded entry), or `None` past the end of the log or before the discarded prefix.
    fn term_at(&self, index: u64) -> Option<u64> {
        if index == 0 {
            Some(0)
        } else if index == self.compacted.0 {
            Some(self.compacted.1)
        } else {
            self.log.get(index).map(|e| e.term)
        }
    }

    /// The latest snapshot, if any.
    pub fn snapshot(&self) -> Option<&Snapshot> {
        self.snapshot.as_deref()
    }

    /// (index, term) of the last log entry discarded by compaction.
    pub fn compacted(&self) -> (u64, u64) {
        self.compacted
    }

    /// Whether this node is rebuilding its state (wiped disk or snapshot install).
    pub fn is_rebuilding(&self) -> bool {
        self.rebuild.is_some()
    }

    fn pending_requests(&self) -> usize {
        self.pending.len() + self.held.len() + self.reads.waiting.len()
    }
}

impl Policy for Raft {
    type Msg = RaftMsg;
    type Timer = RaftTimer;
    type Config = RaftConfig;
    const KINDS: &'static [&'static str] = KINDS;

    fn new(me: NodeId, cluster: &Cluster, config: &RaftConfig) -> Self {
        let n = cluster.nodes as usize;
        Raft {
            me,
            nodes: cluster.nodes,
            config: config.clone(),
            term: 0,
            voted_for: None,
            log: SegmentedLog::new(RAFT_LOG_LAYOUT),
            kv: VersionedKv::default(),
            applied: 0,
            snapshot: None,
            compacted: (0, 0),
            rebuild: None,
            role: Role::Follower,
            leader: None,
            commit: 0,
            clock: ElectionClock::default(),
            votes: vec![None; n],
            progress: vec![Progress::default(); n],
            reads: LeaderReads::default(),
            pending: BTreeMap::new(),
            held: Vec::new(),
            outgoing: vec![None; n],
            incoming: None,
        }
    }

    fn on_start(&mut self, ctx: &mut RCtx<'_>) {
        // Every node starts (and restarts) as a follower that knows no leader (Raft §5.2).
        self.clock.timeout_us = self.draw_election_timeout(ctx);
        self.clock.last_contact_local = ctx.local_now_us;
        self.arm_election(ctx);
        self.start_rebuild_after_wipe(ctx);
    }

    fn on_client(&mut self, ctx: &mut RCtx<'_>, req: ClientReq) {
        self.on_client_request(ctx, req, true);
    }

    fn on_message(&mut self, ctx: &mut RCtx<'_>, from: NodeId, msg: RaftMsg) {
        self.step(ctx, from, msg);
    }

    fn on_timer(&mut self, ctx: &mut RCtx<'_>, timer: RaftTimer) {
        match timer {
            RaftTimer::Election { generation } => self.on_election_timer(ctx, generation),
            RaftTimer::Heartbeat { term } => self.on_heartbeat_timer(ctx, term),
            RaftTimer::CheckQuorum { term } => self.on_check_quorum(ctx, term),
            RaftTimer::RequestTimeout { op } => self.on_request_timeout(ctx, op),
            RaftTimer::SnapshotTick { to, term, tick } => {
                self.on_snapshot_tick(ctx, to, term, tick)
            }
            RaftTimer::Pace { to, term } => self.on_pace(ctx, to, term),
        }
    }

    fn on_crash(&mut self) {
        self.role = Role::Follower;
        self.leader = None;
        self.commit = self.applied;
        self.clock.armed = None;
        self.votes.fill(None);
        self.progress.fill(Progress::default());
        self.reads = LeaderReads::default();
        self.pending.clear();
        self.held.clear();
        self.outgoing.fill(None);
        self.incoming = None;
        if let Some(r) = &mut self.rebuild {
            r.on_crash();
        }
    }

    fn on_wiped(&mut self) {
        self.rebuild = Some(rebuild::Rebuild::after_wipe());
    }

    fn reconfigure(&mut self, config: &RaftConfig) {
        self.config = config.clone();
    }

    /// `Set("policy.snapshot.every_entries", n)` takes effect at once: a schedule of such
    /// `Set`s snapshots at chosen times (e.g. 1 then back to 0).
    fn on_set(&mut self, ctx: &mut RCtx<'_>, path: &str) {
        if path.starts_with("policy.snapshot") {
            self.maybe_snapshot(ctx);
        }
    }

    fn replicas_of(&self, _key: Key, out: &mut Vec<NodeId>) {
        out.extend((0..self.nodes).map(NodeId));
    }

    fn leader_hint(&self) -> Option<NodeId> {
        self.leader
    }

    fn view(&self) -> NodeView {
        let name = |n: Option<NodeId>| n.map_or("none".to_string(), |n| n.to_string());
        let mut details = vec![
            ("leader", name(self.leader)),
            ("voted for", name(self.voted_for)),
            ("last log term", self.last_term().to_string()),
            ("applied", self.applied.to_string()),
            (
                "pending client requests",
                self.pending_requests().to_string(),
            ),
        ];
        if self.role == Role::Leader {
            let lease = self.reads.lease_until_local;
            details.push(("read rounds confirmed", self.reads.confirmed.to_string()));
            if self.config.read_mode == ReadMode::Lease {
                details.push((
                    "lease until (local ms)",
                    format!("{:.1}", lease as f64 / 1e3),
                ));
            }
        }
        self.snapshot_details(&mut details);
        NodeView {
            role: if self.rebuild.is_some() {
                "rebuilding"
            } else {
                self.role.as_str()
            },
            term: Some(self.term),
            log_len: Some(self.last_index()),
            commit_index: Some(self.commit),
            details,
            storage: Some(self.storage_view()),
        }
    }

    fn stored(&self, out: &mut Vec<StoredValue>) {
        self.kv.stored(out);
    }
}

impl Raft {
    /// The log for the Storage tab: its newest segments and entries (keyed by the key they
    /// write), the snapshot covering the discarded prefix, and a rebuild's progress.
    fn storage_view(&self) -> crate::storage::view::StorageView {
        use crate::storage::view::SnapshotView;
        let mut view = self.log.storage_view(self.commit);
        view.snapshot = self.snapshot.as_ref().map(|s| SnapshotView {
            last_index: s.index,
            bytes: s.bytes(),
        });
        view.rebuild = self.rebuild_view();
        view
    }

    /// A snapshot arriving (bytes so far) or a rebuild replaying entries.
    fn rebuild_view(&self) -> Option<crate::storage::view::RebuildView> {
        use crate::storage::view::RebuildView;
        if let Some(i) = self.incoming {
            return Some(RebuildView {
                method: "snapshot",
                done: i.received,
                total: i.total,
                unit: "bytes",
            });
        }
        let r = self.rebuild?;
        let target = r.target?;
        Some(RebuildView {
            method: if r.installed {
                "snapshot + log tail"
            } else {
                "full log replay"
            },
            done: self.applied.min(target),
            total: target,
            unit: "entries applied",
        })
    }
}

impl crate::engine::FromScenario for Raft {
    fn config_from(s: &crate::scenario::Scenario) -> RaftConfig {
        let crate::scenario::schema::PolicySpec::Raft(r) = &s.policy else {
            unreachable!("the simulator picks the policy type from the scenario")
        };
        let us = |ms: f64| crate::types::ms_to_us(ms).max(1);
        RaftConfig {
            election_timeout_min_us: us(r.election_timeout_min_ms),
            election_timeout_max_us: us(r.election_timeout_max_ms),
            heartbeat_us: us(r.heartbeat_ms),
            read_mode: r.read_mode,
            lease_us: us(r.lease_ms),
            check_quorum: r.check_quorum,
            max_batch: r.max_batch.max(1),
            request_timeout_us: us(r.request_timeout_ms),
            snapshot: r.snapshot.as_ref().map(SnapshotConfig::from_spec),
        }
    }
}
