//! The log cleaner, shared by the write side and the log replicas (each cleans its own copy):
//! Kafka's compaction rules, restricted to erasure. An event store keeps every fact, so only
//! records of a key with a later tombstone are ever removed.

use super::domain::{EventBody, StoredEvent};
use crate::scenario::schema::EventLogSpec;
use crate::types::{Key, ms_to_us};
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default)]
pub struct Cleaner {
    /// When this cleaner first saw each tombstone (offset -> µs), for `delete_retention_ms`.
    tombstone_seen_us: BTreeMap<u64, u64>,
}

impl Cleaner {
    /// One pass over `log` (whose newest offset is `log_end`): outside the active segment,
    /// records older than `min_compaction_lag_ms` whose key has a later tombstone are dropped;
    /// a tombstone is dropped `delete_retention_ms` after the cleaner first saw it. Returns
    /// (records removed, tombstones purged).
    pub fn clean(
        &mut self,
        log: &mut Vec<StoredEvent>,
        log_end: u64,
        now_us: u64,
        spec: &EventLogSpec,
    ) -> (u64, u64) {
        let seg = spec.segment_entries.max(1) as u64;
        let active_start = (log_end / seg) * seg + 1;
        let lag = ms_to_us(spec.min_compaction_lag_ms);
        let cleanable =
            |e: &StoredEvent| e.offset < active_start && e.appended_at.0 + lag <= now_us;
        let mut latest_tombstone: BTreeMap<Key, u64> = BTreeMap::new();
        for e in log
            .iter()
            .filter(|e| e.body == EventBody::Erased && cleanable(e))
        {
            latest_tombstone.insert(e.key, e.offset);
            self.tombstone_seen_us.entry(e.offset).or_insert(now_us);
        }
        let retention = ms_to_us(spec.delete_retention_ms);
        let (mut removed, mut purged) = (0u64, 0u64);
        let seen = &self.tombstone_seen_us;
        log.retain(|e| {
            let tombstone = e.body == EventBody::Erased;
            let drop = if tombstone {
                seen.get(&e.offset).is_some_and(|t| t + retention <= now_us)
            } else {
                cleanable(e) && latest_tombstone.get(&e.key).is_some_and(|t| *t > e.offset)
            };
            match (drop, tombstone) {
                (true, true) => purged += 1,
                (true, false) => removed += 1,
                _ => {}
            }
            !drop
        });
        (removed, purged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{SimTime, ValueId};

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

    #[test]
    fn kafka_rules_active_segment_lag_and_tombstone_retention() {
        let mut log = vec![
            ev(1, 3, EventBody::Played(1), 0),
            ev(2, 4, EventBody::Played(2), 0),
            ev(3, 3, EventBody::Erased, 10),
            ev(4, 3, EventBody::Played(9), 20), // after the tombstone: kept
        ];
        let mut c = Cleaner::default();
        // Offsets 1..=3 form a closed segment, but the tombstone is younger than the lag.
        assert_eq!(c.clean(&mut log, 4, 50_000, &spec()), (0, 0));
        // Everything in the active segment (offset 4 on) is untouched whatever its age.
        assert_eq!(c.clean(&mut log, 4, 200_000, &spec()), (1, 0));
        let offsets: Vec<u64> = log.iter().map(|e| e.offset).collect();
        assert_eq!(
            offsets,
            [2, 3, 4],
            "offsets never change; compaction leaves gaps"
        );
        // The tombstone stays delete_retention_ms after the cleaner first saw it (at 200 ms).
        assert_eq!(c.clean(&mut log, 4, 650_000, &spec()), (0, 0));
        assert_eq!(c.clean(&mut log, 4, 700_000, &spec()), (0, 1));
        assert_eq!(log.len(), 2);
    }
}
