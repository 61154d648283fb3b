//! What the registry exposes: series and values, bounded labels, the generated docs, and
//! `promtool check metrics` on the exposition.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, UNIX_EPOCH};

use super::*;

/// The value of one series (`name{labels}` exactly as exposed), if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// Names that have a `# TYPE` line in the exposition.
fn families(text: &str) -> BTreeSet<String> {
    text.lines().filter_map(|l| l.strip_prefix("# TYPE ")?.split(' ').next().map(str::to_owned)).collect()
}

#[test]
fn every_expected_metric_is_registered_and_prefixed() {
    let metrics = Metrics::new().unwrap();
    let expected = [
        "portal_admission_requests_total",
        "portal_admission_duration_seconds",
        "portal_admission_bypass_total",
        "portal_admission_dryrun_violations_total",
        "portal_rule_evaluation_errors_total",
        "portal_rules_loaded",
        "portal_certificate_expiry_timestamp_seconds",
        "portal_leader",
        "portal_build_info",
        "portal_audit_evaluations_total",
        "portal_audit_violations_total",
        "portal_audit_queue_depth",
        "portal_audit_objects",
        "portal_audit_report_latency_seconds",
        "portal_audit_report_writes_total",
        "portal_audit_watch_restarts_total",
        "portal_lookup_objects",
        "portal_lookup_watch_restarts_total",
        "portal_lookup_dependencies",
        "portal_lookup_dependency_evictions_total",
        "portal_lookup_reevaluations_total",
        "portal_network_findings",
        "portal_network_recomputations_total",
        "portal_exception_exemptions_total",
        "portal_exceptions",
        "portal_actions_total",
        "portal_action_queue_depth",
        "portal_alerts_firing",
        "portal_alertmanager_sends_total",
        "portal_alerts_dropped_total",
    ];
    assert_eq!(metrics.registered, expected);
    assert!(metrics.registered.iter().all(|n| n.starts_with("portal_")));
}

#[test]
fn exercising_every_series_shows_every_registered_metric_with_help() {
    let metrics = Metrics::new().unwrap();
    metrics.exercise_every_series();
    let text = metrics.encode();
    let registered: BTreeSet<String> = metrics.registered.iter().map(|n| (*n).to_owned()).collect();
    assert_eq!(families(&text), registered, "exercise_every_series must touch every metric:\n{text}");
    for name in &metrics.registered {
        let help = text.lines().find_map(|l| l.strip_prefix(&format!("# HELP {name} ")));
        assert!(help.is_some_and(|h| h.len() > 20), "{name} has no real help text");
    }
}

#[test]
fn a_fresh_registry_starts_every_decision_and_rule_state_at_zero_and_reports_its_version() {
    let text = Metrics::new().unwrap().encode();
    for decision in ["allowed", "denied", "warned", "error"] {
        assert_eq!(sample(&text, &format!("portal_admission_requests_total{{decision=\"{decision}\"}}")), Some(0.0));
    }
    for state in ["ready", "rejected", "disabled"] {
        assert_eq!(sample(&text, &format!("portal_rules_loaded{{state=\"{state}\"}}")), Some(0.0));
    }
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(sample(&text, &format!("portal_build_info{{version=\"{version}\"}}")), Some(1.0));
    assert_eq!(sample(&text, "portal_admission_duration_seconds_count"), Some(0.0));
    // Labelled by names not known yet, or not set yet: absent rather than a misleading 0.
    for absent in [
        "portal_admission_bypass_total",
        "portal_admission_dryrun_violations_total",
        "portal_rule_evaluation_errors_total",
        "portal_certificate_expiry_timestamp_seconds",
        "portal_leader",
    ] {
        assert!(!text.contains(absent), "{absent} should not be exposed yet:\n{text}");
    }
}

#[test]
fn decisions_have_exactly_the_documented_label_values() {
    assert_eq!(Decision::ALL.map(Decision::as_str), ["allowed", "denied", "warned", "error"]);
}

#[test]
fn admission_requests_count_by_decision_and_observe_the_latency() {
    let metrics = Metrics::new().unwrap();
    metrics.admission_request(Decision::Denied, Duration::from_micros(200));
    metrics.admission_request(Decision::Denied, Duration::from_millis(30));
    metrics.admission_request(Decision::Warned, Duration::from_secs(4));
    let text = metrics.encode();
    assert_eq!(sample(&text, r#"portal_admission_requests_total{decision="denied"}"#), Some(2.0));
    assert_eq!(sample(&text, r#"portal_admission_requests_total{decision="warned"}"#), Some(1.0));
    assert_eq!(sample(&text, r#"portal_admission_requests_total{decision="allowed"}"#), Some(0.0));
    assert_eq!(sample(&text, "portal_admission_duration_seconds_count"), Some(3.0));
    assert_eq!(sample(&text, r#"portal_admission_duration_seconds_bucket{le="0.0001"}"#), Some(0.0));
    assert_eq!(sample(&text, r#"portal_admission_duration_seconds_bucket{le="0.00025"}"#), Some(1.0));
    assert_eq!(sample(&text, r#"portal_admission_duration_seconds_bucket{le="0.05"}"#), Some(2.0));
    assert_eq!(sample(&text, r#"portal_admission_duration_seconds_bucket{le="5"}"#), Some(3.0));
    assert_eq!(sample(&text, r#"portal_admission_duration_seconds_bucket{le="+Inf"}"#), Some(3.0));
    let sum = sample(&text, "portal_admission_duration_seconds_sum").unwrap();
    assert!((sum - 4.0302).abs() < 1e-9, "{sum}");
}

#[test]
fn histogram_buckets_run_from_100_microseconds_to_5_seconds() {
    let text = Metrics::new().unwrap().encode();
    let bounds: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("portal_admission_duration_seconds_bucket{le=\"")?.split('"').next())
        .collect();
    assert_eq!(
        bounds,
        [
            "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5",
            "1", "2.5", "5", "+Inf"
        ]
    );
}

#[test]
fn rule_and_namespace_counters_are_labelled_by_name_and_can_be_forgotten() {
    let metrics = Metrics::new().unwrap();
    metrics.admission_bypass("team-a");
    metrics.admission_bypass("team-a");
    metrics.admission_dryrun_violation("no-latest-tag");
    metrics.rule_evaluation_error("no-latest-tag");
    metrics.rule_evaluation_error("other-rule");
    let text = metrics.encode();
    assert_eq!(sample(&text, r#"portal_admission_bypass_total{namespace="team-a"}"#), Some(2.0));
    assert_eq!(sample(&text, r#"portal_admission_dryrun_violations_total{rule="no-latest-tag"}"#), Some(1.0));
    assert_eq!(sample(&text, r#"portal_rule_evaluation_errors_total{rule="no-latest-tag"}"#), Some(1.0));

    metrics.forget_rule("no-latest-tag");
    metrics.forget_rule("never-seen"); // no series: nothing to do, no panic
    metrics.forget_namespace("team-a");
    let text = metrics.encode();
    assert!(!text.contains("no-latest-tag"), "{text}");
    assert!(!text.contains("team-a"), "{text}");
    assert_eq!(sample(&text, r#"portal_rule_evaluation_errors_total{rule="other-rule"}"#), Some(1.0));
}

#[test]
fn rules_loaded_is_set_per_state() {
    let metrics = Metrics::new().unwrap();
    metrics.set_rules_loaded(12, 2, 1);
    metrics.set_rules_loaded(11, 0, 3);
    let text = metrics.encode();
    assert_eq!(sample(&text, r#"portal_rules_loaded{state="ready"}"#), Some(11.0));
    assert_eq!(sample(&text, r#"portal_rules_loaded{state="rejected"}"#), Some(0.0));
    assert_eq!(sample(&text, r#"portal_rules_loaded{state="disabled"}"#), Some(3.0));
}

#[test]
fn leadership_is_one_or_zero_once_an_election_runs() {
    let metrics = Metrics::new().unwrap();
    metrics.set_leader(true);
    assert_eq!(sample(&metrics.encode(), "portal_leader"), Some(1.0));
    metrics.set_leader(false);
    assert_eq!(sample(&metrics.encode(), "portal_leader"), Some(0.0));
}

#[test]
fn certificate_expiry_is_in_unix_seconds_once_set() {
    let metrics = Metrics::new().unwrap();
    metrics.set_certificate_expiry(UNIX_EPOCH + Duration::from_secs(1_767_225_600));
    assert_eq!(sample(&metrics.encode(), "portal_certificate_expiry_timestamp_seconds"), Some(1_767_225_600.0));
    // A (broken) certificate that expired before 1970 is still reported, not clamped.
    metrics.set_certificate_expiry(UNIX_EPOCH - Duration::from_secs(10));
    assert_eq!(sample(&metrics.encode(), "portal_certificate_expiry_timestamp_seconds"), Some(-10.0));
}

#[test]
fn each_metrics_has_its_own_registry_and_clones_share_it() {
    let one = Metrics::new().unwrap();
    let other = Metrics::new().unwrap(); // would fail if both used the global registry
    one.clone().admission_request(Decision::Error, Duration::ZERO);
    assert_eq!(sample(&one.encode(), r#"portal_admission_requests_total{decision="error"}"#), Some(1.0));
    assert_eq!(sample(&other.encode(), r#"portal_admission_requests_total{decision="error"}"#), Some(0.0));
    assert!(prometheus::gather().iter().all(|f| !f.name().starts_with("portal_")));
}

#[test]
fn content_type_is_the_text_format_0_0_4() {
    assert!(CONTENT_TYPE.starts_with(prometheus::TEXT_FORMAT), "{CONTENT_TYPE}");
}

fn docs_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/metrics.md")
}

#[test]
fn docs_metrics_md_matches_the_registry() {
    let expected = reference_markdown().unwrap();
    let actual = std::fs::read_to_string(docs_path()).unwrap_or_default();
    assert!(
        actual == expected,
        "docs/metrics.md is out of date with the metric registry: run `{REGENERATE_DOCS}` and commit the result"
    );
}

/// Not a test: rewrites docs/metrics.md (see [`REGENERATE_DOCS`]).
#[test]
#[ignore = "rewrites docs/metrics.md; run it on purpose"]
fn regenerate_docs() {
    std::fs::write(docs_path(), reference_markdown().unwrap()).unwrap();
}

#[test]
fn the_reference_names_every_metric_and_documents_every_label_value() {
    let docs = reference_markdown().unwrap();
    assert!(docs.starts_with("<!-- Generated") && docs.contains("do not edit"));
    assert!(docs.contains(REGENERATE_DOCS));
    for name in Metrics::new().unwrap().registered {
        assert!(docs.contains(&format!("| `{name}` |")), "{name} missing:\n{docs}");
    }
    for value in ["`allowed`", "`denied`", "`warned`", "`error`", "`ready`", "`rejected`", "`disabled`"] {
        assert!(docs.contains(value), "{value} missing:\n{docs}");
    }
    assert!(docs.contains("| `portal_admission_requests_total` | counter | `decision` |"), "{docs}");
    assert!(docs.contains("| `portal_admission_duration_seconds` | histogram | — |"), "{docs}");
    assert!(docs.contains("`portal_admission_duration_seconds`: 0.0001, 0.00025,"), "{docs}");
}

#[test]
fn an_exceptions_series_go_with_it_or_with_the_rule() {
    let metrics = Metrics::new().unwrap();
    metrics.admission_exemption("PortalException/a/x", "r1");
    metrics.audit_exemption("PortalException/a/x", "r2");
    metrics.admission_exemption("PortalClusterException/y", "r1");
    metrics.forget_exception("PortalException/a/x");
    let body = metrics.encode();
    assert!(!body.contains("PortalException/a/x"), "{body}");
    assert!(
        body.contains(
            r#"portal_exception_exemptions_total{control="admission",exception="PortalClusterException/y",rule="r1"} 1"#
        ),
        "{body}"
    );
    metrics.forget_rule("r1");
    assert!(!metrics.encode().contains("PortalClusterException/y"));
}

#[test]
fn labels_are_only_the_bounded_ones() {
    let metrics = Metrics::new().unwrap();
    metrics.exercise_every_series();
    let labels: BTreeSet<String> = metrics
        .registry
        .gather()
        .iter()
        .flat_map(|f| f.get_metric().iter().flat_map(|m| m.get_label().iter().map(|l| l.name().to_owned())))
        .collect();
    let expected = [
        DECISION,
        NAMESPACE,
        RULE,
        STATE,
        VERSION,
        crate::audit::KIND,
        crate::audit::RESULT,
        crate::audit::SEVERITY,
        crate::lookups::OUTCOME,
        crate::network::CHECK,
        crate::exceptions::EXCEPTION,
        crate::exceptions::CONTROL,
        crate::exceptions::STATUS,
        crate::actions::ACTION,
        crate::actions::ALERTMANAGER,
    ];
    assert_eq!(labels, BTreeSet::from(expected.map(str::to_owned)));
}

/// The exposition passes `promtool check metrics` (its parser and its lint), with every
/// series present and label values that need escaping. promtool is required, never skipped.
#[test]
fn promtool_accepts_the_exposition() {
    let metrics = Metrics::new().unwrap();
    metrics.exercise_every_series();
    metrics.rule_evaluation_error(r#"odd "rule" \ name"#);
    let text = metrics.encode();

    let mut child = match Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => panic!(
            "promtool is not on PATH; this test needs it and is never skipped. Install it with \
             `apt-get install prometheus` (Debian/Ubuntu; it ships /usr/bin/promtool) or put a Prometheus \
             release's promtool on PATH"
        ),
        Err(error) => panic!("running promtool: {error}"),
    };
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "promtool check metrics failed ({}):\n{}{}\n--- input ---\n{text}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(text.contains(r#"rule="odd \"rule\" \\ name""#), "{text}");
}

#[test]
fn a_forgotten_rule_or_kind_leaves_no_audit_series() {
    let metrics = Metrics::new().unwrap();
    metrics.audit_evaluation("gone");
    metrics.audit_violations("gone", "high", 2);
    metrics.set_audit_objects("apps/Deployment", 3);
    metrics.audit_watch_restart("apps/Deployment");
    metrics.forget_rule("gone");
    metrics.forget_audit_kind("apps/Deployment");
    let text = metrics.encode();
    assert!(!text.contains("gone") && !text.contains("apps/Deployment"), "{text}");
    assert!(text.contains(r#"portal_audit_report_writes_total{result="unchanged"} 0"#), "{text}");
}
