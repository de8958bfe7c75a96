//! `cpu`: `node_cpu_seconds_total{cpu,mode}` and `node_cpu_guest_seconds_total{cpu,mode}`
//! from the per-CPU lines of `/proc/stat`; thermal throttle counters
//! (`node_cpu_{core,package}_throttles_total`) from
//! `/sys/devices/system/cpu/cpu*/thermal_throttle`; `node_cpu_isolated{cpu}` from
//! `/sys/devices/system/cpu/isolated`; with `--collector.cpu.info`, `node_cpu_info`,
//! `node_cpu_frequency_hertz` and the filtered `node_cpu_{flag,bug}_info` from
//! `/proc/cpuinfo` — all as node_exporter 1.12.

use std::collections::BTreeMap;

use rtmon::expo::{MetricSet, MetricType};

use super::{parse_error, read_required, CollectError, CollectResult, Dir};
use crate::config::Config;

/// Kernel USER_HZ: /proc/stat counts in 1/100 s on every Linux ABI (as node_exporter's
/// procfs assumes).
pub const USER_HZ: f64 = 100.0;

/// One CPU's counters in ticks.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CpuTicks {
    /// CPU number (the `N` of `cpuN`).
    pub cpu: String,
    /// user, nice, system, idle, iowait, irq, softirq, steal, guest, guest_nice.
    pub ticks: [u64; 10],
}

/// Parses the `cpuN` lines of `/proc/stat` (the aggregate `cpu` line is skipped).
pub fn parse(text: &str) -> Result<Vec<CpuTicks>, (usize, String)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let Some(rest) = line.strip_prefix("cpu") else {
            continue;
        };
        let mut it = rest.split_ascii_whitespace();
        let Some(id) = it.next() else { continue };
        if rest.starts_with(' ') || !id.bytes().all(|b| b.is_ascii_digit()) {
            continue; // aggregate line
        }
        let mut c = CpuTicks {
            cpu: id.to_string(),
            ticks: [0; 10],
        };
        for (slot, field) in c.ticks.iter_mut().zip(it) {
            *slot = field
                .parse()
                .map_err(|_| (i + 1, format!("invalid tick count {field:?}")))?;
        }
        out.push(c);
    }
    Ok(out)
}

const MODES: [(&str, usize); 8] = [
    ("idle", 3),
    ("iowait", 4),
    ("irq", 5),
    ("nice", 1),
    ("softirq", 6),
    ("steal", 7),
    ("system", 2),
    ("user", 0),
];

/// Appends the samples for parsed CPUs.
pub fn record(cpus: &[CpuTicks], out: &mut MetricSet) {
    let f = out.family(
        "node_cpu_seconds_total",
        "Seconds the CPUs spent in each mode.",
        MetricType::Counter,
    );
    for c in cpus {
        for (mode, idx) in MODES {
            f.add(
                &[("cpu", &c.cpu), ("mode", mode)],
                c.ticks[idx] as f64 / USER_HZ,
            );
        }
    }
    let g = out.family(
        "node_cpu_guest_seconds_total",
        "Seconds the CPUs spent in guests (VMs) for each mode.",
        MetricType::Counter,
    );
    for c in cpus {
        g.add(
            &[("cpu", &c.cpu), ("mode", "nice")],
            c.ticks[9] as f64 / USER_HZ,
        );
        g.add(
            &[("cpu", &c.cpu), ("mode", "user")],
            c.ticks[8] as f64 / USER_HZ,
        );
    }
}

/// Parses a kernel CPU list (`1,3-5,9`) into CPU numbers.
pub fn parse_cpu_list(text: &str) -> Result<Vec<u32>, String> {
    let mut out = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        let num = |s: &str| {
            s.trim()
                .parse::<u32>()
                .map_err(|_| format!("invalid CPU number {s:?}"))
        };
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (num(a)?, num(b)?);
                if b < a || b - a > 65_536 {
                    return Err(format!("invalid CPU range {part:?}"));
                }
                out.extend(a..=b);
            }
            None => out.push(num(part)?),
        }
    }
    Ok(out)
}

/// One processor block of `/proc/cpuinfo`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CpuInfo {
    /// `processor`.
    pub processor: String,
    /// `vendor_id`.
    pub vendor: String,
    /// `cpu family`.
    pub family: String,
    /// `model`.
    pub model: String,
    /// `model name`.
    pub model_name: String,
    /// `microcode`.
    pub microcode: String,
    /// `stepping`.
    pub stepping: String,
    /// `cache size`.
    pub cache_size: String,
    /// `physical id`.
    pub physical_id: String,
    /// `core id`.
    pub core_id: String,
    /// `cpu MHz`.
    pub mhz: Option<f64>,
    /// `flags` (or `Features` on ARM).
    pub flags: Vec<String>,
    /// `bugs`.
    pub bugs: Vec<String>,
}

/// Parses `/proc/cpuinfo` (x86 layout: one `key : value` block per processor).
pub fn parse_cpuinfo(text: &str) -> Result<Vec<CpuInfo>, (usize, String)> {
    let mut out: Vec<CpuInfo> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let (k, v) = (k.trim(), v.trim());
        if k == "processor" {
            out.push(CpuInfo {
                processor: v.to_string(),
                ..CpuInfo::default()
            });
            continue;
        }
        let Some(c) = out.last_mut() else { continue };
        match k {
            "vendor_id" => c.vendor = v.to_string(),
            "cpu family" => c.family = v.to_string(),
            "model" => c.model = v.to_string(),
            "model name" => c.model_name = v.to_string(),
            "microcode" => c.microcode = v.to_string(),
            "stepping" => c.stepping = v.to_string(),
            "cache size" => c.cache_size = v.to_string(),
            "physical id" => c.physical_id = v.to_string(),
            "core id" => c.core_id = v.to_string(),
            "cpu MHz" => {
                c.mhz = Some(
                    v.parse()
                        .map_err(|_| (i + 1, format!("invalid cpu MHz {v:?}")))?,
                )
            }
            "flags" | "Features" => {
                c.flags = v.split_ascii_whitespace().map(String::from).collect()
            }
            "bugs" => c.bugs = v.split_ascii_whitespace().map(String::from).collect(),
            _ => {}
        }
    }
    Ok(out)
}

/// Appends the `--collector.cpu.info` series.
pub fn record_info(cfg: &Config, info: &[CpuInfo], out: &mut MetricSet) {
    for c in info {
        out.family(
            "node_cpu_info",
            "CPU information from /proc/cpuinfo.",
            MetricType::Gauge,
        )
        .add(
            &[
                ("cachesize", &c.cache_size),
                ("core", &c.core_id),
                ("cpu", &c.processor),
                ("family", &c.family),
                ("microcode", &c.microcode),
                ("model", &c.model),
                ("model_name", &c.model_name),
                ("package", &c.physical_id),
                ("stepping", &c.stepping),
                ("vendor", &c.vendor),
            ],
            1u64,
        );
        if let Some(mhz) = c.mhz {
            out.family(
                "node_cpu_frequency_hertz",
                "CPU frequency in hertz from /proc/cpuinfo.",
                MetricType::Gauge,
            )
            .add(
                &[
                    ("core", &c.core_id),
                    ("cpu", &c.processor),
                    ("package", &c.physical_id),
                ],
                mhz * 1e6,
            );
        }
    }
    let Some(first) = info.first() else { return };
    if let Some(re) = &cfg.cpu_flags_include {
        for f in first.flags.iter().filter(|f| re.is_match(f)) {
            out.family(
                "node_cpu_flag_info",
                "The `flags` field of CPU information from /proc/cpuinfo taken from the first core.",
                MetricType::Gauge,
            )
            .add(&[("flag", f)], 1u64);
        }
    }
    if let Some(re) = &cfg.cpu_bugs_include {
        for b in first.bugs.iter().filter(|b| re.is_match(b)) {
            out.family(
                "node_cpu_bug_info",
                "The `bugs` field of CPU information from /proc/cpuinfo taken from the first core.",
                MetricType::Gauge,
            )
            .add(&[("bug", b)], 1u64);
        }
    }
}

/// Thermal throttle counts: per package, and per (package, core), read once each.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Throttles {
    /// package → `package_throttle_count`.
    pub package: BTreeMap<u64, u64>,
    /// (package, core) → `core_throttle_count`.
    pub core: BTreeMap<(u64, u64), u64>,
}

/// Reads `cpu*/topology` and `cpu*/thermal_throttle` below `devices/system/cpu`.
pub fn read_throttles(cfg: &Config) -> Throttles {
    let base = cfg.paths.sys("devices/system/cpu");
    let mut t = Throttles::default();
    let Ok(rd) = std::fs::read_dir(&base) else {
        return t;
    };
    let mut names: Vec<String> = rd
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| {
            n.strip_prefix("cpu")
                .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()))
        })
        .collect();
    names.sort_unstable();
    let uint = |d: &Dir, f: &str| -> Option<u64> {
        let mut buf = [0u8; 32];
        d.read_attr(f, &mut buf)?.trim().parse().ok()
    };
    for n in names {
        let Ok(d) = Dir::open(&base.join(&n)) else {
            continue;
        };
        let (Some(pkg), Some(core)) = (
            uint(&d, "topology/physical_package_id"),
            uint(&d, "topology/core_id"),
        ) else {
            continue;
        };
        if let std::collections::btree_map::Entry::Vacant(e) = t.core.entry((pkg, core)) {
            if let Some(v) = uint(&d, "thermal_throttle/core_throttle_count") {
                e.insert(v);
            }
        }
        if let std::collections::btree_map::Entry::Vacant(e) = t.package.entry(pkg) {
            if let Some(v) = uint(&d, "thermal_throttle/package_throttle_count") {
                e.insert(v);
            }
        }
    }
    t
}

/// Appends the throttle counters.
pub fn record_throttles(t: &Throttles, out: &mut MetricSet) {
    for (pkg, v) in &t.package {
        out.counter(
            "node_cpu_package_throttles_total",
            "Number of times this CPU package has been throttled.",
            &[("package", &pkg.to_string())],
            *v,
        );
    }
    for ((pkg, core), v) in &t.core {
        out.counter(
            "node_cpu_core_throttles_total",
            "Number of times this CPU core has been throttled.",
            &[("core", &core.to_string()), ("package", &pkg.to_string())],
            *v,
        );
    }
}

/// Reads `/proc/stat`, the throttle counters, the isolated CPUs and (with
/// `--collector.cpu.info`) `/proc/cpuinfo`.
pub fn collect(cfg: &Config, out: &mut MetricSet) -> CollectResult {
    let mut failure = None;
    if cfg.cpu_info {
        let path = cfg.paths.proc("cpuinfo");
        let text = read_required(&path)?;
        let info = parse_cpuinfo(&text).map_err(|(l, m)| parse_error(&path, l, m))?;
        record_info(cfg, &info, out);
    }
    let path = cfg.paths.proc("stat");
    let text = read_required(&path)?;
    let cpus = parse(&text).map_err(|(l, m)| parse_error(&path, l, m))?;
    record(&cpus, out);
    let iso = cfg.paths.sys("devices/system/cpu/isolated");
    match std::fs::read_to_string(&iso) {
        Ok(t) => match parse_cpu_list(&t) {
            Ok(list) => {
                for c in list {
                    out.gauge(
                        "node_cpu_isolated",
                        "Whether each core is isolated, information from /sys/devices/system/cpu/isolated.",
                        &[("cpu", &c.to_string())],
                        1u64,
                    );
                }
            }
            Err(e) => failure = Some(parse_error(&iso, 1, e)),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => failure = Some(CollectError::Failed(format!("{}: {e}", iso.display()))),
    }
    record_throttles(&read_throttles(cfg), out);
    failure.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_per_cpu_lines_only() {
        let t = "cpu  10 0 5 100 1 0 0 0 0 0\ncpu0 1 2 3 4 5 6 7 8 9 10\ncpu1 10 0 0 0\nintr 5\n";
        let c = parse(t).expect("parse");
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].cpu, "0");
        assert_eq!(c[0].ticks, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        assert_eq!(c[1].ticks[0], 10);
        let mut m = MetricSet::new();
        record(&c, &mut m);
        let t = rtmon::expo::encode_text(&m);
        assert!(
            t.contains("node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} 0.04\n"),
            "{t}"
        );
        assert!(t.contains("node_cpu_guest_seconds_total{cpu=\"0\",mode=\"nice\"} 0.1\n"));
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("1,3-5,9\n"), Ok(vec![1, 3, 4, 5, 9]));
        assert_eq!(parse_cpu_list("\n"), Ok(vec![]));
        assert!(parse_cpu_list("2-x").is_err());
        assert!(parse_cpu_list("5-2").is_err());
    }

    #[test]
    fn cpuinfo_fields_frequency_flags_and_bugs() {
        let t = "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 142\nmodel name\t: Intel(R) X\nstepping\t: 10\nmicrocode\t: 0xb4\ncpu MHz\t\t: 799.998\ncache size\t: 8192 KB\nphysical id\t: 0\ncore id\t\t: 1\nflags\t\t: fpu avx avx2 aes sse\nbugs\t\t: cpu_meltdown spectre_v1 l1tf\n\nprocessor\t: 1\ncore id\t\t: 2\n";
        let info = parse_cpuinfo(t).expect("parse");
        assert_eq!(info.len(), 2);
        assert_eq!(info[0].model_name, "Intel(R) X");
        let mut cfg = Config::with_paths(Default::default());
        cfg.cpu_flags_include = Some(regex::Regex::new("^(aes|avx.?)$").expect("re"));
        cfg.cpu_bugs_include = Some(regex::Regex::new("^spectre_.*$").expect("re"));
        let mut m = MetricSet::new();
        record_info(&cfg, &info, &mut m);
        let t = rtmon::expo::encode_text(&m);
        assert!(t.contains("node_cpu_info{cachesize=\"8192 KB\",core=\"1\",cpu=\"0\",family=\"6\",microcode=\"0xb4\",model=\"142\",model_name=\"Intel(R) X\",package=\"0\",stepping=\"10\",vendor=\"GenuineIntel\"} 1\n"), "{t}");
        assert!(
            t.contains("node_cpu_frequency_hertz{core=\"1\",cpu=\"0\",package=\"0\"} 799998000\n")
        );
        assert!(
            !t.contains("node_cpu_frequency_hertz{core=\"2\""),
            "no MHz, no sample"
        );
        assert!(t.contains("node_cpu_flag_info{flag=\"avx2\"} 1\n"));
        assert!(t.contains("node_cpu_flag_info{flag=\"aes\"} 1\n"));
        assert!(!t.contains("flag=\"sse\""));
        assert!(t.contains("node_cpu_bug_info{bug=\"spectre_v1\"} 1\n"));
        assert!(!t.contains("bug=\"l1tf\""));
        assert!(parse_cpuinfo("processor : 0\ncpu MHz : fast\n").is_err());
    }

    #[test]
    fn throttles_isolated_from_a_sysfs_tree() {
        let d = tempfile::tempdir().expect("tempdir");
        let cpu = d.path().join("sys/devices/system/cpu");
        // cpu0 and cpu1 share package 0 core 0 (hyperthreads): read once.
        for (n, pkg, core, ct, pt) in [(0, 0, 0, 5, 30), (1, 0, 0, 99, 99), (2, 1, 1, 9, 6)] {
            let c = cpu.join(format!("cpu{n}"));
            std::fs::create_dir_all(c.join("topology")).expect("mkdir");
            std::fs::create_dir_all(c.join("thermal_throttle")).expect("mkdir");
            std::fs::write(c.join("topology/physical_package_id"), format!("{pkg}\n")).expect("w");
            std::fs::write(c.join("topology/core_id"), format!("{core}\n")).expect("w");
            std::fs::write(
                c.join("thermal_throttle/core_throttle_count"),
                format!("{ct}\n"),
            )
            .expect("w");
            std::fs::write(
                c.join("thermal_throttle/package_throttle_count"),
                format!("{pt}\n"),
            )
            .expect("w");
        }
        // A CPU without topology is skipped, as upstream.
        std::fs::create_dir_all(cpu.join("cpu3")).expect("mkdir");
        std::fs::write(cpu.join("isolated"), "1\n").expect("w");
        std::fs::create_dir_all(d.path().join("proc")).expect("mkdir");
        std::fs::write(d.path().join("proc/stat"), "cpu0 1 2 3 4 5 6 7 8 9 10\n").expect("w");
        let cfg = Config::fixture(d.path());
        let mut m = MetricSet::new();
        collect(&cfg, &mut m).expect("collect");
        let t = rtmon::expo::encode_text(&m);
        assert!(
            t.contains("node_cpu_package_throttles_total{package=\"0\"} 30\n"),
            "{t}"
        );
        assert!(t.contains("node_cpu_package_throttles_total{package=\"1\"} 6\n"));
        assert!(t.contains("node_cpu_core_throttles_total{core=\"0\",package=\"0\"} 5\n"));
        assert!(t.contains("node_cpu_core_throttles_total{core=\"1\",package=\"1\"} 9\n"));
        assert!(!t.contains(" 99\n"), "second thread of a core is not read");
        assert!(t.contains("node_cpu_isolated{cpu=\"1\"} 1\n"));
        assert!(
            !t.contains("node_cpu_info{"),
            "cpuinfo only with --collector.cpu.info"
        );
        // A malformed isolated file fails the collector, naming the file, but the
        // other series are still there.
        std::fs::write(cpu.join("isolated"), "1-x\n").expect("w");
        let mut m = MetricSet::new();
        let e = collect(&cfg, &mut m).expect_err("bad isolated");
        assert!(e.to_string().contains("isolated"), "{e}");
        assert!(m.contains("node_cpu_seconds_total"));
    }

    #[test]
    fn bad_number_names_line() {
        let e = parse("cpu0 1 x 3\n").expect_err("bad");
        assert_eq!(e.0, 1);
        assert!(e.1.contains("\"x\""));
    }
}
