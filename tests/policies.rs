//! What each policy promises about stale reads, over several seeds: quorums with R + W > N and
//! single-leader reads from the leader or from synchronous followers never return stale data;
//! R = W = 1 and asynchronous follower reads do, under load.

mod common;

use capsim::check::report::Report;
use common::*;

const SEEDS: [u64; 4] = [1, 2, 3, 4];

fn run(text: &str, seed: u64) -> Report {
    let mut s = scenario(text);
    s.seed = seed;
    let report = capsim::sim::run(&s);
    assert!(report.ok > 500, "enough load to matter: {report:?}");
    report
}

fn single_leader(replication: &str, read_from: &str) -> String {
    format!(
        r#"(
    nodes: (count: 3),
    network: (latency: Exponential(mean_ms: 5.0)),
    policy: SingleLeader((leader: "n1", replication: {replication}, read_from: {read_from})),
    workload: (load: ClosedLoop(clients: 9, think_time_ms: 1.0), keys: Uniform(count: 10),
               timeout_ms: 500.0),
    run: (duration_ms: 2000.0),
)"#
    )
}

fn leaderless(r: u16, w: u16, loss: f64) -> String {
    format!(
        r#"(
    nodes: (count: 5),
    network: (latency: Exponential(mean_ms: 5.0), loss: {loss}),
    policy: Leaderless((replication_factor: 3, read_quorum: {r}, write_quorum: {w},
                        request_timeout_ms: 200.0)),
    workload: (load: ClosedLoop(clients: 10, think_time_ms: 1.0), keys: Uniform(count: 10),
               timeout_ms: 200.0),
    run: (duration_ms: 2000.0),
)"#
    )
}

#[test]
fn async_follower_reads_are_stale_under_load() {
    for seed in SEEDS {
        let r = run(&single_leader("Async", "AnyReplica"), seed);
        assert!(r.stale_reads > 0, "seed {seed}");
        assert!(r.max_replication_lag_ms > 0.0);
    }
}

#[test]
fn sync_follower_reads_are_never_stale() {
    for seed in SEEDS {
        let r = run(&single_leader("Sync", "AnyReplica"), seed);
        assert_eq!(r.stale_reads, 0, "seed {seed}");
        // The leader acks only once every follower applied: no acked write is ever missing.
        assert_eq!(r.max_replication_lag_ms, 0.0, "seed {seed}");
    }
}

#[test]
fn leader_reads_are_never_stale() {
    for replication in ["Async", "Sync"] {
        for seed in SEEDS {
            let r = run(&single_leader(replication, "Leader"), seed);
            assert_eq!(r.stale_reads, 0, "{replication} seed {seed}");
        }
    }
}

#[test]
fn overlapping_quorums_never_read_stale() {
    for (r, w) in [(2, 2), (1, 3), (3, 1)] {
        for seed in SEEDS {
            let report = run(&leaderless(r, w, 0.0), seed);
            assert_eq!(report.stale_reads, 0, "R={r} W={w} seed {seed}");
        }
    }
    // Lost messages make operations time out, but never make a quorum read stale.
    for seed in SEEDS {
        let report = run(&leaderless(2, 2, 0.05), seed);
        assert!(report.unknown + report.failed > 0);
        assert_eq!(report.stale_reads, 0, "lossy seed {seed}");
    }
}

#[test]
fn single_replica_quorums_read_stale_under_load() {
    for seed in SEEDS {
        let r = run(&leaderless(1, 1, 0.0), seed);
        assert!(r.stale_reads > 0, "seed {seed}");
        assert_eq!(r.availability, 1.0, "no faults: everything answers");
    }
}

#[test]
fn replicas_converge_once_the_network_is_quiet() {
    for seed in SEEDS {
        for text in [leaderless(2, 2, 0.0), single_leader("Async", "AnyReplica")] {
            let r = run(&text, seed);
            assert!(
                r.max_divergent_keys > 0,
                "replicas differ while writes spread"
            );
            assert_eq!(r.divergent_keys_at_end, 0, "seed {seed}");
        }
    }
}
