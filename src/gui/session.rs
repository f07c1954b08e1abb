//! A simulation session: the `Sim` plus everything needed to move through its time line —
//! the user's interventions, periodic checkpoints, and the sampled plot series.
//!
//! Seeking back restores the latest checkpoint at or before the target (`Sim` is `Clone`) and
//! re-runs deterministically, re-applying the interventions on the way. An intervention is keyed
//! by the number of events processed before it (`after_steps`) and its time, so a replay applies
//! it at exactly the same point even when other events share its timestamp. When a new
//! intervention is added before later ones, the later ones lose their step key (the history after
//! the new one differs) and are re-applied by time, like scheduled faults.
//!
//! An intervention lands at the end of its instant (after every event at that microsecond), so
//! the step key and the time agree, and a saved `after_same_time` schedule entry replays it at
//! the same point. The exception is one made before the first event: it applies before
//! everything, keeps its key (step 0 names the same point in any run) and is saved as an
//! ordinary schedule entry.

use super::series::{SamplerState, Series};
use super::wire::WireLog;
use crate::engine::{Fault, Options};
use crate::scenario::Scenario;
use crate::sim::Sim;
use crate::trace::TraceEvent;
use crate::types::{NodeId, SimTime};
use std::sync::Arc;
use std::time::Instant;

/// Recent trace events kept for the event log.
pub const RECENT_EVENTS: usize = 600;
/// Most checkpoints kept; beyond this every other one is dropped and the spacing doubles.
const MAX_CHECKPOINTS: usize = 48;
/// Most protocol notes kept for the time line.
const MAX_NOTES: usize = 5_000;

/// A fault the user applied during the session.
#[derive(Clone, Debug, PartialEq)]
pub struct Intervention {
    pub at: SimTime,
    /// Events processed before it was applied; `None` once the history before it has changed.
    pub after_steps: Option<u64>,
    pub fault: Fault,
}

#[derive(Clone, Debug)]
struct Checkpoint {
    steps: u64,
    sim: Sim,
    sampler: SamplerState,
    series_len: usize,
    notes_len: usize,
    wire_seq: u64,
    next_iv: usize,
}

/// A protocol note ("n2 became leader for term 3") with its time.
#[derive(Clone, Debug, PartialEq)]
pub struct NoteMark {
    pub at: SimTime,
    pub node: NodeId,
    pub text: String,
}

pub struct Session {
    pub sim: Sim,
    /// The scenario as loaded or edited (the `Sim`'s copy may change through `Set` faults).
    pub base: Arc<Scenario>,
    /// Events processed since t=0.
    pub steps: u64,
    pub series: Series,
    /// Changes whenever samples are dropped (so a viewer caching `series` by length knows).
    pub series_generation: u64,
    pub notes: Vec<NoteMark>,
    /// Recent message traffic for the space-time diagram (bounded).
    pub wire: WireLog,
    pub interventions: Vec<Intervention>,
    /// When the run ended, once it has (cleared when an intervention changes the future).
    pub end: Option<SimTime>,
    sampler: SamplerState,
    next_iv: usize,
    checkpoints: Vec<Checkpoint>,
    checkpoint_every_us: u64,
    /// The plots and notes of the furthest point reached, kept through a rewind.
    known: Option<Known>,
    /// When set, every trace event is also copied here (an explanation's re-run reads them).
    pub tap: Option<Vec<crate::trace::Stamped>>,
    /// While set, `advance_to` stops right after an event that produced an anomaly (presenter
    /// mode's auto-pause) and sets `stopped_at_anomaly`.
    pub stop_on_anomaly: bool,
    pub stopped_at_anomaly: bool,
}

/// What a run had produced when it was furthest along (see `Session::restore`).
#[derive(Clone, Debug)]
struct Known {
    steps: u64,
    series: Series,
    notes: Vec<NoteMark>,
    wire: WireLog,
}

pub fn sim_options() -> Options {
    Options {
        // Recorded events are drained after every batch; the session keeps the protocol notes.
        record_trace: true,
        recent_events: RECENT_EVENTS,
        stream_history: true,
    }
}

/// Most history events the viewer's engine keeps in memory: every checkpoint clones them, and
/// the viewer's plots read the streamed history instead. (The trace and metrics do not depend on
/// it.)
const MAX_HISTORY_IN_MEMORY: u64 = 50_000;

fn for_viewing(scenario: &Scenario) -> Scenario {
    let mut s = scenario.clone();
    s.run.history_limit = s.run.history_limit.min(MAX_HISTORY_IN_MEMORY);
    s
}

impl Session {
    pub fn new(scenario: Scenario) -> Session {
        Session::with_interventions(scenario, Vec::new())
    }

    /// A fresh run of `scenario` that re-applies `interventions` at their times.
    pub fn with_interventions(scenario: Scenario, mut interventions: Vec<Intervention>) -> Session {
        let sim = Sim::new(&for_viewing(&scenario), &sim_options());
        let run_ms = scenario.run.duration_ms.unwrap_or(10_000.0);
        interventions
            .iter_mut()
            .for_each(|iv| iv.after_steps = iv.after_steps.filter(|&k| k == 0));
        interventions.sort_by_key(|iv| iv.at);
        let mut s = Session {
            sampler: SamplerState::new(&sim),
            sim,
            base: Arc::new(scenario),
            steps: 0,
            series: Series::default(),
            series_generation: 0,
            notes: Vec::new(),
            wire: WireLog::default(),
            interventions,
            end: None,
            next_iv: 0,
            checkpoints: Vec::new(),
            known: None,
            checkpoint_every_us: ((run_ms * 1000.0 / 32.0) as u64).max(10_000),
            tap: None,
            stop_on_anomaly: false,
            stopped_at_anomaly: false,
        };
        s.push_checkpoint();
        s
    }

    pub fn now(&self) -> SimTime {
        self.sim.now()
    }

    /// Checkpoints held now (benchmarks and tests look at it).
    pub fn checkpoint_count(&self) -> usize {
        self.checkpoints.len()
    }

    /// Runs every event at or before `t` (applying interventions on the way), then moves the
    /// clock to `t`. With a deadline it may stop early; returns whether it got there.
    pub fn advance_to(&mut self, t: SimTime, deadline: Option<Instant>) -> bool {
        let mut n = 0u32;
        loop {
            self.apply_due(t);
            if self.sim.is_done() {
                break;
            }
            match self.sim.next_event_time() {
                Some(next) if next <= t => {}
                Some(_) => break,
                None => {
                    self.sim.step(); // lets the engine notice the run is over
                    break;
                }
            }
            let anomalies = self.stop_on_anomaly.then(|| anomaly_count(&self.sim));
            self.step_raw();
            if anomalies.is_some_and(|a| anomaly_count(&self.sim) > a) {
                self.stopped_at_anomaly = true;
                self.absorb_trace();
                return true;
            }
            n += 1;
            if n.is_multiple_of(4096) {
                self.absorb_trace();
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return false;
                }
            }
        }
        self.absorb_trace();
        self.settle_clock(t);
        true
    }

    fn settle_clock(&mut self, t: SimTime) {
        if self.sim.is_done() {
            let now = self.sim.now();
            self.sampler
                .sample_until(&mut self.sim, now.saturating_add(1), &mut self.series);
            self.end = Some(now);
        } else if t != SimTime::MAX && self.sim.now() < t {
            self.sampler
                .sample_until(&mut self.sim, t.saturating_add(1), &mut self.series);
            self.sim.run_until(t); // no events remain at or before t: this only moves the clock
        }
    }

    /// Processes the next event (and interventions due before it). False at the end of the run.
    pub fn step_one(&mut self) -> bool {
        if self.sim.is_done() {
            return false;
        }
        let Some(next) = self.sim.next_event_time() else {
            self.sim.step();
            self.settle_clock(SimTime::MAX);
            return false;
        };
        self.apply_due(next);
        let stepped = self.step_raw();
        self.absorb_trace();
        if self.sim.is_done() {
            self.settle_clock(SimTime::MAX);
        }
        stepped
    }

    fn step_raw(&mut self) -> bool {
        let Some(next) = self.sim.next_event_time() else {
            return false;
        };
        self.maybe_checkpoint();
        self.sampler
            .sample_until(&mut self.sim, next, &mut self.series);
        let stepped = self.sim.step();
        if stepped {
            self.steps += 1;
        }
        stepped
    }

    /// Applies the interventions due at this point, none later than `limit`.
    fn apply_due(&mut self, limit: SimTime) {
        while let Some(iv) = self.interventions.get(self.next_iv) {
            let done = self.sim.is_done();
            let due = iv.at <= limit
                && match iv.after_steps {
                    Some(k) => self.steps >= k,
                    None => done || self.sim.next_event_time().is_none_or(|n| n > iv.at),
                };
            if !due {
                return;
            }
            let (at, fault) = (iv.at, iv.fault.clone());
            if !done && self.sim.now() < at {
                self.sampler
                    .sample_until(&mut self.sim, at.saturating_add(1), &mut self.series);
                self.sim.run_until(at);
            }
            self.sim.apply(fault);
            self.next_iv += 1;
        }
    }

    /// Applies a fault now and records it as an intervention.
    pub fn intervene(&mut self, fault: Fault) {
        if !self.sim.is_done() && self.steps > 0 {
            // Finish this microsecond's events first (see the module comment).
            self.advance_to(self.sim.now(), None);
        }
        let (at, k) = (self.sim.now(), self.steps);
        for iv in &mut self.interventions[self.next_iv..] {
            iv.after_steps = None;
        }
        self.interventions.insert(
            self.next_iv,
            Intervention {
                at,
                after_steps: Some(k),
                fault: fault.clone(),
            },
        );
        // The future changes: later checkpoints and the known end are no longer true.
        self.checkpoints.retain(|c| c.steps < k);
        self.end = None;
        self.known = None;
        self.sim.apply(fault);
        self.next_iv += 1;
        self.absorb_trace();
        self.push_checkpoint();
    }

    /// Whether the run has been further than here, or has interventions still ahead: then a new
    /// intervention here changes a future already seen.
    pub fn is_rewound(&self) -> bool {
        self.next_iv < self.interventions.len()
            || self.known.as_ref().is_some_and(|k| k.steps > self.steps)
    }

    /// The interventions applied so far (those behind the current point).
    pub fn interventions_behind(&self) -> &[Intervention] {
        &self.interventions[..self.next_iv]
    }

    /// Forgets the future: the interventions ahead and the furthest point reached.
    pub fn drop_future(&mut self) {
        self.interventions.truncate(self.next_iv);
        self.known = None;
        self.end = None;
    }

    /// Goes to simulated time `t` through the nearest checkpoint at or before it.
    pub fn seek(&mut self, t: SimTime) {
        self.rewind_for(t);
        self.advance_to(t, None);
    }

    /// Jumps to the latest checkpoint at or before `t` when that saves re-running: always when
    /// `t` is in the past, and forwards when a checkpoint lies between now and `t` (checkpoints
    /// ahead of the run stay valid after a rewind, as the run is deterministic). The caller
    /// then advances to `t`, perhaps in slices.
    pub fn rewind_for(&mut self, t: SimTime) {
        let Some(idx) = self.checkpoints.iter().rposition(|c| c.sim.now() <= t) else {
            return;
        };
        let c = &self.checkpoints[idx];
        let ahead = c.steps > self.steps && self.known.as_ref().is_some_and(|k| k.steps >= c.steps);
        if t < self.sim.now() || ahead {
            self.restore(idx);
        }
    }

    /// Undoes the last event: replays from a checkpoint to one event earlier.
    pub fn step_back(&mut self) {
        let Some(target) = self.steps.checked_sub(1) else {
            return;
        };
        let idx = self
            .checkpoints
            .iter()
            .rposition(|c| c.steps <= target)
            .unwrap_or(0);
        self.restore(idx);
        while self.steps < target && self.step_one() {}
    }

    /// Goes to checkpoint `idx`, before or after the current point of the run.
    fn restore(&mut self, idx: usize) {
        let c = &self.checkpoints[idx];
        if c.steps < self.steps && self.known.as_ref().is_none_or(|k| k.steps < self.steps) {
            // Keep the furthest history seen, for jumping forward again without re-running.
            self.known = Some(Known {
                steps: self.steps,
                series: self.series.clone(),
                notes: self.notes.clone(),
                wire: self.wire.clone(),
            });
        }
        let c = &self.checkpoints[idx];
        self.sim = c.sim.clone();
        self.steps = c.steps;
        self.sampler = c.sampler.clone();
        self.next_iv = c.next_iv;
        if c.series_len <= self.series.len() && c.notes_len <= self.notes.len() {
            self.series.truncate(c.series_len);
            self.notes.truncate(c.notes_len);
        } else if let Some(k) = &self.known {
            self.series.clone_from(&k.series);
            self.series.truncate(c.series_len);
            self.notes = k.notes[..c.notes_len.min(k.notes.len())].to_vec();
            self.wire.clone_from(&k.wire);
        }
        self.wire.truncate(c.wire_seq);
        self.series_generation += 1;
    }

    fn maybe_checkpoint(&mut self) {
        let Some(last) = self.checkpoints.last() else {
            return self.push_checkpoint();
        };
        // Behind the last checkpoint (replaying after a rewind) the later ones are still valid.
        if last.steps >= self.steps {
            return;
        }
        let far_in_time = self.sim.now().since(last.sim.now()) >= self.checkpoint_every_us;
        let many_events = self.steps - last.steps >= 2_000_000;
        if far_in_time || many_events {
            self.push_checkpoint();
        }
    }

    fn push_checkpoint(&mut self) {
        self.checkpoints.push(Checkpoint {
            steps: self.steps,
            sim: self.sim.clone(),
            sampler: self.sampler.clone(),
            series_len: self.series.len(),
            notes_len: self.notes.len(),
            wire_seq: self.wire.seq(),
            next_iv: self.next_iv,
        });
        if self.checkpoints.len() > MAX_CHECKPOINTS {
            let mut i = 0;
            self.checkpoints.retain(|_| {
                i += 1;
                i % 2 == 1
            });
            self.checkpoint_every_us *= 2;
        }
    }

    /// Moves recorded trace events out of the engine, keeping the protocol notes.
    fn absorb_trace(&mut self) {
        for e in self.sim.drain_trace() {
            self.wire.observe(&e);
            if let Some(tap) = &mut self.tap {
                tap.push(e.clone());
            }
            if let TraceEvent::Note { node, text } = e.event
                && self.notes.len() < MAX_NOTES
            {
                self.notes.push(NoteMark {
                    at: e.at,
                    node,
                    text,
                });
            }
        }
    }

    /// A copy of the run as of the latest checkpoint at or before `t`, with the session's
    /// interventions, for re-running a stretch with extra recording (explanations). It keeps
    /// no checkpoints of its own.
    pub fn fork_before(&self, t: SimTime) -> Session {
        let idx = self
            .checkpoints
            .iter()
            .rposition(|c| c.sim.now() <= t)
            .unwrap_or(0);
        let c = &self.checkpoints[idx];
        Session {
            sim: c.sim.clone(),
            base: self.base.clone(),
            steps: c.steps,
            series: Series::default(),
            series_generation: 0,
            notes: Vec::new(),
            interventions: self.interventions.clone(),
            end: None,
            sampler: c.sampler.clone(),
            next_iv: c.next_iv,
            checkpoints: vec![c.clone()],
            checkpoint_every_us: u64::MAX,
            known: None,
            wire: WireLog::default(), // an explanation does not draw the diagram
            tap: None,
            stop_on_anomaly: false,
            stopped_at_anomaly: false,
        }
    }

    /// Steps until something worth stopping for happens; says what it was.
    pub fn step_interesting(&mut self, deadline: Instant) -> String {
        let mut n = 0u32;
        loop {
            let before = Counters::of(self);
            if !self.step_one() {
                return "the run is over".into();
            }
            if let Some(why) = before.what_changed(self) {
                return why;
            }
            n += 1;
            if n.is_multiple_of(1024) && Instant::now() >= deadline {
                return format!("nothing notable in the next {n} events");
            }
        }
    }
}

/// Anomalies the run has shown so far: stale reads and the invariants policies report.
fn anomaly_count(sim: &Sim) -> u64 {
    let m = sim.metrics();
    let v = &m.violations;
    m.stale.count
        + crate::check::violations::ViolationKind::ALL
            .iter()
            .map(|k| v.get(*k))
            .sum::<u64>()
}

/// Counters whose change makes an event worth stopping at.
struct Counters {
    failed: u64,
    unknown: u64,
    stale: u64,
    faults: usize,
    notes: usize,
}

impl Counters {
    fn of(s: &Session) -> Counters {
        let m = s.sim.metrics();
        Counters {
            failed: m.failed,
            unknown: m.unknown,
            stale: m.stale.count,
            faults: s.sim.applied_faults().len(),
            notes: s.notes.len(),
        }
    }

    fn what_changed(&self, s: &Session) -> Option<String> {
        let now = Counters::of(s);
        let m = s.sim.metrics();
        if now.faults > self.faults {
            let (_, f) = &s.sim.applied_faults()[now.faults - 1];
            return Some(format!("fault: {}", super::text::fault(f)));
        }
        if now.stale > self.stale {
            return Some(match m.stale.records.last() {
                Some(r) => format!(
                    "stale read: client {} read k{} and got {}",
                    r.process,
                    r.key,
                    super::text::value(r.returned)
                ),
                None => "stale read".into(),
            });
        }
        if now.notes > self.notes {
            let n = &s.notes[now.notes - 1];
            return Some(format!("{}: {}", n.node, n.text));
        }
        if now.failed > self.failed {
            return Some("an operation failed".into());
        }
        if now.unknown > self.unknown {
            return Some("an operation timed out (outcome unknown)".into());
        }
        None
    }
}
