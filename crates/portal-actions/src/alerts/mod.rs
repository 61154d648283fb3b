//! The Alertmanager sink (SPEC §7): one alert per (rule, object, container), sent to every
//! configured Alertmanager, refreshed while its violation lasts and resolved — sent again with
//! `endsAt` now — when it clears or its object or rule goes away.
//!
//! - [`client`]: one POST to one Alertmanager;
//! - [`sender`]: one Alertmanager's bounded, coalescing queue and its retrying task;
//! - this module: the alerts firing now, their refresh and resolution.
//!
//! A firing alert carries `endsAt` three refresh intervals (at least a minute) ahead, so that
//! alerts Portal stops refreshing (Portal stopped, or lost leadership) resolve by themselves.
//! Admission alerts are events: sent once, ending one interval later, from any replica.

pub mod client;
mod sender;

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Map, Value as Json, json};

use crate::keyed::Keyed;
use crate::leading::Leading;
use crate::subject::{Source, Subject, Violation};
use sender::{Sender, Update};

/// Alerts kept firing at most: more violations than this are counted as dropped alerts.
pub const MAX_FIRING: usize = 100_000;

/// Admission alerts remembered at most (to send each once per interval).
pub const MAX_ADMISSION_ALERTS: usize = 10_000;

/// How often firing alerts are checked for a due refresh.
const REFRESH_TICK: Duration = Duration::from_millis(500);

/// A firing alert ends at least this long after it was last sent, so that retries to a slow
/// Alertmanager (10 s apart at most) and their timeouts never let it lapse between refreshes.
const MIN_LIFETIME: Duration = Duration::from_secs(60);

/// What one alert says.
#[derive(Debug, Clone)]
pub struct AlertSpec<'a> {
    pub alertname: &'a str,
    pub rule: &'a str,
    /// The position of the alerting action in the rule: a rule with two alerts sends both.
    pub action: usize,
    pub severity: &'a str,
    pub source: Source,
    pub subject: &'a Subject,
    pub violation: &'a Violation,
}

/// An alert's key within its rule on its object: the action's position and the container.
type AlertKey = (usize, String);

#[derive(Debug)]
struct Firing {
    labels: Map<String, Json>,
    annotations: Map<String, Json>,
    starts_at: SystemTime,
    interval: Duration,
    /// When each Alertmanager (by position) last took it.
    last_sent: Vec<Instant>,
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

    /// `endsAt` of a firing alert sent now.
    fn ends_at(&self) -> SystemTime {
        let lifetime = if self.refreshed { (self.interval * 3).max(MIN_LIFETIME) } else { self.interval };
        SystemTime::now() + lifetime
    }
}

/// Whether [`AlertSink::fire`] sent something new.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fired {
    /// A new alert, sent.
    New,
    /// Already firing: it is refreshed on its schedule.
    AlreadyFiring,
    /// [`MAX_FIRING`] alerts are firing (or [`MAX_ADMISSION_ALERTS`] admission alerts are
    /// remembered): not sent.
    Full,
}

#[derive(Debug, Default)]
struct Table {
    firing: Keyed<AlertKey, Firing>,
    /// How many of `firing` are refreshed (not admission events).
    refreshed: usize,
}

/// The alerts firing now and the Alertmanagers they go to. Cheap to clone.
#[derive(Clone)]
pub struct AlertSink {
    table: Arc<Mutex<Table>>,
    senders: Arc<[Sender]>,
    metrics: portal_metrics::Metrics,
    leading: Leading,
}

impl std::fmt::Debug for AlertSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertSink").field("senders", &self.senders.len()).finish_non_exhaustive()
    }
}

impl AlertSink {
    /// A sink sending to `endpoints`, each with a queue of `queue_size` alert updates, refreshing
    /// while `leading` says this replica leads; the returned tasks send and refresh until they
    /// are dropped.
    pub fn start(
        endpoints: Vec<client::Endpoint>,
        queue_size: usize,
        metrics: portal_metrics::Metrics,
        leading: Leading,
    ) -> (Self, Vec<tokio::task::JoinHandle<()>>) {
        let senders: Vec<Sender> =
            endpoints.into_iter().map(|endpoint| Sender::new(endpoint, queue_size, metrics.clone())).collect();
        let mut tasks: Vec<tokio::task::JoinHandle<()>> =
            senders.iter().map(|sender| tokio::spawn(sender.clone().run())).collect();
        let sink = Self { table: Arc::default(), senders: senders.into(), metrics, leading };
        let refreshing = sink.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                tokio::time::sleep(REFRESH_TICK).await;
                refreshing.refresh(Instant::now());
            }
        }));
        (sink, tasks)
    }

    fn table(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether there is any Alertmanager to send to.
    pub fn has_receivers(&self) -> bool {
        !self.senders.is_empty()
    }

    /// Alert updates waiting, over every Alertmanager.
    pub fn pending(&self) -> usize {
        self.senders.iter().map(Sender::len).sum()
    }

    /// Whether the admission alert of this violation was sent within its interval.
    pub fn admission_alert_known(&self, rule: &str, subject: &Subject, action: usize, violation: &Violation) -> bool {
        let key = (action, violation.container.clone().unwrap_or_default());
        self.table().firing.get(&subject.key(), rule, &key).is_some_and(|known| !known.refreshed)
    }

    /// Fires the alert of `spec`, refreshed every `interval` while it lasts (admission alerts:
    /// sent once, ending after `interval`).
    pub fn fire(&self, spec: &AlertSpec<'_>, interval: Duration) -> Fired {
        let object = spec.subject.key();
        let key: AlertKey = (spec.action, spec.violation.container.clone().unwrap_or_default());
        let now = Instant::now();
        let refreshed = !matches!(spec.source, Source::Admission { .. });
        let alert = {
            let mut table = self.table();
            if let Some(known) = table.firing.get(&object, spec.rule, &key) {
                // An admission alert is an event: the same again after it ended is a new one.
                if known.refreshed || known.last_sent.iter().any(|sent| now < *sent + known.interval) {
                    return Fired::AlreadyFiring;
                }
            }
            let admission_alerts = table.firing.len() - table.refreshed;
            if (refreshed && table.refreshed >= MAX_FIRING) || (!refreshed && admission_alerts >= MAX_ADMISSION_ALERTS)
            {
                return Fired::Full;
            }
            let (labels, annotations) = describe(spec);
            let entry = Firing {
                labels,
                annotations,
                starts_at: SystemTime::now(),
                interval,
                last_sent: vec![now; self.senders.len()],
                refreshed,
            };
            let alert = entry.alert(entry.ends_at());
            if table.firing.insert(&object, spec.rule, key.clone(), entry).is_none() && refreshed {
                table.refreshed += 1;
            }
            self.metrics.set_alerts_firing(table.refreshed);
            alert
        };
        let name = alert_name(spec.rule, &object, &key);
        let refused = self.send(&name, &alert, Update::Firing);
        if !refused.is_empty() {
            // A full queue refused it: offered to that Alertmanager again at the next tick.
            let mut table = self.table();
            if let Some(entry) = table.firing.get_mut(&object, spec.rule, &key).filter(|entry| entry.refreshed) {
                for position in refused {
                    entry.last_sent[position] = now.checked_sub(entry.interval).unwrap_or(now);
                }
            }
        }
        Fired::New
    }

    /// Resolves the alerts of `rule` on the object `subject` (a key, [`Subject::key`]) but for
    /// those of the containers in `still_violating`.
    pub fn resolve(&self, rule: &str, subject: &str, still_violating: &[Option<&str>]) -> usize {
        let still: HashSet<&str> = still_violating.iter().map(|container| container.unwrap_or("")).collect();
        let resolved: Vec<(String, String, AlertKey, Firing)> = {
            let mut table = self.table();
            let known: Vec<AlertKey> = table
                .firing
                .keys_of(subject, rule)
                .into_iter()
                .filter(|key| table.firing.get(subject, rule, key).is_some_and(|entry| entry.refreshed))
                .filter(|(_, container)| !still.contains(container.as_str()))
                .collect();
            let resolved: Vec<(String, String, AlertKey, Firing)> = known
                .into_iter()
                .filter_map(|key| {
                    let entry = table.firing.remove(subject, rule, &key)?;
                    Some((subject.to_owned(), rule.to_owned(), key, entry))
                })
                .collect();
            self.removed(&mut table, resolved.len());
            resolved
        };
        self.send_resolved(resolved)
    }

    /// Resolves every alert about the object `subject` (it was deleted).
    pub fn resolve_object(&self, subject: &str) -> usize {
        let resolved: Vec<(String, String, AlertKey, Firing)> = {
            let mut table = self.table();
            let resolved: Vec<(String, String, AlertKey, Firing)> = table
                .firing
                .remove_object(subject)
                .into_iter()
                .filter(|(_, _, entry)| entry.refreshed)
                .map(|(rule, key, entry)| (subject.to_owned(), rule, key, entry))
                .collect();
            self.removed(&mut table, resolved.len());
            resolved
        };
        self.send_resolved(resolved)
    }

    /// Resolves the alerts of rules `keep` refuses (they left, or no longer alert in the audit).
    pub fn retain_rules(&self, keep: impl Fn(&str) -> bool) -> usize {
        let resolved = {
            let mut table = self.table();
            let removed = table.firing.extract(|_, rule, _, entry| entry.refreshed && !keep(rule));
            self.removed(&mut table, removed.len());
            removed
        };
        self.send_resolved(resolved)
    }

    /// Brings the count of refreshed alerts down by what was just removed from the table.
    fn removed(&self, table: &mut Table, removed: usize) {
        table.refreshed = table.refreshed.saturating_sub(removed);
        self.metrics.set_alerts_firing(table.refreshed);
    }

    fn send_resolved(&self, resolved: Vec<(String, String, AlertKey, Firing)>) -> usize {
        let now = SystemTime::now();
        for (object, rule, key, entry) in &resolved {
            self.send(&alert_name(rule, object, key), &entry.alert(now), Update::Resolved);
        }
        resolved.len()
    }

    /// For each Alertmanager, sends again the alerts whose interval has passed for it, the
    /// longest waiting first, until its queue is full (the rest stay due, first in line at the
    /// next tick); forgets admission alerts that ended. A replica that does not lead forgets its
    /// refreshed alerts without resolving them: the leader keeps the current ones firing, and
    /// the rest end by their `endsAt`.
    fn refresh(&self, now: Instant) {
        let mut table = self.table();
        if !(self.leading)() {
            if table.refreshed > 0 {
                table.firing.extract(|_, _, _, entry| entry.refreshed);
                table.refreshed = 0;
                self.metrics.set_alerts_firing(0);
            }
            return;
        }
        table.firing.extract(|_, _, _, entry| {
            !entry.refreshed && entry.last_sent.iter().all(|sent| now >= *sent + entry.interval)
        });
        for (position, sender) in self.senders.iter().enumerate() {
            let mut due: Vec<(Instant, String, String, AlertKey)> = table
                .firing
                .iter()
                .filter(|(_, _, _, entry)| entry.refreshed && now >= entry.last_sent[position] + entry.interval)
                .map(|(object, rule, key, entry)| {
                    (entry.last_sent[position], object.to_owned(), rule.to_owned(), key.clone())
                })
                .collect();
            due.sort();
            for (_, object, rule, key) in due {
                let Some(entry) = table.firing.get_mut(&object, &rule, &key) else { continue };
                let alert = entry.alert(entry.ends_at());
                if !sender.push(&alert_name(&rule, &object, &key), alert, Update::Firing) {
                    break;
                }
                entry.last_sent[position] = now;
            }
        }
    }

    /// Queues `alert` for every Alertmanager: the positions of those whose queue refused it.
    fn send(&self, name: &str, alert: &Json, update: Update) -> Vec<usize> {
        self.senders
            .iter()
            .enumerate()
            .filter(|(_, sender)| !sender.push(name, alert.clone(), update))
            .map(|(position, _)| position)
            .collect()
    }
}

/// One alert's name in the queues (where a newer state replaces an older one).
fn alert_name(rule: &str, object: &str, (action, container): &AlertKey) -> String {
    format!("{rule}\u{0}{object}\u{0}{action}\u{0}{container}")
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
