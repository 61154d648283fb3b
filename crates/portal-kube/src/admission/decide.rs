//! The admission decision, as a pure function: an AdmissionReview request in, the response out.
//! No I/O here — the server does the HTTP, the deadline and the metrics. What each rule result
//! means is [`AdmissionVerdict`], shared with `portal check`.

use std::sync::Arc;

use portal_rules::cluster::{ClusterView, Overlay};
use portal_rules::{
    Activation, AdmissionVerdict, EvaluationInput, Mode, ModeFilter, ObjectIdentity, Progress, RuleSet,
};
use serde_json::{Value as Json, json};

use super::review::Review;

pub use portal_rules::kinds::BYPASS_ANNOTATION;

/// What Portal answers when it cannot evaluate (deadline passed, malformed request).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultFailurePolicy {
    Fail,
    Ignore,
}

/// Settings the decision depends on.
#[derive(Debug, Clone)]
pub struct DecisionOptions {
    pub failure_policy: DefaultFailurePolicy,
    /// Always admitted without evaluation.
    pub excluded_namespaces: Vec<String>,
    /// Where violations go for rules' actions (`on: [admission]`); handed over without waiting.
    pub actions: Option<portal_actions::Dispatcher>,
}

/// How a request was decided, for metrics and logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub kind: portal_metrics::Decision,
    /// The message shown to the client when denied.
    pub message: Option<String>,
    pub warnings: Vec<String>,
    /// Set when the namespace's bypass annotation let the request through.
    pub bypassed_namespace: Option<String>,
    /// Rules whose dryrun violations were admitted silently.
    pub dryrun_rules: Vec<String>,
    /// Rules that could not be evaluated.
    pub error_rules: Vec<String>,
    /// (rule, exception) of every rule an exception exempted the object from.
    pub exemptions: Vec<(String, String)>,
}

impl Decision {
    fn allow(kind: portal_metrics::Decision) -> Decision {
        Decision {
            allowed: true,
            kind,
            message: None,
            warnings: Vec::new(),
            bypassed_namespace: None,
            dryrun_rules: Vec::new(),
            error_rules: Vec::new(),
            exemptions: Vec::new(),
        }
    }

    /// The answer when Portal could not evaluate: the configured failure policy decides.
    pub fn could_not_evaluate(policy: DefaultFailurePolicy, why: &str) -> Decision {
        let mut decision = Decision::allow(portal_metrics::Decision::Error);
        match policy {
            DefaultFailurePolicy::Fail => {
                decision.allowed = false;
                decision.message = Some(format!("portal could not evaluate the request ({why}); failurePolicy: Fail"));
            }
            DefaultFailurePolicy::Ignore => {
                decision
                    .warnings
                    .push(format!("portal could not evaluate the request ({why}); admitted (failurePolicy: Ignore)"));
            }
        }
        decision
    }

    /// The AdmissionReview to send back.
    pub fn to_review(&self, uid: &str) -> Json {
        let mut response = json!({ "uid": uid, "allowed": self.allowed });
        if let Some(message) = &self.message {
            response["status"] = json!({ "code": 403, "reason": "Forbidden", "message": message });
        }
        if !self.warnings.is_empty() {
            response["warnings"] = json!(self.warnings);
        }
        json!({ "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response })
    }
}

/// Decides a review against the rules in force. `namespace` is the request's Namespace object
/// when known.
pub fn decide(review: &Review, rules: &RuleSet, namespace: Option<&Json>, options: &DecisionOptions) -> Decision {
    decide_tracked(review, rules, namespace, None, options, &Progress::default())
}

/// [`decide`], recording in `progress` which rule is being evaluated, for the deadline's log.
pub fn decide_tracked(
    review: &Review,
    rules: &RuleSet,
    namespace: Option<&Json>,
    cluster: Option<&Arc<dyn ClusterView>>,
    options: &DecisionOptions,
    progress: &Progress,
) -> Decision {
    if let Some(name) = &review.namespace {
        if options.excluded_namespaces.iter().any(|excluded| excluded == name) {
            return Decision::allow(portal_metrics::Decision::Allowed);
        }
        let annotation = namespace
            .and_then(|ns| ns.get("metadata"))
            .and_then(|m| m.get("annotations"))
            .and_then(|a| a.get(BYPASS_ANNOTATION))
            .and_then(Json::as_str);
        if annotation == Some("true") {
            let mut decision = Decision::allow(portal_metrics::Decision::Allowed);
            decision.bypassed_namespace = Some(name.clone());
            return decision;
        }
    }
    // Lookups see the cluster as it will be once the request is admitted. Laying the object
    // over the cache copies it: only when a rule can look.
    let overlay: Option<Arc<dyn ClusterView>> = cluster.filter(|_| rules.reads_cluster()).map(|cluster| {
        let subject = review.object.as_ref().or(review.old_object.as_ref());
        let identity = subject.map(ObjectIdentity::of).unwrap_or_default();
        Arc::new(Overlay::new(Arc::clone(cluster), &identity, review.object.clone())) as Arc<dyn ClusterView>
    });
    let activation = Activation::new(EvaluationInput {
        object: review.object.as_ref(),
        old_object: review.old_object.as_ref(),
        request: Some(&review.request),
        namespace_object: namespace,
        operation: Some(review.operation),
        cluster: overlay.as_ref(),
    });
    let results = rules.evaluate_tracked(&activation, ModeFilter::Only(Mode::Admission), progress);
    // A dry-run request (`kubectl apply --dry-run=server`) changes nothing: not even by actions.
    let dry_run = review.request.get("dryRun").and_then(Json::as_bool).unwrap_or(false);
    if let Some(dispatcher) = options.actions.as_ref().filter(|_| !dry_run) {
        hand_over(dispatcher, review, &results);
    }
    let verdict = AdmissionVerdict::of(&results);
    let mut decision = Decision::allow(portal_metrics::Decision::Allowed);
    if let Some(message) = verdict.denial_message() {
        decision.allowed = false;
        decision.kind = portal_metrics::Decision::Denied;
        decision.message = Some(message);
    } else if !verdict.warnings.is_empty() {
        decision.kind = portal_metrics::Decision::Warned;
    }
    decision.warnings = verdict.warnings;
    decision.dryrun_rules = verdict.dryrun_rules;
    decision.error_rules = verdict.error_rules;
    decision.exemptions = verdict.exemptions;
    decision
}

/// Gives the violations of rules with actions to the dispatcher, which only queues them.
fn hand_over(dispatcher: &portal_actions::Dispatcher, review: &Review, results: &[portal_rules::RuleResult<'_>]) {
    let mut acting = results.iter().filter(|result| !result.violations.is_empty() && !result.rule.actions().is_empty());
    let Some(first) = acting.next() else { return };
    let Some(subject) = review.object.as_ref().or(review.old_object.as_ref()).and_then(portal_actions::Subject::of)
    else {
        return;
    };
    let operation = review.operation.as_str();
    for result in std::iter::once(first).chain(acting) {
        let violations = portal_actions::Violation::all_of(result);
        dispatcher.observe(portal_actions::Source::Admission { operation }, &subject, result.rule.into(), &violations);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn rules(yaml: &str) -> RuleSet {
        let (loaded, errors) = portal_rules::load_rules("test", yaml);
        assert!(errors.is_empty(), "{errors:?}");
        let (set, errors) = RuleSet::compile(loaded);
        assert!(errors.is_empty(), "{errors:?}");
        set
    }

    fn review(pod_spec: Json) -> Review {
        let body = json!({
            "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {
                "uid": "u-1", "operation": "CREATE", "namespace": "team-a",
                "kind": {"group": "", "version": "v1", "kind": "Pod"},
                "resource": {"group": "", "version": "v1", "resource": "pods"},
                "userInfo": {"username": "alice"},
                "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "team-a"}, "spec": pod_spec},
            }
        });
        crate::admission::review::read_review(&serde_json::to_vec(&body).unwrap()).unwrap()
    }

    const OPTIONS: DecisionOptions =
        DecisionOptions { failure_policy: DefaultFailurePolicy::Fail, excluded_namespaces: Vec::new(), actions: None };

    const RULES: &str = "\
name: no-privileged
match: {gvk: [{group: '', kind: Pod}]}
rule: container.securityContext.privileged == true
message: privileged containers are not allowed
---
name: no-host-network
enforcementAction: warn
match: {gvk: [{group: '', kind: Pod}]}
rule: spec.hostNetwork == true
message: hostNetwork is discouraged
---
name: no-host-pid
enforcementAction: dryrun
match: {gvk: [{group: '', kind: Pod}]}
rule: spec.hostPID == true
---
name: broken-fail
failurePolicy: Fail
match: {gvk: [{group: '', kind: Pod}]}
rule: object.metadata.labels.team == 'x'
---
name: audit-only
mode: [audit]
match: {gvk: [{group: '', kind: Pod}]}
rule: 'true'
";

    #[test]
    fn deny_lists_every_denying_rule_with_its_message() {
        let set = rules(RULES);
        let pod = json!({"containers": [{"name": "c", "image": "x", "securityContext": {"privileged": true}}]});
        let decision = decide(&review(pod), &set, None, &OPTIONS);
        assert!(!decision.allowed);
        assert_eq!(decision.kind, portal_metrics::Decision::Denied);
        let message = decision.message.clone().unwrap();
        assert!(message.contains("no-privileged: privileged containers are not allowed"), "{message}");
        assert!(message.contains("broken-fail: could not be evaluated"), "{message}");
        let response = decision.to_review("u-1");
        assert_eq!(response["response"]["uid"], "u-1");
        assert_eq!(response["response"]["allowed"], false);
        assert_eq!(response["response"]["status"]["code"], 403);
    }

    #[test]
    fn warn_and_dryrun_admit() {
        let set = rules(&RULES.replace("failurePolicy: Fail", "failurePolicy: Ignore"));
        let pod = json!({"hostNetwork": true, "hostPID": true, "containers": [{"name": "c", "image": "x"}]});
        let decision = decide(&review(pod), &set, None, &OPTIONS);
        assert!(decision.allowed, "{decision:?}");
        assert_eq!(decision.kind, portal_metrics::Decision::Warned);
        assert_eq!(decision.warnings, ["no-host-network: hostNetwork is discouraged"]);
        assert_eq!(decision.dryrun_rules, ["no-host-pid"]);
        assert_eq!(decision.error_rules, ["broken-fail"], "an Ignore error admits but is recorded");
        assert_eq!(decision.to_review("u")["response"]["warnings"][0], "no-host-network: hostNetwork is discouraged");
    }

    #[test]
    fn bypass_and_excluded_namespaces_skip_evaluation() {
        let set = rules(RULES);
        let pod = json!({"containers": [{"name": "c", "image": "x", "securityContext": {"privileged": true}}]});
        let namespace = json!({"metadata": {"name": "team-a", "annotations": {BYPASS_ANNOTATION: "true"}}});
        let decision = decide(&review(pod.clone()), &set, Some(&namespace), &OPTIONS);
        assert!(decision.allowed);
        assert_eq!(decision.bypassed_namespace.as_deref(), Some("team-a"));
        let excluded = DecisionOptions { excluded_namespaces: vec!["team-a".into()], ..OPTIONS };
        let decision = decide(&review(pod), &set, None, &excluded);
        assert!(decision.allowed);
        assert_eq!(decision.bypassed_namespace, None);
    }

    /// An UPDATE of a privileged pod, for `subResource` and a previous version's metadata.
    fn update(sub_resource: Option<&str>, old_metadata: Json) -> Review {
        let pod = json!({"containers": [{"name": "c", "image": "x", "securityContext": {"privileged": true}}]});
        let mut review = review(pod.clone());
        review.operation = portal_rules::Operation::Update;
        review.request["operation"] = json!("UPDATE");
        if let Some(sub_resource) = sub_resource {
            review.request["subResource"] = json!(sub_resource);
        }
        let mut old = review.object.clone().unwrap();
        old["metadata"] = old_metadata;
        review.old_object = Some(old);
        review
    }

    const OPT_IN: &str = "\
name: privileged-status
match: {gvk: [{group: '', kind: Pod}], subresources: [status], terminating: true}
rule: container.securityContext.privileged == true
";

    #[test]
    fn status_and_other_subresources_are_admitted_unless_a_rule_opts_in() {
        let plain = rules(RULES);
        let name = json!({"name": "p"});
        assert!(!decide(&update(None, name.clone()), &plain, None, &OPTIONS).allowed, "the object itself");
        assert!(!decide(&update(Some("ephemeralcontainers"), name.clone()), &plain, None, &OPTIONS).allowed);
        for sub_resource in ["status", "binding", "eviction"] {
            let decision = decide(&update(Some(sub_resource), name.clone()), &plain, None, &OPTIONS);
            assert!(decision.allowed, "{sub_resource}: {decision:?}");
        }
        let opted_in = rules(OPT_IN);
        let decision = decide(&update(Some("status"), name.clone()), &opted_in, None, &OPTIONS);
        assert!(!decision.allowed && decision.message.unwrap().contains("privileged-status"));
        assert!(decide(&update(Some("binding"), name), &opted_in, None, &OPTIONS).allowed);
    }

    #[test]
    fn updates_of_objects_being_deleted_are_admitted_unless_a_rule_opts_in() {
        let deleting = json!({"name": "p", "deletionTimestamp": "2026-12-06T10:00:00Z", "finalizers": ["x"]});
        assert!(decide(&update(None, deleting.clone()), &rules(RULES), None, &OPTIONS).allowed);
        assert!(!decide(&update(None, deleting), &rules(OPT_IN), None, &OPTIONS).allowed);
    }

    #[test]
    fn could_not_evaluate_follows_the_failure_policy() {
        let decision = Decision::could_not_evaluate(DefaultFailurePolicy::Fail, "deadline of 2s passed");
        assert!(!decision.allowed);
        assert!(decision.message.unwrap().contains("deadline of 2s passed"));
        assert!(Decision::could_not_evaluate(DefaultFailurePolicy::Ignore, "x").allowed);
    }
}
