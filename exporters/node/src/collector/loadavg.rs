//! `loadavg`: `node_load1`, `node_load5`, `node_load15` from `/proc/loadavg`.

use rtmon::expo::MetricSet;

use super::{parse_error, read_required, CollectResult};
use crate::config::Config;

/// Parses the three load averages.
pub fn parse(text: &str) -> Result<[f64; 3], String> {
    let mut it = text.split_ascii_whitespace();
    let mut v = [0f64; 3];
    for slot in &mut v {
        let f = it.next().ok_or("fewer than 3 fields")?;
        *slot = f
            .parse()
            .map_err(|_| format!("invalid load average {f:?}"))?;
    }
    Ok(v)
}

/// Reads `/proc/loadavg`.
pub fn collect(cfg: &Config, out: &mut MetricSet) -> CollectResult {
    let path = cfg.paths.proc("loadavg");
    let text = read_required(&path)?;
    let v = parse(&text).map_err(|m| parse_error(&path, 1, m))?;
    out.gauge("node_load1", "1m load average.", &[], v[0]);
    out.gauge("node_load5", "5m load average.", &[], v[1]);
    out.gauge("node_load15", "15m load average.", &[], v[2]);
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses() {
        assert_eq!(
            super::parse("0.23 0.14 0.12 1/200 33\n"),
            Ok([0.23, 0.14, 0.12])
        );
        assert!(super::parse("0.1 x").is_err());
        assert!(super::parse("").is_err());
    }
}
