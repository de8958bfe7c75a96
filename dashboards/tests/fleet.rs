//! The fleet overview dashboard (`rtmon-fleet`):
//! - golden file (tests/golden/fleet.json), the same in push mode, structurally sound,
//!   valid against Grafana's dashboard schema, every query and the fleet rules of the
//!   example flows pass `promtool`;
//! - `generate` writes it beside the flow dashboards, `provision` includes it, a flow
//!   whose dashboard would take its uid is refused;
//! - on a real rig (rtmon exporters, snmpsim switch, Prometheus evaluating the rules of
//!   the rig's flow and of the three example flows in config_flow/), its queries give
//!   one row per flow with the status, cause and link of each, and follow a port going
//!   down.
//!
//! Regenerate the golden file after an intended change with
//! `RTMON_UPDATE_GOLDEN=1 cargo test -p rtmon-dashboards --test fleet`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use rtmon_dashboards::{checks, dashboard, fleet, names::FLEET_UID, rules, Options};
use rtmon_testkit::prom::PROMETHEUS_BIN;
use rtmon_testkit::rig::{self, FlowRig, RigBins};
use serde_json::Value;

mod common;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn example_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("config_flow"))
        .expect("config_flow/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yml" || x == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 3, "expected the example flows: {files:?}");
    files
}

fn example_flows() -> Vec<rtmon::flow::Flow> {
    example_files()
        .iter()
        .flat_map(|f| rtmon::flow::load_file(f).unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rtmon-dashboards"))
}

fn golden_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/fleet.json")
}

fn pretty(d: &Value) -> String {
    serde_json::to_string_pretty(d).expect("json") + "\n"
}

#[test]
fn fleet_dashboard_matches_golden_and_is_sound() {
    let d = fleet::build(&Options::default());
    let text = pretty(&d);
    let path = golden_path();
    if std::env::var_os("RTMON_UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &text).expect("write golden");
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (RTMON_UPDATE_GOLDEN=1 creates it)", path.display()));
    assert!(
        want == text,
        "{} differs from the generated fleet view (RTMON_UPDATE_GOLDEN=1 regenerates after an intended change)",
        path.display()
    );
    // Push mode and the other instance label: the same dashboard (it reads only rules).
    let push = Options {
        instance_label: "exported_instance".into(),
        ..Options::push()
    };
    assert_eq!(fleet::build(&push), d);
    assert_eq!(d["uid"], FLEET_UID);

    let panels = d["panels"].as_array().expect("panels");
    let mut ids = BTreeSet::new();
    let mut boxes = Vec::new();
    for p in panels {
        assert!(ids.insert(p["id"].as_u64().expect("id")));
        let g = &p["gridPos"];
        let b: Vec<u64> = ["x", "y", "w", "h"]
            .iter()
            .map(|k| g[*k].as_u64().expect("gridPos"))
            .collect();
        assert!(b[0] + b[2] <= 24, "{}", p["title"]);
        boxes.push(b);
        assert_eq!(p["datasource"]["uid"], "${ds_prometheus}");
        let mut refs = BTreeSet::new();
        for t in p["targets"].as_array().expect("targets") {
            assert!(refs.insert(t["refId"].as_str().expect("refId")));
            assert_eq!(t["datasource"]["uid"], "${ds_prometheus}");
            assert_eq!(t["instant"], true);
        }
    }
    for (i, a) in boxes.iter().enumerate() {
        for b in &boxes[i + 1..] {
            let overlap = a[0] < b[0] + b[2]
                && b[0] < a[0] + a[2]
                && a[1] < b[1] + b[3]
                && b[1] < a[1] + a[3];
            assert!(!overlap, "{a:?} overlaps {b:?}");
        }
    }
    // The table: one query per column (never per flow), merged, sorted worst first,
    // each row linking to its flow dashboard by the uid the rules record.
    let table = panels.iter().find(|p| p["type"] == "table").expect("table");
    let targets = table["targets"].as_array().expect("targets");
    assert_eq!(targets.len(), fleet::columns().len());
    let tr: Vec<&str> = table["transformations"]
        .as_array()
        .expect("transformations")
        .iter()
        .filter_map(|t| t["id"].as_str())
        .collect();
    assert_eq!(tr, ["merge", "sortBy", "organize"]);
    assert_eq!(
        table["transformations"][1]["options"]["sort"][0],
        serde_json::json!({"field": "Value #B", "desc": true})
    );
    assert_eq!(targets[1]["expr"], "max by (flow) (rtmon:flow:status)");
    assert_eq!(
        table["fieldConfig"]["defaults"]["links"][0]["url"],
        "/d/${__data.fields.dashboard_uid}?${__url_time_range}&${ds_prometheus:queryparam}"
    );
    // Stat tiles above it.
    let tiles: Vec<&str> = panels
        .iter()
        .filter(|p| p["type"] == "stat")
        .filter_map(|p| p["title"].as_str())
        .collect();
    assert_eq!(
        tiles,
        ["Flows", "Down", "Degraded", "Healthy", "Without status"]
    );
}

#[test]
fn fleet_rules_record_the_uid_cause_and_ping_of_each_flow() {
    for flow in example_flows() {
        let text = rules::render(
            std::slice::from_ref(&flow),
            &Options::default(),
            "30s",
            "2m",
        );
        // The flow's row of the topology carries its dashboard uid; the cause and ping
        // records are constant rules over every flow's check rows.
        assert_eq!(text.matches("{record: rtmon:flow:info,").count(), 1);
        assert!(text.contains(&format!("dashboard_uid: \"{}\"", dashboard::uid(&flow.id))));
        assert_eq!(text.matches("record: rtmon:flow:cause\n").count(), 1);
        let pings = checks::flow_checks(&flow, &Options::default())
            .iter()
            .filter(|c| c.kind == checks::CheckKind::PingRtt)
            .count();
        assert!(pings >= 2, "{}: the example flows ping both ways", flow.id);
        assert_eq!(
            text.matches("record: rtmon:flow_ping:rtt_seconds\n")
                .count(),
            1
        );
        assert_eq!(
            text.matches("record: rtmon:flow_ping:loss_ratio\n").count(),
            1
        );
        assert_eq!(
            text.matches(", check: \"ping_rtt\",").count(),
            pings,
            "one ping_rtt row per direction"
        );
    }
}

#[test]
fn fleet_validates_against_grafana_schema() {
    let py = common::venv_python();
    if !rtmon_testkit::available("fleet_validates_against_grafana_schema", &[&py], false) {
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let mut files = Vec::new();
    for (i, opts) in [
        Options::default(),
        Options {
            datasource_uid: Some("prom-1".into()),
            schema_version: 39,
            ..Options::push()
        },
    ]
    .iter()
    .enumerate()
    {
        let p = dir.path().join(format!("fleet-{i}.json"));
        std::fs::write(&p, pretty(&fleet::build(opts))).expect("write");
        files.push(p);
    }
    let mut broken = fleet::build(&Options::default());
    broken["panels"][0]["gridPos"]["w"] = Value::String("wide".into());
    let bad = dir.path().join("broken.json");
    std::fs::write(&bad, pretty(&broken)).expect("write");
    let run = |files: &[PathBuf]| common::grafana_schema_check(&py, files);
    let out = run(&files);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!run(&[bad]).status.success(), "the validator must bite");
}

#[test]
fn fleet_queries_and_rules_pass_promtool() {
    if !rtmon_testkit::available(
        "fleet_queries_and_rules_pass_promtool",
        &["promtool"],
        false,
    ) {
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let mut y = String::from("groups:\n  - name: fleet-panels\n    rules:\n");
    let exprs = dashboard::exprs(&fleet::build(&Options::default()));
    assert_eq!(exprs.len(), fleet::columns().len() + fleet::tiles().len());
    for (i, (_, e)) in exprs.iter().enumerate() {
        y.push_str(&format!(
            "      - record: rtmon:fleet_panel_{i}\n        expr: {}\n",
            serde_json::to_string(e).expect("q")
        ));
    }
    let mut files = vec![dir.path().join("panels.yml")];
    std::fs::write(&files[0], y).expect("write");
    let flows = example_flows();
    for (mode, opts) in [("scrape", Options::default()), ("push", Options::push())] {
        let p = dir.path().join(format!("rules-{mode}.yml"));
        std::fs::write(&p, rules::render(&flows, &opts, "30s", "2m")).expect("write");
        files.push(p);
    }
    for f in &files {
        let out = Command::new("promtool")
            .args(["check", "rules"])
            .arg(f)
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
    }
}

#[test]
fn generate_and_provision_write_the_fleet_and_refuse_its_uid_for_a_flow() {
    let dir = tempfile::tempdir().expect("tmp");
    let out_dir = dir.path().join("out");
    let out = bin()
        .arg("generate")
        .args(example_files())
        .arg("--out")
        .arg(&out_dir)
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let fleet_file = out_dir.join("rtmon-fleet.json");
    assert_eq!(
        stdout.lines().last(),
        Some(&*fleet_file.display().to_string())
    );
    assert_eq!(stdout.lines().count(), example_flows().len() + 1);
    let written: Value =
        serde_json::from_slice(&std::fs::read(&fleet_file).expect("fleet file")).expect("json");
    assert_eq!(written, fleet::build(&Options::default()));

    // provision: the file and the ConfigMap, the datasource pinned like the flows'.
    let prov = dir.path().join("prov");
    let out = bin()
        .arg("provision")
        .args(example_files())
        .arg("--out")
        .arg(&prov)
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let provisioned: Value = serde_json::from_slice(
        &std::fs::read(prov.join("grafana/dashboards/rtmon-fleet.json")).expect("provisioned"),
    )
    .expect("json");
    assert_eq!(
        provisioned["templating"]["list"][0]["current"]["value"],
        rtmon_dashboards::provision::DATASOURCE_UID
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout
            .lines()
            .any(|l| l.contains("rtmon-fleet") && l.ends_with(".yaml")),
        "no ConfigMap for the fleet view: {stdout}"
    );

    // A flow with id `fleet` would overwrite the fleet view: refused, naming the file.
    let text = std::fs::read_to_string(root().join("config_flow/one-switch.yml")).expect("read");
    let ids: Vec<String> = example_flows().iter().map(|f| f.id.clone()).collect();
    let first = rtmon::flow::load_file(&root().join("config_flow/one-switch.yml")).expect("load")
        [0]
    .id
    .clone();
    assert!(ids.contains(&first));
    let clash = dir.path().join("clash.yml");
    std::fs::write(&clash, text.replacen(&first, "fleet", 1)).expect("write");
    let out = bin()
        .arg("generate")
        .arg(&clash)
        .arg("--out")
        .arg(dir.path().join("clash"))
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("clash.yml") && err.contains("\"fleet\""),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------
// On a real rig

const DEADLINE: Duration = Duration::from_secs(90);

/// The fleet table as Grafana's merge gives it: per flow, per column header (or label
/// name for the label-only queries), the value.
fn fleet_rows(rig: &FlowRig) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut rows: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for c in fleet::columns() {
        let r = rig
            .prom
            .query(&c.expr)
            .unwrap_or_else(|e| panic!("{}: {e:#}", c.expr));
        for (labels, v) in r {
            let flow = labels.get("flow").cloned().unwrap_or_default();
            let row = rows.entry(flow).or_default();
            for (k, l) in &labels {
                row.insert(k.clone(), l.clone());
            }
            if let Some(h) = c.header {
                row.insert(h.to_string(), v.to_string());
            }
        }
    }
    rows
}

fn tile(rig: &FlowRig, title: &str) -> f64 {
    let (_, e, _) = fleet::tiles()
        .into_iter()
        .find(|t| t.0 == title)
        .expect("tile");
    let r = rig.prom.query(&e).expect("tile query");
    assert_eq!(r.len(), 1, "{e}: {r:?}");
    r[0].1
}

fn wait_rows(
    rig: &mut FlowRig,
    what: &str,
    pred: impl Fn(&BTreeMap<String, BTreeMap<String, String>>) -> bool,
) -> BTreeMap<String, BTreeMap<String, String>> {
    let end = Instant::now() + DEADLINE;
    loop {
        let rows = fleet_rows(rig);
        if pred(&rows) {
            return rows;
        }
        if Instant::now() >= end {
            panic!(
                "fleet never showed {what}; last rows: {rows:#?}\n{}",
                rig.logs()
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Per flow, the summary `status` gives (`down: <cause> since …`).
fn status_summaries(rig: &FlowRig, files: &[PathBuf]) -> BTreeMap<String, String> {
    let out = bin()
        .args([
            "status",
            "--output",
            "json",
            "--lookback",
            "5m",
            "--prometheus",
        ])
        .arg(rig.prom.url())
        .args(files)
        .output()
        .expect("status");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    v["flows"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            (
                f["flow"].as_str().unwrap_or("").to_string(),
                f["summary"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[test]
fn fleet_rig_one_row_per_flow_with_status_cause_and_link() {
    let mut bins = RigBins::workspace();
    bins.dashboards = PathBuf::from(env!("CARGO_BIN_EXE_rtmon-dashboards"));
    let snmpsim = rtmon_testkit::snmp::snmpsim_binary()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "snmpsim-command-responder".into());
    let bin_paths = bins.all();
    let mut need: Vec<&str> = vec![PROMETHEUS_BIN, "ip", "snmpget", &snmpsim];
    need.extend(bin_paths.iter().map(String::as_str));
    if !rtmon_testkit::available(
        "fleet_rig_one_row_per_flow_with_status_cause_and_link",
        &need,
        true,
    ) {
        return;
    }
    let mut rig = FlowRig::start(&bins).expect("flow rig");
    // Beside the rig's (healthy) flow, the three example flows, whose hosts and switches
    // are not on the rig: every check of theirs fails, so they are down.
    // One rules file for the rig's flow and the examples (the constant groups once).
    let out = bin()
        .arg("rules")
        .arg(&rig.flow_file)
        .args(example_files())
        .args(["--eval-interval=1s", "--alert-for=5s"])
        .output()
        .expect("rules");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let all = String::from_utf8_lossy(&out.stdout).into_owned();
    std::fs::write(rig.prom.dir().join("rules-0.yml"), all).expect("write rules");
    rig.prom.reload().expect("reload");

    let examples = example_flows();
    let mut want: BTreeMap<String, String> = examples
        .iter()
        .map(|f| (f.id.clone(), "2".to_string()))
        .collect();
    want.insert(rig::FLOW_ID.to_string(), "0".into());
    let rows = wait_rows(&mut rig, "every flow with its status", |rows| {
        rows.len() == want.len()
            && want
                .iter()
                .all(|(f, s)| rows.get(f).and_then(|r| r.get("Status")) == Some(s))
            && rows.values().all(|r| r.contains_key("Since"))
            && rows[rig::FLOW_ID].contains_key("Ping RTT")
    });
    for (id, row) in &rows {
        assert_eq!(row["dashboard_uid"], dashboard::uid(id), "{row:?}");
        assert!(row.contains_key("title"), "{row:?}");
        let since: f64 = row["Since"].parse().expect("since");
        assert!((0.0..600.0).contains(&since), "{id}: since {since}");
    }
    let healthy = &rows[rig::FLOW_ID];
    assert!(!healthy.contains_key("cause"), "{healthy:?}");
    assert_eq!(healthy["Failing checks"], "0");
    let rtt: f64 = healthy["Ping RTT"].parse().expect("rtt");
    assert!(rtt > 0.0 && rtt < 0.1, "rig ping RTT {rtt}");
    assert_eq!(healthy["Ping loss"], "0");
    let sent: f64 = healthy["Sent"].parse().expect("sent");
    assert!(sent > 0.0, "the rig's hosts send pings: {sent}");
    // The cause is the one `status` names first.
    let summaries = status_summaries(&rig, &example_files());
    for f in &examples {
        let row = &rows[&f.id];
        let summary = summaries.get(&f.id).cloned().unwrap_or_default();
        assert!(
            summary.starts_with(&format!("down: {}", row["cause"])),
            "{}: fleet cause {:?}, status {summary:?}",
            f.id,
            row["cause"]
        );
        // Every check fails but the LLDP ones (healthy when no LLDP is heard) and the
        // port-name ones (no interface at all is port_oper_up's failure).
        let n = checks::flow_checks(f, &Options::default())
            .iter()
            .filter(|c| {
                !matches!(
                    c.kind,
                    checks::CheckKind::LldpLink | checks::CheckKind::PortUnique
                )
            })
            .count();
        assert_eq!(row["Failing checks"], n.to_string(), "{}", f.id);
    }
    assert_eq!(tile(&rig, "Flows"), want.len() as f64);
    assert_eq!(tile(&rig, "Down"), examples.len() as f64);
    assert_eq!(tile(&rig, "Healthy"), 1.0);
    assert_eq!(tile(&rig, "Degraded"), 0.0);
    assert_eq!(tile(&rig, "Without status"), 0.0);

    // The preview of the fleet view lists the flows worst first: the four down example
    // flows, each with its cause, then the healthy rig flow; each row links to its flow.
    let preview_dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target")
        .join("preview");
    std::fs::create_dir_all(&preview_dir).expect("mkdir");
    let fleet_json = rig.dir().join("fleet.json");
    std::fs::write(&fleet_json, pretty(&fleet::build(&Options::default()))).expect("write");
    let html_path = preview_dir.join("fleet-examples.html");
    let o = bin()
        .arg("preview")
        .arg("--dashboard")
        .arg(&fleet_json)
        .args(["--prometheus", &rig.prom.url(), "--out"])
        .arg(&html_path)
        .output()
        .expect("preview");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let html = std::fs::read_to_string(&html_path).expect("html");
    let pos = |id: &str| {
        html.find(&format!("<a href=\"/d/{}\">{id}</a>", dashboard::uid(id)))
            .unwrap_or_else(|| panic!("no row for {id}"))
    };
    for f in &examples {
        assert!(
            pos(&f.id) < pos(rig::FLOW_ID),
            "{} after the healthy flow",
            f.id
        );
        assert!(html.contains(&rows[&f.id]["cause"]), "{}: cause", f.id);
    }
    assert_eq!(html.matches(">down</td>").count(), examples.len());
    assert_eq!(html.matches(">healthy</td>").count(), 1);
    eprintln!(
        "fleet preview with the example flows: {}",
        html_path.display()
    );

    // `check` covers the fleet view: every one of its queries has data on the rig.
    let out = bin()
        .arg("check")
        .arg(&rig.flow_file)
        .args(["--prometheus", &rig.prom.url(), "--verbose"])
        .output()
        .expect("check");
    let text = String::from_utf8_lossy(&out.stdout);
    let fleet_lines: Vec<&str> = text.lines().filter(|l| l.contains("fleet panel")).collect();
    assert_eq!(
        fleet_lines.len(),
        fleet::columns().len() + fleet::tiles().len(),
        "{text}"
    );
    assert!(
        fleet_lines
            .iter()
            .all(|l| l.trim_start().starts_with("ok ")),
        "{text}"
    );

    // The rig's switch port towards host B goes down: its row turns down with the
    // cause `status` names, and its "since" restarts.
    // The clock starts before the change: the simulated switch restarts to apply it, and
    // while it does it does not answer SNMP, which already turns the flow down.
    let changed = Instant::now();
    rig.switch
        .set_oper_status(rig::OUT_IFINDEX, 2)
        .expect("port down");
    let down = format!("{} port {} oper down", rig::SWITCH, rig::OUT_PORT);
    let rows = wait_rows(&mut rig, "the rig flow down by its port", |rows| {
        rows.get(rig::FLOW_ID).is_some_and(|r| {
            r.get("Status").map(String::as_str) == Some("2")
                && r.get("cause") == Some(&down)
                && r.get("Since")
                    .and_then(|s| s.parse::<f64>().ok())
                    .is_some_and(|s| s < 30.0)
        })
    });
    let since: f64 = rows[rig::FLOW_ID]["Since"].parse().expect("since");
    assert!(
        since <= changed.elapsed().as_secs_f64() + 2.0,
        "since {since} s, but the port went down {:?} ago",
        changed.elapsed()
    );
    assert_eq!(tile(&rig, "Down"), want.len() as f64);
    assert_eq!(tile(&rig, "Healthy"), 0.0);
}

/// Push mode with `--instance-label exported_instance` (Prometheus scrapes the
/// Pushgateway without honor_labels): the fleet rules find the pushed ping series, and
/// the flow's row has its RTT, loss, status and link.
#[test]
fn fleet_push_mode_with_exported_instance() {
    use rtmon_testkit::prom::{scrape_job, PromConfig, Prometheus, Pushgateway, PUSHGATEWAY_BIN};
    if !rtmon_testkit::available(
        "fleet_push_mode_with_exported_instance",
        &[PROMETHEUS_BIN, PUSHGATEWAY_BIN],
        false,
    ) {
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let flow = dir.path().join("flow.yml");
    std::fs::write(
        &flow,
        "flow: push-fleet\ntitle: Push fleet\npath:\n  - host: dtn-a\n    interface: eth0\n    ip: 10.0.0.1\n  - host: dtn-b\n    interface: eth0\n    ip: 10.0.0.2\n",
    )
    .expect("flow");
    let out = bin()
        .arg("rules")
        .arg(&flow)
        .args([
            "--mode=push",
            "--instance-label=exported_instance",
            "--eval-interval=1s",
        ])
        .output()
        .expect("rules");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pgw = Pushgateway::start().expect("pushgateway");
    let prom = Prometheus::start_with(PromConfig {
        scrape_configs: scrape_job("pushgateway", &[&pgw.addr()], false),
        rule_files: vec![String::from_utf8_lossy(&out.stdout).into_owned()],
        extra_args: Vec::new(),
    })
    .expect("prometheus");
    // Only the ping exporters push: their RTT (2 ms per probe) and no loss reach the
    // fleet; everything else is missing, so the flow is down.
    let end = Instant::now() + DEADLINE;
    let mut n = 0u64;
    let row = loop {
        n += 10;
        for (me, peer) in [("dtn-a", "10.0.0.2"), ("dtn-b", "10.0.0.1")] {
            let body = format!(
                "rtmon_ping_up{{target=\"{peer}\"}} 1\nrtmon_ping_requests_total{{target=\"{peer}\"}} {n}\n\
rtmon_ping_replies_total{{target=\"{peer}\"}} {n}\nrtmon_ping_rtt_seconds_sum{{target=\"{peer}\"}} {}\n\
rtmon_ping_rtt_seconds_count{{target=\"{peer}\"}} {n}\n",
                n as f64 * 0.002
            );
            let (code, text) = pgw
                .put(&format!("rtmon_ping/instance/{me}"), &body)
                .expect("put");
            assert_eq!(code, 200, "{text}");
        }
        let mut row: BTreeMap<String, String> = BTreeMap::new();
        for c in fleet::columns() {
            for (labels, v) in prom.query(&c.expr).unwrap_or_default() {
                row.extend(labels);
                if let Some(h) = c.header {
                    row.insert(h.to_string(), v.to_string());
                }
            }
        }
        let rtt = row.get("Ping RTT").and_then(|v| v.parse::<f64>().ok());
        if row.get("Status").map(String::as_str) == Some("2")
            && rtt.is_some_and(|r| (r - 0.002).abs() < 1e-9)
        {
            break row;
        }
        assert!(
            Instant::now() < end,
            "fleet row never complete: {row:?}\n{}",
            prom.log()
        );
        std::thread::sleep(Duration::from_millis(700));
    };
    assert_eq!(row["flow"], "push-fleet");
    assert_eq!(row["dashboard_uid"], "rtmon-push-fleet");
    assert_eq!(row["Ping loss"], "0");
    assert!(row.contains_key("cause"), "{row:?}");
    // The ping checks themselves pass: the cause is elsewhere.
    assert!(!row["cause"].contains("ping"), "{row:?}");
}
