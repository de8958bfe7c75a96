//! `sockstat`: `/proc/net/sockstat` and `sockstat6` as `node_sockstat_<PROTO>_<state>`
//! gauges (plus `*_mem_bytes` in bytes and `node_sockstat_sockets_used`).

use rtmon::expo::{MetricSet, MetricType};

use super::{io_error, parse_error, CollectResult};
use crate::config::Config;

/// Parses `PROTO: key value key value …` lines into (`PROTO_key`, value).
pub fn parse(text: &str, out: &mut Vec<(String, u64)>) -> Result<(), (usize, String)> {
    for (i, line) in text.lines().enumerate() {
        let Some((proto, rest)) = line.split_once(':') else {
            continue;
        };
        let mut it = rest.split_ascii_whitespace();
        while let Some(k) = it.next() {
            let v = it
                .next()
                .ok_or((i + 1, format!("{proto} {k}: missing value")))?;
            let v: u64 = v
                .parse()
                .map_err(|_| (i + 1, format!("{proto} {k}: invalid value {v:?}")))?;
            out.push((format!("{proto}_{k}"), v));
        }
    }
    Ok(())
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 {
        p as u64
    } else {
        4096
    }
}

/// Appends samples; `mem` fields also as `_mem_bytes` (pages × page size).
pub fn record(stats: &[(String, u64)], page: u64, out: &mut MetricSet) {
    let mut name = String::with_capacity(48);
    let mut help = String::with_capacity(64);
    for (key, v) in stats {
        if key == "sockets_used" {
            out.gauge(
                "node_sockstat_sockets_used",
                "Number of IPv4 sockets in use.",
                &[],
                *v,
            );
            continue;
        }
        let Some((proto, state)) = key.split_once('_') else {
            continue;
        };
        let mut emit = |state: &str, v: u64| {
            name.clear();
            name.push_str("node_sockstat_");
            name.push_str(proto);
            name.push('_');
            name.push_str(state);
            help.clear();
            help.push_str("Number of ");
            help.push_str(proto);
            help.push_str(" sockets in state ");
            help.push_str(state);
            help.push('.');
            out.family(&name, &help, MetricType::Gauge).add(&[], v);
        };
        emit(state, *v);
        if state == "mem" {
            emit("mem_bytes", v.saturating_mul(page));
        }
    }
}

/// Reads both files (`sockstat6` is optional).
pub fn collect(cfg: &Config, out: &mut MetricSet) -> CollectResult {
    let mut stats = Vec::with_capacity(24);
    for (file, optional) in [("net/sockstat", false), ("net/sockstat6", true)] {
        let path = cfg.paths.proc(file);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if optional && e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_error(&path, &e)),
        };
        parse(&text, &mut stats).map_err(|(l, m)| parse_error(&path, l, m))?;
    }
    record(&stats, page_size(), out);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_records() {
        let mut s = Vec::new();
        parse("sockets: used 27\nTCP: inuse 4 orphan 0 tw 0 alloc 4 mem 21\nFRAG6: inuse 0 memory 0\n", &mut s)
            .expect("parse");
        assert_eq!(s[0], ("sockets_used".into(), 27));
        let mut m = MetricSet::new();
        record(&s, 4096, &mut m);
        let t = rtmon::expo::encode_text(&m);
        assert!(t.contains("node_sockstat_sockets_used 27\n"));
        assert!(t.contains("node_sockstat_TCP_mem 21\n"));
        assert!(t.contains("node_sockstat_TCP_mem_bytes 86016\n"));
        assert!(t.contains("node_sockstat_FRAG6_memory 0\n"));
        assert!(parse("TCP: inuse\n", &mut s).is_err());
    }
}
