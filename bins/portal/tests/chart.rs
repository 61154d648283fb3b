//! The Helm chart (deploy/helm/portal), with the real helm (`PORTAL_HELM`, built by `cargo xtask
//! helm`) and the real API server: it lints and renders for every feature, its copies and the
//! rendered manifests are current, what it renders passes Portal's own restricted Pod Security
//! bundle and applies to the API server, and Portal runs with exactly its RBAC — every feature
//! on, exercised through the API server — without a single `Forbidden`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::authentication::v1::TokenRequest;
use k8s_openapi::api::core::v1::{Namespace, Pod, ServiceAccount};
use kube::api::{DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams};
use kube::{Api, Discovery};
use serde_json::{Value, json};

/// The tests of this binary share one control plane, and the RBAC test registers a webhook that
/// every other namespace's requests go through: one at a time.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn helm() -> PathBuf {
    std::env::var_os("PORTAL_HELM").map(PathBuf::from).expect(
        "PORTAL_HELM names the helm binary: run the tests with `cargo xtask test`, or set it to the output of \
         `cargo xtask helm`",
    )
}

/// Every `--set` value that switches a feature on (`cargo xtask chart` lints with the same).
const ALL_FEATURES: &[&str] = &[
    "audit.enabled=true",
    "network.enabled=true",
    "metrics.serviceMonitor.enabled=true",
    "lookups.resources[0].apiGroups[0]=",
    "lookups.resources[0].resources[0]=configmaps",
    "actions.enabled=true",
    "alerting.alertmanager.urls[0]=http://alertmanager.monitoring:9093",
    "alerting.alertmanager.bearerTokenSecret=alertmanager-token",
];

fn run_helm(args: &[&str]) -> std::process::Output {
    Command::new(helm()).args(args).current_dir(root()).output().unwrap()
}

/// `helm template RELEASE` into `namespace` with `set`, CRDs included, as documents.
fn render(release: &str, namespace: &str, set: &[&str]) -> Vec<Value> {
    let mut args = vec!["template", release, "deploy/helm/portal", "--namespace", namespace, "--include-crds"];
    args.extend(set.iter().flat_map(|value| ["--set", *value]));
    let output = run_helm(&args);
    assert!(output.status.success(), "helm template {set:?}: {}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8(output.stdout).unwrap();
    portal_rules::parse_documents("rendered", &text).unwrap().into_iter().map(|d| d.value).collect()
}

fn of_kind<'a>(documents: &'a [Value], kind: &str) -> Vec<&'a Value> {
    documents.iter().filter(|d| d["kind"] == kind).collect()
}

/// (apiGroups, resources, verbs) of every rule of the rendered ClusterRole and Role, flattened
/// to one entry per (group, resource).
fn granted(documents: &[Value]) -> Vec<(String, String, Vec<String>)> {
    let mut found = Vec::new();
    for role in of_kind(documents, "ClusterRole").into_iter().chain(of_kind(documents, "Role")) {
        for rule in role["rules"].as_array().into_iter().flatten() {
            let verbs: Vec<String> =
                rule["verbs"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect();
            for group in rule["apiGroups"].as_array().unwrap() {
                for resource in rule["resources"].as_array().unwrap() {
                    found.push((
                        group.as_str().unwrap().to_owned(),
                        resource.as_str().unwrap().to_owned(),
                        verbs.clone(),
                    ));
                }
            }
        }
    }
    found
}

fn grants(documents: &[Value], group: &str, resource: &str) -> bool {
    granted(documents).iter().any(|(g, r, _)| g == group && r == resource)
}

fn grants_verb(documents: &[Value], group: &str, resource: &str, verb: &str) -> bool {
    granted(documents).iter().any(|(g, r, verbs)| g == group && r == resource && verbs.iter().any(|v| v == verb))
}

#[test]
fn the_chart_lints_and_renders_for_every_feature() {
    let sets: [&[&str]; 4] = [
        &[],
        ALL_FEATURES,
        &["certificates.mode=cert-manager", "audit.enabled=true", "audit.reportApi=openreports.io/v1alpha1"],
        &["admission.enabled=false", "audit.enabled=true", "rules.files.team\\.yaml=name: x"],
    ];
    for set in sets {
        let mut args = vec!["lint", "--strict", "deploy/helm/portal"];
        args.extend(set.iter().flat_map(|value| ["--set", *value]));
        let output = run_helm(&args);
        assert!(output.status.success(), "helm lint {set:?}: {}", String::from_utf8_lossy(&output.stdout));
        assert!(!render("portal", "portal-system", set).is_empty());
    }
    // cert-manager: a Certificate for the Service's names and the CA injector annotation.
    let cert_manager = render("portal", "portal-system", &["certificates.mode=cert-manager"]);
    let webhook = of_kind(&cert_manager, "ValidatingWebhookConfiguration")[0];
    assert_eq!(webhook["metadata"]["annotations"]["cert-manager.io/inject-ca-from"], "portal-system/portal-webhook");
    let serving =
        of_kind(&cert_manager, "Certificate").into_iter().find(|c| c["metadata"]["name"] == "portal-webhook").unwrap();
    assert_eq!(serving["spec"]["dnsNames"][2], "portal-webhook.portal-system.svc");
    assert!(!grants(&cert_manager, "", "secrets"), "cert-manager writes the Secret, Portal only reads it as a volume");
    // A wrong value is refused by the schema, with the field; the analysis without audit by the chart.
    let output = run_helm(&["template", "portal", "deploy/helm/portal", "--set", "admission.failurePolicy=Open"]);
    assert!(String::from_utf8_lossy(&output.stderr).contains("/admission/failurePolicy"), "{output:?}");
    let output = run_helm(&["template", "portal", "deploy/helm/portal", "--set", "network.enabled=true"]);
    assert!(String::from_utf8_lossy(&output.stderr).contains("network.enabled needs audit.enabled"), "{output:?}");
}

#[test]
fn rbac_grows_only_with_the_features_switched_on() {
    let admission_only = render("portal", "portal-system", &[]);
    let everything = render("portal", "portal-system", ALL_FEATURES);
    // Admission alone: rules and exceptions, Namespaces, scaled objects, its own webhook
    // configuration by name, its Secret and Lease.
    assert!(grants(&admission_only, "portal.io", "portalexceptions"));
    assert!(grants(&admission_only, "", "namespaces"));
    assert!(grants_verb(&admission_only, "apps", "deployments", "get"));
    assert!(grants(&admission_only, "", "secrets"));
    let webhook_rule = of_kind(&admission_only, "ClusterRole")[0]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|rule| rule["resources"][0] == "validatingwebhookconfigurations")
        .unwrap()
        .clone();
    assert_eq!(webhook_rule["resourceNames"], json!(["portal"]), "only its own configuration");
    // What only the audit, the analysis and lookups need is absent until they are on.
    for (group, resource) in [
        ("wgpolicyk8s.io", "policyreports"),
        ("", "pods"),
        ("networking.k8s.io", "networkpolicies"),
        ("apiextensions.k8s.io", "customresourcedefinitions"),
        ("", "configmaps"),
        ("", "pods/eviction"),
        ("", "serviceaccounts"),
    ] {
        assert!(!grants(&admission_only, group, resource), "{group}/{resource} without the feature that needs it");
        assert!(grants(&everything, group, resource), "{group}/{resource} with every feature on");
    }
    // Without admission: no webhook configuration, no Secret, no scaled objects.
    let audit_only = render("portal", "portal-system", &["admission.enabled=false", "audit.enabled=true"]);
    for (group, resource, verb) in [
        ("admissionregistration.k8s.io", "validatingwebhookconfigurations", "update"),
        ("", "secrets", "get"),
        ("apps", "deployments", "get"),
    ] {
        assert!(!grants_verb(&audit_only, group, resource, verb), "{verb} {group}/{resource} without admission");
    }
    assert!(of_kind(&audit_only, "ValidatingWebhookConfiguration").is_empty());
    // Without cluster rules: nothing of portal.io.
    let folders_only = render("portal", "portal-system", &["rules.cluster=false"]);
    assert!(!granted(&folders_only).iter().any(|(group, _, _)| group == "portal.io"));
    // Actions: each type's verbs only while the type is on. Deleting Secrets cluster-wide comes
    // only with revoke-sa-token (docs/actions.md).
    assert!(grants_verb(&everything, "", "secrets", "delete"));
    assert!(grants_verb(&everything, "networking.k8s.io", "networkpolicies", "patch"));
    let few_types = render(
        "portal",
        "portal-system",
        &["actions.enabled=true", "actions.types.evict=false", "actions.types.revokeSaToken=false"],
    );
    assert!(!grants(&few_types, "", "pods/eviction"));
    assert!(!grants_verb(&few_types, "", "secrets", "delete"));
    assert!(grants_verb(&few_types, "", "configmaps", "patch"), "label and annotate stay on");
    // Never a wildcard.
    for (group, resource, verbs) in granted(&everything) {
        assert!(group != "*" && resource != "*" && !verbs.contains(&"*".to_owned()), "{group}/{resource} {verbs:?}");
    }
}

#[test]
fn copies_and_rendered_manifests_are_current() {
    let root = root();
    let chart = root.join("deploy/helm/portal");
    for entry in std::fs::read_dir(root.join("deploy/crds")).unwrap() {
        let path = entry.unwrap().path();
        let copy = chart.join("crds").join(path.file_name().unwrap());
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            std::fs::read_to_string(&copy).unwrap_or_default(),
            "{} is out of date: run `cargo xtask chart`",
            copy.display()
        );
    }
    let manifests = std::fs::read_to_string(root.join("deploy/manifests/portal.yaml")).unwrap();
    let output =
        run_helm(&["template", "portal", "deploy/helm/portal", "--namespace", "portal-system", "--include-crds"]);
    let rendered = String::from_utf8(output.stdout).unwrap();
    assert!(manifests.ends_with(&rendered), "deploy/manifests/portal.yaml is out of date: run `cargo xtask chart`");
    let chart_yaml: Value =
        serde_saphyr::from_str(&std::fs::read_to_string(chart.join("Chart.yaml")).unwrap()).unwrap();
    assert_eq!(chart_yaml["version"], env!("CARGO_PKG_VERSION"), "the chart's version is Portal's");
    assert_eq!(chart_yaml["appVersion"], env!("CARGO_PKG_VERSION"));
    // The webhook keeps out what admission never intercepts, exactly as Portal registers it.
    let webhook = of_kind(&render("portal", "portal-system", &[]), "ValidatingWebhookConfiguration")[0].clone();
    for hook in webhook["webhooks"].as_array().unwrap() {
        assert_eq!(hook["matchConditions"][0]["expression"], portal_rules::kinds::protected_condition().as_str());
        assert_eq!(hook["timeoutSeconds"], 3);
    }
}

#[test]
fn the_rendered_chart_passes_the_restricted_pod_security_standard() {
    let dir = tempfile::tempdir().unwrap();
    for (index, set) in [&[][..], ALL_FEATURES, &["certificates.mode=cert-manager"]].into_iter().enumerate() {
        let mut args = vec!["template", "portal", "deploy/helm/portal", "--namespace", "portal-system"];
        args.extend(set.iter().flat_map(|value| ["--set", *value]));
        let output = run_helm(&args);
        assert!(output.status.success());
        let file = dir.path().join(format!("rendered-{index}.yaml"));
        std::fs::write(&file, &output.stdout).unwrap();
        let check = Command::new(env!("CARGO_BIN_EXE_portal"))
            .current_dir(root())
            .args(["check", "--strict", "--rules", "examples/policies/pod-security/baseline"])
            .args(["--rules", "examples/policies/pod-security/restricted"])
            .arg(&file)
            .output()
            .unwrap();
        assert_eq!(
            check.status.code(),
            Some(0),
            "{set:?}:\n{}{}",
            String::from_utf8_lossy(&check.stdout),
            String::from_utf8_lossy(&check.stderr)
        );
    }
}

/// Applies `document` by server-side apply (dry run only when `dry_run`), finding its resource
/// through discovery.
async fn apply(
    client: &kube::Client,
    discovery: &Discovery,
    document: &Value,
    dry_run: bool,
) -> Result<(), kube::Error> {
    let (group, version) = match document["apiVersion"].as_str().unwrap().split_once('/') {
        Some((group, version)) => (group.to_owned(), version.to_owned()),
        None => (String::new(), document["apiVersion"].as_str().unwrap().to_owned()),
    };
    let gvk = GroupVersionKind::gvk(&group, &version, document["kind"].as_str().unwrap());
    let (resource, capabilities) =
        discovery.resolve_gvk(&gvk).unwrap_or_else(|| panic!("the API server serves {gvk:?}"));
    let name = document["metadata"]["name"].as_str().unwrap();
    let api: Api<DynamicObject> = match (capabilities.scope, document["metadata"]["namespace"].as_str()) {
        (kube::discovery::Scope::Namespaced, Some(namespace)) => {
            Api::namespaced_with(client.clone(), namespace, &resource)
        }
        _ => Api::all_with(client.clone(), &resource),
    };
    let mut params = PatchParams::apply("portal-chart-test").force();
    params.dry_run = dry_run;
    api.patch(name, &params, &Patch::Apply(document)).await.map(drop)
}

/// Kinds of other projects the chart can render, which this API server does not serve.
const NOT_SERVED: &[&str] = &["ServiceMonitor", "Certificate", "Issuer"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rendered_manifests_apply_to_the_api_server() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let env = portal_testenv::shared().await.unwrap();
    let client = env.client().unwrap();
    let namespace = env.namespace("chart").await.unwrap();
    for set in [&[][..], ALL_FEATURES, &["certificates.mode=cert-manager", "audit.enabled=true"]] {
        let documents = render("portal", &namespace, set);
        // The CRDs for real (dry-run objects of a kind need it served), then everything else dry.
        let discovery = Discovery::new(client.clone()).run().await.unwrap();
        for crd in of_kind(&documents, "CustomResourceDefinition") {
            apply(&client, &discovery, crd, false).await.unwrap();
        }
        common::wait_until_served(&client, &documents).await;
        let discovery = Discovery::new(client.clone()).run().await.unwrap();
        for document in documents.iter().filter(|d| !NOT_SERVED.contains(&d["kind"].as_str().unwrap_or_default())) {
            if let Err(error) = apply(&client, &discovery, document, true).await {
                panic!("{} {}: {error}", document["kind"], document["metadata"]["name"]);
            }
        }
    }
}

/// A free port on 127.0.0.1.
fn free_port() -> u16 {
    std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap().local_addr().unwrap().port()
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn get(port: u16, path: &str) -> Option<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port)).await.ok()?;
    stream.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes()).await.ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).await.ok()?;
    let status = text.split(' ').nth(1)?.parse().ok()?;
    Some((status, text))
}

async fn eventually<T, F: std::future::Future<Output = Option<T>>>(what: &str, mut check: impl FnMut() -> F) -> T {
    let started = Instant::now();
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "{what} did not happen within 60 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

const RULES: &str = r#"
apiVersion: portal.io/v1alpha1
kind: PortalClusterRule
metadata: {name: chart-no-privileged}
spec:
  match: {gvk: [{group: "", kind: Pod}]}
  rule: container.securityContext.?privileged.orValue(false)
  message: privileged containers are not allowed
---
apiVersion: portal.io/v1alpha1
kind: PortalClusterRule
metadata: {name: chart-replicas-ceiling}
spec:
  mode: [admission]
  match: {gvk: [{group: apps, kind: Deployment}]}
  rule: object.spec.replicas > 5
  message: at most 5 replicas
---
apiVersion: portal.io/v1alpha1
kind: PortalClusterRule
metadata: {name: chart-settings-present}
spec:
  mode: [audit]
  enforcementAction: warn
  match: {gvk: [{group: "", kind: Pod}]}
  rule: cluster.get('v1', 'ConfigMap', object.metadata.namespace, 'settings') == null
  message: the namespace has no settings ConfigMap
---
apiVersion: portal.io/v1alpha1
kind: PortalClusterRule
metadata: {name: chart-contain}
spec:
  mode: [audit]
  match: {gvk: [{group: "", kind: Pod}]}
  rule: object.metadata.name.startsWith('compromised')
  actions:
  - {type: label, labels: {portal.io/contained: "true"}}
  - {type: annotate, annotations: {portal.io/why: compromised}}
  - type: patch-networkpolicy
    networkPolicy: {name: "contain-{name}", spec: {podSelector: {matchLabels: {portal.io/contained: "true"}}, policyTypes: [Ingress]}}
  - {type: revoke-sa-token, mode: recreate}
---
apiVersion: portal.io/v1alpha1
kind: PortalClusterRule
metadata: {name: chart-evict}
spec:
  mode: [audit]
  match: {gvk: [{group: "", kind: Pod}]}
  rule: object.metadata.name.startsWith('evict-me')
  actions: [{type: evict}]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portal_runs_with_exactly_the_charts_rbac() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let env = portal_testenv::shared().await.unwrap();
    let admin = env.client().unwrap();
    let release = "rbac";
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("portal.log");
    let outcome = tokio::spawn(run_with_the_charts_rbac(env, release, dir.path().to_owned())).await;
    // Whatever happened, no webhook is left behind for the other tests.
    let webhooks: Api<k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration> =
        Api::all(admin.clone());
    let _ = webhooks.delete(release, &Default::default()).await;
    if let Err(failure) = outcome {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let lines = text.lines().filter(|line| !line.contains("webhook certificates ready"));
        let tail: Vec<&str> = lines.rev().take(40).collect::<Vec<_>>().into_iter().rev().collect();
        eprintln!("--- the last lines of portal run's log ---\n{}", tail.join("\n"));
        std::panic::resume_unwind(failure.into_panic());
    }
}

async fn run_with_the_charts_rbac(env: &'static portal_testenv::TestEnv, release: &'static str, dir: PathBuf) {
    let admin = env.client().unwrap();
    let namespace = env.namespace("rbac").await.unwrap();
    let documents = render(release, &namespace, ALL_FEATURES);

    // Everything but the workload: the CRDs, the ServiceAccount, its RBAC, the webhook
    // configuration (pointed at this process, as the Service would) and the configuration.
    let discovery = Discovery::new(admin.clone()).run().await.unwrap();
    for crd in of_kind(&documents, "CustomResourceDefinition") {
        apply(&admin, &discovery, crd, false).await.unwrap();
    }
    common::wait_until_served(&admin, &documents).await;
    let discovery = Discovery::new(admin.clone()).run().await.unwrap();
    let webhook_port = free_port();
    for kind in
        ["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "ValidatingWebhookConfiguration"]
    {
        for document in of_kind(&documents, kind) {
            let mut document = document.clone();
            if kind == "ValidatingWebhookConfiguration" {
                for hook in document["webhooks"].as_array_mut().unwrap() {
                    hook["clientConfig"] = json!({"url": format!("https://127.0.0.1:{webhook_port}/validate")});
                }
            }
            apply(&admin, &discovery, &document, false).await.unwrap();
        }
    }
    let config_map = of_kind(&documents, "ConfigMap")[0];
    let config = dir.join("portal.yaml");
    std::fs::write(&config, config_map["data"]["portal.yaml"].as_str().unwrap()).unwrap();

    // The ServiceAccount's own token, as the pod would have it.
    let accounts: Api<ServiceAccount> = Api::namespaced(admin.clone(), &namespace);
    let request: TokenRequest =
        serde_json::from_value(json!({"spec": {"audiences": [], "expirationSeconds": 3600}})).unwrap();
    let token = accounts.create_token_request(release, &PostParams::default(), &request).await.unwrap();
    let token = token.status.unwrap().token.unwrap();
    let kubeconfig = dir.join("kubeconfig");
    std::fs::write(&kubeconfig, env.kubeconfig_with_token(&token)).unwrap();

    // The init container, as the Deployment runs it (plus the loopback address the API server
    // reaches this process at).
    let deployment = of_kind(&documents, "Deployment")[0];
    let init = &deployment["spec"]["template"]["spec"]["initContainers"][0];
    let tls = dir.join("tls");
    let mut init_args: Vec<String> = init["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|arg| {
            arg.as_str().unwrap().replace("--output-dir=/etc/portal/tls", &format!("--output-dir={}", tls.display()))
        })
        .collect();
    init_args.extend(["--ip=127.0.0.1".to_owned(), format!("--kubeconfig={}", kubeconfig.display())]);
    let output = Command::new(env!("CARGO_BIN_EXE_portal")).args(&init_args).env_remove("KUBECONFIG").output().unwrap();
    assert!(output.status.success(), "init-certs with the chart's RBAC: {}", String::from_utf8_lossy(&output.stderr));

    // `portal run` as the container runs it, with its configuration; only addresses and paths
    // changed for a process outside a pod.
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    let run_args: Vec<String> = container["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|arg| {
            arg.as_str().unwrap().replace("--config=/etc/portal/portal.yaml", &format!("--config={}", config.display()))
        })
        .collect();
    let health = free_port();
    let log = dir.join("portal.log");
    let _portal = Running(
        Command::new(env!("CARGO_BIN_EXE_portal"))
            .args(&run_args)
            .env_remove("KUBECONFIG")
            .env("PORTAL_KUBERNETES_KUBECONFIG", &kubeconfig)
            .env("PORTAL_ADMISSION_LISTEN", format!("127.0.0.1:{webhook_port}"))
            .env("PORTAL_ADMISSION_CERT_FILE", tls.join("tls.crt"))
            .env("PORTAL_ADMISSION_KEY_FILE", tls.join("tls.key"))
            // The renewal checks every second, with the loopback address the API server reaches
            // this process at (as init-certs above got it with --ip), so it keeps that certificate.
            .env("PORTAL_ADMISSION_CERTIFICATES_IPS", "127.0.0.1")
            .env("PORTAL_ADMISSION_CERTIFICATES_CHECK_INTERVAL", "1s")
            .env("PORTAL_HEALTH_LISTEN", format!("127.0.0.1:{health}"))
            .env("PORTAL_LOGGING_FORMAT", "text")
            .env("PORTAL_LOGGING_LEVEL", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    let log_text = || std::fs::read_to_string(&log).unwrap_or_default();
    eventually("readiness", || async { get(health, "/readyz").await.filter(|(status, _)| *status == 200) }).await;

    // Rules and an exception, by the cluster's administrator.
    let discovery = Discovery::new(admin.clone()).run().await.unwrap();
    for document in portal_rules::parse_documents("rules", RULES).unwrap() {
        apply(&admin, &discovery, &document.value, false).await.unwrap();
    }
    let work = format!("{namespace}-work");
    let work_namespace: Namespace = serde_json::from_value(json!({"metadata": {"name": work}})).unwrap();
    Api::<Namespace>::all(admin.clone()).create(&PostParams::default(), &work_namespace).await.unwrap();
    let exception = json!({
        "apiVersion": "portal.io/v1alpha1", "kind": "PortalException",
        "metadata": {"name": "tools", "namespace": work},
        "spec": {"rules": ["chart-no-privileged"], "names": ["debug-*"], "justification": "node debugging"},
    });
    apply(&admin, &discovery, &exception, false).await.unwrap();

    // Admission through the API server: the leader narrowed the webhook's rules, the CA bundle
    // is in place, a privileged Pod is denied.
    let pods: Api<Pod> = Api::namespaced(admin.clone(), &work);
    let pod = |name: &str, privileged: bool| -> Pod {
        serde_json::from_value(json!({"metadata": {"name": name}, "spec": {"containers": [
            {"name": "app", "image": "registry.k8s.io/pause:3.10", "securityContext": {"privileged": privileged}}]}}))
        .unwrap()
    };
    let denial = eventually("a privileged Pod denied", || async {
        match pods.create(&PostParams::default(), &pod("privileged", true)).await {
            Err(kube::Error::Api(status)) if status.message.contains("chart-no-privileged") => Some(status.message),
            Ok(_) => {
                pods.delete("privileged", &Default::default()).await.ok();
                None
            }
            Err(_) => None,
        }
    })
    .await;
    assert!(denial.contains("privileged containers are not allowed"), "{denial}");
    pods.create(&PostParams::default(), &pod("debug-shell", true)).await.expect("the exception exempts it");
    let web = pods.create(&PostParams::default(), &pod("web", false)).await.unwrap();

    // A scale request is evaluated as the Deployment it scales, read with `get`.
    let deployments: Api<Deployment> = Api::namespaced(admin.clone(), &work);
    let deployment: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "app", "image": "registry.k8s.io/pause:3.10"}]}}}
    }))
    .unwrap();
    deployments.create(&PostParams::default(), &deployment).await.unwrap();
    let scaled = deployments
        .patch_scale("web", &PatchParams::default(), &Patch::Merge(json!({"spec": {"replicas": 10}})))
        .await
        .unwrap_err();
    assert!(scaled.to_string().contains("at most 5 replicas"), "{scaled}");

    // The audit: reports written (with the lookup rule's finding), statuses written.
    let reports = Api::<DynamicObject>::namespaced_with(
        admin.clone(),
        &work,
        &kube::discovery::ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("wgpolicyk8s.io", "v1alpha2", "PolicyReport"),
            "policyreports",
        ),
    );
    let uid = web.metadata.uid.clone().unwrap();
    let report = eventually("the audit's report", || async {
        let report = reports.get_opt(&format!("portal-{uid}")).await.ok()??;
        let value = serde_json::to_value(report).unwrap();
        value["results"].as_array()?.iter().any(|r| r["policy"] == "chart-settings-present").then_some(value)
    })
    .await;
    assert_eq!(report["summary"]["fail"], 0, "{report:#}");
    let exceptions = Api::<DynamicObject>::namespaced_with(
        admin.clone(),
        &work,
        &kube::discovery::ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("portal.io", "v1alpha1", "PortalException"),
            "portalexceptions",
        ),
    );
    eventually("the exception's status", || async {
        let object = exceptions.get("tools").await.ok()?;
        (object.data["status"]["conditions"][0]["reason"] == "Active").then_some(())
    })
    .await;
    // Every Kubernetes action type, with the chart's RBAC: label, annotate, NetworkPolicy,
    // the account's token Secret deleted and the account recreated, an eviction.
    let accounts: Api<ServiceAccount> = Api::namespaced(admin.clone(), &work);
    let account: ServiceAccount = serde_json::from_value(json!({"metadata": {"name": "victim"}})).unwrap();
    let account = accounts.create(&PostParams::default(), &account).await.unwrap();
    let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(admin.clone(), &work);
    let token: k8s_openapi::api::core::v1::Secret = serde_json::from_value(json!({
        "metadata": {"name": "victim-token", "annotations": {"kubernetes.io/service-account.name": "victim"}},
        "type": "kubernetes.io/service-account-token",
    }))
    .unwrap();
    secrets.create(&PostParams::default(), &token).await.unwrap();
    let mut compromised = pod("compromised", false);
    compromised.spec.as_mut().unwrap().service_account_name = Some("victim".to_owned());
    pods.create(&PostParams::default(), &compromised).await.unwrap();
    pods.create(&PostParams::default(), &pod("evict-me", false)).await.unwrap();
    let policies: Api<k8s_openapi::api::networking::v1::NetworkPolicy> = Api::namespaced(admin.clone(), &work);
    eventually("every action done", || async {
        let contained = pods.get("compromised").await.ok()?;
        let labelled = contained.metadata.labels.as_ref()?.contains_key("portal.io/contained");
        let annotated = contained.metadata.annotations.as_ref()?.contains_key("portal.io/why");
        let policy = policies.get_opt("contain-compromised").await.ok()?.is_some();
        let revoked = secrets.get_opt("victim-token").await.ok()?.is_none();
        let recreated = accounts.get_opt("victim").await.ok()??.metadata.uid != account.metadata.uid;
        let evicted = pods.get_opt("evict-me").await.ok()?.is_none();
        (labelled && annotated && policy && revoked && recreated && evicted).then_some(())
    })
    .await;

    let metrics = get(health, "/metrics").await.unwrap().1;
    assert!(metrics.contains("portal_leader 1"), "the replica leads (Lease written)");
    let failed: Vec<&str> =
        metrics.lines().filter(|l| l.starts_with("portal_actions_total{") && l.contains("result=\"error\"")).collect();
    assert!(failed.iter().all(|line| line.ends_with(" 0")), "{failed:?}");

    // Not one permission missing, anywhere.
    let text = log_text();
    let forbidden: Vec<&str> = text.lines().filter(|line| line.to_lowercase().contains("forbidden")).collect();
    assert!(forbidden.is_empty(), "Portal was refused with the chart's RBAC:\n{}", forbidden.join("\n"));
    let errors: Vec<&str> =
        metrics.lines().filter(|l| l.starts_with("portal_audit_report_writes_total{result=\"error\"}")).collect();
    assert!(errors.iter().all(|line| line.ends_with(" 0")), "{errors:?}");
}

/// `helm install` into the API server, then `helm uninstall`: the webhook configuration goes
/// before the Deployment (no window where the API server calls a webhook whose pods are gone),
/// and the CRDs stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uninstall_removes_the_webhook_first_and_keeps_the_crds() {
    use futures::StreamExt;
    use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    use kube::runtime::watcher;

    let _alone = ONE_AT_A_TIME.lock().await;
    let env = portal_testenv::shared().await.unwrap();
    let client = env.client().unwrap();
    let namespace = env.namespace("helm").await.unwrap();
    let kubeconfig = env.kubeconfig_path().to_str().unwrap().to_owned();
    let release = "installed";
    let helm_in = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--kubeconfig", &kubeconfig, "--namespace", &namespace]);
        let output = run_helm(&all);
        assert!(output.status.success(), "helm {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    };
    // No pods run here (no kubelet): the webhook must not stop other tests' requests meanwhile.
    helm_in(&[
        "install",
        release,
        "deploy/helm/portal",
        "--set",
        "admission.failurePolicy=Ignore",
        "--set",
        "audit.enabled=true",
        // The wgpolicyk8s.io CRDs are installed already (by the tests above, as by another
        // engine): this release brings the openreports.io ones.
        "--set",
        "audit.reportApi=openreports.io/v1alpha1",
    ]);
    let webhooks: Api<ValidatingWebhookConfiguration> = Api::all(client.clone());
    assert!(webhooks.get_opt(release).await.unwrap().is_some());

    // The resourceVersion at which each object was deleted (etcd revisions are ordered), seen
    // by watches that are running before the uninstall starts.
    let (sender, mut deletions) = tokio::sync::mpsc::unbounded_channel::<(&'static str, Option<u64>)>();
    // What matters of a watch event here: listed (None) or deleted at a revision.
    fn seen<K: kube::Resource>(event: Result<watcher::Event<K>, watcher::Error>) -> Option<Option<u64>> {
        match event {
            Ok(watcher::Event::InitDone) => Some(None),
            Ok(watcher::Event::Delete(object)) => Some(Some(revision(object.meta()))),
            _ => None,
        }
    }
    let watch = |events: futures::stream::BoxStream<'static, Option<Option<u64>>>, label: &'static str| {
        let sender = sender.clone();
        tokio::spawn(async move {
            let mut events = events;
            while let Some(event) = events.next().await {
                if let Some(what) = event {
                    let _ = sender.send((label, what));
                }
            }
        })
    };
    let by_name = watcher::Config::default().fields(&format!("metadata.name={release}"));
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &namespace);
    let _webhook_watch = watch(watcher::watcher(webhooks.clone(), by_name.clone()).map(seen).boxed(), "webhook");
    let _deployment_watch = watch(watcher::watcher(deployments, by_name).map(seen).boxed(), "deployment");
    let mut listed = 0;
    while listed < 2 {
        let (_, revision) = tokio::time::timeout(common::WAIT, deletions.recv()).await.unwrap().unwrap();
        listed += usize::from(revision.is_none());
    }
    helm_in(&["uninstall", release, "--wait"]);
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let (label, revision) =
            tokio::time::timeout(common::WAIT, deletions.recv()).await.expect("both deletions seen").unwrap();
        if let Some(revision) = revision {
            seen.push((label, revision));
        }
    }
    seen.sort_by_key(|(_, revision)| *revision);
    assert_eq!(seen[0].0, "webhook", "deleted in this order: {seen:?}");
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for name in ["portalclusterrules.portal.io", "portalexceptions.portal.io", "reports.openreports.io"] {
        assert!(crds.get_opt(name).await.unwrap().is_some(), "{name} is kept");
    }
}

fn revision(metadata: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> u64 {
    metadata.resource_version.as_deref().and_then(|v| v.parse().ok()).unwrap_or(0)
}
