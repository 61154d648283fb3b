//! The Portal resources of one family (rule resources, or exception resources) as the watchers
//! last reported them: the records, whether both kinds (cluster-wide and namespaced) have been
//! listed, and the validation errors of the last rebuild.

use std::collections::BTreeMap;

use portal_rules::{Document, Origin};

use super::event::{Resource, ResourceEvent, ResourceKey, ResourceKind, SourceProblem};

pub(crate) struct Known<Key, Status> {
    pub client: Option<kube::Client>,
    pub resources: BTreeMap<Key, Resource<Key, Status>>,
    /// Validation errors of the last rebuild, by resource.
    pub spec_errors: BTreeMap<Key, portal_rules::Error>,
    listed_cluster: bool,
    listed_namespaced: bool,
}

impl<Key: ResourceKey, Status> Known<Key, Status> {
    pub fn new(client: Option<kube::Client>) -> Self {
        Known {
            client,
            resources: BTreeMap::new(),
            spec_errors: BTreeMap::new(),
            listed_cluster: false,
            listed_namespaced: false,
        }
    }

    /// Whether both kinds have been listed (always true without a cluster).
    pub fn is_ready(&self) -> bool {
        self.client.is_none() || (self.listed_cluster && self.listed_namespaced)
    }

    /// Records an event; returns whether a spec changed (a status-only update does not).
    pub fn apply(&mut self, event: ResourceEvent<Key, Status>) -> bool {
        let (changed, listed) = event.apply_to(&mut self.resources);
        match listed {
            Some(ResourceKind::Cluster) => self.listed_cluster = true,
            Some(ResourceKind::Namespaced) => self.listed_namespaced = true,
            None => {}
        }
        changed
    }

    /// Every resource read by `read` (its origin is its key), in key order; the errors are kept
    /// for the status and returned as problems.
    pub fn read_all<T>(
        &mut self,
        read: impl Fn(&Key, &Document) -> Result<T, portal_rules::Error>,
    ) -> (Vec<T>, Vec<SourceProblem>) {
        self.spec_errors.clear();
        let mut read_ok = Vec::new();
        let mut problems = Vec::new();
        for (key, resource) in &self.resources {
            let document = Document { origin: Origin::new(key.to_string(), None), value: resource.object.clone() };
            match read(key, &document) {
                Ok(value) => read_ok.push(value),
                Err(error) => {
                    problems.push(SourceProblem { location: key.to_string(), message: error.to_string() });
                    self.spec_errors.insert(key.clone(), error);
                }
            }
        }
        (read_ok, problems)
    }
}
