//! `portal init-certs` against a real kube-apiserver (portal-testenv): the Secret is created
//! once and adopted by every later or concurrent caller, renewal keeps the old CA trusted, and
//! the CA bundle lands in every webhook of a ValidatingWebhookConfiguration. Certificates are
//! checked with webpki, the verifier rustls clients use.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::IpAddr;
use std::time::Duration;

use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::{DeleteParams, ListParams, PostParams};
use portal_kube::certs::{self, CertBundle, CertOptions, Outcome};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use serde_json::json;

use common::client;

async fn namespace(prefix: &str) -> String {
    let env = portal_testenv::shared().await.expect("the test control plane starts");
    env.namespace(prefix).await.expect("a namespace for the test")
}

fn options(namespace: &str) -> CertOptions {
    let mut options = CertOptions::new(namespace, "portal-webhook-tls", "portal-webhook");
    options.extra_dns = vec!["portal.example.test".to_owned()];
    options.ips = vec!["127.0.0.1".parse().unwrap()];
    options
}

fn pem_certificates(pem: &str) -> Vec<CertificateDer<'static>> {
    x509_parser::pem::Pem::iter_from_buffer(pem.as_bytes())
        .map(|block| CertificateDer::from(block.unwrap().contents))
        .collect()
}

/// Verifies `cert_pem` as a TLS server certificate for `name`, trusting only the CAs in
/// `trusted_pem`.
fn verify(cert_pem: &str, trusted_pem: &str, name: &str) -> Result<(), webpki::Error> {
    let trusted = pem_certificates(trusted_pem);
    let anchors: Vec<_> = trusted.iter().map(|ca| webpki::anchor_from_trusted_cert(ca).unwrap()).collect();
    let leaf = pem_certificates(cert_pem).remove(0);
    let leaf = webpki::EndEntityCert::try_from(&leaf)?;
    leaf.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        &anchors,
        &[],
        UnixTime::now(),
        webpki::KeyUsage::server_auth(),
        None,
        None,
    )?;
    let name = match name.parse::<IpAddr>() {
        Ok(ip) => ServerName::IpAddress(ip.into()),
        Err(_) => ServerName::try_from(name.to_owned()).unwrap(),
    };
    leaf.verify_is_valid_for_subject_name(&name)
}

fn same_certificates(a: &CertBundle, b: &CertBundle) -> bool {
    a.cert_pem == b.cert_pem && a.key_pem == b.key_pem && a.ca_pem == b.ca_pem && a.ca_bundle_pem == b.ca_bundle_pem
}

async fn secret(client: &kube::Client, namespace: &str) -> Secret {
    Api::<Secret>::namespaced(client.clone(), namespace).get("portal-webhook-tls").await.unwrap()
}

fn secret_text(secret: &Secret, key: &str) -> String {
    String::from_utf8(secret.data.as_ref().unwrap()[key].0.clone()).unwrap()
}

/// A ValidatingWebhookConfiguration with two webhooks that match nothing real (a made-up
/// group) and ignore failures, so it cannot disturb other tests.
async fn webhook_configuration(client: &kube::Client, name: &str) -> Api<ValidatingWebhookConfiguration> {
    let webhook = |webhook_name: &str| {
        json!({
            "name": webhook_name,
            "clientConfig": {"url": "https://127.0.0.1:1/validate"},
            "rules": [{"apiGroups": ["certs.portal.test"], "apiVersions": ["v1"],
                       "operations": ["CREATE"], "resources": ["widgets"]}],
            "failurePolicy": "Ignore",
            "sideEffects": "None",
            "admissionReviewVersions": ["v1"],
            "timeoutSeconds": 3,
        })
    };
    let configuration: ValidatingWebhookConfiguration = serde_json::from_value(json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": name},
        "webhooks": [webhook("first.certs.portal.test"), webhook("second.certs.portal.test")],
    }))
    .unwrap();
    let api: Api<ValidatingWebhookConfiguration> = Api::all(client.clone());
    let _ = api.delete(name, &DeleteParams::default()).await;
    api.create(&PostParams::default(), &configuration).await.unwrap();
    api
}

fn ca_bundles(configuration: &ValidatingWebhookConfiguration) -> Vec<String> {
    configuration
        .webhooks
        .iter()
        .flatten()
        .map(|webhook| String::from_utf8(webhook.client_config.ca_bundle.clone().unwrap().0).unwrap())
        .collect()
}

#[tokio::test]
async fn creates_the_secret_with_a_certificate_for_the_service() {
    let client = client().await;
    let namespace = namespace("certs-create").await;
    let options = options(&namespace);

    let bundle = certs::init_certs(client.clone(), &options).await.unwrap();
    assert_eq!(bundle.outcome, Outcome::Created);

    let secret = secret(&client, &namespace).await;
    assert_eq!(secret.type_.as_deref(), Some("kubernetes.io/tls"));
    assert_eq!(secret.metadata.labels.as_ref().unwrap()[certs::OWNER_LABEL], certs::OWNER_VALUE);
    let keys: Vec<_> = secret.data.as_ref().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["ca-bundle.crt", "ca.crt", "ca.key", "tls.crt", "tls.key"]);
    assert_eq!(secret_text(&secret, "tls.crt"), bundle.cert_pem);
    assert_eq!(secret_text(&secret, "tls.key"), bundle.key_pem);
    assert_eq!(secret_text(&secret, "ca.crt"), bundle.ca_pem);
    assert_eq!(bundle.ca_bundle_pem, bundle.ca_pem, "a new CA has no predecessor to keep");

    for name in [
        "portal-webhook".to_owned(),
        format!("portal-webhook.{namespace}"),
        format!("portal-webhook.{namespace}.svc"),
        format!("portal-webhook.{namespace}.svc.cluster.local"),
        "portal.example.test".to_owned(),
        "127.0.0.1".to_owned(),
    ] {
        verify(&bundle.cert_pem, &bundle.ca_pem, &name).unwrap_or_else(|error| panic!("{name}: {error}"));
    }
    assert!(verify(&bundle.cert_pem, &bundle.ca_pem, "portal-webhook.elsewhere.svc").is_err());
    let unrelated = certs::init_certs(client.clone(), &CertOptions::new(&namespace, "other", "other")).await.unwrap();
    assert!(verify(&bundle.cert_pem, &unrelated.ca_pem, "portal-webhook").is_err(), "only its own CA vouches for it");
}

#[tokio::test]
async fn a_second_call_adopts_the_secret() {
    let client = client().await;
    let namespace = namespace("certs-adopt").await;
    let options = options(&namespace);

    let first = certs::init_certs(client.clone(), &options).await.unwrap();
    let version = secret(&client, &namespace).await.metadata.resource_version;
    let second = certs::init_certs(client.clone(), &options).await.unwrap();

    assert_eq!(second.outcome, Outcome::Adopted);
    assert!(same_certificates(&first, &second));
    assert_eq!(second.not_after, first.not_after);
    assert_eq!(secret(&client, &namespace).await.metadata.resource_version, version, "the Secret was not rewritten");
}

#[tokio::test]
async fn racing_replicas_end_with_one_secret_and_the_same_certificates() {
    let client = client().await;
    let namespace = namespace("certs-race").await;
    let options = options(&namespace);

    let (a, b, c) = tokio::join!(
        certs::init_certs(client.clone(), &options),
        certs::init_certs(client.clone(), &options),
        certs::init_certs(client.clone(), &options),
    );
    let results = [a.unwrap(), b.unwrap(), c.unwrap()];

    let created = results.iter().filter(|bundle| bundle.outcome == Outcome::Created).count();
    assert_eq!(created, 1, "exactly one replica creates the Secret: {results:?}");
    assert!(results.iter().all(|bundle| same_certificates(bundle, &results[0])));
    let secrets = Api::<Secret>::namespaced(client.clone(), &namespace).list(&ListParams::default()).await.unwrap();
    assert_eq!(secrets.items.len(), 1);
    assert_eq!(secret_text(&secrets.items[0], "tls.crt"), results[0].cert_pem);
}

#[tokio::test]
async fn the_ca_bundle_is_written_into_every_webhook() {
    let client = client().await;
    let namespace = namespace("certs-webhook").await;
    let name = format!("{namespace}-webhooks");
    let api = webhook_configuration(&client, &name).await;
    let mut options = options(&namespace);
    options.webhook_configuration = Some(name.clone());

    let bundle = certs::init_certs(client.clone(), &options).await.unwrap();
    let configuration = api.get(&name).await.unwrap();
    assert_eq!(ca_bundles(&configuration), [bundle.ca_bundle_pem.clone(), bundle.ca_bundle_pem.clone()]);
    let webhook = &configuration.webhooks.as_ref().unwrap()[0];
    assert_eq!(webhook.client_config.url.as_deref(), Some("https://127.0.0.1:1/validate"), "nothing else changed");
    assert_eq!(webhook.failure_policy.as_deref(), Some("Ignore"));

    // Already up to date: not written again.
    assert!(!certs::write_ca_bundle(client.clone(), &name, &bundle.ca_bundle_pem).await.unwrap());
    certs::init_certs(client.clone(), &options).await.unwrap();
    let unchanged = api.get(&name).await.unwrap();
    assert_eq!(unchanged.metadata.resource_version, configuration.metadata.resource_version);

    let mut missing = options.clone();
    missing.webhook_configuration = Some(format!("{name}-missing"));
    let error = certs::init_certs(client.clone(), &missing).await.unwrap_err();
    assert!(matches!(error, certs::Error::WebhookConfigurationNotFound { .. }), "{error}");
    assert!(error.to_string().contains("--webhook-config"), "{error}");

    api.delete(&name, &DeleteParams::default()).await.unwrap();
}

#[tokio::test]
async fn renewal_issues_a_new_ca_and_keeps_the_old_one_in_the_bundle() {
    let client = client().await;
    let namespace = namespace("certs-renew").await;
    let name = format!("{namespace}-webhooks");
    let api = webhook_configuration(&client, &name).await;
    let mut options = options(&namespace);
    options.webhook_configuration = Some(name.clone());
    // Certificates that expire within the hour…
    let mut short_lived = options.clone();
    (short_lived.validity, short_lived.renew_before) = (Duration::from_secs(3600), Duration::from_secs(60));
    let old = certs::init_certs(client.clone(), &short_lived).await.unwrap();

    // …are due for two replicas that renew two hours ahead. Whichever writes second finds the
    // Secret changed (409 Conflict) or already renewed, and adopts it.
    // Each replica has its own client, connected before the race starts, so that both read
    // the Secret before either writes and one of the updates conflicts.
    let mut renewing = options.clone();
    renewing.renew_before = Duration::from_secs(2 * 3600);
    let (replica_a, replica_b) = (self::client().await, self::client().await);
    secret(&replica_a, &namespace).await;
    secret(&replica_b, &namespace).await;
    let (a, b) = tokio::join!(certs::init_certs(replica_a, &renewing), certs::init_certs(replica_b, &renewing));
    let (a, b) = (a.unwrap(), b.unwrap());
    let mut outcomes = [a.outcome, b.outcome];
    outcomes.sort_by_key(|outcome| outcome.to_string());
    assert_eq!(outcomes, [Outcome::Adopted, Outcome::Renewed], "one replica renews, the other adopts");
    assert!(same_certificates(&a, &b));
    let new = a;

    assert_ne!(new.cert_pem, old.cert_pem);
    assert_ne!(new.ca_pem, old.ca_pem);
    let bundle = pem_certificates(&new.ca_bundle_pem);
    assert_eq!(bundle, [pem_certificates(&new.ca_pem), pem_certificates(&old.ca_pem)].concat());
    let host = format!("portal-webhook.{namespace}.svc");
    verify(&new.cert_pem, &new.ca_bundle_pem, &host).unwrap();
    verify(&old.cert_pem, &new.ca_bundle_pem, &host).expect("replicas still serving the old certificate stay trusted");
    verify(&new.cert_pem, &old.ca_pem, &host).expect_err("the new certificate needs the new CA");

    let configuration = api.get(&name).await.unwrap();
    assert_eq!(ca_bundles(&configuration), [new.ca_bundle_pem.clone(), new.ca_bundle_pem.clone()]);

    // With the usual settings the renewed Secret is adopted again.
    let adopted = certs::init_certs(client.clone(), &options).await.unwrap();
    assert_eq!(adopted.outcome, Outcome::Adopted);
    assert!(same_certificates(&adopted, &new));

    api.delete(&name, &DeleteParams::default()).await.unwrap();
}

#[tokio::test]
async fn new_names_get_a_new_serving_certificate_from_the_same_ca() {
    let client = client().await;
    let namespace = namespace("certs-names").await;
    let options = options(&namespace);
    let old = certs::init_certs(client.clone(), &options).await.unwrap();

    let mut renamed = options.clone();
    renamed.extra_dns.push("webhook.example.test".to_owned());
    renamed.ips.push("::1".parse().unwrap());
    let new = certs::init_certs(client.clone(), &renamed).await.unwrap();

    assert_eq!(new.outcome, Outcome::Reissued);
    assert_eq!(new.ca_pem, old.ca_pem);
    assert_eq!(new.ca_bundle_pem, old.ca_bundle_pem, "the API server's trust does not change");
    for name in ["webhook.example.test", "::1", "portal.example.test"] {
        verify(&new.cert_pem, &new.ca_bundle_pem, name).unwrap_or_else(|error| panic!("{name}: {error}"));
    }
    assert!(verify(&old.cert_pem, &old.ca_pem, "webhook.example.test").is_err());
}

#[tokio::test]
async fn forced_renewal_keeps_the_old_ca_and_rewrites_the_files() {
    let client = client().await;
    let namespace = namespace("certs-files").await;
    let dir = tempfile::tempdir().unwrap();
    let bundle = certs::init_certs(client.clone(), &options(&namespace)).await.unwrap();
    assert!(bundle.write_files(dir.path()).unwrap());
    assert_eq!(std::fs::read_to_string(dir.path().join("tls.crt")).unwrap(), bundle.cert_pem);

    let mut renewing = options(&namespace);
    renewing.renew_before = renewing.validity + Duration::from_secs(1);
    let renewed = certs::init_certs(client.clone(), &renewing).await.unwrap();
    assert_eq!(renewed.outcome, Outcome::Renewed, "renewing at least `validity` ahead renews at once");
    let cas = pem_certificates(&renewed.ca_bundle_pem);
    assert_eq!(cas, [pem_certificates(&renewed.ca_pem), pem_certificates(&bundle.ca_pem)].concat());
    assert!(renewed.write_files(dir.path()).unwrap());
    assert_eq!(std::fs::read_to_string(dir.path().join("tls.crt")).unwrap(), renewed.cert_pem);
    assert_eq!(std::fs::read_to_string(dir.path().join("tls.key")).unwrap(), renewed.key_pem);
    assert_eq!(std::fs::read_to_string(dir.path().join("ca.crt")).unwrap(), renewed.ca_pem);
}

#[tokio::test]
async fn a_certificate_made_elsewhere_is_not_overwritten_until_handed_over() {
    let client = client().await;
    let namespace = namespace("certs-foreign").await;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &namespace);
    // What cert-manager leaves: tls.crt, tls.key and ca.crt, but no CA key to renew with.
    let elsewhere = certs::init_certs(client.clone(), &CertOptions::new(&namespace, "source", "other")).await.unwrap();
    let foreign: Secret = serde_json::from_value(json!({
        "metadata": {"name": "portal-webhook-tls", "labels": {"app.kubernetes.io/managed-by": "Helm"}},
        "type": "kubernetes.io/tls",
        "stringData": {"tls.crt": elsewhere.cert_pem, "tls.key": elsewhere.key_pem, "ca.crt": elsewhere.ca_pem},
    }))
    .unwrap();
    let created = secrets.create(&PostParams::default(), &foreign).await.unwrap();

    let error = certs::init_certs(client.clone(), &options(&namespace)).await.unwrap_err();
    assert!(matches!(error, certs::Error::ForeignSecret { .. }), "{error}");
    let unchanged = secret(&client, &namespace).await;
    assert_eq!(unchanged.metadata.resource_version, created.metadata.resource_version);

    let mut handed_over = unchanged;
    handed_over.metadata.labels.as_mut().unwrap().insert(certs::OWNER_LABEL.to_owned(), certs::OWNER_VALUE.to_owned());
    secrets.replace("portal-webhook-tls", &PostParams::default(), &handed_over).await.unwrap();
    let bundle = certs::init_certs(client.clone(), &options(&namespace)).await.unwrap();
    assert_eq!(bundle.outcome, Outcome::Renewed);
    assert_eq!(pem_certificates(&bundle.ca_bundle_pem)[1], pem_certificates(&elsewhere.ca_pem)[0]);
    let renewed = secret(&client, &namespace).await;
    assert_eq!(renewed.metadata.labels.as_ref().unwrap()["app.kubernetes.io/managed-by"], "Helm", "labels are kept");
}

/// `portal run`'s renewal: a certificate near expiry is replaced without a restart — the
/// Secret, the `caBundle`, the files — the webhook picks the new one up, and the API server keeps
/// calling it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewal_replaces_a_certificate_near_expiry_while_the_api_server_keeps_calling() {
    use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
    use kube::api::PostParams;

    let client = client().await;
    let namespace = namespace("renew").await;
    let labelled: Namespace = serde_json::from_value(json!({"metadata": {
        "name": format!("{namespace}-guarded"), "labels": {"portal-e2e": format!("{namespace}-renew")}}}))
    .unwrap();
    let guarded = Api::<Namespace>::all(client.clone()).create(&PostParams::default(), &labelled).await.unwrap();
    let guarded = guarded.metadata.name.unwrap();

    // The API server calls Portal on 127.0.0.1:port for ConfigMaps of the guarded namespace, with
    // a caBundle renewal fills in.
    let port = common::free_port();
    let rules = json!([{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["configmaps"], "scope": "Namespaced"}]);
    let name = format!("{namespace}-renewal");
    let configuration = common::webhook(&name, port, "", &format!("{namespace}-renew"), "Fail", rules);
    Api::<ValidatingWebhookConfiguration>::all(client.clone())
        .create(&PostParams::default(), &configuration)
        .await
        .unwrap();

    // Certificates that are due 5 s after they are issued; checked every second.
    let mut renewing = options(&namespace);
    renewing.webhook_configuration = Some(name.clone());
    renewing.validity = Duration::from_secs(40);
    renewing.renew_before = Duration::from_secs(35);
    let tls = tempfile::tempdir().unwrap();
    let renewal =
        tokio::spawn(certs::keep_renewed(client.clone(), renewing, tls.path().to_owned(), Duration::from_secs(1)));
    let started = std::time::Instant::now();
    while !tls.path().join("tls.key").exists() {
        assert!(started.elapsed() < Duration::from_secs(30), "no certificate was written");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let first = std::fs::read_to_string(tls.path().join("tls.crt")).unwrap();

    let (loaded, errors) = portal_rules::load_rules(
        "r.yaml",
        "name: no-denied\nmatch: {gvk: [{group: '', kind: ConfigMap}]}\nrule: object.?data.?deny.orValue('') == 'yes'\n",
    );
    assert!(errors.is_empty());
    let mut settings = common::admission_settings(tls.path(), Duration::from_millis(200));
    settings.listen = std::net::SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, port));
    let lookups = portal_kube::admission::Lookups {
        namespaces: std::sync::Arc::new(portal_kube::cache::NoNamespaces),
        scaled: std::sync::Arc::new(portal_kube::admission::NoScaledObjects),
        cluster: None,
    };
    let rules = std::sync::Arc::new(portal_rules::SharedRuleSet::new(portal_rules::RuleSet::compile(loaded).0));
    let metrics = portal_metrics::Metrics::new().unwrap();
    let _server = portal_kube::admission::start(settings, rules, lookups, metrics).await.unwrap();

    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), &guarded);
    let denied = |n: usize| {
        serde_json::from_value::<ConfigMap>(
            json!({"metadata": {"name": format!("denied-{n}")}, "data": {"deny": "yes"}}),
        )
        .unwrap()
    };
    // Portal decides (through the caBundle renewal wrote): refused by the rule.
    let refused = config_maps.create(&PostParams::default(), &denied(1)).await.unwrap_err().to_string();
    assert!(refused.contains("no-denied"), "{refused}");

    // Renewed: a new certificate in the files, and still the API server calls Portal.
    while std::fs::read_to_string(tls.path().join("tls.crt")).unwrap() == first {
        assert!(started.elapsed() < Duration::from_secs(40), "the certificate was never renewed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!("renewed {:?} after the first certificate", started.elapsed());
    tokio::time::sleep(Duration::from_millis(600)).await; // the webhook re-reads the files every 200 ms
    let refused = config_maps.create(&PostParams::default(), &denied(2)).await.unwrap_err().to_string();
    assert!(refused.contains("no-denied"), "the API server still reaches Portal after the renewal: {refused}");
    let allowed: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "fine"}})).unwrap();
    config_maps.create(&PostParams::default(), &allowed).await.unwrap();
    renewal.abort();
    Api::<ValidatingWebhookConfiguration>::all(client).delete(&name, &DeleteParams::default()).await.unwrap();
}
