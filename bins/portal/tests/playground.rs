//! The rule playground (`cargo xtask playground`, found through `PORTAL_PLAYGROUND`) in a real
//! headless Chromium (`cargo xtask chromium`, `PORTAL_CHROMIUM`), opened from `file://` as a
//! user would open it: a rule and a manifest typed in give the verdict in the page, a rule that
//! does not compile is marked at its line and column, and for every shipped example the page
//! decides exactly what `portal check` decides. A screenshot is kept in
//! `target/tmp/playground/playground.png`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod browser;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use browser::Browser;

fn required_path(variable: &str, command: &str) -> PathBuf {
    let path = std::env::var_os(variable).map(PathBuf::from).unwrap_or_else(|| {
        panic!("{variable} is not set: run the tests with `cargo xtask test`, or set it to the output of `{command}`")
    });
    assert!(path.exists(), "{variable}={} does not exist: run `{command}`", path.display());
    path
}

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("the repository")
}

/// The page, loaded, its engine compiled and its first check done.
fn open_playground() -> Browser {
    let chromium = required_path("PORTAL_CHROMIUM", "cargo xtask chromium");
    let page = required_path("PORTAL_PLAYGROUND", "cargo xtask playground").join("index.html");
    let mut browser = Browser::launch(&chromium, 1400, 1000);
    browser.open(&format!("file://{}", page.canonicalize().expect("the page").display()));
    browser.evaluate("PortalPlayground.ready.then(() => true)");
    browser
}

/// Types into one of the page's editors and waits for the check the typing starts.
fn type_and_wait(browser: &mut Browser, editor: &str, text: &str) {
    browser.evaluate("document.getElementById('verdict').dataset.status = 'typing'");
    browser.type_into(&format!("#{editor}"), text);
    browser.evaluate(
        "new Promise((done, fail) => { const start = Date.now(); const poll = setInterval(() => { \
           const status = document.getElementById('verdict').dataset.status; \
           if (status !== 'typing') { clearInterval(poll); done(status); } \
           else if (Date.now() - start > 30000) { clearInterval(poll); fail('no check after typing'); } }, 20); })",
    );
}

const TEAM_LABEL_RULE: &str = "\
name: team-label
severity: high
enforcementAction: deny
match:
  gvk:
    - {group: \"\", version: v1, kind: ConfigMap}
rule: \"!has(object.metadata.labels) || !('team' in object.metadata.labels)\"
message: every ConfigMap names its team in the label `team`
";

const UNLABELLED_CONFIGMAP: &str = "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: shop
data:
  colour: blue
";

#[test]
fn a_rule_and_a_manifest_typed_in_give_portal_checks_verdict() {
    let mut browser = open_playground();
    type_and_wait(&mut browser, "rules", TEAM_LABEL_RULE);
    type_and_wait(&mut browser, "manifests", UNLABELLED_CONFIGMAP);

    let page = browser.evaluate(
        "(() => ({ \
           status: document.getElementById('verdict').dataset.status, \
           verdict: document.getElementById('verdict').textContent, \
           rows: [...document.querySelectorAll('#findings tbody tr')].map(r => [...r.cells].map(c => c.textContent)), \
           command: document.getElementById('command').textContent, \
           output: document.getElementById('output').textContent, \
         }))()",
    );
    assert_eq!(page["status"], "denied", "{page:#}");
    assert!(page["verdict"].as_str().unwrap().starts_with("Denied — 1 objects, 1 rules: 1 deny"), "{page:#}");
    assert_eq!(
        page["rows"],
        json!([[
            "ConfigMap/shop/settings",
            "team-label",
            "deny",
            "high",
            "",
            "every ConfigMap names its team in the label `team`"
        ]]),
        "{page:#}"
    );
    assert_eq!(
        page["command"],
        "# save the rules as rules.yaml and the manifests as manifests.yaml, then:\n\
         portal check --rules rules.yaml manifests.yaml"
    );

    // The command the page shows, run on those files, says the same.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.yaml"), TEAM_LABEL_RULE).unwrap();
    std::fs::write(dir.path().join("manifests.yaml"), UNLABELLED_CONFIGMAP).unwrap();
    let cli = Command::new(env!("CARGO_BIN_EXE_portal"))
        .args(["check", "--rules", "rules.yaml", "manifests.yaml"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(cli.status.code(), Some(1));
    assert_eq!(page["output"], String::from_utf8(cli.stdout).unwrap());

    let artifacts = Path::new(env!("CARGO_TARGET_TMPDIR")).join("playground");
    std::fs::create_dir_all(&artifacts).unwrap();
    let shot = artifacts.join("playground.png");
    std::fs::write(&shot, browser.screenshot()).unwrap();
    eprintln!("screenshot: {}", shot.display());

    // Labelled, it is admitted.
    type_and_wait(
        &mut browser,
        "manifests",
        &UNLABELLED_CONFIGMAP.replace("  namespace: shop\n", "  namespace: shop\n  labels: {team: payments}\n"),
    );
    assert_eq!(browser.evaluate("document.getElementById('verdict').dataset.status"), "admitted");
    assert_eq!(browser.evaluate("document.querySelectorAll('#findings tbody tr').length"), 0);
}

#[test]
fn a_rule_that_does_not_compile_is_marked_at_its_line_and_column() {
    let mut browser = open_playground();
    // The `)` on line 7 of the file, column 35: line 2, column 33 of the expression.
    let broken = "\
name: image-tag
match:
  gvk:
    - {group: \"\", version: v1, kind: Pod}
rule: |
  object.spec.containers.exists(c,
    c.image.endsWith(':latest') &&)
message: no latest
";
    type_and_wait(&mut browser, "rules", broken);
    let marked = browser.evaluate(
        "(() => ({ \
           status: document.getElementById('verdict').dataset.status, \
           marks: [...document.querySelectorAll('#rules-editor .gutter div.error')].map(m => [m.dataset.line, m.dataset.column]), \
           problems: [...document.querySelectorAll('#problems li')].map(p => p.textContent), \
         }))()",
    );
    assert_eq!(marked["status"], "bad-input", "{marked:#}");
    assert_eq!(marked["marks"], json!([["7", "35"]]), "{marked:#}");
    let problem = marked["problems"][0].as_str().unwrap();
    assert!(
        problem.starts_with("error: rules, line 7, column 35: rule \"image-tag\": `rule` does not compile"),
        "{problem}"
    );

    // A folded block joins its lines into one expression line: column 64 of it is column 33 of
    // the file's line 7.
    let folded = broken.replace(
        "rule: |\n  object.spec.containers.exists(c,\n    c.image",
        "rule: >-\n  object.spec.containers.exists(c,\n  c.image",
    );
    assert_ne!(folded, broken);
    type_and_wait(&mut browser, "rules", &folded);
    let marks = browser.evaluate("[...document.querySelectorAll('#rules-editor .gutter div.error')].map(m => [m.dataset.line, m.dataset.column])");
    assert_eq!(marks, json!([["7", "33"]]));
    let problem = browser.evaluate("document.querySelector('#problems li').textContent");
    assert!(problem.as_str().unwrap().contains("line 1, column 64"), "{problem}");

    // Invalid YAML is marked where the parser stopped.
    type_and_wait(&mut browser, "rules", "name: x\nmatch: [\n");
    let marks = browser.evaluate("[...document.querySelectorAll('#rules-editor .gutter div.error')].map(m => [m.dataset.line, m.dataset.column])");
    assert_eq!(marks, json!([["2", "8"]]));
}

/// Output that differs only in what the input is called: `manifests.yaml:3` against
/// `examples/manifests/violating-pods.yaml:3`, and when it was checked.
fn normalized(mut report: Value) -> Value {
    fn visit(value: &mut Value) {
        match value {
            Value::Object(map) => {
                map.remove("timestamp");
                for key in ["source", "location"] {
                    if let Some(Value::String(text)) = map.get_mut(key) {
                        let line = text.rsplit_once(':').map_or("", |(_, line)| line).to_owned();
                        *text = line;
                    }
                }
                map.values_mut().for_each(visit);
            }
            Value::Array(items) => items.iter_mut().for_each(visit),
            _ => {}
        }
    }
    visit(&mut report);
    report
}

#[test]
fn every_shipped_example_is_decided_as_portal_check_decides() {
    let mut browser = open_playground();
    let catalog = browser.evaluate("PORTAL_CATALOG");
    let rules = catalog["rules"].as_array().unwrap();
    let manifests = catalog["manifests"].as_array().unwrap();
    assert!(rules.len() >= 10 && manifests.len() >= 4, "{catalog:#}");
    let mut compared = 0;
    let mut denied = 0;
    for rule_set in rules {
        for manifest in manifests {
            let label = format!("{} × {}", rule_set["label"], manifest["label"]);
            let page = browser.evaluate(&format!(
                "Promise.all(['json', 'table'].map(output => PortalPlayground.check({}, {}, output)))",
                rule_set["text"], manifest["text"]
            ));
            let mut args: Vec<String> = vec!["check".into()];
            args.extend(rule_set["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_owned()));
            args.push(manifest["path"].as_str().unwrap().to_owned());
            for (index, output) in ["json", "table"].into_iter().enumerate() {
                let cli = Command::new(env!("CARGO_BIN_EXE_portal"))
                    .args(&args)
                    .args(["--output", output])
                    .current_dir(repository())
                    .output()
                    .unwrap();
                let ran = &page[index];
                assert_eq!(ran["code"], json!(cli.status.code().unwrap()), "{label} -o {output}: exit status");
                assert_eq!(ran["stderr"], "", "{label}: the page's engine reported problems");
                assert!(cli.stderr.is_empty(), "{label}: {}", String::from_utf8_lossy(&cli.stderr));
                let cli_out = String::from_utf8(cli.stdout).unwrap();
                if output == "table" {
                    assert_eq!(ran["stdout"].as_str().unwrap(), cli_out, "{label}: the table differs");
                } else {
                    let from_page: Value = serde_json::from_str(ran["stdout"].as_str().unwrap()).unwrap();
                    let from_cli: Value = serde_json::from_str(&cli_out).unwrap();
                    assert_eq!(normalized(from_page), normalized(from_cli), "{label}: the JSON reports differ");
                }
            }
            denied += usize::from(page[0]["code"] == json!(1));
            compared += 1;
        }
    }
    eprintln!("{compared} combinations of shipped rules and manifests agree; {denied} denied");
    assert!(denied > 0 && denied < compared, "the examples should both admit and deny: {denied} of {compared}");
}
