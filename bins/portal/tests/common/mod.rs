//! Helpers shared by the binary's tests against the test control plane.
#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use kube::api::{Patch, PatchParams};

/// How long a test waits for the cluster or Portal to get somewhere.
pub const WAIT: Duration = Duration::from_secs(30);

/// Installs the CRDs of `dir` named `files` and waits until they are established.
pub async fn install_crds(client: &kube::Client, dir: &str, files: &[&str]) {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(dir);
    for file in files {
        let crd: CustomResourceDefinition =
            serde_saphyr::from_str(&std::fs::read_to_string(dir.join(file)).unwrap()).unwrap();
        let name = crd.metadata.name.clone().unwrap();
        api.patch(&name, &PatchParams::apply("portal-tests").force(), &Patch::Apply(&crd)).await.unwrap();
        let established = kube::runtime::conditions::is_crd_established();
        tokio::time::timeout(WAIT, kube::runtime::wait::await_condition(api.clone(), &name, established))
            .await
            .unwrap()
            .unwrap();
    }
}

/// Installs Portal's `wgpolicyk8s.io` report CRDs and waits until they are established.
pub async fn install_report_crds(client: &kube::Client) {
    install_crds(client, "deploy/reports", &["policyreports.yaml", "clusterpolicyreports.yaml"]).await;
}

/// Waits until every CustomResourceDefinition among `documents` is established.
pub async fn wait_until_served(client: &kube::Client, documents: &[serde_json::Value]) {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in documents.iter().filter(|d| d["kind"] == "CustomResourceDefinition") {
        let name = crd["metadata"]["name"].as_str().unwrap().to_owned();
        let established = kube::runtime::conditions::is_crd_established();
        tokio::time::timeout(WAIT, kube::runtime::wait::await_condition(api.clone(), &name, established))
            .await
            .unwrap()
            .unwrap();
    }
}
