//! Architecture invariants (ARCHITECTURE.md), checked as tests.

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::Path;
    use std::process::Command;

    use serde_json::Value;

    use crate::project_root;

    /// Package name → names of its normal (non-dev) dependencies, from the resolved graph.
    fn dependency_graph() -> BTreeMap<String, BTreeSet<String>> {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let output = Command::new(cargo)
            .args(["metadata", "--format-version", "1", "--locked", "--filter-platform", env!("XTASK_HOST")])
            .current_dir(project_root())
            .output()
            .expect("cargo metadata runs");
        assert!(output.status.success(), "cargo metadata failed: {}", String::from_utf8_lossy(&output.stderr));
        let metadata: Value = serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON");
        let name_of = |id: &str| {
            metadata["packages"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|p| p["id"] == id)
                .and_then(|p| p["name"].as_str())
                .unwrap_or(id)
                .to_owned()
        };
        let mut graph = BTreeMap::new();
        for node in metadata["resolve"]["nodes"].as_array().expect("resolve graph") {
            let deps = node["deps"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|dep| dep["dep_kinds"].as_array().into_iter().flatten().any(|kind| kind["kind"].is_null()))
                .map(|dep| name_of(dep["pkg"].as_str().unwrap_or_default()))
                .collect();
            graph.insert(name_of(node["id"].as_str().unwrap_or_default()), deps);
        }
        graph
    }

    fn transitive(graph: &BTreeMap<String, BTreeSet<String>>, root: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![root.to_owned()];
        while let Some(name) = stack.pop() {
            for dep in graph.get(&name).into_iter().flatten() {
                if seen.insert(dep.clone()) {
                    stack.push(dep.clone());
                }
            }
        }
        seen
    }

    #[test]
    fn portal_rules_is_pure_and_depends_on_no_other_workspace_crate_but_portal_cel() {
        let graph = dependency_graph();
        let rules = transitive(&graph, "portal-rules");
        assert!(rules.contains("cel") && rules.contains("portal-cel"), "the graph was read: {rules:?}");
        for forbidden in ["portal-offline", "portal-kube", "portal-config", "portal-metrics", "tokio", "kube", "hyper"]
        {
            assert!(!rules.contains(forbidden), "portal-rules must not depend on {forbidden}");
        }
        let cel = transitive(&graph, "portal-cel");
        assert!(!cel.iter().any(|d| d.starts_with("portal-")), "portal-cel depends on no workspace crate");
    }

    #[test]
    fn dependencies_point_one_way() {
        let graph = dependency_graph();
        let offline = transitive(&graph, "portal-offline");
        assert!(!offline.contains("portal"), "library crates never depend on the binary");
        assert!(offline.contains("portal-rules"));
    }

    /// No file-system, network or process access in the pure crates (tests aside).
    #[test]
    fn pure_crates_do_no_io() {
        for krate in ["crates/portal-rules/src", "crates/portal-cel/src"] {
            visit(&project_root().join(krate), &mut |path, text| {
                let code = text.split("#[cfg(test)]").next().unwrap_or_default();
                for needle in ["std::fs", "std::net::Tcp", "std::net::Udp", "std::process", "std::io::stdin", "tokio"] {
                    assert!(
                        !code.contains(needle),
                        "{} uses {needle}: portal-rules/portal-cel do no I/O",
                        path.display()
                    );
                }
            });
        }
    }

    fn visit(dir: &Path, check: &mut dyn FnMut(&Path, &str)) {
        for entry in std::fs::read_dir(dir).expect("source directory") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                visit(&path, check);
            } else if path.extension().is_some_and(|e| e == "rs") {
                check(&path, &std::fs::read_to_string(&path).expect("readable source"));
            }
        }
    }
}
