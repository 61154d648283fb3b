//! Names a compiled expression uses that do not exist: free identifiers and undeclared functions.
//! The `cel` crate has no type checker, so a misspelt variable (`contianer`) or function
//! (`startsWth`) would otherwise load fine and fail on every object.

use std::collections::HashMap;
use std::sync::Arc;

use cel::common::ast::{CallExpr, EntryExpr, Expr, IdedExpr};
use cel::{Context, Env, ExecutionError, Program};

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

/// A name an expression uses that the environment does not have, with its 1-based line and
/// column in the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UnknownName {
    pub name: String,
    pub line: usize,
    pub column: usize,
}

/// What kind of name an expression uses that does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    /// An identifier that is neither a rule variable, a comprehension variable nor a built-in name.
    Variable,
    /// A function that does not exist for the way it is called (global, member or namespaced).
    Function,
}

impl NameKind {
    pub(crate) fn what(self) -> &'static str {
        match self {
            NameKind::Variable => "refers to unknown variable",
            NameKind::Function => "calls unknown function",
        }
    }

    /// What to do about the unknown `name`: the names there are, or where they are listed.
    pub(crate) fn advice(self, name: &str) -> String {
        match self {
            NameKind::Variable => format!("; the variables are {}", crate::VARIABLES.join(", ")),
            NameKind::Function => {
                format!("{}; the functions are listed in docs/rules.md §5", did_you_mean(name))
            }
        }
    }
}

/// The first unknown variable of the expression, else its first unknown function.
pub(crate) fn first_unknown_name(env: &Arc<Env>, program: &Program, source: &str) -> Option<(NameKind, UnknownName)> {
    let variable = unknown_identifiers(program, source).into_iter().next().map(|name| (NameKind::Variable, name));
    variable
        .or_else(|| unknown_functions(env, program, source).into_iter().next().map(|name| (NameKind::Function, name)))
}

/// Identifiers that are neither a rule variable, a comprehension variable, nor a built-in name.
pub(crate) fn unknown_identifiers(program: &Program, source: &str) -> Vec<UnknownName> {
    let mut found = Vec::new();
    walk(program.expression(), &mut Vec::new(), &mut |reference, id| {
        if let Reference::UnknownIdentifier(name) = reference {
            found.push(located(program, source, name.to_owned(), id));
        }
    });
    found
}

/// Whether the expression reads the rule variable `variable` itself, not a comprehension
/// variable of the same name (`containers.all(container, …)` does not read `container`).
pub(crate) fn reads_rule_variable(program: &Program, variable: &str) -> bool {
    let mut reads = false;
    walk(program.expression(), &mut Vec::new(), &mut |reference, _| {
        reads |= matches!(reference, Reference::RuleVariable(name) if name == variable);
    });
    reads
}

/// A rule variable an expression reads, and where: character offsets into its source, `start`
/// inclusive, `end` exclusive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariableRead {
    /// The variable read, e.g. `object` or `container`.
    pub name: String,
    /// Character offset of its first character in the source.
    pub start: usize,
    /// Character offset just past its name: `start` plus the name's length in characters.
    pub end: usize,
}

/// The names an expression uses, for tools that translate it into another environment
/// (`portal export vap`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExpressionUses {
    /// Each read of a rule variable not hidden by a comprehension variable, in source order.
    pub variables: Vec<VariableRead>,
    /// The functions it calls, as written: `startsWith`, `math.abs`, `quantity`. Operators and
    /// Portal's hidden functions (`@…`) are not listed.
    pub functions: std::collections::BTreeSet<String>,
    /// The fields it selects anywhere (`a.b.?c` selects `b` and `c`).
    pub fields: std::collections::BTreeSet<String>,
}

/// What `program` uses.
pub(crate) fn expression_uses(program: &Program) -> ExpressionUses {
    let mut uses = ExpressionUses::default();
    walk(program.expression(), &mut Vec::new(), &mut |reference, id| match reference {
        Reference::RuleVariable(name) => {
            let start = program.source_info().offset_for(id).map_or(0, |(start, _)| start as usize);
            uses.variables.push(VariableRead { name: name.to_owned(), start, end: start + name.chars().count() });
        }
        Reference::Call { call, namespaced } => {
            uses.functions.insert(probe_of(call, namespaced).0);
        }
        Reference::UnknownIdentifier(_) => {}
    });
    uses.variables.sort_by_key(|read| read.start);
    let mut pending = vec![program.expression()];
    while let Some(expr) = pending.pop() {
        if let Expr::Select(select) = &expr.expr {
            uses.fields.insert(select.field.clone());
        }
        pending.extend(crate::ast::children(expr));
    }
    uses
}

/// Calls of functions the environment does not declare (`startsWth`, `math.greatestt`).
///
/// The `cel` crate resolves a function only when a call runs and has no declarations to check
/// against, so each call is probed: the same call with `null` arguments, run once, fails with
/// `UndeclaredReference` exactly when no function of that name exists for that call style
/// (global, member or namespaced); a declared function fails with "no matching overload" instead.
pub(crate) fn unknown_functions(env: &Arc<Env>, program: &Program, source: &str) -> Vec<UnknownName> {
    let mut calls = Vec::new();
    walk(program.expression(), &mut Vec::new(), &mut |reference, id| {
        if let Reference::Call { call, namespaced } = reference {
            calls.push((call, namespaced, id));
        }
    });
    let mut probed: HashMap<String, bool> = HashMap::new();
    let mut found = Vec::new();
    for (call, namespaced, id) in calls {
        let (name, probe) = probe_of(call, namespaced);
        let declared = *probed.entry(probe).or_insert_with_key(|probe| is_declared(env, probe));
        if !declared {
            found.push(located(program, source, name, id));
        }
    }
    found
}

/// Function names offered as corrections of an unknown one. Only a hint: whether a function
/// exists is decided by probing the environment (a test checks that each of these does).
const FUNCTION_NAMES: &[&str] = &[
    "size",
    "contains",
    "startsWith",
    "endsWith",
    "matches",
    "int",
    "uint",
    "double",
    "string",
    "bytes",
    "bool",
    "duration",
    "timestamp",
    "type",
    "dyn",
    "getDate",
    "getDayOfMonth",
    "getDayOfWeek",
    "getDayOfYear",
    "getFullYear",
    "getHours",
    "getMilliseconds",
    "getMinutes",
    "getMonth",
    "getSeconds",
    "charAt",
    "indexOf",
    "lastIndexOf",
    "lowerAscii",
    "upperAscii",
    "replace",
    "split",
    "substring",
    "trim",
    "join",
    "reverse",
    "format",
    "strings.quote",
    "distinct",
    "flatten",
    "lists.range",
    "slice",
    "sort",
    "sortBy",
    "min",
    "max",
    "sum",
    "isSorted",
    "math.abs",
    "math.ceil",
    "math.floor",
    "math.round",
    "math.trunc",
    "math.sign",
    "math.isInf",
    "math.isNaN",
    "math.isFinite",
    "math.sqrt",
    "math.bitAnd",
    "math.bitOr",
    "math.bitXor",
    "math.bitNot",
    "math.bitShiftLeft",
    "math.bitShiftRight",
    "hasValue",
    "value",
    "orValue",
    "or",
    "optional.of",
    "optional.none",
    "optional.ofNonZeroValue",
    "quantity",
    "isQuantity",
    "isInteger",
    "asInteger",
    "asApproximateFloat",
    "add",
    "sub",
    "compareTo",
    "isGreaterThan",
    "isLessThan",
    "sign",
    "url",
    "isURL",
    "getScheme",
    "getHost",
    "getHostname",
    "getPort",
    "getEscapedPath",
    "getQuery",
    "ip",
    "isIP",
    "ip.isCanonical",
    "cidr",
    "isCIDR",
    "family",
    "isUnspecified",
    "isLoopback",
    "isLinkLocalMulticast",
    "isLinkLocalUnicast",
    "isGlobalUnicast",
    "containsIP",
    "containsCIDR",
    "prefixLength",
    "masked",
    "semver",
    "isSemver",
    "major",
    "minor",
    "patch",
    "find",
    "findAll",
    "sets.contains",
    "sets.equivalent",
    "sets.intersects",
    "validate",
    "format.dns1123Label",
    "format.dns1123Subdomain",
    "format.named",
    "format.labelValue",
    "format.qualifiedName",
    "format.uri",
    "format.uuid",
    "format.byte",
    "format.date",
    "format.datetime",
];

/// ` (did you mean `startsWith`?)` for a name one or two edits from a known function, else "".
pub(crate) fn did_you_mean(name: &str) -> String {
    let closest = FUNCTION_NAMES
        .iter()
        .map(|known| (edit_distance(name, known), *known))
        .filter(|(distance, _)| *distance <= 2)
        .min_by_key(|(distance, _)| *distance);
    closest.map_or_else(String::new, |(_, known)| format!(" (did you mean `{known}`?)"))
}

/// Levenshtein distance, for short names.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

/// Runs `probe`; `false` only for an undeclared reference.
fn is_declared(env: &Arc<Env>, probe: &str) -> bool {
    let Ok(program) = env.compile(probe) else { return true };
    let context = Context::with_env(Arc::clone(env));
    !matches!(program.execute(&context), Err(ExecutionError::UndeclaredReference(_)))
}

fn located(program: &Program, source: &str, name: String, id: u64) -> UnknownName {
    let (line, column) =
        program.source_info().offset_for(id).map_or((1, 1), |(start, _)| line_and_column(source, start as usize));
    UnknownName { name, line, column }
}

/// What [`walk`] reports.
enum Reference<'e> {
    UnknownIdentifier(&'e str),
    /// A rule variable read where no comprehension variable of its name hides it.
    RuleVariable(&'e str),
    /// A call of a named function; `namespaced` when its target is a library namespace
    /// (`math.abs(x)`), not a value (`x.startsWith(y)`).
    Call {
        call: &'e CallExpr,
        namespaced: bool,
    },
}

/// A call's name as written (`startsWith`, `math.abs`) and the probe that tells whether such a
/// function exists: the same call, in the same style, with `null` arguments.
fn probe_of(call: &CallExpr, namespaced: bool) -> (String, String) {
    let nulls = vec!["null"; call.args.len()].join(", ");
    match call.target.as_deref().and_then(qualified_name).filter(|_| namespaced) {
        Some(path) => {
            let name = format!("{path}.{}", call.func_name);
            let probe = format!("{name}({nulls})");
            (name, probe)
        }
        None if call.target.is_some() => (call.func_name.clone(), format!("null.{}({nulls})", call.func_name)),
        None => (call.func_name.clone(), format!("{}({nulls})", call.func_name)),
    }
}

fn walk<'e>(expr: &'e IdedExpr, bound: &mut Vec<&'e str>, report: &mut dyn FnMut(Reference<'e>, u64)) {
    let known = |name: &str, bound: &[&str]| {
        VARIABLES.contains(&name) || BUILTIN_NAMES.contains(&name) || bound.contains(&name) || name.starts_with('@')
    };
    match &expr.expr {
        Expr::Ident(name) => {
            if VARIABLES.contains(&name.as_str()) && !bound.contains(&name.as_str()) {
                report(Reference::RuleVariable(name), expr.id);
            } else if !known(name, bound) {
                report(Reference::UnknownIdentifier(name), expr.id);
            }
        }
        Expr::Call(call) => {
            // Operators (`_+_`, `!_`, `@in`, …) are not functions a rule names.
            if call.func_name.starts_with(|c: char| c.is_ascii_alphabetic()) {
                let namespaced = call
                    .target
                    .as_deref()
                    .and_then(root_identifier)
                    .is_some_and(|root| !VARIABLES.contains(&root) && !bound.contains(&root));
                report(Reference::Call { call, namespaced }, expr.id);
            }
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

fn walk_entry<'e>(entry: &'e EntryExpr, bound: &mut Vec<&'e str>, report: &mut dyn FnMut(Reference<'e>, u64)) {
    match entry {
        EntryExpr::MapEntry(entry) => {
            walk(&entry.key, bound, report);
            walk(&entry.value, bound, report);
        }
        EntryExpr::StructField(field) => walk(&field.value, bound, report),
    }
}

/// `a` for an identifier `a` or a chain of field selections on it (`a.b.c`); `None` for anything
/// else.
fn root_identifier(expr: &IdedExpr) -> Option<&str> {
    match &expr.expr {
        Expr::Ident(name) => Some(name),
        Expr::Select(select) if !select.test => root_identifier(&select.operand),
        _ => None,
    }
}

/// `a.b.c` for an identifier or a chain of field selections on one; `None` for anything else.
fn qualified_name(expr: &IdedExpr) -> Option<String> {
    match &expr.expr {
        Expr::Ident(name) => Some(name.clone()),
        Expr::Select(select) if !select.test => Some(format!("{}.{}", qualified_name(&select.operand)?, select.field)),
        _ => None,
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

    fn unknown_calls(source: &str) -> Vec<(String, usize, usize)> {
        let env = crate::environment::environment().unwrap();
        let program = env.compile(source).unwrap();
        unknown_functions(env, &program, source).into_iter().map(|u| (u.name, u.line, u.column)).collect()
    }

    #[test]
    fn misspelt_functions_are_found_in_every_call_style() {
        assert_eq!(unknown_calls("object.metadata.name.startsWth('a')"), [("startsWth".to_owned(), 1, 31)]);
        assert_eq!(unknown_calls("sizee(containers) > 0"), [("sizee".to_owned(), 1, 6)]);
        assert_eq!(unknown_calls("math.greatestt(1, 2) > 0"), [("math.greatestt".to_owned(), 1, 15)]);
        // `quantity` is a global function, not a method.
        assert_eq!(unknown_calls("'1Gi'.quantity()"), [("quantity".to_owned(), 1, 15)]);
        assert_eq!(unknown_calls("containers.all(c, c.image.endswith(':latest'))"), [("endswith".to_owned(), 1, 35)]);
    }

    #[test]
    fn declared_functions_pass_whatever_their_arguments() {
        for source in [
            "object.metadata.name.startsWith('a') && size(containers) > 0",
            "quantity('1Gi').isGreaterThan(quantity('1Mi')) && isQuantity('1')",
            "math.abs(-1) == 1 && strings.quote('a') != '' && lists.range(3).size() == 3",
            "optional.of(1).orValue(2) == 1 && optional.none().hasValue() == false",
            "ip('10.0.0.1').family() == 4 && url('https://a').getHost() == 'a' && semver('1.0.0').major() == 1",
            "format.dns1123Label().validate('a').hasValue() == false && sets.contains([1], [1])",
            "containers.map(c, c.name).sort().join(',') != '' && 'a'.matches('a')",
            "duration('1s') < duration('2s') && timestamp('2026-01-01T00:00:00Z').getFullYear() == 2026",
            "[1, 2].all(x, x > 0) && has(object.spec) && containers.exists_one(c, true) == false",
        ] {
            assert!(unknown_calls(source).is_empty(), "{source}: {:?}", unknown_calls(source));
        }
    }

    #[test]
    fn every_suggested_name_is_a_declared_function() {
        let env = crate::environment::environment().unwrap();
        for name in FUNCTION_NAMES {
            let declared = ["", "null", "null, null", "null, null, null"].iter().any(|nulls| {
                is_declared(env, &format!("{name}({nulls})")) && !name.contains('.')
                    || is_declared(env, &format!("null.{name}({nulls})")) && !name.contains('.')
                    || name.contains('.') && is_declared(env, &format!("{name}({nulls})"))
            });
            assert!(declared, "{name} is suggested but not declared");
        }
        assert_eq!(did_you_mean("startsWth"), " (did you mean `startsWith`?)");
        assert_eq!(did_you_mean("frobnicate"), "");
    }
}
