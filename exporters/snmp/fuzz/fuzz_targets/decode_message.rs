//! Feeds arbitrary bytes to the SNMP message decoder (v1/v2c/v3), as received from
//! the network. It must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = rtmon_snmp::client::decode_untrusted(data);
});
