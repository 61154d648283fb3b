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
    /// Run Portal in the cluster: load rules from PortalClusterRule/PortalRule resources and
    /// rule folders, and keep them current. Settings come from --config, PORTAL_* variables and
    /// these flags (highest wins); see docs/configuration.md.
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
    /// Watch PortalClusterRule and PortalRule resources (rules.cluster.enabled).
    #[arg(long, value_name = "BOOL")]
    pub cluster_rules: Option<bool>,
    /// A rule file or folder to load and hot-reload; repeat for several (rules.folders).
    #[arg(long = "rules", value_name = "PATH")]
    pub rules: Vec<PathBuf>,
    /// Quiet period before changed rules are reloaded, e.g. 200ms (rules.reload.debounce).
    #[arg(long, value_name = "DURATION")]
    pub reload_debounce: Option<portal_config::Duration>,
    /// The kubeconfig file (kubernetes.kubeconfig); default: $KUBECONFIG or ~/.kube/config,
    /// else the pod's service account.
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context (kubernetes.context).
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
    /// A tracing filter, e.g. info or info,portal_kube=debug (logging.level).
    #[arg(long, value_name = "FILTER")]
    pub log_level: Option<String>,
    /// Log format (logging.format): auto is JSON unless standard error is a terminal.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub log_format: Option<LogFormatArg>,
    /// Serve the validating admission webhook (admission.enabled).
    #[arg(long, value_name = "BOOL")]
    pub admission: Option<bool>,
    /// The webhook's HTTPS address, e.g. 0.0.0.0:8443 (admission.listen).
    #[arg(long, value_name = "ADDRESS")]
    pub admission_listen: Option<SocketAddr>,
    /// The webhook's serving certificate, PEM; re-read when it changes (admission.certFile).
    #[arg(long, value_name = "PATH")]
    pub cert_file: Option<PathBuf>,
    /// The serving certificate's private key, PEM (admission.keyFile).
    #[arg(long, value_name = "PATH")]
    pub key_file: Option<PathBuf>,
    /// The plain-HTTP address of /healthz, /readyz and /metrics, e.g. 0.0.0.0:9090 (health.listen).
    #[arg(long, value_name = "ADDRESS")]
    pub health_listen: Option<SocketAddr>,
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
    /// Another DNS name for the certificate; repeat for several.
    #[arg(long, value_name = "NAME")]
    pub dns: Vec<String>,
    /// An IP address for the certificate; repeat for several.
    #[arg(long, value_name = "ADDRESS")]
    pub ip: Vec<IpAddr>,
    /// The ValidatingWebhookConfiguration whose webhooks get the CA bundle as caBundle.
    #[arg(long, value_name = "NAME")]
    pub webhook_config: Option<String>,
    /// How long new certificates are valid.
    #[arg(long, value_name = "DURATION", default_value = "8760h")]
    pub validity: portal_config::Duration,
    /// Renew certificates this long before they expire.
    #[arg(long, value_name = "DURATION", default_value = "720h")]
    pub renew_before: portal_config::Duration,
    /// Write tls.crt, tls.key and ca.crt into this directory (each replaced atomically, and
    /// only when changed).
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
    /// The kubeconfig file; default: $KUBECONFIG or ~/.kube/config, else the pod's service account.
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context.
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormatArg {
    Auto,
    Json,
    Text,
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Rule file or directory; repeat to combine (e.g. PSS baseline and restricted).
    #[arg(long = "rules", short = 'r', value_name = "PATH", required = true)]
    pub rules: Vec<PathBuf>,
    /// Namespace for objects of namespaced kinds that name none, as `kubectl apply` would use.
    #[arg(long, short = 'n', value_name = "NAMESPACE", default_value = "default")]
    pub namespace: String,
    /// Output format; `table` is for people.
    #[arg(long, short = 'o', value_enum, default_value_t = OutputArg::Table)]
    pub output: OutputArg,
    /// Manifest files or directories (YAML or JSON, multi-document, `kind: List`); `-` reads stdin.
    #[arg(value_name = "MANIFESTS", required = true)]
    pub manifests: Vec<PathBuf>,
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
mod tests {
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
