//! What a crate's code refers to, and where that lives. Every file's non-test code is walked
//! with syn: `use` trees flattened into one path per name (groups, renames, globs), and the paths
//! of expressions, types, patterns and macro arguments that parse as expressions. A path is then
//! made absolute inside the crate (`crate::…`, `self::`, `super::`, a child module, a name a
//! `use` brought in) or left external (`std::…`, another crate, a local name), and an absolute
//! path is traced to the module that defines it, through `use` re-exports and globs.
//!
//! The resolution is approximate, on purpose: a name is looked up among the items, child
//! modules, `use` names and globs of its module only (a `use` inside a function counts for the
//! whole module, shadowing by local names is ignored), and an item of a module that is neither
//! defined nor imported there counts as that module's. Macro arguments that are not expressions
//! and code that macros generate are not read.

use std::collections::{BTreeMap, BTreeSet};

use syn::punctuated::Punctuated;
use syn::visit::{self, Visit};
use syn::{Block, Expr, ImplItem, Item, Macro, Path, Stmt, Token, TraitItem, UseTree};

use super::sources::{CrateSources, SourceFile, is_test_only, line_of};

/// A path written in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The module it is written in (an inline module included).
    pub module: Vec<String>,
    /// As written, without a leading `::`.
    pub segments: Vec<String>,
    /// Written with a leading `::` (an external crate).
    pub leading_colon: bool,
    pub kind: Kind,
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A name a `use` (or `extern crate`) brings in; `None` for `as _`.
    Use(Option<String>),
    /// `use path::*`.
    Glob,
    /// A path in code.
    Code,
    /// The path of a macro invocation, `println` in `println!(…)`.
    Macro,
}

impl Reference {
    /// As written: `std::fs::*`, `super::x`, `println!`.
    pub fn written(&self) -> String {
        let path = format!("{}{}", if self.leading_colon { "::" } else { "" }, self.segments.join("::"));
        match self.kind {
            Kind::Glob => format!("{path}::*"),
            Kind::Macro => format!("{path}!"),
            Kind::Use(_) | Kind::Code => path,
        }
    }
}

/// Where a path leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Inside the crate: the path from the crate root, without `crate`.
    Internal(Vec<String>),
    /// Anything else, from its first segment: `std::fs::read`, `serde::Deserialize`, a local.
    External(Vec<String>),
}

/// A crate's sources with the references of their non-test code and the names each module
/// defines and imports.
#[derive(Debug)]
pub struct Crate {
    pub sources: CrateSources,
    /// The references of each file of `sources.files`, in the same order (none for test files).
    pub references: Vec<Vec<Reference>>,
    /// Per module tree: module → its names.
    scopes: Vec<BTreeMap<Vec<String>, Scope>>,
}

#[derive(Debug, Default)]
struct Scope {
    /// Items defined in the module (functions, types, constants, modules, macros, …).
    defines: BTreeSet<String>,
    /// Names brought in by `use`: name → path as written, and whether it had a leading `::`.
    uses: BTreeMap<String, (Vec<String>, bool)>,
    /// `use path::*`.
    globs: Vec<(Vec<String>, bool)>,
}

/// How deep re-exports are followed before giving up (a loop of `use`s does not compile anyway).
const MAX_DEPTH: usize = 16;

impl Crate {
    pub fn new(sources: CrateSources) -> Self {
        let mut references = Vec::new();
        let mut scopes: Vec<BTreeMap<Vec<String>, Scope>> = sources.trees.iter().map(|_| BTreeMap::new()).collect();
        for file in &sources.files {
            if file.test_only {
                references.push(Vec::new());
                continue;
            }
            let facts = collect(file);
            let tree = &mut scopes[file.tree];
            for (module, name) in facts.defines {
                tree.entry(module).or_default().defines.insert(name);
            }
            for reference in &facts.references {
                let scope = tree.entry(reference.module.clone()).or_default();
                let path = (reference.segments.clone(), reference.leading_colon);
                match &reference.kind {
                    Kind::Use(Some(name)) => {
                        scope.uses.entry(name.clone()).or_insert(path);
                    }
                    Kind::Glob => scope.globs.push(path),
                    Kind::Use(None) | Kind::Code | Kind::Macro => {}
                }
            }
            references.push(facts.references);
        }
        Self { sources, references, scopes }
    }

    /// Non-test files with their references.
    pub fn files(&self) -> impl Iterator<Item = (&SourceFile, &[Reference])> {
        self.sources.files.iter().zip(&self.references).filter(|(f, _)| !f.test_only).map(|(f, r)| (f, r.as_slice()))
    }

    /// Where `reference`, written in `file`, leads. A path in code names an item, never a module:
    /// one that leads to a module is a local variable of the same name (`let cluster = …`).
    pub fn target(&self, file: &SourceFile, reference: &Reference) -> Target {
        let target = self.normalise(file.tree, &reference.module, &reference.segments, reference.leading_colon, 0);
        match target {
            Target::Internal(path)
                if reference.kind == Kind::Code && self.sources.module(file.tree, &path).is_some() =>
            {
                Target::External(reference.segments.clone())
            }
            target => target,
        }
    }

    /// The file that defines what the absolute path `path` names, following re-exports; `None`
    /// when it is re-exported from outside the crate.
    pub fn file_of(&self, tree: usize, path: &[String]) -> Option<&SourceFile> {
        let module = self.locate(tree, path, 0)?;
        let module = self.sources.module(tree, &module)?;
        Some(&self.sources.files[module.file])
    }

    /// The module that defines what the absolute path `path` names (see [`Crate::file_of`]).
    pub fn locate(&self, tree: usize, path: &[String], depth: usize) -> Option<Vec<String>> {
        let mut module: Vec<String> = Vec::new();
        for (i, segment) in path.iter().enumerate() {
            let child: Vec<String> = module.iter().chain([segment]).cloned().collect();
            if self.sources.module(tree, &child).is_some() {
                module = child;
                continue;
            }
            let Some(scope) = self.scope(tree, &module) else { break };
            if scope.defines.contains(segment) || depth >= MAX_DEPTH {
                break;
            }
            if let Some((written, leading_colon)) = scope.uses.get(segment) {
                return match self.normalise(tree, &module, written, *leading_colon, depth + 1) {
                    Target::Internal(to) => self.locate(tree, &[to.as_slice(), &path[i + 1..]].concat(), depth + 1),
                    Target::External(_) => None,
                };
            }
            for (written, leading_colon) in &scope.globs {
                if let Target::Internal(glob) = self.normalise(tree, &module, written, *leading_colon, depth + 1)
                    && self.provides(tree, &glob, segment)
                {
                    return self.locate(tree, &[glob.as_slice(), &path[i..]].concat(), depth + 1);
                }
            }
            break;
        }
        Some(module)
    }

    fn normalise(
        &self,
        tree: usize,
        module: &[String],
        segments: &[String],
        leading_colon: bool,
        depth: usize,
    ) -> Target {
        let external = || Target::External(segments.to_vec());
        let Some(first) = segments.first() else { return external() };
        if leading_colon || depth > MAX_DEPTH || first == "Self" {
            return external();
        }
        if first == "crate" {
            return Target::Internal(segments[1..].to_vec());
        }
        if first == "self" || first == "super" {
            let mut base = module.to_vec();
            let mut rest = segments;
            while let Some(keyword) = rest.first().filter(|s| *s == "self" || *s == "super") {
                if keyword == "super" && base.pop().is_none() {
                    return external();
                }
                rest = &rest[1..];
            }
            return Target::Internal([base.as_slice(), rest].concat());
        }
        let child: Vec<String> = module.iter().chain([first]).cloned().collect();
        let scope = self.scope(tree, module);
        if self.sources.module(tree, &child).is_some() || scope.is_some_and(|s| s.defines.contains(first)) {
            return Target::Internal([module, segments].concat());
        }
        let Some(scope) = scope else { return external() };
        if let Some((written, leading)) = scope.uses.get(first) {
            return match self.normalise(tree, module, written, *leading, depth + 1) {
                Target::Internal(to) => Target::Internal([to.as_slice(), &segments[1..]].concat()),
                Target::External(to) => Target::External([to.as_slice(), &segments[1..]].concat()),
            };
        }
        for (written, leading) in &scope.globs {
            if let Target::Internal(glob) = self.normalise(tree, module, written, *leading, depth + 1)
                && self.provides(tree, &glob, first)
            {
                return Target::Internal([glob.as_slice(), segments].concat());
            }
        }
        external()
    }

    /// Whether module `module` has something called `name`.
    fn provides(&self, tree: usize, module: &[String], name: &str) -> bool {
        let child: Vec<String> = module.iter().cloned().chain([name.to_owned()]).collect();
        self.sources.module(tree, &child).is_some()
            || self.scope(tree, module).is_some_and(|s| s.defines.contains(name) || s.uses.contains_key(name))
    }

    fn scope(&self, tree: usize, module: &[String]) -> Option<&Scope> {
        self.scopes.get(tree)?.get(module)
    }
}

/// What one file defines and refers to.
#[derive(Debug, Default)]
struct Facts {
    /// (module, name) of the items defined at module level.
    defines: Vec<(Vec<String>, String)>,
    references: Vec<Reference>,
}

fn collect(file: &SourceFile) -> Facts {
    let mut collector = Collector { module: file.module.clone(), in_body: 0, facts: Facts::default() };
    for item in &file.syntax.items {
        collector.visit_item(item);
    }
    collector.facts
}

/// The syn visitor behind [`Crate::new`]: skips test-only items, tracks the module (inline
/// modules) and whether it is inside a function body.
struct Collector {
    module: Vec<String>,
    in_body: usize,
    facts: Facts,
}

impl Collector {
    fn push(&mut self, segments: Vec<String>, leading_colon: bool, kind: Kind, line: usize) {
        self.facts.references.push(Reference { module: self.module.clone(), segments, leading_colon, kind, line });
    }

    fn push_path(&mut self, path: &Path, kind: Kind) {
        let segments = path.segments.iter().map(|s| name(&s.ident)).collect();
        let span = match (&path.leading_colon, path.segments.first()) {
            (Some(colon), _) => colon.spans[0],
            (None, Some(first)) => first.ident.span(),
            (None, None) => return,
        };
        self.push(segments, path.leading_colon.is_some(), kind, line_of(span));
    }

    fn push_use(&mut self, tree: &UseTree, prefix: &mut Vec<String>, leading_colon: bool) {
        match tree {
            UseTree::Path(path) => {
                prefix.push(name(&path.ident));
                self.push_use(&path.tree, prefix, leading_colon);
                prefix.pop();
            }
            UseTree::Name(leaf) => {
                let line = line_of(leaf.ident.span());
                if leaf.ident == "self" {
                    let binding = prefix.last().cloned();
                    self.push(prefix.clone(), leading_colon, Kind::Use(binding), line);
                } else {
                    let binding = name(&leaf.ident);
                    let path = prefix.iter().cloned().chain([binding.clone()]).collect();
                    self.push(path, leading_colon, Kind::Use(Some(binding)), line);
                }
            }
            UseTree::Rename(rename) => {
                let line = line_of(rename.ident.span());
                let path: Vec<String> = prefix.iter().cloned().chain([name(&rename.ident)]).collect();
                let path = if rename.ident == "self" { prefix.clone() } else { path };
                let binding = Some(name(&rename.rename)).filter(|b| b != "_");
                self.push(path, leading_colon, Kind::Use(binding), line);
            }
            UseTree::Glob(glob) => self.push(prefix.clone(), leading_colon, Kind::Glob, line_of(glob.star_token.span)),
            UseTree::Group(group) => {
                for tree in &group.items {
                    self.push_use(tree, prefix, leading_colon);
                }
            }
        }
    }
}

impl<'ast> Visit<'ast> for Collector {
    fn visit_item(&mut self, item: &'ast Item) {
        if is_test_only(attributes(item)) {
            return;
        }
        if self.in_body == 0
            && let Some(defined) = defined_name(item)
        {
            self.facts.defines.push((self.module.clone(), defined));
        }
        match item {
            Item::Mod(declaration) => {
                if let Some((_, items)) = &declaration.content {
                    self.module.push(name(&declaration.ident));
                    let in_body = std::mem::replace(&mut self.in_body, 0);
                    for item in items {
                        self.visit_item(item);
                    }
                    self.in_body = in_body;
                    self.module.pop();
                }
            }
            Item::Use(use_item) => self.push_use(&use_item.tree, &mut Vec::new(), use_item.leading_colon.is_some()),
            Item::ExternCrate(extern_crate) => {
                let binding = extern_crate.rename.as_ref().map_or(&extern_crate.ident, |(_, rename)| rename);
                let line = line_of(extern_crate.ident.span());
                self.push(vec![name(&extern_crate.ident)], true, Kind::Use(Some(name(binding))), line);
            }
            // A `macro_rules!` body is a pattern language, not paths.
            Item::Macro(definition) if definition.ident.is_some() => {}
            _ => visit::visit_item(self, item),
        }
    }

    fn visit_block(&mut self, block: &'ast Block) {
        self.in_body += 1;
        visit::visit_block(self, block);
        self.in_body -= 1;
    }

    fn visit_stmt(&mut self, stmt: &'ast Stmt) {
        if let Stmt::Local(local) = stmt
            && is_test_only(&local.attrs)
        {
            return;
        }
        visit::visit_stmt(self, stmt);
    }

    fn visit_impl_item(&mut self, item: &'ast ImplItem) {
        let attrs = match item {
            ImplItem::Const(i) => &i.attrs,
            ImplItem::Fn(i) => &i.attrs,
            ImplItem::Type(i) => &i.attrs,
            ImplItem::Macro(i) => &i.attrs,
            _ => return visit::visit_impl_item(self, item),
        };
        if !is_test_only(attrs) {
            visit::visit_impl_item(self, item);
        }
    }

    fn visit_trait_item(&mut self, item: &'ast TraitItem) {
        let attrs = match item {
            TraitItem::Const(i) => &i.attrs,
            TraitItem::Fn(i) => &i.attrs,
            TraitItem::Type(i) => &i.attrs,
            TraitItem::Macro(i) => &i.attrs,
            _ => return visit::visit_trait_item(self, item),
        };
        if !is_test_only(attrs) {
            visit::visit_trait_item(self, item);
        }
    }

    fn visit_path(&mut self, path: &'ast Path) {
        self.push_path(path, Kind::Code);
        visit::visit_path(self, path);
    }

    /// The macro's path, then its arguments where they parse as expressions or statements.
    fn visit_macro(&mut self, mac: &'ast Macro) {
        self.push_path(&mac.path, Kind::Macro);
        if let Ok(arguments) = mac.parse_body_with(Punctuated::<Expr, Token![,]>::parse_terminated) {
            for argument in &arguments {
                self.visit_expr(argument);
            }
        } else if let Ok(statements) = mac.parse_body_with(Block::parse_within) {
            for statement in &statements {
                self.visit_stmt(statement);
            }
        }
    }

    /// `pub(in crate::x)`, `pub(super)`: visibility, not a reference.
    fn visit_visibility(&mut self, _: &'ast syn::Visibility) {}

    /// Attributes name derive macros and tool settings, not code of the crate.
    fn visit_attribute(&mut self, _: &'ast syn::Attribute) {}
}

fn name(ident: &syn::Ident) -> String {
    let text = ident.to_string();
    text.strip_prefix("r#").map_or_else(|| text.clone(), str::to_owned)
}

fn attributes(item: &Item) -> &[syn::Attribute] {
    match item {
        Item::Const(i) => &i.attrs,
        Item::Enum(i) => &i.attrs,
        Item::ExternCrate(i) => &i.attrs,
        Item::Fn(i) => &i.attrs,
        Item::ForeignMod(i) => &i.attrs,
        Item::Impl(i) => &i.attrs,
        Item::Macro(i) => &i.attrs,
        Item::Mod(i) => &i.attrs,
        Item::Static(i) => &i.attrs,
        Item::Struct(i) => &i.attrs,
        Item::Trait(i) => &i.attrs,
        Item::TraitAlias(i) => &i.attrs,
        Item::Type(i) => &i.attrs,
        Item::Union(i) => &i.attrs,
        Item::Use(i) => &i.attrs,
        _ => &[],
    }
}

/// The name an item defines in its module's namespace, if any (`use` names are kept apart).
fn defined_name(item: &Item) -> Option<String> {
    let ident = match item {
        Item::Const(i) => &i.ident,
        Item::Enum(i) => &i.ident,
        Item::Fn(i) => &i.sig.ident,
        Item::Macro(i) => i.ident.as_ref()?,
        Item::Mod(i) => &i.ident,
        Item::Static(i) => &i.ident,
        Item::Struct(i) => &i.ident,
        Item::Trait(i) => &i.ident,
        Item::TraitAlias(i) => &i.ident,
        Item::Type(i) => &i.ident,
        Item::Union(i) => &i.ident,
        _ => return None,
    };
    Some(name(ident))
}
