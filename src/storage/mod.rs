//! Per-node storage: a versioned key-value store and a replicated log.

pub mod kv;
pub mod log;
pub mod view;
