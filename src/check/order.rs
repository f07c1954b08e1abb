//! What a history proves about the order of one key's states, shared by the session, lost-write
//! and resurrection checks (docs/metrics.md, "The order the checkers use").
//!
//! Only real time is used: update `a` *certainly precedes* update `b` (`a ≺ b`) when `a` was
//! acknowledged (`ok`) before `b` was invoked. Every written value is unique, so a read that returned
//! a value names the one write it came from; a read that returned nothing may have seen the initial
//! state or any delete that was not known to fail and started before the read ended. The initial
//! state precedes every update.

use crate::check::history::{EventType, Operation};
use crate::types::{Key, OpKind, ValueId};
use std::collections::BTreeMap;

/// The newest acknowledgement among the possible sources of a result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Newest {
    /// Only the initial state: older than every update.
    Initial,
    /// Every possible source was acknowledged, the last one at this time (µs).
    AckedAt(u64),
    /// Some possible source was never acknowledged (or is not in the history): it may be ordered
    /// anywhere, so the result is never certainly older than anything.
    Unknown,
}

impl Newest {
    /// Whether every possible source was acknowledged before `t_us`: the result is then certainly
    /// older than any update invoked at `t_us`.
    pub fn before(self, t_us: u64) -> bool {
        match self {
            Newest::Initial => true,
            Newest::AckedAt(ack) => ack < t_us,
            Newest::Unknown => false,
        }
    }
}

/// Where a read's result can have come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sources {
    pub newest: Newest,
    /// The earliest invocation among the possible sources; `None` when the initial state is one
    /// (nothing is certainly older than it) or the source is not in the history.
    pub oldest_start_us: Option<u64>,
}

impl Sources {
    /// Whether this result is certainly older than `other`: every source of this one certainly
    /// precedes every source of `other`.
    pub fn older_than(&self, other: &Sources) -> bool {
        other.oldest_start_us.is_some_and(|t| self.newest.before(t))
    }
}

/// Index of a history's updates by value and key.
pub struct UpdateIndex<'a> {
    ops: &'a [Operation],
    /// The write of each value (values are unique in a run).
    writer: BTreeMap<ValueId, usize>,
    /// Deletes that may have taken effect (not `fail`), per key, in start order.
    deletes: BTreeMap<Key, Vec<usize>>,
}

/// `a ≺ b`: `a` was acknowledged before `b` was invoked.
pub fn precedes(a: &Operation, b: &Operation) -> bool {
    a.outcome == EventType::Ok && a.end_us.is_some_and(|end| end < b.start_us)
}

impl<'a> UpdateIndex<'a> {
    /// `ops` in start order (as `pair_operations` returns them).
    pub fn new(ops: &'a [Operation]) -> UpdateIndex<'a> {
        let mut writer = BTreeMap::new();
        let mut deletes: BTreeMap<Key, Vec<usize>> = BTreeMap::new();
        for (i, op) in ops.iter().enumerate() {
            match op.f {
                OpKind::Write => {
                    if let Some(v) = op.value {
                        writer.entry(v).or_insert(i);
                    }
                }
                OpKind::Delete if op.outcome != EventType::Fail => {
                    deletes.entry(op.key).or_default().push(i);
                }
                _ => {}
            }
        }
        UpdateIndex {
            ops,
            writer,
            deletes,
        }
    }

    /// The write of `value` to `key`, if the history has it.
    pub fn writer(&self, key: Key, value: ValueId) -> Option<&'a Operation> {
        let op = &self.ops[*self.writer.get(&value)?];
        (op.key == key).then_some(op)
    }

    /// Deletes of `key` that may have taken effect, in start order.
    pub fn deletes(&self, key: Key) -> impl Iterator<Item = &'a Operation> + '_ {
        let ops = self.ops;
        self.deletes
            .get(&key)
            .into_iter()
            .flatten()
            .map(move |&i| &ops[i])
    }

    /// The possible sources of a read of `key` that returned `result` and ended at `end_us`.
    pub fn sources(&self, key: Key, result: Option<ValueId>, end_us: u64) -> Sources {
        match result {
            Some(v) => match self.writer(key, v) {
                Some(w) => Sources {
                    newest: match (w.outcome, w.end_us) {
                        (EventType::Ok, Some(end)) => Newest::AckedAt(end),
                        _ => Newest::Unknown,
                    },
                    oldest_start_us: Some(w.start_us),
                },
                None => Sources {
                    newest: Newest::Unknown,
                    oldest_start_us: None,
                },
            },
            None => {
                let mut newest = Newest::Initial;
                for d in self.deletes(key).take_while(|d| d.start_us <= end_us) {
                    newest = match (newest, d.outcome, d.end_us) {
                        (Newest::Unknown, _, _) => Newest::Unknown,
                        (Newest::AckedAt(a), EventType::Ok, Some(end)) => {
                            Newest::AckedAt(a.max(end))
                        }
                        (Newest::Initial, EventType::Ok, Some(end)) => Newest::AckedAt(end),
                        _ => Newest::Unknown,
                    };
                }
                Sources {
                    newest,
                    oldest_start_us: None,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(
        f: OpKind,
        value: Option<u64>,
        start: u64,
        end: Option<u64>,
        outcome: EventType,
    ) -> Operation {
        Operation {
            process: 1,
            f,
            key: 0,
            value: value.map(ValueId),
            start_us: start,
            end_us: end,
            outcome,
        }
    }

    #[test]
    fn a_value_comes_from_its_one_write() {
        let ops = [
            op(OpKind::Write, Some(1), 0, Some(10), EventType::Ok),
            op(OpKind::Write, Some(2), 20, None, EventType::Info),
        ];
        let ix = UpdateIndex::new(&ops);
        let v1 = ix.sources(0, Some(ValueId(1)), 100);
        let v2 = ix.sources(0, Some(ValueId(2)), 100);
        assert_eq!(v1.newest, Newest::AckedAt(10));
        assert!(v1.older_than(&v2), "v1 acked at 10 before w2 started at 20");
        assert!(
            !v2.older_than(&v1),
            "an unknown write can be ordered anywhere"
        );
        assert!(!v1.older_than(&v1));
        assert!(ix.writer(1, ValueId(1)).is_none(), "wrong key");
        assert!(precedes(&ops[0], &ops[1]) && !precedes(&ops[1], &ops[0]));
    }

    #[test]
    fn nothing_may_be_the_initial_state_or_any_delete_begun_before_the_read_ended() {
        let ops = [
            op(OpKind::Delete, None, 0, Some(10), EventType::Ok),
            op(OpKind::Delete, None, 5, Some(6), EventType::Fail),
            op(OpKind::Write, Some(1), 20, Some(30), EventType::Ok),
            op(OpKind::Delete, None, 40, None, EventType::Info),
        ];
        let ix = UpdateIndex::new(&ops);
        let early = ix.sources(0, None, 35);
        assert_eq!(
            early.newest,
            Newest::AckedAt(10),
            "the failed delete is no source"
        );
        assert_eq!(early.oldest_start_us, None);
        let v1 = ix.sources(0, Some(ValueId(1)), 35);
        assert!(early.older_than(&v1));
        assert!(
            !v1.older_than(&early),
            "nothing is certainly older than the initial state"
        );
        let late = ix.sources(0, None, 50);
        assert_eq!(
            late.newest,
            Newest::Unknown,
            "the info delete may be the source"
        );
        assert_eq!(ix.sources(3, None, 50).newest, Newest::Initial);
    }
}
