//! Histories that are linearizable by construction, for the checker's tests and benchmark.

use crate::check::history::{EventType, Operation};
use crate::types::{Key, OpKind, ValueId};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;

/// `clients` clients each run one operation at a time; every operation takes effect at a random
/// instant inside its interval (an unknown one maybe later, maybe never; a failed one never), and
/// reads return what the register held at that instant. One operation in `uncertain_one_in`
/// fails and one is unknown; the rest complete `ok`.
pub fn linearizable_history(
    seed: u64,
    op_count: usize,
    key_count: Key,
    clients: usize,
    uncertain_one_in: u32,
) -> Vec<Operation> {
    assert!(clients > 0 && key_count > 0 && uncertain_one_in > 2);
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
        let (outcome, effect_us) = match rng.random_range(0..uncertain_one_in) {
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
