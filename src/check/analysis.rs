//! The checks that run once a run is over, on its history and its replicas' final state:
//! linearizability, session guarantees, lost writes and resurrected values. They add to the
//! streaming metrics of the report (docs/metrics.md); the engine's hot loop never runs them.

use super::history::{HistoryEvent, pair_operations};
use super::linearizability::{Counterexample, check_every_key};
use super::lost::{FinalValues, Found, lost_writes, resurrected_reads};
use super::order::UpdateIndex;
use super::report::{Linearizable, Report};
use super::sessions::{self, SessionViolations};
use super::violations::ViolationKind;
use crate::types::{Key, OpKind};

/// What the post-run checks look at.
#[derive(Clone, Debug)]
pub struct RunRecord<'a> {
    /// The history kept in memory, in time order.
    pub history: &'a [HistoryEvent],
    /// Whether `history` holds every event of the run (it is cut at `run.history_limit`).
    pub history_complete: bool,
    pub final_values: FinalValues,
    /// Step budget per key for the linearizability search.
    pub budget_steps: u64,
}

/// The post-run checks' findings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Analysis {
    pub linearizable: Linearizable,
    /// Keys whose sub-history is not linearizable.
    pub non_linearizable_keys: u64,
    /// The first such key's shrunk counterexample, with its explanation.
    pub counterexample: Option<Counterexample>,
    /// The first key whose search ran out of budget, and the steps it took.
    pub unknown_key: Option<(Key, u64)>,
    pub sessions: SessionViolations,
    pub lost_writes: Found,
    pub resurrected: Found,
}

/// Runs every post-run check. Linearizability needs the whole history; the other checks only
/// count what the history proves, so on a history cut short they still give lower bounds.
pub fn analyse(run: &RunRecord<'_>) -> Analysis {
    let ops = pair_operations(run.history);
    let index = UpdateIndex::new(&ops);
    let mut out = Analysis {
        sessions: sessions::check(&ops, &index),
        lost_writes: lost_writes(&ops, &index, &run.final_values, run.history_complete),
        resurrected: resurrected_reads(&ops, &index),
        ..Analysis::default()
    };
    if run.history_complete {
        let keys = check_every_key(&ops, run.budget_steps);
        out.non_linearizable_keys = keys.not_linearizable.len() as u64;
        out.unknown_key = keys.unknown.first().copied();
        out.linearizable = match (&keys.counterexample, out.unknown_key) {
            (Some(_), _) => Linearizable::No,
            (None, Some(_)) => Linearizable::Unknown,
            (None, None) => Linearizable::Yes,
        };
        out.counterexample = keys.counterexample;
    }
    out
}

impl Analysis {
    /// Writes the findings into a report made from the streaming metrics.
    pub fn apply_to(&self, r: &mut Report) {
        r.linearizable = self.linearizable;
        r.lost_writes = self.lost_writes.count;
        r.resurrected = self.resurrected.count;
        let v = &mut r.violations;
        let s = &self.sessions;
        v.set(ViolationKind::Linearizability, self.non_linearizable_keys);
        v.set(ViolationKind::ReadYourWrites, s.read_your_writes);
        v.set(ViolationKind::MonotonicReads, s.monotonic_reads);
        v.set(ViolationKind::MonotonicWrites, s.monotonic_writes);
        v.set(ViolationKind::WritesFollowReads, s.writes_follow_reads);
        v.set(ViolationKind::LostWrite, self.lost_writes.count);
        v.set(ViolationKind::Resurrected, self.resurrected.count);
    }

    /// When to watch the first example of `kind` unfold (µs): a linearizability counterexample's
    /// first read, a lost write's acknowledgement, the read that saw a resurrected value or broke
    /// a session guarantee. `None` for kinds these checks did not find.
    pub fn example_at_us(&self, kind: ViolationKind) -> Option<u64> {
        match kind {
            ViolationKind::Linearizability => self.counterexample.as_ref().map(first_read_us),
            ViolationKind::LostWrite => self.lost_writes.subject.map(|(_, _, at)| at),
            ViolationKind::Resurrected => self.resurrected.subject.map(|(_, _, at)| at),
            other => self.sessions.reads.get(&other).map(|&(_, _, at)| at),
        }
    }

    /// The first violation of each kind these checks found, in words.
    pub fn examples(&self) -> Vec<(ViolationKind, String)> {
        let mut out = Vec::new();
        if let Some(c) = &self.counterexample {
            out.push((ViolationKind::Linearizability, c.explanation.clone()));
        }
        out.extend(self.sessions.examples.iter().map(|(k, e)| (*k, e.clone())));
        let found = [
            (ViolationKind::LostWrite, &self.lost_writes),
            (ViolationKind::Resurrected, &self.resurrected),
        ];
        for (kind, f) in found {
            if let Some(e) = &f.example {
                out.push((kind, e.clone()));
            }
        }
        out.sort_by_key(|(k, _)| *k);
        out
    }
}

/// Where a counterexample starts going wrong: its earliest read (the operations before it are
/// the writes that set the scene), or its earliest operation when it has no read.
fn first_read_us(c: &Counterexample) -> u64 {
    let reads = c.ops.iter().filter(|op| op.f == OpKind::Read);
    reads
        .map(|op| op.start_us)
        .min()
        .or_else(|| c.ops.iter().map(|op| op.start_us).min())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::history::EventType;
    use crate::types::{OpKind, ValueId};

    fn ev(kind: EventType, process: u64, f: OpKind, value: Option<u64>, t: u64) -> HistoryEvent {
        HistoryEvent {
            kind,
            process,
            f,
            key: 0,
            value: value.map(ValueId),
            time_us: t,
        }
    }

    /// Process 1 writes v1 and then v2; process 2 reads v2, then v1 (stale, non-linearizable,
    /// monotonic reads and writes broken). At the end the replicas hold v1: v2 is lost.
    fn history() -> Vec<HistoryEvent> {
        use EventType::*;
        use OpKind::*;
        vec![
            ev(Invoke, 1, Write, Some(1), 0),
            ev(Ok, 1, Write, Some(1), 10),
            ev(Invoke, 1, Write, Some(2), 20),
            ev(Ok, 1, Write, Some(2), 30),
            ev(Invoke, 2, Read, None, 40),
            ev(Ok, 2, Read, Some(2), 50),
            ev(Invoke, 2, Read, None, 60),
            ev(Ok, 2, Read, Some(1), 70),
        ]
    }

    fn analyse_with(history: &[HistoryEvent], complete: bool) -> Analysis {
        analyse(&RunRecord {
            history,
            history_complete: complete,
            final_values: FinalValues::from([(0, vec![Some(ValueId(1)); 3])]),
            budget_steps: 10_000,
        })
    }

    #[test]
    fn every_check_reports_into_the_report() {
        let a = analyse_with(&history(), true);
        assert_eq!(a.linearizable, Linearizable::No);
        assert_eq!(a.non_linearizable_keys, 1);
        let mut r = Report::default();
        a.apply_to(&mut r);
        assert_eq!(r.linearizable, Linearizable::No);
        assert_eq!(r.violations.linearizability, 1);
        assert_eq!(r.violations.monotonic_reads, 1);
        assert_eq!(r.violations.monotonic_writes, 1);
        assert_eq!(r.violations.read_your_writes, 0);
        assert_eq!((r.lost_writes, r.violations.lost_write), (1, 1));
        let kinds: Vec<ViolationKind> = a.examples().iter().map(|e| e.0).collect();
        assert_eq!(
            kinds,
            [
                ViolationKind::Linearizability,
                ViolationKind::MonotonicReads,
                ViolationKind::MonotonicWrites,
                ViolationKind::LostWrite
            ]
        );
    }

    /// Each example's moment: the stale second read (60) is where the counterexample and the
    /// monotonic-reads violation start; the lost write v2 was acknowledged at 30.
    #[test]
    fn each_example_says_when_to_watch_it() {
        let a = analyse_with(&history(), true);
        let at = |k| a.example_at_us(k);
        assert_eq!(at(ViolationKind::Linearizability), Some(60));
        assert_eq!(at(ViolationKind::MonotonicReads), Some(60));
        assert_eq!(at(ViolationKind::LostWrite), Some(30));
        assert_eq!(at(ViolationKind::ReadYourWrites), None, "not found");
    }

    #[test]
    fn a_cut_history_is_not_checked_for_linearizability() {
        let a = analyse_with(&history(), false);
        assert_eq!(a.linearizable, Linearizable::NotChecked);
        assert_eq!(a.non_linearizable_keys, 0);
        assert_eq!(a.sessions.monotonic_reads, 1, "still a lower bound");
        let empty = analyse_with(&[], true);
        assert_eq!(empty.linearizable, Linearizable::Yes);
        assert_eq!(empty.lost_writes.count, 0);
    }
}
