//! SNMP agents for tests: Debian's net-snmp `snmpd` (v2c community + v3 users) and
//! `snmpsim` serving generated switches, each on a free loopback UDP port, killed on
//! drop, in a temp dir.
//!
//! ```no_run
//! let agent = rtmon_testkit::snmp::Snmpd::start().unwrap();
//! let sim = rtmon_testkit::snmp::Snmpsim::start(&[("switch48", 48, 0)]).unwrap();
//! // sim.addr(), community "switch48", v3 user SIM_V3_USER with context "switch48"
//! ```
//!
//! The switch generator ([`switch_snmprec`]) is deterministic, so tests can assert exact
//! values: see [`expected`] for the formulas.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::{free_udp_port, wait_for, Proc};

/// v2c community of [`Snmpd`] (also used to check that secrets never leak).
pub const SNMPD_COMMUNITY: &str = "rtmon-s3cret-comm";
/// v3 user of [`Snmpd`]: SHA + AES-128, authPriv.
pub const SNMPD_V3_USER: &str = "rtmonv3";
/// v3 user of [`Snmpd`]: SHA-256 + AES-128, authPriv.
pub const SNMPD_V3_SHA256_USER: &str = "rtmonsha256";
/// v3 auth password of both snmpd users and the snmpsim user.
pub const V3_AUTH_PASS: &str = "authpass123";
/// v3 privacy password of both snmpd users and the snmpsim user.
pub const V3_PRIV_PASS: &str = "privpass123";
/// v3 user of [`Snmpsim`]: SHA + AES-128 (context name = switch file stem).
pub const SIM_V3_USER: &str = "simv3";

/// A running net-snmp snmpd on 127.0.0.1.
pub struct Snmpd {
    /// UDP port.
    pub port: u16,
    /// The temp dir (config, log, persistent state).
    pub dir: tempfile::TempDir,
    _proc: Proc,
}

impl Snmpd {
    /// Starts snmpd on a free port with [`SNMPD_COMMUNITY`] and the v3 users, and waits
    /// until it answers.
    pub fn start() -> anyhow::Result<Snmpd> {
        let dir = tempfile::tempdir()?;
        let port = free_udp_port();
        let conf = dir.path().join("snmpd.conf");
        std::fs::create_dir_all(dir.path().join("persist"))?;
        std::fs::write(
            &conf,
            format!(
                "agentAddress udp:127.0.0.1:{port}\n\
                 rocommunity {SNMPD_COMMUNITY} 127.0.0.1\n\
                 createUser {SNMPD_V3_USER} SHA \"{V3_AUTH_PASS}\" AES \"{V3_PRIV_PASS}\"\n\
                 createUser {SNMPD_V3_SHA256_USER} SHA-256 \"{V3_AUTH_PASS}\" AES \"{V3_PRIV_PASS}\"\n\
                 rouser {SNMPD_V3_USER} priv\n\
                 rouser {SNMPD_V3_SHA256_USER} priv\n\
                 sysName rtmon-test-snmpd\n"
            ),
        )?;
        let mut cmd = Command::new("snmpd");
        cmd.env("SNMP_PERSISTENT_DIR", dir.path().join("persist"))
            .arg("-f")
            .arg("-Lf")
            .arg(dir.path().join("snmpd.log"))
            .arg("-C")
            .arg("-c")
            .arg(&conf)
            .arg("-m")
            .arg("");
        let proc = Proc::spawn("snmpd", cmd, Some(&dir.path().join("stdout.log")))?;
        let addr = format!("127.0.0.1:{port}");
        if !wait_until_answers(&addr, SNMPD_COMMUNITY, Duration::from_secs(15)) {
            anyhow::bail!("snmpd did not answer on {addr}");
        }
        Ok(Snmpd {
            port,
            dir,
            _proc: proc,
        })
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

/// Polls with net-snmp's `snmpget` until the agent answers sysUpTime.0.
pub fn wait_until_answers(addr: &str, community: &str, timeout: Duration) -> bool {
    wait_for(timeout, || {
        Command::new("snmpget")
            .args([
                "-m", "", "-On", "-v2c", "-c", community, "-t", "0.5", "-r", "0", addr,
            ])
            .arg(".1.3.6.1.2.1.1.3.0")
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|_| ())
    })
    .is_some()
}

/// Path of `snmpsim-command-responder`: `$RTMON_VENV/bin`, `/opt/rtmon-venv/bin`, PATH.
pub fn snmpsim_binary() -> Option<PathBuf> {
    let venv = std::env::var_os("RTMON_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/rtmon-venv"));
    let p = venv.join("bin/snmpsim-command-responder");
    if p.is_file() {
        return Some(p);
    }
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join("snmpsim-command-responder"))
            .find(|p| p.is_file())
    })
}

/// A running snmpsim serving generated switches.
pub struct Snmpsim {
    /// UDP port.
    pub port: u16,
    /// The temp dir (data, cache, log).
    pub dir: tempfile::TempDir,
    _proc: Proc,
}

impl Snmpsim {
    /// Starts snmpsim with one generated switch per `(name, ports, ifindex_base)`.
    /// The community (and v3 context) of each is its `name`.
    pub fn start(switches: &[(&str, u32, u32)]) -> anyhow::Result<Snmpsim> {
        let recordings: Vec<(String, Vec<u8>)> = switches
            .iter()
            .map(|(name, ports, base)| {
                (
                    name.to_string(),
                    switch_snmprec(name, *ports, *base).into_bytes(),
                )
            })
            .collect();
        Snmpsim::serve(&recordings, Duration::from_secs(60))
    }

    /// Starts one snmpsim serving the given snmprec recordings `(community, content)`,
    /// and waits (up to `timeout`, snmpsim indexes every file first) until each
    /// community answers.
    pub fn serve(recordings: &[(String, Vec<u8>)], timeout: Duration) -> anyhow::Result<Snmpsim> {
        let bin = snmpsim_binary().ok_or_else(|| anyhow::anyhow!("snmpsim not installed"))?;
        let dir = tempfile::tempdir()?;
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data)?;
        std::fs::create_dir_all(dir.path().join("cache"))?;
        for (name, content) in recordings {
            std::fs::write(data.join(format!("{name}.snmprec")), content)?;
        }
        let port = free_udp_port();
        let mut cmd = Command::new(bin);
        cmd.arg(format!("--data-dir={}", data.display()))
            .arg(format!(
                "--cache-dir={}",
                dir.path().join("cache").display()
            ))
            .arg(format!("--agent-udpv4-endpoint=127.0.0.1:{port}"))
            .arg(format!("--v3-user={SIM_V3_USER}"))
            .arg(format!("--v3-auth-key={V3_AUTH_PASS}"))
            .arg("--v3-auth-proto=SHA")
            .arg(format!("--v3-priv-key={V3_PRIV_PASS}"))
            .arg("--v3-priv-proto=AES");
        if crate::is_root() {
            cmd.args(["--process-user=root", "--process-group=root"]);
        }
        cmd.arg("--logging-method=stdout");
        let proc = Proc::spawn("snmpsim", cmd, Some(&dir.path().join("snmpsim.log")))?;
        let addr = format!("127.0.0.1:{port}");
        let deadline = std::time::Instant::now() + timeout;
        for (community, _) in recordings {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if !wait_until_answers(&addr, community, left.max(Duration::from_secs(1))) {
                let log =
                    std::fs::read_to_string(dir.path().join("snmpsim.log")).unwrap_or_default();
                anyhow::bail!("snmpsim did not answer community {community} on {addr}: {log}");
            }
        }
        Ok(Snmpsim {
            port,
            dir,
            _proc: proc,
        })
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }
}

/// The deterministic values of generated port `p` (1-based) of a switch of `n` ports.
pub mod expected {
    /// ifName: `hundredGigE 1/p`, the last three ports `Port-channel 101..103`.
    pub fn if_name(n: u32, p: u32) -> String {
        if p + 3 > n {
            format!("Port-channel {}", 101 + p + 3 - n - 1)
        } else {
            format!("hundredGigE 1/{p}")
        }
    }
    /// ifDescr.
    pub fn if_descr(n: u32, p: u32) -> String {
        if_name(n, p)
            .replace(' ', "")
            .replace("hundredGigE", "HundredGigE")
    }
    /// ifAlias: `uplink-p` on every 10th port, else empty.
    pub fn if_alias(p: u32) -> String {
        if p % 10 == 0 {
            format!("uplink-{p}")
        } else {
            String::new()
        }
    }
    /// ifType: 6 (ethernetCsmacd) or 161 (ieee8023adLag).
    pub fn if_type(n: u32, p: u32) -> u32 {
        if p + 3 > n {
            161
        } else {
            6
        }
    }
    /// ifOperStatus: every 7th port down (2).
    pub fn oper_status(p: u32) -> u32 {
        if p % 7 == 0 {
            2
        } else {
            1
        }
    }
    /// ifHCInOctets: above 2^53 and not representable as f64.
    pub fn hc_in_octets(p: u32) -> u64 {
        (1u64 << 53) + 1 + 1000 * u64::from(p)
    }
    /// ifHCOutOctets: around 2^62.
    pub fn hc_out_octets(p: u32) -> u64 {
        (1u64 << 62) + 7919 * u64::from(p)
    }
    /// ifInErrors.
    pub fn in_errors(p: u32) -> u32 {
        2 * p
    }
    /// ifOutDiscards.
    pub fn out_discards(p: u32) -> u32 {
        3 * p
    }
    /// ifMtu.
    pub const MTU: u32 = 9216;
    /// ifHighSpeed.
    pub const HIGH_SPEED: u32 = 100_000;
}

/// Generates an snmprec file: system group, ifNumber, ifTable, ifXTable, and a few
/// dot1q FDB entries (MAC 00:1b:21:00:00:p on bridge port p, VLAN 1000, p = 1..4).
pub fn switch_snmprec(name: &str, n: u32, base: u32) -> String {
    let mut rows: Vec<(Vec<u32>, &str, String)> = Vec::new();
    let mut add = |oid: &[u32], tag: &'static str, v: String| rows.push((oid.to_vec(), tag, v));
    let sys = [1, 3, 6, 1, 2, 1, 1];
    add(
        &[&sys[..], &[1, 0]].concat(),
        "4",
        format!("rtmon simulated switch {name}, {n} ports"),
    );
    add(
        &[&sys[..], &[2, 0]].concat(),
        "6",
        "1.3.6.1.4.1.8072.3.2.10".into(),
    );
    add(&[&sys[..], &[3, 0]].concat(), "67", "123456".into());
    add(&[&sys[..], &[5, 0]].concat(), "4", name.to_string());
    add(&[1, 3, 6, 1, 2, 1, 2, 1, 0], "2", n.to_string());
    let it = [1, 3, 6, 1, 2, 1, 2, 2, 1];
    let xt = [1, 3, 6, 1, 2, 1, 31, 1, 1, 1];
    for p in 1..=n {
        let i = base + p;
        let pu = u64::from(p);
        let mut t =
            |col: u32, tag: &'static str, v: String| add(&[&it[..], &[col, i]].concat(), tag, v);
        t(1, "2", i.to_string());
        t(2, "4", expected::if_descr(n, p));
        t(3, "2", expected::if_type(n, p).to_string());
        t(4, "2", expected::MTU.to_string());
        t(5, "66", "4294967295".into());
        t(6, "4x", format!("001b21{:06x}", p));
        t(7, "2", "1".into());
        t(8, "2", expected::oper_status(p).to_string());
        t(9, "67", (1000 + p).to_string());
        t(10, "65", ((pu * 1000) % (1 << 32)).to_string());
        t(11, "65", (pu * 10).to_string());
        t(12, "65", (pu * 5).to_string());
        t(13, "65", pu.to_string());
        t(14, "65", expected::in_errors(p).to_string());
        t(15, "65", "0".into());
        t(16, "65", ((pu * 2000) % (1 << 32)).to_string());
        t(17, "65", (pu * 20).to_string());
        t(18, "65", (pu * 6).to_string());
        t(19, "65", expected::out_discards(p).to_string());
        t(20, "65", (pu * 4).to_string());
        t(21, "66", "0".into());
        let mut x =
            |col: u32, tag: &'static str, v: String| add(&[&xt[..], &[col, i]].concat(), tag, v);
        x(1, "4", expected::if_name(n, p));
        x(2, "65", (pu * 7).to_string());
        x(3, "65", (pu * 11).to_string());
        x(4, "65", (pu * 13).to_string());
        x(5, "65", (pu * 17).to_string());
        x(6, "70", expected::hc_in_octets(p).to_string());
        x(7, "70", (pu * 100).to_string());
        x(8, "70", (pu * 7).to_string());
        x(9, "70", (pu * 11).to_string());
        x(10, "70", expected::hc_out_octets(p).to_string());
        x(11, "70", (pu * 200).to_string());
        x(12, "70", (pu * 13).to_string());
        x(13, "70", (pu * 17).to_string());
        x(14, "2", "1".into());
        x(15, "66", expected::HIGH_SPEED.to_string());
        x(16, "2", "2".into());
        x(17, "2", "1".into());
        x(18, "4", expected::if_alias(p));
        x(19, "67", "0".into());
        if p <= 4 {
            add(&[1, 3, 6, 1, 2, 1, 17, 1, 4, 1, 2, p], "2", i.to_string());
            let fdb = [1, 3, 6, 1, 2, 1, 17, 7, 1, 2, 2, 1];
            let mac = [0, 0x1b, 0x21, 0, 0, p];
            add(
                &[&fdb[..], &[2, 1000], &mac[..]].concat(),
                "2",
                p.to_string(),
            );
            add(&[&fdb[..], &[3, 1000], &mac[..]].concat(), "2", "3".into());
        }
    }
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    let mut s = String::new();
    for (oid, tag, v) in rows {
        let o: Vec<String> = oid.iter().map(u32::to_string).collect();
        s.push_str(&format!("{}|{tag}|{v}\n", o.join(".")));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snmprec_is_sorted_and_names_are_realistic() {
        let s = switch_snmprec("sw", 48, 0);
        assert!(s.contains("1.3.6.1.2.1.31.1.1.1.1.27|4|hundredGigE 1/27\n"));
        assert!(s.contains("1.3.6.1.2.1.31.1.1.1.1.48|4|Port-channel 103\n"));
        assert!(s.contains("1.3.6.1.2.1.31.1.1.1.6.27|70|9007199254767993\n"));
        let oids: Vec<Vec<u32>> = s
            .lines()
            .map(|l| {
                l.split('|')
                    .next()
                    .unwrap()
                    .split('.')
                    .map(|x| x.parse().unwrap())
                    .collect()
            })
            .collect();
        assert!(oids.windows(2).all(|w| w[0] < w[1]));
    }
}
