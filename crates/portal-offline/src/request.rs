//! The admission request offline objects are evaluated as: a CREATE by default; a test suite can
//! ask for another operation, user, dry run, and the previous versions of its resources.

use std::collections::HashMap;
use std::path::PathBuf;

use portal_files::{ManifestFiles, ManifestItem, Problem};
use portal_rules::{ObjectIdentity, Operation};
use serde::Deserialize;
use serde_json::{Value as Json, json};

/// `request:` of a test suite.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RequestSpec {
    /// `CREATE` (the default), `UPDATE`, `DELETE` or `CONNECT`.
    #[serde(default = "create")]
    pub operation: Operation,
    /// `request.userInfo`: `username`, `uid`, `groups`, `extra`.
    #[serde(default)]
    pub user_info: Option<Json>,
    /// `request.dryRun`.
    #[serde(default)]
    pub dry_run: bool,
    /// The previous version of each resource (`oldObject`), matched by kind, namespace and name;
    /// relative to the test file. Required for UPDATE; on DELETE the resource itself is the
    /// object being deleted.
    #[serde(default)]
    pub old_resources: Vec<PathBuf>,
}

fn create() -> Operation {
    Operation::Create
}

/// The request objects are evaluated as, ready to use.
#[derive(Debug, Clone)]
pub struct AdmissionRequest {
    pub operation: Operation,
    pub user_info: Json,
    pub dry_run: bool,
    /// Previous versions by `Kind/namespace/name` (the `RESOURCE` column's form).
    pub old_objects: HashMap<String, Json>,
}

impl Default for AdmissionRequest {
    /// What `portal check` uses: a CREATE by an anonymous user.
    fn default() -> AdmissionRequest {
        AdmissionRequest {
            operation: Operation::Create,
            user_info: json!({"username": "", "groups": []}),
            dry_run: false,
            old_objects: HashMap::new(),
        }
    }
}

impl AdmissionRequest {
    /// `spec` with its old resources read (relative paths already resolved), and what could
    /// not be read.
    pub fn from_spec(
        spec: &RequestSpec,
        old_resources: &[PathBuf],
        namespace: &str,
    ) -> (AdmissionRequest, Vec<Problem>) {
        let mut problems = Vec::new();
        let mut old_objects = HashMap::new();
        if !old_resources.is_empty() {
            let files = ManifestFiles::read(old_resources);
            let documents = files.documents();
            let mut take = |item| match item {
                ManifestItem::Object(manifest) => {
                    old_objects.insert(ObjectIdentity::of(&manifest.object).display_name(), manifest.object);
                }
                ManifestItem::Skipped(problem) | ManifestItem::Error(problem) => problems.push(problem),
            };
            documents.problems().for_each(&mut take);
            for unit in documents.units() {
                unit.expand(namespace, &mut take);
            }
        }
        let request = AdmissionRequest {
            operation: spec.operation,
            user_info: spec.user_info.clone().unwrap_or_else(|| AdmissionRequest::default().user_info),
            dry_run: spec.dry_run,
            old_objects,
        };
        (request, problems)
    }

    /// `request` as the webhook binds it for `identity` (without the objects).
    pub fn to_json(&self, identity: &ObjectIdentity) -> Json {
        json!({
            "operation": self.operation.to_string(),
            "userInfo": self.user_info,
            "dryRun": self.dry_run,
            "namespace": identity.namespace,
            "name": identity.name,
            "kind": {"group": identity.group, "version": identity.version, "kind": identity.kind},
        })
    }
}
