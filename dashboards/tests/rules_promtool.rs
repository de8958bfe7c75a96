//! The generated rules evaluated by Prometheus' own engine (`promtool test rules`) on
//! synthetic counters: loss localisation names the one segment where packets vanish
//! and leaves the others clean; a segment with too little traffic is not judged; the
//! per-point packet rates are recorded in travel order; `rtmon:flow:status` is the
//! worst failing severity; the per-link bit rates and utilisations, the per-hop status
//! and the dashboard's path graph (node and edge frames) come out as Grafana needs them.

use std::process::Command;

use rtmon_dashboards::{dashboard, rules, Options};

const FLOW: &str = "flow: f\ndedicated_ports: true\nthresholds:\n  loss_tolerance: 0.02\n  loss_min_pps: 5\npath:\n  - host: a\n    interface: eth0\n  - switch: sw\n    target: sw\n    in: {port: p1}\n    out: {port: p2}\n  - host: b\n    interface: eth0\n";

#[test]
fn loss_is_localised_to_one_segment_by_prometheus() {
    if !rtmon_testkit::available(
        "loss_is_localised_to_one_segment_by_prometheus",
        &["promtool"],
        false,
    ) {
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let flows =
        rtmon::flow::from_str(&dir.path().join("f.yml"), FLOW).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        dir.path().join("rules.yml"),
        rules::render(&flows, &Options::default(), "1m", "1m"),
    )
    .expect("rules");
    // Forward: 100 pps leave a, enter sw p1; 90 pps leave sw p2 (10 % lost inside the
    // switch) and reach b. Reverse: 2 pps everywhere but 1 pps at a (too little
    // traffic to judge the last segment).
    let series = [
        (
            "node_network_transmit_packets_total{instance=\"a\",device=\"eth0\"}",
            6000,
        ),
        ("ifHCInUcastPkts{instance=\"sw\",ifName=\"p1\"}", 6000),
        ("ifHCOutUcastPkts{instance=\"sw\",ifName=\"p2\"}", 5400),
        (
            "node_network_receive_packets_total{instance=\"b\",device=\"eth0\"}",
            5400,
        ),
        (
            "node_network_transmit_packets_total{instance=\"b\",device=\"eth0\"}",
            120,
        ),
        ("ifHCInUcastPkts{instance=\"sw\",ifName=\"p2\"}", 120),
        ("ifHCOutUcastPkts{instance=\"sw\",ifName=\"p1\"}", 120),
        (
            "node_network_receive_packets_total{instance=\"a\",device=\"eth0\"}",
            60,
        ),
    ];
    let mut t = String::from(
        "rule_files: [rules.yml]\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n",
    );
    for (s, per_min) in series {
        t.push_str(&format!(
            "      - series: '{s}'\n        values: '0+{per_min}x15'\n"
        ));
    }
    let seg = |subject: &str, v: u8| {
        format!(
            "          - labels: 'rtmon:flow_check:ok{{check=\"loss_segment\",flow=\"f\",hop=\"{}\",severity=\"warning\",subject=\"{subject}\"}}'\n            value: {v}\n",
            subject.rsplit(" → ").next().and_then(|p| p.split(' ').next()).unwrap_or("")
        )
    };
    t.push_str("    promql_expr_test:\n      - expr: 'rtmon:flow_check:ok{check=\"loss_segment\"}'\n        eval_time: 10m\n        exp_samples:\n");
    for (subject, v) in [
        ("a eth0 tx → sw p1 rx", 1),
        ("sw p1 rx → sw p2 tx", 0),
        ("sw p2 tx → b eth0 rx", 1),
        ("b eth0 tx → sw p2 rx", 1),
        ("sw p2 rx → sw p1 tx", 1),
        // 2 pps → 1 pps is a 50 % deficit, but below loss_min_pps: not judged.
        ("sw p1 tx → a eth0 rx", 1),
    ] {
        t.push_str(&seg(subject, v));
    }
    t.push_str("      - expr: 'rtmon:flow_point:pps{direction=\"forward\"}'\n        eval_time: 10m\n        exp_samples:\n");
    for (idx, hop, point, v) in [
        ("01", "a", "a eth0 tx", 100),
        ("02", "sw", "sw p1 rx", 100),
        ("03", "sw", "sw p2 tx", 90),
        ("04", "b", "b eth0 rx", 90),
    ] {
        t.push_str(&format!(
            "          - labels: 'rtmon:flow_point:pps{{direction=\"forward\",flow=\"f\",hop=\"{hop}\",index=\"{idx}\",point=\"{point}\"}}'\n            value: {v}\n"
        ));
    }
    // Everything else has no data (exporters absent): critical checks fail → 2.
    t.push_str("      - expr: 'rtmon:flow:status'\n        eval_time: 10m\n        exp_samples:\n          - labels: 'rtmon:flow:status{flow=\"f\"}'\n            value: 2\n");
    let test = dir.path().join("test.yml");
    std::fs::write(&test, &t).expect("test file");
    let out = Command::new("promtool")
        .current_dir(dir.path())
        .args(["test", "rules", "test.yml"])
        .output()
        .expect("promtool");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && all.contains("SUCCESS"),
        "{all}\n{t}"
    );

    // And the test can fail: the segment inside the switch is not clean.
    let wrong = t.replacen(
        "subject=\"sw p1 rx → sw p2 tx\"}'\n            value: 0",
        "subject=\"sw p1 rx → sw p2 tx\"}'\n            value: 1",
        1,
    );
    assert_ne!(wrong, t);
    std::fs::write(&test, &wrong).expect("test file");
    let out = Command::new("promtool")
        .current_dir(dir.path())
        .args(["test", "rules", "test.yml"])
        .output()
        .expect("promtool");
    assert!(!out.status.success());
}

fn promtool_test(dir: &std::path::Path, t: &str) -> (bool, String) {
    let test = dir.join("test.yml");
    std::fs::write(&test, t).expect("test file");
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

/// Link rates and utilisation per direction, hop status (a: only warnings fail → 1;
/// sw and b: no data, critical checks fail → 2), and the node graph's two frames: the
/// nodes query labels each hop with `id`, `title`, `mainstat` and `color`, the edges
/// query each forward link with `id`, `source`, `target` and its bit rate.
#[test]
fn links_hop_status_and_path_graph_by_prometheus() {
    if !rtmon_testkit::available(
        "links_hop_status_and_path_graph_by_prometheus",
        &["promtool"],
        false,
    ) {
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let flows =
        rtmon::flow::from_str(&dir.path().join("f.yml"), FLOW).unwrap_or_else(|e| panic!("{e}"));
    let opts = Options::default();
    std::fs::write(
        dir.path().join("rules.yml"),
        rules::render(&flows, &opts, "1m", "1m"),
    )
    .expect("rules");
    let d = dashboard::build(&flows[0], &opts);
    let graph = d["panels"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["type"] == "nodeGraph"))
        .expect("a node graph panel");
    let target = |ref_id: &str| {
        graph["targets"]
            .as_array()
            .and_then(|t| t.iter().find(|t| t["refId"] == ref_id))
            .and_then(|t| t["expr"].as_str())
            .unwrap_or_else(|| panic!("no {ref_id} target in {graph}"))
            .to_string()
    };
    let (nodes, edges) = (target("nodes"), target("edges"));
    // Counters per minute: a sends 6e9 B/min (800 Mbit/s) on a 10 Gbit/s NIC; sw p2
    // forwards the same on 100 Gbit/s; b sends 6e8 B/min (80 Mbit/s) back; sw p1 sends
    // nothing back towards a.
    let mut t = String::from(
        "rule_files: [rules.yml]\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n",
    );
    for (s, v) in [
        (
            "node_network_transmit_bytes_total{instance=\"a\",device=\"eth0\"}",
            "0+6000000000x15",
        ),
        (
            "node_network_speed_bytes{instance=\"a\",device=\"eth0\"}",
            "1250000000x15",
        ),
        (
            "ifHCOutOctets{instance=\"sw\",ifName=\"p2\"}",
            "0+6000000000x15",
        ),
        ("ifHighSpeed{instance=\"sw\",ifName=\"p2\"}", "100000x15"),
        (
            "node_network_transmit_bytes_total{instance=\"b\",device=\"eth0\"}",
            "0+600000000x15",
        ),
        (
            "node_network_speed_bytes{instance=\"b\",device=\"eth0\"}",
            "1250000000x15",
        ),
        ("ifHCOutOctets{instance=\"sw\",ifName=\"p1\"}", "0+0x15"),
        ("ifHighSpeed{instance=\"sw\",ifName=\"p1\"}", "100000x15"),
        // Host a: every critical check healthy (exporters up, interface up).
        ("up{job=\"node\",instance=\"a\"}", "1x15"),
        ("up{job=\"arp\",instance=\"a\"}", "1x15"),
        ("up{job=\"ping\",instance=\"a\"}", "1x15"),
        ("node_network_up{instance=\"a\",device=\"eth0\"}", "1x15"),
    ] {
        t.push_str(&format!("      - series: '{s}'\n        values: '{v}'\n"));
    }
    t.push_str("    promql_expr_test:\n");
    let mut expect = |expr: &str, samples: &[(String, f64)]| {
        t.push_str(&format!(
            "      - expr: {}\n        eval_time: 10m\n        exp_samples:\n",
            serde_json::to_string(expr).expect("json")
        ));
        for (labels, v) in samples {
            t.push_str(&format!(
                "          - labels: {}\n            value: {v}\n",
                serde_json::to_string(labels).expect("json")
            ));
        }
    };
    let link = |name: &str, dir: &str, idx: &str, src: &str, dst: &str, extra: &str| {
        format!(
            "{name}{{{extra}direction=\"{dir}\",flow=\"f\",index=\"{idx}\",link=\"{src} → {dst}\",source=\"{src}\",target=\"{dst}\"}}"
        )
    };
    let fwd_rev = |name: &str, values: [f64; 4]| -> Vec<(String, f64)> {
        vec![
            (link(name, "forward", "01", "a", "sw", ""), values[0]),
            (link(name, "forward", "02", "sw", "b", ""), values[1]),
            (link(name, "reverse", "01", "b", "sw", ""), values[2]),
            (link(name, "reverse", "02", "sw", "a", ""), values[3]),
        ]
    };
    expect(
        "rtmon:flow_link:bps",
        &fwd_rev("rtmon:flow_link:bps", [8e8, 8e8, 8e7, 0.0]),
    );
    expect(
        "rtmon:flow_link:utilisation",
        &fwd_rev("rtmon:flow_link:utilisation", [0.08, 0.008, 0.008, 0.0]),
    );
    expect(
        "rtmon:flow_hop:status",
        &[
            ("{flow=\"f\",hop=\"a\"}".to_string(), 1.0),
            ("{flow=\"f\",hop=\"b\"}".to_string(), 2.0),
            ("{flow=\"f\",hop=\"sw\"}".to_string(), 2.0),
        ]
        .map(|(l, v)| (format!("rtmon:flow_hop:status{l}"), v)),
    );
    let node = |hop: &str, v: f64, stat: &str, color: &str| {
        (
            format!("rtmon:flow_hop:status{{color=\"{color}\",flow=\"f\",hop=\"{hop}\",id=\"{hop}\",mainstat=\"{stat}\",title=\"{hop}\"}}"),
            v,
        )
    };
    expect(
        &nodes,
        &[
            node("a", 1.0, "degraded", "orange"),
            node("b", 2.0, "down", "red"),
            node("sw", 2.0, "down", "red"),
        ],
    );
    expect(
        &edges,
        &[
            (
                link(
                    "rtmon:flow_link:bps",
                    "forward",
                    "01",
                    "a",
                    "sw",
                    "id=\"a → sw\",",
                ),
                8e8,
            ),
            (
                link(
                    "rtmon:flow_link:bps",
                    "forward",
                    "02",
                    "sw",
                    "b",
                    "id=\"sw → b\",",
                ),
                8e8,
            ),
        ],
    );
    let (ok, all) = promtool_test(dir.path(), &t);
    assert!(ok, "{all}\n{t}");
    // And the test can fail: a's status is not 2.
    let wrong = t.replacen(
        "hop=\\\"a\\\"}\"\n            value: 1",
        "hop=\\\"a\\\"}\"\n            value: 2",
        1,
    );
    assert_ne!(wrong, t);
    let (ok, _) = promtool_test(dir.path(), &wrong);
    assert!(!ok);
}
