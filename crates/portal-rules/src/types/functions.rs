//! The overloads the checker knows: operators, the standard library, the extensions and the
//! Kubernetes libraries, with their parameter and result types. A function missing here is not
//! checked (its result is `dyn`): the table may be incomplete, never wrong.

use cel::common::ast::operators;

use super::mismatch::Mismatch;
use super::ty::Type;

/// The library namespaces, whose functions are called as `lists.range(…)`.
pub(crate) const NAMESPACES: &[&str] = &["lists", "math", "strings", "sets", "optional", "format", "base64"];

const QUANTITY: Type = Type::Opaque("kubernetes.Quantity");
const URL: Type = Type::Opaque("net.URL");
const IP: Type = Type::Opaque("net.IP");
const CIDR: Type = Type::Opaque("net.CIDR");
const SEMVER: Type = Type::Opaque("kubernetes.Semver");
const NAMED_FORMAT: Type = Type::Opaque("kubernetes.NamedFormat");

/// The result type of calling `name` on `target` (a member call) with `args`, or why no overload
/// takes them.
pub(crate) fn result(name: &str, target: Option<&Type>, args: &[Type]) -> Result<Type, Mismatch> {
    // Portal's macros rewrite `string(x)` (timestamps keep their offset) and `t.getHours()` (in
    // UTC): check them as what was written.
    let name = match name {
        portal_cel::timestamps::TO_STRING_FUNCTION => "string",
        portal_cel::timestamps::OF_NON_ZERO_FUNCTION => "optional.ofNonZeroValue",
        portal_cel::timestamps::IN_UTC_FUNCTION => return Ok(args.first().cloned().unwrap_or(Type::Dyn)),
        // `s.format(l)`, rewritten to a global call.
        portal_cel::string_format::FORMAT_FUNCTION => {
            return match args.split_first() {
                Some((this, rest)) => result("format", Some(this), rest),
                None => Ok(Type::Dyn),
            };
        }
        other => other,
    };
    if let Some(found) = generic(name, target, args) {
        return found;
    }
    let member = target.is_some();
    let all: Vec<Type> = target.into_iter().chain(args).cloned().collect();
    let candidates: Vec<(Vec<Type>, Type)> =
        overloads(name, member).into_iter().filter(|(params, _)| params.len() == all.len()).collect();
    if candidates.is_empty() && overloads(name, member).is_empty() {
        // Not in the table: unchecked.
        return Ok(Type::Dyn);
    }
    let matching: Vec<&Type> = candidates
        .iter()
        .filter(|(params, _)| params.iter().zip(&all).all(|(param, arg)| param.compatible(arg)))
        .map(|(_, result)| result)
        .collect();
    match matching.split_first() {
        None => Err(Mismatch { hint: hint(name) }),
        Some((first, rest)) if rest.iter().all(|other| other == first) => Ok((*first).clone()),
        Some(_) => Ok(Type::Dyn),
    }
}

/// What to do about a mismatch, for the functions where a person can be told.
fn hint(name: &str) -> &'static str {
    match name {
        operators::ADD | operators::SUBSTRACT | operators::MULTIPLY | operators::DIVIDE | operators::MODULO => {
            "both sides must have the same type: convert one, e.g. with int(), double() or string()"
        }
        operators::LESS | operators::LESS_EQUALS | operators::GREATER | operators::GREATER_EQUALS => {
            "only numbers, strings, bytes, bools, timestamps and durations compare, each with its own kind"
        }
        operators::LOGICAL_AND | operators::LOGICAL_OR | operators::LOGICAL_NOT => {
            "the operands must be bools: compare the value, e.g. x != '' or size(x) > 0"
        }
        _ => "",
    }
}

/// Overloads whose result depends on the argument types.
fn generic(name: &str, target: Option<&Type>, args: &[Type]) -> Option<Result<Type, Mismatch>> {
    let no_overload = || Err(Mismatch { hint: hint(name) });
    let arg = |index: usize| args.get(index).cloned().unwrap_or(Type::Dyn);
    let element = |list: &Type| match list {
        Type::List(element) => Some((**element).clone()),
        Type::Dyn => Some(Type::Dyn),
        _ => None,
    };
    Some(match (name, target) {
        (operators::EQUALS | operators::NOT_EQUALS, None) => {
            let (a, b) = (arg(0), arg(1));
            // `x == null` is how a missing value is tested, whatever `x` is.
            if a.compatible(&b) || a == Type::Null || b == Type::Null { Ok(Type::Bool) } else { no_overload() }
        }
        (operators::CONDITIONAL, None) => {
            if !arg(0).compatible(&Type::Bool) {
                return Some(Err(Mismatch { hint: "the condition of ?: must be a bool" }));
            }
            let (a, b) = (arg(1), arg(2));
            if a.compatible(&b) {
                Ok(a.join(&b))
            } else if a == Type::Null || b == Type::Null {
                Ok(if a == Type::Null { b } else { a })
            } else {
                Err(Mismatch { hint: "both branches of ?: must have the same type: wrap one in dyn() to mix them" })
            }
        }
        (operators::ADD, None) if matches!((&arg(0), &arg(1)), (Type::List(_), _) | (_, Type::List(_))) => {
            match (arg(0), arg(1)) {
                (Type::List(a), Type::List(b)) if a.compatible(&b) => Ok(Type::list(a.join(&b))),
                (Type::List(a), Type::Dyn) | (Type::Dyn, Type::List(a)) => Ok(Type::List(a)),
                _ => no_overload(),
            }
        }
        (operators::IN, None) => match arg(1) {
            Type::List(element) if element.compatible(&arg(0)) => Ok(Type::Bool),
            Type::Map(key, _) if key.compatible(&arg(0)) => Ok(Type::Bool),
            Type::Dyn => Ok(Type::Bool),
            _ => no_overload(),
        },
        (operators::INDEX | operators::OPT_INDEX, None) => {
            let found = match (arg(0), arg(1)) {
                (Type::List(element), index) if index.compatible(&Type::Int) || index.compatible(&Type::Uint) => {
                    Ok(*element)
                }
                (Type::Map(key, value), index) if key.compatible(&index) => Ok(*value),
                (Type::Dyn, _) => Ok(Type::Dyn),
                (Type::Optional(inner), _) => Ok(*inner),
                _ => no_overload(),
            };
            if name == operators::OPT_INDEX { found.map(|t| Type::Optional(Box::new(t))) } else { found }
        }
        (operators::OPT_SELECT, None) => match arg(0) {
            Type::Map(_, value) => Ok(Type::Optional(value)),
            Type::Dyn => Ok(Type::Optional(Box::new(Type::Dyn))),
            Type::Optional(inner) => Ok(Type::Optional(Box::new(match *inner {
                Type::Map(_, value) => *value,
                _ => Type::Dyn,
            }))),
            _ => Err(Mismatch { hint: "only maps and objects have fields" }),
        },
        (portal_cel::budget::BUDGET_FUNCTION | "dyn", None) => Ok(if name == "dyn" { Type::Dyn } else { arg(0) }),
        ("optional.of" | "optional.ofNonZeroValue", None) => Ok(Type::Optional(Box::new(arg(0)))),
        ("optional.none", None) => Ok(Type::Optional(Box::new(Type::Dyn))),
        ("value", Some(Type::Optional(inner))) => Ok((**inner).clone()),
        // The value is the optional's or the default: of unknown type when the optional's is
        // (`x.?f.orValue(null)` may be a map), as in cel-go.
        ("orValue", Some(Type::Optional(inner))) if **inner == Type::Dyn => Ok(Type::Dyn),
        ("orValue", Some(Type::Optional(inner))) => {
            if inner.compatible(&arg(0)) {
                Ok(inner.join(&arg(0)))
            } else {
                Err(Mismatch { hint: "the default must have the optional value's type: wrap it in dyn() to mix them" })
            }
        }
        ("or", Some(Type::Optional(inner))) => Ok(Type::Optional(inner.clone())),
        ("hasValue", Some(Type::Optional(_))) => Ok(Type::Bool),
        ("value" | "orValue" | "or" | "hasValue", Some(Type::Dyn)) => Ok(Type::Dyn),
        ("value" | "orValue" | "or" | "hasValue", Some(_)) => Err(Mismatch { hint: "only optional values have it" }),
        ("first" | "last", Some(list)) => match element(list) {
            Some(element) => Ok(Type::Optional(Box::new(element))),
            None => no_overload(),
        },
        ("sum" | "min" | "max", Some(list)) => match element(list) {
            Some(element) if element == Type::Dyn || element.is_numeric() || name != "sum" => Ok(element),
            _ => no_overload(),
        },
        ("slice" | "distinct" | "sort" | "flatten" | "reverse", Some(list @ Type::List(_))) => Ok(match name {
            "flatten" => Type::list(Type::Dyn),
            _ => list.clone(),
        }),
        ("indexOf" | "lastIndexOf", Some(Type::List(element))) => {
            if element.compatible(&arg(0)) {
                Ok(Type::Int)
            } else {
                no_overload()
            }
        }
        ("math.greatest" | "math.least", None) => {
            let all_numeric = args.iter().all(|a| a.is_numeric() || *a == Type::Dyn || matches!(a, Type::List(_)));
            if all_numeric { Ok(Type::Dyn) } else { no_overload() }
        }
        ("isSorted", Some(Type::List(_))) => Ok(Type::Bool),
        (portal_cel::two_variable::ENTRIES_FUNCTION, None) => match arg(0) {
            Type::List(_) | Type::Map(..) | Type::Dyn => Ok(Type::list(Type::list(Type::Dyn))),
            _ => Err(Mismatch { hint: "a two-variable comprehension needs a list or a map" }),
        },
        _ => return None,
    })
}

/// The monomorphic overloads of `name`: parameters (the target first, for a member call) and
/// result. `dyn` parameters take anything.
fn overloads(name: &str, member: bool) -> Vec<(Vec<Type>, Type)> {
    use Type::{Bool, Bytes, Double, Duration, Dyn, Int, String, Timestamp, Uint};
    let list = || Type::list(Dyn);
    let map = || Type::Map(Box::new(Dyn), Box::new(Dyn));
    let same = |types: &[Type], result: fn(&Type) -> Type| -> Vec<(Vec<Type>, Type)> {
        types.iter().map(|t| (vec![t.clone(), t.clone()], result(t))).collect()
    };
    let numeric = [Int, Uint, Double];
    match (name, member) {
        (operators::ADD, false) => {
            let mut all = same(&[Int, Uint, Double, String, Bytes], Clone::clone);
            all.extend([
                (vec![Timestamp, Duration], Timestamp),
                (vec![Duration, Timestamp], Timestamp),
                (vec![Duration, Duration], Duration),
            ]);
            all
        }
        (operators::SUBSTRACT, false) => {
            let mut all = same(&numeric, Clone::clone);
            all.extend([
                (vec![Timestamp, Timestamp], Duration),
                (vec![Timestamp, Duration], Timestamp),
                (vec![Duration, Duration], Duration),
            ]);
            all
        }
        (operators::MULTIPLY | operators::DIVIDE, false) => same(&numeric, Clone::clone),
        (operators::MODULO, false) => same(&[Int, Uint], Clone::clone),
        (operators::NEGATE, false) => vec![(vec![Int], Int), (vec![Double], Double)],
        (operators::LOGICAL_NOT, false) => vec![(vec![Bool], Bool)],
        (operators::LOGICAL_AND | operators::LOGICAL_OR, false) => vec![(vec![Bool, Bool], Bool)],
        (operators::NOT_STRICTLY_FALSE, false) => vec![(vec![Bool], Bool)],
        (operators::LESS | operators::LESS_EQUALS | operators::GREATER | operators::GREATER_EQUALS, false) => {
            // Numbers compare across kinds (Kubernetes enables cross-type numeric comparisons).
            let mut all: Vec<(Vec<Type>, Type)> = Vec::new();
            for a in &numeric {
                for b in &numeric {
                    all.push((vec![a.clone(), b.clone()], Bool));
                }
            }
            all.extend(same(&[String, Bytes, Bool, Timestamp, Duration], |_| Bool));
            all
        }
        ("size", _) => [String, Bytes, list(), map()].into_iter().map(|t| (vec![t], Int)).collect(),
        ("int", false) => [Int, Uint, Double, String, Timestamp].into_iter().map(|t| (vec![t], Int)).collect(),
        ("uint", false) => [Int, Uint, Double, String].into_iter().map(|t| (vec![t], Uint)).collect(),
        ("double", false) => [Int, Uint, Double, String].into_iter().map(|t| (vec![t], Double)).collect(),
        ("string", false) => [Int, Uint, Double, String, Bytes, Bool, Timestamp, Duration, IP, CIDR, URL, QUANTITY]
            .into_iter()
            .map(|t| (vec![t], String))
            .collect(),
        ("bytes", false) => vec![(vec![String], Bytes), (vec![Bytes], Bytes)],
        ("bool", false) => vec![(vec![Bool], Bool), (vec![String], Bool)],
        ("timestamp", false) => vec![(vec![String], Timestamp), (vec![Timestamp], Timestamp), (vec![Int], Timestamp)],
        ("duration", false) => vec![(vec![String], Duration), (vec![Duration], Duration)],
        ("type", false) => vec![(vec![Dyn], Type::Kind)],
        ("contains" | "startsWith" | "endsWith", true) => vec![(vec![String, String], Bool)],
        ("matches" | portal_cel::regex_cache::CACHED_MATCHES, true) => vec![(vec![String, String], Bool)],
        ("matches" | portal_cel::regex_cache::CACHED_MATCHES, false) => vec![(vec![String, String], Bool)],
        ("charAt", true) => vec![(vec![String, Int], String)],
        ("indexOf" | "lastIndexOf", true) => vec![(vec![String, String], Int), (vec![String, String, Int], Int)],
        ("lowerAscii" | "upperAscii" | "trim" | "reverse", true) => vec![(vec![String], String)],
        ("replace", true) => vec![(vec![String, String, String], String), (vec![String, String, String, Int], String)],
        ("split", true) => {
            vec![(vec![String, String], Type::list(String)), (vec![String, String, Int], Type::list(String))]
        }
        ("substring", true) => vec![(vec![String, Int], String), (vec![String, Int, Int], String)],
        ("join", true) => vec![(vec![Type::list(String)], String), (vec![Type::list(String), String], String)],
        ("format", true) => vec![(vec![String, list()], String)],
        ("strings.quote", false) => vec![(vec![String], String)],
        ("find", true) => vec![(vec![String, String], String)],
        ("findAll", true) => {
            vec![(vec![String, String], Type::list(String)), (vec![String, String, Int], Type::list(String))]
        }
        (
            "getFullYear" | "getMonth" | "getDate" | "getDayOfMonth" | "getDayOfWeek" | "getDayOfYear" | "getHours"
            | "getMinutes" | "getSeconds" | "getMilliseconds",
            true,
        ) => {
            let mut all = vec![(vec![Timestamp], Int), (vec![Timestamp, String], Int)];
            if matches!(name, "getHours" | "getMinutes" | "getSeconds" | "getMilliseconds") {
                all.push((vec![Duration], Int));
            }
            all
        }
        ("lists.range" | portal_cel::budget::RANGE_FUNCTION, false) => vec![(vec![Int], Type::list(Int))],
        // The object (a map) or null: `dyn`.
        (crate::cluster::functions::GET_FUNCTION, false) => vec![(vec![String, String, String, String], Dyn)],
        (crate::cluster::functions::LIST_FUNCTION, false) => vec![
            (vec![String, String, String], list()),
            (vec![String, String, String, Type::Map(Box::new(String), Box::new(String))], list()),
        ],
        ("sets.contains" | "sets.equivalent" | "sets.intersects", false) => vec![(vec![list(), list()], Bool)],
        ("url", false) => vec![(vec![String], URL)],
        ("isURL" | "isQuantity" | "isIP" | "isCIDR" | "ip.isCanonical", false) => vec![(vec![String], Bool)],
        ("getScheme" | "getHost" | "getHostname" | "getPort" | "getEscapedPath", true) => vec![(vec![URL], String)],
        ("getQuery", true) => vec![(vec![URL], Type::Map(Box::new(String), Box::new(Type::list(String))))],
        ("quantity", false) => vec![(vec![String], QUANTITY)],
        ("sign", true) => vec![(vec![QUANTITY], Int)],
        ("isGreaterThan" | "isLessThan", true) => {
            vec![(vec![QUANTITY, QUANTITY], Bool), (vec![SEMVER, SEMVER], Bool)]
        }
        ("compareTo", true) => vec![(vec![QUANTITY, QUANTITY], Int), (vec![SEMVER, SEMVER], Int)],
        ("asApproximateFloat", true) => vec![(vec![QUANTITY], Double)],
        ("asInteger", true) => vec![(vec![QUANTITY], Int)],
        ("isInteger", true) => vec![(vec![QUANTITY], Bool)],
        ("add" | "sub", true) => vec![(vec![QUANTITY, QUANTITY], QUANTITY), (vec![QUANTITY, Int], QUANTITY)],
        ("ip", false) => vec![(vec![String], IP)],
        ("ip", true) => vec![(vec![CIDR], IP)],
        ("family", true) => vec![(vec![IP], Int)],
        ("isUnspecified" | "isLoopback" | "isLinkLocalMulticast" | "isLinkLocalUnicast" | "isGlobalUnicast", true) => {
            vec![(vec![IP], Bool)]
        }
        ("cidr", false) => vec![(vec![String], CIDR)],
        ("containsIP", true) => vec![(vec![CIDR, IP], Bool), (vec![CIDR, String], Bool)],
        ("containsCIDR", true) => vec![(vec![CIDR, CIDR], Bool), (vec![CIDR, String], Bool)],
        ("masked", true) => vec![(vec![CIDR], CIDR)],
        ("prefixLength", true) => vec![(vec![CIDR], Int)],
        ("semver", false) => vec![(vec![String], SEMVER), (vec![String, Bool], SEMVER)],
        ("isSemver", false) => vec![(vec![String], Bool), (vec![String, Bool], Bool)],
        ("major" | "minor" | "patch", true) => vec![(vec![SEMVER], Int)],
        (
            "format.dns1123Label"
            | "format.dns1123Subdomain"
            | "format.dns1035Label"
            | "format.qualifiedName"
            | "format.dns1123LabelPrefix"
            | "format.dns1123SubdomainPrefix"
            | "format.dns1035LabelPrefix"
            | "format.labelValue"
            | "format.uri"
            | "format.uuid"
            | "format.byte"
            | "format.date"
            | "format.datetime",
            false,
        ) => vec![(vec![], NAMED_FORMAT)],
        ("format.named", false) => vec![(vec![String], Type::Optional(Box::new(NAMED_FORMAT)))],
        ("validate", true) => vec![(vec![NAMED_FORMAT, String], Type::Optional(Box::new(Type::list(String))))],
        // The math extension, as cel-go declares it.
        ("math.ceil" | "math.floor" | "math.round" | "math.trunc", false) => vec![(vec![Double], Double)],
        ("math.abs" | "math.sign", false) => {
            vec![(vec![Int], Int), (vec![Uint], Uint), (vec![Double], Double)]
        }
        ("math.bitNot", false) => vec![(vec![Int], Int), (vec![Uint], Uint)],
        ("math.isInf" | "math.isNaN" | "math.isFinite", false) => vec![(vec![Double], Bool)],
        ("math.sqrt", false) => vec![(vec![Int], Double), (vec![Uint], Double), (vec![Double], Double)],
        ("math.bitAnd" | "math.bitOr" | "math.bitXor", false) => vec![(vec![Int, Int], Int), (vec![Uint, Uint], Uint)],
        ("math.bitShiftLeft" | "math.bitShiftRight", false) => vec![(vec![Int, Int], Int), (vec![Uint, Int], Uint)],
        _ => Vec::new(),
    }
}
