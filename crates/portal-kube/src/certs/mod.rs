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

// Layers, from the bottom: `bundle` (what the Secret holds), `error`, `options`; `x509` and
// `plan`, which are pure; `secret`, `webhook_config` and `files`, which do the I/O; this file
// on top. Each uses only layers below it.
mod bundle;
mod error;
mod files;
mod options;
mod plan;
mod secret;
mod webhook_config;
mod x509;

pub use bundle::{CA_BUNDLE, CA_CRT, CA_KEY, CertBundle, OWNER_LABEL, OWNER_VALUE, Outcome, TLS_CRT, TLS_KEY};
pub use error::{Error, Result};
pub use options::{CertOptions, DEFAULT_RENEW_BEFORE, DEFAULT_VALIDITY};
pub use webhook_config::write_ca_bundle;
pub use x509::CA_COMMON_NAME;

use std::path::PathBuf;
use std::time::Duration;

use secret::ensure_secret;
use x509::display_time;

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

/// How long a failed renewal waits before the next attempt (or `interval`, when shorter).
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(30);

/// `portal run`'s renewal (`admission.certificates.renew`): [`init_certs`] now and every
/// `interval`, then the files the webhook serves written into `dir` when they changed. The
/// Secret and the `caBundle` are written before the files, so the API server trusts a new CA
/// before any replica serves a certificate it signed. Runs until the task is dropped.
pub async fn keep_renewed(client: kube::Client, options: CertOptions, dir: PathBuf, interval: Duration) {
    loop {
        let renewed = init_certs(client.clone(), &options).await.and_then(|bundle| bundle.write_files(&dir));
        let wait = match renewed {
            Ok(true) => {
                tracing::info!(dir = %dir.display(), "serving certificate files updated");
                interval
            }
            Ok(false) => interval,
            Err(error) => {
                let retry = interval.min(RETRY_AFTER_FAILURE);
                tracing::warn!(?retry, "renewing the serving certificate failed: {}", crate::with_causes(&error));
                retry
            }
        };
        tokio::time::sleep(wait).await;
    }
}

/// Shared by the unit tests of this module.
#[cfg(test)]
mod test_support {
    #![allow(clippy::unwrap_used)]

    use super::CertOptions;

    /// Options for `portal-webhook` in `portal-system`, with an extra name, one that repeats
    /// the Service's, and an IP.
    pub(super) fn options() -> CertOptions {
        let mut options = CertOptions::new("portal-system", "portal-webhook-tls", "portal-webhook");
        options.extra_dns = vec!["webhook.example.com".to_owned(), "portal-webhook".to_owned()];
        options.ips = vec!["10.0.0.7".parse().unwrap()];
        options
    }
}
