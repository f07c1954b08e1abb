//! The Wing–Gong / Lowe search over one key's sub-history, with the memoisation porcupine uses.
//!
//! Every operation contributes a *call* entry (at its start) and a *return* entry (at its end, or at
//! +infinity when its outcome is unknown). The entries sit in a doubly linked list sorted by time.
//! Walking the list, the search tries to linearize each call it meets: if the register model accepts
//! the operation it is *lifted* out of the list (call and return both) and the walk restarts at the
//! head. Meeting a return entry means an operation finished without having been linearized, so the
//! last choice is undone (the entries are put back, "dancing links") and the walk continues after it.
//! A set of (linearized operations, register state) pairs already explored prunes repeated work.

use super::StepBudget;
use crate::check::history::Operation;
use crate::types::{OpKind, ValueId};
use std::collections::HashSet;

/// What one search found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum SearchResult {
    Linearizable,
    NotLinearizable,
    /// The budget ran out before either answer was certain.
    OutOfSteps,
}

/// The register of one key: `None` while the key is absent.
type RegisterState = Option<ValueId>;

/// The moment an operation can no longer take effect: its completion, or never for unknown outcomes.
/// A completion earlier than the start (events out of order) is treated as the start, so the
/// operation still has an interval to be linearized in.
pub(super) fn effective_end_us(op: &Operation) -> u64 {
    match (op.outcome, op.end_us) {
        (crate::check::history::EventType::Ok, Some(end_us)) => end_us.max(op.start_us),
        _ => u64::MAX,
    }
}

/// Applies `op` to the register; `None` when a read returned something other than the state.
fn apply(state: RegisterState, op: &Operation) -> Option<RegisterState> {
    match op.f {
        OpKind::Read => (op.value == state).then_some(state),
        OpKind::Write => Some(op.value),
        OpKind::Delete => Some(None),
    }
}

/// Checks `ops` (one key, fail ops and unknown reads already removed) against the register model.
pub(super) fn search(ops: &[Operation], budget: &mut StepBudget) -> SearchResult {
    let mut list = EntryList::new(ops);
    let mut linearized = LinearizedSet::new(ops.len());
    let mut seen: HashSet<(MemoKey, RegisterState)> = HashSet::new();
    // The calls lifted so far, each with the state from before it, so it can be undone.
    let mut lifted: Vec<(usize, RegisterState)> = Vec::new();
    let mut state: RegisterState = None;
    let mut entry = list.first();
    while !list.is_empty() {
        if !budget.take_step() {
            return SearchResult::OutOfSteps;
        }
        if let Some(op_index) = list.call_op(entry) {
            if let Some(next_state) = apply(state, &ops[op_index]) {
                linearized.insert(op_index);
                if seen.insert((linearized.memo_key(), next_state)) {
                    lifted.push((entry, state));
                    state = next_state;
                    list.lift(entry);
                    entry = list.first();
                    continue;
                }
                linearized.remove(op_index);
            }
            entry = list.next(entry);
        } else {
            // A return entry (or the end of the list): its operation was never linearized.
            let Some((call, previous_state)) = lifted.pop() else {
                return SearchResult::NotLinearizable;
            };
            state = previous_state;
            if let Some(op_index) = list.call_op(call) {
                linearized.remove(op_index);
            }
            list.unlift(call);
            entry = list.next(call);
        }
    }
    SearchResult::Linearizable
}

/// The call/return entries as a doubly linked list over indices, with sentinels at both ends.
struct EntryList {
    next: Vec<usize>,
    prev: Vec<usize>,
    /// For each node: `Some(op index)` on call entries, `None` on return entries and sentinels.
    call_of: Vec<Option<usize>>,
    /// For each call node: the node of its return entry.
    return_node: Vec<usize>,
}

const HEAD: usize = 0;

impl EntryList {
    fn new(ops: &[Operation]) -> EntryList {
        // (time, is_return, op index): invocations sort before returns at the same instant, so
        // operations whose intervals merely touch count as concurrent.
        let mut entries: Vec<(u64, bool, usize)> = Vec::with_capacity(ops.len() * 2);
        for (i, op) in ops.iter().enumerate() {
            entries.push((op.start_us, false, i));
            entries.push((effective_end_us(op), true, i));
        }
        entries.sort_unstable();
        let node_count = entries.len() + 2;
        let tail = node_count - 1;
        let mut list = EntryList {
            next: (1..=node_count).collect(),
            prev: (0..node_count).map(|n| n.saturating_sub(1)).collect(),
            call_of: vec![None; node_count],
            return_node: vec![tail; node_count],
        };
        let mut call_node_of_op = vec![tail; ops.len()];
        for (position, &(_, is_return, op_index)) in entries.iter().enumerate() {
            let node = position + 1;
            if is_return {
                list.return_node[call_node_of_op[op_index]] = node;
            } else {
                list.call_of[node] = Some(op_index);
                call_node_of_op[op_index] = node;
            }
        }
        list
    }

    fn tail(&self) -> usize {
        self.next.len() - 1
    }

    fn first(&self) -> usize {
        self.next[HEAD]
    }

    fn is_empty(&self) -> bool {
        self.next[HEAD] == self.tail()
    }

    fn next(&self, node: usize) -> usize {
        self.next[node].min(self.tail())
    }

    fn call_op(&self, node: usize) -> Option<usize> {
        self.call_of.get(node).copied().flatten()
    }

    fn unlink(&mut self, node: usize) {
        let (before, after) = (self.prev[node], self.next[node]);
        self.next[before] = after;
        self.prev[after] = before;
    }

    /// Puts back a node whose own links were left untouched when it was unlinked.
    fn relink(&mut self, node: usize) {
        let (before, after) = (self.prev[node], self.next[node]);
        self.next[before] = node;
        self.prev[after] = node;
    }

    /// Removes a call entry and its return entry.
    fn lift(&mut self, call: usize) {
        self.unlink(call);
        self.unlink(self.return_node[call]);
    }

    /// Undoes the most recent `lift` (lifts are undone in reverse order, so the links still fit).
    fn unlift(&mut self, call: usize) {
        self.relink(self.return_node[call]);
        self.relink(call);
    }
}

/// The memo key of a linearized set: the number of leading all-ones words, then the words from
/// there to the last non-zero one. Operations are linearized roughly in call order, so the set is
/// mostly a solid prefix and the key stays a word or two long even for keys with many operations.
type MemoKey = (usize, Box<[u64]>);

/// Bit set of the operations linearized so far.
struct LinearizedSet {
    words: Vec<u64>,
    /// Every word before this index is all ones.
    full_words: usize,
    /// No word at or after this index is non-zero.
    used_words: usize,
}

impl LinearizedSet {
    fn new(op_count: usize) -> LinearizedSet {
        LinearizedSet { words: vec![0; op_count.div_ceil(64)], full_words: 0, used_words: 0 }
    }

    fn insert(&mut self, op_index: usize) {
        let word = op_index / 64;
        self.words[word] |= 1 << (op_index % 64);
        self.used_words = self.used_words.max(word + 1);
        while self.full_words < self.words.len() && self.words[self.full_words] == u64::MAX {
            self.full_words += 1;
        }
    }

    fn remove(&mut self, op_index: usize) {
        let word = op_index / 64;
        self.words[word] &= !(1 << (op_index % 64));
        self.full_words = self.full_words.min(word);
    }

    fn memo_key(&mut self) -> MemoKey {
        while self.used_words > self.full_words && self.words[self.used_words - 1] == 0 {
            self.used_words -= 1;
        }
        let tail_end = self.used_words.max(self.full_words);
        (self.full_words, self.words[self.full_words..tail_end].into())
    }
}
