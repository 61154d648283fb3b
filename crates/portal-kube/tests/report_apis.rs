//! The audit's reports in the CRDs other engines install (Kyverno's `wgpolicyk8s.io/v1alpha2`,
//! the OpenReports project's `openreports.io/v1alpha1`), not Portal's own: the API server keeps
//! every field Portal writes (a structural schema drops the fields it does not know), and
//! switching `audit.reportApi` moves the reports from one API to the other. This binary has a
//! control plane of its own, so that Portal's CRDs are never installed beside these.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{DynamicObject, PostParams};
use kube::discovery::ApiResource;
use kube::{Api, ResourceExt};
use portal_kube::audit::Audit;
use portal_report::ReportApi;
use serde_json::{Value, json};

const RULES: &str = "\
name: no-privileged
mode: [audit]
severity: critical
match: {gvk: [{group: '', kind: Pod}]}
rule: container.securityContext.privileged == true
message: privileged container
---
name: team-label
mode: [audit]
severity: low
match: {gvk: [{group: '', kind: Pod}]}
rule: \"object.metadata.?labels.?team.orValue('') == ''\"
message: every pod names its team
";

/// The CRD files `cargo xtask envtest` fetched from Kyverno's and OpenReports' Go modules.
fn upstream_crds() -> PathBuf {
    let assets = std::env::var_os("PORTAL_ENVTEST_ASSETS").expect("PORTAL_ENVTEST_ASSETS (run `cargo xtask test`)");
    let dir = PathBuf::from(assets).join("report-crds");
    assert!(dir.is_dir(), "{} is missing: run `cargo xtask envtest`", dir.display());
    dir
}

async fn install_upstream_crds(client: &kube::Client) {
    let files = [
        "wgpolicyk8s.io_policyreports.yaml",
        "wgpolicyk8s.io_clusterpolicyreports.yaml",
        "openreports.io_reports.yaml",
        "openreports.io_clusterreports.yaml",
    ];
    common::apply_crd_files(client, &upstream_crds(), &files).await;
}

async fn start_audit(client: &kube::Client, sources: &portal_kube::RuleSources, report_api: ReportApi) -> Audit {
    let metrics = portal_metrics::Metrics::new().unwrap();
    common::start_audit(client, sources, &metrics, None, None, report_api).await
}

fn reports(client: &kube::Client, api: ReportApi, namespace: &str) -> Api<DynamicObject> {
    let kind = api.kind(true);
    let resource = ApiResource {
        group: kind.group.into(),
        version: kind.version.into(),
        api_version: kind.api_version.into(),
        kind: kind.kind.into(),
        plural: kind.plural.into(),
    };
    Api::namespaced_with(client.clone(), namespace, &resource)
}

/// The report named `name`, once `ready` holds for it.
async fn wait_for(reports: &Api<DynamicObject>, name: &str, ready: impl Fn(Option<&Value>) -> bool) -> Option<Value> {
    let deadline = Instant::now() + common::WAIT;
    loop {
        let report = reports.get_opt(name).await.unwrap().map(|r| serde_json::to_value(r).unwrap());
        if ready(report.as_ref()) {
            return report;
        }
        assert!(Instant::now() < deadline, "{name} never got there; last: {report:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every field Portal writes, as the API server kept it.
fn assert_complete(report: &Value, pod: &Pod) {
    let uid = pod.uid().unwrap();
    assert_eq!(report["metadata"]["labels"]["app.kubernetes.io/managed-by"], "portal");
    assert_eq!(report["metadata"]["ownerReferences"][0]["uid"], uid.as_str());
    assert_eq!(
        report["scope"],
        json!({"apiVersion": "v1", "kind": "Pod", "name": "shell", "namespace": "tenant", "uid": uid})
    );
    assert_eq!(report["summary"], json!({"pass": 0, "fail": 0, "warn": 2, "error": 0, "skip": 0}));
    let results = report["results"].as_array().unwrap();
    assert_eq!(results.len(), 2, "{report:#}");
    let privileged = results.iter().find(|result| result["policy"] == "no-privileged").unwrap();
    assert_eq!(privileged["rule"], "no-privileged");
    assert_eq!(privileged["result"], "warn");
    assert_eq!(privileged["severity"], "critical");
    assert_eq!(privileged["source"], "portal");
    assert_eq!(privileged["scored"], true);
    assert_eq!(privileged["message"], "privileged container");
    assert_eq!(privileged["properties"], json!({"container": "root"}));
    assert!(privileged["timestamp"]["seconds"].as_i64().unwrap() > 1_700_000_000, "{privileged:#}");
    assert!(privileged["timestamp"]["nanos"].is_i64(), "{privileged:#}");
    let team = results.iter().find(|result| result["policy"] == "team-label").unwrap();
    assert_eq!((&team["severity"], &team["message"]), (&json!("low"), &json!("every pod names its team")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_keep_every_field_in_the_crds_other_engines_install_in_either_api() {
    let client = common::client().await;
    install_upstream_crds(&client).await;
    let namespace: Namespace = serde_json::from_value(json!({"metadata": {"name": "tenant"}})).unwrap();
    Api::<Namespace>::all(client.clone()).create(&PostParams::default(), &namespace).await.unwrap();
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "shell"},
        "spec": {"containers": [{"name": "root", "image": "x", "securityContext": {"privileged": true}}]}
    }))
    .unwrap();
    let pod = Api::<Pod>::namespaced(client.clone(), "tenant").create(&PostParams::default(), &pod).await.unwrap();
    let name = format!("portal-{}", pod.uid().unwrap());
    let (_rules_dir, sources) = common::folder_sources(RULES).await;

    let policy_wg = reports(&client, ReportApi::PolicyWg, "tenant");
    let audit = start_audit(&client, &sources, ReportApi::PolicyWg).await;
    let report = wait_for(&policy_wg, &name, |r| r.is_some()).await.unwrap();
    assert_eq!((&report["apiVersion"], &report["kind"]), (&json!("wgpolicyk8s.io/v1alpha2"), &json!("PolicyReport")));
    assert_complete(&report, &pod);
    drop(audit);

    // The setting switched: the report moves to the other API.
    let open_reports = reports(&client, ReportApi::OpenReports, "tenant");
    let _audit = start_audit(&client, &sources, ReportApi::OpenReports).await;
    let report = wait_for(&open_reports, &name, |r| r.is_some()).await.unwrap();
    assert_eq!((&report["apiVersion"], &report["kind"]), (&json!("openreports.io/v1alpha1"), &json!("Report")));
    assert_eq!(report["source"], "portal");
    assert_complete(&report, &pod);
    wait_for(&policy_wg, &name, |r| r.is_none()).await;
}
