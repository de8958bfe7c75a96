//! Feeds arbitrary text to the exposition parser (what the script exporter reads from a
//! script's stdout), then encodes the result in both formats. Must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtmon::expo::parse::{parse_text, ParseOptions};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let opts = ParseOptions {
        max_lines: 10_000,
        reject_timestamps: data.first().is_some_and(|b| b & 1 == 1),
        reserved_prefixes: vec!["script_".into()],
    };
    let parsed = parse_text(&text, &opts);
    let _ = rtmon::expo::encode_text(&parsed.set);
    let _ = rtmon::expo::encode_openmetrics(&parsed.set);
});
