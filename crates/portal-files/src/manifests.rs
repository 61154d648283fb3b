//! Kubernetes manifests: every object of the files given, `kind: List` expanded, placed in
//! namespaces as `kubectl apply` and the API server would.

use std::path::PathBuf;

use portal_rules::{Document, Origin, parse_documents};
use serde_json::Value as Json;

use crate::paths::{expand_paths, read_source};
use crate::problem::Problem;

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

/// Loads every Kubernetes object under `paths`, expanding `kind: List`.
pub fn load_manifest_paths(paths: &[PathBuf]) -> Manifests {
    let mut manifests = Manifests::default();
    let files = match expand_paths(paths) {
        Ok(expansion) => {
            manifests.skipped.extend(expansion.skipped);
            expansion.files
        }
        Err(error) => {
            manifests.errors.push(Problem::from_error(&error));
            return manifests;
        }
    };
    for file in files {
        match read_source(&file) {
            Ok(text) => add_documents(&file.display().to_string(), &text, &mut manifests),
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
            match value.get("items") {
                Some(Json::Array(items)) => {
                    for item in items {
                        add_object(Document { origin: origin.clone(), value: item.clone() }, manifests);
                    }
                }
                None | Some(Json::Null) => {}
                Some(_) => manifests
                    .skipped
                    .push(Problem::new(origin.to_string(), format!("a {kind} whose `items` is not a list; skipped"))),
            }
        }
        (Some(_), Some(_)) => match metadata_problem(&value) {
            None => manifests.objects.push(Manifest { origin, object: value }),
            Some(problem) => manifests.skipped.push(Problem::new(origin.to_string(), format!("{problem}; skipped"))),
        },
        _ => manifests.skipped.push(Problem::new(
            origin.to_string(),
            "not a Kubernetes object (no apiVersion and kind); skipped".to_owned(),
        )),
    }
}

/// What is wrong with an object's `metadata`, which names it in every report.
fn metadata_problem(object: &Json) -> Option<&'static str> {
    let metadata = match object.get("metadata") {
        None | Some(Json::Null) => return None,
        Some(Json::Object(metadata)) => metadata,
        Some(_) => return Some("`metadata` is not a mapping"),
    };
    for field in ["name", "generateName", "namespace", "uid"] {
        if metadata.get(field).is_some_and(|value| !value.is_string() && !value.is_null()) {
            return Some(match field {
                "name" => "`metadata.name` is not a string",
                "generateName" => "`metadata.generateName` is not a string",
                "namespace" => "`metadata.namespace` is not a string",
                _ => "`metadata.uid` is not a string",
            });
        }
    }
    for field in ["labels", "annotations"] {
        if metadata.get(field).is_some_and(|value| !value.is_object() && !value.is_null()) {
            return Some(if field == "labels" {
                "`metadata.labels` is not a mapping"
            } else {
                "`metadata.annotations` is not a mapping"
            });
        }
    }
    None
}

/// Puts objects of namespaced kinds that name no namespace into `namespace`, as `kubectl apply`
/// would, and drops the namespace of cluster-scoped objects, as the API server does, so that
/// namespace matching and `PortalRule`s see what the cluster would see.
pub fn apply_default_namespace(manifests: &mut Manifests, namespace: &str) {
    for manifest in &mut manifests.objects {
        let kind = manifest.object.get("kind").and_then(Json::as_str).unwrap_or_default();
        if portal_rules::kinds::is_cluster_scoped(kind) {
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
