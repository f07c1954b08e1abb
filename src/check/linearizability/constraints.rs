//! Turns one key's operations into what the search needs: the window in which each may take effect,
//! and whether it must.
//!
//! An `ok` operation must take effect between its start and its end. An operation with an unknown
//! outcome may take effect any time after its start, or never; left like that it would stay open to
//! the end of the history and make the search try it at every point. The reads bound it:
//!
//! * An unknown update whose resulting value no read returned can always be left out: no read can
//!   lie between it and the next update, since that read would have returned its value. Dropped.
//! * An unknown write of a value only it writes, which some read returned, must have taken effect
//!   before the earliest such read ended. It becomes mandatory with that deadline.
//! * Otherwise (deletes, duplicate values), taking effect after the last read that could see its
//!   value ended is as good as never, by the same argument. It stays optional with that deadline.

use super::search::effective_end_us;
use super::{is_ok, value_after};
use crate::check::history::{EventType, Operation};
use crate::types::{OpKind, ValueId};
use std::collections::BTreeMap;

/// One operation as the search sees it.
#[derive(Clone, Copy, Debug)]
pub(super) struct Constrained {
    pub op: Operation,
    /// It cannot take effect after this instant (`u64::MAX`: no limit).
    pub deadline_us: u64,
    /// It may also never take effect.
    pub optional: bool,
    /// For a write, or a read, of a value that exactly one update of the key writes: a dense index
    /// of that value (`0..`), so the search can count the reads of it still to come.
    pub sole_value: Option<usize>,
    /// For a write with a `sole_value`: when the last read of its value started. Until then no
    /// other update may follow it.
    pub last_reader_start_us: Option<u64>,
    /// A write whose value no read returned: it only matters when it took effect relative to
    /// other updates (see `Search::choose`).
    pub unseen_write: bool,
}

/// `ops`: one key, without failed operations and unknown reads (extra ones are dropped here too).
pub(super) fn constrain(ops: &[Operation]) -> Vec<Constrained> {
    let facts = KeyFacts::new(ops);
    ops.iter()
        .filter_map(|op| constrain_one(op, &facts))
        .collect()
}

fn constrain_one(op: &Operation, facts: &KeyFacts) -> Option<Constrained> {
    let value = value_after(op);
    let sole_value = op
        .value
        .filter(|_| op.f != OpKind::Delete)
        .and_then(|v| facts.sole_values.get(&v).copied());
    let readers = facts.readers.get(&value);
    let last_reader_start_us = readers
        .filter(|_| op.f == OpKind::Write && sole_value.is_some())
        .map(|r| r.last_start_us);
    let mut constrained = Constrained {
        op: *op,
        deadline_us: effective_end_us(op),
        optional: false,
        sole_value,
        last_reader_start_us,
        unseen_write: op.f == OpKind::Write && value.is_some() && readers.is_none(),
    };
    if is_ok(op) {
        return Some(constrained);
    }
    if !op.f.is_update() {
        return None;
    }
    let (earliest_us, latest_us) = readers?.ends_from(op.start_us)?;
    let sole_writer = sole_value.is_some();
    constrained.deadline_us = if sole_writer { earliest_us } else { latest_us };
    constrained.optional = !sole_writer;
    Some(constrained)
}

/// What the reads and updates of one key say about each value.
struct KeyFacts {
    readers: BTreeMap<Option<ValueId>, Readers>,
    /// A dense index for each value exactly one update writes.
    sole_values: BTreeMap<ValueId, usize>,
}

/// The `ok` reads of one value.
struct Readers {
    ends_us: Vec<u64>,
    last_start_us: u64,
}

impl KeyFacts {
    fn new(ops: &[Operation]) -> KeyFacts {
        let mut readers: BTreeMap<Option<ValueId>, Readers> = BTreeMap::new();
        for read in ops.iter().filter(|op| op.f == OpKind::Read && is_ok(op)) {
            let entry = readers.entry(read.value).or_insert(Readers {
                ends_us: Vec::new(),
                last_start_us: 0,
            });
            entry.ends_us.push(effective_end_us(read));
            entry.last_start_us = entry.last_start_us.max(read.start_us);
        }
        readers.values_mut().for_each(|r| r.ends_us.sort_unstable());
        let mut producers: BTreeMap<ValueId, usize> = BTreeMap::new();
        let written = ops
            .iter()
            .filter(|op| op.f.is_update() && op.outcome != EventType::Fail);
        for value in written.filter_map(value_after) {
            *producers.entry(value).or_default() += 1;
        }
        let sole = producers
            .into_iter()
            .filter(|&(_, count)| count == 1)
            .map(|(value, _)| value);
        KeyFacts {
            readers,
            sole_values: sole
                .enumerate()
                .map(|(index, value)| (value, index))
                .collect(),
        }
    }
}

impl Readers {
    /// The earliest and latest completion of a read completing at or after `from_us` (reads
    /// completing earlier cannot have seen an update that started then).
    fn ends_from(&self, from_us: u64) -> Option<(u64, u64)> {
        let later = &self.ends_us[self.ends_us.partition_point(|&end_us| end_us < from_us)..];
        Some((*later.first()?, *later.last()?))
    }
}
