//! Whole runs of the single-leader policy with a controller: what each acknowledgement setting
//! promises about acknowledged writes across a failover, unclean elections, and split brain
//! with and without fencing. Lost writes are read off the history and the replicas' final
//! state, as a lecturer would show them.

mod common;

use capsim::Sim;
use capsim::check::history::EventType;
use capsim::engine::Options;
use capsim::types::{Key, NodeId, OpKind, ValueId};
use common::*;
use std::collections::BTreeMap;

const SEEDS: [u64; 3] = [1, 2, 3];

/// Four nodes, n4 the controller; clients at n1..n3 write until `stop_writes_ms` and read
/// until 4 s; `faults` and `policy` are spliced in.
fn scenario_text(policy: &str, faults: &str, stop_writes_ms: f64) -> String {
    format!(
        r#"(
    nodes: (count: 4),
    network: (latency: Exponential(mean_ms: 5.0)),
    policy: SingleLeader((leader: "n1", read_from: Leader, controller: "n4", {policy})),
    workload: (load: ClosedLoop(clients: 9, think_time_ms: 5.0), keys: Uniform(count: 30),
               timeout_ms: 500.0, client_nodes: ["n1", "n2", "n3"]),
    faults: [{faults} (at_ms: {stop_writes_ms}, fault: Set("workload.mix.write", 0.0))],
    run: (duration_ms: 4000.0, drain_ms: 500.0),
)"#
    )
}

fn run(text: &str, seed: u64) -> Sim {
    let mut s = scenario(text);
    s.seed = seed;
    let mut sim = Sim::new(&s, &Options::default());
    sim.run_to_end();
    sim
}

/// Acknowledged writes that every data node has lost: each one's final value for the key is
/// absent or was written by a write acknowledged before this one was invoked, so this write
/// should have replaced it. (A write overwritten by a concurrent or later write is not counted:
/// nothing can be said about it.)
fn lost_acked_writes(sim: &Sim, data_nodes: &[NodeId]) -> Vec<(Key, ValueId)> {
    let mut open: BTreeMap<u64, (Key, ValueId, u64)> = BTreeMap::new();
    // value -> (key, invoked, acknowledged)
    let mut writes: BTreeMap<ValueId, (Key, u64, Option<u64>)> = BTreeMap::new();
    for e in sim.history() {
        if e.f != OpKind::Write {
            continue;
        }
        match e.kind {
            EventType::Invoke => {
                let v = e.value.expect("a write carries its value");
                open.insert(e.process, (e.key, v, e.time_us));
            }
            kind => {
                if let Some((key, v, invoked)) = open.remove(&e.process) {
                    let acked = (kind == EventType::Ok).then_some(e.time_us);
                    writes.insert(v, (key, invoked, acked));
                }
            }
        }
    }
    let finals: Vec<BTreeMap<Key, Option<ValueId>>> = data_nodes
        .iter()
        .map(|n| sim.stored(*n).iter().map(|s| (s.key, s.value)).collect())
        .collect();
    let proves_lost = |held: Option<ValueId>, invoked: u64| match held {
        None => true,
        Some(v) => writes
            .get(&v)
            .and_then(|w| w.2)
            .is_some_and(|acked| acked < invoked),
    };
    writes
        .iter()
        .filter(|(_, (_, _, acked))| acked.is_some())
        .filter(|(_, (key, invoked, _))| {
            finals
                .iter()
                .all(|f| proves_lost(f.get(key).copied().flatten(), *invoked))
        })
        .map(|(v, (key, _, _))| (*key, *v))
        .collect()
}

const DATA: [NodeId; 3] = [NodeId(0), NodeId(1), NodeId(2)];

/// n1 is cut off from everyone at 1.5 s for 1.5 s; writes stop at 1.7 s (before n1 fences).
fn isolated_leader(policy: &str) -> String {
    let faults = r#"(at_ms: 1500.0, fault: Partition([["n1"]]), for_ms: Some(1500.0)),"#;
    scenario_text(policy, faults, 1700.0)
}

#[test]
fn acks_1_failover_loses_acknowledged_writes() {
    for seed in SEEDS {
        let sim = run(&isolated_leader("replication: Async"), seed);
        let lost = lost_acked_writes(&sim, &DATA);
        assert!(
            !lost.is_empty(),
            "seed {seed}: n1 acked writes nobody else got"
        );
        let r = sim.report(0.0);
        assert_eq!(
            r.divergent_keys_at_end, 0,
            "seed {seed}: converged, without them"
        );
        assert!(r.stale_reads > 0, "seed {seed}: later reads miss them");
    }
}

#[test]
fn acks_all_clean_failover_loses_nothing_acknowledged() {
    for seed in SEEDS {
        let text = isolated_leader("replication: InSync, min_insync_replicas: 2");
        let sim = run(&text, seed);
        assert_eq!(lost_acked_writes(&sim, &DATA), vec![], "seed {seed}");
        let r = sim.report(0.0);
        assert_eq!(r.stale_reads, 0, "seed {seed}");
        assert!(
            r.unknown > 0,
            "seed {seed}: writes n1 could not replicate end as info"
        );
    }
}

/// n3 loses its link to n1 at 1 s (and leaves the ISR); n2 crashes at 2 s, n1 at 2.5 s; writes
/// stop at 2.4 s. Both come back at 3.5 s.
fn only_out_of_sync_replica_survives(unclean: bool) -> String {
    let faults = r#"
        (at_ms: 1000.0, fault: CutLink(a: "n1", b: "n3", one_way: false), for_ms: Some(2500.0)),
        (at_ms: 2000.0, fault: Crash("n2"), for_ms: Some(1500.0)),
        (at_ms: 2500.0, fault: Crash("n1"), for_ms: Some(1000.0)),"#;
    let policy =
        format!("replication: InSync, min_insync_replicas: 1, unclean_election: {unclean}");
    scenario_text(&policy, faults, 2400.0)
}

#[test]
fn unclean_election_loses_acknowledged_writes_even_with_acks_all() {
    for seed in SEEDS {
        let sim = run(&only_out_of_sync_replica_survives(true), seed);
        assert!(
            !lost_acked_writes(&sim, &DATA).is_empty(),
            "seed {seed}: n3 never had what n1 and n2 acknowledged after 1 s"
        );
    }
}

#[test]
fn without_unclean_election_nothing_acknowledged_is_lost_but_there_is_no_leader_for_a_while() {
    for seed in SEEDS {
        let sim = run(&only_out_of_sync_replica_survives(false), seed);
        assert_eq!(lost_acked_writes(&sim, &DATA), vec![], "seed {seed}");
        // Between n1's crash and its return no operation succeeds.
        let ok_while_leaderless = sim
            .history()
            .iter()
            .filter(|e| e.kind == EventType::Ok && (2_600_000..3_400_000).contains(&e.time_us));
        assert_eq!(ok_while_leaderless.count(), 0, "seed {seed}");
        assert_eq!(sim.report(0.0).stale_reads, 0, "seed {seed}");
    }
}

/// n1 loses its link to the controller (only) at 1 s for 1.5 s; writes stop at 2.4 s.
fn cut_from_controller(fencing: bool) -> String {
    let faults = r#"(at_ms: 1000.0, fault: CutLink(a: "n1", b: "n4", one_way: false), for_ms: Some(1500.0)),"#;
    scenario_text(
        &format!("replication: Async, fencing: {fencing}"),
        faults,
        2400.0,
    )
}

/// The most nodes that called themselves leader (and were not fenced) at once, sampled every
/// 5 ms of the run.
fn most_leaders_at_once(text: &str, seed: u64) -> (usize, Sim) {
    let mut s = scenario(text);
    s.seed = seed;
    let mut sim = Sim::new(&s, &Options::default());
    let mut most = 0;
    let mut t = 0.0;
    while !sim.is_done() {
        t += 5.0;
        sim.run_until(ms(t));
        let leaders = sim
            .nodes_info()
            .iter()
            .filter(|n| n.protocol.role == "leader")
            .count();
        most = most.max(leaders);
    }
    (most, sim)
}

#[test]
fn without_fencing_two_leaders_accept_writes_and_the_old_ones_are_lost() {
    for seed in SEEDS {
        let (most, sim) = most_leaders_at_once(&cut_from_controller(false), seed);
        assert_eq!(most, 2, "seed {seed}: split brain");
        assert!(!lost_acked_writes(&sim, &DATA).is_empty(), "seed {seed}");
        let r = sim.report(0.0);
        assert!(r.stale_reads > 0, "seed {seed}");
        assert_eq!(r.failed, 0, "seed {seed}: both sides answer everything");
    }
}

#[test]
fn with_fencing_there_is_one_leader_at_a_time_and_nothing_acknowledged_is_lost() {
    for seed in SEEDS {
        let (most, sim) = most_leaders_at_once(&cut_from_controller(true), seed);
        assert_eq!(most, 1, "seed {seed}");
        assert_eq!(lost_acked_writes(&sim, &DATA), vec![], "seed {seed}");
        let r = sim.report(0.0);
        assert_eq!(r.stale_reads, 0, "seed {seed}");
        assert!(
            r.failed > 0,
            "seed {seed}: n1's clients hear errors while it is fenced"
        );
    }
}

#[test]
fn clients_that_target_the_leader_find_the_new_one_after_a_crash() {
    let text = r#"(
    nodes: (count: 4),
    network: (latency: Exponential(mean_ms: 5.0)),
    policy: SingleLeader((leader: "n1", replication: InSync, controller: "n4")),
    workload: (load: ClosedLoop(clients: 6, think_time_ms: 5.0), keys: Uniform(count: 30),
               timeout_ms: 200.0, target: Leader, client_nodes: ["n1", "n2", "n3"]),
    faults: [(at_ms: 1000.0, fault: Crash("n1"))],
    run: (duration_ms: 3000.0, drain_ms: 500.0),
)"#;
    let sim = run(text, 1);
    let late_ok = sim
        .history()
        .iter()
        .filter(|e| e.kind == EventType::Ok && e.time_us > 2_000_000)
        .count();
    assert!(late_ok > 100, "clients work with the new leader: {late_ok}");
}

#[test]
fn setting_policy_leader_moves_leadership_with_and_without_a_controller() {
    for controller in [r#""n4""#, "None"] {
        let text = format!(
            r#"(
    nodes: (count: 4),
    policy: SingleLeader((leader: "n1", replication: InSync, controller: {controller})),
    workload: (load: ClosedLoop(clients: 6, think_time_ms: 5.0), keys: Uniform(count: 30)),
    faults: [(at_ms: 500.0, fault: Set("policy.leader", "n3"))],
    run: (duration_ms: 1500.0, drain_ms: 200.0),
)"#
        );
        let mut sim = Sim::new(&scenario(&text), &Options::default());
        sim.run_until(ms(490.0));
        assert_eq!(sim.nodes_info()[0].protocol.role, "leader", "{controller}");
        sim.run_until(ms(700.0));
        let roles: Vec<&str> = sim.nodes_info().iter().map(|n| n.protocol.role).collect();
        assert_eq!(roles[2], "leader", "{controller}: {roles:?}");
        assert_eq!(roles[0], "follower", "{controller}: {roles:?}");
        sim.run_to_end();
        let r = sim.report(0.0);
        assert_eq!(r.stale_reads, 0, "{controller}");
        assert_eq!(lost_acked_writes(&sim, &DATA), vec![], "{controller}");
    }
}

#[test]
fn impossible_single_leader_settings_are_refused_with_their_path() {
    for (policy, path) in [
        (r#"leader: "n4", controller: "n4""#, "policy.controller"),
        (r#"controller: "n9""#, "policy.controller"),
        (
            r#"min_insync_replicas: 4, controller: "n4""#,
            "policy.min_insync_replicas",
        ),
        ("min_insync_replicas: 0", "policy.min_insync_replicas"),
        ("fence_timeout_ms: 0.0", "policy.fence_timeout_ms"),
        ("replica_lag_max_ms: -1.0", "policy.replica_lag_max_ms"),
    ] {
        let text = format!("(nodes: (count: 4), policy: SingleLeader(({policy})))");
        let err = capsim::scenario::from_str("t.ron", &text)
            .expect_err(policy)
            .to_string();
        assert!(err.contains(path), "{policy}: {err}");
    }
}
