//! `cargo xtask public-api [--check]`: the public API of each published library crate, one
//! item per line, in `crates/<crate>/public-api.txt`. The listing is read from rustdoc's JSON
//! output (`--output-format json`, an unstable rustdoc flag, enabled on the pinned stable
//! toolchain with `RUSTC_BOOTSTRAP=1`, as cargo-semver-checks does). `--check` (run by `cargo
//! xtask test`) fails when a crate's API differs from its committed listing, so removing or
//! changing a public item is a visible, deliberate act: regenerate the file and commit it.

use std::collections::BTreeSet;
use std::fs;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::cmd::cargo_with_env;
use crate::project::{project_root, target_dir};

/// The library crates published for other tools to depend on (docs/embedding.md).
pub const PUBLISHED_CRATES: &[&str] = &["portal-cel", "portal-yaml", "portal-rules", "portal-report", "portal-network"];

/// The rustdoc JSON format the listing understands; another toolchain's format is refused
/// rather than misread.
const FORMAT_VERSION: u64 = 57;

const LISTING: &str = "public-api.txt";

pub fn main(args: &[String]) -> Result<()> {
    let check = match args {
        [] => false,
        [flag] if flag == "--check" => true,
        _ => bail!("usage: cargo xtask public-api [--check]"),
    };
    let mut drifted = Vec::new();
    for krate in PUBLISHED_CRATES {
        let listing = listing(krate)?;
        let file = project_root().join("crates").join(krate).join(LISTING);
        let committed = fs::read_to_string(&file).unwrap_or_default();
        if committed == listing {
            continue;
        }
        if check {
            drifted.push(describe_drift(krate, &committed, &listing));
        } else {
            fs::write(&file, &listing).with_context(|| format!("writing {}", file.display()))?;
            eprintln!("public-api: wrote {}", file.display());
        }
    }
    if !drifted.is_empty() {
        bail!(
            "the public API changed:\n{}\nIf that is deliberate (a removal or a changed signature breaks the crates' users: \
             bump the version accordingly), run `cargo xtask public-api` and commit the listings.",
            drifted.join("\n")
        );
    }
    if check {
        eprintln!("public-api: {} match their committed listings", PUBLISHED_CRATES.join(", "));
    }
    Ok(())
}

fn describe_drift(krate: &str, committed: &str, current: &str) -> String {
    let before: BTreeSet<&str> = committed.lines().collect();
    let after: BTreeSet<&str> = current.lines().collect();
    let mut text = format!("{krate} (crates/{krate}/{LISTING}):");
    for removed in before.difference(&after) {
        text.push_str(&format!("\n  - {removed}"));
    }
    for added in after.difference(&before) {
        text.push_str(&format!("\n  + {added}"));
    }
    text
}

/// The public API of `krate`, sorted, one item per line.
fn listing(krate: &str) -> Result<String> {
    let bootstrap = std::ffi::OsStr::new("1");
    cargo_with_env(
        &[
            "rustdoc",
            "--quiet",
            "--locked",
            "-p",
            krate,
            "--lib",
            "--",
            "-Z",
            "unstable-options",
            "--output-format",
            "json",
        ],
        &[("RUSTC_BOOTSTRAP", bootstrap)],
    )?;
    let json = target_dir().join("doc").join(format!("{}.json", krate.replace('-', "_")));
    let text = fs::read_to_string(&json).with_context(|| format!("reading {}", json.display()))?;
    let doc: Value = serde_json::from_str(&text).with_context(|| format!("parsing {}", json.display()))?;
    let version = doc["format_version"].as_u64().unwrap_or_default();
    if version != FORMAT_VERSION {
        bail!(
            "{}: rustdoc JSON format {version}, but xtask/src/public_api.rs reads format {FORMAT_VERSION}; \
             update it with the toolchain",
            json.display()
        );
    }
    let mut lines = BTreeSet::new();
    let root = doc["root"].to_string();
    let names = Names { paths: &doc["paths"] };
    Lister { index: &doc["index"], names, lines: &mut lines }.item(&root, "", None)?;
    Ok(lines.into_iter().map(|line| line + "\n").collect())
}

struct Lister<'a> {
    index: &'a Value,
    names: Names<'a>,
    lines: &'a mut BTreeSet<String>,
}

impl Lister<'_> {
    fn get(&self, id: &str) -> Option<&Value> {
        self.index.get(id)
    }

    /// Lists the item `id` reached as `prefix::name` (or as `prefix` itself for the crate), or as
    /// `prefix::alias` when it is re-exported under another name.
    fn item(&mut self, id: &str, prefix: &str, alias: Option<&str>) -> Result<()> {
        let Some(item) = self.get(id).cloned() else { return Ok(()) };
        let name = alias.unwrap_or_else(|| item["name"].as_str().unwrap_or_default());
        let path = if prefix.is_empty() { name.to_owned() } else { format!("{prefix}::{name}") };
        let Some((kind, inner)) = item["inner"].as_object().and_then(|inner| inner.iter().next()) else {
            return Ok(());
        };
        match kind.as_str() {
            "module" => {
                if !prefix.is_empty() {
                    self.lines.insert(format!("pub mod {path}"));
                }
                for child in ids(&inner["items"]) {
                    if self.get(&child).is_some_and(|c| c["visibility"] == "public") {
                        self.item(&child, &path, None)?;
                    }
                }
            }
            "use" => {
                let target = inner["id"].to_string();
                let alias = inner["name"].as_str().unwrap_or_default();
                match self.get(&target).cloned() {
                    Some(target_item) if inner["is_glob"] == true => {
                        for child in ids(&target_item["inner"]["module"]["items"]) {
                            self.item(&child, prefix, None)?;
                        }
                    }
                    Some(_) => self.item(&target, prefix, Some(alias))?,
                    None => {
                        self.lines
                            .insert(format!("pub use {prefix}::{alias} = {}", inner["source"].as_str().unwrap_or("?")));
                    }
                }
            }
            "function" => {
                self.lines.insert(format!("pub {}fn {path}{}", header(&inner["header"]), self.names.signature(inner)));
            }
            "constant" => {
                self.lines.insert(format!("pub const {path}: {}", self.names.ty(&inner["type"])));
            }
            "static" => {
                self.lines.insert(format!("pub static {path}: {}", self.names.ty(&inner["type"])));
            }
            "type_alias" => {
                self.lines.insert(format!(
                    "pub type {path}{} = {}",
                    self.names.generics(&inner["generics"]),
                    self.names.ty(&inner["type"])
                ));
            }
            "struct" => {
                // Private fields and #[non_exhaustive] keep users from writing the struct out.
                let closed = inner["kind"]["plain"]["has_stripped_fields"] == true
                    || inner["kind"]["tuple"].as_array().is_some_and(|fields| fields.iter().any(Value::is_null))
                    || non_exhaustive(&item);
                let closed = if closed { " { .. }" } else { "" };
                self.lines.insert(format!("pub struct {path}{}{closed}", self.names.generics(&inner["generics"])));
                let kind = &inner["kind"];
                if let Some(fields) = kind.get("plain") {
                    for field in ids(&fields["fields"]) {
                        self.field(&field, &path);
                    }
                } else if let Some(fields) = kind.get("tuple") {
                    for (position, field) in fields.as_array().into_iter().flatten().enumerate() {
                        if let Some(field) = self.get(&field.to_string()).cloned()
                            && field["visibility"] == "public"
                        {
                            self.lines.insert(format!(
                                "pub {path}.{position}: {}",
                                self.names.ty(&field["inner"]["struct_field"])
                            ));
                        }
                    }
                }
                self.impls(&inner["impls"], &path);
            }
            "enum" => {
                let closed = if non_exhaustive(&item) { " { .. }" } else { "" };
                self.lines.insert(format!("pub enum {path}{}{closed}", self.names.generics(&inner["generics"])));
                for variant in ids(&inner["variants"]) {
                    self.variant(&variant, &path);
                }
                self.impls(&inner["impls"], &path);
            }
            "trait" => {
                let supertraits = self.names.bounds(&inner["bounds"]);
                let supertraits = if supertraits.is_empty() { String::new() } else { format!(": {supertraits}") };
                self.lines.insert(format!("pub trait {path}{}{supertraits}", self.names.generics(&inner["generics"])));
                for member in ids(&inner["items"]) {
                    if let Some(member) = self.get(&member).cloned() {
                        let name = member["name"].as_str().unwrap_or_default();
                        if let Some(function) = member["inner"].get("function") {
                            self.lines.insert(format!("{path}::{name}{}", self.names.signature(function)));
                        } else {
                            self.lines.insert(format!("{path}::{name}"));
                        }
                    }
                }
            }
            "macro" => {
                self.lines.insert(format!("pub macro {path}!"));
            }
            other => {
                self.lines.insert(format!("pub {other} {path}"));
            }
        }
        Ok(())
    }

    fn field(&mut self, id: &str, owner: &str) {
        if let Some(field) = self.get(id)
            && field["visibility"] == "public"
        {
            let name = field["name"].as_str().unwrap_or_default();
            let line = format!("pub {owner}.{name}: {}", self.names.ty(&field["inner"]["struct_field"]));
            self.lines.insert(line);
        }
    }

    fn variant(&mut self, id: &str, owner: &str) {
        let Some(variant) = self.get(id).cloned() else { return };
        let name = variant["name"].as_str().unwrap_or_default();
        let kind = &variant["inner"]["variant"]["kind"];
        let fields = if let Some(plain) = kind.get("struct") {
            let names: Vec<String> = ids(&plain["fields"])
                .iter()
                .filter_map(|field| self.get(field))
                .map(|field| {
                    format!(
                        "{}: {}",
                        field["name"].as_str().unwrap_or_default(),
                        self.names.ty(&field["inner"]["struct_field"])
                    )
                })
                .collect();
            format!(" {{ {} }}", names.join(", "))
        } else if let Some(tuple) = kind.get("tuple") {
            let types: Vec<String> = tuple
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|field| self.get(&field.to_string()))
                .map(|field| self.names.ty(&field["inner"]["struct_field"]))
                .collect();
            format!("({})", types.join(", "))
        } else {
            String::new()
        };
        self.lines.insert(format!("{owner}::{name}{fields}"));
    }

    /// Inherent methods and constants, and the traits implemented (not the auto traits or the
    /// blanket implementations every type gets).
    fn impls(&mut self, impls: &Value, owner: &str) {
        for id in ids(impls) {
            let Some(block) = self.get(&id).cloned() else { continue };
            let block = &block["inner"]["impl"];
            if !block["blanket_impl"].is_null() {
                continue;
            }
            // Of the auto traits, the two users rely on: a type that stops being Send or Sync
            // breaks them.
            if block["is_synthetic"] == true {
                let name = block["trait"]["path"].as_str().unwrap_or_default();
                if ["Send", "Sync"].contains(&name) && block["is_negative"] != true {
                    self.lines.insert(format!("impl {name} for {owner}"));
                }
                continue;
            }
            if let Some(trait_path) = block.get("trait").filter(|t| !t.is_null()) {
                // The compiler's marker for a derived PartialEq, not something a user names.
                if trait_path["path"] != "StructuralPartialEq" {
                    self.lines.insert(format!("impl {} for {owner}", self.names.path(trait_path)));
                }
                continue;
            }
            for member in ids(&block["items"]) {
                let Some(member) = self.get(&member).cloned() else { continue };
                if member["visibility"] != "public" {
                    continue;
                }
                let name = member["name"].as_str().unwrap_or_default();
                if let Some(function) = member["inner"].get("function") {
                    self.lines.insert(format!(
                        "pub {}fn {owner}::{name}{}",
                        header(&function["header"]),
                        self.names.signature(function)
                    ));
                } else if let Some(constant) = member["inner"].get("assoc_const") {
                    self.lines.insert(format!("pub const {owner}::{name}: {}", self.names.ty(&constant["type"])));
                }
            }
        }
    }
}

fn non_exhaustive(item: &Value) -> bool {
    item["attrs"].to_string().contains("non_exhaustive")
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array().into_iter().flatten().map(Value::to_string).collect()
}

fn header(header: &Value) -> String {
    let mut text = String::new();
    for (flag, word) in [("is_const", "const "), ("is_async", "async "), ("is_unsafe", "unsafe ")] {
        if header[flag] == true {
            text.push_str(word);
        }
    }
    text
}

/// How types are written: local items by name, prelude types by name, other crates' items by
/// their full path (`std::io::error::Error` and the crate's own `Error` differ).
#[derive(Clone, Copy)]
struct Names<'a> {
    paths: &'a Value,
}

/// Names every Rust file can use unqualified.
const PRELUDE: &[&str] = &["Option", "Result", "String", "Vec", "Box", "Some", "None", "Ok", "Err"];

impl Names<'_> {
    fn signature(&self, function: &Value) -> String {
        let inputs: Vec<String> = function["sig"]["inputs"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|input| {
                let name = input[0].as_str().unwrap_or("_");
                let ty = self.ty(&input[1]);
                match (name, ty.as_str()) {
                    ("self", "Self") => "self".to_owned(),
                    ("self", "&Self") => "&self".to_owned(),
                    ("self", "&mut Self") => "&mut self".to_owned(),
                    _ => format!("{name}: {ty}"),
                }
            })
            .collect();
        let output = &function["sig"]["output"];
        let arrow = if output.is_null() { String::new() } else { format!(" -> {}", self.ty(output)) };
        format!(
            "{}({}){arrow}{}",
            self.generics(&function["generics"]),
            inputs.join(", "),
            self.where_clause(&function["generics"])
        )
    }

    fn generics(&self, generics: &Value) -> String {
        let params: Vec<String> = generics["params"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|param| param["kind"]["type"]["is_synthetic"] != true)
            .map(|param| {
                let name = param["name"].as_str().unwrap_or_default();
                match param["kind"].get("type") {
                    Some(kind) => {
                        let bounds = self.bounds(&kind["bounds"]);
                        if bounds.is_empty() { name.to_owned() } else { format!("{name}: {bounds}") }
                    }
                    None => name.to_owned(),
                }
            })
            .collect();
        if params.is_empty() { String::new() } else { format!("<{}>", params.join(", ")) }
    }

    fn where_clause(&self, generics: &Value) -> String {
        let predicates: Vec<String> = generics["where_predicates"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|predicate| predicate.get("bound_predicate"))
            .map(|bound| format!("{}: {}", self.ty(&bound["type"]), self.bounds(&bound["bounds"])))
            .collect();
        if predicates.is_empty() { String::new() } else { format!(" where {}", predicates.join(", ")) }
    }

    fn bounds(&self, bounds: &Value) -> String {
        let list: Vec<String> = bounds
            .as_array()
            .into_iter()
            .flatten()
            .map(|bound| match (bound.get("trait_bound"), bound.get("outlives")) {
                (Some(trait_bound), _) => self.path(&trait_bound["trait"]),
                (None, Some(lifetime)) => lifetime.as_str().unwrap_or_default().to_owned(),
                (None, None) => "?".to_owned(),
            })
            .collect();
        list.join(" + ")
    }

    /// A path as its last segment with its generic arguments: `BTreeMap<String, String>`. The
    /// module it was written through changes with imports, not with the API.
    fn path(&self, path: &Value) -> String {
        let written = path["path"].as_str().unwrap_or_default();
        let name = written.rsplit("::").next().unwrap_or(written);
        let known = &self.paths[path["id"].to_string()];
        let name = match known["path"].as_array() {
            Some(segments) if known["crate_id"] != 0 && !PRELUDE.contains(&name) => {
                segments.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("::")
            }
            _ => name.to_owned(),
        };
        format!("{name}{}", self.generic_args(&path["args"]))
    }

    fn generic_args(&self, args: &Value) -> String {
        if let Some(angle) = args.get("angle_bracketed") {
            let mut list: Vec<String> = angle["args"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|arg| match (arg.get("type"), arg.get("lifetime")) {
                    (Some(t), _) => self.ty(t),
                    (None, Some(lifetime)) => lifetime.as_str().unwrap_or_default().to_owned(),
                    (None, None) => "_".to_owned(),
                })
                .collect();
            for constraint in angle["constraints"].as_array().into_iter().flatten() {
                let name = constraint["name"].as_str().unwrap_or_default();
                match constraint["binding"].get("equality").and_then(|e| e.get("type")) {
                    Some(t) => list.push(format!("{name} = {}", self.ty(t))),
                    None => list.push(format!("{name}: {}", self.bounds(&constraint["binding"]["constraint"]))),
                }
            }
            if list.is_empty() { String::new() } else { format!("<{}>", list.join(", ")) }
        } else if let Some(parenthesized) = args.get("parenthesized") {
            let inputs: Vec<String> =
                parenthesized["inputs"].as_array().into_iter().flatten().map(|t| self.ty(t)).collect();
            let output = &parenthesized["output"];
            let arrow = if output.is_null() { String::new() } else { format!(" -> {}", self.ty(output)) };
            format!("({}){arrow}", inputs.join(", "))
        } else {
            String::new()
        }
    }

    fn ty(&self, ty: &Value) -> String {
        let Some((kind, inner)) = ty.as_object().and_then(|t| t.iter().next()) else { return "?".to_owned() };
        match kind.as_str() {
            "resolved_path" => self.path(inner),
            "generic" | "primitive" => inner.as_str().unwrap_or_default().to_owned(),
            "tuple" => {
                let items: Vec<String> = inner.as_array().into_iter().flatten().map(|t| self.ty(t)).collect();
                format!("({})", items.join(", "))
            }
            "slice" => format!("[{}]", self.ty(inner)),
            "array" => format!("[{}; {}]", self.ty(&inner["type"]), inner["len"].as_str().unwrap_or("_")),
            "borrowed_ref" => {
                let lifetime = inner["lifetime"].as_str().map(|l| format!("{l} ")).unwrap_or_default();
                let mutable = if inner["is_mutable"] == true { "mut " } else { "" };
                format!("&{lifetime}{mutable}{}", self.ty(&inner["type"]))
            }
            "raw_pointer" => {
                let mutable = if inner["is_mutable"] == true { "mut" } else { "const" };
                format!("*{mutable} {}", self.ty(&inner["type"]))
            }
            "impl_trait" => format!("impl {}", self.bounds(inner)),
            "dyn_trait" => {
                let traits: Vec<String> =
                    inner["traits"].as_array().into_iter().flatten().map(|t| self.path(&t["trait"])).collect();
                format!("dyn {}", traits.join(" + "))
            }
            "qualified_path" => {
                let name = inner["name"].as_str().unwrap_or_default();
                let self_type = self.ty(&inner["self_type"]);
                match inner.get("trait").filter(|t| !t.is_null()) {
                    Some(trait_path) => format!("<{self_type} as {}>::{name}", self.path(trait_path)),
                    None => format!("{self_type}::{name}"),
                }
            }
            "function_pointer" => {
                let sig = &inner["sig"];
                let inputs: Vec<String> =
                    sig["inputs"].as_array().into_iter().flatten().map(|input| self.ty(&input[1])).collect();
                let output =
                    if sig["output"].is_null() { String::new() } else { format!(" -> {}", self.ty(&sig["output"])) };
                format!("fn({}){output}", inputs.join(", "))
            }
            "infer" => "_".to_owned(),
            other => format!("<{other}>"),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn types_render_as_written() {
        let map: Value = serde_json::from_str(
            r#"{"resolved_path": {"path": "std::collections::BTreeMap", "id": 1, "args": {"angle_bracketed":
                {"args": [{"type": {"primitive": "u8"}}, {"type": {"borrowed_ref": {"lifetime": "'a",
                "is_mutable": false, "type": {"primitive": "str"}}}}], "constraints": []}}}}"#,
        )
        .unwrap();
        assert_eq!(Names { paths: &Value::Null }.ty(&map), "BTreeMap<u8, &'a str>");
    }

    #[test]
    fn the_published_crates_exist() {
        for krate in PUBLISHED_CRATES {
            assert!(Path::new(&project_root().join("crates").join(krate).join("Cargo.toml")).is_file(), "{krate}");
        }
    }
}
