//! Helpers shared by the end-to-end tests of this crate.

use serde_json::Value;

/// The failing checks of a `status --output json` answer, as `hop/check/subject`.
#[allow(dead_code)] // not every test file that uses this module needs every helper
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

/// The test venv's Python (`$RTMON_VENV`, default /opt/rtmon-venv), which has jsonschema.
#[allow(dead_code)]
pub fn venv_python() -> String {
    let venv = std::env::var("RTMON_VENV").unwrap_or_else(|_| "/opt/rtmon-venv".into());
    format!("{venv}/bin/python")
}

/// Validates dashboard JSON files against Grafana's schema
/// (`dashboards/schema/dashboard.schema.json`, generated from npm `@grafana/schema`) with
/// `py` (a Python with jsonschema); prints `<file>: valid|invalid` per file (and up to 5
/// errors of each invalid one) and exits non-zero if any is invalid.
#[allow(dead_code)]
pub fn grafana_schema_check(py: &str, files: &[std::path::PathBuf]) -> std::process::Output {
    const SCRIPT: &str = r#"
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
# The schema is generated from Grafana's TypeScript types, which close AnnotationQuery;
# a Prometheus annotation carries its query in the datasource-specific fields Grafana's
# Prometheus datasource reads (prepareAnnotation / processAnnotationResponse). Allow
# exactly those, typed.
aq = schema["definitions"]["AnnotationQuery"]["properties"]
for k, t in [("expr", "string"), ("step", "string"), ("titleFormat", "string"),
             ("textFormat", "string"), ("tagKeys", "string"), ("useValueForTime", "boolean")]:
    aq[k] = {"type": t}
v = jsonschema.Draft7Validator(schema)
bad = 0
for f in sys.argv[2:]:
    errs = list(v.iter_errors(json.load(open(f))))
    for e in errs[:5]:
        print(f"{f}: {list(e.absolute_path)}: {e.message[:300]}")
    print(f"{f}: {'invalid' if errs else 'valid'}")
    bad += bool(errs)
sys.exit(1 if bad else 0)
"#;
    let schema =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/dashboard.schema.json");
    std::process::Command::new(py)
        .arg("-c")
        .arg(SCRIPT)
        .arg(&schema)
        .args(files)
        .output()
        .expect("python")
}
