//! The leaderless lessons' claims hold for other seeds too, not only the shipped one.

use super::common::shipped;
use capsim::check::report::Report;

fn run(name: &str, seed: u64) -> Report {
    let mut s = shipped(name);
    s.seed = seed;
    let mut sim = capsim::Sim::new(&s, &capsim::engine::Options::default());
    sim.run_to_end();
    sim.final_report(0.0)
}

const SEEDS: [u64; 3] = [11, 12, 13];

#[test]
fn quorum_is_never_stale_and_one_is_under_the_same_crashes() {
    for seed in SEEDS {
        let quorum = run("quorum-vs-one.ron", seed);
        let one = run("one-stale.ron", seed);
        let unavailable = |r: &Report| r.leaderless.as_ref().map_or(0, |l| l.unavailable);
        assert_eq!(quorum.stale_reads, 0, "seed {seed}");
        assert!(unavailable(&quorum) > 0, "seed {seed}");
        assert_eq!(unavailable(&one), 0, "seed {seed}");
        assert!(one.availability > quorum.availability, "seed {seed}");
    }
}

#[test]
fn deleted_data_comes_back_only_when_repair_is_later_than_gc_grace() {
    for seed in SEEDS {
        let zombie = run("tombstone-resurrection.ron", seed);
        let twin = run("tombstone-repair-in-time.ron", seed);
        assert!(zombie.resurrected > 0, "seed {seed}");
        assert_eq!(twin.resurrected, 0, "seed {seed}");
    }
}

#[test]
fn read_repair_drains_divergence_that_stays_without_it() {
    for seed in SEEDS {
        let on = run("read-repair.ron", seed);
        let off = run("read-repair-off.ron", seed);
        assert_eq!(on.divergent_keys_at_end, 0, "seed {seed}");
        assert!(off.divergent_keys_at_end > 0, "seed {seed}");
    }
}

#[test]
fn sloppy_quorum_hands_every_hint_over() {
    for seed in SEEDS {
        let r = run("sloppy-hinted-handoff.ron", seed);
        let l = r.leaderless.expect("a leaderless report");
        assert!(
            l.hints_replayed >= l.hints_stored && l.hints_stored > 0,
            "{l:?}"
        );
        assert_eq!(r.divergent_keys_at_end, 0, "seed {seed}");
    }
}

#[test]
fn union_merges_resurrect_removed_items_and_observed_remove_merges_never_do() {
    for seed in SEEDS {
        let union = run("cart-siblings.ron", seed)
            .leaderless
            .expect("leaderless");
        let or_set = run("cart-observed-remove.ron", seed)
            .leaderless
            .expect("leaderless");
        assert!(
            union.sibling_reads > 0 && union.items_resurrected > 0,
            "{union:?}"
        );
        assert!(or_set.sibling_reads > 0, "{or_set:?}");
        assert_eq!(or_set.items_resurrected, 0, "seed {seed}");
    }
}

#[test]
fn sticky_session_guarantees_remove_every_session_violation() {
    for seed in SEEDS {
        let with = run("session-guarantees.ron", seed).violations;
        let without = run("session-none.ron", seed).violations;
        let session = |v: &capsim::check::violations::Violations| {
            use capsim::check::violations::ViolationKind as K;
            [
                K::ReadYourWrites,
                K::MonotonicReads,
                K::MonotonicWrites,
                K::WritesFollowReads,
            ]
            .map(|k| v.get(k))
        };
        assert_eq!(session(&with), [0; 4], "seed {seed}");
        assert!(session(&without)[0] > 0, "seed {seed}: {without:?}");
    }
}

#[test]
fn a_consistency_mix_gives_each_operation_its_own_level() {
    // With n3 down for good, ALL operations are Unavailable and ONE operations succeed.
    let text = |mix: &str| {
        format!(
            r#"(
    nodes: (count: 3),
    policy: Leaderless((replication_factor: 3, failure_detector: true, request_timeout_ms: 200.0)),
    workload: (load: ClosedLoop(clients: 4, think_time_ms: 5.0), keys: Uniform(count: 10),
               client_nodes: ["n1", "n2"], timeout_ms: 200.0, consistency_mix: {mix}),
    faults: [(at_ms: 100.0, fault: Crash("n3"))],
    run: (duration_ms: 2000.0),
)"#
        )
    };
    let run = |mix: &str| {
        let r = capsim::sim::run(&super::common::scenario(&text(mix)));
        (r.ok, r.leaderless.expect("leaderless").unavailable)
    };
    let (ok_one, unavailable_one) = run("[(1.0, One)]");
    let (ok_all, unavailable_all) = run("[(1.0, All)]");
    let (ok_mixed, unavailable_mixed) = run("[(1.0, One), (1.0, All)]");
    assert!(ok_one > 100 && unavailable_one == 0);
    assert!(
        unavailable_all > 100,
        "ALL with a replica down is Unavailable"
    );
    assert!(ok_mixed > 100 && unavailable_mixed > 100);
    let _ = ok_all;
}

#[test]
fn unavailable_writes_are_fail_and_timed_out_writes_are_info() {
    use capsim::check::history::EventType;
    use capsim::types::OpKind;
    let history_of = |name: &str| {
        let mut sim = capsim::Sim::new(&shipped(name), &capsim::engine::Options::default());
        sim.run_to_end();
        let writes = |kind: EventType| {
            sim.history()
                .iter()
                .filter(|e| e.kind == kind && e.f == OpKind::Write)
                .count()
        };
        (writes(EventType::Fail), writes(EventType::Info))
    };
    // QUORUM: a write is refused up front (fail) or may time out at a crashed coordinator (info).
    let (fail_quorum, info_quorum) = history_of("quorum-vs-one.ron");
    assert!(fail_quorum > 0, "Unavailable writes are fail");
    // ONE: never Unavailable, so a write never fails outright; timeouts stay info.
    let (fail_one, info_one) = history_of("one-stale.ron");
    assert_eq!(fail_one, 0);
    assert!(
        info_quorum + info_one > 0,
        "clients of a crashed node time out: info"
    );
}
