//! Every metric and label name the generated queries use, in one place, so a rename in
//! an exporter is one edit here.

/// node_exporter (and rtmon-node-exporter) names.
pub mod node {
    /// Bytes received per device.
    pub const RX_BYTES: &str = "node_network_receive_bytes_total";
    /// Bytes transmitted per device.
    pub const TX_BYTES: &str = "node_network_transmit_bytes_total";
    /// Packets received.
    pub const RX_PACKETS: &str = "node_network_receive_packets_total";
    /// Packets transmitted.
    pub const TX_PACKETS: &str = "node_network_transmit_packets_total";
    /// Receive errors.
    pub const RX_ERRS: &str = "node_network_receive_errs_total";
    /// Transmit errors.
    pub const TX_ERRS: &str = "node_network_transmit_errs_total";
    /// Receive drops.
    pub const RX_DROP: &str = "node_network_receive_drop_total";
    /// Transmit drops.
    pub const TX_DROP: &str = "node_network_transmit_drop_total";
    /// Interface operationally up (1/0).
    pub const UP: &str = "node_network_up";
    /// MTU in bytes.
    pub const MTU: &str = "node_network_mtu_bytes";
    /// Link speed in bytes/s.
    pub const SPEED: &str = "node_network_speed_bytes";
    /// TCP segments retransmitted.
    pub const TCP_RETRANS: &str = "node_netstat_Tcp_RetransSegs";
    /// TCP segments sent.
    pub const TCP_OUT_SEGS: &str = "node_netstat_Tcp_OutSegs";
    /// Label carrying the interface name.
    pub const DEVICE: &str = "device";
}

/// snmp_exporter `if_mib` names (served by rtmon-snmp-exporter with the same names).
pub mod snmp {
    /// Whether the last SNMP scrape of the target worked.
    pub const UP: &str = "snmp_up";
    /// 64-bit input octets.
    pub const IN_OCTETS: &str = "ifHCInOctets";
    /// 64-bit output octets.
    pub const OUT_OCTETS: &str = "ifHCOutOctets";
    /// Input unicast packets.
    pub const IN_UCAST: &str = "ifHCInUcastPkts";
    /// Output unicast packets.
    pub const OUT_UCAST: &str = "ifHCOutUcastPkts";
    /// Input multicast packets.
    pub const IN_MCAST: &str = "ifHCInMulticastPkts";
    /// Output multicast packets.
    pub const OUT_MCAST: &str = "ifHCOutMulticastPkts";
    /// Input broadcast packets.
    pub const IN_BCAST: &str = "ifHCInBroadcastPkts";
    /// Output broadcast packets.
    pub const OUT_BCAST: &str = "ifHCOutBroadcastPkts";
    /// Input errors (packets).
    pub const IN_ERRORS: &str = "ifInErrors";
    /// Output errors (packets).
    pub const OUT_ERRORS: &str = "ifOutErrors";
    /// Input discards (packets).
    pub const IN_DISCARDS: &str = "ifInDiscards";
    /// Output discards (packets).
    pub const OUT_DISCARDS: &str = "ifOutDiscards";
    /// Operational status (1 up … 7 lowerLayerDown).
    pub const OPER_STATUS: &str = "ifOperStatus";
    /// Administrative status.
    pub const ADMIN_STATUS: &str = "ifAdminStatus";
    /// MTU in bytes.
    pub const MTU: &str = "ifMtu";
    /// Speed in Mbit/s.
    pub const HIGH_SPEED: &str = "ifHighSpeed";
    /// Label: interface name.
    pub const IF_NAME: &str = "ifName";
    /// FDB entry (bridge_fdb module): a MAC learned on a port and VLAN.
    pub const FDB_ENTRY: &str = "rtmon_snmp_fdb_entry_info";
    /// FDB label: the MAC address (lower-case, colon-separated).
    pub const FDB_MAC: &str = "mac";
    /// FDB label: VLAN id.
    pub const FDB_VLAN: &str = "vlan";
    /// The SNMP exporter module that reads VLAN membership (Q-BRIDGE-MIB).
    pub const VLAN_MODULE: &str = "qbridge_vlan";
    /// VLAN membership (qbridge_vlan module): one series per VLAN per egress port.
    pub const VLAN_PORT: &str = "rtmon_snmp_vlan_port_info";
    /// VLAN membership label: VLAN id.
    pub const VLAN_LABEL: &str = "vlan";
}

/// rtmon-arp-exporter names.
pub mod arp {
    /// One series per neighbour entry.
    pub const ENTRY: &str = "rtmon_arp_entry_info";
    /// Changes by kind.
    pub const CHANGES: &str = "rtmon_arp_changes_total";
    /// Label: neighbour IP.
    pub const IP: &str = "ip";
    /// Label: neighbour state.
    pub const STATE: &str = "state";
}

/// rtmon-ping-exporter names.
pub mod ping {
    /// Target reachable (1/0).
    pub const UP: &str = "rtmon_ping_up";
    /// Last RTT in seconds.
    pub const LAST_RTT: &str = "rtmon_ping_last_rtt_seconds";
    /// Echo requests sent.
    pub const REQUESTS: &str = "rtmon_ping_requests_total";
    /// Echo replies received.
    pub const REPLIES: &str = "rtmon_ping_replies_total";
    /// RTT histogram (seconds).
    pub const RTT: &str = "rtmon_ping_rtt_seconds";
    /// Loss ratio over the window.
    pub const LOSS: &str = "rtmon_ping_loss_ratio";
    /// Seconds spent down.
    pub const DOWN_SECONDS: &str = "rtmon_ping_down_seconds_total";
    /// Label: the pinged address.
    pub const TARGET: &str = "target";
}

/// uid of the fleet overview dashboard (every flow's status on one page).
pub const FLEET_UID: &str = "rtmon-fleet";

/// uid of the host dashboard the flow dashboard links to with `var-instance`: Node
/// Exporter Full (grafana.com dashboard 1860) as imported with its own uid.
pub const HOST_DASHBOARD_UID: &str = "rYdddlPWk";

/// MTU unit: a plain count of bytes (9216 shows as "9216 bytes", not "9 KiB").
pub const MTU_UNIT: &str = "suffix: bytes";
