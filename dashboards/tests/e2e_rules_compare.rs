//! The constant rules give the same `rtmon:flow_check:ok` values as the former per-flow
//! rules on the end-to-end rig ([`rtmon_testkit::rig::FlowRig`]): both sets loaded into
//! the rig's Prometheus side by side (the per-flow ones renamed `old:…`), compared check
//! by check while the flow is healthy, with a switch port down, and with a port's MTU
//! below the hosts'. Checks that only the constant rules have (`port_unique`) are
//! compared with nothing.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rtmon_dashboards::{engine::per_flow, Options};
use rtmon_testkit::prom::{Prometheus, PROMETHEUS_BIN};
use rtmon_testkit::rig::{self, FlowRig, RigBins};

type Values = BTreeMap<(String, String, String), f64>;

fn values(prom: &Prometheus, record: &str) -> Values {
    prom.query(record)
        .unwrap_or_default()
        .into_iter()
        .map(|(l, v)| {
            let g = |k: &str| l.get(k).cloned().unwrap_or_default();
            ((g("hop"), g("check"), g("subject")), v)
        })
        .collect()
}

/// Waits until both rule sets agree on every check the old one has, with `want` for
/// the check (hop, check, subject) named there (None: every check healthy); returns
/// the new values.
fn agree(rig: &mut FlowRig, want: Option<(&str, &str, &str, f64)>) -> Values {
    let end = Instant::now() + Duration::from_secs(90);
    loop {
        let new = values(&rig.prom, "rtmon:flow_check:ok");
        let old = values(&rig.prom, "old:flow_check:ok");
        let same = !old.is_empty()
            && old.iter().all(|(k, v)| new.get(k) == Some(v))
            && new
                .keys()
                .all(|k| old.contains_key(k) || k.1 == "port_unique");
        let wanted = match want {
            Some((h, c, s, v)) => new.get(&(h.into(), c.into(), s.into())) == Some(&v),
            None => new.len() > 20 && new.values().all(|v| *v == 1.0),
        };
        if same && wanted {
            return new;
        }
        if Instant::now() >= end {
            let diff: Vec<_> = old
                .iter()
                .filter(|(k, v)| new.get(*k) != Some(v))
                .map(|(k, v)| format!("{k:?}: old {v}, new {:?}", new.get(k)))
                .collect();
            panic!(
                "the rule sets never agreed (want {want:?}):\n{}\nnew only: {:?}\n{}",
                diff.join("\n"),
                new.keys()
                    .filter(|k| !old.contains_key(*k))
                    .collect::<Vec<_>>(),
                rig.logs()
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn constant_rules_agree_with_the_per_flow_rules_on_the_rig() {
    let mut bins = RigBins::workspace();
    bins.dashboards = PathBuf::from(env!("CARGO_BIN_EXE_rtmon-dashboards"));
    let snmpsim = rtmon_testkit::snmp::snmpsim_binary()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "snmpsim-command-responder".into());
    let bin_paths = bins.all();
    let mut need: Vec<&str> = vec![PROMETHEUS_BIN, "ip", "snmpget", &snmpsim];
    need.extend(bin_paths.iter().map(String::as_str));
    if !rtmon_testkit::available(
        "constant_rules_agree_with_the_per_flow_rules_on_the_rig",
        &need,
        true,
    ) {
        return;
    }
    let mut rig = FlowRig::start(&bins).expect("flow rig");
    let flows = rtmon::flow::load_file(&rig.flow_file).unwrap_or_else(|e| panic!("{e}"));
    let mut old = Vec::new();
    per_flow::write(&mut old, &flows, &Options::default(), "1s", "5s").expect("render");
    let old = String::from_utf8(old)
        .expect("utf-8")
        .replace("rtmon:", "old:")
        .replace("RtmonFlowCheckFailed", "OldFlowCheckFailed")
        .replace("name: \"rtmon-flow-", "name: \"old-flow-");
    let groups = old.split_once("groups:\n").map_or("", |(_, g)| g);
    std::fs::write(
        rig.prom.dir().join("rules-0.yml"),
        format!("{}{groups}", rig.rules),
    )
    .expect("write rules");
    rig.prom.reload().expect("reload");

    // Healthy: every check 1 in both.
    let healthy = agree(&mut rig, None);
    assert!(healthy.len() > 20, "{healthy:?}");
    assert!(healthy.values().all(|v| *v == 1.0), "{healthy:?}");

    // A switch port down.
    rig.switch
        .set_oper_status(rig::OUT_IFINDEX, 2)
        .expect("port down");
    agree(
        &mut rig,
        Some((rig::SWITCH, "port_oper_up", rig::OUT_PORT, 0.0)),
    );
    rig.switch
        .set_oper_status(rig::OUT_IFINDEX, 1)
        .expect("port up");

    // A port MTU below the hosts'.
    rig.switch.set_mtu(rig::OUT_IFINDEX, 1500).expect("mtu");
    agree(&mut rig, Some((rig::SWITCH, "mtu", rig::OUT_PORT, 0.0)));
    rig.switch
        .set_mtu(rig::OUT_IFINDEX, 9216)
        .expect("mtu back");
    agree(&mut rig, Some((rig::SWITCH, "mtu", rig::OUT_PORT, 1.0)));
}
