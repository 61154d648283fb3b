//! PolicyReports of the audit: one per evaluated object, named after its UID and owned by it
//! (the garbage collector deletes a report with its object), written by server-side apply and
//! only when its content changed — the results without their timestamps. A restart over an
//! unchanged cluster writes nothing: what is already there is read first.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;

use kube::api::{DeleteParams, DynamicObject, ListParams, Patch};
use kube::discovery::ApiResource;
use kube::{Api, ResourceExt};
use portal_report::v1alpha2::{API_VERSION, GROUP, VERSION};
use portal_report::{MANAGED_BY_LABEL, Report, SOURCE};
use serde_json::Value as Json;

use super::apply::apply_params;

fn resource(namespaced: bool) -> ApiResource {
    let (kind, plural) =
        if namespaced { ("PolicyReport", "policyreports") } else { ("ClusterPolicyReport", "clusterpolicyreports") };
    ApiResource {
        group: GROUP.to_owned(),
        version: VERSION.to_owned(),
        api_version: API_VERSION.to_owned(),
        kind: kind.to_owned(),
        plural: plural.to_owned(),
    }
}

/// The name of the report on the object with this UID.
pub fn report_name(uid: &str) -> String {
    format!("portal-{uid}")
}

/// What a write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportWrite {
    Created,
    Updated,
    Unchanged,
    Deleted,
}

/// Why a report could not be written.
#[derive(Debug, thiserror::Error)]
#[error("writing the policy report {namespace}/{name}")]
pub struct ReportError {
    namespace: String,
    name: String,
    #[source]
    source: kube::Error,
}

/// Where a report lives: its namespace (none for a cluster report) and name.
type ReportKey = (Option<String>, String);

/// A report's content, hashed: 128 bits (two differently keyed hashes), so that remembering
/// what every report holds costs 16 bytes each rather than the report.
type Fingerprint = (u64, u64);

/// Writes reports, remembering what each holds so that unchanged ones are not written again.
pub struct ReportWriter {
    client: kube::Client,
    written: Mutex<HashMap<ReportKey, Fingerprint>>,
}

impl std::fmt::Debug for ReportWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReportWriter").finish_non_exhaustive()
    }
}

impl ReportWriter {
    pub fn new(client: kube::Client) -> ReportWriter {
        ReportWriter { client, written: Mutex::new(HashMap::new()) }
    }

    /// Reads the reports Portal wrote before, so that rewriting the same content is skipped.
    /// Returns how many were found.
    pub async fn load_existing(&self) -> Result<usize, kube::Error> {
        let selector = ListParams::default().labels(&format!("{MANAGED_BY_LABEL}={SOURCE}"));
        let mut found = HashMap::new();
        for namespaced in [true, false] {
            let api: Api<DynamicObject> = Api::all_with(self.client.clone(), &resource(namespaced));
            match api.list(&selector).await {
                Ok(list) => {
                    for report in list.items {
                        let key = (report.namespace(), report.name_any());
                        let whole = serde_json::to_value(&report).unwrap_or(Json::Null);
                        found.insert(key, fingerprint(&whole));
                    }
                }
                // No report CRD installed: nothing was written.
                Err(kube::Error::Api(status)) if status.code == 404 => {}
                Err(error) => return Err(error),
            }
        }
        let count = found.len();
        if let Ok(mut written) = self.written.lock() {
            *written = found;
        }
        Ok(count)
    }

    /// Writes `report` for the object `owner` unless it holds what was last written.
    pub async fn write(&self, report: &Report, owner: &Json) -> Result<ReportWrite, ReportError> {
        let mut body = serde_json::to_value(report).unwrap_or(Json::Null);
        let namespace = body.pointer("/metadata/namespace").and_then(Json::as_str).map(str::to_owned);
        let uid = owner.pointer("/metadata/uid").and_then(Json::as_str).unwrap_or_default();
        let name = report_name(uid);
        if let Some(metadata) = body.get_mut("metadata").and_then(Json::as_object_mut) {
            metadata.insert("name".to_owned(), Json::String(name.clone()));
            metadata.insert("ownerReferences".to_owned(), owner_references(owner));
        }
        let content = fingerprint(&body);
        let key = (namespace.clone(), name.clone());
        let before = self.written.lock().ok().and_then(|written| written.get(&key).copied());
        if before == Some(content) {
            return Ok(ReportWrite::Unchanged);
        }

        let api = self.api(namespace.as_deref());
        api.patch(&name, &apply_params(), &Patch::Apply(&body)).await.map_err(|source| ReportError {
            namespace: namespace.clone().unwrap_or_default(),
            name: name.clone(),
            source,
        })?;
        if let Ok(mut written) = self.written.lock() {
            written.insert(key, content);
        }
        Ok(if before.is_some() { ReportWrite::Updated } else { ReportWrite::Created })
    }

    /// Deletes the report on the object with `uid`, if one was written: the object is gone, or
    /// no rule matches it any more.
    pub async fn delete(&self, namespace: Option<&str>, uid: &str) -> Result<ReportWrite, ReportError> {
        let name = report_name(uid);
        let key = (namespace.map(str::to_owned), name.clone());
        let known = self.written.lock().ok().and_then(|mut written| written.remove(&key)).is_some();
        if !known {
            return Ok(ReportWrite::Unchanged);
        }
        match self.api(namespace).delete(&name, &DeleteParams::default()).await {
            Ok(_) => Ok(ReportWrite::Deleted),
            // Already gone, with its owner.
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(ReportWrite::Deleted),
            Err(source) => Err(ReportError { namespace: namespace.unwrap_or_default().to_owned(), name, source }),
        }
    }

    /// Forgets everything written: after losing and regaining leadership another replica may
    /// have written meanwhile, so [`ReportWriter::load_existing`] runs again.
    pub fn forget(&self) {
        if let Ok(mut written) = self.written.lock() {
            written.clear();
        }
    }

    fn api(&self, namespace: Option<&str>) -> Api<DynamicObject> {
        match namespace {
            Some(namespace) => Api::namespaced_with(self.client.clone(), namespace, &resource(true)),
            None => Api::all_with(self.client.clone(), &resource(false)),
        }
    }
}

/// The report is owned by its object, so that deleting the object deletes the report.
fn owner_references(owner: &Json) -> Json {
    let text = |pointer: &str| owner.pointer(pointer).cloned().unwrap_or(Json::Null);
    serde_json::json!([{
        "apiVersion": text("/apiVersion"),
        "kind": text("/kind"),
        "name": text("/metadata/name"),
        "uid": text("/metadata/uid"),
    }])
}

/// What decides whether a report changed: its scope, owner, summary and results without their
/// timestamps, written with sorted keys (the API server may order fields differently).
fn fingerprint(report: &Json) -> Fingerprint {
    let mut results = report.get("results").cloned().unwrap_or(Json::Null);
    if let Some(results) = results.as_array_mut() {
        for result in results.iter_mut().filter_map(Json::as_object_mut) {
            result.remove("timestamp");
        }
    }
    let owners = report.pointer("/metadata/ownerReferences").cloned().unwrap_or(Json::Null);
    let relevant = serde_json::json!({
        "scope": report.get("scope"),
        "owners": owners,
        "summary": report.get("summary"),
        "results": results,
    });
    let mut text = String::new();
    canonical(&relevant, &mut text);
    let hash = |key: u8| {
        let mut hasher = std::hash::DefaultHasher::new();
        key.hash(&mut hasher);
        text.hash(&mut hasher);
        hasher.finish()
    };
    (hash(0), hash(1))
}

fn canonical(value: &Json, out: &mut String) {
    match value {
        Json::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for key in keys {
                out.push_str(&Json::String(key.clone()).to_string());
                out.push(':');
                if let Some(field) = map.get(key) {
                    canonical(field, out);
                }
                out.push(',');
            }
            out.push('}');
        }
        Json::Array(items) => {
            out.push('[');
            for item in items {
                canonical(item, out);
                out.push(',');
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn the_fingerprint_ignores_timestamps_and_field_order() {
        let a = serde_json::json!({"scope": {"kind": "Pod", "name": "p"}, "summary": {"pass": 1, "fail": 0},
            "results": [{"policy": "r", "result": "pass", "timestamp": {"seconds": 1, "nanos": 0}}]});
        let b = serde_json::json!({"results": [{"timestamp": {"seconds": 9, "nanos": 5}, "result": "pass", "policy": "r"}],
            "summary": {"fail": 0, "pass": 1}, "scope": {"name": "p", "kind": "Pod"}, "metadata": {"resourceVersion": "7"}});
        assert_eq!(fingerprint(&a), fingerprint(&b));
        let c = serde_json::json!({"scope": {"kind": "Pod", "name": "p"}, "summary": {"pass": 0, "fail": 1},
            "results": [{"policy": "r", "result": "fail"}]});
        assert_ne!(fingerprint(&a), fingerprint(&c));
    }
}
