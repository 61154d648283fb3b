//! The evaluation context of one object: the CEL variables of SPEC §3.2, built once per object
//! and shared by every rule evaluated on it.

use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use cel::common::traits::Indexer;
use cel::common::types::{CelList, CelMap, CelString};
use cel::common::value::{CowVal, Val};
use cel::context::VariableResolver;
use serde_json::Value as Json;

use crate::cluster::view::ClusterView;
use crate::schema::Operation;
use crate::sugar;
use crate::value::{self, BoxedVal};

/// What one evaluation is about: the object under review and what surrounds it.
#[derive(Debug, Clone, Copy, Default)]
pub struct EvaluationInput<'a> {
    /// The object; `None` for a DELETE admission.
    pub object: Option<&'a Json>,
    /// The previous version on UPDATE and DELETE admission.
    pub old_object: Option<&'a Json>,
    /// The admission request (without the objects), when evaluating an admission.
    pub request: Option<&'a Json>,
    /// The Namespace of a namespaced object, when known.
    pub namespace_object: Option<&'a Json>,
    /// The admission operation; `None` outside admission (audit), where `match.operations` is ignored.
    pub operation: Option<Operation>,
    /// What `cluster.get` and `cluster.list` read; `None`: lookups fail, saying so.
    pub cluster: Option<&'a Arc<dyn ClusterView>>,
}

/// Group, version, kind, namespace, name and uid of the object under review.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectIdentity {
    /// The API group; empty for the core group (`apiVersion: v1`).
    pub group: String,
    /// The API version within the group, e.g. `v1`.
    pub version: String,
    /// The kind, e.g. `Pod`; empty when the object has none.
    pub kind: String,
    /// `metadata.namespace`; `None` when it is missing or empty (cluster-scoped objects).
    pub namespace: Option<String>,
    /// `metadata.name`, or else `metadata.generateName`; `None` when it has neither.
    pub name: Option<String>,
    /// `metadata.uid`; `None` when it has none (e.g. a manifest checked offline).
    pub uid: Option<String>,
}

impl ObjectIdentity {
    /// Reads the identity from an object's `apiVersion`, `kind` and `metadata`.
    pub fn of(object: &Json) -> ObjectIdentity {
        let text = |value: Option<&Json>| value.and_then(Json::as_str).map(str::to_owned);
        let api_version = object.get("apiVersion").and_then(Json::as_str).unwrap_or_default();
        let (group, version) = match api_version.split_once('/') {
            Some((group, version)) => (group.to_owned(), version.to_owned()),
            None => (String::new(), api_version.to_owned()),
        };
        let metadata = object.get("metadata");
        ObjectIdentity {
            group,
            version,
            kind: text(object.get("kind")).unwrap_or_default(),
            namespace: text(metadata.and_then(|m| m.get("namespace"))).filter(|ns| !ns.is_empty()),
            name: text(metadata.and_then(|m| m.get("name")))
                .or_else(|| text(metadata.and_then(|m| m.get("generateName")))),
            uid: text(metadata.and_then(|m| m.get("uid"))),
        }
    }

    /// `Kind/namespace/name`, or `Kind/name` without a namespace.
    pub fn display_name(&self) -> String {
        let name = self.name.as_deref().unwrap_or("<unnamed>");
        match &self.namespace {
            Some(namespace) => format!("{}/{namespace}/{name}", self.kind),
            None => format!("{}/{name}", self.kind),
        }
    }
}

/// The CEL variables for one object. Building it is the per-object cost; evaluating a rule
/// against it only borrows.
pub struct Activation<'a> {
    pub(crate) input: EvaluationInput<'a>,
    pub(crate) identity: ObjectIdentity,
    variables: Variables<'a>,
    container_names: Vec<Option<String>>,
    /// Set by [`Activation::at`]; `None`: the system clock.
    time: Option<SystemTime>,
}

impl std::fmt::Debug for Activation<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Activation")
            .field("identity", &self.identity)
            .field("containers", &self.container_names)
            .finish_non_exhaustive()
    }
}

/// The variables, each built on first use: rules that never read `object` never pay for
/// converting it.
struct Variables<'a> {
    input: EvaluationInput<'a>,
    /// The object the sugar describes: the object, or on DELETE the old object.
    subject: Option<&'a Json>,
    pod: Option<PodParts<'a>>,
    object: OnceLock<BoxedVal<'a>>,
    old_object: OnceLock<BoxedVal<'a>>,
    request: OnceLock<BoxedVal<'a>>,
    namespace_object: OnceLock<BoxedVal<'a>>,
    metadata: OnceLock<BoxedVal<'a>>,
    pod_metadata: OnceLock<BoxedVal<'a>>,
    spec: OnceLock<BoxedVal<'a>>,
    security_context: OnceLock<BoxedVal<'a>>,
    containers: OnceLock<CelList<'a>>,
    /// The pod spec converted as-is, once: the sugar shares its values.
    pod_spec: OnceLock<BoxedVal<'a>>,
}

fn optional(json: Option<&Json>) -> BoxedVal<'_> {
    json.map_or_else(value::null, value::to_val)
}

impl<'a> Variables<'a> {
    fn get(&self, variable: &str) -> Option<&(dyn Val + 'a)> {
        let found: &BoxedVal<'a> = match variable {
            "object" => self.object.get_or_init(|| optional(self.input.object)),
            "oldObject" => self.old_object.get_or_init(|| optional(self.input.old_object)),
            "request" => self.request.get_or_init(|| optional(self.input.request)),
            "namespaceObject" => self.namespace_object.get_or_init(|| optional(self.input.namespace_object)),
            "metadata" => self.metadata.get_or_init(|| optional(self.subject.and_then(|o| o.get("metadata")))),
            "podMetadata" => self
                .pod_metadata
                .get_or_init(|| self.pod.as_ref().map_or_else(value::null, |pod| sugar::pod_metadata(pod.metadata))),
            "spec" => self.spec.get_or_init(|| self.raw_pod_spec().map_or_else(value::null, sugar::pod_spec)),
            "securityContext" => self
                .security_context
                .get_or_init(|| self.raw_pod_spec().map_or_else(value::null, sugar::pod_security_context)),
            "containers" => return Some(self.containers()),
            _ => return None,
        };
        Some(&**found)
    }

    fn containers(&self) -> &CelList<'a> {
        self.containers.get_or_init(|| match self.raw_pod_spec() {
            Some(spec) => sugar::normalised_containers(spec),
            None => CelList::from(Vec::new()),
        })
    }

    fn raw_pod_spec(&self) -> Option<&(dyn Val + 'a)> {
        let pod = self.pod.as_ref()?;
        Some(&**self.pod_spec.get_or_init(|| value::to_val(pod.spec)))
    }
}

impl<'a> Activation<'a> {
    /// Prepares the variables for `input`; each is converted on first use.
    pub fn new(input: EvaluationInput<'a>) -> Activation<'a> {
        // On DELETE the object is gone: the sugar describes the object being deleted.
        let subject = input.object.or(input.old_object);
        let identity = subject.map(ObjectIdentity::of).unwrap_or_default();
        let pod = subject.and_then(|object| pod_parts(&identity, object));
        let container_names = pod.as_ref().map(|pod| sugar::container_names(pod.spec)).unwrap_or_default();
        Activation {
            variables: Variables {
                input,
                subject,
                pod,
                object: OnceLock::new(),
                old_object: OnceLock::new(),
                request: OnceLock::new(),
                namespace_object: OnceLock::new(),
                metadata: OnceLock::new(),
                pod_metadata: OnceLock::new(),
                spec: OnceLock::new(),
                security_context: OnceLock::new(),
                containers: OnceLock::new(),
                pod_spec: OnceLock::new(),
            },
            input,
            identity,
            container_names,
            time: None,
        }
    }

    /// Evaluates as of `time`, not the system clock: the violations' timestamps and whether an
    /// exception's validity window is open. For reproducible results (tests, replays), and on
    /// `wasm32-unknown-unknown`, which has no clock.
    pub fn at(mut self, time: SystemTime) -> Activation<'a> {
        self.time = Some(time);
        self
    }

    /// The time the evaluation is as of: the one given to [`Activation::at`], else the system
    /// clock. On `wasm32-unknown-unknown`, which has no clock, and without [`Activation::at`]:
    /// the Unix epoch for violations' timestamps, and an exception that expires never applies
    /// (it cannot be shown to be still in force).
    pub fn time(&self) -> SystemTime {
        self.known_time().unwrap_or(SystemTime::UNIX_EPOCH)
    }

    /// The time the evaluation is as of, when there is one: given, or read from a clock.
    pub(crate) fn known_time(&self) -> Option<SystemTime> {
        self.time.or_else(system_clock)
    }

    /// Converts every variable now instead of on first use, e.g. to measure the full cost of
    /// the context, or to keep that cost out of a latency-sensitive section.
    pub fn build_all(&self) {
        for variable in VARIABLES {
            let _ = self.variables.get(variable);
        }
        let _ = self.variables.containers();
    }

    /// The object's identity.
    pub fn identity(&self) -> &ObjectIdentity {
        &self.identity
    }

    /// How many containers the pod sugar found (0 for kinds without a pod spec).
    pub fn container_count(&self) -> usize {
        self.container_names.len()
    }

    /// The containers' names, in evaluation order (standard, init, ephemeral).
    pub fn container_names(&self) -> impl Iterator<Item = &str> {
        self.container_names.iter().map(|name| name.as_deref().unwrap_or_default())
    }

    pub(crate) fn container_name(&self, index: usize) -> Option<&str> {
        self.container_names.get(index).and_then(Option::as_deref)
    }

    /// The variables, with `container` bound to the container at `container` when given.
    pub(crate) fn bindings(&self, container: Option<usize>) -> Bindings<'_, 'a> {
        Bindings { variables: &self.variables, container }
    }
}

/// Resolves the rule variables against an [`Activation`], without copying them.
pub(crate) struct Bindings<'s, 'a> {
    variables: &'s Variables<'a>,
    container: Option<usize>,
}

impl VariableResolver for Bindings<'_, '_> {
    /// The interpreter asks for a select chain `a.b.c` as a whole name first, then `a.b`, then
    /// `a`, selecting what is left on the value found. Answering the whole name here, by selecting
    /// the fields from the variable directly, gives the same value without the interpreter's
    /// repeated lookups; any field that is missing or not in a map leaves the chain to the
    /// interpreter, which reports it as before.
    fn resolve<'b>(&'b self, name: &str) -> Option<CowVal<'b, 'b>> {
        let mut segments = name.split('.');
        let variable = segments.next()?;
        let mut found = match self.variable(variable)? {
            CowVal::Borrowed(found) => found,
            owned => return segments.next().is_none().then_some(owned),
        };
        for field in segments {
            // Only a map selects a field by its key; the interpreter handles anything else.
            let map = found.downcast_ref::<CelMap>()?;
            found = match Indexer::get(map, &CelString::from(field)).ok()? {
                CowVal::Borrowed(value) => value,
                CowVal::Owned(_) => return None,
            };
        }
        Some(CowVal::Borrowed(found))
    }
}

impl<'b> Bindings<'b, '_> {
    fn variable(&self, variable: &str) -> Option<CowVal<'b, 'b>> {
        if variable == "container" {
            return match self.container {
                Some(index) => self.variables.containers().inner().get(index).map(|c| CowVal::Borrowed(&**c)),
                None => Some(CowVal::Owned(value::null())),
            };
        }
        self.variables.get(variable).map(CowVal::Borrowed)
    }
}

/// The names every rule can read; anything else is an undeclared reference.
pub const VARIABLES: &[&str] = &[
    "object",
    "oldObject",
    "request",
    "namespaceObject",
    "metadata",
    "podMetadata",
    "spec",
    "securityContext",
    "containers",
    "container",
];

struct PodParts<'a> {
    metadata: Option<&'a Json>,
    spec: &'a Json,
}

/// Finds the pod spec and metadata of a Pod or of a kind with a pod template, at its usual path.
fn pod_parts<'a>(identity: &ObjectIdentity, object: &'a Json) -> Option<PodParts<'a>> {
    let template = match (identity.group.as_str(), identity.kind.as_str()) {
        ("", "Pod") => {
            return Some(PodParts {
                metadata: object.get("metadata"),
                spec: object.get("spec").filter(|s| s.is_object())?,
            });
        }
        ("", "PodTemplate") => object.get("template")?,
        ("", "ReplicationController")
        | ("apps" | "extensions", "Deployment" | "ReplicaSet" | "DaemonSet")
        | ("apps", "StatefulSet")
        | ("batch", "Job") => object.get("spec")?.get("template")?,
        ("batch", "CronJob") => object.get("spec")?.get("jobTemplate")?.get("spec")?.get("template")?,
        _ => return None,
    };
    Some(PodParts { metadata: template.get("metadata"), spec: template.get("spec").filter(|s| s.is_object())? })
}

/// The system clock; `None` on `wasm32-unknown-unknown`, which has none (`SystemTime::now`
/// panics there).
pub(crate) fn system_clock() -> Option<SystemTime> {
    if cfg!(all(target_family = "wasm", target_os = "unknown")) { None } else { Some(SystemTime::now()) }
}
