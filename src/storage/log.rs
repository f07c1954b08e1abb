//! A replicated log with stable 1-based offsets. This is the minimal form the single-leader policy
//! needs; the log-lifecycle work extends it with segments, compaction and snapshots.

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Log<E> {
    /// Index of `entries[0]`; entries before it were discarded (snapshot or truncation).
    first_index: u64,
    entries: Vec<E>,
}

impl<E> Default for Log<E> {
    fn default() -> Self {
        Log {
            first_index: 1,
            entries: Vec::new(),
        }
    }
}

impl<E: Clone> Log<E> {
    /// Index of the last entry (0 when empty).
    pub fn last_index(&self) -> u64 {
        self.first_index + self.entries.len() as u64 - 1
    }

    pub fn first_index(&self) -> u64 {
        self.first_index
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Appends and returns the new entry's index.
    pub fn append(&mut self, e: E) -> u64 {
        self.entries.push(e);
        self.last_index()
    }

    pub fn get(&self, index: u64) -> Option<&E> {
        if index < self.first_index {
            return None;
        }
        self.entries.get((index - self.first_index) as usize)
    }

    /// The newest entry, if any.
    pub fn last(&self) -> Option<&E> {
        self.entries.last()
    }

    /// Up to `max` entries starting at `from` (clamped to what the log holds).
    pub fn slice_from(&self, from: u64, max: usize) -> &[E] {
        let start = from.max(self.first_index) - self.first_index;
        let start = (start as usize).min(self.entries.len());
        let end = start.saturating_add(max).min(self.entries.len());
        &self.entries[start..end]
    }

    /// Removes every entry after `index` (a follower discarding a conflicting suffix).
    pub fn truncate_after(&mut self, index: u64) {
        let keep = index.saturating_add(1).saturating_sub(self.first_index) as usize;
        self.entries.truncate(keep);
    }

    /// Discards every entry up to and including `index` (a snapshot now covers them) and
    /// returns how many were removed. Offsets never change: the next entry keeps its index. Past
    /// the end, the log becomes empty and continues at `index + 1` (a follower that installed a
    /// snapshot newer than its whole log). The caller remembers the term of entry `index` for
    /// the log-matching check (Raft §7: "last included index/term").
    pub fn discard_through(&mut self, index: u64) -> usize {
        if index < self.first_index {
            return 0;
        }
        let n = ((index - self.first_index + 1) as usize).min(self.entries.len());
        self.entries.drain(..n);
        self.first_index = index + 1;
        n
    }
}
