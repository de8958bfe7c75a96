//! `resolve`: asks the SNMP exporter's `/lookup` whether every configured switch port
//! exists and is exactly one interface, and reports unknown ports with the nearest
//! names, and ports whose name several interfaces share (the SNMP exporter answers 409
//! with the candidates) with how to pin them (`ifIndex:` / `ifDescr:` in the flow file,
//! see config_flow/README.md). One bad port never stops the others from being checked.

use rtmon::flow::{Flow, Port, PortPin};
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
    /// The port's name (with its pin, if any) fits several interfaces: selected by it,
    /// the flow would read all of them. The flow must pin the port to one.
    Ambiguous {
        /// The interfaces it fits.
        candidates: Vec<Candidate>,
    },
    /// The name exists, but no interface of that name has the port's pin.
    PinNotFound {
        /// The interfaces of that name.
        candidates: Vec<Candidate>,
    },
    /// The lookup itself failed (exporter down, switch unreachable…).
    Error(String),
}

/// An interface `/lookup` offered for a name.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    /// ifIndex.
    pub if_index: i64,
    /// ifDescr.
    pub if_descr: String,
    /// ifAlias.
    pub if_alias: String,
    /// ifOperStatus (1 = up).
    pub oper_status: Option<i64>,
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
    /// The port's pin (`ifIndex:` / `ifDescr:`), if it has one.
    pub pin: Option<PortPin>,
    /// Which end of the switch hop: `in` or `out` (`in` when both are the same port).
    pub side: &'static str,
    /// What the exporter said.
    pub state: PortState,
}

impl PortReport {
    /// Whether the port resolved to exactly one interface.
    pub fn ok(&self) -> bool {
        matches!(self.state, PortState::Found { .. })
    }

    /// The report line after `flow switch "port"`: `ok …`, `UNKNOWN …`, `AMBIGUOUS …`,
    /// `NO PIN …` or `ERROR …`, with how to fix it.
    pub fn line(&self) -> String {
        let cands = |c: &[Candidate]| {
            c.iter()
                .map(|c| {
                    let mut s = format!("ifIndex {} ifDescr {:?}", c.if_index, c.if_descr);
                    if !c.if_alias.is_empty() {
                        s.push_str(&format!(" ifAlias {:?}", c.if_alias));
                    }
                    if let Some(o) = c.oper_status {
                        s.push_str(&format!(" ifOperStatus {o}"));
                    }
                    s
                })
                .collect::<Vec<_>>()
                .join("; ")
        };
        match &self.state {
            PortState::Found {
                if_index,
                oper_status,
            } => format!(
                "ok       ifIndex {if_index}, ifOperStatus {}",
                oper_status
                    .map(|o| o.to_string())
                    .unwrap_or_else(|| "?".into())
            ),
            PortState::Unknown { closest } => format!(
                "UNKNOWN  nearest: {}",
                if closest.is_empty() {
                    "none".into()
                } else {
                    closest.join(", ")
                }
            ),
            PortState::Ambiguous { candidates } => format!(
                "AMBIGUOUS {} interfaces fit: {}; {}",
                candidates.len(),
                cands(candidates),
                pin_hint(self.side, &self.port, candidates)
            ),
            PortState::PinNotFound { candidates } => format!(
                "NO PIN   no interface named {:?} has {}; those named so: {}",
                self.port,
                self.pin
                    .as_ref()
                    .map(|p| format!("{} {:?}", p.label(), p.value()))
                    .unwrap_or_default(),
                cands(candidates)
            ),
            PortState::Error(e) => format!("ERROR    {e}"),
        }
    }
}

/// How to pin an ambiguous port in the flow file: by ifIndex always, by ifDescr where
/// the candidates' descriptions tell them apart.
pub fn pin_hint(side: &str, port: &str, candidates: &[Candidate]) -> String {
    let unique_descr =
        |d: &str| !d.is_empty() && candidates.iter().filter(|c| c.if_descr == d).count() == 1;
    let options: Vec<String> = candidates
        .iter()
        .map(|c| {
            if unique_descr(&c.if_descr) {
                format!("ifIndex: {} (or ifDescr: {:?})", c.if_index, c.if_descr)
            } else {
                format!("ifIndex: {}", c.if_index)
            }
        })
        .collect();
    format!(
        "pin the port in the flow file, e.g. `{side}: {{port: {port:?}, {}}}`; one of: {}",
        candidates
            .first()
            .map(|c| format!("ifIndex: {}", c.if_index))
            .unwrap_or_default(),
        options.join(", ")
    )
}

/// Looks up every switch port of `flow` through `snmp_exporter` (`http://host:9116`).
pub async fn resolve_flow(
    c: &reqwest::Client,
    snmp_exporter: &str,
    flow: &Flow,
) -> Vec<PortReport> {
    let mut out = Vec::new();
    for sw in flow.switches() {
        let mut ports: Vec<(&Port, &'static str)> = vec![(&sw.in_port, "in")];
        if sw.out_port != sw.in_port {
            ports.push((&sw.out_port, "out"));
        }
        for (port, side) in ports {
            let mut params = vec![("target", sw.target.clone()), ("ifName", port.port.clone())];
            if let Some(p) = &port.pin {
                params.push((p.label(), p.value()));
            }
            if let Some(a) = &sw.auth {
                params.push(("auth", a.clone()));
            }
            let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let state = match lookup(c, snmp_exporter, &params).await {
                Ok(s) => s,
                Err(e) => PortState::Error(e),
            };
            out.push(PortReport {
                flow: flow.id.clone(),
                switch: sw.name.clone(),
                port: port.port.clone(),
                pin: port.pin.clone(),
                side,
                state,
            });
        }
    }
    out
}

fn candidates(v: &Value) -> Vec<Candidate> {
    v.get("candidates")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|c| Candidate {
                    if_index: c.get("ifIndex").and_then(Value::as_i64).unwrap_or(-1),
                    if_descr: c
                        .get("ifDescr")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    if_alias: c
                        .get("ifAlias")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    oper_status: c.get("ifOperStatus").and_then(Value::as_i64),
                })
                .collect()
        })
        .unwrap_or_default()
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
        404 if v.get("candidates").is_some() => Ok(PortState::PinNotFound {
            candidates: candidates(&v),
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
        409 => Ok(PortState::Ambiguous {
            candidates: candidates(&v),
        }),
        s => Err(format!(
            "HTTP {s}: {}",
            text.trim().chars().take(200).collect::<String>()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(i: i64, d: &str) -> Candidate {
        Candidate {
            if_index: i,
            if_descr: d.into(),
            if_alias: String::new(),
            oper_status: Some(1),
        }
    }

    #[test]
    fn an_ambiguous_port_says_how_to_pin_it() {
        let r = PortReport {
            flow: "f".into(),
            switch: "sw".into(),
            port: "XGigabitEthernet2/0/4".into(),
            pin: None,
            side: "out",
            state: PortState::Ambiguous {
                candidates: vec![
                    cand(57, "XGigabitEthernet2/0/4"),
                    cand(163, "XGigabitEthernet2/0/4 stack"),
                ],
            },
        };
        assert!(!r.ok());
        let l = r.line();
        assert!(l.starts_with("AMBIGUOUS 2 interfaces fit: ifIndex 57 ifDescr \"XGigabitEthernet2/0/4\" ifOperStatus 1; ifIndex 163"), "{l}");
        assert!(
            l.contains("`out: {port: \"XGigabitEthernet2/0/4\", ifIndex: 57}`"),
            "{l}"
        );
        assert!(
            l.contains("ifIndex: 163 (or ifDescr: \"XGigabitEthernet2/0/4 stack\")"),
            "{l}"
        );
        // Same descriptions: only ifIndex tells them apart.
        let h = pin_hint(
            "in",
            "Ethernet 0/29",
            &[cand(29, "Ethernet 0/29"), cand(229, "Ethernet 0/29")],
        );
        assert!(h.ends_with("one of: ifIndex: 29, ifIndex: 229"), "{h}");
    }
}
