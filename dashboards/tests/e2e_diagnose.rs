//! End-to-end diagnosis of the flow (issue 16) on the network-namespace rig
//! ([`rtmon_testkit::rig::FlowRig`]: rtmon's exporters in two namespaces, an snmpsim
//! switch behind rtmon-snmp-exporter with Q-BRIDGE VLAN data, a real Prometheus
//! evaluating the generated rules, and Debian's prometheus-alertmanager loaded with
//! the generated routing). Each step asserts the check, its rule value, the flow's
//! status rule, the `status` line and its exit code:
//!
//! 1. a switch port's MTU drops to 1500 under hosts at 9000 → `mtu` warning naming the
//!    hop, `degraded`, exit 1;
//! 2. the hosts' MTU drops to 1500 on a 9216 path → `mtu` warning on the hosts;
//! 3. the flow's VLAN leaves one port's egress bitmap → `vlan_on_port` critical,
//!    `down`, exit 2;
//! 4. errors rise on one port → `errors` warning;
//! 5. the switch stops answering → exactly one alert (`snmp_up`) is active and
//!    notified by Alertmanager; the port, VLAN, FDB, MTU, speed and errors alerts of
//!    that switch and the flow's warnings are inhibited.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod common;
use common::failing;

use rtmon_testkit::prom::PROMETHEUS_BIN;
use rtmon_testkit::rig::{self, FlowRig, RigBins};
use rtmon_testkit::Proc;
use serde_json::Value;

const DEADLINE: Duration = Duration::from_secs(90);
const ALERTMANAGER_BIN: &str = "/usr/bin/prometheus-alertmanager";

fn dashboards() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rtmon-dashboards"))
}

/// `status --output json` and `status` (text): (exit code, JSON, text).
fn status(rig: &FlowRig) -> (i32, Value, String) {
    let url = rig.prom.url();
    let json = dashboards()
        .args(["status", "--output", "json", "--prometheus", &url])
        .arg(&rig.flow_file)
        .output()
        .expect("run status");
    let text = dashboards()
        .args(["status", "--prometheus", &url])
        .arg(&rig.flow_file)
        .output()
        .expect("run status");
    (
        json.status.code().unwrap_or(-1),
        serde_json::from_slice(&json.stdout).unwrap_or(Value::Null),
        String::from_utf8_lossy(&text.stdout).into_owned(),
    )
}

/// Polls `status` until it exits `want` with exactly the failing checks `ids`.
fn wait_status(rig: &mut FlowRig, want: i32, ids: &[&str]) -> (Value, String) {
    let end = Instant::now() + DEADLINE;
    let mut want_ids: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    want_ids.sort();
    loop {
        let (code, v, text) = status(rig);
        let mut f = failing(&v);
        f.sort();
        if code == want && f == want_ids {
            return (v, text);
        }
        if Instant::now() >= end {
            panic!(
                "status never exited {want} failing {want_ids:?}; last exit {code}, failing {f:?}:\n{text}\n{}",
                rig.logs()
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn wait_rule(rig: &mut FlowRig, sel: &str, want: f64) {
    if let Err(e) = rig
        .prom
        .wait_for_query(sel, |r| r.len() == 1 && r[0].1 == want, DEADLINE)
    {
        let failing = rig.prom.query("rtmon:flow_check:ok == 0");
        let dbg: Vec<_> = ["rtmon:node_if:errors_pps", "rtmon:snmp_if:errors_pps", "rtmon:flow:limit", "rate({__name__=~\"node_network_receive_errs_total|node_network_transmit_errs_total|node_network_receive_drop_total|node_network_transmit_drop_total\"}[20s])"].iter().map(|q| rig.prom.query(q)).collect();
        panic!(
            "{e:#}\nfailing checks: {failing:?}\n{dbg:?}\n{}",
            rig.logs()
        );
    }
}

fn rule(hop: &str, check: &str, subject: &str) -> String {
    format!(
        "rtmon:flow_check:ok{{flow=\"{}\",hop=\"{hop}\",check=\"{check}\",subject=\"{subject}\"}}",
        rig::FLOW_ID
    )
}

fn flow_status() -> String {
    format!("rtmon:flow:status{{flow=\"{}\"}}", rig::FLOW_ID)
}

fn summary(v: &Value) -> String {
    v["flows"][0]["summary"].as_str().unwrap_or("").to_string()
}

/// A webhook receiver: collects the bodies Alertmanager POSTs.
fn webhook() -> (String, Arc<Mutex<Vec<Value>>>) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind webhook");
    let addr = l.local_addr().expect("addr");
    let got = Arc::new(Mutex::new(Vec::new()));
    let g = got.clone();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let mut buf = Vec::new();
            let mut chunk = [0u8; 8192];
            // Headers, then Content-Length bytes of body.
            let body = loop {
                match s.read(&mut chunk) {
                    Ok(0) | Err(_) => break None,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
                let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                    continue;
                };
                let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                if buf.len() >= end + 4 + len {
                    break Some(buf[end + 4..end + 4 + len].to_vec());
                }
            };
            let _ =
                s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            if let Some(b) = body.and_then(|b| serde_json::from_slice::<Value>(&b).ok()) {
                if let Ok(mut v) = g.lock() {
                    v.push(b);
                }
            }
        }
    });
    (format!("http://{addr}/hook"), got)
}

/// Alertmanager's alerts: (check label, state) of each.
fn am_alerts(addr: &str) -> Vec<(String, String)> {
    let Ok(r) = rtmon_testkit::http_get(addr, "/api/v2/alerts") else {
        return Vec::new();
    };
    let v: Value = serde_json::from_str(&r.text()).unwrap_or(Value::Null);
    v.as_array()
        .into_iter()
        .flatten()
        .map(|a| {
            (
                a["labels"]["check"].as_str().unwrap_or("").to_string(),
                a["status"]["state"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[test]
fn flow_rig_diagnoses_mtu_vlan_errors_and_routes_one_alert() {
    let mut bins = RigBins::workspace();
    bins.dashboards = PathBuf::from(env!("CARGO_BIN_EXE_rtmon-dashboards"));
    let snmpsim = rtmon_testkit::snmp::snmpsim_binary()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "snmpsim-command-responder".into());
    let bin_paths = bins.all();
    let mut need: Vec<&str> = vec![PROMETHEUS_BIN, ALERTMANAGER_BIN, "ip", "snmpget", &snmpsim];
    need.extend(bin_paths.iter().map(String::as_str));
    if !rtmon_testkit::available(
        "flow_rig_diagnoses_mtu_vlan_errors_and_routes_one_alert",
        &need,
        true,
    ) {
        return;
    }
    let mut rig = FlowRig::start(&bins).expect("flow rig");

    // Alertmanager with the generated routing, notifying a local webhook; Prometheus
    // sends it the flow's alerts.
    let (hook, notified) = webhook();
    let am_cfg = rig.dir().join("alertmanager.yml");
    let out = dashboards()
        .args(["alertmanager", "--webhook-url", &hook, "--group-wait", "1s"])
        .args(["--group-interval", "1s", "--out"])
        .arg(&am_cfg)
        .output()
        .expect("run alertmanager subcommand");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let check = Command::new("amtool")
        .arg("check-config")
        .arg(&am_cfg)
        .output();
    if let Ok(c) = check {
        assert!(
            c.status.success(),
            "amtool: {}",
            String::from_utf8_lossy(&c.stdout)
        );
    }
    let am_port = rtmon_testkit::free_port();
    let am_addr = format!("127.0.0.1:{am_port}");
    let mut cmd = Command::new(ALERTMANAGER_BIN);
    cmd.arg(format!("--config.file={}", am_cfg.display()))
        .arg(format!(
            "--storage.path={}",
            rig.dir().join("am-data").display()
        ))
        .arg(format!("--web.listen-address={am_addr}"))
        .arg("--cluster.listen-address=");
    let _am = Proc::spawn(
        "alertmanager",
        cmd,
        Some(&rig.dir().join("alertmanager.log")),
    )
    .expect("start alertmanager");
    assert!(
        rtmon_testkit::wait_for_port(&am_addr, Duration::from_secs(30)),
        "alertmanager did not listen: {}",
        std::fs::read_to_string(rig.dir().join("alertmanager.log")).unwrap_or_default()
    );
    let cfg_path = rig.prom.config_path();
    let cfg = std::fs::read_to_string(&cfg_path).expect("prometheus.yml");
    std::fs::write(
        &cfg_path,
        format!("{cfg}\nalerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['{am_addr}']\n"),
    )
    .expect("write prometheus.yml");
    rig.prom.reload().expect("reload prometheus");

    // Healthy first.
    let (v, _) = wait_status(&mut rig, 0, &[]);
    assert_eq!(v["status"], "healthy");
    assert_eq!(v["flows"][0]["capacity_bps"], 1e10, "{v}");
    wait_rule(&mut rig, &flow_status(), 0.0);

    // 1. A switch port's MTU below the hosts'.
    rig.switch.set_mtu(rig::OUT_IFINDEX, 1500).expect("set mtu");
    let (v, text) = wait_status(
        &mut rig,
        1,
        &[&format!("{}/mtu/{}", rig::SWITCH, rig::OUT_PORT)],
    );
    let want = format!("{} {} MTU 1500 < host MTU 9000", rig::SWITCH, rig::OUT_PORT);
    assert!(summary(&v).starts_with(&format!("degraded: {want}")), "{v}");
    assert!(text.contains(&format!("WARN {want}")), "{text}");
    wait_rule(&mut rig, &rule(rig::SWITCH, "mtu", rig::OUT_PORT), 0.0);
    wait_rule(&mut rig, &flow_status(), 1.0);
    rig.switch
        .set_mtu(rig::OUT_IFINDEX, 9216)
        .expect("restore mtu");
    wait_status(&mut rig, 0, &[]);

    // 2. The hosts at 1500 on a 9216 path: jumbo frames unused.
    for h in [&rig.a, &rig.b] {
        h.ns.ip(&["link", "set", rig::DATA_IF, "mtu", "1500"])
            .expect("host mtu");
    }
    let (v, _) = wait_status(
        &mut rig,
        1,
        &[
            &format!("{}/mtu/{}", rig::HOST_A, rig::DATA_IF),
            &format!("{}/mtu/{}", rig::HOST_B, rig::DATA_IF),
        ],
    );
    assert!(
        summary(&v).starts_with(&format!(
            "degraded: {} {} MTU 1500, smallest switch port MTU on the path 9216",
            rig::HOST_A,
            rig::DATA_IF
        )),
        "{v}"
    );
    wait_rule(&mut rig, &rule(rig::HOST_A, "mtu", rig::DATA_IF), 0.0);
    for h in [&rig.a, &rig.b] {
        h.ns.ip(&[
            "link",
            "set",
            rig::DATA_IF,
            "mtu",
            &rig::HOST_MTU.to_string(),
        ])
        .expect("host mtu");
    }
    wait_status(&mut rig, 0, &[]);

    // 3. The VLAN missing on the port towards host B.
    let unix = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    };
    let changed_at = unix();
    rig.switch
        .set_vlan_ports(rig::VLAN, &[rig::IN_IFINDEX])
        .expect("vlan");
    let (v, text) = wait_status(
        &mut rig,
        2,
        &[&format!("{}/vlan_on_port/{}", rig::SWITCH, rig::OUT_PORT)],
    );
    let want = format!(
        "{} VLAN {} missing on port {}",
        rig::SWITCH,
        rig::VLAN,
        rig::OUT_PORT
    );
    assert!(summary(&v).starts_with(&format!("down: {want}")), "{v}");
    assert_eq!(v["flows"][0]["status"], "down");
    assert!(text.contains(&format!("FAIL {want}")), "{text}");
    // "since" is right with the default 6 h look-back (not its 30 s coarse step).
    let since = v["flows"][0]["hops"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|h| h["checks"].as_array().cloned().unwrap_or_default())
        .find(|c| c["check"] == "vlan_on_port" && c["subject"] == rig::OUT_PORT)
        .and_then(|c| c["since_unix"].as_i64())
        .unwrap_or(0);
    assert!(
        since >= changed_at && since <= unix(),
        "since {since}, changed at {changed_at}: {v}"
    );
    wait_rule(
        &mut rig,
        &rule(rig::SWITCH, "vlan_on_port", rig::OUT_PORT),
        0.0,
    );
    wait_rule(
        &mut rig,
        &rule(rig::SWITCH, "vlan_on_port", rig::IN_PORT),
        1.0,
    );
    wait_rule(&mut rig, &flow_status(), 2.0);
    rig.switch
        .set_vlan_ports(rig::VLAN, &[rig::IN_IFINDEX, rig::OUT_IFINDEX])
        .expect("vlan back");
    wait_status(&mut rig, 0, &[]);

    // 4. Errors rise on the port towards host B (ifInErrors jumps by a million).
    let errors_at = rtmon::log::rfc3339_now();
    rig.switch
        .set_if_counter(14, rig::OUT_IFINDEX, 1_000_000)
        .expect("errors");
    let (v, _) = wait_status(
        &mut rig,
        1,
        &[&format!("{}/errors/{}", rig::SWITCH, rig::OUT_PORT)],
    );
    assert!(
        summary(&v).starts_with(&format!(
            "degraded: {} {} errors and discards",
            rig::SWITCH,
            rig::OUT_PORT
        )),
        "{v}"
    );
    wait_rule(&mut rig, &rule(rig::SWITCH, "errors", rig::OUT_PORT), 0.0);
    wait_rule(&mut rig, &rule(rig::SWITCH, "errors", rig::IN_PORT), 1.0);

    // Its alert (a warning) fires and is notified before the next step.
    let end = Instant::now() + DEADLINE;
    while !notified
        .lock()
        .map(|g| {
            g.iter()
                .flat_map(|n| n["alerts"].as_array().cloned().unwrap_or_default())
                .any(|a| {
                    a["status"] == "firing"
                        && a["labels"]["check"] == "errors"
                        && a["startsAt"].as_str().unwrap_or("") >= errors_at.as_str()
                })
        })
        .unwrap_or(false)
    {
        assert!(Instant::now() < end, "the errors alert was never notified");
        std::thread::sleep(Duration::from_millis(500));
    }

    // 5. The switch stops answering: one alert reaches Alertmanager. (The errors
    // warning above is still failing: it is inhibited too.)
    // Only alerts that start from now on count (earlier steps notified their own, and
    // Alertmanager may repeat those).
    let stopped_at = rtmon::log::rfc3339_now();
    rig.switch.stop();
    wait_rule(&mut rig, &rule(rig::SWITCH, "snmp_up", ""), 0.0);
    let (v, _) = {
        let end = Instant::now() + DEADLINE;
        loop {
            let (code, v, text) = status(&rig);
            if code == 2
                && summary(&v).starts_with(&format!("down: {} does not answer SNMP", rig::SWITCH))
            {
                break (v, text);
            }
            assert!(
                Instant::now() < end,
                "status never named the switch: {text}"
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    };
    assert!(
        failing(&v).len() > 3,
        "the switch's other checks fail too: {v}"
    );
    // Prometheus fires the alerts (for: 5s); Alertmanager receives them all and
    // inhibits all but one.
    let end = Instant::now() + DEADLINE;
    let alerts = loop {
        let a = am_alerts(&am_addr);
        let active: Vec<&(String, String)> = a.iter().filter(|x| x.1 == "active").collect();
        let all_suppressed = ["port_oper_up", "vlan_on_port", "fdb_learned", "errors"]
            .iter()
            .all(|k| a.iter().any(|x| x.0 == *k && x.1 == "suppressed"));
        if active.len() == 1 && all_suppressed {
            break a;
        }
        assert!(
            Instant::now() < end,
            "Alertmanager never had exactly one active alert: {a:?}\n{}",
            std::fs::read_to_string(rig.dir().join("alertmanager.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    let active: Vec<&str> = alerts
        .iter()
        .filter(|x| x.1 == "active")
        .map(|x| x.0.as_str())
        .collect();
    assert_eq!(active, ["snmp_up"], "{alerts:?}");
    for kind in ["port_oper_up", "vlan_on_port", "fdb_learned", "errors"] {
        assert!(
            alerts.iter().any(|x| x.0 == kind && x.1 == "suppressed"),
            "{kind} not inhibited: {alerts:?}"
        );
    }
    // The webhook was notified of that one alert, and of no other.
    let end = Instant::now() + DEADLINE;
    loop {
        let got = notified.lock().map(|g| g.clone()).unwrap_or_default();
        let snmp_notified = got
            .iter()
            .flat_map(|n| n["alerts"].as_array().cloned().unwrap_or_default())
            .any(|a| a["labels"]["check"] == "snmp_up" && a["status"] == "firing");
        if snmp_notified {
            std::thread::sleep(Duration::from_secs(3));
            let got = notified.lock().map(|g| g.clone()).unwrap_or_default();
            let checks: std::collections::BTreeSet<String> = got
                .iter()
                .flat_map(|n| n["alerts"].as_array().cloned().unwrap_or_default())
                .filter(|a| a["status"] == "firing")
                .filter(|a| a["startsAt"].as_str().unwrap_or("") >= stopped_at.as_str())
                .filter_map(|a| a["labels"]["check"].as_str().map(String::from))
                .collect();
            assert_eq!(
                checks.into_iter().collect::<Vec<_>>(),
                ["snmp_up"],
                "{got:?}"
            );
            // The alert carries its links.
            let a = got
                .iter()
                .flat_map(|n| n["alerts"].as_array().cloned().unwrap_or_default())
                .find(|a| a["labels"]["check"] == "snmp_up")
                .unwrap_or(Value::Null);
            assert!(
                a["annotations"]["runbook_url"]
                    .as_str()
                    .unwrap_or("")
                    .ends_with("docs/runbook.md#snmp_up"),
                "{a}"
            );
            assert_eq!(a["labels"]["severity"], "critical", "{a}");
            break;
        }
        assert!(Instant::now() < end, "no notification reached the webhook");
        std::thread::sleep(Duration::from_millis(500));
    }
    rig.switch.resume().expect("switch back");
}
