//! Golden files for the example flows in config_flow/, plus the offline validity
//! checks every generated artefact must pass:
//! - each dashboard validates against Grafana's dashboard JSON schema
//!   (dashboards/schema/dashboard.schema.json, generated from npm @grafana/schema);
//! - every panel expression and every generated rule passes `promtool check rules`;
//! - panel ids and refIds are unique, gridPos fits the 24-column grid without overlaps,
//!   every datasource reference is the `${ds_prometheus}` variable.
//!
//! Regenerate the golden files after an intended change with
//! `RTMON_UPDATE_GOLDEN=1 cargo test -p rtmon-dashboards --test golden`.

use std::path::{Path, PathBuf};
use std::process::Command;

use rtmon_dashboards::{dashboard, rules, Options};
use serde_json::Value;

mod common;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn example_flows() -> Vec<(String, rtmon::flow::Flow)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("config_flow"))
        .expect("config_flow/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yml" || x == "yaml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 3,
        "expected the three example flows, got {files:?}"
    );
    let mut out = Vec::new();
    for f in files {
        let stem = f
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        for flow in rtmon::flow::load_file(&f).unwrap_or_else(|e| panic!("{e}")) {
            out.push((stem.clone(), flow));
        }
    }
    out
}

fn compare_golden(name: &str, got: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("RTMON_UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, got).expect("write golden");
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with RTMON_UPDATE_GOLDEN=1 to create)",
            path.display()
        )
    });
    if want != got {
        let line = want
            .lines()
            .zip(got.lines())
            .position(|(a, b)| a != b)
            .map(|i| i + 1)
            .unwrap_or(want.lines().count().min(got.lines().count()) + 1);
        panic!(
            "{} differs from the generated output at line {line} (RTMON_UPDATE_GOLDEN=1 regenerates after an intended change)",
            path.display()
        );
    }
}

#[test]
fn dashboards_and_rules_match_golden_files() {
    for (stem, flow) in example_flows() {
        for (mode, opts) in [("scrape", Options::default()), ("push", Options::push())] {
            let d = dashboard::build(&flow, &opts);
            let text = serde_json::to_string_pretty(&d).expect("json") + "\n";
            compare_golden(&format!("{stem}.{}.{mode}.json", flow.id), &text);
            let r = rules::render(std::slice::from_ref(&flow), &opts, "30s", "2m");
            compare_golden(&format!("{stem}.{}.{mode}.rules.yml", flow.id), &r);
        }
    }
}

#[test]
fn generation_is_deterministic() {
    for (_, flow) in example_flows() {
        let a = dashboard::build(&flow, &Options::default());
        let b = dashboard::build(&flow, &Options::default());
        assert_eq!(a, b);
        assert_eq!(a["uid"], dashboard::uid(&flow.id));
    }
}

fn all_panels(d: &Value) -> Vec<&Value> {
    d["panels"]
        .as_array()
        .map(|v| v.iter().collect())
        .unwrap_or_default()
}

#[test]
fn structure_ids_layout_and_datasources_are_sound() {
    for (_, flow) in example_flows() {
        let opts = Options {
            mermaid: true,
            ..Options::default()
        };
        let d = dashboard::build(&flow, &opts);
        let panels = all_panels(&d);
        let mut ids = std::collections::HashSet::new();
        let mut boxes = Vec::new();
        for p in &panels {
            assert!(
                ids.insert(p["id"].as_u64().expect("id")),
                "duplicate panel id {}",
                p["id"]
            );
            let g = &p["gridPos"];
            let (x, y, w, h) = (
                g["x"].as_u64().expect("x"),
                g["y"].as_u64().expect("y"),
                g["w"].as_u64().expect("w"),
                g["h"].as_u64().expect("h"),
            );
            assert!(x + w <= 24, "panel {} exceeds the grid", p["title"]);
            boxes.push((x, y, w, h, p["title"].clone()));
            if let Some(ds) = p.get("datasource") {
                assert_eq!(ds["uid"], "${ds_prometheus}");
            }
            let mut refs = std::collections::HashSet::new();
            for t in p["targets"].as_array().into_iter().flatten() {
                assert!(refs.insert(t["refId"].as_str().expect("refId").to_string()));
                assert_eq!(t["datasource"]["uid"], "${ds_prometheus}");
                let e = t["expr"].as_str().expect("expr");
                assert!(
                    !e.contains("* 8")
                        || !t["legendFormat"].as_str().unwrap_or("").contains("error"),
                    "errors must be packets/s, never ×8: {e}"
                );
            }
        }
        for (i, a) in boxes.iter().enumerate() {
            for b in &boxes[i + 1..] {
                let overlap =
                    a.0 < b.0 + b.2 && b.0 < a.0 + a.2 && a.1 < b.1 + b.3 && b.1 < a.1 + a.3;
                assert!(!overlap, "{} overlaps {}", a.4, b.4);
            }
        }
        // Every panel with queries has a minimum interval: the scrape interval of its
        // data (switch rows: the SNMP job's), so $__rate_interval spans several samples.
        let mut in_switch_row = false;
        for p in &panels {
            if p["type"] == "row" {
                in_switch_row = p["title"].as_str().unwrap_or("").starts_with("Switch ");
                continue;
            }
            if p.get("targets").is_some() {
                let title = p["title"].as_str().unwrap_or("");
                let want = if in_switch_row || title.starts_with("Throughput along the path") {
                    // Switch data, or points of both kinds: the slower SNMP interval.
                    &opts.snmp_interval
                } else if title == "Throughput" {
                    &opts.host_interval
                } else {
                    continue;
                };
                assert_eq!(p["interval"], want.as_str(), "{}", p["title"]);
            }
        }
        // Every switch port of the flow has a throughput query selecting it by ifName.
        let exprs: Vec<String> = dashboard::exprs(&d).into_iter().map(|(_, e)| e).collect();
        for sw in flow.switches() {
            for p in [&sw.in_port.port, &sw.out_port.port] {
                let needle = format!(
                    "ifHCInOctets{{{},ifName=\"{}\"}}",
                    rtmon_dashboards::checks::switch_matcher(&opts, &sw.target),
                    p
                );
                assert!(
                    exprs.iter().any(|e| e.contains(&needle)),
                    "no query for {needle}"
                );
            }
        }
    }
}

#[test]
fn dashboards_validate_against_grafana_schema() {
    let py = common::venv_python();
    if !rtmon_testkit::available("dashboards_validate_against_grafana_schema", &[&py], false) {
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let mut files = Vec::new();
    for (_, flow) in example_flows() {
        for (i, opts) in [
            Options::default(),
            Options::push(),
            Options {
                mermaid: true,
                ..Options::default()
            },
        ]
        .into_iter()
        .enumerate()
        {
            let p = dir.path().join(format!("{}-{i}.json", flow.id));
            std::fs::write(
                &p,
                serde_json::to_string(&dashboard::build(&flow, &opts)).expect("json"),
            )
            .expect("write");
            files.push(p);
        }
    }
    // A deliberately broken dashboard must fail, so the validator is known to bite.
    let bad = dir.path().join("broken.json");
    std::fs::write(
        &bad,
        r#"{"schemaVersion": 41, "panels": [{"type": "stat", "gridpos": {"x": 0}}]}"#,
    )
    .expect("write");
    let out = common::grafana_schema_check(&py, &files);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schema validation failed:\n{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(text.matches(": valid").count(), files.len(), "{text}");
    let out = common::grafana_schema_check(&py, &[bad]);
    assert!(
        !out.status.success(),
        "a dashboard with `gridpos` must be rejected"
    );
}

#[test]
fn every_expression_passes_promtool() {
    if !rtmon_testkit::available("every_expression_passes_promtool", &["promtool"], false) {
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let mut n_files = 0;
    for (_, flow) in example_flows() {
        for (mode, opts) in [("scrape", Options::default()), ("push", Options::push())] {
            // Panel expressions, wrapped as recording rules.
            let d = dashboard::build(&flow, &opts);
            let mut y = String::from("groups:\n  - name: panels\n    rules:\n");
            let all = dashboard::exprs(&d)
                .into_iter()
                .chain(dashboard::annotation_exprs(&d));
            for (i, (_, e)) in all.enumerate() {
                // Grafana's `$__rate_interval` and `$__interval`, as `check` fills them.
                let e = rtmon_dashboards::grafana::check::instantiate(&e, "5m");
                y.push_str(&format!(
                    "      - record: rtmon:panel_{i}\n        expr: {}\n",
                    serde_json::to_string(&e).expect("q")
                ));
            }
            let p = dir.path().join(format!("{}-{mode}-panels.yml", flow.id));
            std::fs::write(&p, y).expect("write");
            let r = dir.path().join(format!("{}-{mode}-rules.yml", flow.id));
            std::fs::write(
                &r,
                rules::render(std::slice::from_ref(&flow), &opts, "30s", "2m"),
            )
            .expect("write");
            for f in [p, r] {
                let out = Command::new("promtool")
                    .args(["check", "rules"])
                    .arg(&f)
                    .output()
                    .expect("promtool");
                let all = format!(
                    "{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
                assert!(
                    out.status.success() && all.contains("SUCCESS"),
                    "{}:\n{all}",
                    f.display()
                );
                n_files += 1;
            }
        }
    }
    assert!(n_files >= 12);
    // And promtool does reject a broken expression (the check can fail).
    let bad = dir.path().join("bad.yml");
    std::fs::write(
        &bad,
        "groups:\n  - name: x\n    rules:\n      - record: a:b\n        expr: \"rate(x[5m]\"\n",
    )
    .expect("write");
    let out = Command::new("promtool")
        .args(["check", "rules"])
        .arg(&bad)
        .output()
        .expect("promtool");
    assert!(!out.status.success());
}

/// `--node-job`/`--arp-job`/`--ping-job` rename the jobs in every generated query; an
/// empty one is refused.
#[test]
fn job_flags_rename_the_jobs_in_rules_and_dashboards() {
    let bin = env!("CARGO_BIN_EXE_rtmon-dashboards");
    let flow = root().join("config_flow/one-switch.yml");
    let dir = tempfile::tempdir().expect("temp dir");
    let rules = dir.path().join("rules.yml");
    let out = std::process::Command::new(bin)
        .args(["rules", "--node-job", "hosts", "--arp-job", "neigh"])
        .args(["--ping-job", "icmp", "--out"])
        .arg(&rules)
        .arg(&flow)
        .output()
        .expect("run rtmon-dashboards rules");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&rules).expect("rules written");
    // The rules file is YAML with double-quoted strings: one constant rule reads the
    // exporters' `up` of all three jobs, `job=~\"hosts|neigh|icmp\"`.
    assert!(
        text.contains("up{job=~\\\"hosts|neigh|icmp\\\"}"),
        "renamed jobs missing:\n{text}"
    );
    for job in ["node", "arp", "ping"] {
        assert!(
            !text.contains(&format!("job=~\\\"{job}|")),
            "default job {job} left:\n{text}"
        );
    }
    let gen = std::process::Command::new(bin)
        .args(["generate", "--node-job", " ", "--out"])
        .arg(dir.path().join("d"))
        .arg(&flow)
        .output()
        .expect("run rtmon-dashboards generate");
    assert_eq!(gen.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&gen.stderr).contains("--node-job must not be empty"),
        "{}",
        String::from_utf8_lossy(&gen.stderr)
    );
}

/// The generated Alertmanager config matches its golden file and passes
/// `amtool check-config` (and amtool does reject a broken one).
#[test]
fn alertmanager_config_passes_amtool() {
    let text = rtmon_dashboards::alertmanager::render(
        &rtmon_dashboards::alertmanager::AlertmanagerOptions {
            receiver: "rtmon".into(),
            webhook_url: Some("http://127.0.0.1:9999/hook".into()),
            group_wait: "30s".into(),
            group_interval: "5m".into(),
            repeat_interval: "4h".into(),
        },
    );
    compare_golden("alertmanager.yml", &text);
    if !rtmon_testkit::available("alertmanager_config_passes_amtool", &["amtool"], false) {
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let run = |body: &str| {
        let p = dir.path().join("am.yml");
        std::fs::write(&p, body).expect("write");
        Command::new("amtool")
            .arg("check-config")
            .arg(&p)
            .output()
            .expect("amtool")
    };
    let out = run(&text);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(" - 10 inhibit rules"));
    assert!(!run(&text.replace("equal: [", "equal: [[")).status.success());
}

/// The flow dashboard answers first: the path graph, the status and its cause and the
/// end-to-end numbers on top; hop tiles come from the per-hop status rule (severity
/// colours), never a product of checks; MTU is a byte count; every annotation can be
/// toggled; the links reach the fleet view and each host's dashboard.
#[test]
fn top_down_layout_units_annotations_and_links() {
    for mode_opts in [Options::default(), Options::push()] {
        for (_, flow) in example_flows() {
            let d = dashboard::build(&flow, &mode_opts);
            let panels = all_panels(&d);
            let at = |title: &str| {
                panels
                    .iter()
                    .find(|p| p["title"] == title)
                    .unwrap_or_else(|| panic!("no panel {title}"))
            };
            let y = |title: &str| at(title)["gridPos"]["y"].as_u64().expect("y");
            // The answer within the first screen (y < 18), in this order.
            assert_eq!(at("Path")["type"], "nodeGraph");
            for t in [
                "Path",
                "Flow status",
                "Checks, failing first",
                "Ping RTT",
                "Ping loss",
                "Throughput",
                "Path capacity",
                "Effective MTU",
                "Busiest link",
            ] {
                assert!(y(t) < 18, "{t} at y={}", y(t));
            }
            assert!(y("Path") < y("Ping RTT"));
            assert!(y("Throughput along the path (forward)") < y("Critical checks"));
            // The node graph's frames are picked by refId.
            let refs: Vec<&str> = at("Path")["targets"]
                .as_array()
                .expect("targets")
                .iter()
                .filter_map(|t| t["refId"].as_str())
                .collect();
            assert_eq!(refs, ["nodes", "edges"]);
            // One tile per hop, from rtmon:flow_hop:status, with the status mapping.
            for hop in flow.path.iter().map(rtmon::flow::Hop::name) {
                let tile = at(hop);
                let e = tile["targets"][0]["expr"].as_str().expect("expr");
                assert!(e.starts_with("rtmon:flow_hop:status{"), "{e}");
                let m = &tile["fieldConfig"]["defaults"]["mappings"][0]["options"];
                assert_eq!(m["1"]["color"], "orange");
                assert_eq!(m["2"]["color"], "red");
            }
            // Units: MTU never `bytes` (9216 must not read "9 KiB").
            for p in panels.iter().filter(|p| p["type"] != "row") {
                let t = p["title"].as_str().unwrap_or("");
                let unit = &p["fieldConfig"]["defaults"]["unit"];
                if t.contains("MTU") {
                    assert_eq!(unit, "suffix: bytes", "{t}");
                }
                if t.starts_with("Throughput") {
                    assert_eq!(unit, "bps", "{t}");
                }
                if t.contains("loss") || t.contains("utilisation") {
                    assert_eq!(unit, "percentunit", "{t}");
                }
            }
            // TCP retransmits is host-wide: in the end-to-end row, not a host row.
            let rows: Vec<(u64, &str)> = panels
                .iter()
                .filter(|p| p["type"] == "row")
                .map(|p| {
                    (
                        p["gridPos"]["y"].as_u64().unwrap_or(0),
                        p["title"].as_str().unwrap_or(""),
                    )
                })
                .collect();
            let row_of = |y: u64| rows.iter().rev().find(|r| r.0 < y).map(|r| r.1);
            assert_eq!(
                row_of(y("TCP retransmits")),
                Some("End to end: ping, TCP and ARP")
            );
            // Annotations: each toggleable, with a query.
            let anns = d["annotations"]["list"].as_array().expect("annotations");
            let names: Vec<&str> = anns.iter().filter_map(|a| a["name"].as_str()).collect();
            assert_eq!(
                names,
                [
                    "Annotations & Alerts",
                    "Switch port status changes",
                    "Host interface flaps",
                    "ARP/ND changes",
                    "Check failures",
                    "Check recoveries"
                ]
            );
            for a in &anns[1..] {
                assert_eq!(a["hide"], false, "{a}");
                assert_eq!(a["enable"], true, "{a}");
                assert!(a["expr"].as_str().is_some_and(|e| !e.is_empty()), "{a}");
            }
            // Links: the fleet view and every host's dashboard with var-instance.
            let links: Vec<&str> = d["links"]
                .as_array()
                .expect("links")
                .iter()
                .filter_map(|l| l["url"].as_str())
                .collect();
            assert!(links.contains(&"/d/rtmon-fleet"), "{links:?}");
            for h in flow.hosts() {
                assert!(
                    links
                        .iter()
                        .any(|l| l.ends_with(&format!("?var-instance={}", h.instance))),
                    "{links:?}"
                );
            }
        }
    }
    // Alerts link back to the flow's dashboard with a time range: the template reads the
    // uid from the flow's topology row `rtmon:flow:info{dashboard_uid}`.
    let (_, flow) = &example_flows()[0];
    let r = rules::render(std::slice::from_ref(flow), &Options::default(), "30s", "2m");
    assert!(r.contains(
        "dashboard_url: \"http://localhost:3000/d/{{ with printf \\\"rtmon:flow:info{flow=%q}\\\" (or $labels.flow \\\"\\\") | query }}{{ with first . }}{{ label \\\"dashboard_uid\\\" . }}{{ end }}{{ end }}?from=now-3h&to=now\""
    ), "{r}");
    assert!(r.contains(&format!("dashboard_uid: \"{}\"", dashboard::uid(&flow.id))));
}
