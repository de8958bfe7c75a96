//! `netclass`: interface properties from `/sys/class/net/<iface>/` —
//! `node_network_up`, `node_network_info`, `node_network_mtu_bytes`,
//! `node_network_speed_bytes`, `node_network_carrier`, … as node_exporter names them
//! (`node_network_info` with 1.12's `adminstate` label, from the `IFF_UP` flag).
//! Attributes that cannot be read (many answer EINVAL while the link is down) are
//! skipped, as node_exporter does.

use rtmon::expo::{MetricSet, MetricType};

use super::{dir_names, CollectResult, Dir};
use crate::config::Config;

/// Numeric attributes: (file, metric, help, is counter).
const NUMERIC: [(&str, &str, &str, bool); 15] = [
    (
        "addr_assign_type",
        "node_network_address_assign_type",
        "Network device property: address_assign_type",
        false,
    ),
    (
        "carrier",
        "node_network_carrier",
        "Network device property: carrier",
        false,
    ),
    (
        "carrier_changes",
        "node_network_carrier_changes_total",
        "Network device property: carrier_changes_total",
        true,
    ),
    (
        "carrier_up_count",
        "node_network_carrier_up_changes_total",
        "Network device property: carrier_up_changes_total",
        true,
    ),
    (
        "carrier_down_count",
        "node_network_carrier_down_changes_total",
        "Network device property: carrier_down_changes_total",
        true,
    ),
    (
        "dev_id",
        "node_network_device_id",
        "Network device property: device_id",
        false,
    ),
    (
        "dormant",
        "node_network_dormant",
        "Network device property: dormant",
        false,
    ),
    (
        "flags",
        "node_network_flags",
        "Network device property: flags",
        false,
    ),
    (
        "ifindex",
        "node_network_iface_id",
        "Network device property: iface_id",
        false,
    ),
    (
        "iflink",
        "node_network_iface_link",
        "Network device property: iface_link",
        false,
    ),
    (
        "link_mode",
        "node_network_iface_link_mode",
        "Network device property: iface_link_mode",
        false,
    ),
    (
        "mtu",
        "node_network_mtu_bytes",
        "Network device property: mtu_bytes",
        false,
    ),
    (
        "name_assign_type",
        "node_network_name_assign_type",
        "Network device property: name_assign_type",
        false,
    ),
    (
        "netdev_group",
        "node_network_net_dev_group",
        "Network device property: net_dev_group",
        false,
    ),
    (
        "type",
        "node_network_protocol_type",
        "Network device property: protocol_type",
        false,
    ),
];
/// Reads one interface directory into `out`.
pub fn record_iface(cfg: &Config, dir: &Dir, name: &str, out: &mut MetricSet) {
    let labels = [("device", name)];
    let mut buf = [[0u8; 512]; 5];
    let [b0, b1, b2, b3, b4] = &mut buf;
    let operstate = dir.read_attr("operstate", b0).unwrap_or_default();
    let address = dir.read_attr("address", b1).unwrap_or_default();
    let broadcast = dir.read_attr("broadcast", b2).unwrap_or_default();
    let duplex = dir.read_attr("duplex", b3).unwrap_or_default();
    let ifalias = dir.read_attr("ifalias", b4).unwrap_or_default();
    out.gauge(
        "node_network_up",
        "Value is 1 if operstate is 'up', 0 otherwise.",
        &labels,
        u64::from(operstate == "up"),
    );
    // As node_exporter 1.12: the administrative state is the IFF_UP bit of `flags`.
    let flags = dir.read_int("flags");
    let adminstate = match flags {
        Some(f) if f & i64::from(libc::IFF_UP) != 0 => "up",
        _ => "down",
    };
    out.gauge(
        "node_network_info",
        "Non-numeric data from /sys/class/net/<iface>, value is always 1.",
        &[
            ("address", address),
            ("adminstate", adminstate),
            ("broadcast", broadcast),
            ("device", name),
            ("duplex", duplex),
            ("ifalias", ifalias),
            ("operstate", operstate),
        ],
        1u64,
    );
    for (file, metric, help, counter) in NUMERIC {
        // `flags` was read above for adminstate.
        let v = if file == "flags" {
            flags
        } else {
            dir.read_int(file)
        };
        let Some(v) = v else {
            continue;
        };
        let kind = if counter {
            MetricType::Counter
        } else {
            MetricType::Gauge
        };
        out.family(metric, help, kind).add(&labels, v);
    }
    if let Some(speed) = dir.read_int("speed") {
        if !(cfg.netclass_ignore_invalid_speed && speed < 0) {
            out.gauge(
                "node_network_speed_bytes",
                "Network device property: speed_bytes",
                &labels,
                speed.saturating_mul(125_000),
            );
        }
    }
    if let Some(q) = dir.read_int("tx_queue_len") {
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
        // Not a directory (e.g. bonding_masters): skipped.
        let Ok(dir) = Dir::open(&net.join(&name)) else {
            continue;
        };
        record_iface(cfg, &dir, &name, out);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_parse_hex_decimal_and_skip_unreadable() {
        let d = tempfile::tempdir().expect("tempdir");
        std::fs::write(d.path().join("flags"), "0x1003\n").expect("write");
        std::fs::write(d.path().join("mtu"), "1500\n").expect("write");
        std::fs::write(d.path().join("speed"), "-1\n").expect("write");
        std::fs::write(d.path().join("operstate"), "up\n").expect("write");
        std::fs::write(d.path().join("carrier"), "up\n").expect("write");
        let dir = Dir::open(d.path()).expect("open");
        assert_eq!(dir.read_int("flags"), Some(4099));
        assert_eq!(dir.read_int("mtu"), Some(1500));
        assert_eq!(dir.read_int("speed"), Some(-1));
        assert_eq!(dir.read_int("carrier"), None);
        assert_eq!(dir.read_int("missing"), None);
        let mut m = MetricSet::new();
        let cfg = Config::with_paths(Default::default());
        record_iface(&cfg, &dir, "eth9", &mut m);
        let t = rtmon::expo::encode_text(&m);
        assert!(t.contains("node_network_up{device=\"eth9\"} 1\n"), "{t}");
        assert!(t.contains("node_network_speed_bytes{device=\"eth9\"} -125000\n"));
        assert!(!t.contains("node_network_carrier{"));
        assert!(
            t.contains("adminstate=\"up\""),
            "flags 0x1003 has IFF_UP: {t}"
        );
        std::fs::write(d.path().join("flags"), "0x1002\n").expect("write");
        let mut m = MetricSet::new();
        record_iface(&cfg, &dir, "eth9", &mut m);
        let t = rtmon::expo::encode_text(&m);
        assert!(t.contains("adminstate=\"down\""), "{t}");
    }
}
