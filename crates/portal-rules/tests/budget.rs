//! Rules are bounded twice: at load, a rule whose estimated worst case is over
//! `RuleLimits::max_estimated_cost` is rejected; while it runs, a rule whose comprehensions would
//! visit more elements than `RuleLimits::max_iterations`, or that is cancelled, stops with an
//! error naming why, instead of running on (or allocating until the process dies). The run-time
//! tests switch the estimate off, to reach the second bound.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use portal_rules::{Activation, EvaluationInput, ModeFilter, Progress, RuleLimits, RuleSet, load_rules};
use serde_json::json;

fn compile(rule: &str, limits: RuleLimits) -> (RuleSet, Vec<portal_rules::Error>) {
    let yaml = format!("name: bounded\nmatch: {{gvk: [{{group: '', version: v1, kind: Pod}}]}}\nrule: {rule:?}\n");
    let (loaded, errors) = load_rules("rules.yaml", &yaml);
    assert!(errors.is_empty(), "{errors:?}");
    RuleSet::compile_with_limits(loaded, limits)
}

/// The rule compiled with no load-time estimate, so that only the run-time bound applies.
fn rule_set(rule: &str, limits: RuleLimits) -> RuleSet {
    let (rules, errors) = compile(rule, RuleLimits { max_estimated_cost: f64::INFINITY, ..limits });
    assert!(errors.is_empty(), "{errors:?}");
    rules
}

/// The load error of a rule under the default limits.
fn load_error(rule: &str) -> String {
    let (_, errors) = compile(rule, RuleLimits::default());
    assert_eq!(errors.len(), 1, "{rule}: {errors:?}");
    errors[0].to_string()
}

#[test]
fn rules_whose_worst_case_is_over_the_limit_are_rejected_at_load() {
    let nested_ranges = load_error("size(lists.range(1000000).map(x, lists.range(1000000))) > 0");
    assert!(
        nested_ranges.starts_with(
            "rules.yaml:1: rule \"bounded\": `rule` could cost up to 1.1e12 on an object of 3 MiB, \
             over the limit of 1.0e10 (rules.limits.maxEstimatedCost)"
        ),
        "{nested_ranges}"
    );
    let quadratic = load_error("containers.all(c, containers.exists_one(d, d.name == c.name))");
    assert!(quadratic.contains("avoid loops nested over the whole object"), "{quadratic}");
    let mut doubled = "'ab'".to_owned();
    for _ in 0..30 {
        doubled = format!("{doubled}.replace('a', 'aa')");
    }
    assert!(load_error(&format!("size({doubled}) > 0")).contains("over the limit"));
    // A loop over the object, and loops over parts of what it visits, are well within it.
    let (_, errors) = compile(
        "containers.exists(c, c.ports.exists(p, p.containerPort == 22) || c.env.exists(e, e.name.contains('KEY')))",
        RuleLimits::default(),
    );
    assert!(errors.is_empty(), "{errors:?}");
}

/// The errors of the one rule on a small Pod.
fn errors(rules: &RuleSet, progress: Option<&Progress>) -> Vec<String> {
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                     "spec": {"containers": [{"name": "a"}, {"name": "b"}]}});
    let activation = Activation::new(EvaluationInput { object: Some(&pod), ..Default::default() });
    let results = match progress {
        Some(progress) => rules.evaluate_tracked(&activation, ModeFilter::Any, progress),
        None => rules.evaluate(&activation, ModeFilter::Any),
    };
    assert_eq!(results.len(), 1);
    assert!(results[0].violations.is_empty());
    results[0].errors.iter().map(|e| e.message.clone()).collect()
}

#[test]
fn a_rule_that_would_allocate_a_trillion_elements_is_stopped() {
    // 10¹² elements: 3.3 GB and a crash before the bound.
    let rules = rule_set("size(lists.range(1000000).map(x, lists.range(1000000))) > 0", RuleLimits::default());
    let errors = errors(&rules, None);
    assert_eq!(errors.len(), 1);
    assert!(errors[0].contains("evaluation stopped"), "{errors:?}");
    assert!(errors[0].contains("more than 10000000 elements (rules.limits.maxIterations)"), "{errors:?}");
}

#[test]
fn a_billion_step_comprehension_is_stopped_before_it_runs() {
    let rules = rule_set(
        "lists.range(1000).all(i, lists.range(1000).all(j, lists.range(1000).all(k, i + j + k >= 0)))",
        RuleLimits::default(),
    );
    assert!(errors(&rules, None)[0].contains("evaluation stopped"));
}

#[test]
fn the_limit_is_what_the_rule_set_was_compiled_with() {
    // Two containers: 2 + 1 elements charged for entering the loop.
    let tight = RuleLimits { max_iterations: 3, ..RuleLimits::default() };
    assert!(errors(&rule_set("containers.exists(c, c.name == 'x')", tight.clone()), None).is_empty());
    let over = errors(&rule_set("containers.exists(c, containers.exists(d, d.name == 'x'))", tight), None);
    assert!(over[0].contains("more than 3 elements"), "{over:?}");
}

#[test]
fn a_cancelled_evaluation_stops_with_the_deadline_named() {
    let rules = rule_set("containers.exists(c, c.name == 'x')", RuleLimits::default());
    let progress = Progress::default();
    progress.cancel();
    let errors = errors(&rules, Some(&progress));
    assert_eq!(errors, ["evaluation stopped: the admission deadline passed"]);
}
