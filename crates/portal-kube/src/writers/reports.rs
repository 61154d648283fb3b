//! PolicyReports of the audit: one per evaluated object, named after its UID and owned by it
//! (the garbage collector deletes a report with its object), written by server-side apply and
//! only when its content changed — the results without their timestamps. A restart over an
//! unchanged cluster writes nothing: what is already there is read first. Reports are written in
//! one [`ReportApi`]; those Portal wrote in the other are deleted ([`ReportWriter::delete_other_api`]).

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Mutex, PoisonError};

use kube::api::{DeleteParams, DynamicObject, ListParams, Patch};
use kube::discovery::ApiResource;
use kube::{Api, ResourceExt};
use portal_report::{MANAGED_BY_LABEL, Report, ReportApi, SOURCE};
use serde_json::Value as Json;

use super::apply::apply_params;

fn resource(api: ReportApi, namespaced: bool) -> ApiResource {
    let kind = api.kind(namespaced);
    ApiResource {
        group: kind.group.to_owned(),
        version: kind.version.to_owned(),
        api_version: kind.api_version.to_owned(),
        kind: kind.kind.to_owned(),
        plural: kind.plural.to_owned(),
    }
}

const NAME_PREFIX: &str = "portal-";

/// The name of the report on the object with this UID.
pub fn report_name(uid: &str) -> String {
    format!("{NAME_PREFIX}{uid}")
}

/// The UID of the object a report of this name is on, when the name is one the audit gives
/// (`portal check` names reports `portal-<kind>-<name>`, which are left alone).
fn reported_uid(name: &str) -> Option<&str> {
    let uid = name.strip_prefix(NAME_PREFIX)?;
    let groups: Vec<usize> = uid.split('-').map(str::len).collect();
    let hex = uid.chars().all(|c| c == '-' || c.is_ascii_hexdigit());
    (hex && groups == [8, 4, 4, 4, 12]).then_some(uid)
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
#[error("{doing}")]
pub struct ReportError {
    /// What was being done, e.g. `writing the policy report shop/portal-…`.
    doing: String,
    #[source]
    source: kube::Error,
}

impl ReportError {
    fn writing(namespace: Option<&str>, name: &str, source: kube::Error) -> ReportError {
        let place = namespace.map(|namespace| format!("{namespace}/")).unwrap_or_default();
        ReportError { doing: format!("writing the policy report {place}{name}"), source }
    }

    fn deleting(namespace: Option<&str>, name: &str, source: kube::Error) -> ReportError {
        let place = namespace.map(|namespace| format!("{namespace}/")).unwrap_or_default();
        ReportError { doing: format!("deleting the policy report {place}{name}"), source }
    }
}

/// Where a report lives: its namespace (none for a cluster report) and name.
type ReportKey = (Option<String>, String);

/// A report's content, hashed: 128 bits (two differently keyed hashes), so that remembering
/// what every report holds costs 16 bytes each rather than the report.
type Fingerprint = (u64, u64);

/// Writes reports, remembering what each holds so that unchanged ones are not written again.
pub struct ReportWriter {
    client: kube::Client,
    api: ReportApi,
    written: Mutex<HashMap<ReportKey, Fingerprint>>,
}

impl std::fmt::Debug for ReportWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReportWriter").finish_non_exhaustive()
    }
}

impl ReportWriter {
    pub fn new(client: kube::Client, api: ReportApi) -> ReportWriter {
        ReportWriter { client, api, written: Mutex::new(HashMap::new()) }
    }

    /// Reads the reports Portal wrote before, so that rewriting the same content is skipped.
    /// Returns how many were found.
    pub async fn load_existing(&self) -> Result<usize, kube::Error> {
        let mut found = HashMap::new();
        for report in self.list_written(self.api).await? {
            let key = (report.namespace(), report.name_any());
            let whole = serde_json::to_value(&report).unwrap_or(Json::Null);
            found.insert(key, fingerprint(&whole));
        }
        let count = found.len();
        if let Ok(mut written) = self.written.lock() {
            *written = found;
        }
        Ok(count)
    }

    /// The reports Portal wrote in `api`, of both kinds; none when its CRDs are not installed.
    async fn list_written(&self, api: ReportApi) -> Result<Vec<DynamicObject>, kube::Error> {
        let selector = ListParams::default().labels(&format!("{MANAGED_BY_LABEL}={SOURCE}"));
        let mut found = Vec::new();
        for namespaced in [true, false] {
            let reports: Api<DynamicObject> = Api::all_with(self.client.clone(), &resource(api, namespaced));
            match reports.list(&selector).await {
                Ok(list) => found.extend(list.items),
                // No report CRD installed: nothing was written.
                Err(kube::Error::Api(status)) if status.code == 404 => {}
                Err(error) => return Err(error),
            }
        }
        Ok(found)
    }

    /// The objects (namespace, UID) that have a report, as far as this writer knows.
    pub fn reported(&self) -> Vec<(Option<String>, String)> {
        let written = self.written.lock().unwrap_or_else(PoisonError::into_inner);
        written
            .keys()
            .filter_map(|(namespace, name)| Some((namespace.clone(), reported_uid(name)?.to_owned())))
            .collect()
    }

    /// Deletes the audit's reports written in the API other than this writer's (the setting
    /// changed): their objects have reports in this one. Returns how many were deleted.
    pub async fn delete_other_api(&self) -> Result<usize, ReportError> {
        let other = ReportApi::ALL.into_iter().find(|api| *api != self.api).unwrap_or(self.api);
        let stale = self.list_written(other).await.map_err(|source| ReportError {
            doing: format!("listing the reports Portal wrote in {}", other.api_version()),
            source,
        })?;
        let mut deleted = 0;
        for report in stale {
            let name = report.name_any();
            if reported_uid(&name).is_none() {
                continue;
            }
            let namespace = report.namespace();
            let reports: Api<DynamicObject> = match namespace.as_deref() {
                Some(namespace) => Api::namespaced_with(self.client.clone(), namespace, &resource(other, true)),
                None => Api::all_with(self.client.clone(), &resource(other, false)),
            };
            match reports.delete(&name, &DeleteParams::default()).await {
                Ok(_) => deleted += 1,
                Err(kube::Error::Api(status)) if status.code == 404 => {}
                Err(source) => return Err(ReportError::deleting(namespace.as_deref(), &name, source)),
            }
        }
        Ok(deleted)
    }

    /// Writes `report` for the object `owner` unless it holds what was last written.
    pub async fn write(&self, report: &Report, owner: &Json) -> Result<ReportWrite, ReportError> {
        let mut body = self.api.body(report);
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
        api.patch(&name, &apply_params(), &Patch::Apply(&body))
            .await
            .map_err(|source| ReportError::writing(namespace.as_deref(), &name, source))?;
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
            Err(source) => Err(ReportError::deleting(namespace, &name, source)),
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
            Some(namespace) => Api::namespaced_with(self.client.clone(), namespace, &resource(self.api, true)),
            None => Api::all_with(self.client.clone(), &resource(self.api, false)),
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
    fn only_names_the_audit_gives_are_read_as_object_uids() {
        let uid = "0b6f4c1e-94a1-4c53-9d0e-2d5c6f0e7a11";
        assert_eq!(reported_uid(&report_name(uid)), Some(uid));
        assert_eq!(reported_uid("portal-pod-debug-shell"), None);
        assert_eq!(reported_uid("portal-0b6f4c1e-94a1-4c53-9d0e-2d5c6f0e7a1"), None);
        assert_eq!(reported_uid("kyverno-0b6f4c1e-94a1-4c53-9d0e-2d5c6f0e7a11"), None);
    }

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
