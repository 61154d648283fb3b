//! IP ranges (`ipBlock.cidr` and its `except`): parsing, containment, and which ranges are
//! public.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::fmt;
use std::str::FromStr;

/// An address range: an address and a prefix length, host bits cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// The range of one address (`/32` or `/128`).
    pub fn host(address: IpAddr) -> Cidr {
        Cidr { network: address, prefix: max_prefix(address) }
    }

    /// The prefix length: 0 to 32 for IPv4, 0 to 128 for IPv6 (0 is every address).
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Whether this is an IPv4 range; otherwise it is IPv6.
    pub fn is_ipv4(&self) -> bool {
        self.network.is_ipv4()
    }

    /// Whether `address` lies in this range (never across families).
    pub fn contains(&self, address: IpAddr) -> bool {
        match (self.network, address) {
            (IpAddr::V4(network), IpAddr::V4(address)) => {
                masked(u128::from(address.to_bits()), 32, self.prefix) == u128::from(network.to_bits())
            }
            (IpAddr::V6(network), IpAddr::V6(address)) => {
                masked(address.to_bits(), 128, self.prefix) == network.to_bits()
            }
            _ => false,
        }
    }

    /// Whether every address of `other` lies in this range.
    pub fn covers(&self, other: &Cidr) -> bool {
        self.prefix <= other.prefix && self.contains(other.network)
    }

    /// Whether the two ranges share an address.
    pub fn overlaps(&self, other: &Cidr) -> bool {
        self.covers(other) || other.covers(self)
    }

    /// A range that reaches beyond private, loopback and link-local space and is at least as
    /// wide as `/8` (IPv4) or `/8` (IPv6): `0.0.0.0/0`, `::/0`, `20.0.0.0/6`, `2000::/3`.
    pub fn is_broad_public(&self) -> bool {
        const PRIVATE_V4: [(Ipv4Addr, u8); 5] = [
            (Ipv4Addr::new(10, 0, 0, 0), 8),
            (Ipv4Addr::new(127, 0, 0, 0), 8),
            (Ipv4Addr::new(0, 0, 0, 0), 8),
            (Ipv4Addr::new(172, 16, 0, 0), 12),
            (Ipv4Addr::new(192, 168, 0, 0), 16),
        ];
        // fc00::/7 unique local, fe80::/10 link-local.
        const PRIVATE_V6: [(Ipv6Addr, u8); 2] =
            [(Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7), (Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10)];
        if self.prefix > 8 {
            return false;
        }
        let private = match self.network {
            IpAddr::V4(_) => PRIVATE_V4
                .iter()
                .any(|(network, prefix)| Cidr { network: IpAddr::V4(*network), prefix: *prefix }.covers(self)),
            IpAddr::V6(_) => PRIVATE_V6
                .iter()
                .any(|(network, prefix)| Cidr { network: IpAddr::V6(*network), prefix: *prefix }.covers(self)),
        };
        !private
    }
}

fn max_prefix(address: IpAddr) -> u8 {
    if address.is_ipv4() { 32 } else { 128 }
}

/// `bits` (an address of `width` bits) with everything after the first `prefix` bits cleared.
fn masked(bits: u128, width: u8, prefix: u8) -> u128 {
    if prefix == 0 {
        return 0;
    }
    let host_bits = u32::from(width - prefix.min(width));
    let mask = if host_bits >= 128 { 0 } else { !0u128 << host_bits };
    bits & mask & if width == 128 { !0 } else { (1u128 << width) - 1 }
}

/// Why a text is not a CIDR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CidrError(String);

impl fmt::Display for CidrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Cidr {
    type Err = CidrError;

    /// What an operator types: `10.0.0.0/8`, `2001:db8::/32`, or a bare address (one host).
    /// Host bits must be zero: `10.0.0.1/8` is probably a mistake, and saying so is kinder.
    fn from_str(text: &str) -> Result<Cidr, CidrError> {
        let cidr = parse(text, false)?;
        if cidr.network != parse_address(text)? {
            return Err(CidrError(format!("{text:?} has host bits set; write {cidr}")));
        }
        Ok(cidr)
    }
}

impl Cidr {
    /// An `ipBlock.cidr` or `except` entry: a prefix length is required, and host bits are
    /// ignored (`10.0.0.1/8` is `10.0.0.0/8`), as Go's `net.ParseCIDR` — which network plugins
    /// use — reads them. API servers from 1.36 refuse such values in new objects, but older
    /// objects keep them, and they still apply.
    pub fn from_field(text: &str) -> Result<Cidr, CidrError> {
        parse(text, true)
    }
}

fn parse_address(text: &str) -> Result<IpAddr, CidrError> {
    let address = text.split_once('/').map_or(text, |(address, _)| address);
    address.parse().map_err(|_| {
        CidrError(format!("{text:?} is not an IP range; write an address and a prefix length, e.g. 10.0.0.0/8"))
    })
}

/// `text` with host bits cleared; `prefix_required`: a bare address is an error.
fn parse(text: &str, prefix_required: bool) -> Result<Cidr, CidrError> {
    let address = parse_address(text)?;
    let width = max_prefix(address);
    let prefix = match text.split_once('/') {
        None if prefix_required => {
            return Err(CidrError(format!("{text:?} has no prefix length; write {text}/{width} for one address")));
        }
        None => width,
        // Objects' fields are parsed as Go does: no leading zeros (`/08`).
        Some((_, digits)) => match digits.parse::<u8>() {
            Ok(prefix) if prefix <= width && !(prefix_required && prefix.to_string() != digits) => prefix,
            _ => return Err(CidrError(format!("{text:?}: the prefix length must be a number from 0 to {width}"))),
        },
    };
    let network = match address {
        IpAddr::V4(v4) => IpAddr::V4(Ipv4Addr::from_bits(masked(u128::from(v4.to_bits()), 32, prefix) as u32)),
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from_bits(masked(v6.to_bits(), 128, prefix))),
    };
    Ok(Cidr { network, prefix })
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(text: &str) -> Cidr {
        text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap_or_else(|_| panic!("{text}"))
    }

    #[test]
    fn containment_across_prefixes_and_families() {
        let cases = [
            ("0.0.0.0/0", "203.0.113.9", true),
            ("10.0.0.0/8", "10.255.1.2", true),
            ("10.0.0.0/8", "11.0.0.1", false),
            ("192.168.1.0/24", "192.168.1.255", true),
            ("192.168.1.0/24", "192.168.2.0", false),
            ("192.168.1.7/32", "192.168.1.7", true),
            ("192.168.1.7/32", "192.168.1.8", false),
            ("::/0", "2001:db8::1", true),
            ("2001:db8::/32", "2001:db8:ffff::1", true),
            ("2001:db8::/32", "2001:db9::1", false),
            ("0.0.0.0/0", "2001:db8::1", false),
            ("::/0", "10.0.0.1", false),
        ];
        for (range, address, inside) in cases {
            assert_eq!(cidr(range).contains(ip(address)), inside, "{address} in {range}");
        }
        assert!(cidr("10.0.0.0/8").covers(&cidr("10.1.0.0/16")));
        assert!(!cidr("10.1.0.0/16").covers(&cidr("10.0.0.0/8")));
        assert!(cidr("10.1.0.0/16").overlaps(&cidr("10.0.0.0/8")));
        assert!(!cidr("10.1.0.0/16").overlaps(&cidr("10.2.0.0/16")));
    }

    #[test]
    fn malformed_ranges_say_what_to_write() {
        for (text, says) in [
            ("10.0.0/8", "is not an IP range"),
            ("10.0.0.0/33", "from 0 to 32"),
            ("10.0.0.1/8", "write 10.0.0.0/8"),
            ("2001:db8::1/32", "write 2001:db8::/32"),
        ] {
            let error = text.parse::<Cidr>().err().map(|e| e.to_string()).unwrap_or_default();
            assert!(error.contains(says), "{text}: {error}");
        }
        assert_eq!(cidr("10.1.2.3"), Cidr::host(ip("10.1.2.3")));
    }

    #[test]
    fn fields_of_objects_need_a_prefix_and_ignore_host_bits() {
        assert_eq!(Cidr::from_field("10.0.0.1/8"), Ok(cidr("10.0.0.0/8")));
        assert_eq!(Cidr::from_field("2001:db8::1/32"), Ok(cidr("2001:db8::/32")));
        let bare = Cidr::from_field("10.1.2.3").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(bare.contains("has no prefix length; write 10.1.2.3/32"), "{bare}");
        assert!(Cidr::from_field("10.0.0.0/08").is_err());
    }

    #[test]
    fn broad_public_ranges() {
        for (range, broad) in [
            ("0.0.0.0/0", true),
            ("::/0", true),
            ("8.0.0.0/8", true),
            ("0.0.0.0/1", true),
            ("10.0.0.0/8", false),
            ("8.0.0.0/9", false),
            ("172.16.0.0/12", false),
            ("2000::/3", true),
            ("fc00::/7", false),
            ("2001:db8::/32", false),
        ] {
            assert_eq!(cidr(range).is_broad_public(), broad, "{range}");
        }
    }
}
