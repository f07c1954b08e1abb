//! Speed of the linearizability checker on generated histories: `cargo bench --bench linearizability`.
//!
//! Histories are linearizable by construction (each operation takes effect at a random instant of its
//! interval; unknown ones maybe later or never; failed ones never), like a simulator run with 64
//! clients. Prints wall time per history; nothing is asserted about time. `LIN_BUDGET_STEPS`
//! overrides the per-key budget.

use capsim::check::history::{EventType, Operation};
use capsim::check::linearizability::{DEFAULT_BUDGET_STEPS, Verdict, check_history};
use capsim::types::{Key, OpKind, ValueId};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::time::Instant;

fn linearizable_history(
    seed: u64,
    op_count: usize,
    key_count: Key,
    clients: usize,
) -> Vec<Operation> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut free_at_us = vec![0u64; clients];
    let mut effects: Vec<(u64, usize)> = Vec::new();
    let mut ops: Vec<Operation> = Vec::with_capacity(op_count);
    for i in 0..op_count {
        let client = rng.random_range(0..clients);
        let start_us = free_at_us[client] + rng.random_range(0..500);
        let end_us = start_us + rng.random_range(1..3000);
        free_at_us[client] = end_us;
        let f = match rng.random_range(0..10) {
            0..5 => OpKind::Read,
            5..9 => OpKind::Write,
            _ => OpKind::Delete,
        };
        let (outcome, effect_us) = match rng.random_range(0..50) {
            0 => (EventType::Fail, None),
            1 => (
                EventType::Info,
                rng.random_bool(0.5)
                    .then(|| rng.random_range(start_us..end_us + 20_000)),
            ),
            _ => (EventType::Ok, Some(rng.random_range(start_us..=end_us))),
        };
        effects.extend(effect_us.map(|at_us| (at_us, i)));
        let value = (f == OpKind::Write).then_some(ValueId(i as u64 + 1));
        let end_us = (outcome != EventType::Info).then_some(end_us);
        let process = (i * clients + client) as u64;
        ops.push(Operation {
            process,
            f,
            key: rng.random_range(0..key_count),
            value,
            start_us,
            end_us,
            outcome,
        });
    }
    effects.sort_unstable();
    let mut registers: BTreeMap<Key, Option<ValueId>> = BTreeMap::new();
    for (_, i) in effects {
        let op = &mut ops[i];
        match op.f {
            OpKind::Read => op.value = registers.get(&op.key).copied().flatten(),
            OpKind::Write | OpKind::Delete => {
                registers.insert(op.key, op.value);
            }
        }
    }
    ops
}

/// Makes the last `ok` read of key 0 return the first value written to key 0: stale, since later
/// writes completed before it (in histories this long).
fn inject_stale_read(ops: &mut [Operation]) {
    let first_write = ops
        .iter()
        .find(|op| op.key == 0 && op.f == OpKind::Write && op.outcome == EventType::Ok);
    let value = first_write.and_then(|op| op.value);
    let last_read = ops
        .iter_mut()
        .rev()
        .find(|op| op.key == 0 && op.f == OpKind::Read && op.outcome == EventType::Ok);
    if let Some(read) = last_read {
        read.value = value;
    }
}

fn measure(label: &str, ops: &[Operation]) {
    let started = Instant::now();
    let budget_steps = std::env::var("LIN_BUDGET_STEPS")
        .ok()
        .and_then(|b| b.parse().ok());
    let verdict = check_history(ops, budget_steps.unwrap_or(DEFAULT_BUDGET_STEPS));
    let elapsed = started.elapsed();
    let summary = match &verdict {
        Verdict::Linearizable => "linearizable".to_string(),
        Verdict::NotLinearizable(cx) => {
            format!("not linearizable, {} ops: {}", cx.ops.len(), cx.explanation)
        }
        Verdict::Unknown { key, steps } => format!("unknown (k{key} after {steps} steps)"),
    };
    println!(
        "{label:<44} {:>9.1} ms  {summary}",
        elapsed.as_secs_f64() * 1000.0
    );
}

fn main() {
    for (op_count, key_count) in [
        (100_000, 1000),
        (100_000, 100),
        (100_000, 10),
        (100_000, 4),
        (100_000, 2),
        (100_000, 1),
    ] {
        let ops = linearizable_history(1, op_count, key_count, 64);
        measure(
            &format!("{op_count} ops, {key_count} keys, 64 clients"),
            &ops,
        );
    }
    for key_count in [1000, 10] {
        let mut ops = linearizable_history(2, 100_000, key_count, 64);
        inject_stale_read(&mut ops);
        measure(
            &format!("100000 ops, {key_count} keys, one stale read"),
            &ops,
        );
    }
}
