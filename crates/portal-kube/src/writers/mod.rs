//! Everything `portal run` writes to the API server, under one field manager, [`FIELD_MANAGER`]:
//! the status of rule and exception resources (server-side apply) and, when it is managed, the rules of the
//! live webhook configuration (by the leader only), and the audit's PolicyReports (by the leader
//! only). Response actions will write from here too.
//!
//! The admission webhook never imports this module: webhook replicas stay stateless (checked
//! by `xtask/src/architecture.rs`).

mod apply;
mod exception_status;
mod reports;
mod rule_status;
mod webhook_rules;

pub use apply::FIELD_MANAGER;
pub use exception_status::write_exception_status;
pub use reports::{ReportError, ReportWrite, ReportWriter, report_name};
pub use rule_status::{RuleCounts, write_rule_counts, write_rule_status};
pub use webhook_rules::{Synced, WebhookRulesError, keep_webhook_rules, sync_webhook_rules};
