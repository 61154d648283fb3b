//! The compiled, immutable rule set: indexed by group/kind so that evaluation cost grows with
//! the rules that match an object, not with all rules.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use cel::Env;

use crate::activation::Activation;
use crate::compile::{CompiledRule, compile_rule};
use crate::error::Error;
use crate::evaluate::{RuleResult, evaluate_rule};
use crate::exception::ExceptionSet;
use crate::limits::RuleLimits;
use crate::load::LoadedRule;
use crate::matching::{MatchTarget, excludes, gvk_matches, selects_besides_gvk};
use crate::progress::Progress;
use crate::schema::Mode;

/// Which rules an evaluation considers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModeFilter {
    /// Only enabled rules whose `mode` lists this mode.
    Only(Mode),
    /// Every enabled rule (offline `portal check` and `portal test`).
    Any,
}

/// An immutable set of compiled rules. Share it behind an `Arc`; swap it with [`SharedRuleSet`].
#[derive(Debug, Default)]
pub struct RuleSet {
    rules: Vec<CompiledRule>,
    /// group → kind → rules, ascending. Nested so that a lookup borrows the object's strings.
    by_group_kind: HashMap<String, HashMap<String, Vec<Candidate>>>,
    /// group → rules matching every kind of that group (`kind: "*"`).
    by_group: HashMap<String, Vec<Candidate>>,
    /// Rules matching every group (`group: "*"`): their whole gvk list is checked.
    any_group: Vec<usize>,
    limits: RuleLimits,
    /// Whether any rule looks up other objects: when none does, callers need not build a view.
    reads_cluster: bool,
    /// The exceptions every evaluation of the set honours.
    exceptions: ExceptionSet,
}

/// A rule filed under one index key, with the versions it accepts there.
#[derive(Debug, Clone)]
struct Candidate {
    rule: usize,
    versions: Versions,
}

#[derive(Debug, Clone)]
enum Versions {
    Any,
    Only(Vec<String>),
}

impl Versions {
    fn accepts(&self, version: &str) -> bool {
        match self {
            Versions::Any => true,
            Versions::Only(versions) => versions.iter().any(|v| v == version),
        }
    }

    fn add(&mut self, version: &str) {
        match self {
            Versions::Any => {}
            _ if version == "*" => *self = Versions::Any,
            Versions::Only(versions) => versions.push(version.to_owned()),
        }
    }
}

impl RuleSet {
    /// Compiles `rules` in order. A rule that fails to compile, or whose name is already taken,
    /// is left out and reported; the others are kept.
    pub fn compile(rules: Vec<LoadedRule>) -> (RuleSet, Vec<Error>) {
        Self::compile_with_limits(rules, RuleLimits::default())
    }

    /// As [`RuleSet::compile`], every evaluation of the set bounded by `limits`.
    pub fn compile_with_limits(rules: Vec<LoadedRule>, limits: RuleLimits) -> (RuleSet, Vec<Error>) {
        let env = match crate::environment::environment() {
            Ok(env) => env,
            Err(error) => return (RuleSet::default(), vec![Error::Environment(error)]),
        };
        Self::compile_in(env, rules, limits)
    }

    /// As [`RuleSet::compile`], in a given environment.
    pub fn compile_with(env: &Arc<Env>, rules: Vec<LoadedRule>) -> (RuleSet, Vec<Error>) {
        Self::compile_in(env, rules, RuleLimits::default())
    }

    fn compile_in(env: &Arc<Env>, rules: Vec<LoadedRule>, limits: RuleLimits) -> (RuleSet, Vec<Error>) {
        let mut set = RuleSet { limits, ..RuleSet::default() };
        let mut errors = Vec::new();
        let mut names: HashMap<String, crate::Origin> = HashMap::new();
        for rule in rules {
            if let Some(first) = names.get(&rule.name) {
                errors.push(Error::DuplicateRuleName { origin: rule.origin, name: rule.name, first: first.clone() });
                continue;
            }
            match compile_rule(env, rule, &set.limits) {
                Ok(compiled) => {
                    names.insert(compiled.name.to_string(), compiled.origin.clone());
                    set.insert(compiled);
                }
                Err(error) => errors.push(error),
            }
        }
        (set, errors)
    }

    fn insert(&mut self, rule: CompiledRule) {
        let index = self.rules.len();
        // One candidate per index key, with every version the rule lists under it.
        let mut keys: Vec<((String, String), Versions)> = Vec::new();
        for gvk in &rule.spec.match_spec.gvk {
            let key = (gvk.group.clone(), gvk.kind.clone());
            match keys.iter_mut().find(|(k, _)| *k == key) {
                Some((_, versions)) => versions.add(&gvk.version),
                None => {
                    let mut versions = Versions::Only(Vec::new());
                    versions.add(&gvk.version);
                    keys.push((key, versions));
                }
            }
        }
        for ((group, kind), versions) in keys {
            let candidate = Candidate { rule: index, versions };
            match (group.as_str(), kind.as_str()) {
                ("*", _) => {
                    if self.any_group.last() != Some(&index) {
                        self.any_group.push(index);
                    }
                }
                (_, "*") => self.by_group.entry(group).or_default().push(candidate),
                _ => self.by_group_kind.entry(group).or_default().entry(kind).or_default().push(candidate),
            }
        }
        self.reads_cluster |= !rule.lookups.is_empty();
        self.rules.push(rule);
    }

    /// The set, with `exceptions` honoured by every evaluation.
    pub fn with_exceptions(mut self, exceptions: ExceptionSet) -> RuleSet {
        self.exceptions = exceptions;
        self
    }

    /// The exceptions its evaluations honour.
    pub fn exceptions(&self) -> &ExceptionSet {
        &self.exceptions
    }

    /// The limits the set was compiled within, and its evaluations run within.
    pub fn limits(&self) -> &RuleLimits {
        &self.limits
    }

    /// Every rule of the set, in the order it was compiled (disabled rules included).
    pub fn rules(&self) -> &[CompiledRule] {
        &self.rules
    }

    /// Whether any rule has response actions (or an `alert`).
    pub fn has_actions(&self) -> bool {
        self.rules.iter().any(|rule| !rule.actions().is_empty())
    }

    /// Whether any rule calls `cluster.get` or `cluster.list`.
    pub fn reads_cluster(&self) -> bool {
        self.reads_cluster
    }

    /// How many rules the set has.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether the set has no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rule named `name`, if the set has one.
    pub fn get(&self, name: &str) -> Option<&CompiledRule> {
        self.rules.iter().find(|rule| &*rule.name == name)
    }

    /// The rules whose `match` selects the object and whose `exclude` does not, in load order.
    pub fn matching<'s>(&'s self, activation: &Activation<'_>, filter: ModeFilter) -> Vec<&'s CompiledRule> {
        self.matching_indices(activation, filter).into_iter().filter_map(|index| self.rules.get(index)).collect()
    }

    /// [`RuleSet::matching`], as indices into [`RuleSet::rules`].
    fn matching_indices(&self, activation: &Activation<'_>, filter: ModeFilter) -> Vec<usize> {
        let identity = activation.identity();
        let accepted = |candidates: Option<&Vec<Candidate>>| -> Vec<usize> {
            candidates.into_iter().flatten().filter(|c| c.versions.accepts(&identity.version)).map(|c| c.rule).collect()
        };
        let exact = accepted(self.by_group_kind.get(&identity.group).and_then(|kinds| kinds.get(&identity.kind)));
        let group_wide = accepted(self.by_group.get(&identity.group));
        let any_group: Vec<usize> = self
            .any_group
            .iter()
            .copied()
            .filter(|&rule| {
                self.rules.get(rule).is_some_and(|r| r.spec.match_spec.gvk.iter().any(|g| gvk_matches(g, identity)))
            })
            .collect();
        let candidates: Vec<usize> = match (exact.is_empty(), group_wide.is_empty(), any_group.is_empty()) {
            (true, true, true) => return Vec::new(),
            // Each list is ascending already: only a merge of several needs sorting.
            (false, true, true) => exact,
            (true, false, true) => group_wide,
            (true, true, false) => any_group,
            _ => {
                let mut merged = [exact, group_wide, any_group].concat();
                merged.sort_unstable();
                merged.dedup();
                merged
            }
        };
        let target = MatchTarget::new(identity, &activation.input);
        candidates
            .into_iter()
            .filter(|&index| {
                let Some(rule) = self.rules.get(index) else { return false };
                rule.spec.enabled
                    && match filter {
                        ModeFilter::Only(mode) => rule.spec.mode.contains(&mode),
                        ModeFilter::Any => true,
                    }
                    // A PortalRule sees only objects inside its namespace; cluster-scoped objects,
                    // the Namespace object included, are outside every namespace.
                    && rule.namespace.as_deref().is_none_or(|ns| identity.namespace.as_deref() == Some(ns))
                    && selects_besides_gvk(&rule.spec.match_spec, &target)
                    && !rule.spec.exclude.as_ref().is_some_and(|exclude| excludes(exclude, &target))
            })
            .collect()
    }

    /// Evaluates every matching rule on the object. Rules that do not match are absent from the
    /// result (a `skip`).
    pub fn evaluate(&self, activation: &Activation<'_>, filter: ModeFilter) -> Vec<RuleResult<'_>> {
        self.evaluate_rules(activation, filter, None)
    }

    /// [`RuleSet::evaluate`], recording in `progress` which rule is being evaluated, for another
    /// thread to read while it runs.
    pub fn evaluate_tracked(
        &self,
        activation: &Activation<'_>,
        filter: ModeFilter,
        progress: &Progress,
    ) -> Vec<RuleResult<'_>> {
        self.evaluate_rules(activation, filter, Some(progress))
    }

    fn evaluate_rules(
        &self,
        activation: &Activation<'_>,
        filter: ModeFilter,
        progress: Option<&Progress>,
    ) -> Vec<RuleResult<'_>> {
        let Ok(env) = crate::environment::environment() else {
            return Vec::new();
        };
        let matching = self.matching_indices(activation, filter);
        progress.inspect(|progress| progress.matched(matching.len()));
        let budget = portal_cel::budget::Budget {
            max_iterations: self.limits.max_iterations,
            cancel: progress.map(Progress::cancel_flag),
        };
        // Without exceptions (the common case) nothing more is computed per object.
        let exceptions = if matching.is_empty() || self.exceptions.is_empty() {
            Vec::new()
        } else {
            let target = MatchTarget::new(activation.identity(), &activation.input);
            self.exceptions.applying(&target, activation, &budget)
        };
        let results = crate::cluster::context::with_view(activation.input.cluster, || {
            matching
                .into_iter()
                .filter_map(|index| {
                    let rule = self.rules.get(index)?;
                    if let Some(exception) = exceptions.iter().find(|exception| exception.covers_rule(rule.name())) {
                        return Some(RuleResult::exempted(rule, exception.shared_reference()));
                    }
                    progress.inspect(|progress| progress.start(index));
                    Some(evaluate_rule(env, rule, activation, &budget))
                })
                .collect()
        });
        progress.inspect(|progress| progress.finish());
        results
    }
}

/// A rule set that can be replaced atomically while evaluations read it: each evaluation sees
/// one consistent set.
#[derive(Debug)]
pub struct SharedRuleSet {
    current: ArcSwap<RuleSet>,
}

impl SharedRuleSet {
    /// A shared set holding `rules` until the first [`SharedRuleSet::store`].
    pub fn new(rules: RuleSet) -> SharedRuleSet {
        SharedRuleSet { current: ArcSwap::from_pointee(rules) }
    }

    /// The set in force now; hold the `Arc` for the length of one evaluation.
    pub fn load(&self) -> Arc<RuleSet> {
        self.current.load_full()
    }

    /// Replaces the set; evaluations already running finish on the old one.
    pub fn store(&self, rules: RuleSet) {
        self.current.store(Arc::new(rules));
    }
}

impl Default for SharedRuleSet {
    fn default() -> Self {
        SharedRuleSet::new(RuleSet::default())
    }
}
