//! Shrinks a non-linearizable sub-history to one where every operation is needed.
//!
//! "Removing" an update also removes the reads that could have observed it (see
//! `remove_with_dependent_reads`). Removing a write alone would leave a read of a value nobody wrote,
//! which fails for a trivial reason that hides the real one: a stale read would shrink to the bare
//! read. Likewise a delete goes together with the reads of nothing it could explain.
//!
//! Removing operations can turn a linearizable history into a non-linearizable one, so one greedy
//! pass is not enough: passes repeat until one removes nothing. That last pass tried every single
//! removal and each made the history linearizable, which is the 1-minimality the counterexample
//! promises. Chunks are tried first, halving in size, so a long history loses its irrelevant parts
//! in few searches.

use super::StepBudget;
use super::search::{SearchResult, effective_end_us, search};
use crate::check::history::Operation;
use crate::types::{OpKind, ValueId};
use std::ops::Range;

/// Returns the shrunk history and whether its 1-minimality was verified. `budget_steps` bounds all
/// the searches together; when it runs out the history shrunk so far is returned, still failing.
pub(super) fn shrink(failing: Vec<Operation>, budget_steps: u64) -> (Vec<Operation>, bool) {
    let mut budget = StepBudget::new(budget_steps);
    let mut current = failing;
    let mut chunk_len = (current.len() / 2).max(1);
    loop {
        let Some(removed_any) = removal_pass(&mut current, chunk_len, &mut budget) else {
            return (current, false);
        };
        if chunk_len == 1 && !removed_any {
            return (current, true);
        }
        chunk_len = (chunk_len / 2).max(1);
    }
}

/// Tries removing each run of `chunk_len` operations in turn, keeping every removal after which the
/// history still fails. Returns whether anything was removed, or `None` when the budget ran out.
fn removal_pass(
    current: &mut Vec<Operation>,
    chunk_len: usize,
    budget: &mut StepBudget,
) -> Option<bool> {
    let mut removed_any = false;
    let mut start = 0;
    while start < current.len() {
        let end = (start + chunk_len).min(current.len());
        let candidate = remove_with_dependent_reads(current, start..end);
        match search(&candidate, budget) {
            SearchResult::NotLinearizable => {
                *current = candidate;
                removed_any = true;
            }
            SearchResult::Linearizable => start = end,
            SearchResult::OutOfSteps => return None,
        }
    }
    Some(removed_any)
}

/// `ops` without `removed`, and without the reads that could have observed a removed update: reads
/// of a value that only a removed write wrote, and reads of nothing that ended after a removed delete
/// started. Such a removal keeps a linearizable history linearizable, so the parts that shrinking
/// keeps are each needed to show the violation.
pub(super) fn remove_with_dependent_reads(
    ops: &[Operation],
    removed: Range<usize>,
) -> Vec<Operation> {
    let removed_values = sorted_written_values(&ops[removed.clone()]);
    let first_removed_clear_us = ops[removed.clone()]
        .iter()
        .filter(|op| clears_key(op))
        .map(|op| op.start_us)
        .min();
    let mut kept: Vec<Operation> = ops[..removed.start]
        .iter()
        .chain(&ops[removed.end..])
        .copied()
        .collect();
    let kept_values = sorted_written_values(&kept);
    kept.retain(|op| {
        let orphaned = match (op.f, op.value) {
            (OpKind::Read, Some(value)) => {
                removed_values.binary_search(&value).is_ok()
                    && kept_values.binary_search(&value).is_err()
            }
            (OpKind::Read, None) => {
                first_removed_clear_us.is_some_and(|start_us| effective_end_us(op) >= start_us)
            }
            (OpKind::Write | OpKind::Delete, _) => false,
        };
        !orphaned
    });
    kept
}

fn sorted_written_values(ops: &[Operation]) -> Vec<ValueId> {
    let mut values: Vec<ValueId> = ops
        .iter()
        .filter(|op| op.f == OpKind::Write)
        .filter_map(|op| op.value)
        .collect();
    values.sort_unstable();
    values
}

/// Whether the update leaves the key absent: a delete, or a (malformed) write of no value.
fn clears_key(op: &Operation) -> bool {
    match op.f {
        OpKind::Delete => true,
        OpKind::Write => op.value.is_none(),
        OpKind::Read => false,
    }
}
