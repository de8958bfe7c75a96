//! snmprec recordings built by tests (issue 31): a small builder, interfaces with
//! IF-MIB's columns, and agents shaped like the switches of that issue — made here,
//! not copied from anywhere.

use std::collections::BTreeMap;

/// An snmprec file being built: OID → (type tag, value), written sorted.
#[derive(Clone, Debug, Default)]
pub struct Snmprec {
    rows: BTreeMap<Vec<u32>, (String, String)>,
}

/// ifTable entry.
pub const IF_TABLE: [u32; 9] = [1, 3, 6, 1, 2, 1, 2, 2, 1];
/// ifXTable entry.
pub const IFX_TABLE: [u32; 10] = [1, 3, 6, 1, 2, 1, 31, 1, 1, 1];
/// dot1dBasePortIfIndex.
pub const BASE_PORT_IFINDEX: [u32; 11] = [1, 3, 6, 1, 2, 1, 17, 1, 4, 1, 2];
/// dot1qTpFdbPort.
pub const DOT1Q_FDB_PORT: [u32; 13] = [1, 3, 6, 1, 2, 1, 17, 7, 1, 2, 2, 1, 2];
/// dot1qTpFdbStatus.
pub const DOT1Q_FDB_STATUS: [u32; 13] = [1, 3, 6, 1, 2, 1, 17, 7, 1, 2, 2, 1, 3];
/// dot1qVlanCurrentEgressPorts (index timeMark.vlan).
pub const VLAN_CURRENT_EGRESS: [u32; 13] = [1, 3, 6, 1, 2, 1, 17, 7, 1, 4, 2, 1, 4];
/// dot1qVlanCurrentUntaggedPorts.
pub const VLAN_CURRENT_UNTAGGED: [u32; 13] = [1, 3, 6, 1, 2, 1, 17, 7, 1, 4, 2, 1, 5];

/// One interface of a recording.
#[derive(Clone, Debug)]
pub struct Interface<'a> {
    /// ifIndex.
    pub index: u32,
    /// ifName.
    pub name: &'a str,
    /// ifDescr.
    pub descr: &'a str,
    /// ifAlias.
    pub alias: &'a str,
    /// ifOperStatus (1 up, 2 down).
    pub oper: u32,
}

impl Interface<'_> {
    /// ifHCInOctets the recording gives it (distinct per interface).
    pub fn hc_in_octets(&self) -> u64 {
        u64::from(self.index) * 1_000_003
    }
    /// ifHCOutOctets the recording gives it.
    pub fn hc_out_octets(&self) -> u64 {
        u64::from(self.index) * 2_000_003
    }
    /// ifMtu the recording gives it.
    pub fn mtu(&self) -> u32 {
        9000 + self.index
    }
}

fn oid(prefix: &[u32], rest: &[u32]) -> Vec<u32> {
    [prefix, rest].concat()
}

impl Snmprec {
    /// A recording with sysDescr, sysObjectID, sysUpTime and sysName.
    pub fn new(sys_name: &str) -> Snmprec {
        let mut r = Snmprec::default();
        r.add(
            &[1, 3, 6, 1, 2, 1, 1, 1, 0],
            "4",
            format!("rtmon test agent {sys_name}"),
        );
        r.add(&[1, 3, 6, 1, 2, 1, 1, 2, 0], "6", "1.3.6.1.4.1.8072.3.2.10");
        r.add(&[1, 3, 6, 1, 2, 1, 1, 3, 0], "67", "4242");
        r.add(&[1, 3, 6, 1, 2, 1, 1, 5, 0], "4", sys_name);
        r
    }

    /// Adds (or replaces) one object.
    pub fn add(&mut self, oid: &[u32], tag: &str, value: impl Into<String>) -> &mut Snmprec {
        self.rows
            .insert(oid.to_vec(), (tag.to_string(), value.into()));
        self
    }

    /// Adds interfaces (ifNumber, ifTable and ifXTable columns).
    pub fn interfaces(&mut self, ifs: &[Interface<'_>]) -> &mut Snmprec {
        self.add(&[1, 3, 6, 1, 2, 1, 2, 1, 0], "2", ifs.len().to_string());
        for i in ifs {
            let x = i.index;
            let t = |c: u32| oid(&IF_TABLE, &[c, x]);
            let xt = |c: u32| oid(&IFX_TABLE, &[c, x]);
            self.add(&t(1), "2", x.to_string());
            self.add(&t(2), "4", i.descr);
            self.add(&t(3), "2", "6");
            self.add(&t(4), "2", i.mtu().to_string());
            self.add(&t(5), "66", "4294967295");
            self.add(&t(6), "4x", format!("0200000000{:02x}", x % 256));
            self.add(&t(7), "2", "1");
            self.add(&t(8), "2", i.oper.to_string());
            self.add(&t(13), "65", (x * 3).to_string());
            self.add(&t(14), "65", (x * 5).to_string());
            self.add(&t(19), "65", (x * 7).to_string());
            self.add(&t(20), "65", (x * 11).to_string());
            self.add(&xt(1), "4", i.name);
            self.add(&xt(6), "70", i.hc_in_octets().to_string());
            self.add(&xt(10), "70", i.hc_out_octets().to_string());
            self.add(&xt(15), "66", "100000");
            self.add(&xt(18), "4", i.alias);
        }
        self
    }

    /// The file's text.
    pub fn render(&self) -> String {
        let mut s = String::new();
        for (o, (tag, v)) in &self.rows {
            let o: Vec<String> = o.iter().map(u32::to_string).collect();
            s.push_str(&format!("{}|{tag}|{v}\n", o.join(".")));
        }
        s
    }
}

/// The interfaces of [`ambiguous_names`]: a Huawei S5720-like pair (ifIndex 57 and 163
/// both `XGigabitEthernet2/0/4`, told apart by ifDescr) and an Extreme SLX-like pair
/// (ifIndex 29 and 229 both `Ethernet 0/29`, same ifDescr too), beside unique names.
pub fn ambiguous_interfaces() -> Vec<Interface<'static>> {
    vec![
        Interface {
            index: 1,
            name: "GigabitEthernet0/0/1",
            descr: "GigabitEthernet0/0/1",
            alias: "dtn-a",
            oper: 1,
        },
        Interface {
            index: 29,
            name: "Ethernet 0/29",
            descr: "Ethernet 0/29",
            alias: "uplink",
            oper: 1,
        },
        Interface {
            index: 57,
            name: "XGigabitEthernet2/0/4",
            descr: "XGigabitEthernet2/0/4",
            alias: "to core",
            oper: 1,
        },
        Interface {
            index: 163,
            name: "XGigabitEthernet2/0/4",
            descr: "XGigabitEthernet2/0/4 stack-port",
            alias: "",
            oper: 2,
        },
        Interface {
            index: 229,
            name: "Ethernet 0/29",
            descr: "Ethernet 0/29",
            alias: "",
            oper: 2,
        },
    ]
}

/// An agent with ambiguous ifNames ([`ambiguous_interfaces`]) and a bridge whose
/// dot1dBasePortIfIndex answers `0` for port 2 (as an Arris CMTS does for all its ports)
/// and `-1` for port 3 (as an Allied Telesis does); ports 1 and 4 are ifIndex 1 and 57.
/// One dot1q FDB entry per port, VLAN 10, MAC `02:00:00:00:00:0p`.
pub fn ambiguous_names() -> String {
    let mut r = Snmprec::new("sw-ambiguous");
    r.interfaces(&ambiguous_interfaces());
    for (port, ifindex) in [(1u32, "1"), (2, "0"), (3, "-1"), (4, "57")] {
        r.add(&oid(&BASE_PORT_IFINDEX, &[port]), "2", ifindex);
        let idx = [10, 2, 0, 0, 0, 0, port];
        r.add(&oid(&DOT1Q_FDB_PORT, &idx), "2", port.to_string());
        r.add(&oid(&DOT1Q_FDB_STATUS, &idx), "2", "3");
    }
    r.render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recordings_are_sorted_and_hold_the_ambiguous_pairs() {
        let text = ambiguous_names();
        let oids: Vec<Vec<u32>> = text
            .lines()
            .map(|l| {
                l.split('|')
                    .next()
                    .unwrap_or_default()
                    .split('.')
                    .map(|x| x.parse().unwrap_or(0))
                    .collect()
            })
            .collect();
        let mut sorted = oids.clone();
        sorted.sort();
        assert_eq!(oids, sorted);
        assert!(text.contains("1.3.6.1.2.1.31.1.1.1.1.57|4|XGigabitEthernet2/0/4\n"));
        assert!(text.contains("1.3.6.1.2.1.31.1.1.1.1.163|4|XGigabitEthernet2/0/4\n"));
        assert!(text.contains("1.3.6.1.2.1.17.1.4.1.2.2|2|0\n"));
        assert!(text.contains("1.3.6.1.2.1.17.1.4.1.2.3|2|-1\n"));
    }
}
