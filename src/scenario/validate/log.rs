//! Checks of a single-leader policy's `log` settings.

use super::{R, V, num};
use crate::scenario::limits::MAX_DURATION_MS;
use crate::scenario::schema::{Cleanup, LogSpec};

/// Largest segment, log or record size a scenario may name (1 TiB).
const MAX_BYTES: u64 = 1 << 40;

pub(super) fn log_spec(v: &V, l: &LogSpec) -> R {
    let p = |f: &str| format!("policy.log.{f}");
    v.check(
        l.segment_entries <= 10_000_000,
        p("segment_entries"),
        "must be at most 10000000",
    )?;
    v.check(
        l.segment_bytes <= MAX_BYTES,
        p("segment_bytes"),
        format!("must be at most {MAX_BYTES}"),
    )?;
    v.check(
        l.value_bytes <= 1 << 20,
        p("value_bytes"),
        "must be at most 1048576",
    )?;
    v.check(
        l.segment_entries > 0 || l.segment_bytes > 0,
        p("segment_entries"),
        "set segment_entries or segment_bytes: without a limit every record stays in the active \
         segment, which the cleaner and retention never touch",
    )?;
    v.positive_ms(
        &p("cleaner_interval_ms"),
        l.cleaner_interval_ms,
        MAX_DURATION_MS,
    )?;
    v.check(
        l.cleaner_bytes_per_ms.is_finite() && (0.0..=1e12).contains(&l.cleaner_bytes_per_ms),
        p("cleaner_bytes_per_ms"),
        format!("{} must be between 0 and 1e12", num(l.cleaner_bytes_per_ms)),
    )?;
    v.probability(&p("min_cleanable_dirty_ratio"), l.min_cleanable_dirty_ratio)?;
    v.ms(
        &p("min_compaction_lag_ms"),
        l.min_compaction_lag_ms,
        MAX_DURATION_MS,
    )?;
    v.ms(
        &p("delete_retention_ms"),
        l.delete_retention_ms,
        MAX_DURATION_MS,
    )?;
    retention(v, l)?;
    if let Some(n) = l.flush_entries {
        v.check(n >= 1, p("flush_entries"), "must be at least 1")?;
    }
    if let Some(ms) = l.flush_interval_ms {
        v.positive_ms(&p("flush_interval_ms"), ms, MAX_DURATION_MS)?;
    }
    Ok(())
}

fn retention(v: &V, l: &LogSpec) -> R {
    let compact = l.cleanup == Cleanup::Compact;
    if let Some(ms) = l.retention_ms {
        v.check(
            !compact,
            "policy.log.retention_ms",
            "applies to cleanup: Delete only (a compacted log keeps the latest record of every key)",
        )?;
        v.positive_ms("policy.log.retention_ms", ms, MAX_DURATION_MS)?;
    }
    if let Some(b) = l.retention_bytes {
        v.check(
            !compact,
            "policy.log.retention_bytes",
            "applies to cleanup: Delete only (a compacted log keeps the latest record of every key)",
        )?;
        v.check(
            (1..=MAX_BYTES).contains(&b),
            "policy.log.retention_bytes",
            format!("must be between 1 and {MAX_BYTES}"),
        )?;
    }
    Ok(())
}
