//! The summary lines for log storage, event logs, snapshots and erasures: printed only for the
//! fields that apply to the run (the same ones `capsim run --json` shows).

use crate::check::event_log::{EventLogReport, NEVER_ERASED_MS};
use crate::check::report::{LogReport, Report};
use std::io::Write;

pub fn print_log_sections(r: &Report) {
    if let Some(log) = &r.log {
        print_log_storage(log);
    }
    print_event_log(&r.event_log);
    print_snapshots(&r.event_log, r.bytes_transferred);
    print_erasures(&r.event_log);
}

/// The Kafka-style log of the single-leader policy.
fn print_log_storage(l: &LogReport) {
    out!(
        "  log storage: {} compactions, {} records removed ({} bytes), {} tombstones purged",
        l.compactions,
        l.records_removed,
        l.bytes_removed,
        l.tombstones_purged
    );
    out!(
        "    segments {} created, {} at end, {} deleted by retention; cleaners busy {:.1} ms",
        l.segments_before,
        l.segments_after,
        l.segments_deleted,
        l.cleaner_ms
    );
    out!(
        "    records lost unflushed {}  offsets out of range {}",
        l.unflushed_lost,
        l.offset_out_of_range
    );
}

/// The event-sourcing policy: the write side, its read models and indexes, its cleaner.
fn print_event_log(e: &EventLogReport) {
    let Some(appended) = e.events_appended else {
        return;
    };
    out!(
        "  event log: {appended} events appended, {} commands rejected, {} compensating events",
        e.commands_rejected.unwrap_or(0),
        e.compensating_events.unwrap_or(0)
    );
    if let Some(lag) = e.read_model_lag_ms_max {
        out!("    read-model lag: max {lag:.1} ms");
    }
    if let (Some(max), Some(end)) = (e.cdc_divergent_items_max, e.cdc_divergent_items) {
        out!("    read models differing from the write side: max {max}, at end {end}");
    }
    if let (Some(max), Some(end)) = (
        e.dual_write_divergent_items_max,
        e.dual_write_divergent_items,
    ) {
        out!(
            "    dual-written index differing: max {max}, at end {end} ({} index writes lost)",
            e.dual_writes_lost.unwrap_or(0)
        );
    }
    if let Some(n) = e.compactions {
        out!(
            "    compactions {n}: {} records removed, {} tombstones purged",
            e.records_removed.unwrap_or(0),
            e.tombstones_purged.unwrap_or(0)
        );
    }
}

/// Snapshots and rebuilds: the event log's projections, or Raft's state machines.
fn print_snapshots(e: &EventLogReport, bytes_transferred: Option<u64>) {
    let Some(taken) = e.snapshots_taken else {
        return;
    };
    let rebuilt = match e.rebuilds {
        Some(n) => format!(
            "; rebuilds {n} (longest {:.1} ms, {} entries replayed{})",
            e.rebuild_ms.unwrap_or(0.0),
            e.entries_replayed.unwrap_or(0),
            bytes_transferred.map_or(String::new(), |b| format!(", {b} bytes received"))
        ),
        None => String::new(),
    };
    out!("  snapshots: {taken} taken{rebuilt}");
}

fn print_erasures(e: &EventLogReport) {
    if let Some(after) = e.erased_after_ms {
        out!(
            "  erasure by tombstone: lingering copies max {}, at end {}; {}",
            e.lingering_copies_max.unwrap_or(0),
            e.lingering_copies_at_end.unwrap_or(0),
            erased(after)
        );
    }
    if let Some(after) = e.crypto_erased_after_ms {
        out!("  erasure by crypto-shredding: {}", erased(after));
    }
}

fn erased(after_ms: f64) -> String {
    if after_ms == NEVER_ERASED_MS {
        "a copy is still readable at the end".to_string()
    } else {
        format!("erased within {after_ms:.1} ms of the request")
    }
}
