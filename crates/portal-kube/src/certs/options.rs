//! What init-certs is asked for: the Secret, the Service whose names the certificate carries,
//! the webhook configuration, and how long certificates live.

use std::net::IpAddr;
use std::time::Duration;

use super::error::{Error, Result};

/// How long certificates are valid unless told otherwise: one year.
pub const DEFAULT_VALIDITY: Duration = Duration::from_secs(365 * 24 * 60 * 60);
/// How long before expiry certificates are renewed unless told otherwise: 30 days.
pub const DEFAULT_RENEW_BEFORE: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// What [`init_certs`](super::init_certs) makes and where it keeps it.
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

    pub(super) fn validate(&self) -> Result<()> {
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
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::certs::test_support::options;

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
}
