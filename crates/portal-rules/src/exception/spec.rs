//! The exception schema: what the `spec` of a `PortalException`/`PortalClusterException` holds.

use serde::{Deserialize, Serialize};

use crate::schema::{MatchSpec, SpecProblem, Widening, validate_match};

/// Which rules an exception exempts, for which objects, why and until when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExceptionSpec {
    /// The rules exempted, by name; `*` matches any run of characters. The rule of a
    /// `PortalRule` is named `namespace/name`.
    #[cfg_attr(feature = "schemars", schemars(length(min = 1)))]
    pub rules: Vec<String>,
    /// The objects exempted, in the shape of a rule's `match` (gvk, namespaces,
    /// namespaceSelector, objectSelector, operations); every object when absent. An empty `gvk`
    /// list means every kind, and without `operations` every operation.
    #[serde(rename = "match", default, skip_serializing_if = "is_everything")]
    pub match_spec: MatchSpec,
    /// The names of the objects exempted; `*` matches any run of characters. Every object the
    /// match selects when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
    /// Why the exemption is acceptable, for whoever reviews it. Required.
    #[cfg_attr(feature = "schemars", schemars(length(min = 1)))]
    pub justification: String,
    /// When the exception stops applying (RFC 3339, e.g. `2027-03-31T00:00:00Z`). It never
    /// expires when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schemars", schemars(extend("format" = "date-time")))]
    pub expires: Option<String>,
    /// A CEL expression over the object (the variables rules have, `container` and `cluster`
    /// aside): the exception applies only where it is `true`. An evaluation error means it does
    /// not apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
}

fn is_everything(spec: &MatchSpec) -> bool {
    *spec == MatchSpec::default()
}

impl ExceptionSpec {
    /// What serde cannot check: non-empty rule names and justification, a parseable expiry,
    /// well-formed selectors.
    pub fn validate(&self) -> Vec<SpecProblem> {
        let mut problems = Vec::new();
        let mut problem = |path: String, message: String| problems.push(SpecProblem { path, message });
        if self.rules.is_empty() {
            problem("rules".into(), "must name at least one rule (a name or a glob such as pss-*)".into());
        }
        for (index, rule) in self.rules.iter().enumerate() {
            if rule.trim().is_empty() {
                problem(format!("rules[{index}]"), "must not be empty".into());
            }
        }
        if self.justification.trim().is_empty() {
            problem("justification".into(), "is required: say why the exemption is acceptable".into());
        }
        if let Some(expires) = &self.expires
            && super::time::parse_rfc3339(expires).is_none()
        {
            problem("expires".into(), format!("{expires:?} is not an RFC 3339 time: write it as 2027-03-31T00:00:00Z"));
        }
        if let Some(condition) = &self.condition
            && condition.trim().is_empty()
        {
            problem("condition".into(), "must be a non-empty CEL expression when set".into());
        }
        validate_match(
            &self.match_spec,
            "match",
            Widening::Refused("is not meaningful for an exception: it exempts what the rule is evaluated on"),
            &mut problem,
        );
        problems
    }
}
