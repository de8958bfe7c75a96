//! `meminfo`: every `/proc/meminfo` field as `node_memory_<Field>[_bytes]`, named as
//! node_exporter does (`Active(anon)` → `Active_anon`, kB values → bytes).

use rtmon::expo::{MetricSet, MetricType};

use super::{parse_error, read_required, CollectResult};
use crate::config::Config;

/// Parses `/proc/meminfo` into (metric name, value) pairs.
pub fn parse(text: &str) -> Result<Vec<(String, f64)>, (usize, String)> {
    let mut out = Vec::with_capacity(64);
    for (i, line) in text.lines().enumerate() {
        let mut it = line.split_ascii_whitespace();
        let Some(key) = it.next() else { continue };
        let key = key.strip_suffix(':').unwrap_or(key);
        let v = it.next().ok_or((i + 1, format!("{key}: missing value")))?;
        let mut v: f64 = v
            .parse()
            .map_err(|_| (i + 1, format!("{key}: invalid value {v:?}")))?;
        let unit = it.next();
        let mut name = String::with_capacity(key.len() + 20);
        name.push_str("node_memory_");
        for c in key.chars() {
            match c {
                '(' => name.push('_'),
                ')' => {}
                c if c.is_ascii_alphanumeric() || c == '_' => name.push(c),
                _ => name.push('_'),
            }
        }
        if unit.is_some() {
            v *= 1024.0;
            name.push_str("_bytes");
        }
        out.push((name, v));
    }
    Ok(out)
}

/// Reads `/proc/meminfo`.
pub fn collect(cfg: &Config, out: &mut MetricSet) -> CollectResult {
    let path = cfg.paths.proc("meminfo");
    let text = read_required(&path)?;
    let fields = parse(&text).map_err(|(l, m)| parse_error(&path, l, m))?;
    let mut help = String::with_capacity(64);
    for (name, v) in fields {
        help.clear();
        help.push_str("Memory information field ");
        help.push_str(&name["node_memory_".len()..]);
        help.push('.');
        out.family(&name, &help, MetricType::Gauge).add(&[], v);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_follow_node_exporter() {
        let f = super::parse(
            "MemTotal:       16 kB\nActive(anon):    2 kB\nHugePages_Total:       3\n",
        )
        .expect("parse");
        assert_eq!(
            f,
            vec![
                ("node_memory_MemTotal_bytes".to_string(), 16384.0),
                ("node_memory_Active_anon_bytes".to_string(), 2048.0),
                ("node_memory_HugePages_Total".to_string(), 3.0),
            ]
        );
        let e = super::parse("MemTotal: lots kB\n").expect_err("bad");
        assert_eq!(e.0, 1);
    }
}
