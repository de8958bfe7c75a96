//! The dashboards as Grafana really renders them (issue 29), checked with Grafana's own
//! data code: `dashboards/grafana-harness/` runs each panel's transformations
//! (`transformDataFrame`), field config (`applyFieldOverrides`: mappings, thresholds,
//! units, data links) and field lookups (`FieldCache`, `getFieldDisplayName`) from npm
//! `@grafana/data` (Apache-2.0) on data frames built — by a small converter of ours,
//! documented in `harness.mjs` — from a real Prometheus's answers on the end-to-end rig.
//!
//! - every generated transformation of the example flows' dashboards and the fleet runs
//!   through Grafana's code without error;
//! - on the rig: the Path node graph's nodes and edges carry `id`/`title`/`mainstat`/
//!   `color` and `id`/`source`/`target`/`mainstat` by field NAME, every edge end is a
//!   node, the edges' number is the link's bits/s in Gbit/s — and the previous panel
//!   (`renameByName {"Value #edges": "mainstat"}`) FAILS the same check; the fleet
//!   table is one row per flow joined by the merge, worst first, each row's link
//!   resolved to its flow's dashboard uid; the status tile and the checks table show
//!   their mapped texts;
//! - annotations: after one flap of host B's data-plane link, the "Host interface flaps",
//!   "Check failures" and "Check recoveries" queries, read over 24 h at a 5 min and at a
//!   15 s step (`$__interval` = the step, as Grafana fills it), mark the event in both;
//!   a fixed look-back (the old form) marks nothing at 5 min.
//!
//! Needs Node.js and `npm ci` in dashboards/grafana-harness (scripts/install-test-deps.sh),
//! and for the rig root, iproute2, Prometheus, snmpsim and the workspace's binaries.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rtmon_dashboards::grafana::check::instantiate;
use rtmon_dashboards::{dashboard, fleet, Options};
use rtmon_testkit::prom::{urlencode, PROMETHEUS_BIN};
use rtmon_testkit::rig::{self, FlowRig, RigBins};
use serde_json::{json, Value};

/// Generous: the rig shares the machine with other builds and tests.
const DEADLINE: Duration = Duration::from_secs(180);

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn harness_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("grafana-harness")
}

/// Node.js and the harness's npm packages, or a skip (a failure in strict mode).
fn harness_ready(test: &str) -> bool {
    if !rtmon_testkit::available(test, &["node"], false) {
        return false;
    }
    let data = harness_dir().join("node_modules/@grafana/data/package.json");
    if data.exists() {
        return true;
    }
    let msg = format!(
        "SKIP {test}: {} missing: run `npm ci` in {} (scripts/install-test-deps.sh does)",
        data.display(),
        harness_dir().display()
    );
    assert!(
        !rtmon_testkit::strict(),
        "{msg} — strict mode (RTMON_TEST_STRICT=1) does not allow skips"
    );
    eprintln!("{msg}");
    false
}

/// Runs the harness on (panel, answers by refId) pairs; returns its result per panel.
fn run_harness(dir: &Path, vars: Value, panels: Vec<(Value, Value)>) -> Vec<Value> {
    let req = json!({
        "vars": vars,
        "panels": panels.into_iter().map(|(p, a)| json!({"panel": p, "answers": a})).collect::<Vec<_>>(),
    });
    let path = dir.join("harness-request.json");
    std::fs::write(&path, req.to_string()).expect("write request");
    let out = Command::new("node")
        .arg(harness_dir().join("harness.mjs"))
        .current_dir(harness_dir())
        .stdin(Stdio::from(std::fs::File::open(&path).expect("request")))
        .output()
        .expect("run node");
    assert!(
        out.status.success(),
        "harness failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("harness output is JSON");
    let panels = v["panels"].as_array().cloned().unwrap_or_default();
    for p in &panels {
        assert!(
            p.get("error").is_none(),
            "Grafana's code failed on panel {:?}: {}",
            p["title"],
            p["error"]
        );
    }
    panels
}

/// Panels with queries, in document order.
fn query_panels(d: &Value) -> Vec<Value> {
    d["panels"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["targets"].as_array().is_some_and(|t| !t.is_empty()))
        .cloned()
        .collect()
}

fn find<'a>(results: &'a [Value], title: &str) -> &'a Value {
    results
        .iter()
        .find(|p| p["title"] == title)
        .unwrap_or_else(|| panic!("no panel {title:?} in the harness result"))
}

/// What is wrong with a node graph as the panel reads it (empty: nothing).
fn node_graph_problems(view: &Value) -> Vec<String> {
    let g = &view["nodeGraph"];
    let mut p = Vec::new();
    let missing = |kind: &str| -> BTreeSet<String> {
        g["missing"][kind]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect()
    };
    for (kind, need) in [
        ("nodes", ["id", "title", "mainstat", "color"]),
        ("edges", ["id", "source", "target", "mainstat"]),
    ] {
        let rows = g[kind].as_array().cloned().unwrap_or_default();
        if rows.is_empty() {
            p.push(format!("no {kind}"));
        }
        let gone = missing(kind);
        for f in need {
            if gone.contains(f) {
                p.push(format!("{kind} have no field NAMED {f:?}"));
            } else if let Some(r) = rows.iter().find(|r| r[f].is_null()) {
                p.push(format!("{kind}: {r} has no {f}"));
            }
        }
    }
    let ids: BTreeSet<&str> = g["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n["id"].as_str())
        .collect();
    for e in g["edges"].as_array().into_iter().flatten() {
        for end in ["source", "target"] {
            if !e[end].as_str().is_some_and(|s| ids.contains(s)) {
                p.push(format!("edge {e}: its {end} is not a node"));
            }
        }
    }
    p
}

/// The Path panel as it was before issue 29: the edges' value renamed `mainstat`.
fn renamed_edges_panel(panel: &Value) -> Value {
    let mut old = panel.clone();
    old["options"]["edges"]["mainStatUnit"] = json!("bps");
    old["transformations"] = json!([{"id": "organize", "options": {
        "excludeByName": {"Time": true, "Time #edges": true, "Time #nodes": true, "__name__": true, "flow": true},
        "renameByName": {"Value #edges": "mainstat"},
    }}]);
    old
}

fn example_flows() -> Vec<rtmon::flow::Flow> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("config_flow"))
        .expect("config_flow/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yml" || x == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 3, "expected the example flows: {files:?}");
    files
        .iter()
        .flat_map(|f| rtmon::flow::load_file(f).unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

/// Every npm package of the harness (package-lock.json, what `npm ci` installs) has a
/// licence that allows its use here; no AGPL (Grafana's server, @grafana/prometheus and
/// the panels are AGPL-licensed and not used), no GPL, no SSPL.
#[test]
fn harness_packages_are_apache_mit_or_alike() {
    let lock: Value = serde_json::from_slice(
        &std::fs::read(harness_dir().join("package-lock.json")).expect("package-lock.json"),
    )
    .expect("lock json");
    const ALLOWED: &[&str] = &[
        "MIT",
        "Apache-2.0",
        "ISC",
        "BSD-2-Clause",
        "BSD-3-Clause",
        "0BSD",
        "Unlicense",
        "CC0-1.0",
        "BlueOak-1.0.0",
        "(MPL-2.0 OR Apache-2.0)",
        "(MIT AND Zlib)",
        "MIT AND BSD-3-Clause",
    ];
    // No `license` in their package.json; their LICENSE file is the Unlicense.
    const UNLICENSE_FILE: &[&str] = &[
        "node_modules/fast-shallow-equal",
        "node_modules/react-universal-interface",
    ];
    let pkgs = lock["packages"].as_object().expect("packages");
    let mut bad = Vec::new();
    for (path, p) in pkgs {
        if path.is_empty() {
            continue;
        }
        match p["license"].as_str() {
            Some(l) if ALLOWED.contains(&l) => {}
            None if UNLICENSE_FILE.contains(&path.as_str()) => {}
            other => bad.push(format!("{path}: {other:?}")),
        }
    }
    assert!(bad.is_empty(), "packages with other licences: {bad:?}");
    assert_eq!(
        pkgs["node_modules/@grafana/data"]["license"], "Apache-2.0",
        "@grafana/data"
    );
    assert!(
        !pkgs
            .keys()
            .any(|k| k.ends_with("@grafana/prometheus") || k.ends_with("@grafana/ui")),
        "the harness must not pull @grafana/prometheus or @grafana/ui"
    );
}

#[test]
fn every_example_transformation_runs_in_grafanas_code() {
    if !harness_ready("every_example_transformation_runs_in_grafanas_code") {
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let mut panels = Vec::new();
    let mut transformed = 0;
    for opts in [Options::default(), Options::push()] {
        let mut ds: Vec<Value> = example_flows()
            .iter()
            .map(|f| dashboard::build(f, &opts))
            .collect();
        ds.push(fleet::build(&opts));
        for d in &ds {
            for p in query_panels(d) {
                transformed += usize::from(p.get("transformations").is_some());
                panels.push((p, json!({})));
            }
        }
    }
    assert!(transformed >= 10, "only {transformed} panels transform");
    let n = panels.len();
    let out = run_harness(dir.path(), json!({}), panels);
    assert_eq!(out.len(), n);
}

/// Unix seconds now.
fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Prometheus' `data` of an instant query at `time`.
fn instant_data(prom: &str, expr: &str, time: f64) -> Value {
    let r = rtmon_testkit::http_get(
        prom,
        &format!("/api/v1/query?query={}&time={time:.3}", urlencode(expr)),
    )
    .expect("query");
    let v: Value = serde_json::from_slice(&r.body).expect("json");
    assert_eq!(v["status"], "success", "{expr}: {v}");
    v["data"].clone()
}

/// Each target's answer by refId, `$__rate_interval` as for a 1 s scrape.
fn answers(prom: &str, panel: &Value, time: f64) -> Value {
    let mut a = serde_json::Map::new();
    for t in panel["targets"].as_array().into_iter().flatten() {
        let (Some(r), Some(e)) = (t["refId"].as_str(), t["expr"].as_str()) else {
            continue;
        };
        a.insert(r.into(), instant_data(prom, &instantiate(e, "10s"), time));
    }
    Value::Object(a)
}

/// The times (unix s) at which Grafana marks an annotation: the steps of a range query
/// over 24 h ending at `end`, with `$__interval` the step, where a series is above 0.
fn marks(prom: &str, expr: &str, step: u64, end: f64) -> Vec<f64> {
    let e = expr.replace("$__interval", &format!("{step}s"));
    let start = end - 86_400.0;
    let r = rtmon_testkit::http_get(
        prom,
        &format!(
            "/api/v1/query_range?query={}&start={start:.3}&end={end:.3}&step={step}",
            urlencode(&e)
        ),
    )
    .expect("query_range");
    let v: Value = serde_json::from_slice(&r.body).expect("json");
    assert_eq!(v["status"], "success", "{e}: {v}");
    let mut out: Vec<f64> = v["data"]["result"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["values"].as_array().cloned().unwrap_or_default())
        .filter(|p| p[1].as_str().and_then(|s| s.parse::<f64>().ok()) > Some(0.0))
        .filter_map(|p| p[0].as_f64())
        .collect();
    out.sort_by(f64::total_cmp);
    out.dedup();
    out
}

fn wait(rig: &mut FlowRig, expr: &str, what: &str, pred: impl Fn(f64) -> bool) -> f64 {
    let end = Instant::now() + DEADLINE;
    loop {
        if let Ok(r) = rig.prom.query(expr) {
            if r.len() == 1 && pred(r[0].1) {
                return now();
            }
        }
        if Instant::now() >= end {
            let failing = rig
                .prom
                .query(&format!(
                    "rtmon:flow_check:ok{{flow=\"{}\"}} == 0",
                    rig::FLOW_ID
                ))
                .map(|r| format!("{r:?}"))
                .unwrap_or_else(|e| format!("{e:#}"));
            panic!(
                "{what} never happened ({expr}); failing checks: {failing}\n{}",
                rig.logs()
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn rig_panels_read_as_grafana_reads_them_and_annotations_catch_a_flap() {
    let test = "rig_panels_read_as_grafana_reads_them_and_annotations_catch_a_flap";
    let mut bins = RigBins::workspace();
    bins.dashboards = PathBuf::from(env!("CARGO_BIN_EXE_rtmon-dashboards"));
    let snmpsim = rtmon_testkit::snmp::snmpsim_binary()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "snmpsim-command-responder".into());
    let bin_paths = bins.all();
    let mut need: Vec<&str> = vec![PROMETHEUS_BIN, "ip", "snmpget", &snmpsim];
    need.extend(bin_paths.iter().map(String::as_str));
    if !rtmon_testkit::available(test, &need, true) || !harness_ready(test) {
        return;
    }
    let mut rig = FlowRig::start(&bins).expect("flow rig");
    let prom = rig.prom.addr();
    // Beside the rig's flow, the example flows: their hosts are not on the rig, so they
    // are down, and the fleet table has rows to sort. One rule set for all the flows.
    let out = Command::new(env!("CARGO_BIN_EXE_rtmon-dashboards"))
        .arg("rules")
        .arg(&rig.flow_file)
        .args(
            std::fs::read_dir(root().join("config_flow"))
                .expect("config_flow")
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "yml")),
        )
        .args(["--eval-interval=1s", "--alert-for=5s"])
        .output()
        .expect("rules");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(rig.prom.dir().join("rules-0.yml"), &out.stdout).expect("write rules");
    rig.prom.reload().expect("reload");

    let flow = rtmon::flow::load_file(&rig.flow_file)
        .expect("rig flow")
        .remove(0);
    let opts = Options {
        host_interval: "1s".into(),
        snmp_interval: "2s".into(),
        ..Options::default()
    };
    let d = dashboard::build(&flow, &opts);
    let fleet_d = fleet::build(&opts);
    let f = format!("flow=\"{}\"", rig::FLOW_ID);
    let examples = example_flows();
    // Every critical check of the rig flow healthy (a warning may fail: the rig's veths
    // are not clean hardware, and the panels must read right whatever the state).
    let critical = format!("min(rtmon:flow_check:ok{{{f},severity=\"critical\"}})");
    wait(&mut rig, &critical, "every critical check healthy", |v| {
        v == 1.0
    });
    wait(
        &mut rig,
        &format!("count(rtmon:flow_link:bps{{{f},direction=\"forward\"}})"),
        "the forward links' rates",
        |v| v >= 2.0,
    );
    wait(
        &mut rig,
        "count(rtmon:flow:status)",
        "every flow's status",
        |v| v as usize == examples.len() + 1,
    );

    // 1. What the panels read, by Grafana's code, on the rig's answers.
    // A few seconds back, so every sample up to then has landed and the answers repeat;
    // at a moment when the Path has all its nodes and edges (the rig shares a loaded
    // machine: a scrape may time out).
    let path = d["panels"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["type"] == "nodeGraph"))
        .cloned()
        .expect("Path panel");
    let end = Instant::now() + DEADLINE;
    let (t, path_answers) = loop {
        std::thread::sleep(Duration::from_secs(5));
        let t = now() - 5.0;
        let a = answers(&prom, &path, t);
        let n = |r: &str| a[r]["result"].as_array().map_or(0, Vec::len);
        if n("nodes") == flow.path.len() && n("edges") == flow.path.len() - 1 {
            break (t, a);
        }
        assert!(
            Instant::now() < end,
            "the Path never had every node and edge: {a}"
        );
    };
    let mut panels: Vec<(Value, Value)> = query_panels(&d)
        .into_iter()
        .map(|p| {
            let a = if p["type"] == "nodeGraph" {
                path_answers.clone()
            } else {
                answers(&prom, &p, t)
            };
            (p, a)
        })
        .collect();
    let mut old = renamed_edges_panel(&path);
    old["title"] = json!("Path (renamed edges)");
    panels.push((old, path_answers.clone()));
    for p in query_panels(&fleet_d) {
        let mut p = p;
        p["title"] = json!(format!("fleet: {}", p["title"].as_str().unwrap_or("")));
        let a = answers(&prom, &p, t);
        panels.push((p, a));
    }
    let vars = json!({"ds_prometheus": "prom-a", "__url_time_range": "from=now-1h&to=now"});
    let res = run_harness(rig.dir(), vars, panels);

    // The Path: nodes and edges by field name, every edge end a node, edges in Gbit/s.
    let view = find(&res, "Path");
    let problems = node_graph_problems(view);
    assert!(problems.is_empty(), "{problems:?}\n{view}");
    let g = &view["nodeGraph"];
    let names: BTreeSet<&str> = flow.path.iter().map(|h| h.name()).collect();
    let ids: BTreeSet<&str> = g["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n["id"].as_str())
        .collect();
    assert_eq!(ids, names, "{g}");
    // Each node's text and colour are its hop's status, as the nodes query made them.
    let hop_status: BTreeMap<String, f64> = path_answers["nodes"]["result"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            (
                s["metric"]["id"].as_str().unwrap_or("").to_string(),
                s["value"][1]
                    .as_str()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(f64::NAN),
            )
        })
        .collect();
    for n in g["nodes"].as_array().into_iter().flatten() {
        let want = match hop_status.get(n["id"].as_str().unwrap_or("")) {
            Some(0.0) => ("healthy", "green"),
            Some(1.0) => ("degraded", "orange"),
            Some(2.0) => ("down", "red"),
            other => panic!("node {n}: hop status {other:?}"),
        };
        assert_eq!(
            (n["mainstat"].as_str(), n["color"].as_str()),
            (Some(want.0), Some(want.1)),
            "{n}"
        );
    }
    let bps: Vec<(String, f64)> = path_answers["edges"]["result"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            (
                s["metric"]["id"].as_str().unwrap_or("").to_string(),
                s["value"][1]
                    .as_str()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(f64::NAN),
            )
        })
        .collect();
    let edges = g["edges"].as_array().cloned().unwrap_or_default();
    assert_eq!(edges.len(), bps.len(), "{g}");
    let frame = view["frames"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|fr| fr["refId"] == "edges")
        .expect("edges frame");
    let field = |name: &str| -> Vec<Value> {
        frame["fields"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|x| x["name"] == name)
            .and_then(|x| x["values"].as_array().cloned())
            .unwrap_or_default()
    };
    let (eid, stat) = (field("id"), field("mainstat"));
    for (id, v) in &bps {
        let i = eid
            .iter()
            .position(|x| x == id)
            .unwrap_or_else(|| panic!("edge {id} not in {frame}"));
        let gbps = stat[i].as_f64().expect("mainstat number");
        assert!((gbps - v / 1e9).abs() <= 1e-12, "{id}: {gbps} vs {v} bit/s");
        let shown = edges[i]["mainstat"].as_str().unwrap_or("");
        assert_eq!(shown, format!("{:.2} Gbit/s", v / 1e9), "{id}");
    }
    // The panel as it was: the edges carry no number.
    let old = node_graph_problems(find(&res, "Path (renamed edges)"));
    assert!(
        old.iter()
            .any(|p| p == "edges have no field NAMED \"mainstat\""),
        "the renamed-edges panel should fail the check: {old:?}"
    );
    eprintln!("renamed-edges Path panel, as Grafana's code reads it: {old:?}");

    // The flow's status tile and checks table show their mapped texts.
    let status = find(&res, "Flow status");
    let status_value = status["frames"][0]["fields"][1]["values"][0].as_f64();
    let want = match status_value {
        Some(0.0) => "HEALTHY",
        Some(1.0) => "DEGRADED",
        Some(2.0) => "DOWN",
        other => panic!("flow status {other:?}: {status}"),
    };
    assert_eq!(
        status["frames"][0]["fields"][1]["texts"][0], want,
        "{status}"
    );
    let checks = &find(&res, "Checks, failing first")["table"];
    let cols: Vec<&str> = checks["columns"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        cols.get(..5),
        Some(&["hop", "check", "subject", "severity", "state"][..]),
        "{checks}"
    );
    let rows = checks["rows"].as_array().cloned().unwrap_or_default();
    assert!(!rows.is_empty(), "{checks}");
    // Mapped texts, failing checks first (the query sorts; the table keeps its order).
    let state_rank = |r: &Value| match r["state"].as_str() {
        Some("FAILING (critical)") => 2,
        Some("FAILING (warning)") => 1,
        Some("ok") => 0,
        other => panic!("state {other:?} is not a mapped text: {checks}"),
    };
    let ranks: Vec<i32> = rows.iter().map(state_rank).collect();
    assert!(
        ranks.windows(2).all(|w| w[0] >= w[1]),
        "{ranks:?}\n{checks}"
    );

    // The state timelines of the checks: one frame per check, named by its legend,
    // its values mapped UP / DOWN.
    let timeline = find(&res, "Critical checks");
    let frames = timeline["frames"].as_array().cloned().unwrap_or_default();
    assert!(!frames.is_empty(), "{timeline}");
    for fr in &frames {
        let v = &fr["fields"][1];
        let name = v["displayName"].as_str().unwrap_or("");
        assert!(
            name.starts_with("e2e-") || name.starts_with("sw-e2e"),
            "{fr}"
        );
        for (x, t) in v["values"]
            .as_array()
            .into_iter()
            .flatten()
            .zip(v["texts"].as_array().into_iter().flatten())
        {
            let want = if x.as_f64() == Some(1.0) {
                "UP"
            } else {
                "DOWN"
            };
            assert_eq!(t, want, "{fr}");
        }
    }

    // The fleet table: one frame, one row per flow, worst first, links resolved.
    let table = &find(&res, "fleet: Flows, worst first")["table"];
    assert_eq!(table["frames"], 1, "merge must join the columns: {table}");
    let rows = table["rows"].as_array().cloned().unwrap_or_default();
    let flows: Vec<&str> = rows.iter().filter_map(|r| r["Flow"].as_str()).collect();
    let mut want: Vec<String> = examples.iter().map(|f| f.id.clone()).collect();
    want.push(rig::FLOW_ID.to_string());
    want.sort();
    let mut got: Vec<String> = flows.iter().map(|s| s.to_string()).collect();
    got.sort();
    assert_eq!(got, want, "{table}");
    let rank = |s: &Value| match s.as_str() {
        Some("down") => 2,
        Some("degraded") => 1,
        Some("healthy") => 0,
        _ => -1,
    };
    let ranks: Vec<i32> = rows.iter().map(|r| rank(&r["Status"])).collect();
    assert!(ranks.windows(2).all(|w| w[0] >= w[1]), "{ranks:?}\n{table}");
    assert_eq!(ranks.first(), Some(&2), "{table}");
    let rig_row = rows
        .iter()
        .position(|r| r["Flow"] == rig::FLOW_ID)
        .expect("rig row");
    assert_eq!(
        Some(f64::from(ranks[rig_row])),
        status_value,
        "the rig flow's row shows its status: {table}"
    );
    let links = table["links"].as_array().cloned().unwrap_or_default();
    for (row, l) in rows.iter().zip(&links) {
        let id = row["Flow"].as_str().unwrap_or("");
        let href = format!(
            "/d/{}?from=now-1h&to=now&var-ds_prometheus=prom-a",
            dashboard::uid(id)
        );
        assert!(
            l.as_array()
                .is_some_and(|l| l.iter().all(|h| h == &json!(href)) && !l.is_empty()),
            "{id}: {l} (want {href})"
        );
    }
    assert!(!table["columns"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c == "dashboard_uid" || c == "Time"));

    // 2. One flap of host B's data-plane link, and the annotations at 5 min and 15 s.
    // The checks the flap fails: both hosts' `interface_up` (B's link down, A's carrier).
    let ok = format!("min(rtmon:flow_check:ok{{{f},check=\"interface_up\"}})");
    let t_down = now();
    rig.b
        .ns
        .ip(&["link", "set", rig::DATA_IF, "down"])
        .expect("link down");
    let t_failed = wait(&mut rig, &ok, "interface_up failing", |v| v == 0.0);
    let t_up = now();
    rig.b
        .ns
        .ip(&["link", "set", rig::DATA_IF, "up"])
        .expect("link up");
    let t_recovered = wait(&mut rig, &ok, "interface_up healthy again", |v| v == 1.0);
    // Let the last samples land.
    std::thread::sleep(Duration::from_secs(3));
    let anns = dashboard::annotation_exprs(&d);
    let expr = |name: &str| -> String {
        anns.iter()
            .find(|(n, _)| n == name)
            .map(|(_, e)| e.clone())
            .unwrap_or_else(|| panic!("no annotation {name:?}"))
    };
    for (name, from, to) in [
        ("Host interface flaps", t_down, t_up),
        ("Check failures", t_down, t_failed),
        ("Check recoveries", t_up, t_recovered),
    ] {
        let e = expr(name);
        for step in [300u64, 15] {
            // The step grid puts the event mid-step: a point `step/2` after it.
            let end = to + step as f64 / 2.0;
            let m = marks(&prom, &e, step, end);
            assert!(
                m.iter().any(|&x| x >= from - 1.0 && x <= to + step as f64 + 1.0),
                "{name} at a {step} s step over 24 h: no mark between {from:.0} and {:.0}; marks {m:?}\n{e}",
                to + step as f64
            );
            if name == "Host interface flaps" {
                assert!(
                    m.iter().all(|&x| x >= from - 1.0),
                    "{name}: marks before the flap {m:?}"
                );
            }
        }
    }
    // A fixed look-back (what the annotations were) misses the flap at a 5 min step.
    let flaps = expr("Host interface flaps");
    let fixed = flaps
        .strip_prefix("max_over_time((")
        .and_then(|s| s.rsplit_once(")[$__interval:"))
        .map(|(inner, _)| inner.to_string())
        .expect("every_event form");
    assert!(
        marks(&prom, &fixed, 300, t_up + 150.0).is_empty(),
        "a fixed look-back should miss a flap between 5 min steps: {fixed}"
    );
}
