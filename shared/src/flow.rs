//! Flow config model: types, loading and validation (format: config_flow/README.md).
//!
//! The public types and accessors below are the contract other crates code against:
//! fields may be added, none renamed or removed. A file holds one flow (below) or
//! `flows: [ ... ]`; see config_flow/README.md for every field. Hops are
//! key-discriminated (`host:` / `switch:`) and decoded by hand from a located YAML tree
//! ([`crate::config::parse_tree`]) so every error names the right hop's file:line:column,
//! and [`validate`] reports all errors, not only the first.
//!
//! ```yaml
//! flow: dtn-a-dtn-b-1000          # unique id: label value, dashboard uid, rule group
//! title: DTN A ↔ DTN B, VLAN 1000
//! path:
//!   - host: dtn-a
//!     instance: 198.51.100.16
//!     interface: ens2f0np0.1000
//!     ip: 10.10.100.1
//!     vlan: 1000
//!   - switch: sw-a
//!     target: 172.16.1.1
//!     auth: site_v2
//!     in:  {port: "hundredGigE 1/27", vlan: 1000}
//!     out: {port: "hundredGigE 1/31", vlan: 1000, ifIndex: 131}   # pinned (name not unique)
//!   - host: dtn-b
//!     instance: 198.51.100.15
//!     interface: ens2f0.1000
//!     ip: 10.10.100.2
//!     vlan: 1000
//! ```

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use crate::config::{self, ConfigError, Decoder, Location, Node, Value};

/// One end-to-end flow: an ordered path of hosts and switches.
#[derive(Clone, Debug, PartialEq)]
pub struct Flow {
    /// Unique id (`flow` label value, dashboard uid seed, rule group name).
    pub id: String,
    /// Human title.
    pub title: String,
    /// Ordered hops, first and last are hosts.
    pub path: Vec<Hop>,
    /// File this flow was read from.
    pub file: PathBuf,
    /// Limits of the performance checks, and the loss-localisation opt-in.
    pub limits: Limits,
}

/// Per-flow limits of the performance checks (`thresholds:` in the flow file) and the
/// opt-in `dedicated_ports: true` (the switch ports carry only this flow, so a deficit
/// between consecutive points of the path is loss, and loss localisation may alert).
#[derive(Clone, Debug, PartialEq)]
pub struct Limits {
    /// The flow's switch ports carry only this flow (loss localisation alerts).
    pub dedicated_ports: bool,
    /// Errors + discards per second tolerated on any port or interface of the path.
    pub errors_per_second: f64,
    /// Ping loss ratio (0..1) tolerated over the check window.
    pub ping_loss: f64,
    /// Mean ping round-trip time (seconds) tolerated over the check window.
    pub ping_rtt_seconds: f64,
    /// Share of packets (0..1) that may go missing between two consecutive points.
    pub loss_tolerance: f64,
    /// Packets per second below which a segment is not judged (too little traffic).
    pub loss_min_pps: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            dedicated_ports: false,
            errors_per_second: 1.0,
            ping_loss: 0.02,
            ping_rtt_seconds: 0.1,
            loss_tolerance: 0.02,
            loss_min_pps: 100.0,
        }
    }
}

/// A hop of a flow's path.
#[derive(Clone, Debug, PartialEq)]
pub enum Hop {
    /// An end host (runs node/arp/ping exporters).
    Host(HostHop),
    /// A switch polled over SNMP.
    Switch(SwitchHop),
}

/// An end host.
#[derive(Clone, Debug, PartialEq)]
pub struct HostHop {
    /// Host name (`host:` key).
    pub name: String,
    /// How Prometheus / the Pushgateway knows this host (`instance` label); defaults
    /// to `name`.
    pub instance: String,
    /// Data-plane interface (node_exporter `device`).
    pub interface: String,
    /// Data-plane IP address of the interface.
    pub ip: Option<IpAddr>,
    /// VLAN id of the data-plane interface.
    pub vlan: Option<u16>,
    /// MAC of the data-plane interface, if known (for the switch FDB check).
    pub mac: Option<String>,
    /// The LLDP chassis id this host announces (`lldp_chassis_id:`), when the switch
    /// cannot recognise it by its LLDP system name (= `name`, or `name.domain`) or by
    /// `mac`; a MAC is stored as `aa:bb:cc:dd:ee:ff`. For the `lldp_link` check.
    pub lldp_chassis_id: Option<String>,
}

/// A switch hop.
#[derive(Clone, Debug, PartialEq)]
pub struct SwitchHop {
    /// Switch name (`switch:` key).
    pub name: String,
    /// SNMP agent address, `host[:port]`.
    pub target: String,
    /// Name of an auth in the SNMP exporter's config (the secret lives there).
    pub auth: Option<String>,
    /// SNMP exporter modules to use (default `if_mib`).
    pub modules: Vec<String>,
    /// Port where the flow enters the switch.
    pub in_port: Port,
    /// Port where the flow leaves the switch.
    pub out_port: Port,
    /// The LLDP system name the switch announces (`lldp_system_name:`), when it is not
    /// `name` (or `name.domain`). For the `lldp_link` check.
    pub lldp_system_name: Option<String>,
}

/// A switch port, named by ifName and, where that name is not unique on the switch,
/// pinned to one interface (`ifIndex:` or `ifDescr:` beside `port:`).
#[derive(Clone, Debug, PartialEq)]
pub struct Port {
    /// ifName, e.g. `hundredGigE 1/27`.
    pub port: String,
    /// VLAN id on that port.
    pub vlan: Option<u16>,
    /// Which of the interfaces called `port` is meant, when the switch gives the name to
    /// more than one (some Huawei and Extreme switches do). `None`: the name alone.
    pub pin: Option<PortPin>,
}

/// What pins a port to one interface besides its ifName: one more SNMP label
/// (`ifIndex` or `ifDescr`) that the rules and dashboards match on, together with
/// `ifName`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PortPin {
    /// `ifIndex: 57`. Exact, but a reboot that renumbers interfaces moves it.
    IfIndex(u32),
    /// `ifDescr: "..."`. Survives renumbering where the descriptions differ.
    IfDescr(String),
}

impl PortPin {
    /// The SNMP label it matches (`ifIndex` or `ifDescr`; also the flow file key).
    pub fn label(&self) -> &'static str {
        match self {
            PortPin::IfIndex(_) => "ifIndex",
            PortPin::IfDescr(_) => "ifDescr",
        }
    }

    /// The label value it matches (`57`, or the ifDescr text).
    pub fn value(&self) -> String {
        match self {
            PortPin::IfIndex(i) => i.to_string(),
            PortPin::IfDescr(d) => d.clone(),
        }
    }
}

impl Port {
    /// The SNMP labels that select this port's series: `ifName`, plus the pin's label.
    pub fn labels(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![("ifName", self.port.clone())];
        if let Some(p) = &self.pin {
            out.push((p.label(), p.value()));
        }
        out
    }

    /// Whether `self` and `other` may be the same interface: the same ifName, unless
    /// both are pinned to different interfaces.
    pub fn may_be_same_interface(&self, other: &Port) -> bool {
        self.port == other.port
            && match (&self.pin, &other.pin) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
    }

    /// The port for people: `Gi 1/1`, or `Ethernet 0/29 (ifIndex 5)` when pinned.
    pub fn display(&self) -> String {
        match &self.pin {
            None => self.port.clone(),
            Some(p) => format!("{} ({} {})", self.port, p.label(), p.value()),
        }
    }
}

impl Flow {
    /// The host hops in path order.
    pub fn hosts(&self) -> impl Iterator<Item = &HostHop> {
        self.path.iter().filter_map(|h| match h {
            Hop::Host(h) => Some(h),
            Hop::Switch(_) => None,
        })
    }

    /// The switch hops in path order.
    pub fn switches(&self) -> impl Iterator<Item = &SwitchHop> {
        self.path.iter().filter_map(|h| match h {
            Hop::Switch(s) => Some(s),
            Hop::Host(_) => None,
        })
    }

    /// The host hop called `name`.
    pub fn host(&self, name: &str) -> Option<&HostHop> {
        self.hosts().find(|h| h.name == name)
    }

    /// The other hosts of the flow (the peers `name` should reach).
    pub fn peers_of<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a HostHop> + 'a {
        self.hosts().filter(move |h| h.name != name)
    }
}

impl Hop {
    /// The hop's name (`host:` or `switch:` value).
    pub fn name(&self) -> &str {
        match self {
            Hop::Host(h) => &h.name,
            Hop::Switch(s) => &s.name,
        }
    }
}

/// Longest flow id: Grafana dashboard uids are at most 40 characters.
pub const MAX_ID_LEN: usize = 40;

const FLOW_KEYS: &[&str] = &["flow", "title", "path", "thresholds", "dedicated_ports"];
const THRESHOLD_KEYS: &[&str] = &[
    "errors_per_second",
    "ping_loss",
    "ping_rtt",
    "loss_tolerance",
    "loss_min_pps",
];
const HOST_KEYS: &[&str] = &[
    "host",
    "instance",
    "interface",
    "ip",
    "vlan",
    "mac",
    "lldp_chassis_id",
];
const SWITCH_KEYS: &[&str] = &[
    "switch",
    "target",
    "auth",
    "modules",
    "in",
    "out",
    "lldp_system_name",
];
const PORT_KEYS: &[&str] = &["port", "vlan", "ifIndex", "ifDescr"];
/// Keys of the old (v1 / v2) rtmon flow formats.
const LEGACY_KEYS: &[&str] = &[
    "switchNum",
    "hostA",
    "hostB",
    "switchData",
    "switchDataA",
    "dashTitle",
    "node",
    "grafana_host",
];

/// Loads every flow in a file (a single flow document, or `flows: [...]`).
/// The first error names file:line:column; its hint counts any further errors.
pub fn load_file(path: &Path) -> Result<Vec<Flow>, ConfigError> {
    validate(&[path.to_path_buf()]).map_err(first_error)
}

/// Loads the flows of several files; flow ids must be unique across all of them.
pub fn load_files(paths: &[PathBuf]) -> Result<Vec<Flow>, ConfigError> {
    validate(paths).map_err(first_error)
}

/// Parses flows from `text` (read from `file`, used in messages); the first error only.
pub fn from_str(file: &Path, text: &str) -> Result<Vec<Flow>, ConfigError> {
    validate_str(file, text)
        .map(|v| v.into_iter().map(|(f, _)| f).collect())
        .map_err(first_error)
}

fn first_error(mut errors: Vec<ConfigError>) -> ConfigError {
    let more = errors.len().saturating_sub(1);
    let mut first = if errors.is_empty() {
        ConfigError::new(Path::new("<flows>"), None, "invalid flow config")
    } else {
        errors.swap_remove(0)
    };
    if more > 0 {
        let note = format!("{more} more error(s) after this one");
        first.hint = Some(match first.hint.take() {
            Some(h) => format!("{h}; {note}"),
            None => note,
        });
    }
    first
}

/// Loads and checks every file, returning all flows or every error found (in file
/// order), including flow ids repeated across files. For `rtmon-dashboards validate`.
pub fn validate(paths: &[PathBuf]) -> Result<Vec<Flow>, Vec<ConfigError>> {
    let mut flows: Vec<(Flow, Location)> = Vec::new();
    let mut errors = Vec::new();
    for p in paths {
        let text = match config::read_text(p) {
            Ok(t) => t,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        match validate_str(p, &text) {
            Ok(fs) => {
                for (f, at) in fs {
                    if let Some((first, first_at)) = flows.iter().find(|(g, _)| g.id == f.id) {
                        errors.push(
                            ConfigError::new(
                                p,
                                Some(at),
                                format!(
                                    "duplicate flow id `{}`: already defined at {}:{}:{}",
                                    f.id,
                                    first.file.display(),
                                    first_at.line,
                                    first_at.column
                                ),
                            )
                            .with_hint(
                                "flow ids must be unique: they name dashboards and rule groups",
                            )
                            .with_source(&text),
                        );
                    } else {
                        flows.push((f, at));
                    }
                }
            }
            Err(es) => errors.extend(es),
        }
    }
    if errors.is_empty() {
        Ok(flows.into_iter().map(|(f, _)| f).collect())
    } else {
        Err(errors)
    }
}

/// Parses and checks the flows in `text`; each flow comes with the location of its id.
/// Returns every error found.
pub fn validate_str(file: &Path, text: &str) -> Result<Vec<(Flow, Location)>, Vec<ConfigError>> {
    decode_all(file, text).map(|(flows, _)| flows)
}

/// Likely mistakes in a valid flow file that do not stop loading (for
/// `rtmon-dashboards validate`): a host's VLAN that differs from the VLAN of the
/// switch port facing it, a flow that enters and leaves a switch by the same port, two
/// hosts of a flow with the same IP. Empty when the file has errors (see [`validate`]).
pub fn warnings(file: &Path, text: &str) -> Vec<ConfigError> {
    decode_all(file, text).map(|(_, w)| w).unwrap_or_default()
}

/// The flows (with the location of their ids) and warnings, or every error.
#[allow(clippy::type_complexity)]
fn decode_all(
    file: &Path,
    text: &str,
) -> Result<(Vec<(Flow, Location)>, Vec<ConfigError>), Vec<ConfigError>> {
    let root = config::parse_tree(file, text).map_err(|e| vec![e])?;
    let mut d = Decoder::new(file, text);
    let mut out = Vec::new();
    match &root.value {
        Value::Null => d.error_hint(
            Location { line: 1, column: 1 },
            "empty flow file",
            "a flow file holds one flow (`flow:`, `title:`, `path:`) or `flows: [...]`",
        ),
        Value::Map(_) if root.get("flows").is_some() => {
            if d.check_map(&root, "a flow list file", &["flows"], &secret_message)
                .is_some()
            {
                if let Some(list) = root.get("flows") {
                    match &list.value {
                        Value::Seq(items) if !items.is_empty() => {
                            for item in items {
                                out.extend(decode_flow(&mut d, item));
                            }
                        }
                        Value::Seq(_) => d.error(list.location, "`flows` is empty"),
                        other => d.error(
                            list.location,
                            format!("`flows` must be a list of flows, found {}", other.kind()),
                        ),
                    }
                }
            }
        }
        Value::Map(entries) if root.get("path").is_none() && is_legacy(entries) => {
            d.error_hint(
                root.location,
                "this is an old (v1/v2) rtmon flow file",
                "convert it with `rtmon-dashboards import-legacy` (secrets are dropped; they \
                 belong in the SNMP exporter's config and the Grafana token file)",
            );
        }
        Value::Map(_) => out.extend(decode_flow(&mut d, &root)),
        other => d.error_hint(
            root.location,
            format!("a flow file must be a mapping, found {}", other.kind()),
            "a flow file holds one flow (`flow:`, `title:`, `path:`) or `flows: [...]`",
        ),
    }
    // Flow ids unique within the file.
    let mut seen: Vec<(&Flow, Location)> = Vec::new();
    let mut dup_errors = Vec::new();
    for (f, at) in &out {
        if let Some((_, first)) = seen.iter().find(|(g, _)| g.id == f.id) {
            dup_errors.push((
                *at,
                format!(
                    "duplicate flow id `{}`: already defined at line {}",
                    f.id, first.line
                ),
            ));
        } else {
            seen.push((f, *at));
        }
    }
    for (at, msg) in dup_errors {
        d.error_hint(
            at,
            msg,
            "flow ids must be unique: they name dashboards and rule groups",
        );
    }
    if d.errors.is_empty() {
        d.warnings
            .sort_by_key(|e| e.location.map(|l| (l.line, l.column)));
        Ok((out, d.warnings))
    } else {
        d.errors
            .sort_by_key(|e| e.location.map(|l| (l.line, l.column)));
        Err(d.errors)
    }
}

fn is_legacy(entries: &[(Node, Node)]) -> bool {
    entries
        .iter()
        .any(|(k, _)| k.as_text().is_some_and(|k| LEGACY_KEYS.contains(&k)))
}

/// The error and hint for a secret-looking key in a flow file (never the value).
fn secret_message(key: &str) -> (String, String) {
    let k = key.to_ascii_lowercase();
    let (goes, hint) = if k.contains("community")
        || k.contains("pass")
        || k.contains("priv")
        || k.contains("auth")
    {
        (
            "put it in the SNMP exporter's config under `auths:` and name that auth here \
             with `auth: <name>`",
            "the SNMP exporter's config reads it from a file or an environment variable, \
             e.g. `community: \"{file:/run/secrets/snmp-community}\"` or \
             `community: \"{env:SNMP_COMMUNITY}\"`",
        )
    } else if k.contains("token") || k.contains("key") {
        (
            "give it to `rtmon-dashboards upload` with --token-file or the GRAFANA_TOKEN \
             environment variable",
            "use a Grafana service-account token, kept in a file readable only by the uploader",
        )
    } else {
        (
            "keep it in a file or environment variable read by the component that needs it",
            "flow files are meant to be committed and shared",
        )
    };
    (
        format!("`{key}` is a secret and does not belong in a flow file; {goes}"),
        hint.to_string(),
    )
}

/// Whether a flow id is safe as a label value, a Grafana uid and a file name.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

fn decode_flow(d: &mut Decoder<'_>, node: &Node) -> Option<(Flow, Location)> {
    d.check_map(node, "a flow", FLOW_KEYS, &secret_message)?;
    let before = d.errors.len();
    let id = d.req_str(node, "flow", "flow");
    if let Some((id, at)) = &id {
        if !valid_id(id) {
            d.error_hint(
                *at,
                format!("flow id `{id}` is not usable as a label value and dashboard uid"),
                format!(
                    "use at most {MAX_ID_LEN} characters from A-Z a-z 0-9 . _ -, e.g. `dtn-a-dtn-b-1000`"
                ),
            );
        }
    }
    let title = d.opt_str(node, "title").map(|(t, _)| t);
    let path = match node.get("path") {
        None => {
            d.error(node.location, "flow: missing required key `path`");
            None
        }
        Some(p) => decode_path(d, p),
    };
    let limits = decode_limits(d, node);
    if d.errors.len() > before {
        return None;
    }
    let (id, at) = id?;
    Some((
        Flow {
            title: title.unwrap_or_else(|| id.clone()),
            id,
            path: path?,
            file: d.file.clone(),
            limits,
        },
        at,
    ))
}

/// `dedicated_ports:` and `thresholds:` of a flow (defaults for what is left out).
fn decode_limits(d: &mut Decoder<'_>, node: &Node) -> Limits {
    let mut l = Limits::default();
    if let Some(n) = node.get("dedicated_ports") {
        match &n.value {
            Value::Bool(b) => l.dedicated_ports = *b,
            Value::Null => {}
            other => d.error(
                n.location,
                format!(
                    "`dedicated_ports` must be true or false, found {}",
                    other.kind()
                ),
            ),
        }
    }
    let Some(t) = node.get("thresholds") else {
        return l;
    };
    if matches!(t.value, Value::Null)
        || d.check_map(t, "`thresholds`", THRESHOLD_KEYS, &secret_message)
            .is_none()
    {
        return l;
    }
    let mut number = |key: &str, max: f64, hint: &str| -> Option<f64> {
        let n = t.get(key)?;
        let v = match &n.value {
            Value::Null => return None,
            Value::Int(i) => *i as f64,
            Value::Float(f) => *f,
            other => {
                d.error_hint(
                    n.location,
                    format!("`{key}` must be a number, found {}", other.kind()),
                    hint,
                );
                return None;
            }
        };
        if !(v.is_finite() && (0.0..=max).contains(&v)) {
            d.error_hint(
                n.location,
                format!("`{key}` {v} is out of range 0..={max}"),
                hint,
            );
            return None;
        }
        Some(v)
    };
    if let Some(v) = number("errors_per_second", 1e12, "packets per second, e.g. `1`") {
        l.errors_per_second = v;
    }
    if let Some(v) = number("ping_loss", 1.0, "a ratio, e.g. `0.02` for 2 %") {
        l.ping_loss = v;
    }
    if let Some(v) = number("loss_tolerance", 1.0, "a ratio, e.g. `0.02` for 2 %") {
        l.loss_tolerance = v;
    }
    if let Some(v) = number("loss_min_pps", 1e12, "packets per second, e.g. `100`") {
        l.loss_min_pps = v;
    }
    if let Some(n) = t.get("ping_rtt") {
        let parsed = match &n.value {
            Value::Null => None,
            Value::Str(s) => Some(crate::cli::parse_duration(s).map(|d| d.as_secs_f64())),
            other => Some(Err(format!("found {}", other.kind()))),
        };
        match parsed {
            Some(Ok(v)) if v > 0.0 => l.ping_rtt_seconds = v,
            Some(Ok(_)) => d.error(n.location, "`ping_rtt` must be above zero"),
            Some(Err(e)) => d.error_hint(
                n.location,
                format!("`ping_rtt` is not a duration: {e}"),
                "a duration such as `5ms` or `0.2s`",
            ),
            None => {}
        }
    }
    l
}

fn decode_path(d: &mut Decoder<'_>, node: &Node) -> Option<Vec<Hop>> {
    let Value::Seq(items) = &node.value else {
        d.error(
            node.location,
            format!("`path` must be a list of hops, found {}", node.value.kind()),
        );
        return None;
    };
    let before = d.errors.len();
    let mut hops: Vec<(Hop, Location)> = Vec::new();
    for item in items {
        if let Some(h) = decode_hop(d, item) {
            hops.push(h);
        }
    }
    if d.errors.len() > before {
        return None;
    }
    // Unique hop names.
    for (i, (h, at)) in hops.iter().enumerate() {
        if let Some((_, first)) = hops[..i].iter().find(|(g, _)| g.name() == h.name()) {
            d.error_hint(
                *at,
                format!(
                    "duplicate hop name `{}`: already used at line {}",
                    h.name(),
                    first.line
                ),
                "every host and switch of a path needs its own name",
            );
        }
    }
    let hosts = hops
        .iter()
        .filter(|(h, _)| matches!(h, Hop::Host(_)))
        .count();
    if hosts < 2 {
        d.error_hint(
            node.location,
            format!("a path needs at least two hosts, found {hosts}"),
            "a flow runs from one `host:` to another, through any number of `switch:` hops",
        );
    }
    if let Some((Hop::Switch(s), at)) = hops.first() {
        d.error_hint(
            *at,
            format!("the path must start with a host, not switch `{}`", s.name),
            "list the hops in order: host, switches..., host",
        );
    }
    if hops.len() > 1 {
        if let Some((Hop::Switch(s), at)) = hops.last() {
            d.error_hint(
                *at,
                format!("the path must end with a host, not switch `{}`", s.name),
                "list the hops in order: host, switches..., host",
            );
        }
    }
    if d.errors.len() > before {
        return None;
    }
    lint_path(d, items, &hops);
    Some(hops.into_iter().map(|(h, _)| h).collect())
}

/// Warnings for a valid path; `items[i]` is the node of `hops[i]`.
fn lint_path(d: &mut Decoder<'_>, items: &[Node], hops: &[(Hop, Location)]) {
    let vlan_at = |node: &Node, port: Option<&str>| {
        let n = match port {
            Some(p) => node.get(p)?.get("vlan")?,
            None => node.get("vlan")?,
        };
        Some(n.location)
    };
    for (i, (hop, at)) in hops.iter().enumerate() {
        let Hop::Switch(sw) = hop else { continue };
        let node = items.get(i);
        if sw.in_port.may_be_same_interface(&sw.out_port) {
            d.warn(
                node.and_then(|n| n.get("out")).map_or(*at, |n| n.location),
                format!(
                    "the flow enters and leaves `{}` by the same port `{}`",
                    sw.name,
                    sw.in_port.display()
                ),
                "`in` is the port facing the previous hop, `out` the one facing the next",
            );
        }
        // The host before faces `in`, the host after faces `out`.
        let neighbours = [
            (
                i.checked_sub(1).and_then(|j| hops.get(j)),
                &sw.in_port,
                "in",
            ),
            (hops.get(i + 1), &sw.out_port, "out"),
        ];
        for (next, port, key) in neighbours {
            let (Some((Hop::Host(h), _)), Some(pv)) = (next, port.vlan) else {
                continue;
            };
            let Some(hv) = h.vlan else { continue };
            if hv != pv {
                let place = node.and_then(|n| vlan_at(n, Some(key))).unwrap_or(*at);
                d.warn(
                    place,
                    format!(
                        "`{key}` vlan {pv} of `{}` differs from vlan {hv} of host `{}`",
                        sw.name, h.name
                    ),
                    "fine if the switch or the host translates VLANs; otherwise a typo",
                );
            }
        }
    }
    // Two hosts with the same IP.
    for (i, (hop, _)) in hops.iter().enumerate() {
        let Hop::Host(h) = hop else { continue };
        let Some(ip) = h.ip else { continue };
        let first = hops[..i].iter().find_map(|(g, _)| match g {
            Hop::Host(g) if g.ip == Some(ip) => Some(g.name.as_str()),
            _ => None,
        });
        if let Some(first) = first {
            let place = items
                .get(i)
                .and_then(|n| n.get("ip"))
                .map_or(Location { line: 1, column: 1 }, |n| n.location);
            d.warn(
                place,
                format!("host `{}` has the same ip {ip} as host `{first}`", h.name),
                "the hosts of a flow ping each other's ip: give each its own",
            );
        }
    }
}

/// Decodes one hop; the location returned is that of its name.
fn decode_hop(d: &mut Decoder<'_>, node: &Node) -> Option<(Hop, Location)> {
    let Some(entries) = node.as_map() else {
        d.error_hint(
            node.location,
            format!("a hop must be a mapping, found {}", node.value.kind()),
            "start a hop with `- host: <name>` or `- switch: <name>`",
        );
        return None;
    };
    let is_host = node.get("host").is_some();
    let is_switch = node.get("switch").is_some();
    match (is_host, is_switch) {
        (true, true) => {
            let at = node
                .key_node("switch")
                .map_or(node.location, |k| k.location);
            d.error_hint(
                at,
                "a hop is either a `host:` or a `switch:`, not both",
                "split it into two hops",
            );
            None
        }
        (true, false) => decode_host(d, node),
        (false, true) => decode_switch(d, node),
        (false, false) => {
            // A typo of the discriminating key gets a did-you-mean at that key.
            let typo = entries.iter().find_map(|(k, _)| {
                let key = k.as_text()?;
                config::did_you_mean(key, &["host", "switch"]).map(|m| (k.location, key, m))
            });
            match typo {
                Some((at, key, m)) => {
                    d.error(at, format!("unknown key `{key}`, did you mean `{m}`?"))
                }
                None => d.error_hint(
                    node.location,
                    "a hop needs a `host:` or a `switch:` key",
                    "start a hop with `- host: <name>` or `- switch: <name>`",
                ),
            }
            None
        }
    }
}

fn decode_host(d: &mut Decoder<'_>, node: &Node) -> Option<(Hop, Location)> {
    d.check_map(node, "a host hop", HOST_KEYS, &secret_message)?;
    let before = d.errors.len();
    let name = d.req_str(node, "host", "host");
    let instance = d.opt_str(node, "instance");
    let interface = d.req_str(node, "interface", "host");
    let ip = d
        .opt_str(node, "ip")
        .and_then(|(s, at)| match s.parse::<IpAddr>() {
            Ok(ip) => Some(ip),
            Err(_) => {
                let hint = if s.contains('/') {
                    "give the interface address without a prefix length, e.g. `10.10.100.1`"
                } else {
                    "an IPv4 (`10.10.100.1`) or IPv6 (`2001:db8::1`) address"
                };
                d.error_hint(at, format!("`ip`: `{s}` is not an IP address"), hint);
                None
            }
        });
    let vlan = vlan(d, node);
    let mac = d
        .opt_str(node, "mac")
        .and_then(|(s, at)| match normalise_mac(&s) {
            Some(m) => Some(m),
            None => {
                d.error_hint(
                    at,
                    format!("`mac`: `{s}` is not a MAC address"),
                    "six hex bytes: `aa:bb:cc:dd:ee:ff`, `aa-bb-cc-dd-ee-ff` or `aabb.ccdd.eeff`",
                );
                None
            }
        });
    // LLDP chassis ids are often MACs: store those like `mac`, anything else as is.
    let lldp_chassis_id = d
        .opt_str(node, "lldp_chassis_id")
        .map(|(s, _)| normalise_mac(&s).unwrap_or(s));
    if d.errors.len() > before {
        return None;
    }
    let (name, at) = name?;
    let (interface, _) = interface?;
    Some((
        Hop::Host(HostHop {
            instance: instance.map_or_else(|| name.clone(), |(i, _)| i),
            name,
            interface,
            ip,
            vlan,
            mac,
            lldp_chassis_id,
        }),
        at,
    ))
}

fn vlan(d: &mut Decoder<'_>, node: &Node) -> Option<u16> {
    d.opt_int(node, "vlan", 1..=4094)
        .and_then(|(v, _)| u16::try_from(v).ok())
}

fn decode_switch(d: &mut Decoder<'_>, node: &Node) -> Option<(Hop, Location)> {
    d.check_map(node, "a switch hop", SWITCH_KEYS, &secret_message)?;
    let before = d.errors.len();
    let name = d.req_str(node, "switch", "switch");
    let target = d.req_str(node, "target", "switch");
    if let Some((t, at)) = &target {
        if t.chars().any(char::is_whitespace) {
            d.error_hint(
                *at,
                format!("`target`: `{t}` contains white space"),
                "the SNMP agent address, `host` or `host:port`",
            );
        }
    }
    let auth = d.opt_str(node, "auth").map(|(a, _)| a);
    let modules = match node.get("modules") {
        None => Some(vec!["if_mib".to_string()]),
        Some(m) => match &m.value {
            Value::Seq(items) if !items.is_empty() => {
                let mut out = Vec::new();
                for it in items {
                    if let Some((s, _)) = d.str_value(it, "modules") {
                        out.push(s);
                    }
                }
                Some(out)
            }
            Value::Seq(_) => {
                d.error(
                    m.location,
                    "`modules` must not be empty (leave it out for `[if_mib]`)",
                );
                None
            }
            Value::Str(s) if !s.is_empty() => Some(vec![s.clone()]),
            other => {
                d.error(
                    m.location,
                    format!(
                        "`modules` must be a list of module names, found {}",
                        other.kind()
                    ),
                );
                None
            }
        },
    };
    let in_port = port(d, node, "in");
    let out_port = port(d, node, "out");
    let lldp_system_name = d.opt_str(node, "lldp_system_name").map(|(s, _)| s);
    if d.errors.len() > before {
        return None;
    }
    let (name, at) = name?;
    Some((
        Hop::Switch(SwitchHop {
            name,
            target: target?.0,
            auth,
            modules: modules?,
            in_port: in_port?,
            out_port: out_port?,
            lldp_system_name,
        }),
        at,
    ))
}

fn port(d: &mut Decoder<'_>, sw: &Node, key: &str) -> Option<Port> {
    let Some(node) = sw.get(key) else {
        d.error_hint(
            sw.location,
            format!("switch: missing required key `{key}`"),
            format!("`{key}: {{port: \"hundredGigE 1/27\", vlan: 1000}}` (the port's ifName)"),
        );
        return None;
    };
    let what = format!("`{key}`");
    d.check_map(node, &what, PORT_KEYS, &secret_message)?;
    let before = d.errors.len();
    let port = d.req_str(node, "port", &what);
    let vlan = vlan(d, node);
    let pin = port_pin(d, node, key);
    if d.errors.len() > before {
        return None;
    }
    Some(Port {
        port: port?.0,
        vlan,
        pin,
    })
}

/// `ifIndex:` or `ifDescr:` of a port (at most one of them).
fn port_pin(d: &mut Decoder<'_>, node: &Node, key: &str) -> Option<PortPin> {
    let by_index = d
        .opt_int(node, "ifIndex", 1..=i128::from(i32::MAX))
        .and_then(|(v, _)| u32::try_from(v).ok().map(PortPin::IfIndex));
    let by_descr = d.opt_str(node, "ifDescr").map(|(s, _)| PortPin::IfDescr(s));
    match (by_index, by_descr) {
        (Some(_), Some(_)) => {
            let at = [node.key_node("ifIndex"), node.key_node("ifDescr")]
                .into_iter()
                .flatten()
                .map(|k| k.location)
                .max_by_key(|l| (l.line, l.column))
                .unwrap_or(node.location);
            d.error_hint(
                at,
                format!("`{key}`: pin the port by `ifIndex` or by `ifDescr`, not both"),
                "`ifIndex` is exact but moves when the switch renumbers its interfaces; \
                 `ifDescr` survives that where the descriptions differ",
            );
            None
        }
        (a, b) => a.or(b),
    }
}

/// `aa:bb:cc:dd:ee:ff` from `AA:BB:CC:DD:EE:FF`, `aa-bb-cc-dd-ee-ff` or `aabb.ccdd.eeff`.
pub fn normalise_mac(s: &str) -> Option<String> {
    let hex: String = if s.contains('.') {
        let groups: Vec<&str> = s.split('.').collect();
        if groups.len() != 3 || groups.iter().any(|g| g.len() != 4) {
            return None;
        }
        groups.concat()
    } else {
        let sep = if s.contains('-') { '-' } else { ':' };
        let groups: Vec<&str> = s.split(sep).collect();
        if groups.len() != 6 || groups.iter().any(|g| g.len() != 2) {
            return None;
        }
        groups.concat()
    };
    if hex.len() != 12 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let hex = hex.to_ascii_lowercase();
    let pairs: Vec<&str> = (0..6).filter_map(|i| hex.get(2 * i..2 * i + 2)).collect();
    Some(pairs.join(":"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_are_normalised() {
        assert_eq!(
            normalise_mac("AA:BB:CC:00:11:22").as_deref(),
            Some("aa:bb:cc:00:11:22")
        );
        assert_eq!(
            normalise_mac("aa-bb-cc-00-11-22").as_deref(),
            Some("aa:bb:cc:00:11:22")
        );
        assert_eq!(
            normalise_mac("aabb.cc00.1122").as_deref(),
            Some("aa:bb:cc:00:11:22")
        );
        assert_eq!(normalise_mac("aa:bb:cc:00:11"), None);
        assert_eq!(normalise_mac("zz:bb:cc:00:11:22"), None);
        assert_eq!(normalise_mac("aabbcc001122"), None);
    }

    #[test]
    fn ids_are_checked() {
        assert!(valid_id("dtn-a-dtn-b-1000"));
        assert!(valid_id("a.b_c-1"));
        assert!(!valid_id(""));
        assert!(!valid_id("has space"));
        assert!(!valid_id("slash/no"));
        assert!(!valid_id(&"x".repeat(41)));
    }

    const ONE: &str = "flow: f1\npath:\n  - host: a\n    interface: eth0\n  - switch: s\n    target: 192.0.2.1\n    in: {port: \"Gi 1/1\"}\n    out: {port: \"Gi 1/2\", vlan: 7}\n  - host: b\n    instance: 198.51.100.2:9100\n    interface: eth1\n    ip: 10.0.0.2\n    vlan: 7\n    mac: 02-00-00-00-00-0B\n";

    #[test]
    fn limits_default_and_are_checked() {
        let f = &from_str(Path::new("f.yml"), ONE).unwrap_or_else(|e| panic!("{}", e.render()))[0];
        assert_eq!(f.limits, Limits::default());
        let text = format!(
            "dedicated_ports: true\nthresholds:\n  errors_per_second: 0.5\n  ping_loss: 0.01\n  ping_rtt: 20ms\n  loss_tolerance: 0.03\n  loss_min_pps: 10\n{ONE}"
        );
        let f =
            &from_str(Path::new("f.yml"), &text).unwrap_or_else(|e| panic!("{}", e.render()))[0];
        assert!(f.limits.dedicated_ports);
        assert_eq!(f.limits.errors_per_second, 0.5);
        assert_eq!(f.limits.ping_loss, 0.01);
        assert!((f.limits.ping_rtt_seconds - 0.02).abs() < 1e-9);
        assert_eq!(f.limits.loss_tolerance, 0.03);
        assert_eq!(f.limits.loss_min_pps, 10.0);
        for (bad, want) in [
            (
                "thresholds:\n  ping_loss: 2\n",
                "`ping_loss` 2 is out of range 0..=1",
            ),
            (
                "thresholds:\n  ping_rtt: fast\n",
                "`ping_rtt` is not a duration",
            ),
            ("thresholds:\n  pingloss: 0.1\n", "pingloss"),
            (
                "dedicated_ports: yes please\n",
                "`dedicated_ports` must be true or false",
            ),
        ] {
            let e = from_str(Path::new("f.yml"), &format!("{bad}{ONE}"))
                .err()
                .unwrap_or_else(|| panic!("{bad} accepted"));
            assert!(e.render().contains(want), "{bad}: {}", e.render());
            assert_eq!(
                e.location.map(|l| l.line),
                Some(if bad.starts_with("thr") { 2 } else { 1 }),
                "{}",
                e.render()
            );
        }
    }

    #[test]
    fn happy_path_defaults() {
        let flows = from_str(Path::new("f.yml"), ONE).unwrap_or_else(|e| panic!("{}", e.render()));
        assert_eq!(flows.len(), 1);
        let f = &flows[0];
        assert_eq!(f.id, "f1");
        assert_eq!(f.title, "f1");
        assert_eq!(f.file, Path::new("f.yml"));
        let hosts: Vec<&HostHop> = f.hosts().collect();
        assert_eq!(hosts[0].instance, "a");
        assert_eq!(hosts[1].instance, "198.51.100.2:9100");
        assert_eq!(hosts[1].ip, "10.0.0.2".parse().ok());
        assert_eq!(hosts[1].vlan, Some(7));
        assert_eq!(hosts[1].mac.as_deref(), Some("02:00:00:00:00:0b"));
        let s = f.switches().next().unwrap_or_else(|| panic!("no switch"));
        assert_eq!(s.modules, vec!["if_mib".to_string()]);
        assert_eq!(s.auth, None);
        assert_eq!(
            s.in_port,
            Port {
                port: "Gi 1/1".into(),
                vlan: None,
                pin: None
            }
        );
        assert_eq!(
            s.out_port,
            Port {
                port: "Gi 1/2".into(),
                vlan: Some(7),
                pin: None
            }
        );
        assert_eq!(
            f.peers_of("a").map(|h| h.name.as_str()).collect::<Vec<_>>(),
            vec!["b"]
        );
    }

    #[test]
    fn lldp_expectations_are_optional() {
        let flows = from_str(Path::new("f.yml"), ONE).unwrap_or_else(|e| panic!("{}", e.render()));
        assert!(flows[0].hosts().all(|h| h.lldp_chassis_id.is_none()));
        assert!(flows[0].switches().all(|s| s.lldp_system_name.is_none()));
        let text = ONE
            .replace(
                "    interface: eth0\n",
                "    interface: eth0\n    lldp_chassis_id: 00-1B-21-AA-BB-CC\n",
            )
            .replace(
                "    target: 192.0.2.1\n",
                "    target: 192.0.2.1\n    lldp_system_name: sw-s.example.net\n",
            )
            .replace(
                "    ip: 10.0.0.2\n",
                "    ip: 10.0.0.2\n    lldp_chassis_id: dtn-b\n",
            );
        let flows =
            from_str(Path::new("f.yml"), &text).unwrap_or_else(|e| panic!("{}", e.render()));
        let hosts: Vec<&HostHop> = flows[0].hosts().collect();
        assert_eq!(
            hosts[0].lldp_chassis_id.as_deref(),
            Some("00:1b:21:aa:bb:cc")
        );
        assert_eq!(hosts[1].lldp_chassis_id.as_deref(), Some("dtn-b"));
        let s = flows[0]
            .switches()
            .next()
            .unwrap_or_else(|| panic!("no switch"));
        assert_eq!(s.lldp_system_name.as_deref(), Some("sw-s.example.net"));
        let e = from_str(
            Path::new("f.yml"),
            &ONE.replace(
                "    interface: eth0\n",
                "    interface: eth0\n    lldp_chasis_id: x\n",
            ),
        )
        .expect_err("typo");
        assert!(e.to_string().contains("lldp_chassis_id"), "{e}");
    }

    #[test]
    fn ports_may_be_pinned_by_if_index_or_if_descr() {
        let text = ONE
            .replace(
                "in: {port: \"Gi 1/1\"}",
                "in: {port: \"Ethernet 0/29\", ifIndex: 57}",
            )
            .replace(
                "out: {port: \"Gi 1/2\", vlan: 7}",
                "out: {port: \"Ethernet 0/29\", ifDescr: \"Ethernet 0/29 breakout 2\", vlan: 7}",
            );
        let flows =
            from_str(Path::new("f.yml"), &text).unwrap_or_else(|e| panic!("{}", e.render()));
        let s = flows[0]
            .switches()
            .next()
            .unwrap_or_else(|| panic!("no switch"));
        assert_eq!(s.in_port.pin, Some(PortPin::IfIndex(57)));
        assert_eq!(
            s.out_port.pin,
            Some(PortPin::IfDescr("Ethernet 0/29 breakout 2".into()))
        );
        assert_eq!(
            s.in_port.labels(),
            vec![
                ("ifName", "Ethernet 0/29".to_string()),
                ("ifIndex", "57".to_string())
            ]
        );
        assert_eq!(s.in_port.display(), "Ethernet 0/29 (ifIndex 57)");
        assert_eq!(
            s.out_port.labels()[1],
            ("ifDescr", "Ethernet 0/29 breakout 2".to_string())
        );
        // Same name, pinned to two interfaces: not "the same port" any more.
        assert!(!s.in_port.may_be_same_interface(&s.out_port));
        assert!(warnings(Path::new("f.yml"), &text).is_empty());
        // Same name, one of them unpinned: may well be the same interface.
        let half = text.replace(", ifIndex: 57", "");
        let w = warnings(Path::new("f.yml"), &half);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].to_string().contains("same port"), "{}", w[0]);

        for (bad, line, col, want) in [
            (
                "in: {port: \"Gi 1/1\", ifIndex: 0}",
                7,
                35,
                "`ifIndex` 0 is out of range 1..=2147483647",
            ),
            (
                "in: {port: \"Gi 1/1\", ifIndex: \"57\"}",
                7,
                35,
                "`ifIndex` must be an integer in 1..=2147483647, found a string",
            ),
            (
                "in: {port: \"Gi 1/1\", ifDescr: \"\"}",
                7,
                35,
                "`ifDescr` must not be empty",
            ),
            (
                "in: {port: \"Gi 1/1\", ifIndex: 5, ifDescr: \"x\"}",
                7,
                38,
                "`in`: pin the port by `ifIndex` or by `ifDescr`, not both",
            ),
            (
                "in: {port: \"Gi 1/1\", ifindex: 5}",
                7,
                26,
                "unknown key `ifindex`, did you mean `ifIndex`?",
            ),
            (
                "in: {ifIndex: 5}",
                7,
                9,
                "`in`: missing required key `port`",
            ),
        ] {
            let t = ONE.replace("in: {port: \"Gi 1/1\"}", bad);
            let errs = validate_str(Path::new("f.yml"), &t)
                .err()
                .unwrap_or_default();
            let msgs: Vec<String> = errs.iter().map(ToString::to_string).collect();
            assert_eq!(msgs, vec![format!("f.yml:{line}:{col}: {want}")], "{bad}");
        }
    }

    #[test]
    fn validate_reports_every_error() {
        let text = "flow: f1\npath:\n  - host: a\n    interface: eth0\n    vlan: 0\n  - host: b\n    interface: eth1\n    ip: 10.0.0.300\n    valn: 3\n";
        let errs = validate_str(Path::new("f.yml"), text)
            .err()
            .unwrap_or_default();
        let msgs: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert_eq!(
            msgs,
            vec![
                "f.yml:5:11: `vlan` 0 is out of range 1..=4094",
                "f.yml:8:9: `ip`: `10.0.0.300` is not an IP address",
                "f.yml:9:5: unknown key `valn`, did you mean `vlan`?",
            ]
        );
    }
}
