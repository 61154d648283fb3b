//! The Secret in the API server: read it, plan from its data, create it or replace it under
//! the `resourceVersion` the plan was made from, and adopt what another writer wrote after
//! losing a race. A certificate that init-certs did not make is never overwritten.

use std::collections::BTreeMap;
use std::time::SystemTime;

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, PostParams};

use super::bundle::{CertBundle, OWNER_LABEL, OWNER_VALUE, TLS_CRT};
use super::error::{ATTEMPTS, Error, Result};
use super::options::CertOptions;
use super::plan::{Plan, plan};

/// Reads, creates or updates the Secret until it holds certificates this call can use.
pub(super) async fn ensure_secret(client: kube::Client, options: &CertOptions) -> Result<CertBundle> {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use k8s_openapi::ByteString;

    use super::*;

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
}
