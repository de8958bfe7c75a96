//! rtmon dashboard generator: flow config → Grafana dashboards, Prometheus rules,
//! provisioning files, upload, and live checks.
//!
//! Everything is derived from [`rtmon::flow::Flow`] plus [`Options`]. Three rooms, each
//! importing only the ones before it (ARCHITECTURE.md has the table):
//! - [`engine`]: the check engine — checks, the flows' topology, rules, alert routing and
//!   `status`; knows nothing of Grafana;
//! - [`grafana`]: the Grafana outputs — flow dashboard, fleet overview, panels, layout,
//!   provisioning, preview, upload and the panel-query `check`;
//! - [`services`]: `sync` and the scrape target lists.
//!
//! Beside them, used by all three: [`client`] (Prometheus HTTP API), [`names`] (metric and
//! label names), and the stand-alone commands' helpers [`legacy`] and [`resolve`].
#![warn(missing_docs)]

pub mod client;
pub mod engine;
pub mod grafana;
pub mod legacy;
pub mod names;
pub mod resolve;
pub mod services;

// The modules' places before they were grouped (issue #27): paths such as
// `rtmon_dashboards::rules` keep working for the binary, the tests and users of the crate.
pub use engine::{alertmanager, checks, rules, status, topology};
pub use grafana::{check, dashboard, fleet, jv, layout, panels, preview, provision, upload};
pub use services::{sync, targets};

/// How the metrics reach Prometheus.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// Prometheus scrapes the exporters (`up` tells whether an exporter is alive).
    Scrape,
    /// Exporters push to a Pushgateway (`push_time_seconds` tells freshness).
    Push,
}

/// Job label values of the exporters, as Prometheus sees them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Jobs {
    /// node exporter job.
    pub node: String,
    /// ARP exporter job.
    pub arp: String,
    /// ping exporter job.
    pub ping: String,
    /// SNMP exporter job.
    pub snmp: String,
}

/// Generator options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// Scrape or push mode.
    pub mode: Mode,
    /// Label that identifies a host/switch: `instance` (scrape, or push with
    /// `honor_labels: true`) or `exported_instance` (push without honor_labels).
    pub instance_label: String,
    /// Job names.
    pub jobs: Jobs,
    /// Push mode: data older than this many seconds is stale.
    pub stale_after_seconds: u64,
    /// Grafana dashboard schemaVersion.
    pub schema_version: u32,
    /// Add the Mermaid path diagram panel (needs the jdbranham-diagram-panel plugin).
    pub mermaid: bool,
    /// Pin the datasource variable's default to this datasource uid.
    pub datasource_uid: Option<String>,
    /// Window of the rate-based checks (errors, ping quality, loss), a Prometheus
    /// duration; at least four SNMP scrape intervals.
    pub check_window: String,
    /// Scrape interval of the host exporters (node, arp, ping): the `interval` of host
    /// panels, so `$__rate_interval` spans several samples.
    pub host_interval: String,
    /// Scrape interval of the SNMP job: the `interval` of switch panels.
    pub snmp_interval: String,
    /// The runbook (one section per check); alerts link `<runbook_url>#<check>`.
    pub runbook_url: String,
    /// Grafana's base URL; alerts link `<grafana_url>/d/<dashboard uid>`.
    pub grafana_url: String,
}

/// Where the runbook lives by default: docs/runbook.md of the repository.
pub fn default_runbook_url() -> String {
    let repo = env!("CARGO_PKG_REPOSITORY").trim_end_matches('/');
    if repo.is_empty() {
        return "docs/runbook.md".into();
    }
    format!("{repo}/blob/main/docs/runbook.md")
}

impl Default for Options {
    fn default() -> Self {
        Options {
            mode: Mode::Scrape,
            instance_label: "instance".into(),
            jobs: Jobs {
                node: "node".into(),
                arp: "arp".into(),
                ping: "ping".into(),
                snmp: "snmp".into(),
            },
            stale_after_seconds: 120,
            schema_version: 41,
            mermaid: false,
            datasource_uid: None,
            check_window: "5m".into(),
            host_interval: "30s".into(),
            snmp_interval: "60s".into(),
            runbook_url: default_runbook_url(),
            grafana_url: "http://localhost:3000".into(),
        }
    }
}

impl Options {
    /// Defaults for push mode: `rtmon_*` push jobs.
    pub fn push() -> Options {
        Options {
            mode: Mode::Push,
            jobs: Jobs {
                node: "rtmon_node".into(),
                arp: "rtmon_arp".into(),
                ping: "rtmon_ping".into(),
                snmp: "rtmon_snmp".into(),
            },
            ..Options::default()
        }
    }
}
