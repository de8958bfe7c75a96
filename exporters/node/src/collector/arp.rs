//! `arp`: `node_arp_entries{device}` from `/proc/net/arp`.

use rtmon::expo::MetricSet;

use super::{read_required, CollectResult};
use crate::config::Config;

/// Counts entries per device (last column), in first-seen order.
pub fn parse(text: &str) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = Vec::new();
    for line in text.lines().skip(1) {
        let Some(dev) = line.split_ascii_whitespace().nth(5) else {
            continue;
        };
        match out.iter_mut().find(|(d, _)| d == dev) {
            Some((_, n)) => *n += 1,
            None => out.push((dev.to_string(), 1)),
        }
    }
    out
}

/// Reads `/proc/net/arp`.
pub fn collect(cfg: &Config, out: &mut MetricSet) -> CollectResult {
    let text = read_required(&cfg.paths.proc("net/arp"))?;
    for (dev, n) in parse(&text) {
        if cfg.arp_devices.ignored(&dev) {
            continue;
        }
        out.gauge(
            "node_arp_entries",
            "ARP entries by device",
            &[("device", &dev)],
            n,
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_per_device() {
        let t = "IP address       HW type     Flags       HW address            Mask     Device\n\
10.0.0.1 0x1 0x2 aa:bb:cc:dd:ee:ff * eth0\n10.0.0.2 0x1 0x2 aa:bb:cc:dd:ee:00 * eth0\n10.1.0.1 0x1 0x2 aa:bb:cc:dd:ee:01 * eth1\n";
        assert_eq!(
            super::parse(t),
            vec![("eth0".into(), 2), ("eth1".into(), 1)]
        );
    }
}
