//! Checkers and metrics over histories and runs.

pub mod expect;
pub mod history;
pub mod latency;
pub mod linearizability;
pub mod metrics;
pub mod probe;
pub mod replicas;
pub mod report;
pub mod stale;
