//! Lost writes and resurrected values (docs/metrics.md), in the real-time order of `check::order`.
//!
//! *Lost write*: an acknowledged write `w` such that, once the run has drained, no live replica of
//! its key holds `w`'s value, nor a value (or tombstone) that could come from an update ordered
//! after `w`. A held value explains `w`'s absence unless its write certainly precedes `w`; a held
//! "nothing" explains it if some delete of the key that may have taken effect does not certainly
//! precede `w` (the initial state never does). This is Jepsen's lost update for a register, read
//! from the replicas themselves instead of a final read.
//!
//! *Resurrected*: an `ok` read that returned a value `v` although an acknowledged delete `d` of the
//! key certainly came after `v`'s write (which was acknowledged before `d` was invoked) and `d` was
//! acknowledged before the read was invoked. Every resurrected read is also a stale read; the count
//! singles out deleted data coming back.

use super::history::{EventType, Operation};
use super::order::{UpdateIndex, precedes};
use crate::types::{Key, OpKind, SimTime, ValueId};
use std::collections::BTreeMap;

/// What each live replica of a key holds once the run is over (`None`: nothing or a tombstone).
/// Keys with no live replica are left out: nothing can be said about them.
pub type FinalValues = BTreeMap<Key, Vec<Option<ValueId>>>;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Found {
    pub count: u64,
    /// The first one, in words.
    pub example: Option<String>,
    /// The first one's key, value and time (µs): for a lost write the write's acknowledgement,
    /// for a resurrected value the read's start. Explanations start from it.
    pub subject: Option<(Key, Option<ValueId>, u64)>,
}

impl Found {
    fn add(&mut self, subject: (Key, Option<ValueId>, u64), example: impl FnOnce() -> String) {
        self.count += 1;
        if self.example.is_none() {
            self.example = Some(example());
            self.subject = Some(subject);
        }
    }
}

/// The deletes of one key, summarised for the two checks.
#[derive(Clone, Debug, Default)]
struct KeyDeletes {
    /// Some delete that may have taken effect was never acknowledged.
    any_unacked: bool,
    /// Acknowledged deletes as (start, end), by start; `min_end_from[i]` = min end of `acked[i..]`.
    acked: Vec<(u64, u64)>,
    min_end_from: Vec<u64>,
    max_end: Option<u64>,
}

impl KeyDeletes {
    fn new(index: &UpdateIndex<'_>, key: Key) -> KeyDeletes {
        let mut k = KeyDeletes::default();
        for d in index.deletes(key) {
            match (d.outcome, d.end_us) {
                (EventType::Ok, Some(end)) => k.acked.push((d.start_us, end)),
                _ => k.any_unacked = true,
            }
        }
        k.acked.sort_unstable();
        k.max_end = k.acked.iter().map(|&(_, end)| end).max();
        k.min_end_from = k.acked.iter().map(|&(_, end)| end).collect();
        for i in (0..k.min_end_from.len().saturating_sub(1)).rev() {
            k.min_end_from[i] = k.min_end_from[i].min(k.min_end_from[i + 1]);
        }
        k
    }

    /// Whether some delete may be ordered after an update invoked at `start_us`.
    fn may_follow(&self, start_us: u64) -> bool {
        self.any_unacked || self.max_end.is_some_and(|end| end >= start_us)
    }

    /// The earliest acknowledgement among acknowledged deletes invoked after `t_us`.
    fn first_ack_of_deletes_invoked_after(&self, t_us: u64) -> Option<u64> {
        let i = self.acked.partition_point(|&(start, _)| start <= t_us);
        self.min_end_from.get(i).copied()
    }
}

/// Counts lost writes against the replicas' final values. When the history was cut short
/// (`complete` false), a held "nothing" may come from a delete past the cut, so it always explains
/// a write's absence.
pub fn lost_writes(
    ops: &[Operation],
    index: &UpdateIndex<'_>,
    finals: &FinalValues,
    complete: bool,
) -> Found {
    let mut found = Found::default();
    let mut deletes: BTreeMap<Key, KeyDeletes> = BTreeMap::new();
    for w in ops {
        let (OpKind::Write, EventType::Ok, Some(value)) = (w.f, w.outcome, w.value) else {
            continue;
        };
        let Some(held) = finals.get(&w.key).filter(|h| !h.is_empty()) else {
            continue;
        };
        let dels = deletes
            .entry(w.key)
            .or_insert_with(|| KeyDeletes::new(index, w.key));
        let explains = |h: &Option<ValueId>| match h {
            Some(v) if *v == value => true,
            Some(v) => index.writer(w.key, *v).is_none_or(|u| !precedes(u, w)),
            None => !complete || dels.may_follow(w.start_us),
        };
        if !held.iter().any(explains) {
            let acked = w.end_us.unwrap_or(w.start_us);
            found.add((w.key, Some(value), acked), || {
                let held: Vec<String> = held.iter().map(|h| show(*h)).collect();
                format!(
                    "the write k{}={value} by process {}, acknowledged at {}, is gone: the live \
                     replicas of k{} end with {}, and none of that can come from an update after it",
                    w.key,
                    w.process,
                    SimTime(w.end_us.unwrap_or(w.start_us)),
                    w.key,
                    held.join(", ")
                )
            });
        }
    }
    found
}

/// Counts reads that returned a value an acknowledged delete had certainly removed.
pub fn resurrected_reads(ops: &[Operation], index: &UpdateIndex<'_>) -> Found {
    let mut found = Found::default();
    let mut deletes: BTreeMap<Key, KeyDeletes> = BTreeMap::new();
    for r in ops {
        let (OpKind::Read, EventType::Ok, Some(value)) = (r.f, r.outcome, r.value) else {
            continue;
        };
        let Some(w) = index.writer(r.key, value) else {
            continue;
        };
        let (EventType::Ok, Some(written)) = (w.outcome, w.end_us) else {
            continue;
        };
        let dels = deletes
            .entry(r.key)
            .or_insert_with(|| KeyDeletes::new(index, r.key));
        if let Some(deleted) = dels.first_ack_of_deletes_invoked_after(written)
            && deleted < r.start_us
        {
            found.add((r.key, Some(value), r.start_us), || {
                format!(
                    "read of k{} by process {} at {} returned {value}, although a delete of k{} \
                     invoked after {value} was written had been acknowledged at {}",
                    r.key,
                    r.process,
                    SimTime(r.start_us),
                    r.key,
                    SimTime(deleted)
                )
            });
        }
    }
    found
}

fn show(v: Option<ValueId>) -> String {
    v.map_or_else(|| "nothing".to_string(), |v| v.to_string())
}

#[cfg(test)]
mod tests {
    //! Hand-built cases; times are µs, everything on key 0.
    use super::*;

    fn op(f: OpKind, value: Option<u64>, start: u64, end: Option<u64>) -> Operation {
        Operation {
            process: 1,
            f,
            key: 0,
            value: value.map(ValueId),
            start_us: start,
            end_us: end,
            outcome: if end.is_some() {
                EventType::Ok
            } else {
                EventType::Info
            },
        }
    }
    fn w(v: u64, start: u64, end: u64) -> Operation {
        op(OpKind::Write, Some(v), start, Some(end))
    }
    fn d(start: u64, end: Option<u64>) -> Operation {
        op(OpKind::Delete, None, start, end)
    }
    fn r(v: Option<u64>, start: u64, end: u64) -> Operation {
        op(OpKind::Read, v, start, Some(end))
    }

    fn lost(ops: &[Operation], held: &[Option<u64>]) -> u64 {
        let index = UpdateIndex::new(ops);
        let finals = FinalValues::from([(0, held.iter().map(|h| h.map(ValueId)).collect())]);
        lost_writes(ops, &index, &finals, true).count
    }

    #[test]
    fn the_last_write_missing_everywhere_is_lost() {
        let ops = [w(1, 0, 10), w(2, 20, 30)];
        assert_eq!(lost(&ops, &[Some(2), Some(2), Some(2)]), 0);
        // One replica keeping v2 is enough.
        assert_eq!(lost(&ops, &[Some(1), Some(2), Some(1)]), 0);
        // Every replica went back to v1 (e.g. last write wins with a slow clock): v2 is lost.
        assert_eq!(lost(&ops, &[Some(1), Some(1), Some(1)]), 1);
        // Nothing at all: both are lost (no delete could explain it).
        assert_eq!(lost(&ops, &[None, None]), 2);
    }

    #[test]
    fn a_concurrent_or_unknown_update_explains_an_absence() {
        // v1 acked at 25, after v2 began at 20: v1 may be ordered after v2.
        assert_eq!(lost(&[w(1, 0, 25), w(2, 20, 30)], &[Some(1)]), 0);
        // A value written by an `info` write may come after anything begun before it was.
        let ops = [w(1, 0, 10), op(OpKind::Write, Some(2), 5, None)];
        assert_eq!(lost(&ops, &[Some(2)]), 0);
        // A delete acked before v1 began does not explain "nothing"; a later one does.
        assert_eq!(lost(&[d(0, Some(5)), w(1, 10, 20)], &[None]), 1);
        assert_eq!(lost(&[w(1, 0, 10), d(20, Some(30))], &[None]), 0);
        // So does a delete whose outcome is unknown, whenever it began.
        assert_eq!(lost(&[d(0, None), w(1, 10, 20)], &[None]), 0);
    }

    #[test]
    fn a_value_nobody_in_the_history_wrote_is_given_the_benefit_of_the_doubt() {
        assert_eq!(lost(&[w(1, 0, 10)], &[Some(99)]), 0);
    }

    #[test]
    fn writes_on_keys_without_a_live_replica_are_not_judged() {
        let ops = [w(1, 0, 10)];
        let index = UpdateIndex::new(&ops);
        assert_eq!(
            lost_writes(&ops, &index, &FinalValues::new(), true).count,
            0
        );
        let empty = FinalValues::from([(0, vec![])]);
        assert_eq!(lost_writes(&ops, &index, &empty, true).count, 0);
    }

    #[test]
    fn on_a_cut_history_nothing_held_may_come_from_a_delete_past_the_cut() {
        let ops = [w(1, 0, 10), w(2, 20, 30)];
        let index = UpdateIndex::new(&ops);
        let nothing = FinalValues::from([(0, vec![None])]);
        assert_eq!(lost_writes(&ops, &index, &nothing, true).count, 2);
        assert_eq!(lost_writes(&ops, &index, &nothing, false).count, 0);
        // A value is still judged: its write is in the history.
        let old = FinalValues::from([(0, vec![Some(ValueId(1))])]);
        assert_eq!(lost_writes(&ops, &index, &old, false).count, 1);
    }

    fn resurrected(ops: &[Operation]) -> u64 {
        resurrected_reads(ops, &UpdateIndex::new(ops)).count
    }

    #[test]
    fn a_value_read_after_its_acknowledged_delete_is_resurrected() {
        let base = [w(1, 0, 10), d(20, Some(30))];
        let with = |read: Operation| {
            let mut ops = base.to_vec();
            ops.push(read);
            resurrected(&ops)
        };
        assert_eq!(with(r(Some(1), 40, 50)), 1);
        assert_eq!(
            with(r(Some(1), 25, 50)),
            0,
            "the delete was still in progress"
        );
        assert_eq!(
            with(r(Some(1), 30, 50)),
            0,
            "acknowledged exactly when the read began"
        );
        assert_eq!(with(r(None, 40, 50)), 0);
    }

    #[test]
    fn a_delete_concurrent_with_the_write_proves_nothing() {
        assert_eq!(
            resurrected(&[w(1, 0, 25), d(20, Some(30)), r(Some(1), 40, 50)]),
            0
        );
        assert_eq!(
            resurrected(&[w(1, 0, 10), d(20, None), r(Some(1), 40, 50)]),
            0
        );
        // One of two deletes qualifying is enough.
        let ops = [
            w(1, 0, 10),
            d(5, Some(30)),
            d(20, Some(35)),
            r(Some(1), 40, 50),
        ];
        assert_eq!(resurrected(&ops), 1);
    }
}
