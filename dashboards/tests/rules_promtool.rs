//! The generated rules evaluated by Prometheus' own engine (`promtool test rules`) on
//! synthetic counters: loss localisation names the one segment where packets vanish
//! and leaves the others clean; a segment with too little traffic is not judged; the
//! per-point packet rates are recorded in travel order; `rtmon:flow:status` is the
//! worst failing severity.

use std::process::Command;

use rtmon_dashboards::{rules, Options};

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
