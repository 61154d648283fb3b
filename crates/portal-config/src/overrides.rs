//! [`Overrides`]: the settings that have command-line flags, the highest layer.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Serialize;
use serde_json::Value as Json;

use crate::{Duration, LogFormat};

/// Settings given as flags to `portal run`, filled by the binary from clap. `None` means the
/// flag was not given and the lower layers decide.
///
/// Each field's documentation names its flag; errors and `--print-config` use that name as the
/// value's source, so the binary must use the same names. Leave `env = "PORTAL_…"` off these
/// clap arguments: [`crate::Config::load`] reads the environment itself, so that an environment
/// value is reported as coming from the environment.
///
/// Construct with `Overrides { log_level: …, ..Overrides::default() }`; more fields will come
/// with more sections.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `--cluster-rules <true|false>` → `rules.cluster.enabled`.
    pub cluster_rules: Option<bool>,
    /// `--rules <PATH>`, repeatable → `rules.folders` (replaces the file's list).
    pub rules_folders: Option<Vec<PathBuf>>,
    /// `--reload-debounce <DURATION>` → `rules.reload.debounce`.
    pub reload_debounce: Option<Duration>,
    /// `--kubeconfig <PATH>` → `kubernetes.kubeconfig`.
    pub kubeconfig: Option<PathBuf>,
    /// `--context <NAME>` → `kubernetes.context`.
    pub context: Option<String>,
    /// `--log-level <FILTER>` → `logging.level`.
    pub log_level: Option<String>,
    /// `--log-format <auto|json|text>` → `logging.format`.
    pub log_format: Option<LogFormat>,
    /// `--admission <true|false>` → `admission.enabled`.
    pub admission: Option<bool>,
    /// `--admission-listen <ADDRESS>` → `admission.listen`.
    pub admission_listen: Option<SocketAddr>,
    /// `--cert-file <PATH>` → `admission.certFile`.
    pub cert_file: Option<PathBuf>,
    /// `--key-file <PATH>` → `admission.keyFile`.
    pub key_file: Option<PathBuf>,
    /// `--health-listen <ADDRESS>` → `health.listen`.
    pub health_listen: Option<SocketAddr>,
}

/// A flag's name, the path of its setting, and its value as JSON (serialising fails only for a
/// path that is not UTF-8).
type Entry = (&'static str, &'static [&'static str], Result<Json, serde_json::Error>);

impl Overrides {
    /// Every flag and the path of the setting it sets.
    pub const FLAGS: &'static [(&'static str, &'static str)] = &[
        ("--cluster-rules", "rules.cluster.enabled"),
        ("--rules", "rules.folders"),
        ("--reload-debounce", "rules.reload.debounce"),
        ("--kubeconfig", "kubernetes.kubeconfig"),
        ("--context", "kubernetes.context"),
        ("--log-level", "logging.level"),
        ("--log-format", "logging.format"),
        ("--admission", "admission.enabled"),
        ("--admission-listen", "admission.listen"),
        ("--cert-file", "admission.certFile"),
        ("--key-file", "admission.keyFile"),
        ("--health-listen", "health.listen"),
    ];

    /// The flags that were given.
    pub(crate) fn entries(&self) -> Vec<Entry> {
        fn entry<T: Serialize>(flag: &'static str, path: &'static [&'static str], value: Option<&T>) -> Option<Entry> {
            value.map(|value| (flag, path, serde_json::to_value(value)))
        }
        // Destructured so that a new field cannot be forgotten here.
        let Overrides {
            cluster_rules,
            rules_folders,
            reload_debounce,
            kubeconfig,
            context,
            log_level,
            log_format,
            admission,
            admission_listen,
            cert_file,
            key_file,
            health_listen,
        } = self;
        [
            entry("--cluster-rules", &["rules", "cluster", "enabled"], cluster_rules.as_ref()),
            entry("--rules", &["rules", "folders"], rules_folders.as_ref()),
            entry("--reload-debounce", &["rules", "reload", "debounce"], reload_debounce.as_ref()),
            entry("--kubeconfig", &["kubernetes", "kubeconfig"], kubeconfig.as_ref()),
            entry("--context", &["kubernetes", "context"], context.as_ref()),
            entry("--log-level", &["logging", "level"], log_level.as_ref()),
            entry("--log-format", &["logging", "format"], log_format.as_ref()),
            entry("--admission", &["admission", "enabled"], admission.as_ref()),
            entry("--admission-listen", &["admission", "listen"], admission_listen.as_ref()),
            entry("--cert-file", &["admission", "certFile"], cert_file.as_ref()),
            entry("--key-file", &["admission", "keyFile"], key_file.as_ref()),
            entry("--health-listen", &["health", "listen"], health_listen.as_ref()),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}
