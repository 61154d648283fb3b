//! The command line: every subcommand and flag, with the help text users read.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Portal: one CEL rule language for Kubernetes admission, audit and CI.
#[derive(Debug, Parser)]
#[command(name = "portal", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run Portal against a cluster: load rules from PortalClusterRule/PortalRule resources and
    /// rule folders, keep them current and write their status; serve the admission webhook
    /// (admission.enabled) and /healthz, /readyz, /metrics.
    ///
    /// Settings come from defaults < --config file < PORTAL_* variables < these flags; every
    /// setting flag names its setting in parentheses (docs/configuration.md).
    Run(Box<RunArgs>),
    /// Evaluate rules against manifests on disk, offline, as a CREATE admission would.
    ///
    /// Every enabled rule runs, audit-only rules included; their findings are reported but only
    /// what admission would deny fails the check.
    ///
    /// Exit status: 0 admission would admit every object; 1 it would deny one (a deny rule in
    /// admission mode fired, or a `failurePolicy: Fail` deny rule could not be evaluated);
    /// 2 bad input (unreadable file, invalid YAML, invalid rule).
    Check(CheckArgs),
    /// Run rule test suites (files named portal-test.yaml or *.portal-test.yaml).
    ///
    /// Exit status: 0 every expectation met, 1 an expectation failed, 2 bad input.
    Test(TestArgs),
    /// Compile and evaluate one CEL expression in the full rule environment and print the
    /// result as JSON: the rule author's playground.
    ///
    /// Exit status: 0 evaluated, 2 compile or evaluation error.
    Eval(EvalArgs),
    /// Print the CustomResourceDefinitions Portal owns (PortalClusterRule, PortalRule), for
    /// `kubectl apply -f -`. The same files are in deploy/crds/.
    Crds {
        /// Write one file per CRD into this directory instead of printing them.
        #[arg(long, value_name = "DIR")]
        output_dir: Option<PathBuf>,
    },
    /// Create or renew the admission webhook's CA and serving certificate in a Secret, write
    /// the CA bundle into the ValidatingWebhookConfiguration's caBundle, and write the files
    /// the webhook serves.
    ///
    /// Safe to run in every replica at once: the first to create the Secret wins and the others
    /// adopt its contents. Renewal keeps the old CA in the bundle so that replicas still
    /// serving the old certificate stay trusted.
    InitCerts(InitCertsArgs),
    /// Print the ValidatingWebhookConfiguration that registers Portal's webhook for the given
    /// admission rules, for `kubectl apply -f -`, GitOps or a Helm chart.
    ///
    /// The API server calls Portal only for the kinds (and the subresources) the rules match;
    /// namespaced and cluster-scoped objects get webhooks of their own, each with its failure
    /// policy; the system namespaces, Portal's namespace and anything labelled
    /// portal.io/admission=disabled are never sent; Nodes, Leases, Events, access reviews and
    /// Portal's own resources are never intercepted. Render it again when the rules change. The
    /// caBundle is left for `portal init-certs --webhook-config` or cert-manager to fill.
    WebhookConfig(WebhookConfigArgs),
    /// NetworkPolicy analysis: the checks that find policies operators get wrong (`analyze`),
    /// and whether one Pod can reach another or an address, and why (`explain`).
    #[command(subcommand)]
    Network(NetworkCommand),
    /// Write Portal rules in another engine's format.
    #[command(subcommand)]
    Export(ExportCommand),
    /// Read another engine's policies as Portal rules.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Convert rule corpora written for other engines into Portal rules, with a report of what
    /// could not be converted and why, and a `portal test` suite.
    ///
    /// Reads Kyverno ClusterPolicies and Policies (kyverno.io/v1 validate rules: patterns,
    /// anyPattern, CEL expressions; match and exclude on kinds, namespaces, selectors and
    /// operations), ValidatingAdmissionPolicies with their bindings (as `portal import vap`), and
    /// Kyverno CLI tests (cli.kyverno.io), whose expected results become the suite. Every rule is
    /// compiled before it is written; anything without an exact equivalent (JMESPath, foreach,
    /// matching on the requesting user, mutation, …) is listed on standard error with the reason
    /// (docs/migration.md).
    ///
    /// Exit status: 0 everything converted; 1 something was not converted (the rest is written);
    /// 2 bad input, or nothing to convert.
    Migrate(MigrateArgs),
    /// Print the version.
    Version,
    /// Print a shell completion script.
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The configuration file (YAML).
    #[arg(long, value_name = "FILE", env = "PORTAL_CONFIG")]
    pub config: Option<PathBuf>,
    /// Print the effective settings, with where each came from, and exit.
    #[arg(long)]
    pub print_config: bool,
    #[command(flatten)]
    pub settings: SettingFlags,
}

/// Declares the flags of `portal run` that set a setting, each once: its field, its help, its
/// flag and the setting's path. From this one list come the clap arguments, the
/// [`portal_config::Overrides`] they build and [`SettingFlags::SETTINGS`] (for tests and docs).
/// No `env =` here: portal-config reads `PORTAL_*` itself, to name the variable as the source.
macro_rules! setting_flags {
    ($( $(#[doc = $doc:literal])* #[arg($($arg:tt)*)] $field:ident: $ty:ty => $long:literal, $setting:literal; )*) => {
        /// The flags of `portal run` that set a setting.
        #[derive(Debug, clap::Args)]
        pub struct SettingFlags {
            $(
                $(#[doc = $doc])*
                #[arg(long = $long, $($arg)*)]
                pub $field: $ty,
            )*
        }

        impl SettingFlags {
            /// Every flag and the path of the setting it sets.
            #[cfg(test)]
            pub const SETTINGS: &[(&str, &str)] = &[$((concat!("--", $long), $setting)),*];

            /// The flags that were given, for the configuration's highest layer.
            pub fn overrides(&self) -> portal_config::Overrides {
                let mut overrides = portal_config::Overrides::default();
                $(
                    if let Some(value) = FlagValue::given(&self.$field) {
                        overrides = overrides.set(concat!("--", $long), $setting, value);
                    }
                )*
                overrides
            }
        }
    };
}

/// A flag's value when the flag was given: `Option`s when `Some`, lists when not empty (a
/// repeated flag replaces the whole list of the lower layers).
trait FlagValue {
    type Value: serde::Serialize;
    fn given(&self) -> Option<&Self::Value>;
}

impl<T: serde::Serialize> FlagValue for Option<T> {
    type Value = T;
    fn given(&self) -> Option<&T> {
        self.as_ref()
    }
}

impl<T: serde::Serialize> FlagValue for Vec<T> {
    type Value = Vec<T>;
    fn given(&self) -> Option<&Vec<T>> {
        (!self.is_empty()).then_some(self)
    }
}

setting_flags! {
    /// Watch PortalClusterRule and PortalRule resources (rules.cluster.enabled). Default: true.
    #[arg(value_name = "BOOL")]
    cluster_rules: Option<bool> => "cluster-rules", "rules.cluster.enabled";
    /// A rule file or folder to load and hot-reload, read as `portal check --rules` reads it;
    /// repeat for several (rules.folders). Given at all, these replace the file's list.
    #[arg(value_name = "PATH")]
    rules: Vec<PathBuf> => "rules", "rules.folders";
    /// How long changes must stop before they are applied, e.g. 2s or 1m30s
    /// (rules.reload.debounce). Default: 200ms.
    #[arg(value_name = "DURATION")]
    reload_debounce: Option<portal_config::Duration> => "reload-debounce", "rules.reload.debounce";
    /// The kubeconfig file (kubernetes.kubeconfig); default: $KUBECONFIG or ~/.kube/config,
    /// else the pod's service account.
    #[arg(value_name = "PATH")]
    kubeconfig: Option<PathBuf> => "kubeconfig", "kubernetes.kubeconfig";
    /// The kubeconfig context (kubernetes.context).
    #[arg(value_name = "NAME")]
    context: Option<String> => "context", "kubernetes.context";
    /// A tracing filter, e.g. info or info,portal_kube=debug (logging.level). Default: info.
    #[arg(value_name = "FILTER")]
    log_level: Option<String> => "log-level", "logging.level";
    /// Log format (logging.format): auto (the default) is JSON unless standard error is a
    /// terminal.
    #[arg(value_enum, value_name = "FORMAT")]
    log_format: Option<LogFormatArg> => "log-format", "logging.format";
    /// Serve the validating admission webhook (admission.enabled). Default: false.
    #[arg(value_name = "BOOL")]
    admission: Option<bool> => "admission", "admission.enabled";
    /// The webhook's HTTPS address (admission.listen). Default: 0.0.0.0:8443.
    #[arg(value_name = "ADDRESS")]
    admission_listen: Option<SocketAddr> => "admission-listen", "admission.listen";
    /// The webhook's serving certificate, PEM; re-read when it changes (admission.certFile).
    /// Default: /etc/portal/tls/tls.crt.
    #[arg(value_name = "PATH")]
    cert_file: Option<PathBuf> => "cert-file", "admission.certFile";
    /// The serving certificate's private key, PEM (admission.keyFile). Default:
    /// /etc/portal/tls/tls.key.
    #[arg(value_name = "PATH")]
    key_file: Option<PathBuf> => "key-file", "admission.keyFile";
    /// The plain-HTTP address of /healthz, /readyz and /metrics, served whether or not admission
    /// is enabled (health.listen). Default: 0.0.0.0:9090.
    #[arg(value_name = "ADDRESS")]
    health_listen: Option<SocketAddr> => "health-listen", "health.listen";
}

#[derive(Debug, clap::Args)]
pub struct InitCertsArgs {
    /// Namespace of the Secret and of the webhook's Service.
    #[arg(long, short = 'n', value_name = "NAMESPACE", env = "PORTAL_NAMESPACE")]
    pub namespace: String,
    /// The Secret that holds the certificates.
    #[arg(long, value_name = "NAME", default_value = "portal-webhook-tls")]
    pub secret: String,
    /// The webhook's Service: NAME, NAME.NAMESPACE, NAME.NAMESPACE.svc and
    /// NAME.NAMESPACE.svc.cluster.local go into the certificate.
    #[arg(long, value_name = "NAME", default_value = "portal-webhook")]
    pub service: String,
    /// Another DNS name for the certificate; repeat for several. A name already listed (in any
    /// case) is not repeated.
    #[arg(long, value_name = "NAME")]
    pub dns: Vec<String>,
    /// An IP address for the certificate; repeat for several.
    #[arg(long, value_name = "ADDRESS")]
    pub ip: Vec<IpAddr>,
    /// The ValidatingWebhookConfiguration whose webhooks get the CA bundle as caBundle (the
    /// shipped template is named portal). Without it, no caBundle is written.
    #[arg(long, value_name = "NAME")]
    pub webhook_config: Option<String>,
    /// How long new certificates (the CA and the serving certificate) are valid: more than zero,
    /// at most 1000 years.
    #[arg(long, value_name = "DURATION", default_value = "8760h")]
    pub validity: portal_config::Duration,
    /// Renew certificates this long before they expire; a value at least --validity renews on
    /// every run.
    #[arg(long, value_name = "DURATION", default_value = "720h")]
    pub renew_before: portal_config::Duration,
    /// Write tls.crt, tls.key and ca.crt into this directory, created if missing (each replaced
    /// atomically, and only when changed). Without it, no file is written.
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
    /// The kubeconfig file; default: $KUBECONFIG or ~/.kube/config, else the pod's service account.
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context.
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
}

/// `logging.format`, spelled as the configuration file spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormatArg {
    Auto,
    Json,
    Text,
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Rule file or directory; repeat to combine (e.g. PSS baseline and restricted). Each value
    /// is one path, commas included.
    #[arg(long = "rules", short = 'r', value_name = "PATH", required = true)]
    pub rules: Vec<PathBuf>,
    /// Namespace for objects of namespaced kinds that name none, as `kubectl apply` would use.
    #[arg(long, short = 'n', value_name = "NAMESPACE", default_value = "default")]
    pub namespace: String,
    /// Objects that rules' cluster lookups (`cluster.get`, `cluster.list`) see: files, folders or
    /// a `kubectl get -A -o yaml` dump; repeat to combine. Each manifest is checked as if being
    /// created in that cluster. Without it, a rule that looks anything up is an error.
    #[arg(long = "cluster", value_name = "PATH")]
    pub cluster: Vec<PathBuf>,
    /// PortalException and PortalClusterException files or directories to honour, as the
    /// cluster does: an exempted rule is not evaluated and its result is `skip`. Repeatable.
    #[arg(long = "exceptions", value_name = "PATH")]
    pub exceptions: Vec<PathBuf>,
    /// Output format; `table` is for people.
    #[arg(long, short = 'o', value_enum, default_value_t = OutputArg::Table)]
    pub output: OutputArg,
    /// Exit 2 on any warning too: documents skipped, files that are not regular, or inputs that
    /// check nothing (no rules, no objects). For CI, where checking nothing is a mistake.
    #[arg(long)]
    pub strict: bool,
    /// Manifest files or directories (YAML or JSON, multi-document, `kind: List`); `-` reads stdin.
    #[arg(value_name = "MANIFESTS", required = true)]
    pub manifests: Vec<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct WebhookConfigArgs {
    /// Rule file or directory; repeat to combine. Only enabled admission rules count.
    #[arg(long = "rules", short = 'r', value_name = "PATH", required = true)]
    pub rules: Vec<PathBuf>,
    /// Portal's namespace: where the webhook's Service is, and never sent to the webhook.
    #[arg(long, short = 'n', value_name = "NAMESPACE", default_value = "portal-system", env = "PORTAL_NAMESPACE")]
    pub namespace: String,
    /// The webhook's Service (port 443, path /validate).
    #[arg(long, value_name = "NAME", default_value = "portal-webhook")]
    pub service: String,
    /// Reach Portal at this HTTPS URL instead of through the Service (Portal outside the cluster).
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// The configuration's name.
    #[arg(long, value_name = "NAME", default_value = "portal")]
    pub name: String,
    /// What the API server does with a namespaced object when Portal does not answer.
    #[arg(long, value_enum, value_name = "POLICY", default_value_t = FailurePolicyArg::Fail)]
    pub failure_policy: FailurePolicyArg,
    /// What the API server does with a cluster-scoped object when Portal does not answer.
    #[arg(long, value_enum, value_name = "POLICY", default_value_t = FailurePolicyArg::Ignore)]
    pub cluster_failure_policy: FailurePolicyArg,
}

/// A webhook's failurePolicy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailurePolicyArg {
    #[value(name = "Fail")]
    Fail,
    #[value(name = "Ignore")]
    Ignore,
}

impl FailurePolicyArg {
    pub fn name(self) -> &'static str {
        match self {
            FailurePolicyArg::Fail => "Fail",
            FailurePolicyArg::Ignore => "Ignore",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputArg {
    Table,
    Json,
    Yaml,
    PolicyReport,
}

#[derive(Debug, clap::Args)]
pub struct TestArgs {
    /// Test files, or directories searched for them.
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,
    /// Exit 2 on any warning too, such as a test file that tests nothing.
    #[arg(long)]
    pub strict: bool,
}

#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// The CEL expression, e.g. 'containers.map(c, c.imageRef.registry)'.
    pub expression: String,
    /// The object (YAML or JSON) bound to `object` and the pod sugar.
    #[arg(long, value_name = "FILE")]
    pub object: Option<PathBuf>,
    /// The previous version, bound to `oldObject`.
    #[arg(long, value_name = "FILE")]
    pub old_object: Option<PathBuf>,
    /// An admission request, bound to `request`.
    #[arg(long, value_name = "FILE")]
    pub request: Option<PathBuf>,
    /// The object's Namespace, bound to `namespaceObject`.
    #[arg(long, value_name = "FILE")]
    pub namespace_object: Option<PathBuf>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::{Cli, Command, SettingFlags};

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    /// A value for each setting flag; a new flag needs one here.
    fn sample(flag: &str) -> &'static str {
        match flag {
            "--cluster-rules" | "--admission" => "false",
            "--reload-debounce" => "1s",
            "--log-level" => "debug",
            "--log-format" => "text",
            "--admission-listen" | "--health-listen" => "127.0.0.1:1234",
            "--rules" | "--kubeconfig" | "--cert-file" | "--key-file" => "/flag/path",
            "--context" => "ctx",
            other => panic!("add a sample value for {other}"),
        }
    }

    /// Every setting flag sets the setting it names, and the configuration says it came from it.
    #[test]
    fn every_setting_flag_sets_its_setting() {
        let mut args = vec!["portal", "run"];
        for (flag, _) in SettingFlags::SETTINGS {
            args.extend([*flag, sample(flag)]);
        }
        let Command::Run(run) = Cli::try_parse_from(&args).unwrap().command else { panic!("not run") };
        let overrides = run.settings.overrides();
        assert_eq!(overrides.flags().collect::<Vec<_>>(), SettingFlags::SETTINGS);
        let config = portal_config::Config::load(None, Vec::new(), &overrides).unwrap();
        for (flag, setting) in SettingFlags::SETTINGS {
            assert_eq!(config.source(setting), &portal_config::Source::Flag { name: flag }, "{flag}");
        }
        let command = Cli::command();
        let run = command.find_subcommand("run").unwrap();
        for (flag, setting) in SettingFlags::SETTINGS {
            let arg =
                run.get_arguments().find(|arg| arg.get_long().map(|long| format!("--{long}")).as_deref() == Some(flag));
            let help = arg.and_then(|arg| arg.get_help()).map(ToString::to_string).unwrap_or_default();
            assert!(help.contains(&format!("({setting}")), "the help of {flag} names its setting {setting}: {help}");
        }
    }

    #[test]
    fn flags_not_given_set_nothing() {
        let Command::Run(run) = Cli::try_parse_from(["portal", "run"]).unwrap().command else { panic!("not run") };
        assert_eq!(run.settings.overrides().flags().count(), 0);
    }

    #[test]
    fn the_configuration_reference_names_every_flag() {
        let docs =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/configuration.md")).unwrap();
        for (flag, _) in SettingFlags::SETTINGS {
            assert!(docs.contains(&format!("`{flag}")), "docs/configuration.md does not mention {flag}");
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum NetworkCommand {
    /// Run the np.* checks over Pods, Namespaces and NetworkPolicies read from manifests or a
    /// `kubectl get -A -o yaml` dump (other kinds are passed over) and print the findings.
    ///
    /// Exit status: 0 no finding at or above --fail-on; 1 some; 2 bad input.
    Analyze(NetworkAnalyzeArgs),
    /// Can traffic go from one end to the other? Prints the verdict of the source Pod's egress
    /// and the destination Pod's ingress, with the policies that isolate each and the rules
    /// that allow the traffic.
    ///
    /// Reads manifests or a dump when PATHs are given, else the cluster of the kubeconfig.
    /// Without a port, says on which ports traffic is allowed.
    ///
    /// Exit status: 0 allowed; 1 denied (or, without a port, allowed on some ports only); 2 bad
    /// input.
    Explain(NetworkExplainArgs),
}

#[derive(Debug, clap::Args)]
pub struct NetworkAnalyzeArgs {
    /// Namespace for objects that name none, as `kubectl apply` would use.
    #[arg(long, short = 'n', value_name = "NAMESPACE", default_value = "default")]
    pub namespace: String,
    /// Output format; `table` is for people.
    #[arg(long, short = 'o', value_enum, default_value_t = NetworkOutputArg::Table)]
    pub output: NetworkOutputArg,
    /// Exit 1 when a finding has this severity or a higher one.
    #[arg(long, value_enum, value_name = "SEVERITY", default_value_t = SeverityArg::Low)]
    pub fail_on: SeverityArg,
    /// Leave out a check (e.g. np.default-deny-egress-missing); repeatable.
    #[arg(long = "disable", value_name = "CHECK")]
    pub disable: Vec<String>,
    /// Give a check's findings another severity, as CHECK=SEVERITY (e.g. np.broad-cidr=critical);
    /// repeatable.
    #[arg(long = "severity", value_name = "CHECK=SEVERITY")]
    pub severity: Vec<String>,
    /// Manifest files or directories (YAML or JSON, multi-document, `kind: List`); `-` reads stdin.
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct NetworkExplainArgs {
    /// The source: NAMESPACE/POD, POD (in --namespace), or an address or CIDR outside the Pod
    /// network.
    #[arg(long, value_name = "FROM")]
    pub from: String,
    /// The destination, as --from, optionally with :PORT or :PORT/PROTOCOL (TCP by default; a
    /// container port name is resolved on the destination Pod); an IPv6 address with a port in
    /// brackets: [2001:db8::1]:443.
    #[arg(long, value_name = "TO[:PORT[/PROTOCOL]]")]
    pub to: String,
    /// Namespace of a Pod given without one, and of objects that name none.
    #[arg(long, short = 'n', value_name = "NAMESPACE", default_value = "default")]
    pub namespace: String,
    /// Output format; `table` is for people.
    #[arg(long, short = 'o', value_enum, default_value_t = NetworkOutputArg::Table)]
    pub output: NetworkOutputArg,
    /// Without PATHs: the kubeconfig file; default: $KUBECONFIG or ~/.kube/config, else the pod's
    /// service account.
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// Without PATHs: the kubeconfig context.
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
    /// Manifest files or directories, or a `kubectl get -A -o yaml` dump; `-` reads stdin.
    /// Without any, the cluster is read.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NetworkOutputArg {
    Table,
    Json,
    Yaml,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SeverityArg {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl SeverityArg {
    pub fn severity(self) -> portal_rules::Severity {
        match self {
            SeverityArg::Info => portal_rules::Severity::Info,
            SeverityArg::Low => portal_rules::Severity::Low,
            SeverityArg::Medium => portal_rules::Severity::Medium,
            SeverityArg::High => portal_rules::Severity::High,
            SeverityArg::Critical => portal_rules::Severity::Critical,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// Print ValidatingAdmissionPolicy + ValidatingAdmissionPolicyBinding objects
    /// (admissionregistration.k8s.io/v1) that make the API server itself enforce the admission
    /// rules it can decide exactly as Portal does — while every Portal replica is down too.
    ///
    /// Each rule that cannot be mirrored (it reads the cluster, calls a function Kubernetes' CEL
    /// does not have, reads imageRef, …) is listed on standard error with the reason; what an
    /// exported rule does not cover (scale requests) is noted there too. Needs Kubernetes 1.35 or
    /// later. Apply with `kubectl apply -f -`; the objects carry the label portal.io/rule.
    /// docs/vap.md says what each part of a rule becomes.
    ///
    /// Exit status: 0 printed (even if some rules were not exported); 2 bad input.
    Vap(ExportVapArgs),
}

#[derive(Debug, clap::Args)]
pub struct ExportVapArgs {
    /// Rule file or directory; repeat to combine. Only enabled admission rules are exported.
    #[arg(long = "rules", short = 'r', value_name = "PATH", required_unless_present = "from_cluster")]
    pub rules: Vec<PathBuf>,
    /// Export the PortalClusterRule resources of the cluster (PortalRules are listed as not
    /// exported: they are confined to their namespace), besides any --rules.
    #[arg(long)]
    pub from_cluster: bool,
    /// With --from-cluster: the kubeconfig file; default: $KUBECONFIG or ~/.kube/config, else the
    /// pod's service account.
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// With --from-cluster: the kubeconfig context.
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
    /// A namespace the policies never apply in, as Portal's admission.excludedNamespaces;
    /// repeatable. Default: kube-system, kube-public, kube-node-lease.
    #[arg(long = "excluded-namespace", value_name = "NAMESPACE")]
    pub excluded_namespaces: Vec<String>,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = ExportOutputArg::Yaml)]
    pub output: ExportOutputArg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportOutputArg {
    /// A YAML stream, one document per object.
    Yaml,
    /// A `v1` `List`.
    Json,
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Print Portal rules for ValidatingAdmissionPolicies and their bindings
    /// (admissionregistration.k8s.io/v1): each validation becomes a rule (the negated
    /// validation, after the policy's match conditions), variables are inlined, matchConstraints
    /// and the binding's matchResources become `match`, the binding's actions the
    /// enforcementAction. Policies `portal export vap` wrote come back as the rules they were.
    ///
    /// Each policy that cannot be imported (parameters, the authorizer, excludeResourceRules, a
    /// resource whose kind Portal cannot tell, a rule that does not compile) is listed on standard
    /// error with the reason.
    ///
    /// Exit status: 0 printed (even if some policies were not imported); 2 bad input.
    Vap(ImportVapArgs),
}

#[derive(Debug, clap::Args)]
pub struct MigrateArgs {
    /// Files or directories of policies (and Kyverno CLI tests); `-` reads stdin.
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,
    /// Write rules.yaml and portal-test.yaml (from the sources' tests, else a skeleton) into this
    /// directory, created if missing; without it the rules go to standard output.
    #[arg(long, short = 'o', value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct ImportVapArgs {
    /// Files or directories of policies and bindings (YAML or JSON, multi-document, `kind: List`,
    /// `kubectl get validatingadmissionpolicies,validatingadmissionpolicybindings -o yaml`);
    /// `-` reads stdin.
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,
}
