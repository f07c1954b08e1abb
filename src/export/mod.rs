//! `capsim export`: one run written out for slides and coursework — a space-time diagram (SVG),
//! the core metrics over time (CSV), and the trace and history `capsim run` writes.
//! Every file is written atomically (see [`crate::io::AtomicFile`]).

pub mod svg;

use crate::cli::EXIT_BAD_INPUT;
use crate::engine::Options;
use crate::io::AtomicFile;
use crate::sim::Sim;
use crate::trace::jsonl;
use crate::types::SimTime;
use std::io::Write;
use std::path::PathBuf;

/// The diagram's window when `--until-ms` is not given.
pub const DEFAULT_WINDOW_MS: f64 = 200.0;
/// Simulated time between CSV rows.
pub const CSV_INTERVAL_MS: f64 = 10.0;
/// Most CSV rows; longer runs sample less often.
pub const MAX_CSV_ROWS: u64 = 10_000;

/// `capsim export`'s arguments.
#[derive(Debug, Default, clap::Args)]
pub struct ExportArgs {
    /// The scenario file.
    pub file: PathBuf,
    /// Override the scenario's seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Stop the run at T ms (default: run to the end); the diagram ends here too.
    #[arg(long, value_name = "T")]
    pub until_ms: Option<f64>,
    /// Start of the diagram's time window (ms); it spans 200 ms unless --until-ms is given.
    #[arg(long, value_name = "T", default_value_t = 0.0)]
    pub from_ms: f64,
    /// Write a space-time diagram (lanes and message arrows) as SVG.
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
    /// Write the core metrics every 10 ms of simulated time as CSV.
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// Write the Jepsen-style operation history as JSON Lines.
    #[arg(long, value_name = "FILE")]
    pub history: Option<PathBuf>,
    /// Write every trace event as JSON Lines.
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
}

pub const CSV_HEADER: &str = "time_ms,ops_completed,ok,failed,stale_reads,max_lag_ms,divergent_keys,messages_in_flight,messages_dropped";

/// One CSV row of the core metrics at the simulation's current time.
pub fn csv_row(sim: &Sim) -> String {
    let m = sim.metrics();
    format!(
        "{:.3},{},{},{},{},{:.3},{},{},{}",
        sim.now().0 as f64 / 1000.0,
        m.ok + m.failed + m.unknown,
        m.ok,
        m.failed,
        m.stale.count,
        m.replicas.max_lag_until(sim.now()) as f64 / 1000.0,
        m.replicas.divergent_now,
        sim.messages_in_flight(),
        m.messages_dropped
    )
}

/// `capsim export`: exit code 0, or 2 for a bad scenario, bad option or unwritable file.
pub fn run(args: &ExportArgs) -> i32 {
    match export(args) {
        Ok(()) => crate::cli::EXIT_OK,
        Err(e) => {
            eprintln!("capsim: {e}");
            EXIT_BAD_INPUT
        }
    }
}

fn valid_ms(name: &str, v: f64) -> Result<(), String> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(format!(
            "{name} wants a non-negative number of milliseconds"
        ))
    }
}

struct Outputs {
    trace: Option<AtomicFile>,
    history: Option<AtomicFile>,
    csv: Option<AtomicFile>,
}

fn open(path: &Option<PathBuf>) -> std::io::Result<Option<AtomicFile>> {
    path.as_deref().map(AtomicFile::create).transpose()
}

fn export(args: &ExportArgs) -> Result<(), String> {
    let mut scenario = crate::io::read_scenario(&args.file).map_err(|e| e.to_string())?;
    if let Some(seed) = args.seed {
        scenario.seed = seed;
    }
    valid_ms("--from-ms", args.from_ms)?;
    if let Some(t) = args.until_ms {
        valid_ms("--until-ms", t)?;
        if t <= args.from_ms {
            return Err("--until-ms must be later than --from-ms".into());
        }
    }
    if args.svg.is_none() && args.csv.is_none() && args.history.is_none() && args.trace.is_none() {
        return Err("export wants at least one of --svg, --csv, --history, --trace".into());
    }
    let options = Options {
        record_trace: args.trace.is_some() || args.svg.is_some(),
        recent_events: 0,
        stream_history: args.history.is_some(),
    };
    let mut sim = Sim::new(&scenario, &options);
    let window_end = args.until_ms.unwrap_or(args.from_ms + DEFAULT_WINDOW_MS);
    let mut diagram = args.svg.as_ref().map(|_| {
        svg::SpaceTime::new(
            SimTime::from_ms(args.from_ms),
            SimTime::from_ms(window_end),
            sim.node_count(),
            sim.message_kinds(),
        )
    });
    let io = |e: std::io::Error| e.to_string();
    let mut out = Outputs {
        trace: open(&args.trace).map_err(io)?,
        history: open(&args.history).map_err(io)?,
        csv: open(&args.csv).map_err(io)?,
    };
    drive(&mut sim, args.until_ms, &mut out, diagram.as_mut()).map_err(io)?;
    for f in [out.trace, out.history, out.csv].into_iter().flatten() {
        f.commit().map_err(io)?;
    }
    if let (Some(path), Some(d)) = (&args.svg, &diagram) {
        let text = d.render(&format!("{} (seed {})", scenario.title, scenario.seed));
        crate::io::write_atomic(path, text.as_bytes())
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

/// The run's length for choosing the CSV interval.
fn run_length_ms(sim: &Sim, until_ms: Option<f64>) -> f64 {
    let s = &sim.scenario().run;
    until_ms.unwrap_or(s.duration_ms.unwrap_or(10_000.0) + s.drain_ms)
}

/// Steps the run in fixed slices of simulated time, writing a CSV row after each and handing the
/// trace and history to their outputs as it goes (memory stays flat).
fn drive(
    sim: &mut Sim,
    until_ms: Option<f64>,
    out: &mut Outputs,
    mut diagram: Option<&mut svg::SpaceTime>,
) -> std::io::Result<()> {
    let interval_ms = CSV_INTERVAL_MS.max(run_length_ms(sim, until_ms) / MAX_CSV_ROWS as f64);
    let step_us = SimTime::from_ms(interval_ms).0.max(1);
    let end = until_ms.map_or(SimTime::MAX, SimTime::from_ms);
    let kinds = sim.message_kinds();
    if let Some(w) = &mut out.csv {
        writeln!(w, "{CSV_HEADER}")?;
        writeln!(w, "{}", csv_row(sim))?;
    }
    loop {
        let next = SimTime(sim.now().0.saturating_add(step_us).min(end.0));
        let before = (sim.now(), sim.trace_events());
        sim.run_until(next);
        for e in sim.drain_trace() {
            if let Some(d) = diagram.as_deref_mut() {
                d.observe(&e);
            }
            if let Some(w) = &mut out.trace {
                writeln!(w, "{}", jsonl::to_json(&e, kinds))?;
            }
        }
        if let Some(w) = &mut out.history {
            for e in sim.drain_history_stream() {
                writeln!(w, "{}", serde_json::to_string(&e).unwrap_or_default())?;
            }
        }
        let stuck = (sim.now(), sim.trace_events()) == before;
        if let Some(w) = &mut out.csv
            && !stuck
        {
            writeln!(w, "{}", csv_row(sim))?;
        }
        if sim.is_done() || sim.now() >= end || stuck {
            return Ok(());
        }
    }
}
