//! Bounds on an expression, checked at load before anything walks it recursively: rules are
//! untrusted (a tenant's `PortalRule` runs in the shared webhook), and the interpreter, like every
//! walk of the syntax tree, recurses once per level, so an unbounded chain (`1+1+…+1`, 1,200 terms)
//! overflowed a webhook thread's stack and took the process down.

use cel::Program;
use cel::common::ast::IdedExpr;

/// The longest expression accepted, in bytes. It also bounds what the parser and the syntax
/// tree's drop recurse over before the depth check can run: a chain of 4,000 terms at most,
/// which they handle within 2 MiB of stack.
pub const MAX_EXPRESSION_BYTES: usize = 8 * 1024;

/// The deepest an expression may nest. Each operator of a chain (`a + b + c`, `x.a.b`, `.map()`
/// after `.map()`) is a level. At this depth evaluation needs about 150 KiB of stack in a release
/// build; Portal evaluates on threads of at least 2 MiB (8 MiB for `portal run`).
pub const MAX_EXPRESSION_DEPTH: usize = 100;

/// The limits on what a rule may cost: estimated at load, and counted while it runs.
/// `portal run` takes them from `rules.limits`.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleLimits {
    /// The largest worst-case cost ([`crate::estimate_cost`]) an expression may have; rules over
    /// it are rejected at load.
    pub max_estimated_cost: f64,
    /// The largest object the estimate assumes, in bytes.
    pub largest_object_bytes: f64,
    /// How many elements one evaluation's comprehensions may visit before it is stopped.
    pub max_iterations: u64,
}

/// The default of [`RuleLimits::max_estimated_cost`]: ten billion. The shipped rules estimate at
/// most about 10⁹ on a 3 MiB object (checked with a margin of 5 by `cost::tests`); a loop over the
/// object nested in another (about 10¹³), a million ranges of a million (10¹²) and a string
/// doubled thirty times are far over it. What the estimate lets through, the evaluation budget
/// ([`DEFAULT_MAX_ITERATIONS`]) still stops at run time.
pub const DEFAULT_MAX_ESTIMATED_COST: f64 = 1.0e10;

/// Ten million elements: a fraction of a second, and more than a linear rule visits on the
/// largest object the API server accepts (3 MiB holds at most about 1.5 million list elements).
pub const DEFAULT_MAX_ITERATIONS: u64 = 10_000_000;

impl Default for RuleLimits {
    fn default() -> RuleLimits {
        RuleLimits {
            max_estimated_cost: DEFAULT_MAX_ESTIMATED_COST,
            largest_object_bytes: crate::cost::LARGEST_OBJECT_BYTES,
            max_iterations: DEFAULT_MAX_ITERATIONS,
        }
    }
}

/// An expression over a limit, located.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LimitBreach {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// The size check, before parsing.
pub(crate) fn check_size(source: &str) -> Result<(), LimitBreach> {
    if source.len() <= MAX_EXPRESSION_BYTES {
        return Ok(());
    }
    Err(LimitBreach {
        line: 1,
        column: 1,
        message: format!(
            "the expression is {} bytes long, over the limit of {MAX_EXPRESSION_BYTES}; split the rule",
            source.len()
        ),
    })
}

/// The depth check, after parsing and before any recursive walk. Iterative, so it cannot
/// overflow however deep the expression is.
pub(crate) fn check_depth(program: &Program, source: &str) -> Result<(), LimitBreach> {
    let mut stack: Vec<(&IdedExpr, usize)> = vec![(program.expression(), 1)];
    while let Some((expr, depth)) = stack.pop() {
        if depth > MAX_EXPRESSION_DEPTH {
            let (line, column) = program
                .source_info()
                .offset_for(expr.id)
                .map_or((1, 1), |(start, _)| crate::references::line_and_column(source, start as usize));
            return Err(LimitBreach {
                line,
                column,
                message: format!(
                    "the expression nests deeper than {MAX_EXPRESSION_DEPTH} levels (each operator of a chain \
                     such as a + b + c, or x.a.b, is a level); split it, or use a list function such as sum() \
                     or all()"
                ),
            });
        }
        let next = depth + 1;
        stack.extend(crate::ast::children(expr).into_iter().map(|child| (child, next)));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// A chain of `terms` additions compared with 0: `terms` + 1 levels deep.
    fn chain(terms: usize) -> String {
        format!("{} > 0", vec!["1"; terms].join(" + "))
    }

    /// Runs `f` where a debug build has stack enough for the deepest expression accepted.
    fn with_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        std::thread::Builder::new().stack_size(16 * 1024 * 1024).spawn(f).unwrap().join().unwrap()
    }

    #[test]
    fn an_expression_at_the_depth_limit_compiles_and_evaluates_one_past_is_rejected() {
        with_stack(|| {
            let env = crate::environment::environment().unwrap();
            let activation = crate::Activation::new(crate::EvaluationInput::default());
            // 99 additions and a comparison: 100 levels.
            let at_limit = chain(MAX_EXPRESSION_DEPTH - 1);
            let program = env.compile(&at_limit).unwrap();
            assert_eq!(check_depth(&program, &at_limit), Ok(()));
            assert_eq!(crate::evaluate_expression(&at_limit, &activation).unwrap(), serde_json::json!(true));
            let past = chain(MAX_EXPRESSION_DEPTH);
            let breach = check_depth(&env.compile(&past).unwrap(), &past).unwrap_err();
            assert!(breach.message.contains("deeper than 100 levels"), "{breach:?}");
            assert_eq!(breach.line, 1);
        });
    }

    #[test]
    fn the_longest_chain_the_size_allows_is_rejected_without_crashing() {
        with_stack(|| {
            let longest = format!("{}>0", vec!["1"; MAX_EXPRESSION_BYTES / 2 - 2].join("+"));
            assert!(longest.len() <= MAX_EXPRESSION_BYTES);
            let error = crate::evaluate_expression(&longest, &crate::Activation::new(Default::default())).unwrap_err();
            assert!(error.to_string().contains("deeper than 100 levels"), "{error}");
            let too_long = "1".repeat(MAX_EXPRESSION_BYTES + 1);
            let breach = check_size(&too_long).unwrap_err();
            assert!(breach.message.contains("over the limit of 8192"), "{breach:?}");
        });
    }
}
