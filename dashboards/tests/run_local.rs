//! End-to-end test of `scripts/run-local.sh --check-and-exit`: the newcomer's one command
//! starts the whole suite on this machine for the bundled example flow
//! (`config_flow/one-switch.yml`: two host namespaces with rtmon's node, arp and ping
//! exporters and lldpd, a live switch — a Linux bridge in a third namespace read by
//! net-snmp's snmpd through rtmon-snmp-exporter — the script exporter, Pushgateway,
//! Alertmanager and a real Prometheus evaluating the generated rules), writes the flow's
//! dashboard, rules and provisioning, runs `rtmon-dashboards check` and `status`, writes
//! the dashboard's preview, and stops everything.
//!
//! Asserts that the script exits 0, that every query of every panel of the dashboard it
//! generated was checked against Prometheus and returned data, that no check is unhealthy
//! and `status` says healthy, that the preview shows throughput at every counting point of
//! both directions and no loss beyond the flow's tolerance on any segment, and that no
//! namespace or process of the run is left behind.
//! Needs root (namespaces), iproute2, nftables, snmpd, lldpd, Prometheus, Alertmanager and
//! the workspace's binaries (`cargo build --workspace --bins` first; scripts/test.sh does).

use std::path::{Path, PathBuf};
use std::process::Command;

use rtmon_testkit::rig::RigBins;
use serde_json::Value;

/// Every `expr` of every panel (rows included) of a Grafana dashboard.
fn panel_exprs(dashboard: &Value) -> Vec<String> {
    fn walk(panels: &Value, out: &mut Vec<String>) {
        for p in panels.as_array().into_iter().flatten() {
            for t in p["targets"].as_array().into_iter().flatten() {
                if let Some(e) = t["expr"].as_str() {
                    out.push(e.to_string());
                }
            }
            walk(&p["panels"], out);
        }
    }
    let mut out = Vec::new();
    walk(&dashboard["panels"], &mut out);
    out
}

/// `1.48 Mbit/s` → 1.48e6, `0.12 %` → 0.0012, `-0.28 %` → -0.0028.
fn value(s: &str) -> Option<f64> {
    let (num, unit) = s.trim().split_once(' ').unwrap_or((s.trim(), ""));
    let v: f64 = num.parse().ok()?;
    let mul = match unit {
        "%" => 0.01,
        "bit/s" | "b/s" | "" => 1.0,
        u if u.starts_with('k') => 1e3,
        u if u.starts_with('M') => 1e6,
        u if u.starts_with('G') => 1e9,
        _ => return None,
    };
    Some(v * mul)
}

/// The (legend, shown value) pairs of the preview panel titled `title`.
fn preview_values(html: &str, title: &str) -> Vec<(String, String)> {
    let start = html
        .find(&format!("<div class=\"t\">{title} "))
        .unwrap_or_else(|| panic!("no panel {title:?} in the preview"));
    let panel = &html[start..];
    let panel = &panel[..panel[1..]
        .find("<div class=\"p\"")
        .map_or(panel.len(), |e| e + 1)];
    panel
        .split("<span class=\"l\">")
        .skip(1)
        .filter_map(|part| {
            let (legend, rest) = part.split_once("</span>")?;
            let v = rest.split_once("<b>")?.1.split_once("</b>")?.0;
            Some((legend.to_string(), v.to_string()))
        })
        .collect()
}

/// The flow dashboard's preview: throughput above zero at all four counting points of
/// each direction, and every segment's loss within the flow's 2 % tolerance (the
/// points are counted by different exporters at different instants: small skews
/// either way, no loss).
fn preview_shows_traffic_and_no_loss(preview: &Path) {
    let html = std::fs::read_to_string(preview).expect("preview.html");
    for dir in ["forward", "reverse"] {
        let points = preview_values(&html, &format!("Throughput along the path ({dir})"));
        assert_eq!(points.len(), 4, "{dir}: {points:?}");
        for (legend, v) in &points {
            let bps = value(v).unwrap_or_else(|| panic!("{legend}: {v:?} is not a rate"));
            assert!(
                bps > 100_000.0,
                "{dir} {legend}: {v} (the ping stream is ~1.5 Mbit/s)"
            );
        }
    }
    let loss = preview_values(&html, "Loss per segment");
    assert_eq!(loss.len(), 6, "{loss:?}");
    for (legend, v) in &loss {
        let r = value(v).unwrap_or_else(|| panic!("{legend}: {v:?} is not a share"));
        assert!(r.abs() < 0.02, "loss on {legend}: {v}");
    }
}

#[test]
fn preview_values_are_read_from_panels() {
    let html = "<div class=\"p\" style=\"\"><div class=\"t\">Loss per segment <span class=\"k\">ts</span></div><div class=\"v\"><span class=\"l\">forward: a → b</span> <b>0.12 %</b></div></div><div class=\"p\"><div class=\"t\">Other <span class=\"k\">x</span></div><div class=\"v\"><span class=\"l\">z</span> <b>9 %</b></div></div>";
    assert_eq!(
        preview_values(html, "Loss per segment"),
        vec![("forward: a → b".to_string(), "0.12 %".to_string())]
    );
    assert_eq!(value("1.48 Mbit/s"), Some(1.48e6));
    assert!((value("-0.28 %").unwrap_or(0.0) + 0.0028).abs() < 1e-12);
    assert_eq!(value("?"), None);
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/run-local.sh")
}

#[test]
fn run_local_check_and_exit_finds_data_for_every_panel_query() {
    let bins = RigBins::workspace();
    let mut need: Vec<String> = bins.all();
    need.push(
        rtmon_testkit::workspace_bin("rtmon-script-exporter")
            .display()
            .to_string(),
    );
    need.extend(
        [
            "prometheus",
            "prometheus-pushgateway",
            "prometheus-alertmanager",
            "ip",
            "nft",
            "snmpd",
            "lldpd",
            "lldpcli",
            "ping",
            "curl",
            "python3",
            "bash",
        ]
        .map(String::from),
    );
    let need_refs: Vec<&str> = need.iter().map(String::as_str).collect();
    if !rtmon_testkit::available(
        "run_local_check_and_exit_finds_data_for_every_panel_query",
        &need_refs,
        true,
    ) {
        return;
    }

    let bin_dir = bins
        .dashboards
        .parent()
        .expect("binary has a directory")
        .to_path_buf();
    let out = tempfile::tempdir().expect("temp dir");
    let mut cmd = Command::new("bash");
    cmd.arg(script())
        .arg("--check-and-exit")
        .arg("--bin-dir")
        .arg(&bin_dir)
        .arg("--out")
        .arg(out.path())
        .args(["--timeout", "120"]);
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start run-local.sh");
    let pid = child.id();
    let res = child.wait_with_output().expect("run-local.sh");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&res.stdout),
        String::from_utf8_lossy(&res.stderr)
    );
    assert_eq!(res.status.code(), Some(0), "run-local.sh failed:\n{text}");
    assert!(text.contains("(netns mode, scrape)"), "{text}");

    // Everything it started is gone: its namespaces, and its processes (by the flow file
    // path, which is unique to this run's output dir).
    let ns = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip netns list");
    let ns = String::from_utf8_lossy(&ns.stdout);
    assert!(
        !ns.contains(&format!("rtmon-local-{pid}-")),
        "namespaces left behind:\n{ns}"
    );
    let flow = out.path().join("flow.yml");
    let ps = Command::new("ps")
        .args(["-eo", "args"])
        .output()
        .expect("ps");
    let ps = String::from_utf8_lossy(&ps.stdout);
    let left: Vec<&str> = ps
        .lines()
        .filter(|l| {
            l.contains(&*flow.to_string_lossy()) || l.contains(&*out.path().to_string_lossy())
        })
        .collect();
    assert!(left.is_empty(), "processes left behind: {left:?}");

    // It ran the bundled example flow itself, plus the two lines its live switch needs
    // (the SNMP modules it answers, dedicated ports), each marked as run-local.sh's.
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config_flow/one-switch.yml");
    let ran = std::fs::read_to_string(&flow).expect("flow.yml");
    let added: Vec<&str> = ran
        .lines()
        .filter(|l| l.contains("# run-local.sh:"))
        .collect();
    assert_eq!(added.len(), 2, "{ran}");
    let rest: String = ran
        .lines()
        .filter(|l| !l.contains("# run-local.sh:"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(
        rest,
        std::fs::read_to_string(&example).expect("config_flow/one-switch.yml"),
        "run-local.sh did not run the bundled example flow"
    );
    assert!(text.contains("\nflow dtn-a-dtn-b-1000\n"), "{text}");
    // And wrote the dashboards of every bundled example (4 flows in 3 files) and the
    // fleet overview.
    let examples = std::fs::read_dir(out.path().join("examples/dashboards"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(examples, 4 + 1, "dashboards of config_flow/*.yml");

    // The generated artefacts.
    assert!(out.path().join("rtmon-rules.yml").is_file());
    assert!(out
        .path()
        .join("provisioning/kubernetes")
        .read_dir()
        .map(|mut d| d.next().is_some())
        .unwrap_or(false));
    let dashboards: Vec<PathBuf> = std::fs::read_dir(out.path().join("dashboards"))
        .expect("dashboards dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .filter(|p| !p.ends_with("rtmon-fleet.json"))
        .collect();
    assert_eq!(dashboards.len(), 1, "{dashboards:?}");
    assert!(out.path().join("dashboards/rtmon-fleet.json").is_file());
    let dashboard: Value =
        serde_json::from_str(&std::fs::read_to_string(&dashboards[0]).expect("read dashboard"))
            .expect("dashboard JSON");
    let exprs = panel_exprs(&dashboard);
    assert!(exprs.len() > 20, "too few panel queries: {}", exprs.len());

    // `check --verbose` printed one line per expression; every panel query is there, with data.
    let summary = text
        .lines()
        .find(|l| l.ends_with("unhealthy checks"))
        .unwrap_or_else(|| panic!("no check summary:\n{text}"));
    assert!(summary.contains(" 0 without data, "), "{summary}");
    // The live switch agrees with the hosts (MTU, speed, VLAN, FDB, LLDP): nothing is
    // unhealthy, and `status` says the flow is healthy.
    assert!(
        summary.ends_with(" 0 unhealthy checks"),
        "{summary}\n{text}"
    );
    assert!(
        !text
            .lines()
            .any(|l| l.trim_start().starts_with("UNHEALTHY")),
        "{text}"
    );
    assert!(
        text.contains("dtn-a-dtn-b-1000 (DTN A ↔ DTN B, VLAN 1000): healthy\n"),
        "status did not say healthy:\n{text}"
    );
    assert!(text.contains("[run-local] status: healthy"), "{text}");
    // Real neighbours, not "hears no LLDP": the switch and both hosts hear each other.
    for l in [
        "[run-local] LLDP: 198.51.100.16 ens2f0np0.1000 hears sw-a hundredGigE 1/27\n",
        "[run-local] LLDP: 198.51.100.15 ens2f0.1000 hears sw-a hundredGigE 1/31\n",
        "[run-local] LLDP: 192.0.2.1 hundredGigE 1/27 hears dtn-a ens2f0np0.1000\n",
        "[run-local] LLDP: 192.0.2.1 hundredGigE 1/31 hears dtn-b ens2f0.1000\n",
    ] {
        assert!(text.contains(l), "missing {l:?}:\n{text}");
    }
    preview_shows_traffic_and_no_loss(&out.path().join("preview.html"));
    let panel_lines: Vec<&str> = text
        .lines()
        .filter(|l| {
            l.trim_start()
                .split_once(' ')
                .is_some_and(|(_, r)| r.trim_start().starts_with("panel \""))
        })
        .collect();
    assert_eq!(
        panel_lines.len(),
        exprs.len(),
        "check did not report every panel query:\n{text}"
    );
    for l in &panel_lines {
        let state = l.split_whitespace().next().unwrap_or("");
        assert!(
            state == "ok" || state == "healthy",
            "query without data: {l}"
        );
    }
    for e in &exprs {
        let e = e.replace("$__rate_interval", "1m");
        assert!(
            panel_lines.iter().any(|l| l.ends_with(&format!(": {e}"))),
            "panel query not checked: {e}\n{text}"
        );
    }
    // And the flow's rule selectors, every one healthy.
    let rules = text
        .lines()
        .filter(|l| l.trim_start().starts_with("healthy   rule "))
        .count();
    assert!(
        rules >= 10,
        "too few healthy rule checks ({rules}):\n{text}"
    );
}
