//! `cpu`: `node_cpu_seconds_total{cpu,mode}` and `node_cpu_guest_seconds_total{cpu,mode}`
//! from the per-CPU lines of `/proc/stat`.

use rtmon::expo::{MetricSet, MetricType};

use super::{parse_error, read_required, CollectResult};
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

/// Reads `/proc/stat`.
pub fn collect(cfg: &Config, out: &mut MetricSet) -> CollectResult {
    let path = cfg.paths.proc("stat");
    let text = read_required(&path)?;
    let cpus = parse(&text).map_err(|(l, m)| parse_error(&path, l, m))?;
    record(&cpus, out);
    Ok(())
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
    fn bad_number_names_line() {
        let e = parse("cpu0 1 x 3\n").expect_err("bad");
        assert_eq!(e.0, 1);
        assert!(e.1.contains("\"x\""));
    }
}
