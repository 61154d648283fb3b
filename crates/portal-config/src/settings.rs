//! The settings themselves: one struct per section of the file, with their defaults.
//!
//! Every struct is `#[serde(default, deny_unknown_fields)]`: a missing setting takes its
//! default and a misspelt one is an error. Every struct is `#[non_exhaustive]` so that new
//! settings and sections (admission, audit, network, sinks, actions) can be added without
//! breaking code that reads these.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{Duration, Error, Result, Source};

/// The whole configuration (SPEC §9). Build it with [`Config::load`]; print it with
/// [`Config::to_yaml`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// Where rules come from.
    pub rules: RulesConfig,
    /// How to reach the Kubernetes API server.
    pub kubernetes: KubernetesConfig,
    /// Portal's own logs.
    pub logging: LoggingConfig,
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

/// The levels a `tracing` filter accepts, lower-case.
const LEVELS: &[&str] = &["off", "error", "warn", "info", "debug", "trace"];

const LEVEL_EXPECTED: &str = "expected a level (error, warn, info, debug, trace or off) or comma-separated \
    TARGET=LEVEL directives with an optional default level, e.g. info,portal_kube=debug";

impl Config {
    /// Checks what types alone cannot: ranges and the log filter's syntax. Returns the path of
    /// the offending setting and what is wrong with it.
    pub(crate) fn validate(&self) -> std::result::Result<(), (&'static str, String)> {
        if self.rules.reload.debounce > ReloadConfig::MAX_DEBOUNCE {
            return Err((
                "rules.reload.debounce",
                format!("{} is too long: expected at most {}", self.rules.reload.debounce, ReloadConfig::MAX_DEBOUNCE),
            ));
        }
        validate_log_filter(&self.logging.level).map_err(|message| ("logging.level", message))?;
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
}
