//! The network's random behaviour against the distributions it claims, with fixed seeds and
//! tolerances of five standard errors (or a Kolmogorov–Smirnov bound at α = 0.001), and the
//! resolution of per-kind and per-link settings and of cuts.

mod common;

use capsim::Sim;
use capsim::engine::Fault;
use capsim::engine::dist::Sampler;
use capsim::engine::network::{Fate, Network};
use capsim::engine::rng::SimRng;
use capsim::policy::leaderless::KINDS;
use capsim::scenario::schema::{Dist, LinkOverride, LinkSpec, NetworkSpec};
use capsim::trace::{DropReason, TraceEvent};
use capsim::types::{NodeId, SimTime};

const N: usize = 20_000;

/// `N` draws in milliseconds (whole microseconds, as the engine uses them).
fn draws(d: &Dist, seed: u64) -> Vec<f64> {
    let s = Sampler::new(d);
    let mut rng = SimRng::new(seed, 99);
    (0..N)
        .map(|_| s.sample_us(&mut rng) as f64 / 1000.0)
        .collect()
}

fn mean_sd(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt())
}

/// The sample mean is within five standard errors of `expected`.
fn assert_mean(xs: &[f64], expected: f64) {
    let (mean, sd) = mean_sd(xs);
    let se = sd / (xs.len() as f64).sqrt();
    assert!(
        (mean - expected).abs() <= 5.0 * se,
        "mean {mean} vs expected {expected} (standard error {se})"
    );
}

/// A proportion `hits / n` is within five standard errors of `p`.
fn assert_fraction(hits: usize, n: usize, p: f64) {
    let f = hits as f64 / n as f64;
    let se = (p * (1.0 - p) / n as f64).sqrt();
    assert!(
        (f - p).abs() <= 5.0 * se,
        "fraction {f} vs expected {p} (standard error {se})"
    );
}

/// Kolmogorov–Smirnov: the sample follows `cdf` (critical value 1.95/√n, α = 0.001).
fn assert_ks(xs: &[f64], cdf: impl Fn(f64) -> f64) {
    let mut s = xs.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len() as f64;
    let d = s
        .iter()
        .enumerate()
        .map(|(i, x)| {
            let f = cdf(*x);
            (f - i as f64 / n).abs().max((f - (i + 1) as f64 / n).abs())
        })
        .fold(0.0, f64::max);
    assert!(d < 1.95 / n.sqrt(), "KS statistic {d}");
}

fn phi(z: f64) -> f64 {
    0.5 * libm::erfc(-z / std::f64::consts::SQRT_2)
}

#[test]
fn constant_is_exact() {
    assert!(draws(&Dist::Constant(2.5), 1).iter().all(|x| *x == 2.5));
    assert_eq!(Sampler::new(&Dist::Constant(2.5)).mean_ms(), 2.5);
}

#[test]
fn uniform_stays_in_range_and_is_flat() {
    let xs = draws(
        &Dist::Uniform {
            min_ms: 1.0,
            max_ms: 3.0,
        },
        2,
    );
    assert!(xs.iter().all(|x| (1.0..=3.0).contains(x)));
    assert_mean(&xs, 2.0);
    assert_ks(&xs, |x| ((x - 1.0) / 2.0).clamp(0.0, 1.0));
}

#[test]
fn normal_is_truncated_at_zero_with_the_documented_mean() {
    let d = Dist::Normal {
        mean_ms: 2.0,
        std_ms: 4.0,
    };
    // By hand: a = -0.5, φ(0.5) = 0.3520653, 1 - Φ(-0.5) = 0.6914625: 2 + 4·0.50916 = 4.03663.
    let mean = Sampler::new(&d).mean_ms();
    assert!((mean - 4.03663).abs() < 1e-4, "{mean}");
    let xs = draws(&d, 3);
    assert!(xs.iter().all(|x| *x >= 0.0));
    assert_mean(&xs, mean);
    let kept = 1.0 - phi(-0.5);
    assert_ks(&xs, |x| (phi((x - 2.0) / 4.0) - phi(-0.5)) / kept);
    // Far from zero the truncation does not matter.
    let far = Dist::Normal {
        mean_ms: 50.0,
        std_ms: 5.0,
    };
    assert!((Sampler::new(&far).mean_ms() - 50.0).abs() < 1e-9);
    assert_mean(&draws(&far, 4), 50.0);
}

#[test]
fn exponential_has_its_mean_and_shape() {
    let xs = draws(&Dist::Exponential { mean_ms: 5.0 }, 5);
    assert_mean(&xs, 5.0);
    assert_ks(&xs, |x| 1.0 - libm::exp(-x / 5.0));
}

#[test]
fn pareto_has_its_scale_and_tail() {
    let (scale, shape) = (2.0, 1.5);
    let xs = draws(
        &Dist::Pareto {
            scale_ms: scale,
            shape,
        },
        6,
    );
    assert!(xs.iter().all(|x| *x >= scale));
    // Quantiles (the variance is infinite for shape <= 2): P(X <= x_p) = p.
    for p in [0.5, 0.9, 0.99] {
        let x_p = scale * libm::pow(1.0 - p, -1.0 / shape);
        assert_fraction(xs.iter().filter(|x| **x <= x_p).count(), N, p);
    }
    assert_ks(&xs, |x| 1.0 - libm::pow(scale / x, shape));
    assert!(
        (Sampler::new(&Dist::Pareto {
            scale_ms: scale,
            shape
        })
        .mean_ms()
            - 6.0)
            .abs()
            < 1e-9
    );
    let heavy = Dist::Pareto {
        scale_ms: 1.0,
        shape: 1.0,
    };
    assert!(Sampler::new(&heavy).mean_ms().is_infinite());
}

#[test]
fn lognormal_has_median_exp_mu() {
    let (mu, sigma) = (1.0, 0.5);
    let xs = draws(&Dist::LogNormal { mu, sigma }, 7);
    assert_fraction(xs.iter().filter(|x| **x <= libm::exp(mu)).count(), N, 0.5);
    let one_sd = xs.iter().filter(|x| **x <= libm::exp(mu + sigma)).count();
    assert_fraction(one_sd, N, phi(1.0));
    assert_ks(&xs, |x| phi((libm::log(x) - mu) / sigma));
    let mean = Sampler::new(&Dist::LogNormal { mu, sigma }).mean_ms();
    assert!((mean - libm::exp(1.125)).abs() < 1e-9);
    assert_mean(&xs, mean);
}

#[test]
fn mixture_picks_components_by_weight() {
    let d = Dist::Mixture(vec![
        (3.0, Dist::Constant(1.0)),
        (0.0, Dist::Constant(99.0)),
        (7.0, Dist::Constant(10.0)),
    ]);
    let xs = draws(&d, 8);
    assert!(
        xs.iter().all(|x| *x == 1.0 || *x == 10.0),
        "weight 0 never drawn"
    );
    assert_fraction(xs.iter().filter(|x| **x == 1.0).count(), N, 0.3);
    assert!((Sampler::new(&d).mean_ms() - 7.3).abs() < 1e-9);
}

#[test]
fn shifted_adds_its_constant() {
    let d = Dist::Shifted {
        shift_ms: 10.0,
        dist: Box::new(Dist::Exponential { mean_ms: 2.0 }),
    };
    let xs = draws(&d, 9);
    assert!(xs.iter().all(|x| *x >= 10.0));
    assert_mean(&xs, 12.0);
    assert_ks(&xs, |x| 1.0 - libm::exp(-(x - 10.0).max(0.0) / 2.0));
    assert!((Sampler::new(&d).mean_ms() - 12.0).abs() < 1e-9);
}

// ---- loss and duplication ------------------------------------------------------------------

fn spec(loss: f64, duplicate: f64) -> NetworkSpec {
    NetworkSpec {
        latency: Dist::Exponential { mean_ms: 5.0 },
        loss,
        duplicate,
        ..NetworkSpec::default()
    }
}

fn net(spec: &NetworkSpec, nodes: usize) -> Network {
    Network::new(spec, nodes, KINDS, SimRng::new(11, 1))
}

/// Sends `N` messages n1 → n2 at time 0; returns their fates.
fn fates(net: &mut Network) -> Vec<Fate> {
    (0..N)
        .map(|_| net.send(NodeId(0), NodeId(1), 0, SimTime::ZERO))
        .collect()
}

#[test]
fn loss_drops_the_configured_fraction() {
    let all = fates(&mut net(&spec(0.1, 0.0), 2));
    let lost = all
        .iter()
        .filter(|f| **f == Fate::Dropped(DropReason::Loss))
        .count();
    assert_fraction(lost, N, 0.1);
    // Latency of what arrives follows the link's distribution.
    let arrivals: Vec<f64> = all
        .iter()
        .filter_map(|f| match f {
            Fate::Arrives(at, None) => Some(at.as_ms()),
            _ => None,
        })
        .collect();
    assert_eq!(arrivals.len(), N - lost, "no duplicates configured");
    assert_mean(&arrivals, 5.0);
    // A loss burst raises the floor; the link's own higher loss still wins elsewhere.
    let mut burst = net(&spec(0.1, 0.0), 2);
    burst.set_loss_floor(0.5);
    let lost = fates(&mut burst)
        .iter()
        .filter(|f| matches!(f, Fate::Dropped(_)))
        .count();
    assert_fraction(lost, N, 0.5);
    assert!(
        fates(&mut net(&spec(0.0, 0.0), 2))
            .iter()
            .all(|f| matches!(f, Fate::Arrives(..)))
    );
}

#[test]
fn duplication_copies_the_configured_fraction_of_arrivals() {
    let all = fates(&mut net(&spec(0.1, 0.2), 2));
    let arrived: Vec<&Fate> = all
        .iter()
        .filter(|f| matches!(f, Fate::Arrives(..)))
        .collect();
    let copies = arrived
        .iter()
        .filter(|f| matches!(f, Fate::Arrives(_, Some(_))))
        .count();
    assert_fraction(arrived.len(), N, 0.9);
    assert_fraction(copies, arrived.len(), 0.2);
}

// ---- per-kind and per-link settings --------------------------------------------------------

fn link(from: &str, to: &str) -> LinkOverride {
    LinkOverride {
        from: from.into(),
        to: to.into(),
        kind: None,
        both_ways: false,
        latency: None,
        loss: None,
        duplicate: None,
    }
}

const WRITE_REQ: u8 = 0;
const READ_REQ: u8 = 2;

#[test]
fn kind_and_link_overrides_resolve_in_file_order() {
    let mut s = spec(0.0, 0.0);
    s.kinds.insert(
        "write_req".into(),
        LinkSpec {
            latency: Some(Dist::Constant(1.0)),
            ..LinkSpec::default()
        },
    );
    s.links = vec![
        LinkOverride {
            loss: Some(0.5),
            ..link("n1", "n2")
        },
        LinkOverride {
            loss: Some(0.2),
            ..link("n1", "*")
        }, // later: wins for n1 → n2 too
        LinkOverride {
            duplicate: Some(0.3),
            both_ways: true,
            ..link("n3", "n1")
        },
        LinkOverride {
            kind: Some("read_req".into()),
            latency: Some(Dist::Constant(7.0)),
            ..link("*", "n2")
        },
        LinkOverride {
            latency: Some(Dist::Constant(9.0)),
            ..link("n2", "n3")
        },
    ];
    let net = net(&s, 4);
    let p = |from: u16, to: u16, kind: u8| net.params(NodeId(from - 1), NodeId(to - 1), kind);
    let exp5 = Sampler::new(&Dist::Exponential { mean_ms: 5.0 });
    assert_eq!(p(2, 1, 1).latency, exp5, "defaults");
    assert_eq!((p(2, 1, 1).loss, p(2, 1, 1).duplicate), (0.0, 0.0));
    assert_eq!(
        p(2, 1, WRITE_REQ).latency,
        Sampler::Constant(1000),
        "kind setting"
    );
    assert_eq!(p(1, 2, 1).loss, 0.2, "the later entry wins");
    assert_eq!(p(1, 4, 1).loss, 0.2, "wildcard target");
    assert_eq!(p(2, 1, 1).loss, 0.0, "one direction only");
    assert_eq!(p(3, 1, 1).duplicate, 0.3);
    assert_eq!(p(1, 3, 1).duplicate, 0.3, "both_ways");
    assert_eq!(p(3, 2, 1).duplicate, 0.0);
    assert_eq!(
        p(4, 2, READ_REQ).latency,
        Sampler::Constant(7000),
        "kind-specific link"
    );
    assert_eq!(p(4, 2, 3).latency, exp5, "other kinds untouched");
    assert_eq!(p(4, 3, READ_REQ).latency, exp5);
    assert_eq!(
        p(2, 3, WRITE_REQ).latency,
        Sampler::Constant(9000),
        "links win over kinds"
    );
    assert_eq!(p(1, 2, READ_REQ).loss, 0.2, "unset fields inherit");
    assert_eq!(p(1, 2, READ_REQ).latency, Sampler::Constant(7000));
}

// ---- cuts ----------------------------------------------------------------------------------

#[test]
fn cuts_block_directions_until_unblocked_or_healed() {
    let (a, b, c) = (NodeId(0), NodeId(1), NodeId(2));
    let mut net = net(&spec(0.0, 0.0), 3);
    let both = net.block(vec![(a, b), (b, a)]);
    let one = net.block(vec![(a, b)]);
    assert_eq!(net.active_cuts(), 2);
    assert!(net.is_blocked(a, b) && net.is_blocked(b, a));
    assert!(!net.is_blocked(a, c) && !net.is_blocked(c, b));
    let partition = Fate::Dropped(DropReason::Partition);
    assert_eq!(net.send(a, b, 0, SimTime::ZERO), partition);
    assert!(matches!(
        net.send(a, c, 0, SimTime::ZERO),
        Fate::Arrives(..)
    ));
    net.unblock(both);
    assert!(net.is_blocked(a, b), "the one-way cut still covers a → b");
    assert!(!net.is_blocked(b, a));
    net.unblock(both); // already gone: no effect
    assert!(net.is_blocked(a, b));
    net.unblock(one);
    assert!(!net.is_blocked(a, b));
    net.block(vec![(a, c)]);
    net.block(vec![(c, b), (b, c)]);
    net.heal_all();
    assert_eq!(net.active_cuts(), 0);
    for (x, y) in [(a, c), (c, b), (b, c)] {
        assert!(!net.is_blocked(x, y));
    }
}

// ---- the same settings inside a running engine ---------------------------------------------

const BUSY: &str = r#"(
    seed: 8,
    nodes: (count: 3),
    network: (latency: Exponential(mean_ms: 5.0), kinds: {"write_ack": (latency: Constant(2.0))},
              links: [(from: "n1", to: "n2", loss: 1.0)]),
    policy: Leaderless((replication_factor: 3, read_quorum: 1, write_quorum: 1)),
    workload: (load: ClosedLoop(clients: 6, think_time_ms: 5.0), keys: Uniform(count: 10)),
    run: (duration_ms: 1000.0),
)"#;

#[test]
fn scenario_settings_reach_the_running_network() {
    let (_, trace) = common::run_recorded(&common::scenario(BUSY));
    let (n1, n2) = (common::n(1), common::n(2));
    let dropped = common::drops(&trace);
    assert!(!dropped.is_empty());
    assert!(
        dropped
            .iter()
            .all(|d| (d.1, d.2, d.3) == (n1, n2, DropReason::Loss))
    );
    assert!(
        !common::deliveries(&trace)
            .iter()
            .any(|d| (d.1, d.2) == (n1, n2))
    );
    let write_acks: Vec<u64> = trace
        .iter()
        .filter_map(|s| match s.event {
            TraceEvent::Deliver { kind: 1, sent, .. } => Some(s.at.as_us() - sent.as_us()),
            _ => None,
        })
        .collect();
    assert!(!write_acks.is_empty() && write_acks.iter().all(|us| *us == 2_000));
}

#[test]
fn a_loss_burst_drops_everything_while_it_lasts() {
    let text = BUSY.replace(r#"links: [(from: "n1", to: "n2", loss: 1.0)]"#, "");
    let mut sim = Sim::new(&common::scenario(&text), &common::recording());
    sim.run_until(common::ms(300.0));
    sim.apply_for(Fault::LossBurst(1.0), 200_000);
    sim.run_to_end();
    let trace = sim.drain_trace();
    // Events at exactly 300 ms ran before the burst began; at 500 ms it ends.
    let (start, end) = (common::ms(300.0), common::ms(500.0));
    let dropped = common::drops(&trace);
    assert!(!dropped.is_empty());
    for (t, _, _, reason) in dropped {
        assert!(reason == DropReason::Loss && start < t && t <= end, "{t}");
    }
    let sent: Vec<SimTime> = common::sends(&trace).iter().map(|s| s.0).collect();
    assert!(
        !sent.iter().any(|t| start < *t && *t < end),
        "nothing got through"
    );
    assert!(sent.iter().any(|t| *t > end), "the network recovers");
}
