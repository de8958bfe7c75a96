//! Prometheus and Pushgateway on free loopback ports. OWNER: the push work item.
//!
//! Each rig process runs in its own temp dir, on a free `127.0.0.1` port, and is killed
//! when its handle is dropped (even when the test panics).
//!
//! ```no_run
//! use std::time::Duration;
//! use rtmon_testkit::prom::{scrape_job, Prometheus, Pushgateway};
//! # fn main() -> anyhow::Result<()> {
//! if !rtmon_testkit::available("my_test", &["prometheus", "prometheus-pushgateway"], false) {
//!     return Ok(());
//! }
//! let pgw = Pushgateway::start()?;
//! // … push something to pgw.url() …
//! let prom = Prometheus::start(&scrape_job("pushgateway", &[&pgw.addr()], true))?;
//! let rows = prom.wait_for_query("up", |r| !r.is_empty(), Duration::from_secs(20))?;
//! assert_eq!(rows[0].1, 1.0);
//! # Ok(()) }
//! ```
//!
//! Needs the Debian packages `prometheus` (incl. `promtool`) and
//! `prometheus-pushgateway`; tests call [`crate::available`] with
//! [`PROMETHEUS_BIN`] / [`PUSHGATEWAY_BIN`] first.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

use crate::{free_port, http, http_get, Proc};

/// The Prometheus server binary.
pub const PROMETHEUS_BIN: &str = "prometheus";
/// The Pushgateway binary (Debian's name).
pub const PUSHGATEWAY_BIN: &str = "prometheus-pushgateway";
/// The promtool binary.
pub const PROMTOOL_BIN: &str = "promtool";

/// One instant-vector row of a query result: labels and value.
pub type Row = (BTreeMap<String, String>, f64);

/// One sample stored in a Pushgateway: metric name, labels, value.
pub type PgwSample = (String, BTreeMap<String, String>, f64);

/// How long a rig process may take to become ready.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

fn wait_ready(proc: &mut Proc, addr: &str, log: &Path) -> Result<()> {
    let end = Instant::now() + READY_TIMEOUT;
    loop {
        if let Ok(r) = http_get(addr, "/-/ready") {
            // 401: up, behind basic auth (a --web.config.file rig).
            if r.status == 200 || r.status == 401 {
                return Ok(());
            }
        }
        if let Some(status) = proc.try_wait() {
            let log = std::fs::read_to_string(log).unwrap_or_default();
            bail!("{} exited early ({status}):\n{log}", proc.name);
        }
        if Instant::now() >= end {
            let log = std::fs::read_to_string(log).unwrap_or_default();
            bail!(
                "{} not ready on {addr} after {READY_TIMEOUT:?}:\n{log}",
                proc.name
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Percent-encodes a query-string component.
pub fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A Pushgateway (`prometheus-pushgateway`) on `127.0.0.1`, killed on drop.
pub struct Pushgateway {
    proc: Option<Proc>,
    port: u16,
    dir: tempfile::TempDir,
    extra_args: Vec<String>,
}

impl Pushgateway {
    /// Starts a Pushgateway on a free port (admin API enabled) and waits until it is ready.
    pub fn start() -> Result<Pushgateway> {
        Pushgateway::start_on(free_port())
    }

    /// Starts a Pushgateway on a given port (e.g. to restart one after [`Self::stop`]).
    pub fn start_on(port: u16) -> Result<Pushgateway> {
        Pushgateway::start_with(port, &[])
    }

    /// Starts a Pushgateway on `port` with extra flags (e.g. `--web.config.file=…`).
    pub fn start_with(port: u16, extra_args: &[String]) -> Result<Pushgateway> {
        let dir = tempfile::tempdir().context("temp dir for the pushgateway")?;
        let mut pgw = Pushgateway {
            proc: None,
            port,
            dir,
            extra_args: extra_args.to_vec(),
        };
        pgw.restart()?;
        Ok(pgw)
    }

    /// (Re)starts the process on the same port, with an empty store. Kills a running one.
    pub fn restart(&mut self) -> Result<()> {
        self.stop();
        let log = self.dir.path().join("pushgateway.log");
        let mut cmd = Command::new(PUSHGATEWAY_BIN);
        cmd.arg(format!("--web.listen-address={}", self.addr()))
            .arg("--web.enable-admin-api")
            // Debian's default persists to /var/lib/prometheus/pushgateway.data, shared by
            // every gateway on the host: keep the store in memory only.
            .arg("--persistence.file=")
            .arg("--log.level=debug")
            .args(&self.extra_args);
        let mut proc = Proc::spawn("pushgateway", cmd, Some(&log))
            .with_context(|| format!("cannot run {PUSHGATEWAY_BIN}"))?;
        wait_ready(&mut proc, &self.addr(), &log)?;
        self.proc = Some(proc);
        Ok(())
    }

    /// Kills the process (the handle stays usable: [`Self::restart`]).
    pub fn stop(&mut self) {
        self.proc = None;
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The temp dir (a place for a web config file, say).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `http://127.0.0.1:PORT` (what `--push.url` takes).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// The process log so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("pushgateway.log")).unwrap_or_default()
    }

    /// The `data` array of `GET /api/v1/metrics`: one object per group with `labels`,
    /// `last_push_successful` and one member per metric family.
    pub fn metrics_json(&self) -> Result<Vec<serde_json::Value>> {
        let r = http_get(&self.addr(), "/api/v1/metrics")?;
        if r.status != 200 {
            bail!("GET /api/v1/metrics: HTTP {}: {}", r.status, r.text());
        }
        let v: serde_json::Value = serde_json::from_slice(&r.body)?;
        match v.get("data") {
            Some(serde_json::Value::Array(a)) => Ok(a.clone()),
            _ => bail!("GET /api/v1/metrics: no data array in {v}"),
        }
    }

    /// The grouping keys (`labels` of each group) stored in the gateway.
    pub fn groups(&self) -> Result<Vec<BTreeMap<String, String>>> {
        Ok(self
            .metrics_json()?
            .iter()
            .map(|g| labels_of(g.get("labels")))
            .collect())
    }

    /// Every simple sample (counter, gauge, untyped) stored in the gateway as
    /// `(metric name, labels incl. job/instance/grouping, value)`, sorted.
    /// Histograms and summaries are left out; `push_time_seconds` and
    /// `push_failure_time_seconds` are included.
    pub fn samples(&self) -> Result<Vec<PgwSample>> {
        let mut out = Vec::new();
        for g in self.metrics_json()? {
            let Some(obj) = g.as_object() else { continue };
            for (name, fam) in obj {
                let Some(metrics) = fam.get("metrics").and_then(|m| m.as_array()) else {
                    continue;
                };
                for m in metrics {
                    let Some(v) = m.get("value").and_then(|v| v.as_str()) else {
                        continue;
                    };
                    let v = parse_prom_float(v)
                        .ok_or_else(|| anyhow!("bad value {v:?} for {name} in pushgateway JSON"))?;
                    out.push((name.clone(), labels_of(m.get("labels")), v));
                }
            }
        }
        out.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        Ok(out)
    }

    /// `PUT` a text-format body to `/metrics/job/<path>` (path as written, e.g.
    /// `other/instance/x`). Returns the status and body text.
    pub fn put(&self, path: &str, body: &str) -> Result<(u16, String)> {
        let r = http(
            "PUT",
            &self.addr(),
            &format!("/metrics/job/{path}"),
            &[],
            body.as_bytes(),
        )?;
        Ok((r.status, r.text()))
    }
}

fn labels_of(v: Option<&serde_json::Value>) -> BTreeMap<String, String> {
    v.and_then(|l| l.as_object())
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

fn parse_prom_float(s: &str) -> Option<f64> {
    match s {
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        s => s.parse().ok(),
    }
}

/// A `scrape_configs` list item: job `job`, static `targets`, scraped every second.
/// `honor_labels: true` is what a Pushgateway job needs.
pub fn scrape_job(job: &str, targets: &[&str], honor_labels: bool) -> String {
    let targets: Vec<String> = targets.iter().map(|t| format!("'{t}'")).collect();
    format!(
        "  - job_name: '{job}'\n    honor_labels: {honor_labels}\n    static_configs:\n      - targets: [{}]\n",
        targets.join(", ")
    )
}

/// What to start Prometheus with.
#[derive(Clone, Debug, Default)]
pub struct PromConfig {
    /// Items of the `scrape_configs:` list (YAML, indented by two spaces as
    /// [`scrape_job`] writes them). Several jobs: concatenate.
    pub scrape_configs: String,
    /// Contents of rule files (recording/alerting rules YAML), one string per file.
    pub rule_files: Vec<String>,
    /// Extra command-line flags.
    pub extra_args: Vec<String>,
}

/// A Prometheus server on `127.0.0.1` (scrape and evaluation interval 1 s,
/// `--web.enable-lifecycle`), killed on drop.
pub struct Prometheus {
    _proc: Proc,
    port: u16,
    dir: tempfile::TempDir,
}

impl Prometheus {
    /// Starts Prometheus scraping `scrape_configs` (see [`scrape_job`]) and waits until
    /// it is ready.
    pub fn start(scrape_configs: &str) -> Result<Prometheus> {
        Prometheus::start_with(PromConfig {
            scrape_configs: scrape_configs.to_string(),
            ..Default::default()
        })
    }

    /// Starts Prometheus with scrape configs, rule files and extra flags.
    pub fn start_with(cfg: PromConfig) -> Result<Prometheus> {
        let dir = tempfile::tempdir().context("temp dir for prometheus")?;
        let mut yml = String::from(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n",
        );
        if !cfg.rule_files.is_empty() {
            yml.push_str("rule_files:\n");
            for (i, rules) in cfg.rule_files.iter().enumerate() {
                let p = dir.path().join(format!("rules-{i}.yml"));
                std::fs::write(&p, rules)?;
                yml.push_str(&format!("  - '{}'\n", p.display()));
            }
        }
        yml.push_str("scrape_configs:\n");
        yml.push_str(&cfg.scrape_configs);
        let config = dir.path().join("prometheus.yml");
        std::fs::write(&config, &yml)?;
        let port = free_port();
        let log = dir.path().join("prometheus.log");
        let mut cmd = Command::new(PROMETHEUS_BIN);
        cmd.arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--web.enable-lifecycle")
            .args(&cfg.extra_args);
        let mut proc = Proc::spawn("prometheus", cmd, Some(&log))
            .with_context(|| format!("cannot run {PROMETHEUS_BIN}"))?;
        wait_ready(&mut proc, &format!("127.0.0.1:{port}"), &log)
            .with_context(|| format!("prometheus.yml was:\n{yml}"))?;
        Ok(Prometheus {
            _proc: proc,
            port,
            dir,
        })
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// The process id (for `vm::proc_usage`).
    pub fn pid(&self) -> u32 {
        self._proc.pid()
    }

    /// The temp dir (holds `prometheus.yml`; rewrite it, then [`Self::reload`]).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Path of the config file.
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("prometheus.yml")
    }

    /// The process log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }

    /// `POST /-/reload` (after editing [`Self::config_path`]).
    pub fn reload(&self) -> Result<()> {
        let r = http("POST", &self.addr(), "/-/reload", &[], b"")?;
        if r.status != 200 {
            bail!("reload: HTTP {}: {}", r.status, r.text());
        }
        Ok(())
    }

    /// Runs an instant query (`/api/v1/query`): see [`instant_query`].
    pub fn query(&self, expr: &str) -> Result<Vec<Row>> {
        instant_query(&self.addr(), expr)
    }

    /// Repeats [`Self::query`] every 250 ms until `pred` holds: see [`wait_for_rows`].
    pub fn wait_for_query(
        &self,
        expr: &str,
        pred: impl Fn(&[Row]) -> bool,
        timeout: Duration,
    ) -> Result<Vec<Row>> {
        wait_for_rows(&self.addr(), expr, pred, timeout)
    }
}

/// Runs an instant query (`/api/v1/query`) against any server with Prometheus' HTTP API
/// at `addr` (`host:port`: Prometheus, VictoriaMetrics, vmalert's datasource). A vector
/// gives one row per series, sorted by labels; a scalar gives one row with no labels. An
/// error from the server is an `Err`.
pub fn instant_query(addr: &str, expr: &str) -> Result<Vec<Row>> {
    let r = http_get(addr, &format!("/api/v1/query?query={}", urlencode(expr)))?;
    let v: serde_json::Value = serde_json::from_slice(&r.body)
        .with_context(|| format!("query {expr:?}: HTTP {}: {}", r.status, r.text()))?;
    if v.get("status").and_then(|s| s.as_str()) != Some("success") {
        bail!("query {expr:?}: HTTP {}: {v}", r.status);
    }
    let data = v
        .get("data")
        .ok_or_else(|| anyhow!("query {expr:?}: no data in {v}"))?;
    let value_of = |p: Option<&serde_json::Value>| -> Result<f64> {
        p.and_then(|p| p.get(1))
            .and_then(|s| s.as_str())
            .and_then(parse_prom_float)
            .ok_or_else(|| anyhow!("query {expr:?}: bad sample in {v}"))
    };
    match data.get("resultType").and_then(|t| t.as_str()) {
        Some("vector") => {
            let mut rows = Vec::new();
            for s in data
                .get("result")
                .and_then(|r| r.as_array())
                .into_iter()
                .flatten()
            {
                rows.push((labels_of(s.get("metric")), value_of(s.get("value"))?));
            }
            rows.sort_by(|a, b| a.0.cmp(&b.0));
            Ok(rows)
        }
        Some("scalar") => Ok(vec![(BTreeMap::new(), value_of(data.get("result"))?)]),
        other => bail!("query {expr:?}: unsupported result type {other:?}"),
    }
}

/// Repeats [`instant_query`] every 250 ms until `pred` holds for the rows, and returns
/// them; after `timeout`, an error showing the last result.
pub fn wait_for_rows(
    addr: &str,
    expr: &str,
    pred: impl Fn(&[Row]) -> bool,
    timeout: Duration,
) -> Result<Vec<Row>> {
    let end = Instant::now() + timeout;
    loop {
        let last = instant_query(addr, expr);
        if let Ok(rows) = &last {
            if pred(rows) {
                return Ok(rows.clone());
            }
        }
        if Instant::now() >= end {
            bail!("query {expr:?} on {addr}: condition not met after {timeout:?}; last result: {last:?}");
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Runs `promtool check metrics` on an exposition; returns the exit code (0 clean,
/// 3 lint problems, 1 parse error) and the combined output.
pub fn promtool_check_metrics(text: &str) -> Result<(i32, String)> {
    let mut child = Command::new(PROMTOOL_BIN)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {PROMTOOL_BIN}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(text.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    let mut msg = String::from_utf8_lossy(&out.stdout).into_owned();
    msg.push_str(&String::from_utf8_lossy(&out.stderr));
    Ok((out.status.code().unwrap_or(-1), msg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urlencode_escapes_reserved() {
        assert_eq!(urlencode("up{job=\"a b\"}"), "up%7Bjob%3D%22a%20b%22%7D");
        assert_eq!(urlencode("a-z_0.9~"), "a-z_0.9~");
    }

    #[test]
    fn scrape_job_is_yaml_list_item() {
        let s = scrape_job("pgw", &["127.0.0.1:1", "127.0.0.1:2"], true);
        assert!(
            s.starts_with("  - job_name: 'pgw'\n    honor_labels: true\n"),
            "{s}"
        );
        assert!(s.contains("targets: ['127.0.0.1:1', '127.0.0.1:2']"), "{s}");
    }

    #[test]
    fn rig_pushgateway_and_prometheus_round_trip() {
        if !crate::available(
            "prom::rig_round_trip",
            &[PROMETHEUS_BIN, PUSHGATEWAY_BIN, PROMTOOL_BIN],
            false,
        ) {
            return;
        }
        let pgw = Pushgateway::start().expect("pushgateway");
        let (code, msg) = pgw
            .put(
                "rig/instance/i1",
                "# TYPE rig_value gauge\nrig_value{a=\"x\"} 42\n",
            )
            .expect("put");
        assert_eq!(code, 200, "{msg}");
        let s = pgw.samples().expect("samples");
        let row = s
            .iter()
            .find(|(n, _, _)| n == "rig_value")
            .expect("rig_value");
        assert_eq!(row.1.get("instance").map(String::as_str), Some("i1"));
        assert_eq!(row.2, 42.0);

        let prom = Prometheus::start(&scrape_job("pgw", &[&pgw.addr()], true)).expect("prom");
        let rows = prom
            .wait_for_query("rig_value", |r| !r.is_empty(), Duration::from_secs(20))
            .expect("query");
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].0.get("job").map(String::as_str), Some("rig"));
        assert_eq!(rows[0].0.get("a").map(String::as_str), Some("x"));
        assert_eq!(rows[0].1, 42.0);
        assert!(prom.query("rig_value{").is_err());
        assert_eq!(prom.query("1+1").expect("scalar")[0].1, 2.0);

        assert_eq!(
            promtool_check_metrics("# HELP a_total A.\n# TYPE a_total counter\na_total 1\n")
                .expect("promtool")
                .0,
            0
        );
        assert_ne!(promtool_check_metrics("a{b=} 1\n").expect("promtool").0, 0);
    }
}
