//! capsim: a deterministic teaching simulator for replicated data under network failures.
//!
//! The core (`engine`, `policy`, `storage`, `check`, `scenario`, `trace`) never touches the GUI,
//! threads, wall-clock time or the file system; see `../shared/DESIGN.md`.

pub mod check;
pub mod cli;
pub mod compare;
pub mod engine;
pub mod export;
#[cfg(feature = "gui")]
pub mod gui;
pub mod io;
pub mod policy;
pub mod scenario;
pub mod sim;
pub mod storage;
pub mod sweep;
pub mod trace;
pub mod types;

pub use sim::Sim;
