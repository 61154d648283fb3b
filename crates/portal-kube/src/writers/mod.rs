//! Everything `portal run` writes to the API server, with server-side apply under one field
//! manager, [`FIELD_MANAGER`]. Today: the status of rule resources. PolicyReports and response
//! actions will write from here too, and with leader election only the leader's writers run.
//!
//! The admission webhook never imports this module: webhook replicas stay stateless (checked
//! by `xtask/src/architecture.rs`).

mod apply;
mod rule_status;

pub use apply::FIELD_MANAGER;
pub use rule_status::write_rule_status;
