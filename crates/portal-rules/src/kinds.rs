//! What Portal knows about Kubernetes kinds without asking an API server: which are
//! cluster-scoped, their resource names, and which have a `scale` subresource. Used where there
//! is no discovery: reading manifests offline and rendering the webhook configuration.

/// Kinds that live outside namespaces (built-in APIs, and Portal's and the policy working
/// group's cluster-scoped kinds). Every other kind is taken to be namespaced, as kubectl does.
pub const CLUSTER_SCOPED_KINDS: &[&str] = &[
    "APIService",
    "ClusterTrustBundle",
    "DeviceClass",
    "IPAddress",
    "ResourceSlice",
    "SelfSubjectAccessReview",
    "SelfSubjectReview",
    "SelfSubjectRulesReview",
    "ServiceCIDR",
    "StorageVersion",
    "StorageVersionMigration",
    "SubjectAccessReview",
    "TokenReview",
    "VolumeAttributesClass",
    "CSIDriver",
    "CSINode",
    "CertificateSigningRequest",
    "ClusterPolicyReport",
    "ClusterRole",
    "ClusterRoleBinding",
    "ComponentStatus",
    "CustomResourceDefinition",
    "FlowSchema",
    "IngressClass",
    "MutatingAdmissionPolicy",
    "MutatingAdmissionPolicyBinding",
    "MutatingWebhookConfiguration",
    "Namespace",
    "Node",
    "PersistentVolume",
    "PortalClusterRule",
    "PriorityClass",
    "PriorityLevelConfiguration",
    "RuntimeClass",
    "StorageClass",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "ValidatingWebhookConfiguration",
    "VolumeAttachment",
];

/// Whether objects of `kind` live outside namespaces (a kind Portal does not know is taken to be
/// namespaced, as kubectl does).
pub fn is_cluster_scoped(kind: &str) -> bool {
    CLUSTER_SCOPED_KINDS.contains(&kind)
}

/// Built-in kinds with a `scale` subresource, by (group, kind).
pub(crate) const SCALABLE_KINDS: &[(&str, &str)] =
    &[("apps", "Deployment"), ("apps", "ReplicaSet"), ("apps", "StatefulSet"), ("", "ReplicationController")];

/// The resource (plural) of `kind`, as Kubernetes guesses it when nothing says otherwise: lower
/// case, `-ies` for a final `y`, `-es` for a final `s`. Right for every built-in kind and most
/// custom ones; a custom resource with an irregular plural must be named by its resource.
pub fn resource_of(kind: &str) -> String {
    let lower = kind.to_ascii_lowercase();
    if lower == "endpoints" {
        return lower;
    }
    if let Some(stem) = lower.strip_suffix('y')
        && !stem.ends_with(['a', 'e', 'i', 'o', 'u'])
    {
        return format!("{stem}ies");
    }
    if lower.ends_with('s') || lower.ends_with("ch") || lower.ends_with("sh") || lower.ends_with('x') {
        return format!("{lower}es");
    }
    format!("{lower}s")
}

/// The objects of a namespace with this label and [`BREAK_GLASS_VALUE`] are never sent to
/// Portal: the API server's own namespaceSelector skips them.
pub const BREAK_GLASS_LABEL: &str = "portal.io/admission";
/// The value of [`BREAK_GLASS_LABEL`] that turns admission off.
pub const BREAK_GLASS_VALUE: &str = "disabled";
/// Namespaces admission never evaluates, besides Portal's own.
pub const SYSTEM_NAMESPACES: &[&str] = &["kube-system", "kube-public", "kube-node-lease"];
/// The namespace annotation that, set to `"true"`, lets every request of the namespace through
/// without evaluation.
pub const BYPASS_ANNOTATION: &str = "portal.io/bypass";

/// (API group, resource) pairs admission never intercepts, so that the cluster can heal itself
/// while Portal is down; `*` is every resource of the group.
pub const PROTECTED_RESOURCES: &[(&str, &str)] = &[
    ("", "nodes"),
    ("", "events"),
    ("events.k8s.io", "*"),
    ("coordination.k8s.io", "*"),
    ("authentication.k8s.io", "*"),
    ("authorization.k8s.io", "*"),
    ("admissionregistration.k8s.io", "*"),
    ("apiregistration.k8s.io", "*"),
    ("portal.io", "*"),
    ("wgpolicyk8s.io", "*"),
    ("openreports.io", "*"),
];

/// Whether admission never intercepts `resource` of `group`.
pub fn is_protected(group: &str, resource: &str) -> bool {
    PROTECTED_RESOURCES.iter().any(|(g, r)| *g == group && (*r == "*" || *r == resource))
}

/// The CEL `matchConditions` expression that keeps the protected resources out even of wildcard
/// rules: the API server evaluates it before calling Portal (or a policy mirroring a rule).
pub fn protected_condition() -> String {
    let clauses: Vec<String> = PROTECTED_RESOURCES
        .iter()
        .map(|(group, resource)| match *resource {
            "*" => format!("request.resource.group == '{group}'"),
            resource => format!("(request.resource.group == '{group}' && request.resource.resource == '{resource}')"),
        })
        .collect();
    format!("!({})", clauses.join(" || "))
}

/// The resources admission registers for the kind pattern `group`/`kind` of a rule: the kind's
/// resource (`*` for every kind) and, where the kind has it, `ephemeralcontainers`, a subresource
/// every rule is evaluated on. (`scale`, also evaluated, is the caller's: [`is_scalable`].)
pub fn admission_resources(group: &str, kind: &str) -> Vec<String> {
    let resource = if kind == "*" { "*".to_owned() } else { resource_of(kind) };
    let mut resources = vec![resource.clone()];
    if kind == "*" || (group.is_empty() || group == "*") && kind == "Pod" {
        resources.push(format!("{resource}/ephemeralcontainers"));
    }
    resources
}

/// Whether the kind pattern `group`/`kind` covers a kind with a `scale` subresource.
pub fn is_scalable(group: &str, kind: &str) -> bool {
    SCALABLE_KINDS.iter().any(|(g, k)| (group == "*" || group == *g) && (kind == "*" || kind == *k))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_follow_the_kubernetes_plurals() {
        let cases = [
            ("Pod", "pods"),
            ("Deployment", "deployments"),
            ("NetworkPolicy", "networkpolicies"),
            ("Ingress", "ingresses"),
            ("Endpoints", "endpoints"),
            ("Gateway", "gateways"),
            ("StorageClass", "storageclasses"),
            ("PortalClusterRule", "portalclusterrules"),
        ];
        for (kind, resource) in cases {
            assert_eq!(resource_of(kind), resource, "{kind}");
        }
        assert!(is_cluster_scoped("Namespace") && !is_cluster_scoped("Pod"));
    }
}
