//! IP addresses and prefixes as Go's `net/netip` parses, prints and classifies them.
//!
//! Kubernetes' `ip()` and `cidr()` are `netip.ParseAddr` and `netip.ParsePrefix` plus a few
//! rejections, and their error messages embed netip's. `std::net` parses a slightly different
//! language (and words its errors differently), so the parser and the printer are ported here,
//! rule for rule and message for message, from Go's `net/netip/netip.go`.

use std::fmt;

/// An IPv4 or IPv6 address. Zones never get here: Kubernetes rejects them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum Addr {
    V4([u8; 4]),
    V6([u8; 16]),
}

/// A `netip.ParseAddr` error; displays as Go's does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct AddrError {
    input: String,
    msg: &'static str,
    /// The unparsed rest of the input where parsing stopped, when Go reports it.
    at: String,
}

impl fmt::Display for AddrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ParseAddr({}): {}", go_quote(&self.input), self.msg)?;
        if !self.at.is_empty() {
            write!(f, " (at {})", go_quote(&self.at))?;
        }
        Ok(())
    }
}

fn addr_error(input: &str, msg: &'static str, at: &[u8]) -> AddrError {
    AddrError { input: input.to_owned(), msg, at: String::from_utf8_lossy(at).into_owned() }
}

/// `netip.ParseAddr`: the address and, for IPv6, its zone (`fe80::1%eth0`) if it has one.
pub(super) fn parse_addr(s: &str) -> Result<(Addr, Option<String>), AddrError> {
    for &b in s.as_bytes() {
        match b {
            b'.' => return parse_ipv4(s).map(|a| (a, None)),
            b':' => return parse_ipv6(s),
            // Assume an IPv6 address with a zone whose address part is missing.
            b'%' => return Err(addr_error(s, "missing IPv6 address", b"")),
            _ => {}
        }
    }
    Err(addr_error(s, "unable to parse IP", b""))
}

fn parse_ipv4(s: &str) -> Result<Addr, AddrError> {
    let mut fields = [0u8; 4];
    parse_ipv4_fields(s, 0, s.len(), &mut fields)?;
    Ok(Addr::V4(fields))
}

/// Go's `parseIPv4Fields`: dotted decimal in `input[off..end]`, exactly four fields of 0 to 255
/// without leading zeros (`010` is ambiguous: octal to some parsers, so Go refuses it).
fn parse_ipv4_fields(input: &str, off: usize, end: usize, fields: &mut [u8]) -> Result<(), AddrError> {
    let s = input.as_bytes().get(off..end).unwrap_or_default();
    let mut val: u32 = 0;
    let mut pos = 0;
    let mut dig_len = 0;
    for (i, &c) in s.iter().enumerate() {
        if c.is_ascii_digit() {
            if dig_len == 1 && val == 0 {
                return Err(addr_error(input, "IPv4 field has octet with leading zero", b""));
            }
            val = val * 10 + u32::from(c - b'0');
            dig_len += 1;
            if val > 255 {
                return Err(addr_error(input, "IPv4 field has value >255", b""));
            }
        } else if c == b'.' {
            // ".1.2.3", "1.2.3." and "1..2.3"
            if i == 0 || i == s.len() - 1 || s[i - 1] == b'.' {
                return Err(addr_error(input, "IPv4 field must have at least one digit", &s[i..]));
            }
            if pos == 3 {
                return Err(addr_error(input, "IPv4 address too long", b""));
            }
            if let Some(field) = fields.get_mut(pos) {
                *field = val as u8;
            }
            pos += 1;
            val = 0;
            dig_len = 0;
        } else {
            return Err(addr_error(input, "unexpected character", &s[i..]));
        }
    }
    if pos < 3 {
        return Err(addr_error(input, "IPv4 address too short", b""));
    }
    if let Some(field) = fields.get_mut(3) {
        *field = val as u8;
    }
    Ok(())
}

/// Go's `parseIPv6`: groups of up to four hex digits, at most one `::`, an optional trailing
/// dotted IPv4 address, and an optional non-empty `%zone`.
fn parse_ipv6(input: &str) -> Result<(Addr, Option<String>), AddrError> {
    let bytes = input.as_bytes();
    let (mut s, zone): (&[u8], &[u8]) = match bytes.iter().position(|&b| b == b'%') {
        Some(i) => {
            let zone = &bytes[i + 1..];
            if zone.is_empty() {
                return Err(addr_error(input, "zone must be a non-empty string", b""));
            }
            (&bytes[..i], zone)
        }
        None => (bytes, b""),
    };
    let zone_string = (!zone.is_empty()).then(|| String::from_utf8_lossy(zone).into_owned());

    let mut ip = [0u8; 16];
    let mut ellipsis: Option<usize> = None;

    if s.len() >= 2 && s[0] == b':' && s[1] == b':' {
        ellipsis = Some(0);
        s = &s[2..];
        if s.is_empty() {
            return Ok((Addr::V6(ip), zone_string));
        }
    }

    let mut i = 0;
    while i < 16 {
        let mut off = 0;
        let mut acc: u32 = 0;
        while off < s.len() {
            let c = s[off];
            let digit = match c {
                b'0'..=b'9' => c - b'0',
                b'a'..=b'f' => c - b'a' + 10,
                b'A'..=b'F' => c - b'A' + 10,
                _ => break,
            };
            acc = (acc << 4) + u32::from(digit);
            if off > 3 {
                return Err(addr_error(input, "each group must have 4 or less digits", s));
            }
            if acc > u32::from(u16::MAX) {
                return Err(addr_error(input, "IPv6 field has value >=2^16", s));
            }
            off += 1;
        }
        if off == 0 {
            return Err(addr_error(input, "each colon-separated field must have at least one digit", s));
        }

        // A dot: this group starts the trailing IPv4 address.
        if off < s.len() && s[off] == b'.' {
            if ellipsis.is_none() && i != 12 {
                return Err(addr_error(
                    input,
                    "embedded IPv4 address must replace the final 2 fields of the address",
                    s,
                ));
            }
            if i + 4 > 16 {
                return Err(addr_error(
                    input,
                    "too many hex fields to fit an embedded IPv4 at the end of the address",
                    s,
                ));
            }
            let end = bytes.len() - if zone.is_empty() { 0 } else { zone.len() + 1 };
            parse_ipv4_fields(input, end - s.len(), end, &mut ip[i..i + 4])?;
            s = b"";
            i += 4;
            break;
        }

        ip[i] = (acc >> 8) as u8;
        ip[i + 1] = acc as u8;
        i += 2;

        s = &s[off..];
        if s.is_empty() {
            break;
        }
        if s[0] != b':' {
            return Err(addr_error(input, "unexpected character, want colon", s));
        } else if s.len() == 1 {
            return Err(addr_error(input, "colon must be followed by more characters", s));
        }
        s = &s[1..];

        if s[0] == b':' {
            if ellipsis.is_some() {
                return Err(addr_error(input, "multiple :: in address", s));
            }
            ellipsis = Some(i);
            s = &s[1..];
            if s.is_empty() {
                break;
            }
        }
    }

    if !s.is_empty() {
        return Err(addr_error(input, "trailing garbage after address", s));
    }

    if i < 16 {
        let Some(ellipsis) = ellipsis else {
            return Err(addr_error(input, "address string too short", b""));
        };
        // Slide what follows the `::` to the end, and zero the gap.
        let n = 16 - i;
        ip.copy_within(ellipsis..i, ellipsis + n);
        ip[ellipsis..ellipsis + n].fill(0);
    } else if ellipsis.is_some() {
        return Err(addr_error(input, "the :: must expand to at least one field of zeros", b""));
    }
    Ok((Addr::V6(ip), zone_string))
}

impl Addr {
    /// Whether this is an IPv4-mapped IPv6 address, `::ffff:a.b.c.d`.
    pub(super) fn is_4in6(&self) -> bool {
        match self {
            Addr::V4(_) => false,
            Addr::V6(b) => b[..10].iter().all(|&x| x == 0) && b[10] == 0xff && b[11] == 0xff,
        }
    }

    /// The IPv4 address an IPv4-mapped one maps; any other address as is.
    fn unmap(self) -> Addr {
        match self {
            Addr::V6(b) if self.is_4in6() => Addr::V4([b[12], b[13], b[14], b[15]]),
            other => other,
        }
    }

    pub(super) fn family(&self) -> i64 {
        match self {
            Addr::V4(_) => 4,
            Addr::V6(_) => 6,
        }
    }

    /// The first 16 bits of an IPv6 address.
    fn v6_u16_0(b: &[u8; 16]) -> u16 {
        u16::from_be_bytes([b[0], b[1]])
    }

    pub(super) fn is_unspecified(&self) -> bool {
        match self {
            Addr::V4(b) => *b == [0; 4],
            Addr::V6(b) => *b == [0; 16],
        }
    }

    pub(super) fn is_loopback(&self) -> bool {
        match self.unmap() {
            Addr::V4(b) => b[0] == 127,
            Addr::V6(b) => u128::from_be_bytes(b) == 1,
        }
    }

    fn is_multicast(&self) -> bool {
        match self.unmap() {
            Addr::V4(b) => b[0] & 0xf0 == 0xe0,
            Addr::V6(b) => b[0] == 0xff,
        }
    }

    /// 224.0.0.0/24, or ff02::/16 ignoring the flag bits (as Go checks it).
    pub(super) fn is_link_local_multicast(&self) -> bool {
        match self.unmap() {
            Addr::V4(b) => b[0] == 224 && b[1] == 0 && b[2] == 0,
            Addr::V6(b) => Self::v6_u16_0(&b) & 0xff0f == 0xff02,
        }
    }

    /// 169.254.0.0/16 or fe80::/10.
    pub(super) fn is_link_local_unicast(&self) -> bool {
        match self.unmap() {
            Addr::V4(b) => b[0] == 169 && b[1] == 254,
            Addr::V6(b) => Self::v6_u16_0(&b) & 0xffc0 == 0xfe80,
        }
    }

    /// Go's (and so Kubernetes') notion: anything but the unspecified, broadcast, loopback,
    /// multicast and link-local addresses. Private addresses count as global unicast.
    pub(super) fn is_global_unicast(&self) -> bool {
        let ip = self.unmap();
        if let Addr::V4(b) = ip
            && (b == [0; 4] || b == [255; 4])
        {
            return false;
        }
        ip != Addr::V6([0; 16]) && !ip.is_loopback() && !ip.is_multicast() && !ip.is_link_local_unicast()
    }

    fn bit_len(&self) -> u8 {
        match self {
            Addr::V4(_) => 32,
            Addr::V6(_) => 128,
        }
    }

    /// The address with every bit after the first `bits` cleared.
    fn mask(&self, bits: u8) -> Addr {
        match *self {
            Addr::V4(b) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(bits.min(32))).unwrap_or(0);
                Addr::V4((u32::from_be_bytes(b) & mask).to_be_bytes())
            }
            Addr::V6(b) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(bits.min(128))).unwrap_or(0);
                Addr::V6((u128::from_be_bytes(b) & mask).to_be_bytes())
            }
        }
    }
}

/// Go's `Addr.String()`: dotted decimal, or RFC 5952 for IPv6 (lower-case hex, no leading
/// zeros, the first longest run of two or more zero groups as `::`). This is the canonical form
/// `ip.isCanonical()` compares against.
impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.unmap() {
            Addr::V4([a, b, c, d]) if self.is_4in6() => write!(f, "::ffff:{a}.{b}.{c}.{d}"),
            Addr::V4([a, b, c, d]) => write!(f, "{a}.{b}.{c}.{d}"),
            Addr::V6(b) => {
                let group = |i: usize| u16::from_be_bytes([b[2 * i], b[2 * i + 1]]);
                let (mut zero_start, mut zero_end) = (8usize, 8usize);
                for i in 0..8 {
                    let mut j = i;
                    while j < 8 && group(j) == 0 {
                        j += 1;
                    }
                    let len = j - i;
                    if len >= 2 && len > zero_end - zero_start {
                        (zero_start, zero_end) = (i, j);
                    }
                }
                let mut i = 0;
                while i < 8 {
                    if i == zero_start {
                        f.write_str("::")?;
                        i = zero_end;
                        if i >= 8 {
                            break;
                        }
                    } else if i > 0 {
                        f.write_str(":")?;
                    }
                    write!(f, "{:x}", group(i))?;
                    i += 1;
                }
                Ok(())
            }
        }
    }
}

/// An IP prefix as `netip.Prefix` holds it: the address as written (not masked) and the
/// prefix length. Two prefixes are equal when both are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) struct Prefix {
    addr: Addr,
    bits: u8,
}

/// A `netip.ParsePrefix` error; displays as Go's does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct PrefixError {
    input: String,
    msg: String,
}

impl fmt::Display for PrefixError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "netip.ParsePrefix({}): {}", go_quote(&self.input), self.msg)
    }
}

/// `netip.ParsePrefix`: an address, `/`, and a prefix length written without sign or leading
/// zeros. The address is kept as written: `192.168.0.1/24` is a valid prefix.
pub(super) fn parse_prefix(s: &str) -> Result<Prefix, PrefixError> {
    let error = |msg: String| PrefixError { input: s.to_owned(), msg };
    let Some(slash) = s.rfind('/') else {
        return Err(error("no '/'".to_owned()));
    };
    let (addr, zone) = parse_addr(&s[..slash]).map_err(|e| error(e.to_string()))?;
    if matches!(addr, Addr::V6(_)) && zone.is_some() {
        return Err(error("IPv6 zones cannot be present in a prefix".to_owned()));
    }
    let bits_str = &s[slash + 1..];
    let bad_bits = || error(format!("bad bits after slash: {}", go_quote(bits_str)));
    if bits_str.len() > 1 && !bits_str.starts_with(|c: char| ('1'..='9').contains(&c)) {
        return Err(bad_bits());
    }
    let bits: i64 = bits_str.parse().map_err(|_| bad_bits())?;
    if bits < 0 || bits > i64::from(addr.bit_len()) {
        return Err(error("prefix length out of range".to_owned()));
    }
    Ok(Prefix { addr, bits: bits as u8 })
}

impl Prefix {
    /// The address as written.
    pub(super) fn addr(&self) -> Addr {
        self.addr
    }

    pub(super) fn bits(&self) -> u8 {
        self.bits
    }

    /// The prefix with the address's host bits cleared: its canonical form.
    pub(super) fn masked(&self) -> Prefix {
        Prefix { addr: self.addr.mask(self.bits), bits: self.bits }
    }

    /// Whether `ip`, of the same family, starts with this prefix's first `bits` bits.
    pub(super) fn contains(&self, ip: &Addr) -> bool {
        ip.bit_len() == self.addr.bit_len() && ip.mask(self.bits) == self.addr.mask(self.bits)
    }

    /// Go's `Prefix.Overlaps`: whether some address is in both prefixes.
    pub(super) fn overlaps(&self, other: &Prefix) -> bool {
        if self == other {
            return true;
        }
        if self.addr.bit_len() != other.addr.bit_len() {
            return false;
        }
        let min_bits = self.bits.min(other.bits);
        min_bits == 0 || self.addr.mask(min_bits) == other.addr.mask(min_bits)
    }
}

/// Go's `Prefix.String()`: the address as written, `/`, the length.
impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.bits)
    }
}

/// Go's `strconv.Quote`, which Kubernetes' messages use (`%q`): double quotes, with quotes,
/// backslashes and unprintable characters escaped Go's way.
pub(super) fn go_quote(s: &str) -> String {
    crate::support::go_quote(s.as_bytes())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn err(s: &str) -> String {
        parse_addr(s).unwrap_err().to_string()
    }

    /// Messages as Go 1.26's `netip.ParseAddr` words them for these inputs.
    #[test]
    fn rejects_what_go_rejects_with_its_messages() {
        let cases = [
            ("", "ParseAddr(\"\"): unable to parse IP"),
            ("abc", "ParseAddr(\"abc\"): unable to parse IP"),
            ("%eth0", "ParseAddr(\"%eth0\"): missing IPv6 address"),
            ("192.168.0.1.0", "ParseAddr(\"192.168.0.1.0\"): IPv4 address too long"),
            ("127.0.0.256", "ParseAddr(\"127.0.0.256\"): IPv4 field has value >255"),
            ("1.2.3", "ParseAddr(\"1.2.3\"): IPv4 address too short"),
            ("01.2.3.4", "ParseAddr(\"01.2.3.4\"): IPv4 field has octet with leading zero"),
            ("1..2.3", "ParseAddr(\"1..2.3\"): IPv4 field must have at least one digit (at \".2.3\")"),
            ("1.2.3.4%eth0", "ParseAddr(\"1.2.3.4%eth0\"): unexpected character (at \"%eth0\")"),
            (
                "2001:db8:::68",
                "ParseAddr(\"2001:db8:::68\"): each colon-separated field must have at least \
                 one digit (at \":68\")",
            ),
            (":::1", "ParseAddr(\":::1\"): each colon-separated field must have at least one digit (at \":1\")"),
            ("12345::", "ParseAddr(\"12345::\"): each group must have 4 or less digits (at \"12345::\")"),
            ("1::2::3", "ParseAddr(\"1::2::3\"): multiple :: in address (at \":3\")"),
            ("1:2", "ParseAddr(\"1:2\"): address string too short"),
            ("1:", "ParseAddr(\"1:\"): colon must be followed by more characters (at \":\")"),
            (
                "1:2:3:4:5:6:7:8::",
                "ParseAddr(\"1:2:3:4:5:6:7:8::\"): the :: must expand to at least one field \
                 of zeros",
            ),
            ("1:2:3:4:5:6:7:8:9", "ParseAddr(\"1:2:3:4:5:6:7:8:9\"): trailing garbage after address (at \"9\")"),
            ("fe80::1%", "ParseAddr(\"fe80::1%\"): zone must be a non-empty string"),
            (
                "1:2:1.2.3.4",
                "ParseAddr(\"1:2:1.2.3.4\"): embedded IPv4 address must replace the final 2 \
                 fields of the address (at \"1.2.3.4\")",
            ),
            ("::1.2.3.04", "ParseAddr(\"::1.2.3.04\"): IPv4 field has octet with leading zero"),
            ("1g::", "ParseAddr(\"1g::\"): unexpected character, want colon (at \"g::\")"),
        ];
        for (input, message) in cases {
            assert_eq!(err(input), message, "{input:?}");
        }
    }

    #[test]
    fn prints_the_canonical_form() {
        let cases = [
            ("127.0.0.1", "127.0.0.1"),
            ("2001:DB8::ABCD", "2001:db8::abcd"),
            ("2001:db8::0:0:0:abcd", "2001:db8::abcd"),
            ("2001:db8:0:1:0:0:0:1", "2001:db8:0:1::1"),
            ("2001:0:0:1:0:0:0:1", "2001:0:0:1::1"),
            ("1:0:0:2:0:0:3:4", "1::2:0:0:3:4"),
            ("1:2:3:4:5:6:0:8", "1:2:3:4:5:6:0:8"),
            ("::", "::"),
            ("::1", "::1"),
            ("1::", "1::"),
            ("::1.2.3.4", "::102:304"),
            ("0:0:0:0:0:ffff:1.2.3.4", "::ffff:1.2.3.4"),
        ];
        for (input, canonical) in cases {
            let (addr, zone) = parse_addr(input).unwrap();
            assert_eq!(zone, None);
            assert_eq!(addr.to_string(), canonical, "{input}");
        }
        let (_, zone) = parse_addr("fe80::1%eth0").unwrap();
        assert_eq!(zone.as_deref(), Some("eth0"));
    }

    #[test]
    fn parses_prefixes_like_go() {
        let ok = [
            ("192.168.0.1/24", "192.168.0.1/24", "192.168.0.0/24"),
            ("10.0.0.0/0", "10.0.0.0/0", "0.0.0.0/0"),
            ("2001:db8:1::/32", "2001:db8:1::/32", "2001:db8::/32"),
            ("::1/128", "::1/128", "::1/128"),
        ];
        for (input, shown, masked) in ok {
            let p = parse_prefix(input).unwrap();
            assert_eq!(p.to_string(), shown);
            assert_eq!(p.masked().to_string(), masked);
        }
        let bad = [
            ("192.168.0.0", "netip.ParsePrefix(\"192.168.0.0\"): no '/'"),
            ("192.168.0.0/", "netip.ParsePrefix(\"192.168.0.0/\"): bad bits after slash: \"\""),
            ("1.2.3.4/024", "netip.ParsePrefix(\"1.2.3.4/024\"): bad bits after slash: \"024\""),
            ("1.2.3.4/+4", "netip.ParsePrefix(\"1.2.3.4/+4\"): bad bits after slash: \"+4\""),
            ("1.2.3.4/33", "netip.ParsePrefix(\"1.2.3.4/33\"): prefix length out of range"),
            ("::/129", "netip.ParsePrefix(\"::/129\"): prefix length out of range"),
            ("fe80::%eth0/64", "netip.ParsePrefix(\"fe80::%eth0/64\"): IPv6 zones cannot be present in a prefix"),
            ("1.2.3/8", "netip.ParsePrefix(\"1.2.3/8\"): ParseAddr(\"1.2.3\"): IPv4 address too short"),
        ];
        for (input, message) in bad {
            assert_eq!(parse_prefix(input).unwrap_err().to_string(), message, "{input}");
        }
    }

    #[test]
    fn quotes_like_go() {
        assert_eq!(go_quote("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(go_quote("tab\there\u{1}"), r#""tab\there\x01""#);
        assert_eq!(go_quote("é"), "\"é\"");
        assert_eq!(go_quote("\u{a0}"), r#""\u00a0""#);
    }
}
