//! The metrics of response actions and alerting: every action attempt by type and result, the
//! dispatcher's queue, and what the Alertmanager sink sent, holds and dropped.

use prometheus::{IntCounterVec, IntGaugeVec, Opts};

use crate::audit::RESULT;
use crate::definitions::Definitions;
use crate::error::Result;

pub(crate) const ACTIONS: &str = "portal_actions_total";
pub(crate) const ACTION_QUEUE_DEPTH: &str = "portal_action_queue_depth";
pub(crate) const ALERTS_FIRING: &str = "portal_alerts_firing";
pub(crate) const ALERT_SENDS: &str = "portal_alertmanager_sends_total";
pub(crate) const ALERTS_DROPPED: &str = "portal_alerts_dropped_total";

pub(crate) const ACTION: &str = "action";
pub(crate) const ALERTMANAGER: &str = "alertmanager";

/// What became of one action attempt: the `result` label of `portal_actions_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActionResult {
    /// Done.
    Ok,
    /// Tried and failed.
    Error,
    /// Already done while the violation lasts.
    Duplicate,
    /// Over its rate: waits.
    RateLimited,
    /// A full queue: not done.
    Dropped,
    /// Logged, not done (`actions.dryRun`).
    DryRun,
    /// Its type is switched off.
    Disabled,
    /// In a namespace actions never touch.
    Excluded,
    /// Found at admission by a replica that does not lead: only the leader changes objects.
    Follower,
}

impl ActionResult {
    /// Every result, in the order the docs list them.
    pub const ALL: [ActionResult; 9] = [
        ActionResult::Ok,
        ActionResult::Error,
        ActionResult::Duplicate,
        ActionResult::RateLimited,
        ActionResult::Dropped,
        ActionResult::DryRun,
        ActionResult::Disabled,
        ActionResult::Excluded,
        ActionResult::Follower,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            ActionResult::Ok => "ok",
            ActionResult::Error => "error",
            ActionResult::Duplicate => "duplicate",
            ActionResult::RateLimited => "ratelimited",
            ActionResult::Dropped => "dropped",
            ActionResult::DryRun => "dryrun",
            ActionResult::Disabled => "disabled",
            ActionResult::Excluded => "excluded",
            ActionResult::Follower => "follower",
        }
    }

    /// What it means, for docs/metrics.md.
    pub fn meaning(self) -> &'static str {
        match self {
            ActionResult::Ok => "done (for `alertmanager`: the alert is queued for every Alertmanager)",
            ActionResult::Error => "tried and failed (the log says why); the next violation tries again",
            ActionResult::Duplicate => "already done for this (rule, object, action) while the violation lasts",
            ActionResult::RateLimited => {
                "over the (rule, action)'s rate: held back and done when the rate allows, unless the violation \
                 clears first"
            }
            ActionResult::Dropped => "the queue was full (`actions.queueSize`): not done",
            ActionResult::DryRun => "`actions.dryRun`: logged, not done",
            ActionResult::Disabled => {
                "its type is switched off in `actions.types`, or a `PortalRule` (a namespace's rule) asked for more than an alert"
            }
            ActionResult::Excluded => {
                "the object is in (or is) an excluded system namespace or Portal's own: actions never touch those"
            }
            ActionResult::Follower => {
                "found at admission by a replica that does not lead: it alerts, but only the leader changes objects"
            }
        }
    }
}

/// The action types, the values of the `action` label.
pub(crate) const ACTION_TYPES: [&str; 6] =
    ["alertmanager", "label", "annotate", "evict", "patch-networkpolicy", "revoke-sa-token"];

/// The results of one POST to an Alertmanager.
pub(crate) const SEND_RESULTS: [(&str, &str); 2] =
    [("ok", "Alertmanager accepted the batch"), ("error", "refused or unreachable: the batch is retried with backoff")];

#[derive(Debug, Clone)]
pub(crate) struct ActionMetrics {
    actions: IntCounterVec,
    queue_depth: IntGaugeVec,
    alerts_firing: IntGaugeVec,
    sends: IntCounterVec,
    dropped: IntCounterVec,
}

impl ActionMetrics {
    pub(crate) fn define(definitions: &mut Definitions) -> Result<ActionMetrics> {
        let metrics = ActionMetrics {
            actions: definitions.define(
                ACTIONS,
                IntCounterVec::new(
                    Opts::new(ACTIONS, "Response action attempts by action type and result."),
                    &[ACTION, RESULT],
                ),
            )?,
            queue_depth: definitions.define(
                ACTION_QUEUE_DEPTH,
                IntGaugeVec::new(Opts::new(ACTION_QUEUE_DEPTH, "Actions waiting for a worker."), &[]),
            )?,
            alerts_firing: definitions.define(
                ALERTS_FIRING,
                IntGaugeVec::new(
                    Opts::new(ALERTS_FIRING, "Alerts Portal keeps firing now (refreshed until their violation clears)."),
                    &[],
                ),
            )?,
            sends: definitions.define(
                ALERT_SENDS,
                IntCounterVec::new(
                    Opts::new(ALERT_SENDS, "Batches of alerts posted to an Alertmanager, by Alertmanager and result."),
                    &[ALERTMANAGER, RESULT],
                ),
            )?,
            dropped: definitions.define(
                ALERTS_DROPPED,
                IntCounterVec::new(
                    Opts::new(
                        ALERTS_DROPPED,
                        "Alert updates dropped because an Alertmanager's queue was full (alerting.alertmanager.queueSize).",
                    ),
                    &[ALERTMANAGER],
                ),
            )?,
        };
        for action in ACTION_TYPES {
            for result in ActionResult::ALL {
                metrics.actions.with_label_values(&[action, result.as_str()]).inc_by(0);
            }
        }
        metrics.queue_depth.with_label_values::<&str>(&[]).set(0);
        metrics.alerts_firing.with_label_values::<&str>(&[]).set(0);
        Ok(metrics)
    }

    pub(crate) fn action(&self, action: &str, result: ActionResult) {
        self.actions.with_label_values(&[action, result.as_str()]).inc();
    }

    pub(crate) fn set_queue_depth(&self, depth: usize) {
        self.queue_depth.with_label_values::<&str>(&[]).set(i64::try_from(depth).unwrap_or(i64::MAX));
    }

    pub(crate) fn set_alerts_firing(&self, count: usize) {
        self.alerts_firing.with_label_values::<&str>(&[]).set(i64::try_from(count).unwrap_or(i64::MAX));
    }

    pub(crate) fn alert_send(&self, alertmanager: &str, ok: bool) {
        self.sends.with_label_values(&[alertmanager, if ok { "ok" } else { "error" }]).inc();
    }

    pub(crate) fn alerts_dropped(&self, alertmanager: &str, count: usize) {
        self.dropped.with_label_values(&[alertmanager]).inc_by(u64::try_from(count).unwrap_or(u64::MAX));
    }

    /// Every configured Alertmanager's series, at 0.
    pub(crate) fn declare_alertmanager(&self, alertmanager: &str) {
        for (result, _) in SEND_RESULTS {
            self.sends.with_label_values(&[alertmanager, result]).inc_by(0);
        }
        self.dropped.with_label_values(&[alertmanager]).inc_by(0);
    }
}
