//! Reading rules and manifests from files, directories and standard input.

use std::io::Read;
use std::path::{Path, PathBuf};

use portal_rules::{Document, LoadedRule, Origin, parse_documents, rule_from_document};
use serde_json::Value as Json;

use crate::error::{Error, Problem};

/// A Kubernetes object read from disk.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub origin: Origin,
    pub object: Json,
}

/// What reading the manifests produced: objects, skipped documents and errors.
#[derive(Debug, Default)]
pub struct Manifests {
    pub objects: Vec<Manifest>,
    /// Documents that are not Kubernetes objects: reported and skipped, not fatal.
    pub skipped: Vec<Problem>,
    pub errors: Vec<Problem>,
}

const EXTENSIONS: &[&str] = &["yaml", "yml", "json"];

/// Expands files and directories (recursively, `.yaml`/`.yml`/`.json`, sorted) into files.
/// `-` stays as is: standard input.
pub fn expand_paths(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Error> {
    let mut files = Vec::new();
    for path in paths {
        if path.as_os_str() == "-" {
            files.push(path.clone());
            continue;
        }
        let metadata = std::fs::metadata(path).map_err(|source| Error::ReadPath { path: path.clone(), source })?;
        if metadata.is_dir() {
            collect_dir(path, &mut files)?;
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

fn collect_dir(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), Error> {
    let read = std::fs::read_dir(dir).map_err(|source| Error::ReadPath { path: dir.to_owned(), source })?;
    let mut entries: Vec<PathBuf> = Vec::new();
    for entry in read {
        let entry = entry.map_err(|source| Error::ReadPath { path: dir.to_owned(), source })?;
        entries.push(entry.path());
    }
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect_dir(&path, files)?;
        } else if path.extension().and_then(|e| e.to_str()).is_some_and(|e| EXTENSIONS.contains(&e)) {
            files.push(path);
        }
    }
    Ok(())
}

/// Reads a file, or standard input for `-`.
pub fn read_source(path: &Path) -> Result<String, Error> {
    if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|source| Error::ReadPath { path: path.to_owned(), source })?;
        return Ok(text);
    }
    std::fs::read_to_string(path).map_err(|source| Error::ReadPath { path: path.to_owned(), source })
}

pub(crate) fn display_path(path: &Path) -> String {
    path.display().to_string()
}

/// Loads every rule under `paths`. Errors are collected, not fatal: the good rules still load.
///
/// Inside a directory, rule bundles keep their test suites beside the rules: test files
/// (`portal-test.yaml`, `*.portal-test.yaml`) and Kubernetes objects of other API groups (the
/// suites' fixtures) are passed over. A file named explicitly is always read as rules.
pub fn load_rule_paths(paths: &[PathBuf]) -> (Vec<LoadedRule>, Vec<Problem>) {
    let mut rules = Vec::new();
    let mut problems = Vec::new();
    match rule_files(paths) {
        Ok(files) => {
            for file in files {
                let (loaded, file_problems) = load_rule_file(&file);
                rules.extend(loaded);
                problems.extend(file_problems);
            }
        }
        Err(error) => problems.push(Problem::from_error(&error)),
    }
    (rules, problems)
}

/// A rule file found under the paths given, and whether it was found inside a directory.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RuleFile {
    pub path: PathBuf,
    pub in_directory: bool,
}

/// The rule files under `paths`: directories expanded (sorted), test files inside them left out.
pub fn rule_files(paths: &[PathBuf]) -> Result<Vec<RuleFile>, Error> {
    let mut files = Vec::new();
    for path in paths {
        let in_directory = path.is_dir();
        for file in expand_paths(std::slice::from_ref(path))? {
            if in_directory && crate::suite::is_test_file(&file) {
                continue;
            }
            files.push(RuleFile { path: file, in_directory });
        }
    }
    Ok(files)
}

/// Loads the rules of one file; fixtures of other API groups are passed over inside directories.
pub fn load_rule_file(file: &RuleFile) -> (Vec<LoadedRule>, Vec<Problem>) {
    let text = match read_source(&file.path) {
        Ok(text) => text,
        Err(error) => return (Vec::new(), vec![Problem::from_error(&error)]),
    };
    let source = display_path(&file.path);
    let documents = match parse_documents(&source, &text) {
        Ok(documents) => documents,
        Err(error) => return (Vec::new(), vec![Problem::from_rules_error(&error)]),
    };
    let mut rules = Vec::new();
    let mut problems = Vec::new();
    for document in documents {
        if file.in_directory && is_foreign_object(&document.value) {
            continue;
        }
        match rule_from_document(&document) {
            Ok(rule) => rules.push(rule),
            Err(error) => problems.push(Problem::from_rules_error(&error)),
        }
    }
    (rules, problems)
}

/// A Kubernetes object that is not a Portal rule, e.g. a test fixture beside the rules.
fn is_foreign_object(value: &Json) -> bool {
    value.get("apiVersion").and_then(Json::as_str).is_some_and(|api_version| !api_version.starts_with("portal.io/"))
}

/// Loads every Kubernetes object under `paths`, expanding `kind: List`.
pub fn load_manifest_paths(paths: &[PathBuf]) -> Manifests {
    let mut manifests = Manifests::default();
    let files = match expand_paths(paths) {
        Ok(files) => files,
        Err(error) => {
            manifests.errors.push(Problem::from_error(&error));
            return manifests;
        }
    };
    for file in files {
        match read_source(&file) {
            Ok(text) => add_documents(&display_path(&file), &text, &mut manifests),
            Err(error) => manifests.errors.push(Problem::from_error(&error)),
        }
    }
    manifests
}

/// Adds the objects of one YAML/JSON stream.
pub fn add_documents(source: &str, text: &str, manifests: &mut Manifests) {
    match parse_documents(source, text) {
        Ok(documents) => {
            for document in documents {
                add_object(document, manifests);
            }
        }
        Err(error) => manifests.errors.push(Problem::from_rules_error(&error)),
    }
}

fn add_object(document: Document, manifests: &mut Manifests) {
    let Document { origin, value } = document;
    let kind = value.get("kind").and_then(Json::as_str);
    let api_version = value.get("apiVersion").and_then(Json::as_str);
    match (api_version, kind) {
        (Some(_), Some(kind)) if kind == "List" || kind.ends_with("List") && value.get("items").is_some() => {
            let items = value.get("items").and_then(Json::as_array).cloned().unwrap_or_default();
            for item in items {
                add_object(Document { origin: origin.clone(), value: item }, manifests);
            }
        }
        (Some(_), Some(_)) => manifests.objects.push(Manifest { origin, object: value }),
        _ => manifests.skipped.push(Problem::new(
            origin.to_string(),
            "not a Kubernetes object (no apiVersion and kind); skipped".to_owned(),
        )),
    }
}

/// Kinds that live outside namespaces (built-in APIs, and Portal's and the policy working
/// group's cluster-scoped kinds). Every other kind is taken to be namespaced, as kubectl does.
const CLUSTER_SCOPED_KINDS: &[&str] = &[
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

/// Puts objects of namespaced kinds that name no namespace into `namespace`, as `kubectl apply`
/// would, and drops the namespace of cluster-scoped objects, as the API server does, so that
/// namespace matching and `PortalRule`s see what the cluster would see.
pub fn apply_default_namespace(manifests: &mut Manifests, namespace: &str) {
    for manifest in &mut manifests.objects {
        let kind = manifest.object.get("kind").and_then(Json::as_str).unwrap_or_default();
        if CLUSTER_SCOPED_KINDS.contains(&kind) {
            if let Some(Json::Object(metadata)) = manifest.object.get_mut("metadata") {
                metadata.remove("namespace");
            }
            continue;
        }
        let Some(Json::Object(object)) = Some(&mut manifest.object) else { continue };
        let metadata = object.entry("metadata").or_insert_with(|| Json::Object(Default::default()));
        if let Json::Object(metadata) = metadata {
            let missing = metadata.get("namespace").and_then(Json::as_str).is_none_or(str::is_empty);
            if missing {
                metadata.insert("namespace".to_owned(), Json::String(namespace.to_owned()));
            }
        }
    }
}
