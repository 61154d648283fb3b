//! Type checking at load, as Kubernetes' CEL environment does it: every expression's type is
//! inferred from its literals, operators and functions, and a call whose arguments can never
//! match an overload, a heterogeneous list or map literal, a condition that is not a bool, or a
//! field selected from a value that has no fields, is an error with its place — instead of an
//! error at every evaluation, which with `failurePolicy: Ignore` admits everything.
//!
//! Objects are schemaless here (`object`, `spec`, … are `dyn`), so only what is certain is
//! rejected: a value of type `dyn` matches anything, as in cel-go. The walk recurses once per
//! level of the syntax tree: it runs after the depth check.

mod format_call;
mod functions;
mod mismatch;
mod ty;

use cel::Program;
use cel::common::ast::{CallExpr, ComprehensionExpr, EntryExpr, Expr, IdedExpr, LiteralValue};

pub(crate) use ty::Type;

/// A type error, at the byte offset of the expression it is about.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TypeError {
    pub offset: usize,
    pub message: String,
}

/// The type of `program`, or its first type error.
pub(crate) fn check(program: &Program) -> Result<Type, TypeError> {
    let mut checker = Checker { program, scopes: Vec::new(), in_format_call: 0, strict_literals: false };
    checker.infer(program.expression())
}

/// [`check`] with literals as Kubernetes checks them where objects have no schema (a
/// ValidatingAdmissionPolicy's `object` is `dyn`): the elements of a list or map literal must
/// have the same type, so a `dyn` value beside a string is an error, where Portal (whose
/// checker cannot know what a schema would say) lets it through.
pub(crate) fn check_strict_literals(program: &Program) -> Result<Type, TypeError> {
    let mut checker = Checker { program, scopes: Vec::new(), in_format_call: 0, strict_literals: true };
    checker.infer(program.expression())
}

struct Checker<'p> {
    program: &'p Program,
    /// Comprehension variables in scope, innermost last.
    scopes: Vec<(String, Type)>,
    /// How many `format` calls the expression being checked is inside: their list and map
    /// literals may mix types, as in Kubernetes.
    in_format_call: usize,
    /// Literals hold exactly one type (`dyn` is not any type): see [`check_strict_literals`].
    strict_literals: bool,
}

impl Checker<'_> {
    fn error(&self, expr: &IdedExpr, message: String) -> TypeError {
        let offset = self.program.source_info().offset_for(expr.id).map_or(0, |(start, _)| start as usize);
        TypeError { offset, message }
    }

    fn infer(&mut self, expr: &IdedExpr) -> Result<Type, TypeError> {
        match &expr.expr {
            Expr::Literal(literal) => Ok(match literal {
                LiteralValue::Boolean(_) => Type::Bool,
                LiteralValue::Int(_) => Type::Int,
                LiteralValue::UInt(_) => Type::Uint,
                LiteralValue::Double(_) => Type::Double,
                LiteralValue::String(_) => Type::String,
                LiteralValue::Bytes(_) => Type::Bytes,
                LiteralValue::Null => Type::Null,
            }),
            Expr::Ident(name) => Ok(self.variable(name)),
            Expr::Select(select) => {
                let operand = self.infer(&select.operand)?;
                if select.test {
                    return match operand {
                        Type::Dyn | Type::Map(..) => Ok(Type::Bool),
                        other => Err(self.error(expr, no_fields(&other, &select.field))),
                    };
                }
                match operand {
                    Type::Dyn => Ok(Type::Dyn),
                    Type::Map(key, value) if key.compatible(&Type::String) => Ok(*value),
                    // `optional.of(x).field` is not CEL; `x.?field` is a call.
                    other => Err(self.error(expr, no_fields(&other, &select.field))),
                }
            }
            Expr::List(list) => {
                let mut element = Type::Dyn;
                let mut mixed = false;
                for (index, item) in list.elements.iter().enumerate() {
                    let mut found = self.infer(item)?;
                    if list.optional_indices.contains(&index) {
                        found = match found {
                            Type::Optional(inner) => *inner,
                            other => other,
                        };
                    }
                    // An element of type dyn (`dyn(x)`) makes the list's element type dyn.
                    mixed |= found == Type::Dyn;
                    element = self.homogeneous(item, "list", (index > 0).then_some(&element), &found)?;
                }
                Ok(Type::list(if mixed { Type::Dyn } else { element }))
            }
            Expr::Map(map) => {
                let (mut key, mut value) = (Type::Dyn, Type::Dyn);
                let mut mixed = false;
                for (index, entry) in map.entries.iter().enumerate() {
                    if let EntryExpr::MapEntry(entry) = &entry.expr {
                        let found_key = self.infer(&entry.key)?;
                        key = self.homogeneous(&entry.key, "map key", (index > 0).then_some(&key), &found_key)?;
                        let mut found_value = self.infer(&entry.value)?;
                        if entry.optional
                            && let Type::Optional(inner) = found_value
                        {
                            found_value = *inner;
                        }
                        mixed |= found_value == Type::Dyn;
                        value =
                            self.homogeneous(&entry.value, "map value", (index > 0).then_some(&value), &found_value)?;
                    }
                }
                if mixed {
                    value = Type::Dyn;
                }
                if !matches!(key, Type::Dyn | Type::String | Type::Int | Type::Uint | Type::Bool) {
                    let first = map.entries.first().and_then(|entry| match &entry.expr {
                        EntryExpr::MapEntry(entry) => Some(&entry.key),
                        EntryExpr::StructField(_) => None,
                    });
                    if let Some(first) = first {
                        return Err(self.error(
                            first,
                            format!("unsupported map key type: {}; keys are strings, ints, uints or bools", key.name()),
                        ));
                    }
                }
                Ok(Type::map(key, value))
            }
            Expr::Struct(_) => Ok(Type::Dyn),
            Expr::Call(call) => self.call(expr, call),
            Expr::Comprehension(comprehension) => self.comprehension(comprehension),
            Expr::Unspecified => Ok(Type::Dyn),
        }
    }

    /// The element type of a literal after `found` joins `so_far`: Kubernetes' CEL environment
    /// requires list and map literals to be homogeneous.
    /// `so_far` is `None` at the literal's first element.
    fn homogeneous(&self, item: &IdedExpr, what: &str, so_far: Option<&Type>, found: &Type) -> Result<Type, TypeError> {
        let Some(so_far) = so_far else {
            // The first element sets the type (joined with dyn, the unknown, as before).
            return Ok(if self.strict_literals { found.clone() } else { Type::Dyn.join(found) });
        };
        let alike = if self.strict_literals { so_far == found } else { so_far.compatible(found) };
        if alike {
            return Ok(so_far.join(found));
        }
        if self.in_format_call > 0 {
            return Ok(Type::Dyn);
        }
        Err(self.error(
            item,
            format!(
                "expected type '{}' but found '{}': a {what} literal holds one type; wrap elements in dyn() to mix types",
                so_far.name(),
                found.name()
            ),
        ))
    }

    fn variable(&self, name: &str) -> Type {
        if let Some((_, found)) = self.scopes.iter().rev().find(|(variable, _)| variable == name) {
            return found.clone();
        }
        match name {
            "int" | "uint" | "double" | "string" | "bytes" | "bool" | "list" | "map" | "type" | "null_type"
            | "duration" | "timestamp" | "dyn" => Type::Kind,
            // The rule's variables are parts of schemaless objects.
            _ => Type::Dyn,
        }
    }

    fn comprehension(&mut self, comprehension: &ComprehensionExpr) -> Result<Type, TypeError> {
        let range = self.infer(&comprehension.iter_range)?;
        let element = match &range {
            Type::List(element) => (**element).clone(),
            Type::Map(key, _) => (**key).clone(),
            Type::Dyn => Type::Dyn,
            other => {
                return Err(self.error(
                    &comprehension.iter_range,
                    format!(
                        "expression of type '{}' cannot be the range of a comprehension (expected a list or map)",
                        other.name()
                    ),
                ));
            }
        };
        let init = self.infer(&comprehension.accu_init)?;
        self.scopes.push((comprehension.iter_var.clone(), element));
        self.scopes.push((comprehension.accu_var.clone(), init.clone()));
        let condition = self.infer(&comprehension.loop_cond);
        let step = self.infer(&comprehension.loop_step);
        // The accumulator's type, once the step has shown what it gathers.
        let gathered = match (&init, &step) {
            (Type::List(_), Ok(step @ Type::List(_))) => step.clone(),
            _ => init.clone(),
        };
        if let Some(accumulator) = self.scopes.last_mut() {
            accumulator.1 = gathered;
        }
        let result = self.infer(&comprehension.result);
        self.scopes.truncate(self.scopes.len() - 2);
        condition?;
        step?;
        result
    }

    fn call(&mut self, expr: &IdedExpr, call: &CallExpr) -> Result<Type, TypeError> {
        let format_call = call.func_name == portal_cel::string_format::FORMAT_FUNCTION;
        self.in_format_call += usize::from(format_call);
        let inferred = self.call_arguments(call);
        self.in_format_call -= usize::from(format_call);
        let (target, args) = inferred?;
        if format_call {
            self.format_call(expr, call)?;
        }
        let name = match &call.target {
            Some(target) if is_namespace(target) => match &target.expr {
                Expr::Ident(namespace) => format!("{namespace}.{}", call.func_name),
                _ => call.func_name.clone(),
            },
            _ => call.func_name.clone(),
        };
        match functions::result(&name, target.as_ref(), &args) {
            Ok(found) => Ok(found),
            Err(mismatch) => Err(self.error(expr, mismatch.message(&name, target.as_ref(), &args))),
        }
    }

    /// The types of a call's target (unless it is a namespace) and arguments.
    fn call_arguments(&mut self, call: &CallExpr) -> Result<(Option<Type>, Vec<Type>), TypeError> {
        let target = match &call.target {
            Some(target) if !is_namespace(target) => Some(self.infer(target)?),
            _ => None,
        };
        let mut args = Vec::with_capacity(call.args.len());
        for arg in &call.args {
            args.push(self.infer(arg)?);
        }
        Ok((target, args))
    }
}

/// Whether `expr` names a library namespace (`lists.range`, `math.greatest`, `optional.of`).
fn is_namespace(expr: &IdedExpr) -> bool {
    matches!(&expr.expr, Expr::Ident(name) if functions::NAMESPACES.contains(&name.as_str()))
}

fn no_fields(operand: &Type, field: &str) -> String {
    format!("type '{}' does not support field selection (selecting '{field}')", operand.name())
}

#[cfg(test)]
mod tests;
