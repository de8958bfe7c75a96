//! The Grafana outputs: built from the engine's checks and records, never the reverse.
//!
//! - [`dashboard`] (one function per section) + [`panels`] + [`layout`] + [`jv`]: the
//!   flow dashboard;
//! - [`fleet`]: the fleet overview (reads only the engine's records);
//! - [`provision`]: provisioning files and ConfigMaps; [`upload`]: the HTTP API;
//! - [`check`]: every panel query against Prometheus; [`preview`]: an HTML preview.

pub mod check;
pub mod dashboard;
pub mod fleet;
pub mod jv;
pub mod layout;
pub mod panels;
pub mod preview;
pub mod provision;
pub mod upload;
