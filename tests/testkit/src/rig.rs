//! [`FlowRig`]: one whole flow on this machine, for end-to-end tests of the dashboard
//! generator and `status` (needs root, iproute2, snmpsim and Prometheus).
//!
//! ```text
//!  netns A                               netns B
//!  ┌──────────────────────┐   data0     ┌──────────────────────┐
//!  │ node :9100 arp :9105 │◀──────────▶│ node :9100 arp :9105 │  data plane (veth,
//!  │ ping :9107           │ 10.232.k/24 │ ping :9107           │  fixed MACs)
//!  └────────┬─────────────┘             └────────┬─────────────┘
//!           │ mgmt0 10.231.k.2/30                │ mgmt0 10.231.k.6/30
//!  ─────────┴──────── root namespace ────────────┴──────────────────────────────
//!   Prometheus (127.0.0.1) scrapes the six exporters over the management veths, and
//!   rtmon-snmp-exporter (127.0.0.1) ← snmpsim switch (127.0.0.1, UDP)
//! ```
//!
//! The simulated switch is [`crate::snmp::switch_snmprec`]'s 8-port switch: the flow
//! enters on `hundredGigE 1/1` and leaves on `hundredGigE 1/2`, VLAN 1000, and its
//! FDB holds `00:1b:21:00:00:01` on port 1 and `00:1b:21:00:00:02` on port 2 — the
//! MACs the rig gives host A's and host B's data-plane interfaces. The flow file names
//! no MACs, so the FDB check joins through the node exporter's `node_network_info`.
//!
//! Prometheus' jobs are the generator's defaults (`node`, `arp`, `ping`, `snmp`, the
//! last with the multi-target relabelling: `instance` = the SNMP target), it evaluates
//! the rules `rtmon-dashboards rules` wrote for the flow, every second.
//!
//! Everything (Prometheus, exporters, snmpsim, namespaces, root-side veth ends) goes
//! away when the rig is dropped.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::netns::Netns;
use crate::prom::{PromConfig, Prometheus};
use crate::snmp::{snmpsim_binary, switch_snmprec, wait_until_answers};
use crate::{free_port, free_udp_port, wait_for_port, Proc};

/// The flow id the rig writes.
pub const FLOW_ID: &str = "e2e-rig-flow";
/// Host A's name in the flow.
pub const HOST_A: &str = "e2e-a";
/// Host B's name in the flow.
pub const HOST_B: &str = "e2e-b";
/// The switch's name in the flow.
pub const SWITCH: &str = "sw-e2e";
/// Port (ifName) where the flow enters the switch, facing host A.
pub const IN_PORT: &str = "hundredGigE 1/1";
/// Port (ifName) where the flow leaves the switch, facing host B.
pub const OUT_PORT: &str = "hundredGigE 1/2";
/// ifIndex of [`IN_PORT`] in the simulated switch.
pub const IN_IFINDEX: u32 = 1;
/// ifIndex of [`OUT_PORT`] in the simulated switch.
pub const OUT_IFINDEX: u32 = 2;
/// The flow's VLAN.
pub const VLAN: u16 = 1000;
/// Data-plane interface name in both host namespaces.
pub const DATA_IF: &str = "data0";
/// Host A's data-plane MAC (in the switch FDB on [`IN_PORT`]).
pub const MAC_A: &str = "00:1b:21:00:00:01";
/// Host B's data-plane MAC (in the switch FDB on [`OUT_PORT`]).
pub const MAC_B: &str = "00:1b:21:00:00:02";
/// MTU of the hosts' data-plane interfaces (jumbo frames, as the switch ports: 9216).
pub const HOST_MTU: u32 = 9000;
/// ifHighSpeed (Mbit/s) of the simulated switch's flow ports: a veth's speed.
pub const PORT_SPEED_MBPS: u32 = 10_000;
/// SNMP community of the simulated switch (its snmprec file stem).
const COMMUNITY: &str = "e2eswitch";
/// Ports of the simulated switch.
const SWITCH_PORTS: u32 = 8;
/// Name of the auth in the SNMP exporter's config.
const AUTH: &str = "sim";

/// Exporter ports inside each host namespace (the management IP is unique per rig).
const NODE_PORT: u16 = 9100;
const ARP_PORT: u16 = 9105;
const PING_PORT: u16 = 9107;

static RIGS: AtomicU32 = AtomicU32::new(0);

/// The binaries a [`FlowRig`] runs.
#[derive(Clone, Debug)]
pub struct RigBins {
    /// rtmon-node-exporter.
    pub node: PathBuf,
    /// rtmon-arp-exporter.
    pub arp: PathBuf,
    /// rtmon-ping-exporter.
    pub ping: PathBuf,
    /// rtmon-snmp-exporter.
    pub snmp: PathBuf,
    /// rtmon-dashboards (writes the rules Prometheus loads).
    pub dashboards: PathBuf,
}

impl RigBins {
    /// The workspace's binaries ([`crate::workspace_bin`]).
    pub fn workspace() -> RigBins {
        RigBins {
            node: crate::workspace_bin("rtmon-node-exporter"),
            arp: crate::workspace_bin("rtmon-arp-exporter"),
            ping: crate::workspace_bin("rtmon-ping-exporter"),
            snmp: crate::workspace_bin("rtmon-snmp-exporter"),
            dashboards: crate::workspace_bin("rtmon-dashboards"),
        }
    }

    /// All paths, for [`crate::available`].
    pub fn all(&self) -> Vec<String> {
        [
            &self.node,
            &self.arp,
            &self.ping,
            &self.snmp,
            &self.dashboards,
        ]
        .iter()
        .map(|p| p.display().to_string())
        .collect()
    }
}

/// One host of the rig: its namespace and addresses.
pub struct RigHost {
    /// Name in the flow.
    pub name: &'static str,
    /// The namespace.
    pub ns: Netns,
    /// Management IP (the flow's `instance`; Prometheus scrapes it).
    pub mgmt_ip: String,
    /// Data-plane IP.
    pub data_ip: String,
    /// Data-plane MAC.
    pub mac: &'static str,
}

impl RigHost {
    /// `mgmt-ip:port` of the node exporter.
    pub fn node_addr(&self) -> String {
        format!("{}:{NODE_PORT}", self.mgmt_ip)
    }
    /// `mgmt-ip:port` of the ARP exporter.
    pub fn arp_addr(&self) -> String {
        format!("{}:{ARP_PORT}", self.mgmt_ip)
    }
    /// `mgmt-ip:port` of the ping exporter.
    pub fn ping_addr(&self) -> String {
        format!("{}:{PING_PORT}", self.mgmt_ip)
    }
}

/// snmpsim serving one switch from an snmprec that can be changed (the agent is
/// restarted on the same UDP port with the new data and a fresh index cache).
pub struct SimSwitch {
    /// UDP port on 127.0.0.1.
    pub port: u16,
    dir: tempfile::TempDir,
    snmprec: String,
    generation: u32,
    proc: Option<Proc>,
}

impl SimSwitch {
    fn start(snmprec: String) -> Result<SimSwitch> {
        let mut s = SimSwitch {
            port: free_udp_port(),
            dir: tempfile::tempdir()?,
            snmprec,
            generation: 0,
            proc: None,
        };
        s.restart()?;
        Ok(s)
    }

    /// `127.0.0.1:PORT` (the flow's switch `target`).
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The snmprec currently served.
    pub fn snmprec(&self) -> &str {
        &self.snmprec
    }

    /// Serves `snmprec` from now on (restarts the agent on the same port).
    pub fn replace(&mut self, snmprec: String) -> Result<()> {
        self.snmprec = snmprec;
        self.restart()
    }

    /// Sets ifOperStatus of `if_index` (1 up, 2 down) and restarts the agent.
    pub fn set_oper_status(&mut self, if_index: u32, status: u32) -> Result<()> {
        match with_oper_status(&self.snmprec, if_index, status) {
            Some(text) => self.replace(text),
            None => bail!("ifIndex {if_index} is not in the simulated switch"),
        }
    }

    /// Sets a Counter32 column of `if_index` in ifTable (e.g. 14 ifInErrors) and
    /// restarts the agent.
    pub fn set_if_counter(&mut self, column: u32, if_index: u32, value: u32) -> Result<()> {
        let oid = format!("1.3.6.1.2.1.2.2.1.{column}.{if_index}");
        match with_value(&self.snmprec, &oid, "65", &value.to_string()) {
            Some(text) => self.replace(text),
            None => bail!("{oid} is not in the simulated switch"),
        }
    }

    /// Sets the VLAN's current egress ports (dot1qVlanCurrentEgressPorts bitmap of
    /// bridge ports = ifIndex here) and restarts the agent.
    pub fn set_vlan_ports(&mut self, vlan: u16, bridge_ports: &[u32]) -> Result<()> {
        let text = with_vlan_ports(&self.snmprec, vlan, bridge_ports);
        self.replace(text)
    }

    /// Stops the agent: the switch no longer answers SNMP (until [`Self::resume`]).
    pub fn stop(&mut self) {
        self.proc = None;
    }

    /// Starts the agent again after [`Self::stop`], with the same data.
    pub fn resume(&mut self) -> Result<()> {
        self.restart()
    }

    /// Sets ifMtu of `if_index` and restarts the agent.
    pub fn set_mtu(&mut self, if_index: u32, mtu: u32) -> Result<()> {
        let oid = format!("1.3.6.1.2.1.2.2.1.4.{if_index}");
        match with_value(&self.snmprec, &oid, "2", &mtu.to_string()) {
            Some(text) => self.replace(text),
            None => bail!("ifIndex {if_index} is not in the simulated switch"),
        }
    }

    fn restart(&mut self) -> Result<()> {
        self.proc = None; // kill the old agent first: same UDP port
        self.generation += 1;
        let bin = snmpsim_binary().context("snmpsim not installed")?;
        let data = self.dir.path().join(format!("data-{}", self.generation));
        let cache = self.dir.path().join(format!("cache-{}", self.generation));
        std::fs::create_dir_all(&data)?;
        std::fs::create_dir_all(&cache)?;
        std::fs::write(data.join(format!("{COMMUNITY}.snmprec")), &self.snmprec)?;
        let mut cmd = Command::new(bin);
        cmd.arg(format!("--data-dir={}", data.display()))
            .arg(format!("--cache-dir={}", cache.display()))
            .arg(format!("--agent-udpv4-endpoint=127.0.0.1:{}", self.port));
        if crate::is_root() {
            cmd.args(["--process-user=root", "--process-group=root"]);
        }
        cmd.arg("--logging-method=stdout");
        let log = self
            .dir
            .path()
            .join(format!("snmpsim-{}.log", self.generation));
        self.proc = Some(Proc::spawn("snmpsim", cmd, Some(&log))?);
        if !wait_until_answers(&self.addr(), COMMUNITY, Duration::from_secs(60)) {
            bail!(
                "snmpsim did not answer on {}: {}",
                self.addr(),
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        Ok(())
    }
}

/// `snmprec` with ifOperStatus.`if_index` set to `status`; None if the row is missing.
pub fn with_oper_status(snmprec: &str, if_index: u32, status: u32) -> Option<String> {
    let prefix = format!("1.3.6.1.2.1.2.2.1.8.{if_index}|");
    let mut found = false;
    let text = snmprec
        .lines()
        .map(|l| {
            if l.starts_with(&prefix) {
                found = true;
                format!("{prefix}2|{status}\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    found.then_some(text)
}

/// `snmprec` with the row `oid` set to `tag|value`; None if the row is missing.
pub fn with_value(snmprec: &str, oid: &str, tag: &str, value: &str) -> Option<String> {
    let prefix = format!("{oid}|");
    let mut found = false;
    let text = snmprec
        .lines()
        .map(|l| {
            if l.starts_with(&prefix) {
                found = true;
                format!("{prefix}{tag}|{value}\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    found.then_some(text)
}

/// `snmprec` with VLAN `vlan`'s dot1qVlanCurrentEgressPorts (time mark 0) set to a
/// bitmap of `bridge_ports` and its untagged set empty, rows kept in OID order.
pub fn with_vlan_ports(snmprec: &str, vlan: u16, bridge_ports: &[u32]) -> String {
    let mut bitmap = vec![0u8; 4];
    for &p in bridge_ports {
        let i = (p.saturating_sub(1) / 8) as usize;
        if bitmap.len() <= i {
            bitmap.resize(i + 1, 0);
        }
        bitmap[i] |= 0x80 >> ((p.saturating_sub(1)) % 8);
    }
    let hex: String = bitmap.iter().map(|b| format!("{b:02x}")).collect();
    let egress = format!("1.3.6.1.2.1.17.7.1.4.2.1.4.0.{vlan}");
    let untagged = format!("1.3.6.1.2.1.17.7.1.4.2.1.5.0.{vlan}");
    let mut rows: Vec<(Vec<u32>, String)> = snmprec
        .lines()
        .filter(|l| {
            !l.starts_with(&format!("{egress}|")) && !l.starts_with(&format!("{untagged}|"))
        })
        .map(|l| (oid_of(l), l.to_string()))
        .collect();
    rows.push((oid_of(&egress), format!("{egress}|4x|{hex}")));
    rows.push((oid_of(&untagged), format!("{untagged}|4x|00000000")));
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    rows.into_iter().map(|(_, l)| l + "\n").collect()
}

fn oid_of(line: &str) -> Vec<u32> {
    line.split('|')
        .next()
        .unwrap_or("")
        .split('.')
        .filter_map(|x| x.parse().ok())
        .collect()
}

/// The rig's simulated switch: [`switch_snmprec`] with the flow ports at a veth's
/// speed and VLAN [`VLAN`] on both flow ports (Q-BRIDGE-MIB current table).
pub fn rig_switch_snmprec() -> String {
    let mut rec = switch_snmprec(COMMUNITY, SWITCH_PORTS, 0);
    for i in [IN_IFINDEX, OUT_IFINDEX] {
        let oid = format!("1.3.6.1.2.1.31.1.1.1.15.{i}");
        if let Some(r) = with_value(&rec, &oid, "66", &PORT_SPEED_MBPS.to_string()) {
            rec = r;
        }
    }
    with_vlan_ports(&rec, VLAN, &[IN_IFINDEX, OUT_IFINDEX])
}

/// Deletes root-namespace links on drop (the namespaces' ends go with the namespaces).
struct RootLinks(Vec<String>);

impl Drop for RootLinks {
    fn drop(&mut self) {
        for l in &self.0 {
            let _ = Command::new("ip").args(["link", "del", l]).output();
        }
    }
}

/// A whole flow: two host namespaces with node/arp/ping exporters, a simulated switch
/// behind rtmon-snmp-exporter, the flow file, its rules and a Prometheus scraping it
/// all. See the module docs for the picture.
pub struct FlowRig {
    /// Prometheus (root namespace, 127.0.0.1).
    pub prom: Prometheus,
    exporters: Vec<Proc>,
    /// The simulated switch.
    pub switch: SimSwitch,
    /// `127.0.0.1:PORT` of rtmon-snmp-exporter.
    pub snmp_exporter: String,
    /// Host A (first hop).
    pub a: RigHost,
    /// Host B (last hop).
    pub b: RigHost,
    _links: RootLinks,
    /// The flow file.
    pub flow_file: PathBuf,
    /// The rules file Prometheus loaded (as `rtmon-dashboards rules` wrote it).
    pub rules: String,
    dir: tempfile::TempDir,
}

fn ip(args: &[&str]) -> Result<()> {
    let out = Command::new("ip").args(args).output()?;
    if !out.status.success() {
        bail!(
            "ip {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// A /24 index `k` such that neither 10.231.k.0/24 nor 10.232.k.0/24 is in use in the
/// root namespace.
fn free_subnet(seed: u32) -> Result<u32> {
    let out = Command::new("ip").args(["-4", "-o", "addr"]).output()?;
    let used = String::from_utf8_lossy(&out.stdout).into_owned();
    let routes = Command::new("ip").args(["-4", "route"]).output()?;
    let routes = String::from_utf8_lossy(&routes.stdout).into_owned();
    for i in 0..250 {
        let k = (seed + i) % 250 + 1;
        let taken = [format!("10.231.{k}."), format!("10.232.{k}.")]
            .iter()
            .any(|p| used.contains(p.as_str()) || routes.contains(p.as_str()));
        if !taken {
            return Ok(k);
        }
    }
    bail!("no free 10.231.k.0/24 subnet in the root namespace")
}

impl FlowRig {
    /// Builds the rig and waits until every exporter and the switch answer and
    /// Prometheus is ready. Does not wait for the first scrapes.
    pub fn start(bins: &RigBins) -> Result<FlowRig> {
        let dir = tempfile::tempdir()?;
        let n = RIGS.fetch_add(1, Ordering::SeqCst);
        let pid = std::process::id();
        let k = free_subnet(pid.wrapping_mul(7).wrapping_add(n))?;

        // Host namespaces, the data-plane veth with fixed MACs.
        let mk_host = |name, idx: u32, mac| -> Result<RigHost> {
            Ok(RigHost {
                name,
                ns: Netns::new()?,
                mgmt_ip: format!("10.231.{k}.{}", 4 * idx + 2),
                data_ip: format!("10.232.{k}.{}", idx + 1),
                mac,
            })
        };
        let a = mk_host(HOST_A, 0, MAC_A)?;
        let b = mk_host(HOST_B, 1, MAC_B)?;
        ip(&[
            "link", "add", DATA_IF, "netns", &a.ns.name, "address", MAC_A, "type", "veth", "peer",
            "name", DATA_IF, "netns", &b.ns.name, "address", MAC_B,
        ])?;
        for h in [&a, &b] {
            h.ns.ip(&["addr", "add", &format!("{}/24", h.data_ip), "dev", DATA_IF])?;
            h.ns.ip(&["link", "set", DATA_IF, "mtu", &HOST_MTU.to_string()])?;
            h.ns.ip(&["link", "set", DATA_IF, "up"])?;
        }

        // Management veths to the root namespace.
        let mut links = RootLinks(Vec::new());
        for (idx, h) in [&a, &b].into_iter().enumerate() {
            let root_if = format!("rtm{}x{n}{}", pid % 100_000, ["a", "b"][idx]);
            ip(&[
                "link", "add", &root_if, "type", "veth", "peer", "name", "mgmt0", "netns",
                &h.ns.name,
            ])?;
            links.0.push(root_if.clone());
            let root_ip = format!("10.231.{k}.{}/30", 4 * idx + 1);
            ip(&["addr", "add", &root_ip, "dev", &root_if])?;
            ip(&["link", "set", &root_if, "up"])?;
            h.ns.ip(&["addr", "add", &format!("{}/30", h.mgmt_ip), "dev", "mgmt0"])?;
            h.ns.ip(&["link", "set", "mgmt0", "up"])?;
        }

        // The switch, and the SNMP exporter in front of it.
        let switch = SimSwitch::start(rig_switch_snmprec())?;
        let snmp_cfg = dir.path().join("snmp.yml");
        std::fs::write(
            &snmp_cfg,
            format!("auths:\n  {AUTH}:\n    community: {COMMUNITY}\n"),
        )?;
        let snmp_exporter = format!("127.0.0.1:{}", free_port());
        let mut exporters = Vec::new();
        let mut cmd = Command::new(&bins.snmp);
        cmd.arg(format!("--web.listen-address={snmp_exporter}"))
            .arg(format!("--config.file={}", snmp_cfg.display()));
        exporters.push(spawn(dir.path(), "snmp", cmd)?);

        // The flow.
        let flow_file = dir.path().join("flow.yml");
        std::fs::write(&flow_file, flow_yaml(&a, &b, &switch.addr()))?;

        // Host exporters inside the namespaces, listening on the management IP.
        for h in [&a, &b] {
            let flow = format!("--flow={}", flow_file.display());
            let host = format!("--host={}", h.name);
            let mut c = h.ns.command(&bins.node);
            c.arg(format!("--web.listen-address={}", h.node_addr()));
            exporters.push(spawn(dir.path(), &format!("node-{}", h.name), c)?);
            let mut c = h.ns.command(&bins.arp);
            c.arg(format!("--web.listen-address={}", h.arp_addr()))
                .args([&flow, &host]);
            exporters.push(spawn(dir.path(), &format!("arp-{}", h.name), c)?);
            let mut c = h.ns.command(&bins.ping);
            c.arg(format!("--web.listen-address={}", h.ping_addr()))
                .args([&flow, &host]);
            exporters.push(spawn(dir.path(), &format!("ping-{}", h.name), c)?);
        }
        let mut addrs = vec![snmp_exporter.clone()];
        for h in [&a, &b] {
            addrs.extend([h.node_addr(), h.arp_addr(), h.ping_addr()]);
        }
        for (addr, p) in addrs.iter().zip(exporters.iter_mut()) {
            if !wait_for_port(addr, Duration::from_secs(30)) {
                let log = std::fs::read_to_string(dir.path().join(format!("{}.log", p.name)))
                    .unwrap_or_default();
                let exited = p.try_wait();
                bail!(
                    "{} did not listen on {addr} (exit: {exited:?}):\n{log}",
                    p.name
                );
            }
        }

        // The flow's rules, as the generator writes them.
        let rules_file = dir.path().join("rules.yml");
        let out = Command::new(&bins.dashboards)
            .arg("rules")
            .arg(&flow_file)
            .arg(format!("--out={}", rules_file.display()))
            .args(["--eval-interval=1s", "--alert-for=5s"])
            .output()
            .context("run rtmon-dashboards rules")?;
        if !out.status.success() {
            bail!(
                "rtmon-dashboards rules failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let rules = std::fs::read_to_string(&rules_file)?;

        let prom = Prometheus::start_with(PromConfig {
            scrape_configs: scrape_configs(&a, &b, &switch.addr(), &snmp_exporter),
            rule_files: vec![rules.clone()],
            extra_args: Vec::new(),
        })?;
        Ok(FlowRig {
            prom,
            exporters,
            switch,
            snmp_exporter,
            a,
            b,
            _links: links,
            flow_file,
            rules,
            dir,
        })
    }

    /// The rig's temp dir (flow file, rules, exporter logs `<name>.log`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Every exporter's log, and whether it is still running (for failure messages).
    pub fn logs(&mut self) -> String {
        let mut s = String::new();
        for p in &mut self.exporters {
            let log = std::fs::read_to_string(self.dir.path().join(format!("{}.log", p.name)))
                .unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(20).collect();
            let exited = p.try_wait();
            s.push_str(&format!(
                "--- {} (exited: {exited:?})\n{}\n",
                p.name,
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            ));
        }
        s
    }

    /// The switch hop's `target` (also the `instance` label of its series).
    pub fn switch_target(&self) -> String {
        self.switch.addr()
    }
}

fn spawn(dir: &Path, name: &str, cmd: Command) -> Result<Proc> {
    Proc::spawn(name, cmd, Some(&dir.join(format!("{name}.log"))))
        .with_context(|| format!("spawn {name}"))
}

fn flow_yaml(a: &RigHost, b: &RigHost, target: &str) -> String {
    let host = |h: &RigHost| {
        format!(
            "  - host: {}\n    instance: {}\n    interface: {DATA_IF}\n    ip: {}\n    vlan: {VLAN}\n",
            h.name, h.mgmt_ip, h.data_ip
        )
    };
    format!(
        "flow: {FLOW_ID}\ntitle: rtmon end-to-end rig\npath:\n{}  - switch: {SWITCH}\n    target: \"{target}\"\n    auth: {AUTH}\n    modules: [if_mib, bridge_fdb, qbridge_vlan]\n    in: {{port: \"{IN_PORT}\", vlan: {VLAN}}}\n    out: {{port: \"{OUT_PORT}\", vlan: {VLAN}}}\n{}",
        host(a),
        host(b)
    )
}

fn scrape_configs(a: &RigHost, b: &RigHost, target: &str, snmp_exporter: &str) -> String {
    let job = |name: &str, targets: [String; 2]| {
        format!(
            "  - job_name: '{name}'\n    static_configs:\n      - targets: ['{}', '{}']\n",
            targets[0], targets[1]
        )
    };
    let mut s = job("node", [a.node_addr(), b.node_addr()]);
    s.push_str(&job("arp", [a.arp_addr(), b.arp_addr()]));
    s.push_str(&job("ping", [a.ping_addr(), b.ping_addr()]));
    s.push_str(&format!(
        "  - job_name: 'snmp'\n    scrape_interval: 2s\n    scrape_timeout: 2s\n    metrics_path: /snmp\n    params:\n      auth: ['{AUTH}']\n      module: ['if_mib', 'bridge_fdb', 'qbridge_vlan']\n    static_configs:\n      - targets: ['{target}']\n    relabel_configs:\n      - source_labels: [__address__]\n        target_label: __param_target\n      - source_labels: [__param_target]\n        target_label: instance\n      - target_label: __address__\n        replacement: '{snmp_exporter}'\n"
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oper_status_rewrite_touches_one_row() {
        let rec = switch_snmprec("sw", SWITCH_PORTS, 0);
        let down = with_oper_status(&rec, OUT_IFINDEX, 2).expect("row");
        assert!(down.contains("1.3.6.1.2.1.2.2.1.8.2|2|2\n"), "{down}");
        assert!(down.contains("1.3.6.1.2.1.2.2.1.8.1|2|1\n"), "{down}");
        assert!(!down.contains("1.3.6.1.2.1.2.2.1.8.2|2|1\n"));
        assert_eq!(
            rec.lines()
                .zip(down.lines())
                .filter(|(a, b)| a != b)
                .count(),
            1
        );
        assert_eq!(
            with_oper_status(&down, OUT_IFINDEX, 1).as_deref(),
            Some(&*rec)
        );
        assert_eq!(with_oper_status(&rec, 99, 2), None);
    }

    #[test]
    fn rig_switch_has_the_vlan_on_both_flow_ports() {
        let rec = rig_switch_snmprec();
        assert!(
            rec.contains("1.3.6.1.2.1.17.7.1.4.2.1.4.0.1000|4x|c0000000\n"),
            "{rec}"
        );
        assert!(rec.contains(&format!("1.3.6.1.2.1.31.1.1.1.15.{OUT_IFINDEX}|66|10000\n")));
        let without = with_vlan_ports(&rec, VLAN, &[IN_IFINDEX]);
        assert!(without.contains("1.3.6.1.2.1.17.7.1.4.2.1.4.0.1000|4x|80000000\n"));
        assert_eq!(without.matches(".17.7.1.4.2.1.4.0.1000|").count(), 1);
        // Still in OID order.
        let oids: Vec<Vec<u32>> = without.lines().map(oid_of).collect();
        assert!(oids.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn switch_matches_the_flow() {
        let rec = switch_snmprec(COMMUNITY, SWITCH_PORTS, 0);
        for (idx, port, mac) in [(IN_IFINDEX, IN_PORT, MAC_A), (OUT_IFINDEX, OUT_PORT, MAC_B)] {
            assert!(rec.contains(&format!("1.3.6.1.2.1.31.1.1.1.1.{idx}|4|{port}\n")));
            assert!(rec.contains(&format!("1.3.6.1.2.1.2.2.1.8.{idx}|2|1\n")));
            let mac_oid: Vec<String> = mac
                .split(':')
                .map(|b| {
                    u8::from_str_radix(b, 16)
                        .map(|b| b.to_string())
                        .unwrap_or_default()
                })
                .collect();
            // dot1qTpFdbPort.VLAN.MAC = bridge port idx.
            let fdb = format!(
                "1.3.6.1.2.1.17.7.1.2.2.1.2.{VLAN}.{}|2|{idx}\n",
                mac_oid.join(".")
            );
            assert!(rec.contains(&fdb), "{fdb}");
        }
    }
}
