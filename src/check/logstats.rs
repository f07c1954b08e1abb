//! Log storage counters (compaction, retention, flush loss), from the policies' `Note::Storage`.

use super::report::LogReport;
use crate::storage::events::LogEvent;
use crate::types::NodeId;

#[derive(Clone, Debug, Default)]
pub struct LogMetrics {
    report: LogReport,
    /// Per node that reported: (segments ever created, segments held now).
    segments: Vec<Option<(u64, u64)>>,
}

impl LogMetrics {
    pub fn on_event(&mut self, node: NodeId, e: &LogEvent) {
        let r = &mut self.report;
        match *e {
            LogEvent::CleaningStarted { duration_us, .. } => {
                r.cleaner_ms += duration_us as f64 / 1000.0;
            }
            LogEvent::RecordsDropped { records, bytes, .. } => {
                r.compactions += 1;
                r.records_removed += records;
                r.bytes_removed += bytes;
            }
            LogEvent::TombstonesPurged { count } => r.tombstones_purged += count,
            LogEvent::SegmentDeleted { records, bytes, .. } => {
                r.segments_deleted += 1;
                r.records_removed += records;
                r.bytes_removed += bytes;
            }
            LogEvent::UnflushedLost { from, to, .. } => r.unflushed_lost += to + 1 - from,
            LogEvent::OffsetOutOfRange { .. } => r.offset_out_of_range += 1,
            _ => {}
        }
        if let Some(now) = e.segments() {
            let i = node.index();
            if self.segments.len() <= i {
                self.segments.resize(i + 1, None);
            }
            let (created, _) = self.segments[i].unwrap_or((1, 1));
            let rolled = matches!(e, LogEvent::SegmentRolled { .. }) as u64;
            self.segments[i] = Some((created + rolled, now));
        }
    }

    pub fn report(&self) -> LogReport {
        let mut r = self.report;
        r.segments_before = self.segments.iter().flatten().map(|s| s.0).sum();
        r.segments_after = self.segments.iter().flatten().map(|s| s.1).sum();
        r
    }
}
