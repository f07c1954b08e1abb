//! Tests of the segmented log, the cleaner's Kafka rules and retention.

use super::compaction::pick_dirtiest;
use super::retention::{Retention, RetentionReason};
use super::segment::{LogLayout, LogRecord, RECORD_OVERHEAD_BYTES, SegmentedLog};
use crate::types::Key;
use proptest::prelude::*;
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Rec {
    offset: u64,
    key: Key,
    value: Option<u64>,
    epoch: u64,
}

impl LogRecord for Rec {
    fn offset(&self) -> u64 {
        self.offset
    }
    fn key(&self) -> Key {
        self.key
    }
    fn is_tombstone(&self) -> bool {
        self.value.is_none()
    }
    fn epoch(&self) -> u64 {
        self.epoch
    }
}

fn layout(entries: u32) -> LogLayout {
    LogLayout {
        segment_entries: entries,
        segment_bytes: 0,
        value_bytes: 60,
    }
}

/// Appends `value` for `key` at the log end, at time `t_us`.
fn put(log: &mut SegmentedLog<Rec>, key: Key, value: Option<u64>, t_us: u64) -> u64 {
    let offset = log.last_index() + 1;
    let rec = Rec {
        offset,
        key,
        value,
        epoch: 1,
    };
    log.append(rec, t_us);
    offset
}

fn offsets(log: &SegmentedLog<Rec>) -> Vec<u64> {
    log.iter().map(|r| r.offset).collect()
}

/// What a consumer reading the whole log from the start ends up with.
fn state(log: &SegmentedLog<Rec>) -> BTreeMap<Key, u64> {
    let mut m = BTreeMap::new();
    for r in log.iter() {
        match r.value {
            Some(v) => m.insert(r.key, v),
            None => m.remove(&r.key),
        };
    }
    m
}

/// Cleans everything cleanable now with no lag and everything committed.
fn clean_now(
    log: &mut SegmentedLog<Rec>,
    now: u64,
    delete_retention: u64,
) -> super::compaction::CleanResult {
    let c = log.cleanable(now, u64::MAX, 0);
    log.clean(c, now, delete_retention)
}

#[test]
fn segments_roll_by_entries_and_by_bytes() {
    let mut log = SegmentedLog::new(layout(3));
    for k in 0..7 {
        put(&mut log, k, Some(1), 0);
    }
    let bases: Vec<u64> = log.segments().iter().map(|s| s.base_offset).collect();
    assert_eq!(bases, vec![1, 4, 7]);
    let by_bytes = LogLayout {
        segment_entries: 0,
        segment_bytes: 2 * (RECORD_OVERHEAD_BYTES as u64 + 60),
        value_bytes: 60,
    };
    let mut log = SegmentedLog::new(by_bytes);
    for k in 0..5 {
        put(&mut log, k, Some(1), 0);
    }
    assert_eq!(log.segment_count(), 3);
    // A tombstone is smaller: it has no value.
    put(&mut log, 9, None, 0);
    assert_eq!(log.bytes(), 5 * 100 + RECORD_OVERHEAD_BYTES as u64);
}

#[test]
fn cleaning_keeps_offsets_leaves_gaps_and_never_touches_the_active_segment() {
    let mut log = SegmentedLog::new(layout(4));
    // Keys 1,2,1,2 | 1,2,1,2 | 1 (active)
    for i in 0..9 {
        put(&mut log, 1 + (i % 2), Some(i as u64), 0);
    }
    let r = clean_now(&mut log, 10, 0);
    assert_eq!((r.from, r.to), (1, 9));
    assert_eq!(r.records_removed, 6);
    assert_eq!(offsets(&log), vec![7, 8, 9]);
    assert_eq!(log.get(7).map(|r| r.value), Some(Some(6)));
    assert_eq!(log.get(3), None, "a gap, not a renumbered record");
    assert_eq!(log.last_index(), 9);
    assert_eq!(log.first_dirty(), 9);
    // The active segment (offset 9) still holds key 1 although 7 holds it too: the cleaner
    // never reads the active segment.
    assert_eq!(log.segments().last().map(|s| s.base_offset), Some(9));
}

#[test]
fn dirty_ratio_is_dirty_bytes_over_clean_and_dirty_and_gates_cleaning() {
    let mut log = SegmentedLog::new(layout(2));
    for i in 0..5 {
        put(&mut log, i % 2, Some(i as u64), 0);
    }
    let c = log.cleanable(0, u64::MAX, 0);
    assert_eq!(c.clean_bytes, 0);
    assert_eq!(c.dirty_bytes, 400);
    assert_eq!(c.dirty_ratio(), 1.0);
    clean_now(&mut log, 0, 0);
    for i in 0..2 {
        put(&mut log, 5 + i, Some(1), 0);
    }
    // Clean: one segment of 2 records (200 bytes); dirty: segment [5,6] (200 bytes).
    let c = log.cleanable(0, u64::MAX, 0);
    assert_eq!((c.clean_bytes, c.dirty_bytes), (200, 200));
    assert_eq!(c.dirty_ratio(), 0.5);
    assert_eq!(
        pick_dirtiest(&[c.dirty_ratio()], 0.5),
        None,
        "must be above the minimum"
    );
    assert_eq!(pick_dirtiest(&[c.dirty_ratio()], 0.49), Some(0));
}

#[test]
fn the_cleaner_picks_the_log_with_the_highest_dirty_ratio() {
    assert_eq!(pick_dirtiest(&[0.6, 0.9, 0.7], 0.5), Some(1));
    assert_eq!(pick_dirtiest(&[0.6, 0.4], 0.5), Some(0));
    assert_eq!(pick_dirtiest(&[0.2, 0.4], 0.5), None);
    assert_eq!(pick_dirtiest(&[], 0.0), None);
}

#[test]
fn records_younger_than_min_compaction_lag_are_not_cleaned() {
    let mut log = SegmentedLog::new(layout(2));
    put(&mut log, 1, Some(1), 0);
    put(&mut log, 1, Some(2), 0);
    put(&mut log, 1, Some(3), 1_000); // segment 2, written at 1 ms
    put(&mut log, 1, Some(4), 1_000);
    put(&mut log, 1, Some(5), 1_000); // active
    // At 1.5 ms with a 1 ms lag, only the first segment (newest record at 0) is old enough.
    let c = log.cleanable(1_500, u64::MAX, 1_000);
    assert_eq!((c.first_dirty, c.first_uncleanable), (1, 3));
    let r = log.clean(c, 1_500, 0);
    assert_eq!(
        r.records_removed, 1,
        "the map covers only the first segment"
    );
    assert_eq!(offsets(&log), vec![2, 3, 4, 5]);
    // Later the second segment is old enough too.
    let c = log.cleanable(2_500, u64::MAX, 1_000);
    assert_eq!((c.first_dirty, c.first_uncleanable), (3, 5));
}

#[test]
fn nothing_past_the_high_watermark_is_cleaned() {
    let mut log = SegmentedLog::new(layout(2));
    for i in 0..5 {
        put(&mut log, 1, Some(i), 0);
    }
    let c = log.cleanable(0, 3, 0);
    assert_eq!(
        c.first_uncleanable, 3,
        "segment [3,4] holds offset 4 > hw 3"
    );
}

#[test]
fn a_tombstone_is_kept_for_delete_retention_after_its_first_cleaning_then_dropped() {
    let mut log = SegmentedLog::new(layout(2));
    put(&mut log, 1, Some(1), 0);
    put(&mut log, 1, None, 0);
    put(&mut log, 2, Some(1), 0);
    put(&mut log, 2, Some(2), 0);
    put(&mut log, 3, Some(1), 0); // active
    let r = clean_now(&mut log, 100, 1_000);
    assert_eq!(r.records_removed, 2);
    assert_eq!(r.tombstones_purged, 0);
    let tomb = &log.segments()[0].records[0];
    assert_eq!(tomb.rec.offset, 2);
    assert_eq!(
        tomb.delete_horizon_us,
        Some(1_100),
        "first cleaned at 100 + 1000"
    );
    // More dirty data so the cleaner passes again, before the horizon: the tombstone stays.
    put(&mut log, 4, Some(1), 200);
    put(&mut log, 5, Some(1), 200);
    let r = clean_now(&mut log, 1_099, 1_000);
    assert_eq!(r.tombstones_purged, 0);
    assert!(log.get(2).is_some());
    // After the horizon the next pass drops it; the horizon does not restart.
    put(&mut log, 6, Some(1), 200);
    put(&mut log, 7, Some(1), 200);
    let r = clean_now(&mut log, 1_100, 1_000);
    assert_eq!(r.tombstones_purged, 1);
    assert!(log.get(2).is_none());
    assert!(!state(&log).contains_key(&1));
}

#[test]
fn cleaned_segments_are_merged_within_the_segment_limit() {
    let mut log = SegmentedLog::new(layout(4));
    for i in 0..13 {
        put(&mut log, (i % 3) as Key, Some(i as u64), 0);
    }
    assert_eq!(log.segment_count(), 4);
    let r = clean_now(&mut log, 0, 0);
    assert_eq!(r.segments_before, 3);
    // Only keys 0,1,2 survive below the active segment (offsets 10, 11, 12): one segment.
    assert_eq!(r.segments_after, 1);
    assert_eq!(log.segment_count(), 2);
}

#[test]
fn time_retention_deletes_whole_old_segments_and_moves_the_log_start() {
    let mut log = SegmentedLog::new(layout(2));
    for i in 0..5 {
        put(&mut log, i as Key, Some(1), i * 1_000);
    }
    let r = Retention {
        retention_us: Some(2_500),
        retention_bytes: None,
    };
    let deleted = log.apply_retention(r, 4_000, u64::MAX);
    // Segment [1,2] newest at 1 ms: 3 ms old > 2.5; segment [3,4] newest at 3 ms: 1 ms old.
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0].reason, RetentionReason::Time);
    assert_eq!(log.first_index(), 3);
    assert_eq!(offsets(&log), vec![3, 4, 5]);
    // Never the active segment, however old.
    let deleted = log.apply_retention(r, 1_000_000, u64::MAX);
    assert_eq!(deleted.len(), 1);
    assert_eq!(offsets(&log), vec![5]);
}

#[test]
fn size_retention_keeps_at_least_retention_bytes() {
    let mut log = SegmentedLog::new(layout(2));
    for i in 0..7 {
        put(&mut log, i as Key, Some(1), 0);
    }
    let r = Retention {
        retention_us: None,
        retention_bytes: Some(300),
    };
    let deleted = log.apply_retention(r, 0, u64::MAX);
    // 700 bytes: dropping [1,2] leaves 500 >= 300, dropping [3,4] leaves 300 >= 300, then stop.
    assert_eq!(deleted.len(), 2);
    assert!(deleted.iter().all(|d| d.reason == RetentionReason::Size));
    assert_eq!(log.bytes(), 300);
    // Nothing at or past the high watermark goes.
    let mut log = SegmentedLog::new(layout(2));
    for i in 0..7 {
        put(&mut log, i as Key, Some(1), 0);
    }
    let deleted = log.apply_retention(r, 0, 3);
    assert_eq!(deleted.len(), 1, "[3,4] holds offset 4 beyond hw 3");
}

#[test]
fn unflushed_records_are_lost_on_a_crash_and_flushed_ones_are_not() {
    let mut log = SegmentedLog::new(layout(2));
    for i in 0..3 {
        put(&mut log, i, Some(1), 0);
    }
    log.flush();
    for i in 0..2 {
        put(&mut log, i, Some(2), 0);
    }
    assert_eq!(log.unflushed(), 2);
    let lost = log.lose_unflushed();
    assert_eq!(
        lost.iter().map(|r| r.offset).collect::<Vec<_>>(),
        vec![4, 5]
    );
    assert_eq!(log.last_index(), 3);
    assert_eq!(log.unflushed(), 0);
    assert!(log.lose_unflushed().is_empty());
}

#[test]
fn epochs_survive_compaction_and_truncation() {
    let mut log = SegmentedLog::new(layout(2));
    for (i, epoch) in [1, 1, 2, 2, 3].into_iter().enumerate() {
        let rec = Rec {
            offset: i as u64 + 1,
            key: 7,
            value: Some(i as u64),
            epoch,
        };
        log.append(rec, 0);
    }
    clean_now(&mut log, 0, 0);
    assert_eq!(offsets(&log), vec![4, 5]);
    assert_eq!(
        log.epoch_at(2),
        1,
        "known from the epoch cache, the record is gone"
    );
    assert_eq!(log.epoch_at(3), 2);
    assert_eq!(log.end_of_epoch(1), 2);
    assert_eq!(log.start_of_epoch(2), 3);
    log.truncate_after(3);
    assert_eq!(log.last_index(), 3);
    assert_eq!(log.epoch_at(3), 2);
    assert_eq!(log.epoch_at(4), 0);
}

#[test]
fn a_reset_starts_an_empty_log_at_the_given_offset() {
    let mut log = SegmentedLog::new(layout(2));
    put(&mut log, 1, Some(1), 0);
    let removed = log.reset_at(40, 1);
    assert_eq!(removed.len(), 1);
    assert_eq!((log.first_index(), log.last_index()), (40, 39));
    assert_eq!(
        log.epoch_at(39),
        1,
        "still matches the leader just before the start"
    );
    put(&mut log, 1, Some(2), 0);
    assert_eq!(offsets(&log), vec![40]);
}

proptest! {
    /// A consumer reading the compacted log from the start ends with exactly the state of one
    /// that read every record, whatever the workload, the cleaning times and the lag.
    #[test]
    fn compaction_keeps_the_key_value_state(
        ops in prop::collection::vec((0u32..8, prop::option::weighted(0.7, 0u64..1000), 0u8..4), 1..200),
        entries in 1u32..6,
        lag_us in 0u64..3_000,
        retention_us in 0u64..3_000,
    ) {
        let mut full = SegmentedLog::new(layout(0));
        let mut log = SegmentedLog::new(layout(entries));
        let mut now = 0;
        for (key, value, clean) in ops {
            now += 100;
            put(&mut full, key, value, now);
            put(&mut log, key, value, now);
            if clean == 0 {
                let c = log.cleanable(now, u64::MAX, lag_us);
                let before = log.len();
                let r = log.clean(c, now, retention_us);
                prop_assert_eq!(log.len() as u64, before as u64 - r.records_removed);
            }
            prop_assert_eq!(state(&log), state(&full));
            prop_assert_eq!(log.last_index(), full.last_index());
        }
    }
}

#[test]
fn the_storage_view_shows_segments_with_their_gaps_and_the_flush_point() {
    let mut log = SegmentedLog::new(layout(3));
    for i in 0..7 {
        put(&mut log, 1 + (i % 2), Some(i as u64), 0);
    }
    log.flush();
    clean_now(&mut log, 0, 0);
    put(&mut log, 5, Some(9), 0);
    let v = log.storage_view(6);
    assert_eq!((v.first_offset, v.next_offset, v.committed), (1, 9, 6));
    assert_eq!(v.flushed, Some(7));
    let active = v.segments.last().expect("an active segment");
    assert!(active.active && active.base_offset == 7 && active.end_offset == 9);
    let cleaned = &v.segments[0];
    assert!(cleaned.cleaned && cleaned.records < cleaned.end_offset - cleaned.base_offset);
    let shown: Vec<u64> = v.records.iter().map(|r| r.offset).collect();
    assert_eq!(shown, offsets(&log));
}

/// Raft's snapshot discard and Kafka's log start offset: records up to the index go, whole
/// segments below it are deleted, offsets and the log end do not move.
#[test]
fn discard_through_moves_the_log_start_and_keeps_offsets() {
    let mut log = SegmentedLog::new(layout(3));
    for k in 0..8 {
        put(&mut log, k, Some(k as u64), 0);
    }
    assert_eq!(log.segment_count(), 3, "segments 1-3, 4-6, 7-8");
    assert_eq!(log.discard_through(0), 0, "before the log start: nothing");
    assert_eq!(log.discard_through(4), 4);
    assert_eq!(log.first_index(), 5);
    assert_eq!(offsets(&log), [5, 6, 7, 8]);
    assert_eq!(
        log.segment_count(),
        2,
        "the first segment was deleted whole"
    );
    assert_eq!(log.get(4), None);
    assert_eq!(log.get(5).map(|r| r.key), Some(4), "offset 5 holds key 4");
    assert_eq!(log.bytes(), 4 * (RECORD_OVERHEAD_BYTES as u64 + 60));
    assert_eq!(log.last().map(|r| r.offset), Some(8));
    // A snapshot past the log end empties it; appends continue after the snapshot.
    assert_eq!(log.discard_through(12), 4);
    assert!(log.is_empty());
    assert_eq!((log.first_index(), log.last_index()), (13, 12));
    assert_eq!(put(&mut log, 1, Some(1), 0), 13);
}

/// In an event store only a tombstone supersedes: other records of its key stay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Fact(Rec);

impl LogRecord for Fact {
    fn offset(&self) -> u64 {
        self.0.offset
    }
    fn key(&self) -> Key {
        self.0.key
    }
    fn is_tombstone(&self) -> bool {
        self.0.value.is_none()
    }
    fn epoch(&self) -> u64 {
        1
    }
    fn supersedes(&self) -> bool {
        self.is_tombstone()
    }
}

#[test]
fn only_superseding_records_enter_the_offset_map() {
    let mut log: SegmentedLog<Fact> = SegmentedLog::new(layout(4));
    let values = [Some(1), Some(2), Some(3), None, Some(5), Some(6)];
    for (i, v) in values.into_iter().enumerate() {
        let key = if i < 4 { 7 } else { 8 };
        let offset = i as u64 + 1;
        let rec = Rec {
            offset,
            key,
            value: v,
            epoch: 1,
        };
        log.append(Fact(rec), 0);
    }
    let c = log.cleanable(10, log.last_index(), 0);
    let r = log.clean(c, 10, 100);
    assert_eq!(
        r.records_removed, 3,
        "key 7's three facts before its tombstone"
    );
    let kept: Vec<u64> = log.iter().map(|f| f.0.offset).collect();
    assert_eq!(kept, [4, 5, 6], "key 8's two facts are both kept");
    // Nothing new is dirty, yet the tombstone goes once its horizon (10 + 100) has passed.
    assert_eq!(log.purge_expired_tombstones(109).tombstones_purged, 0);
    let purged = log.purge_expired_tombstones(110);
    assert_eq!((purged.tombstones_purged, purged.records_removed), (1, 1));
    let kept: Vec<u64> = log.iter().map(|f| f.0.offset).collect();
    assert_eq!(kept, [5, 6]);
    assert_eq!(log.segment_count(), 1, "the emptied segment was deleted");
}
