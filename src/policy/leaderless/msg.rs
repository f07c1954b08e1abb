//! The leaderless policy's messages and timers.

use super::super::{Message, ReadPart};
use super::siblings::Sibling;
use crate::types::{Key, NodeId, ValueId, Version};
use std::sync::Arc;

/// One replica cell on the wire (anti-entropy streams them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WireCell {
    pub key: Key,
    pub value: Option<ValueId>,
    pub version: Version,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QuorumMsg {
    /// A write for a replica. `hint_for`: with a sloppy quorum, the stand-in keeps the write as a
    /// hint for that node instead of storing it.
    WriteReq {
        req: u64,
        key: Key,
        value: Option<ValueId>,
        version: Version,
        hint_for: Option<NodeId>,
    },
    WriteAck {
        req: u64,
    },
    /// A full data read.
    ReadReq {
        req: u64,
        key: Key,
    },
    ReadResp {
        req: u64,
        value: Option<ValueId>,
        version: Version,
    },
    /// Cassandra's digest read: the replica answers with a hash of its cell, not the cell.
    DigestReq {
        req: u64,
        key: Key,
    },
    DigestResp {
        req: u64,
        digest: u64,
    },
    /// A read repair (or a replayed hint): store this if it is newer, and acknowledge.
    Repair {
        req: u64,
        key: Key,
        value: Option<ValueId>,
        version: Version,
    },
    RepairAck {
        req: u64,
    },
    /// Version-vector carts: "send me your siblings of this key".
    CartRead {
        req: u64,
        key: Key,
    },
    CartResp {
        req: u64,
        siblings: Arc<[Sibling]>,
    },
    /// Version-vector carts: store this cart version (acknowledged with `WriteAck`).
    CartWrite {
        req: u64,
        key: Key,
        sibling: Arc<Sibling>,
    },
    /// Failure-detector heartbeat.
    Gossip,
    /// Anti-entropy: "send me your Merkle leaves for the ranges we share".
    TreeReq,
    TreeResp {
        leaves: Arc<[u64]>,
    },
    /// Anti-entropy: the sender's cells in the ranges that differ (bit i = leaf i); `reply`
    /// asks the receiver to stream back its own cells of the same ranges.
    RangeData {
        ranges: u64,
        cells: Arc<[WireCell]>,
        reply: bool,
    },
}

pub const KINDS: &[&str] = &[
    "write_req",
    "write_ack",
    "read_req",
    "read_resp",
    "digest_req",
    "digest_resp",
    "repair",
    "repair_ack",
    "gossip",
    "merkle_tree_req",
    "merkle_tree",
    "range_data",
    "cart_read",
    "cart_resp",
    "cart_write",
];

/// Bytes of one streamed cell: key (4), value (8), version (16).
pub const CELL_BYTES: u32 = 28;

impl Message for QuorumMsg {
    fn kind(&self) -> u8 {
        match self {
            QuorumMsg::WriteReq { .. } => 0,
            QuorumMsg::WriteAck { .. } => 1,
            QuorumMsg::ReadReq { .. } => 2,
            QuorumMsg::ReadResp { .. } => 3,
            QuorumMsg::DigestReq { .. } => 4,
            QuorumMsg::DigestResp { .. } => 5,
            QuorumMsg::Repair { .. } => 6,
            QuorumMsg::RepairAck { .. } => 7,
            QuorumMsg::Gossip => 8,
            QuorumMsg::TreeReq => 9,
            QuorumMsg::TreeResp { .. } => 10,
            QuorumMsg::RangeData { .. } => 11,
            QuorumMsg::CartRead { .. } => 12,
            QuorumMsg::CartResp { .. } => 13,
            QuorumMsg::CartWrite { .. } => 14,
        }
    }

    fn size_bytes(&self) -> u32 {
        match self {
            QuorumMsg::TreeResp { leaves } => 16 + 8 * leaves.len() as u32,
            QuorumMsg::RangeData { cells, .. } => 24 + CELL_BYTES * cells.len() as u32,
            QuorumMsg::CartResp { siblings, .. } => {
                24 + siblings.iter().map(sibling_bytes).sum::<u32>()
            }
            QuorumMsg::CartWrite { sibling, .. } => 24 + sibling_bytes(sibling),
            _ => 64,
        }
    }

    fn carries(&self, key: Key, value: Option<ValueId>) -> bool {
        let in_sibling = |s: &Sibling| value.is_some_and(|v| s.items.iter().any(|i| i.value == v));
        match self {
            QuorumMsg::WriteReq {
                key: k, value: v, ..
            }
            | QuorumMsg::Repair {
                key: k, value: v, ..
            } => *k == key && *v == value,
            // A read reply names no key, but a written value is unique to its write.
            QuorumMsg::ReadResp { value: v, .. } => value.is_some() && *v == value,
            QuorumMsg::RangeData { cells, .. } => {
                cells.iter().any(|c| c.key == key && c.value == value)
            }
            QuorumMsg::CartWrite {
                key: k, sibling, ..
            } => *k == key && in_sibling(sibling),
            QuorumMsg::CartResp { siblings, .. } => siblings.iter().any(in_sibling),
            _ => false,
        }
    }

    fn read_part(&self) -> Option<ReadPart> {
        match *self {
            QuorumMsg::ReadReq { req, key }
            | QuorumMsg::DigestReq { req, key }
            | QuorumMsg::CartRead { req, key } => Some(ReadPart::Ask { req, key }),
            QuorumMsg::ReadResp { req, .. }
            | QuorumMsg::DigestResp { req, .. }
            | QuorumMsg::CartResp { req, .. } => Some(ReadPart::Answer { req }),
            _ => None,
        }
    }
}

/// An item is a value and a dot (24 bytes); a clock 8 bytes per node.
fn sibling_bytes(s: &Sibling) -> u32 {
    (24 * s.items.len() + 8 * s.clock.0.len()) as u32
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuorumTimer {
    /// Periodic sweep that gives up on requests older than the request timeout.
    Reap,
    /// Heartbeats, liveness and hint replay.
    Gossip,
    /// Purge tombstones older than `gc_grace`.
    Compact,
    /// Compare Merkle trees with the other nodes.
    AntiEntropy,
}
