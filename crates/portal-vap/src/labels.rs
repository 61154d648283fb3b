//! The labels on what `portal export vap` writes, which `portal import vap` reads back.

/// The label on every exported object naming the rule it mirrors.
pub const RULE_LABEL: &str = "portal.io/rule";
/// The label on every exported object saying who made it.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// Value of [`MANAGED_BY_LABEL`].
pub const MANAGED_BY: &str = "portal-export";
