//! The `capsim` command line: run, validate, check, sweep and probe scenarios.
//! Exit codes: 0 ok, 1 a check failed, 2 bad input. Errors go to stderr.

use crate::check::analysis::Analysis;
use crate::check::expect;
use crate::check::report::{Linearizable, Report};
use crate::engine::Options;
use crate::scenario::{Scenario, ScenarioError};
use crate::sim::Sim;
use crate::trace::jsonl;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// `println!` that ignores a closed stdout (`capsim run ... | head -1`): the reader has what it
/// wanted, and the exit code must still be 0, 1 or 2 rather than a panic's 101.
macro_rules! out {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

// After `out!`: the module uses it.
mod log_summary;

pub const EXIT_OK: i32 = 0;
pub const EXIT_CHECK_FAILED: i32 = 1;
pub const EXIT_BAD_INPUT: i32 = 2;

/// The lesson `capsim` runs with no arguments.
pub const DEFAULT_LESSON: &str = include_str!("../scenarios/quorum-partition.ron");
pub const DEFAULT_LESSON_NAME: &str = "scenarios/quorum-partition.ron (built in)";

/// `capsim run`'s arguments (clap reads them straight into this struct).
#[derive(Debug, Default, clap::Args)]
pub struct RunArgs {
    /// The scenario file.
    // `None` only when a build without the GUI runs the built-in lesson.
    #[arg(required = true)]
    pub file: Option<PathBuf>,
    /// Override the scenario's seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Print one JSON object with every metric.
    #[arg(long)]
    pub json: bool,
    /// Write every trace event as JSON Lines.
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// Write the Jepsen-style operation history as JSON Lines.
    #[arg(long, value_name = "FILE")]
    pub history: Option<PathBuf>,
    /// Add the default random-fault mix (crashes, partitions, loss bursts) if the scenario
    /// has no random faults (what `sweep --random-faults` runs).
    #[arg(long)]
    pub random_faults: bool,
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
    if args.random_faults {
        scenario = crate::sweep::with_random_faults(&scenario);
    }
    match run_with_outputs(&scenario, args) {
        Ok((report, analysis)) => {
            if args.json {
                // Serialised from the struct, so fields keep their documented order.
                out!("{}", serde_json::to_string(&report).unwrap_or_default());
            } else {
                print_summary(&scenario, &report);
                print_findings(&scenario, &report, &analysis);
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

/// Runs to the end, streaming the trace and history to files in chunks (memory stays flat), then
/// checks the run. `wall_ms` in the report times the run alone, not the checks.
pub fn run_with_outputs(
    scenario: &Scenario,
    args: &RunArgs,
) -> std::io::Result<(Report, Analysis)> {
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
    let mut report = sim.report(started.elapsed().as_secs_f64() * 1000.0);
    let analysis = sim.analysis();
    analysis.apply_to(&mut report);
    Ok((report, analysis))
}

pub fn print_summary(s: &Scenario, r: &Report) {
    out!("{} (seed {})", s.title, r.seed);
    out!(
        "  simulated {:.1} ms in {:.0} ms of wall time ({} events)",
        r.sim_time_ms,
        r.wall_ms,
        r.events
    );
    out!(
        "  operations: {} ({} reads, {} writes, {} deletes)",
        r.ops,
        r.reads,
        r.writes,
        r.deletes
    );
    out!(
        "    ok {}  failed {}  unknown {}  availability {:.4}",
        r.ok,
        r.failed,
        r.unknown,
        r.availability
    );
    out!(
        "    latency p50 {:.2} ms  p99 {:.2} ms",
        r.latency_ms_p50,
        r.latency_ms_p99
    );
    print_stale_reads(r);
    out!("  max replication lag: {:.1} ms", r.max_replication_lag_ms);
    out!(
        "  divergent keys: max {}, at end {}{}",
        r.max_divergent_keys,
        r.divergent_keys_at_end,
        convergence(r)
    );
    if r.leader_elections > 0 {
        out!(
            "  leader elections: {} (highest term with a leader: {})",
            r.leader_elections,
            r.max_leader_term
        );
    }
    log_summary::print_log_sections(r);
    out!(
        "  messages: {} sent, {} delivered, {} dropped",
        r.messages_sent,
        r.messages_delivered,
        r.messages_dropped
    );
    out!("  trace hash {}", r.trace_hash);
}

/// When the replicas last came to agree. Without a heal `converged_after_ms` counts from time 0,
/// so it is when divergence last ended, not a time after anything.
fn convergence(r: &Report) -> String {
    if r.converged_after_ms < 0.0 || r.max_divergent_keys == 0 {
        return String::new();
    }
    match r.last_heal_ms {
        Some(heal) => format!(
            " (converged {:.1} ms after the last heal at {heal:.1} ms)",
            r.converged_after_ms
        ),
        None => format!(" (last converged at {:.1} ms)", r.converged_after_ms),
    }
}

/// Stale reads and how far behind the worst was; "at least" when some read was further behind
/// than the checker's per-key window, which makes both maxima lower bounds.
fn print_stale_reads(r: &Report) {
    if r.saturated_stale_reads == 0 {
        out!(
            "  stale reads: {} (most versions behind {}, up to {:.1} ms behind)",
            r.stale_reads,
            r.max_versions_behind,
            r.max_stale_behind_ms
        );
        return;
    }
    out!(
        "  stale reads: {} (at least {} versions behind, at least {:.1} ms behind)",
        r.stale_reads,
        r.max_versions_behind,
        r.max_stale_behind_ms
    );
    out!(
        "    {} of them beyond the checker's window of {} updates per key: depth is a lower bound",
        r.saturated_stale_reads,
        crate::check::stale::KEEP_PER_KEY
    );
}

/// The post-run checks: the linearizability verdict with its counterexample, and the first
/// example of every kind of violation found.
pub fn print_findings(s: &Scenario, r: &Report, a: &Analysis) {
    let verdict = match r.linearizable {
        Linearizable::Yes => "yes".to_string(),
        Linearizable::No => match a.non_linearizable_keys {
            1 => "no (1 key is not)".to_string(),
            n => format!("no ({n} keys are not)"),
        },
        Linearizable::Unknown => match a.unknown_key {
            Some((key, steps)) => format!("unknown (the search of k{key} used its {steps} steps)"),
            None => "unknown".to_string(),
        },
        Linearizable::NotChecked if s.run.history_limit == 0 => {
            "not checked (run.history_limit is 0: no history kept)".to_string()
        }
        Linearizable::NotChecked => format!(
            "not checked (the history was cut at run.history_limit = {} events)",
            s.run.history_limit
        ),
    };
    out!("  linearizable: {verdict}");
    let found: Vec<String> = r
        .violations
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(k, n)| format!("{} {n}", k.name()))
        .collect();
    if found.is_empty() {
        out!("  violations: none");
        return;
    }
    out!("  violations: {}", found.join(", "));
    for (kind, example) in a.examples() {
        out!("    {}: {example}", kind.name());
    }
}

pub fn validate(files: &[PathBuf]) -> i32 {
    let mut code = EXIT_OK;
    for f in files {
        match crate::io::read_scenario(f) {
            Ok(_) => out!("{}: ok", f.display()),
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
    out!(
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
    let report = sim.final_report(started.elapsed().as_secs_f64() * 1000.0);
    let outcomes = expect::evaluate(&scenario.expect, &report);
    let passed = outcomes.iter().all(|o| o.passed);
    let verdict = if passed { "PASS" } else { "FAIL" };
    out!(
        "{verdict} {} ({} expectations, {:.0} ms)",
        file.display(),
        outcomes.len(),
        report.wall_ms
    );
    for o in outcomes.iter().filter(|o| !o.passed) {
        out!("    expected {} {}, got {}", o.field, o.expected, o.actual);
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
        out!("{}", serde_json::to_string(&result).unwrap_or_default());
        return EXIT_OK;
    }
    out!(
        "{}: N={} R={} W={}, {} trials",
        scenario.title,
        result.n,
        result.r,
        result.w,
        result.trials
    );
    out!("  t (ms)   P(read sees the write)   95% interval");
    for p in &result.points {
        out!(
            "  {:>6}   {:>22.4}   [{:.4}, {:.4}]",
            p.t_ms,
            p.p_consistent,
            p.ci_low,
            p.ci_high
        );
    }
    out!("  k   P(one of last k versions)   95% interval       closed form");
    for k in &result.k_staleness {
        out!(
            "  {:>1}   {:>25.4}   [{:.4}, {:.4}]   {:.4}",
            k.k,
            k.p,
            k.ci_low,
            k.ci_high,
            k.p_closed_form
        );
    }
    EXIT_OK
}

/// Most seeds one `capsim sweep` runs.
pub const MAX_SWEEP_SEEDS: u64 = 1_000_000;

/// `capsim sweep`'s arguments.
#[derive(Debug, clap::Args)]
pub struct SweepArgs {
    /// The scenario file.
    pub file: PathBuf,
    /// How many seeds to run.
    #[arg(long)]
    pub seeds: u64,
    /// The first seed (seeds S..S+N-1 run).
    #[arg(long, default_value_t = 1)]
    pub first_seed: u64,
    /// Add the default random-fault mix (crashes, partitions, loss bursts) if the scenario
    /// has no random faults.
    #[arg(long)]
    pub random_faults: bool,
    /// Print totals per violation kind and the failing seeds as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Exit with code 1 when any run had any violation.
    #[arg(long)]
    pub fail_on_violation: bool,
}

/// `capsim sweep`: runs seeds `first_seed..first_seed + seeds` in parallel, prints every seed's
/// outcome and, per violation kind, the first failing seed with the command that replays it.
/// Exit code 0 (or 1 with `--fail-on-violation` when any violation occurred), 2 on bad input.
pub fn sweep(args: &SweepArgs) -> i32 {
    let mut scenario = match crate::io::read_scenario(&args.file) {
        Ok(s) => s,
        Err(e) => return bad_input(&e),
    };
    if args.seeds == 0 || args.seeds > MAX_SWEEP_SEEDS {
        eprintln!("capsim: --seeds must be between 1 and {MAX_SWEEP_SEEDS}");
        return EXIT_BAD_INPUT;
    }
    if args.first_seed.checked_add(args.seeds).is_none() {
        eprintln!("capsim: --first-seed plus --seeds is past the largest seed");
        return EXIT_BAD_INPUT;
    }
    let added_faults = args.random_faults && scenario.random_faults.is_empty();
    if args.random_faults {
        scenario = crate::sweep::with_random_faults(&scenario);
    }
    let started = Instant::now();
    let outcomes = crate::sweep::run_seeds(&scenario, args.first_seed, args.seeds);
    let wall_ms = started.elapsed().as_secs_f64() * 1000.0;
    let summary = crate::sweep::summarise(&outcomes);
    if args.json {
        print_sweep_json(args, &summary, wall_ms);
    } else {
        print_sweep(args, &scenario, added_faults, &outcomes, &summary, wall_ms);
    }
    if args.fail_on_violation && summary.any_violation() {
        EXIT_CHECK_FAILED
    } else {
        EXIT_OK
    }
}

/// The command that replays one seed of a sweep.
pub fn replay_command(args: &SweepArgs, seed: u64) -> String {
    let faults = if args.random_faults {
        " --random-faults"
    } else {
        ""
    };
    format!("capsim run {} --seed {seed}{faults}", args.file.display())
}

fn print_sweep_json(args: &SweepArgs, s: &crate::sweep::Summary, wall_ms: f64) {
    let replay: std::collections::BTreeMap<&str, String> = s
        .failing_seeds
        .iter()
        .map(|(kind, seeds)| (*kind, replay_command(args, seeds[0])))
        .collect();
    let json = serde_json::json!({
        "file": args.file.display().to_string(),
        "first_seed": args.first_seed,
        "seeds": args.seeds,
        "random_faults": args.random_faults,
        "runs": s.runs,
        "linearizable": s.linearizable,
        "totals": s.totals,
        "failing_seeds": s.failing_seeds,
        "replay": replay,
        "wall_ms": wall_ms,
    });
    out!("{json}");
}

fn print_sweep(
    args: &SweepArgs,
    scenario: &Scenario,
    added_faults: bool,
    outcomes: &[crate::sweep::SeedOutcome],
    s: &crate::sweep::Summary,
    wall_ms: f64,
) {
    let last = args.first_seed + args.seeds - 1;
    let faults = match (args.random_faults, added_faults) {
        (true, true) => ", with the default random faults",
        (true, false) => ", with the scenario's own random faults",
        _ => "",
    };
    out!(
        "{}: seeds {}..={last}{faults}",
        scenario.title,
        args.first_seed
    );
    out!(
        "  {:>8} {:>7} {:>6} {:>12} {:>6} {:>4} {:>4} {:>4} {:>4} {:>5} {:>5} {:>9}",
        "seed",
        "ops",
        "avail",
        "linearizable",
        "stale",
        "ryw",
        "mr",
        "mw",
        "wfr",
        "lost",
        "resur",
        "conv_ms"
    );
    for o in outcomes {
        let r = &o.report;
        let v = &r.violations;
        let conv = if r.converged_after_ms < 0.0 {
            "never".to_string()
        } else {
            format!("{:.1}", r.converged_after_ms)
        };
        out!(
            "  {:>8} {:>7} {:>6.4} {:>12} {:>6} {:>4} {:>4} {:>4} {:>4} {:>5} {:>5} {:>9}",
            o.seed,
            r.ops,
            r.availability,
            r.linearizable.as_str(),
            v.stale_read,
            v.read_your_writes,
            v.monotonic_reads,
            v.monotonic_writes,
            v.writes_follow_reads,
            v.lost_write,
            v.resurrected,
            conv
        );
    }
    print_sweep_kinds(args, s);
    let l = &s.linearizable;
    out!(
        "linearizable: {} true, {} false, {} unknown, {} not checked",
        l["true"],
        l["false"],
        l["unknown"],
        l["not_checked"]
    );
    out!(
        "swept {} seeds in {:.1} s on {} threads",
        s.runs,
        wall_ms / 1000.0,
        rayon::current_num_threads()
    );
}

fn print_sweep_kinds(args: &SweepArgs, s: &crate::sweep::Summary) {
    out!(
        "{:<22} {:>8} {:>6}  first failing seed",
        "violation",
        "total",
        "seeds"
    );
    for (kind, total) in s.totals.iter() {
        let seeds = s.failing_seeds.get(kind.name()).map_or(0, |v| v.len());
        let first = s.first_failing(kind).map_or_else(
            || "-".to_string(),
            |seed| format!("{seed}: {}", replay_command(args, seed)),
        );
        out!("{:<22} {total:>8} {seeds:>6}  {first}", kind.name());
    }
}
