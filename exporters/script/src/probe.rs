//! `/probe`, `/discovery` and the self-metrics: request validation, deadline,
//! concurrency limits, cache, output parsing and the `script_*` metrics.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use rtmon::app::{BoxFuture, Reply, Request, Scrape, Source};
use rtmon::expo::parse::{parse_bytes, ParseOptions};
use rtmon::expo::MetricSet;
use tokio::sync::Semaphore;

use crate::config::{Config, Pass, Script};
use crate::runner::{self, Ending, RunOutcome, RunSpec};

/// Exporter-wide limits (from flags).
#[derive(Clone, Debug)]
pub struct Limits {
    /// Timeout of scripts that configure none.
    pub default_timeout: Duration,
    /// Runs of all scripts at once.
    pub max_concurrency: usize,
    /// Most stdout bytes read from a script.
    pub max_output_bytes: usize,
    /// Most stdout lines parsed.
    pub max_output_lines: usize,
    /// Most cached results, all scripts together.
    pub cache_max_entries: usize,
    /// Most bytes of cached results, all scripts together.
    pub cache_max_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            default_timeout: Duration::from_secs(30),
            max_concurrency: 16,
            max_output_bytes: 4 << 20,
            max_output_lines: 50_000,
            cache_max_entries: 1000,
            cache_max_bytes: 64 << 20,
        }
    }
}

/// A loaded config with its per-script semaphores (replaced whole on reload).
struct Loaded {
    config: Config,
    sems: HashMap<String, Arc<Semaphore>>,
}

impl Loaded {
    fn new(config: Config) -> Loaded {
        let sems = config
            .scripts
            .iter()
            .map(|s| (s.name.clone(), Arc::new(Semaphore::new(s.max_concurrency))))
            .collect();
        Loaded { config, sems }
    }
}

/// Per-script counters for `/metrics`.
#[derive(Clone, Debug, Default)]
struct Stats {
    runs: u64,
    failures: u64,
    timeouts: u64,
    output_too_large: u64,
    spawn_failures: u64,
    concurrency_waits_expired: u64,
    output_lines_dropped: u64,
    bad_requests: u64,
    cache_hits: u64,
    inflight: i64,
    seconds: f64,
}

type CacheKey = (String, Vec<(String, String)>);

/// A cached result.
struct CacheEntry {
    expires: Instant,
    last_used: Instant,
    bytes: usize,
    outcome: Arc<RunOutcome>,
}

/// Results of scripts with `cache:`, bounded in entries and bytes: an insert beyond a
/// bound evicts expired entries first, then the least recently used ones.
#[derive(Default)]
struct Cache {
    map: HashMap<CacheKey, CacheEntry>,
    bytes: usize,
    evictions: u64,
}

impl Cache {
    fn get(&mut self, key: &CacheKey, now: Instant) -> Option<Arc<RunOutcome>> {
        let e = self.map.get_mut(key)?;
        if now < e.expires {
            e.last_used = now;
            return Some(Arc::clone(&e.outcome));
        }
        self.remove(key);
        None
    }

    fn remove(&mut self, key: &CacheKey) {
        if let Some(e) = self.map.remove(key) {
            self.bytes = self.bytes.saturating_sub(e.bytes);
        }
    }

    fn insert(&mut self, key: CacheKey, outcome: Arc<RunOutcome>, ttl: Duration, limits: &Limits) {
        let now = Instant::now();
        let bytes = outcome.stdout.len()
            + outcome.stderr_head.len()
            + key.0.len()
            + key.1.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>()
            + 128;
        self.remove(&key);
        if bytes > limits.cache_max_bytes || limits.cache_max_entries == 0 {
            self.evictions += 1;
            return;
        }
        self.map.retain(|_, e| e.expires > now);
        self.bytes = self.map.values().map(|e| e.bytes).sum();
        while self.map.len() >= limits.cache_max_entries
            || self.bytes + bytes > limits.cache_max_bytes
        {
            let Some(oldest) = self
                .map
                .iter()
                .min_by_key(|(_, e)| e.last_used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            self.remove(&oldest);
            self.evictions += 1;
        }
        self.bytes += bytes;
        self.map.insert(
            key,
            CacheEntry {
                expires: rtmon::duration::saturating_add(now, ttl),
                last_used: now,
                bytes,
                outcome,
            },
        );
    }

    fn clear(&mut self) {
        self.map.clear();
        self.bytes = 0;
    }
}

/// The exporter's state, shared by the handlers.
pub struct State {
    loaded: RwLock<Arc<Loaded>>,
    config_file: Option<PathBuf>,
    limits: Limits,
    global: Semaphore,
    stats: Mutex<BTreeMap<String, Stats>>,
    unknown: Mutex<u64>,
    cache: Mutex<Cache>,
}

/// What a validated request asks for.
#[derive(Debug, PartialEq, Eq)]
pub struct Invocation {
    /// Arguments after the fixed ones.
    pub args: Vec<String>,
    /// Parameter environment variables.
    pub env: Vec<(String, String)>,
    /// The `timeout` query parameter (can only shorten).
    pub timeout: Option<Duration>,
    /// The parameter values (cache key).
    pub values: Vec<(String, String)>,
}

/// Checks the query against the script's allow-list. The error is the one-line reason
/// for a 400; the script is never run when this fails.
pub fn validate(script: &Script, query: &[(String, String)]) -> Result<Invocation, String> {
    let mut given: HashMap<&str, &str> = HashMap::new();
    let mut timeout = None;
    for (k, v) in query {
        match k.as_str() {
            "script" => continue,
            "timeout" => {
                let t: f64 = v
                    .parse()
                    .ok()
                    .filter(|t: &f64| t.is_finite() && *t > 0.0)
                    .ok_or_else(|| {
                        "parameter \"timeout\" must be a positive number of seconds".to_string()
                    })?;
                timeout = Some(Duration::from_secs_f64(t.min(86_400.0)));
            }
            // script_exporter's `params=a,b` lists the parameters to pass; here the
            // allow-list decides, so it only has to name declared parameters.
            "params" => {
                for n in v.split(',').filter(|n| !n.is_empty()) {
                    if !script.params.iter().any(|p| p.name == n) {
                        return Err(format!(
                            "parameter {} is not allowed for script {:?}",
                            short(n),
                            script.name
                        ));
                    }
                }
            }
            _ => {
                if !script.params.iter().any(|p| &p.name == k) {
                    return Err(format!(
                        "parameter {} is not allowed for script {:?}",
                        short(k),
                        script.name
                    ));
                }
                if given.insert(k.as_str(), v.as_str()).is_some() {
                    return Err(format!("parameter {} given more than once", short(k)));
                }
            }
        }
    }
    let mut inv = Invocation {
        args: Vec::new(),
        env: Vec::new(),
        timeout,
        values: Vec::new(),
    };
    for p in &script.params {
        let value = match (given.get(p.name.as_str()), &p.default) {
            (Some(v), _) => {
                if !p.regex.is_match(v) {
                    return Err(format!(
                        "parameter {:?}: value {} does not match {}",
                        p.name,
                        short(v),
                        p.regex.as_str()
                    ));
                }
                Some((*v).to_string())
            }
            (None, Some(d)) => Some(d.clone()),
            (None, None) if p.required => {
                return Err(format!("parameter {:?} is required", p.name));
            }
            (None, None) => None,
        };
        match (&p.pass, value) {
            (Pass::Positional, v) => inv.args.push(v.clone().unwrap_or_default()),
            (Pass::Flag(f), Some(v)) => {
                inv.args.push(f.clone());
                inv.args.push(v.clone());
            }
            (Pass::Env(e), Some(v)) => inv.env.push((e.clone(), v.clone())),
            (_, None) => {}
        }
        if let Some(v) = given.get(p.name.as_str()) {
            inv.values.push((p.name.clone(), (*v).to_string()));
        }
    }
    Ok(inv)
}

/// A value shown in an error: quoted, escaped, cut at 64 characters.
fn short(s: &str) -> String {
    let cut: String = s.chars().take(64).collect();
    if cut.len() < s.len() {
        format!("{cut:?}…")
    } else {
        format!("{cut:?}")
    }
}

impl State {
    /// A state with an already loaded config; `config_file` is re-read on reload.
    pub fn new(config: Config, config_file: Option<PathBuf>, limits: Limits) -> Arc<State> {
        for w in &config.warnings {
            tracing::warn!(warning = %w, "config");
        }
        Arc::new(State {
            loaded: RwLock::new(Arc::new(Loaded::new(config))),
            config_file,
            global: Semaphore::new(limits.max_concurrency.max(1)),
            limits,
            stats: Mutex::new(BTreeMap::new()),
            unknown: Mutex::new(0),
            cache: Mutex::new(Cache::default()),
        })
    }

    fn snapshot(&self) -> Arc<Loaded> {
        match self.loaded.read() {
            Ok(g) => Arc::clone(&g),
            Err(p) => Arc::clone(&p.into_inner()),
        }
    }

    fn with_stats(&self, script: &str, f: impl FnOnce(&mut Stats)) {
        let mut g = self.stats.lock().unwrap_or_else(|p| p.into_inner());
        f(g.entry(script.to_string()).or_default());
    }

    /// Re-reads the config file; on error the old config stays.
    pub fn reload(&self) -> Result<(), String> {
        let Some(path) = &self.config_file else {
            return Ok(());
        };
        let cfg = crate::config::load(path).map_err(|e| e.to_string())?;
        for w in &cfg.warnings {
            tracing::warn!(warning = %w, "config");
        }
        let n = cfg.scripts.len();
        *self.loaded.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(Loaded::new(cfg));
        self.cache.lock().unwrap_or_else(|p| p.into_inner()).clear();
        tracing::info!(scripts = n, "configuration reloaded");
        Ok(())
    }

    /// Handles `GET /probe`.
    pub async fn probe(&self, req: &Request) -> Reply {
        let names: Vec<&str> = req
            .query
            .iter()
            .filter(|(k, _)| k == "script")
            .map(|(_, v)| v.as_str())
            .collect();
        let name = match names.as_slice() {
            [] => return Reply::bad_request("missing parameter \"script\""),
            [one] => *one,
            _ => return Reply::bad_request("give exactly one \"script\" parameter"),
        };
        let loaded = self.snapshot();
        let (Some(script), Some(sem)) = (loaded.config.script(name), loaded.sems.get(name)) else {
            *self.unknown.lock().unwrap_or_else(|p| p.into_inner()) += 1;
            return Reply::bad_request(format!("unknown script {}", short(name)));
        };
        let inv = match validate(script, &req.query) {
            Ok(i) => i,
            Err(reason) => {
                self.with_stats(name, |s| s.bad_requests += 1);
                tracing::debug!(script = name, %reason, "bad probe request");
                return Reply::bad_request(reason);
            }
        };
        let now = Instant::now();
        let mut deadline = rtmon::duration::saturating_add(
            now,
            script.timeout.unwrap_or(self.limits.default_timeout),
        );
        if let Some(d) = req.deadline {
            deadline = deadline.min(d);
        }
        if let Some(t) = inv.timeout {
            deadline = deadline.min(rtmon::duration::saturating_add(now, t));
        }
        let outcome = self.run_cached(script, sem, inv, deadline).await;
        Reply::Metrics(self.finish(script, &outcome.0, outcome.1))
    }

    async fn run_cached(
        &self,
        script: &Script,
        sem: &Arc<Semaphore>,
        inv: Invocation,
        deadline: Instant,
    ) -> (Arc<RunOutcome>, bool) {
        let key: CacheKey = (script.name.clone(), inv.values.clone());
        if script.cache.is_some() {
            let hit = self
                .cache
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(&key, Instant::now());
            if let Some(o) = hit {
                self.with_stats(&script.name, |s| s.cache_hits += 1);
                return (o, true);
            }
        }
        let name = &script.name;
        let permits = tokio::time::timeout_at(tokio::time::Instant::from_std(deadline), async {
            let g = self.global.acquire().await;
            let s = sem.acquire().await;
            (g, s)
        })
        .await;
        let _permits = match permits {
            Ok((Ok(g), Ok(s))) => (g, s),
            _ => {
                self.with_stats(name, |s| s.concurrency_waits_expired += 1);
                tracing::warn!(script = %name, "concurrency limit: no slot before the deadline");
                return (
                    Arc::new(RunOutcome {
                        ending: Ending::ConcurrencyLimit,
                        exit_code: None,
                        stdout: Vec::new(),
                        stderr_head: String::new(),
                        duration: Duration::ZERO,
                    }),
                    false,
                );
            }
        };
        let mut env = inherited_env(script);
        env.extend(script.env.iter().cloned());
        env.extend(inv.env);
        let remaining = deadline.saturating_duration_since(Instant::now());
        env.push((
            "SCRIPT_TIMEOUT".into(),
            format!("{:.3}", remaining.as_secs_f64()),
        ));
        if let Ok(now) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            let at = (now + remaining).as_secs_f64();
            env.push(("SCRIPT_DEADLINE".into(), format!("{at:.3}")));
        }
        let mut args = script.args.clone();
        args.extend(inv.args);
        let spec = RunSpec {
            program: script.program.clone(),
            args,
            env,
            deadline,
            max_output_bytes: self.limits.max_output_bytes,
        };
        self.with_stats(name, |s| s.inflight += 1);
        let o = runner::run(&spec).await;
        self.with_stats(name, |s| s.inflight -= 1);
        let o = Arc::new(o);
        if let Some(ttl) = script.cache {
            if o.success() || script.cache_on_error {
                self.cache.lock().unwrap_or_else(|p| p.into_inner()).insert(
                    key,
                    Arc::clone(&o),
                    ttl,
                    &self.limits,
                );
            }
        }
        (o, false)
    }

    /// Parses the output, logs and counts problems, adds the `script_*` metrics.
    fn finish(&self, script: &Script, o: &RunOutcome, cached: bool) -> MetricSet {
        let name = script.name.as_str();
        // Raw bytes: a line that is not UTF-8 is dropped and counted, never repaired.
        let parsed = parse_bytes(
            &o.stdout,
            &ParseOptions {
                max_lines: self.limits.max_output_lines,
                reject_timestamps: false,
                // The exporter's own names: a script cannot forge its results or
                // self-metrics (rtmon_l2_* and other rtmon_* names stay allowed).
                reserved_prefixes: vec![
                    "script_".into(),
                    "rtmon_script_".into(),
                    "rtmon_build_info".into(),
                ],
            },
        );
        if !cached {
            for e in parsed.errors.iter().take(10) {
                tracing::warn!(script = name, line = e.line, error = %e.message, "script output line dropped");
            }
            if parsed.errors.len() > 10 {
                tracing::warn!(
                    script = name,
                    more = parsed.errors.len() - 10,
                    "more script output lines dropped"
                );
            }
            match &o.ending {
                Ending::Exited if o.exit_code != Some(0) => {
                    tracing::info!(script = name, exit_code = o.exit_code_metric(), stderr = %o.stderr_head.trim_end(), "script failed")
                }
                Ending::Exited => {}
                Ending::TimedOut => tracing::warn!(
                    script = name,
                    seconds = o.duration.as_secs_f64(),
                    "script killed at the deadline"
                ),
                Ending::OutputTooLarge => tracing::warn!(
                    script = name,
                    limit = self.limits.max_output_bytes,
                    "script output too large, killed"
                ),
                Ending::SpawnFailed(e) => {
                    tracing::error!(script = name, error = %e, "script could not be started")
                }
                Ending::ConcurrencyLimit => {}
            }
            self.with_stats(name, |s| {
                s.runs += u64::from(o.ending != Ending::ConcurrencyLimit);
                s.failures += u64::from(!o.success());
                s.timeouts += u64::from(o.ending == Ending::TimedOut);
                s.output_too_large += u64::from(o.ending == Ending::OutputTooLarge);
                s.spawn_failures += u64::from(matches!(o.ending, Ending::SpawnFailed(_)));
                s.output_lines_dropped += parsed.errors.len() as u64;
                s.seconds += o.duration.as_secs_f64();
            });
        }
        let total_dropped = self
            .stats
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .map_or(0, |s| s.output_lines_dropped);
        let mut m = MetricSet::new();
        let l = [("script", name)];
        m.gauge(
            "script_success",
            "Script exited with status 0 in time (1) or not (0).",
            &l,
            u64::from(o.success()),
        );
        m.gauge(
            "script_duration_seconds",
            "Script run time in seconds.",
            &l,
            o.duration.as_secs_f64(),
        );
        m.gauge(
            "script_exit_code",
            "Exit status of the script; -1 when killed or not started.",
            &l,
            o.exit_code_metric(),
        );
        m.gauge(
            "script_cached",
            "1 when this result came from the cache.",
            &l,
            u64::from(cached),
        );
        m.gauge(
            "script_output_lines_dropped",
            "Output lines of this run dropped as invalid, duplicate, conflicting or reserved.",
            &l,
            parsed.errors.len(),
        );
        m.counter(
            "script_output_errors_total",
            "Output lines of this script dropped since the exporter started.",
            &l,
            total_dropped,
        );
        m.gauge(
            "script_output_truncated",
            "1 when the output exceeded the size bound and the script was killed.",
            &l,
            u64::from(o.ending == Ending::OutputTooLarge),
        );
        m.merge(parsed.set);
        m
    }

    /// Handles `GET /discovery`: Prometheus `http_sd_configs` targets, one per script.
    pub fn discovery(&self, req: &Request) -> Reply {
        let host = req
            .headers
            .get("host")
            .filter(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_graphic()))
            .cloned()
            .unwrap_or_else(|| "localhost:9469".to_string());
        let loaded = self.snapshot();
        let groups: Vec<serde_json::Value> = loaded
            .config
            .scripts
            .iter()
            .map(|s| {
                let mut labels = serde_json::Map::new();
                labels.insert("__metrics_path__".into(), "/probe".into());
                labels.insert("__param_script".into(), s.name.clone().into());
                for (k, v) in &s.discovery.params {
                    labels.insert(format!("__param_{k}"), v.clone().into());
                }
                if let Some(i) = s.discovery.scrape_interval {
                    labels.insert("__scrape_interval__".into(), prom_duration(i).into());
                }
                if let Some(t) = s.discovery.scrape_timeout {
                    labels.insert("__scrape_timeout__".into(), prom_duration(t).into());
                }
                serde_json::json!({"targets": [host], "labels": labels})
            })
            .collect();
        Reply::Json(200, serde_json::Value::Array(groups))
    }

    /// The exporter's own metrics (`/metrics`).
    pub fn self_metrics(&self) -> MetricSet {
        let mut m = MetricSet::new();
        let loaded = self.snapshot();
        m.gauge(
            "rtmon_script_configured",
            "Number of configured scripts.",
            &[],
            loaded.config.scripts.len(),
        );
        m.counter(
            "rtmon_script_unknown_total",
            "Probes for a script that is not configured.",
            &[],
            *self.unknown.lock().unwrap_or_else(|p| p.into_inner()),
        );
        {
            let c = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            m.gauge(
                "rtmon_script_cache_entries",
                "Results in the cache (bounded by --script.cache-max-entries).",
                &[],
                c.map.len(),
            );
            m.gauge(
                "rtmon_script_cache_bytes",
                "Approximate size of the cached results (bounded by --script.cache-max-bytes).",
                &[],
                c.bytes,
            );
            m.counter(
                "rtmon_script_cache_evictions_total",
                "Cached results evicted (or not cached) to stay within the cache bounds.",
                &[],
                c.evictions,
            );
        }
        let stats = self.stats.lock().unwrap_or_else(|p| p.into_inner()).clone();
        for (name, s) in &stats {
            let l = [("script", name.as_str())];
            m.counter(
                "rtmon_script_runs_total",
                "Script runs (cache hits excluded).",
                &l,
                s.runs,
            );
            m.counter(
                "rtmon_script_failures_total",
                "Runs that did not exit 0 in time.",
                &l,
                s.failures,
            );
            m.counter(
                "rtmon_script_run_seconds_total",
                "Total run time of the script.",
                &l,
                s.seconds,
            );
            m.counter(
                "rtmon_script_cache_hits_total",
                "Probes answered from the cache.",
                &l,
                s.cache_hits,
            );
            m.counter(
                "rtmon_script_bad_requests_total",
                "Probes refused with 400 (parameter not allowed, not matching, missing).",
                &l,
                s.bad_requests,
            );
            m.counter("rtmon_script_output_errors_total", "Output lines dropped (invalid, duplicate, conflicting TYPE, reserved name, over the line bound).", &l, s.output_lines_dropped);
            m.gauge("rtmon_script_inflight", "Runs in progress.", &l, s.inflight);
            for (reason, v) in [
                ("timeout", s.timeouts),
                ("output_too_large", s.output_too_large),
                ("spawn_failed", s.spawn_failures),
                ("concurrency_limit", s.concurrency_waits_expired),
            ] {
                m.counter(
                    "rtmon_script_errors_total",
                    "Runs that could not complete, by reason.",
                    &[("script", name.as_str()), ("reason", reason)],
                    v,
                );
            }
        }
        m
    }
}

/// What a script inherits from the exporter's environment: `PATH` (or a default),
/// `LANG`, `LC_ALL`, `TZ` and the variables its config names in `inherit_env`.
fn inherited_env(script: &Script) -> Vec<(String, String)> {
    let mut env = Vec::new();
    for name in crate::config::INHERITED_ENV
        .iter()
        .copied()
        .chain(script.inherit_env.iter().map(String::as_str))
    {
        if let Some(v) = std::env::var_os(name) {
            env.push((name.to_string(), v.to_string_lossy().into_owned()));
        } else if name == "PATH" {
            env.push(("PATH".into(), crate::config::DEFAULT_PATH.into()));
        }
    }
    env
}

fn prom_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// `/metrics` source: the self-metrics.
pub struct SelfMetrics(pub Arc<State>);

impl Source for SelfMetrics {
    fn collect<'a>(&'a self, _s: &'a Scrape) -> BoxFuture<'a, MetricSet> {
        Box::pin(async move { self.0.self_metrics() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn script() -> Script {
        let cfg = crate::config::parse(
            Path::new("t.yml"),
            "scripts:\n  - name: s\n    command: /bin/true\n    args: [fixed]\n    params:\n      - {name: a, regex: '[a-z]+'}\n      - {name: b, regex: '[0-9]+', flag: --b, default: '7'}\n      - {name: c, regex: '[a-z]+', env: PARAM_C}\n      - {name: d, regex: '[a-z]+'}\n",
        )
        .expect("config");
        cfg.scripts[0].clone()
    }

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn declared_parameters_map_to_args_and_env() {
        let s = script();
        let inv = validate(
            &s,
            &q(&[("script", "s"), ("d", "x"), ("c", "y"), ("a", "z")]),
        )
        .expect("ok");
        // Positional ones keep their declared position ("" for a missing one).
        assert_eq!(inv.args, vec!["z", "--b", "7", "x"]);
        assert_eq!(inv.env, vec![("PARAM_C".to_string(), "y".to_string())]);
        let inv = validate(&s, &q(&[("script", "s"), ("timeout", "2.5")])).expect("ok");
        assert_eq!(inv.args, vec!["", "--b", "7", ""]);
        assert_eq!(inv.timeout, Some(Duration::from_millis(2500)));
    }

    #[test]
    fn anything_else_is_refused_with_a_reason() {
        let s = script();
        for (query, needle) in [
            (vec![("a", "Z")], "does not match"),
            (vec![("a", "z\nx")], "does not match"),
            (vec![("b", "1 2")], "does not match"),
            (vec![("e", "x")], "not allowed"),
            (vec![("PARAM_C", "x")], "not allowed"),
            (vec![("a", "x"), ("a", "y")], "more than once"),
            (vec![("timeout", "-1")], "timeout"),
            (vec![("params", "a,LD_PRELOAD")], "not allowed"),
        ] {
            let e = validate(&s, &q(&query)).expect_err(needle);
            assert!(e.contains(needle), "{query:?}: {e}");
            assert!(!e.contains('\n'), "one line: {e:?}");
        }
    }
}
