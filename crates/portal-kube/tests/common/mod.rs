//! Helpers shared by portal-kube's integration tests: the test control plane's client, the
//! shipped CRDs installed, a TLS client that trusts one CA, and plain HTTP GETs. Every test
//! binary includes this module and uses part of it.
#![allow(dead_code)]

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use kube::api::{Patch, PatchParams};
use rustls_pki_types::CertificateDer;

/// How long a test waits for the cluster or Portal to get somewhere.
pub const WAIT: Duration = Duration::from_secs(30);

/// A client for the test binary's shared control plane.
pub async fn client() -> kube::Client {
    let env = portal_testenv::shared().await.expect("the test control plane starts");
    env.client().expect("a client for the test control plane")
}

/// Applies the CRDs from deploy/crds/ (the shipped files, not the Rust types) and waits until
/// the API server serves them.
pub async fn install_crds(client: &kube::Client) {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/crds");
    for file in ["portalclusterrules.yaml", "portalrules.yaml"] {
        let text = std::fs::read_to_string(dir.join(file)).expect("the shipped CRD file");
        let crd: CustomResourceDefinition = serde_saphyr::from_str(&text).expect("a CRD");
        let name = crd.metadata.name.clone().expect("a named CRD");
        api.patch(&name, &PatchParams::apply("portal-tests").force(), &Patch::Apply(&crd)).await.expect("CRD applied");
        let established = kube::runtime::conditions::is_crd_established();
        tokio::time::timeout(WAIT, kube::runtime::wait::await_condition(api.clone(), &name, established))
            .await
            .expect("the CRD is established in time")
            .expect("watching the CRD");
    }
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).and_then(|l| l.local_addr()).expect("a free port").port()
}

/// TLS to 127.0.0.1 trusting only `ca`, offering the ALPN protocols given.
pub fn tls_connector(ca: &CertificateDer<'static>, alpn: &[&[u8]]) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.clone()).expect("a valid CA certificate");
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// The server name of 127.0.0.1, as the certificates name it.
pub fn localhost() -> rustls_pki_types::ServerName<'static> {
    rustls_pki_types::ServerName::IpAddress(Ipv4Addr::LOCALHOST.into())
}

/// A plain HTTP/1.1 GET: the status and body, or status 0 when nothing answers.
pub async fn http_get(address: SocketAddr, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut stream) = tokio::net::TcpStream::connect(address).await else { return (0, String::new()) };
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).await.is_err() {
        return (0, String::new());
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response).await;
    let status = response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (status, body)
}
