//! Where targets come from: `--ping.target` flags, a targets file (`--config.file`,
//! with per-target labels, source and interface) and a flow file (`--flow FILE --host
//! NAME`: the flow's peers, over the data-plane interface, labelled `flow`).
//!
//! Targets file:
//! ```yaml
//! targets:
//!   - hosts: [10.0.0.2, dtn-b.example.org]
//!     labels: {site: chicago}
//!     interface: ens2f0     # optional, SO_BINDTODEVICE
//!     source: 10.0.0.1      # optional source address
//! ```

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;

use serde::Deserialize;

/// One configured target, before name resolution. Its identity (all fields) decides
/// whether a reload keeps its counters.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TargetSpec {
    /// Host name or address, as configured (the `target` label).
    pub host: String,
    /// Extra labels, sorted by name.
    pub labels: BTreeMap<String, String>,
    /// Source address to send from.
    pub source: Option<IpAddr>,
    /// Interface to send on.
    pub interface: Option<String>,
}

/// Label names the exporter sets itself.
pub const RESERVED_LABELS: [&str; 2] = ["target", "ip"];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    targets: Vec<Group>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Group {
    hosts: Vec<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    interface: Option<String>,
}

/// Checks a host string: a non-empty name or address without spaces or slashes.
pub fn check_host(host: &str) -> Result<(), String> {
    if host.is_empty() {
        return Err("empty target".into());
    }
    if host.len() > 253
        || !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '_' | '%'))
    {
        return Err(format!("{host:?} is not a host name or IP address"));
    }
    Ok(())
}

/// Parses a targets file's text. `file` names it in errors.
pub fn parse_file(file: &Path, text: &str) -> Result<Vec<TargetSpec>, String> {
    let f = if text.trim().is_empty() {
        File { targets: vec![] }
    } else {
        serde_saphyr::from_str::<File>(text).map_err(|e| format!("{}: {e}", file.display()))?
    };
    let mut out = Vec::new();
    for (i, g) in f.targets.into_iter().enumerate() {
        let at = |what: String| format!("{}: targets[{i}]: {what}", file.display());
        for name in g.labels.keys() {
            if !rtmon::expo::valid_label_name(name) {
                return Err(at(format!("label name {name:?} is not valid")));
            }
            if RESERVED_LABELS.contains(&name.as_str()) {
                return Err(at(format!("label {name:?} is set by the exporter")));
            }
        }
        let source = match &g.source {
            Some(s) => Some(
                s.parse::<IpAddr>()
                    .map_err(|_| at(format!("source {s:?} is not an IP address")))?,
            ),
            None => None,
        };
        if g.hosts.is_empty() {
            return Err(at("hosts is empty".into()));
        }
        for h in g.hosts {
            check_host(&h).map_err(|e| at(format!("hosts: {e}")))?;
            out.push(TargetSpec {
                host: h,
                labels: g.labels.clone(),
                source,
                interface: g.interface.clone(),
            });
        }
    }
    Ok(out)
}

/// Reads a targets file.
pub fn load_file(file: &Path) -> Result<Vec<TargetSpec>, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    parse_file(file, &text)
}

/// Targets of host `host` in the flows: every other host of each flow that has this
/// host, pinged on this host's data-plane interface with label `flow`.
pub fn from_flows(
    flows: &[rtmon::flow::Flow],
    host: &str,
    file: &Path,
) -> Result<Vec<TargetSpec>, String> {
    let mut out = Vec::new();
    let mut found = false;
    for f in flows {
        let me = match f.host(host) {
            Some(h) => h,
            None => continue,
        };
        found = true;
        for peer in f.peers_of(host) {
            let ip = peer.ip.ok_or_else(|| {
                format!(
                    "{}: flow {:?}: host {:?} has no `ip`, so it cannot be pinged",
                    file.display(),
                    f.id,
                    peer.name
                )
            })?;
            let mut labels = BTreeMap::new();
            labels.insert("flow".to_string(), f.id.clone());
            labels.insert("peer".to_string(), peer.name.clone());
            out.push(TargetSpec {
                host: ip.to_string(),
                labels,
                source: None,
                interface: (!me.interface.is_empty()).then(|| me.interface.clone()),
            });
        }
    }
    if !found {
        let names: Vec<String> = flows
            .iter()
            .flat_map(|f| f.hosts().map(|h| h.name.clone()))
            .collect();
        return Err(format!(
            "{}: no flow has host {host:?} (hosts: {})",
            file.display(),
            names.join(", ")
        ));
    }
    Ok(out)
}

/// Drops exact duplicates, keeping the first (a target listed twice is pinged once).
pub fn dedup(specs: Vec<TargetSpec>) -> Vec<TargetSpec> {
    let mut seen = std::collections::HashSet::new();
    specs
        .into_iter()
        .filter(|s| seen.insert(s.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtmon::flow::{Flow, Hop, HostHop};

    #[test]
    fn parses_groups_with_labels() {
        let t = "targets:\n  - hosts: [10.0.0.2, 'b.example']\n    labels: {site: x}\n    interface: eth1\n  - hosts: ['::1']\n    source: '::1'\n";
        let v = parse_file(Path::new("t.yml"), t).expect("valid");
        assert_eq!(v.len(), 3);
        assert_eq!(v[0].host, "10.0.0.2");
        assert_eq!(v[1].labels.get("site").map(String::as_str), Some("x"));
        assert_eq!(v[1].interface.as_deref(), Some("eth1"));
        assert_eq!(v[2].source, "::1".parse().ok());
        assert!(parse_file(Path::new("t.yml"), "")
            .expect("empty ok")
            .is_empty());
    }

    #[test]
    fn errors_name_file_and_entry() {
        let e = parse_file(
            Path::new("t.yml"),
            "targets:\n  - hosts: [a]\n    labls: {}\n",
        )
        .expect_err("unknown key");
        assert!(e.starts_with("t.yml:") && e.contains("labls"), "{e}");
        let e = parse_file(
            Path::new("t.yml"),
            "targets:\n  - hosts: [a]\n  - hosts: [b]\n    labels: {target: x}\n",
        )
        .expect_err("reserved");
        assert!(e.contains("targets[1]") && e.contains("\"target\""), "{e}");
        let e =
            parse_file(Path::new("t.yml"), "targets:\n  - hosts: ['a b']\n").expect_err("bad host");
        assert!(e.contains("not a host name"), "{e}");
        let e = parse_file(
            Path::new("t.yml"),
            "targets:\n  - hosts: [a]\n    source: nope\n",
        )
        .expect_err("bad source");
        assert!(e.contains("source \"nope\""), "{e}");
        let e = parse_file(
            Path::new("t.yml"),
            "targets:\n  - hosts: [a]\n    labels: {bad-name: 1}\n",
        )
        .expect_err("bad label");
        assert!(e.contains("bad-name"), "{e}");
    }

    fn host(name: &str, ip: &str, iface: &str) -> Hop {
        Hop::Host(HostHop {
            name: name.into(),
            instance: name.into(),
            interface: iface.into(),
            ip: ip.parse().ok(),
            vlan: None,
            mac: None,
            lldp_chassis_id: None,
        })
    }

    #[test]
    fn flow_peers_use_data_plane_interface() {
        let f = Flow {
            id: "a-b".into(),
            title: String::new(),
            path: vec![
                host("a", "10.1.0.1", "veth-a"),
                host("b", "10.1.0.2", "veth-b"),
            ],
            file: "f.yml".into(),
            limits: Default::default(),
        };
        let v = from_flows(std::slice::from_ref(&f), "a", Path::new("f.yml")).expect("ok");
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].host, "10.1.0.2");
        assert_eq!(v[0].interface.as_deref(), Some("veth-a"));
        assert_eq!(v[0].labels.get("flow").map(String::as_str), Some("a-b"));
        let e = from_flows(&[f], "c", Path::new("f.yml")).expect_err("unknown host");
        assert!(e.contains("\"c\"") && e.contains("a, b"), "{e}");
    }

    #[test]
    fn dedup_keeps_order() {
        let s = |h: &str| TargetSpec {
            host: h.into(),
            labels: BTreeMap::new(),
            source: None,
            interface: None,
        };
        assert_eq!(dedup(vec![s("a"), s("b"), s("a")]), vec![s("a"), s("b")]);
    }
}
