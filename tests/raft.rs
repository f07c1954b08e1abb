//! Raft in the simulator: safety under random faults (election safety, log matching, state
//! machine safety, no stale reads), the CP behaviour of a minority, and lease reads that go
//! stale when the leader's clock drifts.

use capsim::engine::{Engine, Fault, Options};
use capsim::policy::raft::{Raft, Role};
use capsim::scenario::Scenario;
use capsim::types::{NodeId, SimTime};
use std::collections::BTreeMap;

fn scenario(
    nodes: u16,
    read_mode: &str,
    seed: u64,
    random_faults: &str,
    duration_ms: u64,
) -> Scenario {
    let text = format!(
        r#"(
            seed: {seed},
            nodes: (count: {nodes}),
            network: (latency: Exponential(mean_ms: 3.0)),
            policy: Raft((read_mode: {read_mode})),
            workload: (
                load: ClosedLoop(clients: 6, think_time_ms: 5.0),
                keys: Uniform(count: 4),
                timeout_ms: 300.0,
            ),
            random_faults: [{random_faults}],
            run: (duration_ms: {duration_ms}.0, drain_ms: 1000.0),
        )"#
    );
    capsim::scenario::from_str("test", &text).expect("valid scenario")
}

const CHAOS: &str = "
    (kind: Crash, per_second: 1.0, min_ms: 50.0, max_ms: 600.0),
    (kind: Pause, per_second: 0.5, min_ms: 50.0, max_ms: 400.0),
    (kind: Partition, per_second: 1.0, min_ms: 100.0, max_ms: 800.0),
    (kind: CutLink, per_second: 1.0, min_ms: 100.0, max_ms: 800.0),
    (kind: LossBurst(0.3), per_second: 0.5, min_ms: 50.0, max_ms: 300.0),
";

fn engine(s: &Scenario) -> Engine<Raft> {
    Engine::new(s, &Options::default())
}

fn nodes(e: &Engine<Raft>) -> impl Iterator<Item = &Raft> {
    (0..e.node_count() as u16).map(|i| e.policy(NodeId(i)))
}

/// Runs to the end, checking after every event that no term ever has two leaders.
fn run_checking_election_safety(e: &mut Engine<Raft>) -> BTreeMap<u64, NodeId> {
    let mut leaders: BTreeMap<u64, NodeId> = BTreeMap::new();
    while e.step() {
        for (i, r) in nodes(e).enumerate() {
            if r.role() == Role::Leader {
                let first = *leaders.entry(r.term()).or_insert(NodeId(i as u16));
                assert_eq!(first, NodeId(i as u16), "two leaders in term {}", r.term());
            }
        }
    }
    leaders
}

/// Log Matching: if two logs hold an entry with the same index and term, they are identical up
/// to it. State Machine Safety: committed prefixes agree.
fn check_logs(e: &Engine<Raft>) {
    let all: Vec<&Raft> = nodes(e).collect();
    for a in &all {
        for b in &all {
            let common = a.log().last_index().min(b.log().last_index());
            let same_term = (1..=common)
                .rev()
                .find(|&i| a.log().get(i).map(|x| x.term) == b.log().get(i).map(|x| x.term));
            if let Some(upto) = same_term {
                for i in 1..=upto {
                    assert_eq!(a.log().get(i), b.log().get(i), "log matching at {i}");
                }
            }
            let committed = a.commit_index().min(b.commit_index());
            for i in 1..=committed {
                assert_eq!(
                    a.log().get(i),
                    b.log().get(i),
                    "committed entry {i} differs"
                );
            }
        }
    }
}

#[test]
fn safety_under_random_faults_with_read_index_and_log_reads() {
    let mut elections = 0;
    for (mode, seeds) in [("ReadIndex", 1..=10), ("Log", 11..=20)] {
        for seed in seeds {
            let s = scenario(5, mode, seed, CHAOS, 3000);
            let mut e = engine(&s);
            let leaders = run_checking_election_safety(&mut e);
            check_logs(&e);
            let r = e.report(0.0);
            assert_eq!(r.stale_reads, 0, "{mode} seed {seed}");
            assert!(r.ok > 0, "{mode} seed {seed}: something succeeded");
            assert_eq!(
                r.leader_elections as usize,
                leaders.len(),
                "one note per leader"
            );
            elections += leaders.len();
        }
    }
    assert!(
        elections > 40,
        "the faults forced many elections: {elections}"
    );
}

fn leader_of(e: &Engine<Raft>) -> Option<NodeId> {
    (0..e.node_count() as u16)
        .map(NodeId)
        .find(|&n| e.policy(n).role() == Role::Leader)
}

fn run_until_leader(e: &mut Engine<Raft>) -> NodeId {
    while leader_of(e).is_none() {
        assert!(e.step(), "a leader is elected");
    }
    leader_of(e).unwrap_or(NodeId(0))
}

#[test]
fn minority_side_cannot_elect_or_commit() {
    let mut e = engine(&scenario(5, "ReadIndex", 4, "", 4000));
    e.run_until(SimTime(500_000));
    let old = run_until_leader(&mut e);
    let buddy = NodeId((old.0 + 1) % 5);
    e.apply(Fault::Partition(vec![vec![old, buddy]]));
    // Entries already on a majority may still commit with acks from the minority side; nothing
    // appended after the partition can.
    let bound = e.policy(old).log().last_index();
    let majority: Vec<NodeId> = (0..5)
        .map(NodeId)
        .filter(|n| *n != old && *n != buddy)
        .collect();
    let before = e.policy(majority[0]).commit_index();
    e.run_until(SimTime(2_500_000));
    for n in [old, buddy] {
        assert!(
            e.policy(n).commit_index() <= bound,
            "{n} committed nothing new"
        );
        assert_ne!(
            e.policy(n).role(),
            Role::Leader,
            "{n} does not lead a minority"
        );
    }
    let new = leader_of(&e).expect("the majority elected a leader");
    assert!(majority.contains(&new));
    assert!(
        e.policy(new).commit_index() > before + 10,
        "the majority keeps committing"
    );
}

#[test]
fn crash_and_restart_keep_term_vote_and_log() {
    let mut e = engine(&scenario(3, "ReadIndex", 5, "", 2000));
    e.run_until(SimTime(1_000_000));
    let n = NodeId(1);
    let (term, vote, log) = {
        let r = e.policy(n);
        (r.term(), r.voted_for(), r.log().clone())
    };
    assert!(log.last_index() > 10);
    e.apply(Fault::Crash(n));
    let r = e.policy(n);
    assert_eq!((r.term(), r.voted_for(), r.log()), (term, vote, &log));
    assert_eq!((r.role(), r.leader()), (Role::Follower, None));
    e.apply(Fault::Restart(n));
    e.run_until(SimTime(1_500_000));
    let r = e.policy(n);
    assert!(r.term() >= term);
    assert!(
        r.log().last_index() > log.last_index(),
        "it catches up after the restart"
    );
}

/// Partitions the leader away right after slowing its clock to a quarter of its speed (if
/// `drift`): its 120 ms lease then lasts 480 ms of real time, longer than the others can wait
/// (at most the 300 ms election timeout) before electing a new leader, so clients next to it read
/// stale values. Returns the stale reads.
fn lease_run(seed: u64, drift: bool) -> u64 {
    let mut e = engine(&scenario(3, "Lease", seed, "", 3000));
    e.run_until(SimTime(800_000));
    let old = run_until_leader(&mut e);
    if drift {
        e.apply(Fault::ClockDrift {
            node: old,
            drift_ppm: -750_000,
        });
    }
    e.apply_for(Fault::Partition(vec![vec![old]]), 1_000_000);
    e.run_to_end();
    e.report(0.0).stale_reads
}

#[test]
fn lease_reads_go_stale_when_the_leader_clock_drifts() {
    let stale: Vec<u64> = (1..=10).map(|s| lease_run(s, true)).collect();
    assert!(
        stale.iter().any(|&n| n > 0),
        "some seed reads stale data: {stale:?}"
    );
    let good: Vec<u64> = (1..=10).map(|s| lease_run(s, false)).collect();
    assert!(
        good.iter().all(|&n| n == 0),
        "with good clocks leases are safe: {good:?}"
    );
}

#[test]
fn same_seed_same_trace() {
    let s = scenario(5, "ReadIndex", 9, CHAOS, 1500);
    let mut a = engine(&s);
    let mut b = engine(&s);
    a.run_to_end();
    b.run_to_end();
    assert_eq!(a.trace_hash(), b.trace_hash());
    assert!(a.trace_events() > 1000);
}

#[test]
fn raft_settings_are_validated_with_field_paths() {
    let bad = [
        ("heartbeat_ms: 200.0", "policy.heartbeat_ms"),
        (
            "election_timeout_max_ms: 100.0",
            "policy.election_timeout_max_ms",
        ),
        ("lease_ms: 151.0", "policy.lease_ms"),
        (
            "read_mode: Lease, check_quorum: false",
            "policy.check_quorum",
        ),
        ("max_batch: 0", "policy.max_batch"),
        ("request_timeout_ms: 0.0", "policy.request_timeout_ms"),
    ];
    for (fields, path) in bad {
        let text = format!("(policy: Raft(({fields})))");
        let err = capsim::scenario::from_str("t.ron", &text)
            .expect_err(fields)
            .to_string();
        assert!(err.contains(path), "{fields}: {err}");
    }
    let text = "(policy: Raft(()), network: (kinds: {\"heartbeat\": (loss: Some(0.5))}))";
    let s = capsim::scenario::from_str("t.ron", text).expect("defaults and kind names are valid");
    let capsim::scenario::schema::PolicySpec::Raft(r) = &s.policy else {
        panic!("a Raft policy")
    };
    assert!(r.heartbeat_ms < r.election_timeout_min_ms && r.lease_ms <= r.election_timeout_min_ms);
    let err = capsim::scenario::from_str("t.ron", "(policy: Raft((heartbeat: 5.0)))");
    assert!(err.is_err(), "unknown fields are refused");
}
