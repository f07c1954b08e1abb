//! Checkers and metrics over histories and runs.

pub mod history;
pub mod linearizability;
