//! The built-in `bridge_fdb` module: which MAC was learned on which port and VLAN
//! (BRIDGE-MIB dot1dTpFdbTable and Q-BRIDGE-MIB dot1qTpFdbTable), joined to ifIndex
//! through dot1dBasePortIfIndex and to ifName through the lookup cache.
//!
//! Emits `rtmon_snmp_fdb_entry_info{mac,vlan,port,ifIndex,ifName,status} 1`. `vlan` is
//! the dot1qFdbId (equal to the VLAN id on the usual IVL switches; empty for
//! dot1dTpFdb entries, which have no VLAN).

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

fn mac(idx: &[u32]) -> Option<String> {
    if idx.len() != 6 || idx.iter().any(|&x| x > 255) {
        return None;
    }
    Some(
        idx.iter()
            .map(|x| format!("{x:02x}"))
            .collect::<Vec<_>>()
            .join(":"),
    )
}

/// Emits FDB entries from the walked [`columns`].
pub fn emit(out: &mut MetricSet, cols: &[Column], cache: Option<&IfCache>) {
    let empty = Column::new();
    let get = |i: usize| cols.get(i).unwrap_or(&empty);
    let port_if: BTreeMap<u32, u32> = get(0)
        .iter()
        .filter_map(|(k, v)| match (k[..].first(), v.as_u64()) {
            (Some(&p), Some(i)) if k.len() == 1 => u32::try_from(i).ok().map(|i| (p, i)),
            _ => None,
        })
        .collect();
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
            continue;
        };
        let st = get(2).get(idx).and_then(SnmpValue::as_i64);
        add(String::new(), m, port, st);
    }
    for (idx, v) in get(3) {
        let Some((fdb, rest)) = idx.split_first() else {
            continue;
        };
        let (Some(m), Some(port)) = (mac(rest), v.as_u64()) else {
            continue;
        };
        let st = get(4).get(idx).and_then(SnmpValue::as_i64);
        add(fdb.to_string(), m, port, st);
    }
    out.prune_empty();
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
        emit(&mut m, &cols, Some(&cache));
        let t = rtmon::expo::encode_text(&m);
        assert!(t.contains("rtmon_snmp_fdb_entry_info{ifIndex=\"27\",ifName=\"hundredGigE 1/27\",mac=\"00:1b:21:01:02:03\",port=\"3\",status=\"learned\",vlan=\"1000\"} 1\n"), "{t}");
        assert_eq!(t.matches("rtmon_snmp_fdb_entry_info{").count(), 1, "{t}");
    }
}
