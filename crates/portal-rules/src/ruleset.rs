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
use crate::load::LoadedRule;
use crate::matching::{MatchTarget, excludes, selects};
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
    /// (group, kind) → rule indices, ascending.
    by_group_kind: HashMap<(String, String), Vec<usize>>,
    /// group → rules matching every kind of that group (`kind: "*"`).
    by_group: HashMap<String, Vec<usize>>,
    /// Rules matching every group (`group: "*"`).
    any_group: Vec<usize>,
}

impl RuleSet {
    /// Compiles `rules` in order. A rule that fails to compile, or whose name is already taken,
    /// is left out and reported; the others are kept.
    pub fn compile(rules: Vec<LoadedRule>) -> (RuleSet, Vec<Error>) {
        let env = match crate::environment::environment() {
            Ok(env) => env,
            Err(error) => return (RuleSet::default(), vec![Error::Environment(error)]),
        };
        Self::compile_with(&env, rules)
    }

    /// As [`RuleSet::compile`], in a given environment.
    pub fn compile_with(env: &Env, rules: Vec<LoadedRule>) -> (RuleSet, Vec<Error>) {
        let mut set = RuleSet::default();
        let mut errors = Vec::new();
        let mut names: HashMap<String, crate::Origin> = HashMap::new();
        for rule in rules {
            if let Some(first) = names.get(&rule.name) {
                errors.push(Error::DuplicateRuleName { origin: rule.origin, name: rule.name, first: first.clone() });
                continue;
            }
            match compile_rule(env, rule) {
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
        let add = |list: &mut Vec<usize>| {
            if list.last() != Some(&index) {
                list.push(index);
            }
        };
        for gvk in &rule.spec.match_spec.gvk {
            match (gvk.group.as_str(), gvk.kind.as_str()) {
                ("*", _) => add(&mut self.any_group),
                (group, "*") => add(self.by_group.entry(group.to_owned()).or_default()),
                (group, kind) => add(self.by_group_kind.entry((group.to_owned(), kind.to_owned())).or_default()),
            }
        }
        self.rules.push(rule);
    }

    pub fn rules(&self) -> &[CompiledRule] {
        &self.rules
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    pub fn get(&self, name: &str) -> Option<&CompiledRule> {
        self.rules.iter().find(|rule| &*rule.name == name)
    }

    /// The rules whose `match` selects the object and whose `exclude` does not, in load order.
    pub fn matching<'s>(&'s self, activation: &Activation<'_>, filter: ModeFilter) -> Vec<&'s CompiledRule> {
        let identity = activation.identity();
        let sources: Vec<&[usize]> = [
            self.by_group_kind.get(&(identity.group.clone(), identity.kind.clone())).map(Vec::as_slice),
            self.by_group.get(&identity.group).map(Vec::as_slice),
            Some(self.any_group.as_slice()),
        ]
        .into_iter()
        .flatten()
        .filter(|list| !list.is_empty())
        .collect();
        let candidates: Vec<usize> = match sources.as_slice() {
            [] => return Vec::new(),
            // Each list is ascending already: only a merge of several needs sorting.
            [only] => only.to_vec(),
            several => {
                let mut merged: Vec<usize> = several.concat();
                merged.sort_unstable();
                merged.dedup();
                merged
            }
        };
        let target = MatchTarget::new(identity, &activation.input);
        candidates
            .into_iter()
            .filter_map(|index| self.rules.get(index))
            .filter(|rule| {
                rule.spec.enabled
                    && match filter {
                        ModeFilter::Only(mode) => rule.spec.mode.contains(&mode),
                        ModeFilter::Any => true,
                    }
                    // A PortalRule sees only objects inside its namespace; cluster-scoped objects,
                    // the Namespace object included, are outside every namespace.
                    && rule.namespace.as_deref().is_none_or(|ns| identity.namespace.as_deref() == Some(ns))
                    && selects(&rule.spec.match_spec, &target)
                    && !rule.spec.exclude.as_ref().is_some_and(|exclude| excludes(exclude, &target))
            })
            .collect()
    }

    /// Evaluates every matching rule on the object. Rules that do not match are absent from the
    /// result (a `skip`).
    pub fn evaluate(&self, activation: &Activation<'_>, filter: ModeFilter) -> Vec<RuleResult<'_>> {
        let Ok(env) = crate::environment::environment() else {
            return Vec::new();
        };
        self.matching(activation, filter).into_iter().map(|rule| evaluate_rule(&env, rule, activation)).collect()
    }
}

/// A rule set that can be replaced atomically while evaluations read it: each evaluation sees
/// one consistent set.
#[derive(Debug)]
pub struct SharedRuleSet {
    current: ArcSwap<RuleSet>,
}

impl SharedRuleSet {
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
