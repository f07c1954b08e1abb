//! `Sim`: an engine for whichever policy a scenario names, behind one non-generic type (what the
//! CLI and GUI hold).

use crate::check::analysis::{Analysis, RunRecord, analyse};
use crate::check::history::{EventType, HistoryEvent};
use crate::check::linearizability::DEFAULT_BUDGET_STEPS;
use crate::check::lost::FinalValues;
use crate::check::metrics::Metrics;
use crate::check::report::Report;
use crate::engine::view::{MessageInfo, NodeInfo, OpInfo};
use crate::engine::watch::Watch;
use crate::engine::{Engine, Fault, Options, Phase};
use crate::policy::event_log::EventLog;
use crate::policy::event_log::domain::{TimeTravelStep, time_travel};
use crate::policy::leaderless::Leaderless;
use crate::policy::raft::Raft;
use crate::policy::single_leader::SingleLeader;
use crate::policy::{Policy, StoredValue};
use crate::scenario::schema::{PolicySpec, Scenario};
use crate::trace::Stamped;
use crate::types::{Key, NodeId, OpKind, SimTime};
use std::collections::BTreeSet;

#[derive(Clone, Debug)]
pub enum Sim {
    Leaderless(Box<Engine<Leaderless>>),
    SingleLeader(Box<Engine<SingleLeader>>),
    Raft(Box<Engine<Raft>>),
    EventLog(Box<Engine<EventLog>>),
}

/// Calls the same method on whichever engine is inside.
macro_rules! each {
    ($self:expr, $e:ident => $body:expr) => {
        match $self {
            Sim::Leaderless($e) => $body,
            Sim::SingleLeader($e) => $body,
            Sim::Raft($e) => $body,
            Sim::EventLog($e) => $body,
        }
    };
}

impl Sim {
    pub fn new(scenario: &Scenario, options: &Options) -> Sim {
        match scenario.policy {
            PolicySpec::Leaderless(_) => Sim::Leaderless(Box::new(Engine::new(scenario, options))),
            PolicySpec::SingleLeader(_) => {
                Sim::SingleLeader(Box::new(Engine::new(scenario, options)))
            }
            PolicySpec::Raft(_) => Sim::Raft(Box::new(Engine::new(scenario, options))),
            PolicySpec::EventLog(_) => Sim::EventLog(Box::new(Engine::new(scenario, options))),
        }
    }

    pub fn step(&mut self) -> bool {
        each!(self, e => e.step())
    }
    pub fn run_until(&mut self, t: SimTime) {
        each!(self, e => e.run_until(t))
    }
    pub fn run_for(&mut self, n: u64) -> u64 {
        each!(self, e => e.run_for(n))
    }
    pub fn run_to_end(&mut self) {
        each!(self, e => e.run_to_end())
    }
    pub fn apply(&mut self, fault: Fault) {
        each!(self, e => e.apply(fault))
    }
    /// Applies a fault now and undoes it after `undo_after_us` (a timed intervention).
    pub fn apply_for(&mut self, fault: Fault, undo_after_us: u64) {
        each!(self, e => e.apply_for(fault, undo_after_us))
    }
    pub fn now(&self) -> SimTime {
        each!(self, e => e.now())
    }
    pub fn phase(&self) -> Phase {
        each!(self, e => e.phase())
    }
    pub fn is_done(&self) -> bool {
        each!(self, e => e.is_done())
    }
    pub fn scenario(&self) -> &Scenario {
        each!(self, e => e.scenario())
    }
    pub fn metrics(&self) -> &Metrics {
        each!(self, e => e.metrics())
    }
    /// The report from the streaming metrics, cheap enough for every frame of a viewer: the
    /// history checks are left out (`linearizable` is `not_checked`, their counts 0).
    pub fn report(&self, wall_ms: f64) -> Report {
        each!(self, e => e.report(wall_ms))
    }

    /// The full report: `report` plus the post-run checks (`analysis`). Meant for a finished run.
    pub fn final_report(&self, wall_ms: f64) -> Report {
        let mut report = self.report(wall_ms);
        self.analysis().apply_to(&mut report);
        report
    }

    /// Runs the post-run checks on the history and the replicas' current state.
    pub fn analysis(&self) -> Analysis {
        analyse(&self.run_record())
    }

    /// What the post-run checks look at (see `check::analysis`).
    pub fn run_record(&self) -> RunRecord<'_> {
        let m = self.metrics();
        let history = self.history();
        // One event per invocation and one per completion.
        let events = m.ops + m.ok + m.failed + m.unknown;
        RunRecord {
            history,
            history_complete: history.len() as u64 == events,
            final_values: self.final_values(history),
            budget_steps: DEFAULT_BUDGET_STEPS,
        }
    }

    /// What the live replicas of every acknowledged-written key hold now.
    fn final_values(&self, history: &[HistoryEvent]) -> FinalValues {
        let written: BTreeSet<Key> = history
            .iter()
            .filter(|e| e.kind == EventType::Ok && e.f == OpKind::Write)
            .map(|e| e.key)
            .collect();
        let replicas = &self.metrics().replicas;
        let mut out = FinalValues::new();
        for node in (0..self.node_count() as u16).map(NodeId) {
            if !replicas.is_live(node) {
                continue;
            }
            for held in self.stored(node) {
                if written.contains(&held.key) && replicas.replicas_of(held.key).contains(&node) {
                    out.entry(held.key).or_default().push(held.value);
                }
            }
        }
        // A live replica that stores nothing for a key holds "nothing".
        for &key in &written {
            let live = replicas
                .replicas_of(key)
                .iter()
                .filter(|n| replicas.is_live(**n))
                .count();
            if live > 0 {
                let held = out.entry(key).or_default();
                held.resize(live.max(held.len()), None);
            }
        }
        out
    }

    /// Time travel in an event-sourced run: `key`'s state after each of its events in the write
    /// side's log as it is now (`None` for other policies).
    pub fn time_travel(&self, key: Key) -> Option<Vec<TimeTravelStep>> {
        let Sim::EventLog(e) = self else {
            return None;
        };
        let domain = match &e.scenario().policy {
            PolicySpec::EventLog(spec) => spec.domain,
            _ => return None,
        };
        (0..e.node_count()).find_map(|i| {
            let w = e.policy(NodeId(i as u16)).writer()?;
            Some(time_travel(w.log().iter(), key, domain))
        })
    }

    pub fn node_count(&self) -> usize {
        each!(self, e => e.node_count())
    }
    pub fn trace_hash(&self) -> u64 {
        each!(self, e => e.trace_hash())
    }
    pub fn history(&self) -> &[HistoryEvent] {
        each!(self, e => e.history())
    }
    pub fn drain_history_stream(&mut self) -> Vec<HistoryEvent> {
        each!(self, e => e.drain_history_stream())
    }
    pub fn drain_trace(&mut self) -> Vec<Stamped> {
        each!(self, e => e.tracer_mut().drain())
    }
    pub fn nodes_info(&self) -> Vec<NodeInfo> {
        each!(self, e => e.nodes_info())
    }
    pub fn stored(&self, node: NodeId) -> Vec<StoredValue> {
        each!(self, e => e.stored(node))
    }
    pub fn messages(&self) -> Vec<MessageInfo> {
        each!(self, e => e.messages())
    }
    pub fn ops_in_progress(&self) -> Vec<OpInfo> {
        each!(self, e => e.ops_in_progress())
    }
    pub fn recent_events(&self) -> Vec<Stamped> {
        each!(self, e => e.recent_events().cloned().collect())
    }
    pub fn blocked_links(&self) -> Vec<(NodeId, NodeId)> {
        each!(self, e => e.blocked_links())
    }
    pub fn cuts(&self) -> Vec<(u32, Vec<(NodeId, NodeId)>)> {
        each!(self, e => e.cuts())
    }
    pub fn next_event_time(&self) -> Option<SimTime> {
        each!(self, e => e.next_event_time())
    }
    pub fn messages_in_flight(&self) -> usize {
        each!(self, e => e.messages_in_flight())
    }
    pub fn trace_events(&self) -> u64 {
        each!(self, e => e.trace_events())
    }
    /// Changes how many recent trace events are kept for viewers.
    pub fn set_recent_events(&mut self, cap: usize) {
        each!(self, e => e.tracer_mut().set_recent_cap(cap))
    }
    pub fn applied_faults(&self) -> &[(SimTime, Fault)] {
        each!(self, e => e.applied_faults())
    }
    /// Starts (or stops) the extra recording an explanation needs; returns the previous one.
    pub fn set_watch(&mut self, watch: Option<Watch>) -> Option<Watch> {
        each!(self, e => e.set_watch(watch))
    }
    pub fn watch(&self) -> Option<&Watch> {
        each!(self, e => e.watch())
    }
    /// Records every trace event for `drain_trace` (or stops recording).
    pub fn set_recording(&mut self, record: bool) {
        each!(self, e => e.tracer_mut().set_recording(record))
    }
    /// Names of the policy's message kinds.
    pub fn message_kinds(&self) -> &'static [&'static str] {
        match self {
            Sim::Leaderless(_) => Leaderless::KINDS,
            Sim::SingleLeader(_) => SingleLeader::KINDS,
            Sim::Raft(_) => Raft::KINDS,
            Sim::EventLog(_) => EventLog::KINDS,
        }
    }
}

/// Runs a scenario to the end and returns its full report, checks included (`wall_ms` left at 0:
/// the caller times it).
pub fn run(scenario: &Scenario) -> Report {
    let mut sim = Sim::new(scenario, &Options::default());
    sim.run_to_end();
    sim.final_report(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Fault;

    fn lesson() -> Sim {
        let s = crate::scenario::from_str("lesson", crate::cli::DEFAULT_LESSON).unwrap();
        Sim::new(&s, &Options::default())
    }

    #[test]
    fn blocked_links_follow_cuts_and_heals() {
        let mut sim = lesson();
        assert!(sim.next_event_time().is_some());
        assert!(sim.blocked_links().is_empty());
        sim.apply(Fault::CutLink {
            a: NodeId(0),
            b: NodeId(2),
            one_way: true,
        });
        assert_eq!(sim.blocked_links(), vec![(NodeId(0), NodeId(2))]);
        sim.apply(Fault::Partition(vec![vec![NodeId(0), NodeId(1)]]));
        // 2 nodes x 3 others, both ways; n1->n3 is covered by two cuts but listed once.
        assert_eq!(sim.blocked_links().len(), 12);
        let cuts = sim.cuts();
        assert_eq!(cuts.len(), 2);
        sim.apply(Fault::Unblock(cuts[1].0));
        assert_eq!(sim.blocked_links(), vec![(NodeId(0), NodeId(2))]);
        sim.apply(Fault::HealAll);
        assert!(sim.blocked_links().is_empty() && sim.cuts().is_empty());
    }
}
