//! Evaluates the baseline and restricted PSS bundles on the benchmark's typical pod N times, with
//! the binary's allocator: a fixed amount of work for counting instructions, which unlike
//! wall-clock time repeats exactly on a shared machine.
//!
//! `cargo build --profile bench -p portal-rules --example evaluate_restricted`, then
//! `valgrind --tool=callgrind target/release/examples/evaluate_restricted 1000` and
//! `callgrind_annotate --inclusive=yes callgrind.out.* | grep evaluate_once`: the instructions of
//! 1,000 evaluations (one context each, as in admission).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../benches/fixtures/mod.rs"]
mod fixtures;

use portal_rules::{Activation, EvaluationInput, ModeFilter, Operation};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let Some(Ok(iterations)) = std::env::args().nth(1).map(|n| n.parse::<usize>()) else {
        eprintln!("usage: evaluate_restricted ITERATIONS");
        std::process::exit(2);
    };
    let rules = fixtures::compile(fixtures::restricted_rules());
    let pod = fixtures::pod(1);
    let mut findings = 0;
    for _ in 0..iterations {
        let activation = Activation::new(EvaluationInput {
            object: Some(&pod),
            operation: Some(Operation::Create),
            ..Default::default()
        });
        findings += rules.evaluate(&activation, ModeFilter::Any).iter().map(|r| r.violations.len()).sum::<usize>();
    }
    println!("{iterations} evaluations, {findings} violations");
}
