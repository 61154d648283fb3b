//! Cluster lookups against the real API server: rules read other objects from Portal's watch
//! cache at admission (where the object under review is laid over it) and in the audit (where a
//! change to what a rule read evaluates its object again, within a budget).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod};
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{DynamicObject, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use portal_kube::admission::{self, Lookups, NoScaledObjects};
use portal_kube::audit::Audit;
use portal_kube::cache::{ClusterCache, NoNamespaces};
use portal_kube::{RuleSources, SourcesConfig};
use portal_rules::cluster::{ClusterView, LabelSelector, LookupTarget};
use serde_json::{Value, json};

/// The tests of this binary audit the same control plane: one at a time.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn object<T: serde::de::DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).unwrap()
}

async fn namespace(client: &kube::Client, name: &str, guarded: bool) {
    let labels = if guarded { json!({"portal-e2e": "lookups"}) } else { json!({}) };
    let namespace: Namespace = object(json!({"metadata": {"name": name, "labels": labels}}));
    Api::<Namespace>::all(client.clone()).create(&PostParams::default(), &namespace).await.unwrap();
}

/// Rule sources over `rules` that watch, through `cache`, what the rules look up before putting
/// them in force.
async fn sources(rules: &str, cache: &Arc<ClusterCache>) -> (tempfile::TempDir, RuleSources) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.yaml"), rules).unwrap();
    let sources = RuleSources::start(SourcesConfig {
        cluster: None,
        folders: vec![dir.path().to_owned()],
        debounce: Duration::from_millis(20),
        limits: Default::default(),
        lookups: Some(Arc::clone(cache)),
    })
    .unwrap();
    let snapshot = sources.wait_ready().await;
    assert!(snapshot.problems.is_empty(), "{:?}", snapshot.problems);
    (dir, sources)
}

async fn start_audit(
    client: &kube::Client,
    sources: &RuleSources,
    cache: &Arc<ClusterCache>,
    metrics: &portal_metrics::Metrics,
) -> Audit {
    let report_api = portal_report::ReportApi::PolicyWg;
    common::start_audit(client, sources, metrics, None, Some(Arc::clone(cache)), report_api).await
}

fn reports(client: &kube::Client, namespace: &str) -> Api<DynamicObject> {
    common::reports(client, Some(namespace))
}

fn metric(metrics: &portal_metrics::Metrics, series: &str) -> f64 {
    metrics.encode().lines().find_map(|line| line.strip_prefix(series)?.trim().parse().ok()).unwrap_or(0.0)
}

fn ingress(name: &str, host: &str) -> Ingress {
    object(json!({"metadata": {"name": name}, "spec": {"rules": [{"host": host}]}}))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_ingress_host_is_denied_at_admission_and_reported_in_audit() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let client = common::client().await;
    common::install_report_crds(&client).await;
    for (name, guarded) in [("lk-a", true), ("lk-b", true), ("lk-unguarded", false)] {
        namespace(&client, name, guarded).await;
    }
    let metrics = portal_metrics::Metrics::new().unwrap();
    let cache = ClusterCache::new(client.clone(), metrics.clone());
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/lookups/rules/unique-ingress-host.yaml");
    let (_rules, sources) = sources(&std::fs::read_to_string(example).unwrap(), &cache).await;
    // The kind the rule reads was watched and listed before the rule was put in force.
    let target = LookupTarget::new("networking.k8s.io/v1", "Ingress");
    assert!(cache.list(&target, None, &LabelSelector::new()).is_ok(), "Ingresses are listed before the rule runs");

    let certificates = common::Certificates::new();
    let tls_dir = tempfile::tempdir().unwrap();
    certificates.write_serving(tls_dir.path());
    let settings = common::admission_settings(tls_dir.path(), Duration::from_secs(60));
    let view = Arc::clone(&cache) as Arc<dyn ClusterView>;
    let reads = Lookups { namespaces: Arc::new(NoNamespaces), scaled: Arc::new(NoScaledObjects), cluster: Some(view) };
    let server = admission::start(settings, sources.rules(), reads, metrics.clone()).await.unwrap();
    let webhook_rules = json!([{"apiGroups": ["networking.k8s.io"], "apiVersions": ["v1"],
        "operations": ["CREATE", "UPDATE"], "resources": ["ingresses"]}]);
    let configuration =
        common::webhook("lookups", server.local_addr().port(), &certificates.ca_pem, "lookups", "Fail", webhook_rules);
    let webhooks: Api<ValidatingWebhookConfiguration> = Api::all(client.clone());
    webhooks.create(&PostParams::default(), &configuration).await.unwrap();

    let first: Api<Ingress> = Api::namespaced(client.clone(), "lk-a");
    let second: Api<Ingress> = Api::namespaced(client.clone(), "lk-b");
    // The configuration takes a moment to reach the API server's webhook plugin: until then a
    // duplicate would pass unseen, so the first object is created once the webhook answers.
    let started = Instant::now();
    while metric(&metrics, r#"portal_admission_requests_total{decision="allowed"}"#) == 0.0 {
        let _ = first.create(&PostParams::default(), &ingress("probe", "probe.example")).await;
        let _ = first.delete("probe", &Default::default()).await;
        assert!(started.elapsed() < common::WAIT, "the webhook was never called");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    first.create(&PostParams::default(), &ingress("shop", "shop.example")).await.unwrap();
    // The cache has it once its watch saw it.
    let started = Instant::now();
    while cache.get(&target, Some("lk-a"), "shop").unwrap().is_none() {
        assert!(started.elapsed() < common::WAIT, "the cache never saw the Ingress");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let denied = second.create(&PostParams::default(), &ingress("promo", "shop.example")).await.unwrap_err();
    assert!(denied.to_string().contains("host already served by another Ingress: shop.example"), "{denied}");
    second.create(&PostParams::default(), &ingress("blog", "blog.example")).await.unwrap();
    // Updating the shop's own Ingress, keeping its host: it is not a duplicate of itself.
    let relabel = json!({"metadata": {"labels": {"team": "shop"}}});
    first.patch("shop", &PatchParams::default(), &Patch::Merge(&relabel)).await.unwrap();

    // Where admission does not look, a duplicate gets in: the audit reports both.
    let unguarded: Api<Ingress> = Api::namespaced(client.clone(), "lk-unguarded");
    let copy = unguarded.create(&PostParams::default(), &ingress("copy", "shop.example")).await.unwrap();
    let _audit = start_audit(&client, &sources, &cache, &metrics).await;
    let shop_uid = first.get("shop").await.unwrap().uid().unwrap();
    common::wait_for_result(&reports(&client, "lk-unguarded"), &copy.uid().unwrap(), "unique-ingress-host", "fail")
        .await;
    common::wait_for_result(&reports(&client, "lk-a"), &shop_uid, "unique-ingress-host", "fail").await;
    let blog_uid = second.get("blog").await.unwrap().uid().unwrap();
    common::wait_for_result(&reports(&client, "lk-b"), &blog_uid, "unique-ingress-host", "pass").await;
    // The copy goes: the shop's Ingress, which read it, is evaluated again and passes.
    unguarded.delete("copy", &Default::default()).await.unwrap();
    common::wait_for_result(&reports(&client, "lk-a"), &shop_uid, "unique-ingress-host", "pass").await;
    webhooks.delete("lookups", &Default::default()).await.unwrap();
}

const MISSING_CONFIG: &str = "\
name: missing-config
mode: [audit]
match: {gvk: [{group: '', kind: Pod}]}
rule: >-
  object.spec.?volumes.orValue([]).exists(v, has(v.configMap) &&
    cluster.get('v1', 'ConfigMap', object.metadata.namespace, v.configMap.name) == null)
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creating_what_a_pod_misses_turns_its_result_pass() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let client = common::client().await;
    common::install_report_crds(&client).await;
    namespace(&client, "lk-c", false).await;
    let metrics = portal_metrics::Metrics::new().unwrap();
    let cache = ClusterCache::new(client.clone(), metrics.clone());
    let (rules, sources) = sources(MISSING_CONFIG, &cache).await;
    let _audit = start_audit(&client, &sources, &cache, &metrics).await;

    // A rule added while Portal runs is put in force only once what it reads is listed.
    let secrets = LookupTarget::new("v1", "Secret");
    assert!(cache.list(&secrets, None, &LabelSelector::new()).is_err(), "nobody reads Secrets yet");
    std::fs::write(
        rules.path().join("secrets.yaml"),
        "name: reads-secrets\nmode: [audit]\nmatch: {gvk: [{group: '', kind: Service}]}\n\
         rule: cluster.get('v1', 'Secret', object.metadata.namespace, 'tls') == null\n",
    )
    .unwrap();
    let mut snapshots = sources.subscribe();
    let started = Instant::now();
    while !snapshots.borrow_and_update().rules.iter().any(|rule| rule == "reads-secrets") {
        tokio::time::timeout(common::WAIT, snapshots.changed()).await.unwrap().unwrap();
        assert!(started.elapsed() < common::WAIT);
    }
    assert!(sources.rules().load().get("reads-secrets").is_some());
    assert!(
        cache.list(&secrets, None, &LabelSelector::new()).is_ok(),
        "Secrets are listed before the rule is in force"
    );

    let pod: Pod = object(json!({"metadata": {"name": "waiting"}, "spec": {
        "volumes": [{"name": "settings", "configMap": {"name": "late"}}],
        "containers": [{"name": "app", "image": "x"}]}}));
    let uid = Api::<Pod>::namespaced(client.clone(), "lk-c").create(&PostParams::default(), &pod).await.unwrap().uid();
    let uid = uid.unwrap();
    let reports = reports(&client, "lk-c");
    common::wait_for_result(&reports, &uid, "missing-config", "warn").await;

    let config_map: ConfigMap = object(json!({"metadata": {"name": "late"}}));
    let created = Instant::now();
    Api::<ConfigMap>::namespaced(client.clone(), "lk-c").create(&PostParams::default(), &config_map).await.unwrap();
    common::wait_for_result(&reports, &uid, "missing-config", "pass").await;
    let took = created.elapsed();
    println!("the pod's result turned pass {took:?} after its ConfigMap was created");
    // A liveness bound (the target, 1 s, is measured here and reported, not asserted).
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert!(metric(&metrics, r#"portal_lookup_reevaluations_total{outcome="queued"}"#) >= 1.0);
}

const READS_ANOTHER: &str = "\
name: reads-switch
mode: [audit]
match: {gvk: [{group: '', kind: ConfigMap}], namespaces: {include: [lk-d]}}
rule: >-
  object.metadata.name == 'reader' &&
    cluster.get('v1', 'ConfigMap', 'lk-d', 'switch').?data.?state.orValue('') == 'off'
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_whose_object_keeps_changing_what_it_reads_is_not_re_evaluated_without_bound() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let client = common::client().await;
    common::install_report_crds(&client).await;
    namespace(&client, "lk-d", false).await;
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), "lk-d");
    for name in ["reader", "switch"] {
        config_maps.create(&PostParams::default(), &object(json!({"metadata": {"name": name}}))).await.unwrap();
    }
    let metrics = portal_metrics::Metrics::new().unwrap();
    let cache = ClusterCache::new(client.clone(), metrics.clone());
    let (_rules, sources) = sources(READS_ANOTHER, &cache).await;
    let _audit = start_audit(&client, &sources, &cache, &metrics).await;
    let reader = config_maps.get("reader").await.unwrap().uid().unwrap();
    common::wait_for_result(&reports(&client, "lk-d"), &reader, "reads-switch", "pass").await;

    // What the reader reads changes 12 times at once, as an action rewriting it would.
    for flip in 0..12 {
        let patch = json!({"data": {"state": if flip % 2 == 0 { "off" } else { "on" }}});
        config_maps.patch("switch", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    }
    let started = Instant::now();
    let queued = r#"portal_lookup_reevaluations_total{outcome="queued"}"#;
    let suppressed = r#"portal_lookup_reevaluations_total{outcome="suppressed"}"#;
    while metric(&metrics, queued) + metric(&metrics, suppressed) < 12.0 {
        assert!(started.elapsed() < common::WAIT, "not every change was seen: {}", metrics.encode());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(metric(&metrics, queued), 3.0, "the budget: 3 re-evaluations per 10 s");
    assert_eq!(metric(&metrics, suppressed), 9.0);
}
