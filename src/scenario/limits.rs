//! Bounds on everything a scenario can make grow. Each is checked with a clear error.

pub const MAX_FILE_BYTES: usize = 1 << 20;
/// RON nesting depth (deeper input is an error, never a stack overflow).
pub const MAX_NESTING: usize = 64;
pub const MAX_NODES: u16 = 64;
pub const MAX_CLIENTS: u32 = 10_000;
pub const MAX_KEYS: u32 = 1_000_000;
/// Keys times nodes: the metrics keep one cell per replica and key.
pub const MAX_KEY_CELLS: u64 = 8_000_000;
pub const MAX_OPS: u64 = 100_000_000;
pub const MAX_DURATION_MS: f64 = 86_400_000.0;
pub const MAX_FAULTS: usize = 10_000;
/// `Set` entries among the faults. Each is checked by re-reading the whole scenario it changes,
/// so checking costs sets × scenario size: with the other limits, about a second at worst.
pub const MAX_SETS: usize = 256;
/// Characters in a `Set` path.
pub const MAX_SET_PATH: usize = 256;
pub const MAX_RANDOM_FAULTS: usize = 64;
/// Enough for a full latency matrix of 16 nodes. The engine rebuilds its per-link table from
/// all of them on every `Set` (nodes² × kinds × links), so this bounds what a `Set` costs.
pub const MAX_LINK_OVERRIDES: usize = 256;
pub const MAX_MIXTURE_PARTS: usize = 32;
/// Largest relative weight (mixture parts, the operation mix): sums stay finite.
pub const MAX_WEIGHT: f64 = 1e9;
/// Largest clock rate error, in parts per million either way.
pub const MAX_DRIFT_PPM: f64 = 500_000.0;
pub const MAX_DIST_DEPTH: usize = 8;
pub const MAX_EXPECT: usize = 256;
pub const MAX_TEXT: usize = 64 * 1024;
pub const MAX_HISTORY_LIMIT: u64 = 10_000_000;
/// Largest latency a distribution parameter may name (one hour).
pub const MAX_LATENCY_MS: f64 = 3_600_000.0;
