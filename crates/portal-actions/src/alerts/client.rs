//! Posting alerts to one Alertmanager: `POST <url>/api/v2/alerts` over HTTP/1.1, plain or TLS
//! with the configured CA, with bearer or basic authentication read from files at every send.
//! One connection per batch: batches are few (refreshes every few minutes), and a fresh
//! connection finds a restarted Alertmanager without stale-connection handling.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};

/// How to authenticate to the Alertmanagers.
#[derive(Debug, Clone, Default)]
pub enum Auth {
    #[default]
    None,
    /// `Authorization: Bearer <file content>`.
    BearerFile(PathBuf),
    /// `Authorization: Basic`, the password read from a file.
    Basic { username: String, password_file: PathBuf },
}

/// Why an Alertmanager could not be set up (a configuration problem, found at start-up).
#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    #[error("alerting.alertmanager.urls: {url:?} is not a URL with a host: {reason}")]
    Url { url: String, reason: String },
    #[error("alerting.alertmanager.caFile: cannot read {path}: {source}")]
    CaFile { path: String, source: rustls_pki_types::pem::Error },
    #[error("alerting.alertmanager.caFile: {path} holds no certificate Portal can use: {reason}")]
    CaCertificates { path: String, reason: String },
    #[error("alerting.alertmanager.urls: {url:?} is https but alerting.alertmanager.caFile is not set")]
    NoCa { url: String },
}

/// Why one send failed.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("connecting to {address}: {source}")]
    Connect { address: String, source: std::io::Error },
    #[error("TLS with {host}: {source}")]
    Tls { host: String, source: std::io::Error },
    #[error("HTTP: {0}")]
    Http(#[from] hyper::Error),
    #[error("building the request: {0}")]
    Request(#[from] http::Error),
    #[error("reading {path}: {source}")]
    Credentials { path: String, source: std::io::Error },
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("answered {status}: {body}")]
    Status { status: http::StatusCode, body: String },
}

/// One Alertmanager.
#[derive(Clone)]
pub struct Endpoint {
    /// As configured: the metrics' and logs' name for it.
    pub url: String,
    host: String,
    port: u16,
    /// `<base path>/api/v2/alerts`.
    path: String,
    tls: Option<Arc<rustls::ClientConfig>>,
    auth: Auth,
    timeout: Duration,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint").field("url", &self.url).finish_non_exhaustive()
    }
}

impl Endpoint {
    /// Reads the URL and, for `https`, the CA file.
    pub fn new(
        url: &str,
        ca_file: Option<&std::path::Path>,
        auth: Auth,
        timeout: Duration,
    ) -> Result<Self, EndpointError> {
        let invalid = |reason: &str| EndpointError::Url { url: url.to_owned(), reason: reason.to_owned() };
        let uri: http::Uri = url.parse().map_err(|error: http::uri::InvalidUri| invalid(&error.to_string()))?;
        let https = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            _ => return Err(invalid("expected http:// or https://")),
        };
        let host = uri.host().filter(|host| !host.is_empty()).ok_or_else(|| invalid("no host"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']').to_owned();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let path = format!("{}/api/v2/alerts", uri.path().trim_end_matches('/'));
        let tls = if https {
            let Some(ca_file) = ca_file else { return Err(EndpointError::NoCa { url: url.to_owned() }) };
            Some(Arc::new(client_config(ca_file)?))
        } else {
            None
        };
        Ok(Self { url: url.to_owned(), host, port, path, tls, auth, timeout })
    }

    /// Posts `body` (a JSON array of alerts); Ok when Alertmanager answers 2xx.
    pub async fn post(&self, body: Bytes) -> Result<(), SendError> {
        match tokio::time::timeout(self.timeout, self.exchange(body)).await {
            Ok(result) => result,
            Err(_) => Err(SendError::Timeout(self.timeout)),
        }
    }

    async fn exchange(&self, body: Bytes) -> Result<(), SendError> {
        let address = format!("{}:{}", self.host, self.port);
        let tcp = tokio::net::TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|source| SendError::Connect { address: address.clone(), source })?;
        let mut request = http::Request::post(&self.path)
            .header(http::header::HOST, &address)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::USER_AGENT, concat!("portal/", env!("CARGO_PKG_VERSION")));
        if let Some(value) = self.authorization().await? {
            request = request.header(http::header::AUTHORIZATION, value);
        }
        let request = request.body(Full::new(body))?;
        match &self.tls {
            None => send(TokioIo::new(tcp), request).await,
            Some(config) => {
                let name = ServerName::try_from(self.host.clone()).map_err(|error| SendError::Tls {
                    host: self.host.clone(),
                    source: std::io::Error::other(error),
                })?;
                let stream = tokio_rustls::TlsConnector::from(Arc::clone(config))
                    .connect(name, tcp)
                    .await
                    .map_err(|source| SendError::Tls { host: self.host.clone(), source })?;
                send(TokioIo::new(stream), request).await
            }
        }
    }

    async fn authorization(&self) -> Result<Option<String>, SendError> {
        let read = |path: &PathBuf| {
            let path = path.clone();
            async move {
                tokio::fs::read_to_string(&path)
                    .await
                    .map(|text| text.trim().to_owned())
                    .map_err(|source| SendError::Credentials { path: path.display().to_string(), source })
            }
        };
        Ok(match &self.auth {
            Auth::None => None,
            Auth::BearerFile(path) => Some(format!("Bearer {}", read(path).await?)),
            Auth::Basic { username, password_file } => {
                let password = read(password_file).await?;
                let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
                Some(format!("Basic {encoded}"))
            }
        })
    }
}

async fn send<S>(io: TokioIo<S>, request: http::Request<Full<Bytes>>) -> Result<(), SendError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io).await?;
    let connection = tokio::spawn(connection);
    let response = sender.send_request(request).await?;
    let status = response.status();
    // Alertmanager's answers are short; a longer one is not read.
    let body = http_body_util::Limited::new(response.into_body(), 64 * 1024)
        .collect()
        .await
        .map(|collected| collected.to_bytes())
        .unwrap_or_default();
    connection.abort();
    if status.is_success() {
        Ok(())
    } else {
        let text = String::from_utf8_lossy(&body[..body.len().min(4096)]).trim().to_owned();
        Err(SendError::Status { status, body: text })
    }
}

fn client_config(ca_file: &std::path::Path) -> Result<rustls::ClientConfig, EndpointError> {
    let path = ca_file.display().to_string();
    let mut roots = rustls::RootCertStore::empty();
    let certificates = CertificateDer::pem_file_iter(ca_file)
        .map_err(|source| EndpointError::CaFile { path: path.clone(), source })?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| EndpointError::CaFile { path: path.clone(), source })?;
    let (added, _ignored) = roots.add_parsable_certificates(certificates);
    if added == 0 {
        return Err(EndpointError::CaCertificates { path, reason: "no PEM CERTIFICATE block parses".into() });
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| EndpointError::CaCertificates { path, reason: error.to_string() })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// Accepts one request on `listener`, answers 200 and returns the request's head.
    async fn one_request(listener: &tokio::net::TcpListener) -> String {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut received = Vec::new();
        let mut buffer = [0u8; 4096];
        while !received.windows(4).any(|window| window == b"\r\n\r\n") {
            let read = stream.read(&mut buffer).await.unwrap();
            assert!(read > 0, "the client closed before sending its headers");
            received.extend_from_slice(&buffer[..read]);
        }
        stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").await.unwrap();
        String::from_utf8_lossy(&received).to_lowercase()
    }

    #[tokio::test]
    async fn the_bearer_token_is_read_from_its_file_at_every_send() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let dir = std::env::temp_dir().join(format!("portal-bearer-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let token = dir.join("token");
        std::fs::write(&token, "first-token\n").unwrap();
        let endpoint = Endpoint::new(
            &format!("http://{address}/prefix/"),
            None,
            Auth::BearerFile(token.clone()),
            Duration::from_secs(5),
        )
        .unwrap();
        for expected in ["first-token", "rotated-token"] {
            let (head, sent) = tokio::join!(one_request(&listener), endpoint.post(Bytes::from_static(b"[]")));
            sent.unwrap();
            assert!(head.starts_with("post /prefix/api/v2/alerts http/1.1"), "{head}");
            assert!(head.contains(&format!("authorization: bearer {expected}\r\n")), "{head}");
            assert!(head.contains("content-type: application/json"), "{head}");
            std::fs::write(&token, "rotated-token").unwrap();
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn urls_are_checked_when_the_sink_starts() {
        let error = Endpoint::new("alertmanager:9093", None, Auth::None, Duration::from_secs(1)).unwrap_err();
        assert!(error.to_string().contains("expected http:// or https://"), "{error}");
        let error = Endpoint::new("https://alertmanager:9093", None, Auth::None, Duration::from_secs(1)).unwrap_err();
        assert_eq!(
            error.to_string(),
            "alerting.alertmanager.urls: \"https://alertmanager:9093\" is https but alerting.alertmanager.caFile is not set"
        );
    }
}
