//! `diskstats`: `/proc/diskstats` as `node_disk_*{device}` plus `node_disk_info` (udev).

use rtmon::expo::{MetricSet, MetricType};

use super::{parse_error, read_required, CollectResult};
use crate::config::Config;

/// One line of `/proc/diskstats`.
#[derive(Clone, Debug, PartialEq)]
pub struct Disk {
    /// Major number.
    pub major: String,
    /// Minor number.
    pub minor: String,
    /// Device name.
    pub name: String,
    /// The counters after the name (11 to 17 of them, 0-filled).
    pub stats: [u64; 17],
    /// How many counters the kernel gave.
    pub n: usize,
}

/// Parses `/proc/diskstats`.
pub fn parse(text: &str) -> Result<Vec<Disk>, (usize, String)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let mut it = line.split_ascii_whitespace();
        let (Some(major), Some(minor), Some(name)) = (it.next(), it.next(), it.next()) else {
            if line.trim().is_empty() {
                continue;
            }
            return Err((i + 1, "fewer than 3 fields".into()));
        };
        let mut d = Disk {
            major: major.to_string(),
            minor: minor.to_string(),
            name: name.to_string(),
            stats: [0; 17],
            n: 0,
        };
        for (slot, f) in d.stats.iter_mut().zip(it) {
            *slot = f
                .parse()
                .map_err(|_| (i + 1, format!("{name}: invalid counter {f:?}")))?;
            d.n += 1;
        }
        if d.n < 11 {
            return Err((
                i + 1,
                format!("{name}: expected at least 11 counters, got {}", d.n),
            ));
        }
        out.push(d);
    }
    Ok(out)
}

/// (field index, name, help, scale, counter).
const FIELDS: [(usize, &str, &str, f64, bool); 17] = [
    (
        0,
        "node_disk_reads_completed_total",
        "The total number of reads completed successfully.",
        1.0,
        true,
    ),
    (
        1,
        "node_disk_reads_merged_total",
        "The total number of reads merged.",
        1.0,
        true,
    ),
    (
        2,
        "node_disk_read_bytes_total",
        "The total number of bytes read successfully.",
        512.0,
        true,
    ),
    (
        3,
        "node_disk_read_time_seconds_total",
        "The total number of seconds spent by all reads.",
        0.001,
        true,
    ),
    (
        4,
        "node_disk_writes_completed_total",
        "The total number of writes completed successfully.",
        1.0,
        true,
    ),
    (
        5,
        "node_disk_writes_merged_total",
        "The number of writes merged.",
        1.0,
        true,
    ),
    (
        6,
        "node_disk_written_bytes_total",
        "The total number of bytes written successfully.",
        512.0,
        true,
    ),
    (
        7,
        "node_disk_write_time_seconds_total",
        "This is the total number of seconds spent by all writes.",
        0.001,
        true,
    ),
    (
        8,
        "node_disk_io_now",
        "The number of I/Os currently in progress.",
        1.0,
        false,
    ),
    (
        9,
        "node_disk_io_time_seconds_total",
        "Total seconds spent doing I/Os.",
        0.001,
        true,
    ),
    (
        10,
        "node_disk_io_time_weighted_seconds_total",
        "The weighted # of seconds spent doing I/Os.",
        0.001,
        true,
    ),
    (
        11,
        "node_disk_discards_completed_total",
        "The total number of discards completed successfully.",
        1.0,
        true,
    ),
    (
        12,
        "node_disk_discards_merged_total",
        "The total number of discards merged.",
        1.0,
        true,
    ),
    (
        13,
        "node_disk_discarded_sectors_total",
        "The total number of sectors discarded successfully.",
        1.0,
        true,
    ),
    (
        14,
        "node_disk_discard_time_seconds_total",
        "This is the total number of seconds spent by all discards.",
        0.001,
        true,
    ),
    (
        15,
        "node_disk_flush_requests_total",
        "The total number of flush requests completed successfully",
        1.0,
        true,
    ),
    (
        16,
        "node_disk_flush_requests_time_seconds_total",
        "This is the total number of seconds spent by all flush requests.",
        0.001,
        true,
    ),
];

/// udev properties used by `node_disk_info`: ID_PATH, ID_WWN, ID_MODEL, ID_SERIAL_SHORT,
/// ID_REVISION, from `E:KEY=VALUE` lines.
pub fn parse_udev(text: &str) -> [String; 5] {
    let mut v: [String; 5] = Default::default();
    for line in text.lines() {
        let Some(kv) = line.strip_prefix("E:") else {
            continue;
        };
        let Some((k, val)) = kv.split_once('=') else {
            continue;
        };
        let idx = match k {
            "ID_PATH" => 0,
            "ID_WWN" => 1,
            "ID_MODEL" => 2,
            "ID_SERIAL_SHORT" => 3,
            "ID_REVISION" => 4,
            _ => continue,
        };
        v[idx] = val.to_string();
    }
    v
}

/// Reads `/proc/diskstats` and the udev database.
pub fn collect(cfg: &Config, out: &mut MetricSet) -> CollectResult {
    let path = cfg.paths.proc("diskstats");
    let text = read_required(&path)?;
    let disks = parse(&text).map_err(|(l, m)| parse_error(&path, l, m))?;
    let mut udev_file = String::with_capacity(16);
    for d in disks
        .iter()
        .filter(|d| !cfg.diskstats_devices.ignored(&d.name))
    {
        let labels = [("device", d.name.as_str())];
        udev_file.clear();
        udev_file.push('b');
        udev_file.push_str(&d.major);
        udev_file.push(':');
        udev_file.push_str(&d.minor);
        let udev = std::fs::read_to_string(cfg.paths.udev_data.join(&udev_file))
            .map(|t| parse_udev(&t))
            .unwrap_or_default();
        out.gauge(
            "node_disk_info",
            "Info of /sys/block/<block_device>.",
            &[
                ("device", &d.name),
                ("major", &d.major),
                ("minor", &d.minor),
                ("model", &udev[2]),
                ("path", &udev[0]),
                ("revision", &udev[4]),
                ("serial", &udev[3]),
                ("wwn", &udev[1]),
            ],
            1u64,
        );
        for (idx, name, help, scale, counter) in FIELDS {
            if idx >= d.n {
                continue;
            }
            let kind = if counter {
                MetricType::Counter
            } else {
                MetricType::Gauge
            };
            let f = out.family(name, help, kind);
            if scale == 1.0 {
                f.add(&labels, d.stats[idx]);
            } else {
                f.add(&labels, d.stats[idx] as f64 * scale);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_lines_with_and_without_discards() {
        let t = " 254 0 vda 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n 8 0 sda 1 2 3 4 5 6 7 8 9 10 11\n";
        let d = super::parse(t).expect("parse");
        assert_eq!(d[0].n, 17);
        assert_eq!(d[0].stats[16], 17);
        assert_eq!(d[1].n, 11);
        assert!(super::parse("8 0 sda 1 2\n").is_err());
    }

    #[test]
    fn udev_properties() {
        let u = super::parse_udev("S:disk/by-id/x\nE:ID_MODEL=QEMU_HARDDISK\nE:ID_SERIAL_SHORT=QM1\nE:ID_PATH=pci-0000:00:05.0\n");
        assert_eq!(u[2], "QEMU_HARDDISK");
        assert_eq!(u[3], "QM1");
        assert_eq!(u[0], "pci-0000:00:05.0");
        assert_eq!(u[1], "");
    }
}
