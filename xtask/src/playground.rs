//! `cargo xtask playground`: the rule playground, a static page that runs the real engine
//! (`bins/portal-playground`, `portal check` on text) compiled to WebAssembly, built into a
//! directory any static host or `file://` serves: `target/playground/` by default.
//!
//! The engine and the shipped examples are written into JavaScript files (`engine.js`,
//! `catalog.js`) rather than fetched, because browsers refuse `fetch` from `file://`.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use serde_json::{Value, json};

use crate::cmd::{cargo, run};
use crate::project::{project_root, target_dir};

/// The variable the playground test reads the built page's directory from.
pub const PLAYGROUND_ENV: &str = "PORTAL_PLAYGROUND";

const TARGET: &str = "wasm32-wasip1";
/// The page's own files, copied as they are from `playground/`.
const ASSETS: &[&str] = &["index.html", "playground.css", "playground.js", "wasi.js"];

pub fn main(args: &[String]) -> Result<()> {
    let out = match args {
        [] => target_dir().join("playground"),
        [flag, dir] if flag == "--out" => PathBuf::from(dir),
        _ => bail!("usage: cargo xtask playground [--out DIR]"),
    };
    build(&out)?;
    println!("{}", out.display());
    Ok(())
}

/// `cargo xtask bench playground`: the built page's engine in Node.js, outside a browser: how
/// long compiling the WebAssembly takes, and one check (instantiate, load and compile the rules,
/// evaluate, render JSON) of the restricted Pod Security Standards (with baseline) on the
/// violating example Pods, the median and fastest of 21. Prints the figures.
pub fn bench() -> Result<()> {
    let out = target_dir().join("playground");
    build(&out)?;
    let script = r#"
        globalThis.window = globalThis;
        const fs = require('fs');
        const dir = process.argv[1];
        for (const file of ['wasi.js', 'catalog.js', 'engine.js']) eval(fs.readFileSync(dir + '/' + file, 'utf8'));
        (async () => {
          const bytes = Buffer.from(window.PORTAL_ENGINE_WASM, 'base64');
          let start = performance.now();
          const engine = await WebAssembly.compile(bytes);
          const compile = performance.now() - start;
          const rules = PORTAL_CATALOG.rules.find(r => r.label.startsWith('Pod Security Standards: restricted'));
          const manifests = PORTAL_CATALOG.manifests.find(m => m.path.endsWith('violating-pods.yaml'));
          const request = new TextEncoder().encode(JSON.stringify({rules: rules.text, manifests: manifests.text, output: 'json'}));
          const times = [];
          for (let i = 0; i < 21; i++) {
            start = performance.now();
            const result = await PortalWasi.run(engine, request);
            times.push(performance.now() - start);
            if (result.code !== 1) throw new Error('expected a denial, got status ' + result.code + ': ' + result.stderr);
          }
          times.sort((a, b) => a - b);
          console.log(`engine: ${bytes.length} bytes of WebAssembly, compiled in ${compile.toFixed(1)} ms`);
          console.log(`one check (${rules.label} on ${manifests.path}): median ${times[10].toFixed(1)} ms, fastest ${times[0].toFixed(1)} ms of 21`);
        })().catch(error => { console.error(error); process.exit(1); });
    "#;
    let mut node = std::process::Command::new("node");
    node.args(["-e", script]).arg(&out);
    run(&mut node).context("timing the playground's engine in Node.js (node must be installed)")
}

/// Builds the engine for WebAssembly and writes the page into `out`.
pub fn build(out: &Path) -> Result<()> {
    crate::cmd::add_rust_target(TARGET)?;
    cargo(&["build", "--release", "--locked", "--target", TARGET, "-p", "portal-playground"])?;
    let wasm = target_dir().join(TARGET).join("release/portal-playground.wasm");
    let engine = fs::read(&wasm).with_context(|| format!("reading {}", wasm.display()))?;

    fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let root = project_root();
    for asset in ASSETS {
        let from = root.join("playground").join(asset);
        fs::copy(&from, out.join(asset)).with_context(|| format!("copying {}", from.display()))?;
    }
    let encoded = base64::engine::general_purpose::STANDARD.encode(&engine);
    write(&out.join("engine.js"), &format!("window.PORTAL_ENGINE_WASM = \"{encoded}\";\n"))?;
    write(&out.join("catalog.js"), &format!("window.PORTAL_CATALOG = {};\n", catalog(&root)?))?;
    eprintln!("playground: engine {} bytes of WebAssembly, page in {}", engine.len(), out.display());
    Ok(())
}

/// The shipped rules and manifests the page offers, each with the `portal check` arguments
/// that name it, so that the page's command line reproduces its result from a checkout.
fn catalog(root: &Path) -> Result<Value> {
    let pss = "examples/policies/pod-security";
    let mut rules = vec![
        bundle(root, "Pod Security Standards: baseline", &[&format!("{pss}/baseline")])?,
        bundle(
            root,
            "Pod Security Standards: restricted (with baseline)",
            &[&format!("{pss}/baseline"), &format!("{pss}/restricted")],
        )?,
        bundle(root, "All example rules (examples/rules)", &["examples/rules"])?,
    ];
    for path in yaml_files(&root.join("examples/rules"))? {
        let relative = relative(root, &path);
        rules.push(json!({"label": relative, "args": ["--rules", relative], "text": read(&path)?}));
    }
    let mut manifests = Vec::new();
    let mut paths = yaml_files(&root.join("examples/manifests"))?;
    paths.sort_by_key(|path| !path.ends_with("violating-pods.yaml"));
    paths.extend(yaml_files(&root.join(pss).join("baseline/tests/resources"))?);
    for path in paths {
        let relative = relative(root, &path);
        manifests.push(json!({"label": relative, "path": relative, "text": read(&path)?}));
    }
    Ok(json!({"rules": rules, "manifests": manifests}))
}

/// Rule folders as one text, their files in the order `portal check` reads them (sorted, test
/// suites and their fixtures left out).
fn bundle(root: &Path, label: &str, folders: &[&str]) -> Result<Value> {
    let mut text = String::new();
    let mut args = Vec::new();
    for folder in folders {
        args.extend(["--rules".to_owned(), (*folder).to_owned()]);
        // The rule files lie directly in the folder; its `tests/` holds suites and fixtures.
        for path in yaml_files(&root.join(folder))? {
            if !text.is_empty() {
                text.push_str("---\n");
            }
            text.push_str(&read(&path)?);
            if !text.ends_with('\n') {
                text.push('\n');
            }
        }
    }
    Ok(json!({"label": label, "args": args, "text": text}))
}

/// The `.yaml` files directly in `dir`, sorted.
fn yaml_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.is_file() && path.extension().is_some_and(|e| e == "yaml") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root).unwrap_or(path).display().to_string()
}

fn read(path: &Path) -> Result<String> {
    fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

fn write(path: &Path, text: &str) -> Result<()> {
    fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}
