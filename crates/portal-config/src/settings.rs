//! The settings themselves: one struct per section of the file, with their defaults.
//!
//! Every struct is `#[serde(default, deny_unknown_fields)]`: a missing setting takes its
//! default and a misspelt one is an error. Every struct is `#[non_exhaustive]` so that new
//! settings and sections (admission, audit, network, sinks, actions) can be added without
//! breaking code that reads these.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{Duration, Error, Result, Source};

/// The whole configuration (SPEC §9). Build it with [`Config::load`]; print it with
/// [`Config::to_yaml`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
#[non_exhaustive]
pub struct Config {
    /// Where rules come from.
    pub rules: RulesConfig,
    /// How to reach the Kubernetes API server.
    pub kubernetes: KubernetesConfig,
    /// Portal's own logs.
    pub logging: LoggingConfig,
    /// The validating admission webhook (SPEC §4).
    pub admission: AdmissionConfig,
    /// The plain-HTTP health and metrics endpoints.
    pub health: HealthConfig,
    /// The audit of the cluster's objects, with PolicyReports (SPEC §5).
    pub audit: AuditConfig,
    /// How replicas elect the one that writes (the audit's reports, the managed webhook
    /// configuration).
    pub leader_election: LeaderElectionConfig,
    /// NetworkPolicy analysis, with its findings in the audit's reports (SPEC §6).
    pub network: NetworkConfig,
    /// Response actions on violations (SPEC §8).
    pub actions: crate::ActionsConfig,
    /// Where alerts go (SPEC §7).
    pub alerting: crate::AlertingConfig,
    /// Where each value came from; filled by [`Config::load`].
    #[serde(skip)]
    pub(crate) provenance: Provenance,
}

/// `rules:` — where rules come from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct RulesConfig {
    /// `rules.cluster`: rules stored in the cluster as PortalClusterRule / PortalRule resources.
    pub cluster: ClusterRulesConfig,
    /// `rules.folders`: rule files or directories on disk, hot-reloaded. Default: none.
    ///
    /// Relative paths in the configuration file are relative to the file's directory; from the
    /// environment or a flag, to the working directory.
    pub folders: Vec<PathBuf>,
    /// `rules.reload`: how folder changes are picked up.
    pub reload: ReloadConfig,
    /// `rules.limits`: what evaluating a rule may do.
    pub limits: RuleLimitsConfig,
}

/// `rules.limits:` — bounds on every evaluation of every rule: rules are untrusted (a namespaced
/// `PortalRule` runs in the shared webhook).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
#[non_exhaustive]
pub struct RuleLimitsConfig {
    /// `rules.limits.maxIterations`: how many elements one evaluation's comprehensions (and
    /// `lists.range`) may visit or create before it is stopped with an error. Default
    /// 10,000,000; at least 1.
    pub max_iterations: u64,
    /// `rules.limits.maxEstimatedCost`: the largest worst-case cost, estimated at load on an
    /// object of 3 MiB, that a rule's `rule` or `messageExpression` may have; a rule over it is
    /// rejected. Default 10,000,000,000; at least 1.
    pub max_estimated_cost: u64,
}

impl RuleLimitsConfig {
    /// The default of `maxIterations`, the same as the rule engine's own.
    pub const DEFAULT_MAX_ITERATIONS: u64 = 10_000_000;
    /// The default of `maxEstimatedCost`, the same as the rule engine's own.
    pub const DEFAULT_MAX_ESTIMATED_COST: u64 = 10_000_000_000;
}

impl Default for RuleLimitsConfig {
    fn default() -> Self {
        RuleLimitsConfig {
            max_iterations: RuleLimitsConfig::DEFAULT_MAX_ITERATIONS,
            max_estimated_cost: RuleLimitsConfig::DEFAULT_MAX_ESTIMATED_COST,
        }
    }
}

/// `rules.cluster:` — rules watched in the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct ClusterRulesConfig {
    /// `rules.cluster.enabled`: watch PortalClusterRule / PortalRule resources. Default: `true`.
    pub enabled: bool,
}

impl Default for ClusterRulesConfig {
    fn default() -> Self {
        ClusterRulesConfig { enabled: true }
    }
}

/// `rules.reload:` — hot reload of [`RulesConfig::folders`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct ReloadConfig {
    /// `rules.reload.debounce`: how long the folders must be quiet after a change before rules
    /// are reloaded, so an editor's or `kubectl cp`'s burst of writes is one reload. Default
    /// `200ms`; at most [`ReloadConfig::MAX_DEBOUNCE`].
    pub debounce: Duration,
}

impl ReloadConfig {
    /// The default debounce: 200ms.
    pub const DEFAULT_DEBOUNCE: Duration = match Duration::from_millis(200) {
        Some(duration) => duration,
        None => unreachable!(),
    };

    /// The longest debounce allowed: 1h. Longer is surely a mistake (rules would seem not to
    /// reload at all).
    pub const MAX_DEBOUNCE: Duration = match Duration::from_millis(3_600_000) {
        Some(duration) => duration,
        None => unreachable!(),
    };
}

impl Default for ReloadConfig {
    fn default() -> Self {
        ReloadConfig { debounce: ReloadConfig::DEFAULT_DEBOUNCE }
    }
}

/// `kubernetes:` — the connection to the API server.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct KubernetesConfig {
    /// `kubernetes.kubeconfig`: a kubeconfig file. Default (`null`): the in-cluster
    /// configuration when running in a pod, else `$KUBECONFIG` or `~/.kube/config`.
    /// Relative paths in the configuration file are relative to the file's directory.
    pub kubeconfig: Option<PathBuf>,
    /// `kubernetes.context`: the kubeconfig context to use. Default (`null`): its current
    /// context.
    pub context: Option<String>,
}

/// `logging:` — Portal's own logs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct LoggingConfig {
    /// `logging.level`: a `tracing` filter: a level (`error`, `warn`, `info`, `debug`, `trace`,
    /// `off`), or comma-separated directives `TARGET=LEVEL` with an optional default level,
    /// e.g. `info,portal_kube=debug`. Default: `info`.
    pub level: String,
    /// `logging.format`: see [`LogFormat`]. Default: `auto`.
    pub format: LogFormat,
}

impl Default for LoggingConfig {
    fn default() -> Self {
        LoggingConfig { level: "info".to_owned(), format: LogFormat::default() }
    }
}

/// `logging.format`: how log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// JSON when standard error, where logs go, is not a terminal (in a pod); text when it is.
    #[default]
    Auto,
    /// One JSON object per line.
    Json,
    /// Human-readable lines.
    Text,
}

impl LogFormat {
    /// Every format, as written in the configuration.
    pub const NAMES: &'static [&'static str] = &["auto", "json", "text"];

    /// Whether to write JSON, given whether standard output is a terminal.
    pub fn is_json(self, stdout_is_terminal: bool) -> bool {
        match self {
            LogFormat::Auto => !stdout_is_terminal,
            LogFormat::Json => true,
            LogFormat::Text => false,
        }
    }
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LogFormat::Auto => "auto",
            LogFormat::Json => "json",
            LogFormat::Text => "text",
        })
    }
}

impl FromStr for LogFormat {
    type Err = Error;

    /// For flags; the file and the environment go through serde, which says the same.
    fn from_str(text: &str) -> Result<LogFormat> {
        match text {
            "auto" => Ok(LogFormat::Auto),
            "json" => Ok(LogFormat::Json),
            "text" => Ok(LogFormat::Text),
            _ => Err(Error::InvalidValue { value: text.to_owned(), expected: "one of auto, json, text" }),
        }
    }
}

/// `admission:` — the validating admission webhook (SPEC §4). Multi-word settings are written in
/// camelCase (`certFile`), as in Kubernetes; their environment variables split the words
/// (`PORTAL_ADMISSION_CERT_FILE`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
#[non_exhaustive]
pub struct AdmissionConfig {
    /// `admission.enabled`: serve the validating admission webhook. Default: `false`.
    pub enabled: bool,
    /// `admission.listen`: the HTTPS address to serve it on, an IP address and a port.
    /// Default: [`AdmissionConfig::DEFAULT_LISTEN`], `0.0.0.0:8443`.
    #[serde(with = "socket_addr")]
    pub listen: SocketAddr,
    /// `admission.certFile`: the serving certificate (PEM), re-read when it changes. Default:
    /// [`AdmissionConfig::DEFAULT_CERT_FILE`]. Relative paths in the configuration file are
    /// relative to the file's directory; from the environment or a flag, to the working
    /// directory.
    pub cert_file: PathBuf,
    /// `admission.keyFile`: the certificate's private key (PEM), re-read when it changes.
    /// Default: [`AdmissionConfig::DEFAULT_KEY_FILE`]. Relative paths as for
    /// [`AdmissionConfig::cert_file`].
    pub key_file: PathBuf,
    /// `admission.deadline`: how long Portal takes at most to answer a review; past it, the
    /// answer follows [`AdmissionConfig::failure_policy`]. It must be shorter than the
    /// webhook's `timeoutSeconds` (3s), so Portal answers before the API server gives up.
    /// Default `2s`; at most [`AdmissionConfig::MAX_DEADLINE`].
    pub deadline: Duration,
    /// `admission.failurePolicy`: what Portal answers when it cannot evaluate a request within
    /// the deadline or the request is malformed. Default: `Fail`.
    pub failure_policy: AdmissionFailurePolicy,
    /// `admission.excludedNamespaces`: namespaces whose requests are admitted without
    /// evaluation, beside the webhook's `namespaceSelector` (defence in depth). Default:
    /// [`AdmissionConfig::DEFAULT_EXCLUDED_NAMESPACES`].
    pub excluded_namespaces: Vec<String>,
    /// `admission.maxRequestBytes`: the largest request body accepted, in bytes. Default
    /// [`AdmissionConfig::DEFAULT_MAX_REQUEST_BYTES`] (3 MiB); within
    /// [`AdmissionConfig::MAX_REQUEST_BYTES_RANGE`].
    pub max_request_bytes: u64,
    /// `admission.connections`: limits that keep slow or idle clients from holding the port.
    pub connections: ConnectionLimits,
    /// `admission.webhookConfiguration`: whether the leader keeps the live configuration's
    /// rules in step with the rule set.
    pub webhook_configuration: WebhookConfigurationConfig,
    /// `admission.certificates`: renewing the serving certificate from within `portal run`.
    pub certificates: CertificatesConfig,
    /// `admission.shutdownGracePeriod`: on SIGTERM, how long the reviews in progress have to be
    /// answered after the port stops accepting connections (and `/readyz` fails). Keep the
    /// Pod's `terminationGracePeriodSeconds` above it. Default `10s`.
    pub shutdown_grace_period: Duration,
}

/// `admission.webhookConfiguration:` — the live ValidatingWebhookConfiguration, kept in step
/// with the admission rules by the leader when `manage` is on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
#[non_exhaustive]
pub struct WebhookConfigurationConfig {
    /// `admission.webhookConfiguration.manage`: the leader rewrites the `rules` of Portal's
    /// webhooks in the configuration when the admission rules change (nothing else of it; it is
    /// never created or deleted). Default: `false`.
    pub manage: bool,
    /// `admission.webhookConfiguration.name`: the configuration's name. Default: `portal`.
    pub name: String,
}

impl Default for WebhookConfigurationConfig {
    fn default() -> Self {
        WebhookConfigurationConfig { manage: false, name: "portal".to_owned() }
    }
}

/// `audit:` — every object an audit rule matches, watched and evaluated, with its results in a
/// PolicyReport of its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
#[non_exhaustive]
pub struct AuditConfig {
    /// `audit.enabled`: watch the kinds audit rules match and write PolicyReports. Default:
    /// `false`.
    pub enabled: bool,
    /// `audit.workers`: evaluations that run at once. Default: `2`.
    pub workers: u32,
    /// `audit.reportApi`: the API reports are written in. Default: `wgpolicyk8s.io/v1alpha2`.
    pub report_api: ReportApiVersion,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig { enabled: false, workers: 2, report_api: ReportApiVersion::default() }
    }
}

/// `audit.reportApi`: the report API, by its `apiVersion`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ReportApiVersion {
    /// `PolicyReport` and `ClusterPolicyReport` of the Policy Working Group, which every report
    /// tool reads.
    #[default]
    #[serde(rename = "wgpolicyk8s.io/v1alpha2")]
    PolicyWg,
    /// `Report` and `ClusterReport`, their successor (Kyverno 1.15+, policy-reporter 3).
    #[serde(rename = "openreports.io/v1alpha1")]
    OpenReports,
}

/// `network:` — NetworkPolicy analysis of the live cluster: the `np.*` checks over its Pods,
/// Namespaces and NetworkPolicies, recomputed as they change, with their findings in the
/// audit's reports on the Namespaces and NetworkPolicies concerned.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
#[non_exhaustive]
pub struct NetworkConfig {
    /// `network.enabled`: watch Pods, Namespaces and NetworkPolicies and report the checks'
    /// findings. Needs `audit.enabled` (the audit writes the reports). Default: `false`.
    pub enabled: bool,
    /// `network.checks`: by check name (`np.broad-cidr`, …), whether it runs and the severity of
    /// its findings. Checks not named run with their default severity. Default: none.
    pub checks: BTreeMap<String, NetworkCheckConfig>,
}

/// `network.checks.<name>`: one check's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
#[non_exhaustive]
pub struct NetworkCheckConfig {
    /// Whether the check runs. Default: `true`.
    pub enabled: bool,
    /// The severity of its findings (`info`, `low`, `medium`, `high`, `critical`); default: the
    /// check's own (docs/network.md).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    /// Shorthand for one `alertmanager` action with this alert name, as a rule's `alert`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert: Option<String>,
    /// Response actions on its findings, as a rule's `actions` (docs/actions.md): checked when
    /// `portal run` starts, run when `actions.enabled`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<serde_json::Value>,
}

impl Default for NetworkCheckConfig {
    fn default() -> Self {
        NetworkCheckConfig { enabled: true, severity: None, alert: None, actions: Vec::new() }
    }
}

/// The severities a check may be given.
const SEVERITIES: &[&str] = &["info", "low", "medium", "high", "critical"];

/// `leaderElection:` — the Lease through which replicas elect the one that writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
#[non_exhaustive]
pub struct LeaderElectionConfig {
    /// `leaderElection.namespace`: the Lease's namespace. Default: `portal-system`.
    pub namespace: String,
    /// `leaderElection.leaseName`: the Lease's name. Default: `portal`.
    pub lease_name: String,
    /// `leaderElection.leaseDuration`: how long the Lease stays held without a renewal before
    /// another replica may take it. Default `15s`.
    pub lease_duration: Duration,
    /// `leaderElection.renewDeadline`: how long a leader keeps leading after its last successful
    /// renewal; shorter than the lease duration. Default `10s`.
    pub renew_deadline: Duration,
    /// `leaderElection.retryPeriod`: how often the Lease is tried or renewed; shorter than the
    /// renew deadline. Default `2s`.
    pub retry_period: Duration,
}

impl LeaderElectionConfig {
    const fn seconds(seconds: u64) -> Duration {
        match Duration::from_millis(seconds * 1000) {
            Some(duration) => duration,
            None => unreachable!(),
        }
    }

    /// The checks of [`Config::validate`] for `leaderElection:`: settings that could let two
    /// replicas lead at once are refused.
    fn validate(&self) -> std::result::Result<(), (&'static str, String)> {
        validate_namespace_name(&self.namespace).map_err(|message| ("leaderElection.namespace", message))?;
        if self.lease_name.is_empty() {
            return Err(("leaderElection.leaseName", "empty: expected the Lease's name".to_owned()));
        }
        if self.renew_deadline >= self.lease_duration {
            return Err((
                "leaderElection.renewDeadline",
                format!(
                    "{} must be shorter than leaderElection.leaseDuration ({}), or two replicas could both lead",
                    self.renew_deadline, self.lease_duration
                ),
            ));
        }
        if self.retry_period >= self.renew_deadline {
            return Err((
                "leaderElection.retryPeriod",
                format!(
                    "{} must be shorter than leaderElection.renewDeadline ({})",
                    self.retry_period, self.renew_deadline
                ),
            ));
        }
        Ok(())
    }
}

impl Default for LeaderElectionConfig {
    fn default() -> Self {
        LeaderElectionConfig {
            namespace: "portal-system".to_owned(),
            lease_name: "portal".to_owned(),
            lease_duration: LeaderElectionConfig::seconds(15),
            renew_deadline: LeaderElectionConfig::seconds(10),
            retry_period: LeaderElectionConfig::seconds(2),
        }
    }
}

/// `admission.connections:` — how long a client may take, and how many may be connected, so
/// that slow or idle clients cannot hold the webhook's port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
#[non_exhaustive]
pub struct ConnectionLimits {
    /// `admission.connections.max`: connections open at once; more are closed as they arrive.
    /// Default 1024; from 1 to 65536.
    pub max: u32,
    /// `admission.connections.handshakeTimeout`: the longest a TLS handshake may take. Default `5s`.
    pub handshake_timeout: Duration,
    /// `admission.connections.headerTimeout`: the longest a client may take to send a
    /// request's headers (HTTP/1.1). Default `5s`.
    pub header_timeout: Duration,
    /// `admission.connections.bodyTimeout`: the longest a client may take to send a request's
    /// body. Default `5s`.
    pub body_timeout: Duration,
    /// `admission.connections.idleTimeout`: a connection that carries nothing for this long is
    /// closed (the API server opens a new one when it needs it). Default `90s`.
    pub idle_timeout: Duration,
}

impl ConnectionLimits {
    /// The default cap on open connections.
    pub const DEFAULT_MAX: u32 = 1024;
    /// The caps allowed.
    pub const MAX_RANGE: RangeInclusive<u32> = 1..=65536;
    /// The default handshake, header and body timeouts: 5s.
    pub const DEFAULT_TIMEOUT: Duration = match Duration::from_millis(5_000) {
        Some(duration) => duration,
        None => unreachable!(),
    };
    /// The default idle timeout: 90s.
    pub const DEFAULT_IDLE_TIMEOUT: Duration = match Duration::from_millis(90_000) {
        Some(duration) => duration,
        None => unreachable!(),
    };
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            max: ConnectionLimits::DEFAULT_MAX,
            handshake_timeout: ConnectionLimits::DEFAULT_TIMEOUT,
            header_timeout: ConnectionLimits::DEFAULT_TIMEOUT,
            body_timeout: ConnectionLimits::DEFAULT_TIMEOUT,
            idle_timeout: ConnectionLimits::DEFAULT_IDLE_TIMEOUT,
        }
    }
}

impl AdmissionConfig {
    /// The default HTTPS address: `0.0.0.0:8443`.
    pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 8443));

    /// The default serving certificate: `/etc/portal/tls/tls.crt`, where a mounted
    /// `kubernetes.io/tls` Secret puts it.
    pub const DEFAULT_CERT_FILE: &'static str = "/etc/portal/tls/tls.crt";

    /// The default private key: `/etc/portal/tls/tls.key`.
    pub const DEFAULT_KEY_FILE: &'static str = "/etc/portal/tls/tls.key";

    /// The default deadline: 2s.
    pub const DEFAULT_DEADLINE: Duration = match Duration::from_millis(2_000) {
        Some(duration) => duration,
        None => unreachable!(),
    };

    /// The default `admission.shutdownGracePeriod`: 10s.
    pub const DEFAULT_SHUTDOWN_GRACE_PERIOD: Duration = match Duration::from_millis(10_000) {
        Some(duration) => duration,
        None => unreachable!(),
    };

    /// The longest deadline allowed: 2.9s, under the webhook's `timeoutSeconds: 3` so that
    /// Portal's answer (following the failure policy) reaches the API server before it gives up.
    pub const MAX_DEADLINE: Duration = match Duration::from_millis(2_900) {
        Some(duration) => duration,
        None => unreachable!(),
    };

    /// The namespaces excluded by default: the control plane's own.
    pub const DEFAULT_EXCLUDED_NAMESPACES: &'static [&'static str] = &["kube-system", "kube-public", "kube-node-lease"];

    /// The default request body limit: 3 MiB. An object is at most about 1.5 MiB (etcd's
    /// default request limit) and the review of an update carries two versions of it, so
    /// reviews of objects near that limit need more.
    pub const DEFAULT_MAX_REQUEST_BYTES: u64 = 3 * 1024 * 1024;

    /// The request body limits allowed: 1 KiB to 64 MiB.
    pub const MAX_REQUEST_BYTES_RANGE: RangeInclusive<u64> = 1024..=64 * 1024 * 1024;
}

impl Default for AdmissionConfig {
    fn default() -> Self {
        AdmissionConfig {
            enabled: false,
            listen: AdmissionConfig::DEFAULT_LISTEN,
            cert_file: PathBuf::from(AdmissionConfig::DEFAULT_CERT_FILE),
            key_file: PathBuf::from(AdmissionConfig::DEFAULT_KEY_FILE),
            deadline: AdmissionConfig::DEFAULT_DEADLINE,
            failure_policy: AdmissionFailurePolicy::default(),
            excluded_namespaces: AdmissionConfig::DEFAULT_EXCLUDED_NAMESPACES
                .iter()
                .map(|namespace| (*namespace).to_owned())
                .collect(),
            max_request_bytes: AdmissionConfig::DEFAULT_MAX_REQUEST_BYTES,
            connections: ConnectionLimits::default(),
            webhook_configuration: WebhookConfigurationConfig::default(),
            certificates: CertificatesConfig::default(),
            shutdown_grace_period: AdmissionConfig::DEFAULT_SHUTDOWN_GRACE_PERIOD,
        }
    }
}

/// `admission.certificates:` — `portal init-certs`' work, repeated by `portal run` so the
/// serving certificate is renewed without a restart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
#[non_exhaustive]
pub struct CertificatesConfig {
    /// `admission.certificates.renew`: every `checkInterval`, make sure the Secret holds a
    /// certificate that is not due (renewing it and the webhook configuration's `caBundle` as
    /// `portal init-certs` does) and write it to `admission.certFile`/`keyFile`, which must be
    /// `tls.crt` and `tls.key` in a writable directory. Default: `false`.
    pub renew: bool,
    /// `admission.certificates.namespace`: the Secret's and the Service's namespace. Default
    /// `portal-system`.
    pub namespace: String,
    /// `admission.certificates.secret`: the Secret. Default `portal-webhook-tls`.
    pub secret: String,
    /// `admission.certificates.service`: the webhook's Service, whose names the certificate
    /// carries. Default `portal-webhook`.
    pub service: String,
    /// `admission.certificates.dnsNames`: more DNS names for the certificate, as `portal
    /// init-certs --dns` gives them (keep the two the same, or each reissues the other's
    /// certificate). Default: none.
    pub dns_names: Vec<String>,
    /// `admission.certificates.ips`: IP addresses for the certificate, as `portal init-certs
    /// --ip` gives them. Default: none.
    pub ips: Vec<std::net::IpAddr>,
    /// `admission.certificates.checkInterval`: how often. Default `1h`.
    pub check_interval: Duration,
    /// `admission.certificates.validity`: how long new certificates are valid. Default `8760h`.
    pub validity: Duration,
    /// `admission.certificates.renewBefore`: how long before expiry a certificate is renewed.
    /// Default `720h`.
    pub renew_before: Duration,
}

impl Default for CertificatesConfig {
    fn default() -> Self {
        let hours = |hours: u64| match Duration::from_millis(hours * 3_600_000) {
            Some(duration) => duration,
            None => unreachable!(),
        };
        CertificatesConfig {
            renew: false,
            namespace: "portal-system".to_owned(),
            secret: "portal-webhook-tls".to_owned(),
            service: "portal-webhook".to_owned(),
            dns_names: Vec::new(),
            ips: Vec::new(),
            check_interval: hours(1),
            validity: hours(8760),
            renew_before: hours(720),
        }
    }
}

/// `admission.failurePolicy`: Portal's answer when it cannot evaluate a request in time or the
/// request is malformed. Written as in a `ValidatingWebhookConfiguration`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AdmissionFailurePolicy {
    /// Deny the request, saying why (fail closed).
    #[default]
    Fail,
    /// Admit the request, saying why (fail open).
    Ignore,
}

impl AdmissionFailurePolicy {
    /// Every policy, as written in the configuration.
    pub const NAMES: &'static [&'static str] = &["Fail", "Ignore"];
}

impl fmt::Display for AdmissionFailurePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AdmissionFailurePolicy::Fail => "Fail",
            AdmissionFailurePolicy::Ignore => "Ignore",
        })
    }
}

impl FromStr for AdmissionFailurePolicy {
    type Err = Error;

    /// For flags; the file and the environment go through serde, which says the same.
    fn from_str(text: &str) -> Result<AdmissionFailurePolicy> {
        match text {
            "Fail" => Ok(AdmissionFailurePolicy::Fail),
            "Ignore" => Ok(AdmissionFailurePolicy::Ignore),
            _ => Err(Error::InvalidValue { value: text.to_owned(), expected: "one of Fail, Ignore" }),
        }
    }
}

/// `health:` — the plain-HTTP endpoints `/healthz`, `/readyz` and `/metrics`, served whatever
/// else is enabled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
#[non_exhaustive]
pub struct HealthConfig {
    /// `health.listen`: the plain-HTTP address, an IP address and a port. Default:
    /// [`HealthConfig::DEFAULT_LISTEN`], `0.0.0.0:9090`.
    #[serde(with = "socket_addr")]
    pub listen: SocketAddr,
}

impl HealthConfig {
    /// The default address: `0.0.0.0:9090`.
    pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 9090));
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig { listen: HealthConfig::DEFAULT_LISTEN }
    }
}

/// A [`SocketAddr`] written as text (`0.0.0.0:8443`, `[::]:8443`) in every format, with an
/// error that says what an address looks like.
mod socket_addr {
    use std::fmt;
    use std::net::SocketAddr;

    use serde::{Deserializer, Serializer, de};

    /// What an address may look like; used in every address error message.
    pub(super) const EXPECTED: &str = "an IP address and a port, e.g. 0.0.0.0:8443, 127.0.0.1:8443 or [::]:8443";

    pub(super) fn serialize<S: Serializer>(address: &SocketAddr, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(address)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<SocketAddr, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = SocketAddr;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(EXPECTED)
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<SocketAddr, E> {
                text.trim().parse().map_err(|_| E::invalid_value(de::Unexpected::Str(text), &self))
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

/// The levels a `tracing` filter accepts, lower-case.
const LEVELS: &[&str] = &["off", "error", "warn", "info", "debug", "trace"];

const LEVEL_EXPECTED: &str = "expected a level (error, warn, info, debug, trace or off) or comma-separated \
    TARGET=LEVEL directives with an optional default level, e.g. info,portal_kube=debug";

impl Config {
    /// Checks what types alone cannot: ranges, names and the log filter's syntax. Returns the path of
    /// the offending setting and what is wrong with it.
    pub(crate) fn validate(&self) -> std::result::Result<(), (&'static str, String)> {
        if self.rules.reload.debounce > ReloadConfig::MAX_DEBOUNCE {
            return Err((
                "rules.reload.debounce",
                format!("{} is too long: expected at most {}", self.rules.reload.debounce, ReloadConfig::MAX_DEBOUNCE),
            ));
        }
        if self.rules.limits.max_iterations == 0 {
            return Err((
                "rules.limits.maxIterations",
                "0 would stop every rule that has a comprehension: expected at least 1".to_owned(),
            ));
        }
        if self.rules.limits.max_estimated_cost == 0 {
            return Err(("rules.limits.maxEstimatedCost", "0 would reject every rule: expected at least 1".to_owned()));
        }
        validate_log_filter(&self.logging.level).map_err(|message| ("logging.level", message))?;
        self.admission.validate()?;
        self.leader_election.validate()?;
        self.actions.validate()?;
        self.alerting.alertmanager.validate()?;
        if self.audit.workers == 0 {
            return Err(("audit.workers", "0 would never evaluate anything: expected at least 1".to_owned()));
        }
        if self.network.enabled && !self.audit.enabled {
            return Err((
                "network.enabled",
                "network findings are written by the audit: set audit.enabled: true as well".to_owned(),
            ));
        }
        Ok(())
    }

    /// The checks of settings whose path is not fixed (keys of a map): the path of the
    /// offending setting and what is wrong with it.
    pub(crate) fn validate_keyed(&self) -> std::result::Result<(), (String, String)> {
        for (check, settings) in &self.network.checks {
            if let Some(severity) = settings.severity.as_deref().filter(|severity| !SEVERITIES.contains(severity)) {
                return Err((
                    format!("network.checks.{check}.severity"),
                    format!("{severity:?} is not a severity: expected one of {}", SEVERITIES.join(", ")),
                ));
            }
        }
        Ok(())
    }

    /// Where the value of the setting at `path` (e.g. `logging.level`, `rules.folders`) came
    /// from. [`Source::Default`] for settings nothing set, and for paths that are not settings.
    ///
    /// Use it when a later stage rejects a value this crate accepted (e.g. a log filter that
    /// `tracing` refuses), so the user still learns where the value was set.
    pub fn source(&self, path: &str) -> &Source {
        static DEFAULT: Source = Source::Default;
        self.provenance.0.get(path).unwrap_or(&DEFAULT)
    }
}

impl AdmissionConfig {
    /// The checks of [`Config::validate`] for `admission:`.
    fn validate(&self) -> std::result::Result<(), (&'static str, String)> {
        if self.deadline > AdmissionConfig::MAX_DEADLINE {
            return Err((
                "admission.deadline",
                format!(
                    "{} is too long: expected at most {}, under the webhook's timeoutSeconds (3s)",
                    self.deadline,
                    AdmissionConfig::MAX_DEADLINE
                ),
            ));
        }
        let range = AdmissionConfig::MAX_REQUEST_BYTES_RANGE;
        if self.max_request_bytes < *range.start() {
            return Err((
                "admission.maxRequestBytes",
                format!("{} is too small: expected at least {} (1 KiB)", self.max_request_bytes, range.start()),
            ));
        }
        if self.max_request_bytes > *range.end() {
            return Err((
                "admission.maxRequestBytes",
                format!("{} is too large: expected at most {} (64 MiB)", self.max_request_bytes, range.end()),
            ));
        }
        if self.certificates.renew {
            let named = |path: &std::path::Path, name: &str| path.file_name().is_some_and(|file| file == name);
            if !named(&self.cert_file, "tls.crt")
                || !named(&self.key_file, "tls.key")
                || self.cert_file.parent() != self.key_file.parent()
            {
                return Err((
                    "admission.certificates.renew",
                    "renewal writes tls.crt and tls.key into one directory: set admission.certFile and \
                     admission.keyFile to DIR/tls.crt and DIR/tls.key"
                        .to_owned(),
                ));
            }
        }
        let limits = &self.connections;
        if !ConnectionLimits::MAX_RANGE.contains(&limits.max) {
            return Err(("admission.connections.max", format!("{} is out of range: expected 1 to 65536", limits.max)));
        }
        for (path, timeout) in [
            ("admission.connections.handshakeTimeout", limits.handshake_timeout),
            ("admission.connections.headerTimeout", limits.header_timeout),
            ("admission.connections.bodyTimeout", limits.body_timeout),
            ("admission.connections.idleTimeout", limits.idle_timeout),
        ] {
            if timeout.as_std().is_zero() {
                return Err((
                    path,
                    "0s would close every connection: expected a duration greater than zero".to_owned(),
                ));
            }
        }
        for (path, file) in [("admission.certFile", &self.cert_file), ("admission.keyFile", &self.key_file)] {
            if file.as_os_str().is_empty() {
                return Err((path, "empty: expected the path of a PEM file".to_owned()));
            }
        }
        for namespace in &self.excluded_namespaces {
            validate_namespace_name(namespace).map_err(|message| ("admission.excludedNamespaces", message))?;
        }
        if self.webhook_configuration.name.is_empty() {
            return Err((
                "admission.webhookConfiguration.name",
                "empty: expected the ValidatingWebhookConfiguration's name".to_owned(),
            ));
        }
        Ok(())
    }
}

/// Checks that `name` can be a namespace's name (an RFC 1123 label), so that a misspelt
/// exclusion (`kube_system`) is reported instead of silently excluding nothing.
fn validate_namespace_name(name: &str) -> std::result::Result<(), String> {
    let valid = !name.is_empty()
        && name.len() <= 63
        && name.bytes().all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a namespace name: expected at most 63 lower-case letters, digits and `-`, starting \
             and ending with a letter or digit"
        ))
    }
}

/// A light check of a `tracing_subscriber::EnvFilter` directive list, so that typos are reported
/// with the setting's source when the configuration is loaded, not when logging starts.
///
/// Stricter than `tracing` in one way, on purpose: a bare word that is not a level (`verbose`,
/// `inf`) is rejected, where `tracing` would read it as a target to log at `trace`, which
/// silently hides everything else.
fn validate_log_filter(filter: &str) -> std::result::Result<(), String> {
    if filter.trim().is_empty() {
        return Err(format!("empty: {LEVEL_EXPECTED}"));
    }
    for directive in filter.split(',').map(str::trim).filter(|directive| !directive.is_empty()) {
        let level = match directive.rsplit_once('=') {
            // `target[span{field=value}]` has no level after its last `=`.
            Some((target, level)) if !level.contains([']', '}']) => {
                if target.trim().is_empty() {
                    return Err(format!("directive {directive:?} has no target before `=`: {LEVEL_EXPECTED}"));
                }
                level
            }
            Some(_) => continue,
            None if directive.contains(['[', ':']) => continue,
            None => directive,
        };
        if !LEVELS.contains(&level.trim().to_ascii_lowercase().as_str()) {
            return Err(format!("{level:?} in {filter:?} is not a level: {LEVEL_EXPECTED}"));
        }
    }
    Ok(())
}

/// The source of every setting that something other than the defaults set, by path
/// (`logging.level`, `rules.folders`, `rules.folders[0]`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Provenance(pub(crate) BTreeMap<String, Source>);

// Two configurations are equal when their settings are: where a value came from is not part of
// it (a printed configuration read back is the same configuration).
impl PartialEq for Provenance {
    fn eq(&self, _: &Provenance) -> bool {
        true
    }
}

impl Eq for Provenance {}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn log_filters() {
        for good in [
            "info",
            "INFO",
            "off",
            "info,portal_kube=debug",
            "portal_kube=trace",
            "warn, portal_kube::watch=debug",
            "info,portal_kube[reconcile{name=x}]=debug",
            "portal_kube[reconcile]",
            "portal_kube::watch",
            "info,",
        ] {
            assert_eq!(validate_log_filter(good), Ok(()), "{good}");
        }
        for (bad, wrong) in [
            ("", "empty"),
            (" ", "empty"),
            ("verbose", "\"verbose\" in \"verbose\" is not a level"),
            ("info,portal_kube=loud", "\"loud\" in \"info,portal_kube=loud\" is not a level"),
            ("=debug", "directive \"=debug\" has no target"),
        ] {
            let message = validate_log_filter(bad).unwrap_err();
            assert!(message.starts_with(wrong), "{bad}: {message}");
            assert!(message.ends_with(LEVEL_EXPECTED), "{bad}: {message}");
        }
    }

    #[test]
    fn log_format_parses_and_decides() {
        for name in LogFormat::NAMES {
            assert_eq!(name.parse::<LogFormat>().unwrap().to_string(), *name);
        }
        assert_eq!(
            "xml".parse::<LogFormat>().unwrap_err().to_string(),
            "invalid value \"xml\": expected one of auto, json, text"
        );
        assert!(LogFormat::Auto.is_json(false));
        assert!(!LogFormat::Auto.is_json(true));
        assert!(LogFormat::Json.is_json(true));
        assert!(!LogFormat::Text.is_json(false));
    }

    #[test]
    fn failure_policy_parses_and_prints() {
        for name in AdmissionFailurePolicy::NAMES {
            assert_eq!(name.parse::<AdmissionFailurePolicy>().unwrap().to_string(), *name);
        }
        assert_eq!(
            "fail".parse::<AdmissionFailurePolicy>().unwrap_err().to_string(),
            "invalid value \"fail\": expected one of Fail, Ignore"
        );
        assert_eq!(AdmissionFailurePolicy::default(), AdmissionFailurePolicy::Fail);
    }

    #[test]
    fn namespace_names() {
        for good in ["kube-system", "a", "0team", "team-1", &"a".repeat(63)] {
            assert_eq!(validate_namespace_name(good), Ok(()), "{good}");
        }
        for bad in ["", "kube_system", "Kube-System", "-a", "a-", "a.b", &"a".repeat(64)] {
            let message = validate_namespace_name(bad).unwrap_err();
            assert!(message.starts_with(&format!("{bad:?} is not a namespace name: ")), "{message}");
        }
    }

    #[test]
    fn default_addresses() {
        assert_eq!(AdmissionConfig::DEFAULT_LISTEN.to_string(), "0.0.0.0:8443");
        assert_eq!(HealthConfig::DEFAULT_LISTEN.to_string(), "0.0.0.0:9090");
        assert_eq!(AdmissionConfig::DEFAULT_MAX_REQUEST_BYTES, 3_145_728);
        assert!(AdmissionConfig::MAX_REQUEST_BYTES_RANGE.contains(&AdmissionConfig::DEFAULT_MAX_REQUEST_BYTES));
        assert!(AdmissionConfig::DEFAULT_DEADLINE < AdmissionConfig::MAX_DEADLINE);
    }
}
