//! The live ValidatingWebhookConfiguration kept in step with the rule set, when
//! `admission.webhookConfiguration.manage` is on: the leader rewrites the `rules` of Portal's
//! webhooks in place as `portal webhook-config` would render them, so that the API server calls
//! Portal for exactly what the admission rules judge.
//!
//! Only `rules` change. Client configuration, caBundle, failure policies, selectors and
//! conditions stay as installed; webhooks of other names in the same configuration are not
//! touched; the configuration is never created or deleted, and a webhook the rules no longer
//! need keeps its place with no rules. Nothing is written when the rules already match, so a new
//! leader over an unchanged rule set writes nothing.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use kube::api::{Api, PostParams};
use portal_rules::{RuleSet, SharedRuleSet};
use tokio::sync::watch;

use super::FIELD_MANAGER;
use crate::lease::Leadership;
use crate::registration::{self, RegistrationOptions, WebhookClient};
use crate::sources::SourcesSnapshot;

/// What one synchronisation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Synced {
    /// The live rules already matched the rule set.
    Unchanged,
    Updated,
    /// There is no configuration of that name: install it first (`portal webhook-config`).
    Missing,
}

/// Why the configuration could not be synchronised.
#[derive(Debug, thiserror::Error)]
pub enum WebhookRulesError {
    #[error("rendering the webhook rules")]
    Render(#[source] registration::Error),
    #[error("reading or updating ValidatingWebhookConfiguration {name}")]
    Api {
        name: String,
        #[source]
        source: kube::Error,
    },
}

/// How many retry periods pass between checks of a configuration already in step: 30 s with the
/// default 2 s retry period, one GET each.
pub const RECHECK_RETRIES: u32 = 15;

/// The names of the webhooks [`registration::render`] writes: the only ones changed here.
const PORTAL_WEBHOOKS: &[&str] = &["namespaced.validate.portal.io", "cluster.validate.portal.io"];

/// Makes the `rules` of Portal's webhooks in the configuration `name` those `rules` need.
pub async fn sync_webhook_rules(
    client: &kube::Client,
    name: &str,
    rules: &RuleSet,
) -> Result<Synced, WebhookRulesError> {
    let api_error = |source| WebhookRulesError::Api { name: name.to_owned(), source };
    let api: Api<ValidatingWebhookConfiguration> = Api::all(client.clone());
    let Some(mut live) = api.get_opt(name).await.map_err(api_error)? else {
        return Ok(Synced::Missing);
    };
    // Only the rules of the rendering are used: the other options do not matter here.
    let options = RegistrationOptions {
        name: name.to_owned(),
        client: WebhookClient::Url(String::new()),
        portal_namespace: String::new(),
        failure_policy: "Fail".to_owned(),
        cluster_failure_policy: "Ignore".to_owned(),
        ca_bundle: String::new(),
    };
    let rendered = registration::render(rules, &options).map_err(WebhookRulesError::Render)?;
    let rendered = rendered.configuration.webhooks.unwrap_or_default();
    let live_webhooks = live.webhooks.get_or_insert_with(Vec::new);
    let mut changed = false;
    for webhook in &rendered {
        match live_webhooks.iter_mut().find(|live| live.name == webhook.name) {
            Some(live) if live.rules != webhook.rules => {
                live.rules.clone_from(&webhook.rules);
                changed = true;
            }
            Some(_) => {}
            None => {
                // A webhook the rules now need (the first rule on a cluster-scoped kind): it
                // reaches Portal the way the installed one does. Without one to copy from, how the
                // API server reaches Portal is unknown here, and nothing is added.
                let installed = live_webhooks.iter().find(|live| PORTAL_WEBHOOKS.contains(&live.name.as_str()));
                if let Some(client_config) = installed.map(|installed| installed.client_config.clone()) {
                    let mut added = webhook.clone();
                    added.client_config = client_config;
                    live_webhooks.push(added);
                    changed = true;
                }
            }
        }
    }
    let needed: BTreeSet<&str> = rendered.iter().map(|webhook| webhook.name.as_str()).collect();
    for live in live_webhooks.iter_mut() {
        let unneeded = PORTAL_WEBHOOKS.contains(&live.name.as_str()) && !needed.contains(live.name.as_str());
        if unneeded && live.rules.as_ref().is_some_and(|rules| !rules.is_empty()) {
            live.rules = Some(Vec::new());
            changed = true;
        }
    }
    if !changed {
        return Ok(Synced::Unchanged);
    }
    let params = PostParams { field_manager: Some(FIELD_MANAGER.to_owned()), ..PostParams::default() };
    api.replace(name, &params, &live).await.map_err(api_error)?;
    Ok(Synced::Updated)
}

/// While this replica leads, keeps the configuration `name` in step: after every change of the
/// rule set, when leadership arrives, every `retry` until a synchronisation succeeds, and every
/// [`RECHECK_RETRIES`] retries in any case, so that a hand edit of the rules (or a Helm upgrade
/// that resets them) is undone. A check that finds the rules in step writes nothing.
pub async fn keep_webhook_rules(
    client: kube::Client,
    name: String,
    rules: Arc<SharedRuleSet>,
    mut changes: watch::Receiver<SourcesSnapshot>,
    leadership: Leadership,
    retry: Duration,
) {
    // The rule-set generation last synchronised while leading, and when.
    let mut synced: Option<(u64, Instant)> = None;
    let mut reported_missing = false;
    loop {
        let generation = changes.borrow_and_update().generation;
        let due = synced.is_none_or(|(done, at)| done != generation || at.elapsed() >= retry * RECHECK_RETRIES);
        if !leadership.is_leader() {
            // A new term starts by comparing, which writes only if the rules differ.
            synced = None;
        } else if due {
            match sync_webhook_rules(&client, &name, &rules.load()).await {
                Ok(Synced::Updated) => {
                    tracing::info!(configuration = %name, "updated the webhook rules to the rule set");
                    synced = Some((generation, Instant::now()));
                }
                Ok(Synced::Unchanged) => synced = Some((generation, Instant::now())),
                Ok(Synced::Missing) => {
                    if !reported_missing {
                        tracing::warn!(
                            configuration = %name,
                            "admission.webhookConfiguration.manage is on but the ValidatingWebhookConfiguration \
                             does not exist; install it (portal webhook-config) and Portal keeps its rules in step"
                        );
                        reported_missing = true;
                    }
                }
                Err(error) => tracing::warn!(configuration = %name, "{}", crate::with_causes(&error)),
            }
        }
        tokio::select! {
            changed = changes.changed() => if changed.is_err() { return },
            () = tokio::time::sleep(retry) => {}
        }
    }
}
