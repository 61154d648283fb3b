//! NetworkPolicy analysis against a cluster: live, fed by the audit's watches of Pods,
//! Namespaces and NetworkPolicies, with findings in the audit's reports (`analysis.rs`); and
//! the objects read from the API server for `portal network explain` (`listing.rs`).

mod analysis;
mod listing;

pub use analysis::{KINDS, NAMESPACE, NETWORK_POLICY, NetworkAnalysis, POD, SubjectFindings, reported_kind};
pub use listing::{ListError, list_objects};
