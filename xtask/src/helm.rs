//! helm, built from its published Go module into the per-user tool cache beside the test control
//! plane, and `cargo xtask chart`: the chart's copied files brought in step, linted and rendered.
//!
//! ```text
//! <envtest cache root>/tools/helm-v4.3.2/helm
//! ```
//!
//! The first run needs Go and the Go module proxy (about two minutes on two cores); later runs
//! find the binary and return at once. Tests find it through `PORTAL_HELM`, which `cargo xtask
//! test` sets.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::project::project_root;

/// The helm release the chart is linted, rendered and tested with.
pub const HELM_VERSION: &str = "v4.3.2";

/// The variable through which tests find helm.
pub const HELM_ENV: &str = "PORTAL_HELM";

/// The chart, relative to the project root.
const CHART: &str = "deploy/helm/portal";

/// The plain manifests rendered from the chart with its default values, drift-checked.
const MANIFESTS: &str = "deploy/manifests/portal.yaml";

/// The helm binary, built first when the cache does not have it.
pub fn ensure() -> Result<PathBuf> {
    let ldflags = format!("-X helm.sh/helm/v4/internal/version.version={HELM_VERSION}");
    crate::tools::installed_tool("helm", HELM_VERSION, "helm.sh/helm/v4/cmd/helm", &ldflags, "building helm")
}

/// `cargo xtask chart [--check]`: copies Portal's CRDs and the report CRDs into the chart, lints
/// it with the default values and with every feature on, and writes the default rendering to
/// deploy/manifests/. With `--check`, fails instead of writing when anything is out of date.
pub fn chart_main(args: &[String]) -> Result<()> {
    let check = match args.first().map(String::as_str) {
        None => false,
        Some("--check") => true,
        Some(other) => bail!("cargo xtask chart: unknown argument {other:?}; use no argument or --check"),
    };
    let helm = ensure()?;
    let root = project_root();
    let chart = root.join(CHART);
    let mut stale = Vec::new();
    for (from, to) in copies(&root)? {
        let wanted = fs::read_to_string(&from).with_context(|| format!("reading {}", from.display()))?;
        if fs::read_to_string(&to).ok().as_deref() != Some(wanted.as_str()) {
            stale.push(relative(&root, &to));
            if !check {
                fs::write(&to, wanted).with_context(|| format!("writing {}", to.display()))?;
            }
        }
    }
    for values in [&[][..], ALL_FEATURES] {
        let mut lint = vec!["lint", "--strict", path_str(&chart)?];
        lint.extend(values.iter().flat_map(|value| ["--set", *value]));
        run(&helm, &lint)?;
    }
    let rendered = render(&helm, &chart, &[])?;
    let manifests = root.join(MANIFESTS);
    let rendered = format!("{MANIFESTS_HEADER}{rendered}");
    if fs::read_to_string(&manifests).ok().as_deref() != Some(rendered.as_str()) {
        stale.push(MANIFESTS.to_owned());
        if !check {
            fs::create_dir_all(manifests.parent().context("the manifests have a directory")?)?;
            fs::write(&manifests, rendered).with_context(|| format!("writing {}", manifests.display()))?;
        }
    }
    match (check, stale.is_empty()) {
        (true, false) => bail!("out of date with the chart: {}; run `cargo xtask chart` and commit", stale.join(", ")),
        (false, false) => eprintln!("chart: rewrote {}", stale.join(", ")),
        _ => eprintln!("chart: lint passed; every copy and {MANIFESTS} is current"),
    }
    Ok(())
}

/// `--set` values that switch every optional feature on.
pub const ALL_FEATURES: &[&str] = &[
    "audit.enabled=true",
    "network.enabled=true",
    "metrics.serviceMonitor.enabled=true",
    "lookups.resources[0].apiGroups[0]=",
    "lookups.resources[0].resources[0]=configmaps",
    "actions.enabled=true",
    "alerting.alertmanager.urls[0]=http://alertmanager.monitoring:9093",
    "alerting.alertmanager.bearerTokenSecret=alertmanager-token",
];

const MANIFESTS_HEADER: &str = "# Rendered by `cargo xtask chart` from deploy/helm/portal with its default values\n\
     # (`helm template portal deploy/helm/portal --namespace portal-system --include-crds`); do not edit.\n";

/// (source, copy in the chart) of every file the chart carries a copy of.
fn copies(root: &Path) -> Result<Vec<(PathBuf, PathBuf)>> {
    let chart = root.join(CHART);
    let mut pairs = Vec::new();
    for entry in fs::read_dir(root.join("deploy/crds")).context("reading deploy/crds")? {
        let path = entry?.path();
        let name = path.file_name().context("a file name")?.to_owned();
        pairs.push((path.clone(), chart.join("crds").join(name)));
    }
    for (group, files) in [
        ("wgpolicyk8s.io", ["policyreports.yaml", "clusterpolicyreports.yaml"]),
        ("openreports.io", ["reports.yaml", "clusterreports.yaml"]),
    ] {
        for file in files {
            pairs
                .push((root.join("deploy/reports").join(file), chart.join("files/report-crds").join(group).join(file)));
        }
    }
    pairs.sort();
    Ok(pairs)
}

/// `helm template` of the chart as release `portal` in `portal-system`, CRDs included.
fn render(helm: &Path, chart: &Path, set: &[&str]) -> Result<String> {
    let mut args = vec!["template", "portal", path_str(chart)?, "--namespace", "portal-system", "--include-crds"];
    args.extend(set.iter().flat_map(|value| ["--set", *value]));
    run(helm, &args)
}

fn run(helm: &Path, args: &[&str]) -> Result<String> {
    let output = Command::new(helm).args(args).output().with_context(|| format!("running {}", helm.display()))?;
    if !output.status.success() {
        bail!(
            "`helm {}` failed ({}):\n{}{}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    String::from_utf8(output.stdout).context("helm's output is not UTF-8")
}

fn path_str(path: &Path) -> Result<&str> {
    path.to_str().with_context(|| format!("{} is not UTF-8", path.display()))
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root).unwrap_or(path).display().to_string()
}
