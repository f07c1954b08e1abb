//! Hand-built histories with known answers, explanations, budgets and malformed input.

use super::*;
use crate::check::history::{EventType, HistoryEvent, Operation};
use crate::types::{Key, OpKind, ValueId};

const MS: u64 = 1000;

fn op(
    process: u64,
    f: OpKind,
    key: Key,
    value: Option<u64>,
    start_ms: u64,
    end_ms: u64,
) -> Operation {
    Operation {
        process,
        f,
        key,
        value: value.map(ValueId),
        start_us: start_ms * MS,
        end_us: Some(end_ms * MS),
        outcome: EventType::Ok,
    }
}

fn write(process: u64, key: Key, value: u64, start_ms: u64, end_ms: u64) -> Operation {
    op(process, OpKind::Write, key, Some(value), start_ms, end_ms)
}

fn read(process: u64, key: Key, value: Option<u64>, start_ms: u64, end_ms: u64) -> Operation {
    op(process, OpKind::Read, key, value, start_ms, end_ms)
}

fn delete(process: u64, key: Key, start_ms: u64, end_ms: u64) -> Operation {
    op(process, OpKind::Delete, key, None, start_ms, end_ms)
}

/// The same operation with an unknown outcome: it may take effect any time after its start.
fn info(op: Operation) -> Operation {
    Operation {
        end_us: None,
        outcome: EventType::Info,
        ..op
    }
}

fn failed(op: Operation) -> Operation {
    Operation {
        outcome: EventType::Fail,
        ..op
    }
}

fn check(ops: &[Operation]) -> Verdict {
    check_history(ops, DEFAULT_BUDGET_STEPS)
}

fn counterexample(ops: &[Operation]) -> Counterexample {
    match check(ops) {
        Verdict::NotLinearizable(counterexample) => counterexample,
        other => panic!("expected a violation, got {other:?}"),
    }
}

fn assert_linearizable(ops: &[Operation]) {
    assert_eq!(check(ops), Verdict::Linearizable, "history: {ops:#?}");
}

#[test]
fn empty_history_is_linearizable() {
    assert_linearizable(&[]);
}

#[test]
fn sequential_ok_history_is_linearizable() {
    assert_linearizable(&[
        read(1, 0, None, 0, 1),
        write(1, 0, 1, 2, 3),
        read(2, 0, Some(1), 4, 5),
        write(2, 0, 2, 6, 7),
        read(1, 0, Some(2), 8, 9),
    ]);
}

#[test]
fn concurrent_writes_may_take_effect_in_either_order() {
    let writes = [write(1, 0, 1, 0, 10), write(2, 0, 2, 1, 9)];
    for last in [1, 2] {
        let mut ops = writes.to_vec();
        ops.push(read(3, 0, Some(last), 11, 12));
        ops.push(read(4, 0, Some(last), 13, 14));
        assert_linearizable(&ops);
    }
}

#[test]
fn stale_read_is_not_linearizable_and_explained() {
    let cx = counterexample(&[
        write(1, 7, 1, 0, 5),
        write(2, 7, 2, 6, 10),
        read(3, 0, None, 11, 12),
        read(4, 7, Some(1), 12, 13),
    ]);
    assert_eq!(cx.key, 7);
    assert_eq!(cx.ops.len(), 3);
    assert!(cx.minimal);
    assert_eq!(
        cx.explanation,
        "read of k7 by process 4 (12.000–13.000 ms) returned v1, but write k7=v2 by process 2 had already \
         completed at 10.000 ms, after write k7=v1 by process 1 completed at 5.000 ms"
    );
}

#[test]
fn stale_read_after_a_delete_is_explained() {
    let cx = counterexample(&[
        write(1, 3, 1, 0, 5),
        delete(2, 3, 6, 10),
        read(4, 3, Some(1), 12, 13),
    ]);
    assert_eq!(cx.ops.len(), 3);
    assert!(
        cx.explanation
            .contains("but delete of k3 by process 2 had already completed at 10.000 ms")
    );
}

#[test]
fn reading_nothing_after_a_completed_write_is_not_linearizable() {
    let cx = counterexample(&[write(2, 3, 5, 0, 4), read(1, 3, None, 5, 6)]);
    assert_eq!(cx.ops.len(), 2);
    assert_eq!(
        cx.explanation,
        "read of k3 by process 1 (5.000–6.000 ms) returned nothing, although write k3=v5 by process 2 \
         completed at 4.000 ms, before the read started, and no delete could have come in between"
    );
}

#[test]
fn reading_a_concurrent_write_is_linearizable() {
    assert_linearizable(&[
        write(1, 0, 1, 0, 10),
        read(2, 0, Some(1), 2, 3),
        read(3, 0, None, 1, 4),
    ]);
}

#[test]
fn operations_that_only_touch_count_as_concurrent() {
    // The read starts at the very instant the write completes, so it may still go first.
    assert_linearizable(&[write(1, 0, 1, 0, 5), read(2, 0, None, 5, 6)]);
    assert!(matches!(
        check(&[write(1, 0, 1, 0, 5), read(2, 0, None, 6, 7)]),
        Verdict::NotLinearizable(_)
    ));
}

#[test]
fn reads_disagreeing_about_write_order_are_not_linearizable() {
    let cx = counterexample(&[
        write(1, 0, 1, 0, 2),
        write(2, 0, 2, 3, 20),
        read(3, 0, Some(2), 4, 5),
        read(4, 0, Some(1), 6, 7),
    ]);
    assert_eq!(cx.ops.len(), 4);
    assert_eq!(
        cx.explanation,
        "read of k0 by process 4 (6.000–7.000 ms) returned v1, although an earlier read of k0 by process 3 \
         (4.000–5.000 ms) had already returned v2, and the write k0=v1 by process 1 had completed at \
         2.000 ms, before the write k0=v2 by process 2 started at 3.000 ms"
    );
}

/// The shape a partition leaves behind: the write the earlier read saw timed out (`info`), so
/// the explanation says it took effect on some replicas only.
#[test]
fn reads_disagreeing_after_an_unanswered_write_say_so() {
    let cx = counterexample(&[
        write(1, 0, 1, 0, 2),
        info(write(2, 0, 2, 3, 20)),
        read(3, 0, Some(2), 21, 22),
        read(4, 0, Some(1), 23, 24),
    ]);
    assert!(
        cx.explanation.ends_with(
            "before the write k0=v2 by process 2 started at 3.000 ms. That write never got an \
             answer (its outcome is unknown), yet a read saw v2: it took effect somewhere but not \
             everywhere"
        ),
        "{}",
        cx.explanation
    );
}

#[test]
fn info_write_may_have_taken_effect() {
    assert_linearizable(&[
        write(1, 0, 1, 0, 1),
        info(write(2, 0, 2, 2, 3)),
        read(3, 0, Some(2), 50, 51),
    ]);
}

#[test]
fn info_write_may_never_have_taken_effect() {
    assert_linearizable(&[
        write(1, 0, 1, 0, 1),
        info(write(2, 0, 2, 2, 3)),
        read(3, 0, Some(1), 50, 51),
    ]);
}

#[test]
fn info_write_seen_then_older_value_again_is_not_linearizable() {
    let cx = counterexample(&[
        write(1, 0, 1, 0, 1),
        info(write(2, 0, 2, 2, 3)),
        read(3, 0, Some(2), 4, 5),
        read(4, 0, Some(1), 6, 7),
    ]);
    assert_eq!(cx.ops.len(), 4);
    assert!(
        cx.explanation
            .starts_with("read of k0 by process 4 (6.000–7.000 ms) returned v1, although")
    );
}

#[test]
fn info_write_cannot_take_effect_before_it_started() {
    let cx = counterexample(&[read(1, 0, Some(2), 0, 1), info(write(2, 0, 2, 2, 3))]);
    assert_eq!(cx.ops.len(), 2);
    assert_eq!(
        cx.explanation,
        "read of k0 by process 1 (0.000–1.000 ms) returned v2 before the write k0=v2 by process 2 had \
         even started (at 2.000 ms)"
    );
}

#[test]
fn unknown_delete_does_not_hold_up_a_write_read_much_later() {
    // The write must take effect by 7 ms and nothing may replace its value before its read at
    // 20 ms, so the unknown delete (which could matter until 12 ms) must never have happened.
    assert_linearizable(&[
        write(1, 0, 1, 0, 7),
        read(2, 0, None, 5, 12),
        info(delete(3, 0, 10, 11)),
        read(4, 0, Some(1), 20, 30),
    ]);
}

#[test]
fn failed_write_whose_value_is_never_seen_is_ignored() {
    assert_linearizable(&[
        write(1, 0, 1, 0, 1),
        failed(write(2, 0, 2, 2, 3)),
        read(3, 0, Some(1), 4, 5),
        failed(read(4, 0, Some(7), 4, 5)),
    ]);
}

#[test]
fn failed_write_whose_value_is_seen_is_not_linearizable() {
    let cx = counterexample(&[
        write(1, 0, 1, 0, 1),
        failed(write(2, 0, 2, 2, 3)),
        read(3, 0, Some(2), 4, 5),
    ]);
    assert_eq!(cx.ops, vec![read(3, 0, Some(2), 4, 5)]);
    assert_eq!(
        cx.explanation,
        "read of k0 by process 3 (4.000–5.000 ms) returned v2, but the write k0=v2 by process 2 failed, \
         so it never took effect"
    );
}

#[test]
fn read_of_a_value_nobody_wrote_is_explained() {
    let cx = counterexample(&[read(3, 0, Some(9), 4, 5)]);
    assert!(
        cx.explanation
            .ends_with("returned v9, but no operation in the history wrote v9")
    );
}

#[test]
fn delete_clears_the_key() {
    assert_linearizable(&[
        write(1, 0, 1, 0, 1),
        delete(2, 0, 2, 3),
        read(3, 0, None, 4, 5),
    ]);
    assert_linearizable(&[
        write(1, 0, 1, 0, 1),
        delete(2, 0, 2, 6),
        read(3, 0, Some(1), 3, 4),
    ]);
    assert_linearizable(&[
        write(1, 0, 1, 0, 1),
        info(delete(2, 0, 2, 3)),
        read(3, 0, None, 4, 5),
    ]);
    assert_linearizable(&[
        write(1, 0, 1, 0, 1),
        info(delete(2, 0, 2, 3)),
        read(3, 0, Some(1), 4, 5),
    ]);
    let cx = counterexample(&[
        write(1, 0, 1, 0, 1),
        delete(2, 0, 2, 3),
        read(3, 0, Some(1), 4, 5),
    ]);
    assert_eq!(cx.ops.len(), 3);
}

#[test]
fn reading_nothing_after_a_value_was_seen_is_explained() {
    let cx = counterexample(&[
        info(write(1, 0, 1, 0, 1)),
        read(2, 0, Some(1), 2, 3),
        read(3, 0, None, 4, 5),
    ]);
    assert_eq!(cx.ops.len(), 3);
    assert_eq!(
        cx.explanation,
        "read of k0 by process 3 (4.000–5.000 ms) returned nothing, although an earlier read of k0 by \
         process 2 (2.000–3.000 ms) had already returned v1 (written by the write k0=v1 by process 1) and \
         no delete could have come in between"
    );
}

#[test]
fn explanation_never_claims_no_delete_when_one_could_fit() {
    // A delete could fall between the write and the read of nothing, but a later read shows it did
    // not. Dropping the delete would also drop the read it explains, so all four are needed.
    let ops = [
        write(1, 0, 1, 0, 1),
        delete(2, 0, 2, 20),
        read(3, 0, None, 3, 4),
        read(4, 0, Some(1), 5, 6),
    ];
    let cx = counterexample(&ops);
    assert!(cx.minimal);
    assert_eq!(cx.ops, ops.to_vec());
    assert_eq!(
        cx.explanation,
        "read of k0 by process 4 (5.000–6.000 ms) returned v1, although an earlier read of k0 by process 3 \
         (3.000–4.000 ms) had already returned nothing, and the write k0=v1 by process 1 had completed at \
         1.000 ms, before that earlier read started at 3.000 ms"
    );
}

#[test]
fn stale_read_of_nothing_is_explained_unless_another_delete_could_explain_it() {
    let ops = [
        delete(1, 0, 0, 1),
        write(2, 0, 6, 2, 3),
        read(3, 0, None, 4, 5),
    ];
    let cx = counterexample(&ops);
    assert_eq!(cx.ops, ops.to_vec());
    assert_eq!(
        cx.explanation,
        "read of k0 by process 3 (4.000–5.000 ms) returned nothing, but write k0=v6 by process 2 had already \
         completed at 3.000 ms, after delete of k0 by process 1 completed at 1.000 ms, and no other delete \
         could have come in between"
    );
    // A concurrent delete that a later read rules out: the sentence above would no longer be true.
    let more = [
        ops[0],
        ops[1],
        ops[2],
        delete(4, 0, 2, 20),
        read(5, 0, Some(6), 6, 7),
    ];
    let cx = counterexample(&more);
    assert!(
        !cx.explanation.contains("no other delete"),
        "{}",
        cx.explanation
    );
}

#[test]
fn keys_are_checked_independently_and_the_failing_key_is_reported() {
    let cx = counterexample(&[
        write(1, 1, 1, 0, 1),
        write(2, 2, 2, 0, 1),
        read(3, 1, Some(1), 2, 3),
        read(4, 2, None, 2, 3),
        read(5, 1, Some(1), 4, 5),
    ]);
    assert_eq!(cx.key, 2);
    assert!(cx.ops.iter().all(|op| op.key == 2));
}

/// Ten writes and a read of each, all concurrent, then a read of nothing although nothing deleted
/// the key. The search only finds out at that last read, after trying every order of the pairs
/// (up to the memo): about 2^10 states.
fn hard_history() -> Vec<Operation> {
    let mut ops: Vec<Operation> = (0..10).map(|i| write(i, 0, i + 1, 0, 100)).collect();
    ops.extend((0..10).map(|i| read(i + 10, 0, Some(i + 1), 0, 100)));
    ops.push(read(100, 0, None, 101, 102));
    ops
}

#[test]
fn search_out_of_budget_is_unknown() {
    assert_eq!(
        check_history(&hard_history(), 5),
        Verdict::Unknown { key: 0, steps: 5 }
    );
}

#[test]
fn hard_history_gets_an_answer_with_enough_budget() {
    let cx = counterexample(&hard_history());
    assert!(cx.minimal);
    assert_eq!(cx.ops.len(), 2, "{:#?}", cx.ops);
}

#[test]
fn a_violation_on_another_key_beats_unknown() {
    let mut ops = hard_history();
    assert!(matches!(check_history(&ops, 20), Verdict::Unknown { .. }));
    ops.push(write(1, 5, 1, 0, 1));
    ops.push(read(2, 5, None, 2, 3));
    match check_history(&ops, 20) {
        Verdict::NotLinearizable(cx) => assert_eq!(cx.key, 5),
        other => panic!("expected a violation on k5, got {other:?}"),
    }
}

#[test]
fn shrinking_out_of_budget_still_returns_a_failing_history() {
    let ops = hard_history();
    let (shrunk, minimal) = shrink::shrink(ops, 10);
    assert!(!minimal);
    let mut budget = StepBudget::new(DEFAULT_BUDGET_STEPS);
    assert_eq!(
        search::search(&shrunk, &mut budget),
        search::SearchResult::NotLinearizable
    );
}

#[test]
fn events_are_paired_and_unfinished_invocations_are_unknown() {
    let event = |kind, process, f, value: Option<u64>, time_us| HistoryEvent {
        kind,
        process,
        f,
        key: 4,
        value: value.map(ValueId),
        time_us,
    };
    let mut events = vec![
        event(EventType::Invoke, 1, OpKind::Write, Some(1), 0),
        event(EventType::Ok, 1, OpKind::Write, Some(1), 10),
        event(EventType::Invoke, 2, OpKind::Write, Some(2), 20), // never completes
        event(EventType::Ok, 9, OpKind::Read, Some(5), 25),      // completes nothing
        event(EventType::Invoke, 3, OpKind::Read, None, 30),
        event(EventType::Ok, 3, OpKind::Read, Some(2), 40),
    ];
    assert_eq!(
        check_events(&events, DEFAULT_BUDGET_STEPS),
        Verdict::Linearizable
    );
    events.push(event(EventType::Invoke, 4, OpKind::Read, None, 50));
    events.push(event(EventType::Ok, 4, OpKind::Read, Some(1), 60));
    assert!(matches!(
        check_events(&events, DEFAULT_BUDGET_STEPS),
        Verdict::NotLinearizable(_)
    ));
}

#[test]
fn malformed_operations_do_not_panic() {
    let backwards = Operation {
        end_us: Some(0),
        ..write(1, 0, 1, 5, 6)
    };
    let ok_without_end = Operation {
        end_us: None,
        ..read(2, 0, Some(1), 7, 8)
    };
    let invoke_outcome = Operation {
        outcome: EventType::Invoke,
        ..write(3, 0, 3, 9, 10)
    };
    let valueless_write = op(4, OpKind::Write, 0, None, 11, 12);
    let extreme = Operation {
        start_us: u64::MAX,
        end_us: Some(u64::MAX),
        ..read(5, 0, None, 0, 0)
    };
    let ops = [
        backwards,
        ok_without_end,
        invoke_outcome,
        valueless_write,
        extreme,
    ];
    // The backwards write counts as taking effect at its start; the valueless write clears the key.
    assert_eq!(check(&ops), Verdict::Linearizable);
    let stale = Operation {
        end_us: Some(u64::MAX),
        ..read(6, 0, Some(1), 13, 14)
    };
    assert!(matches!(
        check(&[backwards, valueless_write, stale]),
        Verdict::NotLinearizable(_)
    ));
}

#[test]
fn every_key_is_checked_and_counted() {
    let mut ops = hard_history(); // k0: out of budget at 20 steps
    for key in [3, 5] {
        ops.push(write(1, key, 100 + key as u64, 0, 1));
        ops.push(read(2, key, None, 2, 3)); // reads nothing after the write: a violation
    }
    ops.push(write(1, 4, 7, 0, 1));
    ops.push(read(2, 4, Some(7), 2, 3)); // fine
    let all = check_every_key(&ops, 20);
    assert_eq!(all.not_linearizable, vec![3, 5]);
    assert_eq!(all.unknown.iter().map(|u| u.0).collect::<Vec<_>>(), vec![0]);
    assert_eq!(all.counterexample.as_ref().map(|c| c.key), Some(3));
    assert_eq!(all.verdict(), check_history(&ops, 20));
    let fine = check_every_key(&ops[ops.len() - 2..], 20);
    assert_eq!(fine, KeyVerdicts::default());
    assert_eq!(fine.verdict(), Verdict::Linearizable);
    let unknown = check_every_key(&hard_history(), 5);
    assert_eq!(unknown.verdict(), Verdict::Unknown { key: 0, steps: 5 });
}
