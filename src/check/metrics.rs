//! Streaming run metrics: counters, latency, stale reads, replication lag and divergence.
//! Memory does not grow with the run length.

use super::event_log::EventLogTracker;
use super::latency::LatencyHistogram;
use super::replicas::ReplicaTracker;
use super::stale::StaleTracker;
use super::violations::{LeaderTerms, Violations};
use crate::policy::Note;

#[derive(Clone, Debug, Default)]
pub struct Metrics {
    pub ops: u64,
    pub reads: u64,
    pub writes: u64,
    pub deletes: u64,
    pub ok: u64,
    pub failed: u64,
    pub unknown: u64,
    pub messages_sent: u64,
    pub messages_dropped: u64,
    pub messages_delivered: u64,
    /// Bit k is set once a message of kind k was sent (the GUI's legend lists only those).
    pub kinds_sent: u64,
    /// Times a node became leader (policies report it with `Note::BecameLeader`).
    pub leader_elections: u64,
    /// Highest term in which a node became leader (0: none).
    pub max_leader_term: u64,
    pub latency: LatencyHistogram,
    pub stale: StaleTracker,
    pub replicas: ReplicaTracker,
    /// Violations found while the run goes on: protocol invariants the policies report, and
    /// election safety (checked from `Note::BecameLeader`).
    pub violations: Violations,
    pub leader_terms: LeaderTerms,
    /// Counts of the leaderless policy's notes (reported for leaderless scenarios only).
    pub leaderless: super::report::LeaderlessEvents,
    /// Log storage counters; `None` until some node reports a log event.
    pub log: Option<super::logstats::LogMetrics>,
    /// Event-log lessons: read-model lag, dual writes vs CDC, rebuilds, erasure.
    pub event_log: EventLogTracker,
    /// Raft snapshots and rebuilds (Raft with `snapshot` set, or any wiped disk).
    pub rebuild: RebuildMetrics,
}

/// Counted from the Raft policy's snapshot and rebuild notes.
#[derive(Clone, Debug, Default)]
pub struct RebuildMetrics {
    /// The run has snapshots configured or wiped a disk: the report shows these fields.
    pub applicable: bool,
    pub snapshots_taken: u64,
    pub rebuilds: u64,
    /// The longest finished rebuild (as the event-log projections report theirs).
    pub rebuild_max_us: u64,
    pub bytes_transferred: u64,
    pub entries_replayed: u64,
}

impl RebuildMetrics {
    pub fn on_note(&mut self, note: &Note) {
        match note {
            Note::SnapshotTaken { .. } => {
                self.applicable = true;
                self.snapshots_taken += 1;
            }
            Note::RebuildFinished {
                took_us,
                bytes,
                entries_replayed,
                ..
            } => {
                self.applicable = true;
                self.rebuilds += 1;
                self.rebuild_max_us = self.rebuild_max_us.max(*took_us);
                self.bytes_transferred += bytes;
                self.entries_replayed += entries_replayed;
            }
            _ => {}
        }
    }
}

impl Metrics {
    pub fn new(nodes: usize) -> Metrics {
        Metrics {
            replicas: ReplicaTracker::new(nodes),
            ..Metrics::default()
        }
    }

    pub fn log_event(&mut self, node: crate::types::NodeId, e: &crate::storage::events::LogEvent) {
        self.log.get_or_insert_default().on_event(node, e);
    }

    pub fn availability(&self) -> f64 {
        if self.ops == 0 {
            1.0
        } else {
            self.ok as f64 / self.ops as f64
        }
    }
}
