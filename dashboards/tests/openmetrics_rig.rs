//! Every rtmon exporter's OpenMetrics output, on the end-to-end rig
//! ([`rtmon_testkit::rig::FlowRig`]: node, arp and ping exporters in two network
//! namespaces, the SNMP exporter in front of an snmpsim switch, a real Prometheus), plus
//! the script exporter re-exposing Prometheus's own parser test data, passes the strict
//! OpenMetrics parser of Python's `prometheus_client`: every answer, every sample.
//! Prometheus (which negotiates OpenMetrics) scrapes every target successfully.
//!
//! Needs root, iproute2, Prometheus, snmpsim, prometheus_client and the workspace's
//! exporter binaries (`cargo build --workspace` first; scripts/test.sh does).

#[path = "../../shared/tests/support/mod.rs"]
mod support;

use std::process::Command;
use std::time::Duration;

use rtmon_testkit::prom::PROMETHEUS_BIN;
use rtmon_testkit::rig::{FlowRig, RigBins};
use rtmon_testkit::{free_port, http, wait_for_port, workspace_bin, Proc};

const OM: &str = "application/openmetrics-text;version=1.0.0";

#[test]
fn every_exporters_openmetrics_output_passes_the_strict_parser() {
    let mut bins = RigBins::workspace();
    bins.dashboards = std::path::PathBuf::from(env!("CARGO_BIN_EXE_rtmon-dashboards"));
    let script_bin = workspace_bin("rtmon-script-exporter");
    let snmpsim = rtmon_testkit::snmp::snmpsim_binary()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "snmpsim-command-responder".into());
    let mut paths = bins.all();
    paths.push(script_bin.display().to_string());
    let mut need: Vec<&str> = vec![PROMETHEUS_BIN, "ip", "snmpget", &snmpsim];
    need.extend(paths.iter().map(String::as_str));
    if !rtmon_testkit::available("openmetrics_rig", &need, true) {
        return;
    }
    let Some(python) = support::python() else {
        assert!(
            !rtmon_testkit::strict(),
            "python with prometheus_client is required (RTMON_TEST_STRICT=1)"
        );
        eprintln!("SKIP: no python with prometheus_client");
        return;
    };
    let mut rig = FlowRig::start(&bins).expect("flow rig");

    // The script exporter, printing upstream data (or the corpus when it is absent).
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("out.prom");
    let input: Vec<u8> = match support::upstream_dir() {
        Some(d) => std::fs::read(d.join("promtestdata.txt")).expect("upstream file"),
        None => support::CORPUS
            .iter()
            .flat_map(|d| d.input.to_vec())
            .collect(),
    };
    std::fs::write(&data, input).expect("data");
    let cfg = dir.path().join("script.yml");
    std::fs::write(
        &cfg,
        format!(
            "scripts:\n  - name: cat\n    command: [/bin/cat, {}]\n",
            data.display()
        ),
    )
    .expect("cfg");
    let script_addr = format!("127.0.0.1:{}", free_port());
    let mut cmd = Command::new(&script_bin);
    cmd.arg(format!("--web.listen-address={script_addr}"))
        .arg(format!("--config.file={}", cfg.display()));
    let _script = Proc::spawn("rtmon-script-exporter", cmd, Some(&dir.path().join("log")))
        .expect("spawn script exporter");
    assert!(wait_for_port(&script_addr, Duration::from_secs(10)));

    // Wait for real data: every rig target up, and RTT histograms with observations.
    if let Err(e) = rig.prom.wait_for_query(
        "up",
        |r| r.len() == 7 && r.iter().all(|(_, v)| *v == 1.0),
        Duration::from_secs(60),
    ) {
        panic!("{e:#}\n{}", rig.logs());
    }
    if let Err(e) = rig.prom.wait_for_query(
        "rtmon_ping_rtt_seconds_count > 0",
        |r| !r.is_empty(),
        Duration::from_secs(60),
    ) {
        panic!("{e:#}\n{}", rig.logs());
    }

    let target = rig.switch_target();
    let snmp_probe = format!("/snmp?target={target}&auth=sim&module=if_mib&module=bridge_fdb");
    let mut endpoints: Vec<(String, String)> = Vec::new();
    for h in [&rig.a, &rig.b] {
        for addr in [h.node_addr(), h.arp_addr(), h.ping_addr()] {
            endpoints.push((addr, "/metrics".into()));
        }
    }
    endpoints.push((rig.snmp_exporter.clone(), snmp_probe));
    endpoints.push((rig.snmp_exporter.clone(), "/metrics".into()));
    endpoints.push((script_addr.clone(), "/probe?script=cat".into()));
    endpoints.push((script_addr.clone(), "/metrics".into()));

    let mut answers = Vec::new();
    for (addr, path) in &endpoints {
        let r = http("GET", addr, path, &[("Accept", OM)], b"").expect("GET");
        assert_eq!(r.status, 200, "{addr}{path}: {}", r.text());
        assert!(
            r.header("content-type")
                .is_some_and(|c| c.starts_with("application/openmetrics-text")),
            "{addr}{path}: {:?}",
            r.header("content-type")
        );
        answers.push(r.text());
    }
    let results = support::om_strict(&python, &answers);
    for (((addr, path), r), body) in endpoints.iter().zip(&results).zip(&answers) {
        let samples = body
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .count() as u64;
        match r {
            Ok(n) => {
                assert!(*n > 0, "{addr}{path}: no samples\n{body}");
                assert_eq!(*n, samples, "{addr}{path}:\n{body}");
            }
            Err(e) => panic!("{addr}{path}: strict OpenMetrics parser rejected it: {e}\n{body}"),
        }
    }
    // The ping exporter's RTT histogram is written as a histogram (it is well-formed).
    let ping = &answers[2];
    assert!(
        ping.contains("# TYPE rtmon_ping_rtt_seconds histogram\n"),
        "{ping}"
    );
}
