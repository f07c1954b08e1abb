//! Tombstone compaction and Merkle-tree anti-entropy.
//!
//! Tombstones: Cassandra keeps a deletion marker for `gc_grace_seconds` after it was written
//! (its `localDeletionTime`), then compaction may drop it. Its docs warn that a replica that
//! missed the delete and is not repaired within gc_grace brings the deleted data back: once the
//! other replicas have purged the tombstone, the old value is the newest thing anyone holds, and
//! repair (or a read) spreads it again: the "zombie". Running repair more often than gc_grace
//! prevents it.
//!
//! Anti-entropy (Dynamo §4.7, Cassandra's `nodetool repair`): two replicas build a hash tree of
//! the key ranges they share, compare them, and stream only the ranges whose hashes differ. Here
//! the tree's leaves are `merkle_ranges` contiguous slices of the key space; comparing the leaves
//! is what walking a full tree down from differing roots ends with. Each pair of nodes is compared
//! once per interval, started by the lower-numbered node.
//!
//! Sources: https://cassandra.apache.org/doc/latest/cassandra/managing/operating/compaction/tombstones.html
//! ("Zombies"; tombstones dropped by compaction after gc_grace_seconds, 10 days by default);
//! DataStax "About deletes" ("if a node is down longer than the grace period ... replicate
//! deleted data once it comes back up"; run repair on every node within gc_grace).

use super::{LCtx, Leaderless, QuorumMsg, WireCell};
use crate::policy::Note;
use crate::types::{Key, NodeId, Version};
use std::sync::Arc;
use xxhash_rust::xxh3::xxh3_64;

impl Leaderless {
    /// Drops every tombstone stored here more than `gc_grace` ago (local clock).
    pub(super) fn compact(&mut self, ctx: &mut LCtx<'_>) {
        let Some(grace) = self.config.gc_grace_us else {
            return;
        };
        let now = ctx.local_now_us;
        let expired: Vec<Key> = self
            .deleted_at
            .iter()
            .filter(|&(_, &t)| now.saturating_sub(t) >= grace)
            .map(|(&k, _)| k)
            .collect();
        for key in expired {
            self.deleted_at.remove(&key);
            self.kv.remove(key);
            ctx.note(Note::TombstonePurged { key });
            ctx.applied(key, None, Version::default());
        }
    }

    fn leaf_of(&self, key: Key) -> usize {
        let ranges = self.config.merkle_ranges.max(1) as u64;
        (key as u64 * ranges / self.config.keys.max(1) as u64) as usize
    }

    /// Keys both this node and `peer` replicate.
    fn shared(&self, key: Key, peer: NodeId) -> bool {
        let r = self.config.ring.replicas(key);
        r.contains(&self.me) && r.contains(&peer)
    }

    /// The leaves of this node's hash tree over the keys it shares with `peer`.
    fn leaves_for(&self, peer: NodeId) -> Vec<u64> {
        let mut leaves = vec![0u64; self.config.merkle_ranges.max(1) as usize];
        for key in 0..self.config.keys {
            if let Some(c) = self.kv.get(key)
                && self.shared(key, peer)
            {
                let mut bytes = [0u8; 28];
                bytes[..4].copy_from_slice(&key.to_le_bytes());
                bytes[4..12].copy_from_slice(&c.value.map_or(u64::MAX, |v| v.0).to_le_bytes());
                bytes[12..20].copy_from_slice(&c.version.0.to_le_bytes());
                bytes[20..].copy_from_slice(&c.version.1.to_le_bytes());
                let leaf = &mut leaves[self.leaf_of(key)];
                *leaf = leaf.rotate_left(5) ^ xxh3_64(&bytes);
            }
        }
        leaves
    }

    /// This node's cells in the given ranges, among the keys it shares with `peer`.
    fn cells_in(&self, peer: NodeId, ranges: u64) -> Vec<WireCell> {
        (0..self.config.keys)
            .filter(|&k| ranges & (1u64 << self.leaf_of(k)) != 0 && self.shared(k, peer))
            .filter_map(|key| {
                let c = self.kv.get(key)?;
                Some(WireCell {
                    key,
                    value: c.value,
                    version: c.version,
                })
            })
            .collect()
    }

    pub(super) fn start_anti_entropy(&mut self, ctx: &mut LCtx<'_>) {
        for n in self.me.0 + 1..self.nodes {
            if self.is_alive(NodeId(n)) {
                ctx.send(NodeId(n), QuorumMsg::TreeReq);
            }
        }
    }

    pub(super) fn send_tree(&mut self, ctx: &mut LCtx<'_>, to: NodeId) {
        let leaves: Arc<[u64]> = self.leaves_for(to).into();
        ctx.send(to, QuorumMsg::TreeResp { leaves });
    }

    pub(super) fn compare_trees(&mut self, ctx: &mut LCtx<'_>, peer: NodeId, theirs: &[u64]) {
        let mine = self.leaves_for(peer);
        let mut ranges = 0u64;
        for (range, (a, b)) in mine.iter().zip(theirs).enumerate() {
            if a != b {
                ranges |= 1 << range;
                let range = range as u32;
                ctx.note(Note::RangeMismatch { peer, range });
            }
        }
        if ranges != 0 {
            self.stream(ctx, peer, ranges, true);
        }
    }

    fn stream(&mut self, ctx: &mut LCtx<'_>, to: NodeId, ranges: u64, reply: bool) {
        let cells: Arc<[WireCell]> = self.cells_in(to, ranges).into();
        let msg = QuorumMsg::RangeData {
            ranges,
            cells,
            reply,
        };
        let bytes = crate::policy::Message::size_bytes(&msg) as u64;
        let keys = match &msg {
            QuorumMsg::RangeData { cells, .. } => cells.len() as u32,
            _ => 0,
        };
        ctx.note(Note::RangeStreamed { to, keys, bytes });
        ctx.send(to, msg);
    }

    pub(super) fn receive_ranges(
        &mut self,
        ctx: &mut LCtx<'_>,
        from: NodeId,
        ranges: u64,
        cells: &[WireCell],
        reply: bool,
    ) {
        if reply {
            // Our side of the same ranges, as it was before theirs arrived.
            self.stream(ctx, from, ranges, false);
        }
        for c in cells {
            self.store(ctx, c.key, c.value, c.version);
        }
    }
}
