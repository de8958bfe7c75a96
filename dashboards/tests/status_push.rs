//! `rtmon-dashboards status` against a real Prometheus scraping a real Pushgateway
//! (push mode): the series the exporters would push are PUT into the gateway, and the
//! verdict, exit code, named hop/check and JSON shape are asserted as they change —
//! healthy, a port oper-down, a peer unreachable, a stale push group (a dead site must
//! not look healthy), and Prometheus unreachable.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use rtmon_testkit::prom::{scrape_job, Prometheus, Pushgateway, PROMETHEUS_BIN, PUSHGATEWAY_BIN};
use serde_json::Value;

const FLOW: &str = "flow: st-test\ntitle: Status test\npath:\n  - host: dtn-a\n    interface: eth0\n    ip: 10.0.0.1\n    vlan: 1000\n  - switch: sw-a\n    target: sw-a\n    in: {port: \"Ethernet1/1\", vlan: 1000}\n    out: {port: \"Ethernet1/2\", vlan: 1000}\n  - host: dtn-b\n    interface: eth0\n    ip: 10.0.0.2\n    vlan: 1000\n";

struct Site {
    oper_out: u8,
    ping_a: u8,
    push_arp_b: bool,
    /// Probes so far: the ping counters and histogram move with every push.
    probes: std::cell::Cell<u64>,
}

fn push_all(pgw: &Pushgateway, s: &Site) {
    s.probes.set(s.probes.get() + 10);
    let n = s.probes.get();
    let host = |me: &str, peer_ip: &str, mac: &str, ping: u8| {
        let mut node = format!(
            "node_network_up{{device=\"eth0\"}} 1\nnode_network_info{{device=\"eth0\",address=\"{mac}\",operstate=\"up\"}} 1\n\
node_network_mtu_bytes{{device=\"eth0\"}} 9000\nnode_network_speed_bytes{{device=\"eth0\"}} 1250000000\n"
        );
        for m in [
            "receive_errs",
            "transmit_errs",
            "receive_drop",
            "transmit_drop",
        ] {
            node.push_str(&format!("node_network_{m}_total{{device=\"eth0\"}} 0\n"));
        }
        assert_eq!(
            pgw.put(&format!("rtmon_node/instance/{me}"), &node)
                .expect("put")
                .0,
            200
        );
        (
            format!("rtmon_arp_entry_info{{ip=\"{peer_ip}\",mac=\"02:00:00:00:00:99\",device=\"eth0\",state=\"reachable\"}} 1\n"),
            format!(
                "rtmon_ping_up{{target=\"{peer_ip}\"}} {ping}\n\
rtmon_ping_requests_total{{target=\"{peer_ip}\"}} {n}\nrtmon_ping_replies_total{{target=\"{peer_ip}\"}} {n}\n\
rtmon_ping_rtt_seconds_sum{{target=\"{peer_ip}\"}} {}\nrtmon_ping_rtt_seconds_count{{target=\"{peer_ip}\"}} {n}\n",
                n as f64 * 0.001
            ),
        )
    };
    let (arp_a, ping_a) = host("dtn-a", "10.0.0.2", "02:00:00:00:00:0a", s.ping_a);
    let (arp_b, ping_b) = host("dtn-b", "10.0.0.1", "02:00:00:00:00:0b", 1);
    assert_eq!(
        pgw.put("rtmon_arp/instance/dtn-a", &arp_a).expect("put").0,
        200
    );
    if s.push_arp_b {
        assert_eq!(
            pgw.put("rtmon_arp/instance/dtn-b", &arp_b).expect("put").0,
            200
        );
    }
    assert_eq!(
        pgw.put("rtmon_ping/instance/dtn-a", &ping_a)
            .expect("put")
            .0,
        200
    );
    assert_eq!(
        pgw.put("rtmon_ping/instance/dtn-b", &ping_b)
            .expect("put")
            .0,
        200
    );
    let mut snmp = format!(
        "snmp_up 1\nifOperStatus{{ifIndex=\"1\",ifName=\"Ethernet1/1\"}} 1\nifOperStatus{{ifIndex=\"2\",ifName=\"Ethernet1/2\"}} {}\n\
rtmon_snmp_fdb_entry_info{{ifName=\"Ethernet1/1\",vlan=\"1000\",mac=\"02:00:00:00:00:0a\"}} 1\n\
rtmon_snmp_fdb_entry_info{{ifName=\"Ethernet1/2\",vlan=\"1000\",mac=\"02:00:00:00:00:0b\"}} 1\n",
        s.oper_out
    );
    for (i, port) in [(1, "Ethernet1/1"), (2, "Ethernet1/2")] {
        let l = format!("ifIndex=\"{i}\",ifName=\"{port}\"");
        snmp.push_str(&format!("ifMtu{{{l}}} 9216\nifHighSpeed{{{l}}} 10000\n"));
        for m in ["ifInErrors", "ifOutErrors", "ifInDiscards", "ifOutDiscards"] {
            snmp.push_str(&format!("{m}{{{l}}} 0\n"));
        }
    }
    assert_eq!(
        pgw.put("rtmon_snmp/instance/sw-a", &snmp).expect("put").0,
        200
    );
}

fn status(flow: &Path, prom: &str) -> (i32, Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rtmon-dashboards"))
        .args([
            "status",
            "--mode",
            "push",
            "--stale-after",
            "4s",
            "--lookback",
            "5m",
            "--output",
            "json",
            "--prometheus",
            prom,
        ])
        .arg(flow)
        .output()
        .expect("run status");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let v = serde_json::from_str(&text).unwrap_or(Value::Null);
    (
        out.status.code().unwrap_or(-1),
        v,
        text + &String::from_utf8_lossy(&out.stderr),
    )
}

/// Re-pushes the site until `status` reports `want_code` (Prometheus scrapes every
/// second), or fails after a generous deadline.
fn wait_status(pgw: &Pushgateway, s: &Site, flow: &Path, prom: &str, want_code: i32) -> Value {
    let end = Instant::now() + Duration::from_secs(30);
    loop {
        push_all(pgw, s);
        std::thread::sleep(Duration::from_millis(1500));
        let (code, v, raw) = status(flow, prom);
        if code == want_code {
            return v;
        }
        assert!(
            Instant::now() < end,
            "status never exited {want_code}; last exit {code}:\n{raw}"
        );
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

#[test]
fn status_follows_the_flow_through_push_mode() {
    if !rtmon_testkit::available(
        "status_follows_the_flow_through_push_mode",
        &[PROMETHEUS_BIN, PUSHGATEWAY_BIN],
        false,
    ) {
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let flow = dir.path().join("flow.yml");
    std::fs::write(&flow, FLOW).expect("flow");
    let pgw = Pushgateway::start().expect("pushgateway");
    let prom =
        Prometheus::start(&scrape_job("pushgateway", &[&pgw.addr()], true)).expect("prometheus");
    let url = prom.url();

    // Healthy: exit 0, every check healthy, documented shape.
    let mut site = Site {
        oper_out: 1,
        ping_a: 1,
        push_arp_b: true,
        probes: std::cell::Cell::new(0),
    };
    let v = wait_status(&pgw, &site, &flow, &url, 0);
    assert_eq!(v["status"], "healthy");
    let f = &v["flows"][0];
    assert_eq!(f["flow"], "st-test");
    assert_eq!(f["summary"], "healthy");
    let hops: Vec<&str> = f["hops"]
        .as_array()
        .expect("hops")
        .iter()
        .filter_map(|h| h["hop"].as_str())
        .collect();
    assert_eq!(hops, ["dtn-a", "sw-a", "dtn-b"]);
    for h in f["hops"].as_array().expect("hops") {
        for c in h["checks"].as_array().expect("checks") {
            assert_eq!(c["healthy"], true, "{c}");
            assert_eq!(c["value"], 1.0);
            assert!(c["error"].is_null());
            for k in ["check", "subject", "text", "since", "since_unix", "expr"] {
                assert!(c.get(k).is_some(), "missing {k} in {c}");
            }
        }
    }
    assert_eq!(check(&v, "sw-a", "fdb_learned", "dtn-b")["healthy"], true);

    // The switch port towards dtn-b goes oper-down: down (critical), exit 2, the port
    // is named.
    site.oper_out = 2;
    let v = wait_status(&pgw, &site, &flow, &url, 2);
    let summary = v["flows"][0]["summary"].as_str().unwrap_or("");
    assert!(
        summary.starts_with("down: sw-a port Ethernet1/2 oper down"),
        "{summary}"
    );
    assert_eq!(v["status"], "down");
    let c = check(&v, "sw-a", "port_oper_up", "Ethernet1/2");
    assert_eq!(c["healthy"], false);
    assert_eq!(c["text"], "sw-a port Ethernet1/2 oper down");
    assert_eq!(
        check(&v, "sw-a", "port_oper_up", "Ethernet1/1")["healthy"],
        true
    );

    // Port back, but dtn-a cannot ping dtn-b: the hop and check are named.
    site.oper_out = 1;
    site.ping_a = 0;
    let v = wait_status(&pgw, &site, &flow, &url, 2);
    let summary = v["flows"][0]["summary"].as_str().unwrap_or("");
    assert!(
        summary.starts_with("down: dtn-a cannot reach dtn-b (10.0.0.2) by ping"),
        "{summary}"
    );
    assert_eq!(
        check(&v, "dtn-a", "ping_peer", "10.0.0.2")["healthy"],
        false
    );

    // dtn-b's ARP exporter stops pushing: its old data stays in the gateway, but it is
    // stale and reported so.
    site.ping_a = 1;
    site.push_arp_b = false;
    let end = Instant::now() + Duration::from_secs(30);
    let v = loop {
        push_all(&pgw, &site);
        std::thread::sleep(Duration::from_millis(1500));
        let (code, v, raw) = status(&flow, &url);
        if code == 2 && check(&v, "dtn-b", "exporter_up", "arp")["healthy"] == false {
            break v;
        }
        assert!(Instant::now() < end, "staleness never reported:\n{raw}");
    };
    assert_eq!(
        check(&v, "dtn-b", "exporter_up", "arp")["text"],
        "dtn-b arp exporter not pushing (stale data)"
    );
    // …while its stale entry would still look fine on its own.
    assert_eq!(check(&v, "dtn-b", "arp_peer", "10.0.0.1")["healthy"], true);
    assert_eq!(check(&v, "dtn-a", "exporter_up", "arp")["healthy"], true);

    // Prometheus unreachable: could not evaluate, exit 3, said once (not per check).
    drop(prom);
    let (code, v, raw) = status(&flow, &url);
    assert_eq!(code, 3, "{raw}");
    assert_eq!(v["status"], "unknown");
    assert!(v["error"].as_str().unwrap_or("").contains(&url), "{raw}");
    assert_eq!(v["flows"], Value::Array(Vec::new()), "{raw}");
    let out = Command::new(env!("CARGO_BIN_EXE_rtmon-dashboards"))
        .args(["status", "--mode", "push", "--prometheus", &url])
        .arg(&flow)
        .output()
        .expect("run status");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert_eq!(text.matches(url.as_str()).count(), 1, "{text}");
    assert!(
        text.starts_with("unknown: cannot evaluate any flow"),
        "{text}"
    );
}
