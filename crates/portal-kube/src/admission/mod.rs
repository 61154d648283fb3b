//! The validating admission webhook (SPEC §4): the decision (pure), the HTTPS server with
//! hot-reloaded certificates, and the health/metrics endpoint.

pub mod decide;
pub mod server;
pub mod tls;

pub use decide::{BYPASS_ANNOTATION, Decision, DecisionOptions, DefaultFailurePolicy, Review, decide, read_review};
pub use server::{AdmissionServer, AdmissionSettings, NamespaceLookup, NoNamespaces, start, start_health};
