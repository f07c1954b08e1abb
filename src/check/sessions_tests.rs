//! Hand-built histories; every expected count follows from the definitions in `sessions`.
//! Times are µs; all operations are on key 0 unless said otherwise.

use super::*;
use crate::check::history::Operation;

fn op(process: u64, f: OpKind, value: Option<u64>, start: u64, end: u64) -> Operation {
    Operation {
        process,
        f,
        key: 0,
        value: value.map(ValueId),
        start_us: start,
        end_us: Some(end),
        outcome: EventType::Ok,
    }
}

fn w(process: u64, value: u64, start: u64, end: u64) -> Operation {
    op(process, OpKind::Write, Some(value), start, end)
}

fn r(process: u64, value: Option<u64>, start: u64, end: u64) -> Operation {
    op(process, OpKind::Read, value, start, end)
}

fn d(process: u64, start: u64, end: u64) -> Operation {
    op(process, OpKind::Delete, None, start, end)
}

fn info(mut o: Operation) -> Operation {
    o.outcome = EventType::Info;
    o.end_us = None;
    o
}

fn failed(mut o: Operation) -> Operation {
    o.outcome = EventType::Fail;
    o
}

fn check_ops(mut ops: Vec<Operation>) -> SessionViolations {
    ops.sort_by_key(|o| o.start_us);
    let index = UpdateIndex::new(&ops);
    check(&ops, &index)
}

fn counts(v: &SessionViolations) -> [u64; 4] {
    [
        v.read_your_writes,
        v.monotonic_reads,
        v.monotonic_writes,
        v.writes_follow_reads,
    ]
}

#[test]
fn reading_a_value_older_than_your_own_write_breaks_read_your_writes() {
    // v1 was acknowledged (10) before process 2 wrote v2 (20): v1 is older than v2.
    let v = check_ops(vec![
        w(1, 1, 0, 10),
        w(2, 2, 20, 30),
        r(2, Some(1), 40, 50),
        r(1, Some(1), 40, 50),
    ]);
    assert_eq!(counts(&v), [1, 0, 0, 0]);
    let e = &v.examples[&ViolationKind::ReadYourWrites];
    assert!(e.contains("process 2") && e.contains("v1"), "{e}");
}

#[test]
fn a_value_whose_write_overlapped_yours_is_not_older() {
    // v1 acked at 25, after process 2's write began at 20: either order is possible.
    let v = check_ops(vec![w(1, 1, 0, 25), w(2, 2, 20, 30), r(2, Some(1), 40, 50)]);
    assert_eq!(counts(&v), [0; 4]);
}

#[test]
fn nothing_after_your_own_write_breaks_it_unless_a_delete_may_explain_it() {
    let v = check_ops(vec![w(1, 1, 0, 10), r(1, None, 20, 30)]);
    assert_eq!(counts(&v), [1, 0, 0, 0]);
    // Another process's delete, acked after v1 was invoked, may have come after v1.
    let v = check_ops(vec![w(1, 1, 0, 10), d(2, 5, 15), r(1, None, 20, 30)]);
    assert_eq!(counts(&v), [0; 4]);
    // A delete that started only after the read ended cannot be what it saw.
    let v = check_ops(vec![w(1, 1, 0, 10), r(1, None, 20, 30), d(2, 31, 40)]);
    assert_eq!(counts(&v), [1, 0, 0, 0]);
}

#[test]
fn a_value_you_deleted_coming_back_breaks_read_your_writes() {
    let v = check_ops(vec![w(1, 1, 0, 10), d(1, 20, 30), r(1, Some(1), 40, 50)]);
    assert_eq!(counts(&v), [1, 0, 0, 0]);
}

#[test]
fn reading_an_older_value_after_a_newer_one_breaks_monotonic_reads_and_writes() {
    // Process 1 writes v1 then v2; process 2 sees v2, then v1. Process 3 sees them in order.
    let v = check_ops(vec![
        w(1, 1, 0, 10),
        w(1, 2, 20, 30),
        r(2, Some(2), 40, 50),
        r(3, Some(1), 40, 50),
        r(2, Some(1), 60, 70),
        r(3, Some(2), 60, 70),
        r(2, Some(1), 80, 90),
    ]);
    // Both of process 2's reads of v1 count, once per kind each.
    assert_eq!(counts(&v), [0, 2, 2, 0]);
}

#[test]
fn nothing_after_a_value_is_older_only_if_no_delete_may_have_come_between() {
    let v = check_ops(vec![
        w(1, 1, 0, 10),
        r(2, Some(1), 20, 30),
        r(2, None, 40, 50),
    ]);
    assert_eq!(counts(&v), [0, 1, 0, 0]);
    let v = check_ops(vec![
        w(1, 1, 0, 10),
        r(2, Some(1), 20, 30),
        info(d(3, 35, 0)),
        r(2, None, 40, 50),
    ]);
    assert_eq!(counts(&v), [0; 4]);
}

#[test]
fn after_reading_nothing_any_value_may_be_newer() {
    // "Nothing" may be the initial state, older than v1: no certain violation.
    let v = check_ops(vec![
        w(1, 1, 0, 10),
        d(1, 20, 30),
        r(2, None, 40, 50),
        r(2, Some(1), 60, 70),
    ]);
    assert_eq!(counts(&v), [0; 4]);
}

#[test]
fn a_write_after_reading_a_pending_value_must_stay_after_it() {
    // v1's write is slow (0-100). Process 1 reads v1 early, then writes v2. Process 2 reads v2
    // and then v1: writes follow reads is broken, although real time alone proves nothing
    // (v1 was acknowledged only after v2 began), so monotonic reads is not.
    let v = check_ops(vec![
        w(3, 1, 0, 100),
        r(1, Some(1), 10, 20),
        w(1, 2, 30, 40),
        r(2, Some(2), 50, 60),
        r(2, Some(1), 70, 80),
    ]);
    assert_eq!(counts(&v), [0, 0, 0, 1]);
    let e = &v.examples[&ViolationKind::WritesFollowReads];
    assert!(e.contains("read v1 before writing it"), "{e}");
}

#[test]
fn sessions_end_at_an_unknown_outcome_and_failures_change_nothing() {
    // Process 1's v2 is `info`; the client goes on as process 8, which wrote nothing.
    let v = check_ops(vec![
        w(1, 1, 0, 10),
        info(w(1, 2, 20, 0)),
        r(8, Some(1), 40, 50),
    ]);
    assert_eq!(counts(&v), [0; 4]);
    // A failed write was never applied: reading what was there before is fine.
    let v = check_ops(vec![
        w(1, 1, 0, 10),
        failed(w(2, 2, 20, 30)),
        r(2, Some(1), 40, 50),
    ]);
    assert_eq!(counts(&v), [0; 4]);
    // A failed read returned nothing anyone saw.
    let v = check_ops(vec![w(1, 1, 0, 10), failed(r(1, None, 20, 30))]);
    assert_eq!(counts(&v), [0; 4]);
}

#[test]
fn keys_are_separate_sessions() {
    let mut other = r(1, None, 20, 30);
    other.key = 1;
    let v = check_ops(vec![w(1, 1, 0, 10), other]);
    assert_eq!(counts(&v), [0; 4]);
}
