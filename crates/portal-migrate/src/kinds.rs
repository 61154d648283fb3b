//! The API group of the kinds other engines name without one.

/// (kind, group) of the built-in kinds policies commonly name by kind alone.
const GROUPS: &[(&str, &str)] = &[
    ("Pod", ""),
    ("Service", ""),
    ("ConfigMap", ""),
    ("Secret", ""),
    ("ServiceAccount", ""),
    ("Namespace", ""),
    ("Node", ""),
    ("PersistentVolume", ""),
    ("PersistentVolumeClaim", ""),
    ("ReplicationController", ""),
    ("LimitRange", ""),
    ("ResourceQuota", ""),
    ("Deployment", "apps"),
    ("ReplicaSet", "apps"),
    ("StatefulSet", "apps"),
    ("DaemonSet", "apps"),
    ("Job", "batch"),
    ("CronJob", "batch"),
    ("Ingress", "networking.k8s.io"),
    ("IngressClass", "networking.k8s.io"),
    ("NetworkPolicy", "networking.k8s.io"),
    ("Role", "rbac.authorization.k8s.io"),
    ("RoleBinding", "rbac.authorization.k8s.io"),
    ("ClusterRole", "rbac.authorization.k8s.io"),
    ("ClusterRoleBinding", "rbac.authorization.k8s.io"),
    ("PodDisruptionBudget", "policy"),
    ("HorizontalPodAutoscaler", "autoscaling"),
    ("StorageClass", "storage.k8s.io"),
    ("CustomResourceDefinition", "apiextensions.k8s.io"),
];

/// The workload kinds whose pod template Kyverno's auto-generated rules (and Portal's `spec`
/// sugar) cover, with their groups.
pub const POD_CONTROLLERS: &[(&str, &str)] = &[
    ("apps", "Deployment"),
    ("apps", "ReplicaSet"),
    ("apps", "StatefulSet"),
    ("apps", "DaemonSet"),
    ("batch", "Job"),
    ("batch", "CronJob"),
    ("", "ReplicationController"),
];

/// The group of a built-in kind named alone.
pub fn group_of(kind: &str) -> Option<&'static str> {
    GROUPS.iter().find(|(known, _)| *known == kind).map(|(_, group)| *group)
}
