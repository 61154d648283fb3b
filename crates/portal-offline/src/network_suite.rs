//! Network test suites: a document with a `network:` key in a `portal test` file. It names the
//! objects (Pods, Namespaces, NetworkPolicies), `explain` questions with the verdict expected,
//! and the complete set of findings expected — a finding not listed fails the suite too.
//!
//! ```yaml
//! name: shop
//! network:
//!   objects: [cluster.yaml]
//!   explain:
//!     - {from: shop/web, to: shop/db:5432, verdict: allowed}
//!   findings:
//!     - {check: np.default-deny-missing, object: Namespace/legacy}
//! ```

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use portal_files::Problem;
use portal_network::{CheckSettings, Reach};
use serde::Deserialize;

use crate::network::load_network;

/// The namespace of objects and Pods that name none.
const DEFAULT_NAMESPACE: &str = "default";

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NetworkSuiteSpec {
    pub name: Option<String>,
    pub network: NetworkSuite,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NetworkSuite {
    /// Manifest files or directories, relative to the test file.
    pub objects: Vec<PathBuf>,
    #[serde(default)]
    pub explain: Vec<ExplainExpectation>,
    /// Every finding the objects should raise, and no other; absent: findings are not tested.
    pub findings: Option<Vec<FindingExpectation>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExplainExpectation {
    pub from: String,
    pub to: String,
    pub verdict: Reach,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FindingExpectation {
    pub check: String,
    /// `Namespace/NAME` or `NetworkPolicy/NAMESPACE/NAME`.
    pub object: String,
}

/// What a network suite found: the expectations met, and a line per one that was not.
#[derive(Debug, Default)]
pub(crate) struct NetworkOutcome {
    pub passed: usize,
    pub failures: Vec<String>,
}

/// Runs the suite; `None` when its objects could not be read (the problems say why).
pub(crate) fn run_network_suite(
    spec: &NetworkSuiteSpec,
    base: &Path,
    location: &str,
    problems: &mut Vec<Problem>,
) -> Option<NetworkOutcome> {
    let paths: Vec<PathBuf> = spec.network.objects.iter().map(|path| base.join(path)).collect();
    let input = load_network(&paths, DEFAULT_NAMESPACE);
    if !input.errors.is_empty() {
        problems.extend(input.errors);
        return None;
    }
    let inventory = input.inventory;
    let mut outcome = NetworkOutcome::default();
    for (index, expectation) in spec.network.explain.iter().enumerate() {
        let question =
            portal_network::parse_endpoint(&expectation.from, DEFAULT_NAMESPACE, false).and_then(|(from, _)| {
                Ok((from, portal_network::parse_endpoint(&expectation.to, DEFAULT_NAMESPACE, true)?))
            });
        let explained = question.map_err(|error| error.to_string()).and_then(|(from, (to, port))| {
            portal_network::explain(&inventory, &from, &to, port.as_ref()).map_err(|error| error.to_string())
        });
        match explained {
            Err(error) => {
                problems.push(Problem::new(location.to_owned(), format!("network.explain[{index}]: {error}")))
            }
            Ok(explanation) if explanation.verdict == expectation.verdict => outcome.passed += 1,
            Ok(explanation) => outcome.failures.push(format!(
                "{} → {}: expected {}, got {}{}",
                expectation.from,
                expectation.to,
                reach_name(expectation.verdict),
                reach_name(explanation.verdict),
                deciding(&explanation)
            )),
        }
    }
    if let Some(expected) = &spec.network.findings {
        for (index, expectation) in expected.iter().enumerate() {
            if portal_network::Check::from_name(&expectation.check).is_none() {
                problems.push(Problem::new(
                    location.to_owned(),
                    format!("network.findings[{index}].check: no check named {}", expectation.check),
                ));
            }
        }
        let expected: BTreeSet<(String, String)> =
            expected.iter().map(|e| (e.check.clone(), e.object.clone())).collect();
        let found = portal_network::analyze(&inventory, &CheckSettings::default());
        let actual: BTreeSet<(String, String)> =
            found.iter().map(|finding| (finding.check.name().to_owned(), finding.subject.to_string())).collect();
        for (check, object) in expected.difference(&actual) {
            outcome.failures.push(format!("expected finding {check} on {object}, which was not raised"));
        }
        for (check, object) in actual.difference(&expected) {
            let message = found
                .iter()
                .find(|f| f.check.name() == check && f.subject.to_string() == *object)
                .map(|f| f.message.as_str())
                .unwrap_or_default();
            outcome.failures.push(format!("unexpected finding {check} on {object}: {message}"));
        }
        outcome.passed += expected.intersection(&actual).count();
    }
    Some(outcome)
}

fn reach_name(reach: Reach) -> &'static str {
    match reach {
        Reach::Allowed => "allowed",
        Reach::Partly => "partly",
        Reach::Denied => "denied",
    }
}

/// What decided, in a few words, for the failure message.
fn deciding(explanation: &portal_network::Explanation) -> String {
    let mut parts = Vec::new();
    for direction in [&explanation.egress, &explanation.ingress].into_iter().flatten() {
        if direction.isolated_by.is_empty() {
            parts.push(format!("{} not isolated", direction.direction));
        } else {
            let allowed: Vec<String> =
                direction.allowed_by.iter().map(|r| format!("{} {}", r.policy, r.rule)).collect();
            parts.push(format!(
                "{} isolated by {}{}",
                direction.direction,
                direction.isolated_by.join(", "),
                if allowed.is_empty() { String::new() } else { format!(", allowed by {}", allowed.join(", ")) }
            ));
        }
    }
    format!(" ({})", parts.join("; "))
}
