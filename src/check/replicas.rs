//! Replication lag and divergence, maintained incrementally from the values replicas report.
//!
//! *Replication lag* of a replica at time t: t minus the acknowledgement time of the oldest
//! acknowledged write that the replica has not yet applied (or superseded with a newer version);
//! 0 when it has them all. The maximum over a run is reached just before such a write is applied,
//! so we only need to look at the moment each pending write is cleared (and at the end).
//!
//! *Divergent keys*: keys whose live replicas hold different values. `converged_at_us` is when
//! their number last fell to 0 (0 if it never rose).

use super::report::NEVER_CONVERGED_MS;
use crate::types::{Key, NodeId, SimTime, ValueId, Version};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Held {
    value: Option<ValueId>,
    version: Version,
}

#[derive(Clone, Debug, Default)]
pub struct ReplicaTracker {
    nodes: usize,
    /// `held[key * nodes + node]`: key-major, so one key's replicas share a cache line.
    held: Vec<Held>,
    /// `pending[key * nodes + node]`: acknowledged (version, ack time) not yet at that replica.
    pending: Vec<Vec<(Version, u64)>>,
    /// Bit n set = node n is up. Bit masks (clusters have at most `MAX_NODES` = 64 nodes) keep
    /// the per-write bookkeeping to a few word operations.
    live: u64,
    /// Replicas of each key as a node bit mask (0 = not known yet).
    replicas: Vec<u64>,
    divergent: Vec<bool>,
    pub divergent_now: u64,
    pub max_divergent: u64,
    /// When `divergent_now` last fell to 0 (µs).
    pub converged_at_us: u64,
    pub max_lag_us: u64,
}

/// Node indices of the set bits of `mask`, lowest first.
fn nodes_of(mut mask: u64) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        (mask != 0).then(|| {
            let n = mask.trailing_zeros() as usize;
            mask &= mask - 1;
            n
        })
    })
}

fn bit(node: NodeId) -> u64 {
    debug_assert!(node.0 < crate::scenario::limits::MAX_NODES);
    1u64 << (node.0 % 64)
}

impl ReplicaTracker {
    pub fn new(nodes: usize) -> ReplicaTracker {
        ReplicaTracker {
            nodes,
            live: (0..nodes as u16).fold(0, |m, n| m | bit(NodeId(n))),
            ..ReplicaTracker::default()
        }
    }

    /// Whether the replica set of `key` is known yet; the engine supplies it with `set_replicas`.
    pub fn knows_replicas(&self, key: Key) -> bool {
        self.replicas.get(key as usize).is_some_and(|r| *r != 0)
    }

    pub fn set_replicas(&mut self, key: Key, nodes: &[NodeId]) {
        let i = key as usize;
        if i >= self.replicas.len() {
            self.replicas.resize(i + 1, 0);
            self.divergent.resize(i + 1, false);
        }
        let valid = nodes.iter().filter(|n| n.index() < self.nodes);
        self.replicas[i] = valid.fold(0, |m, n| m | bit(*n));
        self.grow_to(key);
    }

    fn grow_to(&mut self, key: Key) {
        let cells = (key as usize + 1) * self.nodes;
        if self.held.len() < cells {
            self.held.resize(cells, Held::default());
            self.pending.resize(cells, Vec::new());
        }
    }

    fn cell(&self, node: NodeId, key: Key) -> usize {
        key as usize * self.nodes + node.index()
    }

    /// A replica now stores `value` at `version` for `key`.
    #[inline]
    pub fn on_applied(
        &mut self,
        node: NodeId,
        key: Key,
        value: Option<ValueId>,
        version: Version,
        now: SimTime,
    ) {
        self.grow_to(key);
        let i = self.cell(node, key);
        self.held[i] = Held { value, version };
        if !self.pending[i].is_empty() {
            self.clear_pending(i, version, now);
        }
        self.update_divergence(key, now);
    }

    fn clear_pending(&mut self, cell: usize, version: Version, now: SimTime) {
        let mut max_lag = self.max_lag_us;
        self.pending[cell].retain(|(v, ack)| {
            let covered = *v <= version;
            if covered {
                max_lag = max_lag.max(now.0.saturating_sub(*ack));
            }
            !covered
        });
        self.max_lag_us = max_lag;
    }

    /// A write to `key` at `version` was acknowledged to its client at `now`.
    #[inline]
    pub fn on_acked(&mut self, key: Key, version: Version, now: SimTime) {
        let Some(&replicas) = self.replicas.get(key as usize) else {
            return;
        };
        let base = key as usize * self.nodes;
        for r in nodes_of(replicas) {
            if self.held[base + r].version < version {
                self.pending[base + r].push((version, now.0));
            }
        }
    }

    /// A node crashed (false) or came back (true): divergence is over live replicas only.
    pub fn set_live(&mut self, node: NodeId, live: bool, now: SimTime) {
        if (self.live & bit(node) != 0) == live {
            return;
        }
        self.live ^= bit(node);
        for key in 0..self.replicas.len() as Key {
            if self.replicas[key as usize] & bit(node) != 0 {
                self.update_divergence(key, now);
            }
        }
    }

    /// A node lost its disk: it holds nothing any more (divergence counts it once it is live).
    pub fn forget_node(&mut self, node: NodeId, now: SimTime) {
        for key in 0..self.replicas.len() as Key {
            if (key as usize + 1) * self.nodes <= self.held.len() {
                let i = self.cell(node, key);
                self.held[i] = Held::default();
                self.pending[i].clear();
                self.update_divergence(key, now);
            }
        }
    }

    /// The nodes that should hold `key` (empty if unknown).
    pub fn replicas_of(&self, key: Key) -> Vec<NodeId> {
        let mask = self.replicas.get(key as usize).copied().unwrap_or(0);
        nodes_of(mask).map(|n| NodeId(n as u16)).collect()
    }

    /// Whether `node` is up (not crashed), as far as divergence is concerned.
    pub fn is_live(&self, node: NodeId) -> bool {
        node.index() < self.nodes && self.live & bit(node) != 0
    }

    #[inline]
    fn update_divergence(&mut self, key: Key, now: SimTime) {
        let Some(&replicas) = self.replicas.get(key as usize) else {
            return;
        };
        let base = key as usize * self.nodes;
        let mut live = nodes_of(replicas & self.live).map(|r| self.held[base + r].value);
        let differs = live.next().is_some_and(|first| live.any(|v| v != first));
        let was = std::mem::replace(&mut self.divergent[key as usize], differs);
        if differs && !was {
            self.divergent_now += 1;
            self.max_divergent = self.max_divergent.max(self.divergent_now);
        } else if was && !differs {
            self.divergent_now -= 1;
            if self.divergent_now == 0 {
                self.converged_at_us = now.0;
            }
        }
    }

    /// Current lag of one replica in microseconds.
    pub fn lag_us(&self, node: NodeId, now: SimTime) -> u64 {
        let column = self
            .pending
            .iter()
            .skip(node.index())
            .step_by(self.nodes.max(1));
        let oldest = column.flatten().map(|(_, ack)| *ack).min();
        oldest.map_or(0, |ack| now.0.saturating_sub(ack))
    }

    /// The run's maximum lag, counting writes still not applied at `now` (the end of the run).
    pub fn max_lag_until(&self, now: SimTime) -> u64 {
        (0..self.nodes)
            .map(|n| self.lag_us(NodeId(n as u16), now))
            .fold(self.max_lag_us, u64::max)
    }

    /// `converged_after_ms` of the report: from `last_heal` until divergence last fell to 0
    /// (0 if that was before the heal); `NEVER_CONVERGED_MS` while keys diverge.
    pub fn converged_after_ms(&self, last_heal: SimTime) -> f64 {
        if self.divergent_now > 0 {
            return NEVER_CONVERGED_MS;
        }
        SimTime(self.converged_at_us).since(last_heal) as f64 / 1000.0
    }

    pub fn is_divergent(&self, key: Key) -> bool {
        self.divergent.get(key as usize).copied().unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    //! Hand-driven: every expected number follows from the definitions in the module doc.
    use super::*;

    const N1: NodeId = NodeId(0);
    const N2: NodeId = NodeId(1);
    const N3: NodeId = NodeId(2);
    const N4: NodeId = NodeId(3);

    fn ms(t: u64) -> SimTime {
        SimTime(t * 1000)
    }

    fn v(i: u64) -> Version {
        Version(i, 0)
    }

    /// Four nodes; key 0 on n1..n3, key 1 on n2..n4.
    fn tracker() -> ReplicaTracker {
        let mut t = ReplicaTracker::new(4);
        t.set_replicas(0, &[N1, N2, N3]);
        t.set_replicas(1, &[N2, N3, N4]);
        t
    }

    fn apply(t: &mut ReplicaTracker, node: NodeId, key: Key, i: u64, at: u64) {
        t.on_applied(node, key, Some(ValueId(i)), v(i), ms(at));
    }

    #[test]
    fn lag_is_the_time_from_ack_to_apply() {
        let mut t = tracker();
        assert!(t.knows_replicas(0) && !t.knows_replicas(2));
        apply(&mut t, N1, 0, 1, 10); // the leader applies, then acks at once
        t.on_acked(0, v(1), ms(10));
        assert_eq!(t.lag_us(N1, ms(10)), 0, "applied before the ack");
        assert_eq!(t.lag_us(N2, ms(22)), 12_000);
        apply(&mut t, N2, 0, 1, 25);
        assert_eq!(t.max_lag_us, 15_000);
        assert_eq!(t.lag_us(N3, ms(30)), 20_000);
        apply(&mut t, N3, 0, 1, 40);
        assert_eq!(t.max_lag_us, 30_000);
        for n in [N1, N2, N3, N4] {
            assert_eq!(t.lag_us(n, ms(50)), 0);
        }
        assert_eq!(
            t.max_lag_until(ms(1_000)),
            30_000,
            "nothing pending any more"
        );
    }

    #[test]
    fn a_write_applied_everywhere_before_its_ack_causes_no_lag() {
        let mut t = tracker();
        for n in [N1, N2, N3] {
            apply(&mut t, n, 0, 1, 5);
        }
        t.on_acked(0, v(1), ms(10));
        assert_eq!(t.max_lag_until(ms(100)), 0);
    }

    #[test]
    fn a_newer_version_supersedes_older_pending_writes() {
        let mut t = tracker();
        t.on_acked(0, v(1), ms(10));
        t.on_acked(0, v(2), ms(20));
        // n2 skips v1 and applies v2: both are covered, measured from the older ack.
        apply(&mut t, N2, 0, 2, 50);
        assert_eq!(t.max_lag_us, 40_000);
        assert_eq!(t.lag_us(N2, ms(60)), 0);
        // n3 applies v1 only: v2 is still missing, since its ack at 20.
        apply(&mut t, N3, 0, 1, 30);
        assert_eq!(t.max_lag_us, 40_000);
        assert_eq!(t.lag_us(N3, ms(35)), 15_000);
        // An ack for a version a replica already exceeds adds nothing.
        t.on_acked(0, v(1), ms(36));
        assert_eq!(t.lag_us(N2, ms(70)), 0);
    }

    #[test]
    fn the_run_maximum_counts_writes_still_pending_at_the_end() {
        let mut t = tracker();
        apply(&mut t, N1, 0, 1, 10);
        apply(&mut t, N2, 0, 1, 12);
        t.on_acked(0, v(1), ms(10));
        assert_eq!(t.max_lag_us, 0);
        // n3 never applies v1: at the end (100 ms) it is 90 ms behind.
        assert_eq!(t.max_lag_until(ms(100)), 90_000);
        assert_eq!(t.max_lag_until(ms(10)), 0);
    }

    #[test]
    fn divergence_counts_keys_whose_live_replicas_differ() {
        let mut t = tracker();
        apply(&mut t, N1, 0, 1, 1);
        assert!(t.is_divergent(0), "n1 has v1, n2 and n3 nothing");
        assert_eq!((t.divergent_now, t.max_divergent), (1, 1));
        apply(&mut t, N2, 1, 7, 2);
        assert_eq!((t.divergent_now, t.max_divergent), (2, 2));
        apply(&mut t, N2, 0, 1, 3);
        apply(&mut t, N3, 0, 1, 4);
        assert!(!t.is_divergent(0));
        assert_eq!((t.divergent_now, t.max_divergent), (1, 2));
        assert_eq!(t.converged_at_us, 0, "key 1 still diverges");
        // A delete (None) on one replica differs from a value on the others.
        t.on_applied(N3, 0, None, v(2), ms(5));
        assert!(t.is_divergent(0));
        t.on_applied(N1, 0, None, v(2), ms(5));
        t.on_applied(N2, 0, None, v(2), ms(5));
        assert!(!t.is_divergent(0));
        assert_eq!((t.divergent_now, t.max_divergent), (1, 2));
        for n in [N3, N4] {
            apply(&mut t, n, 1, 7, 9);
        }
        assert_eq!(t.divergent_now, 0);
        assert_eq!(t.converged_at_us, 9_000, "the last key agreed at 9 ms");
        assert_eq!(t.converged_after_ms(ms(4)), 5.0, "healed at 4 ms");
        assert_eq!(t.converged_after_ms(ms(20)), 0.0, "agreed before the heal");
        apply(&mut t, N1, 0, 8, 30);
        assert_eq!(t.converged_after_ms(ms(4)), -1.0, "diverging again");
    }

    #[test]
    fn a_crashed_replica_leaves_the_comparison_until_it_restarts() {
        let mut t = tracker();
        for n in [N1, N2, N3] {
            apply(&mut t, n, 0, 1, 1);
        }
        apply(&mut t, N1, 0, 2, 2);
        assert!(t.is_divergent(0));
        t.set_live(N1, false, ms(3));
        assert!(!t.is_divergent(0), "n2 and n3 agree");
        assert_eq!(t.divergent_now, 0);
        assert_eq!(t.converged_at_us, 3_000, "converged when n1 crashed");
        t.set_live(N1, true, ms(4));
        assert!(t.is_divergent(0));
        // Key 1: only n2 has a value; with n3 and n4 down nothing is compared against it.
        apply(&mut t, N2, 1, 9, 3);
        assert_eq!(t.divergent_now, 2);
        t.set_live(N3, false, ms(5));
        assert!(t.is_divergent(1), "n4 is still live and empty");
        t.set_live(N4, false, ms(6));
        assert!(!t.is_divergent(1));
        t.set_live(N4, false, ms(7)); // idempotent
        assert_eq!((t.divergent_now, t.max_divergent), (1, 2));
    }
}
