//! One scrape: choose the collectors (enabled set, `collect[]` / `exclude[]`), run them
//! in order into one [`MetricSet`], add `node_scrape_collector_*` self-metrics.
//!
//! "Not applicable" (the source does not exist on this host, e.g. no hwmon chips) is
//! reported apart from failure: such a collector gets
//! `node_scrape_collector_applicable{collector} 0` and *no*
//! `node_scrape_collector_success` sample, so `node_scrape_collector_success == 0`
//! alerts mean a real failure. A failed collector gets `success 0` and a log line.
//!
//! No lock is held: each scrape owns its output, so concurrent scrapes run in parallel.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use rtmon::app::{BoxFuture, Scrape, Source};
use rtmon::expo::{MetricSet, MetricType};

use crate::collector::{self, CollectError, Def};
use crate::config::Config;

/// The node exporter's metrics source.
#[derive(Clone, Debug)]
pub struct NodeSource {
    cfg: Arc<Config>,
    enabled: Arc<Vec<&'static Def>>,
}

/// Which collectors one scrape runs.
pub fn select(
    enabled: &[&'static Def],
    collect: &[&str],
    exclude: &[&str],
) -> Result<Vec<&'static Def>, String> {
    for name in collect.iter().chain(exclude) {
        if collector::find(name).is_none() {
            return Err(format!("missing collector: {name}"));
        }
    }
    if !collect.is_empty() && !exclude.is_empty() {
        return Err("collect[] and exclude[] are mutually exclusive".into());
    }
    for name in collect {
        if !enabled.iter().any(|d| d.name == *name) {
            return Err(format!("collector {name} is not enabled"));
        }
    }
    Ok(enabled
        .iter()
        .copied()
        .filter(|d| collect.is_empty() || collect.contains(&d.name))
        .filter(|d| !exclude.contains(&d.name))
        .collect())
}

/// Runs `defs` against `cfg` (synchronously) and returns the sorted exposition.
pub fn scrape(cfg: &Config, defs: &[&'static Def]) -> MetricSet {
    // Sized like the previous scrape (the family count barely changes between scrapes).
    let mut out = MetricSet::with_capacity(FAMILIES_HINT.load(Ordering::Relaxed));
    let mut results: Vec<(&'static str, f64, Result<(), CollectError>)> =
        Vec::with_capacity(defs.len());
    for d in defs {
        let t = Instant::now();
        let r = (d.collect)(cfg, &mut out);
        let secs = t.elapsed().as_secs_f64();
        match &r {
            Err(CollectError::Failed(m)) => {
                tracing::error!(collector = d.name, error = %m, "collector failed");
            }
            Err(CollectError::NotApplicable(m)) => {
                tracing::debug!(collector = d.name, reason = %m, "collector not applicable");
            }
            Ok(()) => {}
        }
        results.push((d.name, secs, r));
    }
    for (name, secs, r) in &results {
        out.family(
            "node_scrape_collector_duration_seconds",
            "node_exporter: Duration of a collector scrape.",
            MetricType::Gauge,
        )
        .add(&[("collector", name)], *secs);
        if !matches!(r, Err(CollectError::NotApplicable(_))) {
            out.family(
                "node_scrape_collector_success",
                "node_exporter: Whether a collector succeeded.",
                MetricType::Gauge,
            )
            .add(&[("collector", name)], u64::from(r.is_ok()));
        }
        out.family(
            "node_scrape_collector_applicable",
            "rtmon: 1 if the collector's source exists on this host, 0 if it does not apply (e.g. no hwmon chips).",
            MetricType::Gauge,
        )
        .add(
            &[("collector", name)],
            u64::from(!matches!(r, Err(CollectError::NotApplicable(_)))),
        );
    }
    out.prune_empty();
    out.sort();
    FAMILIES_HINT.store(
        out.families().len().min(FAMILIES_HINT_MAX),
        Ordering::Relaxed,
    );
    out
}

/// Families written by the last scrape, as the next one's capacity.
static FAMILIES_HINT: AtomicUsize = AtomicUsize::new(0);
/// Upper bound of the hint (a textfile can add many families once).
const FAMILIES_HINT_MAX: usize = 4096;

impl NodeSource {
    /// A source running `enabled` collectors with `cfg`.
    pub fn new(cfg: Config, enabled: Vec<&'static Def>) -> NodeSource {
        NodeSource {
            cfg: Arc::new(cfg),
            enabled: Arc::new(enabled),
        }
    }

    /// Names of the enabled collectors.
    pub fn enabled(&self) -> Vec<&'static str> {
        self.enabled.iter().map(|d| d.name).collect()
    }

    /// Collects for a query (`collect[]`, `exclude[]`); `Err` is a bad request.
    pub async fn collect_query(&self, query: &[(String, String)]) -> Result<MetricSet, String> {
        let (collect, exclude) = filters(query);
        let defs = select(&self.enabled, &collect, &exclude)?;
        // Collected right here on the worker: every read is of an in-memory pseudo
        // file, and a hand-off to the blocking pool cost more CPU and memory (one
        // thread and malloc arena per concurrent scrape) than it saved (measured with
        // scripts/bench-node.sh). No lock is shared, so scrapes on different workers
        // run in parallel.
        Ok(scrape(&self.cfg, &defs))
    }
}

/// The `collect[]` / `exclude[]` values of a query.
fn filters(query: &[(String, String)]) -> (Vec<&str>, Vec<&str>) {
    let pick = |k: &str| -> Vec<&str> {
        query
            .iter()
            .filter(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .collect()
    };
    (pick("collect[]"), pick("exclude[]"))
}

impl Source for NodeSource {
    /// Unknown or disabled names in `collect[]` / `exclude[]` answer 400, as
    /// node_exporter does.
    fn validate(&self, s: &Scrape) -> Result<(), String> {
        let (collect, exclude) = filters(&s.query);
        select(&self.enabled, &collect, &exclude).map(|_| ())
    }

    fn collect<'a>(&'a self, s: &'a Scrape) -> BoxFuture<'a, MetricSet> {
        Box::pin(async move {
            // HTTP scrapes were validated; pushes carry no query.
            self.collect_query(&s.query).await.unwrap_or_else(|e| {
                tracing::warn!(error = %e, "bad collect[]/exclude[] filter");
                MetricSet::new()
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defs(names: &[&str]) -> Vec<&'static Def> {
        names.iter().filter_map(|n| collector::find(n)).collect()
    }

    #[test]
    fn selection_follows_filters() {
        let en = defs(&["cpu", "loadavg", "meminfo"]);
        let names = |v: Vec<&'static Def>| v.iter().map(|d| d.name).collect::<Vec<_>>();
        assert_eq!(
            names(select(&en, &[], &[]).expect("all")),
            ["cpu", "loadavg", "meminfo"]
        );
        assert_eq!(
            names(select(&en, &["loadavg"], &[]).expect("one")),
            ["loadavg"]
        );
        assert_eq!(
            names(select(&en, &[], &["cpu"]).expect("ex")),
            ["loadavg", "meminfo"]
        );
        assert_eq!(
            select(&en, &["nonexist"], &[]).expect_err("bad"),
            "missing collector: nonexist"
        );
        assert!(select(&en, &["hwmon"], &[])
            .expect_err("off")
            .contains("not enabled"));
        assert!(select(&en, &["cpu"], &["cpu"]).is_err());
    }
}
