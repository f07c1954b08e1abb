//! Checks of the `EventLog` policy's settings.

use super::{R, V};
use crate::scenario::limits::*;
use crate::scenario::schema::*;

/// Most projections listed, mistakes and erasure requests (each is a timer or a role).
pub const MAX_EVENT_LOG_ENTRIES: usize = 256;

pub(super) fn check(v: &V, e: &EventLogSpec) -> R {
    let writer = v.node("policy.writer", &e.writer)?;
    v.positive_ms(
        "policy.poll_interval_ms",
        e.poll_interval_ms,
        MAX_DURATION_MS,
    )?;
    v.check(
        (1..=10_000).contains(&e.fetch_max),
        "policy.fetch_max",
        "must be between 1 and 10000",
    )?;
    if let Some(index) = &e.dual_write_index {
        let id = v.node("policy.dual_write_index", index)?;
        v.check(
            id != writer,
            "policy.dual_write_index",
            "must be another node than the writer",
        )?;
    }
    v.ms(
        "policy.dual_write_delay_ms",
        e.dual_write_delay_ms,
        MAX_DURATION_MS,
    )?;
    v.ms("policy.review_delay_ms", e.review_delay_ms, MAX_DURATION_MS)?;
    v.positive_ms(
        "policy.compaction_interval_ms",
        e.compaction_interval_ms,
        MAX_DURATION_MS,
    )?;
    v.ms(
        "policy.min_compaction_lag_ms",
        e.min_compaction_lag_ms,
        MAX_DURATION_MS,
    )?;
    v.ms(
        "policy.delete_retention_ms",
        e.delete_retention_ms,
        MAX_DURATION_MS,
    )?;
    v.check(
        e.segment_entries >= 1,
        "policy.segment_entries",
        "must be at least 1",
    )?;
    lists(v, e, writer)
}

fn lists(v: &V, e: &EventLogSpec, writer: crate::types::NodeId) -> R {
    for (name, len) in [
        ("projections", e.projections.len()),
        ("mistakes", e.mistakes.len()),
        ("erasures", e.erasures.len()),
        ("log_replicas", e.log_replicas.len()),
    ] {
        v.check(
            len <= MAX_EVENT_LOG_ENTRIES,
            format!("policy.{name}"),
            format!("{len} entries; the limit is {MAX_EVENT_LOG_ENTRIES}"),
        )?;
    }
    for (i, p) in e.projections.iter().enumerate() {
        let path = format!("policy.projections[{i}]");
        let id = v.node(&format!("{path}.node"), &p.node)?;
        v.check(
            id != writer,
            format!("{path}.node"),
            "the writer is not a projection",
        )?;
        if let Some(ms) = p.poll_interval_ms {
            v.positive_ms(&format!("{path}.poll_interval_ms"), ms, MAX_DURATION_MS)?;
        }
    }
    let mut projections = Vec::new();
    for p in &e.projections {
        projections.extend(crate::types::NodeId::parse(&p.node));
    }
    for (i, r) in e.log_replicas.iter().enumerate() {
        let path = format!("policy.log_replicas[{i}]");
        let id = v.node(&format!("{path}.node"), &r.node)?;
        let index = e
            .dual_write_index
            .as_deref()
            .and_then(crate::types::NodeId::parse);
        v.check(
            id != writer && Some(id) != index && !projections.contains(&id),
            format!("{path}.node"),
            "a log replica cannot also be the writer, the dual-write index or a projection",
        )?;
        if let Some(ms) = r.poll_interval_ms {
            v.positive_ms(&format!("{path}.poll_interval_ms"), ms, MAX_DURATION_MS)?;
        }
    }
    for (i, m) in e.mistakes.iter().enumerate() {
        v.ms(
            &format!("policy.mistakes[{i}].at_ms"),
            m.at_ms,
            MAX_DURATION_MS,
        )?;
    }
    for (i, x) in e.erasures.iter().enumerate() {
        v.ms(
            &format!("policy.erasures[{i}].at_ms"),
            x.at_ms,
            MAX_DURATION_MS,
        )?;
    }
    Ok(())
}
