//! Malformed flow configs fail with `file:line:column: message`, at the exact place of
//! the mistake, and secrets in a flow file are rejected without echoing their value.
//! Fixtures: tests/fixtures/config/bad/*.yml (each is ../good.yml with one mistake).

use std::path::{Path, PathBuf};

use rtmon::config::Location;
use rtmon::flow;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/config")
}

/// Loads `bad/<name>`, expects exactly one error and returns it.
fn only_error(name: &str) -> rtmon::config::ConfigError {
    let path = fixtures().join("bad").join(name);
    let errors = match flow::validate(std::slice::from_ref(&path)) {
        Ok(flows) => panic!("{name}: loaded {} flow(s), expected an error", flows.len()),
        Err(e) => e,
    };
    assert_eq!(errors.len(), 1, "{name}: {errors:#?}");
    // load_file reports the same error.
    let first = flow::load_file(&path).err();
    assert_eq!(first.as_ref(), errors.first(), "{name}");
    errors
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("{name}"))
}

/// Asserts the error's location, message and Display (`file:line:column: message`).
fn check(name: &str, line: usize, column: usize, message: &str) -> rtmon::config::ConfigError {
    let e = only_error(name);
    assert_eq!(e.location, Some(Location { line, column }), "{name}: {e}");
    assert_eq!(e.message, message, "{name}");
    let path = fixtures().join("bad").join(name);
    assert_eq!(
        e.to_string(),
        format!("{}:{line}:{column}: {message}", path.display()),
        "{name}"
    );
    // The rendered form shows the offending line with a caret under the column.
    let r = e.render();
    let shown = format!("{line} | ");
    assert!(r.contains(&shown), "{name}: {r}");
    e
}

#[test]
fn the_good_fixture_loads() {
    let flows =
        flow::load_file(&fixtures().join("good.yml")).unwrap_or_else(|e| panic!("{}", e.render()));
    assert_eq!(flows.len(), 1);
    assert_eq!(flows[0].path.len(), 3);
}

#[test]
fn unknown_key_gets_did_you_mean() {
    let e = check(
        "unknown-key.yml",
        18,
        5,
        "unknown key `valn`, did you mean `vlan`?",
    );
    assert_eq!(
        e.hint.as_deref(),
        Some("expected one of: host, instance, interface, ip, vlan, mac, lldp_chassis_id")
    );
    assert!(e.render().ends_with(
        "18 |     valn: 1000\n   |     ^\n  = hint: expected one of: host, instance, interface, ip, vlan, mac, lldp_chassis_id"
    ), "{}", e.render());
}

#[test]
fn hop_kind_typo_gets_did_you_mean() {
    check(
        "hop-kind-typo.yml",
        14,
        5,
        "unknown key `hots`, did you mean `host`?",
    );
}

#[test]
fn wrong_type_names_key_and_expected_type() {
    check(
        "wrong-type.yml",
        18,
        11,
        "`vlan` must be an integer in 1..=4094, found a list",
    );
}

#[test]
fn vlan_out_of_range() {
    check(
        "vlan-out-of-range.yml",
        18,
        11,
        "`vlan` 4095 is out of range 1..=4094",
    );
}

#[test]
fn bad_ip() {
    check(
        "bad-ip.yml",
        17,
        9,
        "`ip`: `203.0.113.256` is not an IP address",
    );
}

#[test]
fn bad_mac() {
    check(
        "bad-mac.yml",
        9,
        10,
        "`mac`: `02:00:5e:10:00` is not a MAC address",
    );
}

#[test]
fn duplicate_key_at_the_second_occurrence() {
    check("duplicate-key.yml", 18, 5, "duplicate key `interface`");
}

#[test]
fn duplicate_hop_name() {
    check(
        "duplicate-hop-name.yml",
        14,
        11,
        "duplicate hop name `dtn-a`: already used at line 4",
    );
}

#[test]
fn path_must_start_and_end_with_a_host() {
    check(
        "path-starts-with-switch.yml",
        4,
        13,
        "the path must start with a host, not switch `sw-a`",
    );
    check(
        "path-ends-with-switch.yml",
        14,
        13,
        "the path must end with a host, not switch `sw-a`",
    );
    check(
        "one-host.yml",
        3,
        3,
        "a path needs at least two hosts, found 1",
    );
}

/// The fixture's secret values: none may appear in any message, hint or snippet.
const SECRET_VALUES: &[&str] = &["pr1vate-c0mmunity", "eyJrIjoiZmFrZS10b2tlbiJ9", "Bearer"];

fn assert_no_secret(e: &rtmon::config::ConfigError) {
    let all = format!("{e}\n{}\n{e:?}", e.render());
    for s in SECRET_VALUES {
        assert!(!all.contains(s), "secret `{s}` echoed in:\n{all}");
    }
}

#[test]
fn secrets_in_a_flow_file_are_rejected_without_echo() {
    let e = check(
        "secret-community.yml",
        11,
        5,
        "`community` is a secret and does not belong in a flow file; put it in the SNMP exporter's config under `auths:` and name that auth here with `auth: <name>`",
    );
    assert_no_secret(&e);
    let hint = e.hint.clone().unwrap_or_default();
    assert!(
        hint.contains("\"{file:/") && hint.contains("\"{env:"),
        "{hint}"
    );
    assert!(
        e.render().contains("11 |     community: <secret>"),
        "{}",
        e.render()
    );

    let e = check(
        "secret-in-port.yml",
        13,
        37,
        "`communityString` is a secret and does not belong in a flow file; put it in the SNMP exporter's config under `auths:` and name that auth here with `auth: <name>`",
    );
    assert_no_secret(&e);

    let e = check(
        "secret-token.yml",
        1,
        1,
        "`grafanaAPIToken` is a secret and does not belong in a flow file; give it to `rtmon-dashboards upload` with --token-file or the GRAFANA_TOKEN environment variable",
    );
    assert_no_secret(&e);
    assert!(e.hint.unwrap_or_default().contains("service-account token"));
}

#[test]
fn yaml_syntax_error_has_line_and_column() {
    // The `}` missing on line 12 is noticed where the next key starts.
    let e = check(
        "syntax-error.yml",
        13,
        8,
        "while parsing a flow mapping, did not find expected ',' or '}'",
    );
    assert!(e.hint.unwrap_or_default().contains("unclosed"));
}

#[test]
fn missing_required_fields() {
    check(
        "missing-field.yml",
        14,
        5,
        "host: missing required key `interface`",
    );
    check(
        "port-missing.yml",
        12,
        10,
        "`in`: missing required key `port`",
    );
    check("empty-target.yml", 10, 11, "`target` has no value");
}

#[test]
fn flow_ids_must_be_safe_and_unique() {
    check(
        "bad-id.yml",
        1,
        7,
        "flow id `f1 with spaces` is not usable as a label value and dashboard uid",
    );
    check(
        "duplicate-id-in-file.yml",
        8,
        11,
        "duplicate flow id `f1`: already defined at line 2",
    );
}

#[test]
fn duplicate_flow_id_across_files() {
    let dir = fixtures().join("dup-across");
    let (a, b) = (dir.join("a.yml"), dir.join("b.yml"));
    // Each file alone is fine.
    assert!(flow::load_file(&a).is_ok());
    assert!(flow::load_file(&b).is_ok());
    let e = flow::load_files(&[a.clone(), b.clone()])
        .err()
        .unwrap_or_else(|| panic!("expected a duplicate id error"));
    assert_eq!(e.file, b);
    assert_eq!(e.location, Some(Location { line: 1, column: 7 }));
    assert_eq!(
        e.to_string(),
        format!(
            "{}:1:7: duplicate flow id `f1`: already defined at {}:1:7",
            b.display(),
            a.display()
        )
    );
}

#[test]
fn legacy_files_are_recognised() {
    let e = check(
        "legacy-v1.yml",
        1,
        1,
        "this is an old (v1/v2) rtmon flow file",
    );
    assert!(e.hint.unwrap_or_default().contains("import-legacy"));
}

#[test]
fn validate_returns_every_error_of_a_file() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let p = dir.path().join("many.yml");
    let text = "flow: ok\npath:\n  - host: a\n    interface: eth0\n    vlan: 5000\n    ip: nope\n  - switch: s\n    target: 192.0.2.1\n    in: {port: x}\n    out: {port: \"\"}\n    password: hunter2\n  - host: b\n    interfce: eth1\n";
    std::fs::write(&p, text).unwrap_or_else(|e| panic!("{e}"));
    let errs = flow::validate(std::slice::from_ref(&p))
        .err()
        .unwrap_or_default();
    let got: Vec<(usize, usize, &str)> = errs
        .iter()
        .map(|e| {
            let l = e.location.unwrap_or(Location { line: 0, column: 0 });
            (l.line, l.column, e.message.as_str())
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (5, 11, "`vlan` 5000 is out of range 1..=4094"),
            (6, 9, "`ip`: `nope` is not an IP address"),
            (10, 17, "`port` must not be empty"),
            (
                11,
                5,
                "`password` is a secret and does not belong in a flow file; put it in the SNMP exporter's config under `auths:` and name that auth here with `auth: <name>`"
            ),
            (12, 5, "host: missing required key `interface`"),
            (13, 5, "unknown key `interfce`, did you mean `interface`?"),
        ]
    );
    for e in &errs {
        assert!(!format!("{}\n{e:?}", e.render()).contains("hunter2"));
    }
    // load_file returns the first and counts the rest in its hint.
    let first = flow::load_file(&p)
        .err()
        .unwrap_or_else(|| panic!("error expected"));
    assert_eq!(
        first.location,
        Some(Location {
            line: 5,
            column: 11
        })
    );
    assert_eq!(
        first.hint.as_deref(),
        Some("5 more error(s) after this one")
    );
}

/// Every single-line deletion or duplication and every insertion of a YAML-significant
/// character into the good fixture gives flows or located errors: no panic, and every
/// error points inside the file.
#[test]
fn mutated_files_never_panic_and_errors_point_inside_the_file() {
    let good =
        std::fs::read_to_string(fixtures().join("good.yml")).unwrap_or_else(|e| panic!("{e}"));
    let lines: Vec<&str> = good.lines().collect();
    let mut inputs = Vec::new();
    for i in 0..lines.len() {
        let mut del = lines.clone();
        del.remove(i);
        inputs.push(del.join("\n"));
        let mut dup = lines.clone();
        dup.insert(i, lines[i]);
        inputs.push(dup.join("\n"));
    }
    let chars: Vec<char> = good.chars().collect();
    for pos in (0..chars.len()).step_by(3) {
        for c in [':', '-', '{', '"', '\t', '#', '&', '*', ' '] {
            let mut m = chars.clone();
            m.insert(pos, c);
            inputs.push(m.into_iter().collect());
        }
    }
    let (mut ok, mut failed) = (0, 0);
    for text in &inputs {
        match flow::validate_str(Path::new("m.yml"), text) {
            Ok(_) => ok += 1,
            Err(errors) => {
                failed += 1;
                assert!(!errors.is_empty());
                let n = text.lines().count().max(1);
                for e in errors {
                    let l = e
                        .location
                        .unwrap_or_else(|| panic!("no location: {e}\n{text}"));
                    assert!(l.line >= 1 && l.line <= n + 1, "{e}\n{text}");
                    assert!(l.column >= 1, "{e}\n{text}");
                }
            }
        }
    }
    // Both outcomes occur (some mutations are harmless, e.g. a space inside a title).
    assert!(ok > 0 && failed > 0, "ok {ok}, failed {failed}");
}

/// Shape mistakes at every level, each with its exact place and message.
#[test]
fn shape_mistakes_at_every_level() {
    let hosts = "  - host: a\n    interface: eth0\n  - host: b\n    interface: eth1\n";
    let cases: Vec<(String, usize, usize, &str)> = vec![
        ("flow: f\npath: dtn-a\n".into(), 2, 7, "`path` must be a list of hops, found a string"),
        (format!("flow: f\ntitel: T\npath:\n{hosts}"), 2, 1, "unknown key `titel`, did you mean `title`?"),
        ("flows: {}\n".into(), 1, 8, "`flows` must be a list of flows, found a mapping"),
        ("flows: []\n".into(), 1, 8, "`flows` is empty"),
        ("- flow: f\n".into(), 1, 1, "a flow file must be a mapping, found a list"),
        (format!("path:\n{hosts}"), 1, 1, "flow: missing required key `flow`"),
        (format!("flow: f\npath:\n  - dtn-a\n{hosts}"), 3, 5, "a hop must be a mapping, found a string"),
        (format!("flow: f\npath:\n  - {{host: a, switch: s}}\n{hosts}"), 3, 15, "a hop is either a `host:` or a `switch:`, not both"),
        (format!("flow: f\npath:\n  - name: x\n{hosts}"), 3, 5, "a hop needs a `host:` or a `switch:` key"),
        (format!("flow: f\npath:\n{hosts}  - switch: s\n    target: 192.0.2.1\n    in: {{port: a}}\n    out: hundredGigE 1/31\n"), 10, 10, "`out` must be a mapping, found a string"),
        ("flow: f\npath:\n  - host: a\n    interface: eth0\n  - switch: s\n    target: 192.0.2.1\n    modules: []\n    in: {port: a}\n    out: {port: b}\n  - host: b\n    interface: e\n".into(), 7, 14, "`modules` must not be empty (leave it out for `[if_mib]`)"),
        ("flow: f\npath:\n  - host: a\n    interface: eth0\n    vlan: \"1000\"\n  - host: b\n    interface: e\n".into(), 5, 11, "`vlan` must be an integer in 1..=4094, found a string"),
    ];
    for (text, line, column, message) in cases {
        let errs = flow::validate_str(Path::new("s.yml"), &text)
            .err()
            .unwrap_or_default();
        let got: Vec<(Option<Location>, &str)> = errs
            .iter()
            .map(|e| (e.location, e.message.as_str()))
            .collect();
        assert_eq!(
            got.first().copied(),
            Some((Some(Location { line, column }), message)),
            "{text}\n{got:#?}"
        );
    }
}

/// Likely mistakes that do not stop loading come back as located warnings.
#[test]
fn warnings_for_vlan_mismatch_same_port_and_same_ip() {
    let text = "flow: w\npath:\n  - host: a\n    interface: eth0.1000\n    ip: 203.0.113.1\n    vlan: 1000\n  - switch: s\n    target: 192.0.2.1\n    in: {port: \"hundredGigE 1/27\", vlan: 2000}\n    out: {port: \"hundredGigE 1/27\", vlan: 1000}\n  - host: b\n    interface: eth0.1000\n    ip: 203.0.113.1\n    vlan: 1000\n";
    let file = Path::new("w.yml");
    // It loads.
    let flows = flow::from_str(file, text).unwrap_or_else(|e| panic!("{}", e.render()));
    assert_eq!(flows.len(), 1);
    let got: Vec<String> = flow::warnings(file, text)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        got,
        vec![
            "w.yml:9:42: `in` vlan 2000 of `s` differs from vlan 1000 of host `a`",
            "w.yml:10:10: the flow enters and leaves `s` by the same port `hundredGigE 1/27`",
            "w.yml:13:9: host `b` has the same ip 203.0.113.1 as host `a`",
        ]
    );
    // A file with errors has no warnings (the errors come first).
    assert!(flow::warnings(file, "flow: x\n").is_empty());
}
