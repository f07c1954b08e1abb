//! Replication lag and divergence, maintained incrementally from the values replicas report.
//!
//! *Replication lag* of a replica at time t: t minus the acknowledgement time of the oldest
//! acknowledged write that the replica has not yet applied (or superseded with a newer version);
//! 0 when it has them all. The maximum over a run is reached just before such a write is applied,
//! so we only need to look at the moment each pending write is cleared (and at the end).
//!
//! *Divergent keys*: keys whose live replicas hold different values.

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
    live: Vec<bool>,
    /// Replicas of each key, filled in on first use.
    replicas: Vec<Vec<NodeId>>,
    divergent: Vec<bool>,
    pub divergent_now: u64,
    pub max_divergent: u64,
    pub max_lag_us: u64,
}

impl ReplicaTracker {
    pub fn new(nodes: usize) -> ReplicaTracker {
        ReplicaTracker {
            nodes,
            live: vec![true; nodes],
            ..ReplicaTracker::default()
        }
    }

    /// Whether the replica set of `key` is known yet; the engine supplies it with `set_replicas`.
    pub fn knows_replicas(&self, key: Key) -> bool {
        self.replicas
            .get(key as usize)
            .is_some_and(|r| !r.is_empty())
    }

    pub fn set_replicas(&mut self, key: Key, nodes: &[NodeId]) {
        let i = key as usize;
        if i >= self.replicas.len() {
            self.replicas.resize(i + 1, Vec::new());
            self.divergent.resize(i + 1, false);
        }
        self.replicas[i] = nodes.to_vec();
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

    fn held(&self, node: NodeId, key: Key) -> Held {
        self.held
            .get(self.cell(node, key))
            .copied()
            .unwrap_or_default()
    }

    /// A replica now stores `value` at `version` for `key`.
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
        self.clear_pending(i, version, now);
        self.update_divergence(key);
    }

    fn clear_pending(&mut self, cell: usize, version: Version, now: SimTime) {
        let list = &mut self.pending[cell];
        if list.is_empty() {
            return;
        }
        let mut max_lag = self.max_lag_us;
        list.retain(|(v, ack)| {
            let covered = *v <= version;
            if covered {
                max_lag = max_lag.max(now.0.saturating_sub(*ack));
            }
            !covered
        });
        self.max_lag_us = max_lag;
    }

    /// A write to `key` at `version` was acknowledged to its client at `now`.
    pub fn on_acked(&mut self, key: Key, version: Version, now: SimTime) {
        let Some(replicas) = self.replicas.get(key as usize) else {
            return;
        };
        let base = key as usize * self.nodes;
        for &r in replicas {
            if self.held[base + r.index()].version < version {
                self.pending[base + r.index()].push((version, now.0));
            }
        }
    }

    /// A node crashed (false) or came back (true): divergence is over live replicas only.
    pub fn set_live(&mut self, node: NodeId, live: bool) {
        if self.live[node.index()] == live {
            return;
        }
        self.live[node.index()] = live;
        for key in 0..self.replicas.len() as Key {
            if self.replicas[key as usize].contains(&node) {
                self.update_divergence(key);
            }
        }
    }

    fn update_divergence(&mut self, key: Key) {
        let Some(replicas) = self.replicas.get(key as usize) else {
            return;
        };
        let mut first: Option<Option<ValueId>> = None;
        let mut differs = false;
        for &r in replicas {
            if !self.live[r.index()] {
                continue;
            }
            let v = self.held(r, key).value;
            match first {
                None => first = Some(v),
                Some(f) => differs |= f != v,
            }
        }
        let was = std::mem::replace(&mut self.divergent[key as usize], differs);
        if differs && !was {
            self.divergent_now += 1;
            self.max_divergent = self.max_divergent.max(self.divergent_now);
        } else if was && !differs {
            self.divergent_now -= 1;
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

    pub fn is_divergent(&self, key: Key) -> bool {
        self.divergent.get(key as usize).copied().unwrap_or(false)
    }
}
