//! capsim: a deterministic teaching simulator for replicated data under network failures.
//!
//! The core (`engine`, `policy`, `storage`, `check`, `scenario`, `trace`) never touches the GUI,
//! threads, wall-clock time or the file system; see `../shared/DESIGN.md`.

pub mod check;
pub mod types;
