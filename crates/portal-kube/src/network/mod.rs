//! NetworkPolicy analysis against a cluster: the Pods, Namespaces and NetworkPolicies read
//! from the API server for `portal network explain` without manifests.

mod listing;

pub use listing::{ListError, list_objects};
