//! "Can A reach B?": the verdict of each direction — egress of the source Pod, ingress of the
//! destination Pod — and the policies and rules that decide it.
//!
//! Kubernetes semantics: a Pod is isolated for a direction only when some policy of its
//! namespace selects it with that policy type; then traffic is allowed when any rule of any
//! such policy allows it (policies add up, none subtracts). Traffic passes when both ends
//! allow it.

use serde::Serialize;

use crate::address::Cidr;
use crate::inventory::Inventory;
use crate::model::{Direction, NetworkPolicy, Peer, Pod, PolicyPort, PolicyRule, PortMatch, Protocol};

/// One end of the traffic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A Pod of the inventory.
    Pod {
        /// The Pod's namespace.
        namespace: String,
        /// The Pod's `metadata.name`.
        name: String,
    },
    /// An address or range outside the Pod network (or any range, matched by `ipBlock` only).
    Address(Cidr),
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Pod { namespace, name } => write!(f, "{namespace}/{name}"),
            Endpoint::Address(cidr) => write!(f, "{cidr}"),
        }
    }
}

/// The destination port asked about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortQuery {
    /// The port number, or the name of one of the destination Pod's container ports.
    pub port: PortValue,
    /// The protocol (TCP when the question names none).
    pub protocol: Protocol,
}

/// A destination port as asked: a number or a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortValue {
    /// A port number.
    Number(u16),
    /// A container port name of the destination Pod.
    Name(String),
}

/// Whether traffic passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reach {
    /// Traffic passes: on the port asked, or on every port when none was asked.
    Allowed,
    /// Without a port asked: allowed on some ports only (each direction lists them).
    Partly,
    /// Traffic does not pass: on the port asked, or on any port when none was asked.
    Denied,
}

/// The answer of [`explain`]: the overall verdict, and the verdict of each direction that applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Explanation {
    /// The source: `namespace/name` of a Pod, or a CIDR (`/32` or `/128` for one address).
    pub from: String,
    /// The destination, written the same way.
    pub to: String,
    /// `TCP/8080`, or `None` when no port was asked.
    pub port: Option<String>,
    /// Whether traffic passes: both the source's egress and the destination's ingress must allow it.
    pub verdict: Reach,
    /// The source Pod's egress; `None` when the source is an address.
    pub egress: Option<DirectionVerdict>,
    /// The destination Pod's ingress; `None` when the destination is an address.
    pub ingress: Option<DirectionVerdict>,
}

/// The verdict of one direction: the source Pod's egress or the destination Pod's ingress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectionVerdict {
    /// `egress` or `ingress`.
    pub direction: &'static str,
    /// The Pod whose policies decide (`namespace/name`).
    pub pod: String,
    /// Whether the Pod's policies let the traffic pass in this direction.
    pub verdict: Reach,
    /// The policies that select the Pod for this direction; empty: not isolated, all allowed.
    pub isolated_by: Vec<String>,
    /// The rules that allow the traffic.
    pub allowed_by: Vec<AllowingRule>,
}

/// An `ingress` or `egress` rule that allows the traffic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AllowingRule {
    /// The policy's name (in the Pod's namespace).
    pub policy: String,
    /// The field of the rule: `spec.ingress[2]`.
    pub rule: String,
    /// The ports this rule allows, when no port was asked and it allows only some.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<String>,
}

/// Why [`explain`] cannot answer a question.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExplainError {
    /// An end names a Pod the inventory does not hold; holds it as `namespace/name`.
    #[error("there is no Pod {0} in the objects given; check the namespace and name (`kubectl get pod -n NAMESPACE`)")]
    UnknownPod(String),
    /// The port asked is a name that no container port of the destination Pod has for the protocol.
    #[error("Pod {pod} has no {protocol} container port named {name:?}; give the port number instead")]
    UnknownPortName {
        /// The destination Pod, `namespace/name`.
        pod: String,
        /// The port name asked.
        name: String,
        /// The protocol asked: `TCP`, `UDP` or `SCTP`.
        protocol: &'static str,
    },
    /// The port asked is a name, but the destination is an address, which has no named ports.
    #[error("a port name needs a Pod as destination; give the port number for an address")]
    PortNameNeedsPod,
    /// Both ends are addresses: NetworkPolicy only governs traffic of Pods.
    #[error("one end must be a Pod: traffic between two addresses is outside NetworkPolicy")]
    NoPod,
}

/// Traffic resolved to numbers: the destination Pod (if any) decides named ports.
struct Traffic<'a> {
    source: End<'a>,
    destination: End<'a>,
    port: Option<(u16, Protocol)>,
}

#[derive(Clone, Copy)]
enum End<'a> {
    Pod(&'a Pod),
    Address(&'a Cidr),
}

/// Explains whether `from` can reach `to` (on `port`, or on which ports when `None`).
pub fn explain(
    inventory: &Inventory,
    from: &Endpoint,
    to: &Endpoint,
    port: Option<&PortQuery>,
) -> Result<Explanation, ExplainError> {
    let source = end(inventory, from)?;
    let destination = end(inventory, to)?;
    if let (End::Address(_), End::Address(_)) = (source, destination) {
        return Err(ExplainError::NoPod);
    }
    let resolved = match port {
        None => None,
        Some(PortQuery { port: PortValue::Number(number), protocol }) => Some((*number, *protocol)),
        Some(PortQuery { port: PortValue::Name(name), protocol }) => {
            let End::Pod(pod) = destination else { return Err(ExplainError::PortNameNeedsPod) };
            let number = pod.named_port(name, *protocol).ok_or_else(|| ExplainError::UnknownPortName {
                pod: to.to_string(),
                name: name.clone(),
                protocol: protocol.as_str(),
            })?;
            Some((number, *protocol))
        }
    };
    let traffic = Traffic { source, destination, port: resolved };
    let egress = match source {
        End::Pod(pod) => Some(direction_verdict(inventory, pod, Direction::Egress, &traffic)),
        End::Address(_) => None,
    };
    let ingress = match destination {
        End::Pod(pod) => Some(direction_verdict(inventory, pod, Direction::Ingress, &traffic)),
        End::Address(_) => None,
    };
    let verdicts = [&egress, &ingress].into_iter().flatten().map(|v| v.verdict);
    let verdict = verdicts.fold(Reach::Allowed, |overall, one| match (overall, one) {
        (Reach::Denied, _) | (_, Reach::Denied) => Reach::Denied,
        (Reach::Partly, _) | (_, Reach::Partly) => Reach::Partly,
        _ => Reach::Allowed,
    });
    Ok(Explanation {
        from: from.to_string(),
        to: to.to_string(),
        port: resolved.map(|(number, protocol)| format!("{}/{number}", protocol.as_str())),
        verdict,
        egress,
        ingress,
    })
}

fn end<'a>(inventory: &'a Inventory, endpoint: &'a Endpoint) -> Result<End<'a>, ExplainError> {
    match endpoint {
        Endpoint::Pod { namespace, name } => {
            inventory.pod(namespace, name).map(End::Pod).ok_or_else(|| ExplainError::UnknownPod(endpoint.to_string()))
        }
        Endpoint::Address(cidr) => Ok(End::Address(cidr)),
    }
}

fn direction_verdict(
    inventory: &Inventory,
    pod: &Pod,
    direction: Direction,
    traffic: &Traffic<'_>,
) -> DirectionVerdict {
    let mut isolated_by = Vec::new();
    let mut allowed_by = Vec::new();
    let mut fully = false;
    for policy in isolating_policies(inventory, pod, direction) {
        isolated_by.push(policy.name.clone());
        for (index, rule) in policy.rules(direction).unwrap_or_default().iter().enumerate() {
            let peer = match direction {
                Direction::Egress => traffic.destination,
                Direction::Ingress => traffic.source,
            };
            if !rule_admits_peer(inventory, policy, rule, peer) {
                continue;
            }
            let field = format!("spec.{}[{index}]", direction.as_str());
            match traffic.port {
                Some((number, protocol)) => {
                    if rule.ports.is_empty()
                        || rule.ports.iter().any(|p| port_matches(p, number, protocol, traffic.destination))
                    {
                        fully = true;
                        allowed_by.push(AllowingRule { policy: policy.name.clone(), rule: field, ports: Vec::new() });
                    }
                }
                None => {
                    fully |= rule.ports.is_empty();
                    let ports = rule.ports.iter().map(PolicyPort::to_string).collect();
                    allowed_by.push(AllowingRule { policy: policy.name.clone(), rule: field, ports });
                }
            }
        }
    }
    let verdict = if isolated_by.is_empty() || fully {
        Reach::Allowed
    } else if allowed_by.is_empty() {
        Reach::Denied
    } else {
        Reach::Partly
    };
    DirectionVerdict {
        direction: direction.as_str(),
        pod: format!("{}/{}", pod.namespace, pod.name),
        verdict,
        isolated_by,
        allowed_by,
    }
}

/// The policies that select `pod` for `direction`.
pub(crate) fn isolating_policies<'a>(
    inventory: &'a Inventory,
    pod: &'a Pod,
    direction: Direction,
) -> impl Iterator<Item = &'a NetworkPolicy> {
    inventory
        .policies_in(&pod.namespace)
        .filter(move |policy| policy.rules(direction).is_some() && policy.pod_selector.matches(&pod.labels))
}

fn rule_admits_peer(inventory: &Inventory, policy: &NetworkPolicy, rule: &PolicyRule, peer: End<'_>) -> bool {
    rule.peers.is_empty() || rule.peers.iter().any(|p| peer_matches(inventory, policy, p, peer))
}

fn peer_matches(inventory: &Inventory, policy: &NetworkPolicy, peer: &Peer, end: End<'_>) -> bool {
    match (peer, end) {
        (Peer::Pods { namespaces, pods }, End::Pod(pod)) => {
            pod_peer_matches(inventory, &policy.namespace, namespaces.as_ref(), pods.as_ref(), pod)
        }
        (Peer::Pods { .. }, End::Address(_)) => false,
        (Peer::Block { cidr, except }, End::Pod(pod)) => {
            pod.ips.iter().any(|ip| cidr.contains(*ip) && !except.iter().any(|e| e.contains(*ip)))
        }
        (Peer::Block { cidr, except }, End::Address(range)) => {
            cidr.covers(range) && !except.iter().any(|e| e.overlaps(range))
        }
    }
}

/// Whether a selector peer of a policy in `policy_namespace` selects `pod`.
pub(crate) fn pod_peer_matches(
    inventory: &Inventory,
    policy_namespace: &str,
    namespaces: Option<&crate::Selector>,
    pods: Option<&crate::Selector>,
    pod: &Pod,
) -> bool {
    let namespace_ok = match namespaces {
        None => pod.namespace == policy_namespace,
        Some(selector) => inventory.namespace_matches(&pod.namespace, selector),
    };
    namespace_ok && pods.is_none_or(|selector| selector.matches(&pod.labels))
}

fn port_matches(port: &PolicyPort, number: u16, protocol: Protocol, destination: End<'_>) -> bool {
    port.protocol == protocol
        && match &port.port {
            PortMatch::Any => true,
            PortMatch::Range(low, high) => (*low..=*high).contains(&number),
            PortMatch::Named(name) => match destination {
                End::Pod(pod) => pod.named_port(name, protocol) == Some(number),
                End::Address(_) => false,
            },
        }
}
