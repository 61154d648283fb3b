//! `portal check` decides exactly what the webhook decides: every example object, sent through
//! the webhook's `decide` as a CREATE review, gets the denials and warnings that `check`
//! reports for it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use portal_kube::admission::{DecisionOptions, DefaultFailurePolicy, decide, read_review};
use portal_offline::{CheckOptions, CheckRun};
use serde_json::{Value as Json, json};

/// Rules whose evaluation errors on every Pod, one per failure policy and action: the case the
/// two once disagreed on is the `Fail` + `warn` one.
const ERRING_RULES: &str = "\
name: agree-fail-deny
failurePolicy: Fail
match: {gvk: [{group: '', kind: Pod}]}
rule: object.metadata.annotations['agree-missing'] == 'x'
---
name: agree-fail-warn
failurePolicy: Fail
enforcementAction: warn
match: {gvk: [{group: '', kind: Pod}]}
rule: object.metadata.annotations['agree-missing'] == 'x'
---
name: agree-ignore
failurePolicy: Ignore
match: {gvk: [{group: '', kind: Pod}]}
rule: object.metadata.annotations['agree-missing'] == 'x'
";

fn review(object: &Json) -> Vec<u8> {
    let api_version = object["apiVersion"].as_str().unwrap_or_default();
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let mut request = json!({
        "uid": "agree", "operation": "CREATE",
        "kind": {"group": group, "version": version, "kind": object["kind"]},
        "userInfo": {"username": "ci"},
        "object": object,
    });
    if let Some(namespace) = object["metadata"]["namespace"].as_str() {
        request["namespace"] = json!(namespace);
    }
    serde_json::to_vec(&json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}))
        .unwrap()
}

#[test]
fn check_decides_what_the_webhook_decides() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("erring.yaml"), ERRING_RULES).unwrap();
    let rules: Vec<PathBuf> = vec![
        root.join("examples/rules"),
        root.join("examples/policies/pod-security/baseline"),
        root.join("examples/policies/pod-security/restricted"),
        dir.path().join("erring.yaml"),
    ];
    let manifests = vec![root.join("examples/manifests")];
    let options = CheckOptions {
        rules,
        manifests: manifests.clone(),
        namespace: "default".to_owned(),
        cluster: Vec::new(),
        request: None,
        exceptions: Vec::new(),
    };
    let (run, reports) = CheckRun::collect(&options);
    assert!(run.errors.is_empty(), "{:?}", run.errors);

    // The same objects, as `check` read them.
    let objects = portal_files::load_manifest_paths(&manifests, "default");
    assert_eq!(objects.objects.len(), reports.len());
    let namespace_of = |name: &str| {
        objects.objects.iter().map(|m| &m.object).find(|o| o["kind"] == "Namespace" && o["metadata"]["name"] == name)
    };
    let webhook =
        DecisionOptions { failure_policy: DefaultFailurePolicy::Fail, excluded_namespaces: Vec::new(), actions: None };
    let (mut denied, mut warned) = (0, 0);
    for (manifest, report) in objects.objects.iter().zip(&reports) {
        let review = read_review(&review(&manifest.object)).unwrap();
        let namespace = review.namespace.as_deref().and_then(namespace_of);
        let decision = decide(&review, &run.rules, namespace, &webhook);
        let expected = &report.admission;
        assert_eq!(decision.allowed, expected.allowed(), "{}", report.resource);
        assert_eq!(decision.message, expected.denial_message(), "{}", report.resource);
        assert_eq!(decision.warnings, expected.warnings, "{}", report.resource);
        assert_eq!(decision.dryrun_rules, expected.dryrun_rules, "{}", report.resource);
        denied += usize::from(!decision.allowed);
        warned +=
            usize::from(decision.warnings.iter().any(|w| w.starts_with("agree-fail-warn: could not be evaluated")));
    }
    // The comparison covered both outcomes and the Fail + warn case.
    assert!(denied > 0 && denied < reports.len(), "{denied} of {} denied", reports.len());
    assert!(warned > 0, "the Fail + warn rule warned on Pods");
    assert!(run.summary.denies());
}
