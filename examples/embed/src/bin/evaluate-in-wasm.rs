//! The rule engine running on `wasm32-unknown-unknown`, a target with no clock, files or
//! output: built by `cargo xtask wasm` and run by Node.js, which calls `main` and reads its
//! exit status (there is nowhere to print). 0: the engine loaded, compiled and evaluated the
//! rules and decided what the webhook decides; any other status names the step that failed, and
//! a panic traps.

use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use portal_rules::{Activation, AdmissionVerdict, EvaluationInput, Mode, ModeFilter, Operation, RuleSet, load_rules};

const RULES: &str = r#"
name: no-privileged
enforcementAction: deny
match: {gvk: [{group: "", version: v1, kind: Pod}]}
rule: container.securityContext.privileged == true
messageExpression: "'container ' + container.name + ' is privileged'"
---
name: registry
enforcementAction: warn
match: {gvk: [{group: "", version: v1, kind: Pod}]}
rule: "!container.image.startsWith('registry.example.com/')"
message: images come from registry.example.com
"#;

fn main() -> ExitCode {
    let (rules, errors) = load_rules("rules.yaml", RULES);
    if !errors.is_empty() || rules.len() != 2 {
        return ExitCode::from(10);
    }
    let (set, errors) = RuleSet::compile(rules);
    if !errors.is_empty() {
        return ExitCode::from(11);
    }
    let pod = serde_json::json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "debug", "namespace": "shop"},
        "spec": {"containers": [
            {"name": "shell", "image": "busybox", "securityContext": {"privileged": true}},
            {"name": "app", "image": "registry.example.com/app:1"}
        ]}
    });
    // No clock here: the evaluation is as of a given time.
    let time = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_845_135);
    let input = EvaluationInput { object: Some(&pod), operation: Some(Operation::Create), ..Default::default() };
    let activation = Activation::new(input).at(time);
    let results = set.evaluate(&activation, ModeFilter::Only(Mode::Admission));
    let verdict = AdmissionVerdict::of(&results);
    let violations: Vec<_> = results.iter().flat_map(|result| &result.violations).collect();
    if violations.len() != 2 || violations.iter().any(|violation| violation.timestamp != time) {
        return ExitCode::from(12);
    }
    if verdict.denial_message().as_deref() != Some("denied by portal: no-privileged: container shell is privileged") {
        return ExitCode::from(13);
    }
    if verdict.warnings != ["registry: images come from registry.example.com"] {
        return ExitCode::from(14);
    }
    ExitCode::SUCCESS
}
