//! Kubernetes NetworkPolicy semantics without a cluster.
//!
//! Give it Pods, Namespaces and NetworkPolicies as JSON values ([`Objects`], an [`Inventory`]);
//! ask whether one Pod can reach another or an address, and which policies and rules decide
//! ([`explain`]); or run the checks that find what operators most often get wrong ([`analyze`],
//! one namespace at a time with [`analyze_namespace`] and [`Inventory::affected_namespaces`]).
//!
//! Pure: no I/O, no async, no Kubernetes client.

#![warn(missing_docs)]

mod address;
mod checks;
mod error;
mod inventory;
mod model;
mod query;
mod selector;
mod traffic;

pub use address::{Cidr, CidrError};
pub use checks::{Check, CheckSettings, Finding, Subject, SubjectKind, analyze, analyze_namespace};
pub use error::{FieldPath, ModelError};
pub use inventory::{Change, Inventory};
pub use model::{
    ContainerPort, Direction, NAMESPACE_NAME_LABEL, Namespace, NetworkPolicy, Objects, Peer, Pod, PolicyPort,
    PolicyRule, PortMatch, Protocol, namespace_from_json, network_policy_from_json, pod_from_json,
};
pub use query::{QueryError, parse_endpoint};
pub use selector::{Labels, Selector};
pub use traffic::{
    AllowingRule, DirectionVerdict, Endpoint, ExplainError, Explanation, PortQuery, PortValue, Reach, explain,
};

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExamples;
