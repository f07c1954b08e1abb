//! `capsim`: open a scenario (the GUI, once built with it), or run, validate and check scenarios.

use capsim::cli;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "capsim",
    version,
    about = "A deterministic teaching simulator for replicated data under network failures"
)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// Scenario to open (the built-in default lesson when omitted).
    file: Option<PathBuf>,
    /// Scenario to open (same as FILE).
    #[arg(long)]
    scenario: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Run a scenario to the end and print a summary (or JSON).
    Run {
        file: PathBuf,
        /// Override the scenario's seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Print one JSON object with every metric.
        #[arg(long)]
        json: bool,
        /// Write every trace event as JSON Lines.
        #[arg(long, value_name = "FILE")]
        trace: Option<PathBuf>,
        /// Write the Jepsen-style operation history as JSON Lines.
        #[arg(long, value_name = "FILE")]
        history: Option<PathBuf>,
        /// Add the default random-fault mix (crashes, partitions, loss bursts) if the scenario
        /// has no random faults (what `sweep --random-faults` runs).
        #[arg(long)]
        random_faults: bool,
    },
    /// Check scenario files for errors without running them.
    Validate {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Run scenarios (files or directories) and verify their `expect` blocks.
    Check {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Run a scenario under many seeds in parallel and report the violations each one found.
    Sweep {
        file: PathBuf,
        /// How many seeds to run.
        #[arg(long)]
        seeds: u64,
        /// The first seed (seeds S..S+N-1 run).
        #[arg(long, default_value_t = 1)]
        first_seed: u64,
        /// Add the default random-fault mix (crashes, partitions, loss bursts) if the scenario
        /// has no random faults.
        #[arg(long)]
        random_faults: bool,
        /// Print totals per violation kind and the failing seeds as one JSON object.
        #[arg(long)]
        json: bool,
        /// Exit with code 1 when any run had any violation.
        #[arg(long)]
        fail_on_violation: bool,
    },
    /// Probabilistically Bounded Staleness: how likely is a read t ms after a write to see it?
    Probe {
        file: PathBuf,
        /// Times after the write commits at which reads are issued (ms, comma-separated).
        #[arg(long, value_delimiter = ',', default_value = "0,1,2,5,10,20,50,100")]
        t_ms: Vec<f64>,
        /// Independent Monte Carlo trials.
        #[arg(long, default_value_t = 10_000)]
        trials: u64,
        /// Largest k for k-staleness.
        #[arg(long, default_value_t = 5)]
        k_max: u32,
        #[arg(long)]
        json: bool,
    },
}

fn main() {
    let args = Args::parse();
    let code = match args.command {
        Some(Command::Run {
            file,
            seed,
            json,
            trace,
            history,
            random_faults,
        }) => cli::run(&cli::RunArgs {
            file: Some(file),
            seed,
            json,
            trace,
            history,
            random_faults,
        }),
        Some(Command::Sweep {
            file,
            seeds,
            first_seed,
            random_faults,
            json,
            fail_on_violation,
        }) => cli::sweep(&cli::SweepArgs {
            file,
            seeds,
            first_seed,
            random_faults,
            json,
            fail_on_violation,
        }),
        Some(Command::Validate { files }) => cli::validate(&files),
        Some(Command::Check { paths }) => cli::check(&paths),
        Some(Command::Probe {
            file,
            t_ms,
            trials,
            k_max,
            json,
        }) => cli::probe(&file, &t_ms, trials, k_max, json),
        None => open(args.scenario.or(args.file)),
    };
    std::process::exit(code);
}

/// Without the GUI, opening a scenario runs it and prints its summary.
fn open(file: Option<PathBuf>) -> i32 {
    cli::run(&cli::RunArgs {
        file,
        ..Default::default()
    })
}
