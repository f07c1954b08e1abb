//! The one seeded random number generator, forked into independent streams.
//!
//! ChaCha8 supports 2^64 independent streams under one key, so each consumer (network, workload,
//! faults, each node) draws from its own stream: adding a client does not shift the network's draws.

use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[derive(Clone, Debug)]
pub struct SimRng(ChaCha8Rng);

/// Stream numbers. Per-node streams start at `NODE_BASE`.
pub mod stream {
    pub const NETWORK: u64 = 1;
    pub const WORKLOAD: u64 = 2;
    pub const FAULTS: u64 = 3;
    pub const PROBE: u64 = 4;
    /// The client-to-node hop (`workload.client_latency`).
    pub const CLIENT_HOP: u64 = 5;
    pub const NODE_BASE: u64 = 1 << 32;
}

impl SimRng {
    pub fn new(seed: u64, stream: u64) -> SimRng {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(stream);
        SimRng(rng)
    }

    pub fn for_node(seed: u64, node: usize) -> SimRng {
        SimRng::new(seed, stream::NODE_BASE + node as u64)
    }

    /// Uniform in [0, 1), from 53 random bits (identical on every platform).
    #[inline]
    pub fn unit(&mut self) -> f64 {
        (self.0.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in (0, 1]: safe to take the logarithm of.
    #[inline]
    pub fn unit_open0(&mut self) -> f64 {
        1.0 - self.unit()
    }

    #[inline]
    pub fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.unit() < p
    }

    /// Uniform integer in `0..n` (n > 0).
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0);
        self.0.random_range(0..n)
    }

    /// Uniform integer in `lo..=hi`.
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            lo
        } else {
            self.0.random_range(lo..=hi)
        }
    }

    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }
}
