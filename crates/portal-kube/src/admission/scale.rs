//! `scale` requests (`kubectl scale`, autoscalers), evaluated as the object they scale. The
//! review carries an `autoscaling/v1` `Scale` with only the new replica count, which no rule
//! about Deployments would match; so the scaled object is read and evaluated as an UPDATE of it
//! to that count, and a replicas rule cannot be sidestepped.

use futures::future::BoxFuture;
use kube::Api;
use kube::api::{ApiResource, DynamicObject};
use serde_json::Value as Json;

use super::review::Review;

/// The object a `scale` request is about: its resource and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScaleTarget {
    pub group: String,
    pub version: String,
    /// The resource's plural, e.g. `deployments`.
    pub resource: String,
    pub namespace: Option<String>,
    pub name: String,
}

impl std::fmt::Display for ScaleTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(namespace) => write!(f, "{}/{namespace}/{}", self.resource, self.name),
            None => write!(f, "{}/{}", self.resource, self.name),
        }
    }
}

/// Why the scaled object could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ScaleError {
    #[error("reading {target}")]
    Read {
        target: String,
        #[source]
        source: kube::Error,
    },
    #[error("reading {target}: Portal runs without cluster access (rules.cluster.enabled: false)")]
    NoCluster { target: String },
}

/// Reads scaled objects.
pub trait ScaledObjects: Send + Sync {
    fn get<'a>(&'a self, target: &'a ScaleTarget) -> BoxFuture<'a, Result<Json, ScaleError>>;
}

/// Reads them from the API server: scale requests are rare (a person scaling, an autoscaler
/// changing its mind), so a read per request costs less than a watch cache of every scalable
/// object in every replica.
#[derive(Clone)]
pub struct ApiScaledObjects(pub kube::Client);

impl std::fmt::Debug for ApiScaledObjects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiScaledObjects")
    }
}

impl ScaledObjects for ApiScaledObjects {
    fn get<'a>(&'a self, target: &'a ScaleTarget) -> BoxFuture<'a, Result<Json, ScaleError>> {
        Box::pin(async move {
            let api_version = if target.group.is_empty() {
                target.version.clone()
            } else {
                format!("{}/{}", target.group, target.version)
            };
            // The kind plays no part in a GET's URL.
            let resource = ApiResource {
                group: target.group.clone(),
                version: target.version.clone(),
                api_version,
                kind: String::new(),
                plural: target.resource.clone(),
            };
            let api: Api<DynamicObject> = match &target.namespace {
                Some(namespace) => Api::namespaced_with(self.0.clone(), namespace, &resource),
                None => Api::all_with(self.0.clone(), &resource),
            };
            let object = api
                .get(&target.name)
                .await
                .map_err(|source| ScaleError::Read { target: target.to_string(), source })?;
            Ok(serde_json::to_value(object).unwrap_or(Json::Null))
        })
    }
}

/// No cluster access: every scale request is an error, which the failure policy answers.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoScaledObjects;

impl ScaledObjects for NoScaledObjects {
    fn get<'a>(&'a self, target: &'a ScaleTarget) -> BoxFuture<'a, Result<Json, ScaleError>> {
        Box::pin(async move { Err(ScaleError::NoCluster { target: target.to_string() }) })
    }
}

/// The object a review's `scale` request is about, if it is one.
pub fn scale_target(review: &Review) -> Option<ScaleTarget> {
    let request = &review.request;
    if request.get("subResource").and_then(Json::as_str) != Some("scale") {
        return None;
    }
    let text = |value: Option<&Json>| value.and_then(Json::as_str).map(str::to_owned);
    let resource = request.get("resource")?;
    Some(ScaleTarget {
        group: text(resource.get("group")).unwrap_or_default(),
        version: text(resource.get("version"))?,
        resource: text(resource.get("resource"))?,
        namespace: review.namespace.clone(),
        name: text(request.get("name"))?,
    })
}

/// The review of a scale request as an UPDATE of the scaled object to the requested replica
/// count: `object` is `parent` with the Scale's `spec.replicas`, `oldObject` is `parent`.
pub fn as_update_of(review: &Review, parent: Json) -> Review {
    let replicas = review.object.as_ref().and_then(|scale| scale.get("spec")).and_then(|spec| spec.get("replicas"));
    let mut object = parent.clone();
    if let (Some(replicas), Some(Json::Object(spec))) = (replicas, object.get_mut("spec")) {
        spec.insert("replicas".to_owned(), replicas.clone());
    }
    Review { object: Some(object), old_object: Some(parent), ..review.clone() }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::admission::review::read_review;

    fn scale_review() -> Review {
        let body = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
            "uid": "u", "operation": "UPDATE", "namespace": "shop", "name": "web", "subResource": "scale",
            "kind": {"group": "autoscaling", "version": "v1", "kind": "Scale"},
            "resource": {"group": "apps", "version": "v1", "resource": "deployments"},
            "object": {"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {"name": "web"}, "spec": {"replicas": 5}},
            "oldObject": {"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {"name": "web"}, "spec": {"replicas": 1}},
        }});
        read_review(&serde_json::to_vec(&body).unwrap()).unwrap()
    }

    #[test]
    fn a_scale_request_names_its_target_and_becomes_an_update_of_it() {
        let review = scale_review();
        let target = scale_target(&review).unwrap();
        assert_eq!(
            target,
            ScaleTarget {
                group: "apps".into(),
                version: "v1".into(),
                resource: "deployments".into(),
                namespace: Some("shop".into()),
                name: "web".into()
            }
        );
        assert_eq!(target.to_string(), "deployments/shop/web");
        let parent = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"},
                            "spec": {"replicas": 1, "template": {}}});
        let update = as_update_of(&review, parent.clone());
        assert_eq!(update.object.as_ref().unwrap()["spec"]["replicas"], 5);
        assert_eq!(update.object.as_ref().unwrap()["kind"], "Deployment");
        assert_eq!(update.old_object, Some(parent));
    }

    #[test]
    fn other_requests_are_not_scale_requests() {
        let mut review = scale_review();
        review.request["subResource"] = json!("status");
        assert_eq!(scale_target(&review), None);
    }
}
