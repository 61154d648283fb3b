//! Portal's Kubernetes adapter: the rule resources and their CRDs, and rule sources that keep
//! a compiled rule set current from the cluster and from folders, writing each rule resource's
//! status.

pub mod admission;
pub mod certs;
pub mod crd;
pub mod crds;
pub mod operator;
pub mod report;
pub mod sources;

pub use sources::{RuleSources, SourcesConfig, SourcesSnapshot};
