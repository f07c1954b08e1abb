//! Small value types shared by every module: simulated time, node ids, keys, values, versions.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Simulated time in integer microseconds since the start of the run.
///
/// Integer time keeps the simulation deterministic: no float rounding decides event order.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct SimTime(pub u64);

impl SimTime {
    pub const ZERO: SimTime = SimTime(0);
    pub const MAX: SimTime = SimTime(u64::MAX);

    pub fn from_ms(ms: f64) -> SimTime {
        SimTime(ms_to_us(ms))
    }
    pub fn as_us(self) -> u64 {
        self.0
    }
    pub fn as_ms(self) -> f64 {
        self.0 as f64 / 1000.0
    }
    pub fn saturating_add(self, us: u64) -> SimTime {
        SimTime(self.0.saturating_add(us))
    }
    pub fn since(self, earlier: SimTime) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.3} ms", self.as_ms())
    }
}

/// Converts milliseconds (as written in scenario files) to whole microseconds.
/// Negative and NaN inputs become 0; validation rejects them before they get here.
pub fn ms_to_us(ms: f64) -> u64 {
    if ms.is_nan() || ms <= 0.0 {
        return 0;
    }
    let us = libm::round(ms * 1000.0);
    if us >= u64::MAX as f64 {
        u64::MAX
    } else {
        us as u64
    }
}

/// A node of the simulated cluster, 0-based inside the program, shown as `n1`, `n2`, ... to people.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct NodeId(pub u16);

impl NodeId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
    /// Parses the human name `n3` (1-based) into `NodeId(2)`.
    pub fn parse(name: &str) -> Option<NodeId> {
        let digits = name.strip_prefix('n')?;
        let n: u16 = digits.parse().ok()?;
        if n == 0 || digits.starts_with('0') {
            None
        } else {
            Some(NodeId(n - 1))
        }
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "n{}", self.0 + 1)
    }
}

/// A key of the replicated key-value store. Workloads use keys `0..key_count`.
pub type Key = u32;

/// A written value. Every write in a run carries a unique value, so a read says which write it saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ValueId(pub u64);

impl fmt::Display for ValueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}", self.0)
    }
}

/// The order in which a policy considers versions of one key: bigger wins.
///
/// Leaderless LWW uses `(timestamp_us, tie)`; the single-leader policy uses `(leader epoch, log
/// index)`, so that an entry of a newer epoch wins over a deposed leader's at the same index.
/// The metrics use it to decide whether a replica has applied (or superseded) a write.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Version(pub u64, pub u64);

/// What a client asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpKind {
    Read,
    Write,
    Delete,
}

impl OpKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OpKind::Read => "read",
            OpKind::Write => "write",
            OpKind::Delete => "delete",
        }
    }
    pub fn is_update(self) -> bool {
        !matches!(self, OpKind::Read)
    }
}
