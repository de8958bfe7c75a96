//! `pressure`: pressure stall information from `/proc/pressure/{cpu,io,memory}` and,
//! where the kernel has it, `/proc/pressure/irq`.

use rtmon::expo::{MetricSet, MetricType};

use super::{parse_error, read_required, CollectError, CollectResult};
use crate::config::Config;

/// The `total=` microseconds of the `some` and `full` lines.
pub fn parse(text: &str) -> Result<(Option<u64>, Option<u64>), (usize, String)> {
    let (mut some, mut full) = (None, None);
    for (i, line) in text.lines().enumerate() {
        let mut it = line.split_ascii_whitespace();
        let slot = match it.next() {
            Some("some") => &mut some,
            Some("full") => &mut full,
            _ => continue,
        };
        let total = it
            .find_map(|f| f.strip_prefix("total="))
            .ok_or((i + 1, "missing total=".to_string()))?;
        *slot = Some(
            total
                .parse()
                .map_err(|_| (i + 1, format!("invalid total {total:?}")))?,
        );
    }
    Ok((some, full))
}

/// Reads the three PSI files; no `/proc/pressure` means not applicable.
pub fn collect(cfg: &Config, out: &mut MetricSet) -> CollectResult {
    let dir = cfg.paths.proc("pressure");
    if !dir.is_dir() {
        return Err(CollectError::NotApplicable(format!(
            "{} does not exist (kernel without PSI)",
            dir.display()
        )));
    }
    for res in ["cpu", "io", "memory", "irq"] {
        let path = dir.join(res);
        // irq (Linux 6.1+, CONFIG_IRQ_TIME_ACCOUNTING) is optional, as upstream.
        let text = match read_required(&path) {
            Err(CollectError::NotApplicable(_)) if res == "irq" => continue,
            r => r?,
        };
        let (some, full) = parse(&text).map_err(|(l, m)| parse_error(&path, l, m))?;
        // µs → ms → s, in node_exporter's order, so values are bit-identical.
        let secs = |us: u64| us as f64 / 1000.0 / 1000.0;
        match res {
            "cpu" => {
                if let Some(s) = some {
                    out.family(
                        "node_pressure_cpu_waiting_seconds_total",
                        "Total time in seconds that processes have waited for CPU time",
                        MetricType::Counter,
                    )
                    .add(&[], secs(s));
                }
            }
            "io" => {
                if let Some(s) = some {
                    out.family(
                        "node_pressure_io_waiting_seconds_total",
                        "Total time in seconds that processes have waited due to IO congestion",
                        MetricType::Counter,
                    )
                    .add(&[], secs(s));
                }
                if let Some(f) = full {
                    out.family(
                        "node_pressure_io_stalled_seconds_total",
                        "Total time in seconds no process could make progress due to IO congestion",
                        MetricType::Counter,
                    )
                    .add(&[], secs(f));
                }
            }
            "irq" => {
                if let Some(f) = full {
                    out.family(
                        "node_pressure_irq_stalled_seconds_total",
                        "Total time in seconds no process could make progress due to IRQ congestion",
                        MetricType::Counter,
                    )
                    .add(&[], secs(f));
                }
            }
            _ => {
                if let Some(s) = some {
                    out.family(
                        "node_pressure_memory_waiting_seconds_total",
                        "Total time in seconds that processes have waited for memory",
                        MetricType::Counter,
                    )
                    .add(&[], secs(s));
                }
                if let Some(f) = full {
                    out.family("node_pressure_memory_stalled_seconds_total", "Total time in seconds no process could make progress due to memory congestion", MetricType::Counter).add(&[], secs(f));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_some_and_full() {
        let t = "some avg10=3.55 avg60=6.38 avg300=2.51 total=21028002\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=7\n";
        assert_eq!(super::parse(t), Ok((Some(21028002), Some(7))));
        assert!(super::parse("some avg10=1\n").is_err());
    }

    #[test]
    fn irq_is_read_when_present() {
        let d = tempfile::tempdir().expect("tempdir");
        let p = d.path().join("proc/pressure");
        std::fs::create_dir_all(&p).expect("mkdir");
        for f in ["cpu", "io", "memory"] {
            std::fs::write(p.join(f), "some avg10=0.00 avg60=0.00 avg300=0.00 total=5\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=3\n").expect("w");
        }
        let cfg = crate::config::Config::fixture(d.path());
        let mut m = rtmon::expo::MetricSet::new();
        super::collect(&cfg, &mut m).expect("without irq");
        assert!(!m.contains("node_pressure_irq_stalled_seconds_total"));
        std::fs::write(
            p.join("irq"),
            "full avg10=0.00 avg60=0.00 avg300=0.00 total=8494\n",
        )
        .expect("w");
        let mut m = rtmon::expo::MetricSet::new();
        super::collect(&cfg, &mut m).expect("with irq");
        let t = rtmon::expo::encode_text(&m);
        assert!(
            t.contains("node_pressure_irq_stalled_seconds_total 0.008494\n"),
            "{t}"
        );
    }
}
