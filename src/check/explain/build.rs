//! Collecting an explanation during a re-run, and assembling it at the read's completion.

use super::fates::Fates;
use super::{
    AnomalyKind, Answer, Explanation, Highlight, MissedUpdate, ReadFacts, Whereabouts, relevant,
    watch_for,
};
use crate::check::history::EventType;
use crate::check::stale::StaleRead;
use crate::engine::node::NodeStatus;
use crate::engine::watch::{Watch, Watched, WatchedMsg};
use crate::policy::ReadPart;
use crate::scenario::schema::{PolicySpec, ReadFrom, ReadMode, Replication, Scenario};
use crate::sim::Sim;
use crate::trace::{Stamped, TraceEvent};
use crate::types::{NodeId, OpKind, SimTime, ValueId};
use std::collections::BTreeSet;

/// Follows a re-run: arm a copy of the simulation with [`Explainer::start`], feed it the trace
/// after every step with [`Explainer::absorb`] until that returns true, then call
/// [`Explainer::finish`].
#[derive(Clone, Debug)]
pub struct Explainer {
    stale: StaleRead,
    started: SimTime,
    /// What each node held of the key when the re-run started.
    initial: Vec<Option<ValueId>>,
    read_node: Option<NodeId>,
    read_invoked: Option<SimTime>,
    read_done: Option<SimTime>,
    write_node: Option<NodeId>,
    write_invoked: Option<SimTime>,
    /// What became of the messages the watch picked.
    fates: Fates,
}

impl Explainer {
    /// Switches on the recording the explanation needs; `sim` must be at or before the missed
    /// update's invocation.
    pub fn start(sim: &mut Sim, stale: &StaleRead) -> Explainer {
        sim.set_recording(true);
        sim.drain_trace();
        sim.set_watch(Some(watch_for(stale)));
        let initial = (0..sim.node_count() as u16)
            .map(|n| {
                sim.stored(NodeId(n))
                    .iter()
                    .find(|s| s.key == stale.key)
                    .and_then(|s| s.value)
            })
            .collect();
        Explainer {
            stale: stale.clone(),
            started: sim.now(),
            initial,
            read_node: None,
            read_invoked: None,
            read_done: None,
            write_node: None,
            write_invoked: None,
            fates: Fates::default(),
        }
    }

    /// Takes the trace events of the last step(s); true once the read has completed.
    pub fn absorb(&mut self, sim: &Sim, events: &[Stamped]) -> bool {
        self.fates.follow(sim.watch());
        for e in events.iter().filter(|e| relevant(e)) {
            self.absorb_one(e);
            if self.read_done.is_some() {
                return true;
            }
        }
        false
    }

    fn absorb_one(&mut self, e: &Stamped) {
        let (read, write) = (self.stale.op, self.stale.missed_op);
        match e.event {
            TraceEvent::Invoke { op, node, .. } if op == read => {
                self.read_node = Some(node);
                self.read_invoked = Some(e.at);
            }
            TraceEvent::Invoke { op, node, .. } if op == write => {
                self.write_node = Some(node);
                self.write_invoked = Some(e.at);
            }
            TraceEvent::Redirect { op, to } if op == read => self.read_node = Some(to),
            TraceEvent::Redirect { op, to } if op == write => self.write_node = Some(to),
            TraceEvent::Complete { op, .. } if op == read => self.read_done = Some(e.at),
            _ => self.fates.on_event(e),
        }
    }

    /// Assembles the explanation from what was seen and the simulation as it is now (the
    /// read's completion). Stops the extra recording.
    pub fn finish(self, sim: &mut Sim) -> Explanation {
        let watch = sim.set_watch(None).unwrap_or_default();
        let s = &self.stale;
        let done = self.read_done.unwrap_or(sim.now());
        let replicas = sim.metrics().replicas.replicas_of(s.key);
        let answered = self.answers(&watch, &replicas, done);
        let missed = self.missed(&watch);
        let nodes = sim.nodes_info();
        let blocked = sim.blocked_links();
        let holders: Vec<NodeId> = applied_nodes(&watch, s.missed_value, done);
        let replicas: Vec<Whereabouts> = replicas
            .iter()
            .map(|&r| {
                let at = answered.iter().find(|a| a.node == r).map_or(done, |a| a.at);
                let status = nodes.get(r.index()).map(|n| n.status);
                Whereabouts {
                    node: r,
                    at,
                    applied: applied_at(&watch, r, s.missed_value, at),
                    carriers: self.fates.carriers(&watch, r, at),
                    crashed: status == Some(NodeStatus::Crashed),
                    paused: status == Some(NodeStatus::Paused),
                    cut_from: holders
                        .iter()
                        .copied()
                        .filter(|h| blocked.contains(&(*h, r)))
                        .collect(),
                }
            })
            .collect();
        let read = ReadFacts {
            op: s.op,
            process: s.process,
            key: s.key,
            coordinator: self.read_node,
            invoked: self.read_invoked.unwrap_or(SimTime(s.invoke_us)),
            completed: self.read_done,
            returned: s.returned,
            returned_written: written_at(sim, s.returned),
        };
        let highlight = self.highlight(&watch, &read, &answered, &replicas, &holders);
        Explanation {
            kind: AnomalyKind::StaleRead,
            read,
            missed,
            answered,
            replicas,
            rule: rule(sim.scenario()),
            kept_on_receipt: kept_on_receipt(sim.scenario()),
            highlight,
        }
    }

    fn missed(&self, watch: &Watch) -> MissedUpdate {
        let s = &self.stale;
        let acked = SimTime(s.missed_ack_us);
        MissedUpdate {
            op: s.missed_op,
            value: s.missed_value,
            coordinator: self.write_node,
            invoked: self.write_invoked.unwrap_or(SimTime(s.missed_invoke_us)),
            acked,
            held_at_ack: applied_nodes(watch, s.missed_value, acked),
        }
    }

    /// Replicas that answered: those asked by the coordinator whose answer reached it before
    /// the read completed, plus the coordinator itself (a replica answers itself at once). A
    /// read that asked no one was answered by the coordinator alone.
    fn answers(&self, watch: &Watch, replicas: &[NodeId], done: SimTime) -> Vec<Answer> {
        let Some(coord) = self.read_node else {
            return Vec::new();
        };
        let invoked = self.read_invoked.unwrap_or(SimTime(self.stale.invoke_us));
        let in_read = |(m, _): &(&WatchedMsg, ReadPart)| m.sent >= invoked && m.sent <= done;
        let asks: Vec<(u64, NodeId)> = read_msgs(watch)
            .filter(in_read)
            .filter_map(|(m, p)| match p {
                ReadPart::Ask { req, .. } if m.from == coord => Some((req, m.to)),
                _ => None,
            })
            .collect();
        let held = |node: NodeId, at: SimTime| held_at(watch, &self.initial, node, at);
        if asks.is_empty() {
            return vec![Answer {
                node: coord,
                at: done,
                held: held(coord, done),
            }];
        }
        let mut out = Vec::new();
        // A coordinator that holds the key reads its own copy without a message, first.
        if replicas.contains(&coord) {
            out.push(Answer {
                node: coord,
                at: invoked,
                held: held(coord, invoked),
            });
        }
        for (m, p) in read_msgs(watch).filter(in_read) {
            let ReadPart::Answer { req } = p else {
                continue;
            };
            let asked = asks.iter().any(|(r, to)| *r == req && *to == m.from);
            let delivered = self.fates.delivered(m.id);
            if m.to == coord
                && asked
                && let Some(at) = delivered.filter(|at| *at <= done)
                && out.iter().all(|a: &Answer| a.node != m.from)
            {
                out.push(Answer {
                    node: m.from,
                    at,
                    held: held(m.from, m.sent),
                });
            }
        }
        out
    }

    fn highlight(
        &self,
        watch: &Watch,
        read: &ReadFacts,
        answered: &[Answer],
        replicas: &[Whereabouts],
        holders: &[NodeId],
    ) -> Highlight {
        let mut messages: BTreeSet<u64> = BTreeSet::new();
        let mut links: BTreeSet<(NodeId, NodeId)> = BTreeSet::new();
        for w in replicas.iter().filter(|w| w.applied.is_none()) {
            messages.extend(w.carriers.iter().map(|c| c.id));
            links.extend(w.carriers.iter().map(|c| (c.from, c.to)));
        }
        let done = read.completed.unwrap_or(read.invoked);
        let coord = read.coordinator;
        for (m, _) in read_msgs(watch) {
            let ours = Some(m.from) == coord || Some(m.to) == coord;
            if ours && m.sent >= read.invoked && m.sent <= done {
                messages.insert(m.id);
            }
        }
        let mut nodes: BTreeSet<NodeId> = holders.iter().copied().collect();
        nodes.extend(answered.iter().map(|a| a.node));
        nodes.extend(read.coordinator);
        nodes.extend(self.write_node);
        Highlight {
            messages: messages.into_iter().collect(),
            nodes: nodes.into_iter().collect(),
            links: links.into_iter().collect(),
            ops: vec![self.stale.op, self.stale.missed_op],
            from: self.started,
            until: done,
        }
    }
}

fn read_msgs(watch: &Watch) -> impl Iterator<Item = (&WatchedMsg, ReadPart)> {
    watch.msgs.iter().filter_map(|m| match m.what {
        Watched::Read(p) => Some((m, p)),
        Watched::Carries => None,
    })
}

/// What `node` held of the watched key at `at`.
pub(super) fn held_at(
    watch: &Watch,
    initial: &[Option<ValueId>],
    node: NodeId,
    at: SimTime,
) -> Option<ValueId> {
    watch
        .applies
        .iter()
        .rfind(|a| a.node == node && a.at <= at)
        .map_or(initial.get(node.index()).copied().flatten(), |a| a.value)
}

/// When `node` applied `value` of the watched key, if it had by `at`.
pub(super) fn applied_at(
    watch: &Watch,
    node: NodeId,
    value: Option<ValueId>,
    at: SimTime,
) -> Option<SimTime> {
    let applied = |a: &&crate::engine::watch::WatchedApply| a.node == node && a.at <= at;
    match value {
        Some(v) => watch
            .applies
            .iter()
            .filter(applied)
            .find(|a| a.value == Some(v))
            .map(|a| a.at),
        // A delete: the node holds a tombstone (or nothing, once it is purged) now; it applied
        // the delete when that began.
        None => {
            let mut mine = watch.applies.iter().filter(applied).rev();
            let mut since = mine.next().filter(|a| a.value.is_none())?.at;
            for a in mine.take_while(|a| a.value.is_none()) {
                since = a.at;
            }
            Some(since)
        }
    }
}

/// Nodes that had applied `value` by `at`.
pub(super) fn applied_nodes(watch: &Watch, value: Option<ValueId>, at: SimTime) -> Vec<NodeId> {
    let nodes: BTreeSet<NodeId> = watch.applies.iter().map(|a| a.node).collect();
    nodes
        .into_iter()
        .filter(|n| applied_at(watch, *n, value, at).is_some())
        .collect()
}

/// When the write of `value` was acknowledged, from the history kept in memory.
fn written_at(sim: &Sim, value: Option<ValueId>) -> Option<SimTime> {
    let v = value?;
    sim.history()
        .iter()
        .find(|e| e.kind == EventType::Ok && e.f == OpKind::Write && e.value == Some(v))
        .map(|e| SimTime(e.time_us))
}

/// The policy's rule behind the read, in a few words.
/// What a leaderless replica's conflict rule did with a write that arrived and was not applied
/// (`Leaderless::wins`: it stores a write only if it beats the cell it holds).
pub(super) fn kept_on_receipt(s: &Scenario) -> Option<&'static str> {
    use crate::scenario::schema::ConflictResolution as C;
    let PolicySpec::Leaderless(l) = &s.policy else {
        return None;
    };
    Some(match l.conflict {
        C::LastWriteWins | C::VersionVectors => {
            "the replica kept its own value, whose timestamp was later (last write wins)"
        }
        C::FirstWriteWins => {
            "the replica kept its own value, whose timestamp was earlier (first write wins)"
        }
    })
}

fn rule(s: &Scenario) -> Option<String> {
    Some(match &s.policy {
        PolicySpec::Leaderless(l) => {
            let (r, w, n) = (l.read_quorum, l.write_quorum, l.replication_factor);
            let overlap = if r + w <= n {
                " (R+W ≤ N: a read need not reach any replica the write reached)".to_string()
            } else {
                String::new()
            };
            format!("R={r}, W={w} of N={n}{overlap}")
        }
        PolicySpec::SingleLeader(l) => format!(
            "single leader, {} replication, {}",
            match l.replication {
                Replication::NoAck => "acks=0",
                Replication::Async => "asynchronous",
                Replication::SemiSync => "semi-synchronous",
                Replication::Sync => "synchronous",
                Replication::InSync => "acks=all (ISR)",
            },
            match l.read_from {
                ReadFrom::Leader => "reads from the node a client believes leads",
                ReadFrom::AnyReplica => "reads from any replica (its own copy, however far behind)",
            }
        ),
        PolicySpec::Raft(r) => match r.read_mode {
            ReadMode::Lease => "Raft lease reads (a leader answers alone while its lease, timed on its own clock, lasts)".into(),
            ReadMode::ReadIndex => "Raft ReadIndex reads".into(),
            ReadMode::Log => "Raft reads through the log".into(),
        },
        PolicySpec::EventLog(_) => return None,
    })
}
