//! Shrinks a non-linearizable sub-history to one where every operation is needed.
//!
//! A read is only removed together with the write it saw, never the write alone: a read of a value
//! nobody wrote fails for a trivial reason that hides the real one (a stale read would shrink to the
//! bare read). So "removing" an operation also removes the reads that returned a value only it wrote.
//!
//! Removing operations can turn a linearizable history into a non-linearizable one, so one greedy
//! pass is not enough: passes repeat until one removes nothing. That last pass tried every single
//! removal and each made the history linearizable, which is the 1-minimality the counterexample
//! promises. Chunks are tried first, halving in size, so a long history loses its irrelevant parts
//! in few searches.

use super::StepBudget;
use super::search::{SearchResult, search};
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
fn removal_pass(current: &mut Vec<Operation>, chunk_len: usize, budget: &mut StepBudget) -> Option<bool> {
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

/// `ops` without `removed`, and without the reads that returned a value no remaining write writes
/// but a removed one did.
pub(super) fn remove_with_dependent_reads(ops: &[Operation], removed: Range<usize>) -> Vec<Operation> {
    let removed_values = sorted_written_values(&ops[removed.clone()]);
    let mut kept: Vec<Operation> = ops[..removed.start].iter().chain(&ops[removed.end..]).copied().collect();
    let kept_values = sorted_written_values(&kept);
    kept.retain(|op| {
        let orphaned =
            |value: &ValueId| removed_values.binary_search(value).is_ok() && kept_values.binary_search(value).is_err();
        op.f != OpKind::Read || !op.value.as_ref().is_some_and(orphaned)
    });
    kept
}

fn sorted_written_values(ops: &[Operation]) -> Vec<ValueId> {
    let mut values: Vec<ValueId> = ops.iter().filter(|op| op.f == OpKind::Write).filter_map(|op| op.value).collect();
    values.sort_unstable();
    values
}
