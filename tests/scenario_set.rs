//! `Set(path, value)` on every field it can reach: a change the loader accepts must run; a
//! change it refuses leaves the run untouched.

use capsim::Sim;
use capsim::engine::Options;
use capsim::scenario::schema::{FaultSpec, Scenario, ScheduledFault, SetValue};
use capsim::scenario::{from_str, set_path};

const LEADERLESS: &str = r#"(
    nodes: (count: 4),
    network: (
        latency: Mixture([(3.0, Exponential(mean_ms: 2.0)), (1.0, Shifted(shift_ms: 1.0, dist: Uniform(min_ms: 0.0, max_ms: 4.0)))]),
        kinds: {"read_req": (loss: 0.01)},
        links: [(from: "n1", to: "*", both_ways: true, latency: Normal(mean_ms: 3.0, std_ms: 1.0), duplicate: 0.1)],
    ),
    policy: Leaderless((replication_factor: 3, read_quorum: 2, write_quorum: 2, request_timeout_ms: 50.0)),
    workload: (load: OpenLoop(rate_per_sec: 500.0, clients: 4), keys: Zipf(count: 20, s: 1.1), timeout_ms: 50.0),
    random_faults: [(kind: LossBurst(0.5), per_second: 5.0, min_ms: 5.0, max_ms: 20.0)],
    run: (duration_ms: 200.0, drain_ms: 50.0),
)"#;

const SINGLE_LEADER: &str = r#"(
    nodes: (count: 3),
    network: (latency: Pareto(scale_ms: 1.0, shape: 2.0)),
    policy: SingleLeader((replication: Sync, read_from: AnyReplica)),
    workload: (load: ClosedLoop(clients: 3), keys: HotSet(count: 20, hot_fraction: 0.1, hot_probability: 0.9), target: Leader, timeout_ms: 50.0),
    random_faults: [(kind: Pause, per_second: 2.0, min_ms: 5.0, max_ms: 20.0)],
    run: (duration_ms: 200.0, drain_ms: 50.0),
)"#;

/// Every dotted path to a scalar in the scenario (through enum variant levels, as `Set` walks).
fn scalar_paths(v: &serde_json::Value, prefix: &str, out: &mut Vec<String>) {
    let join = |k: &str| {
        if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}.{k}")
        }
    };
    match v {
        serde_json::Value::Object(map) => {
            for (k, inner) in map {
                // A variant name (capitalised) is stepped through, not named.
                let next = if k.starts_with(char::is_uppercase) {
                    prefix.to_string()
                } else {
                    join(k)
                };
                scalar_paths(inner, &next, out);
            }
        }
        serde_json::Value::Array(items) => {
            for (i, inner) in items.iter().enumerate() {
                scalar_paths(inner, &join(&i.to_string()), out);
            }
        }
        _ => out.push(prefix.to_string()),
    }
}

fn candidate_values() -> Vec<SetValue> {
    let mut values: Vec<SetValue> = [0, 1, 2, 3, 100_000]
        .into_iter()
        .map(SetValue::Int)
        .collect();
    values.extend([0.5, 7.5, 1e6].into_iter().map(SetValue::Float));
    values.extend([true, false].into_iter().map(SetValue::Bool));
    values.extend(
        [
            "n1",
            "n2",
            "Sync",
            "Async",
            "Leader",
            "AnyReplica",
            "Random",
            "RoundRobin",
        ]
        .into_iter()
        .map(|s| SetValue::Text(s.into())),
    );
    values
}

fn with_set_at(base: &Scenario, at_ms: f64, path: &str, value: &SetValue) -> Scenario {
    let mut s = base.clone();
    s.faults.push(ScheduledFault {
        at_ms,
        fault: FaultSpec::Set(path.into(), value.clone()),
        for_ms: None,
        after_same_time: false,
    });
    s
}

#[test]
fn every_accepted_set_runs_and_every_refused_one_is_a_load_error() {
    let mut accepted = 0;
    for text in [LEADERLESS, SINGLE_LEADER] {
        let base = from_str("base.ron", text).unwrap_or_else(|e| panic!("{e}"));
        let mut paths = Vec::new();
        scalar_paths(&serde_json::to_value(&base).unwrap(), "", &mut paths);
        assert!(paths.len() > 20, "{paths:?}");
        for path in &paths {
            for value in candidate_values() {
                let scenario = with_set_at(&base, 60.0, path, &value);
                let loaded = from_str("set.ron", &capsim::scenario::load::to_string(&scenario));
                match set_path::apply(&base, path, &value) {
                    Ok(_) => {
                        let loaded = loaded.unwrap_or_else(|e| panic!("{path} = {value}: {e}"));
                        let mut sim = Sim::new(&loaded, &Options::default());
                        sim.run_for(3_000);
                        accepted += 1;
                    }
                    Err(why) => {
                        let e = loaded
                            .expect_err("a refused Set is a load error")
                            .to_string();
                        assert!(e.contains("faults[0].fault"), "{e}");
                        assert!(e.contains(&why), "{e} should say {why}");
                    }
                }
            }
        }
    }
    assert!(accepted > 50, "only {accepted} changes were accepted");
}

#[test]
fn a_refused_set_applied_directly_changes_nothing() {
    let base = from_str("base.ron", LEADERLESS).unwrap();
    let mut sim = Sim::new(&base, &Options::default());
    sim.run_for(100);
    let before = sim.scenario().clone();
    // R > N: `apply` refuses it, so the engine keeps the scenario it had.
    sim.apply(capsim::engine::Fault::Set {
        path: "policy.read_quorum".into(),
        value: SetValue::Int(9),
    });
    assert_eq!(sim.scenario(), &before);
    sim.run_for(1_000);
}
