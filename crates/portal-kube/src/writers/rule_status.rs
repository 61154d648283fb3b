//! The status of `PortalClusterRule` and `PortalRule` resources.

use kube::Api;
use kube::api::Patch;
use serde_json::json;

use super::apply::apply_params;
use crate::api::{PortalClusterRule, PortalRule, RuleResourceKey, RuleStatus};

/// Applies `status` to the rule resource's status subresource. Server-side apply replaces what
/// Portal owns: a field the status no longer has (a fixed rule's `parseError`) is removed.
pub async fn write_rule_status(
    client: &kube::Client,
    key: &RuleResourceKey,
    status: &RuleStatus,
) -> Result<(), kube::Error> {
    let params = apply_params();
    match key {
        RuleResourceKey::Cluster(name) => {
            let patch = json!({"apiVersion": "portal.io/v1alpha1", "kind": "PortalClusterRule", "status": status});
            Api::<PortalClusterRule>::all(client.clone()).patch_status(name, &params, &Patch::Apply(&patch)).await?;
        }
        RuleResourceKey::Namespaced(namespace, name) => {
            let patch = json!({"apiVersion": "portal.io/v1alpha1", "kind": "PortalRule", "status": status});
            Api::<PortalRule>::namespaced(client.clone(), namespace)
                .patch_status(name, &params, &Patch::Apply(&patch))
                .await?;
        }
    }
    Ok(())
}
