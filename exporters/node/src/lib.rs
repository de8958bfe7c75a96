//! rtmon node exporter: host metrics with exactly node_exporter's metric names, label
//! names and label values, for the collectors it implements.
//!
//! - [`config`]: paths (`--path.procfs` …), per-collector filters, the enabled set;
//! - [`collector`]: one module per collector, each a pure parser plus a thin reader;
//! - [`source`]: runs the collectors of one scrape and adds the
//!   `node_scrape_collector_*` self-metrics.
#![warn(missing_docs)]

pub mod collector;
pub mod config;
pub mod source;
