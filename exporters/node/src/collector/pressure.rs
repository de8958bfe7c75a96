//! `pressure`: pressure stall information from `/proc/pressure/{cpu,io,memory}`.

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
    for res in ["cpu", "io", "memory"] {
        let path = dir.join(res);
        let text = read_required(&path)?;
        let (some, full) = parse(&text).map_err(|(l, m)| parse_error(&path, l, m))?;
        let secs = |us: u64| us as f64 / 1e6;
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
}
