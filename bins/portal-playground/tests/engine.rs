//! The playground's engine as the page runs it, built natively: a JSON request on standard
//! input, `portal check`'s output, problems and exit status back.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::process::{Command, Stdio};

/// (exit status, standard output, standard error) of one run with `request` on standard input.
fn run(request: &str) -> (i32, String, String) {
    let mut engine = Command::new(env!("CARGO_BIN_EXE_portal-playground"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    engine.stdin.take().unwrap().write_all(request.as_bytes()).unwrap();
    let output = engine.wait_with_output().unwrap();
    let text = |bytes: Vec<u8>| String::from_utf8(bytes).unwrap();
    (output.status.code().unwrap(), text(output.stdout), text(output.stderr))
}

const RULE: &str = "name: no-host-network\nmatch: {gvk: [{group: \"\", version: v1, kind: Pod}]}\n\
                    rule: spec.hostNetwork == true\nmessage: not on the node's network\n";
const POD: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec: {hostNetwork: true, containers: []}\n";

#[test]
fn a_violation_is_denied_with_the_table_portal_check_prints() {
    let request = serde_json::json!({"rules": RULE, "manifests": POD, "namespace": "shop"}).to_string();
    let (status, stdout, stderr) = run(&request);
    assert_eq!(status, 1, "{stderr}");
    assert!(stdout.contains("Pod/shop/web  no-host-network  deny"), "{stdout}");
    assert_eq!(stderr, "");
}

#[test]
fn the_output_is_named_as_the_command_line_names_it() {
    let request = serde_json::json!({"rules": RULE, "manifests": POD, "output": "policy-report"}).to_string();
    let (status, stdout, _) = run(&request);
    assert_eq!(status, 1);
    assert!(stdout.contains("kind: PolicyReport"), "{stdout}");
}

#[test]
fn problems_are_located_in_the_texts_the_page_names() {
    let request = serde_json::json!({"rules": "name: x\nmatch: [\n", "manifests": POD}).to_string();
    let (status, _, stderr) = run(&request);
    assert_eq!(status, 2);
    assert_eq!(stderr, "error: rules.yaml:2: not valid YAML or JSON: column 8: unclosed bracket '['\n");
}

#[test]
fn a_malformed_request_is_bad_input_saying_why() {
    let (status, stdout, stderr) = run(r#"{"rules": "", "manifest": ""}"#);
    assert_eq!(status, 2);
    assert_eq!(stdout, "");
    assert!(
        stderr.starts_with("error: the request on standard input is not valid: unknown field `manifest`"),
        "{stderr}"
    );
    let (status, _, stderr) = run(r#"{"rules": "", "manifests": "", "output": "html"}"#);
    assert_eq!(status, 2);
    assert!(stderr.contains("unknown variant `html`"), "{stderr}");
}
