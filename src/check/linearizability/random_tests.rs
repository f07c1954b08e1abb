//! Random histories checked against a brute-force checker written straight from the definition, and
//! long generated histories that are linearizable by construction.

use super::*;
use crate::check::history::{EventType, HistoryEvent, Operation, pair_operations};
use crate::types::{Key, OpKind, ValueId};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashSet;

/// One operation as the brute-force checker sees it.
struct Candidate {
    op: Operation,
    /// `ok` operations must be placed; unknown ones may be left out (they never took effect).
    mandatory: bool,
    end_us: u64,
}

/// Tries every order of the operations (and every choice of which unknown ones took effect) that
/// respects real time, over all keys at once, with no partitioning and no pruning beyond
/// remembering the (placed operations, registers) already found to lead nowhere.
fn brute_force_linearizable(ops: &[Operation]) -> bool {
    let candidates: Vec<Candidate> = ops
        .iter()
        .filter(|op| {
            op.outcome != EventType::Fail && (op.outcome == EventType::Ok || op.f != OpKind::Read)
        })
        .map(|op| {
            let ok_end = op.end_us.filter(|_| op.outcome == EventType::Ok);
            Candidate {
                op: *op,
                mandatory: op.outcome == EventType::Ok,
                end_us: ok_end.map_or(u64::MAX, |end| end.max(op.start_us)),
            }
        })
        .collect();
    assert!(
        candidates.len() <= 32,
        "the brute force is for small histories"
    );
    place_rest(&candidates, 0, &mut BTreeMap::new(), &mut HashSet::new())
}

type Registers = BTreeMap<Key, ValueId>;

fn place_rest(
    candidates: &[Candidate],
    placed: u32,
    state: &mut Registers,
    dead_ends: &mut DeadEnds,
) -> bool {
    let is_placed = |i: usize| placed & (1 << i) != 0;
    if (0..candidates.len()).all(|i| is_placed(i) || !candidates[i].mandatory) {
        return true;
    }
    if dead_ends.contains(&(placed, state.clone())) {
        return false;
    }
    for (i, candidate) in candidates.iter().enumerate() {
        let op = candidate.op;
        let must_wait = (0..candidates.len()).any(|j| {
            j != i && !is_placed(j) && candidates[j].mandatory && candidates[j].end_us < op.start_us
        });
        if is_placed(i) || must_wait {
            continue;
        }
        let before = state.get(&op.key).copied();
        let after = match op.f {
            OpKind::Read if op.value != before => continue,
            OpKind::Read => before,
            OpKind::Write => op.value,
            OpKind::Delete => None,
        };
        set_register(state, op.key, after);
        let found = place_rest(candidates, placed | (1 << i), state, dead_ends);
        set_register(state, op.key, before);
        if found {
            return true;
        }
    }
    dead_ends.insert((placed, state.clone()));
    false
}

type DeadEnds = HashSet<(u32, Registers)>;

fn set_register(state: &mut Registers, key: Key, value: Option<ValueId>) {
    match value {
        Some(value) => state.insert(key, value),
        None => state.remove(&key),
    };
}

/// Up to 7 operations on 1–2 keys with short random intervals (so many overlap or touch), random
/// outcomes, and reads returning one of the written values or nothing. The shares of unknown
/// outcomes and of deletes vary from history to history, so that rarer shapes come up too.
fn random_small_history(rng: &mut ChaCha8Rng) -> Vec<Operation> {
    let op_count = rng.random_range(1..=7);
    let key_count = rng.random_range(1..=2);
    random_history(rng, op_count, key_count, 20)
}

/// `op_count` operations on `key_count` keys starting within `span_us`, each lasting up to 8 µs.
fn random_history(
    rng: &mut ChaCha8Rng,
    op_count: usize,
    key_count: Key,
    span_us: u64,
) -> Vec<Operation> {
    let unknown_in_10 = rng.random_range(1..=4);
    let deletes_in_20 = rng.random_range(1..=6);
    let mut ops: Vec<Operation> = (0..op_count)
        .map(|i| {
            let start_us = rng.random_range(0..span_us);
            let end_us = start_us + rng.random_range(0..8);
            let (outcome, end_us) = match rng.random_range(0..10) {
                0 => (EventType::Fail, Some(end_us)),
                draw if draw <= unknown_in_10 => (EventType::Info, None),
                _ => (EventType::Ok, Some(end_us)),
            };
            let f = match rng.random_range(0..20) {
                0..9 => OpKind::Read,
                draw if draw < 20 - deletes_in_20 => OpKind::Write,
                _ => OpKind::Delete,
            };
            let value = (f == OpKind::Write).then_some(ValueId(i as u64 + 1));
            Operation {
                process: i as u64,
                f,
                key: rng.random_range(0..key_count),
                value,
                start_us,
                end_us,
                outcome,
            }
        })
        .collect();
    let written: Vec<Option<ValueId>> = ops
        .iter()
        .filter(|op| op.f == OpKind::Write)
        .map(|op| op.value)
        .collect();
    for op in ops.iter_mut().filter(|op| op.f == OpKind::Read) {
        let choice = rng.random_range(0..=written.len());
        op.value = written.get(choice).copied().flatten();
    }
    ops
}

#[test]
fn agrees_with_brute_force_on_random_busy_keys() {
    let mut rng = ChaCha8Rng::seed_from_u64(23);
    let mut violations = 0;
    let rounds = 600;
    for _ in 0..rounds {
        let op_count = rng.random_range(8..=14);
        let ops = random_history(&mut rng, op_count, 1, 30);
        let verdict = check_history(&ops, DEFAULT_BUDGET_STEPS);
        let expected = brute_force_linearizable(&ops);
        assert_eq!(
            verdict == Verdict::Linearizable,
            expected,
            "{ops:#?}\n{verdict:#?}"
        );
        violations += usize::from(!expected);
    }
    assert!(
        violations > rounds / 10 && violations < rounds * 9 / 10,
        "{violations} violations"
    );
}

#[test]
fn agrees_with_brute_force_on_random_small_histories() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut violations = 0;
    let rounds = 4000;
    for _ in 0..rounds {
        let ops = random_small_history(&mut rng);
        let verdict = check_history(&ops, DEFAULT_BUDGET_STEPS);
        assert!(!matches!(verdict, Verdict::Unknown { .. }), "{ops:#?}");
        let expected = brute_force_linearizable(&ops);
        assert_eq!(
            verdict == Verdict::Linearizable,
            expected,
            "{ops:#?}\n{verdict:#?}"
        );
        violations += usize::from(!expected);
    }
    // Both answers must be common, or the comparison would prove little.
    assert!(
        violations > rounds / 5 && violations < rounds * 4 / 5,
        "{violations} violations"
    );
}

/// `ops` without `ops[index]` and the reads that could have observed it, as the counterexample docs
/// define removal.
fn remove_one(ops: &[Operation], index: usize) -> Vec<Operation> {
    let removed = ops[index];
    let rest: Vec<Operation> = ops
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != index)
        .map(|(_, op)| *op)
        .collect();
    let still_written = |value| {
        rest.iter()
            .any(|op| op.f == OpKind::Write && op.value == value)
    };
    let observed = |read: &Operation| match (removed.f, removed.value) {
        (OpKind::Write, Some(_)) => read.value == removed.value && !still_written(removed.value),
        (OpKind::Write | OpKind::Delete, None) => {
            read.value.is_none()
                && read
                    .end_us
                    .filter(|_| read.outcome == EventType::Ok)
                    .is_none_or(|end| end >= removed.start_us)
        }
        _ => false,
    };
    rest.iter()
        .filter(|op| !(op.f == OpKind::Read && observed(op)))
        .copied()
        .collect()
}

#[test]
fn random_counterexamples_are_minimal_sub_histories() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let mut checked = 0;
    while checked < 800 {
        let ops = if checked % 4 == 0 {
            let op_count = rng.random_range(8..=12);
            random_history(&mut rng, op_count, 1, 30)
        } else {
            random_small_history(&mut rng)
        };
        let Verdict::NotLinearizable(cx) = check_history(&ops, DEFAULT_BUDGET_STEPS) else {
            continue;
        };
        checked += 1;
        assert!(cx.minimal && !cx.ops.is_empty());
        assert!(
            cx.ops.iter().all(|op| op.key == cx.key && ops.contains(op)),
            "{cx:#?}"
        );
        assert!(
            cx.explanation.contains(&format!("k{}", cx.key)),
            "{}",
            cx.explanation
        );
        assert!(!brute_force_linearizable(&cx.ops), "{cx:#?}");
        for i in 0..cx.ops.len() {
            assert!(
                brute_force_linearizable(&remove_one(&cx.ops, i)),
                "removing {i} still fails: {cx:#?}"
            );
        }
    }
}

/// The events a client library would log for `ops`, each with its own process.
fn events_of(ops: &[Operation]) -> Vec<HistoryEvent> {
    let mut events = Vec::new();
    for (process, op) in ops.iter().enumerate() {
        let event = |kind, value, time_us| HistoryEvent {
            kind,
            process: process as u64,
            f: op.f,
            key: op.key,
            value,
            time_us,
        };
        let invoke_value = if op.f == OpKind::Read { None } else { op.value };
        events.push(event(EventType::Invoke, invoke_value, op.start_us));
        if let Some(end_us) = op.end_us {
            events.push(event(op.outcome, op.value, end_us));
        }
    }
    events.sort_by_key(|e| (e.time_us, e.kind != EventType::Invoke));
    events
}

#[test]
fn events_agree_with_brute_force_on_paired_operations() {
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    for _ in 0..1000 {
        let events = events_of(&random_small_history(&mut rng));
        let verdict = check_events(&events, DEFAULT_BUDGET_STEPS);
        assert_eq!(
            verdict == Verdict::Linearizable,
            brute_force_linearizable(&pair_operations(&events)),
            "{events:#?}"
        );
    }
}

#[test]
fn arbitrary_event_sequences_are_handled() {
    let mut rng = ChaCha8Rng::seed_from_u64(17);
    let kinds = [
        EventType::Invoke,
        EventType::Ok,
        EventType::Fail,
        EventType::Info,
    ];
    let fs = [OpKind::Read, OpKind::Write, OpKind::Delete];
    for _ in 0..1000 {
        let events: Vec<HistoryEvent> = (0..rng.random_range(0..10))
            .map(|_| HistoryEvent {
                kind: kinds[rng.random_range(0..4)],
                process: rng.random_range(0..3),
                f: fs[rng.random_range(0..3)],
                key: rng.random_range(0..2),
                value: rng
                    .random_bool(0.7)
                    .then(|| ValueId(rng.random_range(0..4))),
                time_us: rng.random_range(0..20),
            })
            .collect();
        let verdict = check_events(&events, DEFAULT_BUDGET_STEPS);
        assert_eq!(
            verdict == Verdict::Linearizable,
            brute_force_linearizable(&pair_operations(&events)),
            "{events:#?}"
        );
    }
}

/// The generator the benchmark uses, with more failed and unknown operations (1 in 20 each).
fn linearizable_history(
    seed: u64,
    op_count: usize,
    key_count: Key,
    clients: usize,
) -> Vec<Operation> {
    super::generate::linearizable_history(seed, op_count, key_count, clients, 20)
}

#[test]
fn generated_linearizable_histories_pass() {
    for seed in 0..4 {
        let ops = linearizable_history(seed, 3000, 8, 16);
        assert_eq!(
            check_history(&ops, DEFAULT_BUDGET_STEPS),
            Verdict::Linearizable,
            "seed {seed}"
        );
    }
}

/// Turns one `ok` read into a stale read: it returns the value of a write that a later completed
/// update had overwritten before the read started.
fn inject_stale_read(ops: &mut [Operation]) -> Option<usize> {
    let completed = |op: &Operation| op.outcome == EventType::Ok && op.f.is_update();
    for (r, read) in ops
        .iter()
        .enumerate()
        .filter(|(_, op)| op.f == OpKind::Read && op.outcome == EventType::Ok)
    {
        let precedes = |a: &Operation, b: &Operation| a.end_us.is_some_and(|end| end < b.start_us);
        let same_key_before =
            |op: &&Operation| op.key == read.key && completed(op) && precedes(op, read);
        for newer in ops.iter().filter(same_key_before) {
            let older = ops
                .iter()
                .filter(same_key_before)
                .find(|op| op.f == OpKind::Write && precedes(op, newer));
            if let Some(value) = older.map(|op| op.value) {
                ops[r].value = value;
                return Some(r);
            }
        }
    }
    None
}

#[test]
fn injected_stale_read_is_found_and_shrunk() {
    for seed in 0..4 {
        let mut ops = linearizable_history(seed, 3000, 8, 16);
        let stale =
            inject_stale_read(&mut ops).expect("the generator makes stale-read opportunities");
        let Verdict::NotLinearizable(cx) = check_history(&ops, DEFAULT_BUDGET_STEPS) else {
            panic!("seed {seed}: stale read {:?} not found", ops[stale]);
        };
        assert_eq!(cx.key, ops[stale].key);
        assert!(cx.minimal);
        // A closed sub-history of a linearizable history is linearizable, so the stale read is in it.
        assert!(cx.ops.contains(&ops[stale]), "{cx:#?}");
        assert!(cx.ops.len() <= 4, "{cx:#?}");
    }
}
