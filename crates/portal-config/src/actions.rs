//! `actions:` and `alerting:` — the response actions (SPEC §8) and the Alertmanager sink (SPEC §7).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::Duration;

/// `actions:` — what rules' `actions` may do. Only the leader acts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
#[non_exhaustive]
pub struct ActionsConfig {
    /// `actions.enabled`: run rules' actions (and their `alert`s). Default: `false`.
    pub enabled: bool,
    /// `actions.dryRun`: log and count what each action would do, without doing it. Default:
    /// `false`.
    pub dry_run: bool,
    /// `actions.queueSize`: actions waiting for a worker; more are dropped and counted
    /// (`portal_actions_total{result="dropped"}`). Default: `1000`.
    pub queue_size: u32,
    /// `actions.workers`: actions run at once. Default: `4`.
    pub workers: u32,
    /// `actions.types`: each action type switched on or off. Default: all on.
    pub types: ActionTypesConfig,
}

impl Default for ActionsConfig {
    fn default() -> Self {
        ActionsConfig {
            enabled: false,
            dry_run: false,
            queue_size: 1000,
            workers: 4,
            types: ActionTypesConfig::default(),
        }
    }
}

/// `actions.types:` — whether each action type runs. A rule's action of a type switched off is
/// logged and counted as `disabled`, never run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
#[non_exhaustive]
pub struct ActionTypesConfig {
    /// `actions.types.alertmanager`. Default: `true`.
    pub alertmanager: bool,
    /// `actions.types.label`. Default: `true`.
    pub label: bool,
    /// `actions.types.annotate`. Default: `true`.
    pub annotate: bool,
    /// `actions.types.evict`. Default: `true`.
    pub evict: bool,
    /// `actions.types.patchNetworkpolicy`. Default: `true`.
    pub patch_networkpolicy: bool,
    /// `actions.types.revokeSaToken`. Default: `true`.
    pub revoke_sa_token: bool,
}

impl Default for ActionTypesConfig {
    fn default() -> Self {
        ActionTypesConfig {
            alertmanager: true,
            label: true,
            annotate: true,
            evict: true,
            patch_networkpolicy: true,
            revoke_sa_token: true,
        }
    }
}

impl ActionTypesConfig {
    /// Whether the type named as rules write it (`label`, `patch-networkpolicy`, …) is on.
    pub fn enabled(&self, type_name: &str) -> bool {
        match type_name {
            "alertmanager" => self.alertmanager,
            "label" => self.label,
            "annotate" => self.annotate,
            "evict" => self.evict,
            "patch-networkpolicy" => self.patch_networkpolicy,
            "revoke-sa-token" => self.revoke_sa_token,
            _ => false,
        }
    }
}

/// `alerting:` — where alerts go.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
#[non_exhaustive]
pub struct AlertingConfig {
    /// `alerting.alertmanager`: Alertmanager's v2 API.
    pub alertmanager: AlertmanagerConfig,
}

/// `alerting.alertmanager:` — the Alertmanagers alerts are sent to (all of them, as Prometheus
/// does), and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
#[non_exhaustive]
pub struct AlertmanagerConfig {
    /// `alerting.alertmanager.urls`: each Alertmanager's base URL, e.g.
    /// `http://alertmanager.monitoring:9093`; alerts are posted to `<url>/api/v2/alerts`. Default:
    /// none (rules' alerts are counted as `error`).
    pub urls: Vec<String>,
    /// `alerting.alertmanager.caFile`: PEM CA certificates that sign an `https` Alertmanager's
    /// certificate. Default: the system's roots are not read; set this for `https`.
    pub ca_file: Option<PathBuf>,
    /// `alerting.alertmanager.bearerTokenFile`: a file whose content is sent as
    /// `Authorization: Bearer …`, read at every send (so a rotated token is picked up).
    pub bearer_token_file: Option<PathBuf>,
    /// `alerting.alertmanager.username`: basic authentication's user, with `passwordFile`.
    pub username: Option<String>,
    /// `alerting.alertmanager.passwordFile`: basic authentication's password, read at every send.
    pub password_file: Option<PathBuf>,
    /// `alerting.alertmanager.timeout`: one request's limit. Default: `10s`.
    pub timeout: Duration,
    /// `alerting.alertmanager.queueSize`: alert updates waiting to be sent to each Alertmanager
    /// (while one is down, say); a full queue refuses firing updates, counted
    /// (`portal_alerts_dropped_total`) and offered again at their refresh. Default: `10000`.
    pub queue_size: u32,
}

impl Default for AlertmanagerConfig {
    fn default() -> Self {
        AlertmanagerConfig {
            urls: Vec::new(),
            ca_file: None,
            bearer_token_file: None,
            username: None,
            password_file: None,
            timeout: seconds(10),
            queue_size: 10_000,
        }
    }
}

const fn seconds(seconds: u64) -> Duration {
    match Duration::from_millis(seconds * 1000) {
        Some(duration) => duration,
        None => unreachable!(),
    }
}

impl ActionsConfig {
    /// The checks of `Config::validate` for `actions:`.
    pub(crate) fn validate(&self) -> std::result::Result<(), (&'static str, String)> {
        if self.workers == 0 {
            return Err(("actions.workers", "0 would never run an action: expected at least 1".to_owned()));
        }
        if self.queue_size == 0 {
            return Err(("actions.queueSize", "0 would drop every action: expected at least 1".to_owned()));
        }
        Ok(())
    }
}

impl AlertmanagerConfig {
    /// The checks of `Config::validate` for `alerting.alertmanager:`.
    pub(crate) fn validate(&self) -> std::result::Result<(), (&'static str, String)> {
        for url in &self.urls {
            let rest = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://"));
            if rest.is_none_or(|rest| rest.is_empty() || rest.starts_with('/')) {
                return Err((
                    "alerting.alertmanager.urls",
                    format!("{url:?} is not an Alertmanager URL: expected http://HOST:PORT or https://HOST:PORT"),
                ));
            }
        }
        if self.bearer_token_file.is_some() && (self.username.is_some() || self.password_file.is_some()) {
            return Err((
                "alerting.alertmanager.bearerTokenFile",
                "set either bearerTokenFile or username and passwordFile, not both".to_owned(),
            ));
        }
        if self.username.is_some() != self.password_file.is_some() {
            return Err((
                "alerting.alertmanager.username",
                "basic authentication needs both username and passwordFile".to_owned(),
            ));
        }
        if self.queue_size == 0 {
            return Err((
                "alerting.alertmanager.queueSize",
                "0 would drop every alert: expected at least 1".to_owned(),
            ));
        }
        Ok(())
    }
}
