//! Portal's response actions (SPEC §7–§8): what happens when a rule finds a violation, beyond
//! its report.
//!
//! - [`subject`]: the object acted on and the violations found on it;
//! - [`dispatch`]: the dispatcher — idempotency per (rule, object, action), rate limits per
//!   (rule, action), a bounded queue and workers, dry run, types switched off, excluded
//!   namespaces, leader only — with every attempt counted by result;
//! - [`alerts`]: the Alertmanager sink — one alert per (rule, object, container), refreshed
//!   while its violation lasts and resolved when it clears, sent to every Alertmanager through
//!   a bounded, coalescing, retrying queue;
//! - `rate`: the token buckets.
//!
//! What changes the cluster (label, annotate, evict, NetworkPolicy, ServiceAccount tokens) is an
//! [`Executor`](dispatch::Executor), implemented by `portal-kube`: this crate has no Kubernetes
//! client.

pub mod alerts;
pub mod dispatch;
mod keyed;
mod leading;
mod rate;
pub mod subject;

pub use dispatch::{Acting, Dispatcher, DispatcherSettings, ExecuteError, Executor, Leading};
pub use subject::{Source, Subject, Violation};
