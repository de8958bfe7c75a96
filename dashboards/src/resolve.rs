//! `resolve`: asks the SNMP exporter's `/lookup` whether every configured switch port
//! exists, and reports unknown ports with the nearest names. One bad port never stops
//! the others from being checked.

use rtmon::flow::Flow;
use serde_json::Value;

use crate::client::url_with;

/// Result for one port.
#[derive(Clone, Debug, PartialEq)]
pub enum PortState {
    /// Found: ifIndex and oper status as the switch reports them.
    Found {
        /// ifIndex.
        if_index: i64,
        /// ifOperStatus (1 = up).
        oper_status: Option<i64>,
    },
    /// Not on the switch; the nearest names it has.
    Unknown {
        /// Closest names.
        closest: Vec<String>,
    },
    /// The lookup itself failed (exporter down, switch unreachable…).
    Error(String),
}

/// One line of the report.
#[derive(Clone, Debug, PartialEq)]
pub struct PortReport {
    /// Flow id.
    pub flow: String,
    /// Switch name.
    pub switch: String,
    /// ifName as configured.
    pub port: String,
    /// What the exporter said.
    pub state: PortState,
}

/// Looks up every switch port of `flow` through `snmp_exporter` (`http://host:9116`).
pub async fn resolve_flow(
    c: &reqwest::Client,
    snmp_exporter: &str,
    flow: &Flow,
) -> Vec<PortReport> {
    let mut out = Vec::new();
    for sw in flow.switches() {
        let mut ports = vec![&sw.in_port.port];
        if sw.out_port.port != sw.in_port.port {
            ports.push(&sw.out_port.port);
        }
        for port in ports {
            let mut params = vec![("target", sw.target.as_str()), ("ifName", port.as_str())];
            if let Some(a) = &sw.auth {
                params.push(("auth", a.as_str()));
            }
            let state = match lookup(c, snmp_exporter, &params).await {
                Ok(s) => s,
                Err(e) => PortState::Error(e),
            };
            out.push(PortReport {
                flow: flow.id.clone(),
                switch: sw.name.clone(),
                port: port.clone(),
                state,
            });
        }
    }
    out
}

async fn lookup(
    c: &reqwest::Client,
    base: &str,
    params: &[(&str, &str)],
) -> Result<PortState, String> {
    let url = url_with(base, "lookup", params)?;
    let resp = c
        .get(url)
        .send()
        .await
        .map_err(|e| format!("SNMP exporter at {base}: {}", e.without_url()))?;
    let status = resp.status().as_u16();
    let text = resp.text().await.map_err(|e| e.to_string())?;
    let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    match status {
        200 => Ok(PortState::Found {
            if_index: v.get("ifIndex").and_then(Value::as_i64).unwrap_or(-1),
            oper_status: v.get("ifOperStatus").and_then(Value::as_i64),
        }),
        404 => {
            let closest = v
                .get("closest")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            Ok(PortState::Unknown { closest })
        }
        s => Err(format!(
            "HTTP {s}: {}",
            text.trim().chars().take(200).collect::<String>()
        )),
    }
}
