//! `PortalClusterException` and `PortalException` resources as a source of exceptions: watched,
//! turned into [`LoadedException`]s, and given a status that says whether each is in force,
//! expired or rejected.

use std::collections::BTreeMap;
use std::time::SystemTime;

use kube::Api;
use portal_rules::exception::{ExceptionSet, LoadedException, exception_from_document};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::event::{ExceptionEvent, ResourceKind, SourceEvent, SourceProblem};
use super::known::Known;
use super::status::{desired_exception_status, same_exception_status};
use super::watching::{Absent, Change, resource_event, watch_resources};
use crate::api::{ExceptionResourceKey, ExceptionStatus, PortalClusterException, PortalException};
use crate::writers::write_exception_status;

/// How many exceptions are in each state, for the metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExceptionCounts {
    pub active: usize,
    pub expired: usize,
    pub rejected: usize,
}

impl ExceptionCounts {
    /// The exceptions of `set` in force and expired at `now`, and `rejected` others.
    pub(crate) fn of(set: &ExceptionSet, rejected: usize, now: SystemTime) -> ExceptionCounts {
        let expired = set.exceptions().iter().filter(|exception| exception.is_expired(now)).count();
        ExceptionCounts { active: set.exceptions().len() - expired, expired, rejected }
    }
}

/// The exception resources known, and what was last written to their status.
pub(crate) type ClusterExceptions = Known<ExceptionResourceKey, ExceptionStatus>;

impl ClusterExceptions {
    /// Every valid exception resource, in a stable order (cluster-wide first, then by namespace
    /// and name), and the problems of the others.
    pub fn loaded_exceptions(&mut self) -> (Vec<LoadedException>, Vec<SourceProblem>) {
        self.read_all(|_, document| exception_from_document(document))
    }

    /// Writes the status of every exception resource whose status changed.
    pub async fn write_status(
        &mut self,
        compile_errors: &BTreeMap<String, portal_rules::Error>,
        set: &ExceptionSet,
        now: SystemTime,
    ) {
        let Some(client) = self.client.clone() else { return };
        for (key, resource) in &mut self.resources {
            let reference = key.to_string();
            let error = self.spec_errors.get(key).or_else(|| compile_errors.get(&reference));
            let in_force = set.exceptions().iter().find(|exception| exception.reference() == reference);
            let desired = desired_exception_status(resource.generation, resource.status.as_ref(), error, in_force, now);
            if resource.status.as_ref().is_some_and(|current| same_exception_status(current, &desired)) {
                continue;
            }
            match write_exception_status(&client, key, &desired).await {
                Ok(()) => resource.status = Some(desired),
                Err(error) => tracing::warn!(resource = %key, "writing exception status failed: {error}"),
            }
        }
    }
}

/// Starts one watcher per exception kind.
pub(crate) fn spawn_watchers(client: kube::Client, events: mpsc::Sender<SourceEvent>) -> Vec<JoinHandle<()>> {
    vec![
        tokio::spawn(watch_resources(
            Api::<PortalClusterException>::all(client.clone()),
            "PortalClusterException",
            events.clone(),
            |change| exception_event(change, ResourceKind::Cluster),
        )),
        tokio::spawn(watch_resources(Api::<PortalException>::all(client), "PortalException", events, |change| {
            exception_event(change, ResourceKind::Namespaced)
        })),
    ]
}

fn exception_event<K: kube::Resource + serde::Serialize>(change: Change<K>, kind: ResourceKind) -> Option<SourceEvent> {
    Some(SourceEvent::Exceptions(match resource_event(change, kind)? {
        Ok(event) => event,
        // Without the exception CRDs there are no exceptions; the rules are enforced in full and
        // readiness does not wait for a kind that cannot be listed.
        Err(Absent) => ExceptionEvent::Listed(kind, Vec::new()),
    }))
}
