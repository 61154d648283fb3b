//! The layers — file, `PORTAL_*` environment, flags — merged into one tree of values that
//! remembers where each value came from. The tree is then deserialised into [`Config`] once
//! (see `de.rs`), so the defaults, types and error messages live in one place: the structs.
//!
//! Names are derived mechanically from the structs: the settings are the leaves of the default
//! configuration serialised to JSON, and each has the environment variable `PORTAL_` + its path
//! in upper snake case. A new setting gets its variable by existing.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde_json::Value as Json;
use serde_saphyr::Spanned;

use crate::{Config, Error, Overrides, Result, Source};

/// `PORTAL_*` variables that are not settings but are read by other tools; [`Config::load`]
/// ignores them instead of rejecting them as unknown.
///
/// - `PORTAL_CONFIG`: the `--config` path, read by the `portal` binary's flag parser.
/// - `PORTAL_ENVTEST_ASSETS`, `PORTAL_ENVTEST_CACHE`: where the test harness (`portal-testenv`,
///   `cargo xtask envtest`) finds or caches kube-apiserver and etcd.
/// - `PORTAL_HELM`: the helm binary the chart's tests run (`cargo xtask helm`).
/// - `PORTAL_ALERTMANAGER`: the Alertmanager the alerting tests send to (`cargo xtask alertmanager`).
/// - `PORTAL_CHROMIUM`, `PORTAL_PLAYGROUND`: the browser and the built page of the rule
///   playground's test (`cargo xtask chromium`, `cargo xtask playground`).
pub const OTHER_ENV_VARS: &[&str] = &[
    "PORTAL_CONFIG",
    "PORTAL_NAMESPACE",
    "PORTAL_ENVTEST_ASSETS",
    "PORTAL_ENVTEST_CACHE",
    "PORTAL_HELM",
    "PORTAL_ALERTMANAGER",
    "PORTAL_CHROMIUM",
    "PORTAL_PLAYGROUND",
];

/// A node of the merged tree. For a map entry, `source` is where its key is written (what an
/// error about the setting points at); for a list item, where the item is.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub(crate) source: Source,
    pub(crate) value: Value,
}

#[derive(Debug, Clone)]
pub(crate) enum Value {
    /// A section, in the order written.
    Map(Vec<(String, Node)>),
    Seq(Vec<Node>),
    /// A scalar from the file or a flag, already typed (YAML decides `true` is a boolean).
    Scalar(Json),
    /// Text from the environment, typed by the setting it is read into (`true` is a boolean for
    /// `rules.cluster.enabled` and a string for `kubernetes.context`); see `de::TextDeserializer`.
    Text(String),
}

impl Node {
    /// The root before any layer: nothing set.
    pub(crate) fn empty(source: Source) -> Node {
        Node { source, value: Value::Map(Vec::new()) }
    }

    /// A value given as JSON (a flag), every part of it from `source`.
    fn from_json(json: Json, source: &Source) -> Node {
        let value = match json {
            Json::Array(items) => Value::Seq(items.into_iter().map(|item| Node::from_json(item, source)).collect()),
            Json::Object(entries) => {
                Value::Map(entries.into_iter().map(|(key, item)| (key, Node::from_json(item, source))).collect())
            }
            scalar => Value::Scalar(scalar),
        };
        Node { source: source.clone(), value }
    }

    /// Sets the value at `path`, replacing what was there (lists are replaced, not appended to)
    /// and creating the sections on the way. If a section on the way is not a mapping (the file
    /// says `rules: 5`), the tree is left alone: deserialisation reports that file error.
    pub(crate) fn set(&mut self, path: &[String], node: Node) {
        let Some((last, parents)) = path.split_last() else { return };
        let mut current = self;
        for key in parents {
            let Value::Map(entries) = &mut current.value else { return };
            let index = match entries.iter().position(|(name, _)| name == key) {
                Some(index) => index,
                None => {
                    entries.push((key.clone(), Node::empty(node.source.clone())));
                    entries.len() - 1
                }
            };
            current = &mut entries[index].1;
        }
        let Value::Map(entries) = &mut current.value else { return };
        match entries.iter_mut().find(|(name, _)| name == last) {
            Some((_, existing)) => *existing = node,
            None => entries.push((last.clone(), node)),
        }
    }

    /// The source of the deepest node on `path`: the setting itself when it is in the tree, else
    /// the closest section that is (or the root).
    pub(crate) fn source_at(&self, path: &serde_path_to_error::Path) -> &Source {
        let mut current = self;
        for segment in path.iter() {
            let next = match (segment, &current.value) {
                (serde_path_to_error::Segment::Map { key }, Value::Map(entries)) => {
                    entries.iter().find(|(name, _)| name == key).map(|(_, node)| node)
                }
                (serde_path_to_error::Segment::Seq { index }, Value::Seq(items)) => items.get(*index),
                _ => None,
            };
            match next {
                Some(node) => current = node,
                None => break,
            }
        }
        &current.source
    }

    /// Calls `visit` with the path and source of every value that is not a section.
    pub(crate) fn for_each_value(&self, path: &mut String, visit: &mut impl FnMut(&str, &Source)) {
        let len = path.len();
        match &self.value {
            Value::Map(entries) => {
                for (key, node) in entries {
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(key);
                    node.for_each_value(path, visit);
                    path.truncate(len);
                }
                return;
            }
            Value::Seq(items) => {
                for (index, node) in items.iter().enumerate() {
                    path.push_str(&format!("[{index}]"));
                    node.for_each_value(path, visit);
                    path.truncate(len);
                }
            }
            Value::Scalar(_) | Value::Text(_) => {}
        }
        if !path.is_empty() {
            visit(path, &self.source);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The file

/// The file's tree, with the line of every key and item. Parsed into this (not straight into
/// [`Config`]) so it can be merged with the other layers and every error can name its line.
pub(crate) fn parse_file(path: &Path, text: &str) -> Result<Node> {
    // An empty file (or only comments) is a file that sets nothing.
    let has_content = text.lines().any(|line| {
        let line = line.trim();
        !(line.is_empty() || line.starts_with('#') || line == "---")
    });
    if !has_content {
        return Ok(Node::empty(Source::File { path: path.to_owned(), line: 1 }));
    }
    let root: Spanned<FileValue> = serde_saphyr::from_str(text).map_err(|error| yaml_error(path, &error))?;
    let line = line_of(root.referenced.line());
    let found = match &root.value {
        FileValue::Map(_) => return Ok(root.value.into_node(path, line)),
        FileValue::Scalar(Json::Null) => return Ok(Node::empty(Source::File { path: path.to_owned(), line })),
        FileValue::Seq(_) => "a list",
        FileValue::Scalar(Json::String(_)) => "a string",
        FileValue::Scalar(_) => "a scalar",
    };
    Err(Error::FileNotMapping { path: path.to_owned(), line, found, sections: section_names().join(", ") })
}

fn line_of(line: u64) -> usize {
    usize::try_from(line).unwrap_or(usize::MAX).max(1)
}

/// The same one-line form as `portal-rules`' document errors (portal-yaml, ADR 0002).
fn yaml_error(path: &Path, error: &serde_saphyr::Error) -> Error {
    let mut error = portal_yaml::YamlError::of(error);
    if error.message.contains("; use from_str_multiple") {
        error.message = "more than one YAML document; the configuration is one document".to_owned();
    }
    Error::ParseFile { path: path.to_owned(), line: error.line.unwrap_or(1), message: error.with_column() }
}

/// Any YAML value, with the line of every key and list item.
enum FileValue {
    Map(Vec<(Spanned<String>, Spanned<FileValue>)>),
    Seq(Vec<Spanned<FileValue>>),
    Scalar(Json),
}

impl FileValue {
    fn into_node(self, path: &Path, line: usize) -> Node {
        let value = match self {
            FileValue::Map(entries) => Value::Map(
                entries
                    .into_iter()
                    .map(|(key, item)| {
                        let line = line_of(key.referenced.line());
                        (key.value, item.value.into_node(path, line))
                    })
                    .collect(),
            ),
            FileValue::Seq(items) => Value::Seq(
                items.into_iter().map(|item| item.value.into_node(path, line_of(item.referenced.line()))).collect(),
            ),
            FileValue::Scalar(json) => Value::Scalar(json),
        };
        Node { source: Source::File { path: path.to_owned(), line }, value }
    }
}

impl<'de> Deserialize<'de> for FileValue {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<FileValue, D::Error> {
        deserializer.deserialize_any(FileValueVisitor)
    }
}

struct FileValueVisitor;

impl<'de> Visitor<'de> for FileValueVisitor {
    type Value = FileValue;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<FileValue, E> {
        Ok(FileValue::Scalar(Json::Bool(value)))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<FileValue, E> {
        Ok(FileValue::Scalar(Json::from(value)))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<FileValue, E> {
        Ok(FileValue::Scalar(Json::from(value)))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<FileValue, E> {
        serde_json::Number::from_f64(value)
            .map(|number| FileValue::Scalar(Json::Number(number)))
            .ok_or_else(|| E::custom(format!("{value} is not a finite number")))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<FileValue, E> {
        Ok(FileValue::Scalar(Json::String(value.to_owned())))
    }

    fn visit_unit<E: de::Error>(self) -> Result<FileValue, E> {
        Ok(FileValue::Scalar(Json::Null))
    }

    fn visit_none<E: de::Error>(self) -> Result<FileValue, E> {
        Ok(FileValue::Scalar(Json::Null))
    }

    fn visit_some<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<FileValue, D::Error> {
        FileValue::deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<FileValue, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(FileValue::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FileValue, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key()? {
            entries.push((key, map.next_value()?));
        }
        Ok(FileValue::Map(entries))
    }
}

// ---------------------------------------------------------------------------------------------
// The environment

/// Every setting: its path (`["logging", "level"]`) and environment variable
/// (`PORTAL_LOGGING_LEVEL`), in the order of the structs.
pub(crate) fn settings() -> Vec<(Vec<String>, String)> {
    fn walk(tree: &Ordered, path: &mut Vec<String>, out: &mut Vec<(Vec<String>, String)>) {
        match tree {
            Ordered::Map(entries) => {
                for (key, item) in entries {
                    path.push(key.clone());
                    walk(item, path, out);
                    path.pop();
                }
            }
            Ordered::Leaf(_) => out.push((path.clone(), env_name(path))),
        }
    }
    let mut out = Vec::new();
    // Serialising the defaults cannot fail: no default path is non-UTF-8.
    if let Ok(defaults) = ordered(&Config::default()) {
        walk(&defaults, &mut Vec::new(), &mut out);
    }
    out
}

/// The top-level sections, e.g. `rules`, `kubernetes`, `logging`.
pub(crate) fn section_names() -> Vec<String> {
    match ordered(&Config::default()) {
        Ok(Ordered::Map(entries)) => entries.into_iter().map(|(key, _)| key).collect(),
        _ => Vec::new(),
    }
}

/// A configuration as JSON values in the order of the struct fields, the order people read.
#[derive(Debug)]
pub(crate) enum Ordered {
    Map(Vec<(String, Ordered)>),
    /// A scalar or a list.
    Leaf(Json),
}

/// `config` in field order. The values come from `serde_json` (exact types), whose maps are
/// sorted; the order comes from serialising the same value to YAML, which keeps it, and reading
/// that back. Should that fail, the order falls back to sorted.
pub(crate) fn ordered(config: &Config) -> std::result::Result<Ordered, serde_json::Error> {
    fn merge(json: Json, shape: Option<&FileValue>) -> Ordered {
        let Json::Object(mut entries) = json else { return Ordered::Leaf(json) };
        let shape = match shape {
            Some(FileValue::Map(shape)) => shape.as_slice(),
            _ => &[],
        };
        let mut ordered = Vec::with_capacity(entries.len());
        for (key, child) in shape {
            if let Some(value) = entries.remove(&key.value) {
                ordered.push((key.value.clone(), merge(value, Some(&child.value))));
            }
        }
        // Keys the shape did not have (none, unless serialising to YAML failed), sorted.
        ordered.extend(entries.into_iter().map(|(key, value)| (key, merge(value, None))));
        Ordered::Map(ordered)
    }
    let json = serde_json::to_value(config)?;
    let shape =
        serde_saphyr::to_string(config).ok().and_then(|yaml| serde_saphyr::from_str::<Spanned<FileValue>>(&yaml).ok());
    Ok(merge(json, shape.as_ref().map(|shape| &shape.value)))
}

/// `PORTAL_` + the path in upper snake case (`camelCase` keys become `CAMEL_CASE`).
fn env_name(path: &[String]) -> String {
    let mut name = String::from("PORTAL");
    for key in path {
        name.push('_');
        for (index, c) in key.chars().enumerate() {
            if c.is_ascii_uppercase() && index > 0 {
                name.push('_');
            }
            name.push(if c == '-' { '_' } else { c.to_ascii_uppercase() });
        }
    }
    name
}

/// Sets every `PORTAL_*` variable of `env` on the tree; any other variable is ignored. An
/// unknown `PORTAL_*` variable is an error: a typo would otherwise be silently ignored.
pub(crate) fn apply_env(root: &mut Node, env: impl IntoIterator<Item = (String, String)>) -> Result<()> {
    let settings = settings();
    // Sorted, so the outcome does not depend on the order of the environment.
    let mut env: Vec<(String, String)> = env.into_iter().filter(|(name, _)| name.starts_with("PORTAL_")).collect();
    env.sort();
    for (name, value) in env {
        if OTHER_ENV_VARS.contains(&name.as_str()) {
            continue;
        }
        let Some((path, _)) = settings.iter().find(|(_, env_name)| *env_name == name) else {
            let names: Vec<&str> = settings.iter().map(|(_, name)| name.as_str()).collect();
            return Err(Error::UnknownEnvironmentVariable {
                suggestion: closest(&name, &names).map(str::to_owned),
                name,
                valid: names.join(", "),
                ignored: OTHER_ENV_VARS.join(", "),
            });
        };
        root.set(path, Node { source: Source::Env { name }, value: Value::Text(value) });
    }
    Ok(())
}

/// The name within a small edit distance of `name`, if any: typos, not guesses.
fn closest<'a>(name: &str, names: &[&'a str]) -> Option<&'a str> {
    names
        .iter()
        .map(|candidate| (edit_distance(name, candidate), *candidate))
        .filter(|(distance, _)| *distance <= 3)
        .min()
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance over bytes (the names are ASCII).
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

// ---------------------------------------------------------------------------------------------
// Flags

/// Sets every flag that was given on the tree.
pub(crate) fn apply_overrides(root: &mut Node, overrides: &Overrides) -> Result<()> {
    for (flag, path, json) in overrides.entries() {
        let source = Source::Flag { name: flag };
        let json =
            json.map_err(|message| Error::InvalidSetting { origin: source.clone(), path: path.join("."), message })?;
        let path: Vec<String> = path.iter().map(|key| (*key).to_owned()).collect();
        root.set(&path, Node::from_json(json, &source));
    }
    Ok(())
}

/// Makes relative paths written in the file relative to the file's directory, the way
/// kubeconfig files and Prometheus rule files are read; paths from the environment and flags
/// stay relative to the working directory.
pub(crate) fn resolve_file_paths(config: &mut Config, file: &Path) {
    let Some(dir) = file.parent().filter(|dir| !dir.as_os_str().is_empty()) else { return };
    let from_file = |config: &Config, path: &str| matches!(config.source(path), Source::File { .. });
    let resolve = |path: &mut PathBuf| {
        if path.is_relative() {
            *path = dir.join(&*path);
        }
    };
    if from_file(config, "rules.folders") {
        config.rules.folders.iter_mut().for_each(resolve);
    }
    if from_file(config, "kubernetes.kubeconfig")
        && let Some(kubeconfig) = &mut config.kubernetes.kubeconfig
    {
        resolve(kubeconfig);
    }
    // An empty path stays empty, for validation to reject (joined, it would name the directory).
    let resolve_non_empty = |path: &mut PathBuf| {
        if !path.as_os_str().is_empty() {
            resolve(path);
        }
    };
    if from_file(config, "admission.certFile") {
        resolve_non_empty(&mut config.admission.cert_file);
    }
    if from_file(config, "admission.keyFile") {
        resolve_non_empty(&mut config.admission.key_file);
    }
}
