//! The actions that change the cluster, done through the API server as Portal's ServiceAccount:
//! labels and annotations by server-side apply (field manager `portal/<rule>/<n>`), evictions through the
//! Eviction API (PodDisruptionBudgets decide), NetworkPolicies by server-side apply, and
//! ServiceAccount credentials revoked by deleting their legacy token Secrets and, when asked,
//! recreating the ServiceAccount.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use k8s_openapi::api::core::v1::{Pod, Secret, ServiceAccount};
use kube::api::{
    Api, DeleteParams, DynamicObject, EvictParams, ListParams, Patch, PatchParams, PostParams, Preconditions,
};
use kube::core::GroupVersionKind;
use kube::discovery::ApiResource;
use portal_actions::{ExecuteError, Executor, Subject};
use portal_rules::actions::{Action, ActionKind, RevokeMode, TemplateValues, fill_template};
use serde_json::{Value as Json, json};

/// Why an action could not be done, in words for the log.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error("{what} {object}: {source}")]
    Api { what: &'static str, object: String, source: kube::Error },
    #[error("{object} has no namespace: {action} acts in the object's namespace")]
    ClusterScoped { object: String, action: &'static str },
    #[error("{action} applies to {expected}, not to {object}")]
    WrongKind { action: &'static str, expected: &'static str, object: String },
    #[error(
        "evicting {object} was refused with 429: a PodDisruptionBudget allows no disruption now, or the API \
         server is throttling ({message}); it is tried again on the next violation"
    )]
    DisruptionBudget { object: String, message: String },
    #[error(
        "Portal may not patch {object} ({message}): grant `patch` on {kind} objects to Portal's ServiceAccount \
         (with the Helm chart: add the kind to actions.labelKinds)"
    )]
    MayNotPatch { object: String, kind: String, message: String },
    #[error("{object}: the API server has no such kind ({source})")]
    Discovery { object: String, source: kube::Error },
}

/// Does actions with Portal's client.
pub struct KubeExecutor {
    client: kube::Client,
    /// Discovered resources by `apiVersion/kind`.
    resources: Mutex<HashMap<String, ApiResource>>,
}

impl std::fmt::Debug for KubeExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeExecutor").finish_non_exhaustive()
    }
}

impl KubeExecutor {
    pub fn new(client: kube::Client) -> Self {
        Self { client, resources: Mutex::default() }
    }

    async fn resource(&self, subject: &Subject) -> Result<ApiResource, ActionError> {
        let key = format!("{}/{}", subject.api_version, subject.kind);
        if let Some(found) = self.resources.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(&key) {
            return Ok(found.clone());
        }
        let (group, version) = subject.api_version.rsplit_once('/').unwrap_or(("", subject.api_version.as_str()));
        let gvk = GroupVersionKind::gvk(group, version, &subject.kind);
        let (resource, _) = kube::discovery::pinned_kind(&self.client, &gvk)
            .await
            .map_err(|source| ActionError::Discovery { object: subject.display(), source })?;
        self.resources.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(key, resource.clone());
        Ok(resource)
    }

    /// Server-side applies `metadata.<field>` on the object.
    async fn apply_metadata(
        &self,
        subject: &Subject,
        manager: &str,
        field: &'static str,
        entries: &std::collections::BTreeMap<String, String>,
    ) -> Result<String, ActionError> {
        let resource = self.resource(subject).await?;
        let api: Api<DynamicObject> = match &subject.namespace {
            Some(namespace) => Api::namespaced_with(self.client.clone(), namespace, &resource),
            None => Api::all_with(self.client.clone(), &resource),
        };
        // The UID makes the apply fail on another object of the same name (recreated since the
        // violation was found) instead of labelling it.
        let mut metadata = json!({ "name": subject.name, "uid": subject.uid, field: entries });
        if let Some(namespace) = &subject.namespace {
            metadata["namespace"] = json!(namespace);
        }
        let patch = json!({ "apiVersion": subject.api_version, "kind": subject.kind, "metadata": metadata });
        api.patch(&subject.name, &PatchParams::apply(manager).force(), &Patch::Apply(&patch)).await.map_err(
            |source| match source {
                kube::Error::Api(response) if response.code == 403 => ActionError::MayNotPatch {
                    object: subject.display(),
                    kind: subject.kind.clone(),
                    message: response.message,
                },
                source => ActionError::Api { what: "applying metadata to", object: subject.display(), source },
            },
        )?;
        let keys: Vec<&str> = entries.keys().map(String::as_str).collect();
        Ok(format!("{field} {} applied", keys.join(", ")))
    }

    async fn evict(&self, subject: &Subject) -> Result<String, ActionError> {
        let namespace = pod_namespace(subject, "evict")?;
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        // Only the Pod that violated: not another of the same name created since.
        let preconditions = Preconditions { uid: subject.uid.clone(), resource_version: None };
        let params = EvictParams {
            delete_options: Some(DeleteParams { preconditions: Some(preconditions), ..DeleteParams::default() }),
            ..EvictParams::default()
        };
        match pods.evict(&subject.name, &params).await {
            Ok(_) => Ok("evicted".to_owned()),
            Err(kube::Error::Api(response)) if response.code == 429 => {
                Err(ActionError::DisruptionBudget { object: subject.display(), message: response.message })
            }
            Err(source) => Err(ActionError::Api { what: "evicting", object: subject.display(), source }),
        }
    }

    async fn network_policy(
        &self,
        rule: &str,
        manager: &str,
        subject: &Subject,
        name: &str,
        spec: &Json,
    ) -> Result<String, ActionError> {
        // A Namespace's findings (the network checks') quarantine inside that namespace.
        let own_namespace =
            (subject.group().is_empty() && subject.kind == "Namespace").then_some(subject.name.as_str());
        let Some(namespace) = subject.namespace.as_deref().or(own_namespace) else {
            return Err(ActionError::ClusterScoped { object: subject.display(), action: "patch-networkpolicy" });
        };
        let values = TemplateValues { name: &subject.name, namespace, kind: &subject.kind, rule };
        let name = match fill_template(&Json::String(name.to_owned()), values) {
            Json::String(name) => object_name(&name),
            _ => object_name(name),
        };
        // Owned by the violating object when it is namespaced: deleted with it, so per-object
        // quarantines do not pile up.
        let owner = (subject.namespace.is_some() && subject.uid.is_some()).then(|| {
            json!([{ "apiVersion": subject.api_version, "kind": subject.kind, "name": subject.name, "uid": subject.uid }])
        });
        let policy = json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "labels": { "app.kubernetes.io/managed-by": "portal", "portal.io/rule": rule_label(rule) },
                "ownerReferences": owner,
            },
            "spec": fill_template(spec, values),
        });
        let api: Api<k8s_openapi::api::networking::v1::NetworkPolicy> = Api::namespaced(self.client.clone(), namespace);
        // Not forced: a policy of that name that someone else manages is theirs, and the apply
        // fails with a conflict instead of taking it over.
        api.patch(&name, &PatchParams::apply(manager), &Patch::Apply(&policy)).await.map_err(|source| {
            ActionError::Api { what: "applying NetworkPolicy", object: format!("{namespace}/{name}"), source }
        })?;
        Ok(format!("NetworkPolicy {namespace}/{name} applied"))
    }

    async fn revoke(&self, subject: &Subject, mode: RevokeMode) -> Result<String, ActionError> {
        let namespace = subject
            .namespace
            .as_deref()
            .ok_or_else(|| ActionError::ClusterScoped { object: subject.display(), action: "revoke-sa-token" })?;
        let account = match (subject.group(), subject.kind.as_str()) {
            ("", "ServiceAccount") => subject.name.clone(),
            ("", "Pod") => {
                let pods: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
                let pod = pods.get(&subject.name).await.map_err(|source| ActionError::Api {
                    what: "reading",
                    object: subject.display(),
                    source,
                })?;
                pod.spec.and_then(|spec| spec.service_account_name).unwrap_or_else(|| "default".to_owned())
            }
            _ => {
                return Err(ActionError::WrongKind {
                    action: "revoke-sa-token",
                    expected: "ServiceAccounts and Pods",
                    object: subject.display(),
                });
            }
        };
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), namespace);
        // Metadata only: Portal never holds the tokens it revokes.
        let tokens = secrets
            .list_metadata(&ListParams::default().fields("type=kubernetes.io/service-account-token"))
            .await
            .map_err(|source| ActionError::Api {
                what: "listing token Secrets in",
                object: namespace.to_owned(),
                source,
            })?;
        let mut deleted = Vec::new();
        for secret in tokens.items {
            let owner = secret.metadata.annotations.as_ref().and_then(|a| a.get("kubernetes.io/service-account.name"));
            let Some(name) = secret.metadata.name.clone().filter(|_| owner == Some(&account)) else { continue };
            match secrets.delete(&name, &DeleteParams::default()).await {
                Ok(_) => deleted.push(name),
                Err(kube::Error::Api(response)) if response.code == 404 => {}
                Err(source) => {
                    return Err(ActionError::Api {
                        what: "deleting token Secret",
                        object: format!("{namespace}/{name}"),
                        source,
                    });
                }
            }
        }
        let mut done =
            format!("ServiceAccount {namespace}/{account}: {} legacy token Secret(s) deleted", deleted.len());
        if mode == RevokeMode::Recreate {
            let uid = self.recreate(namespace, &account).await?;
            done.push_str(&format!("; recreated with UID {uid} (its bound tokens are no longer valid)"));
        }
        Ok(done)
    }

    /// Deletes the ServiceAccount (only the one that is there now) and creates it again with the
    /// same labels, annotations, image pull secrets and automount setting: a new UID.
    async fn recreate(&self, namespace: &str, name: &str) -> Result<String, ActionError> {
        let accounts: Api<ServiceAccount> = Api::namespaced(self.client.clone(), namespace);
        let object = format!("ServiceAccount/{namespace}/{name}");
        let old = accounts.get(name).await.map_err(|source| ActionError::Api {
            what: "reading",
            object: object.clone(),
            source,
        })?;
        let preconditions = Preconditions { uid: old.metadata.uid.clone(), resource_version: None };
        accounts
            .delete(name, &DeleteParams { preconditions: Some(preconditions), ..DeleteParams::default() })
            .await
            .map_err(|source| ActionError::Api { what: "deleting", object: object.clone(), source })?;
        let mut fresh = ServiceAccount::default();
        fresh.metadata.name = Some(name.to_owned());
        fresh.metadata.namespace = Some(namespace.to_owned());
        fresh.metadata.labels = old.metadata.labels;
        fresh.metadata.annotations = old.metadata.annotations;
        fresh.image_pull_secrets = old.image_pull_secrets;
        fresh.automount_service_account_token = old.automount_service_account_token;
        // A ServiceAccount has no finalizers: it is gone once the delete returns, but a slow
        // API server may still report it; a few tries.
        let mut attempt = 0;
        loop {
            match accounts
                .create(
                    &PostParams {
                        field_manager: Some(crate::writers::FIELD_MANAGER.to_owned()),
                        ..PostParams::default()
                    },
                    &fresh,
                )
                .await
            {
                Ok(created) => return Ok(created.metadata.uid.unwrap_or_default()),
                Err(kube::Error::Api(response)) if response.code == 409 => {
                    // Someone (the ServiceAccount controller, for `default`) created it first:
                    // a new UID is what revocation needs.
                    if let Ok(Some(now)) = accounts.get_opt(name).await
                        && now.metadata.uid.is_some()
                        && now.metadata.uid != old.metadata.uid
                    {
                        return Ok(now.metadata.uid.unwrap_or_default());
                    }
                    if attempt >= 5 {
                        return Err(ActionError::Api { what: "creating", object, source: kube::Error::Api(response) });
                    }
                    attempt += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                }
                Err(source) => return Err(ActionError::Api { what: "creating", object, source }),
            }
        }
    }
}

impl Executor for KubeExecutor {
    fn execute<'a>(
        &'a self,
        rule: &'a str,
        action: &'a Action,
        subject: &'a Subject,
    ) -> Pin<Box<dyn Future<Output = Result<String, ExecuteError>> + Send + 'a>> {
        Box::pin(async move {
            let manager = field_manager(rule, action.index);
            let done = match &action.kind {
                ActionKind::Label { labels } => self.apply_metadata(subject, &manager, "labels", labels).await,
                ActionKind::Annotate { annotations } => {
                    self.apply_metadata(subject, &manager, "annotations", annotations).await
                }
                ActionKind::Evict => self.evict(subject).await,
                ActionKind::PatchNetworkPolicy { name, spec } => {
                    self.network_policy(rule, &manager, subject, name, spec).await
                }
                ActionKind::RevokeSaToken { mode } => self.revoke(subject, *mode).await,
                // The dispatcher sends alerts itself.
                ActionKind::Alertmanager { .. } => Ok("nothing to do".to_owned()),
            };
            done.map_err(|error| Box::new(error) as ExecuteError)
        })
    }
}

fn pod_namespace<'s>(subject: &'s Subject, action: &'static str) -> Result<&'s str, ActionError> {
    if subject.group() != "" || subject.kind != "Pod" {
        return Err(ActionError::WrongKind { action, expected: "Pods", object: subject.display() });
    }
    subject.namespace.as_deref().ok_or_else(|| ActionError::ClusterScoped { object: subject.display(), action })
}

/// The field manager of one action of one rule: `portal/<rule>/<position>`. Server-side apply
/// removes what a manager applied before and applies no more, so every action has a manager of
/// its own and never undoes another's labels (the API server allows 128 characters: a long rule
/// name is cut).
fn field_manager(rule: &str, index: usize) -> String {
    let suffix = format!("/{index}");
    let room = 128 - "portal/".len() - suffix.len();
    let rule: String = rule.chars().take(room).collect();
    format!("portal/{rule}{suffix}")
}

/// A rule name as a label value (up to 63 of `[A-Za-z0-9._-]`, alphanumeric at both ends): a
/// `PortalRule`'s name is `namespace/name`.
fn rule_label(rule: &str) -> String {
    let value: String =
        rule.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '.' }).take(63).collect();
    value.trim_matches(|c: char| !c.is_ascii_alphanumeric()).to_owned()
}

/// `name` (filled from a template) as an object name: lowercase, `[a-z0-9.-]`, at most 253,
/// alphanumeric at both ends.
fn object_name(name: &str) -> String {
    let value: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' { c } else { '-' })
        .take(253)
        .collect();
    value.trim_matches(|c: char| !c.is_ascii_alphanumeric()).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_rules_are_valid_label_values_and_object_names() {
        assert_eq!(rule_label("shop/no-privileged"), "shop.no-privileged");
        assert_eq!(rule_label(&format!("{}-", "a".repeat(70))), "a".repeat(63));
        assert_eq!(object_name("quarantine-shop/No_Priv-"), "quarantine-shop-no-priv");
        assert_eq!(field_manager(&"r".repeat(300), 2).len(), 128);
    }
}
