//! Helpers shared by the end-to-end tests of this crate.

use serde_json::Value;

/// The failing checks of a `status --output json` answer, as `hop/check/subject`.
pub fn failing(v: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for h in v["flows"][0]["hops"].as_array().into_iter().flatten() {
        for c in h["checks"].as_array().into_iter().flatten() {
            if c["healthy"] != true {
                out.push(format!(
                    "{}/{}/{}",
                    h["hop"].as_str().unwrap_or("?"),
                    c["check"].as_str().unwrap_or("?"),
                    c["subject"].as_str().unwrap_or("?")
                ));
            }
        }
    }
    out
}
