//! Scenario files: the RON schema, loading with `file:line:col` errors, validation with field
//! paths, limits on everything input can grow, and `Set` paths.

pub mod describe;
pub mod event_log_spec;
pub mod limits;
pub mod load;
pub mod schema;
pub mod set_path;
pub mod validate;

pub use load::{ScenarioError, from_bytes, from_str};
pub use schema::Scenario;
