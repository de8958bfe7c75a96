//! What the script exporter re-exposes is what Prometheus accepts, in both formats.
//!
//! Each document of the edge-case corpus and each of Prometheus's own parser test files
//! is printed by a script (`cat`). For every probe answer:
//! - the text answer is served as a static file to a real Prometheus, and the
//!   OpenMetrics answer is scraped by the same Prometheus through `/probe`: every target
//!   must be up (Prometheus fails a whole scrape on one bad line), and both must store
//!   exactly the series the parser kept, with the same values;
//! - `script_output_lines_dropped` equals the lines the parser dropped;
//! - `prometheus_client`'s strict OpenMetrics parser accepts the OpenMetrics answer.

#[path = "../../../shared/tests/support/mod.rs"]
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use rtmon::expo::parse::{parse_bytes, ParseOptions};
use rtmon::expo::OPENMETRICS_CONTENT_TYPE;
use rtmon_testkit::prom::{Prometheus, PROMETHEUS_BIN};
use rtmon_testkit::{available, free_port, http, http_get, sample_value, wait_for_port, Proc};

/// Serves the files of `dir` over HTTP as text 0.0.4 (a static exposition).
fn serve_dir(dir: PathBuf) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let dir = dir.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(conn.try_clone().expect("clone"));
                let mut first = String::new();
                if reader.read_line(&mut first).is_err() {
                    return;
                }
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                let path = first.split(' ').nth(1).unwrap_or("/");
                let name = path.trim_start_matches('/');
                let body = if name.contains('/') || name.contains("..") {
                    None
                } else {
                    std::fs::read(dir.join(name)).ok()
                };
                let (status, body) = match body {
                    Some(b) => ("200 OK", b),
                    None => ("404 Not Found", b"not found\n".to_vec()),
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = conn.write_all(head.as_bytes());
                let _ = conn.write_all(&body);
            });
        }
    });
    addr
}

/// A document printed by a script.
struct Case {
    name: String,
    input: Vec<u8>,
}

fn cases() -> Vec<Case> {
    let mut v: Vec<Case> = support::CORPUS
        .iter()
        .map(|d| Case {
            name: d.name.to_string(),
            input: d.input.to_vec(),
        })
        .collect();
    match support::upstream_dir() {
        Some(dir) => {
            for (file, _, _) in support::UPSTREAM {
                let name =
                    format!("up_{}", file.split('.').next().unwrap_or(file)).replace('-', "_");
                let input = std::fs::read(dir.join(file)).expect("read upstream file");
                v.push(Case { name, input });
            }
        }
        None => eprintln!(
            "upstream data absent (../shared/upstream-fixtures/prometheus-textparse): corpus only"
        ),
    }
    v
}

/// Series key without the target labels: `name{k="v",…}` sorted, for comparing.
type Series = BTreeMap<String, f64>;

fn key(name: &str, labels: &mut [(String, String)]) -> String {
    labels.sort();
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{name}{{{}}}", inner.join(","))
}

/// The series the parser keeps (those without a timestamp: Prometheus drops samples
/// whose timestamp is out of its bounds, which is not a parse matter).
fn expected(input: &[u8]) -> Series {
    let p = parse_bytes(input, &ParseOptions::default());
    let mut out = Series::new();
    for f in p.set.families() {
        for s in f.samples.iter().filter(|s| s.timestamp_ms.is_none()) {
            let mut l: Vec<(String, String)> = s
                .labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect();
            out.insert(
                key(&format!("{}{}", f.name, s.suffix), &mut l),
                s.value.as_f64(),
            );
        }
    }
    out
}

fn stored(prom: &Prometheus, job: &str) -> Series {
    let rows = prom
        .query(&format!(
            "{{job=\"{job}\",__name__!~\"up|scrape_.*|script_.*\"}}"
        ))
        .expect("query");
    let mut out = Series::new();
    for (labels, v) in rows {
        let name = labels.get("__name__").cloned().unwrap_or_default();
        let mut l: Vec<(String, String)> = labels
            .into_iter()
            .filter(|(k, _)| !matches!(k.as_str(), "__name__" | "job" | "instance"))
            .collect();
        out.insert(key(&name, &mut l), v);
    }
    out
}

fn same(a: &Series, b: &Series) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|((ka, va), (kb, vb))| {
            ka == kb && (va.to_bits() == vb.to_bits() || (va.is_nan() && vb.is_nan()))
        })
}

fn diff(a: &Series, b: &Series) -> String {
    let ka: BTreeSet<_> = a.keys().collect();
    let kb: BTreeSet<_> = b.keys().collect();
    let values: Vec<_> = a
        .iter()
        .filter(|(k, v)| {
            b.get(*k)
                .is_some_and(|w| w.to_bits() != v.to_bits() && !(v.is_nan() && w.is_nan()))
        })
        .collect();
    format!(
        "only in first: {:?}\nonly in second: {:?}\nvalues differ: {values:?} vs {:?}",
        ka.difference(&kb).collect::<Vec<_>>(),
        kb.difference(&ka).collect::<Vec<_>>(),
        values.iter().map(|(k, _)| b.get(*k)).collect::<Vec<_>>()
    )
}

fn start_exporter(dir: &Path, cases: &[Case]) -> (Proc, String) {
    let mut cfg = String::from("scripts:\n");
    for c in cases {
        let data = dir.join(format!("{}.out", c.name));
        std::fs::write(&data, &c.input).expect("write data");
        cfg.push_str(&format!(
            "  - name: {}\n    command: [/bin/cat, {}]\n",
            c.name,
            data.display()
        ));
    }
    let cfg_path = dir.join("script.yml");
    std::fs::write(&cfg_path, cfg).expect("cfg");
    let addr = format!("127.0.0.1:{}", free_port());
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rtmon-script-exporter"));
    cmd.arg(format!("--web.listen-address={addr}"))
        .arg(format!("--config.file={}", cfg_path.display()));
    let p = Proc::spawn(
        "rtmon-script-exporter",
        cmd,
        Some(&dir.join("exporter.log")),
    )
    .expect("spawn exporter");
    assert!(
        wait_for_port(&addr, Duration::from_secs(10)),
        "exporter did not listen: {}",
        std::fs::read_to_string(dir.join("exporter.log")).unwrap_or_default()
    );
    (p, addr)
}

#[test]
fn prometheus_and_a_strict_openmetrics_parser_accept_every_probe_answer() {
    if !available("script exporter conformance", &[PROMETHEUS_BIN], false) {
        return;
    }
    let Some(python) = support::python() else {
        assert!(
            !rtmon_testkit::strict(),
            "python with prometheus_client is required (RTMON_TEST_STRICT=1)"
        );
        eprintln!("SKIP: no python with prometheus_client");
        return;
    };
    let cases = cases();
    let dir = tempfile::tempdir().expect("tempdir");
    let static_dir = dir.path().join("static");
    std::fs::create_dir(&static_dir).expect("mkdir");
    let (_exporter, addr) = start_exporter(dir.path(), &cases);

    let mut om_answers = Vec::new();
    for c in &cases {
        let parsed = parse_bytes(&c.input, &ParseOptions::default());
        let path = format!("/probe?script={}", c.name);
        let text = http_get(&addr, &path).expect("probe (text)");
        assert_eq!(text.status, 200, "{}", c.name);
        let body = text.text();
        assert_eq!(
            sample_value(&body, "script_output_lines_dropped", &[("script", &c.name)]),
            Some(parsed.errors.len() as f64),
            "{}: {:?}\n{body}",
            c.name,
            parsed.errors
        );
        assert_eq!(
            sample_value(&body, "script_success", &[("script", &c.name)]),
            Some(1.0),
            "{}",
            c.name
        );
        std::fs::write(static_dir.join(format!("{}.txt", c.name)), &text.body).expect("write");
        let om = http(
            "GET",
            &addr,
            &path,
            &[("Accept", "application/openmetrics-text;version=1.0.0")],
            b"",
        )
        .expect("probe (OpenMetrics)");
        assert_eq!(
            om.header("content-type"),
            Some(OPENMETRICS_CONTENT_TYPE),
            "{}",
            c.name
        );
        om_answers.push(om.text());
    }

    // The strict parser reads every OpenMetrics answer, every sample of it.
    let results = support::om_strict(&python, &om_answers);
    for ((c, r), om) in cases.iter().zip(&results).zip(&om_answers) {
        let samples = om
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .count() as u64;
        match r {
            Ok(n) => assert_eq!(*n, samples, "{}:\n{om}", c.name),
            Err(e) => panic!(
                "{}: strict OpenMetrics parser rejected the answer: {e}\n{om}",
                c.name
            ),
        }
    }

    // A real Prometheus: text via the static files, OpenMetrics via /probe.
    let files = serve_dir(static_dir);
    let mut jobs = String::new();
    for c in &cases {
        jobs.push_str(&format!(
            "  - job_name: t_{0}\n    metrics_path: /{0}.txt\n    static_configs: [{{targets: ['{files}']}}]\n",
            c.name
        ));
        jobs.push_str(&format!(
            "  - job_name: o_{0}\n    metrics_path: /probe\n    params: {{script: [{0}]}}\n    static_configs: [{{targets: ['{addr}']}}]\n",
            c.name
        ));
    }
    let prom = Prometheus::start(&jobs).expect("prometheus");
    let n = 2 * cases.len();
    let up = prom.wait_for_query(
        "up",
        |rows| rows.len() == n && rows.iter().all(|(_, v)| *v == 1.0),
        Duration::from_secs(40),
    );
    if let Err(e) = up {
        let targets = http_get(&prom.addr(), "/api/v1/targets").expect("targets");
        let v: serde_json::Value = serde_json::from_slice(&targets.body).unwrap_or_default();
        let down: Vec<String> = v["data"]["activeTargets"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|t| t["health"] != "up")
            .map(|t| format!("{}: {}", t["labels"]["job"], t["lastError"]))
            .collect();
        panic!("not every target is up: {down:#?}\n{e}");
    }
    // Both formats negotiated as intended: OpenMetrics on /probe.
    let om_scrapes = prom
        .query("count(scrape_samples_scraped{job=~\"o_.*\"})")
        .expect("query");
    assert_eq!(om_scrapes[0].1, cases.len() as f64);
    for c in &cases {
        let want = expected(&c.input);
        let t = stored(&prom, &format!("t_{}", c.name));
        let o = stored(&prom, &format!("o_{}", c.name));
        assert!(
            same(&t, &want),
            "{} (text vs parser):\n{}",
            c.name,
            diff(&t, &want)
        );
        assert!(
            same(&o, &want),
            "{} (OpenMetrics vs parser):\n{}",
            c.name,
            diff(&o, &want)
        );
        let dropped = prom
            .query(&format!(
                "script_output_lines_dropped{{job=\"o_{}\"}}",
                c.name
            ))
            .expect("query");
        let p = parse_bytes(&c.input, &ParseOptions::default());
        assert_eq!(dropped.len(), 1, "{}", c.name);
        assert_eq!(dropped[0].1, p.errors.len() as f64, "{}", c.name);
    }
}
