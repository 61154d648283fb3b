//! `cargo xtask envtest`: the test control plane (kube-apiserver, etcd and
//! kube-controller-manager) that `portal-testenv` starts for integration tests.
//!
//! The binaries are built from their published Go modules into a per-user cache keyed by
//! version. The first run needs Go and network access to the Go module proxy (about a minute for
//! etcd and several minutes each for kube-apiserver and kube-controller-manager); later runs find
//! them and return at once, without Go and offline. The controller manager (for its garbage
//! collector and namespace controller) is built into an existing cache when it is missing, so a
//! cache from before it was added is completed rather than rebuilt.
//!
//! Layout of the cache:
//!
//! ```text
//! <root>/k8s-v1.37.2-etcd-v3.6.16/         what `PORTAL_ENVTEST_ASSETS` points at
//!     bin/etcd
//!     bin/kube-apiserver
//!     bin/kube-controller-manager           added after READY, renamed into place when built
//!     READY                                 written after etcd and kube-apiserver; names both versions
//!     report-crds/                          the report CRDs of other engines (see `report_crds`)
//! <root>/.k8s-v1.37.2-etcd-v3.6.16.lock     serialises concurrent builds
//! <root>/.k8s-v1.37.2-etcd-v3.6.16.partial/ a build in progress (or an interrupted one)
//! ```
//!
//! `<root>` is `$PORTAL_ENVTEST_CACHE`, else `$XDG_CACHE_HOME/portal/envtest`, else
//! `~/.cache/portal/envtest`. A build happens in the `.partial` directory and is renamed into
//! place only when complete, so an interrupted build never leaves a half-built cache.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs::{self, File, TryLockError};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::go::Go;
use crate::report_crds;

/// The Kubernetes release whose kube-apiserver the tests run against. Keep it at the newest
/// version the workspace's `k8s-openapi` supports (its `v1_xx` feature).
pub const KUBERNETES_VERSION: &str = "v1.37.2";

/// The etcd release behind that kube-apiserver.
pub const ETCD_VERSION: &str = "v3.6.16";

/// The variable through which tests find the binaries; read by `portal-testenv`.
pub const ASSETS_ENV: &str = "PORTAL_ENVTEST_ASSETS";

/// Overrides the cache root.
const CACHE_ENV: &str = "PORTAL_ENVTEST_CACHE";

/// Returns the directory holding `bin/etcd`, `bin/kube-apiserver` and
/// `bin/kube-controller-manager`, building them first when the cache does not have them yet.
pub fn ensure() -> Result<PathBuf> {
    let assets = ensure_core()?;
    ensure_controller_manager(&assets)?;
    report_crds::ensure(&assets)?;
    Ok(assets)
}

/// etcd and kube-apiserver, built together.
fn ensure_core() -> Result<PathBuf> {
    let root = cache_root(|name| std::env::var_os(name))?;
    let key = cache_key();
    let assets = root.join(&key);
    if is_ready(&assets) {
        return Ok(assets);
    }

    fs::create_dir_all(&root).with_context(|| format!("creating the envtest cache {}", root.display()))?;
    // Held until the function returns; the OS releases it if the process dies.
    let (lock, lock_path) = open_lock(&root, &key)?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            eprintln!("envtest: another build of {key} is running; waiting for it to finish");
            lock.lock().with_context(|| format!("locking {}", lock_path.display()))?;
        }
        Err(TryLockError::Error(err)) => {
            return Err(err).with_context(|| format!("locking {}", lock_path.display()));
        }
    }
    // Another process may have finished the build while we waited.
    if is_ready(&assets) {
        return Ok(assets);
    }

    let partial = root.join(format!(".{key}.partial"));
    remove_if_present(&partial)?;
    let out = partial.join("assets");
    let work = partial.join("work");
    let go = Go::find(work.join("logs"), "building the test control plane")?;
    let started = Instant::now();
    eprintln!(
        "envtest: building etcd {ETCD_VERSION} and kube-apiserver {KUBERNETES_VERSION} into {} \
         (first run only: about a minute for etcd, several minutes for kube-apiserver)",
        assets.display()
    );
    for dir in [out.join("bin"), work.join("logs")] {
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    }

    let step_started = Instant::now();
    build_etcd(&go, &work, &out.join("bin").join("etcd"))?;
    eprintln!("envtest: built etcd {ETCD_VERSION} in {}", seconds(step_started.elapsed()));

    let step_started = Instant::now();
    build_kubernetes_command(&go, &work, "kube-apiserver", &out.join("bin").join("kube-apiserver"))?;
    eprintln!("envtest: built kube-apiserver {KUBERNETES_VERSION} in {}", seconds(step_started.elapsed()));

    fs::write(out.join("READY"), ready_marker()).context("writing the READY marker")?;
    // A directory without a valid READY marker is a leftover (older layout, deleted file):
    // replace it.
    remove_if_present(&assets)?;
    fs::rename(&out, &assets).with_context(|| format!("moving the built assets to {}", assets.display()))?;
    remove_if_present(&partial)?;
    eprintln!("envtest: ready in {} at {}", seconds(started.elapsed()), assets.display());
    Ok(assets)
}

/// Builds `bin/kube-controller-manager` into the ready `assets` when it is missing, under the
/// same lock as the rest; the binary is renamed into place only when complete.
fn ensure_controller_manager(assets: &Path) -> Result<()> {
    let binary = assets.join("bin").join("kube-controller-manager");
    if binary.is_file() {
        return Ok(());
    }
    let root = assets.parent().context("the envtest assets have no parent directory")?;
    let key = cache_key();
    let (lock, lock_path) = open_lock(root, &key)?;
    lock.lock().with_context(|| format!("locking {}", lock_path.display()))?;
    if binary.is_file() {
        return Ok(());
    }
    let partial = root.join(format!(".{key}.controller-manager.partial"));
    remove_if_present(&partial)?;
    let work = partial.join("work");
    fs::create_dir_all(work.join("logs")).with_context(|| format!("creating {}", work.display()))?;
    let go = Go::find(work.join("logs"), "building the test control plane")?;
    let started = Instant::now();
    eprintln!(
        "envtest: building kube-controller-manager {KUBERNETES_VERSION} into {} (first run only: several minutes)",
        assets.display()
    );
    let built = partial.join("kube-controller-manager");
    build_kubernetes_command(&go, &work, "kube-controller-manager", &built)?;
    fs::rename(&built, &binary).with_context(|| format!("moving the built binary to {}", binary.display()))?;
    remove_if_present(&partial)?;
    eprintln!("envtest: built kube-controller-manager {KUBERNETES_VERSION} in {}", seconds(started.elapsed()));
    Ok(())
}

/// The lock file that serialises builds of the cache `key` (not yet locked), and its path.
fn open_lock(root: &Path, key: &str) -> Result<(File, PathBuf)> {
    let lock_path = root.join(format!(".{key}.lock"));
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .with_context(|| format!("opening {}", lock_path.display()))?;
    Ok((lock, lock_path))
}

/// `<root>` as described in the module docs; `var` looks up an environment variable.
pub(crate) fn cache_root(var: impl Fn(&str) -> Option<OsString>) -> Result<PathBuf> {
    let set = |name: &str| var(name).filter(|value| !value.is_empty()).map(PathBuf::from);
    let root = if let Some(dir) = set(CACHE_ENV) {
        dir
    } else if let Some(dir) = set("XDG_CACHE_HOME").filter(|dir| dir.is_absolute()) {
        dir.join("portal").join("envtest")
    } else if let Some(home) = set("HOME") {
        home.join(".cache").join("portal").join("envtest")
    } else {
        bail!("cannot choose a cache directory for the test control plane: set {CACHE_ENV} (or HOME)");
    };
    std::path::absolute(&root).with_context(|| format!("resolving {}", root.display()))
}

/// The name of the versioned cache directory.
fn cache_key() -> String {
    format!("k8s-{KUBERNETES_VERSION}-etcd-{ETCD_VERSION}")
}

fn ready_marker() -> String {
    format!("kubernetes {KUBERNETES_VERSION}\netcd {ETCD_VERSION}\n")
}

fn is_ready(assets: &Path) -> bool {
    fs::read_to_string(assets.join("READY")).is_ok_and(|marker| marker == ready_marker())
        && ["etcd", "kube-apiserver"].iter().all(|bin| assets.join("bin").join(bin).is_file())
}

fn remove_if_present(dir: &Path) -> Result<()> {
    match fs::remove_dir_all(dir) {
        Err(err) if err.kind() != io::ErrorKind::NotFound => {
            Err(err).with_context(|| format!("removing {}", dir.display()))
        }
        _ => Ok(()),
    }
}

fn seconds(elapsed: Duration) -> String {
    format!("{:.1} s", elapsed.as_secs_f64())
}

/// etcd's server module builds as a dependency of a scratch module (its own go.mod has
/// `replace` directives, so `go install …@version` refuses it).
fn build_etcd(go: &Go, work: &Path, output: &Path) -> Result<()> {
    let module = work.join("etcd");
    fs::create_dir_all(&module).with_context(|| format!("creating {}", module.display()))?;
    let package = "go.etcd.io/etcd/server/v3";
    go.run("etcd: go mod init", &module, &["mod", "init", "portal.local/etcd"])?;
    go.run("etcd: go get", &module, &["get", &format!("{package}@{ETCD_VERSION}")])?;
    go.run("etcd: go build", &module, &["build", "-trimpath", "-ldflags=-s -w", "-o", path_str(output)?, package])?;
    Ok(())
}

/// k8s.io/kubernetes points its staging modules (k8s.io/api, k8s.io/apiserver, …) at
/// `./staging/src/…` with `replace` directives, which Go ignores in a dependency. The scratch
/// module replaces each of them with the published `v0.x.y` release instead; the list comes
/// from Kubernetes' own go.mod so that it follows the release.
fn build_kubernetes_command(go: &Go, work: &Path, command: &str, output: &Path) -> Result<()> {
    let module = work.join(command);
    fs::create_dir_all(&module).with_context(|| format!("creating {}", module.display()))?;
    let staging_version = staging_version(KUBERNETES_VERSION)?;
    // A minimal go.mod first, so that the go commands below run in module mode here.
    let go_mod = module.join("go.mod");
    fs::write(&go_mod, kubernetes_go_mod(command, &[], &staging_version)).context("writing go.mod")?;

    let kubernetes = format!("k8s.io/kubernetes@{KUBERNETES_VERSION}");
    let download =
        go.run(&format!("{command}: go mod download"), &module, &["mod", "download", "-json", &kubernetes])?;
    let upstream_go_mod = go_mod_path(&download)?;
    let edit = go.run(
        &format!("{command}: go mod edit -json"),
        &module,
        &["mod", "edit", "-json", path_str(&upstream_go_mod)?],
    )?;
    let staging = staging_modules(&edit)?;
    fs::write(&go_mod, kubernetes_go_mod(command, &staging, &staging_version)).context("writing go.mod")?;

    let package = format!("k8s.io/kubernetes/cmd/{command}");
    go.run(&format!("{command}: go get"), &module, &["get", &format!("{package}@{KUBERNETES_VERSION}")])?;
    // What `kubectl version` and `/version` report; unset, the binary calls itself v0.0.0-master.
    let minor = KUBERNETES_VERSION.split('.').nth(1).unwrap_or_default();
    let ldflags = format!(
        "-s -w -X k8s.io/component-base/version.gitVersion={KUBERNETES_VERSION} \
         -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor={minor} \
         -X k8s.io/component-base/version.gitTreeState=clean"
    );
    go.run(
        &format!("{command}: go build"),
        &module,
        &["build", "-trimpath", &format!("-ldflags={ldflags}"), "-o", path_str(output)?, &package],
    )?;
    Ok(())
}

/// `v1.37.2` → `v0.37.2`: the staging modules' release for a Kubernetes release.
fn staging_version(kubernetes: &str) -> Result<String> {
    match kubernetes.strip_prefix("v1.") {
        Some(rest) => Ok(format!("v0.{rest}")),
        None => bail!("KUBERNETES_VERSION {kubernetes:?} does not look like v1.x.y"),
    }
}

/// The `GoMod` field of `go mod download -json`.
fn go_mod_path(download_json: &str) -> Result<PathBuf> {
    let info: Value = serde_json::from_str(download_json).context("parsing `go mod download -json` output")?;
    if let Some(error) = info["Error"].as_str() {
        bail!("go mod download k8s.io/kubernetes@{KUBERNETES_VERSION}: {error}");
    }
    match info["GoMod"].as_str() {
        Some(path) => Ok(PathBuf::from(path)),
        None => bail!("`go mod download -json` printed no GoMod field:\n{download_json}"),
    }
}

/// Module paths that k8s.io/kubernetes' go.mod (as `go mod edit -json` prints it) replaces with
/// a directory of its own tree.
fn staging_modules(go_mod_json: &str) -> Result<Vec<String>> {
    let go_mod: Value = serde_json::from_str(go_mod_json).context("parsing `go mod edit -json` output")?;
    let modules: Vec<String> = go_mod["Replace"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|replace| {
            replace["New"]["Version"].as_str().is_none()
                && replace["New"]["Path"].as_str().is_some_and(|path| path.starts_with("./staging/"))
        })
        .filter_map(|replace| replace["Old"]["Path"].as_str().map(str::to_owned))
        .collect();
    if !modules.iter().any(|module| module == "k8s.io/api") {
        bail!(
            "k8s.io/kubernetes@{KUBERNETES_VERSION}'s go.mod no longer replaces k8s.io/api with \
             ./staging/src/k8s.io/api; xtask/src/envtest.rs needs updating for this release"
        );
    }
    Ok(modules)
}

fn kubernetes_go_mod(command: &str, staging: &[String], staging_version: &str) -> String {
    let mut text = format!("module portal.local/{command}\n\ngo 1.25\n");
    if !staging.is_empty() {
        text.push_str("\nreplace (\n");
        for module in staging {
            let _ = writeln!(text, "\t{module} => {module} {staging_version}");
        }
        text.push_str(")\n");
    }
    text
}

fn path_str(path: &Path) -> Result<&str> {
    path.to_str().with_context(|| format!("{} is not valid UTF-8", path.display()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |name| vars.iter().find(|(key, _)| *key == name).map(|(_, value)| OsString::from(value))
    }

    /// The Pod Security bundles say which Kubernetes release's policy they follow; when the test
    /// control plane moves to a newer release, they must follow it too (each release can change
    /// a check, as v1.37 widened the safe sysctls).
    #[test]
    fn pod_security_bundles_follow_the_test_control_planes_release() {
        let minor = KUBERNETES_VERSION.rsplit_once('.').map_or(KUBERNETES_VERSION, |(minor, _)| minor);
        let bundles = crate::project::project_root().join("examples/policies/pod-security");
        let declared = [
            ("README.md", format!("They follow the **Kubernetes {minor}** policy")),
            ("baseline/tests/portal-test.yaml", format!("name: pod-security baseline (Kubernetes {minor})")),
            ("restricted/tests/portal-test.yaml", format!("name: pod-security restricted (Kubernetes {minor})")),
        ];
        for (file, expected) in declared {
            let text = std::fs::read_to_string(bundles.join(file)).unwrap();
            assert!(
                text.contains(&expected),
                "examples/policies/pod-security/{file} does not follow Kubernetes {minor}, the release the tests \
                 run against (KUBERNETES_VERSION): update the bundles to its policy and say so (expected `{expected}`)"
            );
        }
    }

    #[test]
    fn cache_root_prefers_the_override_then_xdg_then_home() {
        let all = [(CACHE_ENV, "/ci/envtest"), ("XDG_CACHE_HOME", "/xdg"), ("HOME", "/home/me")];
        assert_eq!(cache_root(env(&all)).unwrap(), Path::new("/ci/envtest"));
        assert_eq!(cache_root(env(&all[1..])).unwrap(), Path::new("/xdg/portal/envtest"));
        assert_eq!(cache_root(env(&all[2..])).unwrap(), Path::new("/home/me/.cache/portal/envtest"));
        // Empty values count as unset; a relative XDG_CACHE_HOME is invalid per the spec.
        let odd = [(CACHE_ENV, ""), ("XDG_CACHE_HOME", "relative"), ("HOME", "/home/me")];
        assert_eq!(cache_root(env(&odd)).unwrap(), Path::new("/home/me/.cache/portal/envtest"));
        let error = cache_root(env(&[])).unwrap_err().to_string();
        assert!(error.contains(CACHE_ENV), "{error}");
    }

    #[test]
    fn the_cache_key_names_both_versions() {
        assert_eq!(cache_key(), format!("k8s-{KUBERNETES_VERSION}-etcd-{ETCD_VERSION}"));
        assert!(ready_marker().contains(KUBERNETES_VERSION) && ready_marker().contains(ETCD_VERSION));
    }

    #[test]
    fn staging_modules_follow_the_kubernetes_release() {
        assert_eq!(staging_version("v1.37.2").unwrap(), "v0.37.2");
        assert!(staging_version("1.37.2").is_err());
        staging_version(KUBERNETES_VERSION).unwrap();
    }

    #[test]
    fn reads_go_mod_path_from_go_mod_download() {
        let json = r#"{"Path": "k8s.io/kubernetes", "Version": "v1.37.2", "GoMod": "/m/cache/v1.37.2.mod"}"#;
        assert_eq!(go_mod_path(json).unwrap(), Path::new("/m/cache/v1.37.2.mod"));
        let failed = r#"{"Path": "k8s.io/kubernetes", "Error": "unknown revision v1.99.0"}"#;
        assert!(go_mod_path(failed).unwrap_err().to_string().contains("unknown revision"));
    }

    #[test]
    fn picks_only_the_staging_replacements() {
        let json = r#"{
            "Module": {"Path": "k8s.io/kubernetes"},
            "Replace": [
                {"Old": {"Path": "k8s.io/api"}, "New": {"Path": "./staging/src/k8s.io/api"}},
                {"Old": {"Path": "k8s.io/client-go"}, "New": {"Path": "./staging/src/k8s.io/client-go"}},
                {"Old": {"Path": "example.com/fork"}, "New": {"Path": "example.com/other", "Version": "v1.0.0"}},
                {"Old": {"Path": "example.com/local"}, "New": {"Path": "../elsewhere"}}
            ]
        }"#;
        let modules = staging_modules(json).unwrap();
        assert_eq!(modules, ["k8s.io/api", "k8s.io/client-go"]);
        assert_eq!(
            kubernetes_go_mod("kube-apiserver", &modules, "v0.37.2"),
            "module portal.local/kube-apiserver\n\ngo 1.25\n\nreplace (\n\
             \tk8s.io/api => k8s.io/api v0.37.2\n\
             \tk8s.io/client-go => k8s.io/client-go v0.37.2\n)\n"
        );
        assert!(staging_modules(r#"{"Replace": []}"#).is_err());
    }
}
