//! Pushgateway client and push loop.
//!
//! Push mode sends the exporter's whole snapshot to a Prometheus Pushgateway with
//! `PUT <url>/metrics/job/<job>{/<label>/<value>}`, so a changed table replaces the old
//! group and leaves no orphan series behind.
//!
//! - **Grouping key**: `job` (`--push.job`), then every `--push.grouping NAME=VALUE` in
//!   order, then `instance=<host name>` unless an `instance` was given. A job or value
//!   that contains `/` or is empty is sent as `<name>@base64/<url-safe base64>` (an empty
//!   value as `=`); other values are percent-encoded where needed.
//! - **Validation before sending** ([`prepare_body`]): metric and label names must be
//!   valid; a sample may not carry a label of the grouping key with a *different* value
//!   (the gateway would silently overwrite it: reported as a configuration error); no
//!   duplicate series; the body ends in a newline. Sample timestamps are **stripped**
//!   (the gateway rejects them, and a pushed sample's time is the scrape time anyway);
//!   the count is logged at debug level. Empty families are dropped.
//! - **Errors**: 200/202 is success. 400 is [`PushError::Rejected`] with the gateway's
//!   message, not retried. Other 4xx and 3xx answers (bad URL, wrong credentials) are
//!   [`PushError::Config`], not retried. 5xx, 408, 429 and network errors are
//!   [`PushError::Transient`]: the loop retries with exponential backoff (250 ms doubling
//!   to 30 s, with jitter), collecting a fresh snapshot before every attempt, so the
//!   newest data is what arrives once the gateway is back.
//! - **Loop** ([`start`]): a push at start, then a heartbeat every `--push.interval`,
//!   plus (with `--push.on-change`) a push soon after each change notification, at most
//!   one per `--push.min-interval`. On shutdown it stops and, with
//!   `--push.delete-on-shutdown`, deletes its group.
//! - **Self-metrics** ([`PushStats::write`]) are merged into every pushed body and can be
//!   added to `/metrics` by the runtime (`app`), from [`PushHandle::stats`].
//! - **Secrets**: the basic-auth password is read once from `--push.password-file` and
//!   never logged; a URL with credentials in it is refused.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use tokio::sync::{watch, Notify};
use tokio::time::Instant;

use crate::cli::PushArgs;
use crate::expo::{self, MetricSet, MetricType};
use crate::source::{Scrape, Source};

/// Why a push failed.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// Bad flags or an invalid grouping key / metric set, found before sending; or a
    /// gateway answer that means the configuration is wrong (3xx, 401, 403, 404, …).
    #[error("push configuration: {0}")]
    Config(String),
    /// The gateway answered 400: a configuration or consistency error (not retried).
    #[error("pushgateway rejected the push (HTTP 400): {0}")]
    Rejected(String),
    /// Network error or 5xx after all retries.
    #[error("push failed: {0}")]
    Transient(String),
}

impl PushError {
    /// The `reason` label value of `rtmon_push_failures_total` for this error.
    pub fn reason(&self) -> &'static str {
        match self {
            PushError::Config(_) => "config",
            PushError::Rejected(_) => "rejected",
            PushError::Transient(_) => "transient",
        }
    }
}

/// Counters of the push loop, exported on `/metrics` and in every push.
#[derive(Debug, Default)]
pub struct PushStats {
    pushes: AtomicU64,
    failed_config: AtomicU64,
    failed_rejected: AtomicU64,
    failed_transient: AtomicU64,
    /// f64 bits; 0.0 = never.
    last_success: AtomicU64,
    /// f64 bits.
    last_duration: AtomicU64,
}

impl PushStats {
    /// Writes `rtmon_push_last_success_timestamp_seconds`, `rtmon_push_failures_total`
    /// (by `reason`: `rejected`, `transient`, `config`), `rtmon_push_duration_seconds`
    /// and `rtmon_pushes_total`.
    pub fn write(&self, out: &mut MetricSet) {
        out.gauge(
            "rtmon_push_last_success_timestamp_seconds",
            "Unix time of the last successful push to the Pushgateway (0: never).",
            &[],
            self.last_success_timestamp(),
        );
        let fam = out.family(
            "rtmon_push_failures_total",
            "Failed pushes by reason: rejected (HTTP 400), transient (network or 5xx, retried), config (invalid setup or metric set, not sent).",
            MetricType::Counter,
        );
        for reason in ["rejected", "transient", "config"] {
            fam.add(&[("reason", reason)], self.failures(reason));
        }
        out.gauge(
            "rtmon_push_duration_seconds",
            "Duration of the last push attempt (collection excluded).",
            &[],
            f64::from_bits(self.last_duration.load(Ordering::Relaxed)),
        );
        out.counter(
            "rtmon_pushes_total",
            "Push attempts to the Pushgateway, successful or not.",
            &[],
            self.pushes_total(),
        );
    }

    /// Push attempts so far.
    pub fn pushes_total(&self) -> u64 {
        self.pushes.load(Ordering::Relaxed)
    }

    /// Failures so far for a `reason` (`rejected`, `transient`, `config`; else 0).
    pub fn failures(&self, reason: &str) -> u64 {
        match reason {
            "rejected" => self.failed_rejected.load(Ordering::Relaxed),
            "transient" => self.failed_transient.load(Ordering::Relaxed),
            "config" => self.failed_config.load(Ordering::Relaxed),
            _ => 0,
        }
    }

    /// Unix time of the last success, 0.0 if none.
    pub fn last_success_timestamp(&self) -> f64 {
        f64::from_bits(self.last_success.load(Ordering::Relaxed))
    }

    fn record(&self, result: &Result<(), PushError>, took: Duration) {
        self.pushes.fetch_add(1, Ordering::Relaxed);
        self.last_duration
            .store(took.as_secs_f64().to_bits(), Ordering::Relaxed);
        match result {
            Ok(()) => {
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_secs_f64())
                    .unwrap_or(0.0);
                self.last_success.store(now.to_bits(), Ordering::Relaxed);
            }
            Err(e) => self.record_failure(e),
        }
    }

    fn record_failure(&self, e: &PushError) {
        let c = match e {
            PushError::Config(_) => &self.failed_config,
            PushError::Rejected(_) => &self.failed_rejected,
            PushError::Transient(_) => &self.failed_transient,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }
}

/// A running push loop.
pub struct PushHandle {
    /// Shared statistics.
    pub stats: Arc<PushStats>,
    /// The loop task; finishes after shutdown (and the optional DELETE).
    pub task: tokio::task::JoinHandle<()>,
}

/// Encodes one path segment of a push URL: `(name suffix, value)`. A value that is
/// empty or contains `/` is base64 (URL-safe, no padding; empty → `=`) and the name gets
/// `@base64`; other values are percent-encoded outside `A-Za-z0-9-._~`.
pub fn encode_segment(value: &str) -> (&'static str, String) {
    if value.is_empty() {
        return ("@base64", "=".to_string());
    }
    if value.contains('/') {
        let b = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value);
        return ("@base64", b);
    }
    (
        "",
        percent_encoding::utf8_percent_encode(value, UNRESERVED_ONLY).to_string(),
    )
}

/// Everything but RFC 3986's unreserved characters (`A-Za-z0-9-._~`) is escaped.
const UNRESERVED_ONLY: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The full grouping key from flags: `job` first, then `--push.grouping` in order,
/// then `instance=<hostname>` if no instance was given. Validates label names, refuses
/// `job` in `--push.grouping` and duplicate names, and an empty job.
pub fn grouping_key(
    job: &str,
    grouping: &[(String, String)],
    hostname: &str,
) -> Result<Vec<(String, String)>, PushError> {
    if job.is_empty() {
        return Err(PushError::Config("--push.job must not be empty".into()));
    }
    let mut key = vec![("job".to_string(), job.to_string())];
    for (name, value) in grouping {
        if !expo::valid_label_name(name) {
            return Err(PushError::Config(format!(
                "--push.grouping {name:?}: not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __)"
            )));
        }
        if name == "job" {
            return Err(PushError::Config(
                "--push.grouping job=…: set the job with --push.job instead".into(),
            ));
        }
        if key.iter().any(|(k, _)| k == name) {
            return Err(PushError::Config(format!(
                "--push.grouping {name:?} given twice: grouping label names must be unique"
            )));
        }
        key.push((name.clone(), value.clone()));
    }
    if !key.iter().any(|(k, _)| k == "instance") {
        key.push(("instance".to_string(), hostname.to_string()));
    }
    Ok(key)
}

/// The path part of a group's URL for a grouping key from [`grouping_key`]
/// (`job` first): `/metrics/job/<job>{/<label>/<value>}`.
pub fn group_path(key: &[(String, String)]) -> String {
    let mut p = String::from("/metrics");
    for (name, value) in key {
        let (suffix, v) = encode_segment(value);
        p.push('/');
        p.push_str(name);
        p.push_str(suffix);
        p.push('/');
        p.push_str(&v);
    }
    p
}

/// A body ready to push.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// Text 0.0.4 exposition, ending in a newline.
    pub body: String,
    /// How many sample timestamps were stripped.
    pub timestamps_stripped: usize,
    /// Number of samples in the body.
    pub samples: usize,
}

/// Validates a metric set against the grouping key and encodes it (text 0.0.4).
/// Strips timestamps and empty families. Errors ([`PushError::Config`]) name the
/// offending metric and label.
pub fn prepare_body(mut set: MetricSet, key: &[(String, String)]) -> Result<Prepared, PushError> {
    set.prune_empty();
    // Strip timestamps (only touch families that have any).
    let with_ts: Vec<String> = set
        .families()
        .iter()
        .filter(|f| f.samples.iter().any(|s| s.timestamp_ms.is_some()))
        .map(|f| f.name.clone())
        .collect();
    let mut stripped = 0;
    for name in with_ts {
        let fam = set.family(&name, "", MetricType::Untyped);
        for s in &mut fam.samples {
            if s.timestamp_ms.take().is_some() {
                stripped += 1;
            }
        }
    }
    // Names, grouping conflicts, duplicate series.
    let hasher = std::collections::hash_map::RandomState::new();
    let mut seen: HashMap<u64, Vec<(usize, usize)>> = HashMap::with_capacity(set.len());
    let fams = set.families();
    for (fi, f) in fams.iter().enumerate() {
        if !expo::valid_metric_name(&f.name) {
            return Err(PushError::Config(format!(
                "metric {:?} has an invalid name",
                f.name
            )));
        }
        for (si, s) in f.samples.iter().enumerate() {
            let mut sorted: Vec<(&str, &str)> = Vec::with_capacity(s.labels.len());
            for (k, v) in &s.labels {
                if !expo::valid_label_name(k) {
                    return Err(PushError::Config(format!(
                        "metric {}{}: invalid label name {:?}",
                        f.name, s.suffix, k
                    )));
                }
                if let Some((_, kv)) = key.iter().find(|(kk, _)| kk == k) {
                    if kv != v {
                        return Err(PushError::Config(format!(
                            "metric {}{} has label {k}={v:?} but the grouping key says {k}={kv:?}; \
                             the Pushgateway would overwrite it: rename the label or change --push.grouping",
                            f.name, s.suffix
                        )));
                    }
                }
                sorted.push((k.as_ref(), v.as_str()));
            }
            sorted.sort_unstable();
            if sorted.windows(2).any(|w| w[0].0 == w[1].0) {
                return Err(PushError::Config(format!(
                    "metric {}{} has a label name twice",
                    f.name, s.suffix
                )));
            }
            let mut h = hasher.build_hasher();
            // The series name is family name + suffix: hash it as one string.
            h.write(f.name.as_bytes());
            h.write(s.suffix.as_bytes());
            h.write_u8(0xff);
            sorted.hash(&mut h);
            let slot = seen.entry(h.finish()).or_default();
            // Same hash seen before (rare): compare for real.
            if !slot.is_empty() {
                let name = format!("{}{}", f.name, s.suffix);
                let dup = slot.iter().any(|&(a, b)| {
                    let (of, os) = (&fams[a], &fams[a].samples[b]);
                    let mut l: Vec<(&str, &str)> = os
                        .labels
                        .iter()
                        .map(|(k, v)| (k.as_ref(), v.as_str()))
                        .collect();
                    l.sort_unstable();
                    format!("{}{}", of.name, os.suffix) == name && l == sorted
                });
                if dup {
                    return Err(PushError::Config(format!(
                        "duplicate series {name}{{{}}} in the pushed metric set",
                        sorted
                            .iter()
                            .map(|(k, v)| format!("{k}={v:?}"))
                            .collect::<Vec<_>>()
                            .join(",")
                    )));
                }
            }
            slot.push((fi, si));
        }
    }
    let body = expo::encode_text(&set);
    if !body.is_empty() && !body.ends_with('\n') {
        return Err(PushError::Config(
            "encoded body does not end in a newline".into(),
        ));
    }
    Ok(Prepared {
        body,
        timestamps_stripped: stripped,
        samples: set.len(),
    })
}

/// Maps a gateway answer to a result. `msg` is the (trimmed) response body.
pub fn classify(status: u16, msg: &str) -> Result<(), PushError> {
    match status {
        200..=299 => Ok(()),
        400 => Err(PushError::Rejected(msg.to_string())),
        408 | 429 | 500..=599 => Err(PushError::Transient(format!("HTTP {status}: {msg}"))),
        _ => Err(PushError::Config(format!(
            "the pushgateway answered HTTP {status}{}{msg} (check --push.url and credentials)",
            if msg.is_empty() { "" } else { ": " }
        ))),
    }
}

/// Trims a response body to one readable line of at most 500 characters.
fn one_line(body: &[u8]) -> String {
    let s = String::from_utf8_lossy(body);
    let s: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    match s.char_indices().nth(500) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s,
    }
}

/// An error's full source chain in one line.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

/// Bodies at least this long are sent gzip-compressed.
const GZIP_MIN: usize = 1024;

/// A configured Pushgateway client for one group.
pub struct Pusher {
    client: reqwest::Client,
    url: String,
    key: Vec<(String, String)>,
    auth: Option<(String, String)>,
}

impl std::fmt::Debug for Pusher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pusher")
            .field("url", &self.url)
            .field("key", &self.key)
            .field("user", &self.auth.as_ref().map(|(u, _)| u))
            .finish_non_exhaustive()
    }
}

impl Pusher {
    /// Checks the flags, reads the password file and builds the HTTP client.
    pub fn new(args: &PushArgs) -> Result<Pusher, PushError> {
        let base = args
            .url
            .as_deref()
            .ok_or_else(|| PushError::Config("--push.url is not set".into()))?;
        let parsed = reqwest::Url::parse(base)
            .map_err(|e| PushError::Config(format!("--push.url {base:?}: {e}")))?;
        if parsed.scheme() != "http" && parsed.scheme() != "https" {
            return Err(PushError::Config(format!(
                "--push.url: scheme {:?} is not http or https",
                parsed.scheme()
            )));
        }
        if args.username.is_some() && parsed.scheme() == "http" {
            tracing::warn!("--push.username over plain http: the password crosses the network unencrypted; use https");
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(PushError::Config(
                "--push.url must not contain credentials: use --push.username and --push.password-file".into(),
            ));
        }
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(PushError::Config(format!(
                "--push.url {base:?}: must not have a query or fragment"
            )));
        }
        if args.timeout.is_zero() {
            return Err(PushError::Config("--push.timeout must be above 0".into()));
        }
        let job = args.job.as_deref().unwrap_or_default();
        let key = grouping_key(job, &args.grouping, &crate::cli::hostname())?;
        let url = format!(
            "{}{}",
            parsed.as_str().trim_end_matches('/'),
            group_path(&key)
        );
        let auth = match (&args.username, &args.password_file) {
            (None, None) => None,
            (Some(_), None) => {
                return Err(PushError::Config(
                    "--push.username needs --push.password-file".into(),
                ))
            }
            (None, Some(_)) => {
                return Err(PushError::Config(
                    "--push.password-file needs --push.username".into(),
                ))
            }
            (Some(user), Some(file)) => {
                let raw = std::fs::read_to_string(file).map_err(|e| {
                    PushError::Config(format!(
                        "cannot read --push.password-file {}: {e}",
                        file.display()
                    ))
                })?;
                let pass = raw.trim_end_matches(['\n', '\r']).to_string();
                if pass.is_empty() {
                    return Err(PushError::Config(format!(
                        "--push.password-file {} is empty",
                        file.display()
                    )));
                }
                Some((user.clone(), pass))
            }
        };
        // reqwest is built with `rustls-no-provider`: make ring the process default
        // (a no-op if someone already installed one).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(args.timeout)
            .connect_timeout(args.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("rtmon/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                PushError::Config(format!("cannot build the HTTP client: {}", chain(&e)))
            })?;
        Ok(Pusher {
            client,
            url,
            key,
            auth,
        })
    }

    /// The group's URL (`<url>/metrics/job/…`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The grouping key, `job` first.
    pub fn key(&self) -> &[(String, String)] {
        &self.key
    }

    fn request(&self, method: reqwest::Method) -> reqwest::RequestBuilder {
        let rb = self.client.request(method, &self.url);
        match &self.auth {
            Some((u, p)) => rb.basic_auth(u, Some(p)),
            None => rb,
        }
    }

    async fn send(&self, rb: reqwest::RequestBuilder) -> Result<(), PushError> {
        let resp = rb.send().await.map_err(|e| {
            PushError::Transient(format!("{}: {}", self.url, chain(&e.without_url())))
        })?;
        let status = resp.status().as_u16();
        let body = resp.bytes().await.unwrap_or_default();
        classify(status, &one_line(&body))
    }

    /// PUTs a prepared body once (no retry).
    pub async fn put(&self, p: &Prepared) -> Result<(), PushError> {
        let mut rb = self
            .request(reqwest::Method::PUT)
            .header("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
        if p.body.len() >= GZIP_MIN {
            let mut gz = flate2::write::GzEncoder::new(
                Vec::with_capacity(p.body.len() / 4),
                flate2::Compression::fast(),
            );
            gz.write_all(p.body.as_bytes())
                .map_err(|e| PushError::Config(format!("gzip: {e}")))?;
            let data = gz
                .finish()
                .map_err(|e| PushError::Config(format!("gzip: {e}")))?;
            rb = rb.header("Content-Encoding", "gzip").body(data);
        } else {
            rb = rb.body(p.body.clone());
        }
        self.send(rb).await
    }

    /// Validates, encodes and PUTs a metric set once (no retry).
    pub async fn push(&self, set: MetricSet) -> Result<(), PushError> {
        let p = prepare_body(set, &self.key)?;
        self.put(&p).await
    }

    /// DELETEs the group once.
    pub async fn delete(&self) -> Result<(), PushError> {
        self.send(self.request(reqwest::Method::DELETE)).await
    }
}

/// Exponential backoff: 250 ms doubling to 30 s (or to the push interval when that is
/// shorter: a push loop never waits longer than one heartbeat to retry), each delay
/// jittered to 75–125 % and never above the cap.
#[derive(Debug)]
struct Backoff {
    next: Duration,
    cap: Duration,
    rng: std::collections::hash_map::RandomState,
    n: u64,
}

impl Backoff {
    const START: Duration = Duration::from_millis(250);
    const CAP: Duration = Duration::from_secs(30);

    fn new() -> Backoff {
        Backoff::capped(Self::CAP)
    }

    /// A backoff whose delays never exceed `cap` (at most 30 s).
    fn capped(cap: Duration) -> Backoff {
        let cap = cap.min(Self::CAP).max(Duration::from_millis(1));
        Backoff {
            cap,
            next: Self::START.min(cap),
            rng: Default::default(),
            n: 0,
        }
    }

    fn reset(&mut self) {
        self.next = Self::START.min(self.cap);
    }

    fn delay(&mut self) -> Duration {
        let base = self.next;
        self.next = self.next.saturating_mul(2).min(self.cap);
        self.n += 1;
        let r = self.rng.hash_one(self.n) % 1000; // 0..999
        base.mul_f64(0.75 + r as f64 / 2000.0).min(self.cap)
    }
}

async fn collect(source: &dyn Source, within: Duration) -> MetricSet {
    let scrape = Scrape {
        deadline: Some(crate::duration::deadline_in(within)),
        query: Vec::new(),
        push: true,
    };
    source.collect(&scrape).await
}

/// Collects, merges the self-metrics, pushes once and records the outcome.
async fn attempt(
    pusher: &Pusher,
    source: &dyn Source,
    stats: &PushStats,
    within: Duration,
) -> Result<(), PushError> {
    let mut set = collect(source, within).await;
    let mut own = MetricSet::new();
    stats.write(&mut own);
    set.merge(own);
    let started = Instant::now();
    let result = match prepare_body(set, &pusher.key) {
        Ok(p) => {
            if p.timestamps_stripped > 0 {
                tracing::debug!(
                    stripped = p.timestamps_stripped,
                    "sample timestamps removed before pushing"
                );
            }
            pusher.put(&p).await
        }
        Err(e) => Err(e),
    };
    stats.record(&result, started.elapsed());
    result
}

async fn notified(n: &Option<Arc<Notify>>) {
    match n {
        Some(n) => n.notified().await,
        None => std::future::pending().await,
    }
}

/// Starts the push loop: heartbeat every `--push.interval`, immediate (debounced) push
/// on `changed` when `--push.on-change`, backoff on failures, DELETE on shutdown when
/// asked. `shutdown` turning true stops it. Must be called inside a tokio runtime.
/// Configuration errors (URL, grouping, password file) are returned at once.
pub fn start(
    args: &PushArgs,
    source: Arc<dyn Source>,
    changed: Option<Arc<Notify>>,
    shutdown: watch::Receiver<bool>,
) -> Result<PushHandle, PushError> {
    if args.interval.is_zero() {
        return Err(PushError::Config("--push.interval must be above 0".into()));
    }
    let pusher = Pusher::new(args)?;
    let stats = Arc::new(PushStats::default());
    let cfg = LoopCfg {
        interval: args.interval,
        min_interval: args.min_interval,
        delete: args.delete_on_shutdown,
        timeout: args.timeout,
    };
    let changed = if args.on_change { changed } else { None };
    tracing::info!(url = %pusher.url, interval = ?args.interval, on_change = changed.is_some(), "push mode");
    let task = tokio::spawn(run_loop(
        pusher,
        cfg,
        source,
        changed,
        shutdown,
        stats.clone(),
    ));
    Ok(PushHandle { stats, task })
}

struct LoopCfg {
    interval: Duration,
    min_interval: Duration,
    delete: bool,
    timeout: Duration,
}

async fn run_loop(
    pusher: Pusher,
    cfg: LoopCfg,
    source: Arc<dyn Source>,
    changed: Option<Arc<Notify>>,
    mut shutdown: watch::Receiver<bool>,
    stats: Arc<PushStats>,
) {
    let mut backoff = Backoff::capped(cfg.interval);
    let mut next = Instant::now();
    let mut last_attempt: Option<Instant> = None;
    let mut failing = false;
    let mut shutdown_open = true;
    loop {
        if *shutdown.borrow() {
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep_until(next) => {}
            _ = notified(&changed), if !failing => {
                let earliest = last_attempt.map_or_else(Instant::now, |t| t + cfg.min_interval);
                next = next.min(earliest);
                continue;
            }
            r = shutdown.changed(), if shutdown_open => {
                if r.is_err() {
                    // Nobody can ask us to stop any more: keep pushing until the
                    // runtime ends.
                    shutdown_open = false;
                }
                continue;
            }
        }
        let result = attempt(&pusher, source.as_ref(), &stats, cfg.interval).await;
        let now = Instant::now();
        last_attempt = Some(now);
        match result {
            Ok(()) => {
                if failing {
                    tracing::info!(url = %pusher.url, "push succeeded again");
                } else {
                    tracing::debug!(url = %pusher.url, "pushed");
                }
                failing = false;
                backoff.reset();
                next = now + cfg.interval;
            }
            Err(e @ PushError::Transient(_)) => {
                let d = backoff.delay();
                tracing::warn!(error = %e, retry_in = ?d, "push failed, will retry with the newest snapshot");
                failing = true;
                next = now + d;
            }
            Err(e) => {
                tracing::error!(error = %e, reason = e.reason(), "push not accepted, not retrying until the next heartbeat");
                failing = false;
                backoff.reset();
                next = now + cfg.interval;
            }
        }
    }
    if cfg.delete {
        // Stay within --push.timeout in all, so shutdown is not held up: retry a
        // quick failure (connection refused, 503) while time remains.
        let deadline = Instant::now() + cfg.timeout;
        let mut b = Backoff::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let r = pusher
                .send(pusher.request(reqwest::Method::DELETE).timeout(left))
                .await;
            match r {
                Ok(()) => {
                    tracing::info!(url = %pusher.url, "deleted the pushed group on shutdown");
                    break;
                }
                Err(e @ PushError::Transient(_)) if Instant::now() + b.next < deadline => {
                    tracing::warn!(error = %e, "delete on shutdown failed, retrying");
                    tokio::time::sleep(b.delay()).await;
                }
                Err(e) => {
                    stats.record_failure(&e);
                    tracing::error!(error = %e, "could not delete the pushed group on shutdown");
                    break;
                }
            }
        }
    }
}

/// `--once`: collect one snapshot, push it (up to 4 attempts on network errors and
/// 5xx, 250 ms → 1 s apart), return. 400s and configuration errors return at once.
pub async fn push_once(args: &PushArgs, source: Arc<dyn Source>) -> Result<(), PushError> {
    let pusher = Pusher::new(args)?;
    let stats = PushStats::default();
    let mut set = collect(source.as_ref(), args.timeout).await;
    let mut own = MetricSet::new();
    stats.write(&mut own);
    set.merge(own);
    let p = prepare_body(set, &pusher.key)?;
    let mut backoff = Backoff::new();
    let mut last = None;
    for i in 0..4 {
        if i > 0 {
            tokio::time::sleep(backoff.delay()).await;
        }
        match pusher.put(&p).await {
            Ok(()) => {
                tracing::info!(url = %pusher.url, samples = p.samples, "pushed");
                return Ok(());
            }
            Err(e @ PushError::Transient(_)) => {
                tracing::warn!(error = %e, attempt = i + 1, "push failed");
                last = Some(e);
            }
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| PushError::Transient("no attempt made".into())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    fn key(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn segments_use_base64_for_slash_and_empty() {
        assert_eq!(encode_segment(""), ("@base64", "=".to_string()));
        assert_eq!(
            encode_segment("/var/tmp"),
            ("@base64", "L3Zhci90bXA".to_string())
        );
        assert_eq!(encode_segment("a/b"), ("@base64", "YS9i".to_string()));
        assert_eq!(
            encode_segment("dtn-a.example_1~"),
            ("", "dtn-a.example_1~".to_string())
        );
        assert_eq!(
            encode_segment("a b%?#é"),
            ("", "a%20b%25%3F%23%C3%A9".to_string())
        );
    }

    #[test]
    fn grouping_key_order_instance_default_and_errors() {
        let k = grouping_key("rtmon_arp", &key(&[("flow", "a/b")]), "host1").expect("ok");
        assert_eq!(
            k,
            key(&[("job", "rtmon_arp"), ("flow", "a/b"), ("instance", "host1")])
        );
        assert_eq!(
            group_path(&k),
            "/metrics/job/rtmon_arp/flow@base64/YS9i/instance/host1"
        );
        let k = grouping_key("j/x", &key(&[("instance", ""), ("site", "x")]), "h").expect("ok");
        assert_eq!(
            group_path(&k),
            "/metrics/job@base64/ai94/instance@base64/=/site/x"
        );

        let e = grouping_key("", &[], "h").expect_err("empty job");
        assert!(e.to_string().contains("--push.job"), "{e}");
        let e = grouping_key("j", &key(&[("job", "x")]), "h").expect_err("job");
        assert!(e.to_string().contains("--push.job"), "{e}");
        let e = grouping_key("j", &key(&[("a", "1"), ("a", "2")]), "h").expect_err("dup");
        assert!(e.to_string().contains("twice"), "{e}");
        let e = grouping_key("j", &key(&[("bad-name", "1")]), "h").expect_err("name");
        assert!(e.to_string().contains("bad-name"), "{e}");
    }

    #[test]
    fn prepare_strips_timestamps_and_checks_conflicts() {
        let k = key(&[("job", "j"), ("instance", "h1")]);
        let mut m = MetricSet::new();
        m.gauge("a", "A.", &[("instance", "h1")], 1u64); // same value: fine
        m.family("b", "B.", MetricType::Gauge).push(expo::Sample {
            suffix: "",
            labels: vec![(Cow::Borrowed("x"), "1".into())],
            value: 2u64.into(),
            timestamp_ms: Some(1_700_000_000_000),
            created: None,
        });
        m.family("empty", "E.", MetricType::Gauge);
        let p = prepare_body(m, &k).expect("valid");
        assert_eq!(p.timestamps_stripped, 1);
        assert_eq!(p.samples, 2);
        assert_eq!(
            p.body,
            "# HELP a A.\n# TYPE a gauge\na{instance=\"h1\"} 1\n# HELP b B.\n# TYPE b gauge\nb{x=\"1\"} 2\n"
        );

        let mut m = MetricSet::new();
        m.gauge("a", "A.", &[("instance", "other")], 1u64);
        let e = prepare_body(m, &k).expect_err("conflict");
        assert!(matches!(e, PushError::Config(_)));
        assert!(e.to_string().contains("instance=\"other\""), "{e}");
        assert!(e.to_string().contains("instance=\"h1\""), "{e}");
    }

    #[test]
    fn prepare_rejects_duplicates_and_bad_names() {
        let k = key(&[("job", "j")]);
        // A family `x_count` (gauge) and histogram `x` both yield series `x_count`.
        let mut m = MetricSet::new();
        m.family("x", "X.", MetricType::Histogram)
            .add_histogram(&[], &[(1.0, 1)], 1.0, 1);
        m.gauge("x_count", "Y.", &[], 1u64);
        let e = prepare_body(m, &k).expect_err("dup");
        assert!(e.to_string().contains("duplicate series x_count"), "{e}");

        let mut m = MetricSet::new();
        m.gauge("bad-name", "B.", &[], 1u64);
        assert!(prepare_body(m, &k).is_err());
        let mut m = MetricSet::new();
        m.family("ok", "B.", MetricType::Gauge)
            .add_owned(vec![(Cow::Owned("__x".into()), "1".into())], 1u64);
        assert!(prepare_body(m, &k).is_err());
    }

    #[test]
    fn classify_statuses() {
        assert!(classify(200, "").is_ok());
        assert!(classify(202, "").is_ok());
        assert!(matches!(classify(400, "bad"), Err(PushError::Rejected(m)) if m == "bad"));
        assert!(matches!(classify(503, "x"), Err(PushError::Transient(_))));
        assert!(matches!(classify(429, "x"), Err(PushError::Transient(_))));
        assert!(matches!(classify(401, "x"), Err(PushError::Config(_))));
        assert!(matches!(classify(307, ""), Err(PushError::Config(_))));
    }

    #[test]
    fn one_line_trims() {
        assert_eq!(one_line(b"  a\nb  c\n"), "a b c");
        assert_eq!(one_line(&[b'x'; 600]).chars().count(), 501);
    }

    #[test]
    fn backoff_doubles_to_cap_with_jitter() {
        let mut b = Backoff::new();
        let d: Vec<Duration> = (0..10).map(|_| b.delay()).collect();
        assert!(d[0] >= Duration::from_millis(187) && d[0] <= Duration::from_millis(313));
        assert!(d[1] >= Duration::from_millis(375) && d[1] <= Duration::from_millis(625));
        assert!(d[9] <= Duration::from_millis(37_500) && d[9] >= Duration::from_millis(22_500));
        b.reset();
        assert!(b.delay() <= Duration::from_millis(313));
    }

    #[test]
    fn backoff_is_capped_by_the_push_interval() {
        let mut b = Backoff::capped(Duration::from_secs(1));
        let d: Vec<Duration> = (0..20).map(|_| b.delay()).collect();
        assert!(d.iter().all(|d| *d <= Duration::from_secs(1)), "{d:?}");
        assert!(d[19] >= Duration::from_millis(750), "{d:?}");
        let mut b = Backoff::capped(Duration::from_millis(100));
        assert!(b.delay() <= Duration::from_millis(100));
        let mut b = Backoff::capped(Duration::from_secs(3600));
        let last = (0..20).map(|_| b.delay()).last().unwrap_or_default();
        assert!(last <= Duration::from_secs(30), "{last:?}");
    }

    #[test]
    fn pusher_flag_errors_do_not_leak_secrets() {
        let dir = tempfile::tempdir().expect("tmp");
        let pw = dir.path().join("pw");
        std::fs::write(&pw, "s3cret-pass\n").expect("write");
        let base = PushArgs {
            url: Some("http://127.0.0.1:9".into()),
            job: Some("j".into()),
            timeout: Duration::from_secs(1),
            ..Default::default()
        };
        let p = Pusher::new(&PushArgs {
            username: Some("u".into()),
            password_file: Some(pw.clone()),
            ..base.clone()
        })
        .expect("ok");
        assert!(!format!("{p:?}").contains("s3cret"));
        assert!(p
            .url()
            .starts_with("http://127.0.0.1:9/metrics/job/j/instance/"));

        let e = Pusher::new(&PushArgs {
            url: Some("http://u:s3cret@127.0.0.1:9".into()),
            ..base.clone()
        })
        .expect_err("creds in url");
        assert!(!e.to_string().contains("s3cret"), "{e}");
        let e = Pusher::new(&PushArgs {
            username: Some("u".into()),
            ..base.clone()
        })
        .expect_err("no file");
        assert!(e.to_string().contains("--push.password-file"), "{e}");
        let e = Pusher::new(&PushArgs {
            username: Some("u".into()),
            password_file: Some(dir.path().join("missing")),
            ..base.clone()
        })
        .expect_err("missing file");
        assert!(e.to_string().contains("missing"), "{e}");
        let e = Pusher::new(&PushArgs {
            url: Some("ftp://x".into()),
            ..base.clone()
        })
        .expect_err("scheme");
        assert!(e.to_string().contains("ftp"), "{e}");
        assert!(Pusher::new(&PushArgs { url: None, ..base }).is_err());
    }

    #[test]
    fn stats_are_written() {
        let s = PushStats::default();
        s.record(
            &Err(PushError::Transient("x".into())),
            Duration::from_millis(5),
        );
        s.record(&Ok(()), Duration::from_millis(7));
        let mut m = MetricSet::new();
        s.write(&mut m);
        let t = expo::encode_text(&m);
        assert!(
            t.contains("rtmon_push_failures_total{reason=\"transient\"} 1\n"),
            "{t}"
        );
        assert!(
            t.contains("rtmon_push_failures_total{reason=\"rejected\"} 0\n"),
            "{t}"
        );
        assert!(t.contains("rtmon_pushes_total 2\n"), "{t}");
        assert!(t.contains("rtmon_push_duration_seconds 0.007\n"), "{t}");
        assert!(s.last_success_timestamp() > 1.0e9);
    }
}
