//! Feeds arbitrary text to the flow config loader and validator (YAML with located
//! errors, did-you-mean, secret masking in snippets). Must never panic.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let file = Path::new("fuzz.yml");
    if let Err(e) = rtmon::flow::from_str(file, text) {
        let _ = e.with_source(text).render();
    }
    if let Err(errs) = rtmon::flow::validate_str(file, text) {
        for e in errs {
            let _ = e.with_source(text).render();
        }
    }
    let _ = rtmon::flow::warnings(file, text);
    let _ = rtmon::config::from_yaml_str::<serde_json::Value>(file, text)
        .map_err(|e| e.with_source(text).render());
});
