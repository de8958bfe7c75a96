//! `rtmon-dashboards preview`: a small static HTML page that lays out a dashboard's
//! panels at their gridPos (24 columns, 30 px per grid unit, as Grafana does) with
//! their titles, types and the current values of their queries (instant queries against
//! Prometheus), coloured by value mappings and thresholds; rows as headings; query
//! errors in the tile. A debugging aid to look at without Grafana, not a replacement:
//! no graphs, no time range, only "now" (or `--time`).

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;

use serde_json::{Map, Value};

use crate::grafana::check::instantiate;

/// Pixels per grid unit of height (Grafana's row height).
pub const UNIT_PX: u32 = 30;

/// Result of one target's instant query.
#[derive(Clone, Debug)]
pub struct Series {
    /// Labels of the series.
    pub labels: Map<String, Value>,
    /// Its value.
    pub value: f64,
}

/// Outcome of a target: the series, or the error.
pub type TargetResult = Result<Vec<Series>, String>;

/// Runs an instant query at `time` (Prometheus' `time` parameter: unix seconds or
/// RFC 3339; none: now).
pub async fn query(
    c: &reqwest::Client,
    prometheus: &str,
    expr: &str,
    time: Option<&str>,
) -> TargetResult {
    Ok(crate::client::prom_query_at(c, prometheus, expr, time)
        .await?
        .into_iter()
        .map(|(labels, value)| Series { labels, value })
        .collect())
}

/// Every panel, row children included, in document order.
pub fn panels(d: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for p in d["panels"].as_array().into_iter().flatten() {
        out.push(p);
        for c in p["panels"].as_array().into_iter().flatten() {
            out.push(c);
        }
    }
    out
}

/// Queries every target of every panel: results by (panel index, refId).
pub async fn fetch(
    c: &reqwest::Client,
    prometheus: &str,
    d: &Value,
    rate_interval: &str,
    time: Option<&str>,
) -> HashMap<(usize, String), TargetResult> {
    let mut out = HashMap::new();
    for (i, p) in panels(d).iter().enumerate() {
        for t in p["targets"].as_array().into_iter().flatten() {
            let Some(expr) = t["expr"].as_str() else {
                continue;
            };
            let r = query(c, prometheus, &instantiate(expr, rate_interval), time).await;
            out.insert((i, t["refId"].as_str().unwrap_or("A").to_string()), r);
        }
    }
    out
}

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '&' => o.push_str("&amp;"),
            '"' => o.push_str("&quot;"),
            _ => o.push(c),
        }
    }
    o
}

/// Grafana colour names to CSS.
fn css_color(c: &str) -> String {
    match c {
        "green" => "#37872d".into(),
        "red" => "#c4162a".into(),
        "orange" => "#fa6400".into(),
        "blue" => "#1f60c4".into(),
        "purple" => "#8f3bb8".into(),
        "yellow" => "#e0b400".into(),
        c if c
            .chars()
            .all(|x| x.is_ascii_alphanumeric() || "#(),. ".contains(x)) =>
        {
            c.into()
        }
        _ => "#444".into(),
    }
}

/// A value formatted for its Grafana unit.
pub fn format_value(v: f64, unit: &str) -> String {
    let u = match unit {
        "percentunit" => "ratio",
        "bps" | "pps" | "s" | "bytes" => unit,
        _ => "",
    };
    crate::engine::checks::fmt_value(v, u)
}

/// Text and colour of `v` by the field config's value mappings, else its thresholds.
fn display(v: f64, cfg: &Value) -> (String, Option<String>) {
    let unit = cfg["unit"].as_str().unwrap_or("");
    for m in cfg["mappings"].as_array().into_iter().flatten() {
        if m["type"] != "value" {
            continue;
        }
        for (k, o) in m["options"].as_object().into_iter().flatten() {
            if k.parse::<f64>().ok() == Some(v) {
                let text = o["text"]
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| format_value(v, unit));
                return (text, o["color"].as_str().map(css_color));
            }
        }
    }
    let mut color = None;
    let coloured_cell = cfg["custom"]["cellOptions"]["type"]
        .as_str()
        .is_some_and(|t| t.starts_with("color"));
    if cfg["color"]["mode"] == "thresholds" || coloured_cell {
        for s in cfg["thresholds"]["steps"].as_array().into_iter().flatten() {
            let reached = s["value"].as_f64().is_none_or(|t| v >= t);
            if reached {
                color = s["color"].as_str().map(css_color);
            }
        }
    } else if let Some(c) = cfg["color"]["fixedColor"].as_str() {
        color = Some(css_color(c));
    }
    (format_value(v, unit), color)
}

/// `{{label}}` of a legend format filled from the labels; the labels when empty.
fn legend(format: &str, labels: &Map<String, Value>) -> String {
    let label_text = |k: &str| {
        labels
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    if format.trim().is_empty() {
        let parts: Vec<String> = labels
            .iter()
            .filter(|(k, _)| k.as_str() != "__name__")
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
            .collect();
        return parts.join(", ");
    }
    let mut out = String::new();
    let mut rest = format;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find("}}") else {
            break;
        };
        out.push_str(&label_text(rest[start + 2..start + end].trim()));
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    out
}

/// The field config of a column: defaults plus the properties of byName overrides.
fn field_config(panel: &Value, name: &str) -> Value {
    let mut cfg = panel["fieldConfig"]["defaults"].clone();
    for o in panel["fieldConfig"]["overrides"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if o["matcher"]["id"] == "byName" && o["matcher"]["options"] == name {
            for p in o["properties"].as_array().into_iter().flatten() {
                let Some(id) = p["id"].as_str() else { continue };
                let mut target = &mut cfg;
                let parts: Vec<&str> = id.split('.').collect();
                for (i, part) in parts.iter().enumerate() {
                    if !target.is_object() {
                        *target = Value::Object(Map::new());
                    }
                    if i + 1 == parts.len() {
                        target[*part] = p["value"].clone();
                    } else {
                        target = &mut target[*part];
                    }
                }
            }
        }
    }
    cfg
}

/// A merged table (Grafana's `merge` + `organize` + `sortBy`, as far as the generated
/// dashboards use them): rows keyed by the labels every target's series share.
fn table_html(panel: &Value, results: &[(String, &TargetResult)]) -> String {
    let ok: Vec<(&String, &Vec<Series>)> = results
        .iter()
        .filter_map(|(r, res)| res.as_ref().ok().map(|s| (r, s)))
        .collect();
    // Key: labels present in every series of every target that has data.
    let mut key: Option<BTreeSet<String>> = None;
    let mut all_labels = BTreeSet::new();
    for (_, ss) in &ok {
        for s in ss.iter() {
            let names: BTreeSet<String> = s
                .labels
                .keys()
                .filter(|k| k.as_str() != "__name__")
                .cloned()
                .collect();
            all_labels.extend(names.iter().cloned());
            key = Some(match key {
                None => names,
                Some(k) => k.intersection(&names).cloned().collect(),
            });
        }
    }
    let key = key.unwrap_or_default();
    let mut rows: Vec<HashMap<String, Value>> = Vec::new();
    let mut index: HashMap<Vec<String>, usize> = HashMap::new();
    for (r, ss) in &ok {
        for s in ss.iter() {
            let k: Vec<String> = key
                .iter()
                .map(|l| {
                    s.labels
                        .get(l)
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string()
                })
                .collect();
            let i = *index.entry(k).or_insert_with(|| {
                rows.push(HashMap::new());
                rows.len() - 1
            });
            for (l, v) in &s.labels {
                if l != "__name__" {
                    rows[i].insert(l.clone(), v.clone());
                }
            }
            let field = if results.len() > 1 {
                format!("Value #{r}")
            } else {
                "Value".into()
            };
            rows[i].insert(field, Value::from(s.value));
        }
    }
    let mut fields: Vec<String> = all_labels.into_iter().collect();
    for (r, _) in results {
        fields.push(if results.len() > 1 {
            format!("Value #{r}")
        } else {
            "Value".into()
        });
    }
    let (mut exclude, mut rename, mut order) = (Map::new(), Map::new(), Map::new());
    for t in panel["transformations"].as_array().into_iter().flatten() {
        match t["id"].as_str() {
            Some("organize") => {
                let o = &t["options"];
                exclude = o["excludeByName"].as_object().cloned().unwrap_or_default();
                rename = o["renameByName"].as_object().cloned().unwrap_or_default();
                order = o["indexByName"].as_object().cloned().unwrap_or_default();
            }
            Some("sortBy") => {
                if let Some(s) = t["options"]["sort"].as_array().and_then(|a| a.first()) {
                    let f = s["field"].as_str().unwrap_or("").to_string();
                    let desc = s["desc"].as_bool().unwrap_or(false);
                    let val = |r: &HashMap<String, Value>| {
                        r.get(&f)
                            .and_then(Value::as_f64)
                            .unwrap_or(f64::NEG_INFINITY)
                    };
                    rows.sort_by(|a, b| {
                        let o = val(a).total_cmp(&val(b));
                        if desc {
                            o.reverse()
                        } else {
                            o
                        }
                    });
                }
            }
            _ => {}
        }
    }
    fields.retain(|f| !exclude.get(f).and_then(Value::as_bool).unwrap_or(false));
    fields.sort_by_key(|f| order.get(f).and_then(Value::as_u64).unwrap_or(u64::MAX));
    let shown = |f: &String| {
        rename
            .get(f)
            .and_then(Value::as_str)
            .unwrap_or(f)
            .to_string()
    };
    let fields: Vec<(String, String, Value)> = fields
        .into_iter()
        .map(|f| {
            let name = shown(&f);
            let cfg = field_config(panel, &name);
            (f, name, cfg)
        })
        .filter(|(_, _, cfg)| cfg["custom"]["hidden"] != Value::Bool(true))
        .collect();
    let link = panel["fieldConfig"]["defaults"]["links"][0]["url"].as_str();
    let mut h = String::from("<table><tr>");
    for (_, name, _) in &fields {
        let _ = write!(h, "<th>{}</th>", esc(name));
    }
    h.push_str("</tr>");
    for row in &rows {
        h.push_str("<tr>");
        for (i, (f, _, cfg)) in fields.iter().enumerate() {
            let (text, color) = match row.get(f) {
                Some(Value::String(s)) => (s.clone(), None),
                Some(v) => match v.as_f64() {
                    Some(x) => display(x, cfg),
                    None => (String::new(), None),
                },
                None => (cfg["noValue"].as_str().unwrap_or("").to_string(), None),
            };
            let prop = if cfg["custom"]["cellOptions"]["type"] == "color-text" {
                "color"
            } else {
                "background"
            };
            let style = color
                .map(|c| format!(" style=\"{prop}:{c}\""))
                .unwrap_or_default();
            let cell = match (i, link) {
                (0, Some(url)) => format!(
                    "<a href=\"{}\">{}</a>",
                    esc(&data_link(url, row)),
                    esc(&text)
                ),
                _ => esc(&text),
            };
            let _ = write!(h, "<td{style}>{cell}</td>");
        }
        h.push_str("</tr>");
    }
    h.push_str("</table>");
    for (r, res) in results {
        if let Err(e) = res {
            let _ = write!(h, "<div class=\"err\">query {r}: {}</div>", esc(e));
        }
    }
    if rows.is_empty() {
        h.push_str("<div class=\"nodata\">no data</div>");
    }
    h
}

/// A data link with `${__data.fields.<name>}` filled from the row; other variables
/// (time range, datasource) dropped.
fn data_link(url: &str, row: &HashMap<String, Value>) -> String {
    let mut out = String::new();
    let mut rest = url;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('}') else {
            break;
        };
        let var = &rest[start + 2..start + end];
        if let Some(f) = var.strip_prefix("__data.fields.") {
            out.push_str(row.get(f).and_then(Value::as_str).unwrap_or(""));
        }
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    out.replace("?&", "?")
        .trim_end_matches(['&', '?'])
        .to_string()
}

fn values_html(panel: &Value, results: &[(String, &TargetResult)], big: bool) -> String {
    let cfg = &panel["fieldConfig"]["defaults"];
    let legend_of = |r: &str| {
        panel["targets"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|t| t["refId"] == r)
            .and_then(|t| t["legendFormat"].as_str())
            .unwrap_or("")
            .to_string()
    };
    let mut h = String::new();
    let mut any = false;
    for (r, res) in results {
        match res {
            Err(e) => {
                let _ = write!(h, "<div class=\"err\">query {r}: {}</div>", esc(e));
            }
            Ok(ss) => {
                for s in ss {
                    any = true;
                    let (text, color) = display(s.value, cfg);
                    let style = color
                        .map(|c| format!(" style=\"background:{c}\""))
                        .unwrap_or_default();
                    let class = if big { "v big" } else { "v" };
                    let _ = write!(
                        h,
                        "<div class=\"{class}\"{style}><span class=\"l\">{}</span> <b>{}</b></div>",
                        esc(&legend(&legend_of(r), &s.labels)),
                        esc(&text)
                    );
                }
            }
        }
    }
    if !any && !results.iter().any(|(_, r)| r.is_err()) {
        let nv = cfg["noValue"].as_str().unwrap_or("no data");
        let _ = write!(h, "<div class=\"nodata\">{}</div>", esc(nv));
    }
    h
}

/// The HTML page of dashboard `d` with query results `results` (from [`fetch`]).
pub fn render(d: &Value, results: &HashMap<(usize, String), TargetResult>, when: &str) -> String {
    let all = panels(d);
    let bottom = all
        .iter()
        .map(|p| p["gridPos"]["y"].as_u64().unwrap_or(0) + p["gridPos"]["h"].as_u64().unwrap_or(0))
        .max()
        .unwrap_or(0);
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title><style>
body{{background:#111217;color:#ccccdc;font:13px sans-serif;margin:8px}}
h1{{font-size:18px;margin:4px 0 8px}}
.grid{{position:relative;width:100%;height:{height}px}}
.p{{position:absolute;box-sizing:border-box;padding:4px;border:1px solid #2c3235;background:#181b1f;overflow:hidden}}
.p .t{{font-weight:bold;white-space:nowrap;overflow:hidden}} .p .k{{color:#8e8e8e;font-size:11px;font-weight:normal}}
.row{{position:absolute;box-sizing:border-box;border-bottom:1px solid #444;font-size:15px;font-weight:bold;padding:6px 2px}}
.v{{margin:2px 0;padding:1px 4px;border-radius:2px}} .v.big{{font-size:20px;text-align:center}}
.l{{color:#ddd}} .err{{color:#ff7383;white-space:pre-wrap}} .nodata{{color:#888;font-style:italic}}
table{{border-collapse:collapse;width:100%}} td,th{{border:1px solid #2c3235;padding:2px 4px;text-align:left}}
a{{color:#6e9fff}} pre{{white-space:pre-wrap;font-size:11px;margin:0}}
</style></head><body>\n<h1>{title}</h1><div>values at {when}</div>\n<div class=\"grid\">\n",
        title = esc(d["title"].as_str().unwrap_or("dashboard")),
        height = bottom * u64::from(UNIT_PX),
        when = esc(when),
    );
    for (i, p) in all.iter().enumerate() {
        let g = &p["gridPos"];
        let num = |k: &str| g[k].as_u64().unwrap_or(0);
        let (x, y, w, ht) = (num("x"), num("y"), num("w").max(1), num("h").max(1));
        let pos = format!(
            "left:{:.4}%;top:{}px;width:{:.4}%;height:{}px",
            x as f64 * 100.0 / 24.0,
            y * u64::from(UNIT_PX),
            w as f64 * 100.0 / 24.0,
            ht * u64::from(UNIT_PX)
        );
        let title = esc(p["title"].as_str().unwrap_or(""));
        let kind = p["type"].as_str().unwrap_or("?");
        if kind == "row" {
            let _ = writeln!(h, "<div class=\"row\" style=\"{pos}\">{title}</div>");
            continue;
        }
        let res: Vec<(String, &TargetResult)> = p["targets"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| {
                let r = t["refId"].as_str().unwrap_or("A").to_string();
                results.get(&(i, r.clone())).map(|x| (r, x))
            })
            .collect();
        let body = match kind {
            "text" => format!(
                "<pre>{}</pre>",
                esc(p["options"]["content"].as_str().unwrap_or(""))
            ),
            "table" => table_html(p, &res),
            "stat" => values_html(p, &res, true),
            _ => values_html(p, &res, false),
        };
        let _ = writeln!(
            h,
            "<div class=\"p\" style=\"{pos}\"><div class=\"t\">{title} <span class=\"k\">{}</span></div>{body}</div>",
            esc(kind)
        );
    }
    h.push_str("</div></body></html>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn legends_fill_labels() {
        let l = json!({"ifName": "eth0", "x": "y"});
        let m = l.as_object().expect("object");
        assert_eq!(legend("{{ifName}} in", m), "eth0 in");
        assert_eq!(legend("", m), "ifName=eth0, x=y");
    }

    #[test]
    fn mappings_then_thresholds_colour_values() {
        let cfg = json!({"color": {"mode": "thresholds"},
            "mappings": [{"type": "value", "options": {"0": {"color": "red", "text": "DOWN"}}}],
            "thresholds": {"steps": [{"color": "red", "value": null}, {"color": "green", "value": 1}]}});
        assert_eq!(display(0.0, &cfg), ("DOWN".into(), Some("#c4162a".into())));
        assert_eq!(display(3.0, &cfg), ("3".into(), Some("#37872d".into())));
        assert_eq!(
            display(0.5, &json!({"unit": "percentunit"})),
            ("50 %".into(), None)
        );
    }

    #[test]
    fn data_links_take_the_row_fields() {
        let mut row = HashMap::new();
        row.insert("dashboard_uid".to_string(), json!("rtmon-a"));
        assert_eq!(
            data_link(crate::grafana::fleet::ROW_LINK, &row),
            "/d/rtmon-a"
        );
    }
}
