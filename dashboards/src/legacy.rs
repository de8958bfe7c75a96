//! `import-legacy`: converts the predecessor's v1 flow files (`hostA` / `hostB` /
//! `switchData`, `switchDataA`, …) into rtmon's flow format. Secrets found there
//! (`grafanaAPIToken`, `communityString`) are dropped and reported — never copied.

use serde_json::Value;

/// The converted flow (YAML text) and notes for the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    /// The new-format flow file.
    pub yaml: String,
    /// What was dropped or guessed.
    pub notes: Vec<String>,
}

fn s(v: &Value, k: &str) -> Option<String> {
    match v.get(k)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn vlan(v: &Value) -> Option<u16> {
    match v.get("vlan")? {
        Value::Number(n) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|v| (1..=4094).contains(v))
}

fn q(x: &str) -> String {
    serde_json::to_string(x).unwrap_or_else(|_| "\"\"".into())
}

fn id_safe(x: &str) -> String {
    let mut id: String = x
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    id.truncate(40);
    id.trim_matches('-').to_string()
}

/// Converts a parsed v1 document.
pub fn convert(doc: &Value, file: &str) -> Result<Imported, String> {
    let mut notes = Vec::new();
    for secret in ["grafanaAPIToken", "communityString"] {
        if doc.get(secret).is_some() {
            notes.push(format!("dropped `{secret}`: secrets do not belong in a flow file (give it to the exporter or `upload` via a file or env var)"));
        }
    }
    let host = |key: &str| -> Result<Value, String> {
        doc.get(key).cloned().ok_or_else(|| {
            format!("{file}: `{key}` is missing — not a v1 flow file (hostA/hostB/switchData*)")
        })
    };
    let a = host("hostA")?;
    let b = host("hostB")?;
    let mut switch_keys: Vec<&String> = doc
        .as_object()
        .map(|o| o.keys().filter(|k| k.starts_with("switchData")).collect())
        .unwrap_or_default();
    switch_keys.sort();
    if let Some(n) = doc.get("switchNum").and_then(Value::as_u64) {
        if n as usize != switch_keys.len() {
            notes.push(format!(
                "switchNum says {n} but {} switchData sections were found; used the sections",
                switch_keys.len()
            ));
        }
        for k in doc.as_object().into_iter().flat_map(|o| o.keys()) {
            if k.starts_with("snmpMetrics") {
                notes.push(format!("ignored site-side section `{k}` (SNMP targets and auth live in the SNMP exporter's config)"));
            }
        }
    }
    let flow_id = s(doc, "flow")
        .map(|f| id_safe(&f))
        .filter(|f| !f.is_empty())
        .ok_or_else(|| format!("{file}: `flow` is missing"))?;
    let title = s(doc, "dashTitle").unwrap_or_else(|| flow_id.clone());
    let mut y = format!("# Imported from the v1 flow file {file} by rtmon-dashboards import-legacy.\nflow: {}\ntitle: {}\npath:\n", q(&flow_id), q(&title));
    let host_yaml = |h: &Value, key: &str, y: &mut String| -> Result<(), String> {
        let name = s(h, "nodeName")
            .or_else(|| s(h, "IP"))
            .ok_or_else(|| format!("{file}: `{key}` has neither nodeName nor IP"))?;
        let iface = s(h, "interfaceName")
            .ok_or_else(|| format!("{file}: `{key}.interfaceName` is missing"))?;
        y.push_str(&format!("  - host: {}\n", q(&name)));
        if let Some(ip) = s(h, "IP") {
            y.push_str(&format!("    instance: {}\n", q(&ip)));
        }
        y.push_str(&format!("    interface: {}\n", q(&iface)));
        if let Some(ip) = s(h, "interfaceIP") {
            y.push_str(&format!("    ip: {}\n", q(&ip)));
        }
        if let Some(v) = vlan(h) {
            y.push_str(&format!("    vlan: {v}\n"));
        }
        Ok(())
    };
    host_yaml(&a, "hostA", &mut y)?;
    for (i, k) in switch_keys.iter().enumerate() {
        let sw = &doc[k.as_str()];
        let target = s(sw, "target").ok_or_else(|| format!("{file}: `{k}.target` is missing"))?;
        let name = s(sw, "switchif")
            .or_else(|| s(sw, "job_name"))
            .unwrap_or_else(|| format!("switch-{}", (b'a' + i as u8) as char));
        let port = |p: &str| -> Result<(String, Option<u16>), String> {
            let pv = sw
                .get(p)
                .ok_or_else(|| format!("{file}: `{k}.{p}` is missing"))?;
            let n =
                s(pv, "ifName").ok_or_else(|| format!("{file}: `{k}.{p}.ifName` is missing"))?;
            Ok((n, vlan(pv)))
        };
        let (pin, vin) = port("portIn")?;
        let (pout, vout) = port("portOut")?;
        y.push_str(&format!(
            "  - switch: {}\n    target: {}\n",
            q(&name),
            q(&target)
        ));
        let v = |v: Option<u16>| v.map(|v| format!(", vlan: {v}")).unwrap_or_default();
        y.push_str(&format!(
            "    in: {{port: {}{}}}\n    out: {{port: {}{}}}\n",
            q(&pin),
            v(vin),
            q(&pout),
            v(vout)
        ));
        notes.push(format!(
            "`{k}`: give switch {name:?} an `auth:` naming the SNMP exporter auth to use"
        ));
    }
    host_yaml(&b, "hostB", &mut y)?;
    Ok(Imported { yaml: y, notes })
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &str = r#"{
      "switchNum": 1, "dashTitle": "Top Flow Dashboard", "flow": "flow-1",
      "grafanaAPIToken": "Bearer SECRET-DO-NOT-COPY",
      "hostA": {"IP": "198.51.100.16", "interfaceName": "ens2f0np0.1000", "interfaceIP": "10.10.100.1",
                "nodeName": "dtn-a.example.org", "vlan": 1000,
                "switchPort": {"ifName": "hundredGigE 1/27", "ifVlan": "Vlan 1000", "order": 1}},
      "hostB": {"IP": "198.51.100.15", "interfaceName": "ens2f0.1000", "interfaceIP": "10.10.100.2",
                "nodeName": "dtn-b.example.org", "vlan": "1000"},
      "switchDataA": {"job_name": "snmp1", "target": "172.16.1.1", "switchif": "",
                      "portIn": {"ifName": "hundredGigE 1/27", "vlan": 1000},
                      "portOut": {"ifName": "hundredGigE 1/31", "vlan": 1000}},
      "snmpMetricsA": {"communityString": "REDACTED"}
    }"#;

    #[test]
    fn converts_v1_and_drops_secrets() {
        let doc: Value = serde_json::from_str(V1).expect("fixture");
        let r = convert(&doc, "old.yml").expect("convert");
        assert!(!r.yaml.contains("SECRET"), "{}", r.yaml);
        assert!(r.yaml.contains("flow: \"flow-1\""));
        assert!(r.yaml.contains("  - host: \"dtn-a.example.org\"\n    instance: \"198.51.100.16\"\n    interface: \"ens2f0np0.1000\"\n    ip: \"10.10.100.1\"\n    vlan: 1000\n"));
        assert!(r.yaml.contains("  - switch: \"snmp1\"\n    target: \"172.16.1.1\"\n    in: {port: \"hundredGigE 1/27\", vlan: 1000}\n"));
        assert!(
            r.yaml.contains("vlan: 1000\n"),
            "string vlan of hostB parsed"
        );
        assert!(r.notes.iter().any(|n| n.contains("grafanaAPIToken")));
        assert!(r.notes.iter().any(|n| n.contains("snmpMetricsA")));
    }

    #[test]
    fn missing_sections_are_named() {
        let doc: Value = serde_json::from_str(r#"{"flow": "x", "hostA": {}}"#).expect("fixture");
        let e = convert(&doc, "old.yml").expect_err("must fail");
        assert!(e.contains("hostB"), "{e}");
    }
}
