//! Alertmanager routing for the flow alerts, generated with the rules: one cause raises
//! one notification.
//!
//! Inhibitions (all within one flow, `equal: [flow, …]`):
//! - a switch that does not answer SNMP (`snmp_up`) inhibits the checks of that switch
//!   hop that read SNMP (port, VLAN, FDB, MTU, speed, errors, loss);
//! - a host exporter that is down (`exporter_up`, subject node/arp/ping) inhibits the
//!   checks of that host it feeds;
//! - of one host's exporters that are down together (the host unreachable, a site that
//!   stops pushing: one cause), only the first in the order node, arp, ping alerts:
//!   node inhibits arp and ping, arp inhibits ping (`equal: [flow, hop]`). Two exporters
//!   of one host failing for separate reasons at once are then one alert until the first
//!   is fixed;
//! - a segment losing packets or a port or interface with errors (`loss_segment`,
//!   `errors`) inhibits the flow's ping loss and RTT alerts (`ping_loss`, `ping_rtt`),
//!   which are its symptoms seen end to end (`equal: [flow]`);
//! - a broken link or layer-2 path (`interface_up`, `port_oper_up`, `vlan_on_port`,
//!   `lldp_link`: cause rank 2 or lower, read from the data plane's own state) inhibits
//!   the flow's `arp_peer` and `ping_peer`, which fail because of it (`equal: [flow]`);
//! - a switch port down inhibits the flow's host interfaces down: both ends of one link
//!   lose it together, and the switch port is named (`equal: [flow]`; alerts carry no
//!   link label, so a second, separate link down in the flow alerts after the first is
//!   fixed — `status` lists both);
//! - a failing critical check (the flow is down) inhibits the flow's warnings.
//!
//! The output is a complete Alertmanager config (route, receiver, inhibit_rules) that
//! `amtool check-config` accepts; sites with their own config copy the route and the
//! `inhibit_rules`.

use crate::engine::checks::{CheckKind, Severity, Source};
use crate::engine::rules::{q, ALERT};

/// Options of the generated config.
#[derive(Clone, Debug, Default)]
pub struct AlertmanagerOptions {
    /// Receiver name.
    pub receiver: String,
    /// Webhook URL of the receiver (none: a receiver without notifiers).
    pub webhook_url: Option<String>,
    /// `group_wait`, `group_interval`, `repeat_interval`.
    pub group_wait: String,
    /// See `group_wait`.
    pub group_interval: String,
    /// See `group_wait`.
    pub repeat_interval: String,
}

fn kinds(pred: &dyn Fn(CheckKind) -> bool) -> String {
    CheckKind::ALL
        .iter()
        .filter(|k| pred(**k))
        .map(|k| k.name())
        .collect::<Vec<_>>()
        .join("|")
}

/// Each inhibition: (source matchers, target matchers, equal labels).
pub fn inhibitions() -> Vec<(Vec<String>, Vec<String>, Vec<&'static str>)> {
    // Every matcher list starts with the flow alert's name.
    let alert = |ms: Vec<String>| {
        let mut v = vec![format!("alertname=\"{ALERT}\"")];
        v.extend(ms);
        v
    };
    let check = |k: CheckKind| format!("check=\"{}\"", k.name());
    let checks = |pred: &dyn Fn(CheckKind) -> bool| format!("check=~\"{}\"", kinds(pred));
    let exporter = |op: &str, subject: &str| {
        vec![
            check(CheckKind::ExporterUp),
            format!("subject{op}\"{subject}\""),
        ]
    };
    // Mtu, Speed, Errors, LossSegment read the hop's own source.
    let own = |k: CheckKind| {
        k.source() == Source::Other
            && !matches!(
                k,
                CheckKind::ExporterUp | CheckKind::SnmpUp | CheckKind::LldpLink
            )
    };
    let mut out = vec![(
        alert(vec![check(CheckKind::SnmpUp)]),
        alert(vec![checks(&|k| {
            k.source() == Source::Snmp || own(k) || k == CheckKind::LldpLink
        })]),
        vec!["flow", "hop"],
    )];
    // The ARP exporter also listens to LLDP on the host.
    for (subject, source, with_own) in [
        ("node", Source::Node, true),
        ("arp", Source::Arp, false),
        ("ping", Source::Ping, false),
    ] {
        out.push((
            alert(exporter("=", subject)),
            alert(vec![checks(&|k| {
                k.source() == source
                    || (with_own && own(k))
                    || (source == Source::Arp && k == CheckKind::LldpLink)
            })]),
            vec!["flow", "hop"],
        ));
    }
    // One host's exporters down together: one alert, the first of node, arp, ping.
    for (subject, below) in [("node", "arp|ping"), ("arp", "ping")] {
        out.push((
            alert(exporter("=", subject)),
            alert(exporter("=~", below)),
            vec!["flow", "hop"],
        ));
    }
    // A link down, a VLAN missing or a cable in the wrong port: ARP and ping fail with it.
    out.push((
        alert(vec![checks(&|k| {
            matches!(
                k,
                CheckKind::InterfaceUp
                    | CheckKind::PortOperUp
                    | CheckKind::VlanOnPort
                    | CheckKind::LldpLink
            )
        })]),
        alert(vec![checks(&|k| {
            matches!(k, CheckKind::ArpPeer | CheckKind::PingPeer)
        })]),
        vec!["flow"],
    ));
    // Both ends of a link go down together: the switch port is named.
    out.push((
        alert(vec![check(CheckKind::PortOperUp)]),
        alert(vec![check(CheckKind::InterfaceUp)]),
        vec!["flow"],
    ));
    // Loss on a segment (or errors on a port) is the cause of the flow's ping loss.
    out.push((
        alert(vec![checks(&|k| {
            matches!(k, CheckKind::LossSegment | CheckKind::Errors)
        })]),
        alert(vec![checks(&|k| {
            matches!(k, CheckKind::PingLoss | CheckKind::PingRtt)
        })]),
        vec!["flow"],
    ));
    out.push((
        alert(vec![format!("severity=\"{}\"", Severity::Critical.name())]),
        alert(vec![format!("severity=\"{}\"", Severity::Warning.name())]),
        vec!["flow"],
    ));
    out
}

/// The Alertmanager config (YAML).
pub fn render(o: &AlertmanagerOptions) -> String {
    let mut y = String::from(
        "# Generated by rtmon-dashboards: routing and inhibitions for the flow alerts.\n# Merge `route` and `inhibit_rules` into a site's own config.\n",
    );
    y.push_str(&format!(
        "route:\n  receiver: {}\n  group_by: [\"alertname\", \"flow\", \"hop\", \"check\", \"subject\"]\n  group_wait: {}\n  group_interval: {}\n  repeat_interval: {}\n",
        q(&o.receiver),
        o.group_wait,
        o.group_interval,
        o.repeat_interval
    ));
    y.push_str(&format!("receivers:\n  - name: {}\n", q(&o.receiver)));
    if let Some(u) = &o.webhook_url {
        y.push_str(&format!(
            "    webhook_configs:\n      - url: {}\n        send_resolved: true\n",
            q(u)
        ));
    }
    y.push_str("inhibit_rules:\n");
    for (src, tgt, equal) in inhibitions() {
        let list = |v: &[String]| v.iter().map(|m| q(m)).collect::<Vec<_>>().join(", ");
        y.push_str(&format!(
            "  - source_matchers: [{}]\n    target_matchers: [{}]\n    equal: [{}]\n",
            list(&src),
            list(&tgt),
            equal.iter().map(|e| q(e)).collect::<Vec<_>>().join(", ")
        ));
    }
    y
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switch_down_inhibits_its_port_checks_and_critical_inhibits_warnings() {
        let inh = inhibitions();
        let snmp = &inh[0];
        assert!(snmp.1[1].contains("port_oper_up"), "{:?}", snmp.1);
        assert!(snmp.1[1].contains("fdb_learned"));
        assert!(snmp.1[1].contains("vlan_on_port"));
        assert!(!snmp.1[1].contains("snmp_up"));
        assert!(!snmp.1[1].contains("ping_peer"));
        let ping = inh
            .iter()
            .find(|i| i.0.iter().any(|m| m == "subject=\"ping\""))
            .expect("ping inhibition");
        assert!(ping.1[1].contains("ping_peer") && ping.1[1].contains("ping_rtt"));
        assert!(!ping.1[1].contains("arp_peer"));
        let last = inh.last().expect("flow down");
        assert_eq!(last.2, vec!["flow"]);
    }

    /// The inhibitions whose source matchers all hold for `labels` and whose target
    /// matchers all hold for `target` (equality and `=~` alternations only, as generated).
    fn inhibits(labels: &[(&str, &str)], target: &[(&str, &str)]) -> bool {
        fn holds(m: &str, l: &[(&str, &str)]) -> bool {
            let (name, op, val) = if let Some((n, v)) = m.split_once("=~") {
                (n, "=~", v)
            } else if let Some((n, v)) = m.split_once('=') {
                (n, "=", v)
            } else {
                return false;
            };
            let val = val.trim_matches('"');
            let got = l.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
            match (op, got) {
                ("=", Some(g)) => g == val,
                ("=~", Some(g)) => val.split('|').any(|alt| alt == g),
                _ => false,
            }
        }
        fn with<'a>(l: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
            let mut v = l.to_vec();
            v.push(("alertname", ALERT));
            v
        }
        let (src, tgt) = (with(labels), with(target));
        inhibitions().iter().any(|(s, t, equal)| {
            s.iter().all(|m| holds(m, &src))
                && t.iter().all(|m| holds(m, &tgt))
                && equal.iter().all(|e| {
                    src.iter().find(|(k, _)| k == e).map(|x| x.1)
                        == tgt.iter().find(|(k, _)| k == e).map(|x| x.1)
                })
        })
    }

    #[test]
    fn one_alert_per_cause() {
        let exp = |hop, subject| {
            [
                ("flow", "f"),
                ("hop", hop),
                ("check", "exporter_up"),
                ("subject", subject),
                ("severity", "critical"),
            ]
        };
        // A host whose exporters all stop (push-stale): node's alert stays, the others go.
        assert!(inhibits(&exp("b", "node"), &exp("b", "arp")));
        assert!(inhibits(&exp("b", "node"), &exp("b", "ping")));
        assert!(inhibits(&exp("b", "arp"), &exp("b", "ping")));
        assert!(!inhibits(&exp("b", "arp"), &exp("b", "node")));
        assert!(!inhibits(&exp("b", "ping"), &exp("b", "node")));
        // Another host's exporters are not touched.
        assert!(!inhibits(&exp("b", "node"), &exp("a", "arp")));
        // Loss on a segment: the ping loss and RTT warnings of the flow are its symptoms.
        let seg = [
            ("flow", "f"),
            ("hop", "sw"),
            ("check", "loss_segment"),
            ("severity", "warning"),
        ];
        let ping = |check, hop| {
            [
                ("flow", "f"),
                ("hop", hop),
                ("check", check),
                ("severity", "warning"),
            ]
        };
        assert!(inhibits(&seg, &ping("ping_loss", "a")));
        assert!(inhibits(&seg, &ping("ping_rtt", "b")));
        assert!(!inhibits(&ping("ping_loss", "a"), &seg));
        let other_flow = [
            ("flow", "g"),
            ("hop", "a"),
            ("check", "ping_loss"),
            ("severity", "warning"),
        ];
        assert!(!inhibits(&seg, &other_flow));
        // A loss segment does not hide another segment's loss, nor the port's own checks.
        assert!(!inhibits(&seg, &ping("loss_segment", "b")));
        assert!(!inhibits(&seg, &ping("mtu", "sw")));
        // A port down (or a VLAN missing, a cable in the wrong port): ARP and ping of the
        // flow fail with it, and the host interface at the other end of the link.
        let crit = |check, hop| {
            [
                ("flow", "f"),
                ("hop", hop),
                ("check", check),
                ("severity", "critical"),
            ]
        };
        for src in ["port_oper_up", "vlan_on_port", "interface_up", "lldp_link"] {
            for tgt in ["arp_peer", "ping_peer"] {
                assert!(inhibits(&crit(src, "sw"), &crit(tgt, "a")), "{src} → {tgt}");
            }
        }
        assert!(inhibits(
            &crit("port_oper_up", "sw"),
            &crit("interface_up", "b")
        ));
        assert!(!inhibits(
            &crit("interface_up", "b"),
            &crit("port_oper_up", "sw")
        ));
        // ARP and ping do not hide the port, nor a dead exporter the data plane.
        assert!(!inhibits(
            &crit("ping_peer", "a"),
            &crit("port_oper_up", "sw")
        ));
        assert!(!inhibits(&exp("b", "node"), &crit("ping_peer", "a")));
    }
}
