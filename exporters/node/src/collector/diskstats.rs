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

/// The udev properties node_exporter reads, in [`Udev`] slot order.
pub const UDEV_KEYS: [&str; 20] = [
    "ID_PATH",
    "ID_WWN",
    "ID_MODEL",
    "ID_SERIAL_SHORT",
    "ID_REVISION",
    "ID_SERIAL",
    "SCSI_IDENT_SERIAL",
    "ID_ATA",
    "ID_ATA_ROTATION_RATE_RPM",
    "ID_ATA_WRITE_CACHE",
    "ID_ATA_WRITE_CACHE_ENABLED",
    "ID_FS_TYPE",
    "ID_FS_USAGE",
    "ID_FS_UUID",
    "ID_FS_VERSION",
    "DM_NAME",
    "DM_UUID",
    "DM_VG_NAME",
    "DM_LV_NAME",
    "DM_LV_LAYER",
];

/// A device's udev properties (`E:KEY=VALUE` lines of `<udev data>/b<major>:<minor>`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Udev {
    vals: [Option<String>; 20],
}

impl Udev {
    /// A property's value, `""` when absent.
    pub fn get(&self, key: &str) -> &str {
        self.find(key).unwrap_or("")
    }
    /// A property's value, `None` when absent.
    pub fn find(&self, key: &str) -> Option<&str> {
        let i = UDEV_KEYS.iter().position(|k| *k == key)?;
        self.vals[i].as_deref()
    }
    /// The drive's serial as node_exporter chooses it: `SCSI_IDENT_SERIAL` (printed on
    /// the label), else `ID_SERIAL_SHORT`, else `ID_SERIAL` (MMC, virtio).
    pub fn serial(&self) -> &str {
        ["SCSI_IDENT_SERIAL", "ID_SERIAL_SHORT", "ID_SERIAL"]
            .iter()
            .map(|k| self.get(k))
            .find(|v| !v.is_empty())
            .unwrap_or("")
    }
}

/// Parses a udev database file.
pub fn parse_udev(text: &str) -> Udev {
    let mut u = Udev::default();
    for line in text.lines() {
        let Some(kv) = line.strip_prefix("E:") else {
            continue;
        };
        let Some((k, val)) = kv.split_once('=') else {
            continue;
        };
        if let Some(i) = UDEV_KEYS.iter().position(|x| *x == k) {
            u.vals[i] = Some(val.to_string());
        }
    }
    u
}

/// ATA properties exported when `ID_ATA` is set: (udev key, metric, help).
const ATA: [(&str, &str, &str); 3] = [
    (
        "ID_ATA_ROTATION_RATE_RPM",
        "node_disk_ata_rotation_rate_rpm",
        "ATA disk rotation rate in RPMs (0 for SSDs).",
    ),
    (
        "ID_ATA_WRITE_CACHE",
        "node_disk_ata_write_cache",
        "ATA disk has a write cache.",
    ),
    (
        "ID_ATA_WRITE_CACHE_ENABLED",
        "node_disk_ata_write_cache_enabled",
        "ATA disk has its write cache enabled.",
    ),
];

/// Appends the udev-derived series of one device: `node_disk_info`,
/// `node_disk_filesystem_info`, `node_disk_device_mapper_info`, `node_disk_ata_*`.
pub fn record_udev(d: &Disk, u: &Udev, rotational: &str, out: &mut MetricSet) {
    let dev = d.name.as_str();
    out.gauge(
        "node_disk_info",
        "Info of /sys/block/<block_device>.",
        &[
            ("device", dev),
            ("major", &d.major),
            ("minor", &d.minor),
            ("model", u.get("ID_MODEL")),
            ("path", u.get("ID_PATH")),
            ("revision", u.get("ID_REVISION")),
            ("rotational", rotational),
            ("serial", u.serial()),
            ("wwn", u.get("ID_WWN")),
        ],
        1u64,
    );
    let fs_type = u.get("ID_FS_TYPE");
    if !fs_type.is_empty() {
        out.gauge(
            "node_disk_filesystem_info",
            "Info about disk filesystem.",
            &[
                ("device", dev),
                ("type", fs_type),
                ("usage", u.get("ID_FS_USAGE")),
                ("uuid", u.get("ID_FS_UUID")),
                ("version", u.get("ID_FS_VERSION")),
            ],
            1u64,
        );
    }
    let dm_name = u.get("DM_NAME");
    if !dm_name.is_empty() {
        out.gauge(
            "node_disk_device_mapper_info",
            "Info about disk device mapper.",
            &[
                ("device", dev),
                ("lv_layer", u.get("DM_LV_LAYER")),
                ("lv_name", u.get("DM_LV_NAME")),
                ("name", dm_name),
                ("uuid", u.get("DM_UUID")),
                ("vg_name", u.get("DM_VG_NAME")),
            ],
            1u64,
        );
    }
    if !u.get("ID_ATA").is_empty() {
        for (key, metric, help) in ATA {
            let Some(v) = u.find(key) else { continue };
            match v.parse::<f64>() {
                Ok(x) => out.gauge(metric, help, &[("device", dev)], x),
                Err(_) => {
                    tracing::debug!(
                        device = dev,
                        property = key,
                        value = v,
                        "udev: not a number"
                    )
                }
            }
        }
    }
}

/// Reads `/proc/diskstats`, the udev database and `queue/rotational`.
pub fn collect(cfg: &Config, out: &mut MetricSet) -> CollectResult {
    let path = cfg.paths.proc("diskstats");
    let text = read_required(&path)?;
    let disks = parse(&text).map_err(|(l, m)| parse_error(&path, l, m))?;
    let mut udev_file = String::with_capacity(16);
    let block = cfg.paths.sys("block");
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
        // As node_exporter: 0 when the device has no queue (partitions, absent sysfs).
        let rotational = super::read_int(&block.join(&d.name).join("queue/rotational"))
            .map_or_else(|| "0".to_string(), |v| format!("{v:b}"));
        record_udev(d, &udev, &rotational, out);
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
        assert_eq!(u.get("ID_MODEL"), "QEMU_HARDDISK");
        assert_eq!(u.serial(), "QM1");
        assert_eq!(u.get("ID_PATH"), "pci-0000:00:05.0");
        assert_eq!(u.get("ID_WWN"), "");
        assert_eq!(u.find("ID_WWN"), None);
    }

    #[test]
    fn serial_falls_back_to_id_serial() {
        let u = super::parse_udev("E:ID_SERIAL=0x83e36d93\n");
        assert_eq!(u.serial(), "0x83e36d93");
        let u = super::parse_udev("E:ID_SERIAL=long\nE:ID_SERIAL_SHORT=short\n");
        assert_eq!(u.serial(), "short");
        let u = super::parse_udev(
            "E:ID_SERIAL=long\nE:ID_SERIAL_SHORT=short\nE:SCSI_IDENT_SERIAL=label\n",
        );
        assert_eq!(u.serial(), "label");
    }

    fn udev_text(udev: &str, rotational: &str) -> String {
        let d = super::parse("8 0 sda 1 2 3 4 5 6 7 8 9 10 11\n").expect("parse");
        let mut m = rtmon::expo::MetricSet::new();
        super::record_udev(&d[0], &super::parse_udev(udev), rotational, &mut m);
        rtmon::expo::encode_text(&m)
    }

    #[test]
    fn ata_device_mapper_and_filesystem_info() {
        let t = udev_text(
            "E:ID_ATA=1\nE:ID_ATA_ROTATION_RATE_RPM=7200\nE:ID_ATA_WRITE_CACHE=1\nE:ID_ATA_WRITE_CACHE_ENABLED=0\nE:ID_FS_TYPE=LVM2_member\nE:ID_FS_USAGE=raid\nE:ID_FS_UUID=abc\nE:ID_FS_VERSION=LVM2 001\n",
            "1",
        );
        assert!(t.contains("node_disk_info{device=\"sda\",major=\"8\",minor=\"0\",model=\"\",path=\"\",revision=\"\",rotational=\"1\",serial=\"\",wwn=\"\"} 1\n"), "{t}");
        assert!(t.contains("node_disk_ata_rotation_rate_rpm{device=\"sda\"} 7200\n"));
        assert!(t.contains("node_disk_ata_write_cache{device=\"sda\"} 1\n"));
        assert!(t.contains("node_disk_ata_write_cache_enabled{device=\"sda\"} 0\n"));
        assert!(t.contains("node_disk_filesystem_info{device=\"sda\",type=\"LVM2_member\",usage=\"raid\",uuid=\"abc\",version=\"LVM2 001\"} 1\n"));
        assert!(!t.contains("node_disk_device_mapper_info"));
        // ATA values only for ATA disks; device mapper info only with DM_NAME.
        let t = udev_text(
            "E:ID_ATA_ROTATION_RATE_RPM=7200\nE:DM_NAME=system-root\nE:DM_UUID=LVM-x\nE:DM_VG_NAME=system\nE:DM_LV_NAME=root\n",
            "0",
        );
        assert!(!t.contains("node_disk_ata_rotation_rate_rpm"), "{t}");
        assert!(t.contains("node_disk_device_mapper_info{device=\"sda\",lv_layer=\"\",lv_name=\"root\",name=\"system-root\",uuid=\"LVM-x\",vg_name=\"system\"} 1\n"), "{t}");
        assert!(!t.contains("node_disk_filesystem_info"));
    }
}
