//! Faults injected into the live demo of `scripts/run-local.sh` (as root: two host
//! namespaces, a Linux-bridge switch read by net-snmp's snmpd, lldpd everywhere, a real
//! Prometheus), one at a time with `scripts/inject.sh`, each healed again:
//!
//! - the switch's out port down → `status` names `sw-a port hundredGigE 1/31 oper down`
//!   first (before the host interface behind it, the ARP and ping failures it causes);
//! - the flow's VLAN removed from that port → `VLAN 1000 missing on port …` first;
//! - the port's MTU lowered to 1500 → the port's `mtu` check first (degraded);
//! - dtn-b's cable moved to the spare port → dtn-b's `lldp_link` first (it hears sw-a's
//!   hundredGigE 1/32, not 1/31);
//! - the switch's management link down → `sw-a does not answer SNMP` first (before
//!   every switch check that loses its data).
//!
//! After each heal `status` must say healthy again. Needs root, iproute2, nftables,
//! snmpd, lldpd, Prometheus and the workspace's binaries.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rtmon_testkit::rig::RigBins;
use serde_json::Value;

const DEADLINE: Duration = Duration::from_secs(90);

/// A check as `status` names it: (hop, check, subject).
type Cause = (String, String, String);

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// run-local.sh in the background; stopped (SIGTERM, it cleans up) on drop.
struct Demo {
    child: Child,
    out: tempfile::TempDir,
    log: PathBuf,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

impl Demo {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn env(&self, key: &str) -> String {
        let env = std::fs::read_to_string(self.out.path().join("demo.env")).expect("demo.env");
        env.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .map(|v| v.replace("\\ ", " "))
            .unwrap_or_else(|| panic!("{key} not in demo.env:\n{env}"))
    }

    fn inject(&self, action: &str, fault: &str) {
        let out = Command::new("bash")
            .arg(repo().join("scripts/inject.sh"))
            .arg("--out")
            .arg(self.out.path())
            .arg(format!("--{action}"))
            .arg(fault)
            .output()
            .expect("inject.sh");
        assert!(
            out.status.success(),
            "inject.sh --{action} {fault}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `status --output json`: (exit code, the flow's summary, its first cause as
    /// (hop, check, subject)).
    fn status(&self) -> (i32, String, Option<Cause>) {
        let out = Command::new(env!("CARGO_BIN_EXE_rtmon-dashboards"))
            .arg("status")
            .arg(self.out.path().join("flow.yml"))
            .args(["--prometheus", &format!("http://{}", self.env("PROM"))])
            .args(["--check-window", &self.env("check_window")])
            .args(["--output", "json"])
            .output()
            .expect("status");
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        let flow = &v["flows"][0];
        let summary = flow["summary"].as_str().unwrap_or("").to_string();
        (
            out.status.code().unwrap_or(-1),
            summary.clone(),
            first_cause(flow, &summary),
        )
    }
}

/// The failing check whose text the summary (`down: TEXT since …`) starts with.
fn first_cause(flow: &Value, summary: &str) -> Option<Cause> {
    let rest = summary.split_once(": ")?.1;
    let mut best: Option<(usize, Cause)> = None;
    for h in flow["hops"].as_array()? {
        for c in h["checks"].as_array()? {
            let text = c["text"].as_str().unwrap_or("");
            if c["healthy"] == Value::Bool(false)
                && !text.is_empty()
                && rest.starts_with(text)
                && best.as_ref().is_none_or(|(n, _)| text.len() > *n)
            {
                let s = |v: &Value| v.as_str().unwrap_or("").to_string();
                best = Some((text.len(), (s(&h["hop"]), s(&c["check"]), s(&c["subject"]))));
            }
        }
    }
    best.map(|(_, c)| c)
}

fn start_demo() -> Demo {
    let bins = RigBins::workspace();
    let bin_dir = bins.dashboards.parent().expect("bin dir").to_path_buf();
    let out = tempfile::tempdir().expect("tmp");
    let log = out.path().join("run-local.log");
    let child = Command::new("bash")
        .arg(repo().join("scripts/run-local.sh"))
        .arg("--bin-dir")
        .arg(&bin_dir)
        .arg("--out")
        .arg(out.path())
        .args(["--timeout", "120", "--lldp-interval", "2"])
        .stdout(std::fs::File::create(&log).expect("log"))
        .stderr(Stdio::inherit())
        .spawn()
        .expect("run-local.sh");
    let demo = Demo { child, out, log };
    let end = Instant::now() + Duration::from_secs(180);
    while !demo
        .log()
        .contains("[run-local] running; Ctrl-C stops everything")
    {
        assert!(
            Instant::now() < end,
            "the demo did not start:\n{}",
            demo.log()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(
        demo.log().contains("[run-local] status: healthy"),
        "the demo is not healthy:\n{}",
        demo.log()
    );
    demo
}

#[test]
fn status_names_each_injected_fault_first() {
    let bins = RigBins::workspace();
    let mut need: Vec<String> = bins.all();
    need.push(
        rtmon_testkit::workspace_bin("rtmon-script-exporter")
            .display()
            .to_string(),
    );
    need.extend(
        [
            "prometheus",
            "ip",
            "nft",
            "snmpd",
            "lldpd",
            "lldpcli",
            "ping",
            "curl",
            "python3",
            "bash",
        ]
        .map(String::from),
    );
    let need: Vec<&str> = need.iter().map(String::as_str).collect();
    if !rtmon_testkit::available("status_names_each_injected_fault_first", &need, true) {
        return;
    }
    let demo = start_demo();
    let port = demo.env("OUT_PORT");
    assert_eq!(port, "hundredGigE 1/31");
    let want = |hop: &str, check: &str, subject: &str| {
        (hop.to_string(), check.to_string(), subject.to_string())
    };
    let cases: Vec<(&str, Vec<Cause>, i32)> = vec![
        ("port-down", vec![want("sw-a", "port_oper_up", &port)], 2),
        ("vlan", vec![want("sw-a", "vlan_on_port", &port)], 2),
        ("mtu", vec![want("sw-a", "mtu", &port)], 1),
        // dtn-b's cable moved to the spare port (the patch panel): dtn-b hears sw-a's
        // hundredGigE 1/32 by LLDP, the switch learns its MAC there.
        (
            "recable",
            vec![want("dtn-b", "lldp_link", &demo.env("B_IF"))],
            2,
        ),
        ("unreachable", vec![want("sw-a", "snmp_up", "")], 2),
    ];
    for (fault, causes, code) in cases {
        demo.inject("inject", fault);
        let end = Instant::now() + DEADLINE;
        loop {
            let (c, summary, first) = demo.status();
            if c == code && first.as_ref().is_some_and(|f| causes.contains(f)) {
                break;
            }
            assert!(
                Instant::now() < end,
                "{fault}: status never named {causes:?} first (exit {code}); last: exit {c}, {summary}, first cause {first:?}"
            );
            std::thread::sleep(Duration::from_millis(500));
        }
        demo.inject("heal", fault);
        let end = Instant::now() + DEADLINE;
        loop {
            let (c, summary, _) = demo.status();
            if c == 0 {
                break;
            }
            assert!(
                Instant::now() < end,
                "{fault}: not healthy after --heal: exit {c}, {summary}"
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}
