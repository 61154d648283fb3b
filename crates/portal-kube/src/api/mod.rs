//! The resources Portal owns: `PortalClusterRule` and `PortalRule` (`portal.io/v1alpha1`) with
//! their status, and the CRDs generated from them.

pub mod crds;
mod rules;

pub use rules::*;
