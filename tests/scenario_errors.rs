//! One test per class of scenario error: each asserts where the error points (line:col or field
//! path) and that the message says what is wrong in the author's terms.

use capsim::scenario::{ScenarioError, from_bytes, from_str, limits};

/// The `(line, col, message)` of a syntax error.
fn syntax(text: &str) -> (usize, usize, String) {
    match from_str("t.ron", text) {
        Err(ScenarioError::Syntax {
            line, col, message, ..
        }) => (line, col, message),
        other => panic!("expected a syntax error for {text:?}, got {other:?}"),
    }
}

/// The `(path, message)` of a semantic error.
fn invalid(text: &str) -> (String, String) {
    match from_str("t.ron", text) {
        Err(ScenarioError::Invalid { path, message, .. }) => (path, message),
        other => panic!("expected a field error for {text:?}, got {other:?}"),
    }
}

fn display(text: &str) -> String {
    from_str("t.ron", text).unwrap_err().to_string()
}

/// A unique file under the temp dir (tests run in parallel).
fn temp_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("capsim-errors-{}-{name}", std::process::id()))
}

#[test]
fn syntax_error_points_at_line_and_column() {
    let text = "(\n    seed: 1,\n    nodes: (count: 3)\n    title: \"x\",\n)";
    let (line, col, message) = syntax(text);
    assert_eq!((line, col), (4, 5), "{message}");
    assert!(message.contains("expected `,`"), "{message}");
    assert!(
        display(text).starts_with("t.ron:4:5: "),
        "{}",
        display(text)
    );
}

#[test]
fn unclosed_bracket_points_at_the_end_of_the_file() {
    let (line, col, message) = syntax("(\n  nodes: (count: 3),\n  run: (ops: 5");
    assert_eq!((line, col), (3, 15));
    assert!(message.contains("end of file"), "{message}");
}

#[test]
fn fraction_where_a_whole_number_belongs() {
    let (line, col, message) = syntax("(nodes: (count: 2.5))");
    assert_eq!((line, col), (1, 18));
    assert!(message.contains("whole number"), "{message}");
}

#[test]
fn wrong_type_says_what_was_expected() {
    let (_, col, message) = syntax("(network: (loss: \"high\"))");
    assert_eq!(col, 18);
    assert_eq!(message, "expected a number");
    let (_, _, message) = syntax("(title: 5)");
    assert!(message.contains("string"), "{message}");
}

#[test]
fn unknown_field_lists_the_valid_ones() {
    let (line, col, message) = syntax("(\n  nodes: (cuont: 3),\n)");
    assert_eq!((line, col), (2, 11));
    assert!(
        message.contains("unknown field `cuont` in `nodes`"),
        "{message}"
    );
    assert!(message.contains("did you mean `count`?"), "{message}");
    assert!(message.contains("valid fields: count, clocks"), "{message}");
}

#[test]
fn unknown_top_level_field_names_the_scenario_not_a_rust_type() {
    let (_, _, message) = syntax("(netwrok: ())");
    assert!(message.contains("in the scenario"), "{message}");
    assert!(!message.contains("Scenario"), "{message}");
    assert!(message.contains("network"), "{message}");
}

#[test]
fn unknown_variant_lists_the_valid_ones() {
    let (_, col, message) = syntax("(network: (latency: Exponentail(mean_ms: 1.0)))");
    assert_eq!(col, 21);
    assert!(
        message.contains("unknown variant `Exponentail`"),
        "{message}"
    );
    assert!(message.contains("did you mean `Exponential`?"), "{message}");
    assert!(message.contains("Constant, Uniform, Normal"), "{message}");
    let (_, _, message) = syntax("(faults: [(at_ms: 1.0, fault: Explode(\"n1\"))])");
    assert!(message.contains("Crash, Restart"), "{message}");
}

#[test]
fn missing_and_duplicate_fields_are_named() {
    let (_, _, message) = syntax("(faults: [(at_ms: 10.0)])");
    assert_eq!(message, "missing field `fault` in a `faults` entry");
    let (line, col, message) = syntax("(seed: 1,\n seed: 2)");
    assert_eq!((line, col), (2, 2));
    assert!(message.contains("`seed` is given twice"), "{message}");
}

#[test]
fn read_quorum_larger_than_replication_factor() {
    let (path, message) =
        invalid("(policy: Leaderless((replication_factor: 3, read_quorum: 4, write_quorum: 2)))");
    assert_eq!(path, "policy.read_quorum");
    assert_eq!(message, "4 is larger than replication_factor 3");
    let text = "(policy: Leaderless((read_quorum: 4)))";
    assert_eq!(
        display(text),
        "t.ron: policy.read_quorum: 4 is larger than replication_factor 3"
    );
}

#[test]
fn replication_factor_larger_than_the_cluster() {
    let (path, message) =
        invalid("(nodes: (count: 2), policy: Leaderless((replication_factor: 3)))");
    assert_eq!(path, "policy.replication_factor");
    assert!(message.contains("larger than the 2 nodes"), "{message}");
}

#[test]
fn loss_outside_zero_to_one() {
    let (path, message) = invalid("(network: (loss: 1.5))");
    assert_eq!(path, "network.loss");
    assert!(message.contains("1.5 is not a probability"), "{message}");
    let (path, _) = invalid("(network: (links: [(from: \"n1\", to: \"n2\", loss: -0.1)]))");
    assert_eq!(path, "network.links[0].loss");
    let (path, _) = invalid("(network: (kinds: {\"read_req\": (duplicate: 2.0)}))");
    assert_eq!(path, "network.kinds.read_req.duplicate");
}

#[test]
fn link_to_a_node_that_does_not_exist() {
    let (path, message) = invalid("(network: (links: [(from: \"n1\", to: \"n9\", loss: 0.5)]))");
    assert_eq!(path, "network.links[0].to");
    assert_eq!(message, "no node named `n9`; nodes are n1..n3");
    let (path, _) = invalid("(network: (links: [(from: \"n0\", to: \"*\", loss: 0.5)]))");
    assert_eq!(path, "network.links[0].from");
    let (path, _) = invalid("(network: (links: [(from: \"n01\", to: \"*\", loss: 0.5)]))");
    assert_eq!(path, "network.links[0].from");
}

#[test]
fn message_kind_must_belong_to_the_policy() {
    let (path, message) = invalid(
        "(policy: SingleLeader(()), network: (links: [(from: \"*\", to: \"*\", kind: \"write_req\", loss: 0.5)]))",
    );
    assert_eq!(path, "network.links[0].kind");
    assert!(message.contains("append, append_ack"), "{message}");
}

#[test]
fn negative_latency() {
    let (path, message) = invalid("(network: (latency: Exponential(mean_ms: -1.0)))");
    assert_eq!(path, "network.latency.mean_ms");
    assert!(message.contains("-1 must be a non-negative"), "{message}");
    let (path, _) = invalid("(network: (latency: Shifted(shift_ms: 1.0, dist: Constant(-2.0))))");
    assert_eq!(path, "network.latency.dist");
    let (path, _) = invalid("(network: (latency: Uniform(min_ms: 5.0, max_ms: 1.0)))");
    assert_eq!(path, "network.latency.max_ms");
}

#[test]
fn not_a_number_is_rejected() {
    let (path, message) = invalid("(network: (latency: Constant(NaN)))");
    assert_eq!(path, "network.latency");
    assert!(message.contains("NaN"), "{message}");
    let (path, _) = invalid("(workload: (mix: (read: inf)))");
    assert_eq!(path, "workload.mix.read");
}

#[test]
fn fault_after_the_end_of_the_run() {
    let (path, message) =
        invalid("(run: (duration_ms: 1000.0), faults: [(at_ms: 1500.0, fault: Crash(\"n1\"))])");
    assert_eq!(path, "faults[0].at_ms");
    assert!(message.contains("after the end of the run"), "{message}");
    assert!(message.contains("1000"), "{message}");
}

#[test]
fn fault_naming_a_missing_node() {
    let (path, _) =
        invalid("(faults: [(at_ms: 1.0, fault: Partition([[\"n1\"], [\"n2\", \"n7\"]]))])");
    assert_eq!(path, "faults[0].fault[1][1]");
    let (path, message) =
        invalid("(faults: [(at_ms: 1.0, fault: Partition([[\"n1\"], [\"n2\", \"n1\"]]))])");
    assert_eq!(path, "faults[0].fault[1][1]");
    assert!(message.contains("two groups"), "{message}");
}

#[test]
fn missing_file() {
    let path = temp_path("does-not-exist.ron");
    let e = capsim::io::read_scenario(&path).unwrap_err();
    assert!(matches!(e, ScenarioError::Unreadable { .. }), "{e:?}");
    let text = e.to_string();
    assert!(text.starts_with(&path.display().to_string()), "{text}");
    assert!(text.contains("cannot read"), "{text}");
}

#[test]
fn file_larger_than_the_limit() {
    let big = format!("({})", " ".repeat(limits::MAX_FILE_BYTES));
    let e = from_str("big.ron", &big).unwrap_err();
    assert!(matches!(e, ScenarioError::TooLarge { .. }), "{e:?}");
    assert!(e.to_string().contains(&limits::MAX_FILE_BYTES.to_string()));
    let path = temp_path("big.ron");
    std::fs::write(&path, &big).unwrap();
    let e = capsim::io::read_scenario(&path);
    std::fs::remove_file(&path).unwrap();
    let e = e.unwrap_err();
    assert!(
        e.to_string().starts_with(&path.display().to_string()),
        "{e}"
    );
    assert!(matches!(e, ScenarioError::TooLarge { bytes, .. } if bytes == big.len()));
}

#[test]
fn text_that_is_not_utf8() {
    let e = from_bytes("t.ron", b"(seed: 1,\n title: \"caf\xe9\")").unwrap_err();
    match e {
        ScenarioError::Syntax {
            line, col, message, ..
        } => {
            assert_eq!((line, col), (2, 13));
            assert!(message.contains("UTF-8"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn expect_key_that_does_not_exist_lists_the_valid_keys() {
    let (path, message) = invalid("(expect: {\"stale_raeds\": 0})");
    assert_eq!(path, "expect.stale_raeds");
    assert!(message.contains("did you mean `stale_reads`?"), "{message}");
    assert!(message.contains("availability"), "{message}");
    assert!(message.contains("max_replication_lag_ms"), "{message}");
    let (path, message) = invalid("(expect: {\"ops\": \"about 5\"})");
    assert_eq!(path, "expect.ops");
    assert!(message.contains("\">0\""), "{message}");
    let (_, _, message) = syntax("(expect: {\"ops\": [5]})");
    assert!(message.contains("expect"), "{message}");
}

#[test]
fn bad_set_path_names_the_fields_that_exist() {
    let (path, message) =
        invalid("(faults: [(at_ms: 1.0, fault: Set(\"policy.read_qourum\", 1))])");
    assert_eq!(path, "faults[0].fault");
    assert!(
        message.contains("no field `read_qourum` in `policy`"),
        "{message}"
    );
    assert!(message.contains("did you mean `read_quorum`?"), "{message}");
    assert!(message.contains("write_quorum"), "{message}");
    let (_, message) = invalid("(faults: [(at_ms: 1.0, fault: Set(\"network\", 1))])");
    assert!(message.contains("not a single value"), "{message}");
    let (_, message) = invalid("(faults: [(at_ms: 1.0, fault: Set(\"network.loss\", \"high\"))])");
    assert!(message.contains("expected a value like"), "{message}");
    let (_, message) = invalid("(faults: [(at_ms: 1.0, fault: Set(\"seed\", 2))])");
    assert!(
        message.contains("cannot be changed during a run"),
        "{message}"
    );
}

#[test]
fn set_that_breaks_the_scenario_is_caught_in_time_order() {
    // Listed out of order: the engine applies N=2 (at 1 s) before R=3 (at 2 s), so R=3 is wrong.
    let text = "(faults: [
        (at_ms: 2000.0, fault: Set(\"policy.read_quorum\", 3)),
        (at_ms: 1000.0, fault: Set(\"policy.replication_factor\", 2)),
    ])";
    let (path, message) = invalid(text);
    assert_eq!(path, "faults[0].fault");
    assert!(message.contains("policy.read_quorum"), "{message}");
    assert!(
        message.contains("larger than replication_factor 2"),
        "{message}"
    );
    let (path, _) =
        invalid("(faults: [(at_ms: 1.0, fault: Set(\"network.loss\", 0.5), for_ms: 100.0)])");
    assert_eq!(path, "faults[0].for_ms");
}

#[test]
fn limits_have_clear_errors() {
    let (path, message) = invalid("(nodes: (count: 65))");
    assert_eq!(path, "nodes.count");
    assert!(message.contains("between 1 and 64"), "{message}");
    let (path, _) = invalid("(workload: (load: ClosedLoop(clients: 10001)))");
    assert_eq!(path, "workload.load.clients");
    let (path, _) = invalid("(workload: (keys: Uniform(count: 1000001)))");
    assert_eq!(path, "workload.keys.count");
    let (path, _) = invalid("(run: (ops: 100000001))");
    assert_eq!(path, "run.ops");
    let faults = "(at_ms: 1.0, fault: HealAll),".repeat(limits::MAX_FAULTS + 1);
    let (path, message) = invalid(&format!("(faults: [{faults}])"));
    assert_eq!(path, "faults");
    assert!(message.contains("limit"), "{message}");
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    for opener in ["[", "(", "{", "Some("] {
        let text = format!(
            "(faults: [(at_ms: 1.0, fault: Set(\"x\", {}",
            opener.repeat(10_000)
        );
        let (line, _, message) = syntax(&text);
        assert_eq!(line, 1);
        assert!(
            message.contains("nesting deeper than"),
            "{opener}: {message}"
        );
    }
    let dist = format!(
        "(network: (latency: {}Constant(1.0){}))",
        "Shifted(shift_ms: 1.0, dist: ".repeat(9),
        ")".repeat(9)
    );
    let (path, message) = invalid(&dist);
    assert!(path.starts_with("network.latency.dist"), "{path}");
    assert!(message.contains("nest deeper"), "{message}");
}

#[test]
fn empty_file_and_trailing_text() {
    let (line, col, message) = syntax("");
    assert_eq!((line, col), (1, 1));
    assert!(
        message.contains("expected `(` to start the scenario"),
        "{message}"
    );
    let (_, col, message) = syntax("(seed: 1) (seed: 2)");
    assert_eq!(col, 11);
    assert!(message.contains("after the end"), "{message}");
}

#[test]
fn optional_fields_need_no_some() {
    let s = from_str(
        "t.ron",
        "(network: (links: [(from: \"n1\", to: \"*\", loss: 0.5, latency: Constant(2.0))]),
          run: (ops: 10, duration_ms: None))",
    )
    .unwrap();
    assert_eq!(s.network.links[0].loss, Some(0.5));
    assert_eq!(s.run.ops, Some(10));
    assert_eq!(s.run.duration_ms, None);
    let explicit = from_str("t.ron", "(run: (ops: Some(10), duration_ms: None))").unwrap();
    assert_eq!(explicit.run, s.run);
    let with_attribute = from_str("t.ron", "#![enable(implicit_some)]\n(run: (ops: 10))").unwrap();
    assert_eq!(with_attribute.run.ops, Some(10));
    assert!(from_str("t.ron", "\u{feff}(seed: 3)").is_ok_and(|s| s.seed == 3));
}

#[test]
fn a_field_claimed_twice_in_expect_is_an_error_not_a_silently_dropped_claim() {
    let text = "(\n  run: (ops: 10),\n  expect: {\n    \"availability\": \"<0.99\",\n    \"availability\": \">0.5\",\n  },\n)";
    let (line, _, message) = syntax(text);
    assert_eq!(line, 5, "points at the second claim: {message}");
    assert!(
        message.contains("\"availability\" is given twice"),
        "{message}"
    );
    // Different fields are fine.
    let ok = "(run: (ops: 10), expect: {\"availability\": \">0.5\", \"stale_reads\": 0})";
    assert_eq!(from_str("t.ron", ok).unwrap().expect.len(), 2);
}
