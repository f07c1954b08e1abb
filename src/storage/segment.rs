//! A Kafka-style log: keyed records with stable offsets, kept in segments.
//!
//! Offsets never change: compaction and retention remove records and leave gaps, so the offset
//! of a record is not its position. The log's end (`next_offset`) is kept apart from the records,
//! as Kafka keeps its log end offset, so a gap at the end (never the case here: the active
//! segment is never cleaned) could not move it back. Records live in segments; the newest is the
//! *active* segment, which takes the appends and is never cleaned or deleted. A segment is rolled
//! (a new active one started) when the active one holds `segment_entries` records or the next
//! record would take it past `segment_bytes` (Kafka `segment.bytes`; Kafka also rolls on
//! `segment.ms`, which capsim leaves out).
//!
//! The log also keeps what Kafka keeps beside its segments: the leader-epoch cache (the first
//! offset of each leader epoch, Kafka's `leader-epoch-checkpoint`), so the epoch of an offset is
//! known even after compaction removed the record there; the cleaner checkpoint (the first dirty
//! offset, Kafka's `cleaner-offset-checkpoint`); and how far the log has been flushed to disk
//! (Kafka `flush.messages` / `flush.ms`): on a crash of the machine, what was not flushed is
//! lost. Offsets start at 1, as in the rest of capsim (Kafka starts at 0).
//!
//! The cleaner lives in `compaction.rs`, time and size retention in `retention.rs`.

use super::view::{MAX_RECORDS_SHOWN, MAX_SEGMENTS_SHOWN, RecordView, SegmentView, StorageView};
use crate::types::Key;

/// Bytes every record takes besides its value: offset, timestamp, key, headers (Kafka's
/// record and batch overhead, rounded).
pub const RECORD_OVERHEAD_BYTES: u32 = 40;

/// What the log needs to know about a record.
pub trait LogRecord: Clone {
    fn offset(&self) -> u64;
    fn key(&self) -> Key;
    /// A record with a key and a null value: "this key is deleted".
    fn is_tombstone(&self) -> bool;
    /// The leader epoch the record was written in (non-decreasing along the log).
    fn epoch(&self) -> u64;
    /// Whether this record replaces the earlier records of its key when the log is compacted.
    /// In a Kafka topic every record does (the cleaner keeps the latest value per key); in an
    /// event store only a tombstone does (every other event is a fact worth keeping).
    fn supersedes(&self) -> bool {
        true
    }
}

/// How segments are cut and how big records are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogLayout {
    /// Roll when the active segment holds this many records (0: no limit).
    pub segment_entries: u32,
    /// Roll when the next record would take the active segment past this size (0: no limit).
    pub segment_bytes: u64,
    /// Size of a record's value; a tombstone has none.
    pub value_bytes: u32,
}

impl Default for LogLayout {
    fn default() -> Self {
        LogLayout {
            segment_entries: 0,
            segment_bytes: 0,
            value_bytes: 100,
        }
    }
}

impl LogLayout {
    pub fn record_bytes<E: LogRecord>(&self, e: &E) -> u32 {
        if e.is_tombstone() {
            RECORD_OVERHEAD_BYTES
        } else {
            RECORD_OVERHEAD_BYTES + self.value_bytes
        }
    }

    /// Would a segment of `entries` records and `bytes` bytes be full with one more record of
    /// `next` bytes?
    pub fn is_full(&self, entries: usize, bytes: u64, next: u32) -> bool {
        entries > 0
            && ((self.segment_entries > 0 && entries >= self.segment_entries as usize)
                || (self.segment_bytes > 0 && bytes + next as u64 > self.segment_bytes))
    }
}

/// One record as stored, with what the log keeps about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored<E> {
    pub rec: E,
    pub size_bytes: u32,
    /// Local time the record was appended on this replica.
    pub timestamp_us: u64,
    /// Tombstones only: set when the cleaner first cleans it (`now + delete_retention`, KIP-534);
    /// a later cleaning after this time drops it.
    pub delete_horizon_us: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment<E> {
    /// The offset the segment starts at (its first record may be later, after compaction).
    pub base_offset: u64,
    pub records: Vec<Stored<E>>,
    pub bytes: u64,
    /// Newest record timestamp (Kafka's `largestTimestamp`), for retention and compaction lag.
    pub max_timestamp_us: u64,
}

impl<E: LogRecord> Stored<E> {
    /// A tombstone whose delete horizon has passed: the next cleaning drops it.
    pub fn tombstone_expired(&self, now_us: u64) -> bool {
        self.rec.is_tombstone() && self.delete_horizon_us.is_some_and(|h| now_us >= h)
    }
}

impl<E: LogRecord> Segment<E> {
    pub fn new(base_offset: u64) -> Segment<E> {
        Segment {
            base_offset,
            records: Vec::new(),
            bytes: 0,
            max_timestamp_us: 0,
        }
    }

    pub fn push(&mut self, s: Stored<E>) {
        self.bytes += s.size_bytes as u64;
        self.max_timestamp_us = self.max_timestamp_us.max(s.timestamp_us);
        self.records.push(s);
    }

    pub fn last_offset(&self) -> Option<u64> {
        self.records.last().map(|s| s.rec.offset())
    }

    fn position(&self, offset: u64) -> usize {
        self.records.partition_point(|s| s.rec.offset() < offset)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentedLog<E> {
    pub(super) layout: LogLayout,
    /// Never empty; the last one is the active segment.
    pub(super) segments: Vec<Segment<E>>,
    /// The first offset the log may hold (moves only with retention or a reset).
    pub(super) log_start: u64,
    /// The offset the next record gets (Kafka's log end offset).
    pub(super) next_offset: u64,
    /// Cleaner checkpoint: records from here on have not been cleaned yet.
    pub(super) first_dirty: u64,
    /// Offsets below this are on disk.
    pub(super) flushed: u64,
    /// (epoch, first offset of that epoch), epochs increasing.
    epochs: Vec<(u64, u64)>,
}

impl<E: LogRecord> Default for SegmentedLog<E> {
    fn default() -> Self {
        SegmentedLog::new(LogLayout::default())
    }
}

impl<E: LogRecord> SegmentedLog<E> {
    pub fn new(layout: LogLayout) -> SegmentedLog<E> {
        SegmentedLog {
            layout,
            segments: vec![Segment::new(1)],
            log_start: 1,
            next_offset: 1,
            first_dirty: 1,
            flushed: 1,
            epochs: Vec::new(),
        }
    }

    pub fn layout(&self) -> LogLayout {
        self.layout
    }

    /// New segment limits and record sizes apply from the next append on.
    pub fn set_layout(&mut self, layout: LogLayout) {
        self.layout = layout;
    }

    /// The first offset the log may hold (records there may be gone after compaction).
    pub fn first_index(&self) -> u64 {
        self.log_start
    }

    /// The offset of the last record appended (0 when nothing was ever appended).
    pub fn last_index(&self) -> u64 {
        self.next_offset - 1
    }

    /// Records held (offsets minus the gaps).
    pub fn len(&self) -> usize {
        self.segments.iter().map(|s| s.records.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.segments.iter().all(|s| s.records.is_empty())
    }

    pub fn bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.bytes).sum()
    }

    pub fn segments(&self) -> &[Segment<E>] {
        &self.segments
    }

    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    pub fn first_dirty(&self) -> u64 {
        self.first_dirty
    }

    /// Appends a record at its own offset (at or after the log end: a follower copying a
    /// leader's compacted log leaves the same gaps). Returns true when the append rolled a new
    /// active segment first.
    pub fn append(&mut self, e: E, now_us: u64) -> bool {
        let offset = e.offset();
        debug_assert!(offset >= self.next_offset, "offsets only grow");
        let size = self.layout.record_bytes(&e);
        let active = self.segments.last().expect("a log has an active segment");
        let rolled = self
            .layout
            .is_full(active.records.len(), active.bytes, size);
        if rolled {
            self.segments.push(Segment::new(offset));
        }
        if self.epochs.last().is_none_or(|(ep, _)| *ep < e.epoch()) {
            self.epochs.push((e.epoch(), offset));
        }
        let seg = self
            .segments
            .last_mut()
            .expect("a log has an active segment");
        seg.push(Stored {
            rec: e,
            size_bytes: size,
            timestamp_us: now_us,
            delete_horizon_us: None,
        });
        self.next_offset = offset + 1;
        rolled
    }

    fn segment_of(&self, offset: u64) -> usize {
        self.segments
            .partition_point(|s| s.base_offset <= offset)
            .saturating_sub(1)
    }

    pub fn get(&self, offset: u64) -> Option<&E> {
        let seg = &self.segments[self.segment_of(offset)];
        let i = seg.position(offset);
        seg.records
            .get(i)
            .filter(|s| s.rec.offset() == offset)
            .map(|s| &s.rec)
    }

    pub fn last(&self) -> Option<&E> {
        self.segments
            .iter()
            .rev()
            .find_map(|s| s.records.last())
            .map(|s| &s.rec)
    }

    /// Every record in offset order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &E> {
        self.segments
            .iter()
            .flat_map(|s| s.records.iter().map(|r| &r.rec))
    }

    /// Up to `max` records at offsets `from` and later.
    pub fn read_from(&self, from: u64, max: usize) -> Vec<E> {
        let first = self.segment_of(from);
        let mut out = Vec::new();
        for seg in &self.segments[first..] {
            let start = seg.position(from);
            for s in &seg.records[start..] {
                if out.len() >= max {
                    return out;
                }
                out.push(s.rec.clone());
            }
        }
        out
    }

    /// Removes every record after `index` and moves the log end back to `index + 1`; returns the
    /// removed records.
    pub fn truncate_after(&mut self, index: u64) -> Vec<E> {
        if index >= self.last_index() {
            return Vec::new();
        }
        let mut removed = Vec::new();
        while self.segments.len() > 1 && self.segments.last().is_some_and(|s| s.base_offset > index)
        {
            let seg = self.segments.pop().expect("checked above");
            removed.splice(0..0, seg.records.into_iter().map(|s| s.rec));
        }
        let seg = self
            .segments
            .last_mut()
            .expect("a log has an active segment");
        let keep = seg.position(index + 1);
        let tail: Vec<E> = seg.records.drain(keep..).map(|s| s.rec).collect();
        seg.bytes = seg.records.iter().map(|s| s.size_bytes as u64).sum();
        seg.max_timestamp_us = seg
            .records
            .iter()
            .map(|s| s.timestamp_us)
            .max()
            .unwrap_or(0);
        removed.splice(0..0, tail);
        self.next_offset = (index + 1).max(self.log_start);
        self.first_dirty = self.first_dirty.min(self.next_offset);
        self.flushed = self.flushed.min(self.next_offset);
        self.epochs.retain(|(_, start)| *start <= index);
        removed
    }

    /// Discards every record up to and including `index` and moves the log start past it (Kafka's
    /// log start offset, which `DeleteRecords` advances; Raft's "discard entries up to the
    /// snapshot's last included index"). Segments left empty are deleted; offsets never change.
    /// Past the log end, the log becomes empty and continues at `index + 1` (a follower that
    /// installed a snapshot newer than its whole log). Returns how many records were removed.
    pub fn discard_through(&mut self, index: u64) -> usize {
        if index < self.log_start {
            return 0;
        }
        if index >= self.last_index() {
            let n = self.len();
            let epoch = self.epoch_at(index.min(self.last_index()));
            self.reset_at(index + 1, epoch);
            return n;
        }
        let mut removed = 0;
        while self.segments.len() > 1 && self.segments[1].base_offset <= index + 1 {
            removed += self.segments.remove(0).records.len();
        }
        let seg = &mut self.segments[0];
        let cut = seg.position(index + 1);
        removed += cut;
        let gone_bytes: u64 = seg.records.drain(..cut).map(|s| s.size_bytes as u64).sum();
        seg.bytes -= gone_bytes;
        self.log_start = index + 1;
        self.first_dirty = self.first_dirty.max(self.log_start);
        self.flushed = self.flushed.max(self.log_start);
        removed
    }

    /// Empties the log and starts it again at `offset` (Kafka's `truncateFullyAndStartAt`, what
    /// a follower does when the leader no longer holds the offset it asks for).
    /// `prev_epoch` is the epoch of offset `offset - 1`, so the log still matches there.
    pub fn reset_at(&mut self, offset: u64, prev_epoch: u64) -> Vec<E> {
        let removed: Vec<E> = self.iter().cloned().collect();
        *self = SegmentedLog::new(self.layout);
        self.log_start = offset;
        self.next_offset = offset;
        self.first_dirty = offset;
        self.flushed = offset;
        self.segments[0].base_offset = offset;
        if offset > 1 && prev_epoch > 0 {
            self.epochs.push((prev_epoch, offset - 1));
            self.next_offset = offset;
        }
        removed
    }

    /// The epoch of the record at `index`, even if compaction removed it (0 for index 0 and
    /// beyond the log end).
    pub fn epoch_at(&self, index: u64) -> u64 {
        if index == 0 || index > self.last_index() {
            return 0;
        }
        let n = self.epochs.partition_point(|(_, start)| *start <= index);
        n.checked_sub(1).map_or(0, |i| self.epochs[i].0)
    }

    /// The last offset whose epoch is at most `epoch` (Kafka's end offset for a leader epoch).
    pub fn end_of_epoch(&self, epoch: u64) -> u64 {
        match self.epochs.iter().find(|(e, _)| *e > epoch) {
            Some((_, start)) => start - 1,
            None => self.last_index(),
        }
    }

    /// The first offset whose epoch is `epoch` or later.
    pub fn start_of_epoch(&self, epoch: u64) -> u64 {
        match self.epochs.iter().find(|(e, _)| *e >= epoch) {
            Some((_, start)) => *start,
            None => self.last_index() + 1,
        }
    }

    /// Records appended but not yet on disk.
    pub fn unflushed(&self) -> u64 {
        self.next_offset - self.flushed.min(self.next_offset)
    }

    /// Writes everything appended so far to disk (fsync).
    pub fn flush(&mut self) {
        self.flushed = self.next_offset;
    }

    /// The machine lost power: what was not flushed is gone. Returns the lost records.
    pub fn lose_unflushed(&mut self) -> Vec<E> {
        if self.flushed >= self.next_offset {
            return Vec::new();
        }
        self.truncate_after(self.flushed - 1)
    }
}

impl<E: LogRecord> SegmentedLog<E> {
    /// What a viewer draws: the newest segments and records, bounded however long the log.
    pub fn storage_view(&self, committed: u64) -> StorageView {
        let n = self.segments.len();
        let skip = n.saturating_sub(MAX_SEGMENTS_SHOWN);
        let segments = (skip..n)
            .map(|i| {
                let s = &self.segments[i];
                let active = i + 1 == n;
                let end = match self.segments.get(i + 1) {
                    Some(next) => next.base_offset,
                    None => self.next_offset.max(s.base_offset),
                };
                SegmentView {
                    base_offset: s.base_offset,
                    end_offset: end,
                    records: s.records.len() as u64,
                    tombstones: s.records.iter().filter(|r| r.rec.is_tombstone()).count() as u64,
                    bytes: s.bytes,
                    cleaned: !active && s.base_offset < self.first_dirty,
                    active,
                }
            })
            .collect();
        let mut records: Vec<RecordView> = self
            .iter()
            .rev()
            .take(MAX_RECORDS_SHOWN)
            .map(|r| RecordView {
                offset: r.offset(),
                key: r.key(),
                tombstone: r.is_tombstone(),
            })
            .collect();
        records.reverse();
        StorageView {
            first_offset: self.log_start,
            next_offset: self.next_offset,
            committed,
            flushed: Some(self.flushed.min(self.next_offset).saturating_sub(1)),
            segments,
            records,
            ..StorageView::default()
        }
    }
}
