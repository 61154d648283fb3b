//! `portal migrate` on the Kyverno corpus of examples/migration: what converts, what does not
//! and why, and the suite built from its Kyverno test, which `portal test` then passes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

fn portal(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_portal"))
        .args(args)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
        .output()
        .unwrap()
}

#[test]
fn kyverno_policies_convert_with_a_report_and_their_test_becomes_a_suite() {
    let out = tempfile::tempdir().unwrap();
    let output = portal(&["migrate", "examples/migration/kyverno", "-o", out.path().to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(1), "some rules are not converted: {stderr}");
    let refused: Vec<&str> = stderr.lines().filter(|l| l.starts_with("not converted: ")).collect();
    assert_eq!(
        refused,
        [
            "not converted: not-translated/deny-latest: validate.deny conditions are JMESPath, which is not translated; write the condition in CEL",
            "not converted: not-translated/each-container: validate.foreach is not translated; write it with .all()/.exists() in CEL",
            "not converted: not-translated/pod-security: validate.podSecurity: use Portal's Pod Security Standards bundles (examples/policies/pod-security)",
            "not converted: not-translated/add-label: is a mutate rule: Portal only validates",
            "not converted: not-translated/admins-only: match on the requesting user (clusterRoles) has no Portal equivalent",
        ],
        "{stderr}"
    );
    assert!(stderr.contains("5 rules converted, 5 not converted"), "{stderr}");
    assert!(
        stderr.contains("note: require-team-label/team-label: Audit becomes enforcementAction: dryrun"),
        "{stderr}"
    );

    let rules = std::fs::read_to_string(out.path().join("rules.yaml")).unwrap();
    let documents = portal_rules::parse_documents("rules.yaml", &rules).unwrap();
    let names: Vec<&str> = documents.iter().map(|d| d.value["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "disallow-privileged-privileged-containers",
            "require-team-label-team-label",
            "restrict-image-registries-registries",
            "replica-ceiling-max-replicas",
            "no-host-network-host-network",
        ]
    );
    let privileged = &documents[0].value;
    assert_eq!(privileged["severity"], "high");
    assert_eq!(privileged["exclude"]["namespaces"]["include"][0], "kube-system");
    assert_eq!(privileged["match"]["gvk"].as_array().unwrap().len(), 8, "Pods and the seven pod controllers");
    assert_eq!(documents[3].value["mode"][0], "admission", "background: false");
    assert_eq!(documents[4].value["match"]["namespaces"]["include"][0], "shop", "a Policy stays in its namespace");

    // The Kyverno test's expectations, for the converted rules, pass against the converted rules.
    let suite = std::fs::read_to_string(out.path().join("portal-test.yaml")).unwrap();
    assert!(suite.contains("migrated from example-policies"), "{suite}");
    let tested = portal(&["test", out.path().to_str().unwrap()]);
    let text = String::from_utf8_lossy(&tested.stdout);
    assert_eq!(tested.status.code(), Some(0), "{text}{}", String::from_utf8_lossy(&tested.stderr));
    assert!(text.contains("8 passed, 0 failed"), "{text}");
}

#[test]
fn validating_admission_policies_migrate_as_import_reads_them_and_nothing_is_exit_two() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("vap.yaml");
    std::fs::write(
        &policy,
        "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicy\nmetadata: {name: no-host-pid}\n\
         spec:\n  matchConstraints:\n    resourceRules:\n      - {apiGroups: [''], apiVersions: [v1], operations: [CREATE], resources: [pods]}\n  \
         validations:\n    - {expression: '!has(object.spec.hostPID) || object.spec.hostPID == false', message: no host PID}\n---\n\
         apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicyBinding\nmetadata: {name: no-host-pid}\n\
         spec: {policyName: no-host-pid, validationActions: [Deny]}\n",
    )
    .unwrap();
    let output = portal(&["migrate", policy.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let rules = String::from_utf8_lossy(&output.stdout);
    assert!(rules.contains("name: no-host-pid"), "{rules}");

    let other = dir.path().join("configmap.yaml");
    std::fs::write(&other, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n").unwrap();
    let output = portal(&["migrate", other.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("ignored, not a policy portal migrate reads: ConfigMap settings"), "{stderr}");
    assert!(stderr.contains("nothing to convert"), "{stderr}");
}
