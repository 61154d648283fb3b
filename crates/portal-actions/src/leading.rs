//! Who may act: only the replica that holds the leader Lease (the dispatcher and the alert sink
//! both ask).

use std::sync::Arc;

/// Whether this replica may act now.
pub type Leading = Arc<dyn Fn() -> bool + Send + Sync>;
