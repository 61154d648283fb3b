//! The validating admission webhook (SPEC §4): reading the AdmissionReview, the decision (pure)
//! and the HTTPS server with hot-reloaded certificates. Stateless: it reads the rule set and the
//! caches, and never writes to the API server.

pub mod decide;
mod fairness;
pub mod review;
pub mod scale;
pub mod server;
pub mod tls;

pub use crate::listener::ConnectionLimits;
pub use decide::{BYPASS_ANNOTATION, Decision, DecisionOptions, DefaultFailurePolicy, decide, decide_tracked};
pub use review::{Review, ReviewError, read_review};
pub use scale::{ApiScaledObjects, NoScaledObjects, ScaledObjects};
pub use server::{AdmissionServer, AdmissionSettings, Lookups, start};
