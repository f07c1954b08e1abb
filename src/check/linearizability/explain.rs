//! Puts a minimal failing sub-history into words.
//!
//! Minimal counterexamples are small and fall into a few shapes (a read of a value nobody could have
//! written, a stale read, two reads that disagree about the order of writes, ...). Each shape below
//! checks all of its conditions on the operations, so its sentence is only used when it is true;
//! anything else gets a sentence listing the operations with their intervals.

use super::search::effective_end_us;
use super::value_after;
use crate::check::history::{EventType, Operation};
use crate::types::{Key, OpKind, SimTime, ValueId};

type Explainer = fn(Key, &[Operation], &[Operation]) -> Option<String>;

/// Explains why `ops` (minimal, one key) cannot be linearized. `key_history` holds every operation
/// on the key, failed ones included, to say why a value could not have been written.
pub(super) fn explain(key: Key, ops: &[Operation], key_history: &[Operation]) -> String {
    let explainers: [Explainer; 6] = [
        read_of_unwritten_value,
        read_before_its_write,
        read_nothing_after_write,
        stale_read,
        read_nothing_after_seen,
        reads_disagree,
    ];
    explainers
        .iter()
        .find_map(|explainer| explainer(key, ops, key_history))
        .unwrap_or_else(|| generic_explanation(key, ops))
}

/// `read of k7 by process 4 (1.000–2.000 ms) returned v3, but the write k7=v3 by process 2 failed...`
fn read_of_unwritten_value(
    key: Key,
    ops: &[Operation],
    key_history: &[Operation],
) -> Option<String> {
    let [read] = ops else { return None };
    let value = read_value(read)??;
    let writes: Vec<&Operation> = key_history
        .iter()
        .filter(|op| op.f == OpKind::Write && op.value == Some(value))
        .collect();
    let reason = match writes.as_slice() {
        [] => format!("no operation in the history wrote {value}"),
        [write] if write.outcome == EventType::Fail => {
            format!(
                "the {} failed, so it never took effect",
                describe(key, write)
            )
        }
        _ => return None,
    };
    Some(format!(
        "{} returned {value}, but {reason}",
        describe_with_interval(key, read)
    ))
}

/// `read ... returned v2 before the write k0=v2 by process 2 had even started (at 2.000 ms)`
fn read_before_its_write(key: Key, ops: &[Operation], _: &[Operation]) -> Option<String> {
    let [first, second] = ops else { return None };
    let (read, write) = if first.f == OpKind::Read {
        (first, second)
    } else {
        (second, first)
    };
    let value = read_value(read)??;
    if write_value(write)? != value || !precedes(read, write) {
        return None;
    }
    Some(format!(
        "{} returned {value} before the {} had even started (at {})",
        describe_with_interval(key, read),
        describe(key, write),
        SimTime(write.start_us)
    ))
}

/// `read ... returned nothing, although write k3=v5 by process 2 completed before the read started...`
fn read_nothing_after_write(
    key: Key,
    ops: &[Operation],
    key_history: &[Operation],
) -> Option<String> {
    let [first, second] = ops else { return None };
    let (write, read) = if first.f == OpKind::Write {
        (first, second)
    } else {
        (second, first)
    };
    write_value(write)?;
    if read_value(read)?.is_some()
        || !precedes(write, read)
        || delete_may_fall_between(key_history, write, read)
    {
        return None;
    }
    Some(format!(
        "{} returned nothing, although {} completed at {}, before the read started, and no delete \
         could have come in between",
        describe_with_interval(key, read),
        describe(key, write),
        end_time(write),
    ))
}

/// `read ... returned v1, but write k7=v2 ... had already completed at ..., after write k7=v1 ...`
/// (or the same with a delete in place of either write).
fn stale_read(key: Key, ops: &[Operation], key_history: &[Operation]) -> Option<String> {
    let [_, _, _] = ops else { return None };
    let read = single(ops, |op| op.f == OpKind::Read)?;
    let seen = read.value;
    let old = single(ops, |op| op.f.is_update() && value_after(op) == seen)?;
    let newer = single(ops, |op| op.f.is_update() && value_after(op) != seen)?;
    if !precedes(old, newer) || !precedes(newer, read) {
        return None;
    }
    // Written values are unique, but "nothing" can come from any delete.
    let another_delete = seen.is_none() && delete_may_fall_between(key_history, newer, read);
    if another_delete {
        return None;
    }
    Some(format!(
        "{} returned {}, but {} had already completed at {}, after {} completed at {}{}",
        describe_with_interval(key, read),
        show(seen),
        describe(key, newer),
        end_time(newer),
        describe(key, old),
        end_time(old),
        if seen.is_none() {
            ", and no other delete could have come in between"
        } else {
            ""
        },
    ))
}

/// `read ... returned nothing, although an earlier read ... had already returned v1 ...`
fn read_nothing_after_seen(
    key: Key,
    ops: &[Operation],
    key_history: &[Operation],
) -> Option<String> {
    let [_, _, _] = ops else { return None };
    let saw_value = single(ops, |op| op.f == OpKind::Read && op.value.is_some())?;
    let saw_nothing = single(ops, |op| op.f == OpKind::Read && op.value.is_none())?;
    let write = single(ops, |op| {
        op.f == OpKind::Write && op.value == saw_value.value
    })?;
    if !precedes(saw_value, saw_nothing)
        || delete_may_fall_between(key_history, saw_value, saw_nothing)
    {
        return None;
    }
    Some(format!(
        "{} returned nothing, although an earlier {} had already returned {} (written by the {}) and \
         no delete could have come in between",
        describe_with_interval(key, saw_nothing),
        describe_with_interval(key, saw_value),
        show(saw_value.value),
        describe(key, write),
    ))
}

/// `read ... returned v1, although an earlier read ... had already returned v2, and the write k0=v1
/// ... had completed at ..., before the write k0=v2 ... started at ...`
///
/// The later read's value (written once) must have been written after the earlier read, which is
/// impossible when its write completed before that read or before the write the earlier read saw.
fn reads_disagree(key: Key, ops: &[Operation], _: &[Operation]) -> Option<String> {
    let [_, _, _, _] = ops else { return None };
    let reads: Vec<&Operation> = ops.iter().filter(|op| op.f == OpKind::Read).collect();
    let [a, b] = reads.as_slice() else {
        return None;
    };
    let (first, second) = if precedes(a, b) { (*a, *b) } else { (*b, *a) };
    let second_value = second.value?;
    let second_write = single(ops, |op| {
        op.f == OpKind::Write && op.value == Some(second_value)
    })?;
    let first_update = single(ops, |op| op.f.is_update() && value_after(op) == first.value)?;
    if !precedes(first, second) || first.value == second.value {
        return None;
    }
    // "Nothing" may also be the initial state, so only the read itself fixes when it came about.
    let (too_late, started_us) = if first.value.is_some() && precedes(second_write, first_update) {
        (
            format!("the {}", describe(key, first_update)),
            first_update.start_us,
        )
    } else if precedes(second_write, first) {
        ("that earlier read".to_string(), first.start_us)
    } else {
        return None;
    };
    Some(format!(
        "{} returned {second_value}, although an earlier {} had already returned {}, and the {} had \
         completed at {}, before {too_late} started at {}{}",
        describe_with_interval(key, second),
        describe_with_interval(key, first),
        show(first.value),
        describe(key, second_write),
        end_time(second_write),
        SimTime(started_us),
        partial_write_note(first_update),
    ))
}

/// Why a replicated system produces the `reads_disagree` shape: most often the value the earlier
/// read saw came from a write whose client never got an answer (a timeout), which some replicas
/// applied and others never did. Said only when the history shows that outcome.
fn partial_write_note(update: &Operation) -> String {
    if update.outcome != EventType::Info {
        return String::new();
    }
    let value = show(value_after(update));
    format!(
        ". That write never got an answer (its outcome is unknown), yet a read saw {value}: it took \
         effect somewhere but not everywhere"
    )
}

fn generic_explanation(key: Key, ops: &[Operation]) -> String {
    let listed: Vec<String> = ops
        .iter()
        .map(|op| describe_with_interval(key, op) + &returned(op))
        .collect();
    format!(
        "even on their own, these operations on k{key} cannot be put in any order that agrees both with \
         their timing and with what the reads returned: {}",
        listed.join("; ")
    )
}

/// The only operation in `ops` matching `wanted`.
fn single(ops: &[Operation], wanted: impl Fn(&Operation) -> bool) -> Option<&Operation> {
    let mut matching = ops.iter().filter(|op| wanted(op));
    let found = matching.next()?;
    matching.next().is_none().then_some(found)
}

/// Whether some delete in the key's whole history (failed ones aside) could take effect after
/// `first` and before `second`. The shapes above only claim "no delete could have come in between"
/// when this is false, so the sentence holds for the full history, not just the counterexample.
fn delete_may_fall_between(
    key_history: &[Operation],
    first: &Operation,
    second: &Operation,
) -> bool {
    key_history.iter().any(|op| {
        op.f == OpKind::Delete
            && op.outcome != EventType::Fail
            && op.start_us <= effective_end_us(second)
            && effective_end_us(op) >= first.start_us
    })
}

/// Whether `a` completed before `b` started, so every linearization puts `a` first.
fn precedes(a: &Operation, b: &Operation) -> bool {
    effective_end_us(a) < b.start_us
}

/// What a read returned (`Some(None)` = nothing); `None` if `op` is not a read.
fn read_value(op: &Operation) -> Option<Option<ValueId>> {
    (op.f == OpKind::Read).then_some(op.value)
}

fn write_value(op: &Operation) -> Option<ValueId> {
    if op.f == OpKind::Write {
        op.value
    } else {
        None
    }
}

fn end_time(op: &Operation) -> SimTime {
    SimTime(effective_end_us(op))
}

fn show(value: Option<ValueId>) -> String {
    value.map_or_else(|| "nothing".to_string(), |v| v.to_string())
}

/// `write k7=v2 by process 2`, `read of k7 by process 4`, `delete of k7 by process 1`.
fn describe(key: Key, op: &Operation) -> String {
    match op.f {
        OpKind::Write => format!("write k{key}={} by process {}", show(op.value), op.process),
        OpKind::Read | OpKind::Delete => {
            format!("{} of k{key} by process {}", op.f.as_str(), op.process)
        }
    }
}

/// `describe` plus when the operation ran: `(1.000–2.000 ms)` or `(started at 1.000 ms, outcome unknown)`.
fn describe_with_interval(key: Key, op: &Operation) -> String {
    let start_ms = SimTime(op.start_us).as_ms();
    let interval = match op.outcome {
        EventType::Ok => format!("({start_ms:.3}–{})", end_time(op)),
        EventType::Fail => format!("(started at {start_ms:.3} ms, failed)"),
        EventType::Info | EventType::Invoke => {
            format!("(started at {start_ms:.3} ms, outcome unknown)")
        }
    };
    format!("{} {interval}", describe(key, op))
}

fn returned(op: &Operation) -> String {
    match op.f {
        OpKind::Read => format!(" returned {}", show(op.value)),
        OpKind::Write | OpKind::Delete => String::new(),
    }
}
