//! One Alertmanager's queue and the task that drains it: updates coalesce by alert (the newest
//! state of an alert replaces an older one still waiting), the queue is bounded (a full queue
//! refuses firing updates, counted, which the sink offers again at their refresh; resolutions
//! take precedence), and a failed batch is retried with backoff, so an Alertmanager that was
//! down receives every alert's current state when it returns.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use serde_json::Value as Json;
use tokio::sync::Notify;

use super::client::Endpoint;

/// Alerts per POST.
const BATCH: usize = 64;
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// An Alertmanager that returns gets the queue within this, and a retry costs it one small POST.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// What an update says, which decides what a full queue gives up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Update {
    /// The alert fires: the sink sends it again at its next refresh if this one is refused.
    Firing,
    /// The alert ended: sent once, so it may push out a waiting `Firing` update.
    Resolved,
}

/// Updates waiting for one Alertmanager, newest per alert.
#[derive(Debug, Default)]
struct Pending {
    order: VecDeque<String>,
    alerts: HashMap<String, (Json, Update)>,
}

/// The queue of one Alertmanager; the draining task holds the other end.
#[derive(Debug, Clone)]
pub(crate) struct Sender {
    endpoint: Endpoint,
    pending: Arc<Mutex<Pending>>,
    capacity: usize,
    wake: Arc<Notify>,
    /// Whether the queue overflowed since the last successful send (one warning per outage).
    overflowing: Arc<AtomicBool>,
    metrics: portal_metrics::Metrics,
}

impl Sender {
    pub(crate) fn new(endpoint: Endpoint, capacity: usize, metrics: portal_metrics::Metrics) -> Self {
        metrics.declare_alertmanager(&endpoint.url);
        Self {
            endpoint,
            pending: Arc::default(),
            capacity: capacity.max(1),
            wake: Arc::default(),
            overflowing: Arc::default(),
            metrics,
        }
    }

    /// Queues the newest state of the alert `key`; false when the queue is full and refused it
    /// (counted as dropped). A full queue refuses `Firing` updates, which the sink offers again
    /// at their next refresh; a `Resolved` one takes the place of the oldest `Firing` update.
    pub(crate) fn push(&self, key: &str, alert: Json, update: Update) -> bool {
        let accepted = {
            let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(waiting) = pending.alerts.get_mut(key) {
                *waiting = (alert, update);
                true
            } else if pending.order.len() < self.capacity {
                pending.order.push_back(key.to_owned());
                pending.alerts.insert(key.to_owned(), (alert, update));
                true
            } else if update == Update::Resolved
                && let Some(position) = pending
                    .order
                    .iter()
                    .position(|waiting| pending.alerts.get(waiting).is_some_and(|(_, u)| *u == Update::Firing))
            {
                if let Some(evicted) = pending.order.remove(position) {
                    pending.alerts.remove(&evicted);
                }
                pending.order.push_back(key.to_owned());
                pending.alerts.insert(key.to_owned(), (alert, update));
                self.dropped();
                true
            } else {
                false
            }
        };
        if accepted {
            self.wake.notify_one();
        } else {
            self.dropped();
        }
        accepted
    }

    fn dropped(&self) {
        self.metrics.alerts_dropped(&self.endpoint.url, 1);
        if !self.overflowing.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                alertmanager = %self.endpoint.url,
                "alerting: the queue is full (alerting.alertmanager.queueSize): alert updates are dropped \
                 (counted in portal_alerts_dropped_total); firing alerts are offered again at their refresh"
            );
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner).order.len()
    }

    fn take_batch(&self) -> Vec<(String, (Json, Update))> {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        let mut batch = Vec::new();
        while batch.len() < BATCH {
            let Some(key) = pending.order.pop_front() else { break };
            if let Some(alert) = pending.alerts.remove(&key) {
                batch.push((key, alert));
            }
        }
        batch
    }

    /// Puts a failed batch back in front, unless newer states of its alerts arrived meanwhile.
    fn put_back(&self, batch: Vec<(String, (Json, Update))>) {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        let mut dropped = 0;
        for (key, alert) in batch.into_iter().rev() {
            if pending.alerts.contains_key(&key) {
                continue;
            }
            if pending.order.len() >= self.capacity {
                dropped += 1;
                continue;
            }
            pending.order.push_front(key.clone());
            pending.alerts.insert(key, alert);
        }
        drop(pending);
        for _ in 0..dropped {
            self.dropped();
        }
    }

    /// Drains the queue for as long as the task runs.
    pub(crate) async fn run(self) {
        let mut backoff = FIRST_BACKOFF;
        loop {
            let batch = self.take_batch();
            if batch.is_empty() {
                self.wake.notified().await;
                continue;
            }
            let body = Json::Array(batch.iter().map(|(_, (alert, _))| alert.clone()).collect());
            let result = self.endpoint.post(Bytes::from(body.to_string())).await;
            self.metrics.alertmanager_send(&self.endpoint.url, result.is_ok());
            match result {
                Ok(()) => {
                    tracing::debug!(alertmanager = %self.endpoint.url, alerts = batch.len(), "alerting: sent");
                    backoff = FIRST_BACKOFF;
                    self.overflowing.store(false, Ordering::Relaxed);
                }
                Err(error) => {
                    // One warning per outage; the retries after it at debug level.
                    if backoff == FIRST_BACKOFF {
                        tracing::warn!(
                            alertmanager = %self.endpoint.url,
                            alerts = batch.len(),
                            "alerting: sending failed, retrying with backoff until it answers: {error}"
                        );
                    } else {
                        tracing::debug!(alertmanager = %self.endpoint.url, retry_in = ?backoff, "alerting: still failing: {error}");
                    }
                    self.put_back(batch);
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::alerts::client::Auth;

    #[test]
    fn a_full_queue_refuses_firing_updates_and_makes_room_for_resolutions() {
        let endpoint = Endpoint::new("http://127.0.0.1:9", None, Auth::None, Duration::from_secs(1)).unwrap();
        let metrics = portal_metrics::Metrics::new().unwrap();
        let sender = Sender::new(endpoint, 2, metrics.clone());
        assert!(sender.push("a", Json::from(1), Update::Firing));
        assert!(sender.push("b", Json::from(1), Update::Firing));
        // The same alert again replaces its waiting update.
        assert!(sender.push("a", Json::from(2), Update::Firing));
        assert!(!sender.push("c", Json::from(1), Update::Firing), "full");
        assert!(sender.push("d", Json::from(1), Update::Resolved), "a resolution pushes out the oldest firing update");
        let batch: Vec<(String, Json)> =
            sender.take_batch().into_iter().map(|(key, (alert, _))| (key, alert)).collect();
        assert_eq!(batch, [("b".to_owned(), Json::from(1)), ("d".to_owned(), Json::from(1))]);
        let dropped = "portal_alerts_dropped_total{alertmanager=\"http://127.0.0.1:9\"} 2";
        assert!(metrics.encode().contains(dropped), "{}", metrics.encode());
    }
}
