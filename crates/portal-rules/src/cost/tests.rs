#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

fn cost(source: &str) -> f64 {
    let env = crate::environment::environment().unwrap();
    let program = env.compile(source).unwrap();
    estimate_cost(&program, LARGEST_OBJECT_BYTES)
}

const OBJECT: f64 = LARGEST_OBJECT_BYTES;

#[test]
fn constant_expressions_cost_a_few_units() {
    assert!(cost("1 + 2 == 3") < 10.0);
    assert!(cost("'abc'.startsWith('a')") < 10.0);
    assert!(cost("[1, 2, 3].all(x, x > 0)") < 50.0);
}

#[test]
fn a_loop_over_the_object_costs_its_size() {
    let linear = cost("object.spec.containers.all(c, c.name != '')");
    assert!(linear > OBJECT && linear < 10.0 * OBJECT, "{linear}");
}

#[test]
fn a_loop_over_a_part_of_the_visited_element_is_counted_once() {
    let nested = cost("object.spec.containers.all(c, c.ports.all(p, p.containerPort > 0))");
    assert!(nested < 20.0 * OBJECT, "{nested}");
    let deeper = cost("object.spec.containers.all(c, c.ports.all(p, p.names.all(n, n != '')))");
    assert!(deeper < 30.0 * OBJECT, "{deeper}");
}

#[test]
fn negating_costs_nothing_whatever_the_operand_is_a_part_of() {
    let negated = cost("object.spec.volumes.exists(v, has(v.configMap) && !v.configMap.?optional.orValue(false))");
    let plain = cost("object.spec.volumes.exists(v, has(v.configMap) && v.configMap.?optional.orValue(false))");
    assert!(negated <= plain + 10.0 * OBJECT, "{negated} vs {plain}");
}

#[test]
fn lookups_are_left_out_of_the_estimate() {
    let nested = cost(
        "object.spec.rules.exists(r, cluster.list('networking.k8s.io/v1', 'Ingress', '').exists(o, \
         o.spec.rules.exists(x, x.host == r.host)))",
    );
    assert!(nested * 10.0 < crate::DEFAULT_MAX_ESTIMATED_COST, "{nested}");
}

#[test]
fn a_loop_over_the_whole_object_inside_another_multiplies() {
    let quadratic = cost("object.spec.containers.all(c, object.spec.containers.exists_one(d, d.name == c.name))");
    assert!(quadratic > OBJECT * OBJECT, "{quadratic}");
    // A part of an *outer* element, inside an inner loop, is visited once per inner element.
    let repeated = cost("object.spec.containers.all(c, c.ports.all(p, c.env.all(e, e.name != '')))");
    assert!(repeated > OBJECT * OBJECT, "{repeated}");
}

#[test]
fn ranges_cost_their_length() {
    let billion = cost("lists.range(1000000000).all(x, x >= 0)");
    assert!(billion > 1.0e9, "{billion}");
    let nested = cost("size(lists.range(1000000).map(x, lists.range(1000000))) > 0");
    assert!(nested > 1.0e12, "{nested}");
    assert!(cost("lists.range(size(object.spec.containers)).all(i, i >= 0)") > OBJECT);
    assert!(cost("lists.range(object.spec.replicas).all(i, i >= 0)").is_infinite());
    // An unbounded body run no times costs nothing.
    assert!(cost("[].all(x, lists.range(object.n).size() > 0)") < 100.0);
}

#[test]
fn growing_strings_cost_what_they_could_grow_to() {
    let mut doubled = "'ab'".to_owned();
    for _ in 0..30 {
        doubled = format!("{doubled}.replace('a', 'aa')");
    }
    assert!(cost(&format!("size({doubled}) > 0")) > 1.0e9);
    let joined = cost("object.spec.containers.map(c, c.name).join(', ').size() > 0");
    assert!(joined < 20.0 * OBJECT, "{joined}");
}

#[test]
fn costs_read_as_numbers_a_person_compares() {
    assert_eq!(display_cost(&950.0), "950");
    assert_eq!(display_cost(&31_457_280.0), "31.5 million");
    assert_eq!(display_cost(&2.0e12), "2.0e12");
    assert_eq!(display_cost(&f64::INFINITY), "unbounded");
    assert_eq!(display_bytes(&LARGEST_OBJECT_BYTES), "3 MiB");
}

/// Every shipped rule loads under the default limit with room to spare, and the report of what
/// each costs is at hand: `cargo test -p portal-rules shipped_rules -- --nocapture`.
#[test]
fn shipped_rules_stay_well_under_the_default_limit() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut files = Vec::new();
    let mut folders = vec![root];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() && path.file_name().is_some_and(|n| n != "tests") {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml") {
                files.push(path);
            }
        }
    }
    let env = crate::environment::environment().unwrap();
    let mut worst: f64 = 0.0;
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let (rules, _) = crate::load_rules(&file.display().to_string(), &text);
        for rule in rules {
            for source in std::iter::once(&rule.spec.rule).chain(rule.spec.message_expression.as_ref()) {
                let estimate = estimate_cost(&env.compile(source).unwrap(), LARGEST_OBJECT_BYTES);
                println!("{:>14}  {}", display_cost(&estimate), rule.name);
                worst = worst.max(estimate);
            }
        }
    }
    assert!(worst > 0.0, "no shipped rule was found");
    assert!(worst * 5.0 <= crate::DEFAULT_MAX_ESTIMATED_COST, "the costliest shipped rule: {}", display_cost(&worst));
}
