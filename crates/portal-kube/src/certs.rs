//! `portal init-certs`: the admission webhook's serving certificate, the CA that signs it, and
//! the `caBundle` through which the API server trusts it (SPEC §4).
//!
//! Everything lives in one Secret in Portal's namespace, shared by every replica:
//!
//! | key | content |
//! |---|---|
//! | `tls.crt`, `tls.key` | the serving certificate (the Service's DNS names, any extra names and IPs) and its key |
//! | `ca.crt`, `ca.key` | the CA that signed it, and the CA's key, so that any replica can renew |
//! | `ca-bundle.crt` | what the API server must trust: the current CA and, after a renewal, the previous one |
//!
//! [`init_certs`] decides from the certificates themselves, not from annotations that could
//! disagree with them:
//!
//! - **No Secret**: generate a CA and a serving certificate and create the Secret. Creation is
//!   atomic, so when replicas race the first wins; the others get `409 AlreadyExists`, re-read
//!   the Secret and adopt its contents.
//! - **Usable and not due**: adopt it as it is.
//! - **Serving certificate due for renewal, unusable, or for other names or IPs**: issue a new
//!   one with the same CA; the CA bundle does not change.
//! - **CA due for renewal or unusable**: a new CA and serving certificate; the bundle holds the
//!   new CA and the previous one.
//!
//! Every update carries the `resourceVersion` it was computed from; a replica that loses the
//! race (`409 Conflict`) re-reads the Secret and adopts what the winner wrote.
//!
//! A Secret init-certs makes carries the label [`OWNER_LABEL`]`=`[`OWNER_VALUE`]. A certificate
//! in a Secret without it (cert-manager's, say) is adopted if it is usable but never
//! overwritten: that is an error until someone adds the label to hand the Secret over.
//!
//! # Rotation without a gap
//!
//! The Secret is written first, then the `caBundle` of every webhook in the
//! ValidatingWebhookConfiguration, and only then does the caller write the files the server
//! serves ([`CertBundle::write_files`]). So a replica serves a new certificate only after the
//! API server trusts its CA, and replicas still serving the old certificate stay trusted because
//! the old CA remains in the bundle until the next renewal. A certificate becomes due
//! `renew_before` ahead of its expiry, which is the time every replica has to pick up the new
//! one. Certificates are backdated by an hour to tolerate clock skew between nodes.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs;
use std::io::{self, Write as _};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use k8s_openapi::ByteString;
use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, ApiResource, DynamicObject, PostParams};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    PublicKeyData as _, SanType,
};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::pem::Pem;
use x509_parser::prelude::FromDer as _;
use x509_parser::time::ASN1Time;

/// How long certificates are valid unless told otherwise: one year.
pub const DEFAULT_VALIDITY: Duration = Duration::from_secs(365 * 24 * 60 * 60);
/// How long before expiry certificates are renewed unless told otherwise: 30 days.
pub const DEFAULT_RENEW_BEFORE: Duration = Duration::from_secs(30 * 24 * 60 * 60);
/// The common name of the CA.
pub const CA_COMMON_NAME: &str = "portal-webhook-ca";

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
/// Certificates start this long before they are made, for nodes whose clocks are behind.
const BACKDATE: Duration = Duration::from_secs(60 * 60);
/// Reads and writes of one object before giving up on a write that keeps conflicting.
const ATTEMPTS: usize = 5;

/// Result of this module's operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong while making, storing or publishing the webhook's certificates.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A required name is empty.
    #[error("the {what} must not be empty")]
    EmptyName {
        /// Which name.
        what: &'static str,
    },
    /// The validity is zero or too long to represent.
    #[error("the certificate validity must be longer than zero and shorter than 1000 years, not {validity:?}")]
    InvalidValidity {
        /// The validity asked for.
        validity: Duration,
    },
    /// rcgen could not generate a key or certificate (for example a DNS name that is not ASCII).
    #[error("generating the {what}")]
    Generate {
        /// `CA`, `serving certificate` or a key.
        what: &'static str,
        /// Why.
        #[source]
        source: rcgen::Error,
    },
    /// Reading the Secret failed.
    #[error("reading Secret {namespace}/{name}")]
    ReadSecret {
        /// Namespace of the Secret.
        namespace: String,
        /// Name of the Secret.
        name: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// Creating or updating the Secret failed (other than by losing a race).
    #[error("writing Secret {namespace}/{name}")]
    WriteSecret {
        /// Namespace of the Secret.
        namespace: String,
        /// Name of the Secret.
        name: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// Other writers kept changing the Secret, for example replicas started with different
    /// names (`--dns`, `--ip`) each reissuing the certificate for their own.
    #[error(
        "Secret {namespace}/{name} changed under every one of {ATTEMPTS} attempts to update it; \
         check that every replica runs init-certs with the same --service, --dns and --ip"
    )]
    SecretContended {
        /// Namespace of the Secret.
        namespace: String,
        /// Name of the Secret.
        name: String,
    },
    /// The Secret holds a certificate made by someone else, which init-certs will not overwrite.
    #[error(
        "Secret {namespace}/{name} holds a certificate that portal init-certs did not make (it lacks \
         the label {OWNER_LABEL}={OWNER_VALUE}), for example one that cert-manager manages, and it \
         cannot be used as it is; choose another --secret, delete it, or add the label to hand it over"
    )]
    ForeignSecret {
        /// Namespace of the Secret.
        namespace: String,
        /// Name of the Secret.
        name: String,
    },
    /// The ValidatingWebhookConfiguration does not exist.
    #[error(
        "ValidatingWebhookConfiguration {name} not found: create it before init-certs \
         (the Helm chart does), or leave out --webhook-config"
    )]
    WebhookConfigurationNotFound {
        /// Its name.
        name: String,
    },
    /// Reading or updating the ValidatingWebhookConfiguration failed.
    #[error("writing caBundle into ValidatingWebhookConfiguration {name}")]
    WriteWebhookConfiguration {
        /// Its name.
        name: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// The ValidatingWebhookConfiguration's content is not what the API serves.
    #[error("ValidatingWebhookConfiguration {name}: webhooks[{index}].clientConfig is not an object")]
    MalformedWebhookConfiguration {
        /// Its name.
        name: String,
        /// Index of the webhook.
        index: usize,
    },
    /// Other writers kept changing the ValidatingWebhookConfiguration.
    #[error("ValidatingWebhookConfiguration {name} changed under every one of {ATTEMPTS} attempts to update it")]
    WebhookConfigurationContended {
        /// Its name.
        name: String,
    },
    /// A certificate file could not be written.
    #[error("writing {}", path.display())]
    WriteFile {
        /// The file (or directory).
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
}

/// What [`init_certs`] makes and where it keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertOptions {
    /// Namespace of the Secret and of the webhook's Service.
    pub namespace: String,
    /// Name of the Secret holding the certificates.
    pub secret_name: String,
    /// Name of the webhook's Service; its in-cluster DNS names go into the certificate.
    pub service_name: String,
    /// More DNS names for the certificate.
    pub extra_dns: Vec<String>,
    /// IP addresses for the certificate.
    pub ips: Vec<IpAddr>,
    /// The ValidatingWebhookConfiguration whose webhooks get the CA bundle as `caBundle`.
    pub webhook_configuration: Option<String>,
    /// How long new certificates are valid.
    pub validity: Duration,
    /// How long before expiry a certificate is renewed. At least `validity` renews on every call.
    pub renew_before: Duration,
}

impl CertOptions {
    /// Options with the defaults: no extra names or IPs, no webhook configuration,
    /// [`DEFAULT_VALIDITY`] and [`DEFAULT_RENEW_BEFORE`].
    pub fn new(namespace: impl Into<String>, secret_name: impl Into<String>, service_name: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            secret_name: secret_name.into(),
            service_name: service_name.into(),
            extra_dns: Vec::new(),
            ips: Vec::new(),
            webhook_configuration: None,
            validity: DEFAULT_VALIDITY,
            renew_before: DEFAULT_RENEW_BEFORE,
        }
    }

    /// The DNS names of the serving certificate: `svc`, `svc.ns`, `svc.ns.svc`,
    /// `svc.ns.svc.cluster.local`, then the extra names, without repeats.
    pub fn dns_names(&self) -> Vec<String> {
        let (service, namespace) = (&self.service_name, &self.namespace);
        let mut names = vec![
            service.clone(),
            format!("{service}.{namespace}"),
            format!("{service}.{namespace}.svc"),
            format!("{service}.{namespace}.svc.cluster.local"),
        ];
        for name in &self.extra_dns {
            if !names.iter().any(|known| known.eq_ignore_ascii_case(name)) {
                names.push(name.clone());
            }
        }
        names
    }

    fn validate(&self) -> Result<()> {
        for (what, name) in
            [("namespace", &self.namespace), ("Secret name", &self.secret_name), ("Service name", &self.service_name)]
        {
            if name.is_empty() {
                return Err(Error::EmptyName { what });
            }
        }
        if self.validity.is_zero() || self.validity > Duration::from_secs(1000 * 365 * 24 * 60 * 60) {
            return Err(Error::InvalidValidity { validity: self.validity });
        }
        Ok(())
    }

    /// The subject alternative names the serving certificate must have, exactly.
    fn wanted_names(&self) -> BTreeSet<Name> {
        let dns = self.dns_names().into_iter().map(|name| Name::Dns(name.to_ascii_lowercase()));
        dns.chain(self.ips.iter().copied().map(Name::Ip)).collect()
    }
}

/// How [`init_certs`] came by the certificates it returns.
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

impl CertBundle {
    /// Writes `tls.key`, `tls.crt` and `ca.crt` into `dir` (created if missing), each
    /// atomically (a temporary file renamed over the old one) and only if its content changed.
    /// The key is written before the certificate, so a server that reloads when `tls.crt`
    /// changes finds the matching key in place; one that reloads on the key's change may see the
    /// old certificate once and must retry on the next change. Returns whether anything changed.
    pub fn write_files(&self, dir: &Path) -> Result<bool> {
        fs::create_dir_all(dir).map_err(|source| Error::WriteFile { path: dir.to_owned(), source })?;
        let mut changed = write_atomically(&dir.join(TLS_KEY), &self.key_pem, 0o600)?;
        changed |= write_atomically(&dir.join(TLS_CRT), &self.cert_pem, 0o644)?;
        changed |= write_atomically(&dir.join(CA_CRT), &self.ca_pem, 0o644)?;
        if changed {
            // Make the renames durable before anyone is told the files are there.
            fs::File::open(dir)
                .and_then(|directory| directory.sync_all())
                .map_err(|source| Error::WriteFile { path: dir.to_owned(), source })?;
        }
        Ok(changed)
    }
}

/// Writes `content` to `path` through a temporary file in the same directory and a rename, so
/// readers see the old content or the new, never a mix. Returns false when it was already there.
fn write_atomically(path: &Path, content: &str, mode: u32) -> Result<bool> {
    let io_error = |source| Error::WriteFile { path: path.to_owned(), source };
    if fs::read(path).is_ok_and(|existing| existing == content.as_bytes()) {
        return Ok(false);
    }
    let file_name = path.file_name().map(|name| name.to_string_lossy()).unwrap_or_default();
    let temporary = path.with_file_name(format!(".{file_name}.tmp"));
    // A leftover from a crash may have other permissions; `mode` only applies to new files.
    match fs::remove_file(&temporary) {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => return Err(io_error(error)),
    }
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(&temporary).map_err(io_error)?;
    file.write_all(content.as_bytes()).and_then(|()| file.sync_all()).map_err(io_error)?;
    drop(file);
    fs::rename(&temporary, path).map_err(io_error)?;
    Ok(true)
}

/// Makes sure the Secret holds a usable CA and serving certificate for the options' names,
/// creating or renewing them as the [module documentation](self) describes, then writes the CA
/// bundle into the webhook configuration if one is named. Returns what the server should serve.
pub async fn init_certs(client: kube::Client, options: &CertOptions) -> Result<CertBundle> {
    options.validate()?;
    let bundle = ensure_secret(client.clone(), options).await?;
    tracing::info!(
        secret = %format!("{}/{}", options.namespace, options.secret_name),
        outcome = %bundle.outcome,
        not_after = %display_time(bundle.not_after),
        "webhook certificates ready"
    );
    if let Some(name) = &options.webhook_configuration
        && write_ca_bundle(client, name, &bundle.ca_bundle_pem).await?
    {
        tracing::info!(webhook_configuration = %name, "caBundle updated");
    }
    Ok(bundle)
}

/// Reads, creates or updates the Secret until it holds certificates this call can use.
async fn ensure_secret(client: kube::Client, options: &CertOptions) -> Result<CertBundle> {
    let (namespace, name) = (&options.namespace, &options.secret_name);
    let secrets: Api<Secret> = Api::namespaced(client, namespace);
    let read_error = |source| Error::ReadSecret { namespace: namespace.clone(), name: name.clone(), source };
    let write_error = |source| Error::WriteSecret { namespace: namespace.clone(), name: name.clone(), source };
    let secret_ref = format!("{namespace}/{name}");
    // After losing a race, what the winner wrote is adopted even if it is due for renewal by
    // our reckoning (say, `renew_before` is at least `validity`): it is still valid.
    let mut lost_race = false;
    for _ in 0..ATTEMPTS {
        let now = SystemTime::now();
        let existing = secrets.get_opt(name).await.map_err(read_error)?;
        let empty = BTreeMap::new();
        let data = existing.as_ref().and_then(|secret| secret.data.as_ref()).unwrap_or(&empty);
        let horizon = if lost_race { now } else { now.checked_add(options.renew_before).unwrap_or(now) };
        let plan = plan(data, options, now, horizon)?;
        let (material, outcome) = match plan {
            Plan::Adopt(bundle) => return Ok(bundle),
            Plan::Write { .. } if existing.as_ref().is_some_and(made_elsewhere) => {
                return Err(Error::ForeignSecret { namespace: namespace.clone(), name: name.clone() });
            }
            Plan::Write { material, outcome, reason } => {
                if existing.is_some() {
                    tracing::info!(secret = %secret_ref, %reason, %outcome, "updating the certificate Secret");
                }
                (material, outcome)
            }
        };
        let result = match existing {
            None => {
                let secret = Secret {
                    metadata: ObjectMeta {
                        name: Some(name.clone()),
                        namespace: Some(namespace.clone()),
                        labels: Some(BTreeMap::from([(OWNER_LABEL.to_owned(), OWNER_VALUE.to_owned())])),
                        ..ObjectMeta::default()
                    },
                    type_: Some("kubernetes.io/tls".to_owned()),
                    data: Some(material.data(BTreeMap::new())),
                    ..Secret::default()
                };
                secrets.create(&PostParams::default(), &secret).await
            }
            Some(mut secret) => {
                // Keeps resourceVersion (the precondition), the type (immutable), other keys,
                // labels and owners.
                secret.metadata.labels.get_or_insert_default().insert(OWNER_LABEL.to_owned(), OWNER_VALUE.to_owned());
                secret.data = Some(material.data(secret.data.take().unwrap_or_default()));
                secrets.replace(name, &PostParams::default(), &secret).await
            }
        };
        match result {
            Ok(_) => return Ok(material.into_bundle(outcome)),
            Err(kube::Error::Api(status)) if status.is_already_exists() || status.is_conflict() => {
                tracing::debug!(secret = %secret_ref, "another writer got there first; adopting");
                lost_race = true;
            }
            Err(source) => return Err(write_error(source)),
        }
    }
    Err(Error::SecretContended { namespace: namespace.clone(), name: name.clone() })
}

/// Whether the Secret holds a certificate that init-certs did not make (cert-manager's, say).
/// An empty placeholder is fair game.
fn made_elsewhere(secret: &Secret) -> bool {
    let labels = secret.metadata.labels.as_ref();
    let ours = labels.and_then(|labels| labels.get(OWNER_LABEL)).is_some_and(|value| value == OWNER_VALUE);
    let data = secret.data.as_ref();
    let holds_certificate = data.and_then(|data| data.get(TLS_CRT)).is_some_and(|cert| !cert.0.is_empty());
    holds_certificate && !ours
}

/// Sets `clientConfig.caBundle` of every webhook in the ValidatingWebhookConfiguration `name`
/// to `bundle_pem`, retrying when another writer changed it in between. Returns whether
/// anything changed.
///
/// A JSON merge patch cannot change items of the `webhooks` list, so this reads the object,
/// changes it and replaces it under its `resourceVersion`. It handles the object as untyped
/// JSON so that fields newer than this build's Kubernetes types survive the round trip.
pub async fn write_ca_bundle(client: kube::Client, name: &str, bundle_pem: &str) -> Result<bool> {
    let resource = ApiResource::erase::<ValidatingWebhookConfiguration>(&());
    let api: Api<DynamicObject> = Api::all_with(client, &resource);
    let api_error = |source| Error::WriteWebhookConfiguration { name: name.to_owned(), source };
    let wanted = ByteString(bundle_pem.as_bytes().to_vec());
    // ByteString serialises as base64, which is how `caBundle` travels in JSON.
    let wanted_json = serde_json::to_value(&wanted).unwrap_or_default();
    for _ in 0..ATTEMPTS {
        let Some(mut configuration) = api.get_opt(name).await.map_err(api_error)? else {
            return Err(Error::WebhookConfigurationNotFound { name: name.to_owned() });
        };
        let mut changed = false;
        let webhooks = configuration.data.get_mut("webhooks").and_then(serde_json::Value::as_array_mut);
        for (index, webhook) in webhooks.into_iter().flatten().enumerate() {
            let client_config = webhook
                .get_mut("clientConfig")
                .and_then(serde_json::Value::as_object_mut)
                .ok_or_else(|| Error::MalformedWebhookConfiguration { name: name.to_owned(), index })?;
            let current = client_config.get("caBundle").cloned().map(serde_json::from_value::<ByteString>);
            if !matches!(current, Some(Ok(ref current)) if *current == wanted) {
                client_config.insert("caBundle".to_owned(), wanted_json.clone());
                changed = true;
            }
        }
        if !changed {
            return Ok(false);
        }
        match api.replace(name, &PostParams::default(), &configuration).await {
            Ok(_) => return Ok(true),
            Err(kube::Error::Api(status)) if status.is_conflict() => {
                tracing::debug!(webhook_configuration = %name, "changed while updating caBundle; retrying");
            }
            Err(source) => return Err(api_error(source)),
        }
    }
    Err(Error::WebhookConfigurationContended { name: name.to_owned() })
}

/// What goes into the Secret.
struct Material {
    cert_pem: String,
    key_pem: String,
    ca_pem: String,
    ca_key_pem: String,
    ca_bundle_pem: String,
    not_after: SystemTime,
}

impl Material {
    /// The Secret's data: `others` (keys this module does not own) with this material on top.
    fn data(&self, mut others: BTreeMap<String, ByteString>) -> BTreeMap<String, ByteString> {
        for (key, value) in [
            (TLS_CRT, &self.cert_pem),
            (TLS_KEY, &self.key_pem),
            (CA_CRT, &self.ca_pem),
            (CA_KEY, &self.ca_key_pem),
            (CA_BUNDLE, &self.ca_bundle_pem),
        ] {
            others.insert(key.to_owned(), ByteString(value.as_bytes().to_vec()));
        }
        others
    }

    fn into_bundle(self, outcome: Outcome) -> CertBundle {
        CertBundle {
            cert_pem: self.cert_pem,
            key_pem: self.key_pem,
            ca_pem: self.ca_pem,
            ca_bundle_pem: self.ca_bundle_pem,
            not_after: self.not_after,
            outcome,
        }
    }
}

/// What to do with the Secret's current contents.
enum Plan {
    Adopt(CertBundle),
    Write { material: Material, outcome: Outcome, reason: String },
}

/// A subject alternative name, compared case-insensitively for DNS.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Name {
    Dns(String),
    Ip(IpAddr),
    /// Any other kind: never wanted, so its presence calls for a new certificate.
    Other(String),
}

/// A usable CA: a CA certificate with its matching key.
struct Ca {
    pem: String,
    key_pem: String,
    key: KeyPair,
    der: Vec<u8>,
    not_after: SystemTime,
}

/// A usable serving certificate.
struct Serving {
    cert_pem: String,
    key_pem: String,
    not_after: SystemTime,
}

/// Decides, from the Secret's data alone, whether to adopt it or what to write instead.
/// Certificates expiring at or before `horizon` are renewed.
fn plan(
    data: &BTreeMap<String, ByteString>,
    options: &CertOptions,
    now: SystemTime,
    horizon: SystemTime,
) -> Result<Plan> {
    let get = |key: &str| data.get(key).map(|value| String::from_utf8_lossy(&value.0).into_owned());
    let ca = match read_ca(get(CA_CRT), get(CA_KEY)) {
        Ok(ca) if ca.not_after > horizon => ca,
        usable_or_not => {
            let reason = match usable_or_not {
                Ok(_) => "the CA is due for renewal".to_owned(),
                Err(reason) => reason,
            };
            // Replicas may still serve certificates of the old CA: keep trusting it.
            let previous = get(CA_CRT).filter(|pem| match parse_pem_certificates(pem).as_deref() {
                Ok([der]) => not_after(der).is_some_and(|end| end > now),
                _ => false,
            });
            let material = new_ca_and_certificate(options, now, previous.as_deref())?;
            let outcome = if data.contains_key(CA_CRT) { Outcome::Renewed } else { Outcome::Created };
            return Ok(Plan::Write { material, outcome, reason });
        }
    };
    let stored_bundle = get(CA_BUNDLE);
    let bundle = stored_bundle.clone().filter(|pem| bundle_contains(pem, &ca.der)).unwrap_or_else(|| ca.pem.clone());
    let serving = match read_serving(get(TLS_CRT), get(TLS_KEY), &ca, &options.wanted_names()) {
        Ok(serving) if serving.not_after > horizon => serving,
        Ok(_) => return reissue(options, now, ca, bundle, "the serving certificate is due for renewal".to_owned()),
        Err(reason) => return reissue(options, now, ca, bundle, reason),
    };
    if stored_bundle.as_deref() != Some(bundle.as_str()) {
        return reissue(options, now, ca, bundle, format!("{CA_BUNDLE} does not hold the current CA"));
    }
    Ok(Plan::Adopt(CertBundle {
        cert_pem: serving.cert_pem,
        key_pem: serving.key_pem,
        ca_pem: ca.pem,
        ca_bundle_pem: bundle,
        not_after: serving.not_after,
        outcome: Outcome::Adopted,
    }))
}

fn reissue(options: &CertOptions, now: SystemTime, ca: Ca, bundle: String, reason: String) -> Result<Plan> {
    let (cert_pem, key_pem, not_after) = serving_certificate(options, now, &ca)?;
    let material =
        Material { cert_pem, key_pem, ca_pem: ca.pem, ca_key_pem: ca.key_pem, ca_bundle_pem: bundle, not_after };
    Ok(Plan::Write { material, outcome: Outcome::Reissued, reason })
}

/// A new CA and a serving certificate signed by it; the bundle is the new CA then `previous`.
fn new_ca_and_certificate(options: &CertOptions, now: SystemTime, previous: Option<&str>) -> Result<Material> {
    let generate = |what| move |source| Error::Generate { what, source };
    let key = KeyPair::generate().map_err(generate("CA key"))?;
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, CA_COMMON_NAME);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let not_after = now.checked_add(options.validity).ok_or(Error::InvalidValidity { validity: options.validity })?;
    params.not_before = now.checked_sub(BACKDATE).unwrap_or(now).into();
    params.not_after = not_after.into();
    let certificate = params.self_signed(&key).map_err(generate("CA"))?;
    let ca = Ca {
        pem: certificate.pem(),
        key_pem: key.serialize_pem(),
        der: certificate.der().to_vec(),
        key,
        not_after: truncate_to_seconds(not_after),
    };
    let (cert_pem, key_pem, serving_not_after) = serving_certificate(options, now, &ca)?;
    let mut ca_bundle_pem = ca.pem.clone();
    if let Some(previous) = previous {
        ca_bundle_pem.push_str(previous.trim_end());
        ca_bundle_pem.push('\n');
    }
    Ok(Material {
        cert_pem,
        key_pem,
        ca_pem: ca.pem,
        ca_key_pem: ca.key_pem,
        ca_bundle_pem,
        not_after: serving_not_after,
    })
}

/// A serving certificate for the options' names, signed by `ca`, expiring no later than the CA.
/// Returns the certificate, its key and its expiry.
fn serving_certificate(options: &CertOptions, now: SystemTime, ca: &Ca) -> Result<(String, String, SystemTime)> {
    let generate = |what| move |source| Error::Generate { what, source };
    let issuer = Issuer::from_ca_cert_der(&ca.der.as_slice().into(), &ca.key).map_err(generate("CA issuer"))?;
    let dns_names = options.dns_names();
    let mut params = CertificateParams::default();
    params.subject_alt_names = dns_names
        .into_iter()
        .map(|name| name.try_into().map(SanType::DnsName))
        .chain(options.ips.iter().map(|ip| Ok(SanType::IpAddress(*ip))))
        .collect::<Result<_, _>>()
        .map_err(generate("serving certificate"))?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, format!("{}.{}.svc", options.service_name, options.namespace));
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    let wanted_end = now.checked_add(options.validity).ok_or(Error::InvalidValidity { validity: options.validity })?;
    let not_after = truncate_to_seconds(wanted_end).min(ca.not_after);
    params.not_before = now.checked_sub(BACKDATE).unwrap_or(now).into();
    params.not_after = not_after.into();
    let key = KeyPair::generate().map_err(generate("serving key"))?;
    let certificate = params.signed_by(&key, &issuer).map_err(generate("serving certificate"))?;
    Ok((certificate.pem(), key.serialize_pem(), not_after))
}

/// The stored CA, if it is a CA certificate whose key is the one stored with it.
fn read_ca(pem: Option<String>, key_pem: Option<String>) -> Result<Ca, String> {
    let pem = pem.ok_or_else(|| format!("{CA_CRT} is missing"))?;
    let key_pem = key_pem.ok_or_else(|| format!("{CA_KEY} is missing"))?;
    let der = match parse_pem_certificates(&pem)?.as_slice() {
        [der] => der.clone(),
        _ => return Err(format!("{CA_CRT} must hold exactly one certificate")),
    };
    let (_, certificate) = X509Certificate::from_der(&der).map_err(|error| format!("{CA_CRT}: {error}"))?;
    if !certificate.is_ca() {
        return Err(format!("{CA_CRT} is not a CA certificate"));
    }
    let key = KeyPair::from_pem(&key_pem).map_err(|error| format!("{CA_KEY}: {error}"))?;
    if certificate.public_key().subject_public_key.data.as_ref() != key.der_bytes() {
        return Err(format!("{CA_KEY} is not the key of {CA_CRT}"));
    }
    let not_after = to_system_time(certificate.validity().not_after.timestamp());
    Ok(Ca { pem, key_pem, key, der, not_after })
}

/// The stored serving certificate, if it is signed by `ca`, matches its key and has exactly
/// the `wanted` names.
fn read_serving(
    pem: Option<String>,
    key_pem: Option<String>,
    ca: &Ca,
    wanted: &BTreeSet<Name>,
) -> Result<Serving, String> {
    let pem = pem.ok_or_else(|| format!("{TLS_CRT} is missing"))?;
    let key_pem = key_pem.ok_or_else(|| format!("{TLS_KEY} is missing"))?;
    let der = match parse_pem_certificates(&pem)?.as_slice() {
        [der, ..] => der.clone(),
        [] => return Err(format!("{TLS_CRT} holds no certificate")),
    };
    let (_, certificate) = X509Certificate::from_der(&der).map_err(|error| format!("{TLS_CRT}: {error}"))?;
    let (_, ca_certificate) = X509Certificate::from_der(&ca.der).map_err(|error| format!("{CA_CRT}: {error}"))?;
    certificate
        .verify_signature(Some(ca_certificate.public_key()))
        .map_err(|_| format!("{TLS_CRT} is not signed by {CA_CRT}"))?;
    let key = KeyPair::from_pem(&key_pem).map_err(|error| format!("{TLS_KEY}: {error}"))?;
    if certificate.public_key().subject_public_key.data.as_ref() != key.der_bytes() {
        return Err(format!("{TLS_KEY} is not the key of {TLS_CRT}"));
    }
    let names = subject_alt_names(&certificate).map_err(|error| format!("{TLS_CRT}: {error}"))?;
    if names != *wanted {
        return Err(format!("{TLS_CRT} is for other names or IPs than asked for"));
    }
    let not_after = to_system_time(certificate.validity().not_after.timestamp());
    Ok(Serving { cert_pem: pem, key_pem, not_after })
}

fn subject_alt_names(certificate: &X509Certificate<'_>) -> Result<BTreeSet<Name>, x509_parser::error::X509Error> {
    let Some(extension) = certificate.subject_alternative_name()? else { return Ok(BTreeSet::new()) };
    Ok(extension
        .value
        .general_names
        .iter()
        .map(|name| match name {
            GeneralName::DNSName(dns) => Name::Dns(dns.to_ascii_lowercase()),
            GeneralName::IPAddress(bytes) => match <[u8; 4]>::try_from(*bytes) {
                Ok(v4) => Name::Ip(IpAddr::from(v4)),
                Err(_) => match <[u8; 16]>::try_from(*bytes) {
                    Ok(v6) => Name::Ip(IpAddr::from(v6)),
                    Err(_) => Name::Other(format!("{name}")),
                },
            },
            other => Name::Other(format!("{other}")),
        })
        .collect())
}

/// The DER of every certificate in a PEM text; an error for anything else in it.
fn parse_pem_certificates(pem: &str) -> Result<Vec<Vec<u8>>, String> {
    Pem::iter_from_buffer(pem.as_bytes())
        .map(|block| match block {
            Ok(block) if block.label == "CERTIFICATE" => Ok(block.contents),
            Ok(block) => Err(format!("unexpected PEM block {:?}", block.label)),
            Err(error) => Err(format!("not PEM: {error}")),
        })
        .collect()
}

fn bundle_contains(bundle_pem: &str, der: &[u8]) -> bool {
    parse_pem_certificates(bundle_pem).is_ok_and(|certificates| certificates.iter().any(|each| each == der))
}

fn not_after(der: &[u8]) -> Option<SystemTime> {
    let (_, certificate) = X509Certificate::from_der(der).ok()?;
    Some(to_system_time(certificate.validity().not_after.timestamp()))
}

fn to_system_time(seconds: i64) -> SystemTime {
    match u64::try_from(seconds) {
        Ok(seconds) => UNIX_EPOCH + Duration::from_secs(seconds),
        Err(_) => UNIX_EPOCH - Duration::from_secs(seconds.unsigned_abs()),
    }
}

fn seconds_since_epoch(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map(|since| since.as_secs()).unwrap_or_default()
}

fn display_time(time: SystemTime) -> String {
    let seconds = i64::try_from(seconds_since_epoch(time)).unwrap_or(i64::MAX);
    ASN1Time::from_timestamp(seconds).map(|time| time.to_string()).unwrap_or_default()
}

/// X.509 times have whole seconds.
fn truncate_to_seconds(time: SystemTime) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds_since_epoch(time))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    const DAY: Duration = Duration::from_secs(24 * 60 * 60);

    fn options() -> CertOptions {
        let mut options = CertOptions::new("portal-system", "portal-webhook-tls", "portal-webhook");
        options.extra_dns = vec!["webhook.example.com".to_owned(), "portal-webhook".to_owned()];
        options.ips = vec!["10.0.0.7".parse().unwrap()];
        options
    }

    /// Runs `plan` as a first call at `now` would, and returns what it decided and the data
    /// the Secret would then hold.
    fn run(
        data: &BTreeMap<String, ByteString>,
        options: &CertOptions,
        now: SystemTime,
    ) -> (Outcome, String, BTreeMap<String, ByteString>) {
        match plan(data, options, now, now + options.renew_before).unwrap() {
            Plan::Adopt(bundle) => (bundle.outcome, String::new(), data.clone()),
            Plan::Write { material, outcome, reason } => (outcome, reason, material.data(data.clone())),
        }
    }

    fn text(data: &BTreeMap<String, ByteString>, key: &str) -> String {
        String::from_utf8(data[key].0.clone()).unwrap()
    }

    fn certificates(pem: &str) -> Vec<Vec<u8>> {
        parse_pem_certificates(pem).unwrap()
    }

    fn names(cert_pem: &str) -> BTreeSet<Name> {
        let der = certificates(cert_pem).remove(0);
        subject_alt_names(&X509Certificate::from_der(&der).unwrap().1).unwrap()
    }

    #[test]
    fn dns_names_cover_every_form_of_the_service_name_once() {
        assert_eq!(
            options().dns_names(),
            [
                "portal-webhook",
                "portal-webhook.portal-system",
                "portal-webhook.portal-system.svc",
                "portal-webhook.portal-system.svc.cluster.local",
                "webhook.example.com",
            ]
        );
    }

    #[test]
    fn options_are_validated() {
        let mut empty = options();
        empty.service_name.clear();
        assert!(matches!(empty.validate(), Err(Error::EmptyName { what: "Service name" })));
        let mut zero = options();
        zero.validity = Duration::ZERO;
        assert!(matches!(zero.validate(), Err(Error::InvalidValidity { .. })));
        assert!(options().validate().is_ok());
    }

    #[test]
    fn an_empty_secret_gets_a_ca_and_a_serving_certificate_for_the_names() {
        let now = SystemTime::now();
        let (outcome, _, data) = run(&BTreeMap::new(), &options(), now);
        assert_eq!(outcome, Outcome::Created);
        let ca = read_ca(Some(text(&data, CA_CRT)), Some(text(&data, CA_KEY))).unwrap();
        let wanted = options().wanted_names();
        let serving = read_serving(Some(text(&data, TLS_CRT)), Some(text(&data, TLS_KEY)), &ca, &wanted).unwrap();
        assert_eq!(names(&text(&data, TLS_CRT)), wanted);
        assert!(wanted.contains(&Name::Ip("10.0.0.7".parse().unwrap())));
        assert_eq!(text(&data, CA_BUNDLE), text(&data, CA_CRT));
        let year = now + DEFAULT_VALIDITY;
        assert!(serving.not_after <= year && serving.not_after + Duration::from_secs(1) >= year);
        let (_, ca_certificate) = X509Certificate::from_der(&ca.der).unwrap();
        assert_eq!(ca_certificate.subject().to_string(), format!("CN={CA_COMMON_NAME}"));
    }

    #[test]
    fn a_usable_secret_is_adopted_as_it_is() {
        let now = SystemTime::now();
        let (_, _, data) = run(&BTreeMap::new(), &options(), now);
        let Plan::Adopt(bundle) = plan(&data, &options(), now, now + DEFAULT_RENEW_BEFORE).unwrap() else {
            panic!("expected the Secret to be adopted");
        };
        assert_eq!(bundle.outcome, Outcome::Adopted);
        assert_eq!(bundle.cert_pem, text(&data, TLS_CRT));
        assert_eq!(bundle.key_pem, text(&data, TLS_KEY));
        assert_eq!(bundle.ca_bundle_pem, text(&data, CA_BUNDLE));
    }

    #[test]
    fn other_names_reissue_the_serving_certificate_with_the_same_ca() {
        let now = SystemTime::now();
        let (_, _, data) = run(&BTreeMap::new(), &options(), now);
        let mut renamed = options();
        renamed.extra_dns = vec!["other.example.com".to_owned()];
        renamed.ips.clear();
        let (outcome, reason, reissued) = run(&data, &renamed, now);
        assert_eq!(outcome, Outcome::Reissued, "{reason}");
        assert!(reason.contains("other names"), "{reason}");
        assert_eq!(text(&reissued, CA_CRT), text(&data, CA_CRT));
        assert_eq!(text(&reissued, CA_BUNDLE), text(&data, CA_BUNDLE));
        assert_ne!(text(&reissued, TLS_KEY), text(&data, TLS_KEY));
        assert_eq!(names(&text(&reissued, TLS_CRT)), renamed.wanted_names());
    }

    #[test]
    fn a_ca_due_for_renewal_is_replaced_and_kept_in_the_bundle() {
        let now = SystemTime::now();
        let (_, _, data) = run(&BTreeMap::new(), &options(), now);
        let later = now + DEFAULT_VALIDITY - DEFAULT_RENEW_BEFORE + DAY;
        let (outcome, reason, renewed) = run(&data, &options(), later);
        assert_eq!(outcome, Outcome::Renewed, "{reason}");
        let bundle = certificates(&text(&renewed, CA_BUNDLE));
        assert_eq!(bundle, [certificates(&text(&renewed, CA_CRT)), certificates(&text(&data, CA_CRT))].concat());
        let ca = read_ca(Some(text(&renewed, CA_CRT)), Some(text(&renewed, CA_KEY))).unwrap();
        read_serving(Some(text(&renewed, TLS_CRT)), Some(text(&renewed, TLS_KEY)), &ca, &options().wanted_names())
            .unwrap();

        // The next renewal drops the oldest CA: the bundle holds at most two.
        let much_later = later + DEFAULT_VALIDITY - DEFAULT_RENEW_BEFORE + DAY;
        let (_, _, again) = run(&renewed, &options(), much_later);
        let bundle = certificates(&text(&again, CA_BUNDLE));
        assert_eq!(bundle, [certificates(&text(&again, CA_CRT)), certificates(&text(&renewed, CA_CRT))].concat());
    }

    #[test]
    fn a_mismatched_key_or_missing_ca_key_is_repaired() {
        let now = SystemTime::now();
        let (_, _, data) = run(&BTreeMap::new(), &options(), now);

        let mut swapped = data.clone();
        swapped.insert(TLS_KEY.to_owned(), data[CA_KEY].clone());
        let (outcome, reason, repaired) = run(&swapped, &options(), now);
        assert_eq!(outcome, Outcome::Reissued);
        assert_eq!(reason, "tls.key is not the key of tls.crt");
        assert_eq!(text(&repaired, CA_CRT), text(&data, CA_CRT));

        let mut keyless = data.clone();
        keyless.remove(CA_KEY);
        let (outcome, reason, renewed) = run(&keyless, &options(), now);
        assert_eq!(outcome, Outcome::Renewed);
        assert_eq!(reason, "ca.key is missing");
        // Replicas may still serve the certificate of the CA whose key was lost.
        assert!(bundle_contains(&text(&renewed, CA_BUNDLE), &certificates(&text(&data, CA_CRT))[0]));

        let mut foreign = data.clone();
        let (_, _, other) = run(&BTreeMap::new(), &options(), now);
        foreign.insert(TLS_CRT.to_owned(), other[TLS_CRT].clone());
        foreign.insert(TLS_KEY.to_owned(), other[TLS_KEY].clone());
        let (outcome, reason, _) = run(&foreign, &options(), now);
        assert_eq!((outcome, reason.as_str()), (Outcome::Reissued, "tls.crt is not signed by ca.crt"));
    }

    #[test]
    fn certificates_made_elsewhere_are_recognised() {
        let secret = |labels: &[(&str, &str)], cert: &str| Secret {
            metadata: ObjectMeta {
                labels: Some(labels.iter().map(|(key, value)| ((*key).to_owned(), (*value).to_owned())).collect()),
                ..ObjectMeta::default()
            },
            data: Some(BTreeMap::from([(TLS_CRT.to_owned(), ByteString(cert.as_bytes().to_vec()))])),
            ..Secret::default()
        };
        assert!(made_elsewhere(&secret(&[("controller.cert-manager.io/fao", "true")], "-----BEGIN")));
        assert!(made_elsewhere(&secret(&[(OWNER_LABEL, "someone-else")], "-----BEGIN")));
        assert!(!made_elsewhere(&secret(&[(OWNER_LABEL, OWNER_VALUE)], "-----BEGIN")));
        assert!(!made_elsewhere(&secret(&[], "")), "an empty placeholder may be filled");
        assert!(!made_elsewhere(&Secret::default()));
    }

    #[test]
    fn files_are_written_once_and_the_key_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let (_, _, data) = run(&BTreeMap::new(), &options(), SystemTime::now());
        let bundle = CertBundle {
            cert_pem: text(&data, TLS_CRT),
            key_pem: text(&data, TLS_KEY),
            ca_pem: text(&data, CA_CRT),
            ca_bundle_pem: text(&data, CA_BUNDLE),
            not_after: SystemTime::now(),
            outcome: Outcome::Created,
        };
        let out = dir.path().join("certs");
        assert!(bundle.write_files(&out).unwrap());
        assert!(!bundle.write_files(&out).unwrap(), "unchanged files are not rewritten");
        assert_eq!(fs::read_to_string(out.join(TLS_CRT)).unwrap(), bundle.cert_pem);
        assert_eq!(fs::read_to_string(out.join(TLS_KEY)).unwrap(), bundle.key_pem);
        assert_eq!(fs::read_to_string(out.join(CA_CRT)).unwrap(), bundle.ca_pem);
        let mut files: Vec<_> = fs::read_dir(&out).unwrap().map(|entry| entry.unwrap().file_name()).collect();
        files.sort();
        assert_eq!(files, ["ca.crt", "tls.crt", "tls.key"], "no temporary files are left behind");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(out.join(TLS_KEY)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(!format!("{bundle:?}").contains(&bundle.key_pem), "Debug never shows the key");
    }
}
