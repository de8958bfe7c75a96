//! Golden test: the fixture `/proc` + `/sys` tree under `tests/fixtures` must produce
//! exactly `tests/golden/fixtures.prom`, compared in full.
//!
//! Values that depend on the host or the clock rather than on the fixture (collector
//! durations, the time, uname, statfs numbers of the fixture directory, textfile mtimes
//! and the checkout path) are replaced by `<volatile>` before comparing; their metric
//! names and label names stay in the comparison.
//!
//! Regenerate after an intended change with `UPDATE_GOLDEN=1 cargo test -p
//! rtmon-node-exporter --test golden` and review the diff.

use std::path::{Path, PathBuf};

use rtmon_node::collector::ALL;
use rtmon_node::config::Config;
use rtmon_node::source::scrape;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Metric names whose value is not a function of the fixture.
const VOLATILE_VALUES: &[&str] = &[
    "node_scrape_collector_duration_seconds",
    "node_time_seconds",
    "node_textfile_mtime_seconds",
    "node_filesystem_size_bytes",
    "node_filesystem_free_bytes",
    "node_filesystem_avail_bytes",
    "node_filesystem_files",
    "node_filesystem_files_free",
];
/// Metric names whose label *values* come from the host (uname, time zone).
const VOLATILE_LABELS: &[&str] = &["node_uname_info", "node_time_zone_offset_seconds"];

fn normalize(text: &str, root: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let line = line.replace(root, "FIXTURES");
        if line.starts_with('#') {
            out.push_str(&line);
            out.push('\n');
            continue;
        }
        let name_end = line.find(['{', ' ']).unwrap_or(line.len());
        let name = &line[..name_end];
        let mut l = line.clone();
        if VOLATILE_LABELS.contains(&name) {
            // Keep label names, blank their values.
            let mut s = String::new();
            let mut in_value = false;
            for c in line.chars() {
                match c {
                    '"' => {
                        in_value = !in_value;
                        s.push('"');
                        if in_value {
                            s.push_str("<volatile>");
                        }
                    }
                    _ if in_value => {}
                    c => s.push(c),
                }
            }
            l = s;
        }
        if VOLATILE_VALUES.contains(&name) || VOLATILE_LABELS.contains(&name) {
            if let Some(i) = l.rfind(' ') {
                l.truncate(i);
                l.push_str(" <volatile>");
            }
        }
        out.push_str(&l);
        out.push('\n');
    }
    out
}

#[test]
fn fixture_tree_matches_golden_output() {
    let root = fixtures();
    let mut cfg = Config::fixture(&root);
    cfg.textfile_directory = root.join("textfile");
    let defs: Vec<_> = ALL.iter().collect();
    let set = scrape(&cfg, &defs);
    let got = normalize(
        &rtmon::expo::encode_text(&set),
        root.to_str().expect("utf-8 path"),
    );
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/fixtures.prom");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden, &got).expect("write golden");
        return;
    }
    let want = std::fs::read_to_string(&golden).expect("read golden file");
    if got != want {
        let diff: Vec<String> = want
            .lines()
            .filter(|l| !got.lines().any(|g| g == *l))
            .map(|l| format!("- {l}"))
            .chain(
                got.lines()
                    .filter(|l| !want.lines().any(|w| w == *l))
                    .map(|l| format!("+ {l}")),
            )
            .collect();
        panic!(
            "output differs from {} ({} lines):\n{}",
            golden.display(),
            diff.len(),
            diff.join("\n")
        );
    }
}

#[test]
fn fixture_specifics() {
    // Spot checks that make the golden file's key facts explicit.
    let root = fixtures();
    let mut cfg = Config::fixture(&root);
    cfg.textfile_directory = root.join("textfile");
    let defs: Vec<_> = ALL.iter().collect();
    let t = rtmon::expo::encode_text(&scrape(&cfg, &defs));
    let v = |n: &str, l: &[(&str, &str)]| rtmon_testkit::sample_value(&t, n, l);
    // netclass
    assert_eq!(v("node_network_up", &[("device", "eth0")]), Some(1.0));
    assert_eq!(v("node_network_up", &[("device", "veth-flow")]), Some(0.0));
    assert_eq!(
        v("node_network_mtu_bytes", &[("device", "eth0")]),
        Some(9000.0)
    );
    assert_eq!(
        v("node_network_speed_bytes", &[("device", "eth0")]),
        Some(12_500_000_000.0)
    );
    assert_eq!(
        v("node_network_speed_bytes", &[("device", "veth-flow")]),
        Some(-125_000.0)
    );
    assert_eq!(v("node_network_carrier", &[("device", "veth-flow")]), None);
    assert_eq!(v("node_network_flags", &[("device", "eth0")]), Some(4099.0));
    assert!(t.contains("node_network_info{address=\"02:fc:00:00:00:01\",adminstate=\"up\",broadcast=\"ff:ff:ff:ff:ff:ff\",device=\"eth0\",duplex=\"full\",ifalias=\"uplink to sw-a\",operstate=\"up\"} 1\n"));
    // netdev: lo excluded by default, nohandler from sysfs
    assert_eq!(
        v(
            "node_network_receive_bytes_total",
            &[("device", "veth-flow")]
        ),
        Some(123_456.0)
    );
    assert_eq!(
        v(
            "node_network_transmit_drop_total",
            &[("device", "veth-flow")]
        ),
        Some(4.0)
    );
    assert_eq!(
        v("node_network_receive_bytes_total", &[("device", "lo")]),
        None
    );
    assert_eq!(
        v(
            "node_network_receive_nohandler_total",
            &[("device", "eth0")]
        ),
        Some(7.0)
    );
    // arp
    assert_eq!(v("node_arp_entries", &[("device", "eth0")]), Some(2.0));
    // filesystem: excluded types/mount points are absent, escapes decoded, ro flag
    // (as node_exporter: a device error gives only node_filesystem_device_error)
    assert_eq!(
        v(
            "node_filesystem_readonly",
            &[("mountpoint", "/srv/data set")]
        ),
        None
    );
    assert_eq!(
        v("node_filesystem_readonly", &[("mountpoint", "/")]),
        Some(0.0)
    );
    assert_eq!(
        v(
            "node_filesystem_device_error",
            &[("mountpoint", "/srv/data set")]
        ),
        Some(1.0)
    );
    assert_eq!(
        v("node_filesystem_device_error", &[("mountpoint", "/")]),
        Some(0.0)
    );
    assert!(!t.contains("mountpoint=\"/proc\"") && !t.contains("mountpoint=\"/run\""));
    // diskstats: loops excluded, udev labels
    assert!(!t.contains("device=\"loop0\""));
    assert!(t.contains("model=\"QEMU_HARDDISK\""));
    // netclass: adminstate from IFF_UP (veth-flow's flags 0x1002 lack it)
    assert!(
        t.contains("device=\"veth-flow\",duplex=\"unknown\",ifalias=\"\",operstate=\"down\"} 1\n")
    );
    assert!(t.contains("adminstate=\"down\",broadcast=\"ff:ff:ff:ff:ff:ff\",device=\"veth-flow\""));
    // diskstats: rotational from sysfs (0 without a queue dir), serial falls back to
    // ID_SERIAL, ATA values, device-mapper and filesystem info from udev; zram
    // excluded by default (upstream's default since 1.6)
    assert!(t.contains("node_disk_info{device=\"sda\",major=\"8\",minor=\"0\",model=\"WDC_WD40EFRX-68N32N0\",path=\"pci-0000:00:1f.2-ata-1\",revision=\"\",rotational=\"1\",serial=\"WDC_WD40EFRX-68N32N0_WD-WCC7K1234567\",wwn=\"\"} 1\n"));
    assert!(t.contains("node_disk_info{device=\"dm-0\",major=\"252\",minor=\"0\",model=\"\",path=\"\",revision=\"\",rotational=\"0\",serial=\"\",wwn=\"\"} 1\n"));
    assert_eq!(
        v("node_disk_ata_rotation_rate_rpm", &[("device", "sda")]),
        Some(5400.0)
    );
    assert_eq!(
        v("node_disk_ata_write_cache_enabled", &[("device", "sda")]),
        Some(1.0)
    );
    assert_eq!(
        v("node_disk_ata_rotation_rate_rpm", &[("device", "vda")]),
        None
    );
    assert!(t.contains("node_disk_device_mapper_info{device=\"dm-0\",lv_layer=\"\",lv_name=\"flows\",name=\"vg0-flows\",uuid=\"LVM-0123456789abcdef\",vg_name=\"vg0\"} 1\n"));
    assert!(t.contains("node_disk_filesystem_info{device=\"dm-0\",type=\"ext4\",usage=\"filesystem\",uuid=\"3deafd0d-faff-4695-8d15-51061ae1f51b\",version=\"1.0\"} 1\n"));
    assert!(!t.contains("device=\"zram0\""));
    // cpu: throttles (package read once), isolated CPUs; no cpuinfo by default
    assert_eq!(
        v("node_cpu_package_throttles_total", &[("package", "0")]),
        Some(7.0)
    );
    assert_eq!(
        v(
            "node_cpu_core_throttles_total",
            &[("core", "1"), ("package", "0")]
        ),
        Some(7.0)
    );
    assert_eq!(v("node_cpu_isolated", &[("cpu", "1")]), Some(1.0));
    assert_eq!(v("node_cpu_isolated", &[("cpu", "0")]), None);
    assert!(!t.contains("node_cpu_info{") && !t.contains("node_softirqs_total"));
    // pressure irq, netstat's default fields of 1.12
    assert_eq!(
        v("node_pressure_irq_stalled_seconds_total", &[]),
        Some(0.008494)
    );
    assert!(t.contains("node_netstat_TcpExt_TCPOFOQueue 0\n"));
    // hwmon / thermal
    assert_eq!(
        v(
            "node_hwmon_temp_celsius",
            &[("chip", "coretemp"), ("sensor", "temp1")]
        ),
        Some(45.0)
    );
    // a chip whose sensors live in device/ (applesmc)
    assert_eq!(
        v(
            "node_hwmon_fan_rpm",
            &[("chip", "platform_applesmc_768"), ("sensor", "fan1")]
        ),
        Some(1998.0)
    );
    assert_eq!(
        v(
            "node_hwmon_fan_max_rpm",
            &[("chip", "platform_applesmc_768"), ("sensor", "fan1")]
        ),
        Some(6200.0)
    );
    assert!(t.contains("node_hwmon_sensor_label{chip=\"platform_applesmc_768\",label=\"Left side\",sensor=\"fan1\"} 1\n"));
    // two chips of one device: both kept, told apart by their name file
    assert_eq!(
        v(
            "node_hwmon_temp_celsius",
            &[("chip", "ieee80211_phy0_mt_phy0_0"), ("sensor", "temp1")]
        ),
        Some(55.0)
    );
    assert_eq!(
        v(
            "node_hwmon_temp_celsius",
            &[("chip", "ieee80211_phy0_mt_phy0_1"), ("sensor", "temp1")]
        ),
        Some(56.0)
    );
    assert!(!t.contains("chip=\"ieee80211_phy0\""));
    assert_eq!(
        v(
            "node_thermal_zone_temp",
            &[("type", "x86_pkg_temp"), ("zone", "0")]
        ),
        Some(47.0)
    );
    // textfile: good file merged, colliding file rejected, real node_load1 kept
    assert_eq!(
        v("flow_checks_total", &[("flow", "dtn-a-dtn-b")]),
        Some(42.0)
    );
    assert_eq!(v("node_textfile_scrape_error", &[]), Some(1.0));
    assert_ne!(v("node_load1", &[]), Some(99.0));
    assert!(!t.contains("collide.prom"));
    // every collector succeeded on the fixture
    for d in ALL {
        assert_eq!(
            v("node_scrape_collector_success", &[("collector", d.name)]),
            Some(1.0),
            "{}",
            d.name
        );
    }
}

#[test]
fn fixture_with_upstream_option_flags() {
    // --collector.cpu.info with flag/bug filters, --collector.stat.softirq and
    // --collector.hwmon.chip-exclude on the same fixture tree.
    let root = fixtures();
    let mut cfg = Config::fixture(&root);
    cfg.textfile_directory = root.join("textfile");
    cfg.cpu_info = true;
    cfg.cpu_flags_include = Some(regex::Regex::new("^(aes|avx.?|constant_tsc)$").expect("re"));
    cfg.cpu_bugs_include = Some(regex::Regex::new("^(spectre_.*|mds)$").expect("re"));
    cfg.stat_softirq = true;
    cfg.hwmon_chips = rtmon_node::config::DeviceFilter::new(
        "collector.hwmon.chip",
        None,
        Some("^ieee80211"),
        None,
    )
    .expect("filter");
    let defs: Vec<_> = ALL.iter().collect();
    let t = rtmon::expo::encode_text(&scrape(&cfg, &defs));
    let v = |n: &str, l: &[(&str, &str)]| rtmon_testkit::sample_value(&t, n, l);
    assert!(t.contains("node_cpu_info{cachesize=\"28160 KB\",core=\"1\",cpu=\"1\",family=\"6\",microcode=\"0x5003604\",model=\"85\",model_name=\"Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz\",package=\"0\",stepping=\"7\",vendor=\"GenuineIntel\"} 1\n"), "{t}");
    assert_eq!(
        v(
            "node_cpu_frequency_hertz",
            &[("core", "1"), ("cpu", "1"), ("package", "0")]
        ),
        Some(2_095_123_000.0)
    );
    let mut flags: Vec<&str> = t
        .lines()
        .filter_map(|l| l.strip_prefix("node_cpu_flag_info{flag=\""))
        .filter_map(|l| l.split('"').next())
        .collect();
    flags.sort_unstable();
    assert_eq!(flags, ["aes", "avx", "avx2", "constant_tsc"]);
    let mut bugs: Vec<&str> = t
        .lines()
        .filter_map(|l| l.strip_prefix("node_cpu_bug_info{bug=\""))
        .filter_map(|l| l.split('"').next())
        .collect();
    bugs.sort_unstable();
    assert_eq!(bugs, ["spectre_v1", "spectre_v2"]);
    assert_eq!(
        v("node_softirqs_total", &[("vector", "timer")]),
        Some(86657.0)
    );
    assert_eq!(
        v("node_softirqs_total", &[("vector", "rcu")]),
        Some(153726.0)
    );
    assert!(
        !t.contains("chip=\"ieee80211"),
        "excluded chips are not read"
    );
    assert!(t.contains("chip=\"platform_applesmc_768\""));
    for d in ALL {
        assert_eq!(
            v("node_scrape_collector_success", &[("collector", d.name)]),
            Some(1.0),
            "{}",
            d.name
        );
    }
}
