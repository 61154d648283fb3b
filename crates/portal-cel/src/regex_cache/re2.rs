//! Go's regular expression syntax (RE2's, which cel-go and Kubernetes use) written in the
//! regex crate's, where the two read the same text differently:
//!
//! - `\d`, `\s`, `\w` and their negations, and `\b`/`\B`, are ASCII in Go and Unicode-aware
//!   in the regex crate: they become explicit ASCII classes, and `(?-u:\b)`;
//! - inside a class, Go takes `[`, `&&`, `--` and `~~` literally, where the regex crate nests
//!   classes or applies set operations: they are escaped (`[:alpha:]` is kept);
//! - a `{` that does not start a repetition is literal in Go, an error in the regex crate;
//! - `\<` and `\>` are literal in Go, word boundaries in the regex crate;
//! - Go has octal escapes (`\0`, `\123`) and `\Q...\E` quoting, the regex crate doesn't.
//!
//! Two kinds of pattern Go rejects and the regex crate would accept are rejected with Go's
//! message: nested repetition operators (`a**`, `a++`, `a*+`; a single `?` after a repetition
//! makes it lazy and is fine) and repeat counts over 1000 (`a{1001}`). Anything else is passed on
//! as written; other patterns Go rejects may still be accepted.

use std::borrow::Cow;

/// `pattern`, in Go's syntax, in the regex crate's.
///
/// # Errors
///
/// Go's message for a class without its closing `]`: its translation could otherwise be
/// well-formed, the class then ending at a `]` that only closes a nested one.
pub(super) fn translate(pattern: &str) -> Result<Cow<'_, str>, String> {
    check_repetitions(pattern)?;
    if !pattern.contains(['\\', '[', '{']) {
        return Ok(Cow::Borrowed(pattern));
    }
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        match c {
            '\\' => i = escape(&chars, i, false, &mut out),
            '[' => i = class(&chars, i, &mut out)?,
            '{' if !is_repeat(&chars[i..]) => {
                out.push_str("\\{");
                i += 1;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(Cow::Owned(out))
}

/// Writes the escape at `chars[i]` (a backslash) as the regex crate reads it, inside a class
/// or not, and returns the index after it.
fn escape(chars: &[char], i: usize, in_class: bool, out: &mut String) -> usize {
    let Some(&next) = chars.get(i + 1) else {
        // A trailing backslash: an error either way.
        out.push('\\');
        return i + 1;
    };
    let after = i + 2;
    match next {
        'd' | 's' | 'w' => {
            let items = perl_items(next);
            if in_class {
                out.push_str(items);
            } else {
                out.push('[');
                out.push_str(items);
                out.push(']');
            }
        }
        // A negated class nests inside a class, in the regex crate's syntax.
        'D' | 'S' | 'W' => {
            out.push_str("[^");
            out.push_str(perl_items(next.to_ascii_lowercase()));
            out.push(']');
        }
        'b' | 'B' if !in_class => {
            out.push_str("(?-u:\\");
            out.push(next);
            out.push(')');
        }
        'p' | 'P' => {
            // A Unicode class, `\pL` or `\p{Greek}`, read the same by both.
            out.push('\\');
            out.push(next);
            if chars.get(after) == Some(&'{') {
                let close = chars[after..].iter().position(|&c| c == '}').map_or(chars.len(), |p| after + p + 1);
                out.extend(&chars[after..close]);
                return close;
            }
            if let Some(&c) = chars.get(after) {
                out.push(c);
                return after + 1;
            }
        }
        'Q' if !in_class => {
            let rest = &chars[after..];
            let end = rest.windows(2).position(|w| w == ['\\', 'E']).unwrap_or(rest.len());
            let quoted: String = rest[..end].iter().collect();
            out.push_str(&regex::escape(&quoted));
            return (after + end + 2).min(chars.len());
        }
        '0'..='7' => {
            let (value, used) = octal(next, &chars[after..]);
            match value {
                Some(v) => {
                    out.push_str(&format!("\\x{{{v:x}}}"));
                    return after + used;
                }
                // `\1` alone is a backreference, which neither supports.
                None => {
                    out.push('\\');
                    out.push(next);
                }
            }
        }
        // Go reads an escaped punctuation character as itself; the regex crate takes `\<`
        // and `\>` for word boundaries, and refuses some others in a class.
        c if c.is_ascii_punctuation() => push_literal(c, out),
        _ => {
            out.push('\\');
            out.push(next);
        }
    }
    after
}

/// Writes the class starting at `chars[i]` (its `[`) item by item, as Go's parser reads it,
/// and returns the index after it. Each literal character is escaped if the regex crate gives
/// it a meaning in a class (`[` nesting, `&&`, `--`, `~~` set operations).
fn class(chars: &[char], i: usize, out: &mut String) -> Result<usize, String> {
    let start = i;
    out.push('[');
    let mut i = i + 1;
    if chars.get(i) == Some(&'^') {
        out.push('^');
        i += 1;
    }
    let mut first = true;
    while let Some(&c) = chars.get(i) {
        if c == ']' && !first {
            out.push(']');
            return Ok(i + 1);
        }
        first = false;
        if let Some(len) = posix_class(&chars[i..]) {
            out.extend(&chars[i..i + len]);
            i += len;
            continue;
        }
        if c == '\\' && matches!(chars.get(i + 1), Some('d' | 's' | 'w' | 'D' | 'S' | 'W' | 'p' | 'P')) {
            i = escape(chars, i, true, out);
            continue;
        }
        i = class_char(chars, i, out);
        // `a-z`, but `a-]` is `a` and `-`.
        if chars.get(i) == Some(&'-') && chars.get(i + 1).is_some_and(|&c| c != ']') {
            out.push('-');
            i = class_char(chars, i + 1, out);
        }
    }
    let class: String = chars[start..].iter().collect();
    Err(format!("error parsing regexp: missing closing ]: `{class}`"))
}

/// Writes one character of a class, escaped or not, and returns the index after it.
fn class_char(chars: &[char], i: usize, out: &mut String) -> usize {
    match chars.get(i) {
        Some('\\') => escape(chars, i, true, out),
        Some(&c) => {
            push_literal(c, out);
            i + 1
        }
        None => i,
    }
}

/// Writes `c` so that the regex crate reads it literally, in a class or not.
fn push_literal(c: char, out: &mut String) {
    // The regex crate lets any ASCII punctuation be escaped, except `<` and `>`.
    if c.is_ascii_punctuation() && !matches!(c, '<' | '>') {
        out.push('\\');
    }
    out.push(c);
}

/// The ASCII members of Go's `\d`, `\s` and `\w`, as class items.
fn perl_items(class: char) -> &'static str {
    match class {
        'd' => "0-9",
        's' => "\\t\\n\\f\\r ",
        _ => "0-9A-Za-z_",
    }
}

/// Whether `chars`, which start with `{`, spell a repetition: `{n}`, `{n,}` or `{n,m}`.
/// Go's largest repeat count.
const MAX_REPEAT: usize = 1000;

/// Go's errors for nested repetition operators and repeat counts over [`MAX_REPEAT`]. Escapes
/// and classes are passed over: a `*` there is a literal.
fn check_repetitions(pattern: &str) -> Result<(), String> {
    let chars: Vec<char> = pattern.chars().collect();
    // The repetition operator(s) just read, and whether a lazy `?` has followed them.
    let mut previous: Option<(usize, bool)> = None;
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        let length = match c {
            '\\' => {
                previous = None;
                i += 2;
                continue;
            }
            '[' => {
                previous = None;
                i = class_end(&chars, i);
                continue;
            }
            '*' | '+' | '?' => 1,
            '{' if is_repeat(&chars[i..]) => {
                let end = i + chars[i..].iter().position(|&c| c == '}').unwrap_or(0);
                let counts: String = chars[i + 1..end].iter().collect();
                if counts.split(',').any(|n| n.parse::<usize>().is_ok_and(|n| n > MAX_REPEAT)) {
                    let text: String = chars[i..=end].iter().collect();
                    return Err(format!("invalid repeat count: `{text}`"));
                }
                end + 1 - i
            }
            _ => {
                previous = None;
                i += 1;
                continue;
            }
        };
        match previous {
            Some((start, false)) if c == '?' => previous = Some((start, true)),
            Some((start, _)) => {
                let text: String = chars[start..i + length].iter().collect();
                return Err(format!("invalid nested repetition operator: `{text}`"));
            }
            None => previous = Some((i, false)),
        }
        i += length;
    }
    Ok(())
}

/// The index after the class that starts at `chars[i]` (a `[`), escapes and `[:name:]` inside
/// it included; the end of the pattern if it is not closed (the regex crate reports that).
fn class_end(chars: &[char], i: usize) -> usize {
    let mut j = i + 1;
    if chars.get(j) == Some(&'^') {
        j += 1;
    }
    // A `]` first in the class is a literal.
    if chars.get(j) == Some(&']') {
        j += 1;
    }
    while let Some(&c) = chars.get(j) {
        match c {
            '\\' => j += 2,
            '[' => j += posix_class(&chars[j..]).unwrap_or(1),
            ']' => return j + 1,
            _ => j += 1,
        }
    }
    chars.len()
}

fn is_repeat(chars: &[char]) -> bool {
    let mut i = 1;
    let digits = |i: &mut usize| {
        let start = *i;
        while chars.get(*i).is_some_and(char::is_ascii_digit) {
            *i += 1;
        }
        *i > start
    };
    if !digits(&mut i) {
        return false;
    }
    if chars.get(i) == Some(&',') {
        i += 1;
        digits(&mut i);
    }
    chars.get(i) == Some(&'}')
}

/// The length of the `[:name:]` (or `[:^name:]`) `chars` start with, if they do.
fn posix_class(chars: &[char]) -> Option<usize> {
    if chars.get(1) != Some(&':') {
        return None;
    }
    let mut i = 2;
    if chars.get(i) == Some(&'^') {
        i += 1;
    }
    let start = i;
    while chars.get(i).is_some_and(char::is_ascii_alphabetic) {
        i += 1;
    }
    (i > start && chars.get(i) == Some(&':') && chars.get(i + 1) == Some(&']')).then_some(i + 2)
}

/// Go's octal escape whose first digit is `first` and whose other digits start `rest`: its
/// value and how many more characters it takes. `\0` takes up to two more digits; `\1`-`\7`
/// need at least one more (alone, they would be a backreference), up to two.
fn octal(first: char, rest: &[char]) -> (Option<u32>, usize) {
    let more = rest.iter().take(2).take_while(|c| matches!(c, '0'..='7')).count();
    if first != '0' && more == 0 {
        return (None, 0);
    }
    let value = std::iter::once(&first).chain(&rest[..more]).fold(0, |v, d| v * 8 + d.to_digit(8).unwrap_or(0));
    (Some(value), more)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::translate;

    /// Go's regexp/syntax on the same patterns (`regexp.Compile` in Go 1.26).
    #[test]
    fn nested_repetitions_and_large_repeat_counts_are_go_errors() {
        let rejected = [
            ("x++", "invalid nested repetition operator: `++`"),
            ("a**", "invalid nested repetition operator: `**`"),
            ("a*+", "invalid nested repetition operator: `*+`"),
            ("a*??", "invalid nested repetition operator: `*??`"),
            ("a{2}*", "invalid nested repetition operator: `{2}*`"),
            ("a{1001}", "invalid repeat count: `{1001}`"),
            ("a{2,1001}", "invalid repeat count: `{2,1001}`"),
        ];
        for (pattern, message) in rejected {
            assert_eq!(translate(pattern).unwrap_err(), message, "{pattern}");
        }
        for accepted in
            ["a*?", "a+?", "a??", "a{1000}", "a{2,}?", r"\*\*", "[*+]+", "a|b*", "(a*)*", "x{", "[[:alpha:]]*"]
        {
            assert!(translate(accepted).is_ok(), "{accepted}");
        }
    }

    #[test]
    fn translates() {
        let cases = [
            ("abc", "abc"),
            (r"^\d+$", r"^[0-9]+$"),
            (r"\D\S\W", r"[^0-9][^\t\n\f\r ][^0-9A-Za-z_]"),
            (r"[\d\w-]", r"[0-90-9A-Za-z_\-]"),
            (r"[^\D]", r"[^[^0-9]]"),
            (r"\bx\B", r"(?-u:\b)x(?-u:\B)"),
            (r"[[]", r"[\[]"),
            (r"[a&&b]", r"[a\&\&b]"),
            (r"[!--]", r"[\!-\-]"),
            (r"[--[\d]", r"[\--\[0-9]"),
            (r"[a-]", r"[a\-]"),
            (r"[[:alpha:]x]", r"[[:alpha:]x]"),
            (r"[]a]", r"[\]a]"),
            (r"[^]a]", r"[^\]a]"),
            (r"a{2}b{1,}c{1,3}", r"a{2}b{1,}c{1,3}"),
            (r"a{,3}", r"a\{,3}"),
            (r"a{", r"a\{"),
            (r"\<a\>", r"<a>"),
            (r"\.\*\-", r"\.\*\-"),
            (r"\p{Greek}+\pL{2}", r"\p{Greek}+\pL{2}"),
            (r"\Qa.b\E+", r"a\.b+"),
            (r"\Q*", r"\*"),
            (r"\101\0\08", r"\x{41}\x{0}\x{0}8"),
            (r"\p{Greek}\pL", r"\p{Greek}\pL"),
            (r"\\d", r"\\d"),
        ];
        for (go, rust) in cases {
            assert_eq!(translate(go).unwrap(), rust, "{go}");
        }
        assert_eq!(translate(r"a[^--\W").unwrap_err(), r"error parsing regexp: missing closing ]: `[^--\W`");
    }
}
