//! A call no overload takes, and the message that says so.

use cel::common::ast::operators;

use super::ty::Type;

/// Why a call has no overload: the message names the function and the argument types, as
/// cel-go's does, and says what to do.
pub(crate) struct Mismatch {
    pub hint: &'static str,
}

impl Mismatch {
    pub(super) fn message(&self, name: &str, target: Option<&Type>, args: &[Type]) -> String {
        let shown = display_name(name);
        let types: Vec<String> = target.into_iter().chain(args).map(Type::name).collect();
        let signature = match target {
            Some(_) => format!("'{shown}' applied to '{}.({})'", types[0], types[1..].join(", ")),
            None => format!("'{shown}' applied to '({})'", types.join(", ")),
        };
        if self.hint.is_empty() {
            format!("found no matching overload for {signature}")
        } else {
            format!("found no matching overload for {signature}; {}", self.hint)
        }
    }
}

/// How an operator is written (`_+_` is `+`), for messages.
fn display_name(name: &str) -> &str {
    match name {
        operators::ADD => "+",
        operators::SUBSTRACT => "-",
        operators::MULTIPLY => "*",
        operators::DIVIDE => "/",
        operators::MODULO => "%",
        operators::EQUALS => "==",
        operators::NOT_EQUALS => "!=",
        operators::LESS => "<",
        operators::LESS_EQUALS => "<=",
        operators::GREATER => ">",
        operators::GREATER_EQUALS => ">=",
        operators::LOGICAL_AND => "&&",
        operators::LOGICAL_OR => "||",
        operators::LOGICAL_NOT => "!",
        operators::NEGATE => "-",
        operators::IN => "in",
        operators::INDEX | operators::OPT_INDEX => "[]",
        operators::CONDITIONAL => "?:",
        portal_cel::regex_cache::CACHED_MATCHES => "matches",
        portal_cel::timestamps::TO_STRING_FUNCTION => "string",
        portal_cel::timestamps::OF_NON_ZERO_FUNCTION => "optional.ofNonZeroValue",
        portal_cel::budget::RANGE_FUNCTION => "lists.range",
        portal_cel::string_format::FORMAT_FUNCTION => "format",
        crate::cluster::functions::GET_FUNCTION => "cluster.get",
        crate::cluster::functions::LIST_FUNCTION => "cluster.list",
        other => other,
    }
}
