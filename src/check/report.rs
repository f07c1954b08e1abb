//! The run report: every metric `capsim run --json` prints. Field names here are the public
//! names (JSON keys, `expect` keys, docs/metrics.md); this struct is the one place they live.

use serde::Serialize;

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Report {
    pub scenario: String,
    pub seed: u64,
    /// Simulated time at the end of the run (after draining).
    pub sim_time_ms: f64,
    /// Trace events (every send, delivery, drop, timer, operation, fault, note).
    pub events: u64,
    /// Messages put on the wire. A message the network duplicates counts twice: each copy is
    /// delivered or dropped on its own. Once a run has drained, `messages_sent =
    /// messages_delivered + messages_dropped`, except for messages still in flight when
    /// `drain_ms` ran out or waiting at a node that is still paused.
    pub messages_sent: u64,
    /// Every message not delivered: random loss, partitions, crashed receivers (including what
    /// a paused node was holding when it crashed), a paused node's full inbox.
    pub messages_dropped: u64,
    /// Messages a node handled (a paused node's backlog counts when it resumes).
    pub messages_delivered: u64,
    /// Operations invoked; those still pending at the end count as `unknown`.
    pub ops: u64,
    pub reads: u64,
    pub writes: u64,
    pub deletes: u64,
    pub ok: u64,
    /// Definitely not applied (`fail` in the history).
    pub failed: u64,
    /// Outcome unknown (`info` in the history).
    pub unknown: u64,
    /// ok / ops.
    pub availability: f64,
    pub stale_reads: u64,
    /// The most acknowledged updates one stale read missed.
    pub max_versions_behind: u64,
    /// The longest time between a missed update's ack and the stale read's start.
    pub max_stale_behind_ms: f64,
    pub max_replication_lag_ms: f64,
    pub max_divergent_keys: u64,
    pub divergent_keys_at_end: u64,
    pub latency_ms_p50: f64,
    pub latency_ms_p90: f64,
    pub latency_ms_p99: f64,
    pub latency_ms_max: f64,
    /// 16 hex digits: XXH3-64 of the canonical trace.
    pub trace_hash: String,
    /// Wall-clock time the run took (not deterministic).
    pub wall_ms: f64,
    /// Operations per second of wall time (not deterministic).
    pub ops_per_sec: f64,
}

/// Fields that depend on the machine, not the scenario: never part of an `expect` block.
pub const WALL_CLOCK_FIELDS: &[&str] = &["wall_ms", "ops_per_sec"];

impl Report {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

/// Every numeric or boolean field (dotted for nested ones) that an `expect` block may name.
pub fn expectable_fields() -> Vec<String> {
    let mut out = Vec::new();
    leaves("", &Report::default().to_json(), &mut out);
    out.retain(|f| !WALL_CLOCK_FIELDS.contains(&f.as_str()));
    out
}

fn leaves(prefix: &str, v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                leaves(&p, v, out);
            }
        }
        serde_json::Value::Number(_) | serde_json::Value::Bool(_) => out.push(prefix.to_string()),
        _ => {}
    }
}

/// Looks up a dotted field in a report's JSON.
pub fn field<'a>(json: &'a serde_json::Value, path: &str) -> Option<&'a serde_json::Value> {
    path.split('.').try_fold(json, |v, seg| v.get(seg))
}
