//! The scrape engine: per-target state (client, lookup cache, adaptive request size,
//! error counters), concurrency limits, deadlines, and the `/snmp` and `/lookup`
//! handlers (HTTP-agnostic: [`Request`] in, [`Reply`] out).

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use rtmon::app::{Reply, Request};
use rtmon::expo::{MetricSet, MetricType, Value};
use tokio::sync::Semaphore;

use crate::client::{AsyncSnmp, ClientError, SnmpClient, SnmpValue};
use crate::config::{AuthConfig, Base, Config, IfFilter, Module, Version};
use crate::ifmib::{self, IfCache};
use crate::walk::{self, Column, ColumnMemory, Policy, Stats, WalkError, Walked};

/// SNMP work stops this long before the answer's deadline, so a request cut short by it
/// ends, and is classified (an agent that never answered is a `timeout`), before the
/// scrape-wide guard fires at the deadline itself (`deadline` then means the exporter's
/// own work ran out of time). Under load the two used to race for the same instant.
const WORK_GRACE: Duration = Duration::from_millis(100);

/// When the SNMP requests of an answer due at `deadline` must be over.
fn work_deadline(deadline: Instant) -> Instant {
    deadline
        .checked_sub(WORK_GRACE)
        .map_or(deadline, |d| d.max(Instant::now()))
}

/// Engine options (from flags).
#[derive(Clone, Debug)]
pub struct Options {
    /// Targets scraped at once, over all requests.
    pub max_concurrent_targets: usize,
    /// Scrapes of one target at once.
    pub max_per_target: usize,
    /// Deadline when the scraper sends none.
    pub default_deadline: Duration,
    /// Reduce Counter64 values modulo 2^53 like snmp_exporter.
    pub wrap_large_counters: bool,
    /// Per-target state kept at most (oldest evicted).
    pub max_targets: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            max_concurrent_targets: 64,
            max_per_target: 1,
            default_deadline: Duration::from_secs(10),
            wrap_large_counters: false,
            max_targets: 10_000,
        }
    }
}

struct TargetState {
    sem: Semaphore,
    inner: Mutex<TargetInner>,
}

#[derive(Default)]
struct TargetInner {
    client: Option<Arc<dyn SnmpClient>>,
    cache: Option<Arc<IfCache>>,
    /// Request size that works, per module.
    budgets: HashMap<String, Budget>,
    /// Rows and failures of each column walked (see [`ColumnMemory`]).
    columns: ColumnMemory,
    /// Columns that failed in the last scrape of each module (oid → reason), so a
    /// failure is logged when it starts, changes or ends, not on every scrape.
    failed: HashMap<String, BTreeMap<String, &'static str>>,
    /// The slowest answer of the target's last scrape that got any.
    slowest: Option<Duration>,
    errors: BTreeMap<&'static str, u64>,
    last_used: Option<Instant>,
}

/// The request size (varbinds per GETBULK) that works for one module of a target, and
/// the smallest size that failed recently (not grown back to for [`CEILING_TTL`]).
#[derive(Clone, Copy, Debug)]
struct Budget {
    size: u32,
    ceiling: Option<(u32, Instant)>,
}

/// How long a request size that failed is not tried again.
const CEILING_TTL: Duration = Duration::from_secs(3600);

/// Failed columns and whether the deadline cut the module short.
#[derive(Default)]
struct ModuleReport {
    failed: Vec<(Vec<u32>, WalkError)>,
    deadline: bool,
}

impl ModuleReport {
    /// The columns of a walk; failed ones are noted here. Fails the module when every
    /// column failed.
    fn take(&mut self, prefixes: &[Vec<u32>], w: Walked) -> Result<Vec<Column>, WalkError> {
        if w.all_failed() {
            let e = w
                .failed
                .iter()
                .map(|(_, e)| e)
                .find(|e| **e != WalkError::Deadline)
                .or(w.failed.first().map(|(_, e)| e))
                .cloned()
                .unwrap_or(WalkError::Deadline);
            return Err(e);
        }
        self.deadline |= w.deadline;
        for (i, e) in w.failed {
            // Columns the deadline left unread count under the scrape's `deadline`.
            if e == WalkError::Deadline {
                continue;
            }
            if let Some(p) = prefixes.get(i) {
                self.failed.push((p.clone(), e));
            }
        }
        Ok(w.cols)
    }
}

/// What `/lookup` found.
enum Found {
    /// No interface of that name; the closest names.
    None(Vec<String>),
    /// Interfaces of that name, none with the pin.
    NotPinned(Vec<(u32, ifmib::IfInfo, Option<i64>)>),
    /// Exactly one.
    One(Option<(u32, ifmib::IfInfo, Option<i64>)>),
    /// Several: the name (and pin) is ambiguous.
    Ambiguous(Vec<(u32, ifmib::IfInfo, Option<i64>)>),
}

/// The `/lookup` pin of an interface besides its name.
enum Pin {
    Index(u32),
    Descr(String),
}

impl Pin {
    fn describe(&self) -> String {
        match self {
            Pin::Index(i) => format!("ifIndex {i}"),
            Pin::Descr(d) => format!("ifDescr '{d}'"),
        }
    }
}

/// The request size a module starts with on a new target: `max_repetitions` × 16
/// varbinds (v2c), 40 for v3 (async-snmp advertises a 1472-byte msgMaxSize; larger
/// answers make some agents stay silent or answer genErr).
fn default_budget(m: &Module, auth: &AuthConfig) -> u32 {
    if auth.version == Version::V3 {
        40
    } else {
        m.max_repetitions.saturating_mul(16).max(1)
    }
}

fn dotted(oid: &[u32]) -> String {
    oid.iter().map(u32::to_string).collect::<Vec<_>>().join(".")
}

/// Exporter-wide counters for `/metrics`.
#[derive(Default, Clone)]
struct Totals {
    scrapes: u64,
    packets: u64,
    retries: u64,
    errors: BTreeMap<&'static str, u64>,
    cache_hits: u64,
    cache_misses: u64,
}

/// The engine, shared by all requests.
pub struct Engine {
    config: RwLock<Arc<Config>>,
    config_path: Option<std::path::PathBuf>,
    targets: Mutex<HashMap<(SocketAddr, String), Arc<TargetState>>>,
    global: Semaphore,
    opts: Options,
    totals: Mutex<Totals>,
}

/// A parsed `/snmp` request.
struct Job {
    target: String,
    auth_name: String,
    modules: Vec<Module>,
    filter_override: Option<IfFilter>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Parses `host[:port]`, `[v6]:port`, `udp://…` into host and port (161 by default).
pub fn parse_target(t: &str) -> Result<(String, u16), String> {
    let t = t.strip_prefix("udp://").unwrap_or(t);
    if t.contains("://") {
        return Err(format!("unsupported transport in target '{t}' (only udp)"));
    }
    if t.is_empty() {
        return Err("'target' parameter must not be empty".into());
    }
    if let Some(rest) = t.strip_prefix('[') {
        let (h, after) = rest.split_once(']').ok_or("bad IPv6 target: missing ']'")?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| format!("bad port in target '{t}'"))?,
            None if after.is_empty() => 161,
            None => return Err(format!("bad target '{t}'")),
        };
        return Ok((h.to_string(), port));
    }
    if t.matches(':').count() > 1 {
        return Ok((t.to_string(), 161)); // bare IPv6
    }
    match t.split_once(':') {
        Some((h, p)) => Ok((
            h.to_string(),
            p.parse().map_err(|_| format!("bad port in target '{t}'"))?,
        )),
        None => Ok((t.to_string(), 161)),
    }
}

impl Engine {
    /// A new engine.
    pub fn new(config: Config, config_path: Option<std::path::PathBuf>, opts: Options) -> Engine {
        Engine {
            config: RwLock::new(Arc::new(config)),
            config_path,
            targets: Mutex::new(HashMap::new()),
            global: Semaphore::new(opts.max_concurrent_targets.max(1)),
            opts,
            totals: Mutex::new(Totals::default()),
        }
    }

    /// Re-reads the config file; keeps the old one on error. Drops all per-target state
    /// (auths may have changed).
    pub fn reload(&self) -> Result<(), String> {
        let c = Config::load(self.config_path.as_deref()).map_err(|e| e.0)?;
        *self.config.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(c);
        lock(&self.targets).clear();
        Ok(())
    }

    fn config(&self) -> Arc<Config> {
        self.config
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn state(&self, addr: SocketAddr, auth: &str) -> Arc<TargetState> {
        let mut t = lock(&self.targets);
        if t.len() >= self.opts.max_targets && !t.contains_key(&(addr, auth.to_string())) {
            let oldest = t
                .iter()
                .min_by_key(|(_, s)| lock(&s.inner).last_used)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                t.remove(&k);
            }
        }
        t.entry((addr, auth.to_string()))
            .or_insert_with(|| {
                Arc::new(TargetState {
                    sem: Semaphore::new(self.opts.max_per_target.max(1)),
                    inner: Mutex::new(TargetInner::default()),
                })
            })
            .clone()
    }

    fn parse_job(&self, req: &Request) -> Result<Job, String> {
        let cfg = self.config();
        let targets: Vec<&str> = req
            .query
            .iter()
            .filter(|(k, _)| k == "target")
            .map(|(_, v)| v.as_str())
            .collect();
        if targets.len() != 1 {
            return Err("'target' parameter must be specified once".into());
        }
        let target = targets[0].to_string();
        parse_target(&target)?;
        let auth_name = req.param("auth").unwrap_or("public_v2").to_string();
        if !cfg.auths.contains_key(&auth_name) {
            return Err(format!("Unknown auth '{auth_name}'"));
        }
        let mut modules = Vec::new();
        let names: Vec<&str> = req
            .query
            .iter()
            .filter(|(k, _)| k == "module")
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        let names = if names.is_empty() {
            vec!["if_mib"]
        } else {
            names
        };
        for n in names {
            let m = cfg
                .modules
                .get(n)
                .ok_or_else(|| format!("Unknown module '{n}'"))?;
            if !modules.iter().any(|x: &Module| x.name == m.name) {
                modules.push(m.clone());
            }
        }
        let mut filter_override = None;
        if let Some(re) = req.param("filter_ifname") {
            let re = regex::Regex::new(re).map_err(|e| {
                format!(
                    "bad 'filter_ifname' regex: {}",
                    e.to_string().lines().last().unwrap_or("")
                )
            })?;
            filter_override
                .get_or_insert_with(IfFilter::default)
                .if_name = Some(re);
        }
        if let Some(s) = req.param("filter_oper_status") {
            let f = filter_override.get_or_insert_with(IfFilter::default);
            for x in s.split(',') {
                f.oper_status.push(
                    crate::config::oper_status_code(x.trim())
                        .ok_or_else(|| format!("bad 'filter_oper_status' value '{x}'"))?,
                );
            }
        }
        Ok(Job {
            target,
            auth_name,
            modules,
            filter_override,
        })
    }

    fn deadline(&self, req_deadline: Option<Instant>) -> Instant {
        req_deadline.unwrap_or_else(|| rtmon::duration::deadline_in(self.opts.default_deadline))
    }

    /// `GET /snmp?target=…&module=…&auth=…`.
    pub async fn handle_snmp(&self, req: Request) -> Reply {
        let job = match self.parse_job(&req) {
            Ok(j) => j,
            Err(e) => return Reply::bad_request(e),
        };
        let deadline = self.deadline(req.deadline);
        Reply::Metrics(self.scrape(job, deadline).await)
    }

    async fn resolve(target: &str) -> Result<SocketAddr, ClientError> {
        let (h, p) = parse_target(target).map_err(ClientError::Other)?;
        let mut it = tokio::net::lookup_host((h.as_str(), p))
            .await
            .map_err(|e| ClientError::Network(format!("cannot resolve target: {e}")))?;
        it.next()
            .ok_or_else(|| ClientError::Network("target resolves to no address".into()))
    }

    async fn client(
        &self,
        st: &TargetState,
        addr: SocketAddr,
        auth: &AuthConfig,
    ) -> Result<Arc<dyn SnmpClient>, ClientError> {
        if let Some(c) = lock(&st.inner).client.clone() {
            return Ok(c);
        }
        let c: Arc<dyn SnmpClient> = Arc::new(AsyncSnmp::connect(addr, auth).await?);
        lock(&st.inner).client = Some(c.clone());
        Ok(c)
    }

    async fn scrape(&self, job: Job, deadline: Instant) -> MetricSet {
        let start = Instant::now();
        let mut out = MetricSet::new();
        // Everything below stops at the deadline; answer a bit before it.
        let body = self.scrape_inner(&job, work_deadline(deadline), &mut out);
        let result = tokio::time::timeout_at(deadline.into(), body).await;
        let (up, errs) = match result {
            Ok(r) => r,
            Err(_) => {
                tracing::warn!(target = %job.target, elapsed = ?start.elapsed(), reason = "deadline", "scrape failed: the scrape deadline passed before the target answered everything");
                (false, BTreeMap::from([("deadline", 1u64)]))
            }
        };
        out.gauge(
            "snmp_up",
            "1 if every module of the scrape was collected from the target, 0 otherwise.",
            &[],
            u64::from(up),
        );
        out.gauge(
            "snmp_scrape_duration_seconds",
            "Total SNMP time scrape took (walk and processing).",
            &[],
            start.elapsed().as_secs_f64(),
        );
        // cumulative per-target error counters
        let fam = out.family("snmp_errors_total", "SNMP request failures against this target and auth since the exporter started, by reason.", MetricType::Counter);
        for (r, n) in &errs {
            fam.add(&[("reason", r)], Value::U64(*n));
        }
        out.prune_empty();
        let mut t = lock(&self.totals);
        t.scrapes += 1;
        if !up {
            *t.errors.entry("scrape_failed").or_default() += 1;
        }
        out
    }

    /// Returns (up, cumulative per-target error counts).
    async fn scrape_inner(
        &self,
        job: &Job,
        deadline: Instant,
        out: &mut MetricSet,
    ) -> (bool, BTreeMap<&'static str, u64>) {
        let cfg = self.config();
        let Some(auth) = cfg.auths.get(&job.auth_name) else {
            return (false, BTreeMap::from([("config", 1)]));
        };
        let addr = match Self::resolve(&job.target).await {
            Ok(a) => a,
            Err(_) => return (false, BTreeMap::from([("resolve", 1)])),
        };
        let st = self.state(addr, &job.auth_name);
        let Ok(_g) = self.global.acquire().await else {
            return (false, BTreeMap::new());
        };
        let Ok(_t) = st.sem.acquire().await else {
            return (false, BTreeMap::new());
        };
        lock(&st.inner).last_used = Some(Instant::now());
        let mut up = true;
        let mut reasons: Vec<&'static str> = Vec::new();
        match self.client(&st, addr, auth).await {
            Err(e) => {
                up = false;
                reasons.push(e.reason());
            }
            Ok(client) => {
                let mut slowest = lock(&st.inner).slowest;
                for m in &job.modules {
                    let mut stats = Stats {
                        slowest_answer: slowest,
                        ..Stats::default()
                    };
                    let default = default_budget(m, auth);
                    let budget = lock(&st.inner).budgets.get(&m.name).copied();
                    let mut pol = Policy {
                        max_repetitions: m.max_repetitions,
                        varbind_budget: budget.map_or(default, |b| b.size),
                        retries: m.retries,
                        timeout: m.timeout,
                        deadline: Some(deadline),
                    };
                    let mut report = ModuleReport::default();
                    let mut mem = lock(&st.inner).columns.clone();
                    let r = self
                        .run_module(
                            &job.target,
                            &*client,
                            &st,
                            m,
                            job.filter_override.as_ref(),
                            &mut pol,
                            &mut stats,
                            &mut mem,
                            &mut report,
                            out,
                        )
                        .await;
                    slowest = stats.slowest_answer.or(slowest);
                    {
                        let mut inner = lock(&st.inner);
                        inner.columns = mem;
                        let now = Instant::now();
                        let ceiling = budget
                            .and_then(|b| b.ceiling)
                            .filter(|(_, at)| now.saturating_duration_since(*at) < CEILING_TTL);
                        let ceiling = match (stats.smallest_failed, ceiling) {
                            (Some(f), Some((c, at))) if c <= f => Some((c, at)),
                            (Some(f), _) => Some((f, now)),
                            (None, c) => c,
                        };
                        let size = walk::next_budget(
                            pol.varbind_budget,
                            default,
                            ceiling.map(|c| c.0),
                            stats.size_failures == 0 && r.is_ok(),
                        );
                        inner
                            .budgets
                            .insert(m.name.clone(), Budget { size, ceiling });
                    }
                    self.report_columns(&job.target, &st, m, &report, r.is_ok(), out);
                    for (_, e) in &report.failed {
                        reasons.push(e.reason());
                    }
                    let ml = [("module", m.name.as_str())];
                    out.gauge(
                        "snmp_scrape_walk_duration_seconds",
                        "Time SNMP walk/bulkwalk took.",
                        &ml,
                        stats.walk_duration.as_secs_f64(),
                    );
                    out.gauge(
                        "snmp_scrape_packets_sent",
                        "Packets sent for get, bulkget, and walk; including retries.",
                        &ml,
                        stats.packets_sent,
                    );
                    out.gauge(
                        "snmp_scrape_packets_retried",
                        "Packets retried for get, bulkget, and walk.",
                        &ml,
                        stats.packets_retried,
                    );
                    out.gauge(
                        "snmp_scrape_pdus_returned",
                        "PDUs returned from get, bulkget, and walk.",
                        &ml,
                        stats.pdus_returned,
                    );
                    out.gauge("snmp_scrape_max_repetitions", "Varbinds per GETBULK request that work for this target and module (remembered between scrapes; smaller after a request too big to answer, growing back after scrapes without one).", &ml, u64::from(pol.varbind_budget));
                    {
                        let mut t = lock(&self.totals);
                        t.packets += stats.packets_sent;
                        t.retries += stats.packets_retried;
                    }
                    if let Err(e) = &r {
                        up = false;
                        reasons.push(e.reason());
                        tracing::warn!(target = %job.target, module = %m.name, error = %e, reason = e.reason(), "scrape failed");
                    }
                    if report.deadline || r.as_ref().err() == Some(&WalkError::Deadline) {
                        up = false;
                        if r.is_ok() {
                            reasons.push(WalkError::Deadline.reason());
                            tracing::warn!(target = %job.target, module = %m.name, reason = "deadline", "scrape failed: the deadline passed before every column was read; the columns read are served");
                        }
                        break;
                    }
                }
                lock(&st.inner).slowest = slowest;
            }
        }
        let mut inner = lock(&st.inner);
        for r in &reasons {
            *inner.errors.entry(r).or_default() += 1;
        }
        if !up {
            // A failing target might have been replaced or restarted: start afresh.
            inner.client = None;
            inner.slowest = None;
        }
        let errs = inner.errors.clone();
        drop(inner);
        let mut t = lock(&self.totals);
        for r in reasons {
            *t.errors.entry(r).or_default() += 1;
        }
        (up, errs)
    }

    /// Reports the columns of module `m` that failed in this scrape: one
    /// `rtmon_snmp_column_failed{module,oid,reason} 1` each, and a log line when the set
    /// of failed columns (or a reason) changes, not on every scrape.
    fn report_columns(
        &self,
        target: &str,
        st: &TargetState,
        m: &Module,
        report: &ModuleReport,
        module_ok: bool,
        out: &mut MetricSet,
    ) {
        let now: BTreeMap<String, &'static str> = report
            .failed
            .iter()
            .map(|(oid, e)| (dotted(oid), e.reason()))
            .collect();
        let fam = out.family(
            "rtmon_snmp_column_failed",
            "A table column of the module that could not be walked in this scrape (its rows are left out, the other columns are served), by column OID and reason.",
            MetricType::Gauge,
        );
        for (oid, reason) in &now {
            fam.add(
                &[
                    ("module", m.name.as_str()),
                    ("oid", oid),
                    ("reason", reason),
                ],
                Value::U64(1),
            );
        }
        out.prune_empty();
        if !module_ok && now.is_empty() {
            // The module failed as a whole (logged as such); keep the last column state.
            return;
        }
        let before = lock(&st.inner)
            .failed
            .insert(m.name.clone(), now.clone())
            .unwrap_or_default();
        for (oid, reason) in &now {
            if before.get(oid) != Some(reason) {
                tracing::warn!(target = %target, module = %m.name, oid = %oid, reason = %reason, "column failed: its rows are left out of this and later scrapes until it answers again; the other columns are served (logged once, metric rtmon_snmp_column_failed)");
            }
        }
        for oid in before.keys() {
            if !now.contains_key(oid) {
                tracing::info!(target = %target, module = %m.name, oid = %oid, "column answers again");
            }
        }
    }

    /// Gets sysUpTime and ifNumber, then returns a valid lookup cache (reused or rebuilt),
    /// the two values, and whether the cache was reused.
    #[allow(clippy::too_many_arguments)]
    async fn if_cache(
        &self,
        c: &dyn SnmpClient,
        st: &TargetState,
        m: &Module,
        pol: &mut Policy,
        stats: &mut Stats,
        mem: &mut ColumnMemory,
        report: &mut ModuleReport,
        force: bool,
    ) -> Result<(Arc<IfCache>, ifmib::Scalars, bool), WalkError> {
        let v = walk::get_many(
            c,
            &[ifmib::SYS_UPTIME.to_vec(), ifmib::IF_NUMBER.to_vec()],
            2,
            pol,
            stats,
        )
        .await?;
        let uptime = v.get(&ifmib::SYS_UPTIME[..]).and_then(SnmpValue::as_u64);
        let if_number = v.get(&ifmib::IF_NUMBER[..]).and_then(SnmpValue::as_i64);
        let scalars = ifmib::Scalars {
            sys_uptime: uptime,
            if_number,
        };
        let old = lock(&st.inner).cache.clone();
        if let Some(c) =
            old.filter(|c| !force && c.valid(Instant::now(), m.lookup_ttl, uptime, if_number))
        {
            let mut upd = (*c).clone();
            upd.uptime = uptime.or(c.uptime);
            let upd = Arc::new(upd);
            lock(&st.inner).cache = Some(upd.clone());
            lock(&self.totals).cache_hits += 1;
            return Ok((upd, scalars, true));
        }
        let defs = ifmib::cached_columns();
        let oids: Vec<Vec<u32>> = defs.iter().map(|d| d.oid()).collect();
        let w = walk::walk_columns(c, &oids, pol, stats, mem).await;
        // The labels of every series: without them the module cannot be served.
        if let Some((_, e)) = w
            .failed
            .iter()
            .find(|(i, _)| defs.get(*i).is_some_and(|d| d.kind == ifmib::Kind::Label))
        {
            return Err(e.clone());
        }
        let complete = w.failed.is_empty();
        let cols = report.take(&oids, w)?;
        let cache = Arc::new(IfCache::build(&cols, uptime, if_number));
        // A cache with a column missing is used once, not kept: the next scrape tries again.
        if complete {
            lock(&st.inner).cache = Some(cache.clone());
        }
        lock(&self.totals).cache_misses += 1;
        Ok((cache, scalars, false))
    }

    #[allow(clippy::too_many_arguments)]
    async fn run_module(
        &self,
        target: &str,
        c: &dyn SnmpClient,
        st: &TargetState,
        m: &Module,
        filter_override: Option<&IfFilter>,
        pol: &mut Policy,
        stats: &mut Stats,
        mem: &mut ColumnMemory,
        report: &mut ModuleReport,
        out: &mut MetricSet,
    ) -> Result<(), WalkError> {
        match m.base {
            Base::System => {
                let oids = [
                    vec![1, 3, 6, 1, 2, 1, 1, 1, 0],
                    ifmib::SYS_UPTIME.to_vec(),
                    vec![1, 3, 6, 1, 2, 1, 1, 5, 0],
                ];
                let v = walk::get_many(c, &oids, 3, pol, stats).await?;
                if let Some(d) = v.get(&oids[0]).and_then(SnmpValue::as_text) {
                    out.family(
                        "sysDescr",
                        "A textual description of the entity - 1.3.6.1.2.1.1.1",
                        MetricType::Gauge,
                    )
                    .add_owned(vec![("sysDescr".into(), d)], Value::U64(1));
                }
                // if_mib emits sysUpTime too; one sample per scrape.
                if let Some(u) = v.get(&oids[1]).and_then(SnmpValue::as_u64) {
                    if !out.contains("sysUpTime") {
                        out.gauge("sysUpTime", ifmib::SYS_UPTIME_HELP, &[], Value::U64(u));
                    }
                }
                if let Some(n) = v.get(&oids[2]).and_then(SnmpValue::as_text) {
                    out.family(
                        "sysName",
                        "An administratively-assigned name for this managed node - 1.3.6.1.2.1.1.5",
                        MetricType::Gauge,
                    )
                    .add_owned(vec![("sysName".into(), n)], Value::U64(1));
                }
                Ok(())
            }
            Base::BridgeFdb => {
                let cache = lock(&st.inner).cache.clone();
                let cache = match cache {
                    Some(c) => Some(c),
                    None => Some(
                        self.if_cache(c, st, m, pol, stats, mem, report, false)
                            .await?
                            .0,
                    ),
                };
                let oids = crate::fdb::columns();
                let cols =
                    report.take(&oids, walk::walk_columns(c, &oids, pol, stats, mem).await)?;
                let bad = crate::fdb::emit(out, &cols, cache.as_deref());
                for ((table, n), first) in crate::fdb::TABLES.iter().zip(bad.rows).zip(bad.first) {
                    if n > 0 {
                        tracing::warn!(target = %target, module = %m.name, table, rows = n, first_index = first.unwrap_or_default(), "FDB rows not decoded (index is not a MAC address, or the port is not a number); they are counted in rtmon_snmp_fdb_undecodable_rows");
                    }
                }
                Ok(())
            }
            Base::Lldp => {
                let cached = lock(&st.inner).cache.clone();
                let cache = match cached {
                    Some(c) => c,
                    None => {
                        self.if_cache(c, st, m, pol, stats, mem, report, false)
                            .await?
                            .0
                    }
                };
                let oids = crate::lldp::columns();
                let mut cols =
                    report.take(&oids, walk::walk_columns(c, &oids, pol, stats, mem).await)?;
                let v2 = crate::lldp::v1_empty(&cols);
                if v2 {
                    let oids = crate::lldp::v2_columns();
                    let v2cols =
                        report.take(&oids, walk::walk_columns(c, &oids, pol, stats, mem).await)?;
                    cols.splice(0..6, v2cols);
                }
                crate::lldp::emit(out, &cols, Some(&cache), v2);
                Ok(())
            }
            Base::QbridgeVlan => {
                let cached = lock(&st.inner).cache.clone();
                let cache = match cached {
                    Some(c) => c,
                    None => {
                        self.if_cache(c, st, m, pol, stats, mem, report, false)
                            .await?
                            .0
                    }
                };
                let oids = crate::qbridge::columns();
                let cols =
                    report.take(&oids, walk::walk_columns(c, &oids, pol, stats, mem).await)?;
                crate::qbridge::emit(out, &cols, Some(&cache));
                Ok(())
            }
            Base::IfMib => {
                let filter = filter_override.unwrap_or(&m.filter);
                let (mut cache, scalars, reused) = self
                    .if_cache(c, st, m, pol, stats, mem, report, false)
                    .await?;
                let dyn_defs = ifmib::dynamic_columns();
                let dyn_oids: Vec<Vec<u32>> = dyn_defs.iter().map(|d| d.oid()).collect();
                let mut selected = cache.select(filter);
                let use_get = filter.if_name.is_some() && selected.len() * 4 <= cache.rows.len();
                let dynamic = if use_get {
                    let mut oids = Vec::with_capacity(selected.len() * dyn_oids.len());
                    for i in &selected {
                        for o in &dyn_oids {
                            let mut x = o.clone();
                            x.push(*i);
                            oids.push(x);
                        }
                    }
                    let batch = usize::try_from(pol.varbind_budget).unwrap_or(25).max(1);
                    let got = walk::get_many(c, &oids, batch, pol, stats).await?;
                    let mut cols = vec![BTreeMap::new(); dyn_oids.len()];
                    for (oid, v) in got {
                        if let Some(p) = dyn_oids
                            .iter()
                            .position(|o| oid.len() == o.len() + 1 && oid.starts_with(o))
                        {
                            cols[p].insert(oid[oid.len() - 1], v);
                        }
                    }
                    cols
                } else {
                    let cols = ifmib::by_if_index(report.take(
                        &dyn_oids,
                        walk::walk_columns(c, &dyn_oids, pol, stats, mem).await,
                    )?);
                    // An interface we don't know yet: the cache is stale, rebuild it now.
                    if reused
                        && cols
                            .iter()
                            .any(|col| col.keys().any(|i| !cache.rows.contains_key(i)))
                    {
                        cache = self
                            .if_cache(c, st, m, pol, stats, mem, report, true)
                            .await?
                            .0;
                        selected = cache.select(filter);
                    }
                    cols
                };
                let selected = ifmib::filter_oper(selected, &dynamic, filter);
                ifmib::emit(
                    out,
                    &cache,
                    &dynamic,
                    &selected,
                    scalars,
                    self.opts.wrap_large_counters,
                );
                out.gauge("snmp_scrape_lookup_cache_hit", "1 if the ifIndex lookup tables came from the cache, 0 if they were walked in this scrape.", &[("module", m.name.as_str())], u64::from(reused));
                Ok(())
            }
        }
    }

    /// `GET /lookup?target=…&auth=…&ifName=…[&ifIndex=…|&ifDescr=…]` →
    /// 200 `{ifIndex, ifName, ifDescr, ifAlias, ifOperStatus}` for exactly one interface;
    /// 404 `{error, closest}` for an unknown name (`{error, candidates}` when the name
    /// exists but none has the pin); 409 `{error, candidates}` when the name (and pin)
    /// fits several interfaces.
    pub async fn handle_lookup(&self, req: Request) -> Reply {
        let cfg = self.config();
        let Some(target) = req.param("target") else {
            return Reply::bad_request("'target' parameter must be specified once");
        };
        if let Err(e) = parse_target(target) {
            return Reply::bad_request(e);
        }
        let Some(name) = req.param("ifName") else {
            return Reply::bad_request("'ifName' parameter must be specified");
        };
        let pin = match (req.param("ifIndex"), req.param("ifDescr")) {
            (Some(_), Some(_)) => {
                return Reply::bad_request("give 'ifIndex' or 'ifDescr', not both");
            }
            (Some(i), None) => match i.parse::<u32>() {
                Ok(i) if i >= 1 => Some(Pin::Index(i)),
                _ => {
                    return Reply::bad_request(format!(
                        "'ifIndex' must be an interface index (1..4294967295), got '{i}'"
                    ))
                }
            },
            (None, Some(d)) => Some(Pin::Descr(d.to_string())),
            (None, None) => None,
        };
        let auth_name = req.param("auth").unwrap_or("public_v2");
        let Some(auth) = cfg.auths.get(auth_name) else {
            return Reply::bad_request(format!("Unknown auth '{auth_name}'"));
        };
        let mname = req.param("module").unwrap_or("if_mib");
        let Some(m) = cfg.modules.get(mname).filter(|m| m.base == Base::IfMib) else {
            return Reply::bad_request(format!("Unknown if_mib module '{mname}'"));
        };
        let deadline = self.deadline(req.deadline);
        let fail = |e: &dyn std::fmt::Display| {
            Reply::Json(
                502,
                serde_json::json!({"error": format!("cannot query target: {e}")}),
            )
        };
        let addr = match Self::resolve(target).await {
            Ok(a) => a,
            Err(e) => return fail(&e),
        };
        let st = self.state(addr, auth_name);
        let Ok(_g) = self.global.acquire().await else {
            return fail(&"shutting down");
        };
        let Ok(_t) = st.sem.acquire().await else {
            return fail(&"shutting down");
        };
        let client = match self.client(&st, addr, auth).await {
            Ok(c) => c,
            Err(e) => return fail(&e),
        };
        let mut stats = Stats {
            slowest_answer: lock(&st.inner).slowest,
            ..Stats::default()
        };
        let mut pol = Policy {
            max_repetitions: m.max_repetitions,
            varbind_budget: lock(&st.inner)
                .budgets
                .get(&m.name)
                .map_or_else(|| default_budget(m, auth), |b| b.size),
            retries: m.retries,
            timeout: m.timeout,
            deadline: Some(work_deadline(deadline)),
        };
        let mut mem = lock(&st.inner).columns.clone();
        let work = async {
            let mut report = ModuleReport::default();
            let (cache, _, _) = self
                .if_cache(
                    &*client,
                    &st,
                    m,
                    &mut pol,
                    &mut stats,
                    &mut mem,
                    &mut report,
                    false,
                )
                .await?;
            let named: Vec<(u32, ifmib::IfInfo)> = cache
                .find_all(name)
                .into_iter()
                .map(|(i, r)| (i, r.clone()))
                .collect();
            if named.is_empty() {
                return Ok(Found::None(
                    ifmib::closest(&cache, name, 5)
                        .into_iter()
                        .map(String::from)
                        .collect(),
                ));
            }
            let chosen: Vec<(u32, ifmib::IfInfo)> = named
                .iter()
                .filter(|(i, r)| match &pin {
                    None => true,
                    Some(Pin::Index(x)) => i == x,
                    Some(Pin::Descr(d)) => r.descr == *d,
                })
                .cloned()
                .collect();
            // ifOperStatus of the interfaces the answer names.
            let show = if chosen.is_empty() { &named } else { &chosen };
            let oids: Vec<Vec<u32>> = show
                .iter()
                .map(|(i, _)| {
                    let mut o = ifmib::IF_TABLE.to_vec();
                    o.extend([8, *i]);
                    o
                })
                .collect();
            let batch = usize::try_from(pol.varbind_budget)
                .unwrap_or(25)
                .clamp(1, 25);
            let v = walk::get_many(&*client, &oids, batch, &mut pol, &mut stats).await?;
            let with_oper: Vec<(u32, ifmib::IfInfo, Option<i64>)> = show
                .iter()
                .zip(&oids)
                .map(|((i, r), o)| (*i, r.clone(), v.get(o).and_then(SnmpValue::as_i64)))
                .collect();
            Ok::<_, WalkError>(match chosen.len() {
                0 => Found::NotPinned(with_oper),
                1 => Found::One(with_oper.into_iter().next()),
                _ => Found::Ambiguous(with_oper),
            })
        };
        let result = tokio::time::timeout_at(deadline.into(), work).await;
        {
            let mut inner = lock(&st.inner);
            inner.columns = mem;
            if stats.slowest_answer.is_some() {
                inner.slowest = stats.slowest_answer;
            }
        }
        let candidate = |(i, r, o): &(u32, ifmib::IfInfo, Option<i64>)| {
            serde_json::json!({
                "ifIndex": i, "ifName": r.name, "ifDescr": r.descr,
                "ifAlias": r.alias, "ifOperStatus": o,
            })
        };
        match result {
            Err(_) => fail(&WalkError::Deadline),
            Ok(Err(e)) => fail(&e),
            Ok(Ok(Found::None(closest))) => Reply::Json(
                404,
                serde_json::json!({"error": format!("no interface named '{name}'"), "closest": closest}),
            ),
            Ok(Ok(Found::NotPinned(named))) => Reply::Json(
                404,
                serde_json::json!({
                    "error": format!(
                        "no interface named '{name}' has {}",
                        pin.as_ref().map(Pin::describe).unwrap_or_default()
                    ),
                    "candidates": named.iter().map(candidate).collect::<Vec<_>>(),
                }),
            ),
            Ok(Ok(Found::Ambiguous(named))) => {
                let how = match &pin {
                    None => "pin the port by ifIndex or ifDescr".to_string(),
                    Some(p) => format!(
                        "{} does not tell them apart: pin it by ifIndex",
                        p.describe()
                    ),
                };
                Reply::Json(
                    409,
                    serde_json::json!({
                        "error": format!("{} interfaces are named '{name}'; {how}", named.len()),
                        "candidates": named.iter().map(candidate).collect::<Vec<_>>(),
                    }),
                )
            }
            Ok(Ok(Found::One(Some(one)))) => Reply::Json(200, candidate(&one)),
            Ok(Ok(Found::One(None))) => fail(&"no interface"),
        }
    }

    /// Exporter-wide metrics for `/metrics`.
    pub fn self_metrics(&self) -> MetricSet {
        let t = lock(&self.totals).clone();
        let mut m = MetricSet::new();
        m.counter(
            "snmp_scrapes_total",
            "Scrapes of /snmp served.",
            &[],
            t.scrapes,
        );
        m.counter(
            "snmp_packets_total",
            "SNMP requests sent (including retries).",
            &[],
            t.packets,
        );
        m.counter(
            "snmp_packet_retries_total",
            "SNMP requests retried.",
            &[],
            t.retries,
        );
        let fam = m.family(
            "snmp_request_errors_total",
            "Errors by reason.",
            MetricType::Counter,
        );
        for (r, n) in &t.errors {
            fam.add(&[("reason", r)], *n);
        }
        m.counter(
            "snmp_lookup_cache_hits_total",
            "Scrapes that reused the cached ifIndex lookup tables.",
            &[],
            t.cache_hits,
        );
        m.counter(
            "snmp_lookup_cache_misses_total",
            "Scrapes that walked the ifIndex lookup tables.",
            &[],
            t.cache_misses,
        );
        m.gauge(
            "snmp_targets_cached",
            "Targets with cached state.",
            &[],
            lock(&self.targets).len(),
        );
        m.prune_empty();
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse() {
        assert_eq!(parse_target("10.0.0.1").unwrap(), ("10.0.0.1".into(), 161));
        assert_eq!(parse_target("udp://sw:1161").unwrap(), ("sw".into(), 1161));
        assert_eq!(parse_target("[::1]:16161").unwrap(), ("::1".into(), 16161));
        assert_eq!(parse_target("::1").unwrap(), ("::1".into(), 161));
        assert!(parse_target("tcp://sw:161").is_err());
        assert!(parse_target("sw:99999").is_err());
        assert!(parse_target("").is_err());
    }

    fn req(q: &[(&str, &str)]) -> Request {
        Request {
            method: "GET".into(),
            path: "/snmp".into(),
            query: q
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            headers: Default::default(),
            deadline: None,
            body: Default::default(),
        }
    }

    #[tokio::test]
    async fn bad_requests_get_400_with_one_line() {
        let e = Engine::new(Config::default(), None, Options::default());
        for (q, want) in [
            (vec![], "'target' parameter must be specified once"),
            (
                vec![("target", "a"), ("target", "b")],
                "'target' parameter must be specified once",
            ),
            (
                vec![("target", "127.0.0.1"), ("module", "nope")],
                "Unknown module 'nope'",
            ),
            (
                vec![("target", "127.0.0.1"), ("module", "if_mib,nope")],
                "Unknown module 'nope'",
            ),
            (
                vec![("target", "127.0.0.1"), ("auth", "nope")],
                "Unknown auth 'nope'",
            ),
            (
                vec![("target", "127.0.0.1"), ("filter_ifname", "(")],
                "bad 'filter_ifname' regex",
            ),
        ] {
            match e.handle_snmp(req(&q)).await {
                Reply::Text(400, t) => {
                    assert!(t.starts_with(want), "{q:?}: {t}");
                    assert_eq!(t.lines().count(), 1, "{t}");
                }
                r => panic!("{q:?}: {r:?}"),
            }
        }
    }
}
