//! A missed admission deadline is logged with the request (uid, kind, namespace) and the rule
//! that was still being evaluated, so that the slow rule can be found; before, nothing was logged
//! but the time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use portal_rules::{RuleSet, load_rules};

const RULES: &str = "\
name: quick
match: {gvk: [{group: '', version: v1, kind: Pod}]}
rule: 'false'
---
name: slow-nested-loops
match: {gvk: [{group: '', version: v1, kind: Pod}]}
rule: 'lists.range(700).all(i, lists.range(700).all(j, i + j >= 0)) && false'
---
name: after
match: {gvk: [{group: '', version: v1, kind: Pod}]}
rule: 'false'
";

const REVIEW: &str = r#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"slow-uid","operation":"CREATE","namespace":"team-a","kind":{"group":"","version":"v1","kind":"Pod"},"object":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"team-a"}}}}"#;

/// Everything logged, as text.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missed_deadline_names_the_request_and_the_rule_still_running() {
    let logs = Captured::default();
    let writer = logs.clone();
    tracing_subscriber::fmt().with_ansi(false).with_writer(move || writer.clone()).init();

    let (loaded, errors) = load_rules("rules.yaml", RULES);
    assert!(errors.is_empty(), "{errors:?}");
    let (rules, errors) = RuleSet::compile(loaded);
    assert!(errors.is_empty(), "{errors:?}");
    let (_tls, server, ca) = common::start_webhook(rules, Duration::from_millis(100)).await;
    let answer = common::post_review(server.local_addr(), &ca, REVIEW).await;
    // The shipped default failure policy of these settings is Fail: the request is denied.
    assert!(answer.contains("deadline of 100ms passed"), "{answer}");

    let logged = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    let line = logged.lines().find(|line| line.contains("admission.deadline")).unwrap_or_else(|| panic!("{logged}"));
    for expected in [
        "uid=\"slow-uid\"",
        "kind=\"Pod\"",
        "namespace=\"team-a\"",
        "rule=\"slow-nested-loops\"",
        "rules_not_started=1",
        "passed while rule slow-nested-loops was being evaluated (1 matching rules after it not started)",
    ] {
        assert!(line.contains(expected), "`{expected}` missing from: {line}");
    }
}
