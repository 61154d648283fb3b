//! `docs/metrics.md`, generated from the registry: what Prometheus would scrape from a
//! [`Metrics`] whose every series was touched, plus the meaning of each label.

use std::fmt::Write as _;

use prometheus::proto::{MetricFamily, MetricType};

use crate::actions::{self, ActionResult};
use crate::audit::{KIND, RESULT, SEVERITIES, SEVERITY};
use crate::error::{Error, Result};
use crate::exceptions::{CONTROL, CONTROLS, EXCEPTION, EXCEPTION_STATES, STATUS};
use crate::lookups::{OUTCOME, Reevaluation};
use crate::network::CHECK;
use crate::registry::{DECISION, Decision, Metrics, NAMESPACE, RULE, RULE_STATES, ReportWriteResult, STATE, VERSION};

/// The command that rewrites `docs/metrics.md` from the registry (an `#[ignore]`d test, so
/// that ordinary test runs never write into the source tree). A test fails, naming it, when
/// the file is out of date.
pub const REGENERATE_DOCS: &str = "cargo test -p portal-metrics -- --ignored regenerate_docs";

/// The content of `docs/metrics.md`: every metric's name, type, labels and help text, the
/// meaning of every label, and the histogram buckets, read from a freshly built registry.
///
/// # Errors
///
/// [`Error::DefineMetric`] as for [`Metrics::new`]; [`Error::UndocumentedLabel`] or
/// [`Error::UnexercisedMetric`] when a metric was added without describing its labels or
/// without touching it in `Metrics::exercise_every_series`.
pub fn reference_markdown() -> Result<String> {
    let metrics = Metrics::new()?;
    metrics.exercise_every_series();
    // In registration order, which groups related metrics; every one must have a series.
    let mut gathered = metrics.registry.gather();
    let mut families = Vec::new();
    for name in &metrics.registered {
        let Some(at) = gathered.iter().position(|f| f.name() == *name) else {
            return Err(Error::UnexercisedMetric { metric: name });
        };
        families.push(gathered.swap_remove(at));
    }

    let mut out = String::new();
    // Writing to a String cannot fail; `let _` keeps that visible instead of unwrapping.
    let _ = writeln!(
        out,
        "<!-- Generated from the metric registry in crates/portal-metrics — do not edit.\n     \
         Regenerate with `{REGENERATE_DOCS}`. -->\n"
    );
    out.push_str(
        "# Metrics\n\n\
         Portal serves its metrics at `/metrics` on the plain-HTTP port, next to `/healthz` and \
         `/readyz`, in the Prometheus text exposition format 0.0.4. Every name starts with \
         `portal_`. Label values are bounded: a fixed set of values, a rule's name or a namespace's \
         name — never an object's name or an error message (those are in the logs and reports).\n\n\
         `portal run` serves them on `health.listen` (default `0.0.0.0:9090`); the admission \
         webhook records the `portal_admission_*` series and the certificate expiry, the rule \
         sources `portal_rules_loaded`, the leader election `portal_leader`, the audit the `portal_audit_*` series.\n\n\
         | Metric | Type | Labels | Help |\n\
         |---|---|---|---|\n",
    );
    let mut labels = Vec::new();
    for family in &families {
        let names = label_names(family);
        for label in &names {
            if !labels.contains(label) {
                labels.push(label.clone());
            }
        }
        let shown = if names.is_empty() {
            "—".to_owned()
        } else {
            names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
        };
        let _ = writeln!(
            out,
            "| `{}` | {} | {shown} | {} |",
            family.name(),
            type_name(family.get_field_type()),
            family.help().replace('|', "\\|")
        );
    }

    out.push_str("\n## Labels\n");
    labels.sort();
    for label in labels {
        let Some(meaning) = label_meaning(&label) else {
            let metric = families
                .iter()
                .find(|f| label_names(f).contains(&label))
                .map(|f| f.name().to_owned())
                .unwrap_or_default();
            return Err(Error::UndocumentedLabel { metric, label });
        };
        let _ = write!(out, "\n- `{label}` — {meaning}");
    }

    out.push_str("\n\n## Histogram buckets\n\n");
    for family in families.iter().filter(|f| f.get_field_type() == MetricType::HISTOGRAM) {
        let bounds = family
            .get_metric()
            .first()
            .map(|m| m.get_histogram().get_bucket().iter().map(|b| b.upper_bound().to_string()).collect::<Vec<_>>())
            .unwrap_or_default();
        let _ = writeln!(out, "- `{}`: {}, `+Inf`", family.name(), bounds.join(", "));
    }
    Ok(out)
}

/// The label names of a family's series (constant labels included), in exposition order.
fn label_names(family: &MetricFamily) -> Vec<String> {
    family.get_metric().first().map(|m| m.get_label().iter().map(|l| l.name().to_owned()).collect()).unwrap_or_default()
}

fn type_name(kind: MetricType) -> &'static str {
    match kind {
        MetricType::COUNTER => "counter",
        MetricType::GAUGE => "gauge",
        MetricType::HISTOGRAM => "histogram",
        MetricType::SUMMARY => "summary",
        MetricType::UNTYPED => "untyped",
    }
}

/// What a label's values are, in Markdown. Every label a metric carries must be here: this is
/// where a new label is checked for being bounded.
fn label_meaning(label: &str) -> Option<String> {
    let listed = |values: &mut dyn Iterator<Item = (&str, &str)>| {
        values.map(|(value, meaning)| format!("\n  - `{value}` — {meaning}")).collect::<String>()
    };
    Some(match label {
        DECISION => format!(
            "the outcome of an admission request; each request is counted once, with one of:{}",
            listed(&mut Decision::ALL.iter().map(|d| (d.as_str(), d.meaning())))
        ),
        STATE => format!(
            "the state of a rule Portal knows of:{}",
            listed(&mut RULE_STATES.iter().map(|(value, meaning)| (*value, *meaning)))
        ),
        RULE => "the rule's name. A rule's series are removed (`Metrics::forget_rule`) when it leaves the rule \
                 set, so their number is bounded by the rules loaded."
            .to_owned(),
        NAMESPACE => "the name of the namespace whose `portal.io/bypass: \"true\"` annotation let the request \
                      through. Its series is removed (`Metrics::forget_namespace`) when the namespace is deleted \
                      or loses the annotation."
            .to_owned(),
        VERSION => "Portal's version, e.g. `0.1.0`.".to_owned(),
        SEVERITY => format!("the rule's `severity`: {}.", SEVERITIES.map(|s| format!("`{s}`")).join(", ")),
        KIND => "an audited kind, or a kind rules look up, `group/Kind` (`/Pod` for the core group). Its series \
                 are removed (`Metrics::forget_audit_kind`, `Metrics::forget_lookup_kind`) when no rule audits \
                 or looks up the kind any more."
            .to_owned(),
        OUTCOME => format!(
            "what became of a re-evaluation a change to a read object asked for:{}",
            listed(&mut Reevaluation::ALL.iter().map(|r| (r.as_str(), r.meaning())))
        ),
        EXCEPTION => "the exception, `PortalException/namespace/name` or `PortalClusterException/name`. Its \
                      series are removed (`Metrics::forget_exception`) when it is deleted, and with the rule's \
                      (`Metrics::forget_rule`)."
            .to_owned(),
        STATUS => format!("what an exception does now:{}", listed(&mut EXCEPTION_STATES.iter().copied())),
        CONTROL => format!("where the exemption happened:{}", listed(&mut CONTROLS.iter().copied())),
        CHECK => "a NetworkPolicy analysis check, `np.…` (docs/network.md lists them): a fixed set.".to_owned(),
        actions::ACTION => {
            format!("the action type: {}.", actions::ACTION_TYPES.map(|action| format!("`{action}`")).join(", "))
        }
        actions::ALERTMANAGER => "an Alertmanager's URL from `alerting.alertmanager.urls`: a fixed set.".to_owned(),
        RESULT => format!(
            "in `{}`, what became of a report after an evaluation:{}\n\n  In `{}`, what became of an action \
             attempt:{}\n\n  In `{}`, what became of a batch of alerts:{}",
            crate::audit::AUDIT_REPORT_WRITES,
            listed(&mut ReportWriteResult::ALL.iter().map(|r| (r.as_str(), r.meaning()))),
            actions::ACTIONS,
            listed(&mut ActionResult::ALL.iter().map(|r| (r.as_str(), r.meaning()))),
            actions::ALERT_SENDS,
            listed(&mut actions::SEND_RESULTS.iter().copied())
        ),
        _ => return None,
    })
}
