//! Notable policy events, as data: the engine counts some (elections, snapshots, rebuilds) and
//! writes each into the trace as a sentence; the GUI can draw them from the fields.

use crate::check::event_log::LogNote;
use crate::types::{Key, NodeId, ValueId};

/// Notable policy events, kept as data so the GUI can mark them on the timeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Note {
    BecameLeader {
        term: u64,
    },
    SteppedDown {
        term: u64,
    },
    Text(String),
    /// A step of the node's Kafka-style log storage (segments, cleaner, retention, flush).
    Storage(crate::storage::events::LogEvent),
    /// An event-log step (command, event, projection, snapshot, erasure); feeds its metrics.
    Log(LogNote),
    /// This node snapshotted its state machine at log index `index` (entry term `term`);
    /// `bytes` is the snapshot's size (Raft §7).
    SnapshotTaken {
        index: u64,
        term: u64,
        bytes: u64,
    },
    /// This node discarded its log entries `from..=through` (a snapshot covers them).
    LogCompacted {
        from: u64,
        through: u64,
    },
    /// One InstallSnapshot chunk, bytes `offset..offset + len` of the `total` bytes of the
    /// snapshot at `index`: `sent` by this leader to `peer`, or received from leader `peer`.
    SnapshotChunk {
        peer: NodeId,
        sent: bool,
        index: u64,
        offset: u64,
        len: u64,
        total: u64,
    },
    /// This node starts rebuilding its state: after a wiped disk (`wiped`), or because it
    /// needs a snapshot; it serves no client until it finishes.
    RebuildStarted {
        wiped: bool,
    },
    /// This node's state caught up with the leader's commit index as of the rebuild's start.
    RebuildFinished {
        how: RebuildHow,
        took_us: u64,
        bytes: u64,
        entries_replayed: u64,
    },
    /// Leaderless: the coordinator refused a request up front, because its failure detector
    /// knows only `alive` of the replicas the level needs (`needed`) are up. Nothing was sent.
    Unavailable {
        key: Key,
        alive: u16,
        needed: u16,
    },
    /// Leaderless: the failure detector convicted `peer` (no heartbeat for a while) / heard it again.
    PeerDown {
        peer: NodeId,
    },
    PeerUp {
        peer: NodeId,
    },
    /// Leaderless: a hint for `for_node` was stored here instead of a write it could not take.
    HintStored {
        for_node: NodeId,
        key: Key,
    },
    /// Leaderless: a stored hint was sent to the node it was meant for.
    HintReplayed {
        to: NodeId,
        key: Key,
    },
    /// Leaderless: a read found `to` stale and sent it the newest value.
    ReadRepair {
        to: NodeId,
        key: Key,
    },
    /// Leaderless: compaction dropped a tombstone older than `gc_grace`.
    TombstonePurged {
        key: Key,
    },
    /// Leaderless anti-entropy: the Merkle leaf `range` differs between this node and `peer`.
    RangeMismatch {
        peer: NodeId,
        range: u32,
    },
    /// Leaderless sessions: a read was answered with the session's own newer version of `key`
    /// (read your writes / monotonic reads) because the replicas it read were older.
    SessionServed {
        key: Key,
    },
    /// Leaderless version vectors: a cart read found `count` concurrent versions (siblings).
    Siblings {
        key: Key,
        count: u32,
    },
    /// Leaderless version vectors: merging siblings by union brought back `value`, an item a
    /// concurrent update had removed (Dynamo's "deleted items can resurface").
    ItemResurrected {
        key: Key,
        value: ValueId,
    },
    /// Leaderless anti-entropy: this node streamed `keys` cells (`bytes` on the wire) to `to`.
    RangeStreamed {
        to: NodeId,
        keys: u32,
        bytes: u64,
    },
}

/// How a node rebuilt its state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RebuildHow {
    /// A snapshot from the leader, then the log entries after it.
    SnapshotAndTail,
    /// Every log entry from index 1, replayed in order.
    FullReplay,
}

impl RebuildHow {
    pub fn as_str(self) -> &'static str {
        match self {
            RebuildHow::SnapshotAndTail => "snapshot + log tail",
            RebuildHow::FullReplay => "full log replay",
        }
    }
}

impl Note {
    /// The sentence the trace and the event log show for this note by `node`.
    pub fn describe(self, node: NodeId) -> String {
        match self {
            Note::BecameLeader { term } => format!("{node} became leader for term {term}"),
            Note::SteppedDown { term } => format!("{node} stepped down in term {term}"),
            Note::Text(t) => t,
            Note::Log(n) => format!("{node}: {n}"),
            Note::Storage(e) => e.describe(node),
            Note::SnapshotTaken { index, term, bytes } => format!(
                "{node} took a snapshot of its state machine at index {index} (term {term}, \
                 {bytes} bytes)"
            ),
            Note::LogCompacted { from, through } => format!(
                "{node} discarded log entries {from}..={through} ({} entries): the snapshot \
                 covers them",
                through + 1 - from
            ),
            Note::SnapshotChunk {
                peer,
                sent,
                index,
                offset,
                len,
                total,
            } => {
                let done = offset + len;
                let pct = done * 100 / total.max(1);
                if sent {
                    format!(
                        "{node} sent {peer} snapshot {index} bytes {offset}..{done} of {total} \
                         ({pct}%)"
                    )
                } else {
                    format!(
                        "{node} received snapshot {index} bytes {offset}..{done} of {total} \
                         from {peer} ({pct}%)"
                    )
                }
            }
            Note::RebuildStarted { wiped: true } => format!(
                "{node} restarted with an empty disk: it rebuilds its state from the leader and \
                 neither votes nor serves until it has caught up"
            ),
            Note::RebuildStarted { wiped: false } => format!(
                "{node} needs entries the leader has discarded: it rebuilds from the leader's \
                 snapshot and serves nothing meanwhile"
            ),
            Note::RebuildFinished {
                how,
                took_us,
                bytes,
                entries_replayed,
            } => format!(
                "{node} finished rebuilding by {} in {:.1} ms: {bytes} bytes received, \
                 {entries_replayed} log entries replayed",
                how.as_str(),
                took_us as f64 / 1000.0
            ),
            Note::Unavailable { key, alive, needed } => format!(
                "{node}: unavailable for key {key}: {alive} replicas alive, {needed} needed"
            ),
            Note::PeerDown { peer } => format!("{node} convicted {peer}: no heartbeat"),
            Note::PeerUp { peer } => format!("{node} hears {peer} again"),
            Note::HintStored { for_node, key } => {
                format!("{node} stored a hint for {for_node} (key {key})")
            }
            Note::HintReplayed { to, key } => format!("{node} replayed a hint to {to} (key {key})"),
            Note::ReadRepair { to, key } => format!("{node} read-repairs key {key} on {to}"),
            Note::TombstonePurged { key } => format!("{node} purged the tombstone of key {key}"),
            Note::RangeMismatch { peer, range } => {
                format!("{node}: Merkle range {range} differs from {peer}")
            }
            Note::SessionServed { key } => {
                format!(
                    "{node}: replicas behind the session on key {key}; served its newer version"
                )
            }
            Note::Siblings { key, count } => format!("{node}: key {key} has {count} siblings"),
            Note::ItemResurrected { key, value } => {
                format!("{node}: merging key {key}'s siblings brings back removed item {value}")
            }
            Note::RangeStreamed { to, keys, bytes } => {
                format!("{node} streamed {keys} keys ({bytes} bytes) to {to}")
            }
        }
    }
}
