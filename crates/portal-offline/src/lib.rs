//! Portal's offline mode: `portal check` and `portal test` over files on disk (read by
//! `portal-files`), and the rendering of their results as a table, JSON, YAML or PolicyReports.

pub mod check;
pub mod error;
pub mod output;
mod pipeline;
pub mod suite;

mod cluster;
mod request;
pub use check::{CheckOptions, CheckRun, ObjectReport, RuleReport, Summary, check_object};
pub use cluster::load_cluster;
pub use error::Error;
pub use output::{ObjectStyle, OutputFormat, RenderedObject, Renderer};
pub use portal_files::Problem;
pub use request::{AdmissionRequest, RequestSpec};
pub use suite::{TestRun, run_tests};
