//! rtmon ARP / IPv6 neighbour exporter.
//!
//! - [`model`]: entries, NUD states, MAC formatting (pure);
//! - [`engine`]: the diff engine and change classification (pure);
//! - [`filter`]: device regex and address CIDR filters (pure);
//! - [`lldp`]: LLDPDU parser and LLDP neighbour table (pure);
//! - [`lldp_socket`]: the AF_PACKET LLDP listener and its metrics (I/O edge);
//! - [`procarp`]: `/proc/net/arp` parser (pure);
//! - [`statefile`]: JSON state file, atomic writes;
//! - [`netlink`]: rtnetlink dump + events (I/O edge);
//! - [`monitor`]: the shared state and its metrics;
//! - [`tasks`]: background reader and saver.
#![warn(missing_docs)]

pub mod engine;
pub mod filter;
pub mod lldp;
pub mod lldp_socket;
pub mod model;
pub mod monitor;
pub mod netlink;
pub mod procarp;
pub mod statefile;
pub mod tasks;
