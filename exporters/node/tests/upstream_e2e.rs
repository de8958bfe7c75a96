//! node_exporter's own end-to-end fixtures (`../shared/upstream-fixtures/node_exporter-e2e`,
//! node_exporter 1.12) run through rtmon's node exporter with the flags of upstream's
//! `end-to-end-test.sh`, restricted to the collectors rtmon implements, and compared with
//! upstream's expected output (`e2e-output.txt`; `e2e-64k-page-output.txt` is the run
//! without `--collector.cpu.info`).
//!
//! Compared for every family owned by one of rtmon's collectors: the family set and
//! types, every series (name + full label set) and every value. The upstream data is other
//! projects' files: it is read from `../shared` at test time (the `ttar` archives are
//! extracted into a temporary directory) and never copied into this repository; without it
//! the test says so and skips.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use rtmon_testkit::{free_port, http_get, wait_for_port, Proc};

fn upstream_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/upstream-fixtures/node_exporter-e2e")
}

/// Families upstream's `end-to-end-test.sh` drops from both outputs, plus rtmon's own
/// self-metrics (not part of any collector).
fn skipped(name: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "go_",
        "node_exporter_build_info",
        "node_scrape_collector_duration_seconds",
        "process_",
        "node_textfile_mtime_seconds",
        "node_time_zone",
        "node_time_seconds",
        "node_network_receive_bytes_total",
        "node_network_transmit_bytes_total",
        "node_network_receive_packets_total",
        "node_network_transmit_packets_total",
        // rtmon's self-metrics
        "rtmon_",
        "promhttp_",
        "node_scrape_collector_applicable",
    ];
    PREFIXES.iter().any(|p| name.starts_with(p))
}

/// The rtmon collector that owns a family upstream emits, if rtmon has that collector.
fn owner(name: &str) -> Option<&'static str> {
    let other = [
        "node_cpu_scaling_",        // cpufreq
        "node_cpu_vulnerabilities", // cpu_vulnerabilities
        "node_memory_numa_",        // meminfo_numa
        "node_softirqs_functions",  // softirqs
    ];
    if other.iter().any(|p| name.starts_with(p)) {
        return None;
    }
    let table: &[(&str, &str)] = &[
        ("node_arp_", "arp"),
        ("node_cpu_", "cpu"),
        ("node_disk_", "diskstats"),
        ("node_entropy_", "entropy"),
        ("node_filefd_", "filefd"),
        ("node_filesystem_", "filesystem"),
        ("node_hwmon_", "hwmon"),
        ("node_load", "loadavg"),
        ("node_memory_", "meminfo"),
        ("node_network_", "netclass/netdev"),
        ("node_netstat_", "netstat"),
        ("node_pressure_", "pressure"),
        ("node_sockstat_", "sockstat"),
        ("node_boot_time_seconds", "stat"),
        ("node_context_switches_total", "stat"),
        ("node_forks_total", "stat"),
        ("node_intr_total", "stat"),
        ("node_procs_", "stat"),
        ("node_softirqs_total", "stat"),
        ("node_thermal_zone_", "thermal_zone"),
        ("node_cooling_device_", "thermal_zone"),
        ("node_time_", "time"),
        ("node_uname_", "uname"),
        ("node_vmstat_", "vmstat"),
        ("node_textfile_", "textfile"),
        ("node_scrape_collector_success", "self"),
    ];
    if let Some((_, c)) = table.iter().find(|(p, _)| name.starts_with(p)) {
        return Some(c);
    }
    // Metrics from the textfile directory.
    (!name.starts_with("node_")).then_some("textfile")
}

/// One exposition: family → type, series (name + sorted labels) → value.
#[derive(Default)]
struct Expo {
    types: BTreeMap<String, String>,
    helps: BTreeMap<String, String>,
    series: BTreeMap<String, f64>,
}

/// Splits `a="x",b="y\"z"` into sorted `a="x"` pairs (values kept escaped).
fn label_pairs(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let start = i;
        while i < b.len() && b[i] != b'=' {
            i += 1;
        }
        // skip `="`
        i += 2;
        while i < b.len() && b[i] != b'"' {
            if b[i] == b'\\' {
                i += 1;
            }
            i += 1;
        }
        i += 1;
        out.push(s[start..i.min(s.len())].trim_start_matches(',').to_string());
        if i < b.len() && b[i] == b',' {
            i += 1;
        }
    }
    out.sort();
    out
}

fn parse(text: &str, keep: impl Fn(&str) -> bool) -> Expo {
    let mut e = Expo::default();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            if let Some((n, h)) = rest.split_once(' ') {
                if keep(n) {
                    e.helps.insert(n.to_string(), h.to_string());
                }
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut it = rest.split(' ');
            if let (Some(n), Some(t)) = (it.next(), it.next()) {
                if keep(n) {
                    e.types.insert(n.to_string(), t.to_string());
                }
            }
            continue;
        }
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let (s, v) = match line.rfind(' ') {
            Some(i) => (&line[..i], &line[i + 1..]),
            None => continue,
        };
        let (name, labels) = match s.find('{') {
            Some(i) => (&s[..i], label_pairs(&s[i + 1..s.len() - 1])),
            None => (s, Vec::new()),
        };
        if !keep(name) {
            continue;
        }
        let v = match v {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or(f64::NAN),
        };
        e.series
            .insert(format!("{name}{{{}}}", labels.join(",")), v);
    }
    e
}

/// What differs between upstream's expected output and rtmon's.
#[derive(Debug, Default)]
struct Diff {
    families: Vec<String>,
    series: Vec<String>,
    values: Vec<String>,
    compared: usize,
}

fn compare(want: &Expo, got: &Expo) -> Diff {
    let mut d = Diff::default();
    let names: BTreeSet<&String> = want.types.keys().chain(got.types.keys()).collect();
    for n in names {
        match (want.types.get(n), got.types.get(n)) {
            (Some(_), None) => d.families.push(format!("missing family {n}")),
            (None, Some(_)) => d.families.push(format!("extra family {n}")),
            (Some(a), Some(b)) if a != b => d.families.push(format!("{n}: type {b}, upstream {a}")),
            _ => {}
        }
        if let (Some(a), Some(b)) = (want.helps.get(n), got.helps.get(n)) {
            if a != b && n != "node_scrape_collector_success" {
                d.families.push(format!("{n}: HELP {b:?}, upstream {a:?}"));
            }
        }
    }
    for (s, &a) in &want.series {
        match got.series.get(s) {
            None => d.series.push(format!("missing {s}")),
            Some(&b) => {
                d.compared += 1;
                // Exact: both sides compute in f64 the same way, so even the last
                // digit of e.g. 14.036781000000001 must agree.
                if a.to_bits() != b.to_bits() && !(a.is_nan() && b.is_nan()) {
                    d.values.push(format!("{s}: rtmon {b}, upstream {a}"));
                }
            }
        }
    }
    for s in got.series.keys().filter(|s| !want.series.contains_key(*s)) {
        d.series.push(format!("extra {s}"));
    }
    d
}

/// Differences the README documents ("Differences from node_exporter"), with the reason.
fn documented_difference(line: &str) -> Option<&'static str> {
    // node_exporter's netdev reads the *test host's* interfaces over netlink (the
    // fixtures have no proc/net/dev), which is why end-to-end-test.sh drops their
    // byte/packet counters; rtmon reads <procfs>/net/dev, absent here, so netdev is
    // not applicable (node_scrape_collector_applicable 0, no _success sample).
    let netdev_lo = (line.starts_with("missing family node_network_receive_")
        || line.starts_with("missing family node_network_transmit_"))
        && line.ends_with("_total")
        && !line.contains("transmit_queue");
    let netdev_series = (line.starts_with("missing node_network_receive_")
        || line.starts_with("missing node_network_transmit_"))
        && line.ends_with("{device=\"lo\"}");
    if netdev_lo
        || netdev_series
        || line == "missing node_scrape_collector_success{collector=\"netdev\"}"
    {
        return Some("netdev reads <procfs>/net/dev, upstream the test host over netlink");
    }
    None
}

/// Upstream's flags restricted to rtmon's collectors. Absent in rtmon (documented in the
/// README): `--no-collector.arp.netlink` (rtmon always reads /proc/net/arp, which is what
/// that flag selects).
fn flags(root: &Path, up: &Path, cpu_info: bool) -> Vec<String> {
    let mut v = vec![
        format!("--path.rootfs={}", root.display()),
        format!("--path.procfs={}", up.join("proc").display()),
        format!("--path.sysfs={}", root.join("sys").display()),
        format!("--path.udev.data={}", root.join("udev/data").display()),
        "--no-collector.filesystem".into(),
        "--no-collector.uname".into(),
        "--collector.arp.device-exclude=nope".into(),
        "--collector.hwmon.chip-include=(applesmc|asus_nb_wmi|coretemp|hwmon4|ieee80211|nct6779)"
            .into(),
        "--collector.netclass.ignore-invalid-speed".into(),
        "--collector.netclass.ignored-devices=(dmz|int)".into(),
        "--collector.netdev.device-include=lo".into(),
        "--collector.stat.softirq".into(),
        format!(
            "--collector.textfile.directory={}",
            up.join("textfile/two_metric_files/").display()
        ),
    ];
    if cpu_info {
        v.push("--collector.cpu.info".into());
        v.push("--collector.cpu.info.bugs-include=^(cpu_meltdown|spectre_.*|mds)$".into());
        v.push("--collector.cpu.info.flags-include=^(aes|avx.?|constant_tsc)$".into());
    } else {
        v.push("--no-collector.cpu.info".into());
        v.push("--collector.cpu.info.bugs-include=".into());
        v.push("--collector.cpu.info.flags-include=".into());
    }
    v
}

fn run(expected: &str, cpu_info: bool) {
    let up = upstream_dir();
    let want_file = up.join(expected);
    if !want_file.exists() {
        eprintln!(
            "SKIP upstream e2e comparison: {} is absent (node_exporter's fixtures are read \
             from ../shared at test time, never copied into the repository)",
            want_file.display()
        );
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("fixtures");
    std::fs::create_dir(&root).expect("mkdir");
    common::ttar::extract(&up.join("sys.ttar"), &root).expect("extract sys.ttar");
    common::ttar::extract(&up.join("udev.ttar"), &root).expect("extract udev.ttar");

    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rtmon-node-exporter"));
    cmd.arg(format!("--web.listen-address={addr}"))
        .args(flags(&root, &up, cpu_info));
    let log = tmp.path().join("rtmon.log");
    let _p = Proc::spawn("rtmon", cmd, Some(&log)).expect("spawn");
    assert!(
        wait_for_port(&addr, Duration::from_secs(20)),
        "rtmon did not listen: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    let r = http_get(&addr, "/metrics").expect("scrape");
    assert_eq!(r.status, 200);
    // Textfile HELP names the file; upstream ran from its checkout with a relative path.
    let got_text = r.text().replace(
        &format!("{}/", up.join("textfile/two_metric_files").display()),
        "collector/fixtures/textfile/two_metric_files/",
    );

    let want_text = std::fs::read_to_string(&want_file).expect("read expected output");
    let ours = |n: &str| !skipped(n) && owner(n).is_some();
    let want = parse(&want_text, |n| {
        ours(n) && owner(n) != Some("filesystem") && owner(n) != Some("uname")
    });
    let got = parse(&got_text, ours);
    // Self-metrics: the success of the collectors rtmon has and runs here.
    let mut want = want;
    want.series.retain(
        |s, _| match s.strip_prefix("node_scrape_collector_success{collector=\"") {
            Some(rest) => rest.split('"').next().is_some_and(|c| {
                rtmon_node::collector::find(c).is_some() && c != "filesystem" && c != "uname"
            }),
            None => true,
        },
    );

    let d = compare(&want, &got);
    let mut documented = Vec::new();
    let mut undocumented = Vec::new();
    for line in d.families.iter().chain(&d.series).chain(&d.values) {
        match documented_difference(line) {
            Some(why) => documented.push(format!("{line}  [{why}]")),
            None => undocumented.push(line.as_str()),
        }
    }
    println!(
        "{expected}: {} series compared; differing: {} families, {} series (name + label set), \
         {} values; {} of these differences documented",
        d.compared,
        d.families.len(),
        d.series.len(),
        d.values.len(),
        documented.len(),
    );
    for l in &documented {
        println!("  documented: {l}");
    }
    let all = undocumented;
    assert!(
        all.is_empty(),
        "{} differences against {expected}:\n{}",
        all.len(),
        all.join("\n")
    );
}

#[test]
fn upstream_e2e_output() {
    run("e2e-output.txt", true);
}

#[test]
fn upstream_e2e_64k_page_output() {
    run("e2e-64k-page-output.txt", false);
}
