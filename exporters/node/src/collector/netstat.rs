//! `netstat`: `/proc/net/netstat`, `/proc/net/snmp` and `/proc/net/snmp6` as
//! `node_netstat_<Proto>_<Field>` (untyped), filtered by `--collector.netstat.fields`.

use rtmon::expo::{MetricSet, MetricType};

use super::{io_error, parse_error, CollectError, CollectResult};
use crate::config::Config;

/// Parses the paired header/value line format of `netstat` and `snmp`:
/// `Tcp: A B` / `Tcp: 1 2` → (`Tcp_A`, 1), (`Tcp_B`, 2).
pub fn parse_pairs(text: &str, out: &mut Vec<(String, f64)>) -> Result<(), (usize, String)> {
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
            out.push((format!("{proto}_{name}"), val));
        }
    }
    Ok(())
}

/// Parses `/proc/net/snmp6` (`Ip6InOctets 128` → (`Ip6_InOctets`, 128)); like
/// node_exporter, the protocol ends at the first `6` and lines without one are skipped.
pub fn parse_snmp6(text: &str, out: &mut Vec<(String, f64)>) -> Result<(), (usize, String)> {
    for (i, line) in text.lines().enumerate() {
        let mut it = line.split_ascii_whitespace();
        let (Some(key), Some(value)) = (it.next(), it.next()) else {
            continue;
        };
        let Some(six) = key.find('6') else { continue };
        let val: f64 = value
            .parse()
            .map_err(|_| (i + 1, format!("{key}: invalid value {value:?}")))?;
        out.push((format!("{}_{}", &key[..=six], &key[six + 1..]), val));
    }
    Ok(())
}

/// Reads the three files (snmp6 is optional: no IPv6).
pub fn collect(cfg: &Config, out: &mut MetricSet) -> CollectResult {
    let mut stats = Vec::with_capacity(256);
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
            parse_snmp6(&text, &mut stats)
        } else {
            parse_pairs(&text, &mut stats)
        };
        r.map_err(|(l, m)| parse_error(&path, l, m))?;
    }
    if stats.is_empty() {
        return Err(CollectError::Failed("no netstat fields found".into()));
    }
    let mut name = String::with_capacity(64);
    let mut help = String::with_capacity(64);
    for (key, v) in &stats {
        if !cfg.netstat_fields.is_match(key) {
            continue;
        }
        name.clear();
        name.push_str("node_netstat_");
        name.push_str(key);
        help.clear();
        help.push_str("Statistic ");
        help.extend(key.chars().filter(|&c| c != '_').take(0));
        // node_exporter's help is protocol + field without the separator.
        if let Some((p, f)) = key.split_once('_') {
            help.push_str(p);
            help.push_str(f);
        }
        help.push('.');
        out.family(&name, &help, MetricType::Untyped).add(&[], *v);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_and_snmp6() {
        let mut v = Vec::new();
        parse_pairs(
            "Tcp: RtoAlgorithm CurrEstab\nTcp: 1 5\nUdp: InDatagrams\nUdp: 7\n",
            &mut v,
        )
        .expect("parse");
        assert_eq!(
            v,
            vec![
                ("Tcp_RtoAlgorithm".into(), 1.0),
                ("Tcp_CurrEstab".into(), 5.0),
                ("Udp_InDatagrams".into(), 7.0)
            ]
        );
        v.clear();
        parse_snmp6(
            "Ip6InOctets  128\nUdpLite6InErrors 0\nIcmp6InMsgs 3\n",
            &mut v,
        )
        .expect("parse");
        assert_eq!(v[0], ("Ip6_InOctets".into(), 128.0));
        assert_eq!(v[1], ("UdpLite6_InErrors".into(), 0.0));
        assert_eq!(v[2], ("Icmp6_InMsgs".into(), 3.0));
        let e = parse_pairs("Tcp: A\nUdp: 1\n", &mut v).expect_err("mismatch");
        assert_eq!(e.0, 2);
        assert!(parse_pairs("Tcp: A\n", &mut v).is_err());
    }
}
