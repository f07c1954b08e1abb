//! More properties over many seeds (issue 5): leaderless majority quorums with blocking read repair
//! stay linearizable under random faults, and the weaker settings of the shipped lessons each show
//! their anomaly within 50 seeds. Runs are cut short so the file stays fast in a debug build.

mod common;

use capsim::check::report::{Linearizable, Report};
use capsim::scenario::Scenario;
use capsim::sweep::{SeedOutcome, run_seed, run_seeds, with_random_faults};
use common::*;

fn describe(o: &SeedOutcome) -> String {
    format!(
        "seed {}: linearizable {}, stale reads {}, lost writes {}, violations {:?}, examples {:#?}",
        o.seed,
        o.report.linearizable.as_str(),
        o.report.stale_reads,
        o.report.lost_writes,
        o.report.violations,
        o.examples
    )
}

/// Dynamo quorums with every safety option on: R = W = QUORUM of N = 3 on five nodes, blocking
/// read repair, no clock skew, no sloppy quorum or hints. Clients talk to random nodes.
const MAJORITY_WITH_READ_REPAIR: &str = r#"(
    nodes: (count: 5),
    network: (latency: Exponential(mean_ms: 5.0)),
    policy: Leaderless((replication_factor: 3, read_consistency: Quorum,
                        write_consistency: Quorum, read_repair: true,
                        request_timeout_ms: 200.0)),
    workload: (load: ClosedLoop(clients: 10, think_time_ms: 1.0), keys: Uniform(count: 5),
               mix: (read: 0.5, write: 0.4, delete: 0.1), target: Random, timeout_ms: 200.0),
    run: (duration_ms: 1500.0, drain_ms: 1000.0),
)"#;

#[test]
fn majority_quorums_with_blocking_read_repair_are_linearizable_under_random_faults() {
    let seeds = 40;
    let outcomes = run_seeds(
        &with_random_faults(&scenario(MAJORITY_WITH_READ_REPAIR)),
        1,
        seeds,
    );
    for o in &outcomes {
        assert_eq!(o.report.linearizable, Linearizable::Yes, "{}", describe(o));
        assert_eq!(o.report.stale_reads, 0, "{}", describe(o));
        assert_eq!(o.report.violations.total(), 0, "{}", describe(o));
    }
    let ok: u64 = outcomes.iter().map(|o| o.report.ok).sum();
    assert!(
        ok >= 100 * seeds,
        "enough load to matter: {ok} ok operations"
    );
    // The faults really disturbed most runs: operations failed or timed out, messages were lost.
    let hit = |r: &Report| r.failed + r.unknown > 0 && r.messages_dropped > 0;
    let disturbed = outcomes.iter().filter(|o| hit(&o.report)).count();
    assert!(
        disturbed * 2 >= outcomes.len(),
        "faults hit {disturbed} runs"
    );
}

/// A shipped lesson with its own scheduled faults, run for `duration_ms` (long enough for the
/// faults to play out) and at most half a second of draining.
fn cut(file: &str, duration_ms: f64) -> Scenario {
    let mut s = shipped(file);
    s.run.duration_ms = Some(duration_ms);
    s.run.ops = None;
    s.run.drain_ms = s.run.drain_ms.min(500.0);
    s
}

/// The first seed in 1..=50 where `anomaly` holds.
fn first_seed_showing(s: &Scenario, anomaly: impl Fn(&Report) -> bool) -> Option<SeedOutcome> {
    (1..=50)
        .map(|seed| run_seed(s, seed))
        .find(|o| anomaly(&o.report))
}

#[test]
fn lease_reads_past_the_drift_bound_are_stale_within_50_seeds() {
    // The slow clock and the partition hit n1 at 2 s; the lesson shows only on seeds where n1
    // leads then, which is why a sweep rather than one seed is the honest test.
    let s = cut("raft-lease-stale.ron", 3000.0);
    let o = first_seed_showing(&s, |r| r.stale_reads > 0);
    let o = o.expect("stale lease reads within 50 seeds");
    assert_eq!(o.report.linearizable, Linearizable::No, "{}", describe(&o));
    // The same faults with ReadIndex reads (a quorum round per read) never return stale data.
    let safe = cut("raft-readindex.ron", 3000.0);
    for seed in 1..=10 {
        let o = run_seed(&safe, seed);
        assert_eq!(o.report.stale_reads, 0, "{}", describe(&o));
    }
}

#[test]
fn unclean_election_loses_acknowledged_writes_within_50_seeds() {
    let s = cut("unclean-election.ron", 4000.0);
    let o = first_seed_showing(&s, |r| {
        r.lost_writes > 0 || r.linearizable == Linearizable::No
    });
    let o = o.expect("an anomaly within 50 seeds");
    assert!(
        o.report.stale_reads + o.report.lost_writes > 0,
        "{}",
        describe(&o)
    );
}

#[test]
fn acks1_failover_loses_acknowledged_writes_within_50_seeds() {
    let s = cut("acks1-failover.ron", 3500.0);
    let o = first_seed_showing(&s, |r| r.linearizable == Linearizable::No);
    let o = o.expect("a non-linearizable run within 50 seeds");
    // Evidence of the lost writes: a later read returned an older value, or the checker found an
    // acknowledged write that no replica holds.
    assert!(
        o.report.stale_reads + o.report.lost_writes > 0,
        "{}",
        describe(&o)
    );
}

#[test]
fn consistency_one_under_faults_reads_stale_within_50_seeds() {
    for (file, until_ms) in [
        ("quorum-partition-one.ron", 3000.0),
        ("one-stale.ron", 4500.0),
    ] {
        let s = cut(file, until_ms);
        let o = first_seed_showing(&s, |r| r.stale_reads > 0);
        let o = o.unwrap_or_else(|| panic!("{file}: stale reads within 50 seeds"));
        assert_eq!(
            o.report.linearizable,
            Linearizable::No,
            "{file} {}",
            describe(&o)
        );
    }
}
