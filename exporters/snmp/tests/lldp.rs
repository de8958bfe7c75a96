//! The `lldp` module over HTTP against snmpsim. The agents' data is written here,
//! shaped like real switches' LLDP-MIB tables (index forms, id subtypes, how local port
//! numbers relate to ifIndex): Arista-like (ports numbered 1…n, lldpLocPortId =
//! ifName, binary MAC chassis ids), Junos-like (local port number = ifIndex, a
//! numeric "local" port id, bridge ports numbered from 4097), Dell-OS9-like (chassis
//! id MAC written as text `e4 f0 …`, large port numbers), and an agent with only
//! LLDP-V2-MIB. When `../shared/upstream-fixtures/librenms-snmprec` is beside the
//! repository, the real recordings there are served too and checked against a join
//! done by hand from the files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use rtmon_testkit::snmp::{snmpsim_binary, wait_until_answers};
use rtmon_testkit::{available, free_port, free_udp_port, http, wait_for_port, Proc};

struct Rec(Vec<(Vec<u32>, String, String)>);

impl Rec {
    fn new() -> Rec {
        Rec(Vec::new())
    }
    fn add(&mut self, oid: &str, tag: &str, v: &str) {
        let o = oid.split('.').filter_map(|x| x.parse().ok()).collect();
        self.0.push((o, tag.into(), v.into()));
    }
    fn iface(&mut self, i: u32, name: &str) {
        self.add(&format!("1.3.6.1.2.1.2.2.1.1.{i}"), "2", &i.to_string());
        self.add(&format!("1.3.6.1.2.1.2.2.1.2.{i}"), "4", name);
        self.add(&format!("1.3.6.1.2.1.31.1.1.1.1.{i}"), "4", name);
    }
    /// An lldpRemTable row (index `t.port.idx`).
    #[allow(clippy::too_many_arguments)]
    fn rem(
        &mut self,
        base: &str,
        index: &str,
        cs: u32,
        ctag: &str,
        c: &str,
        ps: u32,
        p: &str,
        desc: &str,
        name: &str,
    ) {
        let (c0, c1, c2, c3, c4, c5) = if base.starts_with("1.3.111") {
            (5, 6, 7, 8, 9, 10)
        } else {
            (4, 5, 6, 7, 8, 9)
        };
        self.add(&format!("{base}.{c0}.{index}"), "2", &cs.to_string());
        self.add(&format!("{base}.{c1}.{index}"), ctag, c);
        self.add(&format!("{base}.{c2}.{index}"), "2", &ps.to_string());
        self.add(&format!("{base}.{c3}.{index}"), "4", p);
        self.add(&format!("{base}.{c4}.{index}"), "4", desc);
        self.add(&format!("{base}.{c5}.{index}"), "4", name);
    }
    fn text(mut self, sysname: &str) -> String {
        self.add("1.3.6.1.2.1.1.3.0", "67", "123456");
        self.add("1.3.6.1.2.1.1.5.0", "4", sysname);
        self.0.sort();
        self.0
            .iter()
            .map(|(o, t, v)| {
                let o: Vec<String> = o.iter().map(u32::to_string).collect();
                format!("{}|{t}|{v}\n", o.join("."))
            })
            .collect()
    }
}

const REM: &str = "1.0.8802.1.1.2.1.4.1.1";
const LOC: &str = "1.0.8802.1.1.2.1.3.7.1";
const V2REM: &str = "1.3.111.2.802.1.1.13.1.4.1.1";

fn arista() -> String {
    let mut r = Rec::new();
    for p in 1..=4 {
        r.iface(p, &format!("Ethernet{p}"));
        r.add(&format!("1.3.6.1.2.1.17.1.4.1.2.{p}"), "2", &p.to_string());
        r.add(&format!("{LOC}.2.{p}"), "2", "5");
        r.add(&format!("{LOC}.3.{p}"), "4", &format!("Ethernet{p}"));
    }
    r.rem(
        REM,
        "0.1.68",
        4,
        "4x",
        "001B21BBE6F0",
        5,
        "ens2f0np0",
        "dtn-a data",
        "dtn-a",
    );
    r.rem(
        REM,
        "0.3.69",
        4,
        "4x",
        "444CA8AABB01",
        5,
        "Ethernet49/1",
        "to sw-a",
        "sw-b.example.net",
    );
    r.text("sw-a")
}

fn junos() -> String {
    let mut r = Rec::new();
    r.iface(512, "ge-0/0/47");
    r.iface(513, "xe-0/0/0");
    r.iface(518, "xe-0/0/1");
    r.add("1.3.6.1.2.1.17.1.4.1.2.4097", "2", "513");
    r.add("1.3.6.1.2.1.17.1.4.1.2.4099", "2", "518");
    r.add(&format!("{LOC}.3.513"), "4", "513");
    r.add(&format!("{LOC}.3.518"), "4", "518");
    r.rem(
        REM,
        "35684499.513.3",
        4,
        "4x",
        "50C58D123456",
        7,
        "2150",
        "ifa",
        "devicea",
    );
    r.rem(
        REM,
        "35688385.518.4",
        4,
        "4x",
        "80711F123456",
        7,
        "2447",
        "ifb",
        "deviceb",
    );
    r.text("qfx")
}

fn dnos() -> String {
    let mut r = Rec::new();
    r.iface(2097156, "TenGigabitEthernet 1/1");
    r.iface(2103301, "TenGigabitEthernet 1/49");
    r.add(&format!("{LOC}.2.2097156"), "2", "5");
    r.add(&format!("{LOC}.3.2097156"), "4", "TenGigabitEthernet 1/1");
    r.add(&format!("{LOC}.4.2103301"), "4", "TenGigabitEthernet 1/49");
    r.rem(
        REM,
        "0.2103301.1",
        4,
        "4",
        "e4 f0 04 fb 1f fb",
        5,
        "Te 1/50",
        "",
        "s4048-b",
    );
    r.text("dnos")
}

fn v2_only() -> String {
    let mut r = Rec::new();
    r.iface(18, "ethernet1/13");
    r.iface(19, "ethernet1/14");
    r.rem(
        V2REM,
        "0.18.1.1",
        4,
        "4",
        "28:99:3a:bf:26:46",
        5,
        "Ethernet46",
        "",
        "leaf-2",
    );
    r.rem(
        V2REM,
        "0.19.1.2",
        4,
        "4x",
        "28993ABF23F6",
        3,
        "28:99:3a:bf:23:f7",
        "",
        "leaf-3",
    );
    r.text("v2")
}

struct Sim {
    addr: String,
    _dir: tempfile::TempDir,
    _proc: Proc,
}

/// snmpsim serving `files` (community = name).
fn snmpsim(bin: &Path, files: &[(String, String)]) -> Sim {
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("mkdir");
    std::fs::create_dir_all(dir.path().join("cache")).expect("mkdir");
    for (name, text) in files {
        std::fs::write(data.join(format!("{name}.snmprec")), text).expect("write");
    }
    let port = free_udp_port();
    let mut cmd = Command::new(bin);
    cmd.arg(format!("--data-dir={}", data.display()))
        .arg(format!(
            "--cache-dir={}",
            dir.path().join("cache").display()
        ))
        .arg(format!("--agent-udpv4-endpoint=127.0.0.1:{port}"))
        .arg("--logging-method=stdout");
    if rtmon_testkit::is_root() {
        cmd.args(["--process-user=root", "--process-group=root"]);
    }
    let log = dir.path().join("snmpsim.log");
    let proc = Proc::spawn("snmpsim", cmd, Some(&log)).expect("spawn snmpsim");
    let addr = format!("127.0.0.1:{port}");
    assert!(
        wait_until_answers(&addr, &files[0].0, Duration::from_secs(60)),
        "snmpsim did not answer: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    Sim {
        addr,
        _dir: dir,
        _proc: proc,
    }
}

struct Exporter {
    addr: String,
    _dir: tempfile::TempDir,
    _proc: Proc,
}

fn exporter(communities: &[String]) -> Exporter {
    let dir = tempfile::tempdir().expect("tmp");
    let mut cfg = String::from("auths:\n");
    for c in communities {
        cfg.push_str(&format!("  {c}: {{community: {c}}}\n"));
    }
    let path = dir.path().join("snmp.yml");
    std::fs::write(&path, cfg).expect("write");
    let addr = format!("127.0.0.1:{}", free_port());
    let log = dir.path().join("exporter.log");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rtmon-snmp-exporter"));
    cmd.arg(format!("--web.listen-address={addr}"))
        .arg(format!("--config.file={}", path.display()));
    let proc = Proc::spawn("exporter", cmd, Some(&log)).expect("spawn");
    assert!(
        wait_for_port(&addr, Duration::from_secs(20)),
        "exporter did not listen: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    Exporter {
        addr,
        _dir: dir,
        _proc: proc,
    }
}

impl Exporter {
    fn lldp(&self, sim: &Sim, auth: &str) -> String {
        let r = http(
            "GET",
            &self.addr,
            &format!("/snmp?target={}&auth={auth}&module=lldp", sim.addr),
            &[("X-Prometheus-Scrape-Timeout-Seconds", "20")],
            b"",
        )
        .expect("http");
        assert_eq!(r.status, 200, "{}", r.text());
        r.text()
    }
}

fn info(labels: &[(&str, &str)]) -> String {
    let l: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    format!("rtmon_snmp_lldp_neighbor_info{{{}}} 1\n", l.join(","))
}

#[allow(clippy::too_many_arguments)]
fn row(
    ifname: &str,
    ifindex: &str,
    chassis: &str,
    cs: &str,
    port: &str,
    ps: &str,
    desc: &str,
    name: &str,
) -> String {
    info(&[
        ("ifName", ifname),
        ("ifIndex", ifindex),
        ("remote_chassis_id", chassis),
        ("remote_chassis_id_subtype", cs),
        ("remote_port_id", port),
        ("remote_port_id_subtype", ps),
        ("remote_port_desc", desc),
        ("remote_system_name", name),
    ])
}

fn count(t: &str) -> usize {
    t.matches("rtmon_snmp_lldp_neighbor_info{").count()
}

#[test]
fn lldp_module_on_switch_shaped_agents() {
    let Some(bin) = snmpsim_binary() else {
        available(
            "lldp_module_on_switch_shaped_agents",
            &["snmpsim-command-responder"],
            false,
        );
        return;
    };
    let files: Vec<(String, String)> = vec![
        ("arista".into(), arista()),
        ("junos".into(), junos()),
        ("dnos".into(), dnos()),
        ("v2only".into(), v2_only()),
    ];
    let sim = snmpsim(&bin, &files);
    let names: Vec<String> = files.iter().map(|f| f.0.clone()).collect();
    let ex = exporter(&names);

    let t = ex.lldp(&sim, "arista");
    for want in [
        row(
            "Ethernet1",
            "1",
            "00:1b:21:bb:e6:f0",
            "macAddress",
            "ens2f0np0",
            "interfaceName",
            "dtn-a data",
            "dtn-a",
        ),
        row(
            "Ethernet3",
            "3",
            "44:4c:a8:aa:bb:01",
            "macAddress",
            "Ethernet49/1",
            "interfaceName",
            "to sw-a",
            "sw-b.example.net",
        ),
    ] {
        assert!(t.contains(&want), "missing {want}in\n{t}");
    }
    assert_eq!(count(&t), 2, "{t}");

    let t = ex.lldp(&sim, "junos");
    for want in [
        row(
            "xe-0/0/0",
            "513",
            "50:c5:8d:12:34:56",
            "macAddress",
            "2150",
            "local",
            "ifa",
            "devicea",
        ),
        row(
            "xe-0/0/1",
            "518",
            "80:71:1f:12:34:56",
            "macAddress",
            "2447",
            "local",
            "ifb",
            "deviceb",
        ),
    ] {
        assert!(t.contains(&want), "missing {want}in\n{t}");
    }

    let t = ex.lldp(&sim, "dnos");
    let want = row(
        "TenGigabitEthernet 1/49",
        "2103301",
        "e4:f0:04:fb:1f:fb",
        "macAddress",
        "Te 1/50",
        "interfaceName",
        "",
        "s4048-b",
    );
    assert!(t.contains(&want), "missing {want}in\n{t}");
    assert_eq!(count(&t), 1, "{t}");

    let t = ex.lldp(&sim, "v2only");
    for want in [
        row(
            "ethernet1/13",
            "18",
            "28:99:3a:bf:26:46",
            "macAddress",
            "Ethernet46",
            "interfaceName",
            "",
            "leaf-2",
        ),
        row(
            "ethernet1/14",
            "19",
            "28:99:3a:bf:23:f6",
            "macAddress",
            "28:99:3a:bf:23:f7",
            "macAddress",
            "",
            "leaf-3",
        ),
    ] {
        assert!(t.contains(&want), "missing {want}in\n{t}");
    }
    assert_eq!(count(&t), 2, "{t}");
}

fn upstream_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/upstream-fixtures/librenms-snmprec")
}

/// The hand join: for each lldpRemTable row of a recording, the system name, the
/// chassis id (MAC subtype: 6 hex octets) and — where lldpLocPortId of the row's local
/// port is an ifName of the recording — that ifName.
fn hand_join(text: &str) -> Vec<(String, String, Option<String>)> {
    let mut rem: BTreeMap<String, BTreeMap<u32, (String, String)>> = BTreeMap::new();
    let mut loc: BTreeMap<String, String> = BTreeMap::new();
    let mut ifnames: Vec<String> = Vec::new();
    for line in text.lines() {
        let mut it = line.splitn(3, '|');
        let (Some(oid), Some(tag), Some(v)) = (it.next(), it.next(), it.next()) else {
            continue;
        };
        if let Some(rest) = oid.strip_prefix("1.0.8802.1.1.2.1.4.1.1.") {
            if let Some((c, idx)) = rest.split_once('.') {
                if let Ok(c) = c.parse::<u32>() {
                    rem.entry(idx.to_string())
                        .or_default()
                        .insert(c, (tag.to_string(), v.to_string()));
                }
            }
        } else if let Some(p) = oid.strip_prefix("1.0.8802.1.1.2.1.3.7.1.3.") {
            loc.insert(p.to_string(), v.to_string());
        } else if oid.starts_with("1.3.6.1.2.1.31.1.1.1.1.") {
            ifnames.push(v.to_string());
        }
    }
    rem.iter()
        .filter_map(|(idx, cols)| {
            let (ctag, chassis) = cols.get(&5)?;
            let name = cols.get(&9).map(|x| x.1.clone()).unwrap_or_default();
            let cs = cols.get(&4).map(|x| x.1.as_str());
            let chassis = if cs == Some("4") && ctag == "4x" && chassis.len() == 12 {
                (0..6)
                    .map(|i| chassis[i * 2..i * 2 + 2].to_ascii_lowercase())
                    .collect::<Vec<_>>()
                    .join(":")
            } else {
                String::new() // other renderings are not checked by hand
            };
            let port = idx.split('.').nth(1)?;
            let ifname = loc.get(port).filter(|n| ifnames.contains(n)).cloned();
            Some((name, chassis, ifname))
        })
        .collect()
}

#[test]
fn lldp_module_on_real_recordings() {
    let dir = upstream_dir();
    if !dir.is_dir() {
        eprintln!(
            "SKIP lldp_module_on_real_recordings: {} is absent (upstream data is read from ../shared, never copied into the repository)",
            dir.display()
        );
        return;
    }
    let Some(bin) = snmpsim_binary() else {
        available(
            "lldp_module_on_real_recordings",
            &["snmpsim-command-responder"],
            false,
        );
        return;
    };
    let mut files = Vec::new();
    for e in std::fs::read_dir(&dir).expect("dir").flatten() {
        let p = e.path();
        let Some(stem) = p
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".snmprec"))
        else {
            continue;
        };
        let text = std::fs::read_to_string(&p).expect("read");
        if text.contains("\n1.0.8802.1.1.2.1.4.1.1.") {
            files.push((stem.to_string(), text));
        }
    }
    files.sort();
    assert!(
        files.len() >= 5,
        "recordings with lldpRemTable: {}",
        files.len()
    );
    let sim = snmpsim(&bin, &files);
    let names: Vec<String> = files.iter().map(|f| f.0.clone()).collect();
    let ex = exporter(&names);
    let mut checked = 0;
    let mut unresolved = Vec::new();
    for (name, text) in &files {
        let t = ex.lldp(&sim, name);
        let n = t.matches("ifIndex=\"\"").count();
        if n > 0 {
            unresolved.push(format!("{name}: {n}"));
        }
        let expect = hand_join(text);
        assert!(!expect.is_empty(), "{name}");
        assert_eq!(
            count(&t),
            expect.len(),
            "{name}: one series per remote row\n{t}"
        );
        for (sys, chassis, ifname) in &expect {
            let line = t
                .lines()
                .find(|l| {
                    l.contains(&format!("remote_system_name=\"{sys}\""))
                        && (chassis.is_empty()
                            || l.contains(&format!("remote_chassis_id=\"{chassis}\"")))
                        && ifname
                            .as_ref()
                            .is_none_or(|n| l.contains(&format!("ifName=\"{n}\"")))
                })
                .unwrap_or_else(|| {
                    panic!("{name}: no series for {sys:?} {chassis:?} on {ifname:?}\n{t}")
                });
            assert!(
                !line.contains("ifIndex=\"\"") || ifname.is_none(),
                "{name}: {line}"
            );
            checked += 1;
        }
    }
    eprintln!(
        "checked {checked} neighbours of {} real recordings; local port not resolved to an ifIndex: {unresolved:?}",
        files.len()
    );
}
