//! The health checks of a flow — defined once, here. Prometheus rules (`rules`), the
//! dashboard's state timelines, `status` and `check` are all derived from
//! [`flow_checks`], so they can never disagree.
//!
//! Every check has:
//! - a [`Severity`]: `critical` (the flow cannot work) or `warning` (it works badly);
//! - `expr`: PromQL that always yields exactly one sample, 1 when healthy and 0 when not
//!   (missing data counts as unhealthy: `… or on() vector(0)`);
//! - `data_expr`: the raw selector the check reads, so `check` can tell "no data at all"
//!   (exporter not scraped, wrong instance label) from "unhealthy";
//! - optionally a [`Detail`]: values `status` fills into the failure text ("sw-a
//!   hundredGigE 1/31 MTU 1500 < host MTU 9000").
//!
//! To add a check: a [`CheckKind`] variant (its name, severity, cause rank, what feeds
//! it) and a few lines in [`flow_checks`]'s host or switch part; rules, alert routing,
//! status and dashboards follow. docs/runbook.md needs a section named like the check.

use rtmon::flow::{Flow, Hop, HostHop, Port, SwitchHop};

use crate::names;
use crate::Options;

/// How bad a failing check is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The flow cannot work.
    Critical,
    /// The flow works, badly.
    Warning,
}

impl Severity {
    /// `critical` / `warning` (rule label `severity`).
    pub fn name(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Warning => "warning",
        }
    }
}

/// Where a check's data comes from (alert inhibition: a dead source inhibits the
/// checks it feeds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The host's node exporter.
    Node,
    /// The host's ARP exporter.
    Arp,
    /// The host's ping exporter.
    Ping,
    /// The switch's SNMP agent (through the SNMP exporter).
    Snmp,
    /// Several, or the source itself.
    Other,
}

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
    /// The port's ifName names one interface of the switch (a flow port selected by a
    /// name that several interfaces carry reads all of them: pin it by ifIndex or
    /// ifDescr). Not checked for pinned ports.
    PortUnique,
    /// The flow's VLAN is in the port's egress set (Q-BRIDGE-MIB, `qbridge_vlan`).
    VlanOnPort,
    /// The switch learned a host's MAC on the expected port and VLAN.
    FdbLearned,
    /// MTUs along the path: hosts equal, no switch port smaller than the hosts'.
    Mtu,
    /// Speeds along the path: host NIC = facing port, inter-switch ends equal.
    Speed,
    /// Errors + discards per second on a port or interface below the flow's limit.
    Errors,
    /// Ping loss over the check window below the flow's limit (from the counters).
    PingLoss,
    /// Mean ping RTT over the check window below the flow's limit (from the histogram).
    PingRtt,
    /// No deficit between two consecutive points of the path (dedicated ports only).
    LossSegment,
    /// LLDP on one end of a link of the path (a host's interface, a switch port) sees
    /// the other end the flow says is cabled there. Unhealthy only when LLDP data is
    /// present and contradicts the flow; 1 (not applicable) when that end hears no LLDP.
    LldpLink,
}

impl CheckKind {
    /// Every kind, in order.
    pub const ALL: &'static [CheckKind] = &[
        CheckKind::ExporterUp,
        CheckKind::InterfaceUp,
        CheckKind::ArpPeer,
        CheckKind::PingPeer,
        CheckKind::SnmpUp,
        CheckKind::PortOperUp,
        CheckKind::PortUnique,
        CheckKind::VlanOnPort,
        CheckKind::FdbLearned,
        CheckKind::Mtu,
        CheckKind::Speed,
        CheckKind::Errors,
        CheckKind::PingLoss,
        CheckKind::PingRtt,
        CheckKind::LossSegment,
        CheckKind::LldpLink,
    ];

    /// Stable short name (rule label `check`, runbook section anchor).
    pub fn name(self) -> &'static str {
        match self {
            CheckKind::ExporterUp => "exporter_up",
            CheckKind::InterfaceUp => "interface_up",
            CheckKind::ArpPeer => "arp_peer",
            CheckKind::PingPeer => "ping_peer",
            CheckKind::SnmpUp => "snmp_up",
            CheckKind::PortOperUp => "port_oper_up",
            CheckKind::PortUnique => "port_unique",
            CheckKind::VlanOnPort => "vlan_on_port",
            CheckKind::FdbLearned => "fdb_learned",
            CheckKind::Mtu => "mtu",
            CheckKind::Speed => "speed",
            CheckKind::Errors => "errors",
            CheckKind::PingLoss => "ping_loss",
            CheckKind::PingRtt => "ping_rtt",
            CheckKind::LossSegment => "loss_segment",
            CheckKind::LldpLink => "lldp_link",
        }
    }

    /// How bad it is when it fails.
    pub fn severity(self) -> Severity {
        match self {
            CheckKind::ExporterUp
            | CheckKind::InterfaceUp
            | CheckKind::ArpPeer
            | CheckKind::PingPeer
            | CheckKind::SnmpUp
            | CheckKind::PortOperUp
            | CheckKind::VlanOnPort
            // A link cabled other than the flow says: the flow's path is not this one.
            | CheckKind::LldpLink => Severity::Critical,
            CheckKind::FdbLearned
            | CheckKind::PortUnique
            | CheckKind::Mtu
            | CheckKind::Speed
            | CheckKind::Errors
            | CheckKind::PingLoss
            | CheckKind::PingRtt
            | CheckKind::LossSegment => Severity::Warning,
        }
    }

    /// Lower ranks are causes of higher ones (a dead exporter explains missing data, a
    /// port down explains a failing ping): `status` names the lowest-ranked failure first.
    pub fn cause_rank(self) -> u8 {
        match self {
            CheckKind::ExporterUp | CheckKind::SnmpUp => 0,
            CheckKind::InterfaceUp | CheckKind::PortOperUp => 1,
            CheckKind::VlanOnPort | CheckKind::LldpLink | CheckKind::PortUnique => 2,
            CheckKind::ArpPeer | CheckKind::FdbLearned => 3,
            CheckKind::PingPeer => 4,
            CheckKind::Mtu | CheckKind::Speed => 5,
            CheckKind::Errors | CheckKind::LossSegment => 6,
            CheckKind::PingLoss | CheckKind::PingRtt => 7,
        }
    }

    /// The data source the check reads.
    pub fn source(self) -> Source {
        match self {
            CheckKind::InterfaceUp => Source::Node,
            CheckKind::ArpPeer => Source::Arp,
            CheckKind::PingPeer | CheckKind::PingLoss | CheckKind::PingRtt => Source::Ping,
            CheckKind::PortOperUp
            | CheckKind::PortUnique
            | CheckKind::VlanOnPort
            | CheckKind::FdbLearned => Source::Snmp,
            // Mtu/Speed/Errors/LossSegment read the hop's own source (node on a host,
            // SNMP on a switch) and sometimes a neighbour's.
            CheckKind::Mtu | CheckKind::Speed | CheckKind::Errors | CheckKind::LossSegment => {
                Source::Other
            }
            // The host's ARP exporter (LLDP listener) or the switch's SNMP lldp module.
            CheckKind::LldpLink => Source::Other,
            CheckKind::ExporterUp | CheckKind::SnmpUp => Source::Other,
        }
    }
}

/// Values that make a failure text specific: `template` holds `{name}` placeholders,
/// each filled with the value of the instant query `values[name]`, formatted per unit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Detail {
    /// Text with `{name}` placeholders.
    pub template: String,
    /// (name, PromQL returning one sample, unit: `bytes`, `bps`, `pps`, `ratio`, `s`).
    pub values: Vec<(String, String, &'static str)>,
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
    /// Values for a more specific failure text.
    pub detail: Option<Detail>,
    /// What the constant rules join this check's row of the topology on
    /// ([`crate::engine::topology`]): `rtmon_instance` (the normalised host or switch
    /// address) and the interface, peer, VLAN, MAC … of the check, as label pairs.
    pub keys: Vec<(&'static str, String)>,
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

    /// The check's severity.
    pub fn severity(&self) -> Severity {
        self.kind.severity()
    }

    /// The check with its topology keys.
    fn keyed(mut self, keys: Vec<(&'static str, String)>) -> Check {
        self.keys = keys;
        self
    }
}

/// Label of the topology and of the normalised data series: a host's or switch's
/// address without the port its exporter listens on ([`norm_instance`]).
pub const INSTANCE_KEY: &str = "rtmon_instance";

/// Label of the LLDP checks' rows: the interface (host, without a `.VLAN` suffix) or
/// port (switch, ifName) whose neighbours are compared.
pub const LLDP_IF_KEY: &str = "rtmon_if";

/// Label of the LLDP expectations: one identity of the neighbour the flow says is
/// cabled there (`name:…`, `chassis:…`, `port:…`, `nameport:…|…`).
pub const LLDP_ID_KEY: &str = "nbr_id";

/// The regex (RE2, anchored) with which the rules normalise an `instance` value to the
/// host or switch address: `[v6]:port` and `[v6]` → `v6`; `host:port` → `host`; anything
/// else (a bare name, IPv4 or IPv6 address) as it is. Its replacement is `$1$2$3`.
pub const NORM_INSTANCE_RE: &str = r"\[([^\]]+)\](?::[0-9]+)?|([^:\[]+):[0-9]+|(.*)";

/// [`NORM_INSTANCE_RE`] in Rust, for the topology's side (a flow's `instance` or
/// `target`): both sides must agree exactly, the tests compare them.
pub fn norm_instance(s: &str) -> String {
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if let Some(rest) = s.strip_prefix('[') {
        if let Some((inner, tail)) = rest.split_once(']') {
            if !inner.is_empty() && (tail.is_empty() || tail.strip_prefix(':').is_some_and(digits))
            {
                return inner.to_string();
            }
        }
    }
    if let Some((h, p)) = s.split_once(':') {
        if !h.is_empty() && !h.contains('[') && digits(p) {
            return h.to_string();
        }
    }
    s.to_string()
}

fn host_keys(h: &HostHop) -> Vec<(&'static str, String)> {
    vec![
        (INSTANCE_KEY, norm_instance(&h.instance)),
        (names::node::DEVICE, h.interface.clone()),
    ]
}

/// Label of the topology and of the normalised switch data: the port, as
/// [`port_key`] names it.
pub const PORT_KEY: &str = "rtmon_port";

/// How the rules name a port: its ifName, or `ifName#ifIndex=N` / `ifName#ifDescr=D`
/// when the flow pins it to one of several interfaces of that name.
pub fn port_key(port: &Port) -> String {
    match &port.pin {
        None => port.port.clone(),
        Some(pin) => format!("{}#{}={}", port.port, pin.label(), pin.value()),
    }
}

fn port_keys(sw: &SwitchHop, port: &Port) -> Vec<(&'static str, String)> {
    vec![
        (INSTANCE_KEY, norm_instance(&sw.target)),
        (PORT_KEY, port_key(port)),
    ]
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

/// The host part of an SNMP target (`host`, `host:port`, `[v6]`, `[v6]:port`, `v6`).
fn target_host(target: &str) -> &str {
    if let Some(rest) = target.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match target.rsplit_once(':') {
        // One colon: host:port. Several: a bare IPv6 address.
        Some((h, p)) if !h.contains(':') && p.chars().all(|c| c.is_ascii_digit()) => h,
        _ => target,
    }
}

/// Label matcher selecting a switch by its SNMP target (Prometheus' multi-target
/// relabelling puts the target into the instance label). Tolerates a port on either
/// side: a flow's `192.0.2.2:161` matches an `instance` of `192.0.2.2` and the reverse,
/// as [`host_matcher`] does for hosts.
pub fn switch_matcher(opts: &Options, target: &str) -> String {
    let host = target_host(target);
    let re = if host.contains(':') {
        format!("\\[?{}\\]?(:[0-9]+)?", regex_escape(host))
    } else {
        format!("{}(:[0-9]+)?", regex_escape(host))
    };
    format!("{}=~{}", opts.instance_label, promql_str(&re))
}

fn one_or_zero(raw: &str) -> String {
    format!("({raw}) or on() vector(0)")
}

/// Direction of travel along the path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// From the first hop to the last.
    Forward,
    /// From the last hop to the first.
    Reverse,
}

impl Direction {
    /// `forward` / `reverse`.
    pub fn name(self) -> &'static str {
        match self {
            Direction::Forward => "forward",
            Direction::Reverse => "reverse",
        }
    }
}

/// A point of the path where the flow's packets are counted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Point {
    /// The hop it belongs to.
    pub hop: String,
    /// "dtn-a ens2f0np0.1000 tx", "sw-a hundredGigE 1/27 rx".
    pub label: String,
    /// The place without direction: "sw-a hundredGigE 1/27".
    pub place: String,
    /// Counters summed for the packet rate (required first, optional after).
    metrics: Vec<&'static str>,
    /// Octet (byte) counter of the same direction, for the bit rate.
    octets: &'static str,
    /// Speed of the interface or port in bits per second (one label-less sample).
    speed: String,
    /// Label matchers of the series.
    sel: String,
    /// `rx` or `tx`.
    pub rxtx: &'static str,
    /// The topology keys of the interface or port (`rtmon_instance` + `device` or
    /// `ifName`).
    pub keys: Vec<(&'static str, String)>,
}

impl Point {
    /// Packets per second at this point over `window` (one label-less sample). The
    /// first counter is required; the others (multicast, broadcast) count when present.
    pub fn pps(&self, window: &str) -> String {
        let mut parts = self
            .metrics
            .iter()
            .map(|m| format!("sum(rate({m}{{{}}}[{window}]))", self.sel));
        let mut e = parts.next().unwrap_or_default();
        for p in parts {
            e.push_str(&format!(" + ({p} or on() vector(0))"));
        }
        e
    }

    /// Bits per second at this point over `window` (one label-less sample).
    pub fn bps(&self, window: &str) -> String {
        format!("sum(rate({}{{{}}}[{window}])) * 8", self.octets, self.sel)
    }

    /// The interface's or port's speed, bits per second (one label-less sample).
    pub fn speed(&self) -> &str {
        &self.speed
    }

    /// The raw selector of the required counter.
    pub fn data_expr(&self) -> String {
        format!("{}{{{}}}", self.metrics.first().unwrap_or(&""), self.sel)
    }
}

fn host_sel(opts: &Options, h: &HostHop) -> String {
    format!(
        "{},{}={}",
        host_matcher(opts, &h.instance),
        names::node::DEVICE,
        promql_str(&h.interface)
    )
}

fn port_sel(opts: &Options, sw: &SwitchHop, port: &Port) -> String {
    let mut sel = switch_matcher(opts, &sw.target);
    for (k, v) in port.labels() {
        sel.push_str(&format!(",{k}={}", promql_str(&v)));
    }
    sel
}

fn host_point(opts: &Options, h: &HostHop, tx: bool) -> Point {
    let (m, octets, dir) = if tx {
        (names::node::TX_PACKETS, names::node::TX_BYTES, "tx")
    } else {
        (names::node::RX_PACKETS, names::node::RX_BYTES, "rx")
    };
    let place = format!("{} {}", h.name, h.interface);
    Point {
        hop: h.name.clone(),
        label: format!("{place} {dir}"),
        place,
        metrics: vec![m],
        octets,
        speed: host_speed(opts, h),
        sel: host_sel(opts, h),
        rxtx: if tx { "tx" } else { "rx" },
        keys: host_keys(h),
    }
}

fn port_point(opts: &Options, sw: &SwitchHop, port: &Port, tx: bool) -> Point {
    use names::snmp as s;
    let (metrics, octets, dir) = if tx {
        (
            vec![s::OUT_UCAST, s::OUT_MCAST, s::OUT_BCAST],
            s::OUT_OCTETS,
            "tx",
        )
    } else {
        (
            vec![s::IN_UCAST, s::IN_MCAST, s::IN_BCAST],
            s::IN_OCTETS,
            "rx",
        )
    };
    let place = format!("{} {}", sw.name, port.display());
    Point {
        hop: sw.name.clone(),
        label: format!("{place} {dir}"),
        place,
        metrics,
        octets,
        speed: port_speed(opts, sw, port),
        sel: port_sel(opts, sw, port),
        rxtx: if tx { "tx" } else { "rx" },
        keys: port_keys(sw, port),
    }
}

/// The counting points of the path in travel order, per direction: host A tx → sw-a
/// in rx → sw-a out tx → … → host B rx, and back.
pub fn path_points(flow: &Flow, opts: &Options) -> Vec<(Direction, Vec<Point>)> {
    let n = flow.path.len();
    let mut fwd = Vec::new();
    let mut rev = Vec::new();
    for (i, hop) in flow.path.iter().enumerate() {
        match hop {
            Hop::Host(h) => {
                if i > 0 {
                    fwd.push(host_point(opts, h, false));
                }
                if i + 1 < n {
                    fwd.push(host_point(opts, h, true));
                }
            }
            Hop::Switch(sw) => {
                fwd.push(port_point(opts, sw, &sw.in_port, false));
                fwd.push(port_point(opts, sw, &sw.out_port, true));
            }
        }
    }
    for (i, hop) in flow.path.iter().enumerate().rev() {
        match hop {
            Hop::Host(h) => {
                if i + 1 < n {
                    rev.push(host_point(opts, h, false));
                }
                if i > 0 {
                    rev.push(host_point(opts, h, true));
                }
            }
            Hop::Switch(sw) => {
                rev.push(port_point(opts, sw, &sw.out_port, false));
                rev.push(port_point(opts, sw, &sw.in_port, true));
            }
        }
    }
    vec![(Direction::Forward, fwd), (Direction::Reverse, rev)]
}

/// A cable of the path in one direction: from the sending end (a host's tx or a switch
/// port's tx) to the receiving one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    /// The sending hop (node graph edge `source`).
    pub source: String,
    /// The receiving hop (node graph edge `target`).
    pub target: String,
    /// "dtn-a → sw-a" (node graph edge `id`, legend).
    pub label: String,
    /// Where the bits leave: the sending end's counting point.
    pub tx: Point,
}

impl Link {
    /// Bits per second sent onto the link over `window`.
    pub fn bps(&self, window: &str) -> String {
        self.tx.bps(window)
    }

    /// Share (0–1) of the sending end's speed in use over `window`.
    pub fn utilisation(&self, window: &str) -> String {
        format!("({}) / ({})", self.tx.bps(window), self.tx.speed)
    }
}

/// The links of the path per direction, in travel order: each pair of consecutive
/// counting points on two different hops.
pub fn path_links(flow: &Flow, opts: &Options) -> Vec<(Direction, Vec<Link>)> {
    path_points(flow, opts)
        .into_iter()
        .map(|(dir, points)| {
            let links = points
                .windows(2)
                .filter(|w| w[0].hop != w[1].hop)
                .map(|w| Link {
                    source: w[0].hop.clone(),
                    target: w[1].hop.clone(),
                    label: format!("{} → {}", w[0].hop, w[1].hop),
                    tx: w[0].clone(),
                })
                .collect();
            (dir, links)
        })
        .collect()
}

/// Link speed of a host interface, bits per second (one label-less sample).
fn host_speed(opts: &Options, h: &HostHop) -> String {
    format!("max({}{{{}}}) * 8", names::node::SPEED, host_sel(opts, h))
}

/// Speed of a switch port, bits per second.
fn port_speed(opts: &Options, sw: &SwitchHop, port: &Port) -> String {
    format!(
        "max({}{{{}}}) * 1000000",
        names::snmp::HIGH_SPEED,
        port_sel(opts, sw, port)
    )
}

/// The path's capacity: the smallest speed of every host interface and switch port,
/// bits per second.
pub fn capacity_expr(flow: &Flow, opts: &Options) -> String {
    let mut parts = Vec::new();
    for hop in &flow.path {
        match hop {
            Hop::Host(h) => parts.push(format!(
                "{}{{{}}} * 8",
                names::node::SPEED,
                host_sel(opts, h)
            )),
            Hop::Switch(sw) => {
                for p in ports_of(sw) {
                    parts.push(format!(
                        "{}{{{}}} * 1000000",
                        names::snmp::HIGH_SPEED,
                        port_sel(opts, sw, p)
                    ));
                }
            }
        }
    }
    format!("min({})", parts.join(" or "))
}

/// The path's effective MTU: the smallest MTU of every host interface and switch port,
/// bytes.
pub fn effective_mtu_expr(flow: &Flow, opts: &Options) -> String {
    let mut parts = Vec::new();
    for hop in &flow.path {
        match hop {
            Hop::Host(h) => parts.push(format!("{}{{{}}}", names::node::MTU, host_sel(opts, h))),
            Hop::Switch(sw) => {
                for p in ports_of(sw) {
                    parts.push(format!("{}{{{}}}", names::snmp::MTU, port_sel(opts, sw, p)));
                }
            }
        }
    }
    format!("min({})", parts.join(" or "))
}

fn ports_of(sw: &SwitchHop) -> Vec<&Port> {
    let mut ports = vec![&sw.in_port];
    if !sw.out_port.may_be_same_interface(&sw.in_port) {
        ports.push(&sw.out_port);
    }
    ports
}

/// The largest MTU of the flow's host interfaces.
fn hosts_mtu(flow: &Flow, opts: &Options) -> String {
    let parts: Vec<String> = flow
        .hosts()
        .map(|h| format!("{}{{{}}}", names::node::MTU, host_sel(opts, h)))
        .collect();
    format!("max({})", parts.join(" or "))
}

/// Bytes a host MTU may be below the smallest switch port MTU of the path before the
/// `mtu` check warns (switches often count the 14–18 byte layer-2 header, or use 9216
/// where hosts use 9000).
pub const JUMBO_SLACK: u32 = 300;

/// The smallest MTU of the flow's switch ports (None without switches).
fn switches_mtu(flow: &Flow, opts: &Options) -> Option<String> {
    let parts: Vec<String> = flow
        .switches()
        .flat_map(|sw| {
            ports_of(sw)
                .into_iter()
                .map(move |p| format!("{}{{{}}}", names::snmp::MTU, port_sel(opts, sw, p)))
        })
        .collect();
    (!parts.is_empty()).then(|| format!("min({})", parts.join(" or ")))
}

/// All checks of a flow, in path order.
pub fn flow_checks(flow: &Flow, opts: &Options) -> Vec<Check> {
    let mut out = Vec::new();
    let hosts: Vec<&HostHop> = flow.hosts().collect();
    for (i, h) in hosts.iter().enumerate() {
        host_checks(flow, h, &hosts, opts, &mut out);
        // Host MTU: equal to the first host's, and not far below the smallest switch
        // port's (jumbo frames configured on the path but not on the host). Switches
        // may count the layer-2 header (9216 for 9000): JUMBO_SLACK bytes are allowed.
        let first = hosts[0];
        let mine = format!("max({}{{{}}})", names::node::MTU, host_sel(opts, h));
        let theirs = format!("max({}{{{}}})", names::node::MTU, host_sel(opts, first));
        let path = switches_mtu(flow, opts);
        let equal = if i > 0 {
            format!("({mine} == bool {theirs})")
        } else {
            format!("({mine} >= bool 0)")
        };
        let jumbo = match &path {
            Some(p) => format!("(({mine} + {JUMBO_SLACK} >= bool {p}) or on() ({mine} >= bool 0))"),
            None => format!("({mine} >= bool 0)"),
        };
        let mut values = vec![("mine".to_string(), mine.clone(), "bytes")];
        let mut template = format!("{} {} MTU {{mine}}", h.name, h.interface);
        if i > 0 {
            template.push_str(&format!(
                ", {} {} MTU {{theirs}}",
                first.name, first.interface
            ));
            values.push(("theirs".into(), theirs, "bytes"));
        }
        if let Some(p) = &path {
            template.push_str(", smallest switch port MTU on the path {path}");
            values.push(("path".into(), p.clone(), "bytes"));
        }
        out.push(Check {
            flow: flow.id.clone(),
            hop: h.name.clone(),
            kind: CheckKind::Mtu,
            subject: h.interface.clone(),
            description: format!(
                "{} {} MTU matches the other hosts' and the path's",
                h.name, h.interface
            ),
            failure: format!(
                "{} {} MTU differs from the other hosts' or is below the path's",
                h.name, h.interface
            ),
            expr: one_or_zero(&format!("{equal} * {jumbo}")),
            data_expr: format!("{}{{{}}}", names::node::MTU, host_sel(opts, h)),
            detail: Some(Detail { template, values }),
            keys: {
                let mut k = host_keys(h);
                if i == 0 {
                    k.push(("first", "1".into()));
                }
                k
            },
        });
    }
    // Switch checks: follow the path to know which host faces which port.
    let switches: Vec<(usize, &SwitchHop)> = flow
        .path
        .iter()
        .enumerate()
        .filter_map(|(i, h)| match h {
            Hop::Switch(s) => Some((i, s)),
            Hop::Host(_) => None,
        })
        .collect();
    for &(i, sw) in &switches {
        let prev_host = match i.checked_sub(1).map(|j| &flow.path[j]) {
            Some(Hop::Host(h)) => Some(h),
            _ => None,
        };
        let next_host = match flow.path.get(i + 1) {
            Some(Hop::Host(h)) => Some(h),
            _ => None,
        };
        let prev_switch = match i.checked_sub(1).map(|j| &flow.path[j]) {
            Some(Hop::Switch(s)) => Some(s),
            _ => None,
        };
        switch_checks(
            flow,
            sw,
            (prev_host, next_host, prev_switch),
            opts,
            &mut out,
        );
    }
    lldp_checks(flow, opts, &mut out);
    if flow.limits.dedicated_ports {
        loss_checks(flow, opts, &mut out);
    }
    // Stable order: path order of hops, then kind, then subject.
    let order: Vec<&str> = flow.path.iter().map(Hop::name).collect();
    out.sort_by(|a, b| {
        let pa = order.iter().position(|n| *n == a.hop);
        let pb = order.iter().position(|n| *n == b.hop);
        (pa, a.kind, &a.subject).cmp(&(pb, b.kind, &b.subject))
    });
    out
}

fn loss_checks(flow: &Flow, opts: &Options, out: &mut Vec<Check>) {
    let w = &opts.check_window;
    let tol = flow.limits.loss_tolerance;
    let min = flow.limits.loss_min_pps;
    for (dir, points) in path_points(flow, opts) {
        for (i, pair) in points.windows(2).enumerate() {
            let (a, b) = (&pair[0], &pair[1]);
            let (ra, rb) = (a.pps(w), b.pps(w));
            // Healthy when the deficit is within the tolerance, or when too little
            // traffic passes to judge; no data is unhealthy.
            let raw = format!(
                "clamp_max((({ra}) - ({rb}) <= bool ({ra}) * {tol}) + (({ra}) < bool {min}), 1)"
            );
            out.push(Check {
                flow: flow.id.clone(),
                hop: b.hop.clone(),
                kind: CheckKind::LossSegment,
                subject: format!("{} → {}", a.label, b.label),
                description: format!(
                    "{} between {} and {}: no loss",
                    dir.name(),
                    a.place,
                    b.place
                ),
                failure: format!(
                    "{} between {} and {}: packets lost",
                    dir.name(),
                    a.place,
                    b.place
                ),
                expr: one_or_zero(&raw),
                data_expr: b.data_expr(),
                detail: Some(Detail {
                    template: format!(
                        "between {} and {}: {{lost}} of packets lost ({})",
                        a.place,
                        b.place,
                        dir.name()
                    ),
                    values: vec![(
                        "lost".into(),
                        format!("(({ra}) - ({rb})) / ({ra})"),
                        "ratio",
                    )],
                }),
                // The points' places in `rtmon:flow_point:pps{direction,index}`.
                keys: vec![
                    ("direction", dir.name().to_string()),
                    ("a", format!("{:02}", i + 1)),
                    ("b", format!("{:02}", i + 2)),
                ],
            });
        }
    }
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
        detail: None,
        keys: Vec::new(),
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
        out.push(
            mk(
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
            )
            .keyed(vec![
                (INSTANCE_KEY, norm_instance(&h.instance)),
                ("exporter_job", job.to_string()),
            ]),
        );
    }
    let hs = host_sel(opts, h);
    let sel = format!("{}{{{hs}}}", names::node::UP);
    out.push(
        mk(
            CheckKind::InterfaceUp,
            h.interface.clone(),
            (
                format!("{} interface {} up", h.name, h.interface),
                format!("{} interface {} down", h.name, h.interface),
            ),
            format!("max({sel})"),
            sel,
        )
        .keyed(host_keys(h)),
    );
    // Errors and drops on the data-plane interface.
    let w = &opts.check_window;
    let errs = [
        names::node::RX_ERRS,
        names::node::TX_ERRS,
        names::node::RX_DROP,
        names::node::TX_DROP,
    ]
    .iter()
    .map(|m| format!("sum(rate({m}{{{hs}}}[{w}]))"))
    .collect::<Vec<_>>()
    .join(" + ");
    let limit = flow.limits.errors_per_second;
    let mut c = mk(
        CheckKind::Errors,
        h.interface.clone(),
        (
            format!("{} {} errors and drops ≤ {limit}/s", h.name, h.interface),
            format!(
                "{} {} errors and drops above {limit}/s",
                h.name, h.interface
            ),
        ),
        format!("{errs} <= bool {limit}"),
        format!("{}{{{hs}}}", names::node::RX_ERRS),
    )
    .keyed(host_keys(h));
    c.detail = Some(Detail {
        template: format!(
            "{} {} errors and drops {{rate}} > {limit}/s",
            h.name, h.interface
        ),
        values: vec![("rate".into(), errs, "pps")],
    });
    out.push(c);
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
        out.push(
            mk(
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
            )
            .keyed(vec![
                (INSTANCE_KEY, norm_instance(&h.instance)),
                (names::arp::IP, ip.clone()),
            ]),
        );
        let tsel = format!("{hm},{}={}", names::ping::TARGET, promql_str(&ip));
        let ping = format!("{}{{{tsel}}}", names::ping::UP);
        out.push(
            mk(
                CheckKind::PingPeer,
                ip.clone(),
                (
                    format!("{} reaches {} ({}) by ping", h.name, peer.name, ip),
                    format!("{} cannot reach {} ({}) by ping", h.name, peer.name, ip),
                ),
                format!("max({ping})"),
                ping.clone(),
            )
            .keyed(vec![
                (INSTANCE_KEY, norm_instance(&h.instance)),
                (names::ping::TARGET, ip.clone()),
            ]),
        );
        // Ping quality from the counters and the histogram over the window (not the
        // exporter's windowed gauges, which a scrape undersamples).
        let loss = format!(
            "1 - sum(increase({}{{{tsel}}}[{w}])) / sum(increase({}{{{tsel}}}[{w}]))",
            names::ping::REPLIES,
            names::ping::REQUESTS
        );
        let max_loss = flow.limits.ping_loss;
        let mut c = mk(
            CheckKind::PingLoss,
            ip.clone(),
            (
                format!(
                    "{} → {} ({}) ping loss ≤ {}",
                    h.name,
                    peer.name,
                    ip,
                    pct(max_loss)
                ),
                format!(
                    "{} → {} ({}) ping loss above {}",
                    h.name,
                    peer.name,
                    ip,
                    pct(max_loss)
                ),
            ),
            format!("{loss} <= bool {max_loss}"),
            format!("{}{{{tsel}}}", names::ping::REQUESTS),
        )
        .keyed(vec![
            (INSTANCE_KEY, norm_instance(&h.instance)),
            (names::ping::TARGET, ip.clone()),
        ]);
        c.detail = Some(Detail {
            template: format!(
                "{} → {} ({}) ping loss {{loss}} > {}",
                h.name,
                peer.name,
                ip,
                pct(max_loss)
            ),
            values: vec![("loss".into(), loss, "ratio")],
        });
        out.push(c);
        let rtt = format!(
            "sum(rate({}_sum{{{tsel}}}[{w}])) / sum(rate({}_count{{{tsel}}}[{w}]))",
            names::ping::RTT,
            names::ping::RTT
        );
        let max_rtt = flow.limits.ping_rtt_seconds;
        let mut c = mk(
            CheckKind::PingRtt,
            ip.clone(),
            (
                format!(
                    "{} → {} ({}) mean RTT ≤ {}",
                    h.name,
                    peer.name,
                    ip,
                    fmt_value(max_rtt, "s")
                ),
                format!(
                    "{} → {} ({}) mean RTT above {}",
                    h.name,
                    peer.name,
                    ip,
                    fmt_value(max_rtt, "s")
                ),
            ),
            format!("{rtt} <= bool {max_rtt}"),
            format!("{}_count{{{tsel}}}", names::ping::RTT),
        )
        .keyed(vec![
            (INSTANCE_KEY, norm_instance(&h.instance)),
            (names::ping::TARGET, ip.clone()),
        ]);
        c.detail = Some(Detail {
            template: format!(
                "{} → {} ({}) mean RTT {{rtt}} > {}",
                h.name,
                peer.name,
                ip,
                fmt_value(max_rtt, "s")
            ),
            values: vec![("rtt".into(), rtt, "s")],
        });
        out.push(c);
    }
}

fn pct(ratio: f64) -> String {
    fmt_value(ratio, "ratio")
}

/// A value for people: `9000` bytes, `100 Gbit/s`, `3 %`, `12.5 ms`, `1.2 pps`.
pub fn fmt_value(v: f64, unit: &str) -> String {
    if !v.is_finite() {
        return "?".into();
    }
    let trim = |x: f64| {
        let s = format!("{x:.2}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        s.to_string()
    };
    match unit {
        "bytes" => format!("{}", v.round() as i64),
        "bps" => {
            let (d, u) = [
                (1e12, "Tbit/s"),
                (1e9, "Gbit/s"),
                (1e6, "Mbit/s"),
                (1e3, "kbit/s"),
            ]
            .into_iter()
            .find(|(d, _)| v.abs() >= *d)
            .unwrap_or((1.0, "bit/s"));
            format!("{} {u}", trim(v / d))
        }
        "ratio" => format!("{} %", trim(v * 100.0)),
        "s" if v.abs() < 1.0 => format!("{} ms", trim(v * 1000.0)),
        "s" => format!("{} s", trim(v)),
        "pps" => format!("{}/s", trim(v)),
        _ => trim(v),
    }
}

fn switch_checks(
    flow: &Flow,
    sw: &SwitchHop,
    (host_before, host_after, switch_before): (
        Option<&HostHop>,
        Option<&HostHop>,
        Option<&SwitchHop>,
    ),
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
        detail: None,
        keys: Vec::new(),
    };
    let sel = format!("{}{{{sm}}}", names::snmp::UP);
    out.push(
        mk(
            CheckKind::SnmpUp,
            String::new(),
            (
                format!("{} answers SNMP", sw.name),
                format!("{} does not answer SNMP", sw.name),
            ),
            format!("max({sel})"),
            sel,
        )
        .keyed(vec![(INSTANCE_KEY, norm_instance(&sw.target))]),
    );
    let w = &opts.check_window;
    let host_mtu = hosts_mtu(flow, opts);
    let vlan_module = sw.modules.iter().any(|m| m == names::snmp::VLAN_MODULE);
    for port in ports_of(sw) {
        let p = port.display();
        let p = p.as_str();
        let ps = port_sel(opts, sw, port);
        let sel = format!("{}{{{ps}}}", names::snmp::OPER_STATUS);
        out.push(
            mk(
                CheckKind::PortOperUp,
                p.to_string(),
                (
                    format!("{} port {} oper up", sw.name, p),
                    format!("{} port {} oper down", sw.name, p),
                ),
                format!("max({sel} == bool 1)"),
                sel,
            )
            .keyed(port_keys(sw, port)),
        );
        // The name selects one interface (only a port not pinned can be ambiguous).
        if port.pin.is_none() {
            // Unpinned: the port's selector is the switch and the ifName alone.
            let names_sel = format!("{}{{{ps}}}", names::snmp::OPER_STATUS);
            let mut c = mk(
                CheckKind::PortUnique,
                p.to_string(),
                (
                    format!("{} port name {p} names one interface", sw.name),
                    format!(
                        "{} port name {p} names several interfaces: pin it by ifIndex or ifDescr",
                        sw.name
                    ),
                ),
                // No interface of that name at all is port_oper_up's failure, not this one.
                format!("(count({names_sel}) <= bool 1) or on() vector(1)"),
                names_sel.clone(),
            )
            .keyed(vec![
                (INSTANCE_KEY, norm_instance(&sw.target)),
                (names::snmp::IF_NAME, port.port.clone()),
            ]);
            c.detail = Some(Detail {
                template: format!(
                    "{} port name {p} names {{n}} interfaces: pin it by ifIndex or ifDescr (`rtmon-dashboards resolve` lists them)",
                    sw.name
                ),
                values: vec![("n".into(), format!("count({names_sel})"), "")],
            });
            out.push(c);
        }
        // The flow's VLAN in the port's egress set.
        let facing = if std::ptr::eq(port, &sw.in_port) {
            host_before
        } else {
            host_after
        };
        let vlan = port.vlan.or(facing.and_then(|h| h.vlan));
        if let (true, Some(v)) = (vlan_module, vlan) {
            let sel = format!(
                "{}{{{ps},{}=\"{v}\"}}",
                names::snmp::VLAN_PORT,
                names::snmp::VLAN_LABEL
            );
            out.push(
                mk(
                    CheckKind::VlanOnPort,
                    p.to_string(),
                    (
                        format!("{} VLAN {v} on port {p}", sw.name),
                        format!("{} VLAN {v} missing on port {p}", sw.name),
                    ),
                    format!("count({sel}) > bool 0"),
                    format!("{}{{{sm}}}", names::snmp::VLAN_PORT),
                )
                .keyed({
                    let mut k = port_keys(sw, port);
                    k.push((names::snmp::VLAN_LABEL, v.to_string()));
                    k
                }),
            );
        }
        // MTU not below the hosts'.
        let mtu = format!("min({}{{{ps}}})", names::snmp::MTU);
        let mut c = mk(
            CheckKind::Mtu,
            p.to_string(),
            (
                format!("{} {p} MTU ≥ host MTU", sw.name),
                format!("{} {p} MTU < host MTU", sw.name),
            ),
            format!("{mtu} >= bool {host_mtu}"),
            format!("{}{{{ps}}}", names::snmp::MTU),
        )
        .keyed(port_keys(sw, port));
        c.detail = Some(Detail {
            template: format!("{} {p} MTU {{port}} < host MTU {{host}}", sw.name),
            values: vec![
                ("port".into(), mtu, "bytes"),
                ("host".into(), host_mtu.clone(), "bytes"),
            ],
        });
        out.push(c);
        // Errors and discards.
        let errs = [
            names::snmp::IN_ERRORS,
            names::snmp::OUT_ERRORS,
            names::snmp::IN_DISCARDS,
            names::snmp::OUT_DISCARDS,
        ]
        .iter()
        .map(|m| format!("sum(rate({m}{{{ps}}}[{w}]))"))
        .collect::<Vec<_>>()
        .join(" + ");
        let limit = flow.limits.errors_per_second;
        let mut c = mk(
            CheckKind::Errors,
            p.to_string(),
            (
                format!("{} {p} errors and discards ≤ {limit}/s", sw.name),
                format!("{} {p} errors and discards above {limit}/s", sw.name),
            ),
            format!("{errs} <= bool {limit}"),
            format!("{}{{{ps}}}", names::snmp::IN_ERRORS),
        )
        .keyed(port_keys(sw, port));
        c.detail = Some(Detail {
            template: format!("{} {p} errors and discards {{rate}} > {limit}/s", sw.name),
            values: vec![("rate".into(), errs, "pps")],
        });
        out.push(c);
    }
    // Speeds: a host NIC equals its facing port; inter-switch ends equal.
    // (port, the other end's speed, its name, its topology keys)
    type Pair<'a> = (&'a Port, String, String, Vec<(&'static str, String)>);
    let mut pairs: Vec<Pair> = Vec::new();
    let host_other = |h: &HostHop| {
        vec![
            ("other_instance", norm_instance(&h.instance)),
            ("other_device", h.interface.clone()),
        ]
    };
    if let Some(h) = host_before {
        pairs.push((
            &sw.in_port,
            host_speed(opts, h),
            format!("{} {}", h.name, h.interface),
            host_other(h),
        ));
    }
    if let Some(h) = host_after {
        pairs.push((
            &sw.out_port,
            host_speed(opts, h),
            format!("{} {}", h.name, h.interface),
            host_other(h),
        ));
    }
    if let Some(s) = switch_before {
        pairs.push((
            &sw.in_port,
            port_speed(opts, s, &s.out_port),
            format!("{} {}", s.name, s.out_port.display()),
            vec![
                ("other_instance", norm_instance(&s.target)),
                ("other_port", port_key(&s.out_port)),
            ],
        ));
    }
    for (port, other, other_name, other_keys) in pairs {
        let p = port.display();
        let p = p.as_str();
        let mine = port_speed(opts, sw, port);
        let mut c = mk(
            CheckKind::Speed,
            p.to_string(),
            (
                format!("{} {p} speed equals {other_name}'s", sw.name),
                format!("{} {p} speed differs from {other_name}'s", sw.name),
            ),
            format!("{mine} == bool {other}"),
            format!(
                "{}{{{}}}",
                names::snmp::HIGH_SPEED,
                port_sel(opts, sw, port)
            ),
        )
        .keyed({
            let mut k = port_keys(sw, port);
            k.extend(other_keys);
            k
        });
        c.detail = Some(Detail {
            template: format!(
                "{} {p} speed {{mine}} ≠ {other_name} speed {{other}}",
                sw.name
            ),
            values: vec![("mine".into(), mine, "bps"), ("other".into(), other, "bps")],
        });
        out.push(c);
    }
    for (host, port) in [(host_before, &sw.in_port), (host_after, &sw.out_port)] {
        let Some(host) = host else { continue };
        let mut fdb = port_sel(opts, sw, port);
        if let Some(v) = port.vlan.or(host.vlan) {
            fdb.push_str(&format!(",{}=\"{v}\"", names::snmp::FDB_VLAN));
        }
        let data = format!("{}{{{sm}}}", names::snmp::FDB_ENTRY);
        let mut fdb_keys = port_keys(sw, port);
        if let Some(v) = port.vlan.or(host.vlan) {
            fdb_keys.push((names::snmp::FDB_VLAN, v.to_string()));
        }
        match &host.mac {
            Some(mac) => fdb_keys.push((names::snmp::FDB_MAC, mac.to_ascii_lowercase())),
            // The rules take the MAC from the host's node_network_info.
            None => fdb_keys.extend([
                ("host_instance", norm_instance(&host.instance)),
                ("host_device", host.interface.clone()),
            ]),
        }
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
        out.push(
            mk(
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
            )
            .keyed(fdb_keys),
        );
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
    /// The identities (`nbr_id` values of the rules' normalised neighbour table) under
    /// which this end may appear as an LLDP neighbour: a switch as `nameport:NAME|PORT`
    /// (system name without its domain, port id or description), a host as `name:NAME`,
    /// `chassis:ID` or `port:MAC`. Label values cannot be case-folded in PromQL, so names
    /// are expected as written, in lower case or in upper case.
    fn identities(&self) -> Vec<String> {
        let variants = |n: &str| {
            let first = n.split('.').next().unwrap_or(n);
            let mut v = vec![
                first.to_string(),
                first.to_ascii_lowercase(),
                first.to_ascii_uppercase(),
            ];
            v.dedup();
            v.sort();
            v.dedup();
            v
        };
        match self {
            LinkEnd::Switch(s, port) => variants(s.lldp_system_name.as_deref().unwrap_or(&s.name))
                .into_iter()
                .map(|n| format!("nameport:{n}|{port}"))
                .collect(),
            LinkEnd::Host(h) => {
                let mut v: Vec<String> = variants(&h.name)
                    .into_iter()
                    .map(|n| format!("name:{n}"))
                    .collect();
                for id in [h.lldp_chassis_id.as_deref(), h.mac.as_deref()]
                    .into_iter()
                    .flatten()
                {
                    v.push(format!("chassis:{id}"));
                }
                if let Some(mac) = &h.mac {
                    v.push(format!("port:{mac}"));
                }
                v.dedup();
                v
            }
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

/// The interface whose LLDP neighbours a host reports for `interface`: the physical
/// port under a VLAN subinterface (`ens2f0.1000` → `ens2f0`), else the interface.
pub fn lldp_if(interface: &str) -> &str {
    interface
        .rsplit_once('.')
        .filter(|(_, v)| !v.is_empty() && v.chars().all(|c| c.is_ascii_digit()))
        .map_or(interface, |(p, _)| p)
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
            let mut keys = match me {
                LinkEnd::Host(h) => vec![
                    (INSTANCE_KEY, norm_instance(&h.instance)),
                    (LLDP_IF_KEY, lldp_if(&h.interface).to_string()),
                ],
                LinkEnd::Switch(s, port) => vec![
                    (INSTANCE_KEY, norm_instance(&s.target)),
                    (LLDP_IF_KEY, port.to_string()),
                ],
            };
            keys.extend(other.identities().into_iter().map(|id| (LLDP_ID_KEY, id)));
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
                detail: None,
                keys,
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
    fn switch_matcher_tolerates_a_port_on_either_side() {
        let o = Options::default();
        let want = "instance=~\"192\\\\.0\\\\.2\\\\.2(:[0-9]+)?\"";
        assert_eq!(switch_matcher(&o, "192.0.2.2:161"), want);
        assert_eq!(switch_matcher(&o, "192.0.2.2"), want);
        assert_eq!(
            switch_matcher(&o, "[2001:db8::1]:161"),
            "instance=~\"\\\\[?2001:db8::1\\\\]?(:[0-9]+)?\""
        );
        assert_eq!(
            switch_matcher(&o, "2001:db8::1"),
            "instance=~\"\\\\[?2001:db8::1\\\\]?(:[0-9]+)?\""
        );
        assert_eq!(target_host("sw-a.example:1161"), "sw-a.example");
    }

    #[test]
    fn values_are_formatted_for_people() {
        assert_eq!(fmt_value(9000.0, "bytes"), "9000");
        assert_eq!(fmt_value(1e11, "bps"), "100 Gbit/s");
        assert_eq!(fmt_value(2.5e10, "bps"), "25 Gbit/s");
        assert_eq!(fmt_value(0.03, "ratio"), "3 %");
        assert_eq!(fmt_value(0.0125, "s"), "12.5 ms");
        assert_eq!(fmt_value(f64::NAN, "s"), "?");
    }

    #[test]
    fn every_kind_has_a_unique_name_and_a_runbook_section() {
        let runbook = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/runbook.md"),
        )
        .expect("docs/runbook.md");
        let mut seen = std::collections::HashSet::new();
        for k in CheckKind::ALL {
            assert!(seen.insert(k.name()), "{} twice", k.name());
            assert!(
                runbook.contains(&format!("\n## {}\n", k.name())),
                "docs/runbook.md has no `## {}` section",
                k.name()
            );
        }
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
