//! The network analysis in the audit: the kinds it needs watched, and its findings on an object
//! as report results — one per check that applies to the object's kind, `pass` or one
//! violation per finding — beside the rules' own.

use std::sync::Arc;

use portal_network::Check;
use portal_report::RuleFindings;
use portal_rules::{Effect, EnforcementAction, Mode, ObjectIdentity, Outcome, Severity, Violation};

use crate::network::{NetworkAnalysis, SubjectFindings};

/// The kinds the analysis reads, as `match.gvk` patterns (group, kind): watched whatever the
/// rules say.
pub(super) const PATTERNS: [(&str, &str); 3] = [("", "Pod"), ("", "Namespace"), ("networking.k8s.io", "NetworkPolicy")];

/// One check's result on one object.
pub(super) struct NetworkResult {
    check: Check,
    severity: Severity,
    violations: Vec<Violation>,
}

impl<'a> From<&'a NetworkResult> for RuleFindings<'a> {
    fn from(result: &'a NetworkResult) -> RuleFindings<'a> {
        RuleFindings {
            rule: result.check.name(),
            severity: result.severity,
            // Findings block nothing: reported as warnings, as audit-only rules are.
            effect: Effect::None,
            outcome: if result.violations.is_empty() { Outcome::Pass } else { Outcome::Fail },
            violations: &result.violations,
            errors: &[],
            exception: None,
        }
    }
}

pub(super) enum NetworkResults {
    /// The analysis has not computed this object's findings yet; it evaluates it again when
    /// it has.
    Wait,
    /// The results (none when no check applies to the object's kind).
    Results(Vec<NetworkResult>),
}

/// The network checks' results on the object `identity`.
pub(super) fn results(network: &Arc<NetworkAnalysis>, identity: &ObjectIdentity) -> NetworkResults {
    let checks = network.checks_for(&format!("{}/{}", identity.group, identity.kind));
    if checks.is_empty() {
        return NetworkResults::Results(Vec::new());
    }
    let Some(uid) = identity.uid.as_deref() else { return NetworkResults::Results(Vec::new()) };
    let findings = match network.findings_of(uid) {
        SubjectFindings::Computed(findings) => findings,
        SubjectFindings::Pending => return NetworkResults::Wait,
        // Not analysed (it could not be read, as the analysis logged): its rules still report.
        SubjectFindings::Unknown => return NetworkResults::Results(Vec::new()),
    };
    let results = checks
        .into_iter()
        .map(|check| NetworkResult {
            check,
            severity: network.settings().severity(check),
            violations: findings
                .iter()
                .filter(|finding| finding.check == check)
                .map(|finding| {
                    Violation::on_object(
                        Arc::from(check.name()),
                        finding.severity,
                        vec![Mode::Audit],
                        EnforcementAction::default(),
                        identity,
                        None,
                        finding.message.clone(),
                    )
                })
                .collect(),
        })
        .collect();
    NetworkResults::Results(results)
}

/// Gives the findings of the network checks that have actions to the dispatcher: a finding may
/// act, none clears what an earlier one did.
pub(super) fn hand_over(actions: &crate::actions::HandOff, object: &serde_json::Value, results: &[NetworkResult]) {
    let Some(subject) = portal_actions::Subject::of(object) else { return };
    for result in results {
        let Some(checked) = actions.network_checks.get(result.check.name()) else { continue };
        let acting = portal_actions::Acting::new(result.check.name(), result.severity.as_str(), checked);
        let violations: Vec<portal_actions::Violation> = result
            .violations
            .iter()
            .map(|violation| portal_actions::Violation { message: violation.message.clone(), container: None })
            .collect();
        actions.dispatcher.observe(portal_actions::Source::Network, &subject, acting, &violations);
    }
}
