//! What-if branches: rewind, change something, and run forward without losing the old future.
//!
//! A branch is the session's base scenario plus its own list of interventions. The worker keeps
//! the list; the session holds the current branch's interventions. When an intervention would
//! change a future the run has already shown (the user rewound) the old list is kept as it is
//! and the run continues in a new branch holding the interventions behind the current point
//! plus the new one. Switching rebuilds the session from the other branch's interventions and
//! seeks to the same time; the run is deterministic, so each branch's history comes back
//! exactly. Saved as a scenario, a branch's interventions become `after_same_time` schedule
//! entries, which apply where the session applied them (see `Session::intervene`).

use super::session::{Intervention, Session};
use crate::check::report::Report;
use crate::engine::Fault;
use crate::scenario::Scenario;
use crate::scenario::schema::{ScheduledFault, SetValue};
use crate::types::SimTime;
use std::path::Path;

/// Most branches kept; a new one beyond this drops the oldest (other than the current one).
pub const MAX_BRANCHES: usize = 16;
/// Longest branch name, in characters.
pub const MAX_NAME_CHARS: usize = 60;

/// A branch's numbers at the furthest point it was run to.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Headline {
    pub at: SimTime,
    pub ops: u64,
    pub stale_reads: u64,
    /// ok / ops.
    pub availability: f64,
}

impl Headline {
    pub fn of(at: SimTime, r: &Report) -> Headline {
        Headline {
            at,
            ops: r.ops,
            stale_reads: r.stale_reads,
            availability: r.availability,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Branch {
    pub name: String,
    /// Where it left the branch it was made from (`None` for the first).
    pub diverged_at: Option<SimTime>,
    pub interventions: Vec<Intervention>,
    pub headline: Option<Headline>,
}

/// What the UI can ask of the branch list (by position in it).
#[derive(Clone, Debug, PartialEq)]
pub enum BranchCommand {
    Switch(usize),
    Rename(usize, String),
    Delete(usize),
}

pub struct Branches {
    list: Vec<Branch>,
    current: usize,
    /// Branches made so far, for numbering new ones.
    made: u32,
}

impl Default for Branches {
    fn default() -> Self {
        Branches {
            list: vec![Branch {
                name: "main".into(),
                diverged_at: None,
                interventions: Vec::new(),
                headline: None,
            }],
            current: 0,
            made: 1,
        }
    }
}

impl Branches {
    pub fn list(&self) -> &[Branch] {
        &self.list
    }

    pub fn current(&self) -> usize {
        self.current
    }

    /// Records the current branch's interventions, and its numbers when it is further along
    /// than it has been.
    pub fn sync(&mut self, s: &Session, report: &Report) {
        let Some(b) = self.list.get_mut(self.current) else {
            return;
        };
        if b.interventions != s.interventions {
            b.interventions.clone_from(&s.interventions);
        }
        if b.headline.is_none_or(|h| s.now() >= h.at) {
            b.headline = Some(Headline::of(s.now(), report));
        }
    }

    /// Called before an intervention described by `what`: when it would change a future already
    /// seen (or `always`), keeps the current branch as it is and continues in a new one.
    /// Returns what happened, for the status line.
    pub fn fork(&mut self, s: &mut Session, what: &str, always: bool) -> Option<String> {
        if !always && !s.is_rewound() {
            return None;
        }
        if let Some(b) = self.list.get_mut(self.current) {
            b.interventions.clone_from(&s.interventions);
        }
        let mut dropped = String::new();
        if self.list.len() >= MAX_BRANCHES
            && let Some(i) = (0..self.list.len()).find(|&i| i != self.current)
        {
            let gone = self.list.remove(i);
            if i < self.current {
                self.current -= 1;
            }
            dropped = format!(
                " (at most {MAX_BRANCHES} branches: \"{}\" was dropped)",
                gone.name
            );
        }
        let at = s.now();
        s.drop_future();
        self.made += 1;
        let name = limit_name(&format!("branch {}: {what} at {}", self.made, seconds(at)));
        self.list.push(Branch {
            name: name.clone(),
            diverged_at: Some(at),
            interventions: s.interventions.clone(),
            headline: None,
        });
        self.current = self.list.len() - 1;
        Some(format!("new branch \"{name}\"{dropped}"))
    }

    /// Carries out a command; returns the status line and, after a switch, the time the new
    /// session must seek to.
    pub fn handle(&mut self, cmd: BranchCommand, s: &mut Session) -> (String, Option<SimTime>) {
        match cmd {
            BranchCommand::Switch(i) => self.switch(i, s),
            BranchCommand::Rename(i, name) => (self.rename(i, &name), None),
            BranchCommand::Delete(i) => (self.delete(i), None),
        }
    }

    fn switch(&mut self, i: usize, s: &mut Session) -> (String, Option<SimTime>) {
        if i == self.current {
            return ("already on that branch".into(), None);
        }
        let Some(to) = self.list.get(i) else {
            return ("no such branch".into(), None);
        };
        let t = s.now();
        let base = (*s.base).clone();
        let next = Session::with_interventions(base, to.interventions.clone());
        let status = format!("switched to \"{}\"", to.name);
        if let Some(b) = self.list.get_mut(self.current) {
            b.interventions.clone_from(&s.interventions);
        }
        *s = next;
        self.current = i;
        (status, Some(t))
    }

    fn rename(&mut self, i: usize, name: &str) -> String {
        let name = limit_name(name.trim());
        match self.list.get_mut(i) {
            _ if name.is_empty() => "a branch name cannot be empty".into(),
            Some(b) => {
                b.name = name;
                format!("renamed to \"{}\"", b.name)
            }
            None => "no such branch".into(),
        }
    }

    fn delete(&mut self, i: usize) -> String {
        if i == self.current {
            return "switch to another branch before deleting this one".into();
        }
        if i >= self.list.len() {
            return "no such branch".into();
        }
        let gone = self.list.remove(i);
        if i < self.current {
            self.current -= 1;
        }
        format!("deleted \"{}\"", gone.name)
    }
}

fn limit_name(name: &str) -> String {
    name.chars().take(MAX_NAME_CHARS).collect()
}

/// "2.40 s".
pub fn seconds(t: SimTime) -> String {
    format!("{:.2} s", t.as_ms() / 1000.0)
}

/// A short description of a batch of `Set`s ("set read_quorum = 1, loss = 0.1").
pub fn describe_sets(faults: &[Fault]) -> String {
    let parts: Vec<String> = faults
        .iter()
        .map(|f| match f {
            Fault::Set { path, value } => {
                let leaf = path.rsplit('.').next().unwrap_or(path);
                format!("{leaf} = {}", set_value(value))
            }
            other => super::text::fault(other),
        })
        .collect();
    format!("set {}", parts.join(", "))
}

fn set_value(v: &SetValue) -> String {
    match v {
        SetValue::Bool(b) => b.to_string(),
        SetValue::Int(i) => i.to_string(),
        SetValue::Float(f) => f.to_string(),
        SetValue::Text(s) => s.clone(),
    }
}

/// `base` with `interventions` appended to its schedule as `after_same_time` entries (applied
/// where a click lands; one made before the first event is an ordinary entry, which applies
/// before the events at its time), and how many could not be written (a loss burst has no
/// schedule form; the app does not make them).
pub fn scenario_for(base: &Scenario, interventions: &[Intervention]) -> (Scenario, usize) {
    let mut s = base.clone();
    let mut skipped = 0;
    for iv in interventions {
        match iv.fault.to_spec() {
            Some(fault) => s.faults.push(ScheduledFault {
                at_ms: iv.at.as_ms(),
                fault,
                for_ms: None,
                after_same_time: iv.after_steps != Some(0),
            }),
            None => skipped += 1,
        }
    }
    (s, skipped)
}

/// Writes `branch` as a scenario file (atomically); returns whether it worked and what to say.
pub fn save(base: &Scenario, branch: &Branch, path: &str) -> (bool, String) {
    if path.is_empty() {
        return (false, "type a file path first".into());
    }
    let (mut scenario, skipped) = scenario_for(base, &branch.interventions);
    if !branch.name.is_empty() && branch.name != "main" {
        scenario.title = format!("{} — {}", scenario.title, branch.name);
    }
    let text = crate::scenario::load::to_string(&scenario);
    match crate::io::write_atomic(Path::new(path), text.as_bytes()) {
        Ok(()) if skipped > 0 => (
            false,
            format!(
                "saved {path}, but {skipped} interventions have no schedule form, so it will \
                 not replay exactly"
            ),
        ),
        Ok(()) => (true, format!("saved \"{}\" to {path}", branch.name)),
        Err(e) => (false, format!("{path}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::NodeId;

    fn lesson() -> Scenario {
        crate::scenario::from_str("lesson", crate::cli::DEFAULT_LESSON).unwrap()
    }

    #[test]
    fn an_intervention_after_a_rewind_keeps_the_old_future_as_a_branch() {
        let mut s = Session::new(lesson());
        let mut b = Branches::default();
        s.advance_to(SimTime::from_ms(1500.0), None);
        assert_eq!(
            b.fork(&mut s, "crash n2", false),
            None,
            "nothing seen ahead"
        );
        s.intervene(Fault::Crash(NodeId(1)));
        s.advance_to(SimTime::from_ms(3000.0), None);
        s.seek(SimTime::from_ms(1000.0));
        assert!(b.fork(&mut s, "pause n4", false).is_some());
        s.intervene(Fault::Pause(NodeId(3)));
        assert_eq!(b.list().len(), 2);
        assert_eq!(b.current(), 1);
        assert_eq!(b.list()[0].interventions.len(), 1, "main keeps its crash");
        let faults: Vec<_> = s.interventions.iter().map(|iv| &iv.fault).collect();
        assert_eq!(
            faults,
            vec![&Fault::Pause(NodeId(3))],
            "the new branch has no crash"
        );
        assert_eq!(b.list()[1].diverged_at, Some(SimTime::from_ms(1000.0)));
        assert!(b.list()[1].name.contains("pause n4 at 1.00 s"));
    }

    /// Saves `s`'s interventions, runs the file with the library to `s`'s time, compares.
    fn replays_exactly(s: &Session) {
        let (saved, skipped) = scenario_for(&s.base, &s.interventions);
        assert_eq!(skipped, 0);
        let text = crate::scenario::load::to_string(&saved);
        let loaded = crate::scenario::from_str("saved", &text).unwrap();
        let mut sim = crate::sim::Sim::new(&loaded, &crate::engine::Options::default());
        sim.run_until(s.now());
        assert_eq!(sim.trace_hash(), s.sim.trace_hash());
    }

    #[test]
    fn saved_interventions_replay_exactly_from_the_first_event_or_mid_instant() {
        let mut s = Session::new(lesson());
        s.intervene(Fault::Crash(NodeId(4))); // before any event
        // Step until more events are due at the current microsecond.
        while s.steps < 30 || s.sim.next_event_time() != Some(s.now()) {
            assert!(s.step_one() && s.steps < 100_000, "no crowded instant");
        }
        s.intervene(Fault::Pause(NodeId(3))); // between events at one time
        s.advance_to(SimTime::from_ms(1700.0), None);
        s.intervene(Fault::Set {
            path: "policy.read_quorum".into(),
            value: SetValue::Int(1),
        });
        s.intervene(Fault::CutLink {
            a: NodeId(0),
            b: NodeId(2),
            one_way: false,
        });
        let cut = s.sim.cuts().last().map(|c| c.0).unwrap();
        s.advance_to(SimTime::from_ms(2300.0), None);
        s.intervene(Fault::Unblock(cut)); // heal that one cut, after the lesson's partition
        s.advance_to(SimTime::from_ms(2500.0), None);
        assert!(s.sim.cuts().iter().all(|c| c.0 != cut));
        replays_exactly(&s);
        // And replaying in the app by time (as a branch switch does) agrees too.
        let mut again = Session::with_interventions((*s.base).clone(), s.interventions.clone());
        again.seek(s.now());
        assert_eq!(again.sim.trace_hash(), s.sim.trace_hash());
    }

    #[test]
    fn the_list_is_bounded_and_keeps_the_current_branch() {
        let mut s = Session::new(lesson());
        let mut b = Branches::default();
        for i in 0..(MAX_BRANCHES + 5) {
            b.fork(&mut s, &format!("change {i}"), true);
            assert_eq!(b.current(), b.list().len() - 1);
        }
        assert_eq!(b.list().len(), MAX_BRANCHES);
        assert!(b.list().last().unwrap().name.contains("change 20"));
        assert!(
            !b.list().iter().any(|x| x.name == "main"),
            "the oldest went"
        );
    }

    #[test]
    fn rename_and_delete_refuse_what_they_cannot_do() {
        let mut s = Session::new(lesson());
        let mut b = Branches::default();
        b.fork(&mut s, "x", true);
        let (msg, _) = b.handle(BranchCommand::Delete(1), &mut s);
        assert!(msg.contains("switch to another branch"), "{msg}");
        let (msg, _) = b.handle(BranchCommand::Rename(0, "  ".into()), &mut s);
        assert!(msg.contains("empty"), "{msg}");
        b.handle(BranchCommand::Rename(0, "x".repeat(200)), &mut s);
        assert_eq!(b.list()[0].name.chars().count(), MAX_NAME_CHARS);
        b.handle(BranchCommand::Delete(0), &mut s);
        assert_eq!((b.list().len(), b.current()), (1, 0));
    }
}
