//! `capsim export`: the SVG space-time diagram is well-formed, has one lane per node, stays within
//! its arrow bound and is deterministic; the CSV's time column grows and its final stale-read
//! count matches `capsim run --json`; bad input exits with code 2.

use std::path::PathBuf;
use std::process::{Command, Output};

const LESSON: &str = "scenarios/quorum-partition.ron";

fn capsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_capsim"))
        .args(args)
        .output()
        .expect("the capsim binary runs")
}

/// An output path under the temp dir no other test (or test run) uses; removed when dropped.
struct TempOut(PathBuf);

impl TempOut {
    fn new(name: &str) -> TempOut {
        TempOut(std::env::temp_dir().join(format!("capsim-export-{}-{name}", std::process::id())))
    }
    fn arg(&self) -> &str {
        self.0.to_str().expect("temp paths are UTF-8 here")
    }
    fn read(&self) -> String {
        std::fs::read_to_string(&self.0).expect("the export wrote the file")
    }
}

impl Drop for TempOut {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn export_ok(args: &[&str]) {
    let out = capsim(args);
    assert!(
        out.status.success(),
        "capsim {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every element is closed in the order it was opened (a well-formedness check without an XML
/// crate: no comments, CDATA or `>` inside attribute values in what we emit).
fn assert_tags_balance(svg: &str) {
    let mut open: Vec<&str> = Vec::new();
    let mut rest = svg;
    while let Some(start) = rest.find('<') {
        let end = rest[start..].find('>').expect("every tag is closed") + start;
        let tag = &rest[start + 1..end];
        rest = &rest[end + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(open.pop(), Some(name.trim()), "mismatched </{name}>");
        } else if !tag.ends_with('/') {
            open.push(tag.split_whitespace().next().expect("a tag has a name"));
        }
    }
    assert!(open.is_empty(), "unclosed elements: {open:?}");
    assert!(!rest.contains('>'), "a stray '>' after the last tag");
}

fn lesson_nodes() -> usize {
    let text = std::fs::read_to_string(LESSON).expect("the lesson exists");
    let scenario = capsim::scenario::from_str(LESSON, &text).expect("the lesson loads");
    scenario.nodes.count as usize
}

#[test]
fn svg_has_one_lane_per_node_and_is_deterministic() {
    let (a, b) = (TempOut::new("a.svg"), TempOut::new("b.svg"));
    for out in [&a, &b] {
        export_ok(&["export", LESSON, "--seed", "7", "--svg", out.arg()]);
    }
    let svg = a.read();
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert_tags_balance(&svg);
    let nodes = lesson_nodes();
    assert_eq!(svg.matches("class=\"lane\"").count(), nodes);
    for n in 1..=nodes {
        assert!(svg.contains(&format!("id=\"lane-n{n}\"")), "lane n{n}");
    }
    assert!(svg.matches("class=\"arrow\"").count() > 0, "messages drawn");
    assert_eq!(svg, b.read(), "same seed, same bytes");
}

#[test]
fn svg_arrows_stay_within_the_bound_and_the_caption_counts_the_rest() {
    let out = TempOut::new("long.svg");
    // The whole partition lesson in one window: far more messages than the bound.
    export_ok(&["export", LESSON, "--until-ms", "6000", "--svg", out.arg()]);
    let svg = out.read();
    assert_tags_balance(&svg);
    let drawn = svg.matches("class=\"arrow\"").count() + svg.matches("class=\"drop\"").count();
    assert_eq!(drawn, capsim::export::svg::MAX_ARROWS);
    assert!(svg.contains("more left out"), "the caption says so");
    // The partition at 2 s is marked on the lanes of both sides.
    assert_eq!(svg.matches(">cut</text>").count(), lesson_nodes());
}

#[test]
fn csv_time_grows_and_its_stale_reads_match_run_json() {
    // A lesson with stale reads, so that the count compared is not trivially zero.
    let stale_lesson = "scenarios/quorum-partition-one.ron";
    let csv = TempOut::new("m.csv");
    export_ok(&["export", stale_lesson, "--seed", "3", "--csv", csv.arg()]);
    let text = csv.read();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("a header").split(',').collect();
    assert_eq!(header[0], "time_ms");
    let stale_col = header
        .iter()
        .position(|h| *h == "stale_reads")
        .expect("column");
    let rows: Vec<Vec<f64>> = lines
        .map(|l| l.split(',').map(|v| v.parse().expect("numbers")).collect())
        .collect();
    assert!(rows.len() > 10);
    assert!(rows.iter().all(|r| r.len() == header.len()));
    assert!(rows.windows(2).all(|w| w[0][0] < w[1][0]), "time increases");
    assert!(
        rows.windows(2).all(|w| w[0][stale_col] <= w[1][stale_col]),
        "stale reads so far never decrease"
    );
    let run = capsim(&["run", stale_lesson, "--seed", "3", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&run.stdout).expect("run --json");
    let last = rows.last().expect("rows");
    assert!(last[stale_col] > 0.0, "the lesson shows stale reads");
    assert_eq!(
        last[stale_col],
        json["stale_reads"].as_f64().expect("field")
    );
    assert!((last[0] - json["sim_time_ms"].as_f64().expect("field")).abs() < 1e-3);
}

#[test]
fn trace_and_history_are_json_lines() {
    let (trace, history) = (TempOut::new("t.jsonl"), TempOut::new("h.jsonl"));
    export_ok(&[
        "export",
        LESSON,
        "--until-ms",
        "300",
        "--trace",
        trace.arg(),
        "--history",
        history.arg(),
    ]);
    for out in [&trace, &history] {
        let text = out.read();
        assert!(text.lines().count() > 0);
        for line in text.lines() {
            serde_json::from_str::<serde_json::Value>(line).expect("one JSON object a line");
        }
    }
}

#[test]
fn bad_input_exits_with_code_2() {
    let svg = TempOut::new("never.svg");
    let missing = capsim(&["export", "no/such/file.ron", "--svg", svg.arg()]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no/such/file.ron"));
    assert!(!svg.0.exists(), "nothing written for a bad scenario");
    let nothing = capsim(&["export", LESSON]);
    assert_eq!(nothing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&nothing.stderr).contains("--svg"));
    let backwards = capsim(&["export", LESSON, "--from-ms", "50", "--until-ms", "10"]);
    assert_eq!(backwards.status.code(), Some(2));
    let unwritable = capsim(&["export", LESSON, "--svg", "/no/such/dir/x.svg"]);
    assert_eq!(unwritable.status.code(), Some(2));
}
