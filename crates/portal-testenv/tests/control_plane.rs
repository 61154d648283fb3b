//! The harness against the real etcd and kube-apiserver it starts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, ListParams, PostParams};

type TestResult = Result<(), Box<dyn std::error::Error>>;

async fn env() -> &'static portal_testenv::TestEnv {
    match portal_testenv::shared().await {
        Ok(env) => env,
        // Display, not Debug: the message carries the log tails and what to run.
        Err(err) => panic!("the shared test control plane did not start: {err}"),
    }
}

#[tokio::test]
async fn starts_and_reports_its_start_up_time() {
    let env = env().await;
    // Reported, never asserted (SPEC §12).
    eprintln!("control plane ready in {:.2?} ({})", env.startup_time(), env.server_url());
    let version = env.client().unwrap().apiserver_version().await.unwrap();
    eprintln!("kube-apiserver {}", version.git_version);
    assert_eq!(version.major, "1");
}

#[tokio::test]
async fn config_map_round_trip_in_a_test_namespace() -> TestResult {
    let env = env().await;
    let namespace = env.namespace("configmap").await?;
    assert!(namespace.starts_with("configmap-"), "{namespace}");

    let config_maps: Api<ConfigMap> = Api::namespaced(env.client()?, &namespace);
    let config_map = ConfigMap {
        metadata: ObjectMeta { name: Some("settings".to_owned()), ..ObjectMeta::default() },
        data: Some(BTreeMap::from([("mode".to_owned(), "enforce".to_owned())])),
        ..ConfigMap::default()
    };
    config_maps.create(&PostParams::default(), &config_map).await?;

    let read = config_maps.get("settings").await?;
    assert_eq!(read.metadata.namespace.as_deref(), Some(namespace.as_str()));
    assert_eq!(read.data, config_map.data);
    Ok(())
}

#[tokio::test]
async fn namespaces_are_unique_and_listed() -> TestResult {
    let env = env().await;
    let first = env.namespace("list").await?;
    let second = env.namespace("list").await?;
    assert_ne!(first, second);

    let names: Vec<String> = Api::<Namespace>::all(env.client()?)
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter_map(|namespace| namespace.metadata.name)
        .collect();
    for expected in ["default", "kube-system", first.as_str(), second.as_str()] {
        assert!(names.iter().any(|name| name == expected), "{expected} missing from {names:?}");
    }
    Ok(())
}

#[tokio::test]
async fn the_kubeconfig_file_reaches_the_same_server() -> TestResult {
    let env = env().await;
    let kubeconfig = kube::config::Kubeconfig::read_from(env.kubeconfig_path())?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?;
    assert_eq!(config.cluster_url.to_string().trim_end_matches('/'), env.server_url());
    let client = kube::Client::try_from(config)?;
    Api::<Namespace>::all(client).get("default").await?;
    assert!(env.ca_pem().starts_with("-----BEGIN CERTIFICATE-----"));
    Ok(())
}

#[tokio::test]
async fn a_namespace_prefix_that_is_not_a_dns_label_is_an_error() {
    let env = env().await;
    let err = env.namespace("Not_Valid").await.unwrap_err();
    assert!(matches!(err, portal_testenv::Error::CreateNamespace { .. }), "{err:?}");
}
