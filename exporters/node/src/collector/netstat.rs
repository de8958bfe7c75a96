//! `netstat`: `/proc/net/netstat`, `/proc/net/snmp` and `/proc/net/snmp6` as
//! `node_netstat_<Proto>_<Field>` (untyped), filtered by `--collector.netstat.fields`.

use rtmon::expo::{MetricSet, MetricType};

use super::{io_error, parse_error, CollectError, CollectResult};
use crate::config::Config;

/// Parses the paired header/value line format of `netstat` and `snmp`:
/// `Tcp: A B` / `Tcp: 1 2` → `f("Tcp", "A", 1.0)`, `f("Tcp", "B", 2.0)`.
pub fn parse_pairs(text: &str, f: &mut impl FnMut(&str, &str, f64)) -> Result<(), (usize, String)> {
    let mut lines = text.lines().enumerate();
    while let Some((i, names)) = lines.next() {
        if names.trim().is_empty() {
            continue;
        }
        let Some((_, values)) = lines.next() else {
            return Err((i + 1, "header line without a value line".into()));
        };
        let mut n = names.split_ascii_whitespace();
        let mut v = values.split_ascii_whitespace();
        let (Some(proto), Some(proto2)) = (n.next(), v.next()) else {
            return Err((i + 2, "empty line".into()));
        };
        if proto != proto2 {
            return Err((
                i + 2,
                format!("protocol {proto2:?} does not match header {proto:?}"),
            ));
        }
        let proto = proto.trim_end_matches(':');
        for (name, value) in n.zip(v) {
            let val: f64 = value
                .parse()
                .map_err(|_| (i + 2, format!("{proto}{name}: invalid value {value:?}")))?;
            f(proto, name, val);
        }
    }
    Ok(())
}

/// Parses `/proc/net/snmp6` (`Ip6InOctets 128` → (`Ip6_InOctets`, 128)); like
/// node_exporter, the protocol ends at the first `6` and lines without one are skipped.
pub fn parse_snmp6(text: &str, f: &mut impl FnMut(&str, &str, f64)) -> Result<(), (usize, String)> {
    for (i, line) in text.lines().enumerate() {
        let mut it = line.split_ascii_whitespace();
        let (Some(key), Some(value)) = (it.next(), it.next()) else {
            continue;
        };
        let Some(six) = key.find('6') else { continue };
        let val: f64 = value
            .parse()
            .map_err(|_| (i + 1, format!("{key}: invalid value {value:?}")))?;
        f(&key[..=six], &key[six + 1..], val);
    }
    Ok(())
}

/// Reads the three files (snmp6 is optional: no IPv6).
pub fn collect(cfg: &Config, out: &mut MetricSet) -> CollectResult {
    let mut key = String::with_capacity(64);
    let mut name = String::with_capacity(64);
    let mut help = String::with_capacity(64);
    let mut seen = 0usize;
    let mut emit = |proto: &str, field: &str, v: f64| {
        seen += 1;
        key.clear();
        key.push_str(proto);
        key.push('_');
        key.push_str(field);
        if !cfg.netstat_fields.is_match(&key) {
            return;
        }
        name.clear();
        name.push_str("node_netstat_");
        name.push_str(&key);
        help.clear();
        help.push_str("Statistic ");
        help.push_str(proto);
        help.push_str(field);
        help.push('.');
        out.family(&name, &help, MetricType::Untyped).add(&[], v);
    };
    for (file, optional) in [
        ("net/netstat", false),
        ("net/snmp", false),
        ("net/snmp6", true),
    ] {
        let path = cfg.paths.proc(file);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if optional && e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_error(&path, &e)),
        };
        let r = if file == "net/snmp6" {
            parse_snmp6(&text, &mut emit)
        } else {
            parse_pairs(&text, &mut emit)
        };
        r.map_err(|(l, m)| parse_error(&path, l, m))?;
    }
    if seen == 0 {
        return Err(CollectError::Failed("no netstat fields found".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(t: &str) -> Result<Vec<(String, f64)>, (usize, String)> {
        let mut v = Vec::new();
        parse_pairs(t, &mut |p: &str, n: &str, x| {
            v.push((format!("{p}_{n}"), x))
        })?;
        Ok(v)
    }

    fn snmp6(t: &str) -> Vec<(String, f64)> {
        let mut v = Vec::new();
        parse_snmp6(t, &mut |p: &str, n: &str, x| {
            v.push((format!("{p}_{n}"), x))
        })
        .expect("parse");
        v
    }

    #[test]
    fn pairs_and_snmp6() {
        let v = pairs("Tcp: RtoAlgorithm CurrEstab\nTcp: 1 5\nUdp: InDatagrams\nUdp: 7\n")
            .expect("parse");
        assert_eq!(
            v,
            vec![
                ("Tcp_RtoAlgorithm".into(), 1.0),
                ("Tcp_CurrEstab".into(), 5.0),
                ("Udp_InDatagrams".into(), 7.0)
            ]
        );
        let v = snmp6("Ip6InOctets  128\nUdpLite6InErrors 0\nIcmp6InMsgs 3\n");
        assert_eq!(v[0], ("Ip6_InOctets".into(), 128.0));
        assert_eq!(v[1], ("UdpLite6_InErrors".into(), 0.0));
        assert_eq!(v[2], ("Icmp6_InMsgs".into(), 3.0));
        assert_eq!(pairs("Tcp: A\nUdp: 1\n").expect_err("mismatch").0, 2);
        assert!(pairs("Tcp: A\n").is_err());
    }
}
