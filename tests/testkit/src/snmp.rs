//! snmpd and snmpsim agents on free loopback ports. OWNER: the snmp work item.
