//! A consistent-hash ring with virtual nodes (tokens), as in Dynamo and Cassandra: a key belongs to
//! the first `replication_factor` distinct nodes clockwise from its hash.

use crate::types::{Key, NodeId};
use xxhash_rust::xxh3::xxh3_64_with_seed;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ring {
    /// (token, node), sorted by token.
    tokens: Vec<(u64, NodeId)>,
    rf: usize,
    /// Preference lists for keys `0..keys`, `rf` nodes each, precomputed for speed.
    prefs: Vec<NodeId>,
}

impl Ring {
    pub fn new(nodes: u16, vnodes: u16, rf: u16, keys: u32) -> Ring {
        let mut tokens = Vec::with_capacity(nodes as usize * vnodes as usize);
        for n in 0..nodes {
            for v in 0..vnodes.max(1) {
                let id = (n as u64) << 16 | v as u64;
                tokens.push((xxh3_64_with_seed(&id.to_le_bytes(), 0x7469_6e67), NodeId(n)));
            }
        }
        tokens.sort();
        let rf = (rf as usize).min(nodes as usize).max(1);
        let mut ring = Ring {
            tokens,
            rf,
            prefs: Vec::new(),
        };
        let mut prefs = Vec::with_capacity(keys as usize * rf);
        for k in 0..keys {
            ring.walk(k, rf, |n| prefs.push(n));
        }
        ring.prefs = prefs;
        ring
    }

    fn key_position(key: Key) -> u64 {
        xxh3_64_with_seed(&key.to_le_bytes(), 0x006b_6579)
    }

    /// Calls `f` for the first `count` distinct nodes clockwise from the key's position.
    fn walk(&self, key: Key, count: usize, mut f: impl FnMut(NodeId)) {
        let pos = Self::key_position(key);
        let start = self.tokens.partition_point(|(t, _)| *t < pos);
        let mut seen: u64 = 0;
        let mut found = 0;
        for i in 0..self.tokens.len() {
            let (_, n) = self.tokens[(start + i) % self.tokens.len()];
            let bit = 1u64 << n.0; // validation caps the cluster at 64 nodes
            if seen & bit == 0 {
                seen |= bit;
                f(n);
                found += 1;
                if found == count {
                    break;
                }
            }
        }
    }

    /// The key's replicas, in ring order (the first is the natural coordinator).
    pub fn replicas(&self, key: Key) -> &[NodeId] {
        let i = key as usize * self.rf;
        &self.prefs[i..i + self.rf]
    }

    /// Every node, in the key's ring order: its replicas first, then the nodes a sloppy quorum
    /// falls back to ("the first N healthy nodes", Dynamo §4.6).
    pub fn preference_list(&self, key: Key, out: &mut Vec<NodeId>) {
        out.clear();
        self.walk(key, usize::MAX, |n| out.push(n));
    }

    pub fn replication_factor(&self) -> usize {
        self.rf
    }
}
