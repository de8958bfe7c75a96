//! Feeds arbitrary text to the bounded duration parser of every flag and config field,
//! then computes a deadline from the result. Must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(d) = rtmon::duration::parse(&text) {
        assert!(d <= rtmon::duration::MAX);
        let _ = rtmon::duration::deadline_in(d);
        let _ = rtmon::duration::format(d);
    }
});
