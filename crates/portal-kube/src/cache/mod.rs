//! Watch caches of cluster objects that evaluations read: today the Namespaces (for
//! `namespaceObject`, namespace selectors and the bypass annotation). Audit and cluster lookups
//! will keep their caches here too, each filled by one watch and shared by every reader.

mod namespaces;
mod objects;

pub use namespaces::{NamespaceCache, NamespaceLookup, NoNamespaces};
pub use objects::{ClusterCache, LIST_WAIT, ObjectChange};
