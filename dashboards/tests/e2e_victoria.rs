//! Prometheus and VictoriaMetrics side by side on the same scrapes (issue 30).
//!
//! The rig: a Linux bridge in its own network namespace (net-snmp's snmpd reads its
//! ports' real counters, rtmon-snmp-exporter in front) between two host namespaces
//! running rtmon's node, ARP and ping exporters — the loss rig of `e2e_loss.rs`.
//!
//! One vmagent scrapes everything once and remote-writes each sample, with
//! `site="rig"`, to both backends:
//!
//! ```text
//!  exporters ──scrape── vmagent ──remote write──┬─▶ Prometheus 2.42 (remote-write receiver)
//!                                               │     evaluates the generated rules
//!                                               └─▶ VictoriaMetrics ◀──▶ vmalert
//!                                                     (vmalert evaluates the same rules file,
//!                                                      writes results back)
//!  both send their alerts to one Alertmanager (label backend=prometheus|victoriametrics)
//! ```
//!
//! Healthy, then three faults — an exporter stopped, a switch port down, loss on a
//! segment inside the switch — and after each the test waits until the two backends
//! agree on `rtmon:flow_check:ok`, `rtmon:flow:status`, `rtmon:flow:cause` (label sets
//! and values), on the firing alerts (at each rule engine and at Alertmanager), and
//! until the fault is visible. A lasting difference fails the test. Healthy, both pass
//! `rtmon-dashboards check --require-healthy` (every dashboard query and rule selector
//! has data), `status` agrees, and `preview` renders the same tiles without errors.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use rtmon_testkit::bridge::{BridgeRig, BridgeSpec};
use rtmon_testkit::netns::Netns;
use rtmon_testkit::prom::{instant_query, PromConfig, Prometheus, Row, PROMETHEUS_BIN};
use rtmon_testkit::rig::RigBins;
use rtmon_testkit::vm::{
    firing_alerts, proc_usage, Alertmanager, VictoriaMetrics, VmAgent, VmAlert, VmAlertConfig,
    ALERTMANAGER_BIN, ALERTMANAGER_SINK, VMAGENT_BIN, VMALERT_BIN, VM_BIN,
};
use rtmon_testkit::{free_port, wait_for_port, Proc};
use serde_json::Value;

const DEADLINE: Duration = Duration::from_secs(120);
const FLOW: &str = "vm-e2e";
/// Queries that may have no data on either backend on this rig (found when the Grafana
/// rendering work, issue 29, met this test; open, deploy/README.md): the annotation's
/// outer subquery `[$__interval:60s]` is shorter than its step when `check` puts 20 s
/// for `$__interval`, so it holds a point only when a 60 s step falls in it; the loss
/// panel is gated on ≥ loss_min_pps upstream, which this rig's traffic does not always
/// reach. Left out of the comparison on both sides.
const RIG_MAY_HAVE_NO_DATA: &[&str] = &[
    "annotation \"Switch port status changes\"",
    "panel \"Loss per segment",
];
/// Labels a backend adds on its own and that say nothing about the flow.
const BACKEND_LABELS: [&str; 3] = ["backend", "alertgroup", "site"];

fn dashboards() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rtmon-dashboards"))
}

/// The two backends and what reads them.
struct Backends {
    prom: Prometheus,
    vm: VictoriaMetrics,
    vmalert: VmAlert,
    am: Alertmanager,
    agent: VmAgent,
    /// The rig's temp dir (exporter and snmpd logs, for failure messages).
    dir: std::path::PathBuf,
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().rev().take(15).collect();
    lines.into_iter().rev().collect::<Vec<_>>().join("\n")
}

type Normal = BTreeMap<BTreeMap<String, String>, f64>;

/// Rows with the backend's own labels removed, keyed by labels.
fn normal(rows: &[Row]) -> Normal {
    rows.iter()
        .map(|(l, v)| (strip(l), *v))
        .collect::<BTreeMap<_, _>>()
}

/// Labels without the backend's own, and without empty ones: to Prometheus an empty
/// label is no label, and it drops one a rule sets (`subject: ""` of `snmp_up`), while
/// vmalert 1.79 lists it in `/api/v1/alerts` (its notifications and its recorded series
/// in VictoriaMetrics lose it too).
fn strip(l: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    l.iter()
        .filter(|(k, v)| !BACKEND_LABELS.contains(&k.as_str()) && !v.is_empty())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The queries both backends must answer alike.
fn compared() -> [String; 3] {
    [
        format!("rtmon:flow_check:ok{{flow=\"{FLOW}\"}}"),
        format!("rtmon:flow:status{{flow=\"{FLOW}\"}}"),
        format!("rtmon:flow:cause{{flow=\"{FLOW}\"}}"),
    ]
}

/// Everything compared at one moment: the three rule series and the firing alerts of
/// each rule engine and, per backend, at Alertmanager.
#[derive(Clone, Debug, PartialEq)]
struct Snapshot {
    series: Vec<Normal>,
    firing: BTreeSet<BTreeMap<String, String>>,
    at_am: BTreeSet<BTreeMap<String, String>>,
}

fn snapshot(addr: &str, engine: &str, am: &Alertmanager, backend: &str) -> Option<Snapshot> {
    let mut series = Vec::new();
    for q in compared() {
        series.push(normal(&instant_query(addr, &q).ok()?));
    }
    let firing = firing_alerts(engine)
        .ok()?
        .iter()
        .map(strip)
        .collect::<BTreeSet<_>>();
    let at_am = am
        .alerts()
        .ok()?
        .iter()
        .filter(|a| a.get("backend").map(String::as_str) == Some(backend))
        .map(strip)
        .collect();
    Some(Snapshot {
        series,
        firing,
        at_am,
    })
}

fn value(n: &Normal, pairs: &[(&str, &str)]) -> Option<f64> {
    n.iter()
        .find(|(l, _)| {
            pairs
                .iter()
                .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|(_, v)| *v)
}

fn check_ok(s: &Snapshot, hop: &str, check: &str, subject: &str) -> Option<f64> {
    value(
        &s.series[0],
        &[("hop", hop), ("check", check), ("subject", subject)],
    )
}

fn flow_status(s: &Snapshot) -> Option<f64> {
    s.series[1].values().next().copied()
}

fn cause(s: &Snapshot) -> Option<String> {
    s.series[2]
        .keys()
        .next()
        .and_then(|l| l.get("cause").cloned())
}

fn alert_checks(s: &BTreeSet<BTreeMap<String, String>>) -> BTreeSet<String> {
    s.iter()
        .map(|a| {
            format!(
                "{}/{}/{}",
                a.get("hop").map(String::as_str).unwrap_or(""),
                a.get("check").map(String::as_str).unwrap_or(""),
                a.get("subject").map(String::as_str).unwrap_or("")
            )
        })
        .collect()
}

impl Backends {
    /// Waits until Prometheus' snapshot satisfies `want` (the fault is visible, its
    /// alerts fire and reached Alertmanager) and VictoriaMetrics + vmalert show the same
    /// snapshot. Returns it. Panics with both snapshots after [`DEADLINE`].
    fn agree(&self, step: &str, want: impl Fn(&Snapshot) -> bool) -> Snapshot {
        let end = Instant::now() + DEADLINE;
        loop {
            let p = snapshot(&self.prom.addr(), &self.prom.addr(), &self.am, "prometheus");
            let v = snapshot(
                &self.vm.addr(),
                &self.vmalert.addr(),
                &self.am,
                "victoriametrics",
            );
            if let (Some(p), Some(v)) = (&p, &v) {
                if want(p) && p.firing == p.at_am && p == v {
                    return v.clone();
                }
            }
            if Instant::now() >= end {
                panic!(
                    "{step}: Prometheus and VictoriaMetrics never agreed (or the fault never showed) within {DEADLINE:?}.\n--- Prometheus:\n{:#?}\n--- VictoriaMetrics + vmalert:\n{:#?}\n--- vmalert log:\n{}\n--- vmagent log:\n{}\n--- snmp exporter:\n{}\n--- snmpd:\n{}",
                    p,
                    v,
                    self.vmalert.log(),
                    self.agent.log(),
                    tail(&self.dir.join("snmp.log")),
                    tail(&self.dir.join("snmpd.log"))
                );
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

fn run(mut c: Command) -> (i32, String) {
    let out = c.output().expect("run rtmon-dashboards");
    let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
    s.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), s)
}

/// `status --output json` against `url`: (exit code, overall status, failing checks).
fn status(url: &str, flow: &Path) -> (i32, String, Vec<String>) {
    let out = dashboards()
        .args([
            "status",
            "--output",
            "json",
            "--check-window=20s",
            "--prometheus",
            url,
        ])
        .arg(flow)
        .output()
        .expect("status");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    let mut failing = Vec::new();
    for h in v["flows"][0]["hops"].as_array().into_iter().flatten() {
        for c in h["checks"].as_array().into_iter().flatten() {
            if c["healthy"] != true {
                failing.push(format!(
                    "{}/{}/{}",
                    h["hop"].as_str().unwrap_or("?"),
                    c["check"].as_str().unwrap_or("?"),
                    c["subject"].as_str().unwrap_or("?")
                ));
            }
        }
    }
    failing.sort();
    (
        out.status.code().unwrap_or(-1),
        v["status"].as_str().unwrap_or("").to_string(),
        failing,
    )
}

/// Spawns one of a host's exporters in its namespace.
fn spawn_exporter(ns: &Netns, bin: &Path, host: &str, addr: &str, flow: &Path, dir: &Path) -> Proc {
    let mut c = ns.command(bin);
    c.arg(format!("--web.listen-address={addr}"));
    if !bin.ends_with("rtmon-node-exporter") {
        c.arg(format!("--flow={}", flow.display()))
            .arg(format!("--host={host}"));
    }
    let name = format!("{host}-{}", addr.rsplit(':').next().unwrap_or("x"));
    Proc::spawn(&name, c, Some(&dir.join(format!("{name}.log")))).expect("exporter")
}

#[test]
fn prometheus_and_victoriametrics_agree_on_rules_and_alerts() {
    let bins = RigBins::workspace();
    let bin_paths = bins.all();
    let mut need: Vec<&str> = vec![
        PROMETHEUS_BIN,
        VM_BIN,
        VMAGENT_BIN,
        VMALERT_BIN,
        ALERTMANAGER_BIN,
        "ip",
        "nft",
        "snmpd",
        "ping",
    ];
    need.extend(
        bin_paths
            .iter()
            .map(String::as_str)
            .filter(|b| !b.contains("dashboards")),
    );
    if !rtmon_testkit::available(
        "prometheus_and_victoriametrics_agree_on_rules_and_alerts",
        &need,
        true,
    ) {
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    // Host A ── swa [br0 in namespace S] swb ── host B; management veths to the root.
    let rig = BridgeRig::start(
        dir.path(),
        &BridgeSpec {
            data_net: 235,
            mgmt_net: 236,
            link_prefix: "rtv",
            community: "vme2e",
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let (a, s, b, mgmt, target) = (&rig.a, &rig.s, &rig.b, &rig.mgmt, &rig.target);

    // The flow: dedicated ports, loss judged above 20 pps with 5 % tolerance.
    let flow = dir.path().join("flow.yml");
    std::fs::write(
        &flow,
        format!(
            "flow: {FLOW}\ndedicated_ports: true\nthresholds:\n  loss_tolerance: 0.05\n  loss_min_pps: 20\npath:\n  - host: va\n    instance: {}\n    interface: data0\n    ip: {}\n  - switch: vsw\n    target: \"{target}\"\n    auth: vme2e\n    modules: [if_mib]\n    in: {{port: swa}}\n    out: {{port: swb}}\n  - host: vb\n    instance: {}\n    interface: data0\n    ip: {}\n",
            mgmt[0], rig.data[0], mgmt[2], rig.data[1]
        ),
    )
    .expect("flow");

    // Exporters.
    let snmp_cfg = dir.path().join("snmp.yml");
    std::fs::write(&snmp_cfg, "auths:\n  vme2e:\n    community: vme2e\n").expect("snmp.yml");
    let snmp_exporter = format!("127.0.0.1:{}", free_port());
    let mut cmd = Command::new(&bins.snmp);
    cmd.arg(format!("--web.listen-address={snmp_exporter}"))
        .arg(format!("--config.file={}", snmp_cfg.display()));
    let _snmp = Proc::spawn("snmp", cmd, Some(&dir.path().join("snmp.log"))).expect("snmp");
    let hosts = [(a, "va", &mgmt[0]), (b, "vb", &mgmt[2])];
    let mut exporters: BTreeMap<String, Proc> = BTreeMap::new();
    let mut addrs = vec![snmp_exporter.clone()];
    for (ns, host, m) in hosts {
        for (bin, port) in [(&bins.node, 9100), (&bins.arp, 9105), (&bins.ping, 9107)] {
            let addr = format!("{m}:{port}");
            exporters.insert(
                addr.clone(),
                spawn_exporter(ns, bin, host, &addr, &flow, dir.path()),
            );
            addrs.push(addr);
        }
    }
    for a in &addrs {
        assert!(
            wait_for_port(a, Duration::from_secs(30)),
            "{a} not listening"
        );
    }

    // The generated rules (20 s check window, every second, alerts after 5 s).
    let rules_file = dir.path().join("rules.yml");
    let (code, out) = run({
        let mut c = dashboards();
        c.arg("rules").arg(&flow).args([
            "--eval-interval=1s",
            "--alert-for=5s",
            "--check-window=20s",
        ]);
        c.arg(format!("--out={}", rules_file.display()));
        c
    });
    assert_eq!(code, 0, "{out}");
    let rules = std::fs::read_to_string(&rules_file).expect("rules");

    // The backends.
    let am = Alertmanager::start(ALERTMANAGER_SINK).expect("alertmanager");
    let prom = Prometheus::start_with(PromConfig {
        scrape_configs: String::new(),
        rule_files: vec![rules.clone()],
        extra_args: vec![
            "--web.enable-remote-write-receiver".into(),
            "--log.level=debug".into(),
        ],
    })
    .expect("prometheus");
    let cfg = std::fs::read_to_string(prom.config_path()).expect("prometheus.yml");
    std::fs::write(
        prom.config_path(),
        format!(
            "{}\nalerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['{}']\n",
            cfg.replacen(
                "global:\n",
                "global:\n  external_labels: {backend: prometheus}\n",
                1
            ),
            am.addr()
        ),
    )
    .expect("prometheus.yml");
    prom.reload().expect("reload prometheus");
    let vm = VictoriaMetrics::start(&[]).expect("victoria-metrics");
    let vmalert = VmAlert::start(&VmAlertConfig {
        datasource: vm.url(),
        remote_write: vm.url(),
        notifiers: vec![am.url()],
        rule_files: vec![rules.clone()],
        external_labels: vec![("backend".into(), "victoriametrics".into())],
        extra_args: Vec::new(),
    })
    .expect("vmalert");

    // One vmagent scrapes the rig once and writes to both.
    let job = |name: &str, t: [&String; 2]| {
        format!(
            "  - job_name: '{name}'\n    static_configs:\n      - targets: ['{}', '{}']\n",
            t[0], t[1]
        )
    };
    let mut sc = job("node", [&addrs[1], &addrs[4]]);
    sc.push_str(&job("arp", [&addrs[2], &addrs[5]]));
    sc.push_str(&job("ping", [&addrs[3], &addrs[6]]));
    sc.push_str(&format!(
        "  - job_name: 'snmp'\n    scrape_interval: 2s\n    scrape_timeout: 2s\n    metrics_path: /snmp\n    params:\n      auth: ['vme2e']\n      module: ['if_mib']\n    static_configs:\n      - targets: ['{target}']\n    relabel_configs:\n      - source_labels: [__address__]\n        target_label: __param_target\n      - source_labels: [__param_target]\n        target_label: instance\n      - target_label: __address__\n        replacement: '{snmp_exporter}'\n"
    ));
    let agent = VmAgent::start(
        &sc,
        &[format!("{}/api/v1/write", prom.url()), vm.write_url()],
        &[("site", "rig")],
    )
    .expect("vmagent");
    let be = Backends {
        prom,
        vm,
        vmalert,
        am,
        agent,
        dir: dir.path().to_path_buf(),
    };
    // The site label arrives on both sides.
    for addr in [be.prom.addr(), be.vm.addr()] {
        rtmon_testkit::prom::wait_for_rows(
            &addr,
            "up{site=\"rig\"}",
            |r| r.len() == 7 && r.iter().all(|x| x.1 == 1.0),
            DEADLINE,
        )
        .expect("seven targets up, with site=rig");
    }

    // 0. Healthy: every check 1 on both but `fdb_learned` (net-snmp's snmpd has no
    // BRIDGE-MIB / Q-BRIDGE-MIB FDB: the rig's switch never shows the hosts' MACs), so
    // the flow is degraded by exactly those two warnings.
    let fdb =
        |l: &BTreeMap<String, String>| l.get("check").map(String::as_str) == Some("fdb_learned");
    let healthy = |s: &Snapshot| {
        flow_status(s) == Some(1.0)
            && s.series[0].len() > 15
            && s.series[0]
                .iter()
                .all(|(l, v)| *v == if fdb(l) { 0.0 } else { 1.0 })
            && s.series[0].keys().filter(|l| fdb(l)).count() == 2
            && s.firing.len() == 2
            && s.firing.iter().all(fdb)
    };
    let snap = be.agree("healthy", healthy);
    eprintln!("healthy: {} checks agree", snap.series[0].len());

    // status, check and preview against each backend's Prometheus API: the same
    // answers, and every dashboard query and rule selector has data on both but the
    // switch FDB's.
    let mut checked = Vec::new();
    for url in [be.prom.url(), be.vm.url()] {
        let (code, st, failing) = status(&url, &flow);
        assert_eq!((code, st.as_str()), (1, "degraded"), "{url}: {failing:?}");
        assert_eq!(
            failing,
            ["vsw/fdb_learned/va", "vsw/fdb_learned/vb"],
            "{url}"
        );
        // (The annotations compare with 30 s ago: they have data once the rules have
        // run that long.)
        let end = Instant::now() + DEADLINE;
        let lines = loop {
            let mut c = dashboards();
            c.arg("check").arg(&flow).args([
                "--prometheus",
                &url,
                "--rate-interval=20s",
                "--verbose",
            ]);
            let (_, text) = run(c);
            let lines: BTreeMap<String, String> = text
                .lines()
                .filter_map(|l| {
                    let rest = l.strip_prefix("  ")?;
                    let state = ["NO DATA", "UNHEALTHY", "healthy", "ok"]
                        .into_iter()
                        .find(|st| rest.starts_with(&format!("{st} ")))?;
                    Some((rest[state.len()..].trim().to_string(), state.to_string()))
                })
                .collect();
            let no_data: Vec<&String> = lines
                .iter()
                .filter(|(e, st)| *st == "NO DATA" && !e.contains("rtmon_snmp_fdb"))
                .filter(|(e, _)| !RIG_MAY_HAVE_NO_DATA.iter().any(|k| e.starts_with(k)))
                .map(|(e, _)| e)
                .collect();
            if lines.len() > 20 && no_data.is_empty() {
                break lines;
            }
            assert!(
                Instant::now() < end,
                "{url}: without data: {no_data:#?}\n{text}"
            );
            std::thread::sleep(Duration::from_secs(1));
        };
        checked.push(lines);
    }
    let known = |e: &String| RIG_MAY_HAVE_NO_DATA.iter().any(|k| e.starts_with(k));
    for (e, st) in &checked[1] {
        if known(e) && st == "NO DATA" {
            eprintln!("may have no data on this rig (both backends): NO DATA {e}");
        }
    }
    for c in checked.iter_mut() {
        c.retain(|e, _| !known(e));
    }
    assert_eq!(
        checked[0], checked[1],
        "check: prometheus vs victoriametrics"
    );
    let gen_dir = dir.path().join("dash");
    let (code, out) = run({
        let mut c = dashboards();
        c.arg("generate").arg(&flow).arg("--out").arg(&gen_dir);
        c
    });
    assert_eq!(code, 0, "{out}");
    // The flow dashboard: the same tiles and no-data tiles on both; the fleet overview:
    // no query error on either (`check` above found data for each of its queries on both).
    // (Polled: a tile over a short window can be empty on one side for a moment.)
    let end = Instant::now() + DEADLINE;
    loop {
        let mut tiles = Vec::new();
        for (name, url) in [("prom", be.prom.url()), ("vm", be.vm.url())] {
            for dash in [format!("rtmon-{FLOW}.json"), "rtmon-fleet.json".to_string()] {
                let html = dir.path().join(format!("preview-{name}-{dash}.html"));
                let (code, out) = run({
                    let mut c = dashboards();
                    c.arg("preview")
                        .arg("--dashboard")
                        .arg(gen_dir.join(&dash))
                        .args(["--prometheus", &url, "--rate-interval=20s", "--out"])
                        .arg(&html);
                    c
                });
                assert_eq!(code, 0, "preview of {dash} against {url}: {out}");
                let h = std::fs::read_to_string(&html).expect("preview html");
                assert_eq!(
                    h.matches("class=\"err\"").count(),
                    0,
                    "preview of {dash} against {url} has query errors: {h}"
                );
                if dash != "rtmon-fleet.json" {
                    // Each tile: its title, and whether it shows "no data".
                    let t: Vec<(String, bool)> = h
                        .split("<div class=\"p\"")
                        .skip(1)
                        .map(|tile| {
                            let title = tile
                                .split("class=\"t\">")
                                .nth(1)
                                .and_then(|x| x.split('<').next())
                                .unwrap_or("")
                                .trim()
                                .to_string();
                            (title, tile.contains("class=\"nodata\""))
                        })
                        .collect();
                    tiles.push(t);
                }
            }
        }
        assert!(tiles[0].len() > 10, "{tiles:?}");
        if tiles[0] == tiles[1] {
            break;
        }
        assert!(
            Instant::now() < end,
            "tiles (title, no data) of the flow dashboard differ: prom {:?}\nvm {:?}",
            tiles[0],
            tiles[1]
        );
        std::thread::sleep(Duration::from_secs(1));
    }

    // 1. An exporter stopped: host B's ping exporter.
    let ping_b = addrs[6].clone();
    exporters.remove(&ping_b);
    let snap = be.agree("exporter stopped", |s| {
        check_ok(s, "vb", "exporter_up", "ping") == Some(0.0)
            && flow_status(s) == Some(2.0)
            && cause(s).as_deref() == Some("vb ping exporter down")
            && alert_checks(&s.firing).contains("vb/exporter_up/ping")
    });
    eprintln!("exporter stopped: alerts {:?}", alert_checks(&snap.firing));
    exporters.insert(
        ping_b.clone(),
        spawn_exporter(b, &bins.ping, "vb", &ping_b, &flow, dir.path()),
    );
    assert!(wait_for_port(&ping_b, Duration::from_secs(30)));
    be.agree("healthy after the exporter is back", healthy);

    // 2. A switch port down: swb (towards host B).
    s.ip(&["link", "set", "swb", "down"]).expect("swb down");
    let snap = be.agree("port down", |s| {
        check_ok(s, "vsw", "port_oper_up", "swb") == Some(0.0)
            && check_ok(s, "vsw", "port_oper_up", "swa") == Some(1.0)
            && flow_status(s) == Some(2.0)
            && cause(s).is_some()
            && alert_checks(&s.firing).contains("vsw/port_oper_up/swb")
    });
    eprintln!(
        "port down: cause {:?}, alerts {:?}",
        cause(&snap),
        alert_checks(&snap.firing)
    );
    s.ip(&["link", "set", "swb", "up"]).expect("swb up");
    be.agree("healthy after the port is back", healthy);

    // 3. Loss on the segment inside the switch: nftables drops 20 % of what the bridge
    // forwards from swa to swb while a ping burst (A → B, 200/s) carries traffic.
    let nft = dir.path().join("drop.nft");
    std::fs::write(
        &nft,
        "table bridge rtmonvm {\n  chain flowdrop {\n    type filter hook forward priority 0;\n    iifname \"swa\" oifname \"swb\" numgen random mod 100 < 20 drop\n  }\n}\n",
    )
    .expect("nft file");
    let out = s.command("nft").arg("-f").arg(&nft).output().expect("nft");
    assert!(
        out.status.success(),
        "nft: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut burst = a.command("ping");
    burst.args(["-q", "-i", "0.005", "-c", "60000", "-s", "64", &rig.data[1]]);
    let _burst =
        Proc::spawn("burst", burst, Some(&dir.path().join("burst.log"))).expect("ping burst");
    let inside = "vsw swa rx → vsw swb tx";
    let snap = be.agree("loss on a segment", |s| {
        let seg: Vec<(&BTreeMap<String, String>, &f64)> = s.series[0]
            .iter()
            .filter(|(l, _)| l.get("check").map(String::as_str) == Some("loss_segment"))
            .collect();
        seg.len() == 6
            && seg.iter().all(|(l, v)| {
                let lossy = l.get("subject").map(String::as_str) == Some(inside);
                **v == if lossy { 0.0 } else { 1.0 }
            })
            && flow_status(s) == Some(1.0)
            && alert_checks(&s.firing)
                .iter()
                .any(|c| c.contains("/loss_segment/"))
    });
    eprintln!(
        "loss: cause {:?}, alerts {:?}",
        cause(&snap),
        alert_checks(&snap.firing)
    );
    // status names the same failing checks against both.
    let end = Instant::now() + DEADLINE;
    loop {
        let p = status(&be.prom.url(), &flow);
        let v = status(&be.vm.url(), &flow);
        if p == v && p.0 == 1 && p.2.iter().any(|c| c.contains("loss_segment")) {
            break;
        }
        assert!(
            Instant::now() < end,
            "status never agreed on the loss: prometheus {p:?}, victoriametrics {v:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }

    // The side-by-side cost of this run (informational; benchmarks report ratios).
    let usage = |pids: &[u32]| {
        pids.iter()
            .filter_map(|p| proc_usage(*p).ok())
            .fold((0.0, 0u64), |acc, x| (acc.0 + x.0, acc.1 + x.1))
    };
    let (pc, pr) = usage(&[be.prom.pid()]);
    let (vc, vr) = usage(&[be.vm.pid(), be.vmalert.pid()]);
    let series = |addr: &str| {
        instant_query(addr, "count({__name__!=\"\"})")
            .ok()
            .and_then(|r| r.first().map(|x| x.1))
            .unwrap_or(0.0)
    };
    eprintln!(
        "rig cost: prometheus cpu {pc:.2} s rss {} MiB, {} series; victoria-metrics+vmalert cpu {vc:.2} s rss {} MiB, {} series",
        pr >> 20,
        series(&be.prom.addr()),
        vr >> 20,
        series(&be.vm.addr())
    );
    let ooo: Vec<String> = be
        .prom
        .log()
        .lines()
        .filter(|l| l.contains("out of order") || l.contains("Out of order"))
        .take(5)
        .map(String::from)
        .collect();
    // Both got every sample: Prometheus rejected no block.
    assert!(
        ooo.is_empty(),
        "Prometheus rejected remote-written samples:\n{}\nvmagent:\n{}",
        ooo.join("\n"),
        be.agent.log()
    );
    drop(rig);
}
