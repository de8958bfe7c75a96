//! End-to-end proof of the `lldp_link` check on the flow rig
//! ([`rtmon_testkit::rig::FlowRig`]): host A's data-plane interface is really cabled
//! (veth) to host B, while the flow says it goes to the switch's `in` port. Debian's
//! `lldpd` runs in B's namespace; A's rtmon-arp-exporter (started with `--flow`)
//! listens for LLDP on that interface, Prometheus scrapes it and evaluates the
//! generated rules.
//!
//! 1. lldpd announces itself as the switch and its `in` port: A's `lldp_link` is
//!    healthy *with* LLDP data (not merely "not applicable");
//! 2. lldpd announces host B as it is (a mis-cabled host, as far as the flow is
//!    concerned): A's `lldp_link` rule goes 0 and `status` exits 2 (down: the check is critical) naming both ends
//!    of the link; B's own `lldp_link` stays healthy (B hears no LLDP: not applicable).
//!
//! Needs root, iproute2, Prometheus, snmpsim, lldpd and the workspace's exporter
//! binaries (`cargo build --workspace` first; scripts/test.sh does).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

mod common;
use common::failing;

use rtmon_testkit::netns::Netns;
use rtmon_testkit::prom::PROMETHEUS_BIN;
use rtmon_testkit::rig::{self, FlowRig, RigBins};
use rtmon_testkit::Proc;
use serde_json::Value;

const DEADLINE: Duration = Duration::from_secs(60);

fn status_json(flow: &Path, prom: &str) -> (i32, Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rtmon-dashboards"))
        .args([
            "status",
            "--output",
            "json",
            "--lookback",
            "5m",
            "--prometheus",
            prom,
        ])
        .arg(flow)
        .output()
        .expect("run status");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let v = serde_json::from_str(&text).unwrap_or(Value::Null);
    (
        out.status.code().unwrap_or(-1),
        v,
        text + &String::from_utf8_lossy(&out.stderr),
    )
}

fn check<'a>(v: &'a Value, hop: &str, check: &str, subject: &str) -> &'a Value {
    v["flows"][0]["hops"]
        .as_array()
        .and_then(|hops| hops.iter().find(|h| h["hop"] == hop))
        .and_then(|h| h["checks"].as_array())
        .and_then(|cs| {
            cs.iter()
                .find(|c| c["check"] == check && c["subject"] == subject)
        })
        .unwrap_or_else(|| panic!("no check {hop}/{check}/{subject} in {v}"))
}

/// lldpd in `ns` on the rig's data-plane interface, announcing `hostname` and (when
/// given) a locally assigned port id + description; TTL 4 s.
fn lldpd(ns: &Netns, dir: &Path, name: &str, hostname: &str, port: Option<&str>) -> Proc {
    let mut conf = format!(
        "configure system hostname {hostname}\nconfigure lldp tx-interval 1\nconfigure lldp tx-hold 4\n"
    );
    if let Some(p) = port {
        conf.push_str(&format!(
            "configure ports {if} lldp portidsubtype local \"{p}\"\nconfigure ports {if} lldp portdescription \"{p}\"\n",
            if = rig::DATA_IF
        ));
    }
    let file = dir.join(format!("{name}.conf"));
    std::fs::write(&file, conf).expect("lldpd conf");
    let lldpcli = std::env::var_os("PATH")
        .and_then(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("lldpcli"))
                .find(|f| f.is_file())
        })
        .unwrap_or_else(|| "/usr/sbin/lldpcli".into());
    let mut cmd = ns.command("lldpd");
    cmd.arg("-d")
        .arg("-u")
        .arg(dir.join(format!("{name}.sock")))
        .arg("-O")
        .arg(&file)
        .args(["-I", rig::DATA_IF, "-L"])
        .arg(lldpcli);
    Proc::spawn(name, cmd, Some(&dir.join(format!("{name}.log")))).expect("spawn lldpd")
}

#[test]
fn miscabled_host_fails_lldp_link_naming_both_ends() {
    let mut bins = RigBins::workspace();
    bins.dashboards = PathBuf::from(env!("CARGO_BIN_EXE_rtmon-dashboards"));
    let snmpsim = rtmon_testkit::snmp::snmpsim_binary()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "snmpsim-command-responder".into());
    let bin_paths = bins.all();
    let mut need: Vec<&str> = vec![
        PROMETHEUS_BIN,
        "ip",
        "snmpget",
        &snmpsim,
        "lldpd",
        "lldpcli",
    ];
    need.extend(bin_paths.iter().map(String::as_str));
    if !rtmon_testkit::available(
        "miscabled_host_fails_lldp_link_naming_both_ends",
        &need,
        true,
    ) {
        return;
    }
    let mut rig = FlowRig::start(&bins).expect("flow rig");
    let dir = rig.dir().to_path_buf();
    let url = rig.prom.url();
    let rule = |hop: &str| {
        format!(
            "rtmon:flow_check:ok{{flow=\"{}\",hop=\"{hop}\",check=\"lldp_link\",subject=\"{}\"}}",
            rig::FLOW_ID,
            rig::DATA_IF
        )
    };
    assert!(
        rig.rules.contains("check: \"lldp_link\""),
        "lldp_link rules generated: {}",
        rig.rules
    );

    // 1. B's lldpd speaks as the switch's `in` port: healthy, with LLDP data.
    let mut sw = lldpd(
        &rig.b.ns,
        &dir,
        "as-switch",
        rig::SWITCH,
        Some(rig::IN_PORT),
    );
    let heard = format!(
        "rtmon_lldp_neighbor_info{{system_name=\"{}\",port_id=\"{}\",interface=\"{}\"}}",
        rig::SWITCH,
        rig::IN_PORT,
        rig::DATA_IF
    );
    if let Err(e) = rig.prom.wait_for_query(&heard, |r| r.len() == 1, DEADLINE) {
        panic!("{e:#}\n{}", rig.logs());
    }
    if let Err(e) = rig.prom.wait_for_query(
        &rule(rig::HOST_A),
        |r| r.len() == 1 && r[0].1 == 1.0,
        DEADLINE,
    ) {
        panic!("{e:#}\n{}", rig.logs());
    }

    // 2. Host A turns out to be cabled to host B: B announces itself.
    sw.signal(15); // SIGTERM: lldpd sends a TTL-0 shutdown LLDPDU
    let _ = sw.wait_timeout(Duration::from_secs(5));
    drop(sw);
    let _host_b = lldpd(&rig.b.ns, &dir, "as-host-b", rig::HOST_B, None);
    if let Err(e) = rig.prom.wait_for_query(
        &rule(rig::HOST_A),
        |r| r.len() == 1 && r[0].1 == 0.0,
        DEADLINE,
    ) {
        panic!("{e:#}\n{}", rig.logs());
    }
    let id = format!("{}/lldp_link/{}", rig::HOST_A, rig::DATA_IF);
    let end = Instant::now() + DEADLINE;
    let v = loop {
        let (code, v, raw) = status_json(&rig.flow_file, &url);
        // lldp_link is critical: the flow is down (exit 2), with that one cause.
        if code == 2 && failing(&v) == [id.as_str()] {
            break v;
        }
        assert!(
            Instant::now() < end,
            "status never failed on {id} alone; last exit {code}, failing {:?}:\n{raw}\n{}",
            failing(&v),
            rig.logs()
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    let c = check(&v, rig::HOST_A, "lldp_link", rig::DATA_IF);
    assert_eq!(c["healthy"], false, "{c}");
    let text = c["text"].as_str().unwrap_or("");
    assert_eq!(
        text,
        format!(
            "LLDP: {} {} is not cabled to {} {} as the flow says",
            rig::HOST_A,
            rig::DATA_IF,
            rig::SWITCH,
            rig::IN_PORT
        ),
        "{c}"
    );
    // B hears no LLDP (A runs no agent): not applicable, healthy.
    assert_eq!(
        check(&v, rig::HOST_B, "lldp_link", rig::DATA_IF)["healthy"],
        true,
        "{v}"
    );
    // The switch side has no LLDP data either (no lldp module scraped): healthy.
    assert_eq!(
        check(&v, rig::SWITCH, "lldp_link", rig::IN_PORT)["healthy"],
        true,
        "{v}"
    );
}
