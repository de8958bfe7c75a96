//! `rtmon-dashboards sync`: a service that keeps Grafana, the Prometheus rules file and
//! the `file_sd` target lists in step with a directory of flow files.
//!
//! **What it watches.** Every `*.yml` / `*.yaml` file directly in `--flows-dir` (names
//! starting with `.` are skipped, symlinks followed: a Kubernetes ConfigMap mounted as a
//! directory works, its `..data` swap is one change). Changes arrive through inotify
//! (the `notify` crate), debounced; a full resync runs every `--resync-interval` anyway.
//!
//! **What it reconciles**, each pass:
//! - *files* (rules and targets): the rules of every flow into `--rules-file`, the target
//!   lists of [`crate::services::targets`] into `--targets-dir`; each written atomically and only
//!   when its content changes. After a change, `POST <prometheus>/-/reload` when
//!   `--prometheus-reload-url` is set (Prometheus with `--web.enable-lifecycle`); without
//!   it Prometheus' own file watch picks up the target lists (rules need a reload or a
//!   SIGHUP).
//! - *Grafana*: the folder is created if missing; each flow's dashboard (deterministic
//!   uid, tagged `--tag`) is compared with what Grafana holds and uploaded
//!   (`overwrite: true`, into the folder) only when it differs; dashboards that are both
//!   tagged `--tag` *and* in the folder, whose flow is gone, are deleted. Nothing else is
//!   touched. A full resync re-reads every dashboard from Grafana (so edits made in
//!   Grafana are put right); a change of one file compares against what the service
//!   last wrote, so it costs only the requests for that flow.
//!
//! **Failures.** A flow file that does not validate is logged with the same
//! `file:line:column` error as every other command, counted in
//! `rtmon_sync_errors_total{system="flows",reason="invalid_flow"}` and listed in
//! `rtmon_sync_flow_file_invalid{file}`; the flows it held before keep their last good
//! state, the other files keep syncing. Grafana or Prometheus down: the pass is retried
//! with exponential backoff (`--retry-min` … `--retry-max`), the other system keeps
//! syncing, and the state converges when it returns. A restart compares before writing,
//! so it sends no request that changes anything when everything is already right.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rtmon::app::{BoxFuture, Exporter, Scrape, Source};
use rtmon::expo::MetricSet;
use rtmon::flow::Flow;
use serde_json::Value;

use crate::engine::rules;
use crate::grafana::dashboard;
use crate::grafana::upload::{ApiError, Grafana};
use crate::names::FLEET_UID;
use crate::services::targets::{self, Ports};
use crate::Options;

/// Grafana side of the sync.
#[derive(Clone, Debug)]
pub struct GrafanaSettings {
    /// Base URL.
    pub url: String,
    /// Service-account token (never logged).
    pub token: String,
    /// Folder title.
    pub folder: String,
    /// Tag that marks the dashboards this service owns (with the folder).
    pub tag: String,
}

/// Rules file settings.
#[derive(Clone, Debug)]
pub struct RulesSettings {
    /// The rules file Prometheus loads.
    pub path: PathBuf,
    /// Rule group evaluation interval.
    pub eval_interval: String,
    /// How long a check must fail before its alert fires.
    pub alert_for: String,
    /// Where to write the flows' topology in the text format for Prometheus to scrape
    /// (the rules file then leaves the topology rules out); `None`: topology as rules.
    pub topology_file: Option<PathBuf>,
}

/// Everything the service needs.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Directory of flow files.
    pub flows_dir: PathBuf,
    /// Generator options (mode, jobs, instance label, …).
    pub opts: Options,
    /// Grafana, if dashboards are synced.
    pub grafana: Option<GrafanaSettings>,
    /// The rules file, if rules are synced.
    pub rules: Option<RulesSettings>,
    /// Directory of the file_sd lists, if targets are synced.
    pub targets_dir: Option<PathBuf>,
    /// Host exporter ports for the target lists.
    pub ports: Ports,
    /// Prometheus base URL to `POST /-/reload` after a file changed.
    pub reload_url: Option<String>,
    /// Full resync period.
    pub resync: Duration,
    /// Quiet time after a file event before the directory is read.
    pub debounce: Duration,
    /// First retry delay after a failure.
    pub retry_min: Duration,
    /// Longest retry delay.
    pub retry_max: Duration,
    /// Grafana requests in flight at once.
    pub concurrency: usize,
    /// HTTP request timeout.
    pub timeout: Duration,
}

/// Systems the service writes to, as the `system` label.
const GRAFANA: &str = "grafana";
const RULES: &str = "rules";
const TARGETS: &str = "targets";
const RELOAD: &str = "prometheus_reload";
const FLOWS: &str = "flows";

/// What `/metrics` shows; updated by the sync loop.
#[derive(Debug, Default)]
pub struct Status {
    /// Flows in effect.
    pub flows: usize,
    /// Flow files read.
    pub files: usize,
    /// Invalid files (file name → first line of the error).
    pub invalid: BTreeMap<String, String>,
    /// Unix time of the last success per system.
    pub last_success: BTreeMap<&'static str, f64>,
    /// Whether the last attempt per system succeeded.
    pub up: BTreeMap<&'static str, bool>,
    /// Errors by (system, reason).
    pub errors: BTreeMap<(&'static str, &'static str), u64>,
    /// Changes made by (system, action).
    pub changes: BTreeMap<(&'static str, &'static str), u64>,
    /// Passes by kind (`full`, `change`, `retry`).
    pub passes: BTreeMap<&'static str, u64>,
    /// Duration of the last pass, seconds.
    pub last_pass_seconds: f64,
}

fn now_unix() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl Status {
    fn ok(&mut self, system: &'static str) {
        self.last_success.insert(system, now_unix());
        self.up.insert(system, true);
    }
    fn failed(&mut self, system: &'static str, reason: &'static str) {
        *self.errors.entry((system, reason)).or_default() += 1;
        self.up.insert(system, false);
    }
    fn changed(&mut self, system: &'static str, action: &'static str, n: u64) {
        if n > 0 {
            *self.changes.entry((system, action)).or_default() += n;
        }
    }

    /// The exposition.
    pub fn metrics(&self) -> MetricSet {
        let mut m = MetricSet::new();
        m.gauge(
            "rtmon_sync_flows",
            "Flows in effect (valid, or the last good state of an invalid file).",
            &[],
            self.flows as u64,
        );
        m.gauge(
            "rtmon_sync_flow_files",
            "Flow files in the watched directory.",
            &[],
            self.files as u64,
        );
        m.gauge(
            "rtmon_sync_flow_files_invalid",
            "Flow files that do not validate (their last good flows stay in effect).",
            &[],
            self.invalid.len() as u64,
        );
        for file in self.invalid.keys() {
            m.gauge(
                "rtmon_sync_flow_file_invalid",
                "1 for each flow file that does not validate; the error is in the log.",
                &[("file", file)],
                1u64,
            );
        }
        for (sys, t) in &self.last_success {
            m.gauge(
                "rtmon_sync_last_success_timestamp_seconds",
                "Unix time of the last successful reconciliation per target system.",
                &[("system", sys)],
                *t,
            );
        }
        for (sys, up) in &self.up {
            m.gauge(
                "rtmon_sync_up",
                "1 when the last reconciliation of the system succeeded.",
                &[("system", sys)],
                u64::from(*up),
            );
        }
        let f = m.family(
            "rtmon_sync_errors_total",
            "Failures by system and reason (invalid_flow, unreachable, http, io, build).",
            rtmon::expo::MetricType::Counter,
        );
        for ((sys, reason), n) in &self.errors {
            f.add(&[("system", sys), ("reason", reason)], *n);
        }
        let f = m.family(
            "rtmon_sync_changes_total",
            "Changes made: dashboards upserted/deleted, files written, reloads.",
            rtmon::expo::MetricType::Counter,
        );
        for ((sys, action), n) in &self.changes {
            f.add(&[("system", sys), ("action", action)], *n);
        }
        let f = m.family(
            "rtmon_sync_passes_total",
            "Reconciliation passes by trigger (full, change, retry).",
            rtmon::expo::MetricType::Counter,
        );
        for (kind, n) in &self.passes {
            f.add(&[("kind", kind)], *n);
        }
        m.gauge(
            "rtmon_sync_last_pass_duration_seconds",
            "Duration of the last reconciliation pass.",
            &[],
            self.last_pass_seconds,
        );
        m
    }
}

/// `/metrics` of the service.
pub struct Metrics(pub Arc<Mutex<Status>>);

impl Source for Metrics {
    fn collect<'a>(&'a self, _s: &'a Scrape) -> BoxFuture<'a, MetricSet> {
        Box::pin(async move {
            match self.0.lock() {
                Ok(s) => s.metrics(),
                Err(p) => p.into_inner().metrics(),
            }
        })
    }
}

fn status_mut(s: &Arc<Mutex<Status>>) -> std::sync::MutexGuard<'_, Status> {
    match s.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

// ---------------------------------------------------------------------------------
// Flow files

#[derive(Debug, Default)]
struct FileEntry {
    /// Content last read (what the state below was derived from).
    text: Option<String>,
    /// The last good flows of this file.
    good: Vec<Flow>,
    /// The current error, if the file does not validate.
    error: Option<String>,
}

/// The flow files of the directory, with each one's last good flows.
#[derive(Debug, Default)]
pub struct FlowFiles {
    files: BTreeMap<PathBuf, FileEntry>,
    /// Flows taken by an earlier file (file → message), recomputed by [`Self::effective`].
    duplicates: BTreeMap<PathBuf, String>,
}

fn is_flow_file(p: &Path) -> bool {
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
    !name.starts_with('.')
        && matches!(
            p.extension().and_then(|e| e.to_str()),
            Some("yml") | Some("yaml")
        )
        && p.is_file()
}

/// What a rescan found.
#[derive(Debug, Default)]
pub struct Rescan {
    /// Whether any file appeared, went or changed.
    pub changed: bool,
    /// New errors (rendered), one per file whose content turned invalid.
    pub new_errors: Vec<(PathBuf, String)>,
}

impl FlowFiles {
    /// Reads the directory; files whose content did not change are not parsed again.
    pub fn rescan(&mut self, dir: &Path) -> Result<Rescan, String> {
        let rd = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut present = BTreeSet::new();
        for e in rd.flatten() {
            let p = e.path();
            if is_flow_file(&p) {
                present.insert(p);
            }
        }
        let mut r = Rescan::default();
        let before = self.files.len();
        self.files.retain(|p, _| present.contains(p));
        r.changed |= self.files.len() != before;
        for p in present {
            let entry = self.files.entry(p.clone()).or_default();
            match std::fs::read_to_string(&p) {
                Ok(text) => {
                    if entry.text.as_deref() == Some(text.as_str()) {
                        continue;
                    }
                    r.changed = true;
                    match rtmon::flow::validate_str(&p, &text) {
                        Ok(flows) => {
                            entry.good = flows.into_iter().map(|(f, _)| f).collect();
                            entry.error = None;
                        }
                        Err(errors) => {
                            let msg = errors
                                .iter()
                                .map(|e| e.render())
                                .collect::<Vec<_>>()
                                .join("\n");
                            r.new_errors.push((p.clone(), msg.clone()));
                            entry.error = Some(msg);
                        }
                    }
                    entry.text = Some(text);
                }
                Err(e) => {
                    // Unreadable (permissions, vanished between listing and reading):
                    // an error for this file; its last good flows stay.
                    let msg = format!("error: {}: {e}", p.display());
                    if entry.error.as_deref() != Some(msg.as_str()) {
                        r.changed = true;
                        r.new_errors.push((p.clone(), msg.clone()));
                        entry.error = Some(msg);
                        entry.text = None;
                    }
                }
            }
        }
        Ok(r)
    }

    /// The flows in effect, sorted by id: every file's current or last good flows; a
    /// flow id already taken by an earlier file (in path order) is left out and
    /// reported against the later file.
    pub fn effective(&mut self) -> Vec<Flow> {
        let mut taken: HashMap<&str, &Path> = HashMap::new();
        let mut out = Vec::new();
        let mut dups = BTreeMap::new();
        for (p, e) in &self.files {
            for f in &e.good {
                match taken.get(f.id.as_str()) {
                    Some(first) => {
                        dups.insert(
                            p.clone(),
                            format!(
                                "error: {}: duplicate flow id `{}`: already defined in {}; this flow is ignored",
                                p.display(),
                                f.id,
                                first.display()
                            ),
                        );
                    }
                    None => {
                        taken.insert(&f.id, p);
                        out.push(f.clone());
                    }
                }
            }
        }
        self.duplicates = dups;
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out
    }

    /// Invalid files: file name → error (parse errors first, then duplicates).
    pub fn invalid(&self) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        let name = |p: &Path| {
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        for (p, msg) in &self.duplicates {
            m.insert(name(p), msg.clone());
        }
        for (p, e) in &self.files {
            if let Some(err) = &e.error {
                m.insert(name(p), err.clone());
            }
        }
        m
    }

    /// Number of flow files.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether there are no flow files.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

// ---------------------------------------------------------------------------------
// Desired state, built incrementally

/// Builds the desired dashboards (reusing what was built for flows that did not
/// change) and the rules file.
struct Desired {
    opts: Options,
    tag: String,
    rules: Option<RulesSettings>,
    /// Per flow id: the flow and the digest of its dashboard (the JSON itself is built
    /// again when it must be uploaded: 1,000 dashboards as JSON trees take gigabytes).
    dashboards: HashMap<String, (Arc<Flow>, u64)>,
    /// Digest of the fleet overview (built once: it depends on the options only).
    fleet: Option<u64>,
}

/// What a synced dashboard is built from.
#[derive(Clone, Debug)]
enum DashSource {
    /// A flow's dashboard.
    Flow(Arc<Flow>),
    /// The fleet overview.
    Fleet,
}

impl DashSource {
    /// The dashboard, tagged as owned.
    fn owned(&self, opts: &Options, tag: &str) -> Value {
        match self {
            DashSource::Flow(f) => owned_dashboard(f, opts, tag),
            DashSource::Fleet => with_tag(crate::grafana::fleet::build(opts), tag),
        }
    }
}

const RULES_HEADER: &str =
    "# Generated by rtmon-dashboards from the flow config; do not edit by hand.\ngroups:\n";

impl Desired {
    /// The dashboard of each flow by uid, tagged as owned.
    /// `None` when building failed (a generator thread panicked): then nothing may be
    /// deleted on the strength of an incomplete set.
    fn dashboards(&mut self, flows: &[Flow]) -> Option<BTreeMap<String, (u64, DashSource)>> {
        let ids: BTreeSet<&str> = flows.iter().map(|f| f.id.as_str()).collect();
        self.dashboards.retain(|id, _| ids.contains(id.as_str()));
        let stale: Vec<&Flow> = flows
            .iter()
            .filter(|f| {
                self.dashboards
                    .get(&f.id)
                    .is_none_or(|(old, _)| old.as_ref() != *f)
            })
            .collect();
        // Build the new ones on every core (1,000 flows at start-up).
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
        let chunk = stale.len().div_ceil(workers).max(1);
        let (opts, tag) = (&self.opts, &self.tag);
        let built: Option<Vec<(Flow, u64)>> = std::thread::scope(|scope| {
            let handles: Vec<_> = stale
                .chunks(chunk)
                .map(|part| {
                    scope.spawn(move || {
                        part.iter()
                            .map(|f| ((*f).clone(), digest(owned_dashboard(f, opts, tag))))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            let mut all = Vec::new();
            for h in handles {
                all.extend(h.join().ok()?);
            }
            Some(all)
        });
        for (f, d) in built? {
            self.dashboards.insert(f.id.clone(), (Arc::new(f), d));
        }
        let mut all: BTreeMap<String, (u64, DashSource)> = self
            .dashboards
            .values()
            .map(|(f, d)| (dashboard::uid(&f.id), (*d, DashSource::Flow(f.clone()))))
            .collect();
        // The fleet overview, while there are flows (it does not depend on which), unless
        // a flow's dashboard took its uid (`generate` refuses such a flow).
        if !flows.is_empty() && !all.contains_key(FLEET_UID) {
            let d = *self
                .fleet
                .get_or_insert_with(|| digest(DashSource::Fleet.owned(opts, tag)));
            all.insert(FLEET_UID.to_string(), (d, DashSource::Fleet));
        }
        Some(all)
    }

    /// The rules file text: the constant rules and every flow's topology (rendered
    /// whole: 10,000 flows take well under a second).
    fn rules_text(&mut self, flows: &[Flow]) -> Option<String> {
        let r = self.rules.as_ref()?;
        if flows.is_empty() {
            // No flow, no rules: an explicit empty list.
            return Some(RULES_HEADER.replace("groups:\n", "groups: []\n"));
        }
        Some(rules::render_with(
            flows,
            &self.opts,
            &r.eval_interval,
            &r.alert_for,
            r.topology_file.is_none(),
        ))
    }

    /// The topology exposition when it is scraped (`--topology-file`).
    fn topology_text(&self, flows: &[Flow]) -> Option<String> {
        self.rules.as_ref()?.topology_file.as_ref()?;
        let mut out = Vec::new();
        let _ = crate::engine::topology::write_exposition(&mut out, flows, &self.opts);
        Some(String::from_utf8(out).unwrap_or_default())
    }
}

/// A flow's dashboard with the ownership tag added.
pub fn owned_dashboard(flow: &Flow, opts: &Options, tag: &str) -> Value {
    with_tag(dashboard::build(flow, opts), tag)
}

/// `d` with the ownership tag added (once).
fn with_tag(mut d: Value, tag: &str) -> Value {
    if let Some(tags) = d.get_mut("tags").and_then(Value::as_array_mut) {
        if !tags.iter().any(|t| t.as_str() == Some(tag)) {
            tags.push(Value::String(tag.to_string()));
        }
    }
    d
}

/// A digest of a dashboard without the fields Grafana sets on save (`id`, `version`),
/// over its JSON text (object keys sorted: serde_json's map is ordered), for comparing
/// what Grafana holds with what a flow gives. Never 0 (0 marks "delete pending").
fn digest(mut d: Value) -> u64 {
    use std::hash::{Hash as _, Hasher as _};
    if let Some(o) = d.as_object_mut() {
        o.remove("id");
        o.remove("version");
    }
    let mut h = std::collections::hash_map::DefaultHasher::new();
    serde_json::to_vec(&d).unwrap_or_default().hash(&mut h);
    h.finish().max(1)
}

// ---------------------------------------------------------------------------------
// Grafana

/// Reason label of an API error.
fn reason(e: &ApiError) -> &'static str {
    match e {
        ApiError::Unreachable(_) => "unreachable",
        ApiError::Http(..) => "http",
    }
}

struct GrafanaSync {
    api: Arc<Grafana>,
    folder_title: String,
    tag: String,
    folder_uid: Option<String>,
    /// Builds the dashboards to upload.
    opts: Arc<Options>,
    /// What Grafana holds, as far as this service knows: uid → [`digest`] (0: a
    /// dashboard to delete).
    known: HashMap<String, u64>,
    /// The next pass must list the owned dashboards (a full pass failed, or none ran).
    need_full: bool,
}

#[derive(Debug, Default)]
struct GrafanaCounts {
    upserted: u64,
    deleted: u64,
    unchanged: u64,
}

impl GrafanaSync {
    /// One reconciliation. `full`: list the owned dashboards and re-read every one.
    async fn pass(
        &mut self,
        desired: &BTreeMap<String, (u64, DashSource)>,
        full: bool,
        concurrency: usize,
    ) -> (GrafanaCounts, Result<(), ApiError>) {
        let mut counts = GrafanaCounts::default();
        let full = full || self.need_full;
        if full {
            self.need_full = true;
            self.known.clear();
        }
        let folder = match &self.folder_uid {
            Some(f) if !full => f.clone(),
            _ => match self.api.folder(&self.folder_title).await {
                Ok(f) => {
                    self.folder_uid = Some(f.clone());
                    f
                }
                Err(e) => return (counts, Err(e)),
            },
        };
        // Dashboards this service owns right now.
        let owned: BTreeSet<String> = if full {
            match self.api.search_tagged(&self.tag, &folder).await {
                Ok(v) => v.into_iter().map(|(uid, _)| uid).collect(),
                Err(e) => return (counts, Err(e)),
            }
        } else {
            self.known.keys().cloned().collect()
        };

        // Upserts: every dashboard whose known state differs (all of them on a full pass).
        let sem = Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
        let mut set = tokio::task::JoinSet::new();
        for (uid, (want, source)) in desired {
            let want = *want;
            let cached = self.known.get(uid).copied();
            if cached == Some(want) {
                counts.unchanged += 1;
                continue;
            }
            // Known but different (the flow changed): write without reading first.
            let read_first = cached.is_none();
            let (api, sem, folder, uid, source, opts, tag) = (
                self.api.clone(),
                sem.clone(),
                folder.clone(),
                uid.clone(),
                source.clone(),
                self.opts.clone(),
                self.tag.clone(),
            );
            set.spawn(async move {
                let _permit = sem.acquire_owned().await;
                if read_first {
                    match api.get_dashboard(&uid).await {
                        Ok(Some((have, have_folder))) => {
                            if have_folder == folder && digest(have) == want {
                                return (uid, want, Ok(false));
                            }
                        }
                        Ok(None) => {}
                        Err(e) => return (uid, want, Err(e)),
                    }
                }
                let d = source.owned(&opts, &tag);
                let r = api.upsert(&d, &folder).await.map(|_| true);
                (uid, want, r)
            });
        }
        let mut first_err = None;
        while let Some(joined) = set.join_next().await {
            let Ok((uid, want, r)) = joined else {
                first_err.get_or_insert(ApiError::Unreachable("a Grafana task failed".into()));
                continue;
            };
            match r {
                Ok(wrote) => {
                    if wrote {
                        counts.upserted += 1;
                    } else {
                        counts.unchanged += 1;
                    }
                    self.known.insert(uid, want);
                }
                Err(e) => {
                    tracing::warn!(dashboard = %uid, error = %e, "Grafana: dashboard not synced");
                    self.known.remove(&uid);
                    first_err.get_or_insert(e);
                }
            }
        }
        // Deletions: owned dashboards whose flow is gone.
        for uid in owned.iter().filter(|u| !desired.contains_key(*u)) {
            match self.api.delete_dashboard(uid).await {
                Ok(()) => {
                    tracing::info!(dashboard = %uid, "Grafana: deleted the dashboard of a removed flow");
                    counts.deleted += 1;
                    self.known.remove(uid);
                }
                Err(e) => {
                    tracing::warn!(dashboard = %uid, error = %e, "Grafana: dashboard not deleted");
                    // Keep it known, so the next (incremental) pass deletes it.
                    self.known.insert(uid.clone(), 0);
                    first_err.get_or_insert(e);
                }
            }
        }
        match first_err {
            Some(e) => {
                if !full {
                    // The folder may be what went away.
                    self.folder_uid = None;
                }
                (counts, Err(e))
            }
            None => {
                if full {
                    self.need_full = false;
                }
                (counts, Ok(()))
            }
        }
    }
}

// ---------------------------------------------------------------------------------
// The service

/// Retry state of one system.
#[derive(Debug, Default)]
struct Retry {
    at: Option<Instant>,
    delay: Duration,
}

impl Retry {
    fn failed(&mut self, min: Duration, max: Duration) {
        self.delay = if self.delay.is_zero() {
            min
        } else {
            (self.delay * 2).min(max)
        };
        self.at = Some(Instant::now() + self.delay);
    }
    fn ok(&mut self) {
        self.at = None;
        self.delay = Duration::ZERO;
    }
}

/// The sync service state.
pub struct Service {
    settings: Settings,
    status: Arc<Mutex<Status>>,
    files: FlowFiles,
    desired: Desired,
    grafana: Option<GrafanaSync>,
    http: reqwest::Client,
    reload_pending: bool,
    /// When target lists were last written with new content.
    targets_written: Option<Instant>,
    retry_grafana: Retry,
    retry_files: Retry,
    reported: BTreeMap<String, String>,
    /// Set once the first pass has read the flow directory.
    ready: Option<Arc<std::sync::atomic::AtomicBool>>,
}

impl Service {
    /// A service; nothing is read or written until [`Service::pass`] or [`Service::run`].
    pub fn new(settings: Settings, status: Arc<Mutex<Status>>) -> Result<Service, String> {
        let http = crate::client::client(settings.timeout)?;
        let tag = settings
            .grafana
            .as_ref()
            .map_or_else(|| "rtmon-sync".to_string(), |g| g.tag.clone());
        let grafana = settings.grafana.as_ref().map(|g| GrafanaSync {
            api: Arc::new(Grafana::new(&g.url, g.token.clone(), http.clone())),
            folder_title: g.folder.clone(),
            tag: g.tag.clone(),
            folder_uid: None,
            opts: Arc::new(settings.opts.clone()),
            known: HashMap::new(),
            need_full: true,
        });
        Ok(Service {
            desired: Desired {
                opts: settings.opts.clone(),
                tag,
                rules: settings.rules.clone(),
                dashboards: HashMap::new(),
                fleet: None,
            },
            settings,
            status,
            files: FlowFiles::default(),
            grafana,
            http,
            reload_pending: false,
            targets_written: None,
            retry_grafana: Retry::default(),
            retry_files: Retry::default(),
            reported: BTreeMap::new(),
            ready: None,
        })
    }

    /// Reads the flow directory and reconciles every system once. `full`: re-read
    /// everything from Grafana. Returns an error only when the directory is unreadable.
    pub async fn pass(&mut self, full: bool, kind: &'static str) -> Result<(), String> {
        let started = Instant::now();
        let scan = self.files.rescan(&self.settings.flows_dir);
        let scan = match scan {
            Ok(s) => s,
            Err(e) => {
                status_mut(&self.status).failed(FLOWS, "io");
                return Err(e);
            }
        };
        let flows = self.files.effective();
        let invalid = self.files.invalid();
        for (p, msg) in &scan.new_errors {
            tracing::error!(file = %p.display(), "flow file rejected, its last good state stays in effect:\n{msg}");
        }
        for (f, msg) in &invalid {
            if msg.contains("duplicate flow id") && self.reported.get(f) != Some(msg) {
                tracing::error!(file = %f, "{msg}");
            }
        }
        {
            let mut st = status_mut(&self.status);
            for _ in &scan.new_errors {
                st.failed(FLOWS, "invalid_flow");
            }
            for (f, msg) in &invalid {
                if msg.contains("duplicate flow id") && self.reported.get(f) != Some(msg) {
                    st.failed(FLOWS, "invalid_flow");
                }
            }
            if invalid.is_empty() {
                st.ok(FLOWS);
            } else {
                st.up.insert(FLOWS, false);
            }
            st.flows = flows.len();
            st.files = self.files.len();
            st.invalid = invalid
                .iter()
                .map(|(k, v)| (k.clone(), v.lines().next().unwrap_or("").to_string()))
                .collect();
            *st.passes.entry(kind).or_default() += 1;
        }
        self.reported = invalid;
        if scan.changed {
            tracing::info!(
                flows = flows.len(),
                files = self.files.len(),
                "flow files changed"
            );
        }

        // Prometheus files first: local, fast, independent of Grafana. The reload comes
        // before the target lists are written: a reload that races with a file_sd
        // update can leave Prometheus with the previous targets (seen with 2.42), so
        // lists written shortly before a reload are rewritten after it.
        let mut files_ok = self.write_rules(&flows);
        let mut touch = false;
        if self.reload_pending {
            self.reload().await;
            touch = !self.reload_pending
                && self
                    .targets_written
                    .is_some_and(|t| t.elapsed() < Duration::from_secs(15));
        }
        files_ok &= self.write_targets(&flows, false);
        if touch {
            files_ok &= self.write_targets(&flows, true);
        }
        if files_ok && !self.reload_pending {
            self.retry_files.ok();
        } else {
            self.retry_files
                .failed(self.settings.retry_min, self.settings.retry_max);
        }

        if self.grafana.is_some() {
            let concurrency = self.settings.concurrency;
            let Some(desired) = self.desired.dashboards(&flows) else {
                tracing::error!("building the dashboards failed; Grafana left as it is");
                status_mut(&self.status).failed(GRAFANA, "build");
                self.retry_grafana
                    .failed(self.settings.retry_min, self.settings.retry_max);
                status_mut(&self.status).last_pass_seconds = started.elapsed().as_secs_f64();
                return Ok(());
            };
            if let Some(g) = self.grafana.as_mut() {
                let (counts, r) = g.pass(&desired, full, concurrency).await;
                let mut st = status_mut(&self.status);
                st.changed(GRAFANA, "upsert", counts.upserted);
                st.changed(GRAFANA, "delete", counts.deleted);
                if counts.upserted + counts.deleted > 0 {
                    tracing::info!(
                        upserted = counts.upserted,
                        deleted = counts.deleted,
                        unchanged = counts.unchanged,
                        "Grafana synced"
                    );
                }
                match r {
                    Ok(()) => {
                        st.ok(GRAFANA);
                        self.retry_grafana.ok();
                    }
                    Err(e) => {
                        st.failed(GRAFANA, reason(&e));
                        drop(st);
                        self.retry_grafana
                            .failed(self.settings.retry_min, self.settings.retry_max);
                        tracing::warn!(error = %e, retry_in = ?self.retry_grafana.delay, "Grafana sync failed");
                    }
                }
            }
        }
        status_mut(&self.status).last_pass_seconds = started.elapsed().as_secs_f64();
        Ok(())
    }

    /// Writes the rules file if it changed; false on failure.
    fn write_rules(&mut self, flows: &[Flow]) -> bool {
        let (Some(r), Some(text)) = (self.settings.rules.clone(), self.desired.rules_text(flows))
        else {
            return true;
        };
        // The topology first: the constant rules need a flow's rows, not the reverse.
        if let (Some(path), Some(topo)) = (&r.topology_file, self.desired.topology_text(flows)) {
            match targets::write_if_changed(path, &topo) {
                Ok(wrote) => {
                    if wrote {
                        status_mut(&self.status).changed(RULES, "write_topology", 1);
                        tracing::info!(file = %path.display(), "topology written");
                    }
                }
                Err(e) => {
                    status_mut(&self.status).failed(RULES, "io");
                    tracing::warn!(error = %e, file = %path.display(), "topology file not written");
                    return false;
                }
            }
        }
        match targets::write_if_changed(&r.path, &text) {
            Ok(wrote) => {
                let mut st = status_mut(&self.status);
                st.ok(RULES);
                if wrote {
                    st.changed(RULES, "write", 1);
                    tracing::info!(file = %r.path.display(), "rules written");
                    self.reload_pending = self.settings.reload_url.is_some();
                }
                true
            }
            Err(e) => {
                status_mut(&self.status).failed(RULES, "io");
                tracing::warn!(error = %e, "rules file not written");
                false
            }
        }
    }

    /// Writes the target lists that changed (all of them when `force`); false on failure.
    fn write_targets(&mut self, flows: &[Flow], force: bool) -> bool {
        let Some(dir) = self.settings.targets_dir.clone() else {
            return true;
        };
        match targets::write_files(&dir, flows, &self.settings.ports, force) {
            Ok(written) => {
                let mut st = status_mut(&self.status);
                st.ok(TARGETS);
                if !written.is_empty() && !force {
                    st.changed(TARGETS, "write", written.len() as u64);
                    self.targets_written = Some(Instant::now());
                    for p in &written {
                        tracing::info!(file = %p.display(), "target list written");
                    }
                }
                true
            }
            Err(e) => {
                status_mut(&self.status).failed(TARGETS, "io");
                tracing::warn!(error = %e, "target lists not written");
                false
            }
        }
    }

    /// `POST /-/reload`; on failure, retried with backoff.
    async fn reload(&mut self) {
        let Some(url) = self.settings.reload_url.clone() else {
            self.reload_pending = false;
            return;
        };
        let r = self
            .http
            .post(crate::client::join(&url, "-/reload"))
            .send()
            .await;
        let err = match r {
            Ok(resp) if resp.status().is_success() => None,
            Ok(resp) => {
                let s = resp.status().as_u16();
                let body = resp.text().await.unwrap_or_default();
                Some((
                    "http",
                    format!(
                        "Prometheus reload at {url}: HTTP {s}: {} (is --web.enable-lifecycle set? is the rules file valid?)",
                        body.trim().chars().take(300).collect::<String>()
                    ),
                ))
            }
            Err(e) => Some((
                "unreachable",
                format!("Prometheus reload at {url}: {}", e.without_url()),
            )),
        };
        let mut st = status_mut(&self.status);
        match err {
            None => {
                st.ok(RELOAD);
                st.changed(RELOAD, "reload", 1);
                self.reload_pending = false;
                tracing::info!("Prometheus reloaded");
            }
            Some((why, msg)) => {
                st.failed(RELOAD, why);
                tracing::warn!(error = %msg, "Prometheus reload failed; retrying with backoff");
            }
        }
    }

    /// Runs forever: a full pass now and every `resync`, a pass after file changes
    /// (debounced), retries after failures.
    pub async fn run(mut self) -> Result<(), String> {
        let dir = self.settings.flows_dir.clone();
        if !dir.is_dir() {
            return Err(format!("--flows-dir {}: not a directory", dir.display()));
        }
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
        use notify::Watcher as _;
        let mut watcher = notify::recommended_watcher(move |ev: notify::Result<notify::Event>| {
            if ev.is_ok_and(|e| !e.kind.is_access()) {
                let _ = tx.send(());
            }
        })
        .map_err(|e| format!("cannot watch {}: {e}", dir.display()))?;
        watcher
            .watch(&dir, notify::RecursiveMode::NonRecursive)
            .map_err(|e| format!("cannot watch {}: {e}", dir.display()))?;
        tracing::info!(dir = %dir.display(), resync = ?self.settings.resync, "watching flow files");

        let debounce = self.settings.debounce;
        let mut next_full = Instant::now();
        // (first event, last event) of a burst not yet read.
        let mut burst: Option<(Instant, Instant)> = None;
        loop {
            let now = Instant::now();
            let scan_at = burst.map(|(first, last)| (last + debounce).min(first + debounce * 10));
            let retry_at = [self.retry_grafana.at, self.retry_files.at]
                .into_iter()
                .flatten()
                .min();
            let (full, kind) = if now >= next_full {
                (true, "full")
            } else if scan_at.is_some_and(|t| now >= t) {
                (false, "change")
            } else if retry_at.is_some_and(|t| now >= t) {
                // A full pass that failed in Grafana is retried as a full pass there.
                (false, "retry")
            } else {
                let wake = [Some(next_full), scan_at, retry_at]
                    .into_iter()
                    .flatten()
                    .min()
                    .unwrap_or(next_full);
                tokio::select! {
                    ev = rx.recv() => {
                        if ev.is_none() {
                            return Err("the file watcher stopped".into());
                        }
                        let t = Instant::now();
                        burst = Some(burst.map_or((t, t), |(first, _)| (first, t)));
                    }
                    _ = tokio::time::sleep_until(wake.into()) => {}
                }
                continue;
            };
            burst = None;
            // Events that arrived during the wait are covered by the read below.
            while rx.try_recv().is_ok() {}
            if full {
                next_full = now + self.settings.resync;
            }
            match self.pass(full, kind).await {
                Ok(()) => {
                    if let Some(r) = &self.ready {
                        r.store(true, std::sync::atomic::Ordering::SeqCst);
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the flow directory");
                    self.retry_files
                        .failed(self.settings.retry_min, self.settings.retry_max);
                }
            }
        }
    }
}

/// Runs the service and its HTTP server (`/metrics`, `/-/healthy`, `/-/ready`) until
/// SIGTERM/SIGINT.
pub async fn serve(settings: Settings, web: rtmon::cli::CommonArgs) -> std::process::ExitCode {
    let status = Arc::new(Mutex::new(Status::default()));
    let service = match Service::new(settings, status.clone()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("{e}");
            return std::process::ExitCode::from(1);
        }
    };
    let exporter = Exporter::new("rtmon-dashboards-sync", Arc::new(Metrics(status)));
    // `/-/ready` answers 503 until the first pass is done.
    exporter
        .ready
        .store(false, std::sync::atomic::Ordering::SeqCst);
    let mut service = service;
    service.ready = Some(exporter.ready.clone());
    tokio::select! {
        r = service.run() => {
            if let Err(e) = r {
                tracing::error!("{e}");
            }
            std::process::ExitCode::from(1)
        }
        code = rtmon::app::run(web, exporter) => code,
    }
}

/// Default listen address of the service.
pub const LISTEN: &str = ":9471";

/// Flags of `rtmon-dashboards sync` (the generator flags come from the command).
#[derive(clap::Args, Debug, Clone)]
pub struct SyncArgs {
    /// Directory of flow files (`*.yml`, `*.yaml`; a ConfigMap mounted as a directory works).
    #[arg(long = "flows-dir", value_name = "DIR")]
    pub flows_dir: PathBuf,
    /// Grafana base URL; without it, no dashboards are synced.
    #[arg(long, value_name = "URL")]
    pub grafana: Option<String>,
    /// Grafana folder title of the synced dashboards.
    #[arg(long, default_value = "rtmon")]
    pub folder: String,
    /// Tag that marks the dashboards the service owns: it only ever deletes dashboards
    /// with this tag in its folder.
    #[arg(long, default_value = "rtmon-sync")]
    pub tag: String,
    /// File holding a Grafana service-account token (default: the env variable).
    #[arg(long = "token-file", value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Environment variable holding the token when no --token-file is given.
    #[arg(long = "token-env", default_value = "GRAFANA_TOKEN")]
    pub token_env: String,
    /// Rules file to keep written (what Prometheus' `rule_files` loads).
    #[arg(long = "rules-file", value_name = "FILE")]
    pub rules_file: Option<PathBuf>,
    /// Also keep the flows' topology written here in the Prometheus text format, for
    /// Prometheus to scrape (e.g. a node exporter's textfile directory, `*.prom`, or any
    /// file server; scrape it once, with `honor_labels: true`); the rules file then leaves
    /// the topology rules out. Worth it from about a thousand flows (ARCHITECTURE.md).
    #[arg(long = "topology-file", value_name = "FILE", requires = "rules_file")]
    pub topology_file: Option<PathBuf>,
    /// Rule group evaluation interval.
    #[arg(long = "eval-interval", default_value = "30s")]
    pub eval_interval: String,
    /// How long a check must fail before its alert fires.
    #[arg(long = "alert-for", default_value = "2m")]
    pub alert_for: String,
    /// Directory of the file_sd target lists (node-, arp-, ping-, snmp-flows.yml).
    #[arg(long = "targets-dir", value_name = "DIR")]
    pub targets_dir: Option<PathBuf>,
    /// Port of rtmon-node-exporter on the flow hosts.
    #[arg(long = "node-port", default_value_t = 9100)]
    pub node_port: u16,
    /// Port of rtmon-arp-exporter on the flow hosts.
    #[arg(long = "arp-port", default_value_t = 9105)]
    pub arp_port: u16,
    /// Port of rtmon-ping-exporter on the flow hosts.
    #[arg(long = "ping-port", default_value_t = 9107)]
    pub ping_port: u16,
    /// Prometheus base URL to `POST /-/reload` after a file changed (needs
    /// --web.enable-lifecycle). Without it, Prometheus' file watch must pick changes up.
    #[arg(long = "prometheus-reload-url", value_name = "URL")]
    pub reload_url: Option<String>,
    /// Full resync period (re-read every flow file and every owned dashboard).
    #[arg(long = "resync-interval", default_value = "5m", value_parser = rtmon::cli::parse_duration)]
    pub resync: Duration,
    /// Quiet time after a file event before the directory is read.
    #[arg(long, default_value = "200ms", value_parser = rtmon::cli::parse_duration)]
    pub debounce: Duration,
    /// First retry delay after Grafana or Prometheus failed; doubles up to --retry-max.
    #[arg(long = "retry-min", default_value = "1s", value_parser = rtmon::cli::parse_duration)]
    pub retry_min: Duration,
    /// Longest retry delay.
    #[arg(long = "retry-max", default_value = "1m", value_parser = rtmon::cli::parse_duration)]
    pub retry_max: Duration,
    /// Grafana requests in flight at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
    /// Timeout of one HTTP request.
    #[arg(long = "http-timeout", default_value = "30s", value_parser = rtmon::cli::parse_duration)]
    pub http_timeout: Duration,
    /// HTTP serving (`/metrics`, `/-/healthy`, `/-/ready`); default :9471.
    #[command(flatten)]
    pub web: rtmon::cli::WebArgs,
    /// Logging.
    #[command(flatten)]
    pub log: rtmon::cli::LogArgs,
}

impl SyncArgs {
    /// Checks the flags and builds the settings (reads the token).
    pub fn settings(&self, opts: Options) -> Result<Settings, String> {
        for (flag, v) in [
            ("--eval-interval", &self.eval_interval),
            ("--alert-for", &self.alert_for),
        ] {
            rtmon::cli::parse_duration(v).map_err(|e| format!("{flag}: {e}"))?;
            if !v.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(format!(
                    "{flag}: use a Prometheus duration like 30s or 2m, not {v:?}"
                ));
            }
        }
        if self.grafana.is_none() && self.rules_file.is_none() && self.targets_dir.is_none() {
            return Err(
                "nothing to sync: give --grafana, --rules-file and/or --targets-dir".into(),
            );
        }
        if self.tag.trim().is_empty() {
            return Err("--tag must not be empty: it marks what the service may delete".into());
        }
        if self.resync.is_zero() || self.retry_min.is_zero() || self.retry_max < self.retry_min {
            return Err(
                "--resync-interval and --retry-min must be positive, --retry-max >= --retry-min"
                    .into(),
            );
        }
        let grafana = match &self.grafana {
            Some(url) => Some(GrafanaSettings {
                url: url.clone(),
                token: crate::grafana::upload::read_token(
                    self.token_file.as_deref(),
                    &self.token_env,
                )?,
                folder: self.folder.clone(),
                tag: self.tag.clone(),
            }),
            None => None,
        };
        Ok(Settings {
            flows_dir: self.flows_dir.clone(),
            opts,
            grafana,
            rules: self.rules_file.as_ref().map(|p| RulesSettings {
                path: p.clone(),
                eval_interval: self.eval_interval.clone(),
                alert_for: self.alert_for.clone(),
                topology_file: self.topology_file.clone(),
            }),
            targets_dir: self.targets_dir.clone(),
            ports: Ports {
                node: self.node_port,
                arp: self.arp_port,
                ping: self.ping_port,
            },
            reload_url: self.reload_url.clone(),
            resync: self.resync,
            debounce: self.debounce,
            retry_min: self.retry_min,
            retry_max: self.retry_max,
            concurrency: usize::from(self.concurrency),
            timeout: self.http_timeout,
        })
    }
}

/// `rtmon-dashboards sync`: returns the exit code (0 after SIGTERM/SIGINT, 1 on a
/// fatal error, 2 on bad flags or logging setup).
pub fn main(args: SyncArgs, opts: Options) -> u8 {
    let settings = match args.settings(opts) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("rtmon-dashboards sync: {e}");
            return 2;
        }
    };
    if let Err(e) = rtmon::log::init(&args.log) {
        eprintln!("rtmon-dashboards sync: {e}");
        return 2;
    }
    let mut web = args.web.clone();
    if web.listen_addresses.is_empty() {
        web.listen_addresses.push(LISTEN.to_string());
    }
    let common = rtmon::cli::CommonArgs {
        web,
        log: args.log.clone(),
        push: Default::default(),
    };
    let code = rtmon::app::block_on(serve(settings, common));
    if code == std::process::ExitCode::SUCCESS {
        0
    } else {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLOW: &str = "flow: FID\npath:\n  - host: a\n    instance: 192.0.2.1\n    interface: eth0\n  - host: b\n    instance: 192.0.2.2\n    interface: eth0\n";

    #[test]
    fn invalid_file_keeps_its_last_good_flows_and_duplicates_are_reported() {
        let dir = tempfile::tempdir().expect("tmp");
        let a = dir.path().join("a.yml");
        std::fs::write(&a, FLOW.replace("FID", "one")).expect("write");
        std::fs::write(dir.path().join(".hidden.yml"), "junk: [").expect("write");
        std::fs::write(dir.path().join("notes.txt"), "junk: [").expect("write");
        let mut ff = FlowFiles::default();
        let r = ff.rescan(dir.path()).expect("scan");
        assert!(r.changed && r.new_errors.is_empty());
        assert_eq!(ff.effective().len(), 1);
        assert!(!ff.rescan(dir.path()).expect("scan").changed);

        std::fs::write(
            &a,
            FLOW.replace("FID", "one").replace(
                "interface: eth0\n  - host: b",
                "interfce: eth0\n  - host: b",
            ),
        )
        .expect("write");
        let r = ff.rescan(dir.path()).expect("scan");
        assert_eq!(r.new_errors.len(), 1);
        let msg = &r.new_errors[0].1;
        assert!(msg.contains("a.yml:5:5: unknown key `interfce`"), "{msg}");
        let eff = ff.effective();
        assert_eq!(eff.len(), 1, "last good state kept");
        assert_eq!(eff[0].id, "one");
        assert!(ff.invalid().contains_key("a.yml"));

        std::fs::write(dir.path().join("b.yml"), FLOW.replace("FID", "one")).expect("write");
        std::fs::write(&a, FLOW.replace("FID", "one")).expect("write");
        ff.rescan(dir.path()).expect("scan");
        let eff = ff.effective();
        assert_eq!(eff.len(), 1);
        assert_eq!(eff[0].file, a);
        let inv = ff.invalid();
        assert!(inv["b.yml"].contains("duplicate flow id `one`"), "{inv:?}");

        std::fs::remove_file(&a).expect("rm");
        let r = ff.rescan(dir.path()).expect("scan");
        assert!(r.changed);
        let eff = ff.effective();
        assert_eq!(eff[0].file, dir.path().join("b.yml"));
        assert!(ff.invalid().is_empty());
    }

    #[test]
    fn owned_dashboards_carry_the_tag_once() {
        let f = rtmon::flow::from_str(Path::new("x.yml"), &FLOW.replace("FID", "x"))
            .expect("flow")
            .remove(0);
        let d = owned_dashboard(&f, &Options::default(), "rtmon-sync");
        let tags: Vec<&str> = d["tags"]
            .as_array()
            .expect("tags")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(tags.iter().filter(|t| **t == "rtmon-sync").count(), 1);
        assert!(tags.contains(&"rtmon"));
        let mut other = d.clone();
        other["id"] = serde_json::json!(7);
        other["version"] = serde_json::json!(3);
        assert_eq!(digest(d.clone()), digest(other.clone()));
        other["title"] = serde_json::json!("changed");
        assert_ne!(digest(d), digest(other));
    }

    #[test]
    fn the_fleet_overview_is_desired_while_there_are_flows() {
        let mut d = Desired {
            opts: Options::default(),
            tag: "rtmon-sync".into(),
            rules: None,
            dashboards: HashMap::new(),
            fleet: None,
        };
        let f = rtmon::flow::from_str(Path::new("x.yml"), &FLOW.replace("FID", "x"))
            .expect("flow")
            .remove(0);
        let want = d.dashboards(std::slice::from_ref(&f)).expect("built");
        let uids: Vec<&str> = want.keys().map(String::as_str).collect();
        assert_eq!(uids, ["rtmon-fleet", "rtmon-x"]);
        let fleet = &want["rtmon-fleet"];
        assert!(matches!(fleet.1, DashSource::Fleet));
        let built = fleet.1.owned(&d.opts, &d.tag);
        assert_eq!(built["uid"], "rtmon-fleet");
        assert_eq!(digest(built), fleet.0);
        // No flows: nothing, so the fleet overview is deleted with the last flow.
        assert!(d.dashboards(&[]).expect("built").is_empty());
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_resets() {
        let mut r = Retry::default();
        let (min, max) = (Duration::from_millis(100), Duration::from_millis(350));
        r.failed(min, max);
        assert_eq!(r.delay, min);
        r.failed(min, max);
        assert_eq!(r.delay, Duration::from_millis(200));
        r.failed(min, max);
        assert_eq!(r.delay, max);
        r.ok();
        assert!(r.at.is_none() && r.delay.is_zero());
    }
}
