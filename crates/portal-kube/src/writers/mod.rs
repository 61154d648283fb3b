//! Everything `portal run` writes to the API server, with server-side apply under one field
//! manager, [`FIELD_MANAGER`]. Today: the status of rule resources. PolicyReports and response
//! actions will write from here too, and with leader election only the leader's writers run.
//!
//! The admission webhook never imports this module: webhook replicas stay stateless (checked
//! by `xtask/src/architecture.rs`).

mod rule_status;

pub use rule_status::write_rule_status;

/// The field manager of every write, so `kubectl` shows which fields Portal owns.
pub const FIELD_MANAGER: &str = "portal";
