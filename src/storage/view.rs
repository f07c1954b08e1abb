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

impl StorageView {
    /// Describes a log whose segments are fixed offset ranges of `segment_entries`, from its
    /// stored records (offset, key, tombstone, bytes) in offset order. Segments whose records
    /// are fewer than the offsets they cover count as cleaned.
    pub fn from_records(
        records: impl Iterator<Item = (u64, Key, bool, u64)> + Clone,
        next_offset: u64,
        committed: u64,
        segment_entries: u64,
    ) -> StorageView {
        let seg = segment_entries.max(1);
        let first = records.clone().next().map_or(next_offset, |r| r.0);
        let mut segments: Vec<SegmentView> = Vec::new();
        let mut shown: Vec<RecordView> = Vec::new();
        for (offset, key, tombstone, bytes) in records {
            let base = offset.saturating_sub(1) / seg * seg + 1;
            if segments.last().is_none_or(|s| s.base_offset != base) {
                segments.push(SegmentView {
                    base_offset: base,
                    end_offset: base + seg,
                    ..SegmentView::default()
                });
                trim_front(&mut segments, MAX_SEGMENTS_SHOWN);
            }
            let s = segments.last_mut().expect("pushed above");
            s.records += 1;
            s.tombstones += u64::from(tombstone);
            s.bytes += bytes;
            shown.push(RecordView {
                offset,
                key,
                tombstone,
            });
            trim_front(&mut shown, 2 * MAX_RECORDS_SHOWN);
        }
        let active_base = next_offset.saturating_sub(1) / seg * seg + 1;
        for s in &mut segments {
            s.active = s.base_offset == active_base;
            s.end_offset = s.end_offset.min(next_offset.max(s.base_offset + 1));
            s.cleaned = !s.active && s.records < s.end_offset - s.base_offset;
        }
        segments.drain(..segments.len().saturating_sub(MAX_SEGMENTS_SHOWN));
        let keep_from = shown.len().saturating_sub(MAX_RECORDS_SHOWN);
        StorageView {
            first_offset: first,
            next_offset,
            committed,
            segments,
            records: shown.split_off(keep_from),
            ..StorageView::default()
        }
    }
}

impl StorageView {
    /// Describes an uncompacted log holding offsets `first..next` as one active segment, with
    /// its newest records `tail` (offset, key, tombstone, bytes) in offset order.
    pub fn contiguous(
        first: u64,
        next: u64,
        committed: u64,
        tail: impl Iterator<Item = (u64, Key, bool, u64)>,
    ) -> StorageView {
        let records: Vec<RecordView> = tail
            .map(|(offset, key, tombstone, _)| RecordView {
                offset,
                key,
                tombstone,
            })
            .collect();
        let segment = SegmentView {
            base_offset: first,
            end_offset: next.max(first),
            records: next.saturating_sub(first),
            tombstones: records.iter().filter(|r| r.tombstone).count() as u64,
            bytes: 0,
            cleaned: false,
            active: true,
        };
        StorageView {
            first_offset: first,
            next_offset: next,
            committed,
            segments: vec![segment],
            records,
            ..StorageView::default()
        }
    }
}

/// Drops the oldest items once `v` holds twice `max`, so trimming costs O(1) amortised.
fn trim_front<T>(v: &mut Vec<T>, max: usize) {
    if v.len() > 2 * max {
        v.drain(..v.len() - max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compacted_segments_show_their_gaps_and_the_active_one_is_last() {
        // Offsets 1..=10 in segments of 4: 1-4 lost 2 and 3, 5-8 is whole, 9-10 is active.
        let offsets = [1u64, 4, 5, 6, 7, 8, 9, 10];
        let recs = offsets.iter().map(|&o| (o, (o % 3) as Key, o == 4, 10));
        let v = StorageView::from_records(recs, 11, 10, 4);
        assert_eq!(v.first_offset, 1);
        assert_eq!(v.segments.len(), 3);
        let [a, b, c] = [v.segments[0], v.segments[1], v.segments[2]];
        assert_eq!((a.base_offset, a.end_offset, a.records), (1, 5, 2));
        assert!(a.cleaned && !a.active && a.tombstones == 1 && a.bytes == 20);
        assert!(!b.cleaned && !b.active && b.records == 4);
        assert!(c.active && !c.cleaned && (c.base_offset, c.end_offset) == (9, 11));
        assert_eq!(v.records.len(), 8);
        assert!(v.records[1].tombstone && v.records[1].offset == 4);
    }

    #[test]
    fn a_long_log_is_described_by_its_newest_segments_and_records() {
        let recs = (1..=100_000u64).map(|o| (o, 0, false, 1));
        let v = StorageView::from_records(recs, 100_001, 100_000, 10);
        assert_eq!(v.segments.len(), MAX_SEGMENTS_SHOWN);
        assert_eq!(v.segments.last().map(|s| s.end_offset), Some(100_001));
        assert_eq!(v.records.len(), MAX_RECORDS_SHOWN);
        assert_eq!(v.records.last().map(|r| r.offset), Some(100_000));
    }
}
