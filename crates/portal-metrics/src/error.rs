//! The crate's one error type.

/// What went wrong building the registry or its reference documentation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A metric could not be created or registered (a malformed name, label or bucket list, or
    /// a name registered twice): a bug in this crate.
    #[error("defining metric {name}")]
    DefineMetric {
        /// The metric's name.
        name: &'static str,
        /// What the prometheus crate reported.
        #[source]
        source: prometheus::Error,
    },
    /// A metric carries a label that `docs/metrics.md` has no description for: add one in
    /// `crates/portal-metrics/src/docs.rs` (and make sure the label is bounded).
    #[error("metric {metric} has label {label}, which docs/metrics.md does not describe")]
    UndocumentedLabel {
        /// The metric's name.
        metric: String,
        /// The label's name.
        label: String,
    },
    /// A metric has no series in the registry that `docs/metrics.md` is generated from: touch
    /// it in `Metrics::exercise_every_series` (`crates/portal-metrics/src/lib.rs`).
    #[error("metric {metric} has no series to document")]
    UnexercisedMetric {
        /// The metric's name.
        metric: &'static str,
    },
}

/// This crate's `Result`.
pub type Result<T, E = Error> = std::result::Result<T, E>;
