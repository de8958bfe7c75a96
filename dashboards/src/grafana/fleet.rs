//! The fleet overview: one dashboard (uid [`FLEET_UID`]) with a row per flow — status,
//! cause, since when, failing checks, packets sent, ping RTT and loss — sorted worst
//! first, each row linking to its flow dashboard, and stat tiles (flows, down,
//! degraded, healthy, without status) above.
//!
//! Each table column is ONE PromQL query over every flow (not one per flow), merged on
//! the `flow` label by Grafana's `merge` transformation, so the dashboard is the same for
//! three flows or thousands and does not depend on the flow list at all. It reads only
//! recording rules, so scrape and push mode (and `--instance-label`) give the same
//! dashboard: the rules carry the mode.
//!
//! The per-flow rules it needs beside `rtmon:flow:status` and `rtmon:flow_point:pps`
//! come from [`rules_yaml`] (rendered into each flow's group by [`crate::engine::rules`]):
//! - `rtmon:flow:info{flow,title,dashboard_uid}` = 1: the configured flows, and the flow
//!   dashboard's uid (a hash for long or unusual ids, which Grafana cannot compute from
//!   the `flow` label), for the row's link;
//! - `rtmon:flow:cause{flow,hop,check,subject,severity,cause}`: the failing check that
//!   explains the others (the order of `rtmon-dashboards status`: severity, then cause
//!   rank, then path order), `cause` being its failure text; absent when healthy;
//! - `rtmon:flow_ping:rtt_seconds` / `rtmon:flow_ping:loss_ratio{flow,hop,subject}`: mean
//!   RTT and loss per ping direction over the check window (the ping checks' values).

use rtmon::flow::Flow;
use serde_json::{json, Value};

use crate::engine::rules::{
    CAUSE_RECORD, CHECK_RECORD, INFO_RECORD, LOSS_RECORD, POINT_RECORD, RTT_RECORD, SINCE_LOOKBACK,
    STATUS_RECORD,
};
use crate::grafana::dashboard;
use crate::names::FLEET_UID;
use crate::Options;

/// The step of the "since" subqueries over [`SINCE_LOOKBACK`] (`[6h:1m]`). Without an
/// explicit step Prometheus takes its global evaluation interval and VictoriaMetrics the
/// instant query's `step` (5 m when the caller gives none, as Grafana's table queries,
/// `check` and `preview` do): no "since" while the status is younger than that, and one
/// up to 5 m early after (deploy/README.md, "VictoriaMetrics").
pub const SINCE_STEP: &str = "1m";
/// The last minutes are read again at [`SINCE_RECENT_STEP`], so a change that just
/// happened has its "since" to the rules' evaluation interval, not to the minute.
pub const SINCE_RECENT: &str = "5m";
/// Step of the [`SINCE_RECENT`] subqueries.
pub const SINCE_RECENT_STEP: &str = "1s";

/// One column of the fleet table: (refId, header, PromQL, unit).
pub struct Column {
    /// Query refId (its value field is `Value #<ref>` in Grafana).
    pub ref_id: &'static str,
    /// Column header (None: the value is not shown, the query brings labels).
    pub header: Option<&'static str>,
    /// The query, over every flow.
    pub expr: String,
    /// Grafana unit of the value.
    pub unit: &'static str,
}

/// `e` (with `{}` where the subquery's range goes) over [`SINCE_LOOKBACK`] at
/// [`SINCE_STEP`] and over the last [`SINCE_RECENT`] at [`SINCE_RECENT_STEP`]: the
/// recent one first when `recent_first`.
fn since(e: &str, recent_first: bool) -> String {
    let recent = e.replace("{}", &format!("{SINCE_RECENT}:{SINCE_RECENT_STEP}"));
    let long = e.replace("{}", &format!("{SINCE_LOOKBACK}:{SINCE_STEP}"));
    if recent_first {
        format!("{recent} or {long}")
    } else {
        format!("{long} or {recent}")
    }
}

/// The table's queries, one per column.
pub fn columns() -> Vec<Column> {
    let col = |ref_id, header, expr: String, unit| Column {
        ref_id,
        header,
        expr,
        unit,
    };
    vec![
        col(
            "A",
            None,
            format!("max by (flow, title, dashboard_uid) ({INFO_RECORD})"),
            "none",
        ),
        col(
            "B",
            Some("Status"),
            format!("max by (flow) ({STATUS_RECORD})"),
            "none",
        ),
        col(
            "C",
            None,
            format!(
                "max by (flow, cause) ({CAUSE_RECORD}) or on(flow) (0 * max by (flow) ({INFO_RECORD}))"
            ),
            "none",
        ),
        col(
            "D",
            Some("Since"),
            format!(
                "time() - ({changed} or {first})",
                // The last change: the latest one is within the last minutes if
                // there is one there (to the evaluation interval), else to the minute.
                changed = since(
                    &format!(
                        "max by (flow) (max_over_time(timestamp({STATUS_RECORD} != on(flow) ({STATUS_RECORD} @ end()))[{{}}]))"
                    ),
                    true
                ),
                // No change: the first status within the lookback (to the minute; a
                // status younger than the last whole minute from the recent look).
                first = since(
                    &format!("min by (flow) (min_over_time(timestamp({STATUS_RECORD})[{{}}]))"),
                    false
                ),
            ),
            "s",
        ),
        col(
            "E",
            Some("Failing checks"),
            format!("sum by (flow) (1 - {CHECK_RECORD})"),
            "none",
        ),
        col(
            "F",
            Some("Sent"),
            format!("sum by (flow) ({POINT_RECORD}{{index=\"01\"}})"),
            "pps",
        ),
        col(
            "G",
            Some("Ping RTT"),
            format!("max by (flow) ({RTT_RECORD})"),
            "s",
        ),
        col(
            "H",
            Some("Ping loss"),
            format!("max by (flow) ({LOSS_RECORD})"),
            "percentunit",
        ),
    ]
}

/// The stat tiles: (title, PromQL, colour when above zero).
pub fn tiles() -> Vec<(&'static str, String, &'static str)> {
    vec![
        (
            "Flows",
            format!("count({INFO_RECORD}) or vector(0)"),
            "blue",
        ),
        (
            "Down",
            format!("count({STATUS_RECORD} == 2) or vector(0)"),
            "red",
        ),
        (
            "Degraded",
            format!("count({STATUS_RECORD} == 1) or vector(0)"),
            "orange",
        ),
        (
            "Healthy",
            format!("count({STATUS_RECORD} == 0) or vector(0)"),
            "green",
        ),
        (
            "Without status",
            format!("count({INFO_RECORD} unless on(flow) {STATUS_RECORD}) or vector(0)"),
            "purple",
        ),
    ]
}

fn ds() -> Value {
    json!({"type": "prometheus", "uid": "${ds_prometheus}"})
}

fn target(ref_id: &str, expr: &str, table: bool) -> Value {
    json!({
        "datasource": ds(),
        "editorMode": "code",
        "expr": expr,
        "format": if table { "table" } else { "time_series" },
        "instant": true,
        "legendFormat": "",
        "range": false,
        "refId": ref_id,
    })
}

/// The link from a row to its flow dashboard, keeping the time range and datasource.
pub const ROW_LINK: &str =
    "/d/${__data.fields.dashboard_uid}?${__url_time_range}&${ds_prometheus:queryparam}";

/// Status value mapping: 0 healthy, 1 degraded, 2 down.
fn status_mapping() -> Value {
    json!([{"type": "value", "options": {
        "0": {"color": "green", "index": 0, "text": "healthy"},
        "1": {"color": "orange", "index": 1, "text": "degraded"},
        "2": {"color": "red", "index": 2, "text": "down"},
    }}])
}

fn table_panel(id: u32, y: u32) -> Value {
    let cols = columns();
    let mut rename = serde_json::Map::new();
    let mut index = serde_json::Map::new();
    let mut exclude = serde_json::Map::new();
    exclude.insert("Time".into(), true.into());
    rename.insert("flow".into(), "Flow".into());
    rename.insert("title".into(), "Title".into());
    rename.insert("cause".into(), "Cause".into());
    let mut order: Vec<String> = vec!["flow".into(), "title".into(), "Value #B".into()];
    order.push("cause".into());
    let mut overrides = Vec::new();
    for c in &cols {
        let field = format!("Value #{}", c.ref_id);
        match c.header {
            None => {
                exclude.insert(field, true.into());
            }
            Some(h) => {
                rename.insert(field.clone(), h.into());
                if !order.contains(&field) {
                    order.push(field);
                }
                let mut props = vec![json!({"id": "unit", "value": c.unit})];
                if h == "Status" {
                    props.push(json!({"id": "mappings", "value": status_mapping()}));
                    props.push(
                        json!({"id": "custom.cellOptions", "value": {"type": "color-background"}}),
                    );
                    props.push(json!({"id": "noValue", "value": "no status"}));
                }
                if h == "Failing checks" {
                    props.push(
                        json!({"id": "thresholds", "value": {"mode": "absolute", "steps": [
                        {"color": "green", "value": null}, {"color": "red", "value": 1}]}}),
                    );
                    props
                        .push(json!({"id": "custom.cellOptions", "value": {"type": "color-text"}}));
                }
                overrides
                    .push(json!({"matcher": {"id": "byName", "options": h}, "properties": props}));
            }
        }
    }
    order.push("dashboard_uid".into());
    for (i, f) in order.iter().enumerate() {
        index.insert(f.clone(), i.into());
    }
    overrides.push(
        json!({"matcher": {"id": "byName", "options": "dashboard_uid"},
        "properties": [{"id": "custom.hidden", "value": true}]}),
    );
    json!({
        "datasource": ds(),
        "description": "One row per flow, worst first (down, degraded, healthy). Each column is one query over every flow, merged on the flow label. Cause: the failing check that explains the others (as `rtmon-dashboards status` names it). Since: when the status last changed (within 6 h). Sent: packets per second the end hosts send into the path. Click a row for its flow dashboard.",
        "fieldConfig": {
            "defaults": {
                "custom": {"align": "auto", "cellOptions": {"type": "auto"}, "filterable": true},
                "links": [{"title": "Flow dashboard", "url": ROW_LINK}],
                "mappings": [],
                "thresholds": {"mode": "absolute", "steps": [{"color": "green", "value": null}]},
            },
            "overrides": overrides,
        },
        "gridPos": {"x": 0, "y": y, "w": 24, "h": 24},
        "id": id,
        "options": {"cellHeight": "sm", "showHeader": true,
                    "footer": {"show": false, "reducer": ["sum"], "countRows": false, "fields": ""}},
        "targets": cols.iter().map(|c| target(c.ref_id, &c.expr, true)).collect::<Vec<_>>(),
        "title": "Flows, worst first",
        "transformations": [
            {"id": "merge", "options": {}},
            {"id": "sortBy", "options": {"fields": {}, "sort": [{"field": "Value #B", "desc": true}]}},
            {"id": "organize", "options": {
                "excludeByName": exclude, "indexByName": index, "renameByName": rename}},
        ],
        "type": "table",
    })
}

fn tile(id: u32, x: u32, w: u32, title: &str, expr: &str, color: &str) -> Value {
    json!({
        "datasource": ds(),
        "fieldConfig": {"defaults": {
            "color": {"mode": "thresholds"},
            "noValue": "no data",
            "thresholds": {"mode": "absolute", "steps": [
                {"color": if title == "Flows" { "blue" } else { "green" }, "value": null},
                {"color": color, "value": 1}]},
            "unit": "none",
        }, "overrides": []},
        "gridPos": {"x": x, "y": 0, "w": w, "h": 4},
        "id": id,
        "options": {
            "colorMode": "background", "graphMode": "none", "justifyMode": "center",
            "orientation": "auto", "textMode": "value", "wideLayout": true,
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": false},
        },
        "targets": [target("A", expr, false)],
        "title": title,
        "type": "stat",
    })
}

/// The fleet overview dashboard.
pub fn build(opts: &Options) -> Value {
    let mut panels = Vec::new();
    let ts = tiles();
    let widths = crate::grafana::layout::Grid::widths(ts.len());
    let mut x = 0;
    for (i, ((title, expr, color), w)) in ts.iter().zip(widths).enumerate() {
        panels.push(tile(i as u32 + 1, x, w, title, expr, color));
        x += w;
    }
    panels.push(table_panel(ts.len() as u32 + 1, 4));
    json!({
        "annotations": {"list": [{
            "builtIn": 1,
            "datasource": {"type": "grafana", "uid": "-- Grafana --"},
            "enable": true,
            "hide": true,
            "iconColor": "rgba(0, 211, 255, 1)",
            "name": "Annotations & Alerts",
            "type": "dashboard",
        }]},
        "description": "rtmon fleet overview: every flow, worst first; generated by rtmon-dashboards; do not edit by hand.",
        "editable": true,
        "fiscalYearStartMonth": 0,
        "graphTooltip": 1,
        "id": null,
        "links": [{
            "asDropdown": true, "icon": "external link", "includeVars": true, "keepTime": true,
            "tags": ["rtmon", "flow"], "targetBlank": false, "title": "Flow dashboards",
            "tooltip": "", "type": "dashboards", "url": "",
        }],
        "panels": panels,
        "refresh": "30s",
        "schemaVersion": opts.schema_version,
        "tags": ["rtmon", "fleet"],
        "templating": {"list": [crate::grafana::dashboard::datasource_variable(opts)]},
        "time": {"from": "now-1h", "to": "now"},
        "timepicker": {"refresh_intervals": ["10s", "30s", "1m", "5m", "15m"]},
        "timezone": "browser",
        "title": "rtmon: fleet overview",
        "uid": FLEET_UID,
        "version": 1,
        "weekStart": "",
    })
}

/// File name of the fleet dashboard beside the flow dashboards.
pub fn file_name() -> String {
    format!("{FLEET_UID}.json")
}

/// An error when a flow's dashboard would take the fleet view's uid (a flow with id
/// `fleet`).
pub fn uid_clash(flows: &[Flow]) -> Result<(), String> {
    match flows.iter().find(|f| dashboard::uid(&f.id) == FLEET_UID) {
        Some(f) => Err(format!(
            "{}: flow id {:?}: its dashboard uid {FLEET_UID:?} is the fleet overview's; rename the flow",
            f.file.display(),
            f.id
        )),
        None => Ok(()),
    }
}

/// `check` for the fleet view: runs each of its queries against Prometheus (as `check`
/// does for a flow dashboard's panels) and explains the ones without data.
pub async fn check(
    c: &reqwest::Client,
    prometheus: &str,
    opts: &Options,
    rate_interval: &str,
) -> Result<Vec<crate::grafana::check::Outcome>, String> {
    let mut out = Vec::new();
    for (title, expr) in dashboard::exprs(&build(opts)) {
        let e = crate::grafana::check::instantiate(&expr, rate_interval);
        let r = crate::client::prom_query(c, prometheus, &e).await?;
        let why = if r.is_empty() {
            Some(crate::grafana::check::diagnose(c, prometheus, &e).await)
        } else {
            None
        };
        out.push(crate::grafana::check::Outcome {
            origin: format!("fleet panel {title:?}"),
            expr: e,
            series: r.len(),
            healthy: None,
            why,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dashboard_does_not_depend_on_the_mode() {
        assert_eq!(build(&Options::default()), build(&Options::push()));
        let d = build(&Options::default());
        assert_eq!(d["uid"], FLEET_UID);
    }
}
