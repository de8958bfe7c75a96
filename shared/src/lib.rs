//! rtmon shared library: everything the rtmon exporters and the dashboard generator
//! have in common. Layered from the bottom up; a module uses only those above it in
//! this list (checked by `tests/layering.rs`; ARCHITECTURE.md, "shared/"):
//!
//! - [`duration`]: the bounded duration parser of every flag and config field;
//! - [`expo`]: the sample model and the text 0.0.4 / OpenMetrics encoders (+ parser);
//! - [`cli`], [`log`]: flag and logging conventions;
//! - [`config`], [`flow`]: the inputs — YAML loading with file:line:column errors and
//!   "did you mean", secrets; the flow config model (format: config_flow/README.md);
//! - [`source`]: what is collected ([`source::Source`], [`source::Scrape`]), called by
//!   both of the next two;
//! - [`http`]: serves requests to a [`http::Service`] (`/metrics`, routes, health,
//!   landing page, TLS + basic auth) — knows nothing of push;
//! - [`push`]: sends snapshots to a Pushgateway (client and loop) — knows nothing of HTTP;
//! - [`app`]: the runtime on top — what an exporter hands over ([`app::Exporter`]),
//!   listeners and push loop started together, signals, reload and shutdown.
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
pub mod source;

/// Version of rtmon (all binaries share it).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The git revision the binaries were built from (`shared/build.rs`): a commit hash,
/// `-dirty` when a release was built from a modified tree, or `unknown`.
pub const REVISION: &str = env!("RTMON_GIT_REVISION");

/// What `--version` prints after the binary's name: `0.1.0 (revision 1a2b…)`.
pub const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (revision ",
    env!("RTMON_GIT_REVISION"),
    ")"
);
