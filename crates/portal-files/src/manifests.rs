//! Kubernetes manifests: every object of the files given, `kind: List` expanded, placed in
//! namespaces as `kubectl apply` and the API server would.
//!
//! Objects are parsed a [`Unit`] at a time: a JSON List (what `kubectl get -A -o json` prints)
//! is split into its items without parsing them, and each item is parsed only when its turn
//! comes (on any thread), so a whole cluster's Pods cost their text and the objects in flight,
//! not every object parsed at once.

use std::collections::HashMap;
use std::path::PathBuf;

use portal_rules::{Document, Origin, parse_documents};
use serde::Deserialize;
use serde_json::Value as Json;
use serde_json::value::RawValue;

use crate::paths::{expand_paths, read_source};
use crate::problem::Problem;

/// A Kubernetes object read from disk.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub origin: Origin,
    pub object: Json,
}

/// One thing reading manifests produced, in the order of the input.
#[derive(Debug)]
pub enum ManifestItem {
    Object(Manifest),
    /// A document that is not a Kubernetes object: reported and skipped, not fatal.
    Skipped(Problem),
    /// Input that could not be read or parsed.
    Error(Problem),
}

/// Every object, skipped document and error, collected (for small inputs and tests).
#[derive(Debug, Default)]
pub struct Manifests {
    pub objects: Vec<Manifest>,
    pub skipped: Vec<Problem>,
    pub errors: Vec<Problem>,
}

impl Manifests {
    fn add(&mut self, item: ManifestItem) {
        match item {
            ManifestItem::Object(manifest) => self.objects.push(manifest),
            ManifestItem::Skipped(problem) => self.skipped.push(problem),
            ManifestItem::Error(problem) => self.errors.push(problem),
        }
    }
}

/// Loads every Kubernetes object under `paths`, all at once; objects that name no namespace are
/// put in `default_namespace`.
pub fn load_manifest_paths(paths: &[PathBuf], default_namespace: &str) -> Manifests {
    ManifestFiles::read(paths).collect(default_namespace)
}

/// Manifest files read into memory, not parsed yet.
#[derive(Debug, Default)]
pub struct ManifestFiles {
    texts: Vec<SourceText>,
    /// What was skipped while walking folders.
    skipped: Vec<Problem>,
    /// Paths that could not be read.
    errors: Vec<Problem>,
}

#[derive(Debug)]
struct SourceText {
    source: String,
    text: String,
}

impl ManifestFiles {
    /// Reads every file under `paths` (folders walked, `-` for standard input).
    pub fn read(paths: &[PathBuf]) -> ManifestFiles {
        let mut files = ManifestFiles::default();
        let expansion = match expand_paths(paths) {
            Ok(expansion) => expansion,
            Err(error) => {
                files.errors.push(Problem::from_error(&error));
                return files;
            }
        };
        files.skipped = expansion.skipped;
        for file in expansion.files {
            match read_source(&file) {
                Ok(text) => files.texts.push(SourceText { source: file.display().to_string(), text }),
                Err(error) => files.errors.push(Problem::from_error(&error)),
            }
        }
        files
    }

    /// One YAML or JSON text, named `source` in problems.
    pub fn from_text(source: &str, text: String) -> ManifestFiles {
        let texts = vec![SourceText { source: source.to_owned(), text }];
        ManifestFiles { texts, skipped: Vec::new(), errors: Vec::new() }
    }

    /// The documents of every file, JSON Lists split into their (unparsed) items.
    pub fn documents(&self) -> ManifestDocuments<'_> {
        let mut units = Vec::new();
        for file in &self.texts {
            match json_list_items(&file.text) {
                Some(items) => {
                    let mut lines = LineCounter::new(&file.text);
                    units.extend(items.into_iter().map(|item| Unit {
                        source: &file.source,
                        line: lines.line_of(item.get()),
                        text: item.get(),
                        shape: Shape::ListItem,
                    }));
                }
                None => units.push(Unit { source: &file.source, line: 1, text: &file.text, shape: Shape::File }),
            }
        }
        ManifestDocuments { units, files: self }
    }

    /// Every object, skipped document and error, collected.
    pub fn collect(&self, default_namespace: &str) -> Manifests {
        let mut manifests = Manifests::default();
        let documents = self.documents();
        documents.problems().for_each(|item| manifests.add(item));
        for unit in documents.units() {
            unit.expand(default_namespace, &mut |item| manifests.add(item));
        }
        manifests
    }
}

/// The documents of the manifest files, split into [`Unit`]s that parse independently.
#[derive(Debug)]
pub struct ManifestDocuments<'a> {
    units: Vec<Unit<'a>>,
    files: &'a ManifestFiles,
}

/// A piece of the input that parses on its own: one item of a JSON List, or a whole file
/// otherwise (a YAML stream, or JSON that is not a List). Units can be expanded on any thread.
#[derive(Debug, Clone, Copy)]
pub struct Unit<'a> {
    source: &'a str,
    /// The line the item (or the file) starts on.
    line: usize,
    text: &'a str,
    shape: Shape,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    ListItem,
    File,
}

impl<'a> ManifestDocuments<'a> {
    /// What went wrong reading the files, and what was skipped while walking folders.
    pub fn problems(&self) -> impl Iterator<Item = ManifestItem> + '_ {
        let skipped = self.files.skipped.iter().map(|problem| ManifestItem::Skipped(problem.clone()));
        skipped.chain(self.files.errors.iter().map(|problem| ManifestItem::Error(problem.clone())))
    }

    /// The units, in input order.
    pub fn units(&self) -> &[Unit<'a>] {
        &self.units
    }

    /// The Namespace objects among the manifests, by name: `namespaceObject` for objects in them.
    /// Only units whose text mentions `Namespace` are parsed for this.
    pub fn namespaces(&self) -> HashMap<String, Json> {
        let mut namespaces = HashMap::new();
        for unit in self.units.iter().filter(|unit| unit.text.contains("Namespace")) {
            unit.expand("", &mut |item| {
                if let ManifestItem::Object(manifest) = item
                    && manifest.object.get("kind").and_then(Json::as_str) == Some("Namespace")
                    && let Some(name) = manifest.object.pointer("/metadata/name").and_then(Json::as_str)
                {
                    namespaces.insert(name.to_owned(), manifest.object);
                }
            });
        }
        namespaces
    }
}

impl Unit<'_> {
    /// Parses the unit and hands its objects (namespaced as `kubectl apply -n default_namespace`
    /// would), skipped documents and errors to `visit`, in input order.
    pub fn expand(&self, default_namespace: &str, visit: &mut impl FnMut(ManifestItem)) {
        let mut placed = |item| {
            visit(match item {
                ManifestItem::Object(mut manifest) => {
                    place_in_namespace(&mut manifest.object, default_namespace);
                    ManifestItem::Object(manifest)
                }
                other => other,
            });
        };
        match self.shape {
            Shape::ListItem => list_item(&Origin::new(self.source, Some(self.line)), self.text, &mut placed),
            Shape::File => text_documents(self.source, self.text, &mut placed),
        }
    }
}

/// The items of `text` when it is a JSON `kind: List` (or `…List`) with an `items` array,
/// split without parsing them; `None` for anything else, which is parsed whole.
fn json_list_items(text: &str) -> Option<Vec<&RawValue>> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct ListShape<'a> {
        api_version: Option<String>,
        kind: Option<String>,
        #[serde(borrow)]
        items: Option<Vec<&'a RawValue>>,
    }
    if !text.trim_start().starts_with('{') {
        return None;
    }
    let list: ListShape<'_> = serde_json::from_str(text).ok()?;
    let kind = list.kind?;
    (list.api_version.is_some() && kind.ends_with("List")).then_some(())?;
    list.items
}

/// The lines that slices of one text start on, for slices asked in order: each call counts only
/// the newlines since the previous one, so all the items of a List cost one pass over its text.
struct LineCounter<'a> {
    text: &'a str,
    offset: usize,
    line: usize,
}

impl<'a> LineCounter<'a> {
    fn new(text: &'a str) -> LineCounter<'a> {
        LineCounter { text, offset: 0, line: 1 }
    }

    /// The 1-based line `part` (a slice of the text, at or after the previous one) starts on.
    fn line_of(&mut self, part: &str) -> usize {
        // Where `part` starts in the text: both point into the same allocation.
        let start = (part.as_ptr() as usize).saturating_sub(self.text.as_ptr() as usize).min(self.text.len());
        if start >= self.offset {
            let skipped = self.text.as_bytes().get(self.offset..start).unwrap_or_default();
            self.line += skipped.iter().filter(|byte| **byte == b'\n').count();
            self.offset = start;
        }
        self.line
    }
}

/// Parses one item of a JSON List and expands it.
fn list_item(origin: &Origin, item: &str, visit: &mut impl FnMut(ManifestItem)) {
    // The List was checked as JSON when it was split: only the nesting limit can fail here.
    match serde_json::from_str::<Json>(item) {
        Ok(value) => expand(Document { origin: origin.clone(), value }, visit),
        Err(error) => visit(ManifestItem::Error(Problem::new(
            origin.to_string(),
            format!(
                "an item of the list nests deeper than {} levels ({error}), past the limit on nesting; flatten it",
                portal_rules::MAX_DEPTH
            ),
        ))),
    }
}

/// Parses one YAML or JSON stream and expands its documents.
fn text_documents(source: &str, text: &str, visit: &mut impl FnMut(ManifestItem)) {
    match parse_documents(source, text) {
        Ok(documents) => {
            for document in documents {
                expand(document, visit);
            }
        }
        Err(error) => visit(ManifestItem::Error(Problem::from_rules_error(&error))),
    }
}

/// One document: a List's items, an object, or something skipped.
fn expand(document: Document, visit: &mut impl FnMut(ManifestItem)) {
    let Document { origin, value } = document;
    let kind = value.get("kind").and_then(Json::as_str);
    let api_version = value.get("apiVersion").and_then(Json::as_str);
    match (api_version, kind) {
        (Some(_), Some(kind)) if kind == "List" || kind.ends_with("List") && value.get("items").is_some() => {
            let kind = kind.to_owned();
            let Json::Object(mut list) = value else { return };
            match list.remove("items") {
                Some(Json::Array(items)) => {
                    for item in items {
                        expand(Document { origin: origin.clone(), value: item }, visit);
                    }
                }
                None | Some(Json::Null) => {}
                Some(_) => visit(ManifestItem::Skipped(Problem::new(
                    origin.to_string(),
                    format!("a {kind} whose `items` is not a list; skipped"),
                ))),
            }
        }
        (Some(_), Some(_)) => match metadata_problem(&value) {
            None => visit(ManifestItem::Object(Manifest { origin, object: value })),
            Some(problem) => {
                visit(ManifestItem::Skipped(Problem::new(origin.to_string(), format!("{problem}; skipped"))))
            }
        },
        _ => visit(ManifestItem::Skipped(Problem::new(
            origin.to_string(),
            "not a Kubernetes object (no apiVersion and kind); skipped".to_owned(),
        ))),
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

/// Puts an object of a namespaced kind that names no namespace into `namespace`, as `kubectl
/// apply` would, and drops the namespace of a cluster-scoped object, as the API server does, so
/// that namespace matching and `PortalRule`s see what the cluster would see.
fn place_in_namespace(object: &mut Json, namespace: &str) {
    let kind = object.get("kind").and_then(Json::as_str).unwrap_or_default();
    if portal_rules::kinds::is_cluster_scoped(kind) {
        if let Some(Json::Object(metadata)) = object.get_mut("metadata") {
            metadata.remove("namespace");
        }
        return;
    }
    let Json::Object(object) = object else { return };
    let metadata = object.entry("metadata").or_insert_with(|| Json::Object(Default::default()));
    if let Json::Object(metadata) = metadata {
        let missing = metadata.get("namespace").and_then(Json::as_str).is_none_or(str::is_empty);
        if missing {
            metadata.insert("namespace".to_owned(), Json::String(namespace.to_owned()));
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn collect(text: &str) -> Manifests {
        ManifestFiles::from_text("in.json", text.to_owned()).collect("default")
    }

    fn names(manifests: &Manifests) -> Vec<String> {
        manifests.objects.iter().map(|m| m.object["metadata"]["name"].as_str().unwrap_or("-").to_owned()).collect()
    }

    #[test]
    fn json_lists_are_split_into_units_and_keep_their_order() {
        let text = r#"
            {"apiVersion": "v1", "items": [
                {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"}},
                {"apiVersion": "v1", "kind": "List", "items": [{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "b"}}]},
                {"kind": "Pod"},
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop", "namespace": "x"}}
            ], "kind": "List", "metadata": {}}"#;
        let files = ManifestFiles::from_text("in.json", text.to_owned());
        let documents = files.documents();
        assert_eq!(documents.units().len(), 4);
        assert!(documents.units().iter().all(|unit| unit.shape == Shape::ListItem));
        // Each item is located on its own line, not the List's.
        assert_eq!(documents.units().iter().map(|unit| unit.line).collect::<Vec<_>>(), [3, 4, 5, 6]);
        let manifests = files.collect("default");
        assert_eq!(names(&manifests), ["a", "b", "shop"]);
        assert_eq!(manifests.objects[0].object["metadata"]["namespace"], "default");
        assert_eq!(manifests.objects[0].origin.to_string(), "in.json:3");
        assert_eq!(manifests.objects[1].origin.to_string(), "in.json:4");
        // Cluster-scoped: the namespace is dropped, as the API server would.
        assert!(manifests.objects[2].object["metadata"].get("namespace").is_none());
        assert_eq!(manifests.skipped.len(), 1);
        assert!(manifests.skipped[0].to_string().contains("no apiVersion and kind"), "{:?}", manifests.skipped);
        // A Namespace after the objects in it still serves as their namespaceObject.
        assert_eq!(documents.namespaces().keys().collect::<Vec<_>>(), ["shop"]);
    }

    #[test]
    fn what_is_not_a_json_list_is_parsed_whole() {
        // An object with an `items` field that is not a List kind is one object.
        let manifests = collect(r#"{"apiVersion": "v1", "kind": "Thing", "metadata": {"name": "t"}, "items": [1]}"#);
        assert_eq!(names(&manifests), ["t"]);
        // A List whose items are not a list is skipped with a reason.
        let manifests = collect(r#"{"apiVersion": "v1", "kind": "List", "items": {}}"#);
        assert!(manifests.objects.is_empty());
        assert!(manifests.skipped[0].to_string().contains("`items` is not a list"), "{:?}", manifests.skipped);
        // YAML streams are files, parsed in one go.
        let files =
            ManifestFiles::from_text("in.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\n".to_owned());
        assert_eq!(files.documents().units().len(), 1);
        assert_eq!(names(&files.collect("default")), ["web"]);
    }

    #[test]
    fn an_item_past_the_nesting_limit_is_an_error_naming_it() {
        let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
        let text = format!(
            r#"{{"apiVersion": "v1", "kind": "List", "items": [{{"apiVersion": "v1", "kind": "Pod", "x": {deep}}},
                {{"apiVersion": "v1", "kind": "Pod", "metadata": {{"name": "fine"}}}}]}}"#
        );
        let manifests = collect(&text);
        assert_eq!(names(&manifests), ["fine"]);
        assert_eq!(manifests.errors.len(), 1);
        let error = manifests.errors[0].to_string();
        assert!(error.contains("deeper than 128 levels") && error.contains("flatten it"), "{error}");
    }
}
