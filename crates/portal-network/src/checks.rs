//! The checks: policies that do not do what their authors think, and namespaces nothing
//! protects. Each finding is about one Namespace or one NetworkPolicy, and all findings of a
//! namespace depend only on what [`Inventory::affected_namespaces`] says, so they can be
//! recomputed one namespace at a time.

use std::collections::{BTreeMap, BTreeSet};

use portal_rules::Severity;
use serde::Serialize;

use crate::inventory::Inventory;
use crate::model::{Direction, NetworkPolicy, Peer, Pod, PortMatch};
use crate::traffic::isolating_policies;

/// A built-in check; its name (`np.…`) is the rule name findings are reported under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Check {
    /// `np.default-deny-missing`: a namespace has Pods that no policy isolates for ingress.
    DefaultDenyMissing,
    /// `np.default-deny-egress-missing`: a namespace has Pods that no policy isolates for egress.
    DefaultDenyEgressMissing,
    /// `np.broad-cidr`: an `ipBlock` allows `0.0.0.0/0`, `::/0` or a public range of `/8` or wider.
    BroadCidr,
    /// `np.unreachable-selector`: a policy's `podSelector` matches none of its namespace's Pods.
    UnreachableSelector,
    /// `np.policy-without-targets`: a policy's namespace has no Pods at all.
    PolicyWithoutTargets,
    /// `np.allow-all`: a rule allows every peer on every port, cancelling the policy's isolation.
    AllowAll,
    /// `np.peer-matches-nothing`: a peer's selectors match no Namespace or no Pod.
    PeerMatchesNothing,
    /// `np.named-port-unresolved`: a named port that no Pod the rule applies to declares.
    NamedPortUnresolved,
}

impl Check {
    /// Every built-in check, each once.
    pub const ALL: [Check; 8] = [
        Check::DefaultDenyMissing,
        Check::DefaultDenyEgressMissing,
        Check::BroadCidr,
        Check::UnreachableSelector,
        Check::PolicyWithoutTargets,
        Check::AllowAll,
        Check::PeerMatchesNothing,
        Check::NamedPortUnresolved,
    ];

    /// The rule name its findings are reported under (`np.broad-cidr`); also its `Display` and JSON form.
    pub fn name(self) -> &'static str {
        match self {
            Check::DefaultDenyMissing => "np.default-deny-missing",
            Check::DefaultDenyEgressMissing => "np.default-deny-egress-missing",
            Check::BroadCidr => "np.broad-cidr",
            Check::UnreachableSelector => "np.unreachable-selector",
            Check::PolicyWithoutTargets => "np.policy-without-targets",
            Check::AllowAll => "np.allow-all",
            Check::PeerMatchesNothing => "np.peer-matches-nothing",
            Check::NamedPortUnresolved => "np.named-port-unresolved",
        }
    }

    /// The check whose [`name`](Check::name) is `name`; `None` when no check has that name.
    pub fn from_name(name: &str) -> Option<Check> {
        Check::ALL.into_iter().find(|check| check.name() == name)
    }

    /// The severity of its findings unless [`CheckSettings::severities`] sets another.
    pub fn default_severity(self) -> Severity {
        match self {
            Check::DefaultDenyMissing | Check::BroadCidr | Check::AllowAll => Severity::High,
            Check::UnreachableSelector | Check::PeerMatchesNothing | Check::NamedPortUnresolved => Severity::Medium,
            Check::DefaultDenyEgressMissing | Check::PolicyWithoutTargets => Severity::Low,
        }
    }

    /// One line for help texts and documentation.
    pub fn summary(self) -> &'static str {
        match self {
            Check::DefaultDenyMissing => "a namespace has Pods that no policy isolates for ingress",
            Check::DefaultDenyEgressMissing => "a namespace has Pods that no policy isolates for egress",
            Check::BroadCidr => "an ipBlock allows 0.0.0.0/0, ::/0 or a public range of /8 or wider",
            Check::UnreachableSelector => "a policy's podSelector matches none of its namespace's Pods",
            Check::PolicyWithoutTargets => "a policy's namespace has no Pods at all",
            Check::AllowAll => "a rule allows every peer on every port, cancelling the isolation",
            Check::PeerMatchesNothing => "a peer's selectors match no Namespace or no Pod",
            Check::NamedPortUnresolved => "a named port that no Pod the rule applies to declares",
        }
    }
}

impl Serialize for Check {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl std::fmt::Display for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Which checks run, and the severity of each one's findings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckSettings {
    /// The checks that do not run; empty by default, so that every check runs.
    pub disabled: BTreeSet<Check>,
    /// Severities that replace a check's [`default_severity`](Check::default_severity).
    pub severities: BTreeMap<Check, Severity>,
}

impl CheckSettings {
    /// Whether `check` runs: it is not in [`disabled`](Self::disabled).
    pub fn enabled(&self, check: Check) -> bool {
        !self.disabled.contains(&check)
    }

    /// The severity of `check`'s findings: the one [`severities`](Self::severities) sets, or its default.
    pub fn severity(&self, check: Check) -> Severity {
        self.severities.get(&check).copied().unwrap_or_else(|| check.default_severity())
    }
}

/// The kind of object a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum SubjectKind {
    /// A Namespace, for findings on the namespace as a whole (a missing default deny).
    Namespace,
    /// A NetworkPolicy.
    NetworkPolicy,
}

/// The object a finding is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Subject {
    /// Whether it is a Namespace or a NetworkPolicy.
    pub kind: SubjectKind,
    /// The namespace (for a Namespace, its own name).
    pub namespace: String,
    /// The object's `metadata.name`.
    pub name: String,
}

impl std::fmt::Display for Subject {
    /// As `portal check` names objects: `Namespace/legacy`, `NetworkPolicy/shop/web`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kind {
            SubjectKind::Namespace => write!(f, "Namespace/{}", self.name),
            SubjectKind::NetworkPolicy => write!(f, "NetworkPolicy/{}/{}", self.namespace, self.name),
        }
    }
}

/// One problem a check found on one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The check that found it; its name is the rule name it is reported under.
    pub check: Check,
    /// The check's severity, as [`CheckSettings::severity`] gives it.
    pub severity: Severity,
    /// The Namespace or NetworkPolicy it is about.
    pub subject: Subject,
    /// What is wrong, where, and what to do.
    pub message: String,
}

/// Every finding of the inventory, namespace by namespace.
pub fn analyze(inventory: &Inventory, settings: &CheckSettings) -> Vec<Finding> {
    inventory
        .namespace_names()
        .into_iter()
        .flat_map(|namespace| analyze_namespace(inventory, namespace, settings))
        .collect()
}

/// The findings on namespace `namespace` and on its NetworkPolicies.
pub fn analyze_namespace(inventory: &Inventory, namespace: &str, settings: &CheckSettings) -> Vec<Finding> {
    let mut findings = Findings { settings, found: Vec::new() };
    let pods: Vec<&Pod> = inventory.pods_in(namespace).collect();
    let namespace_subject =
        Subject { kind: SubjectKind::Namespace, namespace: namespace.to_owned(), name: namespace.to_owned() };
    for (check, direction) in
        [(Check::DefaultDenyMissing, Direction::Ingress), (Check::DefaultDenyEgressMissing, Direction::Egress)]
    {
        if !settings.enabled(check) || pods.is_empty() {
            continue;
        }
        let open: Vec<&str> = pods
            .iter()
            .filter(|pod| isolating_policies(inventory, pod, direction).next().is_none())
            .map(|pod| pod.name.as_str())
            .collect();
        if !open.is_empty() {
            let types = if direction == Direction::Ingress { "Ingress" } else { "Egress" };
            findings.add(
                check,
                &namespace_subject,
                format!(
                    "{} of {} Pods in namespace {namespace} are not isolated for {} ({}): no NetworkPolicy selects them \
                     with policyTypes {types}, so {}. Add a default-deny policy (podSelector: {{}}, policyTypes: [{types}]) \
                     and allow what is needed",
                    open.len(),
                    pods.len(),
                    direction.as_str(),
                    example_names(&open),
                    if direction == Direction::Ingress {
                        "anything may connect to them"
                    } else {
                        "they may connect anywhere"
                    },
                ),
            );
        }
    }
    for policy in inventory.policies_in(namespace) {
        check_policy(inventory, policy, &pods, &mut findings);
    }
    findings.found
}

struct Findings<'a> {
    settings: &'a CheckSettings,
    found: Vec<Finding>,
}

impl Findings<'_> {
    fn add(&mut self, check: Check, subject: &Subject, message: String) {
        if self.settings.enabled(check) {
            self.found.push(Finding {
                check,
                severity: self.settings.severity(check),
                subject: subject.clone(),
                message,
            });
        }
    }
}

fn example_names(names: &[&str]) -> String {
    const SHOWN: usize = 3;
    let shown = names.iter().take(SHOWN).copied().collect::<Vec<_>>().join(", ");
    if names.len() > SHOWN { format!("{shown}, …") } else { shown }
}

fn check_policy(inventory: &Inventory, policy: &NetworkPolicy, pods: &[&Pod], findings: &mut Findings<'_>) {
    let subject =
        Subject { kind: SubjectKind::NetworkPolicy, namespace: policy.namespace.clone(), name: policy.name.clone() };
    let selected: Vec<&Pod> = pods.iter().copied().filter(|pod| policy.pod_selector.matches(&pod.labels)).collect();
    if pods.is_empty() {
        findings.add(
            Check::PolicyWithoutTargets,
            &subject,
            format!(
                "namespace {} has no Pods, so this policy applies to nothing: remove it, or move it to the namespace \
                 its workloads run in",
                policy.namespace
            ),
        );
    } else if selected.is_empty() {
        findings.add(
            Check::UnreachableSelector,
            &subject,
            format!(
                "spec.podSelector {} matches none of the {} Pods in namespace {}: the policy protects nothing. Check the \
                 labels it expects against `kubectl get pods -n {} --show-labels` (a renamed label?)",
                policy.pod_selector,
                pods.len(),
                policy.namespace,
                policy.namespace
            ),
        );
    }
    for direction in [Direction::Ingress, Direction::Egress] {
        for (index, rule) in policy.rules(direction).unwrap_or_default().iter().enumerate() {
            let rule_field = format!("spec.{}[{index}]", direction.as_str());
            let peers_field = if direction == Direction::Ingress { "from" } else { "to" };
            let everyone = if direction == Direction::Ingress { "every source" } else { "every destination" };
            if rule.ports.is_empty() {
                if rule.peers.is_empty() {
                    findings.add(
                        Check::AllowAll,
                        &subject,
                        format!(
                            "{rule_field} has no {peers_field} and no ports: it allows {everyone}, inside the cluster and \
                             out, on every port, which cancels the policy's {} isolation. List the peers and ports needed",
                            direction.as_str()
                        ),
                    );
                } else if let Some(peer_index) = rule.peers.iter().position(Peer::is_every_pod) {
                    findings.add(
                        Check::AllowAll,
                        &subject,
                        format!(
                            "{rule_field}.{peers_field}[{peer_index}] (namespaceSelector: {{}}) allows every Pod of every \
                             namespace on every port; select the namespaces and Pods needed"
                        ),
                    );
                }
            }
            for (peer_index, peer) in rule.peers.iter().enumerate() {
                let peer_field = format!("{rule_field}.{peers_field}[{peer_index}]");
                check_peer(inventory, policy, peer, &peer_field, &subject, findings);
            }
            check_named_ports(inventory, policy, direction, rule, &selected, &rule_field, &subject, findings);
        }
    }
}

fn check_peer(
    inventory: &Inventory,
    policy: &NetworkPolicy,
    peer: &Peer,
    field: &str,
    subject: &Subject,
    findings: &mut Findings<'_>,
) {
    match peer {
        Peer::Block { cidr, except } => {
            if cidr.is_broad_public() {
                let excepted =
                    if except.is_empty() { String::new() } else { format!(" ({} ranges excepted)", except.len()) };
                findings.add(
                    Check::BroadCidr,
                    subject,
                    format!(
                        "{field}.ipBlock.cidr {cidr} allows {} public addresses{excepted}; narrow it to the ranges needed",
                        if cidr.prefix() == 0 { "all" } else { "a wide range of" }
                    ),
                );
            }
        }
        Peer::Pods { namespaces, pods } => {
            if !findings.settings.enabled(Check::PeerMatchesNothing) {
                return;
            }
            if let Some(namespace_selector) = namespaces
                && !inventory.any_namespace_matches(namespace_selector)
            {
                findings.add(
                    Check::PeerMatchesNothing,
                    subject,
                    format!(
                        "{field}.namespaceSelector {namespace_selector} matches no Namespace, so this peer allows nothing; \
                         check the labels against `kubectl get namespaces --show-labels`"
                    ),
                );
                return;
            }
            if inventory.pods_of_peer(&policy.namespace, namespaces.as_ref(), pods.as_ref()).next().is_none() {
                let described = match (namespaces, pods) {
                    (None, Some(pods)) => {
                        format!("podSelector {pods} matches no Pod in namespace {}", policy.namespace)
                    }
                    (Some(namespaces), Some(pods)) => {
                        format!(
                            "podSelector {pods} matches no Pod in the namespaces namespaceSelector {namespaces} selects"
                        )
                    }
                    (Some(namespaces), None) => {
                        format!("the namespaces namespaceSelector {namespaces} selects have no Pods")
                    }
                    (None, None) => format!("namespace {} has no Pods", policy.namespace),
                };
                findings.add(
                    Check::PeerMatchesNothing,
                    subject,
                    format!("{field}: {described}, so this peer allows nothing today; check its labels"),
                );
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn check_named_ports(
    inventory: &Inventory,
    policy: &NetworkPolicy,
    direction: Direction,
    rule: &crate::model::PolicyRule,
    selected: &[&Pod],
    rule_field: &str,
    subject: &Subject,
    findings: &mut Findings<'_>,
) {
    if !findings.settings.enabled(Check::NamedPortUnresolved) {
        return;
    }
    for (port_index, port) in rule.ports.iter().enumerate() {
        let PortMatch::Named(name) = &port.port else { continue };
        let field = format!("{rule_field}.ports[{port_index}].port");
        let exposed_by = |pod: &&Pod| pod.named_port(name, port.protocol).is_some();
        let message = match direction {
            // Ingress: the named port is resolved on the Pods the policy selects.
            Direction::Ingress => {
                if selected.is_empty() || selected.iter().any(exposed_by) {
                    continue;
                }
                format!(
                    "{field} {name:?} ({}): none of the {} Pods this policy selects declares a container port of that name, \
                     so the rule allows nothing; name the port in the Pods' spec or use its number",
                    port.protocol.as_str(),
                    selected.len()
                )
            }
            // Egress: on the destination Pods, those of the rule's peers.
            Direction::Egress => {
                let only_blocks =
                    !rule.peers.is_empty() && rule.peers.iter().all(|peer| matches!(peer, Peer::Block { .. }));
                if only_blocks {
                    format!(
                        "{field} {name:?}: the rule's peers are all ipBlocks, and a named port is resolved on destination \
                         Pods, so it never matches an address outside the cluster; use the port number"
                    )
                } else {
                    let resolved = if rule.peers.is_empty() {
                        inventory.pods().any(|pod| exposed_by(&pod))
                    } else {
                        rule.peers.iter().any(|peer| match peer {
                            Peer::Pods { namespaces, pods } => inventory
                                .pods_of_peer(&policy.namespace, namespaces.as_ref(), pods.as_ref())
                                .any(|pod| exposed_by(&pod)),
                            Peer::Block { cidr, except } => inventory.pods().any(|pod| {
                                exposed_by(&pod)
                                    && pod
                                        .ips
                                        .iter()
                                        .any(|ip| cidr.contains(*ip) && !except.iter().any(|e| e.contains(*ip)))
                            }),
                        })
                    };
                    if resolved {
                        continue;
                    }
                    format!(
                        "{field} {name:?} ({}): no Pod this rule can reach declares a container port of that name, so the \
                         rule allows nothing; name the port in the destination Pods' spec or use its number",
                        port.protocol.as_str()
                    )
                }
            }
        };
        findings.add(Check::NamedPortUnresolved, subject, message);
    }
}
