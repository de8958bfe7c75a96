//! rtmon-script-exporter: runs configured scripts and exposes their Prometheus-format
//! output on `/probe?script=NAME`, with script_exporter's `script_success`,
//! `script_duration_seconds` and `script_exit_code`.
//!
//! - [`config`]: the YAML config (a superset of ricoberger/script_exporter's);
//! - [`runner`]: one process run — no shell, own process group, bounded output, deadline;
//! - [`probe`]: request validation against the per-script allow-list, deadline,
//!   concurrency limits, cache, whole-document output validation, `/discovery`.
#![warn(missing_docs)]

pub mod config;
pub mod probe;
pub mod runner;
