//! Response actions and alerting, end to end: the real `portal run` binary against the test
//! control plane and a real Alertmanager (`PORTAL_ALERTMANAGER`, built by `cargo xtask
//! alertmanager`).
//!
//! - alerts appear in Alertmanager with SPEC §7's labels, resolve when the object is fixed or
//!   deleted, and arrive after an Alertmanager outage, with the queue's bound held and its
//!   overflow counted;
//! - label and annotate are applied once (by server-side apply, a field manager per action); a burst of
//!   100 violations is held to the rule's rate; evict obeys a PodDisruptionBudget; a quarantine
//!   NetworkPolicy is applied; a ServiceAccount's legacy token Secret is deleted and the
//!   ServiceAccount recreated with a new UID; system namespaces are never touched; a follower
//!   replica never acts;
//! - `actions.dryRun` changes nothing;
//! - an admission violation alerts (`on: [admission]`) as the decision is made, once per
//!   interval.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::{Value, json};

use common::{Replica, WAIT};

fn alertmanager_binary() -> PathBuf {
    std::env::var_os("PORTAL_ALERTMANAGER").map(PathBuf::from).expect(
        "PORTAL_ALERTMANAGER names the Alertmanager binary: run the tests with `cargo xtask test`, or set it to the \
         output of `cargo xtask alertmanager`",
    )
}

/// A real Alertmanager on 127.0.0.1, killed when dropped.
struct Alertmanager {
    process: Child,
    port: u16,
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

impl Alertmanager {
    /// Starts one on `port` with empty state (its storage in a new directory under `dir`).
    async fn start(dir: &Path, port: u16) -> Alertmanager {
        let alertmanager = Alertmanager::spawn(dir, port, &[]);
        let started = Instant::now();
        while alertmanager.try_alerts().await.is_none() {
            assert!(started.elapsed() < WAIT, "Alertmanager did not start on port {port}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        alertmanager
    }

    /// Starts one on `port` with `args` added, without waiting for it.
    fn spawn(dir: &Path, port: u16, args: &[String]) -> Alertmanager {
        std::fs::create_dir_all(dir).unwrap();
        let config = dir.join("alertmanager.yml");
        std::fs::write(&config, "route:\n  receiver: discard\nreceivers:\n- name: discard\n").unwrap();
        let storage = tempfile::tempdir_in(dir).unwrap().keep();
        let run = storage.file_name().unwrap().to_string_lossy().into_owned();
        let log = std::fs::File::create(dir.join(format!("alertmanager-{port}-{run}.log"))).unwrap();
        let process = Command::new(alertmanager_binary())
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.path={}", storage.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            // A single Alertmanager: no gossip port.
            .arg("--cluster.listen-address=")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        Alertmanager { process, port }
    }

    /// `GET /api/v2/alerts`: the alerts that have not ended.
    async fn try_alerts(&self) -> Option<Vec<Value>> {
        let stream = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await.ok()?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await.ok()?;
        tokio::spawn(connection);
        let request = http::Request::get("/api/v2/alerts")
            .header(http::header::HOST, format!("127.0.0.1:{}", self.port))
            .body(Empty::<Bytes>::new())
            .unwrap();
        let response = sender.send_request(request).await.ok()?;
        let body = response.into_body().collect().await.ok()?.to_bytes();
        serde_json::from_slice(&body).ok()
    }

    /// The alert about the object `name`, once there is one (`present`) or none (`!present`).
    async fn wait_for(&self, name: &str, present: bool) -> Option<Value> {
        let started = Instant::now();
        loop {
            let alerts = self.try_alerts().await.unwrap_or_default();
            let found = alerts.into_iter().find(|alert| alert["labels"]["name"] == name);
            if found.is_some() == present {
                return found;
            }
            assert!(started.elapsed() < WAIT, "the alert about {name} never became present={present}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Starts `portal run` auditing, its rules `rules`, electing in `lease_namespace` (Portal's own
/// namespace, which actions never touch); `settings` are more sections of its configuration
/// (`actions:`, `alerting:`, …), as YAML lines.
fn portal(
    env: &portal_testenv::TestEnv,
    dir: &Path,
    name: &str,
    lease_namespace: &str,
    rules: &str,
    settings: &str,
) -> Replica {
    let rules_dir = dir.join(format!("{name}-rules"));
    std::fs::create_dir_all(&rules_dir).unwrap();
    std::fs::write(rules_dir.join("rules.yaml"), rules).unwrap();
    let health = common::free_port();
    let config = dir.join(format!("{name}.yaml"));
    std::fs::write(
        &config,
        format!(
            "kubernetes: {{kubeconfig: {kubeconfig}}}\n\
             rules: {{cluster: {{enabled: false}}, folders: [{rules}]}}\n\
             admission: {{enabled: false}}\n\
             audit: {{enabled: true}}\n\
             health: {{listen: \"127.0.0.1:{health}\"}}\n\
             leaderElection: {{namespace: {lease_namespace}, leaseDuration: 2s, renewDeadline: 1500ms, retryPeriod: 200ms}}\n\
             logging: {{format: text,}}\n\
             {settings}",
            kubeconfig = env.kubeconfig_path().display(),
            rules = rules_dir.display(),
        ),
    )
    .unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_portal"));
    command.arg("run").arg(format!("--config={}", config.display()));
    Replica::spawn(command, health, &dir.join(format!("{name}.log")))
}

fn actions_total(action: &str, result: &str) -> String {
    format!("portal_actions_total{{action=\"{action}\",result=\"{result}\"}} ")
}

/// Waits until `check` is true of what `get` returns, or fails saying `what`, with the end of
/// `portal`'s log.
async fn eventually<T, F: std::future::Future<Output = T>>(
    portal: &Replica,
    what: &str,
    get: impl Fn() -> F,
    check: impl Fn(&T) -> bool,
) -> T {
    let started = Instant::now();
    loop {
        let value = get().await;
        if check(&value) {
            return value;
        }
        assert!(started.elapsed() < WAIT, "{what}: never happened\n{}", portal.log_tail());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn create<K>(api: &Api<K>, object: Value) -> K
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    api.create(&PostParams::default(), &serde_json::from_value(object).unwrap()).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_fire_resolve_and_survive_an_alertmanager_outage() {
    let env = portal_testenv::shared().await.expect("the test control plane starts");
    let client = env.client().unwrap();
    common::install_report_crds(&client).await;
    let namespace = env.namespace("alerts").await.unwrap();
    let lease = env.namespace("alerts-portal").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let alertmanager = Alertmanager::start(dir.path(), port).await;
    let rules = format!(
        "name: no-passwords\nmode: [audit]\nseverity: high\n\
         match: {{gvk: [{{group: '', kind: ConfigMap}}], namespaces: {{include: [{namespace}]}}}}\n\
         rule: \"has(object.data) && 'password' in object.data\"\n\
         message: ConfigMaps must not hold passwords\n\
         actions: [{{type: alertmanager, alertname: ConfigMapPassword, rateLimit: 6/m}}]\n"
    );
    let url = format!("http://127.0.0.1:{port}");
    // A second Alertmanager of the same HA set: every alert goes to both.
    let second_port = common::free_port();
    let second = Alertmanager::start(&dir.path().join("second"), second_port).await;
    let portal = portal(
        env,
        dir.path(),
        "alerting",
        &lease,
        &rules,
        &format!(
            "actions: {{enabled: true}}\n\
             alerting: {{alertmanager: {{urls: [\"{url}\", \"http://127.0.0.1:{second_port}\"], queueSize: 3}}}}\n"
        ),
    );
    portal.wait_for("portal_leader ", |leading| leading == 1.0).await;
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), &namespace);

    // A violation fires an alert with SPEC §7's labels and annotations.
    create(&config_maps, json!({"metadata": {"name": "leaky"}, "data": {"password": "hunter2"}})).await;
    let alert = alertmanager.wait_for("leaky", true).await.unwrap();
    let labels = &alert["labels"];
    assert_eq!(labels["alertname"], "ConfigMapPassword");
    assert_eq!(labels["rule"], "no-passwords");
    assert_eq!(labels["severity"], "high");
    assert_eq!(labels["mode"], "audit");
    assert_eq!(labels["kind"], "ConfigMap");
    assert_eq!(labels["namespace"], namespace.as_str());
    assert_eq!(alert["annotations"]["summary"], "ConfigMaps must not hold passwords");
    assert!(alert["annotations"]["description"].as_str().unwrap().contains(&format!("ConfigMap/{namespace}/leaky")));
    assert_eq!(alert["status"]["state"], "active");
    portal.wait_for(&actions_total("alertmanager", "ok"), |count| count == 1.0).await;
    assert_eq!(second.wait_for("leaky", true).await.unwrap()["labels"], alert["labels"]);

    // Fixing the object resolves it — long before the 30 s its endsAt would have ended it.
    let fixed = Instant::now();
    config_maps
        .patch("leaky", &PatchParams::default(), &Patch::Merge(json!({"data": {"password": null, "user": "x"}})))
        .await
        .unwrap();
    alertmanager.wait_for("leaky", false).await;
    second.wait_for("leaky", false).await;
    assert!(fixed.elapsed() < Duration::from_secs(15), "resolved only after {:?}", fixed.elapsed());

    // Alertmanager down: six violations, a queue of three — three updates dropped, counted.
    drop(alertmanager);
    for index in 0..6 {
        create(&config_maps, json!({"metadata": {"name": format!("down-{index}")}, "data": {"password": "x"}})).await;
    }
    let dropped = format!("portal_alerts_dropped_total{{alertmanager=\"{url}\"}} ");
    portal.wait_for(&dropped, |count| count >= 3.0).await;
    portal
        .wait_for(&format!("portal_alertmanager_sends_total{{alertmanager=\"{url}\",result=\"error\"}} "), |count| {
            count >= 1.0
        })
        .await;
    // Back (with no memory of what it had): the queued alerts arrive, and the refresh brings
    // the dropped ones too.
    let alertmanager = Alertmanager::start(dir.path(), port).await;
    for index in 0..6 {
        alertmanager.wait_for(&format!("down-{index}"), true).await;
    }
    // Deleting the object resolves its alert.
    config_maps.delete("down-0", &DeleteParams::default()).await.unwrap();
    alertmanager.wait_for("down-0", false).await;
    assert!(alertmanager.wait_for("down-1", true).await.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leader_acts_once_within_its_rates_and_budgets_and_a_follower_never() {
    let env = portal_testenv::shared().await.expect("the test control plane starts");
    let client = env.client().unwrap();
    common::install_report_crds(&client).await;
    let namespace = env.namespace("actions").await.unwrap();
    let lease = env.namespace("actions-portal").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let in_namespace = format!("namespaces: {{include: [{namespace}]}}");
    let rules = format!(
        "name: unowned\nmode: [audit]\n\
         match: {{gvk: [{{group: '', kind: ConfigMap}}], {in_namespace}}}\n\
         rule: \"object.metadata.name.startsWith('unowned') && !('team' in object.metadata.?labels.orValue({{}}))\"\n\
         actions:\n\
         - {{type: label, labels: {{portal.io/violation: unowned}}}}\n\
         - {{type: annotate, annotations: {{portal.io/reason: no team label}}}}\n\
         ---\n\
         name: burst\nmode: [audit]\n\
         match: {{gvk: [{{group: '', kind: ConfigMap}}], {in_namespace}}}\n\
         rule: \"object.metadata.name.startsWith('burst-')\"\n\
         actions: [{{type: label, labels: {{portal.io/burst: seen}}, rateLimit: 5/h}}]\n\
         ---\n\
         name: system-configmaps\nmode: [audit]\n\
         match: {{gvk: [{{group: '', kind: ConfigMap}}], namespaces: {{include: [kube-system]}}, objectSelector: {{matchLabels: {{portal-e2e: {namespace}}}}}}}\n\
         rule: \"true\"\n\
         actions: [{{type: label, labels: {{portal.io/touched: 'yes'}}}}]\n\
         ---\n\
         name: evict-marked\nmode: [audit]\n\
         match: {{gvk: [{{group: '', kind: Pod}}], {in_namespace}}}\n\
         rule: \"object.metadata.?labels.?evict.orValue('') == 'true'\"\n\
         actions: [{{type: evict, rateLimit: 10/s}}]\n\
         ---\n\
         name: quarantine\nmode: [audit]\n\
         match: {{gvk: [{{group: '', kind: Pod}}], {in_namespace}}}\n\
         rule: \"object.metadata.?labels.?compromised.orValue('') == 'true'\"\n\
         actions:\n\
         - type: patch-networkpolicy\n\
         \x20 networkPolicy:\n\
         \x20   name: quarantine-{{name}}\n\
         \x20   spec: {{podSelector: {{matchLabels: {{compromised: 'true'}}}}, policyTypes: [Ingress, Egress]}}\n\
         ---\n\
         name: leaked-account\nmode: [audit]\n\
         match: {{gvk: [{{group: '', kind: ServiceAccount}}], {in_namespace}}}\n\
         rule: \"object.metadata.?labels.?leaked.orValue('') == 'true'\"\n\
         actions: [{{type: revoke-sa-token, mode: recreate}}]\n"
    );
    let first = portal(env, dir.path(), "first", &lease, &rules, "actions: {enabled: true}\n");
    let second = portal(env, dir.path(), "second", &lease, &rules, "actions: {enabled: true}\n");
    let (leader, follower) = common::leader_and_follower(first, second).await;
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), &namespace);

    // Label and annotate: applied by server-side apply as `portal`, once.
    create(&config_maps, json!({"metadata": {"name": "unowned"}})).await;
    let labelled = eventually(
        &leader,
        "the unowned ConfigMap is labelled and annotated",
        || config_maps.get("unowned"),
        |found| {
            let found = found.as_ref().unwrap();
            found.labels().get("portal.io/violation").is_some_and(|value| value == "unowned")
                && found.annotations().get("portal.io/reason").is_some_and(|value| value == "no team label")
        },
    )
    .await
    .unwrap();
    let managers: Vec<String> = labelled.managed_fields().iter().filter_map(|entry| entry.manager.clone()).collect();
    // One field manager per action, so that the label and the annotation do not undo each other.
    assert!(managers.contains(&"portal/unowned/0".to_owned()), "{managers:?}");
    assert!(managers.contains(&"portal/unowned/1".to_owned()), "{managers:?}");
    // The label it applied is a change too: evaluated again, still violating, not done again.
    leader.wait_for(&actions_total("label", "duplicate"), |count| count >= 1.0).await;
    create(&config_maps, json!({"metadata": {"name": "unowned-two"}})).await;
    leader.wait_for(&actions_total("label", "ok"), |count| count == 2.0).await;

    // A burst of 100 violations of a rule limited to 5/h: 5 labelled, 95 held back.
    for index in 0..100 {
        create(&config_maps, json!({"metadata": {"name": format!("burst-{index}"), "labels": {"team": "x"}}})).await;
    }
    leader.wait_for(&actions_total("label", "ratelimited"), |count| count >= 95.0).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let burst_labelled = config_maps
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .iter()
        .filter(|map| map.labels().contains_key("portal.io/burst"))
        .count();
    assert_eq!(burst_labelled, 5, "the rate 5/h let {burst_labelled} through");

    // System namespaces are never touched, whatever a rule says.
    let system: Api<ConfigMap> = Api::namespaced(client.clone(), "kube-system");
    let system_name = format!("portal-e2e-{namespace}");
    create(&system, json!({"metadata": {"name": system_name, "labels": {"portal-e2e": namespace}}})).await;
    leader.wait_for(&actions_total("label", "excluded"), |count| count >= 1.0).await;
    assert!(!system.get(&system_name).await.unwrap().labels().contains_key("portal.io/touched"));
    system.delete(&system_name, &DeleteParams::default()).await.unwrap();

    // Evict obeys the PodDisruptionBudget: the protected Pod stays, the other is evicted. A
    // Pending Pod ignores budgets (the API server lets it go), so the protected one is made
    // Running and Ready first — there is no kubelet to do it — and marked for eviction after.
    let budgets: Api<PodDisruptionBudget> = Api::namespaced(client.clone(), &namespace);
    create(&budgets, json!({"metadata": {"name": "protect"}, "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "protected"}}}})).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), &namespace);
    let pod = |name: &str, labels: Value| {
        json!({"metadata": {"name": name, "labels": labels},
               "spec": {"containers": [{"name": "app", "image": "registry.k8s.io/pause:3.10"}]}})
    };
    create(&pods, pod("protected", json!({"app": "protected"}))).await;
    let ready = json!({"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}});
    pods.patch_status("protected", &PatchParams::default(), &Patch::Merge(&ready)).await.unwrap();
    eventually(
        &leader,
        "the disruption controller counts the protected Pod healthy",
        || budgets.get("protect"),
        |budget| {
            let status = budget.as_ref().unwrap().status.clone().unwrap_or_default();
            status.current_healthy == Some(1) && status.disruptions_allowed == Some(0)
        },
    )
    .await
    .unwrap();
    let mark = json!({"metadata": {"labels": {"evict": "true"}}});
    pods.patch("protected", &PatchParams::default(), &Patch::Merge(&mark)).await.unwrap();
    create(&pods, pod("loose", json!({"evict": "true"}))).await;
    eventually(
        &leader,
        "the loose Pod is evicted",
        || pods.get_opt("loose"),
        |found| found.as_ref().unwrap().is_none(),
    )
    .await
    .unwrap();
    leader.wait_for(&actions_total("evict", "error"), |count| count >= 1.0).await;
    assert!(pods.get_opt("protected").await.unwrap().is_some(), "the budget allowed no disruption");

    // Quarantine: the NetworkPolicy from the template, in the Pod's namespace.
    create(&pods, pod("suspect", json!({"compromised": "true"}))).await;
    let policies: Api<NetworkPolicy> = Api::namespaced(client.clone(), &namespace);
    let policy = eventually(
        &leader,
        "the quarantine NetworkPolicy exists",
        || policies.get_opt("quarantine-suspect"),
        |found| found.as_ref().unwrap().is_some(),
    )
    .await
    .unwrap()
    .unwrap();
    let spec = policy.spec.unwrap();
    assert_eq!(spec.pod_selector.unwrap().match_labels.unwrap()["compromised"], "true");
    assert_eq!(spec.policy_types.unwrap(), ["Ingress", "Egress"]);
    assert_eq!(policy.metadata.labels.unwrap()["app.kubernetes.io/managed-by"], "portal");

    // revoke-sa-token, recreate mode: the legacy token Secret goes, the UID changes.
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), &namespace);
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &namespace);
    let account = create(&accounts, json!({"metadata": {"name": "leaky"}})).await;
    create(
        &secrets,
        json!({"metadata": {"name": "leaky-token", "annotations": {"kubernetes.io/service-account.name": "leaky"}},
               "type": "kubernetes.io/service-account-token"}),
    )
    .await;
    create(&secrets, json!({"metadata": {"name": "unrelated"}, "stringData": {"a": "b"}})).await;
    accounts
        .patch("leaky", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"labels": {"leaked": "true"}}})))
        .await
        .unwrap();
    eventually(
        &leader,
        "the token Secret is deleted",
        || secrets.get_opt("leaky-token"),
        |found| found.as_ref().unwrap().is_none(),
    )
    .await
    .unwrap();
    let recreated = eventually(
        &leader,
        "the ServiceAccount has a new UID",
        || accounts.get_opt("leaky"),
        |found| found.as_ref().unwrap().as_ref().is_some_and(|found| found.uid() != account.uid()),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(recreated.labels()["leaked"], "true", "recreated with its labels");
    assert!(secrets.get_opt("unrelated").await.unwrap().is_some());

    // Label ran once per object.
    assert_eq!(leader.metric(&actions_total("label", "ok")).await, Some(7.0), "2 unowned + 5 burst");
    // The follower evaluated everything and did nothing.
    follower.wait_for(r#"portal_audit_evaluations_total{rule="burst"} "#, |count| count >= 100.0).await;
    let follower_metrics = follower.metrics().await.unwrap();
    let acted: Vec<&str> = follower_metrics
        .lines()
        .filter(|line| line.starts_with("portal_actions_total{") && !line.ends_with(" 0"))
        .collect();
    assert!(acted.is_empty(), "the follower counted actions: {acted:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_changes_nothing() {
    let env = portal_testenv::shared().await.expect("the test control plane starts");
    let client = env.client().unwrap();
    common::install_report_crds(&client).await;
    let namespace = env.namespace("dryrun").await.unwrap();
    let lease = env.namespace("dryrun-portal").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let rules = format!(
        "name: dry-label\nmode: [audit]\n\
         match: {{gvk: [{{group: '', kind: ConfigMap}}], namespaces: {{include: [{namespace}]}}}}\n\
         rule: \"true\"\n\
         actions: [{{type: label, labels: {{portal.io/dry: run}}}}, {{type: annotate, annotations: {{a: b}}}}]\n"
    );
    let portal = portal(env, dir.path(), "dry", &lease, &rules, "actions: {enabled: true, dryRun: true}\n");
    portal.wait_for("portal_leader ", |leading| leading == 1.0).await;
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), &namespace);
    create(&config_maps, json!({"metadata": {"name": "dry"}})).await;
    portal.wait_for(&actions_total("label", "dryrun"), |count| count == 1.0).await;
    portal.wait_for(&actions_total("annotate", "dryrun"), |count| count == 1.0).await;
    let found = config_maps.get("dry").await.unwrap();
    assert!(found.labels().is_empty() && found.annotations().is_empty(), "{:?}", found.metadata);
    assert_eq!(portal.metric(&actions_total("label", "ok")).await, Some(0.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admission_violations_alert_as_they_are_decided() {
    let env = portal_testenv::shared().await.expect("the test control plane starts");
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let alertmanager = Alertmanager::start(dir.path(), port).await;
    let config_file = dir.path().join("portal.yaml");
    std::fs::write(
        &config_file,
        format!("actions: {{enabled: true}}\nalerting: {{alertmanager: {{urls: [\"http://127.0.0.1:{port}\"]}}}}\n"),
    )
    .unwrap();
    let mut config =
        portal_config::Config::load(Some(&config_file), Vec::new(), &portal_config::Overrides::default()).unwrap();
    config.kubernetes.kubeconfig = Some(env.kubeconfig_path().to_owned());
    let metrics = portal_metrics::Metrics::new().unwrap();
    let client = env.client().unwrap();
    // This process acts alone (no election): as the leader would.
    let actions =
        portal_kube::actions::start(&config, Default::default(), client, metrics.clone(), None, Default::default())
            .unwrap();
    let (loaded, errors) = portal_rules::load_rules(
        "rules",
        "name: no-latest\nmode: [admission]\n\
         match: {gvk: [{group: '', version: v1, kind: Pod}]}\n\
         rule: container.image.endsWith(':latest')\n\
         message: pin the image to a version\n\
         actions: [{type: alertmanager, alertname: LatestImage, on: [admission], rateLimit: 1/m}]\n",
    );
    assert!(errors.is_empty(), "{errors:?}");
    let (rules, errors) = portal_rules::RuleSet::compile(loaded);
    assert!(errors.is_empty(), "{errors:?}");
    let options = portal_kube::admission::DecisionOptions {
        failure_policy: portal_kube::admission::DefaultFailurePolicy::Fail,
        excluded_namespaces: Vec::new(),
        actions: Some(actions.dispatcher.clone()),
    };
    let review = json!({
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {"uid": "1", "operation": "CREATE", "namespace": "shop",
                    "kind": {"group": "", "version": "v1", "kind": "Pod"},
                    "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "shop"},
                               "spec": {"containers": [{"name": "app", "image": "nginx:latest"}]}}},
    });
    let review = portal_kube::admission::read_review(&serde_json::to_vec(&review).unwrap()).unwrap();
    let decision = portal_kube::admission::decide(&review, &rules, None, &options);
    assert!(!decision.allowed, "{decision:?}");
    let alert = alertmanager.wait_for("web", true).await.unwrap();
    assert_eq!(alert["labels"]["alertname"], "LatestImage");
    assert_eq!(alert["labels"]["mode"], "admission");
    assert_eq!(alert["labels"]["container"], "app");
    assert_eq!(alert["annotations"]["operation"], "CREATE");
    assert_eq!(alert["annotations"]["summary"], "pin the image to a version");
    // The same request again (a retrying client) within the interval: one alert, not two.
    portal_kube::admission::decide(&review, &rules, None, &options);
    let text = metrics.encode();
    assert!(text.contains(r#"portal_actions_total{action="alertmanager",result="ok"} 1"#), "{text}");
    assert!(text.contains(r#"portal_actions_total{action="alertmanager",result="duplicate"} 1"#), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_findings_alert_and_resolve() {
    let env = portal_testenv::shared().await.expect("the test control plane starts");
    let client = env.client().unwrap();
    common::install_report_crds(&client).await;
    let namespace = env.namespace("netalert").await.unwrap();
    let lease = env.namespace("netalert-portal").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let alertmanager = Alertmanager::start(dir.path(), port).await;
    // No rule: the network checks find, and one of them alerts.
    let portal = portal(
        env,
        dir.path(),
        "network",
        &lease,
        "",
        &format!(
            "actions: {{enabled: true}}\nalerting: {{alertmanager: {{urls: [\"http://127.0.0.1:{port}\"]}}}}\n\
             network: {{enabled: true, checks: {{np.default-deny-missing: {{alert: NamespaceNotIsolated}}}}}}\n"
        ),
    );
    portal.wait_for("portal_leader ", |leading| leading == 1.0).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), &namespace);
    create(
        &pods,
        json!({"metadata": {"name": "web"}, "spec": {"containers": [{"name": "app", "image": "registry.k8s.io/pause:3.10"}]}}),
    )
    .await;
    let alert = alertmanager.wait_for(&namespace, true).await.unwrap();
    assert_eq!(alert["labels"]["alertname"], "NamespaceNotIsolated");
    assert_eq!(alert["labels"]["rule"], "np.default-deny-missing");
    assert_eq!(alert["labels"]["mode"], "network");
    assert_eq!(alert["labels"]["kind"], "Namespace");
    assert_eq!(alert["labels"]["severity"], "high");
    // A default-deny policy isolates the Pod: the finding clears, and the alert resolves.
    let policies: Api<NetworkPolicy> = Api::namespaced(client.clone(), &namespace);
    create(&policies, json!({"metadata": {"name": "deny"}, "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}))
        .await;
    alertmanager.wait_for(&namespace, false).await;
}

/// `portal-test-password`, hashed with bcrypt (cost 10) as Alertmanager's web configuration wants.
const PASSWORD_HASH: &str = "$2a$10$xX4nl.1qOYCPr3NTj03sSupqGc7afS/XABMq9RYZsmwikMcp9Z5Mi";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_reach_an_alertmanager_over_tls_with_basic_authentication() {
    let env = portal_testenv::shared().await.expect("the test control plane starts");
    let dir = tempfile::tempdir().unwrap();
    // A CA and a certificate for 127.0.0.1 that Alertmanager serves.
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::default();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::from_ca_cert_der(ca.der(), &ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::default();
    params.subject_alt_names = vec![rcgen::SanType::IpAddress(std::net::Ipv4Addr::LOCALHOST.into())];
    let served = params.signed_by(&key, &issuer).unwrap();
    let file = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let ca_file = file("ca.pem", &ca.pem());
    let web = format!(
        "tls_server_config:\n  cert_file: {}\n  key_file: {}\nbasic_auth_users:\n  portal: {PASSWORD_HASH}\n",
        file("tls.crt", &served.pem()).display(),
        file("tls.key", &key.serialize_pem()).display(),
    );
    let web_config = file("web.yml", &web);
    let port = common::free_port();
    let _alertmanager = Alertmanager::spawn(dir.path(), port, &[format!("--web.config.file={}", web_config.display())]);
    let url = format!("https://127.0.0.1:{port}");

    // Portal's actions with that URL, the CA, and basic authentication from a file: once with
    // the right password, once with a wrong one.
    let rules = portal_rules::RuleSet::compile(
        portal_rules::load_rules(
            "rules",
            "name: tls\nmatch: {gvk: [{group: '', version: v1, kind: Pod}]}\nrule: \"true\"\nalert: Tls\n",
        )
        .0,
    )
    .0;
    let pod = portal_actions::Subject {
        api_version: "v1".into(),
        kind: "Pod".into(),
        namespace: Some("shop".into()),
        name: "web".into(),
        uid: Some("uid-web".into()),
    };
    let violation = [portal_actions::Violation { message: "bad".into(), container: None }];
    for (password, expected) in [("portal-test-password", "ok"), ("wrong", "error")] {
        let password_file = file(&format!("password-{expected}"), password);
        let config_file = file(
            &format!("portal-{expected}.yaml"),
            &format!(
                "actions: {{enabled: true}}\nalerting: {{alertmanager: {{urls: [\"{url}\"], caFile: {}, username: portal, \
                 passwordFile: {}}}}}\n",
                ca_file.display(),
                password_file.display()
            ),
        );
        let config =
            portal_config::Config::load(Some(&config_file), Vec::new(), &portal_config::Overrides::default()).unwrap();
        let metrics = portal_metrics::Metrics::new().unwrap();
        let actions = portal_kube::actions::start(
            &config,
            Default::default(),
            env.client().unwrap(),
            metrics.clone(),
            None,
            Default::default(),
        )
        .unwrap();
        actions.dispatcher.observe(portal_actions::Source::Audit, &pod, (&rules.rules()[0]).into(), &violation);
        let series = format!("portal_alertmanager_sends_total{{alertmanager=\"{url}\",result=\"{expected}\"}} ");
        let started = Instant::now();
        while !metrics.encode().lines().any(|line| line.strip_prefix(&series).is_some_and(|value| value != "0")) {
            assert!(started.elapsed() < WAIT, "no {series}:\n{}", metrics.encode());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
