//! Speed of the linearizability checker on generated histories: `cargo bench --bench linearizability`.
//!
//! Histories are linearizable by construction (each operation takes effect at a random instant of its
//! interval; unknown ones maybe later or never; failed ones never), like a simulator run with 64
//! clients. Prints wall time per history; nothing is asserted about time. `LIN_BUDGET_STEPS`
//! overrides the per-key budget.

use capsim::check::history::{EventType, Operation};
use capsim::check::linearizability::{DEFAULT_BUDGET_STEPS, Verdict, check_history};
use capsim::types::{Key, OpKind};
use std::time::Instant;

/// 1 operation in 50 fails and 1 in 50 is unknown, as in a simulator run with some faults.
fn linearizable_history(
    seed: u64,
    op_count: usize,
    key_count: Key,
    clients: usize,
) -> Vec<Operation> {
    capsim::check::linearizability::generate::linearizable_history(
        seed, op_count, key_count, clients, 50,
    )
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
