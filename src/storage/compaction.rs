//! Kafka's log cleaner (log compaction), one pass at a time.
//!
//! The rules, from Kafka's documentation (<https://kafka.apache.org/documentation/#compaction>)
//! and source (`core/src/main/scala/kafka/log/LogCleaner.scala`, `LogCleanerManager.scala`):
//!
//! - The cleaner picks the log with the highest *dirty ratio* (bytes in the dirty section over
//!   bytes in the clean and dirty sections), and only if that ratio is above
//!   `min.cleanable.dirty.ratio` (`LogCleanerManager.grabFilthiestCompactedLog`:
//!   `cleanableRatio > minCleanableRatio`, then `cleanableLogs.max`). See [`pick_dirtiest`].
//! - The dirty section runs from the cleaner checkpoint (`cleaner-offset-checkpoint`) to the
//!   first uncleanable offset: the smallest of the active segment's base offset, the base offset
//!   of the first segment whose largest timestamp is younger than `min.compaction.lag.ms`, and
//!   the first offset not yet committed (`LogCleanerManager.cleanableOffsets`; Kafka bounds it by
//!   the last stable offset, which never passes the high watermark). See [`SegmentedLog::cleanable`].
//! - One pass builds an offset map, key → latest offset, over the dirty section
//!   (`buildOffsetMap`), then rewrites every segment below the first uncleanable offset, keeping
//!   a record only if the map holds no later offset for its key (`shouldRetainRecord`), groups
//!   the cleaned segments so that each group stays within the segment limits
//!   (`groupSegmentsBySize`) and swaps each group in for the segments it replaces
//!   (`replaceSegments`). Offsets are kept, so gaps appear. The checkpoint moves to the end of
//!   the map.
//! - A tombstone is kept for `delete.retention.ms` counted from when the cleaner first cleans
//!   it (KIP-534: the batch gets a delete horizon `now + delete.retention.ms`); a pass after
//!   the horizon drops it. A consumer that reads from offset 0 and takes longer than that may
//!   miss the delete ("this setting also gives a bound on the time in which a consumer must
//!   complete a read if they begin from offset 0", Kafka's `delete.retention.ms` doc).
//!
//! Left out: the offset map's memory limit (`log.cleaner.dedupe.buffer.size`; here it holds
//! every key), transactions and producer state, and `cleanup.policy=compact,delete`.

use super::segment::{LogRecord, Segment, SegmentedLog};
use crate::types::Key;
use std::collections::BTreeMap;

/// The cleaner's view of one log before a pass (Kafka's `LogToClean`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cleanable {
    /// The cleaner checkpoint: the first offset not yet cleaned.
    pub first_dirty: u64,
    /// The first offset this pass may not touch (a segment's base offset, or the log end).
    pub first_uncleanable: u64,
    /// Bytes in the segments before `first_dirty`.
    pub clean_bytes: u64,
    /// Bytes in the segments from `first_dirty` to `first_uncleanable`.
    pub dirty_bytes: u64,
}

impl Cleanable {
    /// Dirty bytes over clean + dirty bytes (0 for an empty log).
    pub fn dirty_ratio(&self) -> f64 {
        let total = self.clean_bytes + self.dirty_bytes;
        if total == 0 {
            0.0
        } else {
            self.dirty_bytes as f64 / total as f64
        }
    }
}

/// Which log the cleaner takes next: the one with the highest dirty ratio, if that ratio is
/// above `min_cleanable_dirty_ratio` (ties go to the first).
pub fn pick_dirtiest(ratios: &[f64], min_cleanable_dirty_ratio: f64) -> Option<usize> {
    let mut best: Option<usize> = None;
    for (i, r) in ratios.iter().enumerate() {
        if *r > min_cleanable_dirty_ratio && best.is_none_or(|b| *r > ratios[b]) {
            best = Some(i);
        }
    }
    best
}

/// What one cleaning pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CleanResult {
    /// Offsets [from, to) were rewritten; the checkpoint is now `to`.
    pub from: u64,
    pub to: u64,
    /// Distinct keys in the offset map.
    pub keys: u64,
    /// Bytes the pass read (every segment it rewrote).
    pub bytes_read: u64,
    /// Records dropped, tombstones included.
    pub records_removed: u64,
    pub bytes_removed: u64,
    /// Tombstones dropped because their delete horizon had passed.
    pub tombstones_purged: u64,
    /// Segments below `to` before and after the swap.
    pub segments_before: u64,
    pub segments_after: u64,
}

impl<E: LogRecord> SegmentedLog<E> {
    /// The dirty section as the cleaner would see it now. `committed` is the last offset that
    /// may be cleaned (the high watermark); `min_compaction_lag_us` keeps young segments out.
    pub fn cleanable(&self, now_us: u64, committed: u64, min_compaction_lag_us: u64) -> Cleanable {
        let first_dirty = self.first_dirty.max(self.log_start);
        let active = self.segments.len() - 1;
        let young = |s: &Segment<E>| {
            min_compaction_lag_us > 0
                && s.max_timestamp_us > now_us.saturating_sub(min_compaction_lag_us)
        };
        let uncommitted = |s: &Segment<E>| s.last_offset().is_some_and(|o| o > committed);
        let bound = self.segments[..active]
            .iter()
            .find(|s| s.base_offset >= first_dirty && (young(s) || uncommitted(s)))
            .map_or(self.segments[active].base_offset, |s| s.base_offset);
        let first_uncleanable = bound.max(first_dirty);
        let mut clean_bytes = 0;
        let mut dirty_bytes = 0;
        for s in &self.segments[..active] {
            if s.base_offset < first_dirty {
                clean_bytes += s.bytes;
            } else if s.base_offset < first_uncleanable {
                dirty_bytes += s.bytes;
            }
        }
        Cleanable {
            first_dirty,
            first_uncleanable,
            clean_bytes,
            dirty_bytes,
        }
    }

    /// One cleaning pass over the section `c` describes (recomputed by the caller right before,
    /// so it matches the log as it is now). `delete_retention_us`: how long a tombstone is kept
    /// after it is first cleaned.
    pub fn clean(&mut self, c: Cleanable, now_us: u64, delete_retention_us: u64) -> CleanResult {
        let (from, to) = (c.first_dirty, c.first_uncleanable);
        let mut result = CleanResult {
            from,
            to,
            ..CleanResult::default()
        };
        if to <= from {
            return result;
        }
        let map = self.offset_map(from, to);
        result.keys = map.len() as u64;
        let n = self.segments.partition_point(|s| s.base_offset < to);
        let n = n.min(self.segments.len() - 1); // never the active segment
        let old: Vec<Segment<E>> = self.segments.drain(..n).collect();
        result.segments_before = old.len() as u64;
        let mut cleaned = Vec::with_capacity(old.len());
        for seg in old {
            result.bytes_read += seg.bytes;
            let mut out = Segment::new(seg.base_offset);
            for mut s in seg.records {
                let superseded = map.get(&s.rec.key()).is_some_and(|o| *o > s.rec.offset());
                let expired = s.tombstone_expired(now_us);
                if superseded || expired {
                    result.records_removed += 1;
                    result.bytes_removed += s.size_bytes as u64;
                    result.tombstones_purged += (expired && !superseded) as u64;
                    continue;
                }
                if s.rec.is_tombstone() && s.delete_horizon_us.is_none() {
                    s.delete_horizon_us = Some(now_us.saturating_add(delete_retention_us));
                }
                out.push(s);
            }
            cleaned.push(out);
        }
        let grouped = self.group(cleaned);
        result.segments_after = grouped.len() as u64;
        self.segments.splice(0..0, grouped);
        self.first_dirty = to;
        // The cleaner writes its new segments to disk before swapping them in.
        self.flushed = self.flushed.max(to);
        result
    }

    /// Drops the tombstones whose delete horizon has passed from the segments already cleaned,
    /// when no new dirty data would bring the cleaner back to them (KIP-534 made a log whose
    /// tombstones passed their horizon eligible for cleaning for this reason). Returns what
    /// was removed, as a [`CleanResult`] over the clean section.
    pub fn purge_expired_tombstones(&mut self, now_us: u64) -> CleanResult {
        let to = self.first_dirty.max(self.log_start);
        let mut result = CleanResult {
            from: self.log_start,
            to,
            ..CleanResult::default()
        };
        let active = self.segments.len() - 1;
        for seg in self.segments[..active]
            .iter_mut()
            .take_while(|seg| seg.base_offset < to)
        {
            let (before, bytes_before) = (seg.records.len(), seg.bytes);
            seg.records.retain(|s| !s.tombstone_expired(now_us));
            seg.bytes = seg.records.iter().map(|s| s.size_bytes as u64).sum();
            let gone = (before - seg.records.len()) as u64;
            result.records_removed += gone;
            result.tombstones_purged += gone;
            result.bytes_removed += bytes_before - seg.bytes;
        }
        if result.records_removed > 0 {
            // Segments the purge emptied are deleted (never the active one).
            let before = self.segments.len();
            let mut i = 0;
            self.segments.retain(|s| {
                i += 1;
                i == before || !s.records.is_empty()
            });
            result.segments_before = before as u64;
            result.segments_after = self.segments.len() as u64;
        }
        result
    }

    /// Key → latest offset over [from, to).
    fn offset_map(&self, from: u64, to: u64) -> BTreeMap<Key, u64> {
        let mut map = BTreeMap::new();
        for s in &self.segments {
            for r in &s.records {
                let o = r.rec.offset();
                if (from..to).contains(&o) && r.rec.supersedes() {
                    map.insert(r.rec.key(), o);
                }
            }
        }
        map
    }

    /// Merges neighbouring cleaned segments while the merged one stays within the segment
    /// limits (Kafka's `groupSegmentsBySize`); drops segments left empty.
    fn group(&self, cleaned: Vec<Segment<E>>) -> Vec<Segment<E>> {
        let mut out: Vec<Segment<E>> = Vec::new();
        for seg in cleaned {
            if seg.records.is_empty() {
                continue;
            }
            if let Some(last) = out.last_mut()
                && self.fits(last, &seg)
            {
                for s in seg.records {
                    last.push(s);
                }
                continue;
            }
            out.push(seg);
        }
        out
    }

    fn fits(&self, a: &Segment<E>, b: &Segment<E>) -> bool {
        let l = self.layout;
        let entries = a.records.len() + b.records.len();
        (l.segment_entries == 0 || entries <= l.segment_entries as usize)
            && (l.segment_bytes == 0 || a.bytes + b.bytes <= l.segment_bytes)
    }
}
