//! Helpers shared by the integration tests: scenarios from text, recorded runs, trace queries.
#![allow(dead_code)] // each test binary uses a different subset

use capsim::Sim;
use capsim::engine::Options;
use capsim::scenario::Scenario;
use capsim::trace::{DropReason, Stamped, TraceEvent};
use capsim::types::{NodeId, SimTime};

/// Parses and validates a scenario written in a test.
pub fn scenario(text: &str) -> Scenario {
    capsim::scenario::from_str("test", text).unwrap_or_else(|e| panic!("bad test scenario: {e}"))
}

/// The shipped lesson scenarios, by file name, with the benchmark cut down to 3000 ops.
pub fn shipped_scenarios() -> Vec<(String, Scenario)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("scenarios/ exists") {
        let path = entry.expect("readable entry").path();
        if path.extension().is_none_or(|e| e != "ron") {
            continue;
        }
        let mut s = capsim::io::read_scenario(&path).unwrap_or_else(|e| panic!("{e}"));
        if s.run.ops.is_some_and(|ops| ops > 3_000) {
            s.run.ops = Some(3_000);
        }
        out.push((path.file_name().unwrap().to_string_lossy().into_owned(), s));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(out.len() >= 3, "the shipped scenarios are found");
    out
}

/// One shipped scenario by file name.
pub fn shipped(name: &str) -> Scenario {
    shipped_scenarios()
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("scenarios/{name} is shipped"))
        .1
}

pub fn recording() -> Options {
    Options {
        record_trace: true,
        ..Options::default()
    }
}

/// Runs to the end, recording the trace.
pub fn run_recorded(s: &Scenario) -> (Sim, Vec<Stamped>) {
    let mut sim = Sim::new(s, &recording());
    sim.run_to_end();
    let trace = sim.drain_trace();
    (sim, trace)
}

pub fn ms(t: f64) -> SimTime {
    SimTime::from_ms(t)
}

pub fn n(i: u16) -> NodeId {
    NodeId(i - 1)
}

/// (time, from, to, msg) of every delivery.
pub fn deliveries(trace: &[Stamped]) -> Vec<(SimTime, NodeId, NodeId, u64)> {
    trace
        .iter()
        .filter_map(|s| match s.event {
            TraceEvent::Deliver { from, to, msg, .. } => Some((s.at, from, to, msg)),
            _ => None,
        })
        .collect()
}

/// (time, from, to, reason) of every drop.
pub fn drops(trace: &[Stamped]) -> Vec<(SimTime, NodeId, NodeId, DropReason)> {
    trace
        .iter()
        .filter_map(|s| match s.event {
            TraceEvent::Drop {
                from, to, reason, ..
            } => Some((s.at, from, to, reason)),
            _ => None,
        })
        .collect()
}

/// (time, from, to, msg, arrive) of every send.
pub fn sends(trace: &[Stamped]) -> Vec<(SimTime, NodeId, NodeId, u64, SimTime)> {
    trace
        .iter()
        .filter_map(|s| match s.event {
            TraceEvent::Send {
                from,
                to,
                msg,
                arrive,
                ..
            } => Some((s.at, from, to, msg, arrive)),
            _ => None,
        })
        .collect()
}

/// One client operation as the trace tells it.
#[derive(Clone, Copy, Debug)]
pub struct TracedOp {
    pub invoked: SimTime,
    pub node: NodeId,
    pub f: capsim::types::OpKind,
    pub completed: Option<(SimTime, capsim::check::history::EventType)>,
    pub reason: Option<capsim::policy::FailReason>,
}

/// Every operation in the trace, by op id.
pub fn traced_ops(trace: &[Stamped]) -> std::collections::BTreeMap<u64, TracedOp> {
    let mut ops = std::collections::BTreeMap::new();
    for s in trace {
        match s.event {
            TraceEvent::Invoke { op, node, f, .. } => {
                let t = TracedOp {
                    invoked: s.at,
                    node,
                    f,
                    completed: None,
                    reason: None,
                };
                assert!(ops.insert(op, t).is_none(), "op {op} invoked twice");
            }
            TraceEvent::Complete {
                op,
                outcome,
                reason,
                ..
            } => {
                let t = ops.get_mut(&op).expect("completed after its invocation");
                assert!(t.completed.is_none(), "op {op} completed twice");
                t.completed = Some((s.at, outcome));
                t.reason = reason;
            }
            _ => {}
        }
    }
    ops
}
