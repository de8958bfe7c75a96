//! The built-in `if_mib` module: ifTable + ifXTable with snmp_exporter's names and
//! labels, and the per-target lookup cache (ifName, ifDescr, ifAlias and other
//! slow-changing columns).
//!
//! Everything here is pure: walked columns in, [`IfCache`] / samples out.

use std::collections::BTreeMap;
use std::time::Instant;

use rtmon::expo::{Label, MetricSet, MetricType, Value};

use crate::client::SnmpValue;
use crate::config::IfFilter;
use crate::walk::Column;

/// ifTable entry prefix 1.3.6.1.2.1.2.2.1.
pub const IF_TABLE: [u32; 9] = [1, 3, 6, 1, 2, 1, 2, 2, 1];
/// ifXTable entry prefix 1.3.6.1.2.1.31.1.1.1.
pub const IFX_TABLE: [u32; 10] = [1, 3, 6, 1, 2, 1, 31, 1, 1, 1];
/// sysUpTime.0
pub const SYS_UPTIME: [u32; 9] = [1, 3, 6, 1, 2, 1, 1, 3, 0];
/// ifNumber.0
pub const IF_NUMBER: [u32; 9] = [1, 3, 6, 1, 2, 1, 2, 1, 0];

/// How a column becomes metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A counter sample named after the column.
    Counter,
    /// A gauge sample named after the column.
    Gauge,
    /// `ifType_info{ifType="ethernetCsmacd"} 1` (snmp_exporter EnumAsInfo, whole IANAifType-MIB).
    TypeInfo,
    /// `ifPhysAddress{ifPhysAddress="00:1B:21:00:00:01"} 1` (PhysAddress48: six octets, zero-padded).
    PhysAddress,
    /// Lookup label only (ifName, ifDescr, ifAlias), not a metric.
    Label,
}

/// One IF-MIB column.
#[derive(Clone, Copy, Debug)]
pub struct ColDef {
    /// snmp_exporter metric name (the MIB object name).
    pub name: &'static str,
    /// true: ifXTable, false: ifTable.
    pub x: bool,
    /// Column number.
    pub col: u32,
    /// How it is exported.
    pub kind: Kind,
    /// Slow-changing: kept in the lookup cache, walked only when the cache is refreshed.
    pub cached: bool,
    /// HELP text (snmp_exporter's).
    pub help: &'static str,
}

impl ColDef {
    /// Full column OID.
    pub fn oid(&self) -> Vec<u32> {
        let mut o = if self.x {
            IFX_TABLE.to_vec()
        } else {
            IF_TABLE.to_vec()
        };
        o.push(self.col);
        o
    }
}

const fn c(
    name: &'static str,
    x: bool,
    col: u32,
    kind: Kind,
    cached: bool,
    help: &'static str,
) -> ColDef {
    ColDef {
        name,
        x,
        col,
        kind,
        cached,
        help,
    }
}

use Kind::{Counter as C, Gauge as G};

/// All if_mib columns (ifSpecific, an OID, is not exported by snmp_exporter either).
pub const COLUMNS: &[ColDef] = &[
    c("ifDescr", false, 2, Kind::Label, true, "A textual string containing information about the interface - 1.3.6.1.2.1.2.2.1.2"),
    c("ifType", false, 3, Kind::TypeInfo, true, "The type of interface - 1.3.6.1.2.1.2.2.1.3"),
    c("ifMtu", false, 4, G, false, "The size of the largest packet which can be sent/received on the interface, specified in octets - 1.3.6.1.2.1.2.2.1.4"),
    c("ifSpeed", false, 5, G, false, "An estimate of the interface's current bandwidth in bits per second - 1.3.6.1.2.1.2.2.1.5"),
    c("ifPhysAddress", false, 6, Kind::PhysAddress, true, "The interface's address at its protocol sub-layer - 1.3.6.1.2.1.2.2.1.6"),
    c("ifAdminStatus", false, 7, G, false, "The desired state of the interface - 1.3.6.1.2.1.2.2.1.7"),
    c("ifOperStatus", false, 8, G, false, "The current operational state of the interface - 1.3.6.1.2.1.2.2.1.8"),
    c("ifLastChange", false, 9, G, false, "The value of sysUpTime at the time the interface entered its current operational state - 1.3.6.1.2.1.2.2.1.9"),
    c("ifInOctets", false, 10, C, false, "The total number of octets received on the interface, including framing characters - 1.3.6.1.2.1.2.2.1.10"),
    c("ifInUcastPkts", false, 11, C, false, "The number of packets, delivered by this sub-layer to a higher (sub-)layer, which were not addressed to a multicast or broadcast address at this sub-layer - 1.3.6.1.2.1.2.2.1.11"),
    c("ifInNUcastPkts", false, 12, C, false, "The number of packets, delivered by this sub-layer to a higher (sub-)layer, which were addressed to a multicast or broadcast address at this sub-layer - 1.3.6.1.2.1.2.2.1.12"),
    c("ifInDiscards", false, 13, C, false, "The number of inbound packets which were chosen to be discarded even though no errors had been detected to prevent their being deliverable to a higher-layer protocol - 1.3.6.1.2.1.2.2.1.13"),
    c("ifInErrors", false, 14, C, false, "For packet-oriented interfaces, the number of inbound packets that contained errors preventing them from being deliverable to a higher-layer protocol - 1.3.6.1.2.1.2.2.1.14"),
    c("ifInUnknownProtos", false, 15, C, false, "For packet-oriented interfaces, the number of packets received via the interface which were discarded because of an unknown or unsupported protocol - 1.3.6.1.2.1.2.2.1.15"),
    c("ifOutOctets", false, 16, C, false, "The total number of octets transmitted out of the interface, including framing characters - 1.3.6.1.2.1.2.2.1.16"),
    c("ifOutUcastPkts", false, 17, C, false, "The total number of packets that higher-level protocols requested be transmitted, and which were not addressed to a multicast or broadcast address at this sub-layer, including those that were discarded or not sent - 1.3.6.1.2.1.2.2.1.17"),
    c("ifOutNUcastPkts", false, 18, C, false, "The total number of packets that higher-level protocols requested be transmitted, and which were addressed to a multicast or broadcast address at this sub-layer, including those that were discarded or not sent - 1.3.6.1.2.1.2.2.1.18"),
    c("ifOutDiscards", false, 19, C, false, "The number of outbound packets which were chosen to be discarded even though no errors had been detected to prevent their being transmitted - 1.3.6.1.2.1.2.2.1.19"),
    c("ifOutErrors", false, 20, C, false, "For packet-oriented interfaces, the number of outbound packets that could not be transmitted because of errors - 1.3.6.1.2.1.2.2.1.20"),
    c("ifOutQLen", false, 21, G, false, "The length of the output packet queue (in packets). - 1.3.6.1.2.1.2.2.1.21"),
    c("ifName", true, 1, Kind::Label, true, "The textual name of the interface - 1.3.6.1.2.1.31.1.1.1.1"),
    c("ifInMulticastPkts", true, 2, C, false, "The number of packets, delivered by this sub-layer to a higher (sub-)layer, which were addressed to a multicast address at this sub-layer - 1.3.6.1.2.1.31.1.1.1.2"),
    c("ifInBroadcastPkts", true, 3, C, false, "The number of packets, delivered by this sub-layer to a higher (sub-)layer, which were addressed to a broadcast address at this sub-layer - 1.3.6.1.2.1.31.1.1.1.3"),
    c("ifOutMulticastPkts", true, 4, C, false, "The total number of packets that higher-level protocols requested be transmitted, and which were addressed to a multicast address at this sub-layer, including those that were discarded or not sent - 1.3.6.1.2.1.31.1.1.1.4"),
    c("ifOutBroadcastPkts", true, 5, C, false, "The total number of packets that higher-level protocols requested be transmitted, and which were addressed to a broadcast address at this sub-layer, including those that were discarded or not sent - 1.3.6.1.2.1.31.1.1.1.5"),
    c("ifHCInOctets", true, 6, C, false, "The total number of octets received on the interface, including framing characters - 1.3.6.1.2.1.31.1.1.1.6"),
    c("ifHCInUcastPkts", true, 7, C, false, "The number of packets, delivered by this sub-layer to a higher (sub-)layer, which were not addressed to a multicast or broadcast address at this sub-layer - 1.3.6.1.2.1.31.1.1.1.7"),
    c("ifHCInMulticastPkts", true, 8, C, false, "The number of packets, delivered by this sub-layer to a higher (sub-)layer, which were addressed to a multicast address at this sub-layer - 1.3.6.1.2.1.31.1.1.1.8"),
    c("ifHCInBroadcastPkts", true, 9, C, false, "The number of packets, delivered by this sub-layer to a higher (sub-)layer, which were addressed to a broadcast address at this sub-layer - 1.3.6.1.2.1.31.1.1.1.9"),
    c("ifHCOutOctets", true, 10, C, false, "The total number of octets transmitted out of the interface, including framing characters - 1.3.6.1.2.1.31.1.1.1.10"),
    c("ifHCOutUcastPkts", true, 11, C, false, "The total number of packets that higher-level protocols requested be transmitted, and which were not addressed to a multicast or broadcast address at this sub-layer, including those that were discarded or not sent - 1.3.6.1.2.1.31.1.1.1.11"),
    c("ifHCOutMulticastPkts", true, 12, C, false, "The total number of packets that higher-level protocols requested be transmitted, and which were addressed to a multicast address at this sub-layer, including those that were discarded or not sent - 1.3.6.1.2.1.31.1.1.1.12"),
    c("ifHCOutBroadcastPkts", true, 13, C, false, "The total number of packets that higher-level protocols requested be transmitted, and which were addressed to a broadcast address at this sub-layer, including those that were discarded or not sent - 1.3.6.1.2.1.31.1.1.1.13"),
    c("ifLinkUpDownTrapEnable", true, 14, G, true, "Indicates whether linkUp/linkDown traps should be generated for this interface - 1.3.6.1.2.1.31.1.1.1.14"),
    c("ifHighSpeed", true, 15, G, false, "An estimate of the interface's current bandwidth in units of 1,000,000 bits per second - 1.3.6.1.2.1.31.1.1.1.15"),
    c("ifPromiscuousMode", true, 16, G, true, "This object has a value of false(2) if this interface only accepts packets/frames that are addressed to this station - 1.3.6.1.2.1.31.1.1.1.16"),
    c("ifConnectorPresent", true, 17, G, true, "This object has the value 'true(1)' if the interface sublayer has a physical connector and the value 'false(2)' otherwise. - 1.3.6.1.2.1.31.1.1.1.17"),
    c("ifAlias", true, 18, Kind::Label, true, "This object is an 'alias' name for the interface as specified by a network manager, and provides a non-volatile 'handle' for the interface - 1.3.6.1.2.1.31.1.1.1.18"),
    c("ifCounterDiscontinuityTime", true, 19, G, false, "The value of sysUpTime on the most recent occasion at which any one or more of this interface's counters suffered a discontinuity - 1.3.6.1.2.1.31.1.1.1.19"),
];

/// The columns walked on every scrape.
pub fn dynamic_columns() -> Vec<&'static ColDef> {
    COLUMNS.iter().filter(|c| !c.cached).collect()
}

/// The columns walked when the lookup cache is (re)built.
pub fn cached_columns() -> Vec<&'static ColDef> {
    COLUMNS.iter().filter(|c| c.cached).collect()
}

/// Cached, slow-changing facts of one interface.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IfInfo {
    /// ifName ("" if the agent has none).
    pub name: String,
    /// ifDescr.
    pub descr: String,
    /// ifAlias.
    pub alias: String,
    /// Other cached columns by metric name.
    pub values: BTreeMap<&'static str, SnmpValue>,
}

/// The per-target lookup cache.
#[derive(Clone, Debug)]
pub struct IfCache {
    /// When it was built.
    pub built: Instant,
    /// sysUpTime (ticks) when last validated; a smaller value means a reboot.
    pub uptime: Option<u64>,
    /// ifNumber when built; a change invalidates.
    pub if_number: Option<i64>,
    /// Interfaces by ifIndex.
    pub rows: BTreeMap<u32, IfInfo>,
}

impl IfCache {
    /// Builds the cache from the walked [`cached_columns`] (same order).
    pub fn build(cols: &[Column], uptime: Option<u64>, if_number: Option<i64>) -> IfCache {
        let mut rows: BTreeMap<u32, IfInfo> = BTreeMap::new();
        for (def, col) in cached_columns().into_iter().zip(cols) {
            for (idx, v) in col {
                let [i] = idx[..] else { continue };
                let row = rows.entry(i).or_default();
                match def.name {
                    "ifName" => row.name = v.as_text().unwrap_or_default(),
                    "ifDescr" => row.descr = v.as_text().unwrap_or_default(),
                    "ifAlias" => row.alias = v.as_text().unwrap_or_default(),
                    n => {
                        row.values.insert(n, v.clone());
                    }
                }
            }
        }
        IfCache {
            built: Instant::now(),
            uptime,
            if_number,
            rows,
        }
    }

    /// Whether the cache may be used now.
    pub fn valid(
        &self,
        now: Instant,
        ttl: std::time::Duration,
        uptime: Option<u64>,
        if_number: Option<i64>,
    ) -> bool {
        if now.saturating_duration_since(self.built) >= ttl {
            return false;
        }
        if let (Some(old), Some(new)) = (self.uptime, uptime) {
            if new < old {
                return false; // agent restarted
            }
        }
        if if_number.is_some() && if_number != self.if_number {
            return false;
        }
        true
    }

    /// ifIndexes passing the ifName filter (all when there is none).
    pub fn select(&self, filter: &IfFilter) -> Vec<u32> {
        self.rows
            .iter()
            .filter(|(_, r)| {
                filter
                    .if_name
                    .as_ref()
                    .is_none_or(|re| re.is_match(&r.name))
            })
            .map(|(i, _)| *i)
            .collect()
    }

    /// Every interface called `name`: by exact ifName, or (when no ifName matches) by
    /// ifDescr among interfaces without an ifName. More than one means the name is
    /// ambiguous on this agent (Huawei and Extreme switches give one ifName to two
    /// interfaces); a flow port must then be pinned by ifIndex or ifDescr.
    pub fn find_all(&self, name: &str) -> Vec<(u32, &IfInfo)> {
        let by_name: Vec<(u32, &IfInfo)> = self
            .rows
            .iter()
            .filter(|(_, r)| r.name == name)
            .map(|(i, r)| (*i, r))
            .collect();
        if !by_name.is_empty() {
            return by_name;
        }
        self.rows
            .iter()
            .filter(|(_, r)| r.name.is_empty() && r.descr == name)
            .map(|(i, r)| (*i, r))
            .collect()
    }

    /// Finds an interface by exact ifName; falls back to ifDescr. The first (lowest
    /// ifIndex) when several match: see [`IfCache::find_all`].
    pub fn find(&self, name: &str) -> Option<(u32, &IfInfo)> {
        self.rows
            .iter()
            .find(|(_, r)| r.name == name)
            .or_else(|| {
                self.rows
                    .iter()
                    .find(|(_, r)| r.name.is_empty() && r.descr == name)
            })
            .map(|(i, r)| (*i, r))
    }
}

/// The `ifType` label: the IANAifType name (whole IANAifType-MIB, see [`crate::iftype`]),
/// or the number for a value the MIB does not name, like snmp_exporter's EnumAsInfo.
pub fn if_type_name(t: i64) -> String {
    crate::iftype::label(t)
}

/// snmp_exporter's PhysAddress48 rendering: six upper-case hex pairs joined by `:`. A
/// shorter value is padded with zero octets (`""` → `00:00:00:00:00:00`, 4 octets
/// `44:61:74:61` → `44:61:74:61:00:00`), a longer one keeps its first six octets.
pub fn phys_address(b: &[u8]) -> String {
    let mut s = String::with_capacity(17);
    for i in 0..6 {
        if i > 0 {
            s.push(':');
        }
        let x = b.get(i).copied().unwrap_or(0);
        s.push_str(&format!("{x:02X}"));
    }
    s
}

/// Counter64 values above 2^53 are exported exactly by default; with
/// `wrap` they are reduced modulo 2^53 like snmp_exporter's `--snmp.wrap-large-counters`.
pub fn counter_value(v: &SnmpValue, wrap: bool) -> Option<Value> {
    let u = v.as_u64()?;
    Some(Value::U64(if wrap { u % (1u64 << 53) } else { u }))
}

fn labels(idx: u32, info: Option<&IfInfo>) -> Vec<Label> {
    let (a, d, n) = info.map_or(("", "", ""), |r| {
        (r.alias.as_str(), r.descr.as_str(), r.name.as_str())
    });
    vec![
        ("ifAlias".into(), a.to_string()),
        ("ifDescr".into(), d.to_string()),
        ("ifIndex".into(), idx.to_string()),
        ("ifName".into(), n.to_string()),
    ]
}

/// HELP of `sysUpTime` (snmp_exporter's).
pub const SYS_UPTIME_HELP: &str = "The time (in hundredths of a second) since the network management portion of the system was last re-initialized. - 1.3.6.1.2.1.1.3";

/// The scalars of one scrape (GET in the same packet): `sysUpTime.0`, `ifNumber.0`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Scalars {
    /// sysUpTime.0 (ticks), if the agent answered it.
    pub sys_uptime: Option<u64>,
    /// ifNumber.0, if the agent answered it.
    pub if_number: Option<i64>,
}

/// Emits the if_mib families: `dynamic` holds the rows of [`dynamic_columns`] (same
/// order) by ifIndex; `selected` the interfaces to export (after filters). `sysUpTime`
/// (which upstream's `if_mib` GETs too) is skipped when another module of the same
/// scrape already emitted it.
pub fn emit(
    out: &mut MetricSet,
    cache: &IfCache,
    dynamic: &[BTreeMap<u32, SnmpValue>],
    selected: &[u32],
    scalars: Scalars,
    wrap: bool,
) {
    if let Some(u) = scalars.sys_uptime {
        if !out.contains("sysUpTime") {
            out.gauge("sysUpTime", SYS_UPTIME_HELP, &[], Value::U64(u));
        }
    }
    if let Some(n) = scalars.if_number {
        out.gauge("ifNumber", "The number of network interfaces (regardless of their current state) present on this system. - 1.3.6.1.2.1.2.1", &[], Value::I64(n));
    }
    let fam = out.family(
        "ifIndex",
        "A unique value, greater than zero, for each interface - 1.3.6.1.2.1.2.2.1.1",
        MetricType::Gauge,
    );
    for &i in selected {
        fam.add_owned(labels(i, cache.rows.get(&i)), Value::U64(u64::from(i)));
    }
    let dyns = dynamic_columns();
    for def in COLUMNS {
        match def.kind {
            Kind::Label => {}
            Kind::TypeInfo => {
                let help = format!("{} (EnumAsInfo)", def.help);
                let fam = out.family("ifType_info", &help, MetricType::Gauge);
                for &i in selected {
                    let Some(info) = cache.rows.get(&i) else {
                        continue;
                    };
                    if let Some(t) = info.values.get("ifType").and_then(SnmpValue::as_i64) {
                        let mut l = labels(i, Some(info));
                        l.push(("ifType".into(), if_type_name(t)));
                        fam.add_owned(l, Value::U64(1));
                    }
                }
            }
            Kind::PhysAddress => {
                let fam = out.family(def.name, def.help, MetricType::Gauge);
                for &i in selected {
                    let Some(info) = cache.rows.get(&i) else {
                        continue;
                    };
                    if let Some(SnmpValue::Bytes(b)) = info.values.get(def.name) {
                        let mut l = labels(i, Some(info));
                        l.push(("ifPhysAddress".into(), phys_address(b)));
                        fam.add_owned(l, Value::U64(1));
                    }
                }
            }
            Kind::Counter | Kind::Gauge => {
                let kind = if def.kind == Kind::Counter {
                    MetricType::Counter
                } else {
                    MetricType::Gauge
                };
                let fam = out.family(def.name, def.help, kind);
                let col = dyns
                    .iter()
                    .position(|d| d.name == def.name)
                    .and_then(|p| dynamic.get(p));
                for &i in selected {
                    let info = cache.rows.get(&i);
                    let v = if def.cached {
                        info.and_then(|r| r.values.get(def.name))
                    } else {
                        col.and_then(|c| c.get(&i))
                    };
                    let Some(v) = v else { continue };
                    let val = if def.kind == Kind::Counter {
                        counter_value(v, wrap)
                    } else {
                        v.as_i64().map(Value::I64)
                    };
                    if let Some(val) = val {
                        fam.add_owned(labels(i, info), val);
                    }
                }
            }
        }
    }
    out.prune_empty();
}

/// Converts walked columns (index suffix → value) to ifIndex-keyed maps; rows whose
/// index is not a single arc are ignored.
pub fn by_if_index(cols: Vec<Column>) -> Vec<BTreeMap<u32, SnmpValue>> {
    cols.into_iter()
        .map(|c| {
            c.into_iter()
                .filter_map(|(k, v)| match k[..] {
                    [i] => Some((i, v)),
                    _ => None,
                })
                .collect()
        })
        .collect()
}

/// Applies the oper-status filter to `selected`.
pub fn filter_oper(
    selected: Vec<u32>,
    dynamic: &[BTreeMap<u32, SnmpValue>],
    filter: &IfFilter,
) -> Vec<u32> {
    if filter.oper_status.is_empty() {
        return selected;
    }
    let pos = dynamic_columns()
        .iter()
        .position(|d| d.name == "ifOperStatus");
    let col = pos.and_then(|p| dynamic.get(p));
    selected
        .into_iter()
        .filter(|i| {
            col.and_then(|c| c.get(i))
                .and_then(SnmpValue::as_i64)
                .is_some_and(|s| filter.oper_status.contains(&s))
        })
        .collect()
}

/// Levenshtein distance (case-insensitive), for "did you mean".
pub fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Up to `n` interface names closest to `name`.
pub fn closest<'a>(cache: &'a IfCache, name: &str, n: usize) -> Vec<&'a str> {
    let mut v: Vec<(usize, &str)> = cache
        .rows
        .values()
        .map(|r| r.name.as_str())
        .filter(|s| !s.is_empty())
        .map(|s| (distance(name, s), s))
        .collect();
    v.sort();
    v.dedup();
    v.into_iter().take(n).map(|(_, s)| s).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(entries: &[(u32, SnmpValue)]) -> Column {
        entries.iter().map(|(i, v)| (vec![*i], v.clone())).collect()
    }

    fn text(s: &str) -> SnmpValue {
        SnmpValue::Bytes(s.as_bytes().to_vec())
    }

    fn sample_cache() -> IfCache {
        let mut cols = vec![Column::new(); cached_columns().len()];
        for (k, def) in cached_columns().iter().enumerate() {
            cols[k] = match def.name {
                "ifName" => col(&[(1, text("hundredGigE 1/27")), (2, text("Port-channel 103"))]),
                "ifDescr" => col(&[(1, text("HGE 1/27")), (2, text("Po103"))]),
                "ifAlias" => col(&[(1, text("uplink \"a\"")), (2, text(""))]),
                "ifType" => col(&[(1, SnmpValue::Integer(6)), (2, SnmpValue::Integer(161))]),
                "ifPhysAddress" => col(&[(1, SnmpValue::Bytes(vec![0, 0x1b, 0x21, 0, 0, 1]))]),
                _ => Column::new(),
            };
        }
        IfCache::build(&cols, Some(100), Some(2))
    }

    #[test]
    fn emits_snmp_exporter_names_labels_and_exact_counters() {
        let cache = sample_cache();
        let dyns = dynamic_columns();
        let mut dynamic = vec![BTreeMap::new(); dyns.len()];
        let p = dyns.iter().position(|d| d.name == "ifHCInOctets").unwrap();
        dynamic[p].insert(1, SnmpValue::Counter64((1 << 60) + 7));
        let p = dyns.iter().position(|d| d.name == "ifOperStatus").unwrap();
        dynamic[p].insert(1, SnmpValue::Integer(1));
        dynamic[p].insert(2, SnmpValue::Integer(2));
        let mut m = MetricSet::new();
        emit(
            &mut m,
            &cache,
            &dynamic,
            &[1, 2],
            Scalars {
                sys_uptime: Some(6_506_236),
                if_number: Some(2),
            },
            false,
        );
        let t = rtmon::expo::encode_text(&m);
        assert!(t.contains("ifHCInOctets{ifAlias=\"uplink \\\"a\\\"\",ifDescr=\"HGE 1/27\",ifIndex=\"1\",ifName=\"hundredGigE 1/27\"} 1152921504606846983\n"), "{t}");
        assert!(t.contains("# TYPE ifHCInOctets counter"), "{t}");
        assert!(t.contains("ifOperStatus{ifAlias=\"\",ifDescr=\"Po103\",ifIndex=\"2\",ifName=\"Port-channel 103\"} 2\n"), "{t}");
        assert!(t.contains("ifType_info{ifAlias=\"\",ifDescr=\"Po103\",ifIndex=\"2\",ifName=\"Port-channel 103\",ifType=\"ieee8023adLag\"} 1\n"), "{t}");
        assert!(
            t.contains("ifPhysAddress=\"00:1B:21:00:00:01\"} 1\n"),
            "{t}"
        );
        assert!(t.contains("ifNumber 2\n"), "{t}");
        assert!(t.contains("sysUpTime 6506236\n"), "{t}");
        assert!(
            t.contains(
                "# HELP ifType_info The type of interface - 1.3.6.1.2.1.2.2.1.3 (EnumAsInfo)\n"
            ),
            "{t}"
        );
        let mut m = MetricSet::new();
        emit(&mut m, &cache, &dynamic, &[1], Scalars::default(), true);
        let t = rtmon::expo::encode_text(&m);
        assert!(
            t.contains("ifName=\"hundredGigE 1/27\"} 7\n"),
            "wrapped: {t}"
        );
    }

    #[test]
    fn phys_address_is_six_octets_like_physaddress48() {
        assert_eq!(phys_address(&[]), "00:00:00:00:00:00");
        assert_eq!(phys_address(b"Data"), "44:61:74:61:00:00");
        assert_eq!(
            phys_address(&[0, 0x1b, 0x21, 0xab, 0xcd, 0xef]),
            "00:1B:21:AB:CD:EF"
        );
        assert_eq!(
            phys_address(&[1, 2, 3, 4, 5, 6, 7, 8]),
            "01:02:03:04:05:06",
            "EUI-64 and longer: the first six octets"
        );
    }

    #[test]
    fn sys_uptime_once_even_with_the_system_module() {
        let cache = sample_cache();
        let dynamic = vec![BTreeMap::new(); dynamic_columns().len()];
        let mut m = MetricSet::new();
        m.gauge("sysUpTime", SYS_UPTIME_HELP, &[], 5u64); // the system module, first
        let sc = Scalars {
            sys_uptime: Some(7),
            if_number: None,
        };
        emit(&mut m, &cache, &dynamic, &[1], sc, false);
        let t = rtmon::expo::encode_text(&m);
        assert!(t.contains("sysUpTime 5\n"), "{t}");
        assert_eq!(t.matches("\nsysUpTime ").count(), 1, "{t}");
        assert_eq!(m.duplicates_dropped(), 0);
    }

    #[test]
    fn cache_validity_and_lookup() {
        let c = sample_cache();
        let now = Instant::now();
        let ttl = std::time::Duration::from_secs(60);
        assert!(c.valid(now, ttl, Some(200), Some(2)));
        assert!(
            !c.valid(now, ttl, Some(50), Some(2)),
            "uptime went backwards"
        );
        assert!(!c.valid(now, ttl, Some(200), Some(3)), "ifNumber changed");
        assert!(!c.valid(now + ttl, ttl, Some(200), Some(2)), "expired");
        assert_eq!(c.find("Port-channel 103").map(|x| x.0), Some(2));
        assert_eq!(closest(&c, "port-channel 13", 1), vec!["Port-channel 103"]);
        let f = IfFilter {
            if_name: Some(regex::Regex::new("^hundred").unwrap()),
            oper_status: vec![],
        };
        assert_eq!(c.select(&f), vec![1]);
    }
}
