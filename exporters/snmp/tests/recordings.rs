//! rtmon-snmp-exporter on recorded agents, served by snmpsim:
//!
//! - `quirks_fixture_values_and_labels`: this crate's own `tests/data/quirks*.snmprec`,
//!   one row per behaviour that differs between agents (length-prefixed FDB index, ifType
//!   the MIB does not name, short/empty/long ifPhysAddress, trailing NULs, no ifIndex
//!   column, a value at a bare column OID, Counter64 ≥ 2^53, non-UTF-8 text), asserting
//!   exact values and labels;
//! - `librenms_recordings_beside_snmp_exporter_0_21`: the 13 real devices recorded by
//!   LibreNMS (read from `../shared/upstream-fixtures/` beside the repository, never
//!   copied here; skipped when absent) and the quirks fixtures, in one snmpsim, scraped by
//!   rtmon and by Debian's prometheus-snmp-exporter 0.21 running upstream's `if_mib`
//!   module. Every snmp_exporter series must come out of rtmon with the same labels and
//!   value, except for the differences the README documents (each is checked to apply
//!   where it is claimed); FDB entries must equal the join dot1d/dot1qTpFdbPort →
//!   dot1dBasePortIfIndex → ifName computed here from the recording itself.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use rtmon::expo::parse::{parse_text, ParseOptions};
use rtmon::expo::{MetricType, Value};
use rtmon_snmp::fdb;
use rtmon_testkit::snmp::{self, Snmpsim};
use rtmon_testkit::{available, free_port, http, wait_for_port, Proc};

/// Scrape timeout sent to rtmon (below the testkit HTTP client's 60 s read timeout).
const SCRAPE_TIMEOUT_S: &str = "55";

fn manifest() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn fixture(name: &str) -> Vec<u8> {
    let p = manifest().join("tests/data").join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Checks snmpsim + snmpget (and `extra` binaries); prints SKIP or fails in strict mode.
fn snmpsim_available(test: &str, extra: &[&str]) -> bool {
    let Some(bin) = snmp::snmpsim_binary() else {
        return available(test, &["snmpsim-command-responder"], false);
    };
    let mut bins = vec![bin.to_str().unwrap_or("?"), "snmpget"];
    bins.extend_from_slice(extra);
    available(test, &bins, false)
}

struct Running {
    addr: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
    _proc: Proc,
}

impl Running {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
    fn get(&self, path: &str) -> (u16, String) {
        let r = http(
            "GET",
            &self.addr,
            path,
            &[("X-Prometheus-Scrape-Timeout-Seconds", SCRAPE_TIMEOUT_S)],
            b"",
        )
        .unwrap_or_else(|e| panic!("GET {path}: {e}\n{}", self.log()));
        (r.status, r.text())
    }
}

fn spawn(name: &str, config_name: &str, config: &str, mut cmd: Command) -> Running {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join(config_name);
    std::fs::write(&cfg, config).expect("write config");
    let addr = format!("127.0.0.1:{}", free_port());
    let log = dir.path().join(format!("{name}.log"));
    cmd.arg(format!("--config.file={}", cfg.display()))
        .arg(format!("--web.listen-address={addr}"));
    let proc = Proc::spawn(name, cmd, Some(&log)).expect("spawn");
    assert!(
        wait_for_port(&addr, Duration::from_secs(30)),
        "{name} did not listen: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    Running {
        addr,
        log,
        _dir: dir,
        _proc: proc,
    }
}

/// rtmon with one auth per community (auth name = community) and slow-agent modules.
fn start_rtmon(communities: &[&str]) -> Running {
    let mut cfg = String::from("auths:\n");
    for c in communities {
        cfg.push_str(&format!("  \"{c}\": {{community: \"{c}\"}}\n"));
    }
    cfg.push_str(
        "modules:\n  ifs: {base: if_mib, timeout: 10s, retries: 3}\n  fdb: {base: bridge_fdb, timeout: 10s, retries: 3}\n",
    );
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rtmon-snmp-exporter"));
    cmd.arg("--log.level=info");
    spawn("rtmon-snmp-exporter", "snmp.yml", &cfg, cmd)
}

/// A parsed scrape: series (name + sorted labels) → value, and TYPE and HELP per family.
#[derive(Default)]
struct Scrape {
    series: BTreeMap<Series, Value>,
    types: BTreeMap<String, (MetricType, String)>,
}

type Series = (String, BTreeMap<String, String>);

fn show(s: &Series) -> String {
    let l: Vec<String> = s.1.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{}{{{}}}", s.0, l.join(","))
}

fn parse(body: &str) -> Scrape {
    let p = parse_text(
        body,
        &ParseOptions {
            max_lines: 1_000_000,
            ..ParseOptions::default()
        },
    );
    assert!(p.errors.is_empty(), "unparsable exposition: {:?}", p.errors);
    let mut s = Scrape::default();
    for f in p.set.families() {
        s.types.insert(f.name.clone(), (f.kind, f.help.clone()));
        for x in &f.samples {
            let labels = x
                .labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect();
            s.series
                .insert((format!("{}{}", f.name, x.suffix), labels), x.value);
        }
    }
    s
}

/// The value of one series as an exact integer (`None`: absent or not an integer).
fn value_of(s: &Scrape, name: &str, labels: &[(&str, &str)]) -> Option<i128> {
    // An empty label value is no label at all (Prometheus's rule, which the parser follows).
    let l: BTreeMap<String, String> = labels
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    match s.series.get(&(name.to_string(), l))? {
        Value::U64(u) => Some(i128::from(*u)),
        Value::I64(i) => Some(i128::from(*i)),
        Value::F64(f) if f.fract() == 0.0 && f.abs() < 2f64.powi(53) => Some(*f as i128),
        Value::F64(_) => None,
    }
}

fn if_labels<'a>(
    alias: &'a str,
    descr: &'a str,
    idx: &'a str,
    name: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("ifAlias", alias),
        ("ifDescr", descr),
        ("ifIndex", idx),
        ("ifName", name),
    ]
}

fn with<'a>(mut l: Vec<(&'a str, &'a str)>, k: &'a str, v: &'a str) -> Vec<(&'a str, &'a str)> {
    l.push((k, v));
    l
}

#[test]
fn quirks_fixture_values_and_labels() {
    let test = "quirks_fixture_values_and_labels";
    if !snmpsim_available(test, &[]) {
        return;
    }
    let recs = vec![
        ("quirks".to_string(), fixture("quirks.snmprec")),
        ("quirks-utf8".to_string(), fixture("quirks-utf8.snmprec")),
    ];
    let sim = Snmpsim::serve(&recs, Duration::from_secs(120)).expect("snmpsim");
    let ex = start_rtmon(&["quirks", "quirks-utf8"]);
    let (st, body) = ex.get(&format!(
        "/snmp?target={}&auth=quirks&module=ifs,fdb",
        sim.addr()
    ));
    assert_eq!(st, 200, "{body}");
    let s = parse(&body);
    let v = |n: &str, l: &[(&str, &str)]| value_of(&s, n, l);
    assert_eq!(v("snmp_up", &[]), Some(1), "{body}");
    assert_eq!(v("sysUpTime", &[]), Some(4242), "{body}");
    assert_eq!(v("ifNumber", &[]), Some(4), "{body}");
    let eth = if_labels("uplink", "Ethernet1", "1", "ethernet1");
    // Trailing NULs trimmed: ifAlias "\0\0" → "", "core\0" → "core".
    let opt = if_labels("", "Optics0/0/0/1", "2", "optics0/0/0/1");
    let v9999 = if_labels("core", "Vendor9999", "3", "vendor9999");
    let u273 = if_labels("", "Unassigned273", "4", "unassigned273");
    // No ifIndex column in the agent: ifIndex comes from the row index.
    for (l, i) in [(&eth, 1), (&opt, 2), (&v9999, 3), (&u273, 4)] {
        assert_eq!(v("ifIndex", l), Some(i128::from(i)), "{l:?}: {body}");
        assert_eq!(v("ifMtu", l), Some(9216), "{l:?}: {body}");
    }
    // ifType: IANAifType names, the number where the MIB names none.
    for (l, t) in [
        (&eth, "ethernetCsmacd"),
        (&opt, "opticalChannel"),
        (&v9999, "9999"),
        (&u273, "273"),
    ] {
        assert_eq!(
            v("ifType_info", &with(l.clone(), "ifType", t)),
            Some(1),
            "{t}: {body}"
        );
    }
    assert_eq!(s.series.keys().filter(|k| k.0 == "ifType_info").count(), 4);
    // PhysAddress48: six octets, zero-padded or truncated.
    for (l, a) in [
        (&eth, "00:1B:21:AB:CD:EF"),
        (&opt, "00:00:00:00:00:00"),
        (&v9999, "44:61:74:61:00:00"),
        (&u273, "01:02:03:04:05:06"),
    ] {
        assert_eq!(
            v("ifPhysAddress", &with(l.clone(), "ifPhysAddress", a)),
            Some(1),
            "{a}: {body}"
        );
    }
    // Counter64 exact by default, even 2^53+1 and 2^64-1.
    assert_eq!(v("ifHCInOctets", &eth), Some((1 << 53) + 1), "{body}");
    assert_eq!(
        v("ifHCInOctets", &opt),
        Some(i128::from(u64::MAX)),
        "{body}"
    );
    // The value at the bare column OID ifLinkUpDownTrapEnable (no index) is no interface.
    assert_eq!(
        s.series
            .keys()
            .filter(|k| k.0 == "ifLinkUpDownTrapEnable")
            .count(),
        4,
        "{body}"
    );
    assert!(
        !s.series
            .keys()
            .any(|k| k.1.get("ifIndex").is_some_and(|i| i == "0")),
        "{body}"
    );
    // FDB: plain and length-prefixed MAC indexes, dot1d and dot1q; undecodable rows counted.
    let fdb_entries: BTreeSet<String> = s
        .series
        .keys()
        .filter(|k| k.0 == "rtmon_snmp_fdb_entry_info")
        .map(show)
        .collect();
    // dot1d rows have no VLAN: the exporter writes vlan="", which (as for Prometheus) the
    // parser reads as no label.
    let want: BTreeSet<String> = [
        r#"rtmon_snmp_fdb_entry_info{ifIndex="1",ifName="ethernet1",mac="00:0a:f7:ec:d1:61",port="1",status="learned"}"#,
        r#"rtmon_snmp_fdb_entry_info{ifIndex="2",ifName="optics0/0/0/1",mac="00:0a:f7:ec:d1:62",port="2",status="learned"}"#,
        r#"rtmon_snmp_fdb_entry_info{ifIndex="2",ifName="optics0/0/0/1",mac="00:0a:f7:ec:d1:63",port="2",status="learned",vlan="20"}"#,
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(fdb_entries, want, "{body}");
    for t in fdb::TABLES {
        assert_eq!(
            v("rtmon_snmp_fdb_undecodable_rows", &[("table", t)]),
            Some(1),
            "{t}: {body}"
        );
    }
    let log = ex.log();
    for first in ["7.0.10.247.236.209.96", "20.1.2"] {
        let line = log
            .lines()
            .find(|l| l.contains("FDB rows not decoded") && l.contains(first))
            .unwrap_or_else(|| panic!("no log line for undecodable row {first}: {log}"));
        assert!(
            line.contains(&sim.addr()) && line.contains("rows=1"),
            "{line}"
        );
    }
    // Non-UTF-8 text: replaced (U+FFFD), the scrape still answers.
    let (st, body) = ex.get(&format!(
        "/snmp?target={}&auth=quirks-utf8&module=ifs",
        sim.addr()
    ));
    assert_eq!(st, 200, "{body}");
    let s = parse(&body);
    assert_eq!(
        value_of(
            &s,
            "ifOperStatus",
            &if_labels("\u{FFFD}ok", "eth0", "1", "eth0")
        ),
        Some(1),
        "{body}"
    );
}

// ---------------------------------------------------------------------------------------
// The 13 LibreNMS recordings beside snmp_exporter 0.21.

/// `../shared/upstream-fixtures` beside the repository.
fn upstream_dir() -> PathBuf {
    manifest().join("../../../shared/upstream-fixtures")
}

const UPSTREAM_IF_MIB: &str = "snmp_exporter/snmp_exporter_v0.21.0_if_mib.yml";

/// One snmprec recording: OID → (tag, value text).
struct Recording {
    rows: BTreeMap<Vec<u32>, (String, String)>,
}

impl Recording {
    fn parse(text: &[u8]) -> Recording {
        let mut rows = BTreeMap::new();
        for line in text.split(|&b| b == b'\n') {
            let line = String::from_utf8_lossy(line);
            let mut it = line.splitn(3, '|');
            let (Some(oid), Some(tag), Some(val)) = (it.next(), it.next(), it.next()) else {
                continue;
            };
            let Ok(oid) = oid
                .split('.')
                .map(str::parse)
                .collect::<Result<Vec<u32>, _>>()
            else {
                continue;
            };
            rows.insert(
                oid,
                (tag.to_string(), val.trim_end_matches('\r').to_string()),
            );
        }
        Recording { rows }
    }

    /// Rows under `prefix`: (index suffix, tag, value).
    fn column<'a>(
        &'a self,
        prefix: &'a [u32],
    ) -> impl Iterator<Item = (&'a [u32], &'a str, &'a str)> {
        self.rows
            .range(prefix.to_vec()..)
            .take_while(move |(k, _)| k.starts_with(prefix))
            .map(move |(k, (t, v))| (&k[prefix.len()..], t.as_str(), v.as_str()))
    }

    fn has(&self, oid: &[u32]) -> bool {
        self.rows.contains_key(oid)
    }

    fn int(tag: &str, v: &str) -> Option<u64> {
        match tag {
            "2" | "65" | "66" | "67" | "70" => v.trim().parse().ok(),
            _ => None,
        }
    }

    fn bytes(tag: &str, v: &str) -> Option<Vec<u8>> {
        match tag {
            "4" => Some(v.as_bytes().to_vec()),
            "4x" => (0..v.len() / 2)
                .map(|i| u8::from_str_radix(v.get(2 * i..2 * i + 2)?, 16).ok())
                .collect(),
            _ => None,
        }
    }
}

/// The FDB as the test computes it from the recording: entries
/// `(mac, vlan, port, ifIndex, ifName, status)` and undecodable rows per table.
fn fdb_join(r: &Recording) -> (BTreeSet<[String; 6]>, [u64; 2]) {
    // dot1dBasePortIfIndex 0 or negative is no interface (InterfaceIndex starts at 1).
    let base: BTreeMap<u64, u64> = r
        .column(&fdb::BASE_PORT_IFINDEX)
        .filter_map(|(i, t, v)| match i {
            [p] => Some((u64::from(*p), Recording::int(t, v).filter(|&x| x >= 1)?)),
            _ => None,
        })
        .collect();
    let if_name_col = [1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 1];
    let names: BTreeMap<u64, String> = r
        .column(&if_name_col)
        .filter_map(|(i, t, v)| match i {
            [x] => {
                let b = Recording::bytes(t, v)?;
                // rtmon's documented text rendering: trailing NULs trimmed, lossy UTF-8.
                let end = b.iter().rposition(|&c| c != 0).map_or(0, |p| p + 1);
                Some((
                    u64::from(*x),
                    String::from_utf8_lossy(&b[..end]).into_owned(),
                ))
            }
            _ => None,
        })
        .collect();
    let status = |col: &[u32], idx: &[u32]| -> String {
        let mut o = col.to_vec();
        o.extend_from_slice(idx);
        let s = r.rows.get(&o).and_then(|(t, v)| Recording::int(t, v));
        match s {
            Some(1) => "other",
            Some(2) => "invalid",
            Some(3) => "learned",
            Some(4) => "self",
            Some(5) => "mgmt",
            _ => "",
        }
        .to_string()
    };
    // A MAC in an index: six arcs, or the length-prefixed 6.a.b.c.d.e.f.
    let mac = |idx: &[u32]| -> Option<String> {
        let m = match idx.len() {
            6 => idx,
            7 if idx[0] == 6 => &idx[1..],
            _ => return None,
        };
        let octets: Option<Vec<u8>> = m.iter().map(|&x| u8::try_from(x).ok()).collect();
        Some(
            octets?
                .iter()
                .map(|o| format!("{o:02x}"))
                .collect::<Vec<_>>()
                .join(":"),
        )
    };
    let mut out = BTreeSet::new();
    let mut bad = [0u64; 2];
    for (table, (port_col, status_col)) in [
        (&fdb::DOT1D_PORT[..], &fdb::DOT1D_STATUS[..]),
        (&fdb::DOT1Q_PORT[..], &fdb::DOT1Q_STATUS[..]),
    ]
    .into_iter()
    .enumerate()
    {
        for (idx, t, v) in r.column(port_col) {
            let (vlan, mac_idx) = if table == 0 {
                (String::new(), idx)
            } else {
                match idx.split_first() {
                    Some((f, rest)) => (f.to_string(), rest),
                    None => (String::new(), idx),
                }
            };
            let (Some(m), Some(port)) = (mac(mac_idx), Recording::int(t, v)) else {
                bad[table] += 1;
                continue;
            };
            let ifindex = base.get(&port).copied();
            let ifname = ifindex
                .and_then(|i| names.get(&i).cloned())
                .unwrap_or_default();
            out.insert([
                m,
                vlan,
                port.to_string(),
                ifindex.map(|i| i.to_string()).unwrap_or_default(),
                ifname,
                status(status_col, idx),
            ]);
        }
    }
    (out, bad)
}

/// metric name → column OID, from upstream's module.
fn metric_oids(yml: &str) -> BTreeMap<String, Vec<u32>> {
    let mut m = BTreeMap::new();
    let mut name: Option<String> = None;
    for line in yml.lines() {
        let t = line.trim();
        if let Some(n) = t.strip_prefix("- name: ") {
            name = Some(n.to_string());
        } else if let (Some(o), Some(n)) = (t.strip_prefix("oid: "), name.take()) {
            if line.starts_with("    oid:") {
                if let Ok(oid) = o.split('.').map(str::parse).collect() {
                    m.insert(n, oid);
                }
            }
        }
    }
    m
}

/// The ifType enum of upstream's module.
fn upstream_if_types(yml: &str) -> Vec<(i64, String)> {
    let Some(start) = yml.find("  - name: ifType\n") else {
        return Vec::new();
    };
    let rest = &yml[start..];
    let Some(e) = rest.find("    enum_values:\n") else {
        return Vec::new();
    };
    rest[e..]
        .lines()
        .skip(1)
        .map_while(|l| {
            let (k, v) = l.strip_prefix("      ")?.split_once(": ")?;
            Some((k.parse().ok()?, v.trim_matches('"').to_string()))
        })
        .collect()
}

/// snmp_exporter 0.21 config: upstream's if_mib once per community, as `if_mib_<c>`
/// (only version, community and a patient timeout added).
fn snmp_exporter_config(upstream: &str, communities: &[&str]) -> String {
    let body: String = upstream
        .lines()
        .filter(|l| !l.starts_with('#') && *l != "if_mib:")
        .map(|l| format!("{l}\n"))
        .collect();
    communities
        .iter()
        .map(|c| {
            format!(
                "\"if_mib_{c}\":\n  version: 2\n  auth:\n    community: \"{c}\"\n  timeout: 10s\n  retries: 3\n{body}"
            )
        })
        .collect()
}

/// What the comparison of one agent found.
#[derive(Default)]
struct Outcome {
    upstream_series: usize,
    equal: usize,
    nul_trimmed: usize,
    bare_column: usize,
    wrapped: usize,
    synthesised_ifindex: usize,
    mismatches: Vec<String>,
    fdb_expected: usize,
    fdb_matched: usize,
    fdb_undecodable: [u64; 2],
    secs: (f64, f64),
}

/// rtmon's documented rendering of upstream's labels: trailing NULs trimmed; a label left
/// empty by that is no label at all (Prometheus's rule, which the parser follows).
fn trim_nul_labels(l: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    l.iter()
        .map(|(k, v)| {
            let v = if matches!(k.as_str(), "ifAlias" | "ifDescr" | "ifName") {
                v.trim_end_matches('\0').to_string()
            } else {
                v.clone()
            };
            (k.clone(), v)
        })
        .filter(|(_, v)| !v.is_empty())
        .collect()
}

/// Compares one agent's scrapes under the README's documented differences.
fn compare(
    rec: &Recording,
    oids: &BTreeMap<String, Vec<u32>>,
    upstream: &Scrape,
    ours: &Scrape,
) -> Outcome {
    let mut o = Outcome::default();
    let mut seen: HashSet<&Series> = HashSet::new();
    for (name, theirs) in &upstream.types {
        match ours.types.get(name) {
            Some(o2) if o2 != theirs && !name.starts_with("snmp_") => o.mismatches.push(format!(
                "TYPE/HELP of {name}: snmp_exporter {theirs:?}, rtmon {o2:?}"
            )),
            _ => {}
        }
    }
    for (k, theirs) in &upstream.series {
        if k.0.starts_with("snmp_") {
            continue;
        }
        o.upstream_series += 1;
        let trimmed = (k.0.clone(), trim_nul_labels(&k.1));
        let (key, nul) = if ours.series.contains_key(k) {
            (k.clone(), false)
        } else if trimmed != *k && ours.series.contains_key(&trimmed) {
            (trimmed, true)
        } else {
            // A value at the bare column OID (no index): snmp_exporter calls it ifIndex 0.
            let bare = k.1.get("ifIndex").is_some_and(|i| i == "0")
                && oids.get(&k.0).is_some_and(|oid| rec.has(oid));
            if bare {
                o.bare_column += 1;
            } else {
                o.mismatches.push(format!("missing in rtmon: {}", show(k)));
            }
            continue;
        };
        let Some((okey, ov)) = ours.series.get_key_value(&key) else {
            continue;
        };
        seen.insert(okey);
        let t = theirs.as_f64();
        // Counter64 ≥ 2^53: snmp_exporter wraps modulo 2^53, rtmon is exact.
        let (equal, wrapped) = match *ov {
            Value::U64(u) if u >= 1 << 53 && t == (u % (1 << 53)) as f64 => (true, true),
            v => (t == v.as_f64(), false),
        };
        if !equal {
            o.mismatches
                .push(format!("{}: snmp_exporter {t}, rtmon {ov:?}", show(k)));
        } else if nul {
            o.nul_trimmed += 1;
        } else if wrapped {
            o.wrapped += 1;
        } else {
            o.equal += 1;
        }
    }
    let if_index_col = [1, 3, 6, 1, 2, 1, 2, 2, 1, 1];
    for k in ours.series.keys() {
        if seen.contains(k) || k.0.starts_with("snmp_") || k.0.starts_with("rtmon_") {
            continue;
        }
        // ifIndex synthesised from the row index where the agent has no ifIndex column.
        let synthesised = k.0 == "ifIndex"
            && k.1
                .get("ifIndex")
                .and_then(|i| i.parse::<u32>().ok())
                .is_some_and(|i| {
                    let mut oid = if_index_col.to_vec();
                    oid.push(i);
                    !rec.has(&oid)
                });
        if synthesised {
            o.synthesised_ifindex += 1;
        } else {
            o.mismatches.push(format!("only in rtmon: {}", show(k)));
        }
    }
    o
}

#[test]
fn librenms_recordings_beside_snmp_exporter_0_21() {
    let test = "librenms_recordings_beside_snmp_exporter_0_21";
    let up = upstream_dir();
    let snmprec_dir = up.join("librenms-snmprec");
    let Ok(upstream_yml) = std::fs::read_to_string(up.join(UPSTREAM_IF_MIB)) else {
        eprintln!(
            "\n!!!!! SKIP {test}: upstream data not found at {} (other projects' files, read at test time from ../shared beside the repository)\n",
            up.display()
        );
        return;
    };
    if !snmprec_dir.is_dir() {
        eprintln!("\n!!!!! SKIP {test}: {} not found\n", snmprec_dir.display());
        return;
    }
    // The Rust table is upstream's ifType enum (both from IANAifType-MIB).
    let theirs = upstream_if_types(&upstream_yml);
    let ours: Vec<(i64, String)> = rtmon_snmp::iftype::IANA_IF_TYPES
        .iter()
        .map(|(k, v)| (*k, v.to_string()))
        .collect();
    assert_eq!(
        ours, theirs,
        "IANAifType table differs from upstream's if_mib enum"
    );
    if !snmpsim_available(test, &["prometheus-snmp-exporter"]) {
        return;
    }
    let mut names: Vec<String> = std::fs::read_dir(&snmprec_dir)
        .expect("read_dir")
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(".snmprec"))
                .map(String::from)
        })
        .collect();
    names.sort();
    assert!(
        !names.is_empty(),
        "no recordings in {}",
        snmprec_dir.display()
    );
    let mut recs: Vec<(String, Vec<u8>)> = names
        .iter()
        .map(|n| {
            let p = snmprec_dir.join(format!("{n}.snmprec"));
            (n.clone(), std::fs::read(&p).expect("read recording"))
        })
        .collect();
    recs.push(("quirks".into(), fixture("quirks.snmprec")));
    recs.push(("quirks-utf8".into(), fixture("quirks-utf8.snmprec")));
    let communities: Vec<&str> = recs.iter().map(|r| r.0.as_str()).collect();
    let t0 = Instant::now();
    let sim = Snmpsim::serve(&recs, Duration::from_secs(180)).expect("snmpsim");
    eprintln!(
        "snmpsim: {} recordings indexed and answering in {:.1}s",
        recs.len(),
        t0.elapsed().as_secs_f64()
    );
    let mut cmd = Command::new("prometheus-snmp-exporter");
    cmd.arg("--log.level=warn");
    let peer = spawn(
        "prometheus-snmp-exporter",
        "snmp.yml",
        &snmp_exporter_config(&upstream_yml, &communities),
        cmd,
    );
    let ex = start_rtmon(&communities);
    let oids = metric_oids(&upstream_yml);
    let mut outcomes: Vec<(String, Outcome)> = Vec::new();
    for (name, content) in &recs {
        let rec = Recording::parse(content);
        let q_up = format!("/snmp?target={}&module=if_mib_{name}", sim.addr());
        let q_ours = format!("/snmp?target={}&auth={name}&module=ifs,fdb", sim.addr());
        // One after the other: snmpsim answers one request at a time anyway, and each
        // scrape then stays well within its timeout on a loaded machine.
        let timed = |r: &Running, q: &str| {
            let t = Instant::now();
            let (st, b) = r.get(q);
            (st, b, t.elapsed().as_secs_f64())
        };
        let (st_up, up_body, s_up) = timed(&peer, &q_up);
        let (st_ours, ours_body, s_ours) = timed(&ex, &q_ours);
        assert_eq!(st_ours, 200, "{name}: rtmon: {ours_body}");
        let ours = parse(&ours_body);
        assert_eq!(
            value_of(&ours, "snmp_up", &[]),
            Some(1),
            "{name}: {ours_body}"
        );
        if name == "quirks-utf8" {
            // Documented: snmp_exporter refuses the whole scrape over one non-UTF-8 label.
            assert_eq!(st_up, 500, "{name}: snmp_exporter: {up_body}");
            assert!(
                ours.series
                    .keys()
                    .any(|k| k.1.get("ifAlias").is_some_and(|a| a == "\u{FFFD}ok")),
                "{ours_body}"
            );
            continue;
        }
        assert_eq!(st_up, 200, "{name}: snmp_exporter: {up_body}");
        let upstream = parse(&up_body);
        let mut o = compare(&rec, &oids, &upstream, &ours);
        o.secs = (s_up, s_ours);
        let (want, bad) = fdb_join(&rec);
        let got: BTreeSet<[String; 6]> = ours
            .series
            .keys()
            .filter(|k| k.0 == "rtmon_snmp_fdb_entry_info")
            .map(|k| {
                let g = |n: &str| k.1.get(n).cloned().unwrap_or_default();
                [
                    g("mac"),
                    g("vlan"),
                    g("port"),
                    g("ifIndex"),
                    g("ifName"),
                    g("status"),
                ]
            })
            .collect();
        o.fdb_expected = want.len();
        o.fdb_matched = want.intersection(&got).count();
        for (i, t) in fdb::TABLES.iter().enumerate() {
            let n = value_of(&ours, "rtmon_snmp_fdb_undecodable_rows", &[("table", t)]);
            o.fdb_undecodable[i] = n.and_then(|n| u64::try_from(n).ok()).unwrap_or_else(|| {
                panic!("{name}: rtmon_snmp_fdb_undecodable_rows{{table={t}}}: {n:?}")
            });
        }
        for e in want.symmetric_difference(&got).take(5) {
            o.mismatches.push(format!(
                "FDB entry {} {e:?}",
                if want.contains(e) {
                    "missing in rtmon"
                } else {
                    "not in the recording's join"
                }
            ));
        }
        if o.fdb_undecodable != bad {
            o.mismatches.push(format!(
                "undecodable FDB rows: rtmon {:?}, recording {bad:?}",
                o.fdb_undecodable
            ));
        }
        outcomes.push((name.clone(), o));
    }
    eprintln!(
        "\n{:<32} {:>8} {:>8} {:>5} {:>5} {:>5} {:>7} {:>5} {:>11} {:>7} {:>13}",
        "agent",
        "upstream",
        "equal",
        "NUL",
        "bare",
        "wrap",
        "ifIndex",
        "diff",
        "FDB",
        "undec",
        "secs up/rtmon"
    );
    for (n, o) in &outcomes {
        eprintln!(
            "{n:<32} {:>8} {:>8} {:>5} {:>5} {:>5} {:>7} {:>5} {:>5}/{:<5} {:>3}/{:<3} {:>6.1}/{:<6.1}",
            o.upstream_series,
            o.equal,
            o.nul_trimmed,
            o.bare_column,
            o.wrapped,
            o.synthesised_ifindex,
            o.mismatches.len(),
            o.fdb_matched,
            o.fdb_expected,
            o.fdb_undecodable[0],
            o.fdb_undecodable[1],
            o.secs.0,
            o.secs.1
        );
    }
    let total: usize = outcomes.iter().map(|(_, o)| o.upstream_series).sum();
    let with_fdb = outcomes
        .iter()
        .filter(|(n, o)| n != "quirks" && o.fdb_expected > 0)
        .count();
    eprintln!(
        "{total} snmp_exporter series over {} agents; {with_fdb} recordings with an FDB",
        outcomes.len()
    );
    let mismatches: Vec<String> = outcomes
        .iter()
        .flat_map(|(n, o)| o.mismatches.iter().map(move |m| format!("{n}: {m}")))
        .collect();
    assert!(
        mismatches.is_empty(),
        "{} differences beyond the documented ones, first: {:#?}",
        mismatches.len(),
        &mismatches[..mismatches.len().min(25)]
    );
    // Each documented difference really happens on the fixture built for it.
    let q = &outcomes
        .iter()
        .find(|(n, _)| n == "quirks")
        .expect("quirks fixture compared")
        .1;
    assert!(
        q.nul_trimmed > 0 && q.bare_column > 0 && q.wrapped > 0,
        "quirks fixture exercised no documented difference"
    );
    assert_eq!(q.synthesised_ifindex, 4);
    assert_eq!(q.fdb_undecodable, [1, 1]);
    if names.len() == 13 {
        assert_eq!(with_fdb, 9, "the 13 LibreNMS recordings hold 9 FDBs");
    }
}

#[test]
fn comparison_allows_only_the_documented_differences() {
    let rec = Recording::parse(
        b"1.3.6.1.2.1.2.2.1.8.1|2|1\n1.3.6.1.2.1.31.1.1.1.14|2|2\n1.3.6.1.2.1.31.1.1.1.14.1|2|1\n",
    );
    let oids = metric_oids(
        "  - name: ifOperStatus\n    oid: 1.3.6.1.2.1.2.2.1.8\n  - name: ifLinkUpDownTrapEnable\n    oid: 1.3.6.1.2.1.31.1.1.1.14\n",
    );
    let upstream = parse(concat!(
        "# TYPE ifOperStatus gauge\n",
        "ifOperStatus{ifAlias=\"\0\0\",ifDescr=\"a\",ifIndex=\"1\",ifName=\"a\"} 1\n",
        "# TYPE ifLinkUpDownTrapEnable gauge\n",
        "ifLinkUpDownTrapEnable{ifAlias=\"\",ifDescr=\"\",ifIndex=\"0\",ifName=\"\"} 2\n",
        "ifLinkUpDownTrapEnable{ifAlias=\"\",ifDescr=\"a\",ifIndex=\"1\",ifName=\"a\"} 1\n",
        "# TYPE ifHCInOctets counter\n",
        "ifHCInOctets{ifAlias=\"\",ifDescr=\"a\",ifIndex=\"1\",ifName=\"a\"} 1\n",
    ));
    let ours_ok = concat!(
        "# TYPE ifOperStatus gauge\n",
        "ifOperStatus{ifAlias=\"\",ifDescr=\"a\",ifIndex=\"1\",ifName=\"a\"} 1\n",
        "# TYPE ifLinkUpDownTrapEnable gauge\n",
        "ifLinkUpDownTrapEnable{ifAlias=\"\",ifDescr=\"a\",ifIndex=\"1\",ifName=\"a\"} 1\n",
        "# TYPE ifHCInOctets counter\n",
        "ifHCInOctets{ifAlias=\"\",ifDescr=\"a\",ifIndex=\"1\",ifName=\"a\"} 9007199254740993\n",
        "# TYPE ifIndex gauge\n",
        "ifIndex{ifAlias=\"\",ifDescr=\"a\",ifIndex=\"1\",ifName=\"a\"} 1\n",
    );
    let o = compare(&rec, &oids, &upstream, &parse(ours_ok));
    assert!(o.mismatches.is_empty(), "{:?}", o.mismatches);
    assert_eq!(
        (
            o.equal,
            o.nul_trimmed,
            o.bare_column,
            o.wrapped,
            o.synthesised_ifindex
        ),
        (1, 1, 1, 1, 1)
    );
    // Anything else is a difference: a wrong value, a missing series, a changed label,
    // an extra series, another TYPE.
    for (from, to) in [
        ("9007199254740993", "9007199254740994"),
        (
            "ifOperStatus{ifAlias=\"\",ifDescr=\"a\",ifIndex=\"1\",ifName=\"a\"} 1\n",
            "",
        ),
        (
            "ifDescr=\"a\",ifIndex=\"1\",ifName=\"a\"} 1\n# TYPE ifHCIn",
            "ifDescr=\"A\",ifIndex=\"1\",ifName=\"a\"} 1\n# TYPE ifHCIn",
        ),
        ("ifIndex{", "ifMtu{"),
        ("# TYPE ifHCInOctets counter", "# TYPE ifHCInOctets gauge"),
    ] {
        assert!(ours_ok.contains(from), "{from}");
        let o = compare(&rec, &oids, &upstream, &parse(&ours_ok.replace(from, to)));
        assert!(!o.mismatches.is_empty(), "{from} → {to} went unnoticed");
    }
}
