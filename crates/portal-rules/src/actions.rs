//! A rule's response actions (SPEC §8), typed and checked: what `actions` (and the `alert`
//! shorthand) ask for, with every parameter validated where the rule is loaded, so that a rule
//! whose action could never run is refused with the field at fault instead of failing later in
//! the cluster.
//!
//! Pure: what an action *does* is the dispatcher's business (`portal-actions`, `portal-kube`).

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value as Json;

use crate::schema::{ActionSpec, ActionTrigger, ActionType, RuleSpec, SpecProblem, parse_rate_limit};

/// Most labels or annotations one action may set.
pub const MAX_ACTION_ENTRIES: usize = 64;

/// The shortest refresh interval an `alertmanager` action may ask for with its `rateLimit`.
pub const MIN_ALERT_INTERVAL: Duration = Duration::from_secs(10);

/// Largest serialized NetworkPolicy template, in bytes.
pub const MAX_TEMPLATE_BYTES: usize = 16 * 1024;

/// One checked action of a rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Action {
    /// Its position in `actions`; the `alert` shorthand comes after them. Part of the idempotency
    /// key, so two actions of the same type on one rule are told apart.
    pub index: usize,
    /// What it does, with its checked parameters.
    pub kind: ActionKind,
    /// Which control points trigger it.
    pub triggers: Triggers,
    /// At most `count` per `per`, for each (rule, action).
    pub rate: Rate,
}

/// What an action does, with its parameters.
#[derive(Debug, Clone, PartialEq)]
pub enum ActionKind {
    /// Send (and refresh, and resolve) an alert named `alertname`.
    Alertmanager {
        /// The alert's `alertname` label: the `alertname` parameter, or else the rule's name.
        alertname: String,
    },
    /// Server-side apply these labels to the object.
    Label {
        /// Label keys and values: 1 to [`MAX_ACTION_ENTRIES`], all valid.
        labels: BTreeMap<String, String>,
    },
    /// Server-side apply these annotations to the object.
    Annotate {
        /// Annotation keys and values: 1 to [`MAX_ACTION_ENTRIES`], keys valid.
        annotations: BTreeMap<String, String>,
    },
    /// Evict the Pod through the Eviction API (PodDisruptionBudgets apply).
    Evict,
    /// Server-side apply a NetworkPolicy in the object's namespace, from a template whose strings
    /// may name `{name}`, `{namespace}`, `{kind}` and `{rule}`.
    PatchNetworkPolicy {
        /// The NetworkPolicy's name template (default `portal-quarantine-{rule}`).
        name: String,
        /// The NetworkPolicy's `spec` template, a JSON object of at most [`MAX_TEMPLATE_BYTES`].
        spec: Json,
    },
    /// Revoke the credentials of the object's ServiceAccount (a ServiceAccount, or a Pod's).
    RevokeSaToken {
        /// Which credentials are revoked (`mode`; default [`RevokeMode::LegacyTokens`]).
        mode: RevokeMode,
    },
}

impl ActionKind {
    /// The action's type as rules write it: `label`, `evict`, …
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Alertmanager { .. } => "alertmanager",
            Self::Label { .. } => "label",
            Self::Annotate { .. } => "annotate",
            Self::Evict => "evict",
            Self::PatchNetworkPolicy { .. } => "patch-networkpolicy",
            Self::RevokeSaToken { .. } => "revoke-sa-token",
        }
    }
}

/// How `revoke-sa-token` revokes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevokeMode {
    /// Delete the ServiceAccount's legacy token Secrets (`kubernetes.io/service-account-token`).
    /// Bound (projected) tokens stay valid until they expire.
    LegacyTokens,
    /// Also delete and recreate the ServiceAccount: its new UID invalidates every bound token
    /// issued for the old one.
    Recreate,
}

/// The control points an action runs for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Triggers {
    /// Whether violations found at admission run the action.
    pub admission: bool,
    /// Whether violations found by the audit of existing objects run the action.
    pub audit: bool,
    /// Whether the network checks' findings run the action.
    pub network: bool,
}

impl Triggers {
    /// Every control point: the default when `on` is left out.
    pub const ALL: Self = Self { admission: true, audit: true, network: true };

    /// Whether `trigger` runs the action.
    pub fn includes(self, trigger: ActionTrigger) -> bool {
        match trigger {
            ActionTrigger::Admission => self.admission,
            ActionTrigger::Audit => self.audit,
            ActionTrigger::Network => self.network,
        }
    }
}

/// A rate: at most `count` per `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// How many actions each `per` allows: the `N` of `rateLimit: N/unit`, else 1.
    pub count: u32,
    /// The interval `count` applies to: the unit of `rateLimit` (1 s, 1 min or 1 h), else the
    /// type's default (SPEC §8): an alert per 5 minutes, a label or annotation per 5 seconds, an
    /// eviction or NetworkPolicy per 30 seconds, a token revocation per minute.
    pub per: Duration,
}

impl Rate {
    /// SPEC §8's default for each type: one per this interval.
    pub(crate) fn default_for(kind: &ActionKind) -> Self {
        let seconds = match kind {
            ActionKind::Alertmanager { .. } => 300,
            ActionKind::Label { .. } | ActionKind::Annotate { .. } => 5,
            ActionKind::Evict | ActionKind::PatchNetworkPolicy { .. } => 30,
            ActionKind::RevokeSaToken { .. } => 60,
        };
        Self { count: 1, per: Duration::from_secs(seconds) }
    }

    /// The time one action takes of the budget: `per / count`.
    pub fn interval(self) -> Duration {
        self.per / self.count.max(1)
    }
}

/// The actions of `spec` (its `actions`, then the `alert` shorthand), and every problem with
/// them, with its field path. Rules with problems are refused at load, so a compiled rule's
/// actions are all well-formed.
pub(crate) fn rule_actions(spec: &RuleSpec) -> (Vec<Action>, Vec<SpecProblem>) {
    let name = spec.name.clone().unwrap_or_default();
    let matches = |kind: &str| may_match(spec, kind);
    actions_of(&name, &spec.actions, spec.alert.as_deref(), &matches, "this rule matches neither (match.gvk)")
}

/// The actions of something that is not a rule but finds violations on objects of `kinds`
/// (core kinds, e.g. a network check reporting on `Namespace` and `NetworkPolicy` objects),
/// named `name` (the default alert name), and the problems with them, paths relative to the
/// list (`actions[0].labels`) and `alert`.
pub fn finder_actions(
    name: &str,
    specs: &[ActionSpec],
    alert: Option<&str>,
    kinds: &[&str],
) -> (Vec<Action>, Vec<SpecProblem>) {
    let matches = |kind: &str| kinds.contains(&kind);
    let finds = format!("{name} reports on {} objects only", kinds.join(" and "));
    actions_of(name, specs, alert, &matches, &finds)
}

fn actions_of(
    name: &str,
    specs: &[ActionSpec],
    alert: Option<&str>,
    matches: &dyn Fn(&str) -> bool,
    mismatch: &str,
) -> (Vec<Action>, Vec<SpecProblem>) {
    let mut actions = Vec::new();
    let mut problems = Vec::new();
    for (index, action) in specs.iter().enumerate() {
        let mut problem = |field: &str, message: String| {
            let path = if field.is_empty() { format!("actions[{index}]") } else { format!("actions[{index}].{field}") };
            problems.push(SpecProblem { path, message });
        };
        if let Some(kind) = action_kind(action, name, matches, mismatch, &mut problem) {
            let rate = match &action.rate_limit {
                None => Some(Rate::default_for(&kind)),
                Some(text) => match parse_rate_limit(text) {
                    Some((count, seconds)) => Some(Rate { count, per: Duration::from_secs(seconds) }),
                    None => {
                        problem(
                            "rateLimit",
                            format!("{text:?} is not a rate: write N/unit with unit s, m or h, e.g. 5/m"),
                        );
                        None
                    }
                },
            };
            let triggers = match &action.on {
                None => Some(Triggers::ALL),
                Some(list) if list.is_empty() => {
                    problem("on", "must list at least one of admission, audit, network, or be left out".into());
                    None
                }
                Some(list) => Some(Triggers {
                    admission: list.contains(&ActionTrigger::Admission),
                    audit: list.contains(&ActionTrigger::Audit),
                    network: list.contains(&ActionTrigger::Network),
                }),
            };
            let rate = rate.filter(|rate| {
                let too_fast = matches!(kind, ActionKind::Alertmanager { .. }) && rate.interval() < MIN_ALERT_INTERVAL;
                if too_fast {
                    problem(
                        "rateLimit",
                        format!(
                            "an alert is refreshed at its rate, and at most every {} s (Alertmanager would see it end \
                             and start again): write at most 6/m",
                            MIN_ALERT_INTERVAL.as_secs()
                        ),
                    );
                }
                !too_fast
            });
            if let (Some(rate), Some(triggers)) = (rate, triggers) {
                actions.push(Action { index, kind, triggers, rate });
            }
        }
    }
    if let Some(alertname) = alert {
        if alertname.trim().is_empty() {
            problems.push(SpecProblem { path: "alert".into(), message: "must not be empty when set".into() });
        } else {
            let kind = ActionKind::Alertmanager { alertname: alertname.to_owned() };
            let rate = Rate::default_for(&kind);
            actions.push(Action { index: specs.len(), kind, triggers: Triggers::ALL, rate });
        }
    }
    (actions, problems)
}

/// The typed action, or `None` after reporting what is wrong with its parameters.
fn action_kind(
    action: &ActionSpec,
    name: &str,
    matches: &dyn Fn(&str) -> bool,
    mismatch: &str,
    problem: &mut impl FnMut(&str, String),
) -> Option<ActionKind> {
    let parameters = &action.parameters;
    let allowed: &[&str] = match action.action_type {
        ActionType::Alertmanager => &["alertname"],
        ActionType::Label => &["labels"],
        ActionType::Annotate => &["annotations"],
        ActionType::Evict => &[],
        ActionType::PatchNetworkpolicy => &["networkPolicy"],
        ActionType::RevokeSaToken => &["mode"],
    };
    let mut well_formed = true;
    for key in parameters.keys().filter(|key| !allowed.contains(&key.as_str())) {
        let expected = if allowed.is_empty() {
            "it takes no parameters".to_owned()
        } else {
            format!("it takes {}", allowed.join(", "))
        };
        problem(key, format!("is not a parameter of a {} action: {expected}", type_name(action.action_type)));
        well_formed = false;
    }
    let kind = match action.action_type {
        ActionType::Alertmanager => match parameters.get("alertname") {
            None => ActionKind::Alertmanager { alertname: name.to_owned() },
            Some(Json::String(name)) if !name.trim().is_empty() => ActionKind::Alertmanager { alertname: name.clone() },
            Some(_) => {
                problem("alertname", "must be a non-empty string".into());
                return None;
            }
        },
        ActionType::Label => ActionKind::Label { labels: key_values(parameters, "labels", true, problem)? },
        ActionType::Annotate => {
            ActionKind::Annotate { annotations: key_values(parameters, "annotations", false, problem)? }
        }
        ActionType::Evict => {
            if !matches("Pod") {
                problem("type", format!("evict applies to Pods, and {}", mismatch.replace("neither", "no Pod")));
                return None;
            }
            ActionKind::Evict
        }
        ActionType::PatchNetworkpolicy => network_policy(parameters, problem)?,
        ActionType::RevokeSaToken => {
            if !matches("Pod") && !matches("ServiceAccount") {
                problem(
                    "type",
                    format!(
                        "revoke-sa-token applies to ServiceAccounts and to Pods (their spec.serviceAccountName), and {mismatch}"
                    ),
                );
                return None;
            }
            let mode = match parameters.get("mode").map(|mode| mode.as_str()) {
                None | Some(Some("legacy-tokens")) => RevokeMode::LegacyTokens,
                Some(Some("recreate")) => RevokeMode::Recreate,
                Some(_) => {
                    problem("mode", "must be legacy-tokens (the default) or recreate".into());
                    return None;
                }
            };
            ActionKind::RevokeSaToken { mode }
        }
    };
    well_formed.then_some(kind)
}

fn type_name(action_type: ActionType) -> &'static str {
    match action_type {
        ActionType::Alertmanager => "alertmanager",
        ActionType::Label => "label",
        ActionType::Annotate => "annotate",
        ActionType::Evict => "evict",
        ActionType::PatchNetworkpolicy => "patch-networkpolicy",
        ActionType::RevokeSaToken => "revoke-sa-token",
    }
}

/// Whether the rule's `match.gvk` can match a core object of `kind`.
fn may_match(spec: &RuleSpec, kind: &str) -> bool {
    spec.match_spec
        .gvk
        .iter()
        .any(|gvk| (gvk.group.is_empty() || gvk.group == "*") && (gvk.kind == kind || gvk.kind == "*"))
}

/// `labels`/`annotations`: a non-empty map of valid keys to strings (valid label values for
/// labels), at most [`MAX_ACTION_ENTRIES`].
fn key_values(
    parameters: &BTreeMap<String, Json>,
    field: &str,
    label_values: bool,
    problem: &mut impl FnMut(&str, String),
) -> Option<BTreeMap<String, String>> {
    let Some(Json::Object(entries)) = parameters.get(field) else {
        problem(
            field,
            format!("is required: a mapping of {field} to set, e.g. {field}: {{portal.io/violation: \"true\"}}"),
        );
        return None;
    };
    if entries.is_empty() || entries.len() > MAX_ACTION_ENTRIES {
        problem(field, format!("must set between 1 and {MAX_ACTION_ENTRIES} {field}, not {}", entries.len()));
        return None;
    }
    let mut checked = BTreeMap::new();
    let mut ok = true;
    for (key, value) in entries {
        let path = format!("{field}.{key}");
        if let Some(error) = portal_cel::label_key_errors(key).into_iter().next() {
            problem(&path, format!("{key:?} is not a valid key: {error}"));
            ok = false;
            continue;
        }
        let Json::String(value) = value else {
            problem(&path, "must be a string (quote numbers and booleans)".into());
            ok = false;
            continue;
        };
        if label_values && let Some(error) = portal_cel::label_value_errors(value).into_iter().next() {
            problem(&path, format!("{value:?} is not a valid label value: {error}"));
            ok = false;
            continue;
        }
        checked.insert(key.clone(), value.clone());
    }
    ok.then_some(checked)
}

/// `networkPolicy: {name, spec}`.
fn network_policy(parameters: &BTreeMap<String, Json>, problem: &mut impl FnMut(&str, String)) -> Option<ActionKind> {
    let Some(Json::Object(template)) = parameters.get("networkPolicy") else {
        problem(
            "networkPolicy",
            "is required: {name, spec} of the NetworkPolicy to apply in the object's namespace".into(),
        );
        return None;
    };
    let mut ok = true;
    for key in template.keys().filter(|key| !["name", "spec"].contains(&key.as_str())) {
        problem(&format!("networkPolicy.{key}"), "is not a field of the template: it takes name and spec".into());
        ok = false;
    }
    let name = match template.get("name") {
        None => "portal-quarantine-{rule}".to_owned(),
        Some(Json::String(name)) if !name.is_empty() => name.clone(),
        Some(_) => {
            problem("networkPolicy.name", "must be a non-empty string".into());
            return None;
        }
    };
    let Some(spec @ Json::Object(_)) = template.get("spec") else {
        problem("networkPolicy.spec", "is required: the NetworkPolicy's spec (podSelector, policyTypes, …)".into());
        return None;
    };
    let size = spec.to_string().len();
    if size > MAX_TEMPLATE_BYTES {
        problem("networkPolicy.spec", format!("is {size} bytes; at most {MAX_TEMPLATE_BYTES} are allowed"));
        return None;
    }
    ok.then(|| ActionKind::PatchNetworkPolicy { name, spec: spec.clone() })
}

/// What the template's placeholders stand for.
#[derive(Debug, Clone, Copy)]
pub struct TemplateValues<'a> {
    /// `{name}`: the violating object's name.
    pub name: &'a str,
    /// `{namespace}`: the namespace the NetworkPolicy is applied in: the object's, or a Namespace's own name.
    pub namespace: &'a str,
    /// `{kind}`: the violating object's kind, e.g. `Pod`.
    pub kind: &'a str,
    /// `{rule}`: the name of the rule that found the violation.
    pub rule: &'a str,
}

/// `value` with `{name}`, `{namespace}`, `{kind}` and `{rule}` replaced in every string (keys too).
pub fn fill_template(value: &Json, values: TemplateValues<'_>) -> Json {
    match value {
        Json::String(text) => Json::String(fill_string(text, values)),
        Json::Array(items) => Json::Array(items.iter().map(|item| fill_template(item, values)).collect()),
        Json::Object(fields) => Json::Object(
            fields.iter().map(|(key, item)| (fill_string(key, values), fill_template(item, values))).collect(),
        ),
        other => other.clone(),
    }
}

fn fill_string(text: &str, values: TemplateValues<'_>) -> String {
    text.replace("{name}", values.name)
        .replace("{namespace}", values.namespace)
        .replace("{kind}", values.kind)
        .replace("{rule}", values.rule)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn spec(yaml: &str) -> RuleSpec {
        let base = "name: r\nmatch:\n  gvk: [{group: \"\", version: v1, kind: Pod}]\nrule: \"true\"\n";
        serde_saphyr::from_str(&format!("{base}{yaml}")).unwrap()
    }

    fn problems(yaml: &str) -> Vec<String> {
        rule_actions(&spec(yaml))
            .1
            .into_iter()
            .map(|problem| format!("{}: {}", problem.path, problem.message))
            .collect()
    }

    #[test]
    fn every_type_is_read_with_its_parameters_and_default_rate() {
        let (actions, problems) = rule_actions(&spec(
            "alert: PodPrivileged\nactions:\n\
             - {type: label, labels: {portal.io/quarantine: \"true\"}}\n\
             - {type: annotate, annotations: {portal.io/why: privileged pod}, rateLimit: 10/m, on: [audit]}\n\
             - {type: evict}\n\
             - {type: patch-networkpolicy, networkPolicy: {spec: {podSelector: {}}}}\n\
             - {type: revoke-sa-token, mode: recreate}\n",
        ));
        assert!(problems.is_empty(), "{problems:?}");
        let types: Vec<&str> = actions.iter().map(|action| action.kind.type_name()).collect();
        assert_eq!(types, ["label", "annotate", "evict", "patch-networkpolicy", "revoke-sa-token", "alertmanager"]);
        assert_eq!(actions[0].rate, Rate { count: 1, per: Duration::from_secs(5) });
        assert_eq!(actions[1].rate, Rate { count: 10, per: Duration::from_secs(60) });
        assert_eq!(actions[1].triggers, Triggers { admission: false, audit: true, network: false });
        assert_eq!(
            actions[3].kind,
            ActionKind::PatchNetworkPolicy {
                name: "portal-quarantine-{rule}".into(),
                spec: serde_json::json!({"podSelector": {}})
            }
        );
        assert_eq!(actions[4].kind, ActionKind::RevokeSaToken { mode: RevokeMode::Recreate });
        assert_eq!(actions[5].index, 5);
        assert_eq!(actions[5].kind, ActionKind::Alertmanager { alertname: "PodPrivileged".into() });
    }

    #[test]
    fn wrong_parameters_name_their_field() {
        let found = problems(
            "actions:\n\
             - {type: label, labels: {\"-bad\": x}}\n\
             - {type: label, labels: {ok: \"not a value!\"}}\n\
             - {type: annotate}\n\
             - {type: evict, grace: 3}\n\
             - {type: revoke-sa-token, mode: all}\n\
             - {type: patch-networkpolicy, networkPolicy: {name: q}}\n\
             - {type: label, labels: {a: b}, on: []}\n\
             - {type: alertmanager, rateLimit: 10/s}\n",
        );
        let expected = [
            "actions[0].labels.-bad: \"-bad\" is not a valid key",
            "actions[1].labels.ok: \"not a value!\" is not a valid label value",
            "actions[2].annotations: is required",
            "actions[3].grace: is not a parameter of a evict action: it takes no parameters",
            "actions[4].mode: must be legacy-tokens (the default) or recreate",
            "actions[5].networkPolicy.spec: is required",
            "actions[6].on: must list at least one",
            "actions[7].rateLimit: an alert is refreshed at its rate, and at most every 10 s",
        ];
        assert_eq!(found.len(), expected.len(), "{found:#?}");
        for (found, expected) in found.iter().zip(expected) {
            assert!(found.starts_with(expected), "{found}\nexpected {expected}");
        }
    }

    #[test]
    fn kind_bound_actions_need_a_rule_that_matches_their_kind() {
        let base = "name: r\nmatch:\n  gvk: [{group: apps, version: v1, kind: Deployment}]\nrule: \"true\"\n";
        let spec: RuleSpec =
            serde_saphyr::from_str(&format!("{base}actions: [{{type: evict}}, {{type: revoke-sa-token}}]\n")).unwrap();
        let (actions, problems) = rule_actions(&spec);
        assert!(actions.is_empty());
        assert!(problems[0].message.starts_with("evict applies to Pods"), "{problems:?}");
        assert!(problems[1].message.starts_with("revoke-sa-token applies to ServiceAccounts"), "{problems:?}");
    }

    #[test]
    fn templates_name_the_object() {
        let template = serde_json::json!({"podSelector": {"matchLabels": {"quarantined-{rule}": "{name}"}}, "n": 1});
        let values = TemplateValues { name: "web", namespace: "team", kind: "Pod", rule: "no-priv" };
        assert_eq!(
            fill_template(&template, values),
            serde_json::json!({"podSelector": {"matchLabels": {"quarantined-no-priv": "web"}}, "n": 1})
        );
    }

    #[test]
    fn finders_take_actions_for_the_kinds_they_report_on() {
        let specs: Vec<ActionSpec> =
            serde_saphyr::from_str("- {type: label, labels: {portal.io/open: \"true\"}}\n- {type: evict}\n").unwrap();
        let (actions, problems) =
            finder_actions("np.default-deny-missing", &specs, Some("OpenNamespace"), &["Namespace"]);
        assert_eq!(actions.len(), 2, "the label and the alert");
        assert_eq!(actions[1].kind, ActionKind::Alertmanager { alertname: "OpenNamespace".into() });
        assert_eq!(problems[0].path, "actions[1].type");
        assert_eq!(
            problems[0].message,
            "evict applies to Pods, and np.default-deny-missing reports on Namespace objects only"
        );
    }
}
