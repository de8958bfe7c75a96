//! rtmon shared library: everything the rtmon exporters and the dashboard generator
//! have in common.
//!
//! - [`expo`]: the sample model and the text 0.0.4 / OpenMetrics encoders (+ parser);
//! - [`app`]: what an exporter hands to the runtime ([`app::Source`], routes, reload);
//! - [`http`]: the HTTP server (`/metrics`, health, landing page, TLS + basic auth);
//! - [`push`]: the Pushgateway client and push loop;
//! - [`config`]: YAML loading with file:line:column errors and "did you mean";
//! - [`flow`]: the flow config model (format: config_flow/README.md);
//! - [`cli`], [`log`]: flag and logging conventions;
//! - [`duration`]: the bounded duration parser of every flag and config field.
#![warn(missing_docs)]

pub mod app;
pub mod cli;
pub mod config;
pub mod duration;
pub mod expo;
pub mod flow;
pub mod http;
pub mod log;
pub mod push;

/// Version of rtmon (all binaries share it).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
