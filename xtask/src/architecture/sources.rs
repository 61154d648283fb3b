//! The Rust sources of a crate as the compiler sees them: from each crate root (`src/lib.rs`,
//! `src/main.rs`, `src/bin/*.rs`) through the `mod` declarations to the files they name, each
//! parsed with syn, and which of them is compiled for tests only.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, ensure};
use syn::punctuated::Punctuated;
use syn::{Attribute, Expr, Item, Lit, Meta, Token};

/// The sources of one crate (one package's `src/`).
#[derive(Debug)]
pub struct CrateSources {
    pub files: Vec<SourceFile>,
    /// One module tree per crate root: module path (`[]` for the root) → module, inline
    /// modules included.
    pub trees: Vec<BTreeMap<Vec<String>, Module>>,
}

/// One parsed `.rs` file.
pub struct SourceFile {
    /// Relative to the workspace root, with `/`.
    pub path: String,
    /// The index of its module tree in [`CrateSources::trees`].
    pub tree: usize,
    /// The module the file holds, from its crate root.
    pub module: Vec<String>,
    /// Compiled for tests only: declared by a `#[cfg(test)] mod` (or inside one).
    pub test_only: bool,
    /// Reached from a crate root through `mod` declarations. A file under `src/` that nothing
    /// declares is read all the same, as the root of a tree of its own.
    pub declared: bool,
    pub syntax: syn::File,
}

impl std::fmt::Debug for SourceFile {
    /// Everything but the syntax tree (syn prints one only with its `extra-traits` feature).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceFile")
            .field("path", &self.path)
            .field("tree", &self.tree)
            .field("module", &self.module)
            .field("test_only", &self.test_only)
            .field("declared", &self.declared)
            .finish_non_exhaustive()
    }
}

/// A module of a tree.
#[derive(Debug, Clone)]
pub struct Module {
    /// The index of the file that holds it in [`CrateSources::files`].
    pub file: usize,
}

impl CrateSources {
    /// Reads and parses every `.rs` file under `<root>/<dir>/src`.
    pub fn read(root: &Path, dir: &str) -> Result<Self> {
        let src = root.join(dir).join("src");
        ensure!(src.is_dir(), "{dir}/src does not exist");
        let mut texts = BTreeMap::new();
        let mut stack = vec![src];
        while let Some(folder) = stack.pop() {
            for entry in std::fs::read_dir(&folder).with_context(|| format!("reading {}", folder.display()))? {
                let path = entry?.path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let relative = path.strip_prefix(root.join(dir))?.to_string_lossy().replace('\\', "/");
                    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
                    texts.insert(relative, text);
                }
            }
        }
        Self::from_texts(dir, texts)
    }

    /// The crate at `dir` whose files (paths relative to `dir`, such as `src/lib.rs`) hold `texts`.
    pub fn from_texts(dir: &str, texts: BTreeMap<String, String>) -> Result<Self> {
        let mut loader = Loader { dir, texts, sources: Self { files: Vec::new(), trees: Vec::new() } };
        let mut roots: Vec<String> = ["src/lib.rs", "src/main.rs"]
            .into_iter()
            .filter(|r| loader.texts.contains_key(*r))
            .map(str::to_owned)
            .collect();
        roots.extend(loader.texts.keys().filter(|p| p.starts_with("src/bin/") && p.matches('/').count() == 2).cloned());
        ensure!(!roots.is_empty(), "{dir} has neither src/lib.rs nor src/main.rs");
        for root in roots {
            loader.add_tree(&root, true)?;
        }
        let undeclared: Vec<String> = loader
            .texts
            .keys()
            .filter(|p| !loader.sources.files.iter().any(|f| f.path == format!("{dir}/{p}")))
            .cloned()
            .collect();
        for path in undeclared {
            loader.add_tree(&path, false)?;
        }
        Ok(loader.sources)
    }

    /// The file that holds module `module` of tree `tree`.
    pub fn module(&self, tree: usize, module: &[String]) -> Option<&Module> {
        self.trees.get(tree)?.get(module)
    }
}

struct Loader<'a> {
    dir: &'a str,
    texts: BTreeMap<String, String>,
    sources: CrateSources,
}

impl Loader<'_> {
    fn add_tree(&mut self, path: &str, declared: bool) -> Result<()> {
        let tree = self.sources.trees.len();
        self.sources.trees.push(BTreeMap::new());
        let children = parent_of(path).to_owned();
        self.add_file(path, tree, Vec::new(), false, declared, &children)
    }

    /// Parses the file at `path` (relative to the crate), which holds `module`, whose child
    /// modules' files are in the folder `children`, and the files its `mod` declarations name.
    fn add_file(
        &mut self,
        path: &str,
        tree: usize,
        module: Vec<String>,
        test_only: bool,
        declared: bool,
        children: &str,
    ) -> Result<()> {
        let text = &self.texts[path];
        let full_path = format!("{}/{path}", self.dir);
        let syntax = syn::parse_file(text).map_err(|e| {
            let at = e.span().start();
            anyhow::anyhow!("{full_path}:{}:{}: {e}", at.line, at.column + 1)
        })?;
        let mut declarations = Vec::new();
        collect_mods(&syntax.items, &module, children, parent_of(path), test_only, &mut declarations);
        let file = self.sources.files.len();
        self.sources.files.push(SourceFile {
            path: full_path,
            tree,
            module: module.clone(),
            test_only,
            declared,
            syntax,
        });
        self.sources.trees[tree].insert(module, Module { file });
        for declaration in declarations {
            match declaration.place {
                Place::Inline => {
                    let module = Module { file };
                    self.sources.trees[tree].insert(declaration.module, module);
                }
                Place::Files(candidates) => {
                    // A declaration without a file does not compile; cargo says so, not this.
                    let Some(found) = candidates.into_iter().find(|c| self.texts.contains_key(c)) else { continue };
                    let children = if found.ends_with("/mod.rs") || declaration.path_attribute {
                        parent_of(&found).to_owned()
                    } else {
                        found.trim_end_matches(".rs").to_owned()
                    };
                    self.add_file(&found, tree, declaration.module, declaration.test_only, declared, &children)?;
                }
            }
        }
        Ok(())
    }
}

struct ModDeclaration {
    module: Vec<String>,
    place: Place,
    test_only: bool,
    path_attribute: bool,
}

enum Place {
    /// `mod name { … }`.
    Inline,
    /// `mod name;`: the files it may be in, first match wins.
    Files(Vec<String>),
}

/// The `mod` declarations among `items` of `module` and of its inline modules, recursively.
/// `children` is the folder of the module's child module files, `here` the folder of the file.
fn collect_mods(
    items: &[Item],
    module: &[String],
    children: &str,
    here: &str,
    test_only: bool,
    out: &mut Vec<ModDeclaration>,
) {
    for item in items {
        let Item::Mod(declaration) = item else { continue };
        let name = declaration.ident.to_string();
        let name = name.trim_start_matches("r#");
        let test_only = test_only || is_test_only(&declaration.attrs);
        let child: Vec<String> = module.iter().cloned().chain([name.to_owned()]).collect();
        let path_attribute = path_attribute(&declaration.attrs);
        match &declaration.content {
            Some((_, items)) => {
                out.push(ModDeclaration {
                    module: child.clone(),
                    place: Place::Inline,
                    test_only,
                    path_attribute: false,
                });
                collect_mods(items, &child, &format!("{children}/{name}"), here, test_only, out);
            }
            None => {
                let candidates = match &path_attribute {
                    Some(path) => vec![normalise(&format!("{here}/{path}"))],
                    None => vec![format!("{children}/{name}.rs"), format!("{children}/{name}/mod.rs")],
                };
                out.push(ModDeclaration {
                    module: child,
                    place: Place::Files(candidates),
                    test_only,
                    path_attribute: path_attribute.is_some(),
                });
            }
        }
    }
}

/// The value of a `#[path = "…"]` attribute.
fn path_attribute(attrs: &[Attribute]) -> Option<String> {
    attrs.iter().find(|a| a.path().is_ident("path")).and_then(|a| match &a.meta {
        Meta::NameValue(nv) => match &nv.value {
            Expr::Lit(lit) => match &lit.lit {
                Lit::Str(s) => Some(s.value()),
                _ => None,
            },
            _ => None,
        },
        _ => None,
    })
}

/// `a/b/../c` → `a/c`.
fn normalise(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            _ => parts.push(part),
        }
    }
    parts.join("/")
}

fn parent_of(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(parent, _)| parent)
}

/// Whether attributes make an item exist in test builds only: `#[test]`, or a `#[cfg(…)]` that
/// cannot hold without `test` (`test`, `all(test, …)`, `any(test, test)`; not `not(test)`).
pub fn is_test_only(attrs: &[Attribute]) -> bool {
    attrs.iter().any(|attr| {
        if attr.path().is_ident("test") {
            return true;
        }
        attr.path().is_ident("cfg") && attr.parse_args::<Meta>().is_ok_and(|meta| requires_test(&meta))
    })
}

fn requires_test(predicate: &Meta) -> bool {
    match predicate {
        Meta::Path(path) => path.is_ident("test"),
        Meta::List(list) => {
            let Ok(inner) = list.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated) else { return false };
            if list.path.is_ident("all") {
                inner.iter().any(requires_test)
            } else if list.path.is_ident("any") {
                !inner.is_empty() && inner.iter().all(requires_test)
            } else {
                false
            }
        }
        Meta::NameValue(_) => false,
    }
}

/// The line a piece of syntax starts on (1-based).
pub fn line_of(span: proc_macro2::Span) -> usize {
    span.start().line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sources(files: &[(&str, &str)]) -> CrateSources {
        let texts = files.iter().map(|(p, t)| ((*p).to_owned(), (*t).to_owned())).collect();
        CrateSources::from_texts("crates/demo", texts).unwrap()
    }

    #[test]
    fn modules_are_found_where_the_compiler_looks_for_them() {
        let crate_ = sources(&[
            ("src/lib.rs", "mod a; pub mod b; #[cfg(test)] mod tests; mod inline { mod deep; }"),
            ("src/a.rs", "mod child;"),
            ("src/a/child.rs", ""),
            ("src/b/mod.rs", "#[path = \"../elsewhere.rs\"] mod moved;"),
            ("src/elsewhere.rs", ""),
            ("src/inline/deep.rs", ""),
            ("src/tests.rs", "use std::fs;"),
            ("src/orphan.rs", ""),
        ]);
        let found: Vec<(String, String, bool, bool)> =
            crate_.files.iter().map(|f| (f.path.clone(), f.module.join("::"), f.test_only, f.declared)).collect();
        let expected = [
            ("crates/demo/src/lib.rs", "", false, true),
            ("crates/demo/src/a.rs", "a", false, true),
            ("crates/demo/src/a/child.rs", "a::child", false, true),
            ("crates/demo/src/b/mod.rs", "b", false, true),
            ("crates/demo/src/elsewhere.rs", "b::moved", false, true),
            ("crates/demo/src/tests.rs", "tests", true, true),
            ("crates/demo/src/inline/deep.rs", "inline::deep", false, true),
            ("crates/demo/src/orphan.rs", "", false, false),
        ]
        .map(|(p, m, t, d)| (p.to_owned(), m.to_owned(), t, d));
        assert_eq!(found, expected);
        let inline = crate_.module(0, &["inline".to_owned()]).unwrap();
        assert_eq!(crate_.files[inline.file].path, "crates/demo/src/lib.rs");
    }

    #[test]
    fn test_only_attributes() {
        let attrs = |text: &str| syn::parse_str::<syn::ItemFn>(&format!("{text} fn f() {{}}")).unwrap().attrs;
        for yes in
            ["#[test]", "#[cfg(test)]", "#[cfg(all(test, feature = \"x\"))]", "#[cfg(any(test, all(test, unix)))]"]
        {
            assert!(is_test_only(&attrs(yes)), "{yes}");
        }
        for no in ["", "#[cfg(not(test))]", "#[cfg(any(test, unix))]", "#[cfg(feature = \"test\")]", "#[inline]"] {
            assert!(!is_test_only(&attrs(no)), "{no}");
        }
    }

    #[test]
    fn a_file_that_does_not_parse_is_an_error_with_its_place() {
        let texts = [("src/lib.rs".to_owned(), "fn f( {".to_owned())].into();
        let error = CrateSources::from_texts("crates/demo", texts).unwrap_err().to_string();
        assert!(error.starts_with("crates/demo/src/lib.rs:1:"), "{error}");
    }
}
