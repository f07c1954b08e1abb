//! Event sourcing and CQRS on a simulated log (docs/policies.md, "EventLog"). One write node
//! validates commands against the current state and appends events (facts) or rejects the
//! command; projection nodes read the log at their own pace and answer queries from their read
//! models, so the read side lags the write side. Optionally an index kept by dual writes next to
//! the CDC-fed projections, and erasure requests (tombstone + compaction, or crypto-shredding).
//!
//! Every node's copy of the log is the shared segmented log of `storage::segment` (the one the
//! single-leader and Raft policies keep), compacted by the shared Kafka cleaner
//! (`storage::compaction`), in which only an erasure tombstone supersedes a key's records.

pub mod domain;
mod projection;
mod replica;
mod writer;

use crate::check::event_log::LogNote;
use crate::engine::FromScenario;
use crate::policy::{ClientReq, Cluster, Ctx, Message, NodeView, Note, Policy, StoredValue};
use crate::scenario::schema::{EventLogSpec, PolicySpec, Scenario};
use crate::storage::compaction::CleanResult;
use crate::storage::segment::{LogLayout, SegmentedLog};
use crate::types::{Key, NodeId, ValueId, Version, ms_to_us};
use domain::{Aggregate, EventBody, StoredEvent};
pub use projection::Projection;
pub use replica::LogReplica;
use std::collections::BTreeMap;
use std::sync::Arc;
pub use writer::Writer;

pub const KINDS: &[&str] = &["fetch", "events", "snapshot_req", "snapshot", "index_write"];

#[derive(Clone, Debug)]
pub enum Msg {
    /// A projection asks for events from `from` on.
    Fetch {
        from: u64,
        max: u32,
    },
    /// Events in offset order; `next` is where the following fetch starts (skips compacted
    /// gaps), `log_end` the last offset written, `shredded` the users whose key is deleted.
    Events {
        events: Arc<[StoredEvent]>,
        next: u64,
        log_end: u64,
        shredded: Arc<[Key]>,
    },
    SnapshotReq,
    /// A consistent copy of the write side's state and the offset it reflects.
    Snapshot {
        upto: u64,
        state: Arc<BTreeMap<Key, Aggregate>>,
    },
    /// The application's second write: the index entry for `key`.
    IndexWrite {
        key: Key,
        value: Option<ValueId>,
    },
}

impl Message for Msg {
    fn kind(&self) -> u8 {
        match self {
            Msg::Fetch { .. } => 0,
            Msg::Events { .. } => 1,
            Msg::SnapshotReq => 2,
            Msg::Snapshot { .. } => 3,
            Msg::IndexWrite { .. } => 4,
        }
    }
    fn size_bytes(&self) -> u32 {
        match self {
            Msg::Events { events, .. } => 64 + 40 * events.len() as u32,
            Msg::Snapshot { state, .. } => 64 + 48 * state.len() as u32,
            _ => 64,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Timer {
    /// A projection's next fetch.
    Poll,
    /// The application's delayed second write (dual writes).
    DualWrite,
    Mistake(usize),
    Compensate {
        offset: u64,
        amount: u32,
        key: Key,
    },
    Erase(usize),
    Compact,
}

/// The scenario's settings plus the node roles resolved from it.
#[derive(Clone, Debug)]
pub struct EventLogConfig {
    pub spec: EventLogSpec,
    pub writer: NodeId,
    pub dual_index: Option<NodeId>,
    pub nodes: u16,
}

impl EventLogConfig {
    pub fn projections(&self) -> impl Iterator<Item = NodeId> + '_ {
        (0..self.nodes).map(NodeId).filter(|n| {
            *n != self.writer && Some(*n) != self.dual_index && !self.is_log_replica(*n)
        })
    }

    pub fn log_replicas(&self) -> impl Iterator<Item = NodeId> + '_ {
        (0..self.nodes)
            .map(NodeId)
            .filter(|n| self.is_log_replica(*n))
    }

    pub fn is_log_replica(&self, n: NodeId) -> bool {
        let name = |r: &crate::scenario::schema::LogReplicaSpec| NodeId::parse(&r.node);
        self.spec.log_replicas.iter().any(|r| name(r) == Some(n))
    }

    /// Users whose data an erasure request will target (their copies are counted throughout).
    pub fn watched(&self) -> impl Iterator<Item = Key> + '_ {
        self.spec.erasures.iter().map(|e| e.user)
    }
}

#[derive(Clone, Debug)]
pub enum Role {
    Writer(Writer),
    Projection(Projection),
    /// A cache/search index written by the application (dual writes): key -> value.
    DualIndex(BTreeMap<Key, Option<ValueId>>),
    LogReplica(LogReplica),
}

#[derive(Clone, Debug)]
pub struct EventLog {
    pub config: EventLogConfig,
    pub role: Role,
}

type C<'a, 'b> = Ctx<'a, Msg, Timer>;

fn note(ctx: &mut C<'_, '_>, n: LogNote) {
    ctx.note(Note::Log(n));
}

/// Asks the write side for the events from offset `from` on (a projection's or a log
/// replica's poll).
fn fetch_from(ctx: &mut C<'_, '_>, cfg: &EventLogConfig, from: u64) {
    let max = cfg.spec.fetch_max.max(1);
    ctx.send(cfg.writer, Msg::Fetch { from, max });
}

/// How many of `user`'s records (tombstones aside) a stored log still holds: the copies an
/// erasure has to get rid of.
fn copies_in_log(log: &EventStore, user: Key) -> u32 {
    log.iter()
        .filter(|e| e.key == user && e.body != EventBody::Erased)
        .count() as u32
}

/// The event log as every node keeps it: the shared segmented log of capsim's other policies.
pub type EventStore = SegmentedLog<StoredEvent>;

/// An empty event log cut into segments of `segment_entries` events.
fn new_store(spec: &EventLogSpec) -> EventStore {
    SegmentedLog::new(LogLayout {
        segment_entries: spec.segment_entries.max(1),
        segment_bytes: 0,
        value_bytes: EVENT_BYTES,
    })
}

/// Bytes an event's body takes besides the record overhead.
const EVENT_BYTES: u32 = 24;

/// One pass of the shared Kafka cleaner (`storage::compaction`) over a node's copy of the log:
/// the dirty section (outside the active segment, older than `min_compaction_lag_ms`) is
/// cleaned whenever it holds anything, and a tombstone goes `delete_retention_ms` after the
/// cleaner first cleaned it. Returns (records removed, tombstones purged).
fn compact(log: &mut EventStore, now_us: u64, spec: &EventLogSpec) -> (u64, u64) {
    let lag_us = ms_to_us(spec.min_compaction_lag_ms);
    let retention_us = ms_to_us(spec.delete_retention_ms);
    let c = log.cleanable(now_us, log.last_index(), lag_us);
    let cleaned = log.clean(c, now_us, retention_us);
    // A pass over a dirty section rewrites every segment below it, expired tombstones included;
    // only without one do the clean segments need a look of their own.
    let purged = if cleaned.to > cleaned.from {
        CleanResult::default()
    } else {
        log.purge_expired_tombstones(now_us)
    };
    (
        cleaned.records_removed - cleaned.tombstones_purged,
        cleaned.tombstones_purged + purged.tombstones_purged,
    )
}

fn version(offset: u64) -> Version {
    Version(offset, 0)
}

impl FromScenario for EventLog {
    fn config_from(s: &Scenario) -> EventLogConfig {
        let PolicySpec::EventLog(spec) = &s.policy else {
            unreachable!("EventLog engine built for another policy")
        };
        EventLogConfig {
            writer: NodeId::parse(&spec.writer).unwrap_or(NodeId(0)),
            dual_index: spec.dual_write_index.as_deref().and_then(NodeId::parse),
            spec: spec.clone(),
            nodes: s.nodes.count,
        }
    }
}

impl Policy for EventLog {
    type Msg = Msg;
    type Timer = Timer;
    type Config = EventLogConfig;
    const KINDS: &'static [&'static str] = KINDS;

    fn new(me: NodeId, _cluster: &Cluster, config: &EventLogConfig) -> Self {
        let role = if me == config.writer {
            Role::Writer(Writer::new(&config.spec))
        } else if Some(me) == config.dual_index {
            Role::DualIndex(BTreeMap::new())
        } else if config.is_log_replica(me) {
            Role::LogReplica(LogReplica::new(me, &config.spec))
        } else {
            Role::Projection(Projection::new(me))
        };
        EventLog {
            config: config.clone(),
            role,
        }
    }

    fn on_start(&mut self, ctx: &mut C<'_, '_>) {
        match &mut self.role {
            Role::Writer(w) => w.start(ctx, &self.config),
            Role::Projection(p) => p.start(ctx, &self.config),
            Role::LogReplica(r) => r.start(ctx, &self.config),
            Role::DualIndex(_) => {}
        }
    }

    fn on_client(&mut self, ctx: &mut C<'_, '_>, req: ClientReq) {
        match &mut self.role {
            Role::Writer(w) => w.client(ctx, &self.config, req),
            Role::Projection(p) => p.client(ctx, &self.config, req),
            Role::LogReplica(r) => r.client(ctx, &self.config, req),
            Role::DualIndex(index) => dual_index_client(ctx, &self.config, index, req),
        }
    }

    fn on_message(&mut self, ctx: &mut C<'_, '_>, from: NodeId, msg: Msg) {
        match &mut self.role {
            Role::Writer(w) => w.message(ctx, &self.config, from, msg),
            Role::Projection(p) => p.message(ctx, &self.config, msg),
            Role::LogReplica(r) => r.message(ctx, &self.config, msg),
            Role::DualIndex(index) => {
                if let Msg::IndexWrite { key, value } = msg {
                    index.insert(key, value);
                    note(ctx, LogNote::IndexWritten { key, value });
                    let watched = self.config.watched().any(|u| u == key);
                    if watched {
                        let count = u32::from(value.is_some());
                        note(
                            ctx,
                            LogNote::Copies {
                                user: key,
                                place: "index",
                                count,
                            },
                        );
                    }
                }
            }
        }
    }

    fn on_timer(&mut self, ctx: &mut C<'_, '_>, timer: Timer) {
        match &mut self.role {
            Role::Writer(w) => w.timer(ctx, &self.config, timer),
            Role::Projection(p) => p.timer(ctx, &self.config, timer),
            Role::LogReplica(r) => r.timer(ctx, &self.config, timer),
            Role::DualIndex(_) => {}
        }
    }

    fn on_crash(&mut self) {
        match &mut self.role {
            Role::Writer(w) => w.crash(),
            Role::Projection(p) => p.crash(),
            // The copy is on disk.
            Role::LogReplica(_) => {}
            // The index is a durable store; nothing volatile to lose.
            Role::DualIndex(_) => {}
        }
    }

    fn reconfigure(&mut self, config: &EventLogConfig) {
        self.config = config.clone();
    }

    fn replicas_of(&self, _key: Key, out: &mut Vec<NodeId>) {
        out.push(self.config.writer);
        out.extend(self.config.projections());
        out.extend(self.config.log_replicas());
    }

    fn leader_hint(&self) -> Option<NodeId> {
        Some(self.config.writer)
    }

    fn view(&self) -> NodeView {
        match &self.role {
            Role::Writer(w) => w.view(),
            Role::Projection(p) => p.view(),
            Role::LogReplica(r) => r.view(),
            Role::DualIndex(index) => NodeView {
                role: "index (dual writes)",
                details: vec![("entries", index.len().to_string())],
                ..NodeView::default()
            },
        }
    }

    fn stored(&self, out: &mut Vec<StoredValue>) {
        let mut push = |key: Key, value: Option<ValueId>, v: u64| {
            out.push(StoredValue {
                key,
                value,
                version: version(v),
            })
        };
        match &self.role {
            Role::Writer(w) => w
                .state()
                .iter()
                .for_each(|(k, a)| push(*k, a.last_value, 0)),
            Role::Projection(p) => p
                .model()
                .iter()
                .for_each(|(k, a)| push(*k, a.last_value, 0)),
            Role::DualIndex(index) => index.iter().for_each(|(k, v)| push(*k, *v, 0)),
            Role::LogReplica(r) => r.values().iter().for_each(|(k, v)| push(*k, *v, 0)),
        }
    }
}

/// The dual-written index answers queries from whatever it holds; commands go to the writer.
fn dual_index_client(
    ctx: &mut C<'_, '_>,
    config: &EventLogConfig,
    index: &BTreeMap<Key, Option<ValueId>>,
    req: ClientReq,
) {
    use crate::policy::OpResult;
    use crate::types::OpKind;
    let result = match req.kind {
        OpKind::Read => OpResult::Read(index.get(&req.key).copied().flatten()),
        _ => OpResult::Redirect(config.writer),
    };
    ctx.reply(req.op, result);
}

impl EventLog {
    /// The write side, if this node is it (for tests and inspectors).
    pub fn writer(&self) -> Option<&Writer> {
        match &self.role {
            Role::Writer(w) => Some(w),
            _ => None,
        }
    }
    pub fn log_replica(&self) -> Option<&LogReplica> {
        match &self.role {
            Role::LogReplica(r) => Some(r),
            _ => None,
        }
    }
    pub fn projection(&self) -> Option<&Projection> {
        match &self.role {
            Role::Projection(p) => Some(p),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::segment::SegmentedLog;
    use crate::types::SimTime;

    fn ev(offset: u64, key: Key, body: EventBody, ms: u64) -> StoredEvent {
        StoredEvent {
            offset,
            key,
            value: Some(ValueId(offset)),
            body,
            appended_at: SimTime(ms * 1000),
        }
    }

    fn spec() -> EventLogSpec {
        EventLogSpec {
            segment_entries: 3,
            min_compaction_lag_ms: 100.0,
            delete_retention_ms: 500.0,
            ..EventLogSpec::default()
        }
    }

    fn store(events: &[StoredEvent]) -> EventStore {
        let mut log = new_store(&spec());
        for e in events {
            log.append(*e, e.appended_at.0);
        }
        log
    }

    fn offsets(log: &EventStore) -> Vec<u64> {
        log.iter().map(|e| e.offset).collect()
    }

    /// Kafka's rules in an event store: the active segment and records younger than the lag are
    /// never touched; only a tombstone supersedes (every other event is kept, even of the same
    /// key); the tombstone stays `delete_retention_ms` after it was first cleaned.
    #[test]
    fn the_shared_cleaner_applies_kafkas_rules_to_an_event_store() {
        let mut log = store(&[
            ev(1, 3, EventBody::Played(1), 0),
            ev(2, 4, EventBody::Played(2), 0),
            ev(3, 3, EventBody::Erased, 10),
            ev(4, 3, EventBody::Played(9), 20), // after the tombstone, in the active segment
            ev(5, 4, EventBody::Played(7), 20),
        ]);
        // Offsets 1..=3 form a closed segment, but its newest record is younger than the lag.
        assert_eq!(compact(&mut log, 50_000, &spec()), (0, 0));
        assert_eq!(compact(&mut log, 200_000, &spec()), (1, 0));
        assert_eq!(
            offsets(&log),
            [2, 3, 4, 5],
            "offsets never change; gaps appear"
        );
        // The tombstone was first cleaned at 200 ms: it stays until 700 ms.
        assert_eq!(compact(&mut log, 650_000, &spec()), (0, 0));
        assert_eq!(compact(&mut log, 700_000, &spec()), (0, 1));
        assert_eq!(offsets(&log), [2, 4, 5]);
        assert_eq!(log.last_index(), 5);
    }

    #[test]
    fn copies_count_a_users_records_but_not_their_tombstone() {
        let log: SegmentedLog<StoredEvent> = store(&[
            ev(1, 3, EventBody::Played(1), 0),
            ev(2, 3, EventBody::Played(2), 0),
            ev(3, 3, EventBody::Erased, 0),
        ]);
        assert_eq!(copies_in_log(&log, 3), 2);
        assert_eq!(copies_in_log(&log, 4), 0);
    }
}
