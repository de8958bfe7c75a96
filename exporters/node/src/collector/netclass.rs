//! `netclass`: interface properties from `/sys/class/net/<iface>/` —
//! `node_network_up`, `node_network_info`, `node_network_mtu_bytes`,
//! `node_network_speed_bytes`, `node_network_carrier`, … as node_exporter names them.

use std::path::Path;

use rtmon::expo::{MetricSet, MetricType};

use super::{dir_names, read_attr, read_int, CollectResult};
use crate::config::Config;

/// Numeric attributes: (file, metric suffix, is counter, multiplier kind).
const NUMERIC: [(&str, &str, bool); 15] = [
    ("addr_assign_type", "address_assign_type", false),
    ("carrier", "carrier", false),
    ("carrier_changes", "carrier_changes_total", true),
    ("carrier_up_count", "carrier_up_changes_total", true),
    ("carrier_down_count", "carrier_down_changes_total", true),
    ("dev_id", "device_id", false),
    ("dormant", "dormant", false),
    ("flags", "flags", false),
    ("ifindex", "iface_id", false),
    ("iflink", "iface_link", false),
    ("link_mode", "iface_link_mode", false),
    ("mtu", "mtu_bytes", false),
    ("name_assign_type", "name_assign_type", false),
    ("netdev_group", "net_dev_group", false),
    ("type", "protocol_type", false),
];

/// Parses a sysfs integer attribute (decimal, or hex with `0x` as `flags`/`dev_id`).
pub fn parse_int(s: &str) -> Option<i64> {
    let s = s.trim();
    match s.strip_prefix("0x") {
        Some(h) => i64::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

fn int_attr(dir: &Path, file: &str) -> Option<i64> {
    parse_int(&read_attr(&dir.join(file))?)
}

/// Reads one interface directory into `out`.
pub fn record_iface(cfg: &Config, dir: &Path, name: &str, out: &mut MetricSet) {
    let labels = [("device", name)];
    let operstate = read_attr(&dir.join("operstate")).unwrap_or_default();
    let address = read_attr(&dir.join("address")).unwrap_or_default();
    let broadcast = read_attr(&dir.join("broadcast")).unwrap_or_default();
    let duplex = read_attr(&dir.join("duplex")).unwrap_or_default();
    let ifalias = read_attr(&dir.join("ifalias")).unwrap_or_default();
    out.gauge(
        "node_network_up",
        "Value is 1 if operstate is 'up', 0 otherwise.",
        &labels,
        u64::from(operstate == "up"),
    );
    out.gauge(
        "node_network_info",
        "Non-numeric data from /sys/class/net/<iface>, value is always 1.",
        &[
            ("address", &address),
            ("broadcast", &broadcast),
            ("device", name),
            ("duplex", &duplex),
            ("ifalias", &ifalias),
            ("operstate", &operstate),
        ],
        1u64,
    );
    let mut metric = String::with_capacity(48);
    let mut help = String::with_capacity(64);
    for (file, suffix, counter) in NUMERIC {
        let Some(v) = int_attr(dir, file) else {
            continue;
        };
        metric.clear();
        metric.push_str("node_network_");
        metric.push_str(suffix);
        help.clear();
        help.push_str("Network device property: ");
        help.push_str(suffix);
        let kind = if counter {
            MetricType::Counter
        } else {
            MetricType::Gauge
        };
        out.family(&metric, &help, kind).add(&labels, v);
    }
    if let Some(speed) = read_int(&dir.join("speed")) {
        if !(cfg.netclass_ignore_invalid_speed && speed < 0) {
            out.gauge(
                "node_network_speed_bytes",
                "Network device property: speed_bytes",
                &labels,
                speed.saturating_mul(125_000),
            );
        }
    }
    if let Some(q) = int_attr(dir, "tx_queue_len") {
        out.gauge(
            "node_network_transmit_queue_length",
            "Network device property: transmit_queue_length",
            &labels,
            q,
        );
    }
}

/// Walks `/sys/class/net`.
pub fn collect(cfg: &Config, out: &mut MetricSet) -> CollectResult {
    let net = cfg.paths.sys("class/net");
    for name in dir_names(&net)? {
        if cfg.netclass_ignored.is_match(&name) {
            continue;
        }
        let dir = net.join(&name);
        if !dir.is_dir() {
            continue; // e.g. bonding_masters
        }
        record_iface(cfg, &dir, &name, out);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn ints_parse_hex_and_decimal() {
        assert_eq!(super::parse_int("0x1003\n"), Some(4099));
        assert_eq!(super::parse_int("1500"), Some(1500));
        assert_eq!(super::parse_int("-1"), Some(-1));
        assert_eq!(super::parse_int("up"), None);
    }
}
