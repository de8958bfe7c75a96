//! LLDP (IEEE 802.1AB) frames: a pure, bounds-checked LLDPDU parser and the neighbour
//! table built from them (what is heard on which interface, until its TTL runs out).
//!
//! [`parse_frame`] takes an Ethernet frame as read from an `AF_PACKET` socket (with or
//! without an 802.1Q tag), [`parse_lldpdu`] the LLDPDU alone. Hostile input (truncated
//! TLVs, lengths past the end, mandatory TLVs missing or out of order, 1,500 bytes of
//! TLVs) gives a [`ParseError`] whose [`ParseError::reason`] is a metric label; nothing
//! here panics or allocates more than the frame's size (the fuzz target
//! `exporters/arp/fuzz` and `tests/lldp_fuzz_corpus.rs` hold it to that).
//!
//! Identifiers are rendered for humans and for matching against the flow config:
//! a MAC address subtype as `aa:bb:cc:dd:ee:ff`, a network address as an IP, text
//! subtypes (interface name, alias, locally assigned, …) as text when printable, and
//! anything else as colon-separated hex (as `lldpcli` does).

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The LLDP ethertype.
pub const ETHERTYPE_LLDP: u16 = 0x88cc;
/// The nearest-bridge group address, where LLDP agents send (802.1AB §7.1).
pub const NEAREST_BRIDGE: [u8; 6] = [0x01, 0x80, 0xc2, 0x00, 0x00, 0x0e];
/// The nearest-non-TPMR-bridge and nearest-customer-bridge group addresses.
pub const OTHER_GROUPS: [[u8; 6]; 2] = [
    [0x01, 0x80, 0xc2, 0x00, 0x00, 0x03],
    [0x01, 0x80, 0xc2, 0x00, 0x00, 0x00],
];
/// At most this many management addresses are kept per neighbour.
pub const MAX_MGMT_ADDRS: usize = 4;

/// Why a frame was rejected (a `reason` label of the error counter).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// Shorter than an Ethernet header, or a TLV header/value runs past the end.
    Truncated {
        /// Byte offset in the LLDPDU where it happened.
        at: usize,
    },
    /// Not the LLDP ethertype.
    NotLldp {
        /// The ethertype seen.
        ethertype: u16,
    },
    /// A mandatory TLV (chassis id, port id, TTL) missing or out of order.
    Mandatory {
        /// Which TLV type was expected.
        expected: u8,
        /// Which was found (0 = end of the LLDPDU).
        found: u8,
    },
    /// A TLV whose length is invalid for its type.
    BadLength {
        /// TLV type.
        tlv: u8,
        /// Its length.
        len: usize,
    },
}

impl ParseError {
    /// Short reason for the `reason` label.
    pub fn reason(&self) -> &'static str {
        match self {
            ParseError::Truncated { .. } => "truncated",
            ParseError::NotLldp { .. } => "not_lldp",
            ParseError::Mandatory { .. } => "missing_mandatory_tlv",
            ParseError::BadLength { .. } => "bad_tlv_length",
        }
    }

    /// Every reason, for zero-initialised counters.
    pub const REASONS: [&'static str; 4] = [
        "truncated",
        "not_lldp",
        "missing_mandatory_tlv",
        "bad_tlv_length",
    ];
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Truncated { at } => write!(f, "truncated at byte {at}"),
            ParseError::NotLldp { ethertype } => {
                write!(f, "ethertype {ethertype:#06x} is not LLDP")
            }
            ParseError::Mandatory { expected, found } => write!(
                f,
                "mandatory TLV {} expected, found {}",
                tlv_name(*expected),
                tlv_name(*found)
            ),
            ParseError::BadLength { tlv, len } => {
                write!(f, "{} TLV with invalid length {len}", tlv_name(*tlv))
            }
        }
    }
}

impl std::error::Error for ParseError {}

fn tlv_name(t: u8) -> String {
    match t {
        0 => "end".into(),
        1 => "chassis id".into(),
        2 => "port id".into(),
        3 => "TTL".into(),
        4 => "port description".into(),
        5 => "system name".into(),
        6 => "system description".into(),
        7 => "system capabilities".into(),
        8 => "management address".into(),
        127 => "organizationally specific".into(),
        n => format!("type {n}"),
    }
}

/// A chassis or port identifier with its subtype.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Id {
    /// The subtype octet.
    pub subtype: u8,
    /// The rendered value (see the module docs).
    pub value: String,
}

/// Names of chassis id subtypes (802.1AB §8.5.2.2), as LLDP-MIB spells them.
pub fn chassis_subtype_name(s: u8) -> &'static str {
    match s {
        1 => "chassisComponent",
        2 => "interfaceAlias",
        3 => "portComponent",
        4 => "macAddress",
        5 => "networkAddress",
        6 => "interfaceName",
        7 => "local",
        _ => "reserved",
    }
}

/// Names of port id subtypes (802.1AB §8.5.3.2), as LLDP-MIB spells them.
pub fn port_subtype_name(s: u8) -> &'static str {
    match s {
        1 => "interfaceAlias",
        2 => "portComponent",
        3 => "macAddress",
        4 => "networkAddress",
        5 => "interfaceName",
        6 => "agentCircuitId",
        7 => "local",
        _ => "reserved",
    }
}

/// Chassis id subtype "MAC address".
pub const CHASSIS_MAC: u8 = 4;
/// Chassis id subtype "network address".
pub const CHASSIS_NET: u8 = 5;
/// Port id subtype "MAC address".
pub const PORT_MAC: u8 = 3;
/// Port id subtype "network address".
pub const PORT_NET: u8 = 4;

/// A management address (TLV 8).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MgmtAddr {
    /// The address: an IP for IANA families 1/2, otherwise hex.
    pub address: String,
    /// Interface numbering subtype (1 unknown, 2 ifIndex, 3 system port number).
    pub if_subtype: u8,
    /// The interface number.
    pub if_number: u32,
}

/// One decoded LLDPDU.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lldpdu {
    /// Source MAC of the frame (empty when parsed without an Ethernet header).
    pub source: String,
    /// Chassis id (TLV 1).
    pub chassis_id: Id,
    /// Port id (TLV 2).
    pub port_id: Id,
    /// Time to live in seconds (TLV 3); 0 = the neighbour is shutting down.
    pub ttl: u16,
    /// Port description (TLV 4).
    pub port_desc: Option<String>,
    /// System name (TLV 5).
    pub system_name: Option<String>,
    /// System description (TLV 6).
    pub system_desc: Option<String>,
    /// Management addresses (TLV 8), at most [`MAX_MGMT_ADDRS`].
    pub mgmt_addrs: Vec<MgmtAddr>,
}

/// Formats bytes as `aa:bb:cc`.
pub fn hex_colon(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 3);
    for (i, x) in b.iter().enumerate() {
        if i > 0 {
            s.push(':');
        }
        s.push_str(&format!("{x:02x}"));
    }
    s
}

/// Text if the bytes are printable UTF-8 (trailing NULs dropped), else hex.
pub fn text_or_hex(b: &[u8]) -> String {
    let trimmed = match b.iter().rposition(|&c| c != 0) {
        Some(i) => &b[..=i],
        None => &b[..0],
    };
    match std::str::from_utf8(trimmed) {
        Ok(s) if !s.chars().any(char::is_control) => s.to_string(),
        _ => hex_colon(b),
    }
}

/// An IANA address family number (1 IPv4, 2 IPv6) and address bytes as an IP.
pub fn ip_of(family: u8, b: &[u8]) -> Option<IpAddr> {
    match (family, b.len()) {
        (1, 4) => Some(IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))),
        (2, 16) => {
            let mut a = [0u8; 16];
            a.copy_from_slice(b);
            Some(IpAddr::V6(Ipv6Addr::from(a)))
        }
        _ => None,
    }
}

/// Renders an id value of a chassis (`port == false`) or port id TLV.
pub fn render_id(subtype: u8, value: &[u8], port: bool) -> String {
    let (mac, net) = if port {
        (PORT_MAC, PORT_NET)
    } else {
        (CHASSIS_MAC, CHASSIS_NET)
    };
    if subtype == mac && value.len() == 6 {
        return hex_colon(value);
    }
    if subtype == net {
        if let Some((f, rest)) = value.split_first() {
            if let Some(ip) = ip_of(*f, rest) {
                return ip.to_string();
            }
        }
        return hex_colon(value);
    }
    if subtype == mac {
        return hex_colon(value);
    }
    text_or_hex(value)
}

fn id_tlv(t: u8, v: &[u8]) -> Result<Id, ParseError> {
    // 802.1AB: subtype + 1..=255 octets.
    match v.split_first() {
        Some((&subtype, rest)) if !rest.is_empty() => Ok(Id {
            subtype,
            value: render_id(subtype, rest, t == 2),
        }),
        _ => Err(ParseError::BadLength {
            tlv: t,
            len: v.len(),
        }),
    }
}

fn mgmt_tlv(v: &[u8]) -> Result<MgmtAddr, ParseError> {
    let bad = ParseError::BadLength {
        tlv: 8,
        len: v.len(),
    };
    // address string length (subtype + address, 2..=32), subtype, address,
    // interface numbering subtype, interface number (4), OID length, OID.
    let (&alen, rest) = v.split_first().ok_or(bad.clone())?;
    let alen = usize::from(alen);
    if !(2..=32).contains(&alen) || rest.len() < alen + 6 {
        return Err(bad);
    }
    let family = rest[0];
    let addr = &rest[1..alen];
    let tail = &rest[alen..];
    let if_subtype = tail[0];
    let if_number = u32::from_be_bytes([tail[1], tail[2], tail[3], tail[4]]);
    let oid_len = usize::from(tail[5]);
    if tail.len() != 6 + oid_len {
        return Err(bad);
    }
    let address = ip_of(family, addr)
        .map(|ip| ip.to_string())
        .unwrap_or_else(|| hex_colon(addr));
    Ok(MgmtAddr {
        address,
        if_subtype,
        if_number,
    })
}

/// Parses an Ethernet frame carrying an LLDPDU (an 802.1Q/802.1ad tag is skipped).
pub fn parse_frame(frame: &[u8]) -> Result<Lldpdu, ParseError> {
    if frame.len() < 14 {
        return Err(ParseError::Truncated { at: 0 });
    }
    let source = hex_colon(&frame[6..12]);
    let mut off = 12;
    let mut et = u16::from_be_bytes([frame[off], frame[off + 1]]);
    // At most two tags (QinQ).
    for _ in 0..2 {
        if et == 0x8100 || et == 0x88a8 {
            off += 4;
            if frame.len() < off + 2 {
                return Err(ParseError::Truncated { at: 0 });
            }
            et = u16::from_be_bytes([frame[off], frame[off + 1]]);
        }
    }
    if et != ETHERTYPE_LLDP {
        return Err(ParseError::NotLldp { ethertype: et });
    }
    let mut pdu = parse_lldpdu(&frame[off + 2..])?;
    pdu.source = source;
    Ok(pdu)
}

/// Parses an LLDPDU (the frame's payload after the ethertype).
pub fn parse_lldpdu(b: &[u8]) -> Result<Lldpdu, ParseError> {
    let mut off = 0usize;
    let mut chassis = None;
    let mut port = None;
    let mut ttl = None;
    let mut pdu_desc = None;
    let mut name = None;
    let mut sysdesc = None;
    let mut mgmt = Vec::new();
    let mut index = 0usize;
    loop {
        if off == b.len() {
            // No End TLV: tolerated (some agents omit it) once the mandatory ones are in.
            break;
        }
        if off + 2 > b.len() {
            return Err(ParseError::Truncated { at: off });
        }
        let hdr = u16::from_be_bytes([b[off], b[off + 1]]);
        let t = (hdr >> 9) as u8;
        let len = usize::from(hdr & 0x01ff);
        let start = off + 2;
        let end = start + len;
        if end > b.len() {
            return Err(ParseError::Truncated { at: off });
        }
        let v = &b[start..end];
        off = end;
        // The first three TLVs are chassis id, port id and TTL, in that order.
        if index < 3 {
            let expected = [1u8, 2, 3][index];
            if t != expected {
                return Err(ParseError::Mandatory { expected, found: t });
            }
        }
        index += 1;
        match t {
            0 => {
                if len != 0 {
                    return Err(ParseError::BadLength { tlv: 0, len });
                }
                break;
            }
            1 | 2 => {
                if !(2..=256).contains(&len) {
                    return Err(ParseError::BadLength { tlv: t, len });
                }
                let id = id_tlv(t, v)?;
                if t == 1 {
                    chassis = chassis.or(Some(id));
                } else {
                    port = port.or(Some(id));
                }
            }
            3 => {
                if len < 2 {
                    return Err(ParseError::BadLength { tlv: 3, len });
                }
                ttl = ttl.or(Some(u16::from_be_bytes([v[0], v[1]])));
            }
            4 => pdu_desc = pdu_desc.or_else(|| Some(text_or_hex(v))),
            5 => name = name.or_else(|| Some(text_or_hex(v))),
            6 => sysdesc = sysdesc.or_else(|| Some(text_or_hex(v))),
            8 => {
                let m = mgmt_tlv(v)?;
                if mgmt.len() < MAX_MGMT_ADDRS {
                    mgmt.push(m);
                }
            }
            // Capabilities, organizationally specific and reserved TLVs: skipped.
            _ => {}
        }
    }
    let (chassis_id, port_id, ttl) = match (chassis, port, ttl) {
        (Some(c), Some(p), Some(t)) => (c, p, t),
        (None, _, _) => {
            return Err(ParseError::Mandatory {
                expected: 1,
                found: 0,
            })
        }
        (_, None, _) => {
            return Err(ParseError::Mandatory {
                expected: 2,
                found: 0,
            })
        }
        (_, _, None) => {
            return Err(ParseError::Mandatory {
                expected: 3,
                found: 0,
            })
        }
    };
    Ok(Lldpdu {
        source: String::new(),
        chassis_id,
        port_id,
        ttl,
        port_desc: pdu_desc,
        system_name: name,
        system_desc: sysdesc,
        mgmt_addrs: mgmt,
    })
}

/// A neighbour heard on an interface.
#[derive(Clone, Debug, PartialEq)]
pub struct Neighbour {
    /// The last LLDPDU.
    pub pdu: Lldpdu,
    /// When it was last heard (seconds since the epoch).
    pub last_seen: f64,
    /// When it expires (last_seen + TTL).
    pub expires: f64,
}

/// Neighbour key: interface + MSAP identifier (chassis id + port id, 802.1AB §9.2.4).
pub type NeighbourKey = (String, Id, Id);

/// What [`Table::update`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Update {
    /// A neighbour appeared.
    New,
    /// A known neighbour changed what it announces (name, description, addresses, TTL).
    Changed,
    /// The same announcement again (only times move).
    Refreshed,
    /// A TTL-0 shutdown frame removed the neighbour.
    Removed,
    /// Dropped: the table is full.
    Dropped,
}

/// The neighbour table: interface + chassis id + port id → neighbour, bounded.
#[derive(Clone, Debug, Default)]
pub struct Table {
    neighbours: BTreeMap<NeighbourKey, Neighbour>,
    max: usize,
    dropped: u64,
}

impl Table {
    /// An empty table holding at most `max` neighbours.
    pub fn new(max: usize) -> Table {
        Table {
            neighbours: BTreeMap::new(),
            max: max.max(1),
            dropped: 0,
        }
    }

    /// Records an LLDPDU heard on `iface` at `now`.
    pub fn update(&mut self, iface: &str, pdu: Lldpdu, now: f64) -> Update {
        let key = (
            iface.to_string(),
            pdu.chassis_id.clone(),
            pdu.port_id.clone(),
        );
        if pdu.ttl == 0 {
            return if self.neighbours.remove(&key).is_some() {
                Update::Removed
            } else {
                Update::Refreshed
            };
        }
        let n = Neighbour {
            expires: now + f64::from(pdu.ttl),
            last_seen: now,
            pdu,
        };
        let full = self.neighbours.len() >= self.max;
        match self.neighbours.get_mut(&key) {
            Some(old) => {
                let changed = old.pdu != n.pdu;
                *old = n;
                if changed {
                    Update::Changed
                } else {
                    Update::Refreshed
                }
            }
            None if full => {
                self.dropped += 1;
                Update::Dropped
            }
            None => {
                self.neighbours.insert(key, n);
                Update::New
            }
        }
    }

    /// Removes neighbours whose TTL ran out; returns how many.
    pub fn expire(&mut self, now: f64) -> usize {
        let before = self.neighbours.len();
        self.neighbours.retain(|_, n| n.expires > now);
        before - self.neighbours.len()
    }

    /// Forgets every neighbour of `iface` (link down, interface gone); returns how many.
    pub fn clear_interface(&mut self, iface: &str) -> usize {
        let before = self.neighbours.len();
        self.neighbours.retain(|k, _| k.0 != iface);
        before - self.neighbours.len()
    }

    /// Keeps only the neighbours of these interfaces.
    pub fn retain_interfaces(&mut self, ifaces: &[String]) {
        self.neighbours.retain(|k, _| ifaces.contains(&k.0));
    }

    /// The neighbours in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&NeighbourKey, &Neighbour)> {
        self.neighbours.iter()
    }

    /// Number of neighbours.
    pub fn len(&self) -> usize {
        self.neighbours.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.neighbours.is_empty()
    }

    /// Neighbours not tracked because the table was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

/// Builds an LLDPDU from TLVs (tests, fuzz corpus and benchmarks).
pub fn encode_tlvs(tlvs: &[(u8, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (t, v) in tlvs {
        let len = v.len().min(511);
        let hdr = (u16::from(*t) << 9) | len as u16;
        out.extend_from_slice(&hdr.to_be_bytes());
        out.extend_from_slice(&v[..len]);
    }
    out
}

/// Wraps an LLDPDU in an Ethernet header to the nearest-bridge address.
pub fn encode_frame(src: [u8; 6], pdu: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + pdu.len());
    f.extend_from_slice(&NEAREST_BRIDGE);
    f.extend_from_slice(&src);
    f.extend_from_slice(&ETHERTYPE_LLDP.to_be_bytes());
    f.extend_from_slice(pdu);
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A frame lldpd 1.0.16 sent over a veth (tx-hold 2, port id subtype ifname).
    const LLDPD_FRAME: &str = "0180c200000ea63ef9e90d0d88cc020704a63ef9e90d0d04050573777031060200020a0473772d610c5644656269616e20474e552f4c696e75782031322028626f6f6b776f726d29204c696e757820362e31382e34342d66632d763131343720233120534d5020505245454d50545f44594e414d4943204030207838365f36340e04009c0080080473777031fe0900120f030100000000fe0900120f0100800000360000";

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
            .collect()
    }

    fn minimal(extra: &[(u8, &[u8])]) -> Vec<u8> {
        let mut tlvs: Vec<(u8, &[u8])> = vec![
            (1, &[4, 0x00, 0x1b, 0x21, 0xaa, 0xbb, 0xcc]),
            (2, b"\x05Ethernet1/27"),
            (3, &[0, 120]),
        ];
        tlvs.extend_from_slice(extra);
        tlvs.push((0, &[]));
        encode_tlvs(&tlvs)
    }

    #[test]
    fn parses_a_real_lldpd_frame() {
        let p = parse_frame(&unhex(LLDPD_FRAME)).expect("parse");
        assert_eq!(p.source, "a6:3e:f9:e9:0d:0d");
        assert_eq!(
            p.chassis_id,
            Id {
                subtype: CHASSIS_MAC,
                value: "a6:3e:f9:e9:0d:0d".into()
            }
        );
        assert_eq!(
            p.port_id,
            Id {
                subtype: 5,
                value: "swp1".into()
            }
        );
        assert_eq!(p.ttl, 2);
        assert_eq!(p.system_name.as_deref(), Some("sw-a"));
        assert_eq!(p.port_desc.as_deref(), Some("swp1"));
        assert!(p
            .system_desc
            .as_deref()
            .is_some_and(|d| d.contains("Linux")));
        assert!(p.mgmt_addrs.is_empty());
    }

    #[test]
    fn renders_subtypes() {
        let b = minimal(&[
            (4, b"uplink to dtn-a"),
            (5, b"sw-a.example.net"),
            // mgmt: len 5, IPv4 172.16.1.1, ifIndex 27, no OID
            (8, &[5, 1, 172, 16, 1, 1, 2, 0, 0, 0, 27, 0]),
            // mgmt: IPv6 2001:db8::1
            (
                8,
                &[
                    17, 2, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0,
                    0, 0,
                ],
            ),
            (127, &[0x00, 0x12, 0x0f, 1, 3, 0x6c, 0, 0, 0x10]),
        ]);
        let p = parse_lldpdu(&b).expect("parse");
        assert_eq!(p.chassis_id.value, "00:1b:21:aa:bb:cc");
        assert_eq!(p.port_id.value, "Ethernet1/27");
        assert_eq!(p.ttl, 120);
        assert_eq!(p.port_desc.as_deref(), Some("uplink to dtn-a"));
        assert_eq!(p.system_name.as_deref(), Some("sw-a.example.net"));
        assert_eq!(p.mgmt_addrs.len(), 2);
        assert_eq!(p.mgmt_addrs[0].address, "172.16.1.1");
        assert_eq!(p.mgmt_addrs[0].if_number, 27);
        assert_eq!(p.mgmt_addrs[1].address, "2001:db8::1");

        assert_eq!(render_id(5, &[1, 10, 0, 0, 1], false), "10.0.0.1");
        assert_eq!(render_id(4, &[2, 0xfe, 0x80, 0], true), "02:fe:80:00");
        assert_eq!(render_id(3, &[0, 1, 2, 3, 4, 5], true), "00:01:02:03:04:05");
        assert_eq!(render_id(7, b"ab\x01c", true), "61:62:01:63");
        assert_eq!(render_id(7, b"42\0", false), "42");
        assert_eq!(render_id(6, "ens2f0np0".as_bytes(), false), "ens2f0np0");
    }

    #[test]
    fn hostile_frames_are_errors() {
        let good = minimal(&[]);
        // Every truncation of a good LLDPDU errs, but the one that only drops the End
        // TLV (tolerated: some agents omit it).
        for n in 0..good.len() {
            let r = parse_lldpdu(&good[..n]);
            assert_eq!(r.is_ok(), n == good.len() - 2, "cut at {n}: {r:?}");
        }
        assert!(parse_lldpdu(&good).is_ok());
        // Length past the end.
        let mut b = good.clone();
        b[1] = 0xff;
        assert_eq!(parse_lldpdu(&b), Err(ParseError::Truncated { at: 0 }));
        // Out of order mandatory TLVs.
        let b = encode_tlvs(&[(2, b"\x05x"), (1, b"\x07y"), (3, &[0, 1])]);
        assert_eq!(
            parse_lldpdu(&b),
            Err(ParseError::Mandatory {
                expected: 1,
                found: 2
            })
        );
        // Empty id, short TTL, end TLV with a length, bad management address.
        for tlvs in [
            vec![(1u8, &b"\x04"[..]), (2, b"\x05x"), (3, &[0, 1])],
            vec![(1, b"\x07a"), (2, b"\x05x"), (3, &[1])],
            vec![(1, b"\x07a"), (2, b"\x05x"), (3, &[0, 1]), (0, b"x")],
            vec![(1, b"\x07a"), (2, b"\x05x"), (3, &[0, 1]), (8, &[40, 1, 2])],
            vec![
                (1, b"\x07a"),
                (2, b"\x05x"),
                (3, &[0, 1]),
                (8, &[5, 1, 1, 2, 3, 4, 2, 0, 0, 0, 1, 9]),
            ],
        ] {
            let r = parse_lldpdu(&encode_tlvs(&tlvs));
            assert!(
                matches!(r, Err(ParseError::BadLength { .. })),
                "{tlvs:?}: {r:?}"
            );
        }
        // 1,500 bytes of TLVs after the mandatory ones: parsed, bounded.
        let mut b = minimal(&[]);
        b.truncate(b.len() - 2);
        for _ in 0..300 {
            b.extend_from_slice(&encode_tlvs(&[(8, &[5, 1, 10, 0, 0, 1, 1, 0, 0, 0, 0, 0])]));
        }
        let p = parse_lldpdu(&b).expect("long");
        assert_eq!(p.mgmt_addrs.len(), MAX_MGMT_ADDRS);
        // Not LLDP, short frames, tagged frames.
        let mut f = encode_frame([2, 0, 0, 0, 0, 1], &good);
        assert!(parse_frame(&f).is_ok());
        f[12] = 0x08;
        f[13] = 0x00;
        assert_eq!(
            parse_frame(&f),
            Err(ParseError::NotLldp { ethertype: 0x0800 })
        );
        assert_eq!(parse_frame(&f[..5]), Err(ParseError::Truncated { at: 0 }));
        let mut tagged = encode_frame([2, 0, 0, 0, 0, 1], &good);
        tagged.splice(12..12, [0x81, 0x00, 0x03, 0xe8]);
        assert_eq!(parse_frame(&tagged).map(|p| p.ttl), Ok(120));
        assert_eq!(
            parse_frame(&tagged[..16]),
            Err(ParseError::Truncated { at: 0 })
        );
        for e in [
            ParseError::Truncated { at: 3 },
            ParseError::NotLldp { ethertype: 1 },
            ParseError::Mandatory {
                expected: 3,
                found: 0,
            },
            ParseError::BadLength { tlv: 8, len: 2 },
        ] {
            assert!(ParseError::REASONS.contains(&e.reason()));
            assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn table_updates_expires_and_shuts_down() {
        let mut t = Table::new(2);
        let p = parse_lldpdu(&minimal(&[(5, b"sw-a")])).expect("parse");
        assert_eq!(t.update("eth0", p.clone(), 100.0), Update::New);
        assert_eq!(t.update("eth0", p.clone(), 101.0), Update::Refreshed);
        let mut renamed = p.clone();
        renamed.system_name = Some("sw-b".into());
        assert_eq!(t.update("eth0", renamed, 102.0), Update::Changed);
        assert_eq!(t.update("eth1", p.clone(), 102.0), Update::New);
        let mut other = p.clone();
        other.port_id.value = "Ethernet1/28".into();
        assert_eq!(t.update("eth1", other, 102.0), Update::Dropped);
        assert_eq!(t.dropped(), 1);
        assert_eq!(t.expire(221.0), 0);
        assert_eq!(t.expire(222.5), 2);
        assert!(t.is_empty());
        t.update("eth0", p.clone(), 300.0);
        let mut bye = p.clone();
        bye.ttl = 0;
        assert_eq!(t.update("eth0", bye, 301.0), Update::Removed);
        assert!(t.is_empty());
        t.update("eth0", p.clone(), 300.0);
        t.update("eth1", p, 300.0);
        assert_eq!(t.clear_interface("eth0"), 1);
        t.retain_interfaces(&["eth9".into()]);
        assert_eq!(t.len(), 0);
    }
}
