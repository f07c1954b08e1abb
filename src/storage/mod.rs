//! Per-node storage: a versioned key-value store, a plain replicated log (Raft), and a
//! Kafka-style segmented log with compaction and retention (single leader).

pub mod compaction;
pub mod events;
pub mod kv;
pub mod log;
pub mod retention;
pub mod segment;
#[cfg(test)]
mod segment_tests;
pub mod view;
