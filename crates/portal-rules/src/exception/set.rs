//! Compiled exceptions, and which of them exempt a rule on an object.

use std::sync::Arc;
use std::time::SystemTime;

use cel::{Env, Program};
use portal_cel::budget::Budget;

use super::load::LoadedException;
use super::spec::ExceptionSpec;
use super::time::parse_rfc3339;
use crate::activation::Activation;
use crate::compile::{Problem, checked_program};
use crate::error::{Error, Origin};
use crate::limits::RuleLimits;
use crate::matching::{MatchTarget, glob_matches, gvk_matches, namespace_filter_selects, selector_matches};
use crate::types::Type;

/// An exception ready to apply. Immutable and shareable across threads.
#[derive(Debug)]
pub struct CompiledException {
    reference: Arc<str>,
    namespace: Option<String>,
    spec: ExceptionSpec,
    origin: Origin,
    expires: Option<SystemTime>,
    condition: Option<Program>,
}

impl CompiledException {
    /// `PortalException/namespace/name` or `PortalClusterException/name`.
    pub fn reference(&self) -> &str {
        &self.reference
    }

    /// The reference, shared: results hold it per object.
    pub(crate) fn shared_reference(&self) -> Arc<str> {
        Arc::clone(&self.reference)
    }

    /// The exception as loaded and validated.
    pub fn spec(&self) -> &ExceptionSpec {
        &self.spec
    }

    /// Where it came from: file and the line its document starts on, or the resource.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// The namespace a `PortalException` is confined to.
    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    /// When it stops applying.
    pub fn expires(&self) -> Option<SystemTime> {
        self.expires
    }

    /// Whether it has stopped applying at `now`.
    pub fn is_expired(&self, now: SystemTime) -> bool {
        self.expires.is_some_and(|expires| expires <= now)
    }

    /// Whether it names the rule `rule`.
    pub(crate) fn covers_rule(&self, rule: &str) -> bool {
        self.spec.rules.iter().any(|pattern| glob_matches(pattern, rule))
    }

    /// Whether it applies to the object at `now`, its rules aside: in force, inside its
    /// namespace, selected by its match and names, and its condition true.
    fn applies_to(
        &self,
        target: &MatchTarget<'_>,
        activation: &Activation<'_>,
        budget: &Budget,
        now: Option<SystemTime>,
    ) -> bool {
        let identity = target.identity;
        let spec = &self.spec;
        let selects = &spec.match_spec;
        // Without a time, an exception that expires cannot be shown to be in force.
        let expired = now.map_or(self.expires.is_some(), |now| self.is_expired(now));
        !expired
            // A PortalException never reaches beyond its namespace; cluster-scoped objects, the
            // Namespace object included, are outside every namespace.
            && self.namespace.as_deref().is_none_or(|ns| identity.namespace.as_deref() == Some(ns))
            && (selects.gvk.is_empty() || selects.gvk.iter().any(|gvk| gvk_matches(gvk, identity)))
            && (spec.names.is_empty()
                || identity.name.as_deref().is_some_and(|name| spec.names.iter().any(|p| glob_matches(p, name))))
            && selects.namespaces.as_ref().is_none_or(|filter| namespace_filter_selects(filter, target.namespace))
            && selects.namespace_selector.as_ref().is_none_or(|selector| {
                // Unknown namespace labels (offline): a selector cannot be shown to hold, so the
                // exception does not apply — an exception never widens on missing facts.
                target.namespace_labels.is_some_and(|labels| selector_matches(selector, labels))
            })
            && selects.object_selector.as_ref().is_none_or(|selector| {
                selector_matches(selector, target.labels.unwrap_or(&serde_json::Value::Null))
            })
            && selects.operations.as_ref().is_none_or(|operations| {
                target.operation.is_none_or(|operation| operations.contains(&operation))
            })
            && self.condition.as_ref().is_none_or(|program| crate::evaluate::holds(program, activation, budget))
    }
}

/// The exceptions in force, in a stable order (the first that applies is the one named).
#[derive(Debug, Default)]
pub struct ExceptionSet {
    exceptions: Vec<CompiledException>,
}

impl ExceptionSet {
    /// Compiles `exceptions`; one whose condition does not compile is left out and reported.
    pub fn compile(exceptions: Vec<LoadedException>, limits: &RuleLimits) -> (ExceptionSet, Vec<Error>) {
        let env = match crate::environment::environment() {
            Ok(env) => env,
            Err(error) => return (ExceptionSet::default(), vec![Error::Environment(error)]),
        };
        let mut set = ExceptionSet::default();
        let mut errors = Vec::new();
        for exception in exceptions {
            match compile_exception(env, exception, limits) {
                Ok(compiled) => set.exceptions.push(compiled),
                Err(error) => errors.push(error),
            }
        }
        (set, errors)
    }

    /// Every exception of the set, in the order they were compiled (expired ones included).
    pub fn exceptions(&self) -> &[CompiledException] {
        &self.exceptions
    }

    /// Whether the set has no exceptions.
    pub fn is_empty(&self) -> bool {
        self.exceptions.is_empty()
    }

    /// The earliest expiry after `now`: when what the set exempts next changes by itself.
    pub fn next_expiry(&self, now: SystemTime) -> Option<SystemTime> {
        self.exceptions.iter().filter_map(CompiledException::expires).filter(|expires| *expires > now).min()
    }

    /// The exceptions that apply to the object now, whichever rules they name.
    pub(crate) fn applying<'s>(
        &'s self,
        target: &MatchTarget<'_>,
        activation: &Activation<'_>,
        budget: &Budget,
    ) -> Vec<&'s CompiledException> {
        if self.exceptions.is_empty() {
            return Vec::new();
        }
        let now = activation.known_time();
        self.exceptions.iter().filter(|exception| exception.applies_to(target, activation, budget, now)).collect()
    }
}

fn compile_exception(
    env: &Arc<Env>,
    exception: LoadedException,
    limits: &RuleLimits,
) -> Result<CompiledException, Error> {
    let reference = exception.reference();
    let condition = match &exception.spec.condition {
        Some(source) => {
            Some(compile_condition(env, source, limits).map_err(|(position, message)| Error::ExceptionCondition {
                origin: exception.origin.clone(),
                exception: reference.clone(),
                position,
                message,
            })?)
        }
        None => None,
    };
    Ok(CompiledException {
        reference: Arc::from(reference),
        namespace: exception.namespace,
        // Validated at load: an unparseable expiry never gets here.
        expires: exception.spec.expires.as_deref().and_then(parse_rfc3339),
        spec: exception.spec,
        origin: exception.origin,
        condition,
    })
}

/// The condition's program, or where and why it was refused.
fn compile_condition(
    env: &Arc<Env>,
    source: &str,
    limits: &RuleLimits,
) -> Result<Program, (Option<(usize, usize)>, String)> {
    let program = checked_program(env, source, limits, Some(&Type::Bool)).map_err(|problem| match problem {
        Problem::Compile { line, column, message } => (Some((line, column)), message),
        Problem::UnknownName { kind, name, line, column } => {
            (Some((line, column)), format!("{} `{name}`{}", kind.what(), kind.advice(&name)))
        }
        Problem::WrongType { found } => (
            None,
            format!("must evaluate to a bool (true: the exception applies), but it evaluates to type {}", found.name()),
        ),
        Problem::Regex { pattern, message } => (None, format!("invalid regular expression {pattern:?}: {message}")),
        Problem::Cost { estimate } => (
            None,
            format!(
                "could cost up to {}, over the limit of {} (rules.limits.maxEstimatedCost)",
                crate::cost::display_cost(&estimate),
                crate::cost::display_cost(&limits.max_estimated_cost)
            ),
        ),
    })?;
    if crate::references::reads_rule_variable(&program, "container") {
        return Err((
            None,
            "cannot read `container`: an exception exempts whole objects; use `containers.all(c, ...)`".into(),
        ));
    }
    if crate::cluster::targets::lookup_targets(&program).is_ok_and(|targets| !targets.is_empty()) {
        return Err((
            None,
            "cannot call cluster.get or cluster.list: an exception's condition reads only the object".into(),
        ));
    }
    Ok(program)
}
