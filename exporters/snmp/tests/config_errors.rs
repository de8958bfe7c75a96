//! Startup errors of rtmon-snmp-exporter: out-of-range durations in flags and in the
//! config file, and semantic config errors, exit 1 with a message naming the flag or the
//! file:line:column — never a panic (exit 101) and never library wording.

use std::process::Command;

fn run(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rtmon-snmp-exporter"))
        .args(args)
        .arg("--web.listen-address=127.0.0.1:0")
        .output()
        .expect("run the exporter");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn out_of_range_duration_flags_exit_1_naming_the_flag() {
    for (flag, name) in [
        ("--snmp.default-deadline=1e25", "--snmp.default-deadline"),
        ("--push.interval=1e30", "--push.interval"),
        ("--push.timeout=99999999999999999999s", "--push.timeout"),
        ("--web.timeout-offset=1e30", "--web.timeout-offset"),
    ] {
        let (code, err) = run(&[flag]);
        assert_eq!(code, Some(1), "{flag}: {err}");
        assert!(
            err.contains(name) && err.contains("at most"),
            "{flag}: {err}"
        );
        assert!(!err.contains("panicked"), "{flag}: {err}");
    }
}

#[test]
fn config_errors_exit_1_with_file_line_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (yaml, place, needle) in [
        (
            "modules:\n  m:\n    base: if_mib\n    lookup_ttl: 1e300\n",
            ":4:17:",
            "modules.m.lookup_ttl",
        ),
        (
            "modules:\n  m:\n    base: if_mib\n    timeout: 99999999999999999999h\n",
            ":4:14:",
            "modules.m.timeout",
        ),
        ("auths:\n  a: {version: 300}\n", ":2:16:", "version"),
        (
            "auths:\n  a: {version: 2}\n  a: {version: 2}\n",
            ":3:3:",
            "duplicate key `a`",
        ),
        (
            "modules:\n  m: {base: if_mibb}\n",
            ":2:6:",
            "modules.m.base",
        ),
        (
            "auths:\n  x: {version: 3, username: u, security_level: authNoPriv, password: short}\n",
            ":2:6:",
            "auths.x.password",
        ),
        ("modulez: {}\n", ":1:1:", "did you mean `modules`"),
    ] {
        let f = dir.path().join("snmp.yml");
        std::fs::write(&f, yaml).expect("write");
        let (code, err) = run(&[&format!("--config.file={}", f.display())]);
        assert_eq!(code, Some(1), "{yaml}: {err}");
        assert!(
            err.contains(&format!("snmp.yml{place}")) && err.contains(needle),
            "{yaml}: {err}"
        );
        for leak in ["DuplicateKeyPolicy", "invalid u8", "panicked", "short"] {
            assert!(!err.contains(leak), "{yaml}: leaks {leak:?}: {err}");
        }
    }
}
