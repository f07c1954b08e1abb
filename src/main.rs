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
    /// Run the simulation to this time (ms) before showing it.
    #[arg(long, value_name = "T")]
    until_ms: Option<f64>,
    /// Save a PNG screenshot of the window once it shows time T, then exit.
    #[arg(long, value_name = "PNG")]
    screenshot: Option<PathBuf>,
    /// Window size in points, e.g. 1024x768.
    #[arg(long, value_name = "WxH")]
    window_size: Option<String>,
    /// Side panel to show first: log, plots, inspect, storage or policy.
    #[arg(long, value_name = "TAB")]
    tab: Option<String>,
    /// Colour theme: dark or light (default: as last used).
    #[arg(long, value_name = "THEME")]
    theme: Option<String>,
    /// Central view to show first: cluster or spacetime.
    #[arg(long, value_name = "VIEW")]
    view: Option<String>,
    /// Start in presenter mode (big, high contrast, speaker notes; F5 toggles it).
    #[arg(long)]
    presenter: bool,
    /// Open the "Why?" explanation of the latest stale read (after --until-ms).
    #[arg(long)]
    explain_last: bool,
    /// Draw N frames without a window (after --until-ms) and print the UI's frame times.
    #[arg(long, value_name = "N")]
    bench_frames: Option<usize>,
    /// Open compare mode: FILE_B side by side with the scenario, on its seed and faults.
    #[arg(long, value_name = "FILE_B")]
    compare: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Run a scenario to the end and print a summary (or JSON).
    Run(cli::RunArgs),
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
    Sweep(cli::SweepArgs),
    /// Write one run out for slides: a space-time diagram (SVG), metrics over time (CSV),
    /// the trace and the history.
    Export(capsim::export::ExportArgs),
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
        Some(Command::Run(run)) => cli::run(&run),
        Some(Command::Sweep(sweep)) => cli::sweep(&sweep),
        Some(Command::Export(export)) => capsim::export::run(&export),
        Some(Command::Validate { files }) => cli::validate(&files),
        Some(Command::Check { paths }) => cli::check(&paths),
        Some(Command::Probe {
            file,
            t_ms,
            trials,
            k_max,
            json,
        }) => cli::probe(&file, &t_ms, trials, k_max, json),
        None => open(args),
    };
    std::process::exit(code);
}

/// Opens a scenario in the desktop app.
#[cfg(feature = "gui")]
fn open(args: Args) -> i32 {
    let file = args.scenario.or(args.file);
    let scenario = match cli::load(file.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("capsim: {e}");
            return cli::EXIT_BAD_INPUT;
        }
    };
    let window_size = match args.window_size.as_deref().map(parse_size) {
        Some(Some(size)) => Some(size),
        Some(None) => {
            eprintln!("capsim: --window-size wants WIDTHxHEIGHT, e.g. 1024x768");
            return cli::EXIT_BAD_INPUT;
        }
        None => None,
    };
    let tab = match args.tab.as_deref().map(capsim::gui::app::Tab::parse) {
        Some(None) => {
            eprintln!("capsim: --tab wants one of: log, plots, inspect, storage, policy");
            return cli::EXIT_BAD_INPUT;
        }
        Some(t) => t,
        None => None,
    };
    let dark = match args.theme.as_deref() {
        None => None,
        Some("dark") => Some(true),
        Some("light") => Some(false),
        Some(_) => {
            eprintln!("capsim: --theme wants dark or light");
            return cli::EXIT_BAD_INPUT;
        }
    };
    let view = match args.view.as_deref().map(capsim::gui::app::View::parse) {
        Some(None) => {
            eprintln!("capsim: --view wants cluster or spacetime");
            return cli::EXIT_BAD_INPUT;
        }
        Some(v) => v,
        None => None,
    };
    if args.until_ms.is_some_and(|t| !(t.is_finite() && t >= 0.0)) {
        eprintln!("capsim: --until-ms wants a non-negative number of milliseconds");
        return cli::EXIT_BAD_INPUT;
    }
    let compare = match args.compare.as_deref().map(capsim::io::read_scenario) {
        None => None,
        Some(Ok(b)) => match capsim::compare::match_faults(&scenario, &b) {
            Ok(_) => Some(b),
            Err(e) => {
                eprintln!("capsim: --compare: {e}");
                return cli::EXIT_BAD_INPUT;
            }
        },
        Some(Err(e)) => {
            eprintln!("capsim: --compare: {e}");
            return cli::EXIT_BAD_INPUT;
        }
    };
    if let Some(frames) = args.bench_frames {
        return bench_frames(capsim::gui::bench::BenchFrames {
            scenario,
            until_ms: args.until_ms.unwrap_or(0.0),
            frames,
            size: window_size.unwrap_or([1280.0, 800.0]),
            tab: tab.unwrap_or(capsim::gui::app::Tab::Log),
            view: view.unwrap_or_default(),
        });
    }
    capsim::gui::run(capsim::gui::Launch {
        scenario,
        until_ms: args.until_ms,
        screenshot: args.screenshot,
        window_size,
        tab,
        dark,
        compare,
        view,
        presenter: args.presenter,
        explain_last: args.explain_last,
    })
}

#[cfg(feature = "gui")]
fn bench_frames(b: capsim::gui::bench::BenchFrames) -> i32 {
    if b.frames == 0 {
        eprintln!("capsim: --bench-frames wants at least one frame");
        return cli::EXIT_BAD_INPUT;
    }
    println!(
        "{}: {} nodes, {}x{} points, at {} ms",
        b.scenario.title, b.scenario.nodes.count, b.size[0], b.size[1], b.until_ms
    );
    match capsim::gui::bench::run(b) {
        Ok(phases) => {
            phases
                .iter()
                .for_each(|p| println!("{}", capsim::gui::bench::summary(p)));
            0
        }
        Err(e) => {
            eprintln!("capsim: {e}");
            1
        }
    }
}

#[cfg(feature = "gui")]
fn parse_size(s: &str) -> Option<[f32; 2]> {
    let (w, h) = s.split_once('x')?;
    let (w, h): (u16, u16) = (w.trim().parse().ok()?, h.trim().parse().ok()?);
    (w >= 320 && h >= 240).then_some([w as f32, h as f32])
}

/// Without the GUI, opening a scenario runs it and prints its summary.
#[cfg(not(feature = "gui"))]
fn open(args: Args) -> i32 {
    if args.until_ms.is_some()
        || args.screenshot.is_some()
        || args.window_size.is_some()
        || args.tab.is_some()
        || args.theme.is_some()
        || args.view.is_some()
        || args.presenter
        || args.bench_frames.is_some()
        || args.compare.is_some()
        || args.explain_last
    {
        eprintln!("capsim: built without the GUI; window options are ignored");
    }
    cli::run(&cli::RunArgs {
        file: args.scenario.or(args.file),
        ..Default::default()
    })
}
