//! The parts of Go's `net/url` that Kubernetes' URL library relies on, ported so that `url()`,
//! `isURL()` and `format.uri()` accept, reject and take apart exactly the strings Kubernetes
//! does: `ParseRequestURI`, `Parse`, and the `Hostname`, `Port`, `EscapedPath` and `Query`
//! accessors, with Go's error messages. It follows Go 1.26: brackets only around IPv6
//! addresses, and a single colon in the host of an `http`/`https` URL.
//!
//! Go strings are bytes, and unescaping can produce bytes that are not UTF-8 (`%FF`): the
//! unescaped parts are kept as bytes, and only turned into (lossy) strings when a CEL function
//! returns them.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::support::go_quote;

/// A parsed URL, Go's `url.URL` without the parts nothing here reads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct GoUrl {
    pub(crate) scheme: String,
    pub(crate) opaque: String,
    pub(crate) user: Option<(Vec<u8>, Option<Vec<u8>>)>,
    /// `host` or `host:port`, unescaped.
    pub(crate) host: Vec<u8>,
    /// The path, unescaped.
    pub(crate) path: Vec<u8>,
    /// The path as written, when escaping `path` again would not give it back.
    pub(crate) raw_path: String,
    pub(crate) force_query: bool,
    pub(crate) raw_query: String,
    pub(crate) fragment: Vec<u8>,
}

/// Go's `*url.Error`: `parse "<url>": <reason>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct UrlError {
    url: String,
    reason: String,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "parse {}: {}", go_quote(self.url.as_bytes()), self.reason)
    }
}

impl std::error::Error for UrlError {}

/// Go's `url.ParseRequestURI`: an absolute URI or an absolute path, no fragment (a `#` is
/// part of the path or the query).
pub(crate) fn parse_request_uri(raw: &str) -> Result<GoUrl, UrlError> {
    parse_url(raw, true).map_err(|reason| UrlError { url: raw.to_owned(), reason })
}

/// Go's `url.Parse`: any URL reference, the fragment split off.
pub(crate) fn parse(raw: &str) -> Result<GoUrl, UrlError> {
    let (before, fragment) = raw.split_once('#').unwrap_or((raw, ""));
    let mut url = parse_url(before, false).map_err(|reason| UrlError { url: before.to_owned(), reason })?;
    if !fragment.is_empty() {
        url.fragment =
            unescape(fragment.as_bytes(), Mode::Fragment).map_err(|reason| UrlError { url: raw.to_owned(), reason })?;
    }
    Ok(url)
}

impl GoUrl {
    /// Go's `URL.Hostname`: the host without the port, IPv6 brackets removed.
    pub(crate) fn hostname(&self) -> &[u8] {
        split_host_port(&self.host).0
    }

    /// Go's `URL.Port`: the port digits, or nothing.
    pub(crate) fn port(&self) -> &[u8] {
        split_host_port(&self.host).1
    }

    /// Go's `URL.EscapedPath`: the path as written when that is a valid encoding of it, else
    /// the path escaped.
    pub(crate) fn escaped_path(&self) -> String {
        if !self.raw_path.is_empty()
            && valid_encoded(self.raw_path.as_bytes(), Mode::Path)
            && unescape(self.raw_path.as_bytes(), Mode::Path).is_ok_and(|p| p == self.path)
        {
            return self.raw_path.clone();
        }
        if self.path == b"*" {
            return "*".to_owned();
        }
        escape(&self.path, Mode::Path)
    }

    /// Go's `URL.Query`: the query's parameters, unescaped, in order, with the values of each
    /// key in order. Malformed pairs are skipped, as Go does.
    pub(crate) fn query(&self) -> Vec<(Vec<u8>, Vec<Vec<u8>>)> {
        parse_query(&self.raw_query)
    }
}

/// Go's `url.parse`.
fn parse_url(raw: &str, via_request: bool) -> Result<GoUrl, String> {
    if raw.bytes().any(|b| b < b' ' || b == 0x7f) {
        return Err("net/url: invalid control character in URL".to_owned());
    }
    if raw.is_empty() && via_request {
        return Err("empty url".to_owned());
    }
    let mut url = GoUrl::default();
    if raw == "*" {
        url.path = b"*".to_vec();
        return Ok(url);
    }

    let (scheme, mut rest) = get_scheme(raw)?;
    url.scheme = scheme.to_ascii_lowercase();

    if rest.ends_with('?') && rest.matches('?').count() == 1 {
        url.force_query = true;
        rest = &rest[..rest.len() - 1];
    } else if let Some((before, query)) = rest.split_once('?') {
        url.raw_query = query.to_owned();
        rest = before;
    }

    if !rest.starts_with('/') {
        if !url.scheme.is_empty() {
            // A rootless path, such as `mailto:user@host`, is opaque.
            url.opaque = rest.to_owned();
            return Ok(url);
        }
        if via_request {
            return Err("invalid URI for request".to_owned());
        }
        let segment = rest.split('/').next().unwrap_or_default();
        if segment.contains(':') {
            return Err("first path segment in URL cannot contain colon".to_owned());
        }
    }

    if (!url.scheme.is_empty() || !via_request && !rest.starts_with("///")) && rest.starts_with("//") {
        let after = &rest[2..];
        let (authority, path) = match after.find('/') {
            Some(i) => (&after[..i], &after[i..]),
            None => (after, ""),
        };
        let (user, host) = parse_authority(&url.scheme, authority)?;
        url.user = user;
        url.host = host;
        rest = path;
    }

    url.path = unescape(rest.as_bytes(), Mode::Path)?;
    if escape(&url.path, Mode::Path) != rest {
        url.raw_path = rest.to_owned();
    }
    Ok(url)
}

/// Go's `getScheme`: the scheme, if the URL starts with one, and the rest.
fn get_scheme(raw: &str) -> Result<(&str, &str), String> {
    for (i, c) in raw.bytes().enumerate() {
        match c {
            b'a'..=b'z' | b'A'..=b'Z' => {}
            b'0'..=b'9' | b'+' | b'-' | b'.' => {
                if i == 0 {
                    return Ok(("", raw));
                }
            }
            b':' => {
                if i == 0 {
                    return Err("missing protocol scheme".to_owned());
                }
                return Ok((&raw[..i], &raw[i + 1..]));
            }
            _ => return Ok(("", raw)),
        }
    }
    Ok(("", raw))
}

type UserInfo = Option<(Vec<u8>, Option<Vec<u8>>)>;

/// Go's `parseAuthority`: `[userinfo@]host[:port]`.
fn parse_authority(scheme: &str, authority: &str) -> Result<(UserInfo, Vec<u8>), String> {
    let at = authority.rfind('@');
    let host = parse_host(scheme, at.map_or(authority, |i| &authority[i + 1..]))?;
    let Some(i) = at else {
        return Ok((None, host));
    };
    let userinfo = &authority[..i];
    if !userinfo.chars().all(valid_userinfo_char) {
        return Err("net/url: invalid userinfo".to_owned());
    }
    let user = match userinfo.split_once(':') {
        None => (unescape(userinfo.as_bytes(), Mode::UserPassword)?, None),
        Some((name, password)) => {
            (unescape(name.as_bytes(), Mode::UserPassword)?, Some(unescape(password.as_bytes(), Mode::UserPassword)?))
        }
    };
    Ok((Some(user), host))
}

fn valid_userinfo_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            '-' | '.' | '_' | ':' | '~' | '!' | '$' | '&' | '\'' | '(' | ')' | '*' | '+' | ',' | ';' | '=' | '%' | '@'
        )
}

/// Go's `parseHost`: `host[:port]`, an IPv6 literal in brackets, unescaped.
fn parse_host(scheme: &str, host: &str) -> Result<Vec<u8>, String> {
    match host.rfind('[') {
        Some(open) if open > 0 => return Err("invalid IP-literal".to_owned()),
        Some(_) => return parse_ip_literal(host),
        None => {}
    }
    if let Some(first) = host.find(':') {
        let last = host.rfind(':').unwrap_or(first);
        // RFC 3986 has no colon in a host; Go enforces that for http and https only, as other
        // schemes (databases) list several hosts.
        let colon = if scheme == "http" || scheme == "https" { first } else { last };
        let port = &host[colon..];
        if !valid_optional_port(port.as_bytes()) {
            return Err(format!("invalid port {} after host", go_quote(port.as_bytes())));
        }
    }
    unescape(host.as_bytes(), Mode::Host)
}

/// The `[...]` branch of Go's `parseHost`; `host` starts with the `[`.
fn parse_ip_literal(host: &str) -> Result<Vec<u8>, String> {
    let Some(close) = host.rfind(']') else {
        return Err("missing ']' in host".to_owned());
    };
    let port = &host[close + 1..];
    if !valid_optional_port(port.as_bytes()) {
        return Err(format!("invalid port {} after host", go_quote(port.as_bytes())));
    }
    let inside = &host[1..close];
    // RFC 6874: `%25` introduces a zone, which may escape more than a host may.
    let address = match inside.find("%25") {
        Some(zone) => {
            let mut address = unescape(&inside.as_bytes()[..zone], Mode::Host)?;
            address.extend(unescape(&inside.as_bytes()[zone..], Mode::Zone)?);
            address
        }
        None => unescape(inside.as_bytes(), Mode::Host)?,
    };
    // Only an IPv6 address may be in brackets (an IPv4-mapped one included).
    if parse_addr(&address)? {
        return Err("invalid IP-literal".to_owned());
    }
    let mut out = Vec::with_capacity(address.len() + port.len() + 2);
    out.push(b'[');
    out.extend(address);
    out.push(b']');
    out.extend(port.as_bytes());
    Ok(out)
}

/// Go's `netip.ParseAddr`, as far as `parseHost` needs it: whether the address is an IPv4
/// one, or why it is no address. A zone is only allowed on an IPv6 address.
fn parse_addr(address: &[u8]) -> Result<bool, String> {
    let fail = |why: &str| format!("invalid host: ParseAddr({}): {why}", go_quote(address));
    let text = std::str::from_utf8(address).map_err(|_| fail("unable to parse IP"))?;
    let (ip, zone) = match text.split_once('%') {
        Some((ip, zone)) => (ip, Some(zone)),
        None => (text, None),
    };
    if ip.parse::<Ipv6Addr>().is_ok() {
        return match zone {
            Some("") => Err(fail("zone must be a non-empty string")),
            _ => Ok(false),
        };
    }
    if zone.is_none() && ip.parse::<Ipv4Addr>().is_ok() {
        return Ok(true);
    }
    Err(fail("unable to parse IP"))
}

/// Go's `validOptionalPort`: nothing, or `:` and digits.
fn valid_optional_port(port: &[u8]) -> bool {
    match port.split_first() {
        None => true,
        Some((b':', digits)) => digits.iter().all(u8::is_ascii_digit),
        Some(_) => false,
    }
}

/// Go's `splitHostPort`, the host and the port of `host[:port]`.
fn split_host_port(host_port: &[u8]) -> (&[u8], &[u8]) {
    let mut host = host_port;
    let mut port: &[u8] = b"";
    if let Some(colon) = host.iter().rposition(|&b| b == b':')
        && valid_optional_port(&host[colon..])
    {
        port = &host[colon + 1..];
        host = &host[..colon];
    }
    if host.len() >= 2 && host.starts_with(b"[") && host.ends_with(b"]") {
        host = &host[1..host.len() - 1];
    }
    (host, port)
}

/// Go's `parseQuery`, keeping the first-seen order of the keys.
fn parse_query(query: &str) -> Vec<(Vec<u8>, Vec<Vec<u8>>)> {
    let mut out: Vec<(Vec<u8>, Vec<Vec<u8>>)> = Vec::new();
    // Go refuses to parse a query of more than 10000 parameters, and `Query` then is empty.
    if query.matches('&').count() + 1 > 10_000 {
        return out;
    }
    for pair in query.split('&') {
        if pair.is_empty() || pair.contains(';') {
            continue;
        }
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let (Ok(key), Ok(value)) =
            (unescape(key.as_bytes(), Mode::QueryComponent), unescape(value.as_bytes(), Mode::QueryComponent))
        else {
            continue;
        };
        match out.iter_mut().find(|(k, _)| *k == key) {
            Some((_, values)) => values.push(value),
            None => out.push((key, vec![value])),
        }
    }
    out
}

/// The parts of a URL Go escapes differently.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Path,
    Host,
    Zone,
    UserPassword,
    QueryComponent,
    Fragment,
}

/// Go's `shouldEscape`: whether `c` must be escaped in that part of a URL.
fn should_escape(c: u8, mode: Mode) -> bool {
    if c.is_ascii_alphanumeric() {
        return false;
    }
    if matches!(mode, Mode::Host | Mode::Zone)
        && matches!(
            c,
            b'!' | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'['
                | b']'
                | b'<'
                | b'>'
                | b'"'
        )
    {
        return false;
    }
    match c {
        b'-' | b'_' | b'.' | b'~' => return false,
        b'$' | b'&' | b'+' | b',' | b'/' | b':' | b';' | b'=' | b'?' | b'@' => match mode {
            Mode::Path => return c == b'?',
            Mode::UserPassword => return matches!(c, b'@' | b'/' | b'?' | b':'),
            Mode::QueryComponent => return true,
            Mode::Fragment => return false,
            Mode::Host | Mode::Zone => {}
        },
        _ => {}
    }
    !(mode == Mode::Fragment && matches!(c, b'!' | b'(' | b')' | b'*'))
}

/// Go's `validEncoded`: whether `s` only has characters a path may have unescaped.
fn valid_encoded(s: &[u8], mode: Mode) -> bool {
    s.iter().all(|&c| {
        matches!(
            c,
            b'!' | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'@'
                | b'['
                | b']'
                | b'%'
        ) || !should_escape(c, mode)
    })
}

fn unhex(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        b'A'..=b'F' => c - b'A' + 10,
        _ => 0,
    }
}

/// Go's `unescape`: `%XX` decoded, and `+` a space in a query. Fails on a malformed escape,
/// on an escaped ASCII byte in a host, and on a byte a host may not have.
fn unescape(s: &[u8], mode: Mode) -> Result<Vec<u8>, String> {
    let escape_error = |bad: &[u8]| format!("invalid URL escape {}", go_quote(bad));
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'%' => {
                if i + 2 >= s.len() || !s[i + 1].is_ascii_hexdigit() || !s[i + 2].is_ascii_hexdigit() {
                    let rest = &s[i..];
                    return Err(escape_error(&rest[..rest.len().min(3)]));
                }
                let escaped = &s[i..i + 3];
                // RFC 3986 only lets a host escape non-ASCII bytes, RFC 6874 adds `%25`.
                if mode == Mode::Host && unhex(s[i + 1]) < 8 && escaped != b"%25" {
                    return Err(escape_error(escaped));
                }
                if mode == Mode::Zone {
                    let v = (unhex(s[i + 1]) << 4) | unhex(s[i + 2]);
                    if escaped != b"%25" && v != b' ' && should_escape(v, Mode::Host) {
                        return Err(escape_error(escaped));
                    }
                }
                i += 3;
            }
            c => {
                if matches!(mode, Mode::Host | Mode::Zone) && c < 0x80 && should_escape(c, mode) {
                    return Err(format!("invalid character {} in host name", go_quote(&s[i..=i])));
                }
                i += 1;
            }
        }
    }
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'%' => {
                out.push((unhex(s[i + 1]) << 4) | unhex(s[i + 2]));
                i += 3;
            }
            b'+' if mode == Mode::QueryComponent => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(out)
}

/// Go's `escape`: the bytes that must be escaped in that part, as `%XX`.
fn escape(s: &[u8], mode: Mode) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len());
    for &c in s {
        if c == b' ' && mode == Mode::QueryComponent {
            out.push('+');
        } else if should_escape(c, mode) {
            out.push('%');
            out.push(char::from(HEX[usize::from(c >> 4)]));
            out.push(char::from(HEX[usize::from(c & 15)]));
        } else {
            // Only ASCII is left unescaped, so this is the character itself.
            out.push(char::from(c));
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// What Go 1.26 reports for these strings, recorded from `url.ParseRequestURI`, then
    /// `url.Parse`: scheme, host, hostname, port, escaped path.
    #[test]
    fn parses_as_go_does() {
        let cases: &[(&str, [&str; 5])] = &[
            (
                "https://user:pass@example.com:80/path?query=val#fragment",
                ["https", "example.com:80", "example.com", "80", "/path"],
            ),
            ("/absolute-path", ["", "", "", "", "/absolute-path"]),
            ("https://[::1]:80/", ["https", "[::1]:80", "::1", "80", "/"]),
            (
                "https://example.com/path with spaces/",
                ["https", "example.com", "example.com", "", "/path%20with%20spaces/"],
            ),
            ("https://example.com", ["https", "example.com", "example.com", "", ""]),
            ("*", ["", "", "", "", "*"]),
            ("http://[fe80::1%25en0]:8080/", ["http", "[fe80::1%en0]:8080", "fe80::1%en0", "8080", "/"]),
            ("http://x/%e2%82%ac", ["http", "x", "x", "", "/%e2%82%ac"]),
            ("http://x/a%2Fb", ["http", "x", "x", "", "/a%2Fb"]),
            ("http://x/a;b", ["http", "x", "x", "", "/a;b"]),
            ("mailto:foo@bar", ["mailto", "", "", "", ""]),
            ("//example.com/p", ["", "example.com", "example.com", "", "/p"]),
            ("http://us@er:p@ss@host/", ["http", "host", "host", "", "/"]),
            ("http://x:/", ["http", "x:", "x", "", "/"]),
            ("/p#a b", ["", "", "", "", "/p"]),
            ("http://[::ffff:1.2.3.4]/", ["http", "[::ffff:1.2.3.4]", "::ffff:1.2.3.4", "", "/"]),
            ("http://é.com/ü", ["http", "é.com", "é.com", "", "/%C3%BC"]),
            ("HTTP://EXAMPLE.com/", ["http", "EXAMPLE.com", "EXAMPLE.com", "", "/"]),
        ];
        for (raw, [scheme, host, hostname, port, path]) in cases {
            parse_request_uri(raw).unwrap();
            let url = parse(raw).unwrap();
            let lossy = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
            assert_eq!(url.scheme, *scheme, "{raw}");
            assert_eq!(lossy(&url.host), *host, "{raw}");
            assert_eq!(lossy(url.hostname()), *hostname, "{raw}");
            assert_eq!(lossy(url.port()), *port, "{raw}");
            assert_eq!(url.escaped_path(), *path, "{raw}");
        }
    }

    #[test]
    fn rejects_as_go_does() {
        let cases: &[(&str, &str)] = &[
            ("https://a:b:c/", r#"parse "https://a:b:c/": invalid port ":b:c" after host"#),
            ("ftp://a:b:c/", r#"parse "ftp://a:b:c/": invalid port ":c" after host"#),
            ("../relative-path", r#"parse "../relative-path": invalid URI for request"#),
            ("", r#"parse "": empty url"#),
            ("http://a b.com/", r#"parse "http://a b.com/": invalid character " " in host name"#),
            ("http://[1.2.3.4]/", r#"parse "http://[1.2.3.4]/": invalid IP-literal"#),
            ("http://[zz]/", r#"parse "http://[zz]/": invalid host: ParseAddr("zz"): unable to parse IP"#),
            ("http://x/%zz", r#"parse "http://x/%zz": invalid URL escape "%zz""#),
            ("http://%41/", r#"parse "http://%41/": invalid URL escape "%41""#),
            ("http://x/\u{1}", r#"parse "http://x/\x01": net/url: invalid control character in URL"#),
            ("http://us er@host/", r#"parse "http://us er@host/": net/url: invalid userinfo"#),
            ("1http://x", r#"parse "1http://x": invalid URI for request"#),
            (":foo", r#"parse ":foo": missing protocol scheme"#),
            ("http://[::1", r#"parse "http://[::1": missing ']' in host"#),
            ("http://a[b]/", r#"parse "http://a[b]/": invalid IP-literal"#),
            ("http://x/p#f%zz", r#"parse "http://x/p#f%zz": invalid URL escape "%zz""#),
            (
                "http://[fe80::1%25]/",
                r#"parse "http://[fe80::1%25]/": invalid host: ParseAddr("fe80::1%"): zone must be a non-empty string"#,
            ),
            ("http://[fe80::1%en0]/", r#"parse "http://[fe80::1%en0]/": invalid URL escape "%en""#),
        ];
        for (raw, want) in cases {
            let err = parse_request_uri(raw).unwrap_err();
            assert_eq!(err.to_string(), *want, "{raw}");
        }
    }

    #[test]
    fn query_as_go_does() {
        let url = parse("http://x/?a=1;b=2&c=%zz&d=%20+x&=&e&d=2").unwrap();
        let query: Vec<(String, Vec<String>)> = url
            .query()
            .into_iter()
            .map(|(k, v)| {
                (String::from_utf8(k).unwrap(), v.into_iter().map(|v| String::from_utf8(v).unwrap()).collect())
            })
            .collect();
        let want: Vec<(String, Vec<String>)> = vec![
            ("d".into(), vec!["  x".into(), "2".into()]),
            ("".into(), vec!["".into()]),
            ("e".into(), vec!["".into()]),
        ];
        assert_eq!(query, want);
    }
}
