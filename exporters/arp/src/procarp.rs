//! `/proc/net/arp` parser (the fallback source: IPv4 only, no NUD states, no events).

use crate::model::{parse_mac, Key, Neighbour, NudState};

/// ATF_COM: the entry is resolved.
const ATF_COM: u32 = 0x02;
/// ATF_PERM: static entry.
const ATF_PERM: u32 = 0x04;

/// Parses the content of `/proc/net/arp`. `file` names the source in errors.
///
/// Columns: `IP address, HW type, Flags, HW address, Mask, Device`. Flags map to a
/// state: ATF_PERM → `permanent`, ATF_COM → `complete`, otherwise `incomplete`.
pub fn parse(text: &str, file: &str) -> Result<Vec<Neighbour>, String> {
    let mut out = Vec::new();
    let mut lines = text.lines().enumerate();
    match lines.next() {
        Some((_, h)) if h.starts_with("IP address") => {}
        Some((_, h)) => return Err(format!("{file}:1: unexpected header {h:?}")),
        None => return Ok(out),
    }
    for (i, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let line_no = i + 1;
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 6 {
            return Err(format!(
                "{file}:{line_no}: expected 6 columns, got {}",
                f.len()
            ));
        }
        let ip = f[0]
            .parse()
            .map_err(|_| format!("{file}:{line_no}: invalid IP address {:?}", f[0]))?;
        let flags = u32::from_str_radix(f[2].trim_start_matches("0x"), 16)
            .map_err(|_| format!("{file}:{line_no}: invalid flags {:?}", f[2]))?;
        let mac = parse_mac(f[3]).map_err(|e| format!("{file}:{line_no}: {e}"))?;
        let state = if flags & ATF_PERM != 0 {
            NudState::Permanent
        } else if flags & ATF_COM != 0 {
            NudState::Complete
        } else {
            NudState::Incomplete
        };
        out.push(Neighbour {
            key: Key {
                device: f[5].to_string(),
                ip,
            },
            mac,
            state,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str =
        "IP address       HW type     Flags       HW address            Mask     Device
10.203.0.2       0x1         0x2         02:aa:bb:cc:dd:02     *        veth0
10.203.0.3       0x1         0x0         00:00:00:00:00:00     *        veth0
192.168.1.1      0x1         0x6         52:54:00:12:34:56     *        eth0
";

    #[test]
    fn parses_fixture() {
        let v = parse(FIXTURE, "arp").expect("parse");
        assert_eq!(v.len(), 3);
        assert_eq!(v[0].key.ip.to_string(), "10.203.0.2");
        assert_eq!(v[0].key.device, "veth0");
        assert_eq!(v[0].mac.as_deref(), Some("02:aa:bb:cc:dd:02"));
        assert_eq!(v[0].state, NudState::Complete);
        assert_eq!(v[1].mac, None);
        assert_eq!(v[1].state, NudState::Incomplete);
        assert_eq!(v[2].state, NudState::Permanent);
    }

    #[test]
    fn errors_name_file_and_line() {
        let bad =
            "IP address HW type Flags HW address Mask Device\n10.0.0.1 0x1 0x2 zz:00 * eth0\n";
        let e = parse(bad, "/proc/net/arp").expect_err("bad mac");
        assert!(e.starts_with("/proc/net/arp:2:"), "{e}");
        let e = parse("IP address x\n1.2.3 0x1\n", "f").expect_err("short");
        assert!(e.contains("f:2: expected 6 columns"), "{e}");
        let e = parse("garbage\n", "f").expect_err("header");
        assert!(e.contains("f:1"), "{e}");
        assert_eq!(parse("", "f"), Ok(vec![]));
    }
}
