//! Jepsen-style operation history: one event per invocation and one per completion.
//!
//! JSONL form (one object per line), documented in README.md:
//! `{"type":"invoke","process":3,"f":"write","key":17,"value":42,"time_us":1234}`
//! `type` is `invoke`, then one of `ok`, `fail` (definitely not applied) or `info` (unknown).
//! For reads the `ok` line's `value` is what was read (`null` = no value); for writes it is the value
//! written; deletes carry `null`.

use crate::types::{Key, OpKind, ValueId};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventType {
    Invoke,
    Ok,
    Fail,
    Info,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Invoke => "invoke",
            EventType::Ok => "ok",
            EventType::Fail => "fail",
            EventType::Info => "info",
        }
    }
}

/// One line of the history.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEvent {
    #[serde(rename = "type")]
    pub kind: EventType,
    /// A client's process id. After an `info` the client continues under a fresh process id,
    /// because its old operation may still take effect at any later time.
    pub process: u64,
    pub f: OpKind,
    pub key: Key,
    #[serde(with = "opt_value")]
    pub value: Option<ValueId>,
    pub time_us: u64,
}

mod opt_value {
    use crate::types::ValueId;
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(v: &Option<ValueId>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_some(&v.0),
            None => s.serialize_none(),
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<ValueId>, D::Error> {
        Ok(Option::<u64>::deserialize(d)?.map(ValueId))
    }
}

/// A completed operation: an invocation paired with its completion.
/// `end_us` is `None` for `info` operations (they may take effect at any time after `start_us`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Operation {
    pub process: u64,
    pub f: OpKind,
    pub key: Key,
    /// Value written (writes), or value returned (reads, `ok` only).
    pub value: Option<ValueId>,
    pub start_us: u64,
    pub end_us: Option<u64>,
    pub outcome: EventType,
}

/// Pairs invocations with completions. Events must be in time order; a process has at most one
/// operation open at a time. Invocations never completed are returned as `info`.
pub fn pair_operations(events: &[HistoryEvent]) -> Vec<Operation> {
    let mut open: std::collections::BTreeMap<u64, usize> = Default::default();
    let mut ops: Vec<Operation> = Vec::new();
    for e in events {
        match e.kind {
            EventType::Invoke => {
                open.insert(e.process, ops.len());
                ops.push(Operation {
                    process: e.process,
                    f: e.f,
                    key: e.key,
                    value: e.value,
                    start_us: e.time_us,
                    end_us: None,
                    outcome: EventType::Info,
                });
            }
            done => {
                let Some(i) = open.remove(&e.process) else {
                    continue;
                };
                let op = &mut ops[i];
                op.outcome = done;
                if done != EventType::Info {
                    op.end_us = Some(e.time_us);
                }
                if op.f == OpKind::Read && done == EventType::Ok {
                    op.value = e.value;
                }
            }
        }
    }
    ops
}
