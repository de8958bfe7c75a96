//! The runtime of an rtmon exporter, on top of the library: what an exporter hands over
//! — a metrics [`Source`], extra [`Route`]s (`/probe`, `/snmp`, `/lookup`, …), an
//! optional reload hook and an optional change signal for push-on-change — and [`run`],
//! which serves it over HTTP ([`crate::http`], scrape mode, default) and/or pushes it to
//! a Pushgateway ([`crate::push`], `--push.url`), and owns the process: signals
//! (SIGTERM/SIGINT stop, SIGHUP reloads), configuration reload (also for
//! `POST /-/reload`) and the orderly shutdown. The types an exporter needs are
//! re-exported here from the layers that define them.
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use rtmon::app::{Exporter, Scrape, Source, BoxFuture};
//! # use rtmon::expo::MetricSet;
//! struct Hello;
//! impl Source for Hello {
//!     fn collect<'a>(&'a self, _s: &'a Scrape) -> BoxFuture<'a, MetricSet> {
//!         Box::pin(async move {
//!             let mut m = MetricSet::new();
//!             m.gauge("hello_up", "Always 1.", &[], 1u64);
//!             m
//!         })
//!     }
//! }
//! #[derive(clap::Parser)]
//! #[command(version, about = "Says hello")]
//! struct Args {
//!     #[command(flatten)]
//!     common: rtmon::cli::CommonArgs,
//! }
//! # fn main() -> std::process::ExitCode {
//! let args: Args = rtmon::cli::parse_with_defaults(rtmon::cli::Defaults {
//!     listen_address: ":9999", push_job: "hello", max_requests: 40,
//! });
//! rtmon::app::main(args.common, Exporter::new("hello-exporter", Arc::new(Hello)))
//! # }
//! ```

use std::future::Future;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::sync::watch;

use crate::cli::CommonArgs;
use crate::expo::MetricSet;
use crate::push::PushStats;

pub use crate::http::{Handler, Reply, Request, Route};
pub use crate::source::{BoxFuture, ReloadFn, Scrape, Source};

/// Everything an exporter hands to [`run`].
#[derive(Clone)]
pub struct Exporter {
    /// Binary name, e.g. `rtmon-node-exporter` (landing page, logs, build info).
    pub name: &'static str,
    /// The `/metrics` source.
    pub source: Arc<dyn Source>,
    /// Extra routes.
    pub routes: Vec<Route>,
    /// Called on SIGHUP and `POST /-/reload`.
    pub reload: Option<ReloadFn>,
    /// Notified by the exporter when its data changed (push on change).
    pub changed: Option<Arc<tokio::sync::Notify>>,
    /// Readiness: `/-/ready` answers 503 until this is true. Defaults to ready.
    pub ready: Arc<std::sync::atomic::AtomicBool>,
}

impl Exporter {
    /// An exporter with only a `/metrics` source.
    pub fn new(name: &'static str, source: Arc<dyn Source>) -> Exporter {
        Exporter {
            name,
            source,
            routes: Vec::new(),
            reload: None,
            changed: None,
            ready: Arc::new(std::sync::atomic::AtomicBool::new(true)),
        }
    }

    /// Adds a route.
    pub fn route(mut self, r: Route) -> Exporter {
        self.routes.push(r);
        self
    }

    /// Sets the reload hook.
    pub fn on_reload(mut self, f: ReloadFn) -> Exporter {
        self.reload = Some(f);
        self
    }

    /// Sets the change signal.
    pub fn with_changes(mut self, n: Arc<tokio::sync::Notify>) -> Exporter {
        self.changed = Some(n);
        self
    }
}

/// Builds a tokio runtime, sets up logging and runs the exporter until SIGTERM/SIGINT
/// (or, with `--once`, until one push is done). Returns the process exit code.
pub fn main(args: CommonArgs, exporter: Exporter) -> ExitCode {
    if let Err(e) = crate::log::init(&args.log) {
        eprintln!("{}: error: {e}", exporter.name);
        return ExitCode::from(1);
    }
    block_on(run(args, exporter))
}

/// Runs `fut` on the runtime every rtmon binary uses (multi-threaded, 2 workers, I/O and
/// timers enabled). For exporters that must start background tasks before serving, or
/// do work after it: they initialise logging, then `block_on` their own async main,
/// which calls [`run`].
pub fn block_on(fut: impl Future<Output = ExitCode>) -> ExitCode {
    match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(fut),
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            ExitCode::from(1)
        }
    }
}

/// Runs the exporter inside an existing runtime (see [`main`]): serves it (and runs the
/// push loop when `--push.url` is set) until SIGTERM/SIGINT; with `--push.url` and
/// `--once`, pushes once and returns. Returns the process exit code: 0 on a clean stop,
/// 1 on a startup error (bad listen address or web config, bind failure, push setup) or
/// a failed `--once` push.
pub async fn run(args: CommonArgs, exporter: Exporter) -> ExitCode {
    match serve_and_push(args, exporter).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            tracing::error!("{msg}");
            ExitCode::from(1)
        }
    }
}

async fn serve_and_push(args: CommonArgs, exporter: Exporter) -> Result<(), String> {
    let addrs = crate::http::listen_addresses(&args.web)?;

    // --once: push one snapshot and leave, without serving.
    if args.push.url.is_some() && args.push.once {
        tracing::info!(exporter = exporter.name, "pushing once");
        return match crate::push::push_once(&args.push, exporter.source.clone()).await {
            Ok(()) => {
                tracing::info!("push done");
                Ok(())
            }
            Err(e) => Err(e.to_string()),
        };
    }
    if args.push.once {
        return Err("--once needs --push.url".into());
    }
    if addrs.is_empty() && args.push.url.is_none() {
        return Err(
            "nothing to do: --web.listen-address is empty and --push.url is not set".into(),
        );
    }

    let server = crate::http::Server::bind(&args.web, &addrs).await?;

    use tokio::signal::unix::{signal, SignalKind};
    let sig = |k: SignalKind, name: &str| {
        signal(k).map_err(|e| format!("cannot install the {name} handler: {e}"))
    };
    let mut sigterm = sig(SignalKind::terminate(), "SIGTERM")?;
    let mut sigint = sig(SignalKind::interrupt(), "SIGINT")?;
    let mut sighup = sig(SignalKind::hangup(), "SIGHUP")?;

    // Push loop.
    let (push_stop_tx, push_stop_rx) = watch::channel(false);
    let push = match &args.push.url {
        None => None,
        Some(_) => {
            let changed = if args.push.on_change {
                exporter.changed.clone()
            } else {
                None
            };
            let h = crate::push::start(&args.push, exporter.source.clone(), changed, push_stop_rx)
                .map_err(|e| e.to_string())?;
            Some(h)
        }
    };

    let reloader = exporter
        .reload
        .clone()
        .map(|hook| Arc::new(Reloader::new(hook)));
    let serving = server.serve(crate::http::Service {
        name: exporter.name,
        source: Arc::new(Served {
            name: exporter.name,
            inner: exporter.source.clone(),
            push_stats: push.as_ref().map(|h| h.stats.clone()),
            reload: reloader.clone(),
        }),
        routes: exporter.routes.clone(),
        reload: reloader.clone().map(|r| -> ReloadFn {
            Arc::new(move || {
                let r = r.clone();
                Box::pin(async move { r.reload().await })
            })
        }),
        ready: exporter.ready.clone(),
    });

    loop {
        tokio::select! {
            _ = sigterm.recv() => { tracing::info!("SIGTERM: shutting down"); break; }
            _ = sigint.recv() => { tracing::info!("SIGINT: shutting down"); break; }
            _ = sighup.recv() => {
                let res = match &reloader {
                    Some(r) => r.reload().await,
                    None => Err(format!("{} has no configuration to reload", exporter.name)),
                };
                match res {
                    Ok(()) => tracing::info!("SIGHUP: configuration reloaded"),
                    Err(msg) => tracing::error!(error = %msg, "SIGHUP: reload failed, keeping the running configuration"),
                }
            }
        }
    }

    // Stop accepting; let in-flight requests finish (bounded), then stop pushing.
    serving.shutdown().await;
    let _ = push_stop_tx.send(true);
    if let Some(h) = push {
        let wait = args.push.timeout + crate::http::SHUTDOWN_GRACE;
        match tokio::time::timeout(wait, h.task).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "push loop ended abnormally"),
            Err(_) => tracing::warn!("push loop did not stop in time"),
        }
    }
    tracing::info!("stopped");
    Ok(())
}

/// The exporter's source as served on `/metrics`: its samples, then
/// `rtmon_build_info`, the push loop's counters (in push mode) and the reload status
/// (when the exporter can reload).
struct Served {
    name: &'static str,
    inner: Arc<dyn Source>,
    push_stats: Option<Arc<PushStats>>,
    reload: Option<Arc<Reloader>>,
}

impl Source for Served {
    fn collect<'a>(&'a self, scrape: &'a Scrape) -> BoxFuture<'a, MetricSet> {
        Box::pin(async move {
            let mut set = self.inner.collect(scrape).await;
            set.gauge(
                "rtmon_build_info",
                "A metric with a constant '1' value labeled by the exporter name, rtmon version and git revision.",
                &[
                    ("exporter", self.name),
                    ("revision", crate::REVISION),
                    ("version", crate::VERSION),
                ],
                1u64,
            );
            if let Some(stats) = &self.push_stats {
                stats.write(&mut set);
            }
            if let Some(r) = &self.reload {
                r.status.write(self.name, &mut set);
            }
            set
        })
    }

    fn validate(&self, scrape: &Scrape) -> Result<(), String> {
        self.inner.validate(scrape)
    }
}

/// Runs an exporter's reload hook for SIGHUP and `POST /-/reload`, one at a time, and
/// keeps the outcome for the reload metrics.
struct Reloader {
    hook: ReloadFn,
    lock: tokio::sync::Mutex<()>,
    status: ReloadStatus,
}

impl Reloader {
    fn new(hook: ReloadFn) -> Reloader {
        Reloader {
            hook,
            lock: tokio::sync::Mutex::new(()),
            status: ReloadStatus::new(),
        }
    }

    /// Reloads; the `Err` is a one-line message for the log and the HTTP answer.
    async fn reload(&self) -> Result<(), String> {
        let _g = self.lock.lock().await;
        // On a task of its own, so that even a panicking hook only fails this reload (the
        // running configuration stays, the client gets an answer).
        let res = match tokio::spawn((self.hook)()).await {
            Ok(r) => r,
            Err(e) if e.is_panic() => Err("internal error while loading the configuration".into()),
            Err(e) => Err(format!("reload did not complete: {e}")),
        };
        self.status.record(res.is_ok());
        res.map_err(|e| format!("reload failed, keeping the running configuration: {e}"))
    }
}

/// Outcome of the last configuration reload, for the `*_config_last_reload_*` metrics
/// (Prometheus' names). The configuration loaded at start counts as a success.
struct ReloadStatus {
    ok: std::sync::atomic::AtomicBool,
    /// Unix time of the last successful load, as f64 bits.
    success_at: std::sync::atomic::AtomicU64,
}

impl ReloadStatus {
    fn new() -> ReloadStatus {
        ReloadStatus {
            ok: std::sync::atomic::AtomicBool::new(true),
            success_at: std::sync::atomic::AtomicU64::new(unix_now().to_bits()),
        }
    }

    fn record(&self, ok: bool) {
        self.ok.store(ok, Ordering::Relaxed);
        if ok {
            self.success_at
                .store(unix_now().to_bits(), Ordering::Relaxed);
        }
    }

    /// Adds `<prefix>_config_last_reload_successful` and
    /// `<prefix>_config_last_reload_success_timestamp_seconds` unless the exporter already
    /// writes them itself.
    fn write(&self, exporter: &str, set: &mut MetricSet) {
        let prefix = reload_metric_prefix(exporter);
        let ok_name = format!("{prefix}_config_last_reload_successful");
        if !set.contains(&ok_name) {
            set.gauge(
                &ok_name,
                "Whether the last configuration reload attempt was successful (a failed one keeps the running configuration).",
                &[],
                u64::from(self.ok.load(Ordering::Relaxed)),
            );
        }
        let ts_name = format!("{prefix}_config_last_reload_success_timestamp_seconds");
        if !set.contains(&ts_name) {
            set.gauge(
                &ts_name,
                "Timestamp of the last successful configuration load (at start or reload).",
                &[],
                f64::from_bits(self.success_at.load(Ordering::Relaxed)),
            );
        }
    }
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// `rtmon-script-exporter` → `rtmon_script`: the prefix of an exporter's reload metrics.
pub fn reload_metric_prefix(exporter: &str) -> String {
    let base = exporter.strip_suffix("-exporter").unwrap_or(exporter);
    let p: String = base
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if p.is_empty() || p.starts_with(|c: char| c.is_ascii_digit()) {
        format!("rtmon_{p}")
    } else {
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reload_metric_prefixes() {
        assert_eq!(
            reload_metric_prefix("rtmon-script-exporter"),
            "rtmon_script"
        );
        assert_eq!(reload_metric_prefix("rtmon-snmp-exporter"), "rtmon_snmp");
        assert_eq!(reload_metric_prefix("x.y"), "x_y");
        assert_eq!(reload_metric_prefix("9"), "rtmon_9");
    }
}
