//! Faults are data: the scenario's schedule, random draws, the API and GUI clicks all become a
//! [`Fault`] applied at a simulated time. Timed faults schedule their own undo.

use super::rng::SimRng;
use crate::scenario::schema::{FaultSpec, RandomFault, RandomFaultKind, SetValue};
use crate::types::{NodeId, ms_to_us};

/// A fault with its nodes resolved.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    Crash(NodeId),
    /// Crash (if up) and lose the durable state too; undone by a `Restart`.
    WipeDisk(NodeId),
    Restart(NodeId),
    Pause(NodeId),
    Resume(NodeId),
    /// Nodes in different groups cannot talk; nodes in no group form one more group.
    Partition(Vec<Vec<NodeId>>),
    PartitionOneWay {
        from: Vec<NodeId>,
        to: Vec<NodeId>,
    },
    CutLink {
        a: NodeId,
        b: NodeId,
        one_way: bool,
    },
    /// Remove one earlier cut (the undo of a timed partition or cut).
    Unblock(u32),
    HealAll,
    ClockSkew {
        node: NodeId,
        skew_us: i64,
    },
    ClockDrift {
        node: NodeId,
        drift_ppm: i64,
    },
    LossBurst(f64),
    LossBurstEnd,
    Set {
        path: String,
        value: SetValue,
    },
}

fn node(name: &str) -> NodeId {
    // Validation has checked every name.
    NodeId::parse(name).unwrap_or(NodeId(0))
}

fn nodes(names: &[String]) -> Vec<NodeId> {
    names.iter().map(|n| node(n)).collect()
}

impl Fault {
    pub fn from_spec(spec: &FaultSpec) -> Fault {
        match spec {
            FaultSpec::Crash(n) => Fault::Crash(node(n)),
            FaultSpec::WipeDisk(n) => Fault::WipeDisk(node(n)),
            FaultSpec::Restart(n) => Fault::Restart(node(n)),
            FaultSpec::Pause(n) => Fault::Pause(node(n)),
            FaultSpec::Resume(n) => Fault::Resume(node(n)),
            FaultSpec::Partition(groups) => {
                Fault::Partition(groups.iter().map(|g| nodes(g)).collect())
            }
            FaultSpec::PartitionOneWay { from, to } => Fault::PartitionOneWay {
                from: nodes(from),
                to: nodes(to),
            },
            FaultSpec::CutLink { a, b, one_way } => Fault::CutLink {
                a: node(a),
                b: node(b),
                one_way: *one_way,
            },
            FaultSpec::HealAll => Fault::HealAll,
            FaultSpec::HealCut(cut) => Fault::Unblock(*cut),
            FaultSpec::ClockSkew { node: n, skew_ms } => Fault::ClockSkew {
                node: node(n),
                skew_us: libm::round(skew_ms * 1000.0) as i64,
            },
            FaultSpec::ClockDrift { node: n, drift_ppm } => Fault::ClockDrift {
                node: node(n),
                drift_ppm: libm::round(*drift_ppm) as i64,
            },
            FaultSpec::Set(path, value) => Fault::Set {
                path: path.clone(),
                value: value.clone(),
            },
        }
    }

    /// The scenario form of this fault (for saving a session's interventions), where one exists.
    pub fn to_spec(&self) -> Option<FaultSpec> {
        let name = |n: &NodeId| n.to_string();
        let names = |v: &[NodeId]| v.iter().map(name).collect::<Vec<_>>();
        Some(match self {
            Fault::Crash(n) => FaultSpec::Crash(name(n)),
            Fault::WipeDisk(n) => FaultSpec::WipeDisk(name(n)),
            Fault::Restart(n) => FaultSpec::Restart(name(n)),
            Fault::Pause(n) => FaultSpec::Pause(name(n)),
            Fault::Resume(n) => FaultSpec::Resume(name(n)),
            Fault::Partition(g) => FaultSpec::Partition(g.iter().map(|g| names(g)).collect()),
            Fault::PartitionOneWay { from, to } => FaultSpec::PartitionOneWay {
                from: names(from),
                to: names(to),
            },
            Fault::CutLink { a, b, one_way } => FaultSpec::CutLink {
                a: name(a),
                b: name(b),
                one_way: *one_way,
            },
            Fault::HealAll => FaultSpec::HealAll,
            Fault::Unblock(cut) => FaultSpec::HealCut(*cut),
            Fault::ClockSkew { node, skew_us } => FaultSpec::ClockSkew {
                node: name(node),
                skew_ms: *skew_us as f64 / 1000.0,
            },
            Fault::ClockDrift { node, drift_ppm } => FaultSpec::ClockDrift {
                node: name(node),
                drift_ppm: *drift_ppm as f64,
            },
            Fault::Set { path, value } => FaultSpec::Set(path.clone(), value.clone()),
            Fault::LossBurst(_) | Fault::LossBurstEnd => return None,
        })
    }
}

/// Draws one random fault of `spec`'s kind and its duration (µs). `up` lists nodes that are up.
pub fn draw(spec: &RandomFault, n: u16, up: &[NodeId], rng: &mut SimRng) -> Option<(Fault, u64)> {
    let duration = rng.between(ms_to_us(spec.min_ms), ms_to_us(spec.max_ms));
    let any = |rng: &mut SimRng| NodeId(rng.below(n as u64) as u16);
    let fault = match spec.kind {
        RandomFaultKind::Crash if !up.is_empty() => {
            Fault::Crash(up[rng.below(up.len() as u64) as usize])
        }
        RandomFaultKind::Pause if !up.is_empty() => {
            Fault::Pause(up[rng.below(up.len() as u64) as usize])
        }
        RandomFaultKind::Crash | RandomFaultKind::Pause => return None,
        RandomFaultKind::Partition => Fault::Partition(vec![random_group(n, rng)]),
        RandomFaultKind::CutLink => {
            let a = any(rng);
            let b = NodeId(((a.0 as u64 + 1 + rng.below(n as u64 - 1)) % n as u64) as u16);
            Fault::CutLink {
                a,
                b,
                one_way: false,
            }
        }
        RandomFaultKind::LossBurst(p) => Fault::LossBurst(p),
        RandomFaultKind::ClockSkew(max_ms) => {
            let max_us = ms_to_us(max_ms) as i64;
            let skew = rng.between(0, 2 * max_us as u64) as i64 - max_us;
            Fault::ClockSkew {
                node: any(rng),
                skew_us: skew,
            }
        }
    };
    Some((fault, duration))
}

/// A random non-empty proper subset of the nodes (the other side is everyone else).
fn random_group(n: u16, rng: &mut SimRng) -> Vec<NodeId> {
    let mut all: Vec<NodeId> = (0..n).map(NodeId).collect();
    for i in (1..all.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        all.swap(i, j);
    }
    let k = 1 + rng.below(n as u64 - 1) as usize;
    all.truncate(k);
    all.sort();
    all
}
