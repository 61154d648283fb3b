//! Portal's pod sugar (SPEC §3.2): `spec`, `securityContext`, `podMetadata` and the normalised
//! `containers`, built from the pod spec converted once. Every field the sugar promises is
//! present; an absent value is `null` (lists: `[]`). Values are shared with the converted pod
//! spec, not converted again.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use cel::common::types::{CelList, CelMap, CelMapKey, CelString};
use cel::common::value::Val;
use serde_json::Value as Json;

use crate::image::ImageRef;
use crate::shared::Shared;
use crate::value::{self, BoxedVal};

/// A field that must be present, and the value it takes when absent.
type RequiredField<'a> = (&'static str, fn() -> BoxedVal<'a>);

const CONTAINER_FIELDS: [(&str, &str); 3] =
    [("containers", "standard"), ("initContainers", "init"), ("ephemeralContainers", "ephemeral")];

fn empty_list<'a>() -> BoxedVal<'a> {
    value::list(Vec::new())
}

fn empty_map<'a>() -> BoxedVal<'a> {
    value::map(Vec::new())
}

fn as_map<'s, 'a>(val: &'s (dyn Val + 'a)) -> Option<&'s CelMap<'a>> {
    val.downcast_ref::<CelMap>()
}

fn is_null(val: &dyn Val) -> bool {
    val.get_type().name() == "null_type"
}

/// A converted map's field, when present and not null.
fn field<'s, 'a>(map: Option<&'s CelMap<'a>>, key: &'static str) -> Option<&'s (dyn Val + 'a)> {
    map?.get(&CelMapKey::from(key)).map(|v| &**v).filter(|v| !is_null(*v))
}

fn field_or<'a>(map: Option<&CelMap<'a>>, key: &'static str, default: fn() -> BoxedVal<'a>) -> BoxedVal<'a> {
    field(map, key).map_or_else(default, |v| v.clone_as_boxed())
}

/// The map's own fields (shared, not copied) with `required` fields added when absent.
fn map_with_defaults<'a>(map: Option<&CelMap<'a>>, required: &[RequiredField<'a>]) -> BoxedVal<'a> {
    // Sized once for both, so adding the defaults never rehashes what was copied.
    let mut fields: HashMap<CelMapKey<'a>, BoxedVal<'a>> =
        HashMap::with_capacity(map.map_or(0, |m| m.len()) + required.len());
    if let Some(map) = map {
        fields.extend(map.iter().map(|(key, value)| (key.clone(), value.clone_as_boxed())));
    }
    for (key, default) in required {
        match fields.entry(CelMapKey::from(*key)) {
            Entry::Occupied(mut present) if is_null(&**present.get()) => *present.get_mut() = default(),
            Entry::Occupied(_) => {}
            Entry::Vacant(absent) => {
                absent.insert(default());
            }
        }
    }
    Box::new(Shared::new(CelMap::from(fields)))
}

/// `podMetadata`: labels and annotations always maps.
pub(crate) fn pod_metadata(metadata: Option<&Json>) -> BoxedVal<'_> {
    let converted = metadata.map(value::to_val);
    map_with_defaults(
        converted.as_deref().and_then(as_map),
        &[("name", value::null), ("namespace", value::null), ("labels", empty_map), ("annotations", empty_map)],
    )
}

/// `spec`: the pod spec with the host namespaces, service account and `volumes` always present.
pub(crate) fn pod_spec<'a>(raw_spec: &(dyn Val + 'a)) -> BoxedVal<'a> {
    map_with_defaults(
        as_map(raw_spec),
        &[
            ("hostPID", value::null),
            ("hostNetwork", value::null),
            ("hostIPC", value::null),
            ("hostUsers", value::null),
            ("serviceAccountName", value::null),
            ("automountServiceAccountToken", value::null),
            ("os", value::null),
            ("volumes", empty_list),
        ],
    )
}

/// `securityContext`: the pod-level security context with every field present.
pub(crate) fn pod_security_context<'a>(raw_spec: &(dyn Val + 'a)) -> BoxedVal<'a> {
    map_with_defaults(
        field(as_map(raw_spec), "securityContext").and_then(as_map),
        &[
            ("runAsUser", value::null),
            ("runAsGroup", value::null),
            ("runAsNonRoot", value::null),
            ("fsGroup", value::null),
            ("seccompProfile", value::null),
            ("appArmorProfile", value::null),
            ("seLinuxOptions", value::null),
            ("windowsOptions", value::null),
            ("supplementalGroups", value::null),
            ("sysctls", empty_list),
        ],
    )
}

/// Every container (standard, init, ephemeral) with its type, in that order.
fn all_containers(spec: &Json) -> impl Iterator<Item = (&Json, &'static str)> {
    CONTAINER_FIELDS.into_iter().flat_map(move |(field, container_type)| {
        spec.get(field).and_then(Json::as_array).into_iter().flatten().map(move |item| (item, container_type))
    })
}

/// The containers' names, in the order of [`normalised_containers`].
pub(crate) fn container_names(spec: &Json) -> Vec<Option<String>> {
    all_containers(spec).map(|(item, _)| item.get("name").and_then(Json::as_str).map(str::to_owned)).collect()
}

/// Every container in the normalised shape.
pub(crate) fn normalised_containers<'a>(raw_spec: &(dyn Val + 'a)) -> CelList<'a> {
    let spec = as_map(raw_spec);
    let mut containers = Vec::new();
    for (key, container_type) in CONTAINER_FIELDS {
        let Some(list) = field(spec, key).and_then(|v| v.downcast_ref::<CelList>()) else { continue };
        for item in list.inner() {
            containers.push(normalised_container(as_map(&**item), container_type));
        }
    }
    CelList::from(containers)
}

fn normalised_container<'a>(container: Option<&CelMap<'a>>, container_type: &'static str) -> BoxedVal<'a> {
    let value = |key| field_or(container, key, value::null);
    let list = |key| field_or(container, key, empty_list);
    let image = field(container, "image").and_then(|v| v.downcast_ref::<CelString>()).map(CelString::inner);
    value::map(vec![
        ("name", value("name")),
        ("containerType", value::str_val(container_type)),
        ("image", value("image")),
        ("imageRef", image_ref(image)),
        ("command", value("command")),
        ("args", value("args")),
        ("ports", list("ports")),
        ("env", list("env")),
        ("envFrom", list("envFrom")),
        ("volumeMounts", list("volumeMounts")),
        ("resources", value("resources")),
        ("imagePullPolicy", value("imagePullPolicy")),
        ("livenessProbe", value("livenessProbe")),
        ("readinessProbe", value("readinessProbe")),
        ("startupProbe", value("startupProbe")),
        ("lifecycle", value("lifecycle")),
        ("securityContext", container_security_context(field(container, "securityContext").and_then(as_map))),
    ])
}

fn container_security_context<'a>(context: Option<&CelMap<'a>>) -> BoxedVal<'a> {
    let value = |key| field_or(context, key, value::null);
    let capabilities = field(context, "capabilities").and_then(as_map);
    let capability_list = |key| match field(capabilities, key) {
        Some(list) if list.downcast_ref::<CelList>().is_some() => list.clone_as_boxed(),
        _ => empty_list(),
    };
    value::map(vec![
        ("privileged", value("privileged")),
        ("allowPrivilegeEscalation", value("allowPrivilegeEscalation")),
        ("readOnlyRootFilesystem", value("readOnlyRootFilesystem")),
        ("runAsUser", value("runAsUser")),
        ("runAsGroup", value("runAsGroup")),
        ("runAsNonRoot", value("runAsNonRoot")),
        ("procMount", value("procMount")),
        ("seccompProfile", value("seccompProfile")),
        ("appArmorProfile", value("appArmorProfile")),
        ("seLinuxOptions", value("seLinuxOptions")),
        ("windowsOptions", value("windowsOptions")),
        ("capabilities", value::map(vec![("add", capability_list("add")), ("drop", capability_list("drop"))])),
    ])
}

fn image_ref<'a>(image: Option<&str>) -> BoxedVal<'a> {
    let text = |s: Option<String>| s.map_or_else(value::null, value::string);
    match image.and_then(|image| ImageRef::parse(image).ok()) {
        Some(r) => value::map(vec![
            ("registry", value::string(r.registry)),
            ("repository", value::string(r.repository)),
            ("tag", text(r.tag)),
            ("digest", text(r.digest)),
        ]),
        None => value::map(vec![
            ("registry", value::null()),
            ("repository", value::null()),
            ("tag", value::null()),
            ("digest", value::null()),
        ]),
    }
}
