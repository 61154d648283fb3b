//! Rule resources against a real kube-apiserver (portal-testenv): the CRDs install and the API
//! server enforces their schema; rules become Ready, report parse errors with line and column,
//! recover when fixed and leave the live set when deleted, without a restart.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use portal_kube::api::{ConditionStatus, PortalClusterRule, PortalRule};
use portal_kube::{RuleSources, SourcesConfig};
use serde_json::json;

use common::{WAIT, client, install_crds};

fn cluster_rule(name: &str, spec: serde_json::Value) -> PortalClusterRule {
    serde_json::from_value(json!({
        "apiVersion": "portal.io/v1alpha1", "kind": "PortalClusterRule",
        "metadata": {"name": name}, "spec": spec,
    }))
    .unwrap()
}

#[tokio::test]
async fn the_api_server_rejects_wrongly_shaped_rules() {
    let client = client().await;
    install_crds(&client).await;
    let api: Api<PortalClusterRule> = Api::all(client);
    let create = |spec: serde_json::Value| {
        let api = api.clone();
        async move {
            let body = json!({"apiVersion": "portal.io/v1alpha1", "kind": "PortalClusterRule",
                              "metadata": {"name": "schema-check"}, "spec": spec});
            let object: PortalClusterRule = match serde_json::from_value(body.clone()) {
                Ok(object) => object,
                // Our own types would refuse it; send the raw JSON through the dynamic API.
                Err(_) => return create_raw(api, body).await,
            };
            api.create(&PostParams::default(), &object).await.map(|_| ()).map_err(|e| e.to_string())
        }
    };
    let wrong_enum = create(json!({"match": {"gvk": [{"group": "", "kind": "Pod"}]}, "rule": "true",
                                   "enforcementAction": "block"}))
    .await;
    let error = wrong_enum.expect_err("an unknown enforcementAction is rejected");
    assert!(error.contains("spec.enforcementAction") && error.contains("Unsupported value"), "{error}");

    let wrong_type = create(json!({"match": {"gvk": [{"group": "", "kind": "Pod"}]}, "rule": "true",
                                   "enabled": "yes"}))
    .await;
    let error = wrong_type.expect_err("a string where a boolean belongs is rejected");
    assert!(error.contains("spec.enabled") && error.contains("boolean"), "{error}");

    let missing = create(json!({"rule": "true"})).await;
    let error = missing.expect_err("a rule without match is rejected");
    assert!(error.contains("spec.match") && error.contains("Required"), "{error}");
}

async fn create_raw(api: Api<PortalClusterRule>, body: serde_json::Value) -> Result<(), String> {
    let dynamic: Api<kube::api::DynamicObject> =
        Api::all_with(api.into_client(), &kube::api::ApiResource::erase::<PortalClusterRule>(&()));
    let object: kube::api::DynamicObject = serde_json::from_value(body).map_err(|e| e.to_string())?;
    dynamic.create(&PostParams::default(), &object).await.map(|_| ()).map_err(|e| e.to_string())
}

/// Waits until the rule's Ready condition has `status`, returning the rule and the time taken.
async fn wait_ready(
    api: &Api<PortalClusterRule>,
    name: &str,
    status: ConditionStatus,
) -> (PortalClusterRule, Duration) {
    let started = Instant::now();
    loop {
        let rule = api.get(name).await.unwrap();
        let ready = rule.status.as_ref().and_then(|s| s.conditions.iter().find(|c| c.type_ == "Ready"));
        let generation_seen = rule.status.as_ref().and_then(|s| s.observed_generation) == rule.metadata.generation;
        if ready.is_some_and(|c| c.status == status) && generation_seen {
            return (rule, started.elapsed());
        }
        assert!(started.elapsed() < WAIT, "rule {name} did not become Ready={status:?}: {:?}", rule.status);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < WAIT, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    started.elapsed()
}

#[tokio::test]
async fn cluster_rules_become_ready_report_errors_and_follow_changes() {
    let client = client().await;
    install_crds(&client).await;
    let sources = RuleSources::start(SourcesConfig {
        cluster: Some(client.clone()),
        folders: Vec::new(),
        debounce: Duration::from_millis(50),
        limits: Default::default(),
        lookups: None,
    })
    .unwrap();
    tokio::time::timeout(WAIT, sources.wait_ready()).await.expect("the rule sources list the cluster in time");
    let api: Api<PortalClusterRule> = Api::all(client.clone());
    let apply = |name: &'static str, spec: serde_json::Value| {
        let api = api.clone();
        async move {
            api.patch(name, &PatchParams::apply("portal-tests").force(), &Patch::Apply(&cluster_rule(name, spec)))
                .await
                .unwrap();
        }
    };
    let gvk = json!([{"group": "", "version": "v1", "kind": "Pod"}]);

    // A valid rule becomes Ready and enters the live rule set.
    apply("lifecycle-good", json!({"match": {"gvk": gvk}, "rule": "spec.hostNetwork == true", "mode": ["admission"]}))
        .await;
    let (rule, took) = wait_ready(&api, "lifecycle-good", ConditionStatus::True).await;
    println!("valid rule Ready=True after {} ms", took.as_millis());
    let status = rule.status.unwrap();
    assert_eq!(status.active_on, ["admission"]);
    assert!(status.parse_error.is_none());
    assert!(status.last_applied.is_some());
    // Another test's rule sources may have written that status first: wait for our own set.
    let rules = sources.rules();
    wait_until("the valid rule is in force", || rules.load().get("lifecycle-good").is_some()).await;

    // Invalid CEL: Ready=False with the line and column, and the good rule is untouched.
    apply("lifecycle-broken", json!({"match": {"gvk": gvk}, "rule": "spec.hostPID ==\n  == true"})).await;
    let (rule, took) = wait_ready(&api, "lifecycle-broken", ConditionStatus::False).await;
    println!("invalid rule Ready=False after {} ms", took.as_millis());
    let status = rule.status.unwrap();
    let ready = &status.conditions[0];
    assert_eq!(ready.reason, "InvalidExpression");
    let parse_error = status.parse_error.expect("a parse error is reported");
    assert_eq!(parse_error.field, "spec.rule");
    assert_eq!(parse_error.line, Some(2), "{parse_error:?}");
    assert!(parse_error.column.is_some_and(|c| c >= 1), "{parse_error:?}");
    assert!(parse_error.message.contains("does not compile"), "{parse_error:?}");
    wait_until("the invalid rule is not in force", || rules.load().get("lifecycle-broken").is_none()).await;
    assert!(rules.load().get("lifecycle-good").is_some(), "the good rule is untouched");

    // Fixing it clears the error.
    apply("lifecycle-broken", json!({"match": {"gvk": gvk}, "rule": "spec.hostPID == true"})).await;
    let (rule, took) = wait_ready(&api, "lifecycle-broken", ConditionStatus::True).await;
    println!("fixed rule Ready=True after {} ms", took.as_millis());
    // The status is Portal's by server-side apply: the field manager owns it, so the fixed
    // rule's parseError was removed rather than left behind.
    let status_manager =
        rule.metadata.managed_fields.iter().flatten().find(|f| f.subresource.as_deref() == Some("status"));
    assert_eq!(status_manager.and_then(|f| f.manager.as_deref()), Some(portal_kube::writers::FIELD_MANAGER));
    assert_eq!(status_manager.and_then(|f| f.operation.as_deref()), Some("Apply"));
    assert!(rule.status.unwrap().parse_error.is_none());
    wait_until("the fixed rule is in force", || rules.load().get("lifecycle-broken").is_some()).await;

    // Deleting a rule removes it from the live set.
    api.delete("lifecycle-broken", &DeleteParams::default()).await.unwrap();
    let took =
        wait_until("the deleted rule leaves the live set", || rules.load().get("lifecycle-broken").is_none()).await;
    println!("deleted rule left the live set after {} ms", took.as_millis());
    api.delete("lifecycle-good", &DeleteParams::default()).await.unwrap();

    // A PortalRule is named after its namespace, and a bad spec is reported as such.
    let namespace = portal_testenv::shared().await.unwrap().namespace("rules").await.unwrap();
    let namespaced: Api<PortalRule> = Api::namespaced(client.clone(), &namespace);
    let local: PortalRule = serde_json::from_value(json!({
        "apiVersion": "portal.io/v1alpha1", "kind": "PortalRule",
        "metadata": {"name": "local", "namespace": namespace},
        "spec": {"match": {"gvk": []}, "rule": "true"},
    }))
    .unwrap();
    namespaced.create(&PostParams::default(), &local).await.unwrap();
    let started = Instant::now();
    let status = loop {
        let rule = namespaced.get("local").await.unwrap();
        if let Some(status) = rule.status.filter(|s| !s.conditions.is_empty()) {
            break status;
        }
        assert!(started.elapsed() < WAIT, "the PortalRule got no status");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status.conditions[0].status, ConditionStatus::False);
    assert_eq!(status.conditions[0].reason, "InvalidSpec");
    assert_eq!(status.parse_error.unwrap().field, "spec.match.gvk");
    let fixed = json!({"spec": {"match": {"gvk": [{"group": "", "kind": "Pod"}]}}});
    namespaced.patch("local", &PatchParams::default(), &Patch::Merge(&fixed)).await.unwrap();
    let expected = format!("{namespace}/local");
    wait_until("the fixed PortalRule is in force", || rules.load().get(&expected).is_some()).await;
}

#[tokio::test]
async fn rule_resources_win_name_collisions_with_folder_rules() {
    let client = client().await;
    install_crds(&client).await;
    let api: Api<PortalClusterRule> = Api::all(client.clone());
    let spec = json!({"match": {"gvk": [{"group": "", "kind": "Pod"}]}, "rule": "spec.hostIPC == true"});
    api.patch(
        "collision",
        &PatchParams::apply("portal-tests").force(),
        &Patch::Apply(&cluster_rule("collision", spec)),
    )
    .await
    .unwrap();
    let folder = tempfile::tempdir().unwrap();
    std::fs::write(
        folder.path().join("collision.yaml"),
        "name: collision\nmatch: {gvk: [{group: '', kind: Pod}]}\nrule: spec.hostPID == true\n",
    )
    .unwrap();
    let sources = RuleSources::start(SourcesConfig {
        cluster: Some(client.clone()),
        folders: vec![folder.path().to_owned()],
        debounce: Duration::from_millis(50),
        limits: Default::default(),
        lookups: None,
    })
    .unwrap();
    let snapshot = tokio::time::timeout(WAIT, sources.wait_ready()).await.unwrap();
    let rules = sources.rules().load();
    let winner = rules.get("collision").expect("one rule named collision is in force");
    assert_eq!(winner.origin().source, "PortalClusterRule/collision", "the resource wins, deterministically");
    assert_eq!(winner.spec().rule, "spec.hostIPC == true");
    let reported =
        snapshot.problems.iter().find(|p| p.location.ends_with("collision.yaml")).expect("the loser is reported");
    assert!(
        reported.message.contains("rule name \"collision\" is already used by the rule at PortalClusterRule/collision"),
        "{reported:?}"
    );
    api.delete("collision", &DeleteParams::default()).await.unwrap();
}

/// A replica whose RBAC predates exceptions (it may list rules, not exceptions) still becomes
/// ready and enforces its rules: the exceptions it cannot list are taken as none.
#[tokio::test]
async fn without_permission_to_list_exceptions_the_rules_still_load() {
    use k8s_openapi::api::core::v1::ServiceAccount;
    let env = portal_testenv::shared().await.expect("the test control plane starts");
    let admin = client().await;
    install_crds(&admin).await;
    let namespace = env.namespace("old-rbac").await.unwrap();
    let account: ServiceAccount = serde_json::from_value(json!({"metadata": {"name": "old-portal"}})).unwrap();
    Api::<ServiceAccount>::namespaced(admin.clone(), &namespace)
        .create(&PostParams::default(), &account)
        .await
        .unwrap();
    let role = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": format!("{namespace}-rules")},
        "rules": [{"apiGroups": ["portal.io"], "resources": ["portalclusterrules", "portalrules"], "verbs": ["list", "watch"]}],
    });
    let binding = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": format!("{namespace}-rules")},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": format!("{namespace}-rules")},
        "subjects": [{"kind": "ServiceAccount", "name": "old-portal", "namespace": namespace}],
    });
    let params = PatchParams::apply("portal-tests");
    Api::<k8s_openapi::api::rbac::v1::ClusterRole>::all(admin.clone())
        .patch(&format!("{namespace}-rules"), &params, &Patch::Apply(&role))
        .await
        .unwrap();
    Api::<k8s_openapi::api::rbac::v1::ClusterRoleBinding>::all(admin.clone())
        .patch(&format!("{namespace}-rules"), &params, &Patch::Apply(&binding))
        .await
        .unwrap();
    let request: k8s_openapi::api::authentication::v1::TokenRequest =
        serde_json::from_value(json!({"spec": {"audiences": [], "expirationSeconds": 600}})).unwrap();
    let token = Api::<ServiceAccount>::namespaced(admin.clone(), &namespace)
        .create_token_request("old-portal", &PostParams::default(), &request)
        .await
        .unwrap()
        .status
        .unwrap()
        .token
        .unwrap();
    let kubeconfig = kube::config::Kubeconfig::from_yaml(&env.kubeconfig_with_token(&token)).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await.unwrap();
    let limited = kube::Client::try_from(config).unwrap();

    let sources = RuleSources::start(SourcesConfig {
        cluster: Some(limited),
        folders: Vec::new(),
        debounce: Duration::from_millis(20),
        limits: Default::default(),
        lookups: None,
    })
    .unwrap();
    let ready = tokio::time::timeout(WAIT, sources.wait_ready()).await.expect("ready without the exception kinds");
    assert!(ready.ready);
    assert_eq!(ready.exceptions.active, 0);
}
