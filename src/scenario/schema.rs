//! The scenario file format (RON). Every field has a sensible default so that a small
//! scenario is a few lines; `docs/scenario-format.md` documents each one.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub use super::event_log_spec::*;

/// One whole experiment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Scenario {
    pub title: String,
    pub description: String,
    pub seed: u64,
    pub nodes: NodesSpec,
    pub network: NetworkSpec,
    pub policy: PolicySpec,
    pub workload: WorkloadSpec,
    pub faults: Vec<ScheduledFault>,
    pub random_faults: Vec<RandomFault>,
    pub run: RunSpec,
    /// Assertions on `capsim run --json` fields: `"stale_reads": ">0"`, `"availability": ">=0.99"`.
    #[serde(deserialize_with = "unique_expectations")]
    pub expect: BTreeMap<String, Expectation>,
}

/// Reads the `expect` map, refusing a field named twice: a map keeps only the last value, so the
/// first claim would otherwise vanish without a word.
fn unique_expectations<'de, D>(d: D) -> Result<BTreeMap<String, Expectation>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    struct Unique;
    impl<'de> serde::de::Visitor<'de> for Unique {
        type Value = BTreeMap<String, Expectation>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a map from report fields to expectations")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut m: A,
        ) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            // Checked at the key, so the error points at the second claim.
            while let Some(field) = m.next_key::<String>()? {
                if out.contains_key(&field) {
                    return Err(serde::de::Error::custom(format!(
                        "expect: \"{field}\" is given twice; each field takes one claim"
                    )));
                }
                let claim = m.next_value::<Expectation>()?;
                out.insert(field, claim);
            }
            Ok(out)
        }
    }
    d.deserialize_map(Unique)
}

impl Default for Scenario {
    fn default() -> Self {
        Scenario {
            title: "untitled".into(),
            description: String::new(),
            seed: 1,
            nodes: NodesSpec::default(),
            network: NetworkSpec::default(),
            policy: PolicySpec::Leaderless(LeaderlessSpec::default()),
            workload: WorkloadSpec::default(),
            faults: Vec::new(),
            random_faults: Vec::new(),
            run: RunSpec::default(),
            expect: BTreeMap::new(),
        }
    }
}

/// The cluster's nodes. Nodes are named `n1`..`nN`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NodesSpec {
    pub count: u16,
    /// Per-node clock settings; nodes not listed have a perfect clock.
    pub clocks: Vec<ClockSpec>,
}

impl Default for NodesSpec {
    fn default() -> Self {
        NodesSpec {
            count: 3,
            clocks: Vec::new(),
        }
    }
}

/// A node's clock: `local = true_time + skew_ms + drift_ppm * true_time / 1e6`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockSpec {
    pub node: String,
    #[serde(default)]
    pub skew_ms: f64,
    #[serde(default)]
    pub drift_ppm: f64,
}

/// A latency distribution in milliseconds. Sampled with platform-independent maths (libm).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Dist {
    Constant(f64),
    Uniform {
        min_ms: f64,
        max_ms: f64,
    },
    /// Normal, truncated at 0 (negative draws are redrawn).
    Normal {
        mean_ms: f64,
        std_ms: f64,
    },
    Exponential {
        mean_ms: f64,
    },
    /// Pareto with minimum `scale_ms` and tail index `shape`.
    Pareto {
        scale_ms: f64,
        shape: f64,
    },
    /// `ln(latency_ms)` is Normal(mu, sigma).
    LogNormal {
        mu: f64,
        sigma: f64,
    },
    /// Weighted mixture: picks one component with probability weight / sum of weights.
    Mixture(Vec<(f64, Dist)>),
    /// A constant added to another distribution (e.g. a minimum propagation delay).
    Shifted {
        shift_ms: f64,
        dist: Box<Dist>,
    },
}

/// How messages behave on a link: latency, loss and duplication. Unset fields inherit.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LinkSpec {
    pub latency: Option<Dist>,
    pub loss: Option<f64>,
    pub duplicate: Option<f64>,
}

/// An override for messages from `from` to `to` (both may be `"*"`), optionally only of one kind.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkOverride {
    pub from: String,
    pub to: String,
    #[serde(default)]
    pub kind: Option<String>,
    /// Also apply to messages from `to` to `from`.
    #[serde(default)]
    pub both_ways: bool,
    #[serde(default)]
    pub latency: Option<Dist>,
    #[serde(default)]
    pub loss: Option<f64>,
    #[serde(default)]
    pub duplicate: Option<f64>,
}

impl LinkOverride {
    pub fn spec(&self) -> LinkSpec {
        LinkSpec {
            latency: self.latency.clone(),
            loss: self.loss,
            duplicate: self.duplicate,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NetworkSpec {
    pub latency: Dist,
    pub loss: f64,
    pub duplicate: f64,
    /// Per-message-kind settings, e.g. `"write_req": (latency: Some(Constant(1.0)))`.
    pub kinds: BTreeMap<String, LinkSpec>,
    /// Per-link settings; later entries win over earlier ones and over `kinds`.
    pub links: Vec<LinkOverride>,
}

impl Default for NetworkSpec {
    fn default() -> Self {
        NetworkSpec {
            latency: Dist::Exponential { mean_ms: 5.0 },
            loss: 0.0,
            duplicate: 0.0,
            kinds: BTreeMap::new(),
            links: Vec::new(),
        }
    }
}

/// The replication / consistency policy and its parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum PolicySpec {
    Leaderless(LeaderlessSpec),
    SingleLeader(SingleLeaderSpec),
    Raft(RaftSpec),
    /// Event sourcing / CQRS: one write node appends events, projections build read models.
    EventLog(EventLogSpec),
}

/// Dynamo-style quorums on a consistent-hash ring (docs/policies.md: Dynamo and Cassandra).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LeaderlessSpec {
    pub replication_factor: u16,
    /// Replies a read waits for when `read_consistency` is not set (Dynamo's R: the read asks
    /// every replica and answers with the newest of the first R replies).
    pub read_quorum: u16,
    /// Acks a write waits for when `write_consistency` is not set (Dynamo's W).
    pub write_quorum: u16,
    /// Virtual nodes (tokens) per node on the ring.
    pub vnodes: u16,
    /// How long a coordinator waits for replies before giving up on a request.
    pub request_timeout_ms: f64,
    /// Cassandra consistency level for reads. When set, a read goes to exactly as many live
    /// replicas as the level needs (one data request, the rest digest requests) and fails at
    /// once as Unavailable when the failure detector knows too few are alive.
    pub read_consistency: Option<Consistency>,
    /// Cassandra consistency level for writes (overrides `write_quorum`); `Any` accepts a hint.
    pub write_consistency: Option<Consistency>,
    /// Coordinators keep a view of which nodes are alive from gossip heartbeats.
    pub failure_detector: bool,
    /// How often every node sends every other node a heartbeat (with `failure_detector`).
    pub gossip_interval_ms: f64,
    /// A node not heard from for this long is convicted (marked down).
    pub convict_after_ms: f64,
    /// The coordinator keeps a hint for a replica it knows is down (or that missed a write's
    /// timeout) and replays it when the replica is back.
    pub hinted_handoff: bool,
    /// No new hints for a node down longer than this (Cassandra `max_hint_window`).
    pub max_hint_window_ms: f64,
    /// Dynamo's sloppy quorum: the first N healthy nodes on the ring take a write, stand-ins keep
    /// it as a hint for the intended replica, and their acks count toward the write's level.
    pub sloppy_quorum: bool,
    /// Blocking read repair: a read that saw differing replicas writes the newest value back to
    /// the stale replicas it asked, and answers only once they acknowledged.
    pub read_repair: bool,
    /// Probability that a read asks every live replica and repairs them in the background.
    pub read_repair_chance: f64,
    /// Tombstones are purged by compaction this long after they were written locally
    /// (Cassandra `gc_grace_seconds`). `None`: kept forever.
    pub gc_grace_ms: Option<f64>,
    /// How often each node compacts (purges expired tombstones).
    pub compaction_interval_ms: f64,
    /// How often each pair of nodes compares Merkle trees and streams differing ranges.
    /// `None`: no anti-entropy repair.
    pub anti_entropy_interval_ms: Option<f64>,
    /// Leaves of the Merkle tree (key ranges compared), 1..=64.
    pub merkle_ranges: u32,
    pub conflict: ConflictResolution,
    /// With `conflict: VersionVectors`, how an update merges the siblings it read.
    pub sibling_merge: SiblingMerge,
}

impl Default for LeaderlessSpec {
    fn default() -> Self {
        LeaderlessSpec {
            replication_factor: 3,
            read_quorum: 2,
            write_quorum: 2,
            vnodes: 16,
            request_timeout_ms: 1000.0,
            read_consistency: None,
            write_consistency: None,
            failure_detector: false,
            gossip_interval_ms: 100.0,
            convict_after_ms: 500.0,
            hinted_handoff: false,
            max_hint_window_ms: 10_000.0,
            sloppy_quorum: false,
            read_repair: false,
            read_repair_chance: 0.0,
            gc_grace_ms: None,
            compaction_interval_ms: 1000.0,
            anti_entropy_interval_ms: None,
            merkle_ranges: 16,
            conflict: ConflictResolution::LastWriteWins,
            sibling_merge: SiblingMerge::Union,
        }
    }
}

/// How many replicas must answer (Cassandra's consistency levels).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Consistency {
    /// Writes only: one replica, or a hint stored by the coordinator.
    Any,
    One,
    Two,
    Three,
    /// A majority of the replication factor: `rf / 2 + 1`.
    Quorum,
    All,
}

impl Consistency {
    /// Replicas (or acks) the level needs with `rf` replicas.
    pub fn needed(self, rf: u16) -> u16 {
        match self {
            Consistency::Any | Consistency::One => 1,
            Consistency::Two => 2,
            Consistency::Three => 3,
            Consistency::Quorum => rf / 2 + 1,
            Consistency::All => rf,
        }
    }
}

/// Which of two concurrent versions a replica keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConflictResolution {
    /// The later coordinator timestamp wins (Cassandra); ties: tombstone, then larger value.
    LastWriteWins,
    /// The earlier timestamp wins: once a key holds a value, later writes and deletes lose.
    FirstWriteWins,
    /// Dynamo: each key is a shopping cart; replicas keep concurrent versions (siblings) by
    /// version vector, and an update reads them, merges them (`sibling_merge`), adds its item
    /// (a write) or empties the cart (a delete), and writes the result back.
    VersionVectors,
}

/// How siblings are merged into one cart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SiblingMerge {
    /// Union of the items: Dynamo's shopping cart, where a removed item can come back.
    Union,
    /// Observed-remove: an item a sibling had seen and dropped stays removed (a CRDT OR-set).
    ObservedRemove,
}

/// When the single leader acknowledges a write. docs/policies.md maps each to Kafka and PostgreSQL.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Replication {
    /// Kafka `acks=0`: the client is told "ok" before the leader has even appended the write,
    /// so it never learns about a write the leader dropped (e.g. because it was fenced).
    NoAck,
    /// Kafka `acks=1` / PostgreSQL `synchronous_commit = local`: the leader acks a write once it
    /// is in its own log. A failover loses what the new leader had not received.
    Async,
    /// One synchronous follower: the leader acks once any one follower has applied the write
    /// (PostgreSQL `synchronous_standby_names = 'ANY 1 (...)'` with `remote_apply`; MySQL
    /// semi-synchronous replication, without its fallback to async after a timeout).
    SemiSync,
    /// The leader acks once every follower has applied the write (`synchronous_commit =
    /// remote_apply` with all standbys synchronous). One slow or dead follower stops all writes.
    Sync,
    /// Kafka `acks=all`: the leader acks once every member of the in-sync replica set (ISR) has
    /// the write. Followers that lag more than `replica_lag_max_ms` leave the ISR; with fewer
    /// than `min_insync_replicas` members the leader refuses writes.
    InSync,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReadFrom {
    Leader,
    /// Whichever node the client talks to answers from its own copy.
    AnyReplica,
}

/// One leader ships its log to followers (PostgreSQL streaming replication / Kafka style).
/// With a `controller`, a leader epoch, failover and fencing come into play (Kafka's controller).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SingleLeaderSpec {
    /// The first leader. Setting it during a run (`Set("policy.leader", "n2")`) is a manual
    /// failover: the controller moves leadership there, or, without a controller, every node is
    /// told at once.
    pub leader: String,
    pub replication: Replication,
    pub read_from: ReadFrom,
    /// How often the leader re-sends entries a follower has not acknowledged (and checks its
    /// in-sync replicas and its contact with the controller).
    pub resend_interval_ms: f64,
    /// Most entries in one replication message.
    pub max_batch: u32,
    /// With `replication: InSync` (acks=all): the leader refuses writes while the ISR, leader
    /// included, has fewer members (Kafka `min.insync.replicas`).
    pub min_insync_replicas: u16,
    /// A follower that has not caught up with the leader's log for this long leaves the ISR
    /// (Kafka `replica.lag.time.max.ms`).
    pub replica_lag_max_ms: f64,
    /// The node that decides who leads (Kafka's controller), e.g. `"n4"`. It stores no
    /// data. `None`: the leader changes only when `policy.leader` is set.
    pub controller: Option<String>,
    /// The controller elects a new leader when it has not heard from the leader for
    /// `leader_timeout_ms`; otherwise only a manual `Set("policy.leader", ..)` moves it.
    pub auto_failover: bool,
    pub leader_timeout_ms: f64,
    /// How often the controller sends every node the current leader and ISR (and hears back).
    pub heartbeat_interval_ms: f64,
    /// A leader that has not heard from the controller for this long stops acknowledging and
    /// serving (it fences itself). Keep it below `leader_timeout_ms`, so that the old leader
    /// stops before the controller elects a new one.
    pub fence_timeout_ms: f64,
    /// When no in-sync replica is up, elect an out-of-sync one anyway (Kafka
    /// `unclean.leader.election.enable`): available again, but acknowledged writes are lost.
    pub unclean_election: bool,
    /// Leader epochs are enforced: nodes refuse messages from an older epoch, and a leader cut
    /// off from the controller fences itself. `false` shows the split brain this prevents.
    pub fencing: bool,
    /// Kafka-style log storage on every data node: segments, compaction or retention, flush
    /// lag. `None` (the default): one unbounded segment, nothing cleaned, every append durable.
    pub log: Option<LogSpec>,
}

/// What a log's cleaner does with old records (Kafka `cleanup.policy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Cleanup {
    /// Keep the latest record of each key; drop tombstones after `delete_retention_ms`.
    Compact,
    /// Delete whole old segments after `retention_ms` / beyond `retention_bytes`.
    Delete,
}

/// A Kafka-style log: the names follow Kafka's topic configuration (`segment.bytes`,
/// `min.cleanable.dirty.ratio`, ...). docs/scenario-format.md describes each field.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSpec {
    /// Roll a new segment after this many records (0: no limit).
    pub segment_entries: u32,
    /// Roll a new segment before it would exceed this many bytes (0: no limit).
    pub segment_bytes: u64,
    /// Bytes of one record's value (a record also takes 40 bytes of overhead; a tombstone only those).
    pub value_bytes: u32,
    pub cleanup: Cleanup,
    /// Each data node's cleaner looks at its log this often.
    pub cleaner_interval_ms: f64,
    /// The cleaner works at this many bytes per simulated millisecond (0: instantly).
    pub cleaner_bytes_per_ms: f64,
    pub min_cleanable_dirty_ratio: f64,
    pub min_compaction_lag_ms: f64,
    pub delete_retention_ms: f64,
    /// `Delete` only: segments whose newest record is older than this are deleted.
    pub retention_ms: Option<f64>,
    /// `Delete` only: the oldest segments are deleted while the log is bigger than this.
    pub retention_bytes: Option<u64>,
    /// Flush (fsync) after this many unflushed records (Kafka `flush.messages`; None: never by count).
    pub flush_entries: Option<u64>,
    /// Flush every this many ms (Kafka `flush.ms`, checked by its flush scheduler; None: never
    /// by time). With neither set, every append is flushed at once.
    pub flush_interval_ms: Option<f64>,
}

impl Default for LogSpec {
    fn default() -> Self {
        LogSpec {
            segment_entries: 0,
            segment_bytes: 0,
            value_bytes: 100,
            cleanup: Cleanup::Compact,
            cleaner_interval_ms: 100.0,
            cleaner_bytes_per_ms: 0.0,
            min_cleanable_dirty_ratio: 0.5,
            min_compaction_lag_ms: 0.0,
            delete_retention_ms: 1000.0,
            retention_ms: None,
            retention_bytes: None,
            flush_entries: None,
            flush_interval_ms: None,
        }
    }
}

impl Default for SingleLeaderSpec {
    fn default() -> Self {
        SingleLeaderSpec {
            leader: "n1".into(),
            replication: Replication::Async,
            read_from: ReadFrom::Leader,
            resend_interval_ms: 20.0,
            max_batch: 64,
            min_insync_replicas: 1,
            replica_lag_max_ms: 200.0,
            controller: None,
            auto_failover: true,
            leader_timeout_ms: 500.0,
            heartbeat_interval_ms: 50.0,
            fence_timeout_ms: 300.0,
            unclean_election: false,
            fencing: true,
            log: None,
        }
    }
}

/// How a Raft leader answers reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReadMode {
    /// Reads go through the log like writes: linearizable, but each costs a replication round.
    Log,
    /// The leader notes its commit index, confirms it still leads with one heartbeat round to a
    /// majority, then answers (etcd's `ReadOnlySafe`). Linearizable whatever the clocks do.
    ReadIndex,
    /// The leader answers locally while its lease (measured on its own clock) lasts; falls back to
    /// `ReadIndex` otherwise. Linearizable only while clocks keep their drift bound.
    Lease,
}

/// Raft consensus (Ongaro & Ousterhout): elected leader, replicated log, majority commit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RaftSpec {
    /// A follower that hears from no leader for a random time in [min, max] starts an election.
    pub election_timeout_min_ms: f64,
    pub election_timeout_max_ms: f64,
    /// How often the leader sends heartbeats (must be well below the election timeout).
    pub heartbeat_ms: f64,
    pub read_mode: ReadMode,
    /// How long after a heartbeat round a majority acknowledged the leader may answer reads
    /// locally (`Lease` mode), measured on the leader's clock. At most `election_timeout_min_ms`.
    pub lease_ms: f64,
    /// The leader steps down when it has not heard from a majority for an election timeout, and
    /// followers that heard from a leader recently ignore vote requests (etcd's `CheckQuorum`).
    pub check_quorum: bool,
    /// Most entries in one AppendEntries message.
    pub max_batch: u32,
    /// How long a node keeps a client request it cannot finish (no leader known, not committed).
    pub request_timeout_ms: f64,
    /// Snapshots and log compaction (Raft §7), snapshot transfer and the link bandwidth; absent:
    /// every node keeps its whole log.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<SnapshotSpec>,
}

/// Raft snapshots: when a node snapshots its state machine, how much log it keeps, and how a
/// snapshot travels to a follower that needs entries the leader has discarded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SnapshotSpec {
    /// Each node snapshots once this many entries were applied since its last snapshot
    /// (0: never, so the log is kept whole and a wiped node replays it from index 1).
    pub every_entries: u64,
    /// Entries kept before the snapshot index so a follower a little behind still catches up
    /// from the log (etcd's `SnapshotCatchUpEntries`, hashicorp/raft's `TrailingLogs`); 0
    /// discards everything up to and including the snapshot index.
    pub retain_entries: u64,
    /// Bytes per InstallSnapshot chunk (each chunk is one message).
    pub chunk_bytes: u64,
    /// Bytes per second the leader may send to each follower: snapshot chunks and appends
    /// that carry entries wait until the link is free again.
    pub bandwidth_bytes_per_s: f64,
    /// What a rebuilding node answers clients: `Nothing` (fails every request as
    /// unavailable) or `Stale` (answers reads from whatever state it has, writes fail).
    pub while_rebuilding: RebuildServe,
}

impl Default for SnapshotSpec {
    fn default() -> Self {
        SnapshotSpec {
            every_entries: 0,
            retain_entries: 0,
            chunk_bytes: 4096,
            bandwidth_bytes_per_s: 1_000_000.0,
            while_rebuilding: RebuildServe::Nothing,
        }
    }
}

/// What a rebuilding node does with client requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RebuildServe {
    Nothing,
    Stale,
}

impl Default for RaftSpec {
    fn default() -> Self {
        RaftSpec {
            election_timeout_min_ms: 150.0,
            election_timeout_max_ms: 300.0,
            heartbeat_ms: 50.0,
            read_mode: ReadMode::ReadIndex,
            lease_ms: 120.0,
            check_quorum: true,
            max_batch: 64,
            request_timeout_ms: 1000.0,
            snapshot: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum LoadSpec {
    /// `clients` clients, each waiting for its reply (plus think time) before the next request.
    ClosedLoop {
        clients: u32,
        #[serde(default)]
        think_time_ms: f64,
    },
    /// Poisson arrivals at `rate_per_sec`, spread over `clients` client processes.
    OpenLoop { rate_per_sec: f64, clients: u32 },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum KeySpec {
    Uniform {
        count: u32,
    },
    Zipf {
        count: u32,
        s: f64,
    },
    /// `hot_fraction` of the keys receive `hot_probability` of the requests.
    HotSet {
        count: u32,
        hot_fraction: f64,
        hot_probability: f64,
    },
}

/// Which node a client sends its requests to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum TargetSpec {
    /// Client i talks to node i mod N.
    RoundRobin,
    /// Every client talks to this node.
    Node(String),
    /// Each request goes to a node chosen at random.
    Random,
    /// The node the client last heard is the leader (redirects update it).
    Leader,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Mix {
    pub read: f64,
    pub write: f64,
    pub delete: f64,
}

impl Default for Mix {
    fn default() -> Self {
        Mix {
            read: 0.5,
            write: 0.5,
            delete: 0.0,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkloadSpec {
    pub load: LoadSpec,
    pub mix: Mix,
    pub keys: KeySpec,
    pub target: TargetSpec,
    pub timeout_ms: f64,
    /// Only clients whose node is in this list issue requests (all nodes when empty).
    pub client_nodes: Vec<String>,
    /// Session guarantees every client asks for (honoured by `Leaderless`).
    pub session: SessionSpec,
    /// Per-operation consistency levels as (weight, level), e.g. `[(9.0, One), (1.0, Quorum)]`:
    /// each operation draws one (honoured by `Leaderless`). Empty: the policy's levels.
    pub consistency_mix: Vec<(f64, Consistency)>,
    /// One-way delay between a client and the node it talks to, drawn for each request and each
    /// reply (a redirect costs a round trip). None: clients sit on their node and a reply from
    /// that node's own data takes no time. The client's link is never cut by partitions.
    pub client_latency: Option<Dist>,
}

/// Session guarantees (Terry et al. 1994). With `Leaderless` the coordinator a client talks to
/// (a sticky session) remembers the versions the session wrote and read, per key.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionSpec {
    pub read_your_writes: bool,
    pub monotonic_reads: bool,
    pub monotonic_writes: bool,
    pub writes_follow_reads: bool,
}

impl SessionSpec {
    pub fn guarantees(&self) -> crate::policy::Guarantees {
        use crate::policy::Guarantees as G;
        let flags = [
            (self.read_your_writes, G::READ_YOUR_WRITES),
            (self.monotonic_reads, G::MONOTONIC_READS),
            (self.monotonic_writes, G::MONOTONIC_WRITES),
            (self.writes_follow_reads, G::WRITES_FOLLOW_READS),
        ];
        G(flags
            .iter()
            .filter(|(on, _)| *on)
            .fold(0, |m, (_, f)| m | f))
    }
}

impl Default for WorkloadSpec {
    fn default() -> Self {
        WorkloadSpec {
            load: LoadSpec::ClosedLoop {
                clients: 8,
                think_time_ms: 0.0,
            },
            mix: Mix::default(),
            keys: KeySpec::Uniform { count: 100 },
            target: TargetSpec::RoundRobin,
            timeout_ms: 1000.0,
            client_nodes: Vec::new(),
            session: SessionSpec::default(),
            consistency_mix: Vec::new(),
            client_latency: None,
        }
    }
}

/// When the run ends: whichever of `ops` and `duration_ms` comes first (at least one is required),
/// then up to `drain_ms` more for in-flight messages and repairs to settle.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunSpec {
    pub ops: Option<u64>,
    pub duration_ms: Option<f64>,
    pub drain_ms: f64,
    /// Keep up to this many history events in memory for the checkers.
    pub history_limit: u64,
}

impl Default for RunSpec {
    fn default() -> Self {
        RunSpec {
            ops: None,
            duration_ms: Some(10_000.0),
            drain_ms: 5_000.0,
            history_limit: 200_000,
        }
    }
}

/// A fault (or parameter change) at a fixed time; `for_ms` undoes it after that long.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduledFault {
    pub at_ms: f64,
    pub fault: FaultSpec,
    #[serde(default)]
    pub for_ms: Option<f64>,
    /// Apply after every other event at `at_ms` rather than before them: where a click in the
    /// app lands (the screen shows that moment's events done), so a saved session replays exactly.
    #[serde(default, skip_serializing_if = "is_false")]
    pub after_same_time: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// The fault vocabulary (after turmoil): nodes and links fail, heal, pause, and clocks lie.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum FaultSpec {
    /// Lose volatile state and stop; durable state survives.
    Crash(String),
    Restart(String),
    /// Crash and lose the disk too (a replaced machine): the node restarts empty at its next
    /// `Restart` and must rebuild its state from the others.
    WipeDisk(String),
    /// Stop processing but keep all state, like a long GC pause; messages wait.
    Pause(String),
    Resume(String),
    /// Nodes in different groups cannot talk to each other; unlisted nodes form one more group.
    Partition(Vec<Vec<String>>),
    /// Messages from `from` nodes to `to` nodes are lost; the other direction still works.
    PartitionOneWay {
        from: Vec<String>,
        to: Vec<String>,
    },
    /// Cut the link between two nodes (both directions unless `one_way`).
    CutLink {
        a: String,
        b: String,
        #[serde(default)]
        one_way: bool,
    },
    /// Remove every partition and cut link.
    HealAll,
    /// Remove one earlier cut (a partition or a cut link), by its number: cuts are numbered
    /// 1, 2, ... in the order they apply during the run (the app shows them as `cut #k`).
    HealCut(u32),
    /// Set a node's clock offset.
    ClockSkew {
        node: String,
        skew_ms: f64,
    },
    /// Set a node's clock rate error in parts per million.
    ClockDrift {
        node: String,
        drift_ppm: f64,
    },
    /// Change a scenario parameter by its dotted path, e.g. `Set("policy.read_quorum", 1)`.
    Set(String, SetValue),
}

/// A new value for a `Set`: a number, a boolean, or a string (which also names enum variants).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SetValue {
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
}

impl std::fmt::Display for SetValue {
    /// As written in a scenario file.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SetValue::Bool(b) => write!(f, "{b}"),
            SetValue::Int(i) => write!(f, "{i}"),
            SetValue::Float(x) => write!(f, "{x:?}"),
            SetValue::Text(s) => write!(f, "{s:?}"),
        }
    }
}

/// Faults drawn at random: a Poisson process of `per_second` of simulated time, each lasting
/// between `min_ms` and `max_ms` (VOPR-style).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomFault {
    pub kind: RandomFaultKind,
    pub per_second: f64,
    pub min_ms: f64,
    pub max_ms: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum RandomFaultKind {
    Crash,
    Pause,
    /// A random split of the cluster into two non-empty groups.
    Partition,
    CutLink,
    /// Raise the loss probability on every link to this value for a while.
    LossBurst(f64),
    /// Skew a random node's clock by up to this many ms either way.
    ClockSkew(f64),
}

/// An `expect` value: a literal (`0`, `true`) means `==`; a string is `"<op><number>"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Expectation {
    Bool(bool),
    Number(f64),
    Text(String),
}
