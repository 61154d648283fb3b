//! What init-certs keeps in the Secret: the keys (also the file names), the label that marks
//! the Secret as its own, and the [`CertBundle`] the webhook serves with.

use std::fmt;
use std::time::SystemTime;

/// Secret key (and file name) of the serving certificate.
pub const TLS_CRT: &str = "tls.crt";
/// Secret key (and file name) of the serving certificate's private key.
pub const TLS_KEY: &str = "tls.key";
/// Secret key (and file name) of the current CA certificate.
pub const CA_CRT: &str = "ca.crt";
/// Secret key of the CA's private key (never written to files).
pub const CA_KEY: &str = "ca.key";
/// Secret key of the CA bundle written to `caBundle`: the current CA, then the previous one.
pub const CA_BUNDLE: &str = "ca-bundle.crt";

/// The label that marks a Secret as made by init-certs (with [`OWNER_VALUE`]). Certificates in
/// a Secret without it are never overwritten; adding it hands the Secret over.
pub const OWNER_LABEL: &str = "portal.io/certificates";
/// The value of [`OWNER_LABEL`].
pub const OWNER_VALUE: &str = "init-certs";

/// How [`init_certs`](super::init_certs) came by the certificates it returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// There was no CA yet (no Secret, or an empty placeholder); this call made one.
    Created,
    /// The Secret's contents were used as they were (also after losing a race to another writer).
    Adopted,
    /// A new serving certificate signed by the existing CA: the old one was due for renewal,
    /// unusable or for other names. Also a repaired CA bundle.
    Reissued,
    /// A new CA and serving certificate; the bundle keeps the previous CA.
    Renewed,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Created => "created",
            Self::Adopted => "adopted",
            Self::Reissued => "reissued",
            Self::Renewed => "renewed",
        })
    }
}

/// The certificates the webhook serves with, as stored in the Secret.
#[derive(Clone)]
pub struct CertBundle {
    /// The serving certificate (PEM).
    pub cert_pem: String,
    /// The serving certificate's private key (PEM, PKCS#8).
    pub key_pem: String,
    /// The CA that signed the serving certificate (PEM).
    pub ca_pem: String,
    /// What the API server must trust: the current CA and, after a renewal, the previous one (PEM).
    pub ca_bundle_pem: String,
    /// When the serving certificate expires.
    pub not_after: SystemTime,
    /// What this call did to get them.
    pub outcome: Outcome,
}

impl fmt::Debug for CertBundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertBundle")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"<redacted>")
            .field("ca_pem", &self.ca_pem)
            .field("ca_bundle_pem", &self.ca_bundle_pem)
            .field("not_after", &self.not_after)
            .field("outcome", &self.outcome)
            .finish()
    }
}
