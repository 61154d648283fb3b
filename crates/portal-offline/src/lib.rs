//! Portal's offline mode: load rules and manifests from disk, run `portal check` and
//! `portal test`, and render the results. This is where the file-system I/O lives, so that
//! `portal-rules` stays pure.

pub mod check;
pub mod error;
pub mod input;
pub mod output;
pub mod report;
pub mod suite;

pub use check::{ObjectReport, RuleReport, Summary, check, summarise};
pub use error::{Error, Problem};
pub use input::{Manifest, Manifests, load_manifest_paths, load_rule_paths};
pub use output::{CheckOutput, OutputFormat, render};
pub use suite::{TestRun, run_tests};
