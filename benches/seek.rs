//! `cargo bench --bench seek` (or, reusing a release build, `cargo bench --bench seek --profile
//! release`): how long the desktop app's time line takes to seek in a run of over a million
//! events (issue 7: at most 100 ms anywhere).
//!
//! It drives `gui::session::Session` directly, which is what the worker thread does for a
//! `Command::Seek` (the worker only slices the same work so it can keep answering). The run is
//! the benchmark scenario cut to enough operations for more than a million events; seeks go to
//! random times, alternating from wherever the previous seek left the run. A plain
//! `harness = false` binary: no timing assertions anywhere.

use capsim::gui::session::Session;
use capsim::types::SimTime;
use std::time::Instant;

const SEEKS: usize = 200;
const MIN_EVENTS: u64 = 1_000_000;

fn main() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/bench-quorum.ron");
    let mut scenario = match capsim::io::read_scenario(&path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    scenario.run.ops = Some(200_000);
    let started = Instant::now();
    let mut session = Session::new(scenario);
    session.advance_to(SimTime::MAX, None);
    let (end, events) = (session.now(), session.steps);
    println!(
        "straight run: {events} events, {:.1} ms simulated, {:.2} s wall, {} checkpoints",
        end.as_ms(),
        started.elapsed().as_secs_f64(),
        session.checkpoint_count()
    );
    if events < MIN_EVENTS {
        eprintln!("the run has fewer than {MIN_EVENTS} events; raise run.ops");
        std::process::exit(2);
    }
    let (mut back, mut forward) = (Vec::new(), Vec::new());
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    for _ in 0..SEEKS {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let target = SimTime(rng % (end.0 + 1));
        let from = session.now();
        let t0 = Instant::now();
        session.seek(target);
        let ms = t0.elapsed().as_secs_f64() * 1000.0;
        assert_eq!(session.now(), target);
        if target < from {
            &mut back
        } else {
            &mut forward
        }
        .push(ms);
    }
    println!("{}", summary("back", &mut back));
    println!("{}", summary("forward", &mut forward));
    println!("checkpoints at the end: {}", session.checkpoint_count());
}

fn summary(name: &str, t: &mut [f64]) -> String {
    if t.is_empty() {
        return format!("{name}: no seeks");
    }
    t.sort_by(f64::total_cmp);
    format!(
        "{name:8} {} seeks: min {:.1} ms, median {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        t.len(),
        t[0],
        t[t.len() / 2],
        t[((t.len() - 1) as f64 * 0.99).round() as usize],
        t[t.len() - 1]
    )
}
