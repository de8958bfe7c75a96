//! The flow rules: one constant set of recording and alerting rules for all flows,
//! joining the exporters' series to the flows' topology ([`crate::engine::topology`])
//! with equality matching (`on(…) group_left()`), never a regex per flow. The number of
//! rules in group `rtmon-flows` is the same for one flow or ten thousand; the topology
//! groups grow by static `vector()` rules that select no series.
//!
//! Group `rtmon-flows`, evaluated in order:
//! 1. the data, normalised once: each series' `instance` (or `--instance-label`) becomes
//!    `rtmon_instance` (the address without the exporter's port, [`NORM_INSTANCE_RE`]),
//!    rates are taken over the check window, and only the interfaces and ports of some
//!    flow are kept (`rtmon:node_if:*`, `rtmon:snmp_if:*`, `rtmon:snmp:up`,
//!    `rtmon:lldp:neighbor`);
//! 2. one rule per check kind: `rtmon:flow_check:ok{flow,hop,check,subject,severity}`,
//!    1 healthy / 0 not, one sample per row of the topology (no data → 0), plus the
//!    values the fleet and the MTU check share (`rtmon:flow_ping:*`,
//!    `rtmon:flow_host:mtu_bytes`, `rtmon:flow_port:mtu_bytes`);
//! 3. per flow, over all flows: `rtmon:flow:healthy`, `rtmon:flow:status` (0 healthy,
//!    1 degraded: a warning fails, 2 down: a critical check fails),
//!    `rtmon:flow_hop:status`, `rtmon:flow:cause` (the failing check that explains the
//!    others, `cause` its failure text; absent when healthy), `rtmon:flow_point:pps`,
//!    `rtmon:flow_link:bps`, `rtmon:flow_link:utilisation`;
//! 4. the alert `RtmonFlowCheckFailed` per failing check (its texts read from the
//!    topology row by the annotation templates).
//!
//! Group `rtmon-meta`: `RtmonRulesLagging`, when an rtmon group misses iterations, takes
//! longer than its interval or was last evaluated more than two intervals ago (read from
//! Prometheus's own `prometheus_rule_group_*` metrics: Prometheus must scrape itself).
//! In push mode, group `rtmon-push` alerts on stale or rejected pushes.

use rtmon::flow::Flow;

use super::checks::{
    promql_str, regex_escape, CheckKind, Severity, INSTANCE_KEY, LLDP_ID_KEY, LLDP_IF_KEY,
    NORM_INSTANCE_RE, PORT_KEY,
};
use super::topology::{self, CHECK_INFO, HOP_INFO, LIMIT, LINK_INFO, LLDP_EXPECTED, POINT_INFO};
use crate::names;
use crate::{Mode, Options};

/// Name of the per-check recording rule.
pub const CHECK_RECORD: &str = "rtmon:flow_check:ok";
/// Name of the per-flow recording rule (1 healthy / 0 not).
pub const FLOW_RECORD: &str = "rtmon:flow:healthy";
/// Name of the per-flow status rule (0 healthy, 1 degraded, 2 down).
pub const STATUS_RECORD: &str = "rtmon:flow:status";
/// Name of the per-point packet rate rule.
pub const POINT_RECORD: &str = "rtmon:flow_point:pps";
/// Name of the per-hop status rule (0 healthy, 1 degraded, 2 down; labels `flow`, `hop`).
pub const HOP_STATUS_RECORD: &str = "rtmon:flow_hop:status";
/// Name of the per-link bit rate rule (bits/s sent onto each link of the path).
pub const LINK_BPS_RECORD: &str = "rtmon:flow_link:bps";
/// Name of the per-link utilisation rule (0–1 of the sending end's speed).
pub const LINK_UTIL_RECORD: &str = "rtmon:flow_link:utilisation";
/// Name of the per-check alert.
pub const ALERT: &str = "RtmonFlowCheckFailed";
/// Name of the alert on rule groups that fall behind.
pub const LAG_ALERT: &str = "RtmonRulesLagging";
/// Per-flow info (value 1, labels `flow`, `title`, `dashboard_uid`): a topology series.
pub const INFO_RECORD: &str = topology::INFO_RECORD;
/// Per-flow cause (absent when the flow is healthy).
pub const CAUSE_RECORD: &str = "rtmon:flow:cause";
/// Mean ping RTT per direction over the check window, seconds.
pub const RTT_RECORD: &str = "rtmon:flow_ping:rtt_seconds";
/// Ping loss per direction over the check window, ratio.
pub const LOSS_RECORD: &str = "rtmon:flow_ping:loss_ratio";
/// How far back the fleet's "since" looks for the last status change.
pub const SINCE_LOOKBACK: &str = "6h";
/// Name of the constant flow rule group.
pub const FLOWS_GROUP: &str = "rtmon-flows";
/// Prefix of every rule group rtmon writes (what `status` and the lag alert watch).
pub const GROUP_PREFIX: &str = "rtmon-";

/// A YAML double-quoted scalar (JSON string syntax is valid YAML).
pub(crate) fn q(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// `rtmon:flow:status` of one flow (for the dashboards): the worst failing severity
/// (2 critical, 1 warning).
pub fn status_expr(flow_id: &str) -> String {
    let f = promql_str(flow_id);
    format!(
        "max(2 * (1 - {CHECK_RECORD}{{flow={f},severity=\"critical\"}}) or (1 - {CHECK_RECORD}{{flow={f},severity=\"warning\"}}))"
    )
}

/// `rtmon:flow_hop:status` of one flow, per hop (for the dashboards).
pub fn hop_status_expr(flow_id: &str) -> String {
    let f = promql_str(flow_id);
    format!(
        "max by (flow, hop) (2 * (1 - {CHECK_RECORD}{{flow={f},severity=\"critical\"}}) or (1 - {CHECK_RECORD}{{flow={f},severity=\"warning\"}}))"
    )
}

const HEADER: &str =
    "# Generated by rtmon-dashboards from the flow config; do not edit by hand.\ngroups:\n";

/// Renders the rules file (YAML) for `flows`.
pub fn render(flows: &[Flow], opts: &Options, eval_interval: &str, alert_for: &str) -> String {
    render_with(flows, opts, eval_interval, alert_for, true)
}

/// [`render`], with or without the topology rules (see [`write_with`]).
pub fn render_with(
    flows: &[Flow],
    opts: &Options,
    eval_interval: &str,
    alert_for: &str,
    topology_rules: bool,
) -> String {
    let mut out = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = write_with(
        &mut out,
        flows,
        opts,
        eval_interval,
        alert_for,
        topology_rules,
    );
    String::from_utf8(out).unwrap_or_default()
}

/// [`render`] written to `w` as it is made (the topology of 10,000 flows is large).
pub fn write(
    w: &mut impl std::io::Write,
    flows: &[Flow],
    opts: &Options,
    eval_interval: &str,
    alert_for: &str,
) -> std::io::Result<()> {
    write_with(w, flows, opts, eval_interval, alert_for, true)
}

/// [`write`], with the topology as static rules (`topology_rules`) or without it: then
/// Prometheus scrapes it instead ([`topology::write_exposition`], `rtmon-dashboards
/// topology`), which costs it far less than a rule per row at thousands of flows.
pub fn write_with(
    w: &mut impl std::io::Write,
    flows: &[Flow],
    opts: &Options,
    eval_interval: &str,
    alert_for: &str,
    topology_rules: bool,
) -> std::io::Result<()> {
    w.write_all(HEADER.as_bytes())?;
    let mut y = String::new();
    if opts.mode == Mode::Push {
        push_group(&mut y, opts, eval_interval);
    }
    meta_group(&mut y, opts, eval_interval);
    flows_group(&mut y, flows, opts, eval_interval, alert_for);
    w.write_all(y.as_bytes())?;
    if topology_rules {
        topology::write_groups(w, flows, opts, eval_interval)?;
    }
    Ok(())
}

/// Rule list builder.
struct Rules(String);

impl Rules {
    fn record(&mut self, name: &str, expr: &str, labels: &[(&str, &str)]) {
        self.0.push_str(&format!(
            "      - record: {name}\n        expr: {}\n",
            q(expr)
        ));
        if !labels.is_empty() {
            self.0.push_str("        labels:\n");
            for (k, v) in labels {
                self.0.push_str(&format!("          {k}: {}\n", q(v)));
            }
        }
    }
}

/// The expressions, for one instance label and check window.
struct Expr<'a> {
    opts: &'a Options,
    /// Some flow pins a port by `ifIndex` / by `ifDescr` (the port keys those need).
    pins: (bool, bool),
}

const I: &str = INSTANCE_KEY;

impl Expr<'_> {
    /// `e` with `rtmon_instance` = its instance label without the port.
    fn norm(&self, e: &str) -> String {
        format!(
            "label_replace({e}, \"{I}\", \"$1$2$3\", {}, {})",
            promql_str(&self.opts.instance_label),
            promql_str(NORM_INSTANCE_RE)
        )
    }

    /// `e` (switch data) normalised, with `rtmon_port` = its ifName, and — only where a
    /// flow pins ports so — once more as `ifName#ifIndex=N` and `ifName#ifDescr=D`
    /// ([`crate::engine::checks::port_key`]).
    fn port(&self, e: &str) -> String {
        let ifn = names::snmp::IF_NAME;
        let mut v = format!("label_replace({e}, \"{PORT_KEY}\", \"$1\", \"{ifn}\", \"(.*)\")");
        for (on, label) in [(self.pins.0, "ifIndex"), (self.pins.1, "ifDescr")] {
            if on {
                v.push_str(&format!(
                    " or label_join({e}, \"{PORT_KEY}\", \"#{label}=\", \"{ifn}\", \"{label}\")"
                ));
            }
        }
        self.norm(&v)
    }

    fn w(&self) -> &str {
        &self.opts.check_window
    }

    /// The summed rates of `required` counters plus those of `optional` ones where
    /// present, per `by`. One `rate` each (rates of several names in one vector would
    /// collide once the names are dropped: the optional ones get a label of their own),
    /// summed per series identity first, so the instance (and port) are normalised once
    /// per interface, not once per counter.
    fn rate_sum(&self, by: &str, required: &[&str], optional: &[&str], port: bool) -> String {
        let w = self.w();
        let mut raw = vec![self.opts.instance_label.as_str()];
        if port {
            raw.push(names::snmp::IF_NAME);
            if self.pins.0 {
                raw.push("ifIndex");
            }
            if self.pins.1 {
                raw.push("ifDescr");
            }
        } else {
            raw.push(names::node::DEVICE);
        }
        let raw = raw.join(", ");
        let mut terms: Vec<String> = Vec::new();
        for (i, m) in required.iter().enumerate() {
            if i == 0 && !optional.is_empty() {
                let mut e = format!("rate({m}[{w}])");
                for o in optional {
                    e.push_str(&format!(
                        " or label_replace(rate({o}[{w}]), \"rtmon_counter\", \"{o}\", \"\", \"\")"
                    ));
                }
                // The optional counters count only beside the required one.
                terms.push(format!("(sum by ({raw}) ({e}) and on({raw}) {m})"));
            } else {
                terms.push(format!("sum by ({raw}) (rate({m}[{w}]))"));
            }
        }
        let e = terms.join(" + ");
        let e = if port { self.port(&e) } else { self.norm(&e) };
        format!("sum by ({by}) ({e})")
    }
}

/// The rows of check kind `k` (with extra matchers `m`), value 0.
fn zero(k: CheckKind, m: &str) -> String {
    format!("(0 * {CHECK_INFO}{{check=\"{}\"{m}}})", k.name())
}

/// Keeps only host interfaces of some flow.
fn host_filter() -> String {
    format!(
        " and on({I}, {dev}) {CHECK_INFO}{{check=\"{}\"}}",
        CheckKind::InterfaceUp.name(),
        dev = names::node::DEVICE
    )
}

/// Keeps only switch ports of some flow.
fn port_filter() -> String {
    format!(
        " and on({I}, {PORT_KEY}) {CHECK_INFO}{{check=\"{}\"}}",
        CheckKind::PortOperUp.name(),
    )
}

const ROW: &str = "flow, hop, check, subject, severity";

/// The per-check record: `value` (rows with data, the rows' labels) or 0.
fn check_rule(r: &mut Rules, k: CheckKind, value: &str) {
    check_rule_total(r, k, &format!("({value}) or {}", zero(k, "")));
}

/// The per-check record of a `value` that already has a sample for every row of `k`
/// (one read of the rows fewer than [`check_rule`]).
fn check_rule_total(r: &mut Rules, k: CheckKind, value: &str) {
    let expr = format!("max by ({ROW}) ({value})");
    r.record(CHECK_RECORD, &expr, &[("check", k.name())]);
}

// Internal records of the data, normalised (labels `rtmon_instance` + `device`/`ifName`).
const NODE_UP: &str = "rtmon:node_if:up";
const NODE_MTU: &str = "rtmon:node_if:mtu_bytes";
const NODE_SPEED: &str = "rtmon:node_if:speed_bps";
const NODE_ERRORS: &str = "rtmon:node_if:errors_pps";
const NODE_RX_PPS: &str = "rtmon:node_if:rx_pps";
const NODE_TX_PPS: &str = "rtmon:node_if:tx_pps";
const NODE_TX_BPS: &str = "rtmon:node_if:tx_bps";
const SNMP_UP: &str = "rtmon:snmp:up";
const SNMP_OPER: &str = "rtmon:snmp_if:oper_up";
const SNMP_MTU: &str = "rtmon:snmp_if:mtu_bytes";
const SNMP_SPEED: &str = "rtmon:snmp_if:speed_bps";
const SNMP_ERRORS: &str = "rtmon:snmp_if:errors_pps";
const SNMP_RX_PPS: &str = "rtmon:snmp_if:rx_pps";
const SNMP_TX_PPS: &str = "rtmon:snmp_if:tx_pps";
const SNMP_TX_BPS: &str = "rtmon:snmp_if:tx_bps";
const LLDP_NEIGHBOR: &str = "rtmon:lldp:neighbor";
const HOST_MTU: &str = "rtmon:flow_host:mtu_bytes";
const PORT_MTU: &str = "rtmon:flow_port:mtu_bytes";
/// Packets per second into each loss segment (its first counting point).
const SEGMENT_IN_PPS: &str = "rtmon:flow_segment:in_pps";
/// The failing checks: their topology rows (value = cause weight, `cause` text) — the
/// few series the flow and hop status, the cause and the alert read, instead of every
/// check of every flow.
const FAILING: &str = "rtmon:flow_check:failing";

/// Every internal record the rules write beside the documented ones.
pub const INTERNAL_RECORDS: &[&str] = &[
    NODE_UP,
    NODE_MTU,
    NODE_SPEED,
    NODE_ERRORS,
    NODE_RX_PPS,
    NODE_TX_PPS,
    NODE_TX_BPS,
    SNMP_UP,
    SNMP_OPER,
    SNMP_MTU,
    SNMP_SPEED,
    SNMP_ERRORS,
    SNMP_RX_PPS,
    SNMP_TX_PPS,
    SNMP_TX_BPS,
    LLDP_NEIGHBOR,
    HOST_MTU,
    PORT_MTU,
    SEGMENT_IN_PPS,
    FAILING,
];

fn data_records(r: &mut Rules, x: &Expr) {
    use names::{node, snmp};
    let w = x.w();
    let dev = node::DEVICE;
    let ifn = PORT_KEY;
    let (hf, pf) = (host_filter(), port_filter());
    let node_by = |agg: &str, e: &str, scale: &str| {
        format!("{agg} by ({I}, {dev}) ({}){scale}{hf}", x.norm(e))
    };
    r.record(NODE_UP, &node_by("max", node::UP, ""), &[]);
    r.record(NODE_MTU, &node_by("max", node::MTU, ""), &[]);
    r.record(NODE_SPEED, &node_by("max", node::SPEED, " * 8"), &[]);
    let node_keys = format!("{I}, {dev}");
    r.record(
        NODE_ERRORS,
        &format!(
            "({}){hf}",
            x.rate_sum(
                &node_keys,
                &[node::RX_ERRS, node::TX_ERRS, node::RX_DROP, node::TX_DROP],
                &[],
                false
            )
        ),
        &[],
    );
    r.record(
        NODE_RX_PPS,
        &node_by("sum", &format!("rate({}[{w}])", node::RX_PACKETS), ""),
        &[],
    );
    r.record(
        NODE_TX_PPS,
        &node_by("sum", &format!("rate({}[{w}])", node::TX_PACKETS), ""),
        &[],
    );
    r.record(
        NODE_TX_BPS,
        &node_by("sum", &format!("rate({}[{w}])", node::TX_BYTES), " * 8"),
        &[],
    );
    r.record(
        SNMP_UP,
        &format!("max by ({I}) ({})", x.norm(snmp::UP)),
        &[],
    );
    let port_by = |agg: &str, e: &str, scale: &str| {
        format!("{agg} by ({I}, {ifn}) ({}){scale}{pf}", x.port(e))
    };
    r.record(
        SNMP_OPER,
        &port_by("max", &format!("{} == bool 1", snmp::OPER_STATUS), ""),
        &[],
    );
    r.record(SNMP_MTU, &port_by("min", snmp::MTU, ""), &[]);
    r.record(
        SNMP_SPEED,
        &port_by("max", snmp::HIGH_SPEED, " * 1000000"),
        &[],
    );
    let port_keys = format!("{I}, {ifn}");
    let summed =
        |req: &[&str], opt: &[&str]| format!("({}){pf}", x.rate_sum(&port_keys, req, opt, true));
    r.record(
        SNMP_ERRORS,
        &summed(
            &[
                snmp::IN_ERRORS,
                snmp::OUT_ERRORS,
                snmp::IN_DISCARDS,
                snmp::OUT_DISCARDS,
            ],
            &[],
        ),
        &[],
    );
    // Unicast required, multicast and broadcast counted where the agent has them.
    r.record(
        SNMP_RX_PPS,
        &summed(&[snmp::IN_UCAST], &[snmp::IN_MCAST, snmp::IN_BCAST]),
        &[],
    );
    r.record(
        SNMP_TX_PPS,
        &summed(&[snmp::OUT_UCAST], &[snmp::OUT_MCAST, snmp::OUT_BCAST]),
        &[],
    );
    r.record(
        SNMP_TX_BPS,
        &port_by("sum", &format!("rate({}[{w}])", snmp::OUT_OCTETS), " * 8"),
        &[],
    );
    // LLDP neighbours of hosts (rtmon-arp-exporter) and switch ports (SNMP `lldp`), one
    // series per identity the neighbour can be recognised by (see
    // `checks::LinkEnd::identities`).
    let ids = |e: &str, p: &str| {
        let id = |fmt: &str, src: &str| {
            format!("label_replace({e}, \"{LLDP_ID_KEY}\", \"{fmt}\", \"{src}\", \"(.+)\")")
        };
        let nameport = |port: &str| {
            format!(
                "label_replace(label_join({e}, \"rtmon_lldp\", \"|\", \"{p}system_name\", \"{p}{port}\"), \"{LLDP_ID_KEY}\", \"nameport:$1|$2\", \"rtmon_lldp\", \"([^.|]+)[^|]*\\\\|(.+)\")"
            )
        };
        [
            id("name:$1", &format!("{p}system_name_short")),
            id("chassis:$1", &format!("{p}chassis_id")),
            id("port:$1", &format!("{p}port_id")),
            nameport("port_id"),
            nameport("port_desc"),
        ]
        .join(" or ")
    };
    let host = x.norm(&format!(
        "label_replace(label_replace(rtmon_lldp_neighbor_info, \"{LLDP_IF_KEY}\", \"$1\", \"interface\", \"(.*?)(?:\\\\.[0-9]+)?\"), \"system_name_short\", \"$1\", \"system_name\", \"([^.]+).*\")"
    ));
    let switch = x.norm(&format!(
        "label_replace(label_replace(rtmon_snmp_lldp_neighbor_info, \"{LLDP_IF_KEY}\", \"$1\", \"ifName\", \"(.*)\"), \"remote_system_name_short\", \"$1\", \"remote_system_name\", \"([^.]+).*\")"
    ));
    r.record(
        LLDP_NEIGHBOR,
        &format!(
            "max by ({I}, {LLDP_IF_KEY}, {LLDP_ID_KEY}) ({} or {})",
            ids(&host, ""),
            ids(&switch, "remote_")
        ),
        &[],
    );
}

fn check_records(r: &mut Rules, x: &Expr) {
    use names::{arp, node, ping, snmp};
    use CheckKind as K;
    let w = x.w();
    let dev = node::DEVICE;
    let ifn = PORT_KEY;
    let limit = |name: &str| format!("on(flow) group_left() {LIMIT}{{limit=\"{name}\"}}");
    let join = |k: K, m: &str, on: &str, data: &str| {
        format!("{} + on({on}) group_left() ({data})", zero(k, m))
    };

    // Exporters alive (scrape: `up`) or fresh (push: `push_time_seconds`).
    let jobs = [&x.opts.jobs.node, &x.opts.jobs.arp, &x.opts.jobs.ping]
        .iter()
        .map(|j| regex_escape(j))
        .collect::<Vec<_>>()
        .join("|");
    let jm = format!("job=~{}", promql_str(&jobs));
    let alive = match x.opts.mode {
        Mode::Scrape => format!("max by ({I}, job) ({})", x.norm(&format!("up{{{jm}}}"))),
        Mode::Push => format!(
            "max by ({I}, job) ({})",
            x.norm(&format!(
                "time() - push_time_seconds{{{jm}}} < bool {}",
                x.opts.stale_after_seconds
            ))
        ),
    };
    // The row's exporter job is `exporter_job`: a scraped topology keeps its own `job`.
    let alive = format!("label_replace({alive}, \"exporter_job\", \"$1\", \"job\", \"(.*)\")");
    check_rule(
        r,
        K::ExporterUp,
        &join(K::ExporterUp, "", &format!("{I}, exporter_job"), &alive),
    );
    check_rule(
        r,
        K::InterfaceUp,
        &join(K::InterfaceUp, "", &format!("{I}, {dev}"), NODE_UP),
    );
    let usable = format!(
        "clamp_max(count by ({I}, {ip}) ({}), 1)",
        x.norm(&format!(
            "{}{{{}!~\"(?i)failed|incomplete\"}}",
            arp::ENTRY,
            arp::STATE
        )),
        ip = arp::IP
    );
    check_rule(
        r,
        K::ArpPeer,
        &join(K::ArpPeer, "", &format!("{I}, {}", arp::IP), &usable),
    );
    let tgt = ping::TARGET;
    check_rule(
        r,
        K::PingPeer,
        &join(
            K::PingPeer,
            "",
            &format!("{I}, {tgt}"),
            &format!("max by ({I}, {tgt}) ({})", x.norm(ping::UP)),
        ),
    );
    // Ping quality from the counters and the histogram over the window.
    let per_target = |e: &str| format!("sum by ({I}, {tgt}) ({})", x.norm(e));
    let loss = format!(
        "1 - {} / {}",
        per_target(&format!("increase({}[{w}])", ping::REPLIES)),
        per_target(&format!("increase({}[{w}])", ping::REQUESTS))
    );
    let rtt = format!(
        "{} / {}",
        per_target(&format!("rate({}_sum[{w}])", ping::RTT)),
        per_target(&format!("rate({}_count[{w}])", ping::RTT))
    );
    for (k, record, value, lim) in [
        (K::PingLoss, LOSS_RECORD, loss, "ping_loss"),
        (K::PingRtt, RTT_RECORD, rtt, "ping_rtt_seconds"),
    ] {
        r.record(
            record,
            &format!(
                "max by (flow, hop, subject) ({})",
                join(k, "", &format!("{I}, {tgt}"), &value)
            ),
            &[],
        );
        check_rule(
            r,
            k,
            &format!(
                "({} + on(flow, hop, subject) group_left() {record}) <= bool {}",
                zero(k, ""),
                limit(lim)
            ),
        );
    }
    check_rule(r, K::SnmpUp, &join(K::SnmpUp, "", I, SNMP_UP));
    check_rule(
        r,
        K::PortOperUp,
        &join(K::PortOperUp, "", &format!("{I}, {ifn}"), SNMP_OPER),
    );
    // A port name that several interfaces carry (rows of ports not pinned): how many
    // interfaces of the switch have it; none at all is port_oper_up's failure (1 here:
    // every row has a sample).
    let names_n = format!(
        "count by ({I}, {n}) ({})",
        x.norm(snmp::OPER_STATUS),
        n = snmp::IF_NAME
    );
    check_rule_total(
        r,
        K::PortUnique,
        &format!(
            "({z} + on({I}, {n}) group_left() (({names_n}) <= bool 1)) or ({z} + 1)",
            z = zero(K::PortUnique, ""),
            n = snmp::IF_NAME
        ),
    );
    let vl = snmp::VLAN_LABEL;
    check_rule(
        r,
        K::VlanOnPort,
        &join(
            K::VlanOnPort,
            "",
            &format!("{I}, {ifn}, {vl}"),
            &format!(
                "clamp_max(count by ({I}, {ifn}, {vl}) ({}), 1)",
                x.port(snmp::VLAN_PORT)
            ),
        ),
    );
    // FDB: the host's MAC (from the flow, or the host's node_network_info) learned on
    // the port (and VLAN, when known).
    let (mac, fv) = (snmp::FDB_MAC, snmp::FDB_VLAN);
    let info_mac = format!(
        "label_replace(label_replace(max by ({I}, {dev}, address) ({}), \"host_instance\", \"$1\", \"{I}\", \"(.*)\"), \"host_device\", \"$1\", \"{dev}\", \"(.*)\")",
        x.norm("node_network_info")
    );
    let expected = format!(
        "({} or label_replace({} * on(host_instance, host_device) group_left(address) {info_mac}, \"{mac}\", \"$1\", \"address\", \"(.*)\"))",
        zero(K::FdbLearned, &format!(",{mac}!=\"\"")),
        zero(K::FdbLearned, ",host_instance!=\"\""),
    );
    let fdb = |by: &str| {
        format!(
            "clamp_max(count by ({by}) ({}), 1)",
            x.port(snmp::FDB_ENTRY)
        )
    };
    // Rows with a VLAN match entries of that VLAN; rows without one (an empty label is
    // no label) match the entries counted without their VLAN: one join, one read of
    // the rows and of node_network_info.
    let with_vlan = format!("{I}, {ifn}, {fv}, {mac}");
    let without_vlan = format!("{I}, {ifn}, {mac}");
    check_rule(
        r,
        K::FdbLearned,
        &format!(
            "{expected} + on({with_vlan}) group_left() ({} or {})",
            fdb(&with_vlan),
            fdb(&without_vlan),
        ),
    );
    // MTU: hosts equal to the first host's and not far below the path's smallest switch
    // port; switch ports not below the hosts'.
    r.record(
        HOST_MTU,
        &format!(
            "max by (flow, hop, first) ({})",
            join(
                K::Mtu,
                &format!(",{dev}!=\"\""),
                &format!("{I}, {dev}"),
                NODE_MTU
            )
        ),
        &[],
    );
    r.record(
        PORT_MTU,
        &format!(
            "max by (flow, hop, subject) ({})",
            join(
                K::Mtu,
                &format!(",{ifn}!=\"\""),
                &format!("{I}, {ifn}"),
                SNMP_MTU
            )
        ),
        &[],
    );
    let mine = format!(
        "({} + on(flow, hop) group_left() {HOST_MTU})",
        zero(K::Mtu, &format!(",{dev}!=\"\""))
    );
    let slack = super::checks::JUMBO_SLACK;
    let host_ok = format!(
        "({mine} == bool on(flow) group_left() max by (flow) ({HOST_MTU}{{first=\"1\"}})) * (({mine} + {slack} >= bool on(flow) group_left() min by (flow) ({PORT_MTU})) or ({mine} >= bool 0))"
    );
    let port_ok = format!(
        "({} + on(flow, hop, subject) group_left() {PORT_MTU}) >= bool on(flow) group_left() max by (flow) ({HOST_MTU})",
        zero(K::Mtu, &format!(",{ifn}!=\"\""))
    );
    check_rule(r, K::Mtu, &format!("({host_ok}) or ({port_ok})"));
    // Speed: a port equals the host NIC or switch port at the other end of its cable.
    let other = |rec: &str, label: &str, other_label: &str| {
        format!(
            "label_replace(label_replace({rec}, \"other_instance\", \"$1\", \"{I}\", \"(.*)\"), \"{other_label}\", \"$1\", \"{label}\", \"(.*)\")"
        )
    };
    let mine = format!(
        "({} + on({I}, {ifn}) group_left() {SNMP_SPEED})",
        zero(K::Speed, "")
    );
    let theirs = format!(
        "({} + on(other_instance, other_device) group_left() {}) or ({} + on(other_instance, other_port) group_left() {})",
        zero(K::Speed, ",other_device!=\"\""),
        other(NODE_SPEED, dev, "other_device"),
        zero(K::Speed, ",other_port!=\"\""),
        other(SNMP_SPEED, ifn, "other_port"),
    );
    check_rule(r, K::Speed, &format!("{mine} == bool ({theirs})"));
    // Errors + discards per second on the flow's interfaces and ports.
    check_rule(
        r,
        K::Errors,
        &format!(
            "(({}) or ({})) <= bool {}",
            join(
                K::Errors,
                &format!(",{dev}!=\"\""),
                &format!("{I}, {dev}"),
                NODE_ERRORS
            ),
            join(
                K::Errors,
                &format!(",{ifn}!=\"\""),
                &format!("{I}, {ifn}"),
                SNMP_ERRORS
            ),
            limit("errors_per_second")
        ),
    );
    // LLDP: a matching neighbour → 1; neighbours heard, none matching → 0; none → 1.
    let matched = format!(
        "clamp_max(count by (flow, hop, subject) ({LLDP_EXPECTED} * on({I}, {LLDP_IF_KEY}, {LLDP_ID_KEY}) group_left() {LLDP_NEIGHBOR}), 1)"
    );
    let heard = format!("count by ({I}, {LLDP_IF_KEY}) ({LLDP_NEIGHBOR})");
    check_rule_total(
        r,
        K::LldpLink,
        &format!(
            "({z} + on(flow, hop, subject) group_left() {matched}) or ({z} + on({I}, {LLDP_IF_KEY}) group_left() (0 * {heard})) or ({z} + 1)",
            z = zero(K::LldpLink, "")
        ),
    );
}

/// Counting points, links and the loss checks that compare consecutive points.
fn path_records(r: &mut Rules) {
    use names::node;
    let dev = node::DEVICE;
    let ifn = PORT_KEY;
    let at = |info: &str, m: &str, on: &str, rec: &str| {
        format!("((0 * {info}{{{m}}}) + on({I}, {on}) group_left() {rec})")
    };
    r.record(
        POINT_RECORD,
        &format!(
            "max by (flow, direction, index, hop, point) ({} or {} or {} or {})",
            at(
                POINT_INFO,
                &format!("rxtx=\"rx\",{dev}!=\"\""),
                dev,
                NODE_RX_PPS
            ),
            at(
                POINT_INFO,
                &format!("rxtx=\"tx\",{dev}!=\"\""),
                dev,
                NODE_TX_PPS
            ),
            at(
                POINT_INFO,
                &format!("rxtx=\"rx\",{ifn}!=\"\""),
                ifn,
                SNMP_RX_PPS
            ),
            at(
                POINT_INFO,
                &format!("rxtx=\"tx\",{ifn}!=\"\""),
                ifn,
                SNMP_TX_PPS
            ),
        ),
        &[],
    );
    let link = "flow, direction, index, link, source, target";
    r.record(
        LINK_BPS_RECORD,
        &format!(
            "max by ({link}) ({} or {})",
            at(LINK_INFO, &format!("{dev}!=\"\""), dev, NODE_TX_BPS),
            at(LINK_INFO, &format!("{ifn}!=\"\""), ifn, SNMP_TX_BPS),
        ),
        &[],
    );
    r.record(
        LINK_UTIL_RECORD,
        &format!(
            "max by ({link}) ({} or {})",
            at(
                LINK_INFO,
                &format!("{dev}!=\"\""),
                dev,
                &format!("({NODE_TX_BPS} / {NODE_SPEED})")
            ),
            at(
                LINK_INFO,
                &format!("{ifn}!=\"\""),
                ifn,
                &format!("({SNMP_TX_BPS} / {SNMP_SPEED})")
            ),
        ),
        &[],
    );
    // Loss between consecutive points (dedicated ports only: only such flows have
    // these rows). Healthy when the deficit is within the tolerance, or when too little
    // traffic passes to judge; no data is unhealthy.
    let k = CheckKind::LossSegment;
    let pps = |end: &str| {
        format!(
            "({} + on(flow, direction, {end}) group_left() label_replace({POINT_RECORD}, \"{end}\", \"$1\", \"index\", \"(.*)\"))",
            zero(k, "")
        )
    };
    // The rate into the segment is read three times: recorded once per row.
    r.record(
        SEGMENT_IN_PPS,
        &format!("max by (flow, hop, subject) ({})", pps("a")),
        &[],
    );
    let ra = format!(
        "({} + on(flow, hop, subject) group_left() {SEGMENT_IN_PPS})",
        zero(k, "")
    );
    let rb = pps("b");
    let lim = |name: &str| format!("on(flow) group_left() {LIMIT}{{limit=\"{name}\"}}");
    check_rule(
        r,
        k,
        &format!(
            "clamp_max((({ra} - {rb}) <= bool ({ra} * {})) + ({ra} < bool {}), 1)",
            lim("loss_tolerance"),
            lim("loss_min_pps")
        ),
    );
}

/// Per-flow records over all flows. Only [`FAILING`] reads every check (once, with a
/// filter that copies nothing); the status, cause and alert read the failing ones, so a
/// healthy network costs one pass over the checks, not one per record.
fn flow_records(r: &mut Rules) {
    r.record(
        FAILING,
        &format!("{CHECK_INFO} and on(flow, hop, check, subject) ({CHECK_RECORD} == 0)"),
        &[],
    );
    // Worst failing check per hop / flow: 2 critical, 1 warning, 0 (the hop's row) none.
    // Each reads the failing checks directly (not the record before it), so a backend
    // that sees a rule's result only in its next cycle (vmalert) lags by one cycle.
    let worst = |by: &str| {
        format!(
            "max by ({by}) (0 * {FAILING}{{severity=\"critical\"}} + 2 or 0 * {FAILING}{{severity=\"warning\"}} + 1 or 0 * {HOP_INFO})"
        )
    };
    r.record(HOP_STATUS_RECORD, &worst("flow, hop"), &[]);
    r.record(STATUS_RECORD, &worst("flow"), &[]);
    r.record(
        FLOW_RECORD,
        &format!("min by (flow) (0 * {FAILING} or 0 * {HOP_INFO} + 1)"),
        &[],
    );
    r.record(
        CAUSE_RECORD,
        &format!("topk by (flow) (1, max by ({ROW}, cause) ({FAILING})) > 0"),
        &[],
    );
}

/// Go template: the topology row of the alerting check, `body` run with it as `.`. An
/// empty label is absent in `$labels` (vmalert gives nil, which `%q` would print as
/// `%!q(<nil>)`): `or … ""` makes it "".
fn with_row(body: &str) -> String {
    format!(
        "{{{{ with printf \"{CHECK_INFO}{{flow=%q,hop=%q,check=%q,subject=%q}}\" (or $labels.flow \"\") (or $labels.hop \"\") (or $labels.check \"\") (or $labels.subject \"\") | query }}}}{{{{ with first . }}}}{body}{{{{ end }}}}{{{{ end }}}}"
    )
}

/// `for` of the warnings' alert: one evaluation longer than the criticals', so that when
/// a critical cause and its warnings start failing together (a re-cabled host: LLDP and
/// FDB at once) the critical alert is in Alertmanager first and its inhibitions hold the
/// warnings back, rather than all of them firing in one evaluation.
fn warning_for(alert_for: &str, eval_interval: &str) -> String {
    match (
        rtmon::cli::parse_duration(alert_for),
        rtmon::cli::parse_duration(eval_interval),
    ) {
        (Ok(a), Ok(e)) => {
            let ms = (a + e).as_millis();
            if ms % 1000 == 0 {
                format!("{}s", ms / 1000)
            } else {
                format!("{ms}ms")
            }
        }
        _ => alert_for.to_string(),
    }
}

fn alert(r: &mut Rules, opts: &Options, alert_for: &str, eval_interval: &str) {
    let warn_for = warning_for(alert_for, eval_interval);
    for (severity, after) in [
        (Severity::Critical, alert_for),
        (Severity::Warning, warn_for.as_str()),
    ] {
        alert_rule(r, opts, severity.name(), after);
    }
}

fn alert_rule(r: &mut Rules, opts: &Options, severity: &str, alert_for: &str) {
    let grafana = opts.grafana_url.trim_end_matches('/');
    let id = "{{ $labels.hop }}/{{ $labels.check }}{{ if $labels.subject }}/{{ $labels.subject }}{{ end }}";
    let what = if severity == Severity::Critical.name() {
        "the flow cannot work"
    } else {
        "the flow works, badly"
    };
    let summary = format!(
        "Flow {{{{ $labels.flow }}}}: {}",
        with_row("{{ label \"cause\" . }}")
    );
    let description = format!(
        "Check {id} of flow {{{{ $labels.flow }}}} ({{{{ $labels.severity }}}} when it fails: {what}) has been failing for {alert_for}: {}. `rtmon-dashboards status` names the values.",
        with_row("{{ label \"cause\" . }}. Healthy means: {{ label \"healthy\" . }}")
    );
    let dash = format!(
        "{grafana}/d/{{{{ with printf \"{INFO_RECORD}{{flow=%q}}\" (or $labels.flow \"\") | query }}}}{{{{ with first . }}}}{{{{ label \"dashboard_uid\" . }}}}{{{{ end }}}}{{{{ end }}}}?from=now-3h&to=now"
    );
    r.0.push_str(&format!(
        "      - alert: {ALERT}\n        expr: {}\n        for: {alert_for}\n        labels:\n          severity: {}\n        annotations:\n          summary: {}\n          description: {}\n          runbook_url: {}\n          dashboard_url: {}\n",
        q(&format!(
            "max by ({ROW}) (0 * {FAILING}{{severity=\"{severity}\"}})"
        )),
        q(severity),
        q(&summary),
        q(&description),
        q(&format!("{}#{{{{ $labels.check }}}}", opts.runbook_url)),
        q(&dash),
    ));
}

fn flows_group(
    y: &mut String,
    flows: &[Flow],
    opts: &Options,
    eval_interval: &str,
    alert_for: &str,
) {
    y.push_str(&format!(
        "  - name: {FLOWS_GROUP}\n    interval: {eval_interval}\n    rules:\n"
    ));
    let mut r = Rules(String::new());
    let pinned = |label: &str| {
        flows.iter().flat_map(|f| f.switches()).any(|sw| {
            [&sw.in_port, &sw.out_port]
                .iter()
                .any(|p| p.pin.as_ref().is_some_and(|pin| pin.label() == label))
        })
    };
    let x = Expr {
        opts,
        pins: (pinned("ifIndex"), pinned("ifDescr")),
    };
    data_records(&mut r, &x);
    check_records(&mut r, &x);
    path_records(&mut r);
    flow_records(&mut r);
    alert(&mut r, opts, alert_for, eval_interval);
    y.push_str(&r.0);
}

/// `RtmonRulesLagging`: an rtmon rule group behind its schedule.
fn meta_group(y: &mut String, opts: &Options, eval_interval: &str) {
    let sel = format!(
        "{{rule_group=~{}}}",
        promql_str(&format!(".*;{}.*", regex_escape(GROUP_PREFIX)))
    );
    let expr = format!(
        "max by (rule_group) (time() - prometheus_rule_group_last_evaluation_timestamp_seconds{sel} > 2 * prometheus_rule_group_interval_seconds{sel}) or max by (rule_group) (prometheus_rule_group_last_duration_seconds{sel} > prometheus_rule_group_interval_seconds{sel}) or max by (rule_group) (increase(prometheus_rule_group_iterations_missed_total{sel}[5m]) > 0)"
    );
    y.push_str(&format!(
        "  - name: \"rtmon-meta\"\n    interval: {eval_interval}\n    rules:\n      - alert: {LAG_ALERT}\n        expr: {}\n        for: 1m\n        labels:\n          severity: \"critical\"\n        annotations:\n          summary: {}\n          description: {}\n          runbook_url: {}\n",
        q(&expr),
        q("rule group {{ $labels.rule_group }} falls behind: flow checks, causes and alerts are stale"),
        q("Prometheus cannot evaluate rtmon's rule group {{ $labels.rule_group }} in time (missed iterations, an evaluation longer than the interval, or no evaluation for two intervals). Until it catches up, rtmon:flow:* records and flow alerts describe the past; `rtmon-dashboards status` answers 'cannot evaluate'."),
        q(&format!("{}#rules_lagging", opts.runbook_url)),
    ));
}

/// Push mode: alerts on the Pushgateway's view of the host exporters' pushes, with the
/// job names the checks use (`rtmon_node|rtmon_arp|rtmon_ping` by default).
pub(crate) fn push_group(y: &mut String, opts: &Options, eval_interval: &str) {
    let jobs = [&opts.jobs.node, &opts.jobs.arp, &opts.jobs.ping]
        .iter()
        .map(|j| regex_escape(j))
        .collect::<Vec<_>>()
        .join("|");
    let jm = format!("job=~{}", promql_str(&jobs));
    y.push_str(&format!(
        "  - name: \"rtmon-push\"\n    interval: {eval_interval}\n    rules:\n"
    ));
    y.push_str(&format!(
        "      - alert: RtmonPushStale\n        expr: {}\n        for: 2m\n        labels:\n          severity: \"warning\"\n        annotations:\n          summary: \"{{{{ $labels.job }}}} on {{{{ $labels.{il} }}}} last pushed {{{{ $value | humanizeDuration }}}} ago\"\n          runbook_url: {}\n",
        q(&format!("time() - push_time_seconds{{{jm}}} > {}", opts.stale_after_seconds)),
        q(&format!("{}#exporter_up", opts.runbook_url)),
        il = opts.instance_label,
    ));
    // The exporter's own failure counter cannot be scraped in push mode; the
    // Pushgateway records the time of the last push it rejected.
    y.push_str(&format!(
        "      - alert: RtmonPushFailing\n        expr: {}\n        for: 5m\n        labels:\n          severity: \"warning\"\n        annotations:\n          summary: \"the Pushgateway rejects the pushes of {{{{ $labels.job }}}} on {{{{ $labels.{il} }}}}\"\n          runbook_url: {}\n",
        q(&format!(
            "push_failure_time_seconds{{{jm}}} > push_time_seconds{{{jm}}}"
        )),
        q(&format!("{}#exporter_up", opts.runbook_url)),
        il = opts.instance_label,
    ));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::checks::norm_instance;

    #[test]
    fn norm_instance_mirrors_the_rules_regex() {
        let re = label_replace_as_prometheus(NORM_INSTANCE_RE);
        for (raw, want) in [
            ("198.51.100.16:9100", "198.51.100.16"),
            ("198.51.100.16", "198.51.100.16"),
            ("dtn-a:9105", "dtn-a"),
            ("dtn-a", "dtn-a"),
            ("[2001:db8::1]:9100", "2001:db8::1"),
            ("[2001:db8::1]", "2001:db8::1"),
            ("2001:db8::1", "2001:db8::1"),
            ("host:notaport", "host:notaport"),
            ("[x]junk", "[x]junk"),
            ("", ""),
        ] {
            assert_eq!(norm_instance(raw), want, "{raw}");
            assert_eq!(re(raw), want, "regex on {raw}");
        }
    }

    /// `label_replace(…, "$1$2$3", …, re)` as Prometheus applies it: the regex anchored
    /// at both ends (Go's RE2 syntax, which the `regex` crate shares), unmatched groups
    /// empty, no match → the value unchanged.
    fn label_replace_as_prometheus(re: &str) -> impl Fn(&str) -> String {
        let anchored =
            regex::Regex::new(&format!("^(?:{re})$")).expect("the rules' regex compiles");
        move |s: &str| match anchored.captures(s) {
            Some(c) => {
                let mut out = String::new();
                for i in 1..=3 {
                    out.push_str(c.get(i).map_or("", |m| m.as_str()));
                }
                out
            }
            None => s.to_string(),
        }
    }

    #[test]
    fn rule_count_does_not_grow_with_flows() {
        let flow = |i: usize| {
            rtmon::flow::from_str(
                std::path::Path::new("f.yml"),
                &format!("flow: f{i}\npath:\n  - host: a{i}\n    interface: e0\n    ip: 10.0.0.1\n  - switch: s\n    target: 192.0.2.1\n    in: {{port: p1}}\n    out: {{port: p2}}\n  - host: b{i}\n    interface: e0\n    ip: 10.0.0.2\n"),
            )
            .expect("flow")
            .remove(0)
        };
        let count = |n: usize| {
            let flows: Vec<Flow> = (0..n).map(flow).collect();
            let y = render(&flows, &Options::default(), "30s", "2m");
            let (mut selecting, mut topo) = (0, 0);
            for line in y.lines() {
                if line.contains("expr: \"vector(") {
                    topo += 1;
                } else if line.trim_start().starts_with("expr:") {
                    selecting += 1;
                }
            }
            (selecting, topo)
        };
        let (s1, t1) = count(1);
        let (s50, t50) = count(50);
        assert_eq!(s1, s50, "rules that select series");
        assert_eq!(t50, 50 * t1, "topology rules are per flow");
        assert!(!render(&[], &Options::default(), "30s", "2m").contains("regex"));
    }
}
