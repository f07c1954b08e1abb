//! Each data node's log storage, Kafka style: appends that roll segments, a cleaner that runs
//! on a timer (compaction, or retention for `cleanup: Delete`), flushes, and what a crash of
//! the machine loses. Every step is a `Note::Storage` for the trace and the report.
//!
//! Each replica cleans its own log on its own clock, as Kafka's brokers do; so the leader's and
//! the followers' logs have different gaps, and a follower copies the gaps the leader's log has
//! when it fetches. Only offsets at or below the node's high watermark are cleaned or deleted.
//! Record timestamps are the local append time on each replica.

use super::{Entry, LeaderTimer, SCtx, SingleLeader};
use crate::policy::Note;
use crate::scenario::schema::{Cleanup, LogSpec};
use crate::storage::compaction::pick_dirtiest;
use crate::storage::events::LogEvent;
use crate::storage::retention::Retention;
use crate::storage::segment::{LogLayout, LogRecord};
use crate::types::{Key, ms_to_us};

impl LogRecord for Entry {
    fn offset(&self) -> u64 {
        self.index
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

/// The `log` settings in engine units.
#[derive(Clone, Debug, PartialEq)]
pub struct LogConfig {
    pub layout: LogLayout,
    pub cleanup: Cleanup,
    pub cleaner_interval_us: u64,
    /// 0: a pass takes no simulated time.
    pub cleaner_bytes_per_ms: f64,
    pub min_cleanable_dirty_ratio: f64,
    pub min_compaction_lag_us: u64,
    pub delete_retention_us: u64,
    pub retention: Retention,
    pub flush_entries: Option<u64>,
    pub flush_interval_us: Option<u64>,
}

impl LogConfig {
    pub fn from_spec(l: &LogSpec) -> LogConfig {
        LogConfig {
            layout: LogLayout {
                segment_entries: l.segment_entries,
                segment_bytes: l.segment_bytes,
                value_bytes: l.value_bytes,
            },
            cleanup: l.cleanup,
            cleaner_interval_us: ms_to_us(l.cleaner_interval_ms).max(1),
            cleaner_bytes_per_ms: l.cleaner_bytes_per_ms,
            min_cleanable_dirty_ratio: l.min_cleanable_dirty_ratio,
            min_compaction_lag_us: ms_to_us(l.min_compaction_lag_ms),
            delete_retention_us: ms_to_us(l.delete_retention_ms),
            retention: Retention {
                retention_us: l.retention_ms.map(ms_to_us),
                retention_bytes: l.retention_bytes,
            },
            flush_entries: l.flush_entries,
            flush_interval_us: l.flush_interval_ms.map(|ms| ms_to_us(ms).max(1)),
        }
    }

    /// With neither flush setting, every append is on disk at once.
    fn flush_each_append(&self) -> bool {
        self.flush_entries.is_none() && self.flush_interval_us.is_none()
    }
}

impl SingleLeader {
    /// The last offset this node knows to be committed (its high watermark).
    fn committed(&self) -> u64 {
        match &self.lead {
            Some(l) => l.hw,
            None => self.follow.hw,
        }
    }

    /// Appends a record to the log, noting a segment roll and flushing as configured.
    pub(super) fn append_entry(&mut self, ctx: &mut SCtx<'_>, e: Entry) {
        let rolled = self.log.append(e, ctx.local_now_us);
        let Some(cfg) = &self.config.log else {
            self.log.flush();
            return;
        };
        let by_count = cfg.flush_entries.is_some_and(|n| self.log.unflushed() >= n);
        if cfg.flush_each_append() || by_count {
            self.log.flush();
        }
        if rolled {
            let segments = self.log.segment_count() as u64;
            self.log_note(
                ctx,
                LogEvent::SegmentRolled {
                    base_offset: e.index,
                    segments,
                },
            );
        }
    }

    pub(super) fn log_note(&mut self, ctx: &mut SCtx<'_>, e: LogEvent) {
        if let Some(s) = e.segments() {
            self.reported_segments = s;
        }
        ctx.note(Note::Storage(e));
    }

    /// Notes a segment count changed by truncation, so the report's count stays exact.
    pub(super) fn note_segments(&mut self, ctx: &mut SCtx<'_>) {
        let segments = self.log.segment_count() as u64;
        if self.config.log.is_some() && segments != self.reported_segments {
            self.log_note(ctx, LogEvent::Segments { segments });
        }
    }

    pub(super) fn start_storage_timers(&mut self, ctx: &mut SCtx<'_>) {
        if let Some(cfg) = &self.config.log {
            ctx.set_timer(cfg.cleaner_interval_us, LeaderTimer::Cleaner);
            if let Some(us) = cfg.flush_interval_us {
                ctx.set_timer(us, LeaderTimer::Flush);
            }
        }
        self.report_crash_loss(ctx);
    }

    pub(super) fn on_flush_timer(&mut self, ctx: &mut SCtx<'_>) {
        self.log.flush();
        if let Some(us) = self.config.log.as_ref().and_then(|c| c.flush_interval_us) {
            ctx.set_timer(us, LeaderTimer::Flush);
        }
    }

    /// The cleaner's periodic look at the log.
    pub(super) fn on_cleaner_timer(&mut self, ctx: &mut SCtx<'_>) {
        let Some(cfg) = self.config.log.clone() else {
            return;
        };
        ctx.set_timer(cfg.cleaner_interval_us, LeaderTimer::Cleaner);
        match cfg.cleanup {
            Cleanup::Delete => self.apply_retention(ctx, &cfg),
            Cleanup::Compact if self.cleaning_until.is_none() => {
                self.maybe_start_cleaning(ctx, &cfg)
            }
            Cleanup::Compact => {}
        }
    }

    fn apply_retention(&mut self, ctx: &mut SCtx<'_>, cfg: &LogConfig) {
        let committed = self.committed();
        let deleted = self
            .log
            .apply_retention(cfg.retention, ctx.local_now_us, committed);
        let mut segments = self.log.segment_count() as u64 + deleted.len() as u64;
        for d in deleted {
            segments -= 1;
            self.log_note(
                ctx,
                LogEvent::SegmentDeleted {
                    base_offset: d.base_offset,
                    next_base: d.next_base,
                    records: d.records,
                    bytes: d.bytes,
                    reason: d.reason,
                    segments,
                },
            );
        }
    }

    fn maybe_start_cleaning(&mut self, ctx: &mut SCtx<'_>, cfg: &LogConfig) {
        let now = ctx.local_now_us;
        let c = self
            .log
            .cleanable(now, self.committed(), cfg.min_compaction_lag_us);
        // One partition per node: the cleaner's choice among logs is this one or none.
        if pick_dirtiest(&[c.dirty_ratio()], cfg.min_cleanable_dirty_ratio).is_none() {
            return;
        }
        let bytes = c.clean_bytes + c.dirty_bytes;
        let duration_us = if cfg.cleaner_bytes_per_ms > 0.0 {
            (bytes as f64 / cfg.cleaner_bytes_per_ms * 1000.0).ceil() as u64
        } else {
            0
        };
        self.log_note(
            ctx,
            LogEvent::CleaningStarted {
                first_dirty: c.first_dirty,
                first_uncleanable: c.first_uncleanable,
                clean_bytes: c.clean_bytes,
                dirty_bytes: c.dirty_bytes,
                duration_us,
            },
        );
        self.cleaning_until = Some(c.first_uncleanable);
        if duration_us == 0 {
            self.finish_cleaning(ctx);
        } else {
            ctx.set_timer(duration_us, LeaderTimer::CleanerDone);
        }
    }

    /// The pass is done: rewrite and swap (against the log as it is now, bounded by where the
    /// pass began, since appends and truncations may have happened meanwhile).
    pub(super) fn finish_cleaning(&mut self, ctx: &mut SCtx<'_>) {
        let (Some(bound), Some(cfg)) = (self.cleaning_until.take(), self.config.log.clone()) else {
            return;
        };
        let now = ctx.local_now_us;
        let mut c = self
            .log
            .cleanable(now, self.committed(), cfg.min_compaction_lag_us);
        c.first_uncleanable = c.first_uncleanable.min(bound).max(c.first_dirty);
        let r = self.log.clean(c, now, cfg.delete_retention_us);
        self.log_note(
            ctx,
            LogEvent::RecordsDropped {
                from: r.from,
                to: r.to,
                keys: r.keys,
                records: r.records_removed,
                bytes: r.bytes_removed,
            },
        );
        let segments = self.log.segment_count() as u64;
        let log_bytes = self.log.bytes();
        self.log_note(
            ctx,
            LogEvent::SegmentsSwapped {
                before: r.segments_before,
                after: r.segments_after,
                segments,
                log_bytes,
            },
        );
        if r.tombstones_purged > 0 {
            let count = r.tombstones_purged;
            self.log_note(ctx, LogEvent::TombstonesPurged { count });
        }
    }

    /// The machine crashed: records not flushed are gone, and so is what the state derived from
    /// them. Reported when the node starts again.
    pub(super) fn lose_unflushed(&mut self) {
        self.cleaning_until = None;
        let lost = self.log.lose_unflushed();
        if lost.is_empty() {
            return;
        }
        self.rebuild_kv();
        self.lost_in_crash = lost;
    }

    fn report_crash_loss(&mut self, ctx: &mut SCtx<'_>) {
        let lost = std::mem::take(&mut self.lost_in_crash);
        let (Some(first), Some(last)) = (lost.first(), lost.last()) else {
            return;
        };
        let segments = self.log.segment_count() as u64;
        self.log_note(
            ctx,
            LogEvent::UnflushedLost {
                from: first.index,
                to: last.index,
                segments,
            },
        );
        let mut keys: Vec<Key> = lost.iter().map(|e| e.key).collect();
        keys.sort_unstable();
        keys.dedup();
        for key in keys {
            match self.kv.get(key) {
                Some(c) => ctx.applied(key, c.value, c.version),
                None => ctx.applied(key, None, crate::types::Version::default()),
            }
        }
        if self.config.controller.is_none() && self.config.leader == self.me {
            // Offsets we had handed out are gone, and we are about to write them again: a new
            // epoch, so followers holding the old entries see they differ (Kafka's controller
            // bumps the leader epoch whenever it makes a restarted broker leader again).
            self.epoch += 1;
        }
    }

    /// The key-value state is derived from the log: rebuild it.
    pub(super) fn rebuild_kv(&mut self) {
        self.kv.clear();
        for e in self.log.iter() {
            self.kv.put(e.key, e.value, e.version());
        }
    }
}

impl SingleLeader {
    /// The inspector's lines about the log.
    pub(super) fn describe_log(&self, details: &mut Vec<(&'static str, String)>) {
        let log = &self.log;
        details.push(("log start offset", log.first_index().to_string()));
        details.push(("records held", log.len().to_string()));
        details.push(("log bytes", log.bytes().to_string()));
        let bases: Vec<String> = log
            .segments()
            .iter()
            .map(|s| format!("{}({})", s.base_offset, s.records.len()))
            .collect();
        details.push(("segments (base offset(records))", bases.join(" ")));
        details.push(("first dirty offset", log.first_dirty().to_string()));
        details.push(("unflushed records", log.unflushed().to_string()));
    }
}
