//! `--cluster`: the objects cluster lookups see offline — files, folders or a `kubectl get -A -o
//! yaml` dump, read as `portal check` reads manifests.

use std::path::PathBuf;
use std::sync::Arc;

use portal_files::{ManifestFiles, ManifestItem, Problem};
use portal_rules::cluster::{ClusterSnapshot, ClusterView};

/// The objects of `paths` (objects of namespaced kinds that name no namespace go in
/// `namespace`), and what could not be read. Documents that are not objects are problems here:
/// a cluster is made only of objects.
pub fn load_cluster(paths: &[PathBuf], namespace: &str) -> (Arc<dyn ClusterView>, Vec<Problem>) {
    let files = ManifestFiles::read(paths);
    let documents = files.documents();
    let mut snapshot = ClusterSnapshot::new();
    let mut problems = Vec::new();
    let mut take = |item| match item {
        ManifestItem::Object(manifest) => {
            if let Err(missing) = snapshot.insert(manifest.object) {
                problems.push(Problem::new(manifest.origin.to_string(), format!("not a cluster object: {missing}")));
            }
        }
        ManifestItem::Skipped(problem) | ManifestItem::Error(problem) => problems.push(problem),
    };
    documents.problems().for_each(&mut take);
    for unit in documents.units() {
        unit.expand(namespace, &mut take);
    }
    if problems.is_empty() && snapshot.is_empty() {
        let listed: Vec<String> = paths.iter().map(|path| path.display().to_string()).collect();
        problems.push(Problem::new(listed.join(", "), "no Kubernetes objects found for --cluster".to_owned()));
    }
    (Arc::new(snapshot), problems)
}
