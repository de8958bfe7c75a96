//! The built-in `lldp` module: who is at the other end of each port, from the LLDP
//! agent's remote table — LLDP-MIB `lldpRemTable` (1.0.8802.1.1.2.1.4.1), or LLDP-V2-MIB
//! `lldpV2RemTable` (1.3.111.2.802.1.1.13.1.4.1) on agents that only have that.
//!
//! Emits `rtmon_snmp_lldp_neighbor_info{ifName, ifIndex, remote_chassis_id,
//! remote_chassis_id_subtype, remote_port_id, remote_port_id_subtype, remote_port_desc,
//! remote_system_name} 1`, one series per remote-table row.
//!
//! Rows are indexed `timeMark.localPortNum.remIndex` (V2: `timeMark.ifIndex.destAddr.
//! remIndex`). The LLDP local port number is not always an ifIndex (Arista numbers
//! ports 1…n, Dell OS9 uses its own large numbers, Junos uses the ifIndex), so it is
//! resolved like this, first match wins: the port's `lldpLocPortId` as an ifName (or
//! ifDescr), its `lldpLocPortDesc` as an ifName (or ifDescr), the port number as a
//! bridge port (`dot1dBasePortIfIndex`), the port number as an ifIndex. V2 rows carry
//! the ifIndex itself.
//!
//! Chassis and port ids render as `aa:bb:cc:dd:ee:ff` when their subtype says MAC
//! address (from 6 raw octets, or from text such agents put there: `e4 f0 04 fb 1f
//! fb`, `28:99:3a:bf:26:46`, `001b.21bb.e6f0`), as an IP for a network address, as
//! text when printable and colon hex otherwise — the same rendering as the host-side
//! LLDP listener of rtmon-arp-exporter, so the two can be compared.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use rtmon::expo::{MetricSet, MetricType, Value};

use crate::client::SnmpValue;
use crate::ifmib::IfCache;
use crate::walk::Column;

/// lldpRemEntry (columns 4 chassis subtype … 9 system name).
pub const REM_ENTRY: [u32; 10] = [1, 0, 8802, 1, 1, 2, 1, 4, 1, 1];
/// lldpLocPortEntry (columns 2 port id subtype, 3 port id, 4 port desc).
pub const LOC_PORT_ENTRY: [u32; 10] = [1, 0, 8802, 1, 1, 2, 1, 3, 7, 1];
/// lldpV2RemEntry (columns 5 chassis subtype … 10 system name).
pub const V2_REM_ENTRY: [u32; 12] = [1, 3, 111, 2, 802, 1, 1, 13, 1, 4, 1, 1];

fn col(prefix: &[u32], c: u32) -> Vec<u32> {
    let mut v = prefix.to_vec();
    v.push(c);
    v
}

/// The LLDP-MIB columns walked first, in the order [`emit`] expects: remote chassis id
/// subtype, chassis id, port id subtype, port id, port description, system name; local
/// port id subtype, port id, port description; dot1dBasePortIfIndex.
pub fn columns() -> Vec<Vec<u32>> {
    let mut v: Vec<Vec<u32>> = (4..=9).map(|c| col(&REM_ENTRY, c)).collect();
    v.extend((2..=4).map(|c| col(&LOC_PORT_ENTRY, c)));
    v.push(crate::fdb::BASE_PORT_IFINDEX.to_vec());
    v
}

/// The LLDP-V2-MIB remote columns (walked when the LLDP-MIB remote table is empty), in
/// the same order as the first six of [`columns`].
pub fn v2_columns() -> Vec<Vec<u32>> {
    (5..=10).map(|c| col(&V2_REM_ENTRY, c)).collect()
}

/// Whether the LLDP-MIB remote table had no rows (then walk [`v2_columns`]).
pub fn v1_empty(cols: &[Column]) -> bool {
    cols.iter().take(6).all(|c| c.is_empty())
}

/// Chassis id subtype names (LLDP-MIB LldpChassisIdSubtype).
pub fn chassis_subtype_name(s: i64) -> &'static str {
    match s {
        1 => "chassisComponent",
        2 => "interfaceAlias",
        3 => "portComponent",
        4 => "macAddress",
        5 => "networkAddress",
        6 => "interfaceName",
        7 => "local",
        _ => "",
    }
}

/// Port id subtype names (LLDP-MIB LldpPortIdSubtype).
pub fn port_subtype_name(s: i64) -> &'static str {
    match s {
        1 => "interfaceAlias",
        2 => "portComponent",
        3 => "macAddress",
        4 => "networkAddress",
        5 => "interfaceName",
        6 => "agentCircuitId",
        7 => "local",
        _ => "",
    }
}

fn hex_colon(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn text_or_hex(b: &[u8]) -> String {
    let end = b.iter().rposition(|&c| c != 0).map_or(0, |p| p + 1);
    match std::str::from_utf8(&b[..end]) {
        Ok(s) if !s.chars().any(char::is_control) => s.to_string(),
        _ => hex_colon(b),
    }
}

/// A MAC written as text by an agent (`e4 f0 04 fb 1f fb`, `28:99:3a:bf:26:46`,
/// `28-99-3A-BF-26-46`, `001b.21bb.e6f0`, `001B21BBE6F0`) as `aa:bb:cc:dd:ee:ff`.
pub fn mac_from_text(s: &str) -> Option<String> {
    let hex: String = s
        .chars()
        .filter(|c| !matches!(c, ' ' | ':' | '-' | '.'))
        .collect();
    if hex.len() != 12 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let bytes: Vec<u8> = (0..6)
        .filter_map(|i| u8::from_str_radix(&hex[i * 2..i * 2 + 2], 16).ok())
        .collect();
    (bytes.len() == 6).then(|| hex_colon(&bytes))
}

/// Renders a chassis (`port == false`) or port id value by its subtype.
pub fn render_id(subtype: i64, v: &[u8], port: bool) -> String {
    let (mac, net) = if port { (3, 4) } else { (4, 5) };
    if subtype == mac {
        if v.len() == 6 {
            return hex_colon(v);
        }
        if let Some(m) = std::str::from_utf8(v).ok().and_then(mac_from_text) {
            return m;
        }
        return text_or_hex(v);
    }
    if subtype == net {
        let ip = match v {
            [1, a, b, c, d] => Some(IpAddr::V4(Ipv4Addr::new(*a, *b, *c, *d))),
            [2, rest @ ..] if rest.len() == 16 => {
                let mut a = [0u8; 16];
                a.copy_from_slice(rest);
                Some(IpAddr::V6(Ipv6Addr::from(a)))
            }
            _ => None,
        };
        if let Some(ip) = ip {
            return ip.to_string();
        }
    }
    text_or_hex(v)
}

fn bytes(v: Option<&SnmpValue>) -> &[u8] {
    match v {
        Some(SnmpValue::Bytes(b)) => b,
        _ => &[],
    }
}

/// Resolves an LLDP local port number to an ifIndex (see the module docs).
fn local_ifindex(
    port: u32,
    cols: &[Column],
    cache: Option<&IfCache>,
    bridge: &BTreeMap<u32, u32>,
) -> Option<u32> {
    let cache = cache?;
    let by_name = |s: &str| -> Option<u32> {
        if s.is_empty() {
            return None;
        }
        cache.find(s).map(|(i, _)| i).or_else(|| {
            cache
                .rows
                .iter()
                .find(|(_, r)| r.descr == s)
                .map(|(i, _)| *i)
        })
    };
    let key = vec![port];
    let id_subtype = cols
        .get(6)
        .and_then(|c| c.get(&key))
        .and_then(SnmpValue::as_i64);
    let id = cols
        .get(7)
        .and_then(|c| c.get(&key))
        .and_then(SnmpValue::as_text);
    let desc = cols
        .get(8)
        .and_then(|c| c.get(&key))
        .and_then(SnmpValue::as_text);
    // A MAC-address port id names no interface.
    id.filter(|_| id_subtype != Some(3))
        .and_then(|s| by_name(&s))
        .or_else(|| desc.and_then(|s| by_name(&s)))
        .or_else(|| {
            bridge
                .get(&port)
                .copied()
                .filter(|i| cache.rows.contains_key(i))
        })
        .or_else(|| cache.rows.contains_key(&port).then_some(port))
}

/// Emits neighbours from the walked [`columns`] (`v2`: the first six columns are
/// [`v2_columns`] instead, indexed by ifIndex).
pub fn emit(out: &mut MetricSet, cols: &[Column], cache: Option<&IfCache>, v2: bool) {
    let empty = Column::new();
    let get = |i: usize| cols.get(i).unwrap_or(&empty);
    let bridge = crate::fdb::bridge_port_if_index(get(9));
    let fam = out.family(
        "rtmon_snmp_lldp_neighbor_info",
        "An LLDP neighbour of a port (LLDP-MIB lldpRemTable, or LLDP-V2-MIB lldpV2RemTable): the local ifName/ifIndex and the remote chassis id, port id (with their subtypes; MACs as aa:bb:…), port description and system name.",
        MetricType::Gauge,
    );
    // Rows are keyed by the chassis id column (a row without one is no neighbour).
    for (idx, chassis) in get(1) {
        // timeMark.localPortNum.remIndex, or V2 timeMark.ifIndex.destAddr.remIndex
        let want = if v2 { 4 } else { 3 };
        if idx.len() != want {
            continue;
        }
        let port = idx[1];
        let ifindex = if v2 {
            Some(port)
        } else {
            local_ifindex(port, cols, cache, &bridge)
        };
        let ifname = ifindex
            .and_then(|i| cache.and_then(|c| c.rows.get(&i)))
            .map(|r| r.name.clone())
            .unwrap_or_default();
        let cs = get(0).get(idx).and_then(SnmpValue::as_i64).unwrap_or(0);
        let ps = get(2).get(idx).and_then(SnmpValue::as_i64).unwrap_or(0);
        let text = |i: usize| {
            get(i)
                .get(idx)
                .and_then(SnmpValue::as_text)
                .unwrap_or_default()
        };
        fam.add_owned(
            vec![
                ("ifName".into(), ifname),
                (
                    "ifIndex".into(),
                    ifindex.map(|i| i.to_string()).unwrap_or_default(),
                ),
                (
                    "remote_chassis_id".into(),
                    render_id(cs, bytes(Some(chassis)), false),
                ),
                (
                    "remote_chassis_id_subtype".into(),
                    chassis_subtype_name(cs).to_string(),
                ),
                (
                    "remote_port_id".into(),
                    render_id(ps, bytes(get(3).get(idx)), true),
                ),
                (
                    "remote_port_id_subtype".into(),
                    port_subtype_name(ps).to_string(),
                ),
                ("remote_port_desc".into(), text(4)),
                ("remote_system_name".into(), text(5)),
            ],
            Value::U64(1),
        );
    }
    out.prune_empty();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ifmib::IfInfo;

    fn cache(rows: &[(u32, &str, &str)]) -> IfCache {
        let mut c = IfCache::build(&[], None, None);
        for (i, name, descr) in rows {
            c.rows.insert(
                *i,
                IfInfo {
                    name: (*name).into(),
                    descr: (*descr).into(),
                    ..Default::default()
                },
            );
        }
        c
    }

    fn b(s: &[u8]) -> SnmpValue {
        SnmpValue::Bytes(s.to_vec())
    }

    #[test]
    fn renders_ids() {
        assert_eq!(
            render_id(4, &[0, 0x1b, 0x21, 0xbb, 0xe6, 0xf0], false),
            "00:1b:21:bb:e6:f0"
        );
        assert_eq!(
            render_id(4, b"e4 f0 04 fb 1f fb", false),
            "e4:f0:04:fb:1f:fb"
        );
        assert_eq!(
            render_id(4, b"28:99:3A:BF:26:46", false),
            "28:99:3a:bf:26:46"
        );
        assert_eq!(render_id(4, b"001b.21bb.e6f0", false), "00:1b:21:bb:e6:f0");
        assert_eq!(render_id(3, &[2, 0, 0, 0, 0, 9], true), "02:00:00:00:00:09");
        assert_eq!(render_id(5, &[1, 172, 16, 1, 1], false), "172.16.1.1");
        assert_eq!(render_id(5, b"Ethernet1/27", true), "Ethernet1/27");
        assert_eq!(render_id(7, b"2150", true), "2150");
        assert_eq!(render_id(7, &[1, 2, 0xff], true), "01:02:ff");
        assert_eq!(mac_from_text("not a mac"), None);
    }

    /// Arista-like: ports numbered 1…n, ids = ifName; Junos-like: port num = ifIndex,
    /// id = ifIndex as text, desc = ifName; a bridge-port numbered agent; an
    /// unresolvable port.
    #[test]
    #[allow(clippy::type_complexity)]
    fn joins_local_ports_by_id_desc_bridge_port_and_ifindex() {
        let mut cols = vec![Column::new(); 10];
        let rows: [(&[u32], i64, &[u8], i64, &[u8], &[u8], &[u8]); 4] = [
            (
                &[0, 1, 68],
                4,
                &[0, 0x1b, 0x21, 0xbb, 0xe6, 0xf0],
                5,
                b"ens2f0np0",
                b"",
                b"dtn-a",
            ),
            (
                &[0, 513, 3],
                4,
                b"50 c5 8d 12 34 56",
                7,
                b"2150",
                b"xe-0/0/1",
                b"sw-b",
            ),
            (&[7, 9, 1], 6, b"sw-c", 5, b"Ethernet9", b"", b"sw-c"),
            (
                &[0, 99, 1],
                4,
                &[2, 0, 0, 0, 0, 1],
                3,
                &[2, 0, 0, 0, 0, 1],
                b"",
                b"",
            ),
        ];
        for (idx, cs, c, ps, p, pd, sn) in rows {
            cols[0].insert(idx.to_vec(), SnmpValue::Integer(cs));
            cols[1].insert(idx.to_vec(), b(c));
            cols[2].insert(idx.to_vec(), SnmpValue::Integer(ps));
            cols[3].insert(idx.to_vec(), b(p));
            cols[4].insert(idx.to_vec(), b(pd));
            cols[5].insert(idx.to_vec(), b(sn));
        }
        cols[6].insert(vec![1], SnmpValue::Integer(5));
        cols[7].insert(vec![1], b(b"Ethernet1"));
        cols[6].insert(vec![513], SnmpValue::Integer(7));
        cols[7].insert(vec![513], b(b"513"));
        cols[8].insert(vec![513], b(b"xe-0/0/0"));
        cols[9].insert(vec![9], SnmpValue::Integer(1009));
        cols[1].insert(vec![0, 1], b(b"bad index")); // malformed index: skipped
        let c = cache(&[
            (1, "Ethernet1", "Ethernet1"),
            (501, "xe-0/0/0", "xe-0/0/0"),
            (1009, "Ethernet9", "Ethernet9"),
        ]);
        let mut m = MetricSet::new();
        emit(&mut m, &cols, Some(&c), false);
        let t = rtmon::expo::encode_text(&m);
        for want in [
            "rtmon_snmp_lldp_neighbor_info{ifName=\"Ethernet1\",ifIndex=\"1\",remote_chassis_id=\"00:1b:21:bb:e6:f0\",remote_chassis_id_subtype=\"macAddress\",remote_port_id=\"ens2f0np0\",remote_port_id_subtype=\"interfaceName\",remote_port_desc=\"\",remote_system_name=\"dtn-a\"} 1\n",
            "rtmon_snmp_lldp_neighbor_info{ifName=\"xe-0/0/0\",ifIndex=\"501\",remote_chassis_id=\"50:c5:8d:12:34:56\",remote_chassis_id_subtype=\"macAddress\",remote_port_id=\"2150\",remote_port_id_subtype=\"local\",remote_port_desc=\"xe-0/0/1\",remote_system_name=\"sw-b\"} 1\n",
            "rtmon_snmp_lldp_neighbor_info{ifName=\"Ethernet9\",ifIndex=\"1009\",remote_chassis_id=\"sw-c\",remote_chassis_id_subtype=\"interfaceName\",remote_port_id=\"Ethernet9\",remote_port_id_subtype=\"interfaceName\",remote_port_desc=\"\",remote_system_name=\"sw-c\"} 1\n",
            "rtmon_snmp_lldp_neighbor_info{ifName=\"\",ifIndex=\"\",remote_chassis_id=\"02:00:00:00:00:01\",remote_chassis_id_subtype=\"macAddress\",remote_port_id=\"02:00:00:00:00:01\",remote_port_id_subtype=\"macAddress\",remote_port_desc=\"\",remote_system_name=\"\"} 1\n",
        ] {
            assert!(t.contains(want), "missing {want}\nin\n{t}");
        }
        assert_eq!(
            t.matches("rtmon_snmp_lldp_neighbor_info{").count(),
            4,
            "{t}"
        );
        assert!(!v1_empty(&cols));
    }

    #[test]
    fn v2_rows_carry_the_ifindex() {
        let mut cols = vec![Column::new(); 10];
        let idx = vec![0, 18, 1, 1];
        cols[0].insert(idx.clone(), SnmpValue::Integer(4));
        cols[1].insert(idx.clone(), b(b"28:99:3a:bf:26:46"));
        cols[2].insert(idx.clone(), SnmpValue::Integer(5));
        cols[3].insert(idx.clone(), b(b"Ethernet46"));
        cols[5].insert(idx.clone(), b(b"leaf-2"));
        cols[1].insert(vec![0, 19, 1], b(b"short index")); // skipped
        let c = cache(&[(18, "ethernet1/13", "")]);
        let mut m = MetricSet::new();
        emit(&mut m, &cols, Some(&c), true);
        let t = rtmon::expo::encode_text(&m);
        assert!(t.contains("rtmon_snmp_lldp_neighbor_info{ifName=\"ethernet1/13\",ifIndex=\"18\",remote_chassis_id=\"28:99:3a:bf:26:46\",remote_chassis_id_subtype=\"macAddress\",remote_port_id=\"Ethernet46\",remote_port_id_subtype=\"interfaceName\",remote_port_desc=\"\",remote_system_name=\"leaf-2\"} 1\n"), "{t}");
        assert_eq!(
            t.matches("rtmon_snmp_lldp_neighbor_info{").count(),
            1,
            "{t}"
        );
        let mut none = MetricSet::new();
        emit(&mut none, &vec![Column::new(); 10], Some(&c), false);
        assert!(none.is_empty(), "no neighbours, no family");
        assert!(v1_empty(&vec![Column::new(); 10]));
    }
}
