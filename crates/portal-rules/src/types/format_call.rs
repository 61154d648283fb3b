//! The load-time check of `'…'.format([…])` that Kubernetes makes: when the format string and
//! the list are both literals, every clause must parse, have an argument of a type it can print,
//! and use every argument.

use cel::common::ast::{CallExpr, EntryExpr, Expr, IdedExpr, LiteralValue};
use portal_cel::string_format::{Order, Verb, interpolate};

use super::{Checker, Type, TypeError};

impl Checker<'_> {
    /// Checks a call of the formatter whose format string and argument list are literals; any
    /// other call is checked when it runs.
    pub(super) fn format_call(&mut self, expr: &IdedExpr, call: &CallExpr) -> Result<(), TypeError> {
        let [format, list] = call.args.as_slice() else {
            return Ok(());
        };
        let (Expr::Literal(LiteralValue::String(format)), Expr::List(list)) = (&format.expr, &list.expr) else {
            return Ok(());
        };
        let mut culprit: Option<&IdedExpr> = None;
        let mut used = 0;
        let checked = interpolate(format, list.elements.len(), Order::Check, |index, verb| {
            used += 1;
            let Some(argument) = list.elements.get(index) else {
                return Err(format!("index {index} out of range"));
            };
            match self.printable(verb, argument) {
                Ok(()) => Ok(String::new()),
                Err((bad, message)) => {
                    culprit = Some(bad);
                    Err(message)
                }
            }
        });
        if let Err(message) = checked {
            return Err(self.error(culprit.unwrap_or(expr), message));
        }
        if list.elements.len() > used {
            return Err(self.error(
                expr,
                format!("too many arguments supplied to string.format (expected {used}, got {})", list.elements.len()),
            ));
        }
        Ok(())
    }

    /// Whether `verb` can print `argument`, judged by its type: `dyn` passes, as in cel-go. A
    /// `%s` of a list or map literal checks its members too.
    fn printable<'e>(&mut self, verb: Verb, argument: &'e IdedExpr) -> Result<(), (&'e IdedExpr, String)> {
        self.in_format_call += 1;
        let inferred = self.infer(argument);
        self.in_format_call -= 1;
        // A type error inside the argument was reported when the call's arguments were checked.
        let found = inferred.unwrap_or(Type::Dyn);
        let kind = kind_name(&found);
        let (accepted, message): (&[&str], &str) = match verb {
            Verb::String => return self.printable_as_string(argument, &found),
            Verb::Decimal => (&["int", "uint"], "decimal clause can only be used on integers"),
            Verb::Fixed(_) => (&["double", "string"], "fixed-point clause can only be used on doubles"),
            Verb::Scientific { .. } => (&["double", "string"], "scientific clause can only be used on doubles"),
            Verb::Binary => (&["int", "uint", "bool"], "only integers and bools can be formatted as binary"),
            Verb::Hex { .. } => (
                &["int", "uint", "string", "bytes"],
                "only integers, byte buffers, and strings can be formatted as hex",
            ),
            Verb::Octal => (&["int", "uint"], "octal clause can only be used on integers"),
        };
        if found == Type::Dyn || accepted.contains(&kind.as_str()) {
            Ok(())
        } else {
            Err((argument, format!("{message}, was given {kind}")))
        }
    }

    fn printable_as_string<'e>(&mut self, argument: &'e IdedExpr, found: &Type) -> Result<(), (&'e IdedExpr, String)> {
        const PRINTABLE: &[&str] = &[
            "list",
            "map",
            "int",
            "uint",
            "double",
            "bool",
            "string",
            "google.protobuf.Timestamp",
            "bytes",
            "google.protobuf.Duration",
            "type",
            "null_type",
        ];
        let kind = kind_name(found);
        if *found != Type::Dyn && !PRINTABLE.contains(&kind.as_str()) {
            return Err((
                argument,
                format!(
                    "string clause can only be used on strings, bools, bytes, ints, doubles, maps, lists, types, \
                     durations, and timestamps, was given {kind}"
                ),
            ));
        }
        let members: Vec<&IdedExpr> = match &argument.expr {
            Expr::List(list) => list.elements.iter().collect(),
            Expr::Map(map) => map
                .entries
                .iter()
                .flat_map(|entry| match &entry.expr {
                    EntryExpr::MapEntry(entry) => vec![&entry.key, &entry.value],
                    EntryExpr::StructField(field) => vec![&field.value],
                })
                .collect(),
            _ => return Ok(()),
        };
        for member in members {
            self.printable(Verb::String, member)?;
        }
        Ok(())
    }
}

/// A type's name without its parameters, as cel-go compares kinds: `list`, not `list(int)`.
fn kind_name(found: &Type) -> String {
    match found {
        Type::List(_) => "list".to_owned(),
        Type::Map(..) => "map".to_owned(),
        Type::Optional(_) => "optional_type".to_owned(),
        other => other.name(),
    }
}
