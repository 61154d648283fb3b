//! One Alertmanager's queue and the task that drains it: updates coalesce by alert (the newest
//! state of an alert replaces an older one still waiting), the queue is bounded (the oldest
//! update goes first, counted), and a failed batch is retried with exponential backoff, so an
//! Alertmanager that was down receives every alert's current state when it returns.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use serde_json::Value as Json;
use tokio::sync::Notify;

use super::client::Endpoint;

/// Alerts per POST.
const BATCH: usize = 64;
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Updates waiting for one Alertmanager, newest per alert.
#[derive(Debug, Default)]
struct Pending {
    order: VecDeque<String>,
    alerts: HashMap<String, Json>,
}

/// The queue of one Alertmanager; the draining task holds the other end.
#[derive(Debug, Clone)]
pub(crate) struct Sender {
    endpoint: Endpoint,
    pending: Arc<Mutex<Pending>>,
    capacity: usize,
    wake: Arc<Notify>,
    metrics: portal_metrics::Metrics,
}

impl Sender {
    pub(crate) fn new(endpoint: Endpoint, capacity: usize, metrics: portal_metrics::Metrics) -> Self {
        metrics.declare_alertmanager(&endpoint.url);
        Self { endpoint, pending: Arc::default(), capacity: capacity.max(1), wake: Arc::default(), metrics }
    }

    /// Queues the newest state of the alert `key`.
    pub(crate) fn push(&self, key: &str, alert: Json) {
        let mut dropped = 0;
        {
            let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(waiting) = pending.alerts.get_mut(key) {
                *waiting = alert;
            } else {
                while pending.order.len() >= self.capacity {
                    if let Some(oldest) = pending.order.pop_front() {
                        pending.alerts.remove(&oldest);
                        dropped += 1;
                    }
                }
                pending.order.push_back(key.to_owned());
                pending.alerts.insert(key.to_owned(), alert);
            }
        }
        if dropped > 0 {
            self.metrics.alerts_dropped(&self.endpoint.url, dropped);
            tracing::warn!(
                alertmanager = %self.endpoint.url,
                dropped,
                "alerting: the queue is full (alerting.alertmanager.queueSize): the oldest alert updates were dropped"
            );
        }
        self.wake.notify_one();
    }

    pub(crate) fn len(&self) -> usize {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner).order.len()
    }

    fn take_batch(&self) -> Vec<(String, Json)> {
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
    fn put_back(&self, batch: Vec<(String, Json)>) {
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
        if dropped > 0 {
            self.metrics.alerts_dropped(&self.endpoint.url, dropped);
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
            let body = Json::Array(batch.iter().map(|(_, alert)| alert.clone()).collect());
            let result = self.endpoint.post(Bytes::from(body.to_string())).await;
            self.metrics.alertmanager_send(&self.endpoint.url, result.is_ok());
            match result {
                Ok(()) => {
                    tracing::debug!(alertmanager = %self.endpoint.url, alerts = batch.len(), "alerting: sent");
                    backoff = FIRST_BACKOFF;
                }
                Err(error) => {
                    tracing::warn!(
                        alertmanager = %self.endpoint.url,
                        alerts = batch.len(),
                        retry_in = ?backoff,
                        "alerting: sending failed, retrying: {error}"
                    );
                    self.put_back(batch);
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }
}
