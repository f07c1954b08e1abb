//! What a node's log storage did, step by step, as data: the policies report each step as a
//! `Note::Storage`, the engine counts it into the report and writes `describe()` to the trace.

use super::retention::RetentionReason;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogEvent {
    /// The active segment was full; a new one starts at `base_offset`.
    SegmentRolled { base_offset: u64, segments: u64 },
    /// The cleaner took the log: its dirty ratio was above `min_cleanable_dirty_ratio`.
    CleaningStarted {
        first_dirty: u64,
        first_uncleanable: u64,
        clean_bytes: u64,
        dirty_bytes: u64,
        /// Simulated time the pass takes (bytes to read / cleaner throughput).
        duration_us: u64,
    },
    /// The pass built its offset map over [first_dirty, end) and dropped every record whose key
    /// has a later offset (and every tombstone past its delete horizon).
    RecordsDropped {
        from: u64,
        to: u64,
        keys: u64,
        records: u64,
        bytes: u64,
    },
    /// The cleaned segments replaced the old ones.
    SegmentsSwapped {
        before: u64,
        after: u64,
        /// Segments the whole log holds now.
        segments: u64,
        log_bytes: u64,
    },
    /// Tombstones dropped because `delete_retention_ms` had passed since their first cleaning.
    TombstonesPurged { count: u64 },
    /// Retention deleted the oldest segment; the log now starts at `next_base`.
    SegmentDeleted {
        base_offset: u64,
        next_base: u64,
        records: u64,
        bytes: u64,
        reason: RetentionReason,
        segments: u64,
    },
    /// The node crashed before these appended records were flushed; they are gone.
    UnflushedLost { from: u64, to: u64, segments: u64 },
    /// A follower needed `wanted`, which the leader no longer holds: it emptied its log and
    /// starts again at the leader's log start (Kafka's OFFSET_OUT_OF_RANGE reset).
    OffsetOutOfRange { wanted: u64, log_start: u64 },
    /// The segment count changed otherwise (a follower truncated its log).
    Segments { segments: u64 },
}

impl LogEvent {
    /// The node's segment count after the event, where the event says.
    pub fn segments(&self) -> Option<u64> {
        match *self {
            LogEvent::SegmentRolled { segments, .. }
            | LogEvent::SegmentsSwapped { segments, .. }
            | LogEvent::SegmentDeleted { segments, .. }
            | LogEvent::UnflushedLost { segments, .. }
            | LogEvent::Segments { segments } => Some(segments),
            _ => None,
        }
    }

    pub fn describe(&self, node: impl std::fmt::Display) -> String {
        match *self {
            LogEvent::SegmentRolled {
                base_offset,
                segments,
            } => format!(
                "{node} rolled a new active segment at offset {base_offset} ({segments} segments)"
            ),
            LogEvent::CleaningStarted {
                first_dirty,
                first_uncleanable,
                clean_bytes,
                dirty_bytes,
                duration_us,
            } => {
                let total = (clean_bytes + dirty_bytes).max(1);
                format!(
                    "{node} cleaner started: dirty ratio {:.2} ({dirty_bytes} dirty of {} bytes), \
                     dirty offsets {first_dirty}..{}, takes {} ms",
                    dirty_bytes as f64 / total as f64,
                    clean_bytes + dirty_bytes,
                    first_uncleanable.saturating_sub(1),
                    duration_us as f64 / 1000.0
                )
            }
            LogEvent::RecordsDropped {
                from,
                to,
                keys,
                records,
                bytes,
            } => format!(
                "{node} cleaner: offset map of {keys} keys over {from}..{}; dropped {records} \
                 records ({bytes} bytes), offsets unchanged",
                to.saturating_sub(1)
            ),
            LogEvent::SegmentsSwapped {
                before,
                after,
                segments,
                log_bytes,
            } => format!(
                "{node} cleaner swapped {before} segments for {after} cleaned ones \
                 ({segments} segments, {log_bytes} bytes now)"
            ),
            LogEvent::TombstonesPurged { count } => {
                format!("{node} cleaner purged {count} tombstones past delete_retention_ms")
            }
            LogEvent::SegmentDeleted {
                base_offset,
                next_base,
                records,
                bytes,
                reason,
                segments,
            } => format!(
                "{node} deleted segment {base_offset}..{} ({records} records, {bytes} bytes) \
                 by {}; the log now starts at {next_base} ({segments} segments)",
                next_base.saturating_sub(1),
                reason.as_str()
            ),
            LogEvent::UnflushedLost { from, to, .. } => format!(
                "{node} lost offsets {from}..{to} in the crash: appended but not yet flushed"
            ),
            LogEvent::OffsetOutOfRange { wanted, log_start } => format!(
                "{node} needs offset {wanted} but the leader's log starts at {log_start} \
                 (offset out of range): it empties its log and starts again there"
            ),
            LogEvent::Segments { segments } => format!("{node} holds {segments} segments"),
        }
    }
}
