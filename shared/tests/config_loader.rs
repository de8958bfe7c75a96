//! The generic YAML loader (`rtmon::config::load_yaml`) on real files: secrets from a
//! literal, an environment variable and a file relative to the config, located serde
//! errors, semantic errors at a `Spanned` value, unreadable files, and hostile YAML
//! that must give an error, never a panic or a hang.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rtmon::config::{self, ConfigError, Location, Secret, Spanned};
use serde::Deserialize;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/config/loader")
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Auth {
    version: u8,
    community: Secret,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Auths {
    auths: BTreeMap<String, Auth>,
    modules: Vec<String>,
    default_auth: Spanned<String>,
}

const VAR: &str = "RTMON_TEST_LOADER_COMMUNITY";

#[test]
fn secrets_come_from_literal_env_and_relative_file() {
    let path = dir().join("auths.yml");
    let a: Auths = config::load_yaml(&path).unwrap_or_else(|e| panic!("{}", e.render()));
    assert_eq!(a.modules, vec!["if_mib".to_string()]);
    assert_eq!(a.auths.len(), 5);
    let v2 = &a.auths["site_v2"];
    assert_eq!(v2.version, 2);
    // Relative to the config file's directory, not the working directory.
    assert_eq!(
        v2.community.origin(),
        format!("file {}", dir().join("secrets/community.txt").display())
    );
    assert_eq!(v2.community.reveal().as_deref(), Ok("f1le-c0mmunity"));
    assert_eq!(
        a.auths["lab"].community.reveal().as_deref(),
        Ok("l1teral-c0mmunity")
    );
    let env = &a.auths["site_env"].community;
    assert_eq!(env.origin(), format!("env {VAR}"));
    // The variable is never set in this test process: the error names it, nothing else.
    assert_eq!(
        env.reveal().map_err(|e| e.to_string()),
        Err(format!("environment variable `{VAR}` is not set"))
    );
    // The SNMP exporter's string forms are the same references.
    assert_eq!(&a.auths["str_env"].community, env);
    assert_eq!(a.auths["str_file"].community, v2.community);
    // Debug output of the whole config hides every secret.
    let dbg = format!("{a:?}");
    assert!(!dbg.contains("c0mmunity"), "{dbg}");
    assert_eq!(dbg.matches("<secret>").count(), 5, "{dbg}");
}

#[test]
fn semantic_errors_point_at_spanned_values() {
    let path = dir().join("auths.yml");
    let a: Auths = config::load_yaml(&path).unwrap_or_else(|e| panic!("{}", e.render()));
    let names: Vec<&str> = a.auths.keys().map(String::as_str).collect();
    assert!(!a.auths.contains_key(&a.default_auth.value));
    let e = ConfigError::at(
        &path,
        &a.default_auth,
        format!("unknown auth `{}`", a.default_auth.value),
    );
    let e = match config::did_you_mean(&a.default_auth.value, &names) {
        Some(m) => e.with_hint(format!("did you mean `{m}`?")),
        None => e,
    };
    assert_eq!(
        e.location,
        Some(Location {
            line: 20,
            column: 15
        })
    );
    assert_eq!(
        e.to_string(),
        format!("{}:20:15: unknown auth `site_v3`", path.display())
    );
    assert_eq!(e.hint.as_deref(), Some("did you mean `site_v2`?"));
}

fn load_err(name: &str) -> ConfigError {
    match config::load_yaml::<Auths>(dir().join(name)) {
        Ok(a) => panic!("{name}: loaded {a:?}"),
        Err(e) => e,
    }
}

#[test]
fn typo_in_a_nested_key() {
    let e = load_err("auths-typo.yml");
    assert_eq!(e.location, Some(Location { line: 4, column: 5 }));
    assert_eq!(
        e.message,
        "unknown key `comunity`, did you mean `community`?"
    );
    assert_eq!(
        e.hint.as_deref(),
        Some("expected one of: version, community")
    );
    // The snippet shows the line, with the value of a secret-looking key masked.
    let r = e.render();
    assert!(!r.contains("l1teral"), "{r}");
}

#[test]
fn secret_type_error_does_not_echo_the_value() {
    let e = load_err("auths-bad-secret.yml");
    assert_eq!(
        e.location,
        Some(Location {
            line: 4,
            column: 16
        })
    );
    assert_eq!(
        e.message,
        "`community`: a secret must be a quoted string, {env: VARIABLE} or {file: PATH}, not a number (quote it)"
    );
    let all = format!("{}\n{e:?}", e.render());
    assert!(!all.contains("8675309"), "{all}");
}

#[test]
fn type_error_in_flow_style_names_the_key() {
    let e = load_err("auths-bad-version.yml");
    assert_eq!(
        e.location,
        Some(Location {
            line: 2,
            column: 22
        })
    );
    assert!(e.message.starts_with("`version`: "), "{}", e.message);
    assert!(!e.render().contains("l1teral"), "{}", e.render());
}

#[test]
fn unreadable_files() {
    let e = load_err("does-not-exist.yml");
    assert_eq!(e.location, None);
    assert!(e.to_string().starts_with(&format!(
        "{}: cannot read: ",
        dir().join("does-not-exist.yml").display()
    )));
    let e = load_err("not-utf8.yml");
    assert_eq!(
        e.location,
        Some(Location {
            line: 3,
            column: 19
        })
    );
    assert_eq!(e.message, "file is not valid UTF-8");
}

/// Hostile or odd YAML: every input gives `Ok` or a located `Err` quickly, never a
/// panic, and the flow loader rejects it with a message.
#[test]
fn hostile_yaml_is_an_error_not_a_panic() {
    let laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\ng: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\nh: [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]\n";
    let deep = format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000));
    let inputs: Vec<(&str, String)> = vec![
        ("billion laughs", laughs.to_string()),
        ("deep nesting", deep),
        ("complex key", "? [a, b]\n: c\n".to_string()),
        (
            "merge key",
            "base: &b {host: a}\nflow: x\npath:\n  - <<: *b\n    interface: e\n".to_string(),
        ),
        (
            "huge int",
            format!(
                "flow: x\npath:\n  - host: a\n    interface: e\n    vlan: 1{}\n",
                "0".repeat(60)
            ),
        ),
        ("tags", "flow: !!binary aGVsbG8=\n".to_string()),
        ("unknown alias", "a: *nope\n".to_string()),
        ("scalar doc", "just text\n".to_string()),
        ("list doc", "- a\n- b\n".to_string()),
        ("two docs", "flow: a\n---\nflow: b\n".to_string()),
        ("nul", "flow: \"\\0\"\n".to_string()),
        ("bom", "\u{feff}flow: x\n".to_string()),
    ];
    for (what, text) in &inputs {
        let f = Path::new("hostile.yml");
        let r = rtmon::flow::from_str(f, text);
        assert!(r.is_err(), "{what}: accepted");
        let e = r.err().unwrap_or_else(|| panic!("{what}"));
        assert!(e.to_string().starts_with("hostile.yml:"), "{what}: {e}");
        if *what == "billion laughs" {
            assert!(e.message.starts_with("the YAML is too large"), "{e}");
        }
        if *what == "deep nesting" {
            assert_eq!(e.hint.as_deref(), Some("the YAML is nested too deeply"));
        }
    }
}
