//! End-to-end tests of rtmon-ping-exporter in network namespaces: the exporter runs in
//! namespace A, the peer is namespace B behind a veth pair; metrics are read with curl
//! from inside A. Needs root, iproute2 and curl (skips otherwise, fails under
//! RTMON_TEST_STRICT=1). Loss is injected with nftables (this kernel has no sch_netem);
//! delay with a user-space echo responder in B (kernel echo replies switched off there).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rtmon_testkit::netns::{veth, Netns};
use rtmon_testkit::{available, sample_value, wait_for, Proc};

const BIN: &str = env!("CARGO_BIN_EXE_rtmon-ping-exporter");
const PEER4: &str = "10.203.0.2";
const PEER6: &str = "fd00:203::2";
const LISTEN: &str = "127.0.0.1:9107";

/// Two namespaces joined by a veth pair, and the exporter running in `a`.
struct Rig {
    exporter: Option<Proc>,
    b: Netns,
    a: Netns,
    dir: tempfile::TempDir,
}

impl Rig {
    fn new(test: &str, extra_bins: &[&str]) -> Option<Rig> {
        let mut bins = vec!["ip", "curl"];
        bins.extend_from_slice(extra_bins);
        if !available(test, &bins, true) {
            return None;
        }
        let a = Netns::new().expect("netns a");
        let b = Netns::new().expect("netns b");
        veth(&a, "eth0", "10.203.0.1/24", &b, "eth0", "10.203.0.2/24").expect("veth");
        a.ip(&["addr", "add", "fd00:203::1/64", "dev", "eth0", "nodad"])
            .expect("v6 a");
        b.ip(&["addr", "add", "fd00:203::2/64", "dev", "eth0", "nodad"])
            .expect("v6 b");
        Some(Rig {
            exporter: None,
            b,
            a,
            dir: tempfile::tempdir().expect("tempdir"),
        })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Starts the exporter in `a` and waits until it answers.
    fn start(&mut self, args: &[&str]) {
        let mut cmd = self.a.command(BIN);
        cmd.arg(format!("--web.listen-address={LISTEN}")).args(args);
        let log = self.path("exporter.log");
        self.exporter = Some(Proc::spawn("exporter", cmd, Some(&log)).expect("spawn exporter"));
        let up = wait_for(Duration::from_secs(15), || self.get("/-/healthy").ok());
        assert!(up.is_some(), "exporter did not start:\n{}", self.log());
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.path("exporter.log")).unwrap_or_default()
    }

    /// GET from inside `a`; Err on a non-2xx status.
    fn get(&self, path: &str) -> std::io::Result<String> {
        let url = format!("http://{LISTEN}{path}");
        let out = self.a.run(&["curl", "-sSf", "--max-time", "10", &url])?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn metrics(&self) -> String {
        self.get("/metrics").expect("scrape")
    }

    fn value(&self, name: &str, target: &str) -> Option<f64> {
        sample_value(&self.metrics(), name, &[("target", target)])
    }

    /// Waits until `name{target}` satisfies `pred`; panics with the log otherwise.
    fn wait_value(&self, name: &str, target: &str, secs: u64, pred: impl Fn(f64) -> bool) -> f64 {
        wait_for(Duration::from_secs(secs), || {
            self.value(name, target).filter(|v| pred(*v))
        })
        .unwrap_or_else(|| {
            panic!(
                "{name}{{target={target:?}}} never satisfied the condition within {secs}s; last scrape:\n{}\nlog:\n{}",
                self.metrics(),
                self.log()
            )
        })
    }
}

#[test]
fn reachable_peer_is_up_and_link_down_flips_it_down() {
    let Some(mut rig) = Rig::new("reachable_peer_is_up_and_link_down_flips_it_down", &[]) else {
        return;
    };
    rig.start(&[
        "--ping.target",
        PEER4,
        "--ping.interval=100ms",
        "--ping.timeout=300ms",
        "--ping.down-after=3",
    ]);
    rig.wait_value("rtmon_ping_up", PEER4, 10, |v| v == 1.0);
    let rtt = rig.wait_value("rtmon_ping_last_rtt_seconds", PEER4, 5, |_| true);
    assert!(rtt > 0.0 && rtt < 0.05, "implausible veth RTT {rtt}");
    assert_eq!(rig.value("rtmon_ping_reply_ttl", PEER4), Some(64.0));
    assert_eq!(rig.value("rtmon_ping_down_seconds_total", PEER4), Some(0.0));
    let m = rig.metrics();
    assert!(
        sample_value(&m, "rtmon_ping_rtt_seconds_count", &[("target", PEER4)]).unwrap_or(0.0)
            >= 1.0
    );
    assert_eq!(
        sample_value(&m, "rtmon_ping_loss_ratio", &[("target", PEER4)]),
        Some(0.0)
    );

    // Take the peer's link down: within down-after × interval + timeout (0.6 s; we
    // allow 5 s) the target must be down, and the time down must keep growing.
    let t0 = Instant::now();
    rig.b
        .ip(&["link", "set", "eth0", "down"])
        .expect("link down");
    rig.wait_value("rtmon_ping_up", PEER4, 5, |v| v == 0.0);
    eprintln!("down detected after {:?}", t0.elapsed());
    let d1 = rig.wait_value("rtmon_ping_down_seconds_total", PEER4, 5, |v| v > 0.0);
    std::thread::sleep(Duration::from_millis(500));
    let d2 = rig
        .value("rtmon_ping_down_seconds_total", PEER4)
        .unwrap_or(0.0);
    assert!(d2 >= d1 + 0.4, "down seconds did not grow: {d1} -> {d2}");
    assert!(rig.value("rtmon_ping_loss_ratio", PEER4).unwrap_or(0.0) > 0.0);

    // Back up: up again, the down counter stops and keeps its total.
    rig.b.ip(&["link", "set", "eth0", "up"]).expect("link up");
    rig.wait_value("rtmon_ping_up", PEER4, 10, |v| v == 1.0);
    let d3 = rig
        .value("rtmon_ping_down_seconds_total", PEER4)
        .unwrap_or(0.0);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(rig.value("rtmon_ping_down_seconds_total", PEER4), Some(d3));
    assert!(d3 >= d2);
    assert!(
        rig.value("rtmon_ping_state_changes_total", PEER4)
            .unwrap_or(0.0)
            >= 3.0
    );

    // The whole exposition is promtool clean.
    if available("reachable_peer…promtool", &["promtool"], false) {
        let (code, msg) =
            rtmon_testkit::prom::promtool_check_metrics(&rig.metrics()).expect("promtool");
        assert_eq!(code, 0, "promtool check metrics: {msg}");
    }
}

/// The predecessor reported success for a peer that was down. A host that does not
/// exist must be reported down by the background prober and by /probe.
#[test]
fn a_real_failure_is_reported_as_down() {
    let Some(mut rig) = Rig::new("a_real_failure_is_reported_as_down", &[]) else {
        return;
    };
    let absent = "10.203.0.99";
    rig.start(&[
        "--ping.target",
        absent,
        "--ping.target",
        PEER4,
        "--ping.interval=100ms",
        "--ping.timeout=200ms",
    ]);
    rig.wait_value("rtmon_ping_up", PEER4, 10, |v| v == 1.0);
    let m = rig.metrics();
    assert_eq!(
        sample_value(&m, "rtmon_ping_up", &[("target", absent)]),
        Some(0.0),
        "{m}"
    );
    rig.wait_value("rtmon_ping_loss_ratio", absent, 5, |v| v == 1.0);
    assert_eq!(rig.value("rtmon_ping_replies_total", absent), Some(0.0));
    assert!(
        rig.value("rtmon_ping_requests_total", absent)
            .unwrap_or(0.0)
            >= 3.0
    );

    // One-shot probes: HTTP 200 with success 0 for the absent host, 1 for the peer.
    let p = rig
        .get(&format!("/probe?target={absent}&timeout=300ms"))
        .expect("probe absent");
    assert_eq!(
        sample_value(&p, "rtmon_ping_probe_success", &[]),
        Some(0.0),
        "{p}"
    );
    assert_eq!(
        sample_value(&p, "rtmon_ping_probe_replies", &[]),
        Some(0.0),
        "{p}"
    );
    let p = rig
        .get(&format!("/probe?target={PEER4}&count=3"))
        .expect("probe peer");
    assert_eq!(
        sample_value(&p, "rtmon_ping_probe_success", &[]),
        Some(1.0),
        "{p}"
    );
    assert_eq!(
        sample_value(&p, "rtmon_ping_probe_replies", &[]),
        Some(3.0),
        "{p}"
    );
    assert_eq!(
        sample_value(&p, "rtmon_ping_probe_reply_ttl", &[]),
        Some(64.0),
        "{p}"
    );
    let p = rig
        .get(&format!("/probe?target={PEER6}"))
        .expect("probe peer v6");
    assert_eq!(
        sample_value(&p, "rtmon_ping_probe_success", &[]),
        Some(1.0),
        "{p}"
    );
    assert_eq!(
        sample_value(&p, "rtmon_ping_probe_ip_protocol", &[]),
        Some(6.0),
        "{p}"
    );
    let p = rig
        .get("/probe?target=no-such-host.invalid")
        .expect("probe unresolvable");
    assert_eq!(
        sample_value(&p, "rtmon_ping_probe_success", &[]),
        Some(0.0),
        "{p}"
    );
    assert_eq!(
        sample_value(&p, "rtmon_ping_probe_ip_protocol", &[]),
        Some(0.0),
        "{p}"
    );

    // Bad requests: 400 with a one-line reason.
    for (q, why) in [
        ("/probe", "missing parameter `target`"),
        ("/probe?target=a%20b", "not a host name"),
        ("/probe?target=x&count=0", "parameter `count`"),
        ("/probe?target=x&timeout=soon", "parameter `timeout`"),
    ] {
        let out = rig
            .a
            .run(&[
                "curl",
                "-s",
                "-w",
                "\n%{http_code}",
                &format!("http://{LISTEN}{q}"),
            ])
            .expect("curl");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            text.ends_with("\n400") && text.contains(why),
            "{q}: {text:?}"
        );
    }
}

#[test]
fn ipv6_peer_is_probed_with_hop_limit() {
    let Some(mut rig) = Rig::new("ipv6_peer_is_probed_with_hop_limit", &[]) else {
        return;
    };
    rig.start(&[
        "--ping.target",
        PEER6,
        "--ping.interval=100ms",
        "--ping.ttl=7",
        "--ping.size=1000",
        "--ping.source=fd00:203::1",
    ]);
    rig.wait_value("rtmon_ping_up", PEER6, 10, |v| v == 1.0);
    let m = rig.metrics();
    assert!(
        m.contains("rtmon_ping_socket_info{family=\"ipv6\"")
            && m.contains("source=\"fd00:203::1\""),
        "{m}"
    );
    assert_eq!(rig.value("rtmon_ping_reply_ttl", PEER6), Some(64.0));
    let rtt = rig.wait_value("rtmon_ping_rtt_max_seconds", PEER6, 5, |_| true);
    assert!(rtt > 0.0 && rtt < 0.05, "implausible RTT {rtt}");
    rig.b
        .ip(&["link", "set", "eth0", "down"])
        .expect("link down");
    rig.wait_value("rtmon_ping_up", PEER6, 5, |v| v == 0.0);
}

#[test]
fn loss_injected_with_nftables_shows_in_loss_ratio() {
    let Some(mut rig) = Rig::new("loss_injected_with_nftables_shows_in_loss_ratio", &["nft"])
    else {
        return;
    };
    // Drop 30% of the peer's echo replies (sch_netem is not available in this kernel).
    for cmd in [
        vec!["nft", "add", "table", "inet", "loss"],
        vec![
            "nft",
            "add",
            "chain",
            "inet",
            "loss",
            "out",
            "{ type filter hook output priority 0; }",
        ],
        vec![
            "nft",
            "add",
            "rule",
            "inet",
            "loss",
            "out",
            "icmp",
            "type",
            "echo-reply",
            "numgen",
            "random",
            "mod",
            "100",
            "<",
            "30",
            "drop",
        ],
    ] {
        rig.b.run(&cmd).expect("nft");
    }
    rig.start(&[
        "--ping.target",
        PEER4,
        "--ping.interval=10ms",
        "--ping.timeout=200ms",
        "--ping.window=400",
        "--ping.down-after=10",
    ]);
    rig.wait_value("rtmon_ping_window_probes", PEER4, 30, |v| v >= 400.0);
    let loss = rig.value("rtmon_ping_loss_ratio", PEER4).unwrap_or(-1.0);
    // Binomial with n=400, p=0.3: sd 0.023, so ±0.1 is more than 4 sd.
    assert!(
        (loss - 0.3).abs() < 0.1,
        "loss ratio {loss}, expected about 0.3"
    );
    let m = rig.metrics();
    let req = sample_value(&m, "rtmon_ping_requests_total", &[("target", PEER4)]).unwrap_or(0.0);
    let rep = sample_value(&m, "rtmon_ping_replies_total", &[("target", PEER4)]).unwrap_or(0.0);
    assert!(
        req > 400.0 && (1.0 - rep / req - 0.3).abs() < 0.1,
        "requests {req} replies {rep}"
    );
    // With 30% loss and down-after 10 the target stays up.
    assert_eq!(
        sample_value(&m, "rtmon_ping_up", &[("target", PEER4)]),
        Some(1.0)
    );
}

/// Answers ICMP echo requests in namespace `ns` after `delay`, from a raw socket (the
/// namespace's kernel echo replies must be off), sending each reply `copies` times.
/// Stops when `stop` is set.
fn delay_responder(
    ns: &str,
    delay: Duration,
    copies: usize,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    use socket2::{Domain, Protocol, SockAddr, Socket, Type};
    use std::os::fd::AsRawFd;
    let path = format!("/run/netns/{ns}");
    std::thread::spawn(move || {
        let f = std::fs::File::open(&path).expect("open netns");
        // SAFETY: setns on this thread only, with a valid netns fd.
        let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
        let sock = Arc::new(
            Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::ICMPV4)).expect("raw socket"),
        );
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .expect("timeout");
        let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 2048];
        while !stop.load(Ordering::Relaxed) {
            let Ok((n, from)) = sock.recv_from(&mut buf) else {
                continue;
            };
            // SAFETY: recv_from initialised the first n bytes.
            let pkt: Vec<u8> = buf[..n]
                .iter()
                .map(|b| unsafe { b.assume_init() })
                .collect();
            let ihl = usize::from(pkt[0] & 0x0f) * 4;
            if pkt.len() < ihl + 8 || pkt[ihl] != 8 {
                continue;
            }
            let mut reply = pkt[ihl..].to_vec();
            reply[0] = 0;
            reply[2] = 0;
            reply[3] = 0;
            let mut sum: u32 = 0;
            for c in reply.chunks(2) {
                sum += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
            }
            while sum >> 16 != 0 {
                sum = (sum & 0xffff) + (sum >> 16);
            }
            reply[2..4].copy_from_slice(&(!(sum as u16)).to_be_bytes());
            let sock = sock.clone();
            let to: SockAddr = from.clone();
            std::thread::spawn(move || {
                std::thread::sleep(delay);
                for _ in 0..copies {
                    let _ = sock.send_to(&reply, &to);
                }
            });
        }
    })
}

#[test]
fn delay_shows_in_rtt() {
    let Some(mut rig) = Rig::new("delay_shows_in_rtt", &[]) else {
        return;
    };
    rig.b
        .run(&["sysctl", "-qw", "net.ipv4.icmp_echo_ignore_all=1"])
        .expect("sysctl");
    let stop = Arc::new(AtomicBool::new(false));
    let responder = delay_responder(&rig.b.name, Duration::from_millis(20), 2, stop.clone());
    rig.start(&[
        "--ping.target",
        PEER4,
        "--ping.interval=50ms",
        "--ping.timeout=500ms",
        "--ping.window=20",
    ]);
    rig.wait_value("rtmon_ping_window_probes", PEER4, 15, |v| v >= 20.0);
    let m = rig.metrics();
    let get = |n: &str| sample_value(&m, n, &[("target", PEER4)]).unwrap_or(-1.0);
    let (min, max, last) = (
        get("rtmon_ping_rtt_min_seconds"),
        get("rtmon_ping_rtt_max_seconds"),
        get("rtmon_ping_last_rtt_seconds"),
    );
    assert!(
        (0.019..0.040).contains(&min),
        "min RTT {min}, expected about 0.020"
    );
    assert!(max >= min && max < 0.5, "max RTT {max}");
    assert!(last >= 0.019, "last RTT {last}");
    // Histogram: nothing at or below 12.8 ms, everything by 51.2 ms… unless the
    // machine stalled; require most of it.
    let le = |b: &str| {
        sample_value(
            &m,
            "rtmon_ping_rtt_seconds_bucket",
            &[("target", PEER4), ("le", b)],
        )
        .unwrap_or(-1.0)
    };
    assert_eq!(le("0.0128"), 0.0, "{m}");
    let count =
        sample_value(&m, "rtmon_ping_rtt_seconds_count", &[("target", PEER4)]).unwrap_or(0.0);
    assert!(le("0.0512") >= 0.9 * count, "{m}");
    assert_eq!(get("rtmon_ping_loss_ratio"), 0.0);
    // The responder answers every request twice: one reply, one duplicate.
    let (rep, dup) = (
        get("rtmon_ping_replies_total"),
        get("rtmon_ping_duplicates_total"),
    );
    assert!(
        dup >= 1.0 && dup <= rep && dup >= rep - 3.0,
        "replies {rep}, duplicates {dup}"
    );
    eprintln!("delay 20 ms: min {min} max {max} last {last}");
    stop.store(true, Ordering::Relaxed);
    let _ = responder.join();
}

#[test]
fn sighup_reload_keeps_counters_of_unchanged_targets() {
    let Some(mut rig) = Rig::new("sighup_reload_keeps_counters_of_unchanged_targets", &[]) else {
        return;
    };
    let cfg = rig.path("targets.yml");
    std::fs::write(
        &cfg,
        format!("targets:\n  - hosts: [{PEER4}]\n    labels: {{site: b}}\n"),
    )
    .expect("write");
    let cfg_s = cfg.to_string_lossy().into_owned();
    rig.start(&["--config.file", &cfg_s, "--ping.interval=50ms"]);
    let before = rig.wait_value("rtmon_ping_requests_total", PEER4, 10, |v| v >= 10.0);
    assert_eq!(
        sample_value(
            &rig.metrics(),
            "rtmon_ping_up",
            &[("target", PEER4), ("site", "b")]
        ),
        Some(1.0)
    );
    std::fs::write(
        &cfg,
        format!(
            "targets:\n  - hosts: [{PEER4}]\n    labels: {{site: b}}\n  - hosts: ['{PEER6}']\n"
        ),
    )
    .expect("write");
    let pid = rig.exporter.as_ref().map(|p| p.pid()).unwrap_or(0);
    rig.exporter.as_ref().expect("running").signal(libc::SIGHUP);
    rig.wait_value("rtmon_ping_up", PEER6, 10, |v| v == 1.0);
    let after = rig.value("rtmon_ping_requests_total", PEER4).unwrap_or(0.0);
    assert!(
        after > before,
        "counter of unchanged target was reset: {before} -> {after}"
    );
    assert_eq!(
        rig.exporter.as_mut().and_then(|p| p.try_wait()),
        None,
        "exporter {pid} exited"
    );

    // A broken file keeps the old targets and says so.
    std::fs::write(&cfg, "targets:\n  - hosts: [a]\n    lables: {}\n").expect("write");
    rig.exporter.as_ref().expect("running").signal(libc::SIGHUP);
    wait_for(Duration::from_secs(10), || {
        (sample_value(
            &rig.metrics(),
            "rtmon_ping_config_last_reload_successful",
            &[],
        ) == Some(0.0))
        .then_some(())
    })
    .unwrap_or_else(|| panic!("reload failure not reported:\n{}", rig.log()));
    assert_eq!(rig.value("rtmon_ping_up", PEER6), Some(1.0));
    assert!(
        rig.log().contains("lables"),
        "log should name the bad key:\n{}",
        rig.log()
    );
}

#[test]
fn flow_file_pings_peers_over_data_plane_interface() {
    let Some(mut rig) = Rig::new("flow_file_pings_peers_over_data_plane_interface", &[]) else {
        return;
    };
    let flow = rig.path("flow.yml");
    std::fs::write(
        &flow,
        format!(
            "flow: ns-a-ns-b\ntitle: A to B\npath:\n  - host: host-a\n    interface: eth0\n    ip: 10.203.0.1\n  - host: host-b\n    interface: eth0\n    ip: {PEER4}\n"
        ),
    )
    .expect("write");
    let flow_s = flow.to_string_lossy().into_owned();
    rig.start(&[
        "--flow",
        &flow_s,
        "--host",
        "host-a",
        "--ping.interval=100ms",
    ]);
    rig.wait_value("rtmon_ping_up", PEER4, 10, |v| v == 1.0);
    let m = rig.metrics();
    assert_eq!(
        sample_value(
            &m,
            "rtmon_ping_up",
            &[("target", PEER4), ("flow", "ns-a-ns-b"), ("peer", "host-b")]
        ),
        Some(1.0),
        "{m}"
    );
    assert!(
        m.contains("rtmon_ping_socket_info{") && m.contains("interface=\"eth0\""),
        "{m}"
    );

    // An unknown host is a startup error that names it with --flow.host-absent=exit (exit
    // 2, as the arp exporter); the default idles (a DaemonSet pod outside the flow).
    let out = rig
        .a
        .command(BIN)
        .args([
            "--flow",
            &flow_s,
            "--host",
            "host-z",
            "--flow.host-absent=exit",
            "--web.listen-address=127.0.0.1:9108",
        ])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("host-z") && err.contains("host-a"), "{err}");
}

#[test]
fn socket_permissions_are_explained_and_ping_sockets_report_ttl() {
    let Some(mut rig) = Rig::new(
        "socket_permissions_are_explained_and_ping_sockets_report_ttl",
        &["setpriv"],
    ) else {
        return;
    };
    let nobody = ["--reuid=65534", "--regid=65534", "--clear-groups", BIN];
    // Range closed and no CAP_NET_RAW: a clear startup error naming both fixes.
    rig.a
        .run(&["sysctl", "-qw", "net.ipv4.ping_group_range=1 0"])
        .expect("sysctl");
    let out = rig
        .a
        .command("setpriv")
        .args(nobody)
        .args([
            "--ping.target",
            PEER4,
            "--web.listen-address=127.0.0.1:9108",
        ])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("net.ipv4.ping_group_range") && err.contains("CAP_NET_RAW"),
        "{err}"
    );
    // Range open: an unprivileged ping socket works, TTL comes from IP_RECVTTL.
    rig.a
        .run(&["sysctl", "-qw", "net.ipv4.ping_group_range=0 2147483647"])
        .expect("sysctl");
    let mut cmd = rig.a.command("setpriv");
    cmd.args(nobody).args([
        "--ping.target",
        PEER4,
        "--ping.target",
        PEER6,
        "--ping.interval=100ms",
        &format!("--web.listen-address={LISTEN}"),
    ]);
    let log = rig.path("exporter.log");
    rig.exporter = Some(Proc::spawn("exporter", cmd, Some(&log)).expect("spawn"));
    wait_for(Duration::from_secs(15), || rig.get("/-/healthy").ok()).expect("started");
    rig.wait_value("rtmon_ping_up", PEER4, 10, |v| v == 1.0);
    rig.wait_value("rtmon_ping_up", PEER6, 10, |v| v == 1.0);
    let m = rig.metrics();
    assert!(
        m.contains("type=\"dgram\"") && !m.contains("type=\"raw\""),
        "{m}"
    );
    assert_eq!(
        sample_value(&m, "rtmon_ping_reply_ttl", &[("target", PEER4)]),
        Some(64.0),
        "{m}"
    );
    assert_eq!(
        sample_value(&m, "rtmon_ping_reply_ttl", &[("target", PEER6)]),
        Some(64.0),
        "{m}"
    );
}

#[test]
fn push_mode_sends_status_change_to_pushgateway() {
    use rtmon_testkit::prom::PUSHGATEWAY_BIN;
    let Some(mut rig) = Rig::new(
        "push_mode_sends_status_change_to_pushgateway",
        &[PUSHGATEWAY_BIN],
    ) else {
        return;
    };
    // The Pushgateway runs inside namespace A too, so the exporter can reach it.
    let mut pgw_cmd = rig.a.command(PUSHGATEWAY_BIN);
    pgw_cmd.args(["--web.listen-address=127.0.0.1:9091"]);
    let pgw_log = rig.path("pgw.log");
    let _pgw = Proc::spawn("pushgateway", pgw_cmd, Some(&pgw_log)).expect("pushgateway");
    let pgw = |rig: &Rig| -> String {
        rig.a
            .run(&["curl", "-sf", "http://127.0.0.1:9091/metrics"])
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    };
    wait_for(Duration::from_secs(15), || {
        (!pgw(&rig).is_empty()).then_some(())
    })
    .expect("pushgateway up");
    // Heartbeat far away: only the push on change can deliver the flip in time.
    rig.start(&[
        "--ping.target",
        PEER4,
        "--ping.interval=100ms",
        "--ping.timeout=200ms",
        "--push.url=http://127.0.0.1:9091",
        "--push.on-change",
        "--push.interval=10m",
        "--push.grouping=instance=ns-a",
    ]);
    let up = |rig: &Rig| {
        sample_value(
            &pgw(rig),
            "rtmon_ping_up",
            &[
                ("target", PEER4),
                ("job", "rtmon_ping"),
                ("instance", "ns-a"),
            ],
        )
    };
    wait_for(Duration::from_secs(10), || up(&rig).filter(|v| *v == 1.0))
        .unwrap_or_else(|| panic!("up=1 never pushed:\n{}\n{}", pgw(&rig), rig.log()));
    rig.b
        .ip(&["link", "set", "eth0", "down"])
        .expect("link down");
    wait_for(Duration::from_secs(10), || up(&rig).filter(|v| *v == 0.0))
        .unwrap_or_else(|| panic!("up=0 never pushed:\n{}\n{}", pgw(&rig), rig.log()));
    let pushed = pgw(&rig);
    assert!(
        sample_value(
            &pushed,
            "rtmon_ping_down_seconds_total",
            &[("target", PEER4)]
        )
        .unwrap_or(-1.0)
            >= 0.0,
        "{pushed}"
    );
}

/// Probes with TTL 1 to addresses routed through B: B answers "time exceeded" for
/// every one (ICMP rate limiting switched off in B). Each error must be counted against
/// its target (ping socket: IP_RECVERR error queue; raw socket: the quoted request) and
/// the target must be down, while the direct peer stays up.
#[test]
fn icmp_errors_count_as_receive_errors() {
    let Some(mut rig) = Rig::new("icmp_errors_count_as_receive_errors", &[]) else {
        return;
    };
    rig.a
        .ip(&["route", "add", "10.204.0.0/24", "via", "10.203.0.2"])
        .expect("route v4");
    rig.a
        .ip(&["-6", "route", "add", "fd00:204::/64", "via", "fd00:203::2"])
        .expect("route v6");
    rig.b
        .ip(&["route", "add", "10.204.0.0/24", "via", "10.203.0.1"])
        .expect("route back v4");
    rig.b
        .ip(&["-6", "route", "add", "fd00:204::/64", "via", "fd00:203::1"])
        .expect("route back v6");
    rig.b
        .run(&[
            "sysctl",
            "-qw",
            "net.ipv4.ip_forward=1",
            "net.ipv6.conf.all.forwarding=1",
            "net.ipv4.icmp_ratelimit=0",
            "net.ipv6.icmp.ratelimit=0",
        ])
        .expect("sysctl");
    let (t4, t6) = ("10.204.0.9", "fd00:204::9");
    for mode in ["dgram", "raw"] {
        rig.exporter = None;
        rig.start(&[
            &format!("--ping.socket={mode}"),
            "--ping.target",
            t4,
            "--ping.target",
            t6,
            "--ping.target",
            PEER4,
            "--ping.interval=100ms",
            "--ping.ttl=1",
        ]);
        let m = rig.metrics();
        assert!(m.contains(&format!("type=\"{mode}\"")), "{mode}: {m}");
        rig.wait_value("rtmon_ping_receive_errors_total", t4, 10, |v| v >= 5.0);
        rig.wait_value("rtmon_ping_receive_errors_total", t6, 10, |v| v >= 5.0);
        rig.wait_value("rtmon_ping_up", t4, 10, |v| v == 0.0);
        rig.wait_value("rtmon_ping_up", t6, 10, |v| v == 0.0);
        rig.wait_value("rtmon_ping_up", PEER4, 10, |v| v == 1.0);
        assert_eq!(
            rig.value("rtmon_ping_receive_errors_total", PEER4),
            Some(0.0),
            "{mode}"
        );
    }
}
