//! Portal's metrics (SPEC §7): every `portal_*` metric with its help text, held in a
//! [`Metrics`] registry of its own (never the process-global one), and their text exposition
//! for `/metrics`.
//!
//! Callers record through typed methods ([`Metrics::admission_request`],
//! [`Metrics::set_rules_loaded`], …) and never spell a metric name or a label value. Every
//! label is bounded: a fixed set of values ([`Decision`], rule states), a loaded rule's name or
//! a namespace's name — never an object name, an error string or anything else unbounded.
//!
//! `docs/metrics.md` is generated from the registry by [`reference_markdown`]; a test fails when
//! it drifts, and [`REGENERATE_DOCS`] rewrites it.
//!
//! ```
//! use std::time::Duration;
//! use portal_metrics::{Decision, Metrics};
//!
//! let metrics = Metrics::new()?;
//! metrics.admission_request(Decision::Denied, Duration::from_millis(3));
//! // Served on /metrics with `Content-Type: {portal_metrics::CONTENT_TYPE}`.
//! let body = metrics.encode();
//! assert!(body.contains(r#"portal_admission_requests_total{decision="denied"} 1"#));
//! # Ok::<(), portal_metrics::Error>(())
//! ```

#![warn(missing_docs)]

mod actions;
mod audit;
mod definitions;
mod docs;
mod error;
mod exceptions;
mod lookups;
mod network;
mod registry;

pub use actions::ActionResult;
pub use docs::{REGENERATE_DOCS, reference_markdown};
pub use error::{Error, Result};
pub use registry::*;

#[cfg(test)]
mod tests;
