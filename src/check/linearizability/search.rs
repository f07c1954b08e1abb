//! The Wing–Gong / Lowe search over one key's sub-history, with the memoisation porcupine uses.
//!
//! Every operation contributes a *call* entry (at its start) and a *return* entry (at its deadline,
//! see `constraints`). The entries sit in a doubly linked list sorted by time.
//! Walking the list, the search tries to linearize each call it meets: if the register model accepts
//! the operation it is *lifted* out of the list (call and return both) and the walk restarts at the
//! head. Meeting a return entry means an operation finished without having been linearized, so the
//! last choice is undone (the entries are put back, "dancing links") and the walk continues after it.
//! At the deadline of an operation that may never take effect, "never" is one more choice.
//! A set of (linearized operations, register state) pairs already explored prunes repeated work,
//! and a read that matches the state is linearized greedily (see `Search::try_call`).

use super::constraints::{Constrained, constrain};
use super::{StepBudget, value_after};
use crate::check::history::{EventType, Operation};
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
        (EventType::Ok, Some(end_us)) => end_us.max(op.start_us),
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
    let ops = constrain(ops);
    let mut unread = vec![
        0;
        ops.iter()
            .filter_map(|op| op.sole_value)
            .max()
            .map_or(0, |max| max + 1)
    ];
    for read in ops.iter().filter(|op| op.op.f == OpKind::Read) {
        read.sole_value.inspect(|&value| unread[value] += 1);
    }
    let mut search = Search {
        list: EntryList::new(&ops),
        linearized: LinearizedSet::new(ops.len()),
        seen: HashSet::new(),
        choices: Vec::new(),
        state: None,
        state_sole_value: None,
        unread,
        ops,
    };
    search.run(budget)
}

/// A choice the search made and may have to undo.
struct Choice {
    call_node: usize,
    state_before: RegisterState,
    sole_value_before: Option<usize>,
    /// Whether, should this choice fail, trying the other calls at the same point is pointless.
    final_at_this_point: bool,
    /// An unseen write placed just before the update chosen after it; undone together with it.
    bundled: bool,
}

struct Search {
    ops: Vec<Constrained>,
    list: EntryList,
    linearized: LinearizedSet,
    /// Every (linearized set, state) reached so far; reaching one again cannot lead anywhere new.
    seen: HashSet<(MemoKey, RegisterState)>,
    choices: Vec<Choice>,
    state: RegisterState,
    /// The `sole_value` index of the state, if it has one.
    state_sole_value: Option<usize>,
    /// For each `sole_value` index: how many reads of it are not linearized yet.
    unread: Vec<u32>,
}

impl Search {
    /// Walks the list. Each decision (trying an operation the model allows, or reaching a deadline)
    /// is one step of the budget; passing over an operation that cannot go now is not, as the walk
    /// is bounded by the operations in flight.
    fn run(&mut self, budget: &mut StepBudget) -> SearchResult {
        let mut entry = self.list.first();
        while !self.list.is_empty() {
            let next = match self.list.node(entry) {
                Node::Call(op_index) => match self.can_go_now(op_index) {
                    Some(next_state) if budget.take_step() => {
                        self.try_call(entry, op_index, next_state)
                    }
                    Some(_) => return SearchResult::OutOfSteps,
                    None => Some(self.list.next(entry)),
                },
                _ if !budget.take_step() => return SearchResult::OutOfSteps,
                Node::Return(op_index) => self.at_deadline(op_index),
                Node::End => None,
            };
            let Some(next) = next.or_else(|| self.backtrack()) else {
                return SearchResult::NotLinearizable;
            };
            entry = next;
        }
        SearchResult::Linearizable
    }

    /// The register after the operation if it could take effect now.
    fn can_go_now(&self, op_index: usize) -> Option<RegisterState> {
        // Unseen writes only go just before another update, or at their deadline.
        if self.ops[op_index].unseen_write {
            return None;
        }
        let next_state = self.apply(&self.ops[op_index].op)?;
        let ruled_out =
            self.another_clear_goes_first(op_index) || self.readers_come_too_late(op_index);
        (!ruled_out).then_some(next_state)
    }

    /// Linearizes the operation at `call_node` now, unless that was tried before. Returns where the
    /// walk goes on, or `None` when it must backtrack.
    fn try_call(
        &mut self,
        call_node: usize,
        op_index: usize,
        next_state: RegisterState,
    ) -> Option<usize> {
        let is_read = self.ops[op_index].op.f == OpKind::Read;
        if self.choose(call_node, op_index, next_state, true, is_read) {
            Some(self.list.first())
        } else if is_read {
            // See `choose`: a failed read means everything else at this point fails too.
            None
        } else {
            Some(self.list.next(call_node))
        }
    }

    /// The register after `op`, or `None` if the model rules `op` out here.
    fn apply(&self, op: &Operation) -> Option<RegisterState> {
        // Replacing a value that only one write writes while reads of it are still to come is a
        // dead end: those reads could never return it, however long it takes to reach them.
        if op.f.is_update()
            && self
                .state_sole_value
                .is_some_and(|value| self.unread[value] > 0)
        {
            return None;
        }
        apply(self.state, op)
    }

    /// Whether `op_index` clears the key while another update that could take effect now, clearing
    /// it too, has an earlier deadline. Exchanging the two in any linearization gives another one,
    /// so only the clearing update with the earliest deadline needs to be tried.
    fn another_clear_goes_first(&self, op_index: usize) -> bool {
        let clears = |index: usize| {
            self.ops[index].op.f.is_update() && value_after(&self.ops[index].op).is_none()
        };
        if !clears(op_index) {
            return false;
        }
        let rank = |index: usize| (self.ops[index].deadline_us, index);
        let mut node = self.list.first();
        while let Node::Call(other) = self.list.node(node) {
            if clears(other) && rank(other) < rank(op_index) {
                return true;
            }
            node = self.list.next(node);
        }
        false
    }

    /// Whether the write `op_index` cannot go next because, from it until its last reader started,
    /// no other update may take effect (see `apply`), yet some operation that cannot go before it
    /// has a deadline in that span. Unseen writes that could take effect now go before it (see
    /// `choose`), and optional operations may never take effect.
    fn readers_come_too_late(&self, op_index: usize) -> bool {
        let constrained = self.ops[op_index];
        let Some(last_reader_start_us) = constrained.last_reader_start_us else {
            return false;
        };
        let mut first_return = None;
        let mut node = self.list.first();
        while self.list.time_us(node) < last_reader_start_us {
            let Node::Return(other) = self.list.node(node) else {
                node = self.list.next(node);
                continue;
            };
            let first_return = *first_return.get_or_insert(node);
            let other_op = self.ops[other];
            let reads_same_value =
                other_op.op.f == OpKind::Read && other_op.op.value == constrained.op.value;
            let goes_before = other_op.unseen_write && self.list.call_node_of(other) < first_return;
            if other != op_index && !other_op.optional && !reads_same_value && !goes_before {
                return true;
            }
            node = self.list.next(node);
        }
        false
    }

    /// At the deadline of an operation not yet linearized: an optional one may never take effect,
    /// an unseen write takes effect now, anything else means backtracking.
    fn at_deadline(&mut self, op_index: usize) -> Option<usize> {
        let constrained = self.ops[op_index];
        let call_node = self.list.call_node_of(op_index);
        let chosen = if constrained.optional {
            self.choose(call_node, op_index, self.state, false, true)
        } else if constrained.unseen_write {
            let next_state = self.apply(&constrained.op)?;
            self.choose(call_node, op_index, next_state, true, true)
        } else {
            false
        };
        chosen.then(|| self.list.first())
    }

    /// Marks the operation done (taking effect or, at its deadline, not) with the register in
    /// `next_state`, unless that was tried before. `final_at_this_point`: if this choice fails, so
    /// does every other choice at this point. That holds at a deadline, where nothing else is left,
    /// and for a read that matches the state: it can go first in any linearization from here, as it
    /// changes nothing.
    ///
    /// Unseen writes that could take effect now go just before the update chosen, where they change
    /// nothing: anywhere else can only be worse, as their value must be overwritten before the next
    /// read anyway.
    fn choose(
        &mut self,
        call_node: usize,
        op_index: usize,
        next_state: RegisterState,
        took_effect: bool,
        final_at_this_point: bool,
    ) -> bool {
        let constrained = self.ops[op_index];
        let is_read = constrained.op.f == OpKind::Read;
        let bundle = if took_effect && !is_read {
            self.pending_unseen_writes(op_index)
        } else {
            Vec::new()
        };
        bundle
            .iter()
            .for_each(|&(_, unseen)| self.linearized.insert(unseen));
        self.linearized.insert(op_index);
        if !self.seen.insert((self.linearized.memo_key(), next_state)) {
            bundle
                .iter()
                .for_each(|&(_, unseen)| self.linearized.remove(unseen));
            self.linearized.remove(op_index);
            return false;
        }
        for &(node, _) in &bundle {
            self.push_choice(node, false, true);
        }
        self.push_choice(call_node, final_at_this_point, false);
        if is_read {
            constrained
                .sole_value
                .inspect(|&value| self.unread[value] -= 1);
        } else if took_effect {
            self.state_sole_value = constrained.sole_value;
        }
        self.state = next_state;
        true
    }

    fn push_choice(&mut self, call_node: usize, final_at_this_point: bool, bundled: bool) {
        let (state_before, sole_value_before) = (self.state, self.state_sole_value);
        self.choices.push(Choice {
            call_node,
            state_before,
            sole_value_before,
            final_at_this_point,
            bundled,
        });
        self.list.lift(call_node);
    }

    /// The unseen writes other than `op_index` that could take effect now: their calls come before
    /// the first return entry.
    fn pending_unseen_writes(&self, op_index: usize) -> Vec<(usize, usize)> {
        let mut found = Vec::new();
        let mut node = self.list.first();
        while let Node::Call(other) = self.list.node(node) {
            if other != op_index && self.ops[other].unseen_write {
                found.push((node, other));
            }
            node = self.list.next(node);
        }
        found
    }

    /// Undoes choices until one leaves other calls to try; returns the entry to try next.
    fn backtrack(&mut self) -> Option<usize> {
        while let Some(choice) = self.choices.pop() {
            self.undo(&choice);
            while let Some(bundled) = self.choices.pop_if(|earlier| earlier.bundled) {
                self.undo(&bundled);
            }
            if !choice.final_at_this_point {
                return Some(self.list.next(choice.call_node));
            }
        }
        None
    }

    fn undo(&mut self, choice: &Choice) {
        self.state = choice.state_before;
        self.state_sole_value = choice.sole_value_before;
        if let Node::Call(op_index) = self.list.node(choice.call_node) {
            self.linearized.remove(op_index);
            let constrained = self.ops[op_index];
            if constrained.op.f == OpKind::Read {
                constrained
                    .sole_value
                    .inspect(|&value| self.unread[value] += 1);
            }
        }
        self.list.unlift(choice.call_node);
    }
}

/// What sits at a node of the entry list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Node {
    Call(usize),
    Return(usize),
    /// The tail sentinel (or any out-of-range node).
    End,
}

/// The call/return entries as a doubly linked list over indices, with sentinels at both ends.
struct EntryList {
    next: Vec<usize>,
    prev: Vec<usize>,
    nodes: Vec<Node>,
    /// When each entry happens; the sentinels sit at 0 and `u64::MAX`.
    times_us: Vec<u64>,
    call_node_of_op: Vec<usize>,
    return_node_of_op: Vec<usize>,
}

const HEAD: usize = 0;

impl EntryList {
    fn new(ops: &[Constrained]) -> EntryList {
        // (time, is_return, op index): invocations sort before returns at the same instant, so
        // operations whose intervals merely touch count as concurrent.
        let mut entries: Vec<(u64, bool, usize)> = Vec::with_capacity(ops.len() * 2);
        for (i, op) in ops.iter().enumerate() {
            entries.push((op.op.start_us, false, i));
            entries.push((op.deadline_us.max(op.op.start_us), true, i));
        }
        entries.sort_unstable();
        let node_count = entries.len() + 2;
        let mut list = EntryList {
            next: (1..=node_count).collect(),
            prev: (0..node_count).map(|n| n.saturating_sub(1)).collect(),
            nodes: vec![Node::End; node_count],
            times_us: vec![u64::MAX; node_count],
            call_node_of_op: vec![0; ops.len()],
            return_node_of_op: vec![0; ops.len()],
        };
        list.times_us[HEAD] = 0;
        for (position, &(time_us, is_return, op_index)) in entries.iter().enumerate() {
            let node = position + 1;
            list.times_us[node] = time_us;
            if is_return {
                list.nodes[node] = Node::Return(op_index);
                list.return_node_of_op[op_index] = node;
            } else {
                list.nodes[node] = Node::Call(op_index);
                list.call_node_of_op[op_index] = node;
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

    fn node(&self, node: usize) -> Node {
        self.nodes.get(node).copied().unwrap_or(Node::End)
    }

    fn time_us(&self, node: usize) -> u64 {
        self.times_us.get(node).copied().unwrap_or(u64::MAX)
    }

    fn call_node_of(&self, op_index: usize) -> usize {
        self.call_node_of_op[op_index]
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
        if let Node::Call(op_index) = self.node(call) {
            self.unlink(call);
            self.unlink(self.return_node_of_op[op_index]);
        }
    }

    /// Undoes the most recent `lift` (lifts are undone in reverse order, so the links still fit).
    fn unlift(&mut self, call: usize) {
        if let Node::Call(op_index) = self.node(call) {
            self.relink(self.return_node_of_op[op_index]);
            self.relink(call);
        }
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
        LinearizedSet {
            words: vec![0; op_count.div_ceil(64)],
            full_words: 0,
            used_words: 0,
        }
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
        (
            self.full_words,
            self.words[self.full_words..tail_end].into(),
        )
    }
}
