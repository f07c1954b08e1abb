//! Stale reads, exactly as defined in README.md ("Metrics"):
//!
//! A read of key k invoked at time t is *stale* when some write or delete w of k was acknowledged
//! before t, and what the read returned could only have come from operations that completed before
//! w was invoked (the initial empty state counts as one, completed at the beginning of time).
//!
//! Streaming: per key we keep the most recent `KEEP_PER_KEY` writes/deletes (enough for any read
//! that is not absurdly far behind) and a summary of the older ones, so memory does not grow with
//! the run length. A read that returns a value older than that window is still classified stale
//! correctly when it is; only its `versions_behind` is then a lower bound (`saturated`).

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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Update {
    op: u64,
    /// `None` for a delete.
    value: Option<ValueId>,
    invoke_us: u64,
    status: Status,
}

#[derive(Clone, Debug, Default)]
struct KeyLog {
    updates: VecDeque<Update>,
    /// Latest completion among updates dropped from the window.
    evicted_max_ack: Option<u64>,
    evicted: u64,
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
    /// How many acknowledged updates the read missed.
    pub versions_behind: u64,
    /// `invoke_us - missed_ack_us`, in milliseconds.
    pub behind_ms: f64,
    /// True when the read was so far behind that `versions_behind` is only a lower bound.
    pub saturated: bool,
}

#[derive(Clone, Debug, Default)]
pub struct StaleTracker {
    keys: Vec<KeyLog>,
    pub count: u64,
    pub records: Vec<StaleRead>,
    pub max_versions_behind: u64,
    pub max_behind_ms: f64,
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
            k.evicted += 1;
            if let Status::Ok { ack_us } = old.status {
                k.evicted_max_ack = Some(k.evicted_max_ack.map_or(ack_us, |m| m.max(ack_us)));
            }
        }
        k.updates.push_back(Update {
            op,
            value,
            invoke_us: now_us,
            status: Status::Pending,
        });
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
        if let Some(u) = k.updates.iter_mut().rev().find(|u| u.op == op) {
            u.status = if ok {
                Status::Ok { ack_us: now_us }
            } else {
                Status::NotCompleted
            };
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
        let Some(bound) = self.source_bound(r) else {
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
            if let Status::Ok { ack_us } = u.status
                && ack_us < r.invoke_us
            {
                behind += 1;
                if earliest
                    .is_none_or(|e| matches!(e.status, Status::Ok { ack_us: a } if ack_us < a))
                {
                    earliest = Some(*u);
                }
            }
        }
        let saturated =
            k.evicted > 0 && bound.is_none_or(|c| k.evicted_max_ack.is_some_and(|a| a > c));
        let Some(missed) = earliest else { return false };
        let Status::Ok { ack_us } = missed.status else {
            return false;
        };
        self.record(r, missed, ack_us, behind, saturated);
        true
    }

    /// The latest time any operation that could have produced the read's result completed:
    /// `Some(t)`, `None` for "only the initial state" (the beginning of time), or no answer at all
    /// (outer `None`) when some possible source never completed, so the read cannot be stale.
    fn source_bound(&mut self, r: ReadDone) -> Option<Option<u64>> {
        let k = self.key(r.key);
        match r.returned {
            None => (k.deletes_open == 0).then_some(k.deletes_max_ack),
            Some(v) => match k.updates.iter().rev().find(|u| u.value == Some(v)) {
                Some(u) => match u.status {
                    Status::Ok { ack_us } => Some(Some(ack_us)),
                    _ => None,
                },
                // Older than the window: it completed no later than the newest evicted update.
                None => k.evicted_max_ack.map(Some),
            },
        }
    }

    fn record(&mut self, r: ReadDone, missed: Update, ack_us: u64, behind: u64, saturated: bool) {
        self.count += 1;
        let behind_ms = (r.invoke_us - ack_us) as f64 / 1000.0;
        self.max_versions_behind = self.max_versions_behind.max(behind);
        self.max_behind_ms = self.max_behind_ms.max(behind_ms);
        if self.records.len() < KEEP_RECORDS {
            self.records.push(StaleRead {
                op: r.op,
                process: r.process,
                key: r.key,
                invoke_us: r.invoke_us,
                returned: r.returned,
                missed_op: missed.op,
                missed_value: missed.value,
                missed_ack_us: ack_us,
                versions_behind: behind,
                behind_ms,
                saturated,
            });
        }
    }
}
