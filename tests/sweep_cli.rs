//! The command line around the checkers: `run --json` carries the verdicts, `sweep` finds and
//! replays failing seeds, `check` accepts expectations on them.

use std::path::PathBuf;
use std::process::{Command, Output};

fn capsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_capsim"))
        .args(args)
        .output()
        .expect("capsim runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Writes a scenario for one test into the target directory's temporary folder.
fn scenario_file(name: &str, text: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let path = dir.join(format!("{name}-{}.ron", std::process::id()));
    std::fs::write(&path, text).expect("temporary scenario written");
    path
}

/// R = W = 1: stale reads on a healthy network, half a second of it.
const STALE: &str = r#"(
    title: "stale",
    nodes: (count: 5),
    network: (latency: Exponential(mean_ms: 5.0)),
    policy: Leaderless((replication_factor: 3, read_quorum: 1, write_quorum: 1)),
    workload: (load: ClosedLoop(clients: 16, think_time_ms: 2.0), keys: Uniform(count: 5),
               target: Random, timeout_ms: 500.0),
    run: (duration_ms: 500.0),
)"#;

const FRESH: &str = r#"(
    title: "fresh",
    nodes: (count: 3),
    network: (latency: Exponential(mean_ms: 5.0)),
    policy: SingleLeader((leader: "n1", replication: Async, read_from: Leader)),
    workload: (load: ClosedLoop(clients: 6, think_time_ms: 2.0), keys: Uniform(count: 5),
               timeout_ms: 500.0),
    run: (duration_ms: 500.0),
    expect: { "linearizable": true, "violations.stale_read": 0, "lost_writes": 0 },
)"#;

fn json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{o:?}");
    serde_json::from_str(&stdout(o)).expect("one JSON object")
}

#[test]
fn run_json_has_the_verdict_and_every_violation_kind() {
    let file = scenario_file("run-json", STALE);
    let r = json(&capsim(&["run", file.to_str().unwrap(), "--json"]));
    assert_eq!(r["linearizable"], serde_json::json!(false));
    let v = r["violations"].as_object().expect("an object");
    assert_eq!(v.len(), 12);
    assert!(v["stale_read"].as_u64() > Some(0));
    assert_eq!(v["stale_read"], r["stale_reads"]);
    assert_eq!(v["lost_write"], r["lost_writes"]);
    assert!(r["converged_after_ms"].is_number());
    // The human summary explains the counterexample.
    let text = stdout(&capsim(&["run", file.to_str().unwrap()]));
    assert!(text.contains("linearizable: no"), "{text}");
    assert!(text.contains("    linearizability: read of k"), "{text}");
}

#[test]
fn sweep_lists_failing_seeds_and_their_replay_commands() {
    let file = scenario_file("sweep-stale", STALE);
    let path = file.to_str().unwrap();
    let s = json(&capsim(&[
        "sweep",
        path,
        "--seeds",
        "3",
        "--first-seed",
        "5",
        "--json",
    ]));
    assert_eq!(s["runs"], 3);
    assert_eq!(s["first_seed"], 5);
    let seeds = s["failing_seeds"]["stale_read"]
        .as_array()
        .expect("stale seeds");
    assert!(!seeds.is_empty() && seeds.iter().all(|x| (5..8).contains(&x.as_u64().unwrap())));
    let first = seeds[0].as_u64().unwrap();
    let replay = s["replay"]["stale_read"].as_str().unwrap().to_string();
    assert_eq!(replay, format!("capsim run {path} --seed {first}"));
    let total: u64 = s["totals"]["stale_read"].as_u64().unwrap();
    // Replaying the first failing seed shows the violation again.
    let again = json(&capsim(&[
        "run",
        path,
        "--seed",
        &first.to_string(),
        "--json",
    ]));
    let one = again["violations"]["stale_read"].as_u64().unwrap();
    assert!(one > 0 && one <= total);
    let text = stdout(&capsim(&["sweep", path, "--seeds", "2"]));
    assert!(
        text.contains(&format!("capsim run {path} --seed 1")),
        "{text}"
    );
    assert!(text.contains("linearizable: 0 true, 2 false"), "{text}");
}

#[test]
fn random_faults_carry_into_the_replay_command() {
    let file = scenario_file("sweep-faults", STALE);
    let path = file.to_str().unwrap();
    let s = json(&capsim(&[
        "sweep",
        path,
        "--seeds",
        "2",
        "--random-faults",
        "--json",
    ]));
    let replay = s["replay"]["stale_read"].as_str().unwrap();
    assert!(replay.ends_with("--random-faults"), "{replay}");
    let plain = json(&capsim(&["run", path, "--seed", "1", "--json"]));
    let faulty = json(&capsim(&[
        "run",
        path,
        "--seed",
        "1",
        "--random-faults",
        "--json",
    ]));
    assert_ne!(plain["trace_hash"], faulty["trace_hash"]);
}

#[test]
fn fail_on_violation_sets_the_exit_code() {
    let stale = scenario_file("fail-stale", STALE);
    let fresh = scenario_file("fail-fresh", FRESH);
    let code = |f: &PathBuf, extra: &[&str]| {
        let mut args = vec!["sweep", f.to_str().unwrap(), "--seeds", "2"];
        args.extend_from_slice(extra);
        capsim(&args).status.code()
    };
    assert_eq!(code(&stale, &[]), Some(0));
    assert_eq!(code(&stale, &["--fail-on-violation"]), Some(1));
    assert_eq!(code(&fresh, &["--fail-on-violation"]), Some(0));
    assert_eq!(code(&stale, &["--seeds", "0"]), Some(2));
    let missing = capsim(&["sweep", "no-such-file.ron", "--seeds", "2"]);
    assert_eq!(missing.status.code(), Some(2));
}

#[test]
fn check_accepts_expectations_on_the_verdict_and_violations() {
    let fresh = scenario_file("check-fresh", FRESH);
    let o = capsim(&["check", fresh.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let wrong = FRESH.replace(r#""linearizable": true"#, r#""linearizable": "unknown""#);
    let wrong = scenario_file("check-wrong", &wrong);
    let o = capsim(&["check", wrong.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let text = stdout(&o);
    assert!(
        text.contains("expected linearizable == unknown, got true"),
        "{text}"
    );
    let bad = FRESH.replace(r#""linearizable": true"#, r#""linearizable": ">0""#);
    let bad = scenario_file("check-bad", &bad);
    assert_eq!(
        capsim(&["check", bad.to_str().unwrap()]).status.code(),
        Some(2)
    );
}
