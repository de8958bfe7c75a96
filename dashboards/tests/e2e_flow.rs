//! End-to-end proof of the dashboard generator (issue 7) and `status` (issue 8) on one
//! real rig ([`rtmon_testkit::rig::FlowRig`]): rtmon's node, arp and ping exporters in
//! two network namespaces joined by a veth, rtmon-snmp-exporter in front of an snmpsim
//! switch whose ports, VLAN and FDB match the flow, and a real Prometheus scraping them
//! all and evaluating the generated rules.
//!
//! 1. healthy: `check` finds data for every panel query and rule selector and every
//!    check healthy; `rtmon:flow:healthy` is 1; `status` exits 0 `healthy`;
//! 2. the switch port towards host B goes oper-down in the simulated switch: its
//!    `port_oper_up` rule goes 0 and `status` exits 1 naming the port;
//! 3. port restored: healthy again; host B's MAC changes and the switch's
//!    `fdb_learned` check for B goes 0, then back;
//! 4. host B's data-plane link goes down: host A's `ping_peer` rule goes 0 and `status`
//!    exits 1 naming the hop and the check.
//!
//! Stale Pushgateway data is covered by `status_push.rs`.
//! Needs root, iproute2, Prometheus, snmpsim and the workspace's exporter binaries
//! (`cargo build --workspace` first; scripts/test.sh does).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

mod common;
use common::failing;

use rtmon_testkit::prom::PROMETHEUS_BIN;
use rtmon_testkit::rig::{self, FlowRig, RigBins};
use serde_json::Value;

/// Generous functional deadline for a state change to reach `status`.
const DEADLINE: Duration = Duration::from_secs(60);

fn dashboards() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rtmon-dashboards"))
}

/// Runs a command; returns (exit code, stdout, stderr).
fn run3(mut cmd: Command) -> (i32, String, String) {
    let out = cmd.output().expect("run rtmon-dashboards");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs a command; returns (exit code, stdout + stderr).
fn run(cmd: Command) -> (i32, String) {
    let (code, out, err) = run3(cmd);
    (code, out + &err)
}

fn status_json(flow: &Path, prom: &str) -> (i32, Value, String) {
    let mut c = dashboards();
    c.args([
        "status",
        "--output",
        "json",
        "--lookback",
        "5m",
        "--prometheus",
        prom,
    ])
    .arg(flow);
    let (code, out, err) = run3(c);
    let v = serde_json::from_str(&out).unwrap_or(Value::Null);
    (code, v, out + &err)
}

/// Polls `status` (text output) until it exits `want` and prints `needle`, or fails
/// after [`DEADLINE`]; returns the output.
fn wait_status_text(rig: &FlowRig, want: i32, needle: &str) -> String {
    let url = rig.prom.url();
    let end = Instant::now() + DEADLINE;
    loop {
        let mut c = dashboards();
        c.args(["status", "--lookback", "5m", "--prometheus", &url])
            .arg(&rig.flow_file);
        let (code, text) = run(c);
        if code == want && text.contains(needle) {
            return text;
        }
        assert!(
            Instant::now() < end,
            "status never exited {want} printing {needle:?}; last exit {code}:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Polls `status` until it exits `want` with `settled` true of its failing checks
/// (transient blips, e.g. a scrape during the simulated switch's restart, pass), or
/// fails after [`DEADLINE`].
fn wait_status(rig: &mut FlowRig, want: i32, settled: impl Fn(&[String]) -> bool) -> Value {
    let url = rig.prom.url();
    let end = Instant::now() + DEADLINE;
    loop {
        let (code, v, raw) = status_json(&rig.flow_file, &url);
        if code == want && settled(&failing(&v)) {
            return v;
        }
        if Instant::now() >= end {
            panic!(
                "status never exited {want} with the expected failing checks; last exit {code}, failing {:?}:\n{raw}\n{}",
                failing(&v),
                rig.logs()
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn check<'a>(v: &'a Value, hop: &str, check: &str, subject: &str) -> &'a Value {
    v["flows"][0]["hops"]
        .as_array()
        .and_then(|hops| hops.iter().find(|h| h["hop"] == hop))
        .and_then(|h| h["checks"].as_array())
        .and_then(|cs| {
            cs.iter()
                .find(|c| c["check"] == check && c["subject"] == subject)
        })
        .unwrap_or_else(|| panic!("no check {hop}/{check}/{subject} in {v}"))
}

/// Waits until the rule series `sel` has exactly one sample equal to `want`.
fn wait_rule(rig: &mut FlowRig, sel: &str, want: f64) {
    if let Err(e) = rig
        .prom
        .wait_for_query(sel, |r| r.len() == 1 && r[0].1 == want, DEADLINE)
    {
        panic!("{e:#}\n{}", rig.logs());
    }
}

#[test]
fn flow_rig_dashboards_check_rules_and_status() {
    let mut bins = RigBins::workspace();
    bins.dashboards = PathBuf::from(env!("CARGO_BIN_EXE_rtmon-dashboards"));
    let snmpsim = rtmon_testkit::snmp::snmpsim_binary()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "snmpsim-command-responder".into());
    let bin_paths = bins.all();
    let mut need: Vec<&str> = vec![PROMETHEUS_BIN, "ip", "snmpget", &snmpsim];
    need.extend(bin_paths.iter().map(String::as_str));
    if !rtmon_testkit::available("flow_rig_dashboards_check_rules_and_status", &need, true) {
        return;
    }
    let started = Instant::now();
    let mut rig = FlowRig::start(&bins).expect("flow rig");
    let url = rig.prom.url();
    let flow = rig.flow_file.clone();
    let flow_sel = format!("rtmon:flow:healthy{{flow=\"{}\"}}", rig::FLOW_ID);
    let rule = |hop: &str, check: &str, subject: &str| {
        format!(
            "rtmon:flow_check:ok{{flow=\"{}\",hop=\"{hop}\",check=\"{check}\",subject=\"{subject}\"}}",
            rig::FLOW_ID
        )
    };

    // The dashboard generates for the rig's flow.
    let out_dir = rig.dir().join("dashboards");
    let mut c = dashboards();
    c.arg("generate").arg(&flow).arg("--out").arg(&out_dir);
    let (code, text) = run(c);
    assert_eq!(code, 0, "{text}");
    let written = PathBuf::from(text.lines().next().unwrap_or("").trim());
    let dash: Value =
        serde_json::from_slice(&std::fs::read(&written).expect("dashboard file")).expect("json");
    assert!(
        dash["panels"].as_array().is_some_and(|p| !p.is_empty()),
        "{dash}"
    );

    // 1. Healthy. `check` passes once everything has been scraped: every panel query
    // and rule selector returns data, and every check is healthy. Twice the deadline:
    // the port-status annotation keeps one point per 60 s step (aligned to the minute),
    // so it has data only from the first such step after the switch's first scrape.
    let end = Instant::now() + 2 * DEADLINE;
    let check_out = loop {
        let mut c = dashboards();
        c.arg("check")
            .arg(&flow)
            .args(["--prometheus", &url, "--require-healthy", "--verbose"]);
        let (code, text) = run(c);
        if code == 0 {
            break text;
        }
        if Instant::now() >= end {
            panic!("check never passed; last output:\n{text}\n{}", rig.logs());
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    assert!(
        check_out.contains(" 0 without data, 0 unhealthy checks"),
        "{check_out}"
    );
    let total: usize = check_out
        .lines()
        .last()
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(total > 20, "too few expressions checked: {check_out}");
    // Verbose: one line per expression, each with data (`ok`) or a healthy check.
    let states: Vec<&str> = check_out
        .lines()
        .filter(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(states.len(), total, "{check_out}");
    assert!(
        states.iter().all(|s| *s == "ok" || *s == "healthy"),
        "{check_out}"
    );
    // The annotation queries and the panels built on the rules (path graph, hop tiles,
    // link utilisation, loss per segment) are among them, each with data.
    for origin in [
        "annotation \"Switch port status changes\"",
        "annotation \"Host interface flaps\"",
        "annotation \"ARP/ND changes\"",
        "annotation \"Check failures\"",
        "annotation \"Check recoveries\"",
        "panel \"Path\"",
        "panel \"Flow status\"",
        "panel \"Checks, failing first\"",
        "panel \"Link utilisation\"",
        // The rig's ports are not dedicated: the title says the curves are ungated.
        "panel \"Loss per segment (ungated: ports not dedicated, not checked)\"",
    ] {
        assert!(
            check_out
                .lines()
                .any(|l| l.starts_with("  ok ") && l.contains(&format!("{origin}:"))),
            "no line with data for {origin}:\n{check_out}"
        );
    }
    // One topology row per check.
    let n_rules = rig.rules.matches("{record: rtmon:flow_check:info,").count();
    assert_eq!(
        states.iter().filter(|s| **s == "healthy").count(),
        n_rules,
        "{check_out}"
    );

    // The rules Prometheus loaded evaluate to healthy, one series per check.
    wait_rule(&mut rig, &flow_sel, 1.0);
    let rows = rig
        .prom
        .wait_for_query(
            &format!("rtmon:flow_check:ok{{flow=\"{}\"}}", rig::FLOW_ID),
            |r| r.len() == n_rules && r.iter().all(|r| r.1 == 1.0),
            DEADLINE,
        )
        .unwrap_or_else(|e| panic!("{e:#}"));
    // Every kind of check is on the rig, including the FDB join through node_network_info.
    for kind in [
        "exporter_up",
        "interface_up",
        "arp_peer",
        "ping_peer",
        "snmp_up",
        "port_oper_up",
        "vlan_on_port",
        "fdb_learned",
        "mtu",
        "speed",
        "errors",
        "ping_loss",
        "ping_rtt",
    ] {
        assert!(
            rows.iter()
                .any(|r| r.0.get("check").map(String::as_str) == Some(kind)),
            "no {kind} rule in {rows:?}"
        );
    }

    let v = wait_status(&mut rig, 0, |f| f.is_empty());
    assert_eq!(v["status"], "healthy", "{v}");
    assert_eq!(v["flows"][0]["summary"], "healthy", "{v}");
    assert_eq!(
        check(&v, rig::SWITCH, "fdb_learned", rig::HOST_B)["healthy"],
        true
    );
    wait_status_text(&rig, 0, ": healthy\n");

    // The flow's status rule says healthy, and the path's counting points are recorded.
    wait_rule(
        &mut rig,
        &format!("rtmon:flow:status{{flow=\"{}\"}}", rig::FLOW_ID),
        0.0,
    );
    let points = rig
        .prom
        .wait_for_query(
            &format!("rtmon:flow_point:pps{{flow=\"{}\"}}", rig::FLOW_ID),
            |r| r.len() == 8,
            DEADLINE,
        )
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert!(
        points.iter().any(|r| r.0.get("point").map(String::as_str)
            == Some(&*format!("{} {} rx", rig::SWITCH, rig::IN_PORT))
            && r.0.get("direction").map(String::as_str) == Some("forward")
            && r.0.get("index").map(String::as_str) == Some("02")),
        "{points:?}"
    );

    // 2. The switch port towards host B goes oper-down.
    rig.switch
        .set_oper_status(rig::OUT_IFINDEX, 2)
        .expect("port down");
    // (The agent restarts: wait until it answers again, so only the port is down.)
    wait_rule(&mut rig, &rule(rig::SWITCH, "snmp_up", ""), 1.0);
    wait_rule(
        &mut rig,
        &rule(rig::SWITCH, "port_oper_up", rig::IN_PORT),
        1.0,
    );
    wait_rule(
        &mut rig,
        &rule(rig::SWITCH, "port_oper_up", rig::OUT_PORT),
        0.0,
    );
    wait_rule(&mut rig, &flow_sel, 0.0);
    let port_id = format!("{}/port_oper_up/{}", rig::SWITCH, rig::OUT_PORT);
    let v = wait_status(&mut rig, 2, |f| f == [port_id.as_str()]);
    let summary = v["flows"][0]["summary"].as_str().unwrap_or("");
    let down = format!("{} port {} oper down", rig::SWITCH, rig::OUT_PORT);
    assert!(summary.starts_with(&format!("down: {down}")), "{v}");
    assert_eq!(v["flows"][0]["status"], "down", "{v}");
    let c = check(&v, rig::SWITCH, "port_oper_up", rig::OUT_PORT);
    assert_eq!(c["healthy"], false, "{c}");
    assert_eq!(c["text"], down.as_str());
    assert_eq!(
        check(&v, rig::SWITCH, "port_oper_up", rig::IN_PORT)["healthy"],
        true
    );
    wait_status_text(&rig, 2, &format!("FAIL {down}"));
    wait_rule(
        &mut rig,
        &format!("rtmon:flow:status{{flow=\"{}\"}}", rig::FLOW_ID),
        2.0,
    );
    // The generated alert for that check is pending or firing.
    let alerts = format!(
        "ALERTS{{alertname=\"RtmonFlowCheckFailed\",flow=\"{}\",hop=\"{}\",check=\"port_oper_up\"}}",
        rig::FLOW_ID,
        rig::SWITCH
    );
    if let Err(e) = rig.prom.wait_for_query(
        &alerts,
        |r| {
            !r.is_empty()
                && r.iter()
                    .all(|a| a.0.get("subject").map(String::as_str) == Some(rig::OUT_PORT))
        },
        DEADLINE,
    ) {
        panic!("{e:#}");
    }

    // 3. Restored.
    rig.switch
        .set_oper_status(rig::OUT_IFINDEX, 1)
        .expect("port up");
    wait_rule(&mut rig, &flow_sel, 1.0);
    let v = wait_status(&mut rig, 0, |f| f.is_empty());
    assert_eq!(v["status"], "healthy", "{v}");

    // The FDB check follows the host's real MAC (node_network_info joined with the
    // switch FDB): host B's interface gets a MAC the switch never learned.
    rig.b
        .ns
        .ip(&["link", "set", rig::DATA_IF, "address", "02:00:5e:99:00:02"])
        .expect("set mac");
    wait_rule(
        &mut rig,
        &rule(rig::SWITCH, "fdb_learned", rig::HOST_B),
        0.0,
    );
    wait_rule(
        &mut rig,
        &rule(rig::SWITCH, "fdb_learned", rig::HOST_A),
        1.0,
    );
    rig.b
        .ns
        .ip(&["link", "set", rig::DATA_IF, "address", rig::MAC_B])
        .expect("restore mac");
    wait_rule(
        &mut rig,
        &rule(rig::SWITCH, "fdb_learned", rig::HOST_B),
        1.0,
    );

    // 4. Host B's data-plane link goes down: A can no longer reach its peer.
    rig.b
        .ns
        .ip(&["link", "set", rig::DATA_IF, "down"])
        .expect("link down");
    let peer_ip = rig.b.data_ip.clone();
    wait_rule(&mut rig, &rule(rig::HOST_A, "ping_peer", &peer_ip), 0.0);
    wait_rule(&mut rig, &flow_sel, 0.0);
    let ping_id = format!("{}/ping_peer/{peer_ip}", rig::HOST_A);
    // (The switch's speed check towards B has no data while B's link is down.)
    let port_checks = format!("{}/port_oper_up", rig::SWITCH);
    let v = wait_status(&mut rig, 2, |f| {
        f.contains(&ping_id) && f.iter().all(|c| !c.starts_with(&port_checks))
    });
    let unreachable = format!(
        "{} cannot reach {} ({peer_ip}) by ping",
        rig::HOST_A,
        rig::HOST_B
    );
    let c = check(&v, rig::HOST_A, "ping_peer", &peer_ip);
    assert_eq!(c["healthy"], false, "{c}");
    assert_eq!(c["text"], unreachable.as_str());
    // The cause comes first: an interface (A's end of the veth loses its carrier with
    // B's), not A's ping that fails because of it.
    let summary = v["flows"][0]["summary"].as_str().unwrap_or("");
    assert!(
        summary.starts_with(&format!(
            "down: {} interface {} down",
            rig::HOST_A,
            rig::DATA_IF
        )),
        "{summary}"
    );
    assert_eq!(
        check(&v, rig::HOST_B, "interface_up", rig::DATA_IF)["healthy"],
        false
    );
    // The switch side is still fine.
    assert_eq!(
        check(&v, rig::SWITCH, "port_oper_up", rig::OUT_PORT)["healthy"],
        true
    );
    let text = wait_status_text(&rig, 2, &format!("FAIL {unreachable}"));
    eprintln!("status with host B's link down:\n{text}");

    eprintln!("flow rig end-to-end: {:.1?}", started.elapsed());
}
