//! Checkers and metrics over histories and runs.

pub mod analysis;
pub mod event_log;
pub mod expect;
pub mod explain;
pub mod history;
pub mod latency;
pub mod linearizability;
pub mod logstats;
pub mod lost;
pub mod metrics;
pub mod order;
pub mod probe;
pub mod replicas;
pub mod report;
pub mod sessions;
pub mod stale;
pub mod violations;
