//! The three kinds the analysis reads — Pods, Namespaces, NetworkPolicies — reduced to what
//! NetworkPolicy semantics need, read from their JSON with the API server's defaults applied
//! and its validation repeated (an object it would refuse is refused here, at its field).

use std::collections::BTreeMap;

use core::net::IpAddr;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::address::Cidr;
use crate::error::{FieldPath, ModelError};
use crate::selector::{Labels, RawSelector, Selector};

/// The label the API server puts on every Namespace, holding its name.
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// The protocol of a container port or of a NetworkPolicy port; TCP when a manifest names none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// `TCP`, the default.
    Tcp,
    /// `UDP`.
    Udp,
    /// `SCTP`.
    Sctp,
}

impl Protocol {
    /// Reads `TCP`, `UDP` or `SCTP` in any case; `None` for anything else.
    pub fn parse(text: &str) -> Option<Protocol> {
        match text.to_ascii_uppercase().as_str() {
            "TCP" => Some(Protocol::Tcp),
            "UDP" => Some(Protocol::Udp),
            "SCTP" => Some(Protocol::Sctp),
            _ => None,
        }
    }

    /// The name as Kubernetes writes it: `TCP`, `UDP` or `SCTP`.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Sctp => "SCTP",
        }
    }
}

/// A port a container declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerPort {
    /// `name`, which policies' named ports refer to; `None` when the port has none.
    pub name: Option<String>,
    /// `containerPort`, 1 to 65535.
    pub number: u16,
    /// `protocol` (TCP when not given).
    pub protocol: Protocol,
}

/// A Pod that takes part in NetworkPolicy (see [`pod_from_json`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pod {
    /// `metadata.namespace` (`default` when the manifest names none).
    pub namespace: String,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.labels`, which pod selectors match.
    pub labels: Labels,
    /// The ports its containers and init containers declare.
    pub ports: Vec<ContainerPort>,
    /// `status.podIPs` and `status.podIP`, which `ipBlock` peers match; empty when the status has none.
    pub ips: Vec<IpAddr>,
}

impl Pod {
    /// The number of the port named `name` for `protocol`, if a container declares one.
    pub fn named_port(&self, name: &str, protocol: Protocol) -> Option<u16> {
        self.ports
            .iter()
            .find(|port| port.protocol == protocol && port.name.as_deref() == Some(name))
            .map(|port| port.number)
    }
}

/// A Namespace: its name and the labels that namespace selectors match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespace {
    /// `metadata.name`.
    pub name: String,
    /// Including [`NAMESPACE_NAME_LABEL`], which the API server adds and manifests may omit.
    pub labels: Labels,
}

impl Namespace {
    /// A namespace known only by name (no object was given): just its name label.
    pub fn named(name: &str) -> Namespace {
        Namespace { name: name.to_owned(), labels: Labels::from([(NAMESPACE_NAME_LABEL.to_owned(), name.to_owned())]) }
    }
}

/// A direction of traffic relative to a Pod, as a NetworkPolicy's `policyTypes` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Direction {
    /// Traffic into the Pod: the policy's `ingress` rules, with peers in `from`.
    Ingress,
    /// Traffic out of the Pod: the policy's `egress` rules, with peers in `to`.
    Egress,
}

impl Direction {
    /// `ingress` or `egress`, as the policy's field is named.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        }
    }

    fn field(self) -> &'static str {
        match self {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        }
    }

    fn peers_field(self) -> &'static str {
        match self {
            Direction::Ingress => "from",
            Direction::Egress => "to",
        }
    }
}

/// A NetworkPolicy (`networking.k8s.io/v1`), with the API server's defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkPolicy {
    /// `metadata.namespace` (`default` when the manifest names none): it applies to Pods of this namespace only.
    pub namespace: String,
    /// `metadata.name`.
    pub name: String,
    /// `spec.podSelector`: which Pods of its namespace it applies to (`{}`: all of them).
    pub pod_selector: Selector,
    /// `Some` when the policy isolates the Pods it selects for ingress (`policyTypes` has
    /// `Ingress`, given or defaulted): the rules that then allow traffic, possibly none.
    pub ingress: Option<Vec<PolicyRule>>,
    /// The same for egress.
    pub egress: Option<Vec<PolicyRule>>,
}

impl NetworkPolicy {
    /// [`ingress`](Self::ingress) or [`egress`](Self::egress): `None` when it does not isolate for `direction`.
    pub fn rules(&self, direction: Direction) -> Option<&[PolicyRule]> {
        match direction {
            Direction::Ingress => self.ingress.as_deref(),
            Direction::Egress => self.egress.as_deref(),
        }
    }
}

/// One entry of `ingress` or `egress`: traffic with any of the peers on any of the ports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRule {
    /// Empty: every peer, inside the cluster and out.
    pub peers: Vec<Peer>,
    /// Empty: every port and protocol.
    pub ports: Vec<PolicyPort>,
}

/// One entry of a rule's `from` (ingress) or `to` (egress): whom the rule allows traffic with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    /// Pods chosen by selectors.
    Pods {
        /// `None`: the policy's own namespace; `Some({})`: every namespace.
        namespaces: Option<Selector>,
        /// `None`: every Pod of those namespaces.
        pods: Option<Selector>,
    },
    /// Addresses in `cidr` but in none of `except`.
    Block {
        /// `ipBlock.cidr`.
        cidr: Cidr,
        /// `ipBlock.except`: ranges strictly inside `cidr`; empty when there are none.
        except: Vec<Cidr>,
    },
}

impl Peer {
    /// Every Pod of every namespace (`namespaceSelector: {}` without a Pod selector, or with `{}`).
    pub fn is_every_pod(&self) -> bool {
        matches!(self, Peer::Pods { namespaces: Some(namespaces), pods } if namespaces.selects_everything()
            && pods.as_ref().is_none_or(Selector::selects_everything))
    }
}

/// One entry of a rule's `ports`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyPort {
    /// `protocol` (TCP when not given).
    pub protocol: Protocol,
    /// `port` and `endPort`: which ports of the protocol.
    pub port: PortMatch,
}

/// The ports of a protocol a [`PolicyPort`] matches, from its `port` and `endPort`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortMatch {
    /// No `port`: every port of the protocol.
    Any,
    /// `port`, or `port` to `endPort` inclusive.
    Range(u16, u16),
    /// A container port name, resolved on each destination Pod.
    Named(String),
}

impl std::fmt::Display for PolicyPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let protocol = self.protocol.as_str();
        match &self.port {
            PortMatch::Any => write!(f, "{protocol}/*"),
            PortMatch::Range(low, high) if low == high => write!(f, "{protocol}/{low}"),
            PortMatch::Range(low, high) => write!(f, "{protocol}/{low}-{high}"),
            PortMatch::Named(name) => write!(f, "{protocol}/{name}"),
        }
    }
}

// ---- Reading objects ----

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMetadata {
    name: Option<String>,
    namespace: Option<String>,
    #[serde(default)]
    labels: Option<Labels>,
}

impl RawMetadata {
    fn name(&self, kind: &str) -> Result<String, ModelError> {
        self.name.clone().filter(|name| !name.is_empty()).ok_or_else(|| {
            ModelError::invalid(FieldPath::root().field("metadata").field("name"), format!("a {kind} needs a name"))
        })
    }

    fn namespace(&self) -> String {
        self.namespace.clone().filter(|namespace| !namespace.is_empty()).unwrap_or_else(|| "default".to_owned())
    }
}

#[derive(Deserialize)]
struct RawObject<Spec, Status> {
    metadata: RawMetadata,
    #[serde(default = "Option::default")]
    spec: Option<Spec>,
    #[serde(default = "Option::default")]
    status: Option<Status>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawPodSpec {
    #[serde(default)]
    host_network: Option<bool>,
    #[serde(default)]
    containers: Option<Vec<RawContainer>>,
    #[serde(default)]
    init_containers: Option<Vec<RawContainer>>,
}

#[derive(Deserialize)]
struct RawContainer {
    #[serde(default)]
    ports: Option<Vec<RawContainerPort>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawContainerPort {
    name: Option<String>,
    container_port: i64,
    protocol: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawPodStatus {
    phase: Option<String>,
    #[serde(rename = "podIP")]
    pod_ip: Option<String>,
    #[serde(rename = "podIPs")]
    pod_ips: Option<Vec<RawPodIp>>,
}

#[derive(Deserialize)]
struct RawPodIp {
    ip: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawPolicySpec {
    #[serde(default)]
    pod_selector: Option<RawSelector>,
    #[serde(default)]
    policy_types: Option<Vec<String>>,
    #[serde(default)]
    ingress: Option<Vec<RawRule>>,
    #[serde(default)]
    egress: Option<Vec<RawRule>>,
}

#[derive(Deserialize, Default)]
struct RawRule {
    #[serde(default)]
    from: Option<Vec<RawPeer>>,
    #[serde(default)]
    to: Option<Vec<RawPeer>>,
    #[serde(default)]
    ports: Option<Vec<RawPort>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPeer {
    pod_selector: Option<RawSelector>,
    namespace_selector: Option<RawSelector>,
    ip_block: Option<RawIpBlock>,
}

#[derive(Deserialize)]
struct RawIpBlock {
    cidr: String,
    #[serde(default)]
    except: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPort {
    protocol: Option<String>,
    port: Option<serde_json::Value>,
    end_port: Option<i64>,
}

/// Reads `object`'s fields; a value of the wrong type is refused at its field, said of the
/// object as far as its metadata can be read.
fn parse<T: DeserializeOwned>(object: &serde_json::Value) -> Result<T, ModelError> {
    serde_path_to_error::deserialize(object).map_err(|error| {
        let path = error.path().to_string();
        let path = if path == "." { FieldPath::root() } else { FieldPath::root().field(&path) };
        let text = |field: &str| object.pointer(field).and_then(serde_json::Value::as_str).unwrap_or("?").to_owned();
        let described = match object.pointer("/metadata/namespace") {
            Some(_) => format!("{} {}/{}", text("/kind"), text("/metadata/namespace"), text("/metadata/name")),
            None => format!("{} {}", text("/kind"), text("/metadata/name")),
        };
        ModelError::invalid(path, error.into_inner().to_string()).of_object(described)
    })
}

/// Whether a Pod takes part in NetworkPolicy: running on the Pod network (host-network Pods
/// are outside it; Kubernetes leaves their behaviour undefined) and not finished.
pub fn pod_from_json(object: &serde_json::Value) -> Result<Option<Pod>, ModelError> {
    let raw: RawObject<RawPodSpec, RawPodStatus> = parse(object)?;
    let name = raw.metadata.name("Pod")?;
    let namespace = raw.metadata.namespace();
    let describe = || format!("Pod {namespace}/{name}");
    let spec = raw.spec.unwrap_or_default();
    let status = raw.status.unwrap_or_default();
    if spec.host_network == Some(true) || matches!(status.phase.as_deref(), Some("Succeeded" | "Failed")) {
        return Ok(None);
    }
    let mut ports = Vec::new();
    let containers = [("containers", spec.containers), ("initContainers", spec.init_containers)];
    for (field, containers) in containers {
        for (index, container) in containers.unwrap_or_default().into_iter().enumerate() {
            for (port_index, port) in container.ports.unwrap_or_default().into_iter().enumerate() {
                let at = FieldPath::root().field("spec").field(field).index(index).field("ports").index(port_index);
                let number = u16::try_from(port.container_port).ok().filter(|number| *number > 0).ok_or_else(|| {
                    ModelError::invalid(at.field("containerPort"), "must be a port number from 1 to 65535")
                        .of_object(describe())
                })?;
                let protocol = protocol(port.protocol.as_deref(), &at).map_err(|e| e.of_object(describe()))?;
                ports.push(ContainerPort { name: port.name, number, protocol });
            }
        }
    }
    let mut ips: Vec<IpAddr> = status.pod_ips.unwrap_or_default().iter().filter_map(|ip| ip.ip.parse().ok()).collect();
    if let Some(ip) = status.pod_ip.and_then(|ip| ip.parse().ok())
        && !ips.contains(&ip)
    {
        ips.push(ip);
    }
    Ok(Some(Pod { namespace, name, labels: raw.metadata.labels.unwrap_or_default(), ports, ips }))
}

/// Reads a Namespace object; its labels always include [`NAMESPACE_NAME_LABEL`].
pub fn namespace_from_json(object: &serde_json::Value) -> Result<Namespace, ModelError> {
    let raw: RawObject<serde_json::Value, serde_json::Value> = parse(object)?;
    let name = raw.metadata.name("Namespace")?;
    let mut labels = raw.metadata.labels.unwrap_or_default();
    labels.insert(NAMESPACE_NAME_LABEL.to_owned(), name.clone());
    Ok(Namespace { name, labels })
}

/// Reads a NetworkPolicy object, with the API server's defaults (`policyTypes`) and validation.
pub fn network_policy_from_json(object: &serde_json::Value) -> Result<NetworkPolicy, ModelError> {
    let raw: RawObject<RawPolicySpec, serde_json::Value> = parse(object)?;
    let name = raw.metadata.name("NetworkPolicy")?;
    let namespace = raw.metadata.namespace();
    let describe = format!("NetworkPolicy {namespace}/{name}");
    policy_from_spec(namespace, name, raw.spec.unwrap_or_default()).map_err(|error| error.of_object(describe))
}

fn policy_from_spec(namespace: String, name: String, spec: RawPolicySpec) -> Result<NetworkPolicy, ModelError> {
    let at = FieldPath::root().field("spec");
    let pod_selector = spec.pod_selector.unwrap_or_default().validate(&at.field("podSelector"))?;
    // The API server's default: Ingress always, Egress when egress rules are given.
    let (mut isolates_ingress, mut isolates_egress) =
        (true, spec.egress.as_ref().is_some_and(|rules| !rules.is_empty()));
    if let Some(types) = spec.policy_types.filter(|types| !types.is_empty()) {
        (isolates_ingress, isolates_egress) = (false, false);
        for (index, policy_type) in types.iter().enumerate() {
            match policy_type.as_str() {
                "Ingress" => isolates_ingress = true,
                "Egress" => isolates_egress = true,
                other => {
                    return Err(ModelError::invalid(
                        at.field("policyTypes").index(index),
                        format!("unknown policy type {other:?}; use Ingress or Egress"),
                    ));
                }
            }
        }
    }
    let ingress = rules(spec.ingress, Direction::Ingress, &at)?;
    let egress = rules(spec.egress, Direction::Egress, &at)?;
    Ok(NetworkPolicy {
        namespace,
        name,
        pod_selector,
        ingress: isolates_ingress.then_some(ingress),
        egress: isolates_egress.then_some(egress),
    })
}

fn rules(raw: Option<Vec<RawRule>>, direction: Direction, at: &FieldPath) -> Result<Vec<PolicyRule>, ModelError> {
    let mut rules = Vec::new();
    for (index, rule) in raw.unwrap_or_default().into_iter().enumerate() {
        let at = at.field(direction.field()).index(index);
        let (peers_field, raw_peers) = match direction {
            Direction::Ingress => (direction.peers_field(), rule.from),
            Direction::Egress => (direction.peers_field(), rule.to),
        };
        let mut peers = Vec::new();
        for (peer_index, peer) in raw_peers.unwrap_or_default().into_iter().enumerate() {
            peers.push(self::peer(peer, &at.field(peers_field).index(peer_index))?);
        }
        let mut ports = Vec::new();
        for (port_index, port) in rule.ports.unwrap_or_default().into_iter().enumerate() {
            ports.push(self::port(port, &at.field("ports").index(port_index))?);
        }
        rules.push(PolicyRule { peers, ports });
    }
    Ok(rules)
}

fn peer(raw: RawPeer, at: &FieldPath) -> Result<Peer, ModelError> {
    match (raw.ip_block, raw.pod_selector, raw.namespace_selector) {
        (Some(block), None, None) => {
            let cidr = Cidr::from_field(&block.cidr)
                .map_err(|e| ModelError::invalid(at.field("ipBlock").field("cidr"), e.to_string()))?;
            let mut except = Vec::new();
            for (index, text) in block.except.unwrap_or_default().iter().enumerate() {
                let except_at = at.field("ipBlock").field("except").index(index);
                let range =
                    Cidr::from_field(text).map_err(|e| ModelError::invalid(except_at.clone(), e.to_string()))?;
                if !cidr.covers(&range) || range == cidr {
                    return Err(ModelError::invalid(
                        except_at,
                        format!("{range} must lie strictly inside the cidr {cidr}"),
                    ));
                }
                except.push(range);
            }
            Ok(Peer::Block { cidr, except })
        }
        (Some(_), _, _) => Err(ModelError::invalid(
            at.field("ipBlock"),
            "an ipBlock peer cannot also have podSelector or namespaceSelector; make them two peers",
        )),
        (None, None, None) => {
            Err(ModelError::invalid(at.clone(), "a peer needs podSelector, namespaceSelector or ipBlock"))
        }
        (None, pods, namespaces) => Ok(Peer::Pods {
            namespaces: namespaces.map(|s| s.validate(&at.field("namespaceSelector"))).transpose()?,
            pods: pods.map(|s| s.validate(&at.field("podSelector"))).transpose()?,
        }),
    }
}

fn protocol(text: Option<&str>, at: &FieldPath) -> Result<Protocol, ModelError> {
    match text {
        None => Ok(Protocol::Tcp),
        Some(text) => Protocol::parse(text).filter(|_| text == text.to_ascii_uppercase()).ok_or_else(|| {
            ModelError::invalid(at.field("protocol"), format!("unknown protocol {text:?}; use TCP, UDP or SCTP"))
        }),
    }
}

fn port(raw: RawPort, at: &FieldPath) -> Result<PolicyPort, ModelError> {
    let protocol = protocol(raw.protocol.as_deref(), at)?;
    let number = |value: i64, field: &str| {
        u16::try_from(value).ok().filter(|number| *number > 0).ok_or_else(|| {
            ModelError::invalid(at.field(field), format!("{value} is not a port number; use 1 to 65535"))
        })
    };
    let port = match (raw.port, raw.end_port) {
        (None | Some(serde_json::Value::Null), None) => PortMatch::Any,
        (None | Some(serde_json::Value::Null), Some(_)) => {
            return Err(ModelError::invalid(at.field("endPort"), "endPort needs a numeric port to start from"));
        }
        (Some(serde_json::Value::Number(n)), end) => {
            let low = number(n.as_i64().unwrap_or(-1), "port")?;
            let high = end.map(|end| number(end, "endPort")).transpose()?.unwrap_or(low);
            if high < low {
                return Err(ModelError::invalid(at.field("endPort"), format!("endPort {high} is below port {low}")));
            }
            PortMatch::Range(low, high)
        }
        (Some(serde_json::Value::String(name)), None) => {
            // IntOrString: a quoted number is a string, and no port name is all digits.
            if name.parse::<u16>().is_ok() {
                return Err(ModelError::invalid(
                    at.field("port"),
                    format!("{name:?} is a string, and port names need a letter; write the number without quotes"),
                ));
            }
            if !is_port_name(&name) {
                return Err(ModelError::invalid(
                    at.field("port"),
                    format!("{name:?} is not a port name (1 to 15 lowercase letters, digits and '-', with a letter)"),
                ));
            }
            PortMatch::Named(name)
        }
        (Some(serde_json::Value::String(_)), Some(_)) => {
            return Err(ModelError::invalid(at.field("endPort"), "endPort cannot follow a named port"));
        }
        (Some(other), _) => {
            return Err(ModelError::invalid(
                at.field("port"),
                format!("{other} is neither a port number nor a port name"),
            ));
        }
    };
    Ok(PolicyPort { protocol, port })
}

/// IANA service names, as Kubernetes validates them (`IsValidPortName`).
fn is_port_name(name: &str) -> bool {
    (1..=15).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && name.bytes().any(|b| b.is_ascii_lowercase())
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--")
}

/// Pods, Namespaces and NetworkPolicies read from a list of objects of any kinds; the others
/// are passed over. Errors are collected, so one bad object spares the rest.
#[derive(Debug, Default)]
pub struct Objects {
    /// The Pods that take part in NetworkPolicy; the others are left out (see [`pod_from_json`]).
    pub pods: Vec<Pod>,
    /// The Namespace objects.
    pub namespaces: Vec<Namespace>,
    /// The NetworkPolicies.
    pub policies: Vec<NetworkPolicy>,
}

impl Objects {
    /// Reads `object` when it is one of the three kinds; `Ok(false)` when it is another kind.
    pub fn add_json(&mut self, object: &serde_json::Value) -> Result<bool, ModelError> {
        let api_version = object.get("apiVersion").and_then(serde_json::Value::as_str).unwrap_or_default();
        match (api_version, object.get("kind").and_then(serde_json::Value::as_str)) {
            ("v1", Some("Pod")) => self.pods.extend(pod_from_json(object)?),
            ("v1", Some("Namespace")) => self.namespaces.push(namespace_from_json(object)?),
            ("networking.k8s.io/v1", Some("NetworkPolicy")) => self.policies.push(network_policy_from_json(object)?),
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// Objects of one kind by namespace and name.
pub(crate) type ByNamespace<T> = BTreeMap<String, BTreeMap<String, T>>;
