//! One Grafana dashboard per flow: a header with the path, per-hop status tiles and the
//! path's capacity, the critical and warning checks as state timelines, the packet
//! rates at each point of the path in travel order, one row per hop in path order, and
//! an end-to-end row (ping loss and RTT from counters and histogram, ARP). Every panel
//! with queries has a minimum `interval`: its data's scrape interval.

use rtmon::flow::{Flow, Hop, HostHop, SwitchHop};
use serde_json::Value;

use crate::checks::{self, host_matcher, promql_str, switch_matcher, Check, Severity};
use crate::layout::Grid;
use crate::names::{arp, node, ping, snmp};
use crate::panels::{self, Query};
use crate::Options;

/// Grafana uid for a flow: `rtmon-<id>`, restricted to `[A-Za-z0-9_-]` and ≤ 40 chars
/// (a stable hash suffix keeps long ids unique).
pub fn uid(flow_id: &str) -> String {
    let clean: String = flow_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let full = format!("rtmon-{clean}");
    if full.len() <= 40 && clean == flow_id {
        return full;
    }
    // FNV-1a of the original id: stable across runs and platforms.
    let mut h: u64 = 0xcbf29ce484222325;
    for b in flow_id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100000001b3);
    }
    let suffix = format!("-{:08x}", h as u32);
    let keep = 40 - suffix.len();
    let mut base: String = full.chars().take(keep).collect();
    base.push_str(&suffix);
    base
}

struct Builder {
    grid: Grid,
    next_id: u32,
    panels: Vec<Value>,
    /// Minimum interval of the panels being added: the scrape interval of their data,
    /// so `$__rate_interval` spans several samples.
    interval: String,
}

impl Builder {
    fn push(&mut self, mut panel: Value) {
        if let Value::Object(m) = &mut panel {
            if m.contains_key("targets") {
                m.insert("interval".into(), Value::String(self.interval.clone()));
            }
        }
        self.panels.push(panel);
    }
    fn id(&mut self) -> u32 {
        self.next_id += 1;
        self.next_id
    }
    fn row(&mut self, title: &str) {
        let id = self.id();
        let pos = self.grid.row();
        self.panels.push(panels::row(id, title, pos));
    }
}

fn rate(metric: &str, sel: &str) -> String {
    format!("rate({metric}{{{sel}}}[$__rate_interval])")
}

fn host_title(h: &HostHop) -> String {
    let mut t = format!("Host {} — {}", h.name, h.interface);
    let mut extra = Vec::new();
    if let Some(ip) = h.ip {
        extra.push(ip.to_string());
    }
    if let Some(v) = h.vlan {
        extra.push(format!("VLAN {v}"));
    }
    if !extra.is_empty() {
        t.push_str(&format!(" ({})", extra.join(", ")));
    }
    t
}

fn switch_title(s: &SwitchHop) -> String {
    let vlan = |v: Option<u16>| v.map(|v| format!(" VLAN {v}")).unwrap_or_default();
    format!(
        "Switch {} ({}) — in {}{} → out {}{}",
        s.name,
        s.target,
        s.in_port.port,
        vlan(s.in_port.vlan),
        s.out_port.port,
        vlan(s.out_port.vlan)
    )
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|")
}

fn path_markdown(flow: &Flow) -> String {
    let mut md = format!(
        "**{}** — flow `{}`\n\n| # | hop | kind | where | interface / ports | VLAN |\n|---|---|---|---|---|---|\n",
        md_escape(&flow.title),
        md_escape(&flow.id)
    );
    for (i, hop) in flow.path.iter().enumerate() {
        let line = match hop {
            Hop::Host(h) => format!(
                "| {} | {} | host | {} | {}{} | {} |\n",
                i + 1,
                md_escape(&h.name),
                md_escape(&h.instance),
                md_escape(&h.interface),
                h.ip.map(|ip| format!(" ({ip})")).unwrap_or_default(),
                h.vlan.map(|v| v.to_string()).unwrap_or_else(|| "–".into())
            ),
            Hop::Switch(s) => format!(
                "| {} | {} | switch | {} | {} → {} | {} |\n",
                i + 1,
                md_escape(&s.name),
                md_escape(&s.target),
                md_escape(&s.in_port.port),
                md_escape(&s.out_port.port),
                match (s.in_port.vlan, s.out_port.vlan) {
                    (Some(a), Some(b)) if a != b => format!("{a} → {b}"),
                    (Some(a), _) | (None, Some(a)) => a.to_string(),
                    _ => "–".into(),
                }
            ),
        };
        md.push_str(&line);
    }
    md
}

/// Mermaid `graph LR` of the path; node ids sanitised for the diagram plugin.
pub fn mermaid_graph(flow: &Flow) -> String {
    let node_id = |s: &str| -> String {
        s.chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect()
    };
    let mut g = String::from("graph LR\n");
    let mut prev: Option<String> = None;
    for hop in &flow.path {
        let (id, label) = match hop {
            Hop::Host(h) => (node_id(&h.name), format!("{}<br/>{}", h.name, h.interface)),
            Hop::Switch(s) => (
                node_id(&s.name),
                format!("{}<br/>{} → {}", s.name, s.in_port.port, s.out_port.port),
            ),
        };
        g.push_str(&format!("  {id}[\"{}\"]\n", label.replace('"', "'")));
        if let Some(p) = prev {
            g.push_str(&format!("  {p} --- {id}\n"));
        }
        prev = Some(id);
    }
    g
}

/// Product of the hop's check expressions: 1 when all are healthy.
fn hop_health(checks: &[Check], hop: &str) -> String {
    let parts: Vec<String> = checks
        .iter()
        .filter(|c| c.hop == hop)
        .map(|c| format!("({})", c.expr))
        .collect();
    if parts.is_empty() {
        "vector(0)".into()
    } else {
        parts.join(" * ")
    }
}

/// Every PromQL expression of a dashboard, with the panel title (for `check` and the
/// promtool test).
pub fn exprs(dashboard: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(ps) = dashboard.get("panels").and_then(Value::as_array) {
        for p in ps {
            let title = p
                .get("title")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            if let Some(ts) = p.get("targets").and_then(Value::as_array) {
                for t in ts {
                    if let Some(e) = t.get("expr").and_then(Value::as_str) {
                        out.push((title.clone(), e.to_string()));
                    }
                }
            }
        }
    }
    out
}

/// Builds the dashboard of one flow.
pub fn build(flow: &Flow, opts: &Options) -> Value {
    let checks = checks::flow_checks(flow, opts);
    let secs = |d: &str| {
        rtmon::cli::parse_duration(d)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0)
    };
    let slowest = if secs(&opts.snmp_interval) >= secs(&opts.host_interval) {
        opts.snmp_interval.clone()
    } else {
        opts.host_interval.clone()
    };
    let mut b = Builder {
        grid: Grid::new(),
        next_id: 0,
        panels: Vec::new(),
        interval: slowest.clone(),
    };

    // Header: path, per-hop health tiles, optional Mermaid diagram.
    b.row("Path");
    let id = b.id();
    let w = if opts.mermaid { 12 } else { 24 };
    let pos = b.grid.place(w, 7);
    b.push(panels::text(id, "Flow path", &path_markdown(flow), pos));
    if opts.mermaid {
        let id = b.id();
        let pos = b.grid.place(12, 7);
        let queries: Vec<Query> = flow
            .path
            .iter()
            .map(|h| {
                let name = match h {
                    Hop::Host(h) => &h.name,
                    Hop::Switch(s) => &s.name,
                };
                let legend: String = name
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                    .collect();
                Query::range(hop_health(&checks, name), legend)
            })
            .collect();
        b.push(panels::mermaid(
            id,
            "Path diagram",
            &mermaid_graph(flow),
            &queries,
            pos,
        ));
    }
    b.grid.newline();
    let hop_names: Vec<&str> = flow
        .path
        .iter()
        .map(|h| match h {
            Hop::Host(h) => h.name.as_str(),
            Hop::Switch(s) => s.name.as_str(),
        })
        .collect();
    for (name, w) in hop_names.iter().zip(Grid::widths(hop_names.len())) {
        let id = b.id();
        let pos = b.grid.place(w, 4);
        b.push(panels::stat(
            id,
            name,
            &format!("All layer-2 checks of {name} (1 = all healthy)"),
            &[Query::range(hop_health(&checks, name), *name)],
            panels::up_down_mapping(),
            "none",
            pos,
        ));
    }

    let id = b.id();
    let pos = b.grid.place(24, 4);
    b.push(panels::value_stat(
        id,
        "Path capacity",
        &[Query::range(checks::capacity_expr(flow, opts), "capacity")],
        "bps",
        pos,
    ));

    // Checks over time: the ones that stop the flow, then the ones that slow it.
    b.row("Checks");
    for (sev, title, what) in [
        (
            Severity::Critical,
            "Critical checks",
            "A red critical check means the flow cannot work.",
        ),
        (
            Severity::Warning,
            "Warning checks",
            "A red warning check means the flow works, badly.",
        ),
    ] {
        let qs: Vec<Query> = checks
            .iter()
            .filter(|c| c.severity() == sev)
            .map(|c| Query::range(c.expr.clone(), c.description.clone()))
            .collect();
        if qs.is_empty() {
            continue;
        }
        let id = b.id();
        let h = (3 + qs.len() as u32).clamp(6, 20);
        let pos = b.grid.place(24, h);
        b.push(panels::state_timeline(
            id,
            title,
            &format!("{what} Each check is 1 (green) when healthy, 0 (red) when not or when its data is missing."),
            &qs,
            panels::up_down_mapping(),
            pos,
        ));
    }

    // Packets at each counting point, in travel order: a step down between two
    // consecutive points is where packets are lost.
    b.row("Packets along the path");
    for (dir, points) in checks::path_points(flow, opts) {
        let qs: Vec<Query> = points
            .iter()
            .enumerate()
            .map(|(i, p)| {
                Query::range(p.pps("$__rate_interval"), format!("{}. {}", i + 1, p.label))
            })
            .collect();
        let id = b.id();
        let pos = b.grid.place(12, 8);
        b.push(panels::timeseries(
            id,
            &format!("Packets along the path ({})", dir.name()),
            "Packets per second at each point of the path in travel order (host tx, switch port rx/tx, …, host rx). Switch ports count every VLAN they carry.",
            "pps",
            &qs,
            None,
            pos,
        ));
    }

    // One row per hop, in path order.
    for hop in &flow.path {
        match hop {
            Hop::Host(h) => {
                b.interval.clone_from(&opts.host_interval);
                host_row(&mut b, h, opts)
            }
            Hop::Switch(s) => {
                b.interval.clone_from(&opts.snmp_interval);
                switch_row(&mut b, s, opts)
            }
        }
    }
    b.interval.clone_from(&opts.host_interval);

    // End to end.
    b.row("End to end: ping and ARP");
    let hosts: Vec<&HostHop> = flow.hosts().collect();
    let mut rtt = Vec::new();
    let mut loss = Vec::new();
    let mut arp_sel = Vec::new();
    for h in &hosts {
        let hm = host_matcher(opts, &h.instance);
        arp_sel.push(hm.clone());
        for p in hosts.iter().filter(|p| p.name != h.name) {
            let Some(ip) = p.ip else { continue };
            let sel = format!("{hm},{}={}", ping::TARGET, promql_str(&ip.to_string()));
            rtt.push(Query::range(
                format!(
                    "sum(rate({rtt}_sum{{{sel}}}[$__rate_interval])) / sum(rate({rtt}_count{{{sel}}}[$__rate_interval]))",
                    rtt = ping::RTT
                ),
                format!("{} → {} mean", h.name, p.name),
            ));
            rtt.push(Query::range(
                format!("{}{{{sel}}}", ping::LAST_RTT),
                format!("{} → {} last", h.name, p.name),
            ));
            loss.push(Query::range(
                format!(
                    "1 - sum(increase({}{{{sel}}}[$__rate_interval])) / sum(increase({}{{{sel}}}[$__rate_interval]))",
                    ping::REPLIES,
                    ping::REQUESTS
                ),
                format!("{} → {}", h.name, p.name),
            ));
        }
    }
    if !rtt.is_empty() {
        let id = b.id();
        let pos = b.grid.place(12, 8);
        b.push(panels::timeseries(
            id,
            "Ping RTT",
            "Mean round-trip time per interval (from the RTT histogram) and of the last echo reply, per direction.",
            "s",
            &rtt,
            None,
            pos,
        ));
        let id = b.id();
        let pos = b.grid.place(12, 8);
        b.push(panels::timeseries(
            id,
            "Ping loss",
            "Share of echo requests without reply per interval, from the request and reply counters (every probe counts, whatever the scrape interval).",
            "percentunit",
            &loss,
            None,
            pos,
        ));
    }
    let id = b.id();
    let pos = b.grid.place(24, 8);
    let arp_q = arp_sel
        .iter()
        .map(|hm| format!("{}{{{hm}}}", arp::ENTRY))
        .collect::<Vec<_>>()
        .join(" or ");
    b.push(panels::table(
        id,
        "ARP / neighbour entries on the flow's hosts",
        "One line per neighbour entry (IP, MAC, device, state).",
        Query::instant(arp_q, ""),
        pos,
    ));

    let ds_current = match &opts.datasource_uid {
        Some(u) => crate::jv!({"selected": true, "text": u, "value": u}),
        None => crate::jv!({"selected": true, "text": "default", "value": "default"}),
    };
    crate::jv!({
        "annotations": {"list": [{
            "builtIn": 1,
            "datasource": {"type": "grafana", "uid": "-- Grafana --"},
            "enable": true,
            "hide": true,
            "iconColor": "rgba(0, 211, 255, 1)",
            "name": "Annotations & Alerts",
            "type": "dashboard",
        }]},
        "description": format!("rtmon flow {}: generated from {}; do not edit by hand.", flow.id,
            flow.file.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default()),
        "editable": true,
        "fiscalYearStartMonth": 0,
        "graphTooltip": 1,
        "id": null,
        "links": [],
        "panels": b.panels,
        "refresh": "30s",
        "schemaVersion": opts.schema_version,
        "tags": ["rtmon", "flow", format!("flow:{}", flow.id)],
        "templating": {"list": [{
            "current": ds_current,
            "hide": 0,
            "includeAll": false,
            "label": "Datasource",
            "multi": false,
            "name": "ds_prometheus",
            "options": [],
            "query": "prometheus",
            "refresh": 1,
            "regex": "",
            "skipUrlSync": false,
            "type": "datasource",
        }]},
        "time": {"from": "now-1h", "to": "now"},
        "timepicker": {"refresh_intervals": ["10s", "30s", "1m", "5m", "15m"]},
        "timezone": "browser",
        "title": format!("rtmon: {}", flow.title),
        "uid": uid(&flow.id),
        "version": 1,
        "weekStart": "",
    })
}

fn host_row(b: &mut Builder, h: &HostHop, opts: &Options) {
    b.row(&host_title(h));
    let sel = format!(
        "{},{}={}",
        host_matcher(opts, &h.instance),
        node::DEVICE,
        promql_str(&h.interface)
    );
    let q = |m: &str, legend: &str| Query::range(rate(m, &sel), legend);
    let id = b.id();
    let pos = b.grid.place(12, 8);
    b.push(panels::timeseries(
        id,
        "Throughput",
        "Bits per second on the data-plane interface; transmit drawn below zero.",
        "bps",
        &[
            Query::range(format!("{} * 8", rate(node::RX_BYTES, &sel)), "receive"),
            Query::range(format!("{} * 8", rate(node::TX_BYTES, &sel)), "transmit"),
        ],
        Some("/transmit/"),
        pos,
    ));
    let id = b.id();
    let pos = b.grid.place(12, 8);
    b.push(panels::timeseries(
        id,
        "Packets",
        "Packets per second on the data-plane interface.",
        "pps",
        &[
            q(node::RX_PACKETS, "receive"),
            q(node::TX_PACKETS, "transmit"),
        ],
        Some("/transmit/"),
        pos,
    ));
    let id = b.id();
    let pos = b.grid.place(12, 8);
    b.push(panels::timeseries(
        id,
        "Errors and drops",
        "Packets per second (not bits) with errors or dropped.",
        "pps",
        &[
            q(node::RX_ERRS, "receive errors"),
            q(node::RX_DROP, "receive drops"),
            q(node::TX_ERRS, "transmit errors"),
            q(node::TX_DROP, "transmit drops"),
        ],
        Some("/transmit/"),
        pos,
    ));
    let id = b.id();
    let pos = b.grid.place(12, 8);
    let hm = host_matcher(opts, &h.instance);
    b.push(panels::timeseries(
        id,
        "TCP retransmits",
        "TCP segments retransmitted per second by the host (all interfaces).",
        "short",
        &[Query::range(
            format!("rate({}{{{hm}}}[$__rate_interval])", node::TCP_RETRANS),
            "retransmitted segments/s",
        )],
        None,
        pos,
    ));
    let [w1, w2, w3] = [8, 8, 8];
    let id = b.id();
    let pos = b.grid.place(w1, 4);
    b.push(panels::stat(
        id,
        "Interface status",
        "node_network_up: operational state of the interface.",
        &[Query::range(
            format!("{}{{{sel}}}", node::UP),
            h.interface.clone(),
        )],
        panels::up_down_mapping(),
        "none",
        pos,
    ));
    let id = b.id();
    let pos = b.grid.place(w2, 4);
    b.push(panels::value_stat(
        id,
        "MTU",
        &[Query::range(format!("{}{{{sel}}}", node::MTU), "MTU")],
        "bytes",
        pos,
    ));
    let id = b.id();
    let pos = b.grid.place(w3, 4);
    b.push(panels::value_stat(
        id,
        "Link speed",
        &[Query::range(
            format!("{}{{{sel}}} * 8", node::SPEED),
            "speed",
        )],
        "bps",
        pos,
    ));
}

fn switch_row(b: &mut Builder, s: &SwitchHop, opts: &Options) {
    b.row(&switch_title(s));
    let sm = switch_matcher(opts, &s.target);
    let mut ports = vec![&s.in_port.port];
    if s.out_port.port != s.in_port.port {
        ports.push(&s.out_port.port);
    }
    let port_sel = |p: &str| format!("{sm},{}={}", snmp::IF_NAME, promql_str(p));
    let per_port = |metric_in: &str, metric_out: &str, mul: &str| -> Vec<Query> {
        let mut v = Vec::new();
        for p in &ports {
            let sel = port_sel(p);
            v.push(Query::range(
                format!("{}{mul}", rate(metric_in, &sel)),
                format!("{p} in"),
            ));
            v.push(Query::range(
                format!("{}{mul}", rate(metric_out, &sel)),
                format!("{p} out"),
            ));
        }
        v
    };
    let id = b.id();
    let pos = b.grid.place(12, 8);
    b.push(panels::timeseries(
        id,
        "Throughput",
        "Bits per second per port (ifHCIn/OutOctets × 8); out drawn below zero.",
        "bps",
        &per_port(snmp::IN_OCTETS, snmp::OUT_OCTETS, " * 8"),
        Some("/ out$/"),
        pos,
    ));
    let mut pkts = Vec::new();
    for p in &ports {
        let sel = port_sel(p);
        pkts.push(Query::range(
            format!(
                "{} + {} + {}",
                rate(snmp::IN_UCAST, &sel),
                rate(snmp::IN_MCAST, &sel),
                rate(snmp::IN_BCAST, &sel)
            ),
            format!("{p} in"),
        ));
        pkts.push(Query::range(
            format!(
                "{} + {} + {}",
                rate(snmp::OUT_UCAST, &sel),
                rate(snmp::OUT_MCAST, &sel),
                rate(snmp::OUT_BCAST, &sel)
            ),
            format!("{p} out"),
        ));
    }
    let id = b.id();
    let pos = b.grid.place(12, 8);
    b.push(panels::timeseries(
        id,
        "Packets",
        "Unicast + multicast + broadcast packets per second per port.",
        "pps",
        &pkts,
        Some("/ out$/"),
        pos,
    ));
    let mut errs = Vec::new();
    for p in &ports {
        let sel = port_sel(p);
        for (m, what) in [
            (snmp::IN_ERRORS, "in errors"),
            (snmp::IN_DISCARDS, "in discards"),
            (snmp::OUT_ERRORS, "out errors"),
            (snmp::OUT_DISCARDS, "out discards"),
        ] {
            errs.push(Query::range(rate(m, &sel), format!("{p} {what}")));
        }
    }
    let id = b.id();
    let pos = b.grid.place(12, 8);
    b.push(panels::timeseries(
        id,
        "Errors and discards",
        "Packets per second (not bits) with errors or discarded, per port.",
        "pps",
        &errs,
        Some("/ out (errors|discards)$/"),
        pos,
    ));
    let id = b.id();
    let pos = b.grid.place(12, 8);
    let oper: Vec<Query> = ports
        .iter()
        .map(|p| {
            Query::range(
                format!("{}{{{}}}", snmp::OPER_STATUS, port_sel(p)),
                (*p).clone(),
            )
        })
        .collect();
    b.push(panels::state_timeline(
        id,
        "Port oper status",
        "ifOperStatus per port (1 up, 2 down, 7 lowerLayerDown, …).",
        &oper,
        panels::oper_status_mapping(),
        pos,
    ));
    for p in &ports {
        let id = b.id();
        let pos = b.grid.place(6, 4);
        b.push(panels::value_stat(
            id,
            &format!("{p} MTU"),
            &[Query::range(
                format!("{}{{{}}}", snmp::MTU, port_sel(p)),
                "MTU",
            )],
            "bytes",
            pos,
        ));
        let id = b.id();
        let pos = b.grid.place(6, 4);
        b.push(panels::value_stat(
            id,
            &format!("{p} speed"),
            &[Query::range(
                format!("{}{{{}}} * 1000000", snmp::HIGH_SPEED, port_sel(p)),
                "speed",
            )],
            "bps",
            pos,
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_is_deterministic_and_valid() {
        assert_eq!(uid("dtn-a-dtn-b-1000"), "rtmon-dtn-a-dtn-b-1000");
        let long = "x".repeat(60);
        let u = uid(&long);
        assert_eq!(u.len(), 40);
        assert_eq!(u, uid(&long));
        assert_ne!(uid("a.b"), uid("a_b"));
        assert!(uid("a.b")
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    }
}
