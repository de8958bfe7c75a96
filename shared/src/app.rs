//! What an exporter hands to the shared runtime: a metrics [`Source`], extra
//! [`Route`]s (`/probe`, `/snmp`, `/lookup`, …), an optional reload hook and an optional
//! change signal for push-on-change. [`run`] serves it over HTTP (scrape mode, default)
//! and/or pushes it to a Pushgateway (`--push.url`), with signals and shutdown handled.
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

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use crate::expo::MetricSet;

/// A boxed, sendable future (keeps [`Source`] and handlers object-safe).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One collection request: from an HTTP scrape or from the push loop.
#[derive(Clone, Debug, Default)]
pub struct Scrape {
    /// When the answer must be ready: from `X-Prometheus-Scrape-Timeout-Seconds` minus
    /// `--web.timeout-offset`, or the push interval. `None`: no deadline known.
    pub deadline: Option<Instant>,
    /// Query parameters of the HTTP request, in order (`collect[]`, `exclude[]`, …).
    /// Empty for pushes.
    pub query: Vec<(String, String)>,
    /// True when collecting for a push rather than an HTTP scrape.
    pub push: bool,
}

impl Scrape {
    /// All values of a query parameter.
    pub fn params<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.query
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Time left until the deadline (None if there is no deadline).
    pub fn remaining(&self) -> Option<std::time::Duration> {
        self.deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
    }
}

/// Produces the exporter's `/metrics` content (and what push mode sends).
pub trait Source: Send + Sync + 'static {
    /// Collects a fresh snapshot. Must not fail as a whole: report partial failures as
    /// metrics (`*_up 0`, error counters) — the failure convention of ARCHITECTURE.md ("Contracts").
    fn collect<'a>(&'a self, scrape: &'a Scrape) -> BoxFuture<'a, MetricSet>;

    /// Checks an HTTP scrape's query before collecting: `Err(reason)` makes the server
    /// answer 400 with that one-line reason instead of collecting (node_exporter's
    /// answer to `collect[]=nonexist`). The default accepts everything.
    fn validate(&self, _scrape: &Scrape) -> Result<(), String> {
        Ok(())
    }
}

/// An HTTP request as seen by an extra route.
#[derive(Clone, Debug)]
pub struct Request {
    /// HTTP method, upper case.
    pub method: String,
    /// Path without the query string.
    pub path: String,
    /// Decoded query parameters in order.
    pub query: Vec<(String, String)>,
    /// Request headers, names lower-cased (last value wins).
    pub headers: HashMap<String, String>,
    /// Scrape deadline, as in [`Scrape::deadline`].
    pub deadline: Option<Instant>,
    /// Request body (bounded by the server).
    pub body: bytes::Bytes,
}

impl Request {
    /// The first value of a query parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A [`Scrape`] carrying this request's deadline and query.
    pub fn scrape(&self) -> Scrape {
        Scrape {
            deadline: self.deadline,
            query: self.query.clone(),
            push: false,
        }
    }
}

/// What a route answers. [`Reply::Metrics`] is encoded in the negotiated format and
/// gzipped when asked, like `/metrics`.
#[derive(Debug)]
pub enum Reply {
    /// A metrics exposition (status 200).
    Metrics(MetricSet),
    /// A JSON document with a status code.
    Json(u16, serde_json::Value),
    /// Plain text with a status code (errors: one line, ending in a newline).
    Text(u16, String),
    /// An HTML page (status 200).
    Html(String),
}

impl Reply {
    /// 400 with a one-line reason.
    pub fn bad_request(reason: impl std::fmt::Display) -> Reply {
        Reply::Text(400, format!("{reason}\n"))
    }
    /// 404 with a one-line reason.
    pub fn not_found(reason: impl std::fmt::Display) -> Reply {
        Reply::Text(404, format!("{reason}\n"))
    }
}

/// Handler of an extra route.
pub type Handler = Arc<dyn Fn(Request) -> BoxFuture<'static, Reply> + Send + Sync>;

/// An extra HTTP route.
#[derive(Clone)]
pub struct Route {
    /// Exact path, e.g. `/probe`.
    pub path: &'static str,
    /// One line for the landing page.
    pub description: &'static str,
    /// The handler.
    pub handler: Handler,
}

impl Route {
    /// Builds a route from an async closure.
    pub fn new<F, Fut>(path: &'static str, description: &'static str, f: F) -> Route
    where
        F: Fn(Request) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Reply> + Send + 'static,
    {
        Route {
            path,
            description,
            handler: Arc::new(move |r| Box::pin(f(r))),
        }
    }
}

/// Reload hook: re-read configuration; `Err` keeps the old one and is reported.
pub type ReloadFn = Arc<dyn Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

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
pub fn main(args: crate::cli::CommonArgs, exporter: Exporter) -> std::process::ExitCode {
    if let Err(e) = crate::log::init(&args.log) {
        eprintln!("{}: error: {e}", exporter.name);
        return std::process::ExitCode::from(1);
    }
    block_on(run(args, exporter))
}

/// Runs `fut` on the runtime every rtmon binary uses (multi-threaded, 2 workers, I/O and
/// timers enabled). For exporters that must start background tasks before serving, or
/// do work after it: they initialise logging, then `block_on` their own async main,
/// which calls [`run`].
pub fn block_on(fut: impl Future<Output = std::process::ExitCode>) -> std::process::ExitCode {
    match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(fut),
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            std::process::ExitCode::from(1)
        }
    }
}

/// Runs the exporter inside an existing runtime (see [`main`]).
pub async fn run(args: crate::cli::CommonArgs, exporter: Exporter) -> std::process::ExitCode {
    crate::http::serve_and_push(args, exporter).await
}
