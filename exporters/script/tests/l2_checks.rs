//! The layer-2 check scripts (scripts/l2-checks) against a fixture HTTP server serving
//! the metric names of rtmon's arp, ping, node and snmp exporters, run by hand and
//! through rtmon-script-exporter with the shipped script.yml.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rtmon::expo::parse::{parse_text, ParseOptions};
use rtmon_testkit::{available, free_port, http_get, sample_value, wait_for_port, Proc};

const METRICS: &str = r#"# HELP rtmon_arp_entry_info One series per neighbour entry.
# TYPE rtmon_arp_entry_info gauge
rtmon_arp_entry_info{ip="10.10.100.2",mac="02:00:00:00:00:02",device="ens2f0.1000",state="reachable"} 1
rtmon_arp_entry_info{ip="10.10.100.3",mac="",device="ens2f0.1000",state="failed"} 1
rtmon_arp_entry_info{ip="10.10.100.4",mac="02:00:00:00:00:04",device="other0",state="stale"} 1
# TYPE rtmon_ping_up gauge
rtmon_ping_up{target="10.10.100.2"} 1
rtmon_ping_up{target="10.10.100.3"} 0
# TYPE node_network_up gauge
node_network_up{device="ens2f0.1000"} 1
node_network_up{device="eth9"} 0
"#;

const FDB: &str = r#"# TYPE rtmon_snmp_fdb_entry_info gauge
rtmon_snmp_fdb_entry_info{mac="02:00:00:00:00:01",vlan="1000",port="27",ifIndex="27",ifName="hundredGigE 1/27",status="learned"} 1
rtmon_snmp_fdb_entry_info{mac="02:00:00:00:00:02",vlan="1000",port="31",ifIndex="31",ifName="hundredGigE 1/31",status="learned"} 1
"#;

const IFMIB: &str = r#"# TYPE ifOperStatus gauge
ifOperStatus{ifAlias="",ifDescr="hundredGigE 1/27",ifIndex="27",ifName="hundredGigE 1/27"} 1
ifOperStatus{ifAlias="",ifDescr="hundredGigE 1/31",ifIndex="31",ifName="hundredGigE 1/31"} 2
"#;

/// A fixture exporter: `/metrics`, `/snmp?module=bridge_fdb…`, `/snmp?module=if_mib…`.
struct FakeExporter {
    addr: String,
    paths: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl FakeExporter {
    fn start() -> FakeExporter {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.set_nonblocking(true).expect("nonblocking");
        let addr = l.local_addr().expect("addr").to_string();
        let paths = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (p, s) = (Arc::clone(&paths), Arc::clone(&stop));
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                let Ok((mut c, _)) = l.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                let _ = c.set_nonblocking(false);
                let _ = c.set_read_timeout(Some(Duration::from_secs(2)));
                let mut buf = [0u8; 4096];
                let n = c.read(&mut buf).unwrap_or(0);
                let req = String::from_utf8_lossy(&buf[..n]).into_owned();
                let path = req.split_whitespace().nth(1).unwrap_or("").to_string();
                p.lock().expect("lock").push(path.clone());
                let body = if path == "/metrics" {
                    METRICS
                } else if path.starts_with("/snmp?module=bridge_fdb") {
                    FDB
                } else if path.starts_with("/snmp?module=if_mib") {
                    IFMIB
                } else {
                    ""
                };
                let status = if body.is_empty() {
                    "404 Not Found"
                } else {
                    "200 OK"
                };
                let _ = write!(
                    c,
                    "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        FakeExporter { addr, paths, stop }
    }
    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for FakeExporter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn scripts_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scripts/l2-checks"
    ))
}

/// Runs a check script; returns (exit code, stdout).
fn run(script: &str, args: &[&str]) -> (i32, String) {
    let out = Command::new(scripts_dir().join(script))
        .args(args)
        .env("SCRIPT_TIMEOUT", "5")
        .output()
        .expect("run script");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// Output must be a clean exposition; returns it for value lookups.
fn clean(out: &str) -> &str {
    let p = parse_text(out, &ParseOptions::default());
    assert!(p.errors.is_empty(), "{:?}\n{out}", p.errors);
    out
}

#[test]
fn checks_read_rtmon_metrics() {
    if !available("l2 checks", &["curl", "awk"], false) {
        return;
    }
    let fake = FakeExporter::start();
    let u = fake.url();

    let (rc, out) = run(
        "arp-peer.sh",
        &[
            "--arp",
            &u,
            "--peer",
            "10.10.100.2",
            "--device",
            "ens2f0.1000",
        ],
    );
    assert_eq!(rc, 0, "{out}");
    let l = [("peer", "10.10.100.2"), ("device", "ens2f0.1000")];
    assert_eq!(
        sample_value(clean(&out), "rtmon_l2_arp_entry_present", &l),
        Some(1.0)
    );
    assert_eq!(
        sample_value(&out, "rtmon_l2_arp_entry_usable", &l),
        Some(1.0)
    );
    // FAILED entry: present, not usable. Entry on another device: not present there.
    let (_, out) = run("arp-peer.sh", &["--arp", &u, "--peer", "10.10.100.3"]);
    assert_eq!(
        sample_value(clean(&out), "rtmon_l2_arp_entry_present", &[]),
        Some(1.0)
    );
    assert_eq!(
        sample_value(&out, "rtmon_l2_arp_entry_usable", &[]),
        Some(0.0)
    );
    let (_, out) = run(
        "arp-peer.sh",
        &[
            "--arp",
            &u,
            "--peer",
            "10.10.100.4",
            "--device",
            "ens2f0.1000",
        ],
    );
    assert_eq!(
        sample_value(clean(&out), "rtmon_l2_arp_entry_present", &[]),
        Some(0.0)
    );
    // A regex metacharacter in the peer must not match other entries.
    let (_, out) = run("arp-peer.sh", &["--arp", &u, "--peer", "10.10.100.."]);
    assert_eq!(
        sample_value(clean(&out), "rtmon_l2_arp_entry_present", &[]),
        Some(0.0)
    );

    let (_, out) = run("ping-peer.sh", &["--ping", &u, "--peer", "10.10.100.2"]);
    assert_eq!(
        sample_value(clean(&out), "rtmon_l2_ping_peer_up", &[]),
        Some(1.0)
    );
    let (_, out) = run("ping-peer.sh", &["--ping", &u, "--peer", "10.10.100.3"]);
    assert_eq!(
        sample_value(clean(&out), "rtmon_l2_ping_peer_up", &[]),
        Some(0.0)
    );
    assert_eq!(
        sample_value(&out, "rtmon_l2_ping_peer_probed", &[]),
        Some(1.0)
    );
    let (_, out) = run("ping-peer.sh", &["--ping", &u, "--peer", "10.9.9.9"]);
    assert_eq!(
        sample_value(clean(&out), "rtmon_l2_ping_peer_probed", &[]),
        Some(0.0)
    );

    let (_, out) = run(
        "interface-up.sh",
        &["--node", &u, "--device", "ens2f0.1000"],
    );
    assert_eq!(
        sample_value(clean(&out), "rtmon_l2_interface_up", &[]),
        Some(1.0)
    );
    let (_, out) = run("interface-up.sh", &["--node", &u, "--device", "eth9"]);
    assert_eq!(
        sample_value(clean(&out), "rtmon_l2_interface_up", &[]),
        Some(0.0)
    );
    let sw = ["--snmp", u.as_str(), "--target", "172.16.1.1", "--port"];
    let (_, out) = run(
        "interface-up.sh",
        &[&sw[..], &["hundredGigE 1/27"]].concat(),
    );
    assert_eq!(
        sample_value(clean(&out), "rtmon_l2_switch_port_up", &[]),
        Some(1.0)
    );
    let (_, out) = run(
        "interface-up.sh",
        &[&sw[..], &["hundredGigE 1/31"]].concat(),
    );
    assert_eq!(
        sample_value(clean(&out), "rtmon_l2_switch_port_up", &[]),
        Some(0.0)
    );

    let fdb = |mac: &str, port: &str, vlan: &str| {
        let (rc, out) = run(
            "switch-fdb.sh",
            &[
                "--snmp",
                &u,
                "--target",
                "172.16.1.1",
                "--auth",
                "site_v2",
                "--mac",
                mac,
                "--port",
                port,
                "--vlan",
                vlan,
            ],
        );
        assert_eq!(rc, 0, "{out}");
        (
            sample_value(clean(&out), "rtmon_l2_fdb_learned", &[]),
            sample_value(&out, "rtmon_l2_fdb_seen", &[]),
        )
    };
    assert_eq!(
        fdb("02-00-00-00-00-01", "hundredGigE 1/27", "1000"),
        (Some(1.0), Some(1.0))
    );
    assert_eq!(
        fdb("02:00:00:00:00:01", "hundredGigE 1/31", "1000"),
        (Some(0.0), Some(1.0))
    );
    assert_eq!(
        fdb("02:00:00:00:00:01", "hundredGigE 1/27", "2000"),
        (Some(0.0), Some(1.0))
    );
    assert_eq!(
        fdb("02:00:00:00:00:09", "hundredGigE 1/27", "1000"),
        (Some(0.0), Some(0.0))
    );
    let paths = fake.paths.lock().expect("lock").clone();
    assert!(
        paths
            .iter()
            .any(|p| p == "/snmp?module=bridge_fdb&target=172.16.1.1&auth=site_v2"),
        "{paths:?}"
    );

    // Source down: source_up 0, exit 1, no check result. Bad usage: exit 2.
    let dead = format!("http://127.0.0.1:{}", free_port());
    let (rc, out) = run("ping-peer.sh", &["--ping", &dead, "--peer", "10.10.100.2"]);
    assert_eq!(rc, 1);
    assert_eq!(
        sample_value(clean(&out), "rtmon_l2_source_up", &[]),
        Some(0.0)
    );
    assert_eq!(sample_value(&out, "rtmon_l2_ping_peer_up", &[]), None);
    assert_eq!(run("ping-peer.sh", &["--ping"]).0, 2);
    assert_eq!(
        run(
            "switch-fdb.sh",
            &["--snmp", &u, "--target", "a&b", "--mac", "x", "--port", "p"]
        )
        .0,
        2
    );
}

#[test]
fn shipped_config_runs_the_checks_through_the_exporter() {
    if !available("l2 checks via exporter", &["curl", "awk"], false) {
        return;
    }
    let fake = FakeExporter::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let text = std::fs::read_to_string(scripts_dir().join("script.yml")).expect("script.yml");
    let mut text = text.replace("/opt/rtmon/l2-checks", &scripts_dir().display().to_string());
    for port in ["9100", "9105", "9107", "9116"] {
        text = text.replace(&format!("http://127.0.0.1:{port}"), &fake.url());
    }
    let cfg = dir.path().join("script.yml");
    std::fs::write(&cfg, text).expect("cfg");
    let addr = format!("127.0.0.1:{}", free_port());
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rtmon-script-exporter"));
    cmd.arg(format!("--web.listen-address={addr}"))
        .arg(format!("--config.file={}", cfg.display()));
    let _p =
        Proc::spawn("rtmon-script-exporter", cmd, Some(&dir.path().join("log"))).expect("spawn");
    assert!(wait_for_port(&addr, Duration::from_secs(10)));

    let get = |q: &str| http_get(&addr, q).expect("GET");
    let r = get("/probe?script=switch-fdb&target=172.16.1.1&mac=02-00-00-00-00-01&port=hundredGigE%201%2F27&vlan=1000");
    let b = r.text();
    assert_eq!(r.status, 200, "{b}");
    assert_eq!(
        sample_value(&b, "script_success", &[("script", "switch-fdb")]),
        Some(1.0),
        "{b}"
    );
    assert_eq!(
        sample_value(&b, "rtmon_l2_fdb_learned", &[("port", "hundredGigE 1/27")]),
        Some(1.0),
        "{b}"
    );
    let b = get("/probe?script=arp-peer&peer=10.10.100.2&device=ens2f0.1000").text();
    assert_eq!(
        sample_value(&b, "rtmon_l2_arp_entry_usable", &[]),
        Some(1.0),
        "{b}"
    );
    let b = get("/probe?script=interface-up&device=eth9").text();
    assert_eq!(
        sample_value(&b, "rtmon_l2_interface_up", &[("device", "eth9")]),
        Some(0.0),
        "{b}"
    );
    // Injection attempts are refused before anything runs.
    for q in [
        "/probe?script=arp-peer&peer=10.10.100.2%20--arp%20http://evil",
        "/probe?script=switch-fdb&target=172.16.1.1%26module%3Dx&mac=02:00:00:00:00:01&port=p",
        "/probe?script=ping-peer&peer=10.10.100.2&ping=http://evil",
    ] {
        assert_eq!(get(q).status, 400, "{q}");
    }
}
