//! A log-linear latency histogram (16 sub-buckets per power of two, so percentiles are within
//! about 6%). Written here rather than pulling in hdrhistogram: it is 40 lines, needs no
//! allocation after creation, and its exact behaviour is part of the deterministic report.

const SUB_BITS: u32 = 4;
const SUB: u64 = 1 << SUB_BITS;
const BUCKETS: usize = (64 - SUB_BITS as usize + 1) * SUB as usize;

#[derive(Clone, Debug)]
pub struct LatencyHistogram {
    counts: Vec<u64>,
    total: u64,
    max_us: u64,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        LatencyHistogram {
            counts: vec![0; BUCKETS],
            total: 0,
            max_us: 0,
        }
    }
}

fn bucket_of(us: u64) -> usize {
    if us < SUB {
        return us as usize;
    }
    let exp = 63 - us.leading_zeros() - SUB_BITS + 1;
    let sub = (us >> (exp - 1)) & (SUB - 1);
    (exp as u64 * SUB + sub) as usize
}

/// The largest value that falls into bucket `b` (so percentiles never under-report).
fn bucket_high(b: usize) -> u64 {
    let (exp, sub) = ((b as u64) / SUB, (b as u64) % SUB);
    if exp == 0 {
        return sub;
    }
    ((SUB + sub + 1) << (exp - 1)) - 1
}

impl LatencyHistogram {
    pub fn record(&mut self, us: u64) {
        self.counts[bucket_of(us)] += 1;
        self.total += 1;
        self.max_us = self.max_us.max(us);
    }

    pub fn count(&self) -> u64 {
        self.total
    }

    /// The q-quantile (0..=1) in microseconds; 0 when empty.
    pub fn quantile_us(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = libm::ceil(q.clamp(0.0, 1.0) * self.total as f64).max(1.0) as u64;
        let mut seen = 0;
        for (b, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return bucket_high(b).min(self.max_us);
            }
        }
        self.max_us
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_every_value_and_stay_within_six_percent() {
        for us in [
            0u64,
            1,
            15,
            16,
            17,
            31,
            32,
            100,
            1000,
            12345,
            5_000_000,
            u64::MAX / 2,
        ] {
            let b = bucket_of(us);
            assert!(bucket_high(b) >= us, "{us} above its bucket {b}");
            assert!(
                bucket_high(b) as f64 <= us as f64 * 1.0625 + 1.0,
                "{us}: bucket too wide"
            );
        }
    }

    #[test]
    fn quantiles_of_a_known_sample() {
        let mut h = LatencyHistogram::default();
        for us in 1..=1000 {
            h.record(us);
        }
        let p50 = h.quantile_us(0.5);
        let p99 = h.quantile_us(0.99);
        assert!((500..=532).contains(&p50), "p50 {p50}");
        assert!((990..=1000).contains(&p99), "p99 {p99}");
        assert_eq!(h.quantile_us(1.0), 1000);
    }
}
