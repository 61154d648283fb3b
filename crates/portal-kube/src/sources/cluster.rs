//! `PortalClusterRule` and `PortalRule` resources as a rule source: watched with kube-runtime,
//! turned into [`LoadedRule`]s, and given a status that says whether each is in force.

use std::collections::BTreeMap;

use kube::Api;
use portal_rules::{LoadedRule, RuleSet, rule_from_document};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::event::{ClusterEvent, ResourceKind, SourceEvent, SourceProblem};
use super::known::Known;
use super::status::{desired_status, same};
use super::watching::{Absent, Change, resource_event, to_resource, watch_resources};
use crate::api::{PortalClusterRule, PortalRule, RuleResourceKey, RuleStatus};
use crate::writers::write_rule_status;

/// The rule resources known, and what was last written to their status.
pub(crate) type ClusterRules = Known<RuleResourceKey, RuleStatus>;

impl ClusterRules {
    /// Every valid rule resource as a rule, in a stable order (cluster rules, then namespaced
    /// rules by namespace and name). A `PortalRule` is named `namespace/name`, so rules of the
    /// same name in different namespaces never collide.
    pub fn loaded_rules(&mut self) -> (Vec<LoadedRule>, Vec<SourceProblem>) {
        self.read_all(|key, document| {
            let mut rule = rule_from_document(document)?;
            if let RuleResourceKey::Namespaced(namespace, _) = key {
                rule.name = format!("{namespace}/{}", rule.name);
            }
            Ok(rule)
        })
    }

    /// Writes the status of every rule resource whose status changed.
    pub async fn write_status(&mut self, compile_errors: &BTreeMap<String, portal_rules::Error>, set: &RuleSet) {
        let Some(client) = self.client.clone() else { return };
        for (key, resource) in &mut self.resources {
            let error = self.spec_errors.get(key).or_else(|| compile_errors.get(&key.to_string()));
            let in_force = set.rules().iter().find(|r| r.origin().source == key.to_string());
            let desired = desired_status(resource.generation, resource.status.as_ref(), error, in_force);
            if resource.status.as_ref().is_some_and(|current| same(current, &desired)) {
                continue;
            }
            match write_rule_status(&client, key, &desired).await {
                Ok(()) => resource.status = Some(desired),
                Err(error) => tracing::warn!(resource = %key, "writing rule status failed: {error}"),
            }
        }
    }
}

/// The rules of every `PortalClusterRule` and `PortalRule` in the cluster, read once (for
/// `portal export vap --from-cluster`), named and checked as the sources name and check them.
pub async fn list_cluster_rules(client: kube::Client) -> Result<(Vec<LoadedRule>, Vec<SourceProblem>), kube::Error> {
    let params = kube::api::ListParams::default();
    let cluster = Api::<PortalClusterRule>::all(client.clone()).list(&params).await?;
    let namespaced = Api::<PortalRule>::all(client).list(&params).await?;
    let mut rules = ClusterRules::new(None);
    let cluster_resources = cluster.items.iter().filter_map(|rule| to_resource(rule, ResourceKind::Cluster)).collect();
    rules.apply(ClusterEvent::Listed(ResourceKind::Cluster, cluster_resources));
    let namespaced_resources =
        namespaced.items.iter().filter_map(|rule| to_resource(rule, ResourceKind::Namespaced)).collect();
    rules.apply(ClusterEvent::Listed(ResourceKind::Namespaced, namespaced_resources));
    Ok(rules.loaded_rules())
}

/// Starts one watcher per kind; each sends its events to the reconciler.
pub(crate) fn spawn_watchers(client: kube::Client, events: mpsc::Sender<SourceEvent>) -> Vec<JoinHandle<()>> {
    vec![
        tokio::spawn(watch_resources(
            Api::<PortalClusterRule>::all(client.clone()),
            "PortalClusterRule",
            events.clone(),
            |change| rule_event(change, ResourceKind::Cluster),
        )),
        tokio::spawn(watch_resources(Api::<PortalRule>::all(client), "PortalRule", events, |change| {
            rule_event(change, ResourceKind::Namespaced)
        })),
    ]
}

/// What a change to a rule resource means to the reconciler.
fn rule_event<K: kube::Resource + serde::Serialize>(change: Change<K>, kind: ResourceKind) -> Option<SourceEvent> {
    match resource_event(change, kind)? {
        Ok(event) => Some(SourceEvent::Cluster(event)),
        // Without the rule CRDs Portal has no rules to enforce: it stays not ready, saying why.
        Err(Absent) => None,
    }
}
