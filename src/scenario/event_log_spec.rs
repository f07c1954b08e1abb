//! Scenario schema of the `EventLog` policy: event sourcing, CQRS read models, change data capture
//! vs dual writes, and erasure under an immutable log. docs/scenario-format.md documents each field.

use serde::{Deserialize, Serialize};

/// Which event-sourced domain the commands belong to. A client write of key k is a command on
/// aggregate k; which command it is follows from the write's value id (deterministically).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Domain {
    /// Accounts: deposits and withdrawals; a withdrawal larger than the balance is rejected.
    Bank,
    /// Shopping carts: add and remove items, check out; removing an absent item or changing a
    /// checked-out cart is rejected.
    Cart,
    /// Product reviews (ratings 1..5); the read model keeps the average rating.
    Reviews,
    /// A music service's song plays per user (the erasure lesson's data).
    SongPlays,
}

/// How a projection (re)builds its read model when it starts or restarts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Rebuild {
    /// Its own latest snapshot (taken every `snapshot_every` events) plus the log after it.
    FromSnapshot,
    /// Replay the whole log from offset 1.
    FromScratch,
    /// Ask the write side for a consistent snapshot of the current state together with the log
    /// offset it corresponds to, then read the log after that offset (CDC's initial snapshot).
    InitialSnapshot,
}

/// How an erasure request is carried out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErasureMethod {
    /// Append a tombstone; the log loses the user's records only when compaction runs, and every
    /// other copy (snapshots, read models, lagging consumers) goes when it processes the tombstone.
    Tombstone,
    /// Delete the user's encryption key: every copy of their events is unreadable at once.
    CryptoShred,
}

/// A request to erase one user's (one key's) data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErasureSpec {
    pub at_ms: f64,
    pub user: u32,
    pub method: ErasureMethod,
}

/// A mistaken bank payment: at `at_ms` the write side debits `amount` from `account` by mistake;
/// `review_delay_ms` later the bank notices and appends a compensating credit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MistakeSpec {
    pub at_ms: f64,
    pub account: u32,
    pub amount: u32,
}

/// Per-projection settings that differ from the policy-wide ones.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectionSpec {
    pub node: String,
    #[serde(default)]
    pub poll_interval_ms: Option<f64>,
    #[serde(default)]
    pub rebuild: Option<Rebuild>,
}

/// A node that copies the writer's log verbatim (a follower) and cleans its own copy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogReplicaSpec {
    pub node: String,
    #[serde(default)]
    pub poll_interval_ms: Option<f64>,
}

/// One write node holds the event log (and the current state it validates commands against);
/// every other node is a projection that reads the log at its own pace and answers queries from
/// its read model, except the optional `dual_write_index`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventLogSpec {
    pub domain: Domain,
    /// The node that accepts commands and appends events.
    pub writer: String,
    /// How often a projection asks the write side for new events.
    pub poll_interval_ms: f64,
    /// Most events in one fetch.
    pub fetch_max: u32,
    /// A projection snapshots its read model every this many events (0: never).
    pub snapshot_every: u32,
    pub rebuild: Rebuild,
    pub projections: Vec<ProjectionSpec>,
    /// A node that keeps a cache/search index by dual writes: the application on the write node
    /// writes the database, then (`dual_write_delay_ms` later) the index. Projections are the
    /// CDC way of keeping the same index.
    pub dual_write_index: Option<String>,
    /// Nodes that keep a copy of the log (not projections); their lag leaves erased data behind.
    pub log_replicas: Vec<LogReplicaSpec>,
    pub dual_write_delay_ms: f64,
    pub mistakes: Vec<MistakeSpec>,
    pub review_delay_ms: f64,
    pub erasures: Vec<ErasureSpec>,
    /// How often the write side's cleaner compacts the log.
    pub compaction_interval_ms: f64,
    /// Records younger than this are never compacted (Kafka `min.compaction.lag.ms`).
    pub min_compaction_lag_ms: f64,
    /// A tombstone stays this long after the cleaner first saw it (Kafka `delete.retention.ms`).
    pub delete_retention_ms: f64,
    /// Entries per log segment; the newest (active) segment is never compacted.
    pub segment_entries: u32,
}

impl Default for EventLogSpec {
    fn default() -> Self {
        EventLogSpec {
            domain: Domain::Bank,
            writer: "n1".into(),
            poll_interval_ms: 100.0,
            fetch_max: 64,
            snapshot_every: 0,
            rebuild: Rebuild::FromScratch,
            projections: Vec::new(),
            dual_write_index: None,
            log_replicas: Vec::new(),
            dual_write_delay_ms: 5.0,
            mistakes: Vec::new(),
            review_delay_ms: 500.0,
            erasures: Vec::new(),
            compaction_interval_ms: 1000.0,
            min_compaction_lag_ms: 0.0,
            delete_retention_ms: 1000.0,
            segment_entries: 100,
        }
    }
}
