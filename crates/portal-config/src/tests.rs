//! Behaviour of the whole loader: layering, sources, errors, printing.

#![allow(clippy::unwrap_used, clippy::expect_used)]
// Case tables are tuples whose type is spelt out once, next to the cases.
#![allow(clippy::type_complexity)]

use std::path::{Path, PathBuf};

use crate::{AdmissionFailurePolicy, Config, Duration, Error, LogFormat, Overrides, ReportApiVersion, Source};

const FILE: &str = "portal.yaml";

fn env(vars: &[(&str, &str)]) -> Vec<(String, String)> {
    vars.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned())).collect()
}

fn load(file: Option<&str>, vars: &[(&str, &str)], overrides: &Overrides) -> Result<Config, Error> {
    Config::load_text(file.map(|text| (Path::new(FILE), text)), env(vars), overrides)
}

fn error(file: Option<&str>, vars: &[(&str, &str)], overrides: &Overrides) -> String {
    let error = load(file, vars, overrides).expect_err("loading should fail");
    let message = error.to_string();
    assert!(!message.contains('\n'), "one line: {message}");
    message
}

fn millis(millis: u64) -> Duration {
    Duration::from_millis(millis).unwrap()
}

fn file_source(line: usize) -> Source {
    Source::File { path: PathBuf::from(FILE), line }
}

const FULL_FILE: &str = "\
# every setting
rules:
  cluster:
    enabled: false
  folders:
    - /etc/portal/rules
    - /srv/more-rules
  reload:
    debounce: 2s
  limits:
    maxIterations: 5000
    maxEstimatedCost: 20000000000
kubernetes:
  kubeconfig: /etc/kube/config
  context: staging
logging:
  level: info,portal_kube=debug
  format: json
admission:
  enabled: true
  listen: 127.0.0.1:8443
  certFile: /tls/tls.crt
  keyFile: /tls/tls.key
  deadline: 1500ms
  failurePolicy: Ignore
  excludedNamespaces: [kube-system, portal]
  maxRequestBytes: 1048576
health:
  listen: \"[::]:9091\"
";

fn addr(text: &str) -> std::net::SocketAddr {
    text.parse().unwrap()
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|item| (*item).to_owned()).collect()
}

#[test]
fn defaults() {
    for file in
        [None, Some(""), Some("# nothing set\n"), Some("---\n"), Some("null\n"), Some("{}\n"), Some("rules: {}\n")]
    {
        let config = load(file, &[], &Overrides::default()).unwrap();
        assert_eq!(config, Config::default(), "{file:?}");
        assert!(config.rules.cluster.enabled);
        assert!(config.rules.folders.is_empty());
        assert_eq!(config.rules.reload.debounce, millis(200));
        assert_eq!(config.kubernetes.kubeconfig, None);
        assert_eq!(config.kubernetes.context, None);
        assert_eq!(config.logging.level, "info");
        assert_eq!(config.logging.format, LogFormat::Auto);
        assert!(!config.admission.enabled);
        assert_eq!(config.admission.listen, addr("0.0.0.0:8443"));
        assert_eq!(config.admission.cert_file, PathBuf::from("/etc/portal/tls/tls.crt"));
        assert_eq!(config.admission.key_file, PathBuf::from("/etc/portal/tls/tls.key"));
        assert_eq!(config.admission.deadline, millis(2_000));
        assert_eq!(config.admission.failure_policy, AdmissionFailurePolicy::Fail);
        assert_eq!(config.admission.excluded_namespaces, ["kube-system", "kube-public", "kube-node-lease"]);
        assert_eq!(config.admission.max_request_bytes, 3 * 1024 * 1024);
        assert_eq!(config.health.listen, addr("0.0.0.0:9090"));
        assert_eq!(config.source("logging.level"), &Source::Default);
        assert_eq!(config.source("admission.certFile"), &Source::Default);
    }
}

#[test]
fn file_values_and_their_lines() {
    let config = load(Some(FULL_FILE), &[], &Overrides::default()).unwrap();
    assert!(!config.rules.cluster.enabled);
    assert_eq!(config.rules.folders, [PathBuf::from("/etc/portal/rules"), PathBuf::from("/srv/more-rules")]);
    assert_eq!(config.rules.reload.debounce, millis(2_000));
    assert_eq!(config.rules.limits.max_iterations, 5_000);
    assert_eq!(config.rules.limits.max_estimated_cost, 20_000_000_000);
    assert_eq!(config.kubernetes.kubeconfig, Some(PathBuf::from("/etc/kube/config")));
    assert_eq!(config.kubernetes.context.as_deref(), Some("staging"));
    assert_eq!(config.logging.level, "info,portal_kube=debug");
    assert_eq!(config.logging.format, LogFormat::Json);
    assert!(config.admission.enabled);
    assert_eq!(config.admission.listen, addr("127.0.0.1:8443"));
    assert_eq!(config.admission.cert_file, PathBuf::from("/tls/tls.crt"));
    assert_eq!(config.admission.key_file, PathBuf::from("/tls/tls.key"));
    assert_eq!(config.admission.deadline, millis(1_500));
    assert_eq!(config.admission.failure_policy, AdmissionFailurePolicy::Ignore);
    assert_eq!(config.admission.excluded_namespaces, ["kube-system", "portal"]);
    assert_eq!(config.admission.max_request_bytes, 1_048_576);
    assert_eq!(config.health.listen, addr("[::]:9091"));
    for (path, line) in [
        ("rules.cluster.enabled", 4),
        ("rules.folders", 5),
        ("rules.folders[1]", 7),
        ("rules.reload.debounce", 9),
        ("rules.limits.maxIterations", 11),
        ("rules.limits.maxEstimatedCost", 12),
        ("kubernetes.context", 15),
        ("logging.format", 18),
        ("admission.certFile", 22),
        ("admission.failurePolicy", 25),
        ("admission.excludedNamespaces[1]", 26),
        ("admission.maxRequestBytes", 27),
        ("health.listen", 29),
    ] {
        assert_eq!(config.source(path), &file_source(line), "{path}");
    }
}

#[test]
fn layers_override_in_order() {
    let file = "rules:\n  reload:\n    debounce: 2s\nlogging:\n  level: warn\n  format: text\n";
    let vars = [("PORTAL_LOGGING_LEVEL", "debug"), ("PORTAL_LOGGING_FORMAT", "json")];
    let flags = Overrides::default().set("--log-format", "logging.format", LogFormat::Text);
    // (file, environment, flags) → (debounce, level, format) and where each came from.
    let cases: [(Option<&str>, &[(&str, &str)], &Overrides, &str, LogFormat, [Source; 3]); 4] = [
        (
            None,
            &[],
            &Overrides::default(),
            "info",
            LogFormat::Auto,
            [Source::Default, Source::Default, Source::Default],
        ),
        (
            Some(file),
            &[],
            &Overrides::default(),
            "warn",
            LogFormat::Text,
            [file_source(3), file_source(5), file_source(6)],
        ),
        (
            Some(file),
            &vars,
            &Overrides::default(),
            "debug",
            LogFormat::Json,
            [
                file_source(3),
                Source::Env { name: "PORTAL_LOGGING_LEVEL".into() },
                Source::Env { name: "PORTAL_LOGGING_FORMAT".into() },
            ],
        ),
        (
            Some(file),
            &vars,
            &flags,
            "debug",
            LogFormat::Text,
            [
                file_source(3),
                Source::Env { name: "PORTAL_LOGGING_LEVEL".into() },
                Source::Flag { name: "--log-format" },
            ],
        ),
    ];
    for (index, (file, vars, overrides, level, format, sources)) in cases.into_iter().enumerate() {
        let config = load(file, vars, overrides).unwrap();
        assert_eq!(config.logging.level, level, "case {index}");
        assert_eq!(config.logging.format, format, "case {index}");
        let expected_debounce = if file.is_some() { millis(2_000) } else { millis(200) };
        assert_eq!(config.rules.reload.debounce, expected_debounce, "case {index}");
        for (path, source) in ["rules.reload.debounce", "logging.level", "logging.format"].into_iter().zip(&sources) {
            assert_eq!(config.source(path), source, "case {index}: {path}");
        }
    }
}

#[test]
fn every_setting_from_the_environment() {
    let config = load(
        Some(FULL_FILE),
        &[
            ("PORTAL_RULES_CLUSTER_ENABLED", "true"),
            ("PORTAL_RULES_FOLDERS", "/a,/b"),
            ("PORTAL_RULES_RELOAD_DEBOUNCE", "1s"),
            ("PORTAL_RULES_LIMITS_MAX_ITERATIONS", "250000"),
            ("PORTAL_RULES_LIMITS_MAX_ESTIMATED_COST", "1000"),
            ("PORTAL_KUBERNETES_KUBECONFIG", "/k"),
            ("PORTAL_KUBERNETES_CONTEXT", "prod"),
            ("PORTAL_LOGGING_LEVEL", "trace"),
            ("PORTAL_LOGGING_FORMAT", "text"),
            ("PORTAL_ADMISSION_ENABLED", "false"),
            ("PORTAL_ADMISSION_LISTEN", "[::]:443"),
            ("PORTAL_ADMISSION_CERT_FILE", "/env/tls.crt"),
            ("PORTAL_ADMISSION_KEY_FILE", "/env/tls.key"),
            ("PORTAL_ADMISSION_DEADLINE", "2900ms"),
            ("PORTAL_ADMISSION_FAILURE_POLICY", "Fail"),
            ("PORTAL_ADMISSION_EXCLUDED_NAMESPACES", "kube-system, portal-system"),
            ("PORTAL_ADMISSION_MAX_REQUEST_BYTES", "1024"),
            ("PORTAL_ADMISSION_CONNECTIONS_MAX", "16"),
            ("PORTAL_ADMISSION_CONNECTIONS_HANDSHAKE_TIMEOUT", "1s"),
            ("PORTAL_ADMISSION_CONNECTIONS_HEADER_TIMEOUT", "2s"),
            ("PORTAL_ADMISSION_CONNECTIONS_BODY_TIMEOUT", "3s"),
            ("PORTAL_ADMISSION_CONNECTIONS_IDLE_TIMEOUT", "1m"),
            ("PORTAL_ADMISSION_WEBHOOK_CONFIGURATION_MANAGE", "true"),
            ("PORTAL_ADMISSION_WEBHOOK_CONFIGURATION_NAME", "portal-prod"),
            ("PORTAL_ADMISSION_CERTIFICATES_RENEW", "true"),
            ("PORTAL_ADMISSION_CERTIFICATES_NAMESPACE", "portal"),
            ("PORTAL_ADMISSION_CERTIFICATES_SECRET", "tls"),
            ("PORTAL_ADMISSION_CERTIFICATES_SERVICE", "webhook"),
            ("PORTAL_ADMISSION_CERTIFICATES_DNS_NAMES", "webhook.example.com,portal.internal"),
            ("PORTAL_ADMISSION_CERTIFICATES_IPS", "10.0.0.7,::1"),
            ("PORTAL_ADMISSION_CERTIFICATES_CHECK_INTERVAL", "10m"),
            ("PORTAL_ADMISSION_CERTIFICATES_VALIDITY", "48h"),
            ("PORTAL_ADMISSION_CERTIFICATES_RENEW_BEFORE", "24h"),
            ("PORTAL_ADMISSION_SHUTDOWN_GRACE_PERIOD", "25s"),
            ("PORTAL_HEALTH_LISTEN", "127.0.0.1:9999"),
            ("PORTAL_AUDIT_ENABLED", "true"),
            ("PORTAL_AUDIT_WORKERS", "8"),
            ("PORTAL_AUDIT_REPORT_API", "openreports.io/v1alpha1"),
            ("PORTAL_LEADER_ELECTION_NAMESPACE", "portal"),
            ("PORTAL_LEADER_ELECTION_LEASE_NAME", "portal-leader"),
            ("PORTAL_LEADER_ELECTION_LEASE_DURATION", "30s"),
            ("PORTAL_LEADER_ELECTION_RENEW_DEADLINE", "20s"),
            ("PORTAL_LEADER_ELECTION_RETRY_PERIOD", "5s"),
            ("PORTAL_NETWORK_ENABLED", "true"),
            ("PORTAL_ACTIONS_ENABLED", "true"),
            ("PORTAL_ACTIONS_DRY_RUN", "true"),
            ("PORTAL_ACTIONS_QUEUE_SIZE", "50"),
            ("PORTAL_ACTIONS_WORKERS", "2"),
            ("PORTAL_ACTIONS_TYPES_ALERTMANAGER", "false"),
            ("PORTAL_ACTIONS_TYPES_LABEL", "false"),
            ("PORTAL_ACTIONS_TYPES_ANNOTATE", "false"),
            ("PORTAL_ACTIONS_TYPES_EVICT", "false"),
            ("PORTAL_ACTIONS_TYPES_PATCH_NETWORKPOLICY", "false"),
            ("PORTAL_ACTIONS_TYPES_REVOKE_SA_TOKEN", "false"),
            ("PORTAL_ALERTING_ALERTMANAGER_URLS", "http://am-0:9093,https://am-1:9093"),
            ("PORTAL_ALERTING_ALERTMANAGER_CA_FILE", "/ca.pem"),
            ("PORTAL_ALERTING_ALERTMANAGER_USERNAME", "portal"),
            ("PORTAL_ALERTING_ALERTMANAGER_PASSWORD_FILE", "/secret/password"),
            ("PORTAL_ALERTING_ALERTMANAGER_TIMEOUT", "3s"),
            ("PORTAL_ALERTING_ALERTMANAGER_QUEUE_SIZE", "100"),
            // Not Portal's, or read by other tools: ignored.
            ("HOME", "/root"),
            ("PORTAL_CONFIG", "/etc/portal/config.yaml"),
            ("PORTAL_ENVTEST_ASSETS", "/opt/envtest"),
            ("PORTAL_ENVTEST_CACHE", "/tmp/envtest"),
        ],
        &Overrides::default(),
    )
    .unwrap();
    assert!(config.rules.cluster.enabled);
    assert_eq!(config.rules.folders, [PathBuf::from("/a"), PathBuf::from("/b")]);
    assert_eq!(config.rules.reload.debounce, millis(1_000));
    assert_eq!(config.rules.limits.max_iterations, 250_000);
    assert_eq!(config.rules.limits.max_estimated_cost, 1_000);
    assert_eq!(config.kubernetes.kubeconfig, Some(PathBuf::from("/k")));
    assert_eq!(config.kubernetes.context.as_deref(), Some("prod"));
    assert_eq!(config.logging.level, "trace");
    assert_eq!(config.logging.format, LogFormat::Text);
    assert!(!config.admission.enabled);
    assert_eq!(config.admission.listen, addr("[::]:443"));
    assert_eq!(config.admission.cert_file, PathBuf::from("/env/tls.crt"));
    assert_eq!(config.admission.key_file, PathBuf::from("/env/tls.key"));
    assert_eq!(config.admission.deadline, millis(2_900));
    assert_eq!(config.admission.failure_policy, AdmissionFailurePolicy::Fail);
    assert_eq!(config.admission.excluded_namespaces, ["kube-system", "portal-system"]);
    assert_eq!(config.admission.max_request_bytes, 1024);
    let limits = &config.admission.connections;
    assert_eq!(limits.max, 16);
    assert_eq!(
        [limits.handshake_timeout, limits.header_timeout, limits.body_timeout, limits.idle_timeout],
        [millis(1_000), millis(2_000), millis(3_000), millis(60_000)]
    );
    assert!(config.admission.webhook_configuration.manage);
    assert_eq!(config.admission.webhook_configuration.name, "portal-prod");
    assert_eq!(config.admission.shutdown_grace_period, millis(25_000));
    let certificates = &config.admission.certificates;
    assert!(certificates.renew);
    assert_eq!((certificates.namespace.as_str(), certificates.secret.as_str()), ("portal", "tls"));
    assert_eq!(certificates.service, "webhook");
    assert_eq!(certificates.dns_names, ["webhook.example.com", "portal.internal"]);
    assert_eq!(certificates.ips, ["10.0.0.7".parse::<std::net::IpAddr>().unwrap(), "::1".parse().unwrap()]);
    assert_eq!(
        [certificates.check_interval, certificates.validity, certificates.renew_before],
        [millis(600_000), millis(48 * 3_600_000), millis(24 * 3_600_000)]
    );
    assert_eq!(config.health.listen, addr("127.0.0.1:9999"));
    assert!(config.audit.enabled);
    assert_eq!(config.audit.workers, 8);
    assert_eq!(config.audit.report_api, ReportApiVersion::OpenReports);
    let election = &config.leader_election;
    assert_eq!((election.namespace.as_str(), election.lease_name.as_str()), ("portal", "portal-leader"));
    assert_eq!(
        [election.lease_duration, election.renew_deadline, election.retry_period],
        [millis(30_000), millis(20_000), millis(5_000)]
    );
    assert!(config.network.enabled);
    let actions = &config.actions;
    assert!(actions.enabled && actions.dry_run);
    assert_eq!((actions.queue_size, actions.workers), (50, 2));
    assert_eq!(
        actions.types,
        crate::ActionTypesConfig {
            alertmanager: false,
            label: false,
            annotate: false,
            evict: false,
            patch_networkpolicy: false,
            revoke_sa_token: false,
        }
    );
    let alertmanager = &config.alerting.alertmanager;
    assert_eq!(alertmanager.urls, ["http://am-0:9093", "https://am-1:9093"]);
    assert_eq!(alertmanager.ca_file, Some(PathBuf::from("/ca.pem")));
    assert_eq!(alertmanager.username.as_deref(), Some("portal"));
    assert_eq!(alertmanager.password_file, Some(PathBuf::from("/secret/password")));
    assert_eq!((alertmanager.timeout, alertmanager.queue_size), (millis(3_000), 100));
    for (name, path) in Config::env_vars() {
        if name == "PORTAL_ALERTING_ALERTMANAGER_BEARER_TOKEN_FILE" {
            // Exclusive with basic authentication: read in `alerting_settings_are_checked`.
            continue;
        }
        assert_eq!(config.source(&path), &Source::Env { name }, "{path}");
    }
}

#[test]
fn every_setting_from_flags() {
    let flags = Overrides::default()
        .set("--cluster-rules", "rules.cluster.enabled", true)
        .set("--rules", "rules.folders", vec![PathBuf::from("/x")])
        .set("--reload-debounce", "rules.reload.debounce", millis(500))
        .set("--kubeconfig", "kubernetes.kubeconfig", PathBuf::from("/flag/kubeconfig"))
        .set("--context", "kubernetes.context", "dev")
        .set("--log-level", "logging.level", "error")
        .set("--log-format", "logging.format", LogFormat::Json)
        .set("--admission", "admission.enabled", false)
        .set("--admission-listen", "admission.listen", addr("127.0.0.2:8443"))
        .set("--cert-file", "admission.certFile", PathBuf::from("/flag/tls.crt"))
        .set("--key-file", "admission.keyFile", PathBuf::from("/flag/tls.key"))
        .set("--health-listen", "health.listen", addr("127.0.0.2:9090"));
    let vars = [
        ("PORTAL_RULES_CLUSTER_ENABLED", "false"),
        ("PORTAL_RULES_FOLDERS", "/a,/b"),
        ("PORTAL_RULES_RELOAD_DEBOUNCE", "1s"),
        ("PORTAL_KUBERNETES_KUBECONFIG", "/k"),
        ("PORTAL_KUBERNETES_CONTEXT", "prod"),
        ("PORTAL_LOGGING_LEVEL", "trace"),
        ("PORTAL_LOGGING_FORMAT", "text"),
        ("PORTAL_ADMISSION_ENABLED", "true"),
        ("PORTAL_ADMISSION_LISTEN", "[::]:443"),
        ("PORTAL_ADMISSION_CERT_FILE", "/env/tls.crt"),
        ("PORTAL_ADMISSION_KEY_FILE", "/env/tls.key"),
        ("PORTAL_HEALTH_LISTEN", "127.0.0.1:9999"),
    ];
    let config = load(Some(FULL_FILE), &vars, &flags).unwrap();
    assert!(config.rules.cluster.enabled);
    assert_eq!(config.rules.folders, [PathBuf::from("/x")]);
    assert_eq!(config.rules.reload.debounce, millis(500));
    assert_eq!(config.kubernetes.kubeconfig, Some(PathBuf::from("/flag/kubeconfig")));
    assert_eq!(config.kubernetes.context.as_deref(), Some("dev"));
    assert_eq!(config.logging.level, "error");
    assert_eq!(config.logging.format, LogFormat::Json);
    assert!(!config.admission.enabled);
    assert_eq!(config.admission.listen, addr("127.0.0.2:8443"));
    assert_eq!(config.admission.cert_file, PathBuf::from("/flag/tls.crt"));
    assert_eq!(config.admission.key_file, PathBuf::from("/flag/tls.key"));
    assert_eq!(config.health.listen, addr("127.0.0.2:9090"));
    // Settings without a flag keep the file's values.
    assert_eq!(config.admission.deadline, millis(1_500));
    assert_eq!(config.source("admission.deadline"), &file_source(24));
    for (flag, path) in flags.flags() {
        assert_eq!(config.source(path), &Source::Flag { name: flag }, "{path}");
    }
}

#[test]
fn environment_text_is_typed_by_the_setting() {
    // (variable, value, check)
    let cases: &[(&str, &str, fn(&Config) -> bool)] = &[
        ("PORTAL_RULES_CLUSTER_ENABLED", "FALSE", |c| !c.rules.cluster.enabled),
        ("PORTAL_RULES_CLUSTER_ENABLED", " true ", |c| c.rules.cluster.enabled),
        // A string setting keeps what YAML would read as a boolean or a number.
        ("PORTAL_KUBERNETES_CONTEXT", "true", |c| c.kubernetes.context.as_deref() == Some("true")),
        ("PORTAL_KUBERNETES_CONTEXT", "0123", |c| c.kubernetes.context.as_deref() == Some("0123")),
        // Empty unsets an optional setting, even one the file set.
        ("PORTAL_KUBERNETES_CONTEXT", "", |c| c.kubernetes.context.is_none()),
        ("PORTAL_KUBERNETES_KUBECONFIG", "", |c| c.kubernetes.kubeconfig.is_none()),
        ("PORTAL_ADMISSION_ENABLED", "False", |c| !c.admission.enabled),
        ("PORTAL_ADMISSION_LISTEN", " 10.0.0.1:8443 ", |c| c.admission.listen == addr("10.0.0.1:8443")),
        ("PORTAL_ADMISSION_FAILURE_POLICY", "Ignore", |c| c.admission.failure_policy == AdmissionFailurePolicy::Ignore),
        ("PORTAL_ADMISSION_MAX_REQUEST_BYTES", " 2048 ", |c| c.admission.max_request_bytes == 2048),
        // Empty is an empty list: evaluate every namespace.
        ("PORTAL_ADMISSION_EXCLUDED_NAMESPACES", "", |c| c.admission.excluded_namespaces.is_empty()),
        ("PORTAL_ADMISSION_EXCLUDED_NAMESPACES", "a,b", |c| c.admission.excluded_namespaces == strings(&["a", "b"])),
        ("PORTAL_HEALTH_LISTEN", "[::1]:9090", |c| c.health.listen == addr("[::1]:9090")),
    ];
    for (name, value, check) in cases {
        let config = load(Some(FULL_FILE), &[(name, value)], &Overrides::default()).unwrap();
        assert!(check(&config), "{name}={value:?}: {config:?}");
    }
}

#[test]
fn lists() {
    let paths = |names: &[&str]| names.iter().map(PathBuf::from).collect::<Vec<_>>();
    // (file, PORTAL_RULES_FOLDERS, --rules) → folders
    let cases: &[(&str, Option<&str>, Option<&[&str]>, &[&str])] = &[
        ("rules:\n  folders: [/a, /b]\n", None, None, &["/a", "/b"]),
        ("rules:\n  folders:\n  - /a\n", None, None, &["/a"]),
        ("rules:\n  folders: []\n", None, None, &[]),
        ("rules:\n  folders: [/a, /b]\n", Some("/c"), None, &["/c"]),
        ("", Some("/a,/b"), None, &["/a", "/b"]),
        ("", Some(" /a , /b ,"), None, &["/a", "/b"]),
        ("", Some("/with space/rules"), None, &["/with space/rules"]),
        // Empty clears the file's list.
        ("rules:\n  folders: [/a]\n", Some(""), None, &[]),
        // A flag replaces, it does not append.
        ("rules:\n  folders: [/a]\n", Some("/b"), Some(&["/c", "/d"]), &["/c", "/d"]),
        ("", None, Some(&[]), &[]),
    ];
    for (file, var, flag, expected) in cases {
        let vars: Vec<(&str, &str)> = var.iter().map(|value| ("PORTAL_RULES_FOLDERS", *value)).collect();
        let overrides = match flag {
            Some(flag) => Overrides::default().set("--rules", "rules.folders", paths(flag)),
            None => Overrides::default(),
        };
        let config = load(Some(file), &vars, &overrides).unwrap();
        assert_eq!(config.rules.folders, paths(expected), "{file:?} {var:?} {flag:?}");
    }
}

#[test]
fn file_errors_name_the_line_the_path_and_what_is_allowed() {
    let cases = [
        (
            "rules:\n  cluster:\n    enabeld: false\n",
            "portal.yaml:3: setting `rules.cluster.enabeld`: unknown field `enabeld`, expected `enabled`",
        ),
        (
            "rules:\n  folders: []\n  reloads:\n    debounce: 1s\n",
            "portal.yaml:3: setting `rules.reloads`: unknown field `reloads`, expected one of `cluster`, `folders`, `reload`, `limits`",
        ),
        (
            "logging: {}\nnetwrk:\n  enabled: true\n",
            "portal.yaml:2: setting `netwrk`: unknown field `netwrk`, expected one of `rules`, `kubernetes`, \
             `logging`, `admission`, `health`, `audit`, `leaderElection`, `network`, `actions`, `alerting`",
        ),
        (
            "network:\n  enabled: true\n",
            "portal.yaml:2: setting `network.enabled`: network findings are written by the audit: set \
             audit.enabled: true as well",
        ),
        (
            "audit: {enabled: true}\nnetwork:\n  checks:\n    np.broad-cidr: {severity: urgent}\n",
            "portal.yaml:4: setting `network.checks.np.broad-cidr.severity`: \"urgent\" is not a severity: expected \
             one of info, low, medium, high, critical",
        ),
        (
            "logging:\n  format: xml\n",
            "portal.yaml:2: setting `logging.format`: unknown variant `xml`, expected one of `auto`, `json`, `text`",
        ),
        (
            "rules:\n  reload:\n    debounce: fast\n",
            "portal.yaml:3: setting `rules.reload.debounce`: invalid value: string \"fast\", expected a duration \
             greater than zero: whole numbers with a unit ms, s, m or h, e.g. 200ms, 2s, 1m or 1m30s",
        ),
        (
            "rules:\n  reload:\n    debounce: 200\n",
            "portal.yaml:3: setting `rules.reload.debounce`: invalid type: integer `200`, expected a duration \
             greater than zero: whole numbers with a unit ms, s, m or h, e.g. 200ms, 2s, 1m or 1m30s",
        ),
        (
            "rules:\n  reload:\n    debounce: 0s\n",
            "portal.yaml:3: setting `rules.reload.debounce`: invalid value: string \"0s\", expected a duration \
             greater than zero: whole numbers with a unit ms, s, m or h, e.g. 200ms, 2s, 1m or 1m30s",
        ),
        (
            "rules:\n  reload:\n    debounce: 61m\n",
            "portal.yaml:3: setting `rules.reload.debounce`: 1h1m is too long: expected at most 1h",
        ),
        (
            "rules:\n  cluster:\n    enabled: maybe\n",
            "portal.yaml:3: setting `rules.cluster.enabled`: invalid type: string \"maybe\", expected a boolean",
        ),
        (
            "rules:\n  folders: /etc/portal/rules\n",
            "portal.yaml:2: setting `rules.folders`: invalid type: string \"/etc/portal/rules\", expected a sequence",
        ),
        (
            "rules:\n  folders:\n  - /a\n  - {path: /b}\n",
            "portal.yaml:4: setting `rules.folders[1]`: invalid type: map, expected path string",
        ),
        ("rules: true\n", "portal.yaml:1: setting `rules`: invalid type: boolean `true`, expected struct RulesConfig"),
        (
            "logging:\n  level: verbose\n",
            "portal.yaml:2: setting `logging.level`: \"verbose\" in \"verbose\" is not a level: expected a level \
             (error, warn, info, debug, trace or off) or comma-separated TARGET=LEVEL directives with an optional \
             default level, e.g. info,portal_kube=debug",
        ),
        (
            "- rules\n",
            "portal.yaml:1: the configuration file must be a mapping of sections (rules, kubernetes, logging, \
             admission, health, audit, leaderElection, network, actions, alerting), not a list",
        ),
        (
            "admission:\n  cert_file: /tls.crt\n",
            "portal.yaml:2: setting `admission.cert_file`: unknown field `cert_file`, expected one of `enabled`, \
             `listen`, `certFile`, `keyFile`, `deadline`, `failurePolicy`, `excludedNamespaces`, `maxRequestBytes`, \
             `connections`, `webhookConfiguration`, `certificates`, `shutdownGracePeriod`",
        ),
        (
            "admission:\n  listen: localhost:8443\n",
            "portal.yaml:2: setting `admission.listen`: invalid value: string \"localhost:8443\", expected an IP \
             address and a port, e.g. 0.0.0.0:8443, 127.0.0.1:8443 or [::]:8443",
        ),
        (
            "admission:\n  listen: 0.0.0.0\n",
            "portal.yaml:2: setting `admission.listen`: invalid value: string \"0.0.0.0\", expected an IP address \
             and a port, e.g. 0.0.0.0:8443, 127.0.0.1:8443 or [::]:8443",
        ),
        (
            "health:\n  listen: 9090\n",
            "portal.yaml:2: setting `health.listen`: invalid type: integer `9090`, expected an IP address and a \
             port, e.g. 0.0.0.0:8443, 127.0.0.1:8443 or [::]:8443",
        ),
        (
            "admission:\n  enabled: true\n  deadline: 3s\n",
            "portal.yaml:3: setting `admission.deadline`: 3s is too long: expected at most 2s900ms, under the \
             webhook's timeoutSeconds (3s)",
        ),
        (
            "admission:\n  deadline: 2901ms\n",
            "portal.yaml:2: setting `admission.deadline`: 2s901ms is too long: expected at most 2s900ms, under the \
             webhook's timeoutSeconds (3s)",
        ),
        (
            "admission:\n  deadline: 0ms\n",
            "portal.yaml:2: setting `admission.deadline`: invalid value: string \"0ms\", expected a duration \
             greater than zero: whole numbers with a unit ms, s, m or h, e.g. 200ms, 2s, 1m or 1m30s",
        ),
        (
            "admission:\n  failurePolicy: Deny\n",
            "portal.yaml:2: setting `admission.failurePolicy`: unknown variant `Deny`, expected `Fail` or `Ignore`",
        ),
        (
            "admission:\n  failurePolicy: fail\n",
            "portal.yaml:2: setting `admission.failurePolicy`: unknown variant `fail`, expected `Fail` or `Ignore`",
        ),
        (
            "admission:\n  maxRequestBytes: 1023\n",
            "portal.yaml:2: setting `admission.maxRequestBytes`: 1023 is too small: expected at least 1024 (1 KiB)",
        ),
        (
            "admission:\n  maxRequestBytes: 67108865\n",
            "portal.yaml:2: setting `admission.maxRequestBytes`: 67108865 is too large: expected at most 67108864 \
             (64 MiB)",
        ),
        (
            "admission:\n  maxRequestBytes: -1\n",
            "portal.yaml:2: setting `admission.maxRequestBytes`: invalid value: integer `-1`, expected u64",
        ),
        (
            "admission:\n  excludedNamespaces:\n    - kube-system\n    - kube_public\n",
            "portal.yaml:2: setting `admission.excludedNamespaces`: \"kube_public\" is not a namespace name: \
             expected at most 63 lower-case letters, digits and `-`, starting and ending with a letter or digit",
        ),
        (
            "admission:\n  keyFile: \"\"\n",
            "portal.yaml:2: setting `admission.keyFile`: empty: expected the path of a PEM file",
        ),
        (
            "leaderElection:\n  renewDeadline: 20s\n",
            "portal.yaml:2: setting `leaderElection.renewDeadline`: 20s must be shorter than \
             leaderElection.leaseDuration (15s), or two replicas could both lead",
        ),
        (
            "leaderElection:\n  retryPeriod: 10s\n",
            "portal.yaml:2: setting `leaderElection.retryPeriod`: 10s must be shorter than \
             leaderElection.renewDeadline (10s)",
        ),
    ];
    for (file, expected) in cases {
        assert_eq!(error(Some(file), &[], &Overrides::default()), expected, "{file:?}");
    }
}

#[test]
fn yaml_syntax_errors_name_the_line() {
    for (file, prefix) in [
        ("rules:\n  folders: [/a\n", "portal.yaml:2: not valid YAML: column "),
        ("logging:\n  level: info\n  level: debug\n", "portal.yaml:3: not valid YAML: column "),
    ] {
        let message = error(Some(file), &[], &Overrides::default());
        assert!(message.starts_with(prefix), "{file:?}: {message}");
    }
}

#[test]
fn yaml_messages_do_not_mention_the_parser_api() {
    for (file, expected) in [
        ("logging:\n  level: info\n  level: debug\n", "portal.yaml:3: not valid YAML: column 3: duplicate key: level"),
        (
            "a: 1\n---\nb: 2\n",
            "portal.yaml:3: not valid YAML: column 1: more than one YAML document; the configuration is one document",
        ),
    ] {
        assert_eq!(error(Some(file), &[], &Overrides::default()), expected);
    }
}

#[test]
fn environment_errors_name_the_variable() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("PORTAL_RULES_RELOAD_DEBOUNCE", "soon")],
            "PORTAL_RULES_RELOAD_DEBOUNCE: setting `rules.reload.debounce`: invalid value: string \"soon\", expected \
             a duration greater than zero: whole numbers with a unit ms, s, m or h, e.g. 200ms, 2s, 1m or 1m30s",
        ),
        (
            &[("PORTAL_RULES_LIMITS_MAX_ITERATIONS", "0")],
            "PORTAL_RULES_LIMITS_MAX_ITERATIONS: setting `rules.limits.maxIterations`: 0 would stop every rule \
             that has a comprehension: expected at least 1",
        ),
        (
            &[("PORTAL_RULES_RELOAD_DEBOUNCE", "2h")],
            "PORTAL_RULES_RELOAD_DEBOUNCE: setting `rules.reload.debounce`: 2h is too long: expected at most 1h",
        ),
        (
            &[("PORTAL_LOGGING_FORMAT", "yaml")],
            "PORTAL_LOGGING_FORMAT: setting `logging.format`: unknown variant `yaml`, expected one of `auto`, \
             `json`, `text`",
        ),
        (
            &[("PORTAL_RULES_CLUSTER_ENABLED", "yes")],
            "PORTAL_RULES_CLUSTER_ENABLED: setting `rules.cluster.enabled`: invalid value: string \"yes\", \
             expected true or false",
        ),
        (
            &[("PORTAL_ADMISSION_LISTEN", "8443")],
            "PORTAL_ADMISSION_LISTEN: setting `admission.listen`: invalid value: string \"8443\", expected an IP \
             address and a port, e.g. 0.0.0.0:8443, 127.0.0.1:8443 or [::]:8443",
        ),
        (
            &[("PORTAL_ADMISSION_DEADLINE", "5s")],
            "PORTAL_ADMISSION_DEADLINE: setting `admission.deadline`: 5s is too long: expected at most 2s900ms, \
             under the webhook's timeoutSeconds (3s)",
        ),
        (
            &[("PORTAL_ADMISSION_FAILURE_POLICY", "Open")],
            "PORTAL_ADMISSION_FAILURE_POLICY: setting `admission.failurePolicy`: unknown variant `Open`, expected \
             `Fail` or `Ignore`",
        ),
        (
            &[("PORTAL_ADMISSION_MAX_REQUEST_BYTES", "3MiB")],
            "PORTAL_ADMISSION_MAX_REQUEST_BYTES: setting `admission.maxRequestBytes`: invalid value: string \
             \"3MiB\", expected u64",
        ),
        (
            &[("PORTAL_ADMISSION_CERT_FILE", "")],
            "PORTAL_ADMISSION_CERT_FILE: setting `admission.certFile`: empty: expected the path of a PEM file",
        ),
        (
            &[("PORTAL_LOGGING_LEVEL", "info,portal_kube=chatty")],
            "PORTAL_LOGGING_LEVEL: setting `logging.level`: \"chatty\" in \"info,portal_kube=chatty\" is not a \
             level: expected a level (error, warn, info, debug, trace or off) or comma-separated TARGET=LEVEL \
             directives with an optional default level, e.g. info,portal_kube=debug",
        ),
    ];
    for (vars, expected) in cases {
        assert_eq!(error(Some(FULL_FILE), vars, &Overrides::default()), *expected);
    }
}

#[test]
fn unknown_portal_variables_are_errors() {
    let valid = "PORTAL_RULES_CLUSTER_ENABLED, PORTAL_RULES_FOLDERS, PORTAL_RULES_RELOAD_DEBOUNCE, \
                 PORTAL_RULES_LIMITS_MAX_ITERATIONS, PORTAL_RULES_LIMITS_MAX_ESTIMATED_COST, \
                 PORTAL_KUBERNETES_KUBECONFIG, PORTAL_KUBERNETES_CONTEXT, PORTAL_LOGGING_LEVEL, PORTAL_LOGGING_FORMAT, \
                 PORTAL_ADMISSION_ENABLED, PORTAL_ADMISSION_LISTEN, PORTAL_ADMISSION_CERT_FILE, \
                 PORTAL_ADMISSION_KEY_FILE, PORTAL_ADMISSION_DEADLINE, PORTAL_ADMISSION_FAILURE_POLICY, \
                 PORTAL_ADMISSION_EXCLUDED_NAMESPACES, PORTAL_ADMISSION_MAX_REQUEST_BYTES, \
                 PORTAL_ADMISSION_CONNECTIONS_MAX, PORTAL_ADMISSION_CONNECTIONS_HANDSHAKE_TIMEOUT, \
                 PORTAL_ADMISSION_CONNECTIONS_HEADER_TIMEOUT, PORTAL_ADMISSION_CONNECTIONS_BODY_TIMEOUT, \
                 PORTAL_ADMISSION_CONNECTIONS_IDLE_TIMEOUT, PORTAL_ADMISSION_WEBHOOK_CONFIGURATION_MANAGE, \
                 PORTAL_ADMISSION_WEBHOOK_CONFIGURATION_NAME, PORTAL_ADMISSION_CERTIFICATES_RENEW, PORTAL_ADMISSION_CERTIFICATES_NAMESPACE, PORTAL_ADMISSION_CERTIFICATES_SECRET, PORTAL_ADMISSION_CERTIFICATES_SERVICE, PORTAL_ADMISSION_CERTIFICATES_DNS_NAMES, PORTAL_ADMISSION_CERTIFICATES_IPS, PORTAL_ADMISSION_CERTIFICATES_CHECK_INTERVAL, PORTAL_ADMISSION_CERTIFICATES_VALIDITY, PORTAL_ADMISSION_CERTIFICATES_RENEW_BEFORE, PORTAL_ADMISSION_SHUTDOWN_GRACE_PERIOD, PORTAL_HEALTH_LISTEN, PORTAL_AUDIT_ENABLED, PORTAL_AUDIT_WORKERS, PORTAL_AUDIT_REPORT_API, PORTAL_LEADER_ELECTION_NAMESPACE, \
                 PORTAL_LEADER_ELECTION_LEASE_NAME, PORTAL_LEADER_ELECTION_LEASE_DURATION, \
                 PORTAL_LEADER_ELECTION_RENEW_DEADLINE, PORTAL_LEADER_ELECTION_RETRY_PERIOD, PORTAL_NETWORK_ENABLED, \
                 PORTAL_ACTIONS_ENABLED, PORTAL_ACTIONS_DRY_RUN, PORTAL_ACTIONS_QUEUE_SIZE, PORTAL_ACTIONS_WORKERS, PORTAL_ACTIONS_TYPES_ALERTMANAGER, PORTAL_ACTIONS_TYPES_LABEL, PORTAL_ACTIONS_TYPES_ANNOTATE, PORTAL_ACTIONS_TYPES_EVICT, PORTAL_ACTIONS_TYPES_PATCH_NETWORKPOLICY, PORTAL_ACTIONS_TYPES_REVOKE_SA_TOKEN, PORTAL_ALERTING_ALERTMANAGER_URLS, PORTAL_ALERTING_ALERTMANAGER_CA_FILE, PORTAL_ALERTING_ALERTMANAGER_BEARER_TOKEN_FILE, PORTAL_ALERTING_ALERTMANAGER_USERNAME, PORTAL_ALERTING_ALERTMANAGER_PASSWORD_FILE, PORTAL_ALERTING_ALERTMANAGER_TIMEOUT, PORTAL_ALERTING_ALERTMANAGER_QUEUE_SIZE";
    let others = "PORTAL_CONFIG, PORTAL_NAMESPACE, PORTAL_ENVTEST_ASSETS, PORTAL_ENVTEST_CACHE, PORTAL_HELM, PORTAL_ALERTMANAGER, PORTAL_CHROMIUM, PORTAL_PLAYGROUND";
    for (name, suggestion) in [
        ("PORTAL_LOGGING_LEVLE", " (did you mean PORTAL_LOGGING_LEVEL?)"),
        ("PORTAL_RULES_FOLDER", " (did you mean PORTAL_RULES_FOLDERS?)"),
        ("PORTAL_ADMISSION_CERTFILE", " (did you mean PORTAL_ADMISSION_CERT_FILE?)"),
        ("PORTAL_ADMISSION_FAILUREPOLICY", " (did you mean PORTAL_ADMISSION_FAILURE_POLICY?)"),
        ("PORTAL_LOG_LEVEL", ""),
        ("PORTAL_", ""),
    ] {
        assert_eq!(
            error(None, &[("PATH", "/bin"), (name, "x")], &Overrides::default()),
            format!(
                "unknown environment variable {name}{suggestion}; the settings variables are {valid}, and {others} \
                 are read by other tools"
            )
        );
    }
}

#[test]
fn flag_errors_name_the_flag() {
    let too_long = Overrides::default().set("--reload-debounce", "rules.reload.debounce", millis(7_200_000));
    assert_eq!(
        error(None, &[], &too_long),
        "--reload-debounce: setting `rules.reload.debounce`: 2h is too long: expected at most 1h"
    );
    let bad_level = Overrides::default().set("--log-level", "logging.level", "loud");
    assert!(error(None, &[], &bad_level).starts_with("--log-level: setting `logging.level`: \"loud\""));
    let empty_key = Overrides::default().set("--key-file", "admission.keyFile", PathBuf::new());
    assert_eq!(
        error(None, &[], &empty_key),
        "--key-file: setting `admission.keyFile`: empty: expected the path of a PEM file"
    );
}

#[test]
fn relative_paths_in_the_file_are_relative_to_its_directory() {
    let file = "rules:\n  folders: [rules, /abs]\nkubernetes:\n  kubeconfig: kube/config\n\
                admission:\n  certFile: tls/tls.crt\n  keyFile: /abs/tls.key\n";
    let config =
        Config::load_text(Some((Path::new("/etc/portal/portal.yaml"), file)), Vec::new(), &Overrides::default())
            .unwrap();
    assert_eq!(config.rules.folders, [PathBuf::from("/etc/portal/rules"), PathBuf::from("/abs")]);
    assert_eq!(config.kubernetes.kubeconfig, Some(PathBuf::from("/etc/portal/kube/config")));
    assert_eq!(config.admission.cert_file, PathBuf::from("/etc/portal/tls/tls.crt"));
    assert_eq!(config.admission.key_file, PathBuf::from("/abs/tls.key"));
    // From the environment or a flag: relative to the working directory, as a shell user expects.
    let config = Config::load_text(
        Some((Path::new("/etc/portal/portal.yaml"), file)),
        env(&[("PORTAL_RULES_FOLDERS", "rules"), ("PORTAL_ADMISSION_KEY_FILE", "tls.key")]),
        &Overrides::default().set("--kubeconfig", "kubernetes.kubeconfig", PathBuf::from("kubeconfig")).set(
            "--cert-file",
            "admission.certFile",
            PathBuf::from("tls.crt"),
        ),
    )
    .unwrap();
    assert_eq!(config.rules.folders, [PathBuf::from("rules")]);
    assert_eq!(config.kubernetes.kubeconfig, Some(PathBuf::from("kubeconfig")));
    assert_eq!(config.admission.cert_file, PathBuf::from("tls.crt"));
    assert_eq!(config.admission.key_file, PathBuf::from("tls.key"));
}

#[test]
fn print_config_round_trips() {
    let tricky = Overrides::default().set("--context", "kubernetes.context", "yes").set(
        "--rules",
        "rules.folders",
        vec![PathBuf::from("/a: b"), PathBuf::from("#not-a-comment"), PathBuf::from("")],
    );
    let cases: [(Option<&str>, &[(&str, &str)], &Overrides); 4] = [
        (None, &[], &Overrides::default()),
        (Some(FULL_FILE), &[], &Overrides::default()),
        (Some(FULL_FILE), &[("PORTAL_LOGGING_LEVEL", "debug"), ("PORTAL_RULES_FOLDERS", "/x,/y")], &tricky),
        (None, &[("PORTAL_KUBERNETES_CONTEXT", "null"), ("PORTAL_LOGGING_LEVEL", "warn,portal_kube=trace")], &tricky),
    ];
    for (file, vars, overrides) in cases {
        let config = load(file, vars, overrides).unwrap();
        let yaml = config.to_yaml().unwrap();
        let again = Config::load_text(Some((Path::new("printed.yaml"), &yaml)), Vec::new(), &Overrides::default())
            .unwrap_or_else(|error| panic!("{error}\n{yaml}"));
        assert_eq!(again, config, "{yaml}");
        assert_eq!(serde_json::to_value(&again).unwrap(), serde_json::to_value(&config).unwrap());
        let has_sources = yaml.contains("# from");
        assert_eq!(has_sources, file.is_some() || !vars.is_empty() || overrides.flags().next().is_some(), "{yaml}");
    }
}

#[test]
fn print_config_names_sources() {
    let file = "logging:\n  level: warn\nadmission:\n  excludedNamespaces: [kube-system, portal]\n";
    let overrides = Overrides::default().set("--log-format", "logging.format", LogFormat::Json).set(
        "--admission",
        "admission.enabled",
        true,
    );
    let vars = [("PORTAL_RULES_FOLDERS", "/r"), ("PORTAL_HEALTH_LISTEN", "[::]:9090")];
    let config = load(Some(file), &vars, &overrides).unwrap();
    let expected = "\
# Effective Portal configuration: defaults < --config file < PORTAL_* environment < flags.
# A comment names the source of every value that is not the default.
rules:
  cluster:
    enabled: true
  folders:  # from PORTAL_RULES_FOLDERS
    - /r
  reload:
    debounce: 200ms
  limits:
    maxIterations: 10000000
    maxEstimatedCost: 10000000000
kubernetes:
  kubeconfig: null
  context: null
logging:
  level: warn  # from portal.yaml:2
  format: json  # from --log-format
admission:
  enabled: true  # from --admission
  listen: 0.0.0.0:8443
  certFile: /etc/portal/tls/tls.crt
  keyFile: /etc/portal/tls/tls.key
  deadline: 2s
  failurePolicy: Fail
  excludedNamespaces:  # from portal.yaml:4
    - kube-system
    - portal
  maxRequestBytes: 3145728
  connections:
    max: 1024
    handshakeTimeout: 5s
    headerTimeout: 5s
    bodyTimeout: 5s
    idleTimeout: 1m30s
  webhookConfiguration:
    manage: false
    name: portal
  certificates:
    renew: false
    namespace: portal-system
    secret: portal-webhook-tls
    service: portal-webhook
    dnsNames: []
    ips: []
    checkInterval: 1h
    validity: 8760h
    renewBefore: 720h
  shutdownGracePeriod: 10s
health:
  listen: \"[::]:9090\"  # from PORTAL_HEALTH_LISTEN
audit:
  enabled: false
  workers: 2
  reportApi: wgpolicyk8s.io/v1alpha2
leaderElection:
  namespace: portal-system
  leaseName: portal
  leaseDuration: 15s
  renewDeadline: 10s
  retryPeriod: 2s
network:
  enabled: false
  checks: {}
actions:
  enabled: false
  dryRun: false
  queueSize: 1000
  workers: 4
  types:
    alertmanager: true
    label: true
    annotate: true
    evict: true
    patchNetworkpolicy: true
    revokeSaToken: true
alerting:
  alertmanager:
    urls: []
    caFile: null
    bearerTokenFile: null
    username: null
    passwordFile: null
    timeout: 10s
    queueSize: 10000
";
    assert_eq!(config.to_yaml().unwrap(), expected);
}

#[test]
fn the_reference_shows_real_print_config_output() {
    let file = "# portal.yaml\nrules:\n  folders: [/etc/portal/rules]\n";
    let overrides = Overrides::default().set("--log-format", "logging.format", LogFormat::Json).set(
        "--admission",
        "admission.enabled",
        true,
    );
    let config = load(Some(file), &[("PORTAL_LOGGING_LEVEL", "debug")], &overrides).unwrap();
    let docs = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/configuration.md"))
        .expect("docs/configuration.md");
    let yaml = config.to_yaml().unwrap();
    assert!(docs.contains(&yaml), "docs/configuration.md should show:\n{yaml}");
}

#[test]
fn load_reads_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("portal.yaml");
    std::fs::write(&path, "logging:\n  level: debug\n  formt: json\n").unwrap();
    let message = Config::load(Some(&path), Vec::new(), &Overrides::default()).unwrap_err().to_string();
    assert_eq!(
        message,
        format!("{}:3: setting `logging.formt`: unknown field `formt`, expected `level` or `format`", path.display())
    );
    std::fs::write(&path, "logging:\n  level: debug\n").unwrap();
    let config = Config::load(Some(&path), Vec::new(), &Overrides::default()).unwrap();
    assert_eq!(config.logging.level, "debug");

    let missing = dir.path().join("missing.yaml");
    let error = Config::load(Some(&missing), Vec::new(), &Overrides::default()).unwrap_err();
    assert_eq!(error.to_string(), format!("cannot read configuration file {}", missing.display()));
    assert!(matches!(error, Error::ReadFile { .. }));
    assert!(std::error::Error::source(&error).is_some(), "the I/O error is kept as the source");
}

#[test]
fn names_are_derived_and_consistent() {
    let vars = Config::env_vars();
    let names: Vec<&str> = vars.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        [
            "PORTAL_RULES_CLUSTER_ENABLED",
            "PORTAL_RULES_FOLDERS",
            "PORTAL_RULES_RELOAD_DEBOUNCE",
            "PORTAL_RULES_LIMITS_MAX_ITERATIONS",
            "PORTAL_RULES_LIMITS_MAX_ESTIMATED_COST",
            "PORTAL_KUBERNETES_KUBECONFIG",
            "PORTAL_KUBERNETES_CONTEXT",
            "PORTAL_LOGGING_LEVEL",
            "PORTAL_LOGGING_FORMAT",
            "PORTAL_ADMISSION_ENABLED",
            "PORTAL_ADMISSION_LISTEN",
            "PORTAL_ADMISSION_CERT_FILE",
            "PORTAL_ADMISSION_KEY_FILE",
            "PORTAL_ADMISSION_DEADLINE",
            "PORTAL_ADMISSION_FAILURE_POLICY",
            "PORTAL_ADMISSION_EXCLUDED_NAMESPACES",
            "PORTAL_ADMISSION_MAX_REQUEST_BYTES",
            "PORTAL_ADMISSION_CONNECTIONS_MAX",
            "PORTAL_ADMISSION_CONNECTIONS_HANDSHAKE_TIMEOUT",
            "PORTAL_ADMISSION_CONNECTIONS_HEADER_TIMEOUT",
            "PORTAL_ADMISSION_CONNECTIONS_BODY_TIMEOUT",
            "PORTAL_ADMISSION_CONNECTIONS_IDLE_TIMEOUT",
            "PORTAL_ADMISSION_WEBHOOK_CONFIGURATION_MANAGE",
            "PORTAL_ADMISSION_WEBHOOK_CONFIGURATION_NAME",
            "PORTAL_ADMISSION_CERTIFICATES_RENEW",
            "PORTAL_ADMISSION_CERTIFICATES_NAMESPACE",
            "PORTAL_ADMISSION_CERTIFICATES_SECRET",
            "PORTAL_ADMISSION_CERTIFICATES_SERVICE",
            "PORTAL_ADMISSION_CERTIFICATES_DNS_NAMES",
            "PORTAL_ADMISSION_CERTIFICATES_IPS",
            "PORTAL_ADMISSION_CERTIFICATES_CHECK_INTERVAL",
            "PORTAL_ADMISSION_CERTIFICATES_VALIDITY",
            "PORTAL_ADMISSION_CERTIFICATES_RENEW_BEFORE",
            "PORTAL_ADMISSION_SHUTDOWN_GRACE_PERIOD",
            "PORTAL_HEALTH_LISTEN",
            "PORTAL_AUDIT_ENABLED",
            "PORTAL_AUDIT_WORKERS",
            "PORTAL_AUDIT_REPORT_API",
            "PORTAL_LEADER_ELECTION_NAMESPACE",
            "PORTAL_LEADER_ELECTION_LEASE_NAME",
            "PORTAL_LEADER_ELECTION_LEASE_DURATION",
            "PORTAL_LEADER_ELECTION_RENEW_DEADLINE",
            "PORTAL_LEADER_ELECTION_RETRY_PERIOD",
            "PORTAL_NETWORK_ENABLED",
            "PORTAL_ACTIONS_ENABLED",
            "PORTAL_ACTIONS_DRY_RUN",
            "PORTAL_ACTIONS_QUEUE_SIZE",
            "PORTAL_ACTIONS_WORKERS",
            "PORTAL_ACTIONS_TYPES_ALERTMANAGER",
            "PORTAL_ACTIONS_TYPES_LABEL",
            "PORTAL_ACTIONS_TYPES_ANNOTATE",
            "PORTAL_ACTIONS_TYPES_EVICT",
            "PORTAL_ACTIONS_TYPES_PATCH_NETWORKPOLICY",
            "PORTAL_ACTIONS_TYPES_REVOKE_SA_TOKEN",
            "PORTAL_ALERTING_ALERTMANAGER_URLS",
            "PORTAL_ALERTING_ALERTMANAGER_CA_FILE",
            "PORTAL_ALERTING_ALERTMANAGER_BEARER_TOKEN_FILE",
            "PORTAL_ALERTING_ALERTMANAGER_USERNAME",
            "PORTAL_ALERTING_ALERTMANAGER_PASSWORD_FILE",
            "PORTAL_ALERTING_ALERTMANAGER_TIMEOUT",
            "PORTAL_ALERTING_ALERTMANAGER_QUEUE_SIZE",
        ]
    );
    let paths: Vec<&str> = vars.iter().map(|(_, path)| path.as_str()).collect();
    assert!(paths.contains(&"admission.certFile") && paths.contains(&"admission.maxRequestBytes"), "{paths:?}");
    let mut unique = names.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), names.len(), "two settings share an environment variable");
    for other in crate::OTHER_ENV_VARS {
        assert!(!names.contains(other), "{other} is a setting's variable");
    }
}

#[test]
fn the_reference_documents_every_setting() {
    let docs = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/configuration.md"))
        .expect("docs/configuration.md");
    for (name, path) in Config::env_vars() {
        assert!(docs.contains(&format!("`{name}`")), "docs/configuration.md does not mention {name}");
        assert!(docs.contains(&format!("`{path}`")), "docs/configuration.md does not mention {path}");
    }
    for other in crate::OTHER_ENV_VARS {
        assert!(docs.contains(other), "docs/configuration.md does not mention {other}");
    }
}

#[test]
fn alerting_settings_are_checked() {
    let bearer =
        load(None, &[("PORTAL_ALERTING_ALERTMANAGER_BEARER_TOKEN_FILE", "/token")], &Overrides::default()).unwrap();
    assert_eq!(bearer.alerting.alertmanager.bearer_token_file, Some(PathBuf::from("/token")));
    for (file, expected) in [
        (
            "alerting:\n  alertmanager:\n    urls: [alertmanager:9093]\n",
            "portal.yaml:3: setting `alerting.alertmanager.urls`: \"alertmanager:9093\" is not an Alertmanager URL: \
             expected http://HOST:PORT or https://HOST:PORT",
        ),
        (
            "alerting:\n  alertmanager:\n    bearerTokenFile: /t\n    username: u\n    passwordFile: /p\n",
            "portal.yaml:3: setting `alerting.alertmanager.bearerTokenFile`: set either bearerTokenFile or username \
             and passwordFile, not both",
        ),
        (
            "alerting:\n  alertmanager:\n    username: u\n",
            "portal.yaml:3: setting `alerting.alertmanager.username`: basic authentication needs both username and \
             passwordFile",
        ),
        (
            "actions:\n  workers: 0\n",
            "portal.yaml:2: setting `actions.workers`: 0 would never run an action: expected at least 1",
        ),
        (
            "actions:\n  types:\n    evicts: false\n",
            "portal.yaml:3: setting `actions.types.evicts`: unknown field `evicts`, expected one of `alertmanager`, \
             `label`, `annotate`, `evict`, `patchNetworkpolicy`, `revokeSaToken`",
        ),
    ] {
        assert_eq!(error(Some(file), &[], &Overrides::default()), expected, "{file}");
    }
}
