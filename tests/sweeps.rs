//! Properties over many seeds, with the default random faults (crashes, partitions, loss bursts):
//! what each policy promises holds on every seed, and each weaker setting shows its anomaly within
//! 50 seeds. Runs are kept short (about a second of simulated time) so the file stays fast.

mod common;

use capsim::check::report::{Linearizable, Report};
use capsim::check::violations::ViolationKind;
use capsim::scenario::Scenario;
use capsim::sweep::{SeedOutcome, run_seed, run_seeds, with_random_faults};
use common::*;

/// Shortens a scenario for a test: `duration_ms` of workload and at most a second of draining.
fn short(mut s: Scenario, duration_ms: f64) -> Scenario {
    s.run.duration_ms = Some(duration_ms);
    s.run.ops = None;
    s.run.drain_ms = s.run.drain_ms.min(1000.0);
    s
}

fn describe(o: &SeedOutcome) -> String {
    format!(
        "seed {}: linearizable {}, violations {:?}, examples {:#?}",
        o.seed,
        o.report.linearizable.as_str(),
        o.report.violations,
        o.examples
    )
}

/// The faults really happened: some operation failed or timed out, some message was dropped.
fn assert_faults_bit(outcomes: &[SeedOutcome]) {
    let hit = |r: &Report| r.failed + r.unknown > 0 && r.messages_dropped > 0;
    let seeds_hit = outcomes.iter().filter(|o| hit(&o.report)).count();
    assert!(
        seeds_hit * 2 >= outcomes.len(),
        "faults disturbed only {seeds_hit} of {} runs",
        outcomes.len()
    );
}

/// Runs `seeds` seeds of `scenario` with random faults and asserts that no run has any violation
/// and every run's history was checked and found linearizable.
///
/// RAFT: this is the helper for the Raft policy's safety sweep. Once the Raft policy lands, add
/// `raft_is_linearizable_under_random_faults` below: build a Raft scenario (e.g. from
/// `scenarios/raft-*.ron` through `short`), and call `assert_clean_over_seeds(&s, 1, 40)`. The
/// engine counts election safety from `Note::BecameLeader`; log matching, leader completeness and
/// state machine safety count when the policy emits `Effect::Violation`.
fn assert_clean_over_seeds(scenario: &Scenario, first: u64, seeds: u64) -> Vec<SeedOutcome> {
    let outcomes = run_seeds(&with_random_faults(scenario), first, seeds);
    for o in &outcomes {
        assert_eq!(o.report.linearizable, Linearizable::Yes, "{}", describe(o));
        assert_eq!(o.report.violations.total(), 0, "{}", describe(o));
    }
    let ok: u64 = outcomes.iter().map(|o| o.report.ok).sum();
    assert!(
        ok >= 100 * seeds,
        "enough load to matter: {ok} ok operations"
    );
    assert_faults_bit(&outcomes);
    outcomes
}

const SINGLE_LEADER_SYNC: &str = r#"(
    nodes: (count: 3),
    network: (latency: Exponential(mean_ms: 5.0)),
    policy: SingleLeader((leader: "n1", replication: Sync, read_from: Leader)),
    workload: (load: ClosedLoop(clients: 9, think_time_ms: 1.0), keys: Uniform(count: 5),
               mix: (read: 0.5, write: 0.4, delete: 0.1), timeout_ms: 300.0),
    run: (duration_ms: 2000.0, drain_ms: 1000.0),
)"#;

#[test]
fn single_leader_with_sync_replication_and_leader_reads_is_linearizable_under_faults() {
    assert_clean_over_seeds(&scenario(SINGLE_LEADER_SYNC), 1, 150);
}

const MAJORITY_QUORUMS: &str = r#"(
    nodes: (count: 5),
    network: (latency: Exponential(mean_ms: 5.0)),
    policy: Leaderless((replication_factor: 3, read_quorum: 2, write_quorum: 2,
                        request_timeout_ms: 200.0)),
    workload: (load: ClosedLoop(clients: 10, think_time_ms: 1.0), keys: Uniform(count: 5),
               target: Random, timeout_ms: 200.0),
    run: (duration_ms: 1500.0, drain_ms: 1000.0),
)"#;

#[test]
fn majority_quorums_without_read_repair_are_never_stale_but_not_linearizable() {
    let outcomes = run_seeds(&with_random_faults(&scenario(MAJORITY_QUORUMS)), 1, 40);
    for o in &outcomes {
        assert_eq!(o.report.violations.stale_read, 0, "{}", describe(o));
        assert_eq!(o.report.violations.lost_write, 0, "{}", describe(o));
        assert_ne!(o.report.linearizable, Linearizable::NotChecked);
    }
    assert_faults_bit(&outcomes);
    // A read that meets a write still in progress on one replica returns it; a later read whose
    // quorum misses that replica returns the older value. Neither read is stale, yet no order of
    // the operations explains both.
    let found = outcomes
        .iter()
        .find(|o| o.report.linearizable == Linearizable::No)
        .expect("some seed is not linearizable");
    assert!(found.report.violations.linearizability > 0);
    assert!(
        found
            .examples
            .iter()
            .any(|(k, e)| *k == ViolationKind::Linearizability && e.contains("k")),
        "{}",
        describe(found)
    );
}

/// The first seed in 1..=50 of a shipped scenario (cut to one second) where `anomaly` holds.
fn first_seed_showing(file: &str, anomaly: impl Fn(&Report) -> bool) -> Option<SeedOutcome> {
    let s = short(shipped(file), 1000.0);
    (1..=50)
        .map(|seed| run_seed(&s, seed))
        .find(|o| anomaly(&o.report))
}

#[test]
fn async_follower_reads_show_their_anomaly_within_50_seeds() {
    let o = first_seed_showing("async-follower-stale.ron", |r| {
        r.linearizable == Linearizable::No && r.violations.stale_read > 0
    });
    let o = o.expect("an anomaly within 50 seeds");
    // Reading from a follower right after your own write misses it.
    assert!(o.report.violations.read_your_writes > 0, "{}", describe(&o));
}

#[test]
fn partial_quorums_show_their_anomaly_within_50_seeds() {
    let o = first_seed_showing("quorum-r1w1-stale.ron", |r| {
        r.linearizable == Linearizable::No && r.violations.stale_read > 0
    });
    let o = o.expect("an anomaly within 50 seeds");
    assert!(o.report.violations.monotonic_reads > 0, "{}", describe(&o));
}

#[test]
fn last_write_wins_under_clock_skew_loses_acknowledged_writes_within_50_seeds() {
    let o = first_seed_showing("lww-clock-skew.ron", |r| {
        r.linearizable == Linearizable::No && r.lost_writes > 0
    });
    let o = o.expect("a lost write within 50 seeds");
    assert_eq!(o.report.violations.lost_write, o.report.lost_writes);
    let example = o.examples.iter().find(|e| e.0 == ViolationKind::LostWrite);
    assert!(
        example.is_some_and(|e| e.1.contains("is gone")),
        "{}",
        describe(&o)
    );
    // Without skew the same cluster keeps every write.
    let fair = short(shipped("lww-no-skew.ron"), 1000.0);
    for seed in 1..=20 {
        let o = run_seed(&fair, seed);
        assert_eq!(o.report.linearizable, Linearizable::Yes, "{}", describe(&o));
        assert_eq!(o.report.violations.total(), 0, "{}", describe(&o));
    }
}

#[test]
fn a_sweep_gives_the_same_outcomes_as_single_runs() {
    let s = short(shipped("quorum-r1w1-stale.ron"), 300.0);
    let swept = run_seeds(&s, 7, 4);
    assert_eq!(
        swept.iter().map(|o| o.seed).collect::<Vec<_>>(),
        [7, 8, 9, 10]
    );
    for o in &swept {
        let mut one = s.clone();
        one.seed = o.seed;
        assert_eq!(o.report, capsim::sim::run(&one), "seed {}", o.seed);
    }
}

/// R = W = 1 on three nodes, clients on every node, n1 cut off from 200 ms for `for_ms`.
fn partitioned(for_ms: f64) -> Scenario {
    scenario(&format!(
        r#"(
    nodes: (count: 3),
    network: (latency: Exponential(mean_ms: 2.0)),
    policy: Leaderless((replication_factor: 3, read_quorum: 1, write_quorum: 1)),
    workload: (load: ClosedLoop(clients: 6, think_time_ms: 5.0), keys: Uniform(count: 2),
               timeout_ms: 200.0),
    faults: [(at_ms: 200.0, fault: Partition([["n1"]]), for_ms: {for_ms})],
    run: (duration_ms: 1000.0, drain_ms: 3000.0),
)"#
    ))
}

#[test]
fn convergence_is_timed_from_the_last_heal() {
    // Healed at 500 ms while writes go on: every key is written again everywhere afterwards, so
    // the replicas agree again some time after the heal and before the run ends.
    let r = capsim::sim::run(&partitioned(300.0));
    assert_eq!(r.divergent_keys_at_end, 0, "{r:?}");
    assert!(r.max_divergent_keys > 0);
    assert!(r.converged_after_ms > 0.0 && r.converged_after_ms <= r.sim_time_ms - 500.0);
    // Healed only after the workload stopped: with no repair, n1 never gets what it missed.
    let r = capsim::sim::run(&partitioned(2000.0));
    assert!(r.divergent_keys_at_end > 0, "{r:?}");
    assert_eq!(r.converged_after_ms, -1.0);
}

#[test]
fn every_anomaly_the_history_proves_is_also_a_linearizability_violation() {
    // Stale, session and resurrected reads are all impossible in a linearizable history, so the
    // independent linearizability checker must agree wherever they are counted.
    let history_kinds = [
        ViolationKind::StaleRead,
        ViolationKind::ReadYourWrites,
        ViolationKind::MonotonicReads,
        ViolationKind::MonotonicWrites,
        ViolationKind::WritesFollowReads,
        ViolationKind::Resurrected,
    ];
    let mut anomalies = 0;
    for file in [
        "pbs-probe.ron",
        "quorum-r1w1-stale.ron",
        "quorum-r2w2-fresh.ron",
    ] {
        let mut s = short(shipped(file), 800.0);
        s.workload.mix.delete = 0.15;
        for o in run_seeds(&with_random_faults(&s), 1, 10) {
            let found: u64 = history_kinds
                .iter()
                .map(|k| o.report.violations.get(*k))
                .sum();
            if found > 0 {
                anomalies += 1;
                assert_eq!(
                    o.report.linearizable,
                    Linearizable::No,
                    "{file} {}",
                    describe(&o)
                );
            }
        }
    }
    assert!(anomalies > 5, "the weaker settings showed anomalies");
}
