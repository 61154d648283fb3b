//! Leader election through a `coordination.k8s.io/v1` Lease, as client-go's `leaderelection`
//! does it: every replica runs an elector, one holds the Lease and renews it, the others take it
//! over once it has not been renewed for its duration.
//!
//! Time is measured on each replica's own monotonic clock, never by comparing its wall clock with
//! the timestamps another replica wrote: a candidate counts the lease duration from the moment *it
//! saw* the Lease record change, and a leader counts its renew deadline from the moment it *sent*
//! the renewal. Since the renew deadline is shorter than the lease duration, a leader that cannot
//! renew stops calling itself leader before any other replica may take the Lease, whatever the
//! clock skew between nodes (only their clock rates must agree).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, PostParams};
use tokio::sync::watch;

/// How a replica takes part in the election.
#[derive(Debug, Clone)]
pub struct LeaseSettings {
    pub namespace: String,
    pub name: String,
    /// This replica, as written into `holderIdentity` (the Pod name, usually).
    pub identity: String,
    /// How long a Lease stays held without a renewal before another replica may take it.
    pub lease_duration: Duration,
    /// How long a leader keeps calling itself leader after it last sent a successful renewal.
    /// Shorter than `lease_duration`.
    pub renew_deadline: Duration,
    /// How often the Lease is tried or renewed.
    pub retry_period: Duration,
}

/// The settings are inconsistent.
#[derive(Debug, thiserror::Error)]
pub enum LeaseSettingsError {
    #[error(
        "the renew deadline ({renew_deadline:?}) must be shorter than the lease duration ({lease_duration:?}), \
         or two replicas could both lead"
    )]
    RenewDeadline { renew_deadline: Duration, lease_duration: Duration },
    #[error("the retry period ({retry_period:?}) must be shorter than the renew deadline ({renew_deadline:?})")]
    RetryPeriod { retry_period: Duration, renew_deadline: Duration },
}

impl LeaseSettings {
    fn validate(&self) -> Result<(), LeaseSettingsError> {
        if self.renew_deadline >= self.lease_duration {
            return Err(LeaseSettingsError::RenewDeadline {
                renew_deadline: self.renew_deadline,
                lease_duration: self.lease_duration,
            });
        }
        if self.retry_period >= self.renew_deadline {
            return Err(LeaseSettingsError::RetryPeriod {
                retry_period: self.retry_period,
                renew_deadline: self.renew_deadline,
            });
        }
        Ok(())
    }
}

/// Whether this replica leads now. Cheap to clone and to ask.
#[derive(Debug, Clone, Default)]
pub struct Leadership {
    /// Leading until this instant; `None` when not leading.
    until: Arc<Mutex<Option<Instant>>>,
}

impl Leadership {
    /// True until the renew deadline after the last successful renewal passes, even if the
    /// elector has stalled meanwhile.
    pub fn is_leader(&self) -> bool {
        self.until.lock().is_ok_and(|until| until.is_some_and(|until| Instant::now() < until))
    }

    fn set(&self, until: Option<Instant>) {
        if let Ok(mut current) = self.until.lock() {
            *current = until;
        }
    }
}

/// What the elector last saw of the Lease, and when it saw it change.
#[derive(Debug, Clone, PartialEq)]
struct Observed {
    holder: Option<String>,
    renew_time: Option<MicroTime>,
    lease_duration_seconds: Option<i32>,
}

/// Runs the election until `stop` turns true; then gives the Lease up if this replica holds it,
/// so that another takes over at once rather than after the lease duration.
pub async fn run_election(
    client: kube::Client,
    settings: LeaseSettings,
    leadership: Leadership,
    mut stop: watch::Receiver<bool>,
) -> Result<(), LeaseSettingsError> {
    settings.validate()?;
    let api: Api<Lease> = Api::namespaced(client, &settings.namespace);
    let mut elector = Elector { api, settings, leadership, observed: None };
    loop {
        let attempt = Instant::now();
        match elector.try_acquire_or_renew().await {
            Ok(true) => {
                if !elector.leadership.is_leader() {
                    tracing::info!(lease = %elector.settings.name, identity = %elector.settings.identity, "became the leader");
                }
                elector.leadership.set(Some(attempt + elector.settings.renew_deadline));
            }
            Ok(false) => {
                if elector.leadership.is_leader() {
                    tracing::warn!(lease = %elector.settings.name, "lost the lease to another replica");
                }
                elector.leadership.set(None);
            }
            // Leadership, if held, lapses by itself at the renew deadline.
            Err(error) => tracing::warn!(lease = %elector.settings.name, "could not read or renew the lease: {error}"),
        }
        tokio::select! {
            () = tokio::time::sleep(elector.settings.retry_period) => {}
            _ = stop.wait_for(|stop| *stop) => break,
        }
    }
    elector.release().await;
    Ok(())
}

struct Elector {
    api: Api<Lease>,
    settings: LeaseSettings,
    leadership: Leadership,
    /// The record last seen, and the instant it was first seen.
    observed: Option<(Observed, Instant)>,
}

impl Elector {
    /// `true` when this replica holds the Lease after the attempt.
    async fn try_acquire_or_renew(&mut self) -> Result<bool, kube::Error> {
        let now = MicroTime(k8s_openapi::jiff::Timestamp::now());
        let Some(mut lease) = self.api.get_opt(&self.settings.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.settings.name.clone()),
                    namespace: Some(self.settings.namespace.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(self.spec(now.clone(), now, 0)),
            };
            return conflict_is_lost(self.api.create(&PostParams::default(), &lease).await);
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let seen = Observed {
            holder: spec.holder_identity.clone().filter(|holder| !holder.is_empty()),
            renew_time: spec.renew_time.clone(),
            lease_duration_seconds: spec.lease_duration_seconds,
        };
        let seen_at = match &self.observed {
            Some((observed, at)) if *observed == seen => *at,
            _ => Instant::now(),
        };
        self.observed = Some((seen.clone(), seen_at));
        let mine = seen.holder.as_deref() == Some(self.settings.identity.as_str());
        if let Some(holder) = &seen.holder
            && !mine
        {
            let duration = seen
                .lease_duration_seconds
                .and_then(|seconds| u64::try_from(seconds).ok())
                .map_or(self.settings.lease_duration, Duration::from_secs);
            if seen_at.elapsed() < duration {
                tracing::debug!(lease = %self.settings.name, %holder, "the lease is held by another replica");
                return Ok(false);
            }
        }
        let (acquired, transitions) = if mine {
            (spec.acquire_time.unwrap_or_else(|| now.clone()), spec.lease_transitions.unwrap_or(0))
        } else {
            (now.clone(), spec.lease_transitions.unwrap_or(0).saturating_add(1))
        };
        lease.spec = Some(self.spec(acquired, now, transitions));
        // The resourceVersion read above makes this a compare-and-swap: a replica that took the
        // Lease meanwhile makes it fail with a conflict.
        conflict_is_lost(self.api.replace(&self.settings.name, &PostParams::default(), &lease).await)
    }

    fn spec(&self, acquired: MicroTime, renewed: MicroTime, transitions: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(self.settings.identity.clone()),
            lease_duration_seconds: Some(
                i32::try_from(self.settings.lease_duration.as_secs().max(1)).unwrap_or(i32::MAX),
            ),
            acquire_time: Some(acquired),
            renew_time: Some(renewed),
            lease_transitions: Some(transitions),
            ..LeaseSpec::default()
        }
    }

    /// Gives the Lease up: no holder, a one-second duration, so that another replica takes it
    /// at its next try.
    async fn release(&mut self) {
        if !self.leadership.is_leader() {
            return;
        }
        self.leadership.set(None);
        let Ok(Some(mut lease)) = self.api.get_opt(&self.settings.name).await else { return };
        let Some(spec) = lease.spec.as_mut() else { return };
        if spec.holder_identity.as_deref() != Some(self.settings.identity.as_str()) {
            return;
        }
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        spec.renew_time = Some(MicroTime(k8s_openapi::jiff::Timestamp::now()));
        match self.api.replace(&self.settings.name, &PostParams::default(), &lease).await {
            Ok(_) => tracing::info!(lease = %self.settings.name, "gave up the lease"),
            Err(error) => tracing::warn!(lease = %self.settings.name, "could not give up the lease: {error}"),
        }
    }
}

/// A conflict (another replica wrote first) means the attempt lost, not that it failed.
fn conflict_is_lost(result: Result<Lease, kube::Error>) -> Result<bool, kube::Error> {
    match result {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(status)) if status.is_conflict() || status.is_already_exists() => Ok(false),
        Err(error) => Err(error),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn settings(lease: u64, renew: u64, retry: u64) -> LeaseSettings {
        LeaseSettings {
            namespace: "portal".to_owned(),
            name: "portal".to_owned(),
            identity: "a".to_owned(),
            lease_duration: Duration::from_millis(lease),
            renew_deadline: Duration::from_millis(renew),
            retry_period: Duration::from_millis(retry),
        }
    }

    #[test]
    fn settings_that_could_let_two_replicas_lead_are_refused() {
        assert!(settings(15_000, 10_000, 2_000).validate().is_ok());
        let error = settings(10_000, 10_000, 2_000).validate().unwrap_err().to_string();
        assert!(error.contains("must be shorter than the lease duration"), "{error}");
        assert!(settings(15_000, 10_000, 10_000).validate().is_err());
    }

    #[test]
    fn leadership_lapses_at_its_deadline_without_any_call() {
        let leadership = Leadership::default();
        assert!(!leadership.is_leader());
        leadership.set(Some(Instant::now() + Duration::from_millis(50)));
        assert!(leadership.is_leader());
        std::thread::sleep(Duration::from_millis(80));
        assert!(!leadership.is_leader(), "a stalled elector must not keep leading");
    }
}
