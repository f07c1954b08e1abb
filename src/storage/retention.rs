//! Time- and size-based retention for logs that are not compacted (Kafka `cleanup.policy=delete`).
//!
//! Kafka deletes whole segments, oldest first, never the active one and never one holding an
//! offset at or past the high watermark (`UnifiedLog.deletableSegments`; the active segment
//! only goes after a roll, which capsim leaves to the next append):
//! - `retention.ms`: a segment whose largest timestamp is older than `now - retention.ms`
//!   (`deleteRetentionMsBreachedSegments`);
//! - `retention.bytes`: while the log minus the oldest segment is still at least
//!   `retention.bytes` (`deleteRetentionSizeBreachedSegments`).
//!
//! The log start offset moves to the first remaining segment, so a reader asking for an older
//! offset gets OFFSET_OUT_OF_RANGE and must restart from the log start (a consumer with
//! `auto.offset.reset=earliest`; a follower truncates its log fully and starts there).

use super::segment::{LogRecord, SegmentedLog};

/// Why a segment was deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetentionReason {
    /// Its newest record was older than `retention_ms`.
    Time,
    /// The log was bigger than `retention_bytes`.
    Size,
}

impl RetentionReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RetentionReason::Time => "retention_ms",
            RetentionReason::Size => "retention_bytes",
        }
    }
}

/// One deleted segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeletedSegment {
    pub base_offset: u64,
    /// The log start offset after the deletion.
    pub next_base: u64,
    pub records: u64,
    pub bytes: u64,
    pub reason: RetentionReason,
}

/// Retention limits; `None` means no limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Retention {
    pub retention_us: Option<u64>,
    pub retention_bytes: Option<u64>,
}

impl<E: LogRecord> SegmentedLog<E> {
    /// Deletes the oldest segments that breach a retention limit; `committed` is the high
    /// watermark (nothing at or past it is deleted).
    pub fn apply_retention(
        &mut self,
        r: Retention,
        now_us: u64,
        committed: u64,
    ) -> Vec<DeletedSegment> {
        let mut deleted = Vec::new();
        let mut size = self.bytes();
        while self.segments.len() > 1 {
            let seg = &self.segments[0];
            let next_base = self.segments[1].base_offset;
            if next_base > committed.saturating_add(1) {
                break;
            }
            let old = r
                .retention_us
                .is_some_and(|ms| now_us.saturating_sub(seg.max_timestamp_us) > ms);
            let big = r
                .retention_bytes
                .is_some_and(|limit| size.saturating_sub(seg.bytes) >= limit);
            let reason = match (old, big) {
                (true, _) => RetentionReason::Time,
                (false, true) => RetentionReason::Size,
                (false, false) => break,
            };
            size -= seg.bytes;
            deleted.push(DeletedSegment {
                base_offset: seg.base_offset,
                next_base,
                records: seg.records.len() as u64,
                bytes: seg.bytes,
                reason,
            });
            self.segments.remove(0);
            self.log_start = next_base;
        }
        self.first_dirty = self.first_dirty.max(self.log_start);
        self.flushed = self.flushed.max(self.log_start);
        deleted
    }
}
