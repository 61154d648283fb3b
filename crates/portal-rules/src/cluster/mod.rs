//! `cluster`: read-only lookups of other objects from a rule (SPEC §5.3).
//!
//! ```text
//! cluster.get(apiVersion, kind, namespace, name)          the object, or null
//! cluster.list(apiVersion, kind, namespace)               the objects ("" namespace: all)
//! cluster.list(apiVersion, kind, namespace, {labels})     those whose labels include these
//! ```
//!
//! `apiVersion` and `kind` are literal strings, so that the kinds a rule reads are known from
//! its expression alone (`targets`) and can be watched before it first runs. What a lookup
//! sees is a [`ClusterView`]: the watch caches of `portal run`, the objects given to
//! `portal check --cluster` ([`ClusterSnapshot`]), either with the object under admission laid
//! over it ([`Overlay`]). A lookup never makes a network call.
//!
//! - `context`: the view an evaluation reads, the namespace a rule is confined to, and the
//!   reads it made (for re-evaluating it when what it read changes);
//! - `functions`: the CEL functions;
//! - `targets`: the kinds an expression reads, and the refusal of non-literal ones;
//! - `snapshot`, `overlay`: the views this crate provides;
//! - `view`: what a view is, and what it holds.

pub(crate) mod context;
pub(crate) mod functions;
mod overlay;
mod snapshot;
pub(crate) mod targets;
pub(crate) mod view;

pub use context::ClusterRead;
pub use overlay::Overlay;
pub use snapshot::ClusterSnapshot;
pub use view::{ClusterObject, ClusterView, LabelSelector, LookupError, LookupTarget, selects};

#[cfg(test)]
mod tests;
