//! Which kinds the audit watches: those its rules match, found through API discovery.

use std::collections::BTreeMap;

use kube::discovery::{ApiResource, Discovery, verbs};
use portal_rules::schema::GroupVersionKind;
use portal_rules::{Mode, RuleSet};

/// A kind to watch.
#[derive(Debug, Clone)]
pub(crate) struct WatchedKind {
    pub resource: ApiResource,
}

/// A kind's key: `group/kind` (`/Pod` for the core group).
pub(crate) fn key(resource: &ApiResource) -> String {
    format!("{}/{}", resource.group, resource.kind)
}

/// What `kind: "*"` never covers: Portal's own reports, and the kinds that only record what
/// happens (Events, Leases), which change all the time and no rule is about.
const NEVER_BY_WILDCARD: &[(&str, &str)] = &[
    ("wgpolicyk8s.io", "*"),
    ("openreports.io", "*"),
    ("", "Event"),
    ("events.k8s.io", "Event"),
    ("coordination.k8s.io", "Lease"),
];

/// The `match.gvk` patterns of the enabled rules that run in audit.
pub(crate) fn audited_patterns(rules: &RuleSet) -> Vec<GroupVersionKind> {
    let mut patterns: Vec<GroupVersionKind> = rules
        .rules()
        .iter()
        .filter(|rule| rule.spec().enabled && rule.spec().mode.contains(&Mode::Audit))
        .flat_map(|rule| rule.spec().match_spec.gvk.iter().cloned())
        .collect();
    patterns.sort_by(|a, b| (&a.group, &a.kind, &a.version).cmp(&(&b.group, &b.kind, &b.version)));
    patterns.dedup();
    patterns
}

/// The listable, watchable kinds the patterns name, by [`key`], each at the version the API
/// server prefers unless the pattern names one.
pub(crate) async fn resolve(
    client: &kube::Client,
    patterns: &[GroupVersionKind],
) -> Result<BTreeMap<String, WatchedKind>, kube::Error> {
    let mut found = BTreeMap::new();
    if patterns.is_empty() {
        return Ok(found);
    }
    let discovery = Discovery::new(client.clone()).run().await?;
    for group in discovery.groups() {
        for pattern in patterns {
            if pattern.group != "*" && pattern.group != group.name() {
                continue;
            }
            let resources = if pattern.version == "*" {
                group.recommended_resources()
            } else {
                group.versioned_resources(&pattern.version)
            };
            for (resource, capabilities) in resources {
                let wildcard = pattern.kind == "*";
                let named = wildcard || pattern.kind == resource.kind;
                let excluded = wildcard
                    && NEVER_BY_WILDCARD
                        .iter()
                        .any(|(group, kind)| *group == resource.group && (*kind == "*" || *kind == resource.kind));
                let watchable =
                    capabilities.supports_operation(verbs::LIST) && capabilities.supports_operation(verbs::WATCH);
                if named && !excluded && watchable {
                    found.entry(key(&resource)).or_insert(WatchedKind { resource });
                }
            }
        }
    }
    Ok(found)
}
