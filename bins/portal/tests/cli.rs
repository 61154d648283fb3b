//! The `portal` binary end to end: exit statuses, outputs and error messages users see.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn portal(args: &[&str]) -> Output {
    portal_with_stdin(args, None)
}

fn portal_with_stdin(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_portal"))
        .args(args)
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or_default().as_bytes()).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("portal-cli-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const PSS: [&str; 4] =
    ["--rules", "examples/policies/pod-security/baseline", "--rules", "examples/policies/pod-security/restricted"];

#[test]
fn readme_check_command_denies_the_violating_examples() {
    let mut args = vec!["check", "--rules", "examples/rules"];
    args.extend(PSS);
    args.push("examples/manifests");
    let output = portal(&args);
    assert_eq!(output.status.code(), Some(1), "{}{}", stdout(&output), stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("Pod/shop/debug-shell"), "{text}");
    assert!(text.contains("pss-baseline-privileged"), "{text}");
    assert!(!text.contains("Deployment/shop/web"), "the compliant deployment has no finding:\n{text}");
    assert!(text.contains("4 objects checked against 28 rules"), "{text}");
    assert!(stderr(&output).is_empty(), "{}", stderr(&output));
}

#[test]
fn compliant_manifests_exit_zero() {
    let mut args = vec!["check", "--rules", "examples/rules"];
    args.extend(PSS);
    args.push("examples/manifests/compliant-deployment.yaml");
    let output = portal(&args);
    assert_eq!(output.status.code(), Some(0), "{}{}", stdout(&output), stderr(&output));
}

#[test]
fn warn_only_violations_exit_zero() {
    let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: x}\nspec:\n  containers: [{name: c, image: 'ghcr.io/a/b:1'}]\n";
    let output = portal_with_stdin(&["check", "--rules", "examples/rules/image-pinning.yaml", "-"], Some(pod));
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert!(stdout(&output).contains("1 warn"), "{}", stdout(&output));
}

#[test]
fn stdin_lists_and_json_output() {
    let list = r#"{"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a", "namespace": "n"}, "spec": {"hostNetwork": true, "containers": []}},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "b", "namespace": "n"}, "spec": {"containers": []}}
    ]}"#;
    let output = portal_with_stdin(
        &["check", "--rules", "examples/rules/host-namespaces.yaml", "--output", "json", "-"],
        Some(list),
    );
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let json: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(json["summary"]["objects"], 2);
    assert_eq!(json["summary"]["deny"], 1);
    assert_eq!(json["objects"][0]["resource"], "Pod/n/a");
    // Each item of a JSON List is located on its own line.
    assert_eq!(json["objects"][0]["source"], "-:2");
    assert_eq!(json["objects"][1]["source"], "-:3");
    let results = json["objects"][0]["results"].as_array().unwrap();
    let host_network = results.iter().find(|r| r["rule"] == "no-host-network").unwrap();
    assert_eq!(host_network["result"], "fail");
    assert_eq!(host_network["violations"][0]["kind"], "Pod");
    assert_eq!(json["objects"][1]["results"][0]["result"], "pass");
}

#[test]
fn policy_report_output_is_one_report_per_resource() {
    let output = portal(&["check", "--rules", "examples/rules", "--output", "policy-report", "examples/manifests"]);
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    let docs = portal_rules::parse_documents("out", &text).unwrap();
    let list = &docs[0].value;
    assert_eq!(list["kind"], "List");
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 4);
    let report = items.iter().find(|i| i["scope"]["name"] == "debug-shell").unwrap();
    assert_eq!(report["apiVersion"], "wgpolicyk8s.io/v1alpha2");
    assert_eq!(report["kind"], "PolicyReport");
    assert_eq!(report["metadata"]["namespace"], "shop");
    assert_eq!(report["scope"]["kind"], "Pod");
    let privileged =
        report["results"].as_array().unwrap().iter().find(|r| r["policy"] == "no-privileged-containers").unwrap();
    assert_eq!(privileged["result"], "fail");
    assert_eq!(privileged["source"], "portal");
    assert_eq!(privileged["severity"], "critical");
    assert_eq!(privileged["properties"]["container"], "shell");
    assert!(report["summary"]["fail"].as_u64().unwrap() >= 4, "{}", report["summary"]);
}

#[test]
fn exceptions_turn_the_rules_they_exempt_into_skips() {
    let args = ["check", "--rules", "examples/rules", "--exceptions", "examples/exceptions"];
    let output = portal(&[&args[..], &["--output", "policy-report", "examples/manifests"]].concat());
    assert_eq!(output.status.code(), Some(1), "other violations still deny: {}", stderr(&output));
    let docs = portal_rules::parse_documents("out", &stdout(&output)).unwrap();
    let items = docs[0].value["items"].as_array().unwrap().clone();
    let legacy = items.iter().find(|i| i["scope"]["name"] == "legacy-app").unwrap();
    let skipped: Vec<_> = legacy["results"].as_array().unwrap().iter().filter(|r| r["result"] == "skip").collect();
    assert_eq!(skipped.len(), 2, "{legacy:#}");
    assert_eq!(skipped[0]["properties"]["exception"], "PortalException/shop/legacy-app-runs-as-root");
    assert_eq!(legacy["summary"]["skip"], 2);
    let table = stdout(&portal(&[&args[..], &["examples/manifests"]].concat()));
    assert!(table.contains("2 rules not evaluated on an object an exception exempts"), "{table}");

    // A bad exception is bad input: where, which field, what to do.
    let dir = temp_dir("bad-exception");
    let bad = dir.join("exception.yaml");
    std::fs::write(
        &bad,
        "apiVersion: portal.io/v1alpha1\nkind: PortalException\nmetadata: {name: x, namespace: shop}\nspec: {rules: ['*']}\n",
    )
    .unwrap();
    let output =
        portal(&["check", "--rules", "examples/rules", "--exceptions", bad.to_str().unwrap(), "examples/manifests"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("exception.yaml:1: field `spec`: missing field `justification`"),
        "{}",
        stderr(&output)
    );
}

/// The YAML and JSON outputs are written piece by piece as objects are checked; both must still
/// be one document, and the same one: multi-line messages, skipped documents and errors included,
/// and with no objects at all.
#[test]
fn yaml_and_json_outputs_are_the_same_document() {
    let dir = temp_dir("yaml-json");
    // A container name across lines: YAML writes it as a block scalar, inside a sequence item.
    let pod = r#"{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "n"},
        "spec": {"containers": [{"name": "first line\n  indented\n\nafter a blank line", "image": "busybox"}]}}"#;
    std::fs::write(dir.join("multiline.json"), pod).unwrap();
    std::fs::create_dir_all(dir.join("notes")).unwrap();
    std::fs::write(dir.join("notes/a-note.yaml"), "just: a note\n").unwrap();
    std::fs::write(dir.join("notes/broken.yaml"), "broken: [\n").unwrap();
    let pod = dir.join("multiline.json");
    let notes = dir.join("notes");
    let strip_timestamps = |mut value: serde_json::Value| {
        fn walk(value: &mut serde_json::Value) {
            match value {
                serde_json::Value::Object(map) => {
                    map.remove("timestamp");
                    map.values_mut().for_each(walk);
                }
                serde_json::Value::Array(items) => items.iter_mut().for_each(walk),
                _ => {}
            }
        }
        walk(&mut value);
        value
    };
    let cases: [&[&str]; 2] = [
        &["--rules", "examples/rules", "examples/manifests", pod.to_str().unwrap(), notes.to_str().unwrap()],
        &["--rules", "examples/rules", notes.to_str().unwrap()],
    ];
    for case in cases {
        let json = portal(&[&["check", "-o", "json"], case].concat());
        let yaml = portal(&[&["check", "-o", "yaml"], case].concat());
        assert_eq!(json.status.code(), Some(2), "{}", stderr(&json));
        let json: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
        let docs = portal_rules::parse_documents("out", &stdout(&yaml)).unwrap();
        assert_eq!(docs.len(), 1, "{}", stdout(&yaml));
        assert_eq!(strip_timestamps(docs[0].value.clone()), strip_timestamps(json.clone()));
        assert!(json["errors"][0]["message"].as_str().unwrap().contains("unclosed bracket"), "{json}");
        assert!(json["skipped"][0]["message"].as_str().unwrap().contains("not a Kubernetes object"), "{json}");
    }
    let json = portal(&[&["check", "-o", "json"], cases[0]].concat());
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let pod = json["objects"].as_array().unwrap().iter().find(|o| o["resource"] == "Pod/n/p").unwrap();
    assert_eq!(pod["results"][0]["violations"][0]["container"], "first line\n  indented\n\nafter a blank line");
    let empty = portal(&["check", "-o", "json", "--rules", "examples/rules", notes.to_str().unwrap()]);
    let empty: serde_json::Value = serde_json::from_slice(&empty.stdout).unwrap();
    assert_eq!(empty["objects"], serde_json::json!([]));
    assert_eq!(empty["summary"]["objects"], 0);
}

#[test]
fn bad_input_is_one_line_with_its_location_and_exit_two() {
    let dir = temp_dir("bad-input");
    let bad_yaml = dir.join("bad.yaml");
    std::fs::write(&bad_yaml, "apiVersion: v1\nkind: Pod\nmetadata: {name: x\n").unwrap();
    let output = portal(&["check", "--rules", "examples/rules", bad_yaml.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(err.contains(&format!("error: {}:3: not valid YAML or JSON: column 11", bad_yaml.display())), "{err}");

    let bad_rule = dir.join("rule.yaml");
    std::fs::write(&bad_rule, "name: r\nmatch: {gvk: [{group: '', kind: Pod, versoin: v1}]}\nrule: 'true'\n").unwrap();
    let output = portal(&["check", "--rules", bad_rule.to_str().unwrap(), "examples/manifests"]);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(err.contains("field `match.gvk[0].versoin`: unknown field `versoin`"), "{err}");

    let bad_cel = dir.join("cel.yaml");
    std::fs::write(&bad_cel, "name: r\nmatch: {gvk: [{group: '', kind: Pod}]}\nrule: spec.hostNetwork == \n").unwrap();
    let output = portal(&["check", "--rules", bad_cel.to_str().unwrap(), "examples/manifests"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("`rule` does not compile: line 1, column"), "{}", stderr(&output));

    let output = portal(&["check", "--rules", "does/not/exist", "examples/manifests"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("does/not/exist: cannot read"), "{}", stderr(&output));
    for line in stderr(&output).lines() {
        assert!(line.starts_with("error: ") || line.starts_with("warning: "), "one line per problem: {line}");
    }
}

#[test]
fn non_kubernetes_documents_are_reported_and_skipped() {
    let output = portal_with_stdin(
        &["check", "--rules", "examples/rules", "-"],
        Some("just: data\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"),
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stderr(&output).contains("warning: -:1: not a Kubernetes object"), "{}", stderr(&output));
    assert!(stdout(&output).contains("1 objects checked"), "{}", stdout(&output));
}

#[test]
fn shipped_test_suites_pass() {
    let output = portal(&["test", "examples"]);
    assert_eq!(output.status.code(), Some(0), "{}{}", stdout(&output), stderr(&output));
    assert!(stdout(&output).contains(" 0 failed"), "{}", stdout(&output));
}

#[test]
fn lookups_read_the_cluster_given_and_say_so_when_none_is() {
    let rules = ["check", "--rules", "examples/lookups/rules"];
    let with = portal(&[&rules[..], &["--cluster", "examples/lookups/cluster", "examples/lookups/manifests"]].concat());
    assert_eq!(with.status.code(), Some(1), "{}{}", stdout(&with), stderr(&with));
    let table = stdout(&with);
    assert!(table.contains("Ingress/blog/promo"), "{table}");
    assert!(table.contains("host already served by another Ingress: shop.example.com"), "{table}");
    assert!(!table.contains("Ingress/shop/storefront"), "re-applying an Ingress does not collide with itself: {table}");

    let without = portal(&[&rules[..], &["examples/lookups/manifests"]].concat());
    let table = stdout(&without);
    assert!(table.contains("this evaluation has no cluster to read"), "{table}");
    assert!(!table.contains(" 0 evaluation errors"), "{table}");

    let missing = portal(&[&rules[..], &["--cluster", "no/such/dir", "examples/lookups/manifests"]].concat());
    assert_eq!(missing.status.code(), Some(2), "{}", stderr(&missing));
    assert!(stderr(&missing).contains("no/such/dir"), "{}", stderr(&missing));
}

#[test]
fn a_suite_can_evaluate_its_resources_as_another_admission_request() {
    let dir = temp_dir("request");
    std::fs::write(
        dir.join("rules.yaml"),
        "name: no-scale-down-by-hand\nmatch: {gvk: [{group: apps, kind: Deployment}], operations: [UPDATE]}\n\
         rule: \"object.spec.replicas < oldObject.spec.replicas && !request.userInfo.username.startsWith('system:')\"\n\
         ---\nname: keep-the-database\nmatch: {gvk: [{group: apps, kind: Deployment}], operations: [DELETE]}\n\
         rule: \"oldObject.metadata.name == 'db' && !request.dryRun\"\n",
    )
    .unwrap();
    let deployment = |name: &str, replicas: u32| {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}, namespace: shop}}\nspec: {{replicas: {replicas}}}\n"
        )
    };
    std::fs::write(dir.join("now.yaml"), format!("{}---\n{}", deployment("web", 2), deployment("db", 1))).unwrap();
    std::fs::write(dir.join("before.yaml"), format!("{}---\n{}", deployment("web", 5), deployment("db", 1))).unwrap();
    let suites = r#"name: scaled down by a person
rules: [rules.yaml]
resources: [now.yaml]
request: {operation: UPDATE, userInfo: {username: alice}, oldResources: [before.yaml]}
results:
  - {rule: no-scale-down-by-hand, resource: Deployment/shop/web, result: fail}
  - {rule: no-scale-down-by-hand, resource: Deployment/shop/db, result: pass}
  - {rule: keep-the-database, resource: Deployment/shop/db, result: skip}
---
name: scaled down by a controller
rules: [rules.yaml]
resources: [now.yaml]
request: {operation: UPDATE, userInfo: {username: 'system:serviceaccount:kube-system:hpa'}, oldResources: [before.yaml]}
results:
  - {rule: no-scale-down-by-hand, resource: Deployment/shop/web, result: pass}
---
name: deleted
rules: [rules.yaml]
resources: [now.yaml]
request: {operation: DELETE}
results:
  - {rule: keep-the-database, resource: Deployment/shop/db, result: fail}
  - {rule: keep-the-database, resource: Deployment/shop/web, result: pass}
  - {rule: no-scale-down-by-hand, resource: Deployment/shop/web, result: skip}
---
name: deleted in a dry run
rules: [rules.yaml]
resources: [now.yaml]
request: {operation: DELETE, dryRun: true}
results:
  - {rule: keep-the-database, resource: Deployment/shop/db, result: pass}
"#;
    std::fs::write(dir.join("portal-test.yaml"), suites).unwrap();
    let output = portal(&["test", dir.join("portal-test.yaml").to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}{}", stdout(&output), stderr(&output));
    assert!(stdout(&output).contains("8 passed, 0 failed"), "{}", stdout(&output));

    // An UPDATE without the previous version of a resource is bad input.
    std::fs::write(
        dir.join("portal-test.yaml"),
        "rules: [rules.yaml]\nresources: [now.yaml]\nrequest: {operation: UPDATE}\nresults:\n  \
         - {rule: no-scale-down-by-hand, resource: Deployment/shop/web, result: pass}\n",
    )
    .unwrap();
    let output = portal(&["test", dir.join("portal-test.yaml").to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2), "{}{}", stdout(&output), stderr(&output));
    assert!(
        stderr(&output).contains("no previous version of Deployment/shop/web for the UPDATE"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn failing_expectations_are_printed_and_exit_one() {
    let dir = temp_dir("suite");
    std::fs::write(
        dir.join("pod.yaml"),
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: d}\nspec:\n  hostNetwork: true\n  containers: [{name: c, image: x}]\n",
    )
    .unwrap();
    let rules = root().join("examples/rules/host-namespaces.yaml");
    std::fs::write(
        dir.join("portal-test.yaml"),
        format!(
            "name: wrong on purpose\nrules: [{}]\nresources: [pod.yaml]\nresults:\n  - {{rule: no-host-network, resource: Pod/d/p, result: pass}}\n  - {{rule: no-host-pid-ipc, resource: Pod/d/p, result: pass}}\n",
            rules.display()
        ),
    )
    .unwrap();
    let output = portal(&["test", dir.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1), "{}{}", stdout(&output), stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("no-host-network on Pod/d/p: expected pass, got fail (hostNetwork is not allowed"), "{text}");
    assert!(text.contains("1 passed, 1 failed"), "{text}");

    std::fs::write(
        dir.join("portal-test.yaml"),
        "name: typo\nrules: []\nresources: [pod.yaml]\nresults: [{rule: r, resource: Pod/d/p, reslt: pass}]\n",
    )
    .unwrap();
    let output = portal(&["test", dir.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("error: "), "{}", stderr(&output));
    assert!(stderr(&output).contains("field `results[0].reslt`: unknown field `reslt`"), "{}", stderr(&output));

    std::fs::write(
        dir.join("portal-test.yaml"),
        format!(
            "rules: [{}]\nresources: [pod.yaml]\nresults: [{{rule: no-host-network, resource: Pod/d/p, result: pass, container: cc}}]\n",
            rules.display()
        ),
    )
    .unwrap();
    let output = portal(&["test", dir.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("Pod/d/p has no container named cc (it has: c)"), "{}", stderr(&output));
}

#[test]
fn eval_prints_json_and_fails_with_position() {
    let output = portal(&[
        "eval",
        "containers.map(c, c.imageRef.registry + '/' + c.imageRef.repository)",
        "--object",
        "examples/manifests/compliant-deployment.yaml",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let value: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(value, serde_json::json!(["ghcr.io/example/web"]));

    let output = portal(&[
        "eval",
        "container.securityContext.allowPrivilegeEscalation",
        "--object",
        "examples/manifests/compliant-deployment.yaml",
    ]);
    let value: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(value, serde_json::json!({"web": false}), "per container");

    let output = portal(&["eval", "1 + "]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).starts_with("error: expression: does not compile: line 1, column"), "{}", stderr(&output));

    let output = portal(&["eval", "object.spec.nothing"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("evaluation failed"), "{}", stderr(&output));
}

#[test]
fn version_and_completions() {
    let output = portal(&["version"]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(stdout(&output), format!("portal {}\n", env!("CARGO_PKG_VERSION")));
    let output = portal(&["completions", "bash"]);
    assert_eq!(output.status.code(), Some(0));
    assert!(stdout(&output).contains("complete -F"), "{}", stdout(&output));
}

#[test]
fn audit_only_findings_are_reported_but_do_not_fail_the_check() {
    let dir = temp_dir("audit-only");
    std::fs::write(
        dir.join("rule.yaml"),
        "name: audit-host-network\nmode: [audit]\nmatch: {gvk: [{group: '', kind: Pod}]}\nrule: spec.hostNetwork == true\n",
    )
    .unwrap();
    let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {hostNetwork: true, containers: []}\n";
    let output = portal_with_stdin(&["check", "--rules", dir.join("rule.yaml").to_str().unwrap(), "-"], Some(pod));
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    let text = stdout(&output);
    assert!(text.contains("audit-host-network"), "{text}");
    assert!(text.contains("0 deny, 0 warn, 0 dryrun, 1 audit-only violations"), "{text}");
}

#[test]
fn objects_without_a_namespace_land_in_the_default_one() {
    let dir = temp_dir("namespaces");
    std::fs::write(
        dir.join("rule.yaml"),
        "name: not-in-default\nmatch:\n  gvk: [{group: '', kind: Pod}]\n  namespaces: {include: [default]}\nrule: 'true'\n",
    )
    .unwrap();
    let rule = dir.join("rule.yaml");
    let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: []}\n";
    let output = portal_with_stdin(&["check", "--rules", rule.to_str().unwrap(), "-o", "json", "-"], Some(pod));
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let json: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(json["objects"][0]["resource"], "Pod/default/p");
    let output = portal_with_stdin(&["check", "--rules", rule.to_str().unwrap(), "-n", "team-a", "-"], Some(pod));
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    let namespace = "--- {apiVersion: v1, kind: Namespace, metadata: {name: default}}\n";
    let output = portal_with_stdin(&["check", "--rules", rule.to_str().unwrap(), "-o", "json", "-"], Some(namespace));
    let json: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(json["objects"][0]["resource"], "Namespace/default", "a document on the marker line is read");
    assert_eq!(json["objects"][0]["results"], serde_json::json!([]), "cluster-scoped kinds stay without namespace");
}

#[test]
fn run_prints_the_effective_configuration_with_sources() {
    let output = Command::new(env!("CARGO_BIN_EXE_portal"))
        .args(["run", "--print-config", "--cluster-rules", "false", "--rules", "examples/rules"])
        .env("PORTAL_LOGGING_LEVEL", "debug")
        .current_dir(root())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("enabled: false  # from --cluster-rules"), "{text}");
    assert!(text.contains("- examples/rules"), "{text}");
    assert!(text.contains("level: debug  # from PORTAL_LOGGING_LEVEL"), "{text}");

    let output = Command::new(env!("CARGO_BIN_EXE_portal"))
        .args(["run", "--print-config"])
        .env("PORTAL_RULES_FOLDER", "/x")
        .current_dir(root())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("PORTAL_RULES_FOLDER"), "{}", stderr(&output));
}

#[test]
fn run_loads_folder_rules_and_stops_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_portal"))
        .args(["run", "--cluster-rules", "false", "--rules", "examples/rules", "--log-format", "json"])
        .current_dir(root())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr_pipe = child.stderr.take().unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stderr_pipe));
    let loaded = lines
        .by_ref()
        .map_while(Result::ok)
        .find(|line| line.contains("rules loaded"))
        .expect("portal run reports its rules");
    let log: serde_json::Value = serde_json::from_str(&loaded).unwrap();
    assert_eq!(log["fields"]["rules"], 9, "{log}");
    assert_eq!(log["fields"]["rejected"], 0, "{log}");
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    assert!(child.wait().unwrap().success(), "a SIGTERM is a clean shutdown");
}

/// The webhook configuration shipped in deploy/webhook/ is what `portal webhook-config` renders
/// for the shipped examples.
#[test]
fn the_shipped_webhook_configuration_is_rendered_from_the_examples() {
    let mut args = vec!["webhook-config", "--rules", "examples/rules"];
    args.extend(PSS);
    let output = portal(&args);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let shipped = std::fs::read_to_string(root().join("deploy/webhook/validating-webhook-configuration.yaml")).unwrap();
    assert!(
        stdout(&output) == shipped,
        "deploy/webhook/validating-webhook-configuration.yaml is out of date: run `portal webhook-config --rules \
         examples/rules --rules examples/policies/pod-security/baseline --rules \
         examples/policies/pod-security/restricted > deploy/webhook/validating-webhook-configuration.yaml`"
    );
    let text = stdout(&output);
    assert!(text.contains("pods/ephemeralcontainers") && text.contains("deployments/scale"), "{text}");
    assert!(!text.contains("cluster.validate.portal.io"), "the examples target no cluster-scoped kind:\n{text}");
}

#[test]
fn webhook_config_reports_bad_rules_and_protected_kinds() {
    let dir = temp_dir("webhook-config");
    std::fs::write(dir.join("bad.yaml"), "name: bad\nmatch: {gvk: [{group: '', kind: Pod}]}\nrule: 'spec.('\n")
        .unwrap();
    let output = portal(&["webhook-config", "--rules", dir.join("bad.yaml").to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("bad.yaml"), "{}", stderr(&output));
    std::fs::write(dir.join("nodes.yaml"), "name: nodes\nmatch: {gvk: [{group: '', kind: Node}]}\nrule: 'true'\n")
        .unwrap();
    let output = portal(&["webhook-config", "--rules", dir.join("nodes.yaml").to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stderr(&output).contains("warning: rule nodes matches core/Node"), "{}", stderr(&output));
    assert!(stdout(&output).contains("webhooks: []"), "{}", stdout(&output));
}

/// A table cell over 65,535 characters once panicked ("Formatting argument out of range"), and
/// control characters in object fields were printed raw, so a container name could forge lines.
#[test]
fn table_cells_cannot_crash_or_forge_the_output() {
    let dir = temp_dir("forged-table");
    let long_name = "c".repeat(70_000);
    let pod = serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "n"},
        "spec": {"containers": [
            {"name": long_name, "image": "x", "securityContext": {"privileged": true}},
            {"name": "evil\n0 objects checked against 0 rules\u{1b}[2K", "image": "x", "securityContext": {"privileged": true}}]}});
    std::fs::write(dir.join("pod.json"), pod.to_string()).unwrap();
    let output = portal(&[
        "check",
        "--rules",
        "examples/rules/privileged-containers.yaml",
        dir.join("pod.json").to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.lines().all(|line| line.chars().count() < 2_000), "cells are cut");
    assert!(text.contains("evil\\n0 objects checked"), "{text}");
    assert!(!text.contains('\u{1b}'), "no escape sequence reaches the terminal");
    assert!(!text.lines().any(|line| line.starts_with("0 objects checked")), "no forged summary line: {text}");
}

/// Runs `portal` with a time limit: inputs that once made it loop or block must not hang CI.
fn portal_within(args: &[&str], limit: std::time::Duration) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_portal"))
        .args(args)
        .current_dir(root())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            child.kill().unwrap();
            panic!("portal {args:?} was still running after {limit:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// Memory grew with objects × rules even when nothing failed (5,000 rules × 5,000 Pods peaked at
/// 5.9 GB): every rule's result of every object was kept until the end. Now reports are written
/// as they are made, and passing results are not kept: 2,000 Pods × 200 rules peaked at 90 MB
/// before, about 30 MB now (debug build).
#[test]
fn memory_does_not_grow_with_objects_times_rules() {
    let dir = temp_dir("objects-times-rules");
    let pods: Vec<serde_json::Value> = (0..2_000)
        .map(|i| {
            serde_json::json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": format!("p{i}"), "namespace": "shop", "labels": {"app": "web"}},
                "spec": {"containers": [{"name": "app", "image": "registry.example.com/web:1",
                    "env": (0..10).map(|e| serde_json::json!({"name": format!("E{e}"), "value": "v"})).collect::<Vec<_>>()}]}})
        })
        .collect();
    let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": pods});
    std::fs::write(dir.join("pods.json"), list.to_string()).unwrap();
    let rules: String = (0..200)
        .map(|i| format!("---\nname: r{i}\nmatch: {{gvk: [{{group: '', version: v1, kind: Pod}}]}}\nrule: spec.hostNetwork == true\n"))
        .collect();
    std::fs::write(dir.join("rules.yaml"), rules).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_portal"))
        .args(["check", "--rules"])
        .args([dir.join("rules.yaml"), dir.join("pods.json")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kb = 0_u64;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        let status = std::fs::read_to_string(&status_file).unwrap_or_default();
        let high_water = status.lines().find_map(|line| line.strip_prefix("VmHWM:"));
        peak_kb = peak_kb.max(high_water.and_then(|kb| kb.trim().trim_end_matches(" kB").parse().ok()).unwrap_or(0));
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    assert_eq!(status.code(), Some(0));
    assert!(peak_kb > 0, "the peak was never read");
    assert!(peak_kb < 60 * 1024, "portal check peaked at {peak_kb} kB for a 1 MB input");
}

/// Symlink loops once made `check` run forever with growing memory (and read every file 41 times
/// with one loop); a FIFO blocked forever; /dev/zero was read to gigabytes.
#[test]
fn symlink_loops_fifos_and_devices_neither_hang_nor_repeat() {
    let dir = temp_dir("loops");
    let rules = dir.join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::copy(root().join("examples/rules/privileged-containers.yaml"), rules.join("privileged.yaml")).unwrap();
    std::os::unix::fs::symlink(&rules, rules.join("loop")).unwrap();
    std::os::unix::fs::symlink(&rules, rules.join("again")).unwrap();
    let manifests = dir.join("manifests");
    std::fs::create_dir_all(&manifests).unwrap();
    std::fs::copy(root().join("examples/manifests/violating-pods.yaml"), manifests.join("pods.yaml")).unwrap();
    std::os::unix::fs::symlink(&manifests, manifests.join("loop")).unwrap();
    let fifo = manifests.join("pipe.yaml");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let limit = std::time::Duration::from_secs(20);

    let output =
        portal_within(&["check", "-o", "json", "--rules", rules.to_str().unwrap(), manifests.to_str().unwrap()], limit);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["summary"]["rules"], 1, "the rule file is read once");
    assert_eq!(report["summary"]["objects"], 3, "each manifest is read once");
    assert!(stderr(&output).contains("pipe.yaml: skipped: not a regular file"), "{}", stderr(&output));

    let output = portal_within(&["check", "--rules", rules.to_str().unwrap(), fifo.to_str().unwrap()], limit);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("not a regular file (a FIFO, socket or device)"), "{}", stderr(&output));
    let output = portal_within(&["check", "--rules", rules.to_str().unwrap(), "/dev/zero"], limit);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("/dev/zero: not a regular file"), "{}", stderr(&output));
}

/// Inputs that check nothing once passed silently with exit 0.
#[test]
fn inputs_that_check_nothing_warn_and_fail_under_strict() {
    let dir = temp_dir("nothing");
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let rules = "examples/rules/privileged-containers.yaml";

    // A folder without manifests.
    let output = portal(&["check", "--rules", rules, empty.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0));
    assert!(
        stderr(&output).contains("warning:") && stderr(&output).contains("no Kubernetes objects found"),
        "{}",
        stderr(&output)
    );
    assert!(stdout(&output).contains("nothing was checked"), "{}", stdout(&output));
    let output = portal(&["check", "--strict", "--rules", rules, empty.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));

    // An empty rules folder.
    let output = portal(&["check", "--strict", "--rules", empty.to_str().unwrap(), "examples/manifests"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("no rules found"), "{}", stderr(&output));

    // A List whose items is not a list.
    std::fs::write(dir.join("list.yaml"), "apiVersion: v1\nkind: List\nitems: {}\n").unwrap();
    let output = portal(&["check", "--rules", rules, dir.join("list.yaml").to_str().unwrap()]);
    assert!(stderr(&output).contains("`items` is not a list"), "{}", stderr(&output));

    // Standard input twice.
    let output = portal_with_stdin(&["check", "--rules", rules, "-", "-"], Some("apiVersion: v1\nkind: Pod\n"));
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("standard input can be read only once"), "{}", stderr(&output));

    // An empty test file.
    std::fs::write(dir.join("portal-test.yaml"), "# nothing yet\n").unwrap();
    let output = portal(&["test", dir.join("portal-test.yaml").to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0));
    assert!(stderr(&output).contains("no test suites in this file"), "{}", stderr(&output));
    let output = portal(&["test", "--strict", dir.join("portal-test.yaml").to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
}

/// A whole namespace's `kubectl get pods -o json` (or `-o yaml`) was refused with `budget
/// breached: Nodes { nodes: 250001 }`. Now JSON is read as JSON, and the YAML budget is sized for
/// a cluster; the nesting limit is the webhook's (128), and its breach says which limit.
#[test]
fn real_size_inputs_are_read_and_limits_name_themselves() {
    let dir = temp_dir("real-size");
    let pod = |i: usize| {
        serde_json::json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": format!("p{i}"), "namespace": "shop", "uid": format!("u{i}"),
                         "labels": {"app": "web", "tier": "front", "pod-template-hash": "abc"},
                         "annotations": {"a": "1", "b": "2"}},
            "spec": {"containers": [{"name": "app", "image": "registry.k8s.io/pause:3.10",
                "ports": [{"containerPort": 80}, {"containerPort": 443}],
                "env": (0..20).map(|e| serde_json::json!({"name": format!("E{e}"), "value": "v"})).collect::<Vec<_>>(),
                "resources": {"limits": {"cpu": "1", "memory": "1Gi"}},
                "securityContext": {"runAsNonRoot": true, "allowPrivilegeEscalation": false}}]}})
    };
    let items: Vec<serde_json::Value> = (0..2_500).map(pod).collect();
    let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items});
    std::fs::write(dir.join("pods.json"), list.to_string()).unwrap();
    let rules = "examples/rules/privileged-containers.yaml";
    let output = portal(&["check", "-o", "json", "--rules", rules, dir.join("pods.json").to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["summary"]["objects"], 2_500);

    // The same as YAML: more than 250,000 values in one document.
    let yaml: String = std::iter::once("apiVersion: v1\nkind: List\nitems:\n".to_owned())
        .chain((0..2_500).map(|i| format!("- {}\n", pod(i))))
        .collect();
    std::fs::write(dir.join("pods.yaml"), yaml).unwrap();
    let output = portal(&["check", "-o", "json", "--rules", rules, dir.join("pods.yaml").to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));

    // Nesting past the limit names it.
    let deep: String = (0..140).map(|i| format!("{}a:\n", " ".repeat(i))).collect();
    std::fs::write(dir.join("deep.yaml"), deep).unwrap();
    let output = portal(&["check", "--rules", rules, dir.join("deep.yaml").to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("past the limit on nesting"), "{}", stderr(&output));
}

/// Messages once printed Rust internals or accepted nonsense: `expected struct RuleSpec`,
/// `metadata: 5` checked as `<unnamed>`, a directory given to `eval` as "Is a directory" twice.
#[test]
fn bad_shapes_get_messages_a_person_can_act_on() {
    let dir = temp_dir("shapes");
    std::fs::write(
        dir.join("rule.yaml"),
        "apiVersion: portal.io/v1alpha1\nkind: PortalClusterRule\nmetadata: {name: x}\nspec: 5\n",
    )
    .unwrap();
    let output = portal(&["check", "--rules", dir.join("rule.yaml").to_str().unwrap(), "examples/manifests"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("field `spec`: invalid type: integer `5`, expected a mapping of rule fields"),
        "{}",
        stderr(&output)
    );
    std::fs::write(dir.join("pod.yaml"), "apiVersion: v1\nkind: Pod\nmetadata: {name: 5}\n").unwrap();
    let output = portal(&["check", "--rules", "examples/rules", dir.join("pod.yaml").to_str().unwrap()]);
    assert!(stderr(&output).contains("`metadata.name` is not a string; skipped"), "{}", stderr(&output));
    let output = portal(&["eval", "object", "--object", dir.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(message.contains("a directory, where one file is expected; give a file"), "{message}");
    assert_eq!(message.matches("directory").count(), 1, "the cause is not repeated: {message}");
}

/// A long chain once overflowed the stack: about 5,000 terms killed `portal eval`, about 1,200
/// the webhook. Now the size and the depth of an expression are bounded at load, with errors that
/// name the limit, and nothing crashes.
#[test]
fn deep_or_long_expressions_are_rejected_at_load_not_crashed_on() {
    let chain = |terms: usize| format!("{} > 0", vec!["1"; terms].join(" + "));
    let output = portal(&["eval", &chain(5_000)]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("over the limit of 8192"), "{}", stderr(&output));
    let output = portal(&["eval", &chain(1_200)]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));

    let dir = temp_dir("deep-rule");
    let rule = format!(
        "name: deep\nmatch: {{gvk: [{{group: '', kind: Pod}}]}}\nrule: '{} > 0'\n---\n{}",
        vec!["1"; 1_200].join("+"),
        std::fs::read_to_string(root().join("examples/rules/privileged-containers.yaml")).unwrap()
    );
    std::fs::write(dir.join("rules.yaml"), rule).unwrap();
    let output = portal(&["check", "--rules", dir.join("rules.yaml").to_str().unwrap(), "examples/manifests"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("rule \"deep\": `rule` does not compile"), "{}", stderr(&output));
    assert!(stderr(&output).contains("nests deeper than 100 levels"), "{}", stderr(&output));
    assert!(stdout(&output).contains("no-privileged-containers"), "the other rules still run: {}", stdout(&output));
}

/// The messages users see for a corpus of bad inputs (`tests/errors/`), compared with the
/// expected text beside each input, so they stay one line, located and actionable. After a
/// deliberate change, rewrite the expected files with `PORTAL_BLESS=1 cargo test -p portal --test
/// cli error_messages` and review the diff.
#[test]
fn error_messages_for_a_corpus_of_bad_inputs() {
    let corpus = Path::new("bins/portal/tests/errors");
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(root().join(corpus))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 10, "the corpus was read: {inputs:?}");
    let bless = std::env::var_os("PORTAL_BLESS").is_some();
    let mut differences = Vec::new();
    for input in inputs {
        let name = input.file_name().unwrap().to_str().unwrap().to_owned();
        let relative = corpus.join(&name);
        let relative = relative.to_str().unwrap();
        let output = if name.ends_with(".rules.yaml") {
            portal(&["check", "--rules", relative, "examples/manifests/compliant-deployment.yaml"])
        } else {
            portal(&["check", "--rules", "examples/rules/privileged-containers.yaml", relative])
        };
        let actual = format!("exit status: {:?}\n{}", output.status.code(), stderr(&output));
        let expected_path = input.with_extension("stderr");
        if bless {
            std::fs::write(&expected_path, &actual).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if actual != expected {
            differences.push(format!("{name}:\n--- expected\n{expected}--- actual\n{actual}"));
        }
    }
    assert!(differences.is_empty(), "error messages changed (PORTAL_BLESS=1 to accept):\n{}", differences.join("\n"));
}

#[test]
fn network_analyze_lists_findings_and_fails_at_the_chosen_severity() {
    let output = portal(&["network", "analyze", "examples/network/cluster"]);
    assert_eq!(output.status.code(), Some(1), "{}{}", stdout(&output), stderr(&output));
    let table = stdout(&output);
    assert!(table.contains("np.unreachable-selector         NetworkPolicy/shop/frontend"), "{table}");
    assert!(table.ends_with("6 findings (3 high, 1 medium, 2 low)\n"), "{table}");
    let critical = portal(&["network", "analyze", "--fail-on", "critical", "examples/network/cluster"]);
    assert_eq!(critical.status.code(), Some(0), "{}", stderr(&critical));
    let raised = portal(&[
        "network",
        "analyze",
        "--fail-on",
        "critical",
        "--severity",
        "np.broad-cidr=critical",
        "--disable",
        "np.default-deny-egress-missing",
        "-o",
        "json",
        "examples/network/cluster",
    ]);
    assert_eq!(raised.status.code(), Some(1), "{}", stderr(&raised));
    let json: serde_json::Value = serde_json::from_str(&stdout(&raised)).unwrap();
    let findings = json["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 4);
    let broad = findings.iter().find(|f| f["check"] == "np.broad-cidr").unwrap();
    assert_eq!(broad["severity"], "critical");
    assert_eq!(broad["subject"], serde_json::json!({"kind": "NetworkPolicy", "namespace": "shop", "name": "web"}));
    let unknown = portal(&["network", "analyze", "--disable", "np.nope", "examples/network/cluster"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(stderr(&unknown).contains("--disable \"np.nope\": no such check; the checks are np.default-deny-missing,"));
}

#[test]
fn network_explain_answers_with_the_deciding_policies() {
    let denied = portal(&[
        "network",
        "explain",
        "--from",
        "shop/web-1",
        "--to",
        "payments/db-1:5432",
        "examples/network/cluster",
    ]);
    assert_eq!(denied.status.code(), Some(1), "{}", stderr(&denied));
    assert_eq!(
        stdout(&denied),
        "shop/web-1 → payments/db-1 on TCP/5432: DENIED\n  \
         egress of shop/web-1: denied — isolated by default-deny, web\n    \
         no rule of these policies allows this traffic\n  \
         ingress of payments/db-1: denied — isolated by db, default-deny\n    \
         no rule of these policies allows this traffic\n"
    );
    let allowed = portal(&[
        "network",
        "explain",
        "--from",
        "203.0.113.10",
        "--to",
        "shop/web-1:http",
        "examples/network/cluster",
    ]);
    assert_eq!(allowed.status.code(), Some(0), "{}", stderr(&allowed));
    assert!(stdout(&allowed).contains("allowed by web spec.ingress[0]"), "{}", stdout(&allowed));
    let missing =
        portal(&["network", "explain", "--from", "shop/nope", "--to", "shop/web-1", "examples/network/cluster"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("there is no Pod shop/nope"), "{}", stderr(&missing));
    let malformed =
        portal(&["network", "explain", "--from", "shop/web-1:80", "--to", "shop/api-1", "examples/network/cluster"]);
    assert_eq!(malformed.status.code(), Some(2));
    assert!(stderr(&malformed).contains("a port belongs on the destination (--to)"), "{}", stderr(&malformed));
}

#[test]
fn run_refuses_an_unknown_network_check_and_network_without_audit() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("portal.yaml");
    std::fs::write(
        &config,
        "audit: {enabled: true}\nnetwork:\n  enabled: true\n  checks:\n    np.broad-cdir: {severity: high}\n",
    )
    .unwrap();
    let output =
        portal(&["run", "--cluster-rules", "false", "--rules", "examples/rules", "--config", config.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output)
            .contains("network.checks.np.broad-cdir: there is no such check; the checks are np.default-deny-missing,"),
        "{}",
        stderr(&output)
    );
    std::fs::write(&config, "network: {enabled: true}\n").unwrap();
    let output =
        portal(&["run", "--cluster-rules", "false", "--rules", "examples/rules", "--config", config.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("set audit.enabled: true as well"), "{}", stderr(&output));
}

#[test]
fn a_network_suite_fails_on_a_wrong_verdict_and_on_a_finding_it_does_not_list() {
    let dir = tempfile::tempdir().unwrap();
    let suite = std::fs::read_to_string(root().join("examples/network/portal-test.yaml")).unwrap();
    let suite: String = suite
        .lines()
        .filter(|line| !line.contains("np.broad-cidr"))
        .map(|line| {
            line.replace("objects: [cluster]", "objects: [../cluster]").replace("verdict: partly", "verdict: allowed")
                + "\n"
        })
        .collect();
    std::fs::create_dir(dir.path().join("tests")).unwrap();
    std::fs::write(dir.path().join("tests/portal-test.yaml"), suite).unwrap();
    let cluster = dir.path().join("cluster");
    std::fs::create_dir(&cluster).unwrap();
    std::fs::copy(root().join("examples/network/cluster/cluster.yaml"), cluster.join("cluster.yaml")).unwrap();
    let output = portal(&["test", dir.path().join("tests").to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1), "{}{}", stdout(&output), stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("18 passed, 2 failed"), "{text}");
    assert!(text.contains("shop/web-1 → shop/api-1: expected allowed, got partly"), "{text}");
    assert!(
        text.contains("unexpected finding np.broad-cidr on NetworkPolicy/shop/web: spec.ingress[0].from[0]"),
        "{text}"
    );
}

/// The denials `portal check -o json` reports per object, in input order.
fn denials_of(check: &std::process::Output) -> Vec<(String, Vec<String>)> {
    let json: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
    json["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|object| {
            let denials = object["admission"]["denials"].as_array().unwrap();
            let denials = denials.iter().map(|d| d.as_str().unwrap().to_owned()).collect();
            (object["resource"].as_str().unwrap().to_owned(), denials)
        })
        .collect()
}

#[test]
fn export_then_import_vap_gives_back_rules_that_decide_alike() {
    let dir = tempfile::tempdir().unwrap();
    let bundles = PSS;
    let export = portal(&["export", "vap", bundles[0], bundles[1], bundles[2], bundles[3]]);
    assert_eq!(export.status.code(), Some(0), "{}", stderr(&export));
    assert!(stderr(&export).ends_with("19 rules exported, 0 not exported\n"), "{}", stderr(&export));
    let policies = dir.path().join("policies.yaml");
    std::fs::write(&policies, &export.stdout).unwrap();
    let import = portal(&["import", "vap", policies.to_str().unwrap()]);
    assert_eq!(import.status.code(), Some(0), "{}", stderr(&import));
    assert!(stderr(&import).ends_with("19 rules imported, 0 policies not imported\n"), "{}", stderr(&import));
    let imported = dir.path().join("rules.yaml");
    std::fs::write(&imported, &import.stdout).unwrap();

    let resources: Vec<String> = ["baseline", "restricted"]
        .iter()
        .flat_map(|level| {
            ["pods", "workloads"]
                .map(|file| format!("examples/policies/pod-security/{level}/tests/resources/{file}.yaml"))
        })
        .collect();
    let mut original = vec!["check", "-o", "json", bundles[0], bundles[1], bundles[2], bundles[3]];
    original.extend(resources.iter().map(String::as_str));
    let mut round_trip = vec!["check", "-o", "json", "--rules", imported.to_str().unwrap()];
    round_trip.extend(resources.iter().map(String::as_str));
    let (before, after) = (denials_of(&portal(&original)), denials_of(&portal(&round_trip)));
    assert_eq!(before.len(), 79);
    assert_eq!(before, after, "the imported rules decide (and say) exactly what the originals do");
    assert!(before.iter().filter(|(_, denials)| !denials.is_empty()).count() > 40);
}

#[test]
fn import_vap_refuses_what_portal_rules_cannot_express() {
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("policies.yaml");
    std::fs::write(
        &policies,
        "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicy\nmetadata: {name: replicas}\n\
         spec:\n  failurePolicy: Fail\n  matchConstraints:\n    resourceRules:\n    - {apiGroups: [apps], apiVersions: [v1], \
         operations: [CREATE, UPDATE], resources: [deployments]}\n  variables:\n  - {name: max, expression: '5'}\n  \
         validations:\n  - {expression: 'object.spec.replicas <= variables.max', message: at most five}\n---\n\
         apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicyBinding\nmetadata: {name: replicas}\n\
         spec: {policyName: replicas, validationActions: [Warn]}\n---\n\
         apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicy\nmetadata: {name: with-params}\n\
         spec:\n  paramKind: {apiVersion: v1, kind: ConfigMap}\n  matchConstraints:\n    resourceRules:\n    \
         - {apiGroups: [''], apiVersions: [v1], operations: [CREATE], resources: [pods]}\n  validations:\n  \
         - {expression: 'params.data.x == \"y\"'}\n",
    )
    .unwrap();
    let output = portal(&["import", "vap", policies.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let rules = stdout(&output);
    assert!(rules.contains("rule: \"!(object.spec.replicas <= (5))\""), "{rules}");
    assert!(rules.contains("enforcementAction: warn") && rules.contains("kind: Deployment"), "{rules}");
    assert!(
        stderr(&output).contains("not imported: with-params: takes parameters (paramKind/paramRef)"),
        "{}",
        stderr(&output)
    );
}
