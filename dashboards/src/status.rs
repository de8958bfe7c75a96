//! `status`: evaluates each flow's layer-2 checks (the same [`crate::checks`] the rules
//! and dashboards use) against Prometheus and rolls them up: flow → hop → check, with the
//! value, since when it has been in that state, and one verdict per flow.
//!
//! JSON shape (`--output json`), stable for tools:
//! ```json
//! {"status": "healthy|degraded|unknown",
//!  "evaluated_at": "2026-11-21T12:03:10.000Z",
//!  "flows": [{"flow": "id", "title": "…", "status": "healthy|degraded|unknown",
//!             "summary": "degraded: sw-a port hundredGigE 1/31 oper down since 12:03:10",
//!             "hops": [{"hop": "sw-a", "checks": [{"check": "port_oper_up",
//!                 "subject": "hundredGigE 1/31", "healthy": false, "value": 0,
//!                 "text": "sw-a port hundredGigE 1/31 oper down",
//!                 "since": "2026-11-21T12:03:10.000Z", "since_unix": 1795262590,
//!                 "error": null, "expr": "…"}]}]}]}
//! ```
//! `healthy` is null and `error` set when a check could not be evaluated; `since` is
//! null when the state has not changed within the look-back window (it is older).

use serde_json::{json, Value};

use crate::checks::{flow_checks, Check};
use crate::client::{prom_query, url_with};
use crate::Options;

/// Overall state, ordered by severity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum State {
    /// Every check is healthy.
    Healthy,
    /// At least one check fails.
    Degraded,
    /// Some check could not be evaluated (Prometheus unreachable, bad query).
    Unknown,
}

impl State {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            State::Healthy => "healthy",
            State::Degraded => "degraded",
            State::Unknown => "unknown",
        }
    }
    /// Process exit code: 0 healthy, 1 degraded, 2 could not evaluate.
    pub fn exit_code(self) -> u8 {
        match self {
            State::Healthy => 0,
            State::Degraded => 1,
            State::Unknown => 2,
        }
    }
}

/// The evaluated state of one check.
#[derive(Clone, Debug)]
pub struct CheckState {
    /// The check.
    pub check: Check,
    /// 1 healthy / 0 failing; None when it could not be evaluated.
    pub value: Option<f64>,
    /// Unix time since which the check has had its current value (within the window).
    pub since: Option<i64>,
    /// Why it could not be evaluated.
    pub error: Option<String>,
}

impl CheckState {
    /// Healthy (Some(true)), failing (Some(false)) or unknown (None).
    pub fn healthy(&self) -> Option<bool> {
        self.value.map(|v| v >= 1.0)
    }
}

/// One flow's evaluated status.
#[derive(Clone, Debug)]
pub struct FlowStatus {
    /// Flow id.
    pub flow: String,
    /// Flow title.
    pub title: String,
    /// Hop names in path order.
    pub hops: Vec<String>,
    /// Checks in path order.
    pub checks: Vec<CheckState>,
}

fn hms(unix: i64) -> String {
    let full = rtmon::log::rfc3339(unix, 0);
    full.get(11..19).unwrap_or(&full).to_string()
}

impl FlowStatus {
    /// The roll-up state.
    pub fn state(&self) -> State {
        self.checks
            .iter()
            .map(|c| match c.healthy() {
                Some(true) => State::Healthy,
                Some(false) => State::Degraded,
                None => State::Unknown,
            })
            .max()
            .unwrap_or(State::Unknown)
    }

    /// One-line verdict: `healthy`, `degraded: <first failing check> since HH:MM:SS`
    /// (+ how many more), or `unknown: <why>`.
    pub fn summary(&self) -> String {
        match self.state() {
            State::Healthy => "healthy".into(),
            State::Unknown => {
                let first = self.checks.iter().find(|c| c.healthy().is_none());
                format!(
                    "unknown: could not evaluate {}",
                    first
                        .map(|c| format!(
                            "{} ({})",
                            c.check.id(),
                            c.error.as_deref().unwrap_or("no value")
                        ))
                        .unwrap_or_else(|| "any check".into())
                )
            }
            State::Degraded => {
                let failing: Vec<&CheckState> = self
                    .checks
                    .iter()
                    .filter(|c| c.healthy() == Some(false))
                    .collect();
                let first = failing[0];
                let mut s = format!("degraded: {}", first.check.failure);
                if let Some(t) = first.since {
                    s.push_str(&format!(" since {}", hms(t)));
                }
                if failing.len() > 1 {
                    s.push_str(&format!(" (+{} more failing)", failing.len() - 1));
                }
                s
            }
        }
    }

    /// The documented JSON shape.
    pub fn to_json(&self) -> Value {
        let hops: Vec<Value> = self
            .hops
            .iter()
            .map(|h| {
                let checks: Vec<Value> = self
                    .checks
                    .iter()
                    .filter(|c| &c.check.hop == h)
                    .map(|c| {
                        json!({
                            "check": c.check.kind.name(),
                            "subject": c.check.subject,
                            "healthy": c.healthy(),
                            "value": c.value,
                            "text": if c.healthy() == Some(false) { &c.check.failure } else { &c.check.description },
                            "since": c.since.map(|t| rtmon::log::rfc3339(t, 0)),
                            "since_unix": c.since,
                            "error": c.error,
                            "expr": c.check.expr,
                        })
                    })
                    .collect();
                json!({"hop": h, "checks": checks})
            })
            .collect();
        json!({
            "flow": self.flow,
            "title": self.title,
            "status": self.state().name(),
            "summary": self.summary(),
            "hops": hops,
        })
    }

    /// The tree for people.
    pub fn to_text(&self) -> String {
        let mut t = format!("{} ({}): {}\n", self.flow, self.title, self.summary());
        for h in &self.hops {
            t.push_str(&format!("  {h}\n"));
            for c in self.checks.iter().filter(|c| &c.check.hop == h) {
                let (mark, text) = match c.healthy() {
                    Some(true) => ("ok  ", &c.check.description),
                    Some(false) => ("FAIL", &c.check.failure),
                    None => ("??  ", &c.check.description),
                };
                let since = c
                    .since
                    .map(|t| format!("  since {}", hms(t)))
                    .unwrap_or_default();
                let err = c
                    .error
                    .as_ref()
                    .map(|e| format!("  ({e})"))
                    .unwrap_or_default();
                t.push_str(&format!("    {mark} {text}{since}{err}\n"));
            }
        }
        t
    }
}

/// Unix time since which the last value of `values` (a range query's `[t, "v"]` list)
/// has held; None if it held for the whole window.
pub fn since_from_range(values: &[(f64, f64)]) -> Option<i64> {
    let (_, last) = *values.last()?;
    let mut since = None;
    for w in values.windows(2).rev() {
        if (w[0].1 >= 1.0) != (last >= 1.0) {
            since = Some(w[1].0 as i64);
            break;
        }
    }
    since
}

async fn range_values(
    c: &reqwest::Client,
    prometheus: &str,
    expr: &str,
    now: f64,
    lookback_s: u64,
    step_s: u64,
) -> Result<Vec<(f64, f64)>, String> {
    let start = format!("{}", now - lookback_s as f64);
    let end = format!("{now}");
    let step = format!("{step_s}");
    let url = url_with(
        prometheus,
        "api/v1/query_range",
        &[
            ("query", expr),
            ("start", &start),
            ("end", &end),
            ("step", &step),
        ],
    )?;
    let resp = c
        .get(url)
        .send()
        .await
        .map_err(|e| format!("Prometheus at {prometheus}: {}", e.without_url()))?;
    let text = resp.text().await.map_err(|e| e.to_string())?;
    let v: Value =
        serde_json::from_str(&text).map_err(|e| format!("Prometheus: non-JSON answer: {e}"))?;
    if v["status"] != "success" {
        return Err(format!(
            "query_range failed: {}",
            v["error"].as_str().unwrap_or("unknown error")
        ));
    }
    let series = v["data"]["result"].as_array().cloned().unwrap_or_default();
    let Some(first) = series.first() else {
        return Ok(Vec::new());
    };
    Ok(first["values"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| {
            let t = p[0].as_f64()?;
            let v = p[1].as_str()?.parse::<f64>().ok()?;
            Some((t, v))
        })
        .collect())
}

/// Evaluates every check of `flow`.
pub async fn evaluate(
    c: &reqwest::Client,
    prometheus: &str,
    flow: &rtmon::flow::Flow,
    opts: &Options,
    lookback_s: u64,
) -> FlowStatus {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let step = (lookback_s / 720).max(5);
    let mut checks = Vec::new();
    for ch in flow_checks(flow, opts) {
        let (value, error) = match prom_query(c, prometheus, &ch.expr).await {
            Ok(r) => match r.first() {
                Some((_, v)) if v.is_finite() => (Some(*v), None),
                _ => (None, Some("no value returned".to_string())),
            },
            Err(e) => (None, Some(e)),
        };
        let since = if value.is_some() {
            range_values(c, prometheus, &ch.expr, now, lookback_s, step)
                .await
                .ok()
                .and_then(|v| since_from_range(&v))
        } else {
            None
        };
        checks.push(CheckState {
            check: ch,
            value,
            since,
            error,
        });
    }
    FlowStatus {
        flow: flow.id.clone(),
        title: flow.title.clone(),
        hops: flow
            .path
            .iter()
            .map(|h| match h {
                rtmon::flow::Hop::Host(h) => h.name.clone(),
                rtmon::flow::Hop::Switch(s) => s.name.clone(),
            })
            .collect(),
        checks,
    }
}

/// The whole report as JSON.
pub fn report_json(flows: &[FlowStatus]) -> Value {
    let overall = flows
        .iter()
        .map(FlowStatus::state)
        .max()
        .unwrap_or(State::Unknown);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    json!({
        "status": overall.name(),
        "evaluated_at": rtmon::log::rfc3339(now, 0),
        "flows": flows.iter().map(FlowStatus::to_json).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_is_the_first_sample_of_the_current_state() {
        let v = [(100.0, 1.0), (115.0, 1.0), (130.0, 0.0), (145.0, 0.0)];
        assert_eq!(since_from_range(&v), Some(130));
        let v = [(100.0, 1.0), (115.0, 1.0)];
        assert_eq!(since_from_range(&v), None);
        assert_eq!(since_from_range(&[]), None);
        let v = [(100.0, 0.0), (115.0, 1.0), (130.0, 0.0), (145.0, 1.0)];
        assert_eq!(since_from_range(&v), Some(145));
    }
}
