//! Portal's Kubernetes adapter: everything `portal run` and `portal init-certs` do against a
//! cluster. One module folder per role:
//!
//! - [`actions`]: response actions and alerts on violations (the leader's);
//! - [`api`]: the resources Portal owns (rule CRDs and their status) and their CRDs;
//! - [`client`]: the Kubernetes client from the settings;
//! - [`sources`]: rule resources and rule folders compiled into one rule set (rebuild only);
//! - [`cache`]: watch caches evaluations read (Namespaces);
//! - [`admission`]: the validating webhook, stateless;
//! - [`audit`]: the objects of the cluster watched and evaluated, with PolicyReports;
//! - [`registration`]: the ValidatingWebhookConfiguration rendered from the rules;
//! - [`health`]: `/healthz`, `/readyz`, `/metrics`;
//! - [`listener`]: HTTP serving that slow, idle or too many clients cannot hold;
//! - [`lease`]: leader election through a Lease (who writes reports and counters);
//! - [`writers`]: everything written to the API server (rule status, reports), by server-side
//!   apply;
//! - [`certs`]: `portal init-certs`;
//! - [`operator`]: `portal run`, composition only.

pub mod actions;
pub mod admission;
pub mod api;
pub mod audit;
pub mod cache;
pub mod certs;
pub mod client;
pub mod health;
pub mod lease;
pub mod listener;
pub mod network;
pub mod operator;
pub mod registration;
pub mod sources;
mod tasks;
pub mod writers;

pub use sources::{RuleSources, SourcesConfig, SourcesSnapshot};

/// The error and its causes, `: `-separated, for a one-line log or answer.
pub(crate) fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(source) = cause {
        text.push_str(": ");
        text.push_str(&source.to_string());
        cause = source.source();
    }
    text
}
