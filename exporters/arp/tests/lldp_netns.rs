//! The LLDP listener of `rtmon-arp-exporter` against real LLDP speakers: Debian's
//! `lldpd` runs in "switch" network namespaces and announces itself over veth pairs to
//! a "host" namespace where the exporter listens. Needs root, iproute2, curl, lldpd
//! (and python3 for the hostile-frame test).

use std::path::Path;
use std::time::{Duration, Instant};

use rtmon_testkit::netns::{veth, Netns};
use rtmon_testkit::{available, sample_value, wait_for, Proc};

const BIN: &str = env!("CARGO_BIN_EXE_rtmon-arp-exporter");
const PORT: u16 = 9105;

fn curl(ns: &Netns, url: &str) -> Option<String> {
    let out = ns
        .command("curl")
        .args(["-sf", "--max-time", "5", url])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn scrape(ns: &Netns) -> Option<String> {
    curl(ns, &format!("http://127.0.0.1:{PORT}/metrics"))
}

fn start(ns: &Netns, dir: &Path, name: &str, args: &[&str]) -> Proc {
    let mut cmd = ns.command(BIN);
    cmd.arg(format!("--web.listen-address=127.0.0.1:{PORT}"))
        .arg("--log.level=debug")
        .arg("--arp.family=ipv4")
        .args(args);
    let log = dir.join(format!("{name}.log"));
    let p = Proc::spawn(name, cmd, Some(&log)).expect("spawn exporter");
    let up = wait_for(Duration::from_secs(10), || {
        scrape(ns).filter(|t| sample_value(t, "rtmon_lldp_listening", &[]) == Some(1.0))
    });
    assert!(
        up.is_some(),
        "exporter did not come up: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    p
}

/// Runs lldpd in `ns` on `iface`, calling itself `hostname`; TTL = tx-interval 1 s ×
/// `hold`. Port ids are interface names.
fn lldpd(ns: &Netns, dir: &Path, name: &str, iface: &str, hostname: &str, hold: u32) -> Proc {
    let conf = dir.join(format!("{name}.conf"));
    std::fs::write(
        &conf,
        format!(
            "configure system hostname {hostname}\nconfigure lldp tx-interval 1\nconfigure lldp tx-hold {hold}\nconfigure lldp portidsubtype ifname\nconfigure ports {iface} lldp portdescription \"{hostname} port {iface}\"\n"
        ),
    )
    .expect("conf");
    let mut cmd = ns.command("lldpd");
    cmd.arg("-d")
        .arg("-u")
        .arg(dir.join(format!("{name}.sock")))
        .arg("-O")
        .arg(&conf)
        .args(["-I", iface, "-L"])
        .arg(lldpcli());
    Proc::spawn(name, cmd, Some(&dir.join(format!("{name}.log")))).expect("spawn lldpd")
}

/// lldpd runs lldpcli by path to apply its configuration.
fn lldpcli() -> std::path::PathBuf {
    std::env::var_os("PATH")
        .and_then(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("lldpcli"))
                .find(|f| f.is_file())
        })
        .unwrap_or_else(|| "/usr/sbin/lldpcli".into())
}

/// Polls until `pred` holds; returns the exposition.
fn wait_metrics(ns: &Netns, timeout: Duration, what: &str, pred: impl Fn(&str) -> bool) -> String {
    let mut last = String::new();
    wait_for(timeout, || {
        let t = scrape(ns)?;
        if pred(&t) {
            Some(t)
        } else {
            last = t;
            None
        }
    })
    .unwrap_or_else(|| panic!("timed out ({timeout:?}) waiting for {what}; last scrape:\n{last}"))
}

fn neighbour(t: &str, labels: &[(&str, &str)]) -> bool {
    sample_value(t, "rtmon_lldp_neighbor_info", labels).is_some()
}

fn neighbours(t: &str) -> usize {
    t.lines()
        .filter(|l| l.starts_with("rtmon_lldp_neighbor_info{"))
        .count()
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

#[test]
fn lldpd_neighbour_appears_expires_and_follows_recabling() {
    if !available(
        "lldpd_neighbour_appears_expires_and_follows_recabling",
        &["ip", "curl", "lldpd", "lldpcli"],
        true,
    ) {
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    let h = Netns::new().expect("host");
    let s1 = Netns::new().expect("sw-a");
    veth(&h, "eth0", "10.212.0.2/24", &s1, "swp1", "10.212.0.1/24").expect("veth");
    let sw_mac = s1.mac("swp1").expect("mac");
    let _exp = start(&h, d, "exp", &["--lldp.interface=eth0"]);

    // 1. The neighbour appears with what lldpd announces.
    let mut sw_a = lldpd(&s1, d, "sw-a", "swp1", "sw-a", 3);
    let t = wait_metrics(&h, Duration::from_secs(8), "sw-a heard on eth0", |t| {
        neighbour(t, &[("interface", "eth0"), ("system_name", "sw-a")])
    });
    assert!(
        neighbour(
            &t,
            &[
                ("interface", "eth0"),
                ("chassis_id", &sw_mac),
                ("chassis_id_subtype", "macAddress"),
                ("port_id", "swp1"),
                ("port_id_subtype", "interfaceName"),
                ("port_desc", "sw-a port swp1"),
                ("system_name", "sw-a"),
                ("mgmt_address", "10.212.0.1"),
            ]
        ),
        "{t}"
    );
    assert_eq!(neighbours(&t), 1, "{t}");
    let ttl = sample_value(
        &t,
        "rtmon_lldp_neighbor_ttl_seconds",
        &[("port_id", "swp1")],
    )
    .expect("ttl");
    assert!((2.0..=5.0).contains(&ttl), "TTL from tx-hold 3: {ttl}");
    assert!(sample_value(&t, "rtmon_lldp_frames_total", &[("interface", "eth0")]) >= Some(1.0));
    assert_eq!(
        sample_value(
            &t,
            "rtmon_lldp_frame_errors_total",
            &[("interface", "eth0"), ("reason", "truncated")]
        ),
        Some(0.0)
    );
    // ARP metrics are still there next to the LLDP ones; the whole is valid.
    assert_eq!(sample_value(&t, "rtmon_arp_up", &[]), Some(1.0), "{t}");
    if available("promtool_clean", &["promtool"], false) {
        let (code, msg) = rtmon_testkit::prom::promtool_check_metrics(&t).expect("promtool");
        assert_eq!(code, 0, "promtool check metrics: {msg}\n{t}");
    }

    // 2. lldpd dies without a shutdown frame (SIGKILL to its whole process group: its
    // worker would send one): the neighbour goes when its TTL runs out, not before.
    // SAFETY: kill(2) of the process group the test spawned (pgid == pid).
    unsafe {
        libc::kill(-(sw_a.pid() as i32), libc::SIGKILL);
    }
    assert!(sw_a.wait_timeout(Duration::from_secs(5)).is_some());
    let mut last_seen = 0.0;
    let gone = wait_for(Duration::from_secs(10), || {
        let t = scrape(&h)?;
        if let Some(ls) = sample_value(
            &t,
            "rtmon_lldp_neighbor_last_seen_timestamp_seconds",
            &[("port_id", "swp1")],
        ) {
            last_seen = ls;
            None
        } else {
            Some(now())
        }
    })
    .expect("neighbour expired");
    assert!(last_seen > 0.0, "seen before expiry");
    assert!(
        gone >= last_seen + ttl - 0.1,
        "removed {:.2}s after the last frame, TTL {ttl}",
        gone - last_seen
    );
    drop(sw_a);

    // 3. A graceful stop sends a TTL-0 frame: removed at once, long before its TTL (30 s).
    let sw_a = lldpd(&s1, d, "sw-a2", "swp1", "sw-a", 30);
    wait_metrics(&h, Duration::from_secs(8), "sw-a back", |t| {
        neighbour(t, &[("system_name", "sw-a")])
    });
    let t0 = Instant::now();
    sw_a.signal(libc::SIGTERM);
    wait_metrics(&h, Duration::from_secs(5), "shutdown frame honoured", |t| {
        neighbours(t) == 0
    });
    assert!(t0.elapsed() < Duration::from_secs(10));
    drop(sw_a);

    // 4. The switch port goes down (carrier lost on eth0): sw-a (TTL 30 s) is forgotten
    // at once; it comes back with the port.
    let _sw_a = lldpd(&s1, d, "sw-a3", "swp1", "sw-a", 30);
    wait_metrics(&h, Duration::from_secs(8), "sw-a again", |t| {
        neighbour(t, &[("system_name", "sw-a")])
    });
    s1.ip(&["link", "set", "swp1", "down"]).expect("port down");
    wait_metrics(&h, Duration::from_secs(3), "carrier loss", |t| {
        neighbours(t) == 0
    });
    s1.ip(&["link", "set", "swp1", "up"]).expect("port up");
    wait_metrics(&h, Duration::from_secs(8), "sw-a after port up", |t| {
        neighbour(t, &[("system_name", "sw-a")])
    });

    // 5. Re-cabling: eth0 now goes to sw-b's swp9. sw-a's neighbour is forgotten with
    // the link and sw-b's appears on the same interface.
    let s2 = Netns::new().expect("sw-b");
    h.ip(&["link", "del", "eth0"]).expect("unplug");
    veth(&h, "eth0", "10.212.0.2/24", &s2, "swp9", "10.212.0.9/24").expect("replug");
    let _sw_b = lldpd(&s2, d, "sw-b", "swp9", "sw-b", 30);
    let t0 = Instant::now();
    let t = wait_metrics(&h, Duration::from_secs(10), "sw-b after re-cabling", |t| {
        neighbour(
            t,
            &[
                ("interface", "eth0"),
                ("system_name", "sw-b"),
                ("port_id", "swp9"),
            ],
        )
    });
    assert!(
        t0.elapsed() < Duration::from_secs(20),
        "well before sw-a's TTL"
    );
    assert!(
        !neighbour(&t, &[("system_name", "sw-a")]),
        "sw-a forgotten with the link: {t}"
    );
    assert_eq!(neighbours(&t), 1, "{t}");
    assert!(
        sample_value(
            &t,
            "rtmon_lldp_socket_errors_total",
            &[("interface", "eth0")]
        ) >= Some(1.0),
        "the unplug was seen: {t}"
    );
    assert_eq!(
        sample_value(&t, "rtmon_lldp_listening", &[("interface", "eth0")]),
        Some(1.0)
    );
}

#[test]
fn flow_upper_interface_listens_on_the_physical_port_and_skips_own_frames() {
    if !available(
        "flow_upper_interface_listens_on_the_physical_port_and_skips_own_frames",
        &["ip", "curl", "lldpd", "lldpcli"],
        true,
    ) {
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    let h = Netns::new().expect("host");
    let s = Netns::new().expect("switch");
    veth(&h, "eth0", "", &s, "swp3", "").expect("veth");
    // The flow's interface is an upper device of eth0. A VLAN subinterface would do the
    // same (its /sys/class/net/<if>/lower_eth0 link is followed alike: unit test
    // lldp_socket::vlan_and_bond_parents_are_followed), but CI kernels may lack 8021q;
    // a bridge with eth0 as its port is always there.
    h.ip(&["link", "add", "br1000", "type", "bridge"])
        .expect("bridge");
    h.ip(&["link", "set", "eth0", "master", "br1000"])
        .expect("enslave");
    h.ip(&["addr", "add", "10.213.0.2/24", "dev", "br1000"])
        .expect("addr");
    h.ip(&["link", "set", "br1000", "up"]).expect("up");
    let flow = d.join("flow.yml");
    std::fs::write(
        &flow,
        "flow: a-b-1000\ntitle: A to B\npath:\n  - host: dtn-a\n    interface: br1000\n    vlan: 1000\n  - switch: sw-a\n    target: 127.0.0.1\n    in: {port: swp3, vlan: 1000}\n    out: {port: swp4, vlan: 1000}\n  - host: dtn-b\n    interface: eth1\n",
    )
    .expect("flow");
    let flow_arg = format!("--flow={}", flow.display());
    let _exp = start(&h, d, "exp", &[&flow_arg, "--host=dtn-a"]);
    // The host runs its own lldpd too: its outgoing frames are not neighbours.
    let _own = lldpd(&h, d, "dtn-a", "eth0", "dtn-a", 4);
    let _sw = lldpd(&s, d, "sw", "swp3", "sw-a", 4);
    let t = wait_metrics(&h, Duration::from_secs(8), "sw-a on the parent eth0", |t| {
        neighbour(
            t,
            &[
                ("interface", "eth0"),
                ("system_name", "sw-a"),
                ("port_id", "swp3"),
                ("flow", "a-b-1000"),
            ],
        )
    });
    std::thread::sleep(Duration::from_millis(1500));
    let t = scrape(&h).unwrap_or(t);
    assert_eq!(neighbours(&t), 1, "own frames are not neighbours: {t}");
    assert!(!neighbour(&t, &[("system_name", "dtn-a")]), "{t}");
    assert!(
        !t.contains("interface=\"br1000\""),
        "the upper interface itself is not listened on: {t}"
    );
    assert_eq!(
        sample_value(&t, "rtmon_lldp_listening", &[("flow", "a-b-1000")]),
        Some(1.0)
    );

    // --lldp.disable: no LLDP series at all.
    let mut cmd = h.command(BIN);
    cmd.args([
        &flow_arg,
        "--host=dtn-a",
        "--lldp.disable",
        "--web.listen-address=127.0.0.1:9106",
    ]);
    let _off = Proc::spawn("off", cmd, Some(&d.join("off.log"))).expect("spawn");
    let t = wait_for(Duration::from_secs(10), || {
        curl(&h, "http://127.0.0.1:9106/metrics").filter(|t| t.contains("rtmon_arp_up"))
    })
    .expect("second exporter up");
    assert!(!t.contains("rtmon_lldp_"), "{t}");
}

#[test]
fn hostile_frames_on_the_wire_are_counted() {
    if !available(
        "hostile_frames_on_the_wire_are_counted",
        &["ip", "curl", "python3"],
        true,
    ) {
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let h = Netns::new().expect("host");
    let s = Netns::new().expect("peer");
    veth(&h, "eth0", "", &s, "swp1", "").expect("veth");
    let _exp = start(&h, dir.path(), "exp", &["--lldp.interface=eth0"]);
    // Truncated TLV, wrong order, bad TTL length, then one valid frame.
    let script = r#"
import socket
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("swp1", 0))
hdr = bytes.fromhex("0180c200000e02000000000188cc")
def tlv(t, v): return ((t << 9) | len(v)).to_bytes(2, "big") + v
good = tlv(1, b"\x07chassis-x") + tlv(2, b"\x07port-x") + tlv(3, b"\x00\x78") + tlv(5, b"peer-x") + tlv(0, b"")
for f in [hdr + good[:9] + b"\xff", hdr + tlv(2, b"\x07p") + tlv(1, b"\x07c"), hdr + tlv(1, b"\x07c") + tlv(2, b"\x07p") + tlv(3, b"\x01"), hdr + bytes(1500), hdr + good]:
    s.send(f)
"#;
    s.run(&["python3", "-c", script]).expect("send frames");
    let t = wait_metrics(&h, Duration::from_secs(5), "the valid frame", |t| {
        neighbour(t, &[("system_name", "peer-x"), ("chassis_id", "chassis-x")])
    });
    let err = |r: &str| {
        sample_value(
            &t,
            "rtmon_lldp_frame_errors_total",
            &[("interface", "eth0"), ("reason", r)],
        )
        .unwrap_or(f64::NAN)
    };
    assert_eq!(err("truncated"), 1.0, "{t}");
    assert_eq!(err("missing_mandatory_tlv"), 2.0, "{t}");
    assert_eq!(err("bad_tlv_length"), 1.0, "{t}");
    assert_eq!(
        sample_value(&t, "rtmon_lldp_frames_total", &[("interface", "eth0")]),
        Some(1.0)
    );

    // A flood: every frame is either read or counted as dropped by the kernel.
    let flood = r#"
import socket
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("swp1", 0))
def tlv(t, v): return ((t << 9) | len(v)).to_bytes(2, "big") + v
f = bytes.fromhex("0180c200000e02000000000188cc") + tlv(1, b"\x07chassis-x") + tlv(2, b"\x07port-x") + tlv(3, b"\x00\x78") + tlv(0, b"")
for _ in range(50000):
    s.send(f)
"#;
    s.run(&["python3", "-c", flood]).expect("flood");
    let t = wait_metrics(
        &h,
        Duration::from_secs(8),
        "all flood frames accounted",
        |t| {
            let read = sample_value(t, "rtmon_lldp_frames_total", &[("interface", "eth0")]);
            let dropped = sample_value(
                t,
                "rtmon_lldp_frames_dropped_total",
                &[("interface", "eth0")],
            );
            read.zip(dropped).is_some_and(|(r, d)| r + d == 50_001.0)
        },
    );
    assert_eq!(neighbours(&t), 1, "{t}");
}
