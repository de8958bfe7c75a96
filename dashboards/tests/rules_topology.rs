//! The constant rules over the flows' topology, evaluated by Prometheus's own engine:
//! two flows sharing a switch port and a host in two flows each get their own records
//! from the one set of rules; a wrong expectation makes promtool fail (the test bites);
//! and a flow removed from the rules file loses its records and alerts within a cycle
//! of a real Prometheus's reload.

use std::process::Command;
use std::time::Duration;

use rtmon_dashboards::{rules, Options};
use rtmon_testkit::prom::{PromConfig, Prometheus, PROMETHEUS_BIN};

/// f1 and f2 share sw's port p1; host a (10.0.0.1) is in f1 and f3. Flow instances are
/// bare addresses, the data's carry the exporters' ports (normalised by the rules).
const FLOWS: &str = "---
flow: f1
path:
  - host: a
    instance: 10.0.0.1
    interface: eth0
  - switch: sw
    target: 192.0.2.1:161
    in: {port: p1}
    out: {port: p2}
  - host: b
    instance: 10.0.0.2
    interface: eth0
";
const FLOW2: &str = "flow: f2
path:
  - host: c
    instance: 10.0.0.3
    interface: eth0
  - switch: sw
    target: 192.0.2.1:161
    in: {port: p3}
    out: {port: p1}
  - host: d
    instance: 10.0.0.4
    interface: eth0
";
const FLOW3: &str = "flow: f3
path:
  - host: a
    instance: 10.0.0.1
    interface: eth0
  - switch: sw2
    target: 192.0.2.2
    in: {port: q1}
    out: {port: q2}
  - host: e
    instance: 10.0.0.5
    interface: eth0
";

fn flows(dir: &std::path::Path, texts: &[&str]) -> Vec<rtmon::flow::Flow> {
    texts
        .iter()
        .enumerate()
        .flat_map(|(i, t)| {
            rtmon::flow::from_str(&dir.join(format!("f{i}.yml")), t)
                .unwrap_or_else(|e| panic!("{e}"))
        })
        .collect()
}

/// A directory holding the constant rules of the flow files `texts` as `rules.yml`
/// (what the promtool tests load), and the flows.
fn with_rules(texts: &[&str]) -> (tempfile::TempDir, Vec<rtmon::flow::Flow>) {
    let dir = tempfile::tempdir().expect("tmp");
    let fl = flows(dir.path(), texts);
    std::fs::write(
        dir.path().join("rules.yml"),
        rules::render(&fl, &Options::default(), "1m", "1m"),
    )
    .expect("rules");
    (dir, fl)
}

fn promtool(dir: &std::path::Path, t: &str) -> (bool, String) {
    std::fs::write(dir.join("test.yml"), t).expect("test file");
    let out = Command::new("promtool")
        .current_dir(dir)
        .args(["test", "rules", "test.yml"])
        .output()
        .expect("promtool");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success() && all.contains("SUCCESS"), all)
}

/// The promtool test: input series and the expected `rtmon:flow_check:ok` values of
/// `check` per (flow, hop, subject).
fn test_yaml(expect: &[(&str, &[Row])]) -> String {
    let series = [
        ("ifOperStatus{instance=\"192.0.2.1\",ifName=\"p1\"}", "2"),
        ("ifOperStatus{instance=\"192.0.2.1\",ifName=\"p2\"}", "1"),
        ("ifOperStatus{instance=\"192.0.2.1\",ifName=\"p3\"}", "1"),
        (
            "ifOperStatus{instance=\"192.0.2.2:161\",ifName=\"q1\"}",
            "1",
        ),
        (
            "ifOperStatus{instance=\"192.0.2.2:161\",ifName=\"q2\"}",
            "1",
        ),
        // Other ports of the switches: not in any flow.
        ("ifOperStatus{instance=\"192.0.2.1\",ifName=\"p9\"}", "2"),
        (
            "node_network_up{instance=\"10.0.0.1:9100\",device=\"eth0\"}",
            "0",
        ),
        (
            "node_network_up{instance=\"10.0.0.1:9100\",device=\"lo\"}",
            "1",
        ),
        (
            "node_network_up{instance=\"10.0.0.2:9100\",device=\"eth0\"}",
            "1",
        ),
        (
            "node_network_up{instance=\"10.0.0.3:9100\",device=\"eth0\"}",
            "1",
        ),
        (
            "node_network_up{instance=\"10.0.0.4:9100\",device=\"eth0\"}",
            "1",
        ),
        (
            "node_network_up{instance=\"10.0.0.5:9100\",device=\"eth0\"}",
            "1",
        ),
        (
            "node_network_mtu_bytes{instance=\"10.0.0.1:9100\",device=\"eth0\"}",
            "1500",
        ),
        (
            "node_network_mtu_bytes{instance=\"10.0.0.2:9100\",device=\"eth0\"}",
            "9000",
        ),
        (
            "node_network_mtu_bytes{instance=\"10.0.0.3:9100\",device=\"eth0\"}",
            "9000",
        ),
        (
            "node_network_mtu_bytes{instance=\"10.0.0.4:9100\",device=\"eth0\"}",
            "9000",
        ),
        (
            "node_network_mtu_bytes{instance=\"10.0.0.5:9100\",device=\"eth0\"}",
            "9000",
        ),
        ("ifMtu{instance=\"192.0.2.1\",ifName=\"p1\"}", "9216"),
        ("ifMtu{instance=\"192.0.2.1\",ifName=\"p2\"}", "9216"),
        ("ifMtu{instance=\"192.0.2.1\",ifName=\"p3\"}", "9216"),
        ("ifMtu{instance=\"192.0.2.2:161\",ifName=\"q1\"}", "9216"),
        ("ifMtu{instance=\"192.0.2.2:161\",ifName=\"q2\"}", "9216"),
    ];
    let mut t = String::from(
        "rule_files: [rules.yml]\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n",
    );
    for (s, v) in series {
        t.push_str(&format!(
            "      - series: '{s}'\n        values: '{v}x10'\n"
        ));
    }
    t.push_str("    promql_expr_test:\n");
    for (check, rows) in expect {
        t.push_str(&format!(
            "      - expr: 'rtmon:flow_check:ok{{check=\"{check}\"}}'\n        eval_time: 5m\n        exp_samples:\n"
        ));
        for (flow, hop, subject, v) in rows.iter() {
            let sev = match *check {
                "mtu" | "fdb_learned" => "warning",
                _ => "critical",
            };
            t.push_str(&format!(
                "          - labels: 'rtmon:flow_check:ok{{check=\"{check}\",flow=\"{flow}\",hop=\"{hop}\",severity=\"{sev}\",subject=\"{subject}\"}}'\n            value: {v}\n"
            ));
        }
    }
    t
}

type Row<'a> = (&'a str, &'a str, &'a str, u8);

const PORTS: &[Row] = &[
    ("f1", "sw", "p1", 0),
    ("f1", "sw", "p2", 1),
    ("f2", "sw", "p1", 0),
    ("f2", "sw", "p3", 1),
    ("f3", "sw2", "q1", 1),
    ("f3", "sw2", "q2", 1),
];
const INTERFACES: &[Row] = &[
    ("f1", "a", "eth0", 0),
    ("f1", "b", "eth0", 1),
    ("f2", "c", "eth0", 1),
    ("f2", "d", "eth0", 1),
    ("f3", "a", "eth0", 0),
    ("f3", "e", "eth0", 1),
];
// a at 1500 fails against the 9216 path in both its flows; b and e differ from their
// flow's first host (a); c and d are fine; every switch port is above the hosts'.
const MTUS: &[Row] = &[
    ("f1", "a", "eth0", 0),
    ("f1", "b", "eth0", 0),
    ("f1", "sw", "p1", 1),
    ("f1", "sw", "p2", 1),
    ("f2", "c", "eth0", 1),
    ("f2", "d", "eth0", 1),
    ("f2", "sw", "p1", 1),
    ("f2", "sw", "p3", 1),
    ("f3", "a", "eth0", 0),
    ("f3", "e", "eth0", 0),
    ("f3", "sw2", "q1", 1),
    ("f3", "sw2", "q2", 1),
];

#[test]
fn shared_ports_and_hosts_get_their_own_records_and_a_wrong_expectation_fails() {
    if !rtmon_testkit::available(
        "shared_ports_and_hosts_get_their_own_records_and_a_wrong_expectation_fails",
        &["promtool"],
        false,
    ) {
        return;
    }
    let (dir, fl) = with_rules(&[FLOWS, FLOW2, FLOW3]);
    let (ok, out) = promtool(
        dir.path(),
        &test_yaml(&[
            ("port_oper_up", PORTS),
            ("interface_up", INTERFACES),
            ("mtu", MTUS),
        ]),
    );
    assert!(ok, "{out}");
    // The same test with one wrong value must fail: f2's p1 said to be up.
    let mut wrong = PORTS.to_vec();
    wrong[2].3 = 1;
    let (ok, out) = promtool(dir.path(), &test_yaml(&[("port_oper_up", &wrong)]));
    assert!(!ok, "promtool accepted a wrong expectation:\n{out}");
    assert!(out.contains("FAILED"), "{out}");

    // The topology scraped instead of evaluated (`rules --topology scrape` + the
    // `topology` exposition, here as input series): the same values.
    let mut text = Vec::new();
    rtmon_dashboards::engine::rules::write_with(
        &mut text,
        &fl,
        &Options::default(),
        "1m",
        "1m",
        false,
    )
    .expect("rules");
    let text = String::from_utf8(text).expect("utf-8");
    assert!(!text.contains("rtmon-topology"), "{text}");
    std::fs::write(dir.path().join("rules.yml"), text).expect("rules");
    let mut topo = Vec::new();
    rtmon_dashboards::topology::write_exposition(&mut topo, &fl, &Options::default())
        .expect("topology");
    let mut extra = String::new();
    for line in String::from_utf8(topo).expect("utf-8").lines() {
        if line.starts_with('#') {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("sample line");
        // As scraped: the target's job and instance beside the series' own labels.
        let series = series.replacen('{', "{job=\"topology\",instance=\"sync:9471\",", 1);
        // Single-quoted YAML: a quote is doubled ("the hosts' MTU").
        let series = series.replace('\'', "''");
        extra.push_str(&format!(
            "      - series: '{series}'\n        values: '{value}x10'\n"
        ));
    }
    let t = test_yaml(&[
        ("port_oper_up", PORTS),
        ("interface_up", INTERFACES),
        ("mtu", MTUS),
    ]);
    let t = t.replacen(
        "    input_series:\n",
        &format!("    input_series:\n{extra}"),
        1,
    );
    let (ok, out) = promtool(dir.path(), &t);
    assert!(ok, "scraped topology:\n{out}");
}

/// f4: a VLAN, one host's MAC in the flow, the other's from its node_network_info.
const FLOW4: &str = "flow: f4
path:
  - host: g
    instance: 10.0.0.7
    interface: eth0.100
    mac: \"02:00:00:00:00:07\"
    vlan: 100
  - switch: sw3
    target: 192.0.2.3
    in: {port: r1}
    out: {port: r2}
  - host: h
    instance: 10.0.0.8
    interface: eth0.100
    vlan: 100
";

#[test]
fn fdb_rows_with_and_without_a_vlan_or_a_mac_are_each_judged() {
    if !rtmon_testkit::available(
        "fdb_rows_with_and_without_a_vlan_or_a_mac_are_each_judged",
        &["promtool"],
        false,
    ) {
        return;
    }
    let (dir, _) = with_rules(&[FLOWS, FLOW4]);
    // f1 has no VLAN and no MACs (both from node_network_info): a's learned on its port
    // in some VLAN (1), b's only on another port (0). f4: g's MAC (from the flow) learned
    // on its port in another VLAN (0), h's (from node_network_info) in VLAN 100 (1).
    let series = [
        "node_network_info{instance=\"10.0.0.1:9100\",device=\"eth0\",address=\"02:00:00:00:00:01\"}",
        "node_network_info{instance=\"10.0.0.1:9100\",device=\"lo\",address=\"00:00:00:00:00:00\"}",
        "node_network_info{instance=\"10.0.0.2:9100\",device=\"eth0\",address=\"02:00:00:00:00:02\"}",
        "node_network_info{instance=\"10.0.0.8:9100\",device=\"eth0.100\",address=\"02:00:00:00:00:08\"}",
        "rtmon_snmp_fdb_entry_info{instance=\"192.0.2.1\",ifName=\"p1\",vlan=\"1\",mac=\"02:00:00:00:00:01\"}",
        "rtmon_snmp_fdb_entry_info{instance=\"192.0.2.1\",ifName=\"p3\",vlan=\"1\",mac=\"02:00:00:00:00:02\"}",
        "rtmon_snmp_fdb_entry_info{instance=\"192.0.2.3:161\",ifName=\"r1\",vlan=\"200\",mac=\"02:00:00:00:00:07\"}",
        "rtmon_snmp_fdb_entry_info{instance=\"192.0.2.3:161\",ifName=\"r2\",vlan=\"100\",mac=\"02:00:00:00:00:08\"}",
    ];
    let extra: String = series
        .iter()
        .map(|s| format!("      - series: '{s}'\n        values: '1x10'\n"))
        .collect();
    let test = |rows: &[Row]| {
        test_yaml(&[("fdb_learned", rows)]).replacen(
            "    input_series:\n",
            &format!("    input_series:\n{extra}"),
            1,
        )
    };
    let mut rows = vec![
        ("f1", "sw", "a", 1),
        ("f1", "sw", "b", 0),
        ("f4", "sw3", "g", 0),
        ("f4", "sw3", "h", 1),
    ];
    let (ok, out) = promtool(dir.path(), &test(&rows));
    assert!(ok, "{out}");
    rows[2].3 = 1;
    let (ok, out) = promtool(dir.path(), &test(&rows));
    assert!(
        !ok && out.contains("FAILED"),
        "a MAC in another VLAN passed:\n{out}"
    );
}

#[test]
fn a_removed_flow_loses_its_records_and_alerts_on_reload() {
    if !rtmon_testkit::available(
        "a_removed_flow_loses_its_records_and_alerts_on_reload",
        &[PROMETHEUS_BIN],
        false,
    ) {
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let both = flows(dir.path(), &[FLOWS, FLOW2]);
    // No data at all: every check fails, so both flows have records, causes and
    // (after `for: 1s`) alerts.
    let prom = Prometheus::start_with(PromConfig {
        rule_files: vec![rules::render(&both, &Options::default(), "1s", "1s")],
        ..Default::default()
    })
    .expect("prometheus");
    let deadline = Duration::from_secs(60);
    for f in ["f1", "f2"] {
        for q in [
            format!("rtmon:flow_check:ok{{flow=\"{f}\",check=\"port_oper_up\"}}"),
            format!("rtmon:flow:cause{{flow=\"{f}\"}}"),
            format!("ALERTS{{alertstate=\"firing\",flow=\"{f}\",check=\"snmp_up\"}}"),
        ] {
            prom.wait_for_query(&q, |r| !r.is_empty(), deadline)
                .unwrap_or_else(|e| panic!("{e:#}\n{}", prom.log()));
        }
    }
    let rules_file = prom.dir().join("rules-0.yml");
    std::fs::write(
        &rules_file,
        rules::render(&both[..1], &Options::default(), "1s", "1s"),
    )
    .expect("rewrite rules");
    prom.reload().expect("reload");
    for q in [
        "rtmon:flow_check:ok{flow=\"f2\"}",
        "rtmon:flow_check:info{flow=\"f2\"}",
        "rtmon:flow:info{flow=\"f2\"}",
        "rtmon:flow:status{flow=\"f2\"}",
        "rtmon:flow:cause{flow=\"f2\"}",
        "ALERTS{flow=\"f2\"}",
    ] {
        prom.wait_for_query(q, |r| r.is_empty(), Duration::from_secs(30))
            .unwrap_or_else(|e| panic!("{q} still there after the reload: {e:#}"));
    }
    // f1 keeps its records, including the shared port's.
    let r = prom
        .query("rtmon:flow_check:ok{flow=\"f1\",check=\"port_oper_up\",subject=\"p1\"}")
        .expect("query");
    assert_eq!(r.len(), 1, "{r:?}");
}

/// A switch naming two interfaces `Ethernet 0/29` (ifIndex 5 up, ifIndex 163 down): the
/// flow that pins ifIndex 163 reads that one only (port down); the flow that names the
/// port alone is told the name is ambiguous.
#[test]
fn a_pinned_port_reads_its_interface_and_an_ambiguous_name_is_named() {
    if !rtmon_testkit::available(
        "a_pinned_port_reads_its_interface_and_an_ambiguous_name_is_named",
        &["promtool"],
        false,
    ) {
        return;
    }
    let flow = |id: &str, pin: &str| {
        format!(
            "flow: {id}\npath:\n  - host: a\n    instance: 10.0.0.1\n    interface: eth0\n  - switch: sw\n    target: 192.0.2.9\n    in: {{port: \"Ethernet 0/29\"{pin}}}\n    out: {{port: \"Ethernet 0/30\"}}\n  - host: b\n    instance: 10.0.0.2\n    interface: eth0\n"
        )
    };
    let (fa, fb) = (flow("plain", ""), flow("pinned", ", ifIndex: 163"));
    let (dir, _) = with_rules(&[&fa, &fb]);
    let mut t = String::from(
        "rule_files: [rules.yml]\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n",
    );
    for (idx, name, status) in [
        (5, "Ethernet 0/29", 1),
        (163, "Ethernet 0/29", 2),
        (30, "Ethernet 0/30", 1),
    ] {
        t.push_str(&format!(
            "      - series: 'ifOperStatus{{instance=\"192.0.2.9\",ifIndex=\"{idx}\",ifName=\"{name}\",ifDescr=\"if{idx}\"}}'\n        values: '{status}x10'\n"
        ));
    }
    let row = |check: &str, flow: &str, subject: &str, sev: &str, v: u8| {
        format!(
            "          - labels: 'rtmon:flow_check:ok{{check=\"{check}\",flow=\"{flow}\",hop=\"sw\",severity=\"{sev}\",subject=\"{subject}\"}}'\n            value: {v}\n"
        )
    };
    t.push_str("    promql_expr_test:\n      - expr: 'rtmon:flow_check:ok{check=\"port_oper_up\",subject=~\"Ethernet 0/29.*\"}'\n        eval_time: 5m\n        exp_samples:\n");
    t.push_str(&row(
        "port_oper_up",
        "plain",
        "Ethernet 0/29",
        "critical",
        1,
    ));
    t.push_str(&row(
        "port_oper_up",
        "pinned",
        "Ethernet 0/29 (ifIndex 163)",
        "critical",
        0,
    ));
    t.push_str("      - expr: 'rtmon:flow_check:ok{check=\"port_unique\"}'\n        eval_time: 5m\n        exp_samples:\n");
    t.push_str(&row("port_unique", "plain", "Ethernet 0/29", "warning", 0));
    t.push_str(&row("port_unique", "plain", "Ethernet 0/30", "warning", 1));
    t.push_str(&row("port_unique", "pinned", "Ethernet 0/30", "warning", 1));
    let (ok, out) = promtool(dir.path(), &t);
    assert!(ok, "{out}");
}
