//! cel-go's own cases for the version-2 formatter (`ext/formatting_test.go`, with variables
//! written as literals), and a few more read from its source: what Kubernetes prints.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::test_support::{Expect, check};

#[test]
fn formats_as_kubernetes_does() {
    check(&[
        ("'no substitution'.format([])", Expect::Str("no substitution")),
        ("'str is %s and some more'.format(['filler'])", Expect::Str("str is filler and some more")),
        ("'%% and also %%'.format([])", Expect::Str("% and also %")),
        ("'%%%s%%'.format(['text'])", Expect::Str("%text%")),
        ("'%s%%'.format(['percent on the right'])", Expect::Str("percent on the right%")),
        ("'%%%s'.format(['percent on the left'])", Expect::Str("%percent on the left")),
        (
            "'%d %d %d, %s %s %s, %d %d %d, %s %s %s'.format([1, 2, 3, 'A', 'B', 'C', 4, 5, 6, 'D', 'E', 'F'])",
            Expect::Str("1 2 3, A B C, 4 5 6, D E F"),
        ),
        (
            "'%d %d %d, %s %s %s, %d %d %d, %s %s %s'.format([dyn(1), dyn(2), dyn(3), dyn('A'), dyn('B'), dyn('C'), dyn(4), dyn(5), dyn(6), dyn('D'), dyn('E'), dyn('F')])",
            Expect::Str("1 2 3, A B C, 4 5 6, D E F"),
        ),
        ("'\\u0025\\u0025escaped \\u0025s\\u0025\\u0025'.format(['percent'])", Expect::Str("%escaped percent%")),
        ("'%.3f'.format([1.2345])", Expect::Str("1.234")),
        ("'this is 5 in binary: %b'.format([5])", Expect::Str("this is 5 in binary: 101")),
        ("'this is -5 in binary: %b'.format([-5])", Expect::Str("this is -5 in binary: -101")),
        ("'unsigned 64 in binary: %b'.format([uint(64)])", Expect::Str("unsigned 64 in binary: 1000000")),
        ("'bit set from bool: %b'.format([true])", Expect::Str("bit set from bool: 1")),
        ("'%o'.format([11])", Expect::Str("13")),
        ("'%o'.format([-11])", Expect::Str("-13")),
        ("'this is an unsigned octal: %o'.format([uint(65535)])", Expect::Str("this is an unsigned octal: 177777")),
        ("'%x is 30 in hexadecimal'.format([30])", Expect::Str("1e is 30 in hexadecimal")),
        ("'%X is 20 in hexadecimal'.format([30])", Expect::Str("1E is 20 in hexadecimal")),
        ("'%x is -30 in hexadecimal'.format([-30])", Expect::Str("-1e is -30 in hexadecimal")),
        ("'%X is 6000 in hexadecimal'.format([uint(6000)])", Expect::Str("1770 is 6000 in hexadecimal")),
        ("'%x'.format(['Hello world!'])", Expect::Str("48656c6c6f20776f726c6421")),
        ("'%X'.format(['Hello world!'])", Expect::Str("48656C6C6F20776F726C6421")),
        ("'%x'.format([b'byte string'])", Expect::Str("6279746520737472696e67")),
        ("'%x'.format([b'\\x00\\x00byte string\\x00'])", Expect::Str("00006279746520737472696e6700")),
        ("'%X'.format([b'byte string'])", Expect::Str("6279746520737472696E67")),
        ("'%.6e'.format([1052.032911275])", Expect::Str("1.052033 × 10⁰³")),
        ("'%f'.format([2.71828])", Expect::Str("2.718280")),
        ("'%e'.format([2.71828])", Expect::Str("2.718280 × 10⁰⁰")),
        ("'%s'.format([2.71])", Expect::Str("2.71")),
        ("'%s'.format([[2.71]])", Expect::Str("[2.710000]")),
        ("'%s'.format([0.000000002])", Expect::Str("2e-09")),
        ("'%s'.format([[0.000000002]])", Expect::Str("[0.000000]")),
        (
            "'unescaped unicode: %e, escaped unicode: %e'.format([2.71828, 2.71828])",
            Expect::Str("unescaped unicode: 2.718280 × 10⁰⁰, escaped unicode: 2.718280 × 10⁰⁰"),
        ),
        ("'%f'.format(['NaN'])", Expect::Str("NaN")),
        ("'%f'.format(['Infinity'])", Expect::Str("∞")),
        ("'%f'.format(['-Infinity'])", Expect::Str("-∞")),
        ("'%s'.format([double('NaN')])", Expect::Str("NaN")),
        ("'%s'.format([double('Inf')])", Expect::Str("+Inf")),
        ("'%s'.format([double('-Inf')])", Expect::Str("-Inf")),
        (
            "'%s'.format([[double('NaN'), double('+Inf'), double('-Inf')]])",
            Expect::Str("[\"NaN\", \"+Inf\", \"-Inf\"]"),
        ),
        ("'%d'.format([uint(64)])", Expect::Str("64")),
        ("'null: %s'.format([null])", Expect::Str("null: null")),
        ("'%s'.format([999999999999])", Expect::Str("999999999999")),
        ("'some bytes: %s'.format([b'xyz'])", Expect::Str("some bytes: xyz")),
        ("'type is %s'.format([type('test string')])", Expect::Str("type is string")),
        ("'%s'.format([timestamp('2023-02-03T23:31:20+00:00')])", Expect::Str("2023-02-03T23:31:20Z")),
        ("'%s'.format([duration('1h45m47s')])", Expect::Str("6347s")),
        ("'%s'.format([duration('2ns')])", Expect::Str("0.000000002s")),
        (
            "'%s'.format([['abc', 3.14, null, [9, 8, 7, 6], timestamp('2023-02-03T23:31:20Z')]])",
            Expect::Str("[\"abc\", 3.140000, null, [9, 8, 7, 6], timestamp(\"2023-02-03T23:31:20Z\")]"),
        ),
        (
            "'%s'.format([[dyn('abc'), dyn(3.14), dyn(null), dyn([9, 8, 7, 6]), dyn(timestamp('2023-02-03T23:31:20Z'))]])",
            Expect::Str("[\"abc\", 3.140000, null, [9, 8, 7, 6], timestamp(\"2023-02-03T23:31:20Z\")]"),
        ),
        (
            "'%s'.format([{'key1': b'xyz', 'key5': null, 'key2': duration('2h'), 'key4': true, 'key3': 2.71828}])",
            Expect::Str(
                "{\"key1\":b\"xyz\", \"key2\":duration(\"7200s\"), \"key3\":2.718280, \"key4\":true, \"key5\":null}",
            ),
        ),
        (
            "'%s'.format([{'key1': dyn(b'xyz'), 'key5': dyn(null), 'key2': dyn(duration('2h')), 'key4': dyn(true), 'key3': dyn(2.71828)}])",
            Expect::Str(
                "{\"key1\":b\"xyz\", \"key2\":duration(\"7200s\"), \"key3\":2.718280, \"key4\":true, \"key5\":null}",
            ),
        ),
        (
            "'map with multiple key types: %s'.format([{1: 'value1', uint(2): 'value2', true: double('NaN')}])",
            Expect::Str("map with multiple key types: {1:\"value1\", 2:\"value2\", true:\"NaN\"}"),
        ),
        (
            "'map with multiple key types: %s'.format([{dyn(1): dyn('value1'), dyn(uint(2)): dyn('value2'), dyn(true): dyn(double('NaN'))}])",
            Expect::Str("map with multiple key types: {1:\"value1\", 2:\"value2\", true:\"NaN\"}"),
        ),
        ("'true bool: %s, false bool: %s'.format([true, false])", Expect::Str("true bool: true, false bool: false")),
        ("'dynamic string: %s'.format([dyn('a string')])", Expect::Str("dynamic string: a string")),
        (
            "'dynIntStr: %s dynDoubleStr: %s'.format([dyn(32), dyn(56.8)])",
            Expect::Str("dynIntStr: 32 dynDoubleStr: 56.8"),
        ),
        ("'dynamic int: %d'.format([dyn(128)])", Expect::Str("dynamic int: 128")),
        ("'dynamic unsigned int: %d'.format([dyn(uint(256))])", Expect::Str("dynamic unsigned int: 256")),
        ("'dynamic hex int: %x'.format([dyn(22)])", Expect::Str("dynamic hex int: 16")),
        ("'dynamic hex int: %X (uppercase)'.format([dyn(26)])", Expect::Str("dynamic hex int: 1A (uppercase)")),
        ("'dynamic hex int: %x (unsigned)'.format([dyn(uint(500))])", Expect::Str("dynamic hex int: 1f4 (unsigned)")),
        ("'dynamic double: %.3f'.format([dyn(4.5)])", Expect::Str("dynamic double: 4.500")),
        ("'(dyntype) e: %e'.format([dyn(2.71828)])", Expect::Str("(dyntype) e: 2.718280 × 10⁰⁰")),
        ("'NaN: %f, infinity: %f'.format([double('NaN'), double('Inf')])", Expect::Str("NaN: NaN, infinity: ∞")),
        (
            "'dyntype timestamp: %s'.format([dyn(timestamp('2009-11-10T23:00:00Z'))])",
            Expect::Str("dyntype timestamp: 2009-11-10T23:00:00Z"),
        ),
        ("'dyntype duration: %s'.format([dyn(duration('2h25m47s'))])", Expect::Str("dyntype duration: 8747s")),
        ("'dyntype list: %s'.format([[6, 4.2, 'a string']])", Expect::Str("dyntype list: [6, 4.200000, \"a string\"]")),
        (
            "'dyntype list: %s'.format([[dyn(6), dyn(4.2), dyn('a string')]])",
            Expect::Str("dyntype list: [6, 4.200000, \"a string\"]"),
        ),
        (
            "'dyntype map: %s'.format([{'strKey': 'x', true: 42, 6: duration('422s')}])",
            Expect::Str("dyntype map: {\"strKey\":\"x\", 6:duration(\"422s\"), true:42}"),
        ),
        (
            "'dyntype map: %s'.format([{dyn('strKey'): dyn('x'), dyn(true): dyn(42), dyn(6): dyn(duration('422s'))}])",
            Expect::Str("dyntype map: {\"strKey\":\"x\", 6:duration(\"422s\"), true:42}"),
        ),
        (
            "'message field msg.single_int32: %d, msg.single_double: %.1f'.format([2, 1.0])",
            Expect::Str("message field msg.single_int32: 2, msg.single_double: 1.0"),
        ),
        (
            "'message field msg.single_int32: %d, msg.single_double: %.1f'.format([dyn(2), dyn(1.0)])",
            Expect::Str("message field msg.single_int32: 2, msg.single_double: 1.0"),
        ),
        ("'list: %s'.format([[[1, 2, [3.0, 4]]]])", Expect::Str("list: [[1, 2, [3.000000, 4]]]")),
        (
            "'list: %s'.format([[[dyn(1), dyn(2), dyn([dyn(3.0), dyn(4)])]]])",
            Expect::Str("list: [[1, 2, [3.000000, 4]]]"),
        ),
        ("'list element: %s'.format([[[1, 2, [3.0, 4]]][0]])", Expect::Str("list element: [1, 2, [3.000000, 4]]")),
        (
            "'list element: %s'.format([[[dyn(1), dyn(2), dyn([dyn(3.0), dyn(4)])]][0]])",
            Expect::Str("list element: [1, 2, [3.000000, 4]]"),
        ),
        ("'list size: %d'.format([[[1, 2, [3.0, 4]]].size()])", Expect::Str("list size: 1")),
        ("'list size: %d'.format([[[dyn(1), dyn(2), dyn([dyn(3.0), dyn(4)])]].size()])", Expect::Str("list size: 1")),
        ("'%f'.format([1234567.891])", Expect::Str("1,234,567.891000")),
        ("'%f'.format([double('-Inf')])", Expect::Str("-∞")),
        ("'%s'.format([[type(1), type('a')]])", Expect::Str("[int, string]")),
        ("'%s'.format([[dyn(type(1)), dyn(type('a'))]])", Expect::Str("[int, string]")),
        ("'%s'.format([[uint(1), uint(2)]])", Expect::Str("[1, 2]")),
        ("'%s'.format([[b'ab', b'c']])", Expect::Str("[b\"ab\", b\"c\"]")),
        ("'%s %s'.format([dyn([]), dyn({})])", Expect::Str("[] {}")),
        ("'%s'.format([[duration('1.5s')]])", Expect::Str("[duration(\"1.5s\")]")),
        ("'héllo %s ✓'.format(['wörld 日本'])", Expect::Str("héllo wörld 日本 ✓")),
        ("'%x'.format(['é'])", Expect::Str("c3a9")),
        ("('%s %s' + '').format(['abc', 'def', 'ghi'])", Expect::Str("abc def")),
        ("'%.0f'.format([2.5])", Expect::Str("2")),
        ("'%e'.format([0.00012345678])", Expect::Str("1.234568 × 10⁻⁰⁴")),
        ("'%b'.format([false])", Expect::Str("0")),
    ]);
}

#[test]
fn fails_as_kubernetes_does_when_evaluated() {
    check(&[
        ("'%a'.format([1])", Expect::Fails("could not parse formatting clause: unrecognized formatting clause \"a\"")),
        ("'%d %d %d'.format([0, 1])", Expect::Fails("index 2 out of range")),
        (
            "'string is %b'.format(['abc'])",
            Expect::Fails(
                "error during formatting: only integers and bools can be formatted as binary, was given string",
            ),
        ),
        (
            "'%d'.format([duration('30m2s')])",
            Expect::Fails(
                "error during formatting: decimal clause can only be used on integers, was given google.protobuf.Duration",
            ),
        ),
        (
            "'octal: %o'.format(['a string'])",
            Expect::Fails("error during formatting: octal clause can only be used on integers, was given string"),
        ),
        (
            "'double is %x'.format([0.5])",
            Expect::Fails(
                "error during formatting: only integers, byte buffers, and strings can be formatted as hex, was given double",
            ),
        ),
        (
            "'double is %E'.format([0.5])",
            Expect::Fails("could not parse formatting clause: unrecognized formatting clause \"E\""),
        ),
        (
            "'null: %d'.format([null])",
            Expect::Fails("error during formatting: decimal clause can only be used on integers, was given null_type"),
        ),
        (
            "'null: %e'.format([null])",
            Expect::Fails(
                "error during formatting: scientific clause can only be used on doubles, was given null_type",
            ),
        ),
        (
            "'null: %f'.format([null])",
            Expect::Fails(
                "error during formatting: fixed-point clause can only be used on doubles, was given null_type",
            ),
        ),
        (
            "'null: %x'.format([null])",
            Expect::Fails(
                "error during formatting: only integers, byte buffers, and strings can be formatted as hex, was given null_type",
            ),
        ),
        (
            "'null: %X'.format([null])",
            Expect::Fails(
                "error during formatting: only integers, byte buffers, and strings can be formatted as hex, was given null_type",
            ),
        ),
        (
            "'null: %b'.format([null])",
            Expect::Fails(
                "error during formatting: only integers and bools can be formatted as binary, was given null_type",
            ),
        ),
        (
            "'null: %o'.format([null])",
            Expect::Fails("error during formatting: octal clause can only be used on integers, was given null_type"),
        ),
        ("'%s %s'.format(['abc'])", Expect::Fails("index 1 out of range")),
        (
            "'%j'.format([123])",
            Expect::Fails("could not parse formatting clause: unrecognized formatting clause \"j\""),
        ),
        (
            "'int is %d'.format([5.2])",
            Expect::Fails("error during formatting: decimal clause can only be used on integers"),
        ),
        (
            "'double is %f'.format([true])",
            Expect::Fails("error during formatting: fixed-point clause can only be used on doubles"),
        ),
        (
            "'double is %.34'.format([5.0])",
            Expect::Fails(
                "could not parse formatting clause: error while parsing precision: could not find end of precision specifier",
            ),
        ),
        (
            "'double is %e'.format([true])",
            Expect::Fails("error during formatting: scientific clause can only be used on doubles"),
        ),
        (
            "'%x is a double'.format([2.5])",
            Expect::Fails("error during formatting: only integers, byte buffers, and strings can be formatted as hex"),
        ),
        (
            "'%X is a double'.format([2.5])",
            Expect::Fails("error during formatting: only integers, byte buffers, and strings can be formatted as hex"),
        ),
        (
            "'an octal: %o'.format([3.14])",
            Expect::Fails("error during formatting: octal clause can only be used on integers"),
        ),
        (
            "'%f'.format(['abc'])",
            Expect::Fails("error during formatting: fixed-point clause can only be used on doubles, was given string"),
        ),
        (
            "'%d'.format([dyn(5.2)])",
            Expect::Fails("error during formatting: decimal clause can only be used on integers, was given double"),
        ),
        (
            "'%.2f'.format([dyn(1)])",
            Expect::Fails("error during formatting: fixed-point clause can only be used on doubles, was given int"),
        ),
        ("('%s %s' + '').format(['abc'])", Expect::Fails("index 1 out of range")),
        ("('filler %' + '').format([1])", Expect::Fails("unexpected end of string")),
        (
            "'%.f'.format([1.5])",
            Expect::Fails(
                "could not parse formatting clause: error while parsing precision: error while converting precision to integer: strconv.Atoi: parsing \"\": invalid syntax",
            ),
        ),
        (
            "'%d'.format([true])",
            Expect::Fails("error during formatting: decimal clause can only be used on integers, was given bool"),
        ),
        // Evaluated, the argument is fetched before the end of the string is noticed.
        ("'filler %'.format([])", Expect::Fails("index 0 out of range")),
        ("'%.1001f'.format([1.0])", Expect::Fails("precision 1001 is over the limit of 1000")),
        ("'%s'.format([b'\\xff'])", Expect::Fails("invalid UTF-8 in bytes")),
        ("'%s'.format([optional.of(1)])", Expect::Fails("string clause can only be used on")),
    ]);
}
