//! A switch that forwards real traffic, for the loss tests: host A ── `swa` [Linux bridge
//! `br0` in namespace S] `swb` ── host B, each namespace with a management veth
//! (`mgmt0`) to the root namespace, and net-snmp's snmpd in S answering IF-MIB for the
//! bridge's ports with the kernel's counters. Needs root; everything it creates goes
//! when it is dropped.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::netns::{veth, Netns};
use crate::Proc;

/// Where a [`BridgeRig`] puts its addresses, and what snmpd answers to.
pub struct BridgeSpec<'a> {
    /// Second octet of the data subnet `10.N.k.0/24` (hosts `.1`, `.2`).
    pub data_net: u8,
    /// Second octet of the management subnets `10.N.k.(4i)/30`.
    pub mgmt_net: u8,
    /// Prefix of the root-namespace ends of the management veths (≤ 3 characters).
    pub link_prefix: &'a str,
    /// snmpd's read-only community.
    pub community: &'a str,
}

/// The running rig (see the module doc).
pub struct BridgeRig {
    pub a: Netns,
    pub s: Netns,
    pub b: Netns,
    /// Management addresses of A, S and B, reachable from the root namespace.
    pub mgmt: [String; 3],
    /// Data-plane addresses of A and B (`data0`).
    pub data: [String; 2],
    /// snmpd's address, `ADDRESS:161`.
    pub target: String,
    /// snmpd, in S.
    pub snmpd: Proc,
    _root_links: RootLinks,
}

/// The root-namespace ends of the management veths, deleted on drop.
struct RootLinks(Vec<String>);

impl Drop for RootLinks {
    fn drop(&mut self) {
        for l in &self.0 {
            let _ = Command::new("ip").args(["link", "del", l]).output();
        }
    }
}

fn root_ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip {args:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

impl BridgeRig {
    /// Builds the rig with snmpd's files in `dir`, and waits (20 s at most) until snmpd
    /// answers. The `k` of the subnets is the first one no local address uses.
    pub fn start(dir: &Path, spec: &BridgeSpec) -> Result<BridgeRig, String> {
        let pid = std::process::id();
        let used = Command::new("ip")
            .args(["-4", "-o", "addr"])
            .output()
            .map_err(|e| format!("ip addr: {e}"))?;
        let used = String::from_utf8_lossy(&used.stdout).into_owned();
        let (dn, mn) = (spec.data_net, spec.mgmt_net);
        let k = (0..250)
            .map(|i| (pid + i) % 250 + 1)
            .find(|k| {
                !used.contains(&format!("10.{dn}.{k}.")) && !used.contains(&format!("10.{mn}.{k}."))
            })
            .ok_or("no free subnet")?;
        let ns = || Netns::new().map_err(|e| format!("netns: {e}"));
        let (a, s, b) = (ns()?, ns()?, ns()?);
        let data = [format!("10.{dn}.{k}.1"), format!("10.{dn}.{k}.2")];
        let err = |what: &str| {
            let what = what.to_string();
            move |e: std::io::Error| format!("{what}: {e}")
        };
        veth(&a, "data0", &format!("{}/24", data[0]), &s, "swa", "").map_err(err("veth"))?;
        veth(&s, "swb", "", &b, "data0", &format!("{}/24", data[1])).map_err(err("veth"))?;
        s.ip(&["link", "add", "br0", "type", "bridge"])
            .map_err(err("bridge"))?;
        for p in ["swa", "swb"] {
            s.ip(&["link", "set", p, "master", "br0"])
                .map_err(err("enslave"))?;
        }
        s.ip(&["link", "set", "br0", "up"]).map_err(err("br0 up"))?;
        let mut root_links = RootLinks(Vec::new());
        let mut mgmt: [String; 3] = Default::default();
        for (i, n) in [&a, &s, &b].into_iter().enumerate() {
            let root_if = format!("{}{}x{i}", spec.link_prefix, pid % 100_000);
            root_ip(&[
                "link", "add", &root_if, "type", "veth", "peer", "name", "mgmt0", "netns", &n.name,
            ])?;
            root_links.0.push(root_if.clone());
            root_ip(&[
                "addr",
                "add",
                &format!("10.{mn}.{k}.{}/30", 4 * i + 1),
                "dev",
                &root_if,
            ])?;
            root_ip(&["link", "set", &root_if, "up"])?;
            mgmt[i] = format!("10.{mn}.{k}.{}", 4 * i + 2);
            n.ip(&["addr", "add", &format!("{}/30", mgmt[i]), "dev", "mgmt0"])
                .map_err(err("mgmt"))?;
            n.ip(&["link", "set", "mgmt0", "up"])
                .map_err(err("mgmt up"))?;
        }
        let conf = dir.join("snmpd.conf");
        std::fs::write(
            &conf,
            format!(
                "agentAddress udp:{}:161\nrocommunity {} 10.{mn}.0.0/16\n",
                mgmt[1], spec.community
            ),
        )
        .map_err(err("snmpd.conf"))?;
        std::fs::create_dir_all(dir.join("snmp-persist")).map_err(err("snmp-persist"))?;
        let mut cmd = s.command("snmpd");
        cmd.env("SNMP_PERSISTENT_DIR", dir.join("snmp-persist"))
            .args(["-f", "-Lf"])
            .arg(dir.join("snmpd.log"))
            .args(["-C", "-c"])
            .arg(&conf);
        let snmpd =
            Proc::spawn("snmpd", cmd, Some(&dir.join("snmpd.out"))).map_err(err("snmpd"))?;
        let target = format!("{}:161", mgmt[1]);
        let rig = BridgeRig {
            a,
            s,
            b,
            mgmt,
            data,
            target,
            snmpd,
            _root_links: root_links,
        };
        if !crate::snmp::wait_until_answers(&rig.target, spec.community, Duration::from_secs(20)) {
            return Err(format!(
                "snmpd did not answer: {}",
                std::fs::read_to_string(dir.join("snmpd.log")).unwrap_or_default()
            ));
        }
        Ok(rig)
    }
}
