//! The audit against the real API server: objects of the audited kinds get a PolicyReport of
//! their own, kept current as the objects and the rules change, written only when its content
//! changed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{DynamicObject, Patch, PatchParams, PostParams};
use kube::discovery::ApiResource;
use kube::{Api, ResourceExt};
use portal_kube::audit::Audit;
use portal_kube::lease::{Leadership, LeaseSettings, run_election};
use serde_json::{Value, json};

/// Every audit watches the whole cluster and owns every report Portal wrote: the tests of this
/// binary, which share one control plane, run one at a time.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const RULES: &str = "\
name: team-label
mode: [audit]
severity: high
match: {gvk: [{group: '', kind: Pod}]}
rule: \"object.metadata.?labels.?team.orValue('') == ''\"
message: every pod names its team
---
name: no-privileged
mode: [audit]
match: {gvk: [{group: '', kind: Pod}]}
rule: container.securityContext.privileged == true
message: privileged container
---
name: namespace-owner
mode: [audit]
severity: low
match: {gvk: [{group: '', kind: Namespace}]}
rule: \"object.metadata.name == 'audit-cluster-scoped' && object.metadata.?labels.?owner.orValue('') == ''\"
message: the namespace names its owner
---
name: admission-only
mode: [admission]
match: {gvk: [{group: '', kind: Pod}]}
rule: 'true'
";

/// The report on the object with `uid`, once `ready` holds for it.
async fn wait_for_report(
    client: &kube::Client,
    namespace: Option<&str>,
    uid: &str,
    ready: impl Fn(Option<&Value>) -> bool,
) -> Option<Value> {
    wait_for_report_within(client, namespace, uid, common::WAIT, ready).await
}

/// The report on the object with `uid`, once `ready` holds for it, waiting at most `limit`.
async fn wait_for_report_within(
    client: &kube::Client,
    namespace: Option<&str>,
    uid: &str,
    limit: Duration,
    ready: impl Fn(Option<&Value>) -> bool,
) -> Option<Value> {
    let api = common::reports(client, namespace);
    let deadline = Instant::now() + limit;
    loop {
        let report = api.get_opt(&format!("portal-{uid}")).await.unwrap().map(|r| serde_json::to_value(r).unwrap());
        if ready(report.as_ref()) {
            return report;
        }
        assert!(Instant::now() < deadline, "the report on {uid} never got there within {limit:?}; last: {report:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// (rule, result, container) of every result, sorted.
fn results(report: Option<&Value>) -> Vec<(String, String, Option<String>)> {
    let mut found: Vec<(String, String, Option<String>)> = report
        .and_then(|r| r["results"].as_array())
        .into_iter()
        .flatten()
        .map(|result| {
            (
                result["policy"].as_str().unwrap_or_default().to_owned(),
                result["result"].as_str().unwrap_or_default().to_owned(),
                result["properties"]["container"].as_str().map(str::to_owned),
            )
        })
        .collect();
    found.sort();
    found
}

fn result(rule: &str, outcome: &str, container: Option<&str>) -> (String, String, Option<String>) {
    (rule.to_owned(), outcome.to_owned(), container.map(str::to_owned))
}

async fn start_audit(
    client: &kube::Client,
    sources: &portal_kube::RuleSources,
    metrics: &portal_metrics::Metrics,
) -> Audit {
    start_replica(client, sources, None, metrics).await
}

async fn start_replica(
    client: &kube::Client,
    sources: &portal_kube::RuleSources,
    leadership: Option<Leadership>,
    metrics: &portal_metrics::Metrics,
) -> Audit {
    common::start_audit(client, sources, metrics, leadership, None, portal_report::ReportApi::PolicyWg).await
}

async fn create_namespace(client: &kube::Client, name: &str) -> Namespace {
    let namespace: Namespace = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
    Api::<Namespace>::all(client.clone()).create(&PostParams::default(), &namespace).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_get_reports_that_follow_the_objects_and_the_rules() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let client = common::client().await;
    common::install_report_crds(&client).await;
    create_namespace(&client, "audit-a").await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "audit-a");
    // Created before the audit starts: found by the first list.
    let existing: Pod = serde_json::from_value(json!({
        "metadata": {"name": "existing", "labels": {"team": "shop"}},
        "spec": {"containers": [{"name": "app", "image": "nginx"}]}
    }))
    .unwrap();
    let existing = pods.create(&PostParams::default(), &existing).await.unwrap();

    let (rules_dir, sources) = common::folder_sources(RULES).await;
    let metrics = portal_metrics::Metrics::new().unwrap();
    let audit = start_audit(&client, &sources, &metrics).await;

    let existing_uid = existing.uid().unwrap();
    let report = wait_for_report(&client, Some("audit-a"), &existing_uid, |r| r.is_some()).await;
    assert_eq!(
        results(report.as_ref()),
        [result("no-privileged", "pass", None), result("team-label", "pass", None)],
        "admission-only rules are not in audit reports"
    );
    let report = report.unwrap();
    assert_eq!(report["scope"]["name"], "existing");
    assert_eq!(report["scope"]["uid"], existing_uid.as_str());
    assert_eq!(report["metadata"]["ownerReferences"][0]["uid"], existing_uid.as_str());
    assert_eq!(report["metadata"]["labels"]["app.kubernetes.io/managed-by"], "portal");
    assert_eq!(report["summary"]["pass"], 2);

    // A violating pod created while the audit runs: a failing result within a second.
    let bad: Pod = serde_json::from_value(json!({
        "metadata": {"name": "bad"},
        "spec": {"containers": [
            {"name": "root", "image": "nginx", "securityContext": {"privileged": true}},
            {"name": "fine", "image": "nginx"}]}
    }))
    .unwrap();
    let created = Instant::now();
    let bad = pods.create(&PostParams::default(), &bad).await.unwrap();
    let bad_uid = bad.uid().unwrap();
    let report = wait_for_report(&client, Some("audit-a"), &bad_uid, |r| r.is_some()).await;
    // A liveness bound, not a timing: the latency is measured by the audit benchmark.
    let latency = created.elapsed();
    assert!(latency < Duration::from_secs(5), "the report took {latency:?}");
    assert_eq!(
        results(report.as_ref()),
        [result("no-privileged", "warn", Some("root")), result("team-label", "warn", None)],
        "audit-only rules block nothing: their violations are warnings"
    );
    assert!(report.as_ref().unwrap()["results"][0]["severity"].as_str().is_some());

    // Fixed: the result turns to pass.
    let patch = json!({"metadata": {"labels": {"team": "shop"}}});
    pods.patch("bad", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    let report = wait_for_report(&client, Some("audit-a"), &bad_uid, |r| {
        results(r).contains(&result("team-label", "pass", None))
    })
    .await;
    assert_eq!(
        results(report.as_ref()),
        [result("no-privileged", "warn", Some("root")), result("team-label", "pass", None)]
    );

    // A cluster-scoped object gets a ClusterPolicyReport.
    let namespace = create_namespace(&client, "audit-cluster-scoped").await;
    let namespace_uid = namespace.uid().unwrap();
    let report = wait_for_report(&client, None, &namespace_uid, |r| r.is_some()).await;
    assert_eq!(results(report.as_ref()), [result("namespace-owner", "warn", None)]);

    // Counted at each evaluation: the bad pod was evaluated when created and when relabelled.
    let exposed = metrics.encode();
    assert!(
        exposed.contains(r#"portal_audit_violations_total{rule="no-privileged",severity="medium"} 2"#),
        "{exposed}"
    );
    assert!(exposed.contains(r#"portal_audit_objects{kind="/Pod"}"#), "{exposed}");
    assert!(!exposed.contains(r#"result="created"} 0"#), "{exposed}");

    // A metadata-only bump (no content change) writes nothing.
    let before = wait_for_report(&client, Some("audit-a"), &existing_uid, |r| r.is_some()).await.unwrap();
    let touch = json!({"metadata": {"annotations": {"touched": "yes"}}});
    pods.patch("existing", &PatchParams::default(), &Patch::Merge(&touch)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = wait_for_report(&client, Some("audit-a"), &existing_uid, |r| r.is_some()).await.unwrap();
    assert_eq!(before["metadata"]["resourceVersion"], after["metadata"]["resourceVersion"], "unchanged results");

    // A restart over an unchanged cluster writes nothing.
    drop(audit);
    let restarted = portal_metrics::Metrics::new().unwrap();
    let audit = start_audit(&client, &sources, &restarted).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let again = wait_for_report(&client, Some("audit-a"), &existing_uid, |r| r.is_some()).await.unwrap();
    assert_eq!(after["metadata"]["resourceVersion"], again["metadata"]["resourceVersion"], "rewritten on restart");
    let exposed = restarted.encode();
    for nothing_written in [r#"result="created"} 0"#, r#"result="updated"} 0"#] {
        assert!(exposed.contains(nothing_written), "{exposed}");
    }
    assert!(!exposed.contains(r#"result="unchanged"} 0"#), "{exposed}");

    // A change to the rule on namespaces evaluates the namespaces again, not the pods.
    let evaluations = |exposed: &str, rule: &str| -> u64 {
        let prefix = format!("portal_audit_evaluations_total{{rule=\"{rule}\"}} ");
        exposed.lines().find_map(|line| line.strip_prefix(prefix.as_str())?.parse().ok()).unwrap_or(0)
    };
    let pods_before = evaluations(&restarted.encode(), "team-label");
    std::fs::write(
        rules_dir.path().join("rules.yaml"),
        RULES.replace("message: the namespace names its owner", "message: name the namespace's owner"),
    )
    .unwrap();
    wait_for_report(&client, None, &namespace_uid, |r| {
        r.is_some_and(|r| r["results"][0]["message"] == "name the namespace's owner")
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(evaluations(&restarted.encode(), "team-label"), pods_before, "the pods were evaluated again");

    // A rule removed: its results go; the last rule on pods removed: the reports go.
    std::fs::write(
        rules_dir.path().join("rules.yaml"),
        RULES.replace("name: no-privileged", "name: no-privileged\nenabled: false"),
    )
    .unwrap();
    let report = wait_for_report(&client, Some("audit-a"), &bad_uid, |r| results(r).len() == 1).await;
    assert_eq!(results(report.as_ref()), [result("team-label", "pass", None)]);
    let only_namespaces = RULES.split("---\n").nth(2).unwrap();
    std::fs::write(rules_dir.path().join("rules.yaml"), only_namespaces).unwrap();
    wait_for_report(&client, Some("audit-a"), &bad_uid, |r| r.is_none()).await;
    wait_for_report(&client, Some("audit-a"), &existing_uid, |r| r.is_none()).await;
    wait_for_report(&client, None, &namespace_uid, |r| r.is_some()).await;
    drop(audit);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_rules_kind_is_watched_and_its_reports_go_at_start_up_when_the_rule_went_meanwhile() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let client = common::client().await;
    let (rules_dir, sources) = team_label_setup(&client, &["audit-sweep"]).await;
    let with_config_maps = format!(
        "{}---\nname: config-owner\nmode: [audit]\nmatch: {{gvk: [{{group: '', kind: ConfigMap}}], namespaces: {{include: [audit-sweep]}}}}\nrule: 'false'\n",
        RULES.split("---\n").next().unwrap()
    );
    let config_maps: Api<k8s_openapi::api::core::v1::ConfigMap> = Api::namespaced(client.clone(), "audit-sweep");
    let config_map = serde_json::from_value(json!({"metadata": {"name": "settings"}})).unwrap();
    let uid = config_maps.create(&PostParams::default(), &config_map).await.unwrap().uid().unwrap();
    let metrics = portal_metrics::Metrics::new().unwrap();
    let audit = start_audit(&client, &sources, &metrics).await;

    // A rule on a kind nobody watched: the existing object gets its report.
    let added = Instant::now();
    std::fs::write(rules_dir.path().join("rules.yaml"), &with_config_maps).unwrap();
    wait_for_report(&client, Some("audit-sweep"), &uid, |r| r.is_some()).await;
    println!("a new rule's kind: its object reported {:?} after the rule file was written", added.elapsed());
    // A liveness bound (the reload debounce, discovery, the list and the write).
    assert!(added.elapsed() < Duration::from_secs(5), "the new kind's report took {:?}", added.elapsed());

    // While Portal is down the ConfigMap rule goes: no kind it watches has the report's object,
    // so the report goes once every watched kind is listed.
    drop(audit);
    std::fs::write(rules_dir.path().join("rules.yaml"), RULES.split("---\n").next().unwrap()).unwrap();
    let deadline = Instant::now() + common::WAIT;
    while sources.rules().load().get("config-owner").is_some() {
        assert!(Instant::now() < deadline, "the rule was never unloaded");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _audit = start_audit(&client, &sources, &metrics).await;
    wait_for_report(&client, Some("audit-sweep"), &uid, |r| r.is_none()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kind_whose_crd_comes_after_its_rule_is_watched_when_it_is_served() {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;

    let _alone = ONE_AT_A_TIME.lock().await;
    let client = common::client().await;
    common::install_report_crds(&client).await;
    create_namespace(&client, "audit-late").await;
    let rule = "name: widget-size\nmode: [audit]\nmatch: {gvk: [{group: late.portal.dev, kind: Widget}]}\nrule: object.spec.size > 3\nmessage: too big\n";
    let (_rules_dir, sources) = common::folder_sources(rule).await;
    let metrics = portal_metrics::Metrics::new().unwrap();
    let _audit = start_audit(&client, &sources, &metrics).await;

    let crd: CustomResourceDefinition = serde_json::from_value(json!({
        "metadata": {"name": "widgets.late.portal.dev"},
        "spec": {"group": "late.portal.dev", "scope": "Namespaced",
                 "names": {"kind": "Widget", "plural": "widgets", "singular": "widget", "listKind": "WidgetList"},
                 "versions": [{"name": "v1", "served": true, "storage": true,
                               "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}
    }))
    .unwrap();
    let definitions: Api<CustomResourceDefinition> = Api::all(client.clone());
    definitions.create(&PostParams::default(), &crd).await.unwrap();
    let established = kube::runtime::conditions::is_crd_established();
    tokio::time::timeout(
        common::WAIT,
        kube::runtime::wait::await_condition(definitions, "widgets.late.portal.dev", established),
    )
    .await
    .unwrap()
    .unwrap();
    let widgets_resource = ApiResource {
        group: "late.portal.dev".into(),
        version: "v1".into(),
        api_version: "late.portal.dev/v1".into(),
        kind: "Widget".into(),
        plural: "widgets".into(),
    };
    let widgets: Api<DynamicObject> = Api::namespaced_with(client.clone(), "audit-late", &widgets_resource);
    let widget: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "late.portal.dev/v1", "kind": "Widget",
        "metadata": {"name": "big"}, "spec": {"size": 5}
    }))
    .unwrap();
    let uid = widgets.create(&PostParams::default(), &widget).await.unwrap().uid().unwrap();
    let report = wait_for_report(&client, Some("audit-late"), &uid, |r| r.is_some()).await;
    assert_eq!(results(report.as_ref()), [result("widget-size", "warn", None)]);
}

/// The report CRDs, `namespaces`, and rule sources with the first rule of [`RULES`] (team
/// labels on Pods); keep the folder as long as the sources.
async fn team_label_setup(client: &kube::Client, namespaces: &[&str]) -> (tempfile::TempDir, portal_kube::RuleSources) {
    common::install_report_crds(client).await;
    for namespace in namespaces {
        create_namespace(client, namespace).await;
    }
    common::folder_sources(RULES.split("---\n").next().unwrap_or_default()).await
}

/// A replica's place in the election: its leadership and the switch that makes it give the Lease
/// up.
struct Elector {
    leadership: Leadership,
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<Result<(), portal_kube::lease::LeaseSettingsError>>,
}

fn join_election(client: &kube::Client, identity: &str) -> Elector {
    let settings = LeaseSettings {
        namespace: "audit-election".to_owned(),
        name: "portal".to_owned(),
        identity: identity.to_owned(),
        lease_duration: Duration::from_secs(2),
        renew_deadline: Duration::from_millis(1_500),
        retry_period: Duration::from_millis(200),
    };
    let leadership = Leadership::default();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(run_election(client.clone(), settings, leadership.clone(), stopped));
    Elector { leadership, stop, task }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_leader_writes_and_another_replica_takes_over() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let client = common::client().await;
    let (_rules_dir, sources) = team_label_setup(&client, &["audit-election", "audit-b"]).await;

    let first = join_election(&client, "first");
    let deadline = Instant::now() + common::WAIT;
    while !first.leadership.is_leader() {
        assert!(Instant::now() < deadline, "the first replica never led");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let second = join_election(&client, "second");
    let metrics = portal_metrics::Metrics::new().unwrap();
    let leader = start_replica(&client, &sources, Some(first.leadership.clone()), &metrics).await;
    let follower = start_replica(&client, &sources, Some(second.leadership.clone()), &metrics).await;

    let pods: Api<Pod> = Api::namespaced(client.clone(), "audit-b");
    let pod = |name: &str| -> Pod {
        serde_json::from_value(
            json!({"metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": "x"}]}}),
        )
        .unwrap()
    };
    let one = pods.create(&PostParams::default(), &pod("one")).await.unwrap();
    wait_for_report(&client, Some("audit-b"), &one.uid().unwrap(), |r| r.is_some()).await;

    // The leader's audit stops, but it keeps the Lease: nobody writes.
    drop(leader);
    let two = pods.create(&PostParams::default(), &pod("two")).await.unwrap();
    let two_uid = two.uid().unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), "audit-b", &common::report_resource(true));
    assert!(api.get_opt(&format!("portal-{two_uid}")).await.unwrap().is_none(), "a replica that does not lead wrote");
    assert!(!second.leadership.is_leader());

    // It gives the Lease up: the other replica leads, catches up and keeps reports current.
    first.stop.send(true).unwrap();
    first.task.await.unwrap().unwrap();
    let handed_over = Instant::now();
    wait_for_report(&client, Some("audit-b"), &two_uid, |r| r.is_some()).await;
    // Within one lease period (2 s), with a second to spare for a loaded machine.
    assert!(handed_over.elapsed() < Duration::from_secs(3), "the take-over took {:?}", handed_over.elapsed());
    assert!(second.leadership.is_leader());
    drop(follower);
    second.stop.send(true).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rule_resources_count_their_evaluations() {
    use portal_kube::api::PortalClusterRule;

    let _alone = ONE_AT_A_TIME.lock().await;
    let client = common::client().await;
    common::install_crds(&client).await;
    common::install_report_crds(&client).await;
    create_namespace(&client, "audit-c").await;
    let config_maps: Api<k8s_openapi::api::core::v1::ConfigMap> = Api::namespaced(client.clone(), "audit-c");
    for (name, team) in [("labelled", Some("shop")), ("unlabelled", None)] {
        let labels = team.map(|team| json!({"team": team})).unwrap_or(json!({}));
        let config_map = serde_json::from_value(json!({"metadata": {"name": name, "labels": labels}})).unwrap();
        config_maps.create(&PostParams::default(), &config_map).await.unwrap();
    }
    let rule: PortalClusterRule = serde_json::from_value(json!({
        "apiVersion": "portal.io/v1alpha1", "kind": "PortalClusterRule",
        "metadata": {"name": "audit-counted"},
        "spec": {"mode": ["audit"], "match": {"gvk": [{"group": "", "kind": "ConfigMap"}], "namespaces": {"include": ["audit-c"]}},
                 "rule": "object.metadata.?labels.?team.orValue('') == ''"},
    }))
    .unwrap();
    let rules: Api<PortalClusterRule> = Api::all(client.clone());
    rules.create(&PostParams::default(), &rule).await.unwrap();
    let sources = portal_kube::RuleSources::start(portal_kube::SourcesConfig {
        cluster: Some(client.clone()),
        folders: Vec::new(),
        debounce: Duration::from_millis(20),
        limits: Default::default(),
        lookups: None,
    })
    .unwrap();
    sources.wait_ready().await;
    let metrics = portal_metrics::Metrics::new().unwrap();
    let _audit = start_audit(&client, &sources, &metrics).await;

    let counts = |rule: &PortalClusterRule| {
        let status = rule.status.clone().unwrap_or_default();
        (status.eval_count, status.violation_count, status.error_count)
    };
    let deadline = Instant::now() + common::WAIT;
    loop {
        let found = counts(&rules.get("audit-counted").await.unwrap());
        if found == (Some(2), Some(1), Some(0)) {
            break;
        }
        assert!(Instant::now() < deadline, "the counters never got there: {found:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Writing the counters changes the rule resource; that must not re-evaluate (and recount).
    let settled = rules.get("audit-counted").await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let later = rules.get("audit-counted").await.unwrap();
    assert_eq!(counts(&later), (Some(2), Some(1), Some(0)));
    assert_eq!(settled.metadata.resource_version, later.metadata.resource_version, "counters written again");
    // The conditions the sources applied are still there beside the counters.
    assert!(!later.status.unwrap_or_default().conditions.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_go_with_their_objects_and_namespaces_through_the_garbage_collector() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let client = common::client().await;
    let (_rules_dir, sources) = team_label_setup(&client, &["audit-gc", "audit-gc-doomed"]).await;
    let metrics = portal_metrics::Metrics::new().unwrap();
    let audit = start_audit(&client, &sources, &metrics).await;
    let pod = |name: &str| -> Pod {
        serde_json::from_value(
            json!({"metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": "x"}]}}),
        )
        .unwrap()
    };
    let kept: Api<Pod> = Api::namespaced(client.clone(), "audit-gc");
    let doomed: Api<Pod> = Api::namespaced(client.clone(), "audit-gc-doomed");
    let owner = kept.create(&PostParams::default(), &pod("owner")).await.unwrap().uid().unwrap();
    let inside = doomed.create(&PostParams::default(), &pod("inside")).await.unwrap().uid().unwrap();
    wait_for_report(&client, Some("audit-gc"), &owner, |r| r.is_some()).await;
    wait_for_report(&client, Some("audit-gc-doomed"), &inside, |r| r.is_some()).await;

    // Portal stops: only the cluster's own controllers can remove the reports now. The garbage
    // collector discovers the report kind within 30 s of its CRD appearing.
    drop(audit);
    kept.delete("owner", &Default::default()).await.unwrap();
    wait_for_report_within(&client, Some("audit-gc"), &owner, Duration::from_secs(90), |r| r.is_none()).await;
    Api::<Namespace>::all(client.clone()).delete("audit-gc-doomed", &Default::default()).await.unwrap();
    wait_for_report_within(&client, Some("audit-gc-doomed"), &inside, Duration::from_secs(90), |r| r.is_none()).await;
    let deadline = Instant::now() + Duration::from_secs(90);
    while Api::<Namespace>::all(client.clone()).get_opt("audit-gc-doomed").await.unwrap().is_some() {
        assert!(Instant::now() < deadline, "the namespace was never finalised");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
