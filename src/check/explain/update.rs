//! Where the copies of one update went, up to some time: for anomalies that are about an
//! update rather than a read (a lost write: acknowledged, yet no live replica ends with it).

use super::build::{applied_at, held_at, kept_on_receipt};
use super::fates::Fates;
use super::text::{secs, value};
use super::{CarrierMsg, Fate, Highlight, MAX_RERUN_STEPS, Rerun, relevant};
use crate::engine::node::NodeStatus;
use crate::engine::watch::Watch;
use crate::trace::TraceEvent;
use crate::types::{Key, NodeId, SimTime, ValueId};

/// One replica's part in an update's story.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplicaStory {
    pub node: NodeId,
    pub applied: Option<SimTime>,
    /// The first later change of the key on this replica after it applied the update.
    pub replaced: Option<(SimTime, Option<ValueId>)>,
    pub held_at_end: Option<ValueId>,
    pub carriers: Vec<CarrierMsg>,
    pub crashed: bool,
    pub paused: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct UpdateStory {
    pub key: Key,
    /// `None`: a delete.
    pub value: Option<ValueId>,
    pub op: Option<u64>,
    pub coordinator: Option<NodeId>,
    pub invoked: Option<SimTime>,
    pub acked: Option<SimTime>,
    /// The time the story ends (the replicas' state is as of then).
    pub until: SimTime,
    pub replicas: Vec<ReplicaStory>,
    /// As in [`super::Explanation`]: why a replica that received the update kept another value.
    pub kept_on_receipt: Option<&'static str>,
    pub highlight: Highlight,
}

/// Runs `run` (from before the update was invoked) to `until` (or the end of the run),
/// following the copies of the update of `key` to `value`.
pub fn explain_update(
    run: &mut impl Rerun,
    key: Key,
    value: Option<ValueId>,
    until: SimTime,
) -> UpdateStory {
    let sim = run.sim();
    let started = sim.now();
    sim.set_recording(true);
    sim.drain_trace();
    sim.set_watch(Some(Watch::new(key, value)));
    let initial: Vec<Option<ValueId>> = (0..sim.node_count() as u16)
        .map(|n| {
            sim.stored(NodeId(n))
                .iter()
                .find(|s| s.key == key)
                .and_then(|s| s.value)
        })
        .collect();
    let (mut op, mut coordinator, mut invoked, mut acked) = (None, None, None, None);
    let mut fates = Fates::default();
    for _ in 0..MAX_RERUN_STEPS {
        if run.sim().next_event_time().is_none_or(|t| t > until) {
            break;
        }
        let Some(events) = run.step_traced() else {
            break;
        };
        fates.follow(run.sim().watch());
        for e in events.iter().filter(|e| relevant(e)) {
            match e.event {
                TraceEvent::Invoke {
                    op: o,
                    node,
                    key: k,
                    value: v,
                    f,
                    ..
                } if op.is_none() && k == key && v == value && f.is_update() => {
                    (op, coordinator, invoked) = (Some(o), Some(node), Some(e.at));
                }
                TraceEvent::Redirect { op: o, to } if Some(o) == op => coordinator = Some(to),
                TraceEvent::Complete { op: o, outcome, .. } if Some(o) == op => {
                    acked = (outcome == crate::check::history::EventType::Ok).then_some(e.at);
                }
                _ => fates.on_event(e),
            }
        }
    }
    let sim = run.sim();
    let end = sim.now();
    let kept = kept_on_receipt(sim.scenario());
    let watch = sim.set_watch(None).unwrap_or_default();
    let replicas = stories(sim, &watch, &fates, &initial, end);
    let mut nodes_hl: Vec<NodeId> = replicas.iter().map(|r| r.node).collect();
    nodes_hl.extend(coordinator);
    nodes_hl.sort();
    nodes_hl.dedup();
    let highlight = Highlight {
        messages: replicas
            .iter()
            .flat_map(|r| r.carriers.iter().map(|c| c.id))
            .collect(),
        nodes: nodes_hl,
        links: replicas
            .iter()
            .filter(|r| r.applied.is_none())
            .flat_map(|r| r.carriers.iter().map(|c| (c.from, c.to)))
            .collect(),
        ops: op.into_iter().collect(),
        from: started,
        until: end,
    };
    UpdateStory {
        key,
        value,
        op,
        coordinator,
        invoked,
        acked,
        until: end,
        replicas,
        kept_on_receipt: kept,
        highlight,
    }
}

/// Each replica of the watched key: when it applied the update, what replaced it, what it ends
/// with, and the copies sent to it.
fn stories(
    sim: &crate::sim::Sim,
    watch: &Watch,
    fates: &Fates,
    initial: &[Option<ValueId>],
    end: SimTime,
) -> Vec<ReplicaStory> {
    let value = watch.value;
    let nodes = sim.nodes_info();
    sim.metrics()
        .replicas
        .replicas_of(watch.key)
        .into_iter()
        .map(|r| {
            let applied = applied_at(watch, r, value, end);
            let replaced = applied.and_then(|t| {
                let later = watch.applies.iter().filter(|a| a.node == r && a.at >= t);
                later.map(|a| (a.at, a.value)).find(|(_, v)| *v != value)
            });
            let status = nodes.get(r.index()).map(|n| n.status);
            ReplicaStory {
                node: r,
                applied,
                replaced,
                held_at_end: held_at(watch, initial, r, end),
                carriers: fates.carriers(watch, r, end),
                crashed: status == Some(NodeStatus::Crashed),
                paused: status == Some(NodeStatus::Paused),
            }
        })
        .collect()
}

impl UpdateStory {
    /// The story in plain sentences (headline first).
    pub fn sentences(&self) -> Vec<String> {
        let via = self
            .coordinator
            .map_or_else(String::new, |n| format!(" via {n}"));
        let acked = self.acked.map_or_else(
            || "was not acknowledged".into(),
            |t| format!("was acknowledged at {}", secs(t)),
        );
        let mut out = vec![format!(
            "The write k{}={}{via} {acked}; by {} no live replica of k{} holds it.",
            self.key,
            value(self.value),
            secs(self.until),
            self.key
        )];
        for r in &self.replicas {
            out.push(self.replica_sentence(r));
        }
        out
    }

    fn replica_sentence(&self, r: &ReplicaStory) -> String {
        let v = value(self.value);
        let mut s = match (r.applied, r.replaced) {
            (Some(t), Some((t2, by))) => format!(
                "{}: applied {v} at {}, then replaced it with {} at {}",
                r.node,
                secs(t),
                value(by),
                secs(t2)
            ),
            (Some(t), None) => format!("{}: applied {v} at {}", r.node, secs(t)),
            (None, _) => match r.carriers.last() {
                Some(c) if matches!(c.fate, Fate::Delivered { .. }) => format!(
                    "{}: received {v} from {} (#{}) but did not apply it ({})",
                    r.node,
                    c.from,
                    c.id,
                    self.kept_on_receipt
                        .unwrap_or("it held a newer version, or the write was never committed")
                ),
                None if Some(r.node) == self.coordinator => format!(
                    "{}: coordinated the write but did not apply it to its own copy{}",
                    r.node,
                    self.kept_on_receipt
                        .map(|why| format!(" ({why})"))
                        .unwrap_or_default()
                ),
                Some(c) => format!(
                    "{}: never applied {v}; its copy {}→{} (#{}) {}",
                    r.node,
                    c.from,
                    c.to,
                    c.id,
                    super::text::fate(c.fate)
                ),
                None => format!("{}: never applied {v}; no copy was sent to it", r.node),
            },
        };
        s += &format!("; it ends with {}", value(r.held_at_end));
        if r.crashed {
            s += " (crashed)";
        } else if r.paused {
            s += " (paused)";
        }
        s + "."
    }
}
