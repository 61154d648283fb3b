//! Portal's offline mode: `portal check` and `portal test` over files on disk (read by
//! `portal-files`), and the rendering of their results as a table, JSON, YAML or PolicyReports;
//! `portal network analyze` and `explain` over manifests.

pub mod check;
mod command;
pub mod error;
pub mod output;
mod pipeline;
pub mod suite;

mod cluster;
mod network;
mod network_suite;
mod request;
pub use check::{CheckOptions, CheckRun, ObjectReport, RuleReport, Summary, TextInput, check_object};
pub use cluster::load_cluster;
pub use command::{CheckInput, CheckStatus, check_command};
pub use error::Error;
pub use network::{NetworkInput, load_network, render_explanation, render_findings};
pub use output::{ObjectStyle, OutputFormat, RenderedObject, Renderer};
pub use portal_files::Problem;
pub use request::{AdmissionRequest, RequestSpec};
pub use suite::{TestRun, run_tests};
