//! Free identifiers of a compiled expression: the `cel` crate has no type checker, so a
//! misspelt variable (`contianer`) would otherwise load fine and fail on every object.

use cel::Program;
use cel::common::ast::{EntryExpr, Expr, IdedExpr};

use crate::activation::VARIABLES;

/// Names an expression may use without declaring them: type names and the namespaces of the
/// libraries the environment registers (`optional.of`, `format.dns1123Label`, `math.greatest`,
/// `kubernetes.Quantity`, `net.IP`, `ip.isCanonical`, …).
const BUILTIN_NAMES: &[&str] = &[
    "bool",
    "bytes",
    "double",
    "duration",
    "dyn",
    "int",
    "list",
    "map",
    "null_type",
    "string",
    "timestamp",
    "type",
    "uint",
    "optional",
    "format",
    "sets",
    "lists",
    "math",
    "strings",
    "kubernetes",
    "net",
    "ip",
];

/// An identifier that is neither a rule variable, a comprehension variable, nor a built-in
/// name, with its 1-based line and column in `source`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UnknownIdentifier {
    pub name: String,
    pub line: usize,
    pub column: usize,
}

pub(crate) fn unknown_identifiers(program: &Program, source: &str) -> Vec<UnknownIdentifier> {
    let mut found = Vec::new();
    let mut bound = Vec::new();
    walk(program.expression(), &mut bound, &mut |name, id| {
        let (line, column) =
            program.source_info().offset_for(id).map_or((1, 1), |(start, _)| line_and_column(source, start as usize));
        found.push(UnknownIdentifier { name: name.to_owned(), line, column });
    });
    found
}

fn walk<'e>(expr: &'e IdedExpr, bound: &mut Vec<&'e str>, report: &mut dyn FnMut(&str, u64)) {
    match &expr.expr {
        Expr::Ident(name) => {
            let known = VARIABLES.contains(&name.as_str())
                || BUILTIN_NAMES.contains(&name.as_str())
                || bound.contains(&name.as_str())
                || name.starts_with('@');
            if !known {
                report(name, expr.id);
            }
        }
        Expr::Call(call) => {
            if let Some(target) = &call.target {
                walk(target, bound, report);
            }
            for arg in &call.args {
                walk(arg, bound, report);
            }
        }
        Expr::Select(select) => walk(&select.operand, bound, report),
        Expr::List(list) => list.elements.iter().for_each(|e| walk(e, bound, report)),
        Expr::Map(map) => map.entries.iter().for_each(|entry| walk_entry(&entry.expr, bound, report)),
        Expr::Struct(structure) => structure.entries.iter().for_each(|entry| walk_entry(&entry.expr, bound, report)),
        Expr::Comprehension(comprehension) => {
            walk(&comprehension.iter_range, bound, report);
            walk(&comprehension.accu_init, bound, report);
            let depth = bound.len();
            bound.push(&comprehension.iter_var);
            if let Some(second) = &comprehension.iter_var2 {
                bound.push(second);
            }
            bound.push(&comprehension.accu_var);
            walk(&comprehension.loop_cond, bound, report);
            walk(&comprehension.loop_step, bound, report);
            walk(&comprehension.result, bound, report);
            bound.truncate(depth);
        }
        Expr::Literal(_) | Expr::Unspecified => {}
    }
}

fn walk_entry<'e>(entry: &'e EntryExpr, bound: &mut Vec<&'e str>, report: &mut dyn FnMut(&str, u64)) {
    match entry {
        EntryExpr::MapEntry(entry) => {
            walk(&entry.key, bound, report);
            walk(&entry.value, bound, report);
        }
        EntryExpr::StructField(field) => walk(&field.value, bound, report),
    }
}

/// 1-based line and column of a character offset.
pub(crate) fn line_and_column(source: &str, offset: usize) -> (usize, usize) {
    let mut line = 1;
    let mut column = 1;
    for character in source.chars().take(offset) {
        if character == '\n' {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
    }
    (line, column)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn unknown(source: &str) -> Vec<(String, usize, usize)> {
        let env = crate::environment::environment().unwrap();
        let program = env.compile(source).unwrap();
        unknown_identifiers(&program, source).into_iter().map(|u| (u.name, u.line, u.column)).collect()
    }

    #[test]
    fn misspelt_variables_are_found_with_their_position() {
        assert_eq!(unknown("contianer.securityContext.privileged == true"), [("contianer".to_owned(), 1, 1)]);
        assert_eq!(unknown("spec.hostPID ||\n  objcet.spec.x"), [("objcet".to_owned(), 2, 3)]);
    }

    #[test]
    fn comprehension_variables_types_and_namespaces_are_known() {
        assert!(unknown("containers.all(c, c.ports.exists(p, p.hostPort == 0))").is_empty());
        assert!(unknown("type(object) == map && optional.none().orValue(1) == 1").is_empty());
        assert!(unknown("[1, 2].map(x, x * 2).exists_one(y, y == 2) && has(object.spec)").is_empty());
        assert!(unknown("format.dns1123Label().validate('a') == optional.none()").is_empty());
        assert!(unknown("ip.isCanonical('127.0.0.1') && sets.contains([1], [1])").is_empty());
        assert_eq!(unknown("containers.all(c, d.name == '')"), [("d".to_owned(), 1, 19)]);
    }
}
