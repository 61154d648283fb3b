//! Which kinds the audit watches: those its rules match, found through API discovery.

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::core::PartialObjectMeta;
use kube::discovery::{ApiResource, Discovery, verbs};
use kube::runtime::{WatchStreamExt, watcher};
use portal_rules::schema::GroupVersionKind;
use portal_rules::{Mode, RuleSet};
use tokio::sync::Notify;

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

/// After a CRD changes, API discovery is looked at again after each of these delays.
const DISCOVERY_LAG: [std::time::Duration; 3] =
    [std::time::Duration::from_secs(1), std::time::Duration::from_secs(2), std::time::Duration::from_secs(7)];

/// Announces every CustomResourceDefinition that is created, changes (e.g. becomes established)
/// or is deleted, and the end of the first list, so that a rule's kind whose CRD is installed after the
/// rule is watched as soon as the API server serves it. Only metadata is watched: a CRD's schema
/// can be large, and what changed in it does not matter here.
pub(crate) async fn watch_definitions(client: kube::Client, changed: Arc<Notify>) {
    let api = kube::Api::<PartialObjectMeta<CustomResourceDefinition>>::all(client);
    let mut events = watcher(api, watcher::Config::default()).default_backoff().boxed();
    while let Some(event) = events.next().await {
        match event {
            // After the first list too: a CRD created between the audit's first discovery and
            // that list is only in the list.
            Ok(watcher::Event::Apply(_) | watcher::Event::Delete(_) | watcher::Event::InitDone) => {
                changed.notify_one();
                // API discovery serves a new kind a moment after its CRD is established, longer
                // on a busy API server: look again a few times.
                let again = Arc::clone(&changed);
                tokio::spawn(async move {
                    for delay in DISCOVERY_LAG {
                        tokio::time::sleep(delay).await;
                        again.notify_one();
                    }
                });
            }
            Ok(watcher::Event::Init | watcher::Event::InitApply(_)) => {}
            Err(error) => tracing::warn!("audit: watching CustomResourceDefinitions failed, retrying: {error}"),
        }
    }
}

/// For each kind `key` in `keys`, a digest of the audit rules that can apply to it (their specs,
/// the namespace they are confined to, the limits they run under, and the exceptions that can
/// apply, with whether each has expired): when the rules change, only the kinds whose digest
/// changed are evaluated again.
pub(crate) fn rule_digests<'k>(rules: &RuleSet, keys: impl IntoIterator<Item = &'k str>) -> BTreeMap<String, u64> {
    let audited: Vec<_> =
        rules.rules().iter().filter(|rule| rule.spec().enabled && rule.spec().mode.contains(&Mode::Audit)).collect();
    let limits = format!("{:?}", rules.limits());
    let now = std::time::SystemTime::now();
    let exceptions = rules.exceptions().exceptions();
    keys.into_iter()
        .map(|key| {
            let (group, kind) = key.split_once('/').unwrap_or(("", key));
            let mut hasher = DefaultHasher::new();
            limits.hash(&mut hasher);
            for rule in &audited {
                let applies = rule.spec().match_spec.gvk.iter().any(|pattern| {
                    (pattern.group == "*" || pattern.group == group) && (pattern.kind == "*" || pattern.kind == kind)
                });
                if applies {
                    rule.namespace().hash(&mut hasher);
                    serde_json::to_string(rule.spec()).unwrap_or_default().hash(&mut hasher);
                }
            }
            // An exception that comes, goes or expires changes the results of the kinds it matches.
            for exception in exceptions {
                let gvk = &exception.spec().match_spec.gvk;
                let applies = gvk.is_empty()
                    || gvk.iter().any(|pattern| {
                        (pattern.group == "*" || pattern.group == group)
                            && (pattern.kind == "*" || pattern.kind == kind)
                    });
                if applies {
                    exception.reference().hash(&mut hasher);
                    exception.is_expired(now).hash(&mut hasher);
                    serde_json::to_string(exception.spec()).unwrap_or_default().hash(&mut hasher);
                }
            }
            (key.to_owned(), hasher.finish())
        })
        .collect()
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use portal_rules::load_rules;

    use super::*;

    fn rules(text: &str) -> RuleSet {
        let (loaded, errors) = load_rules("t", text);
        assert!(errors.is_empty(), "{errors:?}");
        let (set, errors) = RuleSet::compile(loaded);
        assert!(errors.is_empty(), "{errors:?}");
        set
    }

    const POD_AND_NAMESPACE: &str = "\
name: pods
mode: [audit]
match: {gvk: [{group: '', kind: Pod}]}
rule: 'true'
---
name: namespaces
mode: [audit]
match: {gvk: [{group: '', kind: Namespace}]}
rule: 'true'
";

    #[test]
    fn only_the_kinds_whose_rules_changed_get_another_digest() {
        let keys = ["/Pod", "/Namespace", "apps/Deployment"];
        let before = rule_digests(&rules(POD_AND_NAMESPACE), keys);
        let pod_rule_changed = POD_AND_NAMESPACE.replacen("rule: 'true'", "rule: 'false'", 1);
        let after = rule_digests(&rules(&pod_rule_changed), keys);
        assert_ne!(before["/Pod"], after["/Pod"]);
        assert_eq!(before["/Namespace"], after["/Namespace"]);
        assert_eq!(before["apps/Deployment"], after["apps/Deployment"]);

        let everything = format!(
            "{POD_AND_NAMESPACE}---\nname: all\nmode: [audit]\nmatch: {{gvk: [{{group: '*', kind: '*'}}]}}\nrule: 'true'\n"
        );
        let with_wildcard = rule_digests(&rules(&everything), keys);
        assert!(keys.iter().all(|key| with_wildcard[*key] != before[*key]), "a wildcard rule applies to every kind");

        let admission_only = format!(
            "{POD_AND_NAMESPACE}---\nname: admission\nmode: [admission]\nmatch: {{gvk: [{{group: '', kind: Pod}}]}}\nrule: 'true'\n"
        );
        assert_eq!(rule_digests(&rules(&admission_only), keys), before, "rules that do not audit change nothing");
    }
}
