//! rtmon SNMP exporter: snmp_exporter's `/snmp?target&module&auth` URL shape and
//! `if_mib` names, with a per-target lookup cache, multi-column GETBULK walks, the
//! scrape deadline honoured, and the rtmon failure convention (`snmp_up 0` + error
//! counters instead of HTTP 500).
//!
//! - [`config`]: `auths:` + `modules:` (secrets from env/files, never printed);
//! - [`client`]: the SNMP client behind our [`client::SnmpClient`] trait (async-snmp);
//! - [`walk`]: walks/GETs with retries, back-off, deadline and statistics;
//! - [`ifmib`], [`fdb`], [`qbridge`], [`lldp`]: the built-in modules (pure: walked columns in, samples out);
//! - [`iftype`]: the IANAifType-MIB names for `ifType_info`;
//! - [`engine`]: per-target state, concurrency limits, the `/snmp` and `/lookup` handlers.
#![warn(missing_docs)]

pub mod client;
pub mod config;
pub mod engine;
pub mod fdb;
pub mod ifmib;
pub mod iftype;
pub mod lldp;
pub mod qbridge;
pub mod walk;
