//! Portal's configuration (SPEC §9): one YAML file (`--config`), overridable by `PORTAL_*`
//! environment variables and by flags, validated with errors that say where.
//!
//! ```text
//! defaults  <  --config file  <  PORTAL_* environment  <  flags (Overrides)
//! ```
//!
//! [`Config::load`] builds the effective [`Config`]; [`Config::to_yaml`] prints it for
//! `portal run --print-config`, with the source of every value. `docs/configuration.md` is the
//! user's reference.
//!
//! The settings are plain serde structs (`#[serde(default, deny_unknown_fields)]`, starting at
//! [`Config`]). Everything else is derived from them: the environment variable of a setting is
//! `PORTAL_` + its path in upper snake case, and the tree of values built from the layers is
//! deserialised into them once, so a new section or setting needs only its struct field, its
//! default, a line in `docs/configuration.md` (a test checks) and, if it has a flag, a line in
//! the `portal` binary's list of setting flags, which builds the [`Overrides`].

#![warn(missing_docs)]

mod actions;
mod de;
mod duration;
mod error;
mod layers;
mod load;
mod overrides;
mod print;
mod settings;

pub use actions::{ActionTypesConfig, ActionsConfig, AlertingConfig, AlertmanagerConfig};
pub use duration::Duration;
pub use error::{Error, Result, Source};
pub use layers::OTHER_ENV_VARS;
pub use overrides::Overrides;
pub use settings::{
    AdmissionConfig, AdmissionFailurePolicy, AuditConfig, CertificatesConfig, ClusterRulesConfig, Config,
    ConnectionLimits, HealthConfig, KubernetesConfig, LeaderElectionConfig, LogFormat, LoggingConfig,
    NetworkCheckConfig, NetworkConfig, ReloadConfig, ReportApiVersion, RuleLimitsConfig, RulesConfig,
    WebhookConfigurationConfig,
};

#[cfg(test)]
mod tests;
