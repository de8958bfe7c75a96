//! Feeds arbitrary bytes to the LLDP frame parser and the neighbour table, as read
//! from an AF_PACKET socket. It must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtmon_arp::lldp::{parse_frame, parse_lldpdu, Table};

fuzz_target!(|data: &[u8]| {
    let _ = parse_lldpdu(data);
    if let Ok(pdu) = parse_frame(data) {
        let mut t = Table::new(4);
        t.update("eth0", pdu, 1.0);
        t.expire(1.0e9);
    }
});
