//! `portal-embed-example RULES_FILE... -- MANIFEST.json`: evaluates one object (JSON) against
//! rule files the way the admission webhook would for a CREATE, through `portal-rules`' public
//! API only, and prints the verdict: what a CI system, an IDE plugin or a scanner embedding the
//! rule engine does.

use std::process::ExitCode;

use portal_rules::{Activation, AdmissionVerdict, EvaluationInput, Mode, ModeFilter, Operation, RuleSet, load_rules};

/// What evaluating one object against some rules decided.
#[derive(Debug, PartialEq, Eq)]
pub struct Verdict {
    /// The denial message, when a `deny` rule was violated.
    pub denied: Option<String>,
    /// Warnings (`warn` rules).
    pub warnings: Vec<String>,
    /// `rule: message` of every violation, in rule order.
    pub violations: Vec<String>,
}

/// Loads `rule_files` (name, text), compiles them and evaluates `object` as a CREATE admission.
pub fn evaluate(rule_files: &[(String, String)], object: &serde_json::Value) -> Result<Verdict, String> {
    let mut loaded = Vec::new();
    for (name, text) in rule_files {
        let (rules, errors) = load_rules(name, text);
        if let Some(error) = errors.first() {
            return Err(error.to_string());
        }
        loaded.extend(rules);
    }
    let (set, errors) = RuleSet::compile(loaded);
    if let Some(error) = errors.first() {
        return Err(error.to_string());
    }
    let activation = Activation::new(EvaluationInput {
        object: Some(object),
        operation: Some(Operation::Create),
        ..Default::default()
    });
    let results = set.evaluate(&activation, ModeFilter::Only(Mode::Admission));
    let verdict = AdmissionVerdict::of(&results);
    let violations = results
        .iter()
        .flat_map(|result| {
            result.violations.iter().map(move |violation| format!("{}: {}", result.rule.name(), violation.message))
        })
        .collect();
    Ok(Verdict { denied: verdict.denial_message(), warnings: verdict.warnings, violations })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(split) = args.iter().position(|arg| arg == "--") else {
        eprintln!("usage: portal-embed-example RULES_FILE... -- MANIFEST.json");
        return ExitCode::from(2);
    };
    let read = |path: &String| std::fs::read_to_string(path).map_err(|error| format!("{path}: {error}"));
    let outcome = (|| -> Result<Verdict, String> {
        let rules =
            args[..split].iter().map(|path| Ok((path.clone(), read(path)?))).collect::<Result<Vec<_>, String>>()?;
        let manifest = args.get(split + 1).ok_or("no manifest after --")?;
        let object = serde_json::from_str(&read(manifest)?).map_err(|error| format!("{manifest}: {error}"))?;
        evaluate(&rules, &object)
    })();
    match outcome {
        Ok(verdict) => {
            for violation in &verdict.violations {
                println!("{violation}");
            }
            if verdict.denied.is_some() { ExitCode::from(1) } else { ExitCode::SUCCESS }
        }
        Err(error) => {
            eprintln!("{error}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle(dir: &str) -> Vec<(String, String)> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/pod-security").join(dir);
        let mut files: Vec<_> = std::fs::read_dir(&root).unwrap().map(|entry| entry.unwrap().path()).collect();
        files.retain(|path| path.extension().is_some_and(|extension| extension == "yaml"));
        files.sort();
        files.iter().map(|path| (path.display().to_string(), std::fs::read_to_string(path).unwrap())).collect()
    }

    fn pod(security: serde_json::Value) -> serde_json::Value {
        serde_json::json!({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"containers": [{"name": "app", "image": "registry.example.com/web:1.0", "securityContext": security}]}
        })
    }

    #[test]
    fn the_shipped_baseline_bundle_denies_a_privileged_pod_through_the_public_api() {
        let rules = bundle("baseline");
        let verdict = evaluate(&rules, &pod(serde_json::json!({"privileged": true}))).unwrap();
        assert!(verdict.denied.is_some(), "{verdict:?}");
        assert!(verdict.violations.iter().any(|violation| violation.contains("privileged")), "{verdict:?}");
        let verdict = evaluate(&rules, &pod(serde_json::json!({}))).unwrap();
        assert_eq!(verdict.denied, None, "{verdict:?}");
    }

    #[test]
    fn a_broken_rule_is_reported_with_its_place() {
        let error = evaluate(
            &[("broken.yaml".into(), "name: x\nmatch: {gvk: []}\nrule: 'true'\n".into())],
            &pod(serde_json::json!({})),
        )
        .unwrap_err();
        assert!(error.contains("broken.yaml") && error.contains("match.gvk"), "{error}");
    }
}
