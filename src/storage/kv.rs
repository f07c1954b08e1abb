//! A versioned key-value store: one slot per key, indexed directly (workload keys are `0..count`).

use crate::policy::StoredValue;
use crate::types::{Key, ValueId, Version};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cell {
    /// `None` is a tombstone.
    pub value: Option<ValueId>,
    pub version: Version,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VersionedKv {
    cells: Vec<Option<Cell>>,
    live: usize,
}

impl VersionedKv {
    pub fn get(&self, key: Key) -> Option<Cell> {
        self.cells.get(key as usize).copied().flatten()
    }

    /// Stores `value` at `version` if that is newer than what is held (last write wins).
    /// Returns true when the stored value changed.
    pub fn apply_if_newer(&mut self, key: Key, value: Option<ValueId>, version: Version) -> bool {
        let i = key as usize;
        if i >= self.cells.len() {
            self.cells.resize(i + 1, None);
        }
        match &mut self.cells[i] {
            Some(c) if c.version >= version => false,
            slot => {
                if slot.is_none() {
                    self.live += 1;
                }
                *slot = Some(Cell { value, version });
                true
            }
        }
    }

    /// Stores unconditionally (log-based policies apply in log order).
    pub fn put(&mut self, key: Key, value: Option<ValueId>, version: Version) {
        let i = key as usize;
        if i >= self.cells.len() {
            self.cells.resize(i + 1, None);
        }
        if self.cells[i].is_none() {
            self.live += 1;
        }
        self.cells[i] = Some(Cell { value, version });
    }

    /// Drops a key's cell altogether (compaction purging a tombstone).
    pub fn remove(&mut self, key: Key) {
        if let Some(slot) = self.cells.get_mut(key as usize)
            && slot.take().is_some()
        {
            self.live -= 1;
        }
    }

    /// Number of keys with a cell (values and tombstones).
    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    pub fn clear(&mut self) {
        self.cells.clear();
        self.live = 0;
    }

    pub fn stored(&self, out: &mut Vec<StoredValue>) {
        for (k, c) in self.cells.iter().enumerate() {
            if let Some(c) = c {
                out.push(StoredValue {
                    key: k as Key,
                    value: c.value,
                    version: c.version,
                });
            }
        }
    }
}
