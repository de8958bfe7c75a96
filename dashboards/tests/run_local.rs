//! End-to-end test of `scripts/run-local.sh --check-and-exit`: the newcomer's one command
//! starts the whole suite on this machine for the bundled example flow
//! (`config_flow/one-switch.yml`, unchanged: two host namespaces with rtmon's node, arp and
//! ping exporters, an snmpsim switch behind rtmon-snmp-exporter, the script exporter,
//! Pushgateway and a real Prometheus evaluating the generated rules), writes the flow's
//! dashboard, rules and provisioning, runs `rtmon-dashboards check`, and stops everything.
//!
//! Asserts that the script exits 0, that every query of every panel of the dashboard it
//! generated was checked against Prometheus and returned data, that every layer-2 check is
//! healthy, and that no namespace or process of the run is left behind.
//! Needs root (namespaces), iproute2, Prometheus, snmpsim and the workspace's binaries
//! (`cargo build --workspace --bins` first; scripts/test.sh does).

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
    let snmpsim = rtmon_testkit::snmp::snmpsim_binary()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "snmpsim-command-responder".into());
    need.extend(
        [
            "prometheus",
            "prometheus-pushgateway",
            "ip",
            "curl",
            "python3",
            "bash",
        ]
        .map(String::from),
    );
    need.push(snmpsim);
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
    assert!(text.contains("(netns mode)"), "{text}");

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

    // It ran the bundled example flow itself, unchanged (as root: netns mode).
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config_flow/one-switch.yml");
    assert_eq!(
        std::fs::read_to_string(&flow).expect("flow.yml"),
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
    // The demo's hosts keep veth defaults (MTU 1500, 10 Gbit/s) on a simulated switch with
    // 9216-byte, 100 Gbit/s ports: the `mtu` and `speed` warnings say so, and nothing
    // else may be unhealthy.
    let unhealthy: Vec<&str> = text
        .lines()
        .filter(|l| l.trim_start().starts_with("UNHEALTHY"))
        .collect();
    for l in &unhealthy {
        assert!(
            l.contains("/mtu/") || l.contains("/speed/"),
            "unexpected unhealthy check: {l}\n{text}"
        );
    }
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
