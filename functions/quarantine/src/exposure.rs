//! How much of the internet a set of CIDRs lets in, exactly. Pure: no AWS calls.
//!
//! "Open to the world" is not only `0.0.0.0/0`: `0.0.0.0/1` plus `128.0.0.0/1` is the whole
//! internet too, and so are 256 rules of a `/8` each, added over many calls. So the CIDRs of a
//! group's rules on one port are merged into disjoint address intervals (their union, counted
//! once however they overlap), intersected with the public address space, and measured as a
//! share of it: IPv4 without the private, shared, loopback, link-local, multicast and reserved
//! blocks; IPv6's global unicast space, `2000::/3`.

use std::net::{Ipv4Addr, Ipv6Addr};

use reflex_shared::ConfigError;

/// The address family of a CIDR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    /// `IPv4`, `IPv6`: for people.
    pub fn name(self) -> &'static str {
        match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        }
    }
}

/// A CIDR as the inclusive interval of addresses it covers (IPv4 addresses as numbers below
/// 2^32, IPv6 as 128-bit numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Block {
    pub family: Family,
    pub first: u128,
    pub last: u128,
}

impl Block {
    /// `10.0.0.0/8`, `::/0`; `None` for anything else (a prefix list, a group, bad text). Host
    /// bits set below the prefix (`10.1.2.3/8`) are ignored, as EC2 does.
    pub fn parse(cidr: &str) -> Option<Self> {
        let (address, length) = cidr.trim().split_once('/')?;
        let length: u32 = length.parse().ok()?;
        let (family, bits, value) = if let Ok(v4) = address.parse::<Ipv4Addr>() {
            (Family::V4, 32, u128::from(u32::from(v4)))
        } else {
            let v6 = address.parse::<Ipv6Addr>().ok()?;
            (Family::V6, 128, u128::from(v6))
        };
        if length > bits {
            return None;
        }
        let host = bits - length;
        let span = if host == 128 {
            u128::MAX
        } else {
            (1u128 << host) - 1
        };
        let first = value & !span;
        Some(Self {
            family,
            first,
            last: first | span,
        })
    }

    /// How many addresses the block holds (saturating at `u128::MAX` for `::/0`).
    pub fn size(&self) -> u128 {
        (self.last - self.first).saturating_add(1)
    }
}

/// The union of blocks of one family: disjoint, sorted intervals (adjacent ones merged).
pub fn union(blocks: impl IntoIterator<Item = Block>) -> Vec<(u128, u128)> {
    let mut spans: Vec<(u128, u128)> = blocks.into_iter().map(|b| (b.first, b.last)).collect();
    spans.sort_unstable();
    let mut merged: Vec<(u128, u128)> = Vec::with_capacity(spans.len());
    for (first, last) in spans {
        match merged.last_mut() {
            Some((_, end)) if first <= end.saturating_add(1) => *end = (*end).max(last),
            _ => merged.push((first, last)),
        }
    }
    merged
}

/// Addresses no one on the internet has: IANA's special-purpose IPv4 blocks that are not
/// globally reachable (RFC 6890), as CIDRs.
const NOT_PUBLIC_V4: &[&str] = &[
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.0.2.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "224.0.0.0/4",
    "240.0.0.0/4",
];

/// IPv6's global unicast space: every public IPv6 address is in it.
const PUBLIC_V6: &str = "2000::/3";

/// The public address space of a family: disjoint, sorted intervals.
fn public_space(family: Family) -> Vec<(u128, u128)> {
    match family {
        Family::V6 => union(Block::parse(PUBLIC_V6)),
        Family::V4 => {
            let reserved = union(NOT_PUBLIC_V4.iter().filter_map(|c| Block::parse(c)));
            let mut public = Vec::new();
            let mut next = 0u128;
            for (first, last) in reserved {
                if first > next {
                    public.push((next, first - 1));
                }
                next = last + 1;
            }
            if next <= u128::from(u32::MAX) {
                public.push((next, u128::from(u32::MAX)));
            }
            public
        }
    }
}

fn total(spans: &[(u128, u128)]) -> u128 {
    spans
        .iter()
        .map(|(a, b)| (b - a).saturating_add(1))
        .fold(0u128, u128::saturating_add)
}

/// How many addresses two sets of disjoint, sorted intervals share.
fn overlap(a: &[(u128, u128)], b: &[(u128, u128)]) -> u128 {
    let (mut i, mut j, mut shared) = (0, 0, 0u128);
    while i < a.len() && j < b.len() {
        let first = a[i].0.max(b[j].0);
        let last = a[i].1.min(b[j].1);
        if first <= last {
            shared = shared.saturating_add(last - first + 1);
        }
        if a[i].1 < b[j].1 { i += 1 } else { j += 1 }
    }
    shared
}

/// The share (0 to 1) of the family's public address space that `blocks` (all of that family)
/// let in, each address counted once however many blocks cover it.
pub fn public_share(family: Family, blocks: impl IntoIterator<Item = Block>) -> f64 {
    let public = public_space(family);
    let covered = overlap(&union(blocks), &public);
    covered as f64 / total(&public) as f64
}

/// A share of the public address space, from configuration: `1/256`, `0.5%` or `0.004`; more
/// than 0, at most 1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Share(f64);

impl Share {
    pub fn parse(variable: &str, text: &str) -> Result<Self, ConfigError> {
        let text = text.trim();
        let number = |s: &str| s.trim().parse::<f64>().ok().filter(|n| n.is_finite());
        let value = if let Some(percent) = text.strip_suffix('%') {
            number(percent).map(|p| p / 100.0)
        } else if let Some((n, d)) = text.split_once('/') {
            match (number(n), number(d)) {
                (Some(n), Some(d)) if d > 0.0 => Some(n / d),
                _ => None,
            }
        } else {
            number(text)
        };
        match value {
            Some(v) if v > 0.0 && v <= 1.0 => Ok(Self(v)),
            _ => Err(ConfigError::new(
                variable,
                format!(
                    "`{text}` is not a share of the address space above 0 and at most 1 \
                     (like 1/256, 0.5% or 0.004)"
                ),
            )),
        }
    }

    pub fn value(self) -> f64 {
        self.0
    }

    /// Whether `share` reaches this threshold.
    pub fn reached_by(self, share: f64) -> bool {
        share >= self.0
    }
}

/// A share for people: `100%`, `50%`, `0.39%`, `0.0001%`.
pub fn percent(share: f64) -> String {
    let p = share * 100.0;
    if p > 0.0 && p < 0.000_001 {
        return "<0.000001%".into();
    }
    let text = if p >= 10.0 || p == 0.0 {
        format!("{p:.0}")
    } else if p >= 0.01 {
        format!("{p:.2}")
    } else {
        format!("{p:.6}")
    };
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    };
    format!("{text}%")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(cidr: &str) -> Block {
        Block::parse(cidr).unwrap_or_else(|| panic!("{cidr}"))
    }

    fn v4(cidrs: &[&str]) -> f64 {
        public_share(Family::V4, cidrs.iter().map(|c| b(c)))
    }

    fn v6(cidrs: &[&str]) -> f64 {
        public_share(Family::V6, cidrs.iter().map(|c| b(c)))
    }

    #[test]
    fn cidrs_are_read_as_address_intervals() {
        assert_eq!(b("0.0.0.0/0").size(), 1 << 32);
        assert_eq!(
            b("10.1.2.3/8").first,
            u128::from(u32::from(Ipv4Addr::new(10, 0, 0, 0)))
        );
        assert_eq!(b("198.51.100.7/32").size(), 1);
        assert_eq!(b("::/0").size(), u128::MAX);
        assert_eq!(b("2001:db8::/32").family, Family::V6);
        assert_eq!(b("2001:db8::1/128").size(), 1);
        for bad in [
            "0.0.0.0/33",
            "::/129",
            "sg-123",
            "pl-1234",
            "10.0.0.0",
            "10.0.0/8",
            "x/1",
        ] {
            assert_eq!(Block::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_union_counts_each_address_once_and_merges_neighbours() {
        let spans = union([
            b("10.0.0.0/24"),
            b("10.0.0.128/25"),
            b("10.0.1.0/24"),
            b("10.0.3.0/24"),
        ]);
        let ten = u128::from(u32::from(Ipv4Addr::new(10, 0, 0, 0)));
        assert_eq!(spans, [(ten, ten + 511), (ten + 768, ten + 1023)]);
        assert_eq!(
            union([b("0.0.0.0/1"), b("128.0.0.0/1")]),
            [(0, u128::from(u32::MAX))]
        );
        assert_eq!(union([b("::/0"), b("2000::/3")]), [(0, u128::MAX)]);
        assert!(union([]).is_empty());
    }

    #[test]
    fn two_halves_are_the_whole_internet() {
        assert_eq!(v4(&["0.0.0.0/0"]), 1.0);
        assert_eq!(v4(&["0.0.0.0/1", "128.0.0.0/1"]), 1.0);
        // More than half: most of the non-public space (224.0.0.0/3) is in the other half.
        let half = v4(&["0.0.0.0/1"]);
        assert!(half > 0.5 && half < 0.6, "{half}");
        assert!((half + v4(&["128.0.0.0/1"]) - 1.0).abs() < 1e-12);
        // The same /8 twice, and a /9 inside it, count once.
        let eight = v4(&["52.0.0.0/8"]);
        assert_eq!(v4(&["52.0.0.0/8", "52.0.0.0/8", "52.0.0.0/9"]), eight);
        assert!(eight > 1.0 / 256.0 && eight < 1.0 / 200.0, "{eight}");
        // 256 /8s are every public address.
        let all: Vec<String> = (0..=255).map(|i| format!("{i}.0.0.0/8")).collect();
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        assert_eq!(v4(&all), 1.0);
    }

    #[test]
    fn private_and_reserved_space_is_no_share_of_the_internet() {
        assert_eq!(
            v4(&[
                "10.0.0.0/8",
                "172.16.0.0/12",
                "192.168.0.0/16",
                "100.64.0.0/10"
            ]),
            0.0
        );
        assert_eq!(v4(&["127.0.0.0/8", "169.254.0.0/16", "224.0.0.0/3"]), 0.0);
        assert_eq!(v4(&["192.168.1.10/32"]), 0.0);
        // One public address is a tiny share, not none.
        let one = v4(&["8.8.8.8/32"]);
        assert!(one > 0.0 && one < 1e-9, "{one}");
    }

    #[test]
    fn ipv6_is_measured_against_the_global_unicast_space() {
        assert_eq!(v6(&["::/0"]), 1.0);
        assert_eq!(v6(&["2000::/3"]), 1.0);
        assert_eq!(v6(&["::/1"]), 1.0, "::/1 holds all of 2000::/3");
        assert_eq!(v6(&["fc00::/7", "fe80::/10", "::1/128"]), 0.0);
        assert_eq!(v6(&["2000::/4"]), 0.5);
        assert_eq!(v6(&["2000::/4", "3000::/4"]), 1.0);
        let tiny = v6(&["2001:db8::/32"]);
        assert!(tiny > 0.0 && tiny < 1e-8, "{tiny}");
    }

    #[test]
    fn a_share_is_a_fraction_a_percentage_or_a_number() {
        assert_eq!(Share::parse("V", "1/256").unwrap().value(), 1.0 / 256.0);
        assert_eq!(Share::parse("V", "0.5%").unwrap().value(), 0.005);
        assert_eq!(Share::parse("V", "1").unwrap().value(), 1.0);
        for bad in ["0", "-1/256", "1/0", "101%", "1.5", "half", "", "nan"] {
            let err = Share::parse("V", bad).unwrap_err();
            assert_eq!(err.variable, "V", "{bad}");
        }
        let share = Share::parse("V", "1/256").unwrap();
        assert!(share.reached_by(1.0 / 256.0));
        assert!(!share.reached_by(1.0 / 257.0));
    }

    #[test]
    fn shares_read_well() {
        assert_eq!(percent(1.0), "100%");
        assert_eq!(percent(0.5), "50%");
        assert_eq!(percent(1.0 / 256.0), "0.39%");
        assert_eq!(percent(0.0), "0%");
        assert_eq!(percent(2e-5), "0.002%");
        assert_eq!(percent(1e-9), "<0.000001%");
    }
}
