//! Reading Portal's inputs from disk: rule files (as `portal check --rules` and the rule folders
//! of `portal run` read them) and Kubernetes manifests, from files, directories and standard
//! input. Every problem is located ([`Problem`]) and none is fatal: the good rules and objects
//! still load.
//!
//! This is where the file-system access lives, so that `portal-rules` stays pure and both the
//! offline commands and the cluster side read a folder exactly the same way.

mod manifests;
mod paths;
mod problem;
mod rules;

pub use manifests::{Manifest, ManifestDocuments, ManifestFiles, ManifestItem, Manifests, Unit, load_manifest_paths};
pub use paths::{Expansion, MAX_FILE_BYTES, expand_paths, read_source};
pub use problem::{Error, Problem};
pub use rules::{
    RuleFile, is_test_file, load_exception_file, load_exception_paths, load_rule_file, load_rule_paths, load_rule_text,
    rule_files,
};
