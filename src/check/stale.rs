//! Stale reads, exactly as defined in README.md ("Metrics"):
//!
//! A read of key k invoked at time t is *stale* when some write or delete w of k was acknowledged
//! before t, and what the read returned could only have come from operations that completed before
//! w was invoked (the initial empty state counts as one, completed at the beginning of time).
//!
//! Streaming: per key we keep the most recent `KEEP_PER_KEY` writes/deletes (enough for any read
//! that is not absurdly far behind), the writes that left that window unacknowledged (up to
//! `KEEP_PER_KEY` more: their values may still show up, and must never count as stale) and a
//! summary of the acknowledged older ones, so memory does not grow with the run length. A read
//! that returns a value older than the window, or that missed updates which already left it, is
//! stale when the window proves it; its `versions_behind` and `behind_ms` are then lower bounds
//! (`saturated`).

use crate::types::{Key, OpKind, ValueId};
use std::collections::VecDeque;

/// Writes/deletes remembered per key.
pub const KEEP_PER_KEY: usize = 64;
/// Stale reads kept in full; beyond this only counted.
pub const KEEP_RECORDS: usize = 10_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    Pending,
    Ok {
        ack_us: u64,
    },
    /// Failed (never applied) or unknown (`info`): never "completed" for this definition.
    NotCompleted,
}

/// An update as the window keeps it: 32 bytes (value and status packed into words with
/// sentinels), so a key's window takes fewer cache lines; the tracker's memory is touched at a
/// random key on every operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Update {
    op: u64,
    /// The value written; `NO_VALUE` for a delete.
    value: u64,
    invoke_us: u64,
    /// The acknowledgement time, or `PENDING` / `NOT_COMPLETED`.
    status: u64,
}

/// `Update::value` of a delete. Values are numbered from 1 by the workload, so this one never
/// names a real write.
const NO_VALUE: u64 = u64::MAX;
const PENDING: u64 = u64::MAX;
const NOT_COMPLETED: u64 = u64::MAX - 1;

impl Update {
    fn new(op: u64, value: Option<ValueId>, invoke_us: u64) -> Update {
        debug_assert!(value != Some(ValueId(NO_VALUE)));
        Update {
            op,
            value: value.map_or(NO_VALUE, |v| v.0),
            invoke_us,
            status: PENDING,
        }
    }

    fn value(&self) -> Option<ValueId> {
        (self.value != NO_VALUE).then_some(ValueId(self.value))
    }

    fn status(&self) -> Status {
        match self.status {
            PENDING => Status::Pending,
            NOT_COMPLETED => Status::NotCompleted,
            ack_us => Status::Ok { ack_us },
        }
    }

    fn set_status(&mut self, status: Status) {
        self.status = match status {
            Status::Pending => PENDING,
            Status::NotCompleted => NOT_COMPLETED,
            // Acknowledgement times are simulated microseconds, far below the sentinels.
            Status::Ok { ack_us } => ack_us.min(NOT_COMPLETED - 1),
        };
    }
}

#[derive(Clone, Debug, Default)]
struct KeyLog {
    updates: VecDeque<Update>,
    /// Latest completion among updates dropped from the window.
    evicted_max_ack: Option<u64>,
    evicted: u64,
    /// Updates that left the window before they were acknowledged (pending, failed or `info`).
    evicted_open: VecDeque<Update>,
    /// Some such update was forgotten: a value found nowhere cannot be classified.
    evicted_open_lost: bool,
    /// Deletes: the latest completion, and how many have not completed (pending or `info`).
    deletes_max_ack: Option<u64>,
    deletes_open: u32,
}

/// One stale read, with the write it missed.
#[derive(Clone, Debug, PartialEq)]
pub struct StaleRead {
    pub op: u64,
    pub process: u64,
    pub key: Key,
    pub invoke_us: u64,
    pub returned: Option<ValueId>,
    /// The earliest-acknowledged update the read should have seen (`None` value = a delete).
    pub missed_op: u64,
    pub missed_value: Option<ValueId>,
    pub missed_ack_us: u64,
    /// When the missed update was invoked (explanations re-run the simulation from before it).
    pub missed_invoke_us: u64,
    /// How many acknowledged updates the read missed.
    pub versions_behind: u64,
    /// `invoke_us - missed_ack_us`, in milliseconds.
    pub behind_ms: f64,
    /// True when the read was so far behind (beyond the per-key window) that `versions_behind`
    /// and `behind_ms` are only lower bounds.
    pub saturated: bool,
}

#[derive(Clone, Debug, Default)]
pub struct StaleTracker {
    keys: Vec<KeyLog>,
    pub count: u64,
    pub records: Vec<StaleRead>,
    pub max_versions_behind: u64,
    pub max_behind_ms: f64,
    /// Stale reads whose depth is only a lower bound (`StaleRead::saturated`); while any exist,
    /// so are `max_versions_behind` and `max_behind_ms`.
    pub saturated: u64,
}

/// The read being classified.
#[derive(Clone, Copy, Debug)]
pub struct ReadDone {
    pub op: u64,
    pub process: u64,
    pub key: Key,
    pub invoke_us: u64,
    pub returned: Option<ValueId>,
}

impl KeyLog {
    /// Moves an update out of the window, keeping what classification still needs.
    fn evict(&mut self, old: Update) {
        self.evicted += 1;
        if let Status::Ok { ack_us } = old.status() {
            self.note_evicted_ack(ack_us);
            return;
        }
        if self.evicted_open.len() == KEEP_PER_KEY {
            self.evicted_open.pop_front();
            self.evicted_open_lost = true;
        }
        self.evicted_open.push_back(old);
    }

    fn note_evicted_ack(&mut self, ack_us: u64) {
        self.evicted_max_ack = Some(self.evicted_max_ack.map_or(ack_us, |m| m.max(ack_us)));
    }
}

impl StaleTracker {
    fn key(&mut self, key: Key) -> &mut KeyLog {
        let i = key as usize;
        if i >= self.keys.len() {
            self.keys.resize_with(i + 1, KeyLog::default);
        }
        &mut self.keys[i]
    }

    /// A write or delete was invoked.
    pub fn on_update_invoke(
        &mut self,
        op: u64,
        key: Key,
        kind: OpKind,
        value: Option<ValueId>,
        now_us: u64,
    ) {
        let k = self.key(key);
        if kind == OpKind::Delete {
            k.deletes_open += 1;
        }
        if k.updates.len() == KEEP_PER_KEY
            && let Some(old) = k.updates.pop_front()
        {
            k.evict(old);
        }
        k.updates.push_back(Update::new(op, value, now_us));
    }

    /// A write or delete completed: `ok` (acknowledged), or not (`fail` / `info`).
    pub fn on_update_done(
        &mut self,
        op: u64,
        key: Key,
        kind: OpKind,
        ok: bool,
        failed: bool,
        now_us: u64,
    ) {
        let k = self.key(key);
        let status = if ok {
            Status::Ok { ack_us: now_us }
        } else {
            Status::NotCompleted
        };
        if let Some(u) = k.updates.iter_mut().rev().find(|u| u.op == op) {
            u.set_status(status);
        } else if let Some(u) = k.evicted_open.iter_mut().find(|u| u.op == op) {
            u.set_status(status);
            if ok {
                k.note_evicted_ack(now_us);
            }
        }
        if kind == OpKind::Delete {
            // An `info` delete may take effect at any later time, so it stays open for ever.
            if ok || failed {
                k.deletes_open -= 1;
            }
            if ok {
                k.deletes_max_ack = Some(k.deletes_max_ack.map_or(now_us, |m| m.max(now_us)));
            }
        }
    }

    /// Classifies a completed (`ok`) read; returns true if it was stale.
    pub fn on_read_ok(&mut self, r: ReadDone) -> bool {
        let Some((bound, approximate)) = self.source_bound(r) else {
            return false;
        };
        let k = self.key(r.key);
        // Every acknowledged update invoked after all possible sources completed, acknowledged
        // before the read began, is one the read should have seen.
        let mut behind = 0u64;
        let mut earliest: Option<Update> = None;
        for u in k.updates.iter().rev() {
            if bound.is_some_and(|c| u.invoke_us <= c) {
                break;
            }
            if let Status::Ok { ack_us } = u.status()
                && ack_us < r.invoke_us
            {
                behind += 1;
                if earliest
                    .is_none_or(|e| matches!(e.status(), Status::Ok { ack_us: a } if ack_us < a))
                {
                    earliest = Some(*u);
                }
            }
        }
        // Evicted updates acknowledged after the sources completed may have been missed too.
        let saturated = approximate
            || (k.evicted > 0 && bound.is_none_or(|c| k.evicted_max_ack.is_some_and(|a| a > c)));
        let Some(missed) = earliest else { return false };
        let Status::Ok { ack_us } = missed.status() else {
            return false;
        };
        self.record(r, missed, ack_us, behind, saturated);
        true
    }

    /// The latest time any operation that could have produced the read's result completed:
    /// `Some(t)`, `None` for "only the initial state" (the beginning of time), or no answer at all
    /// (outer `None`) when some possible source never completed, so the read cannot be stale.
    /// The flag is true when the time is only an upper bound (the source left the window).
    fn source_bound(&mut self, r: ReadDone) -> Option<(Option<u64>, bool)> {
        let k = self.key(r.key);
        let Some(v) = r.returned else {
            return (k.deletes_open == 0).then_some((k.deletes_max_ack, false));
        };
        let completed = |u: &Update| match u.status() {
            Status::Ok { ack_us } => Some((Some(ack_us), false)),
            _ => None,
        };
        if let Some(u) = k.updates.iter().rev().find(|u| u.value == v.0) {
            return completed(u);
        }
        if let Some(u) = k.evicted_open.iter().find(|u| u.value == v.0) {
            return completed(u);
        }
        if k.evicted_open_lost {
            return None;
        }
        // Acknowledged before it left the window: no later than the newest evicted ack.
        k.evicted_max_ack.map(|a| (Some(a), true))
    }

    fn record(&mut self, r: ReadDone, missed: Update, ack_us: u64, behind: u64, saturated: bool) {
        self.count += 1;
        let behind_ms = (r.invoke_us - ack_us) as f64 / 1000.0;
        self.max_versions_behind = self.max_versions_behind.max(behind);
        self.max_behind_ms = self.max_behind_ms.max(behind_ms);
        self.saturated += u64::from(saturated);
        if self.records.len() < KEEP_RECORDS {
            self.records.push(StaleRead {
                op: r.op,
                process: r.process,
                key: r.key,
                invoke_us: r.invoke_us,
                returned: r.returned,
                missed_op: missed.op,
                missed_value: missed.value(),
                missed_ack_us: ack_us,
                missed_invoke_us: missed.invoke_us,
                versions_behind: behind,
                behind_ms,
                saturated,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    //! Each case is derived by hand from the definition in the module doc. Times are µs.
    use super::*;

    const K: Key = 7;

    /// Drives a tracker like the engine does: one key, ops numbered by the caller.
    #[derive(Default)]
    struct Script {
        t: StaleTracker,
        deletes: Vec<u64>,
    }

    impl Script {
        fn write(&mut self, op: u64, value: u64, at: u64) {
            self.t
                .on_update_invoke(op, K, OpKind::Write, Some(ValueId(value)), at);
        }
        fn delete(&mut self, op: u64, at: u64) {
            self.deletes.push(op);
            self.t.on_update_invoke(op, K, OpKind::Delete, None, at);
        }
        fn kind(&self, op: u64) -> OpKind {
            if self.deletes.contains(&op) {
                OpKind::Delete
            } else {
                OpKind::Write
            }
        }
        fn ack(&mut self, op: u64, at: u64) {
            self.t.on_update_done(op, K, self.kind(op), true, false, at);
        }
        fn info(&mut self, op: u64, at: u64) {
            self.t
                .on_update_done(op, K, self.kind(op), false, false, at);
        }
        fn fail(&mut self, op: u64, at: u64) {
            self.t.on_update_done(op, K, self.kind(op), false, true, at);
        }
        /// Classifies a read invoked at `invoke`; returns its record if it was stale.
        fn read(&mut self, invoke: u64, returned: Option<u64>) -> Option<StaleRead> {
            let before = self.t.count;
            let stale = self.t.on_read_ok(ReadDone {
                op: 1000 + before,
                process: 1,
                key: K,
                invoke_us: invoke,
                returned: returned.map(ValueId),
            });
            assert_eq!(
                stale,
                self.t.count == before + 1,
                "return value matches count"
            );
            stale.then(|| {
                self.t
                    .records
                    .last()
                    .cloned()
                    .expect("stale reads are kept")
            })
        }
    }

    #[test]
    fn older_value_after_an_acked_write_is_stale_by_exactly_that_write() {
        let mut s = Script::default();
        s.write(1, 11, 0);
        s.ack(1, 1_000);
        s.write(2, 12, 2_000);
        s.ack(2, 3_000);
        // v11 completed at 1000 < w2's invocation at 2000; w2 acked at 3000 < read at 5000.
        let r = s.read(5_000, Some(11)).expect("stale");
        assert_eq!(r.missed_op, 2);
        assert_eq!(r.missed_value, Some(ValueId(12)));
        assert_eq!(r.missed_ack_us, 3_000);
        assert_eq!(r.versions_behind, 1);
        assert_eq!(r.behind_ms, 2.0);
        assert!(!r.saturated);
        assert_eq!((s.t.max_versions_behind, s.t.max_behind_ms), (1, 2.0));
        // The newest value is never stale.
        assert!(s.read(5_000, Some(12)).is_none());
    }

    #[test]
    fn read_concurrent_with_the_write_is_not_stale() {
        let mut s = Script::default();
        s.write(1, 11, 0);
        s.ack(1, 1_000);
        s.write(2, 12, 2_000);
        // w2 still pending when the read completes.
        assert!(s.read(2_500, Some(11)).is_none());
        // w2 acked after the read was invoked (2500), before it completed.
        s.ack(2, 3_000);
        assert!(s.read(2_500, Some(11)).is_none());
        // Acked exactly when the read was invoked: not "before" it.
        assert!(s.read(3_000, Some(11)).is_none());
        assert!(s.read(3_001, Some(11)).is_some());
    }

    #[test]
    fn value_whose_write_overlapped_the_missed_write_is_not_stale() {
        let mut s = Script::default();
        s.write(1, 11, 0);
        s.write(2, 12, 1_000); // invoked before w1 completed
        s.ack(1, 2_000);
        s.ack(2, 3_000);
        // v11 completed at 2000, not before w2 was invoked (1000): either order is legal.
        assert!(s.read(5_000, Some(11)).is_none());
        // Completed exactly when w2 was invoked: still not "before".
        let mut s = Script::default();
        s.write(1, 11, 0);
        s.ack(1, 1_000);
        s.write(2, 12, 1_000);
        s.ack(2, 2_000);
        assert!(s.read(5_000, Some(11)).is_none());
    }

    #[test]
    fn initial_empty_state_after_an_acked_write_is_stale() {
        let mut s = Script::default();
        s.write(1, 11, 500);
        s.ack(1, 1_500);
        let r = s.read(4_000, None).expect("stale");
        assert_eq!((r.missed_op, r.versions_behind, r.behind_ms), (1, 1, 2.5));
        assert_eq!(r.returned, None);
        // Before any write is acked, the empty state is what a read must see.
        let mut s = Script::default();
        s.write(1, 11, 500);
        assert!(s.read(600, None).is_none());
    }

    #[test]
    fn empty_after_an_acked_delete_is_not_stale_until_a_later_write_is_acked() {
        let mut s = Script::default();
        s.write(1, 11, 0);
        s.ack(1, 1_000);
        s.delete(2, 2_000);
        s.ack(2, 3_000);
        assert!(s.read(4_000, None).is_none());
        // The old value is now stale: the delete was invoked after v11 completed.
        let r = s.read(4_000, Some(11)).expect("stale");
        assert_eq!((r.missed_op, r.missed_value, r.behind_ms), (2, None, 1.0));
        s.write(3, 13, 5_000);
        s.ack(3, 6_000);
        let r = s.read(8_000, None).expect("stale");
        assert_eq!((r.missed_op, r.versions_behind, r.behind_ms), (3, 1, 2.0));
    }

    #[test]
    fn empty_while_a_delete_is_pending_or_unknown_is_not_stale() {
        let mut s = Script::default();
        s.write(1, 11, 0);
        s.ack(1, 1_000);
        s.delete(2, 2_000);
        assert!(s.read(3_000, None).is_none(), "delete pending");
        s.info(2, 4_000);
        assert!(s.read(5_000, None).is_none(), "delete may take effect");
        // A failed delete never took effect: empty is stale again (w1 missed).
        let mut s = Script::default();
        s.write(1, 11, 0);
        s.ack(1, 1_000);
        s.delete(2, 2_000);
        s.fail(2, 3_000);
        let r = s.read(5_000, None).expect("stale");
        assert_eq!((r.missed_op, r.behind_ms), (1, 4.0));
    }

    #[test]
    fn value_of_an_unknown_or_failed_write_is_never_stale() {
        let mut s = Script::default();
        s.write(1, 11, 0);
        s.info(1, 1_000);
        s.write(2, 12, 2_000);
        s.write(3, 13, 2_100);
        s.fail(3, 2_200);
        s.ack(2, 3_000);
        assert!(
            s.read(5_000, Some(11)).is_none(),
            "info: may be applied late"
        );
        assert!(s.read(5_000, Some(13)).is_none(), "never completed");
        assert!(s.read(5_000, Some(12)).is_none());
    }

    #[test]
    fn two_missed_writes_count_two_and_measure_from_the_earliest_ack() {
        let mut s = Script::default();
        s.write(1, 11, 0);
        s.ack(1, 1_000);
        s.write(2, 12, 2_000);
        s.write(3, 13, 2_500);
        s.ack(3, 4_000); // acked before w2
        s.ack(2, 6_000);
        let r = s.read(10_000, Some(11)).expect("stale");
        assert_eq!(r.versions_behind, 2);
        assert_eq!((r.missed_op, r.missed_ack_us, r.behind_ms), (3, 4_000, 6.0));
        // A read invoked between the two acks missed only w3.
        let r = s.read(5_000, Some(11)).expect("stale");
        assert_eq!((r.versions_behind, r.missed_op, r.behind_ms), (1, 3, 1.0));
        assert_eq!(s.t.count, 2);
        assert_eq!((s.t.max_versions_behind, s.t.max_behind_ms), (2, 6.0));
    }

    #[test]
    fn keys_are_independent() {
        let mut s = Script::default();
        s.write(1, 11, 0);
        s.ack(1, 1_000);
        s.t.on_update_invoke(2, K + 1, OpKind::Write, Some(ValueId(21)), 2_000);
        s.t.on_update_done(2, K + 1, OpKind::Write, true, false, 3_000);
        assert!(s.read(5_000, Some(11)).is_none());
    }

    /// `n` sequential writes v1..=vn, write i invoked at 10*i ms and acked 1 ms later.
    fn sequential_writes(n: u64) -> Script {
        let mut s = Script::default();
        for i in 1..=n {
            s.write(i, i, i * 10_000);
            s.ack(i, i * 10_000 + 1_000);
        }
        s
    }

    #[test]
    fn a_read_far_behind_the_window_is_stale_and_flagged_saturated() {
        let n = KEEP_PER_KEY as u64 + 6;
        let mut s = sequential_writes(n);
        let t = n * 10_000 + 5_000;
        // Within the window: exact.
        let r = s.read(t, Some(n - 2)).expect("stale");
        assert_eq!((r.versions_behind, r.saturated), (2, false));
        assert_eq!(s.t.saturated, 0, "the maxima are exact so far");
        // v1 completed before w2..=wn were invoked: n-1 missed, but only the window is known.
        let r = s.read(t, Some(1)).expect("stale");
        assert!(r.saturated, "versions_behind is a lower bound here");
        let window = KEEP_PER_KEY as u64;
        assert!((window - 1..n).contains(&r.versions_behind), "{r:?}");
        // The initial state missed all n writes.
        let r = s.read(t, None).expect("stale");
        assert!(r.saturated);
        assert!((window..=n).contains(&r.versions_behind), "{r:?}");
        assert_eq!(s.t.saturated, 2, "two reads only have lower bounds");
        // The newest value is still not stale.
        assert!(s.read(t, Some(n)).is_none());
    }

    #[test]
    fn an_unknown_write_pushed_out_of_the_window_is_still_not_stale() {
        let mut s = Script::default();
        s.write(1, 1, 0);
        s.info(1, 1_000);
        for i in 2..=KEEP_PER_KEY as u64 + 4 {
            s.write(i, i, i * 10_000);
            s.ack(i, i * 10_000 + 1_000);
        }
        // The unknown write may take effect at any time, e.g. now (LWW with a fast clock).
        assert!(s.read(10_000_000, Some(1)).is_none());
    }

    #[test]
    fn a_write_pending_when_it_left_the_window_keeps_its_acknowledgement() {
        let mut s = Script::default();
        s.write(1, 1, 0);
        for i in 2..=KEEP_PER_KEY as u64 + 4 {
            s.write(i, i, i * 10_000);
            s.ack(i, i * 10_000 + 1_000);
        }
        // w1 is acked long after every other write was invoked: they were concurrent with it,
        // so v1 is a legal (not stale) answer.
        s.ack(1, 5_000_000);
        assert!(s.read(6_000_000, Some(1)).is_none());
    }
}
