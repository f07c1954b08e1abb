//! What a viewer draws of one node's log: segments, the records still in them (with the gaps
//! compaction left), tombstones, the commit point, a snapshot covering the prefix, and a
//! rebuild in progress. Policies fill it in `NodeView::storage`; the GUI's Storage tab draws
//! it, so the same picture serves Kafka compaction, Raft snapshots and event-store erasure.

use crate::types::Key;

/// At most this many segments and records are described (the newest ones): the picture stays
/// bounded however long the run.
pub const MAX_SEGMENTS_SHOWN: usize = 64;
pub const MAX_RECORDS_SHOWN: usize = 256;
/// The key of a record that writes no key (Raft's no-op entry).
pub const NO_KEY: Key = Key::MAX;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct StorageView {
    /// First offset still stored (everything before is in the snapshot or deleted).
    pub first_offset: u64,
    /// Offset the next record will get (log end offset).
    pub next_offset: u64,
    /// Entries up to here are committed (Raft commit index, Kafka high watermark).
    pub committed: u64,
    /// Entries up to here are on disk (logs with a flush lag); `None` when every entry is.
    pub flushed: Option<u64>,
    /// Oldest first; the last one is the active segment.
    pub segments: Vec<SegmentView>,
    /// The newest records (offset order), when the picture can show them one by one.
    pub records: Vec<RecordView>,
    pub snapshot: Option<SnapshotView>,
    pub rebuild: Option<RebuildView>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SegmentView {
    pub base_offset: u64,
    /// One past the last offset the segment covers.
    pub end_offset: u64,
    /// Records still stored in it (fewer than the offsets it covers once compacted).
    pub records: u64,
    pub tombstones: u64,
    pub bytes: u64,
    /// Rewritten by the cleaner at least once.
    pub cleaned: bool,
    pub active: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordView {
    pub offset: u64,
    pub key: Key,
    pub tombstone: bool,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SnapshotView {
    /// Last log index the snapshot covers.
    pub last_index: u64,
    pub bytes: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RebuildView {
    /// "snapshot", "full replay", ...
    pub method: &'static str,
    pub done: u64,
    pub total: u64,
    /// What `done`/`total` count ("bytes", "entries").
    pub unit: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::segment::{LogLayout, LogRecord, SegmentedLog};

    #[derive(Clone, Copy, Debug)]
    struct R(u64);

    impl LogRecord for R {
        fn offset(&self) -> u64 {
            self.0
        }
        fn key(&self) -> Key {
            0
        }
        fn is_tombstone(&self) -> bool {
            false
        }
        fn epoch(&self) -> u64 {
            0
        }
    }

    #[test]
    fn a_long_log_is_described_by_its_newest_segments_and_records() {
        let layout = LogLayout {
            segment_entries: 10,
            ..LogLayout::default()
        };
        let mut log = SegmentedLog::new(layout);
        for o in 1..=100_000u64 {
            log.append(R(o), 0);
        }
        let v = log.storage_view(100_000);
        assert_eq!(v.segments.len(), MAX_SEGMENTS_SHOWN);
        assert_eq!(v.segments.last().map(|s| s.end_offset), Some(100_001));
        assert_eq!(v.records.len(), MAX_RECORDS_SHOWN);
        assert_eq!(v.records.last().map(|r| r.offset), Some(100_000));
    }
}
