//! One Grafana dashboard per flow, read top-down: the answer first (the path as a node
//! graph coloured by the checks, the flow's status with the failing checks, the
//! end-to-end numbers, one tile per hop), then throughput, loss and utilisation along
//! the path, the checks over time, one row per hop in path order, and the end-to-end
//! details (ping, TCP retransmits, ARP). Annotations mark port and interface changes,
//! ARP/ND changes and check failures/recoveries; links lead to the fleet view and to
//! each host's dashboard. Every panel with queries has a minimum `interval`: its data's
//! scrape interval.

use rtmon::flow::{Flow, Hop, HostHop, SwitchHop};
use serde_json::Value;

use crate::engine::checks::{self, host_matcher, promql_str, switch_matcher, Check, Severity};
use crate::engine::rules::{
    CHECK_RECORD, HOP_STATUS_RECORD, LINK_BPS_RECORD, LINK_UTIL_RECORD, POINT_RECORD, STATUS_RECORD,
};
use crate::grafana::layout::{Grid, GridPos};
use crate::grafana::panels::{self, Query};
use crate::names::{arp, node, ping, snmp, FLEET_UID, HOST_DASHBOARD_UID, MTU_UNIT};
use crate::Options;

/// Grafana uid for a flow: `rtmon-<id>`, restricted to `[A-Za-z0-9_-]` and ≤ 40 chars
/// (a stable hash suffix keeps long ids unique).
pub fn uid(flow_id: &str) -> String {
    crate::engine::dashboard_uid(flow_id)
}

/// Collects the panels of a dashboard: ids, grid positions and minimum intervals.
struct Builder {
    grid: Grid,
    next_id: u32,
    panels: Vec<Value>,
    /// Minimum interval of the panels being added: the scrape interval of their data,
    /// so `$__rate_interval` spans several samples.
    interval: String,
}

impl Builder {
    fn new(interval: &str) -> Builder {
        Builder {
            grid: Grid::new(),
            next_id: 0,
            panels: Vec::new(),
            interval: interval.to_string(),
        }
    }

    /// Adds a panel `w` columns wide and `h` units high at the next free place of the
    /// grid; `panel` builds it from its id and position. Panels with queries get the
    /// current minimum interval.
    fn add(&mut self, w: u32, h: u32, panel: impl FnOnce(u32, GridPos) -> Value) {
        self.next_id += 1;
        let id = self.next_id;
        let pos = self.grid.place(w, h);
        let mut panel = panel(id, pos);
        if let Value::Object(m) = &mut panel {
            if m.contains_key("targets") {
                m.insert("interval".into(), Value::String(self.interval.clone()));
            }
        }
        self.panels.push(panel);
    }

    /// Starts a full-width row.
    fn row(&mut self, title: &str) {
        self.next_id += 1;
        let pos = self.grid.row();
        self.panels.push(panels::row(self.next_id, title, pos));
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

/// Every PromQL expression of a dashboard's panels, with the panel title (for `check`
/// and the promtool test).
pub fn exprs(dashboard: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for p in dashboard
        .get("panels")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let title = p.get("title").and_then(Value::as_str).unwrap_or("");
        for t in p
            .get("targets")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(e) = t.get("expr").and_then(Value::as_str) {
                out.push((title.to_string(), e.to_string()));
            }
        }
    }
    out
}

/// Every PromQL expression of a dashboard's annotations, with the annotation's name.
pub fn annotation_exprs(dashboard: &Value) -> Vec<(String, String)> {
    dashboard
        .pointer("/annotations/list")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|a| {
            let e = a.get("expr").and_then(Value::as_str)?;
            let name = a.get("name").and_then(Value::as_str).unwrap_or("");
            Some((name.to_string(), e.to_string()))
        })
        .collect()
}

/// Seconds of a Prometheus duration (0 when unparsable: options are validated earlier).
fn secs(d: &str) -> u64 {
    rtmon::cli::parse_duration(d)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Builds the dashboard of one flow, top-down: the answer (path diagram, status and
/// cause, end-to-end numbers, hop tiles), throughput/loss/utilisation along the path,
/// the checks over time, one row per hop, and the end-to-end details.
pub fn build(flow: &Flow, opts: &Options) -> Value {
    let slowest = if secs(&opts.snmp_interval) >= secs(&opts.host_interval) {
        &opts.snmp_interval
    } else {
        &opts.host_interval
    };
    let mut b = Builder::new(&opts.host_interval);
    at_a_glance(&mut b, flow, opts);
    b.interval.clone_from(slowest);
    along_the_path(&mut b, flow, opts);
    b.interval.clone_from(&opts.host_interval);
    checks_over_time(&mut b, flow, &checks::flow_checks(flow, opts));
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
    end_to_end(&mut b, flow, opts);
    envelope(flow, opts, b.panels)
}

/// The dashboard around its panels: annotations, links, variables, time.
fn envelope(flow: &Flow, opts: &Options, panels: Vec<Value>) -> Value {
    crate::jv!({
        "annotations": {"list": annotations(flow, opts)},
        "description": format!("rtmon flow {}: generated from {}; do not edit by hand.", flow.id,
            flow.file.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default()),
        "editable": true,
        "fiscalYearStartMonth": 0,
        "graphTooltip": 1,
        "id": null,
        "links": links(flow),
        "panels": panels,
        "refresh": "30s",
        "schemaVersion": opts.schema_version,
        "tags": ["rtmon", "flow", format!("flow:{}", flow.id)],
        "templating": {"list": [datasource_variable(opts)]},
        "time": {"from": "now-1h", "to": "now"},
        "timepicker": {"refresh_intervals": ["10s", "30s", "1m", "5m", "15m"]},
        "timezone": "browser",
        "title": format!("rtmon: {}", flow.title),
        "uid": uid(&flow.id),
        "version": 1,
        "weekStart": "",
    })
}

/// A Prometheus annotation (Grafana marks every sample above 0; samples of 0 mark
/// nothing, so the queries return data whenever their metrics exist).
fn annotation(
    name: &str,
    color: &str,
    expr: String,
    step: &str,
    title: &str,
    text: &str,
    tags: &str,
) -> Value {
    crate::jv!({
        "datasource": panels::ds(),
        "enable": true,
        "expr": expr,
        "hide": false,
        "iconColor": color,
        "name": name,
        "step": step,
        "tagKeys": tags,
        "textFormat": text,
        "titleFormat": title,
        "useValueForTime": false,
    })
}

/// Built-in annotations plus, each toggleable: switch port oper-status changes, host
/// interface flaps, ARP/ND changes, check failures and recoveries.
fn annotations(flow: &Flow, opts: &Options) -> Vec<Value> {
    let il = &opts.instance_label;
    let host_w = format!("{}s", 2 * secs(&opts.host_interval).max(1));
    let snmp_w = format!("{}s", 2 * secs(&opts.snmp_interval).max(1));
    let mut out = vec![crate::jv!({
        "builtIn": 1,
        "datasource": {"type": "grafana", "uid": "-- Grafana --"},
        "enable": true,
        "hide": true,
        "iconColor": "rgba(0, 211, 255, 1)",
        "name": "Annotations & Alerts",
        "type": "dashboard",
    })];
    let ports: Vec<String> = flow
        .switches()
        .flat_map(|s| {
            let sm = switch_matcher(opts, &s.target);
            let snmp_w = &snmp_w;
            switch_ports(s).into_iter().map(move |p| {
                format!(
                    "changes({}{{{sm},{}={}}}[{snmp_w}])",
                    snmp::OPER_STATUS,
                    snmp::IF_NAME,
                    promql_str(p)
                )
            })
        })
        .collect();
    if !ports.is_empty() {
        out.push(annotation(
            "Switch port status changes",
            "orange",
            ports.join(" or "),
            &opts.snmp_interval,
            "{{ifName}}: oper status changed",
            &format!("switch {{{{{il}}}}}"),
            &format!("{il},ifName"),
        ));
    }
    let hosts: Vec<&HostHop> = flow.hosts().collect();
    let flaps: Vec<String> = hosts
        .iter()
        .map(|h| {
            format!(
                "changes({}{{{},{}={}}}[{host_w}])",
                node::UP,
                host_matcher(opts, &h.instance),
                node::DEVICE,
                promql_str(&h.interface)
            )
        })
        .collect();
    out.push(annotation(
        "Host interface flaps",
        "red",
        flaps.join(" or "),
        &opts.host_interval,
        "{{device}} went down or up",
        &format!("host {{{{{il}}}}}"),
        &format!("{il},device"),
    ));
    let arp_changes: Vec<String> = hosts
        .iter()
        .map(|h| {
            format!(
                "increase({}{{{}}}[{host_w}])",
                arp::CHANGES,
                host_matcher(opts, &h.instance)
            )
        })
        .collect();
    out.push(annotation(
        "ARP/ND changes",
        "yellow",
        format!("sum by ({il}, kind) ({})", arp_changes.join(" or ")),
        &opts.host_interval,
        "ARP/ND change: {{kind}}",
        &format!("neighbour table of {{{{{il}}}}}"),
        &format!("{il},kind"),
    ));
    let ok = format!("{CHECK_RECORD}{{flow={}}}", promql_str(&flow.id));
    let step = &opts.host_interval;
    out.push(annotation(
        "Check failures",
        "red",
        format!("{ok} offset {step} - {ok}"),
        step,
        "{{hop}} {{check}} {{subject}}: failing",
        "{{severity}} check of the flow started failing",
        "hop,check,severity",
    ));
    out.push(annotation(
        "Check recoveries",
        "green",
        format!("{ok} - {ok} offset {step}"),
        step,
        "{{hop}} {{check}} {{subject}}: healthy again",
        "{{severity}} check of the flow recovered",
        "hop,check,severity",
    ));
    out
}

/// Percent-encodes a URL query value (everything but unreserved characters).
fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn link(title: &str, tooltip: &str, url: String) -> Value {
    crate::jv!({
        "asDropdown": false,
        "icon": "dashboard",
        "includeVars": false,
        "keepTime": true,
        "tags": [],
        "targetBlank": false,
        "title": title,
        "tooltip": tooltip,
        "type": "link",
        "url": url,
    })
}

/// Links at the top: the fleet view, every rtmon flow, each host's host dashboard.
fn links(flow: &Flow) -> Vec<Value> {
    let mut out = vec![
        link(
            "Fleet overview",
            "Every flow's status on one page",
            format!("/d/{FLEET_UID}"),
        ),
        crate::jv!({
            "asDropdown": true,
            "icon": "external link",
            "includeVars": false,
            "keepTime": true,
            "tags": ["rtmon", "flow"],
            "targetBlank": false,
            "title": "rtmon flows",
            "tooltip": "",
            "type": "dashboards",
            "url": "",
        }),
    ];
    for h in flow.hosts() {
        out.push(link(
            &format!("Host {}", h.name),
            &format!("Node Exporter Full of {} ({})", h.name, h.instance),
            format!(
                "/d/{HOST_DASHBOARD_UID}?var-instance={}",
                url_encode(&h.instance)
            ),
        ));
    }
    out
}

fn switch_ports(s: &SwitchHop) -> Vec<&str> {
    let mut ports = vec![s.in_port.port.as_str()];
    if s.out_port.port != s.in_port.port {
        ports.push(&s.out_port.port);
    }
    ports
}

/// Mean RTT, last RTT and loss queries per direction between the flow's hosts.
struct Ping {
    mean: Vec<Query>,
    last: Vec<Query>,
    loss: Vec<Query>,
}

fn ping_queries(flow: &Flow, opts: &Options) -> Ping {
    let hosts: Vec<&HostHop> = flow.hosts().collect();
    let mut p = Ping {
        mean: Vec::new(),
        last: Vec::new(),
        loss: Vec::new(),
    };
    for h in &hosts {
        let hm = host_matcher(opts, &h.instance);
        for peer in hosts.iter().filter(|p| p.name != h.name) {
            let Some(ip) = peer.ip else { continue };
            let sel = format!("{hm},{}={}", ping::TARGET, promql_str(&ip.to_string()));
            let dir = format!("{} → {}", h.name, peer.name);
            p.mean.push(Query::range(
                format!(
                    "sum(rate({rtt}_sum{{{sel}}}[$__rate_interval])) / sum(rate({rtt}_count{{{sel}}}[$__rate_interval]))",
                    rtt = ping::RTT
                ),
                dir.clone(),
            ));
            p.last.push(Query::range(
                format!("{}{{{sel}}}", ping::LAST_RTT),
                format!("{dir} last"),
            ));
            p.loss.push(Query::range(
                format!(
                    "1 - sum(increase({}{{{sel}}}[$__rate_interval])) / sum(increase({}{{{sel}}}[$__rate_interval]))",
                    ping::REPLIES,
                    ping::REQUESTS
                ),
                dir,
            ));
        }
    }
    p
}

/// The answer first: the path diagram coloured by the checks, the flow's status and
/// the failing checks, the end-to-end numbers, one tile per hop, the path's details.
fn at_a_glance(b: &mut Builder, flow: &Flow, opts: &Options) {
    let f = promql_str(&flow.id);
    b.row("Flow at a glance");
    path_and_status(b, flow, &f);
    end_to_end_numbers(b, flow, opts, &f);
    b.grid.newline();
    hop_tiles(b, flow, opts, &f);
}

/// The path graph, the flow's status and its checks, failing first (`f`: the flow id
/// as a PromQL string).
fn path_and_status(b: &mut Builder, flow: &Flow, f: &str) {
    let status = format!("{HOP_STATUS_RECORD}{{flow={f}}}");
    let node = |v: u8, text: &str, color: &str| {
        format!("label_replace(label_replace({status} == {v}, \"mainstat\", \"{text}\", \"\", \"\"), \"color\", \"{color}\", \"\", \"\")")
    };
    let nodes = format!(
        "label_replace(label_replace({} or {} or {}, \"id\", \"$1\", \"hop\", \"(.*)\"), \"title\", \"$1\", \"hop\", \"(.*)\")",
        node(0, "healthy", "green"),
        node(1, "degraded", "orange"),
        node(2, "down", "red")
    );
    let edges = format!(
        "label_replace({LINK_BPS_RECORD}{{flow={f},direction=\"forward\"}}, \"id\", \"$1\", \"link\", \"(.*)\")"
    );
    b.add(12, 9, |id, pos| {
        panels::node_graph(
            id,
            "Path",
            "The hops in path order, coloured by their checks (green healthy, orange a warning check fails, red a critical one fails); the links carry the bits/s sent forward (rtmon:flow_link:bps). Utilisation: the Link utilisation panel.",
            &nodes,
            &edges,
            "bps",
            pos,
        )
    });
    b.add(4, 9, |id, pos| {
        panels::status_stat(
            id,
            "Flow status",
            "rtmon:flow:status: HEALTHY, DEGRADED (a warning check fails) or DOWN (a critical check fails). The cause: the failing checks beside it, critical first; `rtmon-dashboards status` names the values.",
            &[Query::range(format!("{STATUS_RECORD}{{flow={f}}}"), flow.id.clone())],
            pos,
        )
    });
    let ok = |sev: &str| format!("{CHECK_RECORD}{{flow={f},severity=\"{sev}\"}}");
    b.add(8, 9, |id, pos| {
        panels::checks_table(
            id,
            "Checks, failing first",
            "Every check of the flow (rtmon:flow_check:ok): failing critical checks first, then failing warnings, then the healthy ones. The first line is the likeliest cause.",
            Query::instant(
                format!(
                    "sort_desc(2 * (1 - {}) or (1 - {}))",
                    ok("critical"),
                    ok("warning")
                ),
                "",
            ),
            pos,
        )
    });
}

/// Ping RTT and loss, throughput per direction, capacity, effective MTU and the busiest
/// link's utilisation, as numbers.
fn end_to_end_numbers(b: &mut Builder, flow: &Flow, opts: &Options, f: &str) {
    let ping = ping_queries(flow, opts);
    if !ping.mean.is_empty() {
        b.add(4, 4, |id, pos| {
            panels::value_stat(id, "Ping RTT", &ping.mean, "s", pos)
        });
        b.add(4, 4, |id, pos| {
            panels::value_stat(id, "Ping loss", &ping.loss, "percentunit", pos)
        });
    }
    b.add(4, 4, |id, pos| {
        panels::value_stat(
            id,
            "Throughput",
            &[Query::range(
                format!("{LINK_BPS_RECORD}{{flow={f},index=\"01\"}}"),
                "{{direction}}",
            )],
            "bps",
            pos,
        )
    });
    b.add(4, 4, |id, pos| {
        panels::value_stat(
            id,
            "Path capacity",
            &[Query::range(checks::capacity_expr(flow, opts), "capacity")],
            "bps",
            pos,
        )
    });
    b.add(4, 4, |id, pos| {
        panels::value_stat(
            id,
            "Effective MTU",
            &[Query::range(checks::effective_mtu_expr(flow, opts), "MTU")],
            MTU_UNIT,
            pos,
        )
    });
    b.add(4, 4, |id, pos| {
        panels::value_stat(
            id,
            "Busiest link",
            &[Query::range(
                format!("max({LINK_UTIL_RECORD}{{flow={f}}})"),
                "utilisation",
            )],
            "percentunit",
            pos,
        )
    });
}

/// One status tile per hop, then the path as a table (and the opt-in Mermaid diagram).
fn hop_tiles(b: &mut Builder, flow: &Flow, opts: &Options, f: &str) {
    let names: Vec<&str> = flow.path.iter().map(Hop::name).collect();
    for (name, w) in names.iter().zip(Grid::widths(names.len())) {
        b.add(w, 3, |id, pos| {
            panels::status_stat(
                id,
                name,
                &format!("rtmon:flow_hop:status of {name}: its worst failing check (DEGRADED: a warning check, DOWN: a critical one)."),
                &[Query::range(
                    format!("{HOP_STATUS_RECORD}{{flow={f},hop={}}}", promql_str(name)),
                    *name,
                )],
                pos,
            )
        });
    }
    b.grid.newline();
    let w = if opts.mermaid { 12 } else { 24 };
    b.add(w, 7, |id, pos| {
        panels::text(id, "Flow path", &path_markdown(flow), pos)
    });
    if opts.mermaid {
        let queries: Vec<Query> = names
            .iter()
            .map(|name| {
                let legend: String = name
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                    .collect();
                Query::range(
                    format!("{HOP_STATUS_RECORD}{{flow={f},hop={}}}", promql_str(name)),
                    legend,
                )
            })
            .collect();
        b.add(12, 7, |id, pos| {
            panels::mermaid(id, "Path diagram", &mermaid_graph(flow), &queries, pos)
        });
    }
}

/// Throughput at every point in travel order (one panel per direction), the loss of
/// each segment and each link's utilisation.
fn along_the_path(b: &mut Builder, flow: &Flow, opts: &Options) {
    let f = promql_str(&flow.id);
    b.row("Along the path: throughput, loss, utilisation");
    let mut loss = Vec::new();
    for (dir, points) in checks::path_points(flow, opts) {
        let qs: Vec<Query> = points
            .iter()
            .enumerate()
            .map(|(i, p)| {
                Query::range(p.bps("$__rate_interval"), format!("{}. {}", i + 1, p.label))
            })
            .collect();
        b.add(12, 9, |id, pos| {
            panels::timeseries(
                id,
                &format!("Throughput along the path ({})", dir.name()),
                "Bits per second at each point of the path in travel order (host tx, switch port rx/tx, …, host rx), all drawn above zero: a step down between two consecutive points is where traffic is lost. Switch ports count every VLAN they carry.",
                "bps",
                &qs,
                None,
                pos,
            )
        });
        let point = |i: usize| {
            format!(
                "{POINT_RECORD}{{flow={f},direction=\"{}\",index=\"{:02}\"}}",
                dir.name(),
                i + 1
            )
        };
        for (i, pair) in points.windows(2).enumerate() {
            loss.push(Query::range(
                format!(
                    "1 - {} / ignoring(index, hop, point) {}",
                    point(i + 1),
                    point(i)
                ),
                format!("{}: {} → {}", dir.name(), pair[0].place, pair[1].place),
            ));
        }
    }
    b.add(12, 9, |id, pos| {
        panels::timeseries(
            id,
            "Loss per segment",
            "Share of the packets counted at one point of the path that the next point does not count (from the rtmon:flow_point:pps rules, over the check window). Below zero: the next point counts more (other traffic on a shared port).",
            "percentunit",
            &loss,
            None,
            pos,
        )
    });
    b.add(12, 9, |id, pos| {
        panels::timeseries(
            id,
            "Link utilisation",
            "Bits/s sent onto each link of the path as a share of the sending end's speed (rtmon:flow_link:utilisation, over the check window).",
            "percentunit",
            &[Query::range(
                format!("{LINK_UTIL_RECORD}{{flow={f}}}"),
                "{{direction}}: {{link}}",
            )],
            None,
            pos,
        )
    });
}

/// The critical and warning checks as state timelines: one query per severity on
/// `rtmon:flow_check:ok`, one line per check.
fn checks_over_time(b: &mut Builder, flow: &Flow, checks: &[Check]) {
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
        let n = checks.iter().filter(|c| c.severity() == sev).count() as u32;
        if n == 0 {
            continue;
        }
        let q = Query::range(
            format!(
                "{CHECK_RECORD}{{flow={},severity=\"{}\"}}",
                promql_str(&flow.id),
                sev.name()
            ),
            "{{hop}} {{check}} {{subject}}",
        );
        b.add(24, (3 + n).clamp(6, 20), |id, pos| {
            panels::state_timeline(
                id,
                title,
                &format!("{what} Each check (rtmon:flow_check:ok) is 1 (green) when healthy, 0 (red) when not or when its data is missing."),
                std::slice::from_ref(&q),
                panels::up_down_mapping(),
                pos,
            )
        });
    }
}

/// Ping RTT and loss over time, the hosts' TCP retransmits, their neighbour tables.
fn end_to_end(b: &mut Builder, flow: &Flow, opts: &Options) {
    b.row("End to end: ping, TCP and ARP");
    let ping = ping_queries(flow, opts);
    if !ping.mean.is_empty() {
        let mut rtt = Vec::new();
        for (m, l) in ping.mean.iter().zip(&ping.last) {
            rtt.push(Query::range(m.expr.clone(), format!("{} mean", m.legend)));
            rtt.push(l.clone());
        }
        b.add(12, 8, |id, pos| {
            panels::timeseries(
                id,
                "Ping RTT",
                "Mean round-trip time per interval (from the RTT histogram) and of the last echo reply, per direction.",
                "s",
                &rtt,
                None,
                pos,
            )
        });
        b.add(12, 8, |id, pos| {
            panels::timeseries(
                id,
                "Ping loss",
                "Share of echo requests without reply per interval, from the request and reply counters (every probe counts, whatever the scrape interval).",
                "percentunit",
                &ping.loss,
                None,
                pos,
            )
        });
    }
    let hosts: Vec<&HostHop> = flow.hosts().collect();
    let retrans: Vec<Query> = hosts
        .iter()
        .map(|h| {
            Query::range(
                format!(
                    "sum(rate({}{{{}}}[$__rate_interval]))",
                    node::TCP_RETRANS,
                    host_matcher(opts, &h.instance)
                ),
                h.name.clone(),
            )
        })
        .collect();
    b.add(12, 8, |id, pos| {
        panels::timeseries(
            id,
            "TCP retransmits",
            "TCP segments retransmitted per second by each host (host-wide: every interface and connection, not only the flow's).",
            "short",
            &retrans,
            None,
            pos,
        )
    });
    let arp_q = hosts
        .iter()
        .map(|h| format!("{}{{{}}}", arp::ENTRY, host_matcher(opts, &h.instance)))
        .collect::<Vec<_>>()
        .join(" or ");
    b.add(12, 8, |id, pos| {
        panels::table(
            id,
            "ARP / neighbour entries on the flow's hosts",
            "One line per neighbour entry (IP, MAC, device, state).",
            Query::instant(arp_q, ""),
            pos,
        )
    });
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
    b.add(12, 8, |id, pos| {
        panels::timeseries(
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
        )
    });
    b.add(12, 8, |id, pos| {
        panels::timeseries(
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
        )
    });
    b.add(12, 8, |id, pos| {
        panels::timeseries(
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
        )
    });
    b.add(4, 8, |id, pos| {
        panels::stat(
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
        )
    });
    b.add(4, 8, |id, pos| {
        panels::value_stat(
            id,
            "MTU",
            &[Query::range(format!("{}{{{sel}}}", node::MTU), "MTU")],
            MTU_UNIT,
            pos,
        )
    });
    b.add(4, 8, |id, pos| {
        panels::value_stat(
            id,
            "Link speed",
            &[Query::range(
                format!("{}{{{sel}}} * 8", node::SPEED),
                "speed",
            )],
            "bps",
            pos,
        )
    });
}

fn switch_row(b: &mut Builder, s: &SwitchHop, opts: &Options) {
    b.row(&switch_title(s));
    let sm = switch_matcher(opts, &s.target);
    let ports = switch_ports(s);
    let port_sel = |p: &str| format!("{sm},{}={}", snmp::IF_NAME, promql_str(p));
    let per_port = |f: &dyn Fn(&str, &str) -> Vec<Query>| -> Vec<Query> {
        ports.iter().flat_map(|p| f(p, &port_sel(p))).collect()
    };
    let octets = per_port(&|p, sel| {
        vec![
            Query::range(
                format!("{} * 8", rate(snmp::IN_OCTETS, sel)),
                format!("{p} in"),
            ),
            Query::range(
                format!("{} * 8", rate(snmp::OUT_OCTETS, sel)),
                format!("{p} out"),
            ),
        ]
    });
    b.add(12, 8, |id, pos| {
        panels::timeseries(
            id,
            "Throughput",
            "Bits per second per port (ifHCIn/OutOctets × 8); out drawn below zero.",
            "bps",
            &octets,
            Some("/ out$/"),
            pos,
        )
    });
    let pkts = per_port(&|p, sel| {
        let sum = |a, b, c| format!("{} + {} + {}", rate(a, sel), rate(b, sel), rate(c, sel));
        vec![
            Query::range(
                sum(snmp::IN_UCAST, snmp::IN_MCAST, snmp::IN_BCAST),
                format!("{p} in"),
            ),
            Query::range(
                sum(snmp::OUT_UCAST, snmp::OUT_MCAST, snmp::OUT_BCAST),
                format!("{p} out"),
            ),
        ]
    });
    b.add(12, 8, |id, pos| {
        panels::timeseries(
            id,
            "Packets",
            "Unicast + multicast + broadcast packets per second per port.",
            "pps",
            &pkts,
            Some("/ out$/"),
            pos,
        )
    });
    let errs = per_port(&|p, sel| {
        [
            (snmp::IN_ERRORS, "in errors"),
            (snmp::IN_DISCARDS, "in discards"),
            (snmp::OUT_ERRORS, "out errors"),
            (snmp::OUT_DISCARDS, "out discards"),
        ]
        .iter()
        .map(|(m, what)| Query::range(rate(m, sel), format!("{p} {what}")))
        .collect()
    });
    b.add(12, 8, |id, pos| {
        panels::timeseries(
            id,
            "Errors and discards",
            "Packets per second (not bits) with errors or discarded, per port.",
            "pps",
            &errs,
            Some("/ out (errors|discards)$/"),
            pos,
        )
    });
    let oper = per_port(&|p, sel| vec![Query::range(format!("{}{{{sel}}}", snmp::OPER_STATUS), p)]);
    b.add(12, 8, |id, pos| {
        panels::state_timeline(
            id,
            "Port oper status",
            "ifOperStatus per port (1 up, 2 down, 7 lowerLayerDown, …).",
            &oper,
            panels::oper_status_mapping(),
            pos,
        )
    });
    for p in &ports {
        let sel = port_sel(p);
        b.add(6, 4, |id, pos| {
            panels::value_stat(
                id,
                &format!("{p} MTU"),
                &[Query::range(format!("{}{{{sel}}}", snmp::MTU), "MTU")],
                MTU_UNIT,
                pos,
            )
        });
        b.add(6, 4, |id, pos| {
            panels::value_stat(
                id,
                &format!("{p} speed"),
                &[Query::range(
                    format!("{}{{{sel}}} * 1000000", snmp::HIGH_SPEED),
                    "speed",
                )],
                "bps",
                pos,
            )
        });
    }
}

/// The `ds_prometheus` template variable every rtmon dashboard queries through (the flow
/// dashboards and the fleet overview), preset to `--datasource-uid` or Grafana's default.
pub(crate) fn datasource_variable(opts: &Options) -> Value {
    let ds_current = match &opts.datasource_uid {
        Some(u) => crate::jv!({"selected": true, "text": u, "value": u}),
        None => crate::jv!({"selected": true, "text": "default", "value": "default"}),
    };
    crate::jv!({
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
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_numbers_places_and_sets_the_interval_of_query_panels() {
        let mut b = Builder::new("30s");
        b.row("r");
        b.add(12, 8, |id, pos| panels::text(id, "t", "x", pos));
        b.interval = "60s".into();
        b.add(12, 8, |id, pos| {
            panels::value_stat(id, "s", &[Query::range("up", "up")], "none", pos)
        });
        b.add(24, 4, |id, pos| {
            panels::value_stat(id, "s2", &[Query::range("up", "up")], "none", pos)
        });
        let ids: Vec<u64> = b.panels.iter().filter_map(|p| p["id"].as_u64()).collect();
        assert_eq!(ids, [1, 2, 3, 4]);
        let pos: Vec<(u64, u64)> = b
            .panels
            .iter()
            .map(|p| {
                (
                    p["gridPos"]["x"].as_u64().unwrap_or(99),
                    p["gridPos"]["y"].as_u64().unwrap_or(99),
                )
            })
            .collect();
        assert_eq!(pos, [(0, 0), (0, 1), (12, 1), (0, 9)]);
        // Only panels with queries get a minimum interval: the one current when added.
        assert!(b.panels[1].get("interval").is_none());
        assert_eq!(b.panels[2]["interval"], "60s");
    }

    #[test]
    fn url_values_are_percent_encoded() {
        assert_eq!(url_encode("198.51.100.16"), "198.51.100.16");
        assert_eq!(
            url_encode("[2001:db8::1]:9100"),
            "%5B2001%3Adb8%3A%3A1%5D%3A9100"
        );
        assert_eq!(url_encode("a b&c"), "a%20b%26c");
    }

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
