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
    assert!(t.contains("node_network_info{address=\"02:fc:00:00:00:01\",broadcast=\"ff:ff:ff:ff:ff:ff\",device=\"eth0\",duplex=\"full\",ifalias=\"uplink to sw-a\",operstate=\"up\"} 1\n"));
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
    // hwmon / thermal
    assert_eq!(
        v(
            "node_hwmon_temp_celsius",
            &[("chip", "coretemp"), ("sensor", "temp1")]
        ),
        Some(45.0)
    );
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
