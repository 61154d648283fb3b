//! The Alertmanager sink (SPEC §7): one alert per (rule, object, container), sent to every
//! configured Alertmanager, refreshed while its violation lasts and resolved — sent again with
//! `endsAt` now — when it clears or its object or rule goes away.
//!
//! - [`client`]: one POST to one Alertmanager;
//! - [`sender`]: one Alertmanager's bounded, coalescing queue and its retrying task;
//! - this module: the alerts firing now, their refresh and resolution.
//!
//! A firing alert carries `endsAt` three refresh intervals ahead, so that alerts Portal stops
//! refreshing (Portal stopped, or lost leadership to a replica that does not see the violation)
//! resolve by themselves. Admission alerts are events: sent once, ending one interval later.

pub mod client;
mod sender;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Map, Value as Json, json};

use crate::subject::{Source, Subject, Violation};
use sender::{Sender, Update};

/// Alerts kept firing at most: more violations than this are counted as dropped alerts.
pub const MAX_FIRING: usize = 100_000;

/// How often firing alerts are checked for a due refresh.
const REFRESH_TICK: Duration = Duration::from_millis(500);

/// What one alert says.
#[derive(Debug, Clone)]
pub struct AlertSpec<'a> {
    pub alertname: &'a str,
    pub rule: &'a str,
    pub severity: &'a str,
    pub source: Source,
    pub subject: &'a Subject,
    pub violation: &'a Violation,
}

#[derive(Debug)]
struct Firing {
    rule: String,
    subject: String,
    labels: Map<String, Json>,
    annotations: Map<String, Json>,
    starts_at: SystemTime,
    interval: Duration,
    last_sent: Instant,
    /// Admission alerts are not refreshed: they end one interval after they were sent.
    refreshed: bool,
}

impl Firing {
    fn alert(&self, ends_at: SystemTime) -> Json {
        json!({
            "labels": self.labels,
            "annotations": self.annotations,
            "startsAt": portal_rules::format_rfc3339(self.starts_at),
            "endsAt": portal_rules::format_rfc3339(ends_at),
        })
    }
}

/// Whether [`AlertSink::fire`] sent something new.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fired {
    /// A new alert, sent.
    New,
    /// Already firing: it is refreshed on its schedule.
    AlreadyFiring,
    /// [`MAX_FIRING`] alerts are firing: not sent.
    Full,
}

/// The alerts firing now and the Alertmanagers they go to. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AlertSink {
    firing: Arc<Mutex<HashMap<String, Firing>>>,
    senders: Arc<[Sender]>,
    metrics: portal_metrics::Metrics,
}

impl AlertSink {
    /// A sink sending to `endpoints`, each with a queue of `queue_size` alert updates; the
    /// returned tasks send and refresh until they are dropped.
    pub fn start(
        endpoints: Vec<client::Endpoint>,
        queue_size: usize,
        metrics: portal_metrics::Metrics,
    ) -> (Self, Vec<tokio::task::JoinHandle<()>>) {
        let senders: Vec<Sender> =
            endpoints.into_iter().map(|endpoint| Sender::new(endpoint, queue_size, metrics.clone())).collect();
        let mut tasks: Vec<tokio::task::JoinHandle<()>> =
            senders.iter().map(|sender| tokio::spawn(sender.clone().run())).collect();
        let sink = Self { firing: Arc::default(), senders: senders.into(), metrics };
        let refreshing = sink.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                tokio::time::sleep(REFRESH_TICK).await;
                refreshing.refresh(Instant::now());
            }
        }));
        (sink, tasks)
    }

    /// Whether there is any Alertmanager to send to.
    pub fn has_receivers(&self) -> bool {
        !self.senders.is_empty()
    }

    /// Alert updates waiting, over every Alertmanager.
    pub fn pending(&self) -> usize {
        self.senders.iter().map(Sender::len).sum()
    }

    /// Fires the alert of `spec`, refreshed every `interval` while it lasts (admission alerts:
    /// sent once, ending after `interval`).
    pub fn fire(&self, spec: &AlertSpec<'_>, interval: Duration) -> Fired {
        let key = alert_key(spec.rule, &spec.subject.key(), spec.violation.container.as_deref());
        let now = Instant::now();
        let refreshed = !matches!(spec.source, Source::Admission { .. });
        let update = {
            let mut firing = self.firing.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(known) = firing.get(&key) {
                // An admission alert is an event: the same again after it ended is a new one.
                if known.refreshed || now < known.last_sent + known.interval {
                    return Fired::AlreadyFiring;
                }
            }
            if firing.len() >= MAX_FIRING && !firing.contains_key(&key) {
                return Fired::Full;
            }
            let (labels, annotations) = describe(spec);
            let entry = Firing {
                rule: spec.rule.to_owned(),
                subject: spec.subject.key(),
                labels,
                annotations,
                starts_at: SystemTime::now(),
                interval,
                last_sent: now,
                refreshed,
            };
            let ends_at = SystemTime::now() + if refreshed { interval * 3 } else { interval };
            let alert = entry.alert(ends_at);
            firing.insert(key.clone(), entry);
            self.metrics.set_alerts_firing(firing.values().filter(|entry| entry.refreshed).count());
            alert
        };
        if !self.send(&key, update, Update::Firing) {
            // A full queue refused it: offered again at the next refresh tick.
            let mut firing = self.firing.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(entry) = firing.get_mut(&key).filter(|entry| entry.refreshed) {
                entry.last_sent = now.checked_sub(entry.interval).unwrap_or(now);
            }
        }
        Fired::New
    }

    /// Resolves the alerts of `rule` on the object `subject` (a key, [`Subject::key`]) but for
    /// those of the containers in `still_violating`.
    pub fn resolve(&self, rule: &str, subject: &str, still_violating: &[Option<&str>]) -> usize {
        self.resolve_where(|firing, key| {
            firing.refreshed
                && firing.rule == rule
                && firing.subject == subject
                && !still_violating.iter().any(|container| alert_key(rule, subject, *container) == key)
        })
    }

    /// Resolves every alert about the object `subject` (it was deleted).
    pub fn resolve_object(&self, subject: &str) -> usize {
        self.resolve_where(|firing, _| firing.refreshed && firing.subject == subject)
    }

    /// Resolves the alerts of rules `keep` refuses (they left the rule set).
    pub fn retain_rules(&self, keep: impl Fn(&str) -> bool) -> usize {
        self.resolve_where(|firing, _| firing.refreshed && !keep(&firing.rule))
    }

    fn resolve_where(&self, resolved: impl Fn(&Firing, &str) -> bool) -> usize {
        let now = SystemTime::now();
        let updates: Vec<(String, Json)> = {
            let mut firing = self.firing.lock().unwrap_or_else(PoisonError::into_inner);
            let keys: Vec<String> =
                firing.iter().filter(|(key, entry)| resolved(entry, key)).map(|(key, _)| key.clone()).collect();
            let updates =
                keys.into_iter().filter_map(|key| firing.remove(&key).map(|entry| (key, entry.alert(now)))).collect();
            self.metrics.set_alerts_firing(firing.values().filter(|entry| entry.refreshed).count());
            updates
        };
        for (key, alert) in &updates {
            self.send(key, alert.clone(), Update::Resolved);
        }
        updates.len()
    }

    /// Sends again the alerts whose interval has passed, the longest waiting first, until a
    /// queue is full (the rest stay due, first in line at the next tick); forgets admission
    /// alerts that ended.
    fn refresh(&self, now: Instant) {
        let mut due: Vec<(Instant, String, Json)> = {
            let mut firing = self.firing.lock().unwrap_or_else(PoisonError::into_inner);
            firing.retain(|_, entry| entry.refreshed || now < entry.last_sent + entry.interval);
            firing
                .iter()
                .filter(|(_, entry)| entry.refreshed && now >= entry.last_sent + entry.interval)
                .map(|(key, entry)| (entry.last_sent, key.clone(), entry.alert(SystemTime::now() + entry.interval * 3)))
                .collect()
        };
        due.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
        let mut sent = Vec::new();
        for (_, key, alert) in due {
            if !self.send(&key, alert, Update::Firing) {
                break;
            }
            sent.push(key);
        }
        let mut firing = self.firing.lock().unwrap_or_else(PoisonError::into_inner);
        for key in sent {
            if let Some(entry) = firing.get_mut(&key) {
                entry.last_sent = now;
            }
        }
    }

    /// Queues `alert` for every Alertmanager: whether all of them took it.
    fn send(&self, key: &str, alert: Json, update: Update) -> bool {
        let mut accepted = true;
        for sender in self.senders.iter() {
            accepted &= sender.push(key, alert.clone(), update);
        }
        accepted
    }
}

fn alert_key(rule: &str, subject: &str, container: Option<&str>) -> String {
    format!("{rule}\u{0}{subject}\u{0}{}", container.unwrap_or(""))
}

/// The labels and annotations of SPEC §7. `container` is a label too when there is one: alerts
/// with equal labels are one alert to Alertmanager, and each container's violation is its own.
fn describe(spec: &AlertSpec<'_>) -> (Map<String, Json>, Map<String, Json>) {
    let subject = spec.subject;
    let mut labels = Map::new();
    let mut label = |name: &str, value: &str| {
        if !value.is_empty() {
            labels.insert(name.to_owned(), Json::String(value.to_owned()));
        }
    };
    label("alertname", spec.alertname);
    label("rule", spec.rule);
    label("severity", spec.severity);
    label("mode", spec.source.mode());
    label("kind", &subject.kind);
    label("namespace", subject.namespace.as_deref().unwrap_or(""));
    label("name", &subject.name);
    label("container", spec.violation.container.as_deref().unwrap_or(""));
    let mut annotations = Map::new();
    annotations.insert("summary".into(), Json::String(spec.violation.message.clone()));
    annotations.insert(
        "description".into(),
        Json::String(format!(
            "Portal rule {} ({}) found a violation on {} during {}: {}",
            spec.rule,
            spec.severity,
            subject.display(),
            spec.source.mode(),
            spec.violation.message
        )),
    );
    if let Some(container) = &spec.violation.container {
        annotations.insert("container".into(), Json::String(container.clone()));
    }
    if let Source::Admission { operation } = spec.source {
        annotations.insert("operation".into(), Json::String(operation.to_owned()));
    }
    (labels, annotations)
}
