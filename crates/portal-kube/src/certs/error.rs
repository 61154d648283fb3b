//! What can go wrong in init-certs: one [`Error`] for the whole module.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use super::bundle::{OWNER_LABEL, OWNER_VALUE};

/// Reads and writes of one object before giving up on a write that keeps conflicting (the
/// errors for that case say how many).
pub(super) const ATTEMPTS: usize = 5;

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
