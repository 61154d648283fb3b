//! The objects the analysis reads, indexed by namespace, and kept current one change at a time.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{ByNamespace, Direction, Namespace, NetworkPolicy, Objects, Peer, Pod, PortMatch};
use crate::selector::{Labels, Selector};

/// Pods, Namespaces and NetworkPolicies by namespace. A namespace that Pods or policies name
/// but no Namespace object describes has just its name label, as the API server would give it.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    namespaces: BTreeMap<String, Namespace>,
    pods: ByNamespace<Pod>,
    policies: ByNamespace<NetworkPolicy>,
}

/// What changed, for [`Inventory::affected_namespaces`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change<'a> {
    /// A Pod in this namespace came, went or changed.
    Pod(&'a str),
    /// This Namespace came, went or changed its labels.
    Namespace(&'a str),
    /// A NetworkPolicy in this namespace came, went or changed.
    Policy(&'a str),
}

impl Inventory {
    /// The inventory of `objects`; of two objects with the same namespace and name, the later one stays.
    pub fn new(objects: Objects) -> Inventory {
        let mut inventory = Inventory::default();
        for namespace in objects.namespaces {
            inventory.put_namespace(namespace);
        }
        for pod in objects.pods {
            inventory.put_pod(pod);
        }
        for policy in objects.policies {
            inventory.put_policy(policy);
        }
        inventory
    }

    /// Adds `pod`, replacing the Pod of the same namespace and name.
    pub fn put_pod(&mut self, pod: Pod) {
        self.pods.entry(pod.namespace.clone()).or_default().insert(pod.name.clone(), pod);
    }

    /// Removes the Pod `namespace/name`, if there is one.
    pub fn remove_pod(&mut self, namespace: &str, name: &str) {
        remove(&mut self.pods, namespace, name);
    }

    /// Adds `namespace`, replacing the Namespace of the same name and so its labels.
    pub fn put_namespace(&mut self, namespace: Namespace) {
        self.namespaces.insert(namespace.name.clone(), namespace);
    }

    /// Removes the Namespace object `name`; its Pods and policies stay, and it keeps just its name label.
    pub fn remove_namespace(&mut self, name: &str) {
        self.namespaces.remove(name);
    }

    /// Adds `policy`, replacing the NetworkPolicy of the same namespace and name.
    pub fn put_policy(&mut self, policy: NetworkPolicy) {
        self.policies.entry(policy.namespace.clone()).or_default().insert(policy.name.clone(), policy);
    }

    /// Removes the NetworkPolicy `namespace/name`, if there is one.
    pub fn remove_policy(&mut self, namespace: &str, name: &str) {
        remove(&mut self.policies, namespace, name);
    }

    /// Every namespace that has a Namespace object, Pods or policies.
    pub fn namespace_names(&self) -> BTreeSet<&str> {
        self.namespaces.keys().chain(self.pods.keys()).chain(self.policies.keys()).map(String::as_str).collect()
    }

    /// Whether a Namespace object of this name was given (or watched).
    pub fn has_namespace_object(&self, name: &str) -> bool {
        self.namespaces.contains_key(name)
    }

    /// The labels of namespace `name`: its object's, or the name label alone.
    pub fn namespace_labels(&self, name: &str) -> Labels {
        match self.namespaces.get(name) {
            Some(namespace) => namespace.labels.clone(),
            None => Namespace::named(name).labels,
        }
    }

    /// Whether the namespace `name` has these labels, without copying them.
    pub(crate) fn namespace_matches(&self, name: &str, selector: &Selector) -> bool {
        match self.namespaces.get(name) {
            Some(namespace) => selector.matches(&namespace.labels),
            None => selector.matches(&Namespace::named(name).labels),
        }
    }

    /// Whether any namespace has labels `selector` selects.
    pub(crate) fn any_namespace_matches(&self, selector: &Selector) -> bool {
        let names = self.namespaces.keys().chain(self.pods.keys()).chain(self.policies.keys());
        names.into_iter().any(|name| self.namespace_matches(name, selector))
    }

    /// The Pods a selector peer of a policy in `policy_namespace` selects: only the namespaces
    /// it can reach are walked.
    pub(crate) fn pods_of_peer<'a>(
        &'a self,
        policy_namespace: &'a str,
        namespaces: Option<&'a Selector>,
        pods: Option<&'a Selector>,
    ) -> impl Iterator<Item = &'a Pod> + 'a {
        let in_namespaces: Box<dyn Iterator<Item = &'a Pod> + 'a> = match namespaces {
            None => Box::new(self.pods_in(policy_namespace)),
            Some(selector) => Box::new(
                self.pods
                    .iter()
                    .filter(move |(namespace, _)| self.namespace_matches(namespace, selector))
                    .flat_map(|(_, pods)| pods.values()),
            ),
        };
        in_namespaces.filter(move |pod| pods.is_none_or(|selector| selector.matches(&pod.labels)))
    }

    /// The Pods of namespace `namespace`, by name.
    pub fn pods_in(&self, namespace: &str) -> impl Iterator<Item = &Pod> {
        self.pods.get(namespace).into_iter().flat_map(BTreeMap::values)
    }

    /// Every Pod, by namespace, then by name.
    pub fn pods(&self) -> impl Iterator<Item = &Pod> {
        self.pods.values().flat_map(BTreeMap::values)
    }

    /// The Pod `namespace/name`; `None` when there is none.
    pub fn pod(&self, namespace: &str, name: &str) -> Option<&Pod> {
        self.pods.get(namespace)?.get(name)
    }

    /// The NetworkPolicies of namespace `namespace`, by name.
    pub fn policies_in(&self, namespace: &str) -> impl Iterator<Item = &NetworkPolicy> {
        self.policies.get(namespace).into_iter().flat_map(BTreeMap::values)
    }

    /// Every NetworkPolicy, by namespace, then by name.
    pub fn policies(&self) -> impl Iterator<Item = &NetworkPolicy> {
        self.policies.values().flat_map(BTreeMap::values)
    }

    /// The namespaces whose findings a change can alter: its own, and every namespace with a
    /// policy that reaches beyond itself — a peer with a namespace selector, or an egress rule to
    /// any destination with a named port (resolved on Pods anywhere).
    pub fn affected_namespaces(&self, change: Change<'_>) -> BTreeSet<String> {
        let (Change::Pod(namespace) | Change::Namespace(namespace) | Change::Policy(namespace)) = change;
        let mut affected = BTreeSet::from([namespace.to_owned()]);
        if matches!(change, Change::Policy(_)) {
            return affected;
        }
        for (policy_namespace, policies) in &self.policies {
            if policies.values().any(reaches_other_namespaces) {
                affected.insert(policy_namespace.clone());
            }
        }
        affected
    }
}

fn reaches_other_namespaces(policy: &NetworkPolicy) -> bool {
    [Direction::Ingress, Direction::Egress].into_iter().any(|direction| {
        policy.rules(direction).unwrap_or_default().iter().any(|rule| {
            rule.peers.iter().any(|peer| matches!(peer, Peer::Pods { namespaces: Some(_), .. }))
                || (direction == Direction::Egress
                    && rule.peers.is_empty()
                    && rule.ports.iter().any(|port| matches!(port.port, PortMatch::Named(_))))
        })
    })
}

fn remove<T>(map: &mut ByNamespace<T>, namespace: &str, name: &str) {
    if let Some(objects) = map.get_mut(namespace) {
        objects.remove(name);
        if objects.is_empty() {
            map.remove(namespace);
        }
    }
}
