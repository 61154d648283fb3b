//! The serving certificate: loaded from PEM files, swapped without a restart when they change
//! (a renewed Secret, cert-manager rotating it), with its expiry exported as a metric.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Why the certificate could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("reading {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} holds no PEM certificate")]
    NoCertificate { path: String },
    #[error("{path} holds no PEM private key (PKCS#8, PKCS#1 or SEC1)")]
    NoKey { path: String },
    #[error("the private key in {path} cannot be used for TLS")]
    UnusableKey {
        path: String,
        #[source]
        source: rustls::Error,
    },
}

/// A certificate and key loaded from files.
#[derive(Debug)]
pub struct LoadedCertificate {
    pub key: Arc<CertifiedKey>,
    /// The leaf certificate's notAfter, when it could be read.
    pub not_after: Option<SystemTime>,
    /// What the files looked like when read, to notice changes.
    fingerprint: (Vec<u8>, Vec<u8>),
}

/// Reads the certificate chain and key.
pub fn load(cert_file: &Path, key_file: &Path) -> Result<LoadedCertificate, Error> {
    let read =
        |path: &Path| std::fs::read(path).map_err(|source| Error::Read { path: path.display().to_string(), source });
    let cert_pem = read(cert_file)?;
    let key_pem = read(key_file)?;
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(&cert_pem).filter_map(Result::ok).collect();
    if chain.is_empty() {
        return Err(Error::NoCertificate { path: cert_file.display().to_string() });
    }
    let key =
        PrivateKeyDer::from_pem_slice(&key_pem).map_err(|_| Error::NoKey { path: key_file.display().to_string() })?;
    let signing_key = rustls::crypto::ring::sign::any_supported_type(&key)
        .map_err(|source| Error::UnusableKey { path: key_file.display().to_string(), source })?;
    let not_after = chain.first().and_then(|leaf| not_after(leaf));
    Ok(LoadedCertificate {
        key: Arc::new(CertifiedKey::new(chain, signing_key)),
        not_after,
        fingerprint: (cert_pem, key_pem),
    })
}

fn not_after(leaf: &CertificateDer<'_>) -> Option<SystemTime> {
    let (_, certificate) = x509_parser::parse_x509_certificate(leaf.as_ref()).ok()?;
    let seconds = certificate.validity().not_after.timestamp();
    SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(u64::try_from(seconds).ok()?))
}

/// Serves whichever certificate was loaded last.
#[derive(Debug)]
pub struct ReloadingResolver {
    current: ArcSwap<CertifiedKey>,
}

impl ReloadingResolver {
    pub fn new(initial: Arc<CertifiedKey>) -> ReloadingResolver {
        ReloadingResolver { current: ArcSwap::new(initial) }
    }

    pub fn replace(&self, key: Arc<CertifiedKey>) {
        self.current.store(key);
    }
}

impl ResolvesServerCert for ReloadingResolver {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load_full())
    }
}

/// Re-reads the files every `interval` and swaps the certificate when they changed. Polling,
/// not file notifications: Kubernetes updates mounted Secrets by swapping a symlinked
/// directory, which notifications on the files themselves miss.
pub(crate) async fn watch_files(
    cert_file: PathBuf,
    key_file: PathBuf,
    mut fingerprint: (Vec<u8>, Vec<u8>),
    resolver: Arc<ReloadingResolver>,
    metrics: portal_metrics::Metrics,
    interval: Duration,
    expiry: tokio::sync::watch::Sender<Option<SystemTime>>,
) {
    let mut ticker = tokio::time::interval(interval);
    loop {
        ticker.tick().await;
        let (Ok(cert), Ok(key)) = (std::fs::read(&cert_file), std::fs::read(&key_file)) else { continue };
        if (cert.as_slice(), key.as_slice()) == (fingerprint.0.as_slice(), fingerprint.1.as_slice()) {
            continue;
        }
        match load(&cert_file, &key_file) {
            Ok(loaded) => {
                resolver.replace(loaded.key);
                if let Some(not_after) = loaded.not_after {
                    metrics.set_certificate_expiry(not_after);
                }
                let _ = expiry.send(loaded.not_after);
                fingerprint = loaded.fingerprint;
                tracing::info!(cert = %cert_file.display(), "serving certificate reloaded");
            }
            // A half-written pair (certificate renewed, key not yet): keep serving the old one.
            Err(error) => tracing::warn!("new serving certificate not usable yet, keeping the current one: {error}"),
        }
    }
}

impl LoadedCertificate {
    pub(crate) fn fingerprint(&self) -> (Vec<u8>, Vec<u8>) {
        self.fingerprint.clone()
    }
}
