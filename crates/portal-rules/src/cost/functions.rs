//! What each function costs beyond its one unit, and the shape of what it returns.

use cel::common::ast::{CallExpr, Expr, operators};

use super::shape::{PER_ELEMENT, Part, Shape, made_of};

/// The namespaces of the libraries, whose functions are called as `lists.range(…)`.
const NAMESPACES: &[&str] = &["lists", "math", "strings", "sets", "optional", "format", "base64"];

/// `lists.range` for a call on a namespace, else the function's own name.
pub(super) fn qualified_name(call: &CallExpr) -> String {
    match call.target.as_deref().map(|target| &target.expr) {
        Some(Expr::Ident(namespace)) if NAMESPACES.contains(&namespace.as_str()) => {
            format!("{namespace}.{}", call.func_name)
        }
        _ => call.func_name.clone(),
    }
}

/// The extra cost of calling `name` (on `target`, for a member call) with `args`, and the shape of
/// its result.
pub(super) fn call(name: &str, target: Option<&Shape>, args: &[Shape], largest_object: f64) -> (f64, Shape) {
    let arg = |index: usize| args.get(index).cloned().unwrap_or_else(Shape::scalar);
    // The receiver of a member call, or the first argument of a global one.
    let (subject, rest): (Shape, Vec<Shape>) = match target {
        Some(target) if !name.contains('.') => (target.clone(), args.to_vec()),
        _ => (arg(0), args.iter().skip(1).cloned().collect()),
    };
    let other = rest.first().cloned().unwrap_or_else(Shape::scalar);
    let scan = |shape: &Shape| PER_ELEMENT * shape.total;
    match name {
        // Passed through untouched.
        portal_cel::budget::BUDGET_FUNCTION
        | "dyn"
        | portal_cel::timestamps::IN_UTC_FUNCTION
        | "optional.of"
        | "optional.ofNonZeroValue"
        | portal_cel::timestamps::OF_NON_ZERO_FUNCTION
        | "value" => (0.0, subject),
        "orValue" | "or" => (0.0, subject.either(&other)),
        operators::CONDITIONAL => (0.0, arg(1).either(&arg(2))),
        operators::INDEX | operators::OPT_INDEX | operators::OPT_SELECT => (0.0, arg(0).element()),
        operators::ADD => {
            let (a, b) = (arg(0), arg(1));
            let element = match (&a.element, &b.element) {
                (Some(x), Some(y)) => Some(Box::new(x.either(y))),
                (Some(only), None) | (None, Some(only)) => Some(only.clone()),
                (None, None) => None,
            };
            let shape = Shape { max_int: a.max_int + b.max_int, ..made_of([&a, &b], a.len + b.len, element) };
            (PER_ELEMENT * (a.total + b.total), shape)
        }
        operators::MULTIPLY => (0.0, Shape::int(arg(0).max_int * arg(1).max_int)),
        operators::SUBSTRACT | operators::DIVIDE | operators::MODULO | operators::NEGATE => {
            (0.0, Shape::int(arg(0).max_int.max(arg(1).max_int)))
        }
        operators::EQUALS
        | operators::NOT_EQUALS
        | operators::LESS
        | operators::LESS_EQUALS
        | operators::GREATER
        | operators::GREATER_EQUALS => (PER_ELEMENT * arg(0).total.min(arg(1).total), Shape::scalar()),
        operators::IN => (arg(1).len + scan(&arg(0)), Shape::scalar()),
        // Only a bool can be negated: nothing to read, whatever the operand's shape says.
        operators::LOGICAL_NOT => (0.0, Shape::scalar()),
        "size" => (0.0, Shape::int(subject.len)),
        // A prefix or suffix test reads only as much as the prefix or suffix.
        "startsWith" | "endsWith" => (scan(&other), Shape::scalar()),
        "contains" | "indexOf" | "lastIndexOf" | "isSorted" | "sum" | "min" | "max" => {
            (scan(&subject) + scan(&other), Shape::int(subject.len))
        }
        "matches" | portal_cel::regex_cache::CACHED_MATCHES => (subject.total + other.total, Shape::scalar()),
        "find" => (subject.total + other.total, derived(&subject, 1.0, Shape::string(subject.total))),
        "findAll" => {
            (subject.total + other.total, Shape::list(subject.total + 1.0, Shape::string(subject.total)).built())
        }
        "string" | portal_cel::timestamps::TO_STRING_FUNCTION => {
            (scan(&subject), derived(&subject, 1.0, Shape::string(subject.total.max(32.0))))
        }
        "lowerAscii" | "upperAscii" | "trim" | "reverse" | "substring" | "charAt" | "slice" | "distinct" => {
            let cost = if name == "distinct" { subject.len * subject.len } else { scan(&subject) };
            (cost, subject)
        }
        // Pairs of each key (or index) and value: twice what they are entries of.
        portal_cel::two_variable::ENTRIES_FUNCTION => (scan(&subject), derived(&subject, 2.0, subject.clone())),
        "sort" | "@sortByAssociatedKeys" => (subject.len * subject.len.max(2.0).log2(), subject),
        "flatten" => (scan(&subject), Shape { len: subject.total, ..subject }),
        "split" => {
            let pieces = Shape::list(subject.total + 1.0, Shape::string(subject.total));
            (
                scan(&subject),
                Shape { total: subject.total, fixed: subject.fixed.min(subject.total), part: subject.part, ..pieces },
            )
        }
        "join" => {
            // A separator per element, and there are no more elements than bytes.
            let factor = 1.0 + other.total;
            let bytes = subject.total * factor;
            (PER_ELEMENT * bytes, derived(&subject, factor, Shape::string(bytes)))
        }
        "replace" => {
            // Worst case: every byte (and, for an empty pattern, every gap) becomes the replacement.
            let replacement = rest.get(1).map_or(1.0, |r| r.total.max(1.0));
            let bytes = (subject.total + 1.0) * replacement + subject.total;
            (PER_ELEMENT * bytes, Shape::string(bytes))
        }
        "format" | portal_cel::string_format::FORMAT_FUNCTION => {
            // Each argument quoted (up to four bytes a byte), and each clause (two bytes at least)
            // padded out to its precision, past the 309 digits and their commas of the largest
            // double.
            let per_clause = portal_cel::string_format::MAX_PRECISION as f64 + 420.0;
            let bytes = subject.total + 4.0 * other.total + 16.0 + subject.total / 2.0 * per_clause;
            (PER_ELEMENT * bytes, Shape::string(bytes))
        }
        "strings.quote" => (scan(&subject), Shape::string(2.0 * subject.total + 2.0)),
        "lists.range" | portal_cel::budget::RANGE_FUNCTION => {
            let len = subject.max_int.max(0.0);
            // Every element is allocated: a unit each.
            (len, Shape::list(len, Shape::int(len)))
        }
        "sets.contains" | "sets.equivalent" | "sets.intersects" => (subject.len * other.len, Shape::scalar()),
        "math.greatest" | "math.least" => (args.iter().map(|a| a.len).sum(), Shape::scalar()),
        // What a lookup returns depends on the cluster, not on the rule or the object under
        // review: it is left out of the estimate (as one small value), and bounded at run time
        // instead, where each object a lookup returns and each element a loop over it visits is
        // charged to `rules.limits.maxIterations`.
        crate::cluster::functions::GET_FUNCTION => (1.0, Shape::scalar()),
        crate::cluster::functions::LIST_FUNCTION => (1.0, Shape::list(1.0, Shape::scalar())),
        // Anything else reads its arguments once and returns something no bigger than they are.
        _ => {
            let read: f64 = target.iter().copied().chain(args.iter()).map(|s| s.total).sum();
            let widest =
                target.iter().copied().chain(args.iter()).fold(Shape::scalar(), |widest, shape| widest.either(shape));
            let shape = if widest.part == Part::Built {
                widest
            } else {
                Shape::object_part(largest_object, Part::Built).built()
            };
            (PER_ELEMENT * read, shape)
        }
    }
}

/// A result whose size is at most `factor` times its argument's plus a fixed amount: a part of
/// what the argument is a part of.
fn derived(argument: &Shape, factor: f64, result: Shape) -> Shape {
    if argument.part == Part::Built {
        return result;
    }
    let added = (result.total - factor * argument.total).max(0.0);
    Shape {
        part: argument.part,
        fixed: factor * argument.fixed.min(argument.total) + added,
        scale: factor * argument.scale,
        ..result
    }
}
