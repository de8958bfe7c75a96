//! `stat`: boot time, context switches, forks, interrupts and process counts from
//! `/proc/stat`; with `--collector.stat.softirq`, `node_softirqs_total{vector}`.

use rtmon::expo::{MetricSet, MetricType};

use super::{parse_error, read_required, CollectResult};
use crate::config::Config;

/// The non-CPU fields of `/proc/stat` node_exporter exposes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stat {
    /// `btime`.
    pub boot_time: Option<u64>,
    /// `ctxt`.
    pub ctxt: Option<u64>,
    /// `processes`.
    pub forks: Option<u64>,
    /// First number of `intr`.
    pub intr: Option<u64>,
    /// `procs_running`.
    pub procs_running: Option<u64>,
    /// `procs_blocked`.
    pub procs_blocked: Option<u64>,
    /// The per-vector counts of the `softirq` line (after its total), in
    /// [`SOFTIRQ_VECTORS`] order.
    pub softirq: Vec<u64>,
}

/// The vectors of the `softirq` line of `/proc/stat`, with node_exporter's label values.
pub const SOFTIRQ_VECTORS: [&str; 10] = [
    "hi",
    "timer",
    "net_tx",
    "net_rx",
    "block",
    "block_iopoll",
    "tasklet",
    "sched",
    "hrtimer",
    "rcu",
];

/// Parses `/proc/stat` (with the `softirq` line).
pub fn parse(text: &str) -> Result<Stat, (usize, String)> {
    parse_with(text, true)
}

/// Parses `/proc/stat`; the `softirq` line only when `softirq` (it is
/// `--collector.stat.softirq`, off by default).
pub fn parse_with(text: &str, softirq: bool) -> Result<Stat, (usize, String)> {
    let mut s = Stat::default();
    for (i, line) in text.lines().enumerate() {
        let mut it = line.split_ascii_whitespace();
        let key = it.next().unwrap_or("");
        let slot = match key {
            "btime" => &mut s.boot_time,
            "ctxt" => &mut s.ctxt,
            "processes" => &mut s.forks,
            "intr" => &mut s.intr,
            "procs_running" => &mut s.procs_running,
            "procs_blocked" => &mut s.procs_blocked,
            "softirq" if softirq => {
                s.softirq = it
                    .skip(1)
                    .take(SOFTIRQ_VECTORS.len())
                    .map(|v| {
                        v.parse()
                            .map_err(|_| (i + 1, format!("softirq: invalid number {v:?}")))
                    })
                    .collect::<Result<_, _>>()?;
                continue;
            }
            _ => continue,
        };
        let v = it.next().unwrap_or("");
        *slot = Some(
            v.parse()
                .map_err(|_| (i + 1, format!("{key}: invalid number {v:?}")))?,
        );
    }
    Ok(s)
}

/// Appends the samples.
pub fn record(s: &Stat, out: &mut MetricSet) {
    if let Some(v) = s.intr {
        out.counter(
            "node_intr_total",
            "Total number of interrupts serviced.",
            &[],
            v,
        );
    }
    if let Some(v) = s.ctxt {
        out.counter(
            "node_context_switches_total",
            "Total number of context switches.",
            &[],
            v,
        );
    }
    if let Some(v) = s.forks {
        out.counter("node_forks_total", "Total number of forks.", &[], v);
    }
    if let Some(v) = s.boot_time {
        out.gauge(
            "node_boot_time_seconds",
            "Node boot time, in unixtime.",
            &[],
            v,
        );
    }
    if let Some(v) = s.procs_running {
        out.gauge(
            "node_procs_running",
            "Number of processes in runnable state.",
            &[],
            v,
        );
    }
    if let Some(v) = s.procs_blocked {
        out.family(
            "node_procs_blocked",
            "Number of processes blocked waiting for I/O to complete.",
            MetricType::Gauge,
        )
        .add(&[], v);
    }
}

/// Appends `node_softirqs_total{vector}` (`--collector.stat.softirq`).
pub fn record_softirq(s: &Stat, out: &mut MetricSet) {
    for (vector, v) in SOFTIRQ_VECTORS.iter().zip(&s.softirq) {
        out.counter(
            "node_softirqs_total",
            "Number of softirq calls.",
            &[("vector", vector)],
            *v,
        );
    }
}

/// Reads `/proc/stat`.
pub fn collect(cfg: &Config, out: &mut MetricSet) -> CollectResult {
    let path = cfg.paths.proc("stat");
    let text = read_required(&path)?;
    let s = parse_with(&text, cfg.stat_softirq).map_err(|(l, m)| parse_error(&path, l, m))?;
    record(&s, out);
    if cfg.stat_softirq {
        record_softirq(&s, out);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fields() {
        let s = parse("cpu 1 2\nintr 55 1 2\nctxt 7\nbtime 1700000000\nprocesses 9\nprocs_running 2\nprocs_blocked 0\n")
            .expect("parse");
        assert_eq!(s.intr, Some(55));
        assert_eq!(s.ctxt, Some(7));
        assert_eq!(s.boot_time, Some(1_700_000_000));
        assert_eq!(s.forks, Some(9));
        assert_eq!(s.procs_running, Some(2));
        assert_eq!(s.procs_blocked, Some(0));
        let e = parse("ctxt lots\n").expect_err("bad");
        assert_eq!(e.0, 1);
    }

    #[test]
    fn softirq_vectors() {
        let s = parse(
            "softirq 5057579 250191 1481983 1647 211099 186066 0 1783454 622196 12499 508444\n",
        )
        .expect("parse");
        assert_eq!(s.softirq.len(), 10);
        let mut m = MetricSet::new();
        record_softirq(&s, &mut m);
        let t = rtmon::expo::encode_text(&m);
        assert!(
            t.contains("node_softirqs_total{vector=\"hi\"} 250191\n"),
            "{t}"
        );
        assert!(t.contains("node_softirqs_total{vector=\"block_iopoll\"} 0\n"));
        assert!(t.contains("node_softirqs_total{vector=\"rcu\"} 508444\n"));
        assert_eq!(parse("softirq 1 2 x\n").expect_err("bad").0, 1);
        assert!(parse_with("softirq 1 2 x\n", false)
            .expect("not read")
            .softirq
            .is_empty());
    }
}
