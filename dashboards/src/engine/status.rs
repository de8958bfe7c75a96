//! `status`: evaluates each flow's checks (the same [`crate::engine::checks`] the rules and
//! dashboards use) against Prometheus and rolls them up: flow → hop → check, with the
//! value, since when it has been in that state, and one verdict per flow with the cause
//! first.
//!
//! Verdicts: `healthy` (exit 0); `degraded` (exit 1): a warning check fails, the flow
//! works badly; `down` (exit 2): a critical check fails, the flow cannot work;
//! `unknown` (exit 3): a check could not be evaluated (Prometheus unreachable is
//! reported once, not per check).
//!
//! JSON shape (`--output json`), stable for tools:
//! ```json
//! {"status": "healthy|degraded|down|unknown",
//!  "evaluated_at": "2026-11-21T12:03:10.000Z",
//!  "error": null,
//!  "flows": [{"flow": "id", "title": "…", "status": "healthy|degraded|down|unknown",
//!             "summary": "down: sw-a port hundredGigE 1/31 oper down since 12:03:10",
//!             "capacity_bps": 100000000000,
//!             "hops": [{"hop": "sw-a", "checks": [{"check": "port_oper_up",
//!                 "subject": "hundredGigE 1/31", "severity": "critical",
//!                 "healthy": false, "value": 0,
//!                 "text": "sw-a port hundredGigE 1/31 oper down",
//!                 "since": "2026-11-21T12:03:10.000Z", "since_unix": 1795262590,
//!                 "error": null, "expr": "…"}]}]}]}
//! ```
//! `healthy` is null and `error` set when a check could not be evaluated; `since` is
//! null when the state has not changed within the look-back window (it is older). The
//! `text` of a failing check carries its values when it has some ("sw-a hundredGigE
//! 1/31 MTU 1500 < host MTU 9000").

use serde_json::{json, Value};

use crate::client::{prom_query, url_with};
use crate::engine::checks::{capacity_expr, flow_checks, fmt_value, Check, Severity};
use crate::Options;

/// Overall state, ordered by how bad it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum State {
    /// Every check is healthy.
    Healthy,
    /// A warning check fails: the flow works badly.
    Degraded,
    /// A critical check fails: the flow cannot work.
    Down,
    /// Some check could not be evaluated (Prometheus unreachable, bad query).
    Unknown,
}

impl State {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            State::Healthy => "healthy",
            State::Degraded => "degraded",
            State::Down => "down",
            State::Unknown => "unknown",
        }
    }
    /// Process exit code: 0 healthy, 1 degraded, 2 down, 3 could not evaluate.
    pub fn exit_code(self) -> u8 {
        match self {
            State::Healthy => 0,
            State::Degraded => 1,
            State::Down => 2,
            State::Unknown => 3,
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
    /// The failure text with its values filled in, when failing and it has a detail.
    pub detail: Option<String>,
}

impl CheckState {
    /// Healthy (Some(true)), failing (Some(false)) or unknown (None).
    pub fn healthy(&self) -> Option<bool> {
        self.value.map(|v| v >= 1.0)
    }

    /// The text for people: the description when healthy, the failure (with its
    /// values, when known) when failing.
    pub fn text(&self) -> &str {
        match self.healthy() {
            Some(false) => self.detail.as_deref().unwrap_or(&self.check.failure),
            _ => &self.check.description,
        }
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
    /// The path's capacity (smallest speed), bits per second.
    pub capacity_bps: Option<f64>,
}

fn hms(unix: i64) -> String {
    let full = rtmon::log::rfc3339(unix, 0);
    full.get(11..19).unwrap_or(&full).to_string()
}

impl FlowStatus {
    /// The roll-up state: down when a critical check fails, else unknown when a check
    /// could not be evaluated, else degraded when a warning fails, else healthy.
    pub fn state(&self) -> State {
        if self.checks.is_empty() {
            return State::Unknown;
        }
        let failing = |sev| {
            self.checks
                .iter()
                .any(|c| c.healthy() == Some(false) && c.check.severity() == sev)
        };
        if failing(Severity::Critical) {
            State::Down
        } else if self.checks.iter().any(|c| c.healthy().is_none()) {
            State::Unknown
        } else if failing(Severity::Warning) {
            State::Degraded
        } else {
            State::Healthy
        }
    }

    /// The failing checks, cause first: critical before warning, then by cause rank
    /// (a dead exporter or switch before what it feeds, a port before a ping), then in
    /// path order.
    pub fn causes(&self) -> Vec<&CheckState> {
        let mut failing: Vec<(usize, &CheckState)> = self
            .checks
            .iter()
            .enumerate()
            .filter(|(_, c)| c.healthy() == Some(false))
            .collect();
        failing.sort_by_key(|(i, c)| (c.check.severity(), c.check.kind.cause_rank(), *i));
        failing.into_iter().map(|(_, c)| c).collect()
    }

    /// One-line verdict: `healthy`, `down: <cause> since HH:MM:SS (+N more failing)`,
    /// `degraded: …`, or `unknown: <why>`.
    pub fn summary(&self) -> String {
        let state = self.state();
        match state {
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
            State::Degraded | State::Down => {
                let causes = self.causes();
                let Some(first) = causes.first() else {
                    return state.name().into();
                };
                let mut s = format!("{}: {}", state.name(), first.text());
                if let Some(t) = first.since {
                    s.push_str(&format!(" since {}", hms(t)));
                }
                if causes.len() > 1 {
                    s.push_str(&format!(" (+{} more failing)", causes.len() - 1));
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
                            "severity": c.check.severity().name(),
                            "healthy": c.healthy(),
                            "value": c.value,
                            "text": c.text(),
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
            "capacity_bps": self.capacity_bps,
            "hops": hops,
        })
    }

    /// The tree for people.
    pub fn to_text(&self) -> String {
        let mut t = format!("{} ({}): {}\n", self.flow, self.title, self.summary());
        if let Some(c) = self.capacity_bps {
            t.push_str(&format!("  path capacity {}\n", fmt_value(c, "bps")));
        }
        for h in &self.hops {
            t.push_str(&format!("  {h}\n"));
            for c in self.checks.iter().filter(|c| &c.check.hop == h) {
                let mark = match (c.healthy(), c.check.severity()) {
                    (Some(true), _) => "ok  ",
                    (Some(false), Severity::Critical) => "FAIL",
                    (Some(false), Severity::Warning) => "WARN",
                    (None, _) => "??  ",
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
                t.push_str(&format!("    {mark} {}{since}{err}\n", c.text()));
            }
        }
        t
    }
}

/// Index of the first sample of the current state in a range query's values, and the
/// time of the last sample of the other state before it; None if the state held for
/// the whole window.
fn last_change(values: &[(f64, f64)]) -> Option<(f64, f64)> {
    let (_, last) = *values.last()?;
    values
        .windows(2)
        .rev()
        .find(|w| (w[0].1 >= 1.0) != (last >= 1.0))
        .map(|w| (w[0].0, w[1].0))
}

/// Unix time since which the last value of `values` (a range query's `[t, "v"]` list)
/// has held; None if it held for the whole window.
pub fn since_from_range(values: &[(f64, f64)]) -> Option<i64> {
    last_change(values).map(|(_, t)| t as i64)
}

async fn range_values(
    c: &reqwest::Client,
    prometheus: &str,
    expr: &str,
    (start, end, step): (f64, f64, f64),
) -> Result<Vec<(f64, f64)>, String> {
    let (start, end, step) = (
        format!("{start:.3}"),
        format!("{end:.3}"),
        format!("{step:.3}"),
    );
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

/// Since when `expr` has had its current state. The last 15 minutes are searched first
/// at a fine step (a change shorter than a coarse step, e.g. on a young Prometheus, is
/// not missed), then the whole look-back window at ~720 steps; the step where the
/// change happened is then refined to 1 s steps, so the time is right whatever the
/// window.
async fn since(
    c: &reqwest::Client,
    prometheus: &str,
    expr: &str,
    now: f64,
    lookback_s: u64,
) -> Option<i64> {
    let recent = lookback_s.min(900);
    let mut windows = vec![recent];
    if lookback_s > recent {
        windows.push(lookback_s);
    }
    for window in windows {
        let step = ((window / 720).max(1)) as f64;
        let coarse = range_values(c, prometheus, expr, (now - window as f64, now, step))
            .await
            .ok()?;
        let Some((before, after)) = last_change(&coarse) else {
            continue;
        };
        if after - before <= 1.0 {
            return Some(after as i64);
        }
        let last = coarse.last().map(|x| x.1 >= 1.0)?;
        let fine_step = ((after - before) / 720.0).max(1.0);
        return match range_values(c, prometheus, expr, (before, after, fine_step)).await {
            Ok(fine) => fine
                .iter()
                .rev()
                .take_while(|(_, v)| (*v >= 1.0) == last)
                .last()
                .map(|(t, _)| *t as i64)
                .or(Some(after as i64)),
            Err(_) => Some(after as i64),
        };
    }
    None
}

/// Checks that Prometheus answers at all (one error for everything, not one per check).
pub async fn reachable(c: &reqwest::Client, prometheus: &str) -> Result<(), String> {
    let url = url_with(prometheus, "api/v1/query", &[("query", "vector(1)")])?;
    c.get(url).send().await.map_err(|e| {
        format!(
            "Prometheus at {prometheus} is unreachable: {}",
            e.without_url()
        )
    })?;
    prom_query(c, prometheus, "vector(1)").await.map(|_| ())
}

/// The value of a one-sample instant query.
async fn scalar(c: &reqwest::Client, prometheus: &str, expr: &str) -> Option<f64> {
    prom_query(c, prometheus, expr)
        .await
        .ok()?
        .first()
        .map(|(_, v)| *v)
        .filter(|v| v.is_finite())
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
    let mut checks = Vec::new();
    for ch in flow_checks(flow, opts) {
        let (value, error) = match prom_query(c, prometheus, &ch.expr).await {
            Ok(r) => match r.first() {
                Some((_, v)) if v.is_finite() => (Some(*v), None),
                _ => (None, Some("no value returned".to_string())),
            },
            Err(e) => (None, Some(e)),
        };
        let since = match value {
            Some(_) => since(c, prometheus, &ch.expr, now, lookback_s).await,
            None => None,
        };
        let detail = match (&ch.detail, value) {
            (Some(d), Some(v)) if v < 1.0 => {
                let mut text = d.template.clone();
                for (name, expr, unit) in &d.values {
                    let shown = scalar(c, prometheus, expr)
                        .await
                        .map(|v| fmt_value(v, unit))
                        .unwrap_or_else(|| "?".into());
                    text = text.replace(&format!("{{{name}}}"), &shown);
                }
                Some(text)
            }
            _ => None,
        };
        checks.push(CheckState {
            check: ch,
            value,
            since,
            error,
            detail,
        });
    }
    FlowStatus {
        flow: flow.id.clone(),
        title: flow.title.clone(),
        hops: flow.path.iter().map(|h| h.name().to_string()).collect(),
        checks,
        capacity_bps: scalar(c, prometheus, &capacity_expr(flow, opts)).await,
    }
}

/// The whole report as JSON; `error` is set (and `flows` empty) when Prometheus could
/// not be reached at all.
pub fn report_json(flows: &[FlowStatus], error: Option<&str>) -> Value {
    let overall = if error.is_some() {
        State::Unknown
    } else {
        flows
            .iter()
            .map(FlowStatus::state)
            .max()
            .unwrap_or(State::Unknown)
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    json!({
        "status": overall.name(),
        "evaluated_at": rtmon::log::rfc3339(now, 0),
        "error": error,
        "flows": flows.iter().map(FlowStatus::to_json).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::checks::CheckKind;

    #[test]
    fn since_is_the_first_sample_of_the_current_state() {
        let v = [(100.0, 1.0), (115.0, 1.0), (130.0, 0.0), (145.0, 0.0)];
        assert_eq!(since_from_range(&v), Some(130));
        assert_eq!(last_change(&v), Some((115.0, 130.0)));
        let v = [(100.0, 1.0), (115.0, 1.0)];
        assert_eq!(since_from_range(&v), None);
        assert_eq!(since_from_range(&[]), None);
        let v = [(100.0, 0.0), (115.0, 1.0), (130.0, 0.0), (145.0, 1.0)];
        assert_eq!(since_from_range(&v), Some(145));
    }

    fn state(kind: CheckKind, hop: &str, value: Option<f64>) -> CheckState {
        CheckState {
            check: Check {
                flow: "f".into(),
                hop: hop.into(),
                kind,
                subject: String::new(),
                description: format!("{hop} {} ok", kind.name()),
                failure: format!("{hop} {} failing", kind.name()),
                expr: String::new(),
                data_expr: String::new(),
                detail: None,
                keys: Vec::new(),
            },
            value,
            since: None,
            error: value.is_none().then(|| "no value returned".into()),
            detail: None,
        }
    }

    #[test]
    fn verdict_names_the_cause_first() {
        let mut f = FlowStatus {
            flow: "f".into(),
            title: "t".into(),
            hops: vec!["a".into(), "sw".into(), "b".into()],
            checks: vec![
                state(CheckKind::PingPeer, "a", Some(0.0)),
                state(CheckKind::Mtu, "sw", Some(0.0)),
                state(CheckKind::PortOperUp, "sw", Some(0.0)),
                state(CheckKind::InterfaceUp, "b", Some(1.0)),
            ],
            capacity_bps: None,
        };
        assert_eq!(f.state(), State::Down);
        assert_eq!(
            f.summary(),
            "down: sw port_oper_up failing (+2 more failing)"
        );
        f.checks[0].value = Some(1.0);
        f.checks[2].value = Some(1.0);
        assert_eq!(f.state(), State::Degraded);
        assert_eq!(f.summary(), "degraded: sw mtu failing");
        assert_eq!(f.state().exit_code(), 1);
        f.checks[3].value = None;
        assert_eq!(f.state(), State::Unknown);
        f.checks[1].value = Some(1.0);
        f.checks[3].value = Some(1.0);
        assert_eq!(f.summary(), "healthy");
        assert_eq!(State::Down.exit_code(), 2);
    }
}
