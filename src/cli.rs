//! The `capsim` command line: run, validate and check scenarios.
//! Exit codes: 0 ok, 1 a check failed, 2 bad input. Errors go to stderr.

use crate::check::expect;
use crate::check::report::Report;
use crate::engine::Options;
use crate::scenario::{Scenario, ScenarioError};
use crate::sim::Sim;
use crate::trace::jsonl;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

pub const EXIT_OK: i32 = 0;
pub const EXIT_CHECK_FAILED: i32 = 1;
pub const EXIT_BAD_INPUT: i32 = 2;

/// The lesson `capsim` runs with no arguments.
pub const DEFAULT_LESSON: &str = include_str!("../scenarios/quorum-partition.ron");
pub const DEFAULT_LESSON_NAME: &str = "scenarios/quorum-partition.ron (built in)";

#[derive(Debug, Default)]
pub struct RunArgs {
    pub file: Option<PathBuf>,
    pub seed: Option<u64>,
    pub json: bool,
    pub trace: Option<PathBuf>,
    pub history: Option<PathBuf>,
}

/// Loads the scenario named on the command line, or the built-in default lesson.
pub fn load(file: Option<&Path>) -> Result<Scenario, ScenarioError> {
    match file {
        Some(p) => crate::io::read_scenario(p),
        None => crate::scenario::from_str(DEFAULT_LESSON_NAME, DEFAULT_LESSON),
    }
}

pub fn run(args: &RunArgs) -> i32 {
    let mut scenario = match load(args.file.as_deref()) {
        Ok(s) => s,
        Err(e) => return bad_input(&e),
    };
    if let Some(seed) = args.seed {
        scenario.seed = seed;
    }
    match run_with_outputs(&scenario, args) {
        Ok(report) => {
            if args.json {
                // Serialised from the struct, so fields keep their documented order.
                println!("{}", serde_json::to_string(&report).unwrap_or_default());
            } else {
                print_summary(&scenario, &report);
            }
            EXIT_OK
        }
        Err(e) => {
            eprintln!("capsim: {e}");
            EXIT_BAD_INPUT
        }
    }
}

fn bad_input(e: &ScenarioError) -> i32 {
    eprintln!("capsim: {e}");
    EXIT_BAD_INPUT
}

/// Opens an output file for streaming JSON lines.
fn create(path: &Option<PathBuf>) -> std::io::Result<Option<BufWriter<std::fs::File>>> {
    path.as_ref()
        .map(|p| {
            std::fs::File::create(p)
                .map(BufWriter::new)
                .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", p.display())))
        })
        .transpose()
}

/// Runs to the end, streaming the trace and history to files in chunks (memory stays flat).
pub fn run_with_outputs(scenario: &Scenario, args: &RunArgs) -> std::io::Result<Report> {
    let options = Options {
        record_trace: args.trace.is_some(),
        recent_events: 0,
        stream_history: args.history.is_some(),
    };
    let mut trace_out = create(&args.trace)?;
    let mut history_out = create(&args.history)?;
    let started = Instant::now();
    let mut sim = Sim::new(scenario, &options);
    let kinds = sim.message_kinds();
    loop {
        let more = sim.run_for(65_536) == 65_536;
        if let Some(w) = &mut trace_out {
            for e in sim.drain_trace() {
                writeln!(w, "{}", jsonl::to_json(&e, kinds))?;
            }
        }
        if let Some(w) = &mut history_out {
            for e in sim.drain_history_stream() {
                writeln!(w, "{}", serde_json::to_string(&e).unwrap_or_default())?;
            }
        }
        if !more {
            break;
        }
    }
    for w in [trace_out.as_mut(), history_out.as_mut()]
        .into_iter()
        .flatten()
    {
        w.flush()?;
    }
    Ok(sim.report(started.elapsed().as_secs_f64() * 1000.0))
}

pub fn print_summary(s: &Scenario, r: &Report) {
    println!("{} (seed {})", s.title, r.seed);
    println!(
        "  simulated {:.1} ms in {:.0} ms of wall time ({} events)",
        r.sim_time_ms, r.wall_ms, r.events
    );
    println!(
        "  operations: {} ({} reads, {} writes, {} deletes)",
        r.ops, r.reads, r.writes, r.deletes
    );
    println!(
        "    ok {}  failed {}  unknown {}  availability {:.4}",
        r.ok, r.failed, r.unknown, r.availability
    );
    println!(
        "    latency p50 {:.2} ms  p99 {:.2} ms",
        r.latency_ms_p50, r.latency_ms_p99
    );
    println!(
        "  stale reads: {} (most versions behind {}, up to {:.1} ms behind)",
        r.stale_reads, r.max_versions_behind, r.max_stale_behind_ms
    );
    println!("  max replication lag: {:.1} ms", r.max_replication_lag_ms);
    println!(
        "  divergent keys: max {}, at end {}",
        r.max_divergent_keys, r.divergent_keys_at_end
    );
    println!(
        "  messages: {} sent, {} delivered, {} dropped",
        r.messages_sent, r.messages_delivered, r.messages_dropped
    );
    println!("  trace hash {}", r.trace_hash);
}

pub fn validate(files: &[PathBuf]) -> i32 {
    let mut code = EXIT_OK;
    for f in files {
        match crate::io::read_scenario(f) {
            Ok(_) => println!("{}: ok", f.display()),
            Err(e) => code = bad_input(&e),
        }
    }
    code
}

/// Runs each scenario and its `expect` block; prints pass/fail with the failing assertions.
pub fn check(paths: &[PathBuf]) -> i32 {
    let mut files = Vec::new();
    for p in paths {
        match crate::io::scenario_files(p) {
            Ok(f) => files.extend(f),
            Err(e) => {
                return bad_input(&ScenarioError::Unreadable {
                    file: p.display().to_string(),
                    reason: e.to_string(),
                });
            }
        }
    }
    let (mut failed, mut bad) = (0, 0);
    for f in &files {
        match check_one(f) {
            Ok(true) => {}
            Ok(false) => failed += 1,
            Err(e) => {
                bad += 1;
                eprintln!("capsim: {e}");
            }
        }
    }
    println!(
        "{} passed, {} failed",
        files.len() - failed - bad,
        failed + bad
    );
    if bad > 0 {
        EXIT_BAD_INPUT
    } else if failed > 0 {
        EXIT_CHECK_FAILED
    } else {
        EXIT_OK
    }
}

fn check_one(file: &Path) -> Result<bool, ScenarioError> {
    let scenario = crate::io::read_scenario(file)?;
    let started = Instant::now();
    let mut sim = Sim::new(&scenario, &Options::default());
    sim.run_to_end();
    let report = sim.report(started.elapsed().as_secs_f64() * 1000.0);
    let outcomes = expect::evaluate(&scenario.expect, &report);
    let passed = outcomes.iter().all(|o| o.passed);
    let verdict = if passed { "PASS" } else { "FAIL" };
    println!(
        "{verdict} {} ({} expectations, {:.0} ms)",
        file.display(),
        outcomes.len(),
        report.wall_ms
    );
    for o in outcomes.iter().filter(|o| !o.passed) {
        println!("    expected {} {}, got {}", o.field, o.expected, o.actual);
    }
    Ok(passed)
}

/// `capsim probe`: t-visibility and k-staleness of a leaderless scenario (see `check::probe`).
pub fn probe(file: &Path, t_ms: &[f64], trials: u64, k_max: u32, json: bool) -> i32 {
    let scenario = match crate::io::read_scenario(file) {
        Ok(s) => s,
        Err(e) => return bad_input(&e),
    };
    let result = match crate::check::probe::probe(&scenario, t_ms, trials, k_max.clamp(1, 1000)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("capsim: {}: {e}", file.display());
            return EXIT_BAD_INPUT;
        }
    };
    if json {
        println!("{}", serde_json::to_string(&result).unwrap_or_default());
        return EXIT_OK;
    }
    println!(
        "{}: N={} R={} W={}, {} trials",
        scenario.title, result.n, result.r, result.w, result.trials
    );
    println!("  t (ms)   P(read sees the write)   95% interval");
    for p in &result.points {
        println!(
            "  {:>6}   {:>22.4}   [{:.4}, {:.4}]",
            p.t_ms, p.p_consistent, p.ci_low, p.ci_high
        );
    }
    println!("  k   P(one of last k versions)   95% interval       closed form");
    for k in &result.k_staleness {
        println!(
            "  {:>1}   {:>25.4}   [{:.4}, {:.4}]   {:.4}",
            k.k, k.p, k.ci_low, k.ci_high, k.p_closed_form
        );
    }
    EXIT_OK
}
