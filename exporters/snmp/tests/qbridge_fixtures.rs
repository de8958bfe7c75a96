//! The `qbridge_vlan` module on real recordings (LibreNMS's snmprec test data, read from
//! `../shared/upstream-fixtures/librenms-snmprec/` at test time; skipped when absent):
//! per VLAN, the ports it reports (by ifName) equal a hand join of the recorded
//! PortList → dot1dBasePortIfIndex → ifName, computed here independently, and no port
//! outside dot1dBasePortIfIndex is ever reported. The odd encodings (a bitmap followed
//! by a hex-dump rendering, hex-dump text, a JunOS comma list of bridge ports) are
//! decoded as the README says.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use rtmon_snmp::client::SnmpValue;
use rtmon_snmp::ifmib::{IfCache, IfInfo};
use rtmon_snmp::qbridge;
use rtmon_snmp::walk::Column;

fn fixtures() -> Option<PathBuf> {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/upstream-fixtures/librenms-snmprec");
    if d.is_dir() {
        Some(d)
    } else {
        eprintln!(
            "SKIP: {} is absent (upstream data lives beside the repository)",
            d.display()
        );
        None
    }
}

fn oid(s: &str) -> Vec<u32> {
    s.split('.').filter_map(|x| x.parse().ok()).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .filter_map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok())
        .collect()
}

/// The recording: every row as (oid, type, raw value text).
fn rows(text: &str) -> Vec<(Vec<u32>, String, String)> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.splitn(3, '|');
            Some((
                oid(it.next()?),
                it.next()?.to_string(),
                it.next()?.to_string(),
            ))
        })
        .collect()
}

/// What snmpsim would send for a row.
fn value(ty: &str, v: &str) -> SnmpValue {
    match ty {
        "2" => SnmpValue::Integer(v.parse().unwrap_or(0)),
        "4x" => SnmpValue::Bytes(unhex(v)),
        "66" | "65" | "67" => SnmpValue::Unsigned(v.parse().unwrap_or(0)),
        _ => SnmpValue::Bytes(v.as_bytes().to_vec()),
    }
}

fn column(rows: &[(Vec<u32>, String, String)], prefix: &[u32]) -> Column {
    rows.iter()
        .filter(|(o, _, _)| o.len() > prefix.len() && o.starts_with(prefix))
        .map(|(o, t, v)| (o[prefix.len()..].to_vec(), value(t, v)))
        .collect()
}

/// The hand join: the bytes as the recording holds them, decoded by the rule of each
/// encoding written out here, joined through the base port and ifName tables.
fn hand_ports(ty: &str, v: &str) -> BTreeSet<u32> {
    let bits = |b: &[u8]| -> BTreeSet<u32> {
        let mut s = BTreeSet::new();
        for (i, byte) in b.iter().enumerate() {
            for bit in 0..8 {
                if byte & (1 << (7 - bit)) != 0 {
                    s.insert(i as u32 * 8 + bit + 1);
                }
            }
        }
        s
    };
    match ty {
        "4x" => {
            let b = unhex(v);
            // Some recordings hold 16 raw octets, then "\n" and the rest of the
            // bitmap as lines of hex-dump text ("00 00 … 00\n00 …").
            match b.iter().position(|&c| c == b'\n') {
                Some(i)
                    if b[i..]
                        .iter()
                        .all(|c| b"0123456789abcdefABCDEF \n".contains(c)) =>
                {
                    let mut all = b[..i].to_vec();
                    let text = String::from_utf8_lossy(&b[i..]).into_owned();
                    all.extend(
                        text.split_whitespace()
                            .take_while(|t| t.len() == 2)
                            .filter_map(|t| u8::from_str_radix(t, 16).ok()),
                    );
                    bits(&all)
                }
                _ => bits(&b),
            }
        }
        _ if v.contains(',') || v == "0" => v
            .split(',')
            .filter_map(|p| p.parse::<u32>().ok())
            .filter(|p| *p != 0)
            .collect(),
        _ if v.contains(' ') => bits(
            &v.split(' ')
                .filter_map(|h| u8::from_str_radix(h, 16).ok())
                .collect::<Vec<_>>(),
        ),
        _ => bits(v.as_bytes()),
    }
}

#[test]
fn vlan_ports_equal_a_hand_join_on_real_recordings() {
    let Some(dir) = fixtures() else { return };
    const CUR: &str = "1.3.6.1.2.1.17.7.1.4.2.1.4.";
    const STATIC: &str = "1.3.6.1.2.1.17.7.1.4.3.1.2.";
    for (name, table, min_vlans, min_ports) in [
        ("arista_eos", "current", 7, 3),
        ("awplus_5.4.8-2", "current", 9, 10),
        ("dell-sonic", "current", 9, 400),
        ("dnos_s4048", "current", 2, 20),
        ("junos_qfx5100", "static", 6, 18),
    ] {
        let path = dir.join(format!("{name}.snmprec"));
        let text = std::fs::read_to_string(&path).expect("read recording");
        let rows = rows(&text);
        let base: BTreeMap<u32, u32> = rows
            .iter()
            .filter_map(|(o, _, v)| {
                let rest = o.strip_prefix(&oid("1.3.6.1.2.1.17.1.4.1.2")[..])?;
                Some((*rest.first()?, v.parse().ok()?))
            })
            .collect();
        let if_name: BTreeMap<u32, String> = rows
            .iter()
            .filter_map(|(o, _, v)| {
                let rest = o.strip_prefix(&oid("1.3.6.1.2.1.31.1.1.1.1")[..])?;
                Some((*rest.first()?, v.clone()))
            })
            .collect();
        // Hand join, per VLAN.
        let prefix = if table == "current" { CUR } else { STATIC };
        let mut want: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for l in text.lines().filter(|l| l.starts_with(prefix)) {
            let mut it = l.splitn(3, '|');
            let (o, ty, v) = (
                it.next().unwrap_or(""),
                it.next().unwrap_or(""),
                it.next().unwrap_or(""),
            );
            let vlan = o.rsplit('.').next().unwrap_or("").to_string();
            let e = want.entry(vlan).or_default();
            for p in hand_ports(ty, v) {
                if let Some(i) = base.get(&p) {
                    e.insert(if_name.get(i).cloned().unwrap_or_default());
                }
            }
        }
        want.retain(|_, v| !v.is_empty());

        // The module, on the columns as an agent replaying the recording sends them.
        let cols: Vec<Column> = qbridge::columns()
            .iter()
            .map(|c| column(&rows, c))
            .collect();
        let mut cache = IfCache::build(&[], None, None);
        for (i, n) in &if_name {
            cache.rows.insert(
                *i,
                IfInfo {
                    name: n.clone(),
                    ..Default::default()
                },
            );
        }
        let mut m = rtmon::expo::MetricSet::new();
        qbridge::emit(&mut m, &cols, Some(&cache));
        let out = rtmon::expo::encode_text(&m);
        let mut got: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let label = |l: &str, k: &str| -> String {
            l.split(&format!("{k}=\""))
                .nth(1)
                .and_then(|r| r.split('"').next())
                .unwrap_or("")
                .to_string()
        };
        for l in out
            .lines()
            .filter(|l| l.starts_with("rtmon_snmp_vlan_port_info{"))
        {
            assert_eq!(label(l, "table"), table, "{name}: {l}");
            let port: u32 = label(l, "port").parse().expect("port");
            assert!(
                base.contains_key(&port),
                "{name}: invented port {port}: {l}"
            );
            got.entry(label(l, "vlan"))
                .or_default()
                .insert(label(l, "ifName"));
        }
        assert_eq!(got, want, "{name}:\n{out}");
        let ports: usize = got.values().map(BTreeSet::len).sum();
        assert!(
            got.len() >= min_vlans && ports >= min_ports,
            "{name}: only {} VLANs / {ports} ports:\n{out}",
            got.len()
        );
        eprintln!("{name}: {} VLANs, {ports} VLAN-ports ({table})", got.len());
    }
}
