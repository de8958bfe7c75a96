//! Device (regex) and address (CIDR) filters applied before the diff engine.

use std::net::IpAddr;

use regex::Regex;

use crate::model::{Neighbour, NudState};

/// An IPv4 or IPv6 prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    len: u8,
}

impl Cidr {
    /// Parses `10.0.0.0/8`, `fe80::/10`, or a bare address (host prefix).
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let (a, l) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let addr: IpAddr = a
            .trim()
            .parse()
            .map_err(|_| format!("invalid address {a:?} in CIDR {s:?}"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let len = match l {
            None => max,
            Some(l) => l
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|&n| n <= max)
                .ok_or_else(|| format!("invalid prefix length {l:?} in CIDR {s:?} (0..={max})"))?,
        };
        Ok(Cidr { addr, len })
    }

    /// Whether `ip` is inside the prefix (v4 and v6 never match each other).
    pub fn contains(&self, ip: &IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.len)).unwrap_or(0);
                u32::from(net) & mask == u32::from(*ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.len))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(*ip) & mask
            }
            _ => false,
        }
    }
}

/// Which address families to watch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Family {
    /// IPv4 (ARP) and IPv6 (NDP).
    All,
    /// IPv4 only.
    Ipv4,
    /// IPv6 only.
    Ipv6,
}

/// The combined filter.
#[derive(Clone, Debug)]
pub struct Filter {
    /// Devices to include (anchored regex); `None` = all.
    pub device_include: Option<Regex>,
    /// Devices to exclude (anchored regex).
    pub device_exclude: Option<Regex>,
    /// Address prefixes to include; empty = all.
    pub addresses: Vec<Cidr>,
    /// Address prefixes to exclude.
    pub addresses_exclude: Vec<Cidr>,
    /// Address families.
    pub family: Family,
    /// Keep NOARP entries (multicast, loopback, point-to-point); skipped by default
    /// as node_exporter does.
    pub include_noarp: bool,
}

impl Default for Filter {
    fn default() -> Self {
        Filter {
            device_include: None,
            device_exclude: None,
            addresses: Vec::new(),
            addresses_exclude: Vec::new(),
            family: Family::All,
            include_noarp: false,
        }
    }
}

/// Compiles a regex anchored at both ends (Prometheus convention), naming the flag in
/// errors.
pub fn anchored(flag: &str, re: &str) -> Result<Regex, String> {
    Regex::new(&format!("^(?:{re})$")).map_err(|e| format!("{flag}: invalid regex {re:?}: {e}"))
}

impl Filter {
    /// Whether an entry passes.
    pub fn accepts(&self, n: &Neighbour) -> bool {
        let ip = &n.key.ip;
        let fam_ok = match self.family {
            Family::All => true,
            Family::Ipv4 => ip.is_ipv4(),
            Family::Ipv6 => ip.is_ipv6(),
        };
        fam_ok
            && (self.include_noarp || n.state != NudState::Noarp)
            && self
                .device_include
                .as_ref()
                .is_none_or(|r| r.is_match(&n.key.device))
            && !self
                .device_exclude
                .as_ref()
                .is_some_and(|r| r.is_match(&n.key.device))
            && (self.addresses.is_empty() || self.addresses.iter().any(|c| c.contains(ip)))
            && !self.addresses_exclude.iter().any(|c| c.contains(ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Key;

    fn n(dev: &str, ip: &str) -> Neighbour {
        Neighbour {
            key: Key {
                device: dev.into(),
                ip: ip.parse().expect("ip"),
            },
            mac: None,
            state: NudState::Reachable,
        }
    }

    #[test]
    fn cidrs() {
        let c = Cidr::parse("10.203.0.0/24").expect("cidr");
        assert!(c.contains(&"10.203.0.77".parse().expect("ip")));
        assert!(!c.contains(&"10.203.1.1".parse().expect("ip")));
        assert!(!c.contains(&"fe80::1".parse().expect("ip")));
        let c = Cidr::parse("fe80::/10").expect("cidr");
        assert!(c.contains(&"fe80::1".parse().expect("ip")));
        assert!(Cidr::parse("0.0.0.0/0")
            .expect("cidr")
            .contains(&"1.2.3.4".parse().expect("ip")));
        assert!(Cidr::parse("10.0.0.1")
            .expect("host")
            .contains(&"10.0.0.1".parse().expect("ip")));
        assert!(Cidr::parse("10.0.0.0/33")
            .expect_err("len")
            .contains("0..=32"));
        assert!(Cidr::parse("10.0.0/8").is_err());
    }

    #[test]
    fn filter_combines() {
        let f = Filter {
            device_include: Some(anchored("--arp.device-include", "veth.*").expect("re")),
            device_exclude: Some(anchored("--arp.device-exclude", "veth9").expect("re")),
            addresses: vec![
                Cidr::parse("10.0.0.0/8").expect("c"),
                Cidr::parse("fe80::/10").expect("c"),
            ],
            addresses_exclude: vec![Cidr::parse("10.9.0.0/16").expect("c")],
            family: Family::All,
            include_noarp: false,
        };
        assert!(f.accepts(&n("veth0", "10.1.2.3")));
        let mut mc = n("veth0", "fe80::3");
        mc.state = NudState::Noarp;
        assert!(!f.accepts(&mc), "NOARP skipped by default");
        assert!(Filter {
            include_noarp: true,
            ..f.clone()
        }
        .accepts(&mc));
        assert!(f.accepts(&n("veth0", "fe80::2")));
        assert!(!f.accepts(&n("xveth0", "10.1.2.3")), "anchored");
        assert!(!f.accepts(&n("veth9", "10.1.2.3")));
        assert!(!f.accepts(&n("veth0", "192.168.0.1")));
        assert!(!f.accepts(&n("veth0", "10.9.1.1")));
        let v4 = Filter {
            family: Family::Ipv4,
            ..Filter::default()
        };
        assert!(!v4.accepts(&n("eth0", "fe80::2")));
        assert!(anchored("--x", "(").expect_err("bad").contains("--x"));
    }
}
