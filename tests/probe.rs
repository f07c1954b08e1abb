//! The PBS staleness probe against hand-derived answers and the paper's closed form.

use capsim::check::probe::{closed_form_k, probe, wilson};
use capsim::scenario::{self, Scenario};

fn load(text: &str) -> Scenario {
    scenario::from_str("probe-test.ron", text).expect("test scenario is valid")
}

fn quorum(n: u16, r: u16, w: u16, network: &str) -> Scenario {
    load(&format!(
        "(nodes: (count: {n}), network: {network}, policy: Leaderless((replication_factor: {n}, read_quorum: {r}, write_quorum: {w})))"
    ))
}

#[test]
fn strict_quorums_always_see_the_write() {
    let s = quorum(5, 3, 3, "(latency: Exponential(mean_ms: 5.0))");
    let r = probe(&s, &[0.0, 1.0, 10.0], 2000, 3).unwrap();
    assert!(
        r.points.iter().all(|p| p.p_consistent == 1.0),
        "{:?}",
        r.points
    );
    assert!(
        r.k_staleness
            .iter()
            .all(|k| k.p == 1.0 && k.p_closed_form == 1.0)
    );
}

/// Constant latencies chosen so the answer is known: the write commits at 2 ms through n1's own
/// copy; the only read responder is n2 (its read round trip, 1.5 ms, is fastest), which receives
/// the write at 100 ms. The read reaches n2 at 2 + t + 0.5 ms: it sees the write iff t >= 97.5.
#[test]
fn constant_latencies_give_the_hand_computed_step() {
    let net = r#"(latency: Constant(1.0), links: [
        (from: "n1", to: "n2", kind: "write_req", latency: Constant(100.0)),
        (from: "n1", to: "n3", kind: "write_req", latency: Constant(100.0)),
        (from: "n1", to: "n2", kind: "read_req", latency: Constant(0.5)),
    ])"#;
    let s = quorum(3, 1, 1, net);
    let r = probe(&s, &[0.0, 50.0, 97.0, 97.5, 120.0], 200, 1).unwrap();
    let p: Vec<f64> = r.points.iter().map(|p| p.p_consistent).collect();
    assert_eq!(p, vec![0.0, 0.0, 0.0, 1.0, 1.0]);
}

#[test]
fn visibility_never_decreases_with_time_and_reaches_one() {
    let s = quorum(
        3,
        1,
        1,
        "(latency: Exponential(mean_ms: 2.0), kinds: {\"write_req\": (latency: Exponential(mean_ms: 10.0))})",
    );
    let t = [0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 500.0];
    let r = probe(&s, &t, 5000, 1).unwrap();
    for pair in r.points.windows(2) {
        assert!(pair[0].p_consistent <= pair[1].p_consistent, "{pair:?}");
    }
    assert!(
        r.points[0].p_consistent < 0.9,
        "partial quorums are often stale right after commit"
    );
    assert_eq!(r.points.last().unwrap().p_consistent, 1.0);
    for p in &r.points {
        assert!(p.ci_low <= p.p_consistent && p.p_consistent <= p.ci_high);
    }
}

/// Monte Carlo k-staleness agrees with 1 - (C(N-W,R)/C(N,R))^k within 4 standard errors.
#[test]
fn k_staleness_matches_the_closed_form() {
    for (n, r, w) in [(3, 1, 1), (5, 1, 2), (5, 2, 2)] {
        let s = quorum(n, r, w, "(latency: Exponential(mean_ms: 3.0))");
        let trials = 10_000;
        let res = probe(&s, &[0.0], trials, 4).unwrap();
        for k in &res.k_staleness {
            let sd = (k.p_closed_form * (1.0 - k.p_closed_form) / trials as f64).sqrt();
            assert!(
                (k.p - k.p_closed_form).abs() <= 4.0 * sd + 1e-12,
                "N={n} R={r} W={w}: {k:?}"
            );
        }
    }
    assert!((closed_form_k(3, 1, 1, 1) - 1.0 / 3.0).abs() < 1e-12);
    assert_eq!(closed_form_k(3, 2, 2, 1), 1.0);
}

#[test]
fn wilson_interval_matches_published_values() {
    // Wilson (1927) 95% intervals, as tabulated e.g. by Newcombe (1998): 0/10 -> [0, 0.2775],
    // 5/10 -> [0.2366, 0.7634].
    let (p, lo, hi) = wilson(0, 10);
    assert_eq!(p, 0.0);
    assert!(lo == 0.0 && (hi - 0.2775).abs() < 1e-4, "{hi}");
    let (_, lo, hi) = wilson(5, 10);
    assert!(
        (lo - 0.2366).abs() < 1e-4 && (hi - 0.7634).abs() < 1e-4,
        "{lo} {hi}"
    );
}

#[test]
fn non_leaderless_policies_and_bad_arguments_are_errors() {
    let s = load("(policy: SingleLeader(()))");
    assert!(probe(&s, &[0.0], 10, 1).unwrap_err().contains("leaderless"));
    let q = quorum(3, 1, 1, "(latency: Constant(1.0))");
    assert!(probe(&q, &[-1.0], 10, 1).is_err());
    assert!(probe(&q, &[0.0], 0, 1).is_err());
}
