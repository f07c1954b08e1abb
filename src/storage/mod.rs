//! Per-node storage: a versioned key-value store and the one replicated log every log-based
//! policy keeps (`segment`: stable offsets, segments, high watermark, flush lag, epochs), with
//! Kafka's cleaner (`compaction`) and retention (`retention`). Single leader (Kafka / PostgreSQL
//! log shipping), Raft and the event-sourcing domains all store their logs in it.

pub mod compaction;
pub mod events;
pub mod kv;
pub mod retention;
pub mod segment;
#[cfg(test)]
mod segment_tests;
pub mod view;
