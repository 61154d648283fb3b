//! NetworkPolicy semantics, case by case, on the model of Kubernetes' own conformance suite
//! (test/e2e/network/netpol): namespaces x, y, z labelled `ns=<name>`, Pods a, b, c in each
//! labelled `pod=<name>`, each serving TCP and UDP on ports 80 and 81 under the names
//! `serve-<port>-<protocol>`. Each case names the upstream test it mirrors.

use portal_network::{Endpoint, Inventory, Objects, PortQuery, PortValue, Protocol, Reach, explain};
use serde_json::{Value, json};

fn cluster(policies: &[Value]) -> Inventory {
    let mut objects = Objects::default();
    for (n, namespace) in ["x", "y", "z"].into_iter().enumerate() {
        let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace, "labels": {"ns": namespace}}});
        objects.add_json(&ns).unwrap_or_else(|e| panic!("{e}"));
        for (p, pod) in ["a", "b", "c"].into_iter().enumerate() {
            let ports: Vec<Value> = [80, 81]
                .into_iter()
                .flat_map(|port| {
                    ["TCP", "UDP"].map(|protocol| {
                        json!({"name": format!("serve-{port}-{}", protocol.to_lowercase()), "containerPort": port, "protocol": protocol})
                    })
                })
                .collect();
            let object = json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": pod, "namespace": namespace, "labels": {"pod": pod}},
                "spec": {"containers": [{"name": "serve", "ports": ports}]},
                "status": {"podIP": format!("192.168.{n}.{}", p + 1)}
            });
            objects.add_json(&object).unwrap_or_else(|e| panic!("{e}"));
        }
    }
    for policy in policies {
        let mut policy = policy.clone();
        policy["apiVersion"] = json!("networking.k8s.io/v1");
        policy["kind"] = json!("NetworkPolicy");
        objects.add_json(&policy).unwrap_or_else(|e| panic!("{e}"));
    }
    Inventory::new(objects)
}

fn endpoint(text: &str) -> Endpoint {
    match text.split_once('/') {
        Some((namespace, name)) if namespace.len() == 1 => {
            Endpoint::Pod { namespace: namespace.into(), name: name.into() }
        }
        _ => Endpoint::Address(text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))),
    }
}

fn port(text: &str) -> PortQuery {
    let (protocol, port) = text.split_once('/').unwrap_or(("TCP", text));
    let protocol = Protocol::parse(protocol).unwrap_or_else(|| panic!("{text}"));
    let port = port.parse().map(PortValue::Number).unwrap_or_else(|_| PortValue::Name(port.to_owned()));
    PortQuery { port, protocol }
}

/// Asserts each `(from, to, port, allowed)` under `policies`.
fn assert_reach(upstream: &str, policies: &[Value], cases: &[(&str, &str, &str, bool)]) {
    let inventory = cluster(policies);
    for (from, to, on, allowed) in cases {
        let explanation = explain(&inventory, &endpoint(from), &endpoint(to), Some(&port(on)))
            .unwrap_or_else(|e| panic!("{upstream}: {from} -> {to}: {e}"));
        let expected = if *allowed { Reach::Allowed } else { Reach::Denied };
        assert_eq!(explanation.verdict, expected, "{upstream}: {from} -> {to} on {on}: {explanation:#?}");
    }
}

fn policy(namespace: &str, name: &str, spec: Value) -> Value {
    json!({"metadata": {"name": name, "namespace": namespace}, "spec": spec})
}

#[test]
fn no_policy_allows_everything() {
    assert_reach("(no policy)", &[], &[("x/a", "y/b", "80", true), ("x/a", "203.0.113.1", "443", true)]);
}

#[test]
fn default_deny_ingress() {
    let deny = policy("x", "deny", json!({"podSelector": {}, "policyTypes": ["Ingress"]}));
    assert_reach(
        "should support a 'default-deny-ingress' policy",
        &[deny],
        &[("x/a", "x/b", "80", false), ("y/a", "x/a", "81", false), ("x/a", "y/a", "80", true)],
    );
}

#[test]
fn default_deny_all() {
    let deny = policy("x", "deny", json!({"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}));
    assert_reach(
        "should support a 'default-deny-all' policy",
        &[deny],
        &[
            ("x/a", "x/b", "80", false),
            ("x/a", "y/a", "80", false),
            ("y/a", "x/a", "80", false),
            ("y/a", "y/b", "80", true),
        ],
    );
}

#[test]
fn policy_types_default_from_the_rules() {
    // No policyTypes and an egress rule: it isolates both directions.
    let both = policy(
        "x",
        "both",
        json!({"podSelector": {"matchLabels": {"pod": "a"}}, "egress": [{"to": [{"podSelector": {"matchLabels": {"pod": "b"}}}]}]}),
    );
    assert_reach(
        "policyTypes defaulting (API reference)",
        &[both],
        &[("x/a", "x/b", "80", true), ("x/a", "x/c", "80", false), ("x/b", "x/a", "80", false)],
    );
    // An empty egress list does not add Egress.
    let ingress_only = policy("x", "in", json!({"podSelector": {"matchLabels": {"pod": "a"}}, "egress": []}));
    assert_reach(
        "policyTypes defaulting, empty egress",
        &[ingress_only],
        &[("x/a", "x/c", "80", true), ("x/b", "x/a", "80", false)],
    );
}

#[test]
fn pod_selector_peers_are_the_policys_own_namespace() {
    let allow_b = policy(
        "x",
        "allow-b",
        json!({"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [{"from": [{"podSelector": {"matchLabels": {"pod": "b"}}}]}]}),
    );
    assert_reach(
        "should enforce policy to allow traffic from pods within server namespace based on PodSelector",
        &[allow_b],
        &[
            ("x/b", "x/a", "80", true),
            ("y/b", "x/a", "80", false),
            ("x/c", "x/a", "80", false),
            ("x/c", "x/b", "80", true),
        ],
    );
}

#[test]
fn namespace_selector_alone_takes_every_pod_of_those_namespaces() {
    let from_y = policy(
        "x",
        "from-y",
        json!({"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"ns": "y"}}}]}]}),
    );
    assert_reach(
        "should enforce policy to allow traffic only from a different namespace, based on NamespaceSelector",
        &[from_y],
        &[
            ("y/a", "x/a", "80", true),
            ("y/c", "x/b", "81", true),
            ("z/a", "x/a", "80", false),
            ("x/b", "x/a", "80", false),
        ],
    );
    let all_namespaces =
        policy("x", "all", json!({"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {}}]}]}));
    assert_reach(
        "should enforce policy to allow ingress traffic from pods in all namespaces",
        &[all_namespaces],
        &[("z/c", "x/a", "80", true), ("x/b", "x/a", "80", true), ("203.0.113.7", "x/a", "80", false)],
    );
}

#[test]
fn both_selectors_in_one_peer_are_and_separate_peers_are_or() {
    let and = policy(
        "x",
        "and",
        json!({"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [{"from": [
            {"namespaceSelector": {"matchLabels": {"ns": "y"}}, "podSelector": {"matchLabels": {"pod": "b"}}}
        ]}]}),
    );
    assert_reach(
        "should enforce policy based on PodSelector and NamespaceSelector",
        &[and],
        &[
            ("y/b", "x/a", "80", true),
            ("y/a", "x/a", "80", false),
            ("x/b", "x/a", "80", false),
            ("z/b", "x/a", "80", false),
        ],
    );
    let or = policy(
        "x",
        "or",
        json!({"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [{"from": [
            {"namespaceSelector": {"matchLabels": {"ns": "y"}}}, {"podSelector": {"matchLabels": {"pod": "b"}}}
        ]}]}),
    );
    assert_reach(
        "should enforce policy based on PodSelector or NamespaceSelector",
        &[or],
        &[
            ("y/a", "x/a", "80", true),
            ("x/b", "x/a", "80", true),
            ("z/b", "x/a", "80", false),
            ("x/c", "x/a", "80", false),
        ],
    );
}

#[test]
fn match_expressions_and_the_default_namespace_label() {
    let expressions = policy(
        "x",
        "expr",
        json!({"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [{"from": [
            {"namespaceSelector": {"matchExpressions": [{"key": "ns", "operator": "NotIn", "values": ["x", "y"]}]}}
        ]}]}),
    );
    assert_reach(
        "should enforce policy based on NamespaceSelector with MatchExpressions",
        &[expressions],
        &[("z/a", "x/a", "80", true), ("y/a", "x/a", "80", false)],
    );
    let default_label = policy(
        "x",
        "by-name",
        json!({"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "z"}}}]}]}),
    );
    assert_reach(
        "should enforce policy to allow traffic based on NamespaceSelector with MatchLabels using default ns label",
        &[default_label],
        &[("z/b", "x/c", "80", true), ("y/b", "x/c", "80", false)],
    );
}

#[test]
fn ports_protocols_and_ranges() {
    let port_81 = policy(
        "x",
        "p81",
        json!({"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [{"ports": [{"port": 81}]}]}),
    );
    assert_reach(
        "should enforce policy based on Ports",
        &[port_81],
        &[("x/b", "x/a", "81", true), ("x/b", "x/a", "80", false), ("x/b", "x/a", "UDP/81", false)],
    );
    let udp_only = policy(
        "x",
        "udp",
        json!({"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [{"ports": [{"protocol": "UDP"}]}]}),
    );
    assert_reach(
        "should not allow access by TCP when a policy specifies only UDP / any port on a specific protocol",
        &[udp_only],
        &[("x/b", "x/a", "UDP/80", true), ("x/b", "x/a", "UDP/81", true), ("x/b", "x/a", "TCP/81", false)],
    );
    let sctp = policy(
        "x",
        "sctp",
        json!({"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [{"ports": [{"protocol": "SCTP", "port": 80}]}]}),
    );
    assert_reach(
        "should not mistakenly treat 'protocol: SCTP' as 'protocol: TCP'",
        &[sctp],
        &[("x/b", "x/a", "80", false)],
    );
    let range = policy(
        "x",
        "range",
        json!({"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [{"ports": [{"port": 81, "endPort": 90}]}]}),
    );
    assert_reach(
        "endPort (NetworkPolicyPort.endPort, inclusive)",
        &[range],
        &[
            ("x/b", "x/a", "81", true),
            ("x/b", "x/a", "90", true),
            ("x/b", "x/a", "91", false),
            ("x/b", "x/a", "80", false),
        ],
    );
}

#[test]
fn named_ports_resolve_on_the_destination_pod() {
    let named = policy(
        "x",
        "named",
        json!({"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [{"ports": [{"port": "serve-80-tcp"}]}]}),
    );
    assert_reach(
        "should allow ingress access on one named port",
        &[named],
        &[("x/b", "x/a", "80", true), ("x/b", "x/a", "81", false), ("x/b", "x/a", "serve-80-tcp", true)],
    );
    let egress_named = policy(
        "x",
        "egress-named",
        json!({"podSelector": {"matchLabels": {"pod": "a"}}, "policyTypes": ["Egress"], "egress": [{"ports": [{"port": "serve-80-tcp"}]}]}),
    );
    assert_reach(
        "should allow egress access on one named port",
        &[egress_named],
        &[("x/a", "y/b", "80", true), ("x/a", "y/b", "81", false), ("x/a", "203.0.113.1", "80", false)],
    );
}

#[test]
fn stacked_policies_add_up() {
    let only_b = policy(
        "x",
        "only-b",
        json!({"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [{"from": [{"podSelector": {"matchLabels": {"pod": "b"}}}]}]}),
    );
    let only_c = policy(
        "x",
        "only-c",
        json!({"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [{"from": [{"podSelector": {"matchLabels": {"pod": "c"}}}]}]}),
    );
    assert_reach(
        "should enforce multiple, stacked policies with overlapping podSelectors",
        &[only_b, only_c],
        &[("x/b", "x/a", "80", true), ("x/c", "x/a", "80", true), ("y/b", "x/a", "80", false)],
    );
    let deny = policy("x", "deny", json!({"podSelector": {}, "policyTypes": ["Ingress"]}));
    let allow_all = policy("x", "allow-all", json!({"podSelector": {}, "ingress": [{}]}));
    assert_reach(
        "should enforce multiple ingress policies with ingress allow-all policy taking precedence",
        &[deny, allow_all],
        &[("z/c", "x/a", "80", true), ("203.0.113.1", "x/b", "81", true)],
    );
}

#[test]
fn both_ends_must_allow() {
    let client_denies =
        policy("x", "no-egress", json!({"podSelector": {"matchLabels": {"pod": "a"}}, "policyTypes": ["Egress"]}));
    let server_allows = policy("y", "allow", json!({"podSelector": {}, "ingress": [{}]}));
    assert_reach(
        "should support denying of egress traffic on the client side (even if the server explicitly allows this traffic)",
        &[client_denies, server_allows],
        &[("x/a", "y/b", "80", false), ("x/b", "y/b", "80", true)],
    );
}

#[test]
fn ip_blocks_with_except() {
    // Upstream uses the server Pod's own IP, as here (Pod IPs are matched when known).
    let cidr = policy(
        "x",
        "cidr",
        json!({"podSelector": {"matchLabels": {"pod": "a"}}, "policyTypes": ["Egress"], "egress": [{"to": [{"ipBlock": {"cidr": "192.168.1.0/24"}}]}]}),
    );
    assert_reach(
        "should allow egress access to server in CIDR block",
        &[cidr],
        &[("x/a", "y/b", "80", true), ("x/a", "z/b", "80", false), ("x/a", "192.168.1.200", "80", true)],
    );
    let except = policy(
        "x",
        "except",
        json!({"podSelector": {"matchLabels": {"pod": "a"}}, "policyTypes": ["Egress"], "egress": [{"to": [{"ipBlock": {"cidr": "192.168.1.0/24", "except": ["192.168.1.2/32"]}}]}]}),
    );
    assert_reach(
        "should enforce except clause while egress access to server in CIDR block",
        std::slice::from_ref(&except),
        &[
            ("x/a", "y/b", "80", false),
            ("x/a", "y/a", "80", true),
            ("x/a", "192.168.1.0/30", "80", false),
            ("x/a", "192.168.1.4/30", "80", true),
        ],
    );
    let overlap = policy(
        "x",
        "overlap",
        json!({"podSelector": {"matchLabels": {"pod": "a"}}, "policyTypes": ["Egress"], "egress": [{"to": [{"ipBlock": {"cidr": "192.168.1.2/32"}}]}]}),
    );
    assert_reach(
        "should ensure an IP overlapping both IPBlock.CIDR and IPBlock.Except is allowed",
        &[except, overlap],
        &[("x/a", "y/b", "80", true)],
    );
}

#[test]
fn ingress_and_egress_are_independent() {
    let ingress = policy("x", "in", json!({"podSelector": {"matchLabels": {"pod": "a"}}, "policyTypes": ["Ingress"]}));
    assert_reach(
        "should enforce policies to check ingress and egress policies can be controlled independently based on PodSelector",
        &[ingress],
        &[("x/a", "x/b", "80", true), ("x/b", "x/a", "80", false)],
    );
}

#[test]
fn without_a_port_the_verdict_says_which_ports() {
    let inventory = cluster(&[policy(
        "x",
        "p81",
        json!({"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [{"from": [{"podSelector": {}}], "ports": [{"port": 81}, {"port": "serve-80-udp", "protocol": "UDP"}]}]}),
    )]);
    let explanation = explain(&inventory, &endpoint("x/b"), &endpoint("x/a"), None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(explanation.verdict, Reach::Partly);
    let ingress = explanation.ingress.unwrap_or_else(|| panic!("no ingress verdict"));
    assert_eq!(ingress.isolated_by, ["p81"]);
    assert_eq!(ingress.allowed_by[0].rule, "spec.ingress[0]");
    assert_eq!(ingress.allowed_by[0].ports, ["TCP/81", "UDP/serve-80-udp"]);
    let denied = explain(&inventory, &endpoint("y/b"), &endpoint("x/a"), None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(denied.verdict, Reach::Denied);
}

#[test]
fn explain_errors_say_what_to_give() {
    let inventory = cluster(&[]);
    let missing = explain(&inventory, &endpoint("x/zz"), &endpoint("x/a"), None).err().map(|e| e.to_string());
    assert!(missing.is_some_and(|m| m.contains("no Pod x/zz")));
    let bad_name =
        explain(&inventory, &endpoint("x/a"), &endpoint("x/b"), Some(&port("http"))).err().map(|e| e.to_string());
    assert!(bad_name.as_deref().is_some_and(|m| m.contains("no TCP container port named \"http\"")), "{bad_name:?}");
    let to_address = explain(&inventory, &endpoint("x/a"), &endpoint("10.0.0.1"), Some(&port("http"))).err();
    assert!(to_address.is_some());
}

#[test]
fn an_empty_pod_selector_peer_is_the_policys_own_namespace_only() {
    let same_namespace = policy("x", "same", json!({"podSelector": {}, "ingress": [{"from": [{"podSelector": {}}]}]}));
    assert_reach(
        "should deny ingress from pods on other namespaces",
        &[same_namespace],
        &[
            ("x/b", "x/a", "80", true),
            ("y/a", "x/a", "80", false),
            ("z/b", "x/c", "80", false),
            ("203.0.113.1", "x/a", "80", false),
        ],
    );
    let deny = policy("x", "deny", json!({"podSelector": {}, "policyTypes": ["Ingress"]}));
    let target = policy(
        "x",
        "target",
        json!({"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [{"from": [{"podSelector": {}, "namespaceSelector": {}}]}]}),
    );
    assert_reach(
        "should enforce policy to allow ingress traffic for a target",
        &[deny, target],
        &[
            ("y/a", "x/a", "80", true),
            ("x/b", "x/a", "80", true),
            ("z/c", "x/a", "80", true),
            ("y/a", "x/b", "80", false),
            ("203.0.113.1", "x/a", "80", false),
        ],
    );
}

#[test]
fn peers_and_ports_of_one_rule_must_both_hold() {
    let on_81 = policy(
        "x",
        "y-81",
        json!({"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"ns": "y"}}}], "ports": [{"port": 81, "protocol": "TCP"}]}]}),
    );
    assert_reach(
        "should enforce policy based on Ports",
        std::slice::from_ref(&on_81),
        &[
            ("y/a", "x/a", "81", true),
            ("y/a", "x/a", "80", false),
            ("x/b", "x/a", "81", false),
            ("z/a", "x/a", "81", false),
            ("y/a", "x/a", "UDP/81", false),
        ],
    );
    let on_80 = policy(
        "x",
        "y-80",
        json!({"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"ns": "y"}}}], "ports": [{"port": 80, "protocol": "TCP"}]}]}),
    );
    assert_reach(
        "should enforce multiple, stacked policies with overlapping podSelectors (ports)",
        &[on_81, on_80],
        &[("y/a", "x/a", "80", true), ("y/b", "x/a", "81", true), ("z/a", "x/a", "80", false)],
    );
    let named_from_y = policy(
        "x",
        "named",
        json!({"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"ns": "y"}}}], "ports": [{"port": "serve-80-tcp"}]}]}),
    );
    assert_reach(
        "should allow ingress access from namespace on one named port",
        &[named_from_y],
        &[("y/a", "x/a", "80", true), ("y/a", "x/a", "81", false), ("z/a", "x/a", "80", false)],
    );
}

#[test]
fn ingress_and_egress_specified_together() {
    let both = policy(
        "x",
        "both",
        json!({"podSelector": {"matchLabels": {"pod": "a"}}, "policyTypes": ["Egress", "Ingress"],
               "ingress": [{"from": [{"podSelector": {"matchLabels": {"pod": "b"}}}]}],
               "egress": [{"ports": [{"port": 80}]}]}),
    );
    assert_reach(
        "should work with Ingress, Egress specified together",
        &[both],
        &[
            ("x/a", "y/a", "80", true),
            ("x/a", "203.0.113.1", "80", true),
            ("x/b", "x/a", "80", true),
            ("x/c", "x/a", "80", false),
            ("x/b", "x/a", "81", true),
            ("x/a", "y/a", "81", false),
            ("x/a", "x/b", "81", false),
            ("y/a", "x/a", "81", false),
        ],
    );
}

#[test]
fn egress_peers_by_namespace_and_pod() {
    let to_y_a = policy(
        "x",
        "to-y-a",
        json!({"podSelector": {"matchLabels": {"pod": "a"}}, "policyTypes": ["Egress"],
               "egress": [{"to": [{"namespaceSelector": {"matchLabels": {"ns": "y"}}, "podSelector": {"matchLabels": {"pod": "a"}}}]}]}),
    );
    assert_reach(
        "should enforce egress policy allowing traffic to a server in a different namespace based on PodSelector and NamespaceSelector",
        &[to_y_a],
        &[
            ("x/a", "y/a", "80", true),
            ("x/b", "y/b", "80", true),
            ("x/a", "y/b", "80", false),
            ("x/a", "x/b", "80", false),
            ("x/a", "z/a", "80", false),
            ("x/a", "203.0.113.1", "80", false),
        ],
    );
    let not_y = policy(
        "x",
        "not-y",
        json!({"podSelector": {"matchLabels": {"pod": "a"}}, "policyTypes": ["Egress"],
               "egress": [{"to": [{"namespaceSelector": {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["y"]}]}}]}]}),
    );
    assert_reach(
        "should enforce policy based on NamespaceSelector with MatchExpressions using default ns label",
        &[not_y],
        &[
            ("x/a", "x/b", "80", true),
            ("x/a", "z/c", "80", true),
            ("x/a", "y/a", "80", false),
            ("x/a", "203.0.113.1", "80", false),
        ],
    );
}

#[test]
fn an_egress_allow_all_takes_precedence() {
    let only_80 = policy(
        "x",
        "only-80",
        json!({"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"ports": [{"port": 80}]}]}),
    );
    assert_reach(
        "egress on port 80 only",
        std::slice::from_ref(&only_80),
        &[("x/a", "y/a", "81", false), ("x/a", "y/a", "80", true)],
    );
    let all = policy("x", "all", json!({"podSelector": {}, "policyTypes": ["Egress"], "egress": [{}]}));
    assert_reach(
        "should enforce multiple egress policies with egress allow-all policy taking precedence",
        &[only_80, all],
        &[("x/a", "y/a", "81", true), ("x/a", "203.0.113.1", "81", true)],
    );
}

#[test]
fn multiple_pod_and_namespace_selectors() {
    let multiple = policy(
        "x",
        "multiple",
        json!({"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [{"from": [{
            "namespaceSelector": {"matchExpressions": [{"key": "ns", "operator": "NotIn", "values": ["x"]}]},
            "podSelector": {"matchExpressions": [{"key": "pod", "operator": "In", "values": ["b", "c"]}]}
        }]}]}),
    );
    assert_reach(
        "should enforce policy based on Multiple PodSelectors and NamespaceSelectors",
        &[multiple],
        &[
            ("y/b", "x/a", "80", true),
            ("z/c", "x/a", "80", true),
            ("y/a", "x/a", "80", false),
            ("x/b", "x/a", "80", false),
        ],
    );
}
