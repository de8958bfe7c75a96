//! The layer-2 health checks of a flow — defined once, here. Prometheus rules
//! (`rules`), the dashboard's state timelines and `check` are all derived from
//! [`flow_checks`], so they can never disagree.
//!
//! Every check has:
//! - `expr`: PromQL that always yields exactly one sample, 1 when healthy and 0 when not
//!   (missing data counts as unhealthy: `… or on() vector(0)`);
//! - `data_expr`: the raw selector the check reads, so `check` can tell "no data at all"
//!   (exporter not scraped, wrong instance label) from "unhealthy".

use rtmon::flow::{Flow, HostHop, SwitchHop};

use crate::names;
use crate::Options;

/// What a check verifies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CheckKind {
    /// One of the host's exporters (subject: node, arp, ping) is up (scrape mode:
    /// `up`) or has pushed recently (push mode: `push_time_seconds`, so a dead site
    /// never looks healthy).
    ExporterUp,
    /// The host's data-plane interface is operationally up.
    InterfaceUp,
    /// The host has a usable ARP/ND entry for its peer's data-plane IP.
    ArpPeer,
    /// The host reaches its peer with ICMP echo.
    PingPeer,
    /// The switch answers SNMP.
    SnmpUp,
    /// A switch port of the flow is operationally up.
    PortOperUp,
    /// The switch learned a host's MAC on the expected port and VLAN.
    FdbLearned,
    /// LLDP on one end of a link of the path (a host's interface, a switch port) sees
    /// the other end the flow says is cabled there. Unhealthy only when LLDP data is
    /// present and contradicts the flow; 1 (not applicable) when that end hears no LLDP.
    LldpLink,
}

impl CheckKind {
    /// Stable short name (rule label `check`).
    pub fn name(self) -> &'static str {
        match self {
            CheckKind::ExporterUp => "exporter_up",
            CheckKind::InterfaceUp => "interface_up",
            CheckKind::ArpPeer => "arp_peer",
            CheckKind::PingPeer => "ping_peer",
            CheckKind::SnmpUp => "snmp_up",
            CheckKind::PortOperUp => "port_oper_up",
            CheckKind::FdbLearned => "fdb_learned",
            CheckKind::LldpLink => "lldp_link",
        }
    }
}

/// One check of one hop of a flow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    /// The flow id.
    pub flow: String,
    /// The hop (host or switch name) it belongs to.
    pub hop: String,
    /// What it verifies.
    pub kind: CheckKind,
    /// Disambiguates several checks of one kind on one hop (a port name, a peer IP).
    pub subject: String,
    /// One line for people, when healthy: "sw-a port hundredGigE 1/31 oper up".
    pub description: String,
    /// One line for people, when failing: "sw-a port hundredGigE 1/31 oper down".
    pub failure: String,
    /// 1 healthy / 0 unhealthy, always one sample.
    pub expr: String,
    /// The raw selector the check reads (for "no data" diagnostics).
    pub data_expr: String,
}

impl Check {
    /// Stable id: `hop/check[/subject]`.
    pub fn id(&self) -> String {
        if self.subject.is_empty() {
            format!("{}/{}", self.hop, self.kind.name())
        } else {
            format!("{}/{}/{}", self.hop, self.kind.name(), self.subject)
        }
    }
}

/// Escapes a string for a PromQL double-quoted literal.
/// The escapes are those of an exposition-format label value (`\\`, `"`, newline).
pub fn promql_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    rtmon::expo::escape_label_value(s, &mut out);
    out.push('"');
    out
}

/// Escapes regex metacharacters (RE2 syntax) in a literal.
pub fn regex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Label matcher selecting a host by its flow `instance`, with or without a `:port`
/// suffix (scrape targets carry the port, push groups usually don't).
pub fn host_matcher(opts: &Options, instance: &str) -> String {
    format!(
        "{}=~{}",
        opts.instance_label,
        promql_str(&format!("{}(:[0-9]+)?", regex_escape(instance)))
    )
}

/// Label matcher selecting a switch by its SNMP target (Prometheus' multi-target
/// relabelling puts the target into the instance label).
pub fn switch_matcher(opts: &Options, target: &str) -> String {
    format!("{}={}", opts.instance_label, promql_str(target))
}

fn one_or_zero(raw: &str) -> String {
    format!("({raw}) or on() vector(0)")
}

/// All checks of a flow, in path order.
pub fn flow_checks(flow: &Flow, opts: &Options) -> Vec<Check> {
    let mut out = Vec::new();
    let hosts: Vec<&HostHop> = flow.hosts().collect();
    for h in &hosts {
        host_checks(flow, h, &hosts, opts, &mut out);
    }
    // Switch checks: follow the path to know which host faces which port.
    for (i, hop) in flow.path.iter().enumerate() {
        if let rtmon::flow::Hop::Switch(sw) = hop {
            let before = flow.path[..i].iter().rev().find_map(|h| match h {
                rtmon::flow::Hop::Host(h) => Some(h),
                _ => None,
            });
            let after = flow.path[i + 1..].iter().find_map(|h| match h {
                rtmon::flow::Hop::Host(h) => Some(h),
                _ => None,
            });
            // Only the switch directly next to a host learns that host on a known port.
            let prev_is_host = i > 0 && matches!(flow.path[i - 1], rtmon::flow::Hop::Host(_));
            let next_is_host = matches!(flow.path.get(i + 1), Some(rtmon::flow::Hop::Host(_)));
            switch_checks(
                flow,
                sw,
                before.filter(|_| prev_is_host),
                after.filter(|_| next_is_host),
                opts,
                &mut out,
            );
        }
    }
    lldp_checks(flow, opts, &mut out);
    // Stable order: path order of hops, then kind, then subject.
    let order: Vec<String> = flow
        .path
        .iter()
        .map(|h| match h {
            rtmon::flow::Hop::Host(h) => h.name.clone(),
            rtmon::flow::Hop::Switch(s) => s.name.clone(),
        })
        .collect();
    out.sort_by(|a, b| {
        let pa = order.iter().position(|n| *n == a.hop);
        let pb = order.iter().position(|n| *n == b.hop);
        (pa, a.kind, &a.subject).cmp(&(pb, b.kind, &b.subject))
    });
    out
}

fn host_checks(flow: &Flow, h: &HostHop, hosts: &[&HostHop], opts: &Options, out: &mut Vec<Check>) {
    let hm = host_matcher(opts, &h.instance);
    let mk = |kind,
              subject: String,
              (description, failure): (String, String),
              raw: String,
              data: String| Check {
        flow: flow.id.clone(),
        hop: h.name.clone(),
        kind,
        subject,
        description,
        failure,
        expr: one_or_zero(&raw),
        data_expr: data,
    };
    // Exporters alive (scrape) or fresh (push).
    for (exporter, job) in [
        ("node", &opts.jobs.node),
        ("arp", &opts.jobs.arp),
        ("ping", &opts.jobs.ping),
    ] {
        let (raw, data, what) = match opts.mode {
            crate::Mode::Scrape => {
                let sel = format!("up{{job={},{hm}}}", promql_str(job));
                (format!("max({sel})"), sel, "up")
            }
            crate::Mode::Push => {
                let sel = format!("push_time_seconds{{job={},{hm}}}", promql_str(job));
                (
                    format!("max(time() - {sel} < bool {})", opts.stale_after_seconds),
                    sel,
                    "pushing",
                )
            }
        };
        out.push(mk(
            CheckKind::ExporterUp,
            exporter.to_string(),
            (
                format!("{} {exporter} exporter {what}", h.name),
                format!(
                    "{} {exporter} exporter {}",
                    h.name,
                    if what == "up" {
                        "down"
                    } else {
                        "not pushing (stale data)"
                    }
                ),
            ),
            raw,
            data,
        ));
    }
    let dev = format!("{}={}", names::node::DEVICE, promql_str(&h.interface));
    let sel = format!("{}{{{hm},{dev}}}", names::node::UP);
    out.push(mk(
        CheckKind::InterfaceUp,
        h.interface.clone(),
        (
            format!("{} interface {} up", h.name, h.interface),
            format!("{} interface {} down", h.name, h.interface),
        ),
        format!("max({sel})"),
        sel,
    ));
    for peer in hosts.iter().filter(|p| p.name != h.name) {
        let Some(ip) = peer.ip else { continue };
        let ip = ip.to_string();
        let arp = format!(
            "{}{{{hm},{}={}}}",
            names::arp::ENTRY,
            names::arp::IP,
            promql_str(&ip)
        );
        let usable = format!(
            "{}{{{hm},{}={},{}!~\"(?i)failed|incomplete\"}}",
            names::arp::ENTRY,
            names::arp::IP,
            promql_str(&ip),
            names::arp::STATE
        );
        out.push(mk(
            CheckKind::ArpPeer,
            ip.clone(),
            (
                format!("{} has an ARP entry for {} ({})", h.name, peer.name, ip),
                format!(
                    "{} has no usable ARP entry for {} ({})",
                    h.name, peer.name, ip
                ),
            ),
            format!("count({usable}) > bool 0"),
            arp,
        ));
        let ping = format!(
            "{}{{{hm},{}={}}}",
            names::ping::UP,
            names::ping::TARGET,
            promql_str(&ip)
        );
        out.push(mk(
            CheckKind::PingPeer,
            ip.clone(),
            (
                format!("{} reaches {} ({}) by ping", h.name, peer.name, ip),
                format!("{} cannot reach {} ({}) by ping", h.name, peer.name, ip),
            ),
            format!("max({ping})"),
            ping,
        ));
    }
}

fn switch_checks(
    flow: &Flow,
    sw: &SwitchHop,
    host_before: Option<&HostHop>,
    host_after: Option<&HostHop>,
    opts: &Options,
    out: &mut Vec<Check>,
) {
    let sm = switch_matcher(opts, &sw.target);
    let mk = |kind,
              subject: String,
              (description, failure): (String, String),
              raw: String,
              data: String| Check {
        flow: flow.id.clone(),
        hop: sw.name.clone(),
        kind,
        subject,
        description,
        failure,
        expr: one_or_zero(&raw),
        data_expr: data,
    };
    let sel = format!("{}{{{sm}}}", names::snmp::UP);
    out.push(mk(
        CheckKind::SnmpUp,
        String::new(),
        (
            format!("{} answers SNMP", sw.name),
            format!("{} does not answer SNMP", sw.name),
        ),
        format!("max({sel})"),
        sel,
    ));
    let mut ports = vec![&sw.in_port];
    if sw.out_port.port != sw.in_port.port {
        ports.push(&sw.out_port);
    }
    for p in ports {
        let sel = format!(
            "{}{{{sm},{}={}}}",
            names::snmp::OPER_STATUS,
            names::snmp::IF_NAME,
            promql_str(&p.port)
        );
        out.push(mk(
            CheckKind::PortOperUp,
            p.port.clone(),
            (
                format!("{} port {} oper up", sw.name, p.port),
                format!("{} port {} oper down", sw.name, p.port),
            ),
            format!("max({sel} == bool 1)"),
            sel,
        ));
    }
    for (host, port) in [(host_before, &sw.in_port), (host_after, &sw.out_port)] {
        let Some(host) = host else { continue };
        let mut fdb = format!("{sm},{}={}", names::snmp::IF_NAME, promql_str(&port.port));
        if let Some(v) = port.vlan.or(host.vlan) {
            fdb.push_str(&format!(",{}=\"{v}\"", names::snmp::FDB_VLAN));
        }
        let data = format!("{}{{{sm}}}", names::snmp::FDB_ENTRY);
        let raw = match &host.mac {
            Some(mac) => format!(
                "count({}{{{fdb},{}={}}}) > bool 0",
                names::snmp::FDB_ENTRY,
                names::snmp::FDB_MAC,
                promql_str(&mac.to_ascii_lowercase())
            ),
            // MAC not in the flow: take it from the host's node_network_info.
            None => {
                let hm = host_matcher(opts, &host.instance);
                let dev = format!("{}={}", names::node::DEVICE, promql_str(&host.interface));
                format!(
                    "count({}{{{fdb}}} * on({mac}) group_left() label_replace(max by (address) (node_network_info{{{hm},{dev}}}), {mac_q}, \"$1\", \"address\", \"(.*)\")) > bool 0",
                    names::snmp::FDB_ENTRY,
                    mac = names::snmp::FDB_MAC,
                    mac_q = promql_str(names::snmp::FDB_MAC),
                )
            }
        };
        out.push(mk(
            CheckKind::FdbLearned,
            host.name.clone(),
            {
                let vlan = port
                    .vlan
                    .or(host.vlan)
                    .map(|v| format!(" VLAN {v}"))
                    .unwrap_or_default();
                (
                    format!(
                        "{} learned {}'s MAC on {}{vlan}",
                        sw.name, host.name, port.port
                    ),
                    format!(
                        "{} has not learned {}'s MAC on {}{vlan}",
                        sw.name, host.name, port.port
                    ),
                )
            },
            raw,
            data,
        ));
    }
}

/// One end of a link of the path, as LLDP sees it.
enum LinkEnd<'a> {
    /// A host's data-plane interface.
    Host(&'a HostHop),
    /// A switch port (the one facing the other end).
    Switch(&'a SwitchHop, &'a str),
}

impl LinkEnd<'_> {
    fn hop(&self) -> &str {
        match self {
            LinkEnd::Host(h) => &h.name,
            LinkEnd::Switch(s, _) => &s.name,
        }
    }
    fn port(&self) -> &str {
        match self {
            LinkEnd::Host(h) => &h.interface,
            LinkEnd::Switch(_, p) => p,
        }
    }
    /// Selectors (label prefix `p`: "" on hosts, "remote_" on switches) of an LLDP
    /// neighbour that is this end: a switch by system name (`name` or `name.domain`,
    /// any case) and port (id or description); a host by system name, chassis id or
    /// its MAC (lldpd's default port id).
    fn matchers(&self, p: &str) -> Vec<String> {
        let name_re = |n: &str| promql_str(&format!("(?i){}(\\..*)?", regex_escape(n)));
        match self {
            LinkEnd::Switch(s, port) => {
                let sys = name_re(s.lldp_system_name.as_deref().unwrap_or(&s.name));
                let port = promql_str(&format!("(?i){}", regex_escape(port)));
                vec![
                    format!("{p}system_name=~{sys},{p}port_id=~{port}"),
                    format!("{p}system_name=~{sys},{p}port_desc=~{port}"),
                ]
            }
            LinkEnd::Host(h) => {
                let mut v = vec![format!("{p}system_name=~{}", name_re(&h.name))];
                for id in [h.lldp_chassis_id.as_deref(), h.mac.as_deref()]
                    .into_iter()
                    .flatten()
                {
                    v.push(format!("{p}chassis_id={}", promql_str(id)));
                }
                if let Some(mac) = &h.mac {
                    v.push(format!("{p}port_id={}", promql_str(mac)));
                }
                v
            }
        }
    }
}

/// `lldp_link` checks: for each link of the path, one per end that can report LLDP
/// (host: rtmon-arp-exporter's listener; switch: rtmon-snmp-exporter's `lldp` module).
fn lldp_checks(flow: &Flow, opts: &Options, out: &mut Vec<Check>) {
    use rtmon::flow::Hop;
    let end_towards = |i: usize, next: bool| -> LinkEnd<'_> {
        match &flow.path[i] {
            Hop::Host(h) => LinkEnd::Host(h),
            Hop::Switch(s) if next => LinkEnd::Switch(s, &s.out_port.port),
            Hop::Switch(s) => LinkEnd::Switch(s, &s.in_port.port),
        }
    };
    for i in 0..flow.path.len().saturating_sub(1) {
        let a = end_towards(i, true);
        let b = end_towards(i + 1, false);
        for (me, other) in [(&a, &b), (&b, &a)] {
            let (metric, at, prefix) = match me {
                LinkEnd::Host(h) => {
                    // The listener reports the physical port under a VLAN subinterface.
                    let parent = h
                        .interface
                        .rsplit_once('.')
                        .filter(|(_, v)| !v.is_empty() && v.chars().all(|c| c.is_ascii_digit()))
                        .map(|(p, _)| p);
                    let ifs = match parent {
                        Some(p) => format!("{}|{}", regex_escape(&h.interface), regex_escape(p)),
                        None => regex_escape(&h.interface),
                    };
                    (
                        "rtmon_lldp_neighbor_info",
                        format!(
                            "{},interface=~{}",
                            host_matcher(opts, &h.instance),
                            promql_str(&ifs)
                        ),
                        "",
                    )
                }
                LinkEnd::Switch(s, port) => (
                    "rtmon_snmp_lldp_neighbor_info",
                    format!(
                        "{},{}={}",
                        switch_matcher(opts, &s.target),
                        names::snmp::IF_NAME,
                        promql_str(port)
                    ),
                    "remote_",
                ),
            };
            let data = format!("{metric}{{{at}}}");
            let matching: Vec<String> = other
                .matchers(prefix)
                .iter()
                .map(|m| format!("{metric}{{{at},{m}}}"))
                .collect();
            let raw = format!(
                "(count({}) > bool 0) or on() max(absent({data}))",
                matching.join(" or ")
            );
            out.push(Check {
                flow: flow.id.clone(),
                hop: me.hop().to_string(),
                kind: CheckKind::LldpLink,
                subject: me.port().to_string(),
                description: format!(
                    "LLDP: {} {} is cabled to {} {} (or hears no LLDP)",
                    me.hop(),
                    me.port(),
                    other.hop(),
                    other.port()
                ),
                failure: format!(
                    "LLDP: {} {} is not cabled to {} {} as the flow says",
                    me.hop(),
                    me.port(),
                    other.hop(),
                    other.port()
                ),
                expr: one_or_zero(&raw),
                // Always one sample: how many neighbours that end hears (0: no LLDP, the
                // check does not apply), so `check` does not report "no data".
                data_expr: format!("count({data}) or on() vector(0)"),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regex_and_string_escaping() {
        assert_eq!(regex_escape("198.51.100.16"), "198\\.51\\.100\\.16");
        assert_eq!(promql_str("a\"b\\c"), "\"a\\\"b\\\\c\"");
        let o = Options::default();
        assert_eq!(
            host_matcher(&o, "10.0.0.1"),
            "instance=~\"10\\\\.0\\\\.0\\\\.1(:[0-9]+)?\""
        );
    }

    #[test]
    fn lldp_link_checks_every_end_of_every_link() {
        let text = "flow: f\npath:\n  - host: dtn-a\n    interface: ens2f0.1000\n    mac: 00:1b:21:00:00:0a\n    lldp_chassis_id: 00:1b:21:00:00:aa\n  - switch: sw-a\n    target: 192.0.2.1\n    lldp_system_name: leaf-7\n    in: {port: Ethernet1}\n    out: {port: Ethernet49}\n  - switch: sw-b\n    target: 192.0.2.2\n    in: {port: \"Te 1/1\"}\n    out: {port: \"Te 1/2\"}\n  - host: dtn-b\n    interface: eth1\n";
        let flows = rtmon::flow::from_str(std::path::Path::new("f.yml"), text)
            .unwrap_or_else(|e| panic!("{}", e.render()));
        let checks: Vec<Check> = flow_checks(&flows[0], &Options::default())
            .into_iter()
            .filter(|c| c.kind == CheckKind::LldpLink)
            .collect();
        let ids: Vec<String> = checks.iter().map(Check::id).collect();
        assert_eq!(
            ids,
            [
                "dtn-a/lldp_link/ens2f0.1000",
                "sw-a/lldp_link/Ethernet1",
                "sw-a/lldp_link/Ethernet49",
                "sw-b/lldp_link/Te 1/1",
                "sw-b/lldp_link/Te 1/2",
                "dtn-b/lldp_link/eth1",
            ]
        );
        let by = |id: &str| checks.iter().find(|c| c.id() == id).expect(id);
        // Host A: its VLAN subinterface's parent too; sw-a by its LLDP system name.
        let a = by("dtn-a/lldp_link/ens2f0.1000");
        assert!(
            a.expr.contains("interface=~\"ens2f0\\\\.1000|ens2f0\""),
            "{}",
            a.expr
        );
        assert!(
            a.expr.contains("system_name=~\"(?i)leaf-7(\\\\..*)?\""),
            "{}",
            a.expr
        );
        assert!(a.expr.contains("port_id=~\"(?i)Ethernet1\""), "{}", a.expr);
        assert_eq!(
            a.failure,
            "LLDP: dtn-a ens2f0.1000 is not cabled to sw-a Ethernet1 as the flow says"
        );
        // sw-a's in port knows host A by name, chassis id or MAC.
        let s = by("sw-a/lldp_link/Ethernet1");
        for m in [
            "remote_system_name=~\"(?i)dtn-a(\\\\..*)?\"",
            "remote_chassis_id=\"00:1b:21:00:00:aa\"",
            "remote_chassis_id=\"00:1b:21:00:00:0a\"",
            "remote_port_id=\"00:1b:21:00:00:0a\"",
        ] {
            assert!(s.expr.contains(m), "{m} in {}", s.expr);
        }
        // Switch to switch, both directions.
        let out = by("sw-a/lldp_link/Ethernet49");
        assert!(out.expr.contains("ifName=\"Ethernet49\""), "{}", out.expr);
        assert!(
            out.expr.contains("remote_port_desc=~\"(?i)Te 1/1\""),
            "{}",
            out.expr
        );
        let back = by("sw-b/lldp_link/Te 1/1");
        assert!(
            back.expr
                .contains("remote_system_name=~\"(?i)leaf-7(\\\\..*)?\""),
            "{}",
            back.expr
        );
        assert!(
            back.expr.contains("remote_port_id=~\"(?i)Ethernet49\""),
            "{}",
            back.expr
        );
        // No LLDP data at one end: healthy (not applicable), never "no data".
        assert!(a.expr.contains("or on() max(absent("), "{}", a.expr);
        assert!(
            a.data_expr.ends_with(" or on() vector(0)"),
            "{}",
            a.data_expr
        );
    }
}
