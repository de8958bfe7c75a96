//! The monitor: filter + engine + self-statistics behind a lock, fed by a reader
//! (netlink or `/proc/net/arp`), rendered to metrics. Knows no HTTP.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use rtmon::app::{BoxFuture, Scrape, Source};
use rtmon::expo::{MetricSet, MetricType};
use tokio::sync::Notify;

use crate::engine::{Change, ChangeKind, Engine, EngineConfig, Snapshot};
use crate::filter::Filter;
use crate::model::{Key, Neighbour, NudState};

/// Seconds since the epoch.
pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

#[derive(Debug, Default)]
struct Stats {
    up: bool,
    syncs: u64,
    sync_errors: u64,
    events: u64,
    overruns: u64,
    state_load_errors: u64,
    state_save_errors: u64,
    last_error: Option<String>,
}

#[derive(Debug)]
struct Inner {
    engine: Engine,
    filter: Filter,
    flow: Option<String>,
    stats: Stats,
}

/// Shared state of the exporter.
#[derive(Debug)]
pub struct Monitor {
    inner: Mutex<Inner>,
    /// Notified on every change (push on change).
    pub changed: Arc<Notify>,
    /// Notified when the state should be saved.
    pub dirty: Arc<Notify>,
    /// Notified when a full resync is wanted (filter changed, overrun).
    pub resync: Arc<Notify>,
    /// Becomes true after the first full read of the table (`/-/ready`).
    pub ready: Arc<AtomicBool>,
}

impl Monitor {
    /// A monitor around an engine.
    pub fn new(engine: Engine, filter: Filter, flow: Option<String>) -> Monitor {
        Monitor {
            inner: Mutex::new(Inner {
                engine,
                filter,
                flow,
                stats: Stats::default(),
            }),
            changed: Arc::new(Notify::new()),
            dirty: Arc::new(Notify::new()),
            resync: Arc::new(Notify::new()),
            ready: Arc::new(AtomicBool::new(false)),
        }
    }

    /// An empty monitor with default settings (tests).
    pub fn with_config(cfg: EngineConfig, filter: Filter) -> Monitor {
        Monitor::new(Engine::new(cfg), filter, None)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves consistent-enough data: keep going.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn after(&self, changes: &[Change]) {
        for c in changes {
            tracing::info!(
                kind = c.kind.as_str(),
                ip = %c.key.ip,
                device = %c.key.device,
                old_mac = c.old_mac.as_deref().unwrap_or(""),
                new_mac = c.new_mac.as_deref().unwrap_or(""),
                "neighbour change"
            );
        }
        if !changes.is_empty() {
            self.changed.notify_one();
            self.dirty.notify_one();
        }
    }

    /// Applies a full dump (unfiltered; the filter is applied here).
    pub fn apply_sync(&self, dump: Vec<Neighbour>) -> Vec<Change> {
        let changes = {
            let mut g = self.lock();
            let dump: Vec<Neighbour> = dump.into_iter().filter(|n| g.filter.accepts(n)).collect();
            let first = g.stats.syncs == 0;
            g.stats.up = true;
            g.stats.syncs += 1;
            g.stats.last_error = None;
            let c = g.engine.sync(dump, now());
            if first {
                self.dirty.notify_one();
            }
            c
        };
        self.ready.store(true, Ordering::Release);
        self.after(&changes);
        changes
    }

    /// Applies a RTM_NEWNEIGH event.
    pub fn apply_new(&self, n: Neighbour) -> Vec<Change> {
        let changes = {
            let mut g = self.lock();
            g.stats.events += 1;
            if !g.filter.accepts(&n) {
                return Vec::new();
            }
            g.engine.upsert(n, now())
        };
        self.after(&changes);
        changes
    }

    /// Applies a RTM_DELNEIGH event.
    pub fn apply_del(&self, key: &Key) -> Vec<Change> {
        let changes = {
            let mut g = self.lock();
            g.stats.events += 1;
            g.engine.remove(key, now())
        };
        self.after(&changes);
        changes
    }

    /// Records a failed read of the table (the `up` gauge goes to 0).
    pub fn sync_failed(&self, err: &str) {
        let mut g = self.lock();
        g.stats.up = false;
        g.stats.sync_errors += 1;
        g.stats.last_error = Some(err.to_string());
    }

    /// Records an event-socket overrun (events lost; a resync follows).
    pub fn overrun(&self) {
        self.lock().stats.overruns += 1;
        self.resync.notify_one();
    }

    /// Records a state-file problem.
    pub fn state_error(&self, load: bool) {
        let mut g = self.lock();
        if load {
            g.stats.state_load_errors += 1;
        } else {
            g.stats.state_save_errors += 1;
        }
    }

    /// Replaces the filter and flow label (reload) and asks for a resync.
    pub fn set_filter(&self, filter: Filter, flow: Option<String>) {
        {
            let mut g = self.lock();
            g.engine.retain(|k, e| {
                filter.accepts(&Neighbour {
                    key: k.clone(),
                    mac: e.mac.clone(),
                    state: e.state,
                })
            });
            g.filter = filter;
            g.flow = flow;
        }
        self.resync.notify_one();
    }

    /// The persistent part of the engine.
    pub fn snapshot(&self) -> Snapshot {
        self.lock().engine.snapshot()
    }

    /// Renders all metrics.
    pub fn render(&self) -> MetricSet {
        let g = self.lock();
        let e = &g.engine;
        let mut m = MetricSet::new();
        m.gauge(
            "rtmon_arp_up",
            "1 if the last read of the neighbour table succeeded, 0 otherwise.",
            &[],
            u64::from(g.stats.up),
        );
        {
            let f = m.family(
                "rtmon_arp_entry_info",
                "One series per neighbour entry (bounded by --arp.max-entries): IP, MAC (empty when unresolved), device and NUD state.",
                MetricType::Gauge,
            );
            for (k, v) in e.entries() {
                let ip = k.ip.to_string();
                f.add(
                    &[
                        ("ip", ip.as_str()),
                        ("mac", v.mac.as_deref().unwrap_or("")),
                        ("device", k.device.as_str()),
                        ("state", v.state.as_str()),
                    ],
                    1u64,
                );
            }
        }
        {
            let f = m.family(
                "rtmon_arp_entries",
                "Neighbour entries per device and NUD state (including entries over --arp.max-entries).",
                MetricType::Gauge,
            );
            for ((dev, state), n) in e.counts() {
                f.add(&[("device", dev.as_str()), ("state", state.as_str())], n);
            }
        }
        m.counter(
            "rtmon_arp_entries_dropped_total",
            "Neighbour entries not tracked nor exported because --arp.max-entries was reached (once per appearance).",
            &[],
            e.dropped(),
        );
        m.gauge(
            "rtmon_arp_max_entries",
            "The --arp.max-entries limit.",
            &[],
            e.config().max_entries,
        );
        {
            let f = m.family(
                "rtmon_arp_changes_total",
                "IP to MAC binding changes by kind: new (never seen), changed_mac, flip_flop (back to the previous MAC), removed, returned (same MAC again), state_changed (only with --arp.count-state-changes).",
                MetricType::Counter,
            );
            for k in ChangeKind::ALL {
                f.add(&[("kind", k.as_str())], e.change_count(k));
            }
        }
        {
            let f = m.family(
                "rtmon_arp_last_change_timestamp_seconds",
                "When the last change of each kind was seen (kept across restarts in the state file).",
                MetricType::Gauge,
            );
            for k in ChangeKind::ALL {
                if let Some(t) = e.last_change(k) {
                    f.add(&[("kind", k.as_str())], t);
                }
            }
        }
        if let Some(t) = e.last_sync() {
            m.gauge(
                "rtmon_arp_last_sync_timestamp_seconds",
                "When the neighbour table was last read in full.",
                &[],
                t,
            );
        }
        let s = &g.stats;
        m.counter(
            "rtmon_arp_syncs_total",
            "Full reads of the neighbour table.",
            &[],
            s.syncs,
        );
        m.counter(
            "rtmon_arp_sync_errors_total",
            "Failed reads of the neighbour table (netlink or /proc).",
            &[],
            s.sync_errors,
        );
        m.counter(
            "rtmon_arp_events_total",
            "Neighbour events (RTM_NEWNEIGH/RTM_DELNEIGH) received.",
            &[],
            s.events,
        );
        m.counter(
            "rtmon_arp_event_overruns_total",
            "Times the netlink event socket overflowed (events lost, healed by a resync).",
            &[],
            s.overruns,
        );
        {
            let f = m.family(
                "rtmon_arp_state_file_errors_total",
                "State file problems: op=load (unreadable or corrupt, replaced) or op=save.",
                MetricType::Counter,
            );
            f.add(&[("op", "load")], s.state_load_errors);
            f.add(&[("op", "save")], s.state_save_errors);
        }
        if let Some(flow) = &g.flow {
            m.add_label_to_all("flow", flow);
        }
        m
    }

    /// The last read error, if the table is currently unreadable.
    pub fn last_error(&self) -> Option<String> {
        self.lock().stats.last_error.clone()
    }

    /// Whether any state is in the table (used by tests and readiness).
    pub fn entry_count(&self) -> usize {
        self.lock().engine.entries().count()
    }

    /// States of entries (tests).
    pub fn entry(&self, key: &Key) -> Option<(Option<String>, NudState)> {
        self.lock()
            .engine
            .entries()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| (v.mac.clone(), v.state))
    }
}

/// [`Source`] over a shared [`Monitor`].
pub struct MonitorSource(pub Arc<Monitor>);

impl Source for MonitorSource {
    fn collect<'a>(&'a self, _s: &'a Scrape) -> BoxFuture<'a, MetricSet> {
        Box::pin(async move { self.0.render() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_promtool_style_names_and_flow_label() {
        let mon = Monitor::new(
            Engine::new(EngineConfig::default()),
            Filter::default(),
            Some("dtn-a-dtn-b".into()),
        );
        mon.apply_sync(vec![Neighbour {
            key: Key {
                device: "veth0".into(),
                ip: "10.203.0.2".parse().expect("ip"),
            },
            mac: Some("02:00:00:00:00:02".into()),
            state: NudState::Reachable,
        }]);
        let text = rtmon::expo::encode(&mon.render(), rtmon::expo::Format::Text);
        assert!(text.contains(
            "rtmon_arp_entry_info{ip=\"10.203.0.2\",mac=\"02:00:00:00:00:02\",device=\"veth0\",state=\"reachable\",flow=\"dtn-a-dtn-b\"} 1"
        ), "{text}");
        assert!(
            text.contains("rtmon_arp_changes_total{kind=\"new\",flow=\"dtn-a-dtn-b\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("rtmon_arp_up{flow=\"dtn-a-dtn-b\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE rtmon_arp_changes_total counter"),
            "{text}"
        );
        mon.sync_failed("boom");
        let text = rtmon::expo::encode(&mon.render(), rtmon::expo::Format::Text);
        assert!(
            text.contains("rtmon_arp_up{flow=\"dtn-a-dtn-b\"} 0"),
            "{text}"
        );
        assert!(
            text.contains("rtmon_arp_sync_errors_total{flow=\"dtn-a-dtn-b\"} 1"),
            "{text}"
        );
    }
}
