//! The one error type of this crate, and [`Source`]: where a setting's value came from.

use std::fmt;
use std::path::PathBuf;

/// `Result` with this crate's [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where the effective value of a setting came from, named the way a user would look for it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Source {
    /// Nothing set it: the built-in default.
    Default,
    /// The configuration file (`--config`), at the line of the setting's key.
    File {
        /// The file, as it was given.
        path: PathBuf,
        /// 1-based line.
        line: usize,
    },
    /// A `PORTAL_*` environment variable.
    Env {
        /// The variable's name, e.g. `PORTAL_LOGGING_LEVEL`.
        name: String,
    },
    /// A command-line flag (see [`crate::Overrides`]).
    Flag {
        /// The flag, e.g. `--log-level`.
        name: &'static str,
    },
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::File { path, line } => write!(f, "{}:{line}", path.display()),
            Source::Env { name } => f.write_str(name),
            Source::Flag { name } => f.write_str(name),
        }
    }
}

/// Everything that can go wrong loading or printing the configuration. Each message says where
/// (file:line, environment variable or flag), which setting, and what is allowed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The `--config` file could not be read.
    #[error("cannot read configuration file {}", path.display())]
    ReadFile {
        /// The file, as it was given.
        path: PathBuf,
        /// Why reading failed.
        #[source]
        source: std::io::Error,
    },

    /// The `--config` file is not valid YAML.
    #[error("{}:{line}: not valid YAML: {message}", path.display())]
    ParseFile {
        /// The file, as it was given.
        path: PathBuf,
        /// 1-based line of the error.
        line: usize,
        /// The parser's message, on one line, with the column.
        message: String,
    },

    /// The `--config` file is valid YAML but not a mapping of sections.
    #[error(
        "{}:{line}: the configuration file must be a mapping of sections ({sections}), not {found}",
        path.display()
    )]
    FileNotMapping {
        /// The file, as it was given.
        path: PathBuf,
        /// 1-based line where the document starts.
        line: usize,
        /// What the document is instead (`a list`, `a string`, …).
        found: &'static str,
        /// The top-level sections, e.g. `rules, kubernetes, logging`.
        sections: String,
    },

    /// A setting has a value that is not allowed, or is not a setting at all.
    #[error("{origin}: setting `{path}`: {message}")]
    InvalidSetting {
        /// Where the offending value came from.
        origin: Source,
        /// The setting's path, e.g. `rules.reload.debounce` or `rules.folders[1]`.
        path: String,
        /// What was wrong and what is allowed.
        message: String,
    },

    /// A `PORTAL_*` environment variable that is not a setting (a typo, or an old name).
    #[error("unknown environment variable {name}{}; the settings variables are {valid}, and {ignored} are read by other tools", did_you_mean(suggestion.as_deref()))]
    UnknownEnvironmentVariable {
        /// The variable's name.
        name: String,
        /// The closest valid name, when one is close.
        suggestion: Option<String>,
        /// Every settings variable, comma-separated.
        valid: String,
        /// The allowed non-settings variables ([`crate::OTHER_ENV_VARS`]), comma-separated.
        ignored: String,
    },

    /// A text value (from a flag, usually) that does not parse: a duration or a log format.
    #[error("invalid value {value:?}: expected {expected}")]
    InvalidValue {
        /// The text as given.
        value: String,
        /// What is allowed.
        expected: &'static str,
    },

    /// The effective configuration could not be printed (a path that is not UTF-8).
    #[error("cannot print the configuration")]
    PrintConfig(#[source] serde_json::Error),
}

fn did_you_mean(suggestion: Option<&str>) -> String {
    suggestion.map(|name| format!(" (did you mean {name}?)")).unwrap_or_default()
}
