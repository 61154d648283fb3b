//! `portal run`: the long-running process, composed from the parts — the rule sources, the
//! health endpoint, the caches admission and the audit read, the admission webhook and the audit.
//! Composition only: each part lives in its own module.

use std::future::Future;
use std::sync::Arc;

use portal_config::{AdmissionFailurePolicy, Config};
use portal_rules::cluster::ClusterView;

use crate::admission::{
    self, AdmissionSettings, ApiScaledObjects, ConnectionLimits, DecisionOptions, DefaultFailurePolicy, Lookups,
    NoScaledObjects, ScaledObjects,
};
use crate::cache::{ClusterCache, NamespaceCache, NamespaceLookup, NoNamespaces};
use crate::client::{self, client};
use crate::health;
use crate::lease;
use crate::sources::{self, RuleSources, SourcesConfig};
use crate::writers;

/// Why the operator could not run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Client(#[from] client::Error),
    #[error("rules.folders: {path} does not exist; create it or remove it from the configuration")]
    MissingFolder { path: String },
    #[error(transparent)]
    Sources(#[from] sources::Error),
    #[error("starting the admission webhook")]
    Admission(#[from] admission::server::Error),
    #[error("starting the health endpoint")]
    Health(#[from] health::Error),
    #[error("creating the metric registry")]
    Metrics(#[from] portal_metrics::Error),
    #[error("nothing to load rules from: enable rules.cluster or list rules.folders")]
    NoRuleSource,
    #[error(transparent)]
    Alerting(#[from] portal_actions::alerts::client::EndpointError),
    #[error(transparent)]
    NetworkActions(#[from] crate::actions::NetworkActionError),
    #[error("network.checks.{name}: there is no such check; the checks are {known}")]
    UnknownNetworkCheck { name: String, known: String },
}

/// Runs `portal init-certs`' work once, so the files are there before the webhook loads them,
/// then keeps it running every `checkInterval`.
async fn start_renewal(client: kube::Client, admission: &portal_config::AdmissionConfig) -> crate::tasks::OwnedTask {
    let settings = &admission.certificates;
    let mut options = crate::certs::CertOptions::new(&settings.namespace, &settings.secret, &settings.service);
    options.webhook_configuration = Some(admission.webhook_configuration.name.clone());
    options.extra_dns = settings.dns_names.clone();
    options.ips = settings.ips.clone();
    options.validity = settings.validity.as_std();
    options.renew_before = settings.renew_before.as_std();
    let dir = admission.cert_file.parent().map(std::path::Path::to_path_buf).unwrap_or_default();
    match crate::certs::init_certs(client.clone(), &options).await.and_then(|bundle| bundle.write_files(&dir)) {
        Ok(_) => tracing::info!(dir = %dir.display(), "serving certificate in place"),
        Err(error) => {
            tracing::warn!("the serving certificate could not be renewed yet: {}", crate::with_causes(&error))
        }
    }
    let interval = settings.check_interval.as_std();
    crate::tasks::OwnedTask::spawn(async move {
        tokio::time::sleep(interval).await;
        crate::certs::keep_renewed(client, options, dir, interval).await;
    })
}

/// A serving certificate closer to its expiry than this makes `/readyz` fail: a Pod serving it
/// should get no more reviews (the API server would soon refuse its TLS).
const CERTIFICATE_MIN_REMAINING: std::time::Duration = std::time::Duration::from_secs(5 * 60);

/// Whether a certificate expiring at `expiry` may go on being served (one without an expiry may).
fn certificate_usable(expiry: Option<std::time::SystemTime>) -> bool {
    let Some(expiry) = expiry else { return true };
    let usable = expiry.duration_since(std::time::SystemTime::now()).is_ok_and(|left| left > CERTIFICATE_MIN_REMAINING);
    if !usable {
        tracing::warn!(
            "the serving certificate expires within {} minutes (or has expired): /readyz fails until it is renewed \
             (portal init-certs, or cert-manager)",
            CERTIFICATE_MIN_REMAINING.as_secs() / 60
        );
    }
    usable
}

/// Which network checks run, and their severities, from `network.checks`.
fn network_check_settings(config: &portal_config::NetworkConfig) -> Result<portal_network::CheckSettings, Error> {
    let mut settings = portal_network::CheckSettings::default();
    for (name, check_config) in &config.checks {
        let Some(check) = portal_network::Check::from_name(name) else {
            let known: Vec<&str> = portal_network::Check::ALL.iter().map(|check| check.name()).collect();
            return Err(Error::UnknownNetworkCheck { name: name.clone(), known: known.join(", ") });
        };
        if !check_config.enabled {
            settings.disabled.insert(check);
        }
        // portal-config accepts only the severities' names.
        if let Some(severity) =
            check_config.severity.as_deref().and_then(|severity| serde_json::from_value(severity.into()).ok())
        {
            settings.severities.insert(check, severity);
        }
    }
    Ok(settings)
}

/// Starts the rule sources (and, when enabled, the admission webhook and the health endpoint)
/// and keeps them running until `shutdown` completes.
pub async fn run(config: &Config, shutdown: impl Future<Output = ()>) -> Result<(), Error> {
    if !config.rules.cluster.enabled && config.rules.folders.is_empty() {
        return Err(Error::NoRuleSource);
    }
    if let Some(missing) = config.rules.folders.iter().find(|path| !path.exists()) {
        return Err(Error::MissingFolder { path: missing.display().to_string() });
    }
    let manage_webhook = config.admission.webhook_configuration.manage;
    let audit = config.audit.enabled;
    let acting = config.actions.enabled;
    let network = if config.network.enabled {
        Some(Arc::new(crate::network::NetworkAnalysis::new(network_check_settings(&config.network)?)))
    } else {
        None
    };
    let client = if config.rules.cluster.enabled || manage_webhook || audit || acting {
        Some(client(&config.kubernetes).await?)
    } else {
        None
    };
    let metrics = portal_metrics::Metrics::new()?;
    // What rules' cluster lookups read, at admission and in the audit: one cache for both.
    let lookups = client
        .as_ref()
        .filter(|_| config.admission.enabled || audit)
        .map(|client| ClusterCache::new(client.clone(), metrics.clone()));
    let sources = RuleSources::start(SourcesConfig {
        cluster: client.clone().filter(|_| config.rules.cluster.enabled),
        folders: config.rules.folders.clone(),
        debounce: config.rules.reload.debounce.as_std(),
        limits: rule_limits(&config.rules.limits),
        lookups: lookups.clone(),
    })?;
    let (ready_sender, ready) = tokio::sync::watch::channel(false);
    let ready_sender = Arc::new(ready_sender);
    let limits = ConnectionLimits::from(&config.admission.connections);
    let (health_address, _health) = health::start(config.health.listen, metrics.clone(), ready, limits.clone()).await?;
    tracing::info!(address = %health_address, "health and metrics endpoint listening");

    // Admission starts only once the rules (and the namespaces it reads) are loaded: until then
    // the API server cannot reach Portal and its failurePolicy answers, instead of Portal
    // admitting everything against an empty rule set.
    tokio::pin!(shutdown);
    tokio::select! {
        snapshot = sources.wait_ready() => {
            tracing::info!(rules = snapshot.rules.len(), rejected = snapshot.problems.len(), "rules loaded");
        }
        () = &mut shutdown => return Ok(()),
    }
    // Namespaces are read by admission (selectors, the bypass annotation) and the audit
    // (selectors): one cache for both.
    let namespaces: Arc<dyn NamespaceLookup> = match &client {
        Some(client) if config.admission.enabled || audit => {
            let cache = NamespaceCache::start(client.clone());
            tokio::select! {
                () = cache.wait_filled() => {}
                () = &mut shutdown => return Ok(()),
            }
            Arc::new(cache)
        }
        _ => {
            if config.admission.enabled {
                tracing::warn!(
                    "rules.cluster.enabled is false: no cluster access, so namespace selectors and the \
                     portal.io/bypass annotation cannot be read at admission"
                );
            }
            Arc::new(NoNamespaces)
        }
    };
    // The leader acts; the election starts below, once there is something to lead.
    let leads = client.is_some() && (manage_webhook || audit || acting);
    let leadership = lease::Leadership::default();
    let actions = if acting {
        let network_checks = if config.network.enabled {
            crate::actions::network_check_actions(&config.network)?
        } else {
            Default::default()
        };
        let answering = client::answering_client(&config.kubernetes).await?;
        Some(crate::actions::start(
            config,
            action_scope(config),
            answering,
            metrics.clone(),
            Some(leadership.clone()),
            network_checks,
        )?)
    } else {
        None
    };
    let dispatcher = actions.as_ref().map(|actions| actions.dispatcher.clone());
    // Renewal writes the files the webhook serves: it runs (and the files are in place) first.
    let _renewal = match &client {
        Some(client) if config.admission.enabled && config.admission.certificates.renew => {
            Some(start_renewal(client.clone(), &config.admission).await)
        }
        _ => None,
    };
    let admission = if config.admission.enabled {
        let scaled: Arc<dyn ScaledObjects> = match &client {
            Some(client) => Arc::new(ApiScaledObjects(client.clone())),
            None => Arc::new(NoScaledObjects),
        };
        let settings = AdmissionSettings {
            listen: config.admission.listen,
            cert_file: config.admission.cert_file.clone(),
            key_file: config.admission.key_file.clone(),
            deadline: config.admission.deadline.as_std(),
            max_request_bytes: usize::try_from(config.admission.max_request_bytes).unwrap_or(usize::MAX),
            options: DecisionOptions {
                failure_policy: match config.admission.failure_policy {
                    AdmissionFailurePolicy::Fail => DefaultFailurePolicy::Fail,
                    AdmissionFailurePolicy::Ignore => DefaultFailurePolicy::Ignore,
                },
                excluded_namespaces: config.admission.excluded_namespaces.clone(),
                actions: dispatcher.clone(),
            },
            certificate_poll: std::time::Duration::from_secs(2),
            max_concurrent_evaluations: 64,
            limits: limits.clone(),
        };
        let cluster = lookups.clone().map(|cache| cache as Arc<dyn ClusterView>);
        let reads = Lookups { namespaces: Arc::clone(&namespaces), scaled, cluster };
        Some(admission::start(settings, sources.rules(), reads, metrics.clone()).await?)
    } else {
        None
    };

    // Rule counts for the metrics, and readiness once every source has loaded.
    let mut snapshots = sources.subscribe();
    let gauges = metrics.clone();
    let live_rules = sources.rules();
    let readiness = Arc::clone(&ready_sender);
    let acting_on = dispatcher.clone();
    let mut certificate = admission.as_ref().map(crate::admission::AdmissionServer::certificate_expiry);
    let rule_metrics = tokio::spawn(async move {
        // The time passes too: a certificate that was fine may be about to expire now.
        let mut clock = tokio::time::interval(std::time::Duration::from_secs(30));
        // What was in force at the last pass: the series of a rule or exception that left go
        // with it, so that churn cannot grow the metrics without bound.
        let mut known_rules = std::collections::BTreeSet::new();
        let mut known_exceptions = std::collections::BTreeSet::new();
        loop {
            let (rules_ready, rejected, exceptions) = {
                let snapshot = snapshots.borrow_and_update();
                let exceptions = snapshot.exceptions;
                (snapshot.ready, snapshot.problems.len().saturating_sub(exceptions.rejected), exceptions)
            };
            let set = live_rules.load();
            let disabled = set.rules().iter().filter(|rule| !rule.spec().enabled).count();
            gauges.set_rules_loaded(set.len() - disabled, rejected, disabled);
            gauges.set_exceptions(exceptions.active, exceptions.expired, exceptions.rejected);
            let in_force: std::collections::BTreeSet<String> =
                set.exceptions().exceptions().iter().map(|exception| exception.reference().to_owned()).collect();
            for gone in known_exceptions.difference(&in_force) {
                gauges.forget_exception(gone);
            }
            known_exceptions = in_force;
            let rules_in_force: std::collections::BTreeSet<String> =
                set.rules().iter().map(|rule| rule.name().to_owned()).collect();
            for gone in known_rules.difference(&rules_in_force) {
                gauges.forget_rule(gone);
            }
            if let Some(dispatcher) = &acting_on {
                dispatcher.follow_rules(&set);
            }
            known_rules = rules_in_force;
            let expiry = certificate.as_mut().and_then(|receiver| *receiver.borrow_and_update());
            let certificate_ok = certificate_usable(expiry);
            let _ = readiness.send(rules_ready && certificate_ok);
            let certificate_changed = async {
                match certificate.as_mut() {
                    Some(receiver) => receiver.changed().await.is_ok(),
                    None => std::future::pending().await,
                }
            };
            let mut watching_certificate = true;
            tokio::select! {
                changed = snapshots.changed() => if changed.is_err() { return },
                still = certificate_changed => watching_certificate = still,
                _ = clock.tick() => {}
            }
            if !watching_certificate {
                // The webhook is gone (shutting down): nothing more to learn about its certificate.
                certificate = None;
            }
        }
    });

    // The leader writes: the audit's reports, and the live webhook configuration's rules when
    // asked to.
    let leader = match &client {
        Some(client) if leads => Some(start_leader_work(client, config, &sources, &metrics, leadership)),
        _ => None,
    };
    let audit_run = match &client {
        Some(client) if audit => Some(
            crate::audit::start(
                crate::audit::AuditSettings {
                    workers: usize::try_from(config.audit.workers).unwrap_or(1),
                    counters_interval: crate::audit::AuditSettings::COUNTERS_INTERVAL,
                    report_api: match config.audit.report_api {
                        portal_config::ReportApiVersion::PolicyWg => portal_report::ReportApi::PolicyWg,
                        portal_config::ReportApiVersion::OpenReports => portal_report::ReportApi::OpenReports,
                    },
                },
                crate::audit::AuditInputs {
                    client: client.clone(),
                    rules: sources.rules(),
                    snapshots: sources.subscribe(),
                    namespaces,
                    leadership: leader.as_ref().map(|work| work.leadership.clone()),
                    metrics: metrics.clone(),
                    cluster: lookups.clone(),
                    network: network.clone(),
                    actions: actions.as_ref().map(|actions| actions.hand_off.clone()),
                },
            )
            .await,
        ),
        _ => None,
    };

    shutdown.await;
    tracing::info!("shutting down");
    // Not ready any more: the Pod leaves the Service's endpoints while the reviews in progress
    // are answered.
    rule_metrics.abort();
    let _ = ready_sender.send(false);
    if let Some(admission) = admission {
        let grace = config.admission.shutdown_grace_period.as_std();
        if admission.shut_down(grace).await {
            tracing::info!("admission: every review in progress was answered");
        }
    }
    // The audit stops writing, and actions stop, before the Lease is given up.
    drop(audit_run);
    drop(actions);
    if let Some(leader) = leader {
        leader.stop().await;
    }
    Ok(())
}

/// The election, and the webhook writer that runs while this replica leads.
struct LeaderWork {
    leadership: lease::Leadership,
    stop: tokio::sync::watch::Sender<bool>,
    election: tokio::task::JoinHandle<Result<(), lease::LeaseSettingsError>>,
    writer: Option<tokio::task::JoinHandle<()>>,
    gauge: tokio::task::JoinHandle<()>,
}

impl LeaderWork {
    /// Stops writing and gives the Lease up, so that another replica takes over at once.
    async fn stop(self) {
        if let Some(writer) = &self.writer {
            writer.abort();
        }
        self.gauge.abort();
        let _ = self.stop.send(true);
        match tokio::time::timeout(std::time::Duration::from_secs(5), self.election).await {
            Ok(Ok(Err(error))) => tracing::warn!("leader election: {error}"),
            Ok(_) => {}
            Err(_) => tracing::warn!("the lease was not given up within 5s; another replica takes it when it expires"),
        }
    }
}

fn start_leader_work(
    client: &kube::Client,
    config: &Config,
    sources: &RuleSources,
    metrics: &portal_metrics::Metrics,
    leadership: lease::Leadership,
) -> LeaderWork {
    let election = &config.leader_election;
    let settings = lease::LeaseSettings {
        namespace: election.namespace.clone(),
        name: election.lease_name.clone(),
        identity: identity(),
        lease_duration: election.lease_duration.as_std(),
        renew_deadline: election.renew_deadline.as_std(),
        retry_period: election.retry_period.as_std(),
    };
    tracing::info!(lease = %settings.name, namespace = %settings.namespace, identity = %settings.identity, "joining the leader election");
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let retry = settings.retry_period;
    let election = tokio::spawn(lease::run_election(client.clone(), settings, leadership.clone(), stopped));
    // Sampled rather than told: leadership also lapses by itself at the renew deadline.
    let (sampled, metrics) = (leadership.clone(), metrics.clone());
    let gauge = tokio::spawn(async move {
        loop {
            metrics.set_leader(sampled.is_leader());
            tokio::time::sleep(retry).await;
        }
    });
    let writer = config.admission.webhook_configuration.manage.then(|| {
        tokio::spawn(writers::keep_webhook_rules(
            client.clone(),
            config.admission.webhook_configuration.name.clone(),
            sources.rules(),
            sources.subscribe(),
            leadership.clone(),
            retry,
        ))
    });
    LeaderWork { leadership, stop, election, writer, gauge }
}

/// The namespaces actions never touch: those admission never evaluates, and Portal's own (of
/// its Lease and of its certificate Secret).
fn action_scope(config: &Config) -> crate::actions::ActionScope {
    let mut excluded: std::collections::HashSet<String> =
        config.admission.excluded_namespaces.iter().cloned().collect();
    excluded.insert(config.leader_election.namespace.clone());
    excluded.insert(config.admission.certificates.namespace.clone());
    crate::actions::ActionScope { excluded_namespaces: excluded }
}

/// This replica in the election: the host name (a Pod's name) and the process id.
fn identity() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|name| !name.is_empty())
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok().map(|name| name.trim().to_owned()))
        .unwrap_or_else(|| "portal".to_owned());
    format!("{host}_{}", std::process::id())
}

/// The rule engine's limits from `rules.limits`.
fn rule_limits(config: &portal_config::RuleLimitsConfig) -> portal_rules::RuleLimits {
    portal_rules::RuleLimits {
        max_iterations: config.max_iterations,
        // Exact for any limit a person writes (up to 2⁵³).
        max_estimated_cost: config.max_estimated_cost as f64,
        ..portal_rules::RuleLimits::default()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_configuration_defaults_to_the_rule_engines_own_limits() {
        let configured = super::rule_limits(&portal_config::RuleLimitsConfig::default());
        assert_eq!(configured, portal_rules::RuleLimits::default());
    }
}
