//! Grafana panel builders (Classic JSON), fully specified so the strict schema passes.
//! Every panel and target references the `${ds_prometheus}` datasource variable.

use serde_json::Value;

use crate::grafana::layout::GridPos;

/// The datasource reference used by every panel and target.
pub fn ds() -> Value {
    crate::jv!({"type": "prometheus", "uid": "${ds_prometheus}"})
}

/// A query of a panel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Query {
    /// PromQL.
    pub expr: String,
    /// Legend (Grafana template, e.g. `{{ifName}} in`).
    pub legend: String,
    /// Instant query (tables, stats) rather than a range.
    pub instant: bool,
}

impl Query {
    /// A range query.
    pub fn range(expr: impl Into<String>, legend: impl Into<String>) -> Query {
        Query {
            expr: expr.into(),
            legend: legend.into(),
            instant: false,
        }
    }
    /// An instant query.
    pub fn instant(expr: impl Into<String>, legend: impl Into<String>) -> Query {
        Query {
            expr: expr.into(),
            legend: legend.into(),
            instant: true,
        }
    }
}

fn ref_id(i: usize) -> String {
    // A..Z, then AA, AB, …
    let mut n = i;
    let mut s = Vec::new();
    loop {
        s.push(b'A' + (n % 26) as u8);
        if n < 26 {
            break;
        }
        n = n / 26 - 1;
    }
    s.reverse();
    String::from_utf8(s).unwrap_or_else(|_| format!("Q{i}"))
}

fn targets(queries: &[Query], table: bool) -> Value {
    Value::Array(
        queries
            .iter()
            .enumerate()
            .map(|(i, q)| {
                crate::jv!({
                    "datasource": ds(),
                    "editorMode": "code",
                    "expr": &q.expr,
                    "format": if table { "table" } else { "time_series" },
                    "instant": q.instant,
                    "legendFormat": &q.legend,
                    "range": !q.instant,
                    "refId": ref_id(i),
                })
            })
            .collect(),
    )
}

fn thresholds(steps: &[(&str, Option<f64>)]) -> Value {
    crate::jv!({
        "mode": "absolute",
        "steps": steps.iter().map(|(c, v)| crate::jv!({"color": c, "value": v})).collect::<Vec<_>>(),
    })
}

/// Value mapping 1 → UP (green), 0 → DOWN (red).
pub fn up_down_mapping() -> Value {
    crate::jv!([{"type": "value", "options": {
        "0": {"color": "red", "index": 1, "text": "DOWN"},
        "1": {"color": "green", "index": 0, "text": "UP"},
    }}])
}

/// Value mapping of a status (`rtmon:flow:status`, `rtmon:flow_hop:status`): 0 healthy
/// (green), 1 degraded (orange: a warning check fails), 2 down (red: a critical one).
pub fn status_mapping() -> Value {
    crate::jv!([{"type": "value", "options": {
        "0": {"color": "green", "index": 0, "text": "HEALTHY"},
        "1": {"color": "orange", "index": 1, "text": "DEGRADED"},
        "2": {"color": "red", "index": 2, "text": "DOWN"},
    }}])
}

/// Value mapping of one check's state as the "checks, failing first" table shows it.
pub fn check_state_mapping() -> Value {
    crate::jv!([{"type": "value", "options": {
        "0": {"color": "green", "index": 0, "text": "ok"},
        "1": {"color": "orange", "index": 1, "text": "FAILING (warning)"},
        "2": {"color": "red", "index": 2, "text": "FAILING (critical)"},
    }}])
}

/// Value mapping of SNMP ifOperStatus (1 up … 7 lowerLayerDown).
pub fn oper_status_mapping() -> Value {
    crate::jv!([{"type": "value", "options": {
        "1": {"color": "green", "index": 0, "text": "up"},
        "2": {"color": "red", "index": 1, "text": "down"},
        "3": {"color": "orange", "index": 2, "text": "testing"},
        "4": {"color": "orange", "index": 3, "text": "unknown"},
        "5": {"color": "orange", "index": 4, "text": "dormant"},
        "6": {"color": "red", "index": 5, "text": "notPresent"},
        "7": {"color": "red", "index": 6, "text": "lowerLayerDown"},
    }}])
}

/// A full-width expanded row header.
pub fn row(id: u32, title: &str, pos: GridPos) -> Value {
    crate::jv!({
        "collapsed": false,
        "gridPos": pos.to_json(),
        "id": id,
        "panels": [],
        "title": title,
        "type": "row",
    })
}

/// A markdown text panel.
pub fn text(id: u32, title: &str, markdown: &str, pos: GridPos) -> Value {
    crate::jv!({
        "gridPos": pos.to_json(),
        "id": id,
        "options": {"code": {"language": "plaintext", "showLineNumbers": false, "showMiniMap": false},
                    "content": markdown, "mode": "markdown"},
        "title": title,
        "type": "text",
    })
}

/// A time series panel. Series whose legend matches `negative_y` (a regex) are drawn
/// below zero (transmit direction), as Node Exporter Full does.
pub fn timeseries(
    id: u32,
    title: &str,
    description: &str,
    unit: &str,
    queries: &[Query],
    negative_y: Option<&str>,
    pos: GridPos,
) -> Value {
    let overrides = match negative_y {
        Some(re) => crate::jv!([{
            "matcher": {"id": "byRegexp", "options": re},
            "properties": [{"id": "custom.transform", "value": "negative-Y"}],
        }]),
        None => crate::jv!([]),
    };
    crate::jv!({
        "datasource": ds(),
        "description": description,
        "fieldConfig": {
            "defaults": {
                "color": {"mode": "palette-classic"},
                "custom": {
                    "axisPlacement": "auto", "drawStyle": "line", "fillOpacity": 10,
                    "lineWidth": 1, "pointSize": 4, "showPoints": "never", "spanNulls": false,
                    "stacking": {"group": "A", "mode": "none"},
                },
                "thresholds": thresholds(&[("green", None)]),
                "unit": unit,
            },
            "overrides": overrides,
        },
        "gridPos": pos.to_json(),
        "id": id,
        "options": {
            "legend": {"calcs": ["mean", "max", "lastNotNull"], "displayMode": "table", "placement": "bottom", "showLegend": true},
            "tooltip": {"mode": "multi", "sort": "none"},
        },
        "targets": targets(queries, false),
        "title": title,
        "type": "timeseries",
    })
}

/// A stat panel with a value mapping (status tiles).
pub fn stat(
    id: u32,
    title: &str,
    description: &str,
    queries: &[Query],
    mappings: Value,
    unit: &str,
    pos: GridPos,
) -> Value {
    let defaults = crate::jv!({
        "color": {"mode": "thresholds"},
        "mappings": mappings,
        "noValue": "no data",
        "thresholds": thresholds(&[("red", None), ("green", Some(1.0))]),
        "unit": unit,
    });
    let mut panel = stat_panel(id, title, queries, defaults, "background", pos);
    if let Value::Object(m) = &mut panel {
        m.insert("description".into(), description.into());
    }
    panel
}

/// A status tile (0 healthy, 1 degraded, 2 down) coloured by [`status_mapping`].
pub fn status_stat(
    id: u32,
    title: &str,
    description: &str,
    queries: &[Query],
    pos: GridPos,
) -> Value {
    let defaults = crate::jv!({
        "color": {"mode": "thresholds"},
        "mappings": status_mapping(),
        "noValue": "no data",
        "thresholds": thresholds(&[("green", None), ("orange", Some(1.0)), ("red", Some(2.0))]),
        "unit": "none",
    });
    let mut panel = stat_panel(id, title, queries, defaults, "background", pos);
    if let Value::Object(m) = &mut panel {
        m.insert("description".into(), description.into());
    }
    panel
}

/// A plain number stat (MTU, speed): no colouring by thresholds.
pub fn value_stat(id: u32, title: &str, queries: &[Query], unit: &str, pos: GridPos) -> Value {
    let defaults = crate::jv!({
        "color": {"mode": "fixed", "fixedColor": "blue"},
        "noValue": "no data",
        "thresholds": thresholds(&[("blue", None)]),
        "unit": unit,
    });
    stat_panel(id, title, queries, defaults, "value", pos)
}

/// What both kinds of stat panel share; `defaults` is their `fieldConfig.defaults`.
fn stat_panel(
    id: u32,
    title: &str,
    queries: &[Query],
    defaults: Value,
    color_mode: &str,
    pos: GridPos,
) -> Value {
    crate::jv!({
        "datasource": ds(),
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "gridPos": pos.to_json(),
        "id": id,
        "options": {
            "colorMode": color_mode, "graphMode": "none", "justifyMode": "center",
            "orientation": "auto", "textMode": "value_and_name", "wideLayout": true,
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": false},
        },
        "targets": targets(queries, false),
        "title": title,
        "type": "stat",
    })
}

/// A state timeline (status over time; 1 = green, anything below = red unless mapped).
pub fn state_timeline(
    id: u32,
    title: &str,
    description: &str,
    queries: &[Query],
    mappings: Value,
    pos: GridPos,
) -> Value {
    crate::jv!({
        "datasource": ds(),
        "description": description,
        "fieldConfig": {
            "defaults": {
                "color": {"mode": "thresholds"},
                "custom": {"fillOpacity": 80, "lineWidth": 0},
                "mappings": mappings,
                "thresholds": thresholds(&[("red", None), ("green", Some(1.0))]),
            },
            "overrides": [],
        },
        "gridPos": pos.to_json(),
        "id": id,
        "options": {
            "alignValue": "left", "mergeValues": true, "rowHeight": 0.9, "showValue": "auto",
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": false},
            "tooltip": {"mode": "single", "sort": "none"},
        },
        "targets": targets(queries, false),
        "title": title,
        "type": "state-timeline",
    })
}

/// A table of an instant query (e.g. the ARP table).
pub fn table(id: u32, title: &str, description: &str, query: Query, pos: GridPos) -> Value {
    crate::jv!({
        "datasource": ds(),
        "description": description,
        "fieldConfig": {"defaults": {"thresholds": thresholds(&[("green", None)])}, "overrides": []},
        "gridPos": pos.to_json(),
        "id": id,
        "options": {"cellHeight": "sm", "showHeader": true},
        "targets": targets(std::slice::from_ref(&query), true),
        "title": title,
        "transformations": [{"id": "organize", "options": {
            "excludeByName": {"Time": true, "Value": true, "__name__": true, "job": true},
        }}],
        "type": "table",
    })
}

/// The checks of a flow as a table, one line per check (hop, check, subject, severity,
/// state); the query's value is 0 ok, 1 failing warning, 2 failing critical, and it sorts
/// failing checks first.
pub fn checks_table(id: u32, title: &str, description: &str, query: Query, pos: GridPos) -> Value {
    crate::jv!({
        "datasource": ds(),
        "description": description,
        "fieldConfig": {
            "defaults": {"thresholds": thresholds(&[("green", None)])},
            "overrides": [{
                "matcher": {"id": "byName", "options": "Value"},
                "properties": [
                    {"id": "displayName", "value": "state"},
                    {"id": "mappings", "value": check_state_mapping()},
                    {"id": "custom.cellOptions", "value": {"type": "color-background"}},
                ],
            }],
        },
        "gridPos": pos.to_json(),
        "id": id,
        "options": {"cellHeight": "sm", "showHeader": true},
        "targets": targets(std::slice::from_ref(&query), true),
        "title": title,
        "transformations": [{"id": "organize", "options": {
            "excludeByName": {"Time": true, "__name__": true, "flow": true},
            "indexByName": {"hop": 0, "check": 1, "subject": 2, "severity": 3, "Value": 4},
        }}],
        "type": "table",
    })
}

/// The path as a node graph (built-in panel): an instant table query with refId `nodes`
/// whose labels are the node fields (`id`, `title`, `mainstat`, `color`) and one with
/// refId `edges` whose labels are `id`, `source`, `target` and whose value is the edge's
/// main statistic (`Value #edges`, renamed `mainstat`).
pub fn node_graph(
    id: u32,
    title: &str,
    description: &str,
    nodes: &str,
    edges: &str,
    edge_unit: &str,
    pos: GridPos,
) -> Value {
    let t = |expr: &str, ref_id: &str| {
        crate::jv!({
            "datasource": ds(),
            "editorMode": "code",
            "expr": expr,
            "format": "table",
            "instant": true,
            "legendFormat": "",
            "range": false,
            "refId": ref_id,
        })
    };
    crate::jv!({
        "datasource": ds(),
        "description": description,
        "fieldConfig": {"defaults": {}, "overrides": []},
        "gridPos": pos.to_json(),
        "id": id,
        "options": {
            "edges": {"mainStatUnit": edge_unit},
            "layoutAlgorithm": "layered",
            "nodes": {},
            "zoomMode": "cooperative",
        },
        "targets": [t(nodes, "nodes"), t(edges, "edges")],
        "title": title,
        "transformations": [{"id": "organize", "options": {
            "excludeByName": {"Time": true, "Time #edges": true, "Time #nodes": true, "__name__": true, "flow": true},
            "renameByName": {"Value #edges": "mainstat"},
        }}],
        "type": "nodeGraph",
    })
}

/// The Mermaid path diagram (jdbranham-diagram-panel plugin; opt-in).
pub fn mermaid(id: u32, title: &str, content: &str, queries: &[Query], pos: GridPos) -> Value {
    crate::jv!({
        "datasource": ds(),
        "gridPos": pos.to_json(),
        "id": id,
        "options": {"content": content, "mode": "content", "nodeSize": {"minHeight": 40, "minWidth": 30}},
        "targets": targets(queries, false),
        "title": title,
        "type": "jdbranham-diagram-panel",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ref_ids_are_unique_letters() {
        assert_eq!(ref_id(0), "A");
        assert_eq!(ref_id(25), "Z");
        assert_eq!(ref_id(26), "AA");
        assert_eq!(ref_id(27), "AB");
        let ids: std::collections::HashSet<String> = (0..1000).map(ref_id).collect();
        assert_eq!(ids.len(), 1000);
    }
}
