//! The report CRDs that other engines install, which the audit's reports must satisfy when
//! Portal's own CRDs are left out: the `wgpolicyk8s.io/v1alpha2` CRDs as Kyverno ships them, and
//! the `openreports.io/v1alpha1` CRDs of the OpenReports project. Both come from the projects'
//! published Go modules (through the Go module proxy, like the control plane) into
//! `<envtest assets>/report-crds/`, where portal-kube's tests read them.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result};

use crate::go::Go;

/// The directory under the envtest assets.
pub const DIR: &str = "report-crds";

/// (module, version, CRD files in it).
const SOURCES: &[(&str, &str, &[&str])] = &[
    (
        "github.com/kyverno/kyverno",
        "v1.19.1",
        &[
            "config/crds/policyreport/wgpolicyk8s.io_policyreports.yaml",
            "config/crds/policyreport/wgpolicyk8s.io_clusterpolicyreports.yaml",
        ],
    ),
    (
        "github.com/openreports/reports-api",
        "v0.2.1",
        &["config/crd/openreports.io_reports.yaml", "config/crd/openreports.io_clusterreports.yaml"],
    ),
];

/// Names the sources a ready directory came from; another list means fetching again.
const MARKER: &str = "SOURCES";

fn marker() -> String {
    SOURCES.iter().map(|(module, version, _)| format!("{module}@{version}\n")).collect()
}

/// Copies the CRD files into `<assets>/report-crds/` unless they are there already.
pub fn ensure(assets: &Path) -> Result<()> {
    let dir = assets.join(DIR);
    if fs::read_to_string(dir.join(MARKER)).is_ok_and(|found| found == marker()) {
        return Ok(());
    }
    let partial = assets.join(format!(".{DIR}.{}.partial", std::process::id()));
    let _ = fs::remove_dir_all(&partial);
    fs::create_dir_all(partial.join("logs")).with_context(|| format!("creating {}", partial.display()))?;
    let go = Go::find(partial.join("logs"), "fetching the upstream report CRDs")?;
    for (module, version, files) in SOURCES {
        let download = go.run(
            &format!("{module}: go mod download"),
            &partial,
            &["mod", "download", "-json", &format!("{module}@{version}")],
        )?;
        let source = crate::go::module_dir(&download)?;
        for file in *files {
            let name = Path::new(file).file_name().context("a CRD path names a file")?;
            fs::copy(source.join(file), partial.join(name))
                .with_context(|| format!("copying {file} of {module}@{version}"))?;
        }
    }
    fs::remove_dir_all(partial.join("logs")).context("removing the fetch logs")?;
    fs::write(partial.join(MARKER), marker()).context("writing the report CRDs' marker")?;
    let _ = fs::remove_dir_all(&dir);
    if let Err(error) = fs::rename(&partial, &dir) {
        // Another run finished first.
        let _ = fs::remove_dir_all(&partial);
        if !fs::read_to_string(dir.join(MARKER)).is_ok_and(|found| found == marker()) {
            return Err(error).with_context(|| format!("moving the report CRDs to {}", dir.display()));
        }
    }
    eprintln!("envtest: the upstream report CRDs are in {}", dir.display());
    Ok(())
}
