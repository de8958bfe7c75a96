//! Flow config model (design.md §4).
//! OWNER: the config work item, which implements loading and validation. The public
//! types and accessors below are the contract other crates code against: fields may be
//! added, none renamed or removed.
//!
//! ```yaml
//! flow: dtn-a-dtn-b-1000          # unique id: label value, dashboard uid, rule group
//! title: DTN A ↔ DTN B, VLAN 1000
//! path:
//!   - host: dtn-a
//!     instance: 198.51.100.16
//!     interface: ens2f0np0.1000
//!     ip: 10.10.100.1
//!     vlan: 1000
//!   - switch: sw-a
//!     target: 172.16.1.1
//!     auth: site_v2
//!     in:  {port: "hundredGigE 1/27", vlan: 1000}
//!     out: {port: "hundredGigE 1/31", vlan: 1000}
//!   - host: dtn-b
//!     instance: 198.51.100.15
//!     interface: ens2f0.1000
//!     ip: 10.10.100.2
//!     vlan: 1000
//! ```

use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// One end-to-end flow: an ordered path of hosts and switches.
#[derive(Clone, Debug, PartialEq)]
pub struct Flow {
    /// Unique id (`flow` label value, dashboard uid seed, rule group name).
    pub id: String,
    /// Human title.
    pub title: String,
    /// Ordered hops, first and last are hosts.
    pub path: Vec<Hop>,
    /// File this flow was read from.
    pub file: PathBuf,
}

/// A hop of a flow's path.
#[derive(Clone, Debug, PartialEq)]
pub enum Hop {
    /// An end host (runs node/arp/ping exporters).
    Host(HostHop),
    /// A switch polled over SNMP.
    Switch(SwitchHop),
}

/// An end host.
#[derive(Clone, Debug, PartialEq)]
pub struct HostHop {
    /// Host name (`host:` key).
    pub name: String,
    /// How Prometheus / the Pushgateway knows this host (`instance` label); defaults
    /// to `name`.
    pub instance: String,
    /// Data-plane interface (node_exporter `device`).
    pub interface: String,
    /// Data-plane IP address of the interface.
    pub ip: Option<IpAddr>,
    /// VLAN id of the data-plane interface.
    pub vlan: Option<u16>,
    /// MAC of the data-plane interface, if known (for the switch FDB check).
    pub mac: Option<String>,
}

/// A switch hop.
#[derive(Clone, Debug, PartialEq)]
pub struct SwitchHop {
    /// Switch name (`switch:` key).
    pub name: String,
    /// SNMP agent address, `host[:port]`.
    pub target: String,
    /// Name of an auth in the SNMP exporter's config (the secret lives there).
    pub auth: Option<String>,
    /// SNMP exporter modules to use (default `if_mib`).
    pub modules: Vec<String>,
    /// Port where the flow enters the switch.
    pub in_port: Port,
    /// Port where the flow leaves the switch.
    pub out_port: Port,
}

/// A switch port, named by ifName.
#[derive(Clone, Debug, PartialEq)]
pub struct Port {
    /// ifName, e.g. `hundredGigE 1/27`.
    pub port: String,
    /// VLAN id on that port.
    pub vlan: Option<u16>,
}

impl Flow {
    /// The host hops in path order.
    pub fn hosts(&self) -> impl Iterator<Item = &HostHop> {
        self.path.iter().filter_map(|h| match h {
            Hop::Host(h) => Some(h),
            Hop::Switch(_) => None,
        })
    }

    /// The switch hops in path order.
    pub fn switches(&self) -> impl Iterator<Item = &SwitchHop> {
        self.path.iter().filter_map(|h| match h {
            Hop::Switch(s) => Some(s),
            Hop::Host(_) => None,
        })
    }

    /// The host hop called `name`.
    pub fn host(&self, name: &str) -> Option<&HostHop> {
        self.hosts().find(|h| h.name == name)
    }

    /// The other hosts of the flow (the peers `name` should reach).
    pub fn peers_of<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a HostHop> + 'a {
        self.hosts().filter(move |h| h.name != name)
    }
}

/// Loads every flow in a file (a single flow document, or `flows: [...]`).
/// Errors name file:line:column. Placeholder until the config work lands.
pub fn load_file(path: &Path) -> Result<Vec<Flow>, crate::config::ConfigError> {
    Err(crate::config::ConfigError::new(
        path,
        None,
        "flow loading is not built yet",
    ))
}
