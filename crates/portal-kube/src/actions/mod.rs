//! Response actions in the cluster (SPEC §8): the dispatcher and Alertmanager sink of
//! `portal-actions`, given Portal's client ([`executor`]) and its settings, and the translation
//! of evaluated objects into what the dispatcher reads.
//!
//! Admission hands violations over without waiting; the audit hands over every evaluation (a
//! passing one clears what a violation did) and every deletion. Only the leader acts.

pub mod executor;

use std::collections::HashSet;
use std::sync::Arc;

use portal_actions::alerts::AlertSink;
use portal_actions::alerts::client::{Auth, Endpoint, EndpointError};
use portal_actions::{Dispatcher, DispatcherSettings};

use crate::lease::Leadership;
use crate::tasks::OwnedTask;

/// The running actions: the dispatcher handle and its tasks (stopped when dropped).
#[derive(Debug)]
pub struct Actions {
    pub dispatcher: Dispatcher,
    _tasks: Vec<OwnedTask>,
}

/// What the actions need from `portal run`'s settings, beyond `actions:` and `alerting:`.
#[derive(Debug, Clone, Default)]
pub struct ActionScope {
    /// The namespaces no action touches: `admission.excludedNamespaces`, plus Portal's own.
    pub excluded_namespaces: HashSet<String>,
}

/// Starts the dispatcher and the Alertmanager sink. `leadership`: who acts (`None`: this
/// replica alone).
pub fn start(
    config: &portal_config::Config,
    scope: ActionScope,
    client: kube::Client,
    metrics: portal_metrics::Metrics,
    leadership: Option<Leadership>,
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
    let (alerts, mut tasks) = AlertSink::start(endpoints, queue_size, metrics.clone());
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
    };
    let leading: portal_actions::Leading = match leadership {
        Some(leadership) => Arc::new(move || leadership.is_leader()),
        None => Arc::new(|| true),
    };
    let executor = Arc::new(executor::KubeExecutor::new(client));
    let (dispatcher, more) = Dispatcher::start(settings, executor, alerts, metrics, leading);
    tasks.extend(more);
    tracing::info!(
        dry_run = config.actions.dry_run,
        alertmanagers = alerting.urls.len(),
        "actions: running on the leader"
    );
    Ok(Actions { dispatcher, _tasks: tasks.into_iter().map(OwnedTask::from).collect() })
}
