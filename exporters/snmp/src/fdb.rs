//! The built-in `bridge_fdb` module: which MAC was learned on which port and VLAN
//! (BRIDGE-MIB dot1dTpFdbTable and Q-BRIDGE-MIB dot1qTpFdbTable), joined to ifIndex
//! through dot1dBasePortIfIndex and to ifName through the lookup cache.
//!
//! Emits `rtmon_snmp_fdb_entry_info{mac,vlan,port,ifIndex,ifName,status} 1`. `vlan` is
//! the dot1qFdbId (equal to the VLAN id on the usual IVL switches; empty for
//! dot1dTpFdb entries, which have no VLAN).
//!
//! The MAC in the row index is read in both forms agents send: six sub-identifiers (the
//! MIB's fixed-size `MacAddress`), or a length prefix 6 followed by the six (Aruba CX,
//! `…17.4.3.1.2.6.0.10.247.236.209.97` = 00:0a:f7:ec:d1:61). Any other row is counted
//! in `rtmon_snmp_fdb_undecodable_rows{table}` (and the caller logs it), never dropped
//! silently.

use std::collections::BTreeMap;

use rtmon::expo::{MetricSet, MetricType, Value};

use crate::client::SnmpValue;
use crate::ifmib::IfCache;
use crate::walk::Column;

/// dot1dBasePortIfIndex.
pub const BASE_PORT_IFINDEX: [u32; 11] = [1, 3, 6, 1, 2, 1, 17, 1, 4, 1, 2];
/// dot1dTpFdbPort.
pub const DOT1D_PORT: [u32; 11] = [1, 3, 6, 1, 2, 1, 17, 4, 3, 1, 2];
/// dot1dTpFdbStatus.
pub const DOT1D_STATUS: [u32; 11] = [1, 3, 6, 1, 2, 1, 17, 4, 3, 1, 3];
/// dot1qTpFdbPort.
pub const DOT1Q_PORT: [u32; 13] = [1, 3, 6, 1, 2, 1, 17, 7, 1, 2, 2, 1, 2];
/// dot1qTpFdbStatus.
pub const DOT1Q_STATUS: [u32; 13] = [1, 3, 6, 1, 2, 1, 17, 7, 1, 2, 2, 1, 3];

/// The columns walked, in the order [`emit`] expects.
pub fn columns() -> Vec<Vec<u32>> {
    vec![
        BASE_PORT_IFINDEX.to_vec(),
        DOT1D_PORT.to_vec(),
        DOT1D_STATUS.to_vec(),
        DOT1Q_PORT.to_vec(),
        DOT1Q_STATUS.to_vec(),
    ]
}

/// dot1dBasePortIfIndex as bridge port → ifIndex. A value that is no InterfaceIndex
/// (1..=2147483647: agents answer `0` — an Arris CMTS for all its ports — or `-1`, an
/// Allied Telesis) means the agent does not know the interface: that port is left out,
/// so every join through it gives `ifIndex=""`, `ifName=""`, alike for both.
pub fn bridge_port_if_index(col: &Column) -> BTreeMap<u32, u32> {
    col.iter()
        .filter_map(|(k, v)| match (&k[..], v.as_i64()) {
            ([p], Some(i)) if (1..=i64::from(i32::MAX)).contains(&i) => {
                u32::try_from(i).ok().map(|i| (*p, i))
            }
            _ => None,
        })
        .collect()
}

fn status_name(s: Option<i64>) -> &'static str {
    match s {
        Some(1) => "other",
        Some(2) => "invalid",
        Some(3) => "learned",
        Some(4) => "self",
        Some(5) => "mgmt",
        _ => "",
    }
}

/// The MAC of an FDB row index: 6 arcs, or the length-prefixed form `6.a.b.c.d.e.f`.
pub fn mac(idx: &[u32]) -> Option<String> {
    let octets = match idx {
        [6, rest @ ..] if rest.len() == 6 => rest,
        _ if idx.len() == 6 => idx,
        _ => return None,
    };
    if octets.iter().any(|&x| x > 255) {
        return None;
    }
    Some(
        octets
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect::<Vec<_>>()
            .join(":"),
    )
}

/// Table names used in the `table` label and in log lines.
pub const TABLES: [&str; 2] = ["dot1dTpFdbTable", "dot1qTpFdbTable"];

/// FDB rows that could not be decoded in one scrape, per table ([`TABLES`] order).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Undecodable {
    /// Row counts, per table.
    pub rows: [u64; 2],
    /// The index (dotted) of the first undecodable row of each table, for the log line.
    pub first: [Option<String>; 2],
}

impl Undecodable {
    fn note(&mut self, table: usize, idx: &[u32]) {
        self.rows[table] += 1;
        if self.first[table].is_none() {
            self.first[table] = Some(idx.iter().map(u32::to_string).collect::<Vec<_>>().join("."));
        }
    }

    /// Total over both tables.
    pub fn total(&self) -> u64 {
        self.rows.iter().sum()
    }
}

/// Emits FDB entries from the walked [`columns`], plus
/// `rtmon_snmp_fdb_undecodable_rows{table}` for both tables (0 when all rows decoded).
/// Returns the undecodable rows so the caller can log them with the target.
pub fn emit(out: &mut MetricSet, cols: &[Column], cache: Option<&IfCache>) -> Undecodable {
    let empty = Column::new();
    let get = |i: usize| cols.get(i).unwrap_or(&empty);
    let port_if = bridge_port_if_index(get(0));
    let mut bad = Undecodable::default();
    let fam = out.family(
        "rtmon_snmp_fdb_entry_info",
        "A MAC address learned in the forwarding database: bridge port, ifIndex/ifName, VLAN (dot1qFdbId) and status.",
        MetricType::Gauge,
    );
    let mut add = |vlan: String, m: String, port: u64, status: Option<i64>| {
        let ifindex = u32::try_from(port)
            .ok()
            .and_then(|p| port_if.get(&p).copied());
        let ifname = ifindex
            .and_then(|i| cache.and_then(|c| c.rows.get(&i)))
            .map(|r| r.name.clone())
            .unwrap_or_default();
        fam.add_owned(
            vec![
                (
                    "ifIndex".into(),
                    ifindex.map(|i| i.to_string()).unwrap_or_default(),
                ),
                ("ifName".into(), ifname),
                ("mac".into(), m),
                ("port".into(), port.to_string()),
                ("status".into(), status_name(status).to_string()),
                ("vlan".into(), vlan),
            ],
            Value::U64(1),
        );
    };
    for (idx, v) in get(1) {
        let (Some(m), Some(port)) = (mac(idx), v.as_u64()) else {
            bad.note(0, idx);
            continue;
        };
        let st = get(2).get(idx).and_then(SnmpValue::as_i64);
        add(String::new(), m, port, st);
    }
    for (idx, v) in get(3) {
        let decoded = idx
            .split_first()
            .and_then(|(fdb, rest)| Some((*fdb, mac(rest)?, v.as_u64()?)));
        let Some((fdb, m, port)) = decoded else {
            bad.note(1, idx);
            continue;
        };
        let st = get(4).get(idx).and_then(SnmpValue::as_i64);
        add(fdb.to_string(), m, port, st);
    }
    let fam = out.family(
        "rtmon_snmp_fdb_undecodable_rows",
        "FDB rows of this scrape whose index (MAC) or port value could not be decoded, by table; they are not in rtmon_snmp_fdb_entry_info.",
        MetricType::Gauge,
    );
    for (t, n) in TABLES.iter().zip(bad.rows) {
        fam.add(&[("table", *t)], Value::U64(n));
    }
    out.prune_empty();
    bad
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_ports_to_interfaces() {
        let mut cols = vec![Column::new(); 5];
        cols[0].insert(vec![3], SnmpValue::Integer(27));
        cols[3].insert(vec![1000, 0, 0x1b, 0x21, 1, 2, 3], SnmpValue::Integer(3));
        cols[4].insert(vec![1000, 0, 0x1b, 0x21, 1, 2, 3], SnmpValue::Integer(3));
        cols[3].insert(vec![1000, 999, 1], SnmpValue::Integer(3)); // malformed index: skipped
        let mut cache = IfCache::build(&[], None, None);
        cache.rows.insert(
            27,
            crate::ifmib::IfInfo {
                name: "hundredGigE 1/27".into(),
                ..Default::default()
            },
        );
        let mut m = MetricSet::new();
        let bad = emit(&mut m, &cols, Some(&cache));
        let t = rtmon::expo::encode_text(&m);
        assert!(t.contains("rtmon_snmp_fdb_entry_info{ifIndex=\"27\",ifName=\"hundredGigE 1/27\",mac=\"00:1b:21:01:02:03\",port=\"3\",status=\"learned\",vlan=\"1000\"} 1\n"), "{t}");
        assert_eq!(t.matches("rtmon_snmp_fdb_entry_info{").count(), 1, "{t}");
        assert_eq!(bad.rows, [0, 1]);
        assert_eq!(bad.first[1].as_deref(), Some("1000.999.1"));
        assert!(
            t.contains("rtmon_snmp_fdb_undecodable_rows{table=\"dot1qTpFdbTable\"} 1\n"),
            "{t}"
        );
        assert!(
            t.contains("rtmon_snmp_fdb_undecodable_rows{table=\"dot1dTpFdbTable\"} 0\n"),
            "{t}"
        );
    }

    #[test]
    fn bridge_ports_without_an_interface_index_are_unknown() {
        // Arris CMTS: dot1dBasePortIfIndex 0; Allied Telesis: -1. Neither is an ifIndex.
        let mut cols = vec![Column::new(); 5];
        cols[0].insert(vec![1], SnmpValue::Integer(0));
        cols[0].insert(vec![2], SnmpValue::Integer(-1));
        cols[0].insert(vec![3], SnmpValue::Integer(27));
        for (p, last) in [(1, 1), (2, 2), (3, 3)] {
            cols[3].insert(vec![10, 0, 0x1b, 0x21, 0, 0, last], SnmpValue::Integer(p));
        }
        let mut cache = IfCache::build(&[], None, None);
        cache.rows.insert(
            27,
            crate::ifmib::IfInfo {
                name: "ge-0/0/27".into(),
                ..Default::default()
            },
        );
        let mut m = MetricSet::new();
        emit(&mut m, &cols, Some(&cache));
        let t = rtmon::expo::encode_text(&m);
        for (p, last) in [(1, 1), (2, 2)] {
            assert!(t.contains(&format!("rtmon_snmp_fdb_entry_info{{ifIndex=\"\",ifName=\"\",mac=\"00:1b:21:00:00:0{last}\",port=\"{p}\",status=\"\",vlan=\"10\"}} 1\n")), "{t}");
        }
        assert!(t.contains("rtmon_snmp_fdb_entry_info{ifIndex=\"27\",ifName=\"ge-0/0/27\",mac=\"00:1b:21:00:00:03\",port=\"3\",status=\"\",vlan=\"10\"} 1\n"), "{t}");
        assert!(!t.contains("ifIndex=\"0\""), "{t}");
        assert_eq!(bridge_port_if_index(&cols[0]), BTreeMap::from([(3, 27)]));
    }

    #[test]
    fn length_prefixed_mac_index_is_decoded_in_both_tables() {
        assert_eq!(
            mac(&[6, 0, 10, 247, 236, 209, 97]).as_deref(),
            Some("00:0a:f7:ec:d1:61")
        );
        assert_eq!(
            mac(&[0, 10, 247, 236, 209, 97]).as_deref(),
            Some("00:0a:f7:ec:d1:61")
        );
        for bad in [
            &[][..],
            &[0, 10, 247, 236, 209][..],           // 5 octets
            &[7, 0, 10, 247, 236, 209, 97][..],    // length prefix is not 6
            &[6, 0, 10, 247, 236, 209, 97, 1][..], // an arc after the MAC
            &[0, 10, 247, 236, 209, 256][..],      // not an octet
        ] {
            assert_eq!(mac(bad), None, "{bad:?}");
        }
        let mut cols = vec![Column::new(); 5];
        cols[0].insert(vec![7], SnmpValue::Integer(7));
        // Aruba CX: dot1dTpFdbPort.6.0.10.247.236.209.97 = 7
        cols[1].insert(vec![6, 0, 10, 247, 236, 209, 97], SnmpValue::Integer(7));
        cols[2].insert(vec![6, 0, 10, 247, 236, 209, 97], SnmpValue::Integer(3));
        // dot1q with the prefix too
        cols[3].insert(vec![20, 6, 0, 10, 247, 236, 209, 98], SnmpValue::Integer(7));
        // undecodable: wrong prefix, port not a number
        cols[1].insert(vec![7, 0, 10, 247, 236, 209, 99], SnmpValue::Integer(7));
        cols[1].insert(
            vec![0, 10, 247, 236, 209, 100],
            SnmpValue::Bytes(b"x".to_vec()),
        );
        let mut cache = IfCache::build(&[], None, None);
        cache.rows.insert(
            7,
            crate::ifmib::IfInfo {
                name: "1/1/7".into(),
                ..Default::default()
            },
        );
        let mut m = MetricSet::new();
        let bad = emit(&mut m, &cols, Some(&cache));
        let t = rtmon::expo::encode_text(&m);
        assert!(t.contains("rtmon_snmp_fdb_entry_info{ifIndex=\"7\",ifName=\"1/1/7\",mac=\"00:0a:f7:ec:d1:61\",port=\"7\",status=\"learned\",vlan=\"\"} 1\n"), "{t}");
        assert!(t.contains("rtmon_snmp_fdb_entry_info{ifIndex=\"7\",ifName=\"1/1/7\",mac=\"00:0a:f7:ec:d1:62\",port=\"7\",status=\"\",vlan=\"20\"} 1\n"), "{t}");
        assert_eq!(t.matches("rtmon_snmp_fdb_entry_info{").count(), 2, "{t}");
        assert_eq!(bad.rows, [2, 0]);
        assert_eq!(bad.total(), 2);
        assert_eq!(bad.first[0].as_deref(), Some("0.10.247.236.209.100"));
        assert!(
            t.contains("rtmon_snmp_fdb_undecodable_rows{table=\"dot1dTpFdbTable\"} 2\n"),
            "{t}"
        );
    }
}
