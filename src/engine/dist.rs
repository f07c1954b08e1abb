//! Latency distributions, compiled from the scenario's `Dist` and sampled with `libm` (and, for
//! the exponential, a ziggurat whose tables libm builds) so that every platform draws the same
//! microseconds from the same seed.

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
        /// The ziggurat's tables, looked up once here: fetching them through the `OnceLock` on
        /// every draw was 8% of a send's time (an atomic load and a branch per message).
        tables: Zig,
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
            Dist::Exponential { mean_ms } => Sampler::Exponential {
                mean_ms: *mean_ms,
                tables: Zig(zig_tables()),
            },
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

    /// One draw, in microseconds. The exponential (the common latency model) is inlined into the
    /// caller; the others are out of line.
    #[inline]
    pub fn sample_us(&self, rng: &mut SimRng) -> u64 {
        match self {
            Sampler::Exponential { mean_ms, tables } => {
                round_us(mean_ms * 1000.0 * exp1(rng, tables.0))
            }
            _ => self.sample_other_us(rng),
        }
    }

    #[inline(never)]
    fn sample_other_us(&self, rng: &mut SimRng) -> u64 {
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
            Sampler::Exponential { mean_ms, tables } => mean_ms * exp1(rng, tables.0),
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
            Sampler::Exponential { mean_ms, .. } => *mean_ms,
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

/// Rounds a non-negative number of microseconds to the nearest whole one (NaN gives 0, values
/// beyond i64 saturate): the same on every platform, and cheaper than a call to `libm::round`.
#[inline]
fn round_us(us: f64) -> u64 {
    // Through i64: one conversion instruction on x86-64 (u64 needs several). Latencies beyond
    // 2^63 µs saturate there; the engine saturates times anyway.
    (us + 0.5) as i64 as u64
}

/// Layers of the exponential ziggurat.
const ZIG_LAYERS: usize = 256;
/// Where the base layer's tail starts for 256 layers (Marsaglia & Tsang, "The Ziggurat Method
/// for Generating Random Variables", 2000).
const ZIG_R: f64 = 7.697_117_470_131_05;

/// Layer edges `x[i]` (decreasing; `x[0]` is the base layer's virtual width, `x[256] = 0`) and
/// the density at them, `f[i] = exp(-x[i])`. Built once with libm, so identical everywhere.
pub struct ZigTables {
    x: [f64; ZIG_LAYERS + 1],
    f: [f64; ZIG_LAYERS + 1],
}

/// The shared ziggurat tables, as a sampler field. They are a pure function of constants, so
/// every `Zig` is equal to every other.
#[derive(Clone, Copy)]
pub struct Zig(&'static ZigTables);

impl PartialEq for Zig {
    fn eq(&self, _: &Zig) -> bool {
        true
    }
}

impl std::fmt::Debug for Zig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Zig")
    }
}

fn zig_tables() -> &'static ZigTables {
    static TABLES: std::sync::OnceLock<ZigTables> = std::sync::OnceLock::new();
    TABLES.get_or_init(|| {
        // Every layer (the base one with its tail included) has the same area.
        let area = (ZIG_R + 1.0) * libm::exp(-ZIG_R);
        let mut x = [0.0; ZIG_LAYERS + 1];
        x[0] = area / libm::exp(-ZIG_R);
        x[1] = ZIG_R;
        for i in 2..ZIG_LAYERS {
            x[i] = -libm::log(area / x[i - 1] + libm::exp(-x[i - 1]));
        }
        ZigTables {
            x,
            f: x.map(|x| libm::exp(-x)),
        }
    })
}

/// One standard exponential draw by the ziggurat method: about 99% of draws take one random word,
/// a multiply and a compare; the rest fall back to libm (`exp` for a layer's edge, `log` for the
/// tail). Exact like inversion, but the logarithm is off the hot path (DESIGN.md).
#[inline]
fn exp1(rng: &mut SimRng, t: &ZigTables) -> f64 {
    loop {
        let bits = rng.next_u64();
        let i = (bits & 0xff) as usize;
        // The layer index takes the low 8 bits, the position the top 53: independent.
        let x = (bits >> 11) as f64 * (1.0 / (1u64 << 53) as f64) * t.x[i];
        if x < t.x[i + 1] {
            return x;
        }
        if let Some(x) = exp1_edge(rng, t, i, x) {
            return x;
        }
    }
}

/// The rare part of a ziggurat draw: the tail beyond the base layer (exponentials are memoryless,
/// so it is `R` plus a fresh draw), or the wedge of layer `i` under the curve.
#[cold]
fn exp1_edge(rng: &mut SimRng, t: &ZigTables, i: usize, x: f64) -> Option<f64> {
    if i == 0 {
        return Some(ZIG_R - libm::log(rng.unit_open0()));
    }
    let y = t.f[i + 1] + (t.f[i] - t.f[i + 1]) * rng.unit();
    (y < libm::exp(-x)).then_some(x)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ziggurat_layers_close_at_the_top_of_the_density() {
        let t = zig_tables();
        assert!(t.x.windows(2).all(|w| w[0] > w[1]), "edges decrease");
        assert_eq!(t.x[ZIG_LAYERS], 0.0);
        // The top layer (from x[255] to 0) has the common area and ends at density 1.
        let area = (ZIG_R + 1.0) * libm::exp(-ZIG_R);
        let top = area / t.x[ZIG_LAYERS - 1] + t.f[ZIG_LAYERS - 1];
        assert!((top - 1.0).abs() < 1e-9, "top {top}");
    }

    /// Mean, and tail fractions on both sides of the ziggurat's base-layer edge (7.7): within
    /// five standard errors of Exp(1)'s.
    #[test]
    fn ziggurat_draws_follow_the_exponential() {
        let mut rng = SimRng::new(7, 1);
        let n = 400_000;
        let xs: Vec<f64> = (0..n).map(|_| exp1(&mut rng, zig_tables())).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        assert!((mean - 1.0).abs() < 5.0 / (n as f64).sqrt(), "mean {mean}");
        for cut in [0.05, 0.5, 1.0, 3.0, 6.0, 8.0] {
            let p = libm::exp(-cut);
            let above = xs.iter().filter(|x| **x > cut).count() as f64 / n as f64;
            let se = (p * (1.0 - p) / n as f64).sqrt();
            assert!(
                (above - p).abs() < 5.0 * se + 1e-6,
                "P(X > {cut}) {above} vs {p}"
            );
        }
    }
}
