//! A read-only view of everything a viewer needs: nodes and their state, messages in flight,
//! client operations in progress, recent events, and the run's report.

use super::node::NodeStatus;
use super::{Engine, Event};
use crate::check::report::{Linearizable, Report};
use crate::check::violations::{ViolationKind, Violations};
use crate::policy::{NodeView, Policy, StoredValue};
use crate::trace::Stamped;
use crate::types::{Key, NodeId, OpKind, SimTime, ValueId};

#[derive(Clone, Debug, PartialEq)]
pub struct NodeInfo {
    pub id: NodeId,
    pub status: NodeStatus,
    pub protocol: NodeView,
    pub skew_us: i64,
    pub drift_ppm: i64,
    pub local_time_us: u64,
    /// Current replication lag (see README: Metrics).
    pub lag_us: u64,
    /// Items waiting while the node is paused.
    pub inbox: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageInfo {
    pub id: u64,
    pub from: NodeId,
    pub to: NodeId,
    pub kind: &'static str,
    pub sent: SimTime,
    pub arrives: SimTime,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpInfo {
    pub id: u64,
    pub process: u64,
    pub kind: OpKind,
    pub key: Key,
    pub value: Option<ValueId>,
    pub node: NodeId,
    pub invoked: SimTime,
}

impl<P: Policy> Engine<P> {
    pub fn node_info(&self, id: NodeId) -> NodeInfo {
        let n = &self.nodes[id.index()];
        NodeInfo {
            id,
            status: n.status,
            protocol: n.policy.view(),
            skew_us: n.clock.skew_us,
            drift_ppm: n.clock.drift_ppm,
            local_time_us: n.clock.local_us(self.now),
            lag_us: self.metrics.replicas.lag_us(id, self.now),
            inbox: n.inbox.len(),
        }
    }

    pub fn nodes_info(&self) -> Vec<NodeInfo> {
        (0..self.nodes.len() as u16)
            .map(|i| self.node_info(NodeId(i)))
            .collect()
    }

    /// A node's policy state machine, read-only (for inspectors and tests).
    pub fn policy(&self, id: NodeId) -> &P {
        &self.nodes[id.index()].policy
    }

    /// The values a node stores (for the key-value inspector).
    pub fn stored(&self, id: NodeId) -> Vec<StoredValue> {
        let mut out = Vec::new();
        self.nodes[id.index()].policy.stored(&mut out);
        out
    }

    /// Messages on the wire, ordered by arrival time then id.
    pub fn messages(&self) -> Vec<MessageInfo> {
        let mut out: Vec<MessageInfo> = self
            .queue
            .iter()
            .filter_map(|(at, e)| match e {
                Event::Deliver {
                    from,
                    to,
                    msg,
                    sent,
                    id,
                } => Some(MessageInfo {
                    id: *id,
                    from: *from,
                    to: *to,
                    kind: P::KINDS
                        .get(crate::policy::Message::kind(msg) as usize)
                        .copied()
                        .unwrap_or("?"),
                    sent: *sent,
                    arrives: at,
                }),
                _ => None,
            })
            .collect();
        out.sort_by_key(|m| (m.arrives, m.id));
        out
    }

    pub fn ops_in_progress(&self) -> Vec<OpInfo> {
        self.work
            .in_progress()
            .map(|s| OpInfo {
                id: s.id,
                process: s.process,
                kind: s.kind,
                key: s.key,
                value: s.value,
                node: s.node,
                invoked: s.invoked,
            })
            .collect()
    }

    /// Every blocked direction (from, to), sorted and without repeats (for drawing cut links).
    pub fn blocked_links(&self) -> Vec<(NodeId, NodeId)> {
        let n = self.nodes.len() as u16;
        let mut out = Vec::new();
        for a in (0..n).map(NodeId) {
            for b in (0..n).map(NodeId) {
                if a != b && self.net.is_blocked(a, b) {
                    out.push((a, b));
                }
            }
        }
        out
    }

    /// The active cuts: id (for `Fault::Unblock`) and the directions each one blocks.
    pub fn cuts(&self) -> Vec<(u32, Vec<(NodeId, NodeId)>)> {
        self.net.cuts().map(|(id, p)| (id, p.to_vec())).collect()
    }

    pub fn recent_events(&self) -> impl Iterator<Item = &Stamped> {
        self.tracer.recent().iter()
    }

    /// The report so far (final once the run is done). `wall_ms` is supplied by the caller,
    /// because the core never reads a wall clock.
    pub fn report(&self, wall_ms: f64) -> Report {
        let m = &self.metrics;
        let ms = |us: u64| us as f64 / 1000.0;
        let rb = &m.rebuild;
        Report {
            scenario: self.scenario.title.clone(),
            seed: self.scenario.seed,
            sim_time_ms: self.now.as_ms(),
            events: self.tracer.events(),
            messages_sent: m.messages_sent,
            messages_dropped: m.messages_dropped,
            messages_delivered: m.messages_delivered,
            ops: m.ops,
            reads: m.reads,
            writes: m.writes,
            deletes: m.deletes,
            ok: m.ok,
            failed: m.failed,
            unknown: m.unknown + self.work.in_flight as u64,
            availability: m.availability(),
            stale_reads: m.stale.count,
            max_versions_behind: m.stale.max_versions_behind,
            max_stale_behind_ms: m.stale.max_behind_ms,
            saturated_stale_reads: m.stale.saturated,
            // The history checks run once the run is over (`Sim::final_report`).
            linearizable: Linearizable::NotChecked,
            violations: self.streaming_violations(),
            lost_writes: 0,
            resurrected: 0,
            max_replication_lag_ms: ms(m.replicas.max_lag_until(self.now)),
            max_divergent_keys: m.replicas.max_divergent,
            divergent_keys_at_end: m.replicas.divergent_now,
            leader_elections: m.leader_elections,
            max_leader_term: m.max_leader_term,
            converged_after_ms: m.replicas.converged_after_ms(self.last_heal()),
            last_heal_ms: self.healed().then(|| ms(self.last_heal().0)),
            leaderless: matches!(
                self.scenario.policy,
                crate::scenario::schema::PolicySpec::Leaderless(_)
            )
            .then(|| m.leaderless.clone()),
            latency_ms_p50: ms(m.latency.quantile_us(0.5)),
            latency_ms_p90: ms(m.latency.quantile_us(0.9)),
            latency_ms_p99: ms(m.latency.quantile_us(0.99)),
            latency_ms_max: ms(m.latency.quantile_us(1.0)),
            log: m.log.as_ref().map(|l| l.report()),
            bytes_transferred: rb.applicable.then_some(rb.bytes_transferred),
            event_log: self.log_lifecycle_report(),
            trace_hash: crate::trace::format_hash(self.tracer.hash()),
            wall_ms,
            ops_per_sec: if wall_ms > 0.0 {
                m.ops as f64 / (wall_ms / 1000.0)
            } else {
                0.0
            },
        }
    }
}

impl<P: Policy> Engine<P> {
    /// The log-lifecycle fields: the event-log policy's, with the Raft snapshot and rebuild
    /// counts under the same names (`snapshots_taken`, `rebuilds`, `rebuild_ms`,
    /// `entries_replayed`) when Raft snapshots or wiped disks apply. No run has both.
    fn log_lifecycle_report(&self) -> crate::check::event_log::EventLogReport {
        let mut r = self.metrics.event_log.report();
        let rb = &self.metrics.rebuild;
        if rb.applicable {
            r.snapshots_taken = Some(rb.snapshots_taken);
            r.rebuilds = Some(rb.rebuilds);
            r.rebuild_ms = Some(rb.rebuild_max_us as f64 / 1000.0);
            r.entries_replayed = Some(rb.entries_replayed);
        }
        r
    }

    /// The violation counts known while the run goes on: stale reads and what the policies and
    /// the election-safety check reported.
    pub fn streaming_violations(&self) -> Violations {
        let mut v = self.metrics.violations.clone();
        v.set(ViolationKind::StaleRead, self.metrics.stale.count);
        v
    }
}
