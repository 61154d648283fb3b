//! The ValidatingWebhookConfiguration that registers Portal's webhook, rendered from the rules
//! (`portal webhook-config`), so that the API server calls Portal only for what a loaded
//! admission rule can judge, and a Portal outage cannot lock the cluster out:
//!
//! - one webhook for namespaced objects (`failurePolicy: Fail` by default), never called for the
//!   system namespaces, Portal's own namespace or a namespace labelled
//!   [`BREAK_GLASS_LABEL`]`=`[`BREAK_GLASS_VALUE`] — the API server itself skips them, so the
//!   label works while Portal is down (objects' own labels never switch Portal off);
//! - one webhook for cluster-scoped objects, only when a rule targets them, with a failure
//!   policy of its own (`Ignore` by default: a Namespace, Node or ClusterRole must stay
//!   writable while Portal is down);
//! - never the kinds the control plane needs to heal itself, nor Portal's own: Nodes, Leases,
//!   Events, token and access reviews, `portal.io` and the report groups. Named rules for them are
//!   left out (with a warning); wildcard rules exclude them by `matchConditions`, evaluated by
//!   the API server.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use portal_rules::kinds::{is_cluster_scoped, resource_of};
use portal_rules::{Mode, Operation, RuleSet};
use serde_json::{Value as Json, json};

pub use portal_rules::kinds::{BREAK_GLASS_LABEL, BREAK_GLASS_VALUE, PROTECTED_RESOURCES, SYSTEM_NAMESPACES};

/// Where the API server reaches Portal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookClient {
    /// The webhook's Service, port 443, path `/validate`.
    Service { namespace: String, name: String },
    /// A URL, for Portal outside the cluster (or tests).
    Url(String),
}

/// How to render the configuration.
#[derive(Debug, Clone)]
pub struct RegistrationOptions {
    /// The configuration's name; `portal init-certs --webhook-config` writes its `caBundle`.
    pub name: String,
    pub client: WebhookClient,
    /// Portal's own namespace, never sent to the webhook.
    pub portal_namespace: String,
    /// `Fail` or `Ignore`, for namespaced objects.
    pub failure_policy: String,
    /// `Fail` or `Ignore`, for cluster-scoped objects.
    pub cluster_failure_policy: String,
    /// The caBundle, base64 of PEM; empty for `init-certs` or cert-manager to fill.
    pub ca_bundle: String,
}

/// The rendered configuration and what could not be registered.
#[derive(Debug, Clone)]
pub struct Registration {
    pub configuration: ValidatingWebhookConfiguration,
    /// Rules that target kinds the webhook never intercepts: they run in audit only.
    pub warnings: Vec<String>,
}

/// Why the configuration could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("failurePolicy must be Fail or Ignore, not {0:?}")]
    FailurePolicy(String),
    #[error("the rendered configuration is not a valid ValidatingWebhookConfiguration (a bug in Portal)")]
    Shape(#[source] serde_json::Error),
}

/// What the webhooks register: (group, version, scope) → operations and resources.
type Registrations = BTreeMap<(String, String, Scope), (BTreeSet<&'static str>, BTreeSet<String>)>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Scope {
    Namespaced,
    Cluster,
}

/// Renders the configuration for the enabled admission rules of `rules`.
pub fn render(rules: &RuleSet, options: &RegistrationOptions) -> Result<Registration, Error> {
    for policy in [&options.failure_policy, &options.cluster_failure_policy] {
        if policy != "Fail" && policy != "Ignore" {
            return Err(Error::FailurePolicy(policy.clone()));
        }
    }
    let mut registrations = Registrations::new();
    let mut warnings = Vec::new();
    for rule in rules.rules() {
        let spec = rule.spec();
        if !spec.enabled || !spec.mode.contains(&Mode::Admission) {
            continue;
        }
        let operations: BTreeSet<&'static str> = spec
            .match_spec
            .operations
            .as_deref()
            .unwrap_or(&[Operation::Create, Operation::Update])
            .iter()
            .map(|operation| match operation {
                Operation::Create => "CREATE",
                Operation::Update => "UPDATE",
                Operation::Delete => "DELETE",
                Operation::Connect => "CONNECT",
            })
            .collect();
        for gvk in &spec.match_spec.gvk {
            let resource = if gvk.kind == "*" { "*".to_owned() } else { resource_of(&gvk.kind) };
            if gvk.group != "*" && portal_rules::kinds::is_protected(&gvk.group, &resource) {
                warnings.push(format!(
                    "rule {} matches {}/{}, which the webhook never intercepts (the cluster must be able to \
                     heal itself while Portal is down); it runs in audit only",
                    rule.name(),
                    if gvk.group.is_empty() { "core" } else { &gvk.group },
                    gvk.kind
                ));
                continue;
            }
            let mut resources = portal_rules::kinds::admission_resources(&gvk.group, &gvk.kind);
            if portal_rules::kinds::is_scalable(&gvk.group, &gvk.kind) {
                resources.push(format!("{resource}/scale"));
            }
            for subresource in &spec.match_spec.subresources {
                resources.push(format!("{resource}/{subresource}"));
            }
            let scopes: &[Scope] = if gvk.kind == "*" {
                &[Scope::Namespaced, Scope::Cluster]
            } else if is_cluster_scoped(&gvk.kind) {
                &[Scope::Cluster]
            } else {
                &[Scope::Namespaced]
            };
            for scope in scopes {
                let entry = registrations.entry((gvk.group.clone(), gvk.version.clone(), *scope)).or_default();
                entry.0.extend(operations.iter().copied());
                entry.1.extend(resources.iter().cloned());
            }
        }
    }
    let webhook = |scope: Scope| {
        let rules: Vec<Json> = registrations
            .iter()
            .filter(|((_, _, s), _)| *s == scope)
            .map(|((group, version, _), (operations, resources))| {
                json!({
                    "apiGroups": [group],
                    "apiVersions": [version],
                    "operations": operations,
                    "resources": resources,
                    "scope": match scope { Scope::Namespaced => "Namespaced", Scope::Cluster => "Cluster" },
                })
            })
            .collect();
        (!rules.is_empty()).then(|| webhook_json(options, scope, rules))
    };
    let webhooks: Vec<Json> = [webhook(Scope::Namespaced), webhook(Scope::Cluster)].into_iter().flatten().collect();
    let configuration = json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": options.name, "labels": {"app.kubernetes.io/name": "portal"}},
        "webhooks": webhooks,
    });
    let configuration = serde_json::from_value(configuration).map_err(Error::Shape)?;
    Ok(Registration { configuration, warnings })
}

/// The first line of every rendered file.
pub const HEADER: &str =
    "# Rendered by `portal webhook-config` from the admission rules; render it again when they change.\n";

/// The configuration as a YAML document, with [`HEADER`].
pub fn to_yaml(configuration: &ValidatingWebhookConfiguration) -> Result<String, serde_saphyr::ser_error::Error> {
    Ok(format!("{HEADER}{}", serde_saphyr::to_string(configuration)?))
}

fn webhook_json(options: &RegistrationOptions, scope: Scope, rules: Vec<Json>) -> Json {
    let client = match &options.client {
        WebhookClient::Service { namespace, name } => {
            json!({"service": {"namespace": namespace, "name": name, "path": "/validate", "port": 443}})
        }
        WebhookClient::Url(url) => json!({"url": url}),
    };
    let mut client = client;
    if !options.ca_bundle.is_empty() {
        client["caBundle"] = json!(options.ca_bundle);
    }
    let mut excluded: Vec<&str> = SYSTEM_NAMESPACES.to_vec();
    excluded.push(&options.portal_namespace);
    let mut namespace_selector =
        vec![json!({"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": excluded})];
    let (name, failure_policy) = match scope {
        Scope::Namespaced => {
            // Labelling a namespace takes `patch` on namespaces, a cluster-level permission; an
            // objectSelector would let whoever writes an object switch Portal off for it.
            namespace_selector
                .push(json!({"key": BREAK_GLASS_LABEL, "operator": "NotIn", "values": [BREAK_GLASS_VALUE]}));
            ("namespaced.validate.portal.io", &options.failure_policy)
        }
        // For a Namespace object the selector reads its own labels, which whoever creates it
        // chooses: no break-glass label here (this webhook fails open by default anyway).
        Scope::Cluster => ("cluster.validate.portal.io", &options.cluster_failure_policy),
    };
    json!({
        "name": name,
        "admissionReviewVersions": ["v1"],
        // Response actions may act on a violation, never for a dry-run request (decide skips those).
        "sideEffects": "NoneOnDryRun",
        "failurePolicy": failure_policy,
        "timeoutSeconds": 3,
        "matchPolicy": "Equivalent",
        "clientConfig": client,
        "namespaceSelector": {"matchExpressions": namespace_selector},
        "matchConditions": [{"name": "not-control-plane-or-portal-resources", "expression": portal_rules::kinds::protected_condition()}],
        "rules": rules,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn options() -> RegistrationOptions {
        RegistrationOptions {
            name: "portal".into(),
            client: WebhookClient::Service { namespace: "portal-system".into(), name: "portal-webhook".into() },
            portal_namespace: "portal-system".into(),
            failure_policy: "Fail".into(),
            cluster_failure_policy: "Ignore".into(),
            ca_bundle: String::new(),
        }
    }

    fn render_yaml(rules: &str) -> (Json, Vec<String>) {
        let (loaded, errors) = portal_rules::load_rules("t", rules);
        assert!(errors.is_empty(), "{errors:?}");
        let (set, errors) = RuleSet::compile(loaded);
        assert!(errors.is_empty(), "{errors:?}");
        let registration = render(&set, &options()).unwrap();
        (serde_json::to_value(&registration.configuration).unwrap(), registration.warnings)
    }

    #[test]
    fn only_what_the_rules_target_is_registered_with_the_subresources_they_need() {
        let (config, warnings) = render_yaml(
            "name: a\nmatch: {gvk: [{group: '', kind: Pod}, {group: apps, kind: Deployment}]}\nrule: 'false'\n---\n\
             name: b\nmatch: {gvk: [{group: '', kind: Pod}], subresources: [status], operations: [DELETE]}\nrule: 'false'\n---\n\
             name: audit-only\nmode: [audit]\nmatch: {gvk: [{group: batch, kind: Job}]}\nrule: 'false'\n",
        );
        assert!(warnings.is_empty(), "{warnings:?}");
        let webhooks = config["webhooks"].as_array().unwrap();
        assert_eq!(webhooks.len(), 1, "no cluster-scoped kind, no cluster webhook: {config}");
        let webhook = &webhooks[0];
        assert_eq!(webhook["name"], "namespaced.validate.portal.io");
        assert_eq!(webhook["failurePolicy"], "Fail");
        assert_eq!(
            webhook["rules"],
            json!([
                {"apiGroups": [""], "apiVersions": ["*"], "operations": ["CREATE", "DELETE", "UPDATE"],
                 "resources": ["pods", "pods/ephemeralcontainers", "pods/status"], "scope": "Namespaced"},
                {"apiGroups": ["apps"], "apiVersions": ["*"], "operations": ["CREATE", "UPDATE"],
                 "resources": ["deployments", "deployments/scale"], "scope": "Namespaced"},
            ])
        );
        let excluded = &webhook["namespaceSelector"]["matchExpressions"][0]["values"];
        assert_eq!(excluded, &json!(["kube-system", "kube-public", "kube-node-lease", "portal-system"]));
        assert_eq!(webhook["namespaceSelector"]["matchExpressions"][1]["key"], BREAK_GLASS_LABEL);
        assert!(webhook.get("objectSelector").is_none(), "an object's own labels never switch Portal off");
    }

    #[test]
    fn cluster_scoped_kinds_get_their_own_webhook_and_protected_kinds_none() {
        let (config, warnings) = render_yaml(
            "name: ns\nmatch: {gvk: [{group: '', kind: Namespace}, {group: '', kind: Node}, \
             {group: coordination.k8s.io, kind: Lease}]}\nrule: 'false'\n",
        );
        let webhooks = config["webhooks"].as_array().unwrap();
        assert_eq!(webhooks.len(), 1, "{config}");
        assert_eq!(webhooks[0]["name"], "cluster.validate.portal.io");
        assert_eq!(webhooks[0]["failurePolicy"], "Ignore");
        assert_eq!(webhooks[0]["rules"][0]["resources"], json!(["namespaces"]));
        assert_eq!(webhooks[0]["rules"][0]["scope"], "Cluster");
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("rule ns matches core/Node"), "{warnings:?}");
    }

    #[test]
    fn wildcards_cover_both_scopes_and_keep_the_protected_resources_out() {
        let (config, _) = render_yaml("name: all\nmatch: {gvk: [{group: '*', kind: '*'}]}\nrule: 'false'\n");
        let webhooks = config["webhooks"].as_array().unwrap();
        assert_eq!(webhooks.len(), 2);
        assert_eq!(webhooks[0]["rules"][0]["resources"], json!(["*", "*/ephemeralcontainers", "*/scale"]));
        let condition = webhooks[0]["matchConditions"][0]["expression"].as_str().unwrap();
        assert!(condition.contains("request.resource.group == 'coordination.k8s.io'"), "{condition}");
        assert!(condition.starts_with("!("), "{condition}");
    }

    #[test]
    fn a_bad_failure_policy_is_an_error() {
        let (set, _) = RuleSet::compile(Vec::new());
        let options = RegistrationOptions { failure_policy: "Sometimes".into(), ..options() };
        assert!(matches!(render(&set, &options), Err(Error::FailurePolicy(_))));
    }
}
