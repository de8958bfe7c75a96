//! `check`: runs every panel query, every annotation query and every rule's data
//! selector against a live Prometheus and explains each one that returns no data
//! (metric missing entirely, or which label value matches nothing, with the values that
//! do exist).

use serde_json::Value;

use crate::client::{prom_query, url_with};
use crate::engine::checks::{flow_checks, Check};
use crate::grafana::dashboard;
use crate::Options;

/// The outcome of one expression.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// Where it comes from: `panel "<title>"`, `annotation "<name>"` or `rule <check id>`.
    pub origin: String,
    /// The PromQL that was run.
    pub expr: String,
    /// Number of series returned.
    pub series: usize,
    /// For checks: the check's value (1 healthy, 0 not).
    pub healthy: Option<bool>,
    /// Why there is no data, when there is none.
    pub why: Option<String>,
}

/// A `name{matchers}` selector found in an expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selector {
    /// Metric name.
    pub metric: String,
    /// (label, op, value) with the value unescaped.
    pub matchers: Vec<(String, String, String)>,
}

/// Extracts the `name{…}` selectors of an expression (enough for diagnostics; not a
/// full PromQL parser).
pub fn selectors(expr: &str) -> Vec<Selector> {
    let b = expr.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        // Skip string literals outside selectors.
        if b[i] == b'"' {
            i = skip_string(b, i);
            continue;
        }
        if b[i] == b'{' {
            // Metric name: identifier chars right before '{'.
            let mut s = i;
            while s > 0
                && (b[s - 1].is_ascii_alphanumeric() || b[s - 1] == b'_' || b[s - 1] == b':')
            {
                s -= 1;
            }
            let name = &expr[s..i];
            let end = match find_close(b, i) {
                Some(e) => e,
                None => break,
            };
            if !name.is_empty()
                && !name.as_bytes()[0].is_ascii_digit()
                && name != "by"
                && name != "without"
            {
                out.push(Selector {
                    metric: name.to_string(),
                    matchers: parse_matchers(&expr[i + 1..end]),
                });
            }
            i = end + 1;
            continue;
        }
        i += 1;
    }
    out
}

fn skip_string(b: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    b.len()
}

fn find_close(b: &[u8], open: usize) -> Option<usize> {
    let mut i = open + 1;
    while i < b.len() {
        match b[i] {
            b'"' => i = skip_string(b, i),
            b'}' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

fn parse_matchers(s: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && (b[i] == b',' || b[i] == b' ') {
            i += 1;
        }
        let ls = i;
        while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
            i += 1;
        }
        let label = &s[ls..i];
        let os = i;
        while i < b.len() && matches!(b[i], b'=' | b'!' | b'~') {
            i += 1;
        }
        let op = &s[os..i];
        if i >= b.len() || b[i] != b'"' || label.is_empty() {
            break;
        }
        let end = skip_string(b, i);
        let raw = &s[i..end];
        let value: String =
            serde_json::from_str(raw).unwrap_or_else(|_| raw.trim_matches('"').to_string());
        out.push((label.to_string(), op.to_string(), value));
        i = end;
    }
    out
}

fn render_selector(metric: &str, matchers: &[(String, String, String)]) -> String {
    let m: Vec<String> = matchers
        .iter()
        .map(|(l, op, v)| format!("{l}{op}{}", crate::engine::checks::promql_str(v)))
        .collect();
    format!("{metric}{{{}}}", m.join(","))
}

/// Explains why `expr` returns nothing: the first selector whose metric is missing, or
/// whose label matcher matches no series (with the existing values of that label).
pub async fn diagnose(c: &reqwest::Client, prometheus: &str, expr: &str) -> String {
    for sel in selectors(expr) {
        let all = prom_query(c, prometheus, &format!("count({})", sel.metric))
            .await
            .unwrap_or_default();
        if all.is_empty() {
            return format!(
                "metric `{}` has no series at all (exporter not scraped, or named differently)",
                sel.metric
            );
        }
        for (i, (label, op, value)) in sel.matchers.iter().enumerate() {
            let partial = render_selector(&sel.metric, &sel.matchers[..=i]);
            let n = prom_query(c, prometheus, &format!("count({partial})"))
                .await
                .unwrap_or_default();
            if n.is_empty() {
                let prefix = render_selector(&sel.metric, &sel.matchers[..i]);
                let existing = label_values(c, prometheus, &prefix, label).await;
                return format!(
                    "`{}` has no series with {label}{op}{value:?}{}; existing values: {}",
                    sel.metric,
                    if i > 0 {
                        " (given the matchers before it)"
                    } else {
                        ""
                    },
                    if existing.is_empty() {
                        "none".to_string()
                    } else {
                        existing.join(", ")
                    }
                );
            }
        }
    }
    "every selector has data; the expression itself filters everything out (a comparison or a join)"
        .into()
}

async fn label_values(
    c: &reqwest::Client,
    prometheus: &str,
    selector: &str,
    label: &str,
) -> Vec<String> {
    let Ok(url) = url_with(
        prometheus,
        &format!("api/v1/label/{label}/values"),
        &[("match[]", selector)],
    ) else {
        return Vec::new();
    };
    let Ok(resp) = c.get(url).send().await else {
        return Vec::new();
    };
    let Ok(text) = resp.text().await else {
        return Vec::new();
    };
    let Ok(v) = serde_json::from_str::<Value>(&text) else {
        return Vec::new();
    };
    let mut vals: Vec<String> = v["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| x.as_str().map(|s| format!("{s:?}")))
        .collect();
    vals.truncate(12);
    vals
}

/// Substitutes Grafana's variables so a panel expression can be run as is.
pub fn instantiate(expr: &str, rate_interval: &str) -> String {
    expr.replace("$__rate_interval", rate_interval)
        .replace("$__interval", rate_interval)
}

/// Runs every panel query, annotation query and rule data selector of `flow` against
/// Prometheus.
pub async fn check_flow(
    c: &reqwest::Client,
    prometheus: &str,
    flow: &rtmon::flow::Flow,
    opts: &Options,
    rate_interval: &str,
) -> Result<Vec<Outcome>, String> {
    let mut out = Vec::new();
    let d = dashboard::build(flow, opts);
    let panels = dashboard::exprs(&d)
        .into_iter()
        .map(|(t, e)| (format!("panel {t:?}"), e));
    let annotations = dashboard::annotation_exprs(&d)
        .into_iter()
        .map(|(n, e)| (format!("annotation {n:?}"), e));
    for (origin, expr) in panels.chain(annotations) {
        let e = instantiate(&expr, rate_interval);
        let r = prom_query(c, prometheus, &e).await?;
        let why = if r.is_empty() {
            Some(diagnose(c, prometheus, &e).await)
        } else {
            None
        };
        out.push(Outcome {
            origin,
            expr: e,
            series: r.len(),
            healthy: None,
            why,
        });
    }
    for ch in flow_checks(flow, opts) {
        out.push(check_one(c, prometheus, &ch).await?);
    }
    Ok(out)
}

async fn check_one(c: &reqwest::Client, prometheus: &str, ch: &Check) -> Result<Outcome, String> {
    let data = prom_query(c, prometheus, &ch.data_expr).await?;
    let why = if data.is_empty() {
        Some(diagnose(c, prometheus, &ch.data_expr).await)
    } else {
        None
    };
    let v = prom_query(c, prometheus, &ch.expr).await?;
    let healthy = v.first().map(|(_, x)| *x >= 1.0);
    Ok(Outcome {
        origin: format!("rule {} ({})", ch.id(), ch.description),
        expr: ch.data_expr.clone(),
        series: data.len(),
        healthy,
        why,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_are_extracted_with_unescaped_values() {
        let e = "rate(ifHCInOctets{instance=\"sw\",ifName=\"hundredGigE 1/27\"}[5m]) * 8 + max by (a) (x{y=~\"1\\\\.2(:[0-9]+)?\"}) or on() vector(0)";
        let s = selectors(e);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].metric, "ifHCInOctets");
        assert_eq!(
            s[0].matchers,
            vec![
                ("instance".into(), "=".into(), "sw".into()),
                ("ifName".into(), "=".into(), "hundredGigE 1/27".into())
            ]
        );
        assert_eq!(
            s[1].matchers[0],
            ("y".into(), "=~".into(), "1\\.2(:[0-9]+)?".into())
        );
        assert_eq!(
            render_selector(&s[1].metric, &s[1].matchers),
            "x{y=~\"1\\\\.2(:[0-9]+)?\"}"
        );
    }

    #[test]
    fn braces_in_strings_do_not_confuse() {
        let s = selectors("label_replace(a{b=\"}{\"}, \"x\", \"$1\", \"y\", \"(.*)\")");
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].matchers[0].2, "}{");
    }

    #[test]
    fn variables_are_instantiated() {
        assert_eq!(
            instantiate("rate(x[$__rate_interval])", "1m"),
            "rate(x[1m])"
        );
    }
}
