//! The worst-case cost of an expression, estimated at load as Kubernetes does for CEL: every
//! operation costs about one unit, and scanning or copying a string, list or map costs a tenth of
//! a unit per byte or element. Sizes are bounded by the largest object Portal is given (every
//! variable is a part of it); literals and functions such as `lists.range(n)` have sizes of
//! their own.
//!
//! One refinement over Kubernetes makes ordinary rules over objects of any size affordable: a
//! comprehension over a part of the element another comprehension is visiting
//! (`containers.all(c, c.ports.all(p, …))`) visits, over the whole outer loop, disjoint parts of
//! one object, so its cost is counted once for the outer loop ("amortized") rather than once per
//! outer element. A comprehension over anything else (`containers.all(c, containers.all(d, …))`)
//! multiplies, as it really does.
//!
//! The walk recurses once per level of the syntax tree: it runs after the depth check.

mod functions;
mod shape;

use std::rc::Rc;

use cel::Program;
use cel::common::ast::{ComprehensionExpr, EntryExpr, Expr, IdedExpr, LiteralValue, operators};

use shape::{PER_ELEMENT, Part, Shape, made_of};

/// The largest object Portal evaluates, in bytes: Kubernetes' request size limit (3 MiB), which
/// is also the admission webhook's default `maxRequestBytes`.
pub const LARGEST_OBJECT_BYTES: f64 = 3.0 * 1024.0 * 1024.0;

/// Values up to this size (literals, counts) cost too little to matter in deciding whether a
/// call's cost is for reading a part of the visited element.
const SMALL: f64 = 1024.0;

/// The worst-case cost of evaluating `program` once, on an object of at most `largest_object`
/// bytes. Infinite when nothing bounds it (`lists.range(n)` with an `n` from the object).
pub fn estimate_cost(program: &Program, largest_object: f64) -> f64 {
    let mut estimator = Estimator { largest_object, loops: Vec::new() };
    let root = estimator.walk(program.expression());
    root.cost + root.amortized
}

/// The estimate of one expression: its cost each time it is evaluated, the cost its amortized
/// parts add over the whole of the enclosing loop, and the shape of its value.
#[derive(Debug, Clone)]
struct Estimate {
    cost: f64,
    amortized: f64,
    shape: Shape,
}

/// One enclosing comprehension: its variable, and its accumulator.
struct Loop {
    variable: String,
    element: Shape,
    accumulator_name: String,
    accumulator: Shape,
}

struct Estimator {
    largest_object: f64,
    loops: Vec<Loop>,
}

impl Estimator {
    fn walk(&mut self, expr: &IdedExpr) -> Estimate {
        match &expr.expr {
            Expr::Literal(literal) => leaf(literal_shape(literal)),
            Expr::Ident(name) => leaf(self.variable(name)),
            Expr::Select(select) => {
                let operand = self.walk(&select.operand);
                let shape = if select.test { Shape::scalar() } else { operand.shape.element() };
                Estimate { cost: operand.cost + 1.0, amortized: operand.amortized, shape }
            }
            Expr::List(list) => {
                let elements: Vec<Estimate> = list.elements.iter().map(|e| self.walk(e)).collect();
                let mut estimate = combine(&elements);
                let element = elements.iter().map(|e| e.shape.clone()).reduce(|a, b| a.either(&b));
                let shapes: Vec<&Shape> = elements.iter().map(|e| &e.shape).collect();
                estimate.shape = made_of(shapes, elements.len() as f64, element.map(Box::new));
                estimate
            }
            Expr::Map(map) => {
                let mut entries = Vec::new();
                for entry in &map.entries {
                    if let EntryExpr::MapEntry(entry) = &entry.expr {
                        entries.push(self.walk(&entry.key));
                        entries.push(self.walk(&entry.value));
                    }
                }
                let mut estimate = combine(&entries);
                let values = entries.iter().skip(1).step_by(2).map(|e| e.shape.clone()).reduce(|a, b| a.either(&b));
                let shapes: Vec<&Shape> = entries.iter().map(|e| &e.shape).collect();
                estimate.shape = made_of(shapes, map.entries.len() as f64, values.map(Box::new));
                estimate
            }
            Expr::Struct(structure) => {
                let fields: Vec<Estimate> = structure
                    .entries
                    .iter()
                    .filter_map(|entry| match &entry.expr {
                        EntryExpr::StructField(field) => Some(self.walk(&field.value)),
                        EntryExpr::MapEntry(_) => None,
                    })
                    .collect();
                let mut estimate = combine(&fields);
                estimate.shape = Shape::scalar();
                estimate
            }
            Expr::Call(call) => {
                let target = call.target.as_deref().map(|target| self.walk(target));
                let args: Vec<Estimate> = call.args.iter().map(|arg| self.walk(arg)).collect();
                let name = functions::qualified_name(call);
                let arg_shapes: Vec<Shape> = args.iter().map(|a| a.shape.clone()).collect();
                let mut estimate = combine(target.iter().chain(&args));
                let (extra, mut shape) =
                    functions::call(&name, target.as_ref().map(|t| &t.shape), &arg_shapes, self.largest_object);
                // `labels[k]` for the key `k` the innermost loop visits: a distinct value each time.
                let innermost = self.loops.len().checked_sub(1).map(Part::LoopElement);
                if let (operators::INDEX | operators::OPT_INDEX, [map, key]) = (name.as_str(), call.args.as_slice())
                    && let Some(index) = args.get(1)
                    && Some(index.shape.part) == innermost
                    && index.shape.keys_of.as_deref().is_some_and(|keys_of| known_map(map).as_deref() == Some(keys_of))
                    && matches!(key.expr, Expr::Ident(_))
                {
                    shape = Shape { part: index.shape.part, fixed: 0.0, scale: 1.0, keys_of: None, ..shape };
                }
                // What a call costs for reading or copying parts of the element the innermost loop
                // visits adds up, over that loop, to at most what the loop visits; only what it
                // reads besides (literals around them) is paid on every element.
                let operands: Vec<&Shape> = target.iter().chain(&args).map(|a| &a.shape).collect();
                let reads_parts_only = operands.iter().any(|s| Some(s.part) == innermost)
                    && operands.iter().all(|s| Some(s.part) == innermost || s.total <= SMALL);
                if reads_parts_only {
                    let overhead: f64 = operands.iter().map(|s| s.fixed.min(s.total)).sum();
                    estimate.amortized += extra;
                    estimate.cost += 1.0 + PER_ELEMENT * overhead;
                } else {
                    estimate.cost += 1.0 + extra;
                }
                estimate.shape = shape;
                estimate
            }
            Expr::Comprehension(comprehension) => self.comprehension(comprehension),
            Expr::Unspecified => leaf(Shape::scalar()),
        }
    }

    /// A variable: a loop's element or accumulator, else one of the rule's variables, all of
    /// which are parts of the object.
    fn variable(&self, name: &str) -> Shape {
        for enclosing in self.loops.iter().rev() {
            if enclosing.variable == name {
                return enclosing.element.clone();
            }
            if enclosing.accumulator_name == name {
                return enclosing.accumulator.clone();
            }
        }
        Shape::object_part(self.largest_object, Part::Object)
    }

    fn comprehension(&mut self, comprehension: &ComprehensionExpr) -> Estimate {
        let range = self.walk(&comprehension.iter_range);
        let init = self.walk(&comprehension.accu_init);
        let iterations = range.shape.len;
        let depth = self.loops.len();
        let element_part = Part::LoopElement(depth);
        let keys_of = known_map(&comprehension.iter_range).or_else(|| range.shape.keys_of.clone());
        let element = Shape { part: element_part, fixed: 0.0, scale: 1.0, keys_of, ..range.shape.element() };
        // While the step runs, the accumulator is what it has gathered so far: its growth per
        // step is what the step adds to an empty one.
        // (`cel.bind` binds a list without collecting: its step is its variable alone.)
        let collects = matches!(comprehension.accu_init.expr, Expr::List(_))
            && !matches!(comprehension.loop_step.expr, Expr::Ident(_));
        let empty = Shape { len: 0.0, total: 0.0, fixed: 0.0, scale: 0.0, part: element_part, ..Shape::scalar() };
        self.loops.push(Loop {
            variable: comprehension.iter_var.clone(),
            element,
            accumulator_name: comprehension.accu_var.clone(),
            accumulator: if collects { empty } else { init.shape.clone() },
        });
        let condition = self.walk(&comprehension.loop_cond);
        let step = self.walk(&comprehension.loop_step);
        let gathered = if collects {
            let added = &step.shape;
            let len = init.shape.len + times(iterations, added.len.max(1.0));
            let gathered_part = if added.part == element_part { range.shape.part } else { Part::Built };
            let element = added.element.clone().map(|element| Box::new(element.rebased(element_part, gathered_part)));
            // Filtering (or mapping to itself) the keys of a known map keeps distinct keys of it.
            let keys_of = element.as_ref().and_then(|element| element.keys_of.clone());
            if added.part == element_part {
                // Parts of the elements: at most the range, plus what the step adds around them.
                let part = range.shape.part;
                let scale = added.scale.max(1.0);
                let fixed = init.shape.total
                    + times(iterations, added.fixed)
                    + scale * range.shape.fixed.min(range.shape.total);
                let total = init.shape.total + times(iterations, added.fixed) + scale * range.shape.total;
                let (fixed, scale) =
                    if part == Part::Built { (total, 1.0) } else { (fixed, scale * range.shape.scale) };
                Shape { len, total, fixed, scale, element, max_int: f64::INFINITY, part, keys_of }
            } else {
                let total = init.shape.total + times(iterations, added.total);
                Shape {
                    len,
                    total,
                    fixed: total,
                    scale: 1.0,
                    element,
                    max_int: f64::INFINITY,
                    part: Part::Built,
                    keys_of: None,
                }
            }
        } else {
            init.shape.clone()
        };
        if let Some(current) = self.loops.last_mut() {
            current.accumulator = gathered;
        }
        let result = self.walk(&comprehension.result);
        self.loops.pop();
        let total = range.cost
            + init.cost
            + times(iterations, 1.0 + condition.cost + step.cost)
            + condition.amortized
            + step.amortized
            + result.cost
            + result.amortized;
        // Over a part of the element the enclosing loop visits: counted once for that loop.
        let amortized_here = depth > 0 && range.shape.part == Part::LoopElement(depth - 1);
        let shape = result.shape;
        if amortized_here {
            Estimate { cost: 0.0, amortized: total + range.amortized + init.amortized, shape }
        } else {
            Estimate { cost: total, amortized: range.amortized + init.amortized, shape }
        }
    }
}

/// The path of `expr` (through the budget call a comprehension's range is wrapped in) when it
/// names a map every object has: `….metadata.labels`, `….metadata.annotations`. The API server
/// decodes metadata before admission, so they are maps, whose keys are distinct.
fn known_map(expr: &IdedExpr) -> Option<Rc<str>> {
    let mut expr = expr;
    if let Expr::Call(call) = &expr.expr
        && call.func_name == portal_cel::budget::BUDGET_FUNCTION
        && let [range] = call.args.as_slice()
    {
        expr = range;
    }
    let mut segments = Vec::new();
    loop {
        match &expr.expr {
            Expr::Select(select) if !select.test => {
                segments.push(select.field.as_str());
                expr = &select.operand;
            }
            Expr::Ident(name) => {
                segments.push(name.as_str());
                break;
            }
            _ => return None,
        }
    }
    segments.reverse();
    let known = matches!(segments.as_slice(), [.., "metadata" | "podMetadata", "labels" | "annotations"]);
    known.then(|| Rc::from(segments.join(".")))
}

/// `count × each`, where nothing done no times costs nothing even if doing it once is unbounded.
fn times(count: f64, each: f64) -> f64 {
    if count == 0.0 { 0.0 } else { count * each }
}

fn leaf(shape: Shape) -> Estimate {
    Estimate { cost: 1.0, amortized: 0.0, shape }
}

/// The costs of evaluating all of `parts`, and a scalar shape for the caller to replace.
fn combine<'e>(parts: impl IntoIterator<Item = &'e Estimate>) -> Estimate {
    let mut estimate = Estimate { cost: 0.0, amortized: 0.0, shape: Shape::scalar() };
    for part in parts {
        estimate.cost += part.cost;
        estimate.amortized += part.amortized;
    }
    estimate
}

fn literal_shape(literal: &LiteralValue) -> Shape {
    match literal {
        LiteralValue::String(s) => Shape::string(s.inner().len() as f64),
        LiteralValue::Bytes(b) => Shape::string(b.inner().len() as f64),
        LiteralValue::Int(i) => Shape::int(*i.inner() as f64),
        LiteralValue::UInt(u) => Shape::int(*u.inner() as f64),
        LiteralValue::Boolean(_) | LiteralValue::Double(_) | LiteralValue::Null => Shape::scalar(),
    }
}

#[cfg(test)]
mod tests;

/// A cost for a person: `3.1 million`, `2.0e12`, `unbounded`.
pub(crate) fn display_cost(cost: &f64) -> String {
    match *cost {
        c if !c.is_finite() => "unbounded".to_owned(),
        c if c < 1.0e6 => format!("{c:.0}"),
        c if c < 1.0e9 => format!("{:.1} million", c / 1.0e6),
        c => format!("{c:.1e}"),
    }
}

/// A size for a person: `3 MiB`.
pub(crate) fn display_bytes(bytes: &f64) -> String {
    match *bytes {
        b if b >= 1024.0 * 1024.0 => format!("{} MiB", (b / (1024.0 * 1024.0) * 10.0).round() / 10.0),
        b if b >= 1024.0 => format!("{} KiB", (b / 1024.0 * 10.0).round() / 10.0),
        b => format!("{b} bytes"),
    }
}
