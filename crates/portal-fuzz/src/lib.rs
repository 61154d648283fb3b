//! Fuzz targets: each feeds arbitrary bytes to one place where Portal reads untrusted input, the
//! way that input arrives, and must neither panic, overflow a stack nor hang, whatever the bytes.
//! `cargo xtask fuzz` runs them with the mutation fuzzer in `src/bin/portal-fuzz.rs` (stable
//! Rust: no nightly toolchain can be installed here, so not cargo-fuzz); the inputs under
//! `corpus/` are replayed by this crate's tests, so every input once found keeps being checked.

mod mutate;

use std::sync::OnceLock;

use portal_kube::admission::{DecisionOptions, DefaultFailurePolicy, decide, read_review};
use portal_rules::{Activation, EvaluationInput, ModeFilter, Operation, RuleSet};

pub use mutate::Mutator;

/// A fuzz target: one kind of untrusted input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// An AdmissionReview body, read and decided against the shipped rules.
    AdmissionReview,
    /// A rule file, loaded and compiled (a tenant's `PortalRule`).
    RuleDocuments,
    /// A manifest file, read and checked against the shipped rules.
    Manifests,
    /// A CEL expression, compiled and evaluated on a Pod (`portal eval`, a rule's `rule`).
    Expression,
}

impl Target {
    pub const ALL: [Target; 4] =
        [Target::AdmissionReview, Target::RuleDocuments, Target::Manifests, Target::Expression];

    pub fn name(self) -> &'static str {
        match self {
            Target::AdmissionReview => "admission-review",
            Target::RuleDocuments => "rule-documents",
            Target::Manifests => "manifests",
            Target::Expression => "expression",
        }
    }

    pub fn from_name(name: &str) -> Option<Target> {
        Target::ALL.into_iter().find(|target| target.name() == name)
    }

    /// Runs the target on one input. Errors are fine; only a panic, a crash or a hang is a bug.
    pub fn run(self, data: &[u8]) {
        let text = String::from_utf8_lossy(data);
        match self {
            Target::AdmissionReview => {
                if let Ok(review) = read_review(data) {
                    let options = DecisionOptions {
                        failure_policy: DefaultFailurePolicy::Fail,
                        excluded_namespaces: Vec::new(),
                        actions: None,
                    };
                    let _ = decide(&review, shipped_rules(), None, &options);
                }
            }
            Target::RuleDocuments => {
                let (loaded, _) = portal_rules::load_rules("fuzz", &text);
                let (set, _) = RuleSet::compile(loaded);
                let pod = pod();
                let activation = Activation::new(EvaluationInput { object: Some(&pod), ..Default::default() });
                let _ = set.evaluate(&activation, ModeFilter::Any);
            }
            Target::Manifests => {
                // The path `portal check` takes: Lists split, Namespaces found, items parsed one by one.
                let files = portal_files::ManifestFiles::from_text("fuzz", text.to_string());
                let documents = files.documents();
                let _ = documents.namespaces();
                for unit in documents.units() {
                    unit.expand("default", &mut |item| {
                        if let portal_files::ManifestItem::Object(manifest) = item {
                            let activation = Activation::new(EvaluationInput {
                                object: Some(&manifest.object),
                                operation: Some(Operation::Create),
                                ..Default::default()
                            });
                            let _ = shipped_rules().evaluate(&activation, ModeFilter::Any);
                        }
                    });
                }
            }
            Target::Expression => {
                let pod = pod();
                let activation = Activation::new(EvaluationInput { object: Some(&pod), ..Default::default() });
                let _ = portal_rules::evaluate_expression(&text, &activation);
            }
        }
    }
}

/// The shipped example rules and Pod Security bundles, compiled once.
fn shipped_rules() -> &'static RuleSet {
    static RULES: OnceLock<RuleSet> = OnceLock::new();
    RULES.get_or_init(|| {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let paths = [
            root.join("examples/rules"),
            root.join("examples/policies/pod-security/baseline"),
            root.join("examples/policies/pod-security/restricted"),
        ];
        let (loaded, _) = portal_files::load_rule_paths(&paths);
        RuleSet::compile(loaded).0
    })
}

fn pod() -> serde_json::Value {
    serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "n", "labels": {"app": "a"}},
        "spec": {"hostNetwork": false, "containers": [{"name": "c", "image": "registry.example.com/a:1",
            "securityContext": {"privileged": false, "capabilities": {"drop": ["ALL"]}}}]}})
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// Every input under `corpus/<target>/` — seeds and whatever fuzzing found — still runs
    /// cleanly. A stack large enough for the deepest input Portal accepts, as `portal run` has.
    #[test]
    fn the_corpus_replays_cleanly() {
        let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
        let mut replayed = 0;
        for target in Target::ALL {
            let dir = corpus.join(target.name());
            let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
            files.sort();
            for file in files {
                let data = std::fs::read(&file).unwrap();
                std::thread::Builder::new()
                    .stack_size(8 * 1024 * 1024)
                    .spawn(move || target.run(&data))
                    .unwrap()
                    .join()
                    .unwrap_or_else(|_| panic!("{} panicked", file.display()));
                replayed += 1;
            }
        }
        assert!(replayed >= 8, "the corpus was read: {replayed} inputs");
    }
}
