//! Raft snapshots, log compaction, chunked InstallSnapshot and rebuilds (issue 6, "Snapshots and
//! rebuilds"): the compacted log still matches, a follower behind the compaction point gets the
//! snapshot and converges, a chunked transfer takes bytes / bandwidth, a wiped node rebuilds
//! without losing anything acknowledged, and full replay costs more than snapshot + tail.

mod common;

use capsim::engine::{Engine, Fault, Options};
use capsim::policy::raft::{Raft, Role};
use capsim::scenario::Scenario;
use capsim::sim::Sim;
use capsim::trace::{Stamped, TraceEvent};
use capsim::types::{NodeId, SimTime};
use common::{ms, n, shipped};

/// Three Raft nodes with snapshots every `every` entries, under a steady write load.
fn scenario(every: u64, retain: u64, faults: &str, latency: &str, duration_ms: u64) -> Scenario {
    let text = format!(
        r#"(
            seed: 5,
            nodes: (count: 3),
            network: (latency: {latency}),
            policy: Raft((snapshot: Some((
                every_entries: {every},
                retain_entries: {retain},
                chunk_bytes: 512,
                bandwidth_bytes_per_s: 50000.0,
            )))),
            workload: (
                load: ClosedLoop(clients: 6, think_time_ms: 5.0),
                mix: (read: 0.2, write: 0.8),
                keys: Uniform(count: 100),
                target: Leader,
                timeout_ms: 500.0,
            ),
            faults: [{faults}],
            run: (duration_ms: {duration_ms}.0, drain_ms: 1000.0),
        )"#
    );
    common::scenario(&text)
}

fn install_kind() -> u8 {
    let kinds = capsim::policy::raft::KINDS;
    kinds.iter().position(|k| *k == "install_snapshot").unwrap() as u8
}

fn nodes(e: &Engine<Raft>) -> Vec<&Raft> {
    (0..e.node_count() as u16)
        .map(|i| e.policy(NodeId(i)))
        .collect()
}

/// Every node holds the same value for every key (replicas converged).
fn assert_same_state(e: &Engine<Raft>) {
    let first = e.stored(NodeId(0));
    assert!(!first.is_empty());
    for i in 1..e.node_count() as u16 {
        assert_eq!(e.stored(NodeId(i)), first, "n{} differs from n1", i + 1);
    }
}

fn notes(trace: &[Stamped]) -> Vec<(SimTime, NodeId, String)> {
    trace
        .iter()
        .filter_map(|s| match &s.event {
            TraceEvent::Note { node, text } => Some((s.at, *node, text.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn snapshots_discard_the_prefix_and_logs_still_match() {
    // Keeping 30 entries before the snapshot lets healthy followers a few entries behind catch
    // up from the log (with 0, even they would sometimes need the snapshot).
    let s = scenario(100, 30, "", "Exponential(mean_ms: 2.0)", 1500);
    let mut e: Engine<Raft> = Engine::new(&s, &Options::default());
    e.run_to_end();
    let all = nodes(&e);
    for r in &all {
        let snap = r.snapshot().expect("every node snapshotted");
        // Taken whenever 100 more entries were applied (entries apply in batches, so the
        // index is not a multiple of 100): never more than 100 behind the applied index.
        assert!(snap.index >= 100 && r.applied_index() - snap.index < 100);
        // Discarded through 30 before the snapshot index, and the boundary's term is
        // remembered (one leader, one term: the snapshot's).
        assert_eq!(r.compacted().0, snap.index - 30);
        assert_eq!(r.compacted().1, snap.term);
        assert_eq!(r.log().first_index(), snap.index - 30 + 1);
        assert!(r.applied_index() >= snap.index);
    }
    // Log matching over the entries both still hold.
    for a in &all {
        for b in &all {
            let from = a.log().first_index().max(b.log().first_index());
            let to = a.log().last_index().min(b.log().last_index());
            for i in from..=to {
                let (x, y) = (a.log().get(i), b.log().get(i));
                if x.map(|e| e.term) == y.map(|e| e.term) {
                    assert_eq!(x, y, "log matching at {i}");
                }
            }
        }
    }
    assert_same_state(&e);
    let report = e.report(0.0);
    assert!(
        report.event_log.snapshots_taken.unwrap() >= 3 * (report.writes / 100).saturating_sub(1)
    );
    assert_eq!(report.event_log.rebuilds, Some(0));
}

#[test]
fn a_follower_behind_the_compaction_point_gets_the_snapshot_and_converges() {
    // n3 is cut off for 1.5 s while the others compact: at the heal it needs discarded entries.
    let faults = r#"(at_ms: 300.0, fault: Partition([["n3"]]), for_ms: 1500.0)"#;
    let s = scenario(100, 0, faults, "Exponential(mean_ms: 2.0)", 3000);
    let mut e: Engine<Raft> = Engine::new(&s, &common::recording());
    e.run_to_end();
    let trace = e.tracer_mut().drain();
    let install = install_kind();
    let chunks_to_n3 = trace
        .iter()
        .filter(|s| matches!(s.event, TraceEvent::Deliver { to, kind, .. } if to == n(3) && kind == install))
        .count();
    assert!(
        chunks_to_n3 >= 2,
        "the snapshot went in chunks: {chunks_to_n3}"
    );
    let r3 = e.policy(n(3));
    assert!(r3.snapshot().is_some() && !r3.is_rebuilding());
    let report = e.report(0.0);
    assert!(report.event_log.rebuilds >= Some(1));
    assert_same_state(&e);
    let said = notes(&trace);
    assert!(
        said.iter()
            .any(|(_, node, t)| *node == n(3) && t.contains("installed the snapshot"))
    );
}

#[test]
fn a_chunked_transfer_takes_bytes_over_bandwidth() {
    // Constant 1 ms latency: a chunk's answer is back after 2 ms, well before the link is free
    // again (a 560-byte chunk needs 11.2 ms at 50 kB/s), so chunk k+1 leaves exactly
    // pace(k) after chunk k, and the last one arrives 1 ms after it left.
    let faults = r#"(at_ms: 300.0, fault: Partition([["n3"]]), for_ms: 1500.0)"#;
    let s = scenario(100, 0, faults, "Constant(1.0)", 2500);
    let mut e: Engine<Raft> = Engine::new(&s, &common::recording());
    e.run_to_end();
    let trace = e.tracer_mut().drain();
    let install = install_kind();
    // The first transfer to n3: its chunk sends and deliveries.
    let sends: Vec<SimTime> = trace
        .iter()
        .filter_map(|s| match s.event {
            TraceEvent::Send { to, kind, .. } if to == n(3) && kind == install => Some(s.at),
            _ => None,
        })
        .collect();
    let (said_total, snap_index) = first_snapshot_total(&notes(&trace));
    let chunks = said_total.div_ceil(512);
    assert!(sends.len() as u64 >= chunks, "{} sends", sends.len());
    let first = sends[0];
    let last_send = sends[chunks as usize - 1];
    let wire = said_total + 48 * chunks; // each chunk carries a 48-byte header
    let pace = |bytes: u64| (bytes * 1_000_000).div_ceil(50_000);
    let full_chunks_pace = pace(512 + 48) * (chunks - 1);
    assert_eq!(
        last_send.0 - first.0,
        full_chunks_pace,
        "snapshot {snap_index}"
    );
    // Start of the transfer to the last byte's arrival ≈ wire bytes / bandwidth: it differs
    // by less than one chunk's pace plus the latency.
    let took_us = last_send.0 + 1000 - first.0;
    let ideal_us = wire * 1_000_000 / 50_000;
    assert!(
        took_us.abs_diff(ideal_us) <= pace(512 + 48) + 1000,
        "{took_us} vs {ideal_us}"
    );
}

/// The size and index of the first snapshot a leader sent, from its notes.
fn first_snapshot_total(said: &[(SimTime, NodeId, String)]) -> (u64, u64) {
    let text = said
        .iter()
        .find(|(_, _, t)| t.contains("sent n3 snapshot"))
        .map(|(_, _, t)| t.clone())
        .expect("a snapshot was sent to n3");
    // "n1 sent n3 snapshot 300 bytes 0..512 of 2464 (20%)"
    let words: Vec<&str> = text.split_whitespace().collect();
    let index = words[4].parse().unwrap();
    let total = words[8].parse().unwrap();
    (total, index)
}

#[test]
fn a_wiped_node_rebuilds_and_nothing_acknowledged_is_lost() {
    let s = scenario(100, 50, "", "Exponential(mean_ms: 2.0)", 3000);
    let mut sim = Sim::new(&s, &common::recording());
    sim.run_until(ms(800.0));
    let Sim::Raft(e) = &sim else { unreachable!() };
    let leader = (0..3)
        .map(NodeId)
        .find(|&i| e.policy(i).role() == Role::Leader);
    let leader = leader.expect("a leader by 800 ms");
    let follower = NodeId((leader.0 + 1) % 3);
    // Wipe a follower of the majority, bring it back empty, and crash the leader while the
    // wiped node rebuilds: the wiped node must not help elect anyone who lacks its entries.
    sim.apply(Fault::WipeDisk(follower));
    sim.run_until(ms(1000.0));
    sim.apply(Fault::Restart(follower));
    sim.run_until(ms(1003.0));
    sim.apply(Fault::Crash(leader));
    sim.run_until(ms(1600.0));
    sim.apply(Fault::Restart(leader));
    sim.run_to_end();
    let report = sim.final_report(0.0);
    let said = notes(&sim.drain_trace());
    let refused = |(_, node, t): &&(SimTime, NodeId, String)| {
        *node == follower && t.contains("refused its vote") && t.contains("disk was wiped")
    };
    assert!(
        said.iter().any(|x| refused(&x)),
        "the wiped node refused to vote"
    );
    assert_eq!(report.lost_writes, 0);
    assert_eq!(report.linearizable.as_str(), "true");
    assert_eq!(report.divergent_keys_at_end, 0);
    assert!(
        report.event_log.rebuilds >= Some(1),
        "{:?}",
        report.event_log.rebuilds
    );
    let Sim::Raft(e) = &sim else { unreachable!() };
    assert!(!e.policy(follower).is_rebuilding());
    assert_same_state(e);
}

#[test]
fn full_replay_costs_more_than_snapshot_and_tail() {
    let run = |name: &str| {
        let mut sim = Sim::new(&shipped(name), &Options::default());
        sim.run_to_end();
        sim.final_report(0.0)
    };
    let snap = run("raft-snapshot-rebuild.ron");
    let full = run("raft-full-replay.ron");
    assert_eq!(
        (snap.event_log.rebuilds, full.event_log.rebuilds),
        (Some(1), Some(1))
    );
    assert!(snap.event_log.snapshots_taken > Some(0));
    assert_eq!(full.event_log.snapshots_taken, Some(0));
    let (e_snap, e_full) = (
        snap.event_log.entries_replayed.unwrap(),
        full.event_log.entries_replayed.unwrap(),
    );
    assert!(e_full > 2 * e_snap, "{e_full} vs {e_snap}");
    // Full replay sends every entry once (24 bytes each plus batch headers).
    assert!(full.bytes_transferred.unwrap() >= 24 * e_full);
    assert!(full.bytes_transferred > snap.bytes_transferred);
    assert!(full.event_log.rebuild_ms > snap.event_log.rebuild_ms);
    for r in [&snap, &full] {
        assert_eq!(r.lost_writes, 0);
        assert_eq!(r.divergent_keys_at_end, 0);
    }
}

#[test]
fn snapshot_runs_are_deterministic() {
    for name in [
        "raft-snapshot-rebuild.ron",
        "raft-full-replay.ron",
        "raft-new-node.ron",
    ] {
        let hash = || {
            let mut sim = Sim::new(&shipped(name), &Options::default());
            sim.run_to_end();
            sim.final_report(0.0).trace_hash
        };
        assert_eq!(hash(), hash(), "{name}");
    }
}

#[test]
fn report_fields_are_absent_without_snapshots_or_wipes() {
    let s = common::shipped("raft-partition.ron");
    let mut sim = Sim::new(&s, &Options::default());
    sim.run_to_end();
    let json = sim.final_report(0.0).to_json();
    for f in [
        "snapshots_taken",
        "rebuilds",
        "rebuild_ms",
        "bytes_transferred",
    ] {
        assert!(json.get(f).is_none(), "{f} shown");
    }
}

#[test]
fn a_scheduled_set_takes_a_snapshot_at_that_time() {
    // No automatic snapshots; at 1 s every node snapshots because `every_entries` drops to 1,
    // and at 1.0001 s it goes back to 0.
    let faults = r#"(at_ms: 1000.0, fault: Set("policy.snapshot.every_entries", 1)),
        (at_ms: 1000.1, fault: Set("policy.snapshot.every_entries", 0))"#;
    let s = scenario(0, 0, faults, "Exponential(mean_ms: 2.0)", 2000);
    let mut e: Engine<Raft> = Engine::new(&s, &common::recording());
    e.run_to_end();
    let said = notes(&e.tracer_mut().drain());
    let taken: Vec<SimTime> = said
        .iter()
        .filter(|(_, _, t)| t.contains("took a snapshot"))
        .map(|(at, _, _)| *at)
        .collect();
    let mut by: Vec<NodeId> = said
        .iter()
        .filter(|(_, _, t)| t.contains("took a snapshot"))
        .map(|(_, node, _)| *node)
        .collect();
    by.sort();
    by.dedup();
    assert_eq!(by.len(), 3, "every node snapshotted: {taken:?}");
    assert!(taken.iter().all(|&t| t >= ms(1000.0) && t <= ms(1000.1)));
    assert_eq!(
        e.report(0.0).event_log.snapshots_taken,
        Some(taken.len() as u64)
    );
}

#[test]
fn a_rebuilding_node_serves_nothing_or_stale_reads_if_configured() {
    for (serve, expect_reads) in [("Nothing", false), ("Stale", true)] {
        let text = format!(
            r#"(
                seed: 3,
                nodes: (count: 3),
                network: (latency: Constant(1.0)),
                policy: Raft((snapshot: Some((
                    every_entries: 50,
                    chunk_bytes: 256,
                    bandwidth_bytes_per_s: 10000.0,
                    while_rebuilding: {serve},
                )))),
                workload: (
                    load: OpenLoop(rate_per_sec: 2000.0, clients: 50),
                    keys: Uniform(count: 100),
                    target: Random,
                    timeout_ms: 300.0,
                ),
                faults: [
                    (at_ms: 0.0, fault: WipeDisk("n3")),
                    (at_ms: 1000.0, fault: Restart("n3")),
                ],
                run: (duration_ms: 1500.0),
            )"#
        );
        let s = common::scenario(&text);
        let mut sim = Sim::new(&s, &common::recording());
        // Run to just after the restart, while n3 receives the snapshot (≈ 0.25 s at 10 kB/s).
        sim.run_until(ms(1010.0));
        let Sim::Raft(e) = &sim else { unreachable!() };
        assert!(e.policy(n(3)).is_rebuilding(), "{serve}");
        sim.run_until(ms(1100.0));
        let trace = sim.drain_trace();
        // Operations sent to n3 after its restart that it answered itself with a value.
        let mut at_n3 = std::collections::BTreeSet::new();
        let mut answered_reads = false;
        for s in trace.iter().filter(|s| s.at > ms(1000.0)) {
            match s.event {
                TraceEvent::Invoke { op, node, .. } if node == n(3) => {
                    at_n3.insert(op);
                }
                TraceEvent::Redirect { op, .. } => {
                    at_n3.remove(&op);
                }
                TraceEvent::Complete { op, outcome, .. } if at_n3.contains(&op) => {
                    answered_reads |= outcome == capsim::check::history::EventType::Ok;
                }
                _ => {}
            }
        }
        assert_eq!(answered_reads, expect_reads, "{serve}");
        // Served stale, those reads show up as stale reads; served nothing, none is stale.
        sim.run_to_end();
        let stale = sim.final_report(0.0).stale_reads;
        assert_eq!(stale > 0, expect_reads, "{serve}: {stale} stale reads");
    }
}

#[test]
fn wipes_snapshots_and_random_faults_keep_raft_safe() {
    // Wiped nodes, snapshots every 40 entries (none retained, so InstallSnapshot is frequent),
    // crashes, partitions and loss. Wiping a majority before it rebuilt loses data for real, so
    // only one wipe at a time here; what must hold whatever happens is safety.
    for seed in 1..=6 {
        let text = format!(
            r#"(
                seed: {seed},
                nodes: (count: 5),
                network: (latency: Exponential(mean_ms: 3.0)),
                policy: Raft((snapshot: Some((every_entries: 40, chunk_bytes: 256,
                    bandwidth_bytes_per_s: 30000.0)))),
                workload: (
                    load: ClosedLoop(clients: 6, think_time_ms: 3.0),
                    keys: Uniform(count: 30),
                    target: Random,
                    timeout_ms: 300.0,
                ),
                faults: [
                    (at_ms: 500.0, fault: WipeDisk("n1"), for_ms: 200.0),
                    (at_ms: 2000.0, fault: WipeDisk("n4"), for_ms: 300.0),
                ],
                random_faults: [
                    (kind: Crash, per_second: 0.5, min_ms: 100.0, max_ms: 600.0),
                    (kind: Partition, per_second: 0.5, min_ms: 100.0, max_ms: 800.0),
                    (kind: LossBurst(0.2), per_second: 0.5, min_ms: 50.0, max_ms: 300.0),
                ],
                run: (duration_ms: 3500.0, drain_ms: 3000.0),
            )"#
        );
        let mut sim = Sim::new(&common::scenario(&text), &Options::default());
        sim.run_to_end();
        let r = sim.final_report(0.0);
        assert_eq!(r.linearizable.as_str(), "true", "seed {seed}");
        let v = &r.violations;
        let broken = v.log_matching + v.state_machine_safety + v.election_safety;
        assert_eq!(broken + r.stale_reads, 0, "seed {seed}");
        assert!(r.event_log.snapshots_taken > Some(0), "seed {seed}");
    }
}

#[test]
fn bad_snapshot_settings_are_refused_with_their_path() {
    for (field, value, path) in [
        ("chunk_bytes", "0", "policy.snapshot.chunk_bytes"),
        (
            "bandwidth_bytes_per_s",
            "0.0",
            "policy.snapshot.bandwidth_bytes_per_s",
        ),
    ] {
        let text = format!(
            "(nodes: (count: 3), policy: Raft((snapshot: Some(({field}: {value})))), \
             run: (duration_ms: 100.0))"
        );
        let err = capsim::scenario::from_str("t.ron", &text).expect_err(field);
        assert!(err.to_string().contains(path), "{err}");
    }
    let text = r#"(nodes: (count: 3), policy: Raft(()), faults: [(at_ms: 1.0, fault: WipeDisk("n9"))],
        run: (duration_ms: 100.0))"#;
    let err = capsim::scenario::from_str("t.ron", text).expect_err("no n9");
    assert!(err.to_string().contains("n9"), "{err}");
}
