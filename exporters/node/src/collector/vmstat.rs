//! `vmstat`: `/proc/vmstat` fields matching `--collector.vmstat.fields` as
//! `node_vmstat_<field>` (untyped).

use rtmon::expo::{MetricSet, MetricType};

use super::{parse_error, read_required, CollectResult};
use crate::config::Config;

/// Parses `name value` lines.
pub fn parse(text: &str) -> Result<Vec<(&str, f64)>, (usize, String)> {
    let mut out = Vec::with_capacity(200);
    for (i, line) in text.lines().enumerate() {
        let mut it = line.split_ascii_whitespace();
        let (Some(k), Some(v)) = (it.next(), it.next()) else {
            continue;
        };
        let v: f64 = v
            .parse()
            .map_err(|_| (i + 1, format!("{k}: invalid value {v:?}")))?;
        out.push((k, v));
    }
    Ok(out)
}

/// Reads `/proc/vmstat`.
pub fn collect(cfg: &Config, out: &mut MetricSet) -> CollectResult {
    let path = cfg.paths.proc("vmstat");
    let text = read_required(&path)?;
    let fields = parse(&text).map_err(|(l, m)| parse_error(&path, l, m))?;
    let mut name = String::with_capacity(48);
    let mut help = String::with_capacity(64);
    for (k, v) in fields {
        if !cfg.vmstat_fields.is_match(k) {
            continue;
        }
        name.clear();
        name.push_str("node_vmstat_");
        name.push_str(k);
        help.clear();
        help.push_str("/proc/vmstat information field ");
        help.push_str(k);
        help.push('.');
        out.family(&name, &help, MetricType::Untyped).add(&[], v);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses() {
        assert_eq!(
            super::parse("pgfault 5\noom_kill 0\n"),
            Ok(vec![("pgfault", 5.0), ("oom_kill", 0.0)])
        );
        assert!(super::parse("pgfault x\n").is_err());
    }
}
