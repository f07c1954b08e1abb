//! Compare mode's rules (issue #8, "the CAP demo"): two configurations run on the same seed and
//! the same faults, so any difference in the numbers comes from the policies alone.
//!
//! Side B keeps its own network, policy and workload but takes side A's seed, scheduled faults and
//! random faults. This module only builds the two scenarios; the GUI runs them (src/gui/compare.rs)
//! and `capsim run` of each matched scenario prints the same numbers.

use crate::scenario::ScenarioError;
use crate::scenario::schema::{Consistency, LeaderlessSpec, PolicySpec, ReadMode, Scenario};
use crate::scenario::validate;

/// The two scenarios of a comparison, ready to run, and what had to change in B to match A.
#[derive(Clone, Debug, PartialEq)]
pub struct Matched {
    pub a: Scenario,
    pub b: Scenario,
    /// Plain-language notes for the UI: B's replaced seed or schedule, differing node counts.
    pub notes: Vec<String>,
}

/// Side B with side A's seed and faults (scheduled and random), checked as a whole.
///
/// Errors are user mistakes shown in the UI, e.g. A's faults naming a node B does not have.
pub fn match_faults(a: &Scenario, b: &Scenario) -> Result<Matched, ScenarioError> {
    validate::validate("side A", a)?;
    let mut forced = b.clone();
    forced.seed = a.seed;
    forced.faults = a.faults.clone();
    forced.random_faults = a.random_faults.clone();
    validate::validate("side B with side A's faults", &forced)?;
    Ok(Matched {
        a: a.clone(),
        notes: notes(a, b),
        b: forced,
    })
}

/// What changed in B to match A, in words a lecturer can read out.
fn notes(a: &Scenario, b: &Scenario) -> Vec<String> {
    let mut out = Vec::new();
    if a.nodes.count != b.nodes.count {
        out.push(format!(
            "node counts differ: A has {} nodes, B has {}",
            a.nodes.count, b.nodes.count
        ));
    }
    if b.seed != a.seed {
        out.push(format!(
            "B's seed {} is replaced by A's seed {}",
            b.seed, a.seed
        ));
    }
    if b.faults != a.faults || b.random_faults != a.random_faults {
        out.push(format!(
            "B's own fault schedule ({}) is replaced by A's ({})",
            count_faults(b),
            count_faults(a)
        ));
    }
    out
}

/// "1 fault", "3 faults" (scheduled and random together).
fn count_faults(s: &Scenario) -> String {
    match s.faults.len() + s.random_faults.len() {
        1 => "1 fault".into(),
        n => format!("{n} faults"),
    }
}

/// A short name for a scenario's policy and its key settings, e.g. "Raft, ReadIndex reads (CP)"
/// or "Leaderless N=3 R=1 W=1 (AP)".
pub fn policy_label(s: &Scenario) -> String {
    match &s.policy {
        PolicySpec::Leaderless(p) => leaderless_label(p),
        PolicySpec::SingleLeader(p) => format!(
            "Single leader, {:?} replication, reads from {:?}",
            p.replication, p.read_from
        ),
        PolicySpec::Raft(p) => match p.read_mode {
            ReadMode::Lease => "Raft, lease reads (CP while clocks behave)".into(),
            mode => format!("Raft, {mode:?} reads (CP)"),
        },
        PolicySpec::EventLog(_) => "Event log (CQRS)".into(),
    }
}

fn leaderless_label(p: &LeaderlessSpec) -> String {
    let n = p.replication_factor;
    let level = |c: Option<Consistency>, fallback: u16, what: &str| match c {
        Some(c) => (c.needed(n), format!("{what}={c:?}")),
        None => (fallback, format!("{what}={fallback}")),
    };
    let (r, rl) = level(p.read_consistency, p.read_quorum, "R");
    let (w, wl) = level(p.write_consistency, p.write_quorum, "W");
    // Overlapping quorums make reads see the latest acknowledged write: consistency first.
    let kind = if r + w > n { "CP-leaning" } else { "AP" };
    format!("Leaderless N={n} {rl} {wl} ({kind})")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::schema::{FaultSpec, ScheduledFault};

    fn scenario(text: &str) -> Scenario {
        crate::scenario::from_str("test", text).unwrap()
    }

    const A: &str = r#"(seed: 11, nodes: (count: 5), policy: Raft(()),
        faults: [(at_ms: 100.0, fault: Partition([["n1", "n2"]]), for_ms: 50.0),
                 (at_ms: 300.0, fault: Crash("n5"))],
        run: (duration_ms: 500.0))"#;
    const B: &str = r#"(seed: 99, nodes: (count: 5),
        policy: Leaderless((replication_factor: 3, read_quorum: 1, write_quorum: 1)),
        faults: [(at_ms: 50.0, fault: Crash("n1"))],
        run: (duration_ms: 700.0))"#;

    #[test]
    fn b_takes_a_seed_and_faults_but_keeps_its_own_policy_and_run() {
        let (a, b) = (scenario(A), scenario(B));
        let m = match_faults(&a, &b).unwrap();
        assert_eq!(m.a, a);
        assert_eq!(m.b.seed, 11);
        assert_eq!(m.b.faults, a.faults);
        assert_eq!(m.b.faults.len(), 2);
        assert_eq!(m.b.random_faults, a.random_faults);
        assert_eq!(m.b.policy, b.policy);
        assert_eq!(m.b.run, b.run);
        assert_eq!(m.b.workload, b.workload);
        assert!(m.notes.iter().any(|n| n.contains("seed 99")));
        assert!(
            m.notes
                .iter()
                .any(|n| n.contains("schedule (1 fault) is replaced by A's (2 faults)"))
        );
    }

    #[test]
    fn running_matched_b_applies_a_faults_at_a_times() {
        let m = match_faults(&scenario(A), &scenario(B)).unwrap();
        let mut sim = crate::sim::Sim::new(&m.b, &crate::engine::Options::default());
        sim.run_to_end();
        let applied: Vec<f64> = sim
            .applied_faults()
            .iter()
            .map(|(t, _)| t.as_ms())
            .collect();
        // The partition, its heal 50 ms later, and the crash; not B's own crash at 50 ms.
        assert_eq!(applied, vec![100.0, 150.0, 300.0]);
        assert!(matches!(
            sim.applied_faults()[2].1,
            crate::engine::Fault::Crash(crate::types::NodeId(4))
        ));
    }

    #[test]
    fn a_fault_naming_a_node_b_lacks_is_an_error_not_a_panic() {
        let mut b = scenario(B);
        b.nodes.count = 3;
        let err = match_faults(&scenario(A), &b).unwrap_err().to_string();
        assert!(err.contains("side B"), "{err}");
        assert!(err.contains("n5"), "{err}");
    }

    #[test]
    fn differing_node_counts_are_said_even_when_the_faults_fit() {
        let mut a = scenario(A);
        a.faults = vec![ScheduledFault {
            at_ms: 10.0,
            fault: FaultSpec::Crash("n1".into()),
            for_ms: None,
            after_same_time: false,
        }];
        let mut b = scenario(B);
        b.nodes.count = 3;
        let m = match_faults(&a, &b).unwrap();
        assert!(m.notes.iter().any(|n| n.contains("A has 5 nodes, B has 3")));
    }

    #[test]
    fn labels_name_the_policy_and_its_cap_side() {
        assert_eq!(policy_label(&scenario(A)), "Raft, ReadIndex reads (CP)");
        assert_eq!(policy_label(&scenario(B)), "Leaderless N=3 R=1 W=1 (AP)");
        let q =
            scenario("(policy: Leaderless((read_consistency: Quorum, write_consistency: Quorum)))");
        assert!(policy_label(&q).ends_with("R=Quorum W=Quorum (CP-leaning)"));
    }
}
