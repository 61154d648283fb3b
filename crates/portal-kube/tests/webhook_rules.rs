//! The opt-in managed webhook configuration against the real API server: the leader rewrites the
//! `rules` of Portal's webhooks in place when the rule set changes, keeps everything else as
//! installed, adds the cluster-scoped webhook when a rule first needs it, never deletes, writes
//! nothing when nothing changed, and a replica that does not lead writes nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use kube::Api;
use kube::api::PostParams;
use portal_kube::lease::{Leadership, LeaseSettings, run_election};
use portal_kube::registration::{self, RegistrationOptions, WebhookClient};
use portal_kube::writers::keep_webhook_rules;
use portal_rules::{RuleSet, load_rules};
use serde_json::json;

const PODS: &str = "name: pods\nmatch: {gvk: [{group: '', version: v1, kind: Pod}]}\nrule: spec.hostNetwork == true\n";
const DEPLOYMENTS_AND_NAMESPACES: &str = "\
name: deployments
match: {gvk: [{group: apps, version: v1, kind: Deployment}], operations: [CREATE]}
rule: object.spec.replicas > 50
---
name: namespaces
match: {gvk: [{group: '', version: v1, kind: Namespace}]}
rule: \"!has(object.metadata.labels.team)\"
";

fn rule_set(yaml: &str) -> RuleSet {
    let (loaded, errors) = load_rules("rules.yaml", yaml);
    assert!(errors.is_empty(), "{errors:?}");
    let (set, errors) = RuleSet::compile(loaded);
    assert!(errors.is_empty(), "{errors:?}");
    set
}

/// The configuration as an operator installs it: rendered for the Pod rule, pointing at a URL
/// nobody serves, failing open so the test API server is never blocked by it.
async fn install(api: &Api<ValidatingWebhookConfiguration>, name: &str) -> ValidatingWebhookConfiguration {
    let options = RegistrationOptions {
        name: name.to_owned(),
        client: WebhookClient::Url("https://127.0.0.1:1/validate".to_owned()),
        portal_namespace: "portal-system".to_owned(),
        failure_policy: "Ignore".to_owned(),
        cluster_failure_policy: "Ignore".to_owned(),
        ca_bundle: common::base64_encode(b"not a real CA, kept as installed"),
    };
    let rendered = registration::render(&rule_set(PODS), &options).unwrap().configuration;
    api.create(&PostParams::default(), &rendered).await.unwrap()
}

fn rules_json(configuration: &ValidatingWebhookConfiguration) -> serde_json::Value {
    let webhooks = configuration.webhooks.clone().unwrap_or_default();
    json!(webhooks.iter().map(|w| (w.name.clone(), serde_json::to_value(&w.rules).unwrap())).collect::<Vec<_>>())
}

async fn wait_for(
    api: &Api<ValidatingWebhookConfiguration>,
    name: &str,
    what: &str,
    done: impl Fn(&ValidatingWebhookConfiguration) -> bool,
) -> ValidatingWebhookConfiguration {
    let started = std::time::Instant::now();
    loop {
        let live = api.get(name).await.unwrap();
        if done(&live) {
            return live;
        }
        assert!(started.elapsed() < common::WAIT, "{what}: {}", rules_json(&live));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_leader_keeps_the_rules_in_step_and_nothing_else_changes() {
    let client = common::client().await;
    let api: Api<ValidatingWebhookConfiguration> = Api::all(client.clone());
    let installed = install(&api, "portal-managed").await;
    let (dir, sources) = common::folder_sources(DEPLOYMENTS_AND_NAMESPACES).await;

    // One replica: it leads at once.
    let leadership = Leadership::default();
    let settings = LeaseSettings {
        namespace: "default".to_owned(),
        name: "portal-managed".to_owned(),
        identity: "replica-a".to_owned(),
        lease_duration: Duration::from_secs(2),
        renew_deadline: Duration::from_millis(1_500),
        retry_period: Duration::from_millis(200),
    };
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let election = tokio::spawn(run_election(client.clone(), settings, leadership.clone(), stopped));
    let retry = Duration::from_millis(200);
    let keeper = tokio::spawn(keep_webhook_rules(
        client.clone(),
        "portal-managed".to_owned(),
        sources.rules(),
        sources.subscribe(),
        leadership.clone(),
        retry,
    ));

    // The rules become those of the rule set: Deployments (CREATE only) for the namespaced
    // webhook, and a cluster-scoped webhook for Namespaces, added.
    let live = wait_for(&api, "portal-managed", "the rules follow the rule set", |live| {
        live.webhooks.as_ref().is_some_and(|webhooks| webhooks.len() == 2)
    })
    .await;
    let webhooks = live.webhooks.clone().unwrap();
    let namespaced = webhooks.iter().find(|w| w.name == "namespaced.validate.portal.io").unwrap();
    let rules = serde_json::to_value(&namespaced.rules).unwrap();
    assert_eq!(rules[0]["apiGroups"], json!(["apps"]), "{rules}");
    assert_eq!(rules[0]["operations"], json!(["CREATE"]), "{rules}");
    assert_eq!(rules[0]["resources"], json!(["deployments", "deployments/scale"]), "{rules}");
    assert_eq!(rules.as_array().unwrap().len(), 1, "Pods are no longer registered: {rules}");
    // Everything else as installed.
    let installed_namespaced = installed.webhooks.as_ref().unwrap().iter().find(|w| w.name == namespaced.name).unwrap();
    assert_eq!(namespaced.client_config, installed_namespaced.client_config);
    assert_eq!(namespaced.failure_policy.as_deref(), Some("Ignore"));
    assert_eq!(namespaced.namespace_selector, installed_namespaced.namespace_selector);
    assert_eq!(namespaced.match_conditions, installed_namespaced.match_conditions);
    let cluster = webhooks.iter().find(|w| w.name == "cluster.validate.portal.io").unwrap();
    assert_eq!(
        cluster.client_config, installed_namespaced.client_config,
        "the added webhook reaches Portal the same way"
    );
    assert_eq!(serde_json::to_value(&cluster.rules).unwrap()[0]["resources"], json!(["namespaces"]));

    // Nothing changes: nothing is written.
    let version_live = live.clone();
    let version = live.metadata.resource_version.clone();
    tokio::time::sleep(retry * 5).await;
    assert_eq!(
        api.get("portal-managed").await.unwrap().metadata.resource_version,
        version,
        "an unchanged rule set wrote"
    );

    // A hand edit of the rules (a Helm upgrade, kubectl) is undone at the next check.
    let mut edited = api.get("portal-managed").await.unwrap();
    for webhook in edited.webhooks.as_mut().unwrap() {
        webhook.rules = Some(Vec::new());
    }
    api.replace("portal-managed", &PostParams::default(), &edited).await.unwrap();
    wait_for(&api, "portal-managed", "the hand edit is undone", |live| rules_json(live) == rules_json(&version_live))
        .await;

    // Every rule gone: the configuration stays, its webhooks with no rules (the API server
    // stores an empty list as none).
    std::fs::write(dir.path().join("rules.yaml"), "# no rules\n").unwrap();
    let live = wait_for(&api, "portal-managed", "the rules emptied", |live| {
        live.webhooks
            .as_ref()
            .is_some_and(|webhooks| webhooks.iter().all(|w| w.rules.as_ref().is_none_or(Vec::is_empty)))
    })
    .await;
    assert_eq!(live.webhooks.unwrap().len(), 2, "no webhook is deleted");

    keeper.abort();
    stop.send(true).unwrap();
    election.await.unwrap().unwrap();
    api.delete("portal-managed", &Default::default()).await.unwrap();
}

#[tokio::test]
async fn a_replica_that_does_not_lead_writes_nothing() {
    let client = common::client().await;
    let api: Api<ValidatingWebhookConfiguration> = Api::all(client.clone());
    let installed = install(&api, "portal-follower").await;
    let (_dir, sources) = common::folder_sources(DEPLOYMENTS_AND_NAMESPACES).await;
    // Never elected.
    let keeper = tokio::spawn(keep_webhook_rules(
        client.clone(),
        "portal-follower".to_owned(),
        sources.rules(),
        sources.subscribe(),
        Leadership::default(),
        Duration::from_millis(100),
    ));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let live = api.get("portal-follower").await.unwrap();
    assert_eq!(live.metadata.resource_version, installed.metadata.resource_version);
    keeper.abort();
    api.delete("portal-follower", &Default::default()).await.unwrap();
}
