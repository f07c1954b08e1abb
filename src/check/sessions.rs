//! Session guarantees (Terry et al. 1994, in Jepsen's per-process form), checked per key over a
//! history. A session is one client process: a client that gets an `info` continues as a new
//! process, so its sessions end there. docs/metrics.md gives each definition with an example.
//!
//! Only `ok` reads are judged, and only violations the history proves are counted: "older" is the
//! real-time order of `check::order` (a result is older than a write when every write or delete
//! that could have produced it was acknowledged before that write was invoked).
//!
//! - read your writes: a read returns a result older than an update the same process had
//!   acknowledged before on that key;
//! - monotonic reads: a read returns a result older than what an earlier read of the same process
//!   on that key returned;
//! - monotonic writes: a process writes `a` then `b` to a key; some process reads `b` and later `a`;
//! - writes follow reads: a process reads `a` from a key and later writes `b` to it; some process
//!   reads `b` and later `a`.
//!
//! Each read counts at most once per kind.

use super::history::{EventType, Operation};
use super::order::UpdateIndex;
use super::violations::ViolationKind;
use crate::types::{Key, OpKind, SimTime, ValueId};
use std::collections::BTreeMap;

/// Values a write's session had read on the key before it, remembered per write (the most recent).
pub const MAX_READS_BEFORE_WRITE: usize = 64;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionViolations {
    pub read_your_writes: u64,
    pub monotonic_reads: u64,
    pub monotonic_writes: u64,
    pub writes_follow_reads: u64,
    /// The first violation of each kind, in words.
    pub examples: BTreeMap<ViolationKind, String>,
    /// The read of each example, as (key, process, start µs): explanations start from it.
    pub reads: BTreeMap<ViolationKind, (Key, u64, u64)>,
}

impl SessionViolations {
    fn count(&mut self, kind: ViolationKind, read: &Operation, example: impl FnOnce() -> String) {
        let n = match kind {
            ViolationKind::ReadYourWrites => &mut self.read_your_writes,
            ViolationKind::MonotonicReads => &mut self.monotonic_reads,
            ViolationKind::MonotonicWrites => &mut self.monotonic_writes,
            _ => &mut self.writes_follow_reads,
        };
        *n += 1;
        if let std::collections::btree_map::Entry::Vacant(e) = self.examples.entry(kind) {
            e.insert(example());
            self.reads
                .insert(kind, (read.key, read.process, read.start_us));
        }
    }
}

/// What must be visible before a write, by its own session: the session's previous write to the
/// key (monotonic writes) and the values the session read from the key (writes follow reads).
#[derive(Clone, Debug, Default)]
struct MustPrecede {
    previous_write: Option<ValueId>,
    read: Vec<ValueId>,
}

/// One session's state for one key, while the history is replayed.
#[derive(Clone, Debug, Default)]
struct SessionKey {
    /// Start of the session's latest acknowledged update (read your writes).
    own_update_start_us: Option<u64>,
    own_update_value: Option<Option<ValueId>>,
    /// The latest start among the sources of earlier reads (monotonic reads), and that read's value.
    read_floor_us: Option<(u64, Option<ValueId>)>,
    /// Values that must not be read any more: they had to precede a value already read.
    forbidden: BTreeMap<ValueId, Forbidden>,
    // For the first pass:
    previous_write: Option<ValueId>,
    reads: Vec<ValueId>,
}

#[derive(Clone, Copy, Debug, Default)]
struct Forbidden {
    /// The value read that made it forbidden, and why.
    after: Option<ValueId>,
    monotonic_writes: bool,
    writes_follow_reads: bool,
}

/// Checks every session of `ops` (paired operations in start order).
pub fn check(ops: &[Operation], index: &UpdateIndex<'_>) -> SessionViolations {
    let preds = must_precede(ops);
    let mut out = SessionViolations::default();
    let mut sessions: BTreeMap<(u64, Key), SessionKey> = BTreeMap::new();
    for op in ops {
        let s = sessions.entry((op.process, op.key)).or_default();
        match (op.f, op.outcome, op.end_us) {
            (OpKind::Read, EventType::Ok, Some(end)) => {
                judge_read(op, end, s, index, &mut out);
                remember_read(op, end, s, index, &preds);
            }
            (OpKind::Write | OpKind::Delete, EventType::Ok, _) => {
                s.own_update_start_us = Some(op.start_us);
                s.own_update_value = Some(op.value.filter(|_| op.f == OpKind::Write));
            }
            _ => {}
        }
    }
    out
}

/// First pass: for every write, what its session required to precede it.
fn must_precede(ops: &[Operation]) -> BTreeMap<ValueId, MustPrecede> {
    let mut sessions: BTreeMap<(u64, Key), SessionKey> = BTreeMap::new();
    let mut out = BTreeMap::new();
    for op in ops {
        let s = sessions.entry((op.process, op.key)).or_default();
        match (op.f, op.outcome) {
            (OpKind::Read, EventType::Ok) => {
                if let Some(v) = op.value
                    && s.reads.last() != Some(&v)
                {
                    s.reads.push(v);
                }
            }
            (OpKind::Write, _) => {
                if let Some(v) = op.value {
                    let from = s.reads.len().saturating_sub(MAX_READS_BEFORE_WRITE);
                    let read = s.reads[from..].to_vec();
                    let previous_write = s.previous_write;
                    out.insert(
                        v,
                        MustPrecede {
                            previous_write,
                            read,
                        },
                    );
                }
                if op.outcome == EventType::Ok {
                    s.previous_write = op.value;
                }
            }
            (OpKind::Delete, EventType::Ok) => s.previous_write = None,
            _ => {}
        }
    }
    out
}

fn judge_read(
    op: &Operation,
    end: u64,
    s: &SessionKey,
    index: &UpdateIndex<'_>,
    out: &mut SessionViolations,
) {
    let src = index.sources(op.key, op.value, end);
    let said = || {
        format!(
            "read of k{} by process {} at {}",
            op.key,
            op.process,
            SimTime(op.start_us)
        )
    };
    if let (Some(start), Some(own)) = (s.own_update_start_us, s.own_update_value)
        && src.newest.before(start)
    {
        out.count(ViolationKind::ReadYourWrites, op, || {
            format!(
                "{} returned {}, older than its own earlier {}",
                said(),
                show(op.value),
                own.map_or("delete".to_string(), |v| format!("write of {v}"))
            )
        });
    }
    if let Some((floor, seen)) = s.read_floor_us
        && src.newest.before(floor)
    {
        out.count(ViolationKind::MonotonicReads, op, || {
            format!(
                "{} returned {}, older than the {} an earlier read of the same process returned",
                said(),
                show(op.value),
                show(seen)
            )
        });
    }
    let Some(f) = op.value.and_then(|v| s.forbidden.get(&v)) else {
        return;
    };
    let after = show(f.after);
    let why = [
        (
            f.monotonic_writes,
            ViolationKind::MonotonicWrites,
            "written",
        ),
        (
            f.writes_follow_reads,
            ViolationKind::WritesFollowReads,
            "read",
        ),
    ];
    for (broken, kind, verb) in why {
        if broken {
            out.count(kind, op, || {
                format!(
                    "{} returned {} after the same process had read {after}, but the process that \
                     wrote {after} had {verb} {} before writing it",
                    said(),
                    show(op.value),
                    show(op.value)
                )
            });
        }
    }
}

fn remember_read(
    op: &Operation,
    end: u64,
    s: &mut SessionKey,
    index: &UpdateIndex<'_>,
    preds: &BTreeMap<ValueId, MustPrecede>,
) {
    let src = index.sources(op.key, op.value, end);
    if let Some(start) = src.oldest_start_us
        && s.read_floor_us.is_none_or(|(f, _)| start > f)
    {
        s.read_floor_us = Some((start, op.value));
    }
    let Some(v) = op.value else { return };
    let Some(p) = preds.get(&v) else { return };
    if let Some(prev) = p.previous_write {
        let f = s.forbidden.entry(prev).or_default();
        f.monotonic_writes = true;
        f.after.get_or_insert(v);
    }
    for &r in &p.read {
        let f = s.forbidden.entry(r).or_default();
        f.writes_follow_reads = true;
        f.after.get_or_insert(v);
    }
}

fn show(v: Option<ValueId>) -> String {
    v.map_or_else(|| "nothing".to_string(), |v| v.to_string())
}

#[cfg(test)]
#[path = "sessions_tests.rs"]
mod tests;
