//! Response actions in the cluster (SPEC §8): the dispatcher and Alertmanager sink of
//! `portal-actions`, given Portal's client ([`executor`]) and its settings, and the translation
//! of evaluated objects into what the dispatcher reads.
//!
//! Admission hands violations over without waiting; the audit hands over every evaluation (a
//! passing one clears what a violation did) and every deletion. Only the leader acts.

pub mod executor;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use portal_actions::alerts::AlertSink;
use portal_actions::alerts::client::{Auth, Endpoint, EndpointError};
use portal_actions::{Dispatcher, DispatcherSettings};
use portal_rules::actions::{Action, finder_actions};
use portal_rules::schema::ActionSpec;
use serde_json::Value as Json;

use crate::lease::Leadership;
use crate::tasks::OwnedTask;

/// The running actions: the dispatcher handle and its tasks (stopped when dropped).
#[derive(Debug)]
pub struct Actions {
    pub dispatcher: Dispatcher,
    /// For the audit.
    pub hand_off: HandOff,
    _tasks: Vec<OwnedTask>,
}

/// What the actions need from `portal run`'s settings, beyond `actions:` and `alerting:`.
#[derive(Debug, Clone, Default)]
pub struct ActionScope {
    /// The namespaces no action touches: `admission.excludedNamespaces`, plus Portal's own.
    pub excluded_namespaces: HashSet<String>,
}

/// What the audit hands its evaluations to: the dispatcher, and the actions of the network
/// checks that have some (`network.checks.<name>.alert`/`actions`), by check name.
#[derive(Debug, Clone)]
pub struct HandOff {
    pub dispatcher: Dispatcher,
    pub network_checks: Arc<BTreeMap<&'static str, Vec<Action>>>,
}

/// A network check's `alert` or `actions` that cannot run.
#[derive(Debug, thiserror::Error)]
#[error("network.checks.{check}.{path}: {message}")]
pub struct NetworkActionError {
    check: &'static str,
    path: String,
    message: String,
}

/// The checked actions of the network checks that have some.
pub fn network_check_actions(
    config: &portal_config::NetworkConfig,
) -> Result<BTreeMap<&'static str, Vec<Action>>, NetworkActionError> {
    let mut found = BTreeMap::new();
    for check in portal_network::Check::ALL {
        let Some(settings) = config.checks.get(check.name()) else { continue };
        if settings.actions.is_empty() && settings.alert.is_none() {
            continue;
        }
        let specs: Vec<ActionSpec> =
            serde_json::from_value(Json::Array(settings.actions.clone())).map_err(|error| NetworkActionError {
                check: check.name(),
                path: "actions".to_owned(),
                message: error.to_string(),
            })?;
        let kinds = [crate::network::reported_kind(check)];
        let (actions, problems) = finder_actions(check.name(), &specs, settings.alert.as_deref(), &kinds);
        if let Some(problem) = problems.into_iter().next() {
            return Err(NetworkActionError { check: check.name(), path: problem.path, message: problem.message });
        }
        found.insert(check.name(), actions);
    }
    Ok(found)
}

/// Starts the dispatcher and the Alertmanager sink. `leadership`: who acts (`None`: this
/// replica alone); `network_checks`: the network checks' actions ([`network_check_actions`]).
pub fn start(
    config: &portal_config::Config,
    scope: ActionScope,
    client: kube::Client,
    metrics: portal_metrics::Metrics,
    leadership: Option<Leadership>,
    network_checks: BTreeMap<&'static str, Vec<Action>>,
) -> Result<Actions, EndpointError> {
    let alerting = &config.alerting.alertmanager;
    let auth = match (&alerting.bearer_token_file, &alerting.username, &alerting.password_file) {
        (Some(file), _, _) => Auth::BearerFile(file.clone()),
        (None, Some(username), Some(password_file)) => {
            Auth::Basic { username: username.clone(), password_file: password_file.clone() }
        }
        _ => Auth::None,
    };
    let endpoints = alerting
        .urls
        .iter()
        .map(|url| Endpoint::new(url, alerting.ca_file.as_deref(), auth.clone(), alerting.timeout.as_std()))
        .collect::<Result<Vec<_>, _>>()?;
    let queue_size = usize::try_from(alerting.queue_size).unwrap_or(usize::MAX);
    let leading: portal_actions::Leading = match leadership {
        Some(leadership) => Arc::new(move || leadership.is_leader()),
        None => Arc::new(|| true),
    };
    let (alerts, mut tasks) = AlertSink::start(endpoints, queue_size, metrics.clone(), Arc::clone(&leading));
    let types = &config.actions.types;
    let disabled_types = ["alertmanager", "label", "annotate", "evict", "patch-networkpolicy", "revoke-sa-token"]
        .into_iter()
        .filter(|name| !types.enabled(name))
        .collect();
    let settings = DispatcherSettings {
        dry_run: config.actions.dry_run,
        queue_size: usize::try_from(config.actions.queue_size).unwrap_or(usize::MAX),
        workers: usize::try_from(config.actions.workers).unwrap_or(1),
        disabled_types,
        excluded_namespaces: scope.excluded_namespaces,
        standing: network_checks.keys().map(|name| (*name).to_owned()).collect(),
    };
    let executor = Arc::new(executor::KubeExecutor::new(client));
    let (dispatcher, more) = Dispatcher::start(settings, executor, alerts, metrics, leading);
    tasks.extend(more);
    tracing::info!(
        dry_run = config.actions.dry_run,
        alertmanagers = alerting.urls.len(),
        "actions: running on the leader"
    );
    let hand_off = HandOff { dispatcher: dispatcher.clone(), network_checks: Arc::new(network_checks) };
    Ok(Actions { dispatcher, hand_off, _tasks: tasks.into_iter().map(OwnedTask::from).collect() })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn network(yaml: &str) -> portal_config::NetworkConfig {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("portal.yaml");
        std::fs::write(&file, format!("audit: {{enabled: true}}\nnetwork:\n{yaml}")).unwrap();
        portal_config::Config::load(Some(&file), Vec::new(), &portal_config::Overrides::default()).unwrap().network
    }

    #[test]
    fn network_checks_take_actions_for_what_they_report_on() {
        let found = network_check_actions(&network(
            "  checks:\n    np.default-deny-missing:\n      alert: Open\n      actions: [{type: label, labels: {open: 'yes'}}]\n",
        ))
        .unwrap();
        let types: Vec<&str> = found["np.default-deny-missing"].iter().map(|action| action.kind.type_name()).collect();
        assert_eq!(types, ["label", "alertmanager"]);
        let error = network_check_actions(&network("  checks:\n    np.broad-cidr:\n      actions: [{type: evict}]\n"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "network.checks.np.broad-cidr.actions[0].type: evict applies to Pods, and np.broad-cidr reports on \
             NetworkPolicy objects only"
        );
        let error = network_check_actions(&network("  checks:\n    np.broad-cidr:\n      actions: [{type: lable}]\n"))
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("network.checks.np.broad-cidr.actions: unknown variant `lable`"), "{error}");
    }
}
