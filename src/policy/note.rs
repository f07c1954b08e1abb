//! Notable policy events, as data: the engine counts some (elections, snapshots, rebuilds) and
//! writes each into the trace as a sentence; the GUI can draw them from the fields.

use crate::check::event_log::LogNote;
use crate::types::NodeId;

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
        }
    }
}
