//! The status Portal writes on a rule resource (`Ready`, `parseError`, `activeOn`) and on an
//! exception resource (`Ready`, `expired`, `parseError`).

use std::time::SystemTime;

use portal_rules::exception::CompiledException;
use portal_rules::{CompiledRule, Error, ExpressionField, Mode, format_rfc3339};

use crate::api::{Condition, ConditionStatus, ExceptionStatus, ParseError, RuleStatus};

/// What the status of a rule resource of `generation`, whose status is `previous`, should say,
/// given its validation/compile error or the rule in force. Pure.
pub(crate) fn desired_status(
    generation: Option<i64>,
    previous: Option<&RuleStatus>,
    error: Option<&Error>,
    in_force: Option<&CompiledRule>,
) -> RuleStatus {
    let (status, reason, message, parse_error) = match (error, in_force) {
        (Some(error), _) => {
            let (reason, parse_error) = describe(error);
            (ConditionStatus::False, reason, parse_error.message.clone(), Some(parse_error))
        }
        (None, Some(rule)) if !rule.spec().enabled => {
            (ConditionStatus::True, "Disabled", "the rule is valid and parked (enabled: false)".to_owned(), None)
        }
        (None, Some(rule)) => {
            let modes: Vec<&str> = rule.spec().mode.iter().map(mode_name).collect();
            (ConditionStatus::True, "Compiled", format!("in force for {}", modes.join(" and ")), None)
        }
        (None, None) => (ConditionStatus::Unknown, "Pending", "not compiled yet".to_owned(), None),
    };
    let ready = ready_condition(previous.map(|s| s.conditions.as_slice()), status, reason, message, generation, now());
    let active_on = match in_force {
        Some(rule) if error.is_none() && rule.spec().enabled => {
            rule.spec().mode.iter().map(|m| mode_name(m).to_owned()).collect()
        }
        _ => Vec::new(),
    };
    let last_applied = match (in_force, previous) {
        (Some(_), Some(previous)) if previous.observed_generation == generation && previous.last_applied.is_some() => {
            previous.last_applied.clone()
        }
        (Some(_), _) if error.is_none() => Some(now()),
        _ => None,
    };
    RuleStatus {
        conditions: vec![ready],
        observed_generation: generation,
        parse_error,
        eval_count: None,
        violation_count: None,
        error_count: None,
        last_applied,
        active_on,
    }
}

/// What the status of an exception resource should say at `now`, given its validation/compile
/// error or the exception in force. Pure.
pub(crate) fn desired_exception_status(
    generation: Option<i64>,
    previous: Option<&ExceptionStatus>,
    error: Option<&Error>,
    in_force: Option<&CompiledException>,
    now: SystemTime,
) -> ExceptionStatus {
    let mut expired = false;
    let (status, reason, message, parse_error) = match (error, in_force) {
        (Some(error), _) => {
            let (reason, parse_error) = describe(error);
            (ConditionStatus::False, reason, parse_error.message.clone(), Some(parse_error))
        }
        (None, Some(exception)) => match exception.expires() {
            Some(expires) if exception.is_expired(now) => {
                expired = true;
                let message = format!("expired at {}: it exempts nothing", format_rfc3339(expires));
                (ConditionStatus::False, "Expired", message, None)
            }
            Some(expires) => {
                (ConditionStatus::True, "Active", format!("in force until {}", format_rfc3339(expires)), None)
            }
            None => (ConditionStatus::True, "Active", "in force; it does not expire".to_owned(), None),
        },
        (None, None) => (ConditionStatus::Unknown, "Pending", "not compiled yet".to_owned(), None),
    };
    let previous = previous.map(|s| s.conditions.as_slice());
    ExceptionStatus {
        conditions: vec![ready_condition(previous, status, reason, message, generation, format_rfc3339(now))],
        observed_generation: generation,
        expired,
        parse_error,
    }
}

/// The `Ready` condition; its transition time moves only when its status does.
fn ready_condition(
    previous: Option<&[Condition]>,
    status: ConditionStatus,
    reason: &str,
    message: String,
    generation: Option<i64>,
    now: String,
) -> Condition {
    let previous_ready = previous.and_then(|conditions| conditions.iter().find(|c| c.type_ == "Ready"));
    let last_transition_time = match previous_ready {
        Some(ready) if ready.status == status => ready.last_transition_time.clone(),
        _ => now,
    };
    Condition {
        type_: "Ready".to_owned(),
        status,
        reason: reason.to_owned(),
        message,
        last_transition_time,
        observed_generation: generation,
    }
}

/// Whether two exception statuses say the same, timestamps aside.
pub(crate) fn same_exception_status(a: &ExceptionStatus, b: &ExceptionStatus) -> bool {
    let strip = |status: &ExceptionStatus| {
        let mut status = status.clone();
        for condition in &mut status.conditions {
            condition.last_transition_time.clear();
        }
        status
    };
    strip(a) == strip(b)
}

/// Whether two statuses say the same, timestamps aside.
pub(crate) fn same(a: &RuleStatus, b: &RuleStatus) -> bool {
    let strip = |status: &RuleStatus| {
        let mut status = status.clone();
        for condition in &mut status.conditions {
            condition.last_transition_time.clear();
        }
        status.last_applied = status.last_applied.map(|_| String::new());
        status
    };
    strip(a) == strip(b)
}

fn mode_name(mode: &Mode) -> &'static str {
    match mode {
        Mode::Admission => "admission",
        Mode::Audit => "audit",
    }
}

fn now() -> String {
    format_rfc3339(std::time::SystemTime::now())
}

/// The condition reason and the parse error for a rejected rule.
fn describe(error: &Error) -> (&'static str, ParseError) {
    let message = without_origin(error);
    let field_path = |field: &ExpressionField| format!("spec.{field}");
    let (reason, field, line, column) = match error {
        Error::InvalidField { path, .. } => ("InvalidSpec", path.clone(), None, None),
        Error::CompileExpression { field, line, column, .. } | Error::UnknownName { field, line, column, .. } => {
            ("InvalidExpression", field_path(field), Some(*line as i64), Some(*column as i64))
        }
        Error::ExpressionType { field, .. } | Error::InvalidRegex { field, .. } => {
            ("InvalidExpression", field_path(field), None, None)
        }
        Error::CostLimit { field, .. } => ("CostLimitExceeded", field_path(field), None, None),
        Error::ExceptionCondition { position, .. } => (
            "InvalidExpression",
            "spec.condition".to_owned(),
            position.map(|(line, _)| line as i64),
            position.map(|(_, column)| column as i64),
        ),
        Error::DuplicateRuleName { .. } => ("NameConflict", "spec.name".to_owned(), None, None),
        Error::ParseDocument { .. } | Error::Environment(_) => ("InvalidSpec", "spec".to_owned(), None, None),
    };
    (reason, ParseError { field, message, line, column })
}

/// The error's message without the leading `origin: ` (the status sits on the resource itself).
fn without_origin(error: &Error) -> String {
    let text = error.to_string();
    match error.origin() {
        Some(origin) => text.strip_prefix(&format!("{origin}: ")).map_or(text.clone(), str::to_owned),
        None => text,
    }
}
