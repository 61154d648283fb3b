//! A bound on one evaluation, enforced while it runs: how many elements its comprehensions may
//! visit, and a flag another thread sets to stop it (the webhook, when its deadline passes).
//!
//! The `cel` interpreter has no hook of its own, so the comprehension macros of [`crate::register`]
//! put every comprehension's range through [`BUDGET_FUNCTION`], which charges the range's size
//! before the first step and fails once the budget is spent or the evaluation was cancelled. Every
//! loop an expression can write goes through a comprehension, so this bounds the steps of an
//! evaluation; what one step may allocate is bounded at load by the cost estimate.
//!
//! A charge is made for the whole range on entry, even if `all`/`exists` stop early: the bound is
//! on what an evaluation *could* visit, which is also what lets a runaway evaluation stop before
//! its first step rather than somewhere inside it.

use std::cell::{Cell, RefCell};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use cel::common::types::{CelInt, CelList, DYN_TYPE, INT_TYPE};
use cel::common::value::CowVal;
use cel::parser::Macro;
use cel::{DeclarationError, Env, ExecutionError};

use crate::support::{arg, namespaced_as, take_args};

/// The hidden function every comprehension range goes through. Its name cannot be written in an
/// expression (identifiers do not start with `@`), so a rule cannot call or shadow it.
pub const BUDGET_FUNCTION: &str = "@portal_budget";

/// What one evaluation may do.
#[derive(Debug, Clone, Default)]
pub struct Budget {
    /// Elements its comprehensions may visit in all, nested ones counted each time they run.
    pub max_iterations: u64,
    /// Set by another thread to stop the evaluation at its next comprehension.
    pub cancel: Option<Arc<AtomicBool>>,
}

/// Why an evaluation was stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// Its comprehensions would have visited more elements than the budget allows.
    Iterations {
        /// The budget's [`max_iterations`](Budget::max_iterations).
        limit: u64,
    },
    /// It was cancelled from outside.
    Cancelled,
}

thread_local! {
    /// Elements left to visit; `None` outside [`within`], where nothing is bounded.
    static REMAINING: Cell<Option<u64>> = const { Cell::new(None) };
    static STOPPED: Cell<Option<Stopped>> = const { Cell::new(None) };
    static LIMIT: Cell<u64> = const { Cell::new(0) };
    static CANCEL: RefCell<Option<Arc<AtomicBool>>> = const { RefCell::new(None) };
}

/// Runs `evaluate` under `budget`. `Err` when the budget stopped it: its result is then discarded
/// whatever it was, since an `exists` may have absorbed the error of the comprehension that was
/// stopped.
pub fn within<R>(budget: &Budget, evaluate: impl FnOnce() -> R) -> Result<R, Stopped> {
    let _restore = Restore::install(budget);
    let result = evaluate();
    match STOPPED.get() {
        Some(stopped) => Err(stopped),
        None => Ok(result),
    }
}

/// Puts the budget in place and, when dropped (also on unwinding), takes it away, so that an
/// evaluation outside [`within`] on this thread is unbounded again.
struct Restore;

impl Restore {
    fn install(budget: &Budget) -> Restore {
        REMAINING.set(Some(budget.max_iterations));
        LIMIT.set(budget.max_iterations);
        STOPPED.set(None);
        CANCEL.with_borrow_mut(|cancel| cancel.clone_from(&budget.cancel));
        Restore
    }
}

impl Drop for Restore {
    fn drop(&mut self) {
        REMAINING.set(None);
        STOPPED.set(None);
        CANCEL.with_borrow_mut(|cancel| *cancel = None);
    }
}

/// Charges `elements` to the running evaluation's budget.
fn charge(elements: u64) -> Result<(), Stopped> {
    if let Some(stopped) = STOPPED.get() {
        return Err(stopped);
    }
    let Some(remaining) = REMAINING.get() else {
        return Ok(());
    };
    let cancelled = CANCEL.with_borrow(|cancel| cancel.as_ref().is_some_and(|flag| flag.load(Ordering::Relaxed)));
    let stopped = if cancelled {
        Some(Stopped::Cancelled)
    } else {
        match remaining.checked_sub(elements) {
            Some(left) => {
                REMAINING.set(Some(left));
                None
            }
            None => Some(Stopped::Iterations { limit: LIMIT.get() }),
        }
    };
    match stopped {
        Some(stopped) => {
            STOPPED.set(Some(stopped));
            Err(stopped)
        }
        None => Ok(()),
    }
}

/// The hidden `lists.range` that charges what it creates.
pub const RANGE_FUNCTION: &str = "@portal_range";

/// The most elements `lists.range` creates, as cel-go.
const MAX_RANGE: i64 = 1_000_000;

pub(crate) fn register(env: &mut Env) -> Result<(), DeclarationError> {
    env.add_overload(BUDGET_FUNCTION, "portal_budget_dyn", vec![DYN_TYPE], charge_range)?;
    // `lists.range(n)` creates n elements without a comprehension (`x.map(i, lists.range(n))`),
    // so it is charged too.
    env.add_overload(RANGE_FUNCTION, "portal_range_int", vec![INT_TYPE], charged_range)?;
    env.add_macro(Macro::receiver("range", 1, namespaced_as("lists", RANGE_FUNCTION)))
}

/// The ints from 0 up to, but excluding, n, charged before they are created.
fn charged_range<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let [n] = take_args(args)?;
    let n = *arg::<CelInt>(n.as_ref())?.inner();
    if !(0..=MAX_RANGE).contains(&n) {
        return Err(ExecutionError::function_error(
            "lists.range",
            format!("size must be between 0 and {MAX_RANGE}, got {n}"),
        ));
    }
    charge(n.unsigned_abs().saturating_add(1)).map_err(stopped_error)?;
    let elements: Vec<Box<dyn cel::common::value::Val + 'v>> = (0..n).map(|i| Box::new(CelInt::from(i)) as _).collect();
    Ok(CowVal::owned(CelList::from(elements)))
}

/// Charges `elements` to the current evaluation's budget, as a comprehension over that many
/// would be: for functions that do work in proportion to what they return (cluster lookups).
pub fn charge_elements(elements: u64) -> Result<(), ExecutionError> {
    charge(elements).map_err(stopped_error)
}

fn stopped_error(stopped: Stopped) -> ExecutionError {
    ExecutionError::function_error(
        "comprehension",
        match stopped {
            Stopped::Iterations { limit } => format!("the evaluation would visit more than {limit} elements"),
            Stopped::Cancelled => "the evaluation was cancelled".to_owned(),
        },
    )
}

/// `@portal_budget(range)`: charges the range's size plus one (entering costs something even for
/// an empty range) and returns it untouched. A value that is not a list or a map passes through,
/// for the comprehension to report as it always does.
fn charge_range<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let [range] = take_args(args)?;
    let size = range.as_sizer().map_or(0, |sizer| u64::try_from(*sizer.size().inner()).unwrap_or(0));
    charge(size.saturating_add(1)).map_err(stopped_error)?;
    Ok(range)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::test_support::eval;

    fn budget(max_iterations: u64) -> Budget {
        Budget { max_iterations, cancel: None }
    }

    #[test]
    fn an_evaluation_within_its_budget_is_untouched() {
        // 3 + 1 for the outer range, (2 + 1) × 3 for the inner ones.
        let within_budget = within(&budget(13), || eval("[1, 2, 3].all(x, [4, 5].exists(y, y > x))"));
        assert_eq!(within_budget, Ok(Ok(cel::Value::Bool(true))));
        let over = within(&budget(12), || eval("[1, 2, 3].all(x, [4, 5].exists(y, y > x))"));
        assert_eq!(over, Err(Stopped::Iterations { limit: 12 }));
    }

    #[test]
    fn ranges_are_charged_before_they_are_created() {
        let stopped =
            within(&budget(1_000_000), || eval("size(lists.range(1000000).map(x, lists.range(1000000))) > 0"));
        assert_eq!(stopped, Err(Stopped::Iterations { limit: 1_000_000 }));
        assert_eq!(eval("lists.range(3) == [0, 1, 2] && lists.range(0) == []"), Ok(cel::Value::Bool(true)));
        assert!(eval("lists.range(-1)").unwrap_err().contains("between 0 and 1000000, got -1"));
        assert!(eval("lists.range(1000001)").unwrap_err().contains("between 0 and 1000000"));
    }

    #[test]
    fn nested_ranges_are_charged_each_time_they_run() {
        let stopped = within(&budget(10_000), || {
            eval("size([0, 1, 2].map(x, lists.range(1000).map(y, [1, 2, 3].map(z, x * y * z)))) > 0")
        });
        assert_eq!(stopped, Err(Stopped::Iterations { limit: 10_000 }));
    }

    #[test]
    fn an_absorbed_error_still_stops_the_evaluation() {
        // The first element's step fails on the budget; `exists` would absorb that error when a
        // later element is true. The result is discarded anyway.
        let stopped = within(&budget(10), || eval("[0, 1].exists(x, x == 0 ? lists.range(20).all(y, true) : true)"));
        assert_eq!(stopped, Err(Stopped::Iterations { limit: 10 }));
    }

    #[test]
    fn a_cancelled_evaluation_stops_at_its_next_comprehension() {
        let cancel = Arc::new(AtomicBool::new(true));
        let stopped = within(&Budget { max_iterations: u64::MAX, cancel: Some(cancel) }, || eval("[1].all(x, true)"));
        assert_eq!(stopped, Err(Stopped::Cancelled));
    }

    #[test]
    fn outside_a_budget_nothing_is_bounded() {
        assert_eq!(eval("lists.range(10).all(x, x < 10)"), Ok(cel::Value::Bool(true)));
        let _ = within(&budget(0), || eval("[1].all(x, true)"));
        assert_eq!(eval("lists.range(10).all(x, x < 10)"), Ok(cel::Value::Bool(true)));
    }
}
