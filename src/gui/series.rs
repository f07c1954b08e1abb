//! Time series for the plots, sampled by the worker at fixed steps of simulated time.
//!
//! Window-based numbers (availability, latency percentiles, throughput) come from the operation
//! history the engine streams; levels (lag, messages in flight, divergent keys) are read from the
//! simulation at each sample time. The sampler's state is part of a checkpoint, so a rewound and
//! replayed run redraws exactly the same curves.

use crate::check::history::{EventType, HistoryEvent};
use crate::sim::Sim;
use crate::types::SimTime;
use std::collections::BTreeMap;

/// Most samples kept per run; later samples are not recorded (the plots say so).
pub const MAX_SAMPLES: usize = 20_000;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Series {
    pub interval_ms: f64,
    pub t_ms: Vec<f64>,
    /// `lag_ms[node][i]`: each replica's replication lag.
    pub lag_ms: Vec<Vec<f64>>,
    /// Stale reads completed in each interval.
    pub stale: Vec<f64>,
    /// ok / completed in each interval (NaN when nothing completed).
    pub availability: Vec<f64>,
    pub p50_ms: Vec<f64>,
    pub p99_ms: Vec<f64>,
    /// Successful operations per second of simulated time.
    pub throughput: Vec<f64>,
    pub in_flight: Vec<f64>,
    pub divergent: Vec<f64>,
}

impl Series {
    pub fn len(&self) -> usize {
        self.t_ms.len()
    }
    pub fn is_empty(&self) -> bool {
        self.t_ms.is_empty()
    }
    pub fn truncate(&mut self, n: usize) {
        self.t_ms.truncate(n);
        self.lag_ms.iter_mut().for_each(|v| v.truncate(n));
        for v in [
            &mut self.stale,
            &mut self.availability,
            &mut self.p50_ms,
            &mut self.p99_ms,
            &mut self.throughput,
            &mut self.in_flight,
            &mut self.divergent,
        ] {
            v.truncate(n);
        }
    }
}

/// What the sampler remembers between samples (cloned into checkpoints).
#[derive(Clone, Debug, Default)]
pub struct SamplerState {
    pub interval_us: u64,
    pub next_us: u64,
    /// Invocation time of each open operation, by process.
    invoked: BTreeMap<u64, u64>,
    window_latency_us: Vec<u64>,
    window_ok: u64,
    window_done: u64,
    stale_seen: u64,
}

impl SamplerState {
    pub fn new(sim: &Sim) -> SamplerState {
        let s = sim.scenario();
        let run_ms = s.run.duration_ms.unwrap_or(10_000.0) + s.run.drain_ms;
        // About 200 samples per run: windows long enough to hold several operations each.
        let interval_us = ((run_ms * 1000.0 / 200.0) as u64).clamp(1_000, 1_000_000);
        SamplerState {
            interval_us,
            next_us: interval_us,
            ..SamplerState::default()
        }
    }

    /// Takes the history the engine streamed since the last call into the current window.
    fn absorb_history(&mut self, events: Vec<HistoryEvent>) {
        for e in events {
            match e.kind {
                EventType::Invoke => {
                    self.invoked.insert(e.process, e.time_us);
                }
                outcome => {
                    let started = self.invoked.remove(&e.process);
                    self.window_done += 1;
                    if outcome == EventType::Ok {
                        self.window_ok += 1;
                        if let Some(t) = started {
                            self.window_latency_us.push(e.time_us.saturating_sub(t));
                        }
                    }
                }
            }
        }
    }

    /// Records every sample point strictly before `before` (the next event's time): nothing
    /// happens between now and then, so the simulation's state is the state at those times.
    pub fn sample_until(&mut self, sim: &mut Sim, before: SimTime, series: &mut Series) {
        if self.next_us >= before.0 {
            return;
        }
        self.absorb_history(sim.drain_history_stream());
        while self.next_us < before.0 {
            if series.len() < MAX_SAMPLES {
                self.record(sim, SimTime(self.next_us), series);
            }
            self.window_latency_us.clear();
            self.window_ok = 0;
            self.window_done = 0;
            self.next_us += self.interval_us;
        }
    }

    fn record(&mut self, sim: &Sim, at: SimTime, series: &mut Series) {
        let m = sim.metrics();
        let n = sim.node_count();
        series.interval_ms = self.interval_us as f64 / 1000.0;
        series.lag_ms.resize(n, Vec::new());
        for node in 0..n {
            let lag = m.replicas.lag_us(crate::types::NodeId(node as u16), at);
            series.lag_ms[node].push(lag as f64 / 1000.0);
        }
        series.t_ms.push(at.as_ms());
        series.stale.push((m.stale.count - self.stale_seen) as f64);
        self.stale_seen = m.stale.count;
        series.availability.push(if self.window_done == 0 {
            f64::NAN
        } else {
            self.window_ok as f64 / self.window_done as f64
        });
        let lat = &mut self.window_latency_us;
        lat.sort_unstable();
        series.p50_ms.push(quantile_ms(lat, 0.5));
        series.p99_ms.push(quantile_ms(lat, 0.99));
        series
            .throughput
            .push(self.window_ok as f64 * 1e6 / self.interval_us as f64);
        series.in_flight.push(sim.messages_in_flight() as f64);
        series.divergent.push(m.replicas.divergent_now as f64);
    }
}

/// Nearest-rank quantile of sorted latencies, in ms (NaN when there are none).
fn quantile_ms(sorted_us: &[u64], q: f64) -> f64 {
    if sorted_us.is_empty() {
        return f64::NAN;
    }
    let rank = (q * sorted_us.len() as f64).ceil() as usize;
    sorted_us[rank.clamp(1, sorted_us.len()) - 1] as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_quantiles() {
        let v = [1000, 2000, 3000, 4000];
        assert_eq!(quantile_ms(&v, 0.5), 2.0);
        assert_eq!(quantile_ms(&v, 0.99), 4.0);
        assert!(quantile_ms(&[], 0.5).is_nan());
    }
}
