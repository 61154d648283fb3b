#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

fn checked(source: &str) -> Result<Type, TypeError> {
    let env = crate::environment::environment().unwrap();
    // Some mistakes the parser already rejects (math.greatest's literal arguments).
    let program = env.compile(source).map_err(|e| TypeError { offset: 0, message: e.to_string() })?;
    check(&program)
}

/// Expressions cel-go's checker rejects in Kubernetes' environment (the standard library, the
/// extensions and the Kubernetes libraries, homogeneous aggregate literals), each with a part
/// of the message expected.
const REJECTED: &[(&str, &str)] = &[
    ("1 + 'a'", "'+' applied to '(int, string)'"),
    ("'a' + 1", "'+' applied to '(string, int)'"),
    ("1 + 1.0", "'+' applied to '(int, double)'"),
    ("1u + 1", "'+' applied to '(uint, int)'"),
    ("[1] + 1", "'+' applied to '(list(int), int)'"),
    ("'a' - 'b'", "'-' applied to '(string, string)'"),
    ("true + true", "'+' applied to '(bool, bool)'"),
    ("1 * 'a'", "'*' applied to '(int, string)'"),
    ("1.0 % 2.0", "'%' applied to '(double, double)'"),
    ("-'a'", "'-' applied to '(string)'"),
    ("!1", "'!' applied to '(int)'"),
    ("1 && true", "'&&' applied to '(int, bool)'"),
    ("'a' || false", "'||' applied to '(string, bool)'"),
    ("1 < 'a'", "'<' applied to '(int, string)'"),
    ("'a' > 1", "'>' applied to '(string, int)'"),
    ("[1] < [2]", "'<' applied to '(list(int), list(int))'"),
    ("{'a': 1} < {'b': 2}", "'<' applied to"),
    ("1 == 'a'", "'==' applied to '(int, string)'"),
    ("'a' != 1", "'!=' applied to '(string, int)'"),
    ("true == 1", "'==' applied to '(bool, int)'"),
    ("1 in ['a']", "'in' applied to '(int, list(string))'"),
    ("'a' in [1, 2]", "'in' applied to '(string, list(int))'"),
    ("'k' in {1: 'a'}", "'in' applied to '(string, map(int, string))'"),
    ("[1, 'a'].size() > 0", "expected type 'int' but found 'string'"),
    ("{'a': 1, 'b': 'c'}.size() > 0", "expected type 'int' but found 'string'"),
    ("{'a': 1, 2: 1}.size() > 0", "expected type 'string' but found 'int'"),
    ("[1, 2][0] + 'a'", "'+' applied to '(int, string)'"),
    ("size(1) > 0", "'size' applied to '(int)'"),
    ("size(true) > 0", "'size' applied to '(bool)'"),
    ("'abc'.startsWith(1)", "'startsWith' applied to 'string.(int)'"),
    ("'abc'.contains(true)", "'contains' applied to 'string.(bool)'"),
    ("'abc'.endsWith(['a'])", "'endsWith' applied to 'string.(list(string))'"),
    ("'abc'.matches(1)", "'matches' applied to 'string.(int)'"),
    ("'a,b'.split(1).size() > 0", "'split' applied to 'string.(int)'"),
    ("'abc'.substring('1') == ''", "'substring' applied to 'string.(string)'"),
    ("'abc'.charAt('1') == ''", "'charAt' applied to 'string.(string)'"),
    ("'abc'.lowerAscii(1) == ''", "'lowerAscii' applied to 'string.(int)'"),
    ("'abc'.replace(1, 2) == ''", "'replace' applied to 'string.(int, int)'"),
    ("['a', 'b'].join(1) == ''", "'join' applied to 'list(string).(int)'"),
    ("[1, 2].join(',') == ''", "'join' applied to 'list(int).(string)'"),
    ("int([1]) > 0", "'int' applied to '(list(int))'"),
    ("double('1', '2') > 0.0", "'double' applied to '(string, string)'"),
    ("timestamp(1.5) == timestamp(1)", "'timestamp' applied to '(double)'"),
    ("duration(1) == duration('1s')", "'duration' applied to '(int)'"),
    ("(true ? 1 : 'a') == 1", "both branches of ?: must have the same type"),
    ("(1 ? 'a' : 'b') == 'a'", "the condition of ?: must be a bool"),
    ("1.foo == 1", "type 'int' does not support field selection"),
    ("'abc'.foo == 1", "type 'string' does not support field selection"),
    ("[1, 2].all(x, x)", "'&&' applied to '(bool, int)'"),
    ("[1, 2].exists(x, x + 1)", "'||' applied to '(bool, int)'"),
    ("[1, 2].map(x, x + 'a').size() > 0", "'+' applied to '(int, string)'"),
    ("[1, 2].filter(x, x).size() > 0", "the condition of ?: must be a bool"),
    ("1.all(x, true)", "cannot be the range of a comprehension"),
    ("1.all(k, v, true)", "a two-variable comprehension needs a list or a map"),
    ("quantity(1).isInteger()", "'quantity' applied to '(int)'"),
    ("quantity('1').isGreaterThan(1)", "'isGreaterThan' applied to 'kubernetes.Quantity.(int)'"),
    ("url(1).getHost() == ''", "'url' applied to '(int)'"),
    ("cidr('10.0.0.0/8').containsIP(1)", "'containsIP' applied to 'net.CIDR.(int)'"),
    ("semver(1).major() == 1", "'semver' applied to '(int)'"),
    ("lists.range('a').size() > 0", "applied to '(string)'"),
    ("[1, 2].indexOf('a') == 0", "'indexOf' applied to 'list(int).(string)'"),
    ("optional.of(1).orValue('a') == 1", "the default must have the optional value's type"),
    ("sets.contains([1], 1)", "'sets.contains' applied to '(list(int), int)'"),
    ("math.greatest('a', 1) == 1", "simple literal arguments must be numeric"),
    ("math.greatest(object.x, 'a') == 1", "simple literal arguments must be numeric"),
    ("[1][0].size() > 0", "'size' applied to 'int.()'"),
    ("{'a': 1}['a'] + 'b' == ''", "'+' applied to '(int, string)'"),
    ("{'a': 1}[1] == 1", "'[]' applied to '(map(string, int), int)'"),
    ("[1, 2]['a'] == 1", "'[]' applied to '(list(int), string)'"),
    ("math.round(1)", "'math.round' applied to '(int)'"),
    ("math.isNaN(1)", "'math.isNaN' applied to '(int)'"),
    ("math.bitShiftLeft(1.0, 2)", "'math.bitShiftLeft' applied to '(double, int)'"),
    ("math.bitAnd(1, 1u)", "'math.bitAnd' applied to '(int, uint)'"),
    ("format.dns1123Label().validate(1)", "'validate' applied to 'kubernetes.NamedFormat.(int)'"),
    ("format.named(1)", "'format.named' applied to '(int)'"),
];

/// Expressions the same environment accepts, among them the ones that mix typed values with
/// `dyn` (every object field is `dyn`), which only the evaluation can decide.
const ACCEPTED: &[&str] = &[
    "1 + 2 == 3",
    "1u + 2u == 3u",
    "1.5 + 2.0 > 3.0",
    "'a' + 'b' == 'ab'",
    "b'a' + b'b' == b'ab'",
    "[1] + [2] == [1, 2]",
    "1 < 1.5",
    "1u < 2",
    "'a' < 'b'",
    "true != false",
    "1 in [1, 2]",
    "'a' in {'a': 1}",
    "[1, dyn('a')].size() == 2",
    "[dyn('a'), 1][0] + 'b' == 'ab'",
    "{'a': dyn(1), 'b': 'c'}.size() == 2",
    "object.spec.replicas + 1 > 2",
    "object.metadata.name + 'x' == 'ax'",
    "object.spec.replicas + 1 == 2",
    "size(object.spec.containers) > 0",
    "object.spec.containers.all(c, c.image.startsWith('r/'))",
    "containers.exists(c, c.name == 'x')",
    "[1, 2].map(x, x * 2) == [2, 4]",
    "[1, 2].filter(x, x > 1).size() == 1",
    "'abc'.substring(1) == 'bc'",
    "'a,b'.split(',').size() == 2",
    "['a', 'b'].join(',') == 'a,b'",
    "'abc'.matches('^a')",
    "'ABC'.lowerAscii() == 'abc'",
    "int('1') + 1 == 2",
    "string(1) + 'a' == '1a'",
    "double(1) / 2.0 == 0.5",
    "timestamp('2024-01-01T00:00:00Z') + duration('1h') > timestamp('2024-01-01T00:00:00Z')",
    "duration('1h') + duration('1m') > duration('1h')",
    "timestamp('2024-01-01T00:00:00Z').getFullYear() == 2024",
    "quantity('1Gi').isGreaterThan(quantity('1Mi'))",
    "url('https://x/y').getHost() == 'x'",
    "ip('10.0.0.1').family() == 4",
    "cidr('10.0.0.0/8').containsIP(ip('10.0.0.1'))",
    "cidr('10.0.0.0/8').containsIP('10.0.0.1')",
    "semver('1.2.3').major() == 1",
    "lists.range(3).sum() == 3",
    "[3, 1].sort() == [1, 3]",
    "[1, 2].indexOf(2) == 1",
    "optional.of(1).orValue(2) == 1",
    "object.?spec.?replicas.orValue(1) > 0",
    "object.?spec.?securityContext.orValue(null).?runAsUser.orValue(0) == 0",
    "sets.contains([1, 2], [1])",
    "math.greatest(1, 2) == 2",
    "(true ? 1 : 2) == 1",
    "has(object.spec)",
    "type(1) == int",
    "object.metadata.labels.all(k, k != '')",
    "{'a': [1]}['a'][0] == 1",
    "[[1], [2]].all(l, l.size() == 1)",
    "'%s'.format(['x']) == 'x'",
    "object.x == null",
    "'abc'.charAt(0) == 'a'",
    "[1].exists_one(x, x == 1)",
    "request.operation == 'CREATE' && object.spec.hostNetwork == true",
    "object.metadata.labels.all(k, v, k.startsWith('app') || v != '')",
    "containers.transformList(i, c, c.name).size() > 0",
    "cel.bind(n, containers.map(c, c.name), n.size() == n.distinct().size())",
    "math.sqrt(4) == 2.0 && math.abs(-1) == 1 && math.sign(-2.5) == -1.0",
    "math.round(1.5) == 2.0 && math.isFinite(1.0) && math.bitAnd(3u, 1u) == 1u && math.bitShiftLeft(1, 2) == 4",
    "!format.dns1123Label().validate('a').hasValue() && format.named('uri').hasValue()",
];

#[test]
fn what_kubernetes_rejects_at_compile_time_is_rejected_at_load() {
    assert!(REJECTED.len() >= 40);
    for (source, expected) in REJECTED {
        match checked(source) {
            Err(error) => assert!(error.message.contains(expected), "{source}: {}", error.message),
            Ok(found) => panic!("{source} was accepted, as {}", found.name()),
        }
    }
}

#[test]
fn what_kubernetes_accepts_is_accepted() {
    assert!(ACCEPTED.len() >= 40);
    for source in ACCEPTED {
        let found = checked(source).unwrap_or_else(|error| panic!("{source}: {}", error.message));
        assert!(found.compatible(&Type::Bool), "{source}: {}", found.name());
    }
}

#[test]
fn the_error_points_at_the_call() {
    let source = "object.spec.replicas > 0 && 'abc'.startsWith(1)";
    let error = checked(source).unwrap_err();
    // The column of the call's `(`, as for unknown functions.
    assert_eq!(&source[error.offset..], "(1)");
}

/// cel-go's load-time check of literal `format` calls (`ext/formatting_test.go`, the cases
/// marked as compile-time errors), as Kubernetes runs it.
const FORMAT_REJECTED: &[(&str, &str)] = &[
    ("'%s %s'.format(['abc', 'def', 'ghi'])", "too many arguments supplied to string.format (expected 2, got 3)"),
    ("'%s %s'.format(['abc'])", "index 1 out of range"),
    ("'filler %'.format([])", "unexpected end of string"),
    ("'%j'.format([123])", "could not parse formatting clause: unrecognized formatting clause \"j\""),
    (
        "'int is %d'.format([5.2])",
        "error during formatting: decimal clause can only be used on integers, was given double",
    ),
    ("'double is %f'.format([true])", "fixed-point clause can only be used on doubles, was given bool"),
    ("'double is %.34'.format([5.0])", "could not find end of precision specifier"),
    ("'double is %e'.format([true])", "scientific clause can only be used on doubles, was given bool"),
    ("'%x is a double'.format([2.5])", "only integers, byte buffers, and strings can be formatted as hex"),
    ("'an octal: %o'.format([3.14])", "octal clause can only be used on integers, was given double"),
    ("'%b'.format(['abc'])", "only integers and bools can be formatted as binary, was given string"),
    ("'%s'.format([[optional.of(1)]])", "string clause can only be used on"),
    ("'%s'.format([{'a': quantity('1')}])", "was given kubernetes.Quantity"),
];

#[test]
fn literal_format_calls_are_checked_as_kubernetes_checks_them() {
    for (source, expected) in FORMAT_REJECTED {
        match checked(source) {
            Err(error) => assert!(error.message.contains(expected), "{source}: {}", error.message),
            Ok(found) => panic!("{source} was accepted, as {}", found.name()),
        }
    }
    // A type error points at the argument, not at the call.
    let source = "'%d and %d'.format([1, 2.5])";
    assert_eq!(&source[checked(source).unwrap_err().offset..], "2.5])");
    for accepted in [
        // Literals inside a format call may mix types, as cel-go exempts them.
        "'%d %s %s'.format([1, 'a', [1, 'b', {'k': 2.0, 1: true}]])",
        "'%f %e'.format(['NaN', 1.5])",
        "'%x %X %o %b'.format([1, b'x', 2u, true])",
        // Not literals: checked when evaluated.
        "'%d'.format([dyn(1.5)])",
        "('%d' + '').format([1.5, 2])",
        "'%s'.format(object.spec.containers)",
    ] {
        let found = checked(accepted).unwrap_or_else(|error| panic!("{accepted}: {}", error.message));
        assert_eq!(found, Type::String, "{accepted}");
    }
}

#[test]
fn a_rewritten_call_is_named_as_written() {
    let error = checked("string(type(1))").unwrap_err();
    assert!(error.message.contains("'string' applied to '(type)'"), "{}", error.message);
}
