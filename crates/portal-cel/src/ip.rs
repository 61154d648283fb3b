//! Kubernetes' CEL IP and CIDR libraries (k8s.io/apiserver/pkg/cel/library/ip.go and cidr.go).
//!
//! - `ip(string)` → `net.IP`, `isIP(string)`, `ip.isCanonical(string)`, `string(ip)`; members
//!   `family()`, `isUnspecified()`, `isLoopback()`, `isLinkLocalMulticast()`,
//!   `isLinkLocalUnicast()`, `isGlobalUnicast()`;
//! - `cidr(string)` → `net.CIDR`, `isCIDR(string)`, `string(cidr)`; members
//!   `containsIP(ip|string)`, `containsCIDR(cidr|string)`, `ip()`, `masked()`, `prefixLength()`;
//! - `==` on both types.
//!
//! Parsing is Go's `net/netip` (see [`netip`]) with Kubernetes' extra rejections: zones
//! (`fe80::1%eth0`) and IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`). Go itself already refuses
//! leading zeros in IPv4 octets.

mod netip;

use cel::common::types::{CelBool, CelInt, CelString, Kind, Type};
use cel::{DeclarationError, Env, ExecutionError};
use netip::{Addr, Prefix, go_quote, parse_addr, parse_prefix};

/// `net.IP`, Kubernetes' name for the type, so that `type(ip('::1')) == net.IP`.
static IP_TYPE: Type = Type::simple_type(Kind::Opaque, "net.IP");

/// `net.CIDR`, Kubernetes' name for the type.
static CIDR_TYPE: Type = Type::simple_type(Kind::Opaque, "net.CIDR");

/// An IP address as a CEL value.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ip(Addr);

/// An IP prefix as a CEL value. It keeps the address as written, so `cidr('10.0.0.1/8')` and
/// `cidr('10.0.0.0/8')` differ until `masked()`, as in Kubernetes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Cidr(Prefix);

crate::support::opaque_val!(Ip, IP_TYPE, |this, other| other.0 == this.0);

crate::support::opaque_val!(Cidr, CIDR_TYPE, |this, other| other.0 == this.0);

/// Registers the IP and CIDR libraries on `env`, with Kubernetes' function names and overload
/// ids.
pub(crate) fn register(env: &mut Env) -> Result<(), DeclarationError> {
    env.add_type(IP_TYPE.to_owned())?;
    env.add_type(CIDR_TYPE.to_owned())?;

    cel::add_overload!(env, fn ip: (CelString) -> Result<Ip>, id = "string_to_ip")?;
    cel::add_overload!(env, fn is_ip: (CelString) -> CelBool, name = "isIP", id = "is_ip")?;
    cel::add_overload!(env, fn ip_is_canonical: (CelString) -> Result<CelBool>,
        name = "ip.isCanonical", id = "ip_is_canonical")?;
    cel::add_overload!(env, fn ip_to_string: (Ip) -> CelString,
        name = "string", id = "ip_to_string")?;
    cel::add_member_overload!(env, fn family: (Ip) -> CelInt, id = "ip_family")?;
    cel::add_member_overload!(env, fn is_unspecified: (Ip) -> CelBool,
        id = "ip_is_unspecified")?;
    cel::add_member_overload!(env, fn is_loopback: (Ip) -> CelBool, id = "ip_is_loopback")?;
    cel::add_member_overload!(env, fn is_link_local_multicast: (Ip) -> CelBool,
        id = "ip_is_link_local_multicast")?;
    cel::add_member_overload!(env, fn is_link_local_unicast: (Ip) -> CelBool,
        id = "ip_is_link_local_unicast")?;
    cel::add_member_overload!(env, fn is_global_unicast: (Ip) -> CelBool,
        id = "ip_is_global_unicast")?;

    cel::add_overload!(env, fn cidr: (CelString) -> Result<Cidr>, id = "string_to_cidr")?;
    cel::add_overload!(env, fn is_cidr: (CelString) -> CelBool,
        name = "isCIDR", id = "is_cidr")?;
    cel::add_overload!(env, fn cidr_to_string: (Cidr) -> CelString,
        name = "string", id = "cidr_to_string")?;
    cel::add_member_overload!(env, fn contains_ip_string: (Cidr, CelString) -> Result<CelBool>,
        name = "containsIP", id = "cidr_contains_ip_string")?;
    cel::add_member_overload!(env, fn contains_ip: (Cidr, Ip) -> CelBool,
        name = "containsIP", id = "cidr_contains_ip_ip")?;
    cel::add_member_overload!(env, fn contains_cidr_string: (Cidr, CelString) -> Result<CelBool>,
        name = "containsCIDR", id = "cidr_contains_cidr_string")?;
    cel::add_member_overload!(env, fn contains_cidr: (Cidr, Cidr) -> CelBool,
        name = "containsCIDR", id = "cidr_contains_cidr")?;
    cel::add_member_overload!(env, fn cidr_ip: (Cidr) -> Ip, name = "ip", id = "cidr_ip")?;
    cel::add_member_overload!(env, fn prefix_length: (Cidr) -> CelInt,
        id = "cidr_prefix_length")?;
    cel::add_member_overload!(env, fn masked: (Cidr) -> Cidr, id = "cidr_masked")?;
    Ok(())
}

/// Kubernetes' `parseIPAddr`: `netip.ParseAddr`, then no zone and no IPv4-mapped IPv6 address.
/// The error is Kubernetes' message.
fn parse_ip(s: &str) -> Result<Addr, String> {
    match parse_addr(s) {
        Err(e) => Err(format!("IP Address {} parse error during conversion from string: {e}", go_quote(s))),
        Ok((_, Some(_zone))) => Err(format!("IP address {} with zone value is not allowed", go_quote(s))),
        Ok((addr, None)) if addr.is_4in6() => Err(format!("IPv4-mapped IPv6 address {} is not allowed", go_quote(s))),
        Ok((addr, None)) => Ok(addr),
    }
}

/// Kubernetes' `parseCIDR` as `cidr()` reports it. Kubernetes wraps a parse error in the same
/// sentence twice (once in `parseCIDR`, once in `cidr()`); the message is kept word for word.
fn parse_cidr(s: &str) -> Result<Prefix, String> {
    const CONTEXT: &str = "network address parse error during conversion from string";
    let inner = match parse_prefix(s) {
        Err(e) => format!("{CONTEXT}: {e}"),
        Ok(prefix) if prefix.addr().is_4in6() => {
            format!("IPv4-mapped IPv6 address {} is not allowed", go_quote(s))
        }
        Ok(prefix) => return Ok(prefix),
    };
    Err(format!("{CONTEXT}: {inner}"))
}

fn ip(s: &CelString<'_>) -> Result<Ip, ExecutionError> {
    parse_ip(s.inner()).map(Ip).map_err(|e| ExecutionError::function_error("ip", e))
}

fn is_ip(s: &CelString<'_>) -> CelBool {
    CelBool::from(parse_ip(s.inner()).is_ok())
}

/// `ip.isCanonical(string)`: whether the string is how Go prints the address (lower-case hex,
/// shortest form); an invalid address is an error, not `false`.
fn ip_is_canonical(s: &CelString<'_>) -> Result<CelBool, ExecutionError> {
    let addr = parse_ip(s.inner()).map_err(|e| ExecutionError::function_error("ip.isCanonical", e))?;
    Ok(CelBool::from(addr.to_string() == s.inner()))
}

fn ip_to_string(ip: &Ip) -> CelString<'static> {
    CelString::from(ip.0.to_string())
}

fn family(ip: &Ip) -> CelInt {
    CelInt::from(ip.0.family())
}

fn is_unspecified(ip: &Ip) -> CelBool {
    CelBool::from(ip.0.is_unspecified())
}

fn is_loopback(ip: &Ip) -> CelBool {
    CelBool::from(ip.0.is_loopback())
}

fn is_link_local_multicast(ip: &Ip) -> CelBool {
    CelBool::from(ip.0.is_link_local_multicast())
}

fn is_link_local_unicast(ip: &Ip) -> CelBool {
    CelBool::from(ip.0.is_link_local_unicast())
}

fn is_global_unicast(ip: &Ip) -> CelBool {
    CelBool::from(ip.0.is_global_unicast())
}

fn cidr(s: &CelString<'_>) -> Result<Cidr, ExecutionError> {
    parse_cidr(s.inner()).map(Cidr).map_err(|e| ExecutionError::function_error("cidr", e))
}

fn is_cidr(s: &CelString<'_>) -> CelBool {
    CelBool::from(parse_cidr(s.inner()).is_ok())
}

fn cidr_to_string(cidr: &Cidr) -> CelString<'static> {
    CelString::from(cidr.0.to_string())
}

fn contains_ip(cidr: &Cidr, ip: &Ip) -> CelBool {
    CelBool::from(cidr.0.contains(&ip.0))
}

/// `containsIP(string)`: an invalid address is an error (Kubernetes reports "no such overload";
/// the parse error says more).
fn contains_ip_string(cidr: &Cidr, s: &CelString<'_>) -> Result<CelBool, ExecutionError> {
    let addr = parse_ip(s.inner()).map_err(|e| ExecutionError::function_error("containsIP", e))?;
    Ok(CelBool::from(cidr.0.contains(&addr)))
}

/// Kubernetes' rule: the other prefix is at least as long and the two overlap, so every address
/// of `other` is in `cidr`. Host bits of either are ignored.
fn contains_cidr(cidr: &Cidr, other: &Cidr) -> CelBool {
    CelBool::from(cidr.0.overlaps(&other.0) && cidr.0.bits() <= other.0.bits())
}

fn contains_cidr_string(cidr: &Cidr, s: &CelString<'_>) -> Result<CelBool, ExecutionError> {
    let other = parse_cidr(s.inner()).map_err(|e| ExecutionError::function_error("containsCIDR", e))?;
    Ok(contains_cidr(cidr, &Cidr(other)))
}

/// `cidr.ip()`: the address as written in the CIDR, host bits included.
fn cidr_ip(cidr: &Cidr) -> Ip {
    Ip(cidr.0.addr())
}

fn prefix_length(cidr: &Cidr) -> CelInt {
    CelInt::from(i64::from(cidr.0.bits()))
}

fn masked(cidr: &Cidr) -> Cidr {
    Cidr(cidr.0.masked())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use crate::test_support::Expect::{self, *};
    use crate::test_support::check;

    /// The examples of ip.go's and cidr.go's documentation and the cases of their tests
    /// (ip_test.go, cidr_test.go), plus the rejections the documentation promises.
    const IP_CASES: &[(&str, Expect)] = &[
        ("string(ip('127.0.0.1'))", Str("127.0.0.1")),
        ("string(ip('::1'))", Str("::1")),
        ("string(ip('192.168.0.1'))", Str("192.168.0.1")),
        ("string(ip('2001:DB8::0:0:68'))", Str("2001:db8::68")),
        (
            "ip('127.0.0.256')",
            Fails(
                "IP Address \"127.0.0.256\" parse error during conversion from string: \
                 ParseAddr(\"127.0.0.256\"): IPv4 field has value >255",
            ),
        ),
        ("ip(':::1')", Fails("each colon-separated field must have at least one digit")),
        (
            "ip('192.168.0.1.0')",
            Fails(
                "IP Address \"192.168.0.1.0\" parse error during conversion from string: \
                 ParseAddr(\"192.168.0.1.0\"): IPv4 address too long",
            ),
        ),
        (
            "ip('2001:db8:::68')",
            Fails(
                "IP Address \"2001:db8:::68\" parse error during conversion from string: \
                 ParseAddr(\"2001:db8:::68\"): each colon-separated field must have at least \
                 one digit (at \":68\")",
            ),
        ),
        ("ip('::ffff:1.2.3.4')", Fails("IPv4-mapped IPv6 address \"::ffff:1.2.3.4\" is not allowed")),
        ("ip('::ffff:0102:0304')", Fails("IPv4-mapped IPv6 address \"::ffff:0102:0304\" is not allowed")),
        ("ip('fe80::1%eth0')", Fails("IP address \"fe80::1%eth0\" with zone value is not allowed")),
        ("ip('01.2.3.4')", Fails("IPv4 field has octet with leading zero")),
        ("ip(' 1.2.3.4')", Fails("unexpected character")),
        ("ip(1)", Fails("")),
        ("isIP('127.0.0.1')", Bool(true)),
        ("isIP('::1')", Bool(true)),
        ("isIP('127.0.0.256')", Bool(false)),
        ("isIP(':::1')", Bool(false)),
        ("isIP('192.168.0.1')", Bool(true)),
        ("isIP('192.168.0.1.0')", Bool(false)),
        ("isIP('2001:db8::68')", Bool(true)),
        ("isIP('2001:db8:::68')", Bool(false)),
        ("isIP('::ffff:1.2.3.4')", Bool(false)),
        ("isIP('fe80::1%eth0')", Bool(false)),
        ("isIP('010.1.1.1')", Bool(false)),
        ("isIP('::1.2.3.4')", Bool(true)),
        ("isIP('')", Bool(false)),
        ("isIP('192.168.0.0/24')", Bool(false)),
        ("ip.isCanonical('127.0.0.1')", Bool(true)),
        ("ip.isCanonical('2001:db8::abcd')", Bool(true)),
        ("ip.isCanonical('2001:DB8::ABCD')", Bool(false)),
        ("ip.isCanonical('2001:db8::0:0:0:abcd')", Bool(false)),
        ("ip.isCanonical('2001:db8::68')", Bool(true)),
        ("ip.isCanonical('2001:DB8::68')", Bool(false)),
        ("ip.isCanonical('2001:db8:0:0:1:0:0:1')", Bool(false)),
        ("ip.isCanonical('2001:db8::1:0:0:1')", Bool(true)),
        (
            "ip.isCanonical('127.0.0.1.0')",
            Fails(
                "IP Address \"127.0.0.1.0\" parse error during conversion from string: \
                 ParseAddr(\"127.0.0.1.0\"): IPv4 address too long",
            ),
        ),
        ("ip('127.0.0.1').family()", Int(4)),
        ("ip('::1').family()", Int(6)),
        ("ip('127.0.0.1').family() == 4", Bool(true)),
        ("ip('::1').family() == 6", Bool(true)),
        ("ip('192.168.0.1').family()", Int(4)),
        ("ip('2001:db8::68').family()", Int(6)),
        ("ip('0.0.0.0').isUnspecified()", Bool(true)),
        ("ip('127.0.0.1').isUnspecified()", Bool(false)),
        ("ip('::').isUnspecified()", Bool(true)),
        ("ip('::1').isUnspecified()", Bool(false)),
        ("ip('127.0.0.1').isLoopback()", Bool(true)),
        ("ip('127.255.0.9').isLoopback()", Bool(true)),
        ("ip('192.168.0.1').isLoopback()", Bool(false)),
        ("ip('1.2.3.4').isLoopback()", Bool(false)),
        ("ip('::1').isLoopback()", Bool(true)),
        ("ip('2001:db8::abcd').isLoopback()", Bool(false)),
        ("ip('224.0.0.1').isLinkLocalMulticast()", Bool(true)),
        ("ip('224.0.1.1').isLinkLocalMulticast()", Bool(false)),
        ("ip('ff02::1').isLinkLocalMulticast()", Bool(true)),
        ("ip('fd00::1').isLinkLocalMulticast()", Bool(false)),
        ("ip('169.254.169.254').isLinkLocalUnicast()", Bool(true)),
        ("ip('192.168.0.1').isLinkLocalUnicast()", Bool(false)),
        ("ip('fe80::1').isLinkLocalUnicast()", Bool(true)),
        ("ip('fd80::1').isLinkLocalUnicast()", Bool(false)),
        ("ip('192.168.0.1').isGlobalUnicast()", Bool(true)),
        ("ip('255.255.255.255').isGlobalUnicast()", Bool(false)),
        ("ip('0.0.0.0').isGlobalUnicast()", Bool(false)),
        ("ip('224.0.0.1').isGlobalUnicast()", Bool(false)),
        ("ip('2001:db8::abcd').isGlobalUnicast()", Bool(true)),
        ("ip('ff00::1').isGlobalUnicast()", Bool(false)),
        ("ip('fe80::1').isGlobalUnicast()", Bool(false)),
        ("ip('fd00::1').isGlobalUnicast()", Bool(true)),
        ("ip('192.168.0.1') == ip('192.168.0.1')", Bool(true)),
        ("ip('192.168.0.1') == ip('192.168.0.2')", Bool(false)),
        ("ip('2001:db8::68') == ip('2001:DB8:0::68')", Bool(true)),
        ("ip('::1') != ip('127.0.0.1')", Bool(true)),
        ("ip('::1.2.3.4') == ip('1.2.3.4')", Bool(false)),
        ("ip('1.2.3.4') == '1.2.3.4'", Bool(false)),
        ("type(ip('192.168.0.1')) == net.IP", Bool(true)),
        ("type(ip('192.168.0.1')) == net.CIDR", Bool(false)),
        ("isIP(cidr('192.168.0.0/24'))", Fails("")),
    ];

    const CIDR_CASES: &[(&str, Expect)] = &[
        ("string(cidr('192.168.0.0/24'))", Str("192.168.0.0/24")),
        ("string(cidr('192.168.0.1/24'))", Str("192.168.0.1/24")),
        ("string(cidr('2001:DB8::/32'))", Str("2001:db8::/32")),
        ("string(cidr('::1/128'))", Str("::1/128")),
        ("cidr('192.168.0.0/16') == cidr('192.168.0.0/16')", Bool(true)),
        ("cidr('192.168.0.0/33')", Fails("prefix length out of range")),
        ("cidr('::1/129')", Fails("prefix length out of range")),
        (
            "cidr('192.168.0.0/')",
            Fails(
                "network address parse error during conversion from string: network address \
                 parse error during conversion from string: \
                 netip.ParsePrefix(\"192.168.0.0/\"): bad bits after slash: \"\"",
            ),
        ),
        (
            "cidr('2001:db8::/')",
            Fails(
                "network address parse error during conversion from string: network address \
                 parse error during conversion from string: \
                 netip.ParsePrefix(\"2001:db8::/\"): bad bits after slash: \"\"",
            ),
        ),
        (
            "cidr('::ffff:1.2.3.4/120')",
            Fails(
                "network address parse error during conversion from string: \
                 IPv4-mapped IPv6 address \"::ffff:1.2.3.4/120\" is not allowed",
            ),
        ),
        ("cidr('fe80::1%eth0/64')", Fails("IPv6 zones cannot be present in a prefix")),
        ("cidr('010.0.0.0/8')", Fails("IPv4 field has octet with leading zero")),
        ("cidr('10.0.0.0/08')", Fails("bad bits after slash: \"08\"")),
        ("cidr('10.0.0.0')", Fails("no '/'")),
        ("isCIDR('192.168.0.0/16')", Bool(true)),
        ("isCIDR('::1/128')", Bool(true)),
        ("isCIDR('192.168.0.0/33')", Bool(false)),
        ("isCIDR('::1/129')", Bool(false)),
        ("isCIDR('192.168.0.1/16')", Bool(true)),
        ("isCIDR('::ffff:1.2.3.4/120')", Bool(false)),
        ("isCIDR('192.168.0.1')", Bool(false)),
        ("cidr('192.168.0.0/24').containsIP(ip('192.168.0.1'))", Bool(true)),
        ("cidr('192.168.0.0/24').containsIP(ip('192.168.1.1'))", Bool(false)),
        ("cidr('192.168.0.0/24').containsIP('192.168.0.1')", Bool(true)),
        ("cidr('192.168.0.0/24').containsIP('192.168.1.1')", Bool(false)),
        ("cidr('192.168.0.1/24').containsIP('192.168.0.200')", Bool(true)),
        ("cidr('0.0.0.0/0').containsIP('8.8.8.8')", Bool(true)),
        ("cidr('0.0.0.0/0').containsIP('::1')", Bool(false)),
        ("cidr('::/0').containsIP('1.2.3.4')", Bool(false)),
        ("cidr('192.168.0.0/24').containsIP('192.168.0.256')", Fails("IPv4 field has value >255")),
        ("cidr('2001:db8::/32').containsIP(ip('2001:db8::1'))", Bool(true)),
        ("cidr('2001:db8::/32').containsIP(ip('2001:dc8::1'))", Bool(false)),
        ("cidr('2001:db8::/32').containsIP('2001:db8::1')", Bool(true)),
        ("cidr('2001:db8::/32').containsIP('2001:dc8::1')", Bool(false)),
        ("cidr('192.168.0.0/16').containsCIDR(cidr('192.168.10.0/24'))", Bool(true)),
        ("cidr('192.168.1.0/24').containsCIDR(cidr('192.168.2.0/24'))", Bool(false)),
        ("cidr('192.168.0.0/16').containsCIDR('192.168.10.0/24')", Bool(true)),
        ("cidr('192.168.1.0/24').containsCIDR('192.168.2.0/24')", Bool(false)),
        ("cidr('192.168.0.0/24').containsCIDR(cidr('192.168.0.0/25'))", Bool(true)),
        ("cidr('192.168.0.0/24').containsCIDR(cidr('192.168.0.1/32'))", Bool(true)),
        ("cidr('192.168.0.0/24').containsCIDR(cidr('192.168.0.0/23'))", Bool(false)),
        ("cidr('192.168.0.0/24').containsCIDR(cidr('192.169.0.1/32'))", Bool(false)),
        ("cidr('192.168.0.0/24').containsCIDR('192.168.0.0/25')", Bool(true)),
        ("cidr('192.168.0.0/24').containsCIDR('192.168.0.0/23')", Bool(false)),
        ("cidr('10.0.0.0/8').containsCIDR('10.1.0.0/16')", Bool(true)),
        ("cidr('10.0.0.0/8').containsCIDR('10.0.0.0/8')", Bool(true)),
        ("cidr('10.0.0.0/8').containsCIDR('::/0')", Bool(false)),
        ("cidr('10.0.0.0/8').containsCIDR('10.0.0.0/33')", Fails("prefix length out of range")),
        ("cidr('2001:db8::/32').containsCIDR(cidr('2001:db8::/33'))", Bool(true)),
        ("cidr('2001:db8::/32').containsCIDR(cidr('2001:db8::/31'))", Bool(false)),
        ("cidr('2001:db8::/32').containsCIDR('2001:db8::/33')", Bool(true)),
        ("cidr('2001:db8::/32').containsCIDR('2001:db8::/31')", Bool(false)),
        ("cidr('192.168.0.1/24').ip() == ip('192.168.0.1')", Bool(true)),
        ("cidr('192.168.0.0/24').ip() == ip('192.168.0.0')", Bool(true)),
        ("cidr('192.168.0.1/24').ip().family()", Int(4)),
        ("cidr('::1/128').ip() == ip('::1')", Bool(true)),
        ("cidr('::1/128').ip().family()", Int(6)),
        ("cidr('2001:db8::/32').ip() == ip('2001:db8::')", Bool(true)),
        ("cidr('192.168.0.0/24').masked() == cidr('192.168.0.0/24')", Bool(true)),
        ("cidr('192.168.0.1/24').masked() == cidr('192.168.0.0/24')", Bool(true)),
        ("cidr('192.168.0.0/24') == cidr('192.168.0.0/24').masked()", Bool(true)),
        ("cidr('192.168.0.1/24') == cidr('192.168.0.1/24').masked()", Bool(false)),
        ("string(cidr('2001:db8:1::/32').masked())", Str("2001:db8::/32")),
        ("cidr('2001:db8:1::/32').masked() == cidr('2001:db8::/32')", Bool(true)),
        ("string(cidr('10.1.2.3/0').masked())", Str("0.0.0.0/0")),
        ("cidr('192.168.0.0/16').prefixLength()", Int(16)),
        ("cidr('::1/128').prefixLength()", Int(128)),
        ("cidr('192.168.0.0/24').prefixLength()", Int(24)),
        ("cidr('2001:db8::/32').prefixLength()", Int(32)),
        ("cidr('10.0.0.0/8') == cidr('10.0.0.0/16')", Bool(false)),
        ("type(cidr('192.168.0.0/24')) == net.CIDR", Bool(true)),
        ("cidr('192.168.0.0/24').containsIP(1)", Fails("")),
    ];

    #[test]
    fn ip_library_behaves_like_kubernetes() {
        check(IP_CASES);
    }

    #[test]
    fn cidr_library_behaves_like_kubernetes() {
        check(CIDR_CASES);
    }
}
