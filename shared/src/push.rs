//! Pushgateway client and push loop.
//! OWNER: the push work item. This file fixes the API the HTTP glue codes against;
//! the bodies are placeholders until that work lands.

use std::sync::Arc;

use tokio::sync::{watch, Notify};

use crate::app::Source;
use crate::cli::PushArgs;
use crate::expo::MetricSet;

/// Why a push failed.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// Bad flags or an invalid grouping key / metric set, found before sending.
    #[error("push configuration: {0}")]
    Config(String),
    /// The gateway answered 400: a configuration or consistency error (not retried).
    #[error("pushgateway rejected the push (HTTP 400): {0}")]
    Rejected(String),
    /// Network error or 5xx after all retries.
    #[error("push failed: {0}")]
    Transient(String),
}

/// Counters of the push loop, exported on `/metrics` and in every push.
#[derive(Debug, Default)]
pub struct PushStats {}

impl PushStats {
    /// Writes `rtmon_push_last_success_timestamp_seconds`, `rtmon_push_failures_total`, …
    pub fn write(&self, _out: &mut MetricSet) {}
}

/// A running push loop.
pub struct PushHandle {
    /// Shared statistics.
    pub stats: Arc<PushStats>,
    /// The loop task; finishes after shutdown (and the optional DELETE).
    pub task: tokio::task::JoinHandle<()>,
}

/// Starts the push loop: heartbeat every `--push.interval`, immediate (debounced) push
/// on `changed` when `--push.on-change`, backoff on failures, DELETE on shutdown when
/// asked. `shutdown` turning true stops it.
pub fn start(
    _args: &PushArgs,
    _source: Arc<dyn Source>,
    _changed: Option<Arc<Notify>>,
    _shutdown: watch::Receiver<bool>,
) -> Result<PushHandle, PushError> {
    Err(PushError::Config("push mode is not built yet".into()))
}

/// `--once`: collect one snapshot, push it (with retries), return.
pub async fn push_once(_args: &PushArgs, _source: Arc<dyn Source>) -> Result<(), PushError> {
    Err(PushError::Config("push mode is not built yet".into()))
}
