//! `rtmon-dashboards resolve` against rtmon-snmp-exporter and an snmpsim agent whose
//! ifNames are not unique (issue 31: a Huawei S5720-like pair, ifIndex 57 and 163 both
//! `XGigabitEthernet2/0/4`, and an Extreme SLX-like pair, ifIndex 29 and 229 both
//! `Ethernet 0/29` with the same ifDescr): an unpinned ambiguous port is refused with the
//! candidates and how to pin it; ports pinned by `ifIndex` or `ifDescr` resolve to one
//! interface each.
//!
//! Needs snmpsim, snmpget and the workspace's rtmon-snmp-exporter binary
//! (`cargo build --workspace` first; scripts/test.sh does).

use std::process::Command;
use std::time::Duration;

use rtmon_testkit::snmp::{self, Snmpsim};
use rtmon_testkit::{available, free_port, snmprec, wait_for_port, workspace_bin, Proc};

fn flow(target: &str, in_port: &str, out_port: &str) -> String {
    format!(
        "flow: pins\npath:\n  - host: a\n    interface: eth0\n  - switch: sw\n    target: \"{target}\"\n    auth: ambig\n    in: {in_port}\n    out: {out_port}\n  - host: b\n    interface: eth0\n"
    )
}

fn resolve(dir: &std::path::Path, snmp: &str, text: &str) -> (i32, String) {
    let f = dir.join("flow.yml");
    std::fs::write(&f, text).expect("write flow");
    let out = Command::new(env!("CARGO_BIN_EXE_rtmon-dashboards"))
        .args(["resolve", "--snmp", snmp])
        .arg(&f)
        .output()
        .expect("run resolve");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn ambiguous_ports_are_refused_and_pinned_ports_resolve() {
    let test = "ambiguous_ports_are_refused_and_pinned_ports_resolve";
    let exporter = workspace_bin("rtmon-snmp-exporter");
    let Some(sim_bin) = snmp::snmpsim_binary() else {
        available(test, &["snmpsim-command-responder"], false);
        return;
    };
    if !available(
        test,
        &[
            sim_bin.to_str().unwrap_or("?"),
            "snmpget",
            exporter.to_str().unwrap_or("?"),
        ],
        false,
    ) {
        return;
    }
    let sim = Snmpsim::serve(
        &[("ambig".into(), snmprec::ambiguous_names().into_bytes())],
        Duration::from_secs(60),
    )
    .expect("snmpsim");
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("snmp.yml");
    std::fs::write(&cfg, "auths:\n  ambig: {community: ambig}\n").expect("config");
    let addr = format!("127.0.0.1:{}", free_port());
    let mut cmd = Command::new(&exporter);
    cmd.arg(format!("--config.file={}", cfg.display()))
        .arg(format!("--web.listen-address={addr}"));
    let _p = Proc::spawn(
        "rtmon-snmp-exporter",
        cmd,
        Some(&dir.path().join("snmp.log")),
    )
    .expect("spawn");
    assert!(wait_for_port(&addr, Duration::from_secs(30)), "exporter");
    let snmp = format!("http://{addr}");

    // Unpinned: refused, with both candidates and how to pin it.
    let (code, out) = resolve(
        dir.path(),
        &snmp,
        &flow(
            &sim.addr(),
            "{port: \"XGigabitEthernet2/0/4\"}",
            "{port: \"Ethernet 0/29\", ifIndex: 229}",
        ),
    );
    assert_eq!(code, 1, "{out}");
    let line = out
        .lines()
        .find(|l| l.contains("\"XGigabitEthernet2/0/4\":"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(line.contains("AMBIGUOUS 2 interfaces fit: ifIndex 57 ifDescr \"XGigabitEthernet2/0/4\" ifAlias \"to core\" ifOperStatus 1; ifIndex 163 ifDescr \"XGigabitEthernet2/0/4 stack-port\" ifOperStatus 2"), "{line}");
    assert!(
        line.contains("`in: {port: \"XGigabitEthernet2/0/4\", ifIndex: 57}`"),
        "{line}"
    );
    assert!(
        line.contains("ifIndex: 163 (or ifDescr: \"XGigabitEthernet2/0/4 stack-port\")"),
        "{line}"
    );
    let pinned = out
        .lines()
        .find(|l| l.contains("\"Ethernet 0/29\":"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        pinned.contains("ok       ifIndex 229, ifOperStatus 2"),
        "{pinned}"
    );
    assert!(out.contains("1 port(s) could not be resolved"), "{out}");

    // Pinned by ifDescr and by ifIndex: both resolve, exit 0.
    let (code, out) = resolve(
        dir.path(),
        &snmp,
        &flow(
            &sim.addr(),
            "{port: \"XGigabitEthernet2/0/4\", ifDescr: \"XGigabitEthernet2/0/4 stack-port\"}",
            "{port: \"Ethernet 0/29\", ifIndex: 29}",
        ),
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("ok       ifIndex 163, ifOperStatus 2"),
        "{out}"
    );
    assert!(out.contains("ok       ifIndex 29, ifOperStatus 1"), "{out}");

    // A pin that is not one of the interfaces of that name; an ifDescr they share.
    let (code, out) = resolve(
        dir.path(),
        &snmp,
        &flow(
            &sim.addr(),
            "{port: \"XGigabitEthernet2/0/4\", ifIndex: 29}",
            "{port: \"Ethernet 0/29\", ifDescr: \"Ethernet 0/29\"}",
        ),
    );
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("NO PIN   no interface named \"XGigabitEthernet2/0/4\" has ifIndex \"29\"; those named so: ifIndex 57"),
        "{out}"
    );
    assert!(
        out.contains("AMBIGUOUS 2 interfaces fit: ifIndex 29 ifDescr \"Ethernet 0/29\""),
        "{out}"
    );
    assert!(out.contains("one of: ifIndex: 29, ifIndex: 229"), "{out}");
}
