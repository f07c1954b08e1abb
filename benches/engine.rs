//! `cargo bench --bench engine`: runs the benchmark scenario and prints simulated operations and
//! events per second of wall time, and peak memory for 1x and 10x the operation count.
//! A plain `harness = false` binary (no criterion): the numbers are whole-run throughput, which is
//! what the target is stated in, and it keeps CI's build small.

use capsim::Sim;
use capsim::engine::Options;
use std::time::Instant;

fn main() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/bench-quorum.ron");
    let base = match capsim::io::read_scenario(&path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let scale: u64 = std::env::var("CAPSIM_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let ops = base.run.ops.unwrap_or(1_000_000) * scale;
    println!("benchmark: {} ({} ops)", base.title, ops);
    let mut best = f64::MAX;
    for round in 1..=3 {
        let mut s = base.clone();
        s.run.ops = Some(ops);
        let started = Instant::now();
        let mut sim = Sim::new(&s, &Options::default());
        sim.run_to_end();
        let secs = started.elapsed().as_secs_f64();
        let r = sim.report(secs * 1000.0);
        best = best.min(secs);
        println!(
            "round {round}: {:.3} s wall, {:.2} M ops/s, {:.2} M events/s, stale_reads {}, trace_hash {}",
            secs,
            r.ops as f64 / secs / 1e6,
            r.events as f64 / secs / 1e6,
            r.stale_reads,
            r.trace_hash
        );
    }
    println!("best: {:.2} M ops/s", ops as f64 / best / 1e6);
    if let Some(kb) = peak_rss_kb() {
        println!("peak resident memory: {:.1} MB", kb as f64 / 1024.0);
    }
}

/// Peak resident set size from /proc (Linux); None elsewhere.
fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
