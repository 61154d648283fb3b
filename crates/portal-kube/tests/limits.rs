//! Slow, idle and too many clients cannot hold the webhook's port: each of them is disconnected
//! (or answered) once its limit passes, where before they were still connected after 30 s. The
//! limits here are short so the tests are quick; the bounds asserted are generous.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use portal_kube::admission::{self, AdmissionServer, ConnectionLimits, Lookups, NoScaledObjects};
use portal_kube::cache::NoNamespaces;
use portal_rules::SharedRuleSet;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// Far more than any limit below: a connection still open after this was held.
const HELD: Duration = Duration::from_secs(10);

struct Webhook {
    server: AdmissionServer,
    ca: CertificateDer<'static>,
    _tls_dir: tempfile::TempDir,
}

async fn start(max_connections: usize) -> Webhook {
    let certificates = common::Certificates::new();
    let tls_dir = tempfile::tempdir().unwrap();
    certificates.write_serving(tls_dir.path());
    let mut settings = common::admission_settings(tls_dir.path(), Duration::from_secs(60));
    settings.max_request_bytes = 1024;
    settings.limits = ConnectionLimits {
        max_connections,
        handshake_timeout: Duration::from_millis(300),
        header_timeout: Duration::from_millis(300),
        body_timeout: Duration::from_millis(300),
        idle_timeout: Duration::from_millis(500),
    };
    let lookups = Lookups { namespaces: Arc::new(NoNamespaces), scaled: Arc::new(NoScaledObjects), cluster: None };
    let metrics = portal_metrics::Metrics::new().unwrap();
    let server = admission::start(settings, Arc::new(SharedRuleSet::default()), lookups, metrics).await.unwrap();
    let ca = CertificateDer::from_pem_slice(certificates.ca_pem.as_bytes()).unwrap();
    Webhook { server, ca, _tls_dir: tls_dir }
}

impl Webhook {
    fn address(&self) -> SocketAddr {
        self.server.local_addr()
    }

    async fn tls(&self) -> tokio_rustls::client::TlsStream<TcpStream> {
        let stream = TcpStream::connect(self.address()).await.unwrap();
        common::tls_connector(&self.ca, &[b"http/1.1"]).connect(common::localhost(), stream).await.unwrap()
    }
}

/// Everything the server sends until it closes the connection, or `None` if it is still open
/// after [`HELD`].
async fn until_closed(stream: &mut (impl AsyncRead + Unpin)) -> Option<String> {
    let mut received = Vec::new();
    let read = async {
        let mut buffer = [0u8; 4096];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    };
    tokio::time::timeout(HELD, read).await.ok()?;
    Some(String::from_utf8_lossy(&received).into_owned())
}

/// Writes `bytes` one at a time, 100 ms apart, until the write fails or all are sent.
async fn trickle(stream: &mut (impl AsyncWrite + Unpin), bytes: &[u8]) {
    for byte in bytes {
        if stream.write_all(std::slice::from_ref(byte)).await.is_err() || stream.flush().await.is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

const REVIEW: &str = r#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","operation":"CREATE","kind":{"group":"","version":"v1","kind":"Pod"},"object":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"}}}}"#;

#[tokio::test]
async fn a_connection_that_never_starts_tls_is_closed() {
    let webhook = start(16).await;
    let mut silent = TcpStream::connect(webhook.address()).await.unwrap();
    assert!(until_closed(&mut silent).await.is_some(), "a connection without a ClientHello was held");
}

#[tokio::test]
async fn an_idle_connection_is_closed() {
    let webhook = start(16).await;
    let mut idle = webhook.tls().await;
    assert!(until_closed(&mut idle).await.is_some(), "an idle TLS connection was held");
}

#[tokio::test]
async fn headers_sent_slowly_are_cut_off() {
    let webhook = start(16).await;
    let mut slow = webhook.tls().await;
    let headers = format!(
        "POST /validate HTTP/1.1\r\nHost: portal\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        REVIEW.len()
    );
    let (mut reader, mut writer) = tokio::io::split(&mut slow);
    let (closed, ()) = tokio::join!(until_closed(&mut reader), trickle(&mut writer, headers.as_bytes()));
    assert!(closed.is_some(), "headers at 10 bytes/s held the connection");
}

#[tokio::test]
async fn a_body_sent_slowly_gets_408() {
    let webhook = start(16).await;
    let mut slow = webhook.tls().await;
    let headers = format!(
        "POST /validate HTTP/1.1\r\nHost: portal\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        REVIEW.len()
    );
    slow.write_all(headers.as_bytes()).await.unwrap();
    let (mut reader, mut writer) = tokio::io::split(&mut slow);
    let (answer, ()) = tokio::join!(until_closed(&mut reader), trickle(&mut writer, REVIEW.as_bytes()));
    let answer = answer.expect("a body at 10 bytes/s held the connection");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("admission.connections.bodyTimeout"), "{answer}");
}

#[tokio::test]
async fn an_oversized_content_length_gets_413_before_the_body() {
    let webhook = start(16).await;
    let mut client = webhook.tls().await;
    let headers =
        "POST /validate HTTP/1.1\r\nHost: portal\r\nContent-Type: application/json\r\nContent-Length: 4000000\r\n\r\n";
    client.write_all(headers.as_bytes()).await.unwrap();
    let mut buffer = [0u8; 1024];
    let n = tokio::time::timeout(HELD, client.read(&mut buffer)).await.expect("an early answer").unwrap();
    let answer = String::from_utf8_lossy(&buffer[..n]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("admission.maxRequestBytes (1024 bytes)"), "{answer}");
}

#[tokio::test]
async fn the_health_port_has_the_same_limits() {
    let limits = ConnectionLimits { idle_timeout: Duration::from_millis(300), ..ConnectionLimits::default() };
    let metrics = portal_metrics::Metrics::new().unwrap();
    let (_ready, readiness) = tokio::sync::watch::channel(true);
    let listen = SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, 0));
    let (address, _task) = portal_kube::health::start(listen, metrics, readiness, limits).await.unwrap();
    let mut idle = TcpStream::connect(address).await.unwrap();
    assert!(until_closed(&mut idle).await.is_some(), "an idle connection held the health port");
    assert_eq!(common::http_get(address, "/healthz").await.0, 200, "and it still answers");
}

#[tokio::test]
async fn connections_over_the_cap_are_closed_and_reviews_still_answered() {
    let webhook = start(2).await;
    let _first = webhook.tls().await;
    let _second = webhook.tls().await;
    let mut third = TcpStream::connect(webhook.address()).await.unwrap();
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(Duration::from_secs(2), third.read(&mut byte)).await;
    assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "a connection over the cap was accepted: {read:?}");
    drop(_first);
    // Once a slot is free, a review is answered as usual.
    let mut answer = None;
    for _ in 0..50 {
        let mut client = webhook.tls().await;
        let request = format!(
            "POST /validate HTTP/1.1\r\nHost: portal\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{REVIEW}",
            REVIEW.len()
        );
        if client.write_all(request.as_bytes()).await.is_ok()
            && let Some(text) = until_closed(&mut client).await
            && text.starts_with("HTTP/1.1 200")
        {
            answer = Some(text);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let answer = answer.expect("a review is answered once a connection slot is free");
    assert!(answer.contains(r#""allowed":true"#), "{answer}");
}
