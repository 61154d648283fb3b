//! Kubernetes' URL library (`k8s.io/apiserver/pkg/cel/library/urls.go`): `url(string)`,
//! `isURL(string)`, and the accessors `getScheme()`, `getHost()`, `getHostname()`,
//! `getPort()`, `getEscapedPath()` and `getQuery()` of the `kubernetes.URL` it returns.
//!
//! A URL must be an absolute URI or an absolute path, as Go's `url.ParseRequestURI` has it;
//! the parser is a port of Go's (see [`go`]), so the same strings are accepted, and the parts
//! are the same.

mod go;

use std::collections::HashMap;
use std::sync::LazyLock;

use cel::common::types::{CelBool, CelList, CelMap, CelMapKey, CelString, STRING_TYPE, Type};
use cel::common::value::{CowVal, Val};
use cel::{DeclarationError, Env, ExecutionError};

pub(crate) use go::{UrlError, parse_request_uri};

use crate::support::{arg, take_args};

/// `kubernetes.URL`, the type of what `url()` returns.
static URL_TYPE: LazyLock<Type> = LazyLock::new(|| Type::new_opaque_type("kubernetes.URL"));

/// A `kubernetes.URL` value: a URL as Go's `url.Parse` takes it apart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Url(go::GoUrl);

// Two URLs are equal when all their parts are, as Kubernetes compares their string forms.
crate::support::opaque_val!(Url, URL_TYPE, |this, other| other == this);

pub(crate) fn register(env: &mut Env) -> Result<(), DeclarationError> {
    env.add_type(URL_TYPE.to_owned())?;
    env.add_overload("url", "string_to_url", vec![STRING_TYPE], string_to_url)?;
    env.add_overload("isURL", "is_url_string", vec![STRING_TYPE], is_url)?;
    let accessors: [(&str, &str, cel::common::functions::Function); 6] = [
        ("getScheme", "url_get_scheme", get_scheme),
        ("getHost", "url_get_host", get_host),
        ("getHostname", "url_get_hostname", get_hostname),
        ("getPort", "url_get_port", get_port),
        ("getEscapedPath", "url_get_escaped_path", get_escaped_path),
        ("getQuery", "url_get_query", get_query),
    ];
    for (name, id, function) in accessors {
        env.add_member_overload(name, id, URL_TYPE.to_owned(), vec![], function)?;
    }
    Ok(())
}

/// `url('https://example.com/path')`.
fn string_to_url<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let [s] = take_args(args)?;
    let s = arg::<CelString>(s.as_ref())?.inner();
    let conversion_error = |err: UrlError| {
        ExecutionError::function_error("url", format!("URL parse error during conversion from string: {err}"))
    };
    // Kubernetes checks with ParseRequestURI, which takes a `#` as part of the path or query,
    // then keeps what Parse makes of the string, which splits the fragment off.
    go::parse_request_uri(s).map_err(conversion_error)?;
    let url = go::parse(s).map_err(conversion_error)?;
    Ok(CowVal::owned(Url(url)))
}

/// `isURL('/absolute-path')`: whether `url()` accepts the string.
fn is_url<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let [s] = take_args(args)?;
    let s = arg::<CelString>(s.as_ref())?.inner();
    Ok(CowVal::owned(CelBool::from(go::parse_request_uri(s).is_ok())))
}

/// The URL a URL accessor is called on.
fn receiver<'a>(args: &'a [CowVal<'_, '_>]) -> Result<&'a go::GoUrl, ExecutionError> {
    match args {
        [url] => Ok(&arg::<Url>(url.as_ref())?.0),
        _ => Err(ExecutionError::invalid_argument_count(1, args.len())),
    }
}

fn string<'b, 'v>(s: String) -> Result<CowVal<'b, 'v>, ExecutionError> {
    Ok(CowVal::owned(CelString::from(s)))
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `url('https://example.com/').getScheme()`: `https`, or `''` for a path.
fn get_scheme<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    string(receiver(&args)?.scheme.clone())
}

/// `url('https://[::1]:80/').getHost()`: `[::1]:80`, the port and IPv6 brackets kept.
fn get_host<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    string(lossy(&receiver(&args)?.host))
}

/// `url('https://[::1]:80/').getHostname()`: `::1`, without port or brackets.
fn get_hostname<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    string(lossy(receiver(&args)?.hostname()))
}

/// `url('https://example.com:80/').getPort()`: `80`, or `''`.
fn get_port<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    string(lossy(receiver(&args)?.port()))
}

/// `url('https://example.com/path with spaces/').getEscapedPath()`: `/path%20with%20spaces/`.
fn get_escaped_path<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    string(receiver(&args)?.escaped_path())
}

/// `url('https://example.com/path?k1=a&k2=b&k2=c').getQuery()`:
/// `{'k1': ['a'], 'k2': ['b', 'c']}`, keys and values unescaped.
fn get_query<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let query = receiver(&args)?.query();
    let mut map: HashMap<CelMapKey<'v>, Box<dyn Val + 'v>> = HashMap::with_capacity(query.len());
    for (key, values) in query {
        let values: Vec<Box<dyn Val + 'v>> =
            values.iter().map(|v| Box::new(CelString::from(lossy(v))) as Box<dyn Val + 'v>).collect();
        map.insert(CelMapKey::from(lossy(&key)), Box::new(CelList::from(values)));
    }
    Ok(CowVal::owned(CelMap::from(map)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use crate::test_support::{assert_values, eval};
    use cel::Value;
    use std::collections::HashMap;

    #[test]
    fn kubernetes_examples() {
        // From the doc comment of k8s.io/apiserver/pkg/cel/library/urls.go.
        let cases: &[(&str, Value)] = &[
            ("isURL('https://user:pass@example.com:80/path?query=val#fragment')", true.into()),
            ("isURL('/absolute-path')", true.into()),
            ("isURL('https://a:b:c/')", false.into()),
            ("isURL('../relative-path')", false.into()),
            ("url('/path').getScheme()", "".into()),
            ("url('https://example.com/').getScheme()", "https".into()),
            ("url('https://example.com:80/').getHost()", "example.com:80".into()),
            ("url('https://example.com/').getHost()", "example.com".into()),
            ("url('https://[::1]:80/').getHost()", "[::1]:80".into()),
            ("url('https://[::1]/').getHost()", "[::1]".into()),
            ("url('/path').getHost()", "".into()),
            ("url('https://example.com:80/').getHostname()", "example.com".into()),
            ("url('https://127.0.0.1:80/').getHostname()", "127.0.0.1".into()),
            ("url('https://[::1]:80/').getHostname()", "::1".into()),
            ("url('/path').getHostname()", "".into()),
            ("url('https://example.com:80/').getPort()", "80".into()),
            ("url('https://example.com/').getPort()", "".into()),
            ("url('/path').getPort()", "".into()),
            ("url('https://example.com/path').getEscapedPath()", "/path".into()),
            ("url('https://example.com/path with spaces/').getEscapedPath()", "/path%20with%20spaces/".into()),
            ("url('https://example.com').getEscapedPath()", "".into()),
            (
                "url('https://example.com/path?k1=a&k2=b&k2=c').getQuery() \
                 == {'k1': ['a'], 'k2': ['b', 'c']}",
                true.into(),
            ),
            (
                "url('https://example.com/path?key with spaces=value with spaces').getQuery() \
                 == {'key with spaces': ['value with spaces']}",
                true.into(),
            ),
            ("url('https://example.com/path?').getQuery() == {}", true.into()),
            ("url('https://example.com/path').getQuery() == {}", true.into()),
        ];
        assert_values(cases);
    }

    #[test]
    fn more() {
        let cases: &[(&str, Value)] = &[
            ("url('https://example.com/a') == url('https://example.com/a')", true.into()),
            ("url('https://example.com/a') == url('https://example.com/b')", false.into()),
            ("url('HTTPS://example.com/a') == url('https://example.com/a')", true.into()),
            ("url('https://example.com/a') != url('/a')", true.into()),
            ("type(url('/a')) == kubernetes.URL", true.into()),
            // The fragment is not part of the query, as url.Parse splits it off.
            ("url('/p?a=1#frag').getQuery() == {'a': ['1']}", true.into()),
            ("url('/p?a=%41+b').getQuery()['a'][0]", "A b".into()),
            ("url('http://[fe80::1%25en0]:8080/').getHostname()", "fe80::1%en0".into()),
            ("url('http://x/a%2Fb').getEscapedPath()", "/a%2Fb".into()),
            ("isURL('')", false.into()),
            ("isURL('*')", true.into()),
            ("isURL('mailto:someone@example.com')", true.into()),
            ("isURL('http://[1.2.3.4]/')", false.into()),
        ];
        assert_values(cases);
        let query = eval("url('/p?b=2&a=1&b=3').getQuery()").unwrap();
        let want: HashMap<String, Vec<&str>> =
            HashMap::from([("a".to_owned(), vec!["1"]), ("b".to_owned(), vec!["2", "3"])]);
        assert_eq!(query, want.into());
    }

    #[test]
    fn errors() {
        for (src, want) in [
            (
                "url('https://a:b:c/')",
                r#"URL parse error during conversion from string: parse "https://a:b:c/": invalid port ":b:c" after host"#,
            ),
            (
                "url('../relative-path')",
                r#"URL parse error during conversion from string: parse "../relative-path": invalid URI for request"#,
            ),
        ] {
            let err = eval(src).unwrap_err();
            assert!(err.contains(want), "{src}: {err}");
        }
        assert!(eval("url('/a').getScheme('x')").is_err());
        assert!(eval("'https://a'.getScheme()").is_err());
    }
}
