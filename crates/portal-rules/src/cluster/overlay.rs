//! The view at admission: the cluster as it will be once the request is admitted. The object
//! under review is there in its new version (CREATE, UPDATE) or gone (DELETE), so that "is this
//! Ingress host used elsewhere" counts the new Ingress once and a rule can leave it out by name.

use std::sync::Arc;

use super::view::{ClusterObject, ClusterView, LabelSelector, LookupError, LookupTarget, selects};
use crate::activation::ObjectIdentity;

/// `base` with one object replaced by its version after the request, or removed.
#[derive(Debug)]
pub struct Overlay {
    base: Arc<dyn ClusterView>,
    group: String,
    kind: String,
    namespace: Option<String>,
    name: Option<String>,
    after: Option<Arc<ClusterObject>>,
}

impl Overlay {
    /// The object `identity` names, as `after` (`None` on DELETE), laid over `base`.
    pub fn new(base: Arc<dyn ClusterView>, identity: &ObjectIdentity, after: Option<serde_json::Value>) -> Overlay {
        Overlay {
            base,
            group: identity.group.clone(),
            kind: identity.kind.clone(),
            namespace: identity.namespace.clone(),
            name: identity.name.clone(),
            after: after.map(|object| Arc::new(ClusterObject::new(object))),
        }
    }

    fn is_reviewed(&self, target: &LookupTarget, namespace: Option<&str>, name: Option<&str>) -> bool {
        target.kind == self.kind
            && target.group() == self.group
            && namespace == self.namespace.as_deref()
            && name.is_some()
            && name == self.name.as_deref()
    }
}

impl ClusterView for Overlay {
    fn get(
        &self,
        target: &LookupTarget,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Option<Arc<ClusterObject>>, LookupError> {
        if self.is_reviewed(target, namespace, Some(name)) {
            return Ok(self.after.clone());
        }
        self.base.get(target, namespace, name)
    }

    fn list(
        &self,
        target: &LookupTarget,
        namespace: Option<&str>,
        selector: &LabelSelector,
    ) -> Result<Vec<Arc<ClusterObject>>, LookupError> {
        let mut found = self.base.list(target, namespace, selector)?;
        if target.kind != self.kind || target.group() != self.group {
            return Ok(found);
        }
        found.retain(|object| !self.is_reviewed(target, object.namespace(), object.name()));
        let in_scope = namespace.is_none() || namespace == self.namespace.as_deref();
        if let Some(after) = self.after.as_ref().filter(|after| in_scope && selects(selector, after.labels())) {
            // In the place the base orders it: by namespace, then name.
            let key =
                |object: &ClusterObject| (object.namespace().map(str::to_owned), object.name().map(str::to_owned));
            let at = found.partition_point(|object| key(object) < key(after));
            found.insert(at, Arc::clone(after));
        }
        Ok(found)
    }
}
