//! The `capsim` binary: exit codes (0 ok, 1 a check failed, 2 bad input), where errors go, and
//! the fields of `run --json`.

use std::path::PathBuf;
use std::process::{Command, Output};

fn capsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_capsim"))
        .args(args)
        .output()
        .expect("the capsim binary runs")
}

/// A scenario file under the temp dir with a name no other test (or test run) uses; removed
/// when dropped.
struct TempScenario(PathBuf);

impl TempScenario {
    fn new(name: &str, text: &str) -> TempScenario {
        let path =
            std::env::temp_dir().join(format!("capsim-cli-{}-{name}.ron", std::process::id()));
        std::fs::write(&path, text).expect("temp dir is writable");
        TempScenario(path)
    }
    fn arg(&self) -> &str {
        self.0.to_str().expect("temp paths are UTF-8 here")
    }
}

impl Drop for TempScenario {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A small, fast scenario: three nodes, a few clients, 300 ms of simulated time.
fn small(expect: &str) -> String {
    format!(
        "(
    title: \"cli test\",
    seed: 11,
    nodes: (count: 3),
    network: (latency: Constant(2.0)),
    workload: (load: ClosedLoop(clients: 3, think_time_ms: 5.0), keys: Uniform(count: 10)),
    run: (duration_ms: 300.0, drain_ms: 100.0),
    expect: {{ {expect} }},
)"
    )
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn validate_bad_file_exits_2_with_line_and_column() {
    let bad = TempScenario::new(
        "bad-syntax",
        "(\n  seed: 1,\n  nodes: (count: 3)\n  run: (ops: 5),\n)",
    );
    let out = capsim(&["validate", bad.arg()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains(&format!("{}:4:3: ", bad.arg())), "{err}");
    assert!(err.contains("expected `,`"), "{err}");
}

#[test]
fn validate_semantic_error_exits_2_with_field_path() {
    let bad = TempScenario::new("bad-quorum", "(policy: Leaderless((read_quorum: 4)))");
    let out = capsim(&["validate", bad.arg()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains(&format!("{}: policy.read_quorum: 4 is larger", bad.arg())),
        "{}",
        stderr(&out)
    );
}

#[test]
fn validate_good_file_exits_0() {
    let good = TempScenario::new("good", &small("\"ops\": \">0\""));
    let out = capsim(&["validate", good.arg()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("ok"));
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
}

#[test]
fn missing_file_exits_2() {
    let path = std::env::temp_dir().join(format!("capsim-cli-{}-missing.ron", std::process::id()));
    let out = capsim(&["validate", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("cannot read"), "{}", stderr(&out));
}

#[test]
fn check_failing_expectation_exits_1_and_shows_the_actual_value() {
    // The run issues operations, so `ops == 0` must fail and show the real count.
    let failing = TempScenario::new(
        "failing-expect",
        &small("\"ops\": 0, \"stale_reads\": \">=0\""),
    );
    let out = capsim(&["check", failing.arg()]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let text = stdout(&out);
    assert!(text.contains("FAIL"), "{text}");
    let line = text
        .lines()
        .find(|l| l.contains("expected ops"))
        .unwrap_or_else(|| panic!("no failing assertion shown:\n{text}"));
    let actual: f64 = line
        .rsplit("got ")
        .next()
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no actual value in {line:?}"));
    assert!(actual > 0.0, "{line}");
    assert!(
        !text.contains("expected stale_reads"),
        "a passing claim was reported:\n{text}"
    );
}

#[test]
fn check_passing_expectation_exits_0() {
    let passing = TempScenario::new("passing-expect", &small("\"ops\": \">0\""));
    let out = capsim(&["check", passing.arg()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(stdout(&out).contains("PASS"));
}

const REQUIRED_FIELDS: &[&str] = &[
    "scenario",
    "seed",
    "sim_time_ms",
    "events",
    "messages_sent",
    "messages_dropped",
    "messages_delivered",
    "ops",
    "reads",
    "writes",
    "deletes",
    "ok",
    "failed",
    "unknown",
    "availability",
    "stale_reads",
    "saturated_stale_reads",
    "max_replication_lag_ms",
    "max_divergent_keys",
    "divergent_keys_at_end",
    "latency_ms_p50",
    "latency_ms_p99",
    "trace_hash",
    "wall_ms",
    "ops_per_sec",
];

#[test]
fn run_json_prints_one_object_with_every_field() {
    let file = TempScenario::new("run-json", &small(""));
    let out = capsim(&["run", "--json", "--seed", "42", file.arg()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(
        text.trim().lines().count(),
        1,
        "one JSON object on one line:\n{text}"
    );
    let json: serde_json::Value = serde_json::from_str(text.trim()).expect("valid JSON");
    let obj = json.as_object().expect("a JSON object");
    for field in REQUIRED_FIELDS {
        assert!(obj.contains_key(*field), "missing `{field}` in {text}");
    }
    let n = |f: &str| {
        obj[f]
            .as_f64()
            .unwrap_or_else(|| panic!("`{f}` is not a number"))
    };
    assert_eq!(n("seed"), 42.0, "--seed overrides the scenario's seed");
    assert!(obj["scenario"].is_string());
    assert!(n("ops") > 0.0);
    assert_eq!(n("ok") + n("failed") + n("unknown"), n("ops"));
    assert_eq!(n("reads") + n("writes") + n("deletes"), n("ops"));
    assert!(n("messages_delivered") + n("messages_dropped") <= n("messages_sent"));
    assert!((n("availability") - n("ok") / n("ops")).abs() < 1e-9);
    assert!(n("sim_time_ms") >= 300.0 && n("sim_time_ms") <= 400.0 + 1e-9);
    assert!(n("latency_ms_p50") <= n("latency_ms_p99"));
    let hash = obj["trace_hash"].as_str().expect("trace_hash is a string");
    assert_eq!(hash.len(), 16);
    assert!(hash.chars().all(|c| c.is_ascii_hexdigit()), "{hash}");
}

#[test]
fn run_with_bad_file_exits_2() {
    let bad = TempScenario::new("run-bad", "(network: (loss: 1.5))");
    let out = capsim(&["run", "--json", bad.arg()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stdout(&out).is_empty(),
        "no JSON for a bad file: {}",
        stdout(&out)
    );
    assert!(stderr(&out).contains("network.loss"), "{}", stderr(&out));
}

#[test]
fn closed_stdout_is_not_a_crash() {
    // `capsim run ... | head -1`: the reader goes away before capsim prints.
    let file = TempScenario::new("closed-stdout", &small(""));
    let mut child = Command::new(env!("CARGO_BIN_EXE_capsim"))
        .args(["run", file.arg()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the capsim binary runs");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("capsim finishes");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn run_summary_shows_the_log_fields_only_where_they_apply() {
    let run = |lesson: &str| {
        let out = capsim(&["run", lesson]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        stdout(&out)
    };
    let erasure = run("scenarios/gdpr-erasure.ron");
    for line in [
        "  event log: ",
        "    read-model lag: max ",
        "    compactions ",
        "  erasure by tombstone: lingering copies max ",
        "  erasure by crypto-shredding: ",
    ] {
        assert!(erasure.contains(line), "no `{line}` in\n{erasure}");
    }
    let compaction = run("scenarios/log-compaction.ron");
    assert!(
        compaction.contains("  log storage: ") && compaction.contains(" compactions, "),
        "{compaction}"
    );
    let quorum = run("scenarios/quorum-partition.ron");
    for word in [
        "log storage",
        "event log",
        "compactions",
        "erasure",
        "snapshots",
    ] {
        assert!(
            !quorum.contains(word),
            "`{word}` in a quorum lesson:\n{quorum}"
        );
    }
}

#[test]
fn run_summary_says_at_least_when_stale_depth_is_a_lower_bound() {
    // First-write-wins drops every update after the first, so reads fall far behind the
    // checker's per-key window; a quorum lesson's stale reads are exact.
    let fww = capsim(&["run", "scenarios/fww-lost-updates.ron"]);
    let text = stdout(&fww);
    assert!(text.contains("(at least "), "{text}");
    assert!(text.contains("depth is a lower bound"), "{text}");
    let json = capsim(&["run", "--json", "scenarios/fww-lost-updates.ron"]);
    let json: serde_json::Value = serde_json::from_str(stdout(&json).trim()).expect("JSON");
    let saturated = json["saturated_stale_reads"].as_u64().expect("a count");
    assert!(saturated > 0 && saturated <= json["stale_reads"].as_u64().unwrap());
    let quorum = stdout(&capsim(&["run", "scenarios/quorum-partition-one.ron"]));
    assert!(quorum.contains("most versions behind"), "{quorum}");
    assert!(!quorum.contains("at least"), "{quorum}");
}

#[test]
fn run_summary_counts_convergence_from_a_heal_only_when_there_was_one() {
    // log-compaction has no faults; quorum-partition heals its partition.
    let calm = stdout(&capsim(&["run", "scenarios/log-compaction.ron"]));
    assert!(calm.contains("(last converged at "), "{calm}");
    assert!(!calm.contains("heal"), "{calm}");
    let healed = stdout(&capsim(&["run", "scenarios/quorum-partition.ron"]));
    assert!(healed.contains("ms after the last heal at "), "{healed}");
}
