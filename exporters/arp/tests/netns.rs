//! End-to-end tests of `rtmon-arp-exporter` in real network namespaces with veth pairs.
//! The exporter runs inside host A's namespace and is scraped with curl from inside it.
//! Needs root, iproute2, ping and curl (the push test also prometheus-pushgateway).

use std::path::Path;
use std::time::{Duration, Instant};

use rtmon_testkit::netns::{veth, Netns};
use rtmon_testkit::{available, sample_value, wait_for, Proc};

const BIN: &str = env!("CARGO_BIN_EXE_rtmon-arp-exporter");
const PORT: u16 = 9105;
const MAC_X: &str = "02:00:00:00:aa:01";

/// Host A (the exporter) and peer B on one veth pair, v4 and v6 addresses.
struct Pair {
    a: Netns,
    b: Netns,
}

fn pair() -> Pair {
    let a = Netns::new().expect("netns a");
    let b = Netns::new().expect("netns b");
    veth(&a, "eth0", "10.209.0.1/24", &b, "eth0", "10.209.0.2/24").expect("veth");
    a.ip(&["addr", "add", "fd00:209::1/64", "dev", "eth0", "nodad"])
        .expect("v6 a");
    b.ip(&["addr", "add", "fd00:209::2/64", "dev", "eth0", "nodad"])
        .expect("v6 b");
    Pair { a, b }
}

fn start(ns: &Netns, dir: &Path, name: &str, args: &[&str]) -> Proc {
    let mut cmd = ns.command(BIN);
    cmd.arg(format!("--web.listen-address=127.0.0.1:{PORT}"))
        .arg("--log.level=debug")
        .args(args);
    let log = dir.join(format!("{name}.log"));
    let p = Proc::spawn(name, cmd, Some(&log)).expect("spawn exporter");
    let up = wait_for(Duration::from_secs(10), || {
        scrape(ns).filter(|t| t.contains("rtmon_arp_last_sync_timestamp_seconds"))
    });
    assert!(
        up.is_some(),
        "exporter did not come up: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    p
}

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

fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    sample_value(text, name, labels).unwrap_or(f64::NAN)
}

/// Polls the exporter until `pred` holds; returns the exposition.
fn wait_metrics(ns: &Netns, timeout: Duration, what: &str, pred: impl Fn(&str) -> bool) -> String {
    let mut last = String::new();
    let got = wait_for(timeout, || {
        let t = scrape(ns)?;
        if pred(&t) {
            Some(t)
        } else {
            last = t;
            None
        }
    });
    got.unwrap_or_else(|| {
        panic!("timed out ({timeout:?}) waiting for {what}; last scrape:\n{last}")
    })
}

fn changes(t: &str, kind: &str) -> f64 {
    value(t, "rtmon_arp_changes_total", &[("kind", kind)])
}

fn stop(p: &mut Proc) {
    p.signal(libc::SIGTERM);
    assert!(
        p.wait_timeout(Duration::from_secs(10)).is_some(),
        "exporter did not stop on SIGTERM"
    );
}

#[test]
fn ping_mac_change_flip_flop_and_delete_are_seen_live() {
    if !available(
        "ping_mac_change_flip_flop_and_delete_are_seen_live",
        &["ip", "ping", "curl"],
        true,
    ) {
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let Pair { a, b } = pair();
    let mac_b = b.mac("eth0").expect("mac b");
    let _exp = start(&a, dir.path(), "arp", &["--arp.address=10.209.0.0/24"]);

    a.run(&["ping", "-c1", "-W2", "10.209.0.2"]).expect("ping");
    let t = wait_metrics(&a, Duration::from_secs(2), "the peer's entry", |t| {
        sample_value(
            t,
            "rtmon_arp_entry_info",
            &[("ip", "10.209.0.2"), ("mac", &mac_b), ("device", "eth0")],
        )
        .is_some()
    });
    assert_eq!(changes(&t, "new"), 1.0, "{t}");
    assert_eq!(changes(&t, "changed_mac"), 0.0);
    assert!(
        value(&t, "rtmon_arp_events_total", &[]) >= 1.0,
        "seen through events: {t}"
    );

    // The peer changes its MAC; its next ARP request updates our cache.
    let t0 = Instant::now();
    b.ip(&["link", "set", "eth0", "address", MAC_X])
        .expect("set mac");
    b.run(&["ping", "-c1", "-W2", "10.209.0.1"])
        .expect("ping back");
    let t = wait_metrics(&a, Duration::from_secs(1), "MAC change within 1 s", |t| {
        changes(t, "changed_mac") == 1.0
            && sample_value(
                t,
                "rtmon_arp_entry_info",
                &[("ip", "10.209.0.2"), ("mac", MAC_X)],
            )
            .is_some()
    });
    assert!(
        t0.elapsed() < Duration::from_secs(1),
        "took {:?}",
        t0.elapsed()
    );
    assert!(
        sample_value(&t, "rtmon_arp_entry_info", &[("mac", &mac_b)]).is_none(),
        "old MAC series must be gone: {t}"
    );
    assert!(
        value(
            &t,
            "rtmon_arp_last_change_timestamp_seconds",
            &[("kind", "changed_mac")]
        ) > 1.7e9
    );

    // Back to the previous MAC: a flip-flop.
    b.ip(&["link", "set", "eth0", "address", &mac_b])
        .expect("set mac back");
    b.run(&["ping", "-c1", "-W2", "10.209.0.1"])
        .expect("ping back");
    let t = wait_metrics(&a, Duration::from_secs(1), "flip-flop", |t| {
        changes(t, "flip_flop") == 1.0
    });
    assert_eq!(changes(&t, "changed_mac"), 1.0, "{t}");
    assert_eq!(changes(&t, "new"), 1.0, "{t}");

    // Deleting the entry counts as removed (once, although the kernel sends FAILED + DEL).
    a.ip(&["neigh", "del", "10.209.0.2", "dev", "eth0"])
        .expect("neigh del");
    let t = wait_metrics(&a, Duration::from_secs(1), "removal", |t| {
        changes(t, "removed") == 1.0
    });
    std::thread::sleep(Duration::from_millis(200));
    let t2 = scrape(&a).unwrap_or(t);
    assert_eq!(changes(&t2, "removed"), 1.0, "{t2}");
    assert!(
        sample_value(
            &t2,
            "rtmon_arp_entry_info",
            &[("ip", "10.209.0.2"), ("state", "reachable")]
        )
        .is_none(),
        "{t2}"
    );
    assert_eq!(value(&t2, "rtmon_arp_up", &[]), 1.0);

    if available("promtool_clean", &["promtool"], false) {
        let (code, msg) = rtmon_testkit::prom::promtool_check_metrics(&t2).expect("promtool");
        assert_eq!(code, 0, "promtool check metrics: {msg}\n{t2}");
    }
}

#[test]
fn ipv6_neighbours_appear() {
    if !available("ipv6_neighbours_appear", &["ip", "ping", "curl"], true) {
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let Pair { a, b } = pair();
    let mac_b = b.mac("eth0").expect("mac b");
    let _exp = start(&a, dir.path(), "arp6", &["--arp.family=ipv6"]);
    a.run(&["ping", "-6", "-c1", "-W2", "fd00:209::2"])
        .expect("ping6");
    let t = wait_metrics(&a, Duration::from_secs(2), "the IPv6 neighbour", |t| {
        sample_value(
            t,
            "rtmon_arp_entry_info",
            &[("ip", "fd00:209::2"), ("mac", &mac_b)],
        )
        .is_some()
    });
    assert!(
        sample_value(&t, "rtmon_arp_entry_info", &[("ip", "10.209.0.2")]).is_none(),
        "family filter: {t}"
    );
    assert!(
        !t.contains("ip=\"ff02:"),
        "NOARP multicast entries are skipped: {t}"
    );
}

#[test]
fn flow_option_watches_the_data_plane_interface_alone() {
    if !available(
        "flow_option_watches_the_data_plane_interface_alone",
        &["ip", "ping", "curl"],
        true,
    ) {
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    // Three hosts: A has a management link to M (eth0) and a data-plane link to B (dp0).
    let a = Netns::new().expect("a");
    let b = Netns::new().expect("b");
    let m = Netns::new().expect("m");
    veth(&a, "eth0", "10.210.0.1/24", &m, "eth0", "10.210.0.2/24").expect("veth a-m");
    veth(&a, "dp0", "10.211.0.1/24", &b, "dp0", "10.211.0.2/24").expect("veth a-b");
    let flow = dir.path().join("flow.yml");
    std::fs::write(
        &flow,
        "flow: a-b-dp\ntitle: A to B\npath:\n  - host: dtn-a\n    interface: dp0\n    ip: 10.211.0.1\n  - host: dtn-b\n    interface: dp0\n    ip: 10.211.0.2\n",
    )
    .expect("write flow");
    let flow_arg = format!("--flow={}", flow.display());
    let exp = start(&a, dir.path(), "flow", &[&flow_arg, "--host=dtn-a"]);
    a.run(&["ping", "-c1", "-W2", "10.210.0.2"])
        .expect("ping m");
    a.run(&["ping", "-c1", "-W2", "10.211.0.2"])
        .expect("ping b");
    let t = wait_metrics(
        &a,
        Duration::from_secs(2),
        "the data-plane neighbour",
        |t| {
            sample_value(
                t,
                "rtmon_arp_entry_info",
                &[("ip", "10.211.0.2"), ("device", "dp0"), ("flow", "a-b-dp")],
            )
            .is_some()
        },
    );
    assert!(
        sample_value(&t, "rtmon_arp_entry_info", &[("ip", "10.210.0.2")]).is_none(),
        "management neighbour filtered: {t}"
    );
    assert_eq!(
        value(&t, "rtmon_arp_up", &[("flow", "a-b-dp")]),
        1.0,
        "flow label on every series: {t}"
    );

    // The flow moves to the other interface: SIGHUP re-reads the flow file.
    std::fs::write(
        &flow,
        "flow: a-m\ntitle: A to M\npath:\n  - host: dtn-a\n    interface: eth0\n  - host: dtn-m\n    interface: eth0\n",
    )
    .expect("rewrite flow");
    exp.signal(libc::SIGHUP);
    let t = wait_metrics(&a, Duration::from_secs(5), "the reloaded filter", |t| {
        sample_value(
            t,
            "rtmon_arp_entry_info",
            &[("ip", "10.210.0.2"), ("flow", "a-m")],
        )
        .is_some()
    });
    assert!(
        sample_value(&t, "rtmon_arp_entry_info", &[("ip", "10.211.0.2")]).is_none(),
        "{t}"
    );
    assert_eq!(
        changes(&t, "removed"),
        0.0,
        "a filter change is not a removal: {t}"
    );

    // A flow file naming another host is a clear startup error with
    // --flow.host-absent=exit (the default idles: a DaemonSet pod outside the flow).
    let out = a
        .command(BIN)
        .args([
            &flow_arg,
            "--host=nobody",
            "--flow.host-absent=exit",
            "--web.listen-address=127.0.0.1:9999",
        ])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nobody") && err.contains("flow.yml"), "{err}");
}

#[test]
fn restart_with_state_file_and_corrupt_state_file() {
    if !available(
        "restart_with_state_file_and_corrupt_state_file",
        &["ip", "ping", "curl"],
        true,
    ) {
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let state = dir.path().join("arp-state.json");
    let state_arg = format!("--arp.state-file={}", state.display());
    let Pair { a, b } = pair();
    let mac_b = b.mac("eth0").expect("mac b");
    a.run(&["ping", "-c1", "-W2", "10.209.0.2"]).expect("ping");
    // Keep the entry alive across restarts.
    a.ip(&[
        "neigh",
        "replace",
        "10.209.0.2",
        "dev",
        "eth0",
        "lladdr",
        &mac_b,
        "nud",
        "permanent",
    ])
    .expect("pin entry");

    let mut p = start(&a, dir.path(), "first", &[&state_arg, "--arp.family=ipv4"]);
    let t = scrape(&a).expect("scrape");
    assert_eq!(
        changes(&t, "new"),
        1.0,
        "first start without state: the neighbour is new: {t}"
    );
    let first_new_ts = value(
        &t,
        "rtmon_arp_last_change_timestamp_seconds",
        &[("kind", "new")],
    );
    stop(&mut p);
    assert!(state.exists(), "state file written");

    let mut p = start(&a, dir.path(), "second", &[&state_arg, "--arp.family=ipv4"]);
    let t = scrape(&a).expect("scrape");
    assert!(
        sample_value(
            &t,
            "rtmon_arp_entry_info",
            &[("ip", "10.209.0.2"), ("mac", &mac_b)]
        )
        .is_some(),
        "{t}"
    );
    for kind in ["new", "changed_mac", "removed", "returned"] {
        assert_eq!(
            changes(&t, kind),
            0.0,
            "restart must not report {kind}: {t}"
        );
    }
    // (JSON keeps the time to within a microsecond: serde_json's default float parser)
    let kept = value(
        &t,
        "rtmon_arp_last_change_timestamp_seconds",
        &[("kind", "new")],
    );
    assert!(
        (kept - first_new_ts).abs() < 1e-3,
        "last change time kept across restarts: {kept} vs {first_new_ts}"
    );
    assert_eq!(
        value(&t, "rtmon_arp_state_file_errors_total", &[("op", "load")]),
        0.0
    );
    stop(&mut p);

    // A corrupt state file is reported, moved aside and replaced; the exporter runs on.
    std::fs::write(&state, b"{\"version\":1,\"entries\":[[{\"dev").expect("corrupt");
    let _p = start(&a, dir.path(), "third", &[&state_arg, "--arp.family=ipv4"]);
    let t = scrape(&a).expect("scrape");
    assert_eq!(
        value(&t, "rtmon_arp_state_file_errors_total", &[("op", "load")]),
        1.0,
        "{t}"
    );
    assert_eq!(value(&t, "rtmon_arp_up", &[]), 1.0);
    assert_eq!(
        changes(&t, "new"),
        1.0,
        "history lost with the corrupt file: {t}"
    );
    assert!(dir.path().join("arp-state.json.corrupt").exists());
    let fresh = wait_for(Duration::from_secs(5), || {
        let s = std::fs::read(&state).ok()?;
        rtmon_arp::statefile::parse(&s).ok()
    });
    assert!(
        fresh.is_some_and(|s| s.entries.len() == 1),
        "state file replaced by a valid one"
    );
}

#[test]
fn max_entries_bounds_info_series_and_counts_drops() {
    if !available(
        "max_entries_bounds_info_series_and_counts_drops",
        &["ip", "ping", "curl"],
        true,
    ) {
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let Pair { a, b: _b } = pair();
    let _exp = start(
        &a,
        dir.path(),
        "max",
        &[
            "--arp.max-entries=1",
            "--arp.address=10.209.0.0/24",
            "--arp.address=fd00:209::/64",
        ],
    );
    a.run(&["ping", "-c1", "-W2", "10.209.0.2"]).expect("ping");
    a.run(&["ping", "-6", "-c1", "-W2", "fd00:209::2"])
        .expect("ping6");
    let t = wait_metrics(&a, Duration::from_secs(3), "one dropped entry", |t| {
        value(t, "rtmon_arp_entries_dropped_total", &[]) == 1.0
    });
    let infos = t
        .lines()
        .filter(|l| l.starts_with("rtmon_arp_entry_info{"))
        .count();
    assert_eq!(infos, 1, "{t}");
    let total: f64 = t
        .lines()
        .filter(|l| l.starts_with("rtmon_arp_entries{"))
        .filter_map(|l| l.rsplit_once(' ').and_then(|(_, v)| v.parse::<f64>().ok()))
        .sum();
    assert_eq!(total, 2.0, "entry counts include the dropped entry: {t}");
}

#[test]
fn proc_fallback_mode() {
    if !available("proc_fallback_mode", &["ip", "ping", "curl"], true) {
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let Pair { a, b } = pair();
    let mac_b = b.mac("eth0").expect("mac b");
    let _exp = start(
        &a,
        dir.path(),
        "proc",
        &["--arp.source=proc", "--arp.poll-interval=200ms"],
    );
    a.run(&["ping", "-c1", "-W2", "10.209.0.2"]).expect("ping");
    let t = wait_metrics(
        &a,
        Duration::from_secs(3),
        "the entry via /proc/net/arp",
        |t| {
            sample_value(
                t,
                "rtmon_arp_entry_info",
                &[("ip", "10.209.0.2"), ("mac", &mac_b), ("state", "complete")],
            )
            .is_some()
        },
    );
    assert_eq!(
        value(&t, "rtmon_arp_events_total", &[]),
        0.0,
        "no events in proc mode"
    );
    assert_eq!(changes(&t, "new"), 1.0);
}

#[test]
fn push_mode_replaces_the_group_atomically() {
    if !available(
        "push_mode_replaces_the_group_atomically",
        &["ip", "ping", "curl", "prometheus-pushgateway"],
        true,
    ) {
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let Pair { a, b } = pair();
    let mac_b = b.mac("eth0").expect("mac b");
    // The gateway runs inside A's namespace, next to the exporter.
    let mut cmd = a.command("prometheus-pushgateway");
    cmd.args(["--web.listen-address=127.0.0.1:9091", "--persistence.file="]);
    let _pgw = Proc::spawn("pushgateway", cmd, Some(&dir.path().join("pgw.log"))).expect("pgw");
    assert!(
        wait_for(Duration::from_secs(10), || curl(
            &a,
            "http://127.0.0.1:9091/-/ready"
        ))
        .is_some(),
        "pushgateway not ready"
    );
    let pgw = || curl(&a, "http://127.0.0.1:9091/metrics").unwrap_or_default();

    let _exp = start(
        &a,
        dir.path(),
        "push",
        &[
            "--push.url=http://127.0.0.1:9091",
            "--push.grouping=instance=dtn-a",
            "--push.interval=60s",
            "--arp.family=ipv4",
        ],
    );
    a.run(&["ping", "-c1", "-W2", "10.209.0.2"]).expect("ping");
    let has = |t: &str, mac: &str| {
        sample_value(
            t,
            "rtmon_arp_entry_info",
            &[
                ("job", "rtmon_arp"),
                ("instance", "dtn-a"),
                ("ip", "10.209.0.2"),
                ("mac", mac),
            ],
        )
        .is_some()
    };
    let t = wait_for(Duration::from_secs(3), || {
        Some(pgw()).filter(|t| has(t, &mac_b))
    });
    assert!(t.is_some(), "entry pushed on change: {}", pgw());

    b.ip(&["link", "set", "eth0", "address", MAC_X])
        .expect("set mac");
    b.run(&["ping", "-c1", "-W2", "10.209.0.1"])
        .expect("ping back");
    let t = wait_for(Duration::from_secs(2), || {
        Some(pgw()).filter(|t| has(t, MAC_X))
    })
    .unwrap_or_else(|| panic!("new MAC pushed: {}", pgw()));
    assert!(!has(&t, &mac_b), "no series of the old entry survives: {t}");
    assert_eq!(
        value(
            &t,
            "rtmon_arp_changes_total",
            &[("kind", "changed_mac"), ("instance", "dtn-a")]
        ),
        1.0,
        "{t}"
    );
    // One group only (no per-entry groups): every push_time_seconds series is ours.
    let groups: Vec<&str> = t
        .lines()
        .filter(|l| l.starts_with("push_time_seconds{"))
        .collect();
    assert_eq!(groups.len(), 1, "{groups:?}");
    assert!(
        groups[0].contains("instance=\"dtn-a\"") && groups[0].contains("job=\"rtmon_arp\""),
        "{groups:?}"
    );

    a.ip(&["neigh", "del", "10.209.0.2", "dev", "eth0"])
        .expect("neigh del");
    let t = wait_for(Duration::from_secs(2), || {
        Some(pgw())
            .filter(|t| sample_value(t, "rtmon_arp_entry_info", &[("ip", "10.209.0.2")]).is_none())
    });
    assert!(
        t.is_some(),
        "removed entry gone from the gateway: {}",
        pgw()
    );
}
