//! Seed sweeps: one scenario run under many seeds, in parallel (rayon), with every run checked.
//!
//! Each seed is an independent, deterministic single-threaded run, so the outcomes do not depend on
//! how many threads share the work, and any seed replays alone with `capsim run FILE --seed N`.
//! Threads live here, outside the simulator core.

use crate::check::analysis::Analysis;
use crate::check::report::{Linearizable, Report};
use crate::check::violations::{ViolationKind, Violations};
use crate::engine::Options;
use crate::scenario::Scenario;
use crate::scenario::schema::{RandomFault, RandomFaultKind};
use crate::sim::Sim;
use rayon::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;

/// The fault mix `--random-faults` adds to a scenario that has no random faults (docs/metrics.md):
/// per second of simulated time, 0.5 crashes of a random up node (restarted after 100–1000 ms),
/// 0.5 partitions into two random non-empty groups (healed after 100–1000 ms) and 0.5 bursts
/// of 20% message loss on every link (100–500 ms). A single-node cluster gets only the crashes.
pub fn default_random_faults(nodes: u16) -> Vec<RandomFault> {
    let fault = |kind, min_ms, max_ms| RandomFault {
        kind,
        per_second: 0.5,
        min_ms,
        max_ms,
    };
    let mut mix = vec![fault(RandomFaultKind::Crash, 100.0, 1000.0)];
    if nodes >= 2 {
        mix.push(fault(RandomFaultKind::Partition, 100.0, 1000.0));
        mix.push(fault(RandomFaultKind::LossBurst(0.2), 100.0, 500.0));
    }
    mix
}

/// The scenario with the default random-fault mix, unless it already draws random faults.
pub fn with_random_faults(scenario: &Scenario) -> Scenario {
    let mut s = scenario.clone();
    if s.random_faults.is_empty() {
        s.random_faults = default_random_faults(s.nodes.count);
    }
    s
}

/// One seed's run: its full report and the first example of each violation found after the run.
#[derive(Clone, Debug)]
pub struct SeedOutcome {
    pub seed: u64,
    pub report: Report,
    pub examples: Vec<(ViolationKind, String)>,
}

/// Runs `scenario` to the end with one seed and checks it.
pub fn run_seed(scenario: &Scenario, seed: u64) -> SeedOutcome {
    let mut s = scenario.clone();
    s.seed = seed;
    let mut sim = Sim::new(&s, &Options::default());
    sim.run_to_end();
    let analysis: Analysis = sim.analysis();
    let mut report = sim.report(0.0);
    analysis.apply_to(&mut report);
    SeedOutcome {
        seed,
        report,
        examples: analysis.examples(),
    }
}

/// Runs seeds `first..first + count` in parallel; outcomes come back in seed order.
pub fn run_seeds(scenario: &Scenario, first: u64, count: u64) -> Vec<SeedOutcome> {
    let last = first.saturating_add(count);
    (first..last)
        .into_par_iter()
        .map(|seed| run_seed(scenario, seed))
        .collect()
}

/// Totals over a sweep (what `capsim sweep --json` prints, with the command line's details).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Summary {
    pub runs: u64,
    /// How many runs got each linearizability verdict (`true`, `false`, `unknown`, `not_checked`).
    pub linearizable: BTreeMap<&'static str, u64>,
    /// Each violation kind summed over the runs.
    pub totals: Violations,
    /// For each violation kind that occurred, the seeds where it did, ascending.
    pub failing_seeds: BTreeMap<&'static str, Vec<u64>>,
}

impl Summary {
    /// The first seed with a violation of `kind`.
    pub fn first_failing(&self, kind: ViolationKind) -> Option<u64> {
        self.failing_seeds
            .get(kind.name())
            .and_then(|s| s.first().copied())
    }

    pub fn any_violation(&self) -> bool {
        !self.failing_seeds.is_empty()
    }
}

pub fn summarise(outcomes: &[SeedOutcome]) -> Summary {
    let mut s = Summary::default();
    for word in Linearizable::WORDS {
        s.linearizable.insert(word, 0);
    }
    for o in outcomes {
        s.runs += 1;
        *s.linearizable
            .entry(o.report.linearizable.as_str())
            .or_default() += 1;
        for (kind, n) in o.report.violations.iter() {
            s.totals.add(kind, n);
            if n > 0 {
                s.failing_seeds.entry(kind.name()).or_default().push(o.seed);
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(seed: u64, lin: Linearizable, stale: u64) -> SeedOutcome {
        let mut report = Report {
            linearizable: lin,
            ..Report::default()
        };
        report.violations.stale_read = stale;
        SeedOutcome {
            seed,
            report,
            examples: Vec::new(),
        }
    }

    #[test]
    fn summary_counts_verdicts_and_lists_failing_seeds_in_order() {
        let s = summarise(&[
            outcome(4, Linearizable::Yes, 0),
            outcome(5, Linearizable::No, 2),
            outcome(6, Linearizable::Unknown, 3),
        ]);
        assert_eq!(s.runs, 3);
        assert_eq!(s.linearizable["true"], 1);
        assert_eq!(s.linearizable["false"], 1);
        assert_eq!(s.linearizable["unknown"], 1);
        assert_eq!(s.linearizable["not_checked"], 0);
        assert_eq!(s.totals.stale_read, 5);
        assert_eq!(s.failing_seeds["stale_read"], vec![5, 6]);
        assert_eq!(s.first_failing(ViolationKind::StaleRead), Some(5));
        assert_eq!(s.first_failing(ViolationKind::LostWrite), None);
        assert!(s.any_violation());
        assert!(!summarise(&[outcome(1, Linearizable::Yes, 0)]).any_violation());
    }

    #[test]
    fn random_faults_are_added_only_when_missing() {
        let s = Scenario::default();
        let with = with_random_faults(&s);
        assert_eq!(with.random_faults, default_random_faults(s.nodes.count));
        assert_eq!(with.random_faults.len(), 3);
        let again = with_random_faults(&with);
        assert_eq!(again.random_faults, with.random_faults);
        assert_eq!(default_random_faults(1).len(), 1);
        crate::scenario::validate::validate("test", &with).expect("the mix is valid");
    }
}
