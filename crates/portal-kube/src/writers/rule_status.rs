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

/// How often a rule was evaluated, violated and failed, for its status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RuleCounts {
    pub evaluations: i64,
    pub violations: i64,
    pub errors: i64,
}

/// Writes `counts` into the rule resource's status (`evalCount`, `violationCount`, `errorCount`).
/// A merge patch, not an apply: the rest of the status is applied by the rule sources, and an
/// apply of the counters alone would drop it.
pub async fn write_rule_counts(
    client: &kube::Client,
    key: &RuleResourceKey,
    counts: RuleCounts,
) -> Result<(), kube::Error> {
    let patch = json!({"status": {
        "evalCount": counts.evaluations,
        "violationCount": counts.violations,
        "errorCount": counts.errors,
    }});
    let params = kube::api::PatchParams::default();
    match key {
        RuleResourceKey::Cluster(name) => {
            Api::<PortalClusterRule>::all(client.clone()).patch_status(name, &params, &Patch::Merge(&patch)).await?;
        }
        RuleResourceKey::Namespaced(namespace, name) => {
            Api::<PortalRule>::namespaced(client.clone(), namespace)
                .patch_status(name, &params, &Patch::Merge(&patch))
                .await?;
        }
    }
    Ok(())
}
