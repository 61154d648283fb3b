//! The status of `PortalClusterException` and `PortalException` resources.

use kube::Api;
use kube::api::Patch;
use serde_json::json;

use super::apply::apply_params;
use crate::api::{ExceptionResourceKey, ExceptionStatus, PortalClusterException, PortalException};

/// Applies `status` to the exception resource's status subresource (server-side apply: a field
/// the status no longer has, a fixed exception's `parseError`, is removed).
pub async fn write_exception_status(
    client: &kube::Client,
    key: &ExceptionResourceKey,
    status: &ExceptionStatus,
) -> Result<(), kube::Error> {
    let params = apply_params();
    match key {
        ExceptionResourceKey::Cluster(name) => {
            let patch = json!({"apiVersion": "portal.io/v1alpha1", "kind": "PortalClusterException", "status": status});
            Api::<PortalClusterException>::all(client.clone())
                .patch_status(name, &params, &Patch::Apply(&patch))
                .await?;
        }
        ExceptionResourceKey::Namespaced(namespace, name) => {
            let patch = json!({"apiVersion": "portal.io/v1alpha1", "kind": "PortalException", "status": status});
            Api::<PortalException>::namespaced(client.clone(), namespace)
                .patch_status(name, &params, &Patch::Apply(&patch))
                .await?;
        }
    }
    Ok(())
}
