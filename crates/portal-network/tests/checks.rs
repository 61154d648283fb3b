//! Each check, raised where it should be and silent where it should not.

use portal_network::{
    Change, Check, CheckSettings, Finding, Inventory, Objects, SubjectKind, analyze, analyze_namespace,
};
use serde_json::{Value, json};

fn pod(namespace: &str, name: &str, labels: Value, ports: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace, "labels": labels},
           "spec": {"containers": [{"name": "c", "ports": ports}]}})
}

fn namespace(name: &str, labels: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}})
}

fn policy(namespace: &str, name: &str, spec: Value) -> Value {
    json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": name, "namespace": namespace}, "spec": spec})
}

fn inventory(objects: &[Value]) -> Inventory {
    let mut read = Objects::default();
    for object in objects {
        read.add_json(object).unwrap_or_else(|e| panic!("{e}"));
    }
    Inventory::new(read)
}

/// `(check, subject name, message)` of every finding.
fn found(findings: &[Finding]) -> Vec<(&'static str, String, String)> {
    findings.iter().map(|f| (f.check.name(), f.subject.name.clone(), f.message.clone())).collect()
}

fn checks_of(findings: &[Finding]) -> Vec<(&'static str, &str)> {
    findings.iter().map(|f| (f.check.name(), f.subject.name.as_str())).collect()
}

fn web_namespace() -> Vec<Value> {
    vec![
        namespace("shop", json!({"team": "shop"})),
        pod("shop", "web-1", json!({"app": "web"}), json!([{"name": "http", "containerPort": 8080}])),
        pod("shop", "db-1", json!({"app": "db"}), json!([{"name": "pg", "containerPort": 5432}])),
    ]
}

#[test]
fn a_namespace_without_default_deny_is_found_for_each_direction() {
    let findings = analyze(&inventory(&web_namespace()), &CheckSettings::default());
    assert_eq!(checks_of(&findings), [("np.default-deny-missing", "shop"), ("np.default-deny-egress-missing", "shop")]);
    assert_eq!(findings[0].subject.kind, SubjectKind::Namespace);
    assert!(
        findings[0].message.starts_with("2 of 2 Pods in namespace shop are not isolated for ingress (db-1, web-1)")
    );

    let mut objects = web_namespace();
    objects.push(policy("shop", "deny", json!({"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})));
    assert_eq!(checks_of(&analyze(&inventory(&objects), &CheckSettings::default())), []);

    // A policy for one Pod leaves the other open.
    let mut objects = web_namespace();
    objects.push(policy(
        "shop",
        "web",
        json!({"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Ingress", "Egress"]}),
    ));
    let findings = analyze(&inventory(&objects), &CheckSettings::default());
    assert!(
        findings[0].message.starts_with("1 of 2 Pods in namespace shop are not isolated for ingress (db-1)"),
        "{findings:#?}"
    );
}

#[test]
fn selectors_that_match_nothing() {
    let mut objects = web_namespace();
    objects.push(namespace("empty", json!({})));
    objects.push(policy("shop", "deny", json!({"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})));
    objects.push(policy(
        "shop",
        "old-label",
        json!({"podSelector": {"matchLabels": {"app": "frontend"}}, "policyTypes": ["Ingress"]}),
    ));
    objects.push(policy("empty", "leftover", json!({"podSelector": {}, "policyTypes": ["Ingress"]})));
    objects.push(policy(
        "shop",
        "peers",
        json!({"podSelector": {"matchLabels": {"app": "db"}}, "ingress": [{"from": [
            {"podSelector": {"matchLabels": {"app": "web"}}},
            {"podSelector": {"matchLabels": {"app": "gone"}}},
            {"namespaceSelector": {"matchLabels": {"team": "nobody"}}},
            {"namespaceSelector": {"matchLabels": {"team": "shop"}}, "podSelector": {"matchLabels": {"app": "gone"}}}
        ]}]}),
    ));
    let findings = analyze(&inventory(&objects), &CheckSettings::default());
    let found = found(&findings);
    assert_eq!(
        found.iter().map(|(check, subject, _)| (*check, subject.as_str())).collect::<Vec<_>>(),
        [
            ("np.policy-without-targets", "leftover"),
            ("np.unreachable-selector", "old-label"),
            ("np.peer-matches-nothing", "peers"),
            ("np.peer-matches-nothing", "peers"),
            ("np.peer-matches-nothing", "peers"),
        ]
    );
    assert!(found[1].2.starts_with("spec.podSelector app=frontend matches none of the 2 Pods in namespace shop"));
    assert!(found[2].2.starts_with("spec.ingress[0].from[1]: podSelector app=gone matches no Pod in namespace shop"));
    assert!(found[3].2.starts_with("spec.ingress[0].from[2].namespaceSelector team=nobody matches no Namespace"));
    assert!(found[4].2.contains(
        "from[3]: podSelector app=gone matches no Pod in the namespaces namespaceSelector team=shop selects"
    ));
}

#[test]
fn broad_ranges_and_allow_all_rules() {
    let mut objects = web_namespace();
    objects.push(policy(
        "shop",
        "open",
        json!({"podSelector": {}, "policyTypes": ["Ingress", "Egress"],
               "ingress": [{}, {"from": [{"namespaceSelector": {}}]}, {"from": [{"namespaceSelector": {}}], "ports": [{"port": 80}]}],
               "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["169.254.169.254/32"]}}]},
                          {"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}, {"ipBlock": {"cidr": "::/0"}}]}]}),
    ));
    let findings = analyze(&inventory(&objects), &CheckSettings::default());
    let found = found(&findings);
    let checks: Vec<&str> = found.iter().map(|(check, _, _)| *check).collect();
    assert_eq!(checks, ["np.allow-all", "np.allow-all", "np.broad-cidr", "np.broad-cidr"]);
    assert!(found[0].2.starts_with("spec.ingress[0] has no from and no ports: it allows every source"));
    assert!(
        found[1].2.starts_with("spec.ingress[1].from[0] (namespaceSelector: {}) allows every Pod of every namespace")
    );
    assert!(
        found[2]
            .2
            .starts_with("spec.egress[0].to[0].ipBlock.cidr 0.0.0.0/0 allows all public addresses (1 ranges excepted)")
    );
    assert!(found[3].2.starts_with("spec.egress[1].to[1].ipBlock.cidr ::/0"));
}

#[test]
fn named_ports_no_pod_declares() {
    let mut objects = web_namespace();
    objects.push(policy("shop", "deny", json!({"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})));
    objects.push(policy(
        "shop",
        "ports",
        json!({"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Ingress", "Egress"],
               "ingress": [{"ports": [{"port": "http"}, {"port": "https"}, {"port": "http", "protocol": "UDP"}]}],
               "egress": [{"to": [{"podSelector": {"matchLabels": {"app": "db"}}}], "ports": [{"port": "pg"}, {"port": "mysql"}]},
                          {"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}], "ports": [{"port": "pg"}]}]}),
    ));
    let findings = analyze(&inventory(&objects), &CheckSettings::default());
    let found = found(&findings);
    let fields: Vec<&str> = found.iter().map(|(_, _, message)| message.split(' ').next().unwrap_or_default()).collect();
    assert_eq!(
        fields,
        [
            "spec.ingress[0].ports[1].port",
            "spec.ingress[0].ports[2].port",
            "spec.egress[0].ports[1].port",
            "spec.egress[1].ports[0].port"
        ]
    );
    assert!(found.iter().all(|(check, _, _)| *check == "np.named-port-unresolved"));
    assert!(found[3].2.contains("peers are all ipBlocks"));
}

#[test]
fn checks_can_be_switched_off_and_given_a_severity() {
    let mut settings = CheckSettings::default();
    settings.disabled.insert(Check::DefaultDenyEgressMissing);
    settings.severities.insert(Check::DefaultDenyMissing, portal_rules::Severity::Critical);
    let findings = analyze(&inventory(&web_namespace()), &settings);
    assert_eq!(checks_of(&findings), [("np.default-deny-missing", "shop")]);
    assert_eq!(findings[0].severity, portal_rules::Severity::Critical);
    assert_eq!(Check::from_name("np.broad-cidr"), Some(Check::BroadCidr));
    assert_eq!(Check::from_name("np.nothing"), None);
}

#[test]
fn a_change_recomputes_its_namespace_and_those_that_select_namespaces() {
    let mut objects = web_namespace();
    objects.push(namespace("ops", json!({})));
    objects.push(pod("ops", "probe", json!({"app": "probe"}), json!([])));
    objects.push(policy("ops", "local", json!({"podSelector": {}, "ingress": [{"from": [{"podSelector": {}}]}]})));
    objects.push(policy("shop", "from-ops", json!({"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ops"}}}]}]})));
    let mut inventory = inventory(&objects);
    let affected = inventory.affected_namespaces(Change::Pod("ops"));
    assert_eq!(affected.iter().map(String::as_str).collect::<Vec<_>>(), ["ops", "shop"]);
    assert_eq!(inventory.affected_namespaces(Change::Policy("ops")).len(), 1);

    // The peer's namespace loses its only Pod: the finding appears on the other namespace's policy.
    let settings = CheckSettings::default();
    let before = analyze_namespace(&inventory, "shop", &settings);
    assert!(!before.iter().any(|f| f.check == Check::PeerMatchesNothing));
    inventory.remove_pod("ops", "probe");
    let after = analyze_namespace(&inventory, "shop", &settings);
    assert!(after.iter().any(|f| f.check == Check::PeerMatchesNothing && f.subject.name == "from-ops"), "{after:#?}");
}

#[test]
fn objects_kubernetes_would_refuse_are_refused_at_their_field() {
    let cases = [
        (
            policy("a", "p", json!({"podSelector": {}, "ingress": [{"from": [{}]}]})),
            "NetworkPolicy a/p: spec.ingress[0].from[0]: a peer needs",
        ),
        (
            policy("a", "p", json!({"podSelector": {}, "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.1"}}]}]})),
            "NetworkPolicy a/p: spec.egress[0].to[0].ipBlock.cidr: \"10.0.0.1\" has no prefix length; write 10.0.0.1/32",
        ),
        (
            policy("a", "p", json!({"podSelector": {}, "ingress": [{"ports": [{"port": "80"}]}]})),
            "spec.ingress[0].ports[0].port: \"80\" is a string, and port names need a letter; write the number without quotes",
        ),
        (
            policy(
                "a",
                "p",
                json!({"podSelector": {}, "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["11.0.0.0/16"]}}]}]}),
            ),
            "spec.egress[0].to[0].ipBlock.except[0]: 11.0.0.0/16 must lie strictly inside the cidr 10.0.0.0/8",
        ),
        (
            policy("a", "p", json!({"podSelector": {}, "ingress": [{"ports": [{"port": 90, "endPort": 80}]}]})),
            "spec.ingress[0].ports[0].endPort: endPort 80 is below port 90",
        ),
        (
            policy("a", "p", json!({"podSelector": {}, "ingress": [{"ports": [{"port": "Web_Port"}]}]})),
            "spec.ingress[0].ports[0].port: \"Web_Port\" is not a port name",
        ),
        (
            policy("a", "p", json!({"podSelector": {}, "ingress": [{"ports": [{"protocol": "ICMP"}]}]})),
            "spec.ingress[0].ports[0].protocol: unknown protocol",
        ),
        (
            policy("a", "p", json!({"podSelector": {}, "policyTypes": ["Both"]})),
            "spec.policyTypes[0]: unknown policy type",
        ),
        (
            policy("a", "p", json!({"podSelector": {"matchLabels": "app"}})),
            "NetworkPolicy a/p: spec.podSelector.matchLabels: invalid type: string \"app\", expected a map",
        ),
    ];
    for (object, expected) in cases {
        let error = Objects::default().add_json(&object).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(error.contains(expected), "{object}:\n  {error}");
    }
    let not_ours = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}});
    assert_eq!(Objects::default().add_json(&not_ours), Ok(false));
}
