//! Linearizability checker for key-value histories.
//!
//! Each key is a register (`None` = absent): a write sets it, a delete clears it, a read must return
//! what it holds. A key-value store is linearizable exactly when every key's sub-history is
//! (linearizability is compositional), so keys are checked one at a time, which keeps the search
//! small. Within a key the search is the Wing–Gong / Lowe algorithm with porcupine's memoisation
//! (see `search`).
//!
//! Outcomes: an `ok` operation took effect exactly once between its start and its end; a `fail`
//! operation never took effect and is ignored; an `info` operation may have taken effect at any time
//! after its start, or never. An unknown read constrains nothing and is ignored too.
//!
//! The search can take exponential time on histories with much concurrency, so it counts its steps
//! and answers [`Verdict::Unknown`] when the budget runs out, rather than guessing. Pruning rules
//! (see `search` and `constraints`) keep ordinary histories close to linear: one step per
//! operation or two.

mod constraints;
mod explain;
pub mod generate;
mod search;
mod shrink;

#[cfg(test)]
mod random_tests;
#[cfg(test)]
mod tests;

use crate::check::history::{EventType, HistoryEvent, Operation, pair_operations};
use crate::types::{Key, OpKind, ValueId};
use search::SearchResult;
use std::collections::BTreeMap;

/// The default budget per key. A step is one decision of the search (an operation tried, or a
/// deadline reached) and adds at most one entry to its memo, so the budget bounds memory too (some
/// tens of MB at this size). A key with 100k operations and 64 in flight at a time needs about
/// 200k steps.
pub const DEFAULT_BUDGET_STEPS: u64 = 1_000_000;

/// The checker's answer for a whole history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Linearizable,
    NotLinearizable(Counterexample),
    /// No key was found to be non-linearizable, but the search of some key ran out of budget.
    Unknown {
        /// The first such key.
        key: Key,
        /// The steps spent on it (its whole budget).
        steps: u64,
    },
}

/// A failing sub-history of one key, shrunk so that removing any one of its operations would make it
/// linearizable (when `minimal` is true; shrinking stops early if it uses up its own budget).
///
/// Removing an update also removes the reads that could have observed it: the reads of the value a
/// write wrote, and the reads of nothing that ended after a delete started. Otherwise a stale read
/// would "shrink" to a bare read of a value nobody wrote, which explains nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Counterexample {
    pub key: Key,
    /// The operations of the sub-history, in the order they started.
    pub ops: Vec<Operation>,
    /// Why these operations cannot be linearized, in words for a student.
    pub explanation: String,
    /// Whether removing any single operation of `ops` (with the reads that depend on it) was verified
    /// to make it linearizable.
    pub minimal: bool,
}

/// Checks a history of paired operations.
///
/// `budget_steps` bounds the search of each key, and separately the shrinking of a counterexample,
/// so the total work stays proportional to the number of keys times the budget. Keys are checked
/// in ascending order and the first non-linearizable key is reported.
pub fn check_history(ops: &[Operation], budget_steps: u64) -> Verdict {
    let mut first_unknown: Option<Verdict> = None;
    for (key, key_ops) in relevant_ops_by_key(ops) {
        let mut budget = StepBudget::new(budget_steps);
        match search::search(&key_ops, &mut budget) {
            SearchResult::Linearizable => {}
            SearchResult::NotLinearizable => {
                return Verdict::NotLinearizable(counterexample(key, key_ops, ops, budget_steps));
            }
            SearchResult::OutOfSteps => {
                // Keep looking: a definite violation on a later key is worth more than "unknown".
                first_unknown.get_or_insert(Verdict::Unknown {
                    key,
                    steps: budget.used(),
                });
            }
        }
    }
    first_unknown.unwrap_or(Verdict::Linearizable)
}

/// Every key's verdict, for counting violations: unlike [`check_history`], the search goes on after
/// the first failing key. Only that first key's counterexample is shrunk and explained.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyVerdicts {
    /// Keys whose sub-history is not linearizable, ascending.
    pub not_linearizable: Vec<Key>,
    /// Keys whose search ran out of budget, ascending.
    pub unknown: Vec<(Key, u64)>,
    /// The counterexample of the first key in `not_linearizable`.
    pub counterexample: Option<Counterexample>,
}

impl KeyVerdicts {
    /// The verdict for the whole history (the same one [`check_history`] gives).
    pub fn verdict(&self) -> Verdict {
        if let Some(c) = &self.counterexample {
            return Verdict::NotLinearizable(c.clone());
        }
        match self.unknown.first() {
            Some(&(key, steps)) => Verdict::Unknown { key, steps },
            None => Verdict::Linearizable,
        }
    }
}

/// Checks every key of a history of paired operations; `budget_steps` bounds each key's search.
pub fn check_every_key(ops: &[Operation], budget_steps: u64) -> KeyVerdicts {
    let mut out = KeyVerdicts::default();
    for (key, key_ops) in relevant_ops_by_key(ops) {
        let mut budget = StepBudget::new(budget_steps);
        match search::search(&key_ops, &mut budget) {
            SearchResult::Linearizable => {}
            SearchResult::NotLinearizable => {
                out.not_linearizable.push(key);
                if out.counterexample.is_none() {
                    out.counterexample = Some(counterexample(key, key_ops, ops, budget_steps));
                }
            }
            SearchResult::OutOfSteps => out.unknown.push((key, budget.used())),
        }
    }
    out
}

/// Pairs the events into operations (see [`pair_operations`]) and checks them.
pub fn check_events(events: &[HistoryEvent], budget_steps: u64) -> Verdict {
    check_history(&pair_operations(events), budget_steps)
}

fn counterexample(
    key: Key,
    failing: Vec<Operation>,
    all_ops: &[Operation],
    budget_steps: u64,
) -> Counterexample {
    let (ops, minimal) = shrink::shrink(failing, budget_steps);
    let same_key: Vec<Operation> = all_ops.iter().filter(|op| op.key == key).copied().collect();
    let explanation = explain::explain(key, &ops, &same_key);
    Counterexample {
        key,
        ops,
        explanation,
        minimal,
    }
}

/// Groups the operations that can matter by key, each group sorted by start time.
///
/// Dropped: `fail` operations (never took effect) and unknown reads (nobody saw their result).
fn relevant_ops_by_key(ops: &[Operation]) -> BTreeMap<Key, Vec<Operation>> {
    let mut by_key: BTreeMap<Key, Vec<Operation>> = BTreeMap::new();
    for op in ops.iter().filter(|op| op.outcome != EventType::Fail) {
        if is_ok(op) || op.f.is_update() {
            by_key.entry(op.key).or_default().push(*op);
        }
    }
    for key_ops in by_key.values_mut() {
        key_ops.sort_by_key(|op| op.start_us);
    }
    by_key
}

/// Whether the operation is known to have taken effect. Anything not `ok` or `fail` (including a
/// hand-made `invoke` outcome) is treated as unknown.
fn is_ok(op: &Operation) -> bool {
    op.outcome == EventType::Ok
}

/// The register's content right after the update `op` takes effect.
fn value_after(op: &Operation) -> Option<ValueId> {
    match op.f {
        OpKind::Delete => None,
        OpKind::Write | OpKind::Read => op.value,
    }
}

/// Counts search steps against a limit shared by one or more searches.
#[derive(Clone, Copy, Debug)]
struct StepBudget {
    limit: u64,
    used: u64,
}

impl StepBudget {
    fn new(limit: u64) -> StepBudget {
        StepBudget { limit, used: 0 }
    }

    /// Takes one step; false when the budget is already used up.
    fn take_step(&mut self) -> bool {
        if self.used >= self.limit {
            return false;
        }
        self.used += 1;
        true
    }

    fn used(&self) -> u64 {
        self.used
    }
}
