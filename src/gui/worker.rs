//! The simulation thread. It owns the [`Session`] (and so the `Sim`), takes [`Command`]s from the
//! UI over a channel, and publishes an immutable [`Frame`] after every change. The UI only ever
//! reads the latest frame, so it never waits for the simulation.

use super::branches::{Branch, BranchCommand, Branches};
use super::series::Series;
use super::session::{Intervention, NoteMark, Session};
use super::wire::WireLog;
use crate::check::report::Report;
use crate::check::stale::StaleRead;
use crate::engine::view::{MessageInfo, NodeInfo, OpInfo};
use crate::engine::{Fault, Phase};
use crate::policy::StoredValue;
use crate::scenario::Scenario;
use crate::sim::Sim;
use crate::trace::Stamped;
use crate::types::{NodeId, SimTime};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How fast simulated time runs while playing.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Speed {
    /// Simulated microseconds per real second.
    SimUsPerSec(f64),
    /// As fast as the machine can go.
    Max,
}

impl Default for Speed {
    fn default() -> Self {
        Speed::SimUsPerSec(100_000.0)
    }
}

pub enum Command {
    Play,
    Pause,
    TogglePlay,
    StepEvent,
    StepBack,
    StepInteresting,
    SetSpeed(Speed),
    Seek(SimTime),
    Apply(Fault),
    /// A new scenario from t=0 (interventions dropped).
    Load(Box<Scenario>),
    /// The edited scenario from t=0, re-applying the session's interventions by time.
    Restart(Box<Scenario>),
    /// Parameter changes (`Fault::Set`) at the current time, in a new what-if branch.
    ApplyFromNow(Vec<Fault>),
    Branch(BranchCommand),
    /// Whether frames carry every node's stored values (for the inspector).
    SetInspect(bool),
    /// A copy of the simulation as it is now (tests and saving use it).
    Snapshot(Sender<Box<Sim>>),
    /// Explain the stale read with this operation id (re-runs from a checkpoint; see `why`).
    Explain(u64),
    /// Explain the latest stale read so far.
    ExplainLatest,
    /// Run the history checks on the run so far and explain what they find (`why`).
    CheckHistory,
    CloseExplanation,
    /// Pause playing right after an event that produced an anomaly, with the explanation
    /// opened but hidden behind "Reveal why" (presenter mode).
    SetPauseOnAnomaly(bool),
    Shutdown,
}

/// Everything the UI draws, as of one moment of the simulation.
#[derive(Clone, Debug)]
pub struct Frame {
    /// Commands processed so far (the UI counts those it sent).
    pub acked: u64,
    pub now: SimTime,
    pub steps: u64,
    pub phase: Phase,
    pub playing: bool,
    pub speed: Speed,
    /// The end of the scrubber: the run's end once known, else its planned length.
    pub horizon: SimTime,
    pub scenario: Arc<Scenario>,
    pub kinds: &'static [&'static str],
    /// Bit k: a message of `kinds[k]` was sent so far (see `Metrics::kinds_sent`).
    pub kinds_sent: u64,
    pub nodes: Vec<NodeInfo>,
    pub messages: Vec<MessageInfo>,
    pub ops: Vec<OpInfo>,
    pub events: Vec<Stamped>,
    pub stale_recent: Vec<StaleRead>,
    /// Start times of stale reads (ms), for the time line.
    pub stale_ms: Vec<f64>,
    pub report: Report,
    /// Shared between frames until it changes (it can hold many samples).
    pub series: Arc<Series>,
    pub blocked: Vec<(NodeId, NodeId)>,
    pub cuts: Vec<(u32, Vec<(NodeId, NodeId)>)>,
    pub faults: Vec<(SimTime, Fault)>,
    pub interventions: Vec<Intervention>,
    pub notes: Vec<NoteMark>,
    /// Recent sends, deliveries, drops, client operations and faults (the space-time diagram).
    pub wire: Arc<WireLog>,
    /// `stored[node]`, only while the inspector is open.
    pub stored: Vec<Vec<StoredValue>>,
    /// What the last command did ("stopped at: stale read ...").
    pub status: String,
    /// A seek is still running (in slices, so the worker keeps answering).
    pub busy: bool,
    /// The what-if branches, and which one is running.
    pub branches: Vec<Branch>,
    pub current_branch: usize,
    /// The scenario as the engine has it now (`scenario` plus the `Set`s applied so far).
    pub live_scenario: Arc<Scenario>,
    /// Operation ids of the stale reads, in the order of `stale_ms`.
    pub stale_ops: Vec<u64>,
    /// The explanation on show, if any (its `highlight` is what views outline).
    pub why: Option<Arc<super::why::Why>>,
    pub pause_on_anomaly: bool,
}

impl Frame {
    /// The report as a viewer should read it mid-run: `unknown` and `availability` over the
    /// operations that have ended. The engine's report (like `capsim run --json`) counts an
    /// operation still waiting for its reply as unknown, which is right at the end of a run but
    /// showed a healthy cluster with "unknown 6" in warning colour while requests were merely in
    /// flight.
    pub fn settled(&self) -> Report {
        settled(&self.report, self.ops.len() as u64)
    }

    /// What the cluster view and the space-time diagram should outline.
    pub fn highlight(&self) -> Option<&crate::check::explain::Highlight> {
        let why = self.why.as_ref()?;
        match (&why.explanation, &why.story) {
            (Some(e), _) => Some(&e.highlight),
            (None, Some(story)) => Some(&story.highlight),
            (None, None) => None,
        }
    }
}

/// Where the worker leaves the latest frame for the UI.
pub type FrameSlot = Arc<Mutex<Arc<Frame>>>;

/// Most in-flight messages put in a frame (the view cannot show more anyway).
const MAX_FRAME_MESSAGES: usize = 3_000;
const TICK: Duration = Duration::from_millis(16);

pub struct Worker {
    session: Session,
    playing: bool,
    speed: Speed,
    inspect: bool,
    acked: u64,
    status: String,
    carry_us: f64,
    /// Where an unfinished seek is going.
    seeking: Option<SimTime>,
    /// Counts sessions (a load or restart starts a new one).
    session_id: u64,
    /// The last published series, with the (session, generation, length) it was copied at.
    series_cache: std::cell::RefCell<((u64, u64, usize), Arc<Series>)>,
    branches: Branches,
    /// The engine's scenario as last published (copied again only when it changes).
    live_cache: std::cell::RefCell<Arc<Scenario>>,
    /// The last published wire log, with the (session, generation, sequence) it was copied at.
    wire_cache: std::cell::RefCell<((u64, u64, u64), Arc<WireLog>)>,
    repaint: Box<dyn Fn() + Send>,
    slot: FrameSlot,
    why: Option<Arc<super::why::Why>>,
    pause_on_anomaly: bool,
}

impl Worker {
    pub fn new(scenario: Scenario, repaint: Box<dyn Fn() + Send>) -> (Worker, FrameSlot) {
        let session = Session::new(scenario);
        let mut w = Worker {
            session,
            playing: false,
            speed: Speed::default(),
            inspect: false,
            acked: 0,
            status: String::new(),
            carry_us: 0.0,
            seeking: None,
            session_id: 0,
            series_cache: Default::default(),
            branches: Branches::default(),
            live_cache: Default::default(),
            wire_cache: Default::default(),
            repaint,
            slot: Arc::new(Mutex::new(Arc::new(placeholder()))),
            why: None,
            pause_on_anomaly: false,
        };
        w.publish();
        let slot = w.slot.clone();
        (w, slot)
    }

    /// The thread's main loop: commands, then (while playing) one tick of simulated time.
    pub fn run(mut self, rx: Receiver<Command>) {
        let mut last = Instant::now();
        loop {
            let wait = if self.seeking.is_some() {
                Duration::ZERO
            } else if self.playing {
                TICK
            } else {
                Duration::from_secs(1)
            };
            let mut changed = false;
            match rx.recv_timeout(wait) {
                Ok(cmd) => {
                    changed = true;
                    if !self.handle(cmd) {
                        return;
                    }
                    while let Ok(cmd) = rx.try_recv() {
                        if !self.handle(cmd) {
                            return;
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
            let dt = last.elapsed().as_secs_f64().min(0.25);
            last = Instant::now();
            if let Some(t) = self.seeking {
                let deadline = Instant::now() + Duration::from_millis(30);
                if self.session.advance_to(t, Some(deadline)) {
                    self.seeking = None;
                }
                changed = true;
            } else if self.playing {
                self.tick(dt);
                changed = true;
            }
            if changed {
                self.publish();
            }
        }
    }

    /// One slice of play: simulated time advances by speed × real time (at most ~30 ms of work).
    fn tick(&mut self, dt_s: f64) {
        let deadline = Some(Instant::now() + Duration::from_millis(30));
        let s = &mut self.session;
        s.stop_on_anomaly = self.pause_on_anomaly;
        match self.speed {
            Speed::Max => {
                s.advance_to(SimTime::MAX, deadline);
            }
            Speed::SimUsPerSec(rate) => {
                self.carry_us += rate * dt_s;
                let whole = self.carry_us.floor();
                self.carry_us -= whole;
                let target = s.now().saturating_add(whole as u64);
                if !s.advance_to(target, deadline) {
                    self.carry_us = 0.0; // the machine cannot keep up: do not pile up a debt
                }
            }
        }
        if s.stop_on_anomaly && std::mem::take(&mut s.stopped_at_anomaly) {
            self.playing = false;
            self.carry_us = 0.0;
            let why = super::why::at_anomaly(s, self.why.as_ref().map_or(0, |w| w.serial));
            self.status = format!("paused at an anomaly: {}", why.title);
            self.why = Some(Arc::new(why));
        }
        let s = &mut self.session;
        s.stop_on_anomaly = false;
        if s.sim.is_done() {
            self.playing = false;
            self.status = "the run is over".into();
        }
    }

    /// Finishes an unfinished seek before a command that depends on where the run is.
    fn finish_seek(&mut self) {
        if let Some(t) = self.seeking.take() {
            self.session.advance_to(t, None);
        }
    }

    /// Handles one command; false means stop the thread.
    fn handle(&mut self, cmd: Command) -> bool {
        self.acked += 1;
        match &cmd {
            // Pausing stops a long seek where it is; a new seek replaces it; a new run or
            // closing the window makes it moot.
            Command::Pause
            | Command::TogglePlay
            | Command::Load(_)
            | Command::Restart(_)
            | Command::Shutdown => self.seeking = None,
            Command::Seek(_)
            | Command::SetSpeed(_)
            | Command::SetInspect(_)
            | Command::CloseExplanation
            | Command::SetPauseOnAnomaly(_) => {}
            _ => self.finish_seek(),
        }
        let s = &mut self.session;
        match cmd {
            Command::Play => self.playing = !s.sim.is_done(),
            Command::Pause => self.playing = false,
            Command::TogglePlay => self.playing = !self.playing && !s.sim.is_done(),
            Command::StepEvent => {
                self.playing = false;
                s.step_one();
            }
            Command::StepBack => {
                self.playing = false;
                s.step_back();
            }
            Command::StepInteresting => {
                self.playing = false;
                let why = s.step_interesting(Instant::now() + Duration::from_secs(2));
                self.status = format!("stopped at: {why}");
            }
            Command::SetSpeed(speed) => self.speed = speed,
            Command::Seek(t) => {
                s.rewind_for(t);
                self.seeking = Some(t);
            }
            Command::Apply(f) => {
                let what = super::text::fault(&f);
                let forked = self.branches.fork(s, &what, false);
                self.status = forked.unwrap_or_else(|| format!("applied: {what}"));
                s.intervene(f);
            }
            Command::ApplyFromNow(sets) => {
                let what = super::branches::describe_sets(&sets);
                self.status = self.branches.fork(s, &what, true).unwrap_or_default();
                for f in sets {
                    s.intervene(f);
                }
            }
            Command::Branch(c) => {
                let (status, seek) = self.branches.handle(c, s);
                self.status = status;
                if let Some(t) = seek {
                    self.playing = false;
                    self.session_id += 1;
                    self.seeking = Some(t);
                }
            }
            Command::Load(scenario) => {
                self.playing = false;
                self.branches = Branches::default();
                self.session = Session::new(*scenario);
                self.session_id += 1;
                self.why = None;
                self.status = "scenario loaded".into();
            }
            Command::Restart(scenario) => {
                self.playing = false;
                let keep = if scenario.nodes.count == s.base.nodes.count {
                    s.interventions.clone()
                } else {
                    Vec::new()
                };
                self.branches = Branches::default();
                self.session = Session::with_interventions(*scenario, keep);
                self.session_id += 1;
                self.why = None;
                self.status = "restarted from t=0 with the edited scenario".into();
            }
            Command::SetInspect(on) => self.inspect = on,
            Command::Snapshot(reply) => {
                let _ = reply.send(Box::new(s.sim.clone()));
            }
            Command::Explain(op) => self.explain(op),
            Command::ExplainLatest => {
                let now = s.sim.now().0;
                let recs = &s.sim.metrics().stale.records;
                if let Some(op) = recs.iter().rev().find(|r| r.invoke_us <= now).map(|r| r.op) {
                    self.explain(op);
                } else {
                    self.status = "no stale read yet".into();
                }
            }
            Command::CheckHistory => {
                let serial = self.why.as_ref().map_or(0, |w| w.serial) + 1;
                let why = super::why::check_history(s, serial);
                self.status = why.title.clone();
                self.why = Some(Arc::new(why));
            }
            Command::CloseExplanation => self.why = None,
            Command::SetPauseOnAnomaly(on) => self.pause_on_anomaly = on,
            Command::Shutdown => return false,
        }
        true
    }

    /// Builds the explanation of a stale read and puts it on show.
    fn explain(&mut self, op: u64) {
        let serial = self.why.as_ref().map_or(0, |w| w.serial) + 1;
        let why = super::why::explain_op(&self.session, op, serial);
        self.status = why.title.clone();
        self.why = Some(Arc::new(why));
    }

    fn publish(&mut self) {
        let mut frame = self.frame();
        self.branches.sync(&self.session, &frame.report);
        frame.branches = self.branches.list().to_vec();
        frame.current_branch = self.branches.current();
        let frame = Arc::new(frame);
        if let Ok(mut slot) = self.slot.lock() {
            *slot = frame;
        }
        (self.repaint)();
    }

    /// The plot series for a frame: copied only when samples were added or dropped.
    fn series_for_frame(&self) -> Arc<Series> {
        let s = &self.session;
        let key = (self.session_id, s.series_generation, s.series.len());
        let mut cache = self.series_cache.borrow_mut();
        if cache.0 != key {
            *cache = (key, Arc::new(s.series.clone()));
        }
        cache.1.clone()
    }

    /// The engine's scenario for a frame: copied only when a `Set` changed it.
    fn live_for_frame(&self) -> Arc<Scenario> {
        let mut cache = self.live_cache.borrow_mut();
        if **cache != *self.session.sim.scenario() {
            *cache = Arc::new(self.session.sim.scenario().clone());
        }
        cache.clone()
    }

    /// The wire log for a frame: copied only when records were added or rewound.
    fn wire_for_frame(&self) -> Arc<WireLog> {
        let s = &self.session;
        let key = (self.session_id, s.series_generation, s.wire.seq());
        let mut cache = self.wire_cache.borrow_mut();
        if cache.0 != key {
            *cache = (key, Arc::new(s.wire.clone()));
        }
        cache.1.clone()
    }

    fn frame(&self) -> Frame {
        let s = &self.session;
        let sim = &s.sim;
        let m = sim.metrics();
        // The lesson's length plus a little of the drain: most runs settle within milliseconds
        // of the workload's end, and counting all of `drain_ms` (5 s by default) left half of a
        // 5 s lesson's time line and plots empty. A run that drains longer pushes it out.
        let duration = s.base.run.duration_ms.unwrap_or(1000.0);
        let planned = duration + s.base.run.drain_ms.min(duration * 0.1);
        let horizon = s
            .end
            .unwrap_or_else(|| SimTime::from_ms(planned).max(sim.now()));
        let mut messages = sim.messages();
        messages.truncate(MAX_FRAME_MESSAGES);
        let recs = &m.stale.records;
        Frame {
            acked: self.acked,
            now: sim.now(),
            steps: s.steps,
            phase: sim.phase(),
            playing: self.playing,
            speed: self.speed,
            horizon,
            scenario: s.base.clone(),
            kinds: sim.message_kinds(),
            kinds_sent: sim.metrics().kinds_sent,
            nodes: sim.nodes_info(),
            messages,
            ops: sim.ops_in_progress(),
            events: sim.recent_events(),
            stale_recent: recs[recs.len().saturating_sub(300)..].to_vec(),
            stale_ms: recs.iter().map(|r| r.invoke_us as f64 / 1000.0).collect(),
            report: sim.report(0.0),
            series: self.series_for_frame(),
            blocked: sim.blocked_links(),
            cuts: sim.cuts(),
            faults: sim.applied_faults().to_vec(),
            interventions: s.interventions.clone(),
            notes: s.notes.clone(),
            wire: self.wire_for_frame(),
            stored: if self.inspect {
                (0..sim.node_count())
                    .map(|n| sim.stored(NodeId(n as u16)))
                    .collect()
            } else {
                Vec::new()
            },
            status: self.status.clone(),
            busy: self.seeking.is_some(),
            branches: Vec::new(),
            current_branch: 0,
            live_scenario: self.live_for_frame(),
            stale_ops: recs.iter().map(|r| r.op).collect(),
            why: self.why.clone(),
            pause_on_anomaly: self.pause_on_anomaly,
        }
    }
}

/// The frame shown before the worker's first one arrives (never drawn in practice).
fn placeholder() -> Frame {
    let scenario = Scenario::default();
    Frame {
        acked: 0,
        now: SimTime::ZERO,
        steps: 0,
        phase: Phase::Running,
        playing: false,
        speed: Speed::default(),
        horizon: SimTime::ZERO,
        scenario: Arc::new(scenario),
        kinds: &[],
        kinds_sent: 0,
        nodes: Vec::new(),
        messages: Vec::new(),
        ops: Vec::new(),
        events: Vec::new(),
        stale_recent: Vec::new(),
        stale_ms: Vec::new(),
        report: Report::default(),
        series: Arc::default(),
        blocked: Vec::new(),
        cuts: Vec::new(),
        faults: Vec::new(),
        interventions: Vec::new(),
        notes: Vec::new(),
        wire: Arc::default(),
        stored: Vec::new(),
        status: String::new(),
        busy: false,
        branches: Vec::new(),
        current_branch: 0,
        live_scenario: Arc::default(),
        stale_ops: Vec::new(),
        why: None,
        pause_on_anomaly: false,
    }
}

/// Starts the worker thread; returns the command sender, the frame slot and the thread handle.
/// The UI's end of a worker thread: send commands, read the latest frame. The main view and
/// each side of compare mode hold one; dropping it stops the thread.
pub struct WorkerHandle {
    tx: Sender<Command>,
    slot: FrameSlot,
    frame: Arc<Frame>,
    sent: u64,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl WorkerHandle {
    /// Starts a simulation thread for `scenario`; `repaint` runs whenever a frame arrives.
    pub fn spawn(scenario: Scenario, repaint: Box<dyn Fn() + Send>) -> WorkerHandle {
        let (tx, rx) = crossbeam_channel::unbounded();
        let (worker, slot) = Worker::new(scenario, repaint);
        let thread = std::thread::Builder::new()
            .name("capsim-sim".into())
            .spawn(move || worker.run(rx))
            .expect("spawning the simulation thread");
        let frame = slot
            .lock()
            .map(|f| f.clone())
            .unwrap_or_else(|e| e.into_inner().clone());
        WorkerHandle {
            tx,
            slot,
            frame,
            sent: 0,
            thread: Some(thread),
        }
    }

    /// Commands sent so far (the worker's frames count those it handled).
    pub fn sent(&self) -> u64 {
        self.sent
    }

    pub fn send(&mut self, cmd: Command) {
        if self.tx.send(cmd).is_ok() {
            self.sent += 1;
        }
    }

    /// The latest frame the worker published.
    pub fn frame(&mut self) -> Arc<Frame> {
        if let Ok(f) = self.slot.lock() {
            self.frame = f.clone();
        }
        self.frame.clone()
    }

    /// Whether the worker has handled every command sent and finished its seek.
    pub fn idle(&mut self) -> bool {
        let f = self.frame();
        f.acked >= self.sent && !f.busy
    }
}

impl Drop for WorkerHandle {
    fn drop(&mut self) {
        let _ = self.tx.send(Command::Shutdown);
        if let Some(h) = self.thread.take() {
            let _ = h.join();
        }
    }
}

/// `report` with the `in_progress` operations left out of `unknown` and `availability`.
pub fn settled(report: &Report, in_progress: u64) -> Report {
    let mut r = report.clone();
    let running = in_progress.min(r.unknown).min(r.ops);
    r.unknown -= running;
    let ended = r.ops - running;
    r.availability = if ended == 0 {
        1.0
    } else {
        r.ok as f64 / ended as f64
    };
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two of three unknown operations are still waiting: one ended as unknown, and
    /// availability is 6 ok of the 8 that ended.
    #[test]
    fn operations_in_flight_are_neither_unknown_nor_unavailable() {
        let r = Report {
            ops: 10,
            ok: 6,
            failed: 1,
            unknown: 3,
            availability: 0.6,
            ..Report::default()
        };
        let s = settled(&r, 2);
        assert_eq!(s.unknown, 1);
        assert_eq!(s.availability, 0.75);
        assert_eq!(
            (s.ops, s.ok, s.failed),
            (10, 6, 1),
            "the rest is the engine's"
        );
        // At the end of a run nothing is in progress: the report is unchanged.
        assert_eq!(settled(&r, 0).availability, 0.6);
        // Everything still waiting: nothing has failed to answer yet.
        let start = Report {
            ops: 4,
            unknown: 4,
            ..Report::default()
        };
        assert_eq!(settled(&start, 4).availability, 1.0);
    }
}
