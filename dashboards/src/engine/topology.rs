//! The flows' topology as series: what the constant rules of [`crate::engine::rules`]
//! join the exporters' data to. Each series is a static recording rule `vector(V)` with
//! labels (it selects no series, so its cost does not depend on what Prometheus holds),
//! written in groups `rtmon-topology-NN` by a hash of the flow id, so a flow keeps its
//! group when others come or go.
//!
//! Why rules and not a scrape of `rtmon-dashboards sync`: `rtmon-dashboards rules` alone
//! (no service running) must give complete, working rules; and a rule group that is
//! removed on reload gets stale markers at once, so a removed flow's records and alerts
//! disappear within one cycle.
//!
//! The series (all carry `flow`):
//! - `rtmon:flow:info{flow,title,dashboard_uid}` = 1 — the fleet's list of flows;
//! - `rtmon:flow:limit{flow,limit}` = the flow's threshold (`errors_per_second`,
//!   `ping_loss`, `ping_rtt_seconds`, `loss_tolerance`, `loss_min_pps`);
//! - `rtmon:flow_check:info{flow,hop,check,subject,severity,cause,healthy, keys…}` =
//!   the check's weight for `rtmon:flow:cause` (higher: named first): one per check of
//!   [`crate::engine::checks::flow_checks`], with its join keys (`rtmon_instance` and the
//!   interface, port, peer, VLAN, MAC … it reads; see [`Check::keys`]);
//! - `rtmon:flow_hop:info{flow,hop}` = 1 — the hops that have checks (the all-healthy
//!   baseline of the hop and flow status and `rtmon:flow:healthy`, so those read only
//!   the failing checks);
//! - `rtmon:flow_lldp:expected{flow,hop,subject,rtmon_instance,rtmon_if,nbr_id}` = 1 —
//!   the identities an `lldp_link` check accepts;
//! - `rtmon:flow_point:info{flow,direction,index,hop,point,rxtx, keys…}` and
//!   `rtmon:flow_link:info{flow,direction,index,link,source,target, keys…}` = 1 — the
//!   counting points and links of the path in travel order.

use rtmon::flow::Flow;

use super::checks::{flow_checks, path_links, path_points, Check, CheckKind, LLDP_ID_KEY};
use crate::Options;

/// Check rows: one per check, value = cause weight.
pub const CHECK_INFO: &str = "rtmon:flow_check:info";
/// The hops of a flow that have checks, one series each.
pub const HOP_INFO: &str = "rtmon:flow_hop:info";
/// LLDP expectations: one per accepted neighbour identity.
pub const LLDP_EXPECTED: &str = "rtmon:flow_lldp:expected";
/// Counting points of the path.
pub const POINT_INFO: &str = "rtmon:flow_point:info";
/// Links of the path (their sending end's keys).
pub const LINK_INFO: &str = "rtmon:flow_link:info";
/// Per-flow thresholds, one series per limit.
pub const LIMIT: &str = "rtmon:flow:limit";
/// The configured flows (`title`, `dashboard_uid`): the fleet's rows.
pub const INFO_RECORD: &str = "rtmon:flow:info";

/// Number of topology groups: flows are spread over them by a hash of their id, so
/// Prometheus evaluates them side by side and a flow's group does not depend on the
/// other flows.
pub const GROUPS: u32 = 16;

/// One topology series.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Metric name.
    pub name: &'static str,
    /// Labels in the order written.
    pub labels: Vec<(&'static str, String)>,
    /// Value.
    pub value: f64,
}

/// The topology group (0..[`GROUPS`]) of a flow: FNV-1a of its id.
pub fn group_of(flow_id: &str) -> u32 {
    let mut h: u32 = 0x811c9dc5;
    for b in flow_id.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x01000193);
    }
    h % GROUPS
}

/// The weight of each check for `rtmon:flow:cause`, in the order of `checks`: the
/// failing check with the highest weight is the cause. Ranked by severity, then cause
/// rank, then path order — the order of `rtmon-dashboards status`.
pub fn cause_weights(checks: &[Check]) -> Vec<usize> {
    let mut ranked: Vec<usize> = (0..checks.len()).collect();
    ranked.sort_by_key(|&i| (checks[i].severity(), checks[i].kind.cause_rank(), i));
    let n = checks.len();
    let mut w = vec![0; n];
    for (pos, &i) in ranked.iter().enumerate() {
        w[i] = n - pos;
    }
    w
}

/// The topology series of one flow (`checks` = [`flow_checks`] of it).
pub fn flow_series(flow: &Flow, opts: &Options, checks: &[Check]) -> Vec<Series> {
    let id = || ("flow", flow.id.clone());
    let mut out = vec![Series {
        name: INFO_RECORD,
        labels: vec![
            id(),
            ("title", flow.title.clone()),
            ("dashboard_uid", super::dashboard_uid(&flow.id)),
        ],
        value: 1.0,
    }];
    let l = &flow.limits;
    for (name, v) in [
        ("errors_per_second", l.errors_per_second),
        ("ping_loss", l.ping_loss),
        ("ping_rtt_seconds", l.ping_rtt_seconds),
        ("loss_tolerance", l.loss_tolerance),
        ("loss_min_pps", l.loss_min_pps),
    ] {
        out.push(Series {
            name: LIMIT,
            labels: vec![id(), ("limit", name.into())],
            value: v,
        });
    }
    let mut hops: Vec<&str> = Vec::new();
    for c in checks {
        if !hops.contains(&c.hop.as_str()) {
            hops.push(&c.hop);
        }
    }
    for hop in hops {
        out.push(Series {
            name: HOP_INFO,
            labels: vec![id(), ("hop", hop.to_string())],
            value: 1.0,
        });
    }
    for (c, w) in checks.iter().zip(cause_weights(checks)) {
        let mut labels = vec![
            id(),
            ("hop", c.hop.clone()),
            ("check", c.kind.name().into()),
            ("subject", c.subject.clone()),
            ("severity", c.severity().name().into()),
            ("cause", c.failure.clone()),
            ("healthy", c.description.clone()),
        ];
        let keys: Vec<_> = c
            .keys
            .iter()
            .filter(|(k, _)| *k != LLDP_ID_KEY)
            .cloned()
            .collect();
        labels.extend(keys.iter().cloned());
        out.push(Series {
            name: CHECK_INFO,
            labels,
            value: w as f64,
        });
        if c.kind == CheckKind::LldpLink {
            for (_, nbr) in c.keys.iter().filter(|(k, _)| *k == LLDP_ID_KEY) {
                let mut labels = vec![id(), ("hop", c.hop.clone()), ("subject", c.subject.clone())];
                labels.extend(keys.iter().cloned());
                labels.push((LLDP_ID_KEY, nbr.clone()));
                out.push(Series {
                    name: LLDP_EXPECTED,
                    labels,
                    value: 1.0,
                });
            }
        }
    }
    for (dir, points) in path_points(flow, opts) {
        for (i, p) in points.iter().enumerate() {
            let mut labels = vec![
                id(),
                ("direction", dir.name().into()),
                ("index", format!("{:02}", i + 1)),
                ("hop", p.hop.clone()),
                ("point", p.label.clone()),
                ("rxtx", p.rxtx.into()),
            ];
            labels.extend(p.keys.iter().cloned());
            out.push(Series {
                name: POINT_INFO,
                labels,
                value: 1.0,
            });
        }
    }
    for (dir, links) in path_links(flow, opts) {
        for (i, l) in links.iter().enumerate() {
            let mut labels = vec![
                id(),
                ("direction", dir.name().into()),
                ("index", format!("{:02}", i + 1)),
                ("link", l.label.clone()),
                ("source", l.source.clone()),
                ("target", l.target.clone()),
            ];
            labels.extend(l.tx.keys.iter().cloned());
            out.push(Series {
                name: LINK_INFO,
                labels,
                value: 1.0,
            });
        }
    }
    out
}

/// The topology of `flows` as rule groups (YAML list items under `groups:`), one rule a
/// line, groups `rtmon-topology-NN` in order; empty groups are left out.
pub fn write_groups(
    w: &mut impl std::io::Write,
    flows: &[Flow],
    opts: &Options,
    interval: &str,
) -> std::io::Result<()> {
    let mut buckets: Vec<Vec<&Flow>> = vec![Vec::new(); GROUPS as usize];
    for f in flows {
        buckets[group_of(&f.id) as usize].push(f);
    }
    for (g, members) in buckets.iter().enumerate() {
        if members.is_empty() {
            continue;
        }
        writeln!(
            w,
            "  - name: \"rtmon-topology-{g:02}\"\n    interval: {interval}\n    rules:"
        )?;
        super::write_parallel(w, members, 16, "a flow's topology", |y, f| {
            let checks = flow_checks(f, opts);
            for s in flow_series(f, opts, &checks) {
                rule_line(y, &s);
            }
        })?;
    }
    Ok(())
}

/// The topology of `flows` in the Prometheus text format (0.0.4), for Prometheus to
/// scrape instead of evaluating a rule per row (with `honor_labels: true`, from a file
/// server or node_exporter's textfile collector; `rtmon-dashboards topology`).
pub fn write_exposition(
    w: &mut impl std::io::Write,
    flows: &[Flow],
    opts: &Options,
) -> std::io::Result<()> {
    let mut by_name: std::collections::BTreeMap<&'static str, Vec<Series>> = Default::default();
    for f in flows {
        let checks = flow_checks(f, opts);
        for s in flow_series(f, opts, &checks) {
            by_name.entry(s.name).or_default().push(s);
        }
    }
    for (name, series) in by_name {
        writeln!(w, "# TYPE {name} gauge")?;
        let mut line = String::new();
        for s in series {
            line.clear();
            line.push_str(name);
            line.push('{');
            for (i, (k, v)) in s.labels.iter().enumerate() {
                if i > 0 {
                    line.push(',');
                }
                line.push_str(k);
                line.push_str("=\"");
                rtmon::expo::escape_label_value(v, &mut line);
                line.push('"');
            }
            line.push_str("} ");
            line.push_str(&fmt_num(s.value));
            line.push('\n');
            w.write_all(line.as_bytes())?;
        }
    }
    Ok(())
}

/// One series as a static recording rule on one line (YAML flow mapping).
fn rule_line(y: &mut String, s: &Series) {
    y.push_str("      - {record: ");
    y.push_str(s.name);
    y.push_str(", expr: \"vector(");
    y.push_str(&fmt_num(s.value));
    y.push_str(")\", labels: {");
    for (i, (k, v)) in s.labels.iter().enumerate() {
        if i > 0 {
            y.push_str(", ");
        }
        y.push_str(k);
        y.push_str(": ");
        y.push_str(&serde_json::to_string(v).unwrap_or_else(|_| "\"\"".into()));
    }
    y.push_str("}}\n");
}

/// A number as PromQL reads it back exactly.
fn fmt_num(v: f64) -> String {
    if v.is_finite() {
        format!("{v}")
    } else {
        "0".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_stable_and_spread() {
        assert_eq!(group_of("dtn-a-dtn-b-1000"), group_of("dtn-a-dtn-b-1000"));
        let used: std::collections::BTreeSet<u32> =
            (0..200).map(|i| group_of(&format!("flow-{i}"))).collect();
        assert_eq!(used.len(), GROUPS as usize);
    }

    #[test]
    fn weights_rank_severity_then_cause_then_path() {
        let f = rtmon::flow::from_str(
            std::path::Path::new("f.yml"),
            "flow: f\npath:\n  - host: a\n    interface: e0\n    ip: 10.0.0.1\n  - switch: s\n    target: 192.0.2.1\n    in: {port: p1}\n    out: {port: p2}\n  - host: b\n    interface: e0\n    ip: 10.0.0.2\n",
        )
        .expect("flow")
        .remove(0);
        let checks = flow_checks(&f, &Options::default());
        let w = cause_weights(&checks);
        let top = checks
            .iter()
            .zip(&w)
            .max_by_key(|(_, w)| **w)
            .map(|(c, _)| c.id())
            .expect("checks");
        // A dead exporter on the first host explains everything else (subjects sorted).
        assert_eq!(top, "a/exporter_up/arp");
        let mut sorted = w.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (1..=checks.len()).collect::<Vec<_>>());
    }
}
