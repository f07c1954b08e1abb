//! Metrics of the event-log lessons, fed by the `EventLog` policy's structured notes: read-model
//! lag, divergence of a dual-written index vs CDC-derived ones, projection snapshots and rebuilds,
//! log compaction, and the copies of an erased user's data that linger after the request.

use crate::types::{Key, NodeId, SimTime, ValueId};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

/// What an event-log node reports; each one is a trace note too (`Display`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogNote {
    CommandRejected {
        key: Key,
        reason: &'static str,
    },
    /// The write side appended an event; `value` is what the key's current state answers now.
    Appended {
        offset: u64,
        key: Key,
        value: Option<ValueId>,
        event: &'static str,
    },
    /// A projection applied the event at `offset`; `value` is what its read model answers now.
    ProjectionApplied {
        offset: u64,
        key: Key,
        value: Option<ValueId>,
    },
    /// A projection's read model was replaced wholesale (restart, own snapshot, or the write
    /// side's snapshot): it now holds exactly these entries and reflects the log up to `upto`.
    ReadModelLoaded {
        upto: u64,
        values: Arc<[(Key, Option<ValueId>)]>,
    },
    /// The dual-written index stored `value` for `key`.
    IndexWritten {
        key: Key,
        value: Option<ValueId>,
    },
    /// The application crashed after writing the database, before writing the index.
    DualWriteLost {
        pending: u32,
    },
    SnapshotTaken {
        offset: u64,
    },
    /// A projection starts rebuilding its read model: from `from_offset` (exclusive), taken from
    /// `source` ("own snapshot", "scratch", "initial snapshot").
    RebuildStarted {
        from_offset: u64,
        source: &'static str,
    },
    RebuildDone {
        entries_replayed: u64,
    },
    ErasureRequested {
        user: Key,
        crypto: bool,
    },
    KeyShredded {
        user: Key,
    },
    /// A projection learnt that `user`'s key is gone and dropped what it derived from it.
    PlaintextDropped {
        user: Key,
    },
    /// How many copies of `user`'s data this node holds at `place` now.
    Copies {
        user: Key,
        place: &'static str,
        count: u32,
    },
    Compacted {
        records_removed: u64,
        tombstones_purged: u64,
    },
}

impl std::fmt::Display for LogNote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LogNote::CommandRejected { key, reason } => {
                write!(f, "command on aggregate {key} rejected: {reason}")
            }
            LogNote::Appended {
                offset, key, event, ..
            } => write!(f, "event {offset} appended: {key} {event}"),
            LogNote::ProjectionApplied { offset, key, .. } => {
                write!(f, "projection applied event {offset} (aggregate {key})")
            }
            LogNote::IndexWritten { key, .. } => write!(f, "dual write: index entry {key} set"),
            LogNote::ReadModelLoaded { upto, values } => write!(
                f,
                "read model loaded: {} aggregates, up to event {upto}",
                values.len()
            ),
            LogNote::DualWriteLost { pending } => {
                write!(
                    f,
                    "{pending} index writes lost: crashed between the two writes"
                )
            }
            LogNote::SnapshotTaken { offset } => write!(f, "snapshot taken at event {offset}"),
            LogNote::RebuildStarted {
                from_offset,
                source,
            } => write!(
                f,
                "rebuilding the read model from {source} after event {from_offset}"
            ),
            LogNote::RebuildDone { entries_replayed } => {
                write!(f, "read model rebuilt, {entries_replayed} events replayed")
            }
            LogNote::ErasureRequested { user, crypto } => write!(
                f,
                "erasure of user {user} requested ({})",
                if *crypto {
                    "crypto-shredding"
                } else {
                    "tombstone"
                }
            ),
            LogNote::KeyShredded { user } => {
                write!(f, "user {user}'s key deleted: their events are unreadable")
            }
            LogNote::PlaintextDropped { user } => {
                write!(
                    f,
                    "dropped what the read model derived from user {user}'s events"
                )
            }
            LogNote::Copies { user, place, count } => {
                write!(f, "{count} copies of user {user}'s data in the {place}")
            }
            LogNote::Compacted {
                records_removed,
                tombstones_purged,
            } => write!(
                f,
                "log compacted: {records_removed} records removed, {tombstones_purged} tombstones purged"
            ),
        }
    }
}

/// The name of a compensating event in `LogNote::Appended`.
pub const COMPENSATED: &str = "compensated";

/// One erasure request and how its copies went.
#[derive(Clone, Debug, Default)]
struct Erasure {
    requested_us: u64,
    crypto: bool,
    shredded: bool,
    copies_max: u64,
    erased_us: Option<u64>,
}

/// Append times remembered for the lag measurement (8 MB); a projection further behind than
/// this many events is not measured.
pub const MAX_APPEND_TIMES: usize = 1 << 20;

/// The counts a viewer plots over time, taken whenever one of them changes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SeriesPoint {
    pub t_us: u64,
    pub dual_write_divergent: u64,
    pub cdc_divergent: u64,
    /// Readable copies of every user whose erasure was requested.
    pub lingering_copies: u64,
}

/// Points kept; when full, every other one is dropped and points come at most half as often.
pub const MAX_SERIES_POINTS: usize = 4096;

#[derive(Clone, Debug, Default)]
pub struct EventLogTracker {
    series: Vec<SeriesPoint>,
    series_gap_us: u64,
    active: bool,
    /// Append times of the latest `MAX_APPEND_TIMES` offsets: `appended_us[i]` is offset
    /// `appended_base + i` (memory stays bounded however long the run).
    appended_us: VecDeque<u64>,
    appended_base: u64,
    events_appended: u64,
    commands_rejected: u64,
    compensating_events: u64,
    /// Per projection, the highest offset applied (lag counts each event's first application).
    applied_high: BTreeMap<NodeId, u64>,
    lag_max_us: Option<u64>,
    db: BTreeMap<Key, Option<ValueId>>,
    dual: Option<BTreeMap<Key, Option<ValueId>>>,
    dual_divergent: BTreeSet<Key>,
    dual_divergent_max: u64,
    cdc: BTreeMap<NodeId, BTreeMap<Key, Option<ValueId>>>,
    cdc_divergent: BTreeSet<(NodeId, Key)>,
    cdc_divergent_max: u64,
    dual_writes_lost: u64,
    snapshots_taken: u64,
    rebuild_started: BTreeMap<NodeId, u64>,
    rebuilds: u64,
    rebuild_max_us: Option<u64>,
    entries_replayed: u64,
    compactions: u64,
    records_removed: u64,
    tombstones_purged: u64,
    copies: BTreeMap<(Key, NodeId, &'static str), u32>,
    erasures: BTreeMap<Key, Erasure>,
}

impl EventLogTracker {
    pub fn on_note(&mut self, node: NodeId, note: &LogNote, now: SimTime) {
        self.active = true;
        self.apply_note(node, note, now);
        self.sample(now);
    }

    /// Divergence and lingering copies over time (bounded: see `MAX_SERIES_POINTS`).
    pub fn series(&self) -> &[SeriesPoint] {
        &self.series
    }

    fn sample(&mut self, now: SimTime) {
        let lingering = self
            .erasures
            .keys()
            .map(|u| self.lingering_copies(*u))
            .sum();
        let point = SeriesPoint {
            t_us: now.0,
            dual_write_divergent: self.dual_divergent.len() as u64,
            cdc_divergent: self.cdc_divergent.len() as u64,
            lingering_copies: lingering,
        };
        let Some(last) = self.series.last().copied() else {
            self.series.push(point);
            return;
        };
        let same = SeriesPoint {
            t_us: last.t_us,
            ..point
        } == last;
        if same {
            return;
        }
        if self.series.len() > 1 && now.0 < last.t_us + self.series_gap_us {
            // Too close to the previous point: it takes the newer counts instead.
            *self.series.last_mut().expect("not empty") = point;
            return;
        }
        if self.series.len() >= MAX_SERIES_POINTS {
            let mut i = 0;
            self.series.retain(|_| {
                i += 1;
                i % 2 == 1
            });
            self.series_gap_us = (self.series_gap_us * 2).max(1000);
        }
        self.series.push(point);
    }

    fn apply_note(&mut self, node: NodeId, note: &LogNote, now: SimTime) {
        match *note {
            LogNote::CommandRejected { .. } => self.commands_rejected += 1,
            LogNote::Appended {
                offset,
                key,
                value,
                event,
            } => {
                self.compensating_events += u64::from(event == COMPENSATED);
                self.appended(offset, key, value, now)
            }
            LogNote::ProjectionApplied { offset, key, value } => {
                self.projected(node, offset, key, value, now)
            }
            LogNote::IndexWritten { key, value } => self.index_written(key, value),
            LogNote::ReadModelLoaded { ref values, .. } => self.loaded(node, values),
            LogNote::DualWriteLost { pending } => self.dual_writes_lost += pending as u64,
            LogNote::SnapshotTaken { .. } => self.snapshots_taken += 1,
            LogNote::RebuildStarted { .. } => {
                self.rebuilds += 1;
                self.rebuild_started.insert(node, now.0);
            }
            LogNote::RebuildDone { entries_replayed } => {
                self.entries_replayed += entries_replayed;
                if let Some(start) = self.rebuild_started.remove(&node) {
                    let took = now.0 - start;
                    self.rebuild_max_us = Some(self.rebuild_max_us.unwrap_or(0).max(took));
                }
            }
            LogNote::ErasureRequested { user, crypto } => {
                let e = Erasure {
                    requested_us: now.0,
                    crypto,
                    ..Erasure::default()
                };
                self.erasures.insert(user, e);
                self.recount(user, now);
            }
            LogNote::KeyShredded { user } => {
                if let Some(e) = self.erasures.get_mut(&user) {
                    e.shredded = true;
                }
                // The write side's state no longer holds the user: nor should any index.
                self.appended_state(user, None);
                self.recount(user, now);
            }
            LogNote::PlaintextDropped { user } => {
                if let Some(m) = self.cdc.get_mut(&node) {
                    m.insert(user, None);
                }
                self.check_cdc(node, user);
            }
            LogNote::Copies { user, place, count } => {
                self.copies.insert((user, node, place), count);
                self.recount(user, now);
            }
            LogNote::Compacted {
                records_removed,
                tombstones_purged,
            } => {
                self.compactions += 1;
                self.records_removed += records_removed;
                self.tombstones_purged += tombstones_purged;
            }
        }
    }

    fn appended(&mut self, offset: u64, key: Key, value: Option<ValueId>, now: SimTime) {
        self.events_appended += 1;
        self.remember_append(offset, now.0);
        self.appended_state(key, value);
    }

    fn remember_append(&mut self, offset: u64, at_us: u64) {
        if self.appended_us.is_empty() {
            self.appended_base = offset;
        }
        // Offsets arrive in order from one writer; fill any gap so indexes stay aligned.
        while self.appended_base + (self.appended_us.len() as u64) <= offset {
            self.appended_us.push_back(at_us);
        }
        if self.appended_us.len() > MAX_APPEND_TIMES {
            self.appended_us.pop_front();
            self.appended_base += 1;
        }
    }

    /// When `offset` was appended, if it is recent enough to be remembered.
    fn append_time(&self, offset: u64) -> Option<u64> {
        let i = offset.checked_sub(self.appended_base)?;
        self.appended_us.get(i as usize).copied()
    }

    /// The write side's state of `key` is now `value`: re-check every index entry for it.
    fn appended_state(&mut self, key: Key, value: Option<ValueId>) {
        self.db.insert(key, value);
        self.check_dual(key);
        let nodes: Vec<NodeId> = self.cdc.keys().copied().collect();
        for n in nodes {
            self.check_cdc(n, key);
        }
    }

    fn projected(
        &mut self,
        node: NodeId,
        offset: u64,
        key: Key,
        value: Option<ValueId>,
        t: SimTime,
    ) {
        let high = self.applied_high.entry(node).or_insert(0);
        if offset > *high {
            *high = offset;
            if let Some(at) = self.append_time(offset) {
                let lag = t.0.saturating_sub(at);
                self.lag_max_us = Some(self.lag_max_us.unwrap_or(0).max(lag));
            }
        }
        if let std::collections::btree_map::Entry::Vacant(slot) = self.cdc.entry(node) {
            // A projection seen for the first time holds nothing yet: compare every key.
            slot.insert(BTreeMap::new());
            let keys: Vec<Key> = self.db.keys().copied().collect();
            keys.into_iter().for_each(|k| self.check_cdc(node, k));
        }
        if let Some(m) = self.cdc.get_mut(&node) {
            m.insert(key, value);
        }
        self.check_cdc(node, key);
    }

    fn loaded(&mut self, node: NodeId, values: &[(Key, Option<ValueId>)]) {
        self.cdc.insert(node, values.iter().copied().collect());
        self.cdc_divergent.retain(|(n, _)| *n != node);
        let keys: Vec<Key> = self.db.keys().copied().collect();
        keys.into_iter().for_each(|k| self.check_cdc(node, k));
    }

    fn index_written(&mut self, key: Key, value: Option<ValueId>) {
        if self.dual.is_none() {
            self.dual = Some(BTreeMap::new());
            let keys: Vec<Key> = self.db.keys().copied().collect();
            keys.into_iter().for_each(|k| self.check_dual(k));
        }
        if let Some(d) = self.dual.as_mut() {
            d.insert(key, value);
        }
        self.check_dual(key);
    }

    fn db_value(&self, key: Key) -> Option<ValueId> {
        self.db.get(&key).copied().flatten()
    }

    fn check_dual(&mut self, key: Key) {
        let Some(d) = &self.dual else { return };
        let differs = d.get(&key).copied().flatten() != self.db_value(key);
        set_membership(&mut self.dual_divergent, key, differs);
        self.dual_divergent_max = self
            .dual_divergent_max
            .max(self.dual_divergent.len() as u64);
    }

    fn check_cdc(&mut self, node: NodeId, key: Key) {
        let Some(m) = self.cdc.get(&node) else { return };
        let differs = m.get(&key).copied().flatten() != self.db_value(key);
        set_membership(&mut self.cdc_divergent, (node, key), differs);
        self.cdc_divergent_max = self.cdc_divergent_max.max(self.cdc_divergent.len() as u64);
    }

    /// Readable copies of `user`'s data right now (none once their key is shredded).
    pub fn lingering_copies(&self, user: Key) -> u64 {
        // Once the key is gone the log's records are ciphertext nobody can read; what was
        // derived from them in plaintext (read models, snapshots, indexes) still counts.
        let shredded = self.erasures.get(&user).is_some_and(|e| e.shredded);
        self.copies
            .range((user, NodeId(0), "")..)
            .take_while(|((u, _, _), _)| *u == user)
            .filter(|((_, _, place), _)| !(shredded && place.starts_with("log")))
            .map(|(_, c)| *c as u64)
            .sum()
    }

    fn recount(&mut self, user: Key, now: SimTime) {
        let copies = self.lingering_copies(user);
        let Some(e) = self.erasures.get_mut(&user) else {
            return;
        };
        e.copies_max = e.copies_max.max(copies);
        e.erased_us = match (copies, e.erased_us) {
            (0, None) => Some(now.0),
            (0, done) => done,
            // A copy came back (e.g. a rebuild from an old snapshot): not erased after all.
            (_, _) => None,
        };
    }

    /// Divergent items of the dual-written index now, if there is one.
    pub fn dual_write_divergent_items(&self) -> Option<u64> {
        self.dual.as_ref().map(|_| self.dual_divergent.len() as u64)
    }

    /// Divergent (consumer, item) pairs of the CDC-derived read models now.
    pub fn cdc_divergent_items(&self) -> Option<u64> {
        (!self.cdc.is_empty()).then_some(self.cdc_divergent.len() as u64)
    }

    pub fn report(&self) -> EventLogReport {
        if !self.active {
            return EventLogReport::default();
        }
        let ms = |us: u64| us as f64 / 1000.0;
        let some_if = |b: bool, v: u64| b.then_some(v);
        let tomb: Vec<&Erasure> = self.erasures.values().filter(|e| !e.crypto).collect();
        let crypto: Vec<&Erasure> = self.erasures.values().filter(|e| e.crypto).collect();
        let lingering_now: u64 = self
            .erasures
            .iter()
            .filter(|(_, e)| !e.crypto)
            .map(|(u, _)| self.lingering_copies(*u))
            .sum();
        let dual = self.dual.is_some();
        let cdc = !self.cdc.is_empty();
        let rebuilt = self.rebuilds > 0;
        let compacted = self.compactions > 0;
        EventLogReport {
            events_appended: Some(self.events_appended),
            commands_rejected: Some(self.commands_rejected),
            compensating_events: Some(self.compensating_events),
            read_model_lag_ms_max: self.lag_max_us.map(ms),
            dual_write_divergent_items: self.dual_write_divergent_items(),
            dual_write_divergent_items_max: some_if(dual, self.dual_divergent_max),
            dual_writes_lost: some_if(dual, self.dual_writes_lost),
            cdc_divergent_items: self.cdc_divergent_items(),
            cdc_divergent_items_max: some_if(cdc, self.cdc_divergent_max),
            snapshots_taken: some_if(self.snapshots_taken > 0 || rebuilt, self.snapshots_taken),
            rebuilds: some_if(rebuilt, self.rebuilds),
            rebuild_ms: self.rebuild_max_us.map(ms),
            entries_replayed: some_if(rebuilt, self.entries_replayed),
            compactions: some_if(compacted, self.compactions),
            records_removed: some_if(compacted, self.records_removed),
            tombstones_purged: some_if(compacted, self.tombstones_purged),
            lingering_copies_max: (!tomb.is_empty())
                .then(|| tomb.iter().map(|e| e.copies_max).max().unwrap_or(0)),
            lingering_copies_at_end: (!tomb.is_empty()).then_some(lingering_now),
            erased_after_ms: erased_after(&tomb),
            crypto_erased_after_ms: erased_after(&crypto),
        }
    }
}

fn set_membership<T: Ord>(set: &mut BTreeSet<T>, item: T, member: bool) {
    if member {
        set.insert(item);
    } else {
        set.remove(&item);
    }
}

/// The longest time from request to no readable copy; `NEVER_ERASED_MS` if some copy remains.
fn erased_after(erasures: &[&Erasure]) -> Option<f64> {
    if erasures.is_empty() {
        return None;
    }
    let mut worst = 0.0f64;
    for e in erasures {
        match e.erased_us {
            Some(at) => worst = worst.max((at.saturating_sub(e.requested_us)) as f64 / 1000.0),
            None => return Some(NEVER_ERASED_MS),
        }
    }
    Some(worst)
}

/// `erased_after_ms` when a readable copy is still left at the end of the run.
pub const NEVER_ERASED_MS: f64 = -1.0;

/// The event-log fields of the report; each is left out where it does not apply.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct EventLogReport {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events_appended: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commands_rejected: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compensating_events: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_model_lag_ms_max: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dual_write_divergent_items: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dual_write_divergent_items_max: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dual_writes_lost: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cdc_divergent_items: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cdc_divergent_items_max: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshots_taken: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rebuilds: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rebuild_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entries_replayed: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compactions: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub records_removed: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tombstones_purged: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lingering_copies_max: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lingering_copies_at_end: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub erased_after_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crypto_erased_after_ms: Option<f64>,
}

impl EventLogReport {
    /// Every field present (at 0): the names `expect` blocks may use.
    pub fn all_fields() -> EventLogReport {
        EventLogReport {
            events_appended: Some(0),
            commands_rejected: Some(0),
            compensating_events: Some(0),
            read_model_lag_ms_max: Some(0.0),
            dual_write_divergent_items: Some(0),
            dual_write_divergent_items_max: Some(0),
            dual_writes_lost: Some(0),
            cdc_divergent_items: Some(0),
            cdc_divergent_items_max: Some(0),
            snapshots_taken: Some(0),
            rebuilds: Some(0),
            rebuild_ms: Some(0.0),
            entries_replayed: Some(0),
            compactions: Some(0),
            records_removed: Some(0),
            tombstones_purged: Some(0),
            lingering_copies_max: Some(0),
            lingering_copies_at_end: Some(0),
            erased_after_ms: Some(0.0),
            crypto_erased_after_ms: Some(0.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const N1: NodeId = NodeId(0);
    const N2: NodeId = NodeId(1);
    const N3: NodeId = NodeId(2);

    fn at(ms: u64) -> SimTime {
        SimTime(ms * 1000)
    }

    fn appended(t: &mut EventLogTracker, offset: u64, key: Key, v: u64, ms: u64) {
        let value = Some(ValueId(v));
        let note = LogNote::Appended {
            offset,
            key,
            value,
            event: "deposited",
        };
        t.on_note(N1, &note, at(ms));
    }

    #[test]
    fn lag_counts_the_first_application_only() {
        let mut t = EventLogTracker::default();
        appended(&mut t, 1, 7, 1, 10);
        let applied = LogNote::ProjectionApplied {
            offset: 1,
            key: 7,
            value: Some(ValueId(1)),
        };
        t.on_note(N2, &applied, at(40));
        // A replay after a restart is not lag.
        t.on_note(N2, &applied, at(5000));
        assert_eq!(t.report().read_model_lag_ms_max, Some(30.0));
        assert_eq!(t.cdc_divergent_items(), Some(0));
    }

    #[test]
    fn append_times_stay_bounded() {
        let mut t = EventLogTracker::default();
        let n = MAX_APPEND_TIMES as u64 + 10;
        for offset in 1..=n {
            t.remember_append(offset, offset);
        }
        assert_eq!(t.appended_us.len(), MAX_APPEND_TIMES);
        assert_eq!(t.append_time(10), None, "the oldest were forgotten");
        assert_eq!(t.append_time(n), Some(n));
        assert_eq!(t.append_time(n + 1), None);
    }

    #[test]
    fn an_index_entry_behind_the_database_diverges_until_rewritten() {
        let mut t = EventLogTracker::default();
        appended(&mut t, 1, 7, 1, 0);
        appended(&mut t, 2, 7, 2, 1);
        let write = |v| LogNote::IndexWritten {
            key: 7,
            value: Some(ValueId(v)),
        };
        t.on_note(N3, &write(2), at(5));
        t.on_note(N3, &write(1), at(6)); // the older write arrives last
        assert_eq!(t.dual_write_divergent_items(), Some(1));
        t.on_note(N3, &write(2), at(7));
        assert_eq!(t.dual_write_divergent_items(), Some(0));
        assert_eq!(t.report().dual_write_divergent_items_max, Some(1));
    }

    #[test]
    fn erasure_is_done_when_the_last_readable_copy_goes() {
        let mut t = EventLogTracker::default();
        let copies = |place, count| LogNote::Copies {
            user: 3,
            place,
            count,
        };
        t.on_note(N1, &copies("log", 5), at(0));
        t.on_note(N2, &copies("read model", 1), at(0));
        t.on_note(
            N1,
            &LogNote::ErasureRequested {
                user: 3,
                crypto: false,
            },
            at(100),
        );
        t.on_note(N2, &copies("read model", 0), at(150));
        assert_eq!(t.report().erased_after_ms, Some(NEVER_ERASED_MS));
        t.on_note(N1, &copies("log", 0), at(900));
        let r = t.report();
        assert_eq!(r.erased_after_ms, Some(800.0));
        assert_eq!(r.lingering_copies_max, Some(6));
        assert_eq!(r.lingering_copies_at_end, Some(0));
        assert_eq!(r.crypto_erased_after_ms, None);
    }

    #[test]
    fn shredding_hides_the_log_but_not_derived_plaintext() {
        let mut t = EventLogTracker::default();
        t.on_note(
            N1,
            &LogNote::Copies {
                user: 4,
                place: "log",
                count: 9,
            },
            at(0),
        );
        t.on_note(
            N2,
            &LogNote::Copies {
                user: 4,
                place: "read model",
                count: 1,
            },
            at(0),
        );
        t.on_note(
            N1,
            &LogNote::ErasureRequested {
                user: 4,
                crypto: true,
            },
            at(100),
        );
        t.on_note(N1, &LogNote::KeyShredded { user: 4 }, at(100));
        assert_eq!(t.lingering_copies(4), 1);
        t.on_note(
            N2,
            &LogNote::Copies {
                user: 4,
                place: "read model",
                count: 0,
            },
            at(130),
        );
        assert_eq!(t.report().crypto_erased_after_ms, Some(30.0));
    }
}
