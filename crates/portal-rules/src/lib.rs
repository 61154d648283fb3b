//! Portal's rules: the rule schema, the CEL environment (with Kubernetes' CEL libraries and
//! Portal's pod sugar), matching and evaluation into violations.
//!
//! Pure and embeddable: no I/O, no async runtime, no Kubernetes client. Text goes in
//! ([`load_rules`], [`parse_documents`]), compiled [`RuleSet`]s come out, and
//! [`RuleSet::evaluate`] turns an [`Activation`] into [`RuleResult`]s.
//!
//! ```
//! use portal_rules::{Activation, EvaluationInput, ModeFilter, RuleSet, load_rules};
//!
//! let (rules, errors) = load_rules("inline", r#"
//! name: no-host-network
//! match: {gvk: [{group: "", version: v1, kind: Pod}]}
//! rule: spec.hostNetwork == true
//! "#);
//! assert!(errors.is_empty());
//! let (set, errors) = RuleSet::compile(rules);
//! assert!(errors.is_empty());
//! let pod = serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
//!                              "spec": {"hostNetwork": true, "containers": []}});
//! let activation = Activation::new(EvaluationInput { object: Some(&pod), ..Default::default() });
//! let results = set.evaluate(&activation, ModeFilter::Any);
//! assert_eq!(results[0].violations.len(), 1);
//! ```

#![warn(missing_docs)]

pub mod actions;
mod activation;
mod ast;
pub mod cluster;
mod compile;
mod cost;
mod document;
mod effect;
pub mod environment;
mod error;
mod evaluate;
pub mod exception;
mod expression;
mod image;
pub mod kinds;
mod limits;
mod load;
mod matching;
mod progress;
mod references;
mod ruleset;
pub mod schema;
mod shared;
mod sugar;
mod types;
mod value;

pub use activation::{Activation, EvaluationInput, ObjectIdentity, VARIABLES};
pub use compile::CompiledRule;
pub use cost::{LARGEST_OBJECT_BYTES, estimate_cost};
pub use document::{Document, MAX_DEPTH, parse_documents};
pub use effect::{AdmissionVerdict, Effect};
pub use error::{Error, ExpressionField, Origin, Result};
pub use evaluate::{EvaluationError, Outcome, RuleResult, Violation, format_rfc3339};
pub use expression::{ExpressionError, evaluate_expression};
pub use limits::{
    DEFAULT_MAX_ESTIMATED_COST, DEFAULT_MAX_ITERATIONS, MAX_EXPRESSION_BYTES, MAX_EXPRESSION_DEPTH, RuleLimits,
};
pub use load::{LoadedRule, load_rules, rule_from_document};
pub use matching::ALWAYS_EVALUATED_SUBRESOURCES;
pub use progress::Progress;
pub use references::{ExpressionUses, NameKind, VariableRead};
pub use ruleset::{ModeFilter, RuleSet, SharedRuleSet};
pub use schema::{EnforcementAction, FailurePolicy, Mode, Operation, RuleSpec, Severity};
pub use value::to_json;

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExamples;
