//! Issue 31: switches nobody here had seen — ambiguous interface names, bulk answers
//! too large for the agent to send, a column whose walk times out, bridge ports without
//! an interface. Each situation is served by snmpsim from a recording made here
//! (`rtmon_testkit::snmprec`, never copied from elsewhere), scraped by rtmon and, side
//! by side, by snmp_exporter 0.21 (Debian's `prometheus-snmp-exporter`) with a module
//! walking the same objects; what the peer does is asserted and printed.
//!
//! snmpsim (pysnmp) stays silent when its answer would not fit in a UDP datagram
//! (65,507 octets), like the agents of the issue facing an answer they cannot send. The
//! agent of the issue gave up at smaller answers (2.3 KB PortLists, several per answer).
//! Here a GETBULK carrying both PortList columns of 48 VLANs (2.3 KB each, as in the
//! issue) exceeds a datagram; for the FDB, whose last request runs past its end into
//! the PortLists that follow it in the MIB, those PortLists are 8 KB (a chassis
//! numbering bridge ports up to 65,536), so that a dozen of them exceed a datagram. A
//! value larger than a datagram can never be sent: its column's walk times out
//! whatever is asked.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use rtmon::expo::parse::{parse_text, ParseOptions};
use rtmon_testkit::snmp::{self, Snmpsim};
use rtmon_testkit::snmprec::{self, Interface, Snmprec};
use rtmon_testkit::{available, free_port, http, wait_for_port, Proc};

fn snmpsim_available(test: &str) -> bool {
    let Some(bin) = snmp::snmpsim_binary() else {
        return available(test, &["snmpsim-command-responder"], false);
    };
    available(
        test,
        &[
            bin.to_str().unwrap_or("?"),
            "snmpget",
            "prometheus-snmp-exporter",
        ],
        false,
    )
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

    /// GET with a 10 s scrape timeout (Prometheus' default, the deadline).
    fn get(&self, path: &str) -> (u16, String) {
        self.get_within(path, "10")
    }

    /// GET with a scrape timeout of `secs`.
    fn get_within(&self, path: &str, secs: &str) -> (u16, String) {
        let r = http(
            "GET",
            &self.addr,
            path,
            &[("X-Prometheus-Scrape-Timeout-Seconds", secs)],
            b"",
        )
        .unwrap_or_else(|e| panic!("GET {path}: {e}\n{}", self.log()));
        (r.status, r.text())
    }
}

fn spawn(name: &str, config: &str, mut cmd: Command) -> Running {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("snmp.yml");
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

/// rtmon with one auth per community (named after it) and `modules`.
fn rtmon(communities: &[&str], modules: &str) -> Running {
    let mut cfg = String::from("auths:\n");
    for c in communities {
        cfg.push_str(&format!("  {c}: {{community: \"{c}\"}}\n"));
    }
    cfg.push_str(&format!("modules:\n{modules}"));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rtmon-snmp-exporter"));
    cmd.arg("--log.level=debug");
    spawn("rtmon-snmp-exporter", &cfg, cmd)
}

fn peer(config: &str) -> Running {
    let mut cmd = Command::new("prometheus-snmp-exporter");
    cmd.arg("--log.level=warn");
    spawn("prometheus-snmp-exporter", config, cmd)
}

/// A snmp_exporter 0.21 module (pre-`auths` format): `walk` the OIDs, and one metric
/// per `(name, oid, type, index label)`.
fn peer_module(name: &str, community: &str, walk: &[&str], metrics: &[(&str, &str)]) -> String {
    let mut s = format!(
        "{name}:\n  version: 2\n  auth:\n    community: \"{community}\"\n  timeout: 3s\n  retries: 3\n  max_repetitions: 25\n  walk:\n"
    );
    for w in walk {
        s.push_str(&format!("  - {w}\n"));
    }
    s.push_str("  metrics:\n");
    for (m, body) in metrics {
        s.push_str(&format!("  - name: {m}\n{body}"));
    }
    s
}

type Series = BTreeMap<(String, BTreeMap<String, String>), f64>;

fn parse(body: &str) -> Series {
    let p = parse_text(
        body,
        &ParseOptions {
            max_lines: 1_000_000,
            ..ParseOptions::default()
        },
    );
    assert!(p.errors.is_empty(), "unparsable: {:?}\n{body}", p.errors);
    let mut out = Series::new();
    for f in p.set.families() {
        for x in &f.samples {
            let l = x
                .labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect();
            out.insert((format!("{}{}", f.name, x.suffix), l), x.value.as_f64());
        }
    }
    out
}

/// The series of `name` whose labels include `labels` (an empty value: label absent).
fn find<'a>(
    s: &'a Series,
    name: &str,
    labels: &[(&str, &str)],
) -> Vec<(&'a BTreeMap<String, String>, f64)> {
    s.iter()
        .filter(|((n, l), _)| {
            n == name
                && labels.iter().all(|(k, v)| {
                    if v.is_empty() {
                        !l.contains_key(*k)
                    } else {
                        l.get(*k).is_some_and(|x| x == v)
                    }
                })
        })
        .map(|((_, l), v)| (l, *v))
        .collect()
}

fn one(s: &Series, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    match find(s, name, labels)[..] {
        [(_, v)] => Some(v),
        _ => None,
    }
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

fn indexes(v: &serde_json::Value) -> Vec<i64> {
    v["candidates"]
        .as_array()
        .map(|a| a.iter().filter_map(|c| c["ifIndex"].as_i64()).collect())
        .unwrap_or_default()
}

const IF_NAME_LOOKUP: &str = "    oid: OID\n    type: TYPE\n    indexes:\n    - labelname: ifIndex\n      type: gauge\n    lookups:\n    - labels: [ifIndex]\n      labelname: ifName\n      oid: 1.3.6.1.2.1.31.1.1.1.1\n      type: DisplayString\n";

fn if_metric(oid: &str, kind: &str) -> String {
    IF_NAME_LOOKUP.replace("OID", oid).replace("TYPE", kind)
}

/// Situation 1: two interfaces with one ifName.
#[test]
fn ambiguous_if_names() {
    let test = "ambiguous_if_names";
    if !snmpsim_available(test) {
        return;
    }
    let sim = Snmpsim::serve(
        &[("ambig".into(), snmprec::ambiguous_names().into_bytes())],
        Duration::from_secs(60),
    )
    .expect("snmpsim");
    let ex = rtmon(
        &["ambig"],
        "  ifs: {base: if_mib}\n  fdb: {base: bridge_fdb}\n",
    );
    let lookup = |name: &str, extra: &str| {
        ex.get(&format!(
            "/lookup?target={}&auth=ambig&ifName={}{extra}",
            sim.addr(),
            enc(name)
        ))
    };

    // Two interfaces named XGigabitEthernet2/0/4: 409 with both, never one silently.
    let (st, body) = lookup("XGigabitEthernet2/0/4", "");
    assert_eq!(st, 409, "{body}");
    let v = json(&body);
    assert_eq!(indexes(&v), vec![57, 163], "{body}");
    let c = &v["candidates"];
    assert_eq!(c[0]["ifDescr"], "XGigabitEthernet2/0/4");
    assert_eq!(c[0]["ifAlias"], "to core");
    assert_eq!(c[0]["ifOperStatus"], 1);
    assert_eq!(c[1]["ifDescr"], "XGigabitEthernet2/0/4 stack-port");
    assert_eq!(c[1]["ifOperStatus"], 2);
    assert!(
        v["error"].as_str().is_some_and(|e| e
            .contains("2 interfaces are named 'XGigabitEthernet2/0/4'")
            && e.contains("pin the port by ifIndex or ifDescr")),
        "{body}"
    );
    // Pinned by ifIndex or by ifDescr: exactly one.
    for extra in [
        "&ifIndex=163",
        &format!("&ifDescr={}", enc("XGigabitEthernet2/0/4 stack-port")),
    ] {
        let (st, body) = lookup("XGigabitEthernet2/0/4", extra);
        assert_eq!(st, 200, "{extra}: {body}");
        let v = json(&body);
        assert_eq!(v["ifIndex"], 163, "{body}");
        assert_eq!(v["ifOperStatus"], 2, "{body}");
    }
    // Same name and same ifDescr: only ifIndex tells them apart.
    let (st, body) = lookup(
        "Ethernet 0/29",
        &format!("&ifDescr={}", enc("Ethernet 0/29")),
    );
    assert_eq!(st, 409, "{body}");
    assert!(
        body.contains("does not tell them apart: pin it by ifIndex"),
        "{body}"
    );
    assert_eq!(indexes(&json(&body)), vec![29, 229]);
    let (st, body) = lookup("Ethernet 0/29", "&ifIndex=229");
    assert_eq!(
        (st, json(&body)["ifIndex"].as_i64()),
        (200, Some(229)),
        "{body}"
    );
    // A pin no interface of that name has: 404 with the interfaces of that name.
    let (st, body) = lookup("Ethernet 0/29", "&ifIndex=57");
    assert_eq!(st, 404, "{body}");
    assert_eq!(indexes(&json(&body)), vec![29, 229], "{body}");
    // A unique name: as before.
    let (st, body) = lookup("GigabitEthernet0/0/1", "");
    assert_eq!(
        (st, json(&body)["ifIndex"].as_i64()),
        (200, Some(1)),
        "{body}"
    );
    let (st, body) = lookup("XGigabitEthernet2/0/4", "&ifIndex=x");
    assert_eq!(st, 400, "{body}");

    // The series: each interface on its own, so a port pinned by ifIndex or ifDescr
    // selects one; by the name alone a selector would read both.
    let (st, body) = ex.get(&format!(
        "/snmp?target={}&auth=ambig&module=ifs",
        sim.addr()
    ));
    assert_eq!(st, 200, "{body}");
    let s = parse(&body);
    assert_eq!(one(&s, "snmp_up", &[]), Some(1.0), "{body}");
    let both = find(&s, "ifHCInOctets", &[("ifName", "XGigabitEthernet2/0/4")]);
    assert_eq!(both.len(), 2, "{body}");
    for i in snmprec::ambiguous_interfaces() {
        let idx = i.index.to_string();
        assert_eq!(
            one(&s, "ifHCInOctets", &[("ifName", i.name), ("ifIndex", &idx)]),
            Some(i.hc_in_octets() as f64),
            "{}: {body}",
            i.index
        );
        assert_eq!(
            one(
                &s,
                "ifMtu",
                &[("ifName", i.name), ("ifDescr", i.descr), ("ifIndex", &idx)]
            ),
            Some(f64::from(i.mtu())),
            "{body}"
        );
    }
    // snmp_exporter 0.21 on the same recording.
    let cfg = peer_module(
        "ifs",
        "ambig",
        &["1.3.6.1.2.1.31.1.1.1.6", "1.3.6.1.2.1.31.1.1.1.1"],
        &[(
            "ifHCInOctets",
            &if_metric("1.3.6.1.2.1.31.1.1.1.6", "counter"),
        )],
    );
    let p = peer(&cfg);
    let (st, body) = p.get(&format!("/snmp?target={}&module=ifs", sim.addr()));
    assert_eq!(st, 200, "{body}");
    let ps = parse(&body);
    let theirs = find(&ps, "ifHCInOctets", &[("ifName", "XGigabitEthernet2/0/4")]);
    assert_eq!(theirs.len(), 2, "{body}");
    eprintln!(
        "snmp_exporter 0.21: XGigabitEthernet2/0/4 gives {} ifHCInOctets series (ifIndex 57 and 163) and it has no /lookup to say the name is ambiguous.\nrtmon: the same two series, and /lookup answers 409 with both candidates, 200 when pinned by ifIndex or ifDescr.",
        theirs.len()
    );
}

/// Situation 4: bridge ports answered with dot1dBasePortIfIndex 0 (an Arris CMTS) or -1
/// (an Allied Telesis).
#[test]
fn bridge_ports_without_interface() {
    let test = "bridge_ports_without_interface";
    if !snmpsim_available(test) {
        return;
    }
    let sim = Snmpsim::serve(
        &[("ambig".into(), snmprec::ambiguous_names().into_bytes())],
        Duration::from_secs(60),
    )
    .expect("snmpsim");
    let ex = rtmon(&["ambig"], "  fdb: {base: bridge_fdb}\n");
    let (st, body) = ex.get(&format!(
        "/snmp?target={}&auth=ambig&module=fdb",
        sim.addr()
    ));
    assert_eq!(st, 200, "{body}");
    let s = parse(&body);
    assert_eq!(one(&s, "snmp_up", &[]), Some(1.0), "{body}");
    // Bridge ports 2 (dot1dBasePortIfIndex 0) and 3 (-1): unknown interface, alike.
    let fdb = |port: &str| find(&s, "rtmon_snmp_fdb_entry_info", &[("port", port)]);
    for (port, ifindex, ifname) in [
        ("1", "1", "GigabitEthernet0/0/1"),
        ("2", "", ""),
        ("3", "", ""),
        ("4", "57", "XGigabitEthernet2/0/4"),
    ] {
        let e = fdb(port);
        assert_eq!(e.len(), 1, "port {port}: {body}");
        assert_eq!(
            e[0].0.get("ifIndex").map(String::as_str),
            (!ifindex.is_empty()).then_some(ifindex),
            "port {port}: {body}"
        );
        assert_eq!(
            e[0].0.get("ifName").map(String::as_str),
            (!ifname.is_empty()).then_some(ifname),
            "port {port}: {body}"
        );
    }
    assert!(!body.contains("ifIndex=\"0\""), "{body}");
    assert!(!body.contains("ifIndex=\"-1\""), "{body}");

    // snmp_exporter 0.21 on the same recording: the raw column (it has no FDB join).
    let p = peer(&peer_module(
        "bridge",
        "ambig",
        &["1.3.6.1.2.1.17.1.4.1.2"],
        &[(
            "dot1dBasePortIfIndex",
            "    oid: 1.3.6.1.2.1.17.1.4.1.2\n    type: gauge\n    indexes:\n    - labelname: dot1dBasePort\n      type: gauge\n",
        )],
    ));
    let (st, body) = p.get(&format!("/snmp?target={}&module=bridge", sim.addr()));
    assert_eq!(st, 200, "{body}");
    let ps = parse(&body);
    let raw = |port: &str| one(&ps, "dot1dBasePortIfIndex", &[("dot1dBasePort", port)]);
    assert_eq!((raw("2"), raw("3")), (Some(0.0), Some(-1.0)), "{body}");
    eprintln!(
        "snmp_exporter 0.21: dot1dBasePortIfIndex exported raw (port 2 = 0, port 3 = -1); a join on it (as rtmon's did) gives ifIndex 0 and an empty one.\nrtmon: FDB rows on ports 2 and 3 have ifIndex=\"\" ifName=\"\" alike."
    );
}

/// An agent with a 918-entry FDB (48 ports, 48 VLANs), followed in the MIB by the egress
/// and untagged PortLists, of `portlist` octets, of its first `vlans` VLANs.
fn big_portlists(portlist: usize, vlans: u32) -> String {
    let mut r = Snmprec::new("sw-big-portlists");
    let names: Vec<String> = (1..=48).map(|p| format!("Ethernet1/{p}")).collect();
    let ifs: Vec<Interface<'_>> = names
        .iter()
        .enumerate()
        .map(|(k, n)| Interface {
            index: u32::try_from(k).unwrap_or(0) + 1,
            name: n,
            descr: n,
            alias: "",
            oper: 1,
        })
        .collect();
    r.interfaces(&ifs);
    for p in 1..=48u32 {
        r.add(
            &[&snmprec::BASE_PORT_IFINDEX[..], &[p]].concat(),
            "2",
            p.to_string(),
        );
    }
    for e in 0..918u32 {
        let vlan = 100 + e % 48;
        let idx = [vlan, 2, 0, 0x5e, 0, e / 256, e % 256];
        let port = e % 48 + 1;
        r.add(
            &[&snmprec::DOT1Q_FDB_PORT[..], &idx].concat(),
            "2",
            port.to_string(),
        );
        r.add(&[&snmprec::DOT1Q_FDB_STATUS[..], &idx].concat(), "2", "3");
    }
    // Ports 1-48 in the first six octets, the rest of a big chassis' bitmap zero.
    let egress = format!("{}{}", "ff".repeat(6), "00".repeat(portlist - 6));
    let untagged = format!("{}{}", "0f".repeat(6), "00".repeat(portlist - 6));
    for v in 0..vlans {
        let idx = [0, 100 + v];
        r.add(
            &[&snmprec::VLAN_CURRENT_EGRESS[..], &idx].concat(),
            "4x",
            egress.clone(),
        );
        r.add(
            &[&snmprec::VLAN_CURRENT_UNTAGGED[..], &idx].concat(),
            "4x",
            untagged.clone(),
        );
    }
    r.render()
}

/// Situation 2: a multi-column GETBULK whose answer is too large for the agent.
#[test]
fn bulk_answers_too_large_to_send_are_fetched_smaller() {
    let test = "bulk_answers_too_large_to_send_are_fetched_smaller";
    if !snmpsim_available(test) {
        return;
    }
    let sim = Snmpsim::serve(
        &[
            // Few 8 KB lists (snmpsim slows down with long lines): a dozen are enough.
            ("bigfdb".into(), big_portlists(8192, 14).into_bytes()),
            ("vlans".into(), big_portlists(2300, 48).into_bytes()),
        ],
        Duration::from_secs(60),
    )
    .expect("snmpsim");
    let ex = rtmon(
        &["bigfdb", "vlans"],
        "  fdb: {base: bridge_fdb, timeout: 2s, retries: 3}\n  vlans: {base: qbridge_vlan, timeout: 2s, retries: 3}\n",
    );
    let q = |m: &str| {
        let auth = if m == "fdb" { "bigfdb" } else { "vlans" };
        format!("/snmp?target={}&auth={auth}&module={m}", sim.addr())
    };
    // snmpsim answers these recordings slowly (50-90 ms a request, 3-4 s a scrape that
    // needs no retry): a 20 s deadline keeps the test about the walk, not about
    // snmpsim's speed on a loaded machine. The old walk fails whatever the deadline:
    // it sends the same too-big request again until its retries run out.
    let scrape = |m: &str| ex.get_within(&q(m), "20");
    let fdb_ok = |body: &str, s: &Series| {
        eprintln!(
            "fdb scrape: {:?} s, {:?} packets",
            one(s, "snmp_scrape_walk_duration_seconds", &[("module", "fdb")]),
            one(s, "snmp_scrape_packets_sent", &[("module", "fdb")])
        );
        assert_eq!(one(s, "snmp_up", &[]), Some(1.0), "{body}\n{}", ex.log());
        let entries = find(s, "rtmon_snmp_fdb_entry_info", &[]);
        assert_eq!(entries.len(), 918, "{body}");
        for e in 0..918u32 {
            let mac = format!("02:00:5e:00:{:02x}:{:02x}", e / 256, e % 256);
            let port = (e % 48 + 1).to_string();
            let name = format!("Ethernet1/{port}");
            let vlan = (100 + e % 48).to_string();
            assert_eq!(
                find(
                    s,
                    "rtmon_snmp_fdb_entry_info",
                    &[
                        ("mac", &mac),
                        ("port", &port),
                        ("ifIndex", &port),
                        ("ifName", &name),
                        ("vlan", &vlan),
                        ("status", "learned")
                    ]
                )
                .len(),
                1,
                "{e}"
            );
        }
    };
    // First scrape: the end of the FDB overflows (PortLists beyond it); fetched again
    // smaller, within the deadline.
    let (st, body) = scrape("fdb");
    assert_eq!(st, 200, "{body}");
    let s = parse(&body);
    fdb_ok(&body, &s);
    let retried = one(&s, "snmp_scrape_packets_retried", &[("module", "fdb")]);
    assert!(
        retried.is_some_and(|r| r >= 1.0),
        "no answer was too big? {body}"
    );
    // Second scrape: the columns' ends are known, nothing is too big.
    let (_, body) = scrape("fdb");
    let s = parse(&body);
    fdb_ok(&body, &s);
    assert_eq!(
        one(&s, "snmp_scrape_packets_retried", &[("module", "fdb")]),
        Some(0.0),
        "{body}"
    );
    assert_eq!(
        one(&s, "snmp_scrape_max_repetitions", &[("module", "fdb")]),
        Some(400.0),
        "{body}"
    );

    // The PortList columns themselves: many in one answer are too big.
    let (st, body) = scrape("vlans");
    assert_eq!(st, 200, "{body}");
    let s = parse(&body);
    assert_eq!(one(&s, "snmp_up", &[]), Some(1.0), "{body}");
    let vlan_ports = find(&s, "rtmon_snmp_vlan_port_info", &[]);
    assert_eq!(vlan_ports.len(), 48 * 48, "{body}");
    assert_eq!(
        find(&s, "rtmon_snmp_vlan_port_info", &[("untagged", "true")]).len(),
        48 * 24,
        "{body}"
    );
    let (_, body) = scrape("vlans");
    let s = parse(&body);
    assert_eq!(
        find(&s, "rtmon_snmp_vlan_port_info", &[]).len(),
        48 * 48,
        "{body}"
    );
    // The size that works is remembered: smaller than what failed, no retry.
    let size = one(&s, "snmp_scrape_max_repetitions", &[("module", "vlans")]);
    assert!(size.is_some_and(|v| v < 48.0), "{body}");
    assert_eq!(
        one(&s, "snmp_scrape_packets_retried", &[("module", "vlans")]),
        Some(0.0),
        "{body}"
    );

    // snmp_exporter 0.21 walking the same FDB columns (each alone, 25 repetitions).
    let gauge = |label: &str| {
        format!("    oid: OID\n    type: gauge\n    indexes:\n    - labelname: {label}\n      type: gauge\n")
    };
    // Indexed by dot1qFdbId and the MAC, as the generator makes it from Q-BRIDGE-MIB.
    let fdb_index = "    oid: OID\n    type: gauge\n    indexes:\n    - labelname: dot1qFdbId\n      type: gauge\n    - labelname: dot1qTpFdbAddress\n      type: PhysAddress48\n";
    let cfg = peer_module(
        "fdb",
        "bigfdb",
        &[
            "1.3.6.1.2.1.17.1.4.1.2",
            "1.3.6.1.2.1.17.7.1.2.2.1.2",
            "1.3.6.1.2.1.17.7.1.2.2.1.3",
        ],
        &[
            (
                "dot1dBasePortIfIndex",
                &gauge("dot1dBasePort").replace("OID", "1.3.6.1.2.1.17.1.4.1.2"),
            ),
            (
                "dot1qTpFdbPort",
                &fdb_index.replace("OID", "1.3.6.1.2.1.17.7.1.2.2.1.2"),
            ),
            (
                "dot1qTpFdbStatus",
                &fdb_index.replace("OID", "1.3.6.1.2.1.17.7.1.2.2.1.3"),
            ),
        ],
    );
    let p = peer(&cfg);
    let (st, body) = p.get_within(&format!("/snmp?target={}&module=fdb", sim.addr()), "20");
    let ports = if st == 200 {
        find(&parse(&body), "dot1qTpFdbPort", &[]).len()
    } else {
        0
    };
    eprintln!(
        "snmp_exporter 0.21 on the same FDB: HTTP {st}, {ports} of 918 dot1qTpFdbPort series (it walks each column alone).\nrtmon: snmp_up 1 and all 918 FDB entries, first scrape (the too-big step fetched again smaller) and after (no retry); the PortList columns walked at the size that works."
    );
    // It walks each column alone, 25 repetitions at a time: its last request of
    // dot1qTpFdbStatus holds 18 rows and 7 PortLists beyond them (57 KB), which fit.
    assert_eq!((st, ports), (200, 918), "{body}");
}

/// Situation 3: one column of a multi-column walk times out.
#[test]
fn a_column_that_times_out_leaves_the_others_served() {
    let test = "a_column_that_times_out_leaves_the_others_served";
    if !snmpsim_available(test) {
        return;
    }
    let ifs: Vec<Interface<'_>> = (1..=6u32)
        .map(|i| Interface {
            index: i,
            name: [
                "ge-0/0/1", "ge-0/0/2", "ge-0/0/3", "ge-0/0/4", "ge-0/0/5", "ge-0/0/6",
            ][i as usize - 1],
            descr: [
                "ge-0/0/1", "ge-0/0/2", "ge-0/0/3", "ge-0/0/4", "ge-0/0/5", "ge-0/0/6",
            ][i as usize - 1],
            alias: "",
            oper: 1,
        })
        .collect();
    let mut r = Snmprec::new("sw-silent-column");
    r.interfaces(&ifs);
    // ifHCOutOctets.4: a value no datagram can carry, so the agent is silent whenever the
    // column's walk reaches it.
    r.add(
        &[&snmprec::IFX_TABLE[..], &[10, 4]].concat(),
        "4",
        "x".repeat(65_490),
    );
    let sim = Snmpsim::serve(
        &[("silent".into(), r.render().into_bytes())],
        Duration::from_secs(60),
    )
    .expect("snmpsim");
    let ex = rtmon(
        &["silent"],
        "  ifs: {base: if_mib, timeout: 2s, retries: 1}\n",
    );
    let q = format!("/snmp?target={}&auth=silent&module=ifs", sim.addr());
    for scrape in 1..=2 {
        // A 20 s deadline: the tests run side by side on a small machine, and snmpsim
        // slows down under load; the old walk fails whatever the deadline.
        let (st, body) = ex.get_within(&q, "20");
        assert_eq!(st, 200, "{body}");
        let s = parse(&body);
        assert_eq!(one(&s, "snmp_up", &[]), Some(1.0), "{scrape}: {body}");
        for i in &ifs {
            let l = [("ifName", i.name), ("ifIndex", &*i.index.to_string())];
            let l: Vec<(&str, &str)> = l.iter().map(|(k, v)| (*k, *v)).collect();
            assert_eq!(
                one(&s, "ifHCInOctets", &l),
                Some(i.hc_in_octets() as f64),
                "{scrape}: {body}"
            );
            assert_eq!(
                one(&s, "ifMtu", &l),
                Some(f64::from(i.mtu())),
                "{scrape}: {body}"
            );
            assert_eq!(one(&s, "ifOperStatus", &l), Some(1.0), "{scrape}: {body}");
        }
        assert!(find(&s, "ifHCOutOctets", &[]).is_empty(), "{body}");
        assert_eq!(
            one(
                &s,
                "rtmon_snmp_column_failed",
                &[
                    ("module", "ifs"),
                    ("oid", "1.3.6.1.2.1.31.1.1.1.10"),
                    ("reason", "timeout")
                ]
            ),
            Some(1.0),
            "{body}"
        );
        assert_eq!(find(&s, "rtmon_snmp_column_failed", &[]).len(), 1, "{body}");
        assert_eq!(
            one(&s, "snmp_errors_total", &[("reason", "timeout")]),
            Some(f64::from(scrape)),
            "{body}"
        );
    }
    let log = ex.log();
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("column failed") && l.contains("1.3.6.1.2.1.31.1.1.1.10"))
        .collect();
    assert_eq!(lines.len(), 1, "logged once, not every scrape: {log}");
    assert!(
        lines[0].contains(&sim.addr()) && lines[0].contains("timeout"),
        "{}",
        lines[0]
    );

    // snmp_exporter 0.21 on the same recording.
    let cfg = peer_module(
        "ifs",
        "silent",
        &[
            "1.3.6.1.2.1.31.1.1.1.6",
            "1.3.6.1.2.1.31.1.1.1.10",
            "1.3.6.1.2.1.31.1.1.1.1",
        ],
        &[
            (
                "ifHCInOctets",
                &if_metric("1.3.6.1.2.1.31.1.1.1.6", "counter"),
            ),
            (
                "ifHCOutOctets",
                &if_metric("1.3.6.1.2.1.31.1.1.1.10", "counter"),
            ),
        ],
    );
    let p = peer(&cfg);
    let (st, body) = p.get(&format!("/snmp?target={}&module=ifs", sim.addr()));
    let ins = if st == 200 {
        find(&parse(&body), "ifHCInOctets", &[]).len()
    } else {
        0
    };
    eprintln!(
        "snmp_exporter 0.21 with one column timing out: HTTP {st}, {ins} of 6 ifHCInOctets series ({}).\nrtmon: snmp_up 1, every other column served, rtmon_snmp_column_failed names the column, snmp_errors_total{{reason=\"timeout\"}} counts it, one log line.",
        body.trim()
    );
    assert_eq!(
        ins, 0,
        "snmp_exporter served the other columns: {st} {body}"
    );
}
