//! Portal's pod sugar rebuilt as ValidatingAdmissionPolicy `variables`, so that a rule reading
//! `containers`, `spec`, `securityContext`, `podMetadata` or `metadata` reads the same values
//! inside the API server. Mirrors `portal-rules`' `activation.rs` (where the pod template is) and
//! `sugar.rs` (the normalised shapes); a change there is a change here.

/// `(name, expression)` of the variables, in the order they must be declared (each may read the
/// ones before it). Every variable a translated expression reads is among them.
pub(crate) fn variables() -> Vec<(&'static str, String)> {
    vec![
        // The object the sugar describes: on DELETE, the old object.
        ("subject", "object != null ? object : oldObject".to_owned()),
        ("metadata", "variables.subject.?metadata.orValue(null)".to_owned()),
        // The API server leaves `apiVersion` and `kind` out of the objects it gives policies:
        // the request says what the object is.
        ("kindKey", "request.kind.group + '/' + request.kind.kind".to_owned()),
        // The pod template (metadata and spec) of a Pod or of a kind that has one, at its usual
        // path; null for other kinds. (A plain value: an optional one did not survive being a
        // variable in Kubernetes 1.37.)
        (
            "template",
            "variables.kindKey == '/Pod' ? variables.subject : \
             variables.kindKey == '/PodTemplate' ? variables.subject.?template.orValue(null) : \
             variables.kindKey in ['/ReplicationController', 'apps/Deployment', 'apps/ReplicaSet', 'apps/DaemonSet', \
             'apps/StatefulSet', 'extensions/Deployment', 'extensions/ReplicaSet', 'extensions/DaemonSet', 'batch/Job'] \
             ? variables.subject.?spec.?template.orValue(null) : \
             variables.kindKey == 'batch/CronJob' ? variables.subject.?spec.?jobTemplate.?spec.?template.orValue(null) : \
             null"
                .to_owned(),
        ),
        ("podSpec", "variables.template == null ? null : variables.template.?spec.orValue(null)".to_owned()),
        (
            "securityContext",
            "variables.podSpec == null ? null : variables.podSpec.?securityContext.orValue({})".to_owned(),
        ),
        ("podMetadata", "variables.template == null ? null : variables.template.?metadata.orValue({})".to_owned()),
        ("containers", containers()),
    ]
}

/// Fields of `spec`, `securityContext` and `podMetadata` that are always present, with the
/// value (CEL) they take when absent. Other fields are the object's own.
pub(crate) fn defaulted_fields(variable: &str) -> &'static [(&'static str, &'static str)] {
    match variable {
        "spec" => &[
            ("hostPID", "null"),
            ("hostNetwork", "null"),
            ("hostIPC", "null"),
            ("hostUsers", "null"),
            ("serviceAccountName", "null"),
            ("automountServiceAccountToken", "null"),
            ("os", "null"),
            ("volumes", "[]"),
        ],
        "securityContext" => &[
            ("runAsUser", "null"),
            ("runAsGroup", "null"),
            ("runAsNonRoot", "null"),
            ("fsGroup", "null"),
            ("seccompProfile", "null"),
            ("appArmorProfile", "null"),
            ("seLinuxOptions", "null"),
            ("windowsOptions", "null"),
            ("supplementalGroups", "null"),
            ("sysctls", "[]"),
        ],
        "podMetadata" => &[("name", "null"), ("namespace", "null"), ("labels", "{}"), ("annotations", "{}")],
        _ => &[],
    }
}

/// The map `spec`, `securityContext` or `podMetadata` is read from, in the API server.
pub(crate) fn source_map(variable: &str) -> Option<&'static str> {
    match variable {
        "spec" => Some("variables.podSpec"),
        "securityContext" => Some("variables.securityContext"),
        "podMetadata" => Some("variables.podMetadata"),
        _ => None,
    }
}

/// Container fields that are always present, and their value when absent; a normalised
/// container has exactly these (and `imageRef`, which is not rebuilt: rules that read it are not
/// exported).
const CONTAINER_FIELDS: [(&str, &str); 15] = [
    ("name", "null"),
    ("image", "null"),
    ("command", "null"),
    ("args", "null"),
    ("ports", "[]"),
    ("env", "[]"),
    ("envFrom", "[]"),
    ("volumeMounts", "[]"),
    ("resources", "null"),
    ("imagePullPolicy", "null"),
    ("livenessProbe", "null"),
    ("readinessProbe", "null"),
    ("startupProbe", "null"),
    ("lifecycle", "null"),
    ("securityContext", ""),
];

const SECURITY_CONTEXT_FIELDS: [&str; 11] = [
    "privileged",
    "allowPrivilegeEscalation",
    "readOnlyRootFilesystem",
    "runAsUser",
    "runAsGroup",
    "runAsNonRoot",
    "procMount",
    "seccompProfile",
    "appArmorProfile",
    "seLinuxOptions",
    "windowsOptions",
];

/// Every container — standard, init, ephemeral, in that order — in the normalised shape. Values
/// are `dyn`, so the map literals are homogeneous whatever the fields' types.
fn containers() -> String {
    let lists = [("containers", "standard"), ("initContainers", "init"), ("ephemeralContainers", "ephemeral")];
    let parts: Vec<String> = lists
        .iter()
        .map(|(field, container_type)| {
            format!(
                "(variables.podSpec == null ? [] : variables.podSpec.?{field}.orValue([]).map(c, {}))",
                normalised_container(container_type)
            )
        })
        .collect();
    parts.join(" + ")
}

fn normalised_container(container_type: &str) -> String {
    let mut entries = Vec::new();
    for (field, default) in CONTAINER_FIELDS {
        if field == "securityContext" {
            let context = SECURITY_CONTEXT_FIELDS
                .iter()
                .map(|field| format!("'{field}': dyn(c.?securityContext.?{field}.orValue(null))"))
                .chain(std::iter::once(
                    "'capabilities': dyn({'add': dyn(c.?securityContext.?capabilities.?add.orValue([])), \
                     'drop': dyn(c.?securityContext.?capabilities.?drop.orValue([]))})"
                        .to_owned(),
                ))
                .collect::<Vec<_>>()
                .join(", ");
            entries.push(format!("'securityContext': dyn({{{context}}})"));
        } else {
            entries.push(format!("'{field}': dyn(c.?{field}.orValue({default}))"));
        }
        if field == "name" {
            entries.push(format!("'containerType': dyn('{container_type}')"));
        }
    }
    format!("{{{}}}", entries.join(", "))
}
