//! The resources Portal owns (`portal.io/v1alpha1`): `PortalClusterRule` and `PortalRule`,
//! `PortalClusterException` and `PortalException`, with their status, and the CRDs generated
//! from them.

pub mod crds;
mod exceptions;
mod rules;

pub use exceptions::*;
pub use rules::*;
