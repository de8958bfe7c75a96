//! `netdev`: per-interface counters from `/proc/net/dev` (plus `rx_nohandler` from
//! sysfs), named `node_network_{receive,transmit}_<stat>_total{device}`.

use rtmon::expo::{MetricSet, MetricType};

use super::{parse_error, read_required, CollectResult};
use crate::config::Config;

/// Receive columns of `/proc/net/dev`, in file order.
pub const RX: [&str; 8] = [
    "bytes",
    "packets",
    "errs",
    "drop",
    "fifo",
    "frame",
    "compressed",
    "multicast",
];
/// Transmit columns of `/proc/net/dev`, in file order.
pub const TX: [&str; 8] = [
    "bytes",
    "packets",
    "errs",
    "drop",
    "fifo",
    "colls",
    "carrier",
    "compressed",
];

/// One interface's counters.
#[derive(Clone, Debug, PartialEq)]
pub struct Dev {
    /// Interface name.
    pub name: String,
    /// Receive then transmit counters, in [`RX`] / [`TX`] order.
    pub stats: [u64; 16],
}

/// Parses `/proc/net/dev`.
pub fn parse(text: &str) -> Result<Vec<Dev>, (usize, String)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().skip(2) {
        let Some((name, rest)) = line.split_once(':') else {
            return Err((i + 1, "missing ':' after the interface name".into()));
        };
        let mut d = Dev {
            name: name.trim().to_string(),
            stats: [0; 16],
        };
        let mut n = 0;
        for (slot, f) in d.stats.iter_mut().zip(rest.split_ascii_whitespace()) {
            *slot = f
                .parse()
                .map_err(|_| (i + 1, format!("{}: invalid counter {f:?}", d.name)))?;
            n += 1;
        }
        if n != 16 {
            return Err((i + 1, format!("{}: expected 16 counters, got {n}", d.name)));
        }
        out.push(d);
    }
    Ok(out)
}

const NAMES: [&str; 17] = [
    "node_network_receive_bytes_total",
    "node_network_receive_packets_total",
    "node_network_receive_errs_total",
    "node_network_receive_drop_total",
    "node_network_receive_fifo_total",
    "node_network_receive_frame_total",
    "node_network_receive_compressed_total",
    "node_network_receive_multicast_total",
    "node_network_transmit_bytes_total",
    "node_network_transmit_packets_total",
    "node_network_transmit_errs_total",
    "node_network_transmit_drop_total",
    "node_network_transmit_fifo_total",
    "node_network_transmit_colls_total",
    "node_network_transmit_carrier_total",
    "node_network_transmit_compressed_total",
    "node_network_receive_nohandler_total",
];
const HELPS: [&str; 17] = [
    "Network device statistic receive_bytes.",
    "Network device statistic receive_packets.",
    "Network device statistic receive_errs.",
    "Network device statistic receive_drop.",
    "Network device statistic receive_fifo.",
    "Network device statistic receive_frame.",
    "Network device statistic receive_compressed.",
    "Network device statistic receive_multicast.",
    "Network device statistic transmit_bytes.",
    "Network device statistic transmit_packets.",
    "Network device statistic transmit_errs.",
    "Network device statistic transmit_drop.",
    "Network device statistic transmit_fifo.",
    "Network device statistic transmit_colls.",
    "Network device statistic transmit_carrier.",
    "Network device statistic transmit_compressed.",
    "Network device statistic receive_nohandler.",
];

/// Reads `/proc/net/dev` and `/sys/class/net/<dev>/statistics/rx_nohandler`.
pub fn collect(cfg: &Config, out: &mut MetricSet) -> CollectResult {
    let path = cfg.paths.proc("net/dev");
    let text = read_required(&path)?;
    let devs = parse(&text).map_err(|(l, m)| parse_error(&path, l, m))?;
    let net = cfg.paths.sys("class/net");
    for d in devs.iter().filter(|d| !cfg.netdev_devices.ignored(&d.name)) {
        let labels = [("device", d.name.as_str())];
        for (k, v) in d.stats.iter().enumerate() {
            out.family(NAMES[k], HELPS[k], MetricType::Counter)
                .add(&labels, *v);
        }
        let nohandler =
            super::read_int(&net.join(&d.name).join("statistics/rx_nohandler")).unwrap_or(0);
        out.family(NAMES[16], HELPS[16], MetricType::Counter)
            .add(&labels, nohandler.max(0) as u64);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_proc_net_dev() {
        let t = "Inter-|   Receive |  Transmit\n face |bytes packets|bytes\n    lo: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n  eth0:100 0 0 0 0 0 0 0 200 0 0 0 0 0 0 0\n";
        let d = super::parse(t).expect("parse");
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].name, "lo");
        assert_eq!(d[0].stats[15], 16);
        assert_eq!(d[1].name, "eth0");
        assert_eq!(d[1].stats[0], 100);
        assert_eq!(d[1].stats[8], 200);
        let e = super::parse("a\nb\neth0: 1 2\n").expect_err("short");
        assert_eq!(e.0, 3);
    }
}
