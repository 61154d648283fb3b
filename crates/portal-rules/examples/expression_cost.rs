//! What one rule expression costs on a typical pod: a tool for rule authors tuning hot rules.
//!
//! `cargo run --release -p portal-rules --example expression_cost -- 'EXPR' ['EXPR'...]`
//! prints the mean time of one evaluation (matching and context reuse included, the context's
//! one-off construction excluded) and the outcome.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../benches/fixtures/mod.rs"]
mod fixtures;

use std::time::Instant;

use portal_rules::{Activation, EvaluationInput, ModeFilter, Operation, RuleSet, load_rules};

const ITERATIONS: u32 = 20_000;

fn main() {
    let pod = fixtures::pod(1);
    for expression in std::env::args().skip(1) {
        let text = format!("name: measured\nmatch: {{gvk: [{{group: '', kind: Pod}}]}}\nrule: {expression:?}\n");
        let (rules, errors) = RuleSet::compile(load_rules("argument", &text).0);
        if let Some(error) = errors.first() {
            eprintln!("{error}");
            continue;
        }
        let activation = Activation::new(EvaluationInput {
            object: Some(&pod),
            operation: Some(Operation::Create),
            ..Default::default()
        });
        activation.build_all();
        let started = Instant::now();
        let mut results = Vec::new();
        for _ in 0..ITERATIONS {
            results = rules.evaluate(&activation, ModeFilter::Any);
        }
        let nanos = started.elapsed().as_nanos() / u128::from(ITERATIONS);
        let outcome = results.first().map(|r| format!("{:?}", r.outcome())).unwrap_or_default();
        println!("{nanos:>8} ns  {outcome:<5}  {expression}");
    }
}
