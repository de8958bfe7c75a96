//! Error reasons that say what happened: a closed port (ICMP port unreachable) is
//! `network` well before the deadline, and a port answering garbage is `decode` — not
//! `timeout` after the whole deadline.

use std::net::UdpSocket;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rtmon_testkit::{free_port, http, sample_value, wait_for_port, Proc};

struct Exporter {
    addr: String,
    _p: Proc,
    _dir: tempfile::TempDir,
}

fn exporter() -> Exporter {
    let dir = tempfile::tempdir().expect("tempdir");
    let addr = format!("127.0.0.1:{}", free_port());
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rtmon-snmp-exporter"));
    cmd.arg(format!("--web.listen-address={addr}"));
    let p = Proc::spawn("snmp", cmd, Some(&dir.path().join("log"))).expect("spawn");
    assert!(wait_for_port(&addr, Duration::from_secs(10)));
    Exporter {
        addr,
        _p: p,
        _dir: dir,
    }
}

fn scrape(e: &Exporter, target: &str) -> (String, Duration) {
    let t0 = std::time::Instant::now();
    let r = http(
        "GET",
        &e.addr,
        &format!("/snmp?target={target}&module=system"),
        &[("X-Prometheus-Scrape-Timeout-Seconds", "6")],
        b"",
    )
    .expect("scrape");
    assert_eq!(r.status, 200, "{}", r.text());
    (r.text(), t0.elapsed())
}

#[test]
fn closed_port_is_network_at_once() {
    let e = exporter();
    // A port nothing listens on: bound, then closed.
    let port = UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("udp")
        .port();
    let (b, took) = scrape(&e, &format!("127.0.0.1:{port}"));
    assert_eq!(sample_value(&b, "snmp_up", &[]), Some(0.0), "{b}");
    assert!(
        sample_value(&b, "snmp_errors_total", &[("reason", "network")]).is_some_and(|v| v >= 1.0),
        "{b}"
    );
    assert_eq!(
        sample_value(&b, "snmp_errors_total", &[("reason", "timeout")]),
        None,
        "{b}"
    );
    // Not the whole 5.5 s deadline (the probe starts after 200 ms).
    assert!(took < Duration::from_secs(4), "{took:?}");
}

#[test]
fn garbage_replies_are_decode_errors() {
    let sock = UdpSocket::bind("127.0.0.1:0").expect("udp");
    let port = sock.local_addr().expect("addr").port();
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    let stop = Arc::new(AtomicBool::new(false));
    let s2 = stop.clone();
    let server = std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while !s2.load(Ordering::Relaxed) {
            if let Ok((_, from)) = sock.recv_from(&mut buf) {
                let _ = sock.send_to(b"\xde\xad\xbe\xef not snmp at all", from);
            }
        }
    });
    let e = exporter();
    let (b, _) = scrape(&e, &format!("127.0.0.1:{port}"));
    stop.store(true, Ordering::Relaxed);
    let _ = server.join();
    assert_eq!(sample_value(&b, "snmp_up", &[]), Some(0.0), "{b}");
    assert!(
        sample_value(&b, "snmp_errors_total", &[("reason", "decode")]).is_some_and(|v| v >= 1.0),
        "{b}"
    );
}
