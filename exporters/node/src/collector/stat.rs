//! `stat`: boot time, context switches, forks, interrupts and process counts from
//! `/proc/stat`.

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
}

/// Parses `/proc/stat`.
pub fn parse(text: &str) -> Result<Stat, (usize, String)> {
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

/// Reads `/proc/stat`.
pub fn collect(cfg: &Config, out: &mut MetricSet) -> CollectResult {
    let path = cfg.paths.proc("stat");
    let text = read_required(&path)?;
    let s = parse(&text).map_err(|(l, m)| parse_error(&path, l, m))?;
    record(&s, out);
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
}
