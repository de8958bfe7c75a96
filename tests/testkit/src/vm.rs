//! VictoriaMetrics (single node), vmagent, vmalert and Alertmanager on free loopback
//! ports, killed when dropped: the "beyond one Prometheus" backend of issue 30.
//!
//! Needs Debian's `victoria-metrics` package (`victoria-metrics`, `vmagent`, `vmalert`)
//! and `prometheus-alertmanager`; tests call [`crate::available`] with [`VM_BIN`],
//! [`VMAGENT_BIN`], [`VMALERT_BIN`] / [`ALERTMANAGER_BIN`] first.
//!
//! Every process is tuned for tests, not for production: VictoriaMetrics shows samples
//! at once (`-search.latencyOffset=0s`, no response cache), vmagent and vmalert flush
//! every second. [`firing_alerts`] reads `/api/v1/alerts` of Prometheus and of vmalert
//! alike, [`proc_usage`] a process' CPU time and RSS (for the side-by-side figures).
//!
//! ```no_run
//! use std::time::Duration;
//! use rtmon_testkit::vm::{VictoriaMetrics, VmAgent};
//! # fn main() -> anyhow::Result<()> {
//! let vm = VictoriaMetrics::start(&[])?;
//! let agent = VmAgent::start(
//!     &rtmon_testkit::prom::scrape_job("vm", &[&vm.addr()], false),
//!     &[vm.write_url()],
//!     &[("site", "a")],
//! )?;
//! vm.wait_for_query("up{site=\"a\"}", |r| !r.is_empty(), Duration::from_secs(30))?;
//! # drop(agent); Ok(()) }
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::prom::{instant_query, wait_for_rows, Row};
use crate::{free_port, http_get, Proc};

/// VictoriaMetrics single-node server (Debian's name).
pub const VM_BIN: &str = "victoria-metrics";
/// vmagent: scrapes and remote-writes.
pub const VMAGENT_BIN: &str = "vmagent";
/// vmalert: evaluates recording and alerting rules against a Prometheus-compatible API.
pub const VMALERT_BIN: &str = "vmalert";
/// Debian's Alertmanager.
pub const ALERTMANAGER_BIN: &str = "prometheus-alertmanager";

const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Waits until `GET path` on `addr` answers 200, or the process exits, or time runs out.
fn wait_ok(proc: &mut Proc, addr: &str, path: &str, log: &Path) -> Result<()> {
    let end = Instant::now() + READY_TIMEOUT;
    loop {
        if let Ok(r) = http_get(addr, path) {
            if r.status == 200 {
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
                "{} not ready on {addr}{path} after {READY_TIMEOUT:?}:\n{log}",
                proc.name
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One rig process: its handle, port, temp dir and log file.
struct Daemon {
    proc: Proc,
    port: u16,
    dir: tempfile::TempDir,
    log: PathBuf,
}

impl Daemon {
    /// Spawns `cmd` (built by `build` from the port and the temp dir) and waits for
    /// `GET ready_path` to answer 200.
    fn start(
        name: &str,
        bin: &str,
        ready_path: &str,
        build: impl FnOnce(&mut Command, u16, &Path) -> Result<()>,
    ) -> Result<Daemon> {
        let dir = tempfile::tempdir().with_context(|| format!("temp dir for {name}"))?;
        let port = free_port();
        let log = dir.path().join(format!("{name}.log"));
        let mut cmd = Command::new(bin);
        build(&mut cmd, port, dir.path())?;
        let mut proc =
            Proc::spawn(name, cmd, Some(&log)).with_context(|| format!("cannot run {bin}"))?;
        wait_ok(&mut proc, &format!("127.0.0.1:{port}"), ready_path, &log)?;
        Ok(Daemon {
            proc,
            port,
            dir,
            log,
        })
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// VictoriaMetrics single node on `127.0.0.1`: storage in a temp dir, one day's
/// retention, samples visible to queries at once.
pub struct VictoriaMetrics {
    d: Daemon,
}

impl VictoriaMetrics {
    /// Starts it (with `extra_args`, e.g. `-promscrape.config=…`) and waits for `/health`.
    pub fn start(extra_args: &[String]) -> Result<VictoriaMetrics> {
        let d = Daemon::start("victoria-metrics", VM_BIN, "/health", |cmd, port, dir| {
            cmd.arg(format!("-httpListenAddr=127.0.0.1:{port}"))
                .arg(format!("-storageDataPath={}", dir.join("data").display()))
                .arg("-retentionPeriod=1d")
                // Tests query what was just written: no 30 s visibility delay, no cache.
                .arg("-search.latencyOffset=0s")
                .arg("-search.disableCache")
                .arg("-loggerLevel=WARN")
                .args(extra_args);
            Ok(())
        })?;
        Ok(VictoriaMetrics { d })
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        self.d.addr()
    }

    /// `http://127.0.0.1:PORT`: the Prometheus-compatible API (`/api/v1/query`, …).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// The Prometheus remote-write endpoint (`…/api/v1/write`).
    pub fn write_url(&self) -> String {
        format!("{}/api/v1/write", self.url())
    }

    /// The process id (for [`proc_usage`]).
    pub fn pid(&self) -> u32 {
        self.d.proc.pid()
    }

    /// The temp dir (storage under `data/`).
    pub fn dir(&self) -> &Path {
        self.d.dir.path()
    }

    /// The process log so far.
    pub fn log(&self) -> String {
        self.d.log()
    }

    /// An instant query ([`instant_query`]).
    pub fn query(&self, expr: &str) -> Result<Vec<Row>> {
        instant_query(&self.addr(), expr)
    }

    /// Polls [`Self::query`] until `pred` holds ([`wait_for_rows`]).
    pub fn wait_for_query(
        &self,
        expr: &str,
        pred: impl Fn(&[Row]) -> bool,
        timeout: Duration,
    ) -> Result<Vec<Row>> {
        wait_for_rows(&self.addr(), expr, pred, timeout)
    }
}

/// vmagent on `127.0.0.1`: scrapes `scrape_configs` (items of a Prometheus
/// `scrape_configs:` list, as [`crate::prom::scrape_job`] writes them; global interval
/// 1 s) and remote-writes every sample, with extra labels, to each URL.
pub struct VmAgent {
    d: Daemon,
}

impl VmAgent {
    /// Starts it and waits for `/health`.
    pub fn start(
        scrape_configs: &str,
        remote_write_urls: &[String],
        labels: &[(&str, &str)],
    ) -> Result<VmAgent> {
        let yml = format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n{scrape_configs}"
        );
        let d = Daemon::start("vmagent", VMAGENT_BIN, "/health", |cmd, port, dir| {
            let cfg = dir.join("scrape.yml");
            std::fs::write(&cfg, &yml)?;
            cmd.arg(format!("-httpListenAddr=127.0.0.1:{port}"))
                .arg(format!("-promscrape.config={}", cfg.display()))
                .arg(format!(
                    "-remoteWrite.tmpDataPath={}",
                    dir.join("queue").display()
                ))
                .arg("-remoteWrite.flushInterval=1s")
                // One queue per URL: with several (default 2 × CPUs) blocks of the same
                // series travel in parallel, and Prometheus' remote-write receiver
                // rejects a whole block on one out-of-order sample (VictoriaMetrics
                // does not care).
                .arg("-remoteWrite.queues=1")
                .arg("-loggerLevel=WARN");
            for u in remote_write_urls {
                cmd.arg(format!("-remoteWrite.url={u}"));
            }
            for (k, v) in labels {
                cmd.arg(format!("-remoteWrite.label={k}={v}"));
            }
            Ok(())
        })
        .with_context(|| format!("scrape config was:\n{yml}"))?;
        Ok(VmAgent { d })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.d.proc.pid()
    }

    /// `127.0.0.1:PORT` (its own `/metrics`, `/targets`).
    pub fn addr(&self) -> String {
        self.d.addr()
    }

    /// The process log so far.
    pub fn log(&self) -> String {
        self.d.log()
    }
}

/// What to start vmalert with.
#[derive(Clone, Debug, Default)]
pub struct VmAlertConfig {
    /// Base URL of the Prometheus-compatible API the rules query (`http://host:port`).
    pub datasource: String,
    /// Base URL recording-rule results and alert state are written to (remote write;
    /// vmalert appends `/api/v1/write`); also read back to restore alert state.
    pub remote_write: String,
    /// Alertmanager base URLs (vmalert 1.79 refuses alerting rules without one, and
    /// has no `-notifier.blackhole` yet: use [`ALERTMANAGER_SINK`]).
    pub notifiers: Vec<String>,
    /// Rule files' contents (Prometheus rule-file YAML), one string per file.
    pub rule_files: Vec<String>,
    /// Labels added to every result and alert (`-external.label`).
    pub external_labels: Vec<(String, String)>,
    /// Extra flags.
    pub extra_args: Vec<String>,
}

/// vmalert on `127.0.0.1`, evaluating every second (groups with their own `interval`
/// keep it).
pub struct VmAlert {
    d: Daemon,
}

impl VmAlert {
    /// Starts it and waits for `/health`.
    pub fn start(cfg: &VmAlertConfig) -> Result<VmAlert> {
        let d = Daemon::start("vmalert", VMALERT_BIN, "/health", |cmd, port, dir| {
            cmd.arg(format!("-httpListenAddr=127.0.0.1:{port}"))
                .arg(format!("-datasource.url={}", cfg.datasource))
                .arg(format!("-remoteWrite.url={}", cfg.remote_write))
                .arg(format!("-remoteRead.url={}", cfg.remote_write))
                .arg("-remoteWrite.flushInterval=1s")
                .arg("-evaluationInterval=1s")
                .arg("-loggerLevel=WARN");
            for (i, rules) in cfg.rule_files.iter().enumerate() {
                let p = dir.join(format!("rules-{i}.yml"));
                std::fs::write(&p, rules)?;
                cmd.arg(format!("-rule={}", p.display()));
            }
            for n in &cfg.notifiers {
                cmd.arg(format!("-notifier.url={n}"));
            }
            for (k, v) in &cfg.external_labels {
                cmd.arg(format!("-external.label={k}={v}"));
            }
            cmd.args(&cfg.extra_args);
            Ok(())
        })?;
        Ok(VmAlert { d })
    }

    /// `127.0.0.1:PORT` (`/api/v1/alerts`, `/api/v1/rules`, `/metrics`).
    pub fn addr(&self) -> String {
        self.d.addr()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.d.proc.pid()
    }

    /// The process log so far.
    pub fn log(&self) -> String {
        self.d.log()
    }
}

/// Alertmanager on `127.0.0.1` with `config` (YAML), no clustering, killed on drop.
pub struct Alertmanager {
    d: Daemon,
}

/// An Alertmanager configuration that accepts every alert and notifies nobody (its
/// API still lists them).
pub const ALERTMANAGER_SINK: &str = "route:\n  receiver: sink\n  group_by: ['...']\n  group_wait: 1s\n  group_interval: 1s\nreceivers:\n  - name: sink\n";

impl Alertmanager {
    /// Starts it and waits for `/-/ready`.
    pub fn start(config: &str) -> Result<Alertmanager> {
        let d = Daemon::start(
            "alertmanager",
            ALERTMANAGER_BIN,
            "/-/ready",
            |cmd, port, dir| {
                let cfg = dir.join("alertmanager.yml");
                std::fs::write(&cfg, config)?;
                cmd.arg(format!("--config.file={}", cfg.display()))
                    .arg(format!("--storage.path={}", dir.join("data").display()))
                    .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                    .arg("--cluster.listen-address=");
                Ok(())
            },
        )?;
        Ok(Alertmanager { d })
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        self.d.addr()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// The process log so far.
    pub fn log(&self) -> String {
        self.d.log()
    }

    /// The labels of every alert Alertmanager holds (`GET /api/v2/alerts`), active or
    /// not, sorted.
    pub fn alerts(&self) -> Result<Vec<BTreeMap<String, String>>> {
        let r = http_get(&self.addr(), "/api/v2/alerts")?;
        if r.status != 200 {
            bail!(
                "alertmanager /api/v2/alerts: HTTP {}: {}",
                r.status,
                r.text()
            );
        }
        let v: serde_json::Value = serde_json::from_slice(&r.body)?;
        let mut out: Vec<BTreeMap<String, String>> = v
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| string_map(&a["labels"]))
            .collect();
        out.sort();
        Ok(out)
    }
}

fn string_map(v: &serde_json::Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// The label sets of the alerts in state `firing` at `GET /api/v1/alerts` of
/// Prometheus or vmalert (both answer `{"data":{"alerts":[{"state","labels",…}]}}`).
pub fn firing_alerts(addr: &str) -> Result<BTreeSet<BTreeMap<String, String>>> {
    let r = http_get(addr, "/api/v1/alerts")?;
    if r.status != 200 {
        bail!("{addr}/api/v1/alerts: HTTP {}: {}", r.status, r.text());
    }
    let v: serde_json::Value = serde_json::from_slice(&r.body)
        .with_context(|| format!("{addr}/api/v1/alerts: {}", r.text()))?;
    Ok(v["data"]["alerts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["state"] == "firing")
        .map(|a| string_map(&a["labels"]))
        .collect())
}

/// A process' CPU time so far (user + system, seconds) and resident set size (bytes),
/// from `/proc/PID/stat` and `/proc/PID/status`.
pub fn proc_usage(pid: u32) -> Result<(f64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("/proc/{pid}/stat"))?;
    // Fields after the `(comm)`: state is field 3, utime 14, stime 15.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .context("no ')' in /proc/PID/stat")?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| -> Result<f64> {
        f.get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .with_context(|| format!("field {} of /proc/{pid}/stat", i + 3))
    };
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let cpu = (ticks(11)? + ticks(12)?) / hz;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("/proc/{pid}/status"))?;
    let rss_kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .context("no VmRSS in /proc/PID/status")?;
    Ok((cpu, rss_kb * 1024))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_usage_reads_this_process() {
        let (cpu, rss) = proc_usage(std::process::id()).expect("usage");
        assert!(cpu >= 0.0);
        assert!(rss > 1024 * 1024, "rss {rss}");
        assert!(proc_usage(u32::MAX).is_err());
    }

    /// vmagent scrapes VictoriaMetrics' own /metrics and writes it back with a `site`
    /// label; vmalert records a rule over it; Alertmanager receives its alert.
    #[test]
    fn vmagent_vm_vmalert_alertmanager_round_trip() {
        if !crate::available(
            "vm::round_trip",
            &[VM_BIN, VMAGENT_BIN, VMALERT_BIN, ALERTMANAGER_BIN],
            false,
        ) {
            return;
        }
        let vm = VictoriaMetrics::start(&[]).expect("victoria-metrics");
        let _agent = VmAgent::start(
            &crate::prom::scrape_job("self", &[&vm.addr()], false),
            &[vm.write_url()],
            &[("site", "rig")],
        )
        .expect("vmagent");
        let rows = vm
            .wait_for_query(
                "up{job=\"self\"}",
                |r| r.len() == 1,
                Duration::from_secs(30),
            )
            .expect("up");
        assert_eq!(rows[0].0.get("site").map(String::as_str), Some("rig"));
        assert_eq!(rows[0].1, 1.0);
        let am = Alertmanager::start(ALERTMANAGER_SINK).expect("alertmanager");
        let rules = "groups:\n  - name: t\n    interval: 1s\n    rules:\n      - record: t:up:sum\n        expr: sum(up{job=\"self\"}) + 41\n      - alert: TUp\n        expr: up{job=\"self\"} == 1\n        labels: {severity: info}\n";
        let alert = VmAlert::start(&VmAlertConfig {
            datasource: vm.url(),
            remote_write: vm.url(),
            notifiers: vec![am.url()],
            rule_files: vec![rules.to_string()],
            external_labels: vec![("backend".into(), "vm".into())],
            extra_args: Vec::new(),
        })
        .expect("vmalert");
        let rows = vm
            .wait_for_query("t:up:sum", |r| r.len() == 1, Duration::from_secs(30))
            .expect("recorded");
        assert_eq!(rows[0].1, 42.0);
        assert_eq!(rows[0].0.get("backend").map(String::as_str), Some("vm"));
        let end = Instant::now() + Duration::from_secs(30);
        loop {
            let firing = firing_alerts(&alert.addr()).expect("vmalert alerts");
            let at_am = am.alerts().expect("am alerts");
            if firing
                .iter()
                .any(|a| a.get("alertname").map(String::as_str) == Some("TUp"))
                && at_am.iter().any(|a| {
                    a.get("alertname").map(String::as_str) == Some("TUp")
                        && a.get("site").map(String::as_str) == Some("rig")
                })
            {
                break;
            }
            assert!(
                Instant::now() < end,
                "TUp never reached Alertmanager: vmalert {firing:?}, am {at_am:?}\n{}",
                alert.log()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
        assert!(vm.query("up{").is_err());
    }

    /// A Prometheus 2.x in agent mode (`deploy/prometheus/prometheus-agent.yml`'s way)
    /// remote-writes into VictoriaMetrics with its `site` external label.
    #[test]
    fn prometheus_agent_writes_to_victoriametrics_with_site() {
        if !crate::available(
            "vm::prometheus_agent",
            &[VM_BIN, crate::prom::PROMETHEUS_BIN],
            false,
        ) {
            return;
        }
        let vm = VictoriaMetrics::start(&[]).expect("victoria-metrics");
        let yml = format!(
            "global:\n  scrape_interval: 1s\n  external_labels: {{site: site-b}}\nscrape_configs:\n{}remote_write:\n  - url: {}\n",
            crate::prom::scrape_job("vmself", &[&vm.addr()], false),
            vm.write_url()
        );
        let agent = Daemon::start(
            "prometheus-agent",
            crate::prom::PROMETHEUS_BIN,
            "/-/ready",
            |cmd, port, dir| {
                let cfg = dir.join("agent.yml");
                std::fs::write(&cfg, &yml)?;
                cmd.arg(format!("--config.file={}", cfg.display()))
                    .arg(format!(
                        "--storage.agent.path={}",
                        dir.join("wal").display()
                    ))
                    .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                    .arg("--enable-feature=agent");
                Ok(())
            },
        )
        .expect("prometheus agent");
        let rows = vm
            .wait_for_query(
                "up{job=\"vmself\"}",
                |r| r.len() == 1,
                Duration::from_secs(30),
            )
            .expect("up arrives");
        assert_eq!(rows[0].0.get("site").map(String::as_str), Some("site-b"));
        assert_eq!(rows[0].1, 1.0);
        // An agent answers no queries: the data is only in VictoriaMetrics.
        assert!(instant_query(&agent.addr(), "up").is_err());
    }
}
