//! The run report: every metric `capsim run --json` prints. Field names here are the public
//! names (JSON keys, `expect` keys, docs/metrics.md); this struct is the one place they live.

use super::event_log::EventLogReport;
use super::violations::Violations;
use serde::{Serialize, Serializer};

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
    /// Stale reads further behind than the checker's per-key window (`KEEP_PER_KEY` updates):
    /// their depth is a lower bound, so while this is above 0 `max_versions_behind` and
    /// `max_stale_behind_ms` are lower bounds too.
    pub saturated_stale_reads: u64,
    /// `true`, `false`, `"unknown"` (the checker's budget ran out on some key) or `"not_checked"`
    /// (no complete history: none kept, cut at `run.history_limit`, or a live report).
    pub linearizable: Linearizable,
    /// One count per kind of violation (docs/metrics.md defines each).
    pub violations: Violations,
    /// Acknowledged writes gone from every live replica, with nothing that may have overwritten
    /// them left in their place (= `violations.lost_write`).
    pub lost_writes: u64,
    /// Reads that returned a value an acknowledged delete had certainly removed
    /// (= `violations.resurrected`).
    pub resurrected: u64,
    pub max_replication_lag_ms: f64,
    pub max_divergent_keys: u64,
    pub divergent_keys_at_end: u64,
    /// Times a node became leader (leader-based policies); 0 for leaderless ones.
    pub leader_elections: u64,
    /// Highest term in which a leader was elected; above `leader_elections` when some terms
    /// elected nobody (split votes, candidates cut off from a majority).
    pub max_leader_term: u64,
    /// Time from the last heal (the last fault that ended a partition, cut, pause or loss burst,
    /// or restarted a node; 0 without one) until divergent keys last became 0; 0 if that was
    /// before the heal, and `NEVER_CONVERGED_MS` (-1) if keys still diverge at the end.
    pub converged_after_ms: f64,
    /// When that last heal happened; `None` without one, when `converged_after_ms` is simply the
    /// time divergence last ended. Not a JSON field: it only tells the summary how to word it.
    #[serde(skip)]
    pub last_heal_ms: Option<f64>,
    /// What the leaderless policy's repair machinery did (absent for other policies).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leaderless: Option<LeaderlessEvents>,
    pub latency_ms_p50: f64,
    pub latency_ms_p90: f64,
    pub latency_ms_p99: f64,
    pub latency_ms_max: f64,
    /// Log storage: only for policies with a Kafka-style `log` (absent otherwise). Its
    /// `compactions`, `records_removed` and `tombstones_purged` share their names with the
    /// event-log fields below: the two never apply to the same run (different policies).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub log: Option<LogReport>,
    /// Bytes rebuilding Raft nodes received: snapshot chunks and appends carrying entries
    /// (Raft with `snapshot` set, or a wiped disk; absent otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_transferred: Option<u64>,
    /// Event-log fields (docs/metrics.md), each present only where it applies.
    #[serde(flatten)]
    pub event_log: EventLogReport,
    /// 16 hex digits: XXH3-64 of the canonical trace.
    pub trace_hash: String,
    /// Wall-clock time the run took (not deterministic).
    pub wall_ms: f64,
    /// Operations per second of wall time (not deterministic).
    pub ops_per_sec: f64,
}

/// Counts of the leaderless policy's trace notes (docs/metrics.md, "Leaderless repair").
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LeaderlessEvents {
    /// Requests a coordinator refused up front: too few replicas alive for the level.
    pub unavailable: u64,
    /// Times a failure detector convicted a peer.
    pub peers_convicted: u64,
    pub hints_stored: u64,
    pub hints_replayed: u64,
    /// Repair writes sent by reads that found a stale replica.
    pub read_repairs: u64,
    pub tombstones_purged: u64,
    /// Merkle leaves (key ranges) found different by anti-entropy.
    pub ranges_mismatched: u64,
    /// Bytes anti-entropy streamed for differing ranges.
    pub repair_bytes: u64,
    /// Reads answered with the session's own newer version (session guarantees).
    pub session_served: u64,
    /// Cart reads (version vectors) that found more than one sibling.
    pub sibling_reads: u64,
    /// Items a union merge of siblings brought back after a concurrent update removed them.
    pub items_resurrected: u64,
}

impl LeaderlessEvents {
    pub fn count(&mut self, note: &crate::policy::Note) {
        use crate::policy::Note;
        match note {
            Note::Unavailable { .. } => self.unavailable += 1,
            Note::PeerDown { .. } => self.peers_convicted += 1,
            Note::HintStored { .. } => self.hints_stored += 1,
            Note::HintReplayed { .. } => self.hints_replayed += 1,
            Note::ReadRepair { .. } => self.read_repairs += 1,
            Note::TombstonePurged { .. } => self.tombstones_purged += 1,
            Note::RangeMismatch { .. } => self.ranges_mismatched += 1,
            Note::RangeStreamed { bytes, .. } => self.repair_bytes += bytes,
            Note::Siblings { .. } => self.sibling_reads += 1,
            Note::SessionServed { .. } => self.session_served += 1,
            Note::ItemResurrected { .. } => self.items_resurrected += 1,
            _ => {}
        }
    }
}

/// What the data nodes' log storage did, summed over the nodes (docs/metrics.md).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct LogReport {
    /// Cleaning passes completed.
    pub compactions: u64,
    /// Records removed by the cleaner (superseded records and purged tombstones) and by retention.
    pub records_removed: u64,
    pub bytes_removed: u64,
    pub tombstones_purged: u64,
    /// Segments created (what the logs would hold had nothing been cleaned or deleted).
    pub segments_before: u64,
    /// Segments held at the end.
    pub segments_after: u64,
    /// Segments deleted by time or size retention.
    pub segments_deleted: u64,
    /// Simulated time the cleaners spent (`cleaner_bytes_per_ms`).
    pub cleaner_ms: f64,
    /// Records lost because a node crashed before flushing them.
    pub unflushed_lost: u64,
    /// Followers that found the leader no longer held the offset they needed.
    pub offset_out_of_range: u64,
}

/// Fields that depend on the machine, not the scenario: never part of an `expect` block.
pub const WALL_CLOCK_FIELDS: &[&str] = &["wall_ms", "ops_per_sec"];

/// Fields whose value is a boolean or a word (`expect` compares them with `==`/`!=` only).
pub const VERDICT_FIELDS: &[&str] = &["linearizable"];

/// Fields shown only where they apply (absent from `Report::default()`'s JSON).
pub const OPTIONAL_FIELDS: &[&str] = &["bytes_transferred"];

/// `converged_after_ms` when divergent keys remain at the end of the run.
pub const NEVER_CONVERGED_MS: f64 = -1.0;

/// The linearizability verdict. Serialised as JSON `true`/`false`, or the strings `"unknown"` and
/// `"not_checked"`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Linearizable {
    Yes,
    No,
    /// The checker's step budget ran out on some key and no key was found non-linearizable.
    Unknown,
    /// No complete history to check.
    #[default]
    NotChecked,
}

impl Linearizable {
    /// The words `expect` and the CLI use: `true`, `false`, `unknown`, `not_checked`.
    pub fn as_str(self) -> &'static str {
        match self {
            Linearizable::Yes => "true",
            Linearizable::No => "false",
            Linearizable::Unknown => "unknown",
            Linearizable::NotChecked => "not_checked",
        }
    }

    pub const WORDS: [&'static str; 4] = ["true", "false", "unknown", "not_checked"];
}

impl Serialize for Linearizable {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Linearizable::Yes => s.serialize_bool(true),
            Linearizable::No => s.serialize_bool(false),
            other => s.serialize_str(other.as_str()),
        }
    }
}

impl Report {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

/// Every numeric or boolean field (dotted for nested ones, e.g. `violations.stale_read`) and every
/// verdict field that an `expect` block may name.
pub fn expectable_fields() -> Vec<String> {
    let mut out = Vec::new();
    let every = Report {
        leaderless: Some(LeaderlessEvents::default()),
        log: Some(LogReport::default()),
        event_log: EventLogReport::all_fields(),
        ..Report::default()
    };
    leaves("", &every.to_json(), &mut out);
    out.retain(|f| !WALL_CLOCK_FIELDS.contains(&f.as_str()));
    out.extend(VERDICT_FIELDS.iter().map(|f| f.to_string()));
    out.extend(OPTIONAL_FIELDS.iter().map(|f| f.to_string()));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linearizable_is_a_bool_or_a_word() {
        let json = |l: Linearizable| serde_json::to_value(l).unwrap();
        assert_eq!(json(Linearizable::Yes), serde_json::json!(true));
        assert_eq!(json(Linearizable::No), serde_json::json!(false));
        assert_eq!(json(Linearizable::Unknown), serde_json::json!("unknown"));
        assert_eq!(
            json(Linearizable::NotChecked),
            serde_json::json!("not_checked")
        );
    }

    #[test]
    fn violations_and_verdicts_are_expectable_and_wall_time_is_not() {
        let fields = expectable_fields();
        for f in [
            "linearizable",
            "violations.stale_read",
            "violations.election_safety",
            "lost_writes",
            "resurrected",
            "converged_after_ms",
        ] {
            assert!(fields.iter().any(|x| x == f), "{f} in {fields:?}");
        }
        assert!(!fields.iter().any(|x| x == "wall_ms" || x == "ops_per_sec"));
        assert!(
            !fields
                .iter()
                .any(|x| x == "violations" || x == "trace_hash")
        );
        let json = Report::default().to_json();
        assert_eq!(
            field(&json, "violations.lost_write"),
            Some(&serde_json::json!(0))
        );
    }
}
