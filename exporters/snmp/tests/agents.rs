//! End-to-end tests of rtmon-snmp-exporter over HTTP against real agents: Debian's
//! snmpd (v2c + v3 authPriv) and snmpsim serving generated 48- and 1000-port switches.

use std::process::Command;
use std::time::{Duration, Instant};

use rtmon_testkit::snmp::{self, expected, Snmpd, Snmpsim};
use rtmon_testkit::{available, free_port, http, http_get, sample_value, wait_for_port, Proc};

struct Exporter {
    addr: String,
    log: std::path::PathBuf,
    _dir: tempfile::TempDir,
    _proc: Proc,
}

fn config(snmpd_user: &str) -> String {
    format!(
        r#"auths:
  v2:
    community: "{{env:RTMON_TEST_COMMUNITY}}"
  wrong_v2:
    community: not-the-community
  v3:
    version: 3
    username: {snmpd_user}
    security_level: authPriv
    auth_protocol: SHA
    password: "{{file:AUTHFILE}}"
    priv_protocol: AES
    priv_password: {priv}
  v3_sha256:
    version: 3
    username: {sha256}
    security_level: authPriv
    auth_protocol: SHA256
    password: {auth}
    priv_protocol: AES
    priv_password: {priv}
  v3_wrong:
    version: 3
    username: {snmpd_user}
    security_level: authPriv
    auth_protocol: SHA
    password: wrongpass123
    priv_protocol: AES
    priv_password: {priv}
  sim48: {{community: switch48}}
  sim1000: {{community: switch1000}}
  sim_v3:
    version: 3
    username: {sim}
    security_level: authPriv
    auth_protocol: SHA
    password: {auth}
    priv_protocol: AES
    priv_password: {priv}
    context_name: switch48
modules:
  fast:
    base: if_mib
    timeout: 500ms
    retries: 1
  flow_ports:
    base: if_mib
    filters: {{ifName: '^(hundredGigE 1/27|Port-channel 103)$'}}
"#,
        sha256 = snmp::SNMPD_V3_SHA256_USER,
        sim = snmp::SIM_V3_USER,
        auth = snmp::V3_AUTH_PASS,
        priv = snmp::V3_PRIV_PASS,
    )
}

fn start_exporter(extra: &[&str]) -> Exporter {
    let dir = tempfile::tempdir().expect("tempdir");
    let authfile = dir.path().join("auth");
    std::fs::write(&authfile, format!("{}\n", snmp::V3_AUTH_PASS)).expect("write");
    let cfg = config(snmp::SNMPD_V3_USER).replace("AUTHFILE", &authfile.display().to_string());
    let cfg_path = dir.path().join("snmp.yml");
    std::fs::write(&cfg_path, cfg).expect("write");
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let log = dir.path().join("exporter.log");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rtmon-snmp-exporter"));
    cmd.arg(format!("--web.listen-address={addr}"))
        .arg(format!("--config.file={}", cfg_path.display()))
        .arg("--log.level=debug")
        .args(extra)
        .env("RTMON_TEST_COMMUNITY", snmp::SNMPD_COMMUNITY);
    let proc = Proc::spawn("rtmon-snmp-exporter", cmd, Some(&log)).expect("spawn exporter");
    assert!(
        wait_for_port(&addr, Duration::from_secs(20)),
        "exporter did not listen: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    Exporter {
        addr,
        log,
        _dir: dir,
        _proc: proc,
    }
}

impl Exporter {
    fn scrape(&self, query: &str, timeout_s: &str) -> (u16, String, Duration) {
        let t = Instant::now();
        let r = http(
            "GET",
            &self.addr,
            &format!("/snmp?{query}"),
            &[("X-Prometheus-Scrape-Timeout-Seconds", timeout_s)],
            b"",
        )
        .expect("http");
        (r.status, r.text(), t.elapsed())
    }
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

fn enc(s: &str) -> String {
    s.replace(' ', "%20").replace('/', "%2F")
}

#[test]
fn snmpd_v2c_and_v3_authpriv() {
    if !available("snmpd_v2c_and_v3_authpriv", &["snmpd", "snmpget"], false) {
        return;
    }
    let agent = Snmpd::start().expect("snmpd");
    let ex = start_exporter(&[]);
    let mut label_sets = Vec::new();
    for auth in ["v2", "v3", "v3_sha256"] {
        let (st, body, _) = ex.scrape(&format!("target={}&auth={auth}", agent.addr()), "10");
        assert_eq!(st, 200, "{body}");
        assert_eq!(
            sample_value(&body, "snmp_up", &[]),
            Some(1.0),
            "{auth}: {body}"
        );
        // The loopback interface of the agent's host, with snmp_exporter's label set.
        assert_eq!(
            sample_value(&body, "ifMtu", &[("ifName", "lo"), ("ifDescr", "lo")]),
            Some(65536.0),
            "{auth}: {body}"
        );
        assert_eq!(
            sample_value(&body, "ifOperStatus", &[("ifName", "lo")]),
            Some(1.0),
            "{auth}"
        );
        assert_eq!(
            sample_value(
                &body,
                "ifType_info",
                &[("ifName", "lo"), ("ifType", "softwareLoopback")]
            ),
            Some(1.0),
            "{auth}"
        );
        assert!(
            body.contains("ifHCInOctets{ifAlias=\"\",ifDescr=\"lo\",ifIndex=\"1\",ifName=\"lo\"} "),
            "{auth}: {body}"
        );
        let labels: Vec<&str> = body
            .lines()
            .filter(|l| l.starts_with("ifHCInOctets{"))
            .map(|l| l.rsplit_once(' ').map_or(l, |x| x.0))
            .collect();
        label_sets.push(labels.join("\n"));
        assert!(!body.contains(snmp::SNMPD_COMMUNITY) && !body.contains(snmp::V3_AUTH_PASS));
    }
    assert_eq!(label_sets[0], label_sets[1]);
    assert_eq!(label_sets[0], label_sets[2]);
    // The system module, with two modules in one scrape.
    let (_, body, _) = ex.scrape(
        &format!("target={}&auth=v2&module=system,if_mib", agent.addr()),
        "10",
    );
    assert_eq!(
        sample_value(&body, "sysName", &[("sysName", "rtmon-test-snmpd")]),
        Some(1.0),
        "{body}"
    );
    assert!(
        sample_value(&body, "sysUpTime", &[]).is_some_and(|v| v > 0.0),
        "{body}"
    );
    assert!(sample_value(&body, "snmp_scrape_packets_sent", &[("module", "system")]).is_some());
    let log = ex.log();
    assert!(
        !log.contains(snmp::SNMPD_COMMUNITY) && !log.contains(snmp::V3_PRIV_PASS),
        "{log}"
    );
}

#[test]
fn failures_give_up_0_with_reason_within_deadline() {
    if !available(
        "failures_give_up_0_with_reason_within_deadline",
        &["snmpd", "snmpget"],
        false,
    ) {
        return;
    }
    let agent = Snmpd::start().expect("snmpd");
    let ex = start_exporter(&[]);
    let dead = format!("127.0.0.1:{}", rtmon_testkit::free_udp_port());
    for (query, reason) in [
        (format!("target={}&auth=wrong_v2", agent.addr()), "timeout"),
        (format!("target={}&auth=v3_wrong", agent.addr()), "auth"),
        // A closed port answers ICMP port unreachable: `network`, at once.
        (format!("target={dead}&auth=v2"), "network"),
    ] {
        let (st, body, took) = ex.scrape(&query, "3");
        assert_eq!(st, 200, "{query}: {body}");
        assert_eq!(
            sample_value(&body, "snmp_up", &[]),
            Some(0.0),
            "{query}: {body}"
        );
        assert!(
            sample_value(&body, "snmp_errors_total", &[("reason", reason)])
                .is_some_and(|v| v >= 1.0),
            "{query}: want reason {reason}: {body}"
        );
        assert!(body.contains("snmp_scrape_duration_seconds "), "{body}");
        // Prometheus' 3 s timeout minus the 0.5 s offset; generous margin for slow CI.
        assert!(took < Duration::from_millis(3400), "{query} took {took:?}");
        assert!(!body.contains(snmp::SNMPD_COMMUNITY) && !body.contains("not-the-community"));
    }
    // bad requests
    let r = http_get(&ex.addr, "/snmp?module=if_mib").expect("http");
    assert_eq!(
        (r.status, r.text()),
        (400, "'target' parameter must be specified once\n".into())
    );
    let r = http_get(
        &ex.addr,
        &format!("/snmp?target={}&module=nope", agent.addr()),
    )
    .expect("http");
    assert_eq!(
        (r.status, r.text()),
        (400, "Unknown module 'nope'\n".into())
    );
    let r = http_get(
        &ex.addr,
        &format!("/snmp?target={}&auth=nope", agent.addr()),
    )
    .expect("http");
    assert_eq!((r.status, r.text()), (400, "Unknown auth 'nope'\n".into()));
    let log = ex.log();
    for secret in [
        snmp::SNMPD_COMMUNITY,
        "not-the-community",
        "wrongpass123",
        snmp::V3_PRIV_PASS,
    ] {
        assert!(!log.contains(secret), "secret {secret} in log: {log}");
    }
}

fn assert_port(body: &str, n: u32, base: u32, p: u32) {
    let name = expected::if_name(n, p);
    let idx = (base + p).to_string();
    let alias = expected::if_alias(p);
    let descr = expected::if_descr(n, p);
    let labels =
        format!("{{ifAlias=\"{alias}\",ifDescr=\"{descr}\",ifIndex=\"{idx}\",ifName=\"{name}\"}}");
    // Exact integers, even above 2^53.
    for (metric, v) in [
        ("ifHCInOctets", expected::hc_in_octets(p)),
        ("ifHCOutOctets", expected::hc_out_octets(p)),
        ("ifInErrors", u64::from(expected::in_errors(p))),
        ("ifOutDiscards", u64::from(expected::out_discards(p))),
        ("ifOperStatus", u64::from(expected::oper_status(p))),
        ("ifMtu", u64::from(expected::MTU)),
        ("ifHighSpeed", u64::from(expected::HIGH_SPEED)),
        ("ifHCInMulticastPkts", u64::from(p) * 7),
        ("ifHCOutBroadcastPkts", u64::from(p) * 17),
    ] {
        let line = format!("{metric}{labels} {v}\n");
        assert!(body.contains(&line), "missing {line}");
    }
    let t = if expected::if_type(n, p) == 6 {
        "ethernetCsmacd"
    } else {
        "ieee8023adLag"
    };
    let line = format!("ifType_info{{ifAlias=\"{alias}\",ifDescr=\"{descr}\",ifIndex=\"{idx}\",ifName=\"{name}\",ifType=\"{t}\"}} 1\n");
    assert!(body.contains(&line), "missing {line}");
}

#[test]
fn snmpsim_switches_exact_values_cache_lookup_filters_fdb() {
    let Some(bin) = snmp::snmpsim_binary() else {
        available("snmpsim_switches", &["snmpsim-command-responder"], false);
        return;
    };
    if !available(
        "snmpsim_switches",
        &[bin.to_str().unwrap_or("?"), "snmpget"],
        false,
    ) {
        return;
    }
    let sim =
        Snmpsim::start(&[("switch48", 48, 0), ("switch1000", 1000, 1_000_000)]).expect("snmpsim");
    let ex = start_exporter(&[]);
    // 48 ports, v2c.
    let (st, body, _) = ex.scrape(&format!("target={}&auth=sim48", sim.addr()), "30");
    assert_eq!(st, 200);
    assert_eq!(sample_value(&body, "snmp_up", &[]), Some(1.0), "{body}");
    for p in [1, 7, 10, 27, 46, 48] {
        assert_port(&body, 48, 0, p);
    }
    assert_eq!(
        body.lines()
            .filter(|l| l.starts_with("ifHCInOctets{"))
            .count(),
        48
    );
    assert!(body.contains("ifPhysAddress{ifAlias=\"\",ifDescr=\"HundredGigE1/27\",ifIndex=\"27\",ifName=\"hundredGigE 1/27\",ifPhysAddress=\"00:1B:21:00:00:1B\"} 1\n"), "{body}");
    // v3 authPriv against snmpsim (context name switch48): same values.
    let (_, body3, _) = ex.scrape(&format!("target={}&auth=sim_v3", sim.addr()), "30");
    assert_eq!(sample_value(&body3, "snmp_up", &[]), Some(1.0), "{body3}");
    assert_port(&body3, 48, 0, 27);
    assert_port(&body3, 48, 0, 48);

    // 1000 ports with ifIndex 1000001..: first scrape walks the lookup tables, the
    // second reuses them and sends fewer packets.
    let q = format!("target={}&auth=sim1000", sim.addr());
    let (_, b1, _) = ex.scrape(&q, "60");
    assert_eq!(sample_value(&b1, "snmp_up", &[]), Some(1.0), "{b1}");
    for p in [1, 500, 997, 1000] {
        assert_port(&b1, 1000, 1_000_000, p);
    }
    let (_, b2, _) = ex.scrape(&q, "60");
    assert_port(&b2, 1000, 1_000_000, 500);
    let m = [("module", "if_mib")];
    assert_eq!(
        sample_value(&b1, "snmp_scrape_lookup_cache_hit", &m),
        Some(0.0)
    );
    assert_eq!(
        sample_value(&b2, "snmp_scrape_lookup_cache_hit", &m),
        Some(1.0)
    );
    let (p1, p2) = (
        sample_value(&b1, "snmp_scrape_packets_sent", &m).unwrap_or(0.0),
        sample_value(&b2, "snmp_scrape_packets_sent", &m).unwrap_or(f64::MAX),
    );
    assert!(p2 < p1, "steady state sent {p2} packets, first scrape {p1}");

    // Filters: config module and query parameters.
    let (_, bf, _) = ex.scrape(
        &format!("target={}&auth=sim48&module=flow_ports", sim.addr()),
        "30",
    );
    assert_eq!(
        bf.lines()
            .filter(|l| l.starts_with("ifHCInOctets{"))
            .count(),
        2,
        "{bf}"
    );
    assert_port(&bf, 48, 0, 27);
    assert_port(&bf, 48, 0, 48);
    let (_, bo, _) = ex.scrape(
        &format!("target={}&auth=sim48&filter_oper_status=down", sim.addr()),
        "30",
    );
    assert_eq!(
        bo.lines()
            .filter(|l| l.starts_with("ifOperStatus{"))
            .count(),
        6,
        "{bo}"
    ); // 7,14,…,42

    // Lookup endpoint.
    let r = http_get(
        &ex.addr,
        &format!(
            "/lookup?target={}&auth=sim1000&ifName={}",
            sim.addr(),
            enc("hundredGigE 1/500")
        ),
    )
    .expect("http");
    assert_eq!(r.status, 200, "{}", r.text());
    let j: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
    assert_eq!(j["ifIndex"], 1_000_500);
    assert_eq!(j["ifName"], "hundredGigE 1/500");
    assert_eq!(j["ifAlias"], "uplink-500");
    assert_eq!(j["ifDescr"], "HundredGigE1/500");
    assert_eq!(j["ifOperStatus"], 1);
    let r = http_get(
        &ex.addr,
        &format!(
            "/lookup?target={}&auth=sim48&ifName={}",
            sim.addr(),
            enc("Port-channel 13")
        ),
    )
    .expect("http");
    assert_eq!(r.status, 404, "{}", r.text());
    let j: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
    assert_eq!(j["closest"][0], "Port-channel 103", "{j}");

    // FDB: MAC 00:1b:21:00:00:03 learned on bridge port 3 (ifIndex 3), VLAN 1000.
    let (_, bfdb, _) = ex.scrape(
        &format!("target={}&auth=sim48&module=bridge_fdb", sim.addr()),
        "30",
    );
    assert!(bfdb.contains("rtmon_snmp_fdb_entry_info{ifIndex=\"3\",ifName=\"hundredGigE 1/3\",mac=\"00:1b:21:00:00:03\",port=\"3\",status=\"learned\",vlan=\"1000\"} 1\n"), "{bfdb}");
}

fn parse_exposition(text: &str) -> std::collections::BTreeMap<String, f64> {
    let mut m = std::collections::BTreeMap::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        if let Some((series, v)) = line.rsplit_once(' ') {
            if let Ok(v) = v.parse::<f64>() {
                m.insert(series.to_string(), v);
            }
        }
    }
    m
}

/// snmp_exporter 0.21 (Debian) config for the same if_mib metrics, generated here from
/// rtmon's column table.
fn snmp_exporter_yml(community: &str) -> String {
    use rtmon_snmp::ifmib::{Kind, COLUMNS};
    let mut s = format!("if_mib:\n  version: 2\n  auth:\n    community: {community}\n  walk:\n  - 1.3.6.1.2.1.2\n  - 1.3.6.1.2.1.31.1.1\n  metrics:\n");
    let lookups = "    lookups:\n    - labels: [ifIndex]\n      labelname: ifAlias\n      oid: 1.3.6.1.2.1.31.1.1.1.18\n      type: DisplayString\n    - labels: [ifIndex]\n      labelname: ifDescr\n      oid: 1.3.6.1.2.1.2.2.1.2\n      type: DisplayString\n    - labels: [ifIndex]\n      labelname: ifName\n      oid: 1.3.6.1.2.1.31.1.1.1.1\n      type: DisplayString\n";
    let idx = "    indexes:\n    - labelname: ifIndex\n      type: gauge\n";
    s.push_str("  - name: ifNumber\n    oid: 1.3.6.1.2.1.2.1\n    type: gauge\n    help: n\n");
    s.push_str(&format!("  - name: ifIndex\n    oid: 1.3.6.1.2.1.2.2.1.1\n    type: gauge\n    help: i\n{idx}{lookups}"));
    for c in COLUMNS {
        let oid = c
            .oid()
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(".");
        let ty = match c.kind {
            Kind::Label => continue,
            Kind::Counter => "counter".to_string(),
            Kind::Gauge => "gauge".to_string(),
            Kind::PhysAddress => "PhysAddress48".to_string(),
            Kind::TypeInfo => "EnumAsInfo\n    enum_values:\n      6: ethernetCsmacd\n      161: ieee8023adLag\n      24: softwareLoopback".to_string(),
        };
        s.push_str(&format!(
            "  - name: {}\n    oid: {oid}\n    type: {ty}\n    help: h\n{idx}{lookups}",
            c.name
        ));
    }
    s
}

#[test]
fn compatible_with_prometheus_snmp_exporter() {
    let Some(bin) = snmp::snmpsim_binary() else {
        available(
            "compatible_with_prometheus_snmp_exporter",
            &["snmpsim-command-responder"],
            false,
        );
        return;
    };
    if !available(
        "compatible_with_prometheus_snmp_exporter",
        &["prometheus-snmp-exporter", bin.to_str().unwrap_or("?")],
        false,
    ) {
        return;
    }
    let sim = Snmpsim::start(&[("switch48", 48, 0)]).expect("snmpsim");
    let dir = tempfile::tempdir().expect("tempdir");
    let yml = dir.path().join("snmp.yml");
    std::fs::write(&yml, snmp_exporter_yml("switch48")).expect("write");
    let port = free_port();
    let peer_addr = format!("127.0.0.1:{port}");
    let mut cmd = Command::new("prometheus-snmp-exporter");
    cmd.arg(format!("--config.file={}", yml.display()))
        .arg(format!("--web.listen-address={peer_addr}"));
    let _peer =
        Proc::spawn("snmp_exporter", cmd, Some(&dir.path().join("peer.log"))).expect("spawn");
    assert!(
        wait_for_port(&peer_addr, Duration::from_secs(20)),
        "{}",
        std::fs::read_to_string(dir.path().join("peer.log")).unwrap_or_default()
    );
    let r = http_get(
        &peer_addr,
        &format!("/snmp?target={}&module=if_mib", sim.addr()),
    )
    .expect("http");
    assert_eq!(r.status, 200, "{}", r.text());
    let theirs = parse_exposition(&r.text());
    let ex = start_exporter(&["--snmp.wrap-large-counters"]);
    let (_, ours_text, _) = ex.scrape(&format!("target={}&auth=sim48", sim.addr()), "30");
    let ours = parse_exposition(&ours_text);
    let common: Vec<&String> = theirs.keys().filter(|k| k.starts_with("if")).collect();
    assert!(
        common.len() > 48 * 30,
        "only {} if* series from snmp_exporter",
        common.len()
    );
    let mut mismatches = Vec::new();
    for k in &common {
        match ours.get(*k) {
            None => mismatches.push(format!("missing in rtmon: {k}")),
            Some(v) if (v - theirs[*k]).abs() > theirs[*k].abs() * 1e-15 => {
                mismatches.push(format!("{k}: rtmon {v} snmp_exporter {}", theirs[*k]))
            }
            _ => {}
        }
    }
    let extra: Vec<&String> = ours
        .keys()
        .filter(|k| k.starts_with("if") && !theirs.contains_key(*k))
        .collect();
    assert!(
        mismatches.is_empty(),
        "{} mismatches, first: {:?}",
        mismatches.len(),
        &mismatches[..mismatches.len().min(10)]
    );
    assert!(
        extra.is_empty(),
        "series only in rtmon: {:?}",
        &extra[..extra.len().min(10)]
    );
}
