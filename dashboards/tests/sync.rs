//! End-to-end proof of `rtmon-dashboards sync` (issue 19): the service runs as a child
//! process against a real Prometheus (file_sd target lists, rules file, `POST
//! /-/reload`) scraping real rtmon node/arp/ping exporters on 127.0.0.2 / 127.0.0.3 and
//! rtmon-snmp-exporter, and a Grafana API stand-in that keeps dashboards like Grafana
//! (uid → dashboard, folder, version) and records every request.
//!
//! 1. start with no flows: the stale dashboard it owns (tagged, in its folder) is
//!    deleted; a tagged one in another folder and an untagged one in its folder are not;
//! 2. add two flows: their dashboards and the fleet overview appear (tagged, in the
//!    folder); their hosts and the
//!    switch become targets Prometheus reports up, with the flow's `instance` and the
//!    switch's `auth`/`module` as SNMP exporter parameters; their rule groups load;
//! 3. edit one: its dashboard is updated in place (same uid, version 2), nothing else is
//!    requested;
//! 4. break its YAML while editing the other: the error (file:line:column) is logged and
//!    counted, the broken flow keeps its last good dashboard and rules, the other flow
//!    is updated;
//! 5. delete it: its dashboard, its own targets and its rules go;
//! 6. restart the service: only reading requests, no file written;
//! 7. Grafana down: a new flow reaches Prometheus meanwhile, Grafana is retried with
//!    backoff and gets the dashboard once it is back (exactly once).
//!
//! Needs Prometheus and the workspace's exporter binaries (`cargo build --workspace`).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rtmon_testkit::prom::{PromConfig, Prometheus, PROMETHEUS_BIN};
use rtmon_testkit::{free_port, free_udp_port, http_get, sample_value, workspace_bin, Proc};
use serde_json::{json, Value};

const DEADLINE: Duration = Duration::from_secs(40);
const TOKEN: &str = "glsa_sync-test-token";

// ---------------------------------------------------------------------------------
// Grafana stand-in

#[derive(Clone, Debug)]
struct Req {
    method: String,
    path: String,
    body: Value,
}

#[derive(Clone, Debug)]
struct Dash {
    json: Value,
    folder: String,
    version: i64,
}

#[derive(Default)]
struct GState {
    folders: BTreeMap<String, String>,
    dashboards: BTreeMap<String, Dash>,
    requests: Vec<Req>,
    next_id: i64,
}

struct FakeGrafana {
    port: u16,
    state: Arc<Mutex<GState>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

fn query_param<'a>(path: &'a str, name: &str) -> Option<&'a str> {
    path.split_once('?')?
        .1
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn handle(st: &mut GState, method: &str, path: &str, body: &Value) -> (u16, Value) {
    let bare = path.split('?').next().unwrap_or("");
    match (method, bare) {
        ("GET", p) if p.starts_with("/api/folders/") => {
            let uid = &p["/api/folders/".len()..];
            match st.folders.get(uid) {
                Some(t) => (200, json!({"uid": uid, "title": t})),
                None => (404, json!({"message": "folder not found"})),
            }
        }
        ("POST", "/api/folders") => {
            let uid = body["uid"].as_str().unwrap_or("").to_string();
            let title = body["title"].as_str().unwrap_or("").to_string();
            if st.folders.contains_key(&uid) {
                return (409, json!({"message": "exists"}));
            }
            st.folders.insert(uid.clone(), title.clone());
            (200, json!({"uid": uid, "title": title}))
        }
        ("POST", "/api/dashboards/db") => {
            let mut d = body["dashboard"].clone();
            let uid = d["uid"].as_str().unwrap_or("").to_string();
            let folder = body["folderUid"].as_str().unwrap_or("").to_string();
            if uid.is_empty() || body["overwrite"] != true || !st.folders.contains_key(&folder) {
                return (400, json!({"message": "bad request"}));
            }
            let (id, version) = match st.dashboards.get(&uid) {
                Some(old) => (old.json["id"].clone(), old.version + 1),
                None => {
                    st.next_id += 1;
                    (json!(st.next_id), 1)
                }
            };
            d["id"] = id.clone();
            d["version"] = json!(version);
            st.dashboards.insert(
                uid.clone(),
                Dash {
                    json: d,
                    folder,
                    version,
                },
            );
            (
                200,
                json!({"id": id, "uid": uid, "url": format!("/d/{uid}/x"), "status": "success", "version": version}),
            )
        }
        ("GET", "/api/search") => {
            let tag = query_param(path, "tag").unwrap_or("");
            let folder = query_param(path, "folderUIDs").unwrap_or("");
            if query_param(path, "page").unwrap_or("1") != "1" {
                return (200, json!([]));
            }
            let hits: Vec<Value> = st
                .dashboards
                .iter()
                .filter(|(_, d)| {
                    d.folder == folder
                        && d.json["tags"]
                            .as_array()
                            .is_some_and(|t| t.iter().any(|x| x == tag))
                })
                .map(|(uid, d)| {
                    json!({"uid": uid, "title": d.json["title"], "tags": d.json["tags"],
                           "folderUid": d.folder, "type": "dash-db"})
                })
                .collect();
            (200, Value::Array(hits))
        }
        ("GET", p) if p.starts_with("/api/dashboards/uid/") => {
            match st.dashboards.get(&p["/api/dashboards/uid/".len()..]) {
                Some(d) => (
                    200,
                    json!({"dashboard": d.json, "meta": {"folderUid": d.folder, "version": d.version}}),
                ),
                None => (404, json!({"message": "Dashboard not found"})),
            }
        }
        ("DELETE", p) if p.starts_with("/api/dashboards/uid/") => {
            match st.dashboards.remove(&p["/api/dashboards/uid/".len()..]) {
                Some(_) => (200, json!({"message": "deleted"})),
                None => (404, json!({"message": "Dashboard not found"})),
            }
        }
        _ => (
            500,
            json!({"message": format!("unexpected {method} {path}")}),
        ),
    }
}

fn serve_one(stream: TcpStream, st: &Mutex<GState>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let Ok(clone) = stream.try_clone() else {
        return;
    };
    let mut r = BufReader::new(clone);
    let mut line = String::new();
    if r.read_line(&mut line).is_err() {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let (mut len, mut auth) = (0usize, String::new());
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).is_err() || h == "\r\n" || h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':').unwrap_or(("", ""));
        match k.to_ascii_lowercase().as_str() {
            "content-length" => len = v.trim().parse().unwrap_or(0),
            "authorization" => auth = v.trim().to_string(),
            _ => {}
        }
    }
    let mut raw = vec![0; len];
    if r.read_exact(&mut raw).is_err() {
        return;
    }
    let body: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    let (status, resp) = {
        let mut g = st.lock().expect("lock");
        g.requests.push(Req {
            method: method.clone(),
            path: path.clone(),
            body: body.clone(),
        });
        if auth != format!("Bearer {TOKEN}") {
            (401, json!({"message": "invalid API key"}))
        } else {
            handle(&mut g, &method, &path, &body)
        }
    };
    let resp = resp.to_string();
    let mut w = stream;
    let _ = write!(
        w,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{resp}",
        resp.len()
    );
}

impl FakeGrafana {
    fn start(port: u16, state: Arc<Mutex<GState>>) -> FakeGrafana {
        let l = TcpListener::bind(("127.0.0.1", port)).expect("bind fake grafana");
        l.set_nonblocking(true).expect("nonblocking");
        let stop = Arc::new(AtomicBool::new(false));
        let (st, stop2) = (state.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !stop2.load(Ordering::SeqCst) {
                match l.accept() {
                    Ok((s, _)) => {
                        let _ = s.set_nonblocking(false);
                        let st = st.clone();
                        std::thread::spawn(move || serve_one(s, &st));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        FakeGrafana {
            port,
            state,
            stop,
            thread: Some(thread),
        }
    }

    /// Closes the listener: connections are refused until [`FakeGrafana::start`].
    fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn requests(&self) -> Vec<Req> {
        self.state.lock().expect("lock").requests.clone()
    }

    fn dashboard(&self, uid: &str) -> Option<Dash> {
        self.state
            .lock()
            .expect("lock")
            .dashboards
            .get(uid)
            .cloned()
    }

    fn uids(&self) -> Vec<String> {
        self.state
            .lock()
            .expect("lock")
            .dashboards
            .keys()
            .cloned()
            .collect()
    }
}

impl Drop for FakeGrafana {
    fn drop(&mut self) {
        self.stop();
    }
}

// ---------------------------------------------------------------------------------
// Helpers

fn wait<T>(what: &str, mut f: impl FnMut() -> Option<T>, context: impl Fn() -> String) -> T {
    let end = Instant::now() + DEADLINE;
    loop {
        if let Some(v) = f() {
            return v;
        }
        if Instant::now() >= end {
            panic!("{what}: not after {DEADLINE:?}\n{}", context());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn get_json(addr: &str, path: &str) -> Value {
    http_get(addr, path)
        .ok()
        .and_then(|r| serde_json::from_slice(&r.body).ok())
        .unwrap_or(Value::Null)
}

/// Active targets: (job, labels, discovered labels, health, scrape URL).
fn active_targets(prom: &Prometheus) -> Vec<(String, Value, Value, String, String)> {
    let v = get_json(&prom.addr(), "/api/v1/targets?state=active");
    v["data"]["activeTargets"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            (
                t["labels"]["job"].as_str().unwrap_or("").to_string(),
                t["labels"].clone(),
                t["discoveredLabels"].clone(),
                t["health"].as_str().unwrap_or("").to_string(),
                t["scrapeUrl"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// The flows whose rules Prometheus has loaded: the `flow` label of each
/// `rtmon:flow:info` topology rule (the constant rules are shared by all flows).
fn loaded_flows(prom: &Prometheus) -> Vec<String> {
    let v = get_json(&prom.addr(), "/api/v1/rules");
    v["data"]["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|g| g["rules"].as_array().into_iter().flatten())
        .filter(|r| r["name"] == "rtmon:flow:info")
        .filter_map(|r| r["labels"]["flow"].as_str().map(str::to_string))
        .collect()
}

fn flow_yaml(id: &str, title: &str, hosts: &[&str], switch: Option<&str>) -> String {
    let host = |n: usize, ip: &str| {
        format!("  - host: h{n}\n    instance: {ip}\n    interface: lo\n    ip: {ip}\n")
    };
    let mut y = format!("flow: {id}\ntitle: {title}\npath:\n");
    y.push_str(&host(1, hosts[0]));
    if let Some(t) = switch {
        y.push_str(&format!(
            "  - switch: sw1\n    target: {t}\n    auth: site_v2\n    modules: [if_mib, bridge_fdb]\n    in: {{port: \"Ethernet1/1\"}}\n    out: {{port: \"Ethernet1/2\"}}\n"
        ));
    }
    y.push_str(&host(2, hosts[1]));
    y
}

fn write_atomic(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp-write");
    std::fs::write(&tmp, text).expect("write flow");
    std::fs::rename(&tmp, path).expect("rename flow");
}

struct Sync {
    proc: Proc,
    addr: String,
    log: PathBuf,
}

impl Sync {
    fn metrics(&self) -> String {
        http_get(&self.addr, "/metrics")
            .map(|r| r.text())
            .unwrap_or_default()
    }
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        sample_value(&self.metrics(), name, labels)
    }
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

#[allow(clippy::too_many_arguments)]
fn start_sync(
    dir: &Path,
    n: usize,
    flows: &Path,
    grafana: &str,
    token: &Path,
    rules: &Path,
    targets: &Path,
    ports: (u16, u16, u16),
    prom: &str,
) -> Sync {
    let addr = format!("127.0.0.1:{}", free_port());
    let log = dir.join(format!("sync-{n}.log"));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rtmon-dashboards"));
    cmd.arg("sync")
        .arg("--flows-dir")
        .arg(flows)
        .args(["--grafana", grafana, "--token-file"])
        .arg(token)
        .arg("--rules-file")
        .arg(rules)
        .arg("--targets-dir")
        .arg(targets)
        .arg(format!("--node-port={}", ports.0))
        .arg(format!("--arp-port={}", ports.1))
        .arg(format!("--ping-port={}", ports.2))
        .args(["--prometheus-reload-url", prom])
        .args(["--eval-interval=1s", "--alert-for=5s"])
        .args(["--resync-interval=1h", "--debounce=100ms"])
        .args(["--retry-min=200ms", "--retry-max=1s", "--http-timeout=5s"])
        .arg(format!("--web.listen-address={addr}"));
    let proc = Proc::spawn("sync", cmd, Some(&log)).expect("start sync");
    let s = Sync { proc, addr, log };
    wait(
        "sync answers /-/healthy",
        || {
            http_get(&s.addr, "/-/healthy")
                .ok()
                .filter(|r| r.status == 200)
        },
        || s.log(),
    );
    s
}

fn changing(reqs: &[Req]) -> Vec<String> {
    reqs.iter()
        .filter(|r| r.method != "GET")
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

// ---------------------------------------------------------------------------------

#[test]
fn sync_keeps_grafana_rules_and_targets_in_step_with_the_flow_files() {
    let bins: Vec<PathBuf> = [
        "rtmon-node-exporter",
        "rtmon-arp-exporter",
        "rtmon-ping-exporter",
        "rtmon-snmp-exporter",
    ]
    .iter()
    .map(|b| workspace_bin(b))
    .collect();
    let mut needs: Vec<String> = vec![PROMETHEUS_BIN.to_string()];
    needs.extend(bins.iter().map(|b| b.display().to_string()));
    let needs: Vec<&str> = needs.iter().map(String::as_str).collect();
    if !rtmon_testkit::available("sync_e2e", &needs, false) {
        return;
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let flows = dir.join("flows");
    let targets = dir.join("targets");
    let rules_dir = dir.join("rules");
    for d in [&flows, &targets, &rules_dir] {
        std::fs::create_dir_all(d).expect("mkdir");
    }
    let rules = rules_dir.join("rtmon-flows.yml");
    let token = dir.join("token");
    std::fs::write(&token, format!("{TOKEN}\n")).expect("token");

    // Exporters: node/arp/ping on two loopback addresses, the SNMP exporter with the
    // auth the flows name.
    let (np, ap, pp, sp) = (free_port(), free_port(), free_port(), free_port());
    let mut procs = Vec::new();
    for ip in ["127.0.0.2", "127.0.0.3"] {
        for (bin, port) in [(&bins[0], np), (&bins[1], ap), (&bins[2], pp)] {
            let mut c = Command::new(bin);
            c.arg(format!("--web.listen-address={ip}:{port}"));
            if bin == &bins[1] {
                c.arg(format!("--arp.state-file={}/arp-{ip}.json", dir.display()));
            }
            let name = format!(
                "{}-{ip}",
                bin.file_name().unwrap_or_default().to_string_lossy()
            );
            procs.push(
                Proc::spawn(&name, c, Some(&dir.join(format!("{name}.log")))).expect("exporter"),
            );
        }
    }
    let snmp_cfg = dir.join("snmp.yml");
    std::fs::write(&snmp_cfg, "auths:\n  site_v2:\n    community: public\n").expect("snmp.yml");
    let mut c = Command::new(&bins[3]);
    c.arg(format!("--web.listen-address=127.0.0.1:{sp}"))
        .arg(format!("--config.file={}", snmp_cfg.display()));
    procs.push(Proc::spawn("snmp", c, Some(&dir.join("snmp.log"))).expect("snmp exporter"));
    // A switch address nobody answers on (the exporter still answers, with snmp_up 0).
    let switch = format!("127.0.0.1:{}", free_udp_port());

    // Prometheus: the relabelling of deploy/prometheus/prometheus.yml, files in `dir`.
    let t = targets.display();
    let scrape = format!(
        "  - job_name: node\n    file_sd_configs: [{{files: ['{t}/node-*.yml']}}]\n\
         \x20 - job_name: arp\n    file_sd_configs: [{{files: ['{t}/arp-*.yml']}}]\n\
         \x20 - job_name: ping\n    file_sd_configs: [{{files: ['{t}/ping-*.yml']}}]\n\
         \x20 - job_name: snmp\n    metrics_path: /snmp\n    scrape_timeout: 1s\n    file_sd_configs: [{{files: ['{t}/snmp-*.yml']}}]\n\
         \x20   relabel_configs:\n\
         \x20     - {{source_labels: [__address__], target_label: __param_target}}\n\
         \x20     - {{source_labels: [__param_target], target_label: instance}}\n\
         \x20     - {{source_labels: [auth], regex: '(.+)', target_label: __param_auth}}\n\
         \x20     - {{source_labels: [module], regex: '(.+)', target_label: __param_module}}\n\
         \x20     - {{regex: 'auth|module', action: labeldrop}}\n\
         \x20     - {{target_label: __address__, replacement: '127.0.0.1:{sp}'}}\n\
         rule_files: ['{}/*.yml']\n",
        rules_dir.display()
    );
    let prom = Prometheus::start_with(PromConfig {
        scrape_configs: scrape,
        ..Default::default()
    })
    .expect("prometheus");

    // Grafana: its folder exists with a dashboard the service owns but no flow backs,
    // an untagged one in the folder and a tagged one elsewhere.
    let gstate = Arc::new(Mutex::new(GState::default()));
    {
        let mut g = gstate.lock().expect("lock");
        g.folders.insert("rtmon".into(), "rtmon".into());
        g.folders.insert("other".into(), "other".into());
        for (uid, folder, tags) in [
            ("stale-owned", "rtmon", json!(["rtmon", "rtmon-sync"])),
            ("hand-made", "rtmon", json!(["rtmon"])),
            ("elsewhere", "other", json!(["rtmon-sync"])),
        ] {
            g.dashboards.insert(
                uid.into(),
                Dash {
                    json: json!({"uid": uid, "title": uid, "tags": tags, "id": 100, "version": 3}),
                    folder: folder.into(),
                    version: 3,
                },
            );
        }
    }
    let gport = free_port();
    let mut grafana = FakeGrafana::start(gport, gstate.clone());

    // 1. No flows yet.
    let ports = (np, ap, pp);
    let mut sync = start_sync(
        dir,
        1,
        &flows,
        &grafana.url(),
        &token,
        &rules,
        &targets,
        ports,
        &prom.url(),
    );
    wait(
        "the stale owned dashboard is deleted",
        || grafana.dashboard("stale-owned").is_none().then_some(()),
        || sync.log(),
    );
    assert!(grafana.dashboard("hand-made").is_some());
    assert!(grafana.dashboard("elsewhere").is_some());
    assert_eq!(
        changing(&grafana.requests()),
        vec!["DELETE /api/dashboards/uid/stale-owned"]
    );

    // 2. Two flows appear.
    let f1 = flows.join("f1.yml");
    let f2 = flows.join("f2.yml");
    write_atomic(
        &f1,
        &flow_yaml("f1", "Flow one", &["127.0.0.2", "127.0.0.3"], Some(&switch)),
    );
    write_atomic(
        &f2,
        &flow_yaml("f2", "Flow two", &["127.0.0.2", "127.0.0.4"], None),
    );
    let d1 = wait(
        "both dashboards appear",
        || {
            let a = grafana.dashboard("rtmon-f1")?;
            grafana.dashboard("rtmon-f2")?;
            Some(a)
        },
        || sync.log(),
    );
    assert_eq!(d1.folder, "rtmon");
    assert_eq!(d1.version, 1);
    assert_eq!(d1.json["title"], "rtmon: Flow one");
    // With the flows, the fleet overview (owned like them).
    let fleet = wait(
        "the fleet overview appears",
        || grafana.dashboard("rtmon-fleet"),
        || sync.log(),
    );
    assert_eq!(fleet.folder, "rtmon");
    assert!(fleet.json["tags"]
        .as_array()
        .is_some_and(|t| t.contains(&json!("rtmon-sync"))));
    assert!(d1.json["tags"]
        .as_array()
        .is_some_and(|t| t.contains(&json!("rtmon-sync"))));
    for r in grafana
        .requests()
        .iter()
        .filter(|r| r.path == "/api/dashboards/db")
    {
        assert_eq!(r.body["overwrite"], true);
        assert_eq!(r.body["folderUid"], "rtmon");
        assert!(r.body["dashboard"]["id"].is_null());
    }
    let up = |job: &str, inst: &str| {
        let q = format!("up{{job=\"{job}\",instance=\"{inst}\"}}");
        prom.query(&q).ok().and_then(|r| r.first().map(|x| x.1))
    };
    wait(
        "f1's hosts and switch are scraped and up",
        || {
            let all = [
                up("node", "127.0.0.2"),
                up("node", "127.0.0.3"),
                up("arp", "127.0.0.3"),
                up("ping", "127.0.0.3"),
                up("snmp", &switch),
            ];
            all.iter().all(|v| *v == Some(1.0)).then_some(())
        },
        || format!("{:#?}\n{}", active_targets(&prom), sync.log()),
    );
    let ts = active_targets(&prom);
    let snmp: Vec<_> = ts.iter().filter(|t| t.0 == "snmp").collect();
    assert_eq!(snmp.len(), 1, "{ts:#?}");
    assert_eq!(snmp[0].1["instance"], switch.as_str());
    assert!(
        snmp[0].1.get("auth").is_none(),
        "labels dropped: {:?}",
        snmp[0].1
    );
    assert_eq!(snmp[0].2["auth"], "site_v2");
    let url = &snmp[0].4;
    assert!(
        url.contains("auth=site_v2") && url.contains("module=bridge_fdb%2Cif_mib"),
        "{url}"
    );
    assert!(url.contains(&format!("127.0.0.1:{sp}/snmp")), "{url}");
    let node_insts: Vec<String> = ts
        .iter()
        .filter(|t| t.0 == "node")
        .map(|t| t.1["instance"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(node_insts.len(), 3, "each host once: {node_insts:?}");
    wait(
        "both rule groups load",
        || {
            let g = loaded_flows(&prom);
            (g.contains(&"f1".to_string()) && g.contains(&"f2".to_string())).then_some(())
        },
        || sync.log(),
    );
    assert_eq!(sync.value("rtmon_sync_flows", &[]), Some(2.0));

    // 3. Edit f1: updated in place.
    let before = grafana.requests().len();
    write_atomic(
        &f1,
        &flow_yaml(
            "f1",
            "Flow one, edited",
            &["127.0.0.2", "127.0.0.3"],
            Some(&switch),
        ),
    );
    let d1 = wait(
        "f1's dashboard is updated",
        || grafana.dashboard("rtmon-f1").filter(|d| d.version == 2),
        || sync.log(),
    );
    assert_eq!(d1.json["title"], "rtmon: Flow one, edited");
    assert_eq!(d1.json["uid"], "rtmon-f1");
    std::thread::sleep(Duration::from_millis(500));
    let step: Vec<String> = grafana.requests()[before..]
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(step, vec!["POST /api/dashboards/db"], "only f1 is written");
    assert_eq!(grafana.dashboard("rtmon-f2").map(|d| d.version), Some(1));

    // 4. Break f1 while f2 changes: f1 keeps its last good state, f2 is synced.
    let errors_before = sync
        .value(
            "rtmon_sync_errors_total",
            &[("system", "flows"), ("reason", "invalid_flow")],
        )
        .unwrap_or(0.0);
    let broken = flow_yaml(
        "f1",
        "Flow one, broken",
        &["127.0.0.2", "127.0.0.3"],
        Some(&switch),
    )
    .replace(
        "    interface: lo\n    ip: 127.0.0.3",
        "    interfce: lo\n    ip: 127.0.0.3",
    );
    write_atomic(&f1, &broken);
    write_atomic(
        &f2,
        &flow_yaml("f2", "Flow two, edited", &["127.0.0.2", "127.0.0.4"], None),
    );
    wait(
        "f2's dashboard is updated while f1 is broken",
        || grafana.dashboard("rtmon-f2").filter(|d| d.version == 2),
        || sync.log(),
    );
    wait(
        "the broken file is reported",
        || {
            (sync.value("rtmon_sync_flow_file_invalid", &[("file", "f1.yml")]) == Some(1.0))
                .then_some(())
        },
        || sync.metrics(),
    );
    assert_eq!(sync.value("rtmon_sync_flow_files_invalid", &[]), Some(1.0));
    assert!(
        sync.value(
            "rtmon_sync_errors_total",
            &[("system", "flows"), ("reason", "invalid_flow")]
        )
        .unwrap_or(0.0)
            > errors_before
    );
    let log = sync.log();
    let line = broken
        .lines()
        .position(|l| l.contains("interfce"))
        .expect("line")
        + 1;
    assert!(
        log.contains(&format!("f1.yml:{line}:5: unknown key `interfce`")),
        "{log}"
    );
    let d1 = grafana.dashboard("rtmon-f1").expect("f1 kept");
    assert_eq!(
        (d1.version, d1.json["title"].clone()),
        (2, json!("rtmon: Flow one, edited"))
    );
    assert_eq!(sync.value("rtmon_sync_flows", &[]), Some(2.0));
    let rules_text = std::fs::read_to_string(&rules).expect("rules");
    assert!(rules_text.contains("flow: \"f1\"") && rules_text.contains("flow: \"f2\""));

    // 5. Delete f1: its dashboard, targets and rules go; f2's stay.
    std::fs::remove_file(&f1).expect("rm f1");
    wait(
        "f1's dashboard is deleted",
        || grafana.dashboard("rtmon-f1").is_none().then_some(()),
        || sync.log(),
    );
    wait(
        "f1's rules and own targets go",
        || {
            let g = loaded_flows(&prom);
            let ts = active_targets(&prom);
            let gone = !g.contains(&"f1".to_string())
                && g.contains(&"f2".to_string())
                && !ts.iter().any(|t| t.0 == "snmp")
                && !ts.iter().any(|t| t.1["instance"] == "127.0.0.3")
                && ts
                    .iter()
                    .any(|t| t.0 == "node" && t.1["instance"] == "127.0.0.2");
            gone.then_some(())
        },
        || format!("{:?}\n{:#?}", loaded_flows(&prom), active_targets(&prom)),
    );
    assert!(grafana.dashboard("rtmon-f2").is_some());
    assert!(grafana.dashboard("hand-made").is_some() && grafana.dashboard("elsewhere").is_some());
    assert_eq!(sync.value("rtmon_sync_flows", &[]), Some(1.0));
    assert_eq!(sync.value("rtmon_sync_flow_files_invalid", &[]), Some(0.0));

    // 6. Restart: nothing that changes anything.
    sync.proc.signal(15); // SIGTERM
    assert!(sync.proc.wait_timeout(Duration::from_secs(10)).is_some());
    let mtimes = |d: &Path| -> Vec<(PathBuf, std::time::SystemTime)> {
        let mut v: Vec<_> = std::fs::read_dir(d)
            .expect("ls")
            .flatten()
            .map(|e| {
                (
                    e.path(),
                    e.metadata().and_then(|m| m.modified()).expect("mtime"),
                )
            })
            .collect();
        v.sort();
        v
    };
    let files_before = (mtimes(&targets), mtimes(&rules_dir));
    let before = grafana.requests().len();
    let sync = start_sync(
        dir,
        2,
        &flows,
        &grafana.url(),
        &token,
        &rules,
        &targets,
        ports,
        &prom.url(),
    );
    wait(
        "the restarted service finishes its first pass",
        || (sync.value("rtmon_sync_up", &[("system", "grafana")]) == Some(1.0)).then_some(()),
        || sync.log(),
    );
    let reqs = grafana.requests()[before..].to_vec();
    assert!(!reqs.is_empty(), "the restart reads Grafana");
    assert_eq!(changing(&reqs), Vec::<String>::new(), "{reqs:#?}");
    assert_eq!((mtimes(&targets), mtimes(&rules_dir)), files_before);
    assert!(
        !sync.metrics().contains("rtmon_sync_changes_total{"),
        "{}",
        sync.metrics()
    );

    // 7. Grafana down: Prometheus keeps syncing; Grafana converges when it is back.
    grafana.stop();
    let f3 = flows.join("f3.yml");
    write_atomic(
        &f3,
        &flow_yaml("f3", "Flow three", &["127.0.0.3", "127.0.0.2"], None),
    );
    wait(
        "f3's rules load while Grafana is down",
        || {
            loaded_flows(&prom)
                .contains(&"f3".to_string())
                .then_some(())
        },
        || sync.log(),
    );
    wait(
        "the Grafana failure is counted",
        || {
            (sync.value("rtmon_sync_up", &[("system", "grafana")]) == Some(0.0)
                && sync
                    .value(
                        "rtmon_sync_errors_total",
                        &[("system", "grafana"), ("reason", "unreachable")],
                    )
                    .is_some_and(|n| n >= 2.0))
            .then_some(())
        },
        || sync.metrics(),
    );
    std::thread::sleep(Duration::from_secs(3));
    let grafana = FakeGrafana::start(gport, gstate.clone());
    let d3 = wait(
        "f3's dashboard arrives after Grafana is back",
        || grafana.dashboard("rtmon-f3"),
        || sync.log(),
    );
    assert_eq!(d3.version, 1);
    wait(
        "Grafana is reported up again",
        || (sync.value("rtmon_sync_up", &[("system", "grafana")]) == Some(1.0)).then_some(()),
        || sync.metrics(),
    );
    let uploads_f3 = grafana
        .requests()
        .iter()
        .filter(|r| r.path == "/api/dashboards/db" && r.body["dashboard"]["uid"] == "rtmon-f3")
        .count();
    assert_eq!(uploads_f3, 1, "uploaded once");
    let mut uids = grafana.uids();
    uids.sort();
    assert_eq!(
        uids,
        vec![
            "elsewhere",
            "hand-made",
            "rtmon-f2",
            "rtmon-f3",
            "rtmon-fleet"
        ]
    );
    let log = sync.log();
    assert!(!log.contains(TOKEN), "token leaked into the log");
    drop(procs);
}

#[test]
fn targets_command_writes_lists_promtool_accepts_and_rewrites_nothing_unchanged() {
    if !rtmon_testkit::available(
        "targets_promtool",
        &[rtmon_testkit::prom::PROMTOOL_BIN],
        false,
    ) {
        return;
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let out = tmp.path().join("targets");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let flows: Vec<PathBuf> = ["one-switch.yml", "two-switches.yml", "two-vlans.yml"]
        .iter()
        .map(|f| root.join("config_flow").join(f))
        .collect();
    let run = || {
        let o = Command::new(env!("CARGO_BIN_EXE_rtmon-dashboards"))
            .arg("targets")
            .args(&flows)
            .arg("--out")
            .arg(&out)
            .arg("--node-port=19100")
            .output()
            .expect("run targets");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let listed = run();
    assert_eq!(listed.lines().count(), 4, "{listed}");
    let node = std::fs::read_to_string(out.join("node-flows.yml")).expect("node list");
    assert!(
        node.contains(
            "- targets: [\"198.51.100.16:19100\"]\n  labels: {instance: \"198.51.100.16\"}"
        ),
        "{node}"
    );
    let snmp = std::fs::read_to_string(out.join("snmp-flows.yml")).expect("snmp list");
    assert!(
        snmp.contains(
            "- targets: [\"192.0.2.1\"]\n  labels: {auth: \"site_v2\", module: \"bridge_fdb,if_mib\"}"
        ),
        "{snmp}"
    );
    // Unchanged input: the files are not replaced (same inode, same mtime).
    let meta = |n: &str| {
        use std::os::unix::fs::MetadataExt as _;
        let m = std::fs::metadata(out.join(n)).expect("meta");
        (m.ino(), m.mtime_nsec())
    };
    let before: Vec<_> = targets_files().iter().map(|n| meta(n)).collect();
    run();
    let after: Vec<_> = targets_files().iter().map(|n| meta(n)).collect();
    assert_eq!(before, after);

    // promtool reads the lists through a config using the documented relabelling.
    let cfg = tmp.path().join("prometheus.yml");
    let o = out.display();
    std::fs::write(
        &cfg,
        format!(
            "scrape_configs:\n  - job_name: node\n    file_sd_configs: [{{files: ['{o}/node-*.yml']}}]\n  - job_name: snmp\n    metrics_path: /snmp\n    file_sd_configs: [{{files: ['{o}/snmp-*.yml']}}]\n    relabel_configs:\n      - {{source_labels: [__address__], target_label: __param_target}}\n      - {{source_labels: [__param_target], target_label: instance}}\n      - {{source_labels: [auth], regex: '(.+)', target_label: __param_auth}}\n      - {{source_labels: [module], regex: '(.+)', target_label: __param_module}}\n      - {{regex: 'auth|module', action: labeldrop}}\n      - {{target_label: __address__, replacement: 'snmp-exporter:9116'}}\n"
        ),
    )
    .expect("config");
    let p = Command::new(rtmon_testkit::prom::PROMTOOL_BIN)
        .args(["check", "config"])
        .arg(&cfg)
        .output()
        .expect("promtool");
    let text =
        String::from_utf8_lossy(&p.stdout).into_owned() + &String::from_utf8_lossy(&p.stderr);
    assert!(p.status.success(), "{text}");
    assert!(text.contains("SUCCESS"), "{text}");
    // A broken list is refused by promtool (so the check above can fail).
    std::fs::write(out.join("node-broken.yml"), "- targets: 3\n").expect("write");
    let p = Command::new(rtmon_testkit::prom::PROMTOOL_BIN)
        .args(["check", "config"])
        .arg(&cfg)
        .output()
        .expect("promtool");
    assert!(!p.status.success());
}

fn targets_files() -> [&'static str; 4] {
    rtmon_dashboards::targets::FILES
}

#[test]
fn sync_refuses_bad_flags_and_a_missing_directory_clearly() {
    let run = |args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_rtmon-dashboards"))
            .arg("sync")
            .args(args)
            .env_remove("GRAFANA_TOKEN")
            .output()
            .expect("run sync");
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let (code, err) = run(&["--flows-dir", "/nonexistent"]);
    assert_eq!(code, 2);
    assert!(err.contains("nothing to sync"), "{err}");
    let (code, err) = run(&["--flows-dir", "/x", "--grafana", "http://127.0.0.1:9"]);
    assert_eq!(code, 2);
    assert!(err.contains("GRAFANA_TOKEN"), "{err}");
    let (code, err) = run(&[
        "--flows-dir",
        "/x",
        "--rules-file",
        "/tmp/r.yml",
        "--alert-for",
        "2 m",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("--alert-for"), "{err}");
    let tmp = tempfile::tempdir().expect("tmp");
    let missing = tmp.path().join("no-such-dir");
    let rules = tmp.path().join("r.yml");
    let (code, err) = run(&[
        "--flows-dir",
        &missing.display().to_string(),
        "--rules-file",
        &rules.display().to_string(),
        "--web.listen-address=127.0.0.1:0",
    ]);
    assert_eq!(code, 1);
    assert!(
        err.contains("no-such-dir") && err.contains("not a directory"),
        "{err}"
    );
}

/// The periodic full resync puts right a dashboard edited in Grafana (Grafana only, no
/// Prometheus side), and leaves an unchanged one alone.
#[test]
fn full_resync_repairs_a_dashboard_edited_in_grafana() {
    let tmp = tempfile::tempdir().expect("tmp");
    let flows = tmp.path().join("flows");
    std::fs::create_dir_all(&flows).expect("mkdir");
    for id in ["g1", "g2"] {
        std::fs::write(
            flows.join(format!("{id}.yml")),
            flow_yaml(id, id, &["192.0.2.1", "192.0.2.2"], None),
        )
        .expect("flow");
    }
    let token = tmp.path().join("token");
    std::fs::write(&token, TOKEN).expect("token");
    let gstate = Arc::new(Mutex::new(GState::default()));
    let grafana = FakeGrafana::start(free_port(), gstate.clone());
    let addr = format!("127.0.0.1:{}", free_port());
    let log = tmp.path().join("sync.log");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rtmon-dashboards"));
    cmd.arg("sync")
        .arg("--flows-dir")
        .arg(&flows)
        .args(["--grafana", &grafana.url(), "--folder", "Flows"])
        .arg("--token-file")
        .arg(&token)
        .args([
            "--resync-interval=1s",
            "--retry-min=200ms",
            "--retry-max=1s",
        ])
        .arg(format!("--web.listen-address={addr}"));
    let _proc = Proc::spawn("sync", cmd, Some(&log)).expect("start sync");
    let ctx = || std::fs::read_to_string(&log).unwrap_or_default();
    wait(
        "both dashboards appear",
        || {
            (grafana.dashboard("rtmon-g1")?.folder == "flows")
                .then_some(grafana.dashboard("rtmon-g2")?)
        },
        ctx,
    );
    assert_eq!(
        gstate
            .lock()
            .expect("lock")
            .folders
            .get("flows")
            .map(String::as_str),
        Some("Flows")
    );
    // Ready once the first pass is done (it ends after the fleet overview, which may
    // still be on its way when both flow dashboards are there).
    wait(
        "ready after the first pass",
        || (http_get(&addr, "/-/ready").ok()?.status == 200).then_some(()),
        ctx,
    );
    assert!(
        grafana.dashboard("rtmon-fleet").is_some(),
        "the fleet overview is synced"
    );
    // Someone edits g1 in Grafana.
    {
        let mut g = gstate.lock().expect("lock");
        let d = g.dashboards.get_mut("rtmon-g1").expect("g1");
        d.json["title"] = json!("edited by hand");
        d.version += 1;
    }
    let d = wait(
        "the full resync restores g1",
        || {
            grafana
                .dashboard("rtmon-g1")
                .filter(|d| d.json["title"] == "rtmon: g1")
        },
        ctx,
    );
    assert_eq!(
        d.version, 3,
        "hand edit was version 2, the repair version 3"
    );
    assert_eq!(grafana.dashboard("rtmon-g2").map(|d| d.version), Some(1));
    let posts_g2 = grafana
        .requests()
        .iter()
        .filter(|r| r.path == "/api/dashboards/db" && r.body["dashboard"]["uid"] == "rtmon-g2")
        .count();
    assert_eq!(posts_g2, 1, "g2 was written once, when it was created");
}

/// A Kubernetes ConfigMap mounted as a directory: `f.yml -> ..data/f.yml`, `..data ->
/// ..<timestamp>/`; the kubelet updates it by swapping `..data`. The watch sees that.
#[test]
fn configmap_style_symlink_swap_is_picked_up() {
    use std::os::unix::fs::symlink;
    let tmp = tempfile::tempdir().expect("tmp");
    let flows = tmp.path().join("flows");
    let v1 = flows.join("..2026_01_01_v1");
    std::fs::create_dir_all(&v1).expect("mkdir");
    std::fs::write(
        v1.join("cm.yml"),
        flow_yaml("cm", "Version one", &["192.0.2.1", "192.0.2.2"], None),
    )
    .expect("flow");
    symlink("..2026_01_01_v1", flows.join("..data")).expect("..data");
    symlink("..data/cm.yml", flows.join("cm.yml")).expect("cm.yml");
    let token = tmp.path().join("token");
    std::fs::write(&token, TOKEN).expect("token");
    let gstate = Arc::new(Mutex::new(GState::default()));
    let grafana = FakeGrafana::start(free_port(), gstate);
    let log = tmp.path().join("sync.log");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rtmon-dashboards"));
    cmd.arg("sync")
        .arg("--flows-dir")
        .arg(&flows)
        .args(["--grafana", &grafana.url()])
        .arg("--token-file")
        .arg(&token)
        .args(["--resync-interval=1h", "--debounce=100ms"])
        .arg(format!("--web.listen-address=127.0.0.1:{}", free_port()));
    let _proc = Proc::spawn("sync", cmd, Some(&log)).expect("start sync");
    let ctx = || std::fs::read_to_string(&log).unwrap_or_default();
    wait(
        "the dashboard appears",
        || grafana.dashboard("rtmon-cm"),
        ctx,
    );
    // The kubelet's update: a new timestamped directory, `..data` swapped by rename.
    let v2 = flows.join("..2026_01_01_v2");
    std::fs::create_dir_all(&v2).expect("mkdir");
    std::fs::write(
        v2.join("cm.yml"),
        flow_yaml("cm", "Version two", &["192.0.2.1", "192.0.2.2"], None),
    )
    .expect("flow");
    symlink("..2026_01_01_v2", flows.join("..data_tmp")).expect("..data_tmp");
    std::fs::rename(flows.join("..data_tmp"), flows.join("..data")).expect("swap");
    std::fs::remove_dir_all(&v1).expect("rm old");
    let d = wait(
        "the swap is seen (well before the hourly resync)",
        || grafana.dashboard("rtmon-cm").filter(|d| d.version == 2),
        ctx,
    );
    assert_eq!(d.json["title"], "rtmon: Version two");
}

/// `--topology-file`: the rules file leaves the topology rules out and the topology is
/// written in the text format instead — rows of every flow, gone with its file.
#[test]
fn sync_writes_the_topology_for_scraping_when_asked() {
    let tmp = tempfile::tempdir().expect("tmp");
    let flows = tmp.path().join("flows");
    std::fs::create_dir_all(&flows).expect("mkdir");
    for id in ["ta", "tb"] {
        write_atomic(
            &flows.join(format!("{id}.yml")),
            &flow_yaml(id, id, &["192.0.2.1", "192.0.2.2"], Some("192.0.2.9")),
        );
    }
    let rules = tmp.path().join("rules.yml");
    let topo = tmp.path().join("rtmon-topology.prom");
    let log = tmp.path().join("sync.log");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rtmon-dashboards"));
    cmd.arg("sync")
        .arg("--flows-dir")
        .arg(&flows)
        .arg("--rules-file")
        .arg(&rules)
        .arg("--topology-file")
        .arg(&topo)
        .args(["--resync-interval=1h", "--debounce=100ms"])
        .arg(format!("--web.listen-address=127.0.0.1:{}", free_port()));
    let _proc = Proc::spawn("sync", cmd, Some(&log)).expect("start sync");
    let ctx = || std::fs::read_to_string(&log).unwrap_or_default();
    let flows_in = |text: &str| -> Vec<String> {
        let mut v: Vec<String> = text
            .lines()
            .filter(|l| l.starts_with("rtmon:flow:info{"))
            .filter_map(|l| {
                l.split("flow=\"")
                    .nth(1)?
                    .split('"')
                    .next()
                    .map(String::from)
            })
            .collect();
        v.sort();
        v
    };
    let text = wait(
        "the topology of both flows is written",
        || {
            std::fs::read_to_string(&topo)
                .ok()
                .filter(|t| flows_in(t) == ["ta", "tb"])
        },
        ctx,
    );
    assert!(
        text.contains("# TYPE rtmon:flow_check:info gauge"),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("rtmon:flow_check:info{flow=\"ta\",hop=")
                && l.contains("check=\"snmp_up\"")),
        "{text}"
    );
    // The rules follow the topology (written first).
    let r = wait(
        "the rules file is written",
        || std::fs::read_to_string(&rules).ok(),
        ctx,
    );
    assert!(r.contains("name: rtmon-flows"), "{r}");
    assert!(
        !r.contains("rtmon-topology-"),
        "topology rules left out: {r}"
    );
    // A flow file removed: its rows go; the constant rules stay as they are.
    std::fs::remove_file(flows.join("tb.yml")).expect("rm");
    wait(
        "the removed flow's rows go",
        || {
            std::fs::read_to_string(&topo)
                .ok()
                .filter(|t| flows_in(t) == ["ta"])
        },
        ctx,
    );
    assert_eq!(std::fs::read_to_string(&rules).expect("rules"), r);
}
