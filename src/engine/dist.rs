//! Latency distributions, compiled from the scenario's `Dist` and sampled with `libm`
//! so that every platform draws the same microseconds from the same seed.

use super::rng::SimRng;
use crate::scenario::schema::Dist;

/// A compiled distribution; samples are in whole microseconds.
#[derive(Clone, Debug, PartialEq)]
pub enum Sampler {
    Constant(u64),
    Uniform {
        min_ms: f64,
        max_ms: f64,
    },
    Normal {
        mean_ms: f64,
        std_ms: f64,
    },
    Exponential {
        mean_ms: f64,
    },
    Pareto {
        scale_ms: f64,
        inv_shape: f64,
    },
    LogNormal {
        mu: f64,
        sigma: f64,
    },
    /// Cumulative weights (normalised to end at 1.0) and the components.
    Mixture {
        cumulative: Vec<f64>,
        parts: Vec<Sampler>,
    },
    Shifted {
        shift_us: u64,
        inner: Box<Sampler>,
    },
}

/// Redraws of a truncated normal before giving up and returning 0. Validation requires
/// `mean_ms >= 0`, so each draw is accepted with probability at least 1/2.
const MAX_NORMAL_REDRAWS: u32 = 64;

impl Sampler {
    /// Compiles a validated distribution.
    pub fn new(dist: &Dist) -> Sampler {
        match dist {
            Dist::Constant(ms) => Sampler::Constant(crate::types::ms_to_us(*ms)),
            Dist::Uniform { min_ms, max_ms } => Sampler::Uniform {
                min_ms: *min_ms,
                max_ms: *max_ms,
            },
            Dist::Normal { mean_ms, std_ms } => Sampler::Normal {
                mean_ms: *mean_ms,
                std_ms: *std_ms,
            },
            Dist::Exponential { mean_ms } => Sampler::Exponential { mean_ms: *mean_ms },
            Dist::Pareto { scale_ms, shape } => Sampler::Pareto {
                scale_ms: *scale_ms,
                inv_shape: 1.0 / *shape,
            },
            Dist::LogNormal { mu, sigma } => Sampler::LogNormal {
                mu: *mu,
                sigma: *sigma,
            },
            Dist::Mixture(parts) => Self::mixture(parts),
            Dist::Shifted { shift_ms, dist } => Sampler::Shifted {
                shift_us: crate::types::ms_to_us(*shift_ms),
                inner: Box::new(Sampler::new(dist)),
            },
        }
    }

    fn mixture(parts: &[(f64, Dist)]) -> Sampler {
        let total: f64 = parts.iter().map(|(w, _)| w.max(0.0)).sum();
        let mut acc = 0.0;
        let mut cumulative = Vec::with_capacity(parts.len());
        for (w, _) in parts {
            acc += w.max(0.0) / total;
            cumulative.push(acc);
        }
        if let Some(last) = cumulative.last_mut() {
            *last = 1.0;
        }
        Sampler::Mixture {
            cumulative,
            parts: parts.iter().map(|(_, d)| Sampler::new(d)).collect(),
        }
    }

    /// One draw, in microseconds.
    pub fn sample_us(&self, rng: &mut SimRng) -> u64 {
        match self {
            Sampler::Constant(us) => *us,
            Sampler::Shifted { shift_us, inner } => shift_us.saturating_add(inner.sample_us(rng)),
            Sampler::Mixture { cumulative, parts } => {
                let u = rng.unit();
                let i = cumulative
                    .iter()
                    .position(|c| u < *c)
                    .unwrap_or(parts.len() - 1);
                parts[i].sample_us(rng)
            }
            other => crate::types::ms_to_us(other.sample_ms(rng)),
        }
    }

    fn sample_ms(&self, rng: &mut SimRng) -> f64 {
        match self {
            Sampler::Uniform { min_ms, max_ms } => min_ms + (max_ms - min_ms) * rng.unit(),
            Sampler::Normal { mean_ms, std_ms } => truncated_normal(rng, *mean_ms, *std_ms),
            Sampler::Exponential { mean_ms } => -mean_ms * libm::log(rng.unit_open0()),
            Sampler::Pareto {
                scale_ms,
                inv_shape,
            } => scale_ms * libm::pow(rng.unit_open0(), -inv_shape),
            Sampler::LogNormal { mu, sigma } => libm::exp(mu + sigma * standard_normal(rng)),
            Sampler::Constant(_) | Sampler::Mixture { .. } | Sampler::Shifted { .. } => {
                self.sample_us(rng) as f64 / 1000.0
            }
        }
    }

    /// The distribution's mean in milliseconds (for documentation, tests and the GUI).
    pub fn mean_ms(&self) -> f64 {
        match self {
            Sampler::Constant(us) => *us as f64 / 1000.0,
            Sampler::Uniform { min_ms, max_ms } => (min_ms + max_ms) / 2.0,
            Sampler::Normal { mean_ms, std_ms } => truncated_normal_mean(*mean_ms, *std_ms),
            Sampler::Exponential { mean_ms } => *mean_ms,
            Sampler::Pareto {
                scale_ms,
                inv_shape,
            } => {
                let shape = 1.0 / inv_shape;
                if shape <= 1.0 {
                    f64::INFINITY
                } else {
                    shape * scale_ms / (shape - 1.0)
                }
            }
            Sampler::LogNormal { mu, sigma } => libm::exp(mu + sigma * sigma / 2.0),
            Sampler::Mixture { cumulative, parts } => {
                let mut prev = 0.0;
                let mut mean = 0.0;
                for (c, p) in cumulative.iter().zip(parts) {
                    mean += (c - prev) * p.mean_ms();
                    prev = *c;
                }
                mean
            }
            Sampler::Shifted { shift_us, inner } => *shift_us as f64 / 1000.0 + inner.mean_ms(),
        }
    }
}

/// Box–Muller with libm: one standard normal draw.
fn standard_normal(rng: &mut SimRng) -> f64 {
    let u1 = rng.unit_open0();
    let u2 = rng.unit();
    libm::sqrt(-2.0 * libm::log(u1)) * libm::cos(2.0 * std::f64::consts::PI * u2)
}

fn truncated_normal(rng: &mut SimRng, mean: f64, std: f64) -> f64 {
    for _ in 0..MAX_NORMAL_REDRAWS {
        let x = mean + std * standard_normal(rng);
        if x >= 0.0 {
            return x;
        }
    }
    0.0
}

/// Mean of a normal truncated to [0, inf): mean + std * phi(a) / (1 - Phi(a)), a = -mean/std.
fn truncated_normal_mean(mean: f64, std: f64) -> f64 {
    if std <= 0.0 {
        return mean.max(0.0);
    }
    let a = -mean / std;
    let pdf = libm::exp(-a * a / 2.0) / libm::sqrt(2.0 * std::f64::consts::PI);
    let tail = 0.5 * libm::erfc(a / std::f64::consts::SQRT_2);
    mean + std * pdf / tail
}
