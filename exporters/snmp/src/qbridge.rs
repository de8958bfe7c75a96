//! The built-in `qbridge_vlan` module: which ports carry which VLAN (Q-BRIDGE-MIB
//! dot1qVlanCurrentTable, or dot1qVlanStaticTable on agents without a current table),
//! each PortList bitmap joined to ifIndex through dot1dBasePortIfIndex and to ifName
//! through the lookup cache.
//!
//! Emits `rtmon_snmp_vlan_port_info{vlan,port,ifIndex,ifName,untagged,table} 1`: one
//! series per VLAN per egress port (`untagged` "true" when the port is also in the
//! VLAN's untagged set; `table` "current" or "static"), so "is VLAN 1000 on port X" is a
//! plain PromQL match. Bridge ports set in a list but absent from dot1dBasePortIfIndex
//! are never turned into series; their number is `rtmon_snmp_vlan_unmapped_ports{vlan}`.
//!
//! PortList encodings ([`decode_port_list`]): a bitmap (first octet's most significant
//! bit = bridge port 1), as the MIB defines and most agents send; and three odd forms
//! seen in real captures: raw octets followed by a newline and the rest of the bitmap
//! as hex-dump text (decoded and appended), the bitmap as hex-dump text (`ff ff f8 80 00`,
//! decoded as that hex) and a comma-separated list of bridge port numbers (JunOS:
//! `0,4097,4099`; port 0 does not exist and is dropped).

use std::collections::{BTreeMap, BTreeSet};

use rtmon::expo::{MetricSet, MetricType, Value};

use crate::client::SnmpValue;
use crate::fdb::BASE_PORT_IFINDEX;
use crate::ifmib::IfCache;
use crate::walk::Column;

/// dot1qVlanCurrentEgressPorts (index: dot1qVlanTimeMark.dot1qVlanIndex).
pub const CURRENT_EGRESS: [u32; 13] = [1, 3, 6, 1, 2, 1, 17, 7, 1, 4, 2, 1, 4];
/// dot1qVlanCurrentUntaggedPorts.
pub const CURRENT_UNTAGGED: [u32; 13] = [1, 3, 6, 1, 2, 1, 17, 7, 1, 4, 2, 1, 5];
/// dot1qVlanStaticEgressPorts (index: dot1qVlanIndex).
pub const STATIC_EGRESS: [u32; 13] = [1, 3, 6, 1, 2, 1, 17, 7, 1, 4, 3, 1, 2];
/// dot1qVlanStaticUntaggedPorts.
pub const STATIC_UNTAGGED: [u32; 13] = [1, 3, 6, 1, 2, 1, 17, 7, 1, 4, 3, 1, 4];

/// The columns walked, in the order [`emit`] expects.
pub fn columns() -> Vec<Vec<u32>> {
    vec![
        BASE_PORT_IFINDEX.to_vec(),
        CURRENT_EGRESS.to_vec(),
        CURRENT_UNTAGGED.to_vec(),
        STATIC_EGRESS.to_vec(),
        STATIC_UNTAGGED.to_vec(),
    ]
}

/// Bridge port numbers a PortList value names (see the module docs for the
/// encodings). Never fails: bytes that fit no text form are a bitmap.
pub fn decode_port_list(raw: &[u8]) -> BTreeSet<u32> {
    let is_text =
        |b: &[u8], allowed: &dyn Fn(u8) -> bool| !b.is_empty() && b.iter().all(|&c| allowed(c));
    // A comma list of bridge ports: `0,4097,4099` (also a lone `0`).
    if is_text(raw, &|c| c.is_ascii_digit() || c == b',') && raw[0] != b',' {
        return std::str::from_utf8(raw)
            .unwrap_or("")
            .split(',')
            .filter_map(|p| p.parse::<u32>().ok())
            .filter(|&p| p > 0)
            .collect();
    }
    // Hex-dump text of the bitmap: `ff ff f8 80 00` (pairs separated by one space or
    // colon).
    if raw.len() >= 2 && (raw.len() + 1) % 3 == 0 {
        let pairs: Option<Vec<u8>> = raw
            .chunks(3)
            .map(|c| {
                let sep_ok = c.len() == 2 || c[2] == b' ' || c[2] == b':';
                let hex = std::str::from_utf8(&c[..2]).ok()?;
                if !sep_ok || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return None;
                }
                u8::from_str_radix(hex, 16).ok()
            })
            .collect();
        if let Some(bytes) = pairs {
            return bitmap(&bytes);
        }
    }
    // Raw octets, then `\n` and the rest of the bitmap as hex-dump text (lines of
    // `00 00 …`): a capture that rendered all but its first line as text. The text is
    // decoded and appended; a token that is not two hex digits ends it.
    let dump = |c: u8| c.is_ascii_hexdigit() || c == b' ' || c == b'\n';
    if let Some(i) = raw.iter().position(|&c| c == b'\n') {
        let tail = &raw[i..];
        if tail.len() >= 4 && tail.contains(&b' ') && tail.iter().all(|&c| dump(c)) {
            let mut bytes = raw[..i].to_vec();
            for tok in std::str::from_utf8(tail)
                .unwrap_or("")
                .split_ascii_whitespace()
            {
                match (tok.len(), u8::from_str_radix(tok, 16)) {
                    (2, Ok(b)) => bytes.push(b),
                    _ => break,
                }
            }
            return bitmap(&bytes);
        }
    }
    bitmap(raw)
}

/// Bridge ports of a bitmap: bit 7 of octet 0 is port 1.
fn bitmap(bytes: &[u8]) -> BTreeSet<u32> {
    let mut out = BTreeSet::new();
    for (i, b) in bytes.iter().enumerate() {
        for bit in 0..8u32 {
            if b & (0x80 >> bit) != 0 {
                if let Ok(i) = u32::try_from(i) {
                    out.insert(i * 8 + bit + 1);
                }
            }
        }
    }
    out
}

/// VLAN → (egress ports, untagged ports) of one table; `vlan_of` maps a row index to
/// its VLAN id.
type Members = BTreeMap<u32, (BTreeSet<u32>, BTreeSet<u32>)>;

fn members(egress: &Column, untagged: &Column, vlan_of: fn(&[u32]) -> Option<u32>) -> Members {
    let mut out: Members = BTreeMap::new();
    for (idx, v) in egress {
        let (Some(vlan), SnmpValue::Bytes(b)) = (vlan_of(idx), v) else {
            continue;
        };
        out.entry(vlan).or_default().0.extend(decode_port_list(b));
    }
    for (idx, v) in untagged {
        let (Some(vlan), SnmpValue::Bytes(b)) = (vlan_of(idx), v) else {
            continue;
        };
        if let Some(e) = out.get_mut(&vlan) {
            e.1.extend(decode_port_list(b));
        }
    }
    out
}

/// VLAN ids are 1..=4094 (4095 is reserved, 0 means "no VLAN").
fn valid_vlan(v: u32) -> Option<u32> {
    (1..=4094).contains(&v).then_some(v)
}

/// Emits VLAN membership from the walked [`columns`].
pub fn emit(out: &mut MetricSet, cols: &[Column], cache: Option<&IfCache>) {
    let empty = Column::new();
    let get = |i: usize| cols.get(i).unwrap_or(&empty);
    let port_if = crate::fdb::bridge_port_if_index(get(0));
    let current = members(get(1), get(2), |idx| match idx {
        [_time_mark, vlan] => valid_vlan(*vlan),
        _ => None,
    });
    let (table, vlans) = if current.is_empty() {
        (
            "static",
            members(get(3), get(4), |idx| match idx {
                [vlan] => valid_vlan(*vlan),
                _ => None,
            }),
        )
    } else {
        ("current", current)
    };
    let mut unmapped: Vec<(u32, usize)> = Vec::new();
    let fam = out.family(
        "rtmon_snmp_vlan_port_info",
        "A VLAN's egress port (Q-BRIDGE-MIB dot1qVlanCurrentEgressPorts, or dot1qVlanStaticEgressPorts without a current table): bridge port, ifIndex/ifName, whether untagged, and the table read.",
        MetricType::Gauge,
    );
    for (vlan, (egress, untagged)) in &vlans {
        let mut missing = 0;
        for port in egress {
            let Some(ifindex) = port_if.get(port) else {
                missing += 1;
                continue;
            };
            let ifname = cache
                .and_then(|c| c.rows.get(ifindex))
                .map(|r| r.name.clone())
                .unwrap_or_default();
            fam.add_owned(
                vec![
                    ("ifIndex".into(), ifindex.to_string()),
                    ("ifName".into(), ifname),
                    ("port".into(), port.to_string()),
                    ("table".into(), table.into()),
                    ("untagged".into(), untagged.contains(port).to_string()),
                    ("vlan".into(), vlan.to_string()),
                ],
                Value::U64(1),
            );
        }
        if missing > 0 {
            unmapped.push((*vlan, missing));
        }
    }
    let fam = out.family(
        "rtmon_snmp_vlan_unmapped_ports",
        "Bridge ports a VLAN's port list names that dot1dBasePortIfIndex does not know (not exported as ports).",
        MetricType::Gauge,
    );
    for (vlan, n) in unmapped {
        fam.add_owned(
            vec![("vlan".into(), vlan.to_string())],
            Value::U64(n as u64),
        );
    }
    out.prune_empty();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings() {
        assert_eq!(decode_port_list(&[0x80, 0x01]), BTreeSet::from([1, 16]));
        assert_eq!(decode_port_list(&[]), BTreeSet::new());
        assert_eq!(decode_port_list(b"0"), BTreeSet::new());
        assert_eq!(
            decode_port_list(b"0,4097,4099"),
            BTreeSet::from([4097, 4099])
        );
        assert_eq!(decode_port_list(b"c0 00 01"), BTreeSet::from([1, 2, 24]));
        let mut odd = vec![0x40, 0x00];
        odd.extend_from_slice(b"\n00 80 \n01 0");
        assert_eq!(decode_port_list(&odd), BTreeSet::from([2, 25, 40]));
        // A real bitmap that happens to contain 0x0a is still a bitmap.
        assert_eq!(decode_port_list(&[0x0a, 0xff]), bitmap(&[0x0a, 0xff]));
    }

    #[test]
    fn joins_ports_and_prefers_the_current_table() {
        let mut cols = vec![Column::new(); 5];
        cols[0].insert(vec![1], SnmpValue::Integer(101));
        cols[0].insert(vec![2], SnmpValue::Integer(102));
        // Current: VLAN 1000 on bridge ports 1, 2 and 9 (9 unknown), 2 untagged.
        cols[1].insert(vec![0, 1000], SnmpValue::Bytes(vec![0xc0, 0x80]));
        cols[2].insert(vec![0, 1000], SnmpValue::Bytes(vec![0x40]));
        cols[1].insert(vec![0, 5000], SnmpValue::Bytes(vec![0xc0])); // invalid VLAN
        cols[3].insert(vec![2000], SnmpValue::Bytes(vec![0xc0])); // static: ignored
        let mut cache = IfCache::build(&[], None, None);
        cache.rows.insert(
            101,
            crate::ifmib::IfInfo {
                name: "Ethernet1".into(),
                ..Default::default()
            },
        );
        let mut m = MetricSet::new();
        emit(&mut m, &cols, Some(&cache));
        let t = rtmon::expo::encode_text(&m);
        assert!(t.contains("rtmon_snmp_vlan_port_info{ifIndex=\"101\",ifName=\"Ethernet1\",port=\"1\",table=\"current\",untagged=\"false\",vlan=\"1000\"} 1\n"), "{t}");
        assert!(t.contains("rtmon_snmp_vlan_port_info{ifIndex=\"102\",ifName=\"\",port=\"2\",table=\"current\",untagged=\"true\",vlan=\"1000\"} 1\n"), "{t}");
        assert_eq!(t.matches("rtmon_snmp_vlan_port_info{").count(), 2, "{t}");
        assert!(
            t.contains("rtmon_snmp_vlan_unmapped_ports{vlan=\"1000\"} 1\n"),
            "{t}"
        );
        // Without a current table, the static one.
        cols[1].clear();
        cols[2].clear();
        let mut m = MetricSet::new();
        emit(&mut m, &cols, Some(&cache));
        let t = rtmon::expo::encode_text(&m);
        assert!(
            t.contains("table=\"static\",untagged=\"false\",vlan=\"2000\"} 1\n"),
            "{t}"
        );
        assert_eq!(t.matches("rtmon_snmp_vlan_port_info{").count(), 2, "{t}");
    }
}
