//! What an exporter collects, seen from below: the [`Source`] of its metrics, the
//! [`Scrape`] that asks for a snapshot and the [`ReloadFn`] hook. The HTTP server
//! ([`crate::http`]) and the push loop ([`crate::push`]) both call a source, and know
//! nothing of each other; the runtime ([`crate::app`]) hands the same source to both.
//! Exporters reach these types as `rtmon::app::{Source, Scrape, …}`.

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

/// Reload hook: re-read configuration; `Err` keeps the old one and is reported.
pub type ReloadFn = Arc<dyn Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync>;
