//! `portal export vap` against the real API server: the exported policies decide as Portal does
//! with no Portal running at all.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::time::Instant;

use kube::Api;
use kube::api::{DynamicObject, Patch, PatchParams, PostParams};
use kube::discovery::ApiResource;
use portal_offline::{CheckOptions, CheckRun};
use serde_json::{Value, json};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

const PSS: [&str; 2] = ["examples/policies/pod-security/baseline", "examples/policies/pod-security/restricted"];

fn resource(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource {
        group: group.into(),
        version: version.into(),
        api_version: if group.is_empty() { version.into() } else { format!("{group}/{version}") },
        kind: kind.into(),
        plural: plural.into(),
    }
}

/// What the API server answers to a dry-run create: `Ok(warnings)` or `Err(message)`.
async fn dry_run(client: &kube::Client, namespace: &str, object: &Value) -> Result<Vec<String>, (u16, String)> {
    let api_version = object["apiVersion"].as_str().unwrap();
    let kind = object["kind"].as_str().unwrap();
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let plural = portal_rules::kinds::resource_of(kind);
    let api: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), namespace, &resource(group, version, kind, &plural));
    let mut object = object.clone();
    object["metadata"]["namespace"] = json!(namespace);
    let object: DynamicObject = serde_json::from_value(object).unwrap();
    let params = PostParams { dry_run: true, ..PostParams::default() };
    match api.create(&params, &object).await {
        Ok(_) => Ok(Vec::new()),
        Err(kube::Error::Api(status)) => Err((status.code, status.message)),
        Err(other) => panic!("dry-run create failed: {other}"),
    }
}

/// Server-side applies an exported policy or binding (in a dry run when `dry_run`): the API
/// server must accept it.
async fn apply(client: &kube::Client, object: &Value, dry_run: bool) {
    let kind = object["kind"].as_str().unwrap();
    let plural = if kind == "ValidatingAdmissionPolicy" {
        "validatingadmissionpolicies"
    } else {
        "validatingadmissionpolicybindings"
    };
    let api: Api<DynamicObject> =
        Api::all_with(client.clone(), &resource("admissionregistration.k8s.io", "v1", kind, plural));
    let name = object["metadata"]["name"].as_str().unwrap();
    let params = PatchParams { dry_run, ..PatchParams::apply("portal-tests").force() };
    api.patch(name, &params, &Patch::Apply(object))
        .await
        .unwrap_or_else(|e| panic!("the API server refused {kind} {name}: {e}\n{object:#}"));
}

async fn apply_exported(client: &kube::Client, rule_paths: &[PathBuf]) -> portal_vap::Export {
    let (loaded, problems) = portal_files::load_rule_paths(rule_paths);
    assert!(problems.is_empty(), "{problems:?}");
    let (rules, errors) = portal_rules::RuleSet::compile(loaded);
    assert!(errors.is_empty(), "{errors:?}");
    let export = portal_vap::export(&rules, &portal_vap::ExportOptions::default());
    for object in &export.objects {
        apply(client, object, false).await;
    }
    export
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exported_pod_security_policies_decide_as_portal_does_without_portal() {
    let env = portal_testenv::shared().await.expect("the test control plane starts");
    let client = env.client().unwrap();
    let namespace = env.namespace("vap").await.unwrap();
    let rules: Vec<PathBuf> = PSS.iter().map(|path| root().join(path)).collect();
    let export = apply_exported(&client, &rules).await;
    assert_eq!(export.refused, Vec::<(String, String)>::new(), "every PSS rule is exportable");
    assert_eq!(export.exported.len(), 19);

    // The API server takes a moment to put new policies in force: wait for a privileged Pod to
    // be refused.
    let privileged = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "privileged"},
        "spec": {"containers": [{"name": "c", "image": "nginx", "securityContext": {"privileged": true}}]}});
    let started = Instant::now();
    let refusal = loop {
        match dry_run(&client, &namespace, &privileged).await {
            Err((_, message)) if message.contains("ValidatingAdmissionPolicy") => break message,
            answer => {
                assert!(started.elapsed() < common::WAIT, "the policies were never in force: {answer:?}");
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        }
    };
    println!("policies in force {:?} after they were applied: {refusal}", started.elapsed());
    // Refused with the message of a rule Portal denies it by (which policy the API server names
    // first depends on the order it evaluates them in).
    let pod_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(pod_file.path(), serde_json::to_string(&privileged).unwrap()).unwrap();
    let (_, checked) = CheckRun::collect(&CheckOptions {
        rules: rules.clone(),
        manifests: vec![pod_file.path().to_path_buf()],
        namespace: namespace.clone(),
        cluster: Vec::new(),
        request: None,
        exceptions: Vec::new(),
    });
    let denials = &checked[0].admission.denials;
    assert!(
        denials.iter().any(|denial| {
            let (rule, message) = denial.split_once(": ").unwrap();
            refusal.contains(&format!("ValidatingAdmissionPolicy 'portal-{rule}'")) && refusal.ends_with(message)
        }),
        "{refusal}\nPortal: {denials:?}"
    );

    // Every resource of the PSS test suites, decided by Portal and by the API server.
    let manifests: Vec<PathBuf> = PSS
        .iter()
        .flat_map(|path| {
            ["pods.yaml", "workloads.yaml"].map(|file| root().join(path).join("tests/resources").join(file))
        })
        .collect();
    let (run, reports) = CheckRun::collect(&CheckOptions {
        rules: rules.clone(),
        manifests,
        namespace: namespace.clone(),
        cluster: Vec::new(),
        request: None,
        exceptions: Vec::new(),
    });
    assert!(run.errors.is_empty(), "{:?}", run.errors);
    let (mut agree, mut disagree, mut invalid, mut other_reason) = (0, Vec::new(), Vec::new(), Vec::new());
    for report in &reports {
        let object = report_object(report);
        let portal_denies = !report.admission.denials.is_empty();
        let mut answer = dry_run(&client, &namespace, &object).await;
        // Policies come into force one by one, shortly after they are created: an admission
        // Portal would deny may still pass for a moment.
        let deadline = Instant::now() + std::time::Duration::from_secs(10);
        while portal_denies && answer.is_ok() && Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            answer = dry_run(&client, &namespace, &object).await;
        }
        match answer {
            Ok(_) if !portal_denies => agree += 1,
            Err((_, message)) if message.contains("ValidatingAdmissionPolicy") => {
                let denied_by_portal_rule = report.admission.denials.iter().any(|denial| {
                    message.contains(&format!("'portal-{}'", denial.split(':').next().unwrap_or_default()))
                });
                if portal_denies {
                    agree += 1;
                    if !denied_by_portal_rule {
                        // The API server defaults the object before admission (e.g. hostPort from
                        // containerPort on the host network), which `portal check` does not.
                        other_reason.push(format!("{}: {message}", report.resource));
                    }
                } else {
                    disagree.push(format!(
                        "{}: API server: {message}; Portal: {:?}",
                        report.resource, report.admission.denials
                    ));
                }
            }
            Err((code, message)) if code == 422 && !message.contains("ValidatingAdmissionPolicy") => {
                invalid.push(format!("{}: {message}", report.resource));
            }
            answer => disagree
                .push(format!("{}: API server: {answer:?}; Portal: {:?}", report.resource, report.admission.denials)),
        }
    }
    println!(
        "{agree} of {} PSS test resources decided alike ({} denied first by another rule than Portal's: \
         {other_reason:#?}); {} not valid objects: {invalid:#?}",
        reports.len(),
        other_reason.len(),
        invalid.len()
    );
    assert!(disagree.is_empty(), "decided differently:\n{}", disagree.join("\n"));
    assert!(agree > 60, "{agree} compared");
}

/// The manifest a report is about, read again from its document.
fn report_object(report: &portal_offline::ObjectReport) -> Value {
    let text = std::fs::read_to_string(&report.origin.source).unwrap();
    let documents = portal_rules::parse_documents(&report.origin.source, &text).unwrap();
    documents
        .into_iter()
        .find(|document| document.origin.line == report.origin.line)
        .map(|document| document.value)
        .unwrap_or_else(|| panic!("no document at {}", report.source))
}

/// A dry-run create of the Pod `object` through the raw API: its status and the `Warning`
/// headers of the answer.
async fn dry_run_warnings(client: &kube::Client, namespace: &str, object: &Value) -> (u16, Vec<String>) {
    let request = http::Request::post(format!("/api/v1/namespaces/{namespace}/pods?dryRun=All"))
        .header("content-type", "application/json")
        .body(kube::client::Body::from(serde_json::to_vec(object).unwrap()))
        .unwrap();
    let response = client.send(request).await.unwrap();
    let warnings =
        response.headers().get_all("warning").iter().map(|v| v.to_str().unwrap_or_default().to_owned()).collect();
    (response.status().as_u16(), warnings)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warn_rules_warn_and_portal_only_rules_are_listed_exactly() {
    let env = portal_testenv::shared().await.expect("the test control plane starts");
    let client = env.client().unwrap();
    let namespace = env.namespace("vap-warn").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("warn.yaml"),
        "name: latest-tag-warning\nenforcementAction: warn\nmatch: {gvk: [{group: '', kind: Pod}]}\n\
         rule: container.image.endsWith(':latest')\nmessage: pin the image instead of latest\n",
    )
    .unwrap();
    let export = apply_exported(&client, &[dir.path().to_path_buf()]).await;
    assert_eq!(export.exported.len(), 1, "{:?}", export.refused);
    // Compliant with the restricted Pod Security Standard, whose exported policies the other test
    // of this binary puts in force in the same API server.
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "latest"},
        "spec": {"securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
                 "containers": [{"name": "c", "image": "nginx:latest", "securityContext": {
                     "allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}}]}});
    let started = Instant::now();
    let (status, warnings) = loop {
        let (status, warnings) = dry_run_warnings(&client, &namespace, &pod).await;
        if !warnings.is_empty() || started.elapsed() > common::WAIT {
            break (status, warnings);
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert_eq!(status, 201, "a warn rule admits");
    assert!(
        warnings.iter().any(|w| w.contains("ValidatingAdmissionPolicy 'portal-latest-tag-warning'") && w.contains("pin the image")),
        "{warnings:?}"
    );

    // The shipped example rules: exactly those that use Portal-only features are not exported.
    let (loaded, problems) =
        portal_files::load_rule_paths(&[root().join("examples/rules"), root().join("examples/lookups/rules")]);
    assert!(problems.is_empty());
    let (rules, _) = portal_rules::RuleSet::compile(loaded);
    let export = portal_vap::export(&rules, &portal_vap::ExportOptions::default());
    let mut refused: Vec<&str> = export.refused.iter().map(|(rule, _)| rule.as_str()).collect();
    refused.sort_unstable();
    assert_eq!(
        refused,
        [
            "allowed-registries",
            "disruption-budget-blocks-eviction",
            "image-not-pinned",
            "missing-config-or-secret",
            "missing-service-account",
            "unique-ingress-host"
        ]
    );
    // The API server accepts every exported object (dry run: they would deny this test's Pods).
    for object in &export.objects {
        apply(&client, object, true).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_reads_the_rule_resources_of_the_cluster() {
    let env = portal_testenv::shared().await.expect("the test control plane starts");
    let client = env.client().unwrap();
    common::install_crds(&client, "deploy/crds", &["portalclusterrules.yaml", "portalrules.yaml"]).await;
    let namespace = env.namespace("vap-rules").await.unwrap();
    let params = PatchParams::apply("portal-tests").force();
    let cluster_rules: Api<DynamicObject> =
        Api::all_with(client.clone(), &resource("portal.io", "v1alpha1", "PortalClusterRule", "portalclusterrules"));
    let rule = json!({"apiVersion": "portal.io/v1alpha1", "kind": "PortalClusterRule", "metadata": {"name": "no-host-pid"},
        "spec": {"match": {"gvk": [{"group": "", "kind": "Pod"}]}, "rule": "spec.hostPID == true", "message": "no hostPID"}});
    cluster_rules.patch("no-host-pid", &params, &Patch::Apply(&rule)).await.unwrap();
    let rules: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        &namespace,
        &resource("portal.io", "v1alpha1", "PortalRule", "portalrules"),
    );
    let tenant = json!({"apiVersion": "portal.io/v1alpha1", "kind": "PortalRule", "metadata": {"name": "team-label"},
        "spec": {"match": {"gvk": [{"group": "", "kind": "Pod"}]}, "rule": "!has(object.metadata.labels)"}});
    rules.patch("team-label", &params, &Patch::Apply(&tenant)).await.unwrap();

    let output = std::process::Command::new(env!("CARGO_BIN_EXE_portal"))
        .args(["export", "vap", "--from-cluster", "--kubeconfig"])
        .arg(env.kubeconfig_path())
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(
        stdout.contains("name: portal-no-host-pid")
            && stdout.contains("variables.podSpec.?hostPID.orValue(null) == true"),
        "{stdout}"
    );
    assert!(
        stderr.contains(&format!("not exported: {namespace}/team-label: is a PortalRule, confined to its namespace")),
        "{stderr}"
    );
}
