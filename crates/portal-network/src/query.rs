//! The ends of a question as an operator types them: `shop/web-1`, `web-1` (in the default
//! namespace), `10.0.0.0/8`, and a destination port `:8080`, `:53/UDP`, `:http`; an IPv6
//! address with a port in brackets, `[2001:db8::1]:443`.

use crate::address::Cidr;
use crate::model::Protocol;
use crate::traffic::{Endpoint, PortQuery, PortValue};

/// Why a text cannot be read as one end of a question ([`parse_endpoint`]); its message says what to write.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{text:?}: {problem}; write NAMESPACE/POD, POD, an address or a CIDR, then optionally :PORT or :PORT/PROTOCOL (e.g. shop/web-1:8080, 10.0.0.0/8:53/UDP, [2001:db8::1]:443)"
)]
pub struct QueryError {
    text: String,
    problem: String,
}

/// Reads one end, with its port when `with_port`; Pods without a namespace are in `namespace`.
pub fn parse_endpoint(
    text: &str,
    namespace: &str,
    with_port: bool,
) -> Result<(Endpoint, Option<PortQuery>), QueryError> {
    let error = |problem: &str| QueryError { text: text.to_owned(), problem: problem.to_owned() };
    let (end, port) = if let Some(rest) = text.strip_prefix('[') {
        let (address, after) = rest.split_once(']').ok_or_else(|| error("an opening '[' without ']'"))?;
        let port = match after.strip_prefix(':') {
            Some(port) => Some(port),
            None if after.is_empty() => None,
            None => return Err(error("only :PORT may follow ']'")),
        };
        (address, port)
    } else if text.parse::<Cidr>().is_ok() {
        (text, None)
    } else {
        match text.rsplit_once(':') {
            Some((end, port)) => (end, Some(port)),
            None => (text, None),
        }
    };
    if port.is_some() && !with_port {
        return Err(error("a port belongs on the destination (--to), not here"));
    }
    let endpoint = match end.parse::<Cidr>() {
        Ok(cidr) => Endpoint::Address(cidr),
        Err(_) if end.chars().next().is_some_and(|c| c.is_ascii_digit()) && end.contains(['.', ':']) => {
            return Err(error("not a valid address or CIDR"));
        }
        Err(_) => {
            let (pod_namespace, name) = end.split_once('/').unwrap_or((namespace, end));
            if pod_namespace.is_empty() || name.is_empty() || name.contains('/') {
                return Err(error("not a Pod reference"));
            }
            Endpoint::Pod { namespace: pod_namespace.to_owned(), name: name.to_owned() }
        }
    };
    let port = port.map(|port| parse_port(port).map_err(|problem| error(&problem))).transpose()?;
    Ok((endpoint, port))
}

fn parse_port(text: &str) -> Result<PortQuery, String> {
    let (port, protocol) = match text.split_once('/') {
        Some((port, protocol)) => (
            port,
            Protocol::parse(protocol).ok_or_else(|| format!("unknown protocol {protocol:?}; use TCP, UDP or SCTP"))?,
        ),
        None => (text, Protocol::Tcp),
    };
    if port.is_empty() {
        return Err("an empty port".to_owned());
    }
    let port = match port.parse::<u32>() {
        Ok(number) => PortValue::Number(
            u16::try_from(number)
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("port {number} is outside 1 to 65535"))?,
        ),
        Err(_) => PortValue::Name(port.to_owned()),
    };
    Ok(PortQuery { port, protocol })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(namespace: &str, name: &str) -> Endpoint {
        Endpoint::Pod { namespace: namespace.to_owned(), name: name.to_owned() }
    }

    fn port(port: PortValue, protocol: Protocol) -> Option<PortQuery> {
        Some(PortQuery { port, protocol })
    }

    #[test]
    fn ends_as_operators_write_them() {
        let address = |text: &str| Endpoint::Address(text.parse().unwrap_or_else(|e| panic!("{e}")));
        let cases = [
            ("shop/web-1", (pod("shop", "web-1"), None)),
            ("web-1", (pod("default", "web-1"), None)),
            ("shop/web-1:8080", (pod("shop", "web-1"), port(PortValue::Number(8080), Protocol::Tcp))),
            ("shop/dns:53/UDP", (pod("shop", "dns"), port(PortValue::Number(53), Protocol::Udp))),
            ("shop/web-1:http", (pod("shop", "web-1"), port(PortValue::Name("http".into()), Protocol::Tcp))),
            ("10.0.0.0/8", (address("10.0.0.0/8"), None)),
            ("10.0.0.0/8:53/UDP", (address("10.0.0.0/8"), port(PortValue::Number(53), Protocol::Udp))),
            ("203.0.113.9:443", (address("203.0.113.9"), port(PortValue::Number(443), Protocol::Tcp))),
            ("2001:db8::1", (address("2001:db8::1"), None)),
            ("[2001:db8::1]:443", (address("2001:db8::1"), port(PortValue::Number(443), Protocol::Tcp))),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_endpoint(text, "default", true), Ok(expected), "{text}");
        }
    }

    #[test]
    fn mistakes_say_what_to_write() {
        for (text, with_port, says) in [
            ("shop/web:0", true, "outside 1 to 65535"),
            ("shop/web:80/ICMP", true, "unknown protocol"),
            ("shop/web:80", false, "belongs on the destination"),
            ("10.0.0/8", true, "not a valid address"),
            ("a/b/c", true, "not a Pod reference"),
            ("[2001:db8::1", true, "without ']'"),
        ] {
            let error = parse_endpoint(text, "default", with_port).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(error.contains(says) && error.contains("write NAMESPACE/POD"), "{text}: {error}");
        }
    }
}
